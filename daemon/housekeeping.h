/* The daemon's background work, never on the clients' path: reap dead clients,
 * keep the reclaim horizon current, sweep expired keys, heartbeat, summaries. */
#ifndef EVTD_HOUSEKEEPING_H
#define EVTD_HOUSEKEEPING_H

#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "regions.h"

struct daemon_state {
	/* The current configuration: read with rcu_dereference() under
	 * rcu_read_lock(), replaced with rcu_assign_pointer() + synchronize_rcu(). */
	struct daemon_config *cfg;
	/* Append-only: entries below n_managed are complete (release/acquire). */
	struct managed managed[CONFIG_THROTTLES_MAX];
	_Atomic size_t n_managed;
	pthread_mutex_t lock; /* with wake: lets stop interrupt the sleep */
	pthread_cond_t wake;
	bool stop;
	pthread_t thread;
};

int housekeeping_start(struct daemon_state *s);
void housekeeping_stop(struct daemon_state *s);

/* One round over every managed region (the thread calls it each period). */
void housekeeping_round(struct daemon_state *s);

#endif
