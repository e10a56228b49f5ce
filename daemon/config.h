/* evthrottled's configuration file (libconfig): what it means and how it is read. */
#ifndef EVTD_CONFIG_H
#define EVTD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evthrottle.h"
#include "log.h"

/* The shortest housekeeping period accepted: below it the thread would spin. */
#define CONFIG_HOUSEKEEPING_MIN_NS 1000000ull

/* A throttle's global group: the strings opts.global points into. */
struct global_config {
	evt_global g;
	char redis[EVT_GLOBAL_ENDPOINT_MAX + 1];
	char name[EVT_NAME_MAX + 1];
	char auth_file[EVT_GLOBAL_PATH_MAX + 1]; /* absolute, or "" */
};

/* The longest timeout accepted: a decision may wait this long for Redis. */
#define CONFIG_GLOBAL_TIMEOUT_MAX_NS 10000000000ull

struct throttle_config {
	char name[EVT_NAME_MAX + 1];
	evt_options opts; /* opts.global: &global, or NULL for a host-local throttle */
	struct global_config global;
	char group[64]; /* "" = the daemon's own group */
	int line;       /* where it was defined, for messages */
};

struct daemon_config {
	char path[PATH_MAX];       /* absolute: reloads work after detaching */
	struct log_config log;     /* directory absolute */
	char pidfile[PATH_MAX];    /* used when detaching; "" = none; absolute */
	char run_dir[PATH_MAX];    /* the throttles' locks (runlock.h); absolute */
	char user[64], group[64];  /* who to become when started as root (privileges.h) */
	uint64_t housekeeping_ns;  /* reap, horizon, sweep, heartbeat period */
	uint64_t summary_ns;       /* info summary period; 0 = never */
	unsigned sweep_occupancy;  /* sweep expired keys above this % of capacity */
	unsigned warn_occupancy;   /* warn when occupancy crosses this % */
	size_t n;
	struct throttle_config *throttles; /* n of them, owned (config_free()) */
};

/*
 * Read and check FILE into *out, taking every value from libconfig's parsed
 * settings.  Relative paths in the file (pidfile, log directory) are resolved
 * against the directory of FILE.  msg receives one line per problem, each
 * "FILE:LINE: what" (FILE alone when the file cannot be read), every error of
 * the file, not only the first, and warnings as "FILE:LINE: warning: what".
 * Returns 0 (msg may hold warnings), -EINVAL (errors in the file), -ENOMEM, or
 * the negative errno of reading the file.  On error *out holds nothing to free.
 */
int config_load(const char *path, struct daemon_config *out, char *msg, size_t msglen);

/* Free what config_load() allocated in c (not c itself). */
void config_free(struct daemon_config *c);

/* Print what the configuration would create, one line per throttle. */
void config_describe(const struct daemon_config *c, FILE *out);

const struct throttle_config *config_find(const struct daemon_config *c, const char *name);

/* p made absolute against directory base (p itself when already absolute).
 * 0, or -ENAMETOOLONG. */
int config_resolve_path(const char *p, const char *base, char *out, size_t size);

#endif
