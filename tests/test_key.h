/* Keys for the suites and evt-stress: no Criterion, no allocation. */
#ifndef EVT_TESTS_TEST_KEY_H
#define EVT_TESTS_TEST_KEY_H

#include <stddef.h>
#include <stdint.h>

/* Test keys: the prefix and the decimal id, and for every third id that padded
 * with dots to TEST_KEY_LONG bytes, so that keys take both compiled decisions
 * (table_decide() for keys up to 16 bytes, decide_long() above).  Distinct ids
 * give distinct keys.  No allocation, no locale, no syscall; buf holds
 * TEST_KEY_LONG. */
#define TEST_KEY_LONG 24
static inline size_t test_key(char *buf, char prefix, uint64_t id)
{
	char tmp[20];
	size_t n = 0, len = 0;
	int longer = id % 3 == 0;
	do
		tmp[n++] = (char)('0' + id % 10);
	while ((id /= 10) != 0);
	buf[len++] = prefix;
	while (n > 0)
		buf[len++] = tmp[--n];
	while (longer && len < TEST_KEY_LONG)
		buf[len++] = '.';
	return len;
}

#endif /* EVT_TESTS_TEST_KEY_H */
