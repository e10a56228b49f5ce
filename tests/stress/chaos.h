/* The parent's side of the run: client processes, kills, daemon restarts. */
#ifndef EVT_STRESS_CHAOS_H
#define EVT_STRESS_CHAOS_H

#include "history.h"
#include "stress.h"

struct proc {
	pid_t pid;
	uint32_t first_src, incarnation;
};

struct chaos {
	struct shared *sh;
	const struct opts *o;
	struct daemon *d;
	struct proc *procs; /* [o->procs] */
	uint64_t rng;
	unsigned kills_done, restarts_done;
	unsigned aimed_done;  /* kills that came from the target's own timer */
	bool reaped;          /* aim() saw the target die */
	int dead_status;
	struct downtimes down;
	uint64_t stop_ns;   /* from the stop to the last client's exit */
	bool failed;
	char err[256];
};

int chaos_spawn(struct chaos *ch, unsigned slot);
/* Kill and restart until end (CLOCK_MONOTONIC ns); t0 is the run's start. */
int chaos_run(struct chaos *ch, uint64_t t0, uint64_t end);
int chaos_stop(struct chaos *ch);
void chaos_abort(struct chaos *ch);

#endif
