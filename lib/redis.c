/* The Redis side of a global throttle, with hiredis (0.14's API: Debian 12). */
#include "redis.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "endpoint.h"
#include "global.h"
#include "global_lua.h"

struct redis_conn {
	redisContext *c;
	uint64_t timeout_ns; /* the throttle's */
	uint64_t cur_ns;     /* the socket's timeout now: timeout_ns, or less near a deadline */
};

static void say(struct redis_error *e, const char *what, const char *detail)
{
	/* Cut to fit: the message is for people, and the block's field is short. */
	snprintf(e->text, sizeof e->text, "%.24s%s%.96s", what, detail[0] ? ": " : "", detail);
}

/* ns as a socket timeout, rounded up to the microsecond: {0, 0} would mean
 * "never time out". */
static struct timeval tv_of(uint64_t ns)
{
	uint64_t us = ns / 1000u + (ns % 1000u != 0);
	return (struct timeval){ .tv_sec = (time_t)(us / 1000000u),
		                 .tv_usec = (suseconds_t)(us % 1000000u) };
}

/* The negative errno of a failed context (err was saved right after the call). */
static int context_errno(const redisContext *c, int err)
{
	switch (c->err) {
	case REDIS_ERR_IO:
		if (err == EAGAIN || err == EWOULDBLOCK || err == ETIMEDOUT || err == EINPROGRESS)
			return -ETIMEDOUT;
		return err == ENOENT || err == ECONNREFUSED ? -ECONNREFUSED : -(err ? err : EIO);
	case REDIS_ERR_EOF:
		return -ECONNRESET;
	case REDIS_ERR_OOM:
		return -ENOMEM;
	default:
		return -EPROTO;
	}
}

/* Time left until deadline (evt_now_ns()), or 0. */
static uint64_t left(uint64_t deadline)
{
	uint64_t now = evt_now_ns();
	return now < deadline ? deadline - now : 0;
}

/* Let the next command wait no later than deadline: the socket's timeout is
 * lowered when what is left is clearly less (a connect or a load took some). */
static int meet(struct redis_conn *c, uint64_t deadline, struct redis_error *e)
{
	uint64_t l = left(deadline);
	if (l == 0) {
		say(e, "timed out", "");
		return -ETIMEDOUT;
	}
	if (l < c->cur_ns - c->cur_ns / 8) {
		if (redisSetTimeout(c->c, tv_of(l)) != REDIS_OK)
			return -EIO;
		c->cur_ns = l;
	}
	return 0;
}

/* Write a whole command.  Not hiredis's write(): a peer gone would raise SIGPIPE
 * in the caller's process, and the library never kills its caller.  Writes wait
 * at most the socket's timeout (SO_SNDTIMEO, set by hiredis). */
static int send_all(int fd, const char *buf, size_t n, struct redis_error *e)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			int err = errno;
			say(e, err == EAGAIN || err == EWOULDBLOCK ? "timed out" : "send", strerror(err));
			return err == EAGAIN || err == EWOULDBLOCK ? -ETIMEDOUT : -err;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_command(struct redis_conn *c, int argc, const char **argv, const size_t *len,
                        struct redis_error *e)
{
	char *cmd = NULL;
	int n = redisFormatCommandArgv(&cmd, argc, argv, len);
	if (n < 0)
		return -ENOMEM;
	int rc = send_all(c->c->fd, cmd, (size_t)n, e);
	explicit_bzero(cmd, (size_t)n); /* AUTH's holds the secret */
	redisFreeCommand(cmd);
	return rc;
}

/* Send argv and read its reply by deadline: the reply, or NULL with the error in
 * e and *rc. */
static redisReply *call(struct redis_conn *rc_, uint64_t deadline, int argc, const char **argv,
                        const size_t *len, struct redis_error *e, int *rc)
{
	if ((*rc = meet(rc_, deadline, e)) < 0 || (*rc = send_command(rc_, argc, argv, len, e)) < 0)
		return NULL;
	void *r = NULL;
	errno = 0;
	if (redisGetReply(rc_->c, &r) != REDIS_OK) {
		*rc = context_errno(rc_->c, errno);
		say(e, *rc == -ETIMEDOUT ? "timed out" : "connection", rc_->c->errstr);
		return NULL;
	}
	return r;
}

/* "password" or "user password" from the file, for AUTH; its text is never copied
 * into an error. */
static int read_auth(const char *path, char *buf, size_t size, struct redis_error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
	int err = errno;
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		say(e, "auth_file unreadable", strerror(err));
		return -EACCES;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 0;
}

static int auth(struct redis_conn *c, uint64_t deadline, const char *path, struct redis_error *e)
{
	char secret[512];
	int rc = read_auth(path, secret, sizeof secret, e);
	if (rc < 0)
		return rc;
	char *space = strchr(secret, ' ');
	const char *argv[3] = { "AUTH", secret, NULL };
	size_t len[3] = { 4, strlen(secret), 0 };
	if (space != NULL) {
		*space = '\0';
		argv[2] = space + 1;
		len[1] = strlen(secret);
		len[2] = strlen(space + 1);
	}
	redisReply *r = call(c, deadline, space != NULL ? 3 : 2, argv, len, e, &rc);
	explicit_bzero(secret, sizeof secret);
	if (r == NULL)
		return rc;
	rc = r->type == REDIS_REPLY_ERROR ? -EACCES : 0;
	if (rc < 0)
		say(e, "AUTH refused", r->str); /* Redis's text names no secret */
	freeReplyObject(r);
	return rc;
}

/* Wait until fd's connect() ends or deadline: 0, or a negative errno. */
static int connected(int fd, uint64_t deadline)
{
	for (;;) {
		uint64_t l = left(deadline);
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		struct timespec ts = { (time_t)(l / 1000000000u), (long)(l % 1000000000u) };
		int n = l == 0 ? 0 : ppoll(&p, 1, &ts, NULL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ETIMEDOUT : -errno;
		int err = 0;
		socklen_t len = sizeof err;
		return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ? -errno : -err;
	}
}

/* A TCP connection to the numeric address a by deadline, made here and handed to
 * hiredis: no name is looked up (hiredis's own connect calls getaddrinfo()).
 * 0 with *out, or a negative errno with e filled. */
static int connect_tcp(const struct endpoint_addr *a, uint64_t deadline, redisContext **out,
                       struct redis_error *e)
{
	struct sockaddr_storage ss;
	socklen_t len = endpoint_sockaddr(a, &ss);
	int one = 1, fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = fd < 0 ? -errno : 0;
	if (rc == 0 && connect(fd, (struct sockaddr *)&ss, len) < 0)
		rc = errno == EINPROGRESS ? connected(fd, deadline) : -errno;
	/* Blocking from now on: hiredis reads under the socket's timeouts. */
	if (rc == 0 && (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0 ||
	                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0))
		rc = -errno;
	if (rc == 0 && (*out = redisConnectFd(fd)) == NULL)
		rc = -ENOMEM;
	if (rc < 0) {
		char addr[ENDPOINT_ADDR_TEXT];
		say(e, "connect", rc == -ETIMEDOUT ? "timed out" : strerror(-rc));
		snprintf(e->text + strlen(e->text), sizeof e->text - strlen(e->text), " (%s)",
		         endpoint_format(a, addr, sizeof addr));
		if (fd >= 0)
			close(fd);
	}
	return rc;
}

/* hiredis's context for b's endpoint (host, port; 0: a unix socket at host) by
 * deadline: 0, or a negative errno with e filled. */
static int open_context(const struct region_global *b, const char *host, int port,
                        uint64_t deadline, redisContext **out, struct redis_error *e)
{
	struct endpoint_addr a;
	if (port != 0) {
		int rc = endpoint_address(b, host, (uint16_t)port, &a, e->text, sizeof e->text);
		return rc < 0 ? rc : connect_tcp(&a, deadline, out, e);
	}
	errno = 0;
	*out = redisConnectUnixWithTimeout(host, tv_of(left(deadline)));
	int err = errno;
	if (*out == NULL)
		return -ENOMEM;
	if ((*out)->err == 0)
		return 0;
	say(e, "connect", (*out)->errstr);
	return context_errno(*out, err);
}

int redis_connect(const struct region_global *b, uint64_t deadline, struct redis_conn **out,
                  struct redis_error *e)
{
	/* Copies bounded by the block: a corrupt region's strings may lack a NUL. */
	char host[REGION_GLOBAL_ENDPOINT], endpoint[REGION_GLOBAL_ENDPOINT], path[REGION_GLOBAL_PATH];
	snprintf(endpoint, sizeof endpoint, "%.*s", (int)sizeof b->redis - 1, b->redis);
	snprintf(path, sizeof path, "%.*s", (int)sizeof b->auth_file - 1, b->auth_file);
	int port = 0;
	if (global_endpoint(endpoint, host, sizeof host, &port) < 0) {
		say(e, "bad endpoint", endpoint);
		return -EINVAL;
	}
	struct redis_conn *c = malloc(sizeof *c);
	if (c == NULL)
		return -ENOMEM;
	c->timeout_ns = c->cur_ns = b->timeout_ns;
	c->c = NULL;
	int rc = open_context(b, host, port, deadline, &c->c, e);
	if (rc == 0 && redisSetTimeout(c->c, tv_of(b->timeout_ns)) != REDIS_OK)
		rc = -EIO;
	if (rc == 0 && path[0] != '\0')
		rc = auth(c, deadline, path, e);
	if (rc < 0) {
		redis_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int load_function(struct redis_conn *c, uint64_t deadline, struct redis_error *e)
{
	const char *argv[] = { "FUNCTION", "LOAD", "REPLACE", global_lua };
	size_t len[] = { 8, 4, 7, sizeof global_lua - 1 };
	int rc = 0;
	redisReply *r = call(c, deadline, 4, argv, len, e, &rc);
	if (r == NULL)
		return rc;
	rc = r->type == REDIS_REPLY_ERROR ? -EPROTO : 0;
	if (rc < 0)
		say(e, "FUNCTION LOAD", r->str);
	freeReplyObject(r);
	return rc;
}

/* The function global.lua registers: its name carries the version of its
 * arguments and reply (docs/design.md §10). */
#define GLOBAL_FUNCTION "evt_decide_v2"

/* 20 digits, zero-padded: the function's fixed-width form of a u64 (written
 * here rather than by snprintf: once per round trip). */
static void digits(char out[20], uint64_t v)
{
	for (int i = 19; i >= 0; i--, v /= 10)
		out[i] = (char)('0' + v % 10);
}

static int parse_u64(const char *s, size_t len, uint64_t *out)
{
	if (len == 0 || len > 20)
		return -EPROTO;
	uint64_t v = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9 || v > (UINT64_MAX - d) / 10)
			return -EPROTO;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* {1|0, LAST, EPOCH} from evt_decide_v2. */
static int answer(const redisReply *r, struct redis_ask *a, struct redis_error *e)
{
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[1]->type == REDIS_REPLY_STRING &&
	    r->element[2]->type == REDIS_REPLY_STRING &&
	    parse_u64(r->element[1]->str, r->element[1]->len, &a->last) == 0 &&
	    parse_u64(r->element[2]->str, r->element[2]->len, &a->epoch) == 0)
		return r->element[0]->integer == 1;
	say(e, "unexpected reply", r->type == REDIS_REPLY_ERROR ? r->str : "");
	return -EPROTO;
}

static bool not_loaded(const redisReply *r)
{
	return r->type == REDIS_REPLY_ERROR && strstr(r->str, "Function not found") != NULL;
}

/* Append ask's FCALL to the buffer *buf (of *used bytes): 0 or -ENOMEM. */
static int append(char **buf, size_t *used, const struct redis_ask *a)
{
	char t[20], bound[20], ttl[24];
	digits(t, a->ts);
	/* BOUND = TS - WINDOW, none when TS < WINDOW (global.lua): the function
	 * then only compares. */
	bool has_bound = a->ts >= a->window;
	if (has_bound)
		digits(bound, a->ts - a->window);
	snprintf(ttl, sizeof ttl, "%" PRIu64, a->ttl_ms);
	const char *argv[] = { "FCALL", GLOBAL_FUNCTION, "1", a->cfg, a->key, t, bound, ttl };
	size_t lens[] = { 5, sizeof GLOBAL_FUNCTION - 1, 1, a->cfg_len, a->len, 20,
	                  has_bound ? 20 : 0, strlen(ttl) };
	char *cmd = NULL;
	int n = redisFormatCommandArgv(&cmd, 8, argv, lens);
	char *grown = n < 0 ? NULL : realloc(*buf, *used + (size_t)n);
	if (grown != NULL) {
		memcpy(grown + *used, cmd, (size_t)n);
		*buf = grown;
		*used += (size_t)n;
	}
	redisFreeCommand(cmd);
	return grown != NULL ? 0 : -ENOMEM;
}

/* Send the FCALL of every ask whose rc is still `want` in one write, then read
 * their replies in order: 0, each one's rc set (-ENOENT: the server lacks the
 * function); or a negative errno of the connection, the asks answered before it
 * keeping their answers. */
static int pipeline(struct redis_conn *c, uint64_t deadline, struct redis_ask *a, size_t n,
                    int want, struct redis_error *e)
{
	char *buf = NULL;
	size_t used = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (a[i].rc == want)
			rc = append(&buf, &used, &a[i]);
	if (rc == 0 && (rc = meet(c, deadline, e)) == 0)
		rc = send_all(c->c->fd, buf, used, e);
	free(buf);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (a[i].rc != want)
			continue;
		void *r = NULL;
		errno = 0;
		if (redisGetReply(c->c, &r) != REDIS_OK) {
			rc = context_errno(c->c, errno);
			say(e, rc == -ETIMEDOUT ? "timed out" : "connection", c->c->errstr);
			break;
		}
		a[i].rc = not_loaded(r) ? -ENOENT : answer(r, &a[i], e);
		freeReplyObject(r);
	}
	return rc;
}

static bool any_unloaded(const struct redis_ask *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].rc == -ENOENT)
			return true;
	return false;
}

int redis_decide(struct redis_conn *c, uint64_t deadline, struct redis_ask *a, size_t n,
                 struct redis_error *e)
{
	for (size_t i = 0; i < n; i++)
		a[i].rc = -EAGAIN;
	int rc = pipeline(c, deadline, a, n, -EAGAIN, e);
	/* Only the asks the server could not run go again: the others were applied. */
	if (rc == 0 && any_unloaded(a, n) && (rc = load_function(c, deadline, e)) == 0)
		rc = pipeline(c, deadline, a, n, -ENOENT, e);
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (a[i].rc == -ENOENT)
			a[i].rc = -EPROTO;
	return rc;
}

/* One value of a reply: integer, nil (0), status, or decimal string. */
static int value(const redisReply *r, uint64_t *out)
{
	switch (r->type) {
	case REDIS_REPLY_INTEGER:
		*out = (uint64_t)r->integer;
		return 0;
	case REDIS_REPLY_NIL:
	case REDIS_REPLY_STATUS:
		*out = 0;
		return 0;
	case REDIS_REPLY_STRING:
		return parse_u64(r->str, r->len, out);
	default:
		return -EPROTO;
	}
}

int redis_integers(struct redis_conn *c, uint64_t deadline, int argc, const char **argv,
                   const size_t *len, uint64_t *out, size_t n, struct redis_error *e)
{
	int rc = 0;
	redisReply *r = call(c, deadline, argc, argv, len, e, &rc);
	if (r != NULL && not_loaded(r)) { /* an FCALL before any client loaded the library */
		freeReplyObject(r);
		r = (rc = load_function(c, deadline, e)) < 0 ? NULL
		                                               : call(c, deadline, argc, argv, len, e, &rc);
	}
	if (r == NULL)
		return rc;
	if (r->type == REDIS_REPLY_ARRAY)
		for (size_t i = 0; rc == 0 && i < r->elements && i < n; i++)
			rc = value(r->element[i], &out[i]);
	else
		rc = value(r, n > 0 ? out : &(uint64_t){ 0 });
	if (rc < 0)
		say(e, "unexpected reply", r->type == REDIS_REPLY_ERROR ? r->str : argv[0]);
	freeReplyObject(r);
	return rc;
}

int redis_relax(struct redis_conn *c)
{
	if (c->cur_ns == c->timeout_ns)
		return 0;
	c->cur_ns = c->timeout_ns;
	return redisSetTimeout(c->c, tv_of(c->timeout_ns)) == REDIS_OK ? 0 : -EIO;
}

int redis_psubscribe(struct redis_conn *c, uint64_t deadline, const char *pattern,
                     struct redis_error *e)
{
	const char *argv[] = { "PSUBSCRIBE", pattern };
	const size_t len[] = { 10, strlen(pattern) };
	int rc = 0;
	redisReply *r = call(c, deadline, 2, argv, len, e, &rc);
	if (r == NULL)
		return rc;
	/* ["psubscribe", pattern, count] */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "psubscribe") != 0) {
		say(e, "PSUBSCRIBE refused", r->type == REDIS_REPLY_ERROR ? r->str : "");
		rc = -EPROTO;
	}
	freeReplyObject(r);
	return rc;
}

int redis_fd(const struct redis_conn *c)
{
	return c->c->fd;
}

/* A pattern subscription's push: ["pmessage", pattern, channel, payload]. */
static bool is_message(const redisReply *r)
{
	return r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
	       r->element[0]->type == REDIS_REPLY_STRING &&
	       strcmp(r->element[0]->str, "pmessage") == 0 &&
	       r->element[2]->type == REDIS_REPLY_STRING && r->element[3]->type == REDIS_REPLY_STRING;
}

int redis_messages(struct redis_conn *c, bool read, redis_message_fn *fn, void *arg,
                   struct redis_error *e)
{
	errno = 0;
	if (read && redisBufferRead(c->c) != REDIS_OK) {
		int rc = context_errno(c->c, errno);
		say(e, "subscription", c->c->errstr);
		return rc;
	}
	int n = 0;
	for (;;) {
		void *p = NULL;
		if (redisGetReplyFromReader(c->c, &p) != REDIS_OK) {
			say(e, "subscription", c->c->errstr);
			return -EPROTO;
		}
		if (p == NULL)
			return n;
		redisReply *r = p;
		if (is_message(r)) {
			fn(arg, r->element[2]->str, r->element[2]->len, r->element[3]->str,
			   r->element[3]->len);
			n++;
		}
		freeReplyObject(r);
	}
}

void redis_close(struct redis_conn *c)
{
	if (c == NULL)
		return;
	if (c->c != NULL)
		redisFree(c->c);
	free(c);
}

void redis_abandon(struct redis_conn *c)
{
	if (c != NULL && c->c != NULL && c->c->fd >= 0)
		close(c->c->fd);
}
