#!/usr/bin/env perl
# archive.t: incident channels archived schedule.archive_after after their
# ticket closes (follow.c): never early, a Keep open notice before, Keep
# open pressed, reopened before (cancelled) and after (told, with a fresh
# channel or an unarchive), a channel archived by hand, and a stop across
# the due time. archive_after is 3s (longer on a slowed daemon: the
# notice comes half of it before, and a Keep open click has to land in
# that half), polls every second.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IncidentTest;
use Test::More;
use Time::HiRes qw(time);

my $f = $IncidentTest::TIMEOUT_FACTOR;
my $AFTER = 3 * ($f >= 3 ? 3 : int($f));
my $sb = new_sandbox();
my %conf = (schedule => { poll_interval => '1s',
    archive_after => "${AFTER}s" });
my $d = new_incidentd($sb, %conf);
ok($sb->wait_connected(1, $d), 'connected');

sub jira { my ($op, $b) = @_; return $sb->post("/control/jira/$op", $b) }
sub polls { return scalar $sb->requests('jira', qr{/search}) }
sub wait_polls {
	my ($n) = @_;
	my $want = polls() + $n;
	return wait_for(sub { $d->check_alive; polls() >= $want },
	    "$n poll(s)", 30);
}
sub chan_info {
	my ($id) = @_;
	my $r = $sb->get('/control/slack/channels');
	my ($c) = grep { $_->{id} eq $id } @{$r->{channels} // []};
	return $c;
}
sub archived { my $c = chan_info($_[0]); return $c && $c->{is_archived} }
# The text, or the text of any of its blocks.
sub post_text { my ($p) = @_;
    return join("\n", $p->{text} // '', map { $_->{text}{text} // '' }
        @{$p->{blocks} // []}) }
sub posts_like { my ($ch, $re) = @_;
    return grep { post_text($_) =~ $re } $sb->bot_posts($ch) }

sub incident_with_channel {
	my ($summary) = @_;
	my $r = jira('issue', { summary => $summary, project => 'INC',
	    issuetype => 'Incident', assignee => 'alice@example.com' });
	my $key = $r->{key};
	$sb->message(text => "<\@U0BOT> new channel $key");
	my $ch;
	wait_for(sub {
		for ($sb->bot_posts('C0GENERAL')) {
			$ch = $1 if ($_->{text} // '') =~
			    /Created <#(C\w+)> for \Q$key\E/;
		}
		return $ch;
	}, "channel for $key", 30);
	ok($ch, "$key has #$ch");
	return ($key, $ch);
}

############################################################ on time

my ($k1, $c1) = incident_with_channel('Payments down');
my $t0 = time;
jira('transition', { key => $k1, status => 'Done' });
my @notice;
wait_for(sub { @notice = posts_like($c1, qr/will be archived/) },
    'the notice');
ok(!archived($c1), 'not archived at the notice');
like($notice[0]{text}, qr/Keep open/, 'the notice offers Keep open');
ok(wait_for(sub { archived($c1) }, 'archived', 20), 'archived');
my $took = time - $t0;
cmp_ok($took, '>=', $AFTER, "not before ${AFTER}s (${took}s)");
cmp_ok($took, '<=', $AFTER + 4, 'not much after');
wait_polls(3);
is(scalar(grep { $_->{path} =~ /conversations\.archive/ }
    $sb->requests('slack')), 1, 'archived once');

############################################################ reopened before

my ($k2, $c2) = incident_with_channel('Login errors');
jira('transition', { key => $k2, status => 'Done' });
wait_polls(2);
jira('transition', { key => $k2, status => 'In Progress' });
ok(wait_for(sub { posts_like($c2, qr/will not be archived/) }),
    'reopened: the channel is told');
my $until = time + $AFTER + 2;
wait_for(sub { time > $until && polls() }, 'past the first due time', 20);
wait_polls(2);
ok(!archived($c2), 'reopened before the delay: not archived');

############################################################ Keep open

my ($k3, $c3) = incident_with_channel('Queue backlog');
jira('transition', { key => $k3, status => 'Done' });
my @n3;
wait_for(sub { @n3 = posts_like($c3, qr/will be archived/) }, 'notice');
my $tk = time;
my $btn = (grep { $_->{type} eq 'actions' } @{$n3[0]{blocks} // []})[0];
my $value = $btn->{elements}[0]{value};
$sb->post('/control/slack/click', { user => 'U0BOB', channel => $c3,
    message_ts => $n3[0]{ts}, action_id => 'keep_open', value => $value });
ok(wait_for(sub { posts_like($c3, qr/kept this channel open/) }),
    'Keep open is acknowledged');
ok(!archived($c3), 'still open right after');
ok(wait_for(sub { archived($c3) }, 'archived a period later', 20),
    'archived after the new period');
cmp_ok(time - $tk, '>=', $AFTER, 'not before a full period from the click');

# "keep open" typed in a channel that is not an incident's.
$sb->message(text => '<@U0BOT> keep open');
ok(wait_for(sub { posts_like('C0GENERAL', qr/not an incident channel/) }),
    'keep open elsewhere: a clear answer');

############################################################ archived by hand

my ($k4, $c4) = incident_with_channel('DNS flaps');
$sb->post('/control/slack/channel_archive', { channel => $c4 });
jira('transition', { key => $k4, status => 'Done' });
ok(wait_for(sub { $d->log =~ /follow \Q$k4\E: #\Q$c4\E archived/ }, 'ends',
    20), 'a channel archived already is not an error');
is(scalar(posts_like($c4, qr/could not archive/)), 0, 'no complaint');

############################################################ reopened after

jira('transition', { key => $k1, status => 'In Progress' });
my @r;
wait_for(sub { @r = posts_like('D0ALICE', qr/was reopened/) },
    'the owner is told');
like($r[0]{text}, qr/does not let bots unarchive/, 'explains why');
my $b = (grep { $_->{type} eq 'actions' } @{$r[0]{blocks} // []})[0];
is($b->{elements}[0]{action_id}, 'nc_reopen', 'with a button');
$sb->post('/control/slack/click', { user => 'U0ALICE', channel => 'D0ALICE',
    message_ts => $r[0]{ts}, action_id => 'nc_reopen',
    value => $b->{elements}[0]{value} });
my $new;
wait_for(sub {
	for ($sb->bot_posts('D0ALICE')) {
		$new = $1 if ($_->{text} // '') =~
		    /Created <#(C\w+)> for \Q$k1\E/;
	}
	return $new;
}, 'a fresh channel', 30);
ok($new && $new ne $c1, 'a fresh channel for the reopened ticket');
ok(wait_for(sub { posts_like($new, qr/continues <#\Q$c1\E>/) }),
    'linked to the old one') if $new;
my @unarch = grep { $_->{path} =~ /conversations\.unarchive/ }
    $sb->requests('slack');
is(scalar @unarch, 0, 'no unarchive without a user token');

############################################################ restart

my ($k5, $c5) = incident_with_channel('Cache stampede');
jira('transition', { key => $k5, status => 'Done' });
wait_for(sub { $d->log =~ /follow \Q$k5\E: closed/ }, 'planned');
$d->kill9;
my $due = time + $AFTER + 1;
wait_for(sub { time > $due }, 'past the due time while down', 20);
$d->start;
ok(wait_for(sub { archived($c5) }, 'archived after the restart', 20),
    'came due while down: archived at start-up');
wait_polls(2);
is(scalar(grep { $_->{path} =~ /conversations\.archive/ &&
    ($_->{body} // '') =~ /\Q$c5\E/ } $sb->requests('slack')), 1,
    'once');

############################################################ user token

$d->stop;
my $sb2 = new_sandbox();
my $d2 = new_incidentd($sb2, %conf,
    slack => { user_token => 'xoxp-sandbox-user-token' });
ok($sb2->wait_connected(1, $d2), 'second daemon, with a user token');
$sb = $sb2;
$d = $d2;
my ($k6, $c6) = incident_with_channel('Disk full');
jira('transition', { key => $k6, status => 'Done' });
ok(wait_for(sub { archived($c6) }, 'archived', 20), 'archived');
jira('transition', { key => $k6, status => 'In Progress' });
wait_for(sub { @r = posts_like('D0ALICE', qr/was reopened/) }, 'told');
$b = (grep { $_->{type} eq 'actions' } @{$r[0]{blocks} // []})[0];
is($b->{elements}[0]{text}{text}, 'Unarchive the channel',
    'the button unarchives');
$sb->post('/control/slack/click', { user => 'U0ALICE', channel => 'D0ALICE',
    message_ts => $r[0]{ts}, action_id => 'nc_reopen',
    value => $b->{elements}[0]{value} });
ok(wait_for(sub { !archived($c6) }, 'unarchived', 20), 'unarchived');
ok(wait_for(sub { posts_like($c6, qr/unarchived this channel/) }),
    'and says so in the channel');

$d->check_alive;
done_testing();
