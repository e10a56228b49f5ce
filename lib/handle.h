/* The handle behind the public evt_throttle, for the daemon, the tools and the
 * tests, which need the region itself (never part of the public API). */
#ifndef EVT_HANDLE_H
#define EVT_HANDLE_H

#include "global.h"
#include "region.h"
#include "table.h"

struct evt_throttle {
	struct region r;
	struct table_client me; /* entry is NULL on a read-only handle, &scratch on
	                           an admin one */
	uint32_t decide_len_max; /* r.key_max, or 0 on a read-only, admin or global
	                            handle: the decision's checks in one compare */
	bool admin;              /* EVT_ADMIN: no client entry, no decisions */
	char name[EVT_NAME_MAX + 1]; /* "" for an anonymous throttle */
	struct region_client scratch; /* an admin handle's counters, process-local */
	struct global_handle *global; /* a global region's read-write handle: its Redis side */
};

/* A handle on the mapping r, with no client entry yet (me zeroed, for the caller). */
static inline struct evt_throttle handle_make(const struct region *r)
{
	return (struct evt_throttle){ .r = *r, .decide_len_max = r->readonly ? 0 : r->key_max };
}

#endif /* EVT_HANDLE_H */
