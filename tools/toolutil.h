/* What evthrottlectl and evthrottle-inspect share: errors, attaching, numbers,
 * escaped keys and the logging options. */
#ifndef EVT_TOOLUTIL_H
#define EVT_TOOLUTIL_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evthrottle.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

/* Values of the long options both tools take; a tool's own start at OPT_TOOL_FIRST. */
enum { OPT_LOG_LEVEL = 0x100, OPT_LOG_DIR, OPT_VERSION, OPT_TOOL_FIRST };
#define TOOL_COMMON_OPTIONS                                                           \
	{ "help", no_argument, NULL, 'h' }, { "version", no_argument, NULL, OPT_VERSION }, \
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },                         \
	{ "log-dir", required_argument, NULL, OPT_LOG_DIR }

/* The program's name in messages and its log file; call first. */
void tool_init(const char *prog);

/* "prog: throttle 'NAME': message" on stderr (and in the log file when one is
 * configured); name NULL leaves out the throttle part. */
void tool_error(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "prog: message" and a pointer to --help on stderr; returns EXIT_USAGE. */
int tool_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* getopt_long() (optstring starting with ':') returned '?' or ':'; reports which
 * option was wrong and returns EXIT_USAGE. */
int tool_bad_option(int c, char **argv);

/* Handle -h, --version, --log-level, --log-dir.  Returns 1 if opt was one of them
 * (*exit_code set when the program should stop: help, version, bad value), 0 if
 * not.  help is the usage text. */
int tool_common_option(int opt, const char *arg, const char *help, int *exit_code);

/* Apply the logging options; EXIT_OK or EXIT_FAILED (reported). */
int tool_log_start(void);

/* Flush stdout; a write error turns rc into EXIT_FAILED (reported). */
int tool_flush(int rc);

/* A throttle name evt_attach() accepts; reports a usage error if not. */
bool tool_name_ok(const char *name);

/* Attach to throttle name, reporting a failure with its cause.  EXIT_OK or
 * EXIT_FAILED. */
int tool_attach(const char *name, unsigned flags, evt_throttle **out);

/* Before each use of t's mapping: EXIT_OK, or EXIT_FAILED saying that someone
 * truncated the region's object (reading it would raise SIGBUS). */
int tool_intact(const char *name, const evt_throttle *t);

/* A whole decimal number (no sign, no spaces).  0 or -EINVAL / -ERANGE. */
int parse_u64(const char *s, uint64_t *out);

/* An interval in seconds ("2", "0.5") or a duration ("500ms"), > 0 and at most a
 * day.  0 or -EINVAL. */
int parse_interval(const char *s, uint64_t *ns);

/* Keys as the tools print them: printable ASCII as is, every other byte and the
 * backslash as \xNN.  Returns out (truncated to size). */
char *key_escape(const unsigned char *key, size_t len, char *out, size_t size);
#define KEY_ESCAPED_MAX (4 * 1024 + 1)

/* The reverse, for keys operators type: every \xNN becomes that byte, anything
 * else is taken as is.  0, or -EMSGSIZE if the key does not fit size bytes. */
int key_unescape(const char *s, unsigned char *out, size_t size, size_t *len);

/* How many bytes key_unescape() makes of s (however long). */
size_t key_unescaped_len(const char *s);

/* Call fn(name, ctx) for every throttle of the host (/dev/shm/evthrottle.NAME with
 * a valid NAME, in name order; hidden objects left out).  EXIT_OK, or EXIT_FAILED
 * if /dev/shm cannot be read (reported) or fn said so for one of them. */
int tool_each_throttle(int (*fn)(const char *name, void *ctx), void *ctx);

/* A duration rounded for people ("1s234ms", "2m5s", "306ms"), through
 * duration_format(). */
char *duration_human(uint64_t ns, char *buf, size_t size);

/* Whether a process exists (kill(pid, 0) succeeds or says EPERM). */
bool pid_alive(int64_t pid);

#endif /* EVT_TOOLUTIL_H */
