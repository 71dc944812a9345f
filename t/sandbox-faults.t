# sandbox-faults.t: faults that strike after the work. With "after" the
# fake does the work (the issue exists, the incident is open, the channel
# is created) and only the answer is lost: replaced by a 5xx, a reset, a
# late answer or none at all. Without "after" the work is not done. The
# request log says which happened. Clients here are plain HTTP::Tiny, so
# the sandbox is tested alone.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(time);
use IncidentTest;

my $sb = new_sandbox();
my $json = JSON::PP->new->canonical;

# One request on its own connection (closed when the call returns, as a
# client that gives up closes it); returns HTTP::Tiny's response.
sub call {
	my ($service, $method, $path, $body, %o) = @_;
	my %h = (%{$o{headers} // {}}, 'Content-Type' => 'application/json');
	my $http = HTTP::Tiny->new(timeout => $o{timeout} // 10,
	    keep_alive => 0);
	return $http->request($method, $sb->url($service, $path),
	    { headers => \%h, content => $json->encode($body) });
}

my %JIRA = (Authorization => 'Basic ' .
    encode_base64('bot@example.com:jira-sandbox-token', ''));
my %PD = (Authorization => 'Token token=pd-sandbox-token',
    Accept => 'application/vnd.pagerduty+json;version=2',
    From => 'alice@example.com');
my %SLACK = (Authorization => "Bearer $BOT_TOKEN");

sub jira_create {
	my ($summary, %o) = @_;
	return call('jira', 'POST', '/rest/api/2/issue', { fields => {
	    project => { key => 'INC' }, issuetype => { name => 'Incident' },
	    summary => $summary } }, headers => \%JIRA, %o);
}
sub pd_create {
	my ($title, %o) = @_;
	return call('pagerduty', 'POST', '/incidents', { incident => {
	    type => 'incident', title => $title,
	    service => { id => 'PSVCIM', type => 'service_reference' } } },
	    headers => \%PD, %o);
}
sub slack_create {
	my ($name, %o) = @_;
	return call('slack', 'POST', '/api/conversations.create',
	    { name => $name }, headers => \%SLACK, %o);
}
sub slack_post {
	my ($text, %o) = @_;
	return call('slack', 'POST', '/api/chat.postMessage',
	    { channel => 'C0GENERAL', text => $text }, headers => \%SLACK, %o);
}

sub issues { @{$sb->get('/control/jira/issues')->{issues} // []} }
sub incidents { @{$sb->get('/control/pagerduty/incidents')->{incidents} // []} }
sub channels { @{$sb->get('/control/slack/channels')->{channels} // []} }
sub has_issue { my ($s) = @_; grep { $_->{summary} eq $s } issues() }
sub has_incident { my ($t) = @_; grep { $_->{title} eq $t } incidents() }
sub has_channel { my ($n) = @_; grep { $_->{name} eq $n } channels() }
sub has_message {
	my ($t) = @_;
	return grep { ($_->{text} // '') eq $t } $sb->messages('C0GENERAL');
}
# The last recorded request of a service whose path matches.
sub last_record {
	my ($service, $match) = @_;
	my @r = $sb->requests($service, $match);
	return $r[-1] // {};
}
sub decode { my ($r) = @_; return eval { $json->decode($r->{content}) } }

# The sandbox answers normally without faults, and says so.
my $r = jira_create('plain');
is($r->{status}, 201, 'Jira create without a fault');
my $rec = last_record('jira', qr{/issue$});
ok($rec->{processed}, 'recorded as processed');
is($rec->{answered}, 'real', 'answered with the real answer');
ok(!exists $rec->{processed_status}, 'nothing hidden');

# Validation of the new fields.
my ($st, $b) = $sb->request('POST', '/control/fault', { service => 'jira',
    never => JSON::PP::true, status => 500 });
is($st, 400, 'never takes no status');
($st, $b) = $sb->request('POST', '/control/fault', { service => 'jira',
    after => JSON::PP::true });
is($st, 400, 'after needs a status, a delay or never');
like($b->{error}, qr/needs delay_ms or never/, 'and says so');
$sb->fault(service => 'jira', match => '/nothing', status => 503,
    after => JSON::PP::true, count => 2);
my ($f) = @{$sb->get('/control/faults')->{faults}};
ok($f->{after} && !$f->{never}, 'armed faults list "after"');
$sb->post('/control/faults/clear');

# Jira: a 500 before the work creates nothing; after the work, the issue
# exists and the client saw Jira's error shape.
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 500);
$r = jira_create('before 500');
is($r->{status}, 500, 'Jira: the client gets the 500');
ok(!has_issue('before 500'), 'Jira: no issue without "after"');
$rec = last_record('jira', qr{/issue$});
ok(!$rec->{processed}, 'recorded as not processed');
is($rec->{answered}, 'fault', 'answered by the fault');

for my $code (500, 502, 503, 504) {
	$sb->fault(service => 'jira', match => '/rest/api/2/issue',
	    status => $code, after => JSON::PP::true);
	$r = jira_create("after $code");
	is($r->{status}, $code, "Jira: the client gets the $code");
	my $e = decode($r);
	ok(ref($e->{errorMessages}) eq 'ARRAY' && ref($e->{errors}) eq 'HASH',
	    "Jira: $code in Jira's error shape");
	my ($is) = has_issue("after $code");
	ok($is, "Jira: the issue was created in spite of the $code");
	$rec = last_record('jira', qr{/issue$});
	ok($rec->{processed}, 'recorded as processed');
	is($rec->{answered}, 'fault', 'answered by the fault');
	is($rec->{status}, $code, 'the status the client saw');
	is($rec->{processed_status}, 201, 'the answer the fake gave');
	is($rec->{processed_response}{key}, $is->{key},
	    'the hidden answer names the issue');
}

# PagerDuty: a reset after the work.
$sb->fault(service => 'pagerduty', match => '/incidents', status => -1);
$r = pd_create('before reset');
is($r->{status}, 599, 'PagerDuty: the client gets no answer');
ok(!has_incident('before reset'), 'PagerDuty: no incident without "after"');
$sb->fault(service => 'pagerduty', match => '/incidents', status => -1,
    after => JSON::PP::true);
$r = pd_create('after reset');
is($r->{status}, 599, 'PagerDuty: the connection is reset');
ok(has_incident('after reset'), 'PagerDuty: the incident exists');
$rec = last_record('pagerduty', qr{^/incidents$});
ok($rec->{processed}, 'recorded as processed');
is($rec->{answered}, 'reset', 'answered: reset');
is($rec->{status}, -1, 'status -1');
is($rec->{processed_status}, 201, 'the fake created it');
$sb->fault(service => 'pagerduty', match => '/incidents', status => 502,
    after => JSON::PP::true);
$r = pd_create('after 502');
is($r->{status}, 502, 'PagerDuty: a 502 after the work');
ok(defined decode($r)->{error}{message}, "PagerDuty's error shape");
ok(has_incident('after 502'), 'PagerDuty: the incident exists');

# Slack Web API: a 503 after conversations.create.
$sb->fault(service => 'slack', match => 'conversations.create', status => 503);
$r = slack_create('before-503');
is($r->{status}, 503, 'Slack: the client gets the 503');
ok(!has_channel('before-503'), 'Slack: no channel without "after"');
$sb->fault(service => 'slack', match => 'conversations.create', status => 503,
    after => JSON::PP::true);
$r = slack_create('after-503');
is($r->{status}, 503, 'Slack: the 503 after the work');
ok(!defined decode($r), "Slack's 5xx are no JSON");
ok(has_channel('after-503'), 'Slack: the channel exists');
$rec = last_record('slack', qr{conversations\.create$});
ok($rec->{processed} && $rec->{answered} eq 'fault', 'recorded');
ok($rec->{processed_response}{ok}, 'the hidden answer was ok:true');
# Without the fault the name is taken now: the fake's own state is real.
$r = slack_create('after-503');
is(decode($r)->{error}, 'name_taken', 'Slack: retrying finds the name taken');

# "contains" narrows a fault to the requests whose body holds the text:
# other posts pass, the one that matches gets it.
$sb->fault(service => 'slack', match => 'chat.postMessage', status => 503,
    contains => 'Keep open');
is(slack_post('a reply')->{status}, 200, 'contains: another post passes');
is(scalar @{$sb->get('/control/faults')->{faults}}, 1,
    'contains: still armed');
is(slack_post('Press Keep open')->{status}, 503,
    'contains: the post that holds the text gets the fault');
is(scalar @{$sb->get('/control/faults')->{faults}}, 0, 'contains: spent');

# A late answer: the real one, delay_ms late. A patient client gets it.
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 0,
    delay_ms => 400, after => JSON::PP::true);
my $t0 = time;
$r = jira_create('late patient');
cmp_ok(time - $t0, '>=', 0.4, 'the answer came late');
is($r->{status}, 201, 'the real answer');
is(decode($r)->{key}, (has_issue('late patient'))[0]{key}, 'naming the issue');
is(last_record('jira', qr{/issue$})->{answered}, 'late', 'answered: late');

# A client that gives up first: the work is done, the late answer goes to
# a closed connection, and the sandbox carries on.
$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
    delay_ms => 1500, after => JSON::PP::true);
$r = pd_create('late gone', timeout => 0.3);
is($r->{status}, 599, 'PagerDuty: the client timed out');
ok(has_incident('late gone'), 'PagerDuty: the incident exists');
ok(wait_for(sub { last_record('pagerduty', qr{^/incidents$})->{answered}
    eq 'late' }, 'late answer sent', 10), 'the late answer went out');
ok($sb->get('/control/health')->{ok}, 'the sandbox is alive');
is(pd_create('after late')->{status}, 201, 'and still answers');

# Never: the message is posted, the client never hears; when it closes,
# the log says so and the sandbox lets the request go.
$sb->fault(service => 'slack', match => 'chat.postMessage', never => 1);
$r = slack_post('held before', timeout => 0.5);
is($r->{status}, 599, 'Slack: no answer (before)');
ok(!has_message('held before'), 'Slack: nothing posted without "after"');
$sb->fault(service => 'slack', match => 'chat.postMessage', never => 1,
    after => JSON::PP::true);
$r = slack_post('held after', timeout => 0.5);
is($r->{status}, 599, 'Slack: no answer (after)');
ok(has_message('held after'), 'Slack: the message is posted');
ok(wait_for(sub { last_record('slack', qr{chat\.postMessage$})->{client_closed} },
    'the client close noticed', 10), 'the client close is noticed');
$rec = last_record('slack', qr{chat\.postMessage$});
ok($rec->{processed}, 'recorded as processed');
is($rec->{answered}, 'never', 'answered: never');
is($rec->{status}, 0, 'no status');
my ($held) = grep { $_->{body} =~ /held before/ }
    $sb->requests('slack', qr{chat\.postMessage$});
ok(!$held->{processed} && $held->{answered} eq 'never', 'held, not processed');

# A long poll wakes for a held request too (tests can wait for it).
my $next = $sb->get('/control/requests?service=slack&since=0')->{next};
$sb->fault(service => 'slack', match => 'chat.postMessage', never => 1,
    after => JSON::PP::true);
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0) {
	slack_post('held long', timeout => 5);
	exit(0);
}
my $w = $sb->get("/control/requests?service=slack&since=$next" .
    "&match=chat.postMessage&wait_ms=10000");
is(scalar @{$w->{requests}}, 1, 'the long poll returns the held request');
is($w->{requests}[0]{answered}, 'never', 'as held');
kill('TERM', $pid);
waitpid($pid, 0);
ok(wait_for(sub { last_record('slack', qr{chat\.postMessage$})->{client_closed} },
    'the killed client noticed', 10), 'a killed client is noticed');

is(slack_post('after all')->{status}, 200, 'Slack answers again');
is($sb->stop, 0, 'the sandbox exits cleanly');
done_testing();
