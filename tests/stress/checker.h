/* The history checker of evt-stress (SPEC §5.2 with window changes, clears,
 * reclaim and killed clients).  checker.c explains what it demands and why. */
#ifndef EVT_STRESS_CHECKER_H
#define EVT_STRESS_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum h_ans { H_THROTTLED = 0, H_PROCESSED = 1, H_PENDING = 2, H_OTHER = 3 };

/* One decision: ts passed in; [s, e] the real-time interval of the call (for an
 * unfinished call, e is when its process was seen dead, or UINT64_MAX).  The
 * events of one batch call share src and s and are told apart by pos, their
 * array index (0 for a single call); a source's calls never share s. */
struct hrec {
	uint64_t ts, s, e;
	unsigned key : 24;
	unsigned ans : 3;
	unsigned pos : 5;
	uint32_t src;
};
_Static_assert(sizeof(struct hrec) == 32, "hrec");

/* A window change (evt_update_window, or a daemon start applying its config). */
struct wchange {
	uint64_t s, e, value;
};

/* evt_clear_key(key) or, all set, evt_clear(). */
struct hclear {
	uint64_t s, e;
	uint32_t key;
	bool all;
};

struct check_stats {
	uint64_t decisions, processed, throttled, pending, other, keys;
	uint64_t pairs;        /* processed pairs examined */
	uint64_t via_clear;    /* pairs legal only because a clear may lie between */
	uint64_t by_pending;   /* throttles justified only by an unfinished call */
	uint64_t windows;      /* limit > 1: windows the processed calls opened */
	uint64_t violations;
};

#define CHECK_REPORTS 8

struct wvalue; /* per window value: when it may be in force */
struct crun;   /* clears, sorted, with prefix max / suffix min of their ends */

struct checker {
	uint64_t wmin_all, wmax_all;
	uint32_t limit; /* the throttle's; 1 unless set after checker_init() (rules (c)) */
	unsigned nvals;
	struct wvalue *vals;
	struct crun *all;        /* evt_clear() */
	struct crun *keyed;      /* evt_clear_key(), sorted by key then start */
	struct check_stats st;
	char report[CHECK_REPORTS][320];
	unsigned nreport;
};

/* 0, or -1 (no window change at all, or out of memory).  Limit 1. */
int checker_init(struct checker *c, const struct wchange *w, size_t nw, const struct hclear *cl,
                 size_t ncl);
void checker_free(struct checker *c);

/* Check n decisions (every decision of each key they hold must be among them);
 * sorts h.  Adds to c->st and c->report. */
void checker_run(struct checker *c, struct hrec *h, size_t n);

#endif
