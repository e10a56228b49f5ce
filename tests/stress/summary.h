/* The run's outcome and its summary. */
#ifndef EVT_STRESS_SUMMARY_H
#define EVT_STRESS_SUMMARY_H

#include <stdio.h>

#include "chaos.h"
#include "verify.h"

struct outcome {
	struct totals tot;
	evt_stats stats;
	struct checker chk;
	struct region_verdict region;
	int daemon_stop_rc;
	double wall_s;
	bool failed;
	char why[512];
};

/* The summary, each line prefixed with p ("# " under TAP). */
void print_summary(FILE *f, const char *p, const struct opts *o, const struct chaos *ch,
                   const struct outcome *out);

#endif
