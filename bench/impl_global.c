/*
 * evthrottle made global through Redis (issue 20), built only with hiredis: two
 * simulated hosts, two regions with their own names and one global name, on the
 * redis-server of --redis-socket.  Each worker process attaches to one of them (by
 * the parity of its pid), as clients of two hosts would.  Decisions the local
 * cache throttles stay in shared memory; the others make a round trip to Redis.
 * The note gives the share of decisions that went to Redis, and the p50/p99 of
 * each kind apart: every call is timed here (two clock reads more per call) and
 * told apart by the handle's own round-trip counter.
 */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "handle.h"

/* Latency samples of one kind of decision, shared by the workers. */
#define KIND_SAMPLES (1u << 20)
struct samples {
	_Atomic uint64_t n;
	uint64_t ns[KIND_SAMPLES];
};

struct gbench_state {
	char name[2][64], endpoint[160];
	evt_throttle *owner[2];
	evt_global g;
	struct samples *kind; /* [0] local, [1] went to Redis: MAP_SHARED */
};

static void *gbench_create(const struct config *c)
{
	static unsigned serial;
	struct gbench_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->kind = mmap(NULL, 2 * sizeof *s->kind, PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->kind == MAP_FAILED) {
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
			munmap(s->kind, 2 * sizeof *s->kind);
			free(s);
			return NULL;
		}
	}
	return s;
}

struct gbench_handle {
	evt_throttle *t;
	struct samples *kind;
};

static void *gbench_attach(void *state)
{
	struct gbench_state *s = state;
	struct gbench_handle *h = calloc(1, sizeof *h);
	if (h == NULL)
		return NULL;
	h->kind = s->kind;
	int rc = evt_attach(s->name[getpid() & 1], 0, &h->t);
	if (rc < 0) {
		fprintf(stderr, "evt_attach: %s\n", evt_strerror(rc));
		free(h);
		return NULL;
	}
	return h;
}

static int gbench_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	struct gbench_handle *h = handle;
	const struct region_client *e = h->t->me.entry;
	uint64_t trips = client_ctr(e, CTR_GLOBAL_ROUND_TRIPS), start = evt_now_ns();
	int rc = evt_should_process(h->t, ts, NULL, key, len);
	uint64_t ns = evt_now_ns() - start;
	struct samples *k = &h->kind[client_ctr(e, CTR_GLOBAL_ROUND_TRIPS) != trips];
	uint64_t at = atomic_fetch_add_explicit(&k->n, 1, memory_order_relaxed);
	if (at < KIND_SAMPLES)
		k->ns[at] = ns;
	return rc;
}

static void gbench_detach(void *handle)
{
	struct gbench_handle *h = handle;
	evt_close(h->t);
	free(h);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* p50 and p99 of one kind's samples, in ns (sorts them). */
static void percentiles(struct samples *k, uint64_t *p50, uint64_t *p99)
{
	uint64_t n = atomic_load(&k->n) < KIND_SAMPLES ? atomic_load(&k->n) : KIND_SAMPLES;
	*p50 = *p99 = 0;
	if (n == 0)
		return;
	qsort(k->ns, n, sizeof k->ns[0], cmp_u64);
	*p50 = k->ns[n / 2];
	*p99 = k->ns[n * 99 / 100];
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
	uint64_t l50, l99, r50, r99;
	percentiles(&s->kind[0], &l50, &l99);
	percentiles(&s->kind[1], &r50, &r99);
	snprintf(f->note, sizeof f->note,
	         "round_trips=%llu (%.3f%% of %llu) fallbacks=%llu; p50/p99 ns local %llu/%llu, "
	         "redis %llu/%llu",
	         (unsigned long long)trips, decided ? 100.0 * (double)trips / (double)decided : 0.0,
	         (unsigned long long)decided, (unsigned long long)fallbacks,
	         (unsigned long long)l50, (unsigned long long)l99, (unsigned long long)r50,
	         (unsigned long long)r99);
}

static void gbench_destroy(void *state)
{
	struct gbench_state *s = state;
	for (int i = 0; i < 2; i++) {
		evt_close(s->owner[i]);
		evt_unlink(s->name[i]);
	}
	munmap(s->kind, 2 * sizeof *s->kind);
	free(s);
}

const struct impl_ops impl_evt_global = {
	.name = "evt-global",
	.decides = true,
	.create = gbench_create,
	.attach = gbench_attach,
	.decide = gbench_decide,
	.detach = gbench_detach,
	.inspect = gbench_inspect,
	.destroy = gbench_destroy,
};
