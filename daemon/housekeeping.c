#include "housekeeping.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <urcu.h>

#include "audit.h"
#include "clients.h"
#include "dns.h"
#include "duration.h"
#include "globalwatch.h"
#include "handle.h"
#include "hidden.h"
#include "log.h"
#include "pubsub.h"

#ifdef EVTD_TSAN
char rcu_tsan_grace; /* housekeeping.h: the address of the annotations, nothing else */
#endif

struct settings {
	uint64_t period_ns, summary_ns;
	unsigned sweep_at, warn_at;
};

static struct settings read_settings(struct daemon_state *s)
{
	rcu_read_lock();
	/* Pairs with the release store in reload(): the new configuration's
	 * fields are visible with the pointer. */
	const struct daemon_config *c = atomic_load_explicit(&s->cfg, memory_order_acquire);
	struct settings v = { c->housekeeping_ns, c->summary_ns, c->sweep_occupancy,
		              c->warn_occupancy };
	rcu_reader_done_for_tsan();
	rcu_read_unlock();
	return v;
}

static void summary(struct managed *m, const evt_stats *now, uint64_t t)
{
	double secs = (double)(t - m->last_ns) / 1e9;
	log_info("throttle '%s'%s: %.0f processed/s, %.0f throttled/s, keys %llu/%u (%.1f%%), "
	         "%llu full, %llu stale, %llu inside window, %llu out of order, %llu would throttle, %llu peeks, "
	         "limit %u, %u clients",
	         m->name, now->shadow ? " (shadow mode)" : "",
	         (double)(now->processed - m->last.processed) / secs,
	         (double)(now->throttled - m->last.throttled) / secs, (unsigned long long)now->keys,
	         now->capacity, 100.0 * (double)now->keys / now->capacity,
	         (unsigned long long)(now->full - m->last.full),
	         (unsigned long long)(now->stale - m->last.stale),
	         (unsigned long long)(now->inside_window - m->last.inside_window),
	         (unsigned long long)(now->out_of_order - m->last.out_of_order),
	         (unsigned long long)(now->would_throttle - m->last.would_throttle),
	         (unsigned long long)(now->peeks - m->last.peeks), now->limit, now->clients);
	m->last = *now;
	m->last_ns = t;
}

static void occupancy(struct managed *m, const evt_stats *st, const struct settings *v)
{
	unsigned pct = (unsigned)(100 * st->keys / st->capacity);
	if (pct >= v->sweep_at) {
		uint64_t n = table_sweep(&m->t->r, &m->t->me);
		log_debug("throttle '%s': swept %llu expired keys", m->name, (unsigned long long)n);
	}
	if (pct >= v->warn_at && !m->warned && st->full == 0)
		log_warning("throttle '%s': %u%% of capacity %u in use (%llu keys): new keys may "
		            "soon meet a full table; raise capacity",
		            m->name, pct, st->capacity, (unsigned long long)st->keys);
	else if (pct >= v->warn_at && !m->warned)
		log_warning("throttle '%s': %u%% of capacity %u in use (%llu keys), and %llu "
		            "decisions have met a full table (answered by on_full = %s); raise capacity",
		            m->name, pct, st->capacity, (unsigned long long)st->keys,
		            (unsigned long long)st->full,
		            st->on_full == EVT_ON_FULL_PROCESS ? "process"
		            : st->on_full == EVT_ON_FULL_ERROR ? "error"
		                                               : "throttle");
	m->warned = pct >= v->warn_at || (m->warned && pct + 5 >= v->warn_at);
}

/* Log the runtime changes made since the last round, with who made them. */
static void audit(struct managed *m)
{
	static const char *const what[] = { "", "set the window to", "cleared every key:",
		                            "cleared a key:", "set the limit to", "turned shadow mode" };
	struct audit_change c;
	audit_last(&m->t->r, &c);
	uint64_t n = c.seq - m->change_seen;
	m->change_seen = c.seq;
	if (n == 0 || (n == 1 && c.pid == ((uint32_t)getpid() & 0xffffff)))
		return; /* none, or the daemon's own (logged when it made it) */
	char v[64] = "";
	if (c.kind == AUDIT_WINDOW)
		duration_format(c.value, v, sizeof v);
	else if (c.kind == AUDIT_CLEAR)
		snprintf(v, sizeof v, "%llu keys removed", (unsigned long long)c.value);
	else if (c.kind == AUDIT_CLEAR_KEY)
		snprintf(v, sizeof v, "%s", c.value ? "it was tracked" : "it was not tracked");
	else if (c.kind == AUDIT_LIMIT)
		snprintf(v, sizeof v, "%llu events per key per window", (unsigned long long)c.value);
	else if (c.kind == AUDIT_SHADOW)
		snprintf(v, sizeof v, "%s", c.value ? "on" : "off");
	log_info("throttle '%s': runtime change: uid %u pid %u %s %s%s", m->name, c.uid, c.pid,
	         c.kind <= AUDIT_SHADOW ? what[c.kind] : "made an unknown change", v,
	         n > 1 ? " (the last of several since the previous round)" : "");
}

struct round {
	struct managed *m;
	const struct settings *v;
};

static int round_body(void *arg)
{
	struct managed *m = ((struct round *)arg)->m;
	const struct settings *v = ((struct round *)arg)->v;
	regions_heartbeat(m);
	audit(m);
	unsigned reaped = clients_reap_dead(&m->t->r, &m->t->me);
	if (reaped > 0)
		log_info("throttle '%s': freed %u client slot(s) of exited processes", m->name, reaped);
	evt_stats st;
	evt_stats_get(m->t, &st);
	global_watch(m, &st); /* the status only: global_sync() talks to Redis */
	occupancy(m, &st, v);
	uint64_t t = evt_now_ns();
	if (m->last_ns == 0) {
		m->last = st;
		m->last_ns = t;
	} else if (v->summary_ns != 0 && t - m->last_ns >= v->summary_ns) {
		summary(m, &st, t);
	}
	return 0;
}

/* A hidden object of the throttle (hidden.h) whose creator died before it
 * renamed it into place is removed; one being built is left alone. */
static int remove_leftover(const char *file, void *arg)
{
	const struct managed *m = arg;
	int rc = hidden_remove(file);
	if (rc == 1)
		log_info("throttle '%s': removed " SHM_DIR "/%s, left by a creator that died "
		         "before publishing it", m->name, file);
	else if (rc < 0 && rc != -ENOENT)
		log_debug("throttle '%s': cannot remove " SHM_DIR "/%s: %s", m->name, file,
		          evt_strerror(rc));
	return 0;
}

/* Redis's settings for every global throttle, within GLOBAL_ROUND_WAIT_NS for the
 * whole round (subscriptions first: a change the reads miss is then pushed).
 * The throttle read first moves on each round, so that one whose Redis hangs
 * does not take the others' turn every round. */
static void redis_part(struct daemon_state *s, const struct registry *r)
{
	uint64_t now = evt_now_ns(), until = now + GLOBAL_ROUND_WAIT_NS;
	/* The host names first, so that the round's Redis I/O goes to a new address;
	 * their answers within a share of the round's wait, the rest later. */
	for (size_t i = 0; i < r->n; i++)
		dns_start(r->m[i]);
	for (size_t i = 0; i < r->n; i++)
		dns_collect(r->m[i], now + DNS_ROUND_WAIT_NS);
	pubsub_sync(&s->pubsub, r, until);
	for (size_t i = 0; i < r->n; i++)
		global_sync(r->m[(s->first_read + i) % r->n], until);
	s->first_read = r->n > 0 ? (s->first_read + 1) % r->n : 0;
}

void housekeeping_round(struct daemon_state *s)
{
	struct settings v = read_settings(s);
	rcu_read_lock(); /* the main thread frees no entry until we are done */
	const struct registry *r = registry_get(&s->reg);
	/* Every region's work (heartbeat, reaping, audit) under the SIGBUS guard
	 * before any wait on Redis; the reads of Redis after it, outside the guard
	 * (a jump out of a read would leave its connection midway). */
	for (size_t i = 0; i < r->n; i++) {
		struct round one = { r->m[i], &v };
		hidden_each(r->m[i]->name, remove_leftover, r->m[i]);
		(void)regions_guard(r->m[i], round_body, &one);
	}
	redis_part(s, r);
	rcu_reader_done_for_tsan();
	rcu_read_unlock();
}

static bool stopping(struct daemon_state *s)
{
	pthread_mutex_lock(&s->lock);
	bool stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

static void *run(void *arg)
{
	struct daemon_state *s = arg;
	rcu_register_thread();
	while (!stopping(s)) {
		housekeeping_round(s);
		/* Between rounds, the changes pushed by Redis are applied as they come. */
		pubsub_wait(&s->pubsub, &s->reg, s->wake_fd, evt_now_ns() + read_settings(s).period_ns);
	}
	pubsub_close(&s->pubsub);
	rcu_unregister_thread();
	return NULL;
}

int housekeeping_start(struct daemon_state *s)
{
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->wake_fd < 0)
		return -errno;
	pthread_mutex_init(&s->lock, NULL);
	s->stop = false;
	s->pubsub = (struct pubsub){ .n = 0 };
	s->first_read = 0;
	int rc = -pthread_create(&s->thread, NULL, run, s);
	if (rc < 0)
		close(s->wake_fd);
	return rc;
}

void housekeeping_stop(struct daemon_state *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	uint64_t one = 1;
	(void)!write(s->wake_fd, &one, sizeof one);
	pthread_join(s->thread, NULL);
	close(s->wake_fd);
}
