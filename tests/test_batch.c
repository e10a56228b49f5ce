/* evt_should_process_batch(): the answers of the same calls one by one, per-event
 * errors that stop nothing, and whole-call errors that change nothing. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "common.h"

static evt_throttle *private_throttle(uint64_t window, uint32_t capacity, unsigned on_full)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = capacity;
	o.on_full = on_full;
	evt_throttle *t = NULL;
	cr_assert_eq(evt_create(NULL, &o, &t), 0);
	return t;
}

/* Keys of 1 to key_max bytes (one to four 8-byte words), a few of them often. */
#define KEYS 300
static char key_text[KEYS][32];
static size_t key_len[KEYS];

static void make_keys(void)
{
	for (int k = 0; k < KEYS; k++) {
		size_t len = 1 + (size_t)(random() % 32);
		for (size_t i = 0; i < len; i++)
			key_text[k][i] = (char)('a' + (k + (int)i * 7) % 26);
		/* the key's number in its first bytes keeps every key distinct */
		key_text[k][0] = (char)(k & 0xff);
		if (len > 1)
			key_text[k][1] = (char)(k >> 8);
		key_len[k] = len;
	}
}

static void expect_same_stats(evt_throttle *a, evt_throttle *b, unsigned seed)
{
	evt_stats sa, sb;
	cr_assert_eq(evt_stats_get(a, &sa), 0);
	cr_assert_eq(evt_stats_get(b, &sb), 0);
	cr_expect_eq(sa.processed, sb.processed, "seed %u", seed);
	cr_expect_eq(sa.throttled, sb.throttled, "seed %u", seed);
	cr_expect_eq(sa.new_keys, sb.new_keys, "seed %u", seed);
	cr_expect_eq(sa.keys, sb.keys, "seed %u", seed);
}

/* Batches of 0 to 100 events (a key may repeat inside one, timestamps go back and
 * forth) give, event for event, what evt_should_process_ex() gives on a twin
 * throttle, and the same counters, under limits 1 to 4. */
Test(batch, answers_equal_calls_one_by_one)
{
	evt_event ev[100];
	for (unsigned seed = 1; seed <= 10; seed++) {
		srandom(seed);
		make_keys();
		uint64_t window = 1 + (uint64_t)(random() % 40);
		evt_throttle *a = private_throttle(window, 4096, EVT_ON_FULL_THROTTLE);
		evt_throttle *b = private_throttle(window, 4096, EVT_ON_FULL_THROTTLE);
		cr_assert_eq(evt_update_limit(a, seed % 4 + 1), 0);
		cr_assert_eq(evt_update_limit(b, seed % 4 + 1), 0);
		uint64_t now = 1000;
		for (int round = 0; round < 400; round++) {
			size_t n = (size_t)(random() % 101);
			for (size_t i = 0; i < n; i++) {
				int k = random() % 4 == 0 ? (int)(random() % 4) : (int)(random() % KEYS);
				now += (uint64_t)(random() % 3);
				uint64_t ts = random() % 10 == 0 ? now - (uint64_t)(random() % 30) : now;
				ev[i] = (evt_event){ .ts_ns = ts, .key = key_text[k], .key_len = key_len[k],
					             .result = 99, .info = 99 };
			}
			int processed = evt_should_process_batch(a, ev, n), want_processed = 0;
			for (size_t i = 0; i < n; i++) {
				unsigned info = 0;
				int want = evt_should_process_ex(b, ev[i].ts_ns, NULL, ev[i].key,
				                                 ev[i].key_len, &info);
				want_processed += want == 1;
				cr_assert_eq(ev[i].result, want, "seed %u round %d event %zu: %d, one by one %d",
				             seed, round, i, ev[i].result, want);
				cr_assert_eq(ev[i].info, info, "seed %u round %d event %zu info", seed, round, i);
			}
			cr_assert_eq(processed, want_processed, "seed %u round %d", seed, round);
		}
		expect_same_stats(a, b, seed);
		evt_close(a);
		evt_close(b);
	}
}

/* A bad event gets its own error and changes nothing; the others are decided. */
Test(batch, a_bad_event_fails_alone)
{
	evt_throttle *t = private_throttle(10, 1024, EVT_ON_FULL_THROTTLE);
	static const char long_key[40] = "0123456789012345678901234567890123456789";
	evt_event ev[] = {
		{ .ts_ns = 1, .key = "a", .key_len = 1 },
		{ .ts_ns = 1, .key = "", .key_len = 0 },
		{ .ts_ns = 1, .key = NULL, .key_len = 3 },
		{ .ts_ns = 1, .key = long_key, .key_len = sizeof long_key },
		{ .ts_ns = 2, .key = "a", .key_len = 1 },
		{ .ts_ns = 3, .key = "b", .key_len = 1 },
	};
	cr_assert_eq(evt_should_process_batch(t, ev, 6), 2);
	int want[] = { 1, -EINVAL, -EINVAL, -EMSGSIZE, 0, 1 };
	for (int i = 0; i < 6; i++)
		cr_expect_eq(ev[i].result, want[i], "event %d: %d, want %d", i, ev[i].result, want[i]);
	cr_expect_eq(ev[0].info, EVT_INFO_NEW_KEY);
	cr_expect_eq(ev[3].info, 0u);
	cr_expect_eq(ev[4].info, EVT_INFO_INSIDE_WINDOW, "the throttle says why");
	cr_expect_eq(evt_key_count(t), 2);
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.processed + s.throttled, 3, "only the good events were counted");
	evt_close(t);
}

/* Arguments the whole call refuses: nothing is decided and no event is written. */
Test(batch, refused_calls_change_nothing)
{
	evt_throttle *t = private_throttle(10, 1024, EVT_ON_FULL_THROTTLE);
	evt_event ev[2] = { { .ts_ns = 1, .key = "a", .key_len = 1, .result = 77 },
		            { .ts_ns = 1, .key = "b", .key_len = 1, .result = 77 } };
	cr_expect_eq(evt_should_process_batch(NULL, ev, 2), -EINVAL);
	cr_expect_eq(evt_should_process_batch(t, NULL, 2), -EINVAL);
	cr_expect_eq(evt_should_process_batch(t, ev, (size_t)INT_MAX + 1), -EINVAL);
	cr_expect_eq(evt_should_process_batch(t, NULL, 0), 0);
	cr_expect_eq(evt_should_process_batch(t, ev, 0), 0);
	cr_expect_eq(ev[0].result, 77);
	cr_expect_eq(ev[1].result, 77);
	cr_expect_eq(evt_key_count(t), 0);
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.processed + s.throttled, 0);
	evt_close(t);
}

Test(batch, read_only_handle_is_refused, .fini = unlink_names)
{
	const char *name = new_name();
	evt_options o = EVT_OPTIONS_INIT;
	evt_throttle *rw = test_create(name, &o), *ro = NULL;
	cr_assert_eq(evt_attach(name, EVT_RDONLY, &ro), 0);
	evt_event ev = { .ts_ns = 1, .key = "a", .key_len = 1, .result = 77 };
	cr_expect_eq(evt_should_process_batch(ro, &ev, 1), -EROFS);
	cr_expect_eq(ev.result, 77);
	cr_expect_eq(evt_key_count(rw), 0);
	evt_close(ro);
	evt_close(rw);
}

/* A full table answers each event by the policy, flagged, inside a batch too. */
Test(batch, full_table_policy_per_event)
{
	evt_throttle *t = private_throttle(1000, 64, EVT_ON_FULL_ERROR);
	evt_event ev[200];
	char keys[200][8];
	for (int i = 0; i < 200; i++) {
		int len = snprintf(keys[i], sizeof keys[i], "k%d", i);
		ev[i] = (evt_event){ .ts_ns = 1, .key = keys[i], .key_len = (size_t)len };
	}
	int processed = evt_should_process_batch(t, ev, 200);
	int full = 0, ok = 0;
	for (int i = 0; i < 200; i++) {
		if (ev[i].result == -ENOSPC) {
			full++;
			cr_expect_eq(ev[i].info, EVT_INFO_FULL, "event %d", i);
		} else {
			cr_expect_eq(ev[i].result, 1, "event %d: %d", i, ev[i].result);
			ok++;
		}
	}
	cr_expect_eq(processed, ok);
	cr_expect_eq((size_t)ok, evt_key_count(t));
	cr_expect_gt(full, 0, "200 keys in 64 slots: some must find the table full");
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	cr_expect_eq(s.full, (uint64_t)full);
	evt_close(t);
}
