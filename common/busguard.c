#include "busguard.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>

static _Thread_local sigjmp_buf *armed;

static void on_sigbus(int sig, siginfo_t *si, void *ctx)
{
	(void)si;
	(void)ctx;
	if (armed != NULL)
		siglongjmp(*armed, 1);
	/* Not ours: the faulting access runs again and the default action ends the
	 * process, as without the handler. */
	signal(sig, SIG_DFL);
}

int busguard_install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGBUS, &sa, NULL) < 0 ? -errno : 0;
}

int busguard_run(int (*fn)(void *), void *arg)
{
	sigjmp_buf here;
	/* 1: the mask saved here is restored, so SIGBUS is unblocked again. */
	if (sigsetjmp(here, 1) != 0) {
		armed = NULL;
		return -EFAULT;
	}
	armed = &here;
	/* The handler runs in this thread: keep the compiler from moving the region's
	 * reads across the arming and disarming. */
	atomic_signal_fence(memory_order_seq_cst);
	int rc = fn(arg);
	atomic_signal_fence(memory_order_seq_cst);
	armed = NULL;
	return rc;
}
