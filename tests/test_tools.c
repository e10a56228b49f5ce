/*
 * The operator tools, run as programs: evthrottlectl and evthrottle-inspect (paths
 * in EVT_CTL and EVT_INSPECT, set by tests/meson.build), and the invariant checker
 * behind `evthrottle-inspect check` (lib/check.c), called directly.
 *
 * Tools run in a forked child that only dup2()s, setuid()s when asked, and execs or
 * _exit()s; stdout and stderr come back through pipes.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"

#include "check.h"
#include "clients.h"
#include "handle.h"
#include "hidden_creator.h"

#define SEC 1000000000ull
#define AS_ME ((uid_t)-1)
#define NOBODY ((uid_t)65534)

/* ---- names and buffers of this test, released by the suite's fini ---- */

#define MAX_BUFS 256
static char *bufs[MAX_BUFS];
static unsigned n_bufs;
static char tmpdir[64];

static void cleanup(void)
{
	unlink_names();
	for (unsigned i = 0; i < n_bufs; i++)
		free(bufs[i]);
	n_bufs = 0;
	if (tmpdir[0] != '\0') {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		cr_expect_eq(system(cmd), 0);
		tmpdir[0] = '\0';
	}
}

TestSuite(tools, .fini = cleanup);

static char *keep(char *p)
{
	cr_assert_lt(n_bufs, MAX_BUFS, "too many buffers in one test");
	return bufs[n_bufs++] = p;
}

/* A 1024-slot throttle, 10 s window, readable by everyone, named name. */
static evt_throttle *fresh_named(const char *name)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 1024;
	o.mode = 0644;
	return test_create(name, &o);
}

static evt_throttle *fresh(const char **name)
{
	*name = new_name();
	return fresh_named(*name);
}

static void decide_at(evt_throttle *t, uint64_t ts, const char *key, int want)
{
	int rc = decide(t, ts, key);
	cr_assert_eq(rc, want, "decide(%llu, %s) = %d, want %d", (unsigned long long)ts, key, rc,
	             want);
}

/* ---- running a program ---- */

struct run {
	int code; /* exit status, or 128 + signal */
	char *out, *err;
};

struct proc {
	pid_t pid;
	int out, err;
};

static int input_fd(const char *input)
{
	if (input == NULL)
		return open("/dev/null", O_RDONLY | O_CLOEXEC);
	char path[] = "/tmp/evt-tools-in.XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	size_t n = strlen(input);
	cr_assert_eq(write(fd, input, n), (ssize_t)n);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

/* Run argv with in as stdin (closed here). */
static struct proc start_fd(uid_t uid, int in, char *const argv[])
{
	int o[2], e[2];
	cr_assert_eq(pipe2(o, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(e, O_CLOEXEC), 0);
	cr_assert_geq(in, 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* The child execs or _exits; it never returns into Criterion. */
		if (dup2(in, 0) < 0 || dup2(o[1], 1) < 0 || dup2(e[1], 2) < 0)
			_exit(126);
		if (uid != AS_ME && (chdir("/") < 0 || setgroups(0, NULL) < 0 ||
		                     setgid((gid_t)uid) < 0 || setuid(uid) < 0))
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(o[1]);
	close(e[1]);
	close(in);
	return (struct proc){ pid, o[0], e[0] };
}

static struct proc start(uid_t uid, const char *input, char *const argv[])
{
	return start_fd(uid, input_fd(input), argv);
}

struct buf {
	char *p;
	size_t len, cap;
};

static bool drain(int fd, struct buf *b)
{
	char tmp[8192];
	ssize_t n = read(fd, tmp, sizeof tmp);
	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		cr_assert_not_null(b->p);
	}
	memcpy(b->p + b->len, tmp, (size_t)n);
	b->len += (size_t)n;
	return true;
}

/* Read both pipes to their end (killing a program stuck for 60 s), then reap it. */
static struct run finish(struct proc p)
{
	struct buf b[2] = { { NULL, 0, 0 }, { NULL, 0, 0 } };
	struct pollfd fds[2] = { { p.out, POLLIN, 0 }, { p.err, POLLIN, 0 } };
	int open_fds = 2;
	while (open_fds > 0) {
		int n = poll(fds, 2, 60000);
		if (n == 0)
			kill(p.pid, SIGKILL);
		for (int i = 0; i < 2 && n > 0; i++) {
			if (fds[i].fd < 0 || fds[i].revents == 0 || drain(fds[i].fd, &b[i]))
				continue;
			close(fds[i].fd);
			fds[i].fd = -1;
			open_fds--;
		}
	}
	int st;
	cr_assert_eq(waitpid(p.pid, &st, 0), p.pid);
	struct run r = { WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), NULL, NULL };
	for (int i = 0; i < 2; i++) {
		char *s = keep(b[i].p != NULL ? b[i].p : calloc(1, 1));
		s[b[i].len] = '\0';
		*(i == 0 ? &r.out : &r.err) = s;
	}
	return r;
}

static const char *tool_path(const char *env)
{
	const char *p = getenv(env);
	cr_assert(p != NULL && *p != '\0', "%s is not set: run this suite through meson test", env);
	return p;
}

static void build_argv(char **argv, size_t max, const char *bin, va_list ap)
{
	size_t n = 0;
	argv[n++] = (char *)bin;
	for (char *a; (a = va_arg(ap, char *)) != NULL;) {
		cr_assert_lt(n, max - 1, "too many arguments");
		argv[n++] = a;
	}
	argv[n] = NULL;
}

/* run_tool(ENV, uid, args..., NULL) */
static struct run run_tool(const char *env, uid_t uid, ...)
{
	char *argv[40];
	va_list ap;
	va_start(ap, uid);
	build_argv(argv, 40, tool_path(env), ap);
	va_end(ap);
	return finish(start(uid, NULL, argv));
}

static struct proc start_tool(const char *env, ...)
{
	char *argv[40];
	va_list ap;
	va_start(ap, env);
	build_argv(argv, 40, tool_path(env), ap);
	va_end(ap);
	return start(AS_ME, NULL, argv);
}

#define CTL(...) run_tool("EVT_CTL", AS_ME, __VA_ARGS__, (char *)NULL)
#define INSPECT(...) run_tool("EVT_INSPECT", AS_ME, __VA_ARGS__, (char *)NULL)

/* res is evaluated once: it is usually the call that runs the program. */
#define EXPECT_RUN(res, want_code, stream, needle)                                     \
	do {                                                                           \
		struct run r_ = (res);                                                 \
		cr_assert_eq(r_.code, (want_code), "exit %d, want %d\nstdout:\n%s\nstderr:\n%s", \
		             r_.code, (want_code), r_.out, r_.err);                      \
		cr_assert_not_null(strstr(r_.stream, (needle)),                        \
		                   #stream " lacks \"%s\":\nstdout:\n%s\nstderr:\n%s",  \
		                   (needle), r_.out, r_.err);                           \
	} while (0)

/* Usage errors: exit 2, the program's name and the pointer to --help. */
#define EXPECT_USAGE(res, needle)                                                      \
	do {                                                                           \
		struct run u_ = (res);                                                 \
		EXPECT_RUN(u_, 2, err, needle);                                        \
		cr_assert_not_null(strstr(u_.err, "--help"), "no pointer to --help: %s", \
		                   u_.err);                                             \
	} while (0)

/* Check JSON output with Python: d is the last line's value, L every line's. */
static void expect_json(const char *json, const char *expr)
{
	static const char script[] =
		"import json, sys\n"
		"L = [json.loads(l) for l in sys.stdin.read().splitlines() if l.strip()]\n"
		"d = L[-1]\n"
		"sys.exit(0 if eval(sys.argv[1]) else 3)\n";
	char *argv[] = { "python3", "-c", (char *)script, (char *)expr, NULL };
	struct run r = finish(start(AS_ME, json, argv));
	cr_assert_eq(r.code, 0, "JSON check failed: %s\n%s\n%s", expr, r.err, json);
}

/* The line of s that contains needle (copied), or fails. */
static const char *line_with(const char *s, const char *needle)
{
	const char *p = strstr(s, needle);
	cr_assert_not_null(p, "no line with \"%s\" in:\n%s", needle, s);
	const char *b = p, *e = strchr(p, '\n');
	while (b > s && b[-1] != '\n')
		b--;
	size_t n = e != NULL ? (size_t)(e - b) : strlen(b);
	char *l = keep(malloc(n + 1));
	memcpy(l, b, n);
	l[n] = '\0';
	return l;
}

static size_t count_of(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

/* ======================= evthrottlectl ======================= */

Test(tools, ctl_window_get)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	struct run r = CTL("-n", n, "window");
	EXPECT_RUN(r, 0, out, "10s");
	cr_assert_str_eq(r.out, "10s\n");
	cr_assert_str_empty(r.err);
	evt_close(t);
}

Test(tools, ctl_window_set)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	struct run r = CTL("-n", n, "window", "250ms");
	EXPECT_RUN(r, 0, out, "10s -> 250ms");
	cr_assert_eq(evt_get_window(t), 250000000ull);
	EXPECT_RUN(CTL("--name", n, "window", "1m"), 0, out, "-> 1m");
	cr_assert_eq(evt_get_window(t), 60 * SEC);
	EXPECT_RUN(CTL("window", "1m30s", "-n", n), 0, out, "-> 1m30s");
	cr_assert_eq(evt_get_window(t), 90 * SEC);
	EXPECT_RUN(CTL("-n", n, "window"), 0, out, "1m30s");
	/* the new window applies to the next decision of this process too */
	decide_at(t, 0, "k", 1);
	decide_at(t, 89 * SEC, "k", 0);
	decide_at(t, 90 * SEC, "k", 1);
	evt_close(t);
}

Test(tools, ctl_limit_get_and_set)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	struct run r = CTL("-n", n, "limit");
	EXPECT_RUN(r, 0, out, "1");
	cr_assert_str_eq(r.out, "1\n");
	EXPECT_RUN(CTL("-n", n, "limit", "3"), 0, out, "throttle '");
	cr_assert_eq(evt_get_limit(t), 3);
	r = CTL("-n", n, "limit", "4096");
	EXPECT_RUN(r, 0, out, "limit 3 -> 4096");
	r = CTL("-n", n, "--json", "limit", "2");
	EXPECT_RUN(r, 0, out, "\"old_limit\":4096");
	cr_assert_not_null(strstr(r.out, "\"limit\":2}"), "%s", r.out);
	EXPECT_RUN(CTL("-n", n, "--json", "limit"), 0, out, "\"limit\":2");
	/* the new limit applies to the next decision of this process too */
	decide_at(t, 0, "k", 1);
	decide_at(t, 1, "k", 1);
	decide_at(t, 2, "k", 0);
	const char *bad[] = { "0", "4097", "-1", "+2", "2x", "", "99999999999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		EXPECT_USAGE(CTL("-n", n, "limit", "--", bad[i]), "invalid limit");
	EXPECT_USAGE(CTL("-n", n, "limit", "1", "2"), "at most one N");
	cr_assert_eq(evt_get_limit(t), 2, "a refused limit changed the throttle");
	evt_close(t);
}

/* A global throttle has limit 1 (Redis applies the first-event rule): the refusal
 * says so, with the value and the limit, and changes nothing.  No Redis is needed:
 * the limit is refused before any round trip. */
Test(tools, ctl_limit_over_1_on_a_global_throttle_says_why)
{
	const char *n = new_name();
	evt_global g = { "127.0.0.1:1", NULL, 1000000, EVT_ON_UNREACHABLE_THROTTLE, NULL };
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 1024;
	o.mode = 0644;
	o.global = &g;
	evt_throttle *t = test_create(n, &o);
	struct run r = CTL("-n", n, "limit", "5");
	EXPECT_RUN(r, 1, err, "cannot set the limit to 5: a global throttle supports limit 1 only, "
	                      "not 5");
	cr_expect_null(strstr(r.err, "Invalid argument"), "%s", r.err);
	cr_expect_eq(evt_get_limit(t), 1, "a refused limit changed the throttle");
	EXPECT_RUN(CTL("-n", n, "limit", "1"), 0, out, "limit 1 -> 1");
	evt_close(t);
}

Test(tools, ctl_window_rejects_bad_durations)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	EXPECT_USAGE(CTL("-n", n, "window", "0s"), "greater than 0");
	EXPECT_USAGE(CTL("-n", n, "window", "0ms"), "greater than 0");
	const char *bad[] = { "0", "10", "abc", "10x", "-5s", "5 s", "s", "1.5s", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct run r = CTL("-n", n, "window", "--", bad[i]);
		EXPECT_USAGE(r, "invalid duration");
		cr_assert_not_null(strstr(r.err, "evthrottlectl: "), "%s", r.err);
	}
	EXPECT_USAGE(CTL("-n", n, "window", "99999999999999999999h"), "too long");
	EXPECT_USAGE(CTL("-n", n, "window", "1s", "2s"), "at most one");
	EXPECT_USAGE(CTL("-n", n, "window", "-5s"), "a window is a positive duration");
	cr_assert_eq(evt_get_window(t), 10 * SEC, "a refused window changed the throttle");
	evt_close(t);
}

Test(tools, ctl_clear_all)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	char key[16];
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof key, "k%d", i);
		decide_at(t, SEC, key, 1);
	}
	struct run r = CTL("-n", n, "--yes", "clear");
	EXPECT_RUN(r, 0, out, "cleared 5 keys of throttle '");
	cr_assert_eq(evt_key_count(t), 0);
	decide_at(t, 2 * SEC, "k0", 1); /* forgotten: processed again inside the window */
	EXPECT_RUN(CTL("-n", n, "-y", "clear"), 0, out, "cleared 1 key of throttle '");
	evt_close(t);
}

/* Issue #16 item 12: with every client slot taken, the operator still acts. */
Test(tools, ctl_works_with_every_client_slot_taken)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 1024;
	o.client_max = 1;
	const char *n = new_name();
	evt_throttle *t = test_create(n, &o), *u;
	cr_assert_eq(evt_attach(n, 0, &u), -EUSERS, "the creator holds the only slot");
	decide_at(t, SEC, "a", 1);
	decide_at(t, SEC, "b", 1);
	EXPECT_RUN(CTL("-n", n, "window", "5s"), 0, out, "10s -> 5s");
	cr_assert_eq(evt_get_window(t), 5 * SEC);
	EXPECT_RUN(CTL("-n", n, "clear", "a"), 0, out, "a: cleared");
	EXPECT_RUN(CTL("-n", n, "clear", "--yes"), 0, out, "cleared 1 key of");
	evt_stats st;
	cr_assert_eq(evt_stats_get(t, &st), 0);
	cr_expect_eq(st.cleared, 2, "the operator's clears are counted");
	cr_expect_eq(st.keys, 0);
	cr_expect_eq(st.clients, 1, "no slot taken by the operator");
	EXPECT_RUN(INSPECT("-n", n, "check"), 0, out, "");
	evt_close(t);
}

Test(tools, ctl_clear_keys)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	decide_at(t, SEC, "a", 1);
	decide_at(t, SEC, "b", 1);
	struct run r = CTL("-n", n, "clear", "a", "c");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "a: cleared\nc: not tracked\n");
	decide_at(t, 2 * SEC, "a", 1); /* forgotten */
	decide_at(t, 2 * SEC, "b", 0); /* kept */
	evt_close(t);
}

Test(tools, ctl_clear_escaped_and_dash_keys)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	const char bin[] = { 'k', 0x01, (char)0xff, '\\' };
	cr_assert_eq(evt_should_process(t, SEC, NULL, bin, sizeof bin), 1);
	decide_at(t, SEC, "-x", 1);
	EXPECT_RUN(CTL("-n", n, "clear", "k\\x01\\xff\\x5c"), 0, out, "cleared");
	EXPECT_RUN(CTL("-n", n, "clear", "--", "-x"), 0, out, "-x: cleared");
	cr_assert_eq(evt_key_count(t), 0);
	evt_close(t);
}

Test(tools, ctl_clear_too_long_key_changes_nothing)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.key_max = 8;
	const char *n = new_name();
	evt_throttle *t = test_create(n, &o);
	decide_at(t, SEC, "short", 1);
	struct run r = CTL("-n", n, "clear", "short", "much-too-long");
	EXPECT_RUN(r, 1, err, "key_max");
	cr_assert_not_null(strstr(r.err, "throttle '"), "%s", r.err);
	decide_at(t, 2 * SEC, "short", 0); /* still tracked */
	EXPECT_USAGE(CTL("-n", n, "clear", ""), "empty key");
	evt_close(t);
}

Test(tools, ctl_status)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	decide_at(t, SEC, "a", 1);
	decide_at(t, SEC, "b", 1);
	decide_at(t, SEC, "c", 1);
	decide_at(t, 2 * SEC, "a", 0);
	struct run r = CTL("-n", n, "status");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_not_null(strstr(line_with(r.out, "window"), "10s"));
	cr_assert_not_null(strstr(line_with(r.out, "keys"), "3 / 1024"));
	cr_assert_not_null(strstr(line_with(r.out, "clients"), "1 / 256"));
	cr_assert_not_null(strstr(line_with(r.out, "processed"), "3"));
	cr_assert_not_null(strstr(line_with(r.out, "throttled"), "1"));
	cr_assert_not_null(strstr(line_with(r.out, "full"), "0 (policy: throttle)"));
	cr_assert_not_null(strstr(line_with(r.out, "daemon"), "none"));
	EXPECT_USAGE(CTL("-n", n, "status", "extra"), "no argument");
	evt_close(t);
}

/* Item 12: the daemon's own client slot is shown as such. */
Test(tools, ctl_status_shows_the_daemons_slot)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	struct run r = CTL("-n", n, "status");
	cr_assert_null(strstr(line_with(r.out, "clients"), "evthrottled"), "%s", r.out);
	/* This process holds a slot: let it pass for the daemon. */
	atomic_store(&t->r.hdr->daemon_pid, (uint64_t)getpid());
	r = CTL("-n", n, "status");
	cr_assert_not_null(strstr(line_with(r.out, "clients"), "1 / 256 (one is evthrottled's own)"),
	                   "%s", r.out);
	evt_close(t);
}

Test(tools, ctl_help_and_version)
{
	EXPECT_RUN(CTL("-h"), 0, out, "Usage: evthrottlectl");
	EXPECT_RUN(CTL("--help"), 0, out, "window DURATION");
	char want[96];
	snprintf(want, sizeof want, "evthrottlectl (evthrottle) %s, region format %d.%d\n",
	         EVT_PACKAGE_VERSION, EVT_VERSION_MAJOR, EVT_VERSION_MINOR);
	EXPECT_RUN(CTL("--version"), 0, out, want);
}

Test(tools, ctl_usage_errors)
{
	EXPECT_USAGE(run_tool("EVT_CTL", AS_ME, (char *)NULL), "missing command");
	EXPECT_USAGE(CTL("frobnicate"), "unknown command 'frobnicate'");
	EXPECT_USAGE(CTL("-x", "status"), "unknown option '-x'");
	EXPECT_USAGE(CTL("window", "-5s"), "a window is a positive duration");
	EXPECT_USAGE(CTL("--bogus", "status"), "unknown option '--bogus'");
	EXPECT_USAGE(CTL("status", "-n"), "needs an argument");
	EXPECT_USAGE(CTL("-n", "a/b", "status"), "invalid throttle name 'a/b'");
	EXPECT_USAGE(CTL("-n", ".hidden", "status"), "invalid throttle name");
	EXPECT_USAGE(CTL("--log-level", "loud", "status"), "invalid log level");
}

Test(tools, ctl_missing_throttle)
{
	const char *n = new_name();
	evt_unlink(n);
	const char *cmds[][3] = { { "status" }, { "window" }, { "window", "5s" }, { "clear" },
		                  { "clear", "k" } };
	char want[128];
	snprintf(want, sizeof want, "evthrottlectl: throttle '%s': no such throttle", n);
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		struct run r = CTL("-n", n, cmds[i][0], cmds[i][1]);
		EXPECT_RUN(r, 1, err, want);
		cr_assert_str_empty(r.out);
	}
}

Test(tools, ctl_other_version_and_corrupt)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	t->r.hdr->version_major = EVT_VERSION_MAJOR + 1;
	EXPECT_RUN(CTL("-n", n, "status"), 1, err, "incompatible evthrottle version");
	EXPECT_RUN(INSPECT("-n", n), 1, err, "incompatible evthrottle version");
	t->r.hdr->version_major = EVT_VERSION_MAJOR;
	t->r.hdr->magic ^= 1;
	EXPECT_RUN(CTL("-n", n, "window", "1s"), 1, err, "not an evthrottle region");
	EXPECT_RUN(INSPECT("-n", n, "check"), 1, err, "not an evthrottle region");
	evt_close(t);
}

/* Anyone may mkfifo in /dev/shm: the tools say what is there instead of blocking. */
Test(tools, fifo_squatting_a_name_is_refused, .timeout = 30)
{
	const char *n = new_name();
	char path[PATH_MAX];
	snprintf(path, sizeof path, "/dev/shm/evthrottle.%s", n);
	cr_assert_eq(mkfifo(path, 0666), 0, "mkfifo %s: %s", path, strerror(errno));
	EXPECT_RUN(CTL("-n", n, "status"), 1, err, "not a regular file");
	EXPECT_RUN(CTL("-n", n, "window", "1s"), 1, err, "not a regular file");
	EXPECT_RUN(INSPECT("-n", n), 1, err, "not a regular file");
}

Test(tools, ctl_log_dir)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-tools-log.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	char dir[128], path[160];
	snprintf(dir, sizeof dir, "%s/sub", tmpdir);
	snprintf(path, sizeof path, "%s/evthrottlectl.log", dir);
	EXPECT_RUN(CTL("--log-dir", dir, "-n", n, "window", "2s"), 0, out, "-> 2s");
	EXPECT_RUN(CTL("--log-dir", dir, "-n", "nosuch.throttle", "status"), 1, err, "no such");
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	char log[4096] = "";
	size_t len = fread(log, 1, sizeof log - 1, f);
	log[len] = '\0';
	fclose(f);
	cr_assert_not_null(strstr(log, "window 10s -> 2s"), "%s", log);
	cr_assert_not_null(strstr(log, "error: throttle 'nosuch.throttle': no such"), "%s", log);
	evt_close(t);
}

/* Another user's symbolic link where the log goes is refused, whatever it points
 * to; a new log is created 0640 whatever the umask. */
Test(tools, log_dir_refuses_a_symlink_and_ignores_the_umask)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-tools-log.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	char victim[128], link_path[160], dir[128], path[160];
	snprintf(victim, sizeof victim, "%s/victim", tmpdir);
	snprintf(link_path, sizeof link_path, "%s/evthrottlectl.log", tmpdir);
	FILE *f = fopen(victim, "w");
	cr_assert_not_null(f);
	fclose(f);
	cr_assert_eq(symlink(victim, link_path), 0);
	EXPECT_RUN(CTL("--log-dir", tmpdir, "-n", n, "window", "2s"), 1, err, "symbolic link");
	struct stat st;
	cr_assert_eq(stat(victim, &st), 0);
	cr_expect_eq(st.st_size, 0, "the log went through the link");
	cr_expect_eq(evt_get_window(t), 10 * SEC, "a failed start changed the window");

	snprintf(dir, sizeof dir, "%s/new", tmpdir);
	snprintf(path, sizeof path, "%s/evthrottlectl.log", dir);
	mode_t old = umask(0);
	struct run r = CTL("--log-dir", dir, "-n", n, "status");
	umask(old);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(stat(path, &st), 0, "%s: %s", path, strerror(errno));
	cr_expect_eq(st.st_mode & 07777, 0640, "log created %04o", st.st_mode & 07777);
	evt_close(t);
}

/* ======================= read-only use ======================= */

/* A copy of the tool anyone may run: the build tree may sit under a 0700 directory. */
static const char *public_copy(const char *env)
{
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-tools-bin.XXXXXX");
		cr_assert_not_null(mkdtemp(tmpdir));
		cr_assert_eq(chmod(tmpdir, 0755), 0);
	}
	const char *src = tool_path(env);
	const char *base = strrchr(src, '/') != NULL ? strrchr(src, '/') + 1 : src;
	char *dst = keep(malloc(256)), cmd[600];
	snprintf(dst, 256, "%s/%s", tmpdir, base);
	snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 0755 '%s'", src, dst, dst);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	return dst;
}

static struct run run_as(uid_t uid, const char *bin, ...)
{
	char *argv[40];
	va_list ap;
	va_start(ap, bin);
	build_argv(argv, 40, bin, ap);
	va_end(ap);
	return finish(start(uid, NULL, argv));
}

Test(tools, read_only_user)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run the tools as uid 65534");
	const char *n;
	evt_throttle *t = fresh(&n); /* mode 0644, owned by root */
	decide_at(t, SEC, "k", 1);
	const char *ctl = public_copy("EVT_CTL"), *insp = public_copy("EVT_INSPECT");

	EXPECT_RUN(run_as(NOBODY, insp, "-n", n, (char *)NULL), 0, out, "keys");
	EXPECT_RUN(run_as(NOBODY, insp, "-n", n, "keys", (char *)NULL), 0, out, "k");
	EXPECT_RUN(run_as(NOBODY, insp, "-n", n, "clients", (char *)NULL), 0, out, "live");
	EXPECT_RUN(run_as(NOBODY, insp, "-n", n, "check", (char *)NULL), 0, out, "ok");
	EXPECT_RUN(run_as(NOBODY, insp, "-n", n, "--json", (char *)NULL), 0, out, "\"keys\":1");
	/* ctl reads with read permission only */
	EXPECT_RUN(run_as(NOBODY, ctl, "-n", n, "window", (char *)NULL), 0, out, "10s");
	EXPECT_RUN(run_as(NOBODY, ctl, "-n", n, "status", (char *)NULL), 0, out, "1 / 1024");
	/* ...and cannot change anything */
	char want[128];
	snprintf(want, sizeof want, "evthrottlectl: throttle '%s': permission denied", n);
	EXPECT_RUN(run_as(NOBODY, ctl, "-n", n, "window", "5s", (char *)NULL), 1, err, want);
	EXPECT_RUN(run_as(NOBODY, ctl, "-n", n, "clear", (char *)NULL), 1, err, want);
	EXPECT_RUN(run_as(NOBODY, ctl, "-n", n, "clear", "k", (char *)NULL), 1, err, want);
	cr_assert_eq(evt_get_window(t), 10 * SEC);
	decide_at(t, 2 * SEC, "k", 0);
	evt_close(t);
}

Test(tools, unreadable_throttle)
{
	if (geteuid() != 0)
		cr_skip_test("needs root to run the tools as uid 65534");
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.mode = 0600;
	const char *n = new_name();
	evt_throttle *t = test_create(n, &o);
	const char *insp = public_copy("EVT_INSPECT");
	char want[128];
	snprintf(want, sizeof want, "evthrottle-inspect: throttle '%s': permission denied", n);
	EXPECT_RUN(run_as(NOBODY, insp, "-n", n, "stats", (char *)NULL), 1, err, want);
	evt_close(t);
}

/* ======================= evthrottle-inspect stats ======================= */

static evt_throttle *three_keys(const char **name)
{
	evt_throttle *t = fresh(name);
	decide_at(t, 1 * SEC, "user.a", 1);
	decide_at(t, 5 * SEC, "user.b", 1);
	decide_at(t, 9 * SEC, "other", 1);
	decide_at(t, 9 * SEC, "user.b", 0);
	return t;
}

Test(tools, inspect_stats_text)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct run r = INSPECT("-n", n);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(INSPECT("-n", n, "stats").out, r.out, "stats is the default command");
	cr_assert_not_null(strstr(line_with(r.out, "window"), "10s"));
	cr_assert_not_null(strstr(line_with(r.out, "keys "), "3 / 1024 (0.3%)"));
	cr_assert_not_null(strstr(line_with(r.out, "processed"), "3"));
	cr_assert_not_null(strstr(line_with(r.out, "throttled"), "1"));
	cr_assert_not_null(strstr(line_with(r.out, "new keys"), "3"));
	cr_assert_not_null(strstr(line_with(r.out, "reclaim horizon"), "ns"));
	const char *probe = line_with(r.out, "probe length");
	cr_assert_not_null(strstr(probe, "4-7:"));
	cr_assert_not_null(strstr(probe, "16-31:"));
	cr_assert_not_null(strstr(probe, "(3 keys scanned)"), "%s", probe);
	cr_assert_not_null(strstr(line_with(r.out, "rates"), "n/a"));
	evt_close(t);
}

Test(tools, inspect_stats_json)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct run r = INSPECT("-n", n, "--json", "stats");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(count_of(r.out, "\n"), 1, "one object on one line: %s", r.out);
	unsigned long long keys = 0;
	cr_assert_not_null(strstr(r.out, "\"keys\":"));
	cr_assert_eq(sscanf(strstr(r.out, "\"keys\":"), "\"keys\":%llu", &keys), 1);
	cr_assert_eq(keys, 3);
	char expr[512];
	snprintf(expr, sizeof expr,
	         "d['name'] == '%s' and d['window_ns'] == 10**10 and d['capacity'] == 1024 and "
	         "d['keys'] == 3 and d['processed'] == 3 and d['throttled'] == 1 and "
	         "d['clients'] == 1 and d['new_keys'] == 3 and d['full'] == 0 and "
	         "d['on_full'] == 'throttle' and abs(d['occupancy_pct'] - 300/1024) < 1e-3 and "
	         "sum(d['probe_histogram'].values()) == 3 and "
	         "list(d['probe_histogram']) == ['0','1','2','3','4-7','8-15','16-31'] and "
	         "'horizon_ns' in d and 'rates_per_s' not in d",
	         n);
	expect_json(r.out, expr);
	/* -j is --json */
	expect_json(INSPECT("-j", "-n", n).out, "d['keys'] == 3");
	evt_close(t);
}

/* Issue 21: evthrottlectl shadow on|off, and the limit, the mode and the reasons'
 * counters in inspect's text, JSON and Prometheus outputs. */
Test(tools, ctl_shadow_and_inspect_show_the_policies)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	struct run r = CTL("-n", n, "shadow");
	EXPECT_RUN(r, 0, out, "off");
	EXPECT_RUN(CTL("-n", n, "shadow", "on"), 0, out, "shadow off -> on");
	cr_assert_eq(evt_get_shadow(t), 1);
	EXPECT_RUN(CTL("-n", n, "--json", "shadow"), 0, out, "\"shadow\":1");
	EXPECT_USAGE(CTL("-n", n, "shadow", "yes"), "invalid shadow mode 'yes' (on or off)");
	EXPECT_USAGE(CTL("-n", n, "shadow", "on", "off"), "at most one on|off");
	cr_assert_eq(evt_get_shadow(t), 1, "a refused mode changed the throttle");
	cr_assert_eq(evt_update_limit(t, 2), 0);
	decide_at(t, 5 * SEC, "k", 1);
	decide_at(t, 5 * SEC, "k", 1);
	decide_at(t, 5 * SEC, "k", 1); /* would throttle */
	decide_at(t, 4 * SEC, "k", 1); /* out of order, would throttle */
	cr_assert_eq(evt_peek(t, 5 * SEC, "k", 1), 1);
	r = INSPECT("-n", n, "stats");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_not_null(strstr(line_with(r.out, "limit"), "2 per key per window"));
	cr_assert_not_null(strstr(line_with(r.out, "mode"), "shadow"));
	cr_assert_not_null(strstr(line_with(r.out, "out of order"), "1"));
	cr_assert_not_null(strstr(line_with(r.out, "inside window"), "1"));
	cr_assert_not_null(strstr(line_with(r.out, "would throttle"), "2"));
	cr_assert_not_null(strstr(line_with(r.out, "peeks"), "1"));
	expect_json(INSPECT("-n", n, "--json", "stats").out,
	            "d['limit'] == 2 and d['shadow'] is True and d['out_of_order'] == 1 and "
	            "d['inside_window'] == 1 and "
	            "d['would_throttle'] == 2 and d['peeks'] == 1 and d['throttled'] == 2 and "
	            "d['processed'] == 2");
	r = INSPECT("-n", n, "--prometheus");
	cr_assert_eq(r.code, 0, "%s", r.err);
	const char *want[] = { "evthrottle_limit{throttle=\"%s\"} 2\n",
		               "evthrottle_shadow{throttle=\"%s\"} 1\n",
		               "evthrottle_out_of_order_total{throttle=\"%s\"} 1\n",
		               "evthrottle_inside_window_total{throttle=\"%s\"} 1\n",
		               "evthrottle_would_throttle_total{throttle=\"%s\"} 2\n",
		               "evthrottle_peeks_total{throttle=\"%s\"} 1\n" };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char line[200];
		snprintf(line, sizeof line, want[i], n);
		cr_assert_not_null(strstr(r.out, line), "no %s in:\n%s", line, r.out);
	}
	EXPECT_RUN(CTL("-n", n, "shadow", "off"), 0, out, "shadow on -> off");
	decide_at(t, 5 * SEC, "k", 0);
	evt_close(t);
}

Test(tools, inspect_prometheus)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct run r = INSPECT("-n", n, "--prometheus");
	cr_assert_eq(r.code, 0, "%s", r.err);
	char want[160];
	snprintf(want, sizeof want, "evthrottle_processed_total{throttle=\"%s\"} 3\n", n);
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof want, "evthrottle_keys{throttle=\"%s\"} 3\n", n);
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	snprintf(want, sizeof want, "evthrottle_window_seconds{throttle=\"%s\"} 10", n);
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "# HELP evthrottle_processed_total "));
	cr_assert_not_null(strstr(r.out, "# TYPE evthrottle_processed_total counter\n"));
	cr_assert_not_null(strstr(r.out, "# TYPE evthrottle_keys gauge\n"));
	cr_assert_not_null(strstr(r.out, "distance=\"16-31\"}"));
	/* every sample line: name{labels} value */
	for (char *l = strtok(r.out, "\n"); l != NULL; l = strtok(NULL, "\n"))
		if (l[0] != '#')
			cr_assert(strncmp(l, "evthrottle_", 11) == 0 && strstr(l, "} ") != NULL,
			          "bad sample line: %s", l);
	evt_close(t);
}

/* Keys reclaimed under a 100 ns window, then the window raised: deciding them again
 * gives stale answers, which status, stats, JSON and Prometheus all show. */
Test(tools, stale_answers_are_shown)
{
	const char *n = new_name();
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 64;
	o.window_ns = 100;
	o.mode = 0600;
	evt_throttle *t = test_create(n, &o);
	char key[16];
	for (unsigned i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "k%u", i);
		cr_assert_eq(decide(t, (i + 1) * 10, key), 1);
	}
	cr_assert_eq(evt_update_window(t, SEC), 0);
	for (unsigned i = 0; i < 200; i++) {
		snprintf(key, sizeof key, "k%u", i);
		cr_assert_eq(decide(t, 3000 + i, key), 0);
	}
	evt_stats st;
	cr_assert_eq(evt_stats_get(t, &st), 0);
	cr_assert_gt(st.stale, 0);
	char want[160];
	snprintf(want, sizeof want, "%llu (policy: throttle)", (unsigned long long)st.stale);
	struct run r = CTL("-n", n, "status");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_not_null(strstr(line_with(r.out, "stale"), want), "%s", r.out);
	r = INSPECT("-n", n);
	cr_assert_not_null(strstr(line_with(r.out, "stale"), want), "%s", r.out);
	cr_assert_not_null(strstr(line_with(r.out, "client idle"), "1s"), "%s", r.out);
	char expr[200];
	snprintf(expr, sizeof expr,
	         "d['stale'] == %llu and d['on_stale'] == 'throttle' and d['client_idle_ns'] == 10**9",
	         (unsigned long long)st.stale);
	expect_json(INSPECT("-n", n, "--json").out, expr);
	snprintf(want, sizeof want, "evthrottle_stale_total{throttle=\"%s\"} %llu\n", n,
	         (unsigned long long)st.stale);
	r = INSPECT("-n", n, "--prometheus");
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "# TYPE evthrottle_stale_total counter\n"));
	evt_close(t);
}

/* ======================= --watch ======================= */

Test(tools, inspect_watch_count_and_rates)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct run r = INSPECT("-n", n, "--json", "--watch", "0.05", "--count", "3");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(count_of(r.out, "\n"), 3, "%s", r.out);
	expect_json(r.out, "len(L) == 3 and 'rates_per_s' not in L[0] and "
	                   "all(set(x['rates_per_s']) == {'processed', 'throttled', 'new_keys', "
	                   "'reclaimed', 'full', 'stale'} for x in L[1:])");
	r = INSPECT("-n", n, "-w", "50ms", "-c", "2");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(count_of(r.out, "throttle '"), 2, "%s", r.out);
	cr_assert_not_null(strstr(r.out, "n/a"));
	cr_assert_not_null(strstr(r.out, "processed 0.0/s"), "%s", r.out);
	r = INSPECT("-n", n, "keys", "--watch", "0.01", "--count", "2");
	cr_assert_eq(count_of(r.out, "user.a"), 2, "%s", r.out);
	evt_close(t);
}

/* Issue #16 item 11: a view of a removed or replaced region says so. */
Test(tools, inspect_watch_sees_the_region_replaced)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	cr_assert_eq(evt_is_current(t), 1);
	struct proc p = start_tool("EVT_INSPECT", "-n", n, "--watch", "0.02", "--count", "60",
	                           (char *)NULL);
	struct timespec ts = { 0, 300000000 };
	nanosleep(&ts, NULL);
	cr_assert_eq(evt_unlink(n), 0);
	cr_expect_eq(evt_is_current(t), 0, "removed");
	evt_throttle *u = fresh_named(n);
	cr_expect_eq(evt_is_current(t), 0, "replaced");
	cr_expect_eq(evt_is_current(u), 1);
	struct run r = finish(p);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_expect_not_null(strstr(r.out, "removed or replaced since attached"), "%s", r.out);
	EXPECT_RUN(INSPECT("-n", n, "--json"), 0, out, "\"region_current\":true");
	evt_close(u);
	evt_close(t);
	evt_throttle *anon;
	cr_assert_eq(evt_create(NULL, NULL, &anon), 0);
	cr_expect_eq(evt_is_current(anon), -EINVAL);
	cr_expect_eq(evt_is_current(NULL), -EINVAL);
	evt_close(anon);
}

/* Until p's first output can be read (left there for finish()): the tool has
 * attached and made its first round, however slowly it started (sanitizers). */
static void wait_first_output(struct proc p)
{
	struct pollfd f = { p.out, POLLIN, 0 };
	cr_assert_eq(poll(&f, 1, 30000), 1, "the tool printed nothing in 30 s");
}

static void watch_until(int sig)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct proc p = start_tool("EVT_INSPECT", "-n", n, "--watch", "0.02", (char *)NULL);
	wait_first_output(p);
	struct timespec ts = { 0, 200000000 };
	nanosleep(&ts, NULL);
	kill(p.pid, sig);
	struct run r = finish(p);
	cr_assert_eq(r.code, 0, "stopped by signal %d: exit %d\n%s", sig, r.code, r.err);
	cr_assert_geq(count_of(r.out, "throttle '"), 2, "%s", r.out);
	cr_assert_str_empty(r.err);
	evt_close(t);
}

/* Anyone with write permission may shrink the object: the watch notices before its
 * next round and says so, instead of dying of SIGBUS. */
Test(tools, inspect_watch_survives_a_truncated_region)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	size_t size = t->r.map_size;
	struct proc p = start_tool("EVT_INSPECT", "-n", n, "keys", "--watch", "0.02", (char *)NULL);
	wait_first_output(p);
	char path[PATH_MAX];
	snprintf(path, sizeof path, "/dev/shm/evthrottle.%s", n);
	cr_assert_eq(truncate(path, 4096), 0, "truncate %s: %s", path, strerror(errno));
	struct run r = finish(p);
	cr_assert_eq(truncate(path, (off_t)size), 0); /* for our own evt_close() */
	cr_assert_eq(r.code, 1, "exit %d (128 + signal when killed)\n%s", r.code, r.err);
	cr_assert_not_null(strstr(r.err, "is 4096 bytes"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "someone truncated it"), "%s", r.err);
	evt_close(t);
}

Test(tools, inspect_watch_stops_on_sigint)
{
	watch_until(SIGINT);
}

Test(tools, inspect_watch_stops_on_sigterm)
{
	watch_until(SIGTERM);
}

/* ======================= keys ======================= */

Test(tools, inspect_keys_text)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct run r = INSPECT("-n", n, "keys", "--now", "12000000000");
	cr_assert_eq(r.code, 0, "%s", r.err);
	/* newest first: other (9 s), user.b (5 s), user.a (1 s) */
	const char *o = strstr(r.out, "other"), *b = strstr(r.out, "user.b"),
	           *a = strstr(r.out, "user.a");
	cr_assert(o != NULL && b != NULL && a != NULL && o < b && b < a, "%s", r.out);
	const char *la = line_with(r.out, "user.a");
	cr_assert(strstr(la, "1000000000") && strstr(la, " 11s ") && strstr(la, "closed"), "%s",
	          la);
	const char *lb = line_with(r.out, "user.b");
	cr_assert(strstr(lb, "5000000000") && strstr(lb, " 7s ") && strstr(lb, "open"), "%s", lb);
	cr_assert_not_null(strstr(line_with(r.out, "other"), " 3s "));

	r = INSPECT("-n", n, "keys", "--now", "12000000000", "--oldest");
	a = strstr(r.out, "user.a");
	o = strstr(r.out, "other");
	cr_assert(a != NULL && o != NULL && a < o, "--oldest: %s", r.out);

	r = INSPECT("-n", n, "keys", "--prefix", "user.");
	cr_assert(strstr(r.out, "user.a") && strstr(r.out, "user.b") && !strstr(r.out, "other"),
	          "%s", r.out);
	r = INSPECT("-n", n, "keys", "-l", "1");
	cr_assert(strstr(r.out, "other") && !strstr(r.out, "user."), "%s", r.out);
	r = INSPECT("-n", n, "keys", "--limit", "1", "--oldest");
	cr_assert(strstr(r.out, "user.a") && !strstr(r.out, "other"), "%s", r.out);
	/* a key ahead of the reference time: negative age, window open */
	r = INSPECT("-n", n, "keys", "--now", "0", "--prefix", "other");
	cr_assert_not_null(strstr(line_with(r.out, "other"), "-9s"), "%s", r.out);
	evt_close(t);
}

Test(tools, inspect_keys_escaped)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	const char bin[] = { 'b', 'i', 'n', 0x01, (char)0xff, '\\', '"' };
	cr_assert_eq(evt_should_process(t, SEC, NULL, bin, sizeof bin), 1);
	struct run r = INSPECT("-n", n, "keys");
	cr_assert_not_null(strstr(r.out, "bin\\x01\\xff\\x5c\"\n"), "%s", r.out);
	r = INSPECT("-n", n, "keys", "--json");
	expect_json(r.out, "d[0]['key'] is None and d[0]['key_hex'] == '62696e01ff5c22' and "
	                   "d[0]['len'] == 7");
	r = INSPECT("-n", n, "keys", "--prefix", "bin\\x01");
	cr_assert_not_null(strstr(r.out, "bin\\x01"), "%s", r.out);
	evt_close(t);
}

Test(tools, inspect_keys_json)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct run r = INSPECT("-n", n, "--json", "keys", "--now", "12000000000");
	cr_assert_eq(r.code, 0, "%s", r.err);
	expect_json(r.out,
	            "[x['key'] for x in d] == ['other', 'user.b', 'user.a'] and "
	            "d[2] == dict(d[2], key='user.a', len=6, last_ns=10**9, age_ns=11*10**9, "
	            "open=False) and d[1]['open'] is True and d[0]['age_ns'] == 3*10**9 and "
	            "all(0 <= x['slot'] < 1024 and 0 <= x['home'] < 1024 for x in d)");
	expect_json(INSPECT("-n", n, "keys", "-j", "--prefix", "nothing").out, "d == []");
	evt_close(t);
}

/* ======================= clients ======================= */

Test(tools, inspect_clients)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	evt_throttle *idle;
	cr_assert_eq(evt_attach(n, 0, &idle), 0);
	/* a client that dies without detaching */
	pid_t child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		evt_throttle *c;
		if (evt_attach(n, 0, &c) != 0 || decide(c, 20 * SEC, "dead") != 1)
			_exit(1);
		_exit(0);
	}
	int st;
	cr_assert_eq(waitpid(child, &st, 0), child);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	atomic_store(&t->r.hdr->daemon_pid, (uint64_t)getpid());

	struct run r = INSPECT("-n", n, "clients");
	cr_assert_eq(r.code, 0, "%s", r.err);
	char pid[32];
	snprintf(pid, sizeof pid, " %d ", (int)getpid());
	const char *me = line_with(r.out, "9000000000");
	cr_assert(strstr(me, pid) && strstr(me, "live") && strstr(me, "alive") &&
	          strstr(me, "(daemon)"), "%s", me);
	cr_assert(strstr(me, " 3 ") && strstr(me, " 1 "), "processed 3, throttled 1: %s", me);
	snprintf(pid, sizeof pid, " %d ", (int)child);
	const char *dead = line_with(r.out, pid);
	cr_assert(strstr(dead, "dead") && strstr(dead, "20000000000") && !strstr(dead, "daemon"),
	          "%s", dead);
	cr_assert_not_null(strstr(r.out, " -  "), "an idle client has no watermark: %s", r.out);
	cr_assert_eq(count_of(r.out, "(daemon)"), 2, "both entries of this process: %s", r.out);

	char expr[512];
	snprintf(expr, sizeof expr,
	         "len(d) == 3 and "
	         "[(x['pid'], x['alive'], x['daemon'], x['watermark_ns'], x['processed'], "
	         "x['throttled']) for x in d] == [(%d, True, True, 9*10**9, 3, 1), "
	         "(%d, True, True, None, 0, 0), (%d, False, False, 2*10**10, 1, 0)] and "
	         "all(x['state'] == 'live' for x in d)",
	         (int)getpid(), (int)getpid(), (int)child);
	expect_json(INSPECT("-n", n, "clients", "--json").out, expr);
	evt_close(idle);
	evt_close(t);
}

/* ======================= check ======================= */

Test(tools, inspect_check_ok)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct run r = INSPECT("-n", n, "check");
	EXPECT_RUN(r, 0, out, "ok");
	cr_assert_not_null(strstr(r.out, "the key count agrees with the table"));
	char expr[128];
	snprintf(expr, sizeof expr, "d == {'name': '%s', 'violations': [], 'ok': True}", n);
	expect_json(INSPECT("-n", n, "check", "--json").out, expr);
	evt_close(t);
}

/* First published slot. */
static struct table_entry published_entry(evt_throttle *t)
{
	struct table_entry e;
	for (uint32_t i = 0; i <= t->r.mask; i++)
		if (table_read_slot(&t->r, i, &e))
			return e;
	cr_assert_fail("no published key");
	return e;
}

/* An empty slot in home's neighbourhood, other than its key's. */
static uint32_t empty_near(evt_throttle *t, uint32_t home, uint32_t *dist)
{
	for (uint32_t d = 1; d < REGION_NBHD; d++) {
		uint32_t i = (home + d) & t->r.mask;
		if (CTRL_STATE(atomic_load(&region_slot(&t->r, i)->ctrl)) == SLOT_EMPTY) {
			*dist = d;
			return i;
		}
	}
	cr_assert_fail("no empty slot near %u", home);
	return 0;
}

static void set_hop_bit(evt_throttle *t, uint32_t home, uint32_t bit)
{
	_Atomic uint64_t *hop = &region_slot(&t->r, home)->hop;
	uint64_t w = atomic_load(hop);
	atomic_store(hop, HOP_NEXT(w, HOP_BITS(w) | 1u << bit));
}

Test(tools, inspect_check_reports_violations)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	struct table_entry e = published_entry(t);
	uint32_t d, j = empty_near(t, e.home, &d);
	set_hop_bit(t, e.home, d); /* a hop bit naming an EMPTY slot */
	atomic_store(&region_client(&t->r, 7)->owner, (uint64_t)3 << 32 | 1); /* bad state */

	struct run r = INSPECT("-n", n, "check");
	cr_assert_eq(r.code, 1, "%s\n%s", r.out, r.err);
	char want[128];
	snprintf(want, sizeof want, "names slot %u, which is EMPTY", j);
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	cr_assert_not_null(strstr(r.out, "client 7: invalid state 3"), "%s", r.out);
	cr_assert_eq(count_of(r.out, "violation: "), 2, "%s", r.out);
	snprintf(want, sizeof want, "evthrottle-inspect: throttle '%s': 2 invariant violations", n);
	cr_assert_not_null(strstr(r.err, want), "%s", r.err);

	r = INSPECT("-n", n, "check", "--json");
	cr_assert_eq(r.code, 1);
	expect_json(r.out, "d['ok'] is False and len(d['violations']) == 2 and "
	                   "any('EMPTY' in v for v in d['violations'])");
	evt_close(t);
}

/* ---- table_check() itself ---- */

struct reports {
	int n;
	char msg[16][256];
	enum check_kind kind[16];
	int64_t a[16], b[16];
};

static void collect(void *ctx, const struct check_violation *v)
{
	struct reports *r = ctx;
	if (r->n < 16) {
		snprintf(r->msg[r->n], sizeof r->msg[0], "%s", v->text);
		r->kind[r->n] = v->kind;
		r->a[r->n] = v->a;
		r->b[r->n] = v->b;
	}
	r->n++;
}

static struct reports *check(evt_throttle *t)
{
	struct reports *r = (struct reports *)keep(calloc(1, sizeof *r));
	int n = table_check(&t->r, collect, r);
	cr_assert_eq(n, r->n, "table_check returned %d for %d reports", n, r->n);
	return r;
}

/* A violation of that kind whose text has needle. */
static bool reported(const struct reports *r, enum check_kind kind, const char *needle)
{
	for (int i = 0; i < r->n && i < 16; i++)
		if (r->kind[i] == kind && strstr(r->msg[i], needle) != NULL)
			return true;
	return false;
}

static evt_throttle *many_keys(const char **name, int n)
{
	evt_throttle *t = fresh(name);
	char key[32];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "key-%d", i);
		decide_at(t, SEC + (uint64_t)i, key, 1);
	}
	return t;
}

#define EXPECT_REPORT(r, kind, needle)                                                 \
	cr_assert(reported((r), (kind), (needle)),                                     \
	          "no report of kind %d with \"%s\" (%d reports, first: %s)", (kind), (needle), \
	          (r)->n, (r)->n > 0 ? (r)->msg[0] : "-")

Test(tools, check_clean_table)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 400);
	evt_clear_key(t, "key-5", 5);
	cr_assert_eq(check(t)->n, 0, "%s", check(t)->msg[0]);
	evt_throttle *ro;
	cr_assert_eq(evt_attach(n, EVT_RDONLY, &ro), 0);
	cr_assert_eq(table_check(&ro->r, collect, keep(calloc(1, sizeof(struct reports)))), 0,
	             "works on a read-only mapping");
	evt_close(ro);
	evt_clear(t);
	cr_assert_eq(check(t)->n, 0);
	evt_close(t);
}

Test(tools, check_home_mismatch)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 50);
	struct table_entry e = published_entry(t);
	atomic_store(&region_slot(&t->r, e.slot)->home, (e.home + 1) & t->r.mask);
	struct reports *r = check(t);
	char want[96];
	snprintf(want, sizeof want, "slot %u: published under home %u but records home %u", e.slot,
	         e.home, (e.home + 1) & t->r.mask);
	EXPECT_REPORT(r, CHECK_KEY, want);
	evt_close(t);
}

Test(tools, check_duplicate_key)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 50);
	struct table_entry e = published_entry(t);
	uint32_t d, j = empty_near(t, e.home, &d);
	struct region_slot *s = region_slot(&t->r, e.slot), *c = region_slot(&t->r, j);
	atomic_store(&c->last, atomic_load(&s->last));
	atomic_store(&c->home, e.home);
	atomic_store(&c->key_len, e.len);
	for (uint32_t w = 0; w < (e.len + 7) / 8; w++)
		atomic_store(&c->key[w], atomic_load(&s->key[w]));
	uint64_t ctrl = atomic_load(&s->ctrl);
	atomic_store(&c->ctrl, CTRL_MAKE(SLOT_CLAIMED, CTRL_TAG(ctrl), 0, 1));
	set_hop_bit(t, e.home, d);
	struct reports *r = check(t);
	EXPECT_REPORT(r, CHECK_KEY, "one key published twice");
	EXPECT_REPORT(r, CHECK_KEY_COUNT, "51 published keys, but the counters say 50");
	bool values = false;
	for (int i = 0; i < r->n && i < 16; i++)
		values |= r->kind[i] == CHECK_KEY_COUNT && r->a[i] == 51 && r->b[i] == 50;
	cr_expect(values, "the key count's violation carries 51 published and 50 counted");
	evt_close(t);
}

Test(tools, check_unreachable_key)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 50);
	struct table_entry e = published_entry(t);
	_Atomic uint64_t *w0 = &region_slot(&t->r, e.slot)->key[0];
	atomic_store(w0, atomic_load(w0) ^ 0x40); /* another key now */
	struct reports *r = check(t);
	cr_assert(reported(r, CHECK_KEY, "(unreachable)"), "%d: %s", r->n, r->msg[0]);
	evt_close(t);
}

Test(tools, check_bad_key_length_and_slot_state)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 50);
	struct table_entry e = published_entry(t);
	atomic_store(&region_slot(&t->r, e.slot)->key_len, 0);
	uint32_t d, j = empty_near(t, e.home, &d);
	atomic_store(&region_slot(&t->r, j)->ctrl, CTRL_MAKE(SLOT_MOVING, 0, 40, 0));
	struct reports *r = check(t);
	char want[96];
	snprintf(want, sizeof want, "slot %u: key length 0 outside 1..32", e.slot);
	EXPECT_REPORT(r, CHECK_KEY, want);
	snprintf(want, sizeof want, "slot %u: moving to bit 40, beyond the neighbourhood", j);
	EXPECT_REPORT(r, CHECK_CLAIM, want);
	evt_close(t);
}

Test(tools, check_count_mismatch)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 20);
	atomic_fetch_add(&t->me.entry->ctr[CTR_NEW_KEYS], 2);
	struct reports *r = check(t);
	cr_assert_eq(r->n, 1);
	EXPECT_REPORT(r, CHECK_KEY_COUNT, "20 published keys, but the counters say 22");
	EXPECT_REPORT(r, CHECK_KEY_COUNT, "only while no client writes");
	evt_close(t);
}

Test(tools, check_leaked_claim_and_bad_owner)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 20);
	struct table_entry e = published_entry(t);
	uint32_t d, j = empty_near(t, e.home, &d);
	/* claimed by entry 9, which is free: nobody will ever free it */
	atomic_store(&region_slot(&t->r, j)->ctrl, CTRL_MAKE(SLOT_CLAIMED, 0, 9, 7));
	struct reports *r = check(t);
	char want[96];
	snprintf(want, sizeof want, "slot %u: claimed by client 9, which is gone", j);
	EXPECT_REPORT(r, CHECK_CLAIM, want);
	atomic_store(&region_slot(&t->r, j)->ctrl, CTRL_MAKE(SLOT_CLAIMED, 0, 300, 8));
	snprintf(want, sizeof want, "slot %u: claimed by client 300, beyond client_max 256", j);
	EXPECT_REPORT(check(t), CHECK_CLAIM, want);
	/* a claim of a live client is an insert in progress, not a violation */
	atomic_store(&region_slot(&t->r, j)->ctrl, CTRL_MAKE(SLOT_CLAIMED, 0, t->me.index, 9));
	cr_assert_eq(check(t)->n, 0, "%s", check(t)->msg[0]);
	evt_close(t);
}

Test(tools, check_clients_and_header)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 5);
	struct region_client *c = region_client(&t->r, 200); /* beyond client_hwm (1) */
	atomic_store(&c->owner, CLIENT_OWNER(CLIENT_LIVE, getpid()));
	atomic_store(&region_client(&t->r, 0)->ctr[CTR_THROTTLED], 0);
	t->me.entry->base[CTR_THROTTLED] = 5;
	atomic_store(&t->r.hdr->window_ns, 0);
	struct reports *r = check(t);
	EXPECT_REPORT(r, CHECK_CLIENT, "client 200: in use beyond client_hwm");
	EXPECT_REPORT(r, CHECK_CLIENT, "client 0: counter 1 is below its value at attach");
	EXPECT_REPORT(r, CHECK_HEADER, "header: window is 0");
	t->r.hdr->capacity = 2048; /* geometry no longer matches the file */
	EXPECT_REPORT(check(t), CHECK_HEADER, "header: no longer valid");
	t->r.hdr->capacity = 1024;
	t->r.hdr->hash_seed ^= 1;
	EXPECT_REPORT(check(t), CHECK_HEADER, "header: geometry, seed or policy changed");
	t->r.hdr->hash_seed ^= 1;
	atomic_store(&c->owner, 0);
	atomic_store(&t->r.hdr->window_ns, SEC);
	t->me.entry->base[CTR_THROTTLED] = 0;
	cr_assert_eq(check(t)->n, 0, "%s", check(t)->msg[0]);
	evt_close(t);
}

/* Garbage everywhere after the header: table_check must stay inside the mapping
 * (AddressSanitizer runs this too) and finish. */
Test(tools, check_survives_garbage)
{
	const char *n;
	evt_throttle *t = many_keys(&n, 100);
	unsigned char *base = (unsigned char *)t->r.hdr;
	srand(42);
	for (int round = 0; round < 8; round++) {
		/* even rounds: every byte random; odd rounds: a quarter of them */
		for (size_t i = sizeof(struct region_hdr); i < t->r.map_size; i++)
			base[i] = (unsigned char)(round % 2 == 0 || rand() % 4 == 0 ? rand() : 0);
		struct reports r = { 0 };
		int v = table_check(&t->r, collect, &r);
		cr_assert_gt(v, 0, "garbage found consistent");
	}
	evt_close(t);
}

/* ---- while clients write ---- */

struct writer {
	const char *name;
	atomic_bool *stop;
	unsigned seed;
};

static void *write_loop(void *arg)
{
	struct writer *w = arg;
	evt_throttle *t;
	if (evt_attach(w->name, 0, &t) != 0)
		return NULL;
	char key[32];
	uint64_t ts = 0;
	while (!atomic_load(w->stop)) {
		unsigned k = (unsigned)rand_r(&w->seed) % 2000;
		snprintf(key, sizeof key, "w%u", k);
		ts += 1000;
		evt_should_process(t, ts, NULL, key, strlen(key));
		if (k % 97 == 0)
			evt_clear_key(t, key, strlen(key));
	}
	evt_close(t);
	return NULL;
}

/* Only the count may disagree while clients write; a structural report would be a
 * false one. */
static void expect_only_count_reports(const struct reports *r)
{
	for (int i = 0; i < r->n && i < 16; i++)
		cr_assert_not_null(strstr(r->msg[i], "published keys, but the counters"), "%s",
		                   r->msg[i]);
}

Test(tools, check_and_inspect_while_clients_write, .timeout = 120)
{
	evt_options o = EVT_OPTIONS_INIT;
	o.capacity = 1024; /* 2000 keys: reclaim keeps reusing slots */
	o.window_ns = 50000;
	o.mode = 0644;
	const char *n = new_name();
	evt_throttle *t = test_create(n, &o);
	atomic_bool stop = false;
	pthread_t th[2];
	struct writer w[2];
	for (int i = 0; i < 2; i++) {
		w[i] = (struct writer){ n, &stop, (unsigned)i + 1 };
		cr_assert_eq(pthread_create(&th[i], NULL, write_loop, &w[i]), 0);
	}
	for (int i = 0; i < 10; i++)
		expect_only_count_reports(check(t));
	for (int i = 0; i < 2; i++) {
		struct run r = INSPECT("-n", n, "--json");
		cr_assert_eq(r.code, 0, "%s", r.err);
		expect_json(r.out, "d['keys'] >= 0 and d['capacity'] == 1024");
		r = INSPECT("-n", n, "keys", "--json");
		cr_assert_eq(r.code, 0, "%s", r.err);
		expect_json(r.out, "all(x['key'].startswith('w') for x in d)");
		EXPECT_RUN(INSPECT("-n", n, "clients"), 0, out, "live");
		r = INSPECT("-n", n, "check");
		cr_assert(r.code == 0 || r.code == 1, "check ended with %d: %s", r.code, r.err);
		for (char *l = strtok(r.out, "\n"); l != NULL; l = strtok(NULL, "\n"))
			cr_assert(strstr(l, "violation") == NULL || strstr(l, "published keys"),
			          "%s", l);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	struct reports *r = check(t);
	cr_assert_eq(r->n, 0, "quiescent again: %s", r->msg[0]);
	evt_close(t);
}

/* ======================= inspect: bad arguments ======================= */

Test(tools, inspect_help_and_version)
{
	EXPECT_RUN(INSPECT("--help"), 0, out, "Usage: evthrottle-inspect");
	EXPECT_RUN(INSPECT("-h"), 0, out, "--prometheus");
	EXPECT_RUN(INSPECT("--version"), 0, out, "evthrottle-inspect (evthrottle) ");
}

Test(tools, inspect_usage_errors)
{
	EXPECT_USAGE(INSPECT("frobnicate"), "unknown command 'frobnicate'");
	EXPECT_USAGE(INSPECT("stats", "keys"), "unexpected argument 'keys'");
	EXPECT_USAGE(INSPECT("-x"), "unknown option '-x'");
	EXPECT_USAGE(INSPECT("--bogus"), "unknown option '--bogus'");
	EXPECT_USAGE(INSPECT("--watch"), "needs an argument");
	EXPECT_USAGE(INSPECT("--json", "--prometheus"), "exclude each other");
	EXPECT_USAGE(INSPECT("--prometheus", "keys"), "for the stats command");
	EXPECT_USAGE(INSPECT("--limit", "3"), "for the keys command");
	EXPECT_USAGE(INSPECT("clients", "--now", "5"), "for the keys command");
	EXPECT_USAGE(INSPECT("stats", "--oldest"), "for the keys command");
	EXPECT_USAGE(INSPECT("keys", "--limit", "ten"), "invalid --limit 'ten'");
	EXPECT_USAGE(INSPECT("keys", "--limit", "0"), "--limit 0 would list no key");
	EXPECT_USAGE(INSPECT("keys", "--now", "-1"), "invalid --now");
	EXPECT_USAGE(INSPECT("--watch", "0"), "invalid --watch interval");
	EXPECT_USAGE(INSPECT("--watch", "soon"), "invalid --watch interval");
	EXPECT_USAGE(INSPECT("--watch", "1", "--count", "0"), "invalid --count");
	EXPECT_USAGE(INSPECT("--count", "2"), "--count needs --watch");
	EXPECT_USAGE(INSPECT("-n", "bad name"), "invalid throttle name");
}

Test(tools, inspect_missing_throttle)
{
	const char *n = new_name();
	evt_unlink(n);
	char want[128];
	snprintf(want, sizeof want, "evthrottle-inspect: throttle '%s': no such throttle", n);
	const char *cmds[] = { "stats", "keys", "clients", "check" };
	for (size_t i = 0; i < 4; i++) {
		struct run r = INSPECT("-n", n, cmds[i]);
		EXPECT_RUN(r, 1, err, want);
		cr_assert_str_empty(r.out);
	}
	EXPECT_RUN(INSPECT("-n", n, "--watch", "1"), 1, err, want);
}

/* ============ evthrottlectl: issue #22 (clear --yes, list, -a, --json, errors) ============ */

static evt_throttle *with_keys(const char **name, int n)
{
	evt_throttle *t = fresh(name);
	char key[16];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "k%d", i);
		decide_at(t, SEC, key, 1);
	}
	return t;
}

/* Run evthrottlectl with a terminal as stdin, answer typed on it. */
static struct run ctl_on_terminal(const char *answer, const char *name)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_geq(m, 0, "posix_openpt: %s", strerror(errno));
	cr_assert_eq(grantpt(m), 0);
	cr_assert_eq(unlockpt(m), 0);
	int in = open(ptsname(m), O_RDWR | O_NOCTTY | O_CLOEXEC);
	cr_assert_eq(write(m, answer, strlen(answer)), (ssize_t)strlen(answer));
	char *argv[] = { (char *)tool_path("EVT_CTL"), "-n", (char *)name, "clear", NULL };
	struct run r = finish(start_fd(AS_ME, in, argv));
	close(m);
	return r;
}

Test(tools, ctl_clear_all_needs_yes_without_a_terminal)
{
	const char *n;
	evt_throttle *t = with_keys(&n, 5);
	struct run r = CTL("-n", n, "clear");
	EXPECT_USAGE(r, "add --yes");
	cr_assert_not_null(strstr(r.err, "(5 now)"), "%s", r.err);
	cr_assert_str_empty(r.out);
	cr_assert_eq(evt_key_count(t), 5, "a refused clear changed the throttle");
	char want[EVT_NAME_MAX + 64];
	snprintf(want, sizeof want, "cleared 5 keys of throttle '%s'\n", n);
	r = CTL("-n", n, "clear", "--yes");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, want);
	cr_assert_eq(evt_key_count(t), 0);
	decide_at(t, 2 * SEC, "a", 1);
	EXPECT_RUN(CTL("-n", n, "clear", "a"), 0, out, "a: cleared"); /* keys: no --yes */
	evt_close(t);
}

Test(tools, ctl_clear_all_asks_on_a_terminal)
{
	const char *n;
	evt_throttle *t = with_keys(&n, 3);
	struct run r = ctl_on_terminal("n\n", n);
	EXPECT_RUN(r, 1, err, "(3 now)? [y/N]");
	cr_assert_not_null(strstr(r.err, "nothing cleared"), "%s", r.err);
	cr_assert_eq(evt_key_count(t), 3, "a declined clear changed the throttle");
	r = ctl_on_terminal("y\n", n);
	EXPECT_RUN(r, 0, out, "cleared 3 keys of throttle '");
	cr_assert_eq(evt_key_count(t), 0);
	evt_close(t);
}

/* The line of list's output that starts with name and a space. */
static const char *listed(const char *out, const char *name)
{
	char needle[EVT_NAME_MAX + 4];
	snprintf(needle, sizeof needle, "\n%s ", name);
	char *all = keep(malloc(strlen(out) + 2));
	sprintf(all, "\n%s", out);
	const char *at = strstr(all, needle);
	cr_assert_not_null(at, "%s is not listed:\n%s", name, out);
	return line_with(at + 1, needle + 1);
}

Test(tools, ctl_list_every_throttle)
{
	const char *a, *b, *bad = new_name();
	evt_throttle *ta = with_keys(&a, 3), *tb = fresh(&b);
	cr_assert_eq(evt_update_window(tb, 250000000ull), 0);
	cr_assert_eq(evt_update_limit(tb, 3), 0);
	cr_assert_eq(evt_set_shadow(tb, true), 0);
	char path[PATH_MAX], hidden[PATH_MAX];
	snprintf(path, sizeof path, "/dev/shm/evthrottle.%s", bad);
	int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, "garbage", 7), 7);
	close(fd);
	snprintf(hidden, sizeof hidden, "/dev/shm/.evthrottle.%s", bad);
	fd = open(hidden, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	struct run r = CTL("list");
	unlink(hidden);
	cr_assert_eq(r.code, 0, "%s", r.err);
	const char *la = listed(r.out, a), *lb = listed(r.out, b);
	cr_assert_not_null(strstr(la, "window 10s"), "%s", la);
	cr_assert_not_null(strstr(la, "keys 3/1024"), "%s", la);
	cr_assert_not_null(strstr(la, "clients 1/256"), "%s", la);
	cr_assert_not_null(strstr(la, "daemon none"), "%s", la);
	cr_assert_not_null(strstr(lb, "window 250ms"), "%s", lb);
	cr_assert_not_null(strstr(la, "limit 1     enforcing"), "%s", la);
	cr_assert_not_null(strstr(lb, "limit 3     shadow"), "%s", lb);
	cr_assert_not_null(strstr(listed(r.out, bad), "unreadable: "), "%s", r.out);
	/* (a hidden object without the creator's random suffix is nobody's creation;
	 * other suites' creations in progress are listed after the throttles) */
	cr_assert_null(strstr(r.out, hidden + sizeof "/dev/shm"), "a hidden object is listed:\n%s",
	               r.out);
	cr_assert_lt(strstr(r.out, a) - r.out, strstr(r.out, b) - r.out, "not in name order");
	char expr[EVT_NAME_MAX * 8 + 400];
	snprintf(expr, sizeof expr,
	         "(lambda m: m['%s']['keys'] == 3 and m['%s']['capacity'] == 1024 and "
	         "m['%s']['window_ns'] == 250000000 and m['%s']['daemon'] == 'none' and "
	         "m['%s']['limit'] == 1 and m['%s']['shadow'] is False and "
	         "m['%s']['limit'] == 3 and m['%s']['shadow'] is True and "
	         "'error' in m['%s'])({o['name']: o for o in L})", a, a, b, a, a, a, b, b, bad);
	r = CTL("--json", "list");
	cr_assert_eq(r.code, 0, "%s", r.err);
	expect_json(r.out, expr);
	EXPECT_USAGE(CTL("list", "x"), "list takes no argument");
	EXPECT_USAGE(CTL("-a", "window"), "for status only");
	evt_close(ta);
	evt_close(tb);
}

/* Then the hidden objects of creations (lib/hidden.h): one being built, one a
 * creator that died left; not in JSON, one object per throttle. */
Test(tools, ctl_list_shows_hidden_objects)
{
	const char *n = new_name();
	char dead[320], live[320], want[400];
	hidden_creator_kill(hidden_creator(n, dead, sizeof dead));
	hidden_creator(n, live, sizeof live);
	struct run r = CTL("list"), j = CTL("--json", "list");
	hidden_cleanup(n);
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(want, sizeof want, "%s  hidden: being created\n", live + sizeof SHM_DIR);
	cr_expect_not_null(strstr(r.out, want), "no '%s' in:\n%s", want, r.out);
	snprintf(want, sizeof want, "%s  hidden: left by a creator that died", dead + sizeof SHM_DIR);
	cr_expect_not_null(strstr(r.out, want), "no '%s' in:\n%s", want, r.out);
	cr_assert_eq(j.code, 0, "%s", j.err);
	cr_expect_null(strstr(j.out, n), "in JSON:\n%s", j.out);
}

Test(tools, ctl_status_all)
{
	const char *a, *b;
	evt_throttle *ta = with_keys(&a, 2), *tb = with_keys(&b, 4);
	/* Other suites' throttles come and go (and some are broken on purpose): the
	 * exit status says whether every one could be read. */
	struct run r = CTL("status", "--all");
	cr_assert(r.code == 0 || (r.code == 1 && r.err[0] != '\0'), "exit %d: %s", r.code, r.err);
	char want[EVT_NAME_MAX + 16];
	snprintf(want, sizeof want, "throttle '%s'\n", a);
	cr_assert_not_null(strstr(line_with(strstr(r.out, want), "keys"), "2 / 1024"), "%s", r.out);
	snprintf(want, sizeof want, "throttle '%s'\n", b);
	cr_assert_not_null(strstr(line_with(strstr(r.out, want), "keys"), "4 / 1024"), "%s", r.out);
	r = CTL("-a", "--json", "status");
	char expr[EVT_NAME_MAX * 2 + 128];
	snprintf(expr, sizeof expr,
	         "(lambda m: m['%s']['keys'] == 2 and m['%s']['keys'] == 4)"
	         "({o['name']: o for o in L})", a, b);
	expect_json(r.out, expr);
	evt_close(ta);
	evt_close(tb);
}

Test(tools, ctl_json_every_command)
{
	const char *n;
	evt_throttle *t = with_keys(&n, 2);
	char expr[EVT_NAME_MAX + 256];
	struct run r = CTL("-n", n, "--json", "window");
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(expr, sizeof expr, "d == {'name': '%s', 'window_ns': 10000000000}", n);
	expect_json(r.out, expr);
	r = CTL("-n", n, "-j", "window", "2s");
	snprintf(expr, sizeof expr,
	         "d == {'name': '%s', 'old_window_ns': 10000000000, 'window_ns': 2000000000}", n);
	expect_json(r.out, expr);
	r = CTL("-n", n, "-j", "clear", "k0", "zz");
	snprintf(expr, sizeof expr,
	         "d == {'name': '%s', 'keys': [{'key': 'k0', 'cleared': True}, "
	         "{'key': 'zz', 'cleared': False}]}", n);
	expect_json(r.out, expr);
	r = CTL("-n", n, "-j", "status");
	snprintf(expr, sizeof expr, "len(L) == 1 and d['name'] == '%s' and d['keys'] == 1 and "
	         "d['window_ns'] == 2000000000 and d['daemon_running'] is False", n);
	expect_json(r.out, expr);
	r = CTL("-n", n, "-j", "-y", "clear");
	snprintf(expr, sizeof expr, "d == {'name': '%s', 'cleared': 1}", n);
	expect_json(r.out, expr);
	evt_close(t);
}

/* Item 10: the value and the limit. */
Test(tools, ctl_errors_name_the_value_and_the_limit)
{
	char longname[301];
	memset(longname, 'a', 300);
	longname[300] = '\0';
	EXPECT_USAGE(CTL("-n", longname, "status"), "throttle name is 300 bytes, at most 200");
	const char *n;
	evt_throttle *t = fresh(&n);
	EXPECT_RUN(CTL("-n", n, "clear", "0123456789012345678901234567890123456789"), 1, err,
	           "key '0123456789012345678901234567890123456789' is 40 bytes, this throttle's "
	           "key_max is 32");
	char huge[2 * REGION_KEY_MAX + 1];
	memset(huge, 'k', sizeof huge - 1);
	huge[sizeof huge - 1] = '\0';
	EXPECT_RUN(CTL("-n", n, "clear", huge), 1, err, "is 2048 bytes, this throttle's key_max");
	EXPECT_RUN(CTL("-n", n, "clear", "\\x41\\x42"), 0, out, "not tracked");
	evt_close(t);
}

/* ======================= inspect: key, UTF-8 JSON, every throttle ======================= */

Test(tools, inspect_key_exact_lookup)
{
	const char *n;
	evt_throttle *t = three_keys(&n);
	decide_at(t, 2 * SEC, "user.bb", 1);
	struct run r = INSPECT("-n", n, "key", "user.b", "user.a", "user", "--now", "12000000000");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(count_of(r.out, "\n"), 3, "one line a key: %s", r.out);
	const char *b = line_with(r.out, "key 'user.b'");
	cr_assert(strstr(b, "last 5000000000 ns, age 7s, window open, 1 of 1 processed (full), reopens in 3s"),
	          "%s", b);
	const char *a = line_with(r.out, "key 'user.a'");
	cr_assert(strstr(a, "last 1000000000 ns, age 11s, window closed"), "%s", a);
	cr_assert(!strstr(a, "reopens"), "%s", a);
	cr_assert_not_null(strstr(line_with(r.out, "key 'user'"), "not tracked"), "%s", r.out);
	/* a key ahead of --now: negative age, reopens a window after its last */
	r = INSPECT("-n", n, "key", "other", "--now", "0");
	cr_assert_not_null(strstr(r.out, "age -9s, window open, 1 of 1 processed (full), reopens in 19s"), "%s",
	                   r.out);

	r = INSPECT("-n", n, "-j", "key", "user.b", "user.a", "nope", "--now", "12000000000");
	cr_assert_eq(r.code, 0, "%s", r.err);
	expect_json(r.out,
	            "len(L) == 3 and L[0] == dict(key='user.b', len=6, tracked=True, "
	            "window_ns=10**10, last_ns=5*10**9, age_ns=7*10**9, open=True, "
	            "processed_in_window=1, limit=1, reopens_in_ns=3*10**9) and L[1]['open'] is False and "
	            "'reopens_in_ns' not in L[1] and L[1]['age_ns'] == 11*10**9 and "
	            "L[2] == dict(key='nope', len=4, tracked=False, window_ns=10**10)");
	/* without --now the ages are against evt_now_ns() */
	cr_assert_eq(decide(t, evt_now_ns(), "fresh"), 1);
	expect_json(INSPECT("-n", n, "-j", "key", "fresh").out,
	            "d['open'] is True and 0 <= d['age_ns'] < 60*10**9");
	/* under a limit, how many of it the open window has had */
	cr_assert_eq(evt_update_limit(t, 3), 0);
	decide_at(t, 6 * SEC, "user.b", 1);
	r = INSPECT("-n", n, "key", "user.b", "--now", "12000000000");
	cr_assert_not_null(strstr(r.out, "window open, 2 of 3 processed (room for 1 more), closes in 3s"), "%s", r.out);
	expect_json(INSPECT("-n", n, "-j", "keys").out,
	            "[k['processed_in_window'] for k in d if k['key'] == 'user.b'] == [2]");
	evt_close(t);
}

Test(tools, inspect_key_escapes_and_errors)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	const char bin[] = { 'b', 0x01, (char)0xff };
	cr_assert_eq(evt_should_process(t, SEC, NULL, bin, sizeof bin), 1);
	cr_assert_eq(evt_should_process(t, SEC, NULL, "-dash", 5), 1);
	struct run r = INSPECT("-n", n, "--now", "2000000000", "key", "b\\x01\\xff", "b\\x01");
	cr_assert_not_null(strstr(line_with(r.out, "'b\\x01\\xff'"), "window open"), "%s", r.out);
	cr_assert_not_null(strstr(line_with(r.out, "'b\\x01'"), "not tracked"), "%s", r.out);
	r = INSPECT("-n", n, "key", "--", "-dash");
	cr_assert_not_null(strstr(r.out, "key '-dash': last 1000000000 ns"), "%s", r.out);
	EXPECT_USAGE(INSPECT("-n", n, "key"), "key needs at least one KEY");
	char *long_key = keep(malloc(REGION_KEY_MAX + 2));
	memset(long_key, 'k', REGION_KEY_MAX + 1);
	long_key[REGION_KEY_MAX + 1] = '\0';
	EXPECT_USAGE(INSPECT("-n", n, "key", long_key), "longer than any key");
	EXPECT_USAGE(INSPECT("key", "a", "--prefix", "a"), "for the keys command");
	EXPECT_USAGE(INSPECT("stats", "--now", "1"), "--now is for the keys command");
	evt_close(t);
}

/* Valid UTF-8 keys are JSON text; other keys are null with their bytes in hex. */
Test(tools, inspect_json_keys_utf8)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	const char utf8[] = "\xc3\xa9-user\xe2\x82\xac";
	const char bad[] = { 'x', (char)0xc3, '(' };      /* a cut sequence */
	const char over[] = { (char)0xc0, (char)0xaf };   /* overlong '/' */
	const char surr[] = { (char)0xed, (char)0xa0, (char)0x80 }; /* a surrogate */
	cr_assert_eq(evt_should_process(t, 1, NULL, utf8, strlen(utf8)), 1);
	cr_assert_eq(evt_should_process(t, 2, NULL, bad, sizeof bad), 1);
	cr_assert_eq(evt_should_process(t, 3, NULL, over, sizeof over), 1);
	cr_assert_eq(evt_should_process(t, 4, NULL, surr, sizeof surr), 1);
	cr_assert_eq(evt_should_process(t, 5, NULL, "q\"\\\n", 4), 1);
	struct run r = INSPECT("-n", n, "-j", "keys", "--oldest");
	cr_assert_eq(r.code, 0, "%s", r.err);
	expect_json(r.out, "d[0]['key'] == '\\u00e9-user\\u20ac' and 'key_hex' not in d[0] and "
	                   "d[1]['key'] is None and d[1]['key_hex'] == '78c328' and "
	                   "d[2]['key'] is None and d[2]['key_hex'] == 'c0af' and "
	                   "d[3]['key'] is None and d[3]['key_hex'] == 'eda080' and "
	                   "d[4]['key'] == 'q\"\\\\\\n' and d[4]['len'] == 4");
	cr_assert_not_null(strstr(r.out, "\"\xc3\xa9-user\xe2\x82\xac\""), "raw UTF-8: %s", r.out);
	expect_json(INSPECT("-n", n, "-j", "key", "\\xc3\\xa9-user\\xe2\\x82\\xac").out,
	            "d['key'] == '\\u00e9-user\\u20ac' and d['tracked'] is True");
	evt_close(t);
}

static void expect_prometheus(const char *text, const char *expr);

Test(tools, inspect_json_heartbeat_age)
{
	const char *n;
	evt_throttle *t = fresh(&n);
	expect_json(INSPECT("-n", n, "-j").out, "d['daemon_heartbeat_age_ns'] is None");
	uint64_t hb = evt_now_ns() - 3 * SEC;
	atomic_store(&t->r.hdr->daemon_pid, (uint64_t)getpid());
	atomic_store(&t->r.hdr->daemon_heartbeat_ns, hb);
	expect_json(INSPECT("-n", n, "-j").out,
	            "3*10**9 <= d['daemon_heartbeat_age_ns'] < 60*10**9 and "
	            "d['daemon_heartbeat_ns'] + d['daemon_heartbeat_age_ns'] > 0");
	char expr[256];
	snprintf(expr, sizeof expr,
	         "3 <= S['evthrottle_daemon_heartbeat_age_seconds{throttle=\"%s\"}'] < 60", n);
	expect_prometheus(INSPECT("-n", n, "--prometheus").out, expr);
	const char *d = line_with(INSPECT("-n", n).out, "daemon");
	cr_assert(strstr(d, "), heartbeat ") && strstr(d, " ago"), "%s", d);
	evt_close(t);
}

/* Check a Prometheus exposition against the text format's rules: every sample line
 * `name{labels} value`, each metric's # HELP and # TYPE once and before its samples,
 * which are not split; no sample twice.  Then eval expr with S, each sample's
 * "name{labels}" -> value. */
static void expect_prometheus(const char *text, const char *expr)
{
	static const char script[] =
		"import re, sys\n"
		"NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'\n"
		"LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\.)*\"'\n"
		"SAMPLE = re.compile(r'^(%s)(\\{(?:%s(?:,%s)*)?\\}) (\\S+)$' % (NAME, LABEL, LABEL))\n"
		"META = re.compile(r'^# (HELP|TYPE) (%s) (.+)$' % NAME)\n"
		"meta, S, cur, closed = {}, {}, None, set()\n"
		"for l in sys.stdin.read().splitlines():\n"
		"    m = META.match(l)\n"
		"    if m:\n"
		"        k, n = m.group(1), m.group(2)\n"
		"        assert (k, n) not in meta, 'twice: ' + l\n"
		"        assert n not in closed, 'metric split: ' + l\n"
		"        meta[(k, n)] = m.group(3)\n"
		"        if n != cur:\n"
		"            closed.add(cur)\n"
		"            cur = n\n"
		"        continue\n"
		"    m = SAMPLE.match(l)\n"
		"    assert m, 'bad line: %r' % l\n"
		"    assert m.group(1) == cur, 'sample outside its metric: ' + l\n"
		"    assert ('TYPE', cur) in meta and ('HELP', cur) in meta, l\n"
		"    k = m.group(1) + m.group(2)\n"
		"    assert k not in S, 'sample twice: ' + l\n"
		"    S[k] = float(m.group(3))\n"
		"assert all(v in ('gauge', 'counter') for (k, n), v in meta.items() if k == 'TYPE')\n"
		"assert len([1 for k, n in meta if k == 'HELP']) == len([1 for k, n in meta if k == 'TYPE'])\n"
		"sys.exit(0 if eval(sys.argv[1]) else 3)\n";
	char *argv[] = { "python3", "-c", (char *)script, (char *)expr, NULL };
	struct run r = finish(start(AS_ME, text, argv));
	cr_assert_eq(r.code, 0, "Prometheus check failed: %s\n%s\n%s", expr, r.err, text);
}

Test(tools, inspect_prometheus_all_throttles)
{
	const char *a, *b, *c = new_name();
	evt_throttle *ta = three_keys(&a), *tb = fresh(&b);
	decide_at(tb, SEC, "k", 1);
	evt_options o = EVT_OPTIONS_INIT;
	o.mode = 0600; /* unreadable by nobody */
	evt_throttle *tc = test_create(c, &o);
	/* a hidden object of a creation in progress is not a throttle */
	char hidden[128];
	snprintf(hidden, sizeof hidden, "/.evthrottle.%s.tmp", a);
	int fd = shm_open(hidden, O_CREAT | O_EXCL | O_RDWR, 0644);
	cr_assert_geq(fd, 0, "shm_open: %s", strerror(errno));
	close(fd);
	struct run r = INSPECT("--prometheus", "-a");
	shm_unlink(hidden);
	cr_assert_eq(r.code, 0, "%s", r.err);
	char expr[1024];
	snprintf(expr, sizeof expr,
	         "S['evthrottle_up{throttle=\"%1$s\"}'] == 1 and "
	         "S['evthrottle_up{throttle=\"%2$s\"}'] == 1 and "
	         "S['evthrottle_up{throttle=\"%3$s\"}'] == 1 and "
	         "S['evthrottle_processed_total{throttle=\"%1$s\"}'] == 3 and "
	         "S['evthrottle_processed_total{throttle=\"%2$s\"}'] == 1 and "
	         "S['evthrottle_keys{throttle=\"%2$s\"}'] == 1 and "
	         "S['evthrottle_window_seconds{throttle=\"%1$s\"}'] == 10 and "
	         "S['evthrottle_probe_keys{throttle=\"%1$s\",distance=\"0\"}'] >= 0 and "
	         "S['evthrottle_build_info{version=\"%4$s\"}'] == 1 and "
	         "not any('.tmp' in k for k in S)",
	         a, b, c, EVT_PACKAGE_VERSION);
	expect_prometheus(r.out, expr);
	cr_assert_eq(count_of(r.out, "# TYPE evthrottle_processed_total "), 1, "%s", r.out);
	/* a throttle the user cannot read is left out */
	r = run_as(NOBODY, public_copy("EVT_INSPECT"), "--prometheus", "--all", (char *)NULL);
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(expr, sizeof expr,
	         "S['evthrottle_up{throttle=\"%s\"}'] == 1 and "
	         "not any('\"%s\"' in k for k in S)", a, c);
	expect_prometheus(r.out, expr);
	/* one throttle alone passes the same rules, with the new metrics */
	snprintf(expr, sizeof expr,
	         "S == dict(S, **{'evthrottle_up{throttle=\"%1$s\"}': 1}) and "
	         "'evthrottle_daemon_heartbeat_age_seconds{throttle=\"%1$s\"}' not in S",
	         a);
	expect_prometheus(INSPECT("-n", a, "--prometheus").out, expr);
	evt_close(ta);
	evt_close(tb);
	evt_close(tc);
}

Test(tools, inspect_prometheus_output_file)
{
	const char *a;
	evt_throttle *t = three_keys(&a);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/evt-tools-prom.XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	char *file = keep(malloc(128));
	snprintf(file, 128, "%s/evthrottle.prom", tmpdir);
	struct run r = INSPECT("-n", a, "--prometheus", "-o", file, "--watch", "0.05", "-c", "3");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_empty(r.out);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s')\" = evthrottle.prom", tmpdir);
	cr_assert_eq(system(cmd), 0, "a temporary file is left beside %s", file);
	struct stat st;
	cr_assert_eq(stat(file, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0644, "mode %o", st.st_mode & 0777);
	char *text = keep(calloc(1, 65536));
	FILE *f = fopen(file, "r");
	cr_assert_not_null(f);
	size_t n = fread(text, 1, 65535, f);
	fclose(f);
	cr_assert_gt(n, 0);
	char expr[256];
	snprintf(expr, sizeof expr, "S['evthrottle_processed_total{throttle=\"%s\"}'] == 3", a);
	expect_prometheus(text, expr);
	/* an unwritable directory: said, exit 1, no file */
	snprintf(file, 128, "%s/no/such/dir.prom", tmpdir);
	EXPECT_RUN(INSPECT("-n", a, "--prometheus", "-o", file), 1, err, "cannot write");
	EXPECT_USAGE(INSPECT("-n", a, "-o", file), "--output is for --prometheus");
	evt_close(t);
}

Test(tools, inspect_stats_all)
{
	const char *a, *b;
	evt_throttle *ta = three_keys(&a), *tb = fresh(&b);
	decide_at(tb, SEC, "k", 1);
	struct run r = INSPECT("stats", "--all");
	cr_assert_eq(r.code, 0, "%s", r.err);
	char want[128];
	snprintf(want, sizeof want, "throttle '%s'\n", a);
	const char *pa = strstr(r.out, want);
	cr_assert_not_null(pa, "%s", r.out);
	cr_assert_not_null(strstr(pa, "3 / 1024"), "%s", r.out);
	snprintf(want, sizeof want, "throttle '%s'\n", b);
	cr_assert_not_null(strstr(r.out, want), "%s", r.out);
	r = INSPECT("-a", "--json");
	cr_assert_eq(r.code, 0, "%s", r.err);
	char expr[256];
	snprintf(expr, sizeof expr,
	         "[x['keys'] for x in L if x['name'] == '%s'] == [3] and "
	         "[x['keys'] for x in L if x['name'] == '%s'] == [1]", a, b);
	expect_json(r.out, expr);
	/* under --watch, each throttle's rates from its previous reading */
	r = INSPECT("-a", "-j", "--watch", "0.05", "--count", "2");
	cr_assert_eq(r.code, 0, "%s", r.err);
	snprintf(expr, sizeof expr,
	         "[('rates_per_s' in x) for x in L if x['name'] == '%s'] == [False, True] and "
	         "[x.get('rates_per_s', {}).get('processed') for x in L if x['name'] == '%s'] "
	         "== [None, 0]",
	         a, b);
	expect_json(r.out, expr);
	r = INSPECT("-a", "--watch", "0.05", "--count", "2");
	snprintf(want, sizeof want, "throttle '%s'\n", a);
	cr_assert_eq(count_of(r.out, want), 2, "%s", r.out);
	cr_assert_not_null(strstr(line_with(strstr(strstr(r.out, want) + 1, want), "rates"),
	                          "processed 0.0/s"), "%s", r.out);
	EXPECT_USAGE(INSPECT("-a", "keys"), "--all is for the stats command");
	EXPECT_USAGE(INSPECT("-a", "-n", a), "without --name");
	evt_close(ta);
	evt_close(tb);
}
