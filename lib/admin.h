/* Admin handles (EVT_ADMIN): an operator's handle takes no client entry, so the
 * keys it clears are counted in the header instead, and added to the totals. */
#ifndef EVT_ADMIN_H
#define EVT_ADMIN_H

#include "region.h"

static inline void admin_count_cleared(struct region *r, uint64_t n)
{
	atomic_fetch_add_explicit(&r->hdr->admin_cleared, n, memory_order_relaxed);
}

/* Add what admin handles did to totals summed over the client entries. */
static inline void admin_add_totals(const struct region *r, uint64_t c[CTR_COUNT])
{
	c[CTR_CLEARED] += atomic_load_explicit(&r->hdr->admin_cleared, memory_order_relaxed);
}

#endif
