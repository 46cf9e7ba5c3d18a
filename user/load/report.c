// SPDX-License-Identifier: MIT
/* sluice-load results: recording outcomes, the summary table and JSON. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"

const char *const load_outcome_names[LOAD__COUNT] = {
#define LOAD_X_NAME(name, desc) #name,
	LOAD_OUTCOMES(LOAD_X_NAME)
#undef LOAD_X_NAME
};

void load_result_record(struct load_result *r, enum load_outcome o,
			uint64_t sched_us_rel, uint64_t latency_us)
{
	r->outcomes[o]++;
	if (o == LOAD_ok)
		hist_record(&r->ok_latency, latency_us);
	else if (o == LOAD_shed)
		hist_record(&r->shed_latency, latency_us);

	uint64_t bin = sched_us_rel / LOAD_BIN_US;
	if (bin < r->nbins) {
		r->bins[bin].outcomes[o]++;
		if (o == LOAD_ok)
			hist_record(&r->bins[bin].ok_latency, latency_us);
	}
}

static double ms(uint64_t us)
{
	return (double)us / 1000.0;
}

void load_report_table(const struct load_opts *o, const struct load_result *r)
{
	const struct hist *h = &r->ok_latency;

	if (o->closed)
		printf("closed loop over %u connections for %.1f s: %llu requests\n",
		       o->closed, o->duration_s, (unsigned long long)r->scheduled);
	else
		printf("offered %.0f req/s for %.1f s (%s arrivals, %s): %llu requests\n",
		       o->rate, o->duration_s, o->poisson ? "Poisson" : "constant",
		       o->keepalive ? "keep-alive" : "new connection each",
		       (unsigned long long)r->scheduled);
	for (int i = 0; i < LOAD__COUNT; i++)
		printf("  %-9s %10llu\n", load_outcome_names[i],
		       (unsigned long long)r->outcomes[i]);
	printf("goodput   %10.1f req/s\n", (double)r->outcomes[LOAD_ok] / o->duration_s);
	printf("latency of 2xx from scheduled time (ms): p50 %.2f  p99 %.2f  p999 %.2f  max %.2f\n",
	       ms(hist_quantile(h, 0.50)), ms(hist_quantile(h, 0.99)),
	       ms(hist_quantile(h, 0.999)), ms(h->max_us));
	printf("sender lateness (ms): p99 %.3f  max %.3f\n",
	       ms(hist_quantile(&r->lateness, 0.99)), ms(r->lateness.max_us));
}

static void json_quantiles(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f, "\"%s\":{\"count\":%llu,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		   "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f}",
		name, (unsigned long long)h->total, ms(hist_quantile(h, 0.5)),
		ms(hist_quantile(h, 0.9)), ms(hist_quantile(h, 0.99)),
		ms(hist_quantile(h, 0.999)), ms(h->max_us),
		h->total ? ms(h->sum_us) / (double)h->total : 0.0);
}

static void json_outcomes(FILE *f, const uint64_t *counts)
{
	for (int i = 0; i < LOAD__COUNT; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", load_outcome_names[i],
			(unsigned long long)counts[i]);
}

/* The step (--steps) bin b falls in; 0 without steps. */
static unsigned step_of(const struct load_opts *o, unsigned b)
{
	double t = (double)b * LOAD_BIN_US / 1e6, end = 0;

	for (unsigned i = 0; i + 1 < o->nsteps; i++) {
		end += o->step_s[i];
		if (t < end - 1e-9)
			return i;
	}
	return o->nsteps ? o->nsteps - 1 : 0;
}

/*
 * rest[b]: the p99 of the 2xx answers scheduled in bin b or any later one
 * of the same step (the whole run without steps). "Back within the bound
 * by t" is then a statement about the same quantile the bound is on (rest
 * at t <= bound), where a bin's own p99 is the largest of its ~100
 * answers, stricter than any p99 bar; and the light step after an
 * overload (0.5x -> 10x -> 0.5x) does not dilute the overload's tail.
 */
static int rest_p99(const struct load_opts *o, const struct load_result *r, double *rest)
{
	struct hist *acc = calloc(1, sizeof(*acc));

	if (!acc)
		return -ENOMEM;
	for (unsigned b = r->nbins; b-- > 0;) {
		if (b + 1 < r->nbins && step_of(o, b) != step_of(o, b + 1))
			memset(acc, 0, sizeof(*acc));
		hist_merge(acc, &r->bins[b].ok_latency);
		rest[b] = ms(hist_quantile(acc, 0.99));
	}
	free(acc);
	return 0;
}

int load_report_json(const struct load_opts *o, const struct load_result *r)
{
	double *rest = calloc(r->nbins ? r->nbins : 1, sizeof(*rest));
	FILE *f;

	if (!rest || rest_p99(o, r, rest)) {
		fprintf(stderr, "sluice-load: out of memory for the JSON report\n");
		free(rest);
		return -ENOMEM;
	}
	f = strcmp(o->json_path, "-") ? fopen(o->json_path, "w") : stdout;
	if (!f) {
		int err = -errno;
		fprintf(stderr, "sluice-load: cannot write %s: %s\n", o->json_path,
			strerror(errno));
		free(rest);
		return err;
	}

	fprintf(f, "{\"rate\":%.3f,\"duration_s\":%.3f,\"arrivals\":\"%s\","
		   "\"closed\":%u,\"keepalive\":%u,\"timeout_ms\":%u,\"scheduled\":%llu,"
		   "\"elapsed_s\":%.3f,\"goodput\":%.3f,\"outcomes\":{",
		o->rate, o->duration_s, o->poisson ? "poisson" : "constant",
		o->closed, o->keepalive, o->timeout_ms, (unsigned long long)r->scheduled,
		r->elapsed_s, (double)r->outcomes[LOAD_ok] / o->duration_s);
	json_outcomes(f, r->outcomes);
	fputs("},\"steps\":[", f);
	for (unsigned i = 0; i < o->nsteps; i++)
		fprintf(f, "%s{\"rate\":%.3f,\"seconds\":%.3f}", i ? "," : "",
			o->step_rate[i], o->step_s[i]);
	fputs("],", f);
	json_quantiles(f, "ok_latency", &r->ok_latency);
	fputc(',', f);
	json_quantiles(f, "shed_latency", &r->shed_latency);
	fputc(',', f);
	json_quantiles(f, "lateness", &r->lateness);
	fprintf(f, ",\"bin_ms\":%u,\"series\":[", LOAD_BIN_US / 1000);
	for (unsigned b = 0; b < r->nbins; b++) {
		const struct load_bin *bin = &r->bins[b];
		fprintf(f, "%s{\"t_ms\":%u,", b ? "," : "", b * (LOAD_BIN_US / 1000));
		json_outcomes(f, bin->outcomes);
		fprintf(f, ",\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p99_rest_ms\":%.3f}",
			ms(hist_quantile(&bin->ok_latency, 0.5)),
			ms(hist_quantile(&bin->ok_latency, 0.99)), rest[b]);
	}
	fputs("]}\n", f);
	free(rest);

	int err = ferror(f) ? -EIO : 0;
	if (f != stdout && fclose(f))
		err = -errno;
	if (err)
		fprintf(stderr, "sluice-load: writing %s failed\n", o->json_path);
	return err;
}
