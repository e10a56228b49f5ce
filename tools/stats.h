/* The throttle's figures: evthrottlectl status and evthrottle-inspect stats. */
#ifndef EVT_TOOLS_STATS_H
#define EVT_TOOLS_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "evthrottle.h"
#include "global.h"

/* Distance of a key from its home slot: 0, 1, 2, 3, 4-7, 8-15, 16-31. */
#define PROBE_BUCKETS 7

struct snapshot {
	evt_stats st;
	uint64_t taken_ns;             /* evt_now_ns() when read, for rates */
	bool scanned;                  /* the table scan below was done */
	uint64_t published;            /* keys the scan found */
	uint64_t probe[PROBE_BUCKETS];
	uint64_t daemon_pid, heartbeat_ns;
	bool daemon_alive;
	bool daemon_slot;              /* the daemon holds one of the clients */
	int current;                   /* evt_is_current(): 1, 0, or -errno */
	struct global_status global;   /* a global throttle's side (global.enabled) */
};

/* Read the counters and the header; with scan, also walk every slot (consistent
 * copies through table_read_slot) for the probe-length histogram. */
void snapshot_take(const evt_throttle *t, bool scan, struct snapshot *s);

/* evthrottlectl status: window, keys, clients, totals, full, daemon. */
void stats_summary(FILE *f, const char *name, const struct snapshot *s);

/* evthrottle-inspect stats; prev NULL (one shot) prints the rates as n/a. */
void stats_text(FILE *f, const char *name, const struct snapshot *s,
                const struct snapshot *prev);
void stats_json(FILE *f, const char *name, const struct snapshot *s,
                const struct snapshot *prev);

/* One throttle's reading for a Prometheus exposition: up false when its region
 * could not be read (s then unused). */
struct reading {
	const char *name;
	bool up;
	struct snapshot s;
};

/* One exposition of the n throttles: each metric's # HELP and # TYPE once, a
 * sample per throttle with a throttle label, evthrottle_up for each, and
 * evthrottle_build_info. */
void stats_prometheus(FILE *f, const struct reading *r, size_t n);

#endif /* EVT_TOOLS_STATS_H */
