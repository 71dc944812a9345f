# backup.t: state safety. incidentd backup while the daemon runs, restored
# into a new state directory, resumes the job that was in flight; a second
# daemon on one state directory is refused, naming the first one's pid,
# while dump and backup still read it; a state from a newer schema is
# refused with a clear message.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use JSON::PP;
use IncidentTest;

my $bin = $ENV{INCIDENTD};
my $edit = ($ENV{top_builddir} // '.') . '/t/store-edit';
my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');
my $conf = $d->conf_path;
my $tmp = $sb->dir;

sub run {
	my (@args) = @_;
	my $cmd = join(' ', map { "'$_'" } @args);
	my $out = `$cmd 2>$tmp/stderr`;
	return ($? >> 8, $out, slurp("$tmp/stderr"));
}
sub tickets { return $sb->jira_tickets(@_) }
sub creates { return $sb->jira_creates }

# One state directory, one daemon.
my ($st, $out, $err) = run('timeout', '20', $bin, '-c', $conf);
is($st, 1, 'a second daemon on the same state exits 1');
like($err, qr/state in \S+ is in use by another incidentd \(pid ${\ $d->pid}\)/,
    'and names the first one\'s pid') or diag($err);
$d->check_alive;

# A job in flight: Jira takes the create and answers late.
my $summary = 'Backed up mid-flight';
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 0,
    delay_ms => 8000, count => 1);
$sb->message(text => "<\@U0BOT> new incident $summary");
ok(wait_for(sub { scalar creates() >= 1 }), 'create sent');

# Readers work beside the daemon.
($st, $out, $err) = run($bin, '-c', $conf, 'dump');
is($st, 0, 'dump works while the daemon runs') or diag($err);
my $jobs = eval { decode_json($out)->{databases}{jobs} } // {};
my ($job) = grep { m{^incident_create/} } keys %$jobs;
is($jobs->{$job // ''}{state}, 'running', 'the create job is running');
($st, $out, $err) = run($bin, '-c', $conf, 'backup', "$tmp/backup.mdb");
is($st, 0, 'backup works while the daemon runs') or diag($err);
like($out, qr/^\Q$tmp\E\/backup\.mdb: backup of /, 'backup says so');
ok(-s "$tmp/backup.mdb", 'backup written');
is((stat("$tmp/backup.mdb"))[2] & 07777, 0600, 'backup is 0600');
ok(!glob("$tmp/backup.mdb.tmp.*"), 'no temporary file left');

# The daemon dies; Jira completes the ticket all the same.
$d->kill9;
ok(wait_for(sub { scalar tickets($summary) == 1 }), 'Jira created it');

# Restore into a new state directory, as the README says.
my $new = "$tmp/restored";
mkdir($new, 0700) or die "$new: $!";
copy("$tmp/backup.mdb", "$new/data.mdb") or die "copy: $!";
chmod(0600, "$new/data.mdb");
my $d2 = new_incidentd($sb, state_dir => $new);
ok($d2->loggrep(qr/job incident_create\/\S+ was running at the last stop/),
    'the restored daemon finds the job in flight');
ok(wait_for(sub { grep { ($_->{text} // '') =~ /declared: \Q$summary\E/ }
    $sb->bot_posts('C0GENERAL') }, 'prompt after restore', 30),
    'and finishes it: the requester is answered');
is(scalar tickets($summary), 1, 'one ticket, not two');
($st, $out) = run($bin, '-c', $d2->conf_path, 'dump');
$jobs = eval { decode_json($out)->{databases}{jobs} } // {};
is($jobs->{$job // ''}{state}, 'done', 'the job is done in the new state');
is($d2->stop, 0, 'clean exit');

# A state from a newer incidentd: refused by the daemon and by dump.
is(system($edit, $new, 'put', 'meta', 'schema_version', '99'), 0,
    'schema_version set to 99');
($st, $out, $err) = run($bin, '-c', $d2->conf_path);
is($st, 1, 'the daemon refuses a newer schema');
like($err, qr/state in \Q$new\E was written by a newer incidentd \(schema 99, this build knows \d+\)/,
    'and says why') or diag($err);
($st, $out, $err) = run($bin, '-c', $d2->conf_path, 'dump');
is($st, 1, 'dump refuses it too');
like($err, qr/written by a newer incidentd/, 'with the same reason');

done_testing();
