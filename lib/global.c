/* A global throttle's decision: the local table as a cache, Redis as the truth. */
#include "global.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "counter.h"
#include "endpoint.h"
#include "redis.h"
#include "resolve.h"
#include "slot.h"

#define relaxed memory_order_relaxed
#define acquire memory_order_acquire
#define release memory_order_release

int global_endpoint(const char *s, char *host, size_t size, int *port)
{
	if (strlen(s) >= size)
		return -ENAMETOOLONG;
	if (strncmp(s, "unix:", 5) == 0) {
		*port = 0;
		snprintf(host, size, "%s", s + 5);
		return host[0] != '\0' ? 0 : -EINVAL;
	}
	const char *colon = strrchr(s, ':');
	if (colon == NULL || colon == s)
		return -EINVAL;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || errno != 0 || p < 1 || p > 65535)
		return -EINVAL;
	snprintf(host, size, "%.*s", (int)(colon - s), s);
	*port = (int)p;
	return endpoint_host_valid(host) ? 0 : -EINVAL;
}

int global_host(const struct region_global *b, char *host, size_t size, uint16_t *port)
{
	/* Bounded: a corrupt region's endpoint may lack its NUL. */
	char endpoint[REGION_GLOBAL_ENDPOINT];
	struct endpoint_addr a;
	int p = 0;
	snprintf(endpoint, sizeof endpoint, "%.*s", (int)sizeof b->redis - 1, b->redis);
	if (b->enabled == 0 || global_endpoint(endpoint, host, size, &p) < 0 || p == 0)
		return 0;
	*port = (uint16_t)p;
	return endpoint_numeric(host, *port, &a) < 0;
}

void global_resolve_now(struct region_global *b)
{
	char host[REGION_GLOBAL_ENDPOINT];
	uint16_t port;
	struct endpoint_addr a;
	int code = 0;
	if (global_host(b, host, sizeof host, &port) != 1)
		return;
	if (resolve_within(host, port, GLOBAL_RESOLVE_WAIT_NS, &a, &code) == 0)
		endpoint_publish(b, &a);
	endpoint_note(b, code);
}

int global_check(const evt_global *g, const char *name)
{
	char host[REGION_GLOBAL_ENDPOINT];
	int port;
	const char *gname = g->name != NULL && g->name[0] != '\0' ? g->name : name;
	if (g->redis == NULL || g->timeout_ns == 0 || g->on_unreachable > EVT_ON_UNREACHABLE_PROCESS ||
	    gname == NULL || gname[0] == '\0')
		return -EINVAL;
	int rc = global_endpoint(g->redis, host, sizeof host, &port);
	if (rc < 0)
		return rc;
	if (strlen(gname) >= REGION_GLOBAL_NAME ||
	    (g->auth_file != NULL && strlen(g->auth_file) >= REGION_GLOBAL_PATH))
		return -ENAMETOOLONG;
	return 0;
}

void global_init(struct region_global *b, const evt_global *g, const char *name)
{
	b->enabled = 1;
	b->on_unreachable = g->on_unreachable;
	b->timeout_ns = g->timeout_ns;
	snprintf(b->redis, sizeof b->redis, "%s", g->redis);
	snprintf(b->name, sizeof b->name, "%s",
	         g->name != NULL && g->name[0] != '\0' ? g->name : name);
	snprintf(b->auth_file, sizeof b->auth_file, "%s", g->auth_file ? g->auth_file : "");
}

void global_copy_settings(struct region_global *to, const struct region_global *from)
{
	to->enabled = from->enabled;
	to->on_unreachable = from->on_unreachable;
	to->timeout_ns = from->timeout_ns;
	/* With their NULs ensured: a corrupt region's may lack them. */
	snprintf(to->redis, sizeof to->redis, "%.*s", (int)sizeof from->redis - 1, from->redis);
	snprintf(to->name, sizeof to->name, "%.*s", (int)sizeof from->name - 1, from->name);
	snprintf(to->auth_file, sizeof to->auth_file, "%.*s", (int)sizeof from->auth_file - 1,
	         from->auth_file);
	struct endpoint_addr a;
	if (endpoint_published(from, &a) == 0)
		endpoint_publish(to, &a);
}

bool global_matches(const struct region_global *b, const evt_global *g, const char *name)
{
	if (g == NULL)
		return b->enabled == 0;
	struct region_global want = { 0 };
	global_init(&want, g, name);
	return b->enabled == 1 && b->on_unreachable == want.on_unreachable &&
	       b->timeout_ns == want.timeout_ns &&
	       memcmp(b->redis, want.redis, sizeof want.redis) == 0 &&
	       memcmp(b->name, want.name, sizeof want.name) == 0 &&
	       memcmp(b->auth_file, want.auth_file, sizeof want.auth_file) == 0;
}

/* Where the endpoint's host leads: its numeric address, or the one resolved for
 * its name and how the resolutions went. */
static void address_status(const struct region_global *b, struct global_status *out)
{
	char host[REGION_GLOBAL_ENDPOINT];
	uint16_t port = 0;
	struct endpoint_addr a;
	int named = global_host(b, host, sizeof host, &port);
	out->named = named == 1;
	if (port == 0) /* a unix socket, or no endpoint */
		return;
	if ((named == 0 ? endpoint_numeric(host, port, &a) : endpoint_published(b, &a)) == 0)
		endpoint_format(&a, out->address, sizeof out->address);
	if (!out->named)
		return;
	/* Relaxed, word by word, as the rest of the status. */
	out->resolved_ns = atomic_load_explicit(&b->resolved_ns, relaxed);
	out->resolve_failed_ns = atomic_load_explicit(&b->resolve_failed_ns, relaxed);
	int code = (int)atomic_load_explicit(&b->resolve_error, relaxed);
	if (out->resolve_failed_ns != 0)
		snprintf(out->resolve_error, sizeof out->resolve_error, "%s", endpoint_strerror(code));
}

void global_status(const struct region *r, struct global_status *out)
{
	const struct region_global *b = r->global;
	memset(out, 0, sizeof *out);
	out->enabled = b->enabled != 0;
	out->on_unreachable = b->on_unreachable;
	out->timeout_ns = b->timeout_ns;
	snprintf(out->redis, sizeof out->redis, "%.*s", (int)sizeof b->redis - 1, b->redis);
	snprintf(out->name, sizeof out->name, "%.*s", (int)sizeof b->name - 1, b->name);
	/* Relaxed, word by word: a status, which a writer may be changing. */
	out->epoch = atomic_load_explicit(&b->epoch, relaxed);
	out->ok_since_ns = atomic_load_explicit(&b->ok_since_ns, relaxed);
	out->last_error_ns = atomic_load_explicit(&b->last_error_ns, relaxed);
	out->down = out->last_error_ns != 0 && out->last_error_ns >= out->ok_since_ns;
	out->redis_window_ns = atomic_load_explicit(&b->redis_window_ns, relaxed);
	out->synced_ns = atomic_load_explicit(&b->synced_ns, relaxed);
	uint64_t w[REGION_GLOBAL_ERROR / 8];
	for (size_t i = 0; i < sizeof w / 8; i++)
		w[i] = atomic_load_explicit(&b->last_error[i], relaxed);
	memcpy(out->last_error, w, sizeof w);
	out->last_error[sizeof out->last_error - 1] = '\0';
	address_status(b, out);
}

const char *global_policy_name(uint32_t p)
{
	static const char *const names[] = { "local", "throttle", "process" };
	return p < 3 ? names[p] : "?";
}

int global_open(struct global_handle **out)
{
	struct global_handle *g = calloc(1, sizeof *g);
	if (g == NULL)
		return -ENOMEM;
	pthread_mutex_init(&g->lock, NULL);
	counter_init(); /* an admin handle registers no client, which would call it */
	uint64_t me = counter_epoch();
	atomic_init(&g->forks, me);
	atomic_init(&g->adopter, me);
	*out = g;
	return 0;
}

/* A handle inherited through fork(): the lock may have been held by a parent's
 * thread the child lacks, and the socket is the parent's.  The first use in the
 * child makes the lock anew and drops the socket unused.  The child may have
 * started threads before that use: the one that moves adopter to this process
 * adopts, the others wait until it has (two adopting made the lock anew under
 * each other, and one closed the socket the other had just connected).  The
 * process is told by counter_epoch() (its pid, read once per process, and its
 * fork generation), not by getpid(): a syscall on every round trip (issue 20). */
static void adopt(struct global_handle *g)
{
	uint64_t me = counter_epoch();
	/* Acquire pairs with the release store below: the lock and conn made anew. */
	if (atomic_load_explicit(&g->forks, acquire) == me)
		return;
	/* Relaxed: only says which thread adopts; what it writes is published by
	 * the release store of forks. */
	uint64_t was = atomic_load_explicit(&g->adopter, relaxed);
	if (was != me && atomic_compare_exchange_strong_explicit(&g->adopter, &was, me, relaxed,
	                                                         relaxed)) {
		pthread_mutex_init(&g->lock, NULL);
		redis_abandon(g->conn);
		g->conn = NULL;
		atomic_store_explicit(&g->forks, me, release);
		return;
	}
	while (atomic_load_explicit(&g->forks, acquire) != me) /* pairs as above */
		sched_yield();
}

void global_free(struct global_handle *g)
{
	if (g == NULL)
		return;
	adopt(g);
	redis_close(g->conn);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

/* Record the global last Redis answered in the local table, so that the rest of
 * its window is decided here: a decision at that timestamp under a scratch
 * counter line (it is no answer), whose table effects (a new key, a reclaim) are
 * then counted on the client's own line for the key count. */
static void cache(const struct region *r, const struct table_client *me, uint64_t last,
                  const void *key, uint32_t len)
{
	struct region_client scratch = { .wm = REGION_WM_NONE };
	struct table_client as = { .entry = &scratch, .index = me->index, .forks = me->forks,
		                   .epoch = me->epoch };
	/* Redis's last is exact: an insert the table cannot make exact (reclaim
	 * forgot a key of its home too recently) is not made, whatever on_stale
	 * says.  Under "process" it would keep the key from the reclaim bound,
	 * later than Redis's last: a local throttle no event justified. */
	struct region exact = *r;
	exact.on_stale = EVT_ON_STALE_THROTTLE;
	unsigned info = 0;
	(void)table_decide_ex(&exact, &as, last, key, len, &info);
	static const int kept[] = { CTR_NEW_KEYS, CTR_RECLAIMED };
	for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
		for (uint64_t n = client_ctr(&scratch, kept[i]); n > 0; n--)
			ctr_add(me, kept[i]);
}

/* The throttle's settings in Redis: a hash with fields window and epoch, beside
 * its keys (same hash slot). */
static size_t cfg_name(const struct region_global *b, char *buf, size_t size)
{
	/* Bounded: a corrupt region's name may lack its NUL. */
	int n = snprintf(buf, size, GLOBAL_KEY_PREFIX "{%.*s}:cfg", (int)sizeof b->name - 1, b->name);
	return (size_t)n < size ? (size_t)n : size - 1;
}

size_t global_cfg_name(const struct region_global *b, char *buf, size_t size)
{
	return cfg_name(b, buf, size);
}

/* The breaker's and the status words are hints between the host's clients and
 * for the tools: relaxed, they order nothing else. */

/* May this decision ask Redis?  Yes while the breaker is closed; once its time
 * is up, only the one decider that moves it on probes, the others keep the
 * policy's answers until that probe closes it. */
static bool breaker_allows(struct region_global *b)
{
	uint64_t at = atomic_load_explicit(&b->retry_at_ns, relaxed);
	if (at == 0)
		return true;
	uint64_t now = evt_now_ns();
	return now >= at && atomic_compare_exchange_strong_explicit(
		                    &b->retry_at_ns, &at, now + GLOBAL_BREAKER_NS, relaxed, relaxed);
}

static void note_error(struct region_global *b, const struct redis_error *e)
{
	atomic_store_explicit(&b->retry_at_ns, evt_now_ns() + GLOBAL_BREAKER_NS, relaxed);
	uint64_t w[REGION_GLOBAL_ERROR / 8] = { 0 };
	memcpy(w, e->text, sizeof w - 1);
	for (size_t i = 0; i < sizeof w / 8; i++)
		atomic_store_explicit(&b->last_error[i], w[i], relaxed);
	atomic_store_explicit(&b->last_error_ns, evt_realtime_ns(), relaxed);
}

/* Written only when it changes: the first answer after a failure, or ever. */
static void note_ok(struct region_global *b)
{
	if (atomic_load_explicit(&b->retry_at_ns, relaxed) != 0)
		atomic_store_explicit(&b->retry_at_ns, 0, relaxed);
	uint64_t ok = atomic_load_explicit(&b->ok_since_ns, relaxed);
	if (ok == 0 || ok <= atomic_load_explicit(&b->last_error_ns, relaxed))
		atomic_store_explicit(&b->ok_since_ns, evt_realtime_ns(), relaxed);
}

/* Take the handle's connection by deadline (threads of one handle take turns;
 * none waits past its own deadline), connecting if needed: 0 with g->lock held,
 * or a negative errno without it (-EBUSY: another thread of this process held
 * the connection until the deadline, which says nothing of Redis). */
static int take(const struct region *r, struct global_handle *g, uint64_t deadline,
                struct redis_error *e)
{
	/* pthread_mutex_timedlock() takes CLOCK_REALTIME (ThreadSanitizer does not know
	 * pthread_mutex_clocklock()): the time left, from now on that clock. */
	adopt(g);
	uint64_t now = evt_now_ns(), at = evt_realtime_ns() + (deadline > now ? deadline - now : 0);
	struct timespec until = { (time_t)(at / 1000000000u), (long)(at % 1000000000u) };
	if (pthread_mutex_timedlock(&g->lock, &until) != 0) {
		snprintf(e->text, sizeof e->text, "timed out waiting for the handle's connection");
		return -EBUSY;
	}
	/* A connection older than a failure the host saw may be to a server that has
	 * gone since: connect anew rather than fail once more after the recovery.
	 * So is one to an address the host's name no longer resolves to (relaxed:
	 * the sequence only says whether to connect again; the connect reads the
	 * address itself whole). */
	uint64_t seq = atomic_load_explicit(&r->global->addr_seq, relaxed);
	if (g->conn != NULL &&
	    (atomic_load_explicit(&r->global->last_error_ns, relaxed) >= g->ok_ns ||
	     seq != g->addr_seq)) {
		redis_close(g->conn);
		g->conn = NULL;
	}
	int rc = 0;
	if (g->conn == NULL) {
		rc = redis_connect(r->global, deadline, &g->conn, e);
		g->addr_seq = seq;
	}
	if (rc < 0)
		pthread_mutex_unlock(&g->lock);
	return rc;
}

/* Give the connection back after a call that returned rc: a failed one is closed. */
static int give(struct global_handle *g, int rc)
{
	if (rc < 0 || redis_relax(g->conn) < 0) {
		redis_close(g->conn);
		g->conn = NULL;
	} else
		g->ok_ns = evt_realtime_ns();
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* The status and the counters after a call to Redis: an error opens the breaker.
 * A wait for the handle's lock that timed out (-EBUSY) is no error of Redis. */
static int account(const struct region *r, const struct table_client *me, int rc,
                   const struct redis_error *e)
{
	if (rc == -EBUSY)
		return rc;
	if (rc < 0) {
		ctr_add(me, CTR_GLOBAL_ERRORS);
		note_error(r->global, e);
	} else
		note_ok(r->global);
	return rc;
}

/* How long Redis keeps a key: its window plus twice the tolerated skew. */
static uint64_t ttl_ms(uint64_t window)
{
	if (window > UINT64_MAX - 2 * GLOBAL_SKEW_NS)
		return UINT64_MAX / 1000000u;
	return (window + 2 * GLOBAL_SKEW_NS) / 1000000u + 1;
}

/* Ask Redis about n events in one pipeline within the throttle's timeout: 0 with
 * each ask's answer (its rc), or a negative errno when none came; a failure of
 * either kind is counted and opens the breaker. */
static int ask(const struct region *r, const struct table_client *me, struct global_handle *g,
               struct redis_ask *a, size_t n)
{
	struct redis_error e = { { 0 } };
	/* One deadline for the lock, the connect, AUTH, a load and the call. */
	uint64_t deadline = evt_now_ns() + r->global->timeout_ns;
	int rc = take(r, g, deadline, &e);
	int failed = 0;
	if (rc == 0) {
		/* A round trip once the request goes out: a lock wait that timed out or a
		 * failed connect sent nothing (counted as a fallback and an error). */
		for (size_t i = 0; i < n; i++)
			ctr_add(me, CTR_GLOBAL_ROUND_TRIPS);
		rc = redis_decide(g->conn, deadline, a, n, &e);
		/* An error reply (NOAUTH, a missing permission) fails its own event,
		 * and counts as an error like a failed connection. */
		for (size_t i = 0; rc == 0 && failed == 0 && i < n; i++)
			failed = a[i].rc < 0 ? a[i].rc : 0;
		give(g, rc < 0 ? rc : failed);
	}
	account(r, me, rc < 0 ? rc : failed, &e);
	return rc;
}

/* Redis could not answer: the on_unreachable policy does. */
static int fallback(const struct region *r, const struct table_client *me, uint64_t ts,
                    const void *key, uint32_t len, unsigned *info)
{
	ctr_add(me, CTR_GLOBAL_FALLBACKS);
	switch (r->global->on_unreachable) {
	case EVT_ON_UNREACHABLE_THROTTLE:
		ctr_add(me, CTR_THROTTLED);
		return table_denied(r, me, info, 0);
	case EVT_ON_UNREACHABLE_PROCESS:
		ctr_add(me, CTR_PROCESSED);
		return 1;
	default:
		return table_decide_ex(r, me, ts, key, len, info);
	}
}

/* What a question was asked under: the region's epoch and its count of one-key
 * clears applied (relaxed, as the epoch: they only say whether to cache). */
struct asked {
	uint64_t epoch, key_clears;
};

static struct asked asked_now(const struct region *r)
{
	return (struct asked){ atomic_load_explicit(&r->global->epoch, relaxed),
		               atomic_load_explicit(&r->global->key_clears, relaxed) };
}

static bool unmoved(const struct region *r, struct asked s)
{
	struct asked now = asked_now(r);
	return now.epoch == s.epoch && now.key_clears == s.key_clears;
}

/* Cache an answer only under the epoch Redis used, and only if neither the
 * region's epoch nor its count of one-key clears has moved since before the
 * question (s): a host whose epoch differs (Redis lost its data, this host has
 * not seen a clear yet) or a clear (of every key, or of one) applied while the
 * question was out must not keep it.  A clear that lands during the write is met
 * by the re-check, which takes the key out again. */
static void cache_answer(const struct region *r, const struct table_client *me,
                         const struct redis_ask *a, struct asked s)
{
	if (a->epoch != s.epoch || !unmoved(r, s))
		return;
	cache(r, me, a->last, a->key, (uint32_t)a->len);
	/* Pairs with the fences in global_set_epoch(), global_adopt_epoch() and
	 * global_drop_key(): either the re-check sees the move, or the clear that
	 * follows that fence sees the cached key. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!unmoved(r, s))
		(void)table_clear_key(r, me, a->key, (uint32_t)a->len);
}

/* The answer to an event that asked Redis (rc < 0: it could not), asked under s. */
static int settle(const struct region *r, const struct table_client *me, int rc,
                  const struct redis_ask *a, struct asked s, unsigned *info)
{
	if (rc < 0)
		return fallback(r, me, a->ts, a->key, (uint32_t)a->len, info);
	cache_answer(r, me, a, s);
	if (rc == 1) {
		ctr_add(me, CTR_PROCESSED);
		return 1;
	}
	/* Redis's reasons, as the table's: before the key's last, or inside its
	 * window (counted as table.c counts them). */
	if (a->ts < a->last) {
		ctr_add(me, CTR_OUT_OF_ORDER);
		ctr_add(me, CTR_THROTTLED);
		*info |= EVT_INFO_OUT_OF_ORDER;
	} else {
		ctr_add(me, CTR_INSIDE_WINDOW);
		*info |= EVT_INFO_INSIDE_WINDOW;
	}
	return table_denied(r, me, info, 0);
}

int global_decide(const struct region *r, const struct table_client *me,
                  struct global_handle *g, uint64_t ts, const void *key, uint32_t len,
                  unsigned *info)
{
	/* Pairs with the release store in evt_update_window(). */
	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, acquire);
	struct asked s = asked_now(r);
	char cfg[GLOBAL_KEY_MAX];
	struct redis_ask a = { cfg, cfg_name(r->global, cfg, sizeof cfg), key, len, ts, window,
		               ttl_ms(window), 0, 0, -EAGAIN };
	int rc = breaker_allows(r->global) ? ask(r, me, g, &a, 1) : -EAGAIN;
	return settle(r, me, rc < 0 ? rc : a.rc, &a, s, info);
}

/* ---- window changes and clears, stored in Redis ---- */

/* One command within the throttle's timeout: 0 with n values in out, or a
 * negative errno (counted as an error; it opens the breaker). */
static int command(const struct region *r, const struct table_client *me,
                   struct global_handle *g, int argc, const char **argv, const size_t *len,
                   uint64_t *out, size_t n)
{
	struct redis_error e = { { 0 } };
	uint64_t deadline = evt_now_ns() + r->global->timeout_ns;
	int rc = take(r, g, deadline, &e);
	if (rc == 0)
		rc = give(g, redis_integers(g->conn, deadline, argc, argv, len, out, n, &e));
	rc = account(r, me, rc, &e);
	return rc == -EBUSY ? -ETIMEDOUT : rc;
}

/* FCALL fn 1 CFG [arg]: a change stored and published in one step (global.lua). */
static int change(const struct region *r, const struct table_client *me,
                  struct global_handle *g, const char *fn, const char *arg, size_t arg_len,
                  uint64_t *out)
{
	char cfg[GLOBAL_KEY_MAX];
	const char *argv[] = { "FCALL", fn, "1", cfg, arg };
	const size_t len[] = { 5, strlen(fn), 1, global_cfg_name(r->global, cfg, sizeof cfg),
		               arg_len };
	return command(r, me, g, arg != NULL ? 5 : 4, argv, len, out, out != NULL);
}

int global_push_window(const struct region *r, const struct table_client *me,
                       struct global_handle *g, uint64_t window)
{
	char w[24];
	snprintf(w, sizeof w, "%" PRIu64, window);
	return change(r, me, g, "evt_window_v2", w, strlen(w), NULL);
}

int global_push_clear(const struct region *r, const struct table_client *me,
                      struct global_handle *g)
{
	uint64_t epoch = 0;
	int rc = change(r, me, g, "evt_clear_v2", NULL, 0, &epoch);
	if (rc == 0)
		global_set_epoch(r, epoch);
	return rc;
}

int global_push_clear_key(const struct region *r, const struct table_client *me,
                          struct global_handle *g, const void *key, uint32_t len)
{
	return change(r, me, g, "evt_clear_key_v2", (const char *)key, len, NULL);
}

int global_read_settings(struct redis_conn **c, const struct region_global *b, uint64_t deadline,
                         uint64_t *window, uint64_t *epoch, struct redis_error *e)
{
	char cfg[GLOBAL_KEY_MAX];
	const char *argv[] = { "HMGET", cfg, "window", "epoch" };
	const size_t len[] = { 5, global_cfg_name(b, cfg, sizeof cfg), 6, 5 };
	uint64_t v[2] = { 0, 0 };
	/* A connection kept from an earlier read may be to a server restarted since:
	 * one failure on it is tried again on a new one, within the same deadline. */
	int rc = -EAGAIN;
	for (int tries = *c != NULL ? 2 : 1; rc < 0 && tries > 0; tries--) {
		rc = *c == NULL ? redis_connect(b, deadline, c, e) : 0;
		if (rc == 0)
			rc = redis_integers(*c, deadline, 4, argv, len, v, 2, e);
		if (rc == 0)
			rc = redis_relax(*c);
		if (rc < 0) {
			redis_close(*c);
			*c = NULL;
		}
	}
	*window = v[0];
	*epoch = v[1];
	return rc;
}

bool global_may_ask(const struct region *r)
{
	return breaker_allows(r->global);
}

void global_note_read(const struct region *r, const struct table_client *me, int rc,
                      const struct redis_error *e, uint64_t window)
{
	account(r, me, rc, e);
	if (rc == 0)
		global_note_window(r, window);
}

void global_note_window(const struct region *r, uint64_t window)
{
	/* For the tools: does the local window agree with Redis's? */
	atomic_store_explicit(&r->global->redis_window_ns, window, relaxed);
	atomic_store_explicit(&r->global->synced_ns, evt_realtime_ns(), relaxed);
}

/* The decimal number at s (up to n bytes, ending at n or a space): how many
 * bytes it took, or 0 (none, or over 64 bits). */
static size_t decimal(const char *s, size_t n, uint64_t *out)
{
	size_t i = 0;
	for (*out = 0; i < n && s[i] != ' '; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || *out > (UINT64_MAX - d) / 10)
			return 0;
		*out = *out * 10 + d;
	}
	return i;
}

/* Does s (n bytes) begin with word and a space?  The bytes after it in *rest. */
static bool word(const char *s, size_t n, const char *word, const char **rest, size_t *left)
{
	size_t w = strlen(word);
	if (n <= w || memcmp(s, word, w) != 0 || s[w] != ' ')
		return false;
	*rest = s + w + 1;
	*left = n - w - 1;
	return true;
}

int global_parse_change(const char *channel, size_t channel_len, const char *msg, size_t len,
                        struct global_change *out)
{
	static const char head[] = GLOBAL_KEY_PREFIX "{", tail[] = "}:changes";
	size_t h = sizeof head - 1, t = sizeof tail - 1;
	if (channel_len <= h + t || channel_len - h - t >= sizeof out->name ||
	    memcmp(channel, head, h) != 0 || memcmp(channel + channel_len - t, tail, t) != 0)
		return -EINVAL;
	memcpy(out->name, channel + h, channel_len - h - t);
	out->name[channel_len - h - t] = '\0';
	const char *v;
	size_t n, used;
	out->key = NULL;
	out->len = 0;
	if (word(msg, len, "window", &v, &n))
		out->kind = GLOBAL_CHANGE_WINDOW;
	else if (word(msg, len, "clear", &v, &n))
		out->kind = GLOBAL_CHANGE_CLEAR;
	else if (word(msg, len, "key", &v, &n))
		out->kind = GLOBAL_CHANGE_KEY;
	else
		return -EINVAL;
	if ((used = decimal(v, n, &out->value)) == 0)
		return -EINVAL;
	if (out->kind != GLOBAL_CHANGE_KEY)
		return used == n && (out->kind != GLOBAL_CHANGE_WINDOW || out->value != 0) ? 0 : -EINVAL;
	/* "key E KEY": the key is every byte after the epoch's space. */
	if (n - used < 2 || n - used - 1 > REGION_KEY_MAX)
		return -EINVAL;
	out->key = v + used + 1;
	out->len = n - used - 1;
	return 0;
}

bool global_set_epoch(const struct region *r, uint64_t epoch)
{
	/* Relaxed: the epoch only names keys; a decision that still uses the old one
	 * is one that began before the clear. */
	uint64_t cur = atomic_load_explicit(&r->global->epoch, relaxed);
	while (cur < epoch && !atomic_compare_exchange_weak_explicit(&r->global->epoch, &cur, epoch,
	                                                             relaxed, relaxed))
		;
	/* Pairs with the fence in cache_answer(): the table clear that follows a
	 * raise sees a key cached under the old epoch, or its writer sees this one. */
	atomic_thread_fence(memory_order_seq_cst);
	return cur < epoch;
}

bool global_adopt_epoch(const struct region *r, uint64_t from, uint64_t epoch)
{
	/* Relaxed, as in global_set_epoch(). */
	bool moved = from != epoch && atomic_compare_exchange_strong_explicit(
		                              &r->global->epoch, &from, epoch, relaxed, relaxed);
	/* Pairs with the fence in cache_answer(), as in global_set_epoch(). */
	atomic_thread_fence(memory_order_seq_cst);
	return moved;
}

int global_drop_key(const struct region *r, const struct table_client *me, const void *key,
                    uint32_t len)
{
	atomic_fetch_add_explicit(&r->global->key_clears, 1, relaxed);
	/* Pairs with the fence in cache_answer(): the clear below sees a key cached
	 * by an answer from before, or its writer sees the count moved. */
	atomic_thread_fence(memory_order_seq_cst);
	return table_clear_key(r, me, key, len);
}

/* Events of a batch that go to Redis in one pipeline, at most: a burst of 64
 * (the benchmark's) at a window boundary, where most of its events need Redis,
 * is one write and one read, not four of each (issue 20). */
#define GLOBAL_PIPELINE 64u

/* Is key (len bytes) one of the m asks'?  (NULL: no key, none's.) */
static bool in_pipeline(const struct redis_ask *a, size_t m, const void *key, size_t len)
{
	for (size_t j = 0; key != NULL && j < m; j++)
		if (a[j].len == len && memcmp(a[j].key, key, len) == 0)
			return true;
	return false;
}

/* Decide the first events of ev[0..n), n <= GLOBAL_PIPELINE, in order: the cache
 * first, then one pipeline for the events it cannot throttle, answered in order.
 * The group ends before an event whose key an earlier one of it asks about: that
 * one is decided by the next group, after the answer is cached, as a single call
 * after it would be.  So a batch makes the round trips single calls would, at
 * most one per key per window per host (asking twice in one pipeline, the second
 * answer was Redis's throttle of the first).  Returns how many it decided (at
 * least 1); *processed += those processed. */
static size_t decide_group(const struct region *r, const struct table_client *me,
                           struct global_handle *g, evt_event *ev, size_t n, int *processed)
{
	struct asked s = asked_now(r);
	char cfg[GLOBAL_KEY_MAX];
	size_t cfg_len = cfg_name(r->global, cfg, sizeof cfg);
	struct redis_ask a[GLOBAL_PIPELINE];
	size_t at[GLOBAL_PIPELINE], m = 0, i = 0;
	/* Pairs with the release store in evt_update_window(). */
	uint64_t window = atomic_load_explicit(&r->hdr->window_ns, acquire);
	for (; i < n && !in_pipeline(a, m, ev[i].key, ev[i].key_len); i++) {
		ev[i].info = 0;
		ev[i].result = table_key_check(r, ev[i].key, ev[i].key_len);
		if (ev[i].result < 0 ||
		    (ev[i].result = table_cached_ex(r, me, ev[i].ts_ns, ev[i].key,
		                                    (uint32_t)ev[i].key_len, &ev[i].info)) != TABLE_NEXT)
			continue;
		a[m] = (struct redis_ask){ cfg, cfg_len, ev[i].key, ev[i].key_len, ev[i].ts_ns,
			                   window, ttl_ms(window), 0, 0, -EAGAIN };
		at[m++] = i;
	}
	int rc = m == 0 ? 0 : breaker_allows(r->global) ? ask(r, me, g, a, m) : -EAGAIN;
	for (size_t j = 0; j < m; j++) {
		evt_event *e = &ev[at[j]];
		/* An answer read before a failure stands: Redis applied it. */
		e->result = settle(r, me, rc < 0 && a[j].rc < 0 ? rc : a[j].rc, &a[j], s, &e->info);
	}
	for (size_t k = 0; k < i; k++)
		*processed += ev[k].result == 1;
	return i;
}

int global_decide_batch(const struct region *r, const struct table_client *me,
                        struct global_handle *g, evt_event *ev, size_t n)
{
	int processed = 0;
	for (size_t at = 0; at < n;)
		at += decide_group(r, me, g, ev + at,
		                   n - at < GLOBAL_PIPELINE ? n - at : GLOBAL_PIPELINE, &processed);
	return processed;
}
