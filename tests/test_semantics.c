/* SPEC §1 and §5.1: the seed's answers for single-threaded sequences of calls. */
#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "common.h"

/* The seed's example, word for word: window 10, True False True True False. */
Test(semantics, seed_example)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 10;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	cr_expect_eq(decide(t, 1, "userA"), 1);
	cr_expect_eq(decide(t, 5, "userA"), 0);
	cr_expect_eq(decide(t, 12, "userA"), 1);
	cr_expect_eq(decide(t, 15, "userB"), 1);
	cr_expect_eq(decide(t, 20, "userB"), 0);
	cr_expect_eq(evt_key_count(t), 2);
	evt_close(t);
}

enum op { DECIDE, WINDOW, CLEAR, CLEAR_KEY, COUNT };
struct step {
	enum op op;
	uint64_t arg; /* ts, window, or expected count */
	const char *key;
	int want;
};

static void run_steps(const struct step *s, size_t n, uint64_t window)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	for (size_t i = 0; i < n; i++) {
		int got = 0;
		switch (s[i].op) {
		case DECIDE: got = decide(t, s[i].arg, s[i].key); break;
		case WINDOW: got = evt_update_window(t, s[i].arg); break;
		case CLEAR: got = evt_clear(t); break;
		case CLEAR_KEY: got = evt_clear_key(t, s[i].key, strlen(s[i].key)); break;
		case COUNT: got = (int)evt_key_count(t); break;
		}
		cr_expect_eq(got, s[i].want, "step %zu (op %d, arg %llu, key %s): got %d want %d", i,
		             s[i].op, (unsigned long long)s[i].arg, s[i].key ? s[i].key : "-", got,
		             s[i].want);
	}
	evt_close(t);
}

#define RUN(steps, window) run_steps(steps, sizeof steps / sizeof steps[0], window)

Test(semantics, out_of_order_timestamps)
{
	static const struct step s[] = {
		{ DECIDE, 100, "k", 1 },
		{ DECIDE, 50, "k", 0 },  /* before last: throttled */
		{ DECIDE, 99, "k", 0 },
		{ DECIDE, 109, "k", 0 }, /* last stays 100, not 50 or 99 */
		{ DECIDE, 110, "k", 1 }, /* exactly one window later */
		{ DECIDE, 0, "k", 0 },
		{ DECIDE, 5, "other", 1 }, /* a new key at an old time is processed */
		{ COUNT, 0, NULL, 2 },
	};
	RUN(s, 10);
}

Test(semantics, extreme_timestamps)
{
	static const struct step s[] = {
		{ DECIDE, 0, "zero", 1 }, /* ts 0 is a real timestamp, not "never" */
		{ DECIDE, 0, "zero", 0 },
		{ DECIDE, 9, "zero", 0 },
		{ DECIDE, 10, "zero", 1 },
		{ DECIDE, UINT64_MAX, "max", 1 },
		{ DECIDE, UINT64_MAX, "max", 0 },
		{ DECIDE, UINT64_MAX - 10, "max", 0 },
		{ DECIDE, UINT64_MAX - 10, "edge", 1 },
		{ DECIDE, UINT64_MAX, "edge", 1 }, /* exactly a window later, no overflow */
		{ DECIDE, UINT64_MAX, "zero", 1 },
	};
	RUN(s, 10);
}

Test(semantics, window_changes_apply_to_the_next_decision)
{
	static const struct step s[] = {
		{ DECIDE, 0, "k", 1 },
		{ WINDOW, 100, NULL, 0 },
		{ DECIDE, 50, "k", 0 },
		{ DECIDE, 100, "k", 1 },
		{ WINDOW, 5, NULL, 0 },
		{ DECIDE, 105, "k", 1 },
		{ WINDOW, 0, NULL, -EINVAL }, /* rejected, window stays 5 */
		{ DECIDE, 109, "k", 0 },
		{ DECIDE, 110, "k", 1 },
		{ WINDOW, UINT64_MAX, NULL, 0 },
		{ DECIDE, UINT64_MAX - 1, "k", 0 },
	};
	RUN(s, 10);
}

Test(semantics, clear_and_clear_key)
{
	static const struct step s[] = {
		{ DECIDE, 1, "a", 1 },
		{ DECIDE, 1, "b", 1 },
		{ DECIDE, 1, "c", 1 },
		{ COUNT, 0, NULL, 3 },
		{ CLEAR_KEY, 0, "b", 1 },
		{ CLEAR_KEY, 0, "b", 0 }, /* already gone */
		{ CLEAR_KEY, 0, "never", 0 },
		{ COUNT, 0, NULL, 2 },
		{ DECIDE, 2, "a", 0 },
		{ DECIDE, 2, "b", 1 }, /* forgotten: processed again */
		{ CLEAR, 0, NULL, 3 }, /* returns how many went */
		{ COUNT, 0, NULL, 0 },
		{ DECIDE, 3, "a", 1 },
		{ DECIDE, 3, "c", 1 },
		{ DECIDE, 4, "a", 0 },
		{ COUNT, 0, NULL, 2 },
	};
	RUN(s, 10);
}

Test(semantics, event_id_takes_no_part)
{
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, NULL, &t), 0);
	cr_expect_eq(evt_should_process(t, 1, "e1", "k", 1), 1);
	cr_expect_eq(evt_should_process(t, 2, "e1", "k", 1), 0);
	cr_expect_eq(evt_should_process(t, 3, NULL, "k", 1), 0);
	cr_expect_eq(evt_get_window(t), 10000000000ull, "EVT_OPTIONS_INIT is 10 s");
	evt_close(t);
}

/* evt_prefetch() is a hint: keys only prefetched are not tracked, counted or
 * decided on, whatever their length (short keys' inlined hash and long ones'). */
Test(semantics, prefetch_is_only_a_hint)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 10;
	o.capacity = 4096;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	char key[32];
	for (size_t len = 1; len <= sizeof key; len++) {
		memset(key, 'a' + (int)(len % 26), len);
		cr_assert_eq(evt_prefetch(t, key, len), 0, "len %zu", len);
		cr_assert_eq(evt_prefetch(t, key, len), 0, "len %zu", len);
	}
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.keys, 0);
	cr_expect_eq(s.new_keys + s.processed + s.throttled, 0);
	for (size_t len = 1; len <= sizeof key; len++) {
		memset(key, 'a' + (int)(len % 26), len);
		cr_expect_eq(evt_should_process(t, 100, NULL, key, len), 1, "len %zu", len);
		cr_assert_eq(evt_prefetch(t, key, len), 0, "len %zu", len);
		cr_expect_eq(evt_should_process(t, 105, NULL, key, len), 0, "len %zu", len);
	}
	cr_expect_eq(evt_key_count(t), sizeof key);
	evt_close(t);
}

/* evt_prefetch_key() hands its hash to evt_should_process_key(): the same answers
 * and info bits as evt_should_process_ex(), for every key length; a key made for
 * another throttle is still decided right; the key only prefetched is not tracked. */
Test(semantics, prefetched_key_decides_as_the_plain_call)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 10;
	o.capacity = 4096;
	o.key_max = 40;
	evt_throttle *t, *u, *v, *other;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	cr_assert_eq(evt_create(NULL, &o, &u), 0);
	cr_assert_eq(evt_create(NULL, &o, &v), 0);
	cr_assert_eq(evt_create(NULL, &o, &other), 0);
	char key[40];
	for (size_t len = 1; len <= sizeof key; len++) {
		memset(key, 'a' + (int)(len % 26), len);
		evt_key ek, ok;
		cr_assert_eq(evt_prefetch_key(t, key, len, &ek), 0, "len %zu", len);
		cr_assert_eq(evt_prefetch_key(other, key, len, &ok), 0, "len %zu", len);
		cr_expect_eq(ek.key, key);
		cr_expect_eq(ek.key_len, len);
		cr_expect_eq(evt_key_count(t), len - 1, "a prefetch tracks nothing");
		for (uint64_t ts = 100; ts <= 125; ts += 5) {
			unsigned a = 99, b = 99, c = 99;
			int want = evt_should_process_ex(u, ts, NULL, key, len, &a);
			cr_expect_eq(evt_should_process_key(t, ts, &ek, &b), want, "len %zu ts %llu",
			             len, (unsigned long long)ts);
			cr_expect_eq(b, a, "len %zu ts %llu: info", len, (unsigned long long)ts);
			/* made by another throttle (another seed): hashed again */
			cr_expect_eq(evt_should_process_key(v, ts, &ok, &c), want, "len %zu", len);
			cr_expect_eq(c, a, "len %zu: info with a foreign key", len);
		}
	}
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.keys, sizeof key);
	cr_expect_eq(evt_key_count(v), sizeof key);
	cr_expect_eq(evt_key_count(other), 0);
	evt_close(other);
	evt_close(v);
	evt_close(u);
	evt_close(t);
}

/* *info from evt_should_process_ex() is set on every return, whatever it held, for
 * keys up to 16 bytes (decide.h's inlined hash) and longer (table_decide()). */
Test(semantics, info_is_set_on_every_return)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 10;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	static const char *const keys[] = { "k", "sixteen-bytes-16", "seventeen-bytes-1",
		                            "a key of thirty-two bytes, 32 B." };
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *k = keys[i];
		size_t len = strlen(k);
		unsigned info = 0xdeadu;
		cr_expect_eq(evt_should_process_ex(t, 100, NULL, k, len, &info), 1, "%s", k);
		cr_expect_eq(info, EVT_INFO_NEW_KEY, "%s: new key, info %#x", k, info);
		info = 0xdeadu;
		cr_expect_eq(evt_should_process_ex(t, 105, NULL, k, len, &info), 0, "%s", k);
		cr_expect_eq(info, EVT_INFO_INSIDE_WINDOW, "%s: throttled, info %#x", k, info);
		info = 0xdeadu;
		cr_expect_eq(evt_should_process_ex(t, 99, NULL, k, len, &info), 0, "%s", k);
		cr_expect_eq(info, EVT_INFO_OUT_OF_ORDER, "%s: out of order, info %#x", k, info);
		info = 0xdeadu;
		cr_expect_eq(evt_should_process_ex(t, 110, NULL, k, len, &info), 1, "%s", k);
		cr_expect_eq(info, 0u, "%s: processed again, info %#x", k, info);
		info = 0xdeadu;
		cr_expect_eq(evt_should_process_ex(t, 110, NULL, k, 0, &info), -EINVAL, "%s", k);
		cr_expect_eq(info, 0u, "%s: bad length, info %#x", k, info);
		cr_expect_eq(evt_should_process_ex(t, 120, NULL, k, len, NULL), 1, "%s", k);
	}
	evt_close(t);
}

/* The seed's semantics as an unbounded model, for random sequences, with a limit:
 * a key's window opens at a processed event (last, count 1); inside it, events
 * before last are throttled and the others processed while count < limit.  With
 * limit 1 the count never decides (count 1 is never below it): the seed's rule. */
#define MODEL_KEYS 300
struct model {
	uint64_t window, last[MODEL_KEYS];
	uint32_t limit, count[MODEL_KEYS];
	bool has[MODEL_KEYS];
};

static int model_decide(struct model *m, uint64_t ts, int k)
{
	if (m->has[k] && !(ts >= m->last[k] && ts - m->last[k] >= m->window)) {
		if (ts < m->last[k] || m->count[k] >= m->limit)
			return 0;
		m->count[k]++;
		return 1;
	}
	m->has[k] = true;
	m->last[k] = ts;
	m->count[k] = 1;
	return 1;
}

static size_t model_count(const struct model *m)
{
	size_t n = 0;
	for (int k = 0; k < MODEL_KEYS; k++)
		n += m->has[k];
	return n;
}

/* A random limit of 1 to 6, or 1 under limit_max 1. */
static uint32_t random_limit(uint32_t limit_max)
{
	return 1 + (uint32_t)random() % limit_max;
}

/* Random mixes of decisions (timestamps jumping back and forth), window changes,
 * limit changes (limits 1 .. limit_max), clears and clear_keys agree with the model
 * call for call.  Keys are 3 to 32 bytes, so both compiled decisions (up to 16
 * bytes and longer) are checked. */
static void model_run(unsigned seed, uint32_t limit_max)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 4096; /* roomy: nothing is reclaimed, every answer is the seed's */
	srandom(seed);
	struct model m = { .window = 1 + (uint64_t)(random() % 50), .limit = random_limit(limit_max) };
	o.window_ns = m.window;
	o.limit = m.limit;
	evt_throttle *t, *foreign;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	cr_assert_eq(evt_create(NULL, &o, &foreign), 0);
	uint64_t now = (uint64_t)random();
	for (int i = 0; i < 20000; i++) {
		int r = (int)(random() % 1000), k = (int)(random() % MODEL_KEYS);
		char key[40];
		int len = snprintf(key, sizeof key, "%0*d", 3 + k % 30, k);
		now += (uint64_t)(random() % 7);
		uint64_t ts = r < 100 ? now - (uint64_t)(random() % 40) : now;
		if (r == 0) {
			m.window = 1 + (uint64_t)(random() % 50);
			cr_assert_eq(evt_update_window(t, m.window), 0);
		} else if (r == 1) {
			int want = (int)model_count(&m);
			memset(m.has, 0, sizeof m.has);
			cr_assert_eq(evt_clear(t), want, "seed %u step %d", seed, i);
		} else if (r == 2) {
			m.limit = random_limit(limit_max);
			cr_assert_eq(evt_update_limit(t, m.limit), 0);
			cr_assert_eq(evt_get_limit(t), m.limit);
		} else if (r < 12) {
			int want = m.has[k];
			m.has[k] = false;
			cr_assert_eq(evt_clear_key(t, key, (size_t)len), want, "seed %u step %d", seed, i);
		} else {
			/* A hint first, on this key or on one never decided: it must
			 * change no answer and no count.  One decision in three takes
			 * its hash from evt_prefetch_key(), made by this throttle or,
			 * every other time, by one with another hash seed (the decision
			 * must hash again). */
			char other[24];
			int olen = snprintf(other, sizeof other, "hint-%d", i);
			int want = model_decide(&m, ts, k), got;
			if (r % 3 == 2) {
				evt_key ek;
				cr_assert_eq(evt_prefetch_key(r % 2 ? t : foreign, key, (size_t)len, &ek), 0);
				got = evt_should_process_key(t, ts, &ek, NULL);
			} else {
				cr_assert_eq(r % 2 ? evt_prefetch(t, key, (size_t)len)
				                   : evt_prefetch(t, other, (size_t)olen),
				             0);
				got = evt_should_process(t, ts, NULL, key, (size_t)len);
			}
			cr_assert_eq(got, want, "seed %u step %d key %d ts %llu limit %u", seed, i, k,
			             (unsigned long long)ts, m.limit);
		}
	}
	cr_assert_eq(evt_key_count(t), model_count(&m), "seed %u", seed);
	cr_assert_eq(evt_key_count(foreign), 0, "a prefetch tracks nothing");
	evt_close(foreign);
	evt_close(t);
}

/* Limit 1, the default, throughout: the seed's rule. */
Test(semantics, random_sequences_match_the_model)
{
	for (unsigned seed = 1; seed <= 20; seed++)
		model_run(seed, 1);
}

/* Random limits from 1 to 6, changed at run time. */
Test(semantics, random_limits_match_the_model)
{
	for (unsigned seed = 100; seed < 120; seed++)
		model_run(seed, 6);
}

/* N per window, as exchanges count: the window opens at the first processed
 * event; the next limit - 1 inside it are processed; the rest are throttled until
 * it closes; an event before the window's start is throttled whatever the count. */
Test(semantics, limit_counts_events_in_the_window_that_opened_at_the_first)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 100;
	o.limit = 3;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	cr_assert_eq(evt_get_limit(t), 3);
	static const struct {
		uint64_t ts;
		int want;
	} steps[] = {
		{ 1000, 1 }, { 1000, 1 }, { 999, 0 }, { 1050, 1 }, { 1099, 0 },
		{ 1100, 1 }, { 1100, 1 }, { 1150, 1 }, { 1199, 0 }, { 1300, 1 },
	};
	for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
		cr_expect_eq(evt_should_process(t, steps[i].ts, NULL, "k", 1), steps[i].want,
		             "step %zu ts %llu", i, (unsigned long long)steps[i].ts);
	/* Lowering the limit throttles the rest of the window; raising it gives room
	 * in the same window. */
	cr_expect_eq(evt_should_process(t, 1301, NULL, "k", 1), 1);
	cr_assert_eq(evt_update_limit(t, 1), 0);
	cr_expect_eq(evt_should_process(t, 1302, NULL, "k", 1), 0);
	cr_assert_eq(evt_update_limit(t, 4), 0);
	cr_expect_eq(evt_should_process(t, 1303, NULL, "k", 1), 1);
	cr_expect_eq(evt_should_process(t, 1304, NULL, "k", 1), 1);
	cr_expect_eq(evt_should_process(t, 1305, NULL, "k", 1), 0);
	evt_stats st;
	cr_assert_eq(evt_stats_get(t, &st), 0);
	cr_expect_eq(st.limit, 4);
	evt_close(t);
}

/* evt_update_limit() refuses what it must and changes nothing then. */
Test(semantics, update_limit_errors)
{
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, NULL, &t), 0);
	cr_expect_eq(evt_get_limit(t), 1, "the default");
	cr_expect_eq(evt_update_limit(t, 0), -EINVAL);
	cr_expect_eq(evt_update_limit(t, EVT_LIMIT_MAX + 1), -EINVAL);
	cr_expect_eq(evt_update_limit(NULL, 2), -EINVAL);
	cr_expect_eq(evt_get_limit(NULL), 0);
	cr_expect_eq(evt_get_limit(t), 1, "bad input changed nothing");
	cr_expect_eq(evt_update_limit(t, EVT_LIMIT_MAX), 0);
	cr_expect_eq(evt_get_limit(t), EVT_LIMIT_MAX);
	/* The largest limit counts every event of a window up to it. */
	int n = 0;
	for (unsigned i = 0; i < EVT_LIMIT_MAX + 10; i++)
		n += evt_should_process(t, 5, NULL, "k", 1);
	cr_expect_eq(n, (int)EVT_LIMIT_MAX);
	evt_close(t);
}

/* A named throttle is one state for every handle on it. */
Test(semantics, handles_share_one_state)
{
	char name[64];
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 10;
	evt_throttle *a = test_create(test_name(name, sizeof name), &o), *b;
	cr_assert_eq(evt_attach(name, 0, &b), 0);
	cr_expect_eq(decide(a, 1, "userA"), 1);
	cr_expect_eq(decide(b, 5, "userA"), 0);
	cr_expect_eq(evt_update_window(b, 3), 0);
	cr_expect_eq(evt_get_window(a), 3);
	cr_expect_eq(decide(a, 5, "userA"), 1);
	cr_expect_eq(evt_clear_key(b, "userA", 5), 1);
	cr_expect_eq(decide(a, 6, "userA"), 1);
	evt_stats s;
	cr_assert_eq(evt_stats_get(b, &s), 0);
	cr_expect_eq(s.processed, 3);
	cr_expect_eq(s.throttled, 1);
	cr_expect_eq(s.new_keys, 2);
	cr_expect_eq(s.cleared, 1);
	cr_expect_eq(s.keys, 1);
	cr_expect_eq(s.clients, 2);
	evt_close(a);
	evt_close(b);
	evt_unlink(name);
}

/* The state outlives every handle: a re-attached client finds it. */
Test(semantics, state_survives_detach)
{
	char name[64];
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 10;
	evt_throttle *a = test_create(test_name(name, sizeof name), &o);
	cr_expect_eq(decide(a, 100, "k"), 1);
	evt_close(a);
	cr_assert_eq(evt_attach(name, 0, &a), 0);
	cr_expect_eq(decide(a, 105, "k"), 0);
	cr_expect_eq(evt_key_count(a), 1);
	evt_close(a);
	evt_unlink(name);
}

/* A child forked after attaching may use and close its copy of the handle; the
 * client slot stays the parent's. */
Test(semantics, forked_child_closing_its_copy_keeps_the_parents_slot)
{
	char name[64];
	evt_throttle *t = test_create(test_name(name, sizeof name), NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int r = evt_should_process(t, 1, NULL, "k", 1);
		evt_close(t);
		_exit(r == 1 ? 0 : 1);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.clients, 1);
	cr_expect_eq(decide(t, 2, "k"), 0, "the child's decision is shared");
	/* The parent forked since it opened the handle: its close leaves the entry to
	 * the reaper (children might still use it); with every holder gone, the next
	 * read-write attach frees it. */
	evt_close(t);
	cr_assert_eq(evt_attach(name, 0, &t), 0);
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.clients, 1, "the parent's entry is reaped once every holder is gone");
	evt_close(t);
	evt_unlink(name);
}
