/*
 * Baseline (b): the memory floor.  Per op, the least any shared per-key table must
 * do: hash the key and make one atomic read-modify-write on the first word of the
 * key's 64-byte slot, in a region as large as evthrottle's table.  No key compare,
 * no decision: its processed fraction is meaningless and not reported.  The hash is
 * XXH3 with a seed, as evthrottle's, so the gap to it is the table's own work.
 *
 * floor-batch and floor-prefetch are the floor with evt-batch's grouping and
 * evt-prefetch's hint: their fair floors.
 *
 * floor-work is the floor with --floor-work more hashes of the key a call: work
 * that does not wait for the slot's cache miss, to show how per-call throughput
 * falls with the instructions of a call alone (docs/benchmarks.md).
 */
#include "bench.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct floor_state {
	unsigned char *region;
	size_t size;
	uint64_t seed;
	uint32_t mask, work;
};

static void *floor_create(const struct config *c)
{
	struct floor_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	uint32_t cap = bench_round_capacity(c->capacity);
	s->size = (size_t)cap * 64;
	s->region = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s->region == MAP_FAILED) {
		perror("mmap");
		free(s);
		return NULL;
	}
	s->mask = cap - 1;
	s->work = c->floor_work;
	if (getrandom(&s->seed, sizeof s->seed, 0) != sizeof s->seed)
		s->seed = 0x5eed;
	return s;
}

static void *floor_attach(void *state)
{
	return state;
}

/* The first word of the key's slot. */
static inline _Atomic uint64_t *floor_word(const struct floor_state *s, const char *key,
                                           size_t len)
{
	uint64_t h = XXH3_64bits_withSeed(key, len, s->seed);
	return (_Atomic uint64_t *)(void *)(s->region + (h & s->mask) * 64);
}

static int floor_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	_Atomic uint64_t *w = floor_word(handle, key, len);
	/* lock xadd on x86: the same full-barrier RMW a CAS costs, but it never fails */
	(void)ts;
	atomic_fetch_add_explicit(w, 1, memory_order_relaxed);
	return 1;
}

/* n more hashes of the key, out of line so that the floor's own hash stays inlined
 * in floor_work_decide() as in floor_decide(). */
static __attribute__((noinline)) uint64_t more_hashes(const char *key, size_t len, uint64_t seed,
                                                      uint32_t n)
{
	uint64_t sum = 0;
	for (uint32_t i = 0; i < n; i++)
		sum += XXH3_64bits_withSeed(key, len, seed + 1 + i);
	return sum;
}

static int floor_work_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	const struct floor_state *s = handle;
	uint64_t extra = s->work != 0 ? more_hashes(key, len, s->seed, s->work) : 0;
	_Atomic uint64_t *w = floor_word(s, key, len);
	(void)ts;
	/* The extra hashes feed the value added, so that they cannot be left out. */
	atomic_fetch_add_explicit(w, 1 + (extra & 1), memory_order_relaxed);
	return 1;
}

/* The floor of a burst: hash a group of keys and prefetch their slots, then make
 * the read-modify-writes, the way evt_should_process_batch() overlaps its misses. */
static int floor_decide_batch(void *handle, evt_event *ev, size_t n)
{
	const struct floor_state *s = handle;
	enum { GROUP = 16 };
	_Atomic uint64_t *w[GROUP];
	for (size_t at = 0; at < n; at += GROUP) {
		size_t m = n - at < GROUP ? n - at : GROUP;
		for (size_t j = 0; j < m; j++) {
			w[j] = floor_word(s, ev[at + j].key, ev[at + j].key_len);
			__builtin_prefetch((void *)w[j]);
		}
		for (size_t j = 0; j < m; j++) {
			atomic_fetch_add_explicit(w[j], 1, memory_order_relaxed);
			ev[at + j].result = 1;
		}
	}
	return (int)n;
}

/* The floor's hint: the same prefetch of the key's slot evt_prefetch_key() makes,
 * keeping the slot's address (the hash's work) for the decision. */
static void floor_hint(void *handle, const char *key, size_t len, struct bench_hint *h)
{
	_Atomic uint64_t *w = floor_word(handle, key, len);
	__builtin_prefetch((void *)w);
	h->w[0] = (uint64_t)(uintptr_t)w;
}

static int floor_decide_hinted(void *handle, uint64_t ts, const char *key, size_t len,
                               const struct bench_hint *h)
{
	(void)handle;
	(void)ts;
	(void)key;
	(void)len;
	atomic_fetch_add_explicit((_Atomic uint64_t *)(uintptr_t)h->w[0], 1, memory_order_relaxed);
	return 1;
}

static void floor_detach(void *handle)
{
	(void)handle;
}

static void floor_inspect(void *state, struct footprint *f)
{
	struct floor_state *s = state;
	f->region_bytes = s->size;
	f->capacity = s->mask + 1;
	f->live_keys = -1;
	f->note[0] = '\0';
}

static void floor_destroy(void *state)
{
	struct floor_state *s = state;
	munmap(s->region, s->size);
	free(s);
}

const struct impl_ops impl_floor = {
	.name = "floor",
	.decides = false,
	.create = floor_create,
	.attach = floor_attach,
	.decide = floor_decide,
	.detach = floor_detach,
	.inspect = floor_inspect,
	.destroy = floor_destroy,
};

const struct impl_ops impl_floor_batch = {
	.name = "floor-batch",
	.decides = false,
	.create = floor_create,
	.attach = floor_attach,
	.decide = floor_decide,
	.decide_batch = floor_decide_batch,
	.detach = floor_detach,
	.inspect = floor_inspect,
	.destroy = floor_destroy,
};

/* The floor of a caller that knows its keys BENCH_HINT_AHEAD events ahead: the
 * fair floor of evt-prefetch, as floor-batch is evt-batch's. */
const struct impl_ops impl_floor_prefetch = {
	.name = "floor-prefetch",
	.decides = false,
	.create = floor_create,
	.attach = floor_attach,
	.decide = floor_decide,
	.hint = floor_hint,
	.decide_hinted = floor_decide_hinted,
	.detach = floor_detach,
	.inspect = floor_inspect,
	.destroy = floor_destroy,
};

const struct impl_ops impl_floor_work = {
	.name = "floor-work",
	.decides = false,
	.create = floor_create,
	.attach = floor_attach,
	.decide = floor_work_decide,
	.detach = floor_detach,
	.inspect = floor_inspect,
	.destroy = floor_destroy,
};
