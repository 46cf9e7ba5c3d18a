// SPDX-License-Identifier: MIT
/*
 * sluiced's options, from a config file and from flags, described once in
 * the table below (flag, key, type, range, unit, help). See config.h for
 * the order of precedence and the never-half-applied rule.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sluice/abi.h>

enum opt_kind {
	K_U32,		/* decimal integer in [min, max] */
	K_LISTEN,	/* HOST:PORT, host an IP literal or empty */
	K_UPSTREAM,	/* HOST:PORT, host may be a name; "" = none */
	K_METRICS,	/* HOST:PORT or "none" */
	K_CHOICE,	/* one of choices[], stored as its index */
	K_BOOL,
	K_IFACE,	/* repeatable */
	K_GUARD,	/* tcp/PORT, repeatable */
	K_PATH,		/* absolute path */
	K_REDIS,	/* redis://HOST:PORT[/DB]; "" = none */
	K_NAME,		/* 1..64 of [A-Za-z0-9_.-] */
	K_SECRET,	/* config file only: never on a command line */
	K_CIDRS,	/* CIDR,... (also parsed into trusted) */
	K_CONFIG,	/* flag only: the file to read */
	K_HELP,		/* flag only */
};

struct opt {
	const char *name;	/* long flag and file key */
	char short_name;
	enum opt_kind kind;
	size_t off;
	uint32_t min, max;	/* K_U32 */
	const char *unit;	/* K_U32: what a number means */
	const char *const *choices;	/* K_CHOICE, NULL-terminated */
	const char *help;
};

static const char *const stale_policies[] = { "static", "open", NULL };
static const char *const log_levels[] = { "error", "warn", "info", "debug", NULL };
static const char *const attach_modes[] = { "auto", "native", "generic", "tc", NULL };
static const char *const shed_actions[] = { "drop", "reject", "mark", NULL };

_Static_assert(SL_ACT_DROP == 0 && SL_ACT_REJECT == 1 && SL_ACT_MARK == 2,
	       "shed_actions[] is indexed by enum sl_action");

_Static_assert(SL_STALE_STATIC == 0 && SL_STALE_OPEN == 1,
	       "stale_policies[] is indexed by enum sl_stale_policy");

#define OFF(field) offsetof(struct sld_config, field)

static const struct opt opts[] = {
	{ "config", 'c', K_CONFIG, 0, 0, 0, NULL, NULL,
	  "read options from FILE first (flags override it)" },
	{ "listen", 'l', K_LISTEN, OFF(listen), 0, 0, NULL, NULL,
	  "serve HTTP on HOST:PORT (host an IP address, or empty for all)" },
	{ "iface", 'i', K_IFACE, OFF(ifaces), 0, 0, NULL, NULL,
	  "attach the data plane to this interface (repeatable)" },
	{ "guard", 'g', K_GUARD, OFF(guards), 0, 0, NULL, NULL,
	  "guard mode: protect the local TCP service on this port, serving nothing (repeatable)" },
	{ "workers", 'w', K_U32, OFF(workers), 0, 1024, "threads", NULL,
	  "pool worker threads, 0 for one per CPU" },
	{ "upstream", 'u', K_UPSTREAM, OFF(upstream), 0, 0, NULL, NULL,
	  "proxy requests to HOST:PORT instead of the built-in handlers" },
	{ "upstream-concurrency", 0, K_U32, OFF(upstream_concurrency), 1, 1024, "requests", NULL,
	  "requests in flight to the upstream at most (the adaptive limit's ceiling)" },
	{ "target-delay", 0, K_U32, OFF(target_delay_ms), 1, 1000, "milliseconds", NULL,
	  "queueing delay an admitted request may see (the deadline's default; the controller aims at half)" },
	{ "metrics", 'm', K_METRICS, OFF(metrics), 0, 0, NULL, NULL,
	  "serve Prometheus metrics on HOST:PORT, or \"none\"" },
	{ "stale-after", 0, K_U32, OFF(stale_after_s), 1, 3600, "seconds", NULL,
	  "without a heartbeat for this long the kernel falls back" },
	{ "stale-policy", 0, K_CHOICE, OFF(stale_policy), 0, 0, NULL, stale_policies,
	  "what the fallback is: static limits, or open" },
	{ "tick", 0, K_U32, OFF(tick_ms), 1, 1000, "milliseconds", NULL,
	  "controller period" },
	{ "max-connections", 0, K_U32, OFF(max_connections), 1, 1000000, "connections", NULL,
	  "open client connections at most" },
	{ "queue-bound", 0, K_U32, OFF(queue_bound), 1, 1000000, "tasks", NULL,
	  "pool tasks waiting at most; beyond, 503 on the fast path" },
	{ "header-timeout", 0, K_U32, OFF(header_timeout_s), 1, 3600, "seconds", NULL,
	  "a request head must arrive within this" },
	{ "idle-timeout", 0, K_U32, OFF(idle_timeout_s), 1, 86400, "seconds", NULL,
	  "a keep-alive connection may idle this long" },
	{ "request-timeout", 0, K_U32, OFF(request_timeout_s), 1, 3600, "seconds", NULL,
	  "a whole request must arrive within this" },
	{ "max-header-line", 0, K_U32, OFF(max_header_line), 256, 65536, "bytes", NULL,
	  "a request header line or target longer than this is answered 431 (414)" },
	{ "max-header-size", 0, K_U32, OFF(max_header_size), 1024, 1048576, "bytes", NULL,
	  "a request head (line and headers) larger than this is answered 431" },
	{ "trusted-proxies", 0, K_CIDRS, OFF(trusted_proxies), 0, 0, NULL, NULL,
	  "keep X-Forwarded-For only from these peers (CIDR,...); replace it from others" },
	{ "detach-on-exit", 0, K_BOOL, OFF(detach_on_exit), 0, 0, NULL, NULL,
	  "detach the data plane on a clean exit (default: leave it)" },
	{ "log-level", 0, K_CHOICE, OFF(log_level), 0, 0, NULL, log_levels,
	  "error, warn, info or debug" },
	{ "pin-dir", 0, K_PATH, OFF(pin_dir), 0, 0, NULL, NULL,
	  "bpffs directory of the pinned maps" },
	{ "service-port", 0, K_U32, OFF(service_port), 0, 65535, NULL, NULL,
	  "protected port in the maps, 0 for the listen port" },
	{ "attach-mode", 0, K_CHOICE, OFF(attach_mode), 0, 0, NULL, attach_modes,
	  "how --iface attaches: auto (native XDP, else generic), native, generic, tc" },
	{ "shed-action", 0, K_CHOICE, OFF(shed_action), 0, 0, NULL, shed_actions,
	  "action of the service entry the daemon creates when it is missing" },
	{ "deadline", 0, K_U32, OFF(deadline_ms), 0, 60000, "milliseconds", NULL,
	  "a request that waited longer in the queue while it stands is answered 503, 0 for target-delay" },
	{ "level-max", 0, K_U32, OFF(level_max), 0, SL_MAX_CLASS + 1, NULL, NULL,
	  "highest admission level the controller sets; 4 never sheds sources without a class rule" },
	{ "fleet", 0, K_REDIS, OFF(fleet), 0, 0, NULL, NULL,
	  "share per-source counts with the fleet through the Redis at URL, \"\" for none" },
	{ "fleet-per-source", 0, K_U32, OFF(fleet_per_source), 0, 10000000,
	  "connections per second", NULL,
	  "fleet-wide limit of one source prefix; 0 for none (needs fleet)" },
	{ "fleet-name", 0, K_NAME, OFF(fleet_name), 0, 0, NULL, NULL,
	  "Redis key namespace shared by the daemons of one fleet" },
	{ "fleet-password", 0, K_SECRET, OFF(fleet_password), 0, 0, NULL, NULL,
	  "Redis password (AUTH)" },
	{ "help", 'h', K_HELP, 0, 0, 0, NULL, NULL, "show this help" },
};

#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

void sld_config_defaults(struct sld_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen, "0.0.0.0:8080");
	c->workers = 0;
	c->upstream_concurrency = 64;
	c->target_delay_ms = 5;
	strcpy(c->metrics, "127.0.0.1:9464");	/* local only, by default */
	c->stale_after_s = 5;
	c->stale_policy = SL_STALE_STATIC;
	c->tick_ms = 10;
	c->max_connections = 10000;
	c->queue_bound = 4096;
	c->header_timeout_s = 10;
	c->idle_timeout_s = 60;
	c->request_timeout_s = 30;
	c->max_header_line = 8192;	/* nginx's large_client_header_buffers 4 8k */
	c->max_header_size = 32768;
	c->log_level = SLD_LOG_INFO;
	c->attach_mode = 0;		/* auto */
	/* Sources without a class rule are class SL_CLASS_DEFAULT: a level
	 * above it would shed all of them at once, which the rate cap does
	 * more finely. Classes below the default are shed by level. */
	c->level_max = SL_CLASS_DEFAULT;
	c->shed_action = SL_ACT_REJECT;	/* a RST: the client fails at once */
	strcpy(c->pin_dir, SL_PIN_DIR_DEFAULT);
	strcpy(c->fleet_name, "sluice");
}

static int errorf(struct sld_config_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int errorf(struct sld_config_err *err, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static const struct opt *opt_find(const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

static int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out)
{
	uint64_t n = 0;

	if (!*s)
		return -EINVAL;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return -ERANGE;
	}
	if (n < min || n > max)
		return -ERANGE;
	*out = (uint32_t)n;
	return 0;
}

static bool valid_host_name(const char *h)
{
	size_t len = strlen(h);

	if (len == 0 || len > 253 || h[0] == '-' || h[0] == '.')
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return false;
	return true;
}

int sld_parse_hostport(const char *s, bool allow_name, char *host,
		       size_t hostlen, uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	char h[SLD_ADDR_MAX];
	unsigned char addr[16];
	uint32_t p;
	size_t hl;

	if (!colon || parse_u32(colon + 1, 1, 65535, &p))
		return -EINVAL;
	hl = (size_t)(colon - s);
	if (hl >= sizeof(h))
		return -EINVAL;
	memcpy(h, s, hl);
	h[hl] = '\0';
	if (h[0] == '[') {
		if (hl < 3 || h[hl - 1] != ']')
			return -EINVAL;
		h[hl - 1] = '\0';
		memmove(h, h + 1, hl - 1);
		if (inet_pton(AF_INET6, h, addr) != 1)
			return -EINVAL;
	} else if (hl && inet_pton(AF_INET, h, addr) != 1 &&
		   !(allow_name && valid_host_name(h))) {
		return -EINVAL;
	} else if (!hl && allow_name) {
		return -EINVAL;	/* an upstream needs a host */
	}
	if (host) {
		if (strlen(h) >= hostlen)
			return -EINVAL;
		strcpy(host, h);
	}
	if (port)
		*port = (uint16_t)p;
	return 0;
}

int sld_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[SLD_ADDR_MAX];
	uint16_t port;
	int err = sld_parse_hostport(s, false, host, sizeof(host), &port);

	if (err)
		return err;
	memset(ss, 0, sizeof(*ss));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		inet_pton(AF_INET6, host, &a->sin6_addr);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		if (host[0])	/* empty: every address */
			inet_pton(AF_INET, host, &a->sin_addr);
		*len = sizeof(*a);
	}
	return 0;
}

int sld_parse_redis_url(const char *s, char *host, size_t hostlen, uint16_t *port,
			uint32_t *db)
{
	static const char scheme[] = "redis://";
	char hp[SLD_ADDR_MAX];
	const char *rest, *slash;
	uint32_t n = 0;
	size_t len;

	if (strncmp(s, scheme, sizeof(scheme) - 1) != 0)
		return -EINVAL;
	rest = s + sizeof(scheme) - 1;
	slash = strchr(rest, '/');
	len = slash ? (size_t)(slash - rest) : strlen(rest);
	if (len >= sizeof(hp))
		return -EINVAL;
	memcpy(hp, rest, len);
	hp[len] = '\0';
	if (slash && parse_u32(slash + 1, 0, 15, &n))
		return -EINVAL;	/* Redis has 16 databases unless configured */
	if (sld_parse_hostport(hp, true, host, hostlen, port))
		return -EINVAL;
	if (db)
		*db = n;
	return 0;
}

static bool valid_name(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= SLD_FLEET_NAME_MAX)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return false;
	return true;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static bool valid_ifname(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= SLD_IFNAMSIZ || strcmp(s, ".") == 0 ||
	    strcmp(s, "..") == 0)
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || *p == ',' || *p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

static void choices_text(const struct opt *o, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; o->choices[i] && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s",
				      i ? (o->choices[i + 1] ? ", " : " or ") : "",
				      o->choices[i]);
}

/* What a value of this option must look like, for error messages. */
static void expected_text(const struct opt *o, char *buf, size_t len)
{
	char ch[128];

	switch (o->kind) {
	case K_U32:
		if (o->unit)
			snprintf(buf, len, "a number of %s in %u..%u", o->unit,
				 o->min, o->max);
		else
			snprintf(buf, len, "an integer in %u..%u", o->min, o->max);
		break;
	case K_LISTEN:
		snprintf(buf, len, "HOST:PORT with an IPv4 address, [IPv6] "
				   "address or empty host, port 1..65535");
		break;
	case K_UPSTREAM:
		snprintf(buf, len, "HOST:PORT with a host name, IPv4 address or "
				   "[IPv6] address, port 1..65535");
		break;
	case K_METRICS:
		snprintf(buf, len, "HOST:PORT with an IP address, or \"none\"");
		break;
	case K_CHOICE:
		choices_text(o, ch, sizeof(ch));
		snprintf(buf, len, "%s", ch);
		break;
	case K_BOOL:
		snprintf(buf, len, "true or false (yes/no, on/off, 1/0)");
		break;
	case K_IFACE:
		snprintf(buf, len, "an interface name of 1..15 characters "
				   "without '/', ':', ',' or spaces");
		break;
	case K_GUARD:
		snprintf(buf, len, "tcp/PORT with a port in 1..65535 (guard mode "
				   "protects TCP services)");
		break;
	case K_PATH:
		snprintf(buf, len, "an absolute path shorter than %d bytes",
			 SLD_PATH_MAX);
		break;
	case K_REDIS:
		snprintf(buf, len, "redis://HOST:PORT[/DB] (host a name, IPv4 or "
				   "[IPv6] address, DB 0..15), or \"\" for none");
		break;
	case K_NAME:
		snprintf(buf, len, "1..%d characters of letters, digits, '-', '_' "
				   "and '.'", SLD_FLEET_NAME_MAX - 1);
		break;
	case K_SECRET:
		snprintf(buf, len, "1..%d bytes", SLD_SECRET_MAX - 1);
		break;
	case K_CIDRS:
		snprintf(buf, len, "a comma-separated list of at most %d CIDRs "
				   "(198.18.0.0/15, 2001:db8::/32, or addresses), or \"\"",
			 SLD_MAX_TRUSTED);
		break;
	default:
		snprintf(buf, len, "nothing: not a setting");
		break;
	}
}

/* Sets one option from its text; -EINVAL if the value is not valid. The
 * caller words the error, as it knows where the value came from. */
static bool repeatable(const struct opt *o)
{
	return o->kind == K_IFACE || o->kind == K_GUARD;
}

static int opt_apply(struct sld_config *c, const struct opt *o, const char *v)
{
	char *field = (char *)c + o->off;

	switch (o->kind) {
	case K_U32:
		return parse_u32(v, o->min, o->max, (uint32_t *)field) ? -EINVAL : 0;
	case K_LISTEN:
	case K_UPSTREAM:
	case K_METRICS:
		if (o->kind == K_UPSTREAM && !*v)
			break;	/* "" = built-in handlers */
		if (o->kind == K_METRICS && strcmp(v, "none") == 0)
			break;
		if (strlen(v) >= SLD_ADDR_MAX ||
		    sld_parse_hostport(v, o->kind == K_UPSTREAM, NULL, 0, NULL))
			return -EINVAL;
		break;
	case K_CHOICE:
		for (uint32_t i = 0; o->choices[i]; i++) {
			if (strcmp(o->choices[i], v) == 0) {
				*(uint32_t *)field = i;
				return 0;
			}
		}
		return -EINVAL;
	case K_BOOL:
		return parse_bool(v, (bool *)field);
	case K_IFACE:
		if (!valid_ifname(v))
			return -EINVAL;
		if (c->n_ifaces >= SLD_MAX_IFACES)
			return -E2BIG;
		for (uint32_t i = 0; i < c->n_ifaces; i++)
			if (strcmp(c->ifaces[i], v) == 0)
				return -EEXIST;
		strcpy(c->ifaces[c->n_ifaces++], v);
		return 0;
	case K_GUARD: {
		uint32_t port;

		if (strncmp(v, "tcp/", 4) || parse_u32(v + 4, 1, 65535, &port))
			return -EINVAL;
		if (c->n_guards >= SLD_MAX_GUARDS)
			return -E2BIG;
		for (uint32_t i = 0; i < c->n_guards; i++)
			if (c->guards[i] == port)
				return -EEXIST;
		c->guards[c->n_guards++] = (uint16_t)port;
		return 0;
	}
	case K_PATH:
		if (v[0] != '/' || strlen(v) >= SLD_PATH_MAX)
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_REDIS:
		if (*v && (strlen(v) >= SLD_FLEET_URL_MAX ||
			   sld_parse_redis_url(v, NULL, 0, NULL, NULL)))
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_NAME:
		if (!valid_name(v))
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_SECRET:
		if (!*v || strlen(v) >= SLD_SECRET_MAX)
			return -EINVAL;
		strcpy(field, v);
		return 0;
	case K_CIDRS:
		if (strlen(v) >= SLD_TRUSTED_MAX || sld_trusted_parse(v, &c->trusted))
			return -EINVAL;
		strcpy(field, v);
		return 0;
	default:
		return -EINVAL;
	}
	strcpy(field, v);	/* the address kinds, checked above */
	if (o->kind == K_LISTEN)
		c->listen_set = true;
	return 0;
}

/* Words the error for a value, given where it came from ("f.conf:3: x"
 * or "--x"). */
static int value_error(struct sld_config_err *err, const char *where,
		       const struct opt *o, const char *v, int why)
{
	char exp[200];

	bool guard = o->kind == K_GUARD;

	if (why == -E2BIG)
		return errorf(err, "%s \"%s\": more than %d %s", where, v,
			      guard ? SLD_MAX_GUARDS : SLD_MAX_IFACES,
			      guard ? "guarded ports" : "interfaces");
	if (why == -EEXIST)
		return errorf(err, "%s \"%s\": %s given twice", where, v,
			      guard ? "guarded port" : "interface");
	expected_text(o, exp, sizeof(exp));
	return errorf(err, "%s \"%s\": expected %s", where, v, exp);
}

int sld_config_set(struct sld_config *c, const char *key, const char *value,
		   struct sld_config_err *err)
{
	const struct opt *o = opt_find(key);
	struct sld_config tmp = *c;
	char where[128];
	int rc;

	if (!o || o->kind == K_CONFIG || o->kind == K_HELP)
		return errorf(err, "unknown key \"%s\"", key);
	rc = opt_apply(&tmp, o, value);
	if (rc) {
		snprintf(where, sizeof(where), "%s =", key);
		return value_error(err, where, o, value, rc);
	}
	*c = tmp;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

#define MAX_LINE 1024

int sld_config_parse_text(struct sld_config *c, const char *text,
			  const char *name, struct sld_config_err *err)
{
	struct sld_config tmp = *c;
	unsigned seen_line[N_OPTS] = { 0 };
	bool iface_from_here = false, guard_from_here = false;
	unsigned lineno = 0;
	const char *p = text;
	char line[MAX_LINE + 1], where[SLD_PATH_MAX + 160];
	int rc = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		char *k, *v, *eq, *hash;
		const struct opt *o;

		lineno++;
		if (len > MAX_LINE) {
			rc = errorf(err, "%s:%u: line longer than %d bytes",
				    name, lineno, MAX_LINE);
			goto out;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p = nl ? nl + 1 : p + len;
		if (memchr(line, '\0', len)) {
			rc = errorf(err, "%s:%u: NUL byte in line", name, lineno);
			goto out;
		}
		hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		k = trim(line);
		if (!*k)
			continue;
		eq = strchr(k, '=');
		if (!eq) {
			rc = errorf(err, "%s:%u: \"%s\": expected key = value",
				    name, lineno, k);
			goto out;
		}
		*eq = '\0';
		v = trim(eq + 1);
		k = trim(k);
		o = opt_find(k);
		if (!o || o->kind == K_HELP || o->kind == K_CONFIG) {
			rc = errorf(err, "%s:%u: unknown key \"%s\"%s", name,
				    lineno, k,
				    o ? " (a flag only, not a file key)" : "");
			goto out;
		}
		size_t idx = (size_t)(o - opts);

		snprintf(where, sizeof(where), "%s:%u: %s =", name, lineno, k);
		if (!repeatable(o) && seen_line[idx]) {
			rc = errorf(err, "%s:%u: %s given again (first on line %u)",
				    name, lineno, k, seen_line[idx]);
			goto out;
		}
		seen_line[idx] = lineno;
		if (o->kind == K_IFACE && !iface_from_here) {
			tmp.n_ifaces = 0;	/* the file's list replaces the defaults */
			iface_from_here = true;
		}
		if (o->kind == K_GUARD && !guard_from_here) {
			tmp.n_guards = 0;
			guard_from_here = true;
		}
		rc = opt_apply(&tmp, o, v);
		if (rc) {
			rc = value_error(err, where, o, v, rc);
			goto out;
		}
	}
	*c = tmp;
out:
	return rc;
}

#define MAX_FILE (64 * 1024)

int sld_config_parse_file(struct sld_config *c, const char *path,
			  struct sld_config_err *err)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		errorf(err, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	text = malloc(MAX_FILE + 1);
	if (!text) {
		rc = -ENOMEM;
		errorf(err, "%s: out of memory", path);
		goto out;
	}
	n = fread(text, 1, MAX_FILE + 1, f);
	if (ferror(f)) {
		rc = -EIO;
		errorf(err, "%s: read error", path);
		goto out;
	}
	if (n > MAX_FILE) {
		rc = -EFBIG;
		errorf(err, "%s: larger than %d bytes", path, MAX_FILE);
		goto out;
	}
	if (memchr(text, '\0', n)) {
		rc = errorf(err, "%s: NUL byte in file (not a text file?)", path);
		goto out;
	}
	text[n] = '\0';
	rc = sld_config_parse_text(c, text, path, err);
out:
	free(text);
	if (f)
		fclose(f);
	return rc;
}

int sld_config_validate(const struct sld_config *c, struct sld_config_err *err)
{
	if ((uint64_t)c->stale_after_s * 1000 < 10ull * c->tick_ms)
		return errorf(err, "stale-after (%u s) must be at least 10 ticks "
				   "(tick = %u ms), or one slow tick trips the "
				   "kernel's fallback", c->stale_after_s, c->tick_ms);
	if (c->target_delay_ms > 100u * c->tick_ms)
		return errorf(err, "target-delay (%u ms) must be at most 100 ticks "
				   "(tick = %u ms)", c->target_delay_ms, c->tick_ms);
	if (c->header_timeout_s > c->request_timeout_s)
		return errorf(err, "header-timeout (%u s) must not exceed "
				   "request-timeout (%u s)", c->header_timeout_s,
			      c->request_timeout_s);
	if (c->max_header_line > c->max_header_size)
		return errorf(err, "max-header-line (%u bytes) must not exceed "
				   "max-header-size (%u bytes)", c->max_header_line,
			      c->max_header_size);
	if (c->upstream[0] && strcmp(c->upstream, c->listen) == 0)
		return errorf(err, "upstream %s is the listen address: requests "
				   "would loop", c->upstream);
	if (c->shed_action == SL_ACT_MARK && c->n_ifaces && c->attach_mode != 3)
		return errorf(err, "shed-action mark needs attach-mode tc (XDP "
				   "cannot mark a packet; got attach-mode %s)",
			      attach_modes[c->attach_mode]);
	if (c->n_guards && (c->listen_set || c->upstream[0]))
		return errorf(err, "guard (tcp/%u) cannot be combined with %s: guard "
				   "mode protects a service sluiced does not serve",
			      c->guards[0], c->listen_set ? "listen" : "upstream");
	if (c->n_guards && c->service_port)
		return errorf(err, "guard (tcp/%u) cannot be combined with "
				   "service-port: each guarded port is its own service",
			      c->guards[0]);
	if (strcmp(c->metrics, c->listen) == 0)
		return errorf(err, "metrics %s is the listen address", c->metrics);
	if (c->fleet[0] && !c->fleet_per_source)
		return errorf(err, "fleet %s needs fleet-per-source, the fleet-wide "
				   "rate of a source (1..10000000 per second)", c->fleet);
	if (c->fleet_per_source && !c->fleet[0])
		return errorf(err, "fleet-per-source %u needs fleet, the Redis to "
				   "share counts through (redis://HOST:PORT[/DB])",
			      c->fleet_per_source);
	return 0;
}

static bool is_restart_only(const char *name);

static const char *metavar(const struct opt *o)
{
	switch (o->kind) {
	case K_U32:
		return " N";
	case K_LISTEN:
	case K_UPSTREAM:
	case K_METRICS:
		return " HOST:PORT";
	case K_CHOICE:
		if (o->choices == stale_policies)
			return " static|open";
		if (o->choices == attach_modes)
			return " auto|native|generic|tc";
		if (o->choices == shed_actions)
			return " drop|reject|mark";
		return " error|warn|info|debug";
	case K_BOOL:
		return "";
	case K_IFACE:
		return " NAME";
	case K_GUARD:
		return " tcp/PORT";
	case K_PATH:
		return " DIR";
	case K_REDIS:
		return " URL";
	case K_NAME:
		return " NAME";
	case K_CIDRS:
		return " CIDR,...";
	case K_CONFIG:
		return " FILE";
	default:
		return "";
	}
}

/* An option's value in c, as the help shows it ("" if nothing to show). */
static void default_text(const struct opt *o, const struct sld_config *c,
			 char *buf, size_t len)
{
	const char *f = (const char *)c + o->off;

	buf[0] = '\0';
	switch (o->kind) {
	case K_U32:
		snprintf(buf, len, "%u", *(const uint32_t *)f);
		break;
	case K_CHOICE:
		snprintf(buf, len, "%s", o->choices[*(const uint32_t *)f]);
		break;
	case K_LISTEN:
	case K_METRICS:
	case K_PATH:
	case K_NAME:
		snprintf(buf, len, "%s", f);
		break;
	default:
		break;
	}
}

void sld_config_usage(FILE *f, const char *prog)
{
	fprintf(f, "Usage: %s [OPTIONS]\n"
		   "sluice's daemon: serves HTTP on a work-stealing pool and sets "
		   "the kernel's admission\nrate and level from its measured "
		   "load. With --guard it serves nothing and protects\nlocal TCP "
		   "services by the waits the kernel sees in their sockets. A config "
		   "file\ntakes the same keys as the long options, one \"key = value\" "
		   "per line; options\noverride it.\n\n",
		prog);
	struct sld_config d;

	sld_config_defaults(&d);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		char flag[64], exp[200], def[SLD_ADDR_MAX + 16];

		if (o->kind == K_SECRET)
			continue;	/* listed below: not a flag */
		if (o->short_name)
			snprintf(flag, sizeof(flag), "-%c, --%s%s", o->short_name,
				 o->name, metavar(o));
		else
			snprintf(flag, sizeof(flag), "    --%s%s", o->name,
				 metavar(o));
		fprintf(f, "  %-34s %s%s\n", flag, o->help,
			is_restart_only(o->name) ? " [restart]" : "");
		default_text(o, &d, def, sizeof(def));
		if (o->kind == K_U32) {
			expected_text(o, exp, sizeof(exp));
			fprintf(f, "  %-34s %s; default %s\n", "", exp, def);
		} else if (def[0]) {
			fprintf(f, "  %-34s default %s\n", "", def);
		}
	}
	fprintf(f, "\nConfig file only (never a flag: a command line is visible in ps):\n");
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].kind == K_SECRET)
			fprintf(f, "  %-34s %s%s\n", opts[i].name, opts[i].help,
				is_restart_only(opts[i].name) ? " [restart]" : "");
	fprintf(f, "\nSIGHUP rereads the config file; options marked [restart] "
		   "are not changed by it.\n"
		   "Exit status: 0 success, 1 runtime failure, 2 usage error.\n");
}

/* getopt_long's tables, built from opts[]. */
static void build_getopt(struct option *lo, char *so)
{
	size_t n = 0;

	*so++ = '+';	/* stop at the first non-option; never permute argv */
	*so++ = ':';	/* report a missing argument as ':' */
	for (size_t i = 0; i < N_OPTS; i++) {
		bool arg = opts[i].kind != K_HELP && opts[i].kind != K_BOOL;

		/* A secret given as a flag, with or without a value, is
		 * recognised so that it can be refused with the reason. */
		lo[n++] = (struct option){ opts[i].name,
					   opts[i].kind == K_SECRET ? optional_argument :
					   arg ? required_argument : no_argument,
					   NULL, (int)(256 + i) };
		if (opts[i].short_name) {
			*so++ = opts[i].short_name;
			if (arg)
				*so++ = ':';
		}
	}
	lo[n] = (struct option){ 0 };
	*so = '\0';
}

static const struct opt *opt_by_code(int code)
{
	if (code >= 256 && code < 256 + (int)N_OPTS)
		return &opts[code - 256];
	for (size_t i = 0; i < N_OPTS; i++)
		if (opts[i].short_name && opts[i].short_name == code)
			return &opts[i];
	return NULL;
}

/*
 * One pass over the flags. With only_config, records --config and --help
 * and ignores the rest (the file must be read before the flags that
 * override it are applied); otherwise applies everything but those two.
 */
static int flags_pass(struct sld_config *c, int argc, char *const argv[],
		      bool only_config, struct sld_config_err *err)
{
	struct option lo[N_OPTS + 1];
	char so[2 * N_OPTS + 3];
	bool iface_seen = false, guard_seen = false;
	int code;

	build_getopt(lo, so);
	optind = 0;	/* glibc: start over, re-reading the environment */
	opterr = 0;	/* we word the errors */
	while ((code = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		const char *arg0 = argv[optind - 1];
		const struct opt *o = opt_by_code(code);
		char where[80];
		int rc;

		if (code == '?')
			return errorf(err, "unknown option \"%s\"; see --help",
				      optopt && optopt < 256 ?
					      (char[]){ '-', (char)optopt, 0 } :
					      arg0);
		if (code == ':')
			return errorf(err, "option \"%s\" needs a value", arg0);
		if (!o)
			return errorf(err, "unknown option \"%s\"", arg0);
		if (o->kind == K_CONFIG || o->kind == K_HELP) {
			if (!only_config)
				continue;
			if (o->kind == K_HELP) {
				c->help = true;
			} else if (!optarg[0] || strlen(optarg) >= SLD_PATH_MAX) {
				return errorf(err, "--config \"%s\": expected a "
						   "file name shorter than %d bytes",
					      optarg, SLD_PATH_MAX);
			} else {
				strcpy(c->config_path, optarg);
			}
			continue;
		}
		if (o->kind == K_SECRET)
			return errorf(err, "--%s: read from the config file only, never "
					   "from the command line, where any user can "
					   "read it (ps, /proc/PID/cmdline); put "
					   "\"%s = ...\" in the --config file",
				      o->name, o->name);
		if (only_config)
			continue;
		if (o->kind == K_BOOL) {
			*(bool *)((char *)c + o->off) = true;
			continue;
		}
		if (o->kind == K_GUARD && !guard_seen) {
			c->n_guards = 0;	/* flags replace the file's list */
			guard_seen = true;
		}
		if (o->kind == K_IFACE && !iface_seen) {
			c->n_ifaces = 0;	/* flags replace the file's list */
			iface_seen = true;
		}
		rc = opt_apply(c, o, optarg);
		if (rc) {
			snprintf(where, sizeof(where), "--%s", o->name);
			return value_error(err, where, o, optarg, rc);
		}
	}
	if (optind < argc)
		return errorf(err, "unexpected argument \"%s\"; options only, "
				   "see --help", argv[optind]);
	return 0;
}

int sld_config_load(struct sld_config *out, int argc, char *const argv[],
		    struct sld_config_err *err)
{
	struct sld_config c;
	int rc;

	sld_config_defaults(&c);
	rc = flags_pass(&c, argc, argv, true, err);
	if (rc || c.help)
		goto out;
	if (c.config_path[0]) {
		rc = sld_config_parse_file(&c, c.config_path, err);
		if (rc)
			goto out;
	}
	rc = flags_pass(&c, argc, argv, false, err);
	if (rc)
		goto out;
	rc = sld_config_validate(&c, err);
out:
	if (!rc)
		*out = c;
	return rc;
}

/*
 * Options a running daemon cannot change in place: the sockets it bound,
 * the interfaces it attached, the pool it sized, the pins it opened. A
 * reload that changes one of them is refused whole (never half-applied);
 * the operator restarts instead.
 */
static const char *const restart_only[] = {
	"listen", "guard", "iface", "workers", "upstream-concurrency", "metrics", "queue-bound", "pin-dir",
	"service-port", "attach-mode", "shed-action", "fleet", "fleet-name", "fleet-password",
};

static bool is_restart_only(const char *name)
{
	for (size_t i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]); i++)
		if (strcmp(restart_only[i], name) == 0)
			return true;
	return false;
}

static bool opt_equal(const struct opt *o, const struct sld_config *a,
		      const struct sld_config *b)
{
	const char *fa = (const char *)a + o->off, *fb = (const char *)b + o->off;

	switch (o->kind) {
	case K_U32:
	case K_CHOICE:
		return *(const uint32_t *)fa == *(const uint32_t *)fb;
	case K_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case K_GUARD:
		return a->n_guards == b->n_guards &&
		       memcmp(a->guards, b->guards, sizeof(a->guards)) == 0;
	case K_IFACE:
		if (a->n_ifaces != b->n_ifaces)
			return false;
		for (uint32_t i = 0; i < a->n_ifaces; i++)
			if (strcmp(a->ifaces[i], b->ifaces[i]) != 0)
				return false;
		return true;
	default:
		return strcmp(fa, fb) == 0;
	}
}

int sld_config_check_reload(const struct sld_config *running,
			    const struct sld_config *next,
			    struct sld_config_err *err)
{
	for (size_t i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]); i++) {
		const struct opt *o = opt_find(restart_only[i]);

		if (!opt_equal(o, running, next))
			return errorf(err, "%s changed: it takes effect only on "
					   "a restart; reload refused, nothing "
					   "changed", o->name);
	}
	return 0;
}
