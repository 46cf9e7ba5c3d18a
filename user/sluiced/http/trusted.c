// SPDX-License-Identifier: MIT
/*
 * The trusted proxies' prefixes (trusted.h): a comma-separated list of
 * CIDRs parsed by the common parser, matched bit by bit.
 */
#include "trusted.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

int sld_trusted_parse(const char *list, struct sld_trusted *out)
{
	struct sld_trusted t = { 0 };
	char item[SL_CIDR_STRLEN];
	const char *p = list;

	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		if (t.n == SLD_MAX_TRUSTED)
			return -E2BIG;
		memcpy(item, p, len);
		item[len] = '\0';
		if (sl_parse_cidr(item, &t.cidr[t.n]))
			return -EINVAL;
		t.n++;
		p += len + (comma ? 1 : 0);
		if (comma && !*p)
			return -EINVAL;	/* a trailing comma */
	}
	*out = t;
	return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, net, whole) != 0)
		return false;
	return !rest || ((a[whole] ^ net[whole]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

bool sld_trusted_match(const struct sld_trusted *t, const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a;
	uint8_t family;

	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
		family = 4;
	} else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		family = 6;
		if (memcmp(a, mapped, sizeof(mapped)) == 0) {
			a += 12;
			family = 4;
		}
	} else {
		return false;
	}
	for (unsigned i = 0; i < t->n; i++)
		if (t->cidr[i].family == family &&
		    prefix_match(a, t->cidr[i].addr, t->cidr[i].prefixlen))
			return true;
	return false;
}
