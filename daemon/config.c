/* Reading evthrottled's configuration with libconfig.  Every value comes from
 * libconfig's parsed settings, checked for type and range; nothing re-reads the
 * text to guess literals.  Every error of a file is reported, each naming the
 * file and line, the value and the limit; unknown settings are errors.
 *
 * libconfig 1.5 (Debian 12) reads an integer literal without the L suffix as a
 * 32-bit int and wraps one that does not fit (4294967297 reads as 1): no
 * setting here needs more than 31 bits, and evthrottled(8) says so. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "global.h"
#include "region.h"
#include "runlock.h"

struct ctx {
	const char *file;
	char *msg;
	size_t len, used;
	unsigned errors;
};

/* Add one line to the messages; a full buffer keeps what fits. */
__attribute__((format(printf, 2, 3))) static void append(struct ctx *x, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(x->msg + x->used, x->len - x->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		x->used += (size_t)n < x->len - x->used ? (size_t)n : x->len - x->used - 1;
}

static void say(struct ctx *x, const config_setting_t *s, const char *kind, const char *fmt,
                va_list ap)
{
	unsigned line = s != NULL ? config_setting_source_line(s) : 0;
	char text[512];
	vsnprintf(text, sizeof text, fmt, ap);
	if (line > 0)
		append(x, "%s:%u: %s%s\n", x->file, line, kind, text);
	else
		append(x, "%s: %s%s\n", x->file, kind, text);
}

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *x, const config_setting_t *s,
                                                      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(x, s, "", fmt, ap);
	va_end(ap);
	x->errors++;
	return -EINVAL;
}

__attribute__((format(printf, 3, 4))) static void warn(struct ctx *x, const config_setting_t *s,
                                                       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(x, s, "warning: ", fmt, ap);
	va_end(ap);
}

static int check_members(struct ctx *x, const config_setting_t *g, const char *where,
                         const char *const *known)
{
	if (!config_setting_is_group(g))
		return fail(x, g, "%s must be a group { ... }", where);
	int rc = 0;
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		size_t k = 0;
		while (known[k] != NULL && strcmp(known[k], name) != 0)
			k++;
		if (known[k] == NULL)
			rc = fail(x, m, "unknown setting '%s' in %s", name, where);
	}
	return rc;
}

static int get_string(struct ctx *x, const config_setting_t *g, const char *name, char *out,
                      size_t size)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0; /* keep the default */
	const char *v = config_setting_get_string(s);
	if (v == NULL)
		return fail(x, s, "%s must be a string", name);
	if (strlen(v) >= size)
		return fail(x, s, "%s is %zu bytes long, at most %zu", name, strlen(v), size - 1);
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int get_bool(struct ctx *x, const config_setting_t *g, const char *name, bool *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return fail(x, s, "%s must be true or false", name);
	*out = config_setting_get_bool(s);
	return 0;
}

static int get_int(struct ctx *x, const config_setting_t *g, const char *name, long long min,
                   long long max, long long *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0;
	int type = config_setting_type(s);
	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return fail(x, s, "%s must be an integer", name);
	long long v = config_setting_get_int64(s);
	if (v < min || v > max)
		return fail(x, s, "%s = %lld is out of range [%lld, %lld]", name, v, min, max);
	*out = v;
	return 0;
}

/* A duration of at least min_ns (0: zero allowed). */
static int get_duration(struct ctx *x, const config_setting_t *g, const char *name,
                        uint64_t min_ns, uint64_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0;
	const char *v = config_setting_get_string(s);
	if (v == NULL)
		return fail(x, s, "%s must be a string with a unit, e.g. \"10s\" (units ns us ms s m h)",
		            name);
	uint64_t ns;
	int rc = duration_parse(v, &ns);
	if (rc == -ERANGE)
		return fail(x, s, "%s \"%s\" is too long a duration (at most 2^64-1 ns)", name, v);
	if (rc < 0)
		return fail(x, s, "%s \"%s\" is not a duration (e.g. \"250ms\", \"10s\"; units ns us ms s m h)",
		            name, v);
	char lim[64];
	if (ns < min_ns && min_ns == 1)
		return fail(x, s, "%s \"%s\" must be greater than 0", name, v);
	if (ns < min_ns)
		return fail(x, s, "%s \"%s\" is below the minimum %s", name, v,
		            duration_format(min_ns, lim, sizeof lim));
	*out = ns;
	return 0;
}

/* A path setting, made absolute against the configuration file's directory. */
static int get_path(struct ctx *x, const config_setting_t *g, const char *name, const char *dir,
                    char *out, size_t size)
{
	char v[PATH_MAX];
	snprintf(v, sizeof v, "%s", out);
	if (get_string(x, g, name, v, sizeof v) < 0)
		return -EINVAL;
	if (config_resolve_path(v, dir, out, size) < 0)
		return fail(x, config_setting_get_member(g, name),
		            "%s \"%s\" relative to %s is longer than %zu bytes", name, v, dir, size - 1);
	return 0;
}

static void read_log(struct ctx *x, const config_setting_t *g, const char *dir,
                     struct log_config *log)
{
	static const char *const known[] = { "level", "console", "file", "directory", NULL };
	if (check_members(x, g, "log", known) < 0 && !config_setting_is_group(g))
		return;
	char level[16] = "";
	get_bool(x, g, "console", &log->console);
	get_bool(x, g, "file", &log->file);
	get_path(x, g, "directory", dir, log->directory, sizeof log->directory);
	if (get_string(x, g, "level", level, sizeof level) == 0 && level[0] != '\0' &&
	    log_level_parse(level, &log->level) < 0)
		fail(x, config_setting_get_member(g, "level"),
		     "log level \"%s\" is not one of debug, info, warning, error", level);
}

static void read_daemon(struct ctx *x, const config_setting_t *g, const char *dir,
                        struct daemon_config *c)
{
	static const char *const known[] = { "pidfile", "run_dir", "user", "group", "housekeeping",
		                             "summary", "sweep_occupancy", "warn_occupancy", NULL };
	if (check_members(x, g, "daemon", known) < 0 && !config_setting_is_group(g))
		return;
	long long sweep = c->sweep_occupancy, warn_at = c->warn_occupancy;
	get_path(x, g, "pidfile", dir, c->pidfile, sizeof c->pidfile);
	get_path(x, g, "run_dir", dir, c->run_dir, sizeof c->run_dir);
	get_string(x, g, "user", c->user, sizeof c->user);
	get_string(x, g, "group", c->group, sizeof c->group);
	get_duration(x, g, "housekeeping", CONFIG_HOUSEKEEPING_MIN_NS, &c->housekeeping_ns);
	get_duration(x, g, "summary", 0, &c->summary_ns);
	get_int(x, g, "sweep_occupancy", 0, 100, &sweep);
	get_int(x, g, "warn_occupancy", 1, 100, &warn_at);
	c->sweep_occupancy = (unsigned)sweep;
	c->warn_occupancy = (unsigned)warn_at;
}

/* on_full or on_stale: one of throttle, process, error (enum evt_on_full and enum
 * evt_on_stale number them alike). */
static void read_policy(struct ctx *x, const config_setting_t *g, const char *name, uint32_t *out)
{
	static const char *const names[] = { "throttle", "process", "error" };
	char v[16] = "";
	if (get_string(x, g, name, v, sizeof v) < 0 || v[0] == '\0')
		return;
	for (uint32_t i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return;
		}
	fail(x, config_setting_get_member(g, name), "%s \"%s\" is not one of throttle, process, error",
	     name, v);
}

/* Permission bits only: setuid, setgid and sticky mean nothing on a shm object
 * and are refused; a world-writable mode is allowed with a warning. */
static void read_mode(struct ctx *x, const config_setting_t *g, const char *throttle,
                      uint32_t *mode)
{
	const config_setting_t *s = config_setting_get_member(g, "mode");
	char v[16] = "";
	if (get_string(x, g, "mode", v, sizeof v) < 0 || v[0] == '\0')
		return;
	char *end;
	unsigned long m = strtoul(v, &end, 8);
	if (*end != '\0' || v[0] == '-' || v[0] == '+' || v[0] == ' ' || m > 07777) {
		fail(x, s, "mode \"%s\" is not an octal permission like \"0660\"", v);
	} else if (m & 07000) {
		fail(x, s, "mode \"%s\" has setuid, setgid or sticky bits (%04lo): only permission "
		     "bits, at most 0777, are allowed", v, m & 07000);
	} else {
		if (m & 0002)
			warn(x, s, "mode \"%s\" lets every local user write to throttle '%s' "
			     "(reset, fill or clear it)", v, throttle);
		*mode = (uint32_t)m;
	}
}

static void read_name(struct ctx *x, const config_setting_t *g, struct throttle_config *t)
{
	const config_setting_t *s = config_setting_get_member(g, "name");
	char path[EVT_NAME_MAX + 32];
	if (s == NULL)
		fail(x, g, "a throttle needs a name");
	else if (get_string(x, g, "name", t->name, sizeof t->name) == 0 &&
	         region_name_path(t->name, path, sizeof path) < 0)
		fail(x, s, "throttle name \"%s\" must be 1-%d of [A-Za-z0-9_.-], not starting with '.'",
		     t->name, EVT_NAME_MAX);
}

/* on_unreachable: local, throttle or process (enum evt_on_unreachable). */
static void read_unreachable(struct ctx *x, const config_setting_t *g, uint32_t *out)
{
	static const char *const names[] = { "local", "throttle", "process" };
	char v[16] = "";
	if (get_string(x, g, "on_unreachable", v, sizeof v) < 0 || v[0] == '\0')
		return;
	for (uint32_t i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return;
		}
	fail(x, config_setting_get_member(g, "on_unreachable"),
	     "on_unreachable \"%s\" is not one of local, throttle, process", v);
}

/* Say why global_endpoint() refused the endpoint v: its host, or its form. */
static void endpoint_refused(struct ctx *x, const config_setting_t *s, const char *v)
{
	const char *colon = strrchr(v, ':');
	char host[EVT_GLOBAL_ENDPOINT_MAX + 1];
	if (strncmp(v, "unix:", 5) != 0 && colon != NULL && colon != v) {
		snprintf(host, sizeof host, "%.*s", (int)(colon - v), v);
		if (!endpoint_host_valid(host)) {
			fail(x, s, "redis \"%s\": host \"%s\" is neither a host name nor a numeric "
			     "address", v, host);
			return;
		}
	}
	fail(x, s, "redis \"%s\" is not \"unix:PATH\" or \"HOST:PORT\" with a port of 1-65535", v);
}

static void read_endpoint(struct ctx *x, const config_setting_t *g, struct global_config *gc)
{
	const config_setting_t *s = config_setting_get_member(g, "redis");
	char host[EVT_GLOBAL_ENDPOINT_MAX + 1];
	int port;
	if (s == NULL)
		fail(x, g, "a global throttle needs redis = \"unix:PATH\" or \"HOST:PORT\"");
	else if (get_string(x, g, "redis", gc->redis, sizeof gc->redis) == 0 &&
	         global_endpoint(gc->redis, host, sizeof host, &port) < 0)
		endpoint_refused(x, s, gc->redis);
}

/* The credentials file: it must exist; readable by others, it is said. */
static void read_auth_file(struct ctx *x, const config_setting_t *g, const char *dir,
                           struct global_config *gc)
{
	const config_setting_t *s = config_setting_get_member(g, "auth_file");
	struct stat st;
	if (s == NULL || get_path(x, g, "auth_file", dir, gc->auth_file, sizeof gc->auth_file) < 0)
		return;
	if (stat(gc->auth_file, &st) < 0)
		fail(x, s, "auth_file \"%s\": %s", gc->auth_file, strerror(errno));
	else if (st.st_mode & 0004)
		warn(x, s, "auth_file \"%s\" is readable by every user (mode %04o): its password is not "
		     "secret", gc->auth_file, (unsigned)(st.st_mode & 07777));
}

/* global = { redis, name, timeout, on_unreachable, auth_file } */
static void read_global(struct ctx *x, const config_setting_t *g, const char *dir,
                        struct throttle_config *t)
{
	static const char *const known[] = { "redis", "name", "timeout", "on_unreachable",
		                             "auth_file", NULL };
	struct global_config *gc = &t->global;
	char path[EVT_NAME_MAX + 32];
	if (check_members(x, g, "global", known) < 0 && !config_setting_is_group(g))
		return;
	gc->g = (evt_global){ .redis = gc->redis, .name = gc->name, .timeout_ns = 2000000,
		              .on_unreachable = EVT_ON_UNREACHABLE_LOCAL };
	read_endpoint(x, g, gc);
	if (get_string(x, g, "name", gc->name, sizeof gc->name) == 0 && gc->name[0] != '\0' &&
	    region_name_path(gc->name, path, sizeof path) < 0)
		fail(x, config_setting_get_member(g, "name"),
		     "global name \"%s\" must be 1-%d of [A-Za-z0-9_.-], not starting with '.'",
		     gc->name, EVT_NAME_MAX);
	const config_setting_t *ts = config_setting_get_member(g, "timeout");
	char lim[64];
	if (get_duration(x, g, "timeout", 1, &gc->g.timeout_ns) == 0 &&
	    gc->g.timeout_ns > CONFIG_GLOBAL_TIMEOUT_MAX_NS)
		fail(x, ts, "timeout \"%s\" is above the maximum %s: a decision would wait that long",
		     config_setting_get_string(ts),
		     duration_format(CONFIG_GLOBAL_TIMEOUT_MAX_NS, lim, sizeof lim));
	read_unreachable(x, g, &gc->g.on_unreachable);
	read_auth_file(x, g, dir, gc);
	gc->g.auth_file = gc->auth_file[0] != '\0' ? gc->auth_file : NULL;
	t->opts.global = &gc->g;
}

static void read_throttle(struct ctx *x, const config_setting_t *g, const char *dir,
                          struct throttle_config *t)
{
	static const char *const known[] = { "name", "window", "capacity", "key_max", "clients",
		                             "mode", "group", "on_full", "on_stale", "client_idle",
		                             "limit", "shadow", "huge_pages", "global", NULL };
	long long cap = t->opts.capacity, key_max = t->opts.key_max, clients = t->opts.client_max;
	long long limit = t->opts.limit;
	bool shadow = t->opts.shadow != 0, huge = t->opts.huge_pages != 0;
	t->line = (int)config_setting_source_line(g);
	if (check_members(x, g, "a throttle", known) < 0 && !config_setting_is_group(g))
		return;
	read_name(x, g, t);
	get_duration(x, g, "window", 1, &t->opts.window_ns);
	get_int(x, g, "capacity", REGION_CAP_MIN, REGION_CAP_MAX, &cap);
	get_int(x, g, "key_max", 1, REGION_KEY_MAX, &key_max);
	get_int(x, g, "clients", 1, REGION_CLIENT_MAX, &clients);
	get_int(x, g, "limit", 1, EVT_LIMIT_MAX, &limit);
	get_bool(x, g, "shadow", &shadow);
	read_mode(x, g, t->name, &t->opts.mode);
	read_policy(x, g, "on_full", &t->opts.on_full);
	read_policy(x, g, "on_stale", &t->opts.on_stale);
	get_duration(x, g, "client_idle", 1, &t->opts.client_idle_ns);
	get_bool(x, g, "huge_pages", &huge);
	if (get_string(x, g, "group", t->group, sizeof t->group) == 0 && t->group[0] != '\0' &&
	    getgrnam(t->group) == NULL)
		fail(x, config_setting_get_member(g, "group"), "no such group \"%s\"", t->group);
	const config_setting_t *gs = config_setting_get_member(g, "global");
	if (gs != NULL)
		read_global(x, gs, dir, t);
	if (gs != NULL && limit > 1)
		fail(x, config_setting_get_member(g, "limit"),
		     "limit = %lld with global: a global throttle has limit 1 (Redis applies the "
		     "first-event rule)", limit);
	t->opts.capacity = (uint32_t)cap;
	t->opts.key_max = (uint32_t)key_max;
	t->opts.client_max = (uint32_t)clients;
	t->opts.limit = (uint32_t)limit;
	t->opts.shadow = shadow;
	t->opts.huge_pages = huge;
}

static void check_unique(struct ctx *x, const config_setting_t *g, const struct daemon_config *c,
                         size_t i)
{
	const struct throttle_config *t = &c->throttles[i];
	for (size_t j = 0; j < i && t->name[0] != '\0'; j++)
		if (strcmp(c->throttles[j].name, t->name) == 0) {
			fail(x, g, "throttle \"%s\" is defined twice (first at line %d)", t->name,
			     c->throttles[j].line);
			return;
		}
}

static int read_throttles(struct ctx *x, const config_setting_t *list, const char *dir,
                          struct daemon_config *c)
{
	if (!config_setting_is_list(list) && !config_setting_is_array(list))
		return fail(x, list, "throttles must be a list ( { name = ...; }, ... )");
	int n = config_setting_length(list);
	if (n == 0)
		return fail(x, list, "throttles is empty: nothing to manage");
	c->throttles = calloc((size_t)n, sizeof *c->throttles);
	if (c->throttles == NULL)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		c->throttles[i] = (struct throttle_config){ .opts = EVT_OPTIONS_INIT };
		read_throttle(x, g, dir, &c->throttles[i]);
		check_unique(x, g, c, (size_t)i);
	}
	c->n = (size_t)n;
	return 0;
}

static int read_root(struct ctx *x, config_t *cf, const char *dir, struct daemon_config *c)
{
	static const char *const known[] = { "log", "daemon", "throttles", NULL };
	const config_setting_t *root = config_root_setting(cf), *s;
	check_members(x, root, "the file", known);
	if ((s = config_setting_get_member(root, "log")) != NULL)
		read_log(x, s, dir, &c->log);
	if ((s = config_setting_get_member(root, "daemon")) != NULL)
		read_daemon(x, s, dir, c);
	if ((s = config_setting_get_member(root, "throttles")) == NULL)
		return fail(x, NULL, "no throttles = ( ... ) list");
	return read_throttles(x, s, dir, c);
}

/* libconfig 1.5 exit()s from its scanner when an @include names a directory
 * (libconfig#292), which would kill a running daemon on reload: refuse the
 * directive before libconfig sees the file.  It looks for the directive only,
 * never at values. */
static void refuse_includes(struct ctx *x, FILE *f)
{
	char *buf = NULL;
	size_t cap = 0;
	for (unsigned n = 1; getline(&buf, &cap, f) > 0; n++)
		if (strncmp(buf + strspn(buf, " \t"), "@include", 8) == 0) {
			append(x, "%s:%u: @include is not supported: keep the configuration in one "
			       "file\n", x->file, n);
			x->errors++;
		}
	free(buf);
	rewind(f);
}

int config_resolve_path(const char *p, const char *base, char *out, size_t size)
{
	int n = p[0] == '/' || p[0] == '\0' ? snprintf(out, size, "%s", p)
	                                    : snprintf(out, size, "%s/%s", base, p);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* The absolute path of the file and its directory. */
static int locate(const char *path, struct daemon_config *c, char *dir, size_t size)
{
	if (realpath(path, c->path) == NULL)
		return -errno;
	snprintf(dir, size, "%s", c->path);
	char *slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	return 0;
}

static int parse(struct ctx *x, FILE *f, const char *dir, struct daemon_config *c)
{
	config_t cf;
	config_init(&cf);
	int rc = 0;
	if (!config_read(&cf, f)) {
		append(x, "%s:%d: %s\n", x->file, config_error_line(&cf), config_error_text(&cf));
		x->errors++;
	} else {
		rc = read_root(x, &cf, dir, c);
	}
	config_destroy(&cf);
	return rc;
}

int config_load(const char *path, struct daemon_config *out, char *msg, size_t msglen)
{
	struct ctx x = { path, msg, msglen, 0, 0 };
	struct daemon_config *c = out;
	*c = (struct daemon_config){
		.log = LOG_CONFIG_INIT,
		.housekeeping_ns = 1000000000ull,
		.summary_ns = 60000000000ull,
		.sweep_occupancy = 50,
		.warn_occupancy = 75,
		.run_dir = RUNLOCK_DIR_DEFAULT,
	};
	msg[0] = '\0';
	char dir[PATH_MAX];
	FILE *f = NULL;
	int rc = locate(path, c, dir, sizeof dir);
	if (rc == 0 && (f = fopen(c->path, "re")) == NULL)
		rc = -errno;
	if (rc < 0) {
		snprintf(msg, msglen, "%s: cannot read: %s\n", path, strerror(-rc));
		return rc;
	}
	config_resolve_path("logs", dir, c->log.directory, sizeof c->log.directory);
	refuse_includes(&x, f);
	if (x.errors == 0)
		rc = parse(&x, f, dir, c);
	fclose(f);
	if (rc == 0 && x.errors > 0)
		rc = -EINVAL;
	if (rc < 0)
		config_free(c);
	return rc;
}

void config_free(struct daemon_config *c)
{
	free(c->throttles);
	c->throttles = NULL;
	c->n = 0;
}

static void describe_global(const struct throttle_config *t, FILE *out)
{
	const evt_global *g = t->opts.global;
	char w[64];
	if (g != NULL)
		fprintf(out, "  global %s through redis %s timeout %s on_unreachable %s%s%s\n",
		        g->name[0] ? g->name : t->name, g->redis,
		        duration_format(g->timeout_ns, w, sizeof w), global_policy_name(g->on_unreachable),
		        g->auth_file ? " auth_file " : "", g->auth_file ? g->auth_file : "");
}

void config_describe(const struct daemon_config *c, FILE *out)
{
	static const char *const policy[] = { "throttle", "process", "error" };
	char w[64], idle[64];
	for (size_t i = 0; i < c->n; i++) {
		const struct throttle_config *t = &c->throttles[i];
		struct region_geom g;
		region_geometry(&t->opts, &g);
		fprintf(out,
		        "throttle %s: /dev/shm/evthrottle.%s window %s capacity %u (%u slots) key_max %u "
		        "clients %u mode %04o%s%s on_full %s on_stale %s client_idle %s limit %u%s%s, "
		        "%.1f MiB\n",
		        t->name, t->name, duration_format(t->opts.window_ns, w, sizeof w), t->opts.capacity,
		        g.capacity, t->opts.key_max, t->opts.client_max, t->opts.mode,
		        t->group[0] ? " group " : "", t->group, policy[t->opts.on_full],
		        policy[t->opts.on_stale], duration_format(t->opts.client_idle_ns, idle, sizeof idle),
		        t->opts.limit, t->opts.shadow ? " shadow" : "", t->opts.huge_pages ? " huge_pages" : "",
		        (double)g.total_size / (1 << 20));
		describe_global(t, out);
	}
}

const struct throttle_config *config_find(const struct daemon_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->throttles[i].name, name) == 0)
			return &c->throttles[i];
	return NULL;
}
