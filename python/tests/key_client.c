/* A C client for the Python suite: attach to a throttle and decide keys given as
 * Python passes them, so that a test checks both sides take the same bytes.
 *
 *   key_client NAME TS_NS KEY...
 *
 * KEY is int:N (the int64_t N, 8 bytes in the host's order, as evthrottle encodes an
 * int key), hex:HEX (those bytes) or str:TEXT (its bytes, UTF-8 from the shell).
 * Prints evt_should_process()'s answer for each key, in order, on one line; exits 1
 * with the library's message if a call fails. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evthrottle.h"

static size_t parse_hex(const char *hex, unsigned char *out, size_t max)
{
	size_t n = 0;
	for (unsigned byte; n < max && sscanf(hex + 2 * n, "%2x", &byte) == 1; n++)
		out[n] = (unsigned char)byte;
	return n;
}

/* The key's bytes in buf; returns their length. */
static size_t parse_key(const char *arg, unsigned char *buf, size_t max)
{
	if (strncmp(arg, "int:", 4) == 0) {
		int64_t v = strtoll(arg + 4, NULL, 10);
		memcpy(buf, &v, sizeof v);
		return sizeof v;
	}
	if (strncmp(arg, "hex:", 4) == 0)
		return parse_hex(arg + 4, buf, max);
	size_t len = strlen(arg + 4);
	memcpy(buf, arg + 4, len < max ? len : max);
	return len < max ? len : max;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s NAME TS_NS KEY...\n", argv[0]);
		return 2;
	}
	evt_throttle *t;
	int rc = evt_attach(argv[1], 0, &t);
	uint64_t ts = strtoull(argv[2], NULL, 10);
	for (int i = 3; rc >= 0 && i < argc; i++) {
		unsigned char key[1024];
		rc = evt_should_process(t, ts, NULL, key, parse_key(argv[i], key, sizeof key));
		if (rc >= 0)
			printf("%d%c", rc, i + 1 < argc ? ' ' : '\n');
	}
	if (rc < 0) {
		fprintf(stderr, "key_client: %s\n", evt_strerror(rc));
		return 1;
	}
	evt_close(t);
	return 0;
}
