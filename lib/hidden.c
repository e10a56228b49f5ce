/*
 * Hidden objects and the leftovers of creators that died.  The creator's mark is
 * an OFD write lock on byte 0, taken right after the exclusive create and held
 * until the rename: the kernel drops it when the creator dies, as it does a
 * client's (clients.c).  A remover takes an OFD read lock on the same byte first:
 * it gets it only if no creator holds the write lock, and unlinks the object
 * holding it.  A creator that has made the object and not yet locked it then
 * either fails to lock it (the remover holds its lock) or locks it and finds it
 * unlinked (st_nlink 0: the remover is done); either way it gives the name up and
 * makes another.  So an object anyone goes on to build is never removed.
 */
#include "hidden.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "region.h"

#define HIDDEN_PREFIX ".evthrottle."
#define HIDDEN_TAIL 17 /* ".<16 hex>" */

static int lock_first_byte(int fd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	return fcntl(fd, F_OFD_SETLK, &fl);
}

static uint64_t random_tag(void)
{
	uint64_t r = 0;
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
		r = region_unix_now_ns() ^ (uint64_t)getpid() << 40;
	return r;
}

void (*hidden_create_hook)(const char *tmp);

/* Take the creator's lock on the object just made as fd: 1 taken, 0 a remover
 * claimed it first (it holds its lock, or has unlinked the object and let go), or
 * -errno. */
static int claim(int fd)
{
	if (lock_first_byte(fd, F_WRLCK) < 0)
		return errno == EAGAIN || errno == EACCES ? 0 : -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	return st.st_nlink > 0;
}

int hidden_create(const char *path, char *tmp, size_t size)
{
	for (int tries = 0; tries < 8; tries++) {
		snprintf(tmp, size, "/.%s.%016llx", path + 1, (unsigned long long)random_tag());
		int fd = shm_open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return errno != 0 ? -errno : -EIO;
		if (fd < 0)
			continue;
		if (hidden_create_hook != NULL)
			hidden_create_hook(tmp);
		int rc = claim(fd);
		if (rc == 1)
			return fd;
		close(fd); /* claimed: its remover unlinks it, or has */
		if (rc < 0) {
			shm_unlink(tmp);
			return rc;
		}
	}
	return -EEXIST;
}

void hidden_done(int fd)
{
	lock_first_byte(fd, F_UNLCK);
}

static bool hex16(const char *s)
{
	for (int i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[16] == '\0';
}

bool hidden_is(const char *file, const char *name)
{
	size_t n = strlen(file), p = sizeof HIDDEN_PREFIX - 1;
	if (n <= p + HIDDEN_TAIL || strncmp(file, HIDDEN_PREFIX, p) != 0 ||
	    file[n - HIDDEN_TAIL] != '.' || !hex16(file + n - HIDDEN_TAIL + 1))
		return false;
	char own[EVT_NAME_MAX + 1], path[EVT_NAME_MAX + 32];
	size_t len = n - p - HIDDEN_TAIL;
	if (len > EVT_NAME_MAX)
		return false;
	memcpy(own, file + p, len);
	own[len] = '\0';
	return name != NULL ? strcmp(own, name) == 0 : region_name_path(own, path, sizeof path) == 0;
}

/* The hidden object file opened for reading, never blocking or following a link:
 * an fd, or -errno (-EBADMSG: not a regular file). */
static int open_hidden(const char *file)
{
	char path[sizeof SHM_DIR + NAME_MAX + 1];
	snprintf(path, sizeof path, SHM_DIR "/%s", file);
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return fd;
	close(fd);
	return -EBADMSG;
}

int hidden_held(const char *file)
{
	int fd = open_hidden(file);
	if (fd < 0)
		return fd;
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	int rc = fcntl(fd, F_OFD_GETLK, &fl) < 0 ? -errno : fl.l_type != F_UNLCK;
	close(fd);
	return rc;
}

int hidden_remove(const char *file)
{
	int fd = open_hidden(file);
	if (fd < 0)
		return fd;
	int rc = 0;
	if (lock_first_byte(fd, F_RDLCK) == 0) {
		char name[NAME_MAX + 2];
		snprintf(name, sizeof name, "/%s", file);
		rc = shm_unlink(name) == 0 ? 1 : errno == ENOENT ? 0 : -errno;
	} else if (errno != EAGAIN && errno != EACCES) {
		rc = -errno;
	}
	close(fd);
	return rc;
}

int hidden_each(const char *name, int (*fn)(const char *file, void *arg), void *arg)
{
	DIR *d = opendir(SHM_DIR);
	if (d == NULL)
		return -errno;
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;)
		if (hidden_is(e->d_name, name))
			rc = fn(e->d_name, arg);
	closedir(d);
	return rc;
}
