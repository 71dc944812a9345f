# fault-matrix.t: the fault matrix of issue 14, driven cell by cell. Each
# cell arms one fault shape on one service path, runs the command that
# calls it, and checks: the work happens once the fault clears (or the
# user is told), exactly one object exists, the requests are bounded,
# and `help` is still answered. The short form runs in make check;
# FAULT_MATRIX=full runs every cell; FAULT_MATRIX_ONLY=regex selects.
# Cells so far: Jira create (`new incident`), PagerDuty create (a
# confirmed `page`) and a Slack reply (`help` by DM).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $T = JSON::PP::true;
my $full = ($ENV{FAULT_MATRIX} // '') eq 'full';
my $only = $ENV{FAULT_MATRIX_ONLY};

# name, short form?, fault (service jira, match the create path).
my @cells = (
	['jira-create 500', 0, { status => 500 }],
	['jira-create 502', 0, { status => 502 }],
	['jira-create 503', 1, { status => 503 }],
	['jira-create 504', 0, { status => 504 }],
	['jira-create 429 retry-after 1', 1, { status => 429,
	    retry_after => 1 }],
	['jira-create 429 no retry-after', 0, { status => 429 }],
	['jira-create 503 after the work', 1, { status => 503, after => $T }],
	['jira-create reset after the work', 0, { status => -1,
	    after => $T }],
	['jira-create truncated 201 after the work', 1, { status => 201,
	    after => $T, raw => '{"id":"10001","key":"INC-' }],
	['jira-create empty 201 after the work', 1, { status => 201,
	    after => $T, raw => '' }],
	['jira-create malformed 201 after the work', 0, { status => 201,
	    after => $T, raw => '<html><body>OK</body></html>' }],
	['jira-create wrong shape 201 after the work', 1, { status => 201,
	    after => $T, body => { id => 10001, key => undef } }],
	['jira-create wrong type 201 after the work', 0, { status => 201,
	    after => $T, body => { key => 12 } }],
	['jira-create redirect', 1, { status => 302,
	    location => 'http://127.0.0.1:1/rest/api/2/issue' }],
);

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');
my $n = 0;

sub say_and_wait {
	my ($text, $timeout) = @_;
	$sb->message(text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts('C0GENERAL', ++$n, $d, $timeout);
	return $p[$n - 1];
}

my $ran = 0;
for my $c (@cells) {
	my ($name, $short, $f) = @$c;
	next if defined $only ? $name !~ /$only/ : !$full && !$short;
	$ran++;
	(my $summary = "cell $name") =~ s/[^A-Za-z0-9 -]//g;
	my $before = () = $sb->jira_creates;
	$sb->fault(service => 'jira', match => '/rest/api/2/issue',
	    method => 'POST', count => 1, %$f);
	my $p = say_and_wait("new incident $summary", 60);
	like($p->{text} // '', qr/INC-\d+ declared/, "$name: declared");
	is(scalar($sb->jira_tickets($summary)), 1,
	    "$name: exactly one ticket");
	my $sent = () = $sb->jira_creates;
	cmp_ok($sent - $before, '<=', 2, "$name: at most two creates");
	$sb->post('/control/faults/clear');
	my $h = say_and_wait('help');
	my $ht = join("\n", $h->{text} // '', map { $_->{text}{text} // '' }
	    @{$h->{blocks} // []});
	like($ht, qr/`help \[command\]`/, "$name: help answered");
}

# PagerDuty create, from a confirmed page of one service.
my @pd_cells = (
	['pd-create 503', 0, { status => 503 }],
	['pd-create 429 retry-after 1', 0, { status => 429,
	    retry_after => 1 }],
	['pd-create 502 after the work', 0, { status => 502, after => $T }],
	['pd-create truncated 201 after the work', 1, { status => 201,
	    after => $T, raw => '{"incident":{"id":"P' }],
	['pd-create empty 201 after the work', 0, { status => 201,
	    after => $T, raw => '' }],
	['pd-create 201 without an id after the work', 1, { status => 201,
	    after => $T, body => { incident => { id => undef } } }],
);
sub alltext {
	my ($m) = @_;
	return join("\n", $m->{text} // '', map { ($_->{text}{text} // '') }
	    @{$m->{blocks} // []});
}
sub new_post {
	my ($seen, $re, $what) = @_;
	my $p;
	wait_for(sub { ($p) = grep { !$seen->{$_->{ts}} && alltext($_) =~ $re }
	    $sb->bot_posts('C0GENERAL'); $p }, $what, 60);
	return $p;
}
sub pd_all { @{$sb->post('/control/pagerduty/incidents', {})->{incidents}
    // []} }
for my $c (@pd_cells) {
	my ($name, $short, $f) = @$c;
	next if defined $only ? $name !~ /$only/ : !$full && !$short;
	$ran++;
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts('C0GENERAL');
	my $npd = () = pd_all();
	my $ncreate = () = grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', qr{^/incidents$});
	$sb->message(user => 'U0ALICE', text => "<\@U0BOT> page Database");
	my $p = new_post(\%seen, qr/asks to page/, 'confirmation');
	ok($p, "$name: confirmation");
	$sb->fault(service => 'pagerduty', match => '/incidents',
	    method => 'POST', count => 1, %$f);
	$sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => 'C0GENERAL', message_ts => ($p // {})->{ts},
	    action_id => 'page_confirm' });
	ok(new_post(\%seen, qr/\*1 of 1\* target\(s\) paged/, 'announcement'),
	    "$name: paged");
	is(scalar(pd_all()) - $npd, 1, "$name: exactly one incident");
	my $sent = () = grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', qr{^/incidents$});
	cmp_ok($sent - $ncreate, '<=', 2, "$name: at most two creates");
	$sb->post('/control/faults/clear');
	$sb->message(text => "<\@U0BOT> help");
	ok(new_post(\%seen, qr/`help \[command\]`/, 'help'),
	    "$name: help answered");
}
# Slack's Web API refusing a reply before doing it (a proxy's page, an
# empty or redirected answer, a 5xx): not Slack's refusal, so the reply
# is sent again and posted once.
my @slack_cells = (
	['slack-reply 200 that is not JSON', 1, { status => 200,
	    raw => '<html>upstream</html>' }],
	['slack-reply empty 200', 0, { status => 200, raw => '' }],
	['slack-reply 302 redirect', 1, { status => 302, raw => '',
	    location => 'http://127.0.0.1:1/elsewhere' }],
	['slack-reply 503', 0, { status => 503 }],
	['slack-reply 429 with Retry-After', 0, { status => 429,
	    retry_after => 1 }],
);
for my $c (@slack_cells) {
	my ($name, $short, $f) = @$c;
	next if defined $only ? $name !~ /$only/ : !$full && !$short;
	$ran++;
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts('D0ALICE');
	my $n = () = $sb->requests('slack', qr{/api/chat\.postMessage$});
	$sb->fault(service => 'slack', match => 'chat.postMessage', count => 1,
	    %$f);
	$sb->message(channel => 'D0ALICE', user => 'U0ALICE', text => 'help');
	my @p;
	ok(wait_for(sub { @p = grep { !$seen{$_->{ts}} &&
	    alltext($_) =~ /What I can do/ } $sb->bot_posts('D0ALICE'); @p },
	    'help', 60), "$name: answered");
	is(scalar @p, 1, "$name: posted once");
	my $sent = () = $sb->requests('slack', qr{/api/chat\.postMessage$});
	cmp_ok($sent - $n, '<=', 3, "$name: at most three posts");
	$sb->post('/control/faults/clear');
}
ok($ran > 0, "$ran cell(s) ran");
is($d->stop, 0, 'a clean stop after the faults');
done_testing();
