#include "pubsub.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu.h>

#include "global.h"
#include "globalwatch.h"
#include "housekeeping.h"
#include "log.h"
#include "redis.h"

/* The least time a subscription may take to be made (connect, AUTH, PSUBSCRIBE):
 * a throttle's timeout of a few ms is for decisions, not for this (the round's
 * bound, GLOBAL_ROUND_WAIT_NS, caps it). */
#define SUBSCRIBE_NS GLOBAL_ROUND_WAIT_NS

/* Does link l serve the throttle whose settings are g? */
static bool serves(const struct pubsub_link *l, const struct region_global *g)
{
	return strcmp(l->b.redis, g->redis) == 0 && strcmp(l->b.auth_file, g->auth_file) == 0;
}

static struct pubsub_link *find(struct pubsub *p, const struct region_global *g)
{
	for (size_t i = 0; i < p->n; i++)
		if (serves(&p->links[i], g))
			return &p->links[i];
	return NULL;
}

/* A new link for g's endpoint; NULL when out of memory (the rounds' reads remain). */
static struct pubsub_link *add(struct pubsub *p, const struct region_global *g)
{
	struct pubsub_link *grown = realloc(p->links, (p->n + 1) * sizeof *grown);
	struct pollfd *fds = grown == NULL ? NULL : realloc(p->fds, (p->n + 2) * sizeof *fds);
	if (grown != NULL)
		p->links = grown;
	if (fds == NULL) {
		log_error("Redis %s: out of memory; changes arrive by each round's read only", g->redis);
		return NULL;
	}
	p->fds = fds;
	struct pubsub_link *l = &p->links[p->n++];
	*l = (struct pubsub_link){ .conn = NULL };
	global_copy_settings(&l->b, g);
	if (l->b.timeout_ns < SUBSCRIBE_NS)
		l->b.timeout_ns = SUBSCRIBE_NS;
	return l;
}

static void lost(struct pubsub_link *l, const struct redis_error *e)
{
	log_warning("Redis %s: the subscription to the global throttles' changes is lost: %s; "
	            "subscribing again each round, changes arrive by each round's read meanwhile",
	            l->b.redis, e->text);
	redis_close(l->conn);
	l->conn = NULL;
	l->failing = true;
}

/* A new subscription: the throttles it serves forget their cached answers, since
 * a one-key clear published while there was none never arrives (the round's read
 * brings the window and the epoch only). */
static void forget_cached(const struct pubsub_link *l, const struct registry *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->m[i]->global.enabled && serves(l, &r->m[i]->global))
			global_forget(r->m[i]);
}

static void subscribe(struct pubsub_link *l, const struct registry *r, uint64_t until)
{
	struct redis_error e = { { 0 } };
	uint64_t deadline = evt_now_ns() + l->b.timeout_ns;
	if (deadline > until)
		deadline = until;
	int rc = redis_connect(&l->b, deadline, &l->conn, &e);
	if (rc == 0 && (rc = redis_psubscribe(l->conn, deadline, GLOBAL_CHANNELS, &e)) < 0) {
		redis_close(l->conn);
		l->conn = NULL;
	}
	if (rc < 0 && !l->failing)
		log_warning("Redis %s: cannot subscribe to the global throttles' changes: %s; "
		            "trying each round, changes arrive by each round's read meanwhile",
		            l->b.redis, e.text);
	else if (rc == 0)
		log_info("Redis %s: subscribed to the global throttles' changes (%s)", l->b.redis,
		         GLOBAL_CHANNELS);
	if (rc == 0)
		forget_cached(l, r);
	l->failing = rc < 0;
}

/* Does throttle g publish the address l goes to? */
static bool publishes(const struct pubsub_link *l, const struct region_global *g)
{
	struct endpoint_addr a, at;
	return endpoint_published(g, &a) == 0 && endpoint_published(&l->b, &at) == 0 &&
	       endpoint_same(&a, &at);
}

/* Link l, whose address none of its throttles publishes any more (dns.h: their
 * host name moved), goes to the one g publishes; a subscription it has is made
 * anew there, at once: the old server may be up and no replica of the new one,
 * and a change published on the new one would then never arrive.  (Only when
 * none keeps the old: two throttles of one name may keep two of its addresses.) */
static void follow(struct pubsub_link *l, const struct region_global *g)
{
	struct endpoint_addr a;
	char to[ENDPOINT_ADDR_TEXT];
	if (endpoint_published(g, &a) < 0)
		return;
	endpoint_publish(&l->b, &a);
	l->kept = true;
	if (l->conn == NULL)
		return;
	log_info("Redis %s: its host name moved to %s: subscribing there", l->b.redis,
	         endpoint_format(&a, to, sizeof to));
	redis_close(l->conn);
	l->conn = NULL;
}

void pubsub_sync(struct pubsub *p, const struct registry *r, uint64_t until)
{
	for (size_t i = 0; i < p->n; i++)
		p->links[i].used = p->links[i].kept = false;
	for (size_t i = 0; i < r->n; i++) {
		const struct region_global *g = &r->m[i]->global;
		struct pubsub_link *l = g->enabled ? find(p, g) : NULL;
		if (g->enabled && l == NULL)
			l = add(p, g);
		if (l != NULL) {
			l->used = true;
			l->kept = l->kept || publishes(l, g);
		}
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct region_global *g = &r->m[i]->global;
		struct pubsub_link *l = g->enabled ? find(p, g) : NULL;
		if (l != NULL && !l->kept)
			follow(l, g);
	}
	for (size_t i = p->n; i-- > 0;) {
		struct pubsub_link *l = &p->links[i];
		if (l->used && l->conn == NULL && evt_now_ns() < until)
			subscribe(l, r, until);
		else if (!l->used) {
			redis_close(l->conn);
			*l = p->links[--p->n];
		}
	}
}

struct delivery {
	const struct pubsub_link *l;
	struct registry *_Atomic *reg;
};

/* A message: to every managed throttle of that global name on this endpoint. */
static void deliver(void *arg, const char *channel, size_t channel_len, const char *msg,
                    size_t len)
{
	struct delivery *d = arg;
	struct global_change c;
	if (global_parse_change(channel, channel_len, msg, len, &c) < 0) {
		log_debug("Redis %s: a message of %zu bytes on a channel of %zu not of this "
		          "protocol: ignored", d->l->b.redis, len, channel_len);
		return;
	}
	static const char *const kind[] = { "window", "clear", "key" };
	log_debug("Redis %s: global '%s': %s %llu received", d->l->b.redis, c.name, kind[c.kind],
	          (unsigned long long)c.value);
	rcu_read_lock(); /* the main thread frees no entry until we are done */
	const struct registry *r = registry_get(d->reg);
	for (size_t i = 0; i < r->n; i++) {
		struct managed *m = r->m[i];
		if (m->global.enabled && strcmp(m->global.name, c.name) == 0 && serves(d->l, &m->global))
			global_apply(m, &c);
	}
	rcu_reader_done_for_tsan();
	rcu_read_unlock();
}

/* Hand l's messages over (read: from its socket first); a failure drops it. */
static void take(struct pubsub_link *l, struct registry *_Atomic *reg, bool read)
{
	struct redis_error e = { { 0 } };
	struct delivery d = { l, reg };
	if (l->conn != NULL && redis_messages(l->conn, read, deliver, &d, &e) < 0)
		lost(l, &e);
}

void pubsub_wait(struct pubsub *p, struct registry *_Atomic *reg, int wake_fd, uint64_t until)
{
	struct pollfd one, *fds = p->n > 0 ? p->fds : &one;
	for (;;) {
		for (size_t i = 0; i < p->n; i++) /* what a PSUBSCRIBE's reply came with */
			take(&p->links[i], reg, false);
		uint64_t now = evt_now_ns();
		if (now >= until)
			return;
		fds[0] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
		for (size_t i = 0; i < p->n; i++)
			fds[i + 1] = (struct pollfd){
				.fd = p->links[i].conn != NULL ? redis_fd(p->links[i].conn) : -1,
				.events = POLLIN
			};
		int ms = (int)((until - now + 999999u) / 1000000u);
		if (poll(fds, p->n + 1, ms) < 0 && errno != EINTR)
			return;
		if (fds[0].revents != 0) {
			uint64_t v;
			(void)!read(wake_fd, &v, sizeof v);
			return;
		}
		for (size_t i = 0; i < p->n; i++)
			if (fds[i + 1].revents != 0)
				take(&p->links[i], reg, true);
	}
}

void pubsub_close(struct pubsub *p)
{
	for (size_t i = 0; i < p->n; i++)
		redis_close(p->links[i].conn);
	free(p->links);
	free(p->fds);
	*p = (struct pubsub){ .n = 0 };
}
