# page-fanout.pl: one page command with 300 shortcut targets, confirmed
# once, against the sandbox without a rate limit. Reports the time from
# the Confirm click to the last PagerDuty incident created and to the
# report in the channel, over several runs (a fresh sandbox each).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use IncidentTest;

my $N = $ENV{BENCH_TARGETS} // 300;
my $runs = $ENV{BENCH_RUNS} // 5;
my (@created, @reported);

for my $run (1 .. $runs) {
	my $sb = new_sandbox();
	$sb->post('/control/pagerduty/ratelimit', { per_minute => 100000000 });
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
	my $t0 = time;
	$sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => 'C0GENERAL', message_ts => $prompt->{ts},
	    action_id => 'page_confirm' });
	my @c;
	wait_for(sub { @c = grep { $_->{method} eq 'POST' && $_->{status} == 201 }
	    $sb->requests('pagerduty', qr{^/incidents$}); @c >= $N },
	    'all created', 120);
	my $last = 0;
	$last = $_->{time} > $last ? $_->{time} : $last for @c;
	my $report;
	wait_for(sub { ($report) = grep { join(' ', $_->{text} // '',
	    map { $_->{text}{text} // '' } @{$_->{blocks} // []}) =~
	    /$N of $N\* target/ }
	    $sb->bot_posts('C0GENERAL'); $report }, 'report', 100);
	my $rep = time;
	is(scalar @c, $N, "run $run: $N PagerDuty incidents");
	push @created, $last - $t0;
	push @reported, $rep - $t0;
	diag(sprintf('run %d: last create %.2f s, report seen %.2f s after Confirm',
	    $run, $last - $t0, $rep - $t0));
	$d->stop;
	$sb->stop;
}
my @a = sort { $a <=> $b } @created;
my @b = sort { $a <=> $b } @reported;
diag(sprintf('%d targets, %d runs: last create median %.2f s (max %.2f s); '
    . 'report median %.2f s (max %.2f s)', $N, $runs, $a[int(@a / 2)], $a[-1],
    $b[int(@b / 2)], $b[-1]));
done_testing();
