/* Invariants of a mapped region, for evthrottle-inspect check, the tests and fuzzing. */
#ifndef EVT_CHECK_H
#define EVT_CHECK_H

#include "region.h"

/* Called once per violation with a one-line description (no newline). */
typedef void check_report_fn(void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Verify r's header, table and client registry; report each violation and return
 * how many there were (0: consistent).  Read-only: it never writes the region, so a
 * read-only mapping will do.  Safe on a corrupt region: every index read from it is
 * masked or bounded, every loop is bounded.
 *
 * Structural checks (hop bits, homes, hashes, duplicates, client states) hold at
 * every moment; a home that keeps changing while it is read is retried a few times
 * and then skipped, never reported.  The key count (published keys equal to the
 * counters' new_keys - reclaimed - cleared) and the leaked-claim check only hold
 * while no client is writing: they are retried a few times and reported only if
 * they still disagree.  The count includes the reaper's correction (keycount.h):
 * a client killed between a change and its count leaves it off until the client
 * is reaped and a quiet recount made; the report says how many reaps are owed one.
 */
int table_check(const struct region *r, check_report_fn *report, void *ctx);

#endif /* EVT_CHECK_H */
