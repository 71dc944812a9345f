# packaging.t: one version everywhere, and man pages that match the code.
#
# configure.ac's AC_INIT is the one place the version is set; the RPM spec
# and the Debian changelog repeat it (they must be readable without
# configure), so this fails until they agree. incidentd.yaml(5) must
# document every key of conf_table[] in src/config.c, and nothing else.
use strict;
use warnings;
use Test::More;
use IncidentTest;

my $top = $ENV{top_srcdir} // '.';

my ($ac_version) = slurp("$top/configure.ac") =~
    /^AC_INIT\(\[incidentd\],\s*\[([^\]]+)\]/m;
ok(defined $ac_version, 'AC_INIT has a version') or BAIL_OUT('no AC_INIT');

my $out = `'$ENV{INCIDENTD}' version`;
is($out, "incidentd $ac_version\n", 'incidentd version is AC_INIT\'s');

my $spec = slurp("$top/packaging/rpm/incidentd.spec");
my ($spec_version) = $spec =~ /^Version:\s*(\S+)/m;
is($spec_version, $ac_version, 'incidentd.spec Version is AC_INIT\'s');
my ($spec_log) = $spec =~ /^%changelog\n\*.* - (\S+?)-\d+$/m;
is($spec_log, $ac_version, 'incidentd.spec %changelog starts at it');

my ($deb_version) = slurp("$top/packaging/debian/changelog") =~
    /^incidentd \(([^)]+)\)/;
like($deb_version // '', qr/^\Q$ac_version\E-\d+$/,
    'debian/changelog upstream version is AC_INIT\'s');

# Every conf_table[] path, and only those, as ".It Ic PATH" in the page.
my @keys = slurp("$top/src/config.c") =~ /\.path = "([^"]+)"/g;
ok(@keys > 40, scalar(@keys) . ' keys in conf_table[]');
my $man = slurp("$top/man/incidentd.yaml.5");
my %documented = map { $_ => 1 } $man =~ /^\.It Ic (\S+)/mg;
for my $k (@keys) {
	ok($documented{$k}, "incidentd.yaml(5) documents $k");
}
my %known = map { $_ => 1 } @keys;
for my $k (sort keys %documented) {
	ok($known{$k}, "incidentd.yaml(5) key $k is in conf_table[]");
}

# Every command main() knows is in incidentd(8).
my $man8 = slurp("$top/man/incidentd.8");
for my $c (qw(run check-config dump backup version)) {
	like($man8, qr/^\.It Cm \Q$c\E\b/m, "incidentd(8) documents $c");
}

# make dist builds each EXTRA_DIST entry as a target first: a directory
# named like a phony target (bench, fuzz) would run that target inside
# every make dist, make deb and make rpm.
SKIP: {
	my $am = -f "$top/Makefile.am" ? slurp("$top/Makefile.am") : '';
	skip('no Makefile.am (a dist tree)', 1) if $am eq '';
	$am =~ s/\\\n/ /g;
	my %phony = map { $_ => 1 } map { split ' ' } $am =~ /^\.PHONY:(.*)$/mg;
	my @dist = map { split ' ' } $am =~ /^EXTRA_DIST\s*\+?=(.*)$/mg;
	my @clash = grep { $phony{$_} } @dist;
	is("@clash", '', 'no EXTRA_DIST entry is also a phony target');
}

SKIP: {
	my $mandoc = `command -v mandoc 2>/dev/null`;
	chomp $mandoc;
	skip('mandoc is not installed', 1) if $mandoc eq '';
	# Warnings and worse; STYLE notes about pages not installed here
	# (sd_notify(3)) depend on the machine.
	my $lint = `mandoc -T lint -W warning '$top/man/incidentd.8' \\
	    '$top/man/incidentd.yaml.5' 2>&1`;
	is($lint, '', 'mandoc -T lint -W warning is clean');
}

done_testing();
