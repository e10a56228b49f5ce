/*
 * libFuzzer target: durations as operators write them (common/duration.c).
 *
 * The input, as a NUL-terminated string, goes to duration_parse(), which must
 * answer 0, -EINVAL or -ERANGE; when it parses, duration_format() of the value
 * must parse back to the same value (round trip).  The first
 * 8 input bytes, as a number, go through the same round trip, so every 64-bit
 * value is reachable, not only those the parser accepts.  duration_format() is
 * also run into buffers of every size from 1 byte up, which must never overflow
 * (AddressSanitizer) and must stay NUL-terminated.  Any failure abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"

static void fail(const char *what, const char *text, uint64_t v)
{
	fprintf(stderr, "fuzz_duration: %s: \"%s\" (%llu ns)\n", what, text,
	        (unsigned long long)v);
	abort();
}

static void round_trip(uint64_t v)
{
	char a[64];
	uint64_t w = 0;
	duration_format(v, a, sizeof a);
	int rc = duration_parse(a, &w);
	if (rc != 0)
		fail("duration_format wrote what duration_parse refuses", a, v);
	if (w != v)
		fail("duration_format then duration_parse changed the value", a, v);
	/* Short buffers: truncated, never overrun, always terminated. */
	for (size_t n = 1; n <= strlen(a) + 1; n++) {
		char *p = malloc(n);
		if (p == NULL)
			abort();
		duration_format(v, p, n);
		if (strnlen(p, n) == n)
			fail("duration_format left a short buffer unterminated", a, v);
		free(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	uint64_t v = 0;
	int rc = duration_parse(s, &v);
	if (rc != 0 && rc != -EINVAL && rc != -ERANGE)
		fail("duration_parse returned an undocumented error", s, v);
	if (rc == 0)
		round_trip(v);
	if (size >= sizeof v) {
		memcpy(&v, data, sizeof v);
		round_trip(v);
	}
	free(s);
	return 0;
}
