#!/bin/sh
# Build the libFuzzer targets against the daemon's own sources with clang.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out="$top/fuzz"
[ -f "$top/config.h" ] || { echo "fuzz/build.sh: run ./configure first" >&2; exit 1; }
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -I$top -I$top/src -I$top/compat"
libs="$(pkg-config --libs libevent_core libevent_extra libevent_openssl openssl lmdb libcjson yaml-0.1) -lwslay"
srcs=""
for f in "$top"/src/*.c; do
	[ "$(basename "$f")" = incidentd.c ] || srcs="$srcs $f"
done
for f in "$top"/compat/strlcpy.c "$top"/compat/strlcat.c "$top"/compat/strtonum.c; do
	srcs="$srcs $f"
done
for t in text config; do
	clang $cflags -o "$out/fuzz-$t" "$out/fuzz-$t.c" $srcs $libs
	echo "built fuzz/fuzz-$t"
done
