# crash-trial.t: the short crash trial. 20 SIGKILLs at random points of
# scripted incidents (t/crash-trial.pl); passes only when nothing was
# lost and nothing was done twice. The long form is "make crash-trials".
# CRASH_SEED replays a plan; the seed is in the log.
use strict;
use warnings;
use FindBin;
use Test::More;

my $trials = $ENV{CRASH_TRIALS} // 20;
my @cmd = ($^X, "-I$FindBin::Bin/lib", "$FindBin::Bin/crash-trial.pl",
    '--trials', $trials);
open(my $fh, '-|', @cmd) or die "$cmd[2]: $!";
my ($summary, @lines);
while (my $l = <$fh>) {
	chomp($l);
	push @lines, $l;
	$summary = $l if $l =~ /^trials \d+, lost \d+, duplicated \d+$/;
}
close($fh);
my $st = $?;
diag($_) for @lines;

ok(defined $summary, 'the driver ran to its summary') or BAIL_OUT(
    "crash-trial.pl exited with status $st");
my ($n, $lost, $dup) = ($summary // '') =~ /^trials (\d+), lost (\d+), duplicated (\d+)/;
cmp_ok($n // 0, '>=', $trials, "$trials kills");
is($lost, 0, 'nothing lost');
is($dup, 0, 'nothing done twice');
is($st, ($lost || $dup) ? 1 << 8 : 0, 'exit status agrees');
done_testing();
