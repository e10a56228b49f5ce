/* Durations as operators write them: "250ms", "10s", "1m30s". */
#ifndef EVT_DURATION_H
#define EVT_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parse one or more <digits><unit> parts (units ns us ms s m h) into ns.
 * 0 on success; -EINVAL for anything else (empty, no unit, unknown unit, sign,
 * spaces), -ERANGE if it does not fit 64 bits.  Zero is accepted here; callers
 * that need a positive window check it. */
int duration_parse(const char *s, uint64_t *ns);

/* Format ns the way duration_parse() reads it, in the largest exact units
 * ("10s", "1m30s", "250ms", "0ns").  Returns buf. */
char *duration_format(uint64_t ns, char *buf, size_t size);

#endif
