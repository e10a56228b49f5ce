#include "globalwatch.h"

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

/* A window stored in Redis (by another host, or read back), if it differs.  Not
 * evt_update_window(): that would store it in Redis again. */
static void apply_window(struct managed *m, uint64_t window)
{
	evt_throttle *t = m->t;
	uint64_t now = evt_get_window(t);
	if (window == 0 || window == now)
		return;
	/* Pairs with the acquire loads of the window in the decisions. */
	atomic_store_explicit(&t->r.hdr->window_ns, window, memory_order_release);
	char from[64], to[64];
	log_info("throttle '%s': window %s -> %s, set on another host (global '%s')", m->name,
	         duration_format(now, from, sizeof from), duration_format(window, to, sizeof to),
	         m->global.name);
}

/* A clear made on another host: the epoch it moved Redis to, if higher. */
static void apply_epoch(struct managed *m, uint64_t epoch)
{
	evt_throttle *t = m->t;
	if (!global_set_epoch(&t->r, epoch))
		return;
	uint64_t n = table_clear(&t->r, &t->me);
	log_info("throttle '%s': cleared on another host (global '%s', epoch %llu): %llu keys "
	         "removed here", m->name, m->global.name, (unsigned long long)epoch,
	         (unsigned long long)n);
}

/* A key cleared on some host: out of this host's cache too, whatever the epoch
 * (one more round trip at most). */
static void apply_key(struct managed *m, const char *key, size_t len)
{
	if (table_key_check(&m->t->r, key, len) < 0 ||
	    table_clear_key(&m->t->r, &m->t->me, key, (uint32_t)len) <= 0)
		return;
	log_info("throttle '%s': a key (%zu bytes) cleared on another host (global '%s'): removed "
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
	case GLOBAL_CHANGE_CLEAR:
		apply_epoch(a->m, a->c->value);
		break;
	case GLOBAL_CHANGE_KEY:
		apply_key(a->m, a->c->key, a->c->len);
		break;
	}
	return 0;
}

void global_apply(struct managed *m, const struct global_change *c)
{
	struct applied a = { m, c };
	(void)regions_guard(m, apply_body, &a);
}

/* The round's read of Redis's settings, in three steps: only the middle one talks
 * to Redis, outside the SIGBUS guard, and it reads no region memory. */
struct reading {
	struct managed *m;
	bool ask;
	int rc;
	struct redis_error e;
	uint64_t window, epoch;
};

static int may_ask(void *arg)
{
	struct reading *x = arg;
	x->ask = global_may_ask(&x->m->t->r);
	return 0;
}

static int settle(void *arg)
{
	struct reading *x = arg;
	struct managed *m = x->m;
	global_note_read(&m->t->r, &m->t->me, x->rc, &x->e, x->window);
	if (x->rc == 0) {
		apply_window(m, x->window);
		apply_epoch(m, x->epoch);
	}
	return 0;
}

void global_sync(struct managed *m)
{
	struct reading x = { .m = m };
	if (!m->global.enabled || regions_guard(m, may_ask, &x) < 0 || !x.ask)
		return; /* a failure is counted, and logged as an outage */
	x.rc = global_read_settings(&m->redis, &m->global, &x.window, &x.epoch, &x.e);
	(void)regions_guard(m, settle, &x);
}
