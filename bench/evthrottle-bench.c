/*
 * evthrottle-bench: throughput and latency of evthrottle against two baselines on
 * the same pre-generated trace, in the same run:
 *
 *   mutex   a robust process-shared pthread mutex around a linear-probing table
 *           (what the library replaces),
 *   floor   one hash and one atomic RMW per event on a region of the same size
 *           (what no shared per-key table can beat), and floor-work, the floor
 *           with --floor-work more hashes a call (how per-call throughput falls
 *           with the instructions of a call),
 *   redis   (builds with hiredis, asked for by name) SET key 1 NX PX window on a
 *           redis-server over a unix socket (what a service would cost), and
 *           redis-pipe, the same pipelined 64 at a time; evt-global and
 *           evt-global-batch, the library made global on that server (issue 20).
 *
 * P forked processes x T threads share each structure; see usage() for options.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Default ops per worker: this many per busy CPU, split over the workers, so a run
 * of one implementation takes about 1 s at ~200 ns/op (a 2-core VM) whatever P x T. */
#define AUTO_OPS_PER_CPU 5000000ull

static const struct impl_ops *const impls[IMPL_COUNT] = {
	[IMPL_EVTHROTTLE] = &impl_evthrottle,
	[IMPL_EVT_BATCH] = &impl_evt_batch,
	[IMPL_EVT_PREFETCH] = &impl_evt_prefetch,
	[IMPL_MUTEX] = &impl_mutex,
	[IMPL_FLOOR] = &impl_floor,
	[IMPL_FLOOR_BATCH] = &impl_floor_batch,
	[IMPL_FLOOR_PREFETCH] = &impl_floor_prefetch,
	[IMPL_FLOOR_WORK] = &impl_floor_work,
#ifdef EVT_BENCH_HAVE_REDIS
	[IMPL_REDIS] = &impl_redis,
	[IMPL_EVT_GLOBAL] = &impl_evt_global,
	[IMPL_EVT_GLOBAL_BATCH] = &impl_evt_global_batch,
	[IMPL_REDIS_PIPE] = &impl_redis_pipe,
#endif
};
#ifdef EVT_BENCH_HAVE_REDIS
#define REDIS_HELP "  (redis: SET NX PX on --redis-socket)"
#else
#define REDIS_HELP "  (redis: not in this build, no hiredis)"
#endif

#define BENCH_STR_(x) #x
#define BENCH_STR(x) BENCH_STR_(x)

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: evthrottle-bench [options]\n"
	        "  -n, --keys N          distinct keys (default 100000)\n"
	        "  -c, --capacity N      table slots, rounded up to a power of 2 (default 131072)\n"
	        "  -o, --ops N           ops per worker (default: %llum per CPU, split over workers)\n"
	        "  -p, --procs P         worker processes (fork; default 1)\n"
	        "  -t, --threads T       threads per process (default 1)\n"
	        "  -w, --window-ms MS    throttle window (default 10)\n"
	        "  -d, --dist D          uniform | zipf | hot | churn (default uniform)\n"
	        "      --zipf S          zipf exponent (default 1.1)\n"
	        "      --hot-frac F      --dist hot: share of ops on the hot key (default 1.0)\n"
	        "      --churn-every K   --dist churn: a new key every K ops (default 16)\n"
	        "  -i, --impl LIST       evthrottle,evt-batch,evt-prefetch,mutex,floor,floor-batch,\n"
	        "                        floor-prefetch,floor-work,redis,redis-pipe,evt-global,\n"
	        "                        evt-global-batch, or all (default all: every one but\n"
	        "                        floor-work and those on Redis)" REDIS_HELP "\n"
	        "                        (*-batch: 64 events a call, e.g. with\n"
	        "                        evt_should_process_batch(); throughput only;\n"
	        "                        *-prefetch: one call per event, each key hinted\n"
	        "                        (evt_prefetch_key()) " BENCH_STR(BENCH_HINT_AHEAD)
	        " events before its decision,\n"
	        "                        which reuses the hint's hash)\n"
	        "      --redis-socket P  redis-server unix socket (default $EVT_BENCH_REDIS_SOCKET)\n"
	        "      --floor-work N    floor-work: hash the key N more times a call, work that\n"
	        "                        does not wait for the slot's cache miss (default 4)\n"
	        "  -l, --latency         also time each call: p50 p99 p99.9 max\n"
	        "      --samples N       latency samples per worker (default 1000000)\n"
	        "      --handle H        process (default): one evthrottle handle per process,\n"
	        "                        shared by its threads; thread: one per thread\n"
	        "  -r, --repeat N        run each implementation N times, interleaved, and\n"
	        "                        report the median run (default 1)\n"
	        "      --trace-len N     events in the pre-generated trace (default 4194304)\n"
	        "      --seed N          trace seed (default 1)\n"
	        "      --key-rate N      timestamps from the trace, not the clock: N events of\n"
	        "                        each (uniform) key per window per worker, whatever\n"
	        "                        the speed (default 0: the clock)\n"
	        "      --csv             CSV: a header line, then one line per implementation\n"
	        "  -h, --help\n"
	        "Numbers take k, m, g suffixes (x1000).\n",
	        AUTO_OPS_PER_CPU / 1000000ull);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	uint64_t mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1000; end++; break;
	case 'm': case 'M': mul = 1000000; end++; break;
	case 'g': case 'G': mul = 1000000000; end++; break;
	default: break;
	}
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	uint64_t v;
	if (parse_u64(s, &v) < 0 || v < lo || v > hi)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int parse_dist(const char *s, enum dist *d)
{
	static const char *names[] = { "uniform", "zipf", "hot", "churn" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*d = (enum dist)i;
			return 0;
		}
	return -1;
}

static int parse_impls(const char *s, unsigned *mask)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", s);
	*mask = 0;
	for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned m = strcmp(tok, "all") == 0 ? IMPL_DEFAULT_MASK : 0;
		for (int i = 0; i < IMPL_COUNT; i++)
			if (impls[i] != NULL && strcmp(tok, impls[i]->name) == 0)
				m = 1u << i;
		if (m == 0 && strncmp(tok, "redis", 5) == 0)
			fprintf(stderr, "evthrottle-bench: built without hiredis: no redis\n");
		if (m == 0)
			return -1;
		*mask |= m;
	}
	return *mask != 0 ? 0 : -1;
}

enum {
	OPT_ZIPF = 256, OPT_HOT_FRAC, OPT_CHURN_EVERY, OPT_SAMPLES, OPT_HANDLE,
	OPT_TRACE_LEN, OPT_SEED, OPT_CSV, OPT_REDIS_SOCKET, OPT_FLOOR_WORK, OPT_KEY_RATE,
};

static const struct option long_opts[] = {
	{ "keys", required_argument, NULL, 'n' },
	{ "capacity", required_argument, NULL, 'c' },
	{ "ops", required_argument, NULL, 'o' },
	{ "procs", required_argument, NULL, 'p' },
	{ "threads", required_argument, NULL, 't' },
	{ "window-ms", required_argument, NULL, 'w' },
	{ "dist", required_argument, NULL, 'd' },
	{ "impl", required_argument, NULL, 'i' },
	{ "latency", no_argument, NULL, 'l' },
	{ "repeat", required_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ "zipf", required_argument, NULL, OPT_ZIPF },
	{ "hot-frac", required_argument, NULL, OPT_HOT_FRAC },
	{ "churn-every", required_argument, NULL, OPT_CHURN_EVERY },
	{ "samples", required_argument, NULL, OPT_SAMPLES },
	{ "handle", required_argument, NULL, OPT_HANDLE },
	{ "trace-len", required_argument, NULL, OPT_TRACE_LEN },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "csv", no_argument, NULL, OPT_CSV },
	{ "redis-socket", required_argument, NULL, OPT_REDIS_SOCKET },
	{ "floor-work", required_argument, NULL, OPT_FLOOR_WORK },
	{ "key-rate", required_argument, NULL, OPT_KEY_RATE },
	{ NULL, 0, NULL, 0 },
};

/* One option into *c: 0, or -1 for a bad value. */
static int apply_opt(struct config *c, int opt, const char *arg)
{
	uint32_t u32;
	uint64_t u64;
	double d;
	switch (opt) {
	case 'n': return parse_u32(arg, 1, 1u << 28, &c->keys);
	case 'c': return parse_u32(arg, 1, 1u << 28, &c->capacity);
	case 'o': return parse_u64(arg, &c->ops);
	case 'p': return parse_u32(arg, 1, 4096, &c->procs);
	case 't': return parse_u32(arg, 1, 4096, &c->threads);
	case 'd': return parse_dist(arg, &c->dist);
	case 'i': return parse_impls(arg, &c->impl_mask);
	case 'l': c->latency = true; return 0;
	case 'r': return parse_u32(arg, 1, 1000, &c->repeat);
	case OPT_CSV: c->csv = true; return 0;
	case OPT_REDIS_SOCKET: c->redis_socket = arg; return 0;
	case OPT_FLOOR_WORK: return parse_u32(arg, 0, 64, &c->floor_work);
	case OPT_KEY_RATE: return parse_u32(arg, 0, 1u << 20, &c->key_rate);
	case OPT_ZIPF: return parse_double(arg, 0.0, 10.0, &c->zipf_s);
	case OPT_HOT_FRAC: return parse_double(arg, 0.0, 1.0, &c->hot_frac);
	case OPT_CHURN_EVERY: return parse_u32(arg, 1, UINT32_MAX, &c->churn_every);
	case OPT_SEED: return parse_u64(arg, &c->seed);
	case OPT_SAMPLES:
		if (parse_u64(arg, &u64) < 0 || u64 == 0 || u64 > (1ull << 30))
			return -1;
		c->samples = u64;
		return 0;
	case OPT_TRACE_LEN:
		if (parse_u32(arg, 1, 1u << 30, &u32) < 0)
			return -1;
		c->trace_len = u32;
		return 0;
	case 'w':
		if (parse_double(arg, 1e-6, 1e12, &d) < 0)
			return -1;
		c->window_ns = (uint64_t)(d * 1e6 + 0.5);
		return 0;
	case OPT_HANDLE:
		if (strcmp(arg, "thread") != 0 && strcmp(arg, "process") != 0)
			return -1;
		c->handle_per_thread = strcmp(arg, "thread") == 0;
		return 0;
	default:
		return -1;
	}
}

/* 0 to run, 1 for --help, -1 on a usage error (message printed). */
static int parse_args(int argc, char **argv, struct config *c)
{
	*c = (struct config){
		.keys = 100000, .capacity = 131072, .ops = 0, .procs = 1, .threads = 1,
		.window_ns = 10000000, .dist = DIST_UNIFORM, .zipf_s = 1.1, .hot_frac = 1.0,
		.churn_every = 16, .impl_mask = IMPL_DEFAULT_MASK, .repeat = 1, .seed = 1,
		.samples = 1000000, .trace_len = 1u << 22,
		.redis_socket = getenv("EVT_BENCH_REDIS_SOCKET"), .floor_work = 4,
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "n:c:o:p:t:w:d:i:lr:h", long_opts, NULL)) != -1) {
		if (opt == 'h')
			return 1;
		if (opt == '?' || apply_opt(c, opt, optarg) < 0) {
			if (opt != '?')
				fprintf(stderr, "evthrottle-bench: bad option value: %s\n", optarg);
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "evthrottle-bench: unexpected argument: %s\n", argv[optind]);
		return -1;
	}
	if ((c->impl_mask & ~((1u << IMPL_REDIS) - 1)) != 0 &&
	    (c->redis_socket == NULL || c->redis_socket[0] == '\0')) {
		fprintf(stderr, "evthrottle-bench: redis needs --redis-socket PATH "
		                "(or EVT_BENCH_REDIS_SOCKET)\n");
		return -1;
	}
	return 0;
}

/* Defaults that depend on other options, and sanity warnings. */
static void finish_config(struct config *c, long ncpu)
{
	unsigned nw = config_workers(c);
	if (c->ops == 0) {
		uint64_t busy = nw < (unsigned)ncpu ? nw : (unsigned)ncpu;
		c->ops = AUTO_OPS_PER_CPU * busy / nw;
	}
	if (c->trace_len < nw)
		c->trace_len = nw;
	/* A key's events are keys * workers trace events apart: key_rate of them a
	 * window for each worker. */
	if (c->key_rate != 0) {
		c->ts_step = c->window_ns / ((uint64_t)c->key_rate * c->keys * nw);
		if (c->ts_step == 0)
			c->ts_step = 1;
		c->ts_base = evt_now_ns();
	}
	if (c->keys > c->capacity)
		fprintf(stderr, "warning: %u keys in %u slots: expect full-table answers\n",
		        c->keys, c->capacity);
}

static int cmp_mops(const void *a, const void *b)
{
	double x = ((const struct run_result *)a)->mops, y = ((const struct run_result *)b)->mops;
	return (x > y) - (x < y);
}

/* The median of one implementation's runs (failed runs count as the slowest),
 * with the spread of all of them. */
static struct run_result median_run(struct run_result *runs, unsigned n)
{
	qsort(runs, n, sizeof *runs, cmp_mops);
	struct run_result m = runs[n / 2];
	m.runs = n;
	m.mops_min = runs[0].mops;
	m.mops_max = runs[n - 1].mops;
	for (unsigned i = 0; i < n; i++)
		m.failed |= runs[i].failed;
	return m;
}

/* Every selected implementation, --repeat times, interleaved (impl A, B, C, A, B,
 * C, ...) so that a slow spell of a noisy machine does not land on one of them.
 * Returns how many runs failed; res[0..*n) gets the medians. */
static unsigned run_all(const struct config *c, const struct trace *t, double ticks_per_ns,
                        struct run_result *res, unsigned *n)
{
	struct run_result *all = calloc((size_t)IMPL_COUNT * c->repeat, sizeof *all);
	unsigned failed = 0;
	if (all == NULL)
		return 1;
	for (unsigned r = 0; r < c->repeat; r++)
		for (int i = 0; i < IMPL_COUNT; i++)
			if (c->impl_mask & (1u << i))
				failed += run_impl(c, t, impls[i], ticks_per_ns,
				                   &all[(size_t)i * c->repeat + r]) < 0;
	*n = 0;
	for (int i = 0; i < IMPL_COUNT; i++)
		if (c->impl_mask & (1u << i))
			res[(*n)++] = median_run(&all[(size_t)i * c->repeat], c->repeat);
	free(all);
	return failed;
}

/* Interrupted: no worker left running, no /dev/shm object left behind. */
static void on_signal(int sig)
{
	runner_kill_children();
	bench_signal_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	struct config c;
	int rc = parse_args(argc, argv, &c);
	if (rc != 0) {
		if (rc > 0)
			usage(stdout);
		return rc > 0 ? 0 : 2;
	}
	struct report_env env = { .ncpu = sysconf(_SC_NPROCESSORS_ONLN) };
	if (env.ncpu < 1)
		env.ncpu = 1;
	finish_config(&c, env.ncpu);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	struct trace t;
	if (trace_make(&c, &t) < 0) {
		fprintf(stderr, "evthrottle-bench: out of memory for the trace\n");
		return 1;
	}
	double ticks_per_ns = 1.0;
	if (c.latency) {
		ticks_per_ns = timer_calibrate();
		timer_overhead(ticks_per_ns, &env.timer_p50, &env.timer_p99);
	}
	report_header(&c, &env);
	struct run_result res[IMPL_COUNT];
	unsigned n = 0, failed = run_all(&c, &t, ticks_per_ns, res, &n);
	report_results(&c, res, n, &env);
	trace_free(&t);
	return failed ? 1 : 0;
}
