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

#endif /* EVT_CLIENTS_H */
