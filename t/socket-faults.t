# socket-faults.t: the Socket Mode row of issue 14's fault matrix. Each
# cell makes the fake Socket Mode server misbehave in one way (garbage
# frames, text that is not JSON or not UTF-8, a message over
# WS_MAX_MESSAGE, unknown envelope and event types, no hello, a
# disconnect storm, a refused upgrade) and checks that the daemon stays correct: it reconnects only
# when it must and then with back-off, `help` by DM is answered exactly
# once, and every envelope that carried an envelope_id was acked.
#
# Cells that cost the daemon its connection each get a fresh sandbox
# and daemon, so one cell's back-off does not slow the next. The no-hello
# and unanswered-ping cells wait out the daemon's deadlines (15 s for a
# hello, 10 s for a pong) on sandboxes of their own, started first and
# checked last.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use IncidentTest;

my $T = JSON::PP::true;
my $F = JSON::PP::false;
my $WS_MAX_MESSAGE = 4 * 1024 * 1024;	# src/incidentd.h

sub alltext {
	my ($m) = @_;
	return join("\n", $m->{text} // '', map { ($_->{text}{text} // '') }
	    @{$m->{blocks} // []});
}

sub help_posts {
	my ($sb) = @_;
	return grep { alltext($_) =~ /What I can do/ } $sb->bot_posts('D0ALICE');
}

# `help` by DM: answered, and exactly once.
sub help_once {
	my ($sb, $d, $name) = @_;
	my %seen = map { $_->{ts} => 1 } help_posts($sb);
	$sb->message(channel => 'D0ALICE', user => 'U0ALICE', text => 'help');
	my @p;
	ok(wait_for(sub { $d->check_alive; @p = grep { !$seen{$_->{ts}} }
	    help_posts($sb); @p }, "$name: help", 30), "$name: help answered");
	is(scalar @p, 1, "$name: help answered once");
}

# Every envelope the sandbox tracked was acked, none twice, and no ack
# named an envelope it never sent (but for $unknown, hand-made frames'
# ids).
sub all_acked {
	my ($sb, $name, $unknown) = @_;
	my $a;
	ok(wait_for(sub { $a = $sb->get('/control/slack/acks');
	    !@{$a->{unacked}} }, "$name: acks", 20),
	    "$name: every envelope acked") or diag(explain($a));
	is($a->{unknown}, $unknown // 0, "$name: no ack for an unknown id");
	is($a->{invalid}, 0, "$name: no invalid frame from the daemon");
	is(scalar(grep { $_->{duplicate} } @{$a->{acks}}), 0,
	    "$name: none acked twice");
	return $a;
}

sub opens {
	my ($sb) = @_;
	return map { $_->{time} } $sb->requests('slack',
	    qr{apps\.connections\.open});
}

sub fds {
	my ($d) = @_;
	opendir(my $dh, "/proc/" . $d->pid . "/fd") or return -1;
	my $n = grep { !/^\./ } readdir($dh);
	closedir($dh);
	return $n;
}

# Back-off: gap i between consecutive opens at least half of 2^i s.
sub backed_off {
	my ($name, @t) = @_;
	my @gaps = map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
	my @short = grep { $gaps[$_] < 0.45 * 2 ** $_ } 0 .. $#gaps;
	ok(!@short, "$name: reconnects backed off") or
	    diag("gaps: @{[map { sprintf '%.2f', $_ } @gaps]}");
}

# A DM "help" from U0ALICE as a hand-made events_api envelope, in bytes:
# NOTE (valid UTF-8 here) stands where the tests put their own bytes.
sub help_envelope {
	my ($id) = @_;
	my $ts = sprintf('%.6f', time);
	return JSON::PP->new->canonical->encode({ envelope_id => $id,
	    type => 'events_api', accepts_response_payload => $F,
	    retry_attempt => 0, retry_reason => '', payload => {
	    team_id => 'T0SANDBOX', api_app_id => 'A0SANDBOX',
	    type => 'event_callback', event_id => "Ev0$id",
	    event_time => int(time), note => 'NOTE', event => {
	    type => 'message', channel => 'D0ALICE', channel_type => 'im',
	    user => 'U0ALICE', text => 'help', ts => $ts,
	    event_ts => $ts } } });
}

# Raw bytes through the control API: JSON::PP (no utf8) and HTTP::Tiny
# pass characters below 256 as those bytes, and cJSON keeps them.
sub frames {
	my ($sb, @f) = @_;
	my $n = 0;
	$n += $sb->post('/control/slack/frame', $_)->{sent} for @f;
	return $n;
}

sub fresh {
	my (%sbopt) = @_;
	my $sb = new_sandbox(%sbopt);
	my $d = new_incidentd($sb);
	ok($sb->wait_connected(1, $d), 'connected');
	return ($sb, $d);
}

# The daemon must close what it was told to and settle on one
# connection, with no more file descriptors than before.
sub settled {
	my ($sb, $d, $name, $fds) = @_;
	ok(wait_for(sub { $sb->connections->{open} == 1 }, "$name: one open",
	    20), "$name: settled on one connection");
	ok(wait_for(sub { fds($d) <= $fds }, "$name: fds back to $fds", 10),
	    "$name: no file descriptor left behind") or
	    diag("fds: " . fds($d) . ", was $fds");
}

############################################################ no hello

my $hsb = new_sandbox();
$hsb->post('/control/slack/nohello', { count => 1 });
my $hd = new_incidentd($hsb);
my $hstart = time;

############################################################ no pongs

# The connection goes half-open: nothing from the server, pings
# unanswered (t/socket.t silences every connection; here only this one,
# so the reconnect finds a working server).
my $psb = new_sandbox();
my $pd = new_incidentd($psb);
ok($psb->wait_connected(1, $pd), 'no pongs: connected');
$psb->post('/control/slack/silence', { on => $T, current => $T });

############################################################ no reconnect

my ($sb, $d) = fresh();
help_once($sb, $d, 'before any fault');
my $fds = fds($d);
my $opened = $sb->connections->{opened_total};

# Frames the daemon ignores, on the same connection.
my @ignored = (
	['binary frame', { opcode => 2,
	    payload => '{"envelope_id":"bin-1","type":"events_api"}' }],
	['text that is not JSON', { opcode => 1, payload => 'hello, world' }],
	['JSON that is not an object', { opcode => 1, payload => '[1,2,3]' }],
	['empty text frame', { opcode => 1, payload => '' }],
	['unsolicited pong', { opcode => 10, payload => 'pong' }],
);
for my $c (@ignored) {
	my ($name, $f) = @$c;
	is($sb->post('/control/slack/frame', $f)->{sent}, 1, "$name: sent");
	help_once($sb, $d, $name);
}
ok($d->loggrep(qr/ignoring a 12-byte frame .* not a JSON object/),
    'not JSON: logged');
ok($d->loggrep(qr/ignoring a 7-byte frame .* not a JSON object/),
    'not an object: logged');

# An envelope at exactly the cap: handled (acked) like any other.
my $env = '{"envelope_id":"big-1","type":"brand_new_kind","payload":{}}';
$sb->post('/control/slack/frame', { opcode => 1, payload => $env,
    pad_bytes => $WS_MAX_MESSAGE - length($env) });
ok(wait_for(sub { grep { ($_->{envelope_id} // '') eq 'big-1' }
    @{$sb->get('/control/slack/acks')->{errors}} }, 'ack of big-1'),
    'message of exactly WS_MAX_MESSAGE bytes: acked');
help_once($sb, $d, 'message at the cap');
is($sb->connections->{opened_total}, $opened,
    'ignored frames: the connection was kept');

# Unknown envelope and event types: acked, ignored, nothing lost.
my @unknown = (
	['unknown envelope type', { envelope_id => 'unk-env-1',
	    type => 'brand_new_kind', accepts_response_payload => $F,
	    payload => { team_id => 'T0SANDBOX', api_app_id => 'A0SANDBOX' } }],
	['envelope without a payload', { envelope_id => 'unk-env-2',
	    type => 'events_api' }],
	['envelope without a type', { envelope_id => 'unk-env-3',
	    payload => {} }],
	['unknown event type', { envelope_id => 'unk-evt-1',
	    type => 'events_api', accepts_response_payload => $F,
	    retry_attempt => 0, retry_reason => '',
	    payload => { team_id => 'T0SANDBOX', api_app_id => 'A0SANDBOX',
	    type => 'event_callback', event_id => 'Ev0UNKNOWN1',
	    event_time => int(time), event => { type => 'brand_new_event',
	    user => 'U0ALICE', channel => 'C0GENERAL' } } }],
	['unknown event callback type', { envelope_id => 'unk-evt-2',
	    type => 'events_api', payload => { team_id => 'T0SANDBOX',
	    api_app_id => 'A0SANDBOX', type => 'brand_new_callback',
	    event_id => 'Ev0UNKNOWN2' } }],
	['unknown frame type, no envelope_id', { type => 'brand_new_notice',
	    debug_info => { host => 'applink-sandbox' } }],
);
for my $c (@unknown) {
	my ($name, $e) = @$c;
	is($sb->post('/control/slack/raw', { envelope => $e })->{sent}, 1,
	    "$name: sent");
	all_acked($sb, $name, 1);
	help_once($sb, $d, $name);
}
is($sb->connections->{opened_total}, $opened,
    'unknown envelopes: the connection was kept');

# Many disconnect messages on one connection: one replacement, once the
# back-off allows (the connection is young), and the old one closed.
my @before = opens($sb);
$sb->post('/control/slack/disconnect', { reason => 'refresh_requested' })
    for 1 .. 20;
ok(wait_for(sub { $sb->connections->{hello_sent} > $opened },
    'replacement'), 'disconnect storm: a replacement connection');
settled($sb, $d, 'disconnect storm', $fds);
is(scalar(opens($sb)) - @before, 1,
    'disconnect storm: 20 messages, one apps.connections.open');
help_once($sb, $d, 'disconnect storm');
all_acked($sb, 'disconnect storm', 1);
# The control for the UTF-8 cells below: valid UTF-8 (a two-byte
# character cut between two fragments) is delivered, answered and acked.
my ($pre, $post) = split(/NOTE/, help_envelope('utf8-ok'), 2);
$opened = $sb->connections->{opened_total};
is(frames($sb, { opcode => 1, fin => $F, payload => "${pre}caf\xc3" },
    { opcode => 0, payload => "\xa9$post" }), 2,
    'UTF-8 cut between fragments: sent');
ok(wait_for(sub { grep { ($_->{envelope_id} // '') eq 'utf8-ok' }
    @{$sb->get('/control/slack/acks')->{errors}} }, 'ack of utf8-ok'),
    'UTF-8 cut between fragments: acked');
all_acked($sb, 'UTF-8 cut between fragments', 2);
my $nhelp = 1 + @ignored + 1 + @unknown + 1 + 1;
ok(wait_for(sub { help_posts($sb) >= $nhelp }, 'help of utf8-ok'),
    'UTF-8 cut between fragments: answered');
is(scalar help_posts($sb), $nhelp, 'main: every help answered once');
is($sb->connections->{opened_total}, $opened,
    'UTF-8 cut between fragments: the connection was kept');
is($d->stop, 0, 'main: clean exit');

############################################################ reconnects

# Frames that fail the connection: a new one, after back-off.
my $opcode_cell = sub {
	my ($f, $re) = @_;
	return sub {
		my ($sb, $d) = @_;
		is($sb->post('/control/slack/frame', $f)->{sent}, 1, 'sent');
		ok($d->loggrep($re), "closed: $re");
	};
};
# Text frames that are not UTF-8: the connection failed with 1007, the
# message never dispatched (all_acked: no ack of its id; no help).
my $utf8_cell = sub {
	my ($f) = @_;
	return sub {
		my ($sb, $d) = @_;
		is(frames($sb, @$f), scalar @$f, 'sent');
		ok($d->loggrep(qr/lost: invalid UTF-8 in a text message/),
		    'closed with 1007');
		ok(wait_for(sub { $sb->connections->{hello_sent} >= 2 },
		    'reconnected', 20), 'reconnected');
		is(scalar help_posts($sb), 1, 'the message was not handled');
	};
};
# The next two connections fail at once ($mode) after $op fails this
# one; the last has hello number $hellos.
my $storm_cell = sub {
	my ($name, $mode, $hellos, $op, $body) = @_;
	return [$name, sub {
		my ($sb, $d) = @_;
		$sb->post('/control/slack/storm', { count => 2, mode => $mode,
		    close_after_ms => 200 });
		$sb->post("/control/slack/$op", $body);
		ok(wait_for(sub { $sb->connections->{stormed} == 2 &&
		    $sb->connections->{hello_sent} >= $hellos }, 'the last one',
		    20), 'connected after the storm');
	}, 4];
};
# The next $count upgrades are answered $status, then one succeeds.
my $refuse_cell = sub {
	my ($status, $count) = @_;
	return ["upgrade answered $status, $count time(s)", sub {
		my ($sb, $d) = @_;
		$sb->post('/control/slack/refuse', { count => $count,
		    status => $status });
		$sb->post('/control/slack/drop');
		ok($d->loggrep(qr/lost: handshake: HTTP $status/),
		    'refusal logged');
		ok(wait_for(sub { $sb->connections->{refused} == $count &&
		    $sb->connections->{hello_sent} >= 2 }, 'up again', 20),
		    'connected once it cleared');
	}, 2 + $count];
};
my @reconnect = (
	['reserved opcode 3', $opcode_cell->({ opcode => 3, payload => 'x' },
	    qr/lost: protocol error/)],
	['reserved control opcode 11', $opcode_cell->({ opcode => 11 },
	    qr/lost: protocol error/)],
	['RSV bits set', $opcode_cell->({ opcode => 1, rsv => 4,
	    payload => '{}' }, qr/lost: protocol error/)],
	['masked frame from the server', $opcode_cell->({ opcode => 1,
	    mask => $T, payload => '{"type":"hello"}' },
	    qr/lost: protocol error/)],
	['continuation without a start', $opcode_cell->({ opcode => 0,
	    payload => '{}' }, qr/lost: protocol error/)],
	# wslay's frame parser refuses it outright: no close frame.
	['fragmented ping', $opcode_cell->({ opcode => 9, fin => $F,
	    payload => 'p' }, qr/lost: websocket: receive failed/)],
	['oversized message', $opcode_cell->({ opcode => 1,
	    payload => '{"envelope_id":"huge-1","type":"events_api"}',
	    pad_bytes => $WS_MAX_MESSAGE }, qr/lost: message too large/)],
	['oversized in fragments', sub {
		my ($sb, $d) = @_;
		$sb->post('/control/slack/frame', { opcode => 1, fin => $F,
		    payload => '{"type":"events_api"}',
		    pad_bytes => $WS_MAX_MESSAGE / 2 });
		$sb->post('/control/slack/frame', { opcode => 0, fin => $F,
		    pad_bytes => $WS_MAX_MESSAGE / 2 });
		$sb->post('/control/slack/frame', { opcode => 0,
		    payload => ' ' });
		ok($d->loggrep(qr/lost: message too large/),
		    'closed: message too large');
	}],
	# RFC 6455 8.1: fail the connection with 1007 (wslay's check);
	# the envelope (a DM "help") is neither acked nor answered.
	['text that is not UTF-8', $utf8_cell->([{ opcode => 1,
	    payload => help_envelope('utf8-bad-1') =~ s/NOTE/caf\xff/r }])],
	['message ending mid-character, in fragments', $utf8_cell->([
	    { opcode => 1, fin => $F, payload => help_envelope('utf8-bad-2') .
	    "\xe2" }, { opcode => 0, payload => "\x82" }])],
	$storm_cell->('storm of dropped connections', 'drop', 2, 'drop', {}),
	$storm_cell->('storm of refresh requests', 'disconnect', 4,
	    'disconnect', { reason => 'refresh_requested',
	    close_after_ms => 200 }),
	$refuse_cell->(403, 2),
	$refuse_cell->(500, 1),
	$refuse_cell->(200, 1),
);
for my $c (@reconnect) {
	my ($name, $run, $nopens) = @$c;
	$nopens //= 2;
	subtest $name => sub {
		my ($sb, $d) = fresh();
		help_once($sb, $d, 'before');
		my $fds = fds($d);
		$run->($sb, $d);
		ok(wait_for(sub { $sb->connections->{hello_sent} >= 2 &&
		    $sb->connections->{open} == 1 }, 'reconnected', 20),
		    'reconnected');
		my @t = opens($sb);
		is(scalar @t, $nopens, "$nopens apps.connections.open calls");
		backed_off($name, @t);
		settled($sb, $d, $name, $fds);
		help_once($sb, $d, 'after');
		all_acked($sb, $name, 0);
		is($d->stop, 0, 'clean exit');
	};
}

############################################################ no hello

ok(wait_for(sub { $hsb->connections->{hello_sent} >= 1 }, 'hello at last',
    30), 'no hello: connected in the end');
ok($hd->loggrep(qr/no hello from 127\.0\.0\.1 within 15 s; reconnecting/),
    'no hello: the daemon gave up on the silent connection');
ok($hd->loggrep(qr/reconnecting in \d+ ms/), 'no hello: with back-off');
my @t = opens($hsb);
is(scalar @t, 2, 'no hello: two apps.connections.open calls');
cmp_ok($t[1] - $t[0], '>=', 15.4, 'no hello: 15 s and a back-off apart')
    if @t == 2;
is($hsb->connections->{hello_withheld}, 1, 'no hello: one withheld');
ok(wait_for(sub { $hsb->connections->{open} == 1 }, 'one open'),
    'no hello: the silent connection was closed');
help_once($hsb, $hd, 'no hello');
all_acked($hsb, 'no hello', 0);
is($hd->stop, 0, 'no hello: clean exit');

ok($pd->loggrep(qr/nothing received for 10000 ms after a ping/, 20),
    'no pongs: the dead connection was detected');
ok($pd->loggrep(qr/lost: ping timeout/), 'no pongs: and dropped');
ok(wait_for(sub { $psb->connections->{hello_sent} >= 2 &&
    $psb->connections->{open} == 1 }, 'reconnected'),
    'no pongs: reconnected');
@t = opens($psb);
is(scalar @t, 2, 'no pongs: two apps.connections.open calls');
help_once($psb, $pd, 'no pongs');
all_acked($psb, 'no pongs', 0);
is($pd->stop, 0, 'no pongs: clean exit');
diag(sprintf('socket-faults: %.1f s', time - $hstart));

done_testing();
