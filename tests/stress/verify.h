/* The post-run checks of the region. */
#ifndef EVT_STRESS_VERIFY_H
#define EVT_STRESS_VERIFY_H

#include "history.h"

/* What the region checks found. */
struct region_verdict {
	int inspect_rc;      /* exit status; -1 could not run; -2 no tool given */
	unsigned inspect_other, table_other; /* violations other than the key count */
	bool inspect_count, table_count;     /* the key-count violation */
	int64_t drift;       /* published keys - (new - reclaimed - cleared) */
};

/* evthrottle-inspect -n NAME check (its output through the file out). */
void verify_inspect(const char *bin, const char *name, const char *out, struct region_verdict *v);
/* table_check() in process, and the key-count drift; nobody may be writing. */
void verify_table(const evt_throttle *t, const evt_stats *s, struct region_verdict *v);
/* Everything consistent, but for a key-count drift of at most `explained` (the
 * calls and daemon sweeps SIGKILL cut short).  False with why otherwise. */
bool verify_region_ok(const struct region_verdict *v, uint64_t explained, char *why, size_t n);
int verify_counts(const evt_stats *s, const struct totals *t, char *why, size_t n);

#endif
