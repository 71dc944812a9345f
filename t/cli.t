# cli.t: version, usage, check-config and dump.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $bin = $ENV{INCIDENTD};
my $tmp = File::Temp::tempdir('incidentd-cli-XXXXXX', TMPDIR => 1,
    CLEANUP => 1);

sub run {
	my (@args) = @_;
	my $cmd = join(' ', map { "'$_'" } $bin, @args);
	my $out = `$cmd 2>$tmp/stderr`;
	return ($? >> 8, $out, slurp("$tmp/stderr"));
}

my ($st, $out, $err) = run('version');
is($st, 0, 'version exits 0');
like($out, qr/^incidentd \d+\.\d+\.\d+$/m, 'version printed');

($st, $out) = run('-h');
is($st, 0, '-h exits 0');
like($out, qr/usage: incidentd.*check-config.*dump/s, 'usage lists commands');

($st, $out, $err) = run('-x');
is($st, 1, 'bad flag exits 1');

# A broken configuration: every problem, with its line.
open(my $fh, '>', "$tmp/bad.yaml") or die;
print $fh <<'YAML';
state_dir: /tmp/x
log_level: loud
slack:
  app_token: xapp-1
  bot_token: xoxb-1
  colour: blue
schedule:
  poll_interval: 5 fortnights
YAML
close($fh);
($st, $out, $err) = run('-c', "$tmp/bad.yaml", 'check-config');
is($st, 1, 'check-config on a bad file exits 1');
like($err, qr/^\Q$tmp\E\/bad\.yaml:2: /m, 'bad log level reported on line 2');
like($err, qr/^\Q$tmp\E\/bad\.yaml:6: .*colour/m, 'unknown key on line 6');
like($err, qr/^\Q$tmp\E\/bad\.yaml:8: /m, 'bad duration on line 8');
like($err, qr/jira/, 'missing jira section reported');

# A warning is not a problem: FILE:LINE on stderr, and still exit 0.
open($fh, '>', "$tmp/fast.yaml") or die;
print $fh <<'YAML';
slack:
  app_token: xapp-1-cli
  bot_token: xoxb-1-cli
jira:
  url: https://jira.example.com
  api_token: cli-jira-token
  project: INC
pagerduty:
  api_token: cli-pd-token
  from: incident-bot@example.com
  incident_manager_service: PIMGR01
schedule:
  poll_interval: 1s
YAML
close($fh);
chmod(0600, "$tmp/fast.yaml") or die;
($st, $out, $err) = run('-c', "$tmp/fast.yaml", 'check-config');
is($st, 0, 'check-config with a warning exits 0') or diag($err);
like($out, qr/configuration OK/, 'a warning: still OK');
like($err, qr/^\Q$tmp\E\/fast\.yaml:13: warning: schedule\.poll_interval below 10s is meant for tests: each poll is a Jira search$/m,
    'poll_interval below 10s: a warning at its line') or diag($err);

($st, $out, $err) = run('-c', "$tmp/missing.yaml", 'check-config');
is($st, 1, 'unreadable file exits 1');
like($err, qr/missing\.yaml/, 'unreadable file named');

# dump while the daemon runs.
my $sb = new_sandbox();
my $d = new_incidentd($sb);
ok($sb->wait_connected(1, $d), 'connected');
$sb->message(text => '<@U0BOT> help');
$sb->wait_bot_posts('C0GENERAL', 1, $d);
($st, $out, $err) = run('-c', $d->conf_path, 'check-config');
is($st, 0, 'check-config on the test config');
like($out, qr/configuration OK/, 'says OK');
my $json;
ok(wait_for(sub {
	($st, $out, $err) = run('-c', $d->conf_path, 'dump');
	$json = eval { JSON::PP->new->decode($out) };
	return $st == 0 && $json && %{$json->{databases}{events} // {}};
}, 'dump shows the processed event'), 'dump works while the daemon runs');
is($json->{schema_version}, 1, 'schema version in the dump');
ok(exists $json->{databases}{$_}, "database $_ dumped")
    for qw(meta events incidents pages timeline jobs);
is($d->stop, 0, 'clean exit');
done_testing();
