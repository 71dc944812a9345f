# failover.t: active/standby on one state directory. A standby started
# while the active daemon holds the state is refused (the state lock),
# with a clear message and a non-zero exit, and the active one carries
# on. Once the active one dies (SIGKILL, mid-request), the standby takes
# the same state over and finishes the work it left, exactly once: the
# crash-safe restart is what makes the failover safe.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $bin = $ENV{INCIDENTD};
my $sb = new_sandbox();
my $a = new_incidentd($sb, _name => 'a');
ok($sb->wait_connected(1, $a), 'active daemon A connected');
my $state = $sb->dir . '/state';

sub creates { return $sb->jira_creates }
sub tickets { return $sb->jira_tickets(@_) }
sub declared {
	my ($summary) = @_;
	return grep { ($_->{text} // '') =~ /declared: \Q$summary\E/ }
	    $sb->bot_posts('C0GENERAL');
}

# A's work in flight: Jira takes both creates and answers late.
my @sums = ('Payments failing', 'Login slow');
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 0,
    delay_ms => 6000, count => 2);
$sb->message(text => "<\@U0BOT> new incident $_") for @sums;
ok(wait_for(sub { scalar creates() >= 2 }), 'both creates sent by A');

# The standby, started while A holds the state: refused.
write_yaml($sb->dir . '/b-early.yaml',
    { %{IncidentTest::Daemon::base_config($sb)}, state_dir => $state });
my $out = `timeout 20 '$bin' -c '${\ $sb->dir}/b-early.yaml' 2>&1`;
my $st = $? >> 8;
isnt($st, 0, 'standby B exits non-zero while A runs') or diag($out);
like($out, qr/state in \Q$state\E is in use by another incidentd \(pid ${\ $a->pid}\)/,
    'and names A\'s pid') or diag($out);
ok(kill(0, $a->pid) && $a->check_alive, 'A is still running');

# A dies mid-request; Jira completes both creates all the same.
$a->kill9;
ok(wait_for(sub { (grep { scalar tickets($_) == 1 } @sums) == 2 }),
    'Jira created both tickets after A died');
is(scalar(map { declared($_) } @sums), 0, 'nobody was answered yet');

# B takes the state over and finishes A's jobs.
my $b = new_incidentd($sb, _name => 'b', state_dir => $state);
ok($sb->wait_connected(2, $b), 'standby B took over');
my @running = $b->log =~ /job (incident_create\/\S+) was running at the last stop/g;
is(scalar @running, 2, 'B found both of A\'s jobs in flight');
for my $s (@sums) {
	ok(wait_for(sub { declared($s) }, "declared: $s", 30),
	    "B answered \"$s\"");
}
my $r = `'$bin' -c '${\ $b->conf_path}' dump 2>/dev/null`;
my $jobs = eval { decode_json($r)->{databases}{jobs} } // {};
is(scalar(grep { m{^incident_create/} && $jobs->{$_}{state} eq 'done' }
    keys %$jobs), 2, 'both jobs done');
is(scalar creates(), 2, 'B probed and found the tickets: no create resent');
is(scalar tickets($_), 1, "one ticket for \"$_\"") for @sums;
is(scalar declared($_), 1, "one answer for \"$_\"") for @sums;
is($b->stop, 0, 'B exits cleanly');
done_testing();
