// SPDX-License-Identifier: MIT
/*
 * The admission controller's law. Two outputs, two loops:
 *
 * 1. Rate (fast loop, every tick). The signal is queueing delay, as in
 *    Breakwater and CoDel: it is what an admitted request pays, and unlike
 *    CPU utilisation it says how far past capacity we are.
 *
 *      d = max(delay_min, oldest_age / 2) + backlog / goodput
 *
 *    The law holds d at T = aim x the target delay (aim 1/2), not at the
 *    target itself: the target is where the daemon's deadline drop
 *    answers a request that waited longer 503, after it was accepted and
 *    read (main.c). Aimed at the target, the law never saw it: the drop
 *    cut every wait there, so the tick's smallest wait stayed under it
 *    (1-3.5 ms of 5), and the rate climbed, one step past goodput at a
 *    time, to 1.12 x what the service completed. The proxy on the Go
 *    service's core at 2x then answered the excess 503 at the deadline,
 *    14% of all it was sent (bench-overload, 20:52): work on the
 *    service's core that the kernel's refusal does not cost. Aimed at
 *    half, 1.2%, with the same goodput (the queue does not run dry: its
 *    smallest wait ~1.5 ms) and a lower p99 (7.2 ms against 7.7). Guard
 *    mode aims at the target (ctl_params_guard): it has no deadline
 *    drop, and its signal is a tail already.
 *
 *    delay_min, the smallest delay of the tasks started in the interval,
 *    ignores a burst that drained within it (CoDel's standing queue);
 *    oldest_age catches a queue that stopped moving (no task started, so no
 *    minimum), at half weight so it acts only when the oldest task waited
 *    twice T (the target, at the default aim: where the deadline drop
 *    acts, and Breakwater and CoDel drop at twice theirs). The
 *    accept backlog is queueing too, before the pool sees it: by Little's
 *    law it adds backlog / goodput.
 *
 *    Over T (d > T): multiplicative decrease in proportion to the
 *    excess, applied to goodput rather than to the previous rate:
 *
 *      f = min(1/2, (d - T) / drain)       r' = goodput * (1 - f)
 *
 *    While overloaded, goodput is what the service demonstrably completes,
 *    i.e. its capacity; admitting goodput * (1 - f) drains the excess queue
 *    ((d - T) * goodput requests) at f * goodput per second. As the queue
 *    drains, f shrinks and the rate returns to goodput: the excess decays
 *    exponentially with time constant `drain`, with no undershoot, where
 *    compounding r' = r * (1 - f) tick after tick (the delay signal lags)
 *    would cut far below capacity and leave the pool idle. f is at most
 *    1/2 (Breakwater's "at most halve", here relative to the measured
 *    capacity). Anchoring to goodput also drops at once a rate that was
 *    never backed by completions (after a capacity drop, or at start),
 *    which halving the previous rate would take several ticks to do.
 *    Goodput is taken over the last three ticks that had demand or
 *    completions (ctl_goodput_tick, at the end): a quiet tick's zero
 *    says nothing of the capacity, and averaged into the first ticks of
 *    the load that follows it anchored their decrease (the burst the
 *    bucket's depth lets in after a quiet spell reads as delay) at a
 *    fraction of the capacity.
 *
 *    At or under T: additive increase, damped as d nears T:
 *
 *      r' = r + increase * max(r, goodput) * (1 - d / T) * dt / tick
 *
 *    The step is a fraction of the operating point so the same constant
 *    works for 100/s and 100k/s services (a fixed step in conn/s would be
 *    either glacial or violent); within an episode it is nearly constant,
 *    so the law is AIMD in effect. The damping (1 - d/T) lets the rate
 *    settle where the queue sits just under T instead of overshooting
 *    into it each cycle: no sawtooth in steady overload.
 *
 *    While the cap is binding, the increase also stops one step above
 *    goodput: r' <= max(r, (1 + increase) * goodput). It stops the climb
 *    from running ahead of the lagging delay signal into a queue once
 *    the rate reaches capacity. The pool's minimum delay says nothing
 *    until a queue stands, so served, the cap always acts. Guard mode's
 *    signal is a tail, which rises with load well before capacity (the
 *    coarse clock's clumps, the service's pauses), and there it acts
 *    only from half the target (ahead_from, ctl_params_guard): below,
 *    it only held the climb back, as goodput over three ticks lags a
 *    rising rate by a few % and at 500/s (5 answers a tick) reads
 *    +-15%; a guarded Go service climbing back after a stall sat at
 *    613/s for four ticks at a time with its delay at 2 ms.
 *
 *    No wind-up: r' <= headroom * max(demand, goodput), where demand =
 *    admitted + shed by the rate (the traffic that passed the level; a
 *    SYN the kernel refused is demand like one it admitted). While
 *    demand is below capacity the rate stays within headroom of it and
 *    does not climb to rate_max; headroom = 1.5 lets a 50% burst through
 *    with no reaction needed. When demand later jumps, growth starts from
 *    there: 1.5 x the old demand at once, then the additive step.
 *
 *    Cold start: no cap until the second tick in a row that sees
 *    arrivals (or an overloaded one). Before
 *    any traffic the bound above is headroom * 0, i.e. the floor, and a
 *    normal load arriving at a cold daemon would be refused at a trickle
 *    while the rate climbs back (and a client whose SYN was dropped shows
 *    no demand for a second). With nothing known the only honest cap is
 *    none (the service's static limit, if any, still holds); the second
 *    tick with demand brings the rate within headroom of it, or the first
 *    overloaded one anchors it to goodput. Not the first with demand: a
 *    client's burst of connects (a pool opening 64 at once) that a tick
 *    boundary cuts shows that tick only its first part, and a cap at 1.5x
 *    that part refused the rest, which reconnected at once into the
 *    bucket's depth of 4 and were refused again: 533 and 572 refusals in
 *    a guarded round of bench-guard. An overload's first tick is no
 *    safer capped: 1.5x a 10x demand admits all of it.
 *
 *    Capacity from the busy fraction: climbing 5% a tick from a low rate
 *    (after a quiet spell, or from the floor) takes a second to reach
 *    capacity while the pool sits mostly idle. The workers' busy fraction
 *    says how far that is: goodput / busy is what they would complete at
 *    100% busy (Little's law on the workers; N workers / mean service
 *    time, so a few completions already tell it). Well under T (d <
 *    T/2), with busy known (> 0) and demand above the rate, the rate jumps at once
 *    to busy_jump (0.9) of that estimate, capped by the no-wind-up bound;
 *    a busy fraction under a tenth counts as a tenth (JUMP_BUSY_MIN).
 *    Under load the estimate is the goodput itself (busy ~ 1), so the jump
 *    never lifts the rate above what is completed; on a CPU shared with
 *    other work busy counts preempted time, so the estimate errs low.
 *
 *    Recovery floor: the no-wind-up bound is never below rate_floor. The
 *    daemon sets it to half the best goodput of the last 10-20 s: after a
 *    quiet spell the rate then waits at half the capacity just seen, not at
 *    headroom x a trickle, for demand to come back. It bounds only that
 *    bound, never the decrease over T, nor does it lift a rate the
 *    decrease set: a capacity that fell below it (a noisy neighbour taking
 *    the service's CPU) is followed at once, where a floor on the rate
 *    itself held the rate above the capacity, and the queue past any
 *    target, for the 10-20 s the floor takes to forget. Nor does it let
 *    the rate grow while a level raise is on probation (below).
 *
 *    CPU pressure: when PSI "some avg10" is at or above psi_hold, the rate
 *    does not increase (it may still decrease): something outside the pool
 *    is taking the CPU, and growing into it would show up as delay only
 *    later. Depth is reported but not used: queueing delay already says
 *    what it would (Breakwater's argument). Not in guard mode
 *    (ctl_params_guard): there the pressure is the guarded service's own
 *    threads as much as anyone's (the JDK's pool of 8 on one core keeps
 *    "some" near 80% whenever it is busy), and the hold left the rate
 *    wherever the cuts had left it once avg10 got there, 86% of the
 *    capacity with its queue well under target (test_control_guard); a
 *    neighbour taking the CPU shows in the kernel's sojourns at once.
 *
 *    Bounds: rate_min <= r <= rate_max. rate_min > 0 so a trickle is always
 *    admitted and recovery is seen; the output is never 0 (0 = no cap).
 *
 * 2. Level (slow loop, DAGOR-style). fill = demand / rate is how much of
 *    the traffic above the level the rate cap must turn away. If fill >
 *    fill_hi for level_up_ns, the cap is shedding at random among classes
 *    that could be told apart: raise the level, shedding the lowest class
 *    outright. If fill < fill_lo and d < half the target delay for
 *    level_down_ns, there is room: lower the level. Hysteresis three
 *    ways: the gap between fill_lo and fill_hi, the hold times (up fast,
 *    down five times slower, as DAGOR moves down more carefully than
 *    up), and a memory: a move undone within level_revert_ns (a raise
 *    that left the rate under-filled because the shed class was most of
 *    the traffic, or a lowering that over-filled it) blocks that move for
 *    level_block_ns, doubling (up to 16x) for each raise undone in a
 *    row, so the level does not flap between two values. We cannot see
 *    the classes' shares of the traffic, so a raise is a probe: for
 *    REVERT_TICKS + 2 ticks after it the rate neither grows nor follows
 *    the (possibly vanished) demand down, so that undoing a raise that
 *    shed everything finds the rate where it was. Levels 0 and 1 both
 *    shed nothing; we use 0 and step 0 <-> 2.
 *
 * 3. Calm (ctl_calm). A tick that finds d under half the target, nothing
 *    refused, no backlog, nothing stuck, level 0, the rate not cut and a
 *    full headroom above demand has nothing to do but follow demand: the
 *    next tick may come later (guard mode: CTL_CALM_TICKS ticks,
 *    controlloop.c), since a change of load shows in the tick that
 *    follows either way. Not after a cut: what the cut refuses shows
 *    only in the next tick (a fresh guard's first cap is 1.5x one tick's
 *    demand, which may be short of a client's, and a client refused
 *    with a RST reconnects at once). While
 *    calm a rise of demand within headroom passes, and one beyond it is
 *    refused until that tick (at most a calm tick instead of a tick):
 *    from 0.5x to 10x in one step, the rate admits 0.75x of capacity for
 *    that long, which the service serves without a queue.
 *
 *    A tick that saw no new connection arrive may be calm up to the
 *    aim itself: the rate and the level judge only new connections,
 *    so nothing the tick sets acts before one comes, and the one that
 *    comes makes the next tick not calm. What this is for: a
 *    keep-alive load at full speed holds d near half the target (64
 *    connections queue ~1 ms each at 80k/s on the Go service, a tail
 *    of 2-3.5 ms), where every tick flipped between calm and not, and
 *    the uncalm ticks' wake-ups on the service's core (100 a second
 *    instead of 25) cost it a tenth of its requests in some 3 s rounds
 *    (bench-guard's probe cost, sessions 9-10).
 */
#include "control.h"

#include <errno.h>
#include <string.h>

#include <sluice/abi.h>

#define NS_PER_S 1e9
/* A raise is undone if the rate is under-filled for this many ticks. */
#define REVERT_TICKS 3
/* The busy jump reads goodput / busy as capacity; below this busy fraction
 * that rests on a completion or two (a 10 ms exchange seen in one tick of
 * three), and one tick read 34/s at 0.1% busy as 30,000/s. So one jump
 * multiplies goodput by at most busy_jump / JUMP_BUSY_MIN; from a trickle
 * two or three jumps reach capacity. */
#define JUMP_BUSY_MIN 0.1
/* A late tick's increase counts at most this many ticks' worth. */
#define MAX_TICKS_PER_STEP 2.0

void ctl_params_default(struct ctl_params *p)
{
	*p = (struct ctl_params){
		.tick_ns = 10000000,		/* 10 ms: Breakwater reacts per RTT; 10 ms
						 * is many µs-scale RTTs yet cheap to run */
		.target_delay_ns = 5000000,	/* 5 ms: CoDel's target; far above an
						 * unloaded pool's delay (µs), and the
						 * daemon's bar (p99 <= 2 x unloaded p99
						 * + target) is built around it */
		.drain_ns = 40000000,		/* 4 ticks: drain an excess in ~40 ms, so a
						 * spike is back within bound in < 200 ms */
		.rate_min = 10,			/* a trickle for recovery: 10 conn/s */
		.rate_floor = 0,		/* none; the daemon sets it each tick */
		.rate_max = 1000000,		/* above any one host's accept rate */
		.increase = 0.05,		/* 5% of the operating rate per tick: with
						 * the headroom, 0.5x -> 10x reaches 90% of
						 * capacity in 5 ticks (test_control) */
		.headroom = 1.5,		/* a 50% burst passes without reaction */
		.psi_hold = 80,			/* the CPU contended 80% of the time */
		.level_max = SL_MAX_CLASS,	/* shed up to class 6, never class 7 */
		.level_up_ns = 100000000,	/* 100 ms of over-fill: 10 ticks */
		.level_down_ns = 500000000,	/* 0.5 s of room: 5x slower than up */
		.level_revert_ns = 1000000000,	/* a move undone within 1 s... */
		.level_block_ns = 5000000000ull,/* ...is not retried for 5 s */
		.fill_hi = 1.5,			/* the cap turns away a third */
		.fill_lo = 0.8,			/* 20% of the rate unused */
		.busy_jump = 0.9,		/* 10% below the estimated capacity: the
						 * estimate is one tick's, and the additive
						 * step covers the rest */
		.ahead_from = 0,		/* the goodput cap always (the law) */
		.aim = 0.5,			/* half the target: the deadline drop
						 * acts at the target (the law) */
	};
}

void ctl_params_guard(struct ctl_params *p)
{
	p->psi_hold = 0;	/* the service's own threads are pressure (the law) */
	p->ahead_from = 0.5;	/* the signal is a tail: it rises before capacity */
	p->aim = 1;		/* no deadline drop: nothing to aim below (the law) */
}

int ctl_params_validate(const struct ctl_params *p, const char **why)
{
	const char *msg = NULL;

	if (p->tick_ns == 0)
		msg = "tick must be > 0";
	else if (p->target_delay_ns == 0)
		msg = "target delay must be > 0";
	else if (p->drain_ns < p->tick_ns)
		msg = "drain time must be at least one tick";
	else if (!(p->rate_min >= 1))
		msg = "minimum rate must be >= 1/s";
	else if (!(p->rate_max >= p->rate_min) || p->rate_max > UINT32_MAX)
		msg = "maximum rate must be >= minimum rate and fit 32 bits";
	else if (!(p->rate_floor >= 0 && p->rate_floor <= p->rate_max))
		msg = "rate floor must be in [0, maximum rate]";
	else if (!(p->increase > 0 && p->increase <= 1))
		msg = "increase must be in (0, 1]";
	else if (!(p->headroom >= 1))
		msg = "headroom must be >= 1";
	else if (!(p->psi_hold >= 0 && p->psi_hold <= 100))
		msg = "PSI hold must be in [0, 100]";
	else if (p->level_max > SL_MAX_CLASS + 1)
		msg = "level max must be <= SL_MAX_CLASS + 1";
	else if (!(p->fill_lo > 0 && p->fill_hi > p->fill_lo))
		msg = "need 0 < fill_lo < fill_hi";
	else if (!(p->busy_jump >= 0 && p->busy_jump <= 1))
		msg = "busy jump must be in [0, 1]";
	else if (!(p->ahead_from >= 0 && p->ahead_from <= 1))
		msg = "the goodput cap's delay share must be in [0, 1]";
	else if (!(p->aim > 0 && p->aim <= 1))
		msg = "the aim (share of the target) must be in (0, 1]";
	if (why)
		*why = msg;
	return msg ? -EINVAL : 0;
}

void ctl_init(struct ctl *c, const struct ctl_params *p)
{
	memset(c, 0, sizeof(*c));
	c->p = *p;
	/* Start open, and stay open until demand is seen (cold start). */
	c->rate = p->rate_max;
	c->ceiling = p->level_max;
}

static double clamp(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The delay the rate law holds d at (ns): aim x target (the law). */
static double setpoint(const struct ctl_params *p)
{
	return p->aim * (double)p->target_delay_ns;
}

/* The delay signal d (ns): see the law above. */
static double delay_signal(const struct ctl *c, const struct ctl_signals *s)
{
	double pool = (double)s->delay_min_ns;
	double stuck = (double)s->oldest_age_ns / 2;
	double per_s = s->goodput > c->p.rate_min ? s->goodput : c->p.rate_min;

	if (stuck > pool)
		pool = stuck;
	return pool + (double)s->backlog / per_s * NS_PER_S;
}

/* A level raise is on probation for a few ticks (see next_level). */
static bool level_probing(const struct ctl *c, uint64_t now)
{
	return c->last_move > 0 &&
	       now - c->last_move_ns <= (REVERT_TICKS + 2) * c->p.tick_ns;
}

static double next_rate(const struct ctl *c, const struct ctl_signals *s,
			double d, double dt_ticks)
{
	const struct ctl_params *p = &c->p;
	double T = setpoint(p);
	double demand = s->admitted + s->shed_rate;
	double r = c->rate;

	if (!c->demand_seen)
		return p->rate_max;	/* cold: no cap (see the law) */
	if (d > T) {
		double f = (d - T) / (double)p->drain_ns;

		if (f > 0.5)
			f = 0.5;
		r = s->goodput * (1 - f);
	} else {
		bool cpu_contended = p->psi_hold > 0 && s->psi_valid &&
				     s->psi_some_avg10 >= p->psi_hold;
		double base = r > s->goodput ? r : s->goodput;
		double cap = p->headroom * (demand > s->goodput ? demand : s->goodput);

		if (!cpu_contended)
			r += p->increase * base * (1 - d / T) * dt_ticks;
		/* Binding (the cap turns traffic away): do not grow more than
		 * one step past what was completed. The delay signal lags a
		 * tick or two; this keeps the climb from running ahead of it
		 * into a queue (overshoot), and costs nothing on a ramp, where
		 * goodput follows the rate within a tick. */
		if (demand > c->rate && d >= p->ahead_from * T) {
			double ahead = (1 + p->increase) * s->goodput;

			ahead = ahead > c->rate ? ahead : c->rate;
			if (r > ahead)
				r = ahead;
		}
		if (p->busy_jump > 0 && s->busy > 0 && s->goodput > 0 && d < T / 2 &&
		    demand > r) {
			double busy = s->busy > JUMP_BUSY_MIN ? s->busy : JUMP_BUSY_MIN;
			double est = p->busy_jump * s->goodput / busy;

			if (r < est)
				r = est;
		}
		/* Right after a level raise, demand may vanish because the
		 * shed class was all of it; the raise will be undone, and the
		 * rate must still be there when it is: no growth, no cut. */
		if (level_probing(c, s->now_ns))
			cap = cap > c->rate ? cap : c->rate;
		else if (cap < p->rate_floor)
			cap = p->rate_floor;	/* the recovery floor (see the law) */
		if (r > cap)
			r = cap;
	}
	return clamp(r, p->rate_min, p->rate_max);
}

static uint8_t level_up(uint8_t l)
{
	return l == 0 ? 2 : l + 1;	/* 1 sheds no more than 0 */
}

static uint8_t level_down(uint8_t l)
{
	return l <= 2 ? 0 : l - 1;
}

/* Tracks how long a condition has held: 0 if not now. */
static uint64_t held(uint64_t *since, bool cond, uint64_t now)
{
	if (!cond) {
		*since = 0;
		return 0;
	}
	if (!*since)
		*since = now ? now : 1;
	return now - *since;
}

static void move_level(struct ctl *c, int dir, uint64_t now)
{
	/* A move that outlived its probation ends a run of reverted ones. */
	if (c->last_move && now - c->last_move_ns > c->p.level_revert_ns)
		c->reverts = 0;
	c->level = dir > 0 ? level_up(c->level) : level_down(c->level);
	c->last_move = dir;
	c->last_move_ns = now;
	c->over_since_ns = 0;
	c->under_since_ns = 0;
}

static void next_level(struct ctl *c, const struct ctl_signals *s, double d,
		       double rate_in_force)
{
	const struct ctl_params *p = &c->p;
	uint64_t now = s->now_ns;
	double fill = (s->admitted + s->shed_rate) / rate_in_force;
	bool recent = c->last_move && now - c->last_move_ns <= p->level_revert_ns;
	uint64_t over = held(&c->over_since_ns, fill > p->fill_hi, now);
	uint64_t under = held(&c->under_since_ns,
			      fill < p->fill_lo && d < (double)p->target_delay_ns / 2,
			      now);

	if (c->block_until_ns && now >= c->block_until_ns) {
		c->block_until_ns = 0;
		c->ceiling = p->level_max;
		c->floor = 0;
	}
	/* A raise that emptied the rate: the class we shed was most of the
	 * demand. Undo it quickly and do not try it again for a while. */
	if (recent && c->last_move > 0 && c->level > 0 &&
	    under >= REVERT_TICKS * p->tick_ns) {
		unsigned shift = c->reverts < 4 ? c->reverts : 4;

		move_level(c, -1, now);
		c->ceiling = c->level;
		c->block_until_ns = now + (p->level_block_ns << shift);
		c->reverts++;
		return;
	}
	if (over >= p->level_up_ns && level_up(c->level) <= c->ceiling) {
		bool undoing = recent && c->last_move < 0;

		move_level(c, +1, now);
		if (undoing) {	/* the lowering over-filled: keep this floor */
			c->floor = c->level;
			c->block_until_ns = now + p->level_block_ns;
		}
		return;
	}
	if (under >= p->level_down_ns && c->level > c->floor)
		move_level(c, -1, now);
}

void ctl_tick(struct ctl *c, const struct ctl_signals *s,
	      struct ctl_output *out)
{
	double dt_ticks = 1;
	double rate_in_force = c->rate;
	double d = delay_signal(c, s);
	bool arrived;

	if (c->started) {
		uint64_t dt = s->now_ns > c->last_ns ? s->now_ns - c->last_ns : 0;

		dt_ticks = (double)dt / (double)c->p.tick_ns;
		dt_ticks = clamp(dt_ticks, 0, MAX_TICKS_PER_STEP);
	}
	c->started = true;
	c->last_ns = s->now_ns;
	/* Arrivals, not completions: the daemon's first tick has no kernel
	 * counters to difference yet (no arrivals), and goodput averaged
	 * over ticks that saw nothing reads a trickle that would cap a
	 * normal load. */
	arrived = ctl_arrivals(s) > 0;
	if ((arrived && c->arrived) || d > setpoint(&c->p))
		c->demand_seen = true;
	c->arrived = arrived;
	c->rate = next_rate(c, s, d, dt_ticks);
	c->cut = c->rate < rate_in_force;
	next_level(c, s, d, rate_in_force);

	out->rate_cap = (uint32_t)(c->rate + 0.5);
	if (out->rate_cap == 0)
		out->rate_cap = 1;
	out->level = c->level;
	out->overloaded = d > setpoint(&c->p);
	out->delay_ns = (uint64_t)d;
}

/* The law's calm (3 above): d at most this share of the target while
 * connections arrive. The law holds nothing back below it (ahead_from in
 * guard mode, the level's room). */
#define CALM_DELAY 0.5

bool ctl_calm(const struct ctl *c, const struct ctl_signals *s, const struct ctl_output *o)
{
	double demand = ctl_arrivals(s);
	double calm_ns = demand > 0 ? CALM_DELAY * (double)c->p.target_delay_ns
				    : setpoint(&c->p);

	return (double)o->delay_ns <= calm_ns &&
	       ctl_refused(s) <= 0 && !s->backlog && !s->oldest_age_ns &&
	       !o->level && !c->cut && c->p.headroom * demand <= c->rate;
}

/* A tick at most this busy does no work worth the name: an idle
 * runtime's own threads (the JVM's) use a few % of a CPU. */
#define QUIET_BUSY 0.05

/*
 * Goodput over the last ticks, for the law (the decrease's anchor, the
 * no-wind-up bound, the busy jump). A quiet tick (nothing offered,
 * nothing completed, nothing worked on: long requests in progress are
 * work) says nothing of what the service completes: counted
 * as a tick of zero completions it would read a third or two thirds of
 * the capacity for the first ticks of the load that follows, and a
 * decrease in those ticks (the burst the bucket's depth let in after the
 * quiet spell reads as delay) anchored to it cut the rate to a fraction
 * of the capacity: the Go service then ran at ~63% of it for the first
 * 0.8 s of a 10x load. So a quiet tick empties the window, and the load
 * that follows is measured from its own ticks only.
 */
void ctl_goodput_tick(struct ctl_goodput *g, uint64_t done, uint64_t ns, double busy,
		      bool demand, double *goodput, double *busy_avg)
{
	uint64_t sum_done = 0, sum_ns = 0;
	double sum_busy = 0;

	if (!demand && !done && busy <= QUIET_BUSY) {
		memset(g, 0, sizeof(*g));
		*goodput = 0;
		*busy_avg = busy;
		return;
	}
	g->done[g->i] = done;
	g->ns[g->i] = ns;
	g->busy_ns[g->i] = busy * (double)ns;
	g->i = (g->i + 1) % CTL_GOODPUT_TICKS;
	for (int i = 0; i < CTL_GOODPUT_TICKS; i++) {
		sum_done += g->done[i];
		sum_ns += g->ns[i];
		sum_busy += g->busy_ns[i];
	}
	*goodput = sum_ns ? (double)sum_done / ((double)sum_ns / NS_PER_S) : 0;
	*busy_avg = sum_ns ? sum_busy / (double)sum_ns : 0;
}

/*
 * The recovery floor (the law above): half the best goodput of the last
 * 10-20 s. The law keeps the rate within headroom of demand, so after a
 * quiet spell it would sit at rate_min and a burst would find it at a
 * trickle, climbing 5% a tick for a second. A service that just completed
 * N/s can take N/2 at once; the floor forgets a capacity that is gone
 * within 20 s, and never holds the rate above a capacity that fell.
 */
#define PEAK_WINDOW_NS 10000000000ull
#define PEAK_SHARE 0.5

double ctl_peak_floor(struct ctl_peak *pk, uint64_t now, double goodput)
{
	if (now - pk->start_ns > PEAK_WINDOW_NS) {
		pk->prev = pk->peak;
		pk->peak = 0;
		pk->start_ns = now;
	}
	if (goodput > pk->peak)
		pk->peak = goodput;
	return PEAK_SHARE * (pk->peak > pk->prev ? pk->peak : pk->prev);
}
