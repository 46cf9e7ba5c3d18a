/* SPDX-License-Identifier: MIT */
/*
 * sluiced's admission controller: from the service's load signals, once a
 * tick, the rate of new connections the kernel admits and the admission
 * level below which priority classes are shed. Pure and deterministic: no
 * clock reads, no I/O; time comes in with the signals. control.c states
 * the law and the reason for every constant.
 *
 * API:
 *   ctl_params_default(p)     the defaults below
 *   ctl_params_guard(p)       the defaults' changes for guard mode
 *   ctl_params_validate(p)    0 or -EINVAL, with a reason in *why
 *   ctl_init(c, p)            start (rate at rate_max, no cap until demand
 *                             is seen in two ticks in a row; level 0)
 *   ctl_tick(c, signals, out) one step; fills out
 *   ctl_calm(c, signals, out) after ctl_tick: the law had nothing to do
 *                             but follow demand, and the next tick may
 *                             wait CTL_CALM_TICKS ticks (control.c, 3)
 *   ctl_goodput_tick(g, done, ns, busy, demand, &goodput, &busy)
 *                             the goodput and busy fraction the law takes:
 *                             over the last CTL_GOODPUT_TICKS ticks that
 *                             had demand or completions (control.c)
 *   ctl_peak_floor(pk, now, goodput)
 *                             the recovery floor for rate_floor: half the
 *                             best goodput of the last 10-20 s (control.c)
 *
 * Units. Rates are per second, of whatever unit the kernel's bucket counts
 * (new connections). goodput must be in the same unit: with keep-alive the
 * daemon divides completed requests by requests per connection. Delays are
 * nanoseconds on CLOCK_MONOTONIC.
 */
#ifndef SLUICED_CONTROL_H
#define SLUICED_CONTROL_H

#include <stdbool.h>
#include <stdint.h>

struct ctl_params {
	uint64_t tick_ns;		/* nominal period of ctl_tick */
	uint64_t target_delay_ns;	/* queueing delay the service may see: the
					 * deadline drop's default (main.c) */
	double aim;			/* the rate law holds the delay at this
					 * share of the target (control.c) */
	uint64_t drain_ns;		/* time to drain a queue above target */
	double rate_min;		/* never admit less (recovery is seen) */
	double rate_floor;		/* the no-wind-up bound never below this
					 * (0: none; control.c, recovery floor) */
	double rate_max;		/* never admit more */
	double increase;		/* additive step, as a fraction of the operating rate */
	double headroom;		/* rate <= headroom * observed demand */
	double psi_hold;		/* CPU PSI some avg10 (%) that stops increases
					 * (0: never) */
	uint8_t level_max;		/* highest admission level the controller sets */
	uint64_t level_up_ns;		/* sustained over-fill before a level up */
	uint64_t level_down_ns;		/* sustained under-fill before a level down */
	uint64_t level_revert_ns;	/* a move undone within this is blocked... */
	uint64_t level_block_ns;	/* ...for this long */
	double fill_hi;			/* demand/rate above which the level rises */
	double fill_lo;			/* demand/rate below which it falls */
	double busy_jump;		/* under target, jump to this share of
					 * goodput / busy (0: off) */
	double ahead_from;		/* the goodput cap on the increase acts from
					 * this share of the target delay (control.c) */
};

/* One tick's measurements. Rates are averages over the interval since the
 * previous tick. */
struct ctl_signals {
	uint64_t now_ns;
	uint64_t delay_min_ns;	/* min queue delay of tasks started in the interval (0: none) */
	uint64_t oldest_age_ns;	/* age of the oldest queued task now (0: queue empty) */
	uint32_t depth;		/* queued tasks now (reported, not used by the law) */
	double busy;		/* workers' busy fraction, 0..1, over the goodput's
				 * interval (0: unknown; see busy_jump) */
	double goodput;		/* completions per second */
	double admitted;	/* new connections admitted per second */
	double shed_rate;	/* refused by the rate cap per second */
	double shed_level;	/* refused by the admission level per second */
	uint32_t backlog;	/* accept queue length now */
	bool psi_valid;		/* false where /proc/pressure is absent */
	double psi_some_avg10;	/* CPU pressure, percent */
};

/* New connections per second the data plane judged in the interval:
 * admitted, or refused by the rate (and the concurrency limit) or the
 * level. 0: the tick saw none arrive. */
static inline double ctl_arrivals(const struct ctl_signals *s)
{
	return s->admitted + s->shed_rate + s->shed_level;
}

/* Of those, refused per second (the data plane shed). */
static inline double ctl_refused(const struct ctl_signals *s)
{
	return s->shed_rate + s->shed_level;
}

struct ctl_output {
	uint32_t rate_cap;	/* for struct sl_admission: never 0 (0 means no cap) */
	uint8_t level;		/* for struct sl_admission */
	uint32_t conc_limit;	/* for struct sl_admission: 0 = none (set by
				 * the guard's concurrency law, conclimit.h) */
	bool overloaded;	/* queue delay above target this tick */
	uint64_t delay_ns;	/* the delay signal the law used */
};

struct ctl {
	struct ctl_params p;
	double rate;
	uint8_t level;
	uint8_t ceiling;	/* highest level allowed now (blocked moves) */
	uint8_t floor;		/* lowest level allowed now */
	bool started;
	bool demand_seen;	/* two ticks saw traffic: the cap applies (cold start) */
	bool arrived;		/* the last tick saw arrivals */
	bool cut;		/* the last tick lowered the rate (ctl_calm) */
	int last_move;		/* +1 up, -1 down, 0 none yet */
	uint64_t last_ns;
	uint64_t last_move_ns;
	uint64_t over_since_ns;	/* fill > fill_hi since (0: not) */
	uint64_t under_since_ns;/* fill < fill_lo since (0: not) */
	uint64_t block_until_ns;
	unsigned reverts;	/* raises undone in a row: the block doubles */
};

/* A service of ~1000/s completes ~10 requests in a 10 ms tick: one
 * tick's count is +-10% noise, and the law anchors its decrease to
 * goodput. Three ticks cut that to a few % at a lag of a tick or two. */
#define CTL_GOODPUT_TICKS 3

/* A calm tick's length in ticks (ctl_calm): 40 ms at the default tick,
 * a quarter of the controller's wake-ups on the core a guard shares with
 * the service it guards. */
#define CTL_CALM_TICKS 4

struct ctl_goodput {
	uint64_t done[CTL_GOODPUT_TICKS];	/* completions of each tick */
	uint64_t ns[CTL_GOODPUT_TICKS];		/* its length */
	double busy_ns[CTL_GOODPUT_TICKS];	/* its busy time */
	unsigned i;
};

struct ctl_peak {
	double peak, prev;	/* best goodput of this window and the last */
	uint64_t start_ns;	/* this window's start */
};

void ctl_params_default(struct ctl_params *p);
void ctl_params_guard(struct ctl_params *p);
int ctl_params_validate(const struct ctl_params *p, const char **why);
void ctl_init(struct ctl *c, const struct ctl_params *p);
void ctl_tick(struct ctl *c, const struct ctl_signals *s,
	      struct ctl_output *out);
bool ctl_calm(const struct ctl *c, const struct ctl_signals *s, const struct ctl_output *o);
double ctl_peak_floor(struct ctl_peak *pk, uint64_t now, double goodput);
void ctl_goodput_tick(struct ctl_goodput *g, uint64_t done, uint64_t ns, double busy,
		      bool demand, double *goodput, double *busy_avg);

#endif /* SLUICED_CONTROL_H */
