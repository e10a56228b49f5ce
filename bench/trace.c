/* The key trace: every key and every event made before the clock starts, so key
 * generation and random numbers are not part of what is measured. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64: small, fast, good enough for choosing keys. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n) (multiply-shift; the bias for n << 2^32 is negligible). */
static uint32_t rng_below(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((rng_next(s) >> 32) * n) >> 32);
}

static double rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

const char *dist_name(enum dist d)
{
	static const char *names[] = { "uniform", "zipf", "hot", "churn" };
	return names[d];
}

/* "user:<n>" with n an odd-multiplier scramble of the id: a bijection on 32 bits,
 * so distinct ids give distinct keys, and the numbers look random (1..10 digits). */
static void key_make(struct bkey *k, uint32_t id)
{
	uint32_t n = id * 2654435761u;
	int len = snprintf(k->s, sizeof k->s, "user:%u", n);
	k->len = (uint8_t)len;
}

/* Zipf over ranks 0..n-1: the cumulative distribution, searched per draw. */
struct zipf {
	double *cdf;
	uint32_t *perm; /* rank -> key id, so hot keys are spread over ids */
	uint32_t n;
};

static int zipf_init(struct zipf *z, uint32_t n, double s, uint64_t *rng)
{
	z->n = n;
	z->cdf = malloc(sizeof *z->cdf * n);
	z->perm = malloc(sizeof *z->perm * n);
	if (z->cdf == NULL || z->perm == NULL)
		return -1;
	double sum = 0;
	for (uint32_t i = 0; i < n; i++)
		z->cdf[i] = (sum += pow((double)i + 1.0, -s));
	for (uint32_t i = 0; i < n; i++) {
		z->cdf[i] /= sum;
		z->perm[i] = i;
	}
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t j = rng_below(rng, i + 1), tmp = z->perm[i];
		z->perm[i] = z->perm[j];
		z->perm[j] = tmp;
	}
	return 0;
}

static uint32_t zipf_draw(const struct zipf *z, uint64_t *rng)
{
	double u = rng_unit(rng);
	uint32_t lo = 0, hi = z->n - 1;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (z->cdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return z->perm[lo];
}

static void zipf_free(struct zipf *z)
{
	free(z->cdf);
	free(z->perm);
}

/* Key ids the trace can name: churn slides a keys-wide range one id every
 * churn_every events, so it needs that many more. */
static uint32_t trace_nkeys(const struct config *c)
{
	if (c->dist != DIST_CHURN)
		return c->keys;
	return c->keys + (uint32_t)(c->trace_len / c->churn_every) + 1;
}

static uint32_t draw(const struct config *c, const struct zipf *z, size_t i, uint64_t *rng)
{
	switch (c->dist) {
	case DIST_ZIPF:
		return zipf_draw(z, rng);
	case DIST_HOT:
		return rng_unit(rng) < c->hot_frac ? 0 : rng_below(rng, c->keys);
	case DIST_CHURN:
		return (uint32_t)(i / c->churn_every) + rng_below(rng, c->keys);
	default:
		return rng_below(rng, c->keys);
	}
}

int trace_make(const struct config *c, struct trace *t)
{
	uint64_t rng = c->seed;
	struct zipf z = { 0 };
	memset(t, 0, sizeof *t);
	t->len = c->trace_len;
	t->nkeys = trace_nkeys(c);
	t->keys = malloc(sizeof *t->keys * t->nkeys);
	t->ops = malloc(sizeof *t->ops * t->len);
	if (t->keys == NULL || t->ops == NULL ||
	    (c->dist == DIST_ZIPF && zipf_init(&z, c->keys, c->zipf_s, &rng) < 0)) {
		zipf_free(&z);
		trace_free(t);
		return -1;
	}
	for (uint32_t id = 0; id < t->nkeys; id++)
		key_make(&t->keys[id], id);
	for (size_t i = 0; i < t->len; i++)
		t->ops[i] = draw(c, &z, i, &rng);
	zipf_free(&z);
	return 0;
}

void trace_free(struct trace *t)
{
	free(t->keys);
	free(t->ops);
	t->keys = NULL;
	t->ops = NULL;
}
