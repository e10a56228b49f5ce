#include "privileges.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int resolve_group(const char *group, struct identity *id, char *err, size_t errlen)
{
	if (group[0] == '\0')
		return 0;
	struct group *g = getgrnam(group);
	if (g == NULL) {
		snprintf(err, errlen, "daemon.group \"%s\": no such group", group);
		return -ENOENT;
	}
	id->gid = g->gr_gid;
	return 0;
}

int privileges_resolve(const char *user, const char *group, struct identity *id, char *err,
                       size_t errlen)
{
	*id = (struct identity){ .uid = geteuid(), .gid = getegid() };
	if (user[0] == '\0') {
		if (id->uid != 0)
			return 0;
		snprintf(err, errlen, "started as root without daemon.user: set the user (and group) "
		         "it should run as once it has opened its files (user = \"root\" keeps root)");
		return -EPERM;
	}
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		snprintf(err, errlen, "daemon.user \"%s\": no such user", user);
		return -ENOENT;
	}
	bool root = id->uid == 0;
	snprintf(id->user, sizeof id->user, "%s", user);
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	int rc = resolve_group(group, id, err, errlen);
	if (rc < 0)
		return rc;
	id->change = root && id->uid != 0;
	return 0;
}

int privileges_may_become(const struct identity *id, char *err, size_t errlen)
{
	if (geteuid() == 0 || (id->uid == geteuid() && id->gid == getegid()))
		return 0;
	snprintf(err, errlen, "daemon.user \"%s\"/group: started as uid %u gid %u, which cannot "
	         "become uid %u gid %u (start it as root, or as that user)", id->user,
	         (unsigned)geteuid(), (unsigned)getegid(), (unsigned)id->uid, (unsigned)id->gid);
	return -EPERM;
}

int privileges_drop(const struct identity *id, char *err, size_t errlen)
{
	if (!id->change)
		return 0;
	if (initgroups(id->user, id->gid) < 0 || setgid(id->gid) < 0 || setuid(id->uid) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "cannot become user %s (uid %u gid %u): %s", id->user,
		         (unsigned)id->uid, (unsigned)id->gid, strerror(errno));
		return rc;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "became user %s but could regain root", id->user);
		return -EPERM;
	}
	return 0;
}

bool privileges_may_use_group(const struct identity *id, gid_t gid)
{
	if (id->uid == 0 || id->gid == gid)
		return true;
	gid_t groups[NGROUPS_MAX];
	int n = NGROUPS_MAX;
	if (id->change)
		n = getgrouplist(id->user, id->gid, groups, &n);
	else
		n = getgroups(NGROUPS_MAX, groups);
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

