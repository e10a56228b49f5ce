/* evthrottlectl: set the window, clear keys, show a short status. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "handle.h"
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
	"  clear             forget every key\n"
	"  clear KEY...      forget these keys and say which were tracked (\\xNN for any byte)\n"
	"  status            window, keys / capacity, clients, processed and throttled\n"
	"                    totals, full-table events, daemon\n"
	"\n"
	"Options:\n"
	"  -n, --name NAME     the throttle (default: default)\n"
	"      --log-level L   debug, info, warning or error (default: info)\n"
	"      --log-dir DIR   log what changed to DIR/evthrottlectl.log\n"
	"  -h, --help          this help\n"
	"      --version       the version\n"
	"\n"
	"window and status only read the throttle (read permission is enough); setting the\n"
	"window and clearing need write permission.  Put '--' before keys starting with '-'.\n"
	"\n"
	"Exit status: 0 ok, 1 failed (no such throttle, permission denied, ...), 2 bad usage.\n";

static int window_show(const char *name)
{
	evt_throttle *t;
	char w[64];
	int rc = tool_attach(name, EVT_RDONLY, &t);
	if (rc != EXIT_OK)
		return rc;
	printf("%s\n", duration_format(evt_get_window(t), w, sizeof w));
	evt_close(t);
	return EXIT_OK;
}

static int window_set(const char *name, const char *arg)
{
	uint64_t ns;
	int rc = duration_parse(arg, &ns);
	if (rc == -ERANGE)
		return tool_usage("duration '%s' is too long for 64-bit nanoseconds", arg);
	if (rc < 0)
		return tool_usage("invalid duration '%s' (digits and a unit: ns us ms s m h, "
		                  "e.g. 250ms, 10s, 1m)", arg);
	if (ns == 0)
		return tool_usage("the window must be greater than 0");
	evt_throttle *t;
	if (tool_attach(name, EVT_ADMIN, &t) != EXIT_OK)
		return EXIT_FAILED;
	char old[64], now[64];
	duration_format(evt_get_window(t), old, sizeof old);
	rc = evt_update_window(t, ns);
	if (rc == 0) {
		duration_format(ns, now, sizeof now);
		printf("throttle '%s': window %s -> %s\n", name, old, now);
		log_info("throttle '%s': window %s -> %s", name, old, now);
	} else {
		tool_error(name, "cannot set the window: %s", evt_strerror(rc));
	}
	evt_close(t);
	return rc == 0 ? EXIT_OK : EXIT_FAILED;
}

static int cmd_window(const char *name, int argc, char **argv)
{
	if (argc > 1)
		return tool_usage("window takes at most one DURATION");
	return argc == 0 ? window_show(name) : window_set(name, argv[0]);
}

static int clear_all(const char *name, evt_throttle *t)
{
	int n = evt_clear(t);
	if (n < 0) {
		tool_error(name, "cannot clear: %s", evt_strerror(n));
		return EXIT_FAILED;
	}
	printf("throttle '%s': cleared every key (%d were tracked)\n", name, n);
	log_info("throttle '%s': cleared every key (%d were tracked)", name, n);
	return EXIT_OK;
}

struct key_arg {
	const char *text; /* as typed */
	unsigned char bytes[REGION_KEY_MAX];
	size_t len;       /* > REGION_KEY_MAX: too long for any throttle */
};

/* Every key fits the throttle, or nothing is cleared. */
static int keys_fit(const char *name, const evt_throttle *t, const struct key_arg *k, int n)
{
	for (int i = 0; i < n; i++)
		if (k[i].len > t->r.key_max) {
			tool_error(name, "key '%s' is longer than the throttle's key_max "
			           "(%u bytes); nothing cleared", k[i].text, t->r.key_max);
			return EXIT_FAILED;
		}
	return EXIT_OK;
}

static int clear_keys(const char *name, evt_throttle *t, const struct key_arg *k, int n)
{
	int rc = keys_fit(name, t, k, n);
	for (int i = 0; i < n && rc == EXIT_OK; i++) {
		int r = evt_clear_key(t, k[i].bytes, k[i].len);
		if (r < 0) {
			tool_error(name, "cannot clear key '%s': %s", k[i].text, evt_strerror(r));
			rc = EXIT_FAILED;
		} else {
			printf("%s: %s\n", k[i].text, r == 1 ? "cleared" : "not tracked");
			if (r == 1)
				log_info("throttle '%s': cleared key '%s'", name, k[i].text);
		}
	}
	return rc;
}

static int decode_keys(int argc, char **argv, struct key_arg *k)
{
	for (int i = 0; i < argc; i++) {
		k[i].text = argv[i];
		if (key_unescape(argv[i], k[i].bytes, sizeof k[i].bytes, &k[i].len) < 0)
			k[i].len = REGION_KEY_MAX + 1;
		if (k[i].len == 0)
			return tool_usage("empty key");
	}
	return EXIT_OK;
}

static int cmd_clear(const char *name, int argc, char **argv)
{
	struct key_arg *k = calloc((size_t)argc + 1, sizeof *k);
	if (k == NULL) {
		tool_error(name, "%s", evt_strerror(-ENOMEM));
		return EXIT_FAILED;
	}
	evt_throttle *t = NULL;
	int rc = decode_keys(argc, argv, k);
	if (rc == EXIT_OK)
		rc = tool_attach(name, EVT_ADMIN, &t);
	if (rc == EXIT_OK)
		rc = argc == 0 ? clear_all(name, t) : clear_keys(name, t, k, argc);
	evt_close(t);
	free(k);
	return rc;
}

static int cmd_status(const char *name, int argc, char **argv)
{
	(void)argv;
	if (argc > 0)
		return tool_usage("status takes no argument");
	evt_throttle *t;
	int rc = tool_attach(name, EVT_RDONLY, &t);
	if (rc != EXIT_OK)
		return rc;
	struct snapshot s;
	snapshot_take(t, false, &s);
	stats_summary(stdout, name, &s);
	evt_close(t);
	return EXIT_OK;
}

static const struct command {
	const char *name;
	int (*run)(const char *throttle, int argc, char **argv);
} commands[] = {
	{ "window", cmd_window },
	{ "clear", cmd_clear },
	{ "status", cmd_status },
};

static int run(const char *name, int argc, char **argv)
{
	if (argc == 0)
		return tool_usage("missing command (window, clear, status)");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			return commands[i].run(name, argc - 1, argv + 1);
	return tool_usage("unknown command '%s' (window, clear, status)", argv[0]);
}

/* -1 to go on, else the exit code (help, version, bad usage). */
static int parse(int argc, char **argv, const char **name)
{
	static const struct option longopts[] = {
		TOOL_COMMON_OPTIONS,
		{ "name", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = -1;
	while (rc < 0 && (c = getopt_long(argc, argv, ":hn:", longopts, NULL)) != -1) {
		if (c == 'n')
			*name = optarg;
		else if (c == '?' || c == ':')
			rc = tool_bad_option(c, argv);
		else
			tool_common_option(c, optarg, usage, &rc);
	}
	if (rc < 0 && !tool_name_ok(*name))
		rc = EXIT_USAGE;
	return rc;
}

int main(int argc, char **argv)
{
	const char *name = "default";
	tool_init("evthrottlectl");
	int rc = parse(argc, argv, &name);
	if (rc >= 0)
		return tool_flush(rc);
	rc = tool_log_start();
	if (rc == EXIT_OK)
		rc = tool_flush(run(name, argc - optind, argv + optind));
	log_close();
	return rc;
}
