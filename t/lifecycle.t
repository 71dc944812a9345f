#!/usr/bin/env perl
# lifecycle.t: after the incident, driven by the Jira poller (follow.c):
# AAR notices (set, changed, unchanged over many polls, an owner Slack
# does not know), corrective-action reminders (due soon, overdue, moved,
# done, without the label), a stop across a due time, and Jira down for
# several polls. Durations are seconds: poll_interval 1s.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IncidentTest;
use POSIX qw(strftime);
use Test::More;
use Time::HiRes qw(time);

my $sb = new_sandbox();
my %conf = (
	jira => { aar_field => 'customfield_10054' },
	schedule => { poll_interval => '1s', archive_after => '10d',
	    followup_warn_before => '2d' },
);
my $d = new_incidentd($sb, %conf);
ok($sb->wait_connected(1, $d), 'connected');

sub jira { my ($op, $b) = @_; return $sb->post("/control/jira/$op", $b) }
sub polls { return scalar $sb->requests('jira', qr{/search}) }
# Wait until the poller has searched n more times (each sees the change).
sub wait_polls {
	my ($n) = @_;
	my $want = polls() + $n;
	return wait_for(sub { $d->check_alive; polls() >= $want },
	    "$n poll(s)", 30);
}
sub dms { my ($u) = @_; return grep { ($_->{text} // '') =~ $_[1] }
    $sb->bot_posts($u) }
sub day { return strftime('%Y-%m-%d', gmtime(time + $_[0] * 86400)) }

sub incident {
	my (%o) = @_;
	my $r = jira('issue', { summary => $o{summary} // 'Checkout down',
	    project => 'INC', issuetype => 'Incident',
	    assignee => $o{assignee} // 'alice@example.com' });
	ok($r->{ok}, "ticket $r->{key}") or diag(explain($r));
	return $r->{key};
}

sub channel_for {
	my ($key) = @_;
	my $before = () = $sb->bot_posts('C0GENERAL');
	$sb->message(text => "<\@U0BOT> new channel $key");
	my $ch;
	wait_for(sub {
		for ($sb->bot_posts('C0GENERAL')) {
			$ch = $1 if ($_->{text} // '') =~
			    /Created <#(C\w+)> for \Q$key\E/;
		}
		return $ch;
	}, "channel for $key", 30);
	return $ch;
}

############################################################ AAR

my $inc = incident(summary => 'Checkout down');
my $chan = channel_for($inc);
ok($chan, "channel $chan");

my $aar = strftime('%Y-%m-%dT15:00:00.000+0000', gmtime(time + 3 * 86400));
jira('edit', { key => $inc, fields => { customfield_10054 => $aar } });
my @n;
wait_for(sub { @n = dms('D0ALICE', qr/After-action review/) }, 'AAR DM');
is(scalar @n, 1, 'one AAR notice to the assignee');
like($n[0]{text}, qr/\Q$inc\E.*Checkout down/s, 'names the ticket');
like($n[0]{text}, qr/16:00 CET|15:00 GMT|15:00 UTC|your time/,
    'meeting time in the owner\'s zone');
like($n[0]{text}, qr/<#\Q$chan\E>/, 'links the incident channel');
like($n[0]{text}, qr/get timeline/, 'says what to bring');
like($n[0]{text}, qr/Type `postmortem` in the incident channel/,
    'and how to draft the postmortem');

wait_polls(4);
is(scalar(dms('D0ALICE', qr/After-action review/)), 1,
    'unchanged over four more polls: still one notice');

my $aar2 = strftime('%Y-%m-%dT09:30:00.000+0000', gmtime(time + 4 * 86400));
jira('edit', { key => $inc, fields => { customfield_10054 => $aar2 } });
wait_for(sub { dms('D0ALICE', qr/After-action review/) >= 2 },
    'a changed date: a new notice');
wait_polls(3);
is(scalar(dms('D0ALICE', qr/After-action review/)), 2,
    'the changed date is told once');

# An owner whose email Jira hides and who is not mapped: the channel.
my $inc2 = incident(summary => 'Search slow', assignee => 'carol@example.com');
my $chan2 = channel_for($inc2);
jira('edit', { key => $inc2, fields => { customfield_10054 => $aar } });
my @c;
wait_for(sub { @c = grep { ($_->{text} // '') =~ /After-action review/ }
    $sb->bot_posts($chan2) }, 'reported in the incident channel');
like($c[0]{text}, qr/could not find .* in Slack/, 'says why') if @c;

############################################################ follow-ups

sub action {
	my (%o) = @_;
	my $r = jira('issue', { summary => $o{summary}, project => 'OPS',
	    issuetype => 'Task', assignee => 'bob@example.com',
	    labels => $o{labels} // ['corrective-action'],
	    (defined $o{due} ? (duedate => $o{due}) : ()) });
	ok($r->{ok}, "action $r->{key}") or diag(explain($r));
	jira('link', { from => $r->{key}, to => $o{incident} // $inc,
	    type => 'Relates' }) unless $o{unlinked};
	return $r->{key};
}
sub bob { return grep { ($_->{text} // '') =~ /\Q$_[0]\E/ }
    $sb->bot_posts('D0BOB') }

my $soon = action(summary => 'Add checkout alert', due => day(1));
my $late = action(summary => 'Fix retry storm', due => day(-2));
my $nolabel = action(summary => 'Unrelated chore', due => day(1),
    labels => ['chore']);
my $done = action(summary => 'Already fixed', due => day(1));
jira('transition', { key => $done, status => 'Done' });

wait_for(sub { bob($soon) && bob($late) }, 'reminders');
my ($w) = bob($soon);
like($w->{text}, qr/is due on \*\Q@{[day(1)]}\E\*/, 'warning names the due date');
like($w->{text}, qr/Add checkout alert.*\Q$inc\E.*Checkout down/s,
    'and the incident it came from');
my ($o) = bob($late);
like($o->{text}, qr/was due on .*not done yet/, 'overdue message');
wait_polls(3);
is(scalar(bob($soon)), 1, 'one warning per due date');
is(scalar(bob($late)), 1, 'one overdue message per due date');
is(scalar(bob($nolabel)), 0, 'no label: no reminder');
is(scalar(bob($done)), 0, 'done: no reminder');

# Moved: a new date, new reminders.
jira('edit', { key => $soon, duedate => day(-1) });
wait_for(sub { grep { $_->{text} =~ /not done yet/ } bob($soon) },
    'moved into the past: overdue now');
wait_polls(2);
is(scalar(bob($soon)), 2, 'the moved date got its own reminder');

############################################################ downtime

# Stopped before a due time, started after it: sent once, at start.
$d->stop;
my $gap = action(summary => 'Rotate keys', due => day(-1));
$d->start;
wait_for(sub { bob($gap) }, 'reminder after the restart');
wait_polls(3);
is(scalar(bob($gap)), 1, 'sent once');

# Jira down for several polls, then back: nothing missed.
$sb->fault(service => 'jira', match => '/search', status => 503,
    count => 5);
my $during = action(summary => 'Document failover', due => day(-1));
wait_for(sub { bob($during) }, 'the change made while Jira was down', 60);
wait_polls(2);
is(scalar(bob($during)), 1, 'told once after Jira came back');
like($d->log, qr/jira poll: .*503/, 'the outage is logged');

$d->check_alive;
done_testing();
