/* Shared by the Criterion suites: unique shm names and small helpers. */
#ifndef EVT_TESTS_COMMON_H
#define EVT_TESTS_COMMON_H

#include <criterion/criterion.h>
#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evthrottle.h"
#include "test_key.h"

/* Criterion runs each test in its own process: the pid makes names unique, the
 * counter tells apart several throttles of one test. */
static inline const char *test_name(char *buf, size_t size)
{
	static unsigned n;
	snprintf(buf, size, "test.%d.%u", (int)getpid(), n++);
	return buf;
}

/* Create a named throttle or fail the test; the name is unlinked first in case a
 * crashed earlier run left it. */
static inline evt_throttle *test_create(const char *name, const evt_options *o)
{
	evt_throttle *t = NULL;
	evt_unlink(name);
	int rc = evt_create(name, o, &t);
	cr_assert_eq(rc, 0, "evt_create(%s): %s", name, evt_strerror(rc));
	return t;
}

/* Names the running test created, unlinked by unlink_names() (a suite's .fini)
 * even after a failed assertion. */
#define TEST_MAX_NAMES 32
__attribute__((unused)) static char test_names[TEST_MAX_NAMES][EVT_NAME_MAX + 1];
__attribute__((unused)) static unsigned test_n_names;

static inline const char *new_name(void)
{
	cr_assert_lt(test_n_names, TEST_MAX_NAMES, "too many names in one test");
	return test_name(test_names[test_n_names++], sizeof test_names[0]);
}

/* Track a name built by the test itself. */
static inline const char *keep_name(const char *name)
{
	cr_assert_lt(test_n_names, TEST_MAX_NAMES, "too many names in one test");
	cr_assert_leq(strlen(name), EVT_NAME_MAX);
	strcpy(test_names[test_n_names], name);
	return test_names[test_n_names++];
}

static inline void unlink_names(void)
{
	for (unsigned i = 0; i < test_n_names; i++)
		evt_unlink(test_names[i]);
	test_n_names = 0;
}

static inline int decide(evt_throttle *t, uint64_t ts, const char *key)
{
	return evt_should_process(t, ts, NULL, key, strlen(key));
}

/* A test's process that calls exit() with a status other than 0 (the test's code,
 * or any library it runs) fails in Criterion's report with no message at all:
 * "not ok" and nothing more.  watch_exit_status() in a suite's .init makes it
 * fail saying the status and where the exit() came from (in the test's process
 * only: a forked child's message would not be the test's). */
static inline void say_exit_status(int status, void *test_pid)
{
	if (status == 0 || getpid() != (pid_t)(intptr_t)test_pid)
		return;
	void *frames[16];
	int n = backtrace(frames, 16);
	char **names = backtrace_symbols(frames, n);
	char where[1536] = "";
	for (int i = 1, used = 0; names != NULL && i < n && used < (int)sizeof where - 1; i++)
		used += snprintf(where + used, sizeof where - (size_t)used, "\n  %s", names[i]);
	free(names);
	cr_expect_fail("the test's process exits with status %d, called from:%s", status, where);
}

static inline void watch_exit_status(void)
{
	on_exit(say_exit_status, (void *)(intptr_t)getpid());
}

#endif
