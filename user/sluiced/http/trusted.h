/* SPDX-License-Identifier: MIT */
/*
 * The proxies whose X-Forwarded-For the reverse proxy believes
 * (--trusted-proxies CIDR,...): from any other peer a client-supplied
 * X-Forwarded-For or Forwarded is dropped and replaced by the peer's own
 * address, so upstream allow-lists and per-client limits see the real
 * source.
 *
 * API:
 *   sld_trusted_parse(list, &t)     "10.0.0.0/8,2001:db8::/32" ("" = none);
 *                                   0 or -EINVAL (-E2BIG past SLD_MAX_TRUSTED)
 *   sld_trusted_match(&t, sa)       the address is inside one of them
 *                                   (an IPv4-mapped IPv6 peer as IPv4)
 */
#ifndef SLUICED_TRUSTED_H
#define SLUICED_TRUSTED_H

#include <stdbool.h>
#include <sys/socket.h>

#include "parse.h"

#define SLD_MAX_TRUSTED 16

struct sld_trusted {
	unsigned n;
	struct sl_cidr cidr[SLD_MAX_TRUSTED];
};

int sld_trusted_parse(const char *list, struct sld_trusted *out);
bool sld_trusted_match(const struct sld_trusted *t, const struct sockaddr *sa);

#endif /* SLUICED_TRUSTED_H */
