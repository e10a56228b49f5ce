#!/usr/bin/env bash
# bench/run.sh: the whole benchmark comparison in one command.
#
#   bench/run.sh [--repeat N] [--out DIR] [--img DIR] [--quick] [--no-wait]
#                [--baseline BENCH]
#
# Builds build-bench/ (meson setup if needed), waits until no CI run is using the
# machine, then runs on one trace per case, each implementation --repeat times
# (interleaved, the median run reported):
#   - uniform 100K keys, capacity 262144 and 131072, 1..nproc processes
#     (evthrottle per call, in batches and per call with each key prefetched 4
#     events ahead; mutex table; memory floor per call, in batches and
#     prefetched alike);
#   - zipf(1.1) over 100K keys, 1 and 2 processes;
#   - per-call latency percentiles, 1 and 2 processes (evt-prefetch's calls
#     timed without the prefetch, which a caller makes earlier);
#   - instructions per call: the floor with 0..8 more hashes a call (floor-work),
#     and, when valgrind is there, each implementation's instructions per event
#     (callgrind, the measured loop only);
#   - Redis (SET NX PX over a unix socket, 1 process, fewer ops) when redis-server
#     and a hiredis build are there: a private server in a temporary directory,
#     no TCP port, stopped at the end;
#   - Python per call (bench/seed_model.py: the seed's pure-Python class, the
#     python/evthrottle binding, the interpreter's call floor) when python3 is there;
#   - instructions per call on a hot 13-byte key, each way of calling, inside the
#     library (bench/instr.sh) when valgrind is there;
#   - with --baseline BENCH (an evthrottle-bench built from the commit to compare
#     with): paired rounds of it against this build on a hot key and on uniform
#     keys (bench/compare.sh, 20 rounds each).
# The summary checks issue 19's targets per way of calling (and issue 6's).
# Writes CSV (and machine.txt, summary.txt) under bench/results/, and with gnuplot
# the PNG plots docs/img/bench-throughput.png, docs/img/bench-latency.png and
# docs/img/bench-instructions.png.
# --quick: short runs to try the script (numbers not worth keeping; writes to
# $TMPDIR/evthrottle-bench-quick/ and draws no plots unless --img is given).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BUILD=${BUILD:-build-bench}
REPEAT=5
OUT=bench/results
IMG=docs/img
QUICK=0
WAIT=1
IMG_SET=0
BASELINE=
while [ $# -gt 0 ]; do
	case $1 in
	--repeat) REPEAT=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--img) IMG=$2; IMG_SET=1; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--no-wait) WAIT=0; shift ;;
	--baseline) BASELINE=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
if [ "$QUICK" = 1 ]; then
	[ "$OUT" = bench/results ] && OUT=${TMPDIR:-/tmp}/evthrottle-bench-quick
	[ "$IMG_SET" = 1 ] || IMG=
fi

# Op counts: evthrottle-bench's default is ~1 s per implementation run.
OPS=()                      # default
REDIS_OPS=100k
PY_CALLS=1000000
SAMPLES=1000000
WORK="0 1 2 3 4 6 8"        # --floor-work sweep
CG_OPS=(1m 3m)              # callgrind: instructions = the difference / 2M ops
if [ "$QUICK" = 1 ]; then
	OPS=(-o 300k --trace-len 1m)
	REDIS_OPS=5k
	PY_CALLS=100000
	SAMPLES=100000
	REPEAT=1
	WORK="0 4 8"
	CG_OPS=(100k 300k)
fi

say() { printf '== %s\n' "$*" >&2; }

# --- build
if [ ! -f "$BUILD/build.ninja" ]; then
	say "meson setup $BUILD"
	meson setup "$BUILD" >/dev/null
fi
say "building $BUILD"
PY_EXT=_evthrottle$(python3 -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
meson compile -C "$BUILD" evthrottle-bench evthrottle-instr evthrottle:shared_library \
	"${PY_EXT%.so}" >/dev/null
BENCH=$ROOT/$BUILD/bench/evthrottle-bench
LIBSO=$ROOT/$BUILD/lib/libevthrottle.so

# --- a quiet machine
if [ "$WAIT" = 1 ]; then
	while pgrep -f '.ci/run' >/dev/null; do
		say "a CI run is in progress; waiting"
		sleep 20
	done
fi

mkdir -p "$OUT"
NCPU=$(nproc)
PROCS="1"
for p in 2 4 8 16 32 64 128; do
	[ "$p" -le "$NCPU" ] && PROCS="$PROCS $p"
done
case " $PROCS " in *" $NCPU "*) ;; *) PROCS="$PROCS $NCPU" ;; esac

# --- the machine, and how busy it is
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -srm)"
	echo "nproc: $NCPU"
	lscpu | grep -E '^(Model name|Architecture|CPU\(s\)|Thread\(s\) per core|Core\(s\) per socket|Socket\(s\)|Hypervisor vendor|Virtualization type|L1d cache|L2 cache|L3 cache|NUMA node\(s\))' |
		sed -E 's/  +/ /g'
	echo "constant_tsc: $(grep -qw constant_tsc /proc/cpuinfo && echo yes || echo no)"
	echo "compiler: $(cc --version | head -1)"
	echo "buildtype: $(meson introspect --buildoptions "$BUILD" 2>/dev/null |
		python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"))' 2>/dev/null || echo '?')"
	echo "python: $(python3 --version 2>&1 || echo none)"
	echo "redis: $(redis-server --version 2>/dev/null | awk '{print $3}' || echo none)"
	echo "loadavg before: $(cat /proc/loadavg)"
	echo "vmstat 1 5 before (us sy id wa st):"
	vmstat 1 5 | awk 'NR > 2 { print "  " $13, $14, $15, $16, $17 }'
} >"$OUT/machine.txt"

# run_csv FILE ARGS...: one evthrottle-bench run, CSV appended to FILE (header once)
run_csv() {
	local file=$1; shift
	say "evthrottle-bench $*"
	local tmp; tmp=$(mktemp)
	"$BENCH" --csv -r "$REPEAT" "$@" >"$tmp"
	if [ -s "$file" ]; then tail -n +2 "$tmp" >>"$file"; else cat "$tmp" >"$file"; fi
	rm -f "$tmp"
}

rm -f "$OUT/throughput.csv" "$OUT/latency.csv" "$OUT/redis.csv" "$OUT/python.csv" \
	"$OUT/work.csv" "$OUT/instructions.csv"
for cap in 262144 131072; do
	for p in $PROCS; do
		run_csv "$OUT/throughput.csv" -n 100k -c "$cap" -p "$p" -d uniform "${OPS[@]}"
	done
done
for p in 1 2; do
	run_csv "$OUT/throughput.csv" -n 100k -c 262144 -p "$p" -d zipf --zipf 1.1 "${OPS[@]}"
done
for p in 1 2; do
	run_csv "$OUT/latency.csv" -i evthrottle,evt-prefetch,mutex,floor -n 100k -c 262144 -p "$p" -l \
		--samples "$SAMPLES" "${OPS[@]}"
done

# --- instructions per call: the floor with more work a call, and (valgrind) what
# each implementation executes per event
for n in $WORK; do
	run_csv "$OUT/work.csv" -i floor-work --floor-work "$n" -n 100k -c 262144 -p 1 "${OPS[@]}"
done
# instr_per_op IMPL [ARGS]: instructions per event of the measured loop (callgrind
# counts only inside the worker's phase()), steady state: the difference of two
# runs, so that setup and the first inserts of the 100K keys cancel out.
instr_per_op() {
	local impl=$1 cg ir=() ops; shift
	cg=$(mktemp -d)
	for ops in "${CG_OPS[@]}"; do
		rm -f "$cg"/cg.*
		valgrind --tool=callgrind --toggle-collect=phase --callgrind-out-file="$cg/cg.%p" \
			"$BENCH" -i "$impl" -o "$ops" --trace-len 1m -n 100k -c 262144 -p 1 "$@" \
			>/dev/null 2>&1
		ir+=("$(awk '/^summary:/ { s += $2 } END { print s + 0 }' "$cg"/cg.*)")
	done
	rm -rf "$cg"
	python3 -c 'import sys; a, b, x, y = sys.argv[1:]
def n(s): return float(s[:-1]) * {"k": 1e3, "m": 1e6}[s[-1]]
print("%.1f" % ((float(b) - float(a)) / (n(y) - n(x))))' "${ir[0]}" "${ir[1]}" "${CG_OPS[@]}"
}
if command -v valgrind >/dev/null && command -v python3 >/dev/null; then
	echo "impl,floor_work,instructions_per_event" >"$OUT/instructions.csv"
	for impl in evthrottle evt-batch evt-prefetch mutex floor floor-batch floor-prefetch; do
		say "callgrind: $impl"
		echo "$impl,,$(instr_per_op "$impl")" >>"$OUT/instructions.csv"
	done
	for n in $WORK; do
		say "callgrind: floor-work $n"
		echo "floor-work,$n,$(instr_per_op floor-work --floor-work "$n")" >>"$OUT/instructions.csv"
	done
	say "callgrind: each way of calling on a hot key (bench/instr.sh)"
	bench/instr.sh "$BUILD" >"$OUT/instr.txt"
else
	say "no valgrind (apt-get install valgrind): instructions per event skipped"
fi

# --- paired rounds against a baseline build (bench/compare.sh)
if [ -n "$BASELINE" ]; then
	ROUNDS=20
	[ "$QUICK" = 1 ] && ROUNDS=4
	: >"$OUT/compare.txt"
	for case in "hot -d hot" "uniform -d uniform"; do
		say "compare.sh: $BASELINE against $BENCH, ${case%% *} key(s), $ROUNDS rounds"
		echo "case: ${case%% *}" >>"$OUT/compare.txt"
		# shellcheck disable=SC2086 # the case's options are words
		bench/compare.sh --rounds "$ROUNDS" "$BASELINE" "$BENCH" -i evthrottle -n 100k \
			-c 262144 -p 1 ${case#* } >>"$OUT/compare.txt"
	done
fi

# --- Redis: a private server on a unix socket in a temporary directory
if "$BENCH" -h | grep -q 'SET NX PX' && command -v redis-server >/dev/null; then
	RDIR=$(mktemp -d)
	redis-server --port 0 --unixsocket "$RDIR/redis.sock" --unixsocketperm 700 \
		--save '' --appendonly no --dir "$RDIR" --daemonize no --loglevel warning \
		>"$RDIR/redis.log" 2>&1 &
	RPID=$!
	trap 'kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; rm -rf "$RDIR"' EXIT
	for _ in $(seq 50); do [ -S "$RDIR/redis.sock" ] && break; sleep 0.1; done
	run_csv "$OUT/redis.csv" -i redis --redis-socket "$RDIR/redis.sock" -n 100k -c 262144 \
		-p 1 -o "$REDIS_OPS" -l --samples "$REDIS_OPS"
	kill "$RPID"; wait "$RPID" 2>/dev/null || true
	rm -rf "$RDIR"
	trap - EXIT
else
	say "no redis (needs redis-server and libhiredis-dev at build time): skipped"
fi

# --- Python, per call
if command -v python3 >/dev/null; then
	say "bench/seed_model.py --calls $PY_CALLS"
	PYTHONPATH=$ROOT/$BUILD/python:$ROOT/python python3 bench/seed_model.py \
		--keys 100000 1 --calls "$PY_CALLS" --repeat "$REPEAT" --capacity 262144 --csv \
		>"$OUT/python.csv"
else
	say "no python3: Python per-call figures skipped"
fi
echo "loadavg after: $(cat /proc/loadavg)" >>"$OUT/machine.txt"

# --- summary: the figures issue 6 sets targets for
if command -v python3 >/dev/null; then
	python3 - "$OUT" >"$OUT/summary.txt" <<'EOF'
import csv, os, sys
out = sys.argv[1]
def rows(name):
    p = os.path.join(out, name)
    return list(csv.DictReader(open(p))) if os.path.exists(p) else []
th, lat, rd, py = rows("throughput.csv"), rows("latency.csv"), rows("redis.csv"), rows("python.csv")
def get(rs, impl, dist="uniform", cap="262144", procs="1"):
    for r in rs:
        if r["impl"] == impl and r["dist"] == dist and r["capacity"] == cap and r["procs"] == procs:
            return r
    return None
def f(r, k):
    return float(r[k]) if r and r.get(k) not in (None, "") else float("nan")
print("throughput (Mops/s, median run; spread = (max-min)/median over the runs)")
print("%-9s %-8s %5s %-14s %8s %8s %9s %9s %9s %10s %8s" % (
    "dist", "capacity", "procs", "impl", "ns/op", "Mops/s", "spread", "vs mutex", "vs floor",
    "processed", "B/key"))
for r in th:
    spread = (f(r, "mops_max") - f(r, "mops_min")) / f(r, "mops")
    print("%-9s %-8s %5s %-14s %8.1f %8.2f %8.0f%% %9s %9s %10s %8s" % (
        r["dist"] + ("(%s)" % r["dist_param"] if r["dist"] == "zipf" else ""), r["capacity"],
        r["procs"], r["impl"], f(r, "ns_per_op_worker"), f(r, "mops"), 100 * spread,
        r["vs_mutex"] if r["impl"] != "mutex" else "-", r["vs_floor"] if r["impl"] != "floor" else "-",
        "%.1f%%" % (100 * f(r, "processed_frac")) if r["processed_frac"] else "-",
        r["bytes_per_key"] or "-"))
print()
print("latency per call, ns (timer cost included: p50 of an empty timed region = timer_p50_ns)")
print("%5s %-14s %8s %8s %8s %10s %8s" % ("procs", "impl", "p50", "p99", "p99.9", "max", "timer"))
for r in lat + rd:
    if r["lat_p50_ns"]:
        print("%5s %-14s %8s %8s %8s %10s %8s" % (r["procs"], r["impl"], r["lat_p50_ns"],
              r["lat_p99_ns"], r["lat_p999_ns"], r["lat_max_ns"], r["timer_p50_ns"]))
print()
m1, f1 = get(th, "mutex"), get(th, "floor")
m2, mz = get(th, "mutex", procs="2"), get(th, "mutex", "zipf", procs="2")
redis = next((r for r in rd if r["impl"] == "redis"), None)
seed = next((r for r in py if r["impl"] == "seed-model"), None)
# evthrottle one call per event, with each key hinted ahead, and in bursts; each
# with the floor of the same shape (no target: how far from its own floor)
SHAPES = (("evthrottle", None), ("evt-prefetch", "floor-prefetch"), ("evt-batch", "floor-batch"))
def ratio(a, b, k="mops"):
    return f(a, k) / f(b, k) if a and b else float("nan")
def check(name, value, target, ok):
    print("%-58s %-14s %-12s %s" % (name, value, target, "met" if ok else "NOT met"))
def info(name, value):
    print("%-58s %-14s %-12s" % (name, value, "(no target)"))
print("targets of issue 6 (uniform 100K keys, capacity 262144 unless said)")
for impl, fair in SHAPES:
    e1, e2 = get(th, impl), get(th, impl, procs="2")
    ez, ez1 = get(th, impl, "zipf", procs="2"), get(th, impl, "zipf")
    el2 = next((r for r in lat if r["impl"] == impl and r["procs"] == "2"), None)
    if not e1:
        continue
    if m1:
        x = ratio(e1, m1)
        check("1 process: %s / mutex" % impl, "%.2fx" % x, ">= 1.1x", x >= 1.1)
    if f1:
        x = ratio(f1, e1)
        check("1 process: floor (per call) / %s" % impl, "%.2fx" % x, "<= 1.25x", x <= 1.25)
    if fair and get(th, fair):
        info("1 process: %s / %s" % (fair, impl), "%.2fx" % ratio(get(th, fair), e1))
    if e2:
        x = ratio(e2, e1)
        check("2 processes: %s(2) / %s(1)" % (impl, impl), "%.2fx" % x, ">= 1.7x", x >= 1.7)
    if e2 and m2:
        x = ratio(e2, m2)
        check("2 processes: %s / mutex" % impl, "%.2fx" % x, ">= 3x", x >= 3)
    if ez and mz:
        x = ratio(ez, mz)
        check("zipf(1.1), 2 processes: %s / mutex" % impl, "%.2fx" % x, ">= 3x", x >= 3)
    if ez1 and get(th, "mutex", "zipf"):  # the zipf target is a 2-process one
        info("zipf(1.1), 1 process: %s / mutex" % impl, "%.2fx" % ratio(ez1, get(th, "mutex", "zipf")))
    if el2:
        check("2 processes: %s p99.9 latency" % impl, "%s ns" % el2["lat_p999_ns"], "<= 1000 ns",
              f(el2, "lat_p999_ns") <= 1000)
    if redis:
        x = ratio(redis, e1, "ns_per_op_worker")
        check("redis ns/op / %s ns/op (1 process)" % impl, "%.0fx" % x, ">= 500x", x >= 500)
    if seed:
        x = f(seed, "ns_per_call") / f(e1, "ns_per_op_worker")
        check("seed-model ns/call / %s ns/op (C, 1 process)" % impl, "%.1fx" % x, ">= 10x", x >= 10)
    print()
print("targets of issue 19, per way of calling (uniform 100K keys, capacity 262144)")
for impl, fair in SHAPES[1:]:
    e1, f1s = get(th, impl), get(th, fair)
    if e1 and f1s:
        x = ratio(f1s, e1)
        check("1 process: %s / %s" % (fair, impl), "%.2fx" % x, "<= 1.3x", x <= 1.3)
for impl, _ in SHAPES:
    for dist in ("uniform", "zipf"):
        e2, mx = get(th, impl, dist, procs="2"), get(th, "mutex", dist, procs="2")
        if e2 and mx:
            x = ratio(e2, mx)
            check("%s, 2 processes: %s / mutex" % (dist, impl), "%.2fx" % x, ">= 3x", x >= 3)
    el2 = next((r for r in lat if r["impl"] == impl and r["procs"] == "2"), None)
    if el2:
        check("2 processes: %s p99.9 latency" % impl, "%s ns" % el2["lat_p999_ns"], "<= 1000 ns",
              f(el2, "lat_p999_ns") <= 1000)
cmp = os.path.join(out, "compare.txt")
if os.path.exists(cmp):
    case = None
    for line in open(cmp):
        if line.startswith("case: "):
            case = line.split()[1]
        elif line.startswith("B/A within a round") and case:
            x = float(line.split("median ")[1].split(",")[0])
            if case == "hot":
                check("hot key, paired rounds: this build / baseline", "%.2fx" % x, ">= 1.3x", x >= 1.3)
            else:
                info("uniform keys, paired rounds: this build / baseline", "%.2fx" % x)
print()
if seed and "py-binding" in [r["impl"] for r in py]:
    b = next(r for r in py if r["impl"] == "py-binding")
    info("seed-model ns/call / py-binding ns/call", "%.2fx" % (f(seed, "ns_per_call") / f(b, "ns_per_call")))
ins, work = rows("instructions.csv"), rows("work.csv")
if ins:
    print()
    print("instructions per event (callgrind, the measured loop with its driver) and time per")
    print("event, 1 process, uniform 100K keys, capacity 262144 (floor-work N: N more hashes a call)")
    print("%-14s %12s %8s" % ("impl", "instr/event", "ns/op"))
    wk = {r["floor_work"]: r for r in work}
    for r in ins:
        src = wk.get(r["floor_work"]) if r["impl"] == "floor-work" else get(th, r["impl"])
        print("%-14s %12s %8.1f" % (r["impl"] + (" " + r["floor_work"] if r["floor_work"] else ""),
              r["instructions_per_event"], f(src, "ns_per_op_worker")))
EOF
	cat "$OUT/summary.txt"
fi

# --- plots
if [ -n "$IMG" ] && command -v gnuplot >/dev/null; then
	mkdir -p "$IMG"
	DAT=$(mktemp -d)
	# procs, then Mops/s median min max for evthrottle, mutex, floor, evt-batch,
	# floor-batch, evt-prefetch, floor-prefetch
	awk -F, 'NR > 1 && $2 == "uniform" && $5 == 262144 {
			m[$6, $1] = $13 " " $32 " " $33; p[$6] = 1 }
		END { for (q in p) print q, m[q, "evthrottle"], m[q, "mutex"], m[q, "floor"],
		                         m[q, "evt-batch"], m[q, "floor-batch"], m[q, "evt-prefetch"],
		                         m[q, "floor-prefetch"] }' \
		"$OUT/throughput.csv" | sort -n >"$DAT/tp.dat"
	awk -F, 'NR > 1 && $2 == "uniform" && $5 == 131072 && $1 == "evthrottle" {
			print $6, $13, $32, $33 }' "$OUT/throughput.csv" | sort -n >"$DAT/tp131.dat"
	# rows p50 p99 p99.9 max; columns evthrottle, evt-prefetch, mutex (2 processes)
	awk -F, 'NR > 1 && $6 == 2 { v[$1, 1] = $27; v[$1, 2] = $28; v[$1, 3] = $29; v[$1, 4] = $30 }
		END { split("p50 p99 p99.9 max", n, " ")
		      for (i = 1; i <= 4; i++)
		          print n[i], v["evthrottle", i], v["evt-prefetch", i], v["mutex", i] }' \
		"$OUT/latency.csv" >"$DAT/lat.dat"
	XMAX=$(awk 'END { print $1 + 0.5 }' "$DAT/tp.dat")
	gnuplot <<EOF
set terminal pngcairo size 720,420 font ",10"
set output "$IMG/bench-throughput.png"
set title "Throughput, uniform 100K keys, capacity 262144 (median of $REPEAT runs, bars: min-max)"
set xlabel "worker processes (1 thread each; $NCPU CPUs)"
set ylabel "Mops/s (all processes together)"
set xrange [0.5:$XMAX]
set xtics 1
set yrange [0:*]
set key top left
set grid ytics
plot "$DAT/tp.dat" using 1:2:3:4 with yerrorlines lw 2 pt 7 title "evthrottle", \
     "$DAT/tp.dat" using 1:5:6:7 with yerrorlines lw 2 pt 5 title "mutex table", \
     "$DAT/tp.dat" using 1:8:9:10 with yerrorlines lw 2 pt 9 dt 2 title "memory floor", \
     "$DAT/tp.dat" using 1:11:12:13 with yerrorlines lw 2 pt 11 title "evthrottle, batches of 64", \
     "$DAT/tp.dat" using 1:14:15:16 with yerrorlines lw 1 pt 13 dt 2 title "memory floor, batches of 64", \
     "$DAT/tp.dat" using 1:17:18:19 with yerrorlines lw 2 pt 3 title "evthrottle, each key prefetched 4 events ahead", \
     "$DAT/tp.dat" using 1:20:21:22 with yerrorlines lw 1 pt 2 dt 2 title "memory floor, prefetched alike", \
     "$DAT/tp131.dat" using 1:2:3:4 with yerrorlines lw 1 pt 6 dt 3 title "evthrottle, capacity 131072"
EOF
	gnuplot <<EOF
set terminal pngcairo size 720,420 font ",10"
set output "$IMG/bench-latency.png"
set title "Latency per call, 2 processes, uniform 100K keys (rdtscp, timer cost included)"
set ylabel "ns (log scale)"
set logscale y
set yrange [10:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set key top left
set grid ytics
plot "$DAT/lat.dat" using 2:xtic(1) title "evthrottle", \
     "" using 3 title "evthrottle, key prefetched 4 events ahead", "" using 4 title "mutex table", \
     "" using (\$0 - 0.25):2:(sprintf("%.0f", \$2)) with labels offset 0,0.7 notitle, \
     "" using 0:3:(sprintf("%.0f", \$3)) with labels offset 0,0.7 notitle, \
     "" using (\$0 + 0.25):4:(sprintf("%.0f", \$4)) with labels offset 0,0.7 notitle
EOF
	PLOTS="$IMG/bench-throughput.png $IMG/bench-latency.png"
	if [ -s "$OUT/instructions.csv" ]; then
		# work.dat: instructions, ns/op of the median, fastest and slowest run of
		# floor-work N; impl.dat: the same for the implementations (1 process)
		python3 - "$OUT" "$DAT" <<'EOF'
import csv, os, sys
out, dat = sys.argv[1:]
def rows(name):
    return list(csv.DictReader(open(os.path.join(out, name))))
ins, th, work = rows("instructions.csv"), rows("throughput.csv"), rows("work.csv")
def line(r, i):
    return "%s %s %.3f %.3f" % (i, r["ns_per_op_worker"], 1000 / float(r["mops_max"]),
                                1000 / float(r["mops_min"]))
with open(os.path.join(dat, "work.dat"), "w") as w, open(os.path.join(dat, "impl.dat"), "w") as m:
    for r in ins:
        if r["impl"] == "floor-work":
            src = next(x for x in work if x["floor_work"] == r["floor_work"])
            w.write(line(src, r["instructions_per_event"]) + "\n")
        else:
            src = next(x for x in th if x["impl"] == r["impl"] and x["dist"] == "uniform"
                       and x["capacity"] == "262144" and x["procs"] == "1")
            m.write(line(src, r["instructions_per_event"]) + " " + r["impl"] + "\n")
EOF
		gnuplot <<EOF
set terminal pngcairo size 720,420 font ",10"
set output "$IMG/bench-instructions.png"
set title "Time per event against instructions per event, 1 process, uniform 100K keys"
set xlabel "instructions per event (callgrind: the measured loop, driver included)"
set ylabel "ns per event (median of $REPEAT runs, bars: fastest-slowest)"
set xrange [0:*]
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set key bottom right
set grid
plot "$DAT/work.dat" using 1:2:3:4 with yerrorlines lw 2 pt 7 title "memory floor + 0..8 more hashes a call", \
     "$DAT/impl.dat" using 1:2:3:4 with yerrorbars pt 5 ps 1.2 lw 1 title "implementations", \
     "$DAT/impl.dat" using 1:2:5 with labels offset 0,1.2 notitle
EOF
		PLOTS="$PLOTS $IMG/bench-instructions.png"
	fi
	rm -rf "$DAT"
	say "plots: $PLOTS"
elif [ -n "$IMG" ]; then
	say "no gnuplot (apt-get install gnuplot-nox): no plots"
fi
say "results in $OUT/"
