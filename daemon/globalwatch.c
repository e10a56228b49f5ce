#include "globalwatch.h"

#include <errno.h>
#include <string.h>

#include "global.h"
#include "duration.h"
#include "handle.h"
#include "log.h"
#include "redis.h"

static void log_outage(struct managed *m, const struct global_status *g, const evt_stats *st)
{
	(void)st;
	log_warning("throttle '%s': Redis %s unreachable (global '%s'): %s; decisions that need "
	            "it are answered by on_unreachable = %s until it answers",
	            m->name, g->redis, g->name, g->last_error, global_policy_name(g->on_unreachable));
	m->global_down = true;
	m->global_down_ns = g->last_error_ns;
}

static void log_recovery(struct managed *m, const struct global_status *g, const evt_stats *st)
{
	char d[64];
	uint64_t span = g->ok_since_ns > m->global_down_ns ? g->ok_since_ns - m->global_down_ns : 0;
	log_info("throttle '%s': Redis %s answers again after %s; %llu decisions were answered by "
	         "on_unreachable meanwhile",
	         m->name, g->redis, duration_format(span - span % 1000000u, d, sizeof d),
	         (unsigned long long)(st->global_fallbacks - m->global_fallbacks));
	m->global_down = false;
}

void global_watch(struct managed *m, const evt_stats *st)
{
	struct global_status g;
	global_status(&m->t->r, &g);
	if (!g.enabled)
		return;
	if (g.down != m->global_down)
		(g.down ? log_outage : log_recovery)(m, &g, st);
	if (!g.down)
		m->global_fallbacks = st->global_fallbacks; /* the outage's count starts here */
}

/* A window stored in Redis (by any host: a change made here reaches Redis before
 * this region, so it may be met here first; or read back), if it differs.  Not
 * evt_update_window(): that would store it in Redis again.  Logged as "set
 * through Redis", which is true of both. */
static void apply_window(struct managed *m, uint64_t window)
{
	evt_throttle *t = m->t;
	uint64_t now = evt_get_window(t);
	if (window == 0 || window == now)
		return;
	/* Pairs with the acquire loads of the window in the decisions. */
	atomic_store_explicit(&t->r.hdr->window_ns, window, memory_order_release);
	char from[64], to[64];
	log_info("throttle '%s': window %s -> %s, set through Redis (global '%s')", m->name,
	         duration_format(now, from, sizeof from), duration_format(window, to, sizeof to),
	         m->global.name);
}

/* Redis's epoch, adopted whatever its direction if the region's is still from
 * (read before Redis's): higher after a clear on another host, lower after Redis
 * lost its data.  The keys cached under the old one go. */
static void adopt_epoch(struct managed *m, uint64_t from, uint64_t epoch)
{
	evt_throttle *t = m->t;
	if (!global_adopt_epoch(&t->r, from, epoch))
		return;
	uint64_t n = table_clear(&t->r, &t->me);
	if (epoch > from)
		log_info("throttle '%s': cleared through Redis (global '%s', epoch %llu): %llu "
		         "keys removed here", m->name, m->global.name, (unsigned long long)epoch,
		         (unsigned long long)n);
	else
		log_warning("throttle '%s': Redis holds epoch %llu, below this host's %llu (global "
		            "'%s'; Redis lost its data?): adopted, %llu keys removed here", m->name,
		            (unsigned long long)epoch, (unsigned long long)from, m->global.name,
		            (unsigned long long)n);
}

/* A key cleared on some host: out of this host's cache too, whatever the epoch
 * (one more round trip at most). */
static void apply_key(struct managed *m, const char *key, size_t len)
{
	if (table_key_check(&m->t->r, key, len) < 0 ||
	    global_drop_key(&m->t->r, &m->t->me, key, (uint32_t)len) <= 0)
		return;
	log_info("throttle '%s': a key (%zu bytes) cleared through Redis (global '%s'): removed "
	         "here", m->name, len, m->global.name);
}

struct applied {
	struct managed *m;
	const struct global_change *c;
};

static int apply_body(void *arg)
{
	struct applied *a = arg;
	switch (a->c->kind) {
	case GLOBAL_CHANGE_WINDOW:
		global_note_window(&a->m->t->r, a->c->value);
		apply_window(a->m, a->c->value);
		break;
	case GLOBAL_CHANGE_CLEAR: /* global_apply() reads Redis's epoch instead */
		break;
	case GLOBAL_CHANGE_KEY:
		apply_key(a->m, a->c->key, a->c->len);
		break;
	}
	return 0;
}

/* The round's read of Redis's settings, in three steps: only the middle one talks
 * to Redis, outside the SIGBUS guard, and it reads no region memory. */
struct reading {
	struct managed *m;
	bool ask;
	int rc;
	bool cut; /* timed out at the round's bound, before the throttle's timeout */
	struct redis_error e;
	uint64_t before; /* the region's epoch before the read */
	uint64_t window, epoch;
	const uint64_t *heard; /* the epoch a "clear" message announced, if one did */
};

static int may_ask(void *arg)
{
	struct reading *x = arg;
	x->ask = global_may_ask(&x->m->t->r);
	x->before = atomic_load_explicit(&x->m->t->r.global->epoch, memory_order_relaxed);
	return 0;
}

static int settle(void *arg)
{
	struct reading *x = arg;
	struct managed *m = x->m;
	if (x->cut) {
		log_debug("throttle '%s': Redis %s did not answer the read of its settings within "
		          "the round's bound (its timeout is longer): read again next round",
		          m->name, m->global.redis);
		return 0;
	}
	global_note_read(&m->t->r, &m->t->me, x->rc, &x->e, x->window);
	if (x->rc != 0)
		return 0;
	apply_window(m, x->window);
	adopt_epoch(m, x->before, x->epoch);
	if (x->heard != NULL && *x->heard > x->epoch)
		log_warning("throttle '%s': a message says it was cleared through Redis (global "
		            "'%s', epoch %llu), but Redis holds epoch %llu: the message is ignored",
		            m->name, m->global.name, (unsigned long long)*x->heard,
		            (unsigned long long)x->epoch);
	return 0;
}

static void read_settings(struct managed *m, uint64_t until, const uint64_t *heard)
{
	struct reading x = { .m = m, .heard = heard };
	if (!m->global.enabled || evt_now_ns() >= until || regions_guard(m, may_ask, &x) < 0 ||
	    !x.ask)
		return; /* a failure is counted, and logged as an outage */
	/* Bounded by the round's wait (GLOBAL_ROUND_WAIT_NS), not by the throttle's
	 * timeout: that is a decision's bound, and a reconnect (connect, AUTH, the
	 * function's load) on a 2 ms timeout failed as an outage on a loaded host.
	 * Cut short by that bound before the timeout, the read says nothing of Redis
	 * (a decision would still be waiting for its answer): no error, no breaker,
	 * no outage; the next round reads again. */
	uint64_t start = evt_now_ns();
	x.rc = global_read_settings(&m->redis, &m->global, until, &x.window, &x.epoch, &x.e);
	x.cut = x.rc == -ETIMEDOUT && until < start + m->global.timeout_ns;
	(void)regions_guard(m, settle, &x);
}

void global_sync(struct managed *m, uint64_t until)
{
	read_settings(m, until, NULL);
}

void global_apply(struct managed *m, const struct global_change *c)
{
	if (c->kind == GLOBAL_CHANGE_CLEAR) {
		/* Anyone the ACL lets publish may send one: Redis's stored epoch is the
		 * truth, the message only says when to read it. */
		read_settings(m, evt_now_ns() + GLOBAL_ROUND_WAIT_NS, &c->value);
		return;
	}
	struct applied a = { m, c };
	(void)regions_guard(m, apply_body, &a);
}

/* Whether the table holds answers of on_unreachable = local made since the last
 * new subscription: this host's own, which Redis never saw.  Dropping them would
 * process a key twice in one window on this host; kept, a one-key clear missed
 * meanwhile takes effect when its cached window ends (docs/design.md §10). */
static bool answered_locally(struct managed *m)
{
	evt_stats st;
	if (m->global.on_unreachable != EVT_ON_UNREACHABLE_LOCAL || evt_stats_get(m->t, &st) < 0)
		return false;
	bool since = st.global_fallbacks != m->forget_fallbacks;
	m->forget_fallbacks = st.global_fallbacks;
	return since;
}

static int forget_body(void *arg)
{
	struct managed *m = arg;
	if (answered_locally(m)) {
		log_info("throttle '%s': subscribed again (global '%s'): its cached answers are kept, "
		         "as it answered on its own meanwhile (on_unreachable = local); a one-key "
		         "clear made meanwhile takes effect when its window ends here",
		         m->name, m->global.name);
		return 0;
	}
	uint64_t n = table_clear(&m->t->r, &m->t->me);
	if (n > 0)
		log_info("throttle '%s': subscribed again (global '%s'): its %llu cached answers are "
		         "dropped (a one-key clear made meanwhile was not received)",
		         m->name, m->global.name, (unsigned long long)n);
	return 0;
}

void global_forget(struct managed *m)
{
	(void)regions_guard(m, forget_body, m);
}
