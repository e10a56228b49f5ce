/* The owner thread of a handle's counters (counter.h). */
#include "counter.h"

#include <pthread.h>

__thread uint64_t counter_token __attribute__((tls_model("initial-exec"))) = COUNTER_NO_TOKEN;

static _Atomic uint64_t next_token = 1;
static _Atomic uint64_t epoch; /* forks this process is a child of */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* In a forked child: its one thread is a copy of the forking thread, which may be
 * a handle's owner in the parent; from now on it is a new thread with no token,
 * and no handle registered before the fork can be claimed here. */
static void forked(void)
{
	counter_token = COUNTER_NO_TOKEN;
	atomic_fetch_add_explicit(&epoch, 1, memory_order_relaxed);
}

static void register_forked(void)
{
	pthread_atfork(NULL, NULL, forked);
}

void counter_init(void)
{
	pthread_once(&once, register_forked);
}

uint64_t counter_epoch(void)
{
	return atomic_load_explicit(&epoch, memory_order_relaxed);
}

/* Make this thread me's owner if it has none; true if this thread owns it now.
 * The handle is never a const object: this claim is the one write to it made
 * through a decision's const view. */
static bool claim(const struct table_client *me)
{
	_Atomic uint64_t *owner = (_Atomic uint64_t *)&me->owner;
	uint64_t none = 0;
	if (atomic_load_explicit(owner, memory_order_relaxed) != 0 || me->epoch != counter_epoch())
		return false;
	if (counter_token == COUNTER_NO_TOKEN)
		counter_token = atomic_fetch_add_explicit(&next_token, 1, memory_order_relaxed);
	/* Relaxed: ctr[] was last written by this entry's previous holder, ordered
	 * before us by client_register()'s acquire CAS. */
	return atomic_compare_exchange_strong_explicit(owner, &none, counter_token,
	                                               memory_order_relaxed, memory_order_relaxed);
}

void ctr_add_other(const struct table_client *me, int which)
{
	if (claim(me))
		ctr_add(me, which);
	else
		atomic_fetch_add_explicit(&me->entry->ctr_shared[which], 1, memory_order_relaxed);
}

int ctr_add_other_then(const struct table_client *me, int which, int rc)
{
	ctr_add_other(me, which);
	return rc;
}
