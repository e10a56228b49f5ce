/* evthrottlectl: set the window, the limit and shadow mode, clear keys, show a short
 * status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "handle.h"
#include "hidden.h"
#include "json.h"
#include "log.h"
#include "stats.h"
#include "toolutil.h"

static const char usage[] =
	"Usage: evthrottlectl [OPTION]... COMMAND [ARG]...\n"
	"Change or show an evthrottle throttle (/dev/shm/evthrottle.NAME).\n"
	"\n"
	"Commands:\n"
	"  window            print the window\n"
	"  window DURATION   set the window for every later decision of every process;\n"
	"                    DURATION is digits and a unit (ns us ms s m h): 250ms, 10s, 1m30s\n"
	"  limit             print the limit: processed events per key per window\n"
	"  limit N           set the limit (1 to 4096) for every later decision\n"
	"  shadow            print the mode: on (shadow: decide and count, answer 1) or off\n"
	"  shadow on|off     turn shadow mode on or off for every later decision\n"
	"  clear             forget every key and say how many went: asks on a terminal,\n"
	"                    needs --yes otherwise\n"
	"  clear KEY...      forget these keys and say which were tracked (\\xNN for any byte)\n"
	"  status            window, keys / capacity, clients, processed and throttled\n"
	"                    totals, full-table events, daemon (-a: of every throttle)\n"
	"  list              every throttle of the host, a line each: window, keys /\n"
	"                    capacity, clients, daemon (or why it cannot be read); then\n"
	"                    the hidden objects of creations, in progress or left over\n"
	"\n"
	"Options:\n"
	"  -n, --name NAME     the throttle (default: default)\n"
	"  -a, --all           status: every throttle in /dev/shm\n"
	"  -j, --json          one JSON object per throttle, one a line\n"
	"  -y, --yes           clear every key without asking\n"
	"      --log-level L   debug, info, warning or error (default: info)\n"
	"      --log-dir DIR   log what changed to DIR/evthrottlectl.log\n"
	"  -h, --help          this help\n"
	"      --version       the version\n"
	"\n"
	"window, limit, shadow and status only read the throttle (read permission is\n"
	"enough); setting them and clearing need write permission.  Put '--' before keys starting with '-'.\n"
	"\n"
	"Exit status: 0 ok, 1 failed (no such throttle, permission denied, ...), 2 bad usage.\n";

/* What the options say to every command. */
struct ctl {
	const char *name;
	bool yes;  /* --yes: clear every key without asking */
	bool json; /* --json: one object per throttle, one a line */
	bool all;  /* -a: every throttle of the host */
};

/* {"name": NAME, "field": v} on a line of its own. */
static void json_line(const char *name, const char *field, uint64_t v)
{
	struct json j;
	json_init(&j, stdout);
	json_object(&j, NULL);
	json_str(&j, "name", name);
	json_u64(&j, field, v);
	json_end(&j, '}');
	putchar('\n');
}

/* A setting evthrottlectl shows and changes: the window, the limit, shadow mode. */
struct setting {
	const char *what;  /* its name, as the command */
	const char *field; /* its JSON field; the old value's is "old_" field */
	uint64_t (*get)(const evt_throttle *t);
	int (*set)(evt_throttle *t, uint64_t v);
	/* 0 with *v, or tool_usage()'s exit status after saying what is wrong */
	int (*parse)(const char *arg, uint64_t *v);
	char *(*format)(uint64_t v, char *buf, size_t size);
	/* why set() refused v with rc, into buf; NULL: evt_strerror(rc) says it */
	const char *(*refusal)(const evt_throttle *t, uint64_t v, int rc, char *buf, size_t size);
};

static int setting_show(const struct ctl *c, const struct setting *s)
{
	evt_throttle *t;
	char v[64];
	int rc = tool_attach(c->name, EVT_RDONLY, &t);
	if (rc != EXIT_OK)
		return rc;
	uint64_t now = s->get(t);
	if (c->json)
		json_line(c->name, s->field, now);
	else
		printf("%s\n", s->format(now, v, sizeof v));
	evt_close(t);
	return EXIT_OK;
}

static void setting_changed(const struct ctl *c, const struct setting *s, uint64_t from, uint64_t to)
{
	char old[64], now[64], field[64];
	s->format(from, old, sizeof old);
	s->format(to, now, sizeof now);
	log_info("throttle '%s': %s %s -> %s", c->name, s->what, old, now);
	if (!c->json) {
		printf("throttle '%s': %s %s -> %s\n", c->name, s->what, old, now);
		return;
	}
	struct json j;
	json_init(&j, stdout);
	json_object(&j, NULL);
	json_str(&j, "name", c->name);
	snprintf(field, sizeof field, "old_%s", s->field);
	json_u64(&j, field, from);
	json_u64(&j, s->field, to);
	json_end(&j, '}');
	putchar('\n');
}

static int setting_set(const struct ctl *c, const struct setting *s, const char *arg)
{
	uint64_t v = 0; /* set by parse() when it returns 0 (gcc -O3 cannot see it) */
	int rc = s->parse(arg, &v);
	if (rc != 0)
		return rc;
	evt_throttle *t;
	if (tool_attach(c->name, EVT_ADMIN, &t) != EXIT_OK)
		return EXIT_FAILED;
	uint64_t old = s->get(t);
	rc = s->set(t, v);
	if (rc == 0)
		setting_changed(c, s, old, v);
	else {
		char val[64], why[256];
		tool_error(c->name, "cannot set the %s to %s: %s", s->what, s->format(v, val, sizeof val),
		           s->refusal != NULL ? s->refusal(t, v, rc, why, sizeof why)
		                              : evt_strerror(rc));
	}
	evt_close(t);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}

static int setting_cmd(const struct ctl *c, const struct setting *s, int argc, char **argv,
                       const char *arg_name)
{
	if (argc > 1)
		return tool_usage("%s takes at most one %s", s->what, arg_name);
	return argc == 0 ? setting_show(c, s) : setting_set(c, s, argv[0]);
}

static int window_parse(const char *arg, uint64_t *ns)
{
	int rc = duration_parse(arg, ns);
	if (rc == -ERANGE)
		return tool_usage("duration '%s' is too long for 64-bit nanoseconds", arg);
	if (rc < 0)
		return tool_usage("invalid duration '%s' (digits and a unit: ns us ms s m h, "
		                  "e.g. 250ms, 10s, 1m)", arg);
	if (*ns == 0)
		return tool_usage("the window must be greater than 0");
	return 0;
}

static int set_window(evt_throttle *t, uint64_t v)
{
	return evt_update_window(t, v);
}

static int cmd_window(const struct ctl *c, int argc, char **argv)
{
	static const struct setting s = { "window", "window_ns", evt_get_window, set_window,
		                          window_parse, duration_format, NULL };
	return setting_cmd(c, &s, argc, argv, "DURATION");
}

static int limit_parse(const char *arg, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || n == 0 ||
	    n > EVT_LIMIT_MAX)
		return tool_usage("invalid limit '%s' (events per key per window, 1 to %u)", arg,
		                  EVT_LIMIT_MAX);
	*v = n;
	return 0;
}

static uint64_t get_limit(const evt_throttle *t)
{
	return evt_get_limit(t);
}

static int set_limit(evt_throttle *t, uint64_t v)
{
	return evt_update_limit(t, (uint32_t)v);
}

/* The one limit the library refuses in range: over 1 on a global throttle. */
static const char *limit_refusal(const evt_throttle *t, uint64_t v, int rc, char *buf,
                                 size_t size)
{
	if (rc != -EINVAL || !global_enabled(&t->r))
		return evt_strerror(rc);
	snprintf(buf, size,
	         "a global throttle supports limit 1 only, not %llu (Redis applies the "
	         "first-event rule across the hosts)",
	         (unsigned long long)v);
	return buf;
}

static char *format_count(uint64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%llu", (unsigned long long)v);
	return buf;
}

static int cmd_limit(const struct ctl *c, int argc, char **argv)
{
	static const struct setting s = { "limit", "limit", get_limit, set_limit, limit_parse,
		                          format_count, limit_refusal };
	return setting_cmd(c, &s, argc, argv, "N");
}

static int shadow_parse(const char *arg, uint64_t *v)
{
	if (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
		return tool_usage("invalid shadow mode '%s' (on or off)", arg);
	*v = strcmp(arg, "on") == 0;
	return 0;
}

static uint64_t get_shadow(const evt_throttle *t)
{
	return evt_get_shadow(t) == 1;
}

static int set_shadow(evt_throttle *t, uint64_t v)
{
	return evt_set_shadow(t, (int)v);
}

static char *format_on_off(uint64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%s", v ? "on" : "off");
	return buf;
}

static int cmd_shadow(const struct ctl *c, int argc, char **argv)
{
	static const struct setting s = { "shadow", "shadow", get_shadow, set_shadow, shadow_parse,
		                          format_on_off, NULL };
	return setting_cmd(c, &s, argc, argv, "on|off");
}

/* A bare clear forgets every key: asked on a terminal, --yes otherwise. */
static int clear_confirmed(const struct ctl *c, const evt_throttle *t)
{
	size_t n = evt_key_count(t);
	if (c->yes)
		return EXIT_OK;
	if (!isatty(STDIN_FILENO))
		return tool_usage("'clear' without keys forgets every key of throttle '%s' "
		                  "(%zu now); add --yes to do it without a terminal to ask "
		                  "(or name the keys: clear KEY...)", c->name, n);
	fprintf(stderr, "Forget every key of throttle '%s' (%zu now)? [y/N] ", c->name, n);
	char answer[16] = "";
	if (fgets(answer, sizeof answer, stdin) != NULL &&
	    (strcmp(answer, "y\n") == 0 || strcmp(answer, "yes\n") == 0))
		return EXIT_OK;
	tool_error(c->name, "not confirmed; nothing cleared");
	return EXIT_FAILED;
}

static int clear_all(const struct ctl *c, evt_throttle *t)
{
	int rc = clear_confirmed(c, t);
	if (rc != EXIT_OK)
		return rc;
	int n = evt_clear(t);
	if (n < 0) {
		tool_error(c->name, "cannot clear: %s", evt_strerror(n));
		return EXIT_FAILED;
	}
	log_info("throttle '%s': cleared every key (%d keys)", c->name, n);
	if (c->json)
		json_line(c->name, "cleared", (uint64_t)n);
	else
		printf("cleared %d key%s of throttle '%s'\n", n, n == 1 ? "" : "s", c->name);
	return EXIT_OK;
}

struct key_arg {
	const char *text; /* as typed */
	unsigned char bytes[REGION_KEY_MAX];
	size_t len;       /* may exceed REGION_KEY_MAX: then bytes is not filled */
	int cleared;      /* evt_clear_key()'s answer */
};

/* Every key fits the throttle, or nothing is cleared. */
static int keys_fit(const char *name, const evt_throttle *t, const struct key_arg *k, int n)
{
	for (int i = 0; i < n; i++)
		if (k[i].len > t->r.key_max) {
			tool_error(name, "key '%.64s%s' is %zu bytes, this throttle's key_max is "
			           "%u; nothing cleared", k[i].text,
			           strlen(k[i].text) > 64 ? "..." : "", k[i].len, t->r.key_max);
			return EXIT_FAILED;
		}
	return EXIT_OK;
}

static void keys_json(const char *name, const struct key_arg *k, int n)
{
	struct json j;
	json_init(&j, stdout);
	json_object(&j, NULL);
	json_str(&j, "name", name);
	json_array(&j, "keys");
	for (int i = 0; i < n; i++) {
		json_object(&j, NULL);
		json_str(&j, "key", k[i].text);
		json_bool(&j, "cleared", k[i].cleared == 1);
		json_end(&j, '}');
	}
	json_end(&j, ']');
	json_end(&j, '}');
	putchar('\n');
}

static int clear_keys(const struct ctl *c, evt_throttle *t, struct key_arg *k, int n)
{
	int rc = keys_fit(c->name, t, k, n);
	for (int i = 0; i < n && rc == EXIT_OK; i++) {
		k[i].cleared = evt_clear_key(t, k[i].bytes, k[i].len);
		if (k[i].cleared < 0) {
			tool_error(c->name, "cannot clear key '%s': %s", k[i].text,
			           evt_strerror(k[i].cleared));
			rc = EXIT_FAILED;
		} else if (k[i].cleared == 1) {
			log_info("throttle '%s': cleared key '%s'", c->name, k[i].text);
		}
		if (!c->json && k[i].cleared >= 0)
			printf("%s: %s\n", k[i].text, k[i].cleared == 1 ? "cleared" : "not tracked");
	}
	if (c->json && rc == EXIT_OK)
		keys_json(c->name, k, n);
	return rc;
}

static int decode_keys(int argc, char **argv, struct key_arg *k)
{
	for (int i = 0; i < argc; i++) {
		k[i].text = argv[i];
		if (key_unescape(argv[i], k[i].bytes, sizeof k[i].bytes, &k[i].len) < 0)
			k[i].len = key_unescaped_len(argv[i]);
		if (k[i].len == 0)
			return tool_usage("empty key");
	}
	return EXIT_OK;
}

static int cmd_clear(const struct ctl *c, int argc, char **argv)
{
	struct key_arg *k = calloc((size_t)argc + 1, sizeof *k);
	if (k == NULL) {
		tool_error(c->name, "%s", evt_strerror(-ENOMEM));
		return EXIT_FAILED;
	}
	evt_throttle *t = NULL;
	int rc = decode_keys(argc, argv, k);
	if (rc == EXIT_OK)
		rc = tool_attach(c->name, EVT_ADMIN, &t);
	if (rc == EXIT_OK)
		rc = argc == 0 ? clear_all(c, t) : clear_keys(c, t, k, argc);
	evt_close(t);
	free(k);
	return rc;
}

static int status_one(const char *name, void *arg)
{
	const struct ctl *c = arg;
	evt_throttle *t;
	int rc = evt_attach(name, EVT_RDONLY, &t);
	if (rc == -ENOENT && c->all)
		return EXIT_OK; /* removed since the directory was read */
	if (rc < 0) {
		tool_error(name, "%s", evt_strerror(rc));
		return EXIT_FAILED;
	}
	struct snapshot s;
	snapshot_take(t, false, &s);
	if (c->json)
		stats_json(stdout, name, &s, NULL);
	else
		stats_summary(stdout, name, &s);
	evt_close(t);
	return EXIT_OK;
}

static int cmd_status(const struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 0)
		return tool_usage("status takes no argument");
	/* With -a, a throttle that cannot be read is reported and the others shown. */
	return c->all ? tool_each_throttle(status_one, (void *)c) : status_one(c->name, (void *)c);
}

static const char *daemon_state(const struct snapshot *s)
{
	return s->daemon_pid == 0 ? "none" : s->daemon_alive ? "running" : "not running";
}

/* A global throttle's endpoint and the address it leads to (null: none yet). */
static void list_json_global(struct json *j, const struct global_status *g)
{
	if (!g->enabled) {
		json_null(j, "redis");
		json_null(j, "redis_address");
		return;
	}
	json_str(j, "redis", g->redis);
	if (g->address[0] != '\0')
		json_str(j, "redis_address", g->address);
	else
		json_null(j, "redis_address");
}

static void list_json(const char *name, const struct snapshot *s, const char *error)
{
	struct json j;
	json_init(&j, stdout);
	json_object(&j, NULL);
	json_str(&j, "name", name);
	if (error != NULL) {
		json_str(&j, "error", error);
	} else {
		json_u64(&j, "window_ns", s->st.window_ns);
		json_u64(&j, "limit", s->st.limit);
		json_bool(&j, "shadow", s->st.shadow != 0);
		json_u64(&j, "keys", s->st.keys);
		json_u64(&j, "capacity", s->st.capacity);
		json_u64(&j, "clients", s->st.clients);
		json_u64(&j, "client_max", s->st.client_max);
		json_str(&j, "daemon", daemon_state(s));
		json_u64(&j, "daemon_pid", s->daemon_pid);
		list_json_global(&j, &s->global);
	}
	json_end(&j, '}');
	putchar('\n');
}

static void list_text(const char *name, const struct snapshot *s)
{
	char w[64], keys[48], clients[32];
	snprintf(keys, sizeof keys, "%llu/%u", (unsigned long long)s->st.keys, s->st.capacity);
	snprintf(clients, sizeof clients, "%u/%u", s->st.clients, s->st.client_max);
	printf("%-24s window %-8s limit %-5u %-9s keys %-16s clients %-9s daemon %s", name,
	       duration_format(s->st.window_ns, w, sizeof w), s->st.limit,
	       s->st.shadow ? "shadow" : "enforcing", keys, clients, daemon_state(s));
	const struct global_status *g = &s->global;
	if (g->enabled)
		printf(" redis %s (%s)", g->redis, g->address[0] != '\0' ? g->address
		                                   : g->named        ? "not resolved"
		                                                     : "unix socket");
	putchar('\n');
}

/* One line per throttle; one that cannot be read is listed with the reason. */
static int list_one(const char *name, void *arg)
{
	const struct ctl *c = arg;
	evt_throttle *t = NULL;
	int rc = evt_attach(name, EVT_RDONLY, &t);
	if (rc == -ENOENT)
		return EXIT_OK; /* removed since the directory was read */
	struct snapshot s;
	if (rc == 0)
		snapshot_take(t, false, &s);
	if (c->json)
		list_json(name, &s, rc < 0 ? evt_strerror(rc) : NULL);
	else if (rc < 0)
		printf("%-24s unreadable: %s\n", name, evt_strerror(rc));
	else
		list_text(name, &s);
	evt_close(t);
	return EXIT_OK;
}

/* A hidden object of a creation (hidden.h), after the throttles: one being built,
 * or one a creator that died left behind. */
static int list_hidden(const char *file, void *arg)
{
	(void)arg;
	int rc = hidden_held(file);
	if (rc == 1)
		printf("%s  hidden: being created\n", file);
	else if (rc == 0)
		printf("%s  hidden: left by a creator that died (evthrottled removes those of "
		       "its throttles; or rm " SHM_DIR "/%s)\n", file, file);
	else if (rc != -ENOENT)
		printf("%s  hidden: unreadable: %s\n", file, evt_strerror(rc));
	return 0;
}

static int cmd_list(const struct ctl *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 0)
		return tool_usage("list takes no argument");
	int ex = tool_each_throttle(list_one, (void *)c);
	if (!c->json)
		hidden_each(NULL, list_hidden, NULL);
	return ex;
}

static const struct command {
	const char *name;
	int (*run)(const struct ctl *c, int argc, char **argv);
} commands[] = {
	{ "window", cmd_window },
	{ "limit", cmd_limit },
	{ "shadow", cmd_shadow },
	{ "clear", cmd_clear },
	{ "status", cmd_status },
	{ "list", cmd_list },
};

static int run(const struct ctl *c, int argc, char **argv)
{
	if (argc == 0)
		return tool_usage("missing command (window, limit, shadow, clear, status, list)");
	if (c->all && strcmp(argv[0], "status") != 0)
		return tool_usage("-a/--all is for status only");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(c, argc - 1, argv + 1);
	return tool_usage("unknown command '%s' (window, limit, shadow, clear, status, list)",
	                  argv[0]);
}

/* -1 to go on, else the exit code (help, version, bad usage). */
static int parse(int argc, char **argv, struct ctl *o)
{
	static const struct option longopts[] = {
		TOOL_COMMON_OPTIONS,
		{ "name", required_argument, NULL, 'n' },
		{ "all", no_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "yes", no_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = -1;
	while (rc < 0 && (c = getopt_long(argc, argv, ":hn:ajy", longopts, NULL)) != -1) {
		if (c == 'n')
			o->name = optarg;
		else if (c == 'a')
			o->all = true;
		else if (c == 'j')
			o->json = true;
		else if (c == 'y')
			o->yes = true;
		else if (c == '?' || c == ':')
			rc = tool_bad_option(c, argv);
		else
			tool_common_option(c, optarg, usage, &rc);
	}
	if (rc < 0 && !tool_name_ok(o->name))
		rc = EXIT_USAGE;
	return rc;
}

int main(int argc, char **argv)
{
	struct ctl c = { .name = "default" };
	tool_init("evthrottlectl");
	int rc = parse(argc, argv, &c);
	if (rc >= 0)
		return tool_flush(rc);
	rc = tool_log_start();
	if (rc == EXIT_OK)
		rc = tool_flush(run(&c, argc - optind, argv + optind));
	log_close();
	return rc;
}
