/* The common case of evt_should_process(), a length class at a time (decide.h). */
#include "decide.h"

__attribute__((noinline, flatten)) int decide_1to8(evt_throttle *t, uint64_t ts_ns, const void *unused,
                                          const void *key, size_t key_len)
{
	(void)unused;
	if (key_len == 0 || key_len > 8)
		__builtin_unreachable(); /* the caller's checks: XXH3's one path */
	return decide_home(t, ts_ns, key, key_len,
	                   key_hash_1to8(&t->r, key, key_len), false);
}

__attribute__((noinline)) int decide_rest(evt_throttle *t, uint64_t ts, const void *key, size_t len)
{
	return table_decide_rest(&t->r, &t->me, ts, key, (uint32_t)len);
}
