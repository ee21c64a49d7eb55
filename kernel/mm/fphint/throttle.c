// SPDX-License-Identifier: GPL-2.0
/*
 * fphint throttle stages: when not to take free memory away.
 *
 * watermark: leave a zone alone while its free pages are below the high
 *            watermark plus a reserve, and stop everywhere while
 *            MemAvailable is below low_mem_pct of RAM; both resume with
 *            hysteresis so hinting does not flap at the edge.
 * ratelimit: the watermark rules, and at most ratelimit_mib_s MiB per
 *            second on top (token bucket, one second of burst): a rate
 *            cap is no reason to report into a memory shortage.
 * none:      no limit beyond the min watermark every isolation obeys.
 */
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/vmstat.h>

#include "fphint.h"

/* Reserve above the high watermark, as upstream: 32 pageblocks. */
#define FPHINT_WMARK_RESERVE_BLOCKS	32
/* Resume only this far above a floor. */
#define FPHINT_LOWMEM_HYST_PCT		2

/* Throttled state with hysteresis: engage below @floor, release above @floor + @hyst. */
bool fphint_hysteresis(bool was, unsigned long val, unsigned long floor,
		       unsigned long hyst)
{
	return was ? val < floor + hyst : val < floor;
}

/*
 * Reported memory handed out again soon after is pure cost: the host
 * discarded it and must fault it back in, zeroed.  When a window in which
 * at least 4 MiB was reported also saw a quarter of that reused, the
 * guest is churning: double the delay (up to 2^FPHINT_BACKOFF_MAX).  The
 * longer delay is also the longer quiet window a region needs before it is
 * reported, so churned regions stop qualifying.  Halve it again only on
 * evidence: 4 MiB reported of which under 1/16 came back.  A window that
 * reported little proves nothing either way and holds the level; an idle
 * worker decays it separately (fphint_backoff_now()).
 */
unsigned int fphint_backoff_step(unsigned int level, unsigned long reported,
				 u64 reused)
{
	if (reported < FPHINT_CHURN_MIN_PAGES)
		return level;
	if (reused * 4 > reported)
		return min(level + 1, (unsigned int)FPHINT_BACKOFF_MAX);
	if (level && reused * 16 < reported)
		return level - 1;
	return level;
}

/*
 * One verdict of the host discard check (core.c): after
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

static DECLARE_BITMAP(wmark_zone_throttled, MAX_NUMNODES * MAX_NR_ZONES);
static bool wmark_lowmem_throttled;

static long wmark_admit(struct zone *zone)
{
	unsigned long total = totalram_pages();
	unsigned long reserve = FPHINT_WMARK_RESERVE_BLOCKS << pageblock_order;
	unsigned int id = fphint_zone_id(zone);
	bool was, now;

	was = wmark_lowmem_throttled;
	now = fphint_hysteresis(was, si_mem_available(),
				total / 100 * fphint_tunable(LOW_MEM_PCT),
				total / 100 * FPHINT_LOWMEM_HYST_PCT);
	if (now != was) {
		wmark_lowmem_throttled = now;
		pr_info("fphint: low memory, hinting %s\n", now ? "paused" : "resumed");
		fphint_nl_notify_throttle(now, FPHINT_REASON_LOW_MEMORY, NULL);
	}
	if (now)
		return -1;

	was = test_bit(id, wmark_zone_throttled);
	now = fphint_hysteresis(was, zone_page_state(zone, NR_FREE_PAGES),
				high_wmark_pages(zone) + reserve, reserve);
	if (now != was) {
		assign_bit(id, wmark_zone_throttled, now);
		fphint_nl_notify_throttle(now, FPHINT_REASON_WATERMARK, zone);
	}
	return now ? -1 : 0;
}

static void wmark_reset(void)
{
	bitmap_zero(wmark_zone_throttled, MAX_NUMNODES * MAX_NR_ZONES);
	wmark_lowmem_throttled = false;
}

static struct fphint_throttle_ops fphint_throttle_watermark = {
	.stage.name	= FPHINT_THROTTLE_WATERMARK,
	.admit		= wmark_admit,
	.reset		= wmark_reset,
};

/* ---- ratelimit ------------------------------------------------------ */

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

static struct fphint_bucket ratelimit_bucket;

static u64 ratelimit_rate(void)
{
	return (u64)fphint_tunable(RATELIMIT_MIB_S) << 20;
}

static long ratelimit_admit(struct zone *zone)
{
	long ret = wmark_admit(zone);

	if (ret)
		return ret;
	return fphint_bucket_wait_ms(&ratelimit_bucket, ktime_get_ns(),
				     ratelimit_rate());
}

static void ratelimit_account(unsigned long bytes)
{
	fphint_bucket_charge(&ratelimit_bucket, bytes);
}

/* A quarter second's worth per report keeps the rate smooth. */
static unsigned long ratelimit_batch_bytes(void)
{
	return max_t(unsigned long, ratelimit_rate() / 4, PAGE_SIZE);
}

static void ratelimit_reset(void)
{
	wmark_reset();
	ratelimit_bucket.tokens = ratelimit_rate();
	ratelimit_bucket.last_ns = ktime_get_ns();
}

static struct fphint_throttle_ops fphint_throttle_ratelimit = {
	.stage.name	= FPHINT_THROTTLE_RATELIMIT,
	.admit		= ratelimit_admit,
	.account	= ratelimit_account,
	.batch_bytes	= ratelimit_batch_bytes,
	.reset		= ratelimit_reset,
};

static long none_admit(struct zone *zone)
{
	return 0;
}

static struct fphint_throttle_ops fphint_throttle_none = {
	.stage.name	= FPHINT_THROTTLE_NONE,
	.admit		= none_admit,
};

void fphint_throttle_register(void)
{
	fphint_register_stage(FPHINT_KIND_THROTTLE, &fphint_throttle_watermark.stage);
	fphint_register_stage(FPHINT_KIND_THROTTLE, &fphint_throttle_ratelimit.stage);
	fphint_register_stage(FPHINT_KIND_THROTTLE, &fphint_throttle_none.stage);
}

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/throttle-kunit.h"
#endif
