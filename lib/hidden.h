/* Objects under a hidden name: a region is built as /dev/shm/.evthrottle.NAME.<16 hex>
 * and renamed into place once ready (region.c).  Its creator holds an OFD write
 * lock on the object's first byte from the moment it exists until it is renamed,
 * so one whose creator died (killed between the two) can be told from one still
 * being built, and removed. */
#ifndef EVT_HIDDEN_H
#define EVT_HIDDEN_H

#include <stdbool.h>
#include <stddef.h>

/* Where shm_open() keeps its names (glibc). */
#define SHM_DIR "/dev/shm"

/* A new object under a hidden name made from path ("/evthrottle.NAME"), created
 * and locked as its creator's; its name (for shm_open()) in tmp.  An fd, or -errno. */
int hidden_create(const char *path, char *tmp, size_t size);

/* Tests only: called by hidden_create() between making the object (named tmp) and
 * taking its lock, where a remover may come. */
extern void (*hidden_create_hook)(const char *tmp);

/* The creator's lock on fd released (the object is published under its name). */
void hidden_done(int fd);

/* Whether file (a name in SHM_DIR) is a hidden object of throttle name, or of any
 * throttle if name is NULL. */
bool hidden_is(const char *file, const char *name);

/* Whether the hidden object file's creator still holds it: 1 (being built), 0
 * (left over by a creator that died), or -errno (-ENOENT: gone; -EBADMSG: not a
 * regular file). */
int hidden_held(const char *file);

/* Remove the hidden object file if no live creator holds it: 1 removed, 0 held
 * (left alone), or -errno.  A creator that has made it and not yet locked it
 * finds it claimed, and makes another. */
int hidden_remove(const char *file);

/* Call fn on each hidden object of throttle name (NULL: of every throttle), in
 * no set order, until it returns non-zero; returns that, or 0, or -errno. */
int hidden_each(const char *name, int (*fn)(const char *file, void *arg), void *arg);

#endif
