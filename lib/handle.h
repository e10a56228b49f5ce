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
	uint32_t decide_9to16; /* decide_span_9to16(decide_len_max): a key of 9 to 16
	                          bytes it may decide, and the length class of the
	                          inlined decision (decide.h), in one compare */
	bool admin;              /* EVT_ADMIN: no client entry, no decisions */
	char name[EVT_NAME_MAX + 1]; /* "" for an anonymous throttle */
	struct region_client scratch; /* an admin handle's counters, process-local */
	struct global_handle *global; /* a global region's read-write handle: its Redis side */
	uint32_t cached_len_max; /* min(r.key_max, 16) on a global read-write handle,
	                            else 0: the keys its local tier's common case
	                            (decide.h, cached) takes, in one compare */
	uint32_t cached_9to16;   /* decide_span_9to16(cached_len_max): those of 9 to 16
	                            bytes, in one compare */
};

/* key_len - 9 < this: a key of 9 to 16 bytes, at most len_max. */
static inline uint32_t decide_span_9to16(uint32_t len_max)
{
	return len_max <= 8 ? 0 : len_max >= 16 ? 8 : len_max - 8;
}

/* Let t decide keys up to len_max bytes in its table (0: none). */
static inline void handle_decides(struct evt_throttle *t, uint32_t len_max)
{
	t->decide_len_max = len_max;
	t->decide_9to16 = decide_span_9to16(len_max);
}

/* Let t, a global read-write handle, decide in its local tier's common case the
 * keys of up to 16 bytes (decide.h: INLINE_KEY_MAX). */
static inline void handle_caches(struct evt_throttle *t)
{
	t->cached_len_max = t->r.key_max < 16 ? t->r.key_max : 16;
	t->cached_9to16 = decide_span_9to16(t->cached_len_max);
}

/* A handle on the mapping r, with no client entry yet (me zeroed, for the caller). */
static inline struct evt_throttle handle_make(const struct region *r)
{
	uint32_t len_max = r->readonly ? 0 : r->key_max;
	return (struct evt_throttle){ .r = *r, .decide_len_max = len_max,
		                      .decide_9to16 = decide_span_9to16(len_max) };
}

#endif /* EVT_HANDLE_H */
