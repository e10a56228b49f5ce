/* Hopscotch displacement: a table filled far past the point where some key's
 * neighbourhood is full keeps every key, once, under threads and under kills. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "common.h"
#include "handle.h"
#include "keycount.h"
#include "killed_check.h"
#include "slot.h"

#define FOREVER UINT64_MAX /* a window that never closes: nothing is reclaimed */

static evt_options full_options(uint32_t capacity)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = capacity;
	o.window_ns = FOREVER;
	o.on_full = EVT_ON_FULL_ERROR;
	return o;
}

static int key_of(char *buf, unsigned i)
{
	return snprintf(buf, 32, "key-%u", i);
}

static int decide_i(evt_throttle *t, uint64_t ts, unsigned i)
{
	char k[32];
	return evt_should_process(t, ts, NULL, k, (size_t)key_of(k, i));
}

static void report(void *ctx, const struct check_violation *v)
{
	(void)ctx;
	fprintf(stderr, "%s\n", v->text);
}

static void expect_consistent(evt_throttle *t, size_t keys)
{
	cr_expect_eq(table_check(&t->r, report, NULL), 0, "table_check found violations");
	cr_expect_eq(evt_key_count(t), keys);
}

/* Fill to 85%: without moving keys the first full neighbourhood comes at 50-70%
 * (it comes at 90-98% with them, depending on the region's hash seed). */
Test(displace, fills_far_past_the_first_full_neighbourhood)
{
	evt_options o = full_options(1024);
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	unsigned n = 870;
	for (unsigned i = 0; i < n; i++)
		cr_assert_eq(decide_i(t, 1, i), 1, "key %u of %u", i, n);
	for (unsigned i = 0; i < n; i++)
		cr_expect_eq(decide_i(t, 2, i), 0, "key %u lost", i);
	expect_consistent(t, n);
	for (uint32_t i = 0; i <= t->r.mask; i++) {
		struct table_entry e;
		if (table_read_slot(&t->r, i, &e))
			cr_expect_lt((i - e.home) & t->r.mask, REGION_NBHD);
	}
	evt_close(t);
}

struct filler {
	evt_throttle *t;
	unsigned first, count, shared, seen_new;
	_Atomic unsigned *winners; /* per shared key: how many got 1 */
	bool lost;
};

/* Inserts its own keys while everybody also races on the shared ones and re-checks
 * keys already in: an existing key answering 1 would be a key lost or duplicated. */
static void *fill(void *arg)
{
	struct filler *f = arg;
	unsigned seed = f->first;
	for (unsigned i = 0; i < f->count; i++) {
		if (decide_i(f->t, 1, f->first + i) != 1)
			f->lost = true;
		unsigned s = (unsigned)rand_r(&seed) % f->shared;
		if (decide_i(f->t, 1, 1000000 + s) == 1)
			atomic_fetch_add(&f->winners[s], 1);
		if (i > 0 && decide_i(f->t, 2, f->first + (unsigned)rand_r(&seed) % i) != 0)
			f->lost = true;
	}
	return NULL;
}

/* THREADS threads fill one table of `capacity` slots with `per_thread` keys each
 * plus some of SHARED keys they all race on, and re-check their own keys as they go. */
static void fill_together(uint32_t capacity, unsigned per_thread)
{
	enum { THREADS = 4, SHARED = 256 };
	evt_options o = full_options(capacity);
	char name[64];
	evt_throttle *owner = test_create(test_name(name, sizeof name), &o);
	static _Atomic unsigned winners[SHARED];
	struct filler f[THREADS];
	pthread_t th[THREADS];
	for (int s = 0; s < SHARED; s++)
		atomic_store(&winners[s], 0);
	for (int i = 0; i < THREADS; i++) {
		f[i] = (struct filler){ .first = (unsigned)i * 100000, .count = per_thread,
			                .shared = SHARED, .winners = winners };
		cr_assert_eq(evt_attach(name, 0, &f[i].t), 0);
		pthread_create(&th[i], NULL, fill, &f[i]);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		cr_expect_not(f[i].lost, "thread %d saw a key lost, inserted twice or refused", i);
	}
	unsigned shared_in = 0;
	for (int s = 0; s < SHARED; s++) {
		cr_expect_leq(winners[s], 1, "shared key %d processed %u times", s, winners[s]);
		shared_in += winners[s];
	}
	expect_consistent(owner, (size_t)THREADS * per_thread + shared_in);
	for (int i = 0; i < THREADS; i++)
		evt_close(f[i].t);
	evt_close(owner);
	evt_unlink(name);
}

/* ~81% full: moves happened. */
Test(displace, threads_filling_and_deciding_keep_each_key_once)
{
	fill_together(8192, 1600);
}

/* A small table filled to ~80% by four threads at once, a hundred times: inserts
 * racing for the few free slots near each other's homes.  An insert whose free
 * slot another insert took used to give up and answer "full" (-ENOSPC) at once,
 * in about one round in 400. */
Test(displace, threads_racing_for_the_last_slots)
{
	for (int round = 0; round < 100; round++)
		fill_together(1024, 140);
}

/* Children insert into a nearly full table and are killed at random moments, some
 * in the middle of moving a key.  Afterwards every key a child was told was new is
 * still there, and the region checks clean once the dead are reaped, key count
 * included: the reaper recounts what a child killed between a publish and its
 * count left uncounted. */
Test(displace, killed_movers_leave_every_key)
{
	enum { CHILDREN = 24, PER_CHILD = 400 };
	evt_options o = full_options(4096);
	char name[64];
	evt_throttle *t = test_create(test_name(name, sizeof name), &o);
	for (unsigned i = 0; i < 2600; i++) /* 63%: most inserts now have to move keys */
		cr_assert_eq(decide_i(t, 1, i), 1);
	enum { SHARED = CHILDREN * PER_CHILD + CHILDREN };
	_Atomic unsigned char *done = mmap(NULL, SHARED, PROT_READ | PROT_WRITE,
	                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(done, MAP_FAILED);
	_Atomic unsigned char *started = done + CHILDREN * PER_CHILD;
	srand((unsigned)getpid());
	for (int c = 0; c < CHILDREN; c++) {
		pid_t pid = fork();
		cr_assert_geq(pid, 0);
		if (pid == 0) {
			evt_throttle *u;
			if (evt_attach(name, 0, &u) < 0)
				_exit(1);
			atomic_store(&started[c], 1);
			for (unsigned i = 0; i < PER_CHILD; i++)
				if (decide_i(u, 1, 10000 + (unsigned)c * PER_CHILD + i) == 1)
					atomic_store(&done[c * PER_CHILD + i], 1);
			_exit(0);
		}
		/* The kill comes while the child inserts, however long it took to start
		 * (under ThreadSanitizer, often longer than the delay below). */
		pid_t gone = 0;
		while (!atomic_load(&started[c]) && (gone = waitpid(pid, NULL, WNOHANG)) == 0)
			usleep(10);
		if (gone == pid)
			continue;
		usleep((useconds_t)(rand() % 400));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	evt_throttle *u; /* attaching reaps the dead: their half-made moves finish */
	cr_assert_eq(evt_attach(name, 0, &u), 0);
	unsigned in = 0;
	for (unsigned i = 0; i < CHILDREN * PER_CHILD; i++) {
		if (!atomic_load(&done[i]))
			continue;
		in++;
		cr_expect_eq(decide_i(u, 2, 10000 + i), 0, "key %u was processed, then lost", 10000 + i);
	}
	for (unsigned i = 0; i < 2600; i++)
		cr_expect_eq(decide_i(u, 2, i), 0, "key %u lost", i);
	struct killed_check k = killed_table_check(&u->r);
	cr_expect_eq(k.other, 0, "table_check found violations");
	cr_expect_eq(k.drift, 0, "%lld published keys not counted after the reaping", k.drift);
	cr_expect_eq((int64_t)evt_key_count(u), (int64_t)keycount_published(&u->r));
	cr_expect_gt(in, 0, "no child got anything in: the test did not test");
	munmap((void *)done, SHARED);
	evt_close(u);
	evt_close(t);
	evt_unlink(name);
}

/* Keys moved while other threads decide on them: no decision is lost in a move.
 * An idle client pinned at ts 0 stops all reclaim, so every new key has to move
 * others, while two threads decide on all the old keys (each comes round about
 * once a window); their answers are checked like SPEC §5.2 asks. */
enum { HOT = 2900, HOT_OPS = 100000, WIN = 3000 };
struct hot_rec {
	uint64_t ts;
	int key, got;
};
struct hot_arg {
	evt_throttle *t;
	_Atomic uint64_t *clock;
	struct hot_rec *rec;
	unsigned first_new, news;
};

static void *hot_worker(void *arg)
{
	struct hot_arg *a = arg;
	for (unsigned i = 0; i < HOT_OPS; i++) {
		int k = (int)((i * 7919u + a->first_new) % HOT);
		uint64_t ts = atomic_fetch_add(a->clock, 1);
		a->rec[i] = (struct hot_rec){ ts, k, decide_i(a->t, ts, (unsigned)k) };
	}
	return NULL;
}

static void *new_keys(void *arg)
{
	struct hot_arg *a = arg;
	for (unsigned i = 0; i < a->news; i++)
		decide_i(a->t, atomic_fetch_add(a->clock, 1), a->first_new + i);
	return NULL;
}

static int by_key_ts(const void *x, const void *y)
{
	const struct hot_rec *a = x, *b = y;
	if (a->key != b->key)
		return a->key - b->key;
	return a->ts < b->ts ? -1 : a->ts > b->ts;
}

Test(displace, decisions_survive_moves)
{
	evt_options o = full_options(4096);
	o.window_ns = WIN;
	char name[64];
	evt_throttle *t = test_create(test_name(name, sizeof name), &o), *pin;
	cr_assert_eq(evt_attach(name, 0, &pin), 0);
	cr_assert_eq(decide(pin, 0, "pin"), 1); /* horizon stays 0: nothing is reclaimed */
	static _Atomic uint64_t clock = 1000;
	for (unsigned i = 0; i < HOT; i++)
		cr_assert_eq(decide_i(t, 1, i), 1);
	static struct hot_rec rec[2][HOT_OPS];
	struct hot_arg a[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) { /* the new keys take it to about 90% */
		a[i] = (struct hot_arg){ .clock = &clock, .rec = rec[i % 2],
			                 .first_new = 100000 + (unsigned)i * 10000, .news = 260 };
		cr_assert_eq(evt_attach(name, 0, &a[i].t), 0);
		pthread_create(&th[i], NULL, i < 2 ? hot_worker : new_keys, &a[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	struct hot_rec *all = rec[0];
	qsort(all, 2 * HOT_OPS, sizeof *all, by_key_ts);
	for (size_t i = 0; i < 2 * HOT_OPS; i++) {
		/* (a) processed events of one key are a window apart */
		size_t j = i;
		while (j > 0 && all[j - 1].key == all[i].key && all[i].ts - all[j - 1].ts < WIN) {
			j--;
			if (all[i].got == 1)
				cr_assert(all[j].got != 1, "key %d processed at %llu and %llu", all[i].key,
				          (unsigned long long)all[j].ts, (unsigned long long)all[i].ts);
		}
		/* (b) a throttled one has a processed one of its key less than a window before
		 * it or after it (a later-timestamped call that won the race) */
		if (all[i].got == 0) {
			bool ok = false;
			for (size_t m = i; m-- > 0 && all[m].key == all[i].key && all[i].ts - all[m].ts < WIN;)
				ok |= all[m].got == 1;
			for (size_t m = i + 1; m < 2 * HOT_OPS && all[m].key == all[i].key && !ok; m++)
				ok |= all[m].got == 1;
			cr_assert(ok, "key %d throttled at %llu unjustified", all[i].key,
			          (unsigned long long)all[i].ts);
		}
	}
	cr_expect_eq(table_check(&t->r, report, NULL), 0);
	for (int i = 0; i < 4; i++)
		evt_close(a[i].t);
	evt_close(pin);
	evt_close(t);
	evt_unlink(name);
}

/* A key "<p><n>" whose home slot is exactly want. */
static size_t key_with_home(const evt_throttle *t, uint32_t want, char p, char *buf)
{
	for (unsigned long n = 0;; n++) {
		int len = snprintf(buf, 32, "%c%lu", p, n);
		if (table_home(&t->r, table_hash(&t->r, buf, (uint32_t)len)) == want)
			return (size_t)len;
	}
}

static void *clear_all(void *t)
{
	evt_clear(t);
	return NULL;
}

/* evt_clear() scans forward; moves go forward too, except across the end of the
 * table.  A key moved from the last slots to the first ones while the clear is
 * past them must still be forgotten. */
Test(displace, clear_forgets_a_key_moved_across_the_end)
{
	evt_options o = full_options(1u << 20); /* a long scan: the race is wide */
	char name[64], key[32], x[32], y[32], marker[32];
	evt_throttle *t = test_create(test_name(name, sizeof name), &o);
	uint32_t mask = t->r.mask;
	for (uint32_t s = mask - 31; s <= mask; s++) { /* the last 32 slots, each at home */
		size_t len = key_with_home(t, s, 'f', key);
		if (s == mask - 30)
			memcpy(x, key, len + 1);
		cr_assert_eq(evt_should_process(t, 1000, NULL, key, len), 1);
	}
	size_t ylen = key_with_home(t, mask - 31, 'y', y);
	size_t mlen = key_with_home(t, 1000, 'm', marker);
	cr_assert_eq(evt_should_process(t, 1000, NULL, marker, mlen), 1);
	pthread_t th;
	pthread_create(&th, NULL, clear_all, t);
	struct table_entry e;
	while (table_read_slot(&t->r, 1000, &e) == 1) /* the clear has passed slot 1000 */
		;
	/* Y's neighbourhood is full: inserting it moves X from mask-30 to slot 0. */
	evt_should_process(t, 2000, NULL, y, ylen);
	pthread_join(th, NULL);
	cr_expect_eq(evt_should_process(t, 1001, NULL, x, strlen(x)), 1, "the clear missed %s", x);
	evt_close(t);
	evt_unlink(name);
}

/* A moved key takes its window's count along: the move's copy carries the ctrl
 * word's tag and count (CTRL_KEYF), and the freeze fails if the count changed
 * after the copy.  Limit 3: two events counted, the key moved one slot on, then one
 * more event processed and the next throttled, as if it had not moved. */
Test(displace, a_moved_key_keeps_its_count)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.window_ns = 1000;
	o.limit = 3;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	cr_assert_eq(evt_should_process(t, 10, NULL, "k", 1), 1);
	cr_assert_eq(evt_should_process(t, 11, NULL, "k", 1), 1);
	uint32_t home = table_home(&t->r, table_hash(&t->r, "k", 1));
	cr_assert(slot_move(&t->r, &t->me, home, (home + 1) & t->r.mask), "the key did not move");
	struct table_entry e;
	cr_assert_eq(table_read_slot(&t->r, (home + 1) & t->r.mask, &e), 1, "not at its new slot");
	cr_assert_eq(CTRL_COUNT(atomic_load(&region_slot(&t->r, e.slot)->ctrl)), 1);
	cr_expect_eq(evt_should_process(t, 12, NULL, "k", 1), 1, "the third event of the window");
	cr_expect_eq(evt_should_process(t, 13, NULL, "k", 1), 0, "the fourth, past the limit");
	cr_expect_eq(evt_key_count(t), 1);
	evt_close(t);
}
