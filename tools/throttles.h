/* The throttles of the host: the names of /dev/shm/evthrottle.* objects. */
#ifndef EVT_THROTTLES_H
#define EVT_THROTTLES_H

#include <stddef.h>

struct throttle_names {
	char **names; /* sorted */
	size_t n;
};

/* Every valid throttle name under dir ("/dev/shm"), leaving out the hidden
 * ".evthrottle.*" objects of a creation in progress.  0 or a negative errno
 * (opendir's, or -ENOMEM).  Free with throttles_free() either way. */
int throttles_list(const char *dir, struct throttle_names *out);
void throttles_free(struct throttle_names *t);

#endif /* EVT_THROTTLES_H */
