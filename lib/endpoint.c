/* A global throttle's Redis address: numeric hosts, and the address published for
 * a host name in the region's global block (a sequence lock). */
#include "endpoint.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#define relaxed memory_order_relaxed

/* Tries a reader makes while a writer is midway (a few stores: it is done long
 * before, unless it was preempted or died there). */
#define READ_TRIES 64

int endpoint_numeric(const char *host, uint16_t port, struct endpoint_addr *out)
{
	char v6[INET6_ADDRSTRLEN];
	size_t n = strlen(host);
	*out = (struct endpoint_addr){ .family = AF_INET, .port = port };
	if (inet_pton(AF_INET, host, out->bytes) == 1)
		return 0;
	out->family = AF_INET6;
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof v6) {
		snprintf(v6, sizeof v6, "%.*s", (int)(n - 2), host + 1);
		host = v6;
	}
	return inet_pton(AF_INET6, host, out->bytes) == 1 ? 0 : -EINVAL;
}

bool endpoint_host_valid(const char *host)
{
	struct endpoint_addr a;
	if (endpoint_numeric(host, 0, &a) == 0)
		return true;
	size_t label = 0;
	for (const char *p = host; *p != '\0'; p++) {
		if (*p == '.' && label == 0)
			return false;
		if (*p != '.' && !isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		label = *p == '.' ? 0 : label + 1;
		if (label > 63)
			return false;
	}
	return host[0] != '\0';
}

static void pack(const struct endpoint_addr *a, uint64_t w[3])
{
	w[0] = (uint64_t)a->family | (uint64_t)a->port << 16;
	memcpy(&w[1], a->bytes, 16);
}

static void unpack(const uint64_t w[3], struct endpoint_addr *a)
{
	a->family = (uint16_t)w[0];
	a->port = (uint16_t)(w[0] >> 16);
	memcpy(a->bytes, &w[1], 16);
}

void endpoint_publish(struct region_global *b, const struct endpoint_addr *a)
{
	uint64_t w[3];
	pack(a, w);
	/* Odd while the words change (a writer that died midway left it odd). */
	uint64_t s = atomic_load_explicit(&b->addr_seq, relaxed) | 1u;
	atomic_store_explicit(&b->addr_seq, s, relaxed);
	/* Pairs with the acquire fence in endpoint_published(): a reader that read
	 * any word stored below reads this odd sequence (or a later one) after it. */
	atomic_thread_fence(memory_order_release);
	for (int i = 0; i < 3; i++)
		atomic_store_explicit(&b->addr[i], w[i], relaxed);
	/* Pairs with the acquire load in endpoint_published(): a reader that reads
	 * s + 1 reads every word stored above. */
	atomic_store_explicit(&b->addr_seq, s + 1, memory_order_release);
}

int endpoint_published(const struct region_global *b, struct endpoint_addr *out)
{
	for (int i = 0; i < READ_TRIES; i++) {
		if (i > 2)
			sched_yield(); /* a writer preempted midway: let it finish */
		/* Pairs with the release store that ends endpoint_publish(). */
		uint64_t s = atomic_load_explicit(&b->addr_seq, memory_order_acquire);
		if (s == 0)
			return -ENOENT;
		uint64_t w[3];
		for (int k = 0; k < 3; k++)
			w[k] = atomic_load_explicit(&b->addr[k], relaxed);
		/* Pairs with the release fence in endpoint_publish(): if a word read
		 * above is a writer's, the re-read below sees its odd sequence. */
		atomic_thread_fence(memory_order_acquire);
		if ((s & 1u) == 0 && atomic_load_explicit(&b->addr_seq, relaxed) == s) {
			unpack(w, out);
			/* A corrupt region's family is no address to make a socket for. */
			return out->family == AF_INET || out->family == AF_INET6 ? 0 : -EBADMSG;
		}
	}
	return -EAGAIN;
}

void endpoint_note(struct region_global *b, int code)
{
	/* Relaxed, word by word: a status for the tools and the decisions' errors. */
	if (code == 0) {
		atomic_store_explicit(&b->resolved_ns, evt_realtime_ns(), relaxed);
		return;
	}
	atomic_store_explicit(&b->resolve_error, code, relaxed);
	atomic_store_explicit(&b->resolve_failed_ns, evt_realtime_ns(), relaxed);
}

int endpoint_address(const struct region_global *b, const char *host, uint16_t port,
                     struct endpoint_addr *out, char *why, size_t size)
{
	if (endpoint_numeric(host, port, out) == 0)
		return 0;
	int rc = endpoint_published(b, out);
	if (rc == -EBADMSG || (rc == 0 && out->port != port)) {
		/* A corrupt region: never connect to a port or family not configured. */
		snprintf(why, size, "%.96s: the address published for it is corrupt", host);
		return -EHOSTUNREACH;
	}
	if (rc == -EAGAIN) {
		snprintf(why, size, "%.96s: its address was being changed", host);
		return rc;
	}
	if (rc == 0)
		return 0;
	int code = (int)atomic_load_explicit(&b->resolve_error, relaxed);
	snprintf(why, size, "%.96s: %s", host,
	         code != 0 ? endpoint_strerror(code) : "not resolved yet");
	return -EHOSTUNREACH;
}

socklen_t endpoint_sockaddr(const struct endpoint_addr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (a->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(a->port);
		memcpy(&in->sin_addr, a->bytes, 4);
		return sizeof *in;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(a->port);
	memcpy(&in6->sin6_addr, a->bytes, 16);
	return sizeof *in6;
}

char *endpoint_format(const struct endpoint_addr *a, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN] = "?";
	bool v6 = a->family == AF_INET6;
	if (inet_ntop(v6 ? AF_INET6 : AF_INET, a->bytes, text, sizeof text) == NULL)
		snprintf(text, sizeof text, "?");
	snprintf(buf, size, "%s%s%s:%u", v6 ? "[" : "", text, v6 ? "]" : "", (unsigned)a->port);
	return buf;
}

bool endpoint_same(const struct endpoint_addr *a, const struct endpoint_addr *b)
{
	size_t n = a->family == AF_INET ? 4 : 16;
	return a->family == b->family && a->port == b->port && memcmp(a->bytes, b->bytes, n) == 0;
}

const char *endpoint_strerror(int code)
{
	switch (code) {
	case RESOLVE_TIMED_OUT:
		return "the resolver did not answer in time";
	case RESOLVE_NO_ADDRESS:
		return "no IPv4 or IPv6 address";
	case RESOLVE_NO_THREAD:
		return "the resolver's thread could not start";
	default:
		return gai_strerror(code);
	}
}
