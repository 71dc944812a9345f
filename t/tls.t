# tls.t: certificates are verified; a name mismatch is refused clearly;
# through a proxy too.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $tmp = File::Temp::tempdir('incidentd-tls-XXXXXX', TMPDIR => 1,
    CLEANUP => 1);

# A private CA and two server certificates signed by it.
test_ca($tmp, 'ca', ['good', 'DNS:localhost,IP:127.0.0.1'],
    ['wrong', 'DNS:wrong.example']);

{
	my $sb = new_sandbox(tls => 1, host => 'localhost',
	    args => ['--tls-cert', "$tmp/good.pem", '--tls-key', "$tmp/good.key"]);
	my $d = new_incidentd($sb, tls => { ca_file => "$tmp/ca.pem" });
	ok($sb->wait_connected(1, $d), 'https + wss with a trusted certificate');
	$sb->message(text => '<@U0BOT> help');
	my @p = $sb->wait_bot_posts('C0GENERAL', 1, $d);
	is(scalar @p, 1, 'help answered over TLS');
	is($d->stop, 0, 'clean exit');
}

{
	# Through a CONNECT proxy: TLS to the real host inside the tunnel.
	my $sb = new_sandbox(tls => 1, host => 'localhost',
	    args => ['--tls-cert', "$tmp/good.pem", '--tls-key', "$tmp/good.key"]);
	my $d = new_incidentd($sb, tls => { ca_file => "$tmp/ca.pem" },
	    proxy => { url => 'http://127.0.0.1:' . $sb->port('proxy') });
	ok($sb->wait_connected(1, $d), 'https + wss through the proxy');
	my $r = $sb->get('/control/proxy/requests');
	my @t = map { $_->{target} } @{$r->{requests}};
	my ($api, $ws) = ($sb->port('slack'), $sb->port('socket'));
	ok(scalar(grep { $_ eq "localhost:$api" } @t) &&
	    scalar(grep { /:$ws$/ } @t),
	    'Web API and WebSocket tunnelled, verified inside') or
	    diag(explain \@t);
	is($d->stop, 0, 'clean exit');
}

{
	my $sb = new_sandbox(tls => 1, host => 'localhost',
	    args => ['--tls-cert', "$tmp/wrong.pem", '--tls-key', "$tmp/wrong.key"]);
	my $d = new_incidentd($sb, tls => { ca_file => "$tmp/ca.pem" });
	ok($d->loggrep(qr/certificate verify failed: hostname mismatch/),
	    'hostname mismatch refused with a clear log line');
	my @calls = $sb->requests('slack');
	is(scalar(grep { $_->{path} =~ /auth\.test/ } @calls), 0,
	    'no request got through the bad certificate');
	is($d->stop, 0, 'clean exit');
}

{
	# The system trust store does not know the private CA.
	my $sb = new_sandbox(tls => 1, host => 'localhost',
	    args => ['--tls-cert', "$tmp/good.pem", '--tls-key', "$tmp/good.key"]);
	my $d = new_incidentd($sb);
	ok($d->loggrep(qr/certificate verify failed: (unable to get local issuer|self.signed)/),
	    'unknown CA refused');
	is($d->stop, 0, 'clean exit');
}
done_testing();
