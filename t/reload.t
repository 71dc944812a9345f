# reload.t: SIGHUP swaps a valid configuration in without dropping the
# Slack connection, and keeps the old one when the new file is bad; a
# reload refused for its proxy setting keeps the old TLS context too
# (nothing is half-applied).
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb, log_level => 'info');
ok($sb->wait_connected(1, $d), 'connected');
my $opened = $sb->connections->{opened_total};

$d->rewrite_config(log_level => 'debug');
$d->signal('HUP');
ok($d->loggrep(qr/configuration reloaded/), 'valid file reloaded');
$sb->message(text => '<@U0BOT> help');
$sb->wait_bot_posts('C0GENERAL', 1, $d);
ok($d->loggrep(qr/debug: /), 'new log level in effect');
is($sb->connections->{opened_total}, $opened, 'Slack connection kept');

open(my $fh, '>>', $d->conf_path) or die;
print $fh "bogus_key: 1\n";
close($fh);
$d->signal('HUP');
ok($d->loggrep(qr/incidentd\.yaml:\d+: .*bogus_key/), 'bad file: FILE:LINE error logged');
ok($d->loggrep(qr/reload rejected/), 'bad file rejected');
$sb->message(text => '<@U0BOT> help');
my @p = $sb->wait_bot_posts('C0GENERAL', 2, $d);
is(scalar @p, 2, 'still answering with the old configuration');
is($sb->connections->{opened_total}, $opened, 'connection still kept');

is($d->stop, 0, 'SIGTERM exits 0');
ok($d->log =~ /shutting down/ && $d->log =~ /stopped/, 'orderly shutdown logged');

# Half a reload. The file is valid, with a new tls.ca_file (a CA that did
# not sign the sandbox) and no proxy.url, so the proxy falls back to a
# https_proxy that is invalid: the reload must be refused whole. Had the
# new TLS context been swapped in before the proxy was checked, the next
# connection would fail verification.
{
	my $tmp = File::Temp::tempdir('incidentd-reload-XXXXXX', TMPDIR => 1,
	    CLEANUP => 1);
	test_ca($tmp, 'ca', ['good', 'DNS:localhost,IP:127.0.0.1']);
	test_ca($tmp, 'other');
	my $sb = new_sandbox(tls => 1, host => 'localhost',
	    args => ['--tls-cert', "$tmp/good.pem", '--tls-key', "$tmp/good.key"]);
	local $ENV{https_proxy} = 'http://127.0.0.1';	# no port: invalid
	my $d = new_incidentd($sb, log_level => 'info',
	    tls => { ca_file => "$tmp/ca.pem" },
	    proxy => { url => 'http://127.0.0.1:' . $sb->port('proxy') });
	ok($sb->wait_connected(1, $d), 'TLS through proxy.url');
	my $tunnels = @{$sb->get('/control/proxy/requests')->{requests}};

	delete $d->{config}{proxy};
	$d->rewrite_config(log_level => 'debug',
	    tls => { ca_file => "$tmp/other.pem" });
	$d->signal('HUP');
	ok($d->loggrep(qr/reload rejected: https_proxy: a port is required.*; keeping the running configuration/),
	    'refused, naming the bad setting') or diag($d->log);
	# A new Socket Mode connection: a new TLS handshake, a new tunnel.
	$sb->post('/control/slack/disconnect', { reason => 'refresh_requested' });
	ok($sb->wait_connected(2, $d), 'reconnected: the old CA still verifies');
	ok(@{$sb->get('/control/proxy/requests')->{requests}} > $tunnels,
	    'through the old proxy');
	$sb->message(text => '<@U0BOT> help');
	is(scalar $sb->wait_bot_posts('C0GENERAL', 1, $d), 1,
	    'and answering');
	unlike($d->log, qr/debug: /, 'the new log level was not applied');
	unlike($d->log, qr/certificate verify failed/, 'no verify failure');
	is($d->stop, 0, 'clean exit');
}
done_testing();
