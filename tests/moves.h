/* Tests' stand-in for a mover stopped after its freeze: what move_key() does up
 * to the freeze (copy the key into the free slot `to`, claimed and unpublished,
 * then freeze `from` as MOVING), leaving the move for someone else to finish, as
 * a mover killed or paused there leaves it (docs/design.md §2). */
#ifndef EVT_TESTS_MOVES_H
#define EVT_TESTS_MOVES_H

#include <criterion/criterion.h>
#include <stdatomic.h>

#include "handle.h"

static inline void test_freeze_move(const struct region *r, uint32_t from, uint32_t to,
                                    uint32_t home)
{
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

#endif
