/* SPDX-License-Identifier: MIT */
/*
 * The daemon's heap: one malloc arena, so that what the IO loops free
 * after a burst goes back to the system (memory.c says why).
 *
 * API:
 *   sld_memory_init()
 *       first thing in main, before any thread: one arena for every
 *       thread; 0 (at once with SLD_OWN_ALLOCATOR), or -EINVAL if the C
 *       library refused (then threads get arenas of their own and the RSS
 *       keeps the largest burst's pages)
 *   sld_memory_release()
 *       hand the heap's free pages back to the system, its free end
 *       included (the loops call it after a burst and when idle, server.c)
 */
#ifndef SLD_MEMORY_H
#define SLD_MEMORY_H

/* ASan and TSan bring an allocator of their own, without glibc's arenas:
 * sld_memory_init has nothing to limit, and a freed burst is theirs to
 * keep (in quarantine, for ASan). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLD_OWN_ALLOCATOR 1
#else
#define SLD_OWN_ALLOCATOR 0
#endif

int sld_memory_init(void);
void sld_memory_release(void);

#endif
