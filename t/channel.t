# channel.t: new channel with a key, a URL, the picker, twice, a taken
# name, a closed ticket and bad input.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb, slack => { incident_managers => ['U0CAROL', 'U0BOB'] });
ok($sb->wait_connected(1, $d), 'connected');
my $n = 0;

sub say_and_wait {
	my ($text) = @_;
	$sb->message(text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts('C0GENERAL', ++$n, $d);
	return $p[$n - 1];
}

sub jira_issue {
	my (%f) = @_;
	my $r = $sb->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', %f });
	return $r->{key};
}

my $k1 = jira_issue(summary => 'Payments & <refunds> failing');
my $p = say_and_wait("new channel $k1");
my ($create) = $sb->requests('slack', qr{/api/conversations\.create$});
my $name = lc("inc-$k1");
is($create->{json}{name}, $name, "channel named $name");
like($p->{text}, qr/Created <#C\w+> for \Q$k1\E/, 'requester told');
my ($cid) = $p->{text} =~ /<#(C\w+)>/;
my ($topic) = $sb->requests('slack', qr{/api/conversations\.setTopic$});
is($topic->{json}{channel}, $cid, 'topic set on the new channel');
like($topic->{json}{topic}, qr{^http://127\.0\.0\.1:\d+/browse/\Q$k1\E Payments &amp; &lt;refunds&gt; failing$},
    'topic: link and escaped summary');
my ($inv) = $sb->requests('slack', qr{/api/conversations\.invite$});
is($inv->{json}{users}, 'U0CAROL,U0BOB,U0ALICE', 'managers and requester invited');
my @first = $sb->wait_bot_posts($cid, 1, $d);
like($first[0]{text}, qr/\Q$k1\E.*Payments &amp; &lt;refunds&gt;/, 'ticket posted in the channel');
my @rl;
ok(wait_for(sub { @rl = grep { $_->{method} eq 'POST' }
    $sb->requests('jira', qr{/issue/\Q$k1\E/remotelink$}); @rl }),
    'channel linked back in Jira');
like($rl[0]{json}{object}{url}, qr{/archives/\Q$cid\E$}, 'link to the channel');
is($rl[0]{json}{object}{title}, "#$name", 'link title');

# Twice: points to the first channel.
$p = say_and_wait("new channel $k1");
like($p->{text}, qr/already has a channel: <#\Q$cid\E>/, 'second request points to it');
is(scalar $sb->requests('slack', qr{/api/conversations\.create$}), 1, 'no second channel');

# The incident record knows the channel.
my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
my $db = JSON::PP->new->decode($out)->{databases};
is($db->{incidents}{$k1}{channel}, $cid, 'incident has the channel');
is($db->{channels}{$cid}, $k1, 'channel maps back to the incident');

# A browse URL (as Slack wraps links) and a lower-case key.
my $k2 = jira_issue(summary => 'Search is slow');
my $url = $sb->url('jira', "/browse/$k2");
$p = say_and_wait("new channel <$url>");
like($p->{text}, qr/Created <#C\w+> for \Q$k2\E/, 'URL accepted');
my $k3 = jira_issue(summary => 'Name clash');
$sb->post('/control/slack/channel', { id => 'C0TAKEN', name => lc("inc-$k3"),
    members => ['U0ALICE'] });
$p = say_and_wait('new channel ' . lc($k3));
like($p->{text}, qr/Created <#C\w+> for \Q$k3\E/, 'lower-case key accepted');
my @cr = $sb->requests('slack', qr{/api/conversations\.create$});
is($cr[-1]{json}{name}, lc("inc-$k3") . '-2', 'taken name gets a suffix');

# Bad input.
$p = say_and_wait('new channel not-a-key!');
like($p->{text}, qr/not a Jira ticket key.*Usage: `new channel \[KEY\|URL\]`/s, 'bad key: usage');
$p = say_and_wait('new channel <https://evil.example/browse/INC-1>');
like($p->{text}, qr/not a Jira ticket key/, 'foreign URL refused');
$p = say_and_wait('new channel INC-999999');
like($p->{text}, qr/Jira has no ticket INC-999999/, 'unknown ticket');

# A ticket of another project: refused before any Jira call, by key, by
# URL and on the same Jira, and for get timeline too.
my $ops = $sb->post('/control/jira/issue', { project => 'OPS',
    issuetype => 'Task', summary => 'Confidential: payroll migration' })->{key};
like($ops, qr/^OPS-\d+$/, 'an OPS ticket exists');
my $before = scalar $sb->requests('jira');
$p = say_and_wait("new channel $ops");
like($p->{text}, qr/\Q$ops\E is not an incident ticket: I only work with tickets of INC\b/,
    'other project refused');
my $opsurl = $sb->url('jira', "/browse/$ops");
$p = say_and_wait("new channel <$opsurl>");
like($p->{text}, qr/not an incident ticket/, 'other project refused by URL');
$p = say_and_wait("get timeline $ops");
like($p->{text}, qr/\Q$ops\E is not an incident ticket/, 'get timeline: refused');
is(scalar $sb->requests('jira'), $before, 'no Jira call for another project');
unlike(join(' ', map { $_->{text} } $sb->bot_posts('C0GENERAL')),
    qr/payroll/, 'its summary never reached Slack');

# A closed ticket still works, and says so.
my $k4 = jira_issue(summary => 'Old one');
$sb->post('/control/jira/transition', { key => $k4, status => 'Done' });
$p = say_and_wait("new channel $k4");
like($p->{text}, qr/Created .* \Q$k4\E.*closed/, 'closed ticket noted');

# No argument: the five newest open incidents, newest first.
my @open;
for my $i (1 .. 6) {
	push @open, jira_issue(summary => "Open $i", created => "-${i}h");
}
my $done = jira_issue(summary => 'Newest but done', created => '-1m');
$sb->post('/control/jira/transition', { key => $done, status => 'Done' });
jira_issue(summary => 'A task', issuetype => 'Task', created => '-1m');
$p = say_and_wait('new channel');
my @picks = map { $_->{accessory}{value} } grep { $_->{accessory} } @{$p->{blocks}};
is(scalar @picks, 5, 'five tickets offered');
my @search = $sb->requests('jira', qr{/search});
like($search[-1]{path}, qr{/search/jql$}, 'Cloud search endpoint');
like($search[-1]{json}{jql}, qr/statusCategory != Done ORDER BY created DESC/, 'open, newest first');
ok(!grep({ $_ eq $done } @picks), 'done ticket excluded');
# The k1..k4 tickets were created before the six (now), so by "created"
# the order is whatever the fake says; check the six are in order.
my %rank = map { $open[$_] => $_ } 0 .. $#open;
my @ours = grep { exists $rank{$_} } @picks;
is_deeply(\@ours, [sort { $rank{$a} <=> $rank{$b} } @ours], 'newest first');
$sb->post('/control/slack/click', { user => 'U0ALICE', channel => 'C0GENERAL',
    message_ts => $p->{ts}, action_id => 'channel_pick', value => $picks[0] });
$n++;	# the picker is replaced, then a reply comes
ok(wait_for(sub { grep { ($_->{text} // '') =~ /Created <#C\w+> for \Q$picks[0]\E/ }
    $sb->bot_posts('C0GENERAL') }), 'picked ticket gets its channel');

is($d->stop, 0, 'clean exit');
done_testing();
