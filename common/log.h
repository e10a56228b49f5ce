/* Logging for the daemon and the tools: the seed's options (level, console, file,
 * directory), thread-safe, reconfigurable at run time. */
#ifndef EVT_LOG_H
#define EVT_LOG_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };

struct log_config {
	enum log_level level;
	bool console;             /* to stderr */
	bool file;                /* to <directory>/<program>.log */
	char directory[PATH_MAX]; /* created on demand */
};

#define LOG_CONFIG_INIT { LOG_INFO, true, false, "logs" }

/* "debug", "info", "warning" (or "warn"), "error".  0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level l);

/* Apply c (copied).  Opens the file when asked; on failure keeps the previous
 * settings and returns -errno. */
int log_configure(const struct log_config *c, const char *program);
void log_close(void);

/* Give the open log file to uid and gid (a root daemon about to become them, so
 * that a reload can reopen it).  0 (also with no log file) or a negative errno. */
int log_give(uid_t uid, gid_t gid);

void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
