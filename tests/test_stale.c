/*
 * SPEC §5.9: reclaiming state never makes an answer silently wrong, for any
 * client: idle, stopped, sharing a handle across threads, or deciding after a
 * window was raised.  Every answer is the exact rule or conservative, and then it
 * says so (EVT_INFO_STALE), is counted (stale) and follows on_stale.  And no
 * client, whatever it does, stops reclaim for the others.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "common.h"
#include "moves.h"
#include "handle.h"

TestSuite(stale, .fini = unlink_names);

static evt_options opts(uint32_t capacity, uint64_t window)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = capacity;
	o.window_ns = window;
	o.mode = 0600;
	return o;
}

static int decide_ex(evt_throttle *t, uint64_t ts, const char *key, unsigned *info)
{
	return evt_should_process_ex(t, ts, NULL, key, strlen(key), info);
}

static evt_stats stats(const evt_throttle *t)
{
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	return s;
}

/* ---- a window raised after keys were reclaimed under the smaller one ---- */

/* What an answer of the enforcing rule becomes: in shadow mode a denial (0 or an
 * error) is a 1, and says so. */
static void expect_answer(int rc, unsigned info, int enforcing, bool shadow, const char *key)
{
	bool denied = shadow && enforcing != 1;
	cr_expect_eq(rc, denied ? 1 : enforcing, "%s: %d, the rule's %d%s", key, rc, enforcing,
	             shadow ? " in shadow mode" : "");
	cr_expect_eq((info & EVT_INFO_SHADOW) != 0, denied, "%s: info %#x", key, info);
}

/* 1,100 keys through 1,024 slots under a 100 ns window (so some are reclaimed),
 * then the window raised to 100 ms: the seed's rule throttles every key again.  In
 * shadow mode the same decisions are made and counted, the denials answered 1. */
static void raise_after_reclaim(uint32_t on_stale, int want_absent, bool shadow)
{
	evt_options o = opts(1024, 100);
	o.on_stale = on_stale;
	evt_throttle *t = test_create(new_name(), &o);
	char key[32];
	for (unsigned i = 0; i < 1100; i++) {
		unsigned info;
		snprintf(key, sizeof key, "k%u", i);
		cr_assert_eq(decide_ex(t, i + 1, key, &info), 1, "%s at %u", key, i + 1);
		cr_assert_eq(info & EVT_INFO_STALE, 0, "%s: a new key at the newest time is exact", key);
	}
	evt_stats before = stats(t);
	cr_assert_gt(before.reclaimed, 0, "the scenario needs reclaimed keys");
	cr_assert_eq(evt_update_window(t, 100000000), 0);
	cr_assert_eq(evt_set_shadow(t, shadow), 0);
	uint64_t stale = 0, full = 0, denied = 0;
	for (unsigned i = 0; i < 1100; i++) {
		unsigned info;
		snprintf(key, sizeof key, "k%u", i);
		int rc = decide_ex(t, 1101 + i, key, &info);
		if (info & EVT_INFO_STALE) {
			stale++;
			expect_answer(rc, info, want_absent, shadow, key);
			denied += want_absent != 1;
		} else if (info & EVT_INFO_FULL) {
			/* The policy "process" needs a slot for the key first. */
			cr_expect_eq(on_stale, EVT_ON_STALE_PROCESS, "%s: full", key);
			full++;
			expect_answer(rc, info, 0, shadow, key); /* on_full = throttle */
			denied++;
		} else {
			/* processed 1,100 ns ago under a 100 ms window */
			expect_answer(rc, info, 0, shadow, key);
			cr_expect(info & EVT_INFO_INSIDE_WINDOW, "%s: info %#x", key, info);
			denied++;
		}
	}
	evt_stats after = stats(t);
	cr_expect_eq(stale + full, before.reclaimed,
	             "every reclaimed key, and only those, is stale (or, tracked, full)");
	cr_expect_gt(stale, 0);
	cr_expect_eq(after.stale, stale, "stale counts each such answer");
	uint64_t tracked = want_absent == 1 ? stale : 0;
	cr_expect_eq(after.keys, before.keys + tracked, "only the policy 'process' tracks them");
	cr_expect_eq(after.would_throttle, shadow ? denied : 0);
	evt_close(t);
}

Test(stale, window_raise_throttles_reclaimed_keys)
{
	raise_after_reclaim(EVT_ON_STALE_THROTTLE, 0, false);
}

/* Shadow mode answers the stale policy's 0 and -ESTALE with 1, tracking nothing more
 * than enforcing does. */
Test(stale, window_raise_in_shadow_mode)
{
	raise_after_reclaim(EVT_ON_STALE_THROTTLE, 0, true);
	raise_after_reclaim(EVT_ON_STALE_ERROR, -ESTALE, true);
	raise_after_reclaim(EVT_ON_STALE_PROCESS, 1, true);
}

Test(stale, window_raise_on_stale_process)
{
	raise_after_reclaim(EVT_ON_STALE_PROCESS, 1, false);
}

Test(stale, window_raise_on_stale_error)
{
	raise_after_reclaim(EVT_ON_STALE_ERROR, -ESTALE, false);
}

/* ---- idle and stopped clients do not hold reclaim back ---- */

#define CHURN_KEYS 20000u
#define CHURN_STEP 100000u /* 100 us between new keys, a 1 ms window */

/* Decide CHURN_KEYS new keys "n<i>" at 2 + i * CHURN_STEP; all must be processed. */
static void churn(evt_throttle *t)
{
	char key[32];
	unsigned processed = 0;
	for (unsigned i = 0; i < CHURN_KEYS; i++) {
		snprintf(key, sizeof key, "n%u", i);
		processed += decide(t, 2 + (uint64_t)i * CHURN_STEP, key) == 1;
	}
	evt_stats s = stats(t);
	cr_expect_eq(processed, CHURN_KEYS, "%u of %u new keys processed, %llu full", processed,
	             CHURN_KEYS, (unsigned long long)s.full);
	cr_expect_eq(s.full, 0);
	cr_expect_gt(s.reclaimed, CHURN_KEYS - 1024, "the table was reused");
}

static evt_options churn_opts(void)
{
	evt_options o = opts(1024, 1000000);
	o.client_idle_ns = 10000000; /* 10 ms */
	return o;
}

Test(stale, idle_client_does_not_hold_reclaim)
{
	evt_options o = churn_opts();
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o), *idle = NULL;
	cr_assert_eq(evt_attach(name, 0, &idle), 0);
	cr_assert_eq(decide(idle, 1, "warm"), 1); /* then idle for good */
	churn(t);
	evt_close(idle);
	evt_close(t);
}

/* The stopped client, once continued, decides with the timestamp it read before it
 * stopped: every churned key was processed after it, so each answer must be 0
 * (exact, or stale where the key was reclaimed); a key never seen is processed or
 * answered stale.  Exits with the number of wrong answers (at most 100). */
static int stopped_client(const char *name, int ready_fd, int go_fd)
{
	evt_throttle *t = NULL;
	if (evt_attach(name, 0, &t) != 0 || decide(t, 1, "warm") != 1)
		return 100;
	char c = 'r';
	if (write(ready_fd, &c, 1) != 1)
		return 100;
	ssize_t got;
	while ((got = read(go_fd, &c, 1)) < 0 && errno == EINTR)
		; /* a stopped and continued process may see EINTR */
	if (got != 1)
		return 100;
	int wrong = 0;
	unsigned stale = 0;
	char key[32];
	for (unsigned i = 0; i < CHURN_KEYS + 1000; i++) {
		unsigned info;
		bool seen = i < CHURN_KEYS;
		snprintf(key, sizeof key, seen ? "n%u" : "fresh%u", i);
		int rc = decide_ex(t, 1, key, &info);
		bool is_stale = info & EVT_INFO_STALE;
		stale += is_stale;
		if (seen ? rc != 0 : !(rc == 1 || (rc == 0 && is_stale)))
			wrong += wrong < 99;
	}
	evt_close(t);
	return stale == 0 ? 100 : wrong; /* the scenario must have forgotten keys */
}

Test(stale, stopped_client_does_not_hold_reclaim)
{
	evt_options o = churn_opts();
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	int ready[2], go[2];
	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(go), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(stopped_client(name, ready[1], go[0]));
	char c;
	cr_assert_eq(read(ready[0], &c, 1), 1);
	cr_assert_eq(kill(pid, SIGSTOP), 0);
	int st;
	cr_assert_eq(waitpid(pid, &st, WUNTRACED), pid);
	cr_assert(WIFSTOPPED(st));
	churn(t);
	cr_assert_eq(kill(pid, SIGCONT), 0);
	cr_assert_eq(write(go[1], "g", 1), 1);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st));
	cr_expect_eq(WEXITSTATUS(st), 0, "the continued client got %d wrong answers",
	             WEXITSTATUS(st));
	cr_expect_gt(stats(t).stale, 0);
	evt_close(t);
}

/* ---- threads sharing one handle, with delays between the clock and the call ---- */

#define SHARE_THREADS 3
#define SHARE_EVENTS 40000u
#define SHARE_KEYS 300u

struct event {
	uint64_t ts, window; /* window: read before the clock, a lower bound of the one
	                        in force when the event was decided (it only grows) */
	uint32_t key;
	int rc;
	unsigned info;
};

struct share {
	evt_throttle *t;
	struct event *ev[SHARE_THREADS];
	atomic_bool stop_raising;
	bool raise_window;
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct worker {
	struct share *sh;
	unsigned id;
};

static void *share_worker(void *arg)
{
	struct worker *w = arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (w->id + 1);
	char key[16];
	for (unsigned n = 0; n < SHARE_EVENTS; n++) {
		struct event *e = &w->sh->ev[w->id][n];
		e->key = (uint32_t)(rnd(&seed) % SHARE_KEYS);
		e->window = evt_get_window(w->sh->t);
		e->ts = evt_now_ns();
		/* Between reading the clock and deciding: a sibling may decide later
		 * timestamps meanwhile, and reclaim keys this event still needs. */
		uint64_t spin = rnd(&seed) % 8 == 0 ? rnd(&seed) % 20000 : 0;
		for (uint64_t until = e->ts + spin; evt_now_ns() < until;)
			;
		if (rnd(&seed) % 64 == 0)
			sched_yield();
		snprintf(key, sizeof key, "s%u", e->key);
		e->rc = decide_ex(w->sh->t, e->ts, key, &e->info);
	}
	return NULL;
}

static void *window_raiser(void *arg)
{
	struct share *sh = arg;
	uint64_t w = evt_get_window(sh->t);
	while (!atomic_load(&sh->stop_raising)) {
		struct timespec d = { 0, 200000 };
		nanosleep(&d, NULL);
		if (w < 200000)
			w += w / 8;
		cr_assert_eq(evt_update_window(sh->t, w), 0);
	}
	return NULL;
}

static int by_key_ts(const void *a, const void *b)
{
	const struct event *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* The per-key safety rules over every event, sorted by key and timestamp: never
 * two processed events of a key less than a window apart; a throttled event has
 * a processed event of its key at or after it, or less than wmax (the largest
 * window) before it, unless the answer said it was the policy's (stale, full).
 * Returns the number of violations. */
static unsigned check_events(struct event *all, size_t n, uint64_t wmax, unsigned *stale)
{
	qsort(all, n, sizeof *all, by_key_ts);
	unsigned bad = 0;
	*stale = 0;
	for (size_t i = 0; i < n; i++) {
		const struct event *e = &all[i];
		*stale += (e->info & EVT_INFO_STALE) != 0;
		cr_assert(e->rc == 0 || e->rc == 1, "key %u: rc %d", e->key, e->rc);
		if (e->info & (EVT_INFO_STALE | EVT_INFO_FULL))
			continue;
		/* The nearest processed events of the key before and after (by ts). */
		const struct event *prev = NULL, *next = NULL;
		for (size_t j = i; j-- > 0 && all[j].key == e->key;)
			if (all[j].rc == 1) {
				prev = &all[j];
				break;
			}
		for (size_t j = i + 1; j < n && all[j].key == e->key; j++)
			if (all[j].rc == 1) {
				next = &all[j];
				break;
			}
		bool wrong = e->rc == 1 ? prev != NULL && e->ts - prev->ts < e->window
		                        : next == NULL && (prev == NULL || e->ts - prev->ts >= wmax);
		if (wrong && bad++ < 5)
			cr_log_error("key %u %s at %llu; processed before at %lld, window >= %llu",
			             e->key, e->rc == 1 ? "processed" : "throttled",
			             (unsigned long long)e->ts, prev ? (long long)prev->ts : -1LL,
			             (unsigned long long)e->window);
	}
	return bad;
}

static void share_a_handle(bool raise_window)
{
	evt_options o = opts(64, 20000); /* 64 slots for 300 keys: reclaim all the time */
	evt_throttle *t = test_create(new_name(), &o);
	struct share sh = { .t = t, .raise_window = raise_window };
	for (unsigned i = 0; i < SHARE_THREADS; i++) {
		sh.ev[i] = calloc(SHARE_EVENTS, sizeof(struct event));
		cr_assert_not_null(sh.ev[i]);
	}
	pthread_t th[SHARE_THREADS], raiser;
	struct worker w[SHARE_THREADS];
	for (unsigned i = 0; i < SHARE_THREADS; i++) {
		w[i] = (struct worker){ &sh, i };
		cr_assert_eq(pthread_create(&th[i], NULL, share_worker, &w[i]), 0);
	}
	if (raise_window)
		cr_assert_eq(pthread_create(&raiser, NULL, window_raiser, &sh), 0);
	for (unsigned i = 0; i < SHARE_THREADS; i++)
		pthread_join(th[i], NULL);
	atomic_store(&sh.stop_raising, true);
	if (raise_window)
		pthread_join(raiser, NULL);

	size_t n = (size_t)SHARE_THREADS * SHARE_EVENTS;
	struct event *all = malloc(n * sizeof *all);
	cr_assert_not_null(all);
	for (unsigned i = 0; i < SHARE_THREADS; i++) {
		memcpy(all + (size_t)i * SHARE_EVENTS, sh.ev[i], SHARE_EVENTS * sizeof *all);
		free(sh.ev[i]);
	}
	unsigned stale;
	unsigned bad = check_events(all, n, evt_get_window(t), &stale);
	evt_stats s = stats(t);
	cr_expect_eq(bad, 0, "%u safety violations", bad);
	cr_expect_gt(s.reclaimed, 0, "the run must reclaim");
	cr_expect_eq(s.stale, stale, "every stale answer is counted");
	cr_log_info("%zu events: %llu reclaimed, %u stale, %llu full", n,
	            (unsigned long long)s.reclaimed, stale, (unsigned long long)s.full);
	free(all);
	evt_close(t);
}

Test(stale, threads_sharing_a_handle, .timeout = 120)
{
	share_a_handle(false);
}

Test(stale, threads_sharing_a_handle_window_raised, .timeout = 120)
{
	share_a_handle(true);
}

/* ---- evt_clear and a key frozen for a move while the clear scans ---- */

struct frozen_move {
	uint32_t from, to, home; /* slots, and the key's home */
	bool fired;
};
static struct frozen_move fm;

/* The paused mover resumes: the switch in the home's hop word and the free, each
 * only if the slot is still as it left it (as finish_move() does). */
static void resume_move(const struct region *r)
{
	struct region_slot *a = region_slot(r, fm.from), *h = region_slot(r, fm.home);
	uint64_t c = atomic_load(&a->ctrl);
	if (CTRL_STATE(c) != SLOT_MOVING)
		return;
	uint64_t w = atomic_load(&h->hop);
	uint32_t bits = (HOP_BITS(w) & ~(1u << ((fm.from - fm.home) & r->mask))) |
	                (1u << ((fm.to - fm.home) & r->mask));
	atomic_compare_exchange_strong(&h->hop, &w, HOP_NEXT(w, bits));
	atomic_compare_exchange_strong(&a->ctrl, &c, CTRL_NEXT(c, SLOT_EMPTY));
}

static void freeze_when_reached(const struct region *r, uint32_t slot)
{
	if (slot == fm.from && !fm.fired) {
		fm.fired = true;
		test_freeze_move(r, fm.from, fm.to, fm.home);
	}
}

Test(stale, clear_forgets_a_key_frozen_for_a_move_during_the_scan)
{
	evt_options o = opts(64, 1000);
	evt_throttle *t = test_create(new_name(), &o);
	cr_assert_eq(decide(t, 10, "mover"), 1);
	struct table_entry ent;
	uint32_t i = 0;
	while (i < 64 && !table_read_slot(&t->r, i, &ent))
		i++;
	cr_assert_lt(i, 64, "the key is in the table");
	fm = (struct frozen_move){ .from = ent.slot, .to = (ent.home + 5) & t->r.mask,
		                   .home = ent.home };
	cr_assert_eq(fm.from, fm.home, "alone in the table, the key sits in its home");
	table_clear_hook = freeze_when_reached;
	int n = evt_clear(t);
	table_clear_hook = NULL;
	cr_assert(fm.fired);
	resume_move(&t->r);
	cr_expect_eq(n, 1, "the clear removed the key");
	unsigned info;
	cr_expect_eq(decide_ex(t, 11, "mover", &info), 1, "the cleared key is new again");
	cr_expect_eq(info & EVT_INFO_NEW_KEY, EVT_INFO_NEW_KEY);
	cr_expect_eq(evt_key_count(t), 1);
	evt_close(t);
}

/* ---- steady churn on one clock: conservative answers stay rare ---- */

#define ONE_CLOCK_THREADS 2
#define ONE_CLOCK_EVENTS 200000u

struct one_clock {
	evt_throttle *t;
	unsigned id;
	uint64_t stale, decided;
};

static void *one_clock_worker(void *arg)
{
	struct one_clock *w = arg;
	uint64_t seed = 0x2545f4914f6cdd1dull * (w->id + 1);
	char key[24];
	for (unsigned n = 0; n < ONE_CLOCK_EVENTS; n++) {
		unsigned info;
		snprintf(key, sizeof key, "c%u", (unsigned)(rnd(&seed) % 5000));
		int rc = decide_ex(w->t, evt_now_ns(), key, &info);
		w->decided += rc == 0 || rc == 1;
		w->stale += (info & EVT_INFO_STALE) != 0;
	}
	return NULL;
}

/* Threads with a handle each, timestamps from evt_now_ns(), 5,000 keys through
 * 1,024 slots under a 50 us window: reclaim all the time.  A client's next
 * timestamp is never below its watermark, so the horizon never passes it. */
Test(stale, steady_churn_on_one_clock_is_exact, .timeout = 120)
{
	evt_options o = opts(1024, 50000);
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	pthread_t th[ONE_CLOCK_THREADS];
	struct one_clock w[ONE_CLOCK_THREADS];
	for (unsigned i = 0; i < ONE_CLOCK_THREADS; i++) {
		w[i] = (struct one_clock){ .id = i };
		cr_assert_eq(evt_attach(name, 0, &w[i].t), 0);
		cr_assert_eq(pthread_create(&th[i], NULL, one_clock_worker, &w[i]), 0);
	}
	uint64_t stale = 0, decided = 0;
	for (unsigned i = 0; i < ONE_CLOCK_THREADS; i++) {
		pthread_join(th[i], NULL);
		stale += w[i].stale;
		decided += w[i].decided;
		evt_close(w[i].t);
	}
	evt_stats s = stats(t);
	cr_log_info("new keys %llu, full %llu", (unsigned long long)s.new_keys, (unsigned long long)s.full);
	cr_expect_gt(s.reclaimed, 1000, "the run must reclaim");
	cr_expect_leq(stale * 10000, decided, "%llu stale answers in %llu decisions",
	              (unsigned long long)stale, (unsigned long long)decided);
	cr_log_info("%llu decisions, %llu reclaimed, %llu stale", (unsigned long long)decided,
	            (unsigned long long)s.reclaimed, (unsigned long long)stale);
	evt_close(t);
}

/* ---- on_stale = process: a forgotten event still spaces the next ---- */

/* A processes k at 1000 (window 100); filling the table forgets k; a lagging B
 * decides k at 950: stale, answered 1 by the policy.  A's event at 1055 is then a
 * window from nothing B's answer could know but the forgotten 1000: the seed's
 * rule throttles it, and so must the table (k is kept from the bound, not 950). */
Test(stale, on_stale_process_never_opens_a_window_early)
{
	evt_options o = opts(64, 100);
	o.on_stale = EVT_ON_STALE_PROCESS;
	const char *name = new_name();
	evt_throttle *a = test_create(name, &o), *b;
	cr_assert_eq(decide(a, 1000, "k"), 1);
	char key[16];
	struct table_entry e;
	bool present = true;
	for (unsigned i = 0; i < 10000 && present; i++) {
		snprintf(key, sizeof key, "f%u", i);
		/* Ten new keys a window: room for them once the window passed. */
		cr_assert_eq(decide(a, 1100 + 10 * (uint64_t)i, key), 1, "%s", key);
		present = false;
		for (uint32_t s = 0; s <= a->r.mask && !present; s++)
			present = table_read_slot(&a->r, s, &e) == 1 && e.len == 1 && e.key[0] == 'k';
	}
	cr_assert(!present, "k was never reclaimed");
	/* Room for k (a clear forgets on purpose: the bound of k's reclaim stays). */
	cr_assert_geq(evt_clear(a), 1);
	cr_assert_eq(evt_attach(name, 0, &b), 0);
	unsigned info;
	cr_expect_eq(decide_ex(b, 950, "k", &info), 1, "the policy answers 1");
	cr_expect(info & EVT_INFO_STALE, "and says so");
	cr_expect_eq(decide_ex(a, 1055, "k", &info), 0,
	             "processed 55 ns after the forgotten 1000 under a 100 ns window");
	evt_close(b);
	evt_close(a);
}
