/* evthrottle-inspect: show a throttle's state, mapping its region read-only. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "busguard.h"
#include "check.h"
#include "clientlist.h"
#include "handle.h"
#include "json.h"
#include "keylist.h"
#include "keylookup.h"
#include "log.h"
#include "stats.h"
#include "throttles.h"
#include "toolutil.h"
#include "watch.h"

static const char usage[] =
	"Usage: evthrottle-inspect [OPTION]... [stats|keys|clients|check]\n"
	"       evthrottle-inspect [OPTION]... key [--] KEY...\n"
	"Show the state of an evthrottle throttle.  The region is mapped read-only:\n"
	"read permission on /dev/shm/evthrottle.NAME is enough.\n"
	"\n"
	"Commands:\n"
	"  stats           totals, occupancy, probe lengths, reclaim horizon, rates (default)\n"
	"  keys            tracked keys with their last processed time, age and window\n"
	"  key KEY...      each KEY exactly (\\xNN for any byte): last, age, open or\n"
	"                  closed, and when an open window reopens; or not tracked\n"
	"  clients         client entries: pid, alive, watermark, counts since attach\n"
	"  check           verify the region's invariants; exit 1 naming each violation\n"
	"\n"
	"Options:\n"
	"  -n, --name NAME     the throttle (default: default)\n"
	"  -a, --all           stats: every throttle of the host (/dev/shm/evthrottle.*)\n"
	"  -j, --json          JSON: stats one object, keys and clients an array,\n"
	"                      key one object a line\n"
	"      --prometheus    stats in Prometheus text format (textfile collector)\n"
	"  -o, --output FILE   with --prometheus: replace FILE atomically (temporary\n"
	"                      file and rename), at each refresh with --watch\n"
	"  -w, --watch S       refresh every S seconds (or a duration: 500ms) until\n"
	"                      SIGINT or SIGTERM; stats then shows per-second rates\n"
	"  -c, --count N       with --watch: stop after N refreshes\n"
	"      --now NS        keys, key: reference time of the ages, in the clients' clock\n"
	"                      (default: evt_now_ns(), CLOCK_MONOTONIC)\n"
	"  -p, --prefix P      keys: only keys starting with P (\\xNN for any byte)\n"
	"  -l, --limit N       keys: at most N keys\n"
	"      --oldest        keys: oldest first (default: newest first)\n"
	"      --log-level L   debug, info, warning or error (default: info)\n"
	"      --log-dir DIR   log to DIR/evthrottle-inspect.log\n"
	"  -h, --help          this help\n"
	"      --version       the version\n"
	"\n"
	"Exit status: 0 ok, 1 failed (no such throttle, permission denied, a violation),\n"
	"2 bad usage.\n";

enum command { CMD_STATS, CMD_KEYS, CMD_CLIENTS, CMD_CHECK, CMD_KEY };
static const char *const commands[] = { "stats", "keys", "clients", "check", "key" };

enum { OPT_PROMETHEUS = OPT_TOOL_FIRST, OPT_NOW, OPT_OLDEST };

#define SHM_DIR "/dev/shm"

struct opts {
	const char *name;
	enum command cmd;
	bool json, prometheus, keys_only, have_now, all, have_name;
	const char *output; /* -o: the Prometheus file, else stdout */
	uint64_t interval_ns, count;
	char *const *keys; /* key: the keys as typed */
	size_t n_keys;
	struct key_query q;
};

/* ---- commands ---- */

/* The exposition on stdout, or replacing -o's file atomically. */
static int write_prometheus(const struct opts *o, const struct reading *r, size_t n)
{
	struct atomic_file a;
	int rc;
	if (o->output == NULL) {
		stats_prometheus(stdout, r, n);
		return EXIT_OK;
	}
	if ((rc = atomic_open(&a, o->output)) == 0) {
		stats_prometheus(a.f, r, n);
		rc = atomic_commit(&a);
	}
	if (rc == 0)
		return EXIT_OK;
	tool_error(NULL, "cannot write '%s': %s", o->output, strerror(-rc));
	return EXIT_FAILED;
}

static int show_stats(const evt_throttle *t, const struct opts *o, const struct snapshot *prev,
                      struct snapshot *cur)
{
	snapshot_take(t, true, cur);
	if (o->prometheus)
		return write_prometheus(o, &(struct reading){ o->name, true, *cur }, 1);
	else if (o->json)
		stats_json(stdout, o->name, cur, prev);
	else
		stats_text(stdout, o->name, cur, prev);
	return EXIT_OK;
}

static int show_keys(const evt_throttle *t, const struct opts *o)
{
	struct key_query q = o->q;
	struct key_list l;
	if (!o->have_now)
		q.now = evt_now_ns();
	int rc = keys_collect(t, &q, &l);
	if (rc == 0 && o->json)
		keys_json(stdout, &l, &q);
	else if (rc == 0)
		keys_text(stdout, o->name, &l, &q);
	else
		tool_error(o->name, "%s", evt_strerror(rc));
	keys_free(&l);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}

static int show_key(const evt_throttle *t, const struct opts *o)
{
	uint64_t now = o->have_now ? o->q.now : evt_now_ns();
	int rc = keys_lookup(stdout, t, o->name, o->keys, o->n_keys, now, o->json);
	if (rc == 0)
		return EXIT_OK;
	tool_error(o->name, "%s", evt_strerror(rc));
	return EXIT_FAILED;
}

static int show_clients(const evt_throttle *t, const struct opts *o)
{
	if (o->json)
		clients_json(stdout, t);
	else
		clients_text(stdout, o->name, t);
	return EXIT_OK;
}

struct check_out {
	const char *name;
	struct json *j; /* NULL: text */
};

static void report(void *ctx, const struct check_violation *v)
{
	const struct check_out *c = ctx;
	if (c->j != NULL)
		json_str(c->j, NULL, v->text);
	else
		printf("throttle '%s': violation: %s\n", c->name, v->text);
}

static int show_check(const evt_throttle *t, const struct opts *o)
{
	struct json j;
	struct check_out c = { o->name, o->json ? &j : NULL };
	if (o->json) {
		json_init(&j, stdout);
		json_object(&j, NULL);
		json_str(&j, "name", o->name);
		json_array(&j, "violations");
	}
	int n = table_check(&t->r, report, &c);
	if (o->json) {
		json_end(&j, ']');
		json_bool(&j, "ok", n == 0);
		json_end(&j, '}');
		putchar('\n');
	} else if (n == 0) {
		printf("throttle '%s': ok: %u slots and %u client entries checked; the key count "
		       "agrees with the table (checked while no client writes)\n",
		       o->name, t->r.mask + 1, t->r.client_max);
	}
	if (n == 0)
		return EXIT_OK;
	tool_error(o->name, "%d invariant violation%s", n, n == 1 ? "" : "s");
	return EXIT_FAILED;
}

static int show(const evt_throttle *t, const struct opts *o, const struct snapshot *prev,
                struct snapshot *cur)
{
	if (tool_intact(o->name, t) != EXIT_OK)
		return EXIT_FAILED;
	switch (o->cmd) {
	case CMD_KEYS:
		return show_keys(t, o);
	case CMD_KEY:
		return show_key(t, o);
	case CMD_CLIENTS:
		return show_clients(t, o);
	case CMD_CHECK:
		return show_check(t, o);
	default:
		return show_stats(t, o, prev, cur);
	}
}

struct show_call {
	const evt_throttle *t;
	const struct opts *o;
	const struct snapshot *prev;
	struct snapshot *cur;
};

static int show_call(void *arg)
{
	const struct show_call *c = arg;
	return show(c->t, c->o, c->prev, c->cur);
}

/* show() under the SIGBUS guard: a region truncated while it is read ends this
 * round with the size check's message, not the process. */
static int show_guarded(const evt_throttle *t, const struct opts *o,
                        const struct snapshot *prev, struct snapshot *cur)
{
	struct show_call c = { t, o, prev, cur };
	int rc = busguard_run(show_call, &c);
	if (rc != -EFAULT)
		return rc;
	if (tool_intact(o->name, t) == EXIT_OK)
		tool_error(o->name, "SIGBUS while reading the region, yet it has its size");
	return EXIT_FAILED;
}

/* ---- every throttle at once (-a) ---- */

struct take_call {
	const evt_throttle *t;
	struct reading *r;
};

static int take(void *arg)
{
	const struct take_call *c = arg;
	if (tool_intact(c->r->name, c->t) != EXIT_OK)
		return EXIT_FAILED;
	snapshot_take(c->t, true, &c->r->s);
	return EXIT_OK;
}

/* Read throttle r->name: r->up says whether it could be.  false if it is to be
 * left out: gone since listed, or not readable by this user. */
static bool read_one(struct reading *r)
{
	evt_throttle *t;
	int rc = evt_attach(r->name, EVT_RDONLY, &t);
	if (rc == -ENOENT || rc == -EACCES)
		return false;
	if (rc < 0)
		tool_error(r->name, "%s", evt_strerror(rc));
	r->up = rc == 0 && busguard_run(take, &(struct take_call){ t, r }) == EXIT_OK;
	evt_close(rc == 0 ? t : NULL);
	return true;
}

/* The readings of one round of -a, kept for the next round's rates. */
struct all_round {
	struct throttle_names names; /* r[i].name points into these */
	struct reading *r;
	size_t n;
};

static void all_round_free(struct all_round *a)
{
	throttles_free(&a->names);
	free(a->r);
	*a = (struct all_round){ .r = NULL };
}

/* The previous round's snapshot of throttle name, if it was read. */
static const struct snapshot *previous(const struct all_round *prev, const char *name)
{
	for (size_t i = 0; i < prev->n; i++)
		if (prev->r[i].up && strcmp(prev->r[i].name, name) == 0)
			return &prev->r[i].s;
	return NULL;
}

static void show_readings(const struct opts *o, const struct all_round *cur,
                          const struct all_round *prev)
{
	for (size_t i = 0, shown = 0; i < cur->n; i++) {
		const struct reading *r = &cur->r[i];
		if (!r->up)
			continue;
		if (o->json) {
			stats_json(stdout, r->name, &r->s, previous(prev, r->name));
			continue;
		}
		if (shown++ > 0)
			putchar('\n');
		stats_text(stdout, r->name, &r->s, previous(prev, r->name));
	}
}

/* Read every throttle of the host into cur and show them. */
static int show_all(const struct opts *o, struct all_round *cur, const struct all_round *prev)
{
	int rc = throttles_list(SHM_DIR, &cur->names);
	if (rc == 0 && (cur->r = calloc(cur->names.n + 1, sizeof *cur->r)) == NULL)
		rc = -ENOMEM;
	if (rc < 0) {
		tool_error(NULL, "cannot list %s: %s", SHM_DIR, strerror(-rc));
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < cur->names.n; i++) {
		cur->r[cur->n] = (struct reading){ .name = cur->names.names[i] };
		cur->n += read_one(&cur->r[cur->n]);
	}
	if (o->prometheus)
		return write_prometheus(o, cur->r, cur->n);
	show_readings(o, cur, prev);
	return EXIT_OK;
}

/* What a round keeps for the next: t's snapshot, or with -a every throttle's. */
struct round_state {
	struct snapshot snap;
	struct all_round all;
};

/* One round: every throttle, or t alone; prev NULL on the first. */
static int round_of(const evt_throttle *t, const struct opts *o, const struct round_state *prev,
                    struct round_state *cur)
{
	static const struct all_round none;
	if (!o->all)
		return show_guarded(t, o, prev != NULL ? &prev->snap : NULL, &cur->snap);
	all_round_free(&cur->all);
	return show_all(o, &cur->all, prev != NULL ? &prev->all : &none);
}

static int watch(const evt_throttle *t, const struct opts *o)
{
	struct watch w;
	struct round_state st[2] = { { .all.r = NULL }, { .all.r = NULL } };
	int rc = EXIT_OK;
	bool plain = !o->json && !o->prometheus;
	watch_begin(&w, o->interval_ns);
	for (uint64_t i = 0;; i++) {
		if (plain && i > 0 && !isatty(fileno(stdout)))
			putchar('\n');
		if (plain)
			watch_clear(stdout);
		rc = round_of(t, o, i > 0 ? &st[(i - 1) % 2] : NULL, &st[i % 2]);
		rc = tool_flush(rc);
		if (rc != EXIT_OK || (o->count != 0 && i + 1 >= o->count) || !watch_wait(&w))
			break;
	}
	watch_end(&w);
	all_round_free(&st[0].all);
	all_round_free(&st[1].all);
	return rc;
}

/* ---- arguments ---- */

static int number_arg(const char *opt, const char *arg, uint64_t *v)
{
	if (parse_u64(arg, v) == 0)
		return -1;
	return tool_usage("invalid %s '%s' (a whole number)", opt, arg);
}

/* -1 to go on, else the exit code. */
static int option(int c, const char *arg, struct opts *o)
{
	size_t len;
	int rc;
	switch (c) {
	case 'n':
		o->name = arg;
		o->have_name = true;
		return -1;
	case 'a':
		o->all = true;
		return -1;
	case 'o':
		o->output = arg;
		return -1;
	case 'j':
		o->json = true;
		return -1;
	case OPT_PROMETHEUS:
		o->prometheus = true;
		return -1;
	case 'w':
		if (parse_interval(arg, &o->interval_ns) == 0)
			return -1;
		return tool_usage("invalid --watch interval '%s' (seconds > 0: 2, 0.5, 500ms)",
		                  arg);
	case 'c':
		if (parse_u64(arg, &o->count) == 0 && o->count > 0)
			return -1;
		return tool_usage("invalid --count '%s' (a whole number, at least 1)", arg);
	case OPT_NOW:
		o->have_now = true;
		return number_arg("--now", arg, &o->q.now);
	case 'p':
		o->keys_only = true;
		if (key_unescape(arg, o->q.prefix, sizeof o->q.prefix, &len) < 0)
			return tool_usage("--prefix longer than any key (%u bytes)",
			                  REGION_KEY_MAX);
		o->q.prefix_len = len;
		return -1;
	case 'l':
		o->keys_only = true;
		if ((rc = number_arg("--limit", arg, &o->q.limit)) != -1)
			return rc;
		if (o->q.limit == 0)
			return tool_usage("--limit 0 would list no key: give at least 1, or leave "
			                  "--limit out for every key");
		return -1;
	case OPT_OLDEST:
		o->keys_only = o->q.oldest = true;
		return -1;
	default:
		return tool_usage("unknown option");
	}
}

/* key's arguments: at least one, each no longer than a key once unescaped. */
static int key_args(int argc, char **argv, struct opts *o)
{
	unsigned char k[REGION_KEY_MAX];
	size_t len;
	o->keys = argv + optind + 1;
	o->n_keys = (size_t)(argc - optind - 1);
	if (o->n_keys == 0)
		return tool_usage("key needs at least one KEY");
	for (size_t i = 0; i < o->n_keys; i++)
		if (key_unescape(o->keys[i], k, sizeof k, &len) < 0)
			return tool_usage("key '%.40s...' is longer than any key (%u bytes)",
			                  o->keys[i], REGION_KEY_MAX);
	return -1;
}

static int command(int argc, char **argv, struct opts *o)
{
	if (optind == argc)
		return -1;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[optind], commands[i]) == 0)
			o->cmd = (enum command)i;
	if (o->cmd == CMD_KEY)
		return key_args(argc, argv, o);
	if (argc - optind > 1)
		return tool_usage("unexpected argument '%s'", argv[optind + 1]);
	if (strcmp(argv[optind], commands[o->cmd]) == 0)
		return -1;
	return tool_usage("unknown command '%s' (stats, keys, key, clients, check)",
	                  argv[optind]);
}

static int combinations(const struct opts *o)
{
	if (o->prometheus && o->json)
		return tool_usage("--json and --prometheus exclude each other");
	if (o->prometheus && o->cmd != CMD_STATS)
		return tool_usage("--prometheus is for the stats command");
	if (o->keys_only && o->cmd != CMD_KEYS)
		return tool_usage("--prefix, --limit and --oldest are for the keys command");
	if (o->have_now && o->cmd != CMD_KEYS && o->cmd != CMD_KEY)
		return tool_usage("--now is for the keys command and the key command");
	if (o->all && (o->cmd != CMD_STATS || o->have_name))
		return tool_usage("--all is for the stats command, without --name");
	if (o->output != NULL && !o->prometheus)
		return tool_usage("--output is for --prometheus");
	if (o->count != 0 && o->interval_ns == 0)
		return tool_usage("--count needs --watch");
	return tool_name_ok(o->name) ? -1 : EXIT_USAGE;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		TOOL_COMMON_OPTIONS,
		{ "name", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'c' },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "prefix", required_argument, NULL, 'p' },
		{ "limit", required_argument, NULL, 'l' },
		{ "oldest", no_argument, NULL, OPT_OLDEST },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = -1;
	while (rc < 0 && (c = getopt_long(argc, argv, ":hn:ajo:w:c:p:l:", longopts, NULL)) != -1) {
		if (c == '?' || c == ':')
			rc = tool_bad_option(c, argv);
		else if (!tool_common_option(c, optarg, usage, &rc))
			rc = option(c, optarg, o);
	}
	if (rc < 0)
		rc = command(argc, argv, o);
	return rc < 0 ? combinations(o) : rc;
}

int main(int argc, char **argv)
{
	struct opts o = { .name = "default", .cmd = CMD_STATS };
	evt_throttle *t = NULL;
	tool_init("evthrottle-inspect");
	int rc = parse(argc, argv, &o);
	if (rc >= 0)
		return tool_flush(rc);
	rc = tool_log_start();
	int guard = busguard_install();
	if (guard < 0)
		log_warning("no SIGBUS guard: %s", strerror(-guard));
	if (rc == EXIT_OK && !o.all)
		rc = tool_attach(o.name, EVT_RDONLY, &t);
	if (rc == EXIT_OK) {
		struct round_state s = { .all.r = NULL };
		rc = o.interval_ns != 0 ? watch(t, &o) : tool_flush(round_of(t, &o, NULL, &s));
		all_round_free(&s.all);
	}
	evt_close(t);
	log_close();
	return rc;
}
