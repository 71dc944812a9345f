#!/usr/bin/env perl
# tour.pl: the scripted demo tour (make demo-tour, t/demo.sh --tour).
#
# t/demo.sh starts the sandbox console on a pipe and the daemon, then runs
# this with its temp dir. Each step types a line into the console (or does
# what a person would do in Jira or PagerDuty, through the sandbox's
# control API) and then waits, with a deadline, for the console to print
# the reply the step expects: synchronised on what a user would see, never
# on time. The console's output is copied to stdout as it comes, so the
# tour prints the conversation as a user reads it. Exits 1 if any step's
# reply did not come; the last line is "tour: N steps, N answered".
use strict;
use warnings;
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(strftime);
use Time::HiRes qw(time sleep);

my $dir = shift // die "usage: tour.pl DEMO_DIR\n";
my $STEP_TIMEOUT = $ENV{TOUR_STEP_TIMEOUT} // 60;
my $json = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(timeout => 10);
$| = 1;

open(my $in, '>', "$dir/console.in") or die "$dir/console.in: $!";
$in->autoflush(1);
my %port = (slurp("$dir/ports") =~ /"(\w+)":(\d+)/g);
my ($seen, $mark) = ('', 0);	# all console output; where a step began

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	local $/;
	return scalar <$fh>;
}

# Copy what the console printed since last time; return all of it.
sub pump {
	my $all = slurp("$dir/console.out");
	print substr($all, length($seen)) if length($all) > length($seen);
	$seen = $all;
	return $seen;
}

# Wait until the console's output since the step began matches $re.
sub wait_for_reply {
	my ($re, $timeout) = @_;
	my $deadline = time + ($timeout // $STEP_TIMEOUT);
	while (time < $deadline) {
		return 1 if substr(pump(), $mark) =~ $re;
		sleep(0.05);
	}
	return 0;
}

sub control {
	my ($method, $path, $body) = @_;
	my $r = $http->request($method,
	    "http://127.0.0.1:$port{control}/control/$path",
	    { headers => { 'Content-Type' => 'application/json' },
	      content => $json->encode($body // {}) });
	return eval { $json->decode($r->{content}) } // {};
}

# The number the console gave the last element or message matching $re.
sub last_number {
	my ($re) = @_;
	my ($n, $all) = (undef, pump());
	$n = $1 while $all =~ /$re/g;
	return $n;
}

sub type { my ($line) = @_; print "alice> $line\n"; print $in "$line\n" }

my ($steps, $answered, $key) = (0, 0, 'INC-1');
my @failed;

# One step: what to do, what the reply looks like.
my @marks;
sub step {
	my ($what, $do, $expect, $timeout, $since) = @_;
	$steps++;
	pump();
	$mark = length($seen);
	push @marks, $mark;
	# A reply that may come during later steps counts from its cause.
	$mark = $marks[$since - 1] if defined $since;
	print "\n### $steps. $what\n";
	$do->();
	if (wait_for_reply($expect, $timeout)) {
		$answered++;
	} else {
		push @failed, $what;
		print "### no reply matching $expect within ",
		    $timeout // $STEP_TIMEOUT, " s\n";
	}
}

sub say_ { my ($l) = @_; return sub { type($l) } }
sub click {
	my ($label) = @_;
	return sub {
		my $n = last_number(qr/\[(\d+)\] \Q$label\E/);
		type(defined $n ? "/click $n" : "/click 0 ($label not shown)");
	};
}
sub react {
	my ($text, $emoji) = @_;
	return sub {
		my $n = last_number(qr/\Q$text\E[^\n]*\(message (\d+)\)/);
		type("/react " . ($n // 0) . " $emoji");
	};
}

step('Declare an incident', say_('new incident Checkout is down'),
    qr/Page the incident manager/);
step('Page the incident manager: the form', click('Page incident manager'),
    qr/== form/);
step('Send it as it is (every field is optional)', say_('/submit'),
    qr/paged/i);
step('Open the incident channel', say_("new channel $key"),
    qr/#inc-inc-1/);
step('Move to it', say_('/in #inc-inc-1'), qr/now talking in #inc-inc-1/);
step('List the paging shortcuts', say_('page list'), qr/\bdb\b.*\n(?s:.*)\bnetwork\b/);
step('Page the database on-call', say_('page db'), qr/\[\d+\] Page now/);
step('Confirm', click('Page now'), qr/paged/i);
step('bob joins and says what he sees', sub {
	type('/as bob');
	type('/join');
	type('/say DB primary is out of disk, failing over');
}, qr/bob: DB primary is out of disk/);
step('Tag it for the timeline', react('DB primary is out of disk', 'memo'),
    qr/reacts :memo:/);
step('Get the timeline', say_('get timeline'),
    qr/\(dm bob\).*(?s:.*)DB primary is out of disk/);
step('Status', say_('status'), qr/Status of $key/);
step('PagerDuty: bob acknowledges', sub {
	my $r = control('POST', 'pagerduty/incidents');
	for my $i (@{$r->{incidents} // []}) {
		$r = control('POST', 'pagerduty/ack', { id => $i->{id},
		    user => 'bob@example.com' });
		print "(sandbox: $r->{error})\n" if $r->{error};
	}
	print "(in PagerDuty, bob acknowledges)\n";
}, qr/acknowledged by \@bob/);
step('Jira: the AAR meeting is set', sub {
	my $when = strftime('%Y-%m-%dT%H:%M:%S.000+0000',
	    gmtime(time + 2 * 86400));
	control('POST', 'jira/edit', { key => $key,
	    fields => { customfield_10054 => $when } });
	print "(in Jira, the AAR meeting is set for two days from now)\n";
}, qr/After-action review for $key/);
my $closed = $steps + 1;
step('Jira: the ticket is closed', sub {
	control('POST', 'jira/transition', { key => $key, status => 'Done' });
	print "(in Jira, $key moves to Done)\n";
}, qr/will be\s+archived/);
step('Draft the postmortem', say_('postmortem'), qr/Write to Jira/);
step('Write it to Jira', click('Write to Jira'), qr/postmortem/i);
step('Metrics', say_('metrics'), qr/Incident metrics/);
step('The channel is archived (archive_after: 20s)', sub { },
    qr/incidentbot archived the channel/, undef, $closed);

print "\ntour: $steps steps, $answered answered\n";
print "tour: no reply to: $_\n" for @failed;
close($in);
exit(@failed ? 1 : 0);
