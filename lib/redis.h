/* The Redis side of a global throttle: one connection, one call per decision.
 * lib/redis.c with hiredis; lib/redis_none.c in a build without it. */
#ifndef EVT_REDIS_H
#define EVT_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "region.h"

struct redis_conn;

/* What a failed call says, for the counters and the tools. */
struct redis_error {
	char text[REGION_GLOBAL_ERROR];
};

/* Connect to b's endpoint and AUTH from b's auth_file (its text never appears in
 * an error), all before deadline (evt_now_ns()).  A host name is never looked up:
 * the connection goes to the address b publishes for it (lib/endpoint.h).  0 with
 * *out, or a negative errno with e filled: -ENOTSUP (built without hiredis),
 * -EHOSTUNREACH (a name with no address published yet), -ECONNREFUSED,
 * -ETIMEDOUT, -EACCES (AUTH refused or the file unreadable), -EPROTO, -ENOMEM. */
int redis_connect(const struct region_global *b, uint64_t deadline, struct redis_conn **out,
                  struct redis_error *e);

/* One global decision: FCALL evt_decide_v2 on key (the caller's key, len bytes)
 * under the throttle's settings hash cfg (its full name; the function names the
 * Redis key from it and the epoch it holds) at ts with window, the key kept
 * ttl_ms; rc 1 processed, 0 throttled (last: the key's global last after the
 * call; epoch: the epoch Redis used), or -EPROTO (an unexpected reply). */
struct redis_ask {
	const char *cfg;
	size_t cfg_len;
	const char *key;
	size_t len;
	uint64_t ts, window, ttl_ms;
	uint64_t last, epoch;
	int rc;
};

/* n decisions before deadline, sent in one pipeline and applied by the server in
 * order; if the server lacks the function, it is loaded and only the asks it
 * could not run are sent again.  0 with each ask's rc and last, or a negative
 * errno with e filled (the connection is then unusable: close it); either way an
 * ask answered before a failure keeps its answer, the others rc -EAGAIN. */
int redis_decide(struct redis_conn *c, uint64_t deadline, struct redis_ask *a, size_t n,
                 struct redis_error *e);

/* Any other command by deadline, whose reply is an integer, a status, nil, a
 * decimal string, or an array of those: up to n values into out (nil: 0).  An
 * FCALL the server lacks the function for loads it and is sent again.  0, or a
 * negative errno with e filled (-EPROTO: another reply, or an error reply). */
int redis_integers(struct redis_conn *c, uint64_t deadline, int argc, const char **argv,
                   const size_t *len, uint64_t *out, size_t n, struct redis_error *e);

/* Subscribe c to the channels matching pattern (PSUBSCRIBE) by deadline: 0, or a
 * negative errno with e filled.  From then on c only receives messages: read
 * them with redis_messages(). */
int redis_psubscribe(struct redis_conn *c, uint64_t deadline, const char *pattern,
                     struct redis_error *e);

/* c's socket, to poll() for messages. */
int redis_fd(const struct redis_conn *c);

/* A message on channel (len bytes; binary-safe, both valid during the call only). */
typedef void redis_message_fn(void *arg, const char *channel, size_t channel_len,
                              const char *msg, size_t len);

/* Hand each whole message buffered on the subscribed c to fn, after reading once
 * from its socket if read (call it with read when poll() says the socket is
 * readable, so that the read does not wait; without read, to take what an earlier
 * read left).  How many messages, or a negative errno with e filled (the
 * connection is lost: close it). */
int redis_messages(struct redis_conn *c, bool read, redis_message_fn *fn, void *arg,
                   struct redis_error *e);

/* Give the socket back the throttle's whole timeout after a call that ran near its
 * deadline.  0 or -EIO. */
int redis_relax(struct redis_conn *c);

void redis_close(struct redis_conn *c);

/* In a child of fork(): close the child's copy of c's socket, sending nothing
 * and touching no other state (a parent's thread may have been mid-call on it);
 * the copy's memory is left (a few hundred bytes, once per child). */
void redis_abandon(struct redis_conn *c);

#endif /* EVT_REDIS_H */
