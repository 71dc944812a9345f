# upgrade.t: a state directory written by an earlier incidentd opens with
# this one, is brought up to its schema, and the jobs it left pending
# resume and complete exactly once; a state stamped by a newer schema is
# refused with a clear message and left as it was.
#
# The fixtures are mdb_dump text (LMDB's portable format) made by
# t/upgrade/make-fixture.pl, which says how to refresh them with the
# previous release's binary when the schema changes. state.dump (schema 1,
# this release) holds INC-1, declared to the end, and two "new incident"
# requests whose Jira creates were in flight when the daemon was killed;
# first-package.dump is the same run by the first package's binary.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use IncidentTest;

my $top = $ENV{top_srcdir} // '.';
my $fixture = "$top/t/upgrade/state.dump";
my $bin = $ENV{INCIDENTD};
my $edit = ($ENV{top_builddir} // '.') . '/t/store-edit';
plan skip_all => 'mdb_load not installed (lmdb-utils; packaging/install-deps)'
    if system('mdb_load -V >/dev/null 2>&1') != 0;

# The schema this build writes.
my ($current) = slurp("$top/src/incidentd.h") =~
    /#define\s+STORE_SCHEMA_VERSION\s+(\d+)/;
ok($current, "this build's schema is $current");
my ($old) = slurp($fixture) =~ /^ schema_version\n (\d+)$/m;
ok(defined $old && $old <= $current,
    "the fixture is from schema ${\($old // '?')}, not newer");

my $sb = new_sandbox();
my $state = $sb->dir . '/state';
mkdir($state, 0700) or die "$state: $!";
# (mdb_load 0.9.24 ignores the db_pagesize line its own mdb_dump writes.)
is(system("mdb_load -f '$fixture' '$state' 2>'$state.err'"), 0,
    'mdb_load makes the old state') or diag(slurp("$state.err"));
chmod(0600, glob("$state/*.mdb"));

sub run {
	my (@args) = @_;
	my $cmd = join(' ', map { "'$_'" } @args);
	my $out = `$cmd 2>${\ $sb->dir}/stderr`;
	return ($? >> 8, $out, slurp($sb->dir . '/stderr'));
}
sub tickets { return $sb->jira_tickets(@_) }
sub dump_db {
	my ($d) = @_;
	my ($st, $out) = run($bin, '-c', $d->conf_path, 'dump');
	return eval { decode_json($out) } // {};
}

# Jira already has INC-1, as it would after the old daemon's run.
$sb->post('/control/jira/issue', { summary => 'Disk full on db1',
    project => 'INC', issuetype => 'Incident' });

my $d = new_incidentd($sb, state_dir => $state);
ok($sb->wait_connected(1, $d), 'the new binary starts on the old state');
my @sums = ('Checkout is down', 'Search is slow');
for my $s (@sums) {
	ok(wait_for(sub { grep { ($_->{text} // '') =~ /declared: \Q$s\E/ }
	    $sb->bot_posts('C0GENERAL') }, "declared: $s", 30),
	    "the pending create for \"$s\" resumed and answered");
}
my $db = dump_db($d);
is($db->{schema_version}, $current, "the state is now schema $current");
is($db->{databases}{incidents}{'INC-1'}{summary}, 'Disk full on db1',
    'INC-1 from the old state is still there');
my $jobs = $db->{databases}{jobs} // {};
my @creates = grep { m{^incident_create/} } keys %$jobs;
is(scalar @creates, 3, 'three create jobs');
is(scalar(grep { $jobs->{$_}{state} eq 'done' } @creates), 3,
    'all done');
is(scalar tickets($_), 1, "one ticket for \"$_\"") for @sums;
ok($d->log =~ /was running at the last stop/,
    'the in-flight jobs were probed before any resend');
is($d->stop, 0, 'clean exit');

# Once more: nothing is redone.
my $posts = () = $sb->bot_posts('C0GENERAL');
$d->start;
ok($sb->wait_connected(2, $d), 'restarted');
$db = dump_db($d);
is(scalar(grep { m{^incident_create/} && $db->{databases}{jobs}{$_}{state}
    eq 'done' } keys %{$db->{databases}{jobs} // {}}), 3,
    'the creates stay done');
is(scalar tickets($_), 1, "still one ticket for \"$_\"") for @sums;
is($d->stop, 0, 'clean exit');
is(scalar(() = $sb->bot_posts('C0GENERAL')), $posts, 'nothing posted twice');

# A state from a newer incidentd: refused, and left as it was.
my $newer = $current + 1;
is(system($edit, $state, 'put', 'meta', 'schema_version', "$newer"), 0,
    "schema_version set to $newer");
my ($st, $out, $err) = run($bin, '-c', $d->conf_path);
is($st, 1, 'the daemon refuses a newer schema');
like($err, qr/state in \Q$state\E was written by a newer incidentd \(schema $newer, this build knows $current\)/,
    'and says why') or diag($err);
my $meta = `mdb_dump -p -s meta '$state'`;
like($meta, qr/^ schema_version\n $newer$/m, 'the state is left as it was');

# The state of the first package (0.1.0-1, commit e1eb95c): the same
# schema number, older record shapes (no job engine yet; the prompt kept
# as prompt_channel/prompt_ts). Its creates in flight at the kill were
# not recorded by that release, so only INC-1 is in it.
{
	my $sb = new_sandbox();
	my $state = $sb->dir . '/state';
	mkdir($state, 0700) or die "$state: $!";
	is(system("mdb_load -f '$top/t/upgrade/first-package.dump' '$state' " .
	    "2>'$state.err'"), 0, 'the first package\'s state loads')
	    or diag(slurp("$state.err"));
	chmod(0600, glob("$state/*.mdb"));
	$sb->post('/control/jira/issue', { summary => 'Disk full on db1',
	    project => 'INC', issuetype => 'Incident' });
	my $d = new_incidentd($sb, state_dir => $state);
	ok($sb->wait_connected(1, $d), 'this build starts on it');
	$sb->message(text => '<@U0BOT> status INC-1');
	my @p = $sb->wait_bot_posts('C0GENERAL', 1, $d);
	like($p[0]{text} // '', qr/Status of .*INC-1.*: Disk full on db1\n.*Declared: /s,
	    'status reads its INC-1');
	$sb->message(text => '<@U0BOT> new channel INC-1');
	ok(wait_for(sub { grep { ($_->{text} // '') =~ /^Created <#\w+> for INC-1/ }
	    $sb->bot_posts('C0GENERAL') }), 'new channel works on it');
	my ($st, $out) = run($bin, '-c', $d->conf_path, 'dump');
	my $inc = eval { decode_json($out)->{databases}{incidents}{'INC-1'} } // {};
	is($inc->{channel_name}, 'inc-inc-1', 'and is recorded on the old record');
	is($d->stop, 0, 'clean exit');
}

done_testing();
