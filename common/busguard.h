/* A shared-memory region that someone shrank (ftruncate) raises SIGBUS in the
 * thread that touches its missing pages.  The daemon and the tools run their
 * rounds under busguard_run(), so that such a SIGBUS ends the round, not the
 * process.  Never for the library's clients: a process-wide signal handler belongs
 * to the application (see the trust boundary in the README). */
#ifndef EVT_BUSGUARD_H
#define EVT_BUSGUARD_H

/* Install the SIGBUS handler (once, at start).  0 or -errno.  A SIGBUS outside
 * busguard_run() keeps its default action: the process dies of it. */
int busguard_install(void);

/* fn(arg)'s result, or -EFAULT if a SIGBUS in this thread ended it early.
 * Per thread; not nested.  fn must hold no lock while it reads the region. */
int busguard_run(int (*fn)(void *), void *arg);

#endif
