# page-fanout.pl: one page command with 300 shortcut targets, confirmed
# once, against the sandbox. Reports the time from the Confirm click to
# the last PagerDuty incident created and to the report in the channel,
# over several runs (a fresh sandbox each).
#
# Environment: BENCH_TARGETS (300), BENCH_RUNS (5); BENCH_PD_DELAY_MS:
# every PagerDuty answer that late (0); BENCH_PD_RATELIMIT: requests per
# minute and key, "lifted" (default, 1,000,000) or a number (PagerDuty's
# own is 960; every answer carries the ratelimit-* headers either way);
# BENCH_KILL=1: SIGKILL the daemon once a tenth of the targets are
# created, restart it, and time exec to the last target and the report
# (the recovery benchmark); BENCH_JSON=FILE: append one JSON line there.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use IncidentTest;

my $N = $ENV{BENCH_TARGETS} // 300;
my $runs = $ENV{BENCH_RUNS} // 5;
my $delay = $ENV{BENCH_PD_DELAY_MS} // 0;
my $limit = $ENV{BENCH_PD_RATELIMIT} // 'lifted';
my $kill = $ENV{BENCH_KILL} // 0;
my (@created, @reported, @resumed, @firsts);

sub created {
	my ($sb) = @_;
	return grep { $_->{method} eq 'POST' && $_->{status} == 201 }
	    $sb->requests('pagerduty', qr{^/incidents$});
}

for my $run (1 .. $runs) {
	my $sb = new_sandbox();
	$sb->post('/control/pagerduty/ratelimit', { per_minute =>
	    $limit eq 'lifted' ? 1000000 : $limit });
	my $file = $sb->dir . '/shortcuts.yaml';
	open(my $fh, '>', $file) or die;
	for my $i (1 .. $N) {
		my $id = sprintf('PB%05d', $i);
		$sb->post('/control/pagerduty/service', { name => "Team $i",
		    id => $id, oncall => 'bob@example.com' });
		printf $fh "b%03d: {service: %s, description: \"Team %d\"}\n",
		    $i, $id, $i;
	}
	close($fh);
	my $d = new_incidentd($sb, log_level => 'info',
	    pagerduty => { shortcuts_file => $file },
	    slack => { incident_managers => ['U0ALICE'] });
	$sb->wait_connected(1, $d);
	$sb->message(text => '<@U0BOT> page ' .
	    join(' ', map { sprintf('b%03d', $_) } 1 .. $N));
	my $prompt;
	wait_for(sub { ($prompt) = grep { ($_->{text} // '') =~ /^Page \d+ target/ }
	    $sb->bot_posts('C0GENERAL'); $prompt }, 'prompt', 120);
	$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
	    delay_ms => $delay, count => 1000000) if $delay > 0;
	$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
	    delay_ms => 50, count => 1000000) if $kill && $delay == 0;
	my $t0 = time;
	$sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => 'C0GENERAL', message_ts => $prompt->{ts},
	    action_id => 'page_confirm' });
	if ($kill) {
		wait_for(sub { created($sb) >= $N / 10 }, 'a tenth created', 120);
		$d->kill9;
		$sb->post('/control/faults/clear', {}) if $delay == 0;
		my $seen = length($d->log);
		$t0 = time;
		$d->start;
		wait_for(sub { substr($d->log, $seen) =~ /starting/ },
		    'restarted', 30);
		push @resumed, substr($d->log, $seen) =~
		    /jobs: (\d+) unfinished job/ ? $1 : 0;
	}
	my @c;
	wait_for(sub { @c = created($sb); @c >= $N }, 'all created', 300);
	my ($last, $first) = (0, 9e9);
	for (@c) {
		$last = $_->{time} if $_->{time} > $last;
		$first = $_->{time} if $_->{time} >= $t0 && $_->{time} < $first;
	}
	push @firsts, $first - $t0;
	my $report;
	wait_for(sub { ($report) = grep { join(' ', $_->{text} // '',
	    map { $_->{text}{text} // '' } @{$_->{blocks} // []}) =~
	    /$N of $N\* target/ }
	    $sb->bot_posts('C0GENERAL'); $report }, 'report', 300);
	my $rep = time;
	# The report's own request, on the sandbox's clock (the wait above
	# polls, and its reads compete with the daemon for the sandbox).
	my ($post) = sort { $a->{time} <=> $b->{time} } grep {
	    $_->{time} >= $last && ($_->{body} // '') =~ /$N of $N/ }
	    $sb->requests('slack',
	    qr{^/api/chat\.(?:postMessage|update)$});
	$rep = $post->{time} if $post;
	diag("run $run: the report's request is not in the sandbox's record; "
	    . 'the time it was seen stands in') if !$post;
	cmp_ok(scalar @c, '>=', $N, "run $run: $N PagerDuty incidents");
	push @created, $last - $t0;
	push @reported, $rep - $t0;
	diag(sprintf('run %d: last create %.2f s, report posted %.2f s after %s',
	    $run, $last - $t0, $rep - $t0, $kill ? 'the restart' : 'Confirm'));
	is($d->stop, 0, "run $run: clean exit");
	$sb->stop;
}
my @a = sort { $a <=> $b } @created;
my @b = sort { $a <=> $b } @reported;
my @f = sort { $a <=> $b } @firsts;
diag(sprintf('%d targets, %d runs: last create median %.2f s (max %.2f s); '
    . 'report median %.2f s (max %.2f s)', $N, $runs, $a[int(@a / 2)], $a[-1],
    $b[int(@b / 2)], $b[-1]));
if (my $out = $ENV{BENCH_JSON}) {
	open(my $fh, '>>', $out) or die "$out: $!";
	printf $fh '{"targets":%d,"runs":%d,"pd_delay_ms":%d,"ratelimit":"%s",'
	    . '"after_sigkill":%s,"from":"%s","last_create_s":{"median":%.3f,'
	    . '"max":%.3f},"report_s":{"median":%.3f,"max":%.3f},'
	    . '"report_after_last_create_s":%.3f,"first_create_s":%.3f%s}'
	    . "\n", $N, $runs, $delay,
	    $limit, $kill ? 'true' : 'false', $kill ? 'restart' : 'confirm',
	    $a[int(@a / 2)], $a[-1], $b[int(@b / 2)], $b[-1],
	    $b[int(@b / 2)] - $a[int(@a / 2)], $f[int(@f / 2)],
	    $kill ? ',"jobs_resumed":[' . join(',', @resumed) . ']' : '';
	close($fh);
}
done_testing();
