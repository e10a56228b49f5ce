/* The module: its per-interpreter state, the library's errors as exceptions, and the
 * functions that take no throttle. */
#include "ext.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

ext_state *state_of_type(PyTypeObject *tp)
{
	/* The Throttle type or a subclass (EventThrottler): its defining module. */
	return PyModule_GetState(PyType_GetModuleByDef(tp, &ext_module));
}

/* evthrottle.errors.error_class(errno)(errno, message[, name]). */
static PyObject *error_with(ext_state *st, int rc, PyObject *name, const char *message)
{
	int err = -rc;
	PyObject *cls = PyObject_CallFunction(st->error_class, "i", err);
	if (cls == NULL)
		return NULL;
	PyObject *e = name != NULL && name != Py_None
			      ? PyObject_CallFunction(cls, "isO", err, message, name)
			      : PyObject_CallFunction(cls, "is", err, message);
	Py_DECREF(cls);
	return e;
}

/* A name the library refused for its length (what it cannot say itself). */
static int name_too_long(PyObject *name, char *msg, size_t size)
{
	Py_ssize_t len;
	if (name == NULL || !PyUnicode_Check(name) ||
	    PyUnicode_AsUTF8AndSize(name, &len) == NULL || len <= EVT_NAME_MAX) {
		PyErr_Clear();
		return 0;
	}
	snprintf(msg, size, "throttle name is %zd bytes, at most %d", len, EVT_NAME_MAX);
	return 1;
}

PyObject *evt_error(ext_state *st, int rc, PyObject *name)
{
	char msg[96];
	if (rc == -EINVAL && name_too_long(name, msg, sizeof msg))
		return error_with(st, rc, name, msg);
	return error_with(st, rc, name, evt_strerror(-rc));
}

static void *raise_error(PyObject *e)
{
	if (e != NULL) {
		PyErr_SetObject((PyObject *)Py_TYPE(e), e);
		Py_DECREF(e);
	}
	return NULL;
}

void *raise_evt(ext_state *st, int rc, PyObject *name)
{
	return raise_error(evt_error(st, rc, name));
}

static PyObject *error_detail_v(ext_state *st, int rc, PyObject *name, const char *fmt,
				va_list ap)
{
	char msg[256];
	vsnprintf(msg, sizeof msg, fmt, ap);
	return error_with(st, rc, name, msg);
}

PyObject *evt_error_detail(ext_state *st, int rc, PyObject *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PyObject *e = error_detail_v(st, rc, name, fmt, ap);
	va_end(ap);
	return e;
}

void *raise_evt_detail(ext_state *st, int rc, PyObject *name, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	PyObject *e = error_detail_v(st, rc, name, fmt, ap);
	va_end(ap);
	return raise_error(e);
}

static PyObject *mod_now_ns(PyObject *m, PyObject *unused)
{
	(void)m, (void)unused;
	return PyLong_FromUnsignedLongLong(evt_now_ns());
}

static PyObject *mod_now(PyObject *m, PyObject *unused)
{
	(void)m, (void)unused;
	return PyFloat_FromDouble((double)evt_now_ns() / 1e9);
}

static PyObject *mod_realtime_ns(PyObject *m, PyObject *unused)
{
	(void)m, (void)unused;
	return PyLong_FromUnsignedLongLong(evt_realtime_ns());
}

static PyObject *mod_realtime(PyObject *m, PyObject *unused)
{
	(void)m, (void)unused;
	return PyFloat_FromDouble((double)evt_realtime_ns() / 1e9);
}

static PyObject *mod_unlink(PyObject *m, PyObject *name)
{
	const char *s;
	if (name_get(name, &s) < 0)
		return NULL;
	int rc;
	Py_BEGIN_ALLOW_THREADS
	rc = evt_unlink(s);
	Py_END_ALLOW_THREADS
	if (rc < 0)
		return raise_evt(PyModule_GetState(m), rc, name);
	Py_RETURN_NONE;
}

static PyObject *mod_strerror(PyObject *m, PyObject *err)
{
	(void)m;
	long e = PyLong_AsLong(err);
	if (e == -1 && PyErr_Occurred())
		return NULL;
	if (e < -INT_MAX || e > INT_MAX) {
		PyErr_Format(PyExc_OverflowError, "errno out of range: %R", err);
		return NULL;
	}
	return PyUnicode_FromString(evt_strerror((int)e));
}

/* The file the library's code was loaded from (libevthrottle.so.1, or this module
 * when the library is linked in). */
static PyObject *mod_library_path(PyObject *m, PyObject *unused)
{
	(void)m, (void)unused;
	Dl_info info;
	if (dladdr((void *)evt_now_ns, &info) == 0 || info.dli_fname == NULL)
		Py_RETURN_NONE;
	return PyUnicode_DecodeFSDefault(info.dli_fname);
}

static PyMethodDef mod_methods[] = {
	{"now_ns", mod_now_ns, METH_NOARGS,
	 PyDoc_STR("now_ns() -> int\n"
		   "\n"
		   "CLOCK_MONOTONIC in ns (evt_now_ns): the clock every process of the host shares.")},
	{"now", mod_now, METH_NOARGS,
	 PyDoc_STR("now() -> float\n"
		   "\n"
		   "evt_now_ns() / 1e9: the shared clock in seconds, for should_process().")},
	{"realtime_ns", mod_realtime_ns, METH_NOARGS,
	 PyDoc_STR("realtime_ns() -> int\n"
		   "\n"
		   "CLOCK_REALTIME in ns since 1970 (evt_realtime_ns): the clock a global\n"
		   "throttle's hosts share when PTP or NTP keeps them in step.")},
	{"realtime", mod_realtime, METH_NOARGS,
	 PyDoc_STR("realtime() -> float\n"
		   "\n"
		   "evt_realtime_ns() / 1e9: seconds since 1970, for a global throttle.")},
	{"unlink", mod_unlink, METH_O,
	 PyDoc_STR("unlink(name) -> None\n"
		   "\n"
		   "Remove the named throttle (evt_unlink); FileNotFoundError if there is none.")},
	{"strerror", mod_strerror, METH_O,
	 PyDoc_STR("strerror(errno) -> str\n"
		   "\n"
		   "The library's message for an errno (evt_strerror; sign ignored).")},
	{"library_path", mod_library_path, METH_NOARGS,
	 PyDoc_STR("library_path() -> str\n"
		   "\n"
		   "The file libevthrottle's code was loaded from (this module if linked in).")},
	{NULL, NULL, 0, NULL},
};

static int mod_exec(PyObject *m)
{
	ext_state *st = PyModule_GetState(m);
	st->throttle_type = (PyTypeObject *)PyType_FromModuleAndSpec(m, &throttle_spec, NULL);
	if (st->throttle_type == NULL ||
	    PyModule_AddType(m, st->throttle_type) < 0 ||
	    PyModule_AddIntConstant(m, "GIL_FREE_BATCH", EXT_GIL_FREE_BATCH) < 0 ||
	    PyModule_AddIntConstant(m, "LIMIT_MAX", EVT_LIMIT_MAX) < 0)
		return -1;
	PyObject *errors = PyImport_ImportModule("evthrottle.errors");
	if (errors == NULL)
		return -1;
	st->error_class = PyObject_GetAttrString(errors, "error_class");
	Py_DECREF(errors);
	return st->error_class != NULL ? 0 : -1;
}

static int mod_traverse(PyObject *m, visitproc visit, void *arg)
{
	ext_state *st = PyModule_GetState(m);
	Py_VISIT(st->throttle_type);
	Py_VISIT(st->error_class);
	Py_VISIT(st->fraction);
	Py_VISIT(st->real);
	Py_VISIT(st->decimal);
	return 0;
}

static int mod_clear(PyObject *m)
{
	ext_state *st = PyModule_GetState(m);
	Py_CLEAR(st->throttle_type);
	Py_CLEAR(st->error_class);
	Py_CLEAR(st->fraction);
	Py_CLEAR(st->real);
	Py_CLEAR(st->decimal);
	return 0;
}

static void mod_free(void *m)
{
	mod_clear(m);
}

static PyModuleDef_Slot mod_slots[] = {
	{Py_mod_exec, mod_exec},
#ifdef Py_mod_multiple_interpreters
	{Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
	/* Not declared free-threaded: a Throttle's handle pointer and its count of calls
	 * running without the GIL (which defers close()) are guarded by the GIL. */
	{Py_mod_gil, Py_MOD_GIL_USED},
#endif
	{0, NULL},
};

PyModuleDef ext_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "evthrottle._evthrottle",
	.m_doc = "libevthrottle for Python: the C half of evthrottle.EventThrottler.",
	.m_size = sizeof(ext_state),
	.m_methods = mod_methods,
	.m_slots = mod_slots,
	.m_traverse = mod_traverse,
	.m_clear = mod_clear,
	.m_free = mod_free,
};

PyMODINIT_FUNC PyInit__evthrottle(void)
{
	return PyModuleDef_Init(&ext_module);
}
