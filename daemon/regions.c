/* The regions evthrottled manages.  A daemon holds an exclusive flock() on each
 * region's shm object, so a second daemon for the same throttle refuses to start;
 * clients never lock anything. */
#include "regions.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "clients.h"
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

/* Open and flock the object.  0, -ENOENT (no such region, err untouched), or a
 * negative errno with err. */
static int lock_region(const char *name, int *fd_out, char *err, size_t errlen)
{
	int fd = open_path(name, O_RDWR);
	if (fd < 0) {
		int rc = -errno;
		if (rc != -ENOENT)
			snprintf(err, errlen, "throttle '%s': %s", name, evt_strerror(rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "throttle '%s' is already managed by another evthrottled (pid %d)",
		         name, (int)owner_pid(name));
		close(fd);
		return -EBUSY;
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

int regions_check(const struct throttle_config *c, char *why, size_t n)
{
	evt_throttle *t;
	int rc = evt_attach(c->name, EVT_RDONLY, &t);
	if (rc == -ENOENT)
		return 0;
	if (rc == -EBADMSG || rc == -EPROTONOSUPPORT || rc == -EAGAIN) {
		snprintf(why, n, "%s", evt_strerror(rc));
		return 1;
	}
	if (rc < 0)
		return rc;
	rc = incompatible(t, &c->opts, why, n) != NULL;
	evt_close(t);
	return rc;
}

/* Live clients of the region, once those of dead processes are freed; 0 when
 * its client table cannot be read (a region of another version). */
static unsigned attached_clients(const char *name)
{
	evt_throttle *t;
	evt_stats st = { 0 };
	if (evt_attach(name, EVT_ADMIN, &t) < 0)
		return 0;
	clients_reap_dead(&t->r);
	evt_stats_get(t, &st);
	evt_close(t);
	return st.clients;
}

/* Whether the region may be unlinked: not while clients are attached (they would
 * go on deciding on the unlinked region, unseen), unless forced.  0 or -EBUSY
 * with err; what is done is logged. */
static int may_unlink(const char *name, const char *what, bool force, char *err, size_t errlen)
{
	unsigned n = attached_clients(name);
	if (n == 0)
		return 0;
	if (!force) {
		snprintf(err, errlen,
		         "throttle '%s': %u client(s) attached; %s would leave them deciding on the "
		         "old, unlinked region: stop them first, or add --force",
		         name, n, what);
		return -EBUSY;
	}
	log_warning("throttle '%s': %s with %u client(s) attached (--force): they keep the old "
	            "region until they attach again (evt_is_current() returns 0 for them)",
	            name, what, n);
	return 0;
}

/* Attach to the locked region; refuse or replace it if it does not fit c.  0,
 * -ENOENT when it was unlinked for recreating, or a negative errno with err. */
static int attach_existing(const struct throttle_config *c, unsigned how, evt_throttle **t,
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
		return rc;
	}
	if (!(how & REGIONS_RECREATE)) {
		snprintf(err, errlen,
		         "throttle '%s': the existing region /dev/shm/evthrottle.%s is incompatible (%s); "
		         "start with --recreate to replace it (its state is lost)",
		         c->name, c->name, why);
		return rc;
	}
	rc = may_unlink(c->name, "--recreate", how & REGIONS_FORCE, err, errlen);
	if (rc < 0)
		return rc;
	log_warning("throttle '%s': replacing the incompatible region (%s)", c->name, why);
	evt_unlink(c->name);
	return -ENOENT;
}

/*
 * The window rule, at start and reload: the configured window applies when it
 * differs from the one the daemon last applied (kept in the header); otherwise
 * a window set at run time (evthrottlectl window) stays.  Says what it kept or
 * changed.
 */
static void apply_window(struct managed *m, const struct throttle_config *c)
{
	struct region_hdr *h = m->t->r.hdr;
	uint64_t applied = atomic_load_explicit(&h->config_window_ns, memory_order_relaxed);
	uint64_t now = evt_get_window(m->t), want = c->opts.window_ns;
	char from[64], to[64];
	if (applied == want && now != want)
		log_info("throttle '%s': window %s kept (set at run time; the configured %s has not "
		         "changed)", c->name, duration_format(now, from, sizeof from),
		         duration_format(want, to, sizeof to));
	if (applied == want || now == want) {
		atomic_store_explicit(&h->config_window_ns, want, memory_order_relaxed);
		return;
	}
	log_info("throttle '%s': window %s -> %s (configured)", c->name,
	         duration_format(now, from, sizeof from), duration_format(want, to, sizeof to));
	evt_update_window(m->t, want);
	/* Only the daemon holding the region's lock writes it. */
	atomic_store_explicit(&h->config_window_ns, want, memory_order_relaxed);
}

int regions_manage(const struct throttle_config *c, unsigned how, struct managed *m, char *err,
                   size_t errlen)
{
	*m = (struct managed){ .lock_fd = -1 };
	memcpy(m->name, c->name, sizeof m->name);
	evt_throttle *t = NULL;
	int fd = -1, rc = lock_region(c->name, &fd, err, errlen);
	if (rc == 0)
		rc = attach_existing(c, how, &t, err, errlen);
	bool created = rc == -ENOENT;
	if (created) {
		if (fd >= 0)
			close(fd);
		fd = -1;
		rc = evt_create(c->name, &c->opts, &t);
		if (rc < 0) {
			snprintf(err, errlen, "throttle '%s': cannot create: %s", c->name, evt_strerror(rc));
			return rc;
		}
		rc = lock_region(c->name, &fd, err, errlen);
	}
	if (rc == 0)
		rc = access_apply(fd, c, err, errlen);
	if (rc != 0) {
		evt_close(t);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	m->t = t;
	m->lock_fd = fd;
	m->change_seen = atomic_load_explicit(&t->r.hdr->change_seq, memory_order_relaxed);
	apply_window(m, c);
	regions_heartbeat(m);
	char w[64];
	log_info("throttle '%s': %s, window %s, %zu keys", c->name,
	         created ? "created" : "re-attached to the existing region, state kept",
	         duration_format(evt_get_window(t), w, sizeof w), evt_key_count(t));
	return 0;
}

int regions_reload(struct managed *m, const struct throttle_config *c, char *err, size_t errlen)
{
	apply_window(m, c);
	int rc = access_apply(m->lock_fd, c, err, errlen);
	if (rc < 0)
		return rc;
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

int regions_remove(const char *name, bool force, char *err, size_t errlen)
{
	int fd = -1, rc = lock_region(name, &fd, err, errlen);
	if (rc == -ENOENT)
		snprintf(err, errlen, "throttle '%s': %s", name, evt_strerror(-ENOENT));
	if (rc < 0)
		return rc;
	rc = may_unlink(name, "--remove", force, err, errlen);
	if (rc == 0 && (rc = evt_unlink(name)) < 0)
		snprintf(err, errlen, "throttle '%s': cannot remove: %s", name, evt_strerror(rc));
	close(fd);
	return rc;
}
