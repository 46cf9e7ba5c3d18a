// SPDX-License-Identifier: MIT
/*
 * One malloc arena for the whole daemon (glibc's M_ARENA_MAX = 1).
 *
 * By default glibc gives each thread that allocates an arena of its own
 * (up to eight per core), and an IO loop's connections (struct and head
 * buffer, 7 KiB: server.c) live in its worker's arena. malloc_trim gives
 * back the free pages inside every arena's free chunks, but an arena's
 * top (the free space at its end, where a burst's connections go back
 * when they are freed) only in the main arena: a thread arena's top is
 * shrunk on a free alone, and only past M_TRIM_THRESHOLD, keeping
 * M_TOP_PAD (128 KiB) resident. So each burst that reached deeper into
 * the top than the last left its pages resident for good: the serving
 * daemon's RSS rose in steps of 8 to 56 KiB, +2.3% in a 30-minute make
 * soak, and at idle its worker's arena held 308 KiB of free top resident
 * (read from the arena's chunks, /proc/PID/mem and pagemap) beside 264
 * KiB of connections in use.
 *
 * With one arena the loops' malloc_trim(0) returns the top as well (the
 * main arena's is cut back to its last chunk in use), so the RSS follows
 * what the daemon holds, as in nginx, whose workers are single-threaded
 * processes. The price is one lock for the threads' allocations: the
 * workers allocate little (a loop keeps its closed connections for reuse,
 * CONN_CACHE, and a request lives in its connection's buffers), and
 * allocations up to 1 KiB come from glibc's per-thread cache (tcache)
 * without taking it.
 *
 * With ASan or TSan their allocator replaces glibc's (SLD_OWN_ALLOCATOR):
 * malloc_trim then acts on an arena nothing uses, which is harmless.
 */
#include <errno.h>
#include <malloc.h>

#include "memory.h"

int sld_memory_init(void)
{
	if (SLD_OWN_ALLOCATOR)
		return 0;
	return mallopt(M_ARENA_MAX, 1) == 1 ? 0 : -EINVAL;
}

void sld_memory_release(void)
{
	malloc_trim(0);
}
