# sandbox-lifecycle.t: what the sandbox models for the end of an
# incident, checked from outside with plain HTTP calls. Jira: issue
# links (both ends, link types, linkedIssues JQL), the "AAR Meeting"
# datetime field, a user who hides her email, the user's time zone in
# JQL dates and stable paging. Slack: conversations.members, archive
# and unarchive (refused to the bot, done with the admin's user token),
# and channels archived or deleted by people.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

############################################################ Jira

my $sb = new_sandbox();

sub issue {
	my ($summary, %o) = @_;
	my $r = $sb->post('/control/jira/issue', { summary => $summary, %o });
	ok($r->{ok}, "issue '$summary'") or diag explain $r;
	return $r->{key};
}
sub jira { return $sb->jira_api(@_) }
sub fields {
	my ($key, $fields) = @_;
	my (undef, $b) = jira('GET', "/rest/api/2/issue/$key?fields=$fields");
	return $b->{fields};
}
sub search {
	my ($jql, %o) = @_;
	return jira('POST', '/rest/api/3/search/jql', { jql => $jql,
	    fields => ['summary'], %o });
}
sub keys_of { return join(' ', map { $_->{key} } @{$_[0]{issues} // []}) }

my $inc = issue('Checkout down', updated => '-2d');
my $fix = issue('Add a replica', issuetype => 'Task', updated => '-2d');
my $blk = issue('Quota raise', issuetype => 'Task', updated => '-2d');

# Link types as Jira seeds them.
my ($st, $b) = jira('GET', '/rest/api/2/issueLinkType');
is($st, 200, 'issueLinkType');
my %lt = map { $_->{name} => $_ } @{$b->{issueLinkTypes} // []};
is_deeply([@{$lt{Relates}}{qw(inward outward)}], ['relates to',
    'relates to'], 'Relates: relates to / relates to');
is_deeply([@{$lt{Blocks}}{qw(inward outward)}], ['is blocked by',
    'blocks'], 'Blocks: is blocked by / blocks');
ok($lt{Cloners} && $lt{Cloners}{id} =~ /^\d+$/, 'Cloners, with an id');
like($lt{Relates}{self} // '', qr{/rest/api/2/issueLinkType/\d+$}, 'self');
($st, $b) = jira('GET', "/rest/api/3/issueLinkType/$lt{Blocks}{id}");
is($b->{name}, 'Blocks', 'one link type by id');

# A corrective action linked over REST: "fix relates to inc".
my $before = fields($inc, 'updated')->{updated};
($st, $b) = jira('POST', '/rest/api/2/issueLink', { type =>
    { name => 'Relates' }, inwardIssue => { key => $fix },
    outwardIssue => { key => $inc } });
is($st, 201, 'issueLink: 201');
ok(!defined $b, 'and no body');
my $f = fields($inc, 'issuelinks,updated');
isnt($f->{updated}, $before, 'the linked issue was updated');
is(scalar @{$f->{issuelinks}}, 1, 'one link on the incident');
my $l = $f->{issuelinks}[0];
is($l->{type}{name}, 'Relates', 'type');
is($l->{inwardIssue}{key}, $fix, 'the action is the inward issue there');
ok(!exists $l->{outwardIssue}, 'and the only end shown');
is($l->{inwardIssue}{fields}{summary}, 'Add a replica', 'its summary');
is($l->{inwardIssue}{fields}{status}{statusCategory}{key}, 'new',
    'its status category');
is($l->{inwardIssue}{fields}{issuetype}{name}, 'Task', 'its type');
is($l->{inwardIssue}{fields}{priority}{name}, 'Medium', 'its priority');
like($l->{self}, qr{/rest/api/2/issueLink/\Q$l->{id}\E$}, 'link self');
$f = fields($fix, 'issuelinks');
is($f->{issuelinks}[0]{outwardIssue}{key}, $inc,
    'the other end sees the incident as outward');
is($f->{issuelinks}[0]{id}, $l->{id}, 'the same link');
($st) = jira('POST', '/rest/api/2/issueLink', { type => { id =>
    $lt{Relates}{id} }, inwardIssue => { key => $fix },
    outwardIssue => { key => $inc } });
is($st, 201, 'the same link again: 201');
is(scalar @{fields($inc, 'issuelinks')->{issuelinks}}, 1,
    'and still one link');

# Errors as Jira has them.
($st, $b) = jira('POST', '/rest/api/2/issueLink', { type => { name => 'Nope' },
    inwardIssue => { key => $fix }, outwardIssue => { key => $inc } });
is($st, 404, 'unknown link type: 404');
like($b->{errorMessages}[0] // '', qr/Nope/, 'named in errorMessages');
($st, $b) = jira('POST', '/rest/api/2/issueLink', { type => { name =>
    'Relates' }, inwardIssue => { key => 'INC-999' },
    outwardIssue => { key => $inc } });
is($st, 404, 'missing issue: 404');
ok(ref $b->{errors} eq 'HASH', 'Jira error shape');
($st) = jira('POST', '/rest/api/2/issueLink', { inwardIssue => { key => $fix },
    outwardIssue => { key => $inc } });
is($st, 400, 'no type: 400');

# One link read and deleted by id.
($st, $b) = jira('GET', "/rest/api/2/issueLink/$l->{id}");
is($b->{inwardIssue}{key}, $fix, 'issueLink by id: inward');
is($b->{outwardIssue}{key}, $inc, 'issueLink by id: outward');
($st) = jira('DELETE', "/rest/api/2/issueLink/$l->{id}");
is($st, 204, 'DELETE issueLink: 204');
($st) = jira('GET', "/rest/api/2/issueLink/$l->{id}");
is($st, 404, 'gone');
is_deeply(fields($inc, 'issuelinks')->{issuelinks}, [], 'no links left');

# Linked with the control op; Blocks shows the direction.
my $r = $sb->post('/control/jira/link', { from => $fix, to => $inc,
    type => 'Relates' });
ok($r->{ok} && $r->{id}, 'link op') or diag explain $r;
$r = $sb->post('/control/jira/link', { from => $blk, to => $inc,
    type => 'Blocks' });
ok($r->{ok}, 'link op: blocks');
$r = $sb->post('/control/jira/link', { from => $blk, to => $inc,
    type => 'Nope' });
ok(!$r->{ok}, 'link op: unknown type');
my ($in) = grep { $_->{type}{name} eq 'Blocks' }
    @{fields($inc, 'issuelinks')->{issuelinks}};
is($in->{inwardIssue}{key}, $blk, 'the incident is blocked by the quota');
is($in->{type}{inward}, 'is blocked by', 'read with type.inward');
($in) = @{fields($blk, 'issuelinks')->{issuelinks}};
is($in->{outwardIssue}{key}, $inc, 'the quota blocks the incident');
($st, $b) = search("key = $inc", fields => ['issuelinks']);
is(scalar @{$b->{issues}[0]{fields}{issuelinks}}, 2,
    'search results carry the links');

# linkedIssues().
($st, $b) = search("issue in linkedIssues(\"$inc\") ORDER BY key ASC");
is(keys_of($b), "$fix $blk", 'linkedIssues: every linked issue');
($st, $b) = search("issue in linkedIssues($inc, \"is blocked by\")");
is(keys_of($b), $blk, 'linkedIssues with a description');
($st, $b) = search("issue in linkedIssues($blk, \"blocks\")");
is(keys_of($b), $inc, 'from the other side');
($st, $b) = search("issue in linkedIssues($inc, \"relates to\") AND "
    . "statusCategory != Done");
is(keys_of($b), $fix, 'open corrective actions');
($st, $b) = search("issue in linkedIssues($inc, \"fred\")");
is($st, 400, 'unknown description: 400');
is($b->{errorMessages}[0], "Issue link type 'fred' could not be found in "
    . "function 'linkedIssues'.", 'as Jira words it');
($st, $b) = search('issue in linkedIssues("INC-999")');
is($b->{errorMessages}[0], "Issue 'INC-999' could not be found in "
    . "function 'linkedIssues'.", 'unknown issue');

# The AAR Meeting datetime field, in and out as Jira formats it.
($st, $b) = jira('GET', '/rest/api/2/field');
my ($aar) = grep { $_->{name} eq 'AAR Meeting' } @$b;
is($aar->{id}, 'customfield_10054', 'AAR Meeting is customfield_10054');
is($aar->{schema}{type}, 'datetime', 'a datetime');
is($aar->{schema}{custom},
    'com.atlassian.jira.plugin.system.customfieldtypes:datetime',
    'custom type');
($st) = jira('PUT', "/rest/api/2/issue/$inc", { fields =>
    { customfield_10054 => '2026-12-10T16:00:00.000+0100' } });
is($st, 204, 'AAR Meeting set');
is(fields($inc, 'customfield_10054')->{customfield_10054},
    '2026-12-10T15:00:00.000+0000', 'read back in the user zone (UTC)');
($st, $b) = jira('PUT', "/rest/api/2/issue/$inc", { fields =>
    { customfield_10054 => '10/Dec/26 3:00 PM' } });
is($st, 400, 'a malformed datetime: 400');
ok($b->{errors}{customfield_10054}, 'on the field');
($st, $b) = search('"AAR Meeting" = "2026-12-10 15:00"');
is(keys_of($b), $inc, 'JQL on the datetime field');
($st, $b) = search('cf[10054] > "2026-12-10 15:00"');
is(keys_of($b), '', 'to the minute');

# The edit op: fields straight in, updated moves.
$before = fields($fix, 'updated')->{updated};
$r = $sb->post('/control/jira/edit', { key => $fix, duedate => '2026-12-20',
    labels => ['aar-action'], assignee => 'alice@example.com',
    fields => { customfield_10054 => '2026-12-11T09:30:00.000+0000' } });
ok($r->{ok}, 'edit op') or diag explain $r;
$f = fields($fix, 'duedate,labels,assignee,updated,customfield_10054');
is($f->{duedate}, '2026-12-20', 'duedate');
is_deeply($f->{labels}, ['aar-action'], 'labels');
is($f->{assignee}{emailAddress}, 'alice@example.com', 'assignee by email');
is($f->{customfield_10054}, '2026-12-11T09:30:00.000+0000', 'datetime');
isnt($f->{updated}, $before, 'updated moved');
$r = $sb->post('/control/jira/edit', { key => $fix, assignee => 'nobody' });
like($r->{error} // '', qr/assignee/, 'edit op: unknown user');
$r = $sb->post('/control/jira/edit', { key => $fix, assignee => undef,
    updated => '2026-12-01T00:00:00Z' });
$f = fields($fix, 'assignee,updated');
ok(!defined $f->{assignee}, 'unassigned');
is($f->{updated}, '2026-12-01T00:00:00.000+0000', 'updated as given');

# Carol hides her email on Cloud: no emailAddress anywhere for her.
$r = $sb->post('/control/jira/edit', { key => $blk, assignee => 'carol',
    reporter => 'carol' });
$f = fields($blk, 'assignee,reporter');
is($f->{assignee}{displayName}, 'Carol Example', 'carol assigned');
ok($f->{assignee}{accountId}, 'with her accountId');
ok(!exists $f->{assignee}{emailAddress}, 'no emailAddress as assignee');
ok(!exists $f->{reporter}{emailAddress}, 'nor as reporter');
($st, $b) = jira('GET', "/rest/api/3/user?accountId=$f->{assignee}{accountId}");
ok($b->{displayName} && !exists $b->{emailAddress}, 'nor from /user');
($st, $b) = jira('GET', '/rest/api/3/user/search?query=carol');
is(scalar @$b, 1, 'user search by name finds her');
ok(!exists $b->[0]{emailAddress}, 'without her email');
($st, $b) = jira('GET', '/rest/api/3/user/search?query=carol%40example.com');
is(scalar @$b, 1, 'her whole email finds her');
($st, $b) = jira('GET', '/rest/api/3/user/search?query=carol%40exa');
is(scalar @$b, 0, 'part of a hidden email does not');
($st, $b) = jira('GET', '/rest/api/3/user/search?query=ali');
is($b->[0]{emailAddress}, 'alice@example.com', 'alice shows hers');

# Paging in (updated, key) order: equal times, no skips, no repeats.
my @same = map { issue("Same time $_", updated => '2026-12-05T09:00:00Z') }
    1 .. 5;
my (@got, $tok);
do {
	($st, $b) = search('summary ~ "Same time" ORDER BY updated ASC, key ASC',
	    maxResults => 2, defined $tok ? (nextPageToken => $tok) : ());
	push @got, map { $_->{key} } @{$b->{issues}};
	$tok = $b->{nextPageToken};
} while (defined $tok && @got < 20);
is("@got", "@same", 'nextPageToken pages in updated, key order');

# Dates in JQL are the user's time zone: UTC here.
my $t = issue('At 09:31 UTC', updated => '2026-12-05T09:31:00Z');
($st, $b) = search("key = $t AND updated >= \"2026/12/05 09:31\"");
is(keys_of($b), $t, 'yyyy/MM/dd HH:mm in UTC');
($st, $b) = search("key = $t AND updated >= \"2026-12-05 10:31\"");
is(keys_of($b), '', 'an hour later: no');
($st, $b) = search("key = $t AND updated >= \"2026-12-05 09:31:00\"");
is($st, 400, 'seconds are not a JQL date');

# The same issue for a user in Paris (UTC+1 in December).
SKIP: {
	skip 'no Europe/Paris in the zone database', 6
	    unless -e '/usr/share/zoneinfo/Europe/Paris' || $ENV{TZDIR};
	my $p = new_sandbox(args => ['--jira-timezone', 'Europe/Paris']);
	my $k = $p->post('/control/jira/issue', { summary => 'Paris',
	    updated => '2026-12-05T09:31:00Z' })->{key};
	my (undef, $me) = $p->jira_api('GET', '/rest/api/2/myself');
	is($me->{timeZone}, 'Europe/Paris', 'myself: the user zone');
	my (undef, $i) = $p->jira_api('GET',
	    "/rest/api/2/issue/$k?fields=updated");
	is($i->{fields}{updated}, '2026-12-05T10:31:00.000+0100',
	    'times rendered with its offset');
	my $q = sub {
		my (undef, $s) = $p->jira_api('POST', '/rest/api/3/search/jql',
		    { jql => $_[0] });
		return scalar @{$s->{issues} // []};
	};
	is($q->("updated >= \"2026/12/05 10:31\""), 1, '10:31 Paris matches');
	is($q->("updated > \"2026-12-05 10:31\""), 0, 'to the minute');
	is($q->("updated >= \"2026/12/05 09:32\""), 1,
	    '09:32 is before, in Paris');
	$p->post('/control/jira/edit', { key => $k,
	    fields => { customfield_10054 => '2026-12-10T15:00:00.000' } });
	(undef, $i) = $p->jira_api('GET',
	    "/rest/api/2/issue/$k?fields=customfield_10054");
	is($i->{fields}{customfield_10054}, '2026-12-10T15:00:00.000+0100',
	    'a datetime without offset is user time');
}

# Data Center: every email shows, and paging is by startAt.
{
	my $dc = new_sandbox(args => ['--jira-flavor', 'datacenter']);
	my @k = map { $dc->post('/control/jira/issue', { summary => "DC $_",
	    assignee => 'carol', updated => '2026-12-05T09:00:00Z' })->{key} }
	    1 .. 3;
	my (undef, $i) = $dc->jira_api('GET',
	    "/rest/api/2/issue/$k[0]?fields=assignee");
	is($i->{fields}{assignee}{emailAddress}, 'carol@example.com',
	    'Data Center shows carol\'s email');
	my (undef, $u) = $dc->jira_api('GET', '/rest/api/2/user?username=carol');
	is($u->{emailAddress}, 'carol@example.com', 'and /user');
	my @dk;
	for my $at (0, 2) {
		my (undef, $s) = $dc->jira_api('POST', '/rest/api/2/search',
		    { jql => 'project = INC ORDER BY updated ASC, key ASC',
		    startAt => $at, maxResults => 2, fields => ['summary'] });
		push @dk, map { $_->{key} } @{$s->{issues}};
	}
	is("@dk", "@k", 'startAt pages in updated, key order');
}

############################################################ Slack

# The app as installed, plus the channel events it may subscribe to and
# groups:write, for private channels.
my $manifest = manifest_variant('channel-events', sub {
	my $ev = join('', map { "      - $_\n" } qw(channel_archive
	    channel_unarchive group_archive group_unarchive));
	$_[0] =~ s/^\s+- reaction_removed\n/$&$ev/m
	    or die 'no reaction_removed event';
	$_[0] =~ s/^(\s+)- channels:manage\b.*\n/$&$1- groups:write\n/m
	    or die 'no channels:manage';
});
my $ss = new_sandbox(manifest => $manifest);
my $d = new_incidentd($ss);
ok($ss->wait_connected(1, $d), 'connected');

sub api { return $ss->slack_api(@_) }
sub user_api { return $ss->slack_api(@_, -token => $USER_TOKEN) }
# Events the app was sent (and acked), oldest first.
sub events {
	my $acks = $ss->get('/control/slack/acks')->{acks} // [];
	return map { $ss->get("/control/slack/envelope?id=$_->{envelope_id}")
	    ->{payload}{event} // () } grep { $_->{type} eq 'events_api' }
	    @$acks;
}
sub wait_event {
	my ($desc, $match) = @_;
	return wait_for(sub { $d->check_alive; grep { $match->($_) } events() },
	    $desc);
}

my (undef, $c) = api('conversations.create', name => 'inc-lifecycle');
ok($c->{ok}, 'channel created') or diag explain $c;
my $cid = $c->{channel}{id};
(undef, $r) = api('conversations.invite', channel => $cid,
    users => 'U0CAROL,U0ALICE,U0BOB');
ok($r->{ok}, 'people invited');

# conversations.members: pages of ids, cursor in id order.
my @m;
my $cursor = '';
my $pages = 0;
do {
	(undef, $r) = api('conversations.members', channel => $cid, limit => 3,
	    $cursor ne '' ? (cursor => $cursor) : ());
	push @m, @{$r->{members} // []};
	$cursor = $r->{response_metadata}{next_cursor} // '';
	$pages++;
} while ($cursor ne '' && $pages < 5);
is($pages, 2, 'two pages of 3');
is_deeply(\@m, [qw(U0ALICE U0BOB U0BOT U0CAROL)], 'every member once');
(undef, $r) = api('conversations.members', channel => $cid, cursor => 'bm9w');
is($r->{error}, 'invalid_cursor', 'a made-up cursor');
(undef, $r) = api('conversations.members', channel => 'C0NOSUCH');
is($r->{error}, 'channel_not_found', 'members: channel_not_found');
$ss->post('/control/slack/channel', { id => 'G0SECRET', name => 'secret',
    is_private => JSON::PP::true, members => ['U0ALICE'] });
(undef, $r) = api('conversations.members', channel => 'G0SECRET');
is($r->{error}, 'channel_not_found', 'a private channel without the bot');
(undef, $r) = user_api('conversations.members', channel => 'G0SECRET');
is($r->{needed}, 'groups:read', 'the user token has no read scopes');

# conversations.archive: Slack's errors, then the archive.
(undef, $r) = api('conversations.archive', channel => 'C0GENERAL');
is($r->{error}, 'cant_archive_general', 'cant_archive_general');
(undef, $r) = api('conversations.archive', channel => 'C0RANDOM');
is($r->{error}, 'not_in_channel', 'not_in_channel');
(undef, $r) = api('conversations.archive', channel => 'C0NOSUCH');
is($r->{error}, 'channel_not_found', 'channel_not_found');
(undef, $r) = api('conversations.archive', channel => $cid);
ok($r->{ok}, 'archived');
(undef, $r) = api('conversations.archive', channel => $cid);
is($r->{error}, 'already_archived', 'already_archived');
ok(wait_event('channel_archive message', sub {
	($_[0]{subtype} // '') eq 'channel_archive' && $_[0]{channel} eq $cid
}), 'the channel_archive message reached the app');
ok(wait_event('channel_archive event', sub {
	$_[0]{type} eq 'channel_archive' && $_[0]{channel} eq $cid &&
	$_[0]{user} eq 'U0BOT'
}), 'and the channel_archive event, subscribed to');
(undef, $r) = api('conversations.members', channel => $cid);
is($r->{error}, 'fetch_members_failed', 'members of an archived channel');
(undef, $r) = api('chat.postMessage', channel => $cid, text => 'x');
is($r->{error}, 'is_archived', 'no posting');

# Unarchive: refused to the bot, done with the admin's user token.
(undef, $r) = api('conversations.unarchive', channel => $cid);
is($r->{error}, 'not_in_channel', 'bot token: not_in_channel, as Slack');
my ($ust, $ur, $uh) = user_api('auth.test');
is($ur->{user_id}, 'U0ALICE', 'the user token is alice\'s');
ok(!exists $ur->{bot_id}, 'no bot_id');
is($uh->{'x-oauth-scopes'}, 'channels:write,groups:write',
    'with the manifest\'s user scopes');
(undef, $r) = user_api('conversations.unarchive', channel => $cid);
ok($r->{ok}, 'user token: unarchived') or diag explain $r;
(undef, $r) = user_api('conversations.unarchive', channel => $cid);
is($r->{error}, 'not_archived', 'not_archived');
(undef, $r) = user_api('conversations.unarchive', channel => 'C0NOSUCH');
is($r->{error}, 'channel_not_found', 'unarchive: channel_not_found');
(undef, $r) = user_api('conversations.unarchive', channel => 'D0ALICE');
is($r->{needed}, 'im:write', 'a DM would need im:write');
my ($um) = grep { ($_->{subtype} // '') eq 'channel_unarchive' }
    $ss->messages($cid);
is($um->{user}, 'U0ALICE', 'channel_unarchive message from alice');
(undef, $r) = api('conversations.members', channel => $cid);
is_deeply($r->{members}, ['U0ALICE'],
    'a public channel comes back with its unarchiver only');
(undef, $r) = api('chat.postMessage', channel => $cid, text => 'x');
is($r->{error}, 'not_in_channel', 'the bot is out');
(undef, $r) = user_api('conversations.invite', channel => $cid,
    users => 'U0BOT');
ok($r->{ok}, 'alice invites the bot back');
(undef, $r) = api('chat.postMessage', channel => $cid, text => 'back');
ok($r->{ok}, 'and it posts again');
(undef, $r) = user_api('chat.postMessage', channel => $cid, text => 'x');
is($r->{error}, 'not_allowed_token_type',
    'the user token only where the sandbox serves it');

# A private channel keeps its members: the bot stays, and still cannot.
(undef, $c) = api('conversations.create', name => 'inc-private',
    is_private => 'true');
my $gid = $c->{channel}{id};
api('conversations.invite', channel => $gid, users => 'U0ALICE');
(undef, $r) = api('conversations.archive', channel => $gid);
ok($r->{ok}, 'private channel archived');
(undef, $r) = api('conversations.unarchive', channel => $gid);
is($r->{error}, 'user_is_bot', 'a bot still in it: user_is_bot');
(undef, $r) = user_api('conversations.unarchive', channel => $gid);
ok($r->{ok}, 'unarchived by alice');
ok(wait_event('group_unarchive event', sub {
	$_[0]{type} eq 'group_unarchive' && $_[0]{channel} eq $gid
}), 'the bot, a member, gets group_unarchive');
ok(wait_event('channel_unarchive message', sub {
	($_[0]{subtype} // '') eq 'channel_unarchive' &&
	$_[0]{channel} eq $gid && $_[0]{user} eq 'U0ALICE'
}), 'and the channel_unarchive message');

# Without the user scopes in the manifest the user token is refused.
{
	my $path = manifest_variant('no-user-scopes', sub {
		$_[0] =~ s/^    user:\n(?:\s+- .*\n)+//m or die 'no user scopes';
	});
	my $ns = new_sandbox(manifest => $path);
	$ns->post('/control/slack/channel_archive', { channel => 'C0RANDOM' });
	my (undef, $x) = $ns->slack_api('conversations.unarchive',
	    channel => 'C0RANDOM', -token => $USER_TOKEN);
	is($x->{error}, 'missing_scope', 'no user scopes: missing_scope');
	is($x->{needed}, 'channels:write', 'needed channels:write');
}

# People archive and delete channels.
$r = $ss->post('/control/slack/channel_archive', { channel => 'C0RANDOM',
    user => 'U0BOB' });
ok($r->{ok}, 'bob archives #random') or diag explain $r;
my ($am) = grep { ($_->{subtype} // '') eq 'channel_archive' }
    $ss->messages('C0RANDOM');
is($am->{user}, 'U0BOB', 'channel_archive message from bob');
$r = $ss->post('/control/slack/channel_archive', { channel => 'C0RANDOM' });
is($r->{error}, 'already_archived', 'archive op: already_archived');
$r = $ss->post('/control/slack/channel_archive', { channel => 'general' });
is($r->{error}, 'cant_archive_general', 'archive op: general');
$r = $ss->post('/control/slack/channel_delete', { channel => $cid });
ok($r->{ok}, 'channel deleted');
for my $call (['conversations.info'], ['conversations.history'],
    ['conversations.members'], ['conversations.archive'],
    ['chat.postMessage', text => 'x']) {
	my ($meth, @args) = @$call;
	(undef, $r) = api($meth, channel => $cid, @args);
	is($r->{error}, 'channel_not_found', "deleted: $meth");
}
(undef, $r) = user_api('conversations.unarchive', channel => $cid);
is($r->{error}, 'channel_not_found', 'deleted: unarchive');
$r = $ss->post('/control/slack/channel_delete', { channel => 'C0GENERAL' });
ok($r->{error}, 'the general channel cannot be deleted');
is($d->stop, 0, 'the daemon took all that and exits cleanly');

done_testing();
