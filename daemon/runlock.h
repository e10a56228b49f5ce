/* One daemon per throttle: an exclusive flock() on RUN_DIR/NAME.lock, in a
 * directory only the daemon's user may write.  (A lock on the shm object itself
 * could be taken first by anyone allowed to read the object.) */
#ifndef EVTD_RUNLOCK_H
#define EVTD_RUNLOCK_H

#include <stddef.h>
#include <sys/types.h>

/* The default run directory: systemd's RuntimeDirectory=evthrottle. */
#define RUNLOCK_DIR_DEFAULT "/run/evthrottle"

/*
 * Use dir (absolute) for the locks: created 0755 if missing (and given to owner and
 * group when they differ from the euid: a root daemon about to drop privileges);
 * refused unless it is a directory (not a symbolic link) owned by owner and
 * writable by no one else.  owner (uid_t)-1, for root's --remove: any owner.
 * 0, or a negative errno with the reason in err.  Call before any other.
 */
int runlock_init(const char *dir, uid_t owner, gid_t group, char *err, size_t errlen);

/*
 * For --remove: use dir's locks without creating anything.  A missing dir means no
 * daemon holds a lock: runlock_take() then succeeds with fd -1.  An existing one
 * must be safe as for runlock_init() (any owner).  0, or a negative errno with err.
 */
int runlock_open(const char *dir, char *err, size_t errlen);

/*
 * Take throttle name's lock: 0 and the fd (held until closed; -1 after
 * runlock_open() of a missing directory), -EWOULDBLOCK when another daemon holds
 * it, or another negative errno; err says why.  A lock file root creates in a
 * directory of another user is given to that user.
 */
int runlock_take(const char *name, int *fd, char *err, size_t errlen);

#endif
