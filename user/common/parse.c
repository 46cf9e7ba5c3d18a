// SPDX-License-Identifier: MIT
/*
 * Parsers for command-line values (see parse.h). Strict: no leading sign,
 * no trailing characters, no silent wrap-around, and an error message that
 * quotes the bad value and says what was expected.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

static __thread char errmsg[256];

const char *sl_parse_errmsg(void)
{
	return errmsg;
}

int sl_parse_fail(int err, const char *fmt, ...)
{
	char msg[sizeof(errmsg)];
	va_list ap;

	/* Via a copy: the arguments may point into errmsg itself. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(errmsg, msg, sizeof(errmsg));
	return err;
}

#define fail sl_parse_fail

/*
 * Digits only (decimal, or hex after 0x), into *out; *end points past the
 * digits. -ERANGE on overflow of 64 bits.
 */
static int scan_u64(const char *s, uint64_t *out, const char **end)
{
	unsigned int base = 10;
	uint64_t v = 0;
	const char *p = s;
	int any = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = (tolower((unsigned char)*p) - 'a') + 10;
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
		any = 1;
	}
	if (!any)
		return -EINVAL;
	*out = v;
	*end = p;
	return 0;
}

int sl_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	const char *end;
	uint64_t v;
	int err;

	if (!s || !*s)
		return fail(-EINVAL, "empty value, expected an integer %llu..%llu",
			    (unsigned long long)min, (unsigned long long)max);
	err = scan_u64(s, &v, &end);
	if (err == -ERANGE)
		goto range;
	if (err || *end)
		return fail(-EINVAL, "'%s' is not an integer, expected %llu..%llu", s,
			    (unsigned long long)min, (unsigned long long)max);
	if (v < min || v > max)
		goto range;
	*out = v;
	return 0;
range:
	return fail(-ERANGE, "'%s' is out of range, expected %llu..%llu", s,
		    (unsigned long long)min, (unsigned long long)max);
}

int sl_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v;
	int err;

	err = sl_parse_u64(s, min, max, &v);
	if (!err)
		*out = (uint32_t)v;
	return err;
}

int sl_parse_rate(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t v, mult = 1;
	const char *end;
	int err;

	if (!s || !*s)
		return fail(-EINVAL, "empty rate, expected an integer %u..%u (k and M suffixes allowed)",
			    min, max);
	err = scan_u64(s, &v, &end);
	if (err == -ERANGE)
		goto range;
	if (err)
		goto bad;
	if (*end == 'k' || *end == 'K')
		mult = 1000;
	else if (*end == 'M')
		mult = 1000000;
	else if (*end)
		goto bad;
	if (mult != 1 && end[1])
		goto bad;
	if (v > UINT64_MAX / mult)
		goto range;
	v *= mult;
	if (v < min || v > max)
		goto range;
	*out = (uint32_t)v;
	return 0;
bad:
	return fail(-EINVAL, "'%s' is not a rate, expected an integer %u..%u with an optional k or M suffix",
		    s, min, max);
range:
	return fail(-ERANGE, "'%s' is out of range, expected %u..%u", s, min, max);
}

int sl_parse_port(const char *s, uint16_t *port)
{
	const char *end;
	uint64_t v;
	int err;

	if (!s || !*s)
		return fail(-EINVAL, "empty port, expected 1..65535");
	/* Ports are decimal only: "0x50" is more likely a typo than intent. */
	if (!isdigit((unsigned char)s[0]) || (s[0] == '0' && s[1] == 'x'))
		return fail(-EINVAL, "'%s' is not a port, expected 1..65535", s);
	err = scan_u64(s, &v, &end);
	if (err == -ERANGE || (!err && !*end && (v < 1 || v > 65535)))
		return fail(-ERANGE, "port '%s' is out of range, expected 1..65535", s);
	if (err || *end)
		return fail(-EINVAL, "'%s' is not a port, expected 1..65535", s);
	*port = (uint16_t)v;
	return 0;
}

int sl_parse_proto(const char *s, enum sl_proto *proto)
{
	if (s && !strcasecmp(s, "tcp")) {
		*proto = SL_PROTO_TCP;
		return 0;
	}
	if (s && !strcasecmp(s, "udp")) {
		*proto = SL_PROTO_UDP;
		return 0;
	}
	return fail(-EINVAL, "unknown protocol '%s', expected tcp or udp", s ? s : "");
}

int sl_parse_proto_port(const char *s, enum sl_proto *proto, uint16_t *port)
{
	char name[8];
	const char *slash;
	size_t n;
	int err;

	slash = s ? strchr(s, '/') : NULL;
	if (!slash)
		return fail(-EINVAL, "'%s' is not a service, expected PROTO/PORT such as tcp/8080",
			    s ? s : "");
	n = (size_t)(slash - s);
	if (n == 0 || n >= sizeof(name))
		return fail(-EINVAL, "unknown protocol in '%s', expected tcp or udp", s);
	memcpy(name, s, n);
	name[n] = '\0';
	err = sl_parse_proto(name, proto);
	if (err)
		return fail(err, "unknown protocol '%s' in '%s', expected tcp or udp", name, s);
	err = sl_parse_port(slash + 1, port);
	if (err)
		return fail(err, "in service '%s': %s", s, errmsg);
	return 0;
}

static void mask_addr(uint8_t *addr, unsigned int bytes, unsigned int prefixlen, uint8_t *masked)
{
	for (unsigned int i = 0; i < bytes; i++) {
		unsigned int bits = prefixlen > i * 8 ? prefixlen - i * 8 : 0;

		masked[i] = bits >= 8 ? addr[i] : addr[i] & (uint8_t)(0xff00u >> bits);
	}
}

int sl_parse_cidr(const char *s, struct sl_cidr *out)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash;
	struct sl_cidr c = {0};
	unsigned int bytes, maxlen;
	uint8_t masked[16];
	size_t n;

	if (!s || !*s)
		return fail(-EINVAL, "empty prefix, expected ADDR/LEN such as 198.18.0.0/15");
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (n == 0 || n >= sizeof(addr))
		goto bad;
	memcpy(addr, s, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, c.addr) == 1) {
		c.family = 4;
		maxlen = 32;
	} else if (inet_pton(AF_INET6, addr, c.addr) == 1) {
		c.family = 6;
		maxlen = 128;
	} else {
		goto bad;
	}
	bytes = maxlen / 8;
	if (slash) {
		uint64_t len;
		const char *end;

		if (!isdigit((unsigned char)slash[1]) || scan_u64(slash + 1, &len, &end) || *end ||
		    (slash[1] == '0' && slash[2]))
			return fail(-EINVAL, "bad prefix length in '%s', expected 0..%u", s, maxlen);
		if (len > maxlen)
			return fail(-ERANGE, "prefix length in '%s' is out of range, expected 0..%u",
				    s, maxlen);
		c.prefixlen = (uint8_t)len;
	} else {
		c.prefixlen = (uint8_t)maxlen;
	}
	mask_addr(c.addr, bytes, c.prefixlen, masked);
	if (memcmp(masked, c.addr, bytes)) {
		struct sl_cidr m = c;
		char want[SL_CIDR_STRLEN];

		memcpy(m.addr, masked, bytes);
		sl_format_cidr(&m, want, sizeof(want));
		return fail(-EINVAL, "'%s' has host bits set past /%u, expected %s", s, c.prefixlen,
			    want);
	}
	*out = c;
	return 0;
bad:
	return fail(-EINVAL, "'%s' is not a prefix, expected an IPv4 or IPv6 ADDR/LEN such as 198.18.0.0/15",
		    s);
}

int sl_parse_action(const char *s, enum sl_action *action)
{
	static const struct {
		const char *name;
		enum sl_action act;
	} names[] = {
		{ "drop", SL_ACT_DROP },
		{ "reject", SL_ACT_REJECT },
		{ "mark", SL_ACT_MARK },
	};

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i].name)) {
			*action = names[i].act;
			return 0;
		}
	}
	return fail(-EINVAL, "unknown action '%s', expected drop, reject or mark", s ? s : "");
}

int sl_format_cidr(const struct sl_cidr *c, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	int n;

	if (!inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, addr, sizeof(addr)))
		return -errno;
	n = snprintf(buf, len, "%s/%u", addr, c->prefixlen);
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

int sl_format_service(enum sl_proto proto, uint16_t port, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%u", sl_proto_name(proto), port);

	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

const char *sl_proto_name(unsigned int proto)
{
	switch (proto) {
	case SL_PROTO_TCP:
		return "tcp";
	case SL_PROTO_UDP:
		return "udp";
	default:
		return "?";
	}
}

const char *sl_action_name(unsigned int action)
{
	switch (action) {
	case SL_ACT_DROP:
		return "drop";
	case SL_ACT_REJECT:
		return "reject";
	case SL_ACT_MARK:
		return "mark";
	default:
		return "?";
	}
}
