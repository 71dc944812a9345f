#!/bin/sh
# Run bench/timeline.pl against a build directory (make bench).
builddir=${1:-.}
srcdir=$(cd "$(dirname "$0")/.." && pwd)
INCIDENTD="$builddir/src/incidentd" SANDBOX="$builddir/t/sandbox/sandbox" \
    exec perl -I"$srcdir/t/lib" "$srcdir/bench/timeline.pl"
