#include "dns.h"

#include "global.h"
#include "handle.h"
#include "log.h"
#include "redis.h"
#include "resolve.h"

struct answer {
	struct managed *m;
	const char *host;
	struct endpoint_addr addr;
	int code;      /* 0: addr; else what failed (endpoint_strerror()) */
	bool moved;    /* set by apply(): a new address was published */
};

static void log_failure(const struct answer *x, const struct endpoint_addr *old, bool had)
{
	char a[ENDPOINT_ADDR_TEXT];
	if (had)
		log_warning("throttle '%s': Redis host '%s' does not resolve: %s; its clients keep "
		            "its last address, %s, until it does", x->m->name, x->host,
		            endpoint_strerror(x->code), endpoint_format(old, a, sizeof a));
	else
		log_warning("throttle '%s': Redis host '%s' does not resolve: %s; decisions that "
		            "need Redis are answered by on_unreachable = %s until it does",
		            x->m->name, x->host, endpoint_strerror(x->code),
		            global_policy_name(x->m->global.on_unreachable));
}

static void log_success(const struct answer *x, const struct endpoint_addr *old, bool had)
{
	char a[ENDPOINT_ADDR_TEXT], b[ENDPOINT_ADDR_TEXT];
	endpoint_format(&x->addr, a, sizeof a);
	if (x->m->resolve_failing)
		log_info("throttle '%s': Redis host '%s' resolves again, to %s", x->m->name, x->host,
		         a);
	else if (x->moved && had)
		log_info("throttle '%s': Redis host '%s' now resolves to %s (was %s): clients "
		         "connect there", x->m->name, x->host, a, endpoint_format(old, b, sizeof b));
	else if (x->moved)
		log_info("throttle '%s': Redis host '%s' resolves to %s", x->m->name, x->host, a);
}

/* Under the guard: publish and note the answer in the region, log what changed. */
static int apply(void *arg)
{
	struct answer *x = arg;
	struct region_global *b = x->m->t->r.global;
	struct endpoint_addr old;
	bool had = endpoint_published(b, &old) == 0;
	x->moved = x->code == 0 && !(had && endpoint_same(&old, &x->addr));
	if (x->moved)
		endpoint_publish(b, &x->addr);
	endpoint_note(b, x->code);
	if (x->code != 0 && !x->m->resolve_failing)
		log_failure(x, &old, had);
	else if (x->code == 0)
		log_success(x, &old, had);
	x->m->resolve_failing = x->code != 0;
	return 0;
}

static void settle(struct managed *m, const struct endpoint_addr *addr, int code)
{
	char host[REGION_GLOBAL_ENDPOINT];
	uint16_t port;
	(void)global_host(&m->global, host, sizeof host, &port);
	struct answer x = { m, host, *addr, code, false };
	if (regions_guard(m, apply, &x) < 0 || !x.moved)
		return;
	/* The daemon's own connections go there too (the subscriptions: pubsub.c). */
	endpoint_publish(&m->global, &x.addr);
	redis_close(m->redis);
	m->redis = NULL;
}

void dns_managed(struct managed *m)
{
	char host[REGION_GLOBAL_ENDPOINT];
	uint16_t port;
	struct endpoint_addr a;
	const struct region_global *b = m->t->r.global;
	if (global_host(&m->global, host, sizeof host, &port) != 1 ||
	    endpoint_published(b, &a) == 0 ||
	    atomic_load_explicit(&b->resolve_failed_ns, memory_order_relaxed) == 0)
		return;
	struct answer x = { m, host, a,
		            (int)atomic_load_explicit(&b->resolve_error, memory_order_relaxed),
		            false };
	log_failure(&x, &a, false);
	m->resolve_failing = true;
}

void dns_start(struct managed *m)
{
	char host[REGION_GLOBAL_ENDPOINT];
	uint16_t port;
	uint64_t now = evt_now_ns();
	if (m->resolving != NULL ||
	    (m->resolve_started_ns != 0 && now - m->resolve_started_ns < DNS_EVERY_NS) ||
	    global_host(&m->global, host, sizeof host, &port) != 1)
		return;
	m->resolve_started_ns = now;
	if (resolve_start(host, port, &m->resolving) < 0) {
		m->resolving = NULL;
		settle(m, &(struct endpoint_addr){ 0 }, RESOLVE_NO_THREAD);
	}
}

void dns_collect(struct managed *m, uint64_t until)
{
	struct endpoint_addr addr = { 0 };
	int code = 0;
	if (m->resolving == NULL)
		return;
	struct endpoint_addr now;
	bool had = endpoint_published(&m->global, &now) == 0;
	if (resolve_wait(m->resolving, until, had ? &now : NULL, &addr, &code) < 0) {
		if (evt_now_ns() - m->resolve_started_ns < DNS_GIVE_UP_NS)
			return; /* still looking: a later round takes the answer */
		code = RESOLVE_TIMED_OUT;
	}
	resolve_drop(m->resolving);
	m->resolving = NULL;
	settle(m, &addr, code);
}
