// SPDX-License-Identifier: GPL-2.0
/*
 * fphint throttle "watermark" (the default): leave a zone alone while its
 * free pages are below the high watermark plus a reserve, and stop
 * everywhere while MemAvailable is below low_mem_pct of RAM; both resume
 * with hysteresis so hinting does not flap at the edge.
 */
#include <linux/mm.h>
#include <linux/vmstat.h>

#include "fphint.h"

/* Reserve above the high watermark, as upstream: 32 pageblocks. */
#define FPHINT_WMARK_RESERVE_BLOCKS	32
/* Resume only this far above a floor. */
#define FPHINT_LOWMEM_HYST_PCT		2

static DECLARE_BITMAP(fphint_wmark_zone_throttled, MAX_NUMNODES * MAX_NR_ZONES);
static bool fphint_wmark_lowmem;

/**
 * fphint_wmark_admit - the watermark rules for a batch in @zone
 * @zone: the zone about to give up free memory
 *
 * Also the first test of the ratelimit throttle.  Tells listeners when a
 * rule starts or stops holding hinting back.
 *
 * Return: 0 to go on, -1 to leave the zone alone for this pass.
 */
long fphint_wmark_admit(struct zone *zone)
{
	unsigned long total = totalram_pages();
	unsigned long reserve = FPHINT_WMARK_RESERVE_BLOCKS << pageblock_order;
	unsigned int id = fphint_zone_id(zone);
	bool was, now;

	was = fphint_wmark_lowmem;
	now = fphint_hysteresis(was, si_mem_available(),
				total / 100 * fphint_tunable(LOW_MEM_PCT),
				total / 100 * FPHINT_LOWMEM_HYST_PCT);
	if (now != was) {
		fphint_wmark_lowmem = now;
		pr_info("fphint: low memory, hinting %s\n", now ? "paused" : "resumed");
		fphint_nl_notify_throttle(now, FPHINT_REASON_LOW_MEMORY, NULL);
	}
	if (now)
		return -1;

	was = test_bit(id, fphint_wmark_zone_throttled);
	now = fphint_hysteresis(was, zone_page_state(zone, NR_FREE_PAGES),
				high_wmark_pages(zone) + reserve, reserve);
	if (now != was) {
		assign_bit(id, fphint_wmark_zone_throttled, now);
		fphint_nl_notify_throttle(now, FPHINT_REASON_WATERMARK, zone);
	}
	return now ? -1 : 0;
}

void fphint_wmark_reset(void)
{
	bitmap_zero(fphint_wmark_zone_throttled, MAX_NUMNODES * MAX_NR_ZONES);
	fphint_wmark_lowmem = false;
}

static struct fphint_throttle_ops fphint_throttle_watermark = {
	.stage.name	= FPHINT_THROTTLE_WATERMARK,
	.admit		= fphint_wmark_admit,
	.reset		= fphint_wmark_reset,
};

fphint_stage_initcall(FPHINT_KIND_THROTTLE, fphint_throttle_watermark);
