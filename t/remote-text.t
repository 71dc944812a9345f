# remote-text.t: text from Jira, PagerDuty and Slack's own answers never
# reaches Slack as live markup. Each path gets a hostile body through the
# sandbox's fault injection (the services' real error shapes, or a
# success whose fields are hostile); every message, update, topic and
# modal the bot sends must show it escaped.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');
my $n = 0;

my $EVIL = '<!channel> <https://evil.example|the runbook> <@U0EVIL> <!here>';
my $LIVE = qr/<!channel>|<!here>|<\@U0EVIL>|<https:\/\/evil/;
my $ESC = qr/&lt;!channel&gt; &lt;https:\/\/evil\.example\|the runbook&gt;/;

sub say_and_wait {
	my ($text, $timeout) = @_;
	$sb->message(text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts('C0GENERAL', ++$n, $d, $timeout);
	return $p[$n - 1];
}
sub alltext {
	my ($m) = @_;
	return JSON::PP->new->canonical->encode([$m->{text} // '',
	    $m->{blocks} // []]);
}
sub jira_issue {
	my (%f) = @_;
	my $r = $sb->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', %f });
	return $r->{key};
}
sub jira_error { return { errorMessages => [$EVIL],
    errors => { summary => '<@U0EVIL> <!here>' } } }

# Jira refuses the ticket (400, its error shape).
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 400,
    body => jira_error());
my $p = say_and_wait('new incident Checkout is down');
like(alltext($p), $ESC, 'new incident, Jira 400: error escaped');
unlike(alltext($p), $LIVE, 'new incident, Jira 400: nothing live');

# Jira fails (a 5xx with a body, after the retries).
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 502,
    count => 20, body => jira_error());
$p = say_and_wait('new incident Checkout is down', 90);
like(alltext($p), qr/could not create.*$ESC/, 'new incident, Jira 5xx: escaped');
unlike(alltext($p), $LIVE, 'new incident, Jira 5xx: nothing live');
$sb->post('/control/faults/clear');

# new channel: reading the ticket fails.
my $k1 = jira_issue(summary => 'Payments down');
$sb->fault(service => 'jira', match => "/issue/$k1", status => 400,
    body => jira_error());
$p = say_and_wait("new channel $k1");
like(alltext($p), qr/could not read \Q$k1\E.*$ESC/, 'new channel, read: escaped');
unlike(alltext($p), $LIVE, 'new channel, read: nothing live');

# new channel: the picker's search fails, then answers hostile fields.
$sb->fault(service => 'jira', match => '/search', status => 400,
    body => jira_error());
$p = say_and_wait('new channel');
like(alltext($p), qr/could not list.*$ESC/, 'picker, search error: escaped');
unlike(alltext($p), $LIVE, 'picker, search error: nothing live');
$sb->fault(service => 'jira', match => '/search', status => 200,
    body => { issues => [{ id => '1', key => $k1, fields => {
    summary => $EVIL, status => { name => $EVIL } } }] });
$p = say_and_wait('new channel');
like(alltext($p), qr/$ESC.*$ESC/, 'picker: summary and status name escaped');
unlike(alltext($p), $LIVE, 'picker: nothing live');

# Slack itself answers with a hostile error.
$sb->fault(service => 'slack', match => 'conversations.create', status => 200,
    body => { ok => JSON::PP::false, error => $EVIL });
$p = say_and_wait("new channel $k1");
like(alltext($p), qr/would not create.*$ESC/, 'new channel, Slack error: escaped');
unlike(alltext($p), $LIVE, 'new channel, Slack error: nothing live');

# The incident manager's page: PagerDuty fails, then answers a hostile id.
$p = say_and_wait('new incident Search is slow');
my ($key) = alltext($p) =~ /(INC-\d+)/;
sub page_im {
	my ($msg) = @_;
	my $before = () = $sb->requests('slack', qr{/api/views\.open$});
	$sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => 'C0GENERAL', message_ts => $msg->{ts},
	    action_id => 'im_page' });
	wait_for(sub { $sb->requests('slack', qr{/api/views\.open$}) > $before },
	    'modal');
	my @v = @{$sb->get('/control/slack/views')->{views} // []};
	$sb->post('/control/slack/submit', { user => 'U0ALICE',
	    view_id => $v[-1]{id}, values => {} });
}
$sb->fault(service => 'pagerduty', match => '/incidents', status => 400,
    body => { error => { message => $EVIL, code => 2001,
    errors => ['<@U0EVIL>'] } });
page_im($p);
my @f;
ok(wait_for(sub { @f = grep { alltext($_) =~ /Paging the incident manager failed/ }
    $sb->bot_posts('C0GENERAL'); @f }), 'IM page failure reported');
$n = scalar $sb->bot_posts('C0GENERAL');
like(alltext($f[0]), $ESC, 'IM page, PagerDuty error: escaped');
unlike(alltext($f[0]), $LIVE, 'IM page, PagerDuty error: nothing live');
$sb->fault(service => 'pagerduty', match => '/incidents', status => 201,
    body => { incident => { id => $EVIL, type => 'incident' } });
page_im($p);
my @u;
ok(wait_for(sub { @u = grep { alltext({ text => $_->{json}{text},
    blocks => $_->{json}{blocks} }) =~ /Incident manager paged/ }
    $sb->requests('slack', qr{/api/chat\.update$}); @u }), 'IM paged');
my $ut = alltext({ text => $u[-1]{json}{text}, blocks => $u[-1]{json}{blocks} });
like($ut, $ESC, 'IM paged, PagerDuty id: escaped');
unlike($ut, $LIVE, 'IM paged, PagerDuty id: nothing live');

# Its channel names the PagerDuty incident by that id.
$p = say_and_wait("new channel $key");
my ($cid) = alltext($p) =~ /<#(C\w+)>/;
my @first;
ok(wait_for(sub { @first = grep { alltext($_) =~ /PagerDuty incident/ }
    $sb->bot_posts($cid); @first }), 'channel: first message posted');
like(alltext($first[0]), qr/PagerDuty incident $ESC/, 'channel: PagerDuty id escaped');
unlike(alltext($first[0]), $LIVE, 'channel: nothing live');

# get timeline: Jira refuses the comment; Slack refuses to describe.
$sb->fault(service => 'jira', match => "/issue/$key/comment", status => 400,
    body => jira_error());
$sb->message(channel => $cid, text => "<\@U0BOT> get timeline jira");
my @c;
ok(wait_for(sub { @c = grep { alltext($_) =~ /did not take/ }
    $sb->bot_posts($cid); @c }), 'timeline, Jira error reported');
like(alltext($c[0]), $ESC, 'timeline, Jira error: escaped');
unlike(alltext($c[0]), $LIVE, 'timeline, Jira error: nothing live');
$sb->fault(service => 'slack', match => 'conversations.info', status => 200,
    body => { ok => JSON::PP::false, error => $EVIL });
$p = say_and_wait("get timeline $key");
like(alltext($p), qr/did not tell me.*$ESC/, 'timeline, Slack error: escaped');
unlike(alltext($p), $LIVE, 'timeline, Slack error: nothing live');

# Nothing the bot sent anywhere carries the hostile markup live.
my @sent = $sb->requests('slack', qr{/api/(chat\.\w+|conversations\.setTopic|views\.\w+)$});
my @live = grep { JSON::PP->new->encode($_->{json} // {}) =~ $LIVE } @sent;
is(scalar @live, 0, 'no request to Slack carries live remote markup') or
    diag(explain([map { $_->{path} . ' ' . JSON::PP->new->encode($_->{json}) } @live]));

$d->check_alive;
is($d->stop, 0, 'clean exit');
done_testing();
