# page-jobs.t: paging on the job engine. The incident manager's page and
# a later page share one PagerDuty incident without a fixed wait; a crash
# while PagerDuty creates an incident, a configuration change before the
# resume, and an incident resolved in the meantime never open a second
# one; a 50-target page killed halfway pages each target once and is
# announced once.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use Time::HiRes qw(time);
use IncidentTest;

my $N = 50;
my $sb = new_sandbox();
my %sc;
for my $i (1 .. $N) {
	my $id = sprintf('PJ%04d', $i);
	$sb->post('/control/pagerduty/service', { name => "Job team $i",
	    id => $id, oncall => 'bob@example.com' });
	$sc{sprintf('j%02d', $i)} = { service => $id, description => "Team $i" };
}
my $d = new_incidentd($sb, slack => { incident_managers => ['U0ALICE'] },
    pagerduty => { shortcuts => \%sc, max_concurrency => 4 });
ok($sb->wait_connected(1, $d), 'connected');

sub alltext {
	my ($m) = @_;
	return join("\n", $m->{text} // '', map { ($_->{text}{text} // '') }
	    @{$m->{blocks} // []});
}
# Say something and return the bot's next post in that channel.
sub say_in {
	my ($ch, $text) = @_;
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts($ch);
	$sb->message(channel => $ch, user => 'U0ALICE', text => "<\@U0BOT> $text");
	my $p;
	wait_for(sub { $d->check_alive; ($p) = grep { !$seen{$_->{ts}} }
	    $sb->bot_posts($ch); $p }, "answer to $text", 30);
	return $p // { blocks => [] };
}
sub click {
	my ($ch, $msg, $action) = @_;
	return $sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => $ch, message_ts => $msg->{ts}, action_id => $action });
}
sub dump_db {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	return JSON::PP->new->decode($out)->{databases};
}
sub jobs_of {
	my ($kind) = @_;
	my $j = dump_db()->{jobs} // {};
	return map { $j->{$_} } grep { m{^\Q$kind\E/} } sort keys %$j;
}
sub creates {
	my ($re) = @_;
	return grep { $_->{method} eq 'POST' &&
	    ($_->{json}{incident}{title} // '') =~ $re }
	    $sb->requests('pagerduty', qr{^/incidents$});
}
sub created { return grep { ($_->{status} // 0) == 201 } creates(@_) }
sub pd_incidents {
	my ($re) = @_;
	return grep { $_->{title} =~ $re }
	    @{$sb->post('/control/pagerduty/incidents', {})->{incidents} // []};
}
sub rrs {
	return grep { $_->{method} eq 'POST' }
	    $sb->requests('pagerduty', qr{/responder_requests$});
}
# A new incident with its channel; returns (key, channel).
sub incident_with_channel {
	my ($summary) = @_;
	my $p = say_in('C0GENERAL', "new incident $summary");
	my ($key) = alltext($p) =~ /(INC-\d+)/;
	my $c = say_in('C0GENERAL', "new channel $key");
	my ($cid) = alltext($c) =~ /<#(C\w+)>/;
	return ($key, $cid, $p);
}
# Page targets in ch and confirm; returns the confirmation time.
sub page_confirm {
	my ($ch, $targets) = @_;
	my %seen = map { $_->{ts} => 1 } $sb->bot_posts($ch);
	$sb->message(channel => $ch, user => 'U0ALICE',
	    text => "<\@U0BOT> page $targets");
	my $p;
	ok(wait_for(sub { $d->check_alive; ($p) = grep { !$seen{$_->{ts}} &&
	    alltext($_) =~ /asks to page/ } $sb->bot_posts($ch); $p },
	    'confirmation', 30), 'confirmation for ' . substr($targets, 0, 20));
	$p //= {};
	my $t = time;
	click($ch, $p, 'page_confirm');
	return $t;
}

# A page of target in a new incident's channel, killed while PagerDuty
# creates its incident (PagerDuty finishes); returns (key, channel, the
# PagerDuty incident).
sub crash_while_creating {
	my ($summary, $target) = @_;
	my ($key, $cid) = incident_with_channel($summary);
	$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
	    delay_ms => 1500, count => 1);
	page_confirm($cid, $target);
	ok(wait_for(sub { creates(qr/^\[\Q$key\E\]/) }), "$key: create sent");
	$d->kill9;
	my $pd;
	ok(wait_for(sub { ($pd) = pd_incidents(qr/^\[\Q$key\E\]/); $pd }),
	    "$key: PagerDuty created it anyway");
	return ($key, $cid, $pd);
}

# 1. The incident manager's page is slow; a page in the incident channel
# meanwhile waits for its PagerDuty incident and joins it.
my ($k1, $c1, $prompt) = incident_with_channel('Payments down');
ok($c1, "incident $k1 with channel $c1");
my $nviews = scalar $sb->requests('slack', qr{/api/views\.open$});
click('C0GENERAL', $prompt, 'im_page');
ok(wait_for(sub { $sb->requests('slack', qr{/api/views\.open$}) > $nviews }),
    'incident manager modal');
$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
    delay_ms => 4000, count => 1);
my $views = $sb->get('/control/slack/views');
$sb->post('/control/slack/submit', { user => 'U0ALICE',
    view_id => $views->{views}[-1]{id}, values => {} });
ok(wait_for(sub { creates(qr/^\[\Q$k1\E\]/) }), 'incident manager page sent');
my $t0 = page_confirm($c1, 'j01');
my ($rj, $imj);
ok(wait_for(sub { ($rj) = grep { ($_->{args}{incident} // '') eq $k1 }
    jobs_of('pd_responder'); $rj }), 'the later target is a pd_responder job');
($imj) = grep { ($_->{args}{incident} // '') eq $k1 } jobs_of('pd_incident');
ok($imj && $imj->{args}{id} eq 'PSVCIM', 'the IM page is the pd_incident job');
is($rj->{args}{after}, "pd_incident/$imj->{key}",
    'the responder waits for the job creating the PagerDuty incident');
is($imj->{args}{incident_key}, "incidentd/$k1/incident-manager",
    'incident_key fixed in the args');
my @rr;
ok(wait_for(sub { @rr = grep { $_->{json}{message} =~ /\Q$k1\E/ } rrs(); @rr }),
    'responder request sent');
my $elapsed = time - $t0;
my @c = created(qr/^\[\Q$k1\E\]/);
is(scalar @c, 1, 'one PagerDuty incident for the incident');
my $pd1 = $c[0]{response}{incident}{id};
is($rr[0]{path}, "/incidents/$pd1/responder_requests",
    'the responder joins the incident manager\'s PagerDuty incident');
cmp_ok($elapsed, '<', 20, sprintf('no fixed wait (%.1f s)', $elapsed));
like($rr[0]{json}{message}, qr/\[incidentd [0-9a-f]{32}\]/,
    'the request carries the job token as its marker');
ok(wait_for(sub { grep { JSON::PP->new->encode($_->{json}{blocks} // []) =~
    /Incident manager paged by/ } $sb->requests('slack', qr{/api/chat\.update$}) }),
    'the incident manager prompt says paged');
ok(wait_for(sub { grep { alltext($_) =~ /1 of 1\* target/ } $sb->bot_posts($c1) }),
    'the later page reported');
is(dump_db()->{incidents}{$k1}{pd}{incident}, $pd1,
    'the incident records its PagerDuty incident');

# 1b. A responder request PagerDuty holds (still on its way) when the
# daemon dies: after the restart the job looks (twice, some seconds
# apart) before asking again, and the target is asked once.
sub rr_count {
	my ($inc) = pd_incidents(qr/^\[\Q$k1\E\]/);
	return scalar @{($inc // {})->{responder_requests} // []};
}
my $nrr = rr_count();
my $nposted = rrs();
$sb->fault(service => 'pagerduty', match => '/responder_requests',
    status => 0, delay_ms => 4500, count => 1);
page_confirm($c1, 'j03');
ok(wait_for(sub { rrs() > $nposted }), 'held: the request is on its way');
$d->kill9;
$d->start;
ok($sb->wait_connected(1, $d), 'restarted while PagerDuty holds it');
ok(wait_for(sub { rr_count() > $nrr }, 'the held request', 30),
    'the held request landed');
my $rj3;
ok(wait_for(sub { ($rj3) = grep { ($_->{args}{incident} // '') eq $k1 &&
    ($_->{args}{id} // '') eq 'PJ0003' && ($_->{state} // '') eq 'done' }
    jobs_of('pd_responder'); $rj3 }, 'the job', 40), 'its job ended done');
is(rr_count() - $nrr, 1, 'the target was asked once');

# 2. SIGKILL after the create was sent, before the answer: one incident.
my ($k2, $c2) = crash_while_creating('Search down', 'j02');
$d->start;
ok($d->loggrep(qr{job pd_incident/\S+ was running at the last stop}),
    'found running at start-up');
ok(wait_for(sub { grep { alltext($_) =~ /1 of 1\* target/ } $sb->bot_posts($c2) },
    'report', 30), 'reported after the restart');
is(scalar creates(qr/^\[\Q$k2\E\]/), 1, 'the create was not sent again');
is(scalar pd_incidents(qr/^\[\Q$k2\E\]/), 1, 'one PagerDuty incident, not two');
my ($j2) = grep { ($_->{args}{incident} // '') eq $k2 } jobs_of('pd_incident');
is($j2->{state}, 'done', 'the job is done');
is($j2->{result}{id}, (pd_incidents(qr/^\[\Q$k2\E\]/))[0]{id}, 'with that incident');

# 3. The incident_key is the one recorded at creation, even when the
# configuration changes (incident_mode) between the crash and the resume.
my ($k3, $c3) = crash_while_creating('Login slow', 'j03');
$d->rewrite_config(pagerduty => { incident_mode => 'per_page' });
$d->start;
ok(wait_for(sub { grep { alltext($_) =~ /1 of 1\* target/ } $sb->bot_posts($c3) },
    'report', 30), 'reported after the restart');
my @k3 = pd_incidents(qr/^\[\Q$k3\E\]/);
is(scalar @k3, 1, 'one PagerDuty incident under the new configuration');
is($k3[0]{incident_key}, "incidentd/$k3", 'with the key recorded at creation');
ok(!grep({ $_->{json}{incident}{incident_key} ne "incidentd/$k3" }
    creates(qr/^\[\Q$k3\E\]/)), 'no create used a key from the new configuration');
$d->rewrite_config(pagerduty => { incident_mode => 'per_incident' });
$d->signal('HUP');
ok($d->loggrep(qr/configuration reloaded/), 'configuration back to per_incident');

# 4. The incident's PagerDuty incident is resolved in PagerDuty before the
# resend: found by its key in every status, not opened again.
my ($k4, $c4, $i4) = crash_while_creating('Cache cold', 'j04');
ok($sb->post('/control/pagerduty/resolve', { id => $i4->{id},
    user => 'bob@example.com' })->{ok}, 'and it was resolved there');
$d->start;
my @r4;
ok(wait_for(sub { @r4 = grep { alltext($_) =~ /1 of 1\* target/ } $sb->bot_posts($c4); @r4 },
    'report', 30), 'reported after the restart');
like(alltext($r4[0]), qr/already resolved; it was not opened again/,
    'the report says it was resolved');
is(scalar pd_incidents(qr/^\[\Q$k4\E\]/), 1, 'no second PagerDuty incident');
is(scalar creates(qr/^\[\Q$k4\E\]/), 1, 'the create was not sent again');

# 5. 50 targets, SIGKILL halfway: each paged once, the page announced once.
$sb->post('/control/requests/clear', {});
$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
    delay_ms => 100, count => 100000);
page_confirm('C0GENERAL', join(' ', map { sprintf('j%02d', $_) } 1 .. $N));
ok(wait_for(sub { created(qr/no incident/) >= 10 }, 'some paged', 60), 'paging under way');
$d->kill9;
my $before = scalar created(qr/no incident/);
cmp_ok($before, '<', $N, "killed after $before of $N");
$sb->post('/control/faults/clear', {});
$d->start;
my %per;
ok(wait_for(sub { %per = (); $per{$_->{json}{incident}{service}{id}}++
    for created(qr/no incident/); keys(%per) >= $N }, 'all paged', 90),
    "all $N paged after the restart");
is(scalar(grep { $per{$_} != 1 } keys %per), 0, 'each exactly once');
my @ann;
ok(wait_for(sub { @ann = grep { alltext($_) =~ /\Q$N\E of \Q$N\E\* target/ }
    $sb->bot_posts('C0GENERAL'); @ann }, 'announcement', 60), 'announced');
my ($page) = grep { ($_->{targets} && @{$_->{targets}} == $N) }
    values %{dump_db()->{pages}};
my $a5;
ok(wait_for(sub { ($a5) = grep { $_->{key} eq $page->{id} &&
    ($_->{state} // '') eq 'done' } jobs_of('page_announce'); $a5 }),
    'one announcement job, keyed by the page, done');
is($a5->{attempts}, 1, 'run once');
is(scalar(grep { alltext($_) =~ /target\(s\) paged \(this page belongs to no incident\)/ &&
    alltext($_) =~ /\Q$N\E\* target/ } $sb->bot_posts('C0GENERAL')), 1,
    'announced once');
is(scalar(grep { $_->{state} eq 'done' } map { my $id = $_;
    grep { "$_->{kind}/$_->{key}" eq $id } jobs_of('pd_incident') } @{$page->{jobs}}),
    $N, 'every target\'s job done');

is($d->stop, 0, 'clean exit');
done_testing();
