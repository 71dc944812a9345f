# access.t: who may do what. Envelopes for another workspace or app are
# ignored; guests and users of other workspaces cannot page; the access.page
# and access.commands allow-lists (ids, user groups, @handles); the target
# cap for non-managers; the per-user command budget.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
for my $u (['U0GUEST', 'guest', is_restricted => JSON::PP::true],
    ['U0EXT', 'ext', team_id => 'T0OTHER'],
    ['U0DAVE', 'dave']) {
	my ($id, $name, %f) = @$u;
	my $r = $sb->post('/control/slack/user', { id => $id, name => $name,
	    email => "$name\@example.com", %f });
	ok($r->{ok}, "user $name") or diag explain $r;
}
$sb->post('/control/slack/channel', { id => 'C0ACC', name => 'access',
    members => ['U0ALICE', 'U0BOB', 'U0CAROL', 'U0GUEST', 'U0EXT', 'U0DAVE',
    'U0BOT'] });
$sb->post('/control/slack/usergroup', { id => 'S0LEADS',
    handle => 'oncall-leads', name => 'On-call leads', users => ['U0BOB'] });
$sb->post('/control/pagerduty/service', { name => 'Databases', id => 'PDB0001',
    oncall => 'bob@example.com' });

my $d = new_incidentd($sb, slack => { incident_managers => ['U0CAROL'] },
    pagerduty => { shortcuts => { db => { service => 'PDB0001' } } });
ok($sb->wait_connected(1, $d), 'connected');

my $n = 0;
sub say_and_wait {
	my ($user, $text) = @_;
	$sb->message(user => $user, channel => 'C0ACC', text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts('C0ACC', ++$n, $d);
	return $p[$n - 1];
}
sub pd_incidents {
	return scalar grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', qr{^/incidents});
}
sub reload {
	my (%conf) = @_;
	my $before = () = $d->log =~ /configuration reloaded/g;
	$d->rewrite_config(%conf);
	$d->signal('HUP');
	ok(wait_for(sub { my $c = () = $d->log =~ /configuration reloaded/g;
	    $c > $before }), 'reloaded');
}

# Envelopes for another workspace or another app: ignored, still acked.
$sb->message(user => 'U0ALICE', channel => 'C0ACC', team_id => 'T0OTHER',
    text => '<@U0BOT> help');
$sb->message(user => 'U0ALICE', channel => 'C0ACC', api_app_id => 'A0OTHER',
    text => '<@U0BOT> help');
my $p = say_and_wait('U0ALICE', 'help');
like($p->{text}, qr/What I can do/, 'our own envelope answered');
is(scalar $sb->bot_posts('C0ACC'), 1, 'other workspace and other app ignored');
ok($d->loggrep(qr/for another workspace or app ignored/), 'and logged');

# Guests and people from other workspaces cannot page; they may ask help.
$p = say_and_wait('U0GUEST', 'page db');
like($p->{text}, qr/Guest accounts cannot page from here.*incident manager \(<\@U0CAROL>\)/,
    'guest refused, told who can');
$p = say_and_wait('U0EXT', 'page db');
like($p->{text}, qr/People from other workspaces cannot page/, 'other workspace refused');
$p = say_and_wait('U0GUEST', 'help');
like($p->{text}, qr/What I can do/, 'a guest may still ask for help');
is(pd_incidents(), 0, 'nobody was paged');
my @q = $sb->requests('pagerduty', qr{^/services});
is(scalar @q, 0, 'no PagerDuty lookup for a refused page');

# A guest cannot press "Page incident manager" either; a member can.
my $inc = say_and_wait('U0ALICE', 'new incident Disk full on db-7');
like($inc->{text} . JSON::PP->new->encode($inc->{blocks} // []),
    qr/incident manager/i, 'prompt posted');
my $neph = () = $sb->requests('slack', qr{/api/chat\.postEphemeral$});
$sb->post('/control/slack/click', { user => 'U0GUEST', channel => 'C0ACC',
    message_ts => $inc->{ts}, action_id => 'im_page' });
my @eph;
ok(wait_for(sub { @eph = $sb->requests('slack', qr{/api/chat\.postEphemeral$});
    @eph > $neph }), 'guest told');
is($eph[-1]{json}{user}, 'U0GUEST', 'privately');
like($eph[-1]{json}{text}, qr/Guest accounts cannot page/, 'guest cannot page the IM');
is(scalar $sb->requests('slack', qr{/api/views\.open$}), 0, 'no modal for the guest');
$sb->post('/control/slack/click', { user => 'U0DAVE', channel => 'C0ACC',
    message_ts => $inc->{ts}, action_id => 'im_page' });
ok(wait_for(sub { scalar $sb->requests('slack', qr{/api/views\.open$}) }),
    'a member gets the modal');
$n = scalar $sb->bot_posts('C0ACC');

# Allow-lists: only @oncall-leads may page, only S0LEADS and dave may use
# commands at all (help is for everyone); managers are never refused.
reload(access => { page => ['@oncall-leads'], commands => ['S0LEADS', 'U0DAVE'],
    commands_per_minute => 1000 });
$p = say_and_wait('U0DAVE', 'page db');
like($p->{text}, qr/Sorry, only members of \@oncall-leads can page here\. Ask one of them, or an incident manager \(<\@U0CAROL>\)/,
    'not on access.page: refused with who can');
$p = say_and_wait('U0ALICE', 'page list');
like($p->{text}, qr/only members of <!subteam\^S0LEADS> and <\@U0DAVE> can use me/,
    'not on access.commands: refused');
$p = say_and_wait('U0ALICE', 'help');
like($p->{text}, qr/What I can do/, 'help is for everyone');
$p = say_and_wait('U0BOB', 'page db');
like($p->{text}, qr/^Page \d+ target/, 'a member of the group may page');
$p = say_and_wait('U0CAROL', 'page db');
like($p->{text}, qr/^Page \d+ target/, 'an incident manager may page');
ok(scalar $sb->requests('slack', qr{/api/usergroups\.list$}) >= 1,
    'handle resolved with usergroups.list');
my @ul = $sb->requests('slack', qr{/api/usergroups\.users\.list$});
ok(scalar @ul >= 1, 'members read with usergroups.users.list');
my $before = scalar @ul;
$p = say_and_wait('U0BOB', 'page db');
is(scalar $sb->requests('slack', qr{/api/usergroups\.users\.list$}), $before,
    'group members cached');

# The target cap: up to 2 for most, the full mass page for managers.
reload(access => { page => '__delete__', commands => '__delete__',
    max_page_targets => 2 });
my $npd = () = $sb->requests('pagerduty');
$p = say_and_wait('U0BOB', 'page db db db -- three at once');
like($p->{text}, qr/That is 3 targets; you can page up to 2 at once.*incident manager \(<\@U0CAROL>\), who can page up to 500/,
    'over the cap: refused');
is(scalar $sb->requests('pagerduty'), $npd, 'nothing looked up');
$p = say_and_wait('U0CAROL', 'page db db db');
like($p->{text}, qr/^Page \d+ target/, 'a manager is not capped');

# The command budget: 3 a minute, one refusal, then silence.
reload(access => { commands_per_minute => 3 });
$neph = () = $sb->requests('slack', qr{/api/chat\.postEphemeral$});
my $nposts = scalar $sb->bot_posts('C0ACC');
$sb->message(user => 'U0DAVE', channel => 'C0ACC', text => "<\@U0BOT> help")
    for 1 .. 5;
ok(wait_for(sub { my $c = () = $d->log =~ /from U0DAVE in C0ACC refused: over 3 a minute/g;
    $c >= 2 }), 'two commands over the budget');
ok(wait_for(sub { scalar $sb->bot_posts('C0ACC') >= $nposts + 3 }),
    'three answered');
@eph = $sb->requests('slack', qr{/api/chat\.postEphemeral$});
is(scalar @eph - $neph, 1, 'one refusal, not one per command');
like($eph[-1]{json}{text}, qr/faster than I take them \(3 a minute\)\. Try again in \d+ seconds?/,
    'the refusal says when to retry');
is($eph[-1]{json}{user}, 'U0DAVE', 'privately');
$p = say_and_wait('U0CAROL', 'help');
like($p->{text}, qr/What I can do/, 'others are not affected');
is(scalar $sb->bot_posts('C0ACC'), $nposts + 4, 'nothing more for dave');

is($d->stop, 0, 'clean exit');
done_testing();
