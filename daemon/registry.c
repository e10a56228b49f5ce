/* The managed throttles, swapped as a whole under RCU (see registry.h). */
#include "registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <urcu.h>

#include "housekeeping.h"

const struct registry *registry_get(struct registry *_Atomic *reg)
{
	/* Pairs with the release store in publish(): the array and the entries it
	 * points to are complete when seen. */
	return atomic_load_explicit(reg, memory_order_acquire);
}

/* Make next current, wait out the readers of the old array, free it. */
static void publish(struct registry *_Atomic *reg, struct registry *next)
{
	struct registry *old = atomic_load_explicit(reg, memory_order_relaxed);
	/* Pairs with the acquire load in registry_get(). */
	atomic_store_explicit(reg, next, memory_order_release);
	synchronize_rcu();
	rcu_grace_period_done_for_tsan();
	free(old);
}

static struct registry *alloc(size_t n)
{
	struct registry *r = malloc(sizeof *r + n * sizeof r->m[0]);
	if (r != NULL)
		r->n = n;
	return r;
}

int registry_init(struct registry *_Atomic *reg)
{
	struct registry *r = alloc(0);
	if (r == NULL)
		return -ENOMEM;
	atomic_store_explicit(reg, r, memory_order_relaxed);
	return 0;
}

struct managed *registry_find(struct registry *_Atomic *reg, const char *name)
{
	const struct registry *r = registry_get(reg);
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->m[i]->name, name) == 0)
			return r->m[i];
	return NULL;
}

int registry_add(struct registry *_Atomic *reg, struct managed *m)
{
	const struct registry *r = registry_get(reg);
	struct registry *next = alloc(r->n + 1);
	if (next == NULL)
		return -ENOMEM;
	memcpy(next->m, r->m, r->n * sizeof r->m[0]);
	next->m[r->n] = m;
	publish(reg, next);
	return 0;
}

int registry_remove(struct registry *_Atomic *reg, struct managed *m)
{
	const struct registry *r = registry_get(reg);
	struct registry *next = alloc(r->n);
	if (next == NULL)
		return -ENOMEM;
	next->n = 0;
	for (size_t i = 0; i < r->n; i++)
		if (r->m[i] != m)
			next->m[next->n++] = r->m[i];
	publish(reg, next);
	return 0;
}

void registry_free(struct registry *_Atomic *reg)
{
	free(atomic_load_explicit(reg, memory_order_relaxed));
	atomic_store_explicit(reg, NULL, memory_order_relaxed);
}
