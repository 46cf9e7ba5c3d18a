// SPDX-License-Identifier: MIT
/*
 * Unit tests of when the daemon writes its sl_admission entry
 * (heartbeat.c): at once when the limits change or the service was
 * claimed again, otherwise as a heartbeat often enough for stale-after.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "heartbeat.h"

#define MS 1000000ull
#define T0 (1000 * 1000 * MS)
#define SLOT 7

static struct sl_admission limits(uint64_t stale_after_ns)
{
	return (struct sl_admission){ .heartbeat_ns = T0, .stale_after_ns = stale_after_ns,
				      .rate_cap = 950, .level = 2,
				      .stale_policy = SL_STALE_STATIC };
}

/* Nothing written since the claim: written, whatever the time. */
static void test_first_write_is_due(void **state)
{
	(void)state;
	struct sl_admission last = limits(5000 * MS), next = limits(5000 * MS);

	assert_true(sld_admission_due(&last, 0, &next, SLOT, T0, false));
	assert_true(sld_admission_due(&last, 0, &next, SLOT, T0 + 1, false));
}

/* Unchanged limits wait for the heartbeat: 100 ms at the default
 * stale-after (5 s), a tenth of a short one. */
static void test_unchanged_waits_for_heartbeat(void **state)
{
	(void)state;
	uint64_t stale[] = { 5000 * MS, 200 * MS, 100 * MS };
	uint64_t every[] = { 100 * MS, 20 * MS, 10 * MS };

	for (int i = 0; i < 3; i++) {
		struct sl_admission last = limits(stale[i]), next = limits(stale[i]);

		assert_int_equal(sld_heartbeat_every(stale[i]), every[i]);
		assert_false(sld_admission_due(&last, SLOT, &next, SLOT, T0, false));
		assert_false(sld_admission_due(&last, SLOT, &next, SLOT, T0 + every[i] - 1, false));
		assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + every[i], false));
		assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + stale[i], false));
	}
}

/* The heartbeat leaves most of stale-after: a daemon that stops is
 * fallen back from no sooner than 90% of it after its last tick. */
static void test_heartbeat_within_stale_after(void **state)
{
	(void)state;

	for (uint64_t s = 100 * MS; s <= 60000 * MS; s += 37 * MS) {
		uint64_t e = sld_heartbeat_every(s);

		assert_true(e > 0);
		assert_true(e <= s / 10);
		assert_true(e <= SLD_HEARTBEAT_MAX_NS);
	}
}

/* Any change of what the data plane reads is written at the next tick. */
static void test_any_change_is_due(void **state)
{
	(void)state;
	struct sl_admission last = limits(5000 * MS), next;

	next = last, next.rate_cap = 951;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, false));
	next = last, next.level = 3;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, false));
	next = last, next.conc_limit = 3;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, false));
	next = last, next.stale_after_ns = 6000 * MS;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, false));
	next = last, next.stale_policy = SL_STALE_OPEN;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, false));
	next = last, next.flags = SL_ADM_FLEET;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, false));
	/* the service moved to another slot (deleted and added again) */
	next = last;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT + 1, T0 + 1, false));
}

/* A rise of the rate alone, in a tick that saw no new connection, waits
 * for the heartbeat; a cut, a rise in a tick with connections, and a cap
 * where there was none do not. */
static void test_quiet_rise_waits(void **state)
{
	(void)state;
	struct sl_admission last = limits(5000 * MS), next = last;

	next.rate_cap = 1000;
	assert_false(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, true));
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 100 * MS, true));
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, false));
	next.rate_cap = 900;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, true));
	/* with anything else changed it goes at once */
	next.rate_cap = 1000, next.level = 3;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, true));
	last.rate_cap = 0, next = last, next.rate_cap = 1000;
	assert_true(sld_admission_due(&last, SLOT, &next, SLOT, T0 + 1, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_write_is_due),
		cmocka_unit_test(test_unchanged_waits_for_heartbeat),
		cmocka_unit_test(test_heartbeat_within_stale_after),
		cmocka_unit_test(test_any_change_is_due),
		cmocka_unit_test(test_quiet_rise_waits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
