#include "toolutil.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "files.h"
#include "log.h"
#include "handle.h"
#include "throttles.h"

static const char *prog = "evthrottle";
/* Tools talk to people on stdout/stderr; the log is a file, asked for with
 * --log-dir, that keeps what they changed and what failed. */
static struct log_config log_cfg = { LOG_INFO, false, false, "" };

void tool_init(const char *name)
{
	prog = name;
	/* Nothing on the console until asked: the log's default writes to stderr. */
	log_configure(&log_cfg, prog);
}

void tool_error(const char *name, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (name != NULL) {
		fprintf(stderr, "%s: throttle '%s': %s\n", prog, name, msg);
		log_error("throttle '%s': %s", name, msg);
	} else {
		fprintf(stderr, "%s: %s\n", prog, msg);
		log_error("%s", msg);
	}
}

int tool_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
	return EXIT_USAGE;
}

int tool_bad_option(int c, char **argv)
{
	/* optopt is the short option's letter, 0 for a long option. */
	if (c == ':')
		return optopt != 0 ? tool_usage("option '-%c' needs an argument", optopt)
		                   : tool_usage("option '%s' needs an argument", argv[optind - 1]);
	/* A digit after '-' is a negative number, not an option: window -5s. */
	if (optopt >= '0' && optopt <= '9')
		return tool_usage("'-%c...' is not a duration or option: a window is a positive "
		                  "duration such as 5s (put -- before a key that starts with '-')",
		                  optopt);
	return optopt != 0 ? tool_usage("unknown option '-%c'", optopt)
	                   : tool_usage("unknown option '%s'", argv[optind - 1]);
}

int tool_common_option(int opt, const char *arg, const char *help, int *exit_code)
{
	switch (opt) {
	case 'h':
		fputs(help, stdout);
		*exit_code = EXIT_OK;
		return 1;
	case OPT_VERSION:
		printf("%s (evthrottle) %s, region format %d.%d\n", prog, EVT_PACKAGE_VERSION,
		       EVT_VERSION_MAJOR, EVT_VERSION_MINOR);
		*exit_code = EXIT_OK;
		return 1;
	case OPT_LOG_LEVEL:
		if (log_level_parse(arg, &log_cfg.level) < 0)
			*exit_code = tool_usage("invalid log level '%s' (debug, info, warning, "
			                        "error)", arg);
		return 1;
	case OPT_LOG_DIR:
		if (snprintf(log_cfg.directory, sizeof log_cfg.directory, "%s", arg) >=
		    (int)sizeof log_cfg.directory)
			*exit_code = tool_usage("log directory too long");
		log_cfg.file = true;
		return 1;
	default:
		return 0;
	}
}

int tool_log_start(void)
{
	int rc = log_configure(&log_cfg, prog);
	if (rc < 0) {
		tool_error(NULL, "cannot open the log in '%s': %s", log_cfg.directory,
		           file_strerror(rc));
		return EXIT_FAILED;
	}
	return EXIT_OK;
}

int tool_flush(int rc)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return rc;
	tool_error(NULL, "writing the output: %s", strerror(errno));
	return EXIT_FAILED;
}

bool tool_name_ok(const char *name)
{
	char path[EVT_NAME_MAX + 32];
	if (region_name_path(name, path, sizeof path) == 0)
		return true;
	if (strlen(name) > EVT_NAME_MAX) {
		tool_usage("throttle name is %zu bytes, at most %d", strlen(name), EVT_NAME_MAX);
		return false;
	}
	tool_usage("invalid throttle name '%s' (1..%d of [A-Za-z0-9_.-], not starting with '.')",
	           name, EVT_NAME_MAX);
	return false;
}

int tool_attach(const char *name, unsigned flags, evt_throttle **out)
{
	int rc = evt_attach(name, flags, out);
	if (rc < 0) {
		tool_error(name, "%s", evt_strerror(rc));
		return EXIT_FAILED;
	}
	log_debug("throttle '%s': attached %s", name,
	          (flags & EVT_RDONLY) ? "read-only" : (flags & EVT_ADMIN) ? "as admin" : "read-write");
	return EXIT_OK;
}

int tool_intact(const char *name, const evt_throttle *t)
{
	uint64_t size;
	int rc = region_check_size(&t->r, &size);
	if (rc == 0)
		return EXIT_OK;
	if (rc == -EBADMSG)
		tool_error(name, "/dev/shm/evthrottle.%s is %llu bytes, the region needs %zu: "
		           "someone truncated it; not reading it (evthrottled --recreate "
		           "replaces it)", name, (unsigned long long)size, t->r.map_size);
	else
		tool_error(name, "cannot check the region's size: %s", strerror(-rc));
	return EXIT_FAILED;
}

int parse_u64(const char *s, uint64_t *out)
{
	if (*s < '0' || *s > '9')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	*out = v;
	return 0;
}

int parse_interval(const char *s, uint64_t *ns)
{
	const uint64_t day = 86400ull * 1000000000ull;
	uint64_t v;
	if (duration_parse(s, &v) < 0) {
		char *end;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		double sec = strtod(s, &end);
		if (*end != '\0' || !isfinite(sec) || sec > 86400.0)
			return -EINVAL;
		v = (uint64_t)llround(sec * 1e9);
	}
	if (v == 0 || v > day)
		return -EINVAL;
	*ns = v;
	return 0;
}

char *key_escape(const unsigned char *key, size_t len, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 <= size; i++) {
		unsigned char c = key[i];
		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	if (size > 0)
		out[o < size ? o : size - 1] = '\0';
	return out;
}

static int hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int key_unescape(const char *s, unsigned char *out, size_t size, size_t *len)
{
	size_t n = 0;
	while (*s != '\0') {
		if (n == size)
			return -EMSGSIZE;
		if (s[0] == '\\' && s[1] == 'x' && hex(s[2]) >= 0 && hex(s[3]) >= 0) {
			out[n++] = (unsigned char)(hex(s[2]) << 4 | hex(s[3]));
			s += 4;
		} else {
			out[n++] = (unsigned char)*s++;
		}
	}
	*len = n;
	return 0;
}

size_t key_unescaped_len(const char *s)
{
	size_t n = 0;
	for (; *s != '\0'; n++)
		s += s[0] == '\\' && s[1] == 'x' && hex(s[2]) >= 0 && hex(s[3]) >= 0 ? 4 : 1;
	return n;
}

int tool_each_throttle(int (*fn)(const char *name, void *ctx), void *ctx)
{
	struct throttle_names t;
	int rc = throttles_list("/dev/shm", &t);
	if (rc < 0) {
		throttles_free(&t);
		tool_error(NULL, "cannot read /dev/shm: %s", strerror(-rc));
		return EXIT_FAILED;
	}
	int ex = EXIT_OK;
	for (size_t i = 0; i < t.n; i++)
		if (fn(t.names[i], ctx) != EXIT_OK)
			ex = EXIT_FAILED;
	throttles_free(&t);
	return ex;
}

char *duration_human(uint64_t ns, char *buf, size_t size)
{
	/* Rounded to the second from a minute on, to the ms from a ms on, ... */
	uint64_t unit = ns >= 60000000000ull ? 1000000000ull
	                : ns >= 1000000ull   ? 1000000ull
	                : ns >= 1000ull      ? 1000ull
	                                     : 1ull;
	uint64_t r = ns / unit * unit;
	if (ns - r >= unit / 2 && r <= UINT64_MAX - unit)
		r += unit;
	return duration_format(r, buf, size);
}

bool pid_alive(int64_t pid)
{
	if (pid <= 0 || pid > INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}
