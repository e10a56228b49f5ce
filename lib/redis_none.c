/* A build without hiredis (-Dglobal=disabled): a global throttle's regions are
 * still read and written, and every decision that would ask Redis is answered by
 * its on_unreachable policy and counted as an error. */
#include "redis.h"

#include <errno.h>
#include <stdio.h>

int redis_connect(const struct region_global *b, uint64_t deadline, struct redis_conn **out,
                  struct redis_error *e)
{
	(void)b;
	(void)deadline;
	(void)out;
	snprintf(e->text, sizeof e->text, "built without hiredis (-Dglobal=disabled)");
	return -ENOTSUP;
}

int redis_decide(struct redis_conn *c, uint64_t deadline, struct redis_ask *a, size_t n,
                 struct redis_error *e)
{
	(void)c, (void)deadline, (void)a, (void)n;
	snprintf(e->text, sizeof e->text, "built without hiredis (-Dglobal=disabled)");
	return -ENOTSUP;
}

int redis_integers(struct redis_conn *c, uint64_t deadline, int argc, const char **argv,
                   const size_t *len, uint64_t *out, size_t n, struct redis_error *e)
{
	(void)c, (void)deadline, (void)argc, (void)argv, (void)len, (void)out, (void)n;
	snprintf(e->text, sizeof e->text, "built without hiredis (-Dglobal=disabled)");
	return -ENOTSUP;
}

int redis_psubscribe(struct redis_conn *c, uint64_t deadline, const char *pattern,
                     struct redis_error *e)
{
	(void)c, (void)deadline, (void)pattern;
	snprintf(e->text, sizeof e->text, "built without hiredis (-Dglobal=disabled)");
	return -ENOTSUP;
}

int redis_fd(const struct redis_conn *c)
{
	(void)c;
	return -1;
}

int redis_messages(struct redis_conn *c, bool read, redis_message_fn *fn, void *arg,
                   struct redis_error *e)
{
	(void)c, (void)read, (void)fn, (void)arg;
	snprintf(e->text, sizeof e->text, "built without hiredis (-Dglobal=disabled)");
	return -ENOTSUP;
}

int redis_relax(struct redis_conn *c)
{
	(void)c;
	return 0;
}

void redis_close(struct redis_conn *c)
{
	(void)c;
}

void redis_abandon(struct redis_conn *c)
{
	(void)c;
}
