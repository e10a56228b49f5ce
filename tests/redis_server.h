/* A private redis-server for a test: a unix socket in a fresh temporary directory,
 * no persistence, killed at the end.  Used by the global throttle's suites. */
#ifndef EVT_TESTS_REDIS_SERVER_H
#define EVT_TESTS_REDIS_SERVER_H

#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct test_redis {
	pid_t pid;            /* 0: not running */
	char dir[64];         /* "" until made */
	char sock[128];
	char endpoint[140];   /* "unix:<sock>" */
	int port;             /* redis_start_tcp(): its TCP port (0: none) */
	char user[32], pass[32]; /* what the test's own checks log in as ("": default) */
};

/* Is redis-server on PATH? */
static inline bool redis_installed(void)
{
	const char *path = getenv("PATH");
	char buf[4096];
	snprintf(buf, sizeof buf, "%s", path != NULL ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char exe[4200];
		snprintf(exe, sizeof exe, "%s/redis-server", d);
		if (access(exe, X_OK) == 0)
			return true;
	}
	return false;
}

/* Skip the running test, saying why, when there is no redis-server to start. */
#define REDIS_REQUIRED()                                                                  \
	do {                                                                              \
		if (!redis_installed())                                                   \
			cr_skip_test("redis-server is not installed (Debian: apt-get install " \
			             "redis-server; .ci/run installs it): no real Redis to test with"); \
	} while (0)

/* Can a client talk to it now? */
static inline bool redis_answers(const struct test_redis *r)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c = redisConnectUnixWithTimeout(r->sock, tv);
	bool ok = false;
	if (c != NULL && c->err == 0) {
		if (r->user[0] != '\0')
			freeReplyObject(redisCommand(c, "AUTH %s %s", r->user, r->pass));
		redisReply *rep = redisCommand(c, "PING");
		ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
		if (rep != NULL)
			freeReplyObject(rep);
	}
	if (c != NULL)
		redisFree(c);
	return ok;
}

/* Start (or restart, in the same directory and on the same socket) the server
 * and wait until it answers; extra: more "--option value" pairs, NULL-ended. */
static inline void redis_start(struct test_redis *r, const char *const *extra)
{
	if (r->dir[0] == '\0') {
		snprintf(r->dir, sizeof r->dir, "/tmp/evt-redis.XXXXXX");
		cr_assert_not_null(mkdtemp(r->dir), "mkdtemp");
		snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
		snprintf(r->endpoint, sizeof r->endpoint, "unix:%s", r->sock);
	}
	const char *argv[32] = { "redis-server", "--port", "0", "--unixsocket", r->sock,
		                 "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
		                 "--dir", r->dir };
	int n = 13;
	for (; extra != NULL && *extra != NULL && n < 31; extra++)
		argv[n++] = *extra;
	pid_t parent = getpid();
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork");
	if (pid == 0) {
		/* A test that dies (an assertion, a sanitizer) takes its server along;
		 * one that died before the prctl() is seen by getppid(). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0)
			dup2(null, 1);
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	r->pid = pid;
	for (int i = 0; i < 500 && !redis_answers(r); i++) {
		cr_assert_eq(waitpid(pid, NULL, WNOHANG), 0, "redis-server exited at start");
		struct timespec ms10 = { 0, 10000000 };
		nanosleep(&ms10, NULL);
	}
	cr_assert(redis_answers(r), "redis-server does not answer on %s", r->sock);
}

/* A TCP port free on the address addr now, from the kernel (a process could take it
 * before the server binds it: the start then fails, saying so). */
static inline int redis_free_port(const char *addr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0 && inet_pton(AF_INET, addr, &sa.sin_addr) == 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0, "bind %s:0", addr);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* redis_start() listening on TCP too, at addr (an IPv4 address) and port (0: a
 * free one), in r->port; the test's own checks keep using the unix socket. */
static inline void redis_start_tcp(struct test_redis *r, const char *addr, int port)
{
	char p[8];
	r->port = port != 0 ? port : redis_free_port(addr);
	snprintf(p, sizeof p, "%d", r->port);
	const char *const extra[] = { "--port", p, "--bind", addr, NULL };
	redis_start(r, extra);
}

/* redis_start() for a server whose default user is off: the test's checks log in
 * as user with pass. */
static inline void redis_start_as(struct test_redis *r, const char *const *extra,
                                  const char *user, const char *pass)
{
	snprintf(r->user, sizeof r->user, "%s", user);
	snprintf(r->pass, sizeof r->pass, "%s", pass);
	redis_start(r, extra);
}

/* Kill it (SIGKILL: an outage, not a shutdown) and reap it. */
static inline void redis_kill(struct test_redis *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGKILL);
		waitpid(r->pid, NULL, 0);
		r->pid = 0;
	}
}

/* Kill it and remove its directory. */
static inline void redis_stop(struct test_redis *r)
{
	redis_kill(r);
	if (r->dir[0] != '\0') {
		unlink(r->sock);
		char f[128];
		snprintf(f, sizeof f, "%s/auth", r->dir);
		unlink(f);
		rmdir(r->dir);
		r->dir[0] = '\0';
	}
}

#endif
