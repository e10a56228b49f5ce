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

/* The longest the housekeeping thread waits on Redis in one round, every
 * throttle and subscription together (a throttle's timeout bounds a decision,
 * not the daemon: its heartbeat must not wait on Redis). */
#define GLOBAL_ROUND_WAIT_NS 150000000ull

/* Read the window and the epoch Redis holds and apply them, the epoch whatever
 * its direction (the housekeeping thread's, each round, outside the guard: it
 * takes the guard for the region only, never across the read), by until
 * (evt_now_ns()'s clock; nothing when it has passed). */
void global_sync(struct managed *m, uint64_t until);

/* Apply a change received on the throttle's channel: a window or a key under the
 * guard; a clear by reading Redis's epoch (global_sync(), within
 * GLOBAL_ROUND_WAIT_NS), never the message's own. */
void global_apply(struct managed *m, const struct global_change *c);

/* Drop the throttle's cached answers: its subscription is new, and a one-key
 * clear published while it was down never arrived. */
void global_forget(struct managed *m);

#endif
