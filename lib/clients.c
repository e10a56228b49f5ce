/* The client registry.  Each read-write handle owns one entry: its watermark (the
 * latest timestamp it decided on) bounds what may be reclaimed, and its counters
 * are written by it alone, so no counter line is shared between processes.
 *
 * Liveness is a lock the kernel keeps, never a pid: the handle holding entry i
 * holds an OFD write lock (F_OFD_SETLK) on the entry's first byte in the region's
 * file, through the descriptor it keeps open while mapped (O_CLOEXEC).  An OFD
 * lock belongs to the open file description, which fork() shares, and is released
 * when its last descriptor closes: when every process holding the handle (a child
 * forked after the attach included) closed it, exec'd or died.  Whoever can lock
 * an in-use entry's byte knows that nobody holds the entry.  Pid namespaces play
 * no part; the owner word's pid is information for the tools.  (Advisory locks do
 * not affect the mapping, and flock(), which the daemon takes on the same file, is
 * a separate kind of lock on Linux.)  A private region has no file and nobody
 * else to attach to it: no lock, and nothing to reap. */
#include "clients.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "counter.h"
#include "keycount.h"

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

/* The byte of the region's file that stands for entry i: its first. */
static off_t entry_byte(const struct region *r, uint32_t i)
{
	return (off_t)((const unsigned char *)region_client(r, i) - (const unsigned char *)r->hdr);
}

/* Lock (F_WRLCK) or unlock (F_UNLCK) entry i's byte through this mapping's file:
 * 0, or -1 with errno (EAGAIN or EACCES: another open file holds it). */
static int entry_lock(const struct region *r, uint32_t i, short type)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = entry_byte(r, i),
		.l_len = 1,
	};
	return fcntl(r->fd, F_OFD_SETLK, &fl);
}

bool client_held(const struct region *r, uint32_t i)
{
	struct flock fl = {
		.l_type = F_WRLCK,
		.l_whence = SEEK_SET,
		.l_start = entry_byte(r, i),
		.l_len = 1,
	};
	/* F_OFD_GETLK needs no write access: read-only tools use it too. */
	return r->fd >= 0 && fcntl(r->fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

/* Take entry i's lock for a registration: 1 taken (or no file), 0 held by
 * another handle, or -errno. */
static int register_lock(const struct region *r, uint32_t i)
{
	if (r->fd < 0 || entry_lock(r, i, F_WRLCK) == 0)
		return 1;
	return errno == EAGAIN || errno == EACCES ? 0 : -errno;
}

static void entry_unlock(const struct region *r, uint32_t i)
{
	if (r->fd >= 0)
		entry_lock(r, i, F_UNLCK);
}

/* Forks this process made since the library was loaded.  A handle registered
 * before a fork may be in use by children when its opener closes it: then the
 * entry is left to the lock they share (see client_release()). */
static _Atomic uint64_t forks;
static pthread_once_t forks_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
	atomic_fetch_add_explicit(&forks, 1, memory_order_relaxed);
}

static void count_forks(void)
{
	pthread_atfork(NULL, count_fork, NULL);
}

int client_register(const struct region *r, struct table_client *me)
{
	pthread_once(&forks_once, count_forks);
	counter_init();
	for (uint32_t i = 0; i < r->client_max; i++) {
		struct region_client *e = region_client(r, i);
		uint64_t o = atomic_load_explicit(&e->owner, memory_order_acquire);
		if (CLIENT_STATE(o) != CLIENT_FREE)
			continue;
		/* The lock first: from the CAS below on, a reaper must find it held. */
		int rc = register_lock(r, i);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		/* Raise client_hwm before taking the entry, so an entry in use is always
		 * below it (seen by the horizon and the reaper) even if we die here. */
		raise_u32(&r->hdr->client_hwm, i + 1);
		/* Acquire pairs with the release in retire(). */
		if (!atomic_compare_exchange_strong_explicit(&e->owner, &o,
		                                             CLIENT_OWNER(CLIENT_LIVE, getpid()),
		                                             memory_order_acquire, memory_order_relaxed)) {
			entry_unlock(r, i);
			continue;
		}
		atomic_store_explicit(&e->attach_unix_ns, region_unix_now_ns(), memory_order_relaxed);
		atomic_store_explicit(&e->wm, REGION_WM_NONE, memory_order_relaxed);
		for (int k = 0; k < CTR_COUNT; k++)
			atomic_store_explicit(&e->base[k], client_ctr(e, k), memory_order_relaxed);
		*me = (struct table_client){ e, i, atomic_load_explicit(&forks, memory_order_relaxed),
			                     0, counter_epoch() };
		return 0;
	}
	return -EUSERS;
}

/* Free entry e if its owner word is still `owner`; true if it did. */
static bool retire(const struct region *r, struct region_client *e, uint64_t owner)
{
	uint64_t wm = atomic_load_explicit(&e->wm, memory_order_relaxed);
	if (wm != REGION_WM_NONE)
		region_raise(&r->hdr->newest_ts, wm);
	/* Release pairs with the acquire CAS in client_register(). */
	return atomic_compare_exchange_strong_explicit(&e->owner, &owner,
	                                               CLIENT_OWNER(CLIENT_FREE, 0),
	                                               memory_order_release, memory_order_relaxed);
}

void client_release(const struct region *r, const struct table_client *me)
{
	/* A child forked after attaching closes its copy of the handle, not the
	 * parent's entry: only the process that registered, whose getpid() is the one
	 * it wrote, gives it back and unlocks (the lock is the parent's too).  And
	 * not even it once it has forked since: children may still decide with the
	 * entry.  Their descriptors keep the lock (one open file, shared by fork), so
	 * the entry is reaped when the last of them closes or dies. */
	if (atomic_load_explicit(&forks, memory_order_relaxed) != me->forks)
		return;
	if (retire(r, me->entry, CLIENT_OWNER(CLIENT_LIVE, getpid())))
		entry_unlock(r, me->index);
}

/* Entry i is in use and nobody holds its lock: lock it and mark it REAPING (a
 * REAPING entry whose reaper died is taken over the same way).  True if taken. */
static bool take_dead(const struct region *r, uint32_t i)
{
	struct region_client *e = region_client(r, i);
	if (CLIENT_STATE(atomic_load_explicit(&e->owner, memory_order_relaxed)) == CLIENT_FREE ||
	    entry_lock(r, i, F_WRLCK) < 0)
		return false;
	/* Locked: no handle holds the entry and none can register it while we hold
	 * the lock.  Read again: its holder may have retired it before we locked.
	 * Acquire pairs with the release in retire() and client_register()'s CAS. */
	uint64_t o = atomic_load_explicit(&e->owner, memory_order_acquire);
	if (CLIENT_STATE(o) != CLIENT_FREE &&
	    atomic_compare_exchange_strong_explicit(&e->owner, &o,
	                                            CLIENT_OWNER(CLIENT_REAPING, getpid()),
	                                            memory_order_acquire, memory_order_relaxed))
		return true;
	entry_unlock(r, i);
	return false;
}

_Atomic uint64_t clients_orphan_scans;

static bool bit(const uint64_t *map, uint32_t i)
{
	return (map[i / 64] >> (i % 64)) & 1;
}

unsigned clients_reap_dead(const struct region *r, const struct table_client *me)
{
	if (r->fd < 0)
		return 0;
	/* Take every dead entry first (each stays locked), then free all their
	 * orphans in one scan of the table, then give them back. */
	uint64_t dead[(REGION_CLIENT_MAX + 63) / 64] = { 0 };
	uint32_t n = hwm(r);
	unsigned found = 0;
	for (uint32_t i = 0; i < n; i++) {
		/* Our own entry's lock is ours: locking it again would succeed. */
		if ((me->entry != NULL && i == me->index) || !take_dead(r, i))
			continue;
		dead[i / 64] |= 1ull << (i % 64);
		found++;
	}
	if (found > 0) {
		table_free_orphans(r, dead, n);
		atomic_fetch_add_explicit(&clients_orphan_scans, 1, memory_order_relaxed);
		/* A dead client may have changed the table without counting it. */
		keycount_owe(r);
		for (uint32_t i = 0; i < n; i++)
			if (bit(dead, i)) {
				retire(r, region_client(r, i), CLIENT_OWNER(CLIENT_REAPING, getpid()));
				entry_unlock(r, i);
			}
	}
	/* Also retried by later reapers (attaches, the daemon) until it succeeds. */
	keycount_settle(r);
	return found;
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
			out[k] += client_ctr(e, k);
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
