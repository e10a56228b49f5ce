/*
 * The chaos controller (the parent process, single-threaded, so fork is safe):
 * starts the client processes, SIGKILLs random ones at random moments and starts a
 * fresh one (new sources, new record buffers) in the place of each, and kills and
 * restarts the daemon a few times.  Then it stops everyone and waits, with a
 * deadline, for each process: a client that does not finish is a hang.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos.h"

#define WAIT_DEADLINE 10000000000ull /* ns for a killed or stopped process */

static void fail(struct chaos *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct chaos *ch, const char *fmt, ...)
{
	if (ch->err[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ch->err, sizeof ch->err, fmt, ap);
		va_end(ap);
	}
	ch->failed = true;
}

static int64_t pick_skew(struct chaos *ch)
{
	return (int64_t)rand_range(&ch->rng, 0, ch->o->max_skew_ns);
}

/* New sources for a new incarnation of slot: one skew per handle.  Each thread
 * decides through evt_should_process_batch() or single calls, by a coin toss, so
 * both paths run side by side on the same keys, on shared and own handles, and
 * the aimed kills (timed by thread 0) land in both. */
static uint32_t new_sources(struct chaos *ch, unsigned slot, uint32_t inc)
{
	bool shared = slot % 2 == 0;
	int64_t skew = pick_skew(ch);
	uint32_t first = 0;
	for (unsigned i = 0; i < ch->o->threads; i++) {
		bool batch = rand_range(&ch->rng, 0, 1) == 1;
		uint32_t id = source_new(ch->sh, shared ? skew : pick_skew(ch), slot, inc, i, shared,
		                         batch);
		if (id == 0)
			return 0;
		first = i == 0 ? id : first;
	}
	return first;
}

int chaos_spawn(struct chaos *ch, unsigned slot)
{
	struct proc *p = &ch->procs[slot];
	uint32_t first = new_sources(ch, slot, p->incarnation + 1);
	if (first == 0) {
		fail(ch, "spawn: out of source entries (slot %u)", slot);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		fail(ch, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		child_after_fork();
		client_main(ch->sh, ch->o, first);
	}
	p->pid = pid;
	p->first_src = first;
	p->incarnation++;
	for (unsigned i = 0; i < ch->o->threads; i++)
		source_get(ch->sh, first + i)->pid = pid;
	return 0;
}

/* A client that ended by itself: say why (its sources hold the first error). */
static void ended_early(struct chaos *ch, const struct proc *p, int st)
{
	for (unsigned i = 0; i < ch->o->threads; i++) {
		int e = atomic_load(&source_get(ch->sh, p->first_src + i)->err);
		if (e != 0) {
			fail(ch, "client pid %d: %s", (int)p->pid, evt_strerror(e));
			return;
		}
	}
	fail(ch, "client pid %d ended by itself, status %#x", (int)p->pid, (unsigned)st);
}

/*
 * An aimed kill: the target's first thread is told a call, a random one within
 * its next burst; when it gets there it sets a timer that sends its process
 * SIGKILL a few microseconds later (client.c), mid-burst.  If it has not died
 * within a few periods (it stopped deciding), it is killed from here.
 */
static void aim(struct chaos *ch, const struct proc *p)
{
	struct source *s0 = source_get(ch->sh, p->first_src);
	uint64_t now = atomic_load(&s0->calls);
	atomic_store(&s0->die_at, now + rand_range(&ch->rng, 1, ch->sh->quota));
	int st;
	if (wait_child(p->pid, mono_ns() + 4 * ch->o->period_ns, &st) == 0) {
		ch->dead_status = st; /* reaped: kill_one must not wait again */
		ch->reaped = true;
	}
}

static void kill_one(struct chaos *ch, bool aimed)
{
	unsigned slot = (unsigned)rand_range(&ch->rng, 0, ch->o->procs - 1);
	struct proc *p = &ch->procs[slot];
	int st = 0;
	ch->reaped = false;
	if (aimed)
		aim(ch, p);
	if (ch->reaped) {
		st = ch->dead_status;
		ch->aimed_done++;
	} else {
		kill(p->pid, SIGKILL);
		if (wait_child(p->pid, mono_ns() + WAIT_DEADLINE, &st) < 0) {
			fail(ch, "kill: pid %d did not die", (int)p->pid);
			return;
		}
	}
	uint64_t dead = mono_ns();
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
		ended_early(ch, p, st);
		return;
	}
	for (unsigned i = 0; i < ch->o->threads; i++)
		atomic_store(&source_get(ch->sh, p->first_src + i)->death_ns, dead);
	ch->kills_done++;
	chaos_spawn(ch, slot);
}

static void restart_daemon(struct chaos *ch)
{
	uint64_t down = mono_ns();
	if (daemon_kill(ch->d) < 0) {
		fail(ch, "daemon kill: pid %d did not die", (int)ch->d->pid);
		return;
	}
	/* Not synchronization: the daemon stays away a while, and the clients go on
	 * deciding without it (SPEC §5.3). */
	sleep_until(down + ch->o->downtime_ns);
	char err[200];
	if (daemon_start(ch->d, ch->sh, err, sizeof err) < 0) {
		fail(ch, "daemon restart: %s", err);
		return;
	}
	ch->down.at[ch->down.n][0] = down;
	ch->down.at[ch->down.n][1] = mono_ns();
	ch->down.n++;
	ch->restarts_done++;
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

/* Kill instants, uniform over the run. */
static uint64_t *kill_times(struct chaos *ch, uint64_t t0, uint64_t len)
{
	uint64_t *t = malloc((ch->o->kills + 1) * sizeof *t);
	if (t == NULL)
		return NULL;
	for (unsigned i = 0; i < ch->o->kills; i++)
		t[i] = t0 + len / 50 + rand_range(&ch->rng, 0, len - len / 25);
	qsort(t, ch->o->kills, sizeof *t, cmp_u64);
	return t;
}

int chaos_run(struct chaos *ch, uint64_t t0, uint64_t end)
{
	uint64_t len = end - t0;
	uint64_t *kt = kill_times(ch, t0, len);
	ch->down.at = calloc(ch->o->restarts + 1, sizeof *ch->down.at);
	if (kt == NULL || ch->down.at == NULL) {
		free(kt);
		fail(ch, "out of memory");
		return -1;
	}
	unsigned k = 0, r = 0;
	while (!ch->failed && (k < ch->o->kills || r < ch->o->restarts)) {
		uint64_t next_r = r < ch->o->restarts ? t0 + len * (r + 1) / (ch->o->restarts + 1)
		                                      : UINT64_MAX;
		uint64_t next_k = k < ch->o->kills ? kt[k] : UINT64_MAX;
		sleep_until(next_r < next_k ? next_r : next_k);
		if (next_r < next_k) {
			restart_daemon(ch);
			r++;
		} else {
			kill_one(ch, k % 2 == 1); /* every other one aimed mid-burst */
			k++;
		}
	}
	free(kt);
	if (!ch->failed)
		sleep_until(end);
	return ch->failed ? -1 : 0;
}

/* Stop the clients; each must exit 0 within the deadline. */
int chaos_stop(struct chaos *ch)
{
	uint64_t t = mono_ns();
	atomic_store_explicit(&ch->sh->stop, 1, memory_order_release);
	for (unsigned i = 0; i < ch->o->procs; i++) {
		struct proc *p = &ch->procs[i];
		int st = 0;
		int rc = wait_child(p->pid, t + WAIT_DEADLINE, &st);
		if (rc == -ETIMEDOUT) {
			kill(p->pid, SIGKILL);
			wait_child(p->pid, mono_ns() + WAIT_DEADLINE, &st);
			fail(ch, "client hang: pid %d still running 10 s after the stop", (int)p->pid);
		} else if (rc < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			ended_early(ch, p, st);
		}
	}
	ch->stop_ns = mono_ns() - t;
	return ch->failed ? -1 : 0;
}

/* Kill whatever is left (a failed run): nothing may outlive the parent. */
void chaos_abort(struct chaos *ch)
{
	for (unsigned i = 0; i < ch->o->procs; i++) {
		struct proc *p = &ch->procs[i];
		int st;
		if (p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == 0) {
			kill(p->pid, SIGKILL);
			wait_child(p->pid, mono_ns() + WAIT_DEADLINE, &st);
		}
		p->pid = 0;
	}
}
