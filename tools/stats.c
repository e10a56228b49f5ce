#include "stats.h"

#include <string.h>

#include "clients.h"
#include "duration.h"
#include "handle.h"
#include "json.h"
#include "toolutil.h"

static const char *const bucket_names[PROBE_BUCKETS] = { "0", "1", "2", "3",
	                                                 "4-7", "8-15", "16-31" };

static unsigned bucket_of(uint32_t d)
{
	if (d < 4)
		return d;
	return d < 8 ? 4 : d < 16 ? 5 : 6;
}

static void scan(const evt_throttle *t, struct snapshot *s)
{
	const struct region *r = &t->r;
	struct table_entry e;
	for (uint32_t i = 0; i <= r->mask; i++) {
		if (!table_read_slot(r, i, &e))
			continue;
		s->published++;
		s->probe[bucket_of((e.slot - e.home) & r->mask)]++;
	}
	s->scanned = true;
}

/* Whether process pid holds a live client entry. */
static bool holds_slot(const struct region *r, uint64_t pid)
{
	uint32_t n = atomic_load_explicit(&r->hdr->client_hwm, memory_order_acquire);
	for (uint32_t i = 0; pid != 0 && i < n && i < r->client_max; i++) {
		uint64_t o = atomic_load_explicit(&region_client(r, i)->owner, memory_order_relaxed);
		if (CLIENT_STATE(o) == CLIENT_LIVE && (uint64_t)CLIENT_PID(o) == pid)
			return true;
	}
	return false;
}

void snapshot_take(const evt_throttle *t, bool scan_table, struct snapshot *s)
{
	const struct region_hdr *h = t->r.hdr;
	memset(s, 0, sizeof *s);
	evt_stats_get(t, &s->st);
	s->taken_ns = evt_now_ns();
	s->daemon_pid = atomic_load_explicit(&h->daemon_pid, memory_order_relaxed);
	s->heartbeat_ns = atomic_load_explicit(&h->daemon_heartbeat_ns, memory_order_relaxed);
	s->daemon_alive = pid_alive((int64_t)s->daemon_pid);
	s->daemon_slot = holds_slot(&t->r, s->daemon_pid);
	s->current = evt_is_current(t);
	global_status(&t->r, &s->global);
	if (scan_table)
		scan(t, s);
}

/* on_full or on_stale (their enums number the policies alike). */
static const char *policy_name(uint32_t p)
{
	return p == EVT_ON_FULL_PROCESS ? "process" : p == EVT_ON_FULL_ERROR ? "error" : "throttle";
}

static double occupancy_pct(const evt_stats *st)
{
	return st->capacity != 0 ? 100.0 * (double)st->keys / st->capacity : 0.0;
}

/* Per-second rates between two snapshots. */
enum {
	RATE_PROCESSED,
	RATE_THROTTLED,
	RATE_NEW_KEYS,
	RATE_RECLAIMED,
	RATE_FULL,
	RATE_STALE,
	RATE_COUNT
};
static const char *const rate_names[RATE_COUNT] = { "processed", "throttled", "new_keys",
	                                            "reclaimed", "full",      "stale" };

static bool rates(const struct snapshot *s, const struct snapshot *prev, double out[RATE_COUNT])
{
	if (prev == NULL || s->taken_ns <= prev->taken_ns)
		return false;
	double dt = (double)(s->taken_ns - prev->taken_ns) / 1e9;
	const uint64_t now[RATE_COUNT] = { s->st.processed, s->st.throttled, s->st.new_keys,
		                           s->st.reclaimed, s->st.full,      s->st.stale };
	const uint64_t then[RATE_COUNT] = { prev->st.processed, prev->st.throttled,
		                            prev->st.new_keys,  prev->st.reclaimed,
		                            prev->st.full,      prev->st.stale };
	for (int i = 0; i < RATE_COUNT; i++)
		out[i] = now[i] >= then[i] ? (double)(now[i] - then[i]) / dt : 0.0;
	return true;
}

/* The time since the daemon's last heartbeat, which is on evt_now_ns()'s clock;
 * false if there is none. */
static bool heartbeat_age(const struct snapshot *s, uint64_t *age)
{
	*age = s->taken_ns - s->heartbeat_ns;
	return s->heartbeat_ns != 0 && s->heartbeat_ns <= s->taken_ns;
}

static void daemon_text(FILE *f, const struct snapshot *s)
{
	char buf[64];
	uint64_t age;
	if (s->daemon_pid == 0) {
		fprintf(f, "  %-16s none\n", "daemon");
		return;
	}
	fprintf(f, "  %-16s pid %llu (%s)", "daemon", (unsigned long long)s->daemon_pid,
	        s->daemon_alive ? "running" : "not running");
	if (heartbeat_age(s, &age))
		fprintf(f, ", heartbeat %s ago", duration_human(age, buf, sizeof buf));
	fputc('\n', f);
}

/* Is the resolution of the endpoint's host name failing (the last one failed)? */
static bool resolve_failing(const struct global_status *g)
{
	return g->named && g->resolve_failed_ns != 0 && g->resolve_failed_ns >= g->resolved_ns;
}

/* The address the clients connect to: the numeric host's, or the one resolved for
 * its name (by the region's creator, then by evthrottled each round). */
static void address_text(FILE *f, const struct global_status *g)
{
	char buf[64];
	uint64_t now = evt_realtime_ns();
	if (!g->named && g->address[0] != '\0')
		fprintf(f, "  %-16s %s (numeric)\n", "redis address", g->address);
	if (!g->named)
		return;
	if (g->address[0] == '\0')
		fprintf(f, "  %-16s none: %s\n", "redis address",
		        resolve_failing(g) ? g->resolve_error : "not resolved yet");
	else if (resolve_failing(g))
		fprintf(f, "  %-16s %s (the last good one: the last resolution, %s ago, failed: %s)\n",
		        "redis address", g->address,
		        duration_human(now > g->resolve_failed_ns ? now - g->resolve_failed_ns : 0, buf,
		                       sizeof buf),
		        g->resolve_error);
	else
		fprintf(f, "  %-16s %s (resolved %s ago)\n", "redis address", g->address,
		        duration_human(now > g->resolved_ns ? now - g->resolved_ns : 0, buf, sizeof buf));
}

/* A global throttle's lines: where, whether Redis answers, what it cost. */
static void global_text(FILE *f, const struct snapshot *s)
{
	const struct global_status *g = &s->global;
	char buf[64];
	if (!g->enabled)
		return;
	fprintf(f, "  %-16s %s through redis %s (timeout %s, on_unreachable %s)\n", "global",
	        g->name, g->redis, duration_format(g->timeout_ns, buf, sizeof buf),
	        global_policy_name(g->on_unreachable));
	address_text(f, g);
	uint64_t now = evt_realtime_ns();
	if (g->down)
		fprintf(f, "  %-16s unreachable for %s: %s\n", "redis",
		        duration_human(now > g->last_error_ns ? now - g->last_error_ns : 0, buf,
		                       sizeof buf),
		        g->last_error);
	else
		fprintf(f, "  %-16s %s\n", "redis", g->ok_since_ns ? "connected" : "not asked yet");
	fprintf(f, "  %-16s %llu (fallbacks %llu, errors %llu)\n", "round trips",
	        (unsigned long long)s->st.global_round_trips,
	        (unsigned long long)s->st.global_fallbacks, (unsigned long long)s->st.global_errors);
	if (!g->down && g->last_error_ns != 0)
		fprintf(f, "  %-16s %s\n", "last error", g->last_error);
	if (g->synced_ns == 0)
		fprintf(f, "  %-16s not read from Redis yet (by evthrottled)\n", "redis window");
	else if (g->redis_window_ns == 0)
		fprintf(f, "  %-16s none set (each host keeps its own)\n", "redis window");
	else
		fprintf(f, "  %-16s %s (%s)\n", "redis window",
		        duration_format(g->redis_window_ns, buf, sizeof buf),
		        g->redis_window_ns == s->st.window_ns ? "agrees" : "DIFFERS from this host's");
}

void stats_summary(FILE *f, const char *name, const struct snapshot *s)
{
	const evt_stats *st = &s->st;
	char w[64];
	fprintf(f, "throttle '%s'\n", name);
	fprintf(f, "  %-16s %s\n", "window", duration_format(st->window_ns, w, sizeof w));
	fprintf(f, "  %-16s %u per key per window\n", "limit", st->limit);
	fprintf(f, "  %-16s %s\n", "mode",
	        st->shadow ? "shadow (decides and counts, answers 1: would_throttle)" : "enforcing");
	fprintf(f, "  %-16s %llu / %u (%.1f%%)\n", "keys", (unsigned long long)st->keys,
	        st->capacity, occupancy_pct(st));
	fprintf(f, "  %-16s %u / %u%s\n", "clients", st->clients, st->client_max,
	        s->daemon_slot ? " (one is evthrottled's own)" : "");
	fprintf(f, "  %-16s %llu\n", "processed", (unsigned long long)st->processed);
	fprintf(f, "  %-16s %llu\n", "throttled", (unsigned long long)st->throttled);
	fprintf(f, "  %-16s %llu\n", "inside window", (unsigned long long)st->inside_window);
	fprintf(f, "  %-16s %llu\n", "out of order", (unsigned long long)st->out_of_order);
	fprintf(f, "  %-16s %llu (answered 1 in shadow mode)\n", "would throttle",
	        (unsigned long long)st->would_throttle);
	fprintf(f, "  %-16s %llu\n", "peeks", (unsigned long long)st->peeks);
	fprintf(f, "  %-16s %llu (policy: %s)\n", "full", (unsigned long long)st->full,
	        policy_name(st->on_full));
	fprintf(f, "  %-16s %llu (policy: %s)\n", "stale", (unsigned long long)st->stale,
	        policy_name(st->on_stale));
	global_text(f, s);
	daemon_text(f, s);
	if (s->current == 0)
		fprintf(f, "  %-16s removed or replaced since attached: these figures are the old "
		        "region's; attach again\n", "region");
}

static void probe_text(FILE *f, const struct snapshot *s)
{
	fprintf(f, "  %-16s", "probe length");
	for (int b = 0; b < PROBE_BUCKETS; b++)
		fprintf(f, " %s:%llu", bucket_names[b], (unsigned long long)s->probe[b]);
	fprintf(f, "  (%llu keys scanned)\n", (unsigned long long)s->published);
}

void stats_text(FILE *f, const char *name, const struct snapshot *s, const struct snapshot *prev)
{
	const evt_stats *st = &s->st;
	double r[RATE_COUNT];
	char idle[64];
	stats_summary(f, name, s);
	fprintf(f, "  %-16s %u bytes\n", "key max", st->key_max);
	fprintf(f, "  %-16s %llu\n", "new keys", (unsigned long long)st->new_keys);
	fprintf(f, "  %-16s %llu\n", "reclaimed", (unsigned long long)st->reclaimed);
	fprintf(f, "  %-16s %llu\n", "cleared", (unsigned long long)st->cleared);
	fprintf(f, "  %-16s %llu ns (keys last processed a window before it may be reused)\n",
	        "reclaim horizon", (unsigned long long)st->horizon_ns);
	fprintf(f, "  %-16s %s (clients further behind do not hold reclaim back)\n", "client idle",
	        duration_format(st->client_idle_ns, idle, sizeof idle));
	if (s->scanned)
		probe_text(f, s);
	if (!rates(s, prev, r)) {
		fprintf(f, "  %-16s n/a (per second from the second --watch frame on)\n", "rates");
		return;
	}
	fprintf(f, "  %-16s", "rates");
	for (int i = 0; i < RATE_COUNT; i++)
		fprintf(f, "%s %s %.1f/s", i > 0 ? "," : "", rate_names[i], r[i]);
	fputc('\n', f);
}

static void json_rates(struct json *j, const struct snapshot *s, const struct snapshot *prev)
{
	double r[RATE_COUNT];
	if (!rates(s, prev, r))
		return; /* one shot: no rates */
	json_object(j, "rates_per_s");
	for (int i = 0; i < RATE_COUNT; i++)
		json_double(j, rate_names[i], r[i]);
	json_end(j, '}');
}

/* "global": null for a host-local throttle. */
static void json_global(struct json *j, const struct global_status *g, uint64_t window)
{
	if (!g->enabled) {
		json_null(j, "global");
		return;
	}
	json_object(j, "global");
	json_str(j, "name", g->name);
	json_str(j, "redis", g->redis);
	if (g->address[0] != '\0')
		json_str(j, "redis_address", g->address);
	else
		json_null(j, "redis_address");
	json_u64(j, "redis_resolved_unix_ns", g->resolved_ns);
	if (resolve_failing(g))
		json_str(j, "redis_resolve_error", g->resolve_error);
	else
		json_null(j, "redis_resolve_error");
	json_u64(j, "timeout_ns", g->timeout_ns);
	json_str(j, "on_unreachable", global_policy_name(g->on_unreachable));
	json_bool(j, "connected", !g->down && g->ok_since_ns != 0);
	json_u64(j, "epoch", g->epoch);
	if (g->last_error_ns != 0)
		json_str(j, "last_error", g->last_error);
	else
		json_null(j, "last_error");
	json_u64(j, "last_error_unix_ns", g->last_error_ns);
	json_u64(j, "redis_window_ns", g->redis_window_ns);
	json_u64(j, "redis_window_read_unix_ns", g->synced_ns);
	if (g->synced_ns != 0 && g->redis_window_ns != 0)
		json_bool(j, "window_agrees", g->redis_window_ns == window);
	else
		json_null(j, "window_agrees");
	json_end(j, '}');
}

void stats_json(FILE *f, const char *name, const struct snapshot *s, const struct snapshot *prev)
{
	const evt_stats *st = &s->st;
	struct json j;
	uint64_t age;
	json_init(&j, f);
	json_object(&j, NULL);
	json_str(&j, "name", name);
	json_u64(&j, "window_ns", st->window_ns);
	json_u64(&j, "limit", st->limit);
	json_bool(&j, "shadow", st->shadow != 0);
	json_u64(&j, "capacity", st->capacity);
	json_u64(&j, "keys", st->keys);
	json_u64(&j, "processed", st->processed);
	json_u64(&j, "throttled", st->throttled);
	json_u64(&j, "inside_window", st->inside_window);
	json_u64(&j, "out_of_order", st->out_of_order);
	json_u64(&j, "would_throttle", st->would_throttle);
	json_u64(&j, "peeks", st->peeks);
	json_u64(&j, "clients", st->clients);
	json_u64(&j, "client_max", st->client_max);
	json_u64(&j, "key_max", st->key_max);
	json_str(&j, "on_full", policy_name(st->on_full));
	json_u64(&j, "full", st->full);
	json_str(&j, "on_stale", policy_name(st->on_stale));
	json_u64(&j, "stale", st->stale);
	json_u64(&j, "client_idle_ns", st->client_idle_ns);
	json_u64(&j, "new_keys", st->new_keys);
	json_u64(&j, "reclaimed", st->reclaimed);
	json_u64(&j, "cleared", st->cleared);
	json_double(&j, "occupancy_pct", occupancy_pct(st));
	json_u64(&j, "horizon_ns", st->horizon_ns);
	json_u64(&j, "daemon_pid", s->daemon_pid);
	json_bool(&j, "daemon_running", s->daemon_alive);
	json_u64(&j, "daemon_heartbeat_ns", s->heartbeat_ns);
	if (heartbeat_age(s, &age))
		json_u64(&j, "daemon_heartbeat_age_ns", age);
	else
		json_null(&j, "daemon_heartbeat_age_ns");
	json_bool(&j, "region_current", s->current != 0);
	json_u64(&j, "global_round_trips", st->global_round_trips);
	json_u64(&j, "global_fallbacks", st->global_fallbacks);
	json_u64(&j, "global_errors", st->global_errors);
	json_global(&j, &s->global, st->window_ns);
	if (s->scanned) {
		json_u64(&j, "scanned_keys", s->published);
		json_object(&j, "probe_histogram");
		for (int b = 0; b < PROBE_BUCKETS; b++)
			json_u64(&j, bucket_names[b], s->probe[b]);
		json_end(&j, '}');
	}
	json_rates(&j, s, prev);
	json_end(&j, '}');
	fputc('\n', f);
}

/* The Prometheus metrics, each with its # HELP and # TYPE lines once and one
 * sample per throttle read. */
enum {
	M_UP,
	M_WINDOW,
	M_LIMIT,
	M_SHADOW,
	M_CAPACITY,
	M_KEYS,
	M_OCCUPANCY,
	M_CLIENTS,
	M_PROCESSED,
	M_THROTTLED,
	M_NEW_KEYS,
	M_RECLAIMED,
	M_CLEARED,
	M_FULL,
	M_STALE,
	M_INSIDE_WINDOW,
	M_OUT_OF_ORDER,
	M_WOULD_THROTTLE,
	M_PEEKS,
	M_DAEMON_UP,
	M_HEARTBEAT_AGE,
	M_GLOBAL_ROUND_TRIPS,
	M_GLOBAL_FALLBACKS,
	M_GLOBAL_ERRORS,
	M_GLOBAL_UP,
	M_COUNT
};

static const struct {
	const char *name, *type, *help;
} metrics[M_COUNT] = {
	{ "up", "gauge", "1 for each throttle whose region could be read, 0 if not." },
	{ "window_seconds", "gauge", "Throttling window." },
	{ "limit", "gauge", "Processed events per key per window." },
	{ "shadow", "gauge", "1 in shadow mode (decides and counts, answers 1), 0 enforcing." },
	{ "capacity", "gauge", "Table slots." },
	{ "keys", "gauge", "Keys tracked now." },
	{ "occupancy_ratio", "gauge", "Keys tracked over capacity." },
	{ "clients", "gauge", "Read-write handles attached now." },
	{ "processed_total", "counter", "Events processed." },
	{ "throttled_total", "counter", "Events throttled." },
	{ "new_keys_total", "counter", "Keys inserted." },
	{ "reclaimed_total", "counter", "Expired keys whose slot was reused." },
	{ "cleared_total", "counter", "Keys removed by clear." },
	{ "full_total", "counter", "Decisions made by the on_full policy." },
	{ "stale_total", "counter",
	  "Decisions made by the on_stale policy: the exact answer was forgotten." },
	{ "inside_window_total", "counter",
	  "Events throttled inside their key's window (full under its limit)." },
	{ "out_of_order_total", "counter",
	  "Events throttled for being older than their key's window start." },
	{ "would_throttle_total", "counter", "Events the rule denied, answered 1 in shadow mode." },
	{ "peeks_total", "counter", "evt_peek() calls on read-write handles." },
	{ "daemon_up", "gauge", "Whether the manager daemon is running." },
	{ "daemon_heartbeat_age_seconds", "gauge",
	  "Time since the daemon's last heartbeat (absent without one)." },
	{ "global_round_trips_total", "counter", "Calls to Redis (global throttles)." },
	{ "global_fallbacks_total", "counter",
	  "Decisions answered by on_unreachable because Redis could not." },
	{ "global_errors_total", "counter", "Failed connects and round trips to Redis." },
	{ "global_redis_up", "gauge",
	  "0 while the last round trip to Redis failed (global throttles only)." },
};

static void seconds(char *buf, size_t size, uint64_t ns)
{
	snprintf(buf, size, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
	         (unsigned long long)(ns % 1000000000u));
}

static uint64_t u64_of(int m, const struct snapshot *s)
{
	const evt_stats *st = &s->st;
	const uint64_t values[M_COUNT] = {
		[M_CAPACITY] = st->capacity,   [M_KEYS] = st->keys,
		[M_CLIENTS] = st->clients,     [M_PROCESSED] = st->processed,
		[M_THROTTLED] = st->throttled, [M_NEW_KEYS] = st->new_keys,
		[M_RECLAIMED] = st->reclaimed, [M_CLEARED] = st->cleared,
		[M_FULL] = st->full,           [M_STALE] = st->stale,
		[M_LIMIT] = st->limit,         [M_SHADOW] = st->shadow,
		[M_INSIDE_WINDOW] = st->inside_window,
		[M_OUT_OF_ORDER] = st->out_of_order,
		[M_WOULD_THROTTLE] = st->would_throttle,
		[M_PEEKS] = st->peeks,         [M_DAEMON_UP] = s->daemon_alive,
		[M_GLOBAL_ROUND_TRIPS] = st->global_round_trips,
		[M_GLOBAL_FALLBACKS] = st->global_fallbacks,
		[M_GLOBAL_ERRORS] = st->global_errors,
		[M_GLOBAL_UP] = !s->global.down,
	};
	return values[m];
}

/* Metric m's value for a throttle read, in buf; false if it has none. */
static bool prom_value(int m, const struct snapshot *s, char *buf, size_t size)
{
	uint64_t age;
	switch (m) {
	case M_WINDOW:
		seconds(buf, size, s->st.window_ns);
		return true;
	case M_OCCUPANCY:
		snprintf(buf, size, "%.6f", occupancy_pct(&s->st) / 100.0);
		return true;
	case M_HEARTBEAT_AGE:
		if (!heartbeat_age(s, &age))
			return false;
		seconds(buf, size, age);
		return true;
	case M_GLOBAL_UP:
		if (!s->global.enabled)
			return false;
		snprintf(buf, size, "%d", !s->global.down);
		return true;
	default:
		snprintf(buf, size, "%llu", (unsigned long long)u64_of(m, s));
		return true;
	}
}

static void prom_metric(FILE *f, int m, const struct reading *r, size_t n)
{
	char buf[48];
	fprintf(f, "# HELP evthrottle_%s %s\n# TYPE evthrottle_%s %s\n", metrics[m].name,
	        metrics[m].help, metrics[m].name, metrics[m].type);
	for (size_t i = 0; i < n; i++) {
		if (m == M_UP)
			snprintf(buf, sizeof buf, "%d", r[i].up);
		else if (!r[i].up || !prom_value(m, &r[i].s, buf, sizeof buf))
			continue;
		fprintf(f, "evthrottle_%s{throttle=\"%s\"} %s\n", metrics[m].name, r[i].name, buf);
	}
}

static void prom_probe(FILE *f, const struct reading *r, size_t n)
{
	fprintf(f, "# HELP evthrottle_probe_keys Keys by distance from their home slot.\n"
	           "# TYPE evthrottle_probe_keys gauge\n");
	for (size_t i = 0; i < n; i++)
		for (int b = 0; r[i].up && r[i].s.scanned && b < PROBE_BUCKETS; b++)
			fprintf(f, "evthrottle_probe_keys{throttle=\"%s\",distance=\"%s\"} %llu\n",
			        r[i].name, bucket_names[b], (unsigned long long)r[i].s.probe[b]);
}

void stats_prometheus(FILE *f, const struct reading *r, size_t n)
{
	fprintf(f, "# HELP evthrottle_build_info The evthrottle version of this exporter.\n"
	           "# TYPE evthrottle_build_info gauge\n"
	           "evthrottle_build_info{version=\"%s\"} 1\n",
	        EVT_PACKAGE_VERSION);
	for (int m = 0; m < M_COUNT; m++)
		prom_metric(f, m, r, n);
	prom_probe(f, r, n);
}
