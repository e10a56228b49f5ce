/* Reading evthrottled's configuration with libconfig.  Every error names the file
 * and line; integers are read as 64-bit and range-checked (libconfig would wrap a
 * large literal given as a 32-bit int); unknown settings are errors, not ignored. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "region.h"
#include "runlock.h"

struct ctx {
	const char *file;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *x, const config_setting_t *s,
                                                      const char *fmt, ...)
{
	int n = snprintf(x->err, x->errlen, "%s:%d: ", x->file,
	                 s != NULL ? (int)config_setting_source_line(s) : 0);
	if (n < 0 || (size_t)n >= x->errlen)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int check_members(struct ctx *x, const config_setting_t *g, const char *where,
                         const char *const *known)
{
	if (!config_setting_is_group(g))
		return fail(x, g, "%s must be a group { ... }", where);
	for (int i = 0; i < config_setting_length(g); i++) {
		const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(m);
		size_t k = 0;
		while (known[k] != NULL && strcmp(known[k], name) != 0)
			k++;
		if (known[k] == NULL)
			return fail(x, m, "unknown setting '%s' in %s", name, where);
	}
	return 0;
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
		return fail(x, s, "%s is too long (at most %zu bytes)", name, size - 1);
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

/* libconfig 1.5 silently wraps an integer literal above 32 bits that lacks the L
 * suffix (4294967297 reads as 1), so re-read the literal from the source line.
 * Returns 0 with *v, or -ERANGE when it does not fit 64 bits, or -ENOENT when the
 * literal is not on that line as "name = value" (then libconfig's value stands). */
static int source_literal(const char *file, int line, const char *name, long long *v)
{
	FILE *f = fopen(file, "re");
	if (f == NULL)
		return -ENOENT;
	char *buf = NULL;
	size_t cap = 0;
	int rc = -ENOENT;
	for (int n = 1; getline(&buf, &cap, f) > 0; n++) {
		if (n != line)
			continue;
		char *p = strstr(buf, name);
		size_t len = strlen(name);
		while (p != NULL && ((p > buf && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) ||
		                     (isalnum((unsigned char)p[len]) || p[len] == '_')))
			p = strstr(p + 1, name);
		if (p == NULL)
			break;
		p += len;
		p += strspn(p, " \t");
		if (*p != '=' && *p != ':')
			break;
		p++;
		errno = 0;
		p += strspn(p, " \t");
		bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
		*v = strtoll(p, NULL, hex ? 16 : 10);
		rc = errno == ERANGE ? -ERANGE : 0;
		break;
	}
	free(buf);
	fclose(f);
	return rc;
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
	long long v = config_setting_get_int64(s), literal;
	int src = source_literal(x->file, (int)config_setting_source_line(s), name, &literal);
	if (src == -ERANGE)
		return fail(x, s, "%s does not fit a 64-bit integer", name);
	if (src == 0)
		v = literal;
	if (v < min || v > max)
		return fail(x, s, "%s = %lld is out of range [%lld, %lld]", name, v, min, max);
	*out = v;
	return 0;
}

static int get_duration(struct ctx *x, const config_setting_t *g, const char *name,
                        bool zero_ok, uint64_t *out)
{
	const config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL)
		return 0;
	const char *v = config_setting_get_string(s);
	if (v == NULL)
		return fail(x, s, "%s must be a string with a unit, e.g. \"10s\" (units ns us ms s m h)",
		            name);
	int rc = duration_parse(v, out);
	if (rc == -ERANGE)
		return fail(x, s, "%s \"%s\" is too long a duration", name, v);
	if (rc < 0)
		return fail(x, s, "%s \"%s\" is not a duration (e.g. \"250ms\", \"10s\"; units ns us ms s m h)",
		            name, v);
	if (*out == 0 && !zero_ok)
		return fail(x, s, "%s must be greater than 0", name);
	return 0;
}

static int read_log(struct ctx *x, const config_setting_t *g, struct log_config *log)
{
	static const char *const known[] = { "level", "console", "file", "directory", NULL };
	char level[16] = "";
	if (check_members(x, g, "log", known) < 0 || get_string(x, g, "level", level, sizeof level) < 0 ||
	    get_bool(x, g, "console", &log->console) < 0 || get_bool(x, g, "file", &log->file) < 0 ||
	    get_string(x, g, "directory", log->directory, sizeof log->directory) < 0)
		return -1;
	if (level[0] != '\0' && log_level_parse(level, &log->level) < 0)
		return fail(x, config_setting_get_member(g, "level"),
		            "log level \"%s\" is not one of debug, info, warning, error", level);
	return 0;
}

static int read_daemon(struct ctx *x, const config_setting_t *g, struct daemon_config *c)
{
	static const char *const known[] = { "pidfile", "run_dir", "user", "group", "housekeeping",
		                             "summary", "sweep_occupancy", "warn_occupancy", NULL };
	long long sweep = c->sweep_occupancy, warn = c->warn_occupancy;
	if (check_members(x, g, "daemon", known) < 0 ||
	    get_string(x, g, "pidfile", c->pidfile, sizeof c->pidfile) < 0 ||
	    get_string(x, g, "run_dir", c->run_dir, sizeof c->run_dir) < 0 ||
	    get_string(x, g, "user", c->user, sizeof c->user) < 0 ||
	    get_string(x, g, "group", c->group, sizeof c->group) < 0 ||
	    get_duration(x, g, "housekeeping", false, &c->housekeeping_ns) < 0 ||
	    get_duration(x, g, "summary", true, &c->summary_ns) < 0 ||
	    get_int(x, g, "sweep_occupancy", 0, 100, &sweep) < 0 ||
	    get_int(x, g, "warn_occupancy", 1, 100, &warn) < 0)
		return -1;
	c->sweep_occupancy = (unsigned)sweep;
	c->warn_occupancy = (unsigned)warn;
	return 0;
}

/* on_full or on_stale: one of throttle, process, error (enum evt_on_full and enum
 * evt_on_stale number them alike). */
static int read_policy(struct ctx *x, const config_setting_t *g, const char *name, uint32_t *out)
{
	static const char *const names[] = { "throttle", "process", "error" };
	char v[16] = "";
	if (get_string(x, g, name, v, sizeof v) < 0)
		return -1;
	if (v[0] == '\0')
		return 0;
	for (uint32_t i = 0; i < 3; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return fail(x, config_setting_get_member(g, name), "%s \"%s\" is not one of throttle, process, error",
	            name, v);
}

static int read_mode(struct ctx *x, const config_setting_t *g, uint32_t *mode)
{
	char v[16] = "";
	if (get_string(x, g, "mode", v, sizeof v) < 0)
		return -1;
	if (v[0] == '\0')
		return 0;
	char *end;
	unsigned long m = strtoul(v, &end, 8);
	if (*end != '\0' || v[0] == '-' || m > 07777)
		return fail(x, config_setting_get_member(g, "mode"),
		            "mode \"%s\" is not an octal permission like \"0660\"", v);
	*mode = (uint32_t)m;
	return 0;
}

static int read_throttle(struct ctx *x, const config_setting_t *g, struct throttle_config *t)
{
	static const char *const known[] = { "name", "window", "capacity", "key_max", "clients",
		                             "mode", "group", "on_full", "on_stale", "client_idle", NULL };
	long long cap = t->opts.capacity, key_max = t->opts.key_max, clients = t->opts.client_max;
	char path[EVT_NAME_MAX + 32];
	t->line = (int)config_setting_source_line(g);
	if (check_members(x, g, "a throttle", known) < 0 ||
	    get_string(x, g, "name", t->name, sizeof t->name) < 0 ||
	    get_duration(x, g, "window", false, &t->opts.window_ns) < 0 ||
	    get_int(x, g, "capacity", REGION_CAP_MIN, REGION_CAP_MAX, &cap) < 0 ||
	    get_int(x, g, "key_max", 1, REGION_KEY_MAX, &key_max) < 0 ||
	    get_int(x, g, "clients", 1, REGION_CLIENT_MAX, &clients) < 0 ||
	    read_mode(x, g, &t->opts.mode) < 0 || get_string(x, g, "group", t->group, sizeof t->group) < 0 ||
	    read_policy(x, g, "on_full", &t->opts.on_full) < 0 ||
	    read_policy(x, g, "on_stale", &t->opts.on_stale) < 0 ||
	    get_duration(x, g, "client_idle", false, &t->opts.client_idle_ns) < 0)
		return -1;
	if (config_setting_get_member(g, "name") == NULL)
		return fail(x, g, "a throttle needs a name");
	if (region_name_path(t->name, path, sizeof path) < 0)
		return fail(x, config_setting_get_member(g, "name"),
		            "throttle name \"%s\" must be 1-%d of [A-Za-z0-9_.-], not starting with '.'",
		            t->name, EVT_NAME_MAX);
	if (t->group[0] != '\0' && getgrnam(t->group) == NULL)
		return fail(x, config_setting_get_member(g, "group"), "no such group \"%s\"", t->group);
	t->opts.capacity = (uint32_t)cap;
	t->opts.key_max = (uint32_t)key_max;
	t->opts.client_max = (uint32_t)clients;
	return 0;
}

static int read_throttles(struct ctx *x, const config_setting_t *list, struct daemon_config *c)
{
	if (!config_setting_is_list(list) && !config_setting_is_array(list))
		return fail(x, list, "throttles must be a list ( { name = ...; }, ... )");
	int n = config_setting_length(list);
	if (n == 0)
		return fail(x, list, "throttles is empty: nothing to manage");
	if (n > CONFIG_THROTTLES_MAX)
		return fail(x, list, "at most %d throttles", CONFIG_THROTTLES_MAX);
	for (int i = 0; i < n; i++) {
		const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
		struct throttle_config *t = &c->throttles[i];
		*t = (struct throttle_config){ .opts = EVT_OPTIONS_INIT };
		if (read_throttle(x, g, t) < 0)
			return -1;
		for (int j = 0; j < i; j++)
			if (strcmp(c->throttles[j].name, t->name) == 0)
				return fail(x, g, "throttle \"%s\" is defined twice (first at line %d)",
				            t->name, c->throttles[j].line);
		c->n = (size_t)i + 1;
	}
	return 0;
}

static int read_root(struct ctx *x, config_t *cf, struct daemon_config *c)
{
	static const char *const known[] = { "log", "daemon", "throttles", NULL };
	const config_setting_t *root = config_root_setting(cf), *s;
	if (check_members(x, root, "the file", known) < 0)
		return -1;
	if ((s = config_setting_get_member(root, "log")) != NULL && read_log(x, s, &c->log) < 0)
		return -1;
	if ((s = config_setting_get_member(root, "daemon")) != NULL && read_daemon(x, s, c) < 0)
		return -1;
	if ((s = config_setting_get_member(root, "throttles")) == NULL) {
		snprintf(x->err, x->errlen, "%s: no throttles = ( ... ) list", x->file);
		return -1;
	}
	return read_throttles(x, s, c);
}

/* libconfig 1.5 exit()s from its scanner when an @include names a directory
 * (libconfig#292), which would kill a running daemon on reload: refuse @include
 * before libconfig sees the file.  0, or -1 with err. */
static int refuse_includes(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return 0; /* config_read_file() reports it */
	char *buf = NULL;
	size_t cap = 0;
	int rc = 0;
	for (int n = 1; rc == 0 && getline(&buf, &cap, f) > 0; n++)
		if (strncmp(buf + strspn(buf, " \t"), "@include", 8) == 0) {
			snprintf(err, errlen, "%s:%d: @include is not supported: keep the "
			         "configuration in one file", path, n);
			rc = -1;
		}
	free(buf);
	fclose(f);
	return rc;
}

int config_load(const char *path, struct daemon_config *out, char *err, size_t errlen)
{
	struct ctx x = { path, err, errlen };
	struct daemon_config *c = out;
	*c = (struct daemon_config){
		.log = LOG_CONFIG_INIT,
		.housekeeping_ns = 1000000000ull,
		.summary_ns = 60000000000ull,
		.sweep_occupancy = 50,
		.warn_occupancy = 75,
		.run_dir = RUNLOCK_DIR_DEFAULT,
	};
	snprintf(c->path, sizeof c->path, "%s", path);
	if (refuse_includes(path, err, errlen) < 0)
		return -1;
	config_t cf;
	config_init(&cf);
	int rc = 0;
	if (!config_read_file(&cf, path)) {
		if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		else
			snprintf(err, errlen, "%s:%d: %s", path, config_error_line(&cf),
			         config_error_text(&cf));
		rc = -1;
	} else {
		rc = read_root(&x, &cf, c);
	}
	config_destroy(&cf);
	return rc;
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
		        "clients %u mode %04o%s%s on_full %s on_stale %s client_idle %s, %.1f MiB\n",
		        t->name, t->name, duration_format(t->opts.window_ns, w, sizeof w), t->opts.capacity,
		        g.capacity, t->opts.key_max, t->opts.client_max, t->opts.mode,
		        t->group[0] ? " group " : "", t->group, policy[t->opts.on_full],
		        policy[t->opts.on_stale], duration_format(t->opts.client_idle_ns, idle, sizeof idle),
		        (double)g.total_size / (1 << 20));
	}
}

const struct throttle_config *config_find(const struct daemon_config *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->throttles[i].name, name) == 0)
			return &c->throttles[i];
	return NULL;
}
