/* The lock-free hash table inside a region: decisions, removal, iteration. */
#ifndef EVT_TABLE_H
#define EVT_TABLE_H

#include <errno.h>

#include "region.h"

/* Who is deciding: the client entry whose watermark and counters it updates. */
struct table_client {
	struct region_client *entry;
	uint32_t index;
	uint64_t forks; /* this process's forks when it registered (clients.c) */
	_Atomic uint64_t owner; /* counter_token of the thread that writes entry->ctr[]
	                           (counter.h); 0 until one claims it */
	uint64_t epoch; /* counter_epoch() when registered: a forked child never claims */
};

/* A key's hash (XXH3 with the region's seed): its home slot is table_home(), the
 * tag its slot's ctrl carries table_tag().  The decision inlines the same hash. */
uint64_t table_hash(const struct region *r, const void *key, uint32_t len);

static inline uint32_t table_home(const struct region *r, uint64_t hash)
{
	return (uint32_t)hash & r->mask;
}

static inline unsigned table_tag(uint64_t hash)
{
	return (unsigned)(hash >> 62); /* two bits: the ctrl word keeps the rest for the count */
}

/* 0 if key can be decided on: -EINVAL (NULL or empty), -EMSGSIZE (too long). */
static inline int table_key_check(const struct region *r, const void *key, size_t len)
{
	if (key == NULL || len == 0)
		return -EINVAL;
	return len > r->key_max ? -EMSGSIZE : 0;
}

/* 1 process, 0 throttle, or -ENOSPC / -ESTALE (full, stale, policy error): the
 * decision of evt_should_process() (whose common case is decide.h's), that also
 * reports the decision's EVT_INFO_* bits, reasons
 * included, in *info: non-NULL, 0 on entry (the common processed case has none and
 * never touches it). */
int table_decide_ex(const struct region *r, const struct table_client *me, uint64_t ts,
                    const void *key, uint32_t len, unsigned *info);

/* The answer to an event the rule denied with rc (0, -ENOSPC or -ESTALE), counted
 * as such already: rc, or 1 in shadow mode, reported in *info (EVT_INFO_SHADOW)
 * and counted in would_throttle. */
int table_denied(const struct region *r, const struct table_client *me, unsigned *info, int rc);

/* What table_cached() does with an event the table cannot throttle: the next
 * tier (a global throttle's Redis), called with its arguments (info NULL) as a
 * tail call, so that the common case keeps nothing across a call. */
typedef int table_miss_fn(const struct region *r, const struct table_client *me, uint64_t ts,
                          const void *key, uint32_t len, unsigned *info);

/* A global throttle's local tier (lib/global.c): 0 if the table holds key with a
 * last that throttles ts under the rule of limit 1 (ts before last, or inside
 * its window), counted as table_decide() counts it (1 in shadow mode, counted as
 * table_denied() does); if it does not (absent, or its window closed at ts),
 * changing nothing, miss's answer.  The
 * common case, a key found on the first look and inside its window, costs what
 * table_decide()'s throttle costs, without the watermark (a cached last is no
 * event of this client).  The key must have passed table_key_check(). */
int table_cached(const struct region *r, const struct table_client *me, uint64_t ts,
                 const void *key, uint32_t len, table_miss_fn *miss);

/* table_cached() with the throttle's reason in *info (non-NULL): its answer (0,
 * or 1 in shadow mode) where the table throttles, TABLE_NEXT where it cannot. */
#define TABLE_NEXT 2
int table_cached_ex(const struct region *r, const struct table_client *me, uint64_t ts,
                    const void *key, uint32_t len, unsigned *info);

/* The answer table_decide_ex() would give now, changing nothing but the peeks counter
 * of me (NULL: none, a read-only handle).  A key not tracked gets a new key's
 * answer (1, or the on_stale policy's if reclaim forgot too recently); whether the
 * table has room for it is not looked at.  The key must have passed
 * table_key_check(). */
int table_peek(const struct region *r, const struct table_client *me, uint64_t ts,
               const void *key, uint32_t len);

/* Start fetching the line a decision on key reads first; returns the key's hash.
 * The key must have passed table_key_check(). */
uint64_t table_prefetch(const struct region *r, const void *key, uint32_t len);

/* Hash key (which must have passed table_key_check()) and read its last word into
 * *out, and start fetching its home slot: evt_prefetch_key().  Returns 0 (so that
 * the wrapper's call is a tail call). */
int table_prefetch_key(const struct region *r, const void *key, uint32_t len, evt_key *out);

/* table_decide_ex() on a key table_prefetch_key() made (info non-NULL): its hash
 * and last word are used if it was made with this region's seed, else the key is
 * hashed again.  The key must have passed table_key_check(). */
int table_decide_key(const struct region *r, const struct table_client *me, uint64_t ts,
                     const evt_key *k, unsigned *info);

/* Remove one key; 1 if it was there, 0 if not. */
int table_clear_key(const struct region *r, const struct table_client *me, const void *key,
                    uint32_t len);

/* Remove every published key; returns how many. */
uint64_t table_clear(const struct region *r, const struct table_client *me);

/* Reclaim every key whose window closed for every client (as an insert would
 * when it needs room) and finish removals left by dead clients.  Returns how many
 * keys went. */
uint64_t table_sweep(const struct region *r, const struct table_client *me);

/* Free the slots that dead clients claimed but never published: dead is a bitmap
 * of ndead client indexes (bit i of word i / 64), those of the dead.  Two passes over
 * the table whatever the number of dead.  Returns how many slots it freed. */
uint64_t table_free_orphans(const struct region *r, const uint64_t *dead, uint32_t ndead);

/* A consistent copy of one published key, for the tools. */
struct table_entry {
	uint32_t slot, home, len;
	uint32_t processed; /* events processed in the window that opened at last */
	uint64_t last;
	unsigned char key[REGION_KEY_MAX];
};

/* Copy slot i if it holds a published key: 1 copied, 0 not a key now. */
int table_read_slot(const struct region *r, uint32_t i, struct table_entry *e);

/* For tests only: called by table_clear() before each slot it looks at. */
extern void (*table_clear_hook)(const struct region *r, uint32_t slot);

#endif /* EVT_TABLE_H */
