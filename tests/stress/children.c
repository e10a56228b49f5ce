/* Waiting for children with a deadline: SIGCHLD is blocked in the parent and taken
 * with sigtimedwait(), so a wait is woken by the exit itself, never by polling. */
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "stress.h"

static sigset_t chld, saved;

void children_init(void)
{
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &saved);
}

/* In a fresh child: the mask it was born with, as if never blocked. */
void child_after_fork(void)
{
	sigprocmask(SIG_SETMASK, &saved, NULL);
}

/* 0 with *status once pid exited, -ETIMEDOUT at the deadline, or -errno. */
int wait_child(pid_t pid, uint64_t deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
		uint64_t now = mono_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t left = deadline - now;
		struct timespec ts = { (time_t)(left / 1000000000ull), (long)(left % 1000000000ull) };
		/* Any child's exit wakes us; the loop looks at ours again. */
		sigtimedwait(&chld, NULL, &ts);
	}
}
