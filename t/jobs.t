# jobs.t: the job engine through new incident: the ticket is created after
# the commit, exactly once; a crash while Jira works is resumed by probing
# for the job's label instead of creating again; every request is answered.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

# Every kind a job_create names is registered in jobs_kinds[] (an
# unregistered one would stop the daemon at its first use).
{
	my $top = $ENV{top_srcdir} // '.';
	my (%made, %named, %listed, %var);
	for my $f (glob("$top/src/*.c")) {
		open(my $fh, '<', $f) or die "$f: $!";
		my $src = do { local $/; <$fh> };
		$made{$1} = 1 while
		    $src =~ /(?:job_create|cmd_job_for)\("([a-z_]+)"/g;
		while ($src =~ /const struct job_kind (\w+) = \{\s*\.name = "([a-z_]+)"/g) {
			$var{$1} = $2;
		}
		if ($src =~ /jobs_kinds\[\] = \{(.*?)\};/s) {
			my $t = $1;
			$listed{$_} = 1 for $t =~ /&(\w+)/g;
		}
	}
	$named{$var{$_}} = 1 for grep { $listed{$_} } keys %var;
	ok(keys %made >= 5, scalar(keys %made) . ' kinds created in src/');
	ok($named{$_}, "kind $_ is registered") for sort keys %made;
}

my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');

sub dump_db {
	my $out = `'$ENV{INCIDENTD}' -c '${\ $d->conf_path}' dump`;
	return JSON::PP->new->decode($out)->{databases};
}
sub creates { return $sb->jira_creates }
sub tickets { return $sb->jira_tickets(@_) }
sub job_of {
	my ($kind) = @_;
	my $jobs = dump_db()->{jobs} // {};
	return map { $jobs->{$_} } grep { m{^\Q$kind\E/} } sort keys %$jobs;
}

# The plain path: one job, labelled ticket, prompt, job done.
$sb->message(text => '<@U0BOT> new incident Queue backlog growing');
my @p = $sb->wait_bot_posts('C0GENERAL', 1, $d);
like($p[0]{text}, qr/INC-\d+ declared: Queue backlog growing/, 'declared');
my @c = creates();
is(scalar @c, 1, 'one create');
my ($job) = job_of('incident_create');
ok($job, 'an incident_create job') or diag explain dump_db()->{jobs};
like($job->{token} // '', qr/^[0-9a-f]{32}$/, 'token fixed at creation');
is_deeply($c[0]{json}{fields}{labels}, ["incidentd-$job->{token}"],
    'the ticket carries the token');
is($job->{state}, 'done', 'job done');
is($job->{attempts}, 1, 'in one attempt');
ok(wait_for(sub { my ($pj) = job_of('incident_prompt');
    ($pj->{state} // '') eq 'done' }), 'prompt job done');

# A crash while Jira is creating: Jira finishes the work, the daemon is
# gone; on restart the job is unsure, probes by label, finds the ticket.
my $summary = 'Crash while Jira works';
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 0,
    delay_ms => 1500, count => 1);
my $n0 = scalar creates();
$sb->message(text => "<\@U0BOT> new incident $summary");
ok(wait_for(sub { scalar creates() > $n0 }), 'create sent');
$d->kill9;
ok(wait_for(sub { scalar tickets($summary) == 1 }), 'Jira created it anyway');
$d->start;
ok($d->loggrep(qr/job incident_create\/\S+ was running at the last stop/),
    'found running at start-up');
ok($d->loggrep(qr/ticket INC-\d+ was created before; not again/),
    'probe found the ticket');
ok(wait_for(sub { grep { ($_->{text} // '') =~ /declared: \Q$summary\E/ }
    $sb->bot_posts('C0GENERAL') }, 'prompt after restart', 30),
    'the requester is answered after the crash');
is(scalar tickets($summary), 1, 'one ticket, not two');
is(scalar creates() - $n0, 1, 'create sent once');
my ($j2) = grep { ($_->{args}{summary} // '') eq $summary } job_of('incident_create');
is($j2->{state}, 'done', 'job recorded done');
is($j2->{result}{key}, (tickets($summary))[0]{key}, 'with the found key');

# Jira creates the ticket and then answers 500: the job is unsure, the
# probe finds the label, no second ticket.
sub declare_once {
	my ($summary, %fault) = @_;
	$sb->fault(service => 'jira', match => '/rest/api/2/issue', count => 1,
	    after => JSON::PP::true, %fault);
	my $n = scalar creates();
	$sb->message(text => "<\@U0BOT> new incident $summary");
	ok(wait_for(sub { grep { ($_->{text} // '') =~ /declared: \Q$summary\E/ }
	    $sb->bot_posts('C0GENERAL') }, "prompt for $summary", 60),
	    "$summary: answered");
	is(scalar tickets($summary), 1, "$summary: one ticket");
	is(scalar creates() - $n, 1, "$summary: create sent once");
	my @r = grep { $_->{method} eq 'POST' } $sb->requests('jira',
	    qr{^/rest/api/2/issue$});
	ok($r[-1]{processed}, "$summary: Jira did the work");
}
declare_once('Five hundred after the work', status => 500);
ok($d->loggrep(qr/ticket INC-\d+ was created before; not again/),
    'the probe found it');

# Jira answers after the client's 15 s deadline: the same.
declare_once('Answer after the timeout', status => 0, delay_ms => 16000);

# The connection reset after the work: the same.
declare_once('Reset after the work', status => -1);

# Jira refuses: no retry, the reason reaches the user once.
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 400,
    count => 1, body => { errorMessages => ['Summary is bad'], errors => {} });
$n0 = scalar creates();
my $before = scalar $sb->bot_posts('C0GENERAL');
$sb->message(text => '<@U0BOT> new incident Refused one');
ok(wait_for(sub { scalar $sb->bot_posts('C0GENERAL') > $before }), 'answered');
my @all = $sb->bot_posts('C0GENERAL');
like($all[-1]{text}, qr/Jira refused the ticket: Summary is bad/, 'refusal explained');
is(scalar creates() - $n0, 1, 'a 4xx is not retried');

is($d->stop, 0, 'clean exit');
done_testing();
