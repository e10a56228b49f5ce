/* Runtime changes recorded in the region's header (see audit.h). */
#include "audit.h"

#include <unistd.h>

void audit_note(struct region *r, enum audit_kind kind, uint64_t value)
{
	struct region_hdr *h = r->hdr;
	uint64_t who = (uint64_t)getuid() << 32 | (uint64_t)kind << 24 | ((uint64_t)getpid() & 0xffffff);
	atomic_store_explicit(&h->change_value, value, memory_order_relaxed);
	atomic_store_explicit(&h->change_who, who, memory_order_relaxed);
	/* Release pairs with the acquire in audit_last(): the record is visible
	 * with the count. */
	atomic_fetch_add_explicit(&h->change_seq, 1, memory_order_release);
}

void audit_last(const struct region *r, struct audit_change *out)
{
	const struct region_hdr *h = r->hdr;
	/* Pairs with the release in audit_note(). */
	out->seq = atomic_load_explicit(&h->change_seq, memory_order_acquire);
	uint64_t who = atomic_load_explicit(&h->change_who, memory_order_relaxed);
	out->value = atomic_load_explicit(&h->change_value, memory_order_relaxed);
	out->uid = (uint32_t)(who >> 32);
	out->kind = (enum audit_kind)((who >> 24) & 0xff);
	out->pid = (uint32_t)(who & 0xffffff);
}
