/*
 * Linked into every Criterion suite of a ThreadSanitizer build (tests/meson.build):
 * what Criterion 2.4 needs to run under TSan.
 *
 * 1. Its sandbox must start (upstream: Snaipe/Criterion#274, open).  BoxFort, the
 * sandbox, maps each of its shared arenas (the runner's "inheritable arena", one per
 * test's context) with MAP_FIXED at
 *     0x200000000000 + ((rand_r(&seed) & 0x3fffff) << 24),
 * ten tries, a try refused when mincore() finds a page there already mapped.  That
 * range, [0x2000'0000'0000, 0x6000'0000'0000), is nearly all TSan's: its shadow and
 * metadata, or the PROT_NONE guards TSan maps between its regions; and TSan's mmap()
 * refuses MAP_FIXED outside application memory.  Only one application range lies
 * inside, [0x5500'0000'0000, 0x5680'0000'0000) (PIE executables), 2.3% of the
 * candidates: the runner aborts with "Could not initialize inheritable arena:
 * Resource temporarily unavailable" about 8 times in 10, and when it does start, an
 * unchecked failure of the next arena crashes it.
 *
 * The executable's rand_r() comes before libc's (and TSan's) in symbol lookup, so
 * BoxFort calls the one below.  For callers inside libcriterion it keeps the 22 bits
 * BoxFort uses in the part of that application range below any PIE executable,
 * [0x5500'0000'0000, 0x5555'0000'0000) (the kernel loads PIE executables from
 * 0x5555'5555'4000 up): every try is an address TSan accepts and nothing else maps,
 * in the runner and in the test processes it re-executes alike.  Every other caller
 * (the tests themselves) gets libc's rand_r() unchanged.  Should a later Criterion
 * choose its addresses otherwise, the runner fails loudly as before: no test can
 * pass without running.
 *
 * 2. A race must fail its test.  By default TSan reports and carries on, and sets
 * the exit status (66) only when the process exits, after the test has already
 * told the runner it passed: Criterion ignores the status then.  halt_on_error=1
 * (below, the default; TSAN_OPTIONS adds to it) ends the test's process at the first
 * report, and Criterion counts the test failed.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BXF_MASK 0x3fffffu                                  /* bits BoxFort uses */
#define BXF_BASE 0x200000000000ull                          /* of its range */
#define BXF_STEP 24                                         /* 16 MiB apart */
#define APP_LO ((0x550000000000ull - BXF_BASE) >> BXF_STEP) /* 0x350000 */
#define APP_HI ((0x555500000000ull - BXF_BASE) >> BXF_STEP) /* 0x355500 */

static int (*_Atomic libc_rand_r)(unsigned *);
static _Atomic uintptr_t crit_lo, crit_hi; /* libcriterion's code; set once */
static atomic_bool crit_known;

static int find_criterion(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (!info->dlpi_name || !strstr(info->dlpi_name, "/libcriterion.so"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
			uintptr_t lo = info->dlpi_addr + p->p_vaddr;
			atomic_store_explicit(&crit_lo, lo, memory_order_relaxed);
			atomic_store_explicit(&crit_hi, lo + p->p_memsz, memory_order_relaxed);
		}
	}
	return 1;
}

int rand_r(unsigned *seed)
{
	int (*next)(unsigned *) = atomic_load_explicit(&libc_rand_r, memory_order_acquire);
	if (!next) {
		next = (int (*)(unsigned *))dlsym(RTLD_NEXT, "rand_r");
		if (!next)
			abort();
		atomic_store_explicit(&libc_rand_r, next, memory_order_release);
	}
	int r = next(seed);

	if (!atomic_load_explicit(&crit_known, memory_order_acquire)) {
		dl_iterate_phdr(find_criterion, NULL);
		atomic_store_explicit(&crit_known, true, memory_order_release);
	}
	uintptr_t caller = (uintptr_t)__builtin_extract_return_addr(__builtin_return_address(0));
	if (caller >= atomic_load_explicit(&crit_lo, memory_order_relaxed) &&
	    caller < atomic_load_explicit(&crit_hi, memory_order_relaxed))
		r = (int)(((unsigned)r & ~BXF_MASK) | (APP_LO + (unsigned)r % (APP_HI - APP_LO)));
	return r;
}

/* TSan reads its defaults from here before TSAN_OPTIONS. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
	return "halt_on_error=1";
}
