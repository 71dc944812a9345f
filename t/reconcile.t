# reconcile.t: the repair pass after a crash, on a store too large for one
# loop turn.
#
# gen-store writes 2,500 incidents with channels, every one linked back
# in Jira but one, as a daemon killed in the middle of "new channel"
# leaves it. That one sorts past the first slice of the walk (1,000
# records a loop turn), so it is only repaired if the walk resumes where
# its last slice stopped. The daemon, started on that store, answers at
# once, links that ticket exactly once, and the passes after each poll
# find nothing more to do.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $build = $ENV{top_builddir} or die 'top_builddir not set';
my $genstore = "$build/bench/gen-store";
-x $genstore or BAIL_OUT('bench/gen-store not built');
my $N = 2500;
my $SLICE = 1000;

my $sb = new_sandbox();
# Jira issues in the sandbox until one has a key that sorts past the
# walk's first slice among INC-1 .. INC-2500 (INC-2 does: the 1,111 keys
# INC-1, INC-1x, INC-1xx, INC-1xxx come first).
my @sorted = sort map { "INC-$_" } 1 .. $N;
my %pos;
@pos{@sorted} = 0 .. $#sorted;
my $key;
for my $i (1 .. 20) {
	my $k = $sb->post('/control/jira/issue', { project => 'INC',
	    issuetype => 'Incident', summary => "generated $i" })->{key};
	if (($pos{$k // ''} // -1) >= $SLICE) {
		$key = $k;
		last;
	}
}
ok(defined $key, 'a ticket whose key sorts past the first slice')
    or BAIL_OUT('the sandbox gave no such key');
my ($num) = $key =~ /(\d+)$/;
my $channel = sprintf('C0LG%05d', $num);

my $state = $sb->dir . '/gen-state';
mkdir($state, 0700) or die "$state: $!";
my $out = `'$genstore' '$state' $N 0 0 $num 2>&1`;
is($? >> 8, 0, "gen-store: $N incidents, $key not linked") or diag($out);
chmod(0700, $state);

sub remote_links {
	my $is = $sb->post('/control/jira/get', { key => $key });
	return @{$is->{remotelinks} // []};
}
is(scalar(remote_links()), 0, "$key has no link to its channel yet");

my $d = new_incidentd($sb, state_dir => $state, log_level => 'info',
    schedule => { poll_interval => '1s' });
ok($sb->wait_connected(1, $d), 'the daemon starts on the store');
$sb->message(text => '<@U0BOT> help');
ok(wait_for(sub { grep { ($_->{text} // '') =~ /What I can do/ }
    $sb->bot_posts('C0GENERAL') }, 'help answered', 30),
    'it answers while the repair pass walks');

ok(wait_for(sub { $d->check_alive; remote_links() >= 1 },
    "$key linked", 60), "the repair pass linked $key to its channel");
my @rl = remote_links();
like($rl[0]{object}{url} // '', qr/\Q$channel\E/,
    "the link is to $channel") or diag explain \@rl;
like($d->log, qr/reconcile: \Q$key\E: #\S+ is not linked from the ticket/,
    'the log says why');

# Polls come every second and each asks for a pass: the walk ends, and
# none links anything again.
my $seen = length($d->log);
ok(wait_for(sub { (() = substr($d->log, $seen) =~
    m{job jira_poll/\d+ done}g) >= 3 }, 'three more polls', 60),
    'polls go on, each followed by a pass');
is(scalar(remote_links()), 1, "$key linked once");
my @repairs = $d->log =~ /reconcile: \Q$key\E: /g;
is(scalar @repairs, 1, 'one repair for it in the log');
unlike($d->log, qr/reconcile: INC-(?!\Q$num\E\b)\d+: /,
    'no repair for the linked incidents');
is($d->stop, 0, 'clean exit');
done_testing();
