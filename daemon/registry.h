/* The throttles the daemon manages: one entry per name, as many as configured.
 *
 * The main thread is the only writer: it builds a new array of entries and
 * publishes it (release), then waits with synchronize_rcu() for the
 * housekeeping thread, which reads the array and its entries inside
 * rcu_read_lock() (acquire), before it frees the old array or a removed entry. */
#ifndef EVTD_REGISTRY_H
#define EVTD_REGISTRY_H

#include <stddef.h>

#include "regions.h"

struct registry {
	size_t n;
	struct managed *m[];
};

/* The current array; inside rcu_read_lock() (housekeeping) or on the main
 * thread.  Never NULL once registry_init() has run. */
const struct registry *registry_get(struct registry *_Atomic *reg);

/* An empty registry.  0 or -ENOMEM. */
int registry_init(struct registry *_Atomic *reg);

/* The entry named name, or NULL.  Main thread. */
struct managed *registry_find(struct registry *_Atomic *reg, const char *name);

/* Publish m (allocated by the caller) as one more entry.  0 or -ENOMEM (then
 * nothing changed).  Main thread; waits for a grace period. */
int registry_add(struct registry *_Atomic *reg, struct managed *m);

/* Unpublish m and wait until no reader can still see it: the caller may then
 * release and free it.  0 or -ENOMEM (then nothing changed).  Main thread. */
int registry_remove(struct registry *_Atomic *reg, struct managed *m);

/* Free the array (not the entries) once no reader runs. */
void registry_free(struct registry *_Atomic *reg);

#endif
