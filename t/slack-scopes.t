# slack-scopes.t: the sandbox grants what the app's manifest grants, as
# Slack does: missing_scope for a method without its scope (and what the
# daemon does about it), a closed Messages tab, and Slack's 2025 history
# limits for non-Marketplace apps.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

# manifest_variant (IncidentTest) makes the shipped manifest with some
# lines changed (a scope dropped, the tab closed): a real install of an
# app that was set up wrong.

sub api { my $sb = shift; return $sb->slack_api(@_) }

# Slack's history limits by default, on a sandbox nobody else calls.
{
	my $sb = new_sandbox();
	my $r = $sb->post('/control/slack/bulk', { channel => 'C0GENERAL',
	    user => 'U0BOB', count => 40, prefix => 'm' });
	ok($r->{ok}, '40 messages');
	my ($st, $h, $hd) = api($sb, 'conversations.history',
	    channel => 'C0GENERAL', limit => 100);
	is($st, 200, 'history: 200');
	is(scalar @{$h->{messages}}, 15, 'limit 100 is capped at 15');
	ok($h->{has_more}, 'has_more');
	($st, $h, $hd) = api($sb, 'conversations.history',
	    channel => 'C0GENERAL', cursor => $h->{response_metadata}{next_cursor});
	is($st, 429, 'second request within the minute: 429');
	is($h->{error}, 'ratelimited', 'ratelimited');
	ok(($hd->{'retry-after'} // 0) > 1, 'Retry-After ' .
	    ($hd->{'retry-after'} // 'none'));
	($st, $h) = api($sb, 'conversations.replies', channel => 'C0GENERAL',
	    ts => $r->{first_ts});
	is($st, 200, 'replies has a limit of its own');
	($st) = api($sb, 'conversations.replies', channel => 'C0GENERAL',
	    ts => $r->{first_ts});
	is($st, 429, 'and it is 1 a minute too');

	$r = $sb->post('/control/slack/history_limits', { per_minute => 100,
	    max_limit => 200 });
	ok($r->{ok}, 'limits raised');
	($st, $h) = api($sb, 'conversations.history', channel => 'C0GENERAL',
	    limit => 100);
	is(scalar @{$h->{messages}}, 40, 'raised: a page of 40');
	$sb->post('/control/slack/reset');
	$sb->post('/control/slack/bulk', { channel => 'C0GENERAL',
	    user => 'U0BOB', count => 20, prefix => 'm' });
	($st, $h) = api($sb, 'conversations.history', channel => 'C0GENERAL',
	    limit => 100);
	is(scalar @{$h->{messages} // []}, 15, 'reset: Slack\'s limits again');
}

# The shipped manifest: its scopes in X-OAuth-Scopes, missing_scope for
# a method it does not grant.
{
	my $sb = new_sandbox();
	my $m = $sb->get('/control/slack/manifest');
	ok($m->{messages_tab}, 'shipped manifest: Messages tab open');
	my ($st, $b, $hd) = api($sb, 'auth.test');
	ok($b->{ok}, 'auth.test needs no scope');
	is($hd->{'x-oauth-scopes'}, join(',', @{$m->{granted}}),
	    'X-OAuth-Scopes lists the granted scopes');
	($st, $b) = api($sb, 'reactions.add', channel => 'C0GENERAL',
	    timestamp => '1.000001', name => 'memo');
	is($st, 200, 'missing_scope is HTTP 200');
	is_deeply($b, { ok => JSON::PP::false, error => 'missing_scope',
	    needed => 'reactions:write', provided => join(',',
	    @{$m->{granted}}) }, 'reactions.add: missing_scope, as Slack says');
	# Per kind of conversation: no im:read for a DM's info.
	($st, $b) = api($sb, 'conversations.info', channel => 'D0ALICE');
	is($b->{error}, 'missing_scope', 'conversations.info on a DM');
	is($b->{needed}, 'im:read', 'needs im:read');
	($st, $b) = api($sb, 'conversations.info', channel => 'C0GENERAL');
	ok($b->{ok}, 'conversations.info on a public channel');
}

# A manifest without channels:manage: the daemon's conversations.create
# fails with missing_scope, and it says so instead of losing the command.
{
	my $path = manifest_variant('no-manage', sub {
		$_[0] =~ s/^\s*- channels:manage\b.*\n(?:\s+#.*\n)*//m
		    or die 'no channels:manage line';
	});
	my $sb = new_sandbox(manifest => $path);
	my $m = $sb->get('/control/slack/manifest');
	ok(!grep({ $_ eq 'channels:manage' } @{$m->{granted}}),
	    'channels:manage not granted');
	my $d = new_incidentd($sb);
	ok($sb->wait_connected(1, $d), 'connected');
	my $key = $sb->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', summary => 'Scope test' })->{key};
	$sb->message(text => "<\@U0BOT> new channel $key");
	my @create;
	ok(wait_for(sub {
		$d->check_alive;
		@create = $sb->requests('slack', qr{/api/conversations\.create$});
		return @create && $create[-1]{response};
	}, 'conversations.create called'), 'daemon tried to create');
	is($create[-1]{response}{error}, 'missing_scope',
	    'and got missing_scope');
	is($create[-1]{response}{needed}, 'channels:manage', 'needed');
	my @p;
	ok(wait_for(sub {
		$d->check_alive;
		@p = grep { ($_->{text} // '') =~ /missing_scope|channels:manage|could not|failed/i }
		    $sb->bot_posts('C0GENERAL');
		return @p;
	}, 'daemon reports the failure'), 'the daemon says it failed')
	    or diag explain [$sb->bot_posts('C0GENERAL')];
	$d->check_alive;
	ok(1, 'daemon still running');
}

# The Messages tab closed: nobody can DM the bot, and the bot's DM (the
# timeline of get timeline) is messages_tab_disabled.
{
	my $path = manifest_variant('no-tab', sub {
		$_[0] =~ s/messages_tab_enabled: true/messages_tab_enabled: false/
		    or die 'no messages_tab_enabled';
	});
	my $sb = new_sandbox(manifest => $path);
	ok(!$sb->get('/control/slack/manifest')->{messages_tab},
	    'Messages tab closed');
	my $r = $sb->message(channel => 'D0ALICE', text => 'help');
	like($r->{error} // '', qr/^messages_tab_disabled/,
	    'a DM to the bot is refused, as the Slack client does');
	is(scalar grep({ ($_->{text} // '') eq 'help' }
	    $sb->messages('D0ALICE')), 0, 'and not stored');
	my (undef, $b) = api($sb, 'chat.postMessage', channel => 'U0ALICE',
	    text => 'hi');
	is($b->{error}, 'messages_tab_disabled', 'bot to a user id');
	(undef, $b) = api($sb, 'chat.postMessage', channel => 'D0ALICE',
	    text => 'hi');
	is($b->{error}, 'messages_tab_disabled', 'bot to the IM channel');
	(undef, $b) = api($sb, 'chat.postMessage', channel => 'C0GENERAL',
	    text => 'hi');
	ok($b->{ok}, 'channels are not affected');

	my $d = new_incidentd($sb);
	ok($sb->wait_connected(1, $d), 'connected');
	my $key = $sb->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', summary => 'Tab test' })->{key};
	$sb->message(text => "<\@U0BOT> new channel $key");
	my $cid;
	ok(wait_for(sub {
		$d->check_alive;
		for my $p ($sb->bot_posts('C0GENERAL')) {
			($cid) = ($p->{text} // '') =~ /Created <#(C\w+)>/;
			return 1 if $cid;
		}
		return 0;
	}), 'incident channel created');
	my $before = () = $sb->bot_posts($cid);
	$sb->message(channel => $cid, text => '<@U0BOT> get timeline');
	my @dm;
	ok(wait_for(sub {
		$d->check_alive;
		@dm = grep { ($_->{json}{channel} // $_->{params}{channel} // '')
		    =~ /^(U0ALICE|D0ALICE)$/ && $_->{response} }
		    $sb->requests('slack', qr{/api/chat\.postMessage$});
		return @dm;
	}, 'the timeline DM attempted'), 'get timeline tried to DM');
	is($dm[0]{response}{error}, 'messages_tab_disabled',
	    'the DM answered messages_tab_disabled');
	my @said;
	ok(wait_for(sub {
		$d->check_alive;
		@said = $sb->bot_posts($cid);
		return @said > $before;
	}, 'an answer in the channel'), 'the daemon answers in the channel')
	    or diag explain \@said;
	like($said[-1]{text} // '', qr/could not send you the timeline: messages_tab_disabled/,
	    'and names the reason');
	$d->check_alive;
}

done_testing();
