#!/usr/bin/perl
# conf-syntax.t: every example under conf/ passes "incidentd check-config"
# (tmux's conf-syntax.sh), and a broken file fails with FILE:LINE: lines.
#
# Secrets come from INCIDENTD_* variables (the examples leave the *_file
# lines commented out), and once from files by uncommenting those lines.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

my $top = $ENV{top_srcdir} // '.';
my $bin = $ENV{INCIDENTD} // ($ENV{top_builddir} // '.') . '/src/incidentd';
plan skip_all => "no daemon at $bin (set INCIDENTD)" unless -x $bin;

my %secrets = (
	INCIDENTD_SLACK_APP_TOKEN	=> 'xapp-1-A000TEST-conf-syntax',
	INCIDENTD_SLACK_BOT_TOKEN	=> 'xoxb-0000-conf-syntax',
	INCIDENTD_JIRA_API_TOKEN	=> 'conf-syntax-jira-token',
	INCIDENTD_PAGERDUTY_API_TOKEN	=> 'conf-syntax-pd-token',
);
delete $ENV{$_} for keys %secrets;

my $tmp = tempdir('conf-syntax.XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	local $/;
	my $s = <$fh>;
	close($fh);
	return $s // '';
}

sub spew {
	my ($path, $s, $mode) = @_;
	open(my $fh, '>', $path) or die "$path: $!";
	print $fh $s;
	close($fh) or die "$path: $!";
	chmod($mode, $path) if defined $mode;
}

# Run "incidentd -c FILE check-config"; returns (exit status, stdout, stderr).
sub check_config {
	my ($file, %env) = @_;
	my ($out, $err) = ("$tmp/stdout", "$tmp/stderr");
	my $pid = fork() // die "fork: $!";
	if ($pid == 0) {
		$ENV{$_} = $env{$_} for keys %env;
		open(STDOUT, '>', $out) or die "$out: $!";
		open(STDERR, '>', $err) or die "$err: $!";
		exec('timeout', '60', $bin, '-c', $file, 'check-config') or
		    die "exec: $!";
	}
	waitpid($pid, 0);
	return ($? >> 8, slurp($out), slurp($err));
}

# The Slack app manifest is not a configuration (t/manifest.t checks it).
my @examples = sort grep { !m{/slack-app-manifest\.yaml$} } glob("$top/conf/*.yaml");
ok(scalar(@examples) >= 2, 'conf/ has examples') or
    diag("found: @examples");

for my $file (@examples) {
	# As the package installs it: 0640, the daemon's group.
	(my $base = $file) =~ s{.*/}{};
	my $target = "$tmp/example-$base";
	spew($target, slurp($file), 0640);
	if ($file =~ m{/[^/]*shortcuts[^/]*\.yaml$}) {
		# A shortcuts file is not a configuration: check it through
		# pagerduty.shortcuts_file of a small one.
		$target = "$tmp/uses-shortcuts.yaml";
		spew($target, <<"EOF", 0640);
jira:
  url: https://jira.example.com
  project: INC
pagerduty:
  from: incident-bot\@example.com
  incident_manager_service: PIMGR01
  shortcuts_file: $file
EOF
	}
	my ($rc, $out, $err) = check_config($target, %secrets);
	is($rc, 0, "$file passes check-config") or diag($err);
	like($out, qr/configuration OK/, "$file: configuration OK");
	unlike($err, qr/^\S+:\d+: /m, "$file: no FILE:LINE: problems");
}

# The main example with its *_file lines uncommented, secrets in files.
my $main = "$top/conf/incidentd.yaml";
SKIP: {
	skip("no conf/incidentd.yaml", 5) unless -f $main;
	my $conf = slurp($main);
	my %files = (
		app_token_file	=> 'xapp-1-A000TEST-from-file',
		bot_token_file	=> 'xoxb-0000-from-file',
		api_token_file	=> 'token-from-file',
	);
	my $n = 0;
	for my $key (sort keys %files) {
		$conf =~ s{^(\s*)#\s*$key:\s*\S+}{
			$n++;
			spew("$tmp/$key-$n", "$files{$key}\n", 0600);
			"$1$key: $tmp/$key-$n";
		}gme;
	}
	is($n, 4, 'four *_file lines uncommented');
	spew("$tmp/from-files.yaml", $conf, 0600);
	my ($rc, $out, $err) = check_config("$tmp/from-files.yaml");
	is($rc, 0, 'secrets from *_file lines') or diag($err);
	like($out, qr/configuration OK/, 'secrets from files: OK');

	# No secrets anywhere: four missing keys, each with its line.
	($rc, $out, $err) = check_config($main);
	is($rc, 1, 'no secrets: exit 1');
	my @missing = grep { /^\Q$main\E:\d+: missing required key / }
	    split(/\n/, $err);
	is(scalar(@missing), 4, 'no secrets: four missing keys') or
	    diag($err);
}

# A broken fixture: exit 1, every stderr line is FILE:LINE: message.
my $bad = "$top/t/conf/bad-values.yaml";
my ($rc, $out, $err) = check_config($bad, %secrets);
is($rc, 1, 'broken config: exit 1');
unlike($out, qr/configuration OK/, 'broken config: not OK');
my @lines = split(/\n/, $err);
ok(scalar(@lines) >= 20, 'broken config: many problems') or diag($err);
is(scalar(grep { !/^\Q$bad\E:\d+: \S/ } @lines), 0,
    'broken config: every line is FILE:LINE: message') or diag($err);
like($err, qr/^\Q$bad\E:37: schedule\.archive_after: unknown unit 'x'/m,
    'broken config: a duration problem with its line');
unlike($err, qr/conf-syntax-(jira|pd)-token/,
    'broken config: secrets never printed');

# A syntax error points at its line.
my $syntax = "$top/t/conf/bad-syntax.yaml";
($rc, $out, $err) = check_config($syntax, %secrets);
is($rc, 1, 'syntax error: exit 1');
like($err, qr/^\Q$syntax\E:3: syntax error: /m, 'syntax error: line 3');

# Who may read secrets: a world-readable secret file is refused at the
# line that names it; a world-readable file without secrets only warns.
{
	my $tok = "$tmp/open-token";
	spew($tok, "xoxb-0000-world-readable\n", 0644);
	my $f = "$tmp/perm.yaml";
	spew($f, <<"EOF", 0600);
slack:
  bot_token_file: $tok
jira:
  url: https://jira.example.com
  project: INC
pagerduty:
  from: incident-bot\@example.com
  incident_manager_service: PIMGR01
EOF
	my %env = %secrets;
	delete $env{INCIDENTD_SLACK_BOT_TOKEN};
	($rc, $out, $err) = check_config($f, %env);
	is($rc, 1, 'world-readable secret file: exit 1');
	like($err, qr/^\Q$f\E:2: slack\.bot_token \(from \Q$tok\E\): .*readable by everyone \(mode 0644\)/m,
	    'world-readable secret file: FILE:LINE names it') or diag($err);
	unlike($err, qr/world-readable\n/, 'the secret is not printed');
	chmod(0600, $tok);
	($rc, $out, $err) = check_config($f, %env);
	is($rc, 0, 'private secret file: OK') or diag($err);
	is($err, '', 'private files: no warnings');

	chmod(0644, $f);
	($rc, $out, $err) = check_config($f, %env);
	is($rc, 0, 'world-readable config without secrets: still OK');
	like($err, qr/^\Q$f\E:1: warning: \Q$f\E is readable by everyone/m,
	    'world-readable config: a warning') or diag($err);

	my $inl = "$tmp/inline.yaml";
	my $text = slurp($f);
	$text =~ s{bot_token_file: \S+}{bot_token: xoxb-0000-inline};
	spew($inl, $text, 0644);
	($rc, $out, $err) = check_config($inl, %env);
	is($rc, 1, 'inline secret in a world-readable config: exit 1');
	like($err, qr/^\Q$inl\E:2: inline secret: .*readable by everyone/m,
	    'inline secret: refused at its line') or diag($err);
	unlike($err, qr/xoxb-0000-inline/, 'inline secret never printed');
	spew($inl, $text, 0600);
	($rc, $out, $err) = check_config($inl, %env);
	is($rc, 0, 'inline secret in a private config: OK') or diag($err);

	chmod(0620, $inl);
	($rc, $out, $err) = check_config($inl, %env);
	like($err, qr/^\Q$inl\E:\d+: warning: .*writable by others/m,
	    'group-writable config: a warning') or diag($err);
}

# A file that is not there.
($rc, $out, $err) = check_config("$tmp/missing.yaml", %secrets);
is($rc, 1, 'missing file: exit 1');
like($err, qr/^\Q$tmp\E\/missing\.yaml:0: cannot open: /m,
    'missing file: FILE:0: cannot open');

done_testing();
