/* The daemon's background work, never on the clients' path: reap dead clients,
 * keep the reclaim horizon current, sweep expired keys, heartbeat, summaries;
 * between rounds, apply the changes Redis pushes to the global throttles. */
#ifndef EVTD_HOUSEKEEPING_H
#define EVTD_HOUSEKEEPING_H

#include <pthread.h>
#include <stdatomic.h>

#include "config.h"
#include "pubsub.h"
#include "regions.h"
#include "registry.h"

struct daemon_state {
	/* The current configuration.  The housekeeping thread loads it (acquire)
	 * inside rcu_read_lock(); the main thread, its only writer, stores a new one
	 * (release) and frees the old one after synchronize_rcu(). */
	struct daemon_config *_Atomic cfg;
	/* The managed throttles (registry.h): the housekeeping thread reads the
	 * array and its entries inside rcu_read_lock(). */
	struct registry *_Atomic reg;
	pthread_mutex_t lock; /* guards stop */
	bool stop;
	int wake_fd;          /* an eventfd: written to interrupt the wait between rounds */
	struct pubsub pubsub; /* the housekeeping thread's subscriptions */
	pthread_t thread;
};

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#include <sanitizer/tsan_interface.h>
/* ThreadSanitizer cannot see liburcu's grace periods.  Each read-side section
 * ends with a release on the state, and the writer acquires it once
 * synchronize_rcu() has returned: the reads of an old configuration then happen
 * before its free(), as they do. */
#define rcu_reader_done_for_tsan(p) __tsan_release(p)
#define rcu_grace_period_done_for_tsan(p) __tsan_acquire(p)
#else
#define rcu_reader_done_for_tsan(p) ((void)(p))
#define rcu_grace_period_done_for_tsan(p) ((void)(p))
#endif

int housekeeping_start(struct daemon_state *s);
void housekeeping_stop(struct daemon_state *s);

/* One round over every managed region (the thread calls it each period). */
void housekeeping_round(struct daemon_state *s);

#endif
