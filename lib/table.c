/*
 * The lock-free hash table of a region.
 *
 * A key lives in one of the REGION_NBHD slots from its home slot on.  The home's hop
 * word says which of those slots hold keys of this home; a key exists exactly while
 * its slot's bit is set there ("published").  Every insert into and removal from a
 * home changes its hop word with one compare-and-swap, which serializes the inserts
 * of one key (no key is ever in the table twice) without a lock.  Decisions on a
 * found key compare-and-swap the slot's {ctrl, last} pair, so an update can never
 * land in a slot that was reused meanwhile (ctrl's generation changed).
 *
 * Slot life: EMPTY -claim-> CLAIMED (unpublished) -publish-> CLAIMED (published)
 *            -remove-> DYING -unpublish, free-> EMPTY.   An unpublished claim can
 * also go straight back to EMPTY (lost an insert race).  When a key's whole
 * neighbourhood is taken, keys are moved towards their homes to make room
 * (hopscotch): the moved key's slot goes CLAIMED -freeze-> MOVING -switch bits,
 * free-> EMPTY.  Any process may finish a DYING or MOVING slot, so a client that
 * dies in the middle leaves nobody waiting.
 * docs/design.md has the diagram and the reasoning.
 */
#include "table.h"

#include <errno.h>
#include <string.h>
#define XXH_INLINE_ALL /* the hash is inlined into the hot path */
#include <xxhash.h>

#define relaxed memory_order_relaxed
#define acquire memory_order_acquire
#define release memory_order_release

#define hot_inline inline __attribute__((always_inline))

struct hkey {
	const unsigned char *key;
	uint32_t len, home, words; /* words: the key in 8-byte words, the last padded */
	unsigned tag;
	uint64_t last_word;        /* the last word, zero-padded, made once per call */
};

/* A published key as read from its slot. */
struct found {
	struct region_slot *s; /* region_slot(r, slot): spares the decision the arithmetic */
	uint32_t slot;
	uint64_t ctrl, last;
	uint64_t window; /* the window while the key held last: find_once() sets it;
	                    0 from published(), whose results are never decided on */
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "key words are little-endian");

/* The key's last word, zero-padded, without reading past its end: overlapping
 * loads (the bytes they share are equal, so or-ing them is exact). */
static hot_inline uint64_t tail_word(const unsigned char *key, uint32_t len)
{
	if (len >= 8) {
		uint64_t v;
		memcpy(&v, key + len - 8, 8);
		return v >> (8 * ((8 - len % 8) % 8));
	}
	if (len >= 4) {
		uint32_t lo, hi;
		memcpy(&lo, key, 4);
		memcpy(&hi, key + len - 4, 4);
		return lo | (uint64_t)hi << (8 * (len - 4));
	}
	return (uint64_t)key[0] | (uint64_t)key[len / 2] << (8 * (len / 2)) |
	       (uint64_t)key[len - 1] << (8 * (len - 1));
}

static hot_inline uint64_t key_hash(const struct region *r, const void *key, uint32_t len)
{
	return XXH3_64bits_withSeed(key, len, r->seed);
}

static hot_inline struct hkey hkey_make(const struct region *r, const void *key, uint32_t len)
{
	uint64_t h = key_hash(r, key, len);
	return (struct hkey){ key, len, table_home(r, h), (len + 7) / 8, table_tag(h),
		              tail_word(key, len) };
}

uint64_t table_hash(const struct region *r, const void *key, uint32_t len)
{
	return key_hash(r, key, len);
}

/* ts is a full window past last (never true for ts before last). */
static inline bool window_closed(uint64_t last, uint64_t ts, uint64_t window)
{
	return ts >= last && ts - last >= window;
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
	for (; w + 1 < k->words; w++) {
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

static inline void count(const struct table_client *me, int which)
{
	atomic_fetch_add_explicit(&me->entry->ctr[which], 1, relaxed);
}

static inline void note_ts(const struct table_client *me, uint64_t ts)
{
	/* Only this client writes wm.  Two threads of it may race and leave the
	 * smaller value: a lower watermark only delays reclaim, which is safe. */
	uint64_t wm = atomic_load_explicit(&me->entry->wm, relaxed);
	if (wm == REGION_WM_NONE || ts > wm)
		atomic_store_explicit(&me->entry->wm, ts, relaxed);
}

static void finish_move(const struct region *r, uint32_t a, uint64_t c);

enum { FIND_ABSENT = 0, FIND_HIT = 1, FIND_AGAIN = -1 };

/* Does slot i (s, whose ctrl c was just read with acquire) hold k?  A CLAIMED or
 * MOVING slot of k's tag (state bit 1 masked off) with k's bytes; fills *f with it
 * and its last.  The slot may be changing under us: find_once() validates. */
static hot_inline bool holds(struct region_slot *s, uint32_t i, uint64_t c, const struct hkey *k,
                             struct found *f)
{
	if ((c & 0xfffdu) != CTRL_MAKE(SLOT_CLAIMED, k->tag, 0, 0) || !key_equal(s, k))
		return false;
	*f = (struct found){ s, i, c, atomic_load_explicit(&s->last, relaxed), 0 };
	return true;
}

/*
 * One look for k among the slots published under its home: FIND_HIT with *f,
 * FIND_ABSENT with *hop = the home's hop word the absence was checked against, or
 * FIND_AGAIN when the neighbourhood changed under the look (or the key was moving,
 * now helped to its new slot).  Inlined into the decision; find() loops on it.
 */
static hot_inline int find_once(const struct region *r, const struct hkey *k, struct found *f,
                                uint64_t *hop)
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
	int hit = (bits & 1u) && holds(home, k->home, c, k, f) ? FIND_HIT : FIND_ABSENT;
	for (bits &= ~1u; !hit && bits != 0; bits &= bits - 1) {
		uint32_t i = (k->home + (uint32_t)__builtin_ctz(bits)) & r->mask;
		struct region_slot *s = region_slot(r, i);
		hit = holds(s, i, atomic_load_explicit(&s->ctrl, acquire), k, f) ? FIND_HIT : FIND_ABSENT;
	}
	if (__builtin_expect(hit && CTRL_STATE(f->ctrl) == SLOT_MOVING, 0)) {
		finish_move(r, f->slot, f->ctrl);
		return FIND_AGAIN;
	}
	/* The window to decide with, read while the key is known to exist (the
	 * re-reads below prove it) and last can only have grown: a throttle answer
	 * is right at this instant.  Pairs with the release store in
	 * evt_update_window(). */
	if (hit)
		f->window = atomic_load_explicit(&r->hdr->window_ns, acquire);
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

/* Look k up until the look is consistent: 1 with *f, or 0 with *hop. */
static int find(const struct region *r, const struct hkey *k, struct found *f, uint64_t *hop)
{
	int rc;
	while ((rc = find_once(r, k, f, hop)) == FIND_AGAIN)
		;
	return rc;
}

/* Is slot i a published key?  Fills *f from one consistent read if so. */
static bool published(const struct region *r, uint32_t i, struct found *f)
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
	*f = (struct found){ s, i, c, last, 0 };
	return true;
}

/* Clear a DYING slot's bit in its home, then free it.  Anyone may call this for
 * any DYING slot: each step is a CAS that fails harmlessly if done already. */
static void finish_remove(const struct region *r, uint32_t i, uint64_t c)
{
	struct region_slot *s = region_slot(r, i);
	uint32_t home = atomic_load_explicit(&s->home, relaxed) & r->mask;
	uint32_t bit = (i - home) & r->mask;
	struct region_slot *hs = region_slot(r, home);
	for (;;) {
		uint64_t w = atomic_load_explicit(&hs->hop, acquire);
		/* Read hop before re-checking ctrl: if the CAS below succeeds the hop
		 * word did not change since, so the bit is still this slot's life. */
		if (atomic_load_explicit(&s->ctrl, acquire) != c)
			return;
		if (bit >= REGION_NBHD || !(HOP_BITS(w) & (1u << bit)))
			break;
		/* Release pairs with the acquire loads of hop in find(). */
		if (atomic_compare_exchange_weak_explicit(&hs->hop, &w,
		                                          HOP_NEXT(w, HOP_BITS(w) & ~(1u << bit)),
		                                          release, relaxed))
			break;
	}
	/* Release pairs with the acquire claim in take(). */
	atomic_compare_exchange_strong_explicit(&s->ctrl, &c, CTRL_NEXT(c, SLOT_EMPTY), release,
	                                        relaxed);
}

/* Remove the published key *f if it is unchanged: its DYING CAS is the moment the
 * key stops existing.  False if it changed (decided on, or removed) meanwhile. */
static bool remove_found(const struct region *r, const struct found *f)
{
	uint64_t dying = CTRL_NEXT(f->ctrl, SLOT_DYING);
	if (!cas_pair(f->s, f->ctrl, f->last, dying, f->last))
		return false;
	finish_remove(r, f->slot, dying);
	return true;
}

/* Finish moving the key frozen in slot a (MOVING, ctrl c): in its home's hop word,
 * clear a's bit and set the destination's in one CAS, then free a.  Anyone may
 * call this; each step is a CAS that fails harmlessly if done already. */
static void finish_move(const struct region *r, uint32_t a, uint64_t c)
{
	struct region_slot *s = region_slot(r, a);
	uint32_t home = atomic_load_explicit(&s->home, relaxed) & r->mask;
	uint32_t from = (a - home) & r->mask, to = CTRL_OWNER(c);
	struct region_slot *hs = region_slot(r, home);
	for (;;) {
		uint64_t w = atomic_load_explicit(&hs->hop, acquire);
		/* Read hop before re-checking ctrl, as in finish_remove(). */
		if (atomic_load_explicit(&s->ctrl, acquire) != c)
			return;
		if (from >= REGION_NBHD || to >= REGION_NBHD || !(HOP_BITS(w) & (1u << from)))
			break;
		/* Release pairs with the acquire loads of hop in find(): the
		 * destination's key and last, written before the freeze, come with
		 * its bit. */
		uint32_t bits = (HOP_BITS(w) & ~(1u << from)) | (1u << to);
		if (atomic_compare_exchange_weak_explicit(&hs->hop, &w, HOP_NEXT(w, bits), release,
		                                          relaxed))
			break;
	}
	/* Release pairs with the acquire claim in take(). */
	atomic_compare_exchange_strong_explicit(&s->ctrl, &c, CTRL_NEXT(c, SLOT_EMPTY), release,
	                                        relaxed);
}

static bool take(struct region_slot *s, uint64_t c, unsigned tag, uint32_t owner, uint64_t *out);

/*
 * Move the published key in slot a to the EMPTY slot e, which must be in the key's
 * neighbourhood.  The copy is made in e first (unpublished); freezing a (CAS16 to
 * MOVING, which fails if the key was decided on or removed meanwhile) commits the
 * move, and finish_move() completes it.  True if a is free now.
 */
static bool move_key(const struct region *r, const struct table_client *me, uint32_t a,
                     uint32_t e)
{
	struct found f;
	if (!published(r, a, &f))
		return false;
	struct region_slot *sa = region_slot(r, a), *se = region_slot(r, e);
	uint32_t home = atomic_load_explicit(&sa->home, relaxed) & r->mask;
	uint32_t to = (e - home) & r->mask, len = atomic_load_explicit(&sa->key_len, relaxed);
	uint64_t c = atomic_load_explicit(&se->ctrl, acquire), ce;
	if (to >= REGION_NBHD || len == 0 || len > r->key_max || CTRL_STATE(c) != SLOT_EMPTY ||
	    !take(se, c, CTRL_TAG(f.ctrl), me->index, &ce))
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
	uint64_t moving = CTRL_MAKE(SLOT_MOVING, CTRL_TAG(f.ctrl), to, CTRL_GEN(f.ctrl) + 1u);
	if (atomic_load_explicit(&sa->ctrl, relaxed) != f.ctrl ||
	    !cas_pair(sa, f.ctrl, f.last, moving, f.last)) {
		/* Nobody saw the copy; release pairs with the acquire in take(). */
		atomic_store_explicit(&se->ctrl, CTRL_NEXT(ce, SLOT_EMPTY), release);
		return false;
	}
	finish_move(r, a, moving);
	return true;
}

/* Claim an EMPTY slot for an insert by client owner. */
static bool take(struct region_slot *s, uint64_t c, unsigned tag, uint32_t owner, uint64_t *out)
{
	uint64_t n = CTRL_MAKE(SLOT_CLAIMED, tag, owner, CTRL_GEN(c) + 1u);
	/* Acquire pairs with the release that freed the slot (finish_remove(),
	 * abort in insert()): the previous life's writes happen before ours. */
	if (!atomic_compare_exchange_strong_explicit(&s->ctrl, &c, n, acquire, relaxed))
		return false;
	*out = n;
	return true;
}

/* Reclaim the key in slot i if its window closed for every client. */
static bool reclaim(const struct region *r, const struct table_client *me, uint32_t i,
                    uint64_t horizon, uint64_t window)
{
	struct found f;
	if (!published(r, i, &f) || !window_closed(f.last, horizon, window) || !remove_found(r, &f))
		return false;
	count(me, CTR_RECLAIMED);
	return true;
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
		if (((e - its_home) & r->mask) < REGION_NBHD && move_key(r, me, a, e))
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
			if (take(s, c, k->tag, me->index, ctrl)) {
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
 * way), else one whose key's window closed for every client.  The horizon is read
 * from the clients' watermarks only then, so a client that joined with a lagging
 * clock is never passed over by a stale value.
 */
static bool claim(const struct region *r, const struct table_client *me, const struct hkey *k,
                  uint64_t window, uint32_t *slot, uint64_t *ctrl, bool *reclaimed)
{
	uint64_t last[REGION_NBHD];
	uint32_t keys = 0;
	for (uint32_t j = 0; j < REGION_NBHD; j++) {
		uint32_t i = (k->home + j) & r->mask;
		struct region_slot *s = region_slot(r, i);
		uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_DYING) {
			finish_remove(r, i, c);
			c = atomic_load_explicit(&s->ctrl, acquire);
		}
		if (CTRL_STATE(c) == SLOT_EMPTY && take(s, c, k->tag, me->index, ctrl)) {
			*slot = i;
			return true;
		}
		if (CTRL_STATE(c) == SLOT_CLAIMED) {
			last[j] = atomic_load_explicit(&s->last, relaxed);
			keys |= 1u << j;
		}
	}
	uint64_t horizon = keys != 0 ? table_horizon(r) : 0;
	for (; keys != 0; keys &= keys - 1) {
		uint32_t j = (uint32_t)__builtin_ctz(keys), i = (k->home + j) & r->mask;
		struct region_slot *s = region_slot(r, i);
		if (!window_closed(last[j], horizon, window) || !reclaim(r, me, i, horizon, window))
			continue;
		*reclaimed = true;
		uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_EMPTY && take(s, c, k->tag, me->index, ctrl)) {
			*slot = i;
			return true;
		}
	}
	return displace(r, me, k, slot, ctrl);
}

static int full(const struct region *r, const struct table_client *me, unsigned *info)
{
	count(me, CTR_FULL);
	*info |= EVT_INFO_FULL;
	switch (r->on_full) {
	case EVT_ON_FULL_PROCESS:
		count(me, CTR_PROCESSED);
		return 1;
	case EVT_ON_FULL_ERROR:
		return -ENOSPC;
	default:
		count(me, CTR_THROTTLED);
		return 0;
	}
}

/* k was absent under hop word w: insert it with last = ts.  -EAGAIN: another
 * client inserted k first; decide again. */
static int insert(const struct region *r, const struct table_client *me, const struct hkey *k,
                  uint64_t ts, uint64_t w, unsigned *info)
{
	uint32_t i;
	uint64_t c;
	bool reclaimed = false;
	/* For reclaiming expired keys.  Pairs with the release store in
	 * evt_update_window(). */
	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, acquire);
	if (!claim(r, me, k, window, &i, &c, &reclaimed))
		return full(r, me, info);
	struct region_slot *s = region_slot(r, i);
	atomic_store_explicit(&s->last, ts, relaxed);
	atomic_store_explicit(&s->home, k->home, relaxed);
	key_store(s, k);
	uint32_t bit = 1u << ((i - k->home) & r->mask);
	struct region_slot *home = region_slot(r, k->home);
	for (;;) {
		/* Publish.  Release pairs with the acquire loads of hop in find()
		 * and published(): the stores above are visible with the bit. */
		if (atomic_compare_exchange_weak_explicit(&home->hop, &w,
		                                          HOP_NEXT(w, HOP_BITS(w) | bit), release,
		                                          relaxed))
			break;
		struct found f;
		if (find(r, k, &f, &w)) {
			/* Lost the race to another insert of k.  Nobody can see our
			 * unpublished slot; release pairs with the acquire in take(). */
			atomic_store_explicit(&s->ctrl, CTRL_NEXT(c, SLOT_EMPTY), release);
			return -EAGAIN;
		}
	}
	count(me, CTR_NEW_KEYS);
	count(me, CTR_PROCESSED);
	*info |= EVT_INFO_NEW_KEY | (reclaimed ? EVT_INFO_RECLAIMED : 0);
	return 1;
}

/* Decide on a found key: throttle, or process if its {ctrl, last} did not change
 * since it was read; -EAGAIN if it did (decided on or removed meanwhile). */
static hot_inline int decide_found(const struct table_client *me, uint64_t ts,
                                   const struct found *f)
{
	if (!window_closed(f->last, ts, f->window)) {
		count(me, CTR_THROTTLED);
		return 0;
	}
	if (!cas_pair(f->s, f->ctrl, f->last, f->ctrl, ts))
		return -EAGAIN;
	count(me, CTR_PROCESSED);
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
		int rc = find(r, &k, &f, &w) ? decide_found(me, ts, &f) : insert(r, me, &k, ts, w, info);
		if (rc != -EAGAIN)
			return rc;
	}
}

/* A decision on a hashed key.  The common case, a key found on the first look, is
 * inlined here and kept short: its length decides how many decisions' cache misses
 * the CPU can overlap.  Everything else is a tail call to decide_slow(). */
static hot_inline int decide_key(const struct region *r, const struct table_client *me,
                                 uint64_t ts, const struct hkey *k, unsigned *info)
{
	note_ts(me, ts);
	struct found f;
	uint64_t w;
	if (__builtin_expect(find_once(r, k, &f, &w) == FIND_HIT, 1)) {
		int rc = decide_found(me, ts, &f);
		if (rc != -EAGAIN)
			return rc;
	}
	return decide_slow(r, me, ts, k->key, k->len, info);
}

/* Keys up to this long take XXH3's short-input path, which table_decide() inlines
 * with no call in it; longer ones are decided the same way in decide_long(). */
#define INLINE_KEY_MAX 16u

/* table_decide() for keys over INLINE_KEY_MAX: XXH3's longer paths (one of them a
 * call), apart so that the short keys' path saves fewer registers. */
static __attribute__((noinline, flatten)) int decide_long(const struct region *r,
                                                          const struct table_client *me,
                                                          uint64_t ts, const void *key,
                                                          uint32_t len, unsigned *info)
{
	struct hkey k = hkey_make(r, key, len);
	return decide_key(r, me, ts, &k, info);
}

/* flatten: the hash is inlined too, and the rare paths stay behind decide_slow(). */
__attribute__((flatten)) int table_decide(const struct region *r, const struct table_client *me,
                                          uint64_t ts, const void *key, uint32_t len,
                                          unsigned *info)
{
	if (__builtin_expect(len > INLINE_KEY_MAX, 0))
		return decide_long(r, me, ts, key, len, info);
	struct hkey k = hkey_make(r, key, len);
	return decide_key(r, me, ts, &k, info);
}

/* Start fetching the line a decision on a key reads first: its home slot, with the
 * hop word, the ctrl and most often the key itself. */
static hot_inline void prefetch_home(const struct region *r, uint32_t home)
{
	__builtin_prefetch(region_slot(r, home));
}

__attribute__((flatten)) void table_prefetch(const struct region *r, const void *key,
                                             uint32_t len)
{
	prefetch_home(r, table_home(r, key_hash(r, key, len)));
}

/* Events a batch hashes and prefetches before deciding them: about as many misses
 * as a core keeps in flight. */
#define BATCH_GROUP 16u

size_t table_decide_batch(const struct region *r, const struct table_client *me,
                          evt_event *ev, size_t n)
{
	size_t processed = 0;
	for (size_t at = 0; at < n; at += BATCH_GROUP) {
		size_t m = n - at < BATCH_GROUP ? n - at : BATCH_GROUP;
		evt_event *e = ev + at;
		struct hkey k[BATCH_GROUP];
		for (size_t j = 0; j < m; j++) {
			e[j].info = 0;
			e[j].result = table_key_check(r, e[j].key, e[j].key_len);
			if (e[j].result < 0)
				continue;
			k[j] = hkey_make(r, e[j].key, (uint32_t)e[j].key_len);
			prefetch_home(r, k[j].home);
		}
		for (size_t j = 0; j < m; j++) {
			if (e[j].result < 0)
				continue;
			e[j].result = decide_key(r, me, e[j].ts_ns, &k[j], &e[j].info);
			processed += e[j].result == 1;
		}
	}
	return processed;
}

int table_clear_key(const struct region *r, const struct table_client *me, const void *key,
                    uint32_t len)
{
	struct hkey k = hkey_make(r, key, len);
	for (;;) {
		struct found f;
		uint64_t w;
		if (!find(r, &k, &f, &w))
			return 0;
		if (remove_found(r, &f)) {
			count(me, CTR_CLEARED);
			return 1;
		}
	}
}

/* Remove the key published in slot i, if any: 1 if this call removed it. */
static int clear_slot(const struct region *r, const struct table_client *me, uint32_t i)
{
	struct found f;
	while (published(r, i, &f))
		if (remove_found(r, &f)) {
			count(me, CTR_CLEARED);
			return 1;
		}
	return 0;
}

uint64_t table_clear(const struct region *r, const struct table_client *me)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i <= r->mask; i++) {
		uint64_t c = atomic_load_explicit(&region_slot(r, i)->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_MOVING)
			finish_move(r, i, c);
	}
	for (uint32_t i = 0; i <= r->mask; i++)
		n += (uint64_t)clear_slot(r, me, i);
	/* Moves go forward, so a key moved while we scan stays ahead of us, except
	 * one moved across the end of the table into its first slots. */
	for (uint32_t i = 0; i < REGION_NBHD && i <= r->mask; i++)
		n += (uint64_t)clear_slot(r, me, i);
	return n;
}

uint64_t table_sweep(const struct region *r, const struct table_client *me)
{
	uint64_t horizon = table_horizon(r), n = 0;
	/* Pairs with the release store in evt_update_window(). */
	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, acquire);
	for (uint32_t i = 0; i <= r->mask; i++) {
		uint64_t c = atomic_load_explicit(&region_slot(r, i)->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_DYING)
			finish_remove(r, i, c);
		else if (CTRL_STATE(c) == SLOT_MOVING)
			finish_move(r, i, c);
		else if (CTRL_STATE(c) == SLOT_CLAIMED && reclaim(r, me, i, horizon, window))
			n++;
	}
	return n;
}

uint64_t table_free_orphans(const struct region *r, const uint64_t *dead, uint32_t ndead)
{
	/* First finish every move in flight: the dead client may have been moving a
	 * key into a slot it claimed, which is then no orphan.  And every removal, so
	 * that the key count the reaper then recounts (keycount.c) is final. */
	for (uint32_t i = 0; i <= r->mask; i++) {
		uint64_t c = atomic_load_explicit(&region_slot(r, i)->ctrl, acquire);
		if (CTRL_STATE(c) == SLOT_MOVING)
			finish_move(r, i, c);
		else if (CTRL_STATE(c) == SLOT_DYING)
			finish_remove(r, i, c);
	}
	uint64_t n = 0;
	for (uint32_t i = 0; i <= r->mask; i++) {
		struct region_slot *s = region_slot(r, i);
		uint64_t c = atomic_load_explicit(&s->ctrl, acquire);
		struct found f;
		unsigned owner = CTRL_OWNER(c);
		/* The owner is dead, so its claim can no longer become published. */
		if (CTRL_STATE(c) != SLOT_CLAIMED || owner >= ndead ||
		    !((dead[owner / 64] >> (owner % 64)) & 1) || published(r, i, &f))
			continue;
		/* Release pairs with the acquire in take(). */
		if (atomic_compare_exchange_strong_explicit(&s->ctrl, &c, CTRL_NEXT(c, SLOT_EMPTY),
		                                            release, relaxed))
			n++;
	}
	return n;
}

int table_read_slot(const struct region *r, uint32_t i, struct table_entry *e)
{
	struct found f;
	if (!published(r, i, &f))
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
	/* The copy is one life of the slot if ctrl did not move. */
	atomic_thread_fence(acquire);
	return atomic_load_explicit(&s->ctrl, relaxed) == f.ctrl;
}

uint64_t table_horizon(const struct region *r)
{
	struct region_hdr *h = r->hdr;
	uint32_t n = atomic_load_explicit(&h->client_hwm, acquire);
	if (n > r->client_max)
		n = r->client_max;
	uint64_t lo = REGION_WM_NONE;
	for (uint32_t i = 0; i < n; i++) {
		struct region_client *e = region_client(r, i);
		uint64_t owner = atomic_load_explicit(&e->owner, acquire);
		if ((owner >> 32) == CLIENT_FREE)
			continue;
		uint64_t wm = atomic_load_explicit(&e->wm, relaxed);
		if (wm < lo)
			lo = wm;
	}
	/* With no client holding a timestamp, the newest one any client had. */
	return lo != REGION_WM_NONE ? lo : atomic_load_explicit(&h->newest_ts, relaxed);
}
