/* The files the daemon and the tools write for themselves (log, pidfile): opened
 * so that another user's symbolic link, FIFO or device in their place is refused. */
#ifndef EVT_FILES_H
#define EVT_FILES_H

#include <sys/types.h>

/*
 * Open path for writing (flags: O_APPEND or O_TRUNC, or neither), creating it with
 * exactly mode (whatever the umask) if it does not exist.  Never follows a symbolic
 * link (-ELOOP), never blocks (a FIFO is refused), and refuses anything but a
 * regular file (-FILE_NOT_REGULAR) and a file with other hard links (-FILE_LINKED).
 * The fd is close-on-exec.
 * Returns the fd or a negative errno.
 */
int file_open_private(const char *path, int flags, mode_t mode);

/* -errno of file_open_private() in words: says "symbolic link" and "not a regular
 * file" rather than "too many levels of symbolic links". */
const char *file_strerror(int err);

/* What file_open_private() returns for a path that is not a regular file. */
#define FILE_NOT_REGULAR ENODEV /* shown by file_strerror() as "not a regular file" */
/* ... and for a regular file with other hard links. */
#define FILE_LINKED EMLINK

#endif
