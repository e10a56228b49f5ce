#include "throttles.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add(struct throttle_names *t, const char *name)
{
	char path[PATH_MAX];
	if (region_name_path(name, path, sizeof path) < 0)
		return 0; /* not a throttle name: someone else's object */
	char *copy = strdup(name);
	char **names = copy != NULL ? realloc(t->names, (t->n + 1) * sizeof *names) : NULL;
	if (names == NULL) {
		free(copy);
		return -ENOMEM;
	}
	names[t->n++] = copy;
	t->names = names;
	return 0;
}

int throttles_list(const char *dir, struct throttle_names *out)
{
	static const char prefix[] = "evthrottle.";
	*out = (struct throttle_names){ NULL, 0 };
	DIR *d = opendir(dir);
	if (d == NULL)
		return -errno;
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;)
		if (strncmp(e->d_name, prefix, sizeof prefix - 1) == 0)
			rc = add(out, e->d_name + sizeof prefix - 1);
	closedir(d);
	if (out->n > 1)
		qsort(out->names, out->n, sizeof *out->names, by_name);
	return rc;
}

void throttles_free(struct throttle_names *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->names[i]);
	free(t->names);
	*t = (struct throttle_names){ NULL, 0 };
}
