/*
 * evt-stress: linearizability stress and chaos (GitHub issue 5, items 1 and 2).
 *
 * Several client processes (threads on a shared handle in even slots, a handle
 * per thread in odd ones) decide on one named throttle that evthrottled created,
 * with skewed clocks, on a small table (reclaim all along), a few very hot keys
 * and a window of a few hundred microseconds, while a controller process changes
 * the window and clears keys and the whole table, and the parent SIGKILLs random
 * clients (starting a fresh one in place of each) and kills and restarts the
 * daemon.  Every decision and change is recorded with its real-time interval in
 * memory shared before the first fork; afterwards checker.c judges the history,
 * the region is checked (evthrottle-inspect check and table_check()), its
 * counters are held against the records, and call latencies bound the time any
 * client could have waited on a dead one.
 *
 *   evt-stress [--seconds S] [--procs N] [--threads N] [--keys N] [--kills N] ...
 *   evt-stress --self-test        the checker against synthetic bad histories
 * Exit status 0 only if everything passed; --tap prints one TAP result.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "summary.h"

#define OVERRUN_NS 30000000000ull


static void usage(FILE *f)
{
	fputs("usage: evt-stress [--seconds S] [--procs N] [--threads N] [--keys N] [--kills N]\n"
	      "                  [--churn N] [--phase-ms N] [--restarts N] [--decisions N]\n"
	      "                  [--capacity N] [--lag-ms N] [--steady-lag-ms N] [--seed N]\n"
	      "                  [--delay-us N] [--limit N] [--daemon PATH] [--inspect PATH] [--tap]\n"
	      "       evt-stress --self-test [--tap]\n"
	      "Defaults: 60 s, 4 processes x 2 threads, 4 hot keys, phases of 2 s alternating\n"
	      "3300 steady keys (hopscotch moves) and 50000 churn keys (reclaim), 4 kills/s, a\n"
	      "daemon restart every 10 s, 100000 decisions/s, 4096 slots, anchor lag 10 ms\n"
	      "(1 s in steady phases).  --delay-us N: threads that share a handle wait up to\n"
	      "N us (one decision in 8) between reading their clock and deciding (default 0).\n"
	      "--limit N: the throttle's limit, N events per key per window (default 1); above\n"
	      "1 the window stays the configured one and nothing is cleared (the checker's\n"
	      "rules for a limit need one window and no clears).\n"
	      "The daemon and the inspect tool also come from $EVTHROTTLED and $EVT_INSPECT.\n",
	      f);
}

static void defaults(struct opts *o)
{
	*o = (struct opts){ .seconds = 60, .procs = 4, .threads = 2, .keys = 3300, .hot = 4,
		            .churn = 50000, .phase_ns = 2000000000,
		            .capacity = 4096, .nwindows = 3,
		            .windows = { 300000, 200000, 500000 },
		            .lag_ns = 10000000, .lag_steady_ns = 1000000000,
		            .period_ns = 20000000, .downtime_ns = 200000000,
		            .max_latency_ns = 1000000000, .seed = (uint64_t)getpid() * 7919u, .limit = 1,
		            .daemon = getenv("EVTHROTTLED"), .inspect = getenv("EVT_INSPECT") };
	o->max_skew_ns = 4 * o->windows[2];
	/* A batch's 32 timestamps span about two of the largest window: a key
	 * repeated in a batch is throttled when the repeat is near, processed again
	 * when it is far, both against the batch's own earlier decision. */
	o->batch_step_ns = o->windows[2] / 16;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

enum { SECONDS = 256, PROCS, THREADS, KEYS, CHURN, PHASE, KILLS, RESTARTS, DECISIONS,
       CAPACITY, LAG, LAG_STEADY, DELAY, DAEMON, INSPECT, SEED, TAP, SELF, LIMIT };

/* Options counted in the run's own units; negative: derive from --seconds. */
struct derived {
	double kills, restarts, decisions;
};

/* One option: false if its value is bad. */
static bool apply_opt(int c, const char *arg, struct opts *o, struct derived *d)
{
	double v = 0;
	char *end;
	switch (c) {
	case SECONDS: return parse_num(arg, 1, 3600, &o->seconds);
	case KILLS: return parse_num(arg, 0, 1e6, &d->kills);
	case RESTARTS: return parse_num(arg, 0, 1000, &d->restarts);
	case DECISIONS: return parse_num(arg, 1000, 1e9, &d->decisions);
	case DAEMON: o->daemon = arg; return true;
	case INSPECT: o->inspect = arg; return true;
	case SEED: o->seed = strtoull(arg, &end, 0); return *arg != '\0' && *end == '\0';
	case TAP: o->tap = true; return true;
	case SELF: o->self_test = true; return true;
	}
	bool ok = parse_num(arg, 0, 1e9, &v);
	switch (c) {
	case PROCS: o->procs = (unsigned)v; return ok && v >= 1 && v <= 64;
	case THREADS: o->threads = (unsigned)v; return ok && v >= 1 && v <= 16;
	case KEYS: o->keys = (unsigned)v; return ok && v >= 1;
	case CHURN: o->churn = (unsigned)v; return ok;
	case PHASE: o->phase_ns = (uint64_t)(v * 1e6); return ok && v >= 1;
	case CAPACITY: o->capacity = (uint32_t)v; return ok && v >= 64 && v <= (1 << 24);
	case LAG: o->lag_ns = (uint64_t)(v * 1e6); return ok && v >= 1;
	case LAG_STEADY: o->lag_steady_ns = (uint64_t)(v * 1e6); return ok && v >= 1;
	case DELAY: o->delay_ns = (uint64_t)(v * 1e3); return ok && v <= 1e6;
	case LIMIT: o->limit = (uint32_t)v; return ok && v >= 1 && v <= EVT_LIMIT_MAX;
	}
	return false;
}

/* 0 ok, 1 done (help), -1 usage error. */
static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option opts[] = {
		{ "seconds", 1, NULL, SECONDS }, { "procs", 1, NULL, PROCS },
		{ "threads", 1, NULL, THREADS }, { "keys", 1, NULL, KEYS },
		{ "churn", 1, NULL, CHURN },     { "phase-ms", 1, NULL, PHASE },
		{ "kills", 1, NULL, KILLS },     { "restarts", 1, NULL, RESTARTS },
		{ "decisions", 1, NULL, DECISIONS }, { "capacity", 1, NULL, CAPACITY },
		{ "lag-ms", 1, NULL, LAG },      { "steady-lag-ms", 1, NULL, LAG_STEADY },
		{ "delay-us", 1, NULL, DELAY },  { "limit", 1, NULL, LIMIT },
		{ "daemon", 1, NULL, DAEMON },   { "inspect", 1, NULL, INSPECT },
		{ "seed", 1, NULL, SEED },       { "tap", 0, NULL, TAP },
		{ "self-test", 0, NULL, SELF },  { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct derived d = { -1, -1, -1 };
	for (int c; (c = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c == '?' || !apply_opt(c, optarg, o, &d)) {
			if (c != '?')
				fprintf(stderr, "evt-stress: bad value '%s'\n", optarg);
			return -1;
		}
	}
	o->kills = d.kills >= 0 ? (unsigned)d.kills : (unsigned)(4 * o->seconds);
	o->restarts = d.restarts >= 0 ? (unsigned)d.restarts
	                              : (unsigned)(o->seconds / 10 > 1 ? o->seconds / 10 : 1);
	o->decisions = d.decisions >= 0 ? (uint64_t)d.decisions : (uint64_t)(100000 * o->seconds);
	if ((uint64_t)o->hot + o->keys + o->churn >= KEY_ANCHOR || o->lag_steady_ns < o->lag_ns) {
		fprintf(stderr, "evt-stress: too many keys, or --steady-lag-ms below --lag-ms\n");
		return -1;
	}
	return optind == argc ? 0 : -1;
}

/* Start the controller; returns once its anchor holds a watermark. */
static pid_t start_controller(struct shared *sh, const struct opts *o)
{
	int p[2];
	uint32_t src = source_new(sh, -(int64_t)o->lag_ns, UINT32_MAX, 0, 0, false, false);
	if (src == 0 || pipe(p) < 0)
		return -1;
	source_get(sh, src)->skew_steady = -(int64_t)o->lag_steady_ns;
	pid_t pid = fork();
	if (pid == 0) {
		child_after_fork();
		close(p[0]);
		controller_main(sh, o, src, p[1]);
	}
	close(p[1]);
	char ok = 0;
	ssize_t n = pid > 0 ? read(p[0], &ok, 1) : -1; /* EOF: it died first */
	close(p[0]);
	if (pid > 0)
		source_get(sh, src)->pid = pid;
	return n == 1 ? pid : -1;
}

static int stop_controller(struct shared *sh, pid_t pid)
{
	atomic_store_explicit(&sh->stop_ctl, 1, memory_order_release);
	int st;
	if (wait_child(pid, mono_ns() + 10000000000ull, &st) < 0) {
		kill(pid, SIGKILL);
		wait_child(pid, mono_ns() + 10000000000ull, &st);
		return -1;
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void set_failed(struct outcome *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_failed(struct outcome *out, const char *fmt, ...)
{
	if (!out->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(out->why, sizeof out->why, fmt, ap);
		va_end(ap);
	}
	out->failed = true;
}

/* The run proper: clients, chaos, stop.  The daemon is up and the region exists. */
static int run_clients(struct chaos *ch, struct outcome *out)
{
	struct shared *sh = ch->sh;
	const struct opts *o = ch->o;
	sh->t0 = mono_ns();
	pid_t ctl = start_controller(sh, o);
	if (ctl < 0) {
		set_failed(out, "the controller did not start");
		return -1;
	}
	double periods = o->seconds * 1e9 / (double)o->period_ns;
	sh->quota = (uint32_t)((double)o->decisions / periods / (o->procs * o->threads) + 1);
	for (unsigned i = 0; i < o->procs; i++)
		if (chaos_spawn(ch, i) < 0)
			break;
	uint64_t end = sh->t0 + (uint64_t)(o->seconds * 1e9);
	if (!ch->failed)
		chaos_run(ch, sh->t0, end);
	chaos_stop(ch);
	if (ch->failed)
		set_failed(out, "%s", ch->err);
	/* Kills and restarts are scheduled within the run: a much longer run means
	 * something (a kill, a restart, a client) waited on something dead. */
	if (mono_ns() - sh->t0 > end - sh->t0 + OVERRUN_NS)
		set_failed(out, "the run took over 30 s longer than --seconds");
	if (stop_controller(sh, ctl) < 0)
		set_failed(out, "the controller did not stop cleanly");
	return out->failed ? -1 : 0;
}

/*
 * The region after the run, with nobody writing (clients, controller and daemon
 * all gone): its counters, table_check() and evthrottle-inspect check.
 */
static void check_region(const struct opts *o, const struct daemon *d, const struct chaos *ch,
                         const char *name, struct outcome *out)
{
	evt_throttle *t = NULL;
	int rc = evt_attach(name, EVT_RDONLY, &t);
	if (rc < 0) {
		set_failed(out, "attach after the run: %s", evt_strerror(rc));
		return;
	}
	evt_stats_get(t, &out->stats);
	verify_table(t, &out->stats, &out->region);
	evt_close(t);
	char file[160], why[200];
	snprintf(file, sizeof file, "%s/inspect.out", d->dir);
	out->region.inspect_rc = -2;
	if (o->inspect != NULL)
		verify_inspect(o->inspect, name, file, &out->region);
	if (!verify_region_ok(&out->region, out->tot.pending_calls + ch->restarts_done, why,
	                      sizeof why))
		set_failed(out, "%s", why);
}

/* The recorded history: totals, latencies, counters, the checker. */
static void judge(struct shared *sh, const struct opts *o, const struct chaos *ch,
                  struct outcome *out)
{
	const struct totals *t = &out->tot;
	char why[300];
	if (verify_counts(&out->stats, t, why, sizeof why) < 0)
		set_failed(out, "%s", why);
	if (t->errors > 0)
		set_failed(out, "a decision returned an unexpected error");
	if (t->pending_unkilled > 0)
		set_failed(out, "a client never killed left an unfinished call");
	if (atomic_load(&sh->batch_miscounts) > 0)
		set_failed(out, "evt_should_process_batch() returned other than its events' 1s");
	if (t->max_dur >= o->max_latency_ns)
		set_failed(out, "a call took longer than the latency bound");
	if (atomic_load(&sh->arena_full))
		set_failed(out, "the record arena ran out (raise --decisions' headroom)");
	if (ch->restarts_done > 0 && t->in_downtime == 0)
		set_failed(out, "no client decided while the daemon was down");
	if (history_check(sh, o, t->recorded, &out->chk) < 0) {
		set_failed(out, "the checker could not run (memory, or no window logged)");
		return;
	}
	if (out->chk.st.violations > 0)
		set_failed(out, "the history is not linearizable (violations below)");
}

/* Set up, run, judge, tear down: everything is torn down on every path. */
static void run(const struct opts *o, struct outcome *out)
{
	char name[64];
	snprintf(name, sizeof name, "stress.%d", (int)getpid());
	evt_unlink(name);
	children_init();
	uint64_t t0 = mono_ns();
	struct shared *sh = shared_create(o, name);
	struct daemon d = { .bin = o->daemon };
	struct chaos ch = { .sh = sh, .o = o, .d = &d, .rng = o->seed };
	ch.procs = calloc(o->procs, sizeof *ch.procs);
	char err[256] = "";
	if (sh == NULL || ch.procs == NULL || daemon_setup(&d, o, name) < 0) {
		set_failed(out, "setup: out of memory, or no temporary directory");
	} else if (daemon_start(&d, sh, err, sizeof err) < 0) {
		set_failed(out, "first daemon start: %s", err);
	} else {
		run_clients(&ch, out);
		chaos_abort(&ch);
		if ((out->daemon_stop_rc = daemon_stop(&d)) != 0)
			set_failed(out, "evthrottled did not stop cleanly on SIGTERM");
		history_totals(sh, &ch.down, &out->tot);
		check_region(o, &d, &ch, name, out);
		judge(sh, o, &ch, out);
	}
	out->wall_s = (double)(mono_ns() - t0) / 1e9;
	if (out->failed && d.dir[0] != '\0')
		daemon_log_tail(&d);
	if (sh != NULL)
		print_summary(stdout, o->tap ? "# " : "", o, &ch, out);
	checker_free(&out->chk);
	daemon_cleanup(&d, name);
	free(ch.down.at);
	free(ch.procs);
	shared_destroy(sh);
}

int main(int argc, char **argv)
{
	static struct opts o;
	setvbuf(stdout, NULL, _IOLBF, 0); /* whole lines, also into a pipe */
	prctl(PR_SET_TIMERSLACK, 1000ul); /* kills and restarts on time, not 50 us late */
	defaults(&o);
	int rc = parse(argc, argv, &o);
	if (rc != 0) {
		if (rc < 0)
			usage(stderr);
		return rc < 0 ? 2 : 0;
	}
	if (o.self_test)
		return self_test(o.tap);
	if (o.tap)
		puts("1..1");
	static struct outcome out;
	if (o.daemon == NULL) {
		snprintf(out.why, sizeof out.why, "no daemon: give --daemon PATH or $EVTHROTTLED");
		out.failed = true;
		fprintf(stderr, "evt-stress: %s\n", out.why);
	} else {
		run(&o, &out);
	}
	if (o.tap)
		printf("%s 1 - stress\n", out.failed ? "not ok" : "ok");
	return out.failed ? 1 : 0;
}
