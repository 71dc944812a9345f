# reload.t: SIGHUP swaps a valid configuration in without dropping the
# Slack connection, and keeps the old one when the new file is bad.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $sb = new_sandbox();
my $d = new_incidentd($sb, log_level => 'info');
ok($sb->wait_connected(1, $d), 'connected');
my $opened = $sb->connections->{opened_total};

$d->rewrite_config(log_level => 'debug');
$d->signal('HUP');
ok($d->loggrep(qr/configuration reloaded/), 'valid file reloaded');
$sb->message(text => '<@U0BOT> help');
$sb->wait_bot_posts('C0GENERAL', 1, $d);
ok($d->loggrep(qr/debug: /), 'new log level in effect');
is($sb->connections->{opened_total}, $opened, 'Slack connection kept');

open(my $fh, '>>', $d->conf_path) or die;
print $fh "bogus_key: 1\n";
close($fh);
$d->signal('HUP');
ok($d->loggrep(qr/incidentd\.yaml:\d+: .*bogus_key/), 'bad file: FILE:LINE error logged');
ok($d->loggrep(qr/reload rejected/), 'bad file rejected');
$sb->message(text => '<@U0BOT> help');
my @p = $sb->wait_bot_posts('C0GENERAL', 2, $d);
is(scalar @p, 2, 'still answering with the old configuration');
is($sb->connections->{opened_total}, $opened, 'connection still kept');

is($d->stop, 0, 'SIGTERM exits 0');
ok($d->log =~ /shutting down/ && $d->log =~ /stopped/, 'orderly shutdown logged');
done_testing();
