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

#include "counter.h"
#include "table.h"

/* A published key as read from its slot. */
struct found {
	struct region_slot *s; /* region_slot(r, slot): spares the decision the arithmetic */
	uint32_t slot;
	uint64_t ctrl, last;
	uint64_t window; /* the window while the key held last: find_once() sets it;
	                    0 from slot_published(), whose results are never decided on */
	uint32_t policy; /* the policy word (limit, shadow) read with the window, as it */
};

/* CLAIMED (01) and MOVING (11) differ in state bit 1 alone, so one compare of ctrl
 * with that bit masked off finds a key that is published or frozen for a move:
 * the decision's look (holds() in table.c) relies on it.  The look of the common
 * case compares the whole state and the count too (CTRL_FAST_MASK): it finds only
 * CLAIMED keys whose count is 0, whose processed answer (ctrl unchanged, last = ts)
 * is then right for every limit, and leaves a key frozen for a move to the slow
 * path's look, which finishes the move; every other look masks the count and
 * state bit 1 off (CTRL_KEY_MASK). */
_Static_assert((SLOT_CLAIMED | 2u) == SLOT_MOVING, "CLAIMED and MOVING differ in bit 1 alone");
#define CTRL_KEY_MASK 0x000du  /* state bit 0 and the tag */
#define CTRL_FAST_MASK 0xffffu /* the state, the tag and the count */

/* Is ctrl c a CLAIMED or MOVING slot of this tag (under CTRL_FAST_MASK: CLAIMED,
 * of count 0)? */
static inline bool ctrl_holds_tag(uint64_t c, unsigned tag, uint64_t mask)
{
	return (c & mask) == CTRL_MAKE(SLOT_CLAIMED, tag, 0, 0);
}

/* ts is a full window past last (never true for ts before last). */
static inline bool window_closed(uint64_t last, uint64_t ts, uint64_t window)
{
	return ts >= last && ts - last >= window;
}


/* The 16-byte {ctrl, last} compare-and-swap: lock cmpxchg16b, a full barrier. */
static inline bool cas_pair(struct region_slot *s, uint64_t ctrl, uint64_t last,
                            uint64_t new_ctrl, uint64_t new_last)
{
	return region_cas16(s, ctrl, last, new_ctrl, new_last);
}

/* Is slot i a published key?  Fills *f from one consistent read if so. */
bool slot_published(const struct region *r, uint32_t i, struct found *f);

/* Take the EMPTY slot s (ctrl c) for client owner: CLAIMED, unpublished, with
 * keyf (CTRL_KEYF: a new key's tag, count 0, or a moved key's tag and count), its
 * new ctrl in *out.  False if someone else took it. */
bool slot_take(struct region_slot *s, uint64_t c, unsigned keyf, uint32_t owner, uint64_t *out);

/* Give back a claimed slot nobody saw (it was never published). */
void slot_unclaim(struct region_slot *s, uint64_t c);

/* Remove the published key *f if it is unchanged: 1 if this call removed it. */
bool slot_remove(const struct region *r, const struct found *f);

/* Finishing a DYING slot (unpublish, free) or a MOVING one (switch its bit to the
 * destination's, free), inline: a decision that meets a moving key finishes the
 * move on its own path. */
/*
 * The one finishing step of removals and moves: in the hop word of slot i's home,
 * clear i's bit and, for a move, set the destination's (`to`, or NO_DEST), in one
 * CAS; then free i.  Only for the life ctrl c of slot i: each step is a CAS that
 * fails harmlessly if someone did it already.
 */
#define NO_DEST UINT32_MAX /* a removal: no bit to set */
static inline void switch_and_free(const struct region *r, uint32_t i, uint64_t c, uint32_t to)
{
	struct region_slot *s = region_slot(r, i);
	uint32_t home = atomic_load_explicit(&s->home, memory_order_relaxed) & r->mask;
	uint32_t from = (i - home) & r->mask;
	struct region_slot *hs = region_slot(r, home);
	for (;;) {
		uint64_t w = atomic_load_explicit(&hs->hop, memory_order_acquire);
		/* Read hop before re-checking ctrl: if the CAS below succeeds the hop
		 * word did not change since, so the bit is still this slot's life. */
		if (atomic_load_explicit(&s->ctrl, memory_order_acquire) != c)
			return;
		if (from >= REGION_NBHD || (to != NO_DEST && to >= REGION_NBHD) ||
		    !(HOP_BITS(w) & (1u << from)))
			break;
		uint32_t bits = HOP_BITS(w) & ~(1u << from);
		if (to != NO_DEST)
			bits |= 1u << to;
		/* Release pairs with the acquire loads of hop in find(): for a move,
		 * the destination's key and last, written before the freeze, come
		 * with its bit. */
		if (atomic_compare_exchange_weak_explicit(&hs->hop, &w, HOP_NEXT(w, bits), memory_order_release,
		                                          memory_order_relaxed))
			break;
	}
	/* Release pairs with the acquire claim in slot_take(). */
	atomic_compare_exchange_strong_explicit(&s->ctrl, &c, CTRL_NEXT(c, SLOT_EMPTY), memory_order_release,
	                                        memory_order_relaxed);
}

/* Finish a DYING slot i (ctrl c).  Anyone may call it. */
static inline void slot_finish_remove(const struct region *r, uint32_t i, uint64_t c)
{
	switch_and_free(r, i, c, NO_DEST);
}

/* Finish the move of the key frozen in slot a (MOVING, ctrl c).  Anyone may call it. */
static inline void slot_finish_move(const struct region *r, uint32_t a, uint64_t c)
{
	switch_and_free(r, a, c, CTRL_OWNER(c));
}

/* Finish slot i if it is DYING or MOVING (ctrl c); true if it was either. */
static inline bool slot_finish(const struct region *r, uint32_t i, uint64_t c)
{
	if (CTRL_STATE(c) == SLOT_DYING)
		slot_finish_remove(r, i, c);
	else if (CTRL_STATE(c) == SLOT_MOVING)
		slot_finish_move(r, i, c);
	else
		return false;
	return true;
}

/* Move the published key in slot a to the EMPTY slot e of its neighbourhood.  True
 * if a is free now. */
bool slot_move(const struct region *r, const struct table_client *me, uint32_t a, uint32_t e);

/* Reclaim the key in slot i if its window closed at the horizon, raising its
 * home's forget bound first.  True if this call removed it. */
bool slot_reclaim(const struct region *r, const struct table_client *me, uint32_t i,
                  uint64_t horizon);

#endif /* EVT_SLOT_H */
