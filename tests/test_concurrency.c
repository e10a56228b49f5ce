/*
 * SPEC §5.2: decisions are linearizable per key with any number of threads and
 * processes.  Threads (on one handle or on a handle each) and forked processes
 * hammer a few very hot keys and a spread of cooler ones with a small window, record
 * every decision (key, ts, answer), and a checker then verifies the history.
 *
 * What the checker can demand.  In any linearization of one key's decisions, a
 * processed event at ts sets last = ts and needs either no state or
 * ts >= last + window; a throttled event at ts saw some last with ts < last + window
 * (ts before last, or inside its window).  last is always the ts of a processed
 * event of that key.  Hence, on the timestamps passed in (which callers read before
 * calling, so they arrive in any order):
 *
 *   P  no two processed events of one key are less than a window apart
 *      (|ts1 - ts2| < window, equal timestamps included), whatever their order;
 *   T  a throttled event at ts has a processed event p of its key with
 *      p.ts > ts - window, i.e. ts < p.ts + window: p inside the window before it,
 *      or p later than it (an event older than the key's last is throttled);
 *   O  program order: p may not be a later call of the same thread/process (a call
 *      that returned before p began cannot have seen p).  Every source's
 *      timestamps strictly increase, so "later call" is "larger ts, same source".
 *
 * Without real-time order these are exactly the conditions for a legal sequential
 * order (processed events by ts, each throttled one right after the last processed
 * one that justifies it); O adds the only real-time order the test can know.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "common.h"

#define MAX_SRC 8
#define HOT_KEYS 4u
#define PRIVATE_BASE 0xf0000000u /* one key per source, decided before the start */

TestSuite(concurrency, .fini = unlink_names);

struct rec {
	uint64_t ts;
	uint32_t key;
	uint16_t src;
	int16_t ans;
};
_Static_assert(sizeof(struct rec) == 16, "records are packed in shared memory");

enum clock_kind {
	CLK_NOW,    /* evt_now_ns(), forced strictly increasing per source */
	CLK_OWN,    /* per-source synthetic clock: base + i * step */
	CLK_SHARED, /* one shared counter: fetch_add, unique and increasing per source */
};

struct work {
	evt_throttle *t;   /* the handle to use, or NULL: attach name */
	const char *name;
	unsigned src;
	size_t n;          /* decisions, the private one included */
	struct rec *out;
	enum clock_kind clock;
	uint64_t base, step;
	_Atomic uint64_t *shared_clock;
	uint32_t uniform;  /* cool keys in play at once */
	uint32_t churn;    /* 0: fixed key set; else the cool range moves one key per churn ticks */
	uint64_t seed;
	/* start line: threads use the barrier, processes the counter */
	pthread_barrier_t *barrier;
	_Atomic unsigned *ready;
	unsigned nready;
	int err;           /* first error (attach), reported by the parent */
};

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t next_ts(struct work *w, size_t i, uint64_t prev)
{
	switch (w->clock) {
	case CLK_NOW: {
		uint64_t ts = evt_now_ns();
		return ts > prev ? ts : prev + 1;
	}
	case CLK_OWN:
		return w->base + (uint64_t)i * w->step;
	default:
		return atomic_fetch_add_explicit(w->shared_clock, 1, memory_order_relaxed);
	}
}

static uint32_t pick_key(struct work *w, uint64_t *rng, uint64_t ts)
{
	uint64_t r = splitmix(rng);
	if (r % 4 == 0)
		return (uint32_t)(r >> 32) % HOT_KEYS; /* a quarter of the traffic on 4 keys */
	uint32_t lo = HOT_KEYS + (w->churn != 0 ? (uint32_t)(ts / w->churn) : 0);
	return lo + (uint32_t)(r >> 32) % w->uniform;
}

static void start_line(struct work *w)
{
	if (w->barrier != NULL) {
		pthread_barrier_wait(w->barrier);
		return;
	}
	atomic_fetch_add(w->ready, 1);
	while (atomic_load(w->ready) < w->nready)
		sched_yield();
}

static void record(struct work *w, size_t i, uint64_t ts, uint32_t key, int ans)
{
	w->out[i] = (struct rec){ ts, key, (uint16_t)w->src, (int16_t)ans };
}

/* The decisions of one source.  Runs in a thread or in a forked child: records
 * only, never asserts. */
static void run_work(struct work *w)
{
	evt_throttle *t = w->t;
	if (t == NULL) {
		w->err = evt_attach(w->name, 0, &t);
		if (w->err < 0)
			t = NULL;
	}
	uint64_t rng = w->seed, prev = 0;
	char key[TEST_KEY_LONG];
	size_t i = 0;
	/* A first decision before the start line, so that every client has a
	 * watermark before anyone can need a reclaim (a client that has not decided
	 * constrains nothing). */
	if (t != NULL) {
		uint64_t ts = prev = next_ts(w, i, 0);
		uint32_t id = PRIVATE_BASE + w->src;
		size_t len = test_key(key, 'k', id);
		record(w, i++, ts, id, evt_should_process(t, ts, NULL, key, len));
	}
	start_line(w);
	if (t == NULL)
		return;
	for (; i < w->n; i++) {
		uint64_t ts = prev = next_ts(w, i, prev);
		uint32_t id = pick_key(w, &rng, ts);
		size_t len = test_key(key, 'k', id);
		record(w, i, ts, id, evt_should_process(t, ts, NULL, key, len));
	}
	if (w->t == NULL)
		evt_close(t);
}

static void *thread_main(void *arg)
{
	run_work(arg);
	return NULL;
}

struct verdict {
	size_t processed, throttled, nospace, keys;
	bool ok;
	char why[256];
};

static int rec_order(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return (int)x->src - (int)y->src;
}

static bool fail(struct verdict *v, const struct rec *r, const char *what, uint64_t other)
{
	snprintf(v->why, sizeof v->why, "key %u ts %llu src %u answer %d: %s (%llu)", r->key,
	         (unsigned long long)r->ts, r->src, r->ans, what, (unsigned long long)other);
	v->ok = false;
	return false;
}

/* Check one key's events, sorted by ts: properties P, T and O of the top comment. */
static bool check_key(const struct rec *e, size_t n, uint64_t window, bool allow_nospace,
                      struct verdict *v)
{
	bool has_max[MAX_SRC] = { false }, has_run[MAX_SRC] = { false };
	uint64_t max_p[MAX_SRC] = { 0 }, run_p[MAX_SRC] = { 0 };
	bool has_prev = false;
	uint64_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].src >= MAX_SRC)
			return fail(v, &e[i], "bad source", e[i].src);
		if (e[i].ans == 1) {
			/* P: sorted by ts, so neighbours are the closest pairs. */
			if (has_prev && e[i].ts - prev < window)
				return fail(v, &e[i], "processed less than a window after the "
				                      "processed event at", prev);
			has_prev = true;
			prev = e[i].ts;
			has_max[e[i].src] = true;
			max_p[e[i].src] = e[i].ts; /* ascending: the last one is the max */
		} else if (e[i].ans != 0 && !(allow_nospace && e[i].ans == -ENOSPC)) {
			return fail(v, &e[i], "unexpected answer", 0);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = &e[i];
		if (r->ans == 1) {
			has_run[r->src] = true;
			run_p[r->src] = r->ts;
			continue;
		}
		if (r->ans != 0)
			continue;
		/* T with O: another source's processed event anywhere, or this
		 * source's own from an earlier call (smaller ts). */
		bool justified = has_run[r->src] && r->ts < run_p[r->src] + window;
		for (unsigned s = 0; s < MAX_SRC && !justified; s++)
			justified = s != r->src && has_max[s] && r->ts < max_p[s] + window;
		if (!justified)
			return fail(v, r, "throttled with no processed event within a window "
			                  "before it, nor a later one from another source", 0);
	}
	return true;
}

static bool check_history(struct rec *h, size_t n, uint64_t window, bool allow_nospace,
                          struct verdict *v)
{
	*v = (struct verdict){ .ok = true };
	qsort(h, n, sizeof *h, rec_order);
	for (size_t i = 0; i < n; i++) {
		v->processed += h[i].ans == 1;
		v->throttled += h[i].ans == 0;
		v->nospace += h[i].ans == -ENOSPC;
	}
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i; j < n && h[j].key == h[i].key; j++)
			;
		v->keys++;
		if (!check_key(&h[i], j - i, window, allow_nospace, v))
			return false;
	}
	return true;
}

/* The region's counters are the sum over every client entry: they must account
 * for exactly the recorded answers. */
static void expect_counted(evt_throttle *t, const struct verdict *v, bool expect_reclaim)
{
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.processed, v->processed, "processed %llu, recorded %zu",
	             (unsigned long long)s.processed, v->processed);
	cr_expect_eq(s.throttled, v->throttled, "throttled %llu, recorded %zu",
	             (unsigned long long)s.throttled, v->throttled);
	cr_expect_eq(s.full, v->nospace);
	if (expect_reclaim) {
		cr_expect_gt(s.reclaimed, 0, "the table never had to reclaim");
	} else {
		/* The premise of the roomy tests: every key stays put, so every answer
		 * is the plain semantics.  (With a handle shared by threads, whose
		 * timestamps are not monotonic as one client, reclaim could
		 * legitimately differ; the roomy table rules it out.) */
		cr_expect_eq(s.reclaimed, 0);
		cr_expect_eq(s.full, 0);
	}
	cr_log_info("%zu decisions on %zu keys: %zu processed, %zu throttled, %zu full; "
	            "%llu reclaimed", v->processed + v->throttled + v->nospace, v->keys,
	            v->processed, v->throttled, v->nospace, (unsigned long long)s.reclaimed);
}

static void expect_mix(const struct verdict *v)
{
	/* Both answers in bulk, or the test proves little. */
	cr_expect_gt(v->processed, 1000, "processed %zu", v->processed);
	cr_expect_gt(v->throttled, 1000, "throttled %zu", v->throttled);
}

struct scenario {
	unsigned nsrc;
	size_t per_src;
	bool own_handles;      /* threads: each attaches its own handle */
	enum clock_kind clock;
	uint64_t window, step;
	uint32_t capacity, uniform, churn;
	uint32_t on_full;
};

static void run_threads(const struct scenario *sc)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = sc->window;
	o.capacity = sc->capacity;
	o.on_full = sc->on_full;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);

	size_t total = sc->nsrc * sc->per_src;
	struct rec *h = malloc(total * sizeof *h);
	cr_assert_not_null(h);
	struct work w[MAX_SRC];
	pthread_t th[MAX_SRC];
	pthread_barrier_t barrier;
	_Atomic uint64_t shared_clock = 1000;
	pthread_barrier_init(&barrier, NULL, sc->nsrc);
	for (unsigned i = 0; i < sc->nsrc; i++) {
		w[i] = (struct work){
			.t = sc->own_handles ? NULL : t, .name = name, .src = i, .n = sc->per_src,
			.out = h + i * sc->per_src, .clock = sc->clock,
			/* synthetic clocks start apart and run at the same nominal pace */
			.base = 1000 + i * 7, .step = sc->step, .shared_clock = &shared_clock,
			.uniform = sc->uniform, .churn = sc->churn, .seed = 0x5eed + i,
			.barrier = &barrier,
		};
		cr_assert_eq(pthread_create(&th[i], NULL, thread_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < sc->nsrc; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&barrier);
	for (unsigned i = 0; i < sc->nsrc; i++)
		cr_assert_eq(w[i].err, 0, "thread %u: evt_attach: %s", i, evt_strerror(w[i].err));

	struct verdict v;
	bool ok = check_history(h, total, sc->window, sc->on_full == EVT_ON_FULL_ERROR, &v);
	cr_assert(ok, "%s", v.why);
	expect_counted(t, &v, sc->churn != 0);
	expect_mix(&v);
	free(h);
	evt_close(t);
	evt_unlink(name);
}

static void run_processes(const struct scenario *sc)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = sc->window;
	o.capacity = sc->capacity;
	o.on_full = sc->on_full;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);

	/* Records and the start line live in memory the children share with us. */
	size_t total = sc->nsrc * sc->per_src;
	size_t size = total * sizeof(struct rec) + 4096;
	void *shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(shm, MAP_FAILED);
	_Atomic unsigned *ready = shm;
	_Atomic uint64_t *shared_clock = (_Atomic uint64_t *)((char *)shm + 64);
	_Atomic int *errs = (_Atomic int *)((char *)shm + 128);
	struct rec *h = (struct rec *)((char *)shm + 4096);
	atomic_store(shared_clock, 1000);

	pid_t pid[MAX_SRC];
	for (unsigned i = 0; i < sc->nsrc; i++) {
		pid[i] = fork();
		cr_assert_geq(pid[i], 0);
		if (pid[i] == 0) {
			struct work w = {
				.t = NULL, .name = name, .src = i, .n = sc->per_src,
				.out = h + i * sc->per_src, .clock = sc->clock,
				.base = 1000 + i * 7, .step = sc->step, .shared_clock = shared_clock,
				.uniform = sc->uniform, .churn = sc->churn, .seed = 0xf0c + i,
				.ready = ready, .nready = sc->nsrc,
			};
			run_work(&w);
			atomic_store(&errs[i], w.err);
			_exit(w.err == 0 ? 0 : 2);
		}
	}
	for (unsigned i = 0; i < sc->nsrc; i++) {
		int st = 0;
		cr_assert_eq(waitpid(pid[i], &st, 0), pid[i]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		          "child %u: status %#x, evt_attach %s", i, st,
		          evt_strerror(atomic_load(&errs[i])));
	}

	struct verdict v;
	bool ok = check_history(h, total, sc->window, sc->on_full == EVT_ON_FULL_ERROR, &v);
	cr_assert(ok, "%s", v.why);
	expect_counted(t, &v, sc->churn != 0);
	expect_mix(&v);
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.clients, 1, "the children detached");
	munmap(shm, size);
	evt_close(t);
	evt_unlink(name);
}

/* The checker itself: each rule rejects a history that breaks it, and accepts the
 * out-of-order history the semantics allow. */
Test(concurrency, checker_rejects_bad_histories)
{
	struct verdict v;
	struct rec good[] = {
		{ 100, 1, 0, 1 }, { 105, 1, 1, 0 }, /* inside the window */
		{ 90, 1, 1, 0 },                     /* before last: throttled */
		{ 110, 1, 0, 1 }, { 95, 2, 0, 1 }, { 80, 2, 1, 0 },
	};
	cr_expect(check_history(good, 6, 10, false, &v), "%s", v.why);
	struct rec close_pair[] = { { 100, 1, 0, 1 }, { 109, 1, 1, 1 } };
	cr_expect_not(check_history(close_pair, 2, 10, false, &v));
	struct rec same_ts[] = { { 100, 1, 0, 1 }, { 100, 1, 1, 1 } };
	cr_expect_not(check_history(same_ts, 2, 10, false, &v));
	struct rec unjustified[] = { { 100, 1, 0, 1 }, { 110, 1, 1, 0 } };
	cr_expect_not(check_history(unjustified, 2, 10, false, &v));
	struct rec alone[] = { { 100, 1, 0, 0 } };
	cr_expect_not(check_history(alone, 1, 10, false, &v));
	/* Own later call cannot justify a throttle; another source's can. */
	struct rec own_later[] = { { 100, 1, 0, 0 }, { 105, 1, 0, 1 } };
	cr_expect_not(check_history(own_later, 2, 10, false, &v));
	struct rec other_later[] = { { 100, 1, 0, 0 }, { 105, 1, 1, 1 } };
	cr_expect(check_history(other_later, 2, 10, false, &v), "%s", v.why);
	struct rec nospace[] = { { 100, 1, 0, -ENOSPC } };
	cr_expect_not(check_history(nospace, 1, 10, false, &v));
	cr_expect(check_history(nospace, 1, 10, true, &v), "%s", v.why);
}

/* Real clock, 4 threads on one handle: 4 hot keys and 512 cool ones, a 20 us
 * window. */
Test(concurrency, threads_one_handle_clock)
{
	struct scenario sc = { .nsrc = 4, .per_src = 200000, .clock = CLK_NOW, .window = 20000,
	                       .capacity = 8192, .uniform = 512 };
	run_threads(&sc);
}

/* The same with a handle (and a client entry) per thread. */
Test(concurrency, threads_own_handles_clock)
{
	struct scenario sc = { .nsrc = 4, .per_src = 200000, .own_handles = true,
	                       .clock = CLK_NOW, .window = 20000, .capacity = 8192,
	                       .uniform = 512 };
	run_threads(&sc);
}

/* Per-thread synthetic clocks at the same nominal pace: the threads drift apart by
 * whole scheduler slices, so keys see long runs of events older than their last. */
Test(concurrency, threads_one_handle_synthetic_clocks)
{
	struct scenario sc = { .nsrc = 4, .per_src = 200000, .clock = CLK_OWN, .window = 64,
	                       .step = 4, .capacity = 8192, .uniform = 256 };
	run_threads(&sc);
}

/* One synthetic clock shared by all, a small table and a moving key set: slots are
 * reclaimed and reused all along while other threads decide on their keys.  A
 * handle per thread, each deciding before the start, so every client has a
 * watermark; a descheduled thread pins the horizon and new keys may then find no
 * room (-ENOSPC, which changes nothing and is left out of the check). */
Test(concurrency, threads_own_handles_reclaim)
{
	struct scenario sc = { .nsrc = 4, .per_src = 200000, .own_handles = true,
	                       .clock = CLK_SHARED, .window = 64, .capacity = 4096,
	                       .uniform = 64, .churn = 32, .on_full = EVT_ON_FULL_ERROR };
	run_threads(&sc);
}

/* Three forked processes, each attached by name, on the real clock. */
Test(concurrency, processes_clock)
{
	struct scenario sc = { .nsrc = 3, .per_src = 200000, .clock = CLK_NOW, .window = 20000,
	                       .capacity = 8192, .uniform = 512 };
	run_processes(&sc);
}

/* Three processes on a shared synthetic clock with a churning key set. */
Test(concurrency, processes_reclaim)
{
	struct scenario sc = { .nsrc = 3, .per_src = 200000, .clock = CLK_SHARED, .window = 64,
	                       .capacity = 4096, .uniform = 64, .churn = 32,
	                       .on_full = EVT_ON_FULL_ERROR };
	run_processes(&sc);
}

/* ---- two handles deciding the same keys at once under a limit ---- */

#define RACE_KEYS 200u
#define RACE_REPEAT 600u /* each key is contended for a while: counted events race */

struct racer {
	evt_throttle *t;
	_Atomic uint32_t *processed; /* per key, both racers */
	unsigned id;
	int bad;
};

/* Every event of a key has the same ts, inside one window: whatever the
 * interleaving, exactly min(limit, events) of them are processed (more is the
 * limit broken, fewer a throttle with room left in the window). */
static void *race(void *arg)
{
	struct racer *w = arg;
	char key[16];
	for (uint32_t k = 0; k < RACE_KEYS; k++) {
		int len = snprintf(key, sizeof key, "r%u", k);
		for (unsigned j = 0; j < RACE_REPEAT; j++) {
			int rc = evt_should_process(w->t, 1000 + k % 7, NULL, key, (size_t)len);
			if (rc == 1)
				atomic_fetch_add(&w->processed[k], 1);
			else if (rc != 0)
				w->bad++;
		}
	}
	return NULL;
}

Test(concurrency, two_handles_one_key_exactly_limit_processed, .timeout = 120)
{
	for (uint32_t limit = 3; limit <= 1000; limit += 997) {
		evt_options o = EVT_OPTIONS_INIT;
		o.capacity = 8192;
		o.window_ns = 1000000;
		o.limit = limit;
		const char *name = new_name();
		evt_throttle *t = test_create(name, &o);
		_Atomic uint32_t *processed = calloc(RACE_KEYS, sizeof *processed);
		pthread_t th[2];
		struct racer w[2];
		for (unsigned i = 0; i < 2; i++) {
			w[i] = (struct racer){ .processed = processed, .id = i };
			cr_assert_eq(evt_attach(name, 0, &w[i].t), 0);
		}
		for (unsigned i = 0; i < 2; i++)
			cr_assert_eq(pthread_create(&th[i], NULL, race, &w[i]), 0);
		for (unsigned i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			cr_expect_eq(w[i].bad, 0);
			evt_close(w[i].t);
		}
		uint32_t want = limit < 2 * RACE_REPEAT ? limit : 2 * RACE_REPEAT, wrong = 0, total = 0;
		for (uint32_t k = 0; k < RACE_KEYS; k++)
			total += atomic_load(&processed[k]);
		cr_log_info("limit %u: %u processed in all", limit, total);
		for (uint32_t k = 0; k < RACE_KEYS; k++)
			wrong += atomic_load(&processed[k]) != want;
		cr_expect_eq(wrong, 0, "limit %u: %u keys not processed exactly %u times", limit,
		             wrong, want);
		free(processed);
		evt_close(t);
	}
}
