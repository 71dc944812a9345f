# store-full.t: a full state store is never fatal, and loses nothing acked.
#
# The daemon starts with the smallest map (1 MiB) and a 2 MiB ceiling.
# Channel messages fill it through the timeline's message cache: the map
# grows and every acknowledged message and command is there, once. Then a
# slow reader (store-edit hold, like a dump piped into a pager) pins a
# snapshot so no page can be reused, and the store fills to its ceiling:
# the daemon stays up, failed envelopes go unacknowledged and Slack
# redelivers them, and a command is answered "I could not record that".
# Once the reader lets go, the command's redelivery runs it.
#
# Handled once means recorded once: each event is acknowledged once, and
# no redelivery finds it already handled. (A reply a command sends during
# a turn whose commit then fails is out already; moving such side effects
# after the commit is the job engine's part.)
use strict;
use warnings;
use lib ($ENV{top_srcdir} // '.') . '/t/lib';
use IncidentTest;
use IPC::Open2;
use JSON::PP;
use Test::More;

my $json = JSON::PP->new;
my $edit = ($ENV{top_builddir} // '.') . '/t/store-edit';
my $NOT_RECORDED = 'I could not record that (the state store is full); ' .
    'nothing was done.';

my $sb = new_sandbox(args => ['--ack-timeout', '2']);
my $d = new_incidentd($sb, map_size => '1M', map_size_max => '2M');
ok($sb->wait_connected(1, $d), 'connected');
like($d->log,
    qr/starting \(state in \S+: \d+ KiB used, map 1024 KiB, ceiling 2048 KiB\)/,
    'the startup log shows the size, the map and the ceiling');

sub dump_state {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump 2>/dev/null`;
	return eval { $json->decode($out) } // {};
}

sub acked_events {
	my %acked;
	for my $a (@{$sb->get('/control/slack/acks')->{acks} // []}) {
		push @{$acked{$a->{event_id}}}, $a if defined $a->{event_id};
	}
	return \%acked;
}

sub posts_like {
	my ($re) = @_;
	return scalar grep { ($_->{text} // '') =~ $re }
	    $sb->bot_posts('C0GENERAL');
}

# The message cache keeps incident channels only: make one to fill.
my $key = $sb->post('/control/jira/issue', { project => 'INC',
    issuetype => 'Incident', summary => 'Store fills up' })->{key};
$sb->message(channel => 'C0GENERAL', text => "<\@U0BOT> new channel $key");
my $cid;
ok(wait_for(sub { for (posts_like(qr/Created <#C\w+>/) ? $sb->bot_posts('C0GENERAL') : ()) {
    ($cid) = ($_->{text} // '') =~ /Created <#(C\w+)>/; return 1 if $cid } 0 }),
    'an incident channel to fill');

my $filler = join(' ', ('0123456789abcdef') x 180);	# one 4 KiB page
my (@ts, @events, @commands, $ncmd);

# 1. Grow: 300 pages (1.2 MiB) of messages, with a command every 60 of them.
for my $i (1 .. 300) {
	my $r = $sb->message(channel => $cid, text => "fill $i $filler");
	last unless $r->{ok};
	push @ts, $r->{ts};
	push @events, @{$r->{event_ids}};
	if ($i % 60 == 0) {
		$r = $sb->message(channel => 'C0GENERAL',
		    text => '<@U0BOT> help');
		push @commands, @{$r->{event_ids}};
		$ncmd++;
	}
}
is(scalar @ts, 300, '300 messages posted');
ok($d->loggrep(qr/grew it to 2048 KiB/), 'the map grew to the ceiling');
ok(wait_for(sub {
	$d->check_alive;
	my $acked = acked_events();
	return !grep { !$acked->{$_} } @events, @commands;
}, 'every message and command acknowledged', 60),
    'every envelope was acknowledged in the end');
unlike($d->log, qr/store commit|fatal/i, 'no fatal store error');
my $cache = dump_state()->{databases}{timeline} // {};
my @lost = grep { !$cache->{"~m/$cid/$_"} } @ts;
is(scalar @lost, 0, 'every acknowledged message is in the cache');
ok(posts_like(qr/What I can do/) >= $ncmd, 'every command was answered');
my $acked = acked_events();
is(scalar(grep { @{$acked->{$_}} != 1 } @events, @commands), 0,
    'each event acknowledged once');
unlike($d->log, qr/redelivered \(attempt \d+\); already handled/,
    'no redelivery found its event handled already');
is(dump_state()->{size}{map_size}, 2 << 20, 'dump shows the grown map');
is(dump_state()->{size}{map_size_max}, 2 << 20, 'and the ceiling');
my $failed_turns = () =
    $d->log =~ /not acknowledged: their state could not be stored/g;
ok($failed_turns >= 1,
    "the growing turn(s) went unacknowledged ($failed_turns)");
ok(acked_events()->{$events[-1]}, 'the last message was acked');

# 2. The ceiling: a reader pins a snapshot; fill until writes fail.
my $hold_pid = open2(my $hold_out, my $hold_in, $edit, $sb->dir . '/state',
    'hold');
is(scalar <$hold_out>, "held\n", 'a slow reader holds a snapshot');
my ($full, $n) = (0, 0);
my $redelivered0 = $sb->connections->{redelivered};
my @stuck;
while (!$full && $n < 300) {
	$n++;
	my $r = $sb->message(channel => $cid, text => "more $n $filler");
	push @stuck, @{$r->{event_ids}};
	$full = $d->log =~ /full at its ceiling \(2048 KiB, map_size_max\)/;
}
ok($full, "writes fail at the ceiling after $n more messages");
$d->check_alive;
# Wait until Slack stops redelivering the fillers that failed.
ok(wait_for(sub {
	$d->check_alive;
	my $c = $sb->connections;
	my $acked = acked_events();
	my @open = grep { !$acked->{$_} } @stuck;
	return @open && $c->{gave_up} >= @open;
}, 'Slack gives up on the unrecorded messages', 60),
    'failed messages went unacknowledged; Slack redelivered them, then '
    . 'gave up');
ok($sb->connections->{redelivered} > $redelivered0, 'redelivered');

# A failed big write does not mean a small one fails too: a command may
# still fit in the last free pages. Each one that fits uses pages the
# pinned snapshot keeps from being reused, so ask until one does not.
my ($cmd_event, $answers, $outcome);
for (1 .. 50) {
	$answers = posts_like(qr/What I can do/);
	my $r = $sb->message(channel => 'C0GENERAL',
	    text => '<@U0BOT> help');
	$cmd_event = $r->{event_ids}[-1];	# the app_mention copy
	$outcome = undef;
	wait_for(sub {
		$d->check_alive;
		$outcome = posts_like(qr/\Q$NOT_RECORDED\E/) ? 'full' :
		    posts_like(qr/What I can do/) > $answers ? 'ran' : undef;
	}, 'the command answered');
	last if ($outcome // '') ne 'ran';
}
is($outcome, 'full', 'the command is told it was not recorded');
ok(!acked_events()->{$cmd_event}, 'its envelope was not acknowledged');

# 3. The reader lets go: the redelivery runs the command, once.
close($hold_in);
waitpid($hold_pid, 0);
is($?, 0, 'the reader let go');
ok(wait_for(sub {
	$d->check_alive;
	my $a = acked_events()->{$cmd_event};
	return $a && grep { $_->{retry_attempt} >= 1 } @$a;
}, 'the redelivered command acknowledged', 30),
    'the redelivery was handled and acknowledged');
ok(wait_for(sub { posts_like(qr/What I can do/) > $answers },
    'the help reply'), 'the command ran');
is(scalar @{acked_events()->{$cmd_event}}, 1, 'acknowledged once');
is(posts_like(qr/\Q$NOT_RECORDED\E/), 1, 'told once, not on each retry');
$answers = posts_like(qr/What I can do/);
$sb->message(channel => 'C0GENERAL', text => '<@U0BOT> help');
ok(wait_for(sub { posts_like(qr/What I can do/) == $answers + 1 },
    'a new command'), 'new commands run');
my $limited = () = $d->log =~ /full at its ceiling/g;
is($limited, 1, 'the ceiling error is logged once a minute, not per turn');

is($d->stop, 0, 'clean exit');
done_testing();
