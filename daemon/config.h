/* evthrottled's configuration file (libconfig): what it means and how it is read. */
#ifndef EVTD_CONFIG_H
#define EVTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evthrottle.h"
#include "log.h"

#define CONFIG_THROTTLES_MAX 64

struct throttle_config {
	char name[EVT_NAME_MAX + 1];
	evt_options opts;
	char group[64]; /* "" = leave the group as created */
	int line;       /* where it was defined, for messages */
};

struct daemon_config {
	char path[4096];
	struct log_config log;
	char pidfile[4096];        /* used when detaching; "" = none */
	char run_dir[4096];        /* the throttles' locks (runlock.h); absolute */
	char user[64], group[64];  /* who to become when started as root (privileges.h) */
	uint64_t housekeeping_ns;  /* reap, horizon, sweep, heartbeat period */
	uint64_t summary_ns;       /* info summary period; 0 = never */
	unsigned sweep_occupancy;  /* sweep expired keys above this % of capacity */
	unsigned warn_occupancy;   /* warn when occupancy crosses this % */
	size_t n;
	struct throttle_config throttles[CONFIG_THROTTLES_MAX];
};

/* Read and check FILE into *out.  On error returns -1 with "FILE:LINE: what" in
 * err (FILE alone when the file cannot be read). */
int config_load(const char *path, struct daemon_config *out, char *err, size_t errlen);

/* Print what the configuration would create, one line per throttle. */
void config_describe(const struct daemon_config *c, FILE *out);

const struct throttle_config *config_find(const struct daemon_config *c, const char *name);

#endif
