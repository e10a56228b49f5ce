/* The keys the region seeds hold and the region target decides on: the same
 * names, so the target's lookups hit keys that are really in its seeds. */
#ifndef EVT_FUZZ_KEYS_H
#define EVT_FUZZ_KEYS_H

#include <stdio.h>

#define FUZZ_KEYS 40u /* "k0" .. "k39": 3 bytes at most, fits every key_max >= 3 */

/* Key number i into buf; returns its length. */
static inline unsigned fuzz_key(unsigned i, char buf[16])
{
	return (unsigned)snprintf(buf, 16, "k%u", i);
}

#endif
