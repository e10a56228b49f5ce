/*
 * A client entry's counters without a locked instruction on the decision path.
 * Each handle has one owner thread: the first thread of the process that
 * registered it to count anything on it.  That thread alone writes the entry's
 * ctr[] words, with a plain load and store; every other thread (and a child
 * forked with the handle) adds to ctr_shared[] with a locked add.  A count is
 * ctr[k] + ctr_shared[k] (client_ctr()).  docs/design.md §1 says why this stays
 * exact for any number of threads and for processes killed at any instruction.
 */
#ifndef EVT_COUNTER_H
#define EVT_COUNTER_H

#include "table.h"

/* This thread's token (never COUNTER_NO_TOKEN once it counted through the slow
 * path); initial-exec: two instructions to read, no call. */
#define COUNTER_NO_TOKEN UINT64_MAX
extern __thread uint64_t counter_token __attribute__((tls_model("initial-exec")));

/* Register the fork handler that keeps a forked child from counting as the owner
 * (once per process; client_register() calls it). */
void counter_init(void);

/* This process's identity: its pid and fork generation, different in a child of
 * any fork (one made by fork(), _Fork() or a raw clone() or fork syscall; not
 * vfork(), whose child shares the parent's memory and may only exec or _exit);
 * table_client.epoch at registration.  No syscall, but one getpid() at the first
 * call in a child made without fork().  Where the kernel lacks MADV_WIPEONFORK
 * (before Linux 4.14), the fork generation alone (a child made without fork() is
 * not told).  Call counter_init() first.  Thread-safe. */
uint64_t counter_epoch(void);

/* ctr_add() by a thread that is not the owner: claims the handle for this thread
 * if it has no owner yet (and was registered by this process), else lock add. */
void ctr_add_other(const struct table_client *me, int which);

/* Add 1 to a word only this thread writes: no lock prefix.  On x86-64 one
 * instruction (an aligned 8-byte store is atomic for readers), which gcc does
 * not fuse the relaxed load and store into. */
static inline void ctr_bump(_Atomic uint64_t *c)
{
#if defined(__x86_64__)
	__asm__("addq $1, %0" : "+m"(*(volatile uint64_t *)c));
#else
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
#endif
}

static inline void ctr_add(const struct table_client *me, int which)
{
	if (__builtin_expect(atomic_load_explicit(&me->owner, memory_order_relaxed) == counter_token, 1))
		ctr_bump(&me->entry->ctr[which]);
	else
		ctr_add_other(me, which);
}

/* ctr_add_other(), then rc: ctr_counted()'s rare case. */
int ctr_add_other_then(const struct table_client *me, int which, int rc);

/* ctr_add(), then rc: the rare case is a tail call, so that a decision's common
 * case calls nothing and keeps no value across a call. */
static inline int ctr_counted(const struct table_client *me, int which, int rc)
{
	if (__builtin_expect(atomic_load_explicit(&me->owner, memory_order_relaxed) == counter_token, 1)) {
		ctr_bump(&me->entry->ctr[which]);
		return rc;
	}
	return ctr_add_other_then(me, which, rc);
}

#endif /* EVT_COUNTER_H */
