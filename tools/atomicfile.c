#include "atomicfile.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int atomic_open(struct atomic_file *a, const char *path)
{
	a->path = path;
	a->f = NULL;
	int n = snprintf(a->tmp, sizeof a->tmp, "%s.tmp.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof a->tmp)
		return -ENAMETOOLONG;
	int fd = mkstemp(a->tmp);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0644) < 0 || (a->f = fdopen(fd, "w")) == NULL) {
		int e = -errno;
		close(fd);
		unlink(a->tmp);
		return e;
	}
	return 0;
}

int atomic_commit(struct atomic_file *a)
{
	int rc = fflush(a->f) == 0 && ferror(a->f) == 0 ? 0 : -errno;
	if (fclose(a->f) != 0 && rc == 0)
		rc = -errno;
	a->f = NULL;
	if (rc == 0 && rename(a->tmp, a->path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(a->tmp);
	return rc;
}

void atomic_abort(struct atomic_file *a)
{
	if (a->f != NULL)
		fclose(a->f);
	a->f = NULL;
	unlink(a->tmp);
}
