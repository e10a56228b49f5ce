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

static inline void killed_report(void *ctx, const struct check_violation *v)
{
	struct killed_check *k = ctx;
	fprintf(stderr, "%s\n", v->text);
	if (v->kind == CHECK_KEY_COUNT)
		k->drift = (long long)(v->a - v->b); /* published - counted */
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
