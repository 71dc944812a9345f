# timeline-backfill.t: a channel older than the daemon, and thousands of
# messages with hundreds of tags where the daemon was offline during part
# of it: history is read back (paginated, one 429 answered) and reconciled.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
# The daemon reads fast here (history_per_minute below); lift the
# sandbox's default of 1 history request a minute to match.
$sb->post('/control/slack/history_limits', { per_minute => 6000 });

# A channel (with tags) from before the daemon's first start.
$sb->post('/control/slack/channel', { id => 'C0OLD', name => 'old-incident',
    created => time - 86400, members => ['U0ALICE', 'U0BOB', 'U0BOT'] });
my $r = $sb->post('/control/slack/bulk', { channel => 'C0OLD', user => 'U0BOB',
    count => 40, prefix => 'old', tag_every => 8, tagger => 'U0ALICE' });
is($r->{tagged}, 5, 'old channel seeded');

# Slack allows about one history request a minute; this test reads
# thousands of messages, so it raises that in the sandbox and the daemon.
for my $m ('conversations.history', 'conversations.replies') {
	$sb->post('/control/slack/ratelimit', { method => $m, per_minute => 6000 });
}
my $d = new_incidentd($sb, timeline => { history_per_minute => 6000 },
    slack => { incident_managers => ['U0CAROL', 'U0BOB'] });
ok($sb->wait_connected(1, $d), 'connected');

sub dump_db {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	return JSON::PP->new->decode($out)->{databases};
}

sub ntags {
	my ($ch) = @_;
	my $tl = dump_db()->{timeline} // {};
	return scalar grep { /^\Q$ch\E\// } keys %$tl;
}

sub get_timeline {
	my ($ch, $text, $user) = @_;
	$user //= 'U0ALICE';
	my @before = $sb->bot_posts($ch);
	my @dm_before = $sb->bot_posts('D0ALICE');
	$sb->message(user => $user, channel => $ch, text => "<\@U0BOT> $text");
	ok(wait_for(sub {
		$d->check_alive;
		my @p = $sb->bot_posts($ch);
		return @p > @before && $p[-1]{text} =~ /Sent you|warning/;
	}, "answer to $text", 60), "answer to $text");
	my @dm = $sb->bot_posts('D0ALICE');
	return [@dm[@dm_before .. $#dm]];
}

my $dm = get_timeline('C0OLD', 'get timeline');
like($dm->[0]{text}, qr/5 tagged messages.*backfill from the channel history was needed: the channel is older than my index of it; \d+ messages read in \d+ requests/s,
    'old channel: backfill said');
like($dm->[0]{text}, qr/\*bob\*.*old 8\n.*old 16\n.*old 24\n.*old 32\n.*old 40$/s, 'old tags in order');

# A busy incident channel, indexed live (only an incident channel's
# messages are cached, so its tags resolve without history).
my ($key, $busy) = $sb->incident_channel($d, 'Busy');
ok($busy, 'incident channel created');
$r = $sb->post('/control/slack/bulk', { channel => $busy, user => 'U0BOB',
    count => 1500, prefix => 'live', tag_every => 10, tagger => 'U0ALICE' });
is($r->{tagged}, 150, '1500 messages, 150 tags');
my $parent = $sb->message(channel => $busy, user => 'U0BOB', text => 'thread start')->{ts};
my $gone = $sb->message(channel => $busy, user => 'U0BOB', text => 'will be deleted')->{ts};
$sb->post('/control/slack/reaction', { channel => $busy, ts => $gone,
    user => 'U0CAROL', reaction => 'memo' });
ok(wait_for(sub { $d->check_alive; ntags($busy) == 151 }, 'live tags', 60),
    'indexed live');
is(scalar $sb->requests('slack', qr{/api/conversations\.(history|replies)$}), 3,
    'history only for the old channel so far');

# Offline for a while: more messages, tags, a thread, an untag, a delete.
is($d->stop, 0, 'daemon stopped');
$r = $sb->post('/control/slack/bulk', { channel => $busy, user => 'U0CAROL',
    count => 1000, prefix => 'offline', tag_every => 10, tagger => 'U0BOB' });
is($r->{tagged}, 100, 'offline: 1000 messages, 100 tags');
my $p2 = $sb->message(channel => $busy, user => 'U0BOB', text => 'offline thread')->{ts};
my $reply = $sb->message(channel => $busy, user => 'U0ALICE', text => 'reply in <@U0CAROL> thread',
    thread_ts => $p2)->{ts};
$sb->message(channel => $busy, user => 'U0ALICE', text => 'untagged reply', thread_ts => $p2);
$sb->post('/control/slack/reaction', { channel => $busy, ts => $reply,
    user => 'U0CAROL', reaction => 'memo' });
my @all = $sb->messages($busy);
my ($first_live) = grep { ($_->{text} // '') eq 'live 10' } @all;
$sb->post('/control/slack/reaction', { channel => $busy, ts => $first_live->{ts},
    user => 'U0ALICE', reaction => 'memo', removed => JSON::PP::true });
$sb->post('/control/slack/delete', { channel => $busy, ts => $gone });
my $late = $sb->message(channel => $busy, user => 'U0BOB', text => 'posted offline, tagged later')->{ts};

$sb->post('/control/requests/clear');
$sb->fault(service => 'slack', match => 'conversations.history', status => 429,
    retry_after => 1, count => 1);
$d->start;
ok($sb->wait_connected(2, $d), 'reconnected');
# Tagged live, but the message itself was never seen.
$sb->post('/control/slack/reaction', { channel => $busy, ts => $late,
    user => 'U0ALICE', reaction => 'memo' });
ok(wait_for(sub { $d->check_alive; dump_db()->{timeline}{"$busy/$late"} }),
    'tag on an unseen message recorded');
ok(dump_db()->{timeline}{"$busy/$late"}{pending}, 'marked pending');

$dm = get_timeline($busy, 'get timeline');
my $want = 150 - 1 + 100 + 1 + 1;
my $text = join("\n", map { $_->{text} } @$dm);
like($dm->[0]{text}, qr/Timeline of \Q$key\E: Busy \(#[\w-]+\): \Q$want\E tagged messages/, "$want tagged messages");
like($dm->[0]{text}, qr/backfill from the channel history was needed: I was not receiving events from \d{4}-\d\d-\d\d \d\d:\d\d:\d\d to \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC; 1 tagged message I had not seen; \d+ messages read in \d+ requests/,
    'reply says a backfill was needed');
my @lines = grep { /^•/ } split /\n/, $text;
is(scalar @lines, $want, 'one line each');
unlike($text, qr/: live 10\n/, 'tag removed while offline: gone');
unlike($text, qr/will be deleted/, 'deleted while offline: gone');
like($text, qr/\(in thread\) reply in \@carol thread/, 'thread reply tagged offline');
like($text, qr/posted offline, tagged later/, 'pending tag resolved');
like($text, qr/offline 10\b.*offline 1000\b/s, 'offline tags in order');
my @ts = map { /p(\d{16})\|link/ ? $1 : () } @lines;
is_deeply(\@ts, [sort @ts], 'time order');

my @hist = $sb->requests('slack', qr{/api/conversations\.history$});
ok(@hist >= 1000 / 15, 'history paginated (' . scalar(@hist) . ' requests)');
is(scalar(grep { $_->{status} == 429 } @hist), 1, 'one 429');
ok((grep { ($_->{params}{cursor} // '') ne '' } @hist), 'cursor followed');
ok(!(grep { ($_->{params}{limit} // 0) > 15 } @hist), 'pages of at most 15');
ok((grep { ($_->{params}{ts} // '') eq $p2 }
    $sb->requests('slack', qr{/api/conversations\.replies$})), 'thread read');
like($d->log, qr/retry|429/i, '429 retried');

# Once reconciled, no more history.
$sb->post('/control/requests/clear');
$dm = get_timeline($busy, 'get timeline');
unlike($dm->[0]{text}, qr/backfill/, 'no second backfill');
is(scalar $sb->requests('slack', qr{/api/conversations\.(history|replies)$}), 0,
    'no history read');
is($d->stop, 0, 'clean exit');

done_testing();
