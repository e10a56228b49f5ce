/* Tests' stand-in for a creator stopped between making its hidden object and
 * renaming it into place (lib/hidden.h): a child makes it as evt_create() does,
 * holding the creator's lock, and waits to be killed. */
#ifndef EVT_TESTS_HIDDEN_CREATOR_H
#define EVT_TESTS_HIDDEN_CREATOR_H

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hidden.h"

/* The latest creator still running, killed by hidden_cleanup(). */
__attribute__((unused)) static pid_t hidden_holder;

/* A child holding a new hidden object of throttle n; the object's path in path. */
static inline pid_t hidden_creator(const char *n, char *path, size_t size)
{
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test's creator goes with it */
		char region[EVT_NAME_MAX + 32], tmp[EVT_NAME_MAX + 64] = "";
		snprintf(region, sizeof region, "/evthrottle.%s", n);
		if (hidden_create(region, tmp, sizeof tmp) < 0)
			_exit(1);
		if (write(p[1], tmp, sizeof tmp) != (ssize_t)sizeof tmp)
			_exit(1);
		pause();
		_exit(0);
	}
	hidden_holder = c;
	close(p[1]);
	char tmp[EVT_NAME_MAX + 64];
	cr_assert_eq(read(p[0], tmp, sizeof tmp), (ssize_t)sizeof tmp, "the creator failed");
	close(p[0]);
	snprintf(path, size, SHM_DIR "%s", tmp);
	return c;
}

/* The creator killed (its lock goes with it). */
static inline void hidden_creator_kill(pid_t c)
{
	kill(c, SIGKILL);
	waitpid(c, NULL, 0);
	if (c == hidden_holder)
		hidden_holder = 0;
}

static inline int hidden_unlink(const char *file, void *arg)
{
	(void)arg;
	char n[NAME_MAX + 2];
	snprintf(n, sizeof n, "/%s", file);
	shm_unlink(n);
	return 0;
}

/* For a teardown: the running creator killed, throttle n's hidden objects removed. */
static inline void hidden_cleanup(const char *n)
{
	if (hidden_holder > 0)
		hidden_creator_kill(hidden_holder);
	hidden_each(n, hidden_unlink, NULL);
}

#endif
