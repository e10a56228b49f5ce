/*
 * One decision against another actor's steps at every point of it: the deciding
 * process (a child) is single-stepped with ptrace, and after its k-th instruction
 * the test runs the other actor's steps, for every k from 0 to the decision's end.
 * Deterministic: each interleaving is forced, none is left to the scheduler.
 */
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "common.h"
#include "handle.h"
#include "slot.h"
#include "table.h"

/* The other actor's steps, run while the decision is stopped. */
typedef void (*actor_fn)(evt_throttle *t, const char *key);
/* The decision: decide() (common.h), or decide_ex() below. */
typedef int (*decide_fn)(evt_throttle *t, uint64_t ts, const char *key);

/* The decision with reasons: evt_should_process_ex(), which takes table.c's
 * general path (find_once() re-reads ctrl), none of decide.h. */
static int decide_ex(evt_throttle *t, uint64_t ts, const char *key)
{
	unsigned info;
	return evt_should_process_ex(t, ts, NULL, key, strlen(key), &info);
}

#define NO_STEP (-1000) /* the decision ended before instruction k */

/* how(t, ts, key) in a child, with `actor` run after its k-th instruction
 * (counted from the stop the child raises before it decides); its answer. */
static int decide_at(decide_fn how, evt_throttle *t, uint64_t ts, const char *key, unsigned k,
                     actor_fn actor)
{
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		_exit(how(t, ts, key) + 128);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFSTOPPED(st), "the child stops itself under ptrace");
	for (unsigned i = 0; i < k && WIFSTOPPED(st); i++) {
		cr_assert_eq(ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL), 0);
		cr_assert_eq(waitpid(pid, &st, 0), pid);
	}
	bool stepped = WIFSTOPPED(st);
	if (stepped) {
		actor(t, key);
		cr_assert_eq(ptrace(PTRACE_CONT, pid, NULL, NULL), 0);
		cr_assert_eq(waitpid(pid, &st, 0), pid);
	}
	cr_assert(WIFEXITED(st));
	return stepped ? WEXITSTATUS(st) - 128 : NO_STEP;
}

static struct region_slot *home_slot(evt_throttle *t, const char *key)
{
	uint32_t len = (uint32_t)strlen(key);
	return region_slot(&t->r, table_home(&t->r, table_hash(&t->r, key, len)));
}

/* evt_clear_key() (or evt_clear(), or reclaim) paused after slot_remove()'s DYING
 * CAS, before its unpublish; then an operator raises the window to 1000. */
static void remove_paused_then_raise(evt_throttle *t, const char *key)
{
	struct region_slot *s = home_slot(t, key);
	uint64_t c = atomic_load(&s->ctrl), last = atomic_load(&s->last);
	if (CTRL_STATE(c) == SLOT_CLAIMED)
		cr_assert(cas_pair(s, c, last, CTRL_NEXT(c, SLOT_DYING), last));
	cr_assert_eq(evt_update_window(t, 1000), 0);
}

/* evt_clear_key() paused as above; then an operator lowers the limit from 3 to 1. */
static void remove_paused_then_limit_1(evt_throttle *t, const char *key)
{
	struct region_slot *s = home_slot(t, key);
	uint64_t c = atomic_load(&s->ctrl), last = atomic_load(&s->last);
	if (CTRL_STATE(c) == SLOT_CLAIMED)
		cr_assert(cas_pair(s, c, last, CTRL_NEXT(c, SLOT_DYING), last));
	cr_assert_eq(evt_update_limit(t, 1), 0);
}

/* evt_clear_key() paused as above; then an operator turns shadow mode off. */
static void remove_paused_then_enforce(evt_throttle *t, const char *key)
{
	struct region_slot *s = home_slot(t, key);
	uint64_t c = atomic_load(&s->ctrl), last = atomic_load(&s->last);
	if (CTRL_STATE(c) == SLOT_CLAIMED)
		cr_assert(cas_pair(s, c, last, CTRL_NEXT(c, SLOT_DYING), last));
	cr_assert_eq(evt_set_shadow(t, 0), 0);
}

/* evt_clear_key() paused as above; then the window is raised to 1000 as a
 * global throttle's daemon applies a change made on another host (in the
 * region, not in Redis). */
static void remove_paused_then_raise_here(evt_throttle *t, const char *key)
{
	struct region_slot *s = home_slot(t, key);
	uint64_t c = atomic_load(&s->ctrl), last = atomic_load(&s->last);
	if (CTRL_STATE(c) == SLOT_CLAIMED)
		cr_assert(cas_pair(s, c, last, CTRL_NEXT(c, SLOT_DYING), last));
	atomic_store_explicit(&t->r.hdr->window_ns, 1000, memory_order_release);
}

/* The key processed at 0 under a window of 100, this limit and shadow mode (1:
 * on), on a global throttle if g is not NULL, then an event at ts decided by
 * `how` against `actor` at every instruction up to the upto-th (UINT_MAX: all):
 * how many of the interleavings did not answer 1 (the first at *first), of
 * *steps. */
static unsigned count_not_processed(decide_fn how, const char *key, uint32_t limit,
                                    uint32_t shadow, const evt_global *g, uint64_t ts,
                                    actor_fn actor, unsigned upto, unsigned *steps,
                                    unsigned *first)
{
	unsigned bad = 0;
	*steps = 0;
	for (unsigned k = 0; k < upto; k++) {
		evt_options o = EVT_OPTIONS_INIT;
		o.window_ns = 100;
		o.capacity = 64;
		o.limit = limit;
		o.shadow = shadow;
		o.global = g;
		evt_throttle *t = NULL;
		cr_assert_eq(evt_create(NULL, &o, &t), 0);
		cr_assert_eq(decide(t, 0, key), 1);
		int rc = decide_at(how, t, ts, key, k, actor);
		evt_close(t);
		if (rc == NO_STEP)
			break;
		(*steps)++;
		if (rc != 1 && bad++ == 0)
			*first = k;
	}
	cr_assert_gt(*steps, 20, "the decision took %u instructions", *steps);
	return bad;
}

/*
 * Key processed at 0 under a window of 100; an event at 150 races a removal of the
 * key and a raise of the window to 1000.  Before the removal the answer is 1
 * (150 - 0 >= 100); after it the key is new (a clear raises no forget bound): 1
 * too.  No instant gives 0.  decide_home() reads ctrl (CLAIMED) and last before
 * the DYING CAS, the window after the raise, and the hop word, unchanged until
 * the unpublish, passes its re-read: it throttles with 150 - 0 < 1000.
 */
Test(interleave, removed_key_raised_window_processed, .timeout = 400)
{
	/* decide_1to8() and the inlined 9-16-byte case, at their longest */
	static const char *const keys[] = { "abcdefgh", "abcdefghijklmnop" };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		unsigned steps, first = 0;
		unsigned bad = count_not_processed(decide, keys[i], 1, 0, NULL, 150,
		                                   remove_paused_then_raise, UINT_MAX, &steps,
		                                   &first);
		cr_expect_eq(bad, 0,
		             "key of %zu bytes: %u of %u interleavings throttled (first: after "
		             "instruction %u)",
		             strlen(keys[i]), bad, steps, first);
	}
}

/* Every interleaving of actor with a decision of the 12-byte test key at ts
 * answers 1. */
static void expect_always_processed(decide_fn how, uint32_t limit, uint32_t shadow, uint64_t ts,
                                    actor_fn actor)
{
	unsigned steps, first = 0;
	unsigned bad = count_not_processed(how, "abcdefghijkl", limit, shadow, NULL, ts, actor,
	                                   UINT_MAX, &steps, &first);
	cr_expect_eq(bad, 0, "%u of %u interleavings throttled (first: after instruction %u)",
	             bad, steps, first);
}

/* The same race against the general path (evt_should_process_ex()): its ctrl
 * re-read sees the DYING CAS, and it decides again. */
Test(interleave, removed_key_raised_window_processed_ex, .timeout = 300)
{
	expect_always_processed(decide_ex, 1, 0, 150, remove_paused_then_raise);
}

/*
 * Limit 3, the key processed at 0 (count 0) under a window of 100; an event at 50
 * races a removal of the key and the limit lowered to 1.  Before the removal the
 * answer is 1 (the window has room under limit 3); after it the key is new: 1
 * too.  No instant gives 0.  Both paths once read the policy after they
 * validated their look (decide_home() after its hop re-read, decide_found()
 * after find_once()'s): a removal and a lower limit in between gave a throttle.
 * They read it with the window now, inside the span the re-reads check.
 */
Test(interleave, removed_key_lowered_limit_processed, .timeout = 300)
{
	expect_always_processed(decide, 3, 0, 50, remove_paused_then_limit_1);
}

/* The same race against the general path, which failed the same way (the
 * policy was read after find_once() validated, in decide_counted()). */
Test(interleave, removed_key_lowered_limit_processed_ex, .timeout = 300)
{
	expect_always_processed(decide_ex, 3, 0, 50, remove_paused_then_limit_1);
}

/*
 * Shadow mode, limit 1, the key processed at 0 under a window of 100; an event at
 * 50 races a removal of the key and shadow mode turned off.  Before the removal
 * the answer is 1 (shadow mode answers a denied event 1); after it the key is
 * new: 1 too.  No instant gives 0.  The policy read after the look was validated
 * (as decide_counted() did) gave 0.  Both paths: the home slot's case sends
 * shadow mode to the general path.
 */
Test(interleave, removed_key_shadow_off_processed, .timeout = 300)
{
	expect_always_processed(decide, 1, 1, 50, remove_paused_then_enforce);
}

/*
 * The first race on a global throttle's local tier (decide_cached_1to16(): the
 * home slot's case with no watermark and no write, which throttles only).  Redis
 * is unreachable and on_unreachable is local, so what the tier hands over is
 * decided by this host's table alone: 1 before the removal, and 1 after it (the
 * key is new).  Without its ctrl re-read the tier would throttle with the raised
 * window a key that no longer exists.  Stepped through its first 250
 * instructions: the tier and table_cached()'s look, where the hand-over goes;
 * past them the decision is the Redis tier's (a connect that fails, then
 * table_decide_ex(), whose interleavings the _ex tests step).
 */
Test(interleave, global_removed_key_raised_window_processed, .timeout = 400)
{
	static const char *const keys[] = { "abcdefgh", "abcdefghijklmnop" };
	const evt_global g = { .redis = "unix:/nonexistent/evt-interleave.sock",
		               .name = "interleave", .timeout_ns = 10000000,
		               .on_unreachable = EVT_ON_UNREACHABLE_LOCAL };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		unsigned steps, first = 0;
		unsigned bad = count_not_processed(decide, keys[i], 1, 0, &g, 150,
		                                   remove_paused_then_raise_here, 250, &steps,
		                                   &first);
		cr_expect_eq(bad, 0,
		             "key of %zu bytes: %u of %u interleavings throttled (first: after "
		             "instruction %u)",
		             strlen(keys[i]), bad, steps, first);
	}
}
