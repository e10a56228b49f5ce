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
