/*
 * evthrottle-instr: one way of calling, many times over, on one hot 13-byte key,
 * for callgrind to count the instructions of each call (bench/instr.sh).
 *
 *   evthrottle-instr SHAPE OPS
 *
 * SHAPE: throttled | processed          evt_should_process()
 *        key-throttled | key-processed  evt_prefetch_key() + evt_should_process_key()
 *        batch-throttled                evt_should_process_batch(), 64 events a call
 *        global-throttled               evt_should_process() on a global throttle
 *                                       whose Redis is unreachable: the key is
 *                                       cached by the first call (on_unreachable
 *                                       local), every later call is throttled by
 *                                       the cache, with no round trip
 *        global-key-throttled           the same, by evt_prefetch_key() +
 *                                       evt_should_process_key()
 * "processed" shapes use a 1 ns window with an increasing clock, so every call
 * finds the key and processes it; "throttled" ones a 10 s window.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evthrottle.h"

#define KEY "user:12345678" /* 13 bytes */
#define BATCH 64

static void fail(const char *what, int rc)
{
	fprintf(stderr, "evthrottle-instr: %s: %s\n", what, evt_strerror(rc));
	exit(1);
}

/* Kept out of line so that callgrind sees each shape's loop apart from main(). */
static __attribute__((noinline)) unsigned long run(evt_throttle *t, const char *shape,
                                                   unsigned long ops)
{
	unsigned long n = 0;
	size_t len = strlen(KEY);
	/* A global throttle's shapes call as the host-local ones of the same name. */
	if (strncmp(shape, "global-", 7) == 0)
		shape += 7;
	if (strcmp(shape, "throttled") == 0 || strcmp(shape, "processed") == 0) {
		for (unsigned long i = 0; i < ops; i++)
			n += (unsigned long)evt_should_process(t, 2 + i, NULL, KEY, len);
	} else if (strcmp(shape, "key-throttled") == 0 || strcmp(shape, "key-processed") == 0) {
		evt_key k;
		for (unsigned long i = 0; i < ops; i++) {
			if (evt_prefetch_key(t, KEY, len, &k) < 0)
				fail("evt_prefetch_key", -1);
			n += (unsigned long)evt_should_process_key(t, 2 + i, &k, NULL);
		}
	} else if (strcmp(shape, "batch-throttled") == 0) {
		evt_event ev[BATCH];
		for (unsigned long i = 0; i < ops; i += BATCH) {
			for (int j = 0; j < BATCH; j++)
				ev[j] = (evt_event){ .ts_ns = 2 + i + (unsigned long)j, .key = KEY,
					             .key_len = len };
			n += (unsigned long)evt_should_process_batch(t, ev, BATCH);
		}
	} else {
		fprintf(stderr, "evthrottle-instr: unknown shape %s\n", shape);
		exit(2);
	}
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: evthrottle-instr SHAPE OPS\n");
		return 2;
	}
	const char *shape = argv[1];
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = strstr(shape, "processed") != NULL ? 1 : 10000000000ull;
	o.capacity = 1024;
	/* Nothing listens there: no decision of the measured loop needs Redis. */
	evt_global g = { .redis = "unix:/nonexistent/evthrottle-instr.sock", .name = "instr",
		         .timeout_ns = 1000000, .on_unreachable = EVT_ON_UNREACHABLE_LOCAL };
	if (strncmp(shape, "global-", 7) == 0)
		o.global = &g;
	evt_throttle *t;
	int rc = evt_create(NULL, &o, &t);
	if (rc < 0)
		fail("evt_create", rc);
	if (evt_should_process(t, 1, NULL, KEY, strlen(KEY)) != 1)
		fail("first decision", -1);
	unsigned long processed = run(t, shape, strtoul(argv[2], NULL, 10));
	printf("%s: %lu processed\n", shape, processed);
	evt_close(t);
	return 0;
}
