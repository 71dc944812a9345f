# suite.t: make check runs every test in t/. A t/*.t or t/unit-*.c that
# Makefile.am does not list would never run (timeline-backfill.t once
# went unnoticed that way), so this fails until it is listed, and a unit
# test must also have its _LDADD line.
use strict;
use warnings;
use Test::More;

my $top = $ENV{top_srcdir} // '.';
open(my $fh, '<', "$top/Makefile.am") or BAIL_OUT("$top/Makefile.am: $!");
my $am = do { local $/; <$fh> };
close($fh);
$am =~ s/\\\n/ /g;		# join continuation lines

my (%listed, %ldadd);
for my $line (split /\n/, $am) {
	if ($line =~ /^\s*(UNIT_TESTS|INTEGRATION_TESTS)\s*\+?=\s*(.*)$/) {
		$listed{$1}{$_} = 1 for split ' ', $2;
	}
	$ldadd{$1} = 1 if $line =~ /^\s*t_(unit_\w+)_LDADD\s*=/;
}
ok(keys %{$listed{INTEGRATION_TESTS} // {}}, 'INTEGRATION_TESTS found');
ok(keys %{$listed{UNIT_TESTS} // {}}, 'UNIT_TESTS found');

my @t = map { s{^\Q$top\E/}{}r } glob("$top/t/*.t");
my @u = map { s{^\Q$top\E/}{}r =~ s/\.c$//r } glob("$top/t/unit-*.c");
ok(@t > 1 && @u > 1, scalar(@t) . ' integration and ' . scalar(@u) .
    ' unit tests in t/');
for my $f (sort @t) {
	ok($listed{INTEGRATION_TESTS}{$f}, "$f in INTEGRATION_TESTS");
}
for my $f (sort @u) {
	ok($listed{UNIT_TESTS}{$f}, "$f in UNIT_TESTS");
	(my $v = $f) =~ s{^t/}{};
	$v =~ tr/-/_/;
	ok($ldadd{$v}, "t_${v}_LDADD set");
}
# And the other way: nothing listed that does not exist.
for my $f (sort keys %{$listed{INTEGRATION_TESTS}}) {
	ok(-f "$top/$f", "$f exists");
}
for my $f (sort keys %{$listed{UNIT_TESTS}}) {
	ok(-f "$top/$f.c", "$f.c exists");
}
done_testing();
