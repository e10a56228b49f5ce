/* Who may use a throttle: the mode and group of its shm object. */
#ifndef EVTD_ACCESS_H
#define EVTD_ACCESS_H

#include <stddef.h>

#include "config.h"

/*
 * Give the object open at fd the mode and group c configures, both ways: a
 * group dropped from the configuration returns the object to the daemon's own
 * group.  Each change is logged as old -> new.  0, or a negative errno with the
 * reason in err (what was already changed stays changed).
 */
int access_apply(int fd, const struct throttle_config *c, char *err, size_t errlen);

/* Whether access_apply() could give the object c's group: 0, or a negative errno
 * with the reason in err (checked before --recreate destroys an old region). */
int access_check(const struct throttle_config *c, char *err, size_t errlen);

#endif
