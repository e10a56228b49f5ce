/*
 * evthrottled: creates and keeps the regions of the configured throttles, and does
 * their housekeeping.  Never on the clients' path: they keep deciding while it is
 * down, and a restarted daemon re-attaches to the regions with their state.
 *
 * Exit status: 0 ok, 1 failed (configuration, region, system), 2 usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <urcu.h>

#include "busguard.h"
#include "config.h"
#include "files.h"
#include "housekeeping.h"
#include "log.h"
#include "privileges.h"
#include "regions.h"
#include "runlock.h"

#define PROG "evthrottled"

struct args {
	const char *config, *remove, *pidfile, *run_dir, *user;
	bool foreground, check, recreate;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: " PROG " -c FILE [-f|--foreground] [--check-config] [--recreate] [--pidfile FILE]\n"
	        "       " PROG " --remove NAME [--run-dir DIR]\n"
	        "\n"
	        "  -c, --config FILE   the configuration (libconfig; see evthrottled(8))\n"
	        "  -f, --foreground    stay in the foreground (systemd, terminals); default detaches\n"
	        "      --check-config  check FILE, print what would be created, exit 0 or 1\n"
	        "      --recreate      replace an existing region whose geometry does not match\n"
	        "      --pidfile FILE  write the pid here (default: daemon.pidfile when detaching)\n"
	        "      --remove NAME   delete throttle NAME's region (no daemon may manage it)\n"
	        "      --run-dir DIR   the throttles' locks (default: daemon.run_dir, else " RUNLOCK_DIR_DEFAULT ")\n"
	        "      --user USER     started as root, run as USER (default: daemon.user)\n"
	        "  -h, --help          this help;  --version  the version\n"
	        "Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop (regions stay).\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	enum { CHECK = 256, RECREATE, PIDFILE, REMOVE, RUN_DIR, USER, VERSION };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, CHECK }, { "recreate", no_argument, NULL, RECREATE },
		{ "pidfile", required_argument, NULL, PIDFILE }, { "remove", required_argument, NULL, REMOVE },
		{ "run-dir", required_argument, NULL, RUN_DIR }, { "user", required_argument, NULL, USER },
		{ "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, VERSION },
		{ NULL, 0, NULL, 0 },
	};
	*a = (struct args){ 0 };
	for (int c; (c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1;) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'f': a->foreground = true; break;
		case CHECK: a->check = true; break;
		case RECREATE: a->recreate = true; break;
		case PIDFILE: a->pidfile = optarg; break;
		case REMOVE: a->remove = optarg; break;
		case RUN_DIR: a->run_dir = optarg; break;
		case USER: a->user = optarg; break;
		case 'h': usage(stdout); exit(0);
		case VERSION: printf(PROG " %d.%d\n", EVT_VERSION_MAJOR, EVT_VERSION_MINOR); exit(0);
		default: return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if ((a->remove == NULL) == (a->config == NULL)) {
		fprintf(stderr, PROG ": give -c FILE (or --remove NAME)\n");
		return -1;
	}
	return 0;
}

/* Detach: the parent exits with the child's readiness status, so a failed start
 * is still seen by whoever ran us.  Returns the fd to report readiness on. */
static int detach(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		char status = 1;
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0)
		return -1;
	return p[1];
}

static void ready(int fd, char status)
{
	if (fd < 0)
		return;
	if (write(fd, &status, 1) != 1)
		log_warning("cannot report readiness to the parent: %s", strerror(errno));
	close(fd);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
	}
}

/* Opened before the daemon gives up root (the pidfile's directory may be root's);
 * emptied and written only once the regions are ready, so a start that fails (a
 * second daemon) leaves a running daemon's pid alone.  The fd, or -1 (logged). */
static int open_pidfile(const char *path)
{
	int fd = file_open_private(path, 0, 0644);
	if (fd < 0)
		log_error("pidfile %s: %s", path, file_strerror(fd));
	return fd < 0 ? -1 : fd;
}

static int write_pidfile(const char *path, int fd)
{
	int rc = ftruncate(fd, 0) < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0 ? -errno : 0;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0)
		log_error("pidfile %s: %s", path, strerror(-rc));
	return rc;
}

/* Give up root for good, once the files that need it are open. */
static int become(const struct identity *id)
{
	char err[512];
	int rc = privileges_drop(id, err, sizeof err);
	if (rc < 0)
		log_error("%s", err);
	else if (id->change)
		log_info("running as user %s (uid %u, gid %u)", id->user, (unsigned)id->uid,
		         (unsigned)id->gid);
	return rc;
}

static int manage_all(struct daemon_state *s, const struct daemon_config *c, bool recreate)
{
	char err[512];
	for (size_t i = 0; i < c->n; i++) {
		size_t n = atomic_load_explicit(&s->n_managed, memory_order_relaxed);
		if (regions_manage(&c->throttles[i], recreate, &s->managed[n], err, sizeof err) < 0) {
			log_error("%s", err);
			return -1;
		}
		/* Release pairs with the acquire in housekeeping_round(). */
		atomic_store_explicit(&s->n_managed, n + 1, memory_order_release);
	}
	return 0;
}

static struct managed *find_managed(struct daemon_state *s, const char *name)
{
	size_t n = atomic_load_explicit(&s->n_managed, memory_order_relaxed);
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->managed[i].cfg.name, name) == 0)
			return &s->managed[i];
	return NULL;
}

/* Apply a new configuration to the running regions; new throttles are created. */
static void apply_reload(struct daemon_state *s, struct daemon_config *next)
{
	char err[512];
	for (size_t i = 0; i < next->n; i++) {
		struct throttle_config *c = &next->throttles[i];
		struct managed *m = find_managed(s, c->name);
		if (m == NULL) {
			struct daemon_config one = { .n = 1 };
			one.throttles[0] = *c;
			manage_all(s, &one, false);
			continue;
		}
		int rc = regions_reload(m, c, err, sizeof err);
		if (rc != 0)
			log_warning("%s", err);
		if (rc > 0) /* keep the region's geometry in the effective configuration */
			c->opts = (evt_options){ .window_ns = c->opts.window_ns, .capacity = m->cfg.opts.capacity,
				                 .key_max = m->cfg.opts.key_max, .mode = c->opts.mode,
				                 .on_full = m->cfg.opts.on_full, .client_max = m->cfg.opts.client_max };
	}
	size_t n = atomic_load_explicit(&s->n_managed, memory_order_relaxed);
	for (size_t i = 0; i < n; i++)
		if (config_find(next, s->managed[i].cfg.name) == NULL)
			log_warning("throttle '%s' is no longer configured; its region stays "
			            "(" PROG " --remove %s deletes it once no daemon manages it)",
			            s->managed[i].cfg.name, s->managed[i].cfg.name);
}

static void reload(struct daemon_state *s)
{
	char err[512];
	struct daemon_config *next = malloc(sizeof *next);
	if (next == NULL || config_load(s->cfg->path, next, err, sizeof err) < 0) {
		log_error("reload refused, the running configuration stays: %s",
		          next == NULL ? "out of memory" : err);
		free(next);
		return;
	}
	int rc = log_configure(&next->log, PROG);
	if (rc < 0)
		log_error("reload: log settings not applied: %s", file_strerror(rc));
	apply_reload(s, next);
	struct daemon_config *old = s->cfg;
	/* Pairs with the acquire load in read_settings(). */
	atomic_store_explicit(&s->cfg, next, memory_order_release);
	synchronize_rcu(); /* no reader still holds old */
	rcu_grace_period_done_for_tsan(s);
	free(old);
	log_info("configuration reloaded from %s", next->path);
}

static int serve(struct daemon_state *s, sigset_t *sigs)
{
	if (housekeeping_start(s) != 0) {
		log_error("cannot start the housekeeping thread");
		return 1;
	}
	log_info("running (pid %d), %zu throttle(s)", (int)getpid(), s->cfg->n);
	for (;;) {
		int sig = sigwaitinfo(sigs, NULL);
		if (sig == SIGHUP) {
			reload(s);
		} else if (sig == SIGTERM || sig == SIGINT) {
			log_info("stopping on %s; the regions stay for the clients", strsignal(sig));
			break;
		}
	}
	housekeeping_stop(s);
	return 0;
}

static int run(const struct args *a, struct daemon_config *cfg, const struct identity *id)
{
	static struct daemon_state s;
	s.cfg = cfg;
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	/* Blocked in every thread; the main thread takes them with sigwaitinfo(). */
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	int ready_fd = a->foreground ? -1 : detach();
	const char *pidfile = a->pidfile != NULL ? a->pidfile : a->foreground ? "" : cfg->pidfile;
	int pid_fd = pidfile[0] == '\0' ? -1 : open_pidfile(pidfile);
	bool started = (pidfile[0] == '\0' || pid_fd >= 0) && become(id) == 0 &&
	               manage_all(&s, cfg, a->recreate) == 0;
	if (pid_fd >= 0 && started && write_pidfile(pidfile, pid_fd) < 0)
		started = false;
	int rc = 1;
	if (started) {
		ready(ready_fd, 0);
		rc = serve(&s, &sigs);
	} else {
		ready(ready_fd, 1);
	}
	size_t n = atomic_load(&s.n_managed);
	for (size_t i = 0; i < n; i++)
		regions_release(&s.managed[i]);
	if (pidfile[0] != '\0' && rc == 0)
		unlink(pidfile);
	free(s.cfg);
	log_close();
	return rc;
}

/* --check-config: the user the daemon would run as exists and may give each
 * throttle its group.  0, or 1 with every problem printed. */
static int check_identity(const struct args *a, const struct daemon_config *cfg)
{
	char err[512];
	struct identity id;
	const char *user = a->user != NULL ? a->user : cfg->user;
	if (privileges_resolve(user, cfg->group, &id, err, sizeof err) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", a->config, err);
		return 1;
	}
	int rc = 0;
	for (size_t i = 0; i < cfg->n; i++) {
		const struct throttle_config *t = &cfg->throttles[i];
		struct group *g = t->group[0] != '\0' ? getgrnam(t->group) : NULL;
		if (g == NULL || privileges_may_use_group(&id, g->gr_gid))
			continue;
		fprintf(stderr,
		        PROG ": %s:%d: throttle '%s': group \"%s\": evthrottled's user (uid %u) is not "
		        "in it, so chgrp would fail (add the user to the group, e.g. \"m %s %s\" in "
		        "sysusers.d or SupplementaryGroups=%s in the unit)\n",
		        a->config, t->line, t->name, t->group, (unsigned)id.uid,
		        id.user[0] != '\0' ? id.user : "USER", t->group, t->group);
		rc = 1;
	}
	return rc;
}

/* Who the daemon will run as, and its run directory: checked before anything is
 * made. */
static int prepare(const struct args *a, const struct daemon_config *cfg, struct identity *id)
{
	char err[512];
	const char *dir = a->run_dir != NULL ? a->run_dir : cfg->run_dir;
	const char *user = a->user != NULL ? a->user : cfg->user;
	if (privileges_resolve(user, cfg->group, id, err, sizeof err) < 0 ||
	    runlock_init(dir, id->uid, id->gid, err, sizeof err) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (id->uid == 0)
		log_warning("running as root (daemon.user = \"root\"): every capability for the "
		            "daemon's whole life; set another user");
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	if (parse_args(argc, argv, &a) < 0) {
		usage(stderr);
		return 2;
	}
	char err[512];
	if (a.remove != NULL) {
		const char *dir = a.run_dir != NULL ? a.run_dir : RUNLOCK_DIR_DEFAULT;
		uid_t owner = geteuid() == 0 ? (uid_t)-1 : geteuid();
		if (runlock_init(dir, owner, getegid(), err, sizeof err) < 0 ||
		    regions_remove(a.remove, err, sizeof err) < 0) {
			fprintf(stderr, PROG ": %s\n", err);
			return 1;
		}
		printf("removed throttle '%s'\n", a.remove);
		return 0;
	}
	int rc;
	struct daemon_config *cfg = malloc(sizeof *cfg);
	if (cfg == NULL || config_load(a.config, cfg, err, sizeof err) < 0) {
		fprintf(stderr, PROG ": %s\n", cfg == NULL ? "out of memory" : err);
		free(cfg);
		return 1;
	}
	if (a.check) {
		rc = check_identity(&a, cfg);
		if (rc == 0) {
			printf("%s: OK\n", a.config);
			config_describe(cfg, stdout);
		}
		free(cfg);
		return rc;
	}
	rc = log_configure(&cfg->log, PROG);
	if (rc < 0) {
		fprintf(stderr, PROG ": log file in %s: %s\n", cfg->log.directory, file_strerror(rc));
		free(cfg);
		return 1;
	}
	struct identity id;
	rc = busguard_install();
	if (rc < 0)
		log_warning("no SIGBUS guard: %s; a truncated region may end the daemon", strerror(-rc));
	if (prepare(&a, cfg, &id) < 0) {
		free(cfg);
		return 1;
	}
	return run(&a, cfg, &id);
}
