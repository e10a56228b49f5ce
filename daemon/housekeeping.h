/* The daemon's background work, never on the clients' path: reap dead clients,
 * keep the reclaim horizon current, sweep expired keys, heartbeat, summaries,
 * remove the hidden objects of creators that died (hidden.h); between rounds,
 * apply the changes Redis pushes to the global throttles. */
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
 * ends with a release, and the writer acquires once synchronize_rcu() has
 * returned: the reads of an old configuration or registry array then happen
 * before its free(), as they do.  Both on an object of their own, never on the
 * published pointer: the writer's release store of the next pointer replaces
 * what was released there (a release store heads a new release sequence, and
 * TSan keeps only the storer's clock), so a section that ended between the
 * writer's last load of the pointer and its store was forgotten, and the free
 * was reported as a race (the daemon then halts: halt_on_error).  See "TSan and
 * the grace periods" in docs/reliability.md. */
#define EVTD_TSAN 1
extern char rcu_tsan_grace;
#define rcu_reader_done_for_tsan() __tsan_release(&rcu_tsan_grace)
#define rcu_grace_period_done_for_tsan() __tsan_acquire(&rcu_tsan_grace)
#else
#define rcu_reader_done_for_tsan() ((void)0)
#define rcu_grace_period_done_for_tsan() ((void)0)
#endif

int housekeeping_start(struct daemon_state *s);
void housekeeping_stop(struct daemon_state *s);

/* One round over every managed region (the thread calls it each period). */
void housekeeping_round(struct daemon_state *s);

#endif
