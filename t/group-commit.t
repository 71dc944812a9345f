# group-commit.t: envelopes that are waiting together are committed and
# acked together. The daemon is stopped while the sandbox queues six
# envelopes on its socket (more than one 4 KiB read); once it runs again
# it must read them all, commit once and send the six acks as one batch
# (incidentd_ack_batches_total), not one commit and batch per read.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use IncidentTest;

# A port nobody listens on now: bind port 0, note it, close.
my $port = do {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1) or die "bind: $!";
	my $p = $s->sockport;
	close($s);
	$p;
};

# Redelivery must not muddy the count while the daemon is stopped.
my $sb = new_sandbox(args => ['--ack-timeout', '120']);
my $d = new_incidentd($sb, metrics => { listen => "127.0.0.1:$port" });
ok($sb->wait_connected(1, $d), 'connected');

my $http = HTTP::Tiny->new(timeout => 10);
sub counter {
	my ($name) = @_;
	my $r = $http->get("http://127.0.0.1:$port/metrics");
	return undef if !$r->{success};
	return $r->{content} =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}
sub acks { return scalar @{$sb->get('/control/slack/acks')->{acks}} }

# Warm up: one envelope, one batch; the counter exists and moves.
$sb->post('/control/slack/bulk', { channel => 'C0GENERAL', user => 'U0BOB',
    count => 1, prefix => 'warm-up' });
ok(wait_for(sub { acks() == 1 && (counter('incidentd_acks_total') // 0) == 1 },
    'the warm-up ack'), 'warm-up envelope acked');
my $batches = counter('incidentd_ack_batches_total');
is($batches, 1, 'one ack batch for one envelope');

# Six envelopes of about 2 KiB each queue up while the daemon is stopped.
$d->signal('STOP');
my $r = $sb->post('/control/slack/bulk', { channel => 'C0GENERAL',
    user => 'U0BOB', count => 6, prefix => 'x' x 2000 });
ok($r->{ok}, 'six messages sent');
ok(wait_for(sub {
	my $c = $sb->connections;
	return $c->{open} == 1 && !grep { $_->{unsent} } @{$c->{connections}};
}, 'the sandbox handed every frame to the kernel'), 'six envelopes queued');
is(acks(), 1, 'nothing acked while stopped');
$d->signal('CONT');

ok(wait_for(sub { acks() == 7 }, 'six more acks'), 'six acks');
ok(wait_for(sub { (counter('incidentd_acks_total') // 0) == 7 },
    'acks_total 7'), 'the metrics saw the six acks');
is(counter('incidentd_ack_batches_total') - $batches, 1,
    'the six acks went out in one batch');
my $a = $sb->get('/control/slack/acks');
is($a->{unknown}, 0, 'no unknown acks');
is(scalar @{$a->{unacked}}, 0, 'nothing left unacked');

is($d->stop, 0, "clean exit");
done_testing();
