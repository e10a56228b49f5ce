/*
 * The key count.  Each client counts its own changes (new_keys, reclaimed,
 * cleared) just after making them, so a client killed in between leaves the count
 * one off: a publish not counted (+1 in the table), or a removal not counted.
 * The reaper, which finds such clients, finishes their half-done removals and
 * moves (table_free_orphans()) and says a recount is owed (keys_owed); the next
 * quiet moment's recount stores keys_adjust = published - counted, which the
 * count adds from then on.  Live clients keep the count exact by counting each
 * change they make, so the correction stays right until the next death.
 */
#include "keycount.h"

#include "admin.h"
#include "clients.h"

int64_t keycount_of(const struct region *r, const uint64_t c[CTR_COUNT])
{
	int64_t adjust = atomic_load_explicit(&r->hdr->keys_adjust, memory_order_relaxed);
	return (int64_t)(c[CTR_NEW_KEYS] - c[CTR_RECLAIMED] - c[CTR_CLEARED]) + adjust;
}

void keycount_owe(const struct region *r)
{
	/* Release pairs with the acquire in keycount_settle(): a recount that sees
	 * the debt sees the reaper's repairs before it. */
	atomic_fetch_add_explicit(&r->hdr->keys_owed, 1, memory_order_release);
}

uint64_t keycount_published(const struct region *r)
{
	uint64_t n = 0;
	for (uint32_t i = 0; i <= r->mask; i++)
		n += (uint64_t)__builtin_popcount(
			HOP_BITS(atomic_load_explicit(&region_slot(r, i)->hop, memory_order_acquire)));
	return n;
}

/* The counters the count is made of, with admin handles' clears, now. */
static void count_totals(const struct region *r, uint64_t out[CTR_COUNT])
{
	uint32_t live;
	clients_totals(r, out, &live);
	admin_add_totals(r, out);
}

/* Whether any change to the count happened between a and b (decisions on keys
 * already there do not matter: a busy throttle still gets its recount). */
static bool count_unchanged(const uint64_t a[CTR_COUNT], const uint64_t b[CTR_COUNT])
{
	return a[CTR_NEW_KEYS] == b[CTR_NEW_KEYS] && a[CTR_RECLAIMED] == b[CTR_RECLAIMED] &&
	       a[CTR_CLEARED] == b[CTR_CLEARED];
}

/* keys_adjust and keys_owed, one 16-byte pair (offsets 160 and 168). */
_Static_assert(offsetof(struct region_hdr, keys_owed) == offsetof(struct region_hdr, keys_adjust) + 8,
               "the recount's pair");
_Static_assert(offsetof(struct region_hdr, keys_adjust) % 16 == 0, "the recount's pair is aligned");

bool keycount_settle(const struct region *r)
{
	struct region_hdr *h = r->hdr;
	/* Acquire pairs with the release in keycount_owe(). */
	uint64_t owed = atomic_load_explicit(&h->keys_owed, memory_order_acquire);
	if (owed == 0)
		return true;
	int64_t adjust = atomic_load_explicit(&h->keys_adjust, memory_order_relaxed);
	/* Counters, table, counters, table, counters: all equal means no client
	 * counted or changed a key during the two passes (one caught between its
	 * change and its count for that whole time is the one case left). */
	uint64_t t0[CTR_COUNT], t1[CTR_COUNT], t2[CTR_COUNT];
	count_totals(r, t0);
	uint64_t p1 = keycount_published(r);
	count_totals(r, t1);
	uint64_t p2 = keycount_published(r);
	count_totals(r, t2);
	if (p1 != p2 || !count_unchanged(t0, t1) || !count_unchanged(t1, t2))
		return false;
	int64_t counted = (int64_t)(t2[CTR_NEW_KEYS] - t2[CTR_RECLAIMED] - t2[CTR_CLEARED]);
	/* {adjust, owed} -> {new adjust, 0} in one step, only if neither moved since
	 * they were read: another settler, or another death reported meanwhile,
	 * wins, and a recount that lost stores nothing stale.  A full barrier. */
	return region_cas16((void *)&h->keys_adjust, (uint64_t)adjust, owed,
	                    (uint64_t)((int64_t)p1 - counted), 0);
}
