/* evthrottle._evthrottle: the CPython extension over libevthrottle.  Shared by its
 * files: the module state, argument conversions, errors and the Throttle type. */
#ifndef EVT_PY_EXT_H
#define EVT_PY_EXT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <sys/types.h>

#include "evthrottle.h"

/* Per-module (so per-interpreter) state: nothing is global. */
typedef struct {
	PyTypeObject *throttle_type;
	PyObject *error_class; /* evthrottle.errors.error_class(errno) -> class */
	PyObject *fraction;    /* fractions.Fraction, for exact seconds (or NULL */
	PyObject *real;        /* numbers.Real          until the first is seen: */
	PyObject *decimal;     /* decimal.Decimal       convert.c imports them) */
} ext_state;

/* The C half of evthrottle.EventThrottler (which subclasses it in Python). */
typedef struct {
	PyObject_HEAD
	evt_throttle *t;       /* NULL when closed (or not opened yet) */
	evt_throttle *closing; /* closed while a call ran without the GIL: closed last */
	int users;             /* calls running without the GIL; changed under the GIL */
	pid_t pid;             /* the opener: a forked child never evt_close()s */
	uint32_t key_max;
	int readonly;
	int global;            /* evt_is_global(): decisions may ask Redis */
	PyObject *name;        /* str or None */
} throttle_obj;

/* A key as the library takes it: str (UTF-8), bytes-like, or int (8 bytes). */
typedef struct {
	const char *p;
	Py_ssize_t len;
	int64_t word;     /* an int key's bytes */
	Py_buffer view;   /* a bytes-like key other than bytes: released by key_done() */
	int has_view;
} ext_key;

extern PyModuleDef ext_module;
extern PyType_Spec throttle_spec;

ext_state *state_of_type(PyTypeObject *tp);

/* convert.c */
int seconds_to_ns(ext_state *st, PyObject *v, const char *what, uint64_t *ns);
/* throttle.c: a timestamp for the Throttle self (its module state if needed). */
int timestamp_get(PyObject *self, PyObject *v, uint64_t *ns);
/* seconds_to_ns() that also refuses 0 (ValueError); window_to_ns() is it for "window". */
int positive_seconds_to_ns(ext_state *st, PyObject *v, const char *what, uint64_t *ns);
int window_to_ns(ext_state *st, PyObject *v, uint64_t *ns);
PyObject *ns_to_seconds(uint64_t ns);
int key_get(PyObject *o, ext_key *k);
static inline void key_done(ext_key *k)
{
	if (k->has_view)
		PyBuffer_Release(&k->view);
}
int name_get(PyObject *o, const char **out);

/* The common cases of timestamp_get() and key_get(), inlined into the decision
 * paths: a float timestamp, a str of ASCII or a bytes key (no copy: the pointer is
 * the object's own data).  Anything else takes the general call. */
static inline int timestamp_fast(PyObject *self, PyObject *v, uint64_t *ns)
{
	if (PyFloat_CheckExact(v)) {
		double x = PyFloat_AS_DOUBLE(v) * 1e9;
		if (x >= 0 && x < 0x1p64) { /* else the general call says what is wrong */
			*ns = (uint64_t)nearbyint(x);
			return 0;
		}
	}
	return timestamp_get(self, v, ns);
}

static inline int key_fast(PyObject *o, ext_key *k)
{
	if (PyUnicode_CheckExact(o) && PyUnicode_IS_COMPACT_ASCII(o)) {
		k->p = (const char *)PyUnicode_DATA(o);
		k->len = PyUnicode_GET_LENGTH(o);
		k->has_view = 0;
		return 0;
	}
	if (PyBytes_CheckExact(o)) {
		k->p = PyBytes_AS_STRING(o);
		k->len = PyBytes_GET_SIZE(o);
		k->has_view = 0;
		return 0;
	}
	return key_get(o, k);
}

static inline PyObject *bool_of(int rc)
{
	return Py_NewRef(rc ? Py_True : Py_False);
}

/* errors (module.c): rc is the library's negative errno; name may be NULL. */
PyObject *evt_error(ext_state *st, int rc, PyObject *name);
void *raise_evt(ext_state *st, int rc, PyObject *name);
/* The EvtError of rc whose strerror says what the caller knows: the value, the
 * limit, the fix (the library's evt_strerror is a static string). */
PyObject *evt_error_detail(ext_state *st, int rc, PyObject *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void *raise_evt_detail(ext_state *st, int rc, PyObject *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* throttle.c: the EvtError of a failed decision, prefetch or clear of a key
 * key_len bytes long, saying what the library's static message cannot (the
 * lengths, the table's figures). */
PyObject *key_error(throttle_obj *s, int rc, Py_ssize_t key_len, PyObject *name);

/* evt_options limits, as include/evthrottle.h documents them. */
#define EXT_CAPACITY_MAX (1u << 28)
#define EXT_KEY_MAX 1024u

/* From this many events a burst is decided without the GIL (module constant
 * GIL_FREE_BATCH).  Releasing it costs little, but taking it back waits, when
 * another thread runs Python code, until that thread gives it up: up to the
 * switch interval (5 ms).  So it pays only for a decision pass of that order:
 * 65536 decisions take 2-10 ms (slots in cache or not). */
#define EXT_GIL_FREE_BATCH 65536

/* throttle.c, for batch.c */
evt_throttle *throttle_handle(throttle_obj *s);
void throttle_enter(throttle_obj *s);
void throttle_leave(throttle_obj *s);

/* batch.c */
PyObject *throttle_should_process_many(PyObject *self, PyObject *events);

#endif
