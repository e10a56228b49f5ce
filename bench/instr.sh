#!/usr/bin/env bash
# bench/instr.sh: instructions per call of each way of calling on a hot 13-byte key,
# counted by callgrind inside the library's entry points only (issue 19 item 2).
#
#   bench/instr.sh [BUILD_DIR]     (default: build; needs valgrind)
#
# For each shape of bench/instr.c, runs evthrottle-instr under callgrind twice
# (OPS1 and OPS2 calls) collecting only inside evt_should_process,
# evt_should_process_key, evt_prefetch_key and evt_should_process_batch and what
# they call; prints the difference over OPS2 - OPS1 (the first insert cancels out).
# Exact and repeatable: the count does not depend on how busy the machine is.
set -euo pipefail
BUILD=${1:-build}
EXE=$BUILD/bench/evthrottle-instr
[ -x "$EXE" ] || { echo "instr.sh: $EXE: build it first (ninja -C $BUILD)" >&2; exit 2; }
command -v valgrind >/dev/null || { echo "instr.sh: valgrind is not installed" >&2; exit 2; }
OPS1=100000 OPS2=300000
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
total() { # total SHAPE OPS: instructions collected
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" \
		--toggle-collect=evt_should_process --toggle-collect=evt_should_process_key \
		--toggle-collect=evt_prefetch_key --toggle-collect=evt_should_process_batch \
		"$EXE" "$1" "$2" >/dev/null 2>&1
	awk '/^summary:/ { print $2 }' "$tmp/cg"
}
printf '%-20s %s\n' shape 'instructions per call (per event for batch)'
for shape in throttled processed key-throttled key-processed batch-throttled global-throttled \
	global-key-throttled; do
	a=$(total "$shape" $OPS1)
	b=$(total "$shape" $OPS2)
	printf '%-20s %.1f\n' "$shape" "$(echo "($b - $a) / ($OPS2 - $OPS1)" | bc -l)"
done
