# loadgen.t: the benchmark tools work, so `make bench` cannot rot
# unnoticed. Functional only: gen-store builds a store the daemon starts
# on, loadgen drives it in each mode and every envelope is acked and
# every command answered. Nothing here is timed; the figures belong to
# make bench.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use IncidentTest;

my $build = $ENV{top_builddir} or die 'top_builddir not set';
my ($loadgen, $genstore) = ("$build/bench/loadgen", "$build/bench/gen-store");
-x $loadgen && -x $genstore or BAIL_OUT('bench/loadgen or bench/gen-store not built');
my $tmp = tempdir('incidentd-loadgen-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $timeout = int(60 * $IncidentTest::TIMEOUT_FACTOR);
my $n = 0;

sub json_line {
	my ($what, @cmd) = @_;
	my $out = qx{@cmd 2>>$tmp/stderr};
	is($? >> 8, 0, "$what: exit 0") or diag(IncidentTest::slurp("$tmp/stderr"));
	my @l = grep { /^\{/ } split(/\n/, $out);
	is(scalar @l, 1, "$what: one JSON line");
	return @l ? decode_json($l[0]) : {};
}

# A fresh state directory with a small generated store, then one run.
sub run {
	my ($what, @args) = @_;
	my $dir = "$tmp/run" . ++$n;
	mkdir($dir) && mkdir("$dir/state") or die "$dir: $!";
	my $g = json_line("$what: gen-store", $genstore, "$dir/state", 20, 200, 20);
	is_deeply([ @$g{qw(incidents messages marks)} ], [ 20, 200, 20 ],
	    "$what: gen-store made what it was asked");
	chmod(0700, "$dir/state");
	my $r = json_line($what, $loadgen, '--daemon', $ENV{INCIDENTD},
	    '--dir', $dir, '--channels', 20, '--no-pin', '--timeout', $timeout,
	    '--label', $what, @args);
	ok($r->{complete}, "$what: complete")
	    or diag(IncidentTest::slurp("$dir/incidentd.log"));
	is($r->{unknown_calls}, 0, "$what: no call loadgen has no answer for");
	ok(defined $r->{exec_to_hello_ms}, "$what: exec to hello measured");
	ok(($r->{mem_kb}{heap_anon_stack} // 0) > 0 && defined $r->{mem_kb}{lmdb},
	    "$what: memory split into heap and LMDB pages");
	return $r;
}

my $r = run('ingest', '--mode', 'ingest', '--count', 2000, '--window', 64,
    '--settle', 300);
is($r->{acked}, 2000, 'ingest: every envelope acked');
cmp_ok($r->{settled_after_hello_ms} // 0, '>=', 300,
    'ingest: the load waited for the daemon to settle');
ok(defined $r->{ack_ms}{p99} && $r->{ack_ms}{p99} >= $r->{ack_ms}{p50},
    'ingest: ack latency percentiles');
ok(defined $r->{daemon_cpu_us_per_envelope}{user} &&
    defined $r->{daemon_cpu_us_per_envelope}{system}, 'ingest: CPU split');

$r = run('rate', '--mode', 'ingest', '--count', 300, '--rate', 1000);
is($r->{acked}, 300, 'offered rate: every envelope acked');

for my $c (qw(help mention new-incident page)) {
	$r = run($c, '--mode', 'commands', '--command', $c, '--count', 40,
	    '--concurrency', 8);
	is($r->{commands}, 40, "$c: 40 commands answered");
	ok(defined $r->{reply_ms}{p99}, "$c: reply latency measured");
}

$r = run('idle', '--mode', 'idle');
ok($r->{mem_kb}{heap_anon_stack} > 0, 'idle: heap + stack reported');

# A store the daemon refuses to start on is reported, not hung on.
my $dir = "$tmp/broken";
mkdir($dir) && mkdir("$dir/state") or die;
open(my $fh, '>', "$dir/state/data.mdb") or die;
print $fh 'not an LMDB file' x 1000;
close($fh);
chmod(0700, "$dir/state");
system("$loadgen --daemon $ENV{INCIDENTD} --dir $dir --no-pin --timeout $timeout --mode idle >/dev/null 2>>$tmp/stderr");
isnt($? >> 8, 0, 'a daemon that cannot start: loadgen fails');

done_testing();
