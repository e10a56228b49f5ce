/* The common case of evt_should_process(), a length class at a time (decide.h). */
#include "decide.h"

__attribute__((noinline, flatten)) int decide_1to8(evt_throttle *t, uint64_t ts_ns, const void *unused,
                                          const void *key, size_t key_len)
{
	(void)unused;
	if (key_len == 0 || key_len > 8)
		__builtin_unreachable(); /* the caller's checks: XXH3's one path */
	return decide_short(t, ts_ns, key, key_len, key_hash_1to8(&t->r, key, key_len), false, false);
}

__attribute__((noinline, flatten)) int decide_cached_1to8(evt_throttle *t, uint64_t ts_ns,
                                                          const void *unused, const void *key,
                                                          size_t key_len)
{
	(void)unused;
	if (key_len == 0 || key_len > 8)
		__builtin_unreachable(); /* the caller's checks: XXH3's one path */
	return decide_short(t, ts_ns, key, key_len, key_hash_1to8(&t->r, key, key_len), false, true);
}

__attribute__((noinline, flatten)) int decide_cached_9to16(evt_throttle *t, uint64_t ts_ns,
                                                           const void *unused, const void *key,
                                                           size_t key_len)
{
	(void)unused;
	if (key_len - 9 >= 8)
		__builtin_unreachable(); /* the caller's checks */
	return decide_short(t, ts_ns, key, key_len, key_hash_9to16(&t->r, key, key_len), true, true);
}

__attribute__((noinline)) int decide_rest(evt_throttle *t, uint64_t ts, const void *key, size_t len)
{
	return table_decide_rest(&t->r, &t->me, ts, key, (uint32_t)len);
}

/* Events a batch hashes and prefetches before deciding them: about as many misses
 * as a core keeps in flight. */
#define BATCH_GROUP 16u

/* Each group's keys are hashed and read once, as evt_prefetch_key() does, and
 * decided as evt_should_process_key() does. */
size_t decide_batch(evt_throttle *t, evt_event *ev, size_t n)
{
	size_t processed = 0;
	for (size_t at = 0; at < n; at += BATCH_GROUP) {
		size_t m = n - at < BATCH_GROUP ? n - at : BATCH_GROUP;
		evt_event *e = ev + at;
		evt_key k[BATCH_GROUP];
		for (size_t j = 0; j < m; j++) {
			e[j].info = 0;
			e[j].result = table_key_check(&t->r, e[j].key, e[j].key_len);
			if (e[j].result == 0)
				(void)table_prefetch_key(&t->r, e[j].key, (uint32_t)e[j].key_len, &k[j]);
		}
		for (size_t j = 0; j < m; j++) {
			if (e[j].result < 0)
				continue;
			e[j].result = k[j].key_len <= INLINE_KEY_MAX
			                      ? decide_short_key(t, e[j].ts_ns, &k[j], &e[j].info, false)
			                      : table_decide_key(&t->r, &t->me, e[j].ts_ns, &k[j],
			                                         &e[j].info);
			processed += e[j].result == 1;
		}
	}
	return processed;
}
