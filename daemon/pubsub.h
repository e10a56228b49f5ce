/* evthrottled's subscriptions to the changes of its global throttles
 * (docs/design.md §10): one connection per Redis endpoint (and credentials),
 * PSUBSCRIBEd to every global throttle's channel (GLOBAL_CHANNELS); a message is
 * applied to the regions of the throttles it names as soon as it arrives.  The
 * housekeeping thread's own: it waits in pubsub_wait() between rounds. */
#ifndef EVTD_PUBSUB_H
#define EVTD_PUBSUB_H

#include <stdbool.h>
#include <stdint.h>

struct pollfd;

#include "region.h"
#include "registry.h"

struct pubsub_link {
	struct region_global b;  /* endpoint, credentials, timeout: its first throttle's */
	struct redis_conn *conn; /* subscribed, or NULL (connected again next round) */
	bool failing;            /* a failure logged, no subscription since */
	bool used;               /* a managed global throttle uses it */
	bool kept;               /* one of them publishes b's address (pubsub_sync()) */
};

struct pubsub {
	struct pubsub_link *links;
	size_t n;
	struct pollfd *fds; /* room for the wake fd and one per link */
};

/* Subscribe on every endpoint the managed global throttles use (each round, before
 * their settings are read, so that a change missed while a subscription was down
 * is read then; a new subscription drops the cached answers of the throttles it
 * serves, global_forget()), by until (evt_now_ns()'s clock: none is tried once
 * it has passed), and close the links none uses.  Inside rcu_read_lock(). */
void pubsub_sync(struct pubsub *p, const struct registry *r, uint64_t until);

/* Wait until evt_now_ns() reaches until or wake_fd is readable (then drained),
 * applying each message as it arrives to the throttles of *reg. */
void pubsub_wait(struct pubsub *p, struct registry *_Atomic *reg, int wake_fd, uint64_t until);

void pubsub_close(struct pubsub *p);

#endif
