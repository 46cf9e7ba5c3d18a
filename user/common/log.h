/* SPDX-License-Identifier: MIT */
/*
 * Leveled logging for sluice's user-space programs, with libbpf's own
 * messages routed through it one level down.
 *
 * API:
 *   sl_log(level, fmt, ...)         print at a level (printf-checked)
 *   pr_err/pr_warn/pr_info/pr_debug shorthands
 *   sl_log_set_level(level)         drop messages above this level
 *   sl_log_set_handler(fn)          send messages to fn instead of stderr
 *   sl_log_route_libbpf()           install the libbpf_set_print hook
 *   sl_log_level_name(level)        "error", "warning", ...
 */
#ifndef SLUICE_LOG_H
#define SLUICE_LOG_H

#include <stdarg.h>

enum sl_log_level {
	SL_LOG_ERR = 0,
	SL_LOG_WARN = 1,
	SL_LOG_INFO = 2,
	SL_LOG_DEBUG = 3,
	SL_LOG_TRACE = 4,	/* libbpf's debug messages land here */
};

/* A handler receives the formatted message without a trailing newline. */
typedef void (*sl_log_handler_t)(enum sl_log_level level, const char *msg);

void sl_log(enum sl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sl_vlog(enum sl_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
void sl_log_set_level(enum sl_log_level level);
enum sl_log_level sl_log_get_level(void);
void sl_log_set_handler(sl_log_handler_t fn);
void sl_log_route_libbpf(void);
const char *sl_log_level_name(enum sl_log_level level);

#define pr_err(...)   sl_log(SL_LOG_ERR, __VA_ARGS__)
#define pr_warn(...)  sl_log(SL_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  sl_log(SL_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) sl_log(SL_LOG_DEBUG, __VA_ARGS__)

#endif /* SLUICE_LOG_H */
