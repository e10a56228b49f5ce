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
 *
 * A batch thread (chaos.c tosses a coin per thread) decides its bursts through
 * evt_should_process_batch(), in calls of 1..BATCH_MAX events with keys drawn as
 * for single calls, so hot keys repeat inside a batch.  Each event is recorded
 * as a decision whose interval is the whole call, with its index in the batch:
 * the checker holds the events of one call to their array order.
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
	uint64_t ncalls;  /* decisions begun */
	uint64_t last_s;  /* start of the last batch call */
	bool batch;
	bool delays; /* a thread of a shared handle in --delay-us runs */
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
 * The chaos parent's aimed kill: at the decision it chose, a timer a few
 * microseconds out sends this process SIGKILL, which lands wherever its threads
 * are by then, often inside evt_should_process or evt_should_process_batch.
 * (The parent cannot time a kill() that finely: it shares two CPUs with the
 * clients.)  A batch begins many decisions at once: the chosen one may be any.
 */
static void maybe_arm(struct worker *w, uint64_t before)
{
	uint64_t at = atomic_load_explicit(w->die_at, memory_order_relaxed);
	if (at <= before || at > w->ncalls)
		return;
	timer_t id;
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGKILL };
	struct itimerspec its = { .it_value = { 0, (long)(1000 + splitmix(&w->rng) % 20000) } };
	if (timer_create(CLOCK_MONOTONIC, &ev, &id) == 0)
		timer_settime(id, 0, &its, NULL);
}

/* n decisions recorded and about to be made: progress for the parent's aim. */
static void begun(struct worker *w, uint32_t n)
{
	uint64_t before = w->ncalls;
	w->ncalls += n;
	atomic_store_explicit(w->calls, w->ncalls, memory_order_relaxed);
	maybe_arm(w, before);
}

static void answered(struct worker *w, struct rec *r, uint64_t e, int rc)
{
	recorder_end(r, e, rc);
	if (rc < 0 && rc != -ENOSPC && rc != -ESTALE)
		note_error(w, rc);
}

/* --delay-us: one decision in 8 of a thread sharing its handle waits up to
 * delay_ns after reading its clock, so that a sibling may decide later
 * timestamps, move the shared watermark past this one and let reclaim forget keys
 * this decision still needs.  The record's interval still holds the call. */
static void delay_after_clock(struct worker *w)
{
	if (!w->delays || splitmix(&w->rng) % 8 != 0)
		return;
	uint64_t until = mono_ns() + splitmix(&w->rng) % (w->o->delay_ns + 1);
	while (mono_ns() < until)
		;
}

/* One decision, recorded around the call.  False when the arena is full. */
static bool decide_one(struct worker *w)
{
	uint64_t s = mono_ns();
	uint32_t key = pick_key(w->o, w->sh->t0, s, splitmix(&w->rng));
	char buf[KEY_STR_MAX];
	size_t len = key_str(buf, key);
	struct rec *r = recorder_begin(&w->rec, key, 0, s);
	if (r == NULL)
		return false;
	begun(w, 1);
	delay_after_clock(w);
	int rc = evt_should_process(w->t, s + (uint64_t)w->skew, NULL, buf, len);
	answered(w, r, mono_ns(), rc);
	return true;
}

/* A batch call's start, after the last one's: the checker tells the events of
 * one call from the next call's by their source and start. */
static uint64_t batch_start(struct worker *w)
{
	uint64_t s;
	while ((s = mono_ns()) <= w->last_s)
		;
	return w->last_s = s;
}

/*
 * n (1..BATCH_MAX) decisions in one evt_should_process_batch() call.  Every event
 * is recorded (PENDING) before the call, as decide_one records its one, so a kill
 * anywhere inside the call leaves them all unfinished; all get the call's end.
 * Event i has ts s + skew + i * batch_step_ns, so array order matters to the
 * answers.  False when the arena is full (the events recorded are still decided:
 * a record left PENDING by a live process is a failure).
 */
static bool decide_batch(struct worker *w, uint32_t n)
{
	evt_event ev[BATCH_MAX];
	char buf[BATCH_MAX][KEY_STR_MAX];
	struct rec *r[BATCH_MAX];
	uint64_t s = batch_start(w);
	uint32_t m = 0;
	for (; m < n; m++) {
		uint32_t key = pick_key(w->o, w->sh->t0, s, splitmix(&w->rng));
		if ((r[m] = recorder_begin(&w->rec, key, m, s)) == NULL)
			break;
		ev[m] = (evt_event){ .ts_ns = s + (uint64_t)w->skew + m * w->o->batch_step_ns,
			             .key = buf[m], .key_len = key_str(buf[m], key) };
	}
	if (m == 0)
		return false;
	begun(w, m);
	delay_after_clock(w);
	int rc = evt_should_process_batch(w->t, ev, m);
	uint64_t e = mono_ns();
	int ones = 0;
	for (uint32_t i = 0; i < m; i++) {
		answered(w, r[i], e, rc < 0 ? rc : ev[i].result);
		ones += rc >= 0 && ev[i].result == 1;
	}
	/* Its return value is the count of 1s: a wrong one fails the run. */
	if (rc >= 0 && rc != ones)
		atomic_fetch_add(&w->sh->batch_miscounts, 1);
	return m == n;
}

/* A burst of single calls.  False when the arena is full. */
static bool burst_single(struct worker *w)
{
	for (uint32_t i = 0; i < w->sh->quota; i++)
		if (!decide_one(w))
			return false;
	return true;
}

/* A burst of batch calls of random size, the last one cut to the quota. */
static bool burst_batches(struct worker *w)
{
	for (uint32_t done = 0, q = w->sh->quota; done < q;) {
		uint32_t n = (uint32_t)rand_range(&w->rng, 1, BATCH_MAX);
		n = n < q - done ? n : q - done;
		if (!decide_batch(w, n))
			return false;
		done += n;
	}
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
		room = w->batch ? burst_batches(w) : burst_single(w);
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
			                .die_at = &source_get(sh, src)->die_at,
			                .batch = source_get(sh, src)->batch,
			                .delays = t != NULL && o->delay_ns > 0 };
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0)
			break;
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	evt_close(t);
	_exit(started == o->threads ? 0 : 2);
}
