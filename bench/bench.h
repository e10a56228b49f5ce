/*
 * evthrottle-bench internals: the run configuration, the pre-generated key trace,
 * the implementations under test and the worker results.  Everything here is
 * process-local except what runner.c puts in MAP_SHARED mappings (barrier, results,
 * latency samples) and the shared structures the implementations create.
 */
#ifndef EVT_BENCH_H
#define EVT_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evthrottle.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#define BENCH_KEY_MAX 31u  /* longest key string the trace makes ("user:" + 10 digits) */
#define BENCH_BATCH 64u    /* ops per clock read: the clock is not what we measure */
#define BENCH_PREFETCH 8u  /* how many ops ahead the trace's keys are prefetched */
#define BENCH_HINT_AHEAD 4  /* how many ops ahead an implementation's hint() is given a
                               key (fewer than BENCH_PREFETCH: the key is in cache) */
_Static_assert(BENCH_HINT_AHEAD < BENCH_PREFETCH, "a hinted key's bytes are fetched first");
#define BENCH_PROBE_MAX 64u /* the mutex table's probe bound (evthrottle's is 32) */

/* What a hinting implementation keeps of a key from its hint to its decision. */
struct bench_hint {
	uint64_t w[5];
};

enum dist { DIST_UNIFORM, DIST_ZIPF, DIST_HOT, DIST_CHURN };
/* IMPL_REDIS and the others from there on exist only in builds with hiredis
 * (EVT_BENCH_HAVE_REDIS) and are never part of "all": they need a server
 * (--redis-socket) and far fewer ops. */
enum impl_id {
	IMPL_EVTHROTTLE,
	IMPL_EVT_BATCH,
	IMPL_EVT_PREFETCH,
	IMPL_MUTEX,
	IMPL_FLOOR,
	IMPL_FLOOR_BATCH,
	IMPL_FLOOR_PREFETCH,
	IMPL_FLOOR_WORK,
	IMPL_REDIS,
	IMPL_EVT_GLOBAL,
	IMPL_EVT_GLOBAL_BATCH,
	IMPL_REDIS_PIPE,
	IMPL_COUNT
};
#define IMPL_DEFAULT_MASK                                                                \
	((1u << IMPL_EVTHROTTLE) | (1u << IMPL_EVT_BATCH) | (1u << IMPL_EVT_PREFETCH) |          \
	 (1u << IMPL_MUTEX) | (1u << IMPL_FLOOR) | (1u << IMPL_FLOOR_BATCH) |                    \
	 (1u << IMPL_FLOOR_PREFETCH))

struct config {
	uint32_t keys;         /* distinct keys live at once (-n) */
	uint32_t capacity;     /* table slots asked for (-c); rounded up to a power of 2 */
	uint64_t ops;          /* per worker (-o); 0 = auto */
	unsigned procs, threads;
	uint64_t window_ns;
	enum dist dist;
	double zipf_s;         /* zipf exponent */
	double hot_frac;       /* --dist hot: fraction of ops on the one hot key */
	uint32_t churn_every;  /* --dist churn: a new key id every this many trace ops */
	unsigned impl_mask;    /* 1u << enum impl_id */
	bool latency, csv, handle_per_thread;
	unsigned repeat;       /* runs per implementation, interleaved; median reported */
	uint64_t seed;
	uint64_t samples;      /* latency samples kept per worker */
	size_t trace_len;      /* ops in the pre-generated trace (workers wrap around) */
	const char *redis_socket; /* --redis-socket: the unix socket of a redis-server */
	uint32_t floor_work;   /* --floor-work: extra hashes per call of floor-work */
	uint32_t key_rate;     /* --key-rate: 0, timestamps from the clock; N, from the
	                          trace: N events of each key per window per worker */
	uint64_t ts_step;      /* with key_rate: ns between two events of the trace */
	uint64_t ts_base;      /* with key_rate: the first event's timestamp */
};

static inline unsigned config_workers(const struct config *c)
{
	return c->procs * c->threads;
}

/* A key as the trace stores it: 32 bytes, two per cache line. */
struct bkey {
	uint8_t len;
	char s[BENCH_KEY_MAX];
};

/* The whole workload, generated before anything is timed.  Worker w of W takes
 * ops[w], ops[w + W], ops[w + 2W], ... so together they replay one event stream
 * (which is what churn needs: one sliding key range for everybody). */
struct trace {
	uint32_t *ops;     /* index into keys[], one per event */
	size_t len;
	struct bkey *keys;
	uint32_t nkeys;    /* key ids the trace can name */
};

int trace_make(const struct config *c, struct trace *t);
void trace_free(struct trace *t);
const char *dist_name(enum dist d);

/* What an implementation says about its memory after a run (parent only). */
struct footprint {
	uint64_t region_bytes; /* everything its shared mapping takes */
	uint32_t capacity;     /* slots after rounding */
	int64_t live_keys;     /* keys held now, -1 if it holds none (floor) */
	/* An implementation that sends decisions off the host (evt-global): its
	 * round trips, its decisions (both phases), and the hosts it simulates;
	 * sites 0 otherwise. */
	uint64_t remote_calls, decided;
	unsigned sites;
	char note[160];        /* implementation-specific counters, for -v style lines */
};

/*
 * One implementation under test.  create() runs in the parent before fork and makes
 * the shared structure; attach() runs in each worker process (or thread, with
 * --handle thread) and returns what decide() needs; decide() answers 1 process,
 * 0 throttle, <0 error.  These tables of function pointers live in process-local
 * memory, which is fine: fork copies them and nothing here is in the shared region.
 */
struct impl_ops {
	const char *name;
	bool decides; /* false: decide() does the memory work but no throttling (floor) */
	void *(*create)(const struct config *c);
	void *(*attach)(void *state);
	int (*decide)(void *handle, uint64_t ts, const char *key, size_t len);
	/* Optional: decide a burst of events in one call (returns how many were
	 * processed, <0 on error); the throughput phase then hands it BENCH_BATCH
	 * events at a time, and there is no per-call latency phase. */
	int (*decide_batch)(void *handle, evt_event *ev, size_t n);
	/* Optional: told each key BENCH_HINT_AHEAD events before it is decided, as a
	 * caller that knows its next keys (a pipeline) would (evt_prefetch_key()),
	 * keeping in *h what the decision may reuse (the hash); decide_hinted() then
	 * decides with it.  Not used with decide_batch, which sees its keys together. */
	void (*hint)(void *handle, const char *key, size_t len, struct bench_hint *h);
	int (*decide_hinted)(void *handle, uint64_t ts, const char *key, size_t len,
	                     const struct bench_hint *h);
	/* Optional: how many of this handle's decisions so far left the host (evt-global:
	 * its round trips to Redis).  The latency phase reads it around each timed call,
	 * outside the timed region, and reports the calls that moved it apart from the
	 * others (so the decide() it times is the one the throughput phase runs).  With
	 * threads sharing a handle (--threads, --handle process), another thread's trip
	 * can mark a call: split kinds with processes. */
	uint64_t (*remote)(void *handle);
	void (*detach)(void *handle);
	void (*inspect)(void *state, struct footprint *f);
	void (*destroy)(void *state);
};

extern const struct impl_ops impl_evthrottle, impl_evt_batch, impl_mutex, impl_floor,
	impl_floor_batch, impl_floor_prefetch, impl_floor_work, impl_evt_prefetch;
#ifdef EVT_BENCH_HAVE_REDIS
extern const struct impl_ops impl_redis, impl_redis_pipe, impl_evt_global,
	impl_evt_global_batch;
/* evthrottle's options for a run (impl_evthrottle.c), also the global one's. */
evt_options bench_options(const struct config *c);
#endif

/* Unlink the named throttle alive now, from the parent's signal handler. */
void bench_signal_cleanup(void);

/* Capacity as evthrottle rounds it: a power of two, at least 64. */
uint32_t bench_round_capacity(uint32_t cap);

/* One worker's totals for one phase (throughput or latency); a cache line each so
 * workers never write the same line. */
struct worker_result {
	uint64_t start_ns, end_ns;
	uint64_t cpu_ns; /* the thread's CPU time over the phase: < end - start when
	                    it was descheduled (a busy machine, or a lock wait) */
	uint64_t ops, processed, errors;
	uint64_t nsamples;
	uint64_t ts_first, ts_last; /* the first and the last timestamp it decided on */
	int failed;
} __attribute__((aligned(64)));

enum { PHASE_THROUGHPUT, PHASE_LATENCY, PHASE_COUNT };

/* The outcome of running one implementation, gathered by the parent. */
struct run_result {
	const struct impl_ops *impl;
	uint64_t wall_ns, total_ops, processed, errors;
	double ns_per_op_worker; /* mean over workers of their own elapsed/ops */
	double mops;             /* total ops / wall time */
	double on_cpu;           /* workers' CPU time / their elapsed time, 0..1 */
	double cpu_ns_per_op;    /* workers' CPU time / all ops: what an op costs when it
	                            runs, blind to time spent waiting off CPU */
	bool failed;
	uint64_t ts_span_ns;     /* last timestamp decided - first, over both phases */
	struct footprint fp;
	bool have_latency;
	double lat_p50, lat_p99, lat_p999, lat_max; /* ns, timer cost included */
	uint64_t lat_samples;
	/* With impl->remote: the timed calls that stayed on the host and those that
	 * left it, apart (ns, timer cost included). */
	uint64_t lat_local_samples, lat_remote_samples;
	double lat_local_p50, lat_local_p99, lat_remote_p50, lat_remote_p99;
	/* Over --repeat runs; the fields above are the median run's (by Mops/s). */
	unsigned runs;
	double mops_min, mops_max;
};

/* SIGKILL the worker processes of the run in progress (signal handler). */
void runner_kill_children(void);

/* Fork the processes, run both phases, fill *out.  ticks_per_ns for latency. */
int run_impl(const struct config *c, const struct trace *t, const struct impl_ops *impl,
             double ticks_per_ns, struct run_result *out);

/*
 * Latency timer: rdtscp on x86-64 (constant-rate TSC; a pair costs tens of cycles,
 * which the report measures and prints), clock_gettime elsewhere.  rdtscp waits for earlier instructions to finish; the lfence after it
 * keeps later ones (the timed call) from starting before the stamp is taken.
 */
#if defined(__x86_64__)
static inline uint64_t timer_read(void)
{
	unsigned aux;
	uint64_t t = __rdtscp(&aux);
	_mm_lfence();
	return t;
}
#define TIMER_NAME "rdtscp"
#else
static inline uint64_t timer_read(void)
{
	return evt_now_ns();
}
#define TIMER_NAME "clock_gettime"
#endif
double timer_calibrate(void); /* ticks per ns */
/* The cost of an empty timed region, in ns: p50 and p99 over many tries. */
void timer_overhead(double ticks_per_ns, double *p50, double *p99);

/* Printing (report.c). */
struct report_env {
	long ncpu;
	double timer_p50, timer_p99; /* ns, an empty timed region */
};
void report_header(const struct config *c, const struct report_env *env);
void report_results(const struct config *c, const struct run_result *res, unsigned n,
                    const struct report_env *env);

/* Percentile q (0..1) of n sorted samples. */
uint32_t percentile(const uint32_t *sorted, uint64_t n, double q);
void sort_u32(uint32_t *v, uint64_t n);

#endif /* EVT_BENCH_H */
