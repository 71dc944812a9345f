# sandbox-slack.t: the fake Slack's model of guests, other workspaces,
# user groups and events delivered for another team or app, read back
# through the control API, the Web API and the Socket Mode envelopes.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');

my $json = JSON::PP->new;

# A Web API call with the bot token; returns (status, body, headers).
sub api { return $sb->slack_api(@_) }

# Guests and a member of another workspace.
my $r = $sb->post('/control/slack/user', { id => 'U0GUEST', name => 'guest',
    is_restricted => JSON::PP::true });
ok($r->{ok}, 'multi-channel guest added') or diag explain $r;
$r = $sb->post('/control/slack/user', { id => 'U0SINGLE', name => 'single',
    is_ultra_restricted => JSON::PP::true });
ok($r->{ok}, 'single-channel guest added');
$r = $sb->post('/control/slack/user', { id => 'U0EXT', name => 'ext',
    team_id => 'T0OTHER' });
ok($r->{ok}, 'user of another workspace added');
$r = $sb->post('/control/slack/user', { id => 'U0BAD', name => 'bad',
    team_id => 'not a team' });
like($r->{error} // '', qr/team_id/, 'a malformed team_id is refused');

my (undef, $u) = api('users.info', user => 'U0GUEST');
ok($u->{ok}, 'users.info guest');
ok($u->{user}{is_restricted} && !$u->{user}{is_ultra_restricted},
    'multi-channel guest: is_restricted only');
is($u->{user}{team_id}, 'T0SANDBOX', 'guest is of the workspace');
(undef, $u) = api('users.info', user => 'U0SINGLE');
ok($u->{user}{is_restricted} && $u->{user}{is_ultra_restricted},
    'single-channel guest: both flags, as Slack sets them');
(undef, $u) = api('users.info', user => 'U0EXT');
is($u->{user}{team_id}, 'T0OTHER', 'external user: team_id');
is($u->{user}{profile}{team}, 'T0OTHER', 'external user: profile.team');
ok(!$u->{user}{is_restricted}, 'external user is no guest');
(undef, $u) = api('users.info', user => 'U0ALICE');
ok(JSON::PP::is_bool($u->{user}{is_restricted}) &&
    !$u->{user}{is_restricted} && !$u->{user}{is_ultra_restricted},
    'a full member: both false');
is($u->{user}{team_id}, 'T0SANDBOX', 'a full member: our team');

# User groups.
$r = $sb->post('/control/slack/usergroup', { id => 'S0LEADS',
    handle => 'oncall-leads', name => 'On-call leads',
    users => ['U0ALICE', 'U0BOB'] });
ok($r->{ok}, 'usergroup created') or diag explain $r;
$r = $sb->post('/control/slack/usergroup', { id => 'S0NOBODY',
    handle => 'nobody', users => ['U0NOSUCH'] });
is($r->{error}, 'user_not_found', 'usergroup with an unknown user');
$r = $sb->post('/control/slack/usergroup', { id => 'X1', handle => 'x' });
like($r->{error} // '', qr/^id/, 'usergroup id must be S...');

my ($st, $g) = api('usergroups.users.list', usergroup => 'S0LEADS');
is($st, 200, 'usergroups.users.list: 200');
is_deeply($g, { ok => JSON::PP::true, users => ['U0ALICE', 'U0BOB'] },
    'usergroups.users.list: the members');
(undef, $g) = api('usergroups.users.list', usergroup => 'S0NOSUCH');
is($g->{error}, 'no_such_subteam', 'unknown usergroup: no_such_subteam');
(undef, $g) = api('usergroups.users.list');
is($g->{error}, 'invalid_arguments', 'usergroup is required');

# Replace: new handle and members.
$sb->post('/control/slack/usergroup', { id => 'S0LEADS',
    handle => 'oncall-leads', name => 'On-call leads',
    users => ['U0CAROL'] });
(undef, $g) = api('usergroups.users.list', usergroup => 'S0LEADS');
is_deeply($g->{users}, ['U0CAROL'], 'usergroup replaced');

(undef, $g) = api('usergroups.list');
ok($g->{ok}, 'usergroups.list');
is(scalar @{$g->{usergroups}}, 1, 'one usergroup');
my $ug = $g->{usergroups}[0];
is($ug->{id}, 'S0LEADS', 'usergroups.list: id');
is($ug->{handle}, 'oncall-leads', 'usergroups.list: handle');
is($ug->{name}, 'On-call leads', 'usergroups.list: name');
is($ug->{user_count}, '1', 'usergroups.list: user_count, a string');
ok(!exists $ug->{users}, 'no users without include_users');
(undef, $g) = api('usergroups.list', include_users => 'true');
is_deeply($g->{usergroups}[0]{users}, ['U0CAROL'],
    'usergroups.list include_users');

# Events for another workspace or app.
sub envelope {
	my ($id) = @_;
	return $sb->get("/control/slack/envelope?id=$id");
}
$r = $sb->message(text => 'plain chatter');
my $e = envelope($r->{envelope_ids}[0]);
is($e->{payload}{team_id}, 'T0SANDBOX', 'default team_id');
is($e->{payload}{api_app_id}, 'A0SANDBOX', 'default api_app_id');
ok(!exists $e->{payload}{event}{user_team}, 'no user_team by default');

$r = $sb->message(text => 'from the org', team_id => 'T0OTHER',
    api_app_id => 'A0OTHER');
ok($r->{ok}, 'message with overrides') or diag explain $r;
$e = envelope($r->{envelope_ids}[0]);
is($e->{payload}{team_id}, 'T0OTHER', 'envelope team_id overridden');
is($e->{payload}{api_app_id}, 'A0OTHER', 'api_app_id overridden');
is($e->{payload}{authorizations}[0]{team_id}, 'T0OTHER',
    'authorization for that team');
is($e->{payload}{event}{team}, 'T0OTHER', 'event team');
is($e->{payload}{event}{user_team}, 'T0OTHER', 'event user_team');
$r = $sb->message(text => 'x', team_id => 'bogus');
like($r->{error} // '', qr/team_id/, 'malformed team_id override refused');
$r = $sb->message(text => 'x', api_app_id => 'B0X');
like($r->{error} // '', qr/api_app_id/, 'malformed api_app_id refused');

# A Slack Connect member in a shared channel: the event names their team.
$sb->post('/control/slack/channel', { id => 'C0SHARED', name => 'shared',
    members => ['U0EXT', 'U0BOT'] });
$r = $sb->message(user => 'U0EXT', channel => 'C0SHARED', text => 'hi');
$e = envelope($r->{envelope_ids}[0]);
is($e->{payload}{team_id}, 'T0SANDBOX', 'shared channel: our team_id');
is($e->{payload}{event}{user_team}, 'T0OTHER', 'shared: user_team');
is($e->{payload}{event}{team}, 'T0OTHER', 'shared: team');

# Interactive payloads: a button the test posts as the bot, then a modal
# opened with the click's trigger_id.
my $blocks = $json->encode([{ type => 'actions', block_id => 'b1',
    elements => [{ type => 'button', action_id => 'sandbox_test',
    text => { type => 'plain_text', text => 'Press' }, value => 'v' }] }]);
my (undef, $post) = api('chat.postMessage', channel => 'C0GENERAL',
    text => 'a button', blocks => $blocks);
ok($post->{ok}, 'button posted') or diag explain $post;
my %click = (user => 'U0ALICE', channel => 'C0GENERAL',
    message_ts => $post->{ts}, action_id => 'sandbox_test');
$r = $sb->post('/control/slack/click', { %click, team_id => 'T0OTHER',
    api_app_id => 'A0OTHER' });
ok($r->{envelope_id}, 'click with overrides delivered') or diag explain $r;
$e = envelope($r->{envelope_id});
is($e->{payload}{team}{id}, 'T0OTHER', 'click: team.id');
is($e->{payload}{user}{team_id}, 'T0OTHER', 'click: user.team_id');
is($e->{payload}{api_app_id}, 'A0OTHER', 'click: api_app_id');
$r = $sb->post('/control/slack/click', { %click, api_app_id => 'nope' });
like($r->{error} // '', qr/api_app_id/, 'click: bad override refused');
$r = $sb->post('/control/slack/click', { %click, user => 'U0EXT' });
$e = envelope($r->{envelope_id});
is($e->{payload}{team}{id}, 'T0SANDBOX', 'external click: team.id');
is($e->{payload}{user}{team_id}, 'T0OTHER',
    'external click: user.team_id is theirs');
is($e->{payload}{api_app_id}, 'A0SANDBOX', 'default api_app_id');

my $view = $json->encode({ type => 'modal', callback_id => 'sandbox_test',
    title => { type => 'plain_text', text => 'Test' },
    submit => { type => 'plain_text', text => 'Go' },
    blocks => [{ type => 'input', block_id => 'i1', optional => JSON::PP::true,
    label => { type => 'plain_text', text => 'Note' },
    element => { type => 'plain_text_input', action_id => 'a1' } }] });
my (undef, $v) = api('views.open', trigger_id => $r->{trigger_id},
    view => $view);
ok($v->{ok}, 'modal opened') or diag explain $v;
$r = $sb->post('/control/slack/submit', { user => 'U0EXT',
    view_id => $v->{view}{id}, team_id => 'T0OTHER',
    api_app_id => 'A0OTHER' });
ok($r->{envelope_id}, 'submit with overrides delivered') or diag explain $r;
$e = envelope($r->{envelope_id});
is($e->{payload}{type}, 'view_submission', 'a view_submission');
is($e->{payload}{team}{id}, 'T0OTHER', 'submit: team.id');
is($e->{payload}{user}{team_id}, 'T0OTHER', 'submit: user.team_id');
is($e->{payload}{api_app_id}, 'A0OTHER', 'submit: api_app_id');

# What went out, as it went out (fuzz/seed.pl seeds the fuzzers with it):
# each envelope's frame, and each answer's header lines and body.
my $envs = $sb->get('/control/slack/envelopes')->{envelopes} // [];
my ($sent) = grep { $_->{envelope_id} eq $r->{envelope_id} } @$envs;
ok($sent, 'the submit is among the envelopes') or diag explain $envs;
my $frame = eval { $json->decode($sent->{frame} // '') } // {};
is($frame->{envelope_id}, $r->{envelope_id}, 'its frame names it');
is($frame->{type}, 'interactive', 'its frame has its type');
is_deeply($frame->{payload}, $e->{payload},
    'its frame carries the payload "envelope" shows');
ok($envs->[0]{type} eq 'events_api' &&
    $envs->[0]{sent_at} <= $envs->[-1]{sent_at}, 'oldest first');
my ($open) = grep { ($_->{json}{trigger_id} // $_->{params}{trigger_id} //
    '') ne '' } $sb->requests('slack', qr{/api/views\.open$});
ok($open && defined $open->{response_text}, 'views.open: its body');
is_deeply(eval { $json->decode($open->{response_text}) }, $open->{response},
    'response_text is the answer verbatim');
is_deeply([grep { /^content-type:/i } @{$open->{response_headers}}],
    ['Content-Type: application/json; charset=utf-8'],
    'response_headers: the Content-Type, once');
$sb->fault(service => 'slack', match => 'usergroups.list', status => 429,
    retry_after => 7, count => 1);
($st) = api('usergroups.list');
is($st, 429, 'a fault answered');
my ($limited) = grep { $_->{status} == 429 }
    $sb->requests('slack', qr{/api/usergroups\.list$});
ok(grep({ $_ eq 'Retry-After: 7' } @{$limited->{response_headers} // []}),
    "a fault's Retry-After is among its header lines");
($open) = grep { $_->{path} eq '/api/usergroups.users.list' }
    $sb->requests('slack');
ok(!grep({ /^Retry-After/i } @{$open->{response_headers}}),
    'and not among the others');

# Message metadata (chat.postMessage "metadata"): validated, kept, and
# returned by history and replies only with include_all_metadata.
sub api_json {
	my ($method, $body) = @_;
	my $r = $sb->{http}->post($sb->url('slack', "/api/$method"),
	    { content => $json->encode($body), headers => {
	    'Content-Type' => 'application/json; charset=utf-8',
	    Authorization => "Bearer $IncidentTest::BOT_TOKEN" } });
	return eval { $json->decode($r->{content}) } // {};
}
$sb->post('/control/slack/history_limits', { per_minute => 0,
    max_limit => 15 });
my $md = { event_type => 'incidentd_post',
    event_payload => { token => 'tok-1' } };
for my $bad (['not JSON', '{"event_type":', 'invalid_metadata_format'],
    ['an array', '[1,2]', 'invalid_metadata_format'],
    ['no event_type', '{"event_payload":{}}', 'invalid_metadata_schema'],
    ['event_type not a string', '{"event_type":7,"event_payload":{}}',
    'invalid_metadata_schema'],
    ['empty event_type', '{"event_type":"","event_payload":{}}',
    'invalid_metadata_schema'],
    ['no event_payload', '{"event_type":"x"}', 'invalid_metadata_schema'],
    ['event_payload a string', '{"event_type":"x","event_payload":"y"}',
    'invalid_metadata_schema']) {
	my ($what, $m, $err) = @$bad;
	my (undef, $p) = api('chat.postMessage', channel => 'C0GENERAL',
	    text => "metadata $what", metadata => $m);
	is($p->{error} // 'ok', $err, "metadata $what: $err");
	ok(!grep({ ($_->{text} // '') eq "metadata $what" }
	    $sb->bot_posts('C0GENERAL')), "metadata $what: nothing posted");
}
my $p = api_json('chat.postMessage', { channel => 'C0GENERAL',
    text => 'metadata object', metadata => $md });
ok($p->{ok}, 'metadata as a JSON object in a JSON body') or diag explain $p;
my $pb = api_json('chat.postMessage', { channel => 'C0GENERAL',
    text => 'metadata bad object', metadata => { event_type => 'x' } });
is($pb->{error}, 'invalid_metadata_schema', 'a JSON body is checked too');
my (undef, $p2) = api('chat.postMessage', channel => 'C0GENERAL',
    text => 'metadata string', metadata => $json->encode({
    event_type => 'incidentd_post', event_payload => { token => 'tok-2' } }));
ok($p2->{ok}, 'metadata as a JSON-encoded string');
(undef, $r) = api('conversations.history', channel => 'C0GENERAL',
    oldest => $p->{ts}, inclusive => 'true');
my @h = grep { ($_->{text} // '') =~ /^metadata (object|string)$/ }
    @{$r->{messages} // []};
is(scalar @h, 2, 'history: both posts');
ok(!grep({ exists $_->{metadata} } @h), 'history: no metadata without ' .
    'include_all_metadata');
(undef, $r) = api('conversations.history', channel => 'C0GENERAL',
    oldest => $p->{ts}, inclusive => 'true', include_all_metadata => 'true');
my %tok = map { ($_->{text} // '') => $_->{metadata}{event_payload}{token} }
    @{$r->{messages} // []};
is_deeply([@tok{'metadata object', 'metadata string'}], ['tok-1', 'tok-2'],
    'history: metadata with include_all_metadata');
my (undef, $t) = api('chat.postMessage', channel => 'C0GENERAL',
    thread_ts => $p->{ts}, text => 'metadata reply', metadata => $json->encode(
    { event_type => 'incidentd_post', event_payload => { token => 'tok-3' } }));
ok($t->{ok}, 'a reply with metadata');
(undef, $r) = api('conversations.replies', channel => 'C0GENERAL',
    ts => $p->{ts});
ok(!grep({ exists $_->{metadata} } @{$r->{messages} // []}),
    'replies: no metadata without include_all_metadata');
(undef, $r) = api('conversations.replies', channel => 'C0GENERAL',
    ts => $p->{ts}, include_all_metadata => 'true');
my ($tr) = grep { ($_->{ts} // '') eq $t->{ts} } @{$r->{messages} // []};
is(($tr // {})->{metadata}{event_payload}{token}, 'tok-3',
    'replies: metadata with include_all_metadata');

# conversations.open: the DM with a user, the same D id each time.
my (undef, $o1) = api('conversations.open', users => 'U0ALICE');
ok($o1->{ok}, 'conversations.open users=U0ALICE') or diag explain $o1;
like($o1->{channel}{id} // '', qr/^D/, 'a D id');
my (undef, $o2) = api('conversations.open', users => 'U0ALICE');
is($o2->{channel}{id}, $o1->{channel}{id}, 'the same D id again');
(undef, $p) = api('chat.postMessage', channel => 'U0ALICE',
    text => 'to alice');
is($p->{channel}, $o1->{channel}{id}, 'a post to the user id lands there');
(undef, $o2) = api('conversations.open', channel => $o1->{channel}{id});
is($o2->{channel}{id}, $o1->{channel}{id}, 'channel= resumes it');
(undef, $o2) = api('conversations.open', users => 'U0NOSUCH');
is($o2->{error}, 'user_not_found', 'an unknown user');
(undef, $o2) = api('conversations.open');
is($o2->{error}, 'users_list_not_supplied', 'neither users nor channel');
(undef, $o2) = api('conversations.open', users => 'U0ALICE,U0BOB');
is($o2->{error}, 'missing_scope', 'a multi-person DM needs mpim:write');

done_testing();
