// SPDX-License-Identifier: MIT
/*
 * The pool's clock. Stamping every submitted task must cost a few ns, and
 * clock_gettime costs ~30 ns on this kind of VM, so on x86 with an invariant
 * TSC we read the TSC and convert, calibrated once against CLOCK_MONOTONIC.
 * Elsewhere ticks are CLOCK_MONOTONIC ns.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int pool__use_tsc;
uint64_t pool__tick_mult = 1ull << 32;
static uint64_t base_ticks, base_ns;
static pthread_once_t clock_once = PTHREAD_ONCE_INIT;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t pool__ticks_slow(void)
{
	return mono_ns();
}

static bool tsc_invariant(void)
{
#if defined(__x86_64__)
	char line[4096];
	bool constant = false, nonstop = false;
	FILE *f = fopen("/proc/cpuinfo", "r");

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		constant = strstr(line, " constant_tsc") != NULL;
		nonstop = strstr(line, " nonstop_tsc") != NULL;
		break;
	}
	fclose(f);
	return constant && nonstop;
#else
	return false;
#endif
}

static void clock_init_once(void)
{
	uint64_t t0, n0, t1, n1;
	struct timespec pause = { 0, 2000000 };

	base_ns = mono_ns();
	base_ticks = base_ns;
	if (!tsc_invariant())
		return;
#if defined(__x86_64__)
	n0 = mono_ns();
	t0 = __builtin_ia32_rdtsc();
	nanosleep(&pause, NULL);
	n1 = mono_ns();
	t1 = __builtin_ia32_rdtsc();
	if (t1 <= t0 || n1 <= n0)
		return;
	pool__tick_mult = (uint64_t)(((unsigned __int128)(n1 - n0) << 32) /
				     (t1 - t0));
	base_ticks = t1;
	base_ns = n1;
	pool__use_tsc = 1;
#else
	(void)t0, (void)n0, (void)t1, (void)n1, (void)pause;
#endif
}

void pool__clock_init(void)
{
	pthread_once(&clock_once, clock_init_once);
}

uint64_t pool__ticks_to_mono_ns(uint64_t ticks)
{
	if (!pool__use_tsc)
		return ticks;
	if (ticks >= base_ticks)
		return base_ns + pool__ticks_to_ns(ticks - base_ticks);
	return base_ns - pool__ticks_to_ns(base_ticks - ticks);
}

uint64_t pool_now_ns(void)
{
	pool__clock_init();
	return pool__ticks_to_mono_ns(pool__ticks());
}
