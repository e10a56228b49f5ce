/*
 * Running one implementation: fork P processes of T threads each, start them all at
 * one process-shared barrier, replay the trace, gather the results.
 *
 * Phases: throughput (untimed calls), then with --latency a second pass of timed
 * calls on the same warm table, so the timer never slows the throughput figures.
 * Each worker stamps its own start and end; wall time is last end - first start.
 */
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* In a MAP_SHARED anonymous mapping made before fork: every process sees it. */
struct shared_ctl {
	pthread_barrier_t barrier;
	struct worker_result res[]; /* [phase * workers + worker] */
};

/* Process-local; fork copies it into every child. */
struct run {
	const struct config *c;
	const struct trace *t;
	const struct impl_ops *impl;
	void *state;
	struct shared_ctl *ctl;
	size_t ctl_size;
	uint32_t *samples; /* [worker * c->samples + i], shared; NULL without --latency */
	size_t samples_size;
	uint8_t *remote;   /* [as samples]: 1 if the call left the host (impl->remote) */
	size_t remote_size;
	uint64_t lat_ops;  /* ops per worker in the latency phase */
};

struct worker {
	const struct run *run;
	unsigned index; /* 0 .. workers-1, across processes */
	void *handle;
};

static struct worker_result *result(const struct run *r, int phase, unsigned w)
{
	return &r->ctl->res[(size_t)phase * config_workers(r->c) + w];
}

/* A worker's walk over the trace: every stride-th event, from its own start. */
struct cursor {
	const uint32_t *ops;
	const struct bkey *keys;
	size_t len, stride, pos;
};

static inline struct cursor cursor_make(const struct worker *w)
{
	const struct trace *t = w->run->t;
	return (struct cursor){ t->ops, t->keys, t->len, config_workers(w->run->c),
		                w->index % t->len };
}

/* The key of the event `ahead` events after the next one. */
static inline const struct bkey *cursor_peek(const struct cursor *c, size_t ahead)
{
	size_t a = c->pos + ahead * c->stride;
	return &c->keys[c->ops[a < c->len ? a : a % c->len]];
}

/* The next event's key.  A real caller decides on the event it has just received,
 * whose key is in its cache; ours sit at random in a table of megabytes, so the key
 * `ahead` events on is fetched now and its miss is not charged to the
 * implementation under test. */
static inline const struct bkey *cursor_next(struct cursor *c, size_t ahead)
{
	const struct bkey *k = &c->keys[c->ops[c->pos]];
	__builtin_prefetch(cursor_peek(c, ahead));
	c->pos += c->stride;
	if (c->pos >= c->len)
		c->pos -= c->len;
	return k;
}

/*
 * The measured loop.  Inlined four times with timed and hinted constants, so the
 * throughput loop carries no timing code and only a hinting implementation's
 * loop makes hint() calls.  The clock is read once per batch: that is the cost the
 * caller pays for timestamps, spread over BENCH_BATCH events.
 */
static inline __attribute__((always_inline)) void replay(const struct worker *w, uint64_t n,
                                                         bool timed, bool hinted,
                                                         struct worker_result *res)
{
	/* --key-rate: a batch's timestamp is its first event's place in the trace
	 * (the latency phase's events follow the throughput phase's). */
	const struct config *cf = w->run->c;
	uint64_t first = w->index + (timed ? cf->ops * config_workers(cf) : 0);
	const struct run *r = w->run;
	int (*decide)(void *, uint64_t, const char *, size_t) = r->impl->decide;
	void (*hint)(void *, const char *, size_t, struct bench_hint *) = r->impl->hint;
	int (*decide_hinted)(void *, uint64_t, const char *, size_t, const struct bench_hint *) =
		r->impl->decide_hinted;
	void *h = w->handle;
	struct cursor c = cursor_make(w);
	/* Event i's hint is in ring[i % HINTS], made BENCH_HINT_AHEAD events before
	 * (a power of two: the index is a mask). */
	enum { HINTS = 8 };
	_Static_assert(BENCH_HINT_AHEAD < HINTS, "the ring holds the hints in flight");
	struct bench_hint ring[HINTS];
	if (hinted)
		for (size_t j = 0; j < BENCH_HINT_AHEAD; j++) {
			const struct bkey *f = cursor_peek(&c, j);
			hint(h, f->s, f->len, &ring[j]);
		}
	uint32_t *samples = timed ? r->samples + (size_t)w->index * r->c->samples : NULL;
	uint64_t (*remote)(void *) = timed ? r->impl->remote : NULL;
	uint8_t *left = remote != NULL ? r->remote + (size_t)w->index * r->c->samples : NULL;
	uint64_t processed = 0, errors = 0, i = 0;
	while (i < n) {
		uint64_t ts = cf->ts_step != 0 ? cf->ts_base + (first + i * c.stride) * cf->ts_step
		                               : evt_now_ns();
		res->ts_first = i == 0 ? ts : res->ts_first;
		res->ts_last = ts;
		uint64_t end = n - i > BENCH_BATCH ? i + BENCH_BATCH : n;
		for (; i < end; i++) {
			if (hinted) { /* untimed: a caller makes it earlier */
				const struct bkey *f = cursor_peek(&c, BENCH_HINT_AHEAD);
				hint(h, f->s, f->len, &ring[(i + BENCH_HINT_AHEAD) % HINTS]);
			}
			const struct bkey *k = cursor_next(&c, BENCH_PREFETCH);
			const struct bench_hint *kh = &ring[i % HINTS];
			int rc;
			if (timed) {
				uint64_t before = remote != NULL ? remote(h) : 0;
				uint64_t t0 = timer_read();
				rc = hinted ? decide_hinted(h, ts, k->s, k->len, kh)
				            : decide(h, ts, k->s, k->len);
				uint64_t d = timer_read() - t0;
				samples[i] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
				if (remote != NULL)
					left[i] = remote(h) != before;
			} else {
				rc = hinted ? decide_hinted(h, ts, k->s, k->len, kh)
				            : decide(h, ts, k->s, k->len);
			}
			processed += rc == 1;
			errors += rc < 0;
		}
	}
	res->ops = n;
	res->processed = processed;
	res->errors = errors;
	res->nsamples = timed ? n : 0;
}

/* The measured loop of an implementation that decides a burst per call: the same
 * events as replay(), BENCH_BATCH of them (one clock read) per call. */
static void replay_batch(const struct worker *w, uint64_t n, struct worker_result *res)
{
	void *h = w->handle;
	struct cursor c = cursor_make(w);
	uint64_t processed = 0, errors = 0, i = 0;
	evt_event ev[BENCH_BATCH];
	const struct config *cf = w->run->c;
	while (i < n) {
		uint64_t ts = cf->ts_step != 0 ? cf->ts_base + (w->index + i * c.stride) * cf->ts_step
		                               : evt_now_ns();
		res->ts_first = i == 0 ? ts : res->ts_first;
		res->ts_last = ts;
		size_t m = n - i > BENCH_BATCH ? BENCH_BATCH : (size_t)(n - i);
		for (size_t j = 0; j < m; j++) {
			const struct bkey *k = cursor_next(&c, BENCH_BATCH); /* the next call's */
			ev[j] = (evt_event){ .ts_ns = ts, .key = k->s, .key_len = k->len };
		}
		int rc = w->run->impl->decide_batch(h, ev, m);
		if (rc < 0) {
			errors += m;
		} else {
			processed += (uint64_t)rc;
			for (size_t j = 0; j < m; j++)
				errors += ev[j].result < 0;
		}
		i += m;
	}
	res->ops = n;
	res->processed = processed;
	res->errors = errors;
	res->nsamples = 0;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void phase(struct worker *w, int ph)
{
	const struct run *r = w->run;
	struct worker_result *res = result(r, ph, w->index);
	/* Every worker passes every barrier, even one that failed to attach, so
	 * nobody waits forever on it. */
	pthread_barrier_wait(&r->ctl->barrier);
	if (w->handle == NULL) {
		res->failed = 1;
		return;
	}
	uint64_t cpu0 = thread_cpu_ns();
	res->start_ns = evt_now_ns();
	bool hinted = r->impl->hint != NULL;
	if (ph == PHASE_LATENCY && hinted)
		replay(w, r->lat_ops, true, true, res);
	else if (ph == PHASE_LATENCY)
		replay(w, r->lat_ops, true, false, res);
	else if (r->impl->decide_batch != NULL)
		replay_batch(w, r->c->ops, res);
	else if (hinted)
		replay(w, r->c->ops, false, true, res);
	else
		replay(w, r->c->ops, false, false, res);
	res->end_ns = evt_now_ns();
	res->cpu_ns = thread_cpu_ns() - cpu0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	const struct run *r = w->run;
	if (r->c->handle_per_thread)
		w->handle = r->impl->attach(r->state);
	/* Fault in this worker's sample pages now rather than between timed calls. */
	if (r->c->latency)
		memset(r->samples + (size_t)w->index * r->c->samples, 0,
		       sizeof *r->samples * r->lat_ops);
	phase(w, PHASE_THROUGHPUT);
	if (r->c->latency && r->impl->decide_batch == NULL)
		phase(w, PHASE_LATENCY);
	if (r->c->handle_per_thread && w->handle != NULL)
		r->impl->detach(w->handle);
	return NULL;
}

/* One worker process: its handle (shared by its threads, as a real client's would
 * be), T threads, then exit.  A thread it cannot start makes it exit non-zero: the
 * parent then kills the others, which may be waiting at the barrier. */
static void __attribute__((noreturn)) child_main(const struct run *r, unsigned p)
{
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	unsigned nt = r->c->threads;
	void *handle = r->c->handle_per_thread ? NULL : r->impl->attach(r->state);
	pthread_t *tid = calloc(nt, sizeof *tid);
	struct worker *w = calloc(nt, sizeof *w);
	if (tid == NULL || w == NULL)
		_exit(3);
	for (unsigned i = 0; i < nt; i++) {
		w[i] = (struct worker){ r, p * nt + i, handle };
		int rc = pthread_create(&tid[i], NULL, worker_main, &w[i]);
		if (rc != 0) {
			fprintf(stderr, "pthread_create: %s\n", strerror(rc));
			_exit(3);
		}
	}
	for (unsigned i = 0; i < nt; i++)
		pthread_join(tid[i], NULL);
	if (!r->c->handle_per_thread && handle != NULL)
		r->impl->detach(handle);
	_exit(handle != NULL || r->c->handle_per_thread ? 0 : 2);
}

static void *map_shared(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int run_setup(struct run *r)
{
	unsigned nw = config_workers(r->c);
	r->ctl_size = sizeof *r->ctl + sizeof(struct worker_result) * PHASE_COUNT * nw;
	r->ctl = map_shared(r->ctl_size);
	if (r->c->latency) {
		r->lat_ops = r->c->ops < r->c->samples ? r->c->ops : r->c->samples;
		r->samples_size = sizeof *r->samples * r->c->samples * nw;
		r->samples = map_shared(r->samples_size);
	}
	if (r->c->latency && r->impl->remote != NULL) {
		r->remote_size = (size_t)r->c->samples * nw;
		r->remote = map_shared(r->remote_size);
	}
	if (r->ctl == NULL || (r->c->latency && r->samples == NULL) ||
	    (r->remote_size > 0 && r->remote == NULL)) {
		perror("mmap");
		return -1;
	}
	pthread_barrierattr_t a;
	pthread_barrierattr_init(&a);
	pthread_barrierattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	int rc = pthread_barrier_init(&r->ctl->barrier, &a, nw);
	pthread_barrierattr_destroy(&a);
	if (rc != 0) {
		fprintf(stderr, "pthread_barrier_init: %s\n", strerror(rc));
		return -1;
	}
	return 0;
}

static void run_teardown(struct run *r)
{
	if (r->ctl != NULL) {
		pthread_barrier_destroy(&r->ctl->barrier);
		munmap(r->ctl, r->ctl_size);
	}
	if (r->samples != NULL)
		munmap(r->samples, r->samples_size);
	if (r->remote != NULL)
		munmap(r->remote, r->remote_size);
}

static void kill_all(const pid_t *pids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], SIGKILL);
}

/* Wait for every child; the first one to fail gets the rest killed (they may be
 * stuck at a barrier it will never reach).  0 if all exited cleanly. */
static int reap(pid_t *pids, unsigned n)
{
	int bad = 0;
	for (unsigned left = n; left > 0;) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		for (unsigned i = 0; i < n; i++)
			if (pids[i] == pid)
				pids[i] = 0;
		left--;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			if (!bad)
				fprintf(stderr, "worker process %d %s %d\n", (int)pid,
				        WIFSIGNALED(st) ? "killed by signal" : "exited with",
				        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			bad = 1;
			kill_all(pids, n);
		}
	}
	return bad ? -1 : 0;
}

/* The worker processes alive now, for the parent's signal handler. */
static pid_t *volatile live_pids;
static volatile unsigned live_count;

void runner_kill_children(void)
{
	pid_t *p = live_pids;
	for (unsigned i = 0; p != NULL && i < live_count; i++)
		if (p[i] > 0)
			kill(p[i], SIGKILL);
}

static int fork_workers(const struct run *r)
{
	unsigned np = r->c->procs;
	pid_t *pids = calloc(np, sizeof *pids);
	if (pids == NULL)
		return -1;
	live_count = np;
	live_pids = pids;
	fflush(NULL); /* no buffered output duplicated into the children */
	unsigned started = 0;
	for (; started < np; started++) {
		pid_t pid = fork();
		if (pid == 0)
			child_main(r, started);
		if (pid < 0) {
			perror("fork");
			kill_all(pids, started);
			break;
		}
		pids[started] = pid;
	}
	int rc = reap(pids, started);
	live_pids = NULL;
	free(pids);
	return started == np ? rc : -1;
}

static void sum_throughput(const struct run *r, struct run_result *out)
{
	unsigned nw = config_workers(r->c);
	uint64_t first = UINT64_MAX, last = 0, cpu = 0, elapsed = 0;
	double per_worker = 0;
	for (unsigned w = 0; w < nw; w++) {
		const struct worker_result *x = result(r, PHASE_THROUGHPUT, w);
		out->failed |= x->failed != 0;
		out->total_ops += x->ops;
		out->processed += x->processed;
		out->errors += x->errors;
		first = x->start_ns < first ? x->start_ns : first;
		last = x->end_ns > last ? x->end_ns : last;
		if (x->ops > 0)
			per_worker += (double)(x->end_ns - x->start_ns) / (double)x->ops;
		cpu += x->cpu_ns;
		elapsed += x->end_ns - x->start_ns;
	}
	out->on_cpu = elapsed > 0 ? (double)cpu / (double)elapsed : 0;
	out->cpu_ns_per_op = out->total_ops > 0 ? (double)cpu / (double)out->total_ops : 0;
	out->wall_ns = last > first ? last - first : 1;
	out->ns_per_op_worker = per_worker / nw;
	out->mops = (double)out->total_ops / (double)out->wall_ns * 1e3;
}

/* p50 and p99 in ns of the samples of one kind (remote: those that left the
 * host, or those that did not), before sum_latency() gathers them. */
static void kind_latency(const struct run *r, double ticks_per_ns, uint8_t remote,
                         uint64_t *n, double *p50, double *p99)
{
	unsigned nw = config_workers(r->c);
	uint32_t *v = malloc(sizeof *v * r->c->samples * nw);
	*n = 0;
	*p50 = *p99 = 0;
	if (v == NULL)
		return;
	for (unsigned w = 0; w < nw; w++) {
		size_t at = (size_t)w * r->c->samples;
		for (uint64_t i = 0; i < result(r, PHASE_LATENCY, w)->nsamples; i++)
			if (r->remote[at + i] == remote)
				v[(*n)++] = r->samples[at + i];
	}
	sort_u32(v, *n);
	*p50 = percentile(v, *n, 0.50) / ticks_per_ns;
	*p99 = percentile(v, *n, 0.99) / ticks_per_ns;
	free(v);
}

/* Gather every worker's samples into one sorted array (in place, at the front
 * of the shared sample mapping) and read the percentiles. */
static void sum_latency(const struct run *r, double ticks_per_ns, struct run_result *out)
{
	unsigned nw = config_workers(r->c);
	uint64_t n = 0;
	if (r->remote != NULL) {
		kind_latency(r, ticks_per_ns, 0, &out->lat_local_samples, &out->lat_local_p50,
		             &out->lat_local_p99);
		kind_latency(r, ticks_per_ns, 1, &out->lat_remote_samples, &out->lat_remote_p50,
		             &out->lat_remote_p99);
	}
	for (unsigned w = 0; w < nw; w++) {
		const struct worker_result *x = result(r, PHASE_LATENCY, w);
		out->failed |= x->failed != 0;
		memmove(r->samples + n, r->samples + (size_t)w * r->c->samples,
		        sizeof *r->samples * x->nsamples);
		n += x->nsamples;
	}
	sort_u32(r->samples, n);
	out->have_latency = n > 0;
	out->lat_samples = n;
	out->lat_p50 = percentile(r->samples, n, 0.50) / ticks_per_ns;
	out->lat_p99 = percentile(r->samples, n, 0.99) / ticks_per_ns;
	out->lat_p999 = percentile(r->samples, n, 0.999) / ticks_per_ns;
	out->lat_max = (n > 0 ? r->samples[n - 1] : 0) / ticks_per_ns;
}

/* The span of the timestamps decided on, over every worker and phase. */
static uint64_t ts_span(const struct run *r)
{
	uint64_t first = UINT64_MAX, last = 0;
	for (size_t i = 0; i < (size_t)PHASE_COUNT * config_workers(r->c); i++) {
		const struct worker_result *x = &r->ctl->res[i];
		if (x->ops == 0)
			continue;
		first = x->ts_first < first ? x->ts_first : first;
		last = x->ts_last > last ? x->ts_last : last;
	}
	return last > first ? last - first : 0;
}

int run_impl(const struct config *c, const struct trace *t, const struct impl_ops *impl,
             double ticks_per_ns, struct run_result *out)
{
	struct run r = { .c = c, .t = t, .impl = impl };
	memset(out, 0, sizeof *out);
	out->impl = impl;
	r.state = impl->create(c);
	int rc = r.state == NULL ? -1 : run_setup(&r);
	if (rc == 0)
		rc = fork_workers(&r);
	if (rc == 0) {
		sum_throughput(&r, out);
		if (c->latency)
			sum_latency(&r, ticks_per_ns, out);
		out->ts_span_ns = ts_span(&r);
		impl->inspect(r.state, &out->fp);
	}
	out->failed |= rc != 0;
	run_teardown(&r);
	if (r.state != NULL)
		impl->destroy(r.state);
	return out->failed ? -1 : 0;
}
