/* A build without hiredis (-Dglobal=disabled): a global throttle's regions are
 * still read and written, and every decision that would ask Redis is answered by
 * its on_unreachable policy and counted as an error. */
#include "redis.h"

#include <errno.h>
#include <stdio.h>

int redis_connect(const struct region_global *b, struct redis_conn **out,
                  struct redis_error *e)
{
	(void)b;
	(void)out;
	snprintf(e->text, sizeof e->text, "built without hiredis (-Dglobal=disabled)");
	return -ENOTSUP;
}

int redis_decide(struct redis_conn *c, const char *key, size_t len, uint64_t ts,
                 uint64_t window, uint64_t ttl_ms, uint64_t *last, struct redis_error *e)
{
	(void)c, (void)key, (void)len, (void)ts, (void)window, (void)ttl_ms, (void)last;
	snprintf(e->text, sizeof e->text, "built without hiredis (-Dglobal=disabled)");
	return -ENOTSUP;
}

void redis_close(struct redis_conn *c)
{
	(void)c;
}
