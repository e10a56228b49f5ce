/* The region's client registry: who is attached, their watermarks and counters. */
#ifndef EVT_CLIENTS_H
#define EVT_CLIENTS_H

#include <sys/types.h>

#include "table.h"

#define CLIENT_OWNER(state, pid) ((uint64_t)(state) << 32 | (uint32_t)(pid))
#define CLIENT_STATE(owner) ((unsigned)((owner) >> 32))
#define CLIENT_PID(owner) ((pid_t)(uint32_t)(owner))

/* Take a free entry for this mapping, and its liveness lock (clients.c) on r->fd.
 * -EUSERS if none is free, or -errno of the lock (ENOLCK). */
int client_register(const struct region *r, struct table_client *me);

/* Give the entry back and unlock it if this process registered it (a forked
 * child's copy of a handle leaves it alone); its watermark is remembered in
 * newest_ts. */
void client_release(const struct region *r, const struct table_client *me);

/* Free the entries (and unpublished claims) that no handle holds any more: those
 * whose liveness lock the kernel released, all of them with one table_free_orphans().  me is the caller's own entry (entry
 * NULL if none), never reaped.  Returns how many. */
unsigned clients_reap_dead(const struct region *r, const struct table_client *me);

/* How many times this process's reapers scanned a table for orphans: once per
 * call of clients_reap_dead() that found any dead entry, whatever their number
 * (the tests read it; the scan is the reaper's whole cost). */
extern _Atomic uint64_t clients_orphan_scans;

/* Whether another open file of the region holds entry i's liveness lock: some
 * process holds the handle (read-only handles may ask; false without a file). */
bool client_held(const struct region *r, uint32_t i);

/* Sum every entry's counters (cumulative, whoever held it) into out. */
void clients_totals(const struct region *r, uint64_t out[CTR_COUNT], uint32_t *live);

/* The newest watermark of a live client, or, with none holding one, the newest a
 * departed client had: the table's "now" for those who do not decide. */
uint64_t clients_newest(const struct region *r);

/* The reclaim horizon seen from timestamp ref: the lowest watermark of the live
 * clients not more than client_idle behind ref, and at most ref.  A key whose
 * last + window <= it has a closed window for every active client whose clock
 * moves forward; reclaim forgets only such keys.  Read-only. */
uint64_t clients_horizon(const struct region *r, uint64_t ref);

#endif /* EVT_CLIENTS_H */
