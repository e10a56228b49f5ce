/* evthrottled's side of its global throttles: the outage and the recovery logged
 * once each, from the status the clients leave in the region; the changes made on
 * other hosts applied to the region, as pushed (pubsub.h) and as read each round. */
#ifndef EVTD_GLOBALWATCH_H
#define EVTD_GLOBALWATCH_H

#include "global.h"
#include "regions.h"

/* One look at the status (the housekeeping thread's, each round, under the SIGBUS
 * guard), with the region's totals. */
void global_watch(struct managed *m, const evt_stats *st);

/* Read the window and the epoch Redis holds and apply them (the housekeeping
 * thread's, each round, outside the guard: it takes the guard for the region
 * only, never across the read). */
void global_sync(struct managed *m);

/* Apply a change received on the throttle's channel (under the guard). */
void global_apply(struct managed *m, const struct global_change *c);

#endif
