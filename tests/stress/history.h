/* The recorded run, read back after every process is gone. */
#ifndef EVT_STRESS_HISTORY_H
#define EVT_STRESS_HISTORY_H

#include "checker.h"
#include "stress.h"

/* Real-time stretches while the daemon was dead, [kill, up again]. */
struct downtimes {
	uint64_t (*at)[2];
	size_t n;
};

struct totals {
	uint64_t recorded, processed, throttled, nospace, stale, errors, pending;
	uint64_t pending_calls;    /* calls cut short: a batch's unfinished events are one */
	uint64_t pending_unkilled; /* unfinished calls of processes never killed: a bug */
	uint64_t batched, batch_calls; /* through evt_should_process_batch() */
	uint64_t batch_pending, batch_pending_calls;
	uint32_t threads, batch_threads; /* client sources, those deciding in batches */
	uint64_t max_dur;          /* longest finished call, ns */
	uint32_t max_dur_src;
	uint64_t in_downtime;      /* finished calls that started while the daemon was dead */
};

void history_totals(struct shared *sh, const struct downtimes *down, struct totals *t);

/* Feed the change log and every decision to c (initialized here).  -1: out of
 * memory or no window change logged. */
int history_check(struct shared *sh, const struct opts *o, uint64_t recorded,
                  struct checker *c);

#endif
