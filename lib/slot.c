/* The slot protocol (slot.h): each step a CAS on a slot's ctrl, its {ctrl, last}
 * pair or its home's hop word. */
#include "slot.h"

#define relaxed memory_order_relaxed
#define acquire memory_order_acquire
#define release memory_order_release

bool slot_published(const struct region *r, uint32_t i, struct found *f)
{
	struct region_slot *s = region_slot(r, i);
	/* Acquire: pairs with the release that freed the slot's previous life, so
	 * that life's hop bit is seen cleared below. */
	uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
	if (CTRL_STATE(c) != SLOT_CLAIMED)
		return false;
	uint32_t home = atomic_load_explicit(&s->home, relaxed) & r->mask;
	uint32_t bit = (i - home) & r->mask;
	if (bit >= REGION_NBHD)
		return false;
	/* Pairs with the release CAS in insert(). */
	uint64_t w = atomic_load_explicit(&region_slot(r, home)->hop, acquire);
	uint64_t last = atomic_load_explicit(&s->last, relaxed);
	atomic_thread_fence(acquire);
	if (atomic_load_explicit(&s->ctrl, relaxed) != c || !(HOP_BITS(w) & (1u << bit)))
		return false;
	*f = (struct found){ s, i, c, last, 0, 0 };
	return true;
}

/* Its DYING CAS is the moment the key stops existing; false if the key changed
 * (decided on, or removed) since *f was read. */
bool slot_remove(const struct region *r, const struct found *f)
{
	uint64_t dying = CTRL_NEXT(f->ctrl, SLOT_DYING);
	if (!cas_pair(f->s, f->ctrl, f->last, dying, f->last))
		return false;
	slot_finish_remove(r, f->slot, dying);
	return true;
}

bool slot_take(struct region_slot *s, uint64_t c, unsigned keyf, uint32_t owner, uint64_t *out)
{
	uint64_t n = CTRL_MAKE(SLOT_CLAIMED, keyf, owner, CTRL_GEN(c) + 1u);
	/* Acquire pairs with the release that freed the slot (slot_finish_remove(),
	 * slot_unclaim()): the previous life's writes happen before ours. */
	if (!atomic_compare_exchange_strong_explicit(&s->ctrl, &c, n, acquire, relaxed))
		return false;
	*out = n;
	return true;
}

void slot_unclaim(struct region_slot *s, uint64_t c)
{
	/* Release pairs with the acquire in slot_take(). */
	atomic_store_explicit(&s->ctrl, CTRL_NEXT(c, SLOT_EMPTY), release);
}

/*
 * Move the published key in slot a to the EMPTY slot e, which must be in the key's
 * neighbourhood.  The copy is made in e first (unpublished); freezing a (CAS16 to
 * MOVING, which fails if the key was decided on or removed meanwhile) commits the
 * move, and slot_finish_move() completes it.  True if a is free now.
 */
bool slot_move(const struct region *r, const struct table_client *me, uint32_t a, uint32_t e)
{
	struct found f;
	if (!slot_published(r, a, &f))
		return false;
	struct region_slot *sa = region_slot(r, a), *se = region_slot(r, e);
	uint32_t home = atomic_load_explicit(&sa->home, relaxed) & r->mask;
	uint32_t to = (e - home) & r->mask, len = atomic_load_explicit(&sa->key_len, relaxed);
	uint64_t c = atomic_load_explicit(&se->ctrl, acquire), ce;
	if (to >= REGION_NBHD || len == 0 || len > r->key_max || CTRL_STATE(c) != SLOT_EMPTY ||
	    !slot_take(se, c, CTRL_KEYF(f.ctrl), me->index, &ce))
		return false;
	atomic_store_explicit(&se->key_len, len, relaxed);
	for (uint32_t w = 0; w < (len + 7) / 8; w++)
		atomic_store_explicit(&se->key[w], atomic_load_explicit(&sa->key[w], relaxed), relaxed);
	atomic_store_explicit(&se->home, home, relaxed);
	atomic_store_explicit(&se->last, f.last, relaxed);
	/* The copy is of this life of a only if its ctrl did not move meanwhile; the
	 * freeze (a full barrier) then checks last too and publishes the copy to
	 * whoever sees MOVING. */
	atomic_thread_fence(acquire);
	uint64_t moving = CTRL_MAKE(SLOT_MOVING, CTRL_KEYF(f.ctrl), to, CTRL_GEN(f.ctrl) + 1u);
	if (atomic_load_explicit(&sa->ctrl, relaxed) != f.ctrl ||
	    !cas_pair(sa, f.ctrl, f.last, moving, f.last)) {
		slot_unclaim(se, ce); /* nobody saw the copy */
		return false;
	}
	slot_finish_move(r, a, moving);
	return true;
}

/*
 * Reclaim the key in slot i if its window closed at the horizon.  Forgetting a key
 * first raises the forget bound of its home past its last (a later insert of that
 * key at ts is exact only if ts is a window past the bound: insert_is_exact()), so
 * reclaim can never make an answer silently wrong, whichever window or horizon it
 * used.  The bound's store is ordered before the key's removal by the CAS16 in
 * slot_remove() (a full barrier), and so before the unpublish that an insert's
 * acquire load of the hop word sees.
 */
bool slot_reclaim(const struct region *r, const struct table_client *me, uint32_t i,
                  uint64_t horizon)
{
	struct found f;
	/* Pairs with the release store in evt_update_window(): the newest window. */
	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, acquire);
	if (!slot_published(r, i, &f) || !window_closed(f.last, horizon, window))
		return false;
	/* last + 1 cannot wrap: a window closed at the horizon means last < horizon. */
	region_raise(region_bound(r, atomic_load_explicit(&f.s->home, relaxed)), f.last + 1);
	if (!slot_remove(r, &f))
		return false;
	ctr_add(me, CTR_RECLAIMED);
	return true;
}
