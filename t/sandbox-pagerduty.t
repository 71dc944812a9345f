# sandbox-pagerduty.t: the fake PagerDuty as a daemon following an
# incident sees it. People and PagerDuty's timeouts act through the
# control ops (ack, unack, escalate, reassign, respond, resolve); the
# REST API shows the incident's fields and its log entries (types,
# agents, newest first, pagination, since/until, is_overview, include[],
# time_zone); v3 webhooks reach a receiver of our own, signed, in order,
# retried, dropped, and forged on request. The sandbox is tested alone.
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time);
use IncidentTest;

# Webhooks wait 1 s for an answer and retry after 50 ms, 100 ms, ...
my $sb = new_sandbox(args => ['--pd-webhook-timeout', '1',
    '--pd-webhook-backoff', '0.05']);
my $dir = $sb->dir;
my $json = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(timeout => 10);

# A REST call as the daemon makes it; returns (status, body).
sub pd {
	my ($method, $path, $body, %h) = @_;
	my %o = (headers => { Authorization => 'Token token=pd-sandbox-token',
	    Accept => 'application/vnd.pagerduty+json;version=2',
	    'Content-Type' => 'application/json', %h });
	$o{content} = $json->encode($body) if defined $body;
	my $r = $http->request($method, $sb->url('pagerduty', $path), \%o);
	return ($r->{status}, eval { $json->decode($r->{content}) });
}
sub ctl { my ($op, %b) = @_; return $sb->post("/control/pagerduty/$op", \%b) }
sub incident {
	my ($id, $q) = @_;
	my (undef, $r) = pd(GET => "/incidents/$id" . ($q // ''));
	return $r->{incident};
}
sub entries {
	my ($path) = @_;
	my ($st, $r) = pd(GET => $path);
	return $st == 200 ? @{$r->{log_entries}} : ();
}
sub create {
	my ($title, $svc) = @_;
	my ($st, $r) = pd(POST => '/incidents', { incident => {
	    type => 'incident', title => $title,
	    service => { id => $svc // 'PSVCIM', type => 'service_reference' }
	    } }, From => 'alice@example.com');
	is($st, 201, "incident '$title' created");
	return $r->{incident}{id};
}
sub request_responder {
	my ($id, $from, $user, $msg) = @_;
	my ($st) = pd(POST => "/incidents/$id/responder_requests", {
	    requester_id => $from, message => $msg,
	    responder_request_targets => [{ responder_request_target => {
	    id => $user, type => 'user_reference' } }] });
	is($st, 200, "responder request to $user");
}

############################################################ log entries

my $i1 = create('Database down');
my $inc = incident($i1);
is($inc->{status}, 'triggered', 'new incident: triggered');
is($inc->{assignments}[0]{assignee}{id}, 'PUSER01',
    'assigned to level 1 of the policy');
is($inc->{assigned_via}, 'escalation_policy', 'through the policy');
is_deeply($inc->{acknowledgements}, [], 'no acknowledgements');
is($inc->{last_status_change_by}{id}, 'PUSER01', 'changed by its creator');
is_deeply([map { $_->{type} } @{$inc->{pending_actions}}],
    ['escalate', 'resolve'], 'pending: escalation, auto-resolve');
ok(!exists $inc->{escalation_level},
    'no escalation_level: PagerDuty does not return one');
$inc = incident($i1, '?include[]=assignees&include[]=escalation_policies');
is($inc->{assignments}[0]{assignee}{email}, 'alice@example.com',
    'include[]=assignees: the full user');
is(scalar @{$inc->{escalation_policy}{escalation_rules}}, 2,
    'include[]=escalation_policies: the levels');

# What the log should say, oldest first; checked newest first.
my @expect = qw(trigger assign notify);
sub types_are {
	my ($desc) = @_;
	my @got = map { $_->{type} } entries("/incidents/$i1/log_entries" .
	    "?limit=100");
	is_deeply(\@got, [map { "${_}_log_entry" } reverse @expect], $desc)
	    or diag explain \@got;
}
types_are('created: trigger, assign, notify, newest first');
my @le = entries("/incidents/$i1/log_entries");
is($le[2]{agent}{id}, 'PUSER01', 'trigger: the From user');
is($le[2]{channel}{type}, 'api', 'trigger: through the API');
is($le[1]{assignees}[0]{id}, 'PUSER01', 'assign: assignees');
is($le[0]{user}{id}, 'PUSER01', 'notify: the user');
is($le[0]{channel}{notification}{address}, 'alice@example.com',
    'notify: how');
ok(!exists $le[0]{agent}, 'notify: no agent');
is($le[0]{incident}{id}, $i1, 'entries name their incident');
is($le[0]{service}{id}, 'PSVCIM', 'and its service');

# Acknowledged by Alice.
ok(ctl('ack', id => $i1, user => 'alice@example.com')->{ok}, 'ack');
push @expect, 'acknowledge';
types_are('ack: acknowledge_log_entry');
@le = entries("/incidents/$i1/log_entries");
is($le[0]{agent}{id}, 'PUSER01', 'ack: by Alice');
is($le[0]{summary}, 'Acknowledged by Alice Example', 'ack: summary');
is($le[0]{acknowledgement_timeout}, 1800, 'ack: its timeout');
$inc = incident($i1, '?include[]=acknowledgers');
is($inc->{status}, 'acknowledged', 'acknowledged');
is($inc->{acknowledgements}[0]{acknowledger}{email}, 'alice@example.com',
    'acknowledgements: who (include[]=acknowledgers)');
ok($inc->{acknowledgements}[0]{at}, 'acknowledgements: when');
is($inc->{last_status_change_by}{id}, 'PUSER01', 'changed by Alice');
is_deeply([map { $_->{type} } @{$inc->{pending_actions}}],
    ['unacknowledge', 'resolve'], 'pending: the acknowledgement timeout');

# The acknowledgement times out.
ok(ctl('unack', id => $i1)->{ok}, 'unack');
push @expect, qw(unacknowledge notify);
types_are('unack: unacknowledge_log_entry, Alice notified again');
@le = entries("/incidents/$i1/log_entries");
is($le[1]{agent}{type}, 'service_reference', 'unack: by the service');
is($le[1]{channel}{type}, 'timeout', 'unack: a timeout');
is($le[1]{summary}, 'Unacknowledged by timeout', 'unack: summary');
$inc = incident($i1);
is($inc->{status}, 'triggered', 'triggered again');
is_deeply($inc->{acknowledgements}, [], 'acknowledgements gone');
is($inc->{last_status_change_by}{id}, 'PSVCIM', 'changed by the service');
like(ctl('unack', id => $i1)->{error}, qr/not acknowledged/,
    'unack of a triggered incident refused');

# The escalation timeout: level 2, Bob.
ok(ctl('escalate', id => $i1)->{ok}, 'escalate');
push @expect, qw(escalate assign notify);
types_are('escalate: escalate, assign, notify');
@le = entries("/incidents/$i1/log_entries");
is($le[2]{summary}, 'Escalated to Bob Example (level 2) by timeout',
    'escalate: the level in the summary');
is($le[2]{assignees}[0]{id}, 'PUSER02', 'escalate: assignees');
is($le[2]{agent}{id}, 'PSVCIM', 'escalate: by the service');
is($le[1]{assignees}[0]{id}, 'PUSER02', 'assign: Bob');
is($le[0]{user}{id}, 'PUSER02', 'Bob notified');
is(incident($i1)->{assignments}[0]{assignee}{id}, 'PUSER02',
    'assigned to Bob');
like(ctl('escalate', id => $i1)->{error}, qr/last level/,
    'no level after the last');
like(ctl('escalate', id => $i1, level => 3)->{error}, qr/level: 1 to 2/,
    'no level 3');

# Bob sends it back to level 1 himself.
ok(ctl('escalate', id => $i1, level => 1, user => 'PUSER02')->{ok},
    'escalate to level 1 by Bob');
push @expect, qw(escalate assign notify);
types_are('escalate by a user');
@le = entries("/incidents/$i1/log_entries");
is($le[2]{summary}, 'Escalated to Alice Example (level 1) by Bob Example',
    'by Bob');
is($le[2]{agent}{id}, 'PUSER02', 'agent Bob');

# Alice acknowledges, then hands it to Dave: triggered again, direct.
ok(ctl('ack', id => $i1, user => 'PUSER01')->{ok}, 'ack again');
ok(ctl('reassign', id => $i1, user => 'dave@example.com')->{ok},
    'reassign to Dave');
push @expect, qw(acknowledge assign notify);
types_are('reassign: assign_log_entry, Dave notified');
@le = entries("/incidents/$i1/log_entries");
is($le[1]{assignees}[0]{id}, 'PUSER03', 'reassign: Dave');
is($le[1]{agent}{id}, 'PUSER01', 'reassign: by Alice, the assignee');
is($le[1]{summary}, 'Assigned to Dave Example by Alice Example',
    'reassign: summary');
$inc = incident($i1);
is($inc->{status}, 'triggered', 'reassigned: triggered again');
is($inc->{assigned_via}, 'direct_assignment', 'assigned directly');
like(ctl('escalate', id => $i1)->{error}, qr/assigned directly/,
    'no escalation timeout for a direct assignment');
ok(ctl('ack', id => $i1, user => 'PUSER03')->{ok}, 'Dave acknowledges');
push @expect, 'acknowledge';

# Responders: Bob accepts, Carol declines.
request_responder($i1, 'PUSER01', 'PUSER02', 'Please join #inc-1');
push @expect, qw(assign notify);
types_are('responder request: assign, notify');
@le = entries("/incidents/$i1/log_entries");
is($le[1]{channel}{summary}, 'Please join #inc-1',
    'the request message in the entry');
ok(ctl('respond', id => $i1, user => 'PUSER02', state => 'joined')->{ok},
    'Bob accepts');
push @expect, 'annotate';
ok(ctl('user', id => 'PUSER04', name => 'Carol Example',
    email => 'carol@example.com')->{ok}, 'Carol has an account');
request_responder($i1, 'PUSER03', 'PUSER04', 'Carol, please');
ok(ctl('respond', id => $i1, user => 'PUSER04', state => 'declined')->{ok},
    'Carol declines');
push @expect, qw(assign notify annotate);
types_are('responses: annotate_log_entry');
@le = entries("/incidents/$i1/log_entries");
is($le[0]{agent}{id}, 'PUSER04', 'the decline is Carol\'s');
like($le[0]{summary}, qr/Carol Example declined/, 'declined');
like($le[3]{summary}, qr/Bob Example accepted/, 'accepted');
my %state = map { $_->{user}{id} => $_->{state} }
    @{incident($i1)->{incidents_responders}};
is_deeply(\%state, { PUSER02 => 'joined', PUSER04 => 'declined' },
    'incidents_responders: their answers');

# Dave resolves.
ok(ctl('resolve', id => $i1, user => 'PUSER03')->{ok}, 'resolve');
push @expect, 'resolve';
types_are('resolve: resolve_log_entry');
@le = entries("/incidents/$i1/log_entries");
is($le[0]{agent}{id}, 'PUSER03', 'resolved by Dave');
$inc = incident($i1);
is($inc->{status}, 'resolved', 'resolved');
ok($inc->{resolved_at}, 'resolved_at');
is_deeply([$inc->{assignments}, $inc->{acknowledgements},
    $inc->{pending_actions}], [[], [], []],
    'no assignments, acknowledgements or pending actions');
like(ctl('ack', id => $i1, user => 'PUSER03')->{error}, qr/resolved/,
    'a resolved incident is not acknowledged');

# A note, through REST, still taken after the resolution.
my ($st, $r) = pd(POST => "/incidents/$i1/notes", { note => {
    content => 'Root cause: a full disk' } }, From => 'dave@example.com');
is($st, 200, 'POST .../notes');
is($r->{note}{content}, 'Root cause: a full disk', 'the note');
is($r->{note}{user}{id}, 'PUSER03', 'by the From user');
push @expect, 'annotate';
types_are('note: annotate_log_entry');
@le = entries("/incidents/$i1/log_entries");
is_deeply([$le[0]{agent}{id}, @{$le[0]{channel}}{qw(type summary)}],
    ['PUSER03', 'note', 'Root cause: a full disk'], 'a note by Dave');
(undef, $r) = pd(GET => "/incidents/$i1/notes");
is_deeply([map { $_->{content} } @{$r->{notes}}],
    ['Root cause: a full disk'], 'GET .../notes');
($st, $r) = pd(POST => "/incidents/$i1/notes", { note => { content => '' } },
    From => 'dave@example.com');
is($st, 400, 'an empty note refused');

# Pagination, classic: limit, offset, more; total only when asked.
my @all = entries("/incidents/$i1/log_entries?limit=100");
is(scalar @all, scalar @expect, 'every entry');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?limit=4");
is(scalar @{$r->{log_entries}}, 4, 'limit=4');
ok($r->{more}, 'more');
ok(!defined $r->{total}, 'total null unless asked');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?limit=4&total=true");
is($r->{total}, scalar @all, 'total=true');
my @paged;
for (my $off = 0; ; $off += 4) {
	($st, $r) = pd(GET => "/incidents/$i1/log_entries?limit=4" .
	    "&offset=$off");
	push @paged, @{$r->{log_entries}};
	last if !$r->{more};
}
is_deeply([map { $_->{id} } @paged], [map { $_->{id} } @all],
    'pages of 4 add up to the whole log');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?limit=500");
is($r->{limit}, 100, 'limit at most 100');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?offset=9999&limit=2");
is($st, 400, 'offset + limit beyond 10000 refused');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?limit=x");
is($st, 400, 'a bad limit refused');

# since (inclusive) and until; the daemon polls from the newest it saw.
my @times = map { $_->{created_at} } @all;
is_deeply(\@times, [sort { $b cmp $a } @times], 'newest first by time');
my @since = entries("/incidents/$i1/log_entries?limit=100" .
    "&since=$all[0]{created_at}");
ok(@since >= 1 && $since[0]{id} eq $all[0]{id},
    'since the newest entry seen: it, again');
ok(!grep({ $_->{created_at} lt $all[0]{created_at} } @since),
    'and nothing older');
is(scalar(entries("/incidents/$i1/log_entries?since=2999-01-01T00:00:00Z")),
    0, 'since the future: nothing');
is(scalar(entries("/incidents/$i1/log_entries?until=2001-01-01")), 0,
    'until the past: nothing');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?since=yesterday");
is($r->{error}{code}, 2004, 'a bad since refused, code 2004');

# is_overview: the main changes only.
my %ov = map { $_->{type} => 1 }
    entries("/incidents/$i1/log_entries?is_overview=true&limit=100");
ok($ov{trigger_log_entry} && $ov{acknowledge_log_entry} &&
    $ov{unacknowledge_log_entry} && $ov{escalate_log_entry} &&
    $ov{resolve_log_entry}, 'is_overview: status changes and escalations');
ok(!$ov{notify_log_entry} && !$ov{assign_log_entry}, 'but no notifications');

# include[] and time_zone.
@le = entries("/incidents/$i1/log_entries?include[]=incidents" .
    "&include[]=services&include[]=channels&limit=100");
is($le[0]{incident}{status}, 'resolved', 'include[]=incidents');
is($le[0]{service}{name}, 'Incident Manager', 'include[]=services');
ok(exists $le[-1]{channel}{details}, 'include[]=channels: details');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?include[]=users");
is($st, 400, 'an include[] the endpoint lacks is refused');
SKIP: {
	skip('no tz database', 1) if !-f '/usr/share/zoneinfo/Asia/Tokyo';
	@le = entries("/incidents/$i1/log_entries?time_zone=Asia/Tokyo");
	like($le[0]{created_at}, qr/T\d\d:\d\d:\d\d\+09:00$/,
	    'time_zone: Tokyo');
}
@le = entries("/incidents/$i1/log_entries?time_zone=UTC");
like($le[0]{created_at}, qr/T\d\d:\d\d:\d\dZ$/, 'time_zone=UTC: Z');
($st, $r) = pd(GET => "/incidents/$i1/log_entries?time_zone=Mars/Base");
is($st, 400, 'an unknown time zone refused');

# Through REST: PUT escalation_level, by the From user.
my $i2 = create('Disk full', 'PSVCDB');
($st, $r) = pd(PUT => "/incidents/$i2", { incident => {
    type => 'incident_reference', escalation_level => 2 } },
    From => 'bob@example.com');
is($st, 200, 'PUT escalation_level');
@le = entries("/incidents/$i2/log_entries");
is_deeply([map { $_->{type} } @le[0 .. 2]], [qw(notify_log_entry
    assign_log_entry escalate_log_entry)], 'escalated through REST');
is($le[2]{agent}{id}, 'PUSER02', 'by the From user');

# Account-wide: both incidents, newest first; one entry by id.
my @acct = entries('/log_entries?limit=100');
is($acct[0]{incident}{id}, $i2, 'GET /log_entries: the newest first');
my %incs = map { $_->{incident}{id} => 1 } @acct;
ok($incs{$i1} && $incs{$i2}, 'entries of every incident');
@times = map { $_->{created_at} } @acct;
is_deeply(\@times, [sort { $b cmp $a } @times], 'in time order');
($st, $r) = pd(GET => "/log_entries/$acct[0]{id}");
is($r->{log_entry}{id}, $acct[0]{id}, 'GET /log_entries/{id}');
($st, $r) = pd(GET => '/log_entries/QNOSUCH');
is($st, 404, 'an unknown entry: 404');

############################################################ webhooks

# The receiver: a child on 127.0.0.1 that answers each request as the
# plan for its path says ("$dir/plan-NAME": a generation, then statuses
# used one a request, the last kept): a status, "verify" (202 if the
# signature matches a secret in "$dir/secrets-NAME", else 401) or "hang"
# (no answer). Each request is a JSON line in "$dir/hooks".
sub read_request {
	my ($c) = @_;
	my $sel = IO::Select->new($c);
	my $end = time + 5;
	my $buf = '';
	my $more = sub {
		my $left = $end - time;
		return $left > 0 && $sel->can_read($left) &&
		    sysread($c, $buf, 65536, length $buf);
	};
	while ($buf !~ /\r\n\r\n/) {
		return if !$more->();
	}
	my ($head, $body) = split(/\r\n\r\n/, $buf, 2);
	my ($line, @lines) = split(/\r\n/, $head);
	my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } @lines;
	my $len = $h{'content-length'} // 0;
	while (length($body) < $len) {
		return if !$more->();
		($head, $body) = split(/\r\n\r\n/, $buf, 2);
	}
	my ($method, $path) = split(' ', $line);
	return { method => $method, path => $path, headers => \%h,
	    body => substr($body, 0, $len) };
}

sub receiver {
	my ($srv) = @_;
	# Not the test's: no TAP output, no END blocks, whatever happens.
	open(STDOUT, '>', '/dev/null');
	open(STDERR, '>>', "$dir/receiver.log");
	eval { receive($srv) };
	print STDERR $@ if $@;
	POSIX::_exit(0);
}

sub receive {
	my ($srv) = @_;
	my $sel = IO::Select->new($srv);
	my (%gen, %used, @hung);
	my $deadline = time + 110;
	while (time < $deadline && getppid() != 1) {
		next if !$sel->can_read(0.2);
		my $c = $srv->accept or next;
		$c->blocking(1);
		my $req = read_request($c) or next;
		my ($name) = $req->{path} =~ m{^/(\w+)};
		my ($g, @plan) = split(' ', IncidentTest::slurp(
		    "$dir/plan-$name") || '0 verify');
		($gen{$name}, $used{$name}) = ($g, 0)
		    if ($gen{$name} // -1) != $g;
		my $st = $plan[$used{$name}++] // $plan[-1];
		if ($st eq 'verify') {
			my %sig = map { $_ => 1 } split(/,/,
			    $req->{headers}{'x-pagerduty-signature'} // '');
			$st = (grep { $sig{'v1=' . hmac_sha256_hex($req->{body},
			    $_)} } split(' ', IncidentTest::slurp(
			    "$dir/secrets-$name"))) ? 202 : 401;
		}
		$req->{answer} = $st;
		open(my $fh, '>>', "$dir/hooks") or die;
		print $fh $json->encode($req), "\n";
		close($fh);
		if ($st eq 'hang') {
			push @hung, $c;
			next;
		}
		print $c "HTTP/1.1 $st X\r\nContent-Type: text/plain\r\n" .
		    "Content-Length: 2\r\nConnection: close\r\n\r\nok";
		close($c);
	}
}

my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
    Listen => 16, ReuseAddr => 1, Blocking => 0) or die "listen: $!";
my $port = $srv->sockport;
my $child = fork();
die "fork: $!" if !defined $child;
receiver($srv) if $child == 0;
close($srv);
END { kill('TERM', $child) if $child }

my %plan_gen;
sub set_plan {
	my ($name, @statuses) = @_;
	open(my $fh, '>', "$dir/plan-$name.tmp") or die;
	print $fh join(' ', ++$plan_gen{$name}, @statuses), "\n";
	close($fh);
	rename("$dir/plan-$name.tmp", "$dir/plan-$name") or die;
}
sub secrets {
	my ($name, @s) = @_;
	open(my $fh, '>', "$dir/secrets-$name") or die;
	print $fh "@s\n";
	close($fh);
}
sub hooks {
	my ($name) = @_;
	# A line being written is left for the next look.
	my @h = map { eval { $json->decode($_) } // () } grep { /\S/ }
	    split(/\n/, IncidentTest::slurp("$dir/hooks"));
	return grep { $_->{path} eq "/$name" } @h;
}
sub event { return $json->decode($_[0]{body})->{event} }
# Wait for n requests to /name; returns them all.
sub wait_hooks {
	my ($name, $n, $desc) = @_;
	my @h;
	wait_for(sub { @h = hooks($name); return @h >= $n }, $desc);
	return @h;
}
sub signed_by {
	my ($h, $secret) = @_;
	my $want = 'v1=' . hmac_sha256_hex($h->{body}, $secret);
	return scalar grep { $_ eq $want }
	    split(/,/, $h->{headers}{'x-pagerduty-signature'} // '');
}
sub deliveries {
	my ($sub) = @_;
	return @{$sb->get("/control/pagerduty/webhooks?subscription=$sub")
	    ->{deliveries}};
}
sub delivery_settled {
	my ($sub, $seq) = @_;
	my $d;
	wait_for(sub {
		($d) = grep { $_->{seq} == $seq } deliveries($sub);
		return $d && $d->{state} =~ /^(delivered|dropped)$/;
	}, "delivery $seq settled");
	return $d;
}

secrets('all', 's3cret-one');
$r = ctl('webhook', url => "http://127.0.0.1:$port/all",
    secret => 's3cret-one');
my $sub = $r->{webhook_subscription}{id};
ok($sub, "subscription $sub");
is($r->{webhook_subscription}{delivery_method}{url},
    "http://127.0.0.1:$port/all", 'its url');
like(ctl('webhook', url => 'https://example.com/x')->{error},
    qr/127\.0\.0\.1/, 'only loopback receivers');
like(ctl('webhook', url => "http://127.0.0.1:$port/x",
    events => ['incident.exploded'])->{error}, qr/unknown event/,
    'unknown event types refused');

# One incident's life, as webhooks.
my $i3 = create('API errors', 'PSVCIM');
ok(ctl('ack', id => $i3, user => 'PUSER01')->{ok}, 'ack');
ok(ctl('escalate', id => $i3)->{ok}, 'escalate');
ok(ctl('reassign', id => $i3, user => 'PUSER03', by => 'PUSER02')->{ok},
    'reassign');
ok(ctl('ack', id => $i3, user => 'PUSER03')->{ok}, 'ack');
ok(ctl('unack', id => $i3)->{ok}, 'unack');
request_responder($i3, 'PUSER03', 'PUSER02', 'help');
ok(ctl('respond', id => $i3, user => 'PUSER02', state => 'joined')->{ok},
    'respond');
ok(ctl('resolve', id => $i3, user => 'PUSER03')->{ok}, 'resolve');
ok(ctl('note', id => $i3, user => 'PUSER03', content => 'Review Monday')
    ->{ok}, 'note');
my @want = map { "incident.$_" } qw(triggered acknowledged escalated
    reassigned acknowledged unacknowledged responder.added
    responder.replied resolved annotated);
my @h = wait_hooks('all', scalar @want, 'the life of an incident');
is_deeply([map { event($_)->{event_type} } @h], \@want,
    'every change, in order') or diag explain [map { event($_) } @h];
is(scalar(grep { signed_by($_, 's3cret-one') } @h), scalar @h,
    'each signed: v1=HMAC-SHA256 of the raw body');
my %ids = map { $_->{headers}{'x-webhook-id'} => 1 } @h;
is(scalar keys %ids, scalar @h, 'one X-Webhook-Id each');
my $t = $h[0];
is($t->{method}, 'POST', 'POSTed');
is($t->{headers}{'content-type'}, 'application/json', 'Content-Type');
is($t->{headers}{'user-agent'}, 'PagerDuty-Webhook/V3.0', 'User-Agent');
like($t->{headers}{'x-webhook-id'},
    qr/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    'X-Webhook-Id: a UUID');
is($t->{headers}{'x-webhook-subscription'}, $sub, 'X-Webhook-Subscription');
my $e = event($t);
ok($e->{id}, 'event id');
is($e->{resource_type}, 'incident', 'resource_type');
like($e->{occurred_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'occurred_at, with milliseconds');
is($e->{agent}{id}, 'PUSER01', 'agent: who triggered it');
is($e->{client}{name}, 'PagerDuty', 'client');
is_deeply([@{$e->{data}}{qw(id type status)}], [$i3, 'incident',
    'triggered'], 'data: the incident');
is($e->{data}{assignees}[0]{id}, 'PUSER01', 'data: its assignees');
$e = event($h[2]);
ok(!defined $e->{agent}, 'escalated by the timeout: no agent');
is($e->{data}{assignees}[0]{id}, 'PUSER02', 'escalated to Bob');
$e = event($h[3]);
is($e->{agent}{id}, 'PUSER02', 'reassigned by Bob');
is($e->{data}{assignees}[0]{id}, 'PUSER03', 'to Dave');
$e = event($h[6]);
is_deeply([@{$e->{data}}{qw(type state)}, $e->{data}{user}{id}],
    ['incident_responder', 'pending', 'PUSER02'], 'responder.added');
is(event($h[7])->{data}{state}, 'joined', 'responder.replied: joined');
is(event($h[8])->{data}{status}, 'resolved', 'resolved');
is_deeply([@{event($h[9])->{data}}{qw(type content)}],
    ['incident_note', 'Review Monday'], 'annotated: the note');
my @d = deliveries($sub);
ok(wait_for(sub { @d = deliveries($sub);
    return @d == @want && !grep { $_->{state} ne 'delivered' } @d }),
    'all delivered');
is_deeply([map { $_->{status} } @d], [(202) x @want],
    'with the status the receiver gave');

# Secret rotation: two signatures, one for each secret.
$r = ctl('webhook', id => $sub, secrets => ['s3cret-one', 's3cret-two']);
is_deeply($r->{webhook_subscription}{secrets}, ['s3cret-one', 's3cret-two'],
    'rotation: two secrets');
my $n = hooks('all');
my $i4 = create('Rotation', 'PSVCIM');
@h = wait_hooks('all', $n + 1, 'a webhook during rotation');
my @sigs = split(/,/, $h[-1]{headers}{'x-pagerduty-signature'});
is(scalar @sigs, 2, 'two v1= signatures');
ok(signed_by($h[-1], 's3cret-one') && signed_by($h[-1], 's3cret-two'),
    'each secret verifies one');

# A subscription for some event types only.
$r = ctl('webhook', url => "http://127.0.0.1:$port/resolved",
    secret => 'r', events => ['incident.resolved']);
ok($r->{ok}, 'subscription for incident.resolved');
ok(ctl('ack', id => $i4, user => 'PUSER01')->{ok} &&
    ctl('resolve', id => $i4, user => 'PUSER01')->{ok}, 'ack and resolve');
@h = wait_hooks('resolved', 1, 'resolved only');
wait_hooks('all', $n + 3, 'the others');
is_deeply([map { event($_)->{event_type} } hooks('resolved')],
    ['incident.resolved'], 'only the events subscribed to');

# 503, then 202: retried with the same X-Webhook-Id; the next webhook of
# the incident waits for it.
settled($sub);
set_plan('all', 503, 202);
$n = hooks('all');
my $i5 = create('Retry', 'PSVCIM');
ok(ctl('ack', id => $i5, user => 'PUSER01')->{ok}, 'ack at once');
@h = wait_hooks('all', $n + 3, 'retried');
@h = @h[$n .. $#h];
is_deeply([map { [event($_)->{event_type}, $_->{answer}] } @h],
    [['incident.triggered', 503], ['incident.triggered', 202],
    ['incident.acknowledged', 202]], 'retried, and in order');
is($h[0]{headers}{'x-webhook-id'}, $h[1]{headers}{'x-webhook-id'},
    'the same X-Webhook-Id on the retry');
is($h[0]{body}, $h[1]{body}, 'the same body');
my ($dv) = grep { $_->{event_id} eq event($h[0])->{id} } deliveries($sub);
$dv = delivery_settled($sub, $dv->{seq});
is_deeply([$dv->{state}, $dv->{attempts},
    [map { $_->{status} } @{$dv->{tries}}]], ['delivered', 2, [503, 202]],
    'listed: delivered on the second attempt');

# No answer: the attempt times out (1 s here) and is tried again.
set_plan('all', 'hang', 202);
$n = hooks('all');
ok(ctl('resolve', id => $i5, user => 'PUSER01')->{ok}, 'resolve');
@h = wait_hooks('all', $n + 2, 'tried again after a timeout');
($dv) = grep { $_->{event_type} eq 'incident.resolved' &&
    $_->{incident} eq $i5 } deliveries($sub);
$dv = delivery_settled($sub, $dv->{seq});
is($dv->{tries}[0]{error}, 'timeout', 'the first attempt timed out');
is($dv->{state}, 'delivered', 'the second delivered');
set_plan('all', 'verify');

# 4xx: dropped at once; three in a row disable the subscription.
$r = ctl('webhook', url => "http://127.0.0.1:$port/drop", secret => 'd');
my $dsub = $r->{webhook_subscription}{id};
set_plan('drop', 410);
my $i6 = create('Dropped', 'PSVCNET');
ok(ctl('ack', id => $i6, user => 'PUSER02')->{ok} &&
    ctl('escalate', id => $i6, level => 1, user => 'PUSER02')->{ok},
    'three events');
wait_for(sub { my @x = deliveries($dsub);
    return @x == 3 && !grep { $_->{state} ne 'dropped' } @x },
    'three dropped');
@d = deliveries($dsub);
is_deeply([map { [$_->{attempts}, $_->{status}] } @d], [([1, 410]) x 3],
    'each tried once: a 4xx is not retried');
my ($s) = grep { $_->{id} eq $dsub }
    @{$sb->get('/control/pagerduty/webhooks')->{subscriptions}};
ok($s->{delivery_method}{temporarily_disabled},
    'three dropped in a row: disabled');
ok(ctl('resolve', id => $i6, user => 'PUSER02')->{ok}, 'one more event');
@d = deliveries($dsub);
is($d[-1]{state}, 'not_sent', 'a disabled subscription sends nothing');
set_plan('drop', 202);
ok(ctl('webhook', id => $dsub)->{ok}, 'enabled again');
ok(ctl('webhook_send', subscription => $dsub, incident => $i6)->{ok},
    'send one');
wait_for(sub { (deliveries($dsub))[-1]{state} eq 'delivered' },
    'delivered again');

# Forged deliveries to /all (the receiver checks signatures).
sub settled {
	my ($sub) = @_;
	return wait_for(sub { !grep { $_->{state} !~ /^(delivered|dropped)$/ }
	    deliveries($sub) }, "every delivery to $sub settled");
}
sub forge {
	my (%b) = @_;
	settled($sub);
	my $k = hooks('all');
	my $out = ctl('webhook_send', subscription => $sub, %b);
	ok($out->{ok}, 'webhook_send ' . join(' ', %b)) or diag explain $out;
	my @x = wait_hooks('all', $k + 1, 'the forged delivery');
	my $d = delivery_settled($sub, $out->{deliveries}[0]{seq});
	return ($x[-1], $d);
}
my ($fh, $fd) = forge(signature => 'bad');
like($fh->{headers}{'x-pagerduty-signature'}, qr/^v1=[0-9a-f]{64}$/,
    'bad: a well-formed signature');
ok(!signed_by($fh, 's3cret-one') && !signed_by($fh, 's3cret-two'),
    'that no secret verifies');
is_deeply([$fd->{status}, $fd->{state}, $fd->{attempts}, $fd->{forged}],
    [401, 'dropped', 1, JSON::PP::true],
    'the receiver\'s 401 listed; not retried');
($fh, $fd) = forge(signature => 'none');
ok(!exists $fh->{headers}{'x-pagerduty-signature'}, 'none: no signature');
is($fd->{status}, 401, 'refused');
($fh) = forge(signature => 'v1=00ff');
is($fh->{headers}{'x-pagerduty-signature'}, 'v1=00ff', 'a signature given');
($s) = grep { $_->{id} eq $sub }
    @{$sb->get('/control/pagerduty/webhooks')->{subscriptions}};
ok(!$s->{delivery_method}{temporarily_disabled},
    'forged deliveries do not disable the subscription');
($fh, $fd) = forge(incident => $i3, occurred_at => '2020-01-02T03:04:05Z');
is(event($fh)->{occurred_at}, '2020-01-02T03:04:05Z', 'an old occurred_at');
ok(signed_by($fh, 's3cret-one'), 'signed properly');
is($fd->{status}, 202, 'accepted by the signature');
my $raw = '{"event":{"id":"01FORGED","event_type":"incident.triggered"}}';
($fh) = forge(body => $raw);
is($fh->{body}, $raw, 'a raw body, byte for byte');
ok(signed_by($fh, 's3cret-two'), 'signed');
($fh) = forge(incident => $i3, body => { event_type => 'incident.reopened' });
is(event($fh)->{event_type}, 'incident.reopened', 'event fields replaced');
is(event($fh)->{data}{id}, $i3, 'the rest as generated');
my ($orig) = grep { event($_)->{event_type} eq 'incident.triggered' &&
    (event($_)->{data}{id} // '') eq $i3 } hooks('all');
($fh, $fd) = forge(duplicate_of => event($orig)->{id});
is($fh->{headers}{'x-webhook-id'}, $orig->{headers}{'x-webhook-id'},
    'duplicate: the same X-Webhook-Id');
is($fh->{body}, $orig->{body}, 'and body');
is($fd->{duplicate_of}, event($orig)->{id}, 'listed as a duplicate');
like(ctl('webhook_send', duplicate_of => 'NOPE')->{error},
    qr/no delivery/, 'a duplicate of nothing refused');

kill('TERM', $child);
waitpid($child, 0);
$child = 0;
is($sb->stop, 0, 'the sandbox exits cleanly');
done_testing();
