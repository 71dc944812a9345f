#!/bin/sh
# Run bench/page-fanout.pl against a build directory (make bench).
builddir=${1:-.}
srcdir=$(cd "$(dirname "$0")/.." && pwd)
INCIDENTD="$builddir/src/incidentd" SANDBOX="$builddir/t/sandbox/sandbox" \
    exec perl -I"$srcdir/t/lib" "$srcdir/bench/page-fanout.pl"
