/* The record of runtime changes a region keeps for the daemon's log: who set the
 * window or cleared keys.  Writers are any read-write handle (the library's
 * evt_update_window(), evt_clear(), evt_clear_key()); the reader is the daemon's
 * housekeeping, which logs each change it sees. */
#ifndef EVT_AUDIT_H
#define EVT_AUDIT_H

#include <stdint.h>

#include "region.h"

enum audit_kind {
	AUDIT_WINDOW = 1,
	AUDIT_CLEAR = 2,
	AUDIT_CLEAR_KEY = 3,
	AUDIT_LIMIT = 4,
	AUDIT_SHADOW = 5,
};

struct audit_change {
	uint64_t seq;   /* changes ever recorded in the region */
	uint32_t uid, pid;
	enum audit_kind kind;
	uint64_t value; /* the window or limit set, shadow 1 or 0, or keys cleared */
};

/* Record a change made by this process (its real uid and pid). */
void audit_note(struct region *r, enum audit_kind kind, uint64_t value);

/* The last change recorded.  Two changes made at once may mix the who of one
 * with the value of the other; seq counts them all. */
void audit_last(const struct region *r, struct audit_change *out);

#endif
