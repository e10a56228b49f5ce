/* evthrottled's resolutions of its global throttles' Redis host names: each
 * round starts a lookup (on a thread of its own, lib/resolve.h) for every throttle
 * whose endpoint is a name, at most once a second, and takes the answers within a
 * share of the round's wait; a new address is published in the region (and used
 * by the daemon's own connections), a failure keeps the last good one.  Failures
 * and recoveries are logged once each.  The housekeeping thread's. */
#ifndef EVTD_DNS_H
#define EVTD_DNS_H

#include <stdint.h>

#include "regions.h"

/* The least time between two lookups of one throttle's host. */
#define DNS_EVERY_NS 1000000000ull
/* The most a round waits for the answers, out of GLOBAL_ROUND_WAIT_NS. */
#define DNS_ROUND_WAIT_NS 50000000ull
/* A lookup unanswered this long is a failure (glibc's resolver gives up sooner
 * with its defaults); the next starts a period later. */
#define DNS_GIVE_UP_NS 10000000000ull

/* At manage (the main thread, before the housekeeping thread sees m): log a
 * failure of the creator's resolution (evt_create()) once, as a round would. */
void dns_managed(struct managed *m);

/* Start looking m's host up if it is a name, none is in flight and the last began
 * DNS_EVERY_NS ago or more. */
void dns_start(struct managed *m);

/* Take the answer of m's lookup in flight, waiting until `until` (evt_now_ns())
 * at most, and apply it (under the SIGBUS guard, for the region). */
void dns_collect(struct managed *m, uint64_t until);

#endif
