# flood.t: a flood leaves the daemon answering everyone else, with memory
# bounded (issue 14, "Resource bounds"). 10,000 Socket Mode envelopes sent
# at once (5,000 messages, each tagged for the timeline): another user's
# help is answered, every envelope is acknowledged and every tag indexed,
# and the daemon's heap grows by a bounded amount. A user typing page in
# a loop is rate-limited with one private note while others are answered.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $N = 5000;		# messages; with their tags, 2 x $N envelopes

my $sb = new_sandbox();
$sb->post('/control/slack/user', { id => 'U0DAVE', name => 'dave',
    email => 'dave@example.com' });
$sb->post('/control/slack/channel', { id => 'C0FLOOD', name => 'inc-flood',
    members => ['U0ALICE', 'U0BOB', 'U0CAROL', 'U0DAVE', 'U0BOT'] });
$sb->post('/control/pagerduty/service', { name => 'Databases', id => 'PDB0001',
    oncall => 'bob@example.com' });
my $d = new_incidentd($sb, log_level => 'info',
    access => { commands_per_minute => 10 },
    pagerduty => { shortcuts => { db => { service => 'PDB0001' } } });
ok($sb->wait_connected(1, $d), 'connected');

# The daemon's own heap (anonymous resident memory), in KiB. Not under
# a wrapper (valgrind's) or a sanitizer, whose memory is not the daemon's.
my $measure = !$ENV{ASAN_OPTIONS} && !$ENV{INCIDENTD_WRAP} &&
    !$ENV{INCIDENTD_TEST_VALGRIND} && -r "/proc/${\ $d->pid}/status";
sub heap_kib {
	my ($kib) = IncidentTest::slurp("/proc/${\ $d->pid}/status") =~
	    /^RssAnon:\s+(\d+) kB/m;
	return $kib // 0;
}

sub ask {
	my ($user, $channel, $text) = @_;
	my $n = scalar $sb->bot_posts($channel);
	$sb->message(user => $user, channel => $channel,
	    text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts($channel, $n + 1, $d, 60);
	return @p > $n ? $p[-1] : undef;
}

# Warm up: the first command's caches are not the flood's.
like((ask('U0BOB', 'C0GENERAL', 'help') // {})->{text} // '',
    qr/What I can do/, 'help answered before the flood');
my $acks0 = scalar @{$sb->get('/control/slack/acks')->{acks} // []};
my $heap0 = $measure ? heap_kib() : 0;

################################################ 1. 10,000 envelopes

my $r = $sb->post('/control/slack/bulk', { channel => 'C0FLOOD',
    user => 'U0ALICE', count => $N, prefix => 'flood', tag_every => 1,
    tagger => 'U0CAROL' });
is($r->{tagged}, $N, "$N messages and $N tags sent at once");
my $p = ask('U0BOB', 'C0GENERAL', 'help');
like(($p // {})->{text} // '', qr/What I can do/,
    'another user\'s help is answered during the flood');
ok(wait_for(sub {
	$d->check_alive;
	my $a = $sb->get('/control/slack/acks');
	return @{$a->{acks} // []} - $acks0 >= 2 * $N + 1;
}, 'every envelope acknowledged', 300), 'every envelope acknowledged');
ok(wait_for(sub {
	my @n = $d->log =~ /timeline: C0FLOOD\/\S+ tagged by/g;
	return @n >= $N;
}, "$N tags indexed", 120), "every tag recorded ($N)");
is(scalar @{$sb->get('/control/slack/acks')->{unacked} // []}, 0,
    'nothing left unacknowledged');
SKIP: {
	skip('heap not measured under a wrapper or sanitizer', 1)
	    if !$measure;
	my $grew = heap_kib() - $heap0;
	diag("heap grew by $grew KiB over the flood");
	cmp_ok($grew, '<', 16 * 1024, 'heap growth bounded (under 16 MiB)');
}

################################################ 2. page in a loop

my $neph = () = $sb->requests('slack', qr{/api/chat\.postEphemeral$});
$sb->message(user => 'U0DAVE', channel => 'C0FLOOD',
    text => '<@U0BOT> page db -- again') for 1 .. 30;
ok(wait_for(sub {
	my $c = () = $d->log =~ /from U0DAVE in C0FLOOD refused: over 10 a minute/g;
	return $c >= 20;
}, 'dave refused', 60), 'the loop is rate-limited (20 of 30 refused)');
my @eph = grep { ($_->{json}{user} // '') eq 'U0DAVE' }
    $sb->requests('slack', qr{/api/chat\.postEphemeral$});
is(scalar @eph, 1, 'one private note, not one per command');
like($eph[0]{json}{text} // '', qr/faster than I take them/, 'saying why');
$p = ask('U0BOB', 'C0GENERAL', 'help');
like(($p // {})->{text} // '', qr/What I can do/, 'bob is answered meanwhile');
$p = ask('U0CAROL', 'C0GENERAL', 'help');
like(($p // {})->{text} // '', qr/What I can do/, 'carol is answered meanwhile');

is($d->stop, 0, 'clean exit');
done_testing();
