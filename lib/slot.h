/*
 * The slot protocol of the table: how a slot's ctrl word and its home's hop word
 * change, in steps any process may finish.  table.c (find, insert, decide) and
 * scan.c (whole-table passes) build on it; docs/design.md §2 draws the life of a
 * slot.
 *
 * Slot life: EMPTY -take-> CLAIMED (unpublished) -publish-> CLAIMED (published)
 *            -remove-> DYING -unpublish, free-> EMPTY.   An unpublished claim can
 * also go straight back to EMPTY (unclaim: lost an insert race, or stale).  A key
 * moved nearer its home goes CLAIMED -freeze-> MOVING -switch bits, free-> EMPTY.
 * Any process may finish a DYING or MOVING slot, so a client that dies in the
 * middle leaves nobody waiting.
 */
#ifndef EVT_SLOT_H
#define EVT_SLOT_H

#include "table.h"

/* A published key as read from its slot. */
struct found {
	struct region_slot *s; /* region_slot(r, slot): spares the decision the arithmetic */
	uint32_t slot;
	uint64_t ctrl, last;
	uint64_t window; /* the window while the key held last: find_once() sets it;
	                    0 from slot_published(), whose results are never decided on */
};

/* CLAIMED (01) and MOVING (11) differ in state bit 1 alone, so one compare of ctrl
 * with that bit masked off finds a key that is published or frozen for a move:
 * the decision's look (holds() in table.c) relies on it. */
_Static_assert((SLOT_CLAIMED | 2u) == SLOT_MOVING, "CLAIMED and MOVING differ in bit 1 alone");
#define CTRL_KEY_MASK 0xfffdu /* state bit 0 and the tag */

/* Is ctrl c a CLAIMED or MOVING slot of this tag? */
static inline bool ctrl_holds_tag(uint64_t c, unsigned tag)
{
	return (c & CTRL_KEY_MASK) == CTRL_MAKE(SLOT_CLAIMED, tag, 0, 0);
}

static inline bool ctrl_is(uint64_t c, unsigned state)
{
	return CTRL_STATE(c) == state;
}

/* ts is a full window past last (never true for ts before last). */
static inline bool window_closed(uint64_t last, uint64_t ts, uint64_t window)
{
	return ts >= last && ts - last >= window;
}

static inline void ctr_add(const struct table_client *me, int which)
{
	atomic_fetch_add_explicit(&me->entry->ctr[which], 1, memory_order_relaxed);
}

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if (defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)) && defined(__x86_64__)
/* ThreadSanitizer runs 16-byte atomics under a lock of its own process, which is
 * not atomic against other processes sharing the region: use the instruction. */
static inline bool cas_pair(struct region_slot *s, uint64_t ctrl, uint64_t last,
                            uint64_t new_ctrl, uint64_t new_last)
{
	bool ok;
	__asm__ __volatile__("lock cmpxchg16b %1"
	                     : "=@ccz"(ok), "+m"(*(volatile unsigned __int128 *)(void *)s),
	                       "+a"(ctrl), "+d"(last)
	                     : "b"(new_ctrl), "c"(new_last)
	                     : "memory");
	return ok;
}
#else
/* The 16-byte {ctrl, last} compare-and-swap: lock cmpxchg16b, a full barrier. */
static inline bool cas_pair(struct region_slot *s, uint64_t ctrl, uint64_t last,
                            uint64_t new_ctrl, uint64_t new_last)
{
	typedef unsigned __int128 u128;
	u128 old = (u128)last << 64 | ctrl, new = (u128)new_last << 64 | new_ctrl;
	return __sync_bool_compare_and_swap((u128 *)(void *)s, old, new);
}
#endif

/* Is slot i a published key?  Fills *f from one consistent read if so. */
bool slot_published(const struct region *r, uint32_t i, struct found *f);

/* Take the EMPTY slot s (ctrl c) for an insert by client owner: CLAIMED,
 * unpublished, its new ctrl in *out.  False if someone else took it. */
bool slot_take(struct region_slot *s, uint64_t c, unsigned tag, uint32_t owner, uint64_t *out);

/* Give back a claimed slot nobody saw (it was never published). */
void slot_unclaim(struct region_slot *s, uint64_t c);

/* Remove the published key *f if it is unchanged: 1 if this call removed it. */
bool slot_remove(const struct region *r, const struct found *f);

/* Finish a DYING slot i (ctrl c): unpublish it, then free it.  Anyone may call it. */
void slot_finish_remove(const struct region *r, uint32_t i, uint64_t c);

/* Finish the move of the key frozen in slot a (MOVING, ctrl c): switch its bit in
 * the home's hop word to the destination's, then free a.  Anyone may call it. */
void slot_finish_move(const struct region *r, uint32_t a, uint64_t c);

/* Move the published key in slot a to the EMPTY slot e of its neighbourhood.  True
 * if a is free now. */
bool slot_move(const struct region *r, const struct table_client *me, uint32_t a, uint32_t e);

/* Reclaim the key in slot i if its window closed at the horizon, raising its
 * home's forget bound first.  True if this call removed it. */
bool slot_reclaim(const struct region *r, const struct table_client *me, uint32_t i,
                  uint64_t horizon);

#endif /* EVT_SLOT_H */
