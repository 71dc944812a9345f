# proxy.t: egress through an HTTP CONNECT proxy (the sandbox's own).
# The sandbox speaks plain http, which goes through the same CONNECT
# tunnel as https would; TLS inside the tunnel is what tls.t tests.
use strict;
use warnings;
use Test::More;
use MIME::Base64 ();
use IncidentTest;

my $PASSWORD = 'pr0xy-Secret-77';

sub targets {
	my ($sb) = @_;
	my $r = $sb->get('/control/proxy/requests');
	return @{$r->{requests} // []};
}

sub help_answered {
	my ($sb, $d, $n, $what) = @_;
	$sb->message(text => '<@U0BOT> help');
	my @p = $sb->wait_bot_posts('C0GENERAL', $n, $d);
	is(scalar @p, $n, "help answered $what");
}

sub proxy_url {
	my ($sb, $user) = @_;
	return 'http://' . (defined $user ? "$user\@" : '') .
	    '127.0.0.1:' . $sb->port('proxy');
}

sub tunnelled {
	my ($sb, $service) = @_;
	my $want = '127.0.0.1:' . $sb->port($service);
	return grep { $_->{target} eq $want && $_->{status} == 200 }
	    targets($sb);
}

# proxy.url: every call goes through the tunnel.
{
	my $sb = new_sandbox();
	my $d = new_incidentd($sb, proxy => { url => proxy_url($sb) });
	ok($sb->wait_connected(1, $d), 'Socket Mode connected via proxy.url');
	help_answered($sb, $d, 1, 'through the proxy');
	ok(scalar tunnelled($sb, 'slack'), 'Web API host:port tunnelled');
	ok(scalar tunnelled($sb, 'socket'), 'WebSocket host:port tunnelled');
	my @bad = grep { $_->{status} != 200 } targets($sb);
	is(scalar @bad, 0, 'every CONNECT accepted');
	ok($d->log =~ /proxy: connecting through 127\.0\.0\.1:\d+ \(from proxy\.url\)/,
	    'the proxy in use is logged');
	is($d->stop, 0, 'clean exit');
}

# https_proxy from the environment, credentials in its URL.
{
	my $sb = new_sandbox();
	$sb->post('/control/proxy/auth', { user => 'bot',
	    password => $PASSWORD });
	local $ENV{https_proxy} = 'http://bot:' . $PASSWORD . '@127.0.0.1:' .
	    $sb->port('proxy');
	my $d = new_incidentd($sb);
	ok($sb->wait_connected(1, $d), 'Socket Mode connected via https_proxy');
	help_answered($sb, $d, 1, 'through https_proxy');
	ok(scalar tunnelled($sb, 'socket'), 'WebSocket tunnelled (env)');
	my @anon = grep { !$_->{auth} } targets($sb);
	is(scalar @anon, 0, 'every CONNECT carried credentials');
	is($d->stop, 0, 'clean exit');
	unlike($d->log, qr/\Q$PASSWORD\E/, 'password from the env not logged');
}

# no_proxy (the config key and the environment) bypasses it.
{
	my $sb = new_sandbox();
	my $d = new_incidentd($sb, proxy => { url => proxy_url($sb),
	    no_proxy => 'example.com, 127.0.0.1' });
	ok($sb->wait_connected(1, $d), 'connected with proxy.no_proxy');
	help_answered($sb, $d, 1, 'bypassing the proxy');
	is(scalar targets($sb), 0, 'nothing went through the proxy');
	is($d->stop, 0, 'clean exit');
}
{
	my $sb = new_sandbox();
	local $ENV{https_proxy} = proxy_url($sb);
	local $ENV{NO_PROXY} = '.example.org,127.0.0.1:' . $sb->port('slack') .
	    ',127.0.0.1:' . $sb->port('socket');
	my $d = new_incidentd($sb);
	ok($sb->wait_connected(1, $d), 'connected with NO_PROXY host:port');
	is(scalar(tunnelled($sb, 'slack')) + scalar(tunnelled($sb, 'socket')),
	    0, 'the listed host:ports bypassed the proxy');
	is($d->stop, 0, 'clean exit');
}

# 407: a clear error without credentials; then the password file.
{
	my $sb = new_sandbox();
	$sb->post('/control/proxy/auth', { user => 'bot',
	    password => $PASSWORD });
	my $d = new_incidentd($sb, proxy => { url => proxy_url($sb, 'bot') });
	ok($d->loggrep(qr/proxy 127\.0\.0\.1:\d+: 407 Proxy Authentication Required for CONNECT 127\.0\.0\.1:\d+ \(no password configured: set proxy\.password_file\)/),
	    '407 logged, naming the proxy');
	is($d->stop, 0, 'clean exit');

	my $pwfile = $sb->dir . '/proxy-password';
	open(my $fh, '>', $pwfile) or die "$pwfile: $!";
	chmod(0600, $pwfile);
	print $fh "$PASSWORD\n";
	close($fh);
	$d->rewrite_config(proxy => { url => proxy_url($sb, 'bot'),
	    password_file => $pwfile });
	$d->start;
	ok($sb->wait_connected(1, $d), 'connected with proxy.password_file');
	help_answered($sb, $d, 1, 'with proxy credentials');
	my @ok = grep { $_->{status} == 200 } targets($sb);
	ok(@ok && !grep({ ($_->{user} // '') ne 'bot' } @ok),
	    'tunnels opened as user bot');

	my $out = `$ENV{INCIDENTD} -c @{[$d->conf_path]} check-config 2>&1`;
	like($out, qr/configuration OK/, 'check-config accepts the keys');
	unlike($out, qr/\Q$PASSWORD\E/, 'check-config shows no password');
	is($d->stop, 0, 'clean exit');
	my $b64 = MIME::Base64::encode_base64("bot:$PASSWORD", '');
	unlike($d->log, qr/\Q$PASSWORD\E|\Q$b64\E/,
	    'neither the password nor the Basic token reached the log');
}

# A proxy that drops connections: calls fail and retry, then recover.
{
	my $sb = new_sandbox();
	my $d = new_incidentd($sb, proxy => { url => proxy_url($sb) });
	ok($sb->wait_connected(1, $d), 'connected');
	help_answered($sb, $d, 1, 'before the proxy fails');
	$sb->post('/control/proxy/mode', { mode => 'drop' });
	ok($d->loggrep(qr/proxy 127\.0\.0\.1:\d+: connection closed before the answer to CONNECT/),
	    'dropped CONNECT logged');
	ok($d->loggrep(qr/reconnecting in \d+ ms|retrying in \d+ ms/),
	    'the failure is retried');
	$sb->post('/control/proxy/mode', { mode => 'refuse' });
	ok($d->loggrep(qr/CONNECT 127\.0\.0\.1:\d+: HTTP 403/, 30),
	    'a 403 is a transient failure too');
	$sb->post('/control/proxy/mode', { mode => 'ok' });
	ok($sb->wait_connected(2, $d), 'reconnected once the proxy works');
	help_answered($sb, $d, 2, 'after the proxy recovered');
	is($d->stop, 0, 'clean exit');
}

# A reload that changes the proxy: idle keep-alive connections dialled
# the old way are not reused. Direct, then through the proxy, then direct.
{
	my $sb = new_sandbox();
	my $d = new_incidentd($sb);
	ok($sb->wait_connected(1, $d), 'connected directly');
	help_answered($sb, $d, 1, 'directly: a Web API connection now idles');
	is(scalar targets($sb), 0, 'nothing through the proxy yet');

	$d->rewrite_config(proxy => { url => proxy_url($sb) });
	$d->signal('HUP');
	ok($d->loggrep(qr/configuration reloaded/), 'proxy.url reloaded');
	ok($d->loggrep(qr/closing connection: the proxy setting changed/),
	    'the idle direct connection is closed');
	help_answered($sb, $d, 2, 'after the reload');
	is(scalar tunnelled($sb, 'slack'), 1,
	    'the Web API call took the new route');

	my $before = scalar targets($sb);
	delete $d->{config}{proxy};
	$d->rewrite_config();
	$d->signal('HUP');
	ok($d->loggrep(qr/proxy: none, connecting directly/),
	    'proxy removed by a reload');
	ok(wait_for(sub { my @c = $d->log =~
	    /closing connection: the proxy setting changed/g; @c >= 2 },
	    'second close'), 'the idle tunnelled connection is closed too');
	help_answered($sb, $d, 3, 'after the second reload');
	is(scalar targets($sb), $before, 'and no new tunnel was opened');
	is($d->stop, 0, 'clean exit');
}

# Bad settings are refused with the key's name, never its value.
{
	my $sb = new_sandbox();
	my $conf = $sb->dir . '/bad.yaml';
	my $base = IncidentTest::Daemon::base_config($sb);
	$base->{proxy} = { url => "http://bot:$PASSWORD\@127.0.0.1:1" };
	write_yaml($conf, $base);
	my $out = `$ENV{INCIDENTD} -c $conf check-config 2>&1`;
	like($out, qr/proxy\.url: no password in the URL: use proxy\.password_file/,
	    'a password in proxy.url is refused');
	unlike($out, qr/\Q$PASSWORD\E/, 'and not echoed');
	$base->{proxy} = { url => 'https://127.0.0.1:3128' };
	write_yaml($conf, $base);
	$out = `$ENV{INCIDENTD} -c $conf check-config 2>&1`;
	like($out, qr/proxy\.url: only http:\/\/ proxies/, 'https proxy refused');
	delete $base->{proxy};
	write_yaml($conf, $base);
	{
		local $ENV{https_proxy} = 'http://127.0.0.1';
		$out = `$ENV{INCIDENTD} -c $conf check-config 2>&1`;
		like($out, qr/https_proxy: a port is required/,
		    'a bad https_proxy is reported by check-config');
	}
}
done_testing();
