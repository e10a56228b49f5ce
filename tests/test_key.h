/* Keys for the suites and evt-stress: no Criterion, no allocation. */
#ifndef EVT_TESTS_TEST_KEY_H
#define EVT_TESTS_TEST_KEY_H

#include <stddef.h>
#include <stdint.h>

/* Test keys: the prefix and the decimal id, and for every third id that padded
 * with dots to TEST_KEY_LONG bytes, for the next to TEST_KEY_MID, so that keys
 * take every compiled decision (decide.h's inlined paths for keys of 1 to 8 and
 * of 9 to 16 bytes, table_decide() above).  Distinct ids give distinct keys.  No
 * allocation, no locale, no syscall; buf holds TEST_KEY_LONG. */
#define TEST_KEY_LONG 24
#define TEST_KEY_MID 12
static inline size_t test_key(char *buf, char prefix, uint64_t id)
{
	char tmp[20];
	size_t n = 0, len = 0;
	size_t pad = id % 3 == 0 ? TEST_KEY_LONG : id % 3 == 1 ? TEST_KEY_MID : 0;
	do
		tmp[n++] = (char)('0' + id % 10);
	while ((id /= 10) != 0);
	buf[len++] = prefix;
	while (n > 0)
		buf[len++] = tmp[--n];
	while (len < pad)
		buf[len++] = '.';
	return len;
}

#endif /* EVT_TESTS_TEST_KEY_H */
