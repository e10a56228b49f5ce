#include "globalwatch.h"

#include "global.h"
#include "duration.h"
#include "handle.h"
#include "log.h"

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

/* Apply what another host stored in Redis: its window, and a clear (the epoch).
 * The region's own change went to Redis when it was made, so it differs from
 * neither and is not applied twice. */
static void sync_settings(struct managed *m, const struct global_status *g)
{
	uint64_t window, epoch;
	evt_throttle *t = m->t;
	if (global_fetch(&t->r, &t->me, t->global, &window, &epoch) < 0)
		return; /* counted, and logged as an outage */
	char from[64], to[64];
	uint64_t now = evt_get_window(t);
	if (window != 0 && window != now) {
		/* Not evt_update_window(): that would store it in Redis again.  Pairs
		 * with the acquire loads of the window in the decisions. */
		atomic_store_explicit(&t->r.hdr->window_ns, window, memory_order_release);
		log_info("throttle '%s': window %s -> %s, set on another host (global '%s')", m->name,
		         duration_format(now, from, sizeof from), duration_format(window, to, sizeof to),
		         g->name);
	}
	if (global_set_epoch(&t->r, epoch)) {
		uint64_t n = table_clear(&t->r, &t->me);
		log_info("throttle '%s': cleared on another host (global '%s', epoch %llu): %llu keys "
		         "removed here", m->name, g->name, (unsigned long long)epoch,
		         (unsigned long long)n);
	}
}

void global_watch(struct managed *m, const evt_stats *st)
{
	struct global_status g;
	global_status(&m->t->r, &g);
	if (!g.enabled)
		return;
	sync_settings(m, &g);
	if (g.down != m->global_down)
		(g.down ? log_outage : log_recovery)(m, &g, st);
	if (!g.down)
		m->global_fallbacks = st->global_fallbacks; /* the outage's count starts here */
}
