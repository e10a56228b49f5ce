/* The regions evthrottled manages.  A daemon holds each throttle's lock in the run
 * directory (runlock.h), so a second daemon for the same throttle refuses to start.
 * Clients take only fcntl OFD locks on bytes of the region's object (their
 * liveness, lib/clients.c). */
#include "regions.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access.h"
#include "busguard.h"
#include "clients.h"
#include "dns.h"
#include "duration.h"
#include "handle.h"
#include "log.h"
#include "redis.h"
#include "resolve.h"
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

/* Take the throttle's lock in the run directory.  0, or a negative errno with err
 * (-EBUSY: another daemon holds it). */
static int lock_region(const char *name, int *fd_out, char *err, size_t errlen)
{
	int rc = runlock_take(name, fd_out, err, errlen);
	if (rc != -EWOULDBLOCK)
		return rc;
	snprintf(err, errlen, "throttle '%s' is already managed by another evthrottled (pid %d)",
	         name, (int)owner_pid(name));
	return -EBUSY;
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
	else if (h->on_stale != o->on_stale)
		snprintf(why, n, "on_stale %u in the region, %u configured", h->on_stale, o->on_stale);
	else if (((h->flags & REGION_FLAG_HUGE) != 0) != (o->huge_pages != 0))
		snprintf(why, n, "huge_pages %s in the region, %s configured",
		         h->flags & REGION_FLAG_HUGE ? "true" : "false", o->huge_pages ? "true" : "false");
	else if (!global_matches(t->r.global, o->global, t->name))
		snprintf(why, n, "global settings in the region (%s, redis \"%.64s\", name \"%.64s\") "
		         "differ from the configured ones", t->r.global->enabled ? "global" : "local",
		         t->r.global->redis, t->r.global->name);
	else
		return NULL;
	return why;
}

/* Anyone may create in /dev/shm: a region another user made stays theirs (they
 * could chmod it back at any time), so it is never adopted; checked before
 * attaching, so that one the daemon may not even open still says whose it is.
 * NULL if ours or if there is none. */
static const char *foreign(const char *name, uid_t uid, char *why, size_t n)
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
	if (st.st_uid == uid)
		return NULL;
	struct passwd *pw = getpwuid(st.st_uid);
	snprintf(why, n, "it belongs to user %s (uid %u), not to evthrottled's user (uid %u)",
	         pw != NULL ? pw->pw_name : "?", (unsigned)st.st_uid, (unsigned)uid);
	return why;
}

int regions_check(const struct throttle_config *c, uid_t uid, char *why, size_t n)
{
	char detail[160];
	if (foreign(c->name, uid, detail, sizeof detail) != NULL) {
		snprintf(why, n, "not evthrottled's own: %s", detail);
		return 1;
	}
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
	clients_reap_dead(&t->r, &t->me);
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


/* Attach to the locked region; refuse or replace it if it does not fit c (or is not
 * the daemon's own).  0, -ENOENT when there is none or it was unlinked for
 * recreating, or a negative errno with err. */
static int attach_existing(const struct throttle_config *c, unsigned how, evt_throttle **t,
                           char *err, size_t errlen)
{
	char why[200] = "", detail[160];
	int rc = 0;
	if (foreign(c->name, geteuid(), detail, sizeof detail) != NULL)
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
		return rc;
	}
	if (!(how & REGIONS_RECREATE)) {
		snprintf(err, errlen,
		         "throttle '%s': the existing region /dev/shm/evthrottle.%s is %s; "
		         "start with --recreate to replace it (its state is lost)",
		         c->name, c->name, why);
		return rc;
	}
	rc = may_unlink(c->name, "--recreate", how & REGIONS_FORCE, err, errlen);
	if (rc < 0)
		return rc;
	/* A replacement that could not be set up would lose the old state for
	 * nothing (a failed start changes nothing). */
	rc = access_check(c, err, errlen);
	if (rc < 0)
		return rc;
	/* The old region must really go, or the new one cannot be made. */
	log_warning("throttle '%s': replacing the existing region (%s)", c->name, why);
	rc = evt_unlink(c->name);
	if (rc < 0 && rc != -ENOENT) {
		snprintf(err, errlen, "throttle '%s': cannot remove the region to replace it: %s",
		         c->name, evt_strerror(rc));
		return rc;
	}
	return -ENOENT;
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

/* client_idle may change at run time (a reload): the housekeeping and every insert
 * read it afresh. */
static void apply_client_idle(struct managed *m, const struct throttle_config *c)
{
	_Atomic uint64_t *idle = &m->t->r.hdr->client_idle_ns;
	uint64_t was = atomic_load_explicit(idle, memory_order_relaxed);
	if (was == c->opts.client_idle_ns)
		return;
	char from[64], to[64];
	log_info("throttle '%s': client_idle %s -> %s", c->name, duration_format(was, from, sizeof from),
	         duration_format(c->opts.client_idle_ns, to, sizeof to));
	atomic_store_explicit(idle, c->opts.client_idle_ns, memory_order_relaxed);
}

/* A setting the configuration gives and evthrottlectl may change at run time. */
struct knob {
	const char *what;
	_Atomic uint64_t *applied; /* the configured value the daemon last applied (0: none) */
	uint64_t now, want;        /* the region's value and the configured one */
	int (*set)(evt_throttle *t, uint64_t v);
	char *(*format)(uint64_t v, char *buf, size_t size);
};

/*
 * The rule of the window, the limit and shadow mode, at start and reload: the
 * configured value applies when it differs from the one the daemon last applied
 * (kept in the header); otherwise a value set at run time (evthrottlectl) stays.
 * Says what it kept or changed.
 */
static void apply_knob(const char *name, evt_throttle *t, const struct knob *k)
{
	uint64_t applied = atomic_load_explicit(k->applied, memory_order_relaxed);
	char from[64], to[64];
	k->format(k->now, from, sizeof from);
	k->format(k->want, to, sizeof to);
	if (applied == k->want && k->now != k->want)
		log_info("throttle '%s': %s %s kept (set at run time; the configured %s has not "
		         "changed)", name, k->what, from, to);
	if (applied != k->want && k->now != k->want) {
		log_info("throttle '%s': %s %s -> %s (configured)", name, k->what, from, to);
		k->set(t, k->want);
	}
	/* Only the daemon holding the region's lock writes it. */
	atomic_store_explicit(k->applied, k->want, memory_order_relaxed);
}

static int set_window(evt_throttle *t, uint64_t v)
{
	return evt_update_window(t, v);
}

static int set_limit(evt_throttle *t, uint64_t v)
{
	return evt_update_limit(t, (uint32_t)v);
}

static char *format_count(uint64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%llu", (unsigned long long)v);
	return buf;
}

/* Shadow mode as a knob: 1 + on, so that 0 stays "none applied yet". */
static int set_shadow(evt_throttle *t, uint64_t v)
{
	return evt_set_shadow(t, (int)v - 1);
}

static char *format_shadow(uint64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%s", v == 2 ? "on" : "off");
	return buf;
}

static void apply_knobs(struct managed *m, const struct throttle_config *c)
{
	struct region_hdr *h = m->t->r.hdr;
	const struct knob knobs[] = {
		{ "window", &h->config_window_ns, evt_get_window(m->t), c->opts.window_ns,
		  set_window, duration_format },
		{ "limit", &h->config_limit, evt_get_limit(m->t), c->opts.limit, set_limit,
		  format_count },
		{ "shadow mode", &h->config_shadow, 1u + (uint64_t)evt_get_shadow(m->t),
		  1u + c->opts.shadow, set_shadow, format_shadow },
	};
	for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++)
		apply_knob(c->name, m->t, &knobs[i]);
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
		rc = evt_create(c->name, &c->opts, &t);
		if (rc < 0)
			snprintf(err, errlen, "throttle '%s': cannot create: %s", c->name, evt_strerror(rc));
	}
	if (rc == 0)
		rc = access_apply(t->r.fd, c, err, errlen);
	if (rc != 0) {
		abandon(c->name, created && t != NULL, t, fd);
		return rc;
	}
	m->t = t;
	m->lock_fd = fd;
	global_copy_settings(&m->global, t->r.global);
	dns_managed(m);
	m->change_seen = atomic_load_explicit(&t->r.hdr->change_seq, memory_order_relaxed);
	apply_knobs(m, c);
	apply_client_idle(m, c);
	regions_heartbeat(m);
	char w[64];
	log_info("throttle '%s': %s, window %s, %zu keys", c->name,
	         created ? "created" : "re-attached to the existing region, state kept",
	         duration_format(evt_get_window(t), w, sizeof w), evt_key_count(t));
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
		          m->name, m->name, (unsigned long long)size, m->t->r.map_size);
	else if (rc == 0 && m->shrunk)
		log_warning("throttle '%s': its region has its size back; managed again", m->name);
	m->shrunk = rc < 0;
	return rc == 0;
}

int regions_reload(struct managed *m, const struct throttle_config *c, char *err, size_t errlen)
{
	/* The size alone: shrunk and its log lines are the housekeeping thread's. */
	uint64_t size;
	if (region_check_size(&m->t->r, &size) < 0) {
		snprintf(err, errlen, "throttle '%s': its region was truncated to %llu bytes; not "
		         "changed", c->name, (unsigned long long)size);
		return -EBADMSG;
	}
	apply_knobs(m, c);
	apply_client_idle(m, c);
	int rc = access_apply(m->t->r.fd, c, err, errlen);
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

int regions_guard(struct managed *m, int (*fn)(void *), void *arg)
{
	if (!regions_intact(m))
		return -EBADMSG;
	/* A truncation during fn raises SIGBUS, which ends it; the check then finds
	 * it, or it was something else. */
	int rc = busguard_run(fn, arg);
	if (rc == -EFAULT && regions_intact(m))
		log_error("throttle '%s': SIGBUS while reading its region, yet it has its size",
		          m->name);
	return rc;
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
	redis_close(m->redis);
	m->redis = NULL;
	resolve_drop(m->resolving);
	m->resolving = NULL;
	close(m->lock_fd);
	m->t = NULL;
	m->lock_fd = -1;
}

/* A daemon whose heartbeat is this recent manages the region (its run directory
 * may be another than the one locked: --remove is then refused all the same). */
#define HEARTBEAT_FRESH_NS 5000000000ull

/* 0, or -EBUSY with err when a daemon's heartbeat in the region is fresh. */
static int daemon_alive(const char *name, bool force, char *err, size_t errlen)
{
	evt_throttle *t;
	if (force || evt_attach(name, EVT_RDONLY, &t) < 0)
		return 0;
	uint64_t pid = atomic_load(&t->r.hdr->daemon_pid);
	uint64_t beat = atomic_load(&t->r.hdr->daemon_heartbeat_ns), now = evt_now_ns();
	evt_close(t);
	if (pid == 0 || beat > now || now - beat > HEARTBEAT_FRESH_NS)
		return 0;
	snprintf(err, errlen,
	         "throttle '%s' is managed by evthrottled (pid %llu, heartbeat %.1f s ago): drop it "
	         "from that daemon's configuration first (or add --force)",
	         name, (unsigned long long)pid, (double)(now - beat) / 1e9);
	return -EBUSY;
}

int regions_remove(const char *name, bool force, char *err, size_t errlen)
{
	char path[EVT_NAME_MAX + 32];
	if (region_name_path(name, path, sizeof path) < 0) {
		snprintf(err, errlen, "throttle '%s': %s", name, evt_strerror(-EINVAL));
		return -EINVAL;
	}
	int fd = -1, rc = lock_region(name, &fd, err, errlen);
	if (rc < 0)
		return rc;
	rc = daemon_alive(name, force, err, errlen);
	if (rc == 0)
		rc = may_unlink(name, "--remove", force, err, errlen);
	if (rc == 0 && (rc = evt_unlink(name)) < 0)
		snprintf(err, errlen, "throttle '%s': cannot remove: %s", name, evt_strerror(rc));
	if (fd >= 0)
		close(fd);
	return rc;
}
