#!/usr/bin/env bash
# bench/global.sh: issue 20's flood, evt-global against SET NX PX per event on the
# same private redis-server, in pairs (docs/benchmarks.md, "One throttle across
# hosts").
#
#   bench/global.sh [BUILD_DIR [RUNS]]     (default: build 5; needs redis-server
#                                           and a build with hiredis)
#
# Each run is one pair, back to back on the same server: evt-global (two
# simulated hosts, 2 worker processes, one a host, 2M decisions each, with the
# latency phase that times local and Redis decisions apart) and host-local
# evthrottle on the same trace; evt-global-batch (the same, 64 events a call
# through evt_should_process_batch(), whose round trips go in one pipeline a
# call); then `redis` (SET key 1 NX PX window per event, 100K each: at tens of
# microseconds a call, as long a run) and, as context only, `redis-pipe` (the
# same SETs pipelined 64 at a time).  Both ratios are over `redis`, the per-event
# baseline of issue 20.  10K uniform keys, window 1 s, timestamps from the clock
# (so the events per key per window, and the share that goes to Redis, follow the
# speed of the run); EVT_KEY_RATE=N takes them from the trace instead (--key-rate
# N: N events of each key per window per worker, whatever the speed).
#
# Prints the load average before and after, each pair, the medians of the
# ratios, and the server's time per call of each kind (INFO commandstats, taken
# apart by kind: each kind runs in its own invocation).  Columns: Mops/s of
# evt-global, evt-global-batch, redis, redis-pipe and host-local evthrottle;
# the two ratios; "to Redis": the share of decisions that made a round trip, in
# evt-global's latency phase, over its whole run, and over the batch's run;
# rt/k/w/h: round trips per key per window per host (the windows being the most
# a key can open over the run's timestamps: at most 1.00 where the design's
# bound holds); p50/p99 (ns) of evt-global's local decisions and round trips.
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
# get IMPL COLUMN: that column of the CSV (on stdin) in the row of that implementation
get() { awk -F, -v impl="$1" -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == want) c = i; next }
	$1 == impl { print $c }'; }
# calls NAME: "calls usec" of the server's command NAME so far
calls() { redis-cli -s "$tmp/redis.sock" INFO commandstats | tr -d '\r' |
	awk -F'[:=,]' -v n="cmdstat_$1" '$1 == n { c = $3; u = $5 } END { print c + 0, u + 0 }'; }
# Server calls and time of each kind, summed over the runs: [kind] = "calls usec"
declare -A server=([fcall]="0 0" [fcall-batch]="0 0" [set]="0 0" [set-pipe]="0 0")
# timed KIND CMD NAME ARGS...: run ARGS (an invocation of the bench), adding the
# server's calls and time of command CMD during it to KIND's
timed() {
	local kind=$1 cmd=$2 before after
	shift 2
	before=$(calls "$cmd")
	"$@"
	after=$(calls "$cmd")
	server[$kind]=$(echo "${server[$kind]} $before $after" |
		awk '{ print $1 + $5 - $3, $2 + $6 - $4 }')
}
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-3s %8s %8s %7s %7s %8s %7s %7s %23s %11s %13s %16s\n' run global g-batch redis \
	ratio b-ratio r-pipe local 'to Redis lat/run/batch' 'rt/k/w/h' 'local p50/p99' \
	'Redis p50/p99'
ratios=() bratios=()
for i in $(seq "$RUNS"); do
	timed fcall fcall "$B" "${common[@]}" -i evt-global,evthrottle -o 2m -l --samples 400000 >"$tmp/g"
	timed fcall-batch fcall "$B" "${common[@]}" -i evt-global-batch -o 2m >"$tmp/b"
	timed set set "$B" "${common[@]}" -i redis -o 100k >"$tmp/r"
	timed set-pipe set "$B" "${common[@]}" -i redis-pipe -o 100k >"$tmp/p"
	gm=$(get evt-global mops <"$tmp/g")
	lm=$(get evthrottle mops <"$tmp/g")
	bm=$(get evt-global-batch mops <"$tmp/b")
	rm_=$(get redis mops <"$tmp/r")
	pm=$(get redis-pipe mops <"$tmp/p")
	lp=$(get evt-global lat_local_p50_ns <"$tmp/g")
	lq=$(get evt-global lat_local_p99_ns <"$tmp/g")
	rp=$(get evt-global lat_remote_p50_ns <"$tmp/g")
	rq=$(get evt-global lat_remote_p99_ns <"$tmp/g")
	sl=$(get evt-global lat_remote_share <"$tmp/g")
	sr=$(get evt-global remote_share_run <"$tmp/g")
	sb=$(get evt-global-batch remote_share_run <"$tmp/b")
	kg=$(get evt-global rt_per_key_window_site <"$tmp/g")
	kb=$(get evt-global-batch rt_per_key_window_site <"$tmp/b")
	# no round trip timed (a fast run with clock timestamps): no p50/p99 of them
	[ "$(echo "$sl > 0" | bc -l)" = 1 ] || rp=- rq=-
	ratio=$(echo "$gm / $rm_" | bc -l)
	bratio=$(echo "$bm / $rm_" | bc -l)
	ratios+=("$ratio")
	bratios+=("$bratio")
	printf '%-3s %8.3f %8.3f %7.4f %6.1fx %7.1fx %7.3f %7.3f %23s %11s %13s %16s\n' "$i" \
		"$gm" "$bm" "$rm_" "$ratio" "$bratio" "$pm" "$lm" \
		"$(printf '%.2f/%.2f/%.2f%%' "$(echo "$sl * 100" | bc -l)" \
			"$(echo "$sr * 100" | bc -l)" "$(echo "$sb * 100" | bc -l)")" \
		"$(printf '%.2f/%.2f' "$kg" "$kb")" "${lp%.*}/${lq%.*}" "${rp%.*}/${rq%.*}"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
# median NAME VALUES...: the median of the values and how many are at least 100
median() {
	local name=$1
	shift
	printf '%s\n' "$@" | sort -g | awk -v name="$name" '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		n = 0; for (i = 1; i <= NR; i++) n += v[i] >= 100
		printf "median %s ratio %.1fx over %d runs; %d of %d at least 100x\n", name, m, NR, n, NR }'
}
median single-call "${ratios[@]}"
median batch "${bratios[@]}"
# Server time a call over all the runs, of each kind
for k in fcall fcall-batch set set-pipe; do
	echo "${server[$k]}" | awk -v k="$k" '{ printf "server time %-11s %9d calls %6.2f us/call\n",
		k, $1, $1 ? $2 / $1 : 0 }'
done
