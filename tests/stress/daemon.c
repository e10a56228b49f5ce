/*
 * evthrottled under the stress run: a temporary configuration, the daemon in the
 * foreground (so its pid is ours to kill), up when the region names it as its
 * manager.  The first start creates the region with the configured window, so it
 * is logged as a window change with its real-time interval; a restart keeps the
 * window in force (the configured one has not changed: evthrottled(8)), so it
 * changes no window and logs none.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "handle.h"
#include "stress.h"

#define UP_DEADLINE 10000000000ull /* ns for a start */

int daemon_setup(struct daemon *d, const struct opts *o, const char *name)
{
	snprintf(d->dir, sizeof d->dir, "/tmp/evt-stress.XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		return -errno;
	snprintf(d->conf, sizeof d->conf, "%s/evthrottled.conf", d->dir);
	snprintf(d->log, sizeof d->log, "%s/evthrottled.log", d->dir);
	FILE *f = fopen(d->conf, "w");
	if (f == NULL)
		return -errno;
	d->window = o->windows[0];
	unsigned clients = o->procs * o->threads + 32;
	fprintf(f,
	        "log = { level = \"info\"; console = true; file = false; };\n"
	        "daemon = { housekeeping = \"20ms\"; summary = \"0s\"; sweep_occupancy = 50;\n"
	        "           warn_occupancy = 100; run_dir = \"%s\"; user = \"root\"; };\n"
	        "throttles = ( { name = \"%s\"; window = \"%lluns\"; capacity = %u; key_max = 32;\n"
	        "                clients = %u; mode = \"0600\"; on_full = \"error\"; on_stale = \"error\";\n"
	        "                limit = %u; } );\n",
	        d->dir, name, (unsigned long long)o->windows[0], o->capacity, clients, o->limit);
	return fclose(f) == 0 ? 0 : -errno;
}

static pid_t spawn(const struct daemon *d)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	child_after_fork();
	die_with_parent(getppid());
	int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execl(d->bin, d->bin, "-c", d->conf, "-f", (char *)NULL);
	_exit(127);
}

/* 1: the region is up and names pid as its daemon (identity in *d); 0: not yet. */
static int manages(struct daemon *d, const char *name)
{
	evt_throttle *t;
	if (evt_attach(name, EVT_RDONLY, &t) < 0)
		return 0;
	const struct region_hdr *h = t->r.hdr;
	int yes = atomic_load(&h->daemon_pid) == (uint64_t)d->pid;
	if (yes) {
		d->hash_seed = h->hash_seed;
		d->created_ns = h->created_unix_ns;
	}
	evt_close(t);
	return yes;
}

static int wait_up(struct daemon *d, const char *name, char *err, size_t errlen)
{
	uint64_t deadline = mono_ns() + UP_DEADLINE;
	for (;;) {
		if (manages(d, name))
			return 0;
		int st;
		if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
			snprintf(err, errlen, "evthrottled exited during start (status %#x)", st);
			d->pid = 0;
			return -1;
		}
		if (mono_ns() > deadline) {
			snprintf(err, errlen, "evthrottled did not come up within 10 s");
			return -1;
		}
		/* Polling with a deadline: the daemon has no readiness signal in
		 * the foreground. */
		usleep(2000);
	}
}

/* Start (or restart) the daemon.  Returns 0, or -1 with err. */
int daemon_start(struct daemon *d, struct shared *sh, char *err, size_t errlen)
{
	uint64_t seed = d->hash_seed, created = d->created_ns;
	struct event *ev = created == 0 ? event_begin(sh, EV_WINDOW, 0, d->window) : NULL;
	d->pid = spawn(d);
	if (d->pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (wait_up(d, sh->name, err, errlen) < 0)
		return -1;
	event_end(ev);
	if (created != 0 && (seed != d->hash_seed || created != d->created_ns)) {
		snprintf(err, errlen, "the restarted daemon replaced the region (state lost)");
		return -1;
	}
	return 0;
}

int daemon_kill(struct daemon *d)
{
	if (d->pid <= 0)
		return 0;
	kill(d->pid, SIGKILL);
	int st;
	int rc = wait_child(d->pid, mono_ns() + UP_DEADLINE, &st);
	d->pid = 0;
	return rc;
}

/* SIGTERM, a clean stop: exit status 0 expected. */
int daemon_stop(struct daemon *d)
{
	if (d->pid <= 0)
		return -1;
	kill(d->pid, SIGTERM);
	int st;
	int rc = wait_child(d->pid, mono_ns() + UP_DEADLINE, &st);
	if (rc < 0) {
		daemon_kill(d);
		return rc;
	}
	d->pid = 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

void daemon_cleanup(struct daemon *d, const char *name)
{
	daemon_kill(d);
	evt_unlink(name);
	unlink(d->conf);
	unlink(d->log);
	char lock[sizeof d->dir + EVT_NAME_MAX + 8];
	snprintf(lock, sizeof lock, "%s/%s.lock", d->dir, name);
	unlink(lock);
	rmdir(d->dir);
}

void daemon_log_tail(const struct daemon *d)
{
	FILE *f = fopen(d->log, "r");
	if (f == NULL)
		return;
	char line[512];
	fprintf(stderr, "--- %s (last lines)\n", d->log);
	long lines = 0;
	while (fgets(line, sizeof line, f) != NULL)
		lines++;
	rewind(f);
	for (long i = 0; fgets(line, sizeof line, f) != NULL; i++)
		if (i >= lines - 20)
			fputs(line, stderr);
	fclose(f);
}
