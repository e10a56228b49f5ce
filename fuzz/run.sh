#!/bin/sh
# Build the libFuzzer targets (clang, build-fuzz/) and run each for SECONDS
# (default 60) on a scratch copy of its seed corpus; the committed corpus is never
# written.  Prints each target's executions; crash inputs land in fuzz/crashes/
# (not committed).  Exits 1 if any target crashed, hung or leaked.
#
#   fuzz/run.sh [SECONDS]
#   FUZZ_TARGETS="region duration" fuzz/run.sh 600     # a subset
#   FUZZ_BUILD=/tmp/bf fuzz/run.sh                       # another build dir
set -eu

secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${FUZZ_BUILD:-$root/build-fuzz}
targets=${FUZZ_TARGETS:-region config duration}
crashes=$root/fuzz/crashes

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$root" -Dfuzzing=true -Db_lundef=false
else
	meson configure "$build" -Dfuzzing=true -Db_lundef=false
fi
exes=
for t in $targets; do exes="$exes fuzz/fuzz_$t"; done
# shellcheck disable=SC2086 # one word per target
meson compile -C "$build" $exes

work=$(mktemp -d "${TMPDIR:-/tmp}/evt-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$crashes"

status=0
for t in $targets; do
	mkdir -p "$work/$t"
	cp -R "$root/fuzz/corpus/$t/." "$work/$t/"
	log=$work/$t.log
	echo "== fuzz_$t: ${secs}s on a copy of fuzz/corpus/$t"
	rc=0
	"$build/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
		-artifact_prefix="$crashes/$t-" "$work/$t" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	corpus=$(find "$work/$t" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		echo "fuzz_$t: ok, ${execs:-?} executions, corpus $corpus inputs"
	else
		status=1
		echo "fuzz_$t: FAILED (exit $rc) after ${execs:-?} executions"
		grep -E '^(==[0-9]+==ERROR|SUMMARY:|fuzz_[a-z]+: )|Test unit written' "$log" | head -n 20
		cp "$log" "$crashes/$t.log"
		echo "fuzz_$t: full log in fuzz/crashes/$t.log"
	fi
done
exit $status
