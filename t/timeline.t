# timeline.t: emoji-tagged timelines and get timeline: tags in the channel
# and in threads, two taggers, a removed tag, an edit, a delete, mrkdwn,
# asking from elsewhere, a non-member, the Markdown and Jira variants, and
# a backfill after downtime (paginated, one 429).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb, timeline => { timezone => 'Europe/Paris',
    history_per_minute => 6000 },
    slack => { incident_managers => ['U0CAROL', 'U0BOB'] });
ok($sb->wait_connected(1, $d), 'connected');

# An incident with its channel.
my $key = $sb->post('/control/jira/issue', { project => 'INC',
    issuetype => 'Incident', summary => 'Checkout <down> & out' })->{key};
$sb->message(text => "<\@U0BOT> new channel $key");
my $cid;
ok(wait_for(sub {
	for my $p ($sb->bot_posts('C0GENERAL')) {
		($cid) = ($p->{text} // '') =~ /Created <#(C\w+)>/;
		return 1 if $cid;
	}
	return 0;
}), 'incident channel created');
$sb->wait_bot_posts($cid, 1, $d);

sub say {
	my (%m) = @_;
	$m{channel} //= $cid;
	my $r = $sb->message(%m);
	die "message: " . encode_json($r) if !$r->{ts};
	return $r->{ts};
}

sub react {
	my ($ts, $user, %o) = @_;
	my $r = $sb->post('/control/slack/reaction', { channel => $o{channel} // $cid,
	    ts => $ts, user => $user, reaction => $o{reaction} // 'memo',
	    removed => $o{removed} ? JSON::PP::true : JSON::PP::false });
	die "reaction: " . encode_json($r) if $r->{error};
	return $r;
}

sub dump_db {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump --messages`;
	return JSON::PP->new->decode($out)->{databases};
}

sub tags {
	my ($ch) = @_;
	my $tl = dump_db()->{timeline} // {};
	return { map { $_ => $tl->{$_} } grep { /^\Q$ch\E\// } keys %$tl };
}

sub wait_tags {
	my ($ch, $cond, $desc) = @_;
	my $t;
	ok(wait_for(sub { $d->check_alive; $t = tags($ch); $cond->($t) }), $desc);
	return $t;
}

my $dmn = 0;
sub dm_posts { return $sb->bot_posts($_[0] // 'D0ALICE') }

# Ask for the timeline; returns the new DM posts to alice.
sub get_timeline {
	my ($text, %o) = @_;
	my $user = $o{user} // 'U0ALICE';
	my $dm = $o{dm} // 'D0ALICE';
	my $before = () = dm_posts($dm);
	my @chan_before = $sb->bot_posts($o{channel} // $cid);
	$sb->message(user => $user, channel => $o{channel} // $cid,
	    text => "<\@U0BOT> $text");
	my $want = $o{expect_dm} // 1;
	my @new;
	if ($want) {
		wait_for(sub {
			$d->check_alive;
			my @c = $sb->bot_posts($o{channel} // $cid);
			return @c > @chan_before && $c[-1]{text} =~ /Sent you|Posted|warning/;
		}, "reply to $text", $o{timeout} // 30);
		my @all = dm_posts($dm);
		@new = @all[$before .. $#all];
	}
	my @c = $sb->bot_posts($o{channel} // $cid);
	return (\@new, $c[-1]);
}

# Tags in the main channel and in a thread; two taggers; a removed tag.
my $t1 = say(user => 'U0ALICE', text => 'Checkout errors at 5% since deploy');
my $t2 = say(user => 'U0BOB', text => 'Rolled back <https://deploy.example/42|deploy 42>');
my $t3 = say(user => 'U0ALICE', text => 'Looking at the DB', thread_ts => $t2);
my $t4 = say(user => 'U0ALICE', text => 'unimportant chatter');
react($t1, 'U0ALICE');
react($t1, 'U0CAROL');
react($t2, 'U0ALICE');
react($t3, 'U0ALICE');
react($t4, 'U0ALICE');
react($t4, 'U0ALICE', reaction => 'eyes');
my $tags = wait_tags($cid, sub { keys %{$_[0]} == 4 }, 'four tagged messages');
is_deeply([sort @{$tags->{"$cid/$t1"}{taggers}}], ['U0ALICE', 'U0CAROL'],
    'two taggers, one entry');
is($tags->{"$cid/$t3"}{thread_ts}, $t2, 'thread reply knows its parent');
is($tags->{"$cid/$t1"}{text}, 'Checkout errors at 5% since deploy', 'text from the live message');
react($t4, 'U0ALICE', removed => 1);
wait_tags($cid, sub { !$_[0]{"$cid/$t4"} }, 'last tag removed: entry gone');
react($t1, 'U0CAROL', removed => 1);
wait_tags($cid, sub { $_[0]{"$cid/$t1"} && @{$_[0]{"$cid/$t1"}{taggers}} == 1 },
    'one of two tags removed: entry stays');

# An edit updates the text; a delete removes the entry.
$sb->post('/control/slack/edit', { channel => $cid, ts => $t1,
    text => 'Checkout errors at 7% since deploy (edited)' });
wait_tags($cid, sub { ($_[0]{"$cid/$t1"}{text} // '') =~ /7%/ }, 'edit updates the text');
my $t5 = say(user => 'U0BOB', text => 'wrong channel, sorry');
react($t5, 'U0BOB');
wait_tags($cid, sub { $_[0]{"$cid/$t5"} }, 'tagged');
$sb->post('/control/slack/delete', { channel => $cid, ts => $t5 });
wait_tags($cid, sub { !$_[0]{"$cid/$t5"} }, 'deleted message leaves the timeline');

# Mrkdwn: mentions, channels, links, code and escapes.
my $t6 = say(user => 'U0BOB', text => "Paged <\@U0CAROL>, see <#C0GENERAL|general> and <#C0RANDOM>: `a &lt; b &amp;&amp; c` <https://status.example/x>\nsecond line");
react($t6, 'U0BOB');
wait_tags($cid, sub { $_[0]{"$cid/$t6"} }, 'mrkdwn message tagged');

my ($dm, $reply) = get_timeline('get timeline');
like($reply->{text}, qr/Sent you the timeline of #\S+ \(4 tagged messages\) in a DM/, 'channel reply');
is(scalar @$dm, 1, 'one DM');
my $text = $dm->[0]{text} // '';
like($text, qr/Timeline of \Q$key\E: Checkout &lt;down&gt; &amp; out \(#inc-/i, 'heading: key, escaped summary, channel');
like($text, qr/times in UTC and Europe\/Paris/, 'zones named');
unlike($text, qr/backfill/i, 'no backfill needed');
my @lines = grep { /^•/ } split /\n/, $text;
is(scalar @lines, 4, 'one line per tagged message');
like($lines[0], qr/^• \*\d{4}-\d\d-\d\d \d\d:\d\d UTC \(\d{4}-\d\d-\d\d \d\d:\d\d CES?T\)\* — \*alice\* \(<https:\/\/sandbox\.slack\.test\/archives\/\Q$cid\E\/p\d{16}\|link>\): Checkout errors at 7%/,
    'date, both zones, author, permalink, edited text');
like($lines[1], qr/\*bob\*.*Rolled back deploy 42 \(https:\/\/deploy\.example\/42\)/, 'link kept');
like($lines[2], qr/\*alice\*.*\(in thread\) Looking at the DB/, 'thread reply marked');
like($lines[3], qr/Paged \@carol, see #general and #random: `a &lt; b &amp;&amp; c` https:\/\/status\.example\/x \/ second line/,
    'mentions resolved, code kept, one line');
is(scalar $sb->requests('slack', qr{/api/conversations\.(history|replies)$}), 0,
    'no history read for live tags');

# From elsewhere: by key and by channel link, in a DM too.
($dm, $reply) = get_timeline("get timeline $key", channel => 'C0GENERAL');
like($reply->{text}, qr/Sent you the timeline/, 'by key from #general');
like($dm->[0]{text}, qr/Timeline of \Q$key\E/, 'same timeline');
($dm, $reply) = get_timeline("get timeline <#$cid>", channel => 'C0GENERAL');
like($dm->[0]{text}, qr/4 tagged messages/, 'by channel link');
my @before = dm_posts();
$sb->message(user => 'U0ALICE', channel => 'D0ALICE', text => 'get timeline');
wait_for(sub { dm_posts() > @before });
like((dm_posts())[-1]{text}, qr/Which incident\?/, 'DM without a target asks which');

# Markdown variant.
($dm, $reply) = get_timeline('get timeline markdown');
like($dm->[0]{text} // '', qr/\n```\n- \d{4}-.* — \*\*alice\*\*: Checkout errors.*\(\[link\]\(https:.*\n```$/s,
    'markdown in a code block');

# Jira variant: a comment on the issue.
($dm, $reply) = get_timeline('get timeline jira', expect_dm => 1);
like($reply->{text}, qr/Posted the timeline of #\S+ \(4 tagged messages\) on \Q$key\E/, 'jira reply');
my ($c) = grep { $_->{method} eq 'POST' } $sb->requests('jira', qr{/issue/\Q$key\E/comment$});
like($c->{json}{body}, qr/Timeline of \Q$key\E.*\n\* \[\d{4}-.*\|https:.*\] \*alice\*: Checkout errors at 7%/s,
    'comment body with links');

# A non-member is refused, for a private channel and a public one alike;
# an incident manager (bob, here) may read any channel's timeline.
$sb->post('/control/slack/channel', { id => 'C0SECRET', name => 'secret-inc',
    is_private => JSON::PP::true, members => ['U0ALICE', 'U0BOT'] });
my $s1 = say(channel => 'C0SECRET', user => 'U0ALICE', text => 'secret thing');
react($s1, 'U0ALICE', channel => 'C0SECRET');
wait_tags('C0SECRET', sub { keys %{$_[0]} == 1 }, 'private channel tag');
$sb->post('/control/slack/user', { id => 'U0DAVE', name => 'dave',
    real_name => 'Dave Example', email => 'dave@example.com', tz => 'UTC' });
$sb->post('/control/slack/channel', { id => 'C0DAVE', name => 'dave-and-bot',
    members => ['U0DAVE', 'U0BOT'] });
sub sent_to { my ($u) = @_; return scalar grep { ($_->{json}{channel} // '') eq $u }
    $sb->requests('slack', qr{/api/chat\.postMessage$}) }
($dm, $reply) = get_timeline('get timeline <#C0SECRET>', channel => 'C0DAVE',
    user => 'U0DAVE', dm => 'D0ALICE');
like($reply->{text}, qr/You are not in that channel.*it is private/, 'non-member refused');
is(sent_to('U0DAVE'), 0, 'nothing sent to the non-member');
($dm, $reply) = get_timeline('get timeline <#C0SECRET>', channel => 'C0GENERAL');
like($dm->[0]{text}, qr/1 tagged message\b.*secret thing/s, 'member gets it');
($dm, $reply) = get_timeline('get timeline <#C0SECRET>', channel => 'C0GENERAL',
    user => 'U0BOB', dm => 'D0BOB');
like($reply->{text}, qr/Sent you the timeline/, 'an incident manager gets it');
ok(sent_to('U0BOB') > 0, 'sent to the manager');
($dm, $reply) = get_timeline("get timeline $key", channel => 'C0DAVE',
    user => 'U0DAVE', dm => 'D0ALICE');
like($reply->{text}, qr/You are not in that channel/,
    'public incident channel: a non-member is refused too');
is(sent_to('U0DAVE'), 0, 'nothing sent to them');

# Long timelines are split, nothing is cut.
my $long = 'x' x 3000;
for my $i (1 .. 3) {
	my $ts = say(user => 'U0ALICE', text => "long $i $long end$i");
	react($ts, 'U0ALICE');
}
wait_tags($cid, sub { keys %{$_[0]} == 7 }, 'long tags');
($dm, $reply) = get_timeline('get timeline');
ok(@$dm >= 3, 'split across messages (' . scalar(@$dm) . ')');
my $all = join("\n", map { $_->{text} } @$dm);
like($all, qr/end1.*end2.*end3/s, 'every long message complete, in order');
ok(!(grep { length($_->{text}) > 4000 } @$dm), 'each within 4000 characters');
like($dm->[0]{text}, qr/^:memo: Timeline.*\n_\(part 1\/(\d)\)_\n/, 'parts numbered');
like($dm->[1]{text}, qr/^_\(part 2\/\d\)_\n•/, 'next part');

# A stop while the pieces go out: the timeline_send job resumes at the
# piece it was sending, and the requester still gets the reply.
my $nparts = scalar @$dm;
my $before = () = dm_posts();
my @chan_before = $sb->bot_posts($cid);
$sb->fault(service => 'slack', match => 'chat.postMessage', status => 0,
    delay_ms => 1500, count => 1);
my $nreq = () = $sb->requests('slack', qr{/api/chat\.postMessage$});
$sb->message(user => 'U0ALICE', channel => $cid, text => '<@U0BOT> get timeline');
ok(wait_for(sub { my $n = () = $sb->requests('slack', qr{/api/chat\.postMessage$});
    $n > $nreq }), 'first piece on its way');
$d->kill9;
$d->start;
ok(wait_for(sub { my @c = $sb->bot_posts($cid);
    @c > @chan_before && $c[-1]{text} =~ /Sent you the timeline/ }, 'reply', 60),
    'answered after the restart');
my @after = dm_posts();
my $got = join("\n", map { $_->{text} } @after[$before .. $#after]);
like($got, qr/end1.*end2.*end3/s, 'every piece arrived after the restart');
ok(@after - $before >= $nparts, 'no piece lost (' . (@after - $before) . " of $nparts)");
is($d->stop, 0, 'clean exit');

# The zone is validated.
for my $tz ('../../etc/passwd', 'Mars/Olympus_Mons') {
	(my $y = slurp($d->conf_path)) =~ s{timezone: "Europe/Paris"}{timezone: "$tz"};
	my $bad = $sb->dir . '/bad.yaml';
	open(my $fh, '>', $bad) or die;
	print $fh $y;
	close($fh);
	my $out = `'$ENV{INCIDENTD}' -c '$bad' check-config 2>&1`;
	isnt($?, 0, "timezone $tz refused");
	like($out, qr/bad\.yaml:\d+: .*timezone.*(time zone)/, 'with FILE:LINE');
}

done_testing();
