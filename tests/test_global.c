/* Global throttles (issue 20): two hosts simulated as two regions with different
 * local names and one global name, against a real redis-server started here. */
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <pthread.h>

#include "common.h"
#include "handle.h"
#include "redis.h"
#include "redis_server.h"
#include "stress/checker.h"

static struct test_redis redis;

static void fini(void)
{
	redis_stop(&redis);
	unlink_names();
}

TestSuite(global, .fini = fini);

/* The test's own redis-server, started (the test is skipped, saying why, where
 * none is installed). */
static void with_redis(void)
{
	REDIS_REQUIRED();
	redis_start(&redis, NULL);
}

/* A global name unique to this test's process. */
static const char *global_name(void)
{
	static char buf[64];
	snprintf(buf, sizeof buf, "g.%d", (int)getpid());
	return buf;
}

static evt_options global_opts(evt_global *g, uint64_t window, uint32_t policy)
{
	*g = (evt_global){ .redis = redis.endpoint, .name = global_name(),
		           .timeout_ns = 500000000ull, .on_unreachable = policy };
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = window;
	o.capacity = 4096;
	o.mode = 0600;
	o.global = g;
	return o;
}

/* One host: a region of its own, global through Redis. */
static evt_throttle *host(uint64_t window, uint32_t policy)
{
	evt_global g;
	evt_options o = global_opts(&g, window, policy);
	return test_create(new_name(), &o);
}

static evt_stats stats(const evt_throttle *t)
{
	evt_stats s;
	cr_assert_eq(evt_stats_get(t, &s), 0);
	return s;
}

Test(global, bad_settings_are_refused_and_create_nothing)
{
	static char long_name[300];
	memset(long_name, 'n', sizeof long_name - 1);
	const struct {
		evt_global g;
		int rc;
	} bad[] = {
		{ { NULL, "x", 1000, 0, NULL }, -EINVAL },              /* no endpoint */
		{ { "unix:", "x", 1000, 0, NULL }, -EINVAL },           /* no path */
		{ { "host", "x", 1000, 0, NULL }, -EINVAL },            /* no port */
		{ { "host:0", "x", 1000, 0, NULL }, -EINVAL },          /* port out of range */
		{ { "host:65536", "x", 1000, 0, NULL }, -EINVAL },
		{ { ":6379", "x", 1000, 0, NULL }, -EINVAL },           /* no host */
		{ { "bad host:6379", "x", 1000, 0, NULL }, -EINVAL },   /* neither name nor address */
		{ { "a..b:6379", "x", 1000, 0, NULL }, -EINVAL },
		{ { "host:6379", "x", 0, 0, NULL }, -EINVAL },          /* timeout 0 */
		{ { "host:6379", "x", 1000, 3, NULL }, -EINVAL },       /* unknown policy */
		{ { "host:6379", long_name, 1000, 0, NULL }, -ENAMETOOLONG },
		{ { "host:6379", "x", 1000, 0, long_name }, -ENAMETOOLONG },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		evt_options o = EVT_OPTIONS_INIT;
		o.global = &bad[i].g;
		const char *name = new_name();
		evt_throttle *t = NULL;
		cr_expect_eq(evt_create(name, &o, &t), bad[i].rc, "case %zu", i);
		cr_expect_eq(evt_attach(name, 0, &t), -ENOENT, "case %zu created a region", i);
	}
	/* Redis's function applies the first-event rule: limit 1 only. */
	evt_global lg = { "host:6379", "x", 1000, 0, NULL };
	evt_options lo = EVT_OPTIONS_INIT;
	lo.global = &lg;
	lo.limit = 2;
	evt_throttle *lt = NULL;
	cr_expect_eq(evt_create(new_name(), &lo, &lt), -EINVAL, "limit 2 with global");
	/* An anonymous throttle has no name to default to. */
	evt_global g = { "host:6379", NULL, 1000, 0, NULL };
	evt_options o = EVT_OPTIONS_INIT;
	o.global = &g;
	evt_throttle *t = NULL;
	cr_expect_eq(evt_create(NULL, &o, &t), -EINVAL);
}

Test(global, the_region_records_the_settings)
{
	evt_global g = { "redis.example:6380", NULL, 2000000, EVT_ON_UNREACHABLE_THROTTLE,
		         "/etc/evthrottle/redis.auth" };
	evt_options o = EVT_OPTIONS_INIT;
	o.global = &g;
	const char *name = new_name();
	evt_throttle *t = test_create(name, &o);
	const struct region_global *b = t->r.global;
	cr_expect_eq(b->enabled, 1);
	cr_expect_str_eq(b->redis, "redis.example:6380");
	cr_expect_str_eq(b->name, name, "the global name defaults to the throttle's");
	cr_expect_eq(b->timeout_ns, 2000000);
	cr_expect_eq(b->on_unreachable, EVT_ON_UNREACHABLE_THROTTLE);
	cr_expect_str_eq(b->auth_file, "/etc/evthrottle/redis.auth");
	evt_close(t);
	/* Another process's view, through attach's validation. */
	cr_assert_eq(evt_attach(name, EVT_RDONLY, &t), 0);
	cr_expect_str_eq(t->r.global->redis, "redis.example:6380");
	evt_close(t);
}

Test(global, two_hosts_decide_by_one_rule)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	evt_throttle *b = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_expect_eq(decide(a, 10000, "acct"), 1);
	cr_expect_eq(decide(b, 10500, "acct"), 0, "processed on host a half a window ago");
	cr_expect_eq(decide(b, 10999, "acct"), 0, "now local on b: Redis gave it a's last");
	cr_expect_eq(stats(b).global_round_trips, 1, "the rest of the window stays on b");
	cr_expect_eq(decide(b, 11000, "acct"), 1, "a full window after a's event");
	cr_expect_eq(decide(a, 11500, "acct"), 0, "a asks Redis and learns b's event");
	cr_expect_eq(decide(a, 11400, "acct"), 0);
	cr_expect_eq(decide(a, 5, "acct"), 0, "older than last: throttled");
	cr_expect_eq(decide(a, 12000, "acct"), 1);
	cr_expect_eq(decide(b, 10, "other"), 1, "keys are apart");
	cr_expect_eq(decide(a, 11, "other"), 0);
	evt_stats sa = stats(a), sb = stats(b);
	cr_expect_eq(sa.processed + sb.processed, 4);
	cr_expect_eq(sa.throttled + sb.throttled, 6);
	cr_expect_eq(sa.global_errors + sb.global_errors, 0);
	cr_expect_eq(sa.global_fallbacks + sb.global_fallbacks, 0);
	cr_expect_eq(sa.keys, 2, "host a caches both keys");
	evt_close(a);
	evt_close(b);
}

/* The seed's rule, in C's exact 64-bit arithmetic. */
static int rule(bool known, uint64_t last, uint64_t ts, uint64_t w)
{
	return !known || (ts >= last && ts - last >= w);
}

Test(global, exact_64_bit_arithmetic_near_2_63_and_2_64)
{
	with_redis();
	const uint64_t M = UINT64_MAX, H = 1ull << 63;
	/* {window, first ts (processed), second ts}: each pair on a fresh key, the
	 * first on host a and the second on host b, so b's answer is Redis's.  Doubles
	 * would round every value here to a multiple of 2048 or more. */
	const uint64_t cases[][3] = {
		{ 10, M - 20, M - 11 }, { 10, M - 20, M - 10 }, { 10, M - 10, M },
		{ 10, M - 9, M },       { 1, M - 1, M },        { 2, M - 1, M },
		{ H, H, M },            { H, H - 1, M },        { M, 0, M },
		{ M, 1, M },            { 3, H - 1, H + 1 },    { 3, H - 1, H + 2 },
		{ 1, H, H },            { 1, H, H - 1 },        { 1ull << 53, H, H + (1ull << 53) - 1 },
		{ 1ull << 53, H, H + (1ull << 53) },            { 1, 0, M },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const uint64_t *c = cases[i];
		evt_throttle *a = host(c[0], EVT_ON_UNREACHABLE_THROTTLE);
		evt_throttle *b = host(c[0], EVT_ON_UNREACHABLE_THROTTLE);
		char key[32];
		snprintf(key, sizeof key, "k%zu", i);
		cr_expect_eq(decide(a, c[1], key), 1, "case %zu: first", i);
		cr_expect_eq(decide(b, c[2], key), rule(true, c[1], c[2], c[0]),
		             "case %zu: window %" PRIu64 ", last %" PRIu64 ", ts %" PRIu64, i, c[0],
		             c[1], c[2]);
		cr_expect_eq(stats(b).global_round_trips, 1, "case %zu", i);
		evt_close(a);
		evt_close(b);
		unlink_names();
	}
}

Test(global, a_flood_makes_one_round_trip_per_key_per_window_per_host)
{
	with_redis();
	const uint64_t W = 1000000;
	enum { KEYS = 200, WINDOWS = 5, PER = 100 };
	evt_throttle *h[2] = { host(W, EVT_ON_UNREACHABLE_THROTTLE),
		               host(W, EVT_ON_UNREACHABLE_THROTTLE) };
	uint64_t processed = 0;
	for (uint64_t e = 0; e < (uint64_t)WINDOWS * PER; e++) {
		uint64_t ts = 1000000000ull + e * (W / PER);
		for (int k = 0; k < KEYS; k++) {
			char key[16];
			snprintf(key, sizeof key, "acct%d", k);
			for (int i = 0; i < 2; i++)
				processed += (uint64_t)decide(h[i], ts + (uint64_t)i, key);
		}
	}
	cr_expect_eq(processed, (uint64_t)KEYS * WINDOWS, "one event per key per window");
	for (int i = 0; i < 2; i++) {
		evt_stats s = stats(h[i]);
		cr_expect_leq(s.global_round_trips, (uint64_t)KEYS * WINDOWS,
		              "host %d: %" PRIu64 " round trips for %d keys x %d windows", i,
		              s.global_round_trips, KEYS, WINDOWS);
		cr_expect_geq(s.global_round_trips, (uint64_t)KEYS * WINDOWS,
		              "host %d must learn of each window once", i);
		cr_expect_eq(s.global_errors, 0);
		evt_close(h[i]);
	}
}

/* evt_should_process_local(): the local tier's throttle, or -EWOULDBLOCK where the
 * event needs Redis, asking nothing and changing nothing; evt_is_global(). */
Test(global, deciding_locally_only_says_when_redis_is_needed)
{
	REDIS_REQUIRED();
	redis_start(&redis, NULL);
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE),
		     *b = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_expect_eq(evt_is_global(a), 1);
	cr_expect_eq(evt_should_process_local(a, 5000, "k", 1), -EWOULDBLOCK, "not cached");
	evt_stats s = stats(a);
	cr_expect_eq(s.global_round_trips + s.processed + s.throttled + s.keys, 0,
	             "-EWOULDBLOCK asked and changed nothing");
	cr_expect_eq(evt_should_process(a, 5000, NULL, "k", 1), 1);
	cr_expect_eq(evt_should_process_local(a, 5999, "k", 1), 0, "cached: inside the window");
	cr_expect_eq(evt_should_process_local(a, 4000, "k", 1), 0, "cached: before last");
	cr_expect_eq(evt_should_process_local(a, 6000, "k", 1), -EWOULDBLOCK, "window closed");
	s = stats(a);
	cr_expect_eq(s.global_round_trips, 1);
	cr_expect_eq(s.processed, 1);
	cr_expect_eq(s.throttled, 2);
	cr_expect_eq(s.out_of_order, 1);
	/* The other host has not cached it: it must ask (and Redis throttles). */
	cr_expect_eq(evt_should_process_local(b, 5500, "k", 1), -EWOULDBLOCK);
	cr_expect_eq(evt_should_process(b, 5500, NULL, "k", 1), 0);
	cr_expect_eq(evt_should_process_local(b, 5501, "k", 1), 0);
	cr_expect_eq(evt_should_process_local(a, 1, NULL, 1), -EINVAL);
	evt_close(a);
	evt_close(b);
	/* A host-local throttle decides in full, and is not global. */
	evt_options o = EVT_OPTIONS_INIT;
	o.window_ns = 1000;
	evt_throttle *l = test_create(new_name(), &o);
	cr_expect_eq(evt_is_global(l), 0);
	cr_expect_eq(evt_should_process_local(l, 5000, "k", 1), 1);
	cr_expect_eq(evt_should_process_local(l, 5999, "k", 1), 0);
	evt_close(l);
	cr_expect_eq(evt_is_global(NULL), -EINVAL);
}

/* ---- the history checker across hosts ---- */

enum { HOSTS = 2, PROCS = 2, EVENTS = 3000, HKEYS = 40 };

struct history {
	_Atomic uint64_t n;
	struct hrec rec[HOSTS * PROCS * EVENTS];
};

static void run_client(const char *name, struct history *hist, uint32_t src)
{
	evt_throttle *t = NULL;
	if (evt_attach(name, 0, &t) < 0)
		_exit(2);
	unsigned seed = src * 7919u + 1;
	for (int i = 0; i < EVENTS; i++) {
		unsigned key = (unsigned)rand_r(&seed) % HKEYS;
		char k[16];
		snprintf(k, sizeof k, "key%u", key);
		uint64_t s = evt_now_ns();
		int rc = decide(t, s, k);
		uint64_t e = evt_now_ns();
		uint64_t at = atomic_fetch_add(&hist->n, 1);
		hist->rec[at] = (struct hrec){ .ts = s, .s = s, .e = e, .key = key,
			                       .ans = rc == 1 ? H_PROCESSED : rc == 0 ? H_THROTTLED : H_OTHER,
			                       .src = src };
	}
	evt_close(t);
	_exit(0);
}

Test(global, histories_across_hosts_are_linearizable, .timeout = 120)
{
	with_redis();
	const uint64_t W = 2000000; /* 2 ms: many windows, many keys going global */
	const char *names[HOSTS];
	evt_throttle *hosts[HOSTS];
	for (int i = 0; i < HOSTS; i++) {
		hosts[i] = host(W, EVT_ON_UNREACHABLE_THROTTLE);
		names[i] = test_names[test_n_names - 1];
	}
	struct history *hist = mmap(NULL, sizeof *hist, PROT_READ | PROT_WRITE,
	                            MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(hist, MAP_FAILED);
	pid_t pids[HOSTS * PROCS];
	for (int i = 0; i < HOSTS * PROCS; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0)
			run_client(names[i % HOSTS], hist, (uint32_t)i);
	}
	for (int i = 0; i < HOSTS * PROCS; i++) {
		int st;
		waitpid(pids[i], &st, 0);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "client %d failed", i);
	}
	size_t n = atomic_load(&hist->n);
	struct wchange w = { 0, 0, W };
	struct checker c;
	cr_assert_eq(checker_init(&c, &w, 1, NULL, 0), 0);
	checker_run(&c, hist->rec, n);
	for (unsigned i = 0; i < c.nreport; i++)
		cr_log_error("%s", c.report[i]);
	cr_expect_eq(c.st.violations, 0, "%" PRIu64 " violations in %zu decisions",
	             c.st.violations, n);
	cr_expect_gt(c.st.processed, HKEYS, "keys were processed again after their windows");
	cr_expect_eq(c.st.other, 0, "every answer 0 or 1: Redis answered every time");
	uint64_t rt = 0, processed = 0;
	for (int i = 0; i < HOSTS; i++) {
		evt_stats s = stats(hosts[i]);
		rt += s.global_round_trips;
		processed += s.processed;
		cr_expect_eq(s.global_errors, 0);
	}
	/* Each round trip of a host meets a globally processed event of its own:
	 * its own, or the one Redis returned, which the host then keeps until its
	 * window ends.  So a host never makes more round trips than there were
	 * processed events on all hosts. */
	for (int i = 0; i < HOSTS; i++)
		cr_expect_leq(stats(hosts[i]).global_round_trips, processed);
	cr_log_info("%zu decisions, %" PRIu64 " processed, %" PRIu64 " round trips", n, processed, rt);
	checker_free(&c);
	munmap(hist, sizeof *hist);
	for (int i = 0; i < HOSTS; i++)
		evt_close(hosts[i]);
}

/* ---- Redis down or slow ---- */

/* A host on endpoint (NULL: the test's server) with a timeout, a policy and a
 * credentials file (NULL: none) of its own. */
static evt_throttle *host_at(const char *endpoint, uint64_t timeout_ns, uint32_t policy,
                             const char *auth)
{
	evt_global g;
	evt_options o = global_opts(&g, 1000, policy);
	g.redis = endpoint != NULL ? endpoint : g.redis;
	g.timeout_ns = timeout_ns;
	g.auth_file = auth;
	return test_create(new_name(), &o);
}

static evt_throttle *host_timeout(uint64_t timeout_ns, uint32_t policy)
{
	return host_at(NULL, timeout_ns, policy, NULL);
}

/* Decide key at ts and say how long the call took in *ns. */
static int timed(evt_throttle *t, uint64_t ts, const char *key, uint64_t *ns)
{
	uint64_t s = evt_now_ns();
	int rc = decide(t, ts, key);
	*ns = evt_now_ns() - s;
	return rc;
}

static void sleep_ms(unsigned ms)
{
	struct timespec d = { ms / 1000, (long)(ms % 1000) * 1000000 };
	nanosleep(&d, NULL);
}

/* Generous: a loaded machine may deschedule the caller; what is asserted is that
 * no decision waits a second timeout, let alone one per event. */
#define SLACK_NS 150000000ull

Test(global, redis_stopped_then_killed_then_restarted, .timeout = 60)
{
	with_redis();
	const uint64_t T = 50000000; /* 50 ms */
	evt_throttle *t = host_timeout(T, EVT_ON_UNREACHABLE_THROTTLE);
	uint64_t ns, ts = 1000000;
	cr_assert_eq(timed(t, ts, "before", &ns), 1);

	/* Stopped: the first decision that asks waits its timeout, no more. */
	kill(redis.pid, SIGSTOP);
	cr_expect_eq(timed(t, ts, "k0", &ns), 0, "on_unreachable = throttle answers");
	cr_expect_leq(ns, T + SLACK_NS, "a decision waited %" PRIu64 " ns, timeout %" PRIu64, ns, T);
	cr_expect_geq(ns, T / 2, "it did wait for Redis (%" PRIu64 " ns)", ns);
	/* The breaker is open: a flood is answered at once, without asking (were each
	 * to wait its timeout, the thousand would take 50 s). */
	uint64_t all = evt_now_ns();
	for (int i = 1; i <= 1000; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		cr_expect_eq(timed(t, ts, key, &ns), 0);
	}
	all = evt_now_ns() - all;
	cr_expect_lt(all, 2 * T + SLACK_NS, "1,000 decisions behind the breaker took %" PRIu64 " ns",
	             all);
	evt_stats s = stats(t);
	cr_expect_leq(s.global_errors, 2, "%" PRIu64 " errors: the breaker stops the asking",
	              s.global_errors);
	cr_expect_geq(s.global_errors, 1);
	cr_expect_eq(s.global_fallbacks, 1001);
	const struct region_global *b = t->r.global;
	cr_expect_geq(atomic_load(&b->last_error_ns), atomic_load(&b->ok_since_ns), "down");
	cr_expect_not_null(strstr((const char *)b->last_error, "timed out"), "last error: %s",
	                   (const char *)b->last_error);

	/* Killed: refused at once, once per breaker period. */
	redis_kill(&redis);
	sleep_ms(150);
	cr_expect_eq(timed(t, ts, "dead", &ns), 0);
	cr_expect_leq(ns, T + SLACK_NS);
	cr_expect_eq(stats(t).global_errors, s.global_errors + 1);

	/* Restarted: the throttle comes back by itself within a breaker period. */
	redis_start(&redis, NULL);
	int rc = 0;
	for (int i = 0; i < 300 && rc != 1; i++) {
		char key[16];
		snprintf(key, sizeof key, "after%d", i);
		rc = timed(t, ts, key, &ns);
		cr_expect_leq(ns, T + SLACK_NS);
		if (rc != 1)
			sleep_ms(10);
	}
	cr_expect_eq(rc, 1, "Redis answers again");
	cr_expect_gt(atomic_load(&b->ok_since_ns), atomic_load(&b->last_error_ns), "up again");
	evt_close(t);
}

Test(global, every_policy_answers_while_redis_is_unreachable)
{
	/* No server at all: a socket path in a directory that does not exist. */
	snprintf(redis.endpoint, sizeof redis.endpoint, "unix:/nonexistent/%d.sock", (int)getpid());
	evt_throttle *local = host_timeout(1000000, EVT_ON_UNREACHABLE_LOCAL);
	evt_throttle *closed = host_timeout(1000000, EVT_ON_UNREACHABLE_THROTTLE);
	evt_throttle *open = host_timeout(1000000, EVT_ON_UNREACHABLE_PROCESS);
	cr_expect_eq(decide(local, 5000, "k"), 1, "local: this host's table decides");
	cr_expect_eq(decide(local, 5500, "k"), 0, "local: within the window");
	cr_expect_eq(decide(local, 6000, "k"), 1);
	cr_expect_eq(decide(closed, 5000, "k"), 0);
	cr_expect_eq(decide(open, 5000, "k"), 1);
	cr_expect_eq(decide(open, 5001, "k"), 1);
	evt_stats s = stats(local);
	cr_expect_eq(s.processed, 2);
	cr_expect_eq(s.throttled, 1);
	cr_expect_eq(s.global_fallbacks, 2, "5500 was throttled by the cache: no need for Redis");
	cr_expect_eq(s.global_errors, 1, "one failure, then the breaker");
	cr_expect_eq(stats(open).processed, 2);
	cr_expect_eq(stats(closed).throttled, 1);
	cr_assert_eq(evt_set_shadow(closed, 1), 0);
	cr_expect_eq(decide(closed, 5001, "k"), 1, "throttle: answered 1 in shadow mode");
	cr_expect_eq(stats(closed).would_throttle, 1);
	cr_expect_not_null(strstr((const char *)local->r.global->last_error, "connect"), "%s",
	                   (const char *)local->r.global->last_error);
	evt_close(local);
	evt_close(closed);
	evt_close(open);
}

/* ---- the tools ---- */

/* Run tool (EVT_INSPECT or EVT_CTL) with args; its stdout. */
static char *tool_output(const char *tool, const char *args)
{
	static char out[16384];
	char cmd[1024];
	cr_assert_not_null(getenv(tool), "%s is not set (run through meson test)", tool);
	snprintf(cmd, sizeof cmd, "%s %s 2>&1", getenv(tool), args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	return out;
}

static void expect_in(const char *text, const char *want)
{
	cr_expect_not_null(strstr(text, want), "want '%s' in:\n%s", want, text);
}

Test(global, the_tools_show_a_global_throttles_state)
{
	with_redis();
	evt_throttle *t = host(1000, EVT_ON_UNREACHABLE_PROCESS);
	const char *name = test_names[test_n_names - 1];
	cr_assert_eq(decide(t, 10, "k"), 1);
	cr_assert_eq(decide(t, 20, "k"), 0);
	char args[256], want[300];
	snprintf(args, sizeof args, "-n %s --json stats", name);
	char *json = tool_output("EVT_INSPECT", args);
	expect_in(json, "\"global_round_trips\":1,");
	expect_in(json, "\"global_fallbacks\":0,");
	expect_in(json, "\"global_errors\":0,");
	snprintf(want, sizeof want, "\"redis\":\"%s\"", redis.endpoint);
	expect_in(json, want);
	expect_in(json, "\"connected\":true");
	expect_in(json, "\"on_unreachable\":\"process\"");

	redis_kill(&redis);
	cr_assert_eq(decide(t, 5000, "k"), 1, "on_unreachable = process");
	snprintf(args, sizeof args, "-n %s stats", name);
	char *text = tool_output("EVT_INSPECT", args);
	snprintf(want, sizeof want, "%s through redis %s", global_name(), redis.endpoint);
	expect_in(text, want);
	expect_in(text, "unreachable for");
	expect_in(text, "round trips      2 (fallbacks 1, errors 1)");
	snprintf(args, sizeof args, "-n %s --prometheus stats", name);
	char *prom = tool_output("EVT_INSPECT", args);
	snprintf(want, sizeof want, "evthrottle_global_fallbacks_total{throttle=\"%s\"} 1", name);
	expect_in(prom, want);
	snprintf(want, sizeof want, "evthrottle_global_redis_up{throttle=\"%s\"} 0", name);
	expect_in(prom, want);
	evt_close(t);
}

/* ---- batches ---- */

Test(global, a_batch_pipelines_and_answers_as_single_calls)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	evt_throttle *b = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(decide(b, 50, "k2"), 1);
	cr_assert_eq(decide(a, 60, "k4"), 1, "cached on a: throttled there without Redis");
	/* 40 events; keys repeat inside a batch, a few events apart. */
	evt_event ev[40];
	char keys[40][8];
	int want[40];
	for (int i = 0; i < 40; i++) {
		static const char *const k[] = { "k1", "k1", "k2", "k1", "k3", "k4", "k5", "k5" };
		static const uint64_t ts[] = { 100, 150, 100, 1100, 5, 70, 3000, 3999 };
		static const int ans[] = { 1, 0, 0, 1, 1, 0, 1, 0 };
		/* each round of 8 events on its own keys, shifted by a round number */
		snprintf(keys[i], sizeof keys[i], "%s.%d", k[i % 8], i / 8);
		if (i % 8 == 2 || i % 8 == 5)
			snprintf(keys[i], sizeof keys[i], "%s", k[i % 8]); /* b's and a's keys */
		ev[i] = (evt_event){ .ts_ns = ts[i % 8], .key = keys[i], .key_len = strlen(keys[i]) };
		want[i] = i < 8 || (i % 8 != 2 && i % 8 != 5) ? ans[i % 8] : 0;
	}
	int processed = evt_should_process_batch(a, ev, 40);
	int expected = 0;
	for (int i = 0; i < 40; i++) {
		cr_expect_eq(ev[i].result, want[i], "event %d (%s at %" PRIu64 ")", i, keys[i],
		             ev[i].ts_ns);
		expected += want[i] == 1;
	}
	cr_expect_eq(processed, expected);
	/* The round trips of single calls in order: a's k4 before, then of each round
	 * but the k4 event (cached before) and the second of k1 and of k5 (cached from
	 * the first's answer), k2 in round 0 only (cached from its answer then). */
	cr_expect_eq(stats(a).global_round_trips, 1 + 5 + 4 * 4, "%" PRIu64,
	             stats(a).global_round_trips);
	cr_expect_eq(decide(b, 120, "k1.0"), 0, "b learns a's batch from Redis");
	evt_close(a);
	evt_close(b);
}

/* Host w of its own global throttle (window 1000 ns, the name suffixed by w). */
static evt_throttle *host_named(int w)
{
	evt_global g;
	evt_options o = global_opts(&g, 1000, EVT_ON_UNREACHABLE_THROTTLE);
	char gname[80];
	snprintf(gname, sizeof gname, "%.60s.m%d", global_name(), w);
	g.name = gname;
	return test_create(new_name(), &o);
}

/* 180 events (three groups over 64): keys that are prefixes of one another or
 * differ after a NUL, one three times in a row, invalid ones (NULL, empty), 23
 * keys repeated at random distances, some events before their key's last.  The
 * batch answers, reasons and counts as single calls in order on a twin host. */
Test(global, a_batch_of_mixed_keys_answers_and_counts_as_single_calls)
{
	with_redis();
	evt_throttle *a = host_named(0), *b = host_named(1);
	static const char *const fixed[] = { "ab", "ab\0", "a", "ab", "ab", "x\0y", "x\0z", "ab\0",
		                             NULL, "" };
	static const size_t flen[] = { 2, 3, 1, 2, 2, 3, 3, 3, 4, 0 };
	char keys[180][8];
	evt_event ev[180];
	size_t n = 0;
	for (int r = 0; r < 3; r++) {
		for (int i = 0; i < 10; i++, n++)
			ev[n] = (evt_event){ .ts_ns = 1000 + n * 37, .key = fixed[i], .key_len = flen[i] };
		for (int i = 0; i < 50; i++, n++) {
			snprintf(keys[n], sizeof keys[n], "k%d", (i * 7 + r) % 23);
			ev[n] = (evt_event){ .ts_ns = 1000 + n * 37 - (i % 5 == 0 ? 500 : 0),
				             .key = keys[n], .key_len = strlen(keys[n]) };
		}
	}
	evt_event single[180];
	memcpy(single, ev, sizeof ev);
	int processed = evt_should_process_batch(a, ev, n), want = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned info = 0;
		int rc = evt_should_process_ex(b, single[i].ts_ns, NULL, single[i].key,
		                               single[i].key_len, &info);
		want += rc == 1;
		cr_expect(ev[i].result == rc && ev[i].info == info,
		          "event %zu: the batch answered %d (info %#x), a single call %d (%#x)", i,
		          ev[i].result, ev[i].info, rc, info);
	}
	cr_expect_eq(processed, want);
	evt_stats s = stats(a), g = stats(b);
	cr_expect(s.processed == g.processed && s.throttled == g.throttled &&
	                  s.inside_window == g.inside_window && s.out_of_order == g.out_of_order &&
	                  s.global_round_trips == g.global_round_trips && s.keys == g.keys,
	          "the batch counted %" PRIu64 " processed, %" PRIu64 " throttled, %" PRIu64
	          " round trips; single calls %" PRIu64 ", %" PRIu64 ", %" PRIu64,
	          s.processed, s.throttled, s.global_round_trips, g.processed, g.throttled,
	          g.global_round_trips);
	evt_close(a);
	evt_close(b);
}

/* A flood decided by bursts in which each key comes twice, 8 keys apart: as
 * single calls, one round trip per key per window per host, the second event
 * throttled by the first's cached answer.  A burst sent both events of a key
 * to Redis in one pipeline before (two round trips, the second answer Redis's
 * throttle of the first). */
Test(global, a_batch_flood_makes_one_round_trip_per_key_per_window_per_host)
{
	with_redis();
	const uint64_t W = 1000000;
	enum { KEYS = 32, BURST = 64, WINDOWS = 5, PER = 10 };
	evt_throttle *h[2] = { host(W, EVT_ON_UNREACHABLE_THROTTLE),
		               host(W, EVT_ON_UNREACHABLE_THROTTLE) };
	char keys[KEYS][8];
	for (int k = 0; k < KEYS; k++)
		snprintf(keys[k], sizeof keys[k], "acct%d", k);
	uint64_t processed = 0;
	for (uint64_t e = 0; e < (uint64_t)WINDOWS * PER; e++)
		for (int i = 0; i < 2; i++) {
			evt_event ev[BURST];
			for (int j = 0; j < BURST; j++) {
				const char *key = keys[j % 8 + 8 * (j / 16)]; /* 0..7 twice, 8..15 twice, ... */
				ev[j] = (evt_event){ .ts_ns = 1000000000ull + e * (W / PER) + (uint64_t)i,
					             .key = key, .key_len = strlen(key) };
			}
			int n = evt_should_process_batch(h[i], ev, BURST);
			cr_assert_geq(n, 0);
			processed += (uint64_t)n;
		}
	cr_expect_eq(processed, (uint64_t)KEYS * WINDOWS, "one event per key per window");
	for (int i = 0; i < 2; i++) {
		evt_stats s = stats(h[i]);
		cr_expect_eq(s.global_round_trips, (uint64_t)KEYS * WINDOWS,
		             "host %d: %" PRIu64 " round trips for %d keys x %d windows", i,
		             s.global_round_trips, KEYS, WINDOWS);
		cr_expect_eq(s.global_errors, 0);
		evt_close(h[i]);
	}
}

/* ---- credentials ---- */

static const char *auth_file(const char *text, mode_t mode)
{
	static char path[128];
	snprintf(path, sizeof path, "%s/auth", redis.dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

static evt_throttle *host_auth(const char *file)
{
	return host_at(NULL, 500000000ull, EVT_ON_UNREACHABLE_THROTTLE, file);
}

Test(global, auth_from_the_credentials_file_never_shown)
{
	REDIS_REQUIRED();
	static const char *const extra[] = { "--user", "gw", "on", ">s3cret-pw", "~evt:*", "+@all",
		                             "--user", "default", "off", NULL };
	redis_start_as(&redis, extra, "gw", "s3cret-pw");
	evt_throttle *ok = host_auth(auth_file("gw s3cret-pw\n", 0600));
	cr_expect_eq(decide(ok, 10, "k"), 1, "AUTH gw s3cret-pw");
	cr_expect_eq(stats(ok).global_errors, 0);
	evt_throttle *bad = host_auth(auth_file("gw wrong-pw\n", 0600));
	cr_expect_eq(decide(bad, 20, "j"), 0, "refused: on_unreachable = throttle");
	cr_expect_eq(stats(bad).global_errors, 1);
	const char *err = (const char *)bad->r.global->last_error;
	cr_expect_not_null(strstr(err, "AUTH refused"), "%s", err);
	cr_expect_null(strstr(err, "wrong-pw"), "the password is in the error: %s", err);
	evt_throttle *none = host_auth(NULL);
	cr_expect_eq(decide(none, 30, "i"), 0, "no credentials: the server refuses the call");
	cr_expect_eq(stats(none).global_errors, 1);
	evt_close(ok);
	evt_close(bad);
	evt_close(none);
}

/* ---- the shared clock ---- */

Test(global, evt_realtime_ns_is_the_realtime_clock)
{
	struct timespec a, b;
	clock_gettime(CLOCK_REALTIME, &a);
	uint64_t t = evt_realtime_ns();
	clock_gettime(CLOCK_REALTIME, &b);
	uint64_t lo = (uint64_t)a.tv_sec * 1000000000ull + (uint64_t)a.tv_nsec;
	uint64_t hi = (uint64_t)b.tv_sec * 1000000000ull + (uint64_t)b.tv_nsec;
	cr_expect(t >= lo && t <= hi, "%" PRIu64 " not in [%" PRIu64 ", %" PRIu64 "]", t, lo, hi);
	cr_expect_gt(t, 1600000000ull * 1000000000ull, "nanoseconds since 1970");
}

/* A connection made before an outage is not trusted after it: the first decision
 * of a handle that slept through the outage connects anew instead of failing on
 * the dead socket (which flapped the status and reopened the breaker). */
Test(global, a_connection_from_before_an_outage_is_not_reused)
{
	with_redis();
	evt_throttle *a = host_timeout(50000000, EVT_ON_UNREACHABLE_THROTTLE);
	evt_throttle *b;
	cr_assert_eq(evt_attach(test_names[test_n_names - 1], 0, &b), 0, "a second client");
	cr_assert_eq(decide(a, 10, "a0"), 1);
	cr_assert_eq(decide(b, 10, "b0"), 1, "b is connected too");
	redis_kill(&redis);
	cr_expect_eq(decide(a, 10, "a1"), 0, "down: the policy answers");
	redis_start(&redis, NULL);
	sleep_ms(150); /* past the breaker */
	cr_expect_eq(decide(a, 10, "a2"), 1, "a probes and recovers");
	uint64_t errors = stats(a).global_errors;
	cr_expect_eq(decide(b, 10, "b1"), 1, "b's old connection was to the killed server");
	cr_expect_eq(stats(a).global_errors, errors, "no failure after the recovery");
	evt_close(b);
	evt_close(a);
}

/* ---- review of #20: reproducers ---- */

/* A command to the test's server, as the test's own client. */
static void redis_do(const char *cmd)
{
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectUnixWithTimeout(redis.sock, tv);
	cr_assert(c != NULL && c->err == 0);
	redisReply *rep = redisCommand(c, cmd);
	cr_assert_not_null(rep, "%s", cmd);
	freeReplyObject(rep);
	redisFree(c);
}

/* Redis restarted without its data (or FLUSHALL) after a clear: host a keeps
 * epoch 1, a new host b reads epoch 0 (the daemon's sync raises only) and the
 * two hosts decide on different Redis keys: both process the key at once. */
Test(global, hosts_agree_on_the_epoch_after_redis_loses_its_data)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_geq(evt_clear(a), 0);
	redis_do("FLUSHALL");
	evt_throttle *b = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	uint64_t w, e;
	struct redis_conn *c = NULL;
	struct redis_error err;
	uint64_t until = evt_now_ns() + b->r.global->timeout_ns;
	cr_assert_eq(global_read_settings(&c, b->r.global, until, &w, &e, &err), 0,
	             "b's daemon syncs");
	redis_close(c);
	global_set_epoch(&b->r, e);
	int both = decide(a, 100, "k") + decide(b, 100, "k");
	cr_expect_eq(both, 1, "one key, one instant, two hosts: processed %d times", both);
	evt_close(a);
	evt_close(b);
}

/* A key whose stored value is not 20 digits (written by anything else, or a
 * future format) makes the function raise a Lua error; that error reply opens
 * the host's breaker, and every other key is answered by the policy. */
Test(global, a_malformed_stored_value_fails_only_its_key)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "SET evt:{%s}:0:bad 12x", global_name());
	redis_do(cmd);
	(void)decide(a, 10, "bad");
	cr_expect_eq(decide(a, 10, "good"), 1, "Redis answers; a healthy key is not the policy's");
	/* 20 characters, and Lua's tonumber() reads both halves ("0x00000000",
	 * "0000000001"): only the digits check keeps it from being a last of 1. */
	snprintf(cmd, sizeof cmd, "SET evt:{%s}:0:hex 0x000000000000000001", global_name());
	redis_do(cmd);
	cr_expect_eq(decide(a, 10, "hex"), 1, "a malformed 20-character value is no last");
	cr_expect_eq(stats(a).global_fallbacks, 0, "fallbacks: %" PRIu64,
	             stats(a).global_fallbacks);
	evt_close(a);
}

/* A fake server that answers AUTH and then the call, each after delay_ms. */
struct slow_server {
	int lfd;
	unsigned delay_ms;
	char path[108];
	char endpoint[140]; /* "unix:" path */
	pthread_t th;
};

/* Listen on a unix socket of this test's own (tag names it) and serve it with
 * serve in a thread. */
static void fake_start(struct slow_server *s, const char *tag, unsigned delay_ms,
                       void *(*serve)(void *))
{
	snprintf(s->path, sizeof s->path, "/tmp/evt-%s.%d.sock", tag, (int)getpid());
	snprintf(s->endpoint, sizeof s->endpoint, "unix:%s", s->path);
	unlink(s->path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", s->path);
	s->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	s->delay_ms = delay_ms;
	cr_assert(bind(s->lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(s->lfd, 4) == 0);
	pthread_create(&s->th, NULL, serve, s);
}

static void fake_stop(struct slow_server *s)
{
	pthread_join(s->th, NULL);
	close(s->lfd);
	unlink(s->path);
}

static void *slow_serve(void *arg)
{
	struct slow_server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	char buf[4096];
	static const char *const replies[] = { "+OK\r\n",
		                               "*3\r\n:1\r\n$20\r\n00000000000000000010\r\n$1\r\n0\r\n" };
	for (int i = 0; fd >= 0 && i < 2; i++) {
		if (read(fd, buf, sizeof buf) <= 0)
			break;
		sleep_ms(s->delay_ms);
		if (send(fd, replies[i], strlen(replies[i]), MSG_NOSIGNAL) < 0)
			break;
	}
	sleep_ms(200);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* One deadline from the moment a decision needs Redis (docs/design.md): a slow
 * AUTH (0.9 timeout) leaves 0.1 timeout for the call, yet ask() gives the call a
 * whole timeout of its own, so the decision waits about 1.8 timeouts. */
Test(global, one_deadline_bounds_auth_and_the_call)
{
	char file[128];
	snprintf(file, sizeof file, "/tmp/evt-slow.%d.auth", (int)getpid());
	FILE *f = fopen(file, "w");
	cr_assert_not_null(f);
	fputs("pw\n", f);
	fclose(f);
	struct slow_server s;
	fake_start(&s, "slow", 270, slow_serve);
	evt_throttle *t = host_at(s.endpoint, 300000000ull, EVT_ON_UNREACHABLE_THROTTLE, file);
	uint64_t ns;
	int rc = timed(t, 10, "k", &ns);
	fake_stop(&s);
	unlink(file);
	cr_expect_lt(ns, 300000000ull + SLACK_NS, "waited %" PRIu64 " ns with a 300 ms timeout", ns);
	cr_expect_eq(rc, 0, "the call's answer came after the deadline: the policy's answer");
	evt_close(t);
}

/* fork() while another thread of the parent is inside a call on the handle (its
 * lock held): the child discards the parent's socket, but waits on a lock no
 * thread of its own will ever release, so it can never ask Redis. */
Test(global, a_child_forked_during_a_call_can_ask_redis)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(decide(a, 10, "p"), 1, "the parent is connected");
	pthread_mutex_lock(&a->global->lock); /* another thread mid-call */
	pid_t pid = fork();
	if (pid == 0) {
		sleep_ms(150); /* past any breaker */
		_exit(decide(a, 10, "c") == 1 ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	pthread_mutex_unlock(&a->global->lock);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child's decision was the policy's");
	evt_close(a);
}

/* The same with a child made by _Fork(), which runs no pthread_atfork handler
 * (as a raw clone() or fork syscall): the child must still be told from the
 * parent, or it waits on the parent's held lock and would write on its socket. */
Test(global, a_child_made_without_atfork_handlers_can_ask_redis)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(decide(a, 10, "p"), 1, "the parent is connected");
	struct redis_conn *parents = a->global->conn;
	pthread_mutex_lock(&a->global->lock); /* another thread mid-call */
	pid_t pid = _Fork();
	if (pid == 0) {
		sleep_ms(150); /* past any breaker */
		int rc = decide(a, 10, "c");
		_exit(rc == 1 && a->global->conn != parents ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	pthread_mutex_unlock(&a->global->lock);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	          "the child's decision was the policy's, or made on the parent's connection");
	evt_close(a);
}

/* A forked child's threads, started before any of them used the handle, asking
 * Redis at once (each its own key): all must adopt the handle as one. */
#define CHILD_THREADS 8
#define CHILDREN 120 /* forks: the race is one of microseconds */

struct child_thread {
	evt_throttle *t;
	pthread_barrier_t *go;
	char key[8];
	int rc;
};

static void *child_thread(void *arg)
{
	struct child_thread *c = arg;
	pthread_barrier_wait(c->go);
	c->rc = evt_should_process(c->t, 10, NULL, c->key, strlen(c->key));
	return NULL;
}

/* 0 if every thread's new key was processed, else 1. */
static int child_threads_decide(evt_throttle *t, int child)
{
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, CHILD_THREADS);
	struct child_thread c[CHILD_THREADS];
	pthread_t th[CHILD_THREADS];
	for (int i = 0; i < CHILD_THREADS; i++) {
		c[i] = (struct child_thread){ t, &go, "", -1 };
		snprintf(c[i].key, sizeof c[i].key, "c%dt%d", child, i);
		pthread_create(&th[i], NULL, child_thread, &c[i]);
	}
	int bad = 0;
	for (int i = 0; i < CHILD_THREADS; i++) {
		pthread_join(th[i], NULL);
		bad |= c[i].rc != 1;
	}
	return bad;
}

/* Each child adopts the handle once, from whichever of its threads comes first:
 * two adopting at once made the lock anew under each other (both in the call on
 * one connection) and closed the other's new socket (an error: the policy's 0). */
Test(global, a_childs_threads_adopt_the_handle_as_one, .timeout = 60)
{
#if defined(__SANITIZE_THREAD__)
	/* TSan ends a child of a multithreaded process that starts threads
	 * (die_after_fork: unsupported); the plain, ASan and -O3 steps run it. */
	cr_skip_test("ThreadSanitizer does not support threads started after a multithreaded "
	             "fork");
#endif
	with_redis();
	evt_throttle *a = host(1000000000ull, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(decide(a, 10, "p"), 1, "the parent is connected");
	int failed = 0;
	for (int child = 0; child < CHILDREN; child++) {
		pid_t pid = fork();
		if (pid == 0)
			_exit(child_threads_decide(a, child));
		int st = 0;
		waitpid(pid, &st, 0);
		failed += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
	}
	cr_expect_eq(failed, 0, "%d of %d children had a thread answered other than 1", failed, CHILDREN);
	evt_close(a);
}

/* A fake server that reads once, answers the first of two FCALLs, then stalls. */
static void *half_serve(void *arg)
{
	struct slow_server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	char buf[4096];
	static const char reply[] = "*3\r\n:1\r\n$20\r\n00000000000000000010\r\n$1\r\n0\r\n";
	if (fd >= 0 && read(fd, buf, sizeof buf) > 0 &&
	    send(fd, reply, sizeof reply - 1, MSG_NOSIGNAL) > 0)
		sleep_ms(s->delay_ms);
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* A pipeline that times out after its first answer: Redis processed (stored) the
 * first event, yet every event of the group gets the policy's answer, so with
 * on_unreachable = throttle no host processes it for a whole window. */
Test(global, answers_read_before_a_pipeline_fails_are_kept)
{
	struct slow_server s;
	fake_start(&s, "half", 400, half_serve);
	evt_throttle *t = host_at(s.endpoint, 100000000ull, EVT_ON_UNREACHABLE_THROTTLE, NULL);
	evt_event ev[2] = { { .ts_ns = 10, .key = "a", .key_len = 1 },
		            { .ts_ns = 10, .key = "b", .key_len = 1 } };
	(void)evt_should_process_batch(t, ev, 2);
	fake_stop(&s);
	cr_expect_eq(ev[0].result, 1, "Redis stored a's event as processed: a must be processed");
	cr_expect_eq(ev[1].result, 0, "b: the policy's answer");
	evt_close(t);
}

/* A fake server that answers every FCALL it reads as processed (at 10) and
 * records how many the first read brought. */
static _Atomic int first_read_calls;

static void *count_serve(void *arg)
{
	struct slow_server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	static char buf[1 << 16];
	static const char reply[] = "*3\r\n:1\r\n$20\r\n00000000000000000010\r\n$1\r\n0\r\n";
	ssize_t got;
	for (int reads = 0; fd >= 0 && (got = read(fd, buf, sizeof buf)) > 0; reads++) {
		int calls = 0;
		for (const char *p = buf; (p = memmem(p, (size_t)(buf + got - p), "evt_decide_v2", 13));
		     p += 13)
			calls++;
		if (reads == 0)
			first_read_calls = calls;
		for (int i = 0; i < calls; i++)
			if (send(fd, reply, sizeof reply - 1, MSG_NOSIGNAL) < 0)
				break;
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* A burst of 64 new keys (a window boundary of a flood whose windows are
 * aligned): its 64 round trips are one pipeline, written at once, so that they
 * cost one pair of context switches rather than four (issue 20).  Before, a
 * batch went in groups of 16: the server's first read brought 16 calls. */
Test(global, a_burst_of_64_new_keys_is_one_pipeline)
{
	struct slow_server s;
	fake_start(&s, "count", 0, count_serve);
	evt_throttle *t = host_at(s.endpoint, 500000000ull, EVT_ON_UNREACHABLE_THROTTLE, NULL);
	evt_event ev[64];
	char keys[64][8];
	for (int i = 0; i < 64; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		ev[i] = (evt_event){ .ts_ns = 10, .key = keys[i], .key_len = strlen(keys[i]) };
	}
	int n = evt_should_process_batch(t, ev, 64);
	evt_stats st = stats(t);
	evt_close(t); /* the server reads until the client hangs up */
	fake_stop(&s);
	cr_expect_eq(first_read_calls, 64, "the server's first read brought %d calls",
	             first_read_calls);
	cr_expect_eq(n, 64, "every answer was Redis's: %d processed", n);
	cr_expect_eq(st.global_round_trips, 64);
	cr_expect_eq(st.global_fallbacks, 0);
}

/* What a one-key clear does in the library alone (docs/design.md §10): the key is
 * gone in Redis and on the clearing host; without a daemon to apply the published
 * clear (test_daemon's a_window_change_and_a_clear_reach_the_other_host), another
 * host's cache keeps its last until that cached window ends, and then asks Redis,
 * which has forgotten it. */
Test(global, a_cleared_key_is_deleted_in_redis_a_host_without_daemon_keeps_it)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	evt_throttle *b = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(decide(a, 10, "k"), 1);
	cr_assert_eq(decide(b, 20, "k"), 0, "b caches a's last");
	cr_assert_eq(evt_clear_key(a, "k", 1), 1, "a tracked k");
	cr_expect_eq(decide(b, 30, "k"), 0, "b's cache still holds 10: documented");
	cr_expect_eq(decide(a, 40, "k"), 1, "gone on a and in Redis: processed at 40");
	cr_expect_eq(decide(b, 1010, "k"), 0, "b's cache ended; Redis has 40");
	evt_close(a);
	evt_close(b);
}

/* The next message on the test's subscribed connection c, as "CHANNEL|PAYLOAD"
 * (len bytes in *len). */
static const char *next_message(redisContext *c, size_t *len)
{
	static char buf[512];
	void *p = NULL;
	cr_assert_eq(redisGetReply(c, &p), REDIS_OK, "no message within 1 s");
	redisReply *r = p;
	cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
	cr_assert_str_eq(r->element[0]->str, "message");
	int n = snprintf(buf, sizeof buf, "%s|", r->element[1]->str);
	memcpy(buf + n, r->element[2]->str, r->element[2]->len);
	*len = (size_t)n + r->element[2]->len;
	freeReplyObject(r);
	return buf;
}

static void expect_message(redisContext *c, const char *want, size_t want_len)
{
	size_t len;
	const char *got = next_message(c, &len);
	cr_expect(len == want_len && memcmp(got, want, len) == 0, "got '%.*s'", (int)len, got);
}

/* Every change is published on the throttle's channel by the call that stores it,
 * in the protocol's form (docs/design.md §10), a key's bytes as they are; and it
 * parses back to what was stored. */
Test(global, each_change_is_published_on_the_throttles_channel)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	struct timeval tv = { 1, 0 };
	redisContext *c = redisConnectUnixWithTimeout(redis.sock, tv);
	cr_assert(c != NULL && c->err == 0);
	char chan[128], want[256];
	snprintf(chan, sizeof chan, "evt:{%s}:changes", global_name());
	freeReplyObject(redisCommand(c, "SUBSCRIBE %s", chan));

	cr_assert_eq(evt_update_window(a, 2500), 0);
	int n = snprintf(want, sizeof want, "%s|window 2500", chan);
	expect_message(c, want, (size_t)n);
	cr_assert_geq(evt_clear(a), 0);
	n = snprintf(want, sizeof want, "%s|clear 1", chan);
	expect_message(c, want, (size_t)n);
	static const char key[] = { 'k', '\0', ' ', 'x' };
	cr_assert_geq(evt_clear_key(a, key, sizeof key), 0);
	n = snprintf(want, sizeof want, "%s|key 1 ", chan);
	memcpy(want + n, key, sizeof key);
	expect_message(c, want, (size_t)n + sizeof key);

	struct global_change ch;
	cr_assert_eq(global_parse_change(chan, strlen(chan), "key 1 k\0 x", 10, &ch), 0);
	cr_expect_eq(ch.kind, GLOBAL_CHANGE_KEY);
	cr_expect_eq(ch.value, 1);
	cr_expect(ch.len == sizeof key && memcmp(ch.key, key, sizeof key) == 0);
	cr_expect_str_eq(ch.name, global_name());
	redisFree(c);
	evt_close(a);
}

/* A message not of the protocol is refused, not half-applied. */
Test(global, a_malformed_change_message_is_refused)
{
	static const struct {
		const char *channel, *msg;
	} bad[] = {
		{ "evt:{g}:changes", "window 0" },   /* window 0 */
		{ "evt:{g}:changes", "window 12x" },
		{ "evt:{g}:changes", "window 99999999999999999999" }, /* over 64 bits */
		{ "evt:{g}:changes", "window" },
		{ "evt:{g}:changes", "clear 1 2" },
		{ "evt:{g}:changes", "key 1" },      /* no key */
		{ "evt:{g}:changes", "key 1 " },     /* empty key */
		{ "evt:{g}:changes", "size 1" },
		{ "evt:{}:changes", "clear 1" },     /* no name */
		{ "evt:{g}:cfg", "clear 1" },
		{ "other", "clear 1" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct global_change c;
		cr_expect_eq(global_parse_change(bad[i].channel, strlen(bad[i].channel), bad[i].msg,
		                                 strlen(bad[i].msg), &c),
		             -EINVAL, "case %zu", i);
	}
	static char big[REGION_KEY_MAX + 8] = "key 3 ";
	memset(big + 6, 'k', REGION_KEY_MAX + 1);
	struct global_change c;
	cr_expect_eq(global_parse_change("evt:{g}:changes", 15, big, 6 + REGION_KEY_MAX + 1, &c),
	             -EINVAL, "a key over REGION_KEY_MAX");
	cr_expect_eq(global_parse_change("evt:{g}:changes", 15, big, 6 + REGION_KEY_MAX, &c), 0);
	cr_expect_eq(c.len, REGION_KEY_MAX);
}

/* "A global throttle has limit 1": refused at create, accepted at runtime. */
Test(global, a_global_throttle_refuses_a_limit_over_1_at_runtime)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_expect_eq(evt_update_limit(a, 5), -EINVAL);
	evt_close(a);
}

/* Redis's answer is exact, so the local cache keeps it as it is, whatever the
 * on_stale policy: with "process", an insert below a reclaim bound of the key's
 * home kept the key from that bound (as a host-local decision must, not knowing
 * the forgotten key's last), later than Redis's last, and the host then throttled
 * events that Redis, which no event since justified, would have processed. */
Test(global, a_cached_answer_keeps_redis_last_under_on_stale_process)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	evt_global g;
	evt_options o = global_opts(&g, 1000, EVT_ON_UNREACHABLE_THROTTLE);
	o.on_stale = EVT_ON_STALE_PROCESS;
	evt_throttle *b = test_create(new_name(), &o);
	cr_assert_eq(decide(a, 1000, "k"), 1);
	/* b's reclaim forgot a key of k's home whose last was 1499. */
	uint32_t home = table_home(&b->r, table_hash(&b->r, "k", 1));
	atomic_store(region_bound(&b->r, home), 1500);
	cr_expect_eq(decide(b, 1600, "k"), 0, "Redis: a's event at 1000");
	cr_expect_eq(decide(b, 2000, "k"), 1, "a window after a's event: nothing since");
	evt_close(a);
	evt_close(b);
}

/* Shadow mode as the header promises it for every decision, on a global throttle
 * too: each event the rule denies, throttled by Redis or by the local cache, one
 * call or in a batch, is answered 1 with EVT_INFO_SHADOW and counted in
 * would_throttle; the state changes as when enforcing (the rest of the window
 * stays on the host).  Shadow mode is the host's own: a is enforcing. */
Test(global, shadow_mode_answers_every_denied_event_1_and_counts_it)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	evt_throttle *b = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(evt_set_shadow(b, 1), 0);
	cr_expect_eq(decide(a, 10000, "acct"), 1);
	unsigned info = 0;
	cr_expect_eq(evt_should_process_ex(b, 10500, NULL, "acct", 4, &info), 1,
	             "denied by Redis (a's event), answered 1 in shadow mode");
	cr_expect_eq(info & (EVT_INFO_SHADOW | EVT_INFO_INSIDE_WINDOW),
	             EVT_INFO_SHADOW | EVT_INFO_INSIDE_WINDOW, "info %#x", info);
	cr_expect_eq(decide(b, 10600, "acct"), 1, "denied by the local cache, answered 1");
	cr_expect_eq(decide(b, 10600, "acct.long.key.over.16"), 1, "a new key: processed");
	cr_expect_eq(decide(b, 10700, "acct.long.key.over.16"), 1, "denied locally, long key");
	evt_event ev[2] = { { .ts_ns = 10800, .key = "acct", .key_len = 4 },
		            { .ts_ns = 10900, .key = "acct", .key_len = 4 } };
	cr_expect_eq(evt_should_process_batch(b, ev, 2), 2);
	cr_expect_eq(ev[0].result, 1);
	cr_expect_eq(ev[1].result, 1);
	evt_stats sb = stats(b);
	cr_expect_eq(sb.would_throttle, 5);
	cr_expect_eq(sb.throttled, 5, "counted as when enforcing");
	cr_expect_eq(sb.inside_window, 5, "Redis's throttle has its reason too");
	cr_expect_eq(sb.processed, 1);
	cr_expect_eq(sb.global_round_trips, 2, "one per key: the state changed as enforcing");
	cr_expect_eq(decide(a, 10950, "acct"), 0, "a enforces");
	cr_assert_eq(evt_set_shadow(b, 0), 0);
	cr_expect_eq(decide(b, 10990, "acct"), 0, "enforcing again");
	cr_expect_eq(decide(b, 11000, "acct"), 1, "a window after a's event");
	cr_expect_eq(decide(a, 20000, "late"), 1);
	info = 0;
	cr_expect_eq(evt_should_process_ex(b, 19000, NULL, "late", 4, &info), 0);
	cr_expect_eq(info, EVT_INFO_OUT_OF_ORDER, "Redis: before the key's last");
	cr_expect_eq(stats(b).out_of_order, 1);
	evt_close(a);
	evt_close(b);
}

/* decide(t, ts, "k") in a thread of its own, its answer in rc. */
struct thread_decide {
	evt_throttle *t;
	uint64_t ts;
	int rc;
};

static void *thread_decide(void *arg)
{
	struct thread_decide *d = arg;
	d->rc = decide(d->t, d->ts, "k");
	return NULL;
}

/* Host a of a global throttle (window 1000 ns), connected to the test's Redis. */
static evt_throttle *connected_host(void)
{
	with_redis();
	evt_throttle *a = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(decide(a, 5, "warm"), 1, "a is connected");
	return a;
}

/* Hosts a (connected) and b of one global throttle, b's "k" processed at 10; then
 * Redis stopped (SIGSTOP) and a thread of its own (the one returned) decides "k"
 * at 20 on a, its answer in d once Redis goes on. */
static pthread_t call_with_redis_stopped(evt_throttle **a, evt_throttle **b,
                                         struct thread_decide *d)
{
	*a = connected_host();
	*b = host(1000, EVT_ON_UNREACHABLE_THROTTLE);
	cr_assert_eq(decide(*b, 10, "k"), 1);
	kill(redis.pid, SIGSTOP);
	*d = (struct thread_decide){ *a, 20, -1 };
	pthread_t th;
	pthread_create(&th, NULL, thread_decide, d);
	return th;
}

/* a's decision of "k" at 10, made by a thread of its own while another thread
 * of this process holds the handle's connection (mid-call, past the deadline). */
static struct thread_decide decide_while_the_connection_is_held(evt_throttle *a)
{
	pthread_mutex_lock(&a->global->lock); /* another thread mid-call */
	struct thread_decide d = { a, 10, -1 };
	pthread_t th;
	pthread_create(&th, NULL, thread_decide, &d);
	pthread_join(th, NULL);
	pthread_mutex_unlock(&a->global->lock);
	return d;
}

/* A decision asked Redis under the old epoch; a clear (another host's: its
 * HINCRBY reached Redis after a's call, and a's daemon applied it, new epoch and
 * table cleared, before a read its answer) lands before the answer, and cache()
 * then writes the old epoch's last into the cleared table: the key stays
 * throttled on this host though no host processed it since the clear. */
Test(global, an_answer_from_before_a_clear_is_not_cached_after_it)
{
	evt_throttle *a, *b;
	struct thread_decide d;
	pthread_t th = call_with_redis_stopped(&a, &b, &d);
	sleep_ms(100); /* a's FCALL on epoch 0 is in flight */
	global_set_epoch(&a->r, 1); /* what a's daemon does on seeing epoch 1 */
	table_clear(&a->r, &a->me);
	kill(redis.pid, SIGCONT);
	pthread_join(th, NULL);
	cr_assert_geq(evt_clear(b), 0, "b's clear reaches Redis after a's call: epoch 1");
	cr_assert_eq(d.rc, 0, "answered by Redis from epoch 0");
	cr_expect_eq(decide(a, 30, "k"), 1, "cleared, and processed nowhere since");
	evt_close(a);
	evt_close(b);
}

/* Another thread of this process holds the handle's connection past the
 * deadline: the policy answers, counted as a fallback, not as an error of Redis,
 * and the host's breaker stays closed. */
Test(global, a_lock_wait_timeout_is_no_redis_error)
{
	evt_throttle *a = connected_host();
	struct thread_decide d = decide_while_the_connection_is_held(a);
	cr_expect_eq(d.rc, 0, "the policy's answer");
	cr_expect_eq(stats(a).global_errors, 0, "errors: %" PRIu64, stats(a).global_errors);
	cr_expect_eq(stats(a).global_fallbacks, 1);
	cr_expect_eq(decide(a, 10, "k2"), 1, "the breaker is closed: Redis answers at once");
	evt_close(a);
}

/* ---- review of #20 (revglobal): reproducers ---- */

/* The one-key clear's race, as an_answer_from_before_a_clear_is_not_cached_after_it
 * is the whole clear's: a's FCALL is answered by Redis (throttled, last 10) before
 * b's one-key clear reaches Redis; a's daemon applies the published "key 0 k"
 * (nothing cached yet: nothing removed) before a reads its answer, and cache()
 * then writes last 10 into a's table.  The key stays throttled on a for the rest
 * of its window though Redis has forgotten it and no host processed it since.
 * cache_answer() re-checks the epoch only: a one-key clear moves no epoch. */
Test(global, an_answer_from_before_a_key_clear_is_not_cached_after_it)
{
	evt_throttle *a, *b;
	struct thread_decide d;
	pthread_t th = call_with_redis_stopped(&a, &b, &d);
	sleep_ms(100); /* a's FCALL is in flight */
	/* What a's daemon does on "key 0 k" (globalwatch.c apply_key()). */
	cr_assert_eq(global_drop_key(&a->r, &a->me, "k", 1), 0, "nothing cached yet");
	kill(redis.pid, SIGCONT);
	pthread_join(th, NULL);
	cr_assert_eq(evt_clear_key(b, "k", 1), 1, "b's clear reaches Redis after a's call");
	cr_assert_eq(d.rc, 0, "answered by Redis before the clear: throttled");
	cr_expect_eq(decide(a, 30, "k"), 1, "cleared, and processed nowhere since");
	evt_close(a);
	evt_close(b);
}

/* global_round_trips is "calls to Redis, each one round trip" (evthrottle.h),
 * global_errors "failed round trips and connects": ask() counts a round trip for
 * every event it was given even where nothing was sent, when another thread held
 * the handle's connection past the deadline (-EBUSY) or the connect failed. */
Test(global, a_decision_that_reached_no_redis_is_no_round_trip)
{
	evt_throttle *a = connected_host();
	uint64_t before = stats(a).global_round_trips;
	(void)decide_while_the_connection_is_held(a);
	cr_expect_eq(stats(a).global_round_trips - before, 0, "nothing was sent: %" PRIu64
	             " round trips counted", stats(a).global_round_trips - before);
	evt_throttle *b = host_at("unix:/nonexistent/redis.sock", 100000000ull,
	                          EVT_ON_UNREACHABLE_THROTTLE, NULL);
	cr_assert_eq(decide(b, 10, "k"), 0, "the policy's answer");
	cr_expect_eq(stats(b).global_errors, 1, "the failed connect");
	cr_expect_eq(stats(b).global_round_trips, 0, "no connection, no round trip: %" PRIu64
	             " counted", stats(b).global_round_trips);
	evt_close(a);
	evt_close(b);
}

/* ---- the local tier's common case (decide.h's home slot case, cached) ---- */

/* How a tier test decides: evt_should_process() and evt_should_process_key(),
 * which take the home slot's case on a global handle, and evt_should_process_ex(),
 * which takes the local tier's general path (table_cached_ex(), then Redis), as
 * every way of calling did before. */
enum way { WAY_PLAIN, WAY_KEY, WAY_GENERAL, WAYS };

static int decide_way(evt_throttle *t, enum way w, uint64_t ts, const char *key)
{
	size_t len = strlen(key);
	unsigned info = 0;
	evt_key k;
	switch (w) {
	case WAY_PLAIN:
		return evt_should_process(t, ts, NULL, key, len);
	case WAY_KEY:
		cr_assert_eq(evt_prefetch_key(t, key, len, &k), 0);
		return evt_should_process_key(t, ts, &k, NULL);
	default:
		return evt_should_process_ex(t, ts, NULL, key, len, &info);
	}
}

static uint32_t home_of(const evt_throttle *t, const char *key)
{
	return table_home(&t->r, table_hash(&t->r, key, (uint32_t)strlen(key)));
}

/* A 13-byte key ("acct:" and 8 digits) other than other whose home in t is
 * other's. */
static void key_of_home(const evt_throttle *t, const char *other, char buf[14])
{
	for (unsigned n = 0;; n++) {
		snprintf(buf, 14, "acct:%08u", n);
		if (strcmp(buf, other) != 0 && home_of(t, buf) == home_of(t, other))
			return;
	}
}

/* The counters a decision on a global throttle moves, alike on every way's host. */
static void expect_same_counts(evt_throttle *h[WAYS], const char *step)
{
	evt_stats g = stats(h[WAY_GENERAL]);
	for (int w = 0; w < WAY_GENERAL; w++) {
		evt_stats s = stats(h[w]);
		cr_expect(s.processed == g.processed && s.throttled == g.throttled &&
		                  s.inside_window == g.inside_window &&
		                  s.out_of_order == g.out_of_order && s.new_keys == g.new_keys &&
		                  s.keys == g.keys && s.global_round_trips == g.global_round_trips &&
		                  s.global_fallbacks == g.global_fallbacks &&
		                  s.global_errors == g.global_errors && s.stale == g.stale,
		          "%s: way %d counted %" PRIu64 " processed, %" PRIu64 " throttled (%" PRIu64
		          " inside, %" PRIu64 " out of order), %" PRIu64 " round trips; the "
		          "general path %" PRIu64 ", %" PRIu64 " (%" PRIu64 ", %" PRIu64 "), %" PRIu64,
		          step, w, s.processed, s.throttled, s.inside_window, s.out_of_order,
		          s.global_round_trips, g.processed, g.throttled, g.inside_window,
		          g.out_of_order, g.global_round_trips);
	}
}

enum { K_HOME, K_SHORT, K_FIRST, K_DISPLACED, TIER_KEYS, SET_WINDOW = -1, CLEAR = -2,
       IS_DISPLACED = -3 };

/* One step of the trace: a decision (key, ts, the answer, the round trips it
 * makes), a window change (SET_WINDOW, ts the window), a clear, or the check
 * that K_DISPLACED is out of its home slot (IS_DISPLACED). */
struct tier_step {
	const char *what;
	int key;
	uint64_t ts;
	int want;
	uint64_t trips;
};

/* The cases the home slot's case takes (a key in its home slot, of 9-16 and of
 * 1-8 bytes, inside its window) and those it hands over (the window closed, a
 * key displaced from its home slot, ts before last, after a window change and
 * after a clear): the same answers and counters through every way of calling,
 * each on its own host (a global name of its own), and no round trip for a
 * local throttle. */
Test(global, the_local_tiers_common_case_answers_and_counts_as_the_general_path)
{
	with_redis();
	const uint64_t W = 1000, T = 1000000000ull;
	const struct tier_step trace[] = {
		{ "new key: Redis", K_HOME, T, 1, 1 },
		{ "home slot, inside", K_HOME, T + 1, 0, 0 },
		{ "home slot, last ns of the window", K_HOME, T + W - 1, 0, 0 },
		{ "before last", K_HOME, T - 5, 0, 0 },
		{ "window closed: Redis", K_HOME, T + W, 1, 1 },
		{ "1-8 bytes, new", K_SHORT, T, 1, 1 },
		{ "1-8 bytes, inside", K_SHORT, T + 500, 0, 0 },
		{ "1-8 bytes, before last", K_SHORT, T - 1, 0, 0 },
		{ "first of a home", K_FIRST, T, 1, 1 },
		{ "second of that home", K_DISPLACED, T, 1, 1 },
		{ "the second is displaced", IS_DISPLACED, 0, 0, 0 },
		{ "displaced, inside", K_DISPLACED, T + 10, 0, 0 },
		{ "displaced, before last", K_DISPLACED, T - 10, 0, 0 },
		{ "displaced, window closed: Redis", K_DISPLACED, T + W, 1, 1 },
		{ "first of the home, inside", K_FIRST, T + 10, 0, 0 },
		{ "window lowered", SET_WINDOW, 100, 0, 0 },
		{ "closed in the lowered window: Redis", K_HOME, T + W + 150, 1, 1 },
		{ "inside the lowered window", K_HOME, T + W + 249, 0, 0 },
		{ "window raised", SET_WINDOW, 5000, 0, 0 },
		{ "inside the raised window only", K_HOME, T + W + 3150, 0, 0 },
		{ "clear", CLEAR, 0, 0, 0 },
		{ "after the clear: Redis", K_HOME, T + W + 3200, 1, 1 },
		{ "after the clear, cached again", K_HOME, T + W + 3201, 0, 0 },
		{ "1-8 bytes after the clear: Redis", K_SHORT, T + W + 3300, 1, 1 },
		{ "1-8 bytes after the clear, cached again", K_SHORT, T + W + 3301, 0, 0 },
	};
	evt_throttle *h[WAYS];
	char keys[WAYS][TIER_KEYS][14];
	for (int w = 0; w < WAYS; w++) {
		evt_global g;
		evt_options o = global_opts(&g, W, EVT_ON_UNREACHABLE_THROTTLE);
		char gname[80];
		snprintf(gname, sizeof gname, "%.60s.%d", global_name(), w);
		g.name = gname;
		h[w] = test_create(new_name(), &o);
		snprintf(keys[w][K_HOME], 14, "user:12345678");
		snprintf(keys[w][K_SHORT], 14, "u:42");
		snprintf(keys[w][K_FIRST], 14, "acct:first.01");
		key_of_home(h[w], keys[w][K_FIRST], keys[w][K_DISPLACED]);
	}
	for (size_t i = 0; i < sizeof trace / sizeof trace[0]; i++) {
		const struct tier_step *st = &trace[i];
		for (int w = 0; w < WAYS; w++) {
			if (st->key == SET_WINDOW) {
				cr_assert_eq(evt_update_window(h[w], st->ts), 0);
				continue;
			}
			if (st->key == CLEAR) {
				cr_assert_geq(evt_clear(h[w]), 0);
				continue;
			}
			if (st->key == IS_DISPLACED) {
				/* Its home slot holds the first key of its home. */
				struct table_entry e;
				uint32_t home = home_of(h[w], keys[w][K_FIRST]);
				cr_assert_eq(table_read_slot(&h[w]->r, home, &e), 1);
				cr_assert(e.len == 13 && memcmp(e.key, keys[w][K_FIRST], 13) == 0);
				continue;
			}
			uint64_t trips = stats(h[w]).global_round_trips;
			int rc = decide_way(h[w], (enum way)w, st->ts, keys[w][st->key]);
			cr_expect_eq(rc, st->want, "%s: way %d answered %d", st->what, w, rc);
			cr_expect_eq(stats(h[w]).global_round_trips - trips, st->trips,
			             "%s: way %d made %" PRIu64 " round trips", st->what, w,
			             stats(h[w]).global_round_trips - trips);
		}
		expect_same_counts(h, st->what);
	}
	for (int w = 0; w < WAYS; w++) {
		evt_stats s = stats(h[w]);
		cr_expect_eq(s.global_errors + s.global_fallbacks, 0);
		evt_close(h[w]);
	}
}

/* ---- endpoints: a host name is resolved outside every decision ---- */

/* The address the region publishes for its endpoint's name, formatted ("" none). */
static const char *published(const evt_throttle *t)
{
	static char buf[ENDPOINT_ADDR_TEXT];
	struct endpoint_addr a;
	buf[0] = '\0';
	if (endpoint_published(t->r.global, &a) == 0)
		endpoint_format(&a, buf, sizeof buf);
	return buf;
}

Test(global, a_named_endpoint_is_resolved_at_creation_and_decided_through_redis)
{
	REDIS_REQUIRED();
	redis_start_tcp(&redis, "127.0.0.1", 0);
	char endpoint[64], want[64];
	snprintf(endpoint, sizeof endpoint, "localhost:%d", redis.port);
	snprintf(want, sizeof want, "127.0.0.1:%d", redis.port);
	evt_throttle *t = host_at(endpoint, 500000000ull, EVT_ON_UNREACHABLE_THROTTLE, NULL);
	cr_expect_str_eq(published(t), want, "the creator resolved localhost (IPv4 first)");
	cr_assert_eq(decide(t, 10, "k"), 1);
	cr_assert_eq(decide(t, 20, "k"), 0);
	evt_stats s = stats(t);
	cr_expect_eq(s.global_round_trips, 1, "the first event asked Redis: %" PRIu64,
	             s.global_round_trips);
	cr_expect_eq(s.global_errors, 0);
	struct global_status g;
	global_status(&t->r, &g);
	cr_expect(g.named);
	cr_expect_str_eq(g.address, want);
	cr_expect_neq(g.resolved_ns, 0);
	/* What the tools show, next to the configured endpoint. */
	char args[256];
	snprintf(args, sizeof args, "-n %s --json stats", test_names[test_n_names - 1]);
	char *json = tool_output("EVT_INSPECT", args);
	char field[320];
	snprintf(field, sizeof field, "\"redis\":\"%s\",\"redis_address\":\"%s\"", endpoint, want);
	expect_in(json, field);
	snprintf(args, sizeof args, "-n %s status", test_names[test_n_names - 1]);
	char *text = tool_output("EVT_CTL", args);
	snprintf(field, sizeof field, "redis address    %s (resolved", want);
	expect_in(text, field);
	text = tool_output("EVT_CTL", "list");
	snprintf(field, sizeof field, "redis %s (%s)", endpoint, want);
	expect_in(text, field);
	evt_close(t);
}

Test(global, a_numeric_endpoint_needs_no_resolution)
{
	REDIS_REQUIRED();
	redis_start_tcp(&redis, "127.0.0.1", 0);
	char endpoint[64];
	snprintf(endpoint, sizeof endpoint, "127.0.0.1:%d", redis.port);
	evt_throttle *t = host_at(endpoint, 500000000ull, EVT_ON_UNREACHABLE_THROTTLE, NULL);
	cr_expect_str_eq(published(t), "", "nothing to publish for a numeric host");
	cr_assert_eq(decide(t, 10, "k"), 1);
	cr_expect_eq(stats(t).global_round_trips, 1);
	cr_expect_eq(stats(t).global_errors, 0);
	struct global_status g;
	global_status(&t->r, &g);
	cr_expect(!g.named);
	cr_expect_str_eq(g.address, endpoint);
	evt_close(t);
}

Test(global, numeric_hosts_and_host_names_are_told_apart_without_a_lookup)
{
	struct endpoint_addr a;
	char buf[ENDPOINT_ADDR_TEXT];
	cr_assert_eq(endpoint_numeric("10.0.0.7", 6379, &a), 0);
	cr_expect_str_eq(endpoint_format(&a, buf, sizeof buf), "10.0.0.7:6379");
	cr_assert_eq(endpoint_numeric("::1", 6380, &a), 0);
	cr_expect_str_eq(endpoint_format(&a, buf, sizeof buf), "[::1]:6380");
	cr_assert_eq(endpoint_numeric("[fd00::7]", 1, &a), 0);
	cr_expect_str_eq(endpoint_format(&a, buf, sizeof buf), "[fd00::7]:1");
	cr_expect_eq(endpoint_numeric("localhost", 1, &a), -EINVAL);
	cr_expect_eq(endpoint_numeric("10.0.0.256", 1, &a), -EINVAL);
	const char *names[] = { "localhost", "redis.example", "redis-1.prod_eu.example.com.",
		                "[::1]", "10.0.0.7" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		cr_expect(endpoint_host_valid(names[i]), "%s", names[i]);
	const char *bad[] = { "", "a b", ".a", "a..b", "[::1", "a/b", "x:y" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_expect(!endpoint_host_valid(bad[i]), "%s", bad[i]);
}

/* RFC 6761: no .invalid name ever resolves. */
Test(global, an_unresolved_name_is_answered_by_on_unreachable_at_once)
{
	char endpoint[96], host[80];
	snprintf(host, sizeof host, "evt-none-%d.invalid", (int)getpid());
	snprintf(endpoint, sizeof endpoint, "%s:6379", host);
	evt_throttle *t = host_at(endpoint, 2000000000ull, EVT_ON_UNREACHABLE_THROTTLE, NULL);
	cr_expect_str_eq(published(t), "");
	uint64_t t0 = evt_now_ns();
	cr_assert_eq(decide(t, 10, "k"), 0, "on_unreachable = throttle answers");
	uint64_t took = evt_now_ns() - t0;
	cr_expect_lt(took, 2000000000ull, "the decision waited %" PRIu64 " ns, over its timeout",
	             took);
	evt_stats s = stats(t);
	cr_expect_eq(s.global_errors, 1);
	cr_expect_eq(s.global_fallbacks, 1);
	cr_expect_eq(s.global_round_trips, 0, "nothing was sent");
	struct global_status g;
	global_status(&t->r, &g);
	char want[256];
	/* The resolver's own error, or "not resolved yet" when it gave none in time. */
	snprintf(want, sizeof want, "%s: %s", host,
	         g.resolve_failed_ns != 0 ? g.resolve_error : "not resolved yet");
	cr_expect_str_eq(g.last_error, want);
	cr_expect_neq(g.resolve_failed_ns, 0, "the creator noted its failed resolution");
	evt_close(t);
}

/* Two addresses, each whole: a reader must see one or the other, never a mix. */
static const struct endpoint_addr addr_a = { AF_INET, 1111, { 10, 1, 1, 1 } };
static const struct endpoint_addr addr_b = {
	AF_INET6, 2222, { 0xfd, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2 }
};

struct seq_run {
	struct region_global *b;
	atomic_bool stop;
	_Atomic unsigned long reads;
	unsigned long mixed, none;
};

static void *seq_reader(void *arg)
{
	struct seq_run *x = arg;
	while (!atomic_load(&x->stop)) {
		struct endpoint_addr a;
		int rc = endpoint_published(x->b, &a);
		x->none += rc < 0;
		x->mixed += rc == 0 && !endpoint_same(&a, &addr_a) && !endpoint_same(&a, &addr_b);
		x->reads++;
	}
	return NULL;
}

Test(global, the_published_address_is_read_whole)
{
	static struct region_global b;
	struct seq_run x = { .b = &b };
	endpoint_publish(&b, &addr_a);
	pthread_t th;
	cr_assert_eq(pthread_create(&th, NULL, seq_reader, &x), 0);
	/* Both sides busy for a while: the reader may start late. */
	for (unsigned long i = 0; i < 400000 || atomic_load(&x.reads) < 200000; i++)
		endpoint_publish(&b, i % 2 ? &addr_a : &addr_b);
	atomic_store(&x.stop, true);
	pthread_join(th, NULL);
	cr_expect_eq(x.mixed, 0, "%lu of %lu reads mixed two addresses", x.mixed,
	             atomic_load(&x.reads));
	uint64_t seq = atomic_load(&b.addr_seq);
	cr_expect_eq(seq % 2, 0, "stable: even");
	/* A writer that died midway leaves the sequence odd: readers get an error,
	 * never a hang, and the next writer repairs it. */
	atomic_store(&b.addr_seq, seq + 1);
	struct endpoint_addr a;
	cr_expect_eq(endpoint_published(&b, &a), -EAGAIN);
	endpoint_publish(&b, &addr_b);
	cr_expect_eq(endpoint_published(&b, &a), 0);
	cr_expect(endpoint_same(&a, &addr_b));
	cr_expect_eq(atomic_load(&b.addr_seq) % 2, 0);
	static struct region_global none;
	cr_expect_eq(endpoint_published(&none, &a), -ENOENT, "a 5.0 region: none published");
}

/* Create throttle name global through endpoint, a name that only a hosts file
 * mounted on /etc/hosts for the creation names (as 127.0.0.1), in a private mount
 * namespace of the test's process: the creator resolves it then; the file is
 * unmounted after.  0, or the errno of the namespace's setup (where none can be
 * made).  In the test's process, not a child: a child forked by a multithreaded
 * process may not start the resolver's thread under ThreadSanitizer. */
static int create_where_only_the_creator_resolves(const char *name, const char *host,
                                                  const char *endpoint)
{
	char hosts[64];
	snprintf(hosts, sizeof hosts, "/tmp/evt-hosts-%d", (int)getpid());
	FILE *f = fopen(hosts, "w");
	cr_assert_not_null(f);
	fprintf(f, "127.0.0.1 localhost\n127.0.0.1 %s\n", host);
	fclose(f);
	int rc = 0;
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL) < 0)
		rc = errno;
	unlink(hosts);
	if (rc != 0)
		return rc;
	evt_global g;
	evt_options o = global_opts(&g, 1000, EVT_ON_UNREACHABLE_THROTTLE);
	g.redis = endpoint;
	evt_throttle *t = test_create(name, &o);
	evt_close(t);
	cr_assert_eq(umount2("/etc/hosts", 0), 0, "umount /etc/hosts: %s", strerror(errno));
	return 0;
}

/* The decisions run where the name resolves to nothing: had any of them looked it
 * up (as hiredis's connect did), it would have failed and fallen back. */
Test(global, decisions_never_look_the_name_up)
{
	REDIS_REQUIRED();
	redis_start_tcp(&redis, "127.0.0.1", 0);
	char host[64], endpoint[96], want[64];
	snprintf(host, sizeof host, "evt-creator-only-%d.test", (int)getpid());
	snprintf(endpoint, sizeof endpoint, "%s:%d", host, redis.port);
	snprintf(want, sizeof want, "127.0.0.1:%d", redis.port);
	const char *name = new_name();
	int setup = create_where_only_the_creator_resolves(name, host, endpoint);
	if (setup != 0)
		cr_skip_test("skipped: could not make a private mount namespace with its own "
		             "/etc/hosts (%s); needs root or user namespaces", strerror(setup));
	struct addrinfo *ai = NULL;
	int gai = getaddrinfo(host, NULL, NULL, &ai);
	if (gai == 0)
		freeaddrinfo(ai);
	cr_assert_neq(gai, 0, "the test needs a name that only the creator's namespace resolves");
	evt_throttle *t = NULL;
	cr_assert_eq(evt_attach(name, 0, &t), 0);
	cr_expect_str_eq(published(t), want);
	for (int i = 0; i < 20; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		cr_expect_eq(decide(t, 10, key), 1, "%s: processed by Redis", key);
	}
	evt_stats s = stats(t);
	cr_expect_eq(s.global_round_trips, 20);
	struct global_status g;
	global_status(&t->r, &g);
	cr_expect_eq(s.global_errors, 0, "last error: %s", g.last_error);
	evt_close(t);
}

/* A corrupt region (its files and other processes are not trusted): a published
 * address of a port other than the endpoint's, or of a family neither IPv4 nor
 * IPv6, is never connected to; the decision is answered by the policy. */
Test(global, a_corrupt_published_address_is_never_connected_to)
{
	REDIS_REQUIRED();
	static struct test_redis other;
	redis_start_tcp(&redis, "127.0.0.1", 0);
	redis_start_tcp(&other, "127.0.0.1", 0);
	char endpoint[64], host_said[64];
	snprintf(endpoint, sizeof endpoint, "localhost:%d", redis.port);
	evt_throttle *t = host_at(endpoint, 500000000ull, EVT_ON_UNREACHABLE_THROTTLE, NULL);
	struct endpoint_addr a;
	cr_assert_eq(endpoint_published(t->r.global, &a), 0);
	a.port = (uint16_t)other.port; /* another Redis listens there */
	endpoint_publish(t->r.global, &a);
	cr_expect_eq(decide(t, 10, "k"), 0, "on_unreachable = throttle");
	cr_expect_eq(stats(t).global_round_trips, 0, "asked the Redis at the corrupt port");
	struct global_status g;
	global_status(&t->r, &g);
	snprintf(host_said, sizeof host_said, "localhost: the address published for it is corrupt");
	cr_expect_str_eq(g.last_error, host_said);
	a.port = (uint16_t)redis.port;
	a.family = AF_UNIX;
	endpoint_publish(t->r.global, &a);
	atomic_store(&t->r.global->retry_at_ns, 0); /* the breaker closed: ask again */
	cr_expect_eq(decide(t, 10, "k2"), 0, "on_unreachable = throttle");
	cr_expect_eq(stats(t).global_round_trips, 0);
	global_status(&t->r, &g);
	cr_expect_str_eq(g.last_error, host_said);
	cr_expect_str_eq(g.address, "", "no address shown for a corrupt family");
	redis_stop(&other);
	evt_close(t);
}
