/* The mode and group of a throttle's shm object, applied at start and reload. */
#include "access.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static const char *group_name(gid_t gid, char *buf, size_t size)
{
	struct group *g = getgrgid(gid);
	if (g != NULL)
		snprintf(buf, size, "%s", g->gr_name);
	else
		snprintf(buf, size, "%u", (unsigned)gid);
	return buf;
}

/* The configured group, or the daemon's own when none is.  0 or -ENOENT. */
static int wanted_gid(const struct throttle_config *c, gid_t *gid)
{
	if (c->group[0] == '\0') {
		*gid = getegid();
		return 0;
	}
	struct group *g = getgrnam(c->group);
	if (g == NULL)
		return -ENOENT;
	*gid = g->gr_gid;
	return 0;
}

static int apply_mode(int fd, const struct throttle_config *c, mode_t now, char *err, size_t errlen)
{
	if (now == c->opts.mode)
		return 0;
	if (fchmod(fd, c->opts.mode) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "throttle '%s': chmod %04o: %s", c->name, c->opts.mode, strerror(-rc));
		return rc;
	}
	log_info("throttle '%s': mode %04o -> %04o", c->name, (unsigned)now, c->opts.mode);
	return 0;
}

static int apply_group(int fd, const struct throttle_config *c, gid_t now, char *err, size_t errlen)
{
	gid_t gid;
	char from[64], to[64];
	int rc = wanted_gid(c, &gid);
	if (rc < 0) {
		snprintf(err, errlen, "throttle '%s': chgrp %s: no such group", c->name, c->group);
		return rc;
	}
	if (gid == now)
		return 0;
	if (fchown(fd, (uid_t)-1, gid) < 0) {
		rc = -errno;
		snprintf(err, errlen, "throttle '%s': chgrp %s: %s", c->name,
		         group_name(gid, to, sizeof to), strerror(-rc));
		return rc;
	}
	log_info("throttle '%s': group %s -> %s", c->name, group_name(now, from, sizeof from),
	         group_name(gid, to, sizeof to));
	return 0;
}

int access_apply(int fd, const struct throttle_config *c, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "throttle '%s': %s", c->name, strerror(-rc));
		return rc;
	}
	/* The group first: a group the daemon may not give then changes nothing. */
	int rc = apply_group(fd, c, st.st_gid, err, errlen);
	return rc < 0 ? rc : apply_mode(fd, c, st.st_mode & 07777, err, errlen);
}

int access_check(const struct throttle_config *c, char *err, size_t errlen)
{
	gid_t gid, groups[NGROUPS_MAX];
	if (wanted_gid(c, &gid) < 0) {
		snprintf(err, errlen, "throttle '%s': chgrp %s: no such group", c->name, c->group);
		return -ENOENT;
	}
	if (geteuid() == 0 || gid == getegid())
		return 0;
	int n = getgroups(NGROUPS_MAX, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 0;
	snprintf(err, errlen, "throttle '%s': chgrp %s: evthrottled's user (uid %u) is not in it",
	         c->name, c->group, (unsigned)geteuid());
	return -EPERM;
}
