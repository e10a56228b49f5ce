/*
 * A client process: `threads` threads deciding on the named throttle.  In an
 * even slot the threads share one handle (one client entry, one watermark, and
 * one clock skew for the process); in an odd slot each thread attaches its own
 * handle and has its own skew.  Timestamps are evt_now_ns() + skew, so every
 * thread's timestamps are non-decreasing.
 *
 * The threads decide in bursts on a grid shared by every process (each period
 * starts at the same instants everywhere), so the bursts of all clients run at
 * once and collide on the hot keys; between bursts they sleep, which keeps the
 * number of decisions (and records) at the target.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "stress.h"

struct worker {
	struct shared *sh;
	const struct opts *o;
	evt_throttle *t; /* shared handle, or NULL: attach one */
	struct recorder rec;
	_Atomic uint64_t *calls; /* the source's progress counter */
	_Atomic uint64_t *die_at;
	uint64_t ncalls;
	int64_t skew;
	uint64_t rng;
	pthread_t th;
};

static void note_error(struct worker *w, int rc)
{
	int zero = 0;
	atomic_compare_exchange_strong(&source_get(w->sh, w->rec.src)->err, &zero, rc);
}

/*
 * The chaos parent's aimed kill: at the call it chose, a timer a few
 * microseconds out sends this process SIGKILL, which lands wherever its threads
 * are by then, often inside evt_should_process.  (The parent cannot time a kill()
 * that finely: it shares two CPUs with the clients.)
 */
static void maybe_arm(struct worker *w)
{
	uint64_t at = atomic_load_explicit(w->die_at, memory_order_relaxed);
	if (at == 0 || w->ncalls != at)
		return;
	timer_t id;
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL };
	struct itimerspec its = { .it_value = { 0, (long)(1000 + splitmix(&w->rng) % 20000) } };
	if (timer_create(CLOCK_MONOTONIC, &ev, &id) == 0)
		timer_settime(id, 0, &its, NULL);
}

/* One decision, recorded around the call.  False when the arena is full. */
static bool decide_one(struct worker *w)
{
	uint64_t s = mono_ns();
	uint32_t key = pick_key(w->o, w->sh->t0, s, splitmix(&w->rng));
	char buf[16];
	size_t len = key_str(buf, key);
	struct rec *r = recorder_begin(&w->rec, key, s);
	if (r == NULL)
		return false;
	atomic_store_explicit(w->calls, ++w->ncalls, memory_order_relaxed);
	maybe_arm(w);
	int rc = evt_should_process(w->t, s + (uint64_t)w->skew, NULL, buf, len);
	recorder_end(r, key, s, rc);
	if (rc < 0 && rc != -ENOSPC)
		note_error(w, rc);
	return true;
}

/* Sleep to the next instant of the shared grid; false once the run is over. */
static bool next_burst(struct worker *w)
{
	uint64_t period = w->o->period_ns, now = mono_ns();
	uint64_t k = (now - w->sh->t0) / period + 1;
	sleep_until(w->sh->t0 + k * period);
	return !atomic_load_explicit(&w->sh->stop, memory_order_acquire);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	bool own = w->t == NULL;
	if (own) {
		int rc = evt_attach(w->sh->name, 0, &w->t);
		if (rc < 0) {
			note_error(w, rc);
			return NULL;
		}
	}
	bool room = true;
	while (room && next_burst(w))
		for (uint32_t i = 0; i < w->sh->quota && room; i++)
			room = decide_one(w);
	if (own)
		evt_close(w->t);
	return NULL;
}

_Noreturn void client_main(struct shared *sh, const struct opts *o, uint32_t first_src)
{
	die_with_parent(sh->parent);
	struct source *s0 = source_get(sh, first_src);
	evt_throttle *t = NULL;
	if (s0->shared_handle) {
		int rc = evt_attach(sh->name, 0, &t);
		if (rc < 0) {
			atomic_store(&s0->err, rc);
			_exit(2);
		}
	}
	struct worker *w = calloc(o->threads, sizeof *w);
	if (w == NULL)
		_exit(2);
	unsigned started = 0;
	for (unsigned i = 0; i < o->threads; i++) {
		uint32_t src = first_src + i;
		w[i] = (struct worker){ .sh = sh, .o = o, .t = t, .skew = source_get(sh, src)->skew,
			                .rng = o->seed ^ ((uint64_t)src << 32 | 0x5eedu),
			                .rec = { .sh = sh, .src = src },
			                .calls = &source_get(sh, src)->calls,
			                .die_at = &source_get(sh, src)->die_at };
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			break;
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	evt_close(t);
	_exit(started == o->threads ? 0 : 2);
}
