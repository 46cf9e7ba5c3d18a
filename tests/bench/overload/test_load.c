// SPDX-License-Identifier: MIT
/*
 * Unit tests of sluice-load's pure parts: the log-linear histogram
 * (quantiles within a bucket's width of the truth), the parser of
 * response heads that classifies each request's outcome, and the JSON
 * series' p99 of the rest of the run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../../user/load/conn.h"
#include "../../../user/load/hist.h"
#include "../../../user/load/load.h"

static void assert_near(uint64_t got, uint64_t want)
{
	/* A bucket spans 1/HIST_SUB of its power of two; quantiles report
	 * the bucket's top, so they may be above the truth by that much. */
	uint64_t slack = want / HIST_SUB + 1;
	if (got < want || got > want + slack)
		fail_msg("got %llu, want %llu (+%llu)", (unsigned long long)got,
			 (unsigned long long)want, (unsigned long long)slack);
}

static void hist_uniform(void **state)
{
	(void)state;
	struct hist *h = calloc(1, sizeof(*h));
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(h, v);
	assert_int_equal(h->total, 100000);
	assert_int_equal(h->max_us, 100000);
	assert_near(hist_quantile(h, 0.5), 50000);
	assert_near(hist_quantile(h, 0.99), 99000);
	assert_near(hist_quantile(h, 0.999), 99900);
	assert_int_equal(hist_quantile(h, 1.0), 100000);
	free(h);
}

static void hist_small_exact_and_merge(void **state)
{
	(void)state;
	struct hist *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
	hist_record(a, 3);
	hist_record(b, 7);
	hist_record(b, 7);
	hist_merge(a, b);
	assert_int_equal(a->total, 3);
	assert_int_equal(hist_quantile(a, 0.1), 3);	/* below HIST_SUB: exact */
	assert_int_equal(hist_quantile(a, 0.9), 7);
	assert_int_equal(hist_quantile(b, 0.5), 7);
	struct hist empty = { 0 };
	assert_int_equal(hist_quantile(&empty, 0.99), 0);
	free(a);
	free(b);
}

static void hist_huge_value_is_kept(void **state)
{
	(void)state;
	struct hist *h = calloc(1, sizeof(*h));
	hist_record(h, 1ull << 40);	/* beyond the top bucket: clamped, max kept */
	assert_int_equal(h->max_us, 1ull << 40);
	assert_int_equal(hist_quantile(h, 0.5), 1ull << 40);
	free(h);
}

static void parse(const char *resp, int want_r, int want_status, size_t want_total, bool want_keep)
{
	int status = -1;
	size_t total = 0;
	bool keep = !want_keep;
	int r = conn_parse_response(resp, strlen(resp), &status, &total, &keep);
	assert_int_equal(r, want_r);
	if (r != 1)
		return;
	assert_int_equal(status, want_status);
	assert_int_equal(total, want_total);
	assert_int_equal(keep, want_keep);
}

static void responses(void **state)
{
	(void)state;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\ndone\n";
	parse(ok, 1, 200, strlen(ok), true);
	const char *shed = "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n"
			   "Connection: close\r\nContent-Length: 11\r\n\r\noverloaded\n";
	parse(shed, 1, 503, strlen(shed), false);
	/* No length: the body runs to the close, so the connection cannot stay. */
	parse("HTTP/1.0 200 OK\r\n\r\n", 1, 200, SIZE_MAX, false);
	parse("HTTP/1.1 204 No Content\r\n\r\n", 1, 204, 27, true);
	parse("HTTP/1.1 200 OK\r\nContent-Le", 0, 0, 0, false);		/* more to come */
	parse("SSH-2.0-OpenSSH\r\n\r\n", -EBADMSG, 0, 0, false);
	parse("HTTP/1.1 2x0 OK\r\n\r\n", -EBADMSG, 0, 0, false);
}

/* The JSON's "p99_rest_ms" of bin b, from the text sluice-load wrote. */
static double rest_of(const char *json, unsigned b)
{
	char key[32];
	const char *at;

	snprintf(key, sizeof(key), "\"t_ms\":%u,", b * (LOAD_BIN_US / 1000));
	at = strstr(json, key);
	assert_non_null(at);
	at = strstr(at, "\"p99_rest_ms\":");
	assert_non_null(at);
	return strtod(at + strlen("\"p99_rest_ms\":"), NULL);
}

/* r's JSON report as o sets it up (json_path aside), read back into json
 * (len bytes at most, NUL included). */
static void report_of(struct load_opts *o, const struct load_result *r, char *json,
		      size_t len)
{
	char path[] = "/tmp/test_load.XXXXXX";
	int fd = mkstemp(path);
	size_t n;
	FILE *f;

	assert_true(fd >= 0);
	o->json_path = path;
	assert_int_equal(load_report_json(o, r), 0);
	f = fdopen(fd, "r");
	n = fread(json, 1, len - 1, f);
	json[n] = 0;
	fclose(f);
	unlink(path);
}

/* A spike of 100 slow answers in the first bin, 2 x 100 fast ones after:
 * from bin 0 the rest's p99 is the spike's, from bin 1 on the fast one's. */
static void series_rest_p99(void **state)
{
	(void)state;
	struct load_opts o = { .duration_s = 0.3 };
	struct load_result r = { .nbins = 3 };
	struct hist *fast = calloc(1, sizeof(*fast));
	char json[65536];

	r.bins = calloc(r.nbins, sizeof(*r.bins));
	for (unsigned i = 0; i < 100; i++) {
		load_result_record(&r, LOAD_ok, 50000, 40000);
		load_result_record(&r, LOAD_ok, 150000, 1000);
		load_result_record(&r, LOAD_ok, 250000, 1000);
		hist_record(fast, 1000);
	}
	report_of(&o, &r, json, sizeof(json));
	assert_true(rest_of(json, 0) >= 40.0);
	assert_true(rest_of(json, 1) == rest_of(json, 2));
	assert_true(rest_of(json, 1) * 1000 < 1000 + 1000 / HIST_SUB + 1);
	assert_true(rest_of(json, 1) * 1000 >= (double)hist_quantile(fast, 0.99) - 0.5);
	free(fast);
	free(r.bins);
}

/* With steps, the rest ends with its step: an overload's tail is not
 * diluted by the light step after it. Steps of 0.2 s and 0.1 s: in bin 1
 * 5 slow answers of 100, in bin 2 (the second step) 1000 fast ones: from
 * bin 1 the p99 is the slow answers' (of the whole run's rest, 5 of 1100,
 * it would be a fast one's), from bin 2 the fast ones'. */
static void series_rest_p99_per_step(void **state)
{
	(void)state;
	struct load_opts o = { .duration_s = 0.3, .nsteps = 2,
			       .step_rate = { 1000, 1000 }, .step_s = { 0.2, 0.1 } };
	struct load_result r = { .nbins = 3 };
	char json[65536];

	r.bins = calloc(r.nbins, sizeof(*r.bins));
	for (unsigned i = 0; i < 100; i++) {
		load_result_record(&r, LOAD_ok, 50000, 1000);
		load_result_record(&r, LOAD_ok, 150000, i < 5 ? 40000 : 1000);
	}
	for (unsigned i = 0; i < 1000; i++)
		load_result_record(&r, LOAD_ok, 250000, 1000);
	report_of(&o, &r, json, sizeof(json));
	assert_true(rest_of(json, 0) >= 40.0);
	assert_true(rest_of(json, 1) >= 40.0);
	assert_true(rest_of(json, 2) < 2.0);
	free(r.bins);
}

/* --trace: a line per request, in the order they ended, with the moments
 * the conn recorded and the client's port (0 for a conn with no socket). */
static void trace_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_load_trace.XXXXXX";
	int fd = mkstemp(path);
	struct load_trace t = { 0 };
	struct conn c = { .fd = -1, .sched_us = 1000, .connect_us = 1001, .sent_us = 1050,
			  .first_us = 3000, .rlen = 0 };
	char line[256];
	FILE *f;

	assert_true(fd >= 0);
	close(fd);
	load_trace_add(&t, &c, LOAD_ok, 3100);
	c.sched_us = 2000;
	c.connect_us = 2001;
	c.sent_us = c.first_us = 0;
	load_trace_add(&t, &c, LOAD_refused, 2200);
	for (int i = 0; i < 5000; i++)	/* past the first allocation */
		load_trace_add(&t, &c, LOAD_timeout, 3000000);
	assert_int_equal(t.n, 5002);
	assert_int_equal(load_trace_write(path, &t), 0);
	load_trace_free(&t);
	assert_null(t.v);

	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "# sched_us\tconnect_us\tsent_us\tfirst_us\tdone_us\tport\toutcome\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "1000\t1001\t1050\t3000\t3100\t0\tok\n");
	assert_non_null(fgets(line, sizeof(line), f));
	assert_string_equal(line, "2000\t2001\t0\t0\t2200\t0\trefused\n");
	int n = 2;
	while (fgets(line, sizeof(line), f))
		n++;
	assert_int_equal(n, 5002);
	fclose(f);
	unlink(path);

	/* An unwritable path is an error, named on stderr. */
	assert_int_equal(load_trace_write("/nonexistent/dir/trace", &t), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hist_uniform),
		cmocka_unit_test(hist_small_exact_and_merge),
		cmocka_unit_test(hist_huge_value_is_kept),
		cmocka_unit_test(responses),
		cmocka_unit_test(series_rest_p99),
		cmocka_unit_test(series_rest_p99_per_step),
		cmocka_unit_test(trace_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
