#!/bin/sh
# Build the libFuzzer targets (clang; libFuzzer, ASan and UBSan) against
# the daemon's own sources, out of tree: the sources are compiled once
# into $FUZZ_BUILD/lib (instrumented), then each target links them.
#
# FUZZ_BUILD: where (default _fuzz in the current directory);
# FUZZ_CONFIG_H: the directory of the config.h a configure run wrote
# (default the current directory); CC_FUZZ: the compiler (clang).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_BUILD:-$(pwd)/_fuzz}
confdir=${FUZZ_CONFIG_H:-$(pwd)}
cc=${CC_FUZZ:-clang}
[ -f "$confdir/config.h" ] || {
	echo "fuzz/build.sh: no config.h in $confdir: run configure first" >&2
	exit 1
}
command -v "$cc" >/dev/null 2>&1 || {
	echo "fuzz/build.sh: $cc not found (packaging/install-deps --fuzz)" >&2
	exit 1
}
san="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all"
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -fno-omit-frame-pointer $san -I$confdir -I$top/src -I$top/compat -I$top/fuzz"
libs="$(pkg-config --libs libevent_core libevent_extra libevent_openssl openssl lmdb libcjson yaml-0.1) -lwslay"
mkdir -p "$out/lib"

# The daemon's sources (not main) and the harness, each when changed.
objs=""
for f in "$top"/src/*.c "$top"/compat/strlcpy.c "$top"/compat/strlcat.c \
    "$top"/compat/strtonum.c "$top"/fuzz/harness.c; do
	[ "$(basename "$f")" = incidentd.c ] && continue
	o="$out/lib/$(basename "$f" .c).o"
	if [ ! -f "$o" ] || [ "$f" -nt "$o" ] || [ "$top/src/incidentd.h" -nt "$o" ]; then
		$cc $cflags -fsanitize=fuzzer-no-link -c -o "$o" "$f"
	fi
	objs="$objs $o"
done

targets=${FUZZ_TARGETS:-"socket interactive http ws jira pd mrkdwn timeline text config"}
for t in $targets; do
	$cc $cflags -fsanitize=fuzzer -o "$out/fuzz-$t" "$top/fuzz/fuzz-$t.c" \
	    $objs $libs
	echo "built $out/fuzz-$t"
done
