# metrics.t: the Prometheus endpoint. GET /metrics is read with a strict
# parser of the text format 0.0.4 and its counters must move with what
# the daemon did; /healthz follows the Socket Mode connection; other
# methods and paths are refused; SIGHUP moves the listener.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use IncidentTest;

# A port nobody listens on now: bind port 0, note it, close.
sub free_port {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1) or die "bind: $!";
	my $port = $s->sockport;
	close($s);
	return $port;
}

# Unescape a label value or HELP text (\\, \" and \n only).
sub unescape {
	my ($s) = @_;
	$s =~ s/\\(["\\n])/$1 eq 'n' ? "\n" : $1/ge;
	return $s;
}

# {name="v",...} (without braces) into a hash; dies on bad syntax.
sub parse_labels {
	my ($s, $where) = @_;
	my %l;
	return \%l if !defined $s;
	while (1) {
		$s =~ s/^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"//
		    or die "$where: bad label syntax at '$s'\n";
		die "$where: label $1 twice\n" if exists $l{$1};
		$l{$1} = unescape($2);
		last if $s eq '';
		$s =~ s/^,(?=.)// or die "$where: expected a comma at '$s'\n";
	}
	return \%l;
}

my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $VALUE = qr/[-+]?(?:[0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|Inf|NaN)/;

sub le_value { return $_[0] eq '+Inf' ? 9**9**9 : $_[0] }

# Each series of a histogram: buckets ascending by le, cumulative, the
# last +Inf and equal to _count; _sum and _count present.
sub check_histogram {
	my ($f, $samples) = @_;
	my %by;
	for my $s (@$samples) {
		my %l = %{$s->{labels}};
		my $le = delete $l{le};
		my $key = join(',', map { "$_=$l{$_}" } sort keys %l);
		if ($s->{name} eq "${f}_bucket") {
			die "$f: a bucket without le\n" if !defined $le;
			die "$f: bad le '$le'\n" if $le !~ /^$VALUE$/;
			push @{$by{$key}{buckets}}, [$le, $s->{value}];
		} elsif ($s->{name} eq "${f}_sum" || $s->{name} eq "${f}_count") {
			die "$f: le on $s->{name}\n" if defined $le;
			my $k = $s->{name} =~ /_sum$/ ? 'sum' : 'count';
			die "$f: two $s->{name} for {$key}\n" if exists $by{$key}{$k};
			$by{$key}{$k} = $s->{value};
		} else {
			die "$f: sample $s->{name} in a histogram\n";
		}
	}
	for my $key (sort keys %by) {
		my $b = $by{$key}{buckets} // die "$f {$key}: no buckets\n";
		die "$f {$key}: no _sum\n" if !defined $by{$key}{sum};
		die "$f {$key}: no _count\n" if !defined $by{$key}{count};
		die "$f {$key}: last bucket is not +Inf\n" if $b->[-1][0] ne '+Inf';
		for my $i (1 .. $#$b) {
			die "$f {$key}: le not ascending\n"
			    if le_value($b->[$i][0]) <= le_value($b->[$i - 1][0]);
			die "$f {$key}: buckets not cumulative\n"
			    if $b->[$i][1] < $b->[$i - 1][1];
		}
		die "$f {$key}: +Inf bucket ($b->[-1][1]) is not _count " .
		    "($by{$key}{count})\n" if $b->[-1][1] != $by{$key}{count};
	}
}

# The text format 0.0.4, strictly: every line a comment, HELP or TYPE
# line, or a sample; HELP and TYPE at most once and before the family's
# samples; a family's samples together; label syntax and escapes.
# Returns { family => { type, help, samples => [{name, labels, value}] } }.
sub parse_metrics {
	my ($text) = @_;
	die "empty\n" if $text eq '';
	die "no newline at the end\n" if $text !~ /\n\z/;
	die "an empty line at the end\n" if $text =~ /\n\n\z/;
	my (%fam, %closed, $current);
	my $n = 0;
	for my $line (split /\n/, $text) {
		$n++;
		my $where = "line $n";
		die "$where: empty line\n" if $line eq '';
		if ($line =~ /^# HELP ($NAME) (.*)$/) {
			die "$where: second HELP for $1\n" if defined $fam{$1}{help};
			die "$where: HELP after samples of $1\n" if $fam{$1}{samples};
			my ($f, $h) = ($1, $2);
			die "$where: bad escape in HELP\n"
			    if $h !~ /^(?:[^\\]|\\[\\n])*$/;
			$fam{$f}{help} = unescape($h);
			next;
		}
		if ($line =~ /^# TYPE ($NAME) (counter|gauge|histogram|summary|untyped)$/) {
			die "$where: second TYPE for $1\n" if defined $fam{$1}{type};
			die "$where: TYPE after samples of $1\n" if $fam{$1}{samples};
			$fam{$1}{type} = $2;
			next;
		}
		die "$where: malformed $1 line\n" if $line =~ /^#\s*(HELP|TYPE)\b/;
		next if $line =~ /^#/;
		$line =~ /^($NAME)(?:\{(.*)\})? ($VALUE)(?: -?[0-9]+)?$/ or
		    die "$where: not a sample: $line\n";
		my ($name, $labels, $value) = ($1, parse_labels($2, $where), $3);
		my $f = $name;
		(my $base = $name) =~ s/_(bucket|sum|count)$//;
		$f = $base if !$fam{$name} && $fam{$base} &&
		    ($fam{$base}{type} // '') eq 'histogram';
		die "$where: $name before its TYPE line\n"
		    if !$fam{$f} || !defined $fam{$f}{type};
		die "$where: ${f}'s samples are not together\n"
		    if $closed{$f} && ($current // '') ne $f;
		$closed{$current} = 1 if defined $current && $current ne $f;
		$current = $f;
		$value = 9**9**9 if $value eq '+Inf';
		push @{$fam{$f}{samples}}, { name => $name, labels => $labels,
		    value => $value };
	}
	for my $f (sort keys %fam) {
		die "$f: no TYPE line\n" if !defined $fam{$f}{type};
		check_histogram($f, $fam{$f}{samples} // [])
		    if $fam{$f}{type} eq 'histogram';
	}
	return \%fam;
}

# The value of the sample name{labels} (a hash of exactly those), or undef.
sub sample {
	my ($fam, $name, %want) = @_;
	(my $f = $name) =~ s/_(bucket|sum|count)$//;
	$f = $name if !$fam->{$f} || $fam->{$f}{type} ne 'histogram';
	for my $s (@{($fam->{$f} // {})->{samples} // []}) {
		next if $s->{name} ne $name;
		my $l = $s->{labels};
		next if keys %$l != keys %want;
		next if grep { !defined $l->{$_} || $l->{$_} ne $want{$_} } keys %want;
		return $s->{value};
	}
	return undef;
}

# The parser itself: it must refuse what Prometheus would.
my $H = "# TYPE h histogram\n";
my %bad = (
	'a sample before its TYPE' => "x 1\n# TYPE x counter\n",
	'a TYPE after samples' => "# TYPE x gauge\nx 1\n# TYPE x gauge\n",
	'a family split in two' => "# TYPE x gauge\n# TYPE y gauge\nx{a=\"1\"} 1\n" .
	    "y 1\nx{a=\"2\"} 1\n",
	'a bad HELP escape' => "# HELP x tab \\t\n# TYPE x gauge\n",
	'a bad label escape' => "# TYPE x gauge\nx{a=\"\\t\"} 1\n",
	'an unquoted label value' => "# TYPE x gauge\nx{a=1} 1\n",
	'a trailing comma' => "# TYPE x gauge\nx{a=\"1\",} 1\n",
	'a bad value' => "# TYPE x gauge\nx one\n",
	'no final newline' => "# TYPE x gauge\nx 1",
	'buckets not cumulative' => $H . "h_bucket{le=\"1\"} 2\n" .
	    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
	'+Inf other than _count' => $H . "h_bucket{le=\"1\"} 1\n" .
	    "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n",
	'no +Inf bucket' => $H . "h_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
	'no _count' => $H . "h_bucket{le=\"+Inf\"} 1\nh_sum 1\n",
);
for my $what (sort keys %bad) {
	ok(!eval { parse_metrics($bad{$what}) }, "the parser refuses $what");
}
ok(eval { parse_metrics($H . "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\n" .
    "h_sum 3\nh_count 2\n# a comment\n# HELP x \\\\ and \\n\n# TYPE x gauge\n" .
    "x{a=\"q\\\"}\\\\\\n\",b=\"\"} -1.5e3\n") }, 'and takes what is right')
    or diag($@);

my $port = free_port();
my $sb = new_sandbox();
my $d = new_incidentd($sb, metrics => { listen => "127.0.0.1:$port" });
ok($d->loggrep(qr{metrics: serving /metrics and /healthz on 127\.0\.0\.1:$port}),
    'the listener is announced');
ok($sb->wait_connected(1, $d), 'daemon connected over Socket Mode');

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
sub call {
	my ($method, $path, %o) = @_;
	$d->check_alive;
	return $http->request($method, "http://127.0.0.1:" . ($o{port} // $port) .
	    $path, $o{headers} ? { headers => $o{headers} } : {});
}
sub scrape {
	my $r = call('GET', '/metrics');
	die "GET /metrics: $r->{status}\n" if $r->{status} != 200;
	return parse_metrics($r->{content});
}
sub healthz { my $r = call('GET', '/healthz', @_); return "$r->{status} $r->{content}" }

ok(wait_for(sub { healthz() eq "200 ok\n" }, '/healthz 200'),
    '/healthz: 200 ok while connected');

# Two commands, answered.
$sb->message(text => '<@U0BOT> help');
$sb->wait_bot_posts('C0GENERAL', 1, $d);
$sb->message(channel => 'D0ALICE', text => 'help');
$sb->wait_bot_posts('D0ALICE', 1, $d);

my $r = call('GET', '/metrics');
is($r->{status}, 200, 'GET /metrics: 200');
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4; charset=utf-8',
    'the text format 0.0.4');
my $m = eval { parse_metrics($r->{content}) };
ok($m, 'the exposition parses strictly') or diag($@ . $r->{content});
$m //= {};
for my $f (sort keys %$m) {
	like($f, qr/^incidentd_/, "$f: named incidentd_*");
	ok(defined $m->{$f}{help} && defined $m->{$f}{type}, "$f: HELP and TYPE");
	like($f, qr/_total$/, "$f: a counter ends in _total")
	    if $m->{$f}{type} eq 'counter';
}
for my $f (qw(incidentd_envelopes_total incidentd_acks_total
    incidentd_ack_seconds incidentd_api_calls_total
    incidentd_api_call_seconds incidentd_commands_total incidentd_jobs_queued
    incidentd_jobs_running incidentd_jobs_ended_total incidentd_store_bytes
    incidentd_store_commits_total incidentd_socket_connected
    incidentd_jira_last_poll_success_timestamp_seconds
    incidentd_start_time_seconds incidentd_build_info)) {
	ok($m->{$f}, "$f exposed");
}
is($m->{incidentd_ack_seconds}{type}, 'histogram', 'ack seconds: a histogram');
is($m->{incidentd_jobs_queued}{type}, 'gauge', 'jobs queued: a gauge');

# The counters moved with what happened. Acks go out after the commit,
# the answers a turn later, so poll for them.
ok(wait_for(sub {
	$m = scrape();
	return (sample($m, 'incidentd_acks_total') // 0) >= 2;
}, 'two acks counted'), 'acks counted');
cmp_ok(sample($m, 'incidentd_envelopes_total', type => 'events_api') // 0,
    '>=', 2, 'events_api envelopes counted');
is(sample($m, 'incidentd_envelopes_total', type => 'hello'), 1,
    'one hello');
is(sample($m, 'incidentd_commands_total', command => 'help'), 2,
    'two help commands');
is(sample($m, 'incidentd_commands_total', command => 'page'), 0,
    'a command not used shows 0');
my $slack_ok = sample($m, 'incidentd_api_calls_total', service => 'slack',
    status => '2xx') // 0;
cmp_ok($slack_ok, '>=', 4,
    'Slack calls: auth.test, apps.connections.open, two answers');
my $slack_all = 0;
for my $s (@{$m->{incidentd_api_calls_total}{samples}}) {
	$slack_all += $s->{value} if $s->{labels}{service} eq 'slack';
}
is(sample($m, 'incidentd_api_call_seconds_count', service => 'slack'),
    $slack_all, 'every Slack call timed');
is(sample($m, 'incidentd_ack_seconds_count'),
    sample($m, 'incidentd_acks_total'), 'every ack timed');
is(sample($m, 'incidentd_socket_connected'), 1, 'connected');
cmp_ok(sample($m, 'incidentd_store_commits_total') // 0, '>', 0,
    'store commits');
my ($used, $map, $max) = map { sample($m, 'incidentd_store_bytes', kind => $_) }
    qw(used map max);
ok(defined $used && $used > 0 && $used <= $map && $map <= $max,
    'store bytes: 0 < used <= map <= max');
cmp_ok(abs(time - (sample($m, 'incidentd_start_time_seconds') // 0)), '<',
    300, 'start time is now-ish');
# The Jira poller runs at start-up: its success is stamped.
my $polled;
ok(wait_for(sub { $polled = sample(scrape(),
    'incidentd_jira_last_poll_success_timestamp_seconds') }, 'a Jira poll'),
    'the first Jira poll is stamped');
cmp_ok(abs(time - ($polled // 0)), '<', 300, 'at a now-ish time');
my ($build) = @{$m->{incidentd_build_info}{samples} // [{}]};
like($build->{labels}{version} // '', qr/^\S+$/, 'build info has a version');
is($build->{value}, 1, 'build info is 1');

# HEAD: the headers, no body. Query strings are ignored.
$r = call('HEAD', '/metrics');
is($r->{status}, 200, 'HEAD /metrics: 200');
is($r->{content} // '', '', 'HEAD: no body');
cmp_ok($r->{headers}{'content-length'} // 0, '>', 100, 'HEAD: the length');
is(call('GET', '/metrics?x=1')->{status}, 200, 'a query string is ignored');

# Anything else.
$r = call('POST', '/metrics');
is($r->{status}, 405, 'POST /metrics: 405');
is($r->{headers}{allow}, 'GET, HEAD', '405 says what is allowed');
is(call('PUT', '/healthz')->{status}, 405, 'PUT /healthz: 405');
is(call('DELETE', '/metrics')->{status}, 405, 'DELETE /metrics: 405');
is(call('GET', '/')->{status}, 404, 'GET /: 404');
is(call('GET', '/metrics/x')->{status}, 404, 'GET /metrics/x: 404');
is(call('POST', '/nope')->{status}, 404, 'POST /nope: 404');
$r = call('GET', '/metrics', headers => { 'X-Big' => 'x' x 20000 });
ok($r->{status} == 413 || $r->{status} == 400 || $r->{status} == 599,
    "an oversized request is refused ($r->{status})");
is(healthz(), "200 ok\n", 'and the endpoint still answers');

# The socket drops and reconnecting is slow: 503 with the reason, then
# 200 again once the new connection has said hello.
$sb->fault(service => 'slack', match => 'apps.connections.open', status => 0,
    delay_ms => 3000, count => 1);
$sb->post('/control/slack/drop');
ok(wait_for(sub { healthz() eq "503 socket mode is not connected\n" },
    '/healthz 503'), '/healthz: 503 with a reason while disconnected');
is(sample(scrape(), 'incidentd_socket_connected'), 0, 'socket_connected 0');
ok(wait_for(sub { healthz() eq "200 ok\n" }, '/healthz 200 again', 30),
    '/healthz: 200 after the reconnect');
$m = scrape();
is(sample($m, 'incidentd_envelopes_total', type => 'hello'), 2,
    'the second hello counted');
is(sample($m, 'incidentd_socket_connected'), 1, 'socket_connected 1');

# SIGHUP: a new address is bound and the old one let go.
my $port2 = free_port();
$d->rewrite_config(metrics => { listen => "127.0.0.1:$port2" });
$d->signal('HUP');
ok($d->loggrep(qr{serving /metrics and /healthz on 127\.0\.0\.1:$port2}),
    'reload: the new address');
is(healthz(port => $port2), "200 ok\n", 'reload: served on the new port');
ok(wait_for(sub { call('GET', '/healthz')->{status} == 599 },
    'old port closed'), 'reload: the old port is closed');

# A public address needs listen_public: the reload is refused at its line.
$d->rewrite_config(metrics => { listen => "0.0.0.0:$port" });
$d->signal('HUP');
ok($d->loggrep(qr{incidentd\.yaml:\d+: metrics\.listen: 0\.0\.0\.0:$port is not a loopback address; set metrics\.listen_public: true}),
    'a public address without listen_public: FILE:LINE error');
ok($d->loggrep(qr/reload rejected/), 'reload rejected');
is(healthz(port => $port2), "200 ok\n", 'still served where it was');

# Without metrics.listen the listener goes away.
$d->rewrite_config(metrics => '__delete__');
$d->signal('HUP');
ok($d->loggrep(qr{metrics: no longer listening on 127\.0\.0\.1:$port2}),
    'reload without metrics.listen');
ok(wait_for(sub { call('GET', '/healthz', port => $port2)->{status} == 599 },
    'listener closed'), 'nothing listens any more');

is($d->stop, 0, 'SIGTERM: clean exit 0');
done_testing();
