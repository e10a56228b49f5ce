#include "clientlist.h"

#include <time.h>

#include "clients.h"
#include "handle.h"
#include "json.h"
#include "toolutil.h"

struct client_row {
	uint32_t index;
	int pid;
	unsigned state;
	bool alive, daemon;
	uint64_t wm, attach_unix_ns;
	uint64_t since[CTR_COUNT]; /* ctr - base: since the holder attached */
};

/* Entries beyond the high-water mark were never used. */
static uint32_t used_entries(const struct region *r)
{
	/* Pairs with the release CAS on client_hwm in client_register(). */
	uint32_t n = atomic_load_explicit(&r->hdr->client_hwm, memory_order_acquire);
	return n < r->client_max ? n : r->client_max;
}

/* Entry i if it is in use. */
static bool client_read(const struct region *r, uint32_t i, struct client_row *c)
{
	const struct region_client *e = region_client(r, i);
	/* Pairs with the release in retire().  client_register() writes wm and
	 * base after taking the entry: a just-taken entry may show old ones. */
	uint64_t o = atomic_load_explicit(&e->owner, memory_order_acquire);
	if (CLIENT_STATE(o) == CLIENT_FREE)
		return false;
	uint64_t daemon = atomic_load_explicit(&r->hdr->daemon_pid, memory_order_relaxed);
	*c = (struct client_row){
		.index = i,
		.pid = CLIENT_PID(o),
		.state = CLIENT_STATE(o),
		.alive = client_held(r, i),
		.daemon = daemon != 0 && daemon == (uint64_t)(uint32_t)CLIENT_PID(o),
		.wm = atomic_load_explicit(&e->wm, memory_order_relaxed),
		.attach_unix_ns = atomic_load_explicit(&e->attach_unix_ns, memory_order_relaxed),
	};
	for (int k = 0; k < CTR_COUNT; k++) {
		uint64_t ctr = client_ctr(e, k);
		uint64_t base = atomic_load_explicit(&e->base[k], memory_order_relaxed);
		c->since[k] = ctr >= base ? ctr - base : 0;
	}
	return true;
}

static const char *state_name(unsigned s)
{
	return s == CLIENT_LIVE ? "live" : s == CLIENT_REAPING ? "reaping" : "invalid";
}

static char *wall_time(uint64_t unix_ns, char *buf, size_t size)
{
	time_t sec = (time_t)(unix_ns / 1000000000u);
	struct tm tm;
	if (unix_ns == 0 || localtime_r(&sec, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, size, "-");
	return buf;
}

void clients_text(FILE *f, const char *name, const evt_throttle *t)
{
	const struct region *r = &t->r;
	uint32_t n = used_entries(r), in_use = 0;
	bool daemon_seen = false;
	struct client_row c;
	char wm[24], at[32];
	fprintf(f, "%-5s  %-10s  %-7s  %-7s  %-20s  %-12s  %-12s  %s\n", "ENTRY", "PID", "STATE",
	        "PROCESS", "WATERMARK", "PROCESSED", "THROTTLED", "ATTACHED");
	for (uint32_t i = 0; i < n; i++) {
		if (!client_read(r, i, &c))
			continue;
		in_use++;
		daemon_seen |= c.daemon;
		if (c.wm == REGION_WM_NONE)
			snprintf(wm, sizeof wm, "-");
		else
			snprintf(wm, sizeof wm, "%llu", (unsigned long long)c.wm);
		fprintf(f, "%-5u  %-10d  %-7s  %-7s  %-20s  %-12llu  %-12llu  %s%s\n", c.index,
		        c.pid, state_name(c.state), c.alive ? "alive" : "dead", wm,
		        (unsigned long long)c.since[CTR_PROCESSED],
		        (unsigned long long)(c.since[CTR_THROTTLED] + c.since[CTR_INSIDE_WINDOW]),
		        wall_time(c.attach_unix_ns, at, sizeof at), c.daemon ? "  (daemon)" : "");
	}
	fprintf(f, "throttle '%s': %u client entries in use (%u ever used, %u max)\n", name, in_use,
	        n, r->client_max);
	uint64_t pid = atomic_load_explicit(&r->hdr->daemon_pid, memory_order_relaxed);
	if (pid != 0 && !daemon_seen)
		fprintf(f, "daemon pid %llu (%s) holds no client entry\n", (unsigned long long)pid,
		        pid_alive((int64_t)pid) ? "running" : "not running");
}

void clients_json(FILE *f, const evt_throttle *t)
{
	const struct region *r = &t->r;
	uint32_t n = used_entries(r);
	struct client_row c;
	struct json j;
	json_init(&j, f);
	json_array(&j, NULL);
	for (uint32_t i = 0; i < n; i++) {
		if (!client_read(r, i, &c))
			continue;
		json_object(&j, NULL);
		json_u64(&j, "entry", c.index);
		json_i64(&j, "pid", c.pid);
		json_str(&j, "state", state_name(c.state));
		json_bool(&j, "alive", c.alive);
		json_bool(&j, "daemon", c.daemon);
		if (c.wm == REGION_WM_NONE)
			json_null(&j, "watermark_ns");
		else
			json_u64(&j, "watermark_ns", c.wm);
		json_u64(&j, "processed", c.since[CTR_PROCESSED]);
		json_u64(&j, "throttled", c.since[CTR_THROTTLED] + c.since[CTR_INSIDE_WINDOW]);
		json_u64(&j, "new_keys", c.since[CTR_NEW_KEYS]);
		json_u64(&j, "full", c.since[CTR_FULL]);
		json_u64(&j, "attach_unix_ns", c.attach_unix_ns);
		json_end(&j, '}');
	}
	json_end(&j, ']');
	fputc('\n', f);
}
