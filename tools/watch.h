/* --watch: refresh a view every interval, like top, until SIGINT or SIGTERM. */
#ifndef EVT_WATCH_H
#define EVT_WATCH_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct watch {
	sigset_t stop, saved;
	uint64_t interval_ns;
};

/* Block SIGINT and SIGTERM: they are taken in watch_wait(), between refreshes. */
void watch_begin(struct watch *w, uint64_t interval_ns);

/* Wait one interval; false if SIGINT or SIGTERM arrived (stop cleanly). */
bool watch_wait(struct watch *w);

/* Restore the signal mask. */
void watch_end(struct watch *w);

/* Start a refresh: on a terminal, home the cursor and clear the screen. */
void watch_clear(FILE *f);

#endif /* EVT_WATCH_H */
