/* The region's client registry: who is attached, their watermarks and counters. */
#ifndef EVT_CLIENTS_H
#define EVT_CLIENTS_H

#include <sys/types.h>

#include "table.h"

#define CLIENT_OWNER(state, pid) ((uint64_t)(state) << 32 | (uint32_t)(pid))
#define CLIENT_STATE(owner) ((unsigned)((owner) >> 32))
#define CLIENT_PID(owner) ((pid_t)(uint32_t)(owner))

/* Take a free entry for this process.  -EUSERS if none is free. */
int client_register(const struct region *r, struct table_client *me);

/* Give the entry back if this process registered it (a forked child's copy of a
 * handle leaves it alone); its watermark is remembered in newest_ts. */
void client_release(const struct region *r, const struct table_client *me);

/* Free the entries (and unpublished claims) of processes that no longer exist.
 * Uses kill(pid, 0): all clients must share one pid namespace.  Returns how many. */
unsigned clients_reap_dead(const struct region *r);

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
