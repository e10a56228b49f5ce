/* Passes over the whole table: clear, sweep, the reaper's orphans, and reading a
 * slot for the tools. */
#include <string.h>

#include "clients.h"
#include "slot.h"

#define relaxed memory_order_relaxed
#define acquire memory_order_acquire
#define release memory_order_release

/* For tests: called by table_clear() before it looks at each slot, so that a test
 * can change the table at a chosen point of the scan.  NULL in production. */
void (*table_clear_hook)(const struct region *r, uint32_t slot);

/*
 * Remove the key published in slot i, if any: 1 if this call removed it.  A key
 * frozen for a move (MOVING) when we look, or while we remove it, is moved on
 * here, to its destination further along the scan, where it is removed in turn:
 * left to its mover, it could be published there after the scan went by.
 */
static int clear_slot(const struct region *r, const struct table_client *me, uint32_t i)
{
	struct found f;
	for (;;) {
		if (slot_published(r, i, &f)) {
			if (!slot_remove(r, &f))
				continue;
			ctr_add(me, CTR_CLEARED);
			return 1;
		}
		uint64_t c = atomic_load_explicit(&region_slot(r, i)->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_MOVING)
			slot_finish_move(r, i, c);
		return 0;
	}
}

uint64_t table_clear(const struct region *r, const struct table_client *me)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i <= r->mask; i++) {
		if (table_clear_hook != NULL)
			table_clear_hook(r, i);
		n += (uint64_t)clear_slot(r, me, i);
	}
	/* Moves go forward, so a key moved while we scan stays ahead of us, except
	 * one moved across the end of the table into its first slots. */
	for (uint32_t i = 0; i < REGION_NBHD && i <= r->mask; i++)
		n += (uint64_t)clear_slot(r, me, i);
	return n;
}

uint64_t table_sweep(const struct region *r, const struct table_client *me)
{
	uint64_t horizon = clients_horizon(r, clients_newest(r)), n = 0;
	for (uint32_t i = 0; i <= r->mask; i++) {
		uint64_t c = atomic_load_explicit(&region_slot(r, i)->ctrl, acquire);
		if (!slot_finish(r, i, c) && CTRL_STATE(c) == SLOT_CLAIMED &&
		    slot_reclaim(r, me, i, horizon))
			n++;
	}
	return n;
}

uint64_t table_free_orphans(const struct region *r, const uint64_t *dead, uint32_t ndead)
{
	/* First finish every move in flight: the dead client may have been moving a
	 * key into a slot it claimed, which is then no orphan.  And every removal, so
	 * that the key count the reaper then recounts (keycount.c) is final. */
	for (uint32_t i = 0; i <= r->mask; i++)
		slot_finish(r, i, atomic_load_explicit(&region_slot(r, i)->ctrl, acquire));
	uint64_t n = 0;
	for (uint32_t i = 0; i <= r->mask; i++) {
		struct region_slot *s = region_slot(r, i);
		uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
		struct found f;
		unsigned owner = CTRL_OWNER(c);
		/* The owner is dead, so its claim can no longer become published. */
		if (CTRL_STATE(c) != SLOT_CLAIMED || owner >= ndead ||
		    !((dead[owner / 64] >> (owner % 64)) & 1) || slot_published(r, i, &f))
			continue;
		/* Release pairs with the acquire in slot_take(). */
		if (atomic_compare_exchange_strong_explicit(&s->ctrl, &c, CTRL_NEXT(c, SLOT_EMPTY),
		                                            release, relaxed))
			n++;
	}
	return n;
}

int table_read_slot(const struct region *r, uint32_t i, struct table_entry *e)
{
	struct found f;
	if (!slot_published(r, i, &f))
		return 0;
	struct region_slot *s = region_slot(r, i);
	uint32_t len = atomic_load_explicit(&s->key_len, relaxed);
	if (len == 0 || len > r->key_max)
		return 0;
	for (uint32_t w = 0; w < (len + 7) / 8; w++) {
		uint64_t v = atomic_load_explicit(&s->key[w], relaxed);
		memcpy(e->key + w * 8, &v, len - w * 8 < 8 ? len - w * 8 : 8);
	}
	e->slot = i;
	e->home = atomic_load_explicit(&s->home, relaxed) & r->mask;
	e->len = len;
	e->last = atomic_load_explicit(&s->last, relaxed);
	e->processed = CTRL_COUNT(f.ctrl) + 1;
	/* The copy is one life of the slot if ctrl did not move. */
	atomic_thread_fence(acquire);
	return atomic_load_explicit(&s->ctrl, relaxed) == f.ctrl;
}
