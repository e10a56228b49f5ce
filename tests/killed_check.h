/* table_check() of a region whose clients were killed: a client killed between
 * changing the table and counting the change (a publish and its new_keys, a removal
 * and its reclaimed or cleared) leaves the key count one off until it is reaped and
 * recounted (check.h), so that one violation is kept apart from the others, as the
 * drift published - counted. */
#ifndef EVT_TEST_KILLED_CHECK_H
#define EVT_TEST_KILLED_CHECK_H

#include <stdarg.h>
#include <stdio.h>

#include "check.h"

struct killed_check {
	unsigned other;  /* violations other than the key count */
	long long drift; /* published keys - counted keys */
};

static inline void killed_report(void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void killed_report(void *ctx, const char *fmt, ...)
{
	struct killed_check *k = ctx;
	char msg[512];
	unsigned long long keys;
	long long counted;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", msg);
	if (sscanf(msg, "table: %llu published keys, but the counters say %lld", &keys,
	           &counted) == 2)
		k->drift = (long long)keys - counted;
	else
		k->other++;
}

/* table_check(r) with the key count's drift apart from the other violations. */
static inline struct killed_check killed_table_check(const struct region *r)
{
	struct killed_check k = { 0, 0 };
	table_check(r, killed_report, &k);
	return k;
}

#endif /* EVT_TEST_KILLED_CHECK_H */
