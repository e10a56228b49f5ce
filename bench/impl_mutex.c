/*
 * Baseline (a): what one would write without a lock-free table.  One process-shared,
 * robust pthread mutex around an open-addressing (linear probing) table in a
 * MAP_SHARED mapping, 64-byte slots, same keys and same answers as evthrottle.
 *
 * Robust because a shared-memory throttle must survive a client killed while
 * holding the lock (SPEC property 4), and that is what a fair baseline pays for.
 * Keys are never deleted, so probe chains never break; a new key may take over the
 * first slot on its probe path whose window has closed at the caller's timestamp
 * (an expired key answers 1 either way, so the answers do not change), which keeps
 * the table from filling up under --dist churn.  Probes stop after
 * BENCH_PROBE_MAX slots; no room there means "throttle", like evthrottle's default.
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct mtx_slot {
	uint64_t last;
	uint32_t len;  /* 0: empty */
	uint32_t pad;
	char key[48];
};
_Static_assert(sizeof(struct mtx_slot) == 64, "one cache line per slot");

struct mtx_region {
	pthread_mutex_t lock;
	uint64_t full; /* inserts that found no room (under the lock) */
} __attribute__((aligned(64)));

/* Process-local: fork copies it; the pointers are the same in every child because
 * the mapping was made before fork. */
struct mtx_state {
	struct mtx_region *hdr;
	struct mtx_slot *slots;
	size_t map_size;
	uint64_t seed, window;
	uint32_t mask;
};

static int lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc = pthread_mutexattr_init(&a);
	if (rc == 0)
		rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return rc;
}

static void *mtx_create(const struct config *c)
{
	struct mtx_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	uint32_t cap = bench_round_capacity(c->capacity);
	s->map_size = sizeof(struct mtx_region) + (size_t)cap * sizeof(struct mtx_slot);
	void *p = mmap(NULL, s->map_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	               -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		free(s);
		return NULL;
	}
	s->hdr = p;
	s->slots = (struct mtx_slot *)(s->hdr + 1);
	s->mask = cap - 1;
	s->window = c->window_ns;
	if (getrandom(&s->seed, sizeof s->seed, 0) != sizeof s->seed)
		s->seed = 0x5eed;
	int rc = lock_init(&s->hdr->lock);
	if (rc != 0) {
		fprintf(stderr, "pthread_mutex_init: %s\n", strerror(rc));
		munmap(p, s->map_size);
		free(s);
		return NULL;
	}
	return s;
}

static void *mtx_attach(void *state)
{
	return state;
}

static bool window_closed(uint64_t last, uint64_t ts, uint64_t window)
{
	return ts >= last && ts - last >= window;
}

static void lock(struct mtx_region *h)
{
	/* The previous holder died: the table is only ever changed by whole-slot
	 * writes of one decision, good enough for a baseline. */
	if (pthread_mutex_lock(&h->lock) == EOWNERDEAD)
		pthread_mutex_consistent(&h->lock);
}

/* The slot holding key, or NULL with *room = where it may go (NULL: no room). */
static struct mtx_slot *lookup(const struct mtx_state *s, uint64_t h, uint64_t ts,
                               const char *key, uint32_t len, struct mtx_slot **room)
{
	struct mtx_slot *expired = NULL;
	*room = NULL;
	for (uint32_t j = 0; j < BENCH_PROBE_MAX; j++) {
		struct mtx_slot *e = &s->slots[(h + j) & s->mask];
		if (e->len == 0) {
			*room = expired != NULL ? expired : e;
			return NULL;
		}
		if (e->len == len && memcmp(e->key, key, len) == 0)
			return e;
		if (expired == NULL && window_closed(e->last, ts, s->window))
			expired = e;
	}
	*room = expired;
	return NULL;
}

static int mtx_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	struct mtx_state *s = handle;
	uint64_t h = XXH3_64bits_withSeed(key, len, s->seed);
	struct mtx_slot *room;
	int rc = 0;
	lock(s->hdr);
	struct mtx_slot *e = lookup(s, h, ts, key, (uint32_t)len, &room);
	if (e != NULL && window_closed(e->last, ts, s->window)) {
		e->last = ts;
		rc = 1;
	} else if (e == NULL && room != NULL) {
		room->last = ts;
		room->len = (uint32_t)len;
		memcpy(room->key, key, len);
		rc = 1;
	} else if (e == NULL) {
		s->hdr->full++;
	}
	pthread_mutex_unlock(&s->hdr->lock);
	return rc;
}

static void mtx_detach(void *handle)
{
	(void)handle;
}

static void mtx_inspect(void *state, struct footprint *f)
{
	struct mtx_state *s = state;
	int64_t live = 0;
	for (uint32_t i = 0; i <= s->mask; i++)
		live += s->slots[i].len != 0;
	f->region_bytes = s->map_size;
	f->capacity = s->mask + 1;
	f->live_keys = live; /* slots in use, expired keys included */
	snprintf(f->note, sizeof f->note, "full=%llu (robust process-shared mutex)",
	         (unsigned long long)s->hdr->full);
}

static void mtx_destroy(void *state)
{
	struct mtx_state *s = state;
	pthread_mutex_destroy(&s->hdr->lock);
	munmap(s->hdr, s->map_size);
	free(s);
}

const struct impl_ops impl_mutex = {
	.name = "mutex",
	.decides = true,
	.create = mtx_create,
	.attach = mtx_attach,
	.decide = mtx_decide,
	.detach = mtx_detach,
	.inspect = mtx_inspect,
	.destroy = mtx_destroy,
};
