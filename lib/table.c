/*
 * The lock-free hash table of a region: finding a key, inserting one, deciding.
 *
 * A key lives in one of the REGION_NBHD slots from its home slot on.  The home's hop
 * word says which of those slots hold keys of this home; a key exists exactly while
 * its slot's bit is set there ("published").  Every insert into and removal from a
 * home changes its hop word with one compare-and-swap, which serializes the inserts
 * of one key (no key is ever in the table twice) without a lock.  Decisions on a
 * found key compare-and-swap the slot's {ctrl, last} pair, so an update can never
 * land in a slot that was reused meanwhile (ctrl's generation changed).  slot.h has
 * the steps of a slot's life; scan.c the passes over the whole table.
 * docs/design.md has the diagram and the reasoning.
 */
#include "table.h"

#include <errno.h>
#include <string.h>

#include "clients.h"
#include "decide.h"
#include "keyhash.h"
#include "slot.h"

#define relaxed memory_order_relaxed
#define acquire memory_order_acquire
#define release memory_order_release

struct hkey {
	const unsigned char *key;
	uint32_t len, home, words; /* words: the key in 8-byte words, the last padded */
	unsigned tag;
	uint64_t last_word;        /* the last word, zero-padded, made once per call */
};

static hot_inline struct hkey hkey_hashed(const struct region *r, const void *key, uint32_t len,
                                          uint64_t h)
{
	return (struct hkey){ key, len, table_home(r, h), (len + 7) / 8, table_tag(h),
		              tail_word(key, len) };
}

static hot_inline struct hkey hkey_make(const struct region *r, const void *key, uint32_t len)
{
	return hkey_hashed(r, key, len, key_hash(r, key, len));
}

uint64_t table_hash(const struct region *r, const void *key, uint32_t len)
{
	return key_hash(r, key, len);
}

/* Word w of the key, zero-padded past its end. */
static inline uint64_t key_word(const struct hkey *k, uint32_t w)
{
	uint64_t v;
	if (w + 1 == k->words)
		return k->last_word;
	memcpy(&v, k->key + w * 8, 8);
	return v;
}

/* The slot may be changing under us: the caller validates afterwards. */
static hot_inline bool key_equal(const struct region_slot *s, const struct hkey *k)
{
	if (atomic_load_explicit(&s->key_len, relaxed) != k->len)
		return false;
	uint32_t w = 0;
	/* w + 1 < words, from the length the compare above keeps in a register */
	for (; (w + 1) * 8 < k->len; w++) {
		uint64_t v;
		memcpy(&v, k->key + w * 8, 8);
		if (atomic_load_explicit(&s->key[w], relaxed) != v)
			return false;
	}
	return atomic_load_explicit(&s->key[w], relaxed) == k->last_word;
}

static void key_store(struct region_slot *s, const struct hkey *k)
{
	atomic_store_explicit(&s->key_len, k->len, relaxed);
	for (uint32_t w = 0; w < k->words; w++)
		atomic_store_explicit(&s->key[w], key_word(k, w), relaxed);
}

static inline void note_ts(const struct table_client *me, uint64_t ts)
{
	/* Only this client writes wm.  Two threads of it may race and leave the
	 * smaller value: a lower watermark only delays reclaim, which is safe. */
	uint64_t wm = atomic_load_explicit(&me->entry->wm, relaxed);
	/* ts > wm, or wm == REGION_WM_NONE (UINT64_MAX: wm + 1 wraps to 0), in one
	 * compare. */
	_Static_assert(REGION_WM_NONE == UINT64_MAX, "REGION_WM_NONE + 1 is 0");
	if (__builtin_expect(ts >= wm + 1, 1)) /* clocks move on: the store inline */
		atomic_store_explicit(&me->entry->wm, ts, relaxed);
}

/* The policy word: limit | shadow (POLICY_*).  Pairs with the release CAS in
 * region_set_policy() (evt_update_limit(), evt_set_shadow()). */
static inline uint32_t policy_of(const struct region *r)
{
	return atomic_load_explicit(&r->hdr->policy, acquire);
}

/* The answer to an event the rule denies (0, or a policy's -ENOSPC or -ESTALE),
 * after it was counted as usual: 1 in shadow mode (of policy, the word the
 * decision read), reported and counted apart. */
static int denied(uint32_t policy, const struct table_client *me, unsigned *info, int rc)
{
	if (!(policy & POLICY_SHADOW))
		return rc;
	ctr_add(me, CTR_WOULD_THROTTLE);
	*info |= EVT_INFO_SHADOW;
	return 1;
}

enum { FIND_ABSENT = 0, FIND_HIT = 1, FIND_AGAIN = -1 };

/* Does slot i (s, whose ctrl c was just read with acquire) hold k?  A CLAIMED or
 * MOVING slot of k's tag (state bit 1 masked off; under CTRL_FAST_MASK, CLAIMED of
 * count 0) with k's bytes; fills *f with it and its last.  The slot may be changing
 * under us: find_once() validates. */
static hot_inline bool holds(struct region_slot *s, uint32_t i, uint64_t c, const struct hkey *k,
                             uint64_t mask, struct found *f)
{
	if (!ctrl_holds_tag(c, k->tag, mask) || !key_equal(s, k))
		return false;
	*f = (struct found){ s, i, c, atomic_load_explicit(&s->last, relaxed), 0, 0 };
	return true;
}

/*
 * One look for k among the slots published under its home: FIND_HIT with *f,
 * FIND_ABSENT with *hop = the home's hop word the absence was checked against, or
 * FIND_AGAIN when the neighbourhood changed under the look (or the key was moving,
 * now helped to its new slot).  Inlined into the decision; find() loops on it.
 * mask: CTRL_KEY_MASK finds k whatever its count; the common case's CTRL_FAST_MASK
 * only CLAIMED with count 0 (a key with a count, or frozen for a move, is then
 * absent to it, never to find()).  help: finish a move met on the way (a write);
 * without, a key frozen for a move is a hit in its frozen slot (see find()).  The
 * common case needs no help: its mask never finds a frozen key.
 */
static hot_inline int find_once(const struct region *r, const struct hkey *k, struct found *f,
                                uint64_t *hop, uint64_t mask, const bool help)
{
	struct region_slot *home = region_slot(r, k->home);
	/* Pairs with the release CAS in insert()/unpublish(): a bit seen set means
	 * its slot's key, home and last are visible. */
	uint64_t w = atomic_load_explicit(&home->hop, acquire);
	/* Most keys live in their home slot: look there first, at an address that
	 * does not wait for the hop word, so that only a few compares wait for the
	 * line's cache miss (they limit how far the CPU runs ahead into the next
	 * decision).  The reads are in the same order as in the loop below. */
	uint64_t c = atomic_load_explicit(&home->ctrl, acquire);
	uint32_t bits = HOP_BITS(w);
	int hit = (bits & 1u) && holds(home, k->home, c, k, mask, f) ? FIND_HIT : FIND_ABSENT;
	for (bits &= ~1u; !hit && bits != 0; bits &= bits - 1) {
		uint32_t i = (k->home + (uint32_t)__builtin_ctz(bits)) & r->mask;
		struct region_slot *s = region_slot(r, i);
		hit = holds(s, i, atomic_load_explicit(&s->ctrl, acquire), k, mask, f) ? FIND_HIT
		                                                                       : FIND_ABSENT;
	}
	if (__builtin_expect(help && hit && CTRL_STATE(f->ctrl) == SLOT_MOVING, 0)) {
		slot_finish_move(r, f->slot, f->ctrl);
		return FIND_AGAIN;
	}
	/* The window and the policy to decide with, read while the key is known to
	 * exist (the re-reads below prove it) and last can only have grown: a
	 * throttle answer is right at this instant.  Read after the re-reads, either
	 * could be a new one met by a key removed meanwhile, which the answer would
	 * mistake for this one (tests/test_interleave.c).  Pairs with the release
	 * store in evt_update_window() and the release CAS in region_set_policy(). */
	if (hit) {
		f->window = atomic_load_explicit(&r->hdr->window_ns, acquire);
		f->policy = policy_of(r);
	}
	/* Validate like a seqlock reader: the reads above happen before the re-reads
	 * below.  An unchanged hop word means no slot of this home was removed or
	 * reused meanwhile; an unchanged ctrl means the key was not removed (DYING
	 * bumps it), so last was its value at that moment. */
	atomic_thread_fence(acquire);
	if (atomic_load_explicit(&home->hop, relaxed) != w ||
	    (hit && atomic_load_explicit(&f->s->ctrl, relaxed) != f->ctrl))
		return FIND_AGAIN;
	*hop = w;
	return hit;
}

/*
 * Look k up until the look is consistent: 1 with *f, or 0 with *hop.  help: the
 * decisions finish a move they meet.  Without (evt_peek(), which writes nothing,
 * on read-only mappings too), a key frozen for a move is found in its frozen slot:
 * its {ctrl, last} there is the key's state, since the freeze CAS took it
 * unchanged, no decision can land until the move is finished (the copy is
 * unpublished, the frozen pair fails every CAS), and finishing it changes the
 * home's hop word, which the look validates.  docs/design.md §4.
 */
static int find(const struct region *r, const struct hkey *k, struct found *f, uint64_t *hop,
                bool help)
{
	int rc;
	while ((rc = find_once(r, k, f, hop, CTRL_KEY_MASK, help)) == FIND_AGAIN)
		;
	return rc;
}

/* Distance from home of the first EMPTY slot at or after distance d, or
 * REGION_DISPLACE if none is near enough. */
static uint32_t next_empty(const struct region *r, uint32_t home, uint32_t d)
{
	for (; d < REGION_DISPLACE && d <= r->mask; d++)
		if (CTRL_STATE(atomic_load_explicit(&region_slot(r, home + d)->ctrl, relaxed)) ==
		    SLOT_EMPTY)
			return d;
	return REGION_DISPLACE;
}

/* Free slot e (at distance d from home) by moving into it a key that may live
 * there and sits nearer home; returns the new free slot's distance, or d if no
 * key could move. */
static uint32_t hop_back(const struct region *r, const struct table_client *me, uint32_t home,
                         uint32_t d)
{
	uint32_t e = (home + d) & r->mask;
	for (uint32_t back = REGION_NBHD - 1; back > 0; back--) {
		uint32_t a = (e - back) & r->mask;
		uint32_t its_home = atomic_load_explicit(&region_slot(r, a)->home, relaxed);
		if (((e - its_home) & r->mask) < REGION_NBHD && slot_move(r, me, a, e))
			return d - back;
	}
	return d;
}

/* How many times displace() starts over after another insert took the free slot
 * it was moving keys towards: that insert made progress, and there may still be
 * room for this one. */
#define DISPLACE_RACES 16

/*
 * Hopscotch: the neighbourhood is full of live keys, so find a free slot further
 * on and move keys towards their own homes, each within its neighbourhood, until
 * the free slot is in k's neighbourhood; then take it.  False when no slot is free
 * within REGION_DISPLACE, when no key can move into the free slot, or when other
 * inserts keep taking it.
 */
static bool displace(const struct region *r, const struct table_client *me, const struct hkey *k,
                     uint32_t *slot, uint64_t *ctrl)
{
	for (unsigned races = 0; races < DISPLACE_RACES; races++) {
		/* From 0: a slot of the neighbourhood may have been freed meanwhile. */
		uint32_t d = next_empty(r, k->home, 0);
		if (d >= REGION_DISPLACE)
			return false;
		while (d >= REGION_NBHD) {
			uint32_t nd = hop_back(r, me, k->home, d);
			if (nd == d)
				break;
			d = nd;
		}
		struct region_slot *s = region_slot(r, k->home + d);
		uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_EMPTY) {
			if (d >= REGION_NBHD)
				return false; /* no key can move into it */
			if (slot_take(s, c, k->tag, me->index, ctrl)) {
				*slot = (k->home + d) & r->mask;
				return true;
			}
		}
		/* Another insert took the free slot: start over. */
	}
	return false;
}

/*
 * Find k a slot in its neighbourhood: an EMPTY one (finishing DYING ones on the
 * way), else one whose key's window closed at the horizon seen from ts (the
 * clients' watermarks, read only then).
 */
static bool claim(const struct region *r, const struct table_client *me, const struct hkey *k,
                  uint64_t ts, uint32_t *slot, uint64_t *ctrl, bool *reclaimed)
{
	uint64_t last[REGION_NBHD];
	uint32_t keys = 0;
	for (uint32_t j = 0; j < REGION_NBHD; j++) {
		uint32_t i = (k->home + j) & r->mask;
		struct region_slot *s = region_slot(r, i);
		uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_DYING) {
			slot_finish_remove(r, i, c);
			c = atomic_load_explicit(&s->ctrl, acquire);
		}
		if (CTRL_STATE(c) == SLOT_EMPTY && slot_take(s, c, k->tag, me->index, ctrl)) {
			*slot = i;
			return true;
		}
		if (CTRL_STATE(c) == SLOT_CLAIMED) {
			last[j] = atomic_load_explicit(&s->last, relaxed);
			keys |= 1u << j;
		}
	}
	uint64_t horizon = keys != 0 ? clients_horizon(r, ts) : 0;
	/* A first filter on the values read above; slot_reclaim() checks again. */
	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, relaxed);
	for (; keys != 0; keys &= keys - 1) {
		uint32_t j = (uint32_t)__builtin_ctz(keys), i = (k->home + j) & r->mask;
		struct region_slot *s = region_slot(r, i);
		if (!window_closed(last[j], horizon, window) || !slot_reclaim(r, me, i, horizon))
			continue;
		*reclaimed = true;
		uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_EMPTY && slot_take(s, c, k->tag, me->index, ctrl)) {
			*slot = i;
			return true;
		}
	}
	return displace(r, me, k, slot, ctrl);
}

static void report_stale(const struct table_client *me, unsigned *info)
{
	ctr_add(me, CTR_STALE);
	*info |= EVT_INFO_STALE;
}

/* The on_stale policy's answer, throttle or error, for an event whose exact answer
 * was forgotten (insert() publishes the key for the policy "process"). */
static int stale(const struct region *r, uint32_t policy, const struct table_client *me,
                 unsigned *info)
{
	report_stale(me, info);
	if (r->on_stale == EVT_ON_STALE_ERROR)
		return denied(policy, me, info, -ESTALE);
	ctr_add(me, CTR_THROTTLED);
	return denied(policy, me, info, 0);
}

/*
 * Is "k is new at ts" the exact answer?  Only if every key reclaim forgot under
 * k's home (k among them, perhaps) had its last a full window before ts: the
 * forget bound is one past the newest such last (0: none forgotten).  Called with
 * k absent under the hop word last loaded with acquire, which makes every bound
 * raised before a removal of k visible here (see slot_reclaim()).
 */
static bool insert_is_exact(const struct region *r, const struct hkey *k, uint64_t ts,
                            uint64_t window, uint64_t *bound)
{
	uint64_t b = atomic_load_explicit(region_bound(r, k->home), relaxed);
	*bound = b;
	return b == 0 || (ts >= window && ts - window >= b - 1);
}

static int full(const struct region *r, uint32_t policy, const struct table_client *me,
                unsigned *info)
{
	ctr_add(me, CTR_FULL);
	*info |= EVT_INFO_FULL;
	switch (r->on_full) {
	case EVT_ON_FULL_PROCESS:
		ctr_add(me, CTR_PROCESSED);
		return 1;
	case EVT_ON_FULL_ERROR:
		return denied(policy, me, info, -ENOSPC);
	default:
		ctr_add(me, CTR_THROTTLED);
		return denied(policy, me, info, 0);
	}
}

/*
 * Set the unpublished claim s (ctrl c0 as claimed: count 0) for one publish try of
 * an insert at ts; returns its ctrl now.  Exact: {count 0, ts}.  Processed by the
 * stale policy "process": the key may have been processed as late as b - 1, so it
 * is kept from then (or ts, if later), its window full under limit (its count
 * forgotten): a later event is never processed a window from a forgotten one.
 * Every try sets both from c0 and ts, so an exact try after one that was not
 * leaves nothing of it.  Only the owner writes an unpublished slot: the publish
 * carries the stores.
 */
static uint64_t claim_state(struct region_slot *s, uint64_t c0, uint64_t ts, bool exact,
                            uint64_t b, uint32_t limit)
{
	uint32_t n = exact ? 0 : limit > CTRL_COUNT_MAX ? CTRL_COUNT_MAX : limit > 0 ? limit - 1 : 0;
	uint64_t c = CTRL_WITH_COUNT(c0, n);
	atomic_store_explicit(&s->last, exact || b - 1 <= ts ? ts : b - 1, relaxed);
	atomic_store_explicit(&s->ctrl, c, relaxed);
	return c;
}

/*
 * k was absent under hop word w: insert it with last = ts.  -EAGAIN: another
 * client inserted k first; decide again.  The answer is exact unless reclaim
 * forgot a key of k's home too recently (insert_is_exact()); then the on_stale
 * policy answers, and the key is tracked only if that answer is 1.
 */
static int insert(const struct region *r, const struct table_client *me, const struct hkey *k,
                  uint64_t ts, uint64_t w, unsigned *info)
{
	uint32_t i, policy = policy_of(r);
	uint64_t c0, c, window, b;
	bool reclaimed = false, exact;
	/* A stale answer that tracks nothing needs no slot: give it before looking
	 * for one (checked again below, before publishing).  Pairs with the release
	 * store in evt_update_window(). */
	window = atomic_load_explicit(&r->hdr->window_ns, acquire);
	if (r->on_stale != EVT_ON_STALE_PROCESS && !insert_is_exact(r, k, ts, window, &b))
		return stale(r, policy, me, info);
	if (!claim(r, me, k, ts, &i, &c0, &reclaimed))
		return full(r, policy, me, info);
	struct region_slot *s = region_slot(r, i);
	c = c0;
	atomic_store_explicit(&s->home, k->home, relaxed);
	key_store(s, k);
	uint32_t bit = 1u << ((i - k->home) & r->mask);
	struct region_slot *home = region_slot(r, k->home);
	for (;;) {
		/* The window and bound for this try, read after the look that gave
		 * w.  Pairs with the release store in evt_update_window(). */
		window = atomic_load_explicit(&r->hdr->window_ns, acquire);
		exact = insert_is_exact(r, k, ts, window, &b);
		if (!exact && r->on_stale != EVT_ON_STALE_PROCESS) {
			slot_unclaim(s, c);
			return stale(r, policy, me, info);
		}
		c = claim_state(s, c0, ts, exact, b, POLICY_LIMIT(policy));
		/* Publish.  Release pairs with the acquire loads of hop in find()
		 * and slot_published(): the stores above are visible with the bit. */
		if (atomic_compare_exchange_weak_explicit(&home->hop, &w,
		                                          HOP_NEXT(w, HOP_BITS(w) | bit), release,
		                                          relaxed))
			break;
		struct found f;
		if (find(r, k, &f, &w, true)) {
			/* Lost the race to another insert of k. */
			slot_unclaim(s, c);
			return -EAGAIN;
		}
	}
	/* A window raised while we published may make this answer one the rule no
	 * longer gives: it stands (others may have decided on the key already), but
	 * is reported and counted.  Pairs with the release in evt_update_window(). */
	uint64_t now_window = atomic_load_explicit(&r->hdr->window_ns, acquire);
	if (!exact || (now_window > window && !insert_is_exact(r, k, ts, now_window, &b)))
		report_stale(me, info);
	ctr_add(me, CTR_NEW_KEYS);
	ctr_add(me, CTR_PROCESSED);
	*info |= EVT_INFO_NEW_KEY | (reclaimed ? EVT_INFO_RECLAIMED : 0);
	return 1;
}

/* Decide on a key the common case's look found with count 0: throttle (0), or
 * process (1) if its {ctrl, last} did not change since it was read (ctrl
 * unchanged: count 0, the new window's first event); -EAGAIN if it did (decided
 * on or removed meanwhile), and for what decide_counted() answers: an event before
 * last, and one inside the window when the policy is above 1 (a limit that may
 * leave room, or shadow mode).  With reasons, a throttle says why in *info
 * (non-NULL then); without, *info is not touched.  The caller counts the answer
 * (decide_key()), after its one check for -EAGAIN. */
static hot_inline int decide_found(uint64_t ts, const struct found *f, unsigned *info,
                                   const bool reasons)
{
	if (ts < f->last)
		return -EAGAIN;
	if (ts - f->last < f->window) {
		if (__builtin_expect(f->policy > 1, 0))
			return -EAGAIN;
		if (reasons)
			*info |= EVT_INFO_INSIDE_WINDOW;
		return 0;
	}
	return cas_pair(f->s, f->ctrl, f->last, f->ctrl, ts) ? 1 : -EAGAIN;
}

/* What the rule says of an event at ts on the found key *f under limit. */
enum verdict { V_OPEN, V_COUNT, V_OUT_OF_ORDER, V_INSIDE };

static enum verdict verdict_of(const struct found *f, uint64_t ts, uint32_t limit)
{
	if (window_closed(f->last, ts, f->window))
		return V_OPEN; /* processed: a new window opens at ts */
	if (ts < f->last)
		return V_OUT_OF_ORDER; /* throttled: last never moves back */
	unsigned n = CTRL_COUNT(f->ctrl);
	/* throttled if the window is full (n + 1 processed in it), else counted */
	return n + 1 >= limit || n >= CTRL_COUNT_MAX ? V_INSIDE : V_COUNT;
}

/*
 * Decide on a found key under any policy (verdict_of()): a new window is CAS
 * {ctrl, last} -> {count 0, ts}; a counted event {count + 1, last}; a throttle is
 * counted, reported with its reason and answered by denied().  -EAGAIN if the pair
 * changed since it was read (decided on or removed meanwhile).
 */
static int decide_counted(const struct table_client *me, uint64_t ts, const struct found *f,
                          unsigned *info)
{
	uint64_t ctrl = CTRL_WITH_COUNT(f->ctrl, 0), last = ts;
	uint32_t policy = f->policy;
	switch (verdict_of(f, ts, POLICY_LIMIT(policy))) {
	case V_OUT_OF_ORDER:
		ctr_add(me, CTR_OUT_OF_ORDER);
		ctr_add(me, CTR_THROTTLED);
		*info |= EVT_INFO_OUT_OF_ORDER;
		return denied(policy, me, info, 0);
	case V_INSIDE:
		ctr_add(me, CTR_INSIDE_WINDOW);
		*info |= EVT_INFO_INSIDE_WINDOW;
		return denied(policy, me, info, 0);
	case V_COUNT:
		ctrl = CTRL_WITH_COUNT(f->ctrl, CTRL_COUNT(f->ctrl) + 1);
		last = f->last;
		break;
	case V_OPEN:
		break;
	}
	if (!cas_pair(f->s, f->ctrl, f->last, ctrl, last))
		return -EAGAIN;
	ctr_add(me, CTR_PROCESSED);
	return 1;
}

/* Every case of a decision: inserts, and retries after losing a race.  It hashes
 * the key again, so that the common case keeps its hkey in registers. */
static __attribute__((noinline)) int decide_slow(const struct region *r,
                                                 const struct table_client *me, uint64_t ts,
                                                 const void *key, uint32_t len, unsigned *info)
{
	struct hkey k = hkey_make(r, key, len);
	unsigned scratch = 0;
	if (info == NULL)
		info = &scratch;
	for (;;) {
		struct found f;
		uint64_t w;
		int rc = find(r, &k, &f, &w, true) ? decide_counted(me, ts, &f, info)
		                             : insert(r, me, &k, ts, w, info);
		if (rc != -EAGAIN)
			return rc;
	}
}

/* A decision on a hashed key whose watermark was noted.  The common case, a key
 * found on the first look, is inlined here and kept short: its length decides how
 * many decisions' cache misses the CPU can overlap.  Everything else is a tail
 * call to decide_slow().  reasons (a constant where it is inlined): *info is
 * non-NULL and the common case's throttle says why too; without, info may be NULL
 * and only the slow path sets its bits. */
static hot_inline int decide_noted(const struct region *r, const struct table_client *me,
                                   uint64_t ts, const struct hkey *k, unsigned *info,
                                   const bool reasons)
{
	struct found f;
	uint64_t w;
	if (__builtin_expect(find_once(r, k, &f, &w, CTRL_FAST_MASK, false) == FIND_HIT, 1)) {
		int rc = decide_found(ts, &f, info, reasons);
		if (rc == 0)
			return ctr_counted(me, CTR_INSIDE_WINDOW, 0);
		if (rc == 1)
			return ctr_counted(me, CTR_PROCESSED, 1);
	}
	return decide_slow(r, me, ts, k->key, k->len, info);
}

/* decide_noted(), the watermark noted first. */
static hot_inline int decide_key(const struct region *r, const struct table_client *me,
                                 uint64_t ts, const struct hkey *k, unsigned *info,
                                 const bool reasons)
{
	note_ts(me, ts);
	return decide_noted(r, me, ts, k, info, reasons);
}

__attribute__((noinline, flatten)) int table_decide_rest(const struct region *r,
                                                         const struct table_client *me,
                                                         uint64_t ts, const void *key,
                                                         uint32_t len)
{
	struct hkey k = hkey_make(r, key, len);
	return decide_noted(r, me, ts, &k, NULL, false);
}

int table_decide(const struct region *r, const struct table_client *me, uint64_t ts,
                 const void *key, uint32_t len)
{
	note_ts(me, ts);
	return table_decide_rest(r, me, ts, key, len);
}

/* table_decide_ex() for keys over INLINE_KEY_MAX: XXH3's longer paths (one of
 * them a call), apart so that the short keys' path saves fewer registers. */
static __attribute__((noinline, flatten)) int decide_long_ex(const struct region *r,
                                                             const struct table_client *me,
                                                             uint64_t ts, const void *key,
                                                             uint32_t len, unsigned *info)
{
	struct hkey k = hkey_make(r, key, len);
	return decide_key(r, me, ts, &k, info, true);
}

__attribute__((flatten)) int table_decide_ex(const struct region *r,
                                             const struct table_client *me, uint64_t ts,
                                             const void *key, uint32_t len, unsigned *info)
{
	if (__builtin_expect(len > INLINE_KEY_MAX, 0))
		return decide_long_ex(r, me, ts, key, len, info);
	struct hkey k = hkey_make(r, key, len);
	return decide_key(r, me, ts, &k, info, true);
}

/* table_cached_ex() past its common case: a long key, or the key's window was
 * closed on the first look, or the look met a change, a count or a move.  A key
 * frozen for a move is read in its frozen slot (find() without help): this
 * writes nothing but the counters.  A throttle is answered as shadow mode says
 * by the policy read with the look (denied()), as decide_counted() does: read
 * after the look, a policy turned to enforcing could meet a key removed
 * meanwhile, and throttle where no instant did (tests/test_interleave.c). */
static __attribute__((noinline)) int cached_slow(const struct region *r,
                                                 const struct table_client *me, uint64_t ts,
                                                 const void *key, uint32_t len, unsigned *info)
{
	struct hkey k = hkey_make(r, key, len);
	struct found f;
	uint64_t w;
	if (!find(r, &k, &f, &w, false) || window_closed(f.last, ts, f.window))
		return TABLE_NEXT;
	if (ts < f.last) {
		ctr_add(me, CTR_OUT_OF_ORDER);
		ctr_add(me, CTR_THROTTLED);
		*info |= EVT_INFO_OUT_OF_ORDER;
	} else {
		ctr_add(me, CTR_INSIDE_WINDOW);
		*info |= EVT_INFO_INSIDE_WINDOW;
	}
	return denied(f.policy, me, info, 0);
}

int table_denied(const struct region *r, const struct table_client *me, unsigned *info, int rc)
{
	return denied(policy_of(r), me, info, rc);
}

/* table_cached() past its common case: the same, then the next tier. */
static __attribute__((noinline)) int cached_miss(const struct region *r,
                                                 const struct table_client *me, uint64_t ts,
                                                 const void *key, uint32_t len,
                                                 table_miss_fn *miss)
{
	unsigned info = 0;
	int rc = cached_slow(r, me, ts, key, len, &info);
	return rc != TABLE_NEXT ? rc : miss(r, me, ts, key, len, NULL);
}

/* The common case as decide_key()'s (long keys apart, as table_decide()'s), with
 * no watermark and no write to the slot: true if it throttles ts and the answer
 * is 0 (not in shadow mode: a global throttle's policy above 1 is shadow's bit,
 * its limit being 1). */
static hot_inline bool cached_hit(const struct region *r, uint64_t ts, const void *key,
                                  uint32_t len)
{
	if (__builtin_expect(len > INLINE_KEY_MAX, 0))
		return false;
	struct hkey k = hkey_make(r, key, len);
	struct found f;
	uint64_t w;
	return __builtin_expect(find_once(r, &k, &f, &w, CTRL_FAST_MASK, false) == FIND_HIT, 1) &&
	       f.policy <= 1 && ts >= f.last && ts - f.last < f.window;
}

__attribute__((flatten)) int table_cached(const struct region *r, const struct table_client *me,
                                          uint64_t ts, const void *key, uint32_t len,
                                          table_miss_fn *miss)
{
	if (__builtin_expect(cached_hit(r, ts, key, len), 1))
		return ctr_counted(me, CTR_INSIDE_WINDOW, 0);
	return cached_miss(r, me, ts, key, len, miss);
}

__attribute__((flatten)) int table_cached_ex(const struct region *r,
                                             const struct table_client *me, uint64_t ts,
                                             const void *key, uint32_t len, unsigned *info)
{
	if (__builtin_expect(cached_hit(r, ts, key, len), 1)) {
		*info |= EVT_INFO_INSIDE_WINDOW;
		return ctr_counted(me, CTR_INSIDE_WINDOW, 0);
	}
	return cached_slow(r, me, ts, key, len, info);
}

/* Start fetching the line a decision on a key reads first: its home slot, with the
 * hop word, the ctrl and most often the key itself. */
static hot_inline void prefetch_home(const struct region *r, uint32_t home)
{
	__builtin_prefetch(region_slot(r, home));
}

__attribute__((flatten)) uint64_t table_prefetch(const struct region *r, const void *key,
                                                 uint32_t len)
{
	uint64_t h = key_hash(r, key, len);
	prefetch_home(r, table_home(r, h));
	return h;
}

/* A key hashed (h) and read (tail) once, for a decision later: its evt_key, its
 * home prefetched. */
static hot_inline void key_made(const struct region *r, const void *key, uint32_t len,
                                uint64_t h, uint64_t tail, evt_key *out)
{
	prefetch_home(r, table_home(r, h));
	*out = (evt_key){ .key = key, .key_len = len, .hash = h, .seed = r->seed, .tail = tail };
}

/* table_prefetch_key() for keys over INLINE_KEY_MAX, apart (as decide_long_ex()). */
static __attribute__((noinline, flatten)) void prefetch_long(const struct region *r,
                                                              const void *key, uint32_t len,
                                                              evt_key *out)
{
	key_made(r, key, len, key_hash(r, key, len), tail_word(key, len), out);
}

/* Each length class with the decision's own hash (keyhash.h). */
__attribute__((flatten)) int table_prefetch_key(const struct region *r, const void *key,
                                                uint32_t len, evt_key *out)
{
	if (__builtin_expect(len > INLINE_KEY_MAX, 0))
		prefetch_long(r, key, len, out);
	else if (len > 8)
		key_made(r, key, len, key_hash_9to16(r, key, len), tail_9to16(key, len), out);
	else
		key_made(r, key, len, key_hash_1to8(r, key, len), tail_word(key, len), out);
	return 0;
}

/* The hkey of a key evt_prefetch_key() made for this region. */
static hot_inline struct hkey hkey_of(const struct region *r, const evt_key *ek)
{
	return (struct hkey){ ek->key, ek->key_len, table_home(r, ek->hash), (ek->key_len + 7) / 8,
		              table_tag(ek->hash), ek->tail };
}

/* A key made for another region (another seed): decided as a new one, hashed
 * here, out of line. */
static __attribute__((noinline, cold)) int decide_other(const struct region *r,
                                                        const struct table_client *me,
                                                        uint64_t ts, const evt_key *ek,
                                                        unsigned *info)
{
	return table_decide_ex(r, me, ts, ek->key, ek->key_len, info);
}

int table_decide_key_rest(const struct region *r, const struct table_client *me, uint64_t ts,
                          const evt_key *ek, unsigned *info)
{
	struct hkey k = hkey_of(r, ek);
	unsigned scratch = 0;
	return decide_noted(r, me, ts, &k, info != NULL ? info : &scratch, true);
}

/* No hash, no key read: what table_prefetch_key() made is used as it is. */
__attribute__((flatten)) int table_decide_key(const struct region *r,
                                              const struct table_client *me, uint64_t ts,
                                              const evt_key *ek, unsigned *info)
{
	if (__builtin_expect(ek->seed != r->seed, 0))
		return decide_other(r, me, ts, ek, info);
	struct hkey k = hkey_of(r, ek);
	return decide_key(r, me, ts, &k, info, true);
}

int table_peek(const struct region *r, const struct table_client *me, uint64_t ts,
               const void *key, uint32_t len)
{
	struct hkey k = hkey_make(r, key, len);
	struct found f;
	uint64_t w, window;
	uint32_t policy = policy_of(r);
	int rc;
	if (me != NULL)
		ctr_add(me, CTR_PEEKS);
	if (find(r, &k, &f, &w, false)) {
		enum verdict v = verdict_of(&f, ts, POLICY_LIMIT(policy));
		rc = v == V_OPEN || v == V_COUNT;
	} else {
		/* A new key: processed if exact, else the on_stale policy's answer.
		 * Pairs with the release store in evt_update_window(). */
		window = atomic_load_explicit(&r->hdr->window_ns, acquire);
		uint64_t b;
		rc = insert_is_exact(r, &k, ts, window, &b) || r->on_stale == EVT_ON_STALE_PROCESS ? 1
		     : r->on_stale == EVT_ON_STALE_ERROR                                          ? -ESTALE
		                                                                                  : 0;
	}
	return rc != 1 && (policy & POLICY_SHADOW) ? 1 : rc;
}

int table_clear_key(const struct region *r, const struct table_client *me, const void *key,
                    uint32_t len)
{
	struct hkey k = hkey_make(r, key, len);
	for (;;) {
		struct found f;
		uint64_t w;
		if (!find(r, &k, &f, &w, true))
			return 0;
		if (slot_remove(r, &f)) {
			ctr_add(me, CTR_CLEARED);
			return 1;
		}
	}
}
