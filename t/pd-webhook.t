#!/usr/bin/env perl
# pd-webhook.t: PagerDuty v3 webhooks (pd-webhook.c) against the sandbox.
# With pagerduty.poll_interval at an hour, only a webhook can explain an
# acknowledgement posted at once after the first poll. Unsigned, badly
# signed and stale deliveries are refused (401, 401, 400) and make no
# poll; a duplicate of an event already acted on is answered without a
# poll; a rotated secret (two configured, the sandbox signing with the
# second) is accepted; GET, other paths and oversized bodies are refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IncidentTest;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;

sub free_port {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1) or die "bind: $!";
	my $port = $s->sockport;
	close($s);
	return $port;
}

my $sb = new_sandbox(args => ['--pd-webhook-timeout', '2',
    '--pd-webhook-backoff', '0.05']);
my ($port, $mport) = (free_port(), free_port());
my $d = new_incidentd($sb, slack => { incident_managers => ['U0ALICE'] },
    metrics => { listen => "127.0.0.1:$mport" },
    pagerduty => { poll_interval => '1h', ack_timeout => '1h',
    shortcuts => { db => { service => 'PSVCDB', description => 'DB' } },
    webhook => { listen => "127.0.0.1:$port", secrets => ['whsec-old'] } });
ok($sb->wait_connected(1, $d), 'connected');
ok($d->loggrep(qr{pd webhook: serving PagerDuty webhooks on 127\.0\.0\.1:$port}),
    'listening');
unlike($d->log, qr/whsec-/, 'the secret is not logged');

sub jira { my ($op, $b) = @_; return $sb->post("/control/jira/$op", $b) }
sub pd { my ($op, $b) = @_; return $sb->post("/control/pagerduty/$op", $b) }
sub post_text { my ($p) = @_;
    return join("\n", $p->{text} // '', map { $_->{text}{text} // '' }
        @{$p->{blocks} // []}) }
sub posts_like { my ($ch, $re) = @_;
    return grep { post_text($_) =~ $re } $sb->bot_posts($ch) }
sub wait_post {
	my ($ch, $re, $what, $timeout) = @_;
	my $p;
	ok(wait_for(sub { $d->check_alive; ($p) = posts_like($ch, $re); $p },
	    $what, $timeout // 30), $what);
	return $p // {};
}

my $sub = pd('webhook', { url => "http://127.0.0.1:$port/pagerduty",
    secret => 'whsec-old' })->{webhook_subscription}{id};
ok($sub, "subscribed $sub");
sub deliveries {
	return @{$sb->get("/control/pagerduty/webhooks?subscription=$sub")
	    ->{deliveries}};
}
sub settled {
	return wait_for(sub { !grep { $_->{state} !~ /^(delivered|dropped)$/ }
	    deliveries() }, 'every delivery settled');
}
sub polls { my ($id) = @_;
    return scalar $sb->requests('pagerduty', qr{^/incidents/\Q$id\E/log_entries}) }

# An incident, its channel, a page: the first poll is the watcher's own.
my $key = jira('issue', { summary => 'Checkout down', project => 'INC',
    issuetype => 'Incident', assignee => 'alice@example.com' })->{key};
$sb->message(text => "<\@U0BOT> new channel $key");
my $ch;
wait_for(sub { for ($sb->bot_posts('C0GENERAL')) {
	$ch = $1 if ($_->{text} // '') =~ /Created <#(C\w+)> for \Q$key\E/ }
	return $ch }, "channel for $key", 30);
ok($ch, "$key has #$ch");
$sb->message(channel => $ch, user => 'U0ALICE', text => '<@U0BOT> page db');
my ($confirm) = ();
wait_for(sub { ($confirm) = posts_like($ch, qr/asks to page/); $confirm },
    'page confirmation', 30);
$sb->post('/control/slack/click', { user => 'U0ALICE', channel => $ch,
    message_ts => $confirm->{ts}, action_id => 'page_confirm' });
my $inc;
ok(wait_for(sub { ($inc) = grep { $_->{title} =~ /^\[\Q$key\E\]/ }
    @{pd('incidents', {})->{incidents} // []}; $inc }, 'PD incident'),
    'paged');
my $pd = $inc->{id};
ok(wait_for(sub { polls($pd) >= 1 }, 'first poll'), 'the first poll ran');
ok(settled(), 'the trigger webhook settled');
my ($trig) = grep { ($_->{event_type} // '') eq 'incident.triggered' }
    deliveries();
is($trig->{status}, 202, 'incident.triggered answered 202');

# The acknowledgement: only the webhook can make it show within the hour.
my $n = polls($pd);
pd('ack', { id => $pd, user => 'alice@example.com' });
wait_post($ch, qr/acknowledged by <\@U0ALICE>/,
    'acknowledgement posted at once', 15);
ok(polls($pd) > $n, 'a poll followed the webhook');
ok(settled(), 'settled');
my ($ack) = grep { ($_->{event_type} // '') eq 'incident.acknowledged' }
    deliveries();
is($ack->{status}, 202, 'incident.acknowledged answered 202');
ok($d->loggrep(qr/pd webhook: \S+ incident\.acknowledged: polling \Q$pd\E/),
    'logged');

# Forged deliveries: refused, nothing polled, nothing posted.
sub forge {
	my (%b) = @_;
	ok(settled(), 'settled before forging');
	my $out = pd('webhook_send', { subscription => $sub, %b });
	ok($out->{ok}, 'webhook_send ' . join(' ', %b)) or diag explain $out;
	my $seq = $out->{deliveries}[0]{seq} // -1;
	my $dl;
	wait_for(sub { ($dl) = grep { $_->{seq} == $seq } deliveries();
	    $dl && $dl->{state} =~ /^(delivered|dropped)$/ }, "delivery $seq");
	return $dl // {};
}
my $posts = () = $sb->bot_posts($ch);
$n = polls($pd);
is(forge(incident => $pd, signature => 'bad')->{status}, 401,
    'a bad signature: 401');
is(forge(incident => $pd, signature => 'none')->{status}, 401,
    'unsigned: 401');
ok($d->loggrep(qr/pd webhook: refused a request from 127\.0\.0\.1: no /),
    'refusals logged');
is(forge(incident => $pd, occurred_at => '2020-01-02T03:04:05Z')->{status},
    400, 'stale: 400');
my $dup = forge(duplicate_of => $ack->{event_id});
is($dup->{duplicate_of}, $ack->{event_id}, 'a duplicate delivery');
ok($dup->{status} >= 200 && $dup->{status} < 300,
    "the duplicate answered 2xx ($dup->{status})");
is(polls($pd), $n, 'none of them made a poll');
is(scalar(() = $sb->bot_posts($ch)), $posts, 'none of them posted');
is(scalar(posts_like($ch, qr/acknowledged by/)), 1,
    'the acknowledgement posted once');
unlike($d->log, qr/whsec-/, 'the secret is still not logged');

# Rotation: both secrets configured, the sandbox signs with the new one.
$d->rewrite_config(pagerduty => { webhook => { listen => "127.0.0.1:$port",
    secrets => ['whsec-old', 'whsec-new'] } });
$d->signal('HUP');
ok(wait_for(sub { $d->loggrep(qr/configuration reloaded/) }, 'reload'),
    'reloaded with two secrets');
ok(pd('webhook', { id => $sub, secrets => ['whsec-new'] })->{ok},
    'the sandbox signs with the new secret');
pd('resolve', { id => $pd, user => 'bob@example.com' });
wait_post($ch, qr/resolved by <\@U0BOB>/, 'resolution posted at once', 15);
ok(settled(), 'settled');
my ($res) = grep { ($_->{event_type} // '') eq 'incident.resolved' }
    deliveries();
is($res->{status}, 202, 'signed with the second secret: 202');

# Not a webhook.
my $http = HTTP::Tiny->new(timeout => 10);
my $url = "http://127.0.0.1:$port/pagerduty";
is($http->get($url)->{status}, 405, 'GET: 405');
is($http->post("http://127.0.0.1:$port/other", { content => '{}' })->{status},
    404, 'another path: 404');
is($http->post($url, { content => 'x' x (70 * 1024),
    headers => { 'Content-Type' => 'application/json' } })->{status}, 413,
    'a body over 64 KiB: 413');
is($http->post($url, { content => '{"event":' })->{status}, 401,
    'unsigned garbage: 401 before any parsing');

# Metrics count the outcomes.
my $m = $http->get("http://127.0.0.1:$mport/metrics")->{content} // '';
sub metric { my ($o) = @_;
    return $m =~ /^incidentd_pagerduty_webhooks_total\{outcome="$o"\} (\S+)$/m
        ? $1 : -1 }
ok(metric('accepted') >= 2, 'metrics: accepted (at least ack and resolve)') or diag $m;
is(metric('unauthorized'), 3, 'metrics: unauthorized');
is(metric('stale'), 1, 'metrics: stale');
is(metric('duplicate'), 1, 'metrics: duplicate');
is(metric('method'), 1, 'metrics: method');

is($d->stop, 0, 'clean exit');
done_testing();
