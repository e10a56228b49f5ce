/* The region's key count: the clients' counters, corrected after kills. */
#ifndef EVT_KEYCOUNT_H
#define EVT_KEYCOUNT_H

#include "region.h"

/* The keys in the table by the counters c (clients_totals()): new_keys - reclaimed
 * - cleared, plus the header's correction.  Exact while nobody writes, once every
 * dead client has been reaped and keycount_settle() succeeded since. */
int64_t keycount_of(const struct region *r, const uint64_t c[CTR_COUNT]);

/* Say that the counters may have lost a change: a client died between a change
 * to the table and its count (called by the reaper). */
void keycount_owe(const struct region *r);

/* If a recount is owed, count the published keys (two passes over the hop words,
 * the counters read around each) and, if nothing changed meanwhile, store the
 * correction that makes the count exact.  True if no recount is owed now.  The
 * region must be writable. */
bool keycount_settle(const struct region *r);

/* The published keys: the bits of every hop word.  Exact only while nobody writes. */
uint64_t keycount_published(const struct region *r);

#endif /* EVT_KEYCOUNT_H */
