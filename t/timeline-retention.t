# timeline-retention.t: what the daemon keeps of what people write. The
# message cache holds the text of incident channels only (not other
# channels, not DMs with the bot); dump leaves message text out unless
# asked with --messages; a backfill never reads history older than
# timeline.backfill_max, and says so.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
# Whatever the sandbox's default history limits, this test wants speed.
for my $m ('conversations.history', 'conversations.replies') {
	$sb->post('/control/slack/ratelimit', { method => $m, per_minute => 6000 });
}
my $d = new_incidentd($sb, timeline => { history_per_minute => 6000 });
ok($sb->wait_connected(1, $d), 'connected');

sub dump_text {
	my (@args) = @_;
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump @args`;
	is($? >> 8, 0, "dump @args exits 0");
	return $out;
}

sub cache {
	my ($out) = @_;
	my $tl = JSON::PP->new->decode($out)->{databases}{timeline} // {};
	return { map { $_ => $tl->{$_} } grep { /^~m\// } keys %$tl };
}

# An incident channel.
my ($key, $cid) = $sb->incident_channel($d, 'Retention');
ok($cid, 'incident channel created');

# In order: elsewhere, a DM (answered, so processed), then the incident.
$sb->message(channel => 'C0GENERAL', user => 'U0BOB',
    text => 'general chatter zebra');
$sb->message(channel => 'D0ALICE', user => 'U0ALICE', text => 'help giraffe');
$sb->wait_bot_posts('D0ALICE', 1, $d);
my $ts = $sb->message(channel => $cid, user => 'U0ALICE',
    text => 'incident words okapi')->{ts};
my $c;
ok(wait_for(sub { $d->check_alive; $c = cache(dump_text('--messages'));
    $c->{"~m/$cid/$ts"} }), 'incident channel message cached');
is($c->{"~m/$cid/$ts"}{text}, 'incident words okapi', 'with its text');
my $all = dump_text('--messages');
unlike($all, qr/zebra/, 'other channel: no text kept');
unlike($all, qr/giraffe/, 'DM: no text kept');
ok(!(grep { /^~m\/(C0GENERAL|D0ALICE)\// } keys %$c),
    'no cache entry for them at all');

# Without --messages: lengths, never the words.
my $plain = dump_text();
unlike($plain, qr/okapi/, 'dump without --messages: no message text');
$c = cache($plain);
is($c->{"~m/$cid/$ts"}{text_bytes}, length('incident words okapi'),
    'text replaced by its length');
ok(!exists $c->{"~m/$cid/$ts"}{text}, 'no text field');
my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump --bogus 2>&1`;
isnt($? >> 8, 0, 'dump with an unknown argument fails');
like($out, qr/usage:.*dump \[--messages\]/s, 'usage names --messages');

# A channel much older than the index: read back only backfill_max.
$sb->post('/control/slack/channel', { id => 'C0ANCIENT', name => 'ancient',
    created => time - 400 * 86400, members => ['U0ALICE', 'U0BOB', 'U0BOT'] });
my $t1 = $sb->message(channel => 'C0ANCIENT', user => 'U0BOB',
    text => 'tagged in the ancient channel')->{ts};
$sb->post('/control/slack/reaction', { channel => 'C0ANCIENT', ts => $t1,
    user => 'U0ALICE', reaction => 'memo' });
$sb->post('/control/requests/clear');
my @dm_before = $sb->bot_posts('D0ALICE');
my $asked = time;
$sb->message(channel => 'C0ANCIENT', user => 'U0ALICE',
    text => '<@U0BOT> get timeline');
my @dm;
ok(wait_for(sub { $d->check_alive; @dm = $sb->bot_posts('D0ALICE');
    @dm > @dm_before && $dm[-1]{text} =~ /Timeline of/ }, 'timeline', 60),
    'timeline sent');
like($dm[-1]{text}, qr/the channel is older than my index of it; history older than 30 days was not read;.* \d+ messages? read in \d+ requests?/,
    'the reply says what was not read');
like($dm[-1]{text}, qr/tagged in the ancient channel/, 'recent tag found');
my @hist = $sb->requests('slack', qr{/api/conversations\.history$});
ok(@hist >= 1, 'history read');
ok(!(grep { !defined $_->{params}{oldest} ||
    $_->{params}{oldest} < $asked - 30 * 86400 - 5 } @hist),
    'never older than now - backfill_max');
ok((grep { $_->{params}{oldest} > time - 30 * 86400 - 120 } @hist),
    'oldest is the bound, not the channel creation');

is($d->stop, 0, 'clean exit');
done_testing();
