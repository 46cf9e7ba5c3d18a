/* SPDX-License-Identifier: MIT */
/*
 * The per-source exceptions of sl_src_quota (abi.h), as sluicectl shows
 * them: each source prefix of a service with its own rate, or refused.
 * sluiced's fleet quotas set them (user/sluiced/fleet.c).
 *
 * API:
 *   sl_src_quota_list(p, &out, &n)   malloc'd array, sorted by service and key
 *   sl_src_key_cidr(&key, &cidr)      the key's source prefix as a CIDR
 *   sl_src_quota_format(&q, buf, len) "33.333/s burst 3", "refused"
 */
#ifndef SLUICE_SRCQUOTA_H
#define SLUICE_SRCQUOTA_H

#include <stddef.h>

#include "parse.h"
#include "pins.h"

struct sl_src_quota_entry {
	struct sl_src_key key;
	struct sl_src_quota quota;
};

int sl_src_quota_list(const struct sl_pins *p, struct sl_src_quota_entry **out, size_t *n);
void sl_src_key_cidr(const struct sl_src_key *k, struct sl_cidr *c);
int sl_src_quota_format(const struct sl_src_quota *q, char *buf, size_t len);

#endif /* SLUICE_SRCQUOTA_H */
