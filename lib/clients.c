/* The client registry.  Each read-write handle owns one entry: its watermark (the
 * latest timestamp it decided on) bounds what may be reclaimed, and its counters
 * are written by it alone, so no counter line is shared between processes. */
#include "clients.h"

#include <errno.h>
#include <signal.h>
#include <unistd.h>

static uint32_t hwm(const struct region *r)
{
	uint32_t n = atomic_load_explicit(&r->hdr->client_hwm, memory_order_acquire);
	return n < r->client_max ? n : r->client_max;
}

static void raise_u32(_Atomic uint32_t *v, uint32_t want)
{
	uint32_t cur = atomic_load_explicit(v, memory_order_relaxed);
	while (cur < want && !atomic_compare_exchange_weak_explicit(v, &cur, want, memory_order_release,
	                                                            memory_order_relaxed))
		;
}

int client_register(const struct region *r, struct table_client *me)
{
	for (uint32_t i = 0; i < r->client_max; i++) {
		struct region_client *e = region_client(r, i);
		uint64_t o = atomic_load_explicit(&e->owner, memory_order_acquire);
		if (CLIENT_STATE(o) != CLIENT_FREE)
			continue;
		/* Raise client_hwm before taking the entry, so an entry in use is always
		 * below it (seen by the horizon and the reaper) even if we die here. */
		raise_u32(&r->hdr->client_hwm, i + 1);
		/* Acquire pairs with the release in retire(). */
		if (!atomic_compare_exchange_strong_explicit(&e->owner, &o,
		                                             CLIENT_OWNER(CLIENT_LIVE, getpid()),
		                                             memory_order_acquire, memory_order_relaxed))
			continue;
		atomic_store_explicit(&e->attach_unix_ns, region_unix_now_ns(), memory_order_relaxed);
		atomic_store_explicit(&e->wm, REGION_WM_NONE, memory_order_relaxed);
		for (int k = 0; k < CTR_COUNT; k++)
			atomic_store_explicit(&e->base[k],
			                      atomic_load_explicit(&e->ctr[k], memory_order_relaxed),
			                      memory_order_relaxed);
		*me = (struct table_client){ e, i };
		return 0;
	}
	return -EUSERS;
}

/* Free entry e if its owner word is still `owner`. */
static void retire(const struct region *r, struct region_client *e, uint64_t owner)
{
	uint64_t wm = atomic_load_explicit(&e->wm, memory_order_relaxed);
	if (wm != REGION_WM_NONE)
		region_raise(&r->hdr->newest_ts, wm);
	/* Release pairs with the acquire CAS in client_register(). */
	atomic_compare_exchange_strong_explicit(&e->owner, &owner, CLIENT_OWNER(CLIENT_FREE, 0),
	                                        memory_order_release, memory_order_relaxed);
}

void client_release(const struct region *r, const struct table_client *me)
{
	/* A child forked after attaching closes its copy of the handle, not the
	 * parent's entry: only the process that registered gives it back. */
	retire(r, me->entry, CLIENT_OWNER(CLIENT_LIVE, getpid()));
}

static bool process_gone(pid_t pid)
{
	return pid > 0 && kill(pid, 0) < 0 && errno == ESRCH;
}

unsigned clients_reap_dead(const struct region *r)
{
	unsigned n = 0;
	pid_t self = getpid();
	for (uint32_t i = 0; i < hwm(r); i++) {
		struct region_client *e = region_client(r, i);
		uint64_t o = atomic_load_explicit(&e->owner, memory_order_acquire);
		/* A REAPING entry whose reaper died is taken over the same way. */
		if (CLIENT_STATE(o) == CLIENT_FREE || CLIENT_PID(o) == self ||
		    !process_gone(CLIENT_PID(o)))
			continue;
		if (!atomic_compare_exchange_strong_explicit(&e->owner, &o,
		                                             CLIENT_OWNER(CLIENT_REAPING, self),
		                                             memory_order_acquire, memory_order_relaxed))
			continue;
		table_free_orphans(r, i);
		retire(r, e, CLIENT_OWNER(CLIENT_REAPING, self));
		n++;
	}
	return n;
}

void clients_totals(const struct region *r, uint64_t out[CTR_COUNT], uint32_t *live)
{
	for (int k = 0; k < CTR_COUNT; k++)
		out[k] = 0;
	*live = 0;
	for (uint32_t i = 0; i < hwm(r); i++) {
		struct region_client *e = region_client(r, i);
		if (CLIENT_STATE(atomic_load_explicit(&e->owner, memory_order_relaxed)) == CLIENT_LIVE)
			(*live)++;
		for (int k = 0; k < CTR_COUNT; k++)
			out[k] += atomic_load_explicit(&e->ctr[k], memory_order_relaxed);
	}
}

uint64_t clients_newest(const struct region *r)
{
	uint64_t hi = 0;
	bool any = false;
	for (uint32_t i = 0; i < hwm(r); i++) {
		struct region_client *e = region_client(r, i);
		uint64_t owner = atomic_load_explicit(&e->owner, memory_order_acquire);
		uint64_t wm = atomic_load_explicit(&e->wm, memory_order_relaxed);
		if (CLIENT_STATE(owner) == CLIENT_FREE || wm == REGION_WM_NONE)
			continue;
		any = true;
		hi = wm > hi ? wm : hi;
	}
	return any ? hi : atomic_load_explicit(&r->hdr->newest_ts, memory_order_relaxed);
}

uint64_t clients_horizon(const struct region *r, uint64_t ref)
{
	uint64_t idle = atomic_load_explicit(&r->hdr->client_idle_ns, memory_order_relaxed), lo = ref;
	for (uint32_t i = 0; i < hwm(r); i++) {
		struct region_client *e = region_client(r, i);
		uint64_t owner = atomic_load_explicit(&e->owner, memory_order_acquire);
		uint64_t wm = atomic_load_explicit(&e->wm, memory_order_relaxed);
		/* An idle client (more than client_idle behind ref) is passed over: it
		 * is served conservatively if it comes back with old timestamps. */
		if (CLIENT_STATE(owner) != CLIENT_FREE && wm < lo && ref - wm <= idle)
			lo = wm;
	}
	return lo;
}
