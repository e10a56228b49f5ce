#include "runlock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "region.h"

static char run_dir[PATH_MAX] = RUNLOCK_DIR_DEFAULT;
static bool no_dir;            /* runlock_open() found no directory: no lock is held */
static uid_t dir_uid = (uid_t)-1; /* its owner: a lock file root makes becomes theirs */
static gid_t dir_gid;

static int dir_safe(const char *dir, uid_t owner, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(dir, &st) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "run directory %s: %s", dir, strerror(errno));
		return rc;
	}
	if (!S_ISDIR(st.st_mode))
		snprintf(err, errlen, "run directory %s: not a directory (a symbolic link is "
		         "never followed)", dir);
	else if (owner != (uid_t)-1 && st.st_uid != owner)
		snprintf(err, errlen, "run directory %s belongs to uid %u, not to evthrottled's "
		         "uid %u: another user could hold its locks", dir, (unsigned)st.st_uid,
		         (unsigned)owner);
	else if ((st.st_mode & 022) != 0)
		snprintf(err, errlen, "run directory %s is writable by group or others (mode %04o): "
		         "another user could hold its locks", dir, (unsigned)(st.st_mode & 07777));
	else {
		dir_uid = st.st_uid;
		dir_gid = st.st_gid;
		return 0;
	}
	return S_ISDIR(st.st_mode) ? -EPERM : -ENOTDIR;
}

int runlock_init(const char *dir, uid_t owner, gid_t group, char *err, size_t errlen)
{
	if (dir[0] != '/' || strlen(dir) >= sizeof run_dir) {
		snprintf(err, errlen, "run directory '%s': must be an absolute path", dir);
		return -EINVAL;
	}
	bool made = mkdir(dir, 0755) == 0;
	bool give = made && owner != (uid_t)-1 && (owner != geteuid() || group != getegid());
	if ((!made && errno != EEXIST) || (give && lchown(dir, owner, group) < 0)) {
		int rc = -errno;
		snprintf(err, errlen, "run directory %s: cannot create it: %s", dir, strerror(errno));
		return rc;
	}
	int rc = dir_safe(dir, owner, err, errlen);
	if (rc == 0)
		snprintf(run_dir, sizeof run_dir, "%s", dir);
	return rc;
}

int runlock_open(const char *dir, char *err, size_t errlen)
{
	if (dir[0] != '/' || strlen(dir) >= sizeof run_dir) {
		snprintf(err, errlen, "run directory '%s': must be an absolute path", dir);
		return -EINVAL;
	}
	struct stat st;
	if (lstat(dir, &st) < 0 && errno == ENOENT) {
		no_dir = true;
		return 0;
	}
	int rc = dir_safe(dir, (uid_t)-1, err, errlen);
	if (rc == 0)
		snprintf(run_dir, sizeof run_dir, "%s", dir);
	return rc;
}

int runlock_take(const char *name, int *fd, char *err, size_t errlen)
{
	if (no_dir) {
		*fd = -1;
		return 0;
	}
	char path[sizeof run_dir + EVT_NAME_MAX + 8];
	snprintf(path, sizeof path, "%s/%s.lock", run_dir, name);
	int f = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	/* Made by root for a directory of the daemon's user (--remove): theirs. */
	if (f >= 0 && geteuid() == 0 && dir_uid != (uid_t)-1 && dir_uid != 0 &&
	    fchown(f, dir_uid, dir_gid) < 0) {
		snprintf(err, errlen, "throttle '%s': lock %s: cannot give it to uid %u: %s", name, path,
		         (unsigned)dir_uid, strerror(errno));
		close(f);
		return -EPERM;
	}
	if (f < 0 || flock(f, LOCK_EX | LOCK_NB) < 0) {
		int rc = -errno;
		if (rc != -EWOULDBLOCK)
			snprintf(err, errlen, "throttle '%s': lock %s: %s", name, path, strerror(errno));
		if (f >= 0)
			close(f);
		return rc;
	}
	*fd = f;
	return 0;
}
