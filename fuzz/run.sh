#!/bin/sh
# Run each fuzz target for FUZZ_SECONDS (default 60), one at a time,
# from its seeds (fuzz/corpus/<t>) and past findings (fuzz/regress/<t>);
# new inputs go to $FUZZ_BUILD/corpus/<t>, crashes to
# $FUZZ_BUILD/artifacts/. Prints one line per target and ends with
# "fuzz: N passed, N failed"; exits 1 if any target failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=${FUZZ_BUILD:-$(pwd)/_fuzz}
secs=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"socket interactive http ws jira pd mrkdwn timeline text config"}
passed=0
failed=0
mkdir -p "$out/artifacts"
for t in $targets; do
	mkdir -p "$out/corpus/$t"
	seeds=""
	for d in "$top/fuzz/corpus/$t" "$top/fuzz/regress/$t"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	log="$out/fuzz-$t.log"
	"$out/fuzz-$t" -max_total_time="$secs" -rss_limit_mb=2048 \
	    -timeout=25 -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix="$out/artifacts/$t-" \
	    "$out/corpus/$t" $seeds >"$log" 2>&1
	st=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	if [ $st -eq 0 ]; then
		passed=$((passed + 1))
		echo "PASS: fuzz-$t ${secs}s: ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}"
	else
		failed=$((failed + 1))
		echo "FAIL: fuzz-$t (exit $st; $log)"
		grep -E 'ERROR|SUMMARY|invariant|Test unit written' "$log" | head -n 5
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
