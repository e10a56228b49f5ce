/*
 * A global throttle: the host's region is a cache of the events processed on any
 * host, and Redis holds each key's global `last` (docs/design.md, "Global
 * throttles").  A decision the local table would process asks Redis once; one it
 * would throttle stays local.
 */
#ifndef EVT_GLOBAL_H
#define EVT_GLOBAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "endpoint.h"
#include "region.h"
#include "table.h"

/* Every key of a global throttle is "evt:{NAME}:EPOCH:" followed by the key's
 * bytes: the braces make Redis Cluster put a throttle's keys in one hash slot. */
#define GLOBAL_KEY_PREFIX "evt:"
/* Clock skew tolerated between the hosts and the Redis server: a key lives in
 * Redis for its window plus twice this, so no clock within it sees it forgotten
 * inside its window. */
#define GLOBAL_SKEW_NS 1000000000ull
/* After a failed round trip the host's clients stop asking Redis this long (the
 * circuit breaker): on_unreachable answers meanwhile, then one decision probes. */
#define GLOBAL_BREAKER_NS 100000000ull
/* The longest key name: the prefix, the name in braces, the epoch, the key. */
#define GLOBAL_KEY_MAX (sizeof GLOBAL_KEY_PREFIX + REGION_GLOBAL_NAME + 24 + REGION_KEY_MAX)

struct redis_conn;
struct redis_error;

/* A handle's side of a global throttle: its connection, made at the first
 * decision that needs it, and serialized by lock. */
struct global_handle {
	pthread_mutex_t lock;
	struct redis_conn *conn; /* NULL: not connected */
	_Atomic uint64_t forks;  /* counter_epoch() of the process that owns lock and conn
	                            (see adopt()) */
	_Atomic uint64_t adopter; /* counter_epoch() of the process one of whose threads
	                             adopts the handle, or adopted it */
	uint64_t ok_ns;          /* evt_realtime_ns() of conn's last answer */
	uint64_t addr_seq;       /* the block's addr_seq when conn was made */
};

/* 0 if g can describe a global throttle named name (NULL: anonymous, then g->name
 * is needed): -EINVAL (no endpoint, timeout 0, unknown policy, no name) or
 * -ENAMETOOLONG (a string over its limit). */
int global_check(const evt_global *g, const char *name);

/* Split an endpoint: "unix:PATH" gives PATH and *port 0, "HOST:PORT" gives HOST and
 * PORT (1..65535).  0, or -EINVAL (no PATH, no HOST, a HOST neither numeric nor a
 * host name, a bad PORT) or -ENAMETOOLONG. */
int global_endpoint(const char *s, char *host, size_t size, int *port);

/* The longest wait for a host name's resolution at the region's creation
 * (global_resolve_now()); evthrottled re-resolves it in its rounds. */
#define GLOBAL_RESOLVE_WAIT_NS 1000000000ull

/* b's endpoint's host and port: 1 if the host is a name (to resolve), 0 if it is
 * numeric or b's endpoint is a unix socket (*port 0) or none. */
int global_host(const struct region_global *b, char *host, size_t size, uint16_t *port);

/* Resolve the name in b's endpoint, if any, within GLOBAL_RESOLVE_WAIT_NS, and
 * publish its address, or note the failure (the region's creator, before the
 * region is ready: lib/endpoint.h). */
void global_resolve_now(struct region_global *b);

/* Does the region's block b say what g (NULL: a host-local throttle) would write
 * for a throttle named name? */
bool global_matches(const struct region_global *b, const evt_global *g, const char *name);

/* Write g into the new region's block (before it is ready). */
void global_init(struct region_global *b, const evt_global *g, const char *name);

/* Copy the settings (not the status) of the block from into to, a process-local
 * one: what the daemon's Redis I/O reads instead of the region. */
void global_copy_settings(struct region_global *to, const struct region_global *from);

/* Is the region a global throttle? */
static inline bool global_enabled(const struct region *r)
{
	return r->global->enabled != 0;
}

/* What the region says of its global side, for the tools and the daemon: the
 * strings copied with their NUL ensured. */
struct global_status {
	bool enabled;
	bool down;            /* the last round trip of the host's clients failed */
	uint32_t on_unreachable;
	uint64_t timeout_ns, epoch;
	uint64_t last_error_ns, ok_since_ns; /* evt_realtime_ns(); 0: never */
	uint64_t redis_window_ns, synced_ns; /* Redis's window when the daemon last read
	                                        it, and when (0: never) */
	char redis[REGION_GLOBAL_ENDPOINT], name[REGION_GLOBAL_NAME];
	char last_error[REGION_GLOBAL_ERROR];
	/* Where the endpoint leads: its address ("" for a unix socket, or a name not
	 * resolved yet); for a host name, how its resolutions went. */
	bool named;
	char address[ENDPOINT_ADDR_TEXT];
	uint64_t resolved_ns, resolve_failed_ns; /* evt_realtime_ns(); 0: never */
	char resolve_error[64];                  /* the last failure's, if any */
};

void global_status(const struct region *r, struct global_status *out);

/* "local", "throttle" or "process" (the config's names of enum evt_on_unreachable). */
const char *global_policy_name(uint32_t p);

/* A handle's state for region r: 0 with *out (free with global_free()), or -ENOMEM. */
int global_open(struct global_handle **out);
void global_free(struct global_handle *g);

/* The two-tier decision (as table_decide(), same answers and info), for a handle
 * on a global region: the local tier is table_cached() or table_cached_ex()
 * (which the caller calls first, so that a decision that stays local costs what
 * a host-local one does); this is the rest, for an event it did not throttle:
 * ask Redis. */
int global_decide(const struct region *r, const struct table_client *me,
                  struct global_handle *g, uint64_t ts, const void *key, uint32_t len,
                  unsigned *info);

/* Decide every event in order, as global_decide() on each (keys are checked
 * here); returns how many were processed. */
int global_decide_batch(const struct region *r, const struct table_client *me,
                        struct global_handle *g, evt_event *ev, size_t n);

/*
 * Window changes and clears, global: each is stored in Redis (the hash
 * "evt:{NAME}:cfg", fields window and epoch) and published on the throttle's
 * channel "evt:{NAME}:changes" by one call of a function (global.lua), which
 * every host's daemon receives and applies to its region; the daemon also reads
 * the hash each round (global_read_settings()).  A clear moves the epoch in the
 * key names on: the old keys are never read again and expire.  Each within the
 * throttle's timeout: 0, or the negative errno of Redis (counted as an error).
 */
int global_push_window(const struct region *r, const struct table_client *me,
                       struct global_handle *g, uint64_t window);
/* Sets the region's epoch to the new one. */
int global_push_clear(const struct region *r, const struct table_client *me,
                      struct global_handle *g);
int global_push_clear_key(const struct region *r, const struct table_client *me,
                          struct global_handle *g, const void *key, uint32_t len);

/* The channels of every global throttle, for PSUBSCRIBE. */
#define GLOBAL_CHANNELS GLOBAL_KEY_PREFIX "{*}:changes"

/* A change as published (global.lua): "window W", "clear E", "key E KEY". */
enum global_change_kind { GLOBAL_CHANGE_WINDOW, GLOBAL_CHANGE_CLEAR, GLOBAL_CHANGE_KEY };
struct global_change {
	enum global_change_kind kind;
	uint64_t value;                /* the window (ns), or the epoch */
	const char *key;               /* GLOBAL_CHANGE_KEY: the key's bytes, in the message */
	size_t len;
	char name[REGION_GLOBAL_NAME]; /* the global name, from the channel */
};

/* Read a message received on channel: 0 with *out, or -EINVAL (not of this
 * protocol: another channel, a malformed message, a key over REGION_KEY_MAX). */
int global_parse_change(const char *channel, size_t channel_len, const char *msg, size_t len,
                        struct global_change *out);

/* "evt:{NAME}:cfg" for b's name into buf; its length. */
size_t global_cfg_name(const struct region_global *b, char *buf, size_t size);

/* Redis's window and epoch (0: never set) for the throttle b describes (the
 * daemon's process-local copy of a region's settings: no region memory is read),
 * on *c, connected first if NULL (and closed, set NULL, on a failure), by
 * deadline (evt_now_ns()'s clock: the daemon's bound, not a decision's timeout).
 * 0, or a negative errno with e filled. */
int global_read_settings(struct redis_conn **c, const struct region_global *b, uint64_t deadline,
                         uint64_t *window, uint64_t *epoch, struct redis_error *e);
/* May the daemon read them now?  As a decision: not while the breaker is open. */
bool global_may_ask(const struct region *r);
/* Count and note the result rc of global_read_settings() as a decision's call is,
 * with Redis's window for the tools. */
void global_note_read(const struct region *r, const struct table_client *me, int rc,
                      const struct redis_error *e, uint64_t window);
/* Note Redis's window as the daemon learnt it (read, or pushed), for the tools. */
void global_note_window(const struct region *r, uint64_t window);
/* Raise the region's epoch to epoch: true if it was lower. */
bool global_set_epoch(const struct region *r, uint64_t epoch);
/* Take key out of the table after a one-key clear (the daemon, on the message;
 * evt_clear_key(), after Redis's): as table_clear_key(), and an answer asked
 * before it is then not cached (the region's count of key clears moves). */
int global_drop_key(const struct region *r, const struct table_client *me, const void *key,
                    uint32_t len);
/* Set the region's epoch to epoch, up or down, if it is still from (what it was
 * before Redis's was read: a local clear made since wins): true if it moved.
 * The caller then clears the table, as after a raise. */
bool global_adopt_epoch(const struct region *r, uint64_t from, uint64_t epoch);

#endif /* EVT_GLOBAL_H */
