#!/usr/bin/env bash
# bench/locks.sh: the lock-prefixed instructions of the decision, from the
# disassembly of a built libevthrottle.so (issue 19 item 1).
#
#   bench/locks.sh [LIBEVTHROTTLE_SO]     (default: build/lib/libevthrottle.so)
#
# For each function a decision can run through, prints its lock-prefixed
# instructions (address and instruction) and their number.  Which path reaches
# each is for the reader (docs/benchmarks.md says it for this build): a function
# absent here was inlined into its caller.
set -euo pipefail
SO=${1:-build/lib/libevthrottle.so}
[ -f "$SO" ] || { echo "locks.sh: $SO: no such file (build it first)" >&2; exit 2; }
FUNCS="evt_should_process evt_should_process_ex evt_should_process_key evt_prefetch_key
evt_should_process_batch decide_1to8 decide_batch decide_rest table_decide table_decide_rest
table_decide_ex decide_long_ex table_decide_key table_decide_key_rest table_prefetch_key
decide_slow ctr_add_other"
objdump -d --no-show-raw-insn "$SO" | awk -v funcs="$FUNCS" '
	BEGIN { n = split(funcs, f, /[ \n]+/); for (i = 1; i <= n; i++) want[f[i]] = 1 }
	/^[0-9a-f]+ <[^>]+>:$/ {
		fn = $2; gsub(/[<>:]/, "", fn)
		if (fn in want) { order[++seen] = fn; count[fn] = 0 }
		next
	}
	(fn in want) && /\tlock / {
		count[fn]++
		sub(/^ +/, ""); lines[fn] = lines[fn] "    " $0 "\n"
	}
	END {
		for (i = 1; i <= seen; i++) {
			printf "%s: %d lock-prefixed\n%s", order[i], count[order[i]], lines[order[i]]
		}
	}'
