/*
 * evthrottle made global through Redis (issue 20), built only with hiredis: two
 * simulated hosts, two regions with their own names and one global name, on the
 * redis-server of --redis-socket.  Each worker process attaches to one of them (by
 * the parity of its pid), as clients of two hosts would.  Decisions the local
 * cache throttles stay in shared memory; the others make a round trip to Redis.
 * The note gives the share of decisions that went to Redis.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct global_state {
	char name[2][64], endpoint[160];
	evt_throttle *owner[2];
	evt_global g;
};

static void *global_create(const struct config *c)
{
	static unsigned serial;
	struct global_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
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
			free(s);
			return NULL;
		}
	}
	return s;
}

static void *global_attach(void *state)
{
	struct global_state *s = state;
	evt_throttle *t = NULL;
	int rc = evt_attach(s->name[getpid() & 1], 0, &t);
	if (rc < 0)
		fprintf(stderr, "evt_attach: %s\n", evt_strerror(rc));
	return t;
}

static int global_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	return evt_should_process(handle, ts, NULL, key, len);
}

static void global_detach(void *handle)
{
	evt_close(handle);
}

static void global_inspect(void *state, struct footprint *f)
{
	struct global_state *s = state;
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
	snprintf(f->note, sizeof f->note,
	         "two hosts; round_trips=%llu (%.3f%% of %llu decisions) fallbacks=%llu "
	         "processed=%llu",
	         (unsigned long long)trips, decided ? 100.0 * (double)trips / (double)decided : 0.0,
	         (unsigned long long)decided, (unsigned long long)fallbacks,
	         (unsigned long long)(st[0].processed + st[1].processed));
}

static void global_destroy(void *state)
{
	struct global_state *s = state;
	for (int i = 0; i < 2; i++) {
		evt_close(s->owner[i]);
		evt_unlink(s->name[i]);
	}
	free(s);
}

const struct impl_ops impl_evt_global = {
	.name = "evt-global",
	.decides = true,
	.create = global_create,
	.attach = global_attach,
	.decide = global_decide,
	.detach = global_detach,
	.inspect = global_inspect,
	.destroy = global_destroy,
};
