/* SPDX-License-Identifier: MIT */
/*
 * Parsers for what users type: integers with ranges, rates with k/M
 * suffixes, ports, PROTO/PORT, CIDRs, actions. Pure functions: no I/O, no
 * global state but the last error message.
 *
 * Each returns 0, or -EINVAL (malformed) / -ERANGE (out of range) and sets
 * a message naming the bad value and what was expected, read with
 * sl_parse_errmsg() (thread-local, valid until the next failing call).
 *
 * API:
 *   sl_parse_fail(err, fmt, ...)       set the message, return err (for
 *                                      parsers built on these)
 *   sl_parse_u64(s, min, max, &v)      decimal or 0x-hex integer in [min, max]
 *   sl_parse_u32(s, min, max, &v)
 *   sl_parse_rate(s, min, max, &v)     integer with optional k (1e3) or M (1e6)
 *   sl_parse_port(s, &port)            1..65535
 *   sl_parse_proto(s, &proto)          tcp | udp
 *   sl_parse_proto_port(s, &p, &port)  "tcp/8080"
 *   sl_parse_cidr(s, &cidr)            "198.18.0.0/15", "2001:db8::/32", bare
 *                                      address = host prefix; host bits set
 *                                      past the prefix length is an error
 *   sl_parse_action(s, &action)        drop | reject | mark
 *   sl_format_cidr(&cidr, buf, len)    canonical text form
 *   sl_format_service(proto, port, buf, len)   "tcp/8080"
 *   sl_proto_name(proto), sl_action_name(action)
 */
#ifndef SLUICE_PARSE_H
#define SLUICE_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sluice/abi.h>

#define SL_CIDR_STRLEN 48	/* "ffff:...:ffff/128" + NUL fits */
#define SL_SERVICE_STRLEN 12	/* "tcp/65535" + NUL fits */

struct sl_cidr {
	uint8_t family;		/* 4 or 6 */
	uint8_t prefixlen;
	uint8_t addr[16];	/* network byte order; IPv4 in addr[0..3] */
};

const char *sl_parse_errmsg(void);
int sl_parse_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

int sl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int sl_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
int sl_parse_rate(const char *s, uint32_t min, uint32_t max, uint32_t *out);
int sl_parse_port(const char *s, uint16_t *port);
int sl_parse_proto(const char *s, enum sl_proto *proto);
int sl_parse_proto_port(const char *s, enum sl_proto *proto, uint16_t *port);
int sl_parse_cidr(const char *s, struct sl_cidr *out);
int sl_parse_action(const char *s, enum sl_action *action);

int sl_format_cidr(const struct sl_cidr *c, char *buf, size_t len);
int sl_format_service(enum sl_proto proto, uint16_t port, char *buf, size_t len);
const char *sl_proto_name(unsigned int proto);
const char *sl_action_name(unsigned int action);

#endif /* SLUICE_PARSE_H */
