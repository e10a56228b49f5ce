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
	bool foreground, check, recreate, force;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: " PROG " -c FILE [-f|--foreground] [--check-config] [--recreate [--force]]\n"
	        "                   [--pidfile FILE] [--run-dir DIR] [--user USER]\n"
	        "       " PROG " --remove NAME [--force] [--run-dir DIR | -c FILE]\n"
	        "\n"
	        "  -c, --config FILE   the configuration (libconfig; see evthrottled(8))\n"
	        "  -f, --foreground    stay in the foreground (systemd, terminals); default detaches\n"
	        "      --check-config  check FILE, print what would be created, exit 0 or 1\n"
	        "      --recreate      replace an existing region whose geometry does not match\n"
	        "      --force         with --recreate or --remove: even while clients are attached\n"
	        "      --pidfile FILE  write the pid here (default: daemon.pidfile when detaching)\n"
	        "      --remove NAME   delete throttle NAME's region (no daemon may manage it)\n"
	        "      --run-dir DIR   the throttles' locks (default: daemon.run_dir, else " RUNLOCK_DIR_DEFAULT ")\n"
	        "      --user USER     started as root, run as USER (default: daemon.user)\n"
	        "  -h, --help          this help;  --version  the version\n"
	        "Signals: SIGHUP reloads the configuration, SIGTERM/SIGINT stop (regions stay).\n");
}

static int parse_args(int argc, char **argv, struct args *a)
{
	enum { CHECK = 256, RECREATE, PIDFILE, REMOVE, RUN_DIR, USER, VERSION, FORCE };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "foreground", no_argument, NULL, 'f' },
		{ "check-config", no_argument, NULL, CHECK }, { "recreate", no_argument, NULL, RECREATE },
		{ "pidfile", required_argument, NULL, PIDFILE }, { "remove", required_argument, NULL, REMOVE },
		{ "run-dir", required_argument, NULL, RUN_DIR }, { "user", required_argument, NULL, USER },
		{ "help", no_argument, NULL, 'h' },         { "version", no_argument, NULL, VERSION },
		{ "force", no_argument, NULL, FORCE },
		{ NULL, 0, NULL, 0 },
	};
	*a = (struct args){ 0 };
	for (int c; (c = getopt_long(argc, argv, "c:fh", opts, NULL)) != -1;) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'f': a->foreground = true; break;
		case CHECK: a->check = true; break;
		case RECREATE: a->recreate = true; break;
		case FORCE: a->force = true; break;
		case PIDFILE: a->pidfile = optarg; break;
		case REMOVE: a->remove = optarg; break;
		case RUN_DIR: a->run_dir = optarg; break;
		case USER: a->user = optarg; break;
		case 'h': usage(stdout); exit(0);
		case VERSION:
			printf(PROG " (evthrottle) %s, region format %d.%d\n", EVT_PACKAGE_VERSION,
			       EVT_VERSION_MAJOR, EVT_VERSION_MINOR);
			exit(0);
		default: return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (a->remove == NULL && a->config == NULL) {
		fprintf(stderr, PROG ": give -c FILE (or --remove NAME)\n");
		return -1;
	}
	if (a->remove != NULL && a->check) {
		fprintf(stderr, PROG ": --check-config and --remove exclude each other\n");
		return -1;
	}
	if (a->force && !a->recreate && a->remove == NULL) {
		fprintf(stderr, PROG ": --force goes with --recreate or --remove\n");
		return -1;
	}
	return 0;
}

/* A relative --pidfile is relative to the start directory: made absolute before
 * detaching (-c is, by config_load()).  0 or a negative errno, said on stderr. */
static int absolute_pidfile(struct args *a, char *buf, size_t size)
{
	char cwd[PATH_MAX];
	if (a->pidfile == NULL || a->pidfile[0] == '/')
		return 0;
	if (getcwd(cwd, sizeof cwd) == NULL || config_resolve_path(a->pidfile, cwd, buf, size) < 0) {
		fprintf(stderr, PROG ": --pidfile %s: cannot make it absolute: %s\n", a->pidfile,
		        strerror(errno));
		return -ENAMETOOLONG;
	}
	a->pidfile = buf;
	return 0;
}

/* Detach: the parent exits with the child's readiness status, so a failed start
 * is still seen by whoever ran us.  Returns the fd to report readiness on, or a
 * negative errno (logged; still attached then). */
static int detach(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_error("cannot detach: pipe: %s", strerror(errno));
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int rc = -errno;
		log_error("cannot detach: fork: %s", strerror(-rc));
		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (pid > 0) {
		char status = 1;
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = 1;
		_exit(status);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0) /* paths are absolute by now: never fails in practice */
		log_warning("cannot chdir to /: %s", strerror(errno));
	return p[1];
}

/* Report the start's status to the waiting parent, once; then fd is -1. */
static void ready(int *fdp, char status)
{
	int fd = *fdp;
	if (fd < 0)
		return;
	*fdp = -1;
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
	return fd;
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
	/* The log stays the daemon's: a reload reopens it as the new user. */
	int rc = id->change ? log_give(id->uid, id->gid) : 0;
	if (rc < 0)
		log_warning("log file: cannot give it to uid %u: %s; a reload will not reopen it",
		            (unsigned)id->uid, strerror(-rc));
	rc = privileges_drop(id, err, sizeof err);
	if (rc < 0)
		log_error("%s", err);
	else if (id->change)
		log_info("running as user %s (uid %u, gid %u)", id->user, (unsigned)id->uid,
		         (unsigned)id->gid);
	return rc;
}

/* Take charge of throttle c and publish it.  0, or a negative errno with the
 * reason logged. */
static int manage_one(struct daemon_state *s, const struct throttle_config *c, unsigned how)
{
	char err[512];
	struct managed *m = malloc(sizeof *m);
	if (m == NULL) {
		log_error("throttle '%s': out of memory", c->name);
		return -ENOMEM;
	}
	int rc = regions_manage(c, how, m, err, sizeof err);
	if (rc < 0) {
		log_error("%s", err);
		free(m);
		return rc;
	}
	rc = registry_add(&s->reg, m);
	if (rc < 0) {
		log_error("throttle '%s': out of memory", c->name);
		regions_release(m);
		free(m);
	}
	return rc;
}

/* Every configured throttle that can be managed is: one refused never stops the
 * others.  Returns how many are managed. */
static size_t manage_all(struct daemon_state *s, const struct daemon_config *c, unsigned how)
{
	size_t ok = 0;
	for (size_t i = 0; i < c->n; i++)
		ok += manage_one(s, &c->throttles[i], how) == 0;
	return ok;
}

/* Stop managing m once the housekeeping thread cannot see it; its region stays.
 * 0, or -ENOMEM (logged; m stays managed). */
static int release_one(struct daemon_state *s, struct managed *m)
{
	int rc = registry_remove(&s->reg, m);
	if (rc < 0) {
		log_error("throttle '%s': out of memory; it stays managed", m->name);
		return rc;
	}
	regions_release(m);
	free(m);
	return 0;
}

/* Release the managed throttles next does not name. */
static void release_dropped(struct daemon_state *s, const struct daemon_config *next)
{
	const struct registry *r;
	for (size_t i = 0; i < (r = registry_get(&s->reg))->n;) {
		struct managed *m = r->m[i];
		if (config_find(next, m->name) != NULL) {
			i++;
			continue;
		}
		log_info("throttle '%s' is no longer configured: released; its region stays for "
		         "its clients (" PROG " --remove %s deletes it)", m->name, m->name);
		if (release_one(s, m) < 0) /* else r is freed: read the registry again */
			i++;
	}
}

/* Apply a new configuration to the running regions; new throttles are created,
 * dropped ones released. */
static void apply_reload(struct daemon_state *s, struct daemon_config *next)
{
	char err[512];
	for (size_t i = 0; i < next->n; i++) {
		struct throttle_config *c = &next->throttles[i];
		struct managed *m = registry_find(&s->reg, c->name);
		if (m == NULL) {
			manage_one(s, c, 0);
			continue;
		}
		int rc = regions_reload(m, c, err, sizeof err);
		if (rc != 0)
			log_msg(rc < 0 ? LOG_ERROR : LOG_WARNING, "%s", err);
	}
	release_dropped(s, next);
}

/* Log each line of config_load()'s messages at level l. */
static void log_lines(enum log_level l, char *msg)
{
	char *save;
	for (char *line = strtok_r(msg, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		log_msg(l, "%s", line);
}

static void free_config(struct daemon_config *c)
{
	if (c != NULL)
		config_free(c);
	free(c);
}

static void reload(struct daemon_state *s)
{
	char msg[8192];
	struct daemon_config *next = malloc(sizeof *next);
	if (next == NULL || config_load(s->cfg->path, next, msg, sizeof msg) < 0) {
		log_error("reload refused, the running configuration stays:%s",
		          next == NULL ? " out of memory" : "");
		if (next != NULL)
			log_lines(LOG_ERROR, msg);
		free(next);
		return;
	}
	log_lines(LOG_WARNING, msg);
	int rc = log_configure(&next->log, PROG);
	if (rc < 0)
		log_error("reload: log settings not applied: %s", file_strerror(rc));
	apply_reload(s, next);
	struct daemon_config *old = s->cfg;
	/* Pairs with the acquire load in read_settings(). */
	atomic_store_explicit(&s->cfg, next, memory_order_release);
	synchronize_rcu(); /* no reader still holds old */
	rcu_grace_period_done_for_tsan();
	free_config(old);
	log_info("configuration reloaded from %s", next->path);
}

static int serve(struct daemon_state *s, sigset_t *sigs)
{
	if (housekeeping_start(s) != 0) {
		log_error("cannot start the housekeeping thread");
		return 1;
	}
	log_info("running (pid %d), %zu of %zu throttle(s) managed", (int)getpid(),
	         registry_get(&s->reg)->n, s->cfg->n);
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

static void release_all(struct daemon_state *s)
{
	if (s->reg == NULL)
		return;
	const struct registry *r = registry_get(&s->reg);
	for (size_t i = 0; i < r->n; i++) {
		regions_release(r->m[i]);
		free(r->m[i]);
	}
	registry_free(&s->reg);
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
	if (ready_fd < 0 && !a->foreground) {
		free_config(cfg);
		log_close();
		return 1;
	}
	/* A copy: a reload frees cfg, and the pidfile written is the one removed. */
	char pidfile[PATH_MAX];
	snprintf(pidfile, sizeof pidfile, "%s",
	         a->pidfile != NULL ? a->pidfile : a->foreground ? "" : cfg->pidfile);
	int pid_fd = pidfile[0] == '\0' ? -1 : open_pidfile(pidfile);
	int rc = 1;
	if ((pidfile[0] != '\0' && pid_fd < 0) || become(id) < 0) {
		/* logged */
	} else if (registry_init(&s.reg) < 0) {
		log_error("out of memory");
	} else if (manage_all(&s, cfg, (a->recreate ? REGIONS_RECREATE : 0) |
	                                   (a->force ? REGIONS_FORCE : 0)) == 0) {
		log_error("no throttle could be managed: not starting");
	} else {
		int fd = pid_fd;
		pid_fd = -1; /* write_pidfile() closes it */
		if (fd < 0 || write_pidfile(pidfile, fd) == 0) {
			ready(&ready_fd, 0);
			rc = serve(&s, &sigs);
		}
	}
	if (pid_fd >= 0)
		close(pid_fd);
	ready(&ready_fd, 1); /* when the start failed */
	release_all(&s);
	if (pidfile[0] != '\0' && rc == 0)
		unlink(pidfile);
	free_config(s.cfg);
	log_close();
	return rc;
}

/* --check-config: the user the daemon would run as exists and may give each
 * throttle its group.  0, or 1 with every problem printed. */
static int check_identity(const struct args *a, const struct daemon_config *cfg,
                          struct identity *idp)
{
	char err[512];
	struct identity id;
	const char *user = a->user != NULL ? a->user : cfg->user;
	if (privileges_resolve(user, cfg->group, &id, err, sizeof err) < 0) {
		fprintf(stderr, PROG ": %s: %s\n", a->config, err);
		return 1;
	}
	*idp = id;
	if (privileges_may_become(&id, err, sizeof err) < 0)
		fprintf(stderr, PROG ": note: %s; the file itself is checked as that user's\n", err);
	/* A throttle whose group the daemon cannot use is refused at start, and the
	 * others run: a warning here, not a failure (the unit runs this check first). */
	for (size_t i = 0; i < cfg->n; i++) {
		const struct throttle_config *t = &cfg->throttles[i];
		struct group *g = t->group[0] != '\0' ? getgrnam(t->group) : NULL;
		if (g == NULL || privileges_may_use_group(&id, g->gr_gid))
			continue;
		fprintf(stderr,
		        PROG ": %s:%d: throttle '%s' will be refused: group \"%s\": evthrottled's user "
		        "(uid %u) is not in it, so chgrp would fail (add the user to the group, e.g. "
		        "\"m %s %s\" in sysusers.d or SupplementaryGroups=%s in the unit)\n",
		        a->config, t->line, t->name, t->group, (unsigned)id.uid,
		        id.user[0] != '\0' ? id.user : "USER", t->group, t->group);
	}
	return 0;
}

/* Who the daemon will run as, and its run directory: checked before anything is
 * made. */
static int prepare(const struct args *a, const struct daemon_config *cfg, struct identity *id)
{
	char err[512];
	const char *dir = a->run_dir != NULL ? a->run_dir : cfg->run_dir;
	const char *user = a->user != NULL ? a->user : cfg->user;
	int rc = privileges_resolve(user, cfg->group, id, err, sizeof err);
	if (rc == 0)
		rc = privileges_may_become(id, err, sizeof err);
	if (rc == 0)
		rc = runlock_init(dir, id->uid, id->gid, err, sizeof err);
	if (rc < 0) {
		log_error("%s", err);
		return rc;
	}
	if (id->uid == 0)
		log_warning("running as root (daemon.user = \"root\"): every capability for the "
		            "daemon's whole life; set another user");
	return 0;
}

/* --check-config: the file is valid; say what it creates and which existing
 * regions it does not fit.  Those do not make the check fail: the daemon
 * manages the other throttles. */
static void check_config(const struct daemon_config *c, const char *path, uid_t uid)
{
	printf("%s: OK\n", path);
	config_describe(c, stdout);
	for (size_t i = 0; i < c->n; i++) {
		const char *name = c->throttles[i].name;
		char why[160];
		int rc = regions_check(&c->throttles[i], uid, why, sizeof why);
		if (rc > 0)
			printf("throttle %s: the existing region needs --recreate (%s); until then the "
			       "daemon refuses it and manages the others\n", name, why);
		else if (rc < 0)
			printf("throttle %s: cannot compare with the existing region: %s\n", name,
			       evt_strerror(rc));
	}
}

/* --remove NAME: under the run directory's lock of the daemon that would manage
 * it (--run-dir, else -c FILE's daemon.run_dir, else the default).  A missing run
 * directory means no daemon holds a lock there: nothing is created then. */
static int remove_one(const struct args *a, const struct daemon_config *cfg)
{
	char err[1024];
	const char *dir = a->run_dir != NULL ? a->run_dir
	                  : cfg != NULL    ? cfg->run_dir
	                                   : RUNLOCK_DIR_DEFAULT;
	int rc = runlock_open(dir, err, sizeof err);
	if (rc == 0)
		rc = regions_remove(a->remove, a->force, err, sizeof err);
	if (rc < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	printf("removed throttle '%s'\n", a->remove);
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	char pidfile[PATH_MAX];
	if (parse_args(argc, argv, &a) < 0) {
		usage(stderr);
		return 2;
	}
	if (absolute_pidfile(&a, pidfile, sizeof pidfile) < 0)
		return 1;
	char err[8192];
	int rc;
	struct daemon_config *cfg = a.config != NULL ? malloc(sizeof *cfg) : NULL;
	if (a.config != NULL && (cfg == NULL || config_load(a.config, cfg, err, sizeof err) < 0)) {
		fprintf(stderr, cfg == NULL ? PROG ": out of memory\n" : "%s", err);
		free(cfg);
		return 1;
	}
	if (cfg != NULL)
		fputs(err, stderr); /* warnings */
	if (a.remove != NULL) {
		rc = remove_one(&a, cfg);
		free_config(cfg);
		return rc;
	}
	if (a.check) {
		struct identity id;
		rc = check_identity(&a, cfg, &id);
		if (rc == 0)
			check_config(cfg, a.config, id.uid);
		free_config(cfg);
		return rc;
	}
	rc = log_configure(&cfg->log, PROG);
	if (rc < 0) {
		fprintf(stderr, PROG ": log file in %s: %s\n", cfg->log.directory, file_strerror(rc));
		free_config(cfg);
		return 1;
	}
	struct identity id;
	rc = busguard_install();
	if (rc < 0)
		log_warning("no SIGBUS guard: %s; a truncated region may end the daemon", strerror(-rc));
	if (prepare(&a, cfg, &id) < 0) {
		free_config(cfg);
		return 1;
	}
	return run(&a, cfg, &id);
}
