#!/usr/bin/env perl
# metrics-cmd.t: "metrics [7d|30d|90d]" over a seeded event log with known
# answers. The history (three incidents, 40, 10 and 5 days ago) is
# written into STORE_EVLOG with t/store-edit, the documented test path:
# records as evlog.c writes them, keyed <incident>/<type>[/<id>]. The
# answers are checked exactly, again after a restart, and `dump` shows
# the log. A live "new channel" appends its own entry.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IncidentTest;
use Test::More;
use JSON::PP;

my $edit = ($ENV{top_builddir} // '.') . '/t/store-edit';
my $sb = new_sandbox();
my $d = new_incidentd($sb, metrics => { manual_minutes => { page => 10 } });
ok($sb->wait_connected(1, $d), 'connected');
my $state = $d->{config}{state_dir};

my $T = time;
my $D = 86400;
sub ev {
	my ($inc, $type, $t, %detail) = @_;
	my $key = "$inc/$type" . (defined $detail{id} ? "/$detail{id}" : '');
	my $rec = encode_json({ incident => $inc, type => $type, time => $t,
	    detail => \%detail });
	system($edit, $state, 'put', 'evlog', $key, $rec) == 0
	    or die "store-edit put $key failed";
}
sub tg { return [ map { { name => $_->[0], kind => 'service',
    state => $_->[1] } } @_ ] }

# INC-101: 10 days ago; closed a day later, AAR two days after that.
my $t1 = $T - 10 * $D;
ev('INC-101', 'declared', $t1, by => 'U0ALICE');
ev('INC-101', 'page', $t1 + 60, id => 'p1', im => JSON::PP::true,
    targets => tg(['the incident manager', 'done'], ['payments', 'done']));
ev('INC-101', 'im_paged', $t1 + 120, page => 'p1');
ev('INC-101', 'first_ack', $t1 + 180);
ev('INC-101', 'channel_opened', $t1 + 300, channel => 'C101');
ev('INC-101', 'ticket_closed', $t1 + $D, id => '1');
ev('INC-101', 'aar_held', $t1 + 3 * $D, id => '1');
ev('INC-101', 'timeline_sent', $t1 + $D, id => 'tok1');
ev('INC-101', 'reminder_sent', $T - 8 * $D, id => 'tok2');
ev('INC-101', 'channel_archived', $T - 8 * $D, id => '1');
ev('INC-101', 'action_closed', $T - 8 * $D, id => 'OPS-1',
    on_time => JSON::PP::true);
ev('INC-101', 'action_closed', $T - 6 * $D, id => 'OPS-2',
    on_time => JSON::PP::false);
# INC-102: 5 days ago; payments could not be paged; no AAR.
my $t2 = $T - 5 * $D;
ev('INC-102', 'declared', $t2);
ev('INC-102', 'page', $t2 + 30, id => 'p2', im => JSON::PP::true,
    targets => tg(['the incident manager', 'done'], ['payments', 'failed']));
ev('INC-102', 'im_paged', $t2 + 60, page => 'p2');
ev('INC-102', 'channel_opened', $t2 + 600, channel => 'C102');
ev('INC-102', 'ticket_closed', $t2 + $D, id => '1');
# INC-103: 40 days ago; its AAR 19 days after the close (too late).
my $t3 = $T - 40 * $D;
ev('INC-103', 'declared', $t3);
ev('INC-103', 'page', $t3 + 30, id => 'p3', im => JSON::PP::true,
    targets => tg(['the incident manager', 'done']));
ev('INC-103', 'im_paged', $t3 + 600, page => 'p3');
ev('INC-103', 'channel_opened', $t3 + 60, channel => 'C103');
ev('INC-103', 'ticket_closed', $t3 + $D, id => '1');
ev('INC-103', 'aar_held', $t3 + 20 * $D, id => '1');
ev('INC-103', 'action_closed', $T - 35 * $D, id => 'OPS-3',
    on_time => JSON::PP::true);

my $n = 0;
sub ask {
	my ($args) = @_;
	my $before = () = $sb->bot_posts('C0GENERAL');
	$sb->message(text => "<\@U0BOT> metrics$args");
	my @p;
	wait_for(sub { @p = $sb->bot_posts('C0GENERAL'); @p > $before },
	    "metrics$args", 20);
	return $p[-1]{text} // '';
}

my %want = (
    '' => [
	qr/last 30 days/,
	qr/Incidents declared: 2\n/,
	qr/Pages: 2, 3 targets paged \(the incident manager 2 and payments 1\)/,
	qr/1 target could not be paged/,
	qr/Declared → incident manager paged: median 1m, p90 2m \(2 incidents\)/,
	qr/Declared → channel: median 5m, p90 10m \(2 incidents\)/,
	qr/Declared → first acknowledgement: median 3m, p90 3m \(1 incident\)/,
	qr/Declared → ticket closed: median 1d, p90 1d \(2 incidents\)/,
	qr/AARs held within 7d of the close: 1 of 2 closed incidents/,
	qr/Corrective actions closed on time: 1 of 2/,
	# 2x5 + 2x3 + 3x10 (configured) + 20 + 2 + 1
	qr/Time saved \(estimate\): 69 min \(1h 09m\): incidents declared 2 × 5 min, channels opened 2 × 3 min, targets paged 3 × 10 min, timelines sent 1 × 20 min, reminders sent 1 × 2 min and channels archived 1 × 1 min/,
    ],
    ' 90d' => [
	qr/last 90 days/,
	qr/Incidents declared: 3\n/,
	qr/Pages: 3, 4 targets paged \(the incident manager 3 and payments 1\)/,
	qr/incident manager paged: median 2m, p90 10m \(3 incidents\)/,
	qr/Declared → channel: median 5m, p90 10m \(3 incidents\)/,
	qr/AARs held within 7d of the close: 1 of 3 closed incidents/,
	qr/Corrective actions closed on time: 2 of 3/,
	qr/Time saved \(estimate\): 87 min \(1h 27m\)/,	# 3x5 + 3x3 + 4x10 + 20 + 2 + 1
    ],
    ' 7d' => [
	qr/last 7 days/,
	qr/Incidents declared: 1\n/,
	qr/Pages: 1, 1 target paged \(the incident manager 1\)/,
	qr/incident manager paged: median 1m, p90 1m \(1 incident\)/,
	qr/first acknowledgement: no data/,
	qr/AARs held within 7d of the close: 0 of 1 closed incident\b/,
	qr/Corrective actions closed on time: 0 of 1/,
    ],
);

sub check_all {
	my ($when) = @_;
	for my $w ('', ' 90d', ' 7d') {
		my $text = ask($w);
		for my $re (@{$want{$w}}) {
			like($text, $re, "metrics$w ($when): $re");
		}
	}
}
check_all('running');

like(ask(' 2y'), qr/Usage: `metrics \[7d\|30d\|90d\]`/,
    'a window out of range: usage');

is($d->stop, 0, 'stopped cleanly');
my $dump = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
my $j = decode_json($dump);
my $ev = $j->{databases}{evlog};
ok($ev && $ev->{'INC-101/declared'}, 'dump shows the event log');
is($ev->{'INC-102/ticket_closed/1'}{time}, $t2 + $D, 'with its times');
$d->start;
ok($sb->wait_connected(2, $d), 'restarted');
check_all('after a restart');

# A live entry: the channel of a new incident.
my $r = $sb->post('/control/jira/issue', { summary => 'Live one',
    project => 'INC', issuetype => 'Incident' });
$sb->message(text => "<\@U0BOT> new channel $r->{key}");
ok(wait_for(sub { grep { ($_->{text} // '') =~ /Created <#C\w+> for/ }
    $sb->bot_posts('C0GENERAL') }, 'channel', 30), 'a channel is set up');
like(ask(''), qr/Declared → channel: median 5m, p90 10m \(2 incidents\)/,
    'a channel without a declaration changes no delay');
like(ask(''), qr/channels opened 3 × 3 min/, 'but counts as time saved');

is($d->stop, 0, 'clean exit');
done_testing();
