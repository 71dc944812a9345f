# IncidentTest.pm: start the sandbox and the real daemon, poll, assert.
#
# Every test gets its own temp dir, its own sandbox on ephemeral loopback
# ports and its own state dir. Synchronisation is by polling with a
# deadline (wait_for), never by sleeping for a fixed time.
package IncidentTest;

use strict;
use warnings;

use Exporter 'import';
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 ();
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(time sleep);

our @EXPORT = qw(new_sandbox new_incidentd wait_for write_yaml slurp
    manifest_variant test_ca $BOT_TOKEN $APP_TOKEN $USER_TOKEN);
# On request: several tests have a post_text of their own.
our @EXPORT_OK = qw(post_text);

our $BOT_TOKEN = 'xoxb-sandbox-bot-token';
our $APP_TOKEN = 'xapp-sandbox-app-token';
# The sandbox workspace admin's (alice's) user token.
our $USER_TOKEN = 'xoxp-sandbox-user-token';

my $JSON = JSON::PP->new->canonical->allow_nonref;
my @CHILDREN;

# Slow runs (the daemon under valgrind) scale every deadline by this.
our $TIMEOUT_FACTOR = $ENV{INCIDENTD_TEST_TIMEOUT_FACTOR} // 1;
$TIMEOUT_FACTOR = 1 unless $TIMEOUT_FACTOR =~ /^[0-9]+(\.[0-9]+)?$/ &&
    $TIMEOUT_FACTOR >= 1;

# A command put before the daemon's (INCIDENTD_WRAP='valgrind ...'), as
# words; INCIDENTD_TEST_VALGRIND=1 is the same with valgrind's defaults.
my @WRAP = defined $ENV{INCIDENTD_WRAP} ? split(' ', $ENV{INCIDENTD_WRAP}) :
    $ENV{INCIDENTD_TEST_VALGRIND} ? ('valgrind', '--error-exitcode=99',
    '--leak-check=full', '--errors-for-leak-kinds=definite') : ();
my @VG_LOGS;

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	local $/;
	my $s = <$fh>;
	close($fh);
	return $s;
}

# Poll $cond every 20 ms until it returns true or $timeout seconds pass.
sub wait_for {
	my ($cond, $desc, $timeout) = @_;
	$timeout //= 20;
	$timeout *= $TIMEOUT_FACTOR;
	my $deadline = time + $timeout;
	while (time < $deadline) {
		my $v = $cond->();
		return $v if $v;
		sleep(0.02);
	}
	diag("timed out after ${timeout}s waiting for: $desc");
	return;
}

sub yaml_scalar {
	my ($v) = @_;
	return 'null' unless defined $v;
	return $v if $v =~ /^-?[0-9]+$/;
	$v =~ s/(["\\])/\\$1/g;
	$v =~ s/\n/\\n/g;
	return "\"$v\"";
}

sub yaml_emit {
	my ($v, $indent) = @_;
	my $pad = '  ' x $indent;
	my $out = '';
	if (ref $v eq 'HASH') {
		for my $k (sort keys %$v) {
			my $x = $v->{$k};
			if (ref $x eq 'HASH' && %$x) {
				$out .= "$pad$k:\n" . yaml_emit($x, $indent + 1);
			} elsif (ref $x eq 'ARRAY') {
				$out .= "$pad$k: [" .
				    join(', ', map { yaml_scalar($_) } @$x) . "]\n";
			} else {
				$out .= "$pad$k: " . yaml_scalar($x) . "\n";
			}
		}
	}
	return $out;
}

my $MANIFEST_DIR;

# The shipped Slack app manifest changed by $edit (a sub editing $_[0]),
# in a file of its own: a real install of an app set up another way.
sub manifest_variant {
	my ($name, $edit) = @_;
	$MANIFEST_DIR //= tempdir('incidentd-manifest-XXXXXX', TMPDIR => 1,
	    CLEANUP => 1);
	my $m = slurp(($ENV{top_srcdir} // '.') .
	    '/conf/slack-app-manifest.yaml');
	$edit->($m);
	my $path = "$MANIFEST_DIR/$name.yaml";
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh $m;
	close($fh);
	return $path;
}

sub write_yaml {
	my ($path, $data) = @_;
	# Private: config.c refuses inline secrets that anyone can read.
	open(my $fh, '>', $path) or die "$path: $!";
	chmod(0600, $path);
	print $fh yaml_emit($data, 0);
	close($fh);
}

sub merge {
	my ($a, $b) = @_;
	for my $k (keys %$b) {
		if (ref $a->{$k} eq 'HASH' && ref $b->{$k} eq 'HASH') {
			merge($a->{$k}, $b->{$k});
		} elsif (defined $b->{$k} && $b->{$k} eq '__delete__') {
			delete $a->{$k};
		} else {
			$a->{$k} = $b->{$k};
		}
	}
	return $a;
}

# The child gets alarm(120) across exec, like memcached's timedrun: a hung
# process dies on its own, and signals reach it directly.
sub spawn {
	my ($out, $err, @cmd) = @_;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $out) or die "$out: $!";
		open(STDERR, '>>', $err) or die "$err: $!";
		alarm(int(120 * $TIMEOUT_FACTOR));
		exec(@cmd) or die "exec $cmd[0]: $!";
	}
	push @CHILDREN, $pid;
	return $pid;
}

END {
	my $st = $?;
	# Anything a failed test left running.
	for my $pid (@CHILDREN) {
		kill('KILL', $pid) if kill(0, $pid);
	}
	# Under valgrind: any error or definite leak it logged fails the
	# test, whatever the daemon's exit status was seen as.
	for my $log (map { glob("$_.*") } @VG_LOGS) {
		my $s = slurp($log);
		my ($n) = $s =~ /ERROR SUMMARY: ([0-9]+) errors/;
		next if !$n && $s !~ /definitely lost: [1-9]/;
		diag("valgrind found errors ($log):\n$s");
		$st = 99 if $st == 0;
	}
	$? = $st;
}

############################################################ the sandbox

package IncidentTest::Sandbox;

use Test::More;
use Time::HiRes qw(time sleep);

sub new {
	my ($class, %opt) = @_;
	my $dir = File::Temp::tempdir('incidentd-t-XXXXXX', TMPDIR => 1,
	    CLEANUP => !$ENV{INCIDENTD_TEST_KEEP});
	my $self = bless { dir => $dir, opt => \%opt,
	    http => HTTP::Tiny->new(timeout => 30 * $TIMEOUT_FACTOR) }, $class;
	my @args = ('--ports-file', "$dir/ports");
	# The app as installed: the shipped manifest unless the test brings
	# its own (manifest => FILE; '' for none: every scope granted).
	my $manifest = $opt{manifest} //
	    ($ENV{top_srcdir} // '.') . '/conf/slack-app-manifest.yaml';
	push @args, '--manifest', $manifest if $manifest ne '';
	push @args, @{$opt{args}} if $opt{args};
	my $sandbox = $ENV{SANDBOX} or die "SANDBOX is not set";
	$self->{pid} = IncidentTest::spawn("$dir/sandbox.out",
	    "$dir/sandbox.log", $sandbox, @args);
	my $ports = IncidentTest::wait_for(sub {
		return if !-f "$dir/ports";
		my $p = eval { $JSON->decode(IncidentTest::slurp("$dir/ports")) };
		return $p;
	}, "sandbox ports file", 15) or BAIL_OUT("sandbox did not start: " .
	    IncidentTest::slurp("$dir/sandbox.log"));
	$self->{ports} = $ports;
	return $self;
}

sub dir { $_[0]{dir} }
sub port { $_[0]{ports}{$_[1]} }

sub url {
	my ($self, $service, $path) = @_;
	my $scheme = $self->{opt}{tls} ? 'https' : 'http';
	my $host = $self->{opt}{host} // '127.0.0.1';
	return "$scheme://$host:$self->{ports}{$service}" . ($path // '');
}

sub request {
	my ($self, $method, $path, $data) = @_;
	my $url = "http://127.0.0.1:$self->{ports}{control}$path";
	my %o;
	if (defined $data) {
		$o{content} = $JSON->encode($data);
		$o{headers} = { 'Content-Type' => 'application/json' };
	}
	my $r = $self->{http}->request($method, $url, \%o);
	die "sandbox $method $path: $r->{status} $r->{content}"
	    if $r->{status} == 599;
	my $body = eval { $JSON->decode($r->{content}) };
	return wantarray ? ($r->{status}, $body) : $body;
}

sub get { my ($s, $p) = @_; return scalar $s->request('GET', $p) }
sub post { my ($s, $p, $d) = @_; return scalar $s->request('POST', $p, $d // {}) }

# Every request a fake recorded, optionally only those whose path matches.
sub requests {
	my ($self, $service, $match) = @_;
	return $self->requests_since($service, 0, $match);
}

# The requests recorded after sequence number $since (a "next").
sub requests_since {
	my ($self, $service, $since, $match) = @_;
	my $r = $self->get("/control/requests?service=$service&since=$since");
	my @all = @{$r->{requests} // []};
	@all = grep { $_->{path} =~ $match } @all if defined $match;
	return @all;
}

# A Slack Web API call as a form, with the bot token or -token => T;
# returns (status, body, headers).
sub slack_api {
	my ($self, $method, %form) = @_;
	my $token = delete $form{-token} // $IncidentTest::BOT_TOKEN;
	my $r = $self->{http}->post_form($self->url('slack', "/api/$method"),
	    \%form, { headers => { Authorization => "Bearer $token" } });
	return ($r->{status}, eval { $JSON->decode($r->{content}) },
	    $r->{headers});
}

# A Jira REST call with the sandbox's credentials for its flavour (a
# Data Center one when args hold "datacenter"), with a JSON body if
# given; returns (status, body).
# The ticket creates the sandbox Jira received (POST issue).
sub jira_creates {
	my ($self) = @_;
	return grep { $_->{method} eq 'POST' }
	    $self->requests('jira', qr{^/rest/api/2/issue$});
}

# The sandbox Jira's tickets with this summary.
sub jira_tickets {
	my ($self, $summary) = @_;
	my $r = $self->post('/control/jira/issues', {});
	return grep { $_->{summary} eq $summary } @{$r->{issues} // []};
}

sub jira_api {
	my ($self, $method, $path, $body) = @_;
	my $dc = grep { $_ eq 'datacenter' } @{$self->{opt}{args} // []};
	my %h = (Accept => 'application/json', Authorization => $dc ?
	    'Bearer jira-sandbox-token' : 'Basic ' . MIME::Base64::encode_base64(
	    'bot@example.com:jira-sandbox-token', ''));
	my %o = (headers => \%h);
	if (defined $body) {
		$o{content} = $JSON->encode($body);
		$h{'Content-Type'} = 'application/json';
	}
	my $r = $self->{http}->request($method, $self->url('jira', $path), \%o);
	return ($r->{status}, eval { $JSON->decode($r->{content}) });
}

sub connections { return $_[0]->get('/control/slack/connections') }

sub wait_connected {
	my ($self, $n, $daemon) = @_;
	$n //= 1;
	return IncidentTest::wait_for(sub {
		$daemon->check_alive if $daemon;
		my $c = $self->connections;
		return $c && ($c->{hello_sent} // 0) >= $n;
	}, "$n Socket Mode connection(s)", 30);
}

# Inject a message as a user; returns the sandbox's answer (ts, ids).
sub message {
	my ($self, %m) = @_;
	$m{user} //= 'U0ALICE';
	$m{channel} //= 'C0GENERAL';
	return $self->post('/control/slack/message', \%m);
}

sub messages {
	my ($self, $channel) = @_;
	my $r = $self->get("/control/slack/messages?channel=$channel");
	return @{$r->{messages} // []};
}

# Bot posts to a channel, in order.
sub bot_posts {
	my ($self, $channel) = @_;
	return grep { ($_->{user} // '') eq 'U0BOT' } $self->messages($channel);
}

# The bot's posts in channel whose text (post_text) matches re.
sub posts_like {
	my ($self, $channel, $re) = @_;
	return grep { IncidentTest::post_text($_) =~ $re }
	    $self->bot_posts($channel);
}

# Wait until the bot has posted at least n messages in channel.
# A Jira incident and its channel, made as a responder would (new channel
# KEY in C0GENERAL); returns (key, channel id) once the channel has the
# bot's first post, or () on time-out.
sub incident_channel {
	my ($self, $d, $summary) = @_;
	my $key = $self->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', summary => $summary })->{key};
	my %old = map { $_->{ts} => 1 } $self->bot_posts('C0GENERAL');
	$self->message(text => "<\@U0BOT> new channel $key");
	my $cid;
	IncidentTest::wait_for(sub {
		for my $p ($self->bot_posts('C0GENERAL')) {
			next if $old{$p->{ts}};
			($cid) = ($p->{text} // '') =~ /Created <#(C\w+)>/;
			return 1 if $cid;
		}
		return 0;
	}, "channel for $key") or return ();
	$self->wait_bot_posts($cid, 1, $d);
	return ($key, $cid);
}

sub wait_bot_posts {
	my ($self, $channel, $n, $daemon, $timeout) = @_;
	my @p;
	IncidentTest::wait_for(sub {
		$daemon->check_alive if $daemon;
		@p = $self->bot_posts($channel);
		return @p >= $n;
	}, "$n bot post(s) in $channel", $timeout);
	return @p;
}

sub fault { my ($s, %f) = @_; return $s->post('/control/fault', \%f) }

sub stop {
	my ($self) = @_;
	local $?;
	return if !$self->{pid};
	kill('TERM', $self->{pid});
	waitpid($self->{pid}, 0);
	my $st = $?;
	delete $self->{pid};
	return $st;
}

sub DESTROY { $_[0]->stop }

############################################################ the daemon

package IncidentTest::Daemon;

use Test::More;
use POSIX qw(:sys_wait_h);
use Time::HiRes qw(time sleep);

sub base_config {
	my ($sb) = @_;
	return {
		state_dir => $sb->dir . '/state',
		log_level => 'debug',
		# Tests type fast; t/access.t checks the per-user budget.
		access => { commands_per_minute => 1000 },
		slack => {
			api_url => $sb->url('slack', '/api'),
			app_token => $IncidentTest::APP_TOKEN,
			bot_token => $IncidentTest::BOT_TOKEN,
			incident_managers => ['U0CAROL'],
		},
		jira => {
			url => $sb->url('jira'),
			email => 'bot@example.com',
			api_token => 'jira-sandbox-token',
			project => 'INC',
		},
		pagerduty => {
			api_url => $sb->url('pagerduty'),
			api_token => 'pd-sandbox-token',
			from => 'alice@example.com',
			incident_manager_service => 'PSVCIM',
		},
	};
}

# new_incidentd($sb, %conf): _name => 'b' gives a second daemon its own
# b.yaml and b.log (a standby on the same state_dir, say); _drop => [keys]
# leaves top-level keys out (for an older release's binary).
sub new {
	my ($class, $sb, %conf) = @_;
	my $dir = $sb->dir;
	my $name = delete $conf{_name} // 'incidentd';
	my $drop = delete $conf{_drop} // [];
	my $self = bless { sb => $sb, conf => "$dir/$name.yaml",
	    log => "$dir/$name.log" }, $class;
	$self->{config} = IncidentTest::merge(base_config($sb), \%conf);
	delete $self->{config}{$_} for @$drop;	# top-level keys
	IncidentTest::write_yaml($self->{conf}, $self->{config});
	$self->start;
	return $self;
}

sub start {
	my ($self) = @_;
	my @cmd = ($ENV{INCIDENTD} // die("INCIDENTD is not set"),
	    '-c', $self->{conf});
	if (@WRAP) {
		# Valgrind's report in a file of its own per process, read at
		# the end (END above); other wrappers get no such option.
		my $vg = "$self->{log}.vg";
		push @VG_LOGS, $vg;
		@cmd = (@WRAP, ($WRAP[0] =~ m{(^|/)valgrind$} ?
		    ("--log-file=$vg.%p") : ()), @cmd);
	}
	$self->{pid} = IncidentTest::spawn("$self->{log}.out", $self->{log},
	    @cmd);
	IncidentTest::wait_for(sub {
		$self->check_alive;
		return $self->log =~ /starting/;
	}, 'daemon start', 15);
	return $self;
}

sub log { return IncidentTest::slurp($_[0]{log}) }
sub conf_path { $_[0]{conf} }
sub pid { $_[0]{pid} }

sub loggrep {
	my ($self, $re, $timeout) = @_;
	return IncidentTest::wait_for(sub {
		$self->check_alive;
		return $self->log =~ $re;
	}, "log line matching $re", $timeout // 20);
}

sub check_alive {
	my ($self) = @_;
	return 1 if !$self->{pid};
	my $r = waitpid($self->{pid}, WNOHANG);
	if ($r == $self->{pid}) {
		my $st = $?;
		delete $self->{pid};
		BAIL_OUT("incidentd exited unexpectedly (status $st):\n" .
		    $self->log);
	}
	return 1;
}

sub rewrite_config {
	my ($self, %conf) = @_;
	IncidentTest::merge($self->{config}, \%conf);
	IncidentTest::write_yaml($self->{conf}, $self->{config});
}

sub signal { kill($_[1], $_[0]{pid}) }

# SIGTERM and wait; returns the exit status.
sub stop {
	my ($self) = @_;
	local $?;
	return 0 if !$self->{pid};
	kill('TERM', $self->{pid});
	waitpid($self->{pid}, 0);
	my $st = $?;
	delete $self->{pid};
	return $st;
}

sub kill9 {
	my ($self) = @_;
	local $?;
	kill('KILL', $self->{pid});
	waitpid($self->{pid}, 0);
	delete $self->{pid};
}

sub DESTROY {
	my ($self) = @_;
	return if !$self->{pid};
	my $st = $self->stop;
	diag("incidentd exited with status $st at teardown") if $st != 0;
}

package IncidentTest;

# A private CA in $dir/$ca.pem and, for each [name, subjectAltName], a
# server certificate $dir/name.pem (key name.key) signed by it.
sub test_ca {
	my ($dir, $ca, @certs) = @_;
	my $openssl = sub {
		my @cmd = ('openssl', @_);
		system(join(' ', map { "'$_'" } @cmd) . " >/dev/null 2>&1") == 0
		    or BAIL_OUT("openssl @_ failed");
	};
	$openssl->('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days',
	    '2', '-subj', "/CN=incidentd test CA $ca", '-keyout',
	    "$dir/$ca.key", '-out', "$dir/$ca.pem");
	for my $cert (@certs) {
		my ($name, $san) = @$cert;
		$openssl->('req', '-newkey', 'rsa:2048', '-nodes', '-subj',
		    "/CN=$name", '-keyout', "$dir/$name.key", '-out',
		    "$dir/$name.csr");
		open(my $fh, '>', "$dir/$name.ext") or die "$dir/$name.ext: $!";
		print $fh "subjectAltName=$san\n";
		close($fh);
		$openssl->('x509', '-req', '-in', "$dir/$name.csr", '-CA',
		    "$dir/$ca.pem", '-CAkey', "$dir/$ca.key", '-CAcreateserial',
		    '-days', '2', '-extfile', "$dir/$name.ext", '-out',
		    "$dir/$name.pem");
	}
}

# A loopback port nobody listens on now (bound to port 0, then closed),
# for a listener the daemon opens; IncidentTest::free_port().
sub free_port {
	require IO::Socket::INET;
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
	    LocalPort => 0, Proto => 'tcp', Listen => 1) or die "bind: $!";
	my $port = $s->sockport;
	close($s);
	return $port;
}

# A post's text and its blocks' texts, a line each.
sub post_text {
	my ($p) = @_;
	return join("\n", $p->{text} // '', map { $_->{text}{text} // '' }
	    @{$p->{blocks} // []});
}

sub new_sandbox { return IncidentTest::Sandbox->new(@_) }
sub new_incidentd { return IncidentTest::Daemon->new(@_) }

1;
