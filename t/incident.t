# incident.t: new incident, the incident-manager prompt, its modal, and
# Jira failures.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');
my $n = 0;	# bot posts so far in #general

sub say_and_wait {
	my ($text, $timeout) = @_;
	$sb->message(text => "<\@U0BOT> $text");
	my @p = $sb->wait_bot_posts('C0GENERAL', ++$n, $d, $timeout);
	return $p[$n - 1];
}

sub buttons {
	my ($msg) = @_;
	my @b;
	for my $blk (@{$msg->{blocks} // []}) {
		push @b, @{$blk->{elements}} if $blk->{type} eq 'actions';
		push @b, $blk->{accessory} if $blk->{accessory};
	}
	return @b;
}

sub jira_issues {
	return grep { $_->{method} eq 'POST' }
	    $sb->requests('jira', qr{^/rest/api/[23]/issue$});
}

# A summary is required.
my $p = say_and_wait('new incident');
like($p->{text}, qr/summary is required.*new incident &lt;summary&gt;/s,
    'usage when the summary is missing');
is(scalar jira_issues(), 0, 'no ticket without a summary');

# Hostile summary: escaped for Slack, plain for Jira.
$p = say_and_wait('new incident <!channel> DB &amp; &lt;b&gt;down&lt;/b&gt; <@U0BOB>');
my @issues = jira_issues();
is(scalar @issues, 1, 'one Jira issue created');
my $f = $issues[0]{json}{fields};
is($f->{summary}, '@channel DB & <b>down</b> @U0BOB', 'Jira gets readable plain text');
is($f->{project}{key}, 'INC', 'configured project');
is($f->{issuetype}{name}, 'Incident', 'configured issue type');
like($f->{description}, qr/U0ALICE.*C0GENERAL.*archives\/C0GENERAL\/p/s,
    'description says who, where, and links the message');
my $key = $issues[0]{response}{key} // 'INC-1';
like($key, qr/^INC-\d+$/, "ticket key $key");
like($p->{text}, qr/\Q$key\E/, 'reply names the ticket');
my $all = join(' ', map { $_->{text}{text} // '' } @{$p->{blocks}});
unlike($all, qr/<!channel>|<\@U0BOB>|<b>/, 'no mention or markup injected');
like($all, qr/&lt;b&gt;down/, 'user text escaped');
like($all, qr{<http://127\.0\.0\.1:\d+/browse/\Q$key\E\|\Q$key\E>}, 'ticket linked');
my @b = buttons($p);
is_deeply([map { $_->{action_id} } @b], ['im_page', 'im_decline'],
    'two buttons: page or not');
is($b[0]{text}{text}, 'Page incident manager', 'clear label');

# The record exists at once.
my $dump = sub {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	return JSON::PP->new->decode($out);
};
my $rec = $dump->()->{databases}{incidents}{$key};
ok($rec, 'incident recorded');
is($rec->{declared_by}, 'U0ALICE', 'who declared it');
is($rec->{origin_channel}, 'C0GENERAL', 'where');

# Click the page button twice before submitting: two modals, one page.
my @trig;
for (1 .. 2) {
	my $c = $sb->post('/control/slack/click', { user => 'U0ALICE',
	    channel => 'C0GENERAL', message_ts => $p->{ts},
	    action_id => 'im_page' });
	push @trig, $c->{trigger_id};
}
my @views;
ok(wait_for(sub { @views = $sb->requests('slack', qr{/api/views\.open$}); @views >= 2 }),
    'modal opened for each click');
my $view = $views[0]{json}{view};
is($view->{callback_id}, 'im_page_modal', 'modal callback');
is($view->{private_metadata}, $key, 'modal carries the key');
ok(!grep({ $_->{type} eq 'input' && !$_->{optional} } @{$view->{blocks}}),
    'every field optional');
my $vs = $sb->get('/control/slack/views');
my @vids = map { $_->{id} } @{$vs->{views} // []};
ok(@vids >= 2, 'sandbox has the opened views');
# Submit the first empty: an emergency is not blocked on forms.
$sb->post('/control/slack/submit', { user => 'U0ALICE', view_id => $vids[0],
    values => {} });
my @pd;
ok(wait_for(sub { @pd = grep { $_->{method} eq 'POST' }
    $sb->requests('pagerduty', qr{^/incidents$}); @pd }), 'paged');
my $pi = $pd[0]{json}{incident};
is($pi->{service}{id}, 'PSVCIM', 'incident manager service');
like($pi->{title}, qr/^\[\Q$key\E\] \@channel DB/, 'title carries key and summary');
like($pi->{body}{details}, qr{browse/\Q$key\E}, 'details link the ticket');
ok($pi->{incident_key}, 'deduplication key set');
is($pd[0]{headers}{from}, 'alice@example.com', 'From header');
$sb->post('/control/slack/submit', { user => 'U0BOB', view_id => $vids[1],
    values => {} });
ok(wait_for(sub { grep { $_->{json}{user} eq 'U0BOB' && $_->{json}{text} =~ /already paged by <\@U0ALICE>/ }
    $sb->requests('slack', qr{/api/chat\.postEphemeral$}) }),
    'second submission told it was already paged');
my @upd;
ok(wait_for(sub { @upd = $sb->requests('slack', qr{/api/chat\.update$}); @upd }),
    'prompt updated');
like(JSON::PP->new->encode($upd[-1]{json}{blocks}), qr/paged by <\@U0ALICE>/,
    'update says who paged');
ok(!grep({ $_->{type} eq 'actions' } @{$upd[-1]{json}{blocks}}),
    'buttons are gone');
is(scalar(grep { $_->{method} eq 'POST' } $sb->requests('pagerduty', qr{^/incidents$})), 1,
    'exactly one PagerDuty incident');
# After the page there is no button left to click.
my $late = $sb->post('/control/slack/click', { user => 'U0BOB',
    channel => 'C0GENERAL', message_ts => $p->{ts}, action_id => 'im_page' });
ok($late->{error}, 'no page button after the page');
is(scalar $sb->requests('slack', qr{/api/views\.open$}), 2, 'no third modal');

# Second incident: modal with every field; details reach PD and Jira.
$p = say_and_wait('new incident Checkout returns 500s');
my ($key2) = $p->{text} =~ /(INC-\d+)/;
$sb->post('/control/slack/click', { user => 'U0BOB', channel => 'C0GENERAL',
    message_ts => $p->{ts}, action_id => 'im_page' });
ok(wait_for(sub { scalar($sb->requests('slack', qr{/api/views\.open$})) >= 3 }), 'modal');
$vs = $sb->get('/control/slack/views');
my $vid = $vs->{views}[-1]{id};
$sb->post('/control/slack/submit', { user => 'U0BOB', view_id => $vid,
    values => {
	severity => { severity => { type => 'static_select',
	    selected_option => { value => 'SEV2 - major' } } },
	impact => { impact => { type => 'plain_text_input', value => 'EU customers cannot pay' } },
	services => { services => { type => 'plain_text_input', value => 'checkout' } },
	note => { note => { type => 'plain_text_input', value => 'call me' } },
    } });
ok(wait_for(sub { grep { $_->{method} eq 'POST' } $sb->requests('jira', qr{/issue/\Q$key2\E/comment$}) }),
    'details written to Jira');
my ($cm) = grep { $_->{method} eq 'POST' } $sb->requests('jira', qr{/issue/\Q$key2\E/comment$});
like($cm->{json}{body}, qr/Severity: SEV2.*Impact: EU customers cannot pay.*Affected services: checkout.*Note: call me/s,
    'comment carries every field');
@pd = grep { $_->{method} eq 'POST' } $sb->requests('pagerduty', qr{^/incidents$});
like($pd[-1]{json}{incident}{body}{details}, qr/Severity: SEV2/, 'PD details carry the fields');

# "No" on a third: not for a bystander, only the declarer or a manager.
$p = say_and_wait('new incident Minor blip');
my $neph = () = $sb->requests('slack', qr{/api/chat\.postEphemeral$});
$sb->post('/control/slack/click', { user => 'U0BOB', channel => 'C0GENERAL',
    message_ts => $p->{ts}, action_id => 'im_decline' });
my @eph;
ok(wait_for(sub { @eph = $sb->requests('slack', qr{/api/chat\.postEphemeral$});
    @eph > $neph }), 'bystander told');
is($eph[-1]{json}{user}, 'U0BOB', 'privately');
like($eph[-1]{json}{text}, qr/Only <\@U0ALICE> \(who declared it\) or an incident manager/,
    'refusal names who can');
ok(!grep({ JSON::PP->new->encode($_->{json}) =~ /chose not to/ }
    $sb->requests('slack', qr{/api/chat\.update$})), 'bystander cannot decline');
$sb->post('/control/slack/click', { user => 'U0ALICE', channel => 'C0GENERAL',
    message_ts => $p->{ts}, action_id => 'im_decline' });
ok(wait_for(sub { grep { JSON::PP->new->encode($_->{json}) =~ /chose not to/ }
    $sb->requests('slack', qr{/api/chat\.update$}) }), 'No recorded in the message');

# Jira 500 once: retried, one ticket.
my $before = scalar jira_issues();
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 500, count => 1);
$p = say_and_wait('new incident Flaky Jira');
like($p->{text}, qr/INC-\d+ declared/, 'ticket created after a 500');
is(scalar(jira_issues()) - $before, 2, 'one failed attempt, one retry');

# Jira 400: the reason reaches the user; nothing recorded.
my $nrec = scalar keys %{$dump->()->{databases}{incidents}};
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 400, count => 1,
    body => { errorMessages => ["Field 'priority' is required"], errors => {} });
$p = say_and_wait('new incident Jira says no');
like($p->{text}, qr/Jira refused the ticket: Field 'priority' is required/, '400 explained');
like($p->{text}, qr/Nothing was recorded/, 'says nothing was recorded');
is(scalar keys %{$dump->()->{databases}{incidents}}, $nrec, 'no half record');

# Jira down: a clear message too.
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 503, count => 10);
# Each failure is ambiguous: the job searches twice for its label
# (Jira's index lags) before trying again, so this takes a while.
$p = say_and_wait('new incident Jira is down', 90);
like($p->{text}, qr/could not create the Jira ticket: .*Nothing was recorded; try again/s, '503s explained');
$sb->post('/control/faults/clear');

# Killed between the recorded intent and PagerDuty's answer: at startup
# the job looks its incident_key up and does not send it again.
$p = say_and_wait('new incident Crash while paging');
my ($key4) = $p->{text} =~ /(INC-\d+)/;
my $nviews = scalar $sb->requests('slack', qr{/api/views\.open$});
$sb->post('/control/slack/click', { user => 'U0ALICE', channel => 'C0GENERAL',
    message_ts => $p->{ts}, action_id => 'im_page' });
ok(wait_for(sub { scalar($sb->requests('slack', qr{/api/views\.open$})) > $nviews }),
    'modal for the crash test');
$sb->fault(service => 'pagerduty', match => '/incidents', status => 0,
    delay_ms => 5000, count => 1);
$vs = $sb->get('/control/slack/views');
$sb->post('/control/slack/submit', { user => 'U0ALICE',
    view_id => $vs->{views}[-1]{id}, values => {} });
my $mine = sub { grep { $_->{method} eq 'POST' &&
    ($_->{json}{incident}{title} // '') =~ /^\[\Q$key4\E\]/ }
    $sb->requests('pagerduty', qr{^/incidents$}) };
ok(wait_for(sub { $mine->() }), 'page on its way');
$d->kill9;
ok(wait_for(sub { grep { $_->{title} =~ /^\[\Q$key4\E\]/ }
    @{$sb->post('/control/pagerduty/incidents', {})->{incidents}} }),
    'PagerDuty created it after the daemon died');
$d->start;
# The page is a pd_incident job: found running, it probes by its
# incident_key before sending anything again.
ok($d->loggrep(qr/job pd_incident\/\S+ was running at the last stop/),
    'page resumed at startup');
ok($d->loggrep(qr/job pd_incident\/\S+: PagerDuty incident \w+ was created before; not again/),
    'the probe found the incident');
ok(wait_for(sub { ($dump->()->{databases}{incidents}{$key4}{im_page}{state} // '')
    eq 'paged' }, 'paged after restart', 30), 'recorded as paged');
is(scalar(grep { ($_->{status} // 0) == 201 } $mine->()), 1,
    'one PagerDuty incident for it');

is($d->stop, 0, 'clean exit');
done_testing();
