# page-fanout.t: 300 shortcuts and 300-target pages, exactly once under
# 429s and across a SIGKILL; shortcuts file reloaded by SIGHUP.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $N = 300;
my $sb = new_sandbox();
$sb->post('/control/pagerduty/ratelimit', { per_minute => 1000000 });
my $file = $sb->dir . '/shortcuts.yaml';
open(my $fh, '>', $file) or die;
for my $i (1 .. $N) {
	my $id = sprintf('PT%05d', $i);
	$sb->post('/control/pagerduty/service', { name => "Team $i", id => $id,
	    oncall => $i % 2 ? 'bob@example.com' : 'dave@example.com' });
	printf $fh "t%03d: {service: %s, description: \"Team %d <on-call>\"}\n", $i, $id, $i;
}
close($fh);
# The mass page is an incident manager's (others stop at
# access.max_page_targets, see t/access.t).
my $d = new_incidentd($sb, pagerduty => { shortcuts_file => $file,
    max_concurrency => 8 }, slack => { incident_managers => ['U0ALICE'] });
ok($sb->wait_connected(1, $d), 'connected');

sub bot_texts {
	my ($ch) = @_;
	return map { join("\n", $_->{text} // '',
	    map { $_->{text}{text} // '' } @{$_->{blocks} // []}) }
	    $sb->bot_posts($ch);
}
my $n = 0;
$sb->message(text => '<@U0BOT> page list');
my @p = $sb->wait_bot_posts('C0GENERAL', 1, $d);
ok(wait_for(sub { my $all = join("\n", bot_texts('C0GENERAL'));
    $all =~ /t300/ }), 'all 300 listed');
@p = $sb->bot_posts('C0GENERAL');
my $all = join("\n", bot_texts('C0GENERAL'));
like($all, qr/t001.*t002.*t300/s, 'sorted');
unlike($all, qr/<on-call>/, 'escaped');
ok(!grep({ @{$_->{blocks}} > 50 } @p), 'at most 50 blocks per message');
$n = @p;

my $targets = join(' ', map { sprintf('t%03d', $_) } 1 .. $N);
sub page_all {
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts('C0GENERAL');
	$sb->message(text => "<\@U0BOT> page $targets");
	my $prompt;
	wait_for(sub { $d->check_alive; ($prompt) = grep { !$seen{$_->{ts}} &&
	    ($_->{text} // '') =~ /^Page \d+ target/ } $sb->bot_posts('C0GENERAL');
	    $prompt }, 'prompt', 60);
	$prompt //= { blocks => [] };
	like(join(' ', map { $_->{text}{text} // '' } @{$prompt->{blocks}}),
	    qr/\*$N\* target/, "confirmation for $N targets");
	$sb->post('/control/slack/click', { user => 'U0ALICE', channel => 'C0GENERAL',
	    message_ts => $prompt->{ts}, action_id => 'page_confirm' });
}
sub creates {
	return grep { $_->{method} eq 'POST' && $_->{status} == 201 }
	    $sb->requests('pagerduty', qr{^/incidents$});
}
sub per_service {
	my %c;
	$c{$_->{json}{incident}{service}{id}}++ for creates();
	return \%c;
}

# 429 for a part of the creates.
$sb->fault(service => 'pagerduty', match => '/incidents', status => 429,
    retry_after => 1, count => 40);
page_all();
ok(wait_for(sub { scalar(keys %{per_service()}) >= $N }, 'all paged', 90),
    "all $N paged despite 429s");
my $c = per_service();
is(scalar(grep { $c->{$_} != 1 } keys %$c), 0, 'each exactly once');
ok(wait_for(sub { grep { /$N of $N\* target/ } bot_texts('C0GENERAL') }, 'report', 60),
    'report says all paged');
$n = scalar $sb->bot_posts('C0GENERAL');

# SIGKILL halfway, restart: each exactly once.
$sb->post('/control/requests/clear', {});
$sb->post('/control/pagerduty/reset', {});
$sb->post('/control/pagerduty/ratelimit', { per_minute => 1000000 });
for my $i (1 .. $N) {
	$sb->post('/control/pagerduty/service', { name => "Team $i",
	    id => sprintf('PT%05d', $i), oncall => 'bob@example.com' });
}
$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
    delay_ms => 30, count => 100000);
page_all();
ok(wait_for(sub { creates() >= 20 }, 'some paged', 60), 'paging under way');
$d->kill9;
my $before = scalar creates();
cmp_ok($before, '<', $N, "killed after $before of $N");
$sb->post('/control/faults/clear', {});
$d->start;
ok(wait_for(sub { scalar(keys %{per_service()}) >= $N }, 'all paged after restart', 90),
    "all $N paged after the restart");
$c = per_service();
is(scalar(grep { $c->{$_} != 1 } keys %$c), 0, 'each exactly once across the kill');

# Shortcuts file edited + SIGHUP.
open($fh, '>>', $file) or die;
print $fh "zz-new: {service: PT00001, description: Brand new}\n";
close($fh);
$d->signal('HUP');
$d->loggrep(qr/configuration reloaded/);
$n = scalar $sb->bot_posts('C0GENERAL');
$sb->message(text => '<@U0BOT> page list');
ok(wait_for(sub { grep { /zz-new/ } bot_texts('C0GENERAL') }), 'page list shows the change');

is($d->stop, 0, 'clean exit');
done_testing();
