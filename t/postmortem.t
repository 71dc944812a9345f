#!/usr/bin/env perl
# postmortem.t: a scripted incident (declared, the incident manager paged
# with the form filled in, a channel, tagged messages, PagerDuty
# acknowledged and resolved, two corrective actions, the ticket closed),
# then `postmortem`: a preview only the requester can confirm, a Jira
# comment with every section and the right values; a second run edits
# the same comment; a channel that is no incident and a foreign key get
# clear answers; a Jira 500 after the write is probed, not doubled.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IncidentTest;
use JSON::PP;
use POSIX qw(strftime);
use Test::More;

my $sb = new_sandbox();
my $d = new_incidentd($sb, slack => { incident_managers => ['U0ALICE'] },
    jira => { aar_field => 'customfield_10054' },
    schedule => { poll_interval => '1s', archive_after => '10d' },
    timeline => { timezone => 'Europe/Paris', history_per_minute => 600 },
    pagerduty => { poll_interval => '1s', ack_timeout => '1h' });
ok($sb->wait_connected(1, $d), 'connected');

sub jira { my ($op, $b) = @_; return $sb->post("/control/jira/$op", $b) }
sub pd { my ($op, $b) = @_; return $sb->post("/control/pagerduty/$op", $b) }
sub post_text { my ($p) = @_;
    return join("\n", $p->{text} // '', map { $_->{text}{text} // '' }
        @{$p->{blocks} // []}) }
sub posts_like { my ($ch, $re) = @_;
    return grep { post_text($_) =~ $re } $sb->bot_posts($ch) }
sub wait_post {
	my ($ch, $re, $what, $n) = @_;
	my @p;
	ok(wait_for(sub { $d->check_alive; @p = posts_like($ch, $re);
	    @p >= ($n // 1) }, $what, 30), $what);
	return $p[-1] // {};
}
sub click {
	my ($ch, $msg, $action, $user) = @_;
	return $sb->post('/control/slack/click', { user => $user // 'U0ALICE',
	    channel => $ch, message_ts => $msg->{ts}, action_id => $action });
}
sub ephemerals {
	my ($re) = @_;
	return grep { ($_->{json}{text} // '') =~ $re }
	    $sb->requests('slack', qr{/api/chat\.postEphemeral$});
}
sub dump_db {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	return JSON::PP->new->decode($out)->{databases};
}
sub comments {
	my ($key) = @_;
	my ($st, $b) = $sb->jira_api('GET',
	    "/rest/api/2/issue/$key/comment?maxResults=100");
	return @{$b->{comments} // []};
}
sub drafts { my ($key) = @_;
    return grep { ($_->{body} // '') =~ /\\\[incidentd postmortem \Q$key\E\\\]/ }
        comments($key) }
sub day { return strftime('%Y-%m-%d', gmtime(time + $_[0] * 86400)) }

############################################################ the incident

$sb->message(text => '<@U0BOT> new incident Checkout down');
my $prompt = wait_post('C0GENERAL', qr/Page the incident manager/,
    'incident declared');
my ($key) = post_text($prompt) =~ /(INC-\d+)/;
ok($key, "ticket $key");
click('C0GENERAL', $prompt, 'im_page');
my $vid;
ok(wait_for(sub { my @v = @{$sb->get('/control/slack/views')->{views} // []};
    $vid = @v ? $v[-1]{id} : undef }), 'the form opened');
$sb->post('/control/slack/submit', { user => 'U0ALICE', view_id => $vid,
    values => {
	severity => { severity => { type => 'static_select',
	    selected_option => { value => 'SEV2 - major' } } },
	impact => { impact => { type => 'plain_text_input',
	    value => "EU customers *cannot* pay\nh1. not a heading [x|y]" } },
	services => { services => { type => 'plain_text_input',
	    value => 'checkout, payments' } },
	note => { note => { type => 'plain_text_input', value => 'call me' } },
    } });
my $pdi;
ok(wait_for(sub { ($pdi) = grep { $_->{title} =~ /^\[\Q$key\E\]/ }
    @{pd('incidents', {})->{incidents} // []}; $pdi }, 'paged'),
    'the incident manager was paged');

$sb->message(text => "<\@U0BOT> new channel $key");
my $ch;
wait_for(sub { for ($sb->bot_posts('C0GENERAL')) {
	$ch = $1 if ($_->{text} // '') =~ /Created <#(C\w+)> for \Q$key\E/ }
	return $ch }, "channel for $key", 30);
ok($ch, "$key has #$ch");

my $m1 = $sb->message(channel => $ch, user => 'U0ALICE',
    text => 'DB failover started, <@U0BOB> watching {code} *bold*');
my $m2 = $sb->message(channel => $ch, user => 'U0ALICE',
    text => 'Fixed by <https://example.com/fix|the fix>');
for my $m ($m1, $m2) {
	my $r = $sb->post('/control/slack/reaction', { channel => $ch,
	    ts => $m->{ts}, user => 'U0ALICE', reaction => 'memo' });
	ok(!$r->{error}, 'tagged');
}

pd('ack', { id => $pdi->{id}, user => 'alice@example.com' });
wait_post($ch, qr/acknowledged by <\@U0ALICE>/, 'acknowledged');
pd('resolve', { id => $pdi->{id}, user => 'alice@example.com' });
wait_post($ch, qr/resolved by/, 'resolved');

my @acts;
for my $a (['Add checkout alert', day(5)], ['Fix retry storm', day(9)]) {
	my $r = jira('issue', { summary => $a->[0], project => 'OPS',
	    issuetype => 'Task', assignee => 'bob@example.com',
	    labels => ['corrective-action'], duedate => $a->[1] });
	jira('link', { from => $r->{key}, to => $key, type => 'Relates' });
	push @acts, $r->{key};
}
jira('transition', { key => $acts[1], status => 'Done' });
jira('transition', { key => $key, status => 'Done' });
ok(wait_for(sub { my $db = dump_db();
    (grep { /^\Q$key\E\/ticket_closed/ } keys %{$db->{evlog} // {}}) &&
    (grep { ($db->{follow}{$_}{kind} // '') eq 'action' }
        keys %{$db->{follow} // {}}) == 2 }, 'the poller saw it all', 30),
    'closed, with two corrective actions');

############################################################ postmortem

$sb->message(channel => $ch, text => '<@U0BOT> postmortem');
my $pv = wait_post($ch, qr/Postmortem draft for/, 'a preview');
like(post_text($pv), qr/h2\. Impact/, 'the preview shows the draft');
is(scalar(comments($key) && drafts($key)), 0, 'nothing written yet');
click($ch, $pv, 'pm_confirm', 'U0BOB');
ok(wait_for(sub { ephemerals(qr/Only <\@U0ALICE>, who asked/) }),
    'only the requester may confirm');
click($ch, $pv, 'pm_confirm');
wait_post($ch, qr/postmortem draft is on <[^>]*focusedCommentId=\d+/,
    'the reply links the comment');
my @dr = drafts($key);
is(scalar @dr, 1, 'one draft comment');
my $body = $dr[0]{body} // '';
diag("--- draft ---\n$body\n---") if $ENV{INCIDENTD_TEST_SHOW};
for my $h ('Summary and severity', 'Impact', 'Key times and durations',
    'People involved', 'Timeline', 'Corrective actions', 'Root cause',
    'Lessons learned') {
	like($body, qr/^h2\. \Q$h\E$/m, "section $h");
}
like($body, qr/\*Ticket:\* \Q$key\E: Checkout down \(Jira status: Done/,
    'the ticket, live');
like($body, qr/\*Severity:\* SEV2 \\- major/, 'severity from the form');
like($body, qr/\*Affected services:\* checkout, payments/, 'services');
like($body, qr/^EU customers \\\*cannot\\\* pay h1\. not a heading \\\[x\\\|y\\\]$/m,
    'impact: escaped, one line, no heading');
for my $ev ('Declared', 'Channel opened', 'Incident manager paged',
    'First acknowledgement', 'Resolved \(PagerDuty\)', 'Ticket closed') {
	like($body, qr/^\|$ev\|\d{4}-\d\d-\d\d \d\d:\d\d CES?T\|/m,
	    "time of $ev");
}
like($body, qr/^\|Declared\|[^|]+\|—\|$/m, 'declared: no duration');
like($body, qr/^\|Ticket closed\|[^|]+\|\d+[smh]/m, 'durations');
like($body, qr/\*Declared by:\* alice$/m, 'declarer by name');
like($body, qr/\*Incident managers:\* .*\w/, 'incident managers');
like($body, qr/\*Acknowledged:\* .*Alice/, 'who acknowledged');
like($body, qr/\*Posted tagged messages:\* alice$/m,
    'who posted tagged messages');
like($body, qr/\*alice\*: DB failover started, \@bob watching \\\{code\\\} \\\*bold\\\*/,
    'timeline: names resolved, markup escaped');
like($body, qr/the fix \(https:\/\/example\.com\/fix\)/, 'links kept');
like($body, qr/\*PagerDuty event\*: .*acknowledged/i, 'PagerDuty events');
like($body, qr/^\|\Q$acts[0]\E\|Add checkout alert\|[^|]+\|\Q@{[day(5)]}\E\|To Do\|$/m,
    'open action: owner, due, status');
like($body, qr/^\|\Q$acts[1]\E\|Fix retry storm\|[^|]+\|\Q@{[day(9)]}\E\|Done\|$/m,
    'done action too');
my $db = dump_db();
ok(grep({ /^\Q$key\E\/postmortem_drafted/ } keys %{$db->{evlog}}),
    'postmortem_drafted in the event log');
my ($upd) = grep { $_->{json}{ts} eq $pv->{ts} }
    $sb->requests('slack', qr{/api/chat\.update$});
ok($upd && !grep({ $_->{type} eq 'actions' } @{$upd->{json}{blocks}}),
    'the preview loses its buttons once confirmed');

############################################################ again

my $m3 = $sb->message(channel => $ch, text => 'late note');
$sb->post('/control/slack/reaction', { channel => $ch, ts => $m3->{ts},
    user => 'U0ALICE', reaction => 'memo' });
$sb->message(channel => $ch, text => '<@U0BOT> postmortem');
$pv = wait_post($ch, qr/over the draft comment already there/,
    'a second preview');
click($ch, $pv, 'pm_confirm');
wait_post($ch, qr/postmortem draft is on/, 'written again', 2);
@dr = drafts($key);
is(scalar @dr, 1, 'still one draft comment');
like($dr[0]{body}, qr/late note/, 'updated in place');
ok(grep({ $_->{method} eq 'PUT' } $sb->requests('jira',
    qr{/issue/\Q$key\E/comment/\d+$})), 'by PUT .../comment/{id}');

############################################################ refusals

$sb->message(text => '<@U0BOT> postmortem');
wait_post('C0GENERAL', qr/not an incident channel/, 'not an incident channel');
$sb->message(text => '<@U0BOT> postmortem OTHER-1');
wait_post('C0GENERAL', qr/not a ticket of ours/, 'a foreign key');

############################################################ Jira 500

my $k2 = jira('issue', { summary => 'Search slow', project => 'INC',
    issuetype => 'Incident' })->{key};
$sb->message(text => "<\@U0BOT> new channel $k2");
my $ch2;
wait_for(sub { for ($sb->bot_posts('C0GENERAL')) {
	$ch2 = $1 if ($_->{text} // '') =~ /Created <#(C\w+)> for \Q$k2\E/ }
	return $ch2 }, "channel for $k2", 30);
# The write is done, but the answer is a 500: the probe must find it.
$sb->fault(service => 'jira', match => "/issue/$k2/comment", method => 'POST',
    status => 500, after => JSON::PP::true, count => 1);
$sb->message(channel => $ch2, text => "<\@U0BOT> postmortem $k2");
$pv = wait_post($ch2, qr/Postmortem draft for/, 'preview (500 case)');
click($ch2, $pv, 'pm_confirm');
wait_post($ch2, qr/postmortem draft is on/, 'written despite the 500');
is(scalar(drafts($k2)), 1, 'exactly one comment after the 500');
is(scalar(grep { $_->{method} eq 'POST' } $sb->requests('jira',
    qr{/issue/\Q$k2\E/comment$})), 1, 'posted once, not resent');
like($d->log, qr/postmortem\/\Q$k2\E\.1/, 'the job is in the log');

is($d->stop, 0, 'clean exit');
done_testing();
