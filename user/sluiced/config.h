/* SPDX-License-Identifier: MIT */
/*
 * sluiced's options: one struct, filled from defaults, then a config file,
 * then command-line flags (flags win). The file takes the same keys as the
 * long flags, one `key = value` per line, `#` starts a comment. One table
 * in config.c describes every option once: its flag, its key, its range,
 * its unit and its help line.
 *
 * Never half-applied: every entry point parses into a struct of its own
 * and copies it out only when the whole of it is valid, so a SIGHUP reload
 * that finds a bad file keeps the running options untouched. The reload
 * is: sld_config_load(&next, argc, argv) (the same flags still override
 * the file), then sld_config_check_reload(&running, &next), then swap.
 *
 * API:
 *   sld_config_defaults(c)
 *   sld_config_load(out, argc, argv, err)   defaults + --config file + flags,
 *                                           validated; the start and the reload
 *   sld_config_parse_text(c, text, name, err)  apply file text onto c
 *   sld_config_parse_file(c, path, err)        apply a file onto c
 *   sld_config_set(c, key, value, err)         apply one key
 *   sld_config_validate(c, err)                checks across keys
 *   sld_config_check_reload(running, next, err)  -EINVAL if next changes an
 *                                           option that needs a restart
 *   sld_config_usage(f, prog)                  the --help text
 *   sld_parse_hostport(s, allow_name, host, hostlen, &port)
 *   sld_listen_addr(s, &ss, &len)              HOST:PORT (numeric, or an
 *                                           empty host for all) to bind to
 *   sld_parse_redis_url(s, host, hostlen, &port, &db)  redis://HOST:PORT[/DB]
 * All return 0 or -EINVAL (-ENOENT/-EIO/-EFBIG for an unreadable file) with
 * a message in err->msg naming the file and line or the flag, the key, the
 * value and what was expected. A usage error is exit status 2.
 */
#ifndef SLUICED_CONFIG_H
#define SLUICED_CONFIG_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trusted.h"

#define SLD_MAX_IFACES 16
#define SLD_MAX_GUARDS 16	/* SL_GUARD_MAX */
#define SLD_IFNAMSIZ 16		/* IFNAMSIZ, with the NUL */
#define SLD_ADDR_MAX 272	/* a host name (255) + ":65535" + brackets */
#define SLD_PATH_MAX 256
#define SLD_FLEET_URL_MAX 300	/* redis://HOST:PORT/DB */
#define SLD_FLEET_NAME_MAX 65	/* the key namespace, with the NUL */
#define SLD_SECRET_MAX 257
#define SLD_TRUSTED_MAX 800	/* --trusted-proxies text: 16 CIDRs of up to 48 */

enum sld_log_level {
	SLD_LOG_ERROR = 0,
	SLD_LOG_WARN,
	SLD_LOG_INFO,
	SLD_LOG_DEBUG,
};

struct sld_config {
	char listen[SLD_ADDR_MAX];	/* HOST:PORT the service listens on */
	bool listen_set;		/* listen was given (not the default) */
	uint16_t guards[SLD_MAX_GUARDS];	/* guard mode: the TCP ports protected */
	uint32_t n_guards;
	char ifaces[SLD_MAX_IFACES][SLD_IFNAMSIZ];	/* where the data plane attaches */
	uint32_t n_ifaces;
	uint32_t workers;		/* pool threads; 0 = one per CPU */
	char upstream[SLD_ADDR_MAX];	/* HOST:PORT to proxy to; "" = built-in handlers */
	uint32_t upstream_concurrency;	/* requests in flight upstream at most */
	uint32_t target_delay_ms;	/* controller's queueing-delay target */
	char metrics[SLD_ADDR_MAX];	/* HOST:PORT for Prometheus; "none" = off */
	uint32_t stale_after_s;		/* kernel falls back after this without a heartbeat */
	uint32_t stale_policy;		/* enum sl_stale_policy */
	uint32_t tick_ms;		/* controller period */
	uint32_t max_connections;	/* open client connections */
	uint32_t queue_bound;		/* pool tasks waiting; beyond: 503 on the fast path */
	uint32_t header_timeout_s;	/* a request head must arrive within */
	uint32_t idle_timeout_s;	/* a keep-alive connection may idle for */
	uint32_t request_timeout_s;	/* a whole request (head + body) within;
					 * an upstream exchange within */
	uint32_t max_header_line;	/* one header line or request target, bytes */
	uint32_t max_header_size;	/* request line + header section, bytes */
	char trusted_proxies[SLD_TRUSTED_MAX];	/* CIDR,... "" = none */
	struct sld_trusted trusted;	/* trusted_proxies, parsed */
	bool detach_on_exit;		/* detach the data plane on a clean exit */
	uint32_t log_level;		/* enum sld_log_level */
	char pin_dir[SLD_PATH_MAX];	/* bpffs directory of the pinned maps */
	uint32_t service_port;		/* protected port in the maps; 0 = the listen port */
	uint32_t attach_mode;		/* enum sl_attach_mode: 0 native, else generic; native, generic, tc */
	uint32_t shed_action;		/* enum sl_action of a service the daemon creates */
	uint32_t level_max;		/* highest admission level the controller sets */
	uint32_t deadline_ms;		/* queue wait past which a request is answered 503; 0 = target-delay */
	char fleet[SLD_FLEET_URL_MAX];	/* redis://HOST:PORT[/DB]; "" = no fleet quotas */
	uint32_t fleet_per_source;	/* fleet-wide new connections/s per source prefix */
	char fleet_name[SLD_FLEET_NAME_MAX];	/* Redis key namespace of the fleet */
	char fleet_password[SLD_SECRET_MAX];	/* Redis AUTH; from the config file only */
	char config_path[SLD_PATH_MAX];	/* the file read, "" if none */
	bool help;			/* --help was given */
};

struct sld_config_err {
	char msg[512];
};

void sld_config_defaults(struct sld_config *c);
int sld_config_load(struct sld_config *out, int argc, char *const argv[],
		    struct sld_config_err *err);
int sld_config_parse_text(struct sld_config *c, const char *text,
			  const char *name, struct sld_config_err *err);
int sld_config_parse_file(struct sld_config *c, const char *path,
			  struct sld_config_err *err);
int sld_config_set(struct sld_config *c, const char *key, const char *value,
		   struct sld_config_err *err);
int sld_config_validate(const struct sld_config *c, struct sld_config_err *err);
int sld_config_check_reload(const struct sld_config *running,
			    const struct sld_config *next,
			    struct sld_config_err *err);
void sld_config_usage(FILE *f, const char *prog);
int sld_parse_hostport(const char *s, bool allow_name, char *host,
		       size_t hostlen, uint16_t *port);
int sld_listen_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len);
int sld_parse_redis_url(const char *s, char *host, size_t hostlen, uint16_t *port,
			uint32_t *db);

#endif /* SLUICED_CONFIG_H */
