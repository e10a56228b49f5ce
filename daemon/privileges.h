/* Who evthrottled runs as.  Started as root it needs daemon.user: it opens what
 * needs root (log, pidfile, run directory), then becomes that user for good, so
 * the regions it creates are that user's.  user = "root" keeps root, on purpose. */
#ifndef EVTD_PRIVILEGES_H
#define EVTD_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct identity {
	bool change;  /* started as root, to become uid/gid */
	uid_t uid;    /* who the daemon is once running (its euid if no change) */
	gid_t gid;
	char user[64];
};

/*
 * Resolve daemon.user and daemon.group ("" = unset; group "" = the user's primary
 * group) for a daemon running with this euid.  Refuses (-EPERM) to run as root
 * without a user, and a user or group that does not exist (-ENOENT).  0, or a
 * negative errno with the reason in err.
 */
int privileges_resolve(const char *user, const char *group, struct identity *id, char *err,
                       size_t errlen);

/* Whether this process can become id: root can become anyone, others only
 * themselves.  0, or -EPERM with the reason in err.  Separate from resolving, so
 * that --check-config run by an operator as another user still checks the file. */
int privileges_may_become(const struct identity *id, char *err, size_t errlen);

/* Whether a daemon running as id may give a region group gid (chgrp): root may,
 * others only to their own groups (for a root daemon about to become a user, the
 * user's groups). */
bool privileges_may_use_group(const struct identity *id, gid_t gid);

/* Become id for good: supplementary groups of the user (so that it may chgrp to
 * them), then gid, then uid; checks that root cannot be regained.  0, or a
 * negative errno with the reason in err.  Nothing to do unless id->change. */
int privileges_drop(const struct identity *id, char *err, size_t errlen);

#endif
