/*
 * evthrottle made global through Redis (issue 20), built only with hiredis: two
 * simulated hosts, two regions with their own names and one global name, on the
 * redis-server of --redis-socket.  Each worker process attaches to one of them
 * (the first to attach to host 0, the next to host 1, and so on), as clients of
 * two hosts would.  Decisions the local cache throttles stay in shared memory;
 * the others make a round trip to Redis.  decide() is evt_should_process() and
 * nothing else, as evthrottle's: the latency phase tells the two kinds apart
 * through remote() (the handle's round-trip counter, read outside the timed
 * call); inspect() gives the round trips of the run.  evt-global-batch is the
 * same, 64 events a call through evt_should_process_batch(), whose round trips
 * go in one pipeline per call (throughput only).
 */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "handle.h"

struct gbench_state {
	char name[2][64], endpoint[160];
	evt_throttle *owner[2];
	evt_global g;
	_Atomic unsigned *attached; /* workers attached so far: shared, made before fork */
};

static void *gbench_create(const struct config *c)
{
	static unsigned serial;
	struct gbench_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->attached = mmap(NULL, sizeof *s->attached, PROT_READ | PROT_WRITE,
	                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->attached == MAP_FAILED) {
		perror("mmap");
		free(s);
		return NULL;
	}
	snprintf(s->endpoint, sizeof s->endpoint, "unix:%s", c->redis_socket);
	/* The throttle's global name: host 0's local name, made unique per run. */
	for (int i = 0; i < 2; i++)
		snprintf(s->name[i], sizeof s->name[i], "bench.%d.%u.host%d", (int)getpid(), serial, i);
	serial++;
	s->g = (evt_global){ .redis = s->endpoint, .name = s->name[0], .timeout_ns = 100000000,
		             .on_unreachable = EVT_ON_UNREACHABLE_LOCAL };
	evt_options o = bench_options(c);
	o.global = &s->g;
	for (int i = 0; i < 2; i++) {
		int rc = evt_create(s->name[i], &o, &s->owner[i]);
		if (rc < 0) {
			fprintf(stderr, "evt_create(%s): %s\n", s->name[i], evt_strerror(rc));
			if (i == 1) {
				evt_close(s->owner[0]);
				evt_unlink(s->name[0]);
			}
			munmap(s->attached, sizeof *s->attached);
			free(s);
			return NULL;
		}
	}
	return s;
}

static void *gbench_attach(void *state)
{
	struct gbench_state *s = state;
	evt_throttle *t;
	unsigned host = atomic_fetch_add_explicit(s->attached, 1, memory_order_relaxed) & 1;
	int rc = evt_attach(s->name[host], 0, &t);
	if (rc < 0) {
		fprintf(stderr, "evt_attach: %s\n", evt_strerror(rc));
		return NULL;
	}
	return t;
}

static int gbench_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	return evt_should_process(handle, ts, NULL, key, len);
}

static int gbench_decide_batch(void *handle, evt_event *ev, size_t n)
{
	return evt_should_process_batch(handle, ev, n);
}

static uint64_t gbench_remote(void *handle)
{
	const evt_throttle *t = handle;
	return client_ctr(t->me.entry, CTR_GLOBAL_ROUND_TRIPS);
}

static void gbench_detach(void *handle)
{
	evt_close(handle);
}

static void gbench_inspect(void *state, struct footprint *f)
{
	struct gbench_state *s = state;
	evt_stats st[2];
	f->live_keys = -1;
	if (evt_stats_get(s->owner[0], &st[0]) < 0 || evt_stats_get(s->owner[1], &st[1]) < 0)
		return;
	uint64_t decided = 0, trips = 0, fallbacks = 0;
	for (int i = 0; i < 2; i++) {
		decided += st[i].processed + st[i].throttled;
		trips += st[i].global_round_trips;
		fallbacks += st[i].global_fallbacks;
	}
	f->capacity = st[0].capacity;
	f->live_keys = (int64_t)(st[0].keys + st[1].keys);
	f->remote_calls = trips;
	f->decided = decided;
	f->sites = 2;
	snprintf(f->note, sizeof f->note, "round_trips=%llu (%.3f%% of %llu) fallbacks=%llu",
	         (unsigned long long)trips, decided ? 100.0 * (double)trips / (double)decided : 0.0,
	         (unsigned long long)decided, (unsigned long long)fallbacks);
}

static void gbench_destroy(void *state)
{
	struct gbench_state *s = state;
	for (int i = 0; i < 2; i++) {
		evt_close(s->owner[i]);
		evt_unlink(s->name[i]);
	}
	munmap(s->attached, sizeof *s->attached);
	free(s);
}

const struct impl_ops impl_evt_global = {
	.name = "evt-global",
	.decides = true,
	.create = gbench_create,
	.attach = gbench_attach,
	.decide = gbench_decide,
	.remote = gbench_remote,
	.detach = gbench_detach,
	.inspect = gbench_inspect,
	.destroy = gbench_destroy,
};

const struct impl_ops impl_evt_global_batch = {
	.name = "evt-global-batch",
	.decides = true,
	.create = gbench_create,
	.attach = gbench_attach,
	.decide = gbench_decide,
	.decide_batch = gbench_decide_batch,
	.detach = gbench_detach,
	.inspect = gbench_inspect,
	.destroy = gbench_destroy,
};
