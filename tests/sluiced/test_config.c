// SPDX-License-Identifier: MIT
/*
 * Unit tests of sluiced's options: defaults, the config file (every kind
 * of bad line, with the file, line, key, value and expectation named),
 * flags, flags over the file, cross-key validation, and the promise that a
 * failed parse or reload leaves the options it was given untouched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <sluice/abi.h>

#include "config.h"

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void test_defaults_valid(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;

	sld_config_defaults(&c);
	assert_int_equal(sld_config_validate(&c, &err), 0);
	assert_string_equal(c.listen, "0.0.0.0:8080");
	assert_string_equal(c.metrics, "127.0.0.1:9464");
	assert_int_equal(c.tick_ms, 10);
	assert_int_equal(c.target_delay_ms, 5);
	assert_int_equal(c.stale_policy, SL_STALE_STATIC);
	assert_string_equal(c.pin_dir, SL_PIN_DIR_DEFAULT);
	assert_int_equal(c.n_ifaces, 0);
	assert_false(c.detach_on_exit);
}

static void test_file_all_keys(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	const char *text =
		"# sluiced test config\n"
		"listen = 127.0.0.1:9000\n"
		"iface = eth0\n"
		"iface=veth-a   # trailing comment\n"
		"\n"
		"   workers =  4\r\n"
		"upstream = backend.example:80\n"
		"target-delay = 20\n"
		"metrics = none\n"
		"stale-after = 30\n"
		"stale-policy = open\n"
		"tick = 5\n"
		"max-connections = 500\n"
		"queue-bound = 64\n"
		"header-timeout = 5\n"
		"idle-timeout = 120\n"
		"request-timeout = 60\n"
		"detach-on-exit = yes\n"
		"log-level = debug\n"
		"pin-dir = /sys/fs/bpf/other\n"
		"service-port = 80";	/* no final newline */

	sld_config_defaults(&c);
	assert_int_equal(sld_config_parse_text(&c, text, "t.conf", &err), 0);
	assert_string_equal(c.listen, "127.0.0.1:9000");
	assert_int_equal(c.n_ifaces, 2);
	assert_string_equal(c.ifaces[0], "eth0");
	assert_string_equal(c.ifaces[1], "veth-a");
	assert_int_equal(c.workers, 4);
	assert_string_equal(c.upstream, "backend.example:80");
	assert_int_equal(c.target_delay_ms, 20);
	assert_string_equal(c.metrics, "none");
	assert_int_equal(c.stale_after_s, 30);
	assert_int_equal(c.stale_policy, SL_STALE_OPEN);
	assert_int_equal(c.tick_ms, 5);
	assert_int_equal(c.max_connections, 500);
	assert_int_equal(c.queue_bound, 64);
	assert_int_equal(c.header_timeout_s, 5);
	assert_int_equal(c.idle_timeout_s, 120);
	assert_int_equal(c.request_timeout_s, 60);
	assert_true(c.detach_on_exit);
	assert_int_equal(c.log_level, SLD_LOG_DEBUG);
	assert_string_equal(c.pin_dir, "/sys/fs/bpf/other");
	assert_int_equal(c.service_port, 80);
	assert_int_equal(sld_config_validate(&c, &err), 0);
}

/* Each bad line: the error names the file and line, and says what was
 * expected; and the struct is left exactly as it was. */
static void test_file_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want[3];
	} cases[] = {
		{ "workers = 4\ntick = abc\n",
		  { "f.conf:2:", "tick = \"abc\"", "a number of milliseconds in 1..1000" } },
		{ "tick = 0\n", { "f.conf:1:", "\"0\"", "1..1000" } },
		{ "tick = 1001\n", { "f.conf:1:", "1..1000", NULL } },
		{ "tick = -5\n", { "\"-5\"", NULL, NULL } },
		{ "tick = 10ms\n", { "\"10ms\"", "milliseconds", NULL } },
		{ "tick = 99999999999999\n", { "1..1000", NULL, NULL } },
		{ "tick =\n", { "tick = \"\"", "expected", NULL } },
		{ "workers 4\n", { "f.conf:1:", "\"workers 4\"", "expected key = value" } },
		{ "colour = blue\n", { "f.conf:1:", "unknown key \"colour\"", NULL } },
		{ "config = other.conf\n", { "unknown key \"config\"", "flag only", NULL } },
		{ "tick = 5\n\n#\ntick = 6\n", { "f.conf:4:", "tick given again (first on line 1)", NULL } },
		{ "stale-policy = closed\n", { "\"closed\"", "static or open", NULL } },
		{ "log-level = verbose\n", { "error, warn, info or debug", NULL, NULL } },
		{ "detach-on-exit = maybe\n", { "\"maybe\"", "true or false", NULL } },
		{ "listen = 8080\n", { "listen = \"8080\"", "HOST:PORT", NULL } },
		{ "listen = localhost:8080\n", { "IPv4 address", NULL, NULL } },
		{ "listen = 1.2.3.4:0\n", { "port 1..65535", NULL, NULL } },
		{ "listen = 1.2.3.4:65536\n", { "port 1..65535", NULL, NULL } },
		{ "listen = ::1:80\n", { "[IPv6]", NULL, NULL } },
		{ "listen = [::1:80\n", { "HOST:PORT", NULL, NULL } },
		{ "upstream = :80\n", { "upstream = \":80\"", "host name", NULL } },
		{ "upstream = bad_host!:80\n", { "host name", NULL, NULL } },
		{ "metrics = off\n", { "\"none\"", NULL, NULL } },
		{ "iface = eth0/1\n", { "interface name", NULL, NULL } },
		{ "iface = a-very-long-ifname\n", { "1..15 characters", NULL, NULL } },
		{ "iface = eth0\niface = eth0\n", { "f.conf:2:", "given twice", NULL } },
		{ "pin-dir = relative/dir\n", { "absolute path", NULL, NULL } },
		{ "service-port = 70000\n", { "an integer in 0..65535", NULL, NULL } },
		{ "workers = 1025\n", { "a number of threads in 0..1024", NULL, NULL } },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sld_config c, before;
		struct sld_config_err err = { "" };

		sld_config_defaults(&c);
		before = c;
		if (sld_config_parse_text(&c, cases[i].text, "f.conf", &err) !=
		    -EINVAL)
			fail_msg("case %zu (%s) was accepted", i, cases[i].text);
		for (int j = 0; j < 3 && cases[i].want[j]; j++)
			assert_contains(err.msg, cases[i].want[j]);
		assert_memory_equal(&c, &before, sizeof(c));	/* untouched */
	}
}

static void test_file_too_many_ifaces(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	char text[1024];
	size_t n = 0;

	for (int i = 0; i <= SLD_MAX_IFACES; i++)
		n += snprintf(text + n, sizeof(text) - n, "iface = e%d\n", i);
	sld_config_defaults(&c);
	assert_int_equal(sld_config_parse_text(&c, text, "f", &err), -EINVAL);
	assert_contains(err.msg, "more than 16 interfaces");
}

static void test_long_line(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	char *text = malloc(3000);

	memset(text, 'x', 2999);
	text[2999] = '\0';
	sld_config_defaults(&c);
	assert_int_equal(sld_config_parse_text(&c, text, "f", &err), -EINVAL);
	assert_contains(err.msg, "f:1: line longer than");
	free(text);
}

static char tmpdir[64];

static char *write_file(const char *name, const char *text, size_t len)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(text, 1, len, f);
	fclose(f);
	return path;
}

static int setup_tmp(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/sluiced-config-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	(void)state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_file_io_errors(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	char path[128];

	sld_config_defaults(&c);
	snprintf(path, sizeof(path), "%s/absent.conf", tmpdir);
	assert_int_equal(sld_config_parse_file(&c, path, &err), -ENOENT);
	assert_contains(err.msg, "absent.conf: cannot open");

	char *p = write_file("nul.conf", "tick = 5\0\n", 10);

	assert_int_equal(sld_config_parse_file(&c, p, &err), -EINVAL);
	assert_contains(err.msg, "NUL byte");

	char *big = calloc(1, 70000);

	memset(big, '#', 69999);
	p = write_file("big.conf", big, 69999);
	assert_int_equal(sld_config_parse_file(&c, p, &err), -EFBIG);
	free(big);
}

#define ARGV(...) ((char *[]){ "sluiced", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "sluiced", __VA_ARGS__ }) / sizeof(char *)))
#define LOAD(out, err, ...) sld_config_load(out, ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), err)

static void test_flags(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;

	assert_int_equal(LOAD(&c, &err, "--listen", "[::1]:8081", "-i", "lo",
			      "--iface=eth1", "--tick", "20", "--detach-on-exit",
			      "--stale-policy", "open", "-w", "2"),
			 0);
	assert_string_equal(c.listen, "[::1]:8081");
	assert_int_equal(c.n_ifaces, 2);
	assert_string_equal(c.ifaces[1], "eth1");
	assert_int_equal(c.tick_ms, 20);
	assert_true(c.detach_on_exit);
	assert_int_equal(c.stale_policy, SL_STALE_OPEN);
	assert_int_equal(c.workers, 2);
	assert_false(c.help);
}

static void test_flag_errors(void **state)
{
	(void)state;
	struct sld_config c, before;
	struct sld_config_err err;

	memset(&c, 0x5a, sizeof(c));
	before = c;
	assert_int_equal(LOAD(&c, &err, "--tick", "0"), -EINVAL);
	assert_contains(err.msg, "--tick \"0\": expected a number of "
				 "milliseconds in 1..1000");
	assert_memory_equal(&c, &before, sizeof(c));	/* out untouched */

	assert_int_equal(LOAD(&c, &err, "--bogus"), -EINVAL);
	assert_contains(err.msg, "unknown option \"--bogus\"");
	assert_int_equal(LOAD(&c, &err, "-z"), -EINVAL);
	assert_contains(err.msg, "unknown option \"-z\"");
	assert_int_equal(LOAD(&c, &err, "--tick"), -EINVAL);
	assert_contains(err.msg, "needs a value");
	assert_int_equal(LOAD(&c, &err, "extra"), -EINVAL);
	assert_contains(err.msg, "unexpected argument \"extra\"");
	assert_int_equal(LOAD(&c, &err, "--upstream", "nohost"), -EINVAL);
	assert_contains(err.msg, "--upstream \"nohost\": expected HOST:PORT");
	assert_int_equal(LOAD(&c, &err, "--config", "/nonexistent/sluiced.conf"),
			 -ENOENT);
	assert_contains(err.msg, "/nonexistent/sluiced.conf: cannot open");
	assert_memory_equal(&c, &before, sizeof(c));
}

/* Fleet quotas: the keys, the URL, and the password from the file only. */
static void test_fleet_keys(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	const char *text = "fleet = redis://redis.example:6379/3\nfleet-per-source = 100\n"
			   "fleet-name = web-eu\nfleet-password = s3cret word\n";
	char *path = write_file("fleet.conf", text, strlen(text));
	char host[SLD_ADDR_MAX];
	uint16_t port;
	uint32_t db;

	assert_int_equal(LOAD(&c, &err, "-c", path), 0);
	assert_string_equal(c.fleet, "redis://redis.example:6379/3");
	assert_int_equal(c.fleet_per_source, 100);
	assert_string_equal(c.fleet_name, "web-eu");
	assert_string_equal(c.fleet_password, "s3cret word");
	assert_int_equal(sld_parse_redis_url(c.fleet, host, sizeof(host), &port, &db), 0);
	assert_string_equal(host, "redis.example");
	assert_int_equal(port, 6379);
	assert_int_equal(db, 3);
	assert_int_equal(sld_parse_redis_url("redis://[::1]:7000", host, sizeof(host), &port,
					     &db), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(db, 0);

	/* Never from the command line, with or without a value; the value
	 * is not echoed. */
	assert_int_equal(LOAD(&c, &err, "--fleet-password", "hunter2"), -EINVAL);
	assert_contains(err.msg, "--fleet-password: read from the config file only");
	assert_null(strstr(err.msg, "hunter2"));
	assert_int_equal(LOAD(&c, &err, "--fleet-password=hunter2"), -EINVAL);
	assert_null(strstr(err.msg, "hunter2"));

	assert_int_equal(LOAD(&c, &err, "--fleet", "redis://h:6379"), -EINVAL);
	assert_contains(err.msg, "needs fleet-per-source");
	assert_int_equal(LOAD(&c, &err, "--fleet-per-source", "5"), -EINVAL);
	assert_contains(err.msg, "fleet-per-source 5 needs fleet");
	assert_int_equal(LOAD(&c, &err, "--fleet", "http://h:6379"), -EINVAL);
	assert_contains(err.msg, "expected redis://HOST:PORT[/DB]");
	assert_int_equal(LOAD(&c, &err, "--fleet", "redis://h:6379/16"), -EINVAL);
	assert_int_equal(LOAD(&c, &err, "--fleet-name", "a b"), -EINVAL);
	assert_contains(err.msg, "--fleet-name \"a b\": expected 1..64 characters");
	/* fleet-per-source reloads; the Redis and the namespace need a restart. */
	{
		struct sld_config a, b;

		assert_int_equal(LOAD(&a, &err, "-c", path), 0);
		b = a;
		b.fleet_per_source = 50;
		assert_int_equal(sld_config_check_reload(&a, &b, &err), 0);
		strcpy(b.fleet_name, "other");
		assert_int_equal(sld_config_check_reload(&a, &b, &err), -EINVAL);
		assert_contains(err.msg, "fleet-name changed");
	}
}

/* --guard: repeatable tcp/PORT, never with a listener or an upstream. */
static void test_guard_flags(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	const char *text = "guard = tcp/81\nguard = tcp/82\n";
	char *path;

	assert_int_equal(LOAD(&c, &err, "--guard", "tcp/8080", "-g", "tcp/9000"), 0);
	assert_int_equal(c.n_guards, 2);
	assert_int_equal(c.guards[0], 8080);
	assert_int_equal(c.guards[1], 9000);
	assert_false(c.listen_set);

	assert_int_equal(LOAD(&c, &err, "--guard", "udp/53"), -EINVAL);
	assert_contains(err.msg, "--guard \"udp/53\": expected tcp/PORT");
	assert_int_equal(LOAD(&c, &err, "--guard", "tcp/0"), -EINVAL);
	assert_int_equal(LOAD(&c, &err, "--guard", "tcp/80", "--guard", "tcp/80"), -EINVAL);
	assert_contains(err.msg, "guarded port given twice");
	assert_int_equal(LOAD(&c, &err, "--guard", "tcp/80", "--listen", ":8080"), -EINVAL);
	assert_contains(err.msg, "cannot be combined with listen");
	assert_int_equal(LOAD(&c, &err, "--guard", "tcp/80", "-u", "127.0.0.1:81"), -EINVAL);
	assert_contains(err.msg, "cannot be combined with upstream");

	/* the file key, repeatable; flags replace the file's list */
	path = write_file("guard.conf", text, strlen(text));
	assert_int_equal(LOAD(&c, &err, "--config", path), 0);
	assert_int_equal(c.n_guards, 2);
	assert_int_equal(LOAD(&c, &err, "--config", path, "--guard", "tcp/83"), 0);
	assert_int_equal(c.n_guards, 1);
	assert_int_equal(c.guards[0], 83);

	/* a changed list needs a restart */
	{
		struct sld_config next;

		assert_int_equal(LOAD(&c, &err, "--guard", "tcp/81"), 0);
		next = c;
		next.guards[0] = 82;
		assert_int_equal(sld_config_check_reload(&c, &next, &err), -EINVAL);
		assert_contains(err.msg, "guard changed");
	}
}

static void test_help(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	char buf[8192];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	assert_int_equal(LOAD(&c, &err, "--help"), 0);
	assert_true(c.help);
	sld_config_usage(f, "sluiced");
	fclose(f);
	/* every option is in the help text */
	const char *names[] = { "--config", "--listen", "--iface", "--workers",
				"--upstream", "--target-delay", "--metrics",
				"--stale-after", "--stale-policy", "--tick",
				"--max-connections", "--queue-bound",
				"--header-timeout", "--idle-timeout",
				"--request-timeout", "--detach-on-exit",
				"--log-level", "--pin-dir", "--service-port" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_contains(buf, names[i]);
	assert_contains(buf, "usage error");
}

static void test_flags_override_file(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	const char *text = "tick = 5\ntarget-delay = 7\niface = eth0\n"
			   "iface = eth1\n";
	char *path = write_file("over.conf", text, strlen(text));

	assert_int_equal(LOAD(&c, &err, "--tick", "25", "-c", path), 0);
	assert_int_equal(c.tick_ms, 25);	/* flag, though given before -c */
	assert_int_equal(c.target_delay_ms, 7);	/* file */
	assert_int_equal(c.n_ifaces, 2);
	assert_string_equal(c.config_path, path);

	/* a flag's --iface list replaces the file's, not appends */
	assert_int_equal(LOAD(&c, &err, "--config", path, "--iface", "lo"), 0);
	assert_int_equal(c.n_ifaces, 1);
	assert_string_equal(c.ifaces[0], "lo");
}

static void test_validate_cross_keys(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;

	assert_int_equal(LOAD(&c, &err, "--tick", "500", "--stale-after", "4"),
			 -EINVAL);
	assert_contains(err.msg, "stale-after (4 s) must be at least 10 ticks");
	assert_int_equal(LOAD(&c, &err, "--header-timeout", "40"), -EINVAL);
	assert_contains(err.msg, "header-timeout (40 s) must not exceed "
				 "request-timeout (30 s)");
	assert_int_equal(LOAD(&c, &err, "--upstream", "0.0.0.0:8080"), -EINVAL);
	assert_contains(err.msg, "loop");
	assert_int_equal(LOAD(&c, &err, "--metrics", "0.0.0.0:8080"), -EINVAL);
	assert_int_equal(LOAD(&c, &err, "--tick", "1", "--target-delay", "500"),
			 -EINVAL);
	assert_contains(err.msg, "target-delay (500 ms) must be at most 100 ticks");
	assert_int_equal(LOAD(&c, &err, "--max-header-line", "40000"), -EINVAL);
	assert_contains(err.msg, "max-header-line (40000 bytes) must not exceed "
				 "max-header-size (32768 bytes)");
}

static void test_trusted_proxies(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;
	struct sockaddr_in v4 = { .sin_family = AF_INET };
	struct sockaddr_in6 v6 = { .sin6_family = AF_INET6 };

	assert_int_equal(LOAD(&c, &err, "--trusted-proxies", "10.0.0.0/8,2001:db8::/32"), 0);
	assert_int_equal(c.trusted.n, 2);
	inet_pton(AF_INET, "10.1.2.3", &v4.sin_addr);
	assert_true(sld_trusted_match(&c.trusted, (struct sockaddr *)&v4));
	inet_pton(AF_INET, "11.1.2.3", &v4.sin_addr);
	assert_false(sld_trusted_match(&c.trusted, (struct sockaddr *)&v4));
	inet_pton(AF_INET6, "2001:db8:1::7", &v6.sin6_addr);
	assert_true(sld_trusted_match(&c.trusted, (struct sockaddr *)&v6));
	/* an IPv4 peer on a dual-stack socket, as ::ffff:10.9.9.9 */
	inet_pton(AF_INET6, "::ffff:10.9.9.9", &v6.sin6_addr);
	assert_true(sld_trusted_match(&c.trusted, (struct sockaddr *)&v6));
	assert_int_equal(LOAD(&c, &err, "--trusted-proxies", "10.0.0.0/33"), -EINVAL);
	assert_contains(err.msg, "\"10.0.0.0/33\": expected a comma-separated list of at "
				 "most 16 CIDRs");
	assert_int_equal(LOAD(&c, &err, "--trusted-proxies", "10.0.0.1,"), -EINVAL);
	assert_int_equal(LOAD(&c, &err, "--trusted-proxies", ""), 0);
	assert_int_equal(c.trusted.n, 0);
}

/* The SIGHUP path: re-run the load into a fresh struct; a bad file leaves
 * the running options as they were, a good one replaces them whole. */
static void test_reload_never_half_applies(void **state)
{
	(void)state;
	struct sld_config running, before;
	struct sld_config_err err;
	const char *good = "tick = 5\ntarget-delay = 9\n";
	const char *bad = "tick = 7\ntarget-delay = 9000\n";	/* line 2 bad */
	char *path = write_file("reload.conf", good, strlen(good));
	char path_copy[128];

	strcpy(path_copy, path);
	assert_int_equal(LOAD(&running, &err, "-c", path_copy), 0);
	assert_int_equal(running.tick_ms, 5);
	before = running;

	write_file("reload.conf", bad, strlen(bad));
	assert_int_equal(LOAD(&running, &err, "-c", path_copy), -EINVAL);
	assert_contains(err.msg, "reload.conf:2: target-delay = \"9000\"");
	assert_memory_equal(&running, &before, sizeof(running));	/* tick still 5 */

	const char *newer = "tick = 8\n";

	write_file("reload.conf", newer, strlen(newer));
	assert_int_equal(LOAD(&running, &err, "-c", path_copy), 0);
	assert_int_equal(running.tick_ms, 8);
	assert_int_equal(running.target_delay_ms, 5);	/* back to default */
}

static void test_reload_restart_only_keys(void **state)
{
	(void)state;
	struct sld_config running, next;
	struct sld_config_err err;

	sld_config_defaults(&running);
	next = running;
	next.tick_ms = 20;
	next.target_delay_ms = 9;
	strcpy(next.upstream, "10.0.0.2:80");
	assert_int_equal(sld_config_check_reload(&running, &next, &err), 0);

	next = running;
	strcpy(next.listen, "0.0.0.0:9090");
	assert_int_equal(sld_config_check_reload(&running, &next, &err), -EINVAL);
	assert_contains(err.msg, "listen changed");
	assert_contains(err.msg, "restart");

	next = running;
	strcpy(next.ifaces[next.n_ifaces++], "eth9");
	assert_int_equal(sld_config_check_reload(&running, &next, &err), -EINVAL);
	assert_contains(err.msg, "iface changed");

	next = running;
	next.queue_bound = 7;
	assert_int_equal(sld_config_check_reload(&running, &next, &err), -EINVAL);
	assert_contains(err.msg, "queue-bound");
}

static void test_set_one_key(void **state)
{
	(void)state;
	struct sld_config c;
	struct sld_config_err err;

	sld_config_defaults(&c);
	assert_int_equal(sld_config_set(&c, "queue-bound", "100", &err), 0);
	assert_int_equal(c.queue_bound, 100);
	assert_int_equal(sld_config_set(&c, "queue-bound", "0", &err), -EINVAL);
	assert_contains(err.msg, "queue-bound = \"0\": expected a number "
				 "of tasks in 1..1000000");
	assert_int_equal(c.queue_bound, 100);
	assert_int_equal(sld_config_set(&c, "nope", "1", &err), -EINVAL);
	assert_int_equal(sld_config_set(&c, "upstream", "", &err), 0);
	assert_string_equal(c.upstream, "");
}

static void test_hostport(void **state)
{
	(void)state;
	char host[64];
	uint16_t port;

	assert_int_equal(sld_parse_hostport("10.0.0.1:80", false, host,
					    sizeof(host), &port), 0);
	assert_string_equal(host, "10.0.0.1");
	assert_int_equal(port, 80);
	assert_int_equal(sld_parse_hostport("[2001:db8::1]:443", false, host,
					    sizeof(host), &port), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(sld_parse_hostport(":8080", false, host, sizeof(host),
					    &port), 0);
	assert_string_equal(host, "");
	assert_int_equal(sld_parse_hostport("svc.local:81", true, host,
					    sizeof(host), &port), 0);
	assert_int_equal(sld_parse_hostport("svc.local:81", false, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(sld_parse_hostport("[]:80", false, NULL, 0, NULL), -EINVAL);
	assert_int_equal(sld_parse_hostport("[1.2.3.4]:80", false, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(sld_parse_hostport("1.2.3.4:", false, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(sld_parse_hostport("1.2.3.4:+80", false, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(sld_parse_hostport("300.1.1.1:80", false, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(sld_parse_hostport("-bad:80", true, NULL, 0, NULL),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_valid),
		cmocka_unit_test(test_file_all_keys),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_too_many_ifaces),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_file_io_errors),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_flag_errors),
		cmocka_unit_test(test_fleet_keys),
		cmocka_unit_test(test_guard_flags),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_flags_override_file),
		cmocka_unit_test(test_validate_cross_keys),
		cmocka_unit_test(test_trusted_proxies),
		cmocka_unit_test(test_reload_never_half_applies),
		cmocka_unit_test(test_reload_restart_only_keys),
		cmocka_unit_test(test_set_one_key),
		cmocka_unit_test(test_hostport),
	};

	return cmocka_run_group_tests_name("config", tests, setup_tmp,
					   teardown_tmp);
}
