# channel-topic.t: the new channel's topic stays within Slack's 250
# characters whatever the length of the Jira link (a Jira under a long
# context path), and the summary is cut on whole characters and entities.
use strict;
use warnings;
use Test::More;
use IncidentTest;

# Sized so that the browse link of INC-1 is 249 bytes: the old topic
# builder wrote past its 251-byte buffer for links of 248 to 250 bytes.
my $base_len = length('http://127.0.0.1:65535') + length('/browse/INC-1');
my $ctx = '/' . ('j' x (249 - $base_len - 1));
my $sb = new_sandbox(args => ['--jira-context', $ctx]);
my $d = new_incidentd($sb, jira => { url => $sb->url('jira') . $ctx });
ok($sb->wait_connected(1, $d), 'connected');
my $n = 0;

sub jira_issue {
	my (%f) = @_;
	my $r = $sb->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', %f });
	return $r->{key};
}

sub topic_for {
	my ($key) = @_;
	$sb->message(text => "<\@U0BOT> new channel $key");
	my @p = $sb->wait_bot_posts('C0GENERAL', ++$n, $d);
	like($p[$n - 1]{text}, qr/Created <#C\w+> for \Q$key\E/,
	    "$key: channel created");
	my @t = $sb->requests('slack', qr{/api/conversations\.setTopic$});
	return $t[-1];
}

sub length_chars {
	my ($s) = @_;
	utf8::decode($s);
	return length($s);
}

my $k1 = jira_issue(summary => 'Checkout & <payments> down');
my $url = $sb->url('jira', "$ctx/browse/$k1");
cmp_ok(length($url), '>=', 248, 'browse link of 248+ bytes');
cmp_ok(length($url), '<=', 250, 'browse link of at most 250 bytes');
my $t = topic_for($k1);
ok($t->{response}{ok}, 'Slack took the topic') or
    diag(explain($t->{response}));
cmp_ok(length_chars($t->{json}{topic}), '<=', 250, 'topic within 250');
like($t->{json}{topic}, qr/^Checkout &amp; &lt;payments&gt; down$/,
    'a link that leaves no room is left out; the summary stays');

# Closed ticket: the suffix fits too.
my $k2 = jira_issue(summary => 'Old outage', status => 'Done');
$t = topic_for($k2);
ok($t->{response}{ok}, 'closed: Slack took the topic');
like($t->{json}{topic}, qr/^Old outage \(closed\)$/, 'closed: suffix kept');

# A long summary of multi-byte characters and ampersands is cut on a
# whole character and never inside an entity, and says it was cut.
my $long = ("\x{e9}&" x 200);
utf8::encode($long);
my $k3 = jira_issue(summary => $long);
$t = topic_for($k3);
ok($t->{response}{ok}, 'long summary: Slack took the topic');
my $topic = $t->{json}{topic};
cmp_ok(length_chars($topic), '<=', 250, 'long summary: within 250');
like($topic, qr/\x{e2}\x{80}\x{a6}$/, 'long summary: ends in an ellipsis');
(my $body = $topic) =~ s/\x{e2}\x{80}\x{a6}$//;
unlike($body, qr/&(?!amp;)/, 'long summary: no entity cut in half');
ok(utf8::decode(my $copy = $topic), 'long summary: valid UTF-8');

is($d->stop, 0, 'clean exit');
done_testing();
