/*
 * The common case of evt_should_process(), inlined into it: a key of up to 16
 * bytes found CLAIMED with count 0 in its home slot (most keys), decided from that
 * slot's line alone (decide_home()).  Everything else is table.c's:
 * table_decide() and table_decide_rest().
 *
 * Inlined into the API's entry point rather than called, it keeps the handle as
 * one pointer (r and me are fixed offsets in it) and so few values live at once
 * that only the pair CAS's register is saved.  docs/design.md §2 "Decide" has the
 * steps and their orders, docs/benchmarks.md the instructions each change saved.
 */
#ifndef EVT_DECIDE_H
#define EVT_DECIDE_H

#include "handle.h"
#include "keyhash.h"
#include "slot.h"

/* A decision, any key, every case, with no reasons: evt_should_process()'s for a
 * key that passed its checks, and what decide_home() does not decide.  The first
 * (for keys over INLINE_KEY_MAX) notes the watermark; _rest() is for a caller
 * that noted it. */
int table_decide(const struct region *r, const struct table_client *me, uint64_t ts,
                 const void *key, uint32_t len);
int table_decide_rest(const struct region *r, const struct table_client *me, uint64_t ts,
                      const void *key, uint32_t len);

/* table_decide_key() (table.h) after decide_home(): the watermark noted; info
 * may be NULL. */
int table_decide_key_rest(const struct region *r, const struct table_client *me, uint64_t ts,
                          const evt_key *k, unsigned *info);

/* table_decide_rest() on t's region and client, out of line so that the common
 * case keeps t alone, not the two pointers. */
int decide_rest(evt_throttle *t, uint64_t ts, const void *key, size_t len);

/* decide_home()'s general path on a global handle (lib/evthrottle.c): the local
 * tier as before, table_cached() then Redis (info NULL), or table_cached_ex()
 * then global_decide() with the reasons in *info (non-NULL). */
int decide_cached_rest(evt_throttle *t, uint64_t ts, unsigned *info, const void *key,
                       size_t len);

/*
 * The home slot's case of a decision, as table.c's find_once() and decide_found()
 * do it, for a key of hash h and last word tail (tail_word()), of 1 to 8 bytes
 * (two false) or 9 to 16 (two true): 1 processed, 0 throttled (with reasons,
 * EVT_INFO_INSIDE_WINDOW in *info unless info is NULL), counted.  Anything but a key CLAIMED with
 * count 0 in its home slot, consistent on the re-reads of hop and ctrl, goes to the general path
 * (every slot of the neighbourhood; keys not in their home slot are a few), the
 * watermark noted: table_decide_key_rest() for ek (made by evt_prefetch_key()),
 * else decide_rest().  Every other exit is a return or a tail call, so that no
 * value lives across a call.
 *
 * cached (a constant): t is a global handle, whose table is a cache of Redis's
 * answers (docs/design.md §10): only the throttle is decided here, as
 * table_cached() decides it, with no watermark (noted by no decision of its
 * local tier: a lagging one would hold back the cache's reclaim for nothing) and
 * no write to the slot; a policy above 1 is shadow mode there (its limit is 1),
 * whose answer the general path gives.  Everything else, the window closed at
 * ts (the processed answer is the next tier's) included, goes to the global
 * path as before: decide_cached_rest().
 */
static hot_inline int decide_home(evt_throttle *t, uint64_t ts, const void *key, size_t len,
                                  uint64_t h, uint64_t tail, bool two, const evt_key *ek,
                                  unsigned *info, const bool reasons, const bool cached)
{
	const struct region *r = &t->r;
	struct region_slot *s = region_slot(r, table_home(r, h));
	uint64_t tagged = CTRL_MAKE(SLOT_CLAIMED, table_tag(h), 0, 0), first = tail;
	if (!cached) {
		/* The watermark first, as note_ts() (table.c): ts > wm, or wm is
		 * REGION_WM_NONE, in one compare; only this client writes it. */
		struct region_client *entry = t->me.entry;
		uint64_t wm = atomic_load_explicit(&entry->wm, memory_order_relaxed);
		if (__builtin_expect(ts >= wm + 1, 1))
			atomic_store_explicit(&entry->wm, ts, memory_order_relaxed);
	}
	/* Pairs with the release CAS in insert()/unpublish(), as in find_once(). */
	uint64_t hop = atomic_load_explicit(&s->hop, memory_order_acquire);
	uint64_t c = atomic_load_explicit(&s->ctrl, memory_order_acquire);
	_Static_assert(CTRL_FAST_MASK == 0xffff, "the look's mask: the low 16 bits");
	if (!(hop & 1) || (uint16_t)c != (uint16_t)tagged ||
	    atomic_load_explicit(&s->key_len, memory_order_relaxed) != len)
		goto miss;
	if (two)
		memcpy(&first, key, 8);
	if (atomic_load_explicit(&s->key[0], memory_order_relaxed) != first ||
	    (two && atomic_load_explicit(&s->key[1], memory_order_relaxed) != tail))
		goto miss;
	uint64_t last = atomic_load_explicit(&s->last, memory_order_relaxed);
	/* The window and the policy, read inside the span the re-reads below
	 * check, as find_once() does: read after them, either could be a new one
	 * met by a key removed meanwhile.  A policy above 1 (a limit over 1, or
	 * shadow mode) is the general path's, processed or not: leaving at once
	 * keeps no register for it.  Pairs with the release store in
	 * evt_update_window() and the release CAS in region_set_policy(). */
	const struct region_hdr *hdr = r->hdr;
	uint64_t window = atomic_load_explicit(&hdr->window_ns, memory_order_acquire);
	if (__builtin_expect(atomic_load_explicit(&hdr->policy, memory_order_acquire) > 1, 0))
		goto miss;
	/* The reads above happen before these re-reads, as in find_once().  An
	 * unchanged hop word says the slot was not reused (that unpublishes first);
	 * an unchanged ctrl says the key was not removed (the DYING CAS changes it,
	 * before the unpublish changes hop), so last, the window and the policy
	 * were read while the key existed.  Without the ctrl re-read, a removal
	 * paused between its DYING CAS and its unpublish, then a window raised,
	 * gave a throttle no instant allowed (interleave's tests). */
	atomic_thread_fence(memory_order_acquire);
	uint64_t since; /* ts - last; ts before last is the general path's */
	if (region_differs(&s->hop, hop) || region_differs(&s->ctrl, c) ||
	    __builtin_sub_overflow(ts, last, &since))
		goto miss;
	/* On a global handle both exits go to the general path, and gcc merged
	 * the borrow's test with this one through a setb (3 instructions more):
	 * since taken as opaque after the borrow's branch keeps them two branches. */
	if (cached)
		__asm__("" : "+r"(since));
	if (since < window) {
		if (reasons && info != NULL)
			*info |= EVT_INFO_INSIDE_WINDOW;
		return ctr_counted(&t->me, CTR_INSIDE_WINDOW, 0);
	}
	if (!cached && cas_pair(s, c, last, c, ts))
		return ctr_counted(&t->me, CTR_PROCESSED, 1);
miss:
	if (cached)
		return decide_cached_rest(t, ts, reasons ? info : NULL, key, len);
	return ek != NULL ? table_decide_key_rest(r, &t->me, ts, ek, info) : decide_rest(t, ts, key, len);
}

/* evt_should_process()'s decision of a key of 1 to 8 bytes (two false) or 9 to 16
 * (true) that passed its checks; cached: on a global handle (decide_home()). */
static hot_inline int decide_short(evt_throttle *t, uint64_t ts, const void *key, size_t len,
                                   uint64_t h, const bool two, const bool cached)
{
	uint64_t tail = two ? tail_9to16(key, len) : tail_word(key, (uint32_t)len);
	return decide_home(t, ts, key, len, h, tail, two, NULL, NULL, false, cached);
}

/* evt_should_process_key()'s decision of a key of 1 to 16 bytes made for t's
 * region, which passed its checks: neither hashed nor its last word read again.
 * info may be NULL (0 on entry otherwise); cached: on a global handle
 * (decide_home()), info non-NULL then. */
static hot_inline int decide_short_key(evt_throttle *t, uint64_t ts, const evt_key *k,
                                       unsigned *info, const bool cached)
{
	return decide_home(t, ts, k->key, k->key_len, k->hash, k->tail, k->key_len > 8, k, info,
	                   true, cached);
}

/* evt_should_process()'s decision (decide_short()) of a key of 1 to 8 bytes that
 * passed its checks, compiled apart from the 9-16-byte case it inlines, with its
 * own registers.  Its arguments are in the registers of evt_should_process()'s
 * (unused in its event_id's), so that the tail call to it moves none. */
int decide_1to8(evt_throttle *t, uint64_t ts_ns, const void *unused, const void *key,
                size_t key_len);

/* decide_short() on a global handle (cached), for a key of 1 to 8 and of 9 to 16
 * bytes that passed its checks: its local tier's common case, each length class
 * compiled apart as decide_1to8() is, with its arguments. */
int decide_cached_1to8(evt_throttle *t, uint64_t ts_ns, const void *unused, const void *key,
                       size_t key_len);
int decide_cached_9to16(evt_throttle *t, uint64_t ts_ns, const void *unused, const void *key,
                        size_t key_len);

/* Decide every event in order, as evt_should_process_ex() on each (keys are
 * checked here, t is a handle that decides in its table); returns how many were
 * processed. */
size_t decide_batch(evt_throttle *t, evt_event *ev, size_t n);

#endif /* EVT_DECIDE_H */
