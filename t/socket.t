# socket.t: Socket Mode faults: dropped socket, disconnect messages,
# redelivered envelopes, dead connections, link_disabled.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $sb = new_sandbox(args => ['--ping-interval', '1']);
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');

sub ask_help {
	my ($n, $what) = @_;
	$sb->message(text => '<@U0BOT> help');
	my @p = $sb->wait_bot_posts('C0GENERAL', $n, $d);
	is(scalar @p, $n, "answered $what");
}

ask_help(1, 'before any fault');

# A redelivery has a new envelope_id but the same event_id: handled once.
my $r = $sb->message(text => '<@U0BOT> help');
$sb->wait_bot_posts('C0GENERAL', 2, $d);
for my $id (@{$r->{event_ids}}) {
	$sb->post('/control/slack/redeliver', { event_id => $id });
}
my $acked = sub {
	my $a = $sb->get('/control/slack/acks');
	return scalar @{$a->{acks}};
};
my $before = $acked->();
ok($d->loggrep(qr/redelivered \(attempt 1\); already handled/),
    'redelivery recognised');
ask_help(3, 'after a redelivery, which was not answered twice');

# The TCP connection drops without a close frame.
my $opened = $sb->connections->{opened_total};
$sb->post('/control/slack/drop');
ok(wait_for(sub { $sb->connections->{opened_total} > $opened &&
    $sb->connections->{open} >= 1 }, 'reconnect after drop'),
    'reconnected after the socket dropped');
ok($sb->wait_connected(2, $d), 'hello on the new connection');
ask_help(4, 'after a drop');

# refresh_requested: a new connection opens before the old one closes.
$opened = $sb->connections->{opened_total};
$sb->post('/control/slack/disconnect', { reason => 'refresh_requested' });
ok(wait_for(sub { $sb->connections->{opened_total} > $opened },
    'new connection after refresh_requested'), 'refresh: new connection');
ok(wait_for(sub { $sb->connections->{open} == 1 }, 'old one closed'),
    'refresh: the old connection was closed by the daemon');
ask_help(5, 'after refresh_requested');

# warning: same dance.
$opened = $sb->connections->{opened_total};
$sb->post('/control/slack/disconnect', { reason => 'warning' });
ok(wait_for(sub { $sb->connections->{opened_total} > $opened &&
    $sb->connections->{open} == 1 }, 'warning handled'),
    'warning: replaced the connection');
ask_help(6, 'after a disconnect warning');

# A silent server: ping/pong timeout detects the dead link.
$opened = $sb->connections->{opened_total};
$sb->post('/control/slack/silence', { on => JSON::PP::true });
ok($d->loggrep(qr/ping timeout/, 40), 'dead connection detected');
$sb->post('/control/slack/silence', { on => JSON::PP::false });
ok(wait_for(sub { $sb->connections->{opened_total} > $opened }, 'reconnect',
    40), 'reconnected after a ping timeout');
ask_help(7, 'after a dead connection');

# link_disabled: an error in the log and a long back-off, not a loop.
my $opens = scalar $sb->requests('slack', qr{apps\.connections\.open});
$sb->post('/control/slack/disconnect', { reason => 'link_disabled' });
ok($d->loggrep(qr/error: .*Socket Mode is disabled/), 'link_disabled logged as an error');
ok($d->loggrep(qr/retrying in \d+ s/), 'back-off announced');
my $after = scalar $sb->requests('slack', qr{apps\.connections\.open});
ok($after - $opens <= 1, 'no reconnect loop');

# No acknowledgement was ever late, in spite of all that.
my $acks = $sb->get('/control/slack/acks');
is(scalar(grep { $_->{late} } @{$acks->{acks}}), 0, 'no late acks');

is($d->stop, 0, 'clean exit');
done_testing();
