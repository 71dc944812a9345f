# channel-jobs.t: new channel as a channel_setup job. A SIGKILL while
# Slack creates the channel finds that channel after the restart instead
# of making a "-2"; two requests for one ticket make one channel; a crash
# between steps resumes at the step it interrupted; every requester is
# answered.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb, slack => { incident_managers => ['U0CAROL'] });
ok($sb->wait_connected(1, $d), 'connected');

sub jira_issue {
	my (%f) = @_;
	return $sb->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', %f })->{key};
}
sub channels_named {
	my ($re) = @_;
	my $r = $sb->get('/control/slack/channels');
	return grep { $_->{name} =~ $re } @{$r->{channels} // []};
}
sub remote_links {
	my ($key) = @_;
	my $is = $sb->post('/control/jira/get', { key => $key });
	return @{$is->{remotelinks} // []};
}
sub slack_calls {
	my ($method, $field, $value) = @_;
	return grep { ($_->{json}{$field} // '') eq $value }
	    $sb->requests('slack', qr{/api/\Q$method\E$});
}
sub answered {
	my ($re, $what) = @_;
	return wait_for(sub {
		$d->check_alive;
		grep { ($_->{text} // '') =~ $re } $sb->bot_posts('C0GENERAL');
	}, $what, 30);
}
sub job {
	my ($id) = @_;
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	return JSON::PP->new->decode($out)->{databases}{jobs}{$id};
}
# Everything a finished setup leaves behind, once.
sub set_up_once {
	my ($key, $who) = @_;
	my $name = lc("inc-$key");
	my @ch = channels_named(qr/^\Q$name\E(-\d+)?$/);
	is(scalar @ch, 1, "$key: one channel") or diag explain \@ch;
	is($ch[0]{name}, $name, "$key: no suffix");
	my $cid = $ch[0]{id};
	like($ch[0]{topic}{value}, qr{/browse/\Q$key\E }, "$key: topic set");
	my %m = map { $_ => 1 } @{$ch[0]{members} // []};
	ok($m{U0CAROL} && $m{$who}, "$key: manager and requester invited");
	my @rl = remote_links($key);
	is(scalar @rl, 1, "$key: one remote link");
	like($rl[0]{object}{url} // '', qr{/archives/\Q$cid\E$},
	    "$key: the link points to the channel");
	ok(scalar $sb->bot_posts($cid) >= 1, "$key: ticket posted in it");
	return $cid;
}

# 1. Killed after conversations.create was sent, before its answer.
my $k1 = jira_issue(summary => 'Killed while Slack creates');
$sb->fault(service => 'slack', match => 'conversations.create', status => 0,
    delay_ms => 1500, count => 1);
$sb->message(text => "<\@U0BOT> new channel $k1");
ok(wait_for(sub { slack_calls('conversations.create', 'name', lc("inc-$k1")) }),
    'create sent');
$d->kill9;
ok(wait_for(sub { channels_named(qr/^\Qinc-\E\L$k1\E$/) }),
    'Slack created it anyway');
$d->start;
ok($d->loggrep(qr/job channel_setup\/\Q$k1\E was running at the last stop/),
    'found running at start-up');
ok($d->loggrep(qr/#inc-\L$k1\E \(C\w+\) was created before; not again/),
    'the probe found our channel');
ok(answered(qr/Created <#C\w+> for \Q$k1\E/, 'answer after restart'),
    'requester answered after the crash');
is(scalar slack_calls('conversations.create', 'name', lc("inc-$k1")), 1,
    'create sent once');
ok(!slack_calls('conversations.create', 'name', lc("inc-$k1") . '-2'),
    'no -2 asked for');
set_up_once($k1, 'U0ALICE');
is(job("channel_setup/$k1")->{state}, 'done', 'job done');

# 2. Two requests for one ticket at once (the first still reading Jira).
my $k2 = jira_issue(summary => 'Asked twice');
$sb->fault(service => 'jira', match => "/issue/$k2", status => 0,
    delay_ms => 1000, count => 1);
$sb->message(text => "<\@U0BOT> new channel $k2");
$sb->message(user => 'U0BOB', text => "<\@U0BOT> new channel $k2");
ok(answered(qr/channel for \Q$k2\E is being set up right now \(<\@U0ALICE> asked first\)/,
    'second requester told'), 'the second request shares the first job');
ok(answered(qr/Created <#C\w+> for \Q$k2\E/, 'first requester answered'),
    'the first requester is answered');
is(scalar slack_calls('conversations.create', 'name', lc("inc-$k2")), 1,
    'one create');
set_up_once($k2, 'U0ALICE');
# And once it is done, a third points to it.
my $before = scalar $sb->bot_posts('C0GENERAL');
$sb->message(user => 'U0BOB', text => "<\@U0BOT> new channel $k2");
ok(answered(qr/\Q$k2\E already has a channel: <#C\w+>/, 'third answered'),
    'a later request points to the channel');

# 3. Killed between steps (while Slack sets the topic): resumes there.
my $k3 = jira_issue(summary => 'Killed while the topic is set');
my $topics = scalar $sb->requests('slack', qr{/api/conversations\.setTopic$});
my $invites = scalar $sb->requests('slack', qr{/api/conversations\.invite$});
$sb->fault(service => 'slack', match => 'conversations.setTopic', status => 0,
    delay_ms => 1500, count => 1);
$sb->message(text => "<\@U0BOT> new channel $k3");
ok(wait_for(sub { scalar $sb->requests('slack',
    qr{/api/conversations\.setTopic$}) > $topics }), 'topic sent');
$d->kill9;
my $issue_re = qr{/rest/api/2/issue/\Q$k3\E(\?|$)};
my $gets = scalar grep { $_->{method} eq 'GET' } $sb->requests('jira',
    $issue_re);
my $creates = scalar $sb->requests('slack', qr{/api/conversations\.create$});
is(scalar $sb->requests('slack', qr{/api/conversations\.invite$}), $invites,
    'killed before the invite');
$d->start;
ok($d->loggrep(qr/job channel_setup\/\Q$k3\E: looking whether step topic|job channel_setup\/\Q$k3\E: step topic/),
    'resumed at the topic step');
ok(answered(qr/Created <#C\w+> for \Q$k3\E/, 'answer after restart'),
    'requester answered after the crash');
is(scalar(grep { $_->{method} eq 'GET' } $sb->requests('jira', $issue_re)),
    $gets, 'the ticket was not read again');
is(scalar $sb->requests('slack', qr{/api/conversations\.create$}), $creates,
    'no create after the restart');
set_up_once($k3, 'U0ALICE');

is($d->stop, 0, 'clean exit');
done_testing();
