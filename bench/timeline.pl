# timeline.pl: get timeline on a channel of 20,000 messages with 500 tags,
# all indexed live. Checks that no history is read and reports the time
# the daemon took (its own log line) and from the command to the last DM
# the sandbox received, over several runs. Usage: perl -It/lib
# bench/timeline.pl
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use IncidentTest;

my $messages = $ENV{BENCH_MESSAGES} // 20000;
my $every = $ENV{BENCH_TAG_EVERY} // 40;
my $runs = $ENV{BENCH_RUNS} // 10;

my $sb = new_sandbox();
my $d = new_incidentd($sb, log_level => 'info',
    timeline => { timezone => 'Europe/Paris' });
ok($sb->wait_connected(1, $d), 'connected');
# An incident channel (only those have their text cached), made as a
# responder would: new channel on a ticket.
my ($key, $cid) = $sb->incident_channel($d, 'Bench incident');
ok($cid, 'incident channel created') or BAIL_OUT('no incident channel');
for my $u ('U0ALICE', 'U0BOB', 'U0CAROL') {
	my $r = $sb->post('/control/slack/channel_join', { channel => $cid,
	    user => $u });
	BAIL_OUT("channel_join $u: $r->{error}") if $r->{error} &&
	    $r->{error} ne 'already_in_channel';
}
my $t0 = time;
# In batches so the Socket Mode stream keeps flowing.
my $tags = 0;
for (my $i = 0; $i < $messages; $i += 1000) {
	my $n = $messages - $i < 1000 ? $messages - $i : 1000;
	my $r = $sb->post('/control/slack/bulk', { channel => $cid,
	    user => ($i / 1000) % 2 ? 'U0BOB' : 'U0CAROL', count => $n,
	    prefix => "msg <\@U0ALICE> see <https://x.example/$i|runbook> batch $i",
	    tag_every => $every, tagger => 'U0ALICE' });
	$tags += $r->{tagged};
}
my $want = $tags;
ok(wait_for(sub {
	$d->check_alive;
	my @n = $d->log =~ /timeline: \Q$cid\E\/\S+ tagged by/g;
	return @n >= $want;
}, "$want tags indexed", 600), "$want tags indexed live");
my $index_s = time - $t0;

my (@ms, @total, $dms);
for my $run (1 .. $runs) {
	my $before = () = $d->log =~ /job timeline_send\/\S+ done/g;
	my $since = $sb->get('/control/requests?service=slack&since=0')->{next};
	my $cmd = $sb->message(user => 'U0ALICE', channel => $cid,
	    text => '<@U0BOT> get timeline');
	wait_for(sub {
		my @n = $d->log =~ /job timeline_send\/\S+ done/g;
		return @n > $before;
	}, 'timeline sent', 60);
	my @all = $d->log =~ /get timeline: (\d+) entries of \S+: daemon time ([\d.]+) ms; (\d+) message\(s\) to send/g;
	my ($n, $r, $msgs) = @all[-3 .. -1];
	# Command (its ts, the sandbox's clock) to the last DM the sandbox
	# received (its clock too): the DM round trips, no polling in it.
	my @dm = grep { ($_->{params}{channel} // $_->{json}{channel} // '')
	    =~ /^[DU]/ } $sb->requests_since('slack', $since,
	    qr{/api/chat\.postMessage$});
	my $last = 0;
	$last = $_->{time} > $last ? $_->{time} : $last for @dm;
	my $t = int(($last - $cmd->{ts}) * 1000);
	is($n, $want, "run $run: $n entries: daemon time $r ms; $msgs DMs sent, $t ms after the command");
	is(scalar @dm, $msgs, "run $run: $msgs DMs posted");
	push @ms, $r;
	push @total, $t;
	$dms = $msgs;
}
is(scalar $sb->requests('slack', qr{/api/conversations\.(history|replies)$}), 0,
    'no conversations.history or replies');
my @s = sort { $a <=> $b } @ms;
my @t = sort { $a <=> $b } @total;
my $median = $s[int(@s / 2)];
diag(sprintf("%d messages, %d tags indexed live in %.1f s", $messages,
    $want, $index_s));
diag(sprintf("get timeline, daemon time (backfill check, index reads, " .
    "name collection, render; no waiting on Slack): median %.1f ms, " .
    "max %.1f ms", $median, $s[-1]));
diag(sprintf("get timeline, command to the last DM the sandbox received " .
    "(the DM round trips, on the sandbox's clock): median %d ms, max %d ms, " .
    "first %d ms (cold name cache)", $t[int(@t / 2)], $t[-1], $total[0]));
cmp_ok($s[-1], '<=', 50, 'daemon time within 50 ms on every run');
if (my $out = $ENV{BENCH_JSON}) {
	open(my $fh, '>>', $out) or die "$out: $!";
	printf $fh '{"messages":%d,"tags":%d,"runs":%d,"index_live_s":%.1f,'
	    . '"daemon_ms":{"median":%.1f,"max":%.1f},"dm_round_trips_ms":'
	    . '{"median":%d,"max":%d,"first":%d},"dms":%d,"history_calls":%d}'
	    . "\n", $messages, $want, $runs, $index_s, $median, $s[-1],
	    $t[int(@t / 2)], $t[-1], $total[0], $dms,
	    scalar $sb->requests('slack',
	    qr{/api/conversations\.(history|replies)$});
	close($fh);
}
is($d->stop, 0, 'clean exit');
done_testing();
