/* The owner thread of a handle's counters (counter.h). */
#include "counter.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#define WIPED_SIZE 4096u /* a page at most: mmap() and madvise() round it up */

__thread uint64_t counter_token __attribute__((tls_model("initial-exec"))) = COUNTER_NO_TOKEN;

static _Atomic uint64_t next_token = 1;
static _Atomic uint64_t epoch; /* forks this process is a child of */
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* counter_epoch()'s value, kept in a page the kernel zeroes in the child of any
 * fork (MADV_WIPEONFORK): a child made without glibc's fork() (_Fork(), a raw
 * clone() or fork syscall) runs no pthread_atfork handler, so the epoch alone
 * does not tell it from its parent; its pid does.  NULL where the kernel lacks
 * the advice: the epoch alone then (no syscall on a decision, SPEC §2). */
static _Atomic(_Atomic uint64_t *) wiped;

/* This process's pid and fork generation (never 0: a pid is at least 1), kept
 * in w.  Relaxed: every thread of a process computes the same value. */
static uint64_t remember(_Atomic uint64_t *w)
{
	uint64_t id = (uint64_t)getpid() << 32 |
	              (uint32_t)atomic_load_explicit(&epoch, memory_order_relaxed);
	atomic_store_explicit(w, id, memory_order_relaxed);
	return id;
}

/* In a forked child: its one thread is a copy of the forking thread, which may be
 * a handle's owner in the parent; from now on it is a new thread with no token,
 * and no handle registered before the fork can be claimed here.  Its identity is
 * kept here, so that no decision makes the syscall. */
static void forked(void)
{
	counter_token = COUNTER_NO_TOKEN;
	atomic_fetch_add_explicit(&epoch, 1, memory_order_relaxed);
	/* Acquire pairs with the release store in register_forked(). */
	_Atomic uint64_t *w = atomic_load_explicit(&wiped, memory_order_acquire);
	if (w != NULL)
		(void)remember(w);
}

static void register_forked(void)
{
	pthread_atfork(NULL, NULL, forked);
	void *p = mmap(NULL, WIPED_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED && madvise(p, WIPED_SIZE, MADV_WIPEONFORK) != 0) {
		munmap(p, WIPED_SIZE);
		p = MAP_FAILED;
	}
	if (p == MAP_FAILED)
		return;
	(void)remember(p);
	/* Pairs with the acquire loads in forked() and counter_epoch(). */
	atomic_store_explicit(&wiped, p, memory_order_release);
}

void counter_init(void)
{
	pthread_once(&once, register_forked);
}

uint64_t counter_epoch(void)
{
	/* Acquire pairs with the release store in register_forked(). */
	_Atomic uint64_t *w = atomic_load_explicit(&wiped, memory_order_acquire);
	if (w == NULL)
		return atomic_load_explicit(&epoch, memory_order_relaxed);
	uint64_t id = atomic_load_explicit(w, memory_order_relaxed);
	/* 0: a child made without fork(), at its first call (one getpid()). */
	return __builtin_expect(id != 0, 1) ? id : remember(w);
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
