/* evthrottled's configuration: good files, and every kind of bad one named by
 * file and line. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common.h"
#include "config.h"

static char path[64];
static char err[1024];
static struct daemon_config cfg;

static void write_file(const char *text)
{
	snprintf(path, sizeof path, "/tmp/evt-config-%d.conf", (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static void cleanup(void)
{
	config_free(&cfg);
	unlink(path);
}

/* Load text; return config_load's result, err holds the message. */
static int load(const char *text)
{
	write_file(text);
	err[0] = '\0';
	config_free(&cfg);
	return config_load(path, &cfg, err, sizeof err);
}

/* The message starts with "FILE:LINE: " and contains what. */
static void expect_error(const char *text, int line, const char *what)
{
	cr_assert_eq(load(text), -EINVAL, "accepted: %s", text);
	char want[128];
	snprintf(want, sizeof want, "%s:%d: ", path, line);
	cr_expect_eq(strncmp(err, want, strlen(want)), 0, "want prefix '%s', got '%s'", want, err);
	cr_expect_not_null(strstr(err, what), "want '%s' in '%s'", what, err);
}

TestSuite(config, .fini = cleanup);

Test(config, example_file_is_valid)
{
	char file[4096];
	snprintf(file, sizeof file, "%s/examples/evthrottled.conf", getenv("EVT_SOURCE_ROOT"));
	cr_assert_eq(config_load(file, &cfg, err, sizeof err), 0, "%s", err);
	cr_assert_geq(cfg.n, 1);
	cr_expect_str_eq(cfg.throttles[0].name, "default");
	cr_expect_eq(cfg.throttles[0].opts.window_ns, 10000000000ull);
	const struct throttle_config *a = config_find(&cfg, "accounts");
	cr_assert_not_null(a, "the example of a limit in shadow mode");
	cr_expect_eq(a->opts.limit, 50);
	cr_expect_eq(a->opts.shadow, 1);
}

Test(config, full_settings)
{
	cr_assert_eq(load("log = { level = \"debug\"; console = false; file = true; directory = \"/tmp/l\"; };\n"
	                  "daemon = { housekeeping = \"250ms\"; summary = \"0s\"; sweep_occupancy = 10;"
	                  " warn_occupancy = 90; pidfile = \"/tmp/p.pid\"; };\n"
	                  "throttles = ( { name = \"a\"; window = \"1m30s\"; capacity = 1000; key_max = 64;\n"
	                  "  clients = 8; mode = \"0640\"; group = \"root\"; on_full = \"error\"; limit = 50; shadow = true;\n"
	                  "  huge_pages = true; },\n"
	                  "  { name = \"b.c-d_e\"; } );\n"),
	             0, "%s", err);
	cr_expect_eq(cfg.log.level, LOG_DEBUG);
	cr_expect_eq(cfg.log.console, false);
	cr_expect_eq(cfg.log.file, true);
	cr_expect_str_eq(cfg.log.directory, "/tmp/l");
	cr_expect_eq(cfg.housekeeping_ns, 250000000ull);
	cr_expect_eq(cfg.summary_ns, 0);
	cr_expect_eq(cfg.sweep_occupancy, 10);
	cr_expect_eq(cfg.warn_occupancy, 90);
	cr_expect_str_eq(cfg.pidfile, "/tmp/p.pid");
	cr_assert_eq(cfg.n, 2);
	const struct throttle_config *a = config_find(&cfg, "a");
	cr_assert_not_null(a);
	cr_expect_eq(a->opts.window_ns, 90000000000ull);
	cr_expect_eq(a->opts.limit, 50);
	cr_expect_eq(a->opts.shadow, 1);
	cr_expect_eq(config_find(&cfg, "b.c-d_e")->opts.shadow, 0, "enforcing by default");
	cr_expect_eq(config_find(&cfg, "b.c-d_e")->opts.limit, 1, "the default limit");
	cr_expect_eq(a->opts.capacity, 1000);
	cr_expect_eq(a->opts.key_max, 64);
	cr_expect_eq(a->opts.client_max, 8);
	cr_expect_eq(a->opts.mode, 0640);
	cr_expect_str_eq(a->group, "root");
	cr_expect_eq(a->opts.on_full, EVT_ON_FULL_ERROR);
	cr_expect_eq(a->opts.huge_pages, 1);
	cr_expect_eq(a->line, 3);
	/* defaults */
	const struct throttle_config *b = config_find(&cfg, "b.c-d_e");
	cr_assert_not_null(b);
	evt_options d = EVT_OPTIONS_INIT;
	cr_expect_eq(b->opts.window_ns, d.window_ns);
	cr_expect_eq(b->opts.capacity, d.capacity);
	cr_expect_eq(b->opts.mode, d.mode);
	cr_expect_eq(b->opts.on_full, EVT_ON_FULL_THROTTLE);
	cr_expect_eq(b->opts.huge_pages, 0);
	cr_expect_null(config_find(&cfg, "missing"));
}

Test(config, missing_file)
{
	cr_assert_eq(config_load("/nonexistent/evt.conf", &cfg, err, sizeof err), -ENOENT);
	cr_expect_not_null(strstr(err, "/nonexistent/evt.conf: cannot read"), "%s", err);
}

Test(config, syntax_error_names_the_line)
{
	expect_error("throttles = (\n { name = \"a\" }\n  oops\n);\n", 3, "syntax error");
}

Test(config, unknown_settings)
{
	expect_error("throttles = ( { name = \"a\"; windw = \"1s\"; } );\n", 1, "unknown setting 'windw'");
	expect_error("\n\nlogg = { };\nthrottles = ( { name = \"a\"; } );\n", 3, "unknown setting 'logg'");
	expect_error("log = { level = \"info\";\n colour = true; };\nthrottles = ( { name = \"a\"; } );\n", 2,
	             "unknown setting 'colour' in log");
}

Test(config, bad_values)
{
	expect_error("throttles = ( { name = \"a\"; window = \"0s\"; } );", 1, "greater than 0");
	expect_error("throttles = ( { name = \"a\"; limit = 0; } );", 1, "limit = 0 is out of range [1, 4096]");
	expect_error("throttles = ( { name = \"a\"; limit = 4097; } );", 1, "limit = 4097 is out of range");
	expect_error("throttles = ( { name = \"a\"; limit = \"5\"; } );", 1, "limit must be an integer");
	expect_error("throttles = ( { name = \"a\"; shadow = 1; } );", 1, "shadow must be true or false");
	expect_error("throttles = ( { name = \"a\"; window = \"10\"; } );", 1, "not a duration");
	expect_error("throttles = ( { name = \"a\"; window = \"10 s\"; } );", 1, "not a duration");
	expect_error("throttles = ( { name = \"a\"; window = 10; } );", 1, "with a unit");
	expect_error("throttles = ( { name = \"a\"; window = \"99999999999h\"; } );", 1, "too long");
	expect_error("throttles = ( { name = \"a\"; capacity = 0; } );", 1, "out of range");
	expect_error("throttles = ( { name = \"a\";\n capacity = 1000000000; } );", 2, "out of range");
	expect_error("throttles = ( { name = \"a\"; capacity = \"big\"; } );", 1, "must be an integer");
	expect_error("throttles = ( { name = \"a\"; key_max = 2000; } );", 1, "out of range");
	expect_error("throttles = ( { name = \"a\"; clients = 70000; } );", 1, "out of range");
	expect_error("throttles = ( { name = \"a\"; mode = \"0999\"; } );", 1, "octal");
	expect_error("throttles = ( { name = \"a\"; mode = 660; } );", 1, "must be a string");
	expect_error("throttles = ( { name = \"a\"; on_full = \"drop\"; } );", 1, "not one of throttle");
	expect_error("throttles = ( { name = \"a\"; group = \"no-such-group-xyz\"; } );", 1, "no such group");
	expect_error("log = { level = \"loud\"; };\nthrottles = ( { name = \"a\"; } );", 1, "log level");
	expect_error("log = { console = \"yes\"; };\nthrottles = ( { name = \"a\"; } );", 1, "true or false");
	expect_error("daemon = { warn_occupancy = 0; };\nthrottles = ( { name = \"a\"; } );", 1, "out of range");
}

/* Values come from libconfig's parsed settings only: a 64-bit literal (L suffix)
 * is range-checked as such, and a literal too large for libconfig is refused by
 * the range check on what libconfig returns. */
Test(config, large_integers_are_range_checked)
{
	expect_error("throttles = ( { name = \"a\"; capacity = 4294967297L; } );", 1,
	             "capacity = 4294967297 is out of range [64, 268435456]");
	expect_error("throttles = ( { name = \"a\"; capacity = 99999999999999999999; } );", 1,
	             "out of range");
	expect_error("throttles = ( { name = \"a\"; key_max = -4294967295L; } );", 1, "out of range");
}

/* Issue #16 item 1: the second throttle of a line had the first one's capacity. */
Test(config, two_throttles_on_one_line)
{
	cr_assert_eq(load("throttles = ( { name = \"a\"; capacity = 100; }, { name = \"b\"; capacity = 5000; } );\n"),
	             0, "%s", err);
	cr_expect_eq(config_find(&cfg, "a")->opts.capacity, 100);
	cr_expect_eq(config_find(&cfg, "b")->opts.capacity, 5000);
}

/* Item 2: a commented-out value on the line was taken. */
Test(config, comment_before_the_value)
{
	cr_assert_eq(load("throttles = ( { name = \"a\"; /* was: capacity = 4096 */ capacity = 1024; } );\n"),
	             0, "%s", err);
	cr_expect_eq(cfg.throttles[0].opts.capacity, 1024);
}

/* Item 3: a value on the line after its name read as 0. */
Test(config, value_on_the_next_line)
{
	cr_assert_eq(load("throttles = ( { name = \"a\"; capacity =\n 1024; } );\n"), 0, "%s", err);
	cr_expect_eq(cfg.throttles[0].opts.capacity, 1024);
}

/* Item 4: setuid, setgid and sticky bits are refused, world-writable warned. */
Test(config, special_mode_bits_are_refused)
{
	expect_error("throttles = ( { name = \"a\"; mode = \"4777\"; } );", 1, "setuid, setgid or sticky");
	expect_error("throttles = ( { name = \"a\"; mode = \"04660\"; } );", 1, "at most 0777");
	expect_error("throttles = ( { name = \"a\"; mode = \"1770\"; } );", 1, "sticky");
	expect_error("throttles = ( { name = \"a\"; mode = \"2660\"; } );", 1, "(2000)");
	cr_assert_eq(load("throttles = ( { name = \"a\"; mode = \"0666\"; } );"), 0, "%s", err);
	cr_expect_eq(cfg.throttles[0].opts.mode, 0666);
	cr_expect_not_null(strstr(err, ":1: warning: mode \"0666\" lets every local user write"), "%s", err);
	cr_assert_eq(load("throttles = ( { name = \"a\"; mode = \"0660\"; } );"), 0, "%s", err);
	cr_expect_str_eq(err, "");
}

/* Item 4: a housekeeping period of 1ns made the thread spin. */
Test(config, housekeeping_has_a_minimum)
{
	expect_error("daemon = { housekeeping = \"1ns\"; };\nthrottles = ( { name = \"a\"; } );", 1,
	             "housekeeping \"1ns\" is below the minimum 1ms");
	expect_error("daemon = { housekeeping = \"999us\"; };\nthrottles = ( { name = \"a\"; } );", 1,
	             "minimum 1ms");
	cr_assert_eq(load("daemon = { housekeeping = \"1ms\"; };\nthrottles = ( { name = \"a\"; } );"), 0,
	             "%s", err);
	cr_expect_eq(cfg.housekeeping_ns, 1000000ull);
}

/* Item 4: every error of a file in one run, one "FILE:LINE: " line each. */
Test(config, every_error_is_reported)
{
	cr_assert_eq(load("daemon = { warn_occupancy = 0; };\n"
	                  "throttles = ( { name = \"a\"; capacity = 1; },\n"
	                  "  { name = \"b\"; mode = \"4777\"; colour = 1; } );\n"),
	             -EINVAL);
	static const char *const want[] = { ":1: warn_occupancy = 0 is out of range [1, 100]\n",
		                            ":2: capacity = 1 is out of range [64, 268435456]\n",
		                            ":3: unknown setting 'colour' in a throttle\n",
		                            ":3: mode \"4777\" has setuid" };
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char line[256];
		snprintf(line, sizeof line, "%s%s", path, want[i]);
		cr_expect_not_null(strstr(err, line), "want '%s' in '%s'", line, err);
	}
	size_t lines = 0;
	for (const char *p = err; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_expect_eq(lines, 4, "%s", err);
}

/* Item 5: no bound on the number of throttles. */
Test(config, many_throttles)
{
	char text[16384] = "throttles = (";
	for (int i = 0; i < 200; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "%s{ name = \"t%d\"; }",
		         i ? ", " : " ", i);
	strcat(text, " );\n");
	cr_assert_eq(load(text), 0, "%s", err);
	cr_expect_eq(cfg.n, 200);
	cr_expect_not_null(config_find(&cfg, "t199"));
}

/* Item 8: relative paths in the file are relative to the file's directory. */
Test(config, relative_paths_follow_the_file)
{
	cr_assert_eq(load("log = { directory = \"l/og\"; };\ndaemon = { pidfile = \"x.pid\"; };\n"
	                  "throttles = ( { name = \"a\"; } );"),
	             0, "%s", err);
	cr_expect_str_eq(cfg.path, path);
	cr_expect_str_eq(cfg.log.directory, "/tmp/l/og");
	cr_expect_str_eq(cfg.pidfile, "/tmp/x.pid");
	cr_assert_eq(load("daemon = { pidfile = \"/run/x.pid\"; };\nthrottles = ( { name = \"a\"; } );"), 0);
	cr_expect_str_eq(cfg.pidfile, "/run/x.pid");
	cr_expect_str_eq(cfg.log.directory, "/tmp/logs", "the default directory follows the file");
}

/* libconfig would exit() the daemon on an @include of a directory. */
Test(config, include_is_refused)
{
	expect_error("throttles = ( { name = \"a\"; } );\n  @include \"/etc\"\n", 2,
	             "@include is not supported");
}

Test(config, names)
{
	expect_error("throttles = ( { window = \"1s\"; } );", 1, "needs a name");
	expect_error("throttles = ( { name = \"a/b\"; } );", 1, "throttle name");
	expect_error("throttles = ( { name = \".hidden\"; } );", 1, "throttle name");
	expect_error("throttles = ( { name = \"\"; } );", 1, "throttle name");
	expect_error("throttles = ( { name = \"a\"; },\n { name = \"a\"; } );", 2, "defined twice (first at line 1)");
}

Test(config, structure)
{
	cr_assert_eq(load("log = { };\n"), -EINVAL);
	cr_expect_not_null(strstr(err, "no throttles"), "%s", err);
	expect_error("throttles = ( );", 1, "empty");
	expect_error("throttles = 5;", 1, "must be a list");
	expect_error("log = 5;\nthrottles = ( { name = \"a\"; } );", 1, "must be a group");
}

Test(config, global_group)
{
	char auth[64];
	snprintf(auth, sizeof auth, "/tmp/evt-config-auth-%d", (int)getpid());
	FILE *f = fopen(auth, "w");
	cr_assert_not_null(f);
	fputs("secret\n", f);
	fclose(f);
	chmod(auth, 0600);
	char text[512];
	snprintf(text, sizeof text,
	         "throttles = ( { name = \"orders.host1\";\n"
	         "  global = { redis = \"unix:/run/redis/redis.sock\"; name = \"orders\";\n"
	         "             timeout = \"2ms\"; on_unreachable = \"throttle\"; auth_file = \"%s\"; }; },\n"
	         "  { name = \"b\"; global = { redis = \"10.0.0.7:6379\"; }; },\n"
	         "  { name = \"c\"; } );\n", auth);
	int rc = load(text);
	unlink(auth);
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_eq(err[0], '\0', "no warning for a 0600 auth_file: %s", err);
	const evt_global *g = config_find(&cfg, "orders.host1")->opts.global;
	cr_assert_not_null(g);
	cr_expect_str_eq(g->redis, "unix:/run/redis/redis.sock");
	cr_expect_str_eq(g->name, "orders");
	cr_expect_eq(g->timeout_ns, 2000000);
	cr_expect_eq(g->on_unreachable, EVT_ON_UNREACHABLE_THROTTLE);
	cr_expect_str_eq(g->auth_file, auth);
	/* defaults: the throttle's own name, 2 ms, the local answer, no credentials */
	g = config_find(&cfg, "b")->opts.global;
	cr_assert_not_null(g);
	cr_expect_str_eq(g->redis, "10.0.0.7:6379");
	cr_expect_str_eq(g->name, "");
	cr_expect_eq(g->timeout_ns, 2000000);
	cr_expect_eq(g->on_unreachable, EVT_ON_UNREACHABLE_LOCAL);
	cr_expect_null(g->auth_file);
	cr_expect_null(config_find(&cfg, "c")->opts.global);
}

Test(config, global_errors_name_cause_value_and_limit)
{
	expect_error("throttles = ( { name = \"a\";\n global = { name = \"x\"; }; } );\n", 2,
	             "needs redis = \"unix:PATH\" or \"HOST:PORT\"");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"host:99999\"; }; } );\n", 2,
	             "redis \"host:99999\" is not \"unix:PATH\" or \"HOST:PORT\" with a port of 1-65535");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"bad host:6379\"; }; } );\n",
	             2, "redis \"bad host:6379\": host \"bad host\" is neither a host name nor a "
	             "numeric address");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"h:1\"; timeout = \"0ms\"; }; } );\n",
	             2, "timeout \"0ms\" must be greater than 0");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"h:1\"; timeout = \"11s\"; }; } );\n",
	             2, "timeout \"11s\" is above the maximum 10s");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"h:1\"; on_unreachable = \"drop\"; }; } );\n",
	             2, "on_unreachable \"drop\" is not one of local, throttle, process");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"h:1\"; name = \"{x}\"; }; } );\n",
	             2, "global name \"{x}\" must be");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"h:1\"; auth_file = \"/nonexistent/f\"; }; } );\n",
	             2, "auth_file \"/nonexistent/f\": No such file or directory");
	expect_error("throttles = ( { name = \"a\";\n global = { redis = \"h:1\"; port = 1; }; } );\n", 2,
	             "unknown setting 'port' in global");
	expect_error("throttles = ( { name = \"a\"; global = { redis = \"h:1\"; };\n limit = 5; } );\n", 2,
	             "limit = 5 with global: a global throttle has limit 1");
}

Test(config, a_world_readable_auth_file_is_warned_about)
{
	char auth[64], text[256];
	snprintf(auth, sizeof auth, "/tmp/evt-config-auth-%d", (int)getpid());
	FILE *f = fopen(auth, "w");
	cr_assert_not_null(f);
	fclose(f);
	chmod(auth, 0644);
	snprintf(text, sizeof text,
	         "throttles = ( { name = \"a\";\n global = { redis = \"h:1\"; auth_file = \"%s\"; }; } );\n",
	         auth);
	int rc = load(text);
	unlink(auth);
	cr_assert_eq(rc, 0, "%s", err);
	cr_expect_not_null(strstr(err, "warning: auth_file"), "%s", err);
	cr_expect_not_null(strstr(err, "readable by every user (mode 0644)"), "%s", err);
}
