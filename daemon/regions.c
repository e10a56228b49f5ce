/* The regions evthrottled manages.  A daemon holds each throttle's lock in the run
 * directory (runlock.h), so a second daemon for the same throttle refuses to start;
 * clients never lock anything. */
#include "regions.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "handle.h"
#include "log.h"
#include "runlock.h"

static pid_t owner_pid(const char *name)
{
	evt_throttle *t;
	if (evt_attach(name, EVT_RDONLY, &t) < 0)
		return 0;
	pid_t pid = (pid_t)atomic_load(&t->r.hdr->daemon_pid);
	evt_close(t);
	return pid;
}

/* Take the throttle's lock in the run directory.  0, or -1 with err. */
static int lock_region(const char *name, int *fd_out, char *err, size_t errlen)
{
	int rc = runlock_take(name, fd_out, err, errlen);
	if (rc == -EWOULDBLOCK)
		snprintf(err, errlen, "throttle '%s' is already managed by another evthrottled (pid %d)",
		         name, (int)owner_pid(name));
	return rc < 0 ? -1 : 0;
}

/* Geometry and policy fixed at creation; NULL if o matches the region. */
static const char *incompatible(const evt_throttle *t, const evt_options *o, char *why, size_t n)
{
	struct region_geom g;
	region_geometry(o, &g);
	const struct region_hdr *h = t->r.hdr;
	if (h->capacity != g.capacity)
		snprintf(why, n, "capacity %u in the region, %u configured", h->capacity, g.capacity);
	else if (h->key_max != o->key_max)
		snprintf(why, n, "key_max %u in the region, %u configured", h->key_max, o->key_max);
	else if (h->client_max != o->client_max)
		snprintf(why, n, "clients %u in the region, %u configured", h->client_max, o->client_max);
	else if (h->on_full != o->on_full)
		snprintf(why, n, "on_full %u in the region, %u configured", h->on_full, o->on_full);
	else
		return NULL;
	return why;
}

static int apply_access(int fd, const struct throttle_config *c, char *err, size_t errlen)
{
	if (fchmod(fd, c->opts.mode) < 0) {
		snprintf(err, errlen, "throttle '%s': chmod %04o: %s", c->name, c->opts.mode, strerror(errno));
		return -1;
	}
	if (c->group[0] == '\0')
		return 0;
	struct group *g = getgrnam(c->group);
	if (g == NULL || fchown(fd, (uid_t)-1, g->gr_gid) < 0) {
		snprintf(err, errlen, "throttle '%s': chgrp %s: %s", c->name, c->group,
		         g == NULL ? "no such group" : strerror(errno));
		return -1;
	}
	return 0;
}

/* Anyone may create in /dev/shm: a region another user made stays theirs (they
 * could chmod it back at any time), so it is never adopted; checked before
 * attaching, so that one the daemon may not even open still says whose it is.
 * NULL if ours or if there is none. */
static const char *foreign(const char *name, char *why, size_t n)
{
	char path[EVT_NAME_MAX + 48];
	struct stat st;
	snprintf(path, sizeof path, "/dev/shm/evthrottle.%s", name);
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return NULL;
		snprintf(why, n, "cannot read its owner: %s", strerror(errno));
		return why;
	}
	if (st.st_uid == geteuid())
		return NULL;
	struct passwd *pw = getpwuid(st.st_uid);
	snprintf(why, n, "it belongs to user %s (uid %u), not to evthrottled's user (uid %u)",
	         pw != NULL ? pw->pw_name : "?", (unsigned)st.st_uid, (unsigned)geteuid());
	return why;
}

/* --recreate: the old region must really go, or the new one cannot be made. */
static int replace(const struct throttle_config *c, const char *why, char *err, size_t errlen)
{
	log_warning("throttle '%s': replacing the existing region (%s)", c->name, why);
	int rc = evt_unlink(c->name);
	if (rc < 0 && rc != -ENOENT) {
		snprintf(err, errlen, "throttle '%s': cannot remove the region to replace it: %s",
		         c->name, evt_strerror(rc));
		return -1;
	}
	return -ENOENT;
}

/* Attach to the locked region; refuse or replace it if it does not fit c. */
static int attach_existing(const struct throttle_config *c, bool recreate, evt_throttle **t,
                           char *err, size_t errlen)
{
	char why[200] = "", detail[160];
	int rc = 0;
	if (foreign(c->name, detail, sizeof detail) != NULL)
		snprintf(why, sizeof why, "not evthrottled's own: %s", detail);
	else if ((rc = evt_attach(c->name, 0, t)) < 0)
		snprintf(why, sizeof why, "%s", evt_strerror(rc));
	else if (incompatible(*t, &c->opts, detail, sizeof detail) != NULL)
		snprintf(why, sizeof why, "incompatible (%s)", detail);
	if (rc == 0 && why[0] != '\0') {
		evt_close(*t); /* NULL for a foreign region: never attached */
		*t = NULL;
		rc = -EBADMSG;
	}
	if (rc == 0 || rc == -ENOENT)
		return rc;
	if (rc != -EBADMSG && rc != -EPROTONOSUPPORT && rc != -EAGAIN) {
		snprintf(err, errlen, "throttle '%s': %s", c->name, why);
		return -1;
	}
	if (!recreate) {
		snprintf(err, errlen,
		         "throttle '%s': the existing region /dev/shm/evthrottle.%s is %s; "
		         "start with --recreate to replace it (its state is lost)",
		         c->name, c->name, why);
		return -1;
	}
	return replace(c, why, err, errlen);
}

/* A start that failed part way changes nothing: the region it created goes. */
static void abandon(const char *name, bool created, evt_throttle *t, int fd)
{
	evt_close(t);
	if (fd >= 0)
		close(fd);
	int rc = created ? evt_unlink(name) : 0;
	if (rc < 0)
		log_error("throttle '%s': cannot remove the region this start created: %s", name,
		          evt_strerror(rc));
}

int regions_manage(const struct throttle_config *c, bool recreate, struct managed *m, char *err,
                   size_t errlen)
{
	*m = (struct managed){ .cfg = *c, .lock_fd = -1 };
	evt_throttle *t = NULL;
	int fd = -1, rc = lock_region(c->name, &fd, err, errlen);
	if (rc == 0)
		rc = attach_existing(c, recreate, &t, err, errlen);
	bool created = rc == -ENOENT;
	if (created) {
		rc = evt_create(c->name, &c->opts, &t);
		if (rc < 0)
			snprintf(err, errlen, "throttle '%s': cannot create: %s", c->name, evt_strerror(rc));
	}
	if (rc == 0)
		rc = apply_access(t->r.fd, c, err, errlen);
	if (rc != 0) {
		abandon(c->name, created && t != NULL, t, fd);
		return -1;
	}
	m->t = t;
	m->lock_fd = fd;
	evt_update_window(t, c->opts.window_ns);
	regions_heartbeat(m);
	char w[64];
	log_info("throttle '%s': %s, window %s, %zu keys", c->name,
	         created ? "created" : "re-attached to the existing region, state kept",
	         duration_format(c->opts.window_ns, w, sizeof w), evt_key_count(t));
	return 0;
}

bool regions_intact(struct managed *m)
{
	uint64_t size;
	int rc = region_check_size(&m->t->r, &size);
	if (rc < 0 && !m->shrunk)
		log_error("throttle '%s': /dev/shm/evthrottle.%s is %llu bytes, the region needs %zu: "
		          "someone truncated it; the daemon leaves it alone and goes on with the "
		          "others; its clients die of SIGBUS when they touch the missing part "
		          "(restart with --recreate to replace it)",
		          m->cfg.name, m->cfg.name, (unsigned long long)size, m->t->r.map_size);
	else if (rc == 0 && m->shrunk)
		log_warning("throttle '%s': its region has its size back; managed again", m->cfg.name);
	m->shrunk = rc < 0;
	return rc == 0;
}

int regions_reload(struct managed *m, const struct throttle_config *c, char *err, size_t errlen)
{
	if (!regions_intact(m)) {
		snprintf(err, errlen, "throttle '%s': its region was truncated; not changed", c->name);
		return -1;
	}
	if (apply_access(m->t->r.fd, c, err, errlen) < 0)
		return -1;
	if (evt_get_window(m->t) != c->opts.window_ns) {
		char from[64], to[64];
		log_info("throttle '%s': window %s -> %s", c->name,
		         duration_format(evt_get_window(m->t), from, sizeof from),
		         duration_format(c->opts.window_ns, to, sizeof to));
		evt_update_window(m->t, c->opts.window_ns);
	}
	/* Only what a reload may change: the housekeeping thread reads the name. */
	m->cfg.opts.window_ns = c->opts.window_ns;
	m->cfg.opts.mode = c->opts.mode;
	memcpy(m->cfg.group, c->group, sizeof m->cfg.group);
	char why[160];
	if (incompatible(m->t, &c->opts, why, sizeof why) != NULL) {
		snprintf(err, errlen,
		         "throttle '%s': %s needs a new region; not applied (restart with --recreate)",
		         c->name, why);
		return 1;
	}
	return 0;
}

void regions_heartbeat(struct managed *m)
{
	struct region_hdr *h = m->t->r.hdr;
	atomic_store_explicit(&h->daemon_pid, (uint64_t)getpid(), memory_order_relaxed);
	atomic_store_explicit(&h->daemon_heartbeat_ns, evt_now_ns(), memory_order_relaxed);
}

void regions_release(struct managed *m)
{
	if (m->t == NULL)
		return;
	if (regions_intact(m)) {
		uint64_t self = (uint64_t)getpid();
		atomic_compare_exchange_strong(&m->t->r.hdr->daemon_pid, &self, 0);
	} else {
		m->t->me.entry = NULL; /* its client slot may be in the missing pages */
	}
	evt_close(m->t);
	close(m->lock_fd);
	m->t = NULL;
	m->lock_fd = -1;
}

int regions_remove(const char *name, char *err, size_t errlen)
{
	char path[EVT_NAME_MAX + 32];
	if (region_name_path(name, path, sizeof path) < 0) {
		snprintf(err, errlen, "throttle '%s': %s", name, evt_strerror(-EINVAL));
		return -1;
	}
	int fd = -1;
	if (lock_region(name, &fd, err, errlen) < 0)
		return -1;
	int rc = evt_unlink(name);
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "throttle '%s': cannot remove: %s", name, evt_strerror(rc));
		return -1;
	}
	return 0;
}
