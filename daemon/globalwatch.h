/* evthrottled's watch over a global throttle's link to Redis: the outage and the
 * recovery are logged once each, from the status the clients leave in the region. */
#ifndef EVTD_GLOBALWATCH_H
#define EVTD_GLOBALWATCH_H

#include "regions.h"

/* One look (the housekeeping thread's, each round), with the region's totals. */
void global_watch(struct managed *m, const evt_stats *st);

#endif
