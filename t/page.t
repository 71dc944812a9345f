# page.t: page list, resolving targets, confirm/cancel, incident mode.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');
my %n;

sub say_in {
	my ($ch, $text, $user) = @_;
	$sb->message(channel => $ch, user => $user // 'U0ALICE',
	    text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts($ch, ++$n{$ch}, $d);
	return $p[$n{$ch} - 1];
}
sub say_and_wait { return say_in('C0GENERAL', @_) }
sub alltext {
	my ($m) = @_;
	return join("\n", $m->{text} // '', map { ($_->{text}{text} // '') }
	    @{$m->{blocks} // []});
}
sub click {
	my ($ch, $msg, $action, $user, $value) = @_;
	return $sb->post('/control/slack/click', { user => $user // 'U0ALICE',
	    channel => $ch, message_ts => $msg->{ts}, action_id => $action,
	    defined $value ? (value => $value) : () });
}
sub creates { grep { $_->{method} eq 'POST' } $sb->requests('pagerduty', qr{^/incidents$}) }
sub rrs { grep { $_->{method} eq 'POST' } $sb->requests('pagerduty', qr{/responder_requests$}) }
sub ephemerals {
	my ($re) = @_;
	return grep { ($_->{json}{text} // '') =~ $re }
	    $sb->requests('slack', qr{/api/chat\.postEphemeral$});
}

# page list without shortcuts.
my $p = say_and_wait('page list');
like(alltext($p), qr/No PagerDuty shortcuts/, 'list with 0 shortcuts');

# Three shortcuts via SIGHUP (the config names them inline).
$d->rewrite_config(pagerduty => { shortcuts => {
    db => { service => 'PSVCDB', description => 'Database <on-call> & DBAs' },
    api => { service => 'PSVCAPI', description => 'API gateway' },
    net => { service => 'PSVCNET', description => 'Network' } } });
$d->signal('HUP');
$d->loggrep(qr/configuration reloaded/);
$p = say_and_wait('page list');
my $t = alltext($p);
like($t, qr/3 PagerDuty shortcut/, 'list with 3 shortcuts');
like($t, qr/`api`.*`db`.*`net`/s, 'sorted');
like($t, qr/Database &lt;on-call&gt; &amp; DBAs/, 'descriptions escaped');

# Usage.
$p = say_and_wait('page');
like(alltext($p), qr/Whom should I page/, 'usage without targets');

# Search: no match.
$p = say_and_wait('page nosuchthing');
like(alltext($p), qr/no PagerDuty service matches.*page list/s,
    'no match suggests page list');
is(scalar creates(), 0, 'nothing paged');

# Shortcut: confirmation, others cannot confirm, twice confirms once.
$p = say_and_wait('page db -- disk full');
$t = alltext($p);
like($t, qr/page \*1\* target.*Database/s, 'confirmation names the service');
like($t, qr/belongs to no incident/, 'outside an incident, says so');
my @b = map { $_->{action_id} } map { @{$_->{elements}} }
    grep { $_->{type} eq 'actions' } @{$p->{blocks}};
is_deeply(\@b, ['page_confirm', 'page_cancel'], 'confirm and cancel');
click('C0GENERAL', $p, 'page_confirm', 'U0BOB');
ok(wait_for(sub { ephemerals(qr/Only <\@U0ALICE>/) }), 'only the requester may confirm');
is(scalar creates(), 0, 'a stranger\'s click pages nobody');
click('C0GENERAL', $p, 'page_confirm');
my $again = click('C0GENERAL', $p, 'page_confirm');
ok(wait_for(sub { creates() >= 1 }), 'paged after confirm');
# The second click either finds the button gone or is told.
ok($again->{error} || wait_for(sub { ephemerals(qr/already confirmed/) }),
    'second click refused');
my ($c) = creates();
is($c->{json}{incident}{service}{id}, 'PSVCDB', 'shortcut service');
like($c->{json}{incident}{title}, qr/disk full.*no incident/, 'title says no incident');
like($c->{json}{incident}{body}{details}, qr/belongs to no incident.*C0GENERAL/s,
    'details name the channel');
ok($c->{json}{incident}{incident_key}, 'incident_key set');
my @ann;
ok(wait_for(sub { @ann = grep { alltext($_) =~ /1 of 1\* target/ } $sb->bot_posts('C0GENERAL'); @ann }),
    'report posted');
like(alltext($ann[0]), qr/Paged people: .*<\@U0\w+>/, 'who was paged, as Slack users');
$n{C0GENERAL} = scalar $sb->bot_posts('C0GENERAL');
is(scalar creates(), 1, 'exactly one PagerDuty incident');

# Cancel.
$p = say_and_wait('page api');
click('C0GENERAL', $p, 'page_cancel');
ok(wait_for(sub { grep { JSON::PP->new->encode($_->{json}{blocks}) =~ /Cancelled by/ }
    $sb->requests('slack', qr{/api/chat\.update$}) }), 'cancel updates the prompt');
$again = click('C0GENERAL', $p, 'page_confirm');
ok($again->{error} || wait_for(sub { ephemerals(qr/already cancelled/) }),
    'confirm after cancel refused');
is(scalar creates(), 1, 'cancelled page sent nothing');

# Search with one result, and with many (picker).
$sb->post('/control/pagerduty/service', { name => 'Payments Web', id => 'PSVCPW1', oncall => 'bob@example.com' });
$sb->post('/control/pagerduty/service', { name => 'Payments Batch', id => 'PSVCPB1', oncall => 'dave@example.com' });
$p = say_and_wait('page Gateway');
like(alltext($p), qr/API Gateway/, 'single search result offered');
$p = say_and_wait('page Payments');
like(alltext($p), qr/matches several PagerDuty services/, 'many results: picker');
ok(!grep({ $_->{action_id} eq 'page_confirm' } map { @{$_->{elements}} }
    grep { $_->{type} eq 'actions' } @{$p->{blocks}}), 'no confirm before picking');
my ($sel) = grep { $_->{type} eq 'static_select' } map { @{$_->{elements}} }
    grep { $_->{type} eq 'actions' } @{$p->{blocks}};
my ($opt) = grep { $_->{text}{text} eq 'Payments Batch' } @{$sel->{options}};
click('C0GENERAL', $p, 'page_pick', 'U0ALICE', $opt->{value});
my @upd;
ok(wait_for(sub { @upd = grep { JSON::PP->new->encode($_->{json}{blocks}) =~ /page_confirm/ }
    $sb->requests('slack', qr{/api/chat\.update$}); @upd }), 'confirm offered after the pick');
click('C0GENERAL', $p, 'page_confirm');
ok(wait_for(sub { grep { $_->{json}{incident}{service}{id} eq 'PSVCPB1' } creates() }),
    'picked service paged');
ok(wait_for(sub { grep { alltext($_) =~ /Dave Example \(PagerDuty, not found in Slack\)/ } $sb->bot_posts('C0GENERAL') }),
    'unmapped person named from PagerDuty');
$n{C0GENERAL} = scalar $sb->bot_posts('C0GENERAL');

# User pages: Bob is in PagerDuty, Carol is not.
$p = say_and_wait('page <@U0CAROL>');
like(alltext($p), qr/not a PagerDuty user/, 'user without PagerDuty account');
$p = say_and_wait('page <@U0BOB>, net');
$t = alltext($p);
like($t, qr/\*2\* target.*Bob.*Network/s, 'multi-target: user and shortcut');
my $before = scalar creates();
click('C0GENERAL', $p, 'page_confirm');
ok(wait_for(sub { creates() >= $before + 2 }), 'both paged after one confirmation');
my @new = (creates())[$before .. $before + 1];
my ($ucr) = grep { $_->{json}{incident}{assignments} } @new;
is($ucr->{json}{incident}{assignments}[0]{assignee}{id}, 'PUSER02', 'user page assigned to Bob');
ok(wait_for(sub { grep { alltext($_) =~ /2 of 2\* target/ } $sb->bot_posts('C0GENERAL') }), 'reported');
$n{C0GENERAL} = scalar $sb->bot_posts('C0GENERAL');

# In an incident channel: one PD incident, later pages add responders.
my $k = $sb->post('/control/jira/issue', { project => 'INC', issuetype => 'Incident',
    summary => 'Checkout down' })->{key};
$p = say_and_wait("new channel $k");
my ($cid) = alltext($p) =~ /<#(C\w+)>/;
ok($cid, "incident channel $cid");
$n{$cid} = scalar $sb->bot_posts($cid);
$p = say_in($cid, 'page db');
like(alltext($p), qr/for incident \*\Q$k\E\*/, 'page belongs to the incident');
$before = scalar creates();
click($cid, $p, 'page_confirm');
ok(wait_for(sub { creates() > $before }), 'first page creates the PD incident');
my $first = (creates())[-1];
like($first->{json}{incident}{title}, qr/^\[\Q$k\E\] Checkout down/, 'title: key and summary');
like($first->{json}{incident}{body}{details}, qr{browse/\Q$k\E}, 'details link Jira');
ok(wait_for(sub { grep { alltext($_) =~ /1 of 1\* target/ } $sb->bot_posts($cid) }), 'reported in the channel');
$n{$cid} = scalar $sb->bot_posts($cid);
$p = say_in($cid, 'page api <@U0BOB>');
click($cid, $p, 'page_confirm');
ok(wait_for(sub { rrs() >= 2 }), 'second page: responder requests');
is(scalar creates(), $before + 1, 'no new PagerDuty incident');
my @rr = rrs();
my $pdid = $first->{response}{incident}{id};
ok((grep { $_->{path} eq "/incidents/$pdid/responder_requests" } @rr) == 2,
    'responders added to the incident\'s PD incident');
my ($ept) = grep { $_->{json}{responder_request_targets}[0]{responder_request_target}{type} eq 'escalation_policy_reference' } @rr;
ok($ept, 'service paged through its escalation policy');
is($rr[0]{json}{requester_id}, 'PUSER01', 'requester is the From user');
ok(wait_for(sub { grep { $_->{json}{channel} eq $cid && $_->{json}{users} =~ /U0BOB/ }
    $sb->requests('slack', qr{/api/conversations\.invite$}) }), 'paged people invited');
ok(!grep({ $_->{json}{channel} eq $cid && !$_->{json}{force} }
    $sb->requests('slack', qr{/api/conversations\.invite$})),
    'invites pass force: members already in the channel do not fail them');
ok(wait_for(sub { grep { alltext($_) =~ /2 of 2\* target/ } $sb->bot_posts($cid) }), 'reported');
$n{$cid} = scalar $sb->bot_posts($cid);

# 402: no coordinated responding -> one PD incident per service.
$sb->post('/control/pagerduty/abilities', { coordinated_responding => JSON::PP::false });
$before = scalar creates();
$p = say_in($cid, 'page net');
click($cid, $p, 'page_confirm');
ok(wait_for(sub { creates() > $before }), 'fallback creates an incident');
my $fb = (creates())[-1];
like($fb->{json}{incident}{title}, qr/^\[\Q$k\E\]/, 'fallback title carries the key');
like($fb->{json}{incident}{incident_key}, qr/\Q$k\E.*PSVCNET/, 'per-service incident_key');
ok(wait_for(sub { grep { alltext($_) =~ /no coordinated responding/ } $sb->bot_posts($cid) }),
    'user told about the fallback');

# 402 when the incident manager's page made the PD incident: the incident
# record has no "pd" yet; the fallback must still be recorded (no loop).
$n{C0GENERAL} = scalar $sb->bot_posts('C0GENERAL');
$p = say_and_wait('new incident Search is slow');
my ($k2) = alltext($p) =~ /(INC-\d+)/;
my $nviews = scalar $sb->requests('slack', qr{/api/views\.open$});
click('C0GENERAL', $p, 'im_page');
ok(wait_for(sub { $sb->requests('slack', qr{/api/views\.open$}) > $nviews }), 'IM modal');
my $views = $sb->get('/control/slack/views');
$before = scalar creates();
$sb->post('/control/slack/submit', { user => 'U0ALICE',
    view_id => $views->{views}[-1]{id}, values => {} });
ok(wait_for(sub { creates() > $before }), 'incident manager paged');
$n{C0GENERAL} = scalar $sb->bot_posts('C0GENERAL');
$p = say_and_wait("new channel $k2");
my ($cid2) = alltext($p) =~ /<#(C\w+)>/;
ok($cid2, "incident channel $cid2");
$n{$cid2} = scalar $sb->bot_posts($cid2);
$before = scalar creates();
my $rrbefore = scalar rrs();
$p = say_in($cid2, 'page db');
click($cid2, $p, 'page_confirm');
ok(wait_for(sub { grep { $_->{json}{incident}{incident_key} =~ /\Q$k2\E.*PSVCDB/ }
    creates() }), 'fallback after the IM page creates a per-service incident');
ok(wait_for(sub { grep { alltext($_) =~ /1 of 1\* target/ } $sb->bot_posts($cid2) }),
    'reported');
ok(scalar(rrs()) - $rrbefore <= 2, 'no responder request loop');

# A mention that is not a user: its text must not reach mrkdwn raw.
$n{C0GENERAL} = scalar $sb->bot_posts('C0GENERAL');
$p = say_and_wait('page <@U0NOBODY><!channel>');
like(alltext($p), qr/&lt;!channel&gt;/, 'unknown mention escaped');
unlike(alltext($p), qr/<!channel>/, 'no @channel injection');

# A long message is cut at a character boundary, not inside UTF-8.
$n{C0GENERAL} = scalar $sb->bot_posts('C0GENERAL');
# (The harness sends and reads raw bytes: "\xc3\xa9" is one character.)
$p = say_and_wait('page db -- a' . ("\xc3\xa9" x 300));
$before = scalar creates();
click('C0GENERAL', $p, 'page_confirm');
ok(wait_for(sub { creates() > $before }), 'long message paged');
like((creates())[-1]{json}{incident}{title}, qr/a(?:\xc3\xa9){249} \(no incident\)$/,
    'message cut to 500 bytes at a character boundary');

is($d->stop, 0, 'clean exit');
done_testing();
