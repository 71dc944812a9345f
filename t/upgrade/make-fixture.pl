#!/usr/bin/env perl
# make-fixture.pl: write the state directory fixture t/upgrade.t upgrades.
#
# Run it with the PREVIOUS release's binary, against this tree's sandbox,
# when a change to the store's format (STORE_SCHEMA_VERSION in
# src/incidentd.h, and a step in store.c's store_migrations[]) is about
# to be released, so that t/upgrade.t proves the migration on a state the
# old schema really wrote. From the top of a built tree:
#
#   git worktree add ../old vX.Y.Z && (cd ../old && autoreconf -fi &&
#       ./configure && make)
#   INCIDENTD=$PWD/../old/src/incidentd SANDBOX=$PWD/t/sandbox/sandbox \
#       top_builddir=$PWD perl -It/lib t/upgrade/make-fixture.pl \
#       t/upgrade/state.dump
#
# It needs mdb_dump (lmdb-utils). Today's state.dump is schema 1, written
# by this tree's binary: no release has had another schema yet.
# t/upgrade/first-package.dump was made so from commit e1eb95c (0.1.0-1,
# the first package), with FIXTURE_DROP=access for the keys it predates.
#
# The daemon declares one incident to the end (INC-1, "Disk full on
# db1"), then two more whose Jira creates are in flight (the sandbox Jira
# holds them) when it is killed with SIGKILL. The state is written as
# mdb_dump -a -p text (LMDB's own portable dump format; mdb_load turns it
# back into a data.mdb of the same format): a small, reviewable file.
use strict;
use warnings;
use IncidentTest;
use Test::More;

my $out = shift // die "usage: make-fixture.pl OUT.dump\n";
my $sb = new_sandbox();
# Today's test configuration, less the keys an older release may not know
# (FIXTURE_DROP=access,... names them).
my %conf = (log_level => 'info');
$conf{_drop} = [split(/,/, $ENV{FIXTURE_DROP})] if $ENV{FIXTURE_DROP};
my $d = new_incidentd($sb, %conf);
$sb->wait_connected(1, $d) or die "not connected\n";

sub posts { return grep { ($_->{text} // '') =~ $_[0] }
    $sb->bot_posts('C0GENERAL') }

$sb->message(text => '<@U0BOT> new incident Disk full on db1');
wait_for(sub { posts(qr/declared: Disk full on db1/) }, 'INC-1', 30)
    or die "INC-1 was not declared\n";

# Two creates Jira takes and does not answer before the daemon dies.
$sb->fault(service => 'jira', match => '/rest/api/2/issue', status => 0,
    delay_ms => 60000, count => 2);
$sb->message(text => '<@U0BOT> new incident Checkout is down');
$sb->message(text => '<@U0BOT> new incident Search is slow');
my $state = $sb->dir . '/state';
# Both sent: whatever the release records before it sends is committed.
wait_for(sub { scalar $sb->jira_creates >= 3 }, 'two creates in flight', 30)
    or die "the creates were not sent\n";
$d->kill9;

my $dump = `mdb_dump -a -p '$state'`;
die "mdb_dump failed\n" if $? != 0 || $dump eq '';
open(my $fh, '>', $out) or die "$out: $!\n";
print $fh $dump;
close($fh) or die "$out: $!\n";
ok(1, "$out written");
done_testing();
