/*
 * libFuzzer target: evthrottled's configuration reader (daemon/config.c).
 *
 * Each input is written to one file per process (/tmp/fuzz-config-<pid>.conf,
 * removed at exit) and read with config_load().  It must never crash or leak
 * (AddressSanitizer), and:
 *   - it returns 0, -EINVAL or another negative errno;
 *   - on error the message starts with the file's path followed by ':' (SPEC §5.6:
 *     "malformed config (file and line)");
 *   - on 0 every throttle has a valid name and options region_geometry() accepts
 *     (what the daemon will pass to region_create()), and config_describe()
 *     prints them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "region.h"

/*
 * libconfig before 1.7.3 leaks a string token discarded by its parser's error
 * recovery (hyperrealm/libconfig#142, fixed by #155; Debian 12 ships 1.5), e.g.
 * for `a = "x" d "y"` or `b ""`, although config_load() calls config_destroy().
 * The token is allocated by the scanner (strbuf_append, or calloc in
 * libconfig_yylex for ""); those two are suppressed, so that a leak of the
 * parsed settings themselves (a missing config_destroy()) is still reported.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static char path[64];
static FILE *devnull;

static void cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	snprintf(path, sizeof path, "/tmp/fuzz-config-%ld.conf", (long)getpid());
	devnull = fopen("/dev/null", "w");
	if (devnull == NULL)
		abort();
	atexit(cleanup);
	return 0;
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_config: %s: %s\n", what, detail);
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct daemon_config c;
	static char err[8192];
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		fail("cannot write", path);
	memset(err, 0, sizeof err);
	int rc = config_load(path, &c, err, sizeof err);
	if (rc < 0) {
		size_t n = strlen(path);
		if (strncmp(err, path, n) != 0 || err[n] != ':')
			fail("error message does not start with \"FILE:\"", err);
		return 0;
	}
	if (c.n == 0)
		fail("config_load accepted a throttle count out of range", path);
	for (size_t i = 0; i < c.n; i++) {
		char shm[EVT_NAME_MAX + 32];
		struct region_geom g;
		if (region_name_path(c.throttles[i].name, shm, sizeof shm) != 0)
			fail("config_load accepted an invalid throttle name", c.throttles[i].name);
		if (region_geometry(&c.throttles[i].opts, &g) != 0)
			fail("config_load accepted options region_create() refuses",
			     c.throttles[i].name);
		if (config_find(&c, c.throttles[i].name) != &c.throttles[i])
			fail("config_find does not find the first throttle of that name",
			     c.throttles[i].name);
	}
	config_describe(&c, devnull);
	config_free(&c);
	return 0;
}
