#!/usr/bin/env bash
# bench/compare.sh: is build B faster than build A?  For changes to the hot path.
#
#   bench/compare.sh [--rounds N] BENCH_A BENCH_B [evthrottle-bench options]
#
# BENCH_A and BENCH_B are two evthrottle-bench binaries (say, build-bench of the
# commit before a change, copied aside, and of the change).  Each round runs both
# on the same trace, one short run each (2M ops), in the order A B, then B A in
# the next round, so that the machine's slow and fast spells fall on both alike.
# The options after the binaries go to both (default: -i evthrottle -n 100k
# -c 262144 -p 1); the first implementation's Mops/s is compared.
#
# Prints each one's median Mops/s and, over the rounds, the median of B/A within a
# round, its quartiles, how many rounds B won, and the sign test's two-sided p (the
# chance of a split at least that uneven if neither were faster).  On a shared VM a
# single run moves by 20-150 %; comparing a binary with itself (A/A) gives the
# noise floor of the method.  Callgrind counts instructions exactly (bench/run.sh),
# which this does not replace: it says whether they matter for time.
set -euo pipefail

ROUNDS=30
if [ "${1:-}" = --rounds ]; then
	ROUNDS=$2
	shift 2
fi
case ${1:-} in -h|--help|'') sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
[ $# -ge 2 ] || { echo "compare.sh: need two evthrottle-bench binaries" >&2; exit 2; }
A=$1 B=$2
shift 2
for bin in "$A" "$B"; do
	[ -x "$bin" ] || { echo "compare.sh: $bin: not an executable" >&2; exit 2; }
done
[ $# -gt 0 ] || set -- -i evthrottle -n 100k -c 262144 -p 1

# One run: the first implementation's Mops/s (CSV column "mops").
one() {
	"$1" --csv -o 2m "${@:2}" | awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "mops") c = i }
		NR == 2 { print $c }'
}

rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for ((i = 1; i <= ROUNDS; i++)); do
	if ((i % 2)); then
		a=$(one "$A" "$@")
		b=$(one "$B" "$@")
	else
		b=$(one "$B" "$@")
		a=$(one "$A" "$@")
	fi
	[ -n "$a" ] && [ -n "$b" ] || { echo "compare.sh: round $i: a run failed" >&2; exit 1; }
	echo "$a $b" >>"$rows"
done

python3 - "$rows" "$A" "$B" <<'EOF'
import math, statistics, sys
rows = [tuple(map(float, line.split())) for line in open(sys.argv[1])]
a, b = [r[0] for r in rows], [r[1] for r in rows]
q = sorted(y / x for x, y in rows)
n, wins = len(rows), sum(1 for x, y in rows if y > x)
k = max(wins, n - wins)
p = min(1.0, 2 * sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n)
print("A %s: median %.2f Mops/s" % (sys.argv[2], statistics.median(a)))
print("B %s: median %.2f Mops/s" % (sys.argv[3], statistics.median(b)))
print("B/A within a round, %d rounds: median %.3f, quartiles %.3f .. %.3f; "
      "B faster in %d (sign test p = %.3g)"
      % (n, statistics.median(q), q[n // 4], q[(3 * n) // 4], wins, p))
EOF
