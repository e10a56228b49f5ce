/*
 * The seed's example in C, then several processes sharing one throttle.
 *
 *   usage_example            private throttle, then 4 forked processes on a named one
 *   usage_example NAME       the same, the shared part on the existing throttle NAME
 *                            (e.g. one evthrottled created)
 */
#include <evthrottle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEC 1000000000ull

static const char *yes_no(int r)
{
	return r == 1 ? "True" : r == 0 ? "False" : evt_strerror(r);
}

/* EventThrottler(window=10) and the five calls of the seed's README. */
static int seed_example(void)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 10 * SEC;
	evt_throttle *t;
	int rc = evt_create(NULL, &o, &t);
	if (rc < 0) {
		fprintf(stderr, "evt_create: %s\n", evt_strerror(rc));
		return 1;
	}
	static const struct { uint64_t s; const char *id, *key, *note; } ev[] = {
		{ 1, "e1", "userA", "first event" },
		{ 5, "e2", "userA", "within 10s window" },
		{ 12, "e3", "userA", "after window" },
		{ 15, "e4", "userB", "new user" },
		{ 20, "e5", "userB", "still within window" },
	};
	printf("seed example (window 10 s):\n");
	for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
		printf("  should_process(%2llu, %s, %s) -> %-5s  # %s\n", (unsigned long long)ev[i].s,
		       ev[i].id, ev[i].key,
		       yes_no(evt_should_process(t, ev[i].s * SEC, ev[i].id, ev[i].key,
		                                 strlen(ev[i].key))),
		       ev[i].note);
	evt_close(t);
	return 0;
}

/* Each worker offers the same 1000 events for 100 users over one second: each user
 * is processed once in total (window >= 1 s), whichever process sees it first. */
static void worker(const char *name, int id, uint64_t base, unsigned *processed)
{
	evt_throttle *t;
	int rc = evt_attach(name, 0, &t);
	if (rc < 0) {
		fprintf(stderr, "worker %d: evt_attach(%s): %s\n", id, name, evt_strerror(rc));
		_exit(1);
	}
	for (int i = 0; i < 1000; i++) {
		char key[32];
		int n = snprintf(key, sizeof key, "user%d", i % 100);
		uint64_t ts = base + (uint64_t)(i / 100) * (SEC / 10); /* 10 steps of 100 ms */
		if (evt_should_process(t, ts, NULL, key, (size_t)n) == 1)
			__atomic_fetch_add(&processed[id], 1, __ATOMIC_RELAXED);
	}
	evt_close(t);
	_exit(0);
}

static int shared_example(const char *name, int workers)
{
	unsigned *processed = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (processed == MAP_FAILED)
		return 1;
	evt_throttle *t;
	int rc = evt_attach(name, 0, &t);
	if (rc < 0) {
		fprintf(stderr, "evt_attach(%s): %s\n", name, evt_strerror(rc));
		return 1;
	}
	printf("\n%d processes share throttle '%s' (window %.3f s):\n", workers, name,
	       (double)evt_get_window(t) / SEC);
	uint64_t base = evt_now_ns();
	for (int i = 0; i < workers; i++)
		if (fork() == 0)
			worker(name, i, base, processed);
	int failed = 0, status;
	while (wait(&status) > 0)
		failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	unsigned total = 0;
	for (int i = 0; i < workers; i++) {
		printf("  process %d: processed %u of 1000 events\n", i, processed[i]);
		total += processed[i];
	}
	evt_stats s;
	evt_stats_get(t, &s);
	printf("  together: %u processed (one per user), throttle totals "
	       "processed=%llu throttled=%llu keys=%llu\n",
	       total, (unsigned long long)s.processed, (unsigned long long)s.throttled,
	       (unsigned long long)s.keys);
	evt_close(t);
	return failed;
}

int main(int argc, char **argv)
{
	if (argc > 2) {
		fprintf(stderr, "usage: %s [NAME]\n", argv[0]);
		return 2;
	}
	if (seed_example() != 0)
		return 1;
	if (argc == 2)
		return shared_example(argv[1], 4);
	char name[64];
	snprintf(name, sizeof name, "example.%d", (int)getpid());
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 1 * SEC;
	evt_throttle *t;
	int rc = evt_create(name, &o, &t);
	if (rc < 0) {
		fprintf(stderr, "evt_create(%s): %s\n", name, evt_strerror(rc));
		return 1;
	}
	evt_close(t);
	rc = shared_example(name, 4);
	evt_unlink(name);
	return rc;
}
