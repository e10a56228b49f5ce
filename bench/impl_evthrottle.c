/* The library under test, through its public API: a named throttle the parent
 * creates, which every worker process attaches, as real clients would. */
#include "bench.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "region.h" /* region_geometry(): the region's exact size */

struct evt_state {
	char name[64];
	evt_throttle *owner; /* the parent's handle: it keeps the region alive and
	                        reads the stats; it never decides, so its watermark
	                        holds back no reclaim */
	uint64_t region_bytes;
	uint32_t capacity;
};

/* The shm path of the throttle alive now, for the parent's signal handler. */
static char live_path[EVT_NAME_MAX + 32];

void bench_signal_cleanup(void)
{
	if (live_path[0] != '\0')
		shm_unlink(live_path); /* async-signal-safe in practice: one unlink() */
}

evt_options bench_options(const struct config *c)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = c->window_ns;
	o.capacity = c->capacity;
	o.key_max = 32;
	o.mode = 0600;
	o.on_full = EVT_ON_FULL_THROTTLE;
	/* every worker process (or thread) plus the parent */
	o.client_max = config_workers(c) + 1 > 256 ? config_workers(c) + 1 : 256;
	return o;
}

static void *evt_create_state(const struct config *c)
{
	static unsigned serial;
	struct evt_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	snprintf(s->name, sizeof s->name, "bench.%d.%u", (int)getpid(), serial++);
	evt_options o = bench_options(c);
	struct region_geom g;
	int rc = region_geometry(&o, &g);
	if (rc == 0) {
		s->region_bytes = g.total_size;
		s->capacity = g.capacity;
		region_name_path(s->name, live_path, sizeof live_path);
		rc = evt_create(s->name, &o, &s->owner);
	}
	if (rc < 0) {
		fprintf(stderr, "evt_create(%s): %s\n", s->name, evt_strerror(rc));
		live_path[0] = '\0';
		free(s);
		return NULL;
	}
	return s;
}

static void *evt_attach_handle(void *state)
{
	struct evt_state *s = state;
	evt_throttle *t = NULL;
	int rc = evt_attach(s->name, 0, &t);
	if (rc < 0)
		fprintf(stderr, "evt_attach(%s): %s\n", s->name, evt_strerror(rc));
	return t;
}

static int evt_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	return evt_should_process(handle, ts, NULL, key, len);
}

static int evt_decide_batch(void *handle, evt_event *ev, size_t n)
{
	return evt_should_process_batch(handle, ev, n);
}

_Static_assert(sizeof(evt_key) <= sizeof(struct bench_hint), "an evt_key fits a hint");

static void evt_hint(void *handle, const char *key, size_t len, struct bench_hint *h)
{
	evt_prefetch_key(handle, key, len, (evt_key *)(void *)h);
}

/* The decision on the hint's hash: the key is hashed once (evt_should_process_key()). */
static int evt_decide_hinted(void *handle, uint64_t ts, const char *key, size_t len,
                             const struct bench_hint *h)
{
	(void)key;
	(void)len;
	return evt_should_process_key(handle, ts, (const evt_key *)(const void *)h, NULL);
}

static void evt_detach(void *handle)
{
	evt_close(handle);
}

static void evt_inspect(void *state, struct footprint *f)
{
	struct evt_state *s = state;
	evt_stats st;
	f->region_bytes = s->region_bytes;
	f->capacity = s->capacity;
	f->live_keys = -1;
	if (evt_stats_get(s->owner, &st) < 0)
		return;
	f->live_keys = (int64_t)st.keys;
	snprintf(f->note, sizeof f->note,
	         "new_keys=%llu reclaimed=%llu full=%llu processed=%llu throttled=%llu",
	         (unsigned long long)st.new_keys, (unsigned long long)st.reclaimed,
	         (unsigned long long)st.full, (unsigned long long)st.processed,
	         (unsigned long long)st.throttled);
}

static void evt_destroy(void *state)
{
	struct evt_state *s = state;
	evt_close(s->owner);
	evt_unlink(s->name);
	live_path[0] = '\0';
	free(s);
}

const struct impl_ops impl_evthrottle = {
	.name = "evthrottle",
	.decides = true,
	.create = evt_create_state,
	.attach = evt_attach_handle,
	.decide = evt_decide,
	.detach = evt_detach,
	.inspect = evt_inspect,
	.destroy = evt_destroy,
};

/* The same throttle, decided a burst at a time with evt_should_process_batch(). */
const struct impl_ops impl_evt_batch = {
	.name = "evt-batch",
	.decides = true,
	.create = evt_create_state,
	.attach = evt_attach_handle,
	.decide = evt_decide,
	.decide_batch = evt_decide_batch,
	.detach = evt_detach,
	.inspect = evt_inspect,
	.destroy = evt_destroy,
};

/* The same throttle, one call per event, each key prefetched (evt_prefetch_key())
 * BENCH_HINT_AHEAD events before its decision, which reuses its hash. */
const struct impl_ops impl_evt_prefetch = {
	.name = "evt-prefetch",
	.decides = true,
	.create = evt_create_state,
	.attach = evt_attach_handle,
	.decide = evt_decide,
	.hint = evt_hint,
	.decide_hinted = evt_decide_hinted,
	.detach = evt_detach,
	.inspect = evt_inspect,
	.destroy = evt_destroy,
};
