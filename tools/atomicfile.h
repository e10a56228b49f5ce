/* Replacing a file atomically: write a temporary file in the same directory, then
 * rename it over the target (what node-exporter's textfile collector needs: it
 * never reads a half-written file). */
#ifndef EVT_ATOMICFILE_H
#define EVT_ATOMICFILE_H

#include <stdio.h>

struct atomic_file {
	FILE *f;
	char tmp[4096]; /* PATH.tmp.XXXXXX */
	const char *path;
};

/* Create the temporary file (mode 0644) beside path.  0 or a negative errno. */
int atomic_open(struct atomic_file *a, const char *path);

/* Flush and rename it over path: 0 or a negative errno (the temporary file is
 * removed on failure). */
int atomic_commit(struct atomic_file *a);

/* Give it up: close and remove the temporary file. */
void atomic_abort(struct atomic_file *a);

#endif /* EVT_ATOMICFILE_H */
