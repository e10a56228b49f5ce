/* Issue 21's policies beyond the limit: evt_peek(), shadow mode and the reasons
 * every throttle gives (semantics.c checks the limit against its model). */
#include <errno.h>
#include <stdlib.h>

#include "common.h"
#include "moves.h"

TestSuite(policy, .fini = unlink_names);

static evt_throttle *private_throttle(uint64_t window, uint32_t limit, uint32_t capacity,
                                      uint32_t on_full)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.limit = limit;
	o.capacity = capacity;
	o.on_full = on_full;
	evt_throttle *t = NULL;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	return t;
}

static evt_stats stats(const evt_throttle *t)
{
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	return s;
}

#define KEYS 40

/* One key's state as the rule keeps it, for the reasons. */
struct kstate {
	uint64_t last;
	bool has;
};

/*
 * Random events on 40 keys (timestamps back and forth, limits 1 to 4 changed at run
 * time) on two twin throttles, one enforcing, one in shadow mode.  Before each
 * decision evt_peek() on the enforcing one gives its answer; the shadow twin answers
 * 1 with the same info plus EVT_INFO_SHADOW where the other denied; every throttle
 * has exactly one reason, out of order exactly when the event is older than its
 * key's window start; and the counters add up.
 */
Test(policy, peek_shadow_and_reasons_follow_the_decision)
{
	for (unsigned seed = 1; seed <= 10; seed++) {
		srandom(seed);
		evt_throttle *e = private_throttle(1 + (uint64_t)(random() % 30), 1 + seed % 4, 4096,
		                                   EVT_ON_FULL_THROTTLE);
		evt_throttle *s = private_throttle(evt_get_window(e), evt_get_limit(e), 4096,
		                                   EVT_ON_FULL_THROTTLE);
		cr_assert_eq(evt_set_shadow(s, 1), 0);
		struct kstate ks[KEYS] = { 0 };
		uint64_t now = 1000, peeks = 0, denied = 0, out_of_order = 0;
		for (int i = 0; i < 5000; i++) {
			int k = (int)(random() % KEYS);
			char key[16];
			int len = snprintf(key, sizeof key, "key-%d", k);
			now += (uint64_t)(random() % 4);
			uint64_t ts = random() % 8 == 0 ? now - (uint64_t)(random() % 20) : now;
			if (random() % 200 == 0) {
				uint32_t limit = 1 + (uint32_t)random() % 4;
				cr_assert_eq(evt_update_limit(e, limit), 0);
				cr_assert_eq(evt_update_limit(s, limit), 0);
			}
			int peek = evt_peek(e, ts, key, (size_t)len);
			cr_assert_eq(evt_peek(e, ts, key, (size_t)len), peek, "a peek changed the answer");
			peeks += 2;
			cr_assert_eq(evt_peek(s, ts, key, (size_t)len), 1, "a shadow peek is a 1");
			unsigned ie = 0xdead, is = 0xdead;
			int ae = evt_should_process_ex(e, ts, NULL, key, (size_t)len, &ie);
			int as = evt_should_process_ex(s, ts, NULL, key, (size_t)len, &is);
			cr_assert_eq(ae, peek, "seed %u step %d: decided %d, peeked %d", seed, i, ae, peek);
			cr_assert_eq(as, 1, "seed %u step %d: shadow answered %d", seed, i, as);
			unsigned why = ie & (EVT_INFO_INSIDE_WINDOW | EVT_INFO_OUT_OF_ORDER);
			if (ae == 0) {
				bool old = ks[k].has && ts < ks[k].last;
				cr_assert_eq(why, old ? EVT_INFO_OUT_OF_ORDER : EVT_INFO_INSIDE_WINDOW,
				             "seed %u step %d: throttled with info %#x", seed, i, ie);
				cr_assert_eq(is, ie | EVT_INFO_SHADOW, "seed %u step %d: shadow info %#x, "
				             "enforcing %#x", seed, i, is, ie);
				denied++;
				out_of_order += old;
			} else {
				cr_assert_eq(why, 0u, "seed %u step %d: processed with info %#x", seed, i, ie);
				cr_assert_eq(is, ie, "seed %u step %d: shadow info %#x", seed, i, is);
				if (!ks[k].has || ts - ks[k].last >= evt_get_window(e))
					ks[k] = (struct kstate){ ts, true };
			}
		}
		evt_stats se = stats(e), ss = stats(s);
		cr_expect_eq(se.peeks, peeks, "seed %u", seed);
		cr_expect_eq(ss.peeks, peeks / 2, "seed %u", seed);
		cr_expect_eq(se.throttled, denied, "seed %u", seed);
		cr_expect_eq(se.out_of_order, out_of_order, "seed %u", seed);
		cr_expect_gt(out_of_order, 0, "seed %u: no event out of order", seed);
		cr_expect_eq(se.would_throttle, 0, "seed %u: enforcing", seed);
		/* The shadow twin decided and counted the same; its denials were 1s. */
		cr_expect_eq(ss.processed, se.processed, "seed %u", seed);
		cr_expect_eq(ss.throttled, se.throttled, "seed %u", seed);
		cr_expect_eq(ss.out_of_order, se.out_of_order, "seed %u", seed);
		cr_expect_eq(ss.would_throttle, denied, "seed %u", seed);
		cr_expect_eq(ss.keys, se.keys, "seed %u", seed);
		cr_expect_eq(ss.shadow, 1);
		cr_expect_eq(se.shadow, 0);
		evt_close(e);
		evt_close(s);
	}
}

/* Shadow mode keeps the state as if enforcing: turned off, the window it kept
 * throttles at once.  Turned on and off at run time, by any handle. */
Test(policy, shadow_updates_the_state_as_if_enforcing)
{
	evt_throttle *t = private_throttle(100, 2, 64, EVT_ON_FULL_THROTTLE);
	cr_expect_eq(evt_get_shadow(t), 0, "enforcing by default");
	cr_assert_eq(evt_set_shadow(t, 1), 0);
	cr_expect_eq(evt_get_shadow(t), 1);
	cr_expect_eq(evt_get_limit(t), 2, "the limit is kept apart from the shadow bit");
	unsigned info;
	cr_expect_eq(evt_should_process_ex(t, 1000, NULL, "k", 1, &info), 1);
	cr_expect_eq(evt_should_process_ex(t, 1010, NULL, "k", 1, &info), 1);
	cr_expect_eq(info, 0u, "the second of limit 2 is processed, no shadow");
	cr_expect_eq(evt_should_process_ex(t, 1020, NULL, "k", 1, &info), 1);
	cr_expect_eq(info, EVT_INFO_INSIDE_WINDOW | EVT_INFO_SHADOW);
	cr_expect_eq(evt_should_process(t, 1030, NULL, "k", 1), 1, "the plain call too");
	cr_expect_eq(evt_should_process(t, 1030, NULL, NULL, 1), -EINVAL, "bad input is an error");
	cr_expect_eq(evt_should_process_ex(t, 1030, NULL, "k", 0, &info), -EINVAL);
	cr_assert_eq(evt_update_limit(t, 1), 0);
	cr_expect_eq(evt_get_shadow(t), 1, "the shadow bit is kept apart from the limit");
	cr_expect_eq(evt_should_process_ex(t, 1040, NULL, "k", 1, &info), 1);
	cr_expect_eq(info, EVT_INFO_INSIDE_WINDOW | EVT_INFO_SHADOW, "limit 1 in shadow");
	cr_assert_eq(evt_set_shadow(t, 0), 0);
	cr_expect_eq(evt_should_process_ex(t, 1050, NULL, "k", 1, &info), 0);
	cr_expect_eq(info, EVT_INFO_INSIDE_WINDOW, "the window shadow mode kept");
	cr_expect_eq(evt_should_process(t, 1100, NULL, "k", 1), 1, "and its end");
	evt_stats s = stats(t);
	cr_expect_eq(s.would_throttle, 3);
	cr_expect_eq(s.throttled, 4);
	cr_expect_eq(s.processed, 3);
	cr_expect_eq(evt_set_shadow(t, 2), -EINVAL);
	cr_expect_eq(evt_set_shadow(NULL, 1), -EINVAL);
	cr_expect_eq(evt_get_shadow(NULL), -EINVAL);
	cr_expect_eq(evt_get_shadow(t), 0, "bad input changed nothing");
	evt_close(t);
}

/* A full table under on_full = error denies with -ENOSPC; in shadow mode that is a
 * 1 with EVT_INFO_FULL | EVT_INFO_SHADOW, counted as full and would_throttle; a
 * peek answers as the decision. */
Test(policy, shadow_answers_a_full_table)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.window_ns = UINT64_MAX; /* nothing is ever reclaimed */
	o.on_full = EVT_ON_FULL_ERROR;
	o.shadow = 1;
	evt_throttle *t;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	cr_expect_eq(evt_get_shadow(t), 1, "evt_options.shadow");
	unsigned info = 0;
	uint32_t i = 0;
	char key[16];
	for (; i < 1000 && !(info & EVT_INFO_FULL); i++) {
		int len = snprintf(key, sizeof key, "k%u", i);
		cr_assert_eq(evt_should_process_ex(t, 1, NULL, key, (size_t)len, &info), 1);
	}
	cr_assert(info & EVT_INFO_FULL, "the table never filled");
	cr_expect_eq(info, EVT_INFO_FULL | EVT_INFO_SHADOW);
	evt_stats s = stats(t);
	cr_expect_eq(s.full, 1);
	cr_expect_eq(s.would_throttle, 1);
	cr_assert_eq(evt_set_shadow(t, 0), 0);
	cr_expect_eq(evt_should_process(t, 1, NULL, key, strlen(key)), -ENOSPC, "enforcing again");
	evt_close(t);
}

/* evt_peek()'s errors, and a key never seen, which a peek leaves untracked. */
Test(policy, peek_errors_and_new_keys)
{
	evt_throttle *t = private_throttle(100, 1, 64, EVT_ON_FULL_THROTTLE);
	char long_key[40] = { 0 };
	cr_expect_eq(evt_peek(NULL, 1, "k", 1), -EINVAL);
	cr_expect_eq(evt_peek(t, 1, NULL, 1), -EINVAL);
	cr_expect_eq(evt_peek(t, 1, "k", 0), -EINVAL);
	cr_expect_eq(evt_peek(t, 1, long_key, sizeof long_key), -EMSGSIZE);
	cr_expect_eq(evt_peek(t, 1, "k", 1), 1, "a new key would be processed");
	cr_expect_eq(evt_key_count(t), 0, "a peek tracks nothing");
	cr_expect_eq(evt_should_process(t, 1, NULL, "k", 1), 1);
	cr_expect_eq(evt_peek(t, 50, "k", 1), 0);
	cr_expect_eq(evt_peek(t, 0, "k", 1), 0, "out of order");
	cr_expect_eq(evt_peek(t, 101, "k", 1), 1);
	evt_stats s = stats(t);
	cr_expect_eq(s.peeks, 4, "the refused peeks are not counted");
	cr_expect_eq(s.processed, 1);
	cr_expect_eq(s.throttled, 0, "peeks decide nothing");
	evt_close(t);
}

/* ---- a peek meets a key frozen for a move (review of issue 21) ---- */

/* evt_peek() is documented for read-only handles ("which may peek too") and as
 * changing nothing.  A key frozen for a move is met by the peek's find(), which
 * finishes the move: a CAS on a PROT_READ mapping (SIGSEGV), and a change to
 * the table on a read-write handle. */
/* Decide "mover" on t (64 slots, no other key) and freeze its slot for a move to
 * 5 slots past its home, as a mover stopped after its freeze leaves it; its entry. */
static struct table_entry freeze_mover(evt_throttle *t)
{
	cr_assert_eq(decide(t, 10, "mover"), 1);
	struct table_entry ent;
	uint32_t i = 0;
	while (i < 64 && !table_read_slot(&t->r, i, &ent))
		i++;
	cr_assert_lt(i, 64);
	test_freeze_move(&t->r, ent.slot, (ent.home + 5) & t->r.mask, ent.home);
	return ent;
}

Test(policy, peek_on_a_read_only_handle_meets_a_moving_key)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.window_ns = 1000;
	o.mode = 0600;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	struct table_entry ent = freeze_mover(t);
	evt_throttle *ro = NULL;
	cr_assert_eq(evt_attach(name, EVT_RDONLY, &ro), 0);
	evt_unlink(name); /* the crash below skips .fini */
	cr_expect_eq(evt_peek(ro, 11, "mover", 5), 0, "inside the window");
	cr_expect_eq(CTRL_STATE(atomic_load(&region_slot(&t->r, ent.slot)->ctrl)), SLOT_MOVING,
	             "a peek changed nothing");
	evt_close(ro);
	evt_close(t);
}

/* The same on a read-write handle: "it changes nothing in the throttle". */
Test(policy, peek_on_a_read_write_handle_changes_nothing)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.window_ns = 1000;
	evt_throttle *t = test_create(new_name(), &o);
	struct table_entry ent = freeze_mover(t);
	uint64_t hop = atomic_load(&region_slot(&t->r, ent.home)->hop);
	cr_expect_eq(evt_peek(t, 11, "mover", 5), 0, "inside the window");
	cr_expect_eq(atomic_load(&region_slot(&t->r, ent.home)->hop), hop,
	             "a peek changed the home's hop word");
	evt_close(t);
}
