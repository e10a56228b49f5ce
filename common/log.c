#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "files.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_config cfg = LOG_CONFIG_INIT;
static FILE *file;
static char prog[64] = "evthrottle";

static const char *const names[] = { "debug", "info", "warning", "error" };

int log_level_parse(const char *s, enum log_level *out)
{
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	if (strcmp(s, "warn") == 0) {
		*out = LOG_WARNING;
		return 0;
	}
	return -EINVAL;
}

const char *log_level_name(enum log_level l)
{
	return l <= LOG_ERROR ? names[l] : "?";
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
		return -ENAMETOOLONG;
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

static int open_file(const struct log_config *c, const char *program, FILE **out)
{
	char path[PATH_MAX + 80];
	int rc = make_dirs(c->directory);
	if (rc < 0)
		return rc;
	snprintf(path, sizeof path, "%s/%s.log", c->directory, program);
	int fd = file_open_private(path, O_APPEND, 0640);
	if (fd < 0)
		return fd;
	*out = fdopen(fd, "ae");
	if (*out == NULL) {
		rc = -errno;
		close(fd);
		return rc;
	}
	setvbuf(*out, NULL, _IOLBF, 0);
	return 0;
}

int log_configure(const struct log_config *c, const char *program)
{
	FILE *f = NULL;
	if (c->file) {
		int rc = open_file(c, program, &f);
		if (rc < 0)
			return rc;
	}
	pthread_mutex_lock(&lock);
	if (file != NULL)
		fclose(file);
	file = f;
	cfg = *c;
	snprintf(prog, sizeof prog, "%s", program);
	pthread_mutex_unlock(&lock);
	return 0;
}

int log_give(uid_t uid, gid_t gid)
{
	pthread_mutex_lock(&lock);
	int rc = file != NULL && fchown(fileno(file), uid, gid) < 0 ? -errno : 0;
	pthread_mutex_unlock(&lock);
	return rc;
}

void log_close(void)
{
	pthread_mutex_lock(&lock);
	if (file != NULL)
		fclose(file);
	file = NULL;
	cfg.file = false;
	pthread_mutex_unlock(&lock);
}

void log_msg(enum log_level l, const char *fmt, ...)
{
	pthread_mutex_lock(&lock);
	if (l < cfg.level) {
		pthread_mutex_unlock(&lock);
		return;
	}
	char stamp[40];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(stamp + n, sizeof stamp - n, ".%03ld", ts.tv_nsec / 1000000);
	FILE *outs[2] = { cfg.console ? stderr : NULL, cfg.file ? file : NULL };
	for (int i = 0; i < 2; i++) {
		if (outs[i] == NULL)
			continue;
		va_list ap;
		va_start(ap, fmt);
		fprintf(outs[i], "%s %s %s: ", stamp, prog, names[l]);
		vfprintf(outs[i], fmt, ap);
		fputc('\n', outs[i]);
		va_end(ap);
	}
	pthread_mutex_unlock(&lock);
}
