#!/usr/bin/env perl
# pd-status.t: live PagerDuty status in the incident channel (pd-watch.c).
# A page nobody acknowledges is nudged once, and its "next level" button
# escalates through the job engine; acknowledged, escalated, reassigned,
# a declined responder request and resolved are each posted once, also
# across a restart; get timeline shows them (not with nopd); a ticket
# closed while PagerDuty is open asks (and the click resolves) or, with
# resolve_on_close: auto, resolves.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IncidentTest;
use Test::More;

my $sb = new_sandbox();
my $d = new_incidentd($sb, slack => { incident_managers => ['U0ALICE'] },
    schedule => { poll_interval => '1s', archive_after => '10d' },
    timeline => { history_per_minute => 600 },
    pagerduty => { poll_interval => '1s', ack_timeout => '2s',
    shortcuts => { db => { service => 'PSVCDB', description => 'DB' },
    api => { service => 'PSVCAPI', description => 'API' } } });
ok($sb->wait_connected(1, $d), 'connected');

sub jira { my ($op, $b) = @_; return $sb->post("/control/jira/$op", $b) }
sub pd { my ($op, $b) = @_; return $sb->post("/control/pagerduty/$op", $b) }
sub post_text { my ($p) = @_;
    return join("\n", $p->{text} // '', map { $_->{text}{text} // '' }
        @{$p->{blocks} // []}) }
sub posts_like { my ($ch, $re) = @_;
    return grep { post_text($_) =~ $re } $sb->bot_posts($ch) }
sub wait_post {
	my ($ch, $re, $what) = @_;
	my $p;
	ok(wait_for(sub { $d->check_alive; ($p) = posts_like($ch, $re); $p },
	    $what, 30), $what);
	return $p // {};
}
sub click {
	my ($ch, $msg, $action, $user) = @_;
	return $sb->post('/control/slack/click', { user => $user // 'U0ALICE',
	    channel => $ch, message_ts => $msg->{ts}, action_id => $action });
}
sub pd_incident {
	my ($key) = @_;
	my ($i) = grep { $_->{title} =~ /^\[\Q$key\E\]/ }
	    @{pd('incidents', {})->{incidents} // []};
	return $i;
}
sub incident_with_channel {
	my ($summary) = @_;
	my $key = jira('issue', { summary => $summary, project => 'INC',
	    issuetype => 'Incident', assignee => 'alice@example.com' })->{key};
	$sb->message(text => "<\@U0BOT> new channel $key");
	my $ch;
	wait_for(sub { for ($sb->bot_posts('C0GENERAL')) {
		$ch = $1 if ($_->{text} // '') =~
		    /Created <#(C\w+)> for \Q$key\E/ } return $ch },
	    "channel for $key", 30);
	ok($ch, "$key has #$ch");
	return ($key, $ch);
}
# Page targets in ch, confirm, and wait for the PagerDuty incident.
sub page {
	my ($key, $ch, $targets) = @_;
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts($ch);
	$sb->message(channel => $ch, user => 'U0ALICE',
	    text => "<\@U0BOT> page $targets");
	my $p;
	wait_for(sub { $d->check_alive; ($p) = grep { !$seen{$_->{ts}} &&
	    post_text($_) =~ /asks to page/ } $sb->bot_posts($ch); $p },
	    "confirmation of $targets", 30);
	click($ch, $p // {}, 'page_confirm');
	my $i;
	ok(wait_for(sub { $i = pd_incident($key) }, "PD incident of $key"),
	    "$key paged $targets");
	return $i;
}
# Stored PagerDuty events, counted per type, from the daemon's dump.
sub count_posts {
	my ($ch, $re) = @_;
	return scalar posts_like($ch, $re);
}

# 1. Paged, nobody acknowledges: one nudge; its button escalates.
my ($k1, $c1) = incident_with_channel('Checkout down');
my $i1 = page($k1, $c1, 'db');
my $nudge = wait_post($c1, qr/Nobody has acknowledged the page for \*\Q$k1\E/,
    'unacknowledged page nudged');
like(post_text($nudge), qr/<\@U0BOB>/, 'the nudge names the paged person');
my @btn = map { @{$_->{elements} // []} } grep { $_->{type} eq 'actions' }
    @{$nudge->{blocks} // []};
is_deeply([map { $_->{action_id} } @btn], ['pd_escalate', 'pd_other'],
    'buttons: next level, someone else');
click($c1, $nudge, 'pd_other');
wait_post($c1, qr/To page someone else, type `page/, 'someone else: how');
click($c1, $nudge, 'pd_escalate');
ok(wait_for(sub { grep { $_->{method} eq 'PUT' &&
    ($_->{json}{incident}{escalation_level} // 0) == 2 }
    $sb->requests('pagerduty', qr{^/incidents/\Q$i1->{id}\E$}) }),
    'escalation sent to PagerDuty (level 2)');
wait_post($c1, qr/escalated to <\@U0ALICE> \(level 2\)/,
    'escalation posted with a mention');

# 2. Acknowledged, then a restart, then reassigned and a declined request.
pd('ack', { id => $i1->{id}, user => 'alice@example.com' });
wait_post($c1, qr/acknowledged by <\@U0ALICE>/, 'acknowledgement posted');
# status (and the pinned message) show the live state, not the paged one.
$sb->message(channel => $c1, text => '<@U0BOT> status');
wait_post($c1, qr/acknowledged \(PagerDuty \Q$i1->{id}\E\), held by Alice/,
    'status shows the live PagerDuty state');
is($d->stop, 0, 'stopped cleanly');
$d->start;
ok($sb->wait_connected(1, $d), 'reconnected');
pd('reassign', { id => $i1->{id}, user => 'dave@example.com',
    by => 'alice@example.com' });
wait_post($c1, qr/reassigned to Dave Example by <\@U0ALICE>/,
    'reassignment posted (Dave is not in Slack: his name)');
page($k1, $c1, 'api');
ok(wait_for(sub { grep { $_->{method} eq 'POST' }
    $sb->requests('pagerduty', qr{/responder_requests$}) }),
    'responder request sent');
ok(wait_for(sub { (pd('respond', { id => $i1->{id},
    user => 'dave@example.com', state => 'declined' })->{ok}) }),
    'Dave declines');
wait_post($c1, qr/Dave Example declined the request to respond/,
    'declined responder request posted');
pd('resolve', { id => $i1->{id}, user => 'bob@example.com' });
wait_post($c1, qr/resolved by <\@U0BOB>/, 'resolution posted');
# A few more polls, then every change was told exactly once.
my $polls = scalar $sb->requests('pagerduty', qr{/log_entries});
ok(wait_for(sub { $sb->requests('pagerduty', qr{/log_entries}) >= $polls + 3 }),
    'polling goes on while the ticket is open');
for my $re (qr/escalated to/, qr/acknowledged by/, qr/reassigned to/,
    qr/declined the request/, qr/resolved by/) {
	is(count_posts($c1, $re), 1, "posted once: $re");
}
# The nudge's own text was replaced by the answer to its button.
is(scalar(grep { ($_->{json}{text} // '') =~ /Nobody has acknowledged/ }
    $sb->requests('slack', qr{/api/chat\.postMessage$})), 1,
    'one nudge, also across the restart');

# 4. resolve_on_close: ask, and the Resolve click.
my ($k2, $c2) = incident_with_channel('Search slow');
my $i2 = page($k2, $c2, 'db');
wait_post($c2, qr/Nobody has acknowledged the page for \*\Q$k2\E/, 'nudged');
pd('ack', { id => $i2->{id}, user => 'bob@example.com' });
wait_post($c2, qr/acknowledged by <\@U0BOB>/, 'acknowledged');
jira('transition', { key => $k2, status => 'Done' });
my $ask = wait_post($c2, qr/\Q$k2\E is closed in Jira, but its PagerDuty/,
    'closed while PagerDuty is open: asked');
click($c2, $ask, 'pd_resolve');
ok(wait_for(sub { (pd_incident($k2)->{status} // '') eq 'resolved' }),
    'the Resolve click resolved it in PagerDuty');
ok($d->loggrep(qr/pd watch \Q$k2\E: resolved and closed; no longer watched/),
    'resolved and closed: watching ends');

# 4b. (A channel made after the restart: no backfill.) The timeline shows the PagerDuty events, unless nopd.
sub dm_reply {
	my ($cmd) = @_;
	my $n = () = $sb->bot_posts('D0ALICE');
	$sb->message(channel => $c2, user => 'U0ALICE', text => "<\@U0BOT> $cmd");
	my @new;
	wait_for(sub { $d->check_alive; my @a = $sb->bot_posts('D0ALICE');
	    @new = @a[$n .. $#a]; grep { post_text($_) =~ /Timeline of/ }
	    @new }, "DM for $cmd", 30);
	return join("\n", map { post_text($_) } @new);
}
wait_post($c2, qr/resolved by <\@U0ALICE>/, 'the click\'s resolution posted');
my $tl = dm_reply('get timeline');
like($tl, qr/PagerDuty event\*: PagerDuty \Q$i2->{id}\E: acknowledged by Bob/,
    'timeline: acknowledged, marked as PagerDuty');
like($tl, qr/acknowledged by Bob.*\n.*resolved by Alice/,
    'timeline: in time order');
$tl = dm_reply('get timeline nopd');
unlike($tl, qr/PagerDuty event/, 'nopd: without them');

# 5. resolve_on_close: auto.
$d->rewrite_config(pagerduty => { resolve_on_close => 'auto' });
$d->signal('HUP');
ok($d->loggrep(qr/reload/i), 'reloaded');
my ($k3, $c3) = incident_with_channel('Mail queue stuck');
page($k3, $c3, 'db');
wait_post($c3, qr/Nobody has acknowledged the page for \*\Q$k3\E/, 'nudged');
jira('transition', { key => $k3, status => 'Done' });
ok(wait_for(sub { (pd_incident($k3)->{status} // '') eq 'resolved' }),
    'auto: resolved on close');
is(count_posts($c3, qr/is closed in Jira, but its PagerDuty/), 0,
    'auto: nothing asked');

is($d->stop, 0, 'clean exit');
done_testing();
