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
