# help.t: the bot answers help in a channel and in a DM, ignores bots
# (itself included), edits and messages not addressed to it.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'daemon connected over Socket Mode');

my $r = $sb->message(text => '<@U0BOT> help');
ok(@{$r->{envelope_ids}} >= 1, 'mention delivered');
my @posts = $sb->wait_bot_posts('C0GENERAL', 1, $d);
is(scalar @posts, 1, 'one answer in the channel');
like($posts[0]{blocks}[0]{text}{text}, qr/`help \[command\]`.*`new incident &lt;summary&gt;`/s, 'answer lists the commands, usage escaped');
ok($posts[0]{blocks} && @{$posts[0]{blocks}}, 'answer carries Block Kit');

# The DM: no mention needed.
$sb->message(channel => 'D0ALICE', text => 'help');
my @dm = $sb->wait_bot_posts('D0ALICE', 1, $d);
like($dm[0]{text} // '', qr/What I can do/, 'DM command answered in the DM');

# Thread: a mention inside a thread is answered in that thread.
my $root = $sb->message(text => 'something broke');
$sb->message(text => '<@U0BOT> help', thread_ts => $root->{ts});
@posts = $sb->wait_bot_posts('C0GENERAL', 2, $d);
is($posts[1]{thread_ts}, $root->{ts}, 'reply stays in the thread');

# Unknown command: a helpful reply, not silence.
$sb->message(text => '<@U0BOT> frobnicate the database');
@posts = $sb->wait_bot_posts('C0GENERAL', 3, $d);
like($posts[2]{text}, qr/don't know the command `frobnicate`.*help/s,
    'unknown command explained');

# Escaping: user text quoted back cannot ping the channel.
$sb->message(text => '<@U0BOT> <!channel>');
@posts = $sb->wait_bot_posts('C0GENERAL', 4, $d);
unlike($posts[3]{text}, qr/<!channel>/, 'no broadcast injected through a reply');

# Not for us: bots, edits, mid-sentence mentions, other channels' chatter.
$sb->message(text => 'hey <@U0BOT> help');
$sb->message(text => '<@U0BOT> help', bot_id => 'B0OTHER', user => 'U0BOB');
my $m = $sb->message(text => 'plain chatter');
$sb->post('/control/slack/edit', { channel => 'C0GENERAL', ts => $m->{ts},
    text => '<@U0BOT> help' });
$sb->message(channel => 'D0ALICE', text => 'help', subtype => 'me_message');
# A final command proves the ones before it were processed (in order).
$sb->message(text => '<@U0BOT> help help');
@posts = $sb->wait_bot_posts('C0GENERAL', 5, $d);
like($posts[4]{text}, qr/^`help \[command\]`/, 'help for one command');
is(scalar $sb->bot_posts('C0GENERAL'), 5, 'ignored messages got no answer');
is(scalar $sb->bot_posts('D0ALICE'), 1, 'DM subtype ignored');

# Every envelope was acknowledged, none late.
my $acks = $sb->get('/control/slack/acks');
ok(@{$acks->{acks}} >= 10, 'envelopes acknowledged');
is(scalar(grep { $_->{late} } @{$acks->{acks}}), 0, 'no ack was late');
is($acks->{unknown} // 0, 0, 'no ack for an unknown envelope');

# Web API calls used the bot token and JSON for writes.
my @pm = $sb->requests('slack', qr{/api/chat\.postMessage$});
ok(@pm >= 5, 'replies went through chat.postMessage');
is($pm[0]{headers}{authorization}, "Bearer $BOT_TOKEN", 'bot token used');
like($pm[0]{headers}{'content-type'}, qr{^application/json}, 'JSON body');

is($d->stop, 0, 'SIGTERM: clean exit 0');
my $log = $d->log;
ok(length($log) > 0, 'daemon logged');
unlike($log, qr/\Q$BOT_TOKEN\E|\Q$APP_TOKEN\E|jira-sandbox-token|pd-sandbox-token/,
    'no token in the log');
done_testing();
