#!/usr/bin/env perl
# status.t: "status" in an incident channel and "status KEY" anywhere; a
# non-incident channel gets a clear answer; the pinned status message is
# posted and pinned when the channel is set up, and edited in place
# (chat.update, never reposted) when the ticket changes; with Jira down
# the answer falls back to what the poller saw, and says so.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IncidentTest;
use Test::More;

my $sb = new_sandbox();
my $d = new_incidentd($sb, schedule => { poll_interval => '1s' },
    timeline => { timezone => 'Europe/Paris' });
ok($sb->wait_connected(1, $d), 'connected');

sub jira { my ($op, $b) = @_; return $sb->post("/control/jira/$op", $b) }
sub post_text { my ($p) = @_;
    return join("\n", $p->{text} // '', map { $_->{text}{text} // '' }
        @{$p->{blocks} // []}) }
sub posts_like { my ($ch, $re) = @_;
    return grep { post_text($_) =~ $re } $sb->bot_posts($ch) }
sub calls { my ($m) = @_;
    return scalar grep { $_->{path} =~ /\Q$m\E/ } $sb->requests('slack') }

my $r = jira('issue', { summary => 'Checkout <down> & out', project => 'INC',
    issuetype => 'Incident', assignee => 'alice@example.com' });
my $key = $r->{key};
$sb->message(text => "<\@U0BOT> new channel $key");
my $ch;
wait_for(sub {
	for ($sb->bot_posts('C0GENERAL')) {
		$ch = $1 if ($_->{text} // '') =~ /Created <#(C\w+)> for \Q$key\E/;
	}
	return $ch;
}, "channel for $key", 30);
ok($ch, "$key has its channel");

############################################################ pinned

my @pinned;
ok(wait_for(sub { @pinned = grep { $_->{pinned_to} }
    posts_like($ch, qr/Status of/) }, 'the pinned status', 30),
    'the status message is posted and pinned in the channel');
is(scalar(@pinned), 1, 'one pinned status');
my $pin = $pinned[0];
like(post_text($pin), qr/Checkout &lt;down&gt; &amp; out/,
    'the summary is escaped');
like(post_text($pin), qr/Channel: <#\Q$ch\E>/, 'it names the channel');
like(post_text($pin), qr/Declared: \d{4}-\d\d-\d\d \d\d:\d\d CES?T/,
    'the declaration time in the timeline zone');
unlike(post_text($pin), qr/\b1\d{9}\b/, 'no raw epoch numbers');

############################################################ status here

$sb->message(channel => $ch, text => '<@U0BOT> status');
my @ans;
ok(wait_for(sub { @ans = grep { !$_->{pinned_to} }
    posts_like($ch, qr/Status of/) }, 'the answer'), 'status answers');
like(post_text($ans[0]), qr/Jira: To Do, assigned to/, 'live Jira status');
like(post_text($ans[0]), qr/Pages: none/, 'no pages yet');
like(post_text($ans[0]), qr/\(\d+s ago\)|\(\d+m \d\ds ago\)/,
    'how long ago');
like(post_text($ans[0]), qr/AAR: not scheduled/,
    'no AAR yet');

############################################################ changed

my $updates = calls('chat.update');
jira('transition', { key => $key, status => 'In Progress' });
ok(wait_for(sub {
	my ($p) = grep { $_->{ts} eq $pin->{ts} } $sb->messages($ch);
	return $p && post_text($p) =~ /Jira: In Progress/;
}, 'the pinned status follows Jira', 30), 'the pinned message is updated');
cmp_ok(calls('chat.update'), '>', $updates, 'by chat.update');
is(scalar(grep { $_->{pinned_to} } posts_like($ch, qr/Status of/)), 1,
    'still one pinned status');
is(calls('pins.add'), 1, 'pinned once');

############################################################ elsewhere

$sb->message(text => "<\@U0BOT> status $key");
ok(wait_for(sub { posts_like('C0GENERAL', qr/Status of <[^|]+\|\Q$key\E>/) },
    'status KEY'), 'status KEY elsewhere');
$sb->message(text => '<@U0BOT> status');
ok(wait_for(sub { posts_like('C0GENERAL', qr/not an incident channel/) },
    'non-incident'), 'a non-incident channel gets a clear answer');
$sb->message(text => '<@U0BOT> status OTHER-1');
ok(wait_for(sub { posts_like('C0GENERAL', qr/not a ticket of ours/) },
    'other project'), 'a key outside our projects is refused');

############################################################ Jira down

$sb->fault(service => 'jira', match => "/issue/$key", status => 403,
    count => 50);
$sb->message(channel => $ch, text => '<@U0BOT> status');
ok(wait_for(sub { posts_like($ch, qr/Jira did not answer/) }, 'fallback'),
    'Jira down: the last poll, said so');
my ($fb) = posts_like($ch, qr/Jira did not answer/);
like(post_text($fb), qr/Jira: In Progress/, 'with the polled status');

is($d->stop, 0, 'clean exit');
done_testing();
