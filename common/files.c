#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* O_NONBLOCK: opening a FIFO must not wait for a reader; O_NOCTTY: a terminal
 * there must not become ours. */
#define OPEN_FLAGS (O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

static int open_new(const char *path, int flags, mode_t mode)
{
	int fd = open(path, OPEN_FLAGS | flags | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -errno;
	/* The umask narrowed the mode open() applied. */
	if (fchmod(fd, mode) < 0) {
		int rc = -errno;
		close(fd);
		unlink(path);
		return rc;
	}
	return fd;
}

static int open_existing(const char *path, int flags)
{
	int fd = open(path, OPEN_FLAGS | (flags & O_APPEND));
	if (fd < 0)
		return errno == ENXIO ? -FILE_NOT_REGULAR : -errno; /* a FIFO, no reader */
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : S_ISREG(st.st_mode) ? 0 : -FILE_NOT_REGULAR;
	/* A hard link to another file (made where another user may write) would be
	 * written through as a symbolic link would. */
	if (rc == 0 && st.st_nlink != 1)
		rc = -FILE_LINKED;
	/* Truncated only now that it is known to be a regular file. */
	if (rc == 0 && (flags & O_TRUNC) != 0 && ftruncate(fd, 0) < 0)
		rc = -errno;
	if (rc == 0)
		return fd;
	close(fd);
	return rc;
}

int file_open_private(const char *path, int flags, mode_t mode)
{
	int fd = open_new(path, flags & O_APPEND, mode);
	return fd == -EEXIST ? open_existing(path, flags) : fd;
}

const char *file_strerror(int err)
{
	if (err == -ELOOP)
		return "it is a symbolic link (never followed)";
	if (err == -FILE_NOT_REGULAR)
		return "not a regular file";
	if (err == -FILE_LINKED)
		return "it has other hard links (never written through)";
	return strerror(-err);
}
