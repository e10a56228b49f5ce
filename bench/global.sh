#!/usr/bin/env bash
# bench/global.sh: issue 20's flood, evt-global against SET NX PX per event on the
# same private redis-server, in pairs (docs/benchmarks.md, "One throttle across
# hosts").
#
#   bench/global.sh [BUILD_DIR [RUNS]]     (default: build 5; needs redis-server
#                                           and a build with hiredis)
#
# Each run is one pair, back to back on the same server: evt-global (two
# simulated hosts, 2 worker processes, 2M decisions each, with the latency phase
# that times local and Redis decisions apart) and host-local evthrottle on the
# same trace, then `redis` (SET key 1 NX PX window per event, 100K each: at tens
# of microseconds a call, as long a run).  10K uniform keys, window 1 s,
# timestamps from the clock (so the events per key per window, and the share
# that goes to Redis, follow the speed of the run); EVT_KEY_RATE=N takes them
# from the trace instead (--key-rate N: N events of each key per window per
# worker, whatever the speed).  Prints each pair and the median of the ratios
# evt-global Mops/s over redis Mops/s.
set -euo pipefail
BUILD=${1:-build}
RUNS=${2:-5}
B=$BUILD/bench/evthrottle-bench
[ -x "$B" ] || { echo "global.sh: $B: build it first (ninja -C $BUILD)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "global.sh: redis-server is not installed" >&2; exit 2; }
tmp=$(mktemp -d)
redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no \
	--dir "$tmp" --logfile "$tmp/redis.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done
[ -S "$tmp/redis.sock" ] || { echo "global.sh: redis-server did not start" >&2; exit 1; }
common=(--csv -n 10000 -c 16384 -w 1000 -p 2 --redis-socket "$tmp/redis.sock" ${EVT_KEY_RATE:+--key-rate $EVT_KEY_RATE})
# col NAME: the column of that name in a CSV line's header
col() { awk -F, -v want="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
	{ print $1, $c }'; }
printf '%-4s %12s %12s %10s %8s %9s %16s %16s\n' run evt-global redis ratio local \
	to-redis 'local p50/p99' 'redis p50/p99'
ratios=()
for i in $(seq "$RUNS"); do
	g=$("$B" "${common[@]}" -i evt-global,evthrottle -o 2m -l --samples 400000)
	r=$("$B" "${common[@]}" -i redis -o 100k)
	gm=$(echo "$g" | col mops | awk '$1 == "evt-global" { print $2 }')
	lm=$(echo "$g" | col mops | awk '$1 == "evthrottle" { print $2 }')
	rm_=$(echo "$r" | col mops | awk '$1 == "redis" { print $2 }')
	lp=$(echo "$g" | col lat_local_p50_ns | awk '$1 == "evt-global" { print $2 }')
	lq=$(echo "$g" | col lat_local_p99_ns | awk '$1 == "evt-global" { print $2 }')
	rp=$(echo "$g" | col lat_remote_p50_ns | awk '$1 == "evt-global" { print $2 }')
	rq=$(echo "$g" | col lat_remote_p99_ns | awk '$1 == "evt-global" { print $2 }')
	sh=$(echo "$g" | col lat_remote_share | awk '$1 == "evt-global" { print $2 * 100 }')
	ratio=$(echo "$gm / $rm_" | bc -l)
	ratios+=("$ratio")
	printf '%-4s %12.3f %12.4f %9.1fx %8.3f %8.2f%% %16s %16s\n' "$i" "$gm" "$rm_" "$ratio" \
		"$lm" "$sh" "$lp/$lq" "$rp/$rq"
done
# Server time a call over all the runs (FCALL evt_decide_v2 against SET NX PX)
redis-cli -s "$tmp/redis.sock" INFO commandstats | grep -E '^cmdstat_(fcall|set):' |
	sed 's/,rejected_calls.*//'
printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END {
	m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	n = 0; for (i = 1; i <= NR; i++) n += v[i] >= 100
	printf "median ratio %.1fx over %d runs; %d of %d at least 100x\n", m, NR, n, NR }'
