#include "watch.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

void watch_begin(struct watch *w, uint64_t interval_ns)
{
	w->interval_ns = interval_ns;
	sigemptyset(&w->stop);
	sigaddset(&w->stop, SIGINT);
	sigaddset(&w->stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &w->stop, &w->saved);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool watch_wait(struct watch *w)
{
	uint64_t end = mono_ns() + w->interval_ns;
	for (;;) {
		uint64_t now = mono_ns();
		if (now >= end)
			return true;
		uint64_t left = end - now;
		struct timespec ts = { (time_t)(left / 1000000000u), (long)(left % 1000000000u) };
		/* A blocked SIGINT/SIGTERM is taken here and ends the watch; any other
		 * interruption just waits out the rest of the interval. */
		if (sigtimedwait(&w->stop, NULL, &ts) >= 0)
			return false;
		if (errno != EAGAIN && errno != EINTR)
			return true;
	}
}

void watch_end(struct watch *w)
{
	sigprocmask(SIG_SETMASK, &w->saved, NULL);
}

void watch_clear(FILE *f)
{
	if (isatty(fileno(f)))
		fputs("\033[H\033[2J", f);
}
