# limits.t: the daemon at its resource bounds (README "Limits"). A full
# job backlog refuses new commands privately, lets incident managers
# through and drains; a Socket Mode message over the WebSocket cap costs
# a logged reconnect and nothing else; a Jira answer over the HTTP body
# cap is refused, probed, and leaves exactly one issue.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IncidentTest;

my $sb = new_sandbox();
my $port = IncidentTest::free_port();
my $d = new_incidentd($sb, jobs => { max_pending => 6 },
    metrics => { listen => "127.0.0.1:$port" });
ok($sb->wait_connected(1, $d), 'connected');
my $http = HTTP::Tiny->new(timeout => 10);

sub refused {
	my ($reason) = @_;
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	my ($n) = ($r->{content} // '') =~
	    /^incidentd_commands_refused_total\{reason="$reason"\} (\d+)$/m;
	return $n;
}

sub ephemerals {
	my ($user) = @_;
	return grep { ($_->{json}{user} // '') eq $user }
	    $sb->requests('slack', qr{/api/chat\.postEphemeral$});
}

################################################ 1. the job backlog

is(refused('backlog'), 0, 'no refusal counted yet');
# Jira holds every ticket create: each new incident keeps its job.
$sb->fault(service => 'jira', match => '/rest/api/2/issue', method => 'POST',
    never => 1, count => 1000);
my ($held, $refused_at) = (0, undef);
for my $i (1 .. 20) {
	my $before = ephemerals('U0ALICE');
	$sb->message(text => "<\@U0BOT> new incident Backlog $i");
	my $r = wait_for(sub {
		return 'refused' if ephemerals('U0ALICE') > $before;
		return 'held' if $sb->jira_creates >= $held + 1;
		return;
	}, "incident $i held or refused");
	last if !$r;
	if ($r eq 'refused') {
		$refused_at = $i;
		last;
	}
	$held++;
}
ok($refused_at, "the backlog is full after $held held incident(s)");
my @e = ephemerals('U0ALICE');
like($e[-1]{json}{text} // '', qr/too much work.*nothing was done.*try again/i,
    'the refusal says nothing was done and to retry');
is($e[-1]{json}{channel}, 'C0GENERAL', 'privately, in the channel');
$d->loggrep(qr/refused: \d+ jobs pending, jobs\.max_pending is 6/);
is(refused('backlog'), 1, 'counted as a backlog refusal');

# Someone else is refused too; an incident manager is not.
my $nposts = scalar $sb->bot_posts('C0GENERAL');
$sb->message(user => 'U0BOB', text => '<@U0BOT> help');
ok(wait_for(sub { ephemerals('U0BOB') >= 1 }), 'bob refused privately');
$sb->message(user => 'U0CAROL', text => '<@U0BOT> help');
my @p = $sb->wait_bot_posts('C0GENERAL', $nposts + 1, $d);
like($p[-1]{text} // '', qr/What I can do/,
    'the incident manager is answered');

# Drain: Jira answers again. The held creates time out, are probed and
# sent again (work already accepted still runs), and the daemon takes
# commands again.
$sb->post('/control/faults/clear');
ok(wait_for(sub {
	$d->check_alive;
	return (grep { $sb->jira_tickets("Backlog $_") == 1 } 1 .. $held) ==
	    $held;
}, 'held incidents created', 90), "the $held held incidents were created, once each");
is(scalar $sb->jira_tickets("Backlog $refused_at"), 0,
    'the refused one recorded nothing');
ok(wait_for(sub {
	my $n = scalar $sb->bot_posts('C0GENERAL');
	$sb->message(user => 'U0BOB', text => '<@U0BOT> help');
	return wait_for(sub { $sb->bot_posts('C0GENERAL') > $n }, 'help', 2);
}, 'bob answered again', 60), 'after the drain bob is answered');

################################################ 2. WebSocket message cap

my $conns = $sb->connections->{hello_sent};
my $big = 'x' x (4 * 1024 * 1024 + 1024);
my $r = $sb->post('/control/slack/raw', { envelope => { type => 'events_api',
    envelope_id => 'big-1', payload => { pad => $big } } });
is($r->{sent}, 1, 'a message over 4 MiB sent');
ok($d->loggrep(qr/message too large \(over 4194304 bytes\)/),
    'the daemon logs the oversized message');
ok($sb->wait_connected($conns + 1, $d), 'and reconnects');
$nposts = scalar $sb->bot_posts('C0GENERAL');
$sb->message(user => 'U0BOB', text => '<@U0BOT> help');
@p = $sb->wait_bot_posts('C0GENERAL', $nposts + 1, $d);
like($p[-1]{text} // '', qr/What I can do/, 'the next command is answered');

################################################ 3. HTTP body cap

# Jira creates the ticket, then answers with 17 MiB: over the 16 MiB cap.
my $ncreates = $sb->jira_creates;
$sb->fault(service => 'jira', match => '/rest/api/2/issue', method => 'POST',
    status => 0, pad_bytes => 17 * 1024 * 1024);
$sb->message(user => 'U0BOB', text => '<@U0BOT> new incident Padded answer');
ok($d->loggrep(qr/body too large/, 60), 'the answer is refused');
ok(wait_for(sub {
	$d->check_alive;
	return grep { ($_->{text} // '') =~ /declared: Padded answer/ }
	    $sb->bot_posts('C0GENERAL');
}, 'incident declared', 60), 'the incident is declared all the same');
is(scalar $sb->jira_tickets('Padded answer'), 1, 'exactly one issue');
is($sb->jira_creates - $ncreates, 1, 'created once: the probe found it');
cmp_ok(scalar $sb->requests('jira', qr{/search}), '>=', 1,
    'Jira was searched (the probe)');

is($d->stop, 0, 'clean exit');
done_testing();
