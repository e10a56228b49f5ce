/* The regions evthrottled manages: create or re-attach, hold, apply settings. */
#ifndef EVTD_REGIONS_H
#define EVTD_REGIONS_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"
#include "region.h"

struct redis_conn;
struct resolve_job;

struct managed {
	char name[EVT_NAME_MAX + 1];
	evt_throttle *t;            /* the daemon's read-write handle; geometry in its header */
	int lock_fd;                /* its lock in the run directory (runlock.h) */
	/* the housekeeping thread's own */
	bool warned;                /* occupancy warning given, until it drops again */
	bool shrunk;                /* its object is shorter than the mapping (logged) */
	evt_stats last;             /* totals at the previous summary */
	uint64_t change_seen;       /* runtime changes logged (header's change_seq) */
	uint64_t last_ns;
	bool global_down;           /* a Redis outage logged, its recovery not yet */
	uint64_t global_down_ns;    /* its first failure (evt_realtime_ns()) */
	uint64_t global_fallbacks;  /* the fallback count at the last round Redis was up */
	uint64_t forget_fallbacks;  /* the fallback count at the last new subscription */
	/* A global throttle's settings, copied from the region at manage (they never
	 * change for a mapping): the daemon's Redis I/O reads these, never the region,
	 * so that no SIGBUS can end it midway (docs/design.md §10). */
	struct region_global global;
	struct redis_conn *redis;   /* the housekeeping thread's, to read the settings */
	/* The resolutions of the endpoint's host name (dns.h): the housekeeping thread's. */
	struct resolve_job *resolving; /* a lookup in flight, or NULL */
	uint64_t resolve_started_ns;   /* when the last began (evt_now_ns()) */
	bool resolve_failing;          /* a failure logged, no success since */
};

/* How regions_manage() treats an incompatible region. */
#define REGIONS_RECREATE 0x1u /* replace it (its state is lost) */
#define REGIONS_FORCE 0x2u    /* even while clients are attached to it */

/*
 * Take charge of throttle c: attach to its region if one exists and is compatible
 * (keeping all its state), else create it; refuse (or, with REGIONS_RECREATE,
 * replace) an incompatible one; a region with clients attached is replaced only
 * with REGIONS_FORCE.  Applies window, mode and group.  0, or a negative errno
 * with the reason in err.
 */
int regions_manage(const struct throttle_config *c, unsigned how, struct managed *m, char *err,
                   size_t errlen);

/* Compare c with its existing region, if any, for a daemon running as uid: 1 if the
 * region must be replaced (--recreate: incompatible, or not uid's own), with the
 * reason in why; 0 if it fits or does not exist; a negative errno if it cannot be
 * read. */
int regions_check(const struct throttle_config *c, uid_t uid, char *why, size_t n);

/* Apply a reloaded configuration to a managed region: window (by the rule of
 * evthrottled(8)), mode and group.  0; 1 when a geometry change is refused
 * (needs --recreate), with the message in err; or a negative errno with err. */
int regions_reload(struct managed *m, const struct throttle_config *c, char *err, size_t errlen);

/* Stop managing: the region and its state stay for the clients. */
void regions_release(struct managed *m);

/* evthrottled --remove NAME: delete a region no daemon manages (its lock in the run
 * directory is free and no daemon's heartbeat in it is fresh), and with no client
 * attached, unless force.  0, or a negative errno with the reason in err (-EBUSY:
 * managed, or clients attached). */
int regions_remove(const char *name, bool force, char *err, size_t errlen);

/* Whether the region's object still covers its mapping: false once someone has
 * truncated it (touching it then would raise SIGBUS), logged when that changes.
 * Checked before each use of the mapping. */
bool regions_intact(struct managed *m);

/* fn(arg) under the SIGBUS guard (busguard.h), if the region still has its size:
 * fn's result, -EBADMSG (truncated: not run), or -EFAULT (a SIGBUS ended it,
 * logged).  The housekeeping thread's; fn holds no lock and does no I/O. */
int regions_guard(struct managed *m, int (*fn)(void *), void *arg);

/* Stamp the daemon's pid and a heartbeat into the region's header. */
void regions_heartbeat(struct managed *m);

#endif
