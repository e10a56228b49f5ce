/* The regions evthrottled manages.  A daemon holds an exclusive flock() on each
 * region's shm object, so a second daemon for the same throttle refuses to start.
 * Clients take only fcntl OFD locks on bytes of it (their liveness, lib/clients.c),
 * which never conflict with flock() on Linux. */
#include "regions.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "handle.h"
#include "log.h"

static int open_path(const char *name, int flags)
{
	char path[EVT_NAME_MAX + 32];
	if (region_name_path(name, path, sizeof path) < 0) {
		errno = EINVAL;
		return -1;
	}
	return shm_open(path, flags | O_CLOEXEC, 0);
}

static pid_t owner_pid(const char *name)
{
	evt_throttle *t;
	if (evt_attach(name, EVT_RDONLY, &t) < 0)
		return 0;
	pid_t pid = (pid_t)atomic_load(&t->r.hdr->daemon_pid);
	evt_close(t);
	return pid;
}

/* Open and flock the object.  0, -ENOENT (no such region) or -1 with err. */
static int lock_region(const char *name, int *fd_out, char *err, size_t errlen)
{
	int fd = open_path(name, O_RDWR);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		snprintf(err, errlen, "throttle '%s': %s", name, evt_strerror(-errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "throttle '%s' is already managed by another evthrottled (pid %d)",
		         name, (int)owner_pid(name));
		close(fd);
		return -1;
	}
	*fd_out = fd;
	return 0;
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

/* Attach to the locked region; refuse or replace it if it does not fit c. */
static int attach_existing(const struct throttle_config *c, bool recreate, evt_throttle **t,
                           char *err, size_t errlen)
{
	char why[160];
	int rc = evt_attach(c->name, 0, t);
	if (rc == 0 && incompatible(*t, &c->opts, why, sizeof why) != NULL) {
		evt_close(*t);
		*t = NULL;
		rc = -EBADMSG;
	} else if (rc < 0) {
		snprintf(why, sizeof why, "%s", evt_strerror(rc));
	}
	if (rc == 0)
		return 0;
	if (rc != -EBADMSG && rc != -EPROTONOSUPPORT && rc != -EAGAIN) {
		snprintf(err, errlen, "throttle '%s': %s", c->name, why);
		return -1;
	}
	if (!recreate) {
		snprintf(err, errlen,
		         "throttle '%s': the existing region /dev/shm/evthrottle.%s is incompatible (%s); "
		         "start with --recreate to replace it (its state is lost)",
		         c->name, c->name, why);
		return -1;
	}
	log_warning("throttle '%s': replacing the incompatible region (%s)", c->name, why);
	evt_unlink(c->name);
	return -ENOENT;
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
		if (fd >= 0)
			close(fd);
		fd = -1;
		rc = evt_create(c->name, &c->opts, &t);
		if (rc < 0) {
			snprintf(err, errlen, "throttle '%s': cannot create: %s", c->name, evt_strerror(rc));
			return -1;
		}
		rc = lock_region(c->name, &fd, err, errlen);
	}
	if (rc == 0)
		rc = apply_access(fd, c, err, errlen);
	if (rc != 0) {
		evt_close(t);
		if (fd >= 0)
			close(fd);
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

int regions_reload(struct managed *m, const struct throttle_config *c, char *err, size_t errlen)
{
	if (apply_access(m->lock_fd, c, err, errlen) < 0)
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
	uint64_t self = (uint64_t)getpid();
	atomic_compare_exchange_strong(&m->t->r.hdr->daemon_pid, &self, 0);
	evt_close(m->t);
	close(m->lock_fd);
	m->t = NULL;
	m->lock_fd = -1;
}

int regions_remove(const char *name, char *err, size_t errlen)
{
	int fd = -1, rc = lock_region(name, &fd, err, errlen);
	if (rc == -ENOENT) {
		snprintf(err, errlen, "throttle '%s': %s", name, evt_strerror(-ENOENT));
		return -1;
	}
	if (rc < 0)
		return -1;
	rc = evt_unlink(name);
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "throttle '%s': cannot remove: %s", name, evt_strerror(rc));
		return -1;
	}
	return 0;
}
