/* evthrottle-inspect keys: the tracked keys, filtered and sorted by age. */
#ifndef EVT_KEYLIST_H
#define EVT_KEYLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evthrottle.h"
#include "json.h"
#include "region.h"

struct key_query {
	unsigned char prefix[REGION_KEY_MAX];
	size_t prefix_len;
	bool exact;     /* the key equals prefix (evthrottle-inspect key) */
	uint64_t limit; /* 0: every key */
	bool oldest;    /* oldest first instead of newest first */
	uint64_t now;   /* reference time the ages are measured from */
};

struct key_row {
	uint64_t last;
	uint32_t slot, home, len;
	uint32_t processed; /* in the window that opened at last */
	size_t off; /* of the key's bytes in key_list.bytes */
};

struct key_list {
	struct key_row *rows;
	size_t n, cap;
	unsigned char *bytes;
	size_t used, size;
	uint64_t window_ns;
	uint32_t limit;
	uint64_t scanned; /* published keys seen, before the prefix filter */
};

/* Copy every published key matching q (consistent copies through table_read_slot)
 * and sort them.  0 or -ENOMEM.  Free with keys_free() either way. */
int keys_collect(const evt_throttle *t, const struct key_query *q, struct key_list *l);
void keys_free(struct key_list *l);

/* now - last, clamped to int64; negative when the key is ahead of now. */
int64_t key_age(uint64_t last, uint64_t now);
/* The key's window is still open at now (as a decision at now would see it). */
bool key_window_open(uint64_t last, uint64_t now, uint64_t window);
/* key_age() for people ("7s", "-9s"), in buf; returns the string. */
char *key_age_human(uint64_t last, uint64_t now, char *buf, size_t size);

void keys_text(FILE *f, const char *name, const struct key_list *l, const struct key_query *q);
/* The key as JSON members: "key" the text when it is valid UTF-8; otherwise
 * "key": null and "key_hex" its bytes in lowercase hex. */
void keys_json_key(struct json *j, const unsigned char *key, size_t len);
void keys_json(FILE *f, const struct key_list *l, const struct key_query *q);

#endif /* EVT_KEYLIST_H */
