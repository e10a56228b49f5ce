/* Invariants of a mapped region, for evthrottle-inspect check, the tests and fuzzing. */
#ifndef EVT_CHECK_H
#define EVT_CHECK_H

#include "region.h"

/* What a violation is about. */
enum check_kind {
	CHECK_HEADER,    /* the header is invalid or changed since it was mapped */
	CHECK_HOP,       /* a hop bit names a slot that does not hold a key of that home */
	CHECK_KEY,       /* a published key is malformed, unreachable or there twice */
	CHECK_KEY_COUNT, /* published keys (a) differ from the counters' count (b) */
	CHECK_CLAIM,     /* a claimed or moving slot nothing will ever finish or free */
	CHECK_CLIENT,    /* a client entry is inconsistent */
};

/* One violation, as values: its kind, the slot (or home, or client) it is about
 * (UINT32_MAX: none), two numbers whose meaning the kind gives, and a line for
 * people (no newline). */
struct check_violation {
	enum check_kind kind;
	uint32_t at;
	int64_t a, b;
	char text[256];
};

/* Called once per violation. */
typedef void check_report_fn(void *ctx, const struct check_violation *v);

/*
 * Verify r's header, table and client registry; report each violation (as values:
 * struct check_violation) and return
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
