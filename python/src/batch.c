/* Throttle.should_process_many(events): a burst decided by one
 * evt_should_process_batch() call, with the answers of should_process() on each
 * event in turn.  Every event is converted (its key copied) before anything is
 * decided, so bad input decides nothing; a long burst is decided without the GIL,
 * on the copies, so that other threads run meanwhile. */
#include "ext.h"

#include <errno.h>
#include <string.h>

/* From this many events a batch releases the GIL: it then takes some microseconds,
 * much more than releasing and taking the GIL again. */
#define GIL_FREE_BATCH 64

typedef struct {
	evt_event *ev;
	char *keys; /* every key, one after the other; ev[i].key is an offset until decide */
	size_t used, cap;
} burst;

static int add_key(burst *b, evt_event *e, const ext_key *k)
{
	if (b->used + (size_t)k->len > b->cap) {
		size_t cap = 2 * (b->used + (size_t)k->len) + 256;
		char *keys = PyMem_Realloc(b->keys, cap);
		if (keys == NULL) {
			PyErr_NoMemory();
			return -1;
		}
		b->keys = keys;
		b->cap = cap;
	}
	if (k->len > 0)
		memcpy(b->keys + b->used, k->p, (size_t)k->len);
	e->key = (const void *)(uintptr_t)b->used;
	e->key_len = (size_t)k->len;
	b->used += (size_t)k->len;
	return 0;
}

/* One (timestamp, event_id, key), as should_process() converts them. */
static int event_get(PyObject *self, PyObject *item, Py_ssize_t i, burst *b)
{
	/* A tuple (a copy if it is not one): the caller's code that converting the
	 * timestamp may run cannot change it under us. */
	PyObject *seq = PySequence_Tuple(item);
	if (seq == NULL)
		return -1;
	int rc = -1;
	ext_key k;
	if (PyTuple_GET_SIZE(seq) != 3)
		PyErr_Format(PyExc_ValueError,
			     "event %zd: expected (timestamp, event_id, key), got %zd values",
			     i, PyTuple_GET_SIZE(seq));
	else if (timestamp_get(self, PyTuple_GET_ITEM(seq, 0), &b->ev[i].ts_ns) == 0 &&
		 key_get(PyTuple_GET_ITEM(seq, 2), &k) == 0) {
		rc = add_key(b, &b->ev[i], &k);
		key_done(&k);
	}
	Py_DECREF(seq);
	return rc;
}

/* The EvtError of the event at index, with the burst's answers (or None). */
static PyObject *raise_event_error(throttle_obj *s, int rc, const evt_event *ev,
				   Py_ssize_t index, PyObject *answers)
{
	PyObject *e = key_error(s, rc, (Py_ssize_t)ev->key_len, NULL);
	PyObject *at = PyLong_FromSsize_t(index);
	if (e != NULL && at != NULL && PyObject_SetAttrString(e, "index", at) == 0 &&
	    PyObject_SetAttrString(e, "answers", answers != NULL ? answers : Py_None) == 0)
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
	Py_XDECREF(at);
	Py_XDECREF(e);
	return NULL;
}

/* One bool per event; a failed one (ENOSPC under on_full "error") is None in the
 * answers of the exception raised for the first of them. */
static PyObject *answers(throttle_obj *s, const evt_event *ev, Py_ssize_t n)
{
	PyObject *list = PyList_New(n);
	Py_ssize_t bad = -1;
	for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
		if (ev[i].result < 0 && bad < 0)
			bad = i;
		PyList_SET_ITEM(list, i, ev[i].result < 0 ? Py_NewRef(Py_None)
							  : PyBool_FromLong(ev[i].result));
	}
	if (list == NULL || bad < 0)
		return list;
	raise_event_error(s, ev[bad].result, &ev[bad], bad, list);
	Py_DECREF(list);
	return NULL;
}

static Py_ssize_t first_bad_key(const evt_event *ev, Py_ssize_t n, uint32_t key_max)
{
	for (Py_ssize_t i = 0; i < n; i++)
		if (ev[i].key_len == 0 || ev[i].key_len > key_max)
			return i;
	return -1;
}

static PyObject *decide(throttle_obj *s, burst *b, Py_ssize_t n)
{
	/* Taken only now: reading the events ran the caller's code, which may have
	 * closed the throttler. */
	evt_throttle *t = throttle_handle(s);
	if (t == NULL)
		return NULL;
	ext_state *st = state_of_type(Py_TYPE(s));
	Py_ssize_t bad = first_bad_key(b->ev, n, s->key_max);
	int rc;
	if (n == 0 || bad >= 0) {
		/* Nothing to decide, or a bad key: the library's whole-call errors
		 * (EROFS) come first, as in should_process(). */
		rc = evt_should_process_batch(t, NULL, 0);
		if (rc < 0 || n == 0)
			return rc < 0 ? raise_evt(st, rc, NULL) : PyList_New(0);
		return raise_event_error(s, b->ev[bad].key_len ? -EMSGSIZE : -EINVAL, &b->ev[bad],
					 bad, NULL);
	}
	for (Py_ssize_t i = 0; i < n; i++)
		b->ev[i].key = b->keys + (uintptr_t)b->ev[i].key;
	if (n < GIL_FREE_BATCH) {
		rc = evt_should_process_batch(t, b->ev, (size_t)n);
	} else {
		throttle_enter(s);
		Py_BEGIN_ALLOW_THREADS
		rc = evt_should_process_batch(t, b->ev, (size_t)n);
		Py_END_ALLOW_THREADS
		throttle_leave(s);
	}
	return rc < 0 ? raise_evt(st, rc, NULL) : answers(s, b->ev, n);
}

PyObject *throttle_should_process_many(PyObject *self, PyObject *events)
{
	throttle_obj *s = (throttle_obj *)self;
	if (throttle_handle(s) == NULL)
		return NULL;
	PyObject *seq = PySequence_Tuple(events); /* as in event_get() */
	if (seq == NULL)
		return NULL;
	Py_ssize_t n = PyTuple_GET_SIZE(seq);
	burst b = {PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(evt_event)), NULL, 0, 0};
	PyObject *result = NULL;
	Py_ssize_t i = 0;
	if (b.ev == NULL)
		PyErr_NoMemory();
	else
		while (i < n && event_get(self, PyTuple_GET_ITEM(seq, i), i, &b) == 0)
			i++;
	if (b.ev != NULL && i == n)
		result = decide(s, &b, n);
	PyMem_Free(b.keys);
	PyMem_Free(b.ev);
	Py_DECREF(seq);
	return result;
}
