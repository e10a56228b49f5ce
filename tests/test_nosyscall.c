/*
 * SPEC §2: evt_should_process makes no syscall (nor does anything on the decision
 * path: inserts, reclaims, horizon refreshes; nor evt_prefetch, evt_prefetch_key,
 * evt_should_process_key, evt_get_window, evt_key_count).
 *
 * A forked child attaches (or inherits an anonymous throttle), then enters seccomp
 * strict mode, where only read, write, _exit and sigreturn are allowed and any other
 * syscall kills it with SIGKILL.  It decides a million events over new and repeated
 * keys, writes its tallies into a shared page and leaves with the raw SYS_exit
 * (exit_group, which _exit() uses, is not allowed).  The parent requires a clean
 * exit and the same tallies as the same trace run here without seccomp.
 *
 * On a global throttle (issue 20), the same holds of every decision its local
 * tier throttles: a key processed less than a window ago is decided in shared
 * memory, through every way of calling, with no round trip and no syscall.
 */
#include <linux/seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "common.h"

#define N_DECISIONS 1000000u
#define WINDOW 200u
#define CAPACITY 4096u

TestSuite(nosyscall, .fini = unlink_names);

/* What the trace found; in a shared page when a child runs it. */
struct tally {
	_Atomic uint64_t stage; /* 1 in strict mode, 2 trace done */
	uint64_t processed, throttled, other, bad_window, max_keys;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static void tally(struct tally *r, int a)
{
	if (a == 1)
		r->processed++;
	else if (a == 0)
		r->throttled++;
	else
		r->other++;
}

/* A quarter new keys (a quarter of a million over the run, so the table reclaims
 * all along), the rest on 64 keys hit about once a window; time moves forward.
 * Every other group of 16 events goes through evt_should_process_batch(); the
 * others are single calls, each after an evt_prefetch() of its key, or, one group
 * in four, decided by evt_should_process_key() on evt_prefetch_key()'s hash. */
static void trace(evt_throttle *t, struct tally *r)
{
	char key[16][32];
	evt_event ev[16];
	for (uint64_t i = 0; i < N_DECISIONS; i++) {
		uint64_t h = mix(i + 1);
		uint64_t id = h % 4 == 0 ? 1000 + i : (h >> 8) % 64;
		unsigned j = i % 16;
		size_t len = test_key(key[j], 'n', id);
		if (i / 16 % 4 == 0) {
			if (evt_prefetch(t, key[j], len) < 0)
				r->other++;
			tally(r, evt_should_process(t, 1000 + 2 * i, NULL, key[j], len));
		} else if (i / 16 % 4 == 2) {
			evt_key ek;
			if (evt_prefetch_key(t, key[j], len, &ek) < 0)
				r->other++;
			tally(r, evt_should_process_key(t, 1000 + 2 * i, &ek, NULL));
		} else {
			ev[j] = (evt_event){ .ts_ns = 1000 + 2 * i, .key = key[j], .key_len = len };
			if (j == 15 && evt_should_process_batch(t, ev, 16) >= 0)
				for (unsigned e = 0; e < 16; e++)
					tally(r, ev[e].result);
		}
		if (i % 4096 == 0) {
			if (evt_get_window(t) != WINDOW)
				r->bad_window++;
			size_t k = evt_key_count(t);
			if (k > r->max_keys)
				r->max_keys = k;
		}
	}
}

/* Never returns: only read, write and SYS_exit from the prctl on. */
static void strict_child(evt_throttle *t, const char *name, struct tally *r)
{
	if (t == NULL && evt_attach(name, 0, &t) != 0)
		_exit(2);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
		_exit(3);
	atomic_store(&r->stage, 1);
	trace(t, r);
	atomic_store(&r->stage, 2);
	syscall(SYS_exit, 0);
	for (;;)
		; /* not reached */
}

static struct tally *shared_tally(void)
{
	struct tally *r = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	                       -1, 0);
	cr_assert_neq(r, MAP_FAILED);
	return r;
}

static void wait_clean_exit(pid_t pid, const struct tally *r)
{
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(!WIFSIGNALED(st),
	          "the child was killed by signal %d at stage %llu (SIGKILL: a syscall in "
	          "strict mode)", WTERMSIG(st), (unsigned long long)atomic_load(&r->stage));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	cr_assert_eq(atomic_load(&r->stage), 2);
}

static evt_options options(void)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = WINDOW;
	o.capacity = CAPACITY;
	return o;
}

/* The child's tallies against the same trace here, on a fresh throttle. */
static void compare_with_reference(const struct tally *r)
{
	evt_options o = options();
	evt_throttle *ref;
	cr_assert_eq(evt_create(NULL, &o, &ref), 0);
	struct tally want = { 0 };
	trace(ref, &want);
	cr_expect_eq(r->processed, want.processed, "strict child %llu, here %llu",
	             (unsigned long long)r->processed, (unsigned long long)want.processed);
	cr_expect_eq(r->throttled, want.throttled);
	cr_expect_eq(r->other, 0);
	cr_expect_eq(r->bad_window, 0);
	cr_expect_leq(r->max_keys, CAPACITY);
	/* A plausible trace: both answers in bulk, and the table had to reclaim. */
	cr_expect_gt(want.processed, N_DECISIONS / 4);
	cr_expect_gt(want.throttled, N_DECISIONS / 10);
	evt_stats s;
	cr_assert_eq(evt_stats_get(ref, &s), 0);
	cr_expect_gt(s.reclaimed, 0);
	cr_expect_eq(s.full, 0);
	evt_close(ref);
}

/* The region's counters saw the child's decisions. */
static void expect_counted(evt_throttle *t, const struct tally *r)
{
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.processed, r->processed);
	cr_expect_eq(s.throttled, r->throttled);
	cr_expect_gt(s.reclaimed, 0);
}

/* A strict-mode child decides the trace on inherit (or on name, attached before the
 * prctl); its answers must be the reference's and t's counters must hold them. */
static void run_strict_child(evt_throttle *t, evt_throttle *inherit, const char *name)
{
	struct tally *r = shared_tally();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		strict_child(inherit, name, r);
	wait_clean_exit(pid, r);
	compare_with_reference(r);
	expect_counted(t, r);
	munmap(r, 4096);
}

Test(nosyscall, named_throttle)
{
	evt_options o = options();
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	run_strict_child(t, NULL, name);
	evt_close(t);
	evt_unlink(name);
}

Test(nosyscall, anonymous_throttle_inherited)
{
	evt_options o = options();
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	run_strict_child(t, t, NULL);
	evt_close(t);
}

/* The keys of the global throttle's trace, all cached by the parent. */
#define GLOBAL_KEYS 64u
#define GLOBAL_WINDOW 10000000000ull

/* Every way of calling, on keys cached at ts 1000 with a 10 s window: every
 * answer is the local tier's throttle. */
static void cached_trace(evt_throttle *t, struct tally *r)
{
	char key[16][32];
	evt_event ev[16];
	for (uint64_t i = 0; i < N_DECISIONS; i++) {
		unsigned j = i % 16;
		size_t len = test_key(key[j], 'g', mix(i + 1) % GLOBAL_KEYS);
		uint64_t ts = 1001 + i;
		unsigned info = 0;
		evt_key ek;
		switch (i / 16 % 4) {
		case 0:
			tally(r, i % 2 ? evt_should_process(t, ts, NULL, key[j], len)
			               : evt_should_process_local(t, ts, key[j], len));
			break;
		case 1:
			tally(r, evt_should_process_ex(t, ts, NULL, key[j], len, &info));
			r->other += info != EVT_INFO_INSIDE_WINDOW;
			break;
		case 2:
			if (evt_prefetch_key(t, key[j], len, &ek) < 0)
				r->other++;
			tally(r, evt_should_process_key(t, ts, &ek, NULL));
			break;
		default:
			ev[j] = (evt_event){ .ts_ns = ts, .key = key[j], .key_len = len };
			if (j == 15 && evt_should_process_batch(t, ev, 16) >= 0)
				for (unsigned e = 0; e < 16; e++)
					tally(r, ev[e].result);
		}
	}
}

/* A strict-mode child attached to the global throttle name runs cached_trace(). */
static void cached_strict_child(const char *name, struct tally *r)
{
	evt_throttle *t;
	if (evt_attach(name, 0, &t) != 0)
		_exit(2);
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
		_exit(3);
	atomic_store(&r->stage, 1);
	cached_trace(t, r);
	atomic_store(&r->stage, 2);
	syscall(SYS_exit, 0);
	for (;;)
		; /* not reached */
}

/* Redis is unreachable (nothing listens at the endpoint): the parent's first
 * decisions fail to connect and on_unreachable = local caches each key; the
 * child's million decisions then stay in the local tier, or it is killed. */
Test(nosyscall, global_throttle_local_decisions)
{
	char endpoint[64];
	snprintf(endpoint, sizeof endpoint, "unix:/nonexistent/evt-nosyscall-%d.sock", (int)getpid());
	evt_global g = { .redis = endpoint, .timeout_ns = 10000000,
		         .on_unreachable = EVT_ON_UNREACHABLE_LOCAL };
	evt_options o = options();
	o.window_ns = GLOBAL_WINDOW;
	o.global = &g;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	char key[32];
	for (unsigned k = 0; k < GLOBAL_KEYS; k++)
		cr_assert_eq(evt_should_process(t, 1000, NULL, key, test_key(key, 'g', k)), 1);
	evt_stats before, after;
	cr_assert_eq(evt_stats_get(t, &before), 0);
	cr_assert_eq(before.global_fallbacks, GLOBAL_KEYS, "every key was cached by the policy");

	struct tally *r = shared_tally();
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		cached_strict_child(name, r);
	wait_clean_exit(pid, r);
	cr_expect_eq(r->throttled, N_DECISIONS, "%llu throttled",
	             (unsigned long long)r->throttled);
	cr_expect_eq(r->processed, 0);
	cr_expect_eq(r->other, 0);
	cr_assert_eq(evt_stats_get(t, &after), 0);
	cr_expect_eq(after.throttled, N_DECISIONS);
	cr_expect_eq(after.inside_window, N_DECISIONS);
	cr_expect_eq(after.global_round_trips, before.global_round_trips, "no round trip");
	cr_expect_eq(after.global_fallbacks, before.global_fallbacks);
	cr_expect_eq(after.global_errors, before.global_errors);
	munmap(r, 4096);
	evt_close(t);
	evt_unlink(name);
}

/* The harness can fail: in strict mode any other syscall is fatal. */
Test(nosyscall, strict_mode_kills_a_syscall)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT) != 0)
			_exit(3);
		syscall(SYS_getppid);
		syscall(SYS_exit, 0);
	}
	int st = 0;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %#x", st);
}
