/* evthrottle-inspect keys: the tracked keys, filtered and sorted by age. */
#ifndef EVT_KEYLIST_H
#define EVT_KEYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evthrottle.h"
#include "region.h"

struct key_query {
	unsigned char prefix[REGION_KEY_MAX];
	size_t prefix_len;
	uint64_t limit; /* 0: every key */
	bool oldest;    /* oldest first instead of newest first */
	uint64_t now;   /* reference time the ages are measured from */
};

struct key_row {
	uint64_t last;
	uint32_t slot, home, len;
	size_t off; /* of the key's bytes in key_list.bytes */
};

struct key_list {
	struct key_row *rows;
	size_t n, cap;
	unsigned char *bytes;
	size_t used, size;
	uint64_t window_ns;
	uint64_t scanned; /* published keys seen, before the prefix filter */
};

/* Copy every published key matching q (consistent copies through table_read_slot)
 * and sort them.  0 or -ENOMEM.  Free with keys_free() either way. */
int keys_collect(const evt_throttle *t, const struct key_query *q, struct key_list *l);
void keys_free(struct key_list *l);

void keys_text(FILE *f, const char *name, const struct key_list *l, const struct key_query *q);
void keys_json(FILE *f, const struct key_list *l, const struct key_query *q);

#endif /* EVT_KEYLIST_H */
