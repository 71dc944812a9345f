#!/usr/bin/env perl
# seed.pl: seed the fuzz corpora from the sandbox's recorded traffic
# (make fuzz-seed). Hand-written seeds only hold what their author
# thought of; these are what Slack, Jira and PagerDuty (the sandbox's
# strict fakes) really send the daemon in a whole session.
#
# Starts the sandbox and the daemon (t/lib/IncidentTest.pm), drives a
# session through the product (help, new incident, the incident-manager
# button and form, new channel, page list, page and confirm, tagged
# messages, get timeline, status, PagerDuty acknowledged and resolved
# through a webhook and the poller, the ticket closed in Jira,
# postmortem, metrics), then writes, for each fuzz target, what it
# reads as it reads it:
#
#   socket       the Socket Mode frames sent (GET /control/slack/envelopes)
#   interactive  the payloads of the interactive ones
#   ws           a 101 handshake and real frames, unmasked as a server
#                sends them
#   http         every answer (status line, the fake's header lines,
#                Content-Length, body verbatim: /control/requests), with
#                the fuzz-http prefix: flags, cut offsets
#   jira, pd     the Jira and PagerDuty answers, raw
#   timeline     the daemon's timeline entries and PagerDuty events, from
#                incidentd dump, in fuzz-timeline's JSON
#   mrkdwn       the text the bot posted (mrkdwn)
#   text         the text people typed
#   config       conf/*.yaml
#
# into OUT/<target>/rec-<sha1 prefix>: deduplicated, at most $MAX_FILES
# per target (the most varied: one of each kind before a second of any)
# and $MAX_BYTES each. Earlier rec-* files are replaced; the hand-written
# seeds stay. Usage, from the source tree:
#   INCIDENTD=... SANDBOX=... top_srcdir=. perl -It/lib fuzz/seed.pl [OUT]
# OUT defaults to $top_srcdir/fuzz/corpus. Prints TAP: each step of the
# session is checked, so a session gone wrong seeds nothing.
use strict;
use warnings;
use Digest::SHA qw(sha1_hex);
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use IncidentTest qw(:DEFAULT post_text);

my $MAX_FILES = 40;
my $MAX_BYTES = 64 * 1024;
my $top = $ENV{top_srcdir} // '.';
my $out = shift // "$top/fuzz/corpus";
my $json = JSON::PP->new->canonical;

############################################################ the session

my $sb = new_sandbox(args => ['--pd-webhook-timeout', '2',
    '--pd-webhook-backoff', '0.05']);
my $hook = IncidentTest::free_port();
my $d = new_incidentd($sb, slack => { incident_managers => ['U0ALICE'] },
    jira => { aar_field => 'customfield_10054' },
    schedule => { poll_interval => '1s', archive_after => '10d' },
    timeline => { timezone => 'Europe/Paris', history_per_minute => 600 },
    pagerduty => { poll_interval => '1s', ack_timeout => '1h',
    shortcuts => {
	db => { service => 'PSVCDB', description => 'Database <on-call>' },
	net => { service => 'PSVCNET', description => 'Network & DNS' } },
    webhook => { listen => "127.0.0.1:$hook", secrets => ['whsec-seed'] } });
ok($sb->wait_connected(1, $d), 'connected') or BAIL_OUT('no connection');

# The last of the bot's posts in $ch matching $re, once there are $n.
sub wait_post {
	my ($ch, $re, $what, $n) = @_;
	my @p;
	ok(wait_for(sub { $d->check_alive; @p = $sb->posts_like($ch, $re);
	    @p >= ($n // 1) }, $what, 30), $what);
	return $p[-1] // {};
}
sub say_in {
	my ($ch, $text, %m) = @_;
	my $r = $sb->message(channel => $ch, text => $text, %m);
	ok($r->{ts}, "said in $ch") or diag explain $r;
	return $r;
}
sub click {
	my ($ch, $msg, $action, $user) = @_;
	my $r = $sb->post('/control/slack/click', { user => $user // 'U0ALICE',
	    channel => $ch, message_ts => $msg->{ts}, action_id => $action });
	ok($r->{envelope_id}, "clicked $action") or diag explain $r;
	return $r;
}
sub tag {
	my ($ch, $m, $user, %o) = @_;
	my $r = $sb->post('/control/slack/reaction', { channel => $ch,
	    ts => $m->{ts}, user => $user, reaction => $o{reaction} // 'memo',
	    removed => $o{removed} ? JSON::PP::true : JSON::PP::false });
	ok(!$r->{error}, "reaction by $user") or diag explain $r;
}
sub dump_db {
	my $conf = $d->conf_path;
	my $s = `'$ENV{INCIDENTD}' -c '$conf' dump --messages 2>/dev/null`;
	return eval { $json->decode($s)->{databases} } // {};
}

# Help, in a DM and in a channel; an unknown command.
say_in('D0ALICE', 'help');
wait_post('D0ALICE', qr/What I can do/, 'help in a DM');
say_in('C0GENERAL', '<@U0BOT> help page');
wait_post('C0GENERAL', qr/page/, 'help page');
say_in('C0GENERAL', '<@U0BOT> frobnicate <!channel> &amp; co');
wait_post('C0GENERAL', qr/don't know the command/, 'an unknown command');

# New incident; the incident manager paged through the form.
say_in('C0GENERAL', '<@U0BOT> new incident Checkout <https://shop.example|' .
    'shop> returns 500s &amp; *timeouts*');
my $prompt = wait_post('C0GENERAL', qr/Page the incident manager/,
    'incident declared');
my ($key) = post_text($prompt) =~ /(INC-\d+)/;
click('C0GENERAL', $prompt, 'im_page');
my $vid;
ok(wait_for(sub { my @v = @{$sb->get('/control/slack/views')->{views} //
    []}; $vid = @v ? $v[-1]{id} : undef }), 'the form opened');
# Every field filled in: markup, a mention, an emoji (UTF-8 octets).
my %form = (services => 'checkout, payments',
    impact => "EU customers *cannot* pay\n<b>h1.</b> [x|y] \xf0\x9f\x92\xb8",
    note => 'call <@U0BOB> &amp; me');
my %values = map { $_ => { $_ => { type => 'plain_text_input',
    value => $form{$_} } } } keys %form;
$values{severity}{severity} = { type => 'static_select',
    selected_option => { value => 'SEV1 - critical' } };
$sb->post('/control/slack/submit', { user => 'U0ALICE', view_id => $vid,
    values => \%values });
wait_post('C0GENERAL', qr/paged by/, 'the incident manager paged');
# A second one declined, from a DM.
say_in('D0ALICE', 'new incident "DNS flaps" in eu-west');
my $p2 = wait_post('D0ALICE', qr/Page the incident manager/,
    'second incident declared');
click('D0ALICE', $p2, 'im_decline');

# Its channel: page list, a page confirmed, one cancelled.
say_in('C0GENERAL', "<\@U0BOT> new channel $key");
my $ch;
ok(wait_for(sub { for ($sb->bot_posts('C0GENERAL')) {
	$ch = $1 if ($_->{text} // '') =~ /Created <#(C\w+)> for \Q$key\E/ }
	return $ch }, "channel for $key", 30), 'incident channel')
    or BAIL_OUT('no incident channel');
say_in($ch, '<@U0BOT> page list');
wait_post($ch, qr/PagerDuty shortcut/, 'page list');
say_in($ch, '<@U0BOT> page db -- disk "full" on <@U0BOB>\'s primary');
my $confirm = wait_post($ch, qr/asks to page/, 'page confirmation');
click($ch, $confirm, 'page_confirm');
wait_post($ch, qr/target\(s\) paged for/, 'paged the database on-call');
say_in($ch, '<@U0BOT> page net');
$confirm = wait_post($ch, qr/asks to page.*Network/s, 'second confirmation');
click($ch, $confirm, 'page_cancel');

# Tagged messages (📝): markup, a thread, an edit, a removed tag.
for my $u ('U0BOB', 'U0CAROL') {
	my $r = $sb->post('/control/slack/channel_join', { channel => $ch,
	    user => $u });
	ok(!$r->{error} || $r->{error} eq 'already_in_channel', "$u joins");
}
my $m1 = say_in($ch, 'DB failover started, <@U0BOB> watching {code} *bold*');
my $m2 = say_in($ch, "Rolled back <https://deploy.example/42|deploy 42>\n" .
    '`a &lt; b &amp;&amp; c` see <#C0GENERAL|general>', user => 'U0BOB');
my $m3 = say_in($ch, 'Looking at the replica lag', thread_ts => $m2->{ts});
my $m4 = say_in($ch, 'unimportant chatter :tada:', user => 'U0CAROL');
tag($ch, $_, 'U0ALICE') for $m1, $m2, $m3, $m4;
tag($ch, $m2, 'U0CAROL');
tag($ch, $m4, 'U0ALICE', removed => 1);
$sb->post('/control/slack/edit', { channel => $ch, ts => $m1->{ts},
    text => 'DB failover done, <@U0BOB> watching (edited)' });
ok(wait_for(sub { my $tl = dump_db()->{timeline} // {};
    (grep { /^\Q$ch\E\// } keys %$tl) == 3 }, 'three tagged', 30),
    'three messages tagged');

# PagerDuty: a webhook subscription, then acknowledged and resolved.
my $sub = $sb->post('/control/pagerduty/webhook', {
    url => "http://127.0.0.1:$hook/pagerduty", secret => 'whsec-seed' })
    ->{webhook_subscription}{id};
ok($sub, 'webhook subscribed');
my @inc = grep { $_->{title} =~ /^\[\Q$key\E\]/ }
    @{$sb->post('/control/pagerduty/incidents', {})->{incidents} // []};
ok(@inc, 'PagerDuty incidents');
for my $op ('ack', 'resolve') {
	$sb->post("/control/pagerduty/$op", { id => $inc[0]{id},
	    user => 'alice@example.com' });
	wait_post($ch, $op eq 'ack' ? qr/acknowledged by/ : qr/resolved by/,
	    "PagerDuty $op");
}

# Timeline (three ways), status.
my $n = 0;
for my $how ('', ' markdown', ' jira') {
	say_in($ch, "<\@U0BOT> get timeline$how");
	wait_post($ch, qr/(Sent you|Posted) the timeline/, "get timeline$how",
	    ++$n);
}
my $st = () = $sb->posts_like($ch, qr/Status of/);
say_in($ch, '<@U0BOT> status');
wait_post($ch, qr/Status of/, 'status', $st + 1);

# Jira: the AAR date, a corrective action, the ticket closed (the poller).
$sb->post('/control/jira/edit', { key => $key, fields => {
    customfield_10054 => strftime('%Y-%m-%dT%H:%M:%S.000+0000',
    gmtime(time + 2 * 86400)) } });
my $act = $sb->post('/control/jira/issue', { summary => 'Add a disk alert',
    project => 'OPS', issuetype => 'Task', assignee => 'bob@example.com',
    labels => ['corrective-action'],
    duedate => strftime('%Y-%m-%d', gmtime(time + 5 * 86400)) })->{key};
$sb->post('/control/jira/link', { from => $act, to => $key,
    type => 'Relates' });
$sb->post('/control/jira/transition', { key => $key, status => 'Done' });
ok(wait_for(sub { my $db = dump_db();
    grep { /^\Q$key\E\/ticket_closed/ } keys %{$db->{evlog} // {}} },
    'the poller saw the close', 30), 'ticket closed');

# Postmortem, written; metrics.
say_in($ch, '<@U0BOT> postmortem');
my $pv = wait_post($ch, qr/Postmortem draft for/, 'postmortem preview');
click($ch, $pv, 'pm_confirm');
wait_post($ch, qr/postmortem draft is on/, 'postmortem written');
say_in('C0GENERAL', '<@U0BOT> metrics 30d');
wait_post('C0GENERAL', qr/Incident metrics/, 'metrics');
my $dms = () = $sb->bot_posts('D0ALICE');
say_in('D0ALICE', "status $key");
ok(wait_for(sub { $d->check_alive; $sb->bot_posts('D0ALICE') > $dms },
    'status in a DM', 30), 'status in a DM');

############################################################ the harvest

my $reqs = $sb->get('/control/requests?since=0')->{requests} // [];
my $envs = $sb->get('/control/slack/envelopes')->{envelopes} // [];
my $db = dump_db();
is($d->stop, 0, 'the daemon exits cleanly');
my %seeds;	# target => [[kind, bytes], ...]

sub add { my ($t, $kind, $bytes) = @_; push @{$seeds{$t}}, [$kind, $bytes] }

# What a fake's answer looked like on the wire.
my %REASON = (200 => 'OK', 201 => 'Created', 202 => 'Accepted',
    204 => 'No Content', 400 => 'Bad Request', 401 => 'Unauthorized',
    403 => 'Forbidden', 404 => 'Not Found', 409 => 'Conflict',
    429 => 'Too Many Requests', 500 => 'Internal Server Error');
sub wire {
	my ($r) = @_;
	my $body = $r->{response_text} // '';
	my $head = "HTTP/1.1 $r->{status} " .
	    ($REASON{$r->{status}} // 'Unknown') . "\r\n" .
	    join('', map { "$_\r\n" } @{$r->{response_headers} // []}) .
	    'Content-Length: ' . length($body) . "\r\n\r\n";
	return ($head, $body);
}

for my $r (@$reqs) {
	next if $r->{status} < 100;
	my ($head, $body) = wire($r);
	(my $what = $r->{path}) =~ s{/[A-Z]+-\d+|/P[A-Z0-9]{6,}|/\d+}{/N}g;
	my $kind = "$r->{service} $r->{method} $what $r->{status}";
	add($r->{service} eq 'jira' ? 'jira' : 'pd', $kind, $head . $body)
	    if $r->{service} ne 'slack';
	# fuzz-http: no flags; cuts after the status line, in the headers'
	# middle, after them and in the body's middle.
	my @cuts = (index($head, "\r\n") + 2, int(length($head) / 2),
	    length($head), length($head) + int(length($body) / 2));
	add('http', $kind, pack('CCn*', 0, scalar @cuts, @cuts) . $head .
	    $body);
}

# One ws seed per kind of frame: the handshake, then the frame, then a
# close, as the sandbox's wslay server would send them.
my $handshake = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket" .
    "\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " .
    "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
sub ws_frame {
	my ($op, $p) = @_;
	my $n = length($p);
	return pack('CC', 0x80 | $op, $n) . $p if $n < 126;
	return pack('CCn', 0x80 | $op, 126, $n) . $p if $n < 65536;
	return pack('CCQ>', 0x80 | $op, 127, $n) . $p;
}

for my $e (@$envs) {
	my $f = $e->{frame};
	my $env = $json->decode($e->{frame});
	my $pl = $env->{payload} // {};
	my $kind = join(' ', $e->{type}, $pl->{type} // '',
	    $pl->{event}{type} // '', $pl->{event}{channel_type} // '',
	    $pl->{actions}[0]{action_id} // $pl->{view}{callback_id} // '');
	add('socket', $kind, $f);
	add('ws', $kind, $handshake . ws_frame(1, $f) .
	    ws_frame(8, pack('n', 1000)));
	if ($e->{type} eq 'interactive') {
		my $p = $json->encode($pl);
		add('interactive', $kind, $p);
	}
	my $text = $pl->{event}{text};
	if (defined $text) {
		add('text', $kind, $text);
	}
}

# What the bot posted, mrkdwn: text and each block's text.
for my $r (@$reqs) {
	next if $r->{service} ne 'slack' ||
	    $r->{path} !~ m{/chat\.(postMessage|postEphemeral|update)$};
	my $m = $r->{json} // $r->{params} // {};
	my $blocks = $m->{blocks} // [];
	$blocks = eval { $json->decode($blocks) } // [] if !ref $blocks;
	for my $s ($m->{text}, map { $_->{text}{text} } @$blocks) {
		next if !defined $s || $s eq '';
		add('mrkdwn', "$r->{path} " . int(length($s) / 200), $s);
	}
}

# As the daemon keeps them (incidentd dump): each channel's tagged
# entries with the incident's PagerDuty events, its cached messages
# (~m/), each entry alone, in fuzz-timeline's JSON.
my (%by, @events);
my $tl = $db->{timeline} // {};
for my $k (sort keys %$tl) {
	my ($m, $c, $ts) = $k =~ m{^(~m/)?([^/]+)/(.+)$} or next;
	my $e = $tl->{$k};
	next if ref $e ne 'HASH';
	push @{$by{$m ? 'message' : 'entry'}{$c}}, { channel => $c,
	    ts => $ts, map { defined $e->{$_} ? ($_ => $e->{$_}) : () }
	    qw(thread_ts user username text pending) };
}
my $pdw = $db->{pdwatch} // {};
@events = map { $pdw->{$_} } sort grep { m{/ev/} } keys %$pdw;
for my $kind (sort keys %by) {
	for my $c (sort keys %{$by{$kind}}) {
		my @e = sort { $a->{ts} cmp $b->{ts} } @{$by{$kind}{$c}};
		add('timeline', "$kind all", $json->encode({ entries => \@e,
		    pd => \@events }));
		add('timeline', $kind, $json->encode({ entries => [$_] }))
		    for @e;
	}
}
add('timeline', 'pd', $json->encode({ entries => [], pd => \@events }))
    if @events;

# The configuration examples.
for my $f (glob("$top/conf/*.yaml")) {
	my $s = IncidentTest::slurp($f);
	add('config', $f, $s) if $s ne '';
}

############################################################ the seeds

# Deduplicated, also against the hand-written seeds in $dir; then one of
# each kind (in order of appearance) before a second of any, up to
# $MAX_FILES; none over $MAX_BYTES.
sub pick {
	my ($list, $dir) = @_;
	my (%seen, @order, %queue);
	$seen{IncidentTest::slurp($_)} = 1 for grep { !m{/rec-[^/]*$} }
	    glob("$dir/*");
	for my $s (@$list) {
		my ($kind, $bytes) = @$s;
		next if length($bytes) > $MAX_BYTES || $seen{$bytes}++;
		push @order, $kind if !$queue{$kind};
		push @{$queue{$kind}}, $bytes;
	}
	my @out;
	while (@out < $MAX_FILES) {
		my $more = 0;
		for my $k (@order) {
			next if !@{$queue{$k}};
			push @out, shift @{$queue{$k}};
			$more = 1;
			last if @out == $MAX_FILES;
		}
		last if !$more;
	}
	return @out;
}

for my $t (qw(socket interactive ws http jira pd mrkdwn timeline text
    config)) {
	my @s = pick($seeds{$t} // [], "$out/$t");
	ok(@s > 0, "$t: seeds") or next;
	mkdir($out);
	mkdir("$out/$t");
	unlink(glob("$out/$t/rec-*"));
	for my $bytes (@s) {
		my $path = "$out/$t/rec-" . substr(sha1_hex($bytes), 0, 12);
		open(my $fh, '>:raw', $path) or BAIL_OUT("$path: $!");
		print $fh $bytes;
		close($fh) or BAIL_OUT("$path: $!");
	}
	diag(sprintf('%-12s %2d seeds', $t, scalar @s));
}
done_testing();
