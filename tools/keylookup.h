/* evthrottle-inspect key: exact lookup of keys, and when their window reopens. */
#ifndef EVT_KEYLOOKUP_H
#define EVT_KEYLOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evthrottle.h"

/* Look up each of the n keys (as typed: \xNN escapes, already checked by
 * key_unescape()) exactly, at reference time now; text lines, or one JSON object
 * a line.  0 or -ENOMEM. */
int keys_lookup(FILE *f, const evt_throttle *t, const char *name, char *const *keys, size_t n,
                uint64_t now, bool json);

#endif /* EVT_KEYLOOKUP_H */
