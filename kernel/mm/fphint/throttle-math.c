// SPDX-License-Identifier: GPL-2.0
/*
 * fphint throttle and backoff arithmetic, pure so KUnit can drive it: the
 * watermark hysteresis, the rate limiter's token bucket, the churn backoff
 * (core.c) and the host discard check's backoff (hostcheck.c).
 */
#include <linux/jiffies.h>
#include <linux/math64.h>
#include <linux/minmax.h>
#include <linux/time64.h>

#include "fphint.h"

/* Throttled state with hysteresis: engage below @floor, release above @floor + @hyst. */
bool fphint_hysteresis(bool was, unsigned long val, unsigned long floor,
		       unsigned long hyst)
{
	return was ? val < floor + hyst : val < floor;
}

/*
 * Reported memory handed out again soon after is pure cost: the host
 * discarded it and must fault it back in, zeroed.  Churned memory
 * (region.c: taken again within FPHINT_CHURN_WINDOW_MS of its report)
 * turns up passes after the report that sent it, so both are summed over
 * the current and the previous churn window, not per pass.  A pass that
 * saw memory churn, when a host huge page's worth or more churned in the
 * windows and that is over a quarter of what they reported, doubles the
 * delay (up to 2^FPHINT_BACKOFF_MAX): the longer delay is also the longer
 * quiet time a region needs before it is reported, so churned regions
 * stop qualifying.  A pass that saw none halves it again on evidence: 4
 * MiB reported in the windows, under 1/16 of it churned.  Little reported
 * proves nothing either way and holds the level; an idle worker decays it
 * separately (fphint_backoff_now()).  Churn counted since a step longer
 * ago than both windows may have happened any time since, mostly before
 * them, and is no evidence: a guest that frees nothing runs no passes,
 * and the first pass after such a spell counted a workload's start, which
 * took memory reported just before, as churn now (it backed the
 * fragmented bench's free off to an 800 ms delay).  Nor is churn counted
 * before a release: a pass after which the free lists hold more than
 * four times what churned since the last one follows memory given back,
 * not recycled, and steps no higher (a workload that took 2.4 MiB
 * reported just before it freed 768 MiB backed that free off to a 1.6 s
 * delay, and half of it waited 10 s).  Under churn, the passes after its
 * takes still step.
 *
 * @cw: the windows, updated; @now: jiffies; @reported: pages this pass
 * reported; @churned: pages that churned since the last pass; @grew:
 * pages the free lists gained since the last pass (negative: lost).
 */
unsigned int fphint_backoff_step(struct fphint_churn_window *cw,
				 unsigned int level, unsigned long now,
				 unsigned long reported, unsigned long churned,
				 long grew)
{
	unsigned long len = msecs_to_jiffies(FPHINT_CHURN_WINDOW_MS);
	unsigned long rep, chu;

	if (!time_in_range_open(now, cw->last, cw->last + 2 * len))
		churned = 0;
	cw->last = now;
	if (!time_in_range_open(now, cw->start, cw->start + len)) {
		bool next = time_in_range_open(now, cw->start + len, cw->start + 2 * len);

		cw->reported[1] = next ? cw->reported[0] : 0;
		cw->churned[1] = next ? cw->churned[0] : 0;
		cw->reported[0] = cw->churned[0] = 0;
		cw->start = now;
	}
	cw->reported[0] += reported;
	cw->churned[0] += churned;
	rep = cw->reported[0] + cw->reported[1];
	chu = cw->churned[0] + cw->churned[1];
	if (churned && chu >= FPHINT_CHURN_MIN_PAGES && chu > rep / 4 &&
	    grew <= 4 * (long)churned)
		return min(level + 1, (unsigned int)FPHINT_BACKOFF_MAX);
	if (!churned && level && rep >= FPHINT_CLEAN_MIN_PAGES && chu < rep / 16)
		return level - 1;
	return level;
}

/*
 * One verdict of the host discard check (hostcheck.c): after
 * FPHINT_VOID_STRIKES checked reports in a row that the host acknowledged
 * but kept, the level rises by one (the pass delay doubles), up to
 * FPHINT_VOID_MAX; a single discard seen resets it.  Strikes, not single
 * samples: one kept page can be a range the host could not align.
 */
unsigned int fphint_void_step(unsigned int level, unsigned int *strikes,
			      bool skipped)
{
	if (!skipped) {
		*strikes = 0;
		return 0;
	}
	if (++*strikes < FPHINT_VOID_STRIKES)
		return level;
	*strikes = 0;
	return min(level + 1, (unsigned int)FPHINT_VOID_MAX);
}

/*
 * Refill @b for the time since it was last seen and tell how long to wait
 * until it holds tokens again (0: go).  @rate in bytes per second; the
 * bucket holds at most one second's worth.
 */
long fphint_bucket_wait_ms(struct fphint_bucket *b, u64 now_ns, u64 rate)
{
	u64 elapsed = now_ns - b->last_ns;

	b->last_ns = now_ns;
	if (elapsed > NSEC_PER_SEC)
		elapsed = NSEC_PER_SEC;
	b->tokens = min_t(s64, b->tokens +
			  mul_u64_u64_div_u64(rate, elapsed, NSEC_PER_SEC),
			  rate);
	if (b->tokens > 0)
		return 0;
	/* Round up so a wait always makes the bucket positive. */
	return div64_u64((u64)(-b->tokens) * MSEC_PER_SEC, rate) + 1;
}

void fphint_bucket_charge(struct fphint_bucket *b, u64 bytes)
{
	b->tokens -= bytes;
}

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/throttle-math-kunit.h"
#endif
