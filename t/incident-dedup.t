# incident-dedup.t: paging the incident manager when PagerDuty already has
# an incident with our incident_key. The lookup that follows the 400 asks
# for every status (as the jobs' probe does) and must pick the open
# incident, not an older resolved one with the same key (PagerDuty lists
# them oldest first).
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');
my $json = JSON::PP->new->canonical;

$sb->message(text => '<@U0BOT> new incident Dedup lookup');
my ($p) = $sb->wait_bot_posts('C0GENERAL', 1, $d);
my ($key) = ($p->{text} // '') =~ /(INC-\d+)/;
ok($key, "ticket $key");
my $ikey = "incidentd/$key/incident-manager";

# Someone else's incidents with our key, through the REST API: one
# resolved, then one open.
my $http = HTTP::Tiny->new(timeout => 10);
sub pd_create {
	my $r = $http->request('POST', $sb->url('pagerduty', '/incidents'), {
	    headers => { 'Authorization' => 'Token token=pd-sandbox-token',
	    'From' => 'bob@example.com', 'Content-Type' => 'application/json',
	    'Accept' => 'application/vnd.pagerduty+json;version=2' },
	    content => $json->encode({ incident => { type => 'incident',
	    title => "earlier page for $key", incident_key => $ikey,
	    service => { id => 'PSVCIM', type => 'service_reference' } } }) });
	is($r->{status}, 201, 'incident created in PagerDuty') or
	    diag($r->{content});
	return $json->decode($r->{content})->{incident}{id};
}
my $old = pd_create();
my $res = $sb->post('/control/pagerduty/resolve', { id => $old,
    user => 'bob@example.com' });
ok($res->{ok}, 'first one resolved');
my $open = pd_create();
isnt($open, $old, 'a second, open incident with the same key');

# Page from the prompt: PagerDuty answers 400 (open incident with the key).
$sb->post('/control/slack/click', { user => 'U0ALICE', channel => 'C0GENERAL',
    message_ts => $p->{ts}, action_id => 'im_page' });
my $vs;
ok(wait_for(sub { $vs = $sb->get('/control/slack/views');
    @{$vs->{views} // []} }), 'modal opened');
$sb->post('/control/slack/submit', { user => 'U0ALICE',
    view_id => $vs->{views}[-1]{id}, values => {} });

my $rec;
ok(wait_for(sub {
	$d->check_alive;
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	$rec = $json->decode($out)->{databases}{incidents}{$key};
	return ($rec->{im_page}{state} // '') =~ /^(paged|failed)$/;
}, 'page outcome', 30), 'page outcome recorded');
is($rec->{im_page}{state}, 'paged', 'recorded as paged');
is($rec->{im_page}{pd_incident}, $open, 'the open incident, not the resolved one');
my @get = grep { $_->{method} eq 'GET' }
    $sb->requests('pagerduty', qr{^/incidents$});
is(scalar @get, 1, 'one lookup');
is_deeply([sort @{ref $get[0]{params}{'statuses[]'} ?
    $get[0]{params}{'statuses[]'} : [$get[0]{params}{'statuses[]'} // ()]}],
    ['acknowledged', 'resolved', 'triggered'],
    'lookup covers every status (and picks the open one)');
is($get[0]{params}{incident_key}, $ikey, 'lookup by our key');

is($d->stop, 0, 'clean exit');
done_testing();
