/* A host name's lookup on a thread of its own, waited for with a bound. */
#include "resolve.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct resolve_job {
	pthread_mutex_t lock;
	pthread_cond_t answered; /* on CLOCK_MONOTONIC, evt_now_ns()'s clock */
	int refs;                /* the caller's and the thread's */
	bool done;
	int code;
	int n; /* addresses in addrs */
	struct endpoint_addr addrs[RESOLVE_KEPT];
	uint16_t port;
	char host[EVT_GLOBAL_ENDPOINT_MAX + 1];
};

static void release(struct resolve_job *j)
{
	pthread_mutex_lock(&j->lock);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (!last)
		return;
	pthread_cond_destroy(&j->answered);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* The answer's addresses, IPv4 ones first (hiredis tried IPv4 first too), up to
 * RESOLVE_KEPT: how many. */
static int collect(const struct addrinfo *list, uint16_t port, struct endpoint_addr *out)
{
	int n = 0;
	for (int v6 = 0; v6 < 2; v6++)
		for (const struct addrinfo *a = list; a != NULL && n < RESOLVE_KEPT; a = a->ai_next) {
			if (a->ai_family != (v6 ? AF_INET6 : AF_INET))
				continue;
			out[n] = (struct endpoint_addr){ .family = (uint16_t)a->ai_family, .port = port };
			if (v6)
				memcpy(out[n].bytes, &((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr, 16);
			else
				memcpy(out[n].bytes, &((const struct sockaddr_in *)a->ai_addr)->sin_addr, 4);
			n++;
		}
	return n;
}

static void *look_up(void *arg)
{
	struct resolve_job *j = arg;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *list = NULL;
	struct endpoint_addr addrs[RESOLVE_KEPT];
	int n = 0, code = getaddrinfo(j->host, NULL, &hints, &list);
	if (code == 0) {
		n = collect(list, j->port, addrs);
		code = n > 0 ? 0 : RESOLVE_NO_ADDRESS;
		freeaddrinfo(list);
	}
	pthread_mutex_lock(&j->lock);
	j->done = true;
	j->code = code;
	j->n = n;
	memcpy(j->addrs, addrs, (size_t)n * sizeof addrs[0]);
	pthread_cond_signal(&j->answered);
	pthread_mutex_unlock(&j->lock);
	release(j);
	return NULL;
}

/* The thread, detached, with every signal blocked: a client's signals are its own
 * threads' to take. */
static int spawn(struct resolve_job *j)
{
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	if (pthread_attr_init(&attr) != 0)
		return -ENOMEM;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = -pthread_create(&t, &attr, look_up, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return rc;
}

int resolve_start(const char *host, uint16_t port, struct resolve_job **out)
{
	if (strlen(host) >= sizeof((struct resolve_job *)0)->host)
		return -ENAMETOOLONG;
	struct resolve_job *j = calloc(1, sizeof *j);
	if (j == NULL)
		return -ENOMEM;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->answered, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&j->lock, NULL);
	j->refs = 2;
	j->port = port;
	strcpy(j->host, host);
	int rc = spawn(j);
	if (rc < 0) {
		j->refs = 1;
		release(j);
		return rc;
	}
	*out = j;
	return 0;
}

/* keep if the answer holds it (a name with several addresses keeps its clients on
 * one), else the answer's first. */
static void pick(const struct resolve_job *j, const struct endpoint_addr *keep,
                 struct endpoint_addr *out)
{
	*out = j->addrs[0];
	for (int i = 0; keep != NULL && i < j->n; i++)
		if (endpoint_same(&j->addrs[i], keep))
			*out = *keep;
}

int resolve_wait(struct resolve_job *j, uint64_t deadline, const struct endpoint_addr *keep,
                 struct endpoint_addr *out, int *code)
{
	struct timespec until = { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) };
	pthread_mutex_lock(&j->lock);
	while (!j->done && pthread_cond_timedwait(&j->answered, &j->lock, &until) != ETIMEDOUT)
		;
	bool done = j->done;
	*code = j->code;
	if (done && j->code == 0)
		pick(j, keep, out);
	pthread_mutex_unlock(&j->lock);
	return done ? 0 : -EINPROGRESS;
}

void resolve_drop(struct resolve_job *j)
{
	if (j != NULL)
		release(j);
}

int resolve_within(const char *host, uint16_t port, uint64_t timeout_ns,
                   struct endpoint_addr *out, int *code)
{
	struct resolve_job *j;
	*code = RESOLVE_NO_THREAD;
	if (resolve_start(host, port, &j) < 0)
		return -EHOSTUNREACH;
	if (resolve_wait(j, evt_now_ns() + timeout_ns, NULL, out, code) < 0)
		*code = RESOLVE_TIMED_OUT;
	resolve_drop(j);
	return *code == 0 ? 0 : -EHOSTUNREACH;
}
