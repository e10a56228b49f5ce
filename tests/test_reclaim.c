/*
 * SPEC §5.9 (reclaiming never changes an answer for clients whose timestamps move
 * forward), §5.5 (a full table: the configured policy, said and counted, never
 * blocking) and §5.4 (a killed client leaves the region consistent and pins
 * nothing once reaped).
 *
 * Every decision is compared with a reference model of the exact semantics that
 * never forgets a key (SPEC §1): whatever the table reclaims must not show.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "common.h"
#include "handle.h"
#include "killed_check.h"

TestSuite(reclaim, .fini = unlink_names);

/* ---- the reference: SPEC §1 over an unbounded map (dense key ids) ---- */

struct model {
	uint64_t *last;
	unsigned char *has;
	uint32_t *count; /* NULL under limit 1 */
	size_t size;
	uint64_t window;
	uint32_t limit;
};

static void model_init(struct model *m, uint64_t window)
{
	*m = (struct model){ .window = window, .limit = 1 };
}

static void model_free(struct model *m)
{
	free(m->last);
	free(m->has);
	free(m->count);
}

static void model_copy(struct model *dst, const struct model *src)
{
	*dst = *src;
	dst->last = malloc(src->size * sizeof *dst->last);
	dst->has = malloc(src->size);
	cr_assert(src->size == 0 || (dst->last != NULL && dst->has != NULL));
	if (src->size != 0) {
		memcpy(dst->last, src->last, src->size * sizeof *dst->last);
		memcpy(dst->has, src->has, src->size);
	}
}

static void model_grow(struct model *m, uint32_t key)
{
	if (key < m->size)
		return;
	size_t n = m->size != 0 ? m->size : 1024;
	while (n <= key)
		n *= 2;
	m->last = realloc(m->last, n * sizeof *m->last);
	m->has = realloc(m->has, n);
	cr_assert(m->last != NULL && m->has != NULL);
	if (m->limit > 1) {
		m->count = realloc(m->count, n * sizeof *m->count);
		cr_assert(m->count != NULL);
	}
	memset(m->has + m->size, 0, n - m->size);
	m->size = n;
}

static bool model_seen(struct model *m, uint32_t key)
{
	return key < m->size && m->has[key];
}

static int model_decide(struct model *m, uint32_t key, uint64_t ts)
{
	model_grow(m, key);
	if (m->has[key] && !(ts >= m->last[key] && ts - m->last[key] >= m->window)) {
		/* Inside the window: counted under a limit above 1. */
		if (m->limit == 1 || ts < m->last[key] || m->count[key] >= m->limit)
			return 0;
		m->count[key]++;
		return 1;
	}
	m->has[key] = 1;
	m->last[key] = ts;
	if (m->limit > 1)
		m->count[key] = 1;
	return 1;
}

/* ---- workload helpers ---- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int decide_id(evt_throttle *t, uint64_t ts, char prefix, uint32_t id, unsigned *info)
{
	char key[TEST_KEY_LONG];
	size_t len = test_key(key, prefix, id);
	return evt_should_process_ex(t, ts, NULL, key, len, info);
}

/* A key stream that keeps introducing keys: 45% a brand-new key, 50% one of the
 * `recent` newest (throttled often), 5% any key ever used (long expired). */
struct churn {
	uint64_t rng;
	uint32_t next, recent;
};

static uint32_t churn_key(struct churn *c)
{
	uint64_t r = splitmix(&c->rng);
	unsigned pick = (unsigned)(r % 100);
	uint32_t hi = (uint32_t)(r >> 32);
	if (c->next == 0 || pick < 45)
		return c->next++;
	if (pick < 95)
		return c->next - 1 - hi % (c->next < c->recent ? c->next : c->recent);
	return hi % c->next;
}

static evt_stats stats(evt_throttle *t)
{
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	return s;
}

/* ---- (a) key churn through a small table, one client ---- */

/*
 * Far more distinct keys than slots, timestamps moving forward (equal ones
 * included), the window spanning `span` steps so that about that many keys are in
 * their window at once: a small fraction of the table.  Every answer is the
 * model's, the table never reports full, and it did reclaim.
 */
static void churn_run(uint32_t capacity, uint64_t span, size_t steps, uint32_t limit)
{
	const uint64_t step = 10, window = span * step;
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = capacity;
	o.limit = limit;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	struct model m;
	model_init(&m, window);
	m.limit = limit;
	struct churn c = { .rng = capacity * 31 + span, .recent = span < 32 ? (uint32_t)span : 32 };
	uint64_t ts = 12345, rng = 99, reclaims = 0, processed = 0, throttled = 0;
	for (size_t i = 0; i < steps; i++) {
		ts += splitmix(&rng) % (2 * step + 1); /* 0 .. 2 steps: ties too */
		uint32_t k = churn_key(&c);
		bool fresh = !model_seen(&m, k);
		int want = model_decide(&m, k, ts);
		unsigned info = 0;
		int got = decide_id(t, ts, 'c', k, &info);
		cr_assert_eq(got, want, "step %zu key %u ts %llu: got %d, model %d (info %#x)", i, k,
		             (unsigned long long)ts, got, want, info);
		cr_assert_eq(info & EVT_INFO_FULL, 0, "step %zu: full with ~%llu live keys in %u slots",
		             i, (unsigned long long)span, capacity);
		if (fresh)
			cr_assert(info & EVT_INFO_NEW_KEY, "step %zu: a first-seen key not new", i);
		reclaims += (info & EVT_INFO_RECLAIMED) != 0;
		processed += got == 1;
		throttled += got == 0;
	}
	evt_stats s = stats(t);
	cr_expect_geq(c.next, 100u * capacity, "only %u distinct keys", c.next);
	cr_expect_gt(s.reclaimed, 0);
	cr_expect_eq(s.reclaimed, reclaims, "every reclaim is reported by its decision");
	cr_expect_eq(s.full, 0);
	cr_expect_eq(s.processed, processed);
	cr_expect_eq(s.throttled, throttled);
	cr_expect_gt(throttled, steps / (10 * limit), "throttled %llu: too few to prove much",
	             (unsigned long long)throttled);
	cr_expect_leq(s.keys, capacity);
	cr_log_info("%u slots: %zu decisions, %u keys, %llu processed, %llu throttled, "
	            "%llu reclaimed", capacity, steps, c.next, (unsigned long long)processed,
	            (unsigned long long)throttled, (unsigned long long)s.reclaimed);
	model_free(&m);
	evt_close(t);
}

Test(reclaim, churn_smallest_table)
{
	churn_run(64, 4, 20000, 1);
}

Test(reclaim, churn_1024_slots)
{
	churn_run(1024, 64, 240000, 1);
}

/* Under a limit, reclaim forgets a key's count with it: exact all the same, since
 * a key goes only once its window closed for every client, so that any later
 * event of it opens a new window (docs/design.md §3). */
Test(reclaim, churn_1024_slots_limit_3)
{
	churn_run(1024, 64, 240000, 3);
}

/* ---- (b) skewed clients ---- */

/*
 * Clients on one named throttle, each with its own clock: client 0 runs `lead[0]`
 * ahead of the base clock, client 1 on it, client 2 (if any) in between.  The calls
 * interleave in a fixed pseudo-random order, so one model fed the same (key, ts)
 * sequence in call order gives every answer.
 *
 * Why this needs reclaim to wait for the slowest client: client 0 processes key k
 * at L = g + 5W (g the base clock then).  Client 1, whose clock reads about g, soon
 * asks for k (the churn picks recent keys half the time) at ts < L: the model
 * throttles it, since k's last is L.  k's window has closed for client 0 once it
 * reaches L + W, a window later, but for client 1 only six windows later.  A
 * reclaim judged by client 0's clock would free k's slot in between whenever k's
 * neighbourhood had no empty slot, which is every insert once the churn has filled
 * the table with expired keys, and client 1 would then get 1 (a new key) where the
 * model says 0.  So the table must keep every key processed in the last six windows
 * (~6 * span keys: a quarter of the slots) and reclaim only below the min watermark.
 */
struct skew_seq {
	unsigned *who;
	uint64_t *ts;
	uint32_t *key;
	size_t n;
	uint32_t nkeys; /* distinct keys */
};

static void skew_make(struct skew_seq *q, size_t n, unsigned nclients, const uint64_t *lead,
                      uint64_t step, bool runs)
{
	q->n = n;
	q->who = malloc(n * sizeof *q->who);
	q->ts = malloc(n * sizeof *q->ts);
	q->key = malloc(n * sizeof *q->key);
	cr_assert(q->who != NULL && q->ts != NULL && q->key != NULL);
	struct churn c = { .rng = 4242, .recent = 32 };
	uint64_t rng = 17, g = 1000000;
	unsigned who = 0;
	size_t left = 0;
	for (size_t i = 0; i < n; i++) {
		if (i < nclients) {
			who = (unsigned)i; /* each client decides once first: it has a watermark */
		} else if (!runs) {
			who = (unsigned)(splitmix(&rng) % nclients);
		} else if (left-- == 0) {
			who = (unsigned)(splitmix(&rng) % nclients);
			left = splitmix(&rng) % 32;
		}
		g += splitmix(&rng) % (2 * step + 1);
		q->who[i] = who;
		q->ts[i] = g + lead[who];
		q->key[i] = churn_key(&c);
	}
	q->nkeys = c.next;
}

static void skew_free(struct skew_seq *q)
{
	free(q->who);
	free(q->ts);
	free(q->key);
}

static void skew_in_process(unsigned nclients)
{
	const uint64_t step = 10, span = 32, window = span * step;
	const uint64_t lead[3] = { 5 * window, 0, 2 * window };
	const uint32_t capacity = 1024;
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = capacity;
	const char *name = new_name();
	evt_throttle *h[3];
	h[0] = test_create(name, &o);
	for (unsigned i = 1; i < nclients; i++)
		cr_assert_eq(evt_attach(name, 0, &h[i]), 0);

	struct skew_seq q;
	skew_make(&q, 250000, nclients, lead, step, false);
	struct model m;
	model_init(&m, window);
	uint64_t reclaims = 0;
	for (size_t i = 0; i < q.n; i++) {
		int want = model_decide(&m, q.key[i], q.ts[i]);
		unsigned info = 0;
		int got = decide_id(h[q.who[i]], q.ts[i], 's', q.key[i], &info);
		cr_assert_eq(got, want, "step %zu client %u key %u ts %llu: got %d, model %d", i,
		             q.who[i], q.key[i], (unsigned long long)q.ts[i], got, want);
		cr_assert_eq(info & EVT_INFO_FULL, 0, "step %zu: full", i);
		reclaims += (info & EVT_INFO_RECLAIMED) != 0;
	}
	evt_stats s = stats(h[0]);
	cr_expect_gt(s.reclaimed, 0);
	cr_expect_eq(s.reclaimed, reclaims);
	cr_expect_eq(s.clients, nclients);
	cr_expect_geq(q.nkeys, 100u * capacity, "only %u distinct keys", q.nkeys);
	cr_log_info("%u clients: %zu decisions, %llu reclaimed, %llu processed", nclients, q.n,
	            (unsigned long long)s.reclaimed, (unsigned long long)s.processed);
	skew_free(&q);
	model_free(&m);
	for (unsigned i = 0; i < nclients; i++)
		evt_close(h[i]);
	evt_unlink(name);
}

Test(reclaim, skewed_clients_two)
{
	skew_in_process(2);
}

Test(reclaim, skewed_clients_three)
{
	skew_in_process(3);
}

/*
 * The same with two forked processes, made deterministic by taking turns: the
 * sequence (computed before forking) is cut into runs of one client; a shared
 * position says whose turn it is, and each child decides its runs in order.
 */
static void skew_child(const char *name, unsigned me, const struct skew_seq *q,
                       _Atomic size_t *pos, _Atomic unsigned *ready, unsigned nclients,
                       int8_t *ans, uint8_t *infos)
{
	/* A partner that died must not leave us spinning forever. */
	uint64_t deadline = evt_now_ns() + 60000000000ull;
	evt_throttle *t;
	if (evt_attach(name, 0, &t) != 0)
		_exit(2);
	atomic_fetch_add(ready, 1);
	while (atomic_load(ready) < nclients) {
		sched_yield();
		if (evt_now_ns() > deadline)
			_exit(3);
	}
	for (;;) {
		/* Acquire pairs with the release below: the other child's decisions
		 * happen before ours. */
		size_t i = atomic_load_explicit(pos, memory_order_acquire);
		if (i >= q->n)
			break;
		if (q->who[i] != me) {
			sched_yield();
			if (evt_now_ns() > deadline)
				_exit(3);
			continue;
		}
		unsigned info = 0;
		ans[i] = (int8_t)decide_id(t, q->ts[i], 's', q->key[i], &info);
		infos[i] = (uint8_t)info;
		atomic_store_explicit(pos, i + 1, memory_order_release);
	}
	evt_close(t);
	_exit(0);
}

Test(reclaim, skewed_processes)
{
	const uint64_t step = 10, span = 32, window = span * step;
	const uint64_t lead[2] = { 5 * window, 0 };
	const unsigned nclients = 2;
	const uint32_t capacity = 1024;
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = capacity;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);

	struct skew_seq q;
	skew_make(&q, 240000, nclients, lead, step, true);
	size_t size = 4096 + q.n * 2;
	unsigned char *shm = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                          -1, 0);
	cr_assert_neq(shm, MAP_FAILED);
	_Atomic size_t *pos = (_Atomic size_t *)(void *)shm;
	_Atomic unsigned *ready = (_Atomic unsigned *)(void *)(shm + 64);
	int8_t *ans = (int8_t *)(shm + 4096);
	uint8_t *infos = shm + 4096 + q.n;

	pid_t pid[2];
	for (unsigned c = 0; c < nclients; c++) {
		pid[c] = fork();
		cr_assert_geq(pid[c], 0);
		if (pid[c] == 0)
			skew_child(name, c, &q, pos, ready, nclients, ans, infos);
	}
	for (unsigned c = 0; c < nclients; c++) {
		int st = 0;
		cr_assert_eq(waitpid(pid[c], &st, 0), pid[c]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %u: status %#x", c, st);
	}
	cr_assert_eq(atomic_load(pos), q.n);

	struct model m;
	model_init(&m, window);
	uint64_t reclaims = 0;
	for (size_t i = 0; i < q.n; i++) {
		int want = model_decide(&m, q.key[i], q.ts[i]);
		cr_assert_eq(ans[i], want, "step %zu client %u key %u ts %llu: got %d, model %d", i,
		             q.who[i], q.key[i], (unsigned long long)q.ts[i], ans[i], want);
		cr_assert_eq(infos[i] & EVT_INFO_FULL, 0, "step %zu: full", i);
		reclaims += (infos[i] & EVT_INFO_RECLAIMED) != 0;
	}
	evt_stats s = stats(t);
	cr_expect_gt(s.reclaimed, 0);
	cr_expect_eq(s.reclaimed, reclaims);
	cr_expect_eq(s.clients, 1, "the children detached");
	skew_free(&q);
	model_free(&m);
	munmap(shm, size);
	evt_close(t);
	evt_unlink(name);
}

/*
 * A client whose clock lags joins late: SPEC §5.9 lets a slot be reused only when
 * its window has closed for every attached client.  Client A alone fills the table
 * at ts 100000 and moves on to 1000000 (the horizon follows it there).  Client B
 * then attaches and decides at 50000: from now on no key A processed at 100000 may
 * be reclaimed (B's latest timestamp is not a window past it), so A's new keys find
 * no room, and B's own decisions on A's keys are throttled (50001 < 100000): at
 * most the two keys reclaimed before B's first decision completed may answer 1.
 *
 * This would fail with a cached horizon that is only ever raised: claim() reads
 * the watermarks afresh whenever it needs to reclaim, so B's counts at once.
 */
Test(reclaim, late_lagging_client_pins_the_horizon)
{
	const uint64_t window = 1000;
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = 64;
	o.on_full = EVT_ON_FULL_ERROR;
	const char *name = new_name();
	evt_throttle *a = test_create(name, &o), *b;
	unsigned info;
	static bool tracked[10000];
	uint32_t nf = 0;
	for (; nf < 10000 && stats(a).keys < 64; nf++) {
		int got = decide_id(a, 100000, 'f', nf, &info);
		cr_assert(got == 1 || got == -ENOSPC, "%d", got);
		tracked[nf] = got == 1;
	}
	cr_assert_eq(stats(a).keys, 64, "could not fill the table");
	cr_assert_eq(decide_id(a, 1000000, 'n', 0, &info), 1);
	cr_assert(info & EVT_INFO_RECLAIMED);

	cr_assert_eq(evt_attach(name, 0, &b), 0);
	int first = decide_id(b, 50000, 'x', 0, &info);
	/* Or stale: its home may hold a bound of a key forgotten after 49000. */
	cr_assert(first == 1 || first == -ENOSPC || (first == 0 && (info & EVT_INFO_STALE)), "%d",
	          first);
	uint64_t before = stats(a).reclaimed;

	unsigned placed = 0;
	for (uint32_t i = 1; i <= 10; i++) {
		int got = decide_id(a, 1000000 + i, 'n', i, &info);
		cr_assert(got == 1 || got == -ENOSPC, "%d", got);
		placed += got == 1;
	}
	cr_expect_eq(placed, 0, "%u of 10 new keys found room, but client B at 50000 still "
	             "needs every key processed at 100000", placed);
	cr_expect_eq(stats(a).reclaimed, before, "reclaimed %llu keys while B's watermark is "
	             "50000", (unsigned long long)(stats(a).reclaimed - before));
	unsigned wrong = 0;
	for (uint32_t i = 0; i < nf; i++)
		if (tracked[i])
			wrong += decide_id(b, 50001 + i, 'f', i, &info) == 1;
	cr_expect_leq(wrong, 2, "client B got 1 for %u keys whose last is 100000 > its ts",
	              wrong);
	evt_close(a);
	evt_close(b);
	evt_unlink(name);
}

/* ---- (c) a full table: the policy, said and counted, nothing blocks ---- */

static void full_policy(uint32_t on_full, int want_full)
{
	const uint64_t window = 1000000, t0 = 5000;
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = 64;
	o.on_full = on_full;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);

	/* Distinct keys with their windows open: at most 64 fit, so some neighbourhood
	 * fills at the latest with the 65th.  Go on to 200 keys. */
	uint32_t inserted[200], ni = 0, full[200], nfull = 0;
	for (uint32_t i = 0; i < 200; i++) {
		unsigned info = 0;
		int got = decide_id(t, t0, 'k', i, &info);
		if (info & EVT_INFO_FULL) {
			cr_assert_eq(got, want_full, "key %u: policy %u answered %d", i, on_full, got);
			full[nfull++] = i;
		} else {
			cr_assert_eq(got, 1, "key %u: %d", i, got);
			cr_assert_eq(info, EVT_INFO_NEW_KEY, "key %u: info %#x", i, info);
			inserted[ni++] = i;
		}
	}
	cr_assert_leq(ni, 64);
	cr_assert_geq(nfull, 200 - 64);
	evt_stats s = stats(t);
	cr_expect_eq(s.full, nfull);
	cr_expect_eq(s.keys, ni);
	cr_expect_eq(s.new_keys, ni);
	cr_expect_eq(s.reclaimed, 0);
	cr_expect_eq(s.processed, ni + (want_full == 1 ? nfull : 0));
	cr_expect_eq(s.throttled, want_full == 0 ? nfull : 0);
	cr_expect_eq(evt_key_count(t), ni);

	/* Tracked keys keep their answers in the full table. */
	for (uint32_t j = 0; j < ni; j++) {
		unsigned info = 0;
		cr_expect_eq(decide_id(t, t0 + window - 1, 'k', inserted[j], &info), 0);
		cr_expect_eq(info, EVT_INFO_INSIDE_WINDOW, "tracked key %u: info %#x", inserted[j], info);
	}
	/* An untracked key stays untracked: the policy again, counted again, and the
	 * plain call gives the same answer.  Nothing waits: many calls in a row. */
	for (int r = 0; r < 100000; r++) {
		unsigned info = 0;
		cr_assert_eq(decide_id(t, t0 + 1 + (uint64_t)(r % 100), 'k', full[r % nfull], &info),
		             want_full);
		cr_assert_eq(info, EVT_INFO_FULL);
	}
	char key[TEST_KEY_LONG];
	size_t len = test_key(key, 'k', full[0]);
	cr_expect_eq(evt_should_process(t, t0 + 2, NULL, key, len), want_full);
	s = stats(t);
	cr_expect_eq(s.full, nfull + 100001);
	cr_expect_eq(s.keys, ni);

	/* A window on, the tracked keys are processed again (found, not new); a
	 * window later still their windows have closed and the full key takes an
	 * expired slot. */
	unsigned info = 0;
	for (uint32_t j = 0; j < ni; j++) {
		cr_expect_eq(decide_id(t, t0 + window, 'k', inserted[j], &info), 1, "key %u",
		             inserted[j]);
		cr_expect_eq(info, 0, "key %u: info %#x", inserted[j], info);
	}
	cr_expect_eq(decide_id(t, t0 + 2 * window, 'k', full[0], &info), 1);
	cr_expect_eq(info, EVT_INFO_NEW_KEY | EVT_INFO_RECLAIMED, "info %#x", info);
	s = stats(t);
	cr_expect_eq(s.full, nfull + 100001, "no decision above was the policy's");
	cr_expect_eq(s.reclaimed, 1);
	cr_expect_eq(s.keys, ni);
	evt_close(t);
	evt_unlink(name);
}

Test(reclaim, full_table_throttles)
{
	full_policy(EVT_ON_FULL_THROTTLE, 0);
}

Test(reclaim, full_table_processes)
{
	full_policy(EVT_ON_FULL_PROCESS, 1);
}

Test(reclaim, full_table_errors)
{
	full_policy(EVT_ON_FULL_ERROR, -ENOSPC);
}

/* ---- (d) a killed client ---- */

/* Fork a child that attaches name, runs body, and then waits to be killed.  It
 * dies with its parent too, so a failed test leaves nothing behind. */
static pid_t child_attached(const char *name, void (*body)(evt_throttle *, void *), void *arg)
{
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fd[0]);
		evt_throttle *t;
		if (evt_attach(name, 0, &t) != 0)
			_exit(2);
		char c = 'r';
		if (write(fd[1], &c, 1) != 1) /* attached */
			_exit(3);
		body(t, arg);
		for (;;)
			pause();
	}
	close(fd[1]);
	char c;
	cr_assert_eq(read(fd[0], &c, 1), 1, "the child could not attach");
	close(fd[0]);
	return pid;
}

/* Yield until *flag reaches want; fail if the child ended meanwhile. */
static void wait_progress(pid_t pid, _Atomic uint64_t *flag, uint64_t want)
{
	while (atomic_load_explicit(flag, memory_order_acquire) < want) {
		int st;
		cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "the child ended early");
		sched_yield();
	}
}

static void kill_child(pid_t pid)
{
	int st = 0;
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid); /* a zombie still counts as alive */
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
}

struct few_keys {
	_Atomic uint64_t done; /* in shared memory */
	_Atomic int answers;   /* sum of the child's answers */
};

static void decide_few(evt_throttle *t, void *arg)
{
	struct few_keys *f = arg;
	unsigned info;
	for (uint32_t i = 0; i < 10; i++)
		atomic_fetch_add(&f->answers, decide_id(t, 1000 + i, 'c', i, &info));
	atomic_store_explicit(&f->done, 1, memory_order_release);
}

/*
 * A child decides on 10 keys at ts ~1000 and is killed.  Its entry still says
 * "live, watermark 1009": the parent's keys (processed at 2000 and on, windows of
 * 1000) can never be reclaimed below that, so the table fills (-ENOSPC, counted,
 * changes nothing).  A new read-write attach reaps the dead entry; from then on
 * the horizon follows the parent and every new key finds room.
 */
Test(reclaim, killed_client_is_reaped)
{
	const uint64_t window = 1000;
	const uint32_t capacity = 256;
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = capacity;
	o.on_full = EVT_ON_FULL_ERROR;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	struct few_keys *f = mmap(NULL, sizeof *f, PROT_READ | PROT_WRITE,
	                          MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(f, MAP_FAILED);

	pid_t pid = child_attached(name, decide_few, f);
	wait_progress(pid, &f->done, 1);
	cr_assert_eq(atomic_load(&f->answers), 10);
	cr_assert_eq(stats(t).processed, 10);
	cr_expect_eq(stats(t).clients, 2);
	kill_child(pid);
	cr_expect_eq(stats(t).clients, 2, "nobody has reaped the dead client yet");

	struct model m;
	model_init(&m, window);
	for (uint32_t i = 0; i < 10; i++)
		model_decide(&m, i, 1000 + i);
	unsigned info;
	for (uint32_t i = 0; i < 10; i++)
		cr_expect_eq(decide_id(t, 1500, 'c', i, &info), 0, "the child's key %u", i);

	/* Pinned: new keys at ts 2000, 2100, ... until well past the capacity. */
	uint64_t ts = 2000;
	uint32_t id = 100, nospace = 0;
	for (; id < 100 + 4 * capacity; id++, ts += 100) {
		int got = decide_id(t, ts, 'c', id, &info);
		if (got == -ENOSPC) {
			cr_assert(info & EVT_INFO_FULL);
			nospace++;
			continue;
		}
		cr_assert_eq(got, model_decide(&m, id, ts), "key %u ts %llu", id,
		             (unsigned long long)ts);
	}
	cr_expect_gt(nospace, 0, "the dead client's watermark did not pin the horizon");
	cr_expect_leq(stats(t).horizon_ns, 1009);

	/* Reap: any read-write attach does it. */
	evt_throttle *h2;
	cr_assert_eq(evt_attach(name, 0, &h2), 0);
	cr_expect_eq(stats(t).clients, 2, "the dead client was reaped, the new one counts");
	evt_close(h2);
	cr_expect_eq(stats(t).clients, 1);

	/* From now on every key finds room and every answer is the model's. */
	uint64_t reclaimed = stats(t).reclaimed;
	for (uint32_t n = 0; n < 20 * capacity; n++, id++, ts += 100) {
		uint32_t k = n % 3 == 0 ? id - 1 - n % 7 : id; /* some repeats */
		int got = decide_id(t, ts, 'c', k, &info);
		cr_assert_eq(got, model_decide(&m, k, ts), "after reaping: key %u ts %llu: %d", k,
		             (unsigned long long)ts, got);
	}
	evt_stats s = stats(t);
	cr_expect_eq(s.full, nospace, "no full decision after reaping");
	cr_expect_gt(s.reclaimed, reclaimed);
	cr_expect_gt(s.horizon_ns, 1009);
	model_free(&m);
	munmap(f, sizeof *f);
	evt_close(t);
	evt_unlink(name);
}

/*
 * SPEC §5.4: a client killed at an arbitrary instruction of a decision (insert,
 * reclaim, update) leaves the table consistent.  The child runs a deterministic
 * trace and publishes how far it got; whether its last, interrupted decision took
 * effect is unknown, so the parent's continuation of the trace must match the model
 * with or without it.
 */
#define TRACE_MAX 4000000u

struct trace_shm {
	_Atomic uint64_t done;
	int8_t ans[TRACE_MAX];
};

static uint32_t trace_key(uint64_t i)
{
	uint64_t s = i * 0x2545f4914f6cdd1dull;
	uint64_t r = splitmix(&s);
	return r % 4 == 0 ? (uint32_t)(1000 + i) : (uint32_t)(r >> 40) % 48;
}

static void trace_run(evt_throttle *t, void *arg)
{
	struct trace_shm *sh = arg;
	unsigned info;
	for (uint32_t i = 0; i < TRACE_MAX; i++) {
		sh->ans[i] = (int8_t)decide_id(t, i, 't', trace_key(i), &info);
		atomic_store_explicit(&sh->done, i + 1, memory_order_release);
	}
}

Test(reclaim, killed_mid_decision)
{
	const uint64_t window = 64;
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = 1024;
	o.on_full = EVT_ON_FULL_ERROR;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	struct trace_shm *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sh, MAP_FAILED);

	pid_t pid = child_attached(name, trace_run, sh);
	wait_progress(pid, &sh->done, 200000);
	kill_child(pid);
	/* The step it was in when killed (if it had not finished, which only a very
	 * late kill allows). */
	uint64_t done = atomic_load_explicit(&sh->done, memory_order_acquire);

	/* The child's completed answers, then the two possible states. */
	struct model m0, m1;
	model_init(&m0, window);
	for (uint64_t i = 0; i < done; i++) {
		int want = model_decide(&m0, trace_key(i), i);
		cr_assert_eq(sh->ans[i], want, "child step %llu", (unsigned long long)i);
	}
	model_copy(&m1, &m0);
	if (done < TRACE_MAX)
		model_decide(&m1, trace_key(done), done);

	evt_throttle *h2;
	cr_assert_eq(evt_attach(name, 0, &h2), 0); /* reaps the child */
	evt_close(h2);
	cr_expect_eq(stats(t).clients, 1);

	bool ok0 = true, ok1 = true;
	uint64_t first_bad0 = 0, first_bad1 = 0;
	unsigned info;
	for (uint64_t i = done + 1; i < done + 1 + 200000; i++) {
		uint32_t k = trace_key(i);
		int got = decide_id(t, i, 't', k, &info);
		cr_assert_geq(got, 0, "step %llu: %d", (unsigned long long)i, got);
		if (ok0 && got != model_decide(&m0, k, i)) {
			ok0 = false;
			first_bad0 = i;
		}
		if (ok1 && got != model_decide(&m1, k, i)) {
			ok1 = false;
			first_bad1 = i;
		}
		if (!ok0 && !ok1)
			break;
	}
	cr_expect(ok0 || ok1, "killed at step %llu: differs from the model without it at %llu, "
	          "with it at %llu", (unsigned long long)done, (unsigned long long)first_bad0,
	          (unsigned long long)first_bad1);
	cr_expect_eq(stats(t).full, 0);
	/* The kill may have fallen between a change and its count (a reclaim, or the
	 * insert after it): the reaping attach recounted, so the count is exact. */
	struct killed_check k = killed_table_check(&t->r);
	cr_expect_eq(k.other, 0, "table_check found violations");
	cr_expect_eq(k.drift, 0, "key count %lld off after one kill and the reaping", k.drift);
	model_free(&m0);
	model_free(&m1);
	munmap(sh, sizeof *sh);
	evt_close(t);
	evt_unlink(name);
}
