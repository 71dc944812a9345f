# fault-matrix.t: the fault matrix of issue 14, driven cell by cell. Each
# cell arms one fault shape on one service path, runs the command that
# calls it, and checks: the work happens once the fault clears (or the
# user is told), exactly one object exists, the requests are bounded,
# and `help` is still answered. The short form runs in make check;
# FAULT_MATRIX=full runs every cell; FAULT_MATRIX_ONLY=regex selects.
# Cells: Jira create (`new incident`), PagerDuty create (a confirmed
# `page`), a Slack reply (`help` by DM), the Slack Web API steps of `new
# channel` (conversations.create, .setTopic, .invite, the post in the
# channel) and its Jira link back or, where Jira refuses links, its
# comment, the timeline DM (`get timeline`), PagerDuty responders (a
# later page in an incident channel), the Jira poller (a closed ticket's
# channel archived) and the archive notice before it, each also with a
# body over the client's cap (pad_bytes) and an answer cut mid-body
# (cut_bytes).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $T = JSON::PP::true;
my $full = ($ENV{FAULT_MATRIX} // '') eq 'full';
my $only = $ENV{FAULT_MATRIX_ONLY};
# Over http.c's 16 MiB body cap.
my $HUGE = 17 * 1024 * 1024;

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
	['jira-create huge 201 after the work', 0, { status => 0,
	    pad_bytes => $HUGE }],
	['jira-create cut 201 after the work', 1, { status => 0,
	    cut_bytes => 12 }],
);

# Each section gets a fresh sandbox and daemon (with its own
# configuration): cells stay apart, and each pair stays well inside the
# harness's 120 s alarm in the full form.
my ($sb, $d);
my $n = 0;
sub section {
	my ($cells, $what, %conf) = @_;
	return 0 if !grep { sel($_->[0], $_->[1]) } @$cells;
	if (defined $d) {
		is($d->stop, 0, 'a clean stop after the faults');
		$sb->stop;
	}
	$sb = new_sandbox();
	# Keyed posts are looked up in history before a resend: more than
	# Slack's one call a minute here, so that cells a few seconds apart
	# do not wait for each other.
	$sb->post('/control/slack/history_limits', { per_minute => 0,
	    max_limit => 15 });
	$d = new_incidentd($sb, timeline => { history_per_minute => 600 },
	    %conf);
	ok($sb->wait_connected(1, $d), "$what: connected");
	$n = 0;
	return 1;
}
sub sel {
	my ($name, $short) = @_;
	return defined $only ? $name =~ /$only/ : ($full || $short);
}

sub say_and_wait {
	my ($text, $timeout) = @_;
	$sb->message(text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts('C0GENERAL', ++$n, $d, $timeout);
	return $p[$n - 1];
}

my $ran = 0;
section(\@cells, 'jira create');
for my $c (@cells) {
	my ($name, $short, $f) = @$c;
	next if !sel($name, $short);
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
	['pd-create huge 201 after the work', 0, { status => 0,
	    pad_bytes => $HUGE }],
	['pd-create cut 201 after the work', 0, { status => 0,
	    cut_bytes => 15 }],
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
section(\@pd_cells, 'pd create');
for my $c (@pd_cells) {
	my ($name, $short, $f) = @$c;
	next if !sel($name, $short);
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
	['slack-reply 200 of the wrong shape', 0, { status => 200,
	    raw => '[{"ok":true}]' }],
	['slack-reply 302 redirect', 1, { status => 302, raw => '',
	    location => 'http://127.0.0.1:1/elsewhere' }],
	['slack-reply 503', 0, { status => 503 }],
	['slack-reply 429 with Retry-After', 0, { status => 429,
	    retry_after => 1 }],
	# Before the work: chat.postMessage has no idempotency key, so an
	# answer lost after the post is the known limit (see README).
	['slack-reply huge 200', 0, { status => 200, raw => '{"ok":true}',
	    pad_bytes => $HUGE }],
	['slack-reply cut 200', 0, { status => 200,
	    raw => '{"ok":true,"channel":"D0ALICE","ts":"1.000100"}',
	    cut_bytes => 9 }],
);
section(\@slack_cells, 'slack reply');
for my $c (@slack_cells) {
	my ($name, $short, $f) = @$c;
	next if !sel($name, $short);
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
######################################################### shared helpers

# What the fake answered, also when a fault replaced it.
sub answer_of {
	my ($r) = @_;
	return exists $r->{processed_status} ? $r->{processed_response} :
	    $r->{response};
}
sub help_answered {
	my ($s, $dd, $name) = @_;
	my %seen = map { $_->{ts} => 1 } $s->bot_posts('C0GENERAL');
	$s->message(text => "<\@U0BOT> help");
	ok(wait_for(sub { $dd->check_alive; grep { !$seen{$_->{ts}} &&
	    alltext($_) =~ /`help \[command\]`/ } $s->bot_posts('C0GENERAL') },
	    'help', 30), "$name: help answered");
}
sub new_ticket {
	my ($s, $summary) = @_;
	return $s->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', summary => $summary })->{key};
}
# `new channel KEY` answered: (channel id or undef, the answer's text).
sub new_channel {
	my ($s, $dd, $key) = @_;
	my %seen = map { $_->{ts} => 1 } $s->bot_posts('C0GENERAL');
	$s->message(text => "<\@U0BOT> new channel $key");
	my ($cid, $t);
	wait_for(sub {
		$dd->check_alive;
		for (grep { !$seen{$_->{ts}} } $s->bot_posts('C0GENERAL')) {
			my $x = alltext($_);
			next if $x !~ /\Q$key\E/;
			$t = $x;
			($cid) = $x =~ /^Created <#(C\w+)> for \Q$key\E/;
			return 1;
		}
		return 0;
	}, "new channel $key answered", 60);
	return ($cid, $t // '');
}
sub channels_named {
	my ($s, $re) = @_;
	my $r = $s->get('/control/slack/channels');
	return grep { ($_->{name} // "") =~ $re } @{$r->{channels} // []};
}
sub channel_info {
	my ($s, $id) = @_;
	my ($c) = grep { $_->{id} eq $id }
	    @{$s->get('/control/slack/channels')->{channels} // []};
	return $c;
}
sub ok_answers {
	my ($s, $service, $re, $pred) = @_;
	return grep { $_->{processed} && $pred->($_) &&
	    ref(answer_of($_)) eq 'HASH' && (answer_of($_)->{ok} //
	    (($_->{processed_status} // $_->{status}) =~ /^2/)) }
	    $s->requests($service, $re);
}

# The Slack fault shapes of a chat.postMessage path (the channel post,
# the archive notice). Each post carries its job's token in its
# metadata: an answer lost after the post is looked up, not repeated.
my @POST_SHAPES = (
	['503', { status => 503 }],
	['429 retry-after 1', { status => 429, retry_after => 1 }],
	['429 no retry-after', { status => 429 }],
	['429 far-future retry-after', { status => 429,
	    retry_after => 86400 }],
	['200 not JSON', { status => 200, raw => '<html>upstream</html>' }],
	['empty 200', { status => 200, raw => '' }],
	['200 wrong shape', { status => 200, raw => '["ok",true]' }],
	['302 redirect', { status => 302, raw => '',
	    location => 'http://127.0.0.1:1/elsewhere' }],
	['huge 200', { status => 200, raw => '{"ok":true}',
	    pad_bytes => $HUGE }],
	['cut 200', { status => 200,
	    raw => '{"ok":true,"channel":"C0X","ts":"1.000300"}',
	    cut_bytes => 9 }],
	['reset after the work', { status => -1, after => $T }],
	['502 after the work', { status => 502, after => $T }],
	['cut 200 after the work', { status => 0, cut_bytes => 20 }],
	['huge 200 after the work', { status => 0, pad_bytes => $HUGE }],
);
# The shapes of a Jira write with no idempotency key (a comment), whose
# job reads before it sends again.
my @JIRA_SHAPES = (
	['503', { status => 503 }],
	['429 retry-after 1', { status => 429, retry_after => 1 }],
	['429 no retry-after', { status => 429 }],
	['reset after the work', { status => -1, after => $T }],
	['502 after the work', { status => 502, after => $T }],
	['201 not JSON after the work', { status => 201, after => $T,
	    raw => '<html><body>OK</body></html>' }],
	['empty 201 after the work', { status => 201, after => $T,
	    raw => '' }],
	['cut 201 after the work', { status => 0, cut_bytes => 10 }],
	['huge 201 after the work', { status => 0, pad_bytes => $HUGE }],
	['302 redirect', { status => 302,
	    location => 'http://127.0.0.1:1/rest/api/2/issue' }],
);
# Cells "$path SHAPE", short where the shape's name matches $short.
sub cells {
	my ($path, $short, @shapes) = @_;
	return map { ["$path $_->[0]", $_->[0] =~ $short ? 1 : 0, $_->[1],
	    $_->[2]] } @shapes;
}
# The chat.postMessage requests whose body holds $text.
sub posts_of {
	my ($s, $text) = @_;
	return grep { ($_->{body} // '') =~ /\Q$text\E/ }
	    $s->requests('slack', qr{/api/chat\.postMessage$});
}

# Run $run->(name, fault, expectation, a fresh ticket's key) for each
# selected cell, $per cells a section (configuration %$conf): every
# sandbox and daemon must end inside the harness's 120 s alarm.
sub each_cell {
	my ($cells, $per, $what, $conf, $run) = @_;
	for (my $i = 0; $i < @$cells; $i += $per) {
		my $j = $i + $per > @$cells ? $#$cells : $i + $per - 1;
		my @part = @$cells[$i .. $j];
		section(\@part, $what, %$conf);
		for my $c (@part) {
			my ($name, $short, $f, $expect) = @$c;
			next if !sel($name, $short);
			$ran++;
			(my $summary = "cell $name") =~ s/[^A-Za-z0-9 -]//g;
			$run->($name, $f, $expect // 'once',
			    new_ticket($sb, $summary));
		}
	}
}
# Arm $f on the chat.postMessage whose body holds $text; how many such
# posts were sent before.
sub arm_post {
	my ($text, $f) = @_;
	my $n = () = posts_of($sb, $text);
	$sb->fault(service => 'slack', match => 'chat.postMessage',
	    contains => $text, count => 1, %$f);
	return $n;
}
# Every fault armed was met: the cell tested what it says.
sub fault_met {
	my ($name) = @_;
	is(scalar @{$sb->get('/control/faults')->{faults}}, 0,
	    "$name: the fault was met");
}
# The closed ticket's channel $cid is archived, and after one more poll
# (anything it would repeat shows by its end) archived once; the
# archive calls that took.
sub archived_once {
	my ($name, $cid) = @_;
	ok(wait_for(sub { $d->check_alive;
	    (channel_info($sb, $cid) // {})->{is_archived} }, 'archived', 60),
	    "$name: archived");
	my $np = () = $sb->requests('jira', qr{/search});
	wait_for(sub { my $n = () = $sb->requests('jira', qr{/search});
	    $n >= $np + 1 }, 'one more poll', 30);
	my @ar = ok_answers($sb, 'slack', qr{/api/conversations\.archive$},
	    sub { ($_[0]{json}{channel} // '') eq $cid });
	is(scalar @ar, 1, "$name: archived once");
	return @ar;
}

######################################################### new channel

# A Slack Web API step of `new channel` (or its Jira link back) meets the
# fault; the channel is still set up once: one channel without a "-2",
# its topic, the manager and the requester invited by one invite that
# took, one remote link.
my @nc_cells = (
	['channel-create 503', 0, 'slack', 'conversations.create',
	    { status => 503 }],
	['channel-create 429 retry-after 1', 0, 'slack',
	    'conversations.create', { status => 429, retry_after => 1 }],
	['channel-create reset after the work', 1, 'slack',
	    'conversations.create', { status => -1, after => $T }],
	['channel-create 200 not JSON after the work', 0, 'slack',
	    'conversations.create', { status => 200, after => $T,
	    raw => '<html>upstream</html>' }],
	['channel-create 200 without a channel after the work', 0, 'slack',
	    'conversations.create', { status => 200, after => $T,
	    raw => '{"ok":true}' }],
	['channel-create huge 200 after the work', 0, 'slack',
	    'conversations.create', { status => 0, pad_bytes => $HUGE }],
	['channel-create cut 200 after the work', 1, 'slack',
	    'conversations.create', { status => 0, cut_bytes => 20 }],
	['channel-topic 503', 0, 'slack', 'conversations.setTopic',
	    { status => 503 }],
	['channel-topic 429 retry-after 1', 0, 'slack',
	    'conversations.setTopic', { status => 429, retry_after => 1 }],
	['channel-topic reset after the work', 0, 'slack',
	    'conversations.setTopic', { status => -1, after => $T }],
	['channel-topic cut 200 after the work', 0, 'slack',
	    'conversations.setTopic', { status => 0, cut_bytes => 5 }],
	['channel-invite 503', 0, 'slack', 'conversations.invite',
	    { status => 503 }],
	['channel-invite 429 retry-after 1', 0, 'slack',
	    'conversations.invite', { status => 429, retry_after => 1 }],
	['channel-invite reset after the work', 1, 'slack',
	    'conversations.invite', { status => -1, after => $T }],
	['channel-invite 200 not JSON after the work', 0, 'slack',
	    'conversations.invite', { status => 200, after => $T,
	    raw => '<html>upstream</html>' }],
	['channel-invite huge 200 after the work', 0, 'slack',
	    'conversations.invite', { status => 0, pad_bytes => $HUGE }],
	['channel-link 503', 0, 'jira', '/remotelink',
	    { status => 503, method => 'POST' }],
	['channel-link 429 retry-after 1', 0, 'jira', '/remotelink',
	    { status => 429, retry_after => 1, method => 'POST' }],
	['channel-link reset after the work', 1, 'jira', '/remotelink',
	    { status => -1, after => $T, method => 'POST' }],
	['channel-link cut 201 after the work', 0, 'jira', '/remotelink',
	    { status => 0, cut_bytes => 10, method => 'POST' }],
);
section(\@nc_cells, 'new channel');
for my $c (@nc_cells) {
	my ($name, $short, $svc, $match, $f) = @$c;
	next if !sel($name, $short);
	$ran++;
	(my $summary = "cell $name") =~ s/[^A-Za-z0-9 -]//g;
	my $key = new_ticket($sb, $summary);
	my $nreq = () = $sb->requests($svc, qr/\Q$match\E/);
	$sb->fault(service => $svc, match => $match, count => 1, %$f);
	my ($cid, $t) = new_channel($sb, $d, $key);
	ok($cid, "$name: set up") or diag($t);
	$cid //= 'none';
	my $cname = lc("inc-$key");
	my @ch = channels_named($sb, qr/^\Q$cname\E(-\d+)?$/);
	is(scalar @ch, 1, "$name: exactly one channel") or diag explain \@ch;
	is($ch[0]{name} // '', $cname, "$name: no suffix");
	like($ch[0]{topic}{value} // '', qr{/browse/\Q$key\E },
	    "$name: topic set");
	my %m = map { $_ => 1 } @{$ch[0]{members} // []};
	ok($m{U0CAROL} && $m{U0ALICE}, "$name: manager and requester in");
	# Invited once each: one join apiece (a repeated invite is
	# already_in_channel, or with force a no-op).
	my %joins;
	$joins{$_->{user} // ''}++ for grep { ($_->{subtype} // '') eq
	    'channel_join' } $sb->messages($cid);
	is_deeply([@joins{qw(U0CAROL U0ALICE)}], [1, 1],
	    "$name: one invite each");
	my $is = $sb->post('/control/jira/get', { key => $key });
	my @rl = @{$is->{remotelinks} // []};
	is(scalar @rl, 1, "$name: one remote link");
	like($rl[0]{object}{url} // '', qr{/archives/\Q$cid\E$},
	    "$name: the link points to the channel");
	my $sent = () = $sb->requests($svc, qr/\Q$match\E/);
	cmp_ok($sent - $nreq, '<=', 4, "$name: at most four calls");
	$sb->post('/control/faults/clear');
	help_answered($sb, $d, $name);
}

######################################################### channel post

# The post step of `new channel`: the bot's first message in the new
# channel (the ticket) meets the fault; the fault matches that message
# only ("contains": its context line), not the answer to the requester.
# The channel is set up once, without a "-2", and the ticket posted once:
# an answer lost after the post is looked up by the token in the post's
# metadata before anything is sent again. A refusal skips the post, and
# the requester is told.
my $NC_POST = 'Tag important messages with';
my @post_cells = (['channel-post refused', 1, { status => 200,
    raw => '{"ok":false,"error":"not_in_channel"}' }, 'refused'],
    cells('channel-post', qr/^503$/, @POST_SHAPES));
each_cell(\@post_cells, 8, 'channel post', {}, sub {
	my ($name, $f, $expect, $key) = @_;
	my $npost = arm_post($NC_POST, $f);
	my ($cid, $t) = new_channel($sb, $d, $key);
	ok($cid, "$name: set up") or diag($t);
	$cid //= 'none';
	fault_met($name);
	my $cname = lc("inc-$key");
	my @ch = channels_named($sb, qr/^\Q$cname\E(-\d+)?$/);
	is(scalar @ch, 1, "$name: exactly one channel") or diag explain \@ch;
	is($ch[0]{name} // '', $cname, "$name: no suffix");
	my @p = grep { ($_->{text} // '') =~
	    /^:rotating_light: \*<[^|>]*\|\Q$key\E>\*/ } $sb->bot_posts($cid);
	if ($expect eq 'refused') {
		is(scalar @p, 0, "$name: not posted");
		like($t, qr/could not post the ticket in it: not_in_channel/,
		    "$name: the requester is told");
	} else {
		is(scalar @p, 1, "$name: posted once");
	}
	my $is = $sb->post('/control/jira/get', { key => $key });
	is(scalar @{$is->{remotelinks} // []}, 1, "$name: one remote link");
	cmp_ok(posts_of($sb, $NC_POST) - $npost, '<=', 3,
	    "$name: at most three posts");
	$sb->post('/control/faults/clear');
	help_answered($sb, $d, $name);
});

######################################################### Jira comment

# Jira refuses the remote link (403: no permission, links disabled), so
# `new channel` falls back to a comment with the channel's URL, and the
# comment meets the fault. Jira has no idempotency key for comments: an
# unsure answer is followed by reading the comments before any resend.
# Exactly one comment, no remote link.
my @cm_cells = cells('channel-comment', qr/^(503|reset after the work)$/,
    @JIRA_SHAPES);
each_cell(\@cm_cells, 5, 'Jira comment', {}, sub {
	my ($name, $f, $expect, $key) = @_;
	my $cre = qr{/issue/\Q$key\E/comment$};
	$sb->fault(service => 'jira', match => '/remotelink', method => 'POST',
	    status => 403, count => 1);
	$sb->fault(service => 'jira', match => '/comment', method => 'POST',
	    count => 1, %$f);
	my ($cid, $t) = new_channel($sb, $d, $key);
	ok($cid, "$name: set up") or diag($t);
	$cid //= 'none';
	fault_met($name);
	my @ch = channels_named($sb, qr/^\Q@{[lc "inc-$key"]}\E(-\d+)?$/);
	is(scalar @ch, 1, "$name: exactly one channel");
	my $is = $sb->post('/control/jira/get', { key => $key });
	is(scalar @{$is->{remotelinks} // []}, 0, "$name: no remote link");
	my @cm = grep { ($_->{body_text} // '') =~
	    m{^Slack incident channel: \S+/archives/\Q$cid\E$} }
	    @{$is->{comments} // []};
	is(scalar @cm, 1, "$name: exactly one comment with the channel") or
	    diag explain $is->{comments};
	my $sent = () = grep { $_->{method} eq 'POST' }
	    $sb->requests('jira', $cre);
	cmp_ok($sent, '<=', 2, "$name: at most two comments sent");
	$sb->post('/control/faults/clear');
	help_answered($sb, $d, $name);
});

######################################################### timeline DM

# `get timeline` in an incident channel: the DM meets the fault. Sent
# once, or the requester is told. chat.postMessage has no idempotency
# key: each piece carries the job's token in its metadata, and an answer
# lost after the post is looked up in the DM's history before anything
# is sent again. count 2 also strikes the reply job's "Sent you the
# timeline" in the channel, which is looked up the same way.
my @tl_cells = (
	['timeline-dm 503', 0, { status => 503 }],
	['timeline-dm 429 retry-after 1', 0, { status => 429,
	    retry_after => 1 }],
	['timeline-dm 200 not JSON', 1, { status => 200,
	    raw => '<html>upstream</html>' }],
	['timeline-dm empty 200', 0, { status => 200, raw => '' }],
	['timeline-dm huge 200', 0, { status => 200, raw => '{"ok":true}',
	    pad_bytes => $HUGE }],
	['timeline-dm cut 200', 0, { status => 200,
	    raw => '{"ok":true,"channel":"D0ALICE","ts":"1.000200"}',
	    cut_bytes => 9 }],
	['timeline-dm refused', 0, { status => 200,
	    raw => '{"ok":false,"error":"channel_not_found"}' }, 'refused'],
	['timeline-dm reset after the work', 1, { status => -1,
	    after => $T }],
	['timeline-dm 503 after the work', 0, { status => 503,
	    after => $T }],
	['timeline-dm cut 200 after the work', 1, { status => 0,
	    cut_bytes => 9 }],
	['timeline-dm and its reply reset after the work', 1, { status => -1,
	    after => $T, count => 2 }],
);
my $tl_cid;
section(\@tl_cells, 'timeline');
for my $c (@tl_cells) {
	my ($name, $short, $f, $expect) = @$c;
	next if !sel($name, $short);
	$ran++;
	$expect //= 'once';
	if (!defined $tl_cid) {
		my $key = new_ticket($sb, 'Timeline cells');
		($tl_cid) = new_channel($sb, $d, $key);
		ok($tl_cid, 'timeline: incident channel');
		$tl_cid //= 'none';
		my $m = $sb->message(channel => $tl_cid, user => 'U0ALICE',
		    text => 'Rolled back the deploy');
		$sb->post('/control/slack/reaction', { channel => $tl_cid,
		    ts => $m->{ts}, user => 'U0ALICE', reaction => 'memo' });
		# Indexed once a timeline shows it.
		my %s0 = map { $_->{ts} => 1 } $sb->bot_posts('D0ALICE');
		$sb->message(channel => $tl_cid, user => 'U0ALICE',
		    text => '<@U0BOT> get timeline');
		ok(wait_for(sub { grep { !$s0{$_->{ts}} && alltext($_) =~
		    /Rolled back/ } $sb->bot_posts('D0ALICE') }, 'timeline',
		    30), 'timeline: the tag is indexed');
	}
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts('D0ALICE'),
	    $sb->bot_posts($tl_cid);
	my $nreq = () = $sb->requests('slack', qr{/api/chat\.postMessage$});
	my $nhist = () = $sb->requests('slack',
	    qr{/api/conversations\.history$});
	$sb->fault(service => 'slack', match => 'chat.postMessage',
	    count => 1, %$f);
	$sb->message(channel => $tl_cid, user => 'U0ALICE',
	    text => '<@U0BOT> get timeline');
	my $re = $expect eq 'refused' ?
	    qr/:warning: I could not send you the timeline: channel_not_found/ :
	    qr/Sent you the timeline of #/;
	ok(wait_for(sub { $d->check_alive; grep { !$seen{$_->{ts}} &&
	    alltext($_) =~ $re } $sb->bot_posts($tl_cid) }, 'the reply', 60),
	    "$name: " . ($expect eq 'refused' ? 'told why' : 'answered'));
	my @dm = grep { !$seen{$_->{ts}} && alltext($_) =~ /Rolled back/ }
	    $sb->bot_posts('D0ALICE');
	if ($expect eq 'refused') {
		is(scalar @dm, 0, "$name: no DM");
	} else {
		is(scalar @dm, 1, "$name: exactly one DM");
		# A struck reply's next move: a look at the channel's history
		# (the probe) or a second post (no probe).
		my @said;
		wait_for(sub { @said = grep { !$seen{$_->{ts}} &&
		    alltext($_) =~ $re } $sb->bot_posts($tl_cid);
		    my @h = $sb->requests('slack',
		    qr{/api/conversations\.history$});
		    @said > 1 || grep { ($_->{params}{channel} // '') eq
		    $tl_cid } @h[$nhist .. $#h] }, 'the reply job done', 30)
		    if ($f->{count} // 1) > 1;
		@said = grep { !$seen{$_->{ts}} && alltext($_) =~ $re }
		    $sb->bot_posts($tl_cid);
		is(scalar @said, 1, "$name: exactly one reply");
	}
	my $sent = () = $sb->requests('slack', qr{/api/chat\.postMessage$});
	cmp_ok($sent - $nreq, '<=', 5, "$name: requests bounded");
	$sb->post('/control/faults/clear');
	help_answered($sb, $d, $name);
}

######################################################### PD responders

# In an incident channel whose incident has a PagerDuty incident, a
# later page asks the target to join it (pd_responder): the responder
# request meets the fault. One request took; "1 of 1" paged.
my @rr_cells = (
	['pd-responder 503', 0, { status => 503 }],
	['pd-responder 429 retry-after 1', 0, { status => 429,
	    retry_after => 1 }],
	['pd-responder 502 after the work', 1, { status => 502,
	    after => $T }],
	['pd-responder reset after the work', 0, { status => -1,
	    after => $T }],
	['pd-responder empty 200 after the work', 0, { status => 200,
	    after => $T, raw => '' }],
	['pd-responder huge 200 after the work', 0, { status => 0,
	    pad_bytes => $HUGE }],
	['pd-responder cut 200 after the work', 0, { status => 0,
	    cut_bytes => 25 }],
);
my ($rr_cid, $rr_pd);
section(\@rr_cells, 'responders');
sub rr_page {
	my ($text) = @_;
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts($rr_cid);
	$sb->message(channel => $rr_cid, user => 'U0ALICE',
	    text => "<\@U0BOT> $text");
	my $p;
	wait_for(sub { ($p) = grep { !$seen{$_->{ts}} &&
	    alltext($_) =~ /asks to page/ } $sb->bot_posts($rr_cid); $p },
	    'confirmation', 30);
	return ($p, \%seen);
}
sub rr_paged {
	my ($seen) = @_;
	return wait_for(sub { $d->check_alive; grep { !$seen->{$_->{ts}} &&
	    alltext($_) =~ /\*1 of 1\* target\(s\) paged/ }
	    $sb->bot_posts($rr_cid) }, 'announcement', 60);
}
sub rr_click {
	my ($p) = @_;
	$sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => $rr_cid, message_ts => ($p // {})->{ts},
	    action_id => 'page_confirm' });
}
for my $c (@rr_cells) {
	my ($name, $short, $f) = @$c;
	next if !sel($name, $short);
	$ran++;
	if (!defined $rr_cid) {
		my $key = new_ticket($sb, 'Responder cells');
		($rr_cid) = new_channel($sb, $d, $key);
		ok($rr_cid, 'responders: incident channel');
		$rr_cid //= 'none';
		my ($p, $seen) = rr_page('page Database');
		rr_click($p);
		ok(rr_paged($seen), 'responders: the PagerDuty incident');
		my ($cr) = grep { $_->{method} eq 'POST' &&
		    ($_->{json}{incident}{title} // '') =~ /\Q$key\E/ }
		    $sb->requests('pagerduty', qr{^/incidents$});
		$rr_pd = ($cr // {})->{response}{incident}{id} // 'none';
	}
	my $rre = qr{^/incidents/\Q$rr_pd\E/responder_requests$};
	my @before = grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', $rre);
	my ($p, $seen) = rr_page('page <@U0BOB>');
	ok($p, "$name: confirmation");
	$sb->fault(service => 'pagerduty', match => '/responder_requests',
	    method => 'POST', count => 1, %$f);
	rr_click($p);
	ok(rr_paged($seen), "$name: paged");
	my @after = grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', $rre);
	my @took = grep { $_->{processed} &&
	    ($_->{processed_status} // $_->{status}) =~ /^2/ }
	    @after[scalar @before .. $#after];
	is(scalar @took, 1, "$name: exactly one responder request");
	cmp_ok(@after - @before, '<=', 2, "$name: at most two requests");
	my $pdc = () = grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', qr{^/incidents$});
	$sb->post('/control/faults/clear');
	help_answered($sb, $d, $name);
	my $pdc2 = () = grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', qr{^/incidents$});
	is($pdc2, $pdc, "$name: no second PagerDuty incident");
}

######################################################### Jira poller

# The poller (follow.c's jira_poll job, every second here) meets the
# fault while a ticket closes; the closed ticket's channel is still
# archived once, after one notice. Its own sandbox and daemon: the
# polls would otherwise run through every other cell.
my @poll_cells = (
	['jira-poll 503', 1, 'jira', '/search', { status => 503 }],
	['jira-poll 429 retry-after 1', 0, 'jira', '/search',
	    { status => 429, retry_after => 1 }],
	['jira-poll reset', 0, 'jira', '/search', { status => -1 }],
	['jira-poll 200 not JSON', 0, 'jira', '/search', { status => 200,
	    raw => '<html><body>Maintenance</body></html>' }],
	['jira-poll empty 200', 0, 'jira', '/search', { status => 200,
	    raw => '' }],
	['jira-poll 200 without issues', 0, 'jira', '/search',
	    { status => 200, raw => '{"startAt":0,"maxResults":100}' }],
	['jira-poll huge 200', 0, 'jira', '/search', { status => 0,
	    pad_bytes => $HUGE }],
	['jira-poll cut 200', 1, 'jira', '/search', { status => 0,
	    cut_bytes => 30 }],
	['archive 503', 0, 'slack', 'conversations.archive',
	    { status => 503 }],
	['archive reset after the work', 0, 'slack', 'conversations.archive',
	    { status => -1, after => $T }],
);
section(\@poll_cells, 'poller', schedule => { poll_interval => '1s',
    archive_after => '2s' });
for my $c (@poll_cells) {
	my ($name, $short, $svc, $match, $f) = @$c;
	next if !sel($name, $short);
	$ran++;
	(my $summary = "cell $name") =~ s/[^A-Za-z0-9 -]//g;
	my $key = new_ticket($sb, $summary);
	my ($cid, $t) = new_channel($sb, $d, $key);
	ok($cid, "$name: channel") or diag($t);
	$cid //= 'none';
	my $nreq = () = $sb->requests($svc, qr/\Q$match\E/);
	$sb->fault(service => $svc, match => $match, count => 1, %$f);
	$sb->post('/control/jira/transition', { key => $key,
	    status => 'Done' });
	archived_once($name, $cid);
	my @notice = grep { alltext($_) =~ /will be archived/ }
	    $sb->bot_posts($cid);
	is(scalar @notice, 1, "$name: one notice");
	my $sent = () = $sb->requests($svc, qr/\Q$match\E/);
	cmp_ok($sent - $nreq, '<=', $svc eq 'jira' ? 20 : 4,
	    "$name: requests bounded");
	$sb->post('/control/faults/clear');
	help_answered($sb, $d, $name);
}

######################################################### archive notice

# The "Keep open" notice before a closed ticket's channel is archived
# (follow.c's archive_notice job) meets a Slack fault. archive_after 6 s
# puts the notice 3 s before the archive: room for a Retry-After of 1 s
# and the job's retries. Posted once (an answer lost after the post is
# looked up by its token), before the archive; archived once.
my $AN = 'Press *Keep open*';
my @an_cells = cells('archive-notice', qr/^503$/, @POST_SHAPES);
each_cell(\@an_cells, 5, 'archive notice', { schedule => {
    poll_interval => '1s', archive_after => '6s' } }, sub {
	my ($name, $f, $expect, $key) = @_;
	my ($cid, $t) = new_channel($sb, $d, $key);
	ok($cid, "$name: channel") or diag($t);
	$cid //= 'none';
	my $nsent = arm_post($AN, $f);
	$sb->post('/control/jira/transition', { key => $key,
	    status => 'Done' });
	my @ar = archived_once($name, $cid);
	fault_met($name);
	is(scalar(grep { alltext($_) =~ /\Q$AN\E/ } $sb->bot_posts($cid)), 1,
	    "$name: notice posted once");
	my ($took) = grep { $_->{processed} &&
	    ($_->{json}{channel} // '') eq $cid } posts_of($sb, $AN);
	ok($took && @ar && $took->{time} < $ar[0]{time},
	    "$name: the notice before the archive");
	cmp_ok(posts_of($sb, $AN) - $nsent, '<=', 3,
	    "$name: at most three posts");
	$sb->post('/control/faults/clear');
	help_answered($sb, $d, $name);
});

ok($ran > 0, "$ran cell(s) ran");
is($d->stop, 0, 'a clean stop after the faults') if defined $d;
done_testing();
