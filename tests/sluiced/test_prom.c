// SPDX-License-Identifier: MIT
/*
 * Unit tests of the Prometheus text writer: exact output for counters,
 * gauges and histograms, label and HELP escaping, number formatting, and
 * the sticky errors (no room, bad names, bad bucket bounds).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "prom.h"

static char mem[4096];
static struct prom_buf B;

static const char *finish(void)
{
	int n = prom_finish(&B);

	assert_true(n >= 0);
	mem[n] = '\0';
	return mem;
}

static void test_counter_with_labels(void **state)
{
	(void)state;
	struct prom_label l[] = { { "reason", "admitted" }, { "iface", "eth0" } };

	prom_init(&B, mem, sizeof(mem) - 1);
	prom_family(&B, "sluice_decisions_total", "New connections judged, by reason.",
		    PROM_COUNTER);
	prom_sample_u64(&B, "sluice_decisions_total", l, 2, 18446744073709551615ull);
	l[0].value = "shed_level";
	prom_sample_u64(&B, "sluice_decisions_total", l, 2, 0);
	assert_string_equal(finish(),
		"# HELP sluice_decisions_total New connections judged, by reason.\n"
		"# TYPE sluice_decisions_total counter\n"
		"sluice_decisions_total{reason=\"admitted\",iface=\"eth0\"} 18446744073709551615\n"
		"sluice_decisions_total{reason=\"shed_level\",iface=\"eth0\"} 0\n");
}

static void test_gauge_numbers(void **state)
{
	(void)state;
	prom_init(&B, mem, sizeof(mem) - 1);
	prom_family(&B, "sluiced_rate_cap", NULL, PROM_GAUGE);
	prom_sample(&B, "sluiced_rate_cap", NULL, 0, 0.005);
	prom_sample(&B, "sluiced_rate_cap", NULL, 0, 1e21);
	prom_sample(&B, "sluiced_rate_cap", NULL, 0, -2.5);
	prom_sample(&B, "sluiced_rate_cap", NULL, 0, INFINITY);
	prom_sample(&B, "sluiced_rate_cap", NULL, 0, -INFINITY);
	prom_sample(&B, "sluiced_rate_cap", NULL, 0, NAN);
	prom_sample(&B, "sluiced_rate_cap", NULL, 0, 0.1 + 0.2);
	assert_string_equal(finish(),
		"# HELP sluiced_rate_cap \n"
		"# TYPE sluiced_rate_cap gauge\n"
		"sluiced_rate_cap 0.005\n"
		"sluiced_rate_cap 1e+21\n"
		"sluiced_rate_cap -2.5\n"
		"sluiced_rate_cap +Inf\n"
		"sluiced_rate_cap -Inf\n"
		"sluiced_rate_cap NaN\n"
		"sluiced_rate_cap 0.30000000000000004\n");
}

static void test_escaping(void **state)
{
	(void)state;
	struct prom_label l[] = { { "path", "a\"b\\c\nd" } };

	prom_init(&B, mem, sizeof(mem) - 1);
	prom_family(&B, "x", "line one\nback\\slash \"quotes\" kept", PROM_UNTYPED);
	prom_sample(&B, "x", l, 1, 1);
	assert_string_equal(finish(),
		"# HELP x line one\\nback\\\\slash \"quotes\" kept\n"
		"# TYPE x untyped\n"
		"x{path=\"a\\\"b\\\\c\\nd\"} 1\n");
}

static void test_histogram(void **state)
{
	(void)state;
	const double bounds[] = { 0.001, 0.005, 0.025 };
	const uint64_t counts[] = { 3, 0, 5, 2 };	/* last: above 0.025 */
	struct prom_histogram h = { bounds, 3, counts, 0.75 };
	struct prom_label l[] = { { "handler", "work" } };

	prom_init(&B, mem, sizeof(mem) - 1);
	prom_family(&B, "sluiced_request_seconds", "Request latency.", PROM_HISTOGRAM);
	prom_histogram(&B, "sluiced_request_seconds", l, 1, &h);
	assert_string_equal(finish(),
		"# HELP sluiced_request_seconds Request latency.\n"
		"# TYPE sluiced_request_seconds histogram\n"
		"sluiced_request_seconds_bucket{handler=\"work\",le=\"0.001\"} 3\n"
		"sluiced_request_seconds_bucket{handler=\"work\",le=\"0.005\"} 3\n"
		"sluiced_request_seconds_bucket{handler=\"work\",le=\"0.025\"} 8\n"
		"sluiced_request_seconds_bucket{handler=\"work\",le=\"+Inf\"} 10\n"
		"sluiced_request_seconds_sum{handler=\"work\"} 0.75\n"
		"sluiced_request_seconds_count{handler=\"work\"} 10\n");

	/* without labels */
	prom_init(&B, mem, sizeof(mem) - 1);
	prom_histogram(&B, "h", NULL, 0, &h);
	const char *out = finish();

	assert_non_null(strstr(out, "h_bucket{le=\"0.001\"} 3\n"));
	assert_non_null(strstr(out, "h_count 10\n"));
}

static void test_errors_are_sticky(void **state)
{
	(void)state;
	struct prom_label bad_label[] = { { "__reserved", "x" } };
	struct prom_label le_label[] = { { "le", "x" } };
	const double unordered[] = { 1, 1 };
	const uint64_t counts[] = { 0, 0, 0 };
	struct prom_histogram h = { unordered, 2, counts, 0 };

	prom_init(&B, mem, sizeof(mem));
	prom_family(&B, "9starts_with_digit", "x", PROM_GAUGE);
	prom_sample(&B, "ok", NULL, 0, 1);
	assert_int_equal(prom_finish(&B), -EINVAL);

	prom_init(&B, mem, sizeof(mem));
	prom_sample(&B, "ok", bad_label, 1, 1);
	assert_int_equal(prom_finish(&B), -EINVAL);

	prom_init(&B, mem, sizeof(mem));
	prom_sample(&B, "bad-dash", NULL, 0, 1);
	assert_int_equal(prom_finish(&B), -EINVAL);

	prom_init(&B, mem, sizeof(mem));
	prom_histogram(&B, "h", le_label, 1, &(struct prom_histogram){ NULL, 0, counts, 0 });
	assert_int_equal(prom_finish(&B), -EINVAL);

	prom_init(&B, mem, sizeof(mem));
	prom_histogram(&B, "h", NULL, 0, &h);
	assert_int_equal(prom_finish(&B), -EINVAL);

	/* metric names may hold ':', label names may not */
	struct prom_label colon[] = { { "a:b", "x" } };

	prom_init(&B, mem, sizeof(mem));
	prom_sample(&B, "job:rate:sum", NULL, 0, 1);
	assert_true(prom_finish(&B) > 0);
	prom_sample(&B, "m", colon, 1, 1);
	assert_int_equal(prom_finish(&B), -EINVAL);
}

static void test_no_space(void **state)
{
	(void)state;
	char small[64];
	int full;

	prom_init(&B, mem, sizeof(mem));
	prom_family(&B, "sluiced_connections", "Open connections.", PROM_GAUGE);
	prom_sample(&B, "sluiced_connections", NULL, 0, 12);
	full = prom_finish(&B);
	assert_true(full > (int)sizeof(small));
	for (size_t cap = 0; cap < sizeof(small); cap++) {
		prom_init(&B, small, cap);
		prom_family(&B, "sluiced_connections", "Open connections.", PROM_GAUGE);
		prom_sample(&B, "sluiced_connections", NULL, 0, 12);
		assert_int_equal(prom_finish(&B), -ENOSPC);
		assert_true(B.len <= cap);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_with_labels),
		cmocka_unit_test(test_gauge_numbers),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_errors_are_sticky),
		cmocka_unit_test(test_no_space),
	};

	return cmocka_run_group_tests_name("prom", tests, NULL, NULL);
}
