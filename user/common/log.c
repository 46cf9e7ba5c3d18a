// SPDX-License-Identifier: MIT
/*
 * Leveled logging: messages at or below the current level go to a handler
 * (stderr by default, "sluicectl: error: ..." style); libbpf's messages come
 * in through libbpf_set_print one level below their own, so its warnings
 * only show with -v and our single, contextual error message stays the one
 * the user reads.
 */
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <bpf/libbpf.h>

#include "log.h"

/* Read by every thread that logs, set by a reload on another: atomic,
 * relaxed (a level is a value on its own; nothing else hangs on it). */
static _Atomic int cur_level = SL_LOG_WARN;
static sl_log_handler_t handler;

const char *sl_log_level_name(enum sl_log_level level)
{
	switch (level) {
	case SL_LOG_ERR:
		return "error";
	case SL_LOG_WARN:
		return "warning";
	case SL_LOG_INFO:
		return "info";
	case SL_LOG_DEBUG:
		return "debug";
	default:
		return "trace";
	}
}

void sl_log_set_level(enum sl_log_level level)
{
	atomic_store_explicit(&cur_level, (int)level, memory_order_relaxed);
}

enum sl_log_level sl_log_get_level(void)
{
	return (enum sl_log_level)atomic_load_explicit(&cur_level, memory_order_relaxed);
}

void sl_log_set_handler(sl_log_handler_t fn)
{
	handler = fn;
}

void sl_vlog(enum sl_log_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	if ((int)level > atomic_load_explicit(&cur_level, memory_order_relaxed))
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (handler) {
		handler(level, buf);
		return;
	}
	fprintf(stderr, "%s: %s\n", sl_log_level_name(level), buf);
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum sl_log_level ours;

	switch (level) {
	case LIBBPF_WARN:
		ours = SL_LOG_INFO;
		break;
	case LIBBPF_INFO:
		ours = SL_LOG_DEBUG;
		break;
	default:
		ours = SL_LOG_TRACE;
		break;
	}
	if ((int)ours > atomic_load_explicit(&cur_level, memory_order_relaxed))
		return 0;
	sl_vlog(ours, fmt, ap);
	return 0;
}

void sl_log_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
