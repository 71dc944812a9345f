# http.t: Slack Web API faults: 429 with Retry-After, 5xx, errors.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $sb = new_sandbox();
# auth.test fails twice at startup: the daemon retries before connecting.
$sb->fault(service => 'slack', match => 'auth.test', status => 500, count => 2);
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected after auth.test recovered');
is(scalar $sb->requests('slack', qr{/api/auth\.test$}), 3,
    'auth.test tried three times');

# 429 with Retry-After: 2 on the reply: the call waits, then succeeds.
$sb->fault(service => 'slack', match => 'chat.postMessage', status => 429,
    retry_after => 2, count => 1);
$sb->message(text => '<@U0BOT> help');
my @posts = $sb->wait_bot_posts('C0GENERAL', 1, $d);
is(scalar @posts, 1, 'reply posted after the rate limit');
my @pm = $sb->requests('slack', qr{/api/chat\.postMessage$});
is(scalar @pm, 2, 'one refused attempt, one accepted');
is($pm[0]{status}, 429, 'first attempt was rate limited');
cmp_ok($pm[1]{time} - $pm[0]{time}, '>=', 1.9,
    'retry waited for Retry-After');
ok($d->loggrep(qr/429/), 'the rate limit was logged');

# A Slack error (ok:false) is reported clearly in the log.
$sb->fault(service => 'slack', match => 'chat.postMessage', status => 200,
    count => 1, body => { ok => JSON::PP::false, error => 'channel_not_found' });
$sb->message(text => '<@U0BOT> help');
ok($d->loggrep(qr/chat\.postMessage failed: channel_not_found/),
    'Slack error code logged');

is($d->stop, 0, 'clean exit');
done_testing();
