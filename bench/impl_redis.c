/*
 * Baseline (c), built only with hiredis: Redis as the shared throttle, the way a
 * service would do it.  One command per event,
 *
 *     SET <prefix><key> 1 NX PX <window ms>
 *
 * answered OK (no live key: processed, and the key now lives for one window) or nil
 * (a key within its window: throttled).  Every worker process opens its own
 * connection to a redis-server on a unix socket (--redis-socket); bench/run.sh starts
 * a private one in a temporary directory with no TCP port.
 *
 * Not the same semantics as evthrottle: Redis expires keys on its own clock, so the
 * event's timestamp takes no part (an out-of-order event is decided by arrival), and
 * the window is rounded up to whole milliseconds.  The cost per decision, one round
 * trip through the server, is what this baseline is for.
 *
 * redis-pipe is the same command pipelined, 64 events a call (one write, the
 * replies read in order; throughput only): context for evt-global-batch, not the
 * per-event baseline issue 20 compares with.
 */
#include "bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#define PREFIX_MAX 40

struct redis_state {
	const char *socket;
	char prefix[PREFIX_MAX]; /* "evtb:<pid>.<serial>:": one run's keys apart from
	                            any other's, so nothing needs flushing */
	size_t prefix_len;
	unsigned long long px;   /* the window in ms, at least 1 */
	redisContext *owner;     /* the parent's connection, for inspect() */
};

struct redis_handle {
	redisContext *ctx;
	const struct redis_state *s;
	char key[PREFIX_MAX + BENCH_KEY_MAX + 1];
};

static redisContext *connect_unix(const char *path)
{
	redisContext *ctx = redisConnectUnix(path);
	if (ctx == NULL || ctx->err) {
		fprintf(stderr, "redis: cannot connect to %s: %s\n", path,
		        ctx != NULL ? ctx->errstr : "out of memory");
		if (ctx != NULL)
			redisFree(ctx);
		return NULL;
	}
	return ctx;
}

static void *redis_create(const struct config *c)
{
	static unsigned serial;
	struct redis_state *s = calloc(1, sizeof *s);
	if (s == NULL)
		return NULL;
	s->socket = c->redis_socket;
	int n = snprintf(s->prefix, sizeof s->prefix, "evtb:%d.%u:", (int)getpid(), serial++);
	s->prefix_len = (size_t)n;
	s->px = (c->window_ns + 999999ull) / 1000000ull;
	if (s->px == 0)
		s->px = 1;
	s->owner = connect_unix(s->socket);
	if (s->owner == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void *redis_attach(void *state)
{
	const struct redis_state *s = state;
	struct redis_handle *h = calloc(1, sizeof *h);
	if (h == NULL)
		return NULL;
	h->s = s;
	h->ctx = connect_unix(s->socket);
	if (h->ctx == NULL) {
		free(h);
		return NULL;
	}
	memcpy(h->key, s->prefix, s->prefix_len);
	return h;
}

/* The answer a SET NX reply r (NULL: none came) gives, freeing it. */
static int set_answer(redisReply *r)
{
	if (r == NULL)
		return -EIO; /* the connection is gone: every later call fails too */
	int rc = r->type == REDIS_REPLY_STATUS ? 1 : r->type == REDIS_REPLY_NIL ? 0 : -EPROTO;
	freeReplyObject(r);
	return rc;
}

/* The key's name under the run's prefix, in h->key: its length. */
static size_t key_name(struct redis_handle *h, const char *key, size_t len)
{
	memcpy(h->key + h->s->prefix_len, key, len);
	return h->s->prefix_len + len;
}

static int redis_decide(void *handle, uint64_t ts, const char *key, size_t len)
{
	struct redis_handle *h = handle;
	(void)ts; /* Redis expires keys on its own clock */
	return set_answer(redisCommand(h->ctx, "SET %b 1 NX PX %llu", h->key, key_name(h, key, len),
	                               h->s->px));
}

/* n SETs appended to the context's buffer, written at the first read. */
static int redis_decide_pipe(void *handle, evt_event *ev, size_t n)
{
	struct redis_handle *h = handle;
	for (size_t i = 0; i < n; i++)
		if (redisAppendCommand(h->ctx, "SET %b 1 NX PX %llu", h->key,
		                       key_name(h, ev[i].key, ev[i].key_len), h->s->px) != REDIS_OK)
			return -ENOMEM;
	int processed = 0;
	for (size_t i = 0; i < n; i++) {
		void *r = NULL;
		ev[i].result = set_answer(redisGetReply(h->ctx, &r) == REDIS_OK ? r : NULL);
		processed += ev[i].result == 1;
	}
	return processed;
}

static void redis_detach(void *handle)
{
	struct redis_handle *h = handle;
	redisFree(h->ctx);
	free(h);
}

/* "used_memory:<n>" from INFO memory: the server's whole data set, ours included. */
static uint64_t used_memory(redisContext *ctx)
{
	uint64_t v = 0;
	redisReply *r = redisCommand(ctx, "INFO memory");
	if (r != NULL && r->type == REDIS_REPLY_STRING) {
		const char *p = strstr(r->str, "used_memory:");
		if (p != NULL)
			v = strtoull(p + strlen("used_memory:"), NULL, 10);
	}
	if (r != NULL)
		freeReplyObject(r);
	return v;
}

static void redis_inspect(void *state, struct footprint *f)
{
	struct redis_state *s = state;
	f->region_bytes = used_memory(s->owner);
	f->capacity = 0;
	f->live_keys = -1;
	redisReply *r = redisCommand(s->owner, "DBSIZE");
	if (r != NULL && r->type == REDIS_REPLY_INTEGER)
		f->live_keys = r->integer; /* keys whose window is open (the server is ours) */
	if (r != NULL)
		freeReplyObject(r);
	snprintf(f->note, sizeof f->note, "SET NX PX %llu over %s; region = server used_memory",
	         s->px, s->socket);
}

static void redis_destroy(void *state)
{
	struct redis_state *s = state;
	redisFree(s->owner);
	free(s);
}

const struct impl_ops impl_redis = {
	.name = "redis",
	.decides = true,
	.create = redis_create,
	.attach = redis_attach,
	.decide = redis_decide,
	.detach = redis_detach,
	.inspect = redis_inspect,
	.destroy = redis_destroy,
};

const struct impl_ops impl_redis_pipe = {
	.name = "redis-pipe",
	.decides = true,
	.create = redis_create,
	.attach = redis_attach,
	.decide = redis_decide,
	.decide_batch = redis_decide_pipe,
	.detach = redis_detach,
	.inspect = redis_inspect,
	.destroy = redis_destroy,
};
