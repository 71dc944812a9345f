# page-orphan.t: a page whose job records change under the daemon (an
# operator, retention, a crash between writes) is still reported, once,
# and names what was never sent.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $edit = ($ENV{top_builddir} // '.') . '/t/store-edit';
my $sb = new_sandbox();
my $d = new_incidentd($sb, pagerduty => { max_concurrency => 2 });
ok($sb->wait_connected(1, $d), 'connected');
my $state = $d->{config}{state_dir};
my $n = 0;

sub say_and_wait {
	my ($text) = @_;
	$sb->message(text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts('C0GENERAL', ++$n, $d);
	return $p[$n - 1];
}
sub alltext {
	my ($m) = @_;
	return join("\n", $m->{text} // '', map { ($_->{text}{text} // '') }
	    @{$m->{blocks} // []});
}
sub creates { grep { $_->{method} eq 'POST' } $sb->requests('pagerduty', qr{^/incidents$}) }
sub jobs {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	return JSON::PP->new->decode($out)->{databases}{jobs} // {};
}
sub report {
	my ($re) = @_;
	my @r;
	wait_for(sub { @r = grep { alltext($_) =~ $re }
	    $sb->bot_posts('C0GENERAL'); @r }, "report matching $re");
	$n = scalar $sb->bot_posts('C0GENERAL');
	return $r[0];
}
sub page_three {
	my $p = say_and_wait('page Database, Network, Gateway -- disk full');
	like(alltext($p), qr/page \*3\* target/, 'three targets');
	$sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => 'C0GENERAL', message_ts => $p->{ts},
	    action_id => 'page_confirm' });
}

# 1. A job waiting for a slot loses its record: the page still ends.
my $before = creates();
$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
    delay_ms => 3000, count => 2);
page_three();
ok(wait_for(sub { creates() >= $before + 2 }), 'two jobs in flight');
my ($third) = grep { m{/0002$} } keys %{jobs()};
ok($third, "third job recorded: $third");
is(system($edit, $state, 'del', 'jobs', $third), 0, 'third job removed');
my $r = report(qr/target\(s\) paged/);
ok($r, 'the page is reported although a job vanished');
like(alltext($r), qr/\*2 of 2\* target/, 'the two sent jobs are counted');
is(scalar creates(), $before + 2, 'the vanished job was not sent');
like($d->log, qr/job \Q$third\E: its record is gone/,
    'the log says why');

# 2. A finished job's record goes back to "pending" before the page
# ends: reported as not sent, not a crash.
$before = creates();
$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
    delay_ms => 3000, count => 1);
page_three();
my ($id, $j);
ok(wait_for(sub {
	my $all = jobs();
	($id) = grep { m{/0001$} && $all->{$_}{state} eq 'done' &&
	    $_ ne $third =~ s/0002$/0001/r } keys %$all;
	$j = $all->{$id} if $id;
	return $id;
}), 'second job done while the first waits');
delete $j->{users};
$j->{state} = 'pending';
is(system($edit, $state, 'put', 'jobs', $id, encode_json($j)), 0,
    'second job set back to pending');
$r = report(qr/of 3\* target\(s\) paged/);
ok($r, 'the page is reported');
like(alltext($r), qr/Could not page \*Network\*: it was never sent/,
    'the changed job is named as not sent');
$d->check_alive;

is($d->stop, 0, 'clean exit');
done_testing();
