/* Reproducers from the review of issue 21 (branch r21): each test states the
 * behaviour the issue asks for; a failing one is a finding of the review. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "common.h"
#include "handle.h"

TestSuite(review21, .fini = unlink_names);

static evt_options opts(uint32_t capacity, uint64_t window, uint32_t limit)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = capacity;
	o.window_ns = window;
	o.limit = limit;
	o.mode = 0600;
	return o;
}

/* A mover that froze key's slot (MOVING, its copy claimed at home + 5) and
 * stopped there, as one killed after its freeze leaves it (design §4). */
static void freeze_move(const struct region *r, uint32_t from, uint32_t home)
{
	uint32_t to = (home + 5) & r->mask;
	struct region_slot *a = region_slot(r, from), *e = region_slot(r, to);
	uint64_t ca = atomic_load(&a->ctrl), last = atomic_load(&a->last);
	uint64_t ce = atomic_load(&e->ctrl);
	cr_assert_eq(CTRL_STATE(ce), SLOT_EMPTY);
	uint64_t claimed = CTRL_MAKE(SLOT_CLAIMED, CTRL_KEYF(ca), 0, CTRL_GEN(ce) + 1);
	cr_assert(atomic_compare_exchange_strong(&e->ctrl, &ce, claimed));
	uint32_t len = atomic_load(&a->key_len);
	atomic_store(&e->key_len, len);
	for (uint32_t w = 0; w < (len + 7) / 8; w++)
		atomic_store(&e->key[w], atomic_load(&a->key[w]));
	atomic_store(&e->home, home);
	atomic_store(&e->last, last);
	uint64_t moving = CTRL_MAKE(SLOT_MOVING, CTRL_KEYF(ca), (to - home) & r->mask,
	                            CTRL_GEN(ca) + 1);
	typedef unsigned __int128 u128;
	u128 old = (u128)last << 64 | ca, new = (u128)last << 64 | moving;
	cr_assert(__sync_bool_compare_and_swap((u128 *)(void *)a, old, new));
}

/* evt_peek() is documented for read-only handles ("which may peek too") and as
 * changing nothing.  A key frozen for a move is met by the peek's find(), which
 * finishes the move: a CAS on a PROT_READ mapping (SIGSEGV), and a change to
 * the table on a read-write handle. */
Test(review21, peek_on_a_read_only_handle_meets_a_moving_key)
{
	evt_options o = opts(64, 1000, 1);
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	cr_assert_eq(decide(t, 10, "mover"), 1);
	struct table_entry ent;
	uint32_t i = 0;
	while (i < 64 && !table_read_slot(&t->r, i, &ent))
		i++;
	cr_assert_lt(i, 64);
	freeze_move(&t->r, ent.slot, ent.home);
	evt_throttle *ro = NULL;
	cr_assert_eq(evt_attach(name, EVT_RDONLY, &ro), 0);
	evt_unlink(name); /* the crash below skips .fini */
	cr_expect_eq(evt_peek(ro, 11, "mover", 5), 0, "inside the window");
	cr_expect_eq(CTRL_STATE(atomic_load(&region_slot(&t->r, ent.slot)->ctrl)), SLOT_MOVING,
	             "a peek changed nothing");
	evt_close(ro);
	evt_close(t);
}

/* The same on a read-write handle: "it changes nothing in the throttle". */
Test(review21, peek_on_a_read_write_handle_changes_nothing)
{
	evt_options o = opts(64, 1000, 1);
	evt_throttle *t = test_create(new_name(), &o);
	cr_assert_eq(decide(t, 10, "mover"), 1);
	struct table_entry ent;
	uint32_t i = 0;
	while (i < 64 && !table_read_slot(&t->r, i, &ent))
		i++;
	cr_assert_lt(i, 64);
	freeze_move(&t->r, ent.slot, ent.home);
	uint64_t hop = atomic_load(&region_slot(&t->r, ent.home)->hop);
	cr_expect_eq(evt_peek(t, 11, "mover", 5), 0, "inside the window");
	cr_expect_eq(atomic_load(&region_slot(&t->r, ent.home)->hop), hop,
	             "a peek changed the home's hop word");
	evt_close(t);
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

Test(review21, two_handles_one_key_exactly_limit_processed, .timeout = 120)
{
	for (uint32_t limit = 3; limit <= 1000; limit += 997) {
		evt_options o = opts(8192, 1000000, limit);
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
