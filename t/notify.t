# notify.t: the sd_notify messages, read from our own $NOTIFY_SOCKET.
#
# READY=1 comes only after Socket Mode's hello (the first
# apps.connections.open fails, so there is a window where it must not),
# STATUS= says what the daemon waits for, WATCHDOG=1 comes at half of
# WATCHDOG_USEC, SIGHUP brings RELOADING=1 (with MONOTONIC_USEC) then
# READY=1, SIGTERM brings STOPPING=1. Then the same with an abstract
# socket name ('@...').
use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::UNIX;
use Socket qw(SOCK_DGRAM);
use Time::HiRes qw(time);
use IncidentTest;

my $sb = new_sandbox();
my $path = $sb->dir . '/notify';
my $sock = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => $path)
    or BAIL_OUT("bind $path: $!");
my @seen;		# every message, in order

# Read what has arrived, waiting up to $timeout for the first datagram.
sub drain {
	my ($s, $timeout) = @_;
	my $sel = IO::Select->new($s);
	my $n = 0;
	while ($sel->can_read($n++ ? 0 : $timeout)) {
		my $buf;
		defined($s->recv($buf, 4096)) or last;
		push @seen, $buf;
	}
}

# Wait until a message matching $re arrives after index $from; its index.
sub wait_msg {
	my ($s, $re, $from, $desc) = @_;
	my $deadline = time + 30;
	while (1) {
		for my $i ($from .. $#seen) {
			return $i if $seen[$i] =~ $re;
		}
		last if time > $deadline;
		drain($s, 0.2);
	}
	diag("timed out waiting for $desc; got: " . join(' | ', @seen));
	return;
}

$sb->fault(service => 'slack', match => 'apps.connections.open',
    status => 500, count => 1);
local $ENV{NOTIFY_SOCKET} = $path;
local $ENV{WATCHDOG_USEC} = 200000;
my $d = new_incidentd($sb);

# While apps.connections.open fails: waiting, and not ready.
ok(wait_for(sub {
	$d->check_alive;
	return grep { $_->{status} == 500 }
	    $sb->requests('slack', qr{/api/apps\.connections\.open$});
}, 'the failed apps.connections.open'), 'the first connection failed');
drain($sock, 0);
ok(defined wait_msg($sock, qr/^STATUS=waiting for Slack Socket Mode to say hello$/m,
    0, 'STATUS'), 'STATUS says what it waits for');
ok(!grep({ /^READY=1$/m } @seen), 'not ready before the hello');

my $ready = wait_msg($sock, qr/^READY=1$/m, 0, 'READY=1');
ok(defined $ready, 'READY=1');
cmp_ok($sb->connections->{hello_sent} // 0, '>=', 1,
    'READY=1 came after the sandbox sent hello');
like($d->log, qr/socket mode connected/, '... and after the daemon saw it');
like($seen[$ready], qr/^STATUS=connected to Slack \(Socket Mode\)$/m,
    'READY=1 with a STATUS');
is(scalar(grep { /^READY=1$/m } @seen), 1, 'READY=1 once');

# WATCHDOG_USEC=200000: pings every 100 ms from the loop.
ok(wait_for(sub { drain($sock, 0.1); grep({ /^WATCHDOG=1$/m } @seen) >= 5 },
    'five watchdog pings'), 'WATCHDOG=1 pings');

# SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1.
my $mark = @seen;
$d->signal('HUP');
my $rl = wait_msg($sock, qr/^RELOADING=1$/m, $mark, 'RELOADING=1');
ok(defined $rl, 'RELOADING=1 on SIGHUP');
like($seen[$rl // 0], qr/^MONOTONIC_USEC=\d+$/m, '... with MONOTONIC_USEC');
ok(defined wait_msg($sock, qr/^READY=1$/m, ($rl // 0) + 1, 'READY=1'),
    'READY=1 after the reload');
ok($d->loggrep(qr/configuration reloaded/), 'the reload happened');

# SIGTERM: STOPPING=1, exit 0.
$mark = @seen;
is($d->stop, 0, 'exit 0 on SIGTERM');
drain($sock, 1);
ok(defined wait_msg($sock, qr/^STOPPING=1$/m, $mark, 'STOPPING=1'),
    'STOPPING=1 on SIGTERM');

# An abstract socket name, and no watchdog without WATCHDOG_USEC.
my $name = "incidentd-notify-$$-" . int(rand(1e9));
my $abs = IO::Socket::UNIX->new(Type => SOCK_DGRAM, Local => "\0$name")
    or BAIL_OUT("bind \@$name: $!");
$ENV{NOTIFY_SOCKET} = "\@$name";
delete $ENV{WATCHDOG_USEC};
@seen = ();
$d = new_incidentd($sb);
ok(defined wait_msg($abs, qr/^READY=1$/m, 0, 'READY=1 (abstract)'),
    'READY=1 on an abstract socket');
is($d->stop, 0, 'exit 0');
drain($abs, 1);
ok(!grep({ /WATCHDOG/ } @seen), 'no watchdog pings without WATCHDOG_USEC');

done_testing();
