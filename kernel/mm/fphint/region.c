// SPDX-License-Identifier: GPL-2.0
/*
 * fphint region history: one word per region (the MAX_ORDER-aligned span
 * capture records) saying what became of its last report and what was
 * freed into it since it was last walked.  Capture percpu reads it to
 * decide how long a region must stay quiet before it is reported:
 *
 *  - heat (0..3): reported memory of the region was allocated again within
 *    FPHINT_CHURN_WINDOW_MS of its report, once per report, heat rising by
 *    one; a report whose memory nobody took before the next report lowers
 *    it by one.  A hot region must stay quiet 4^heat passes: memory that is
 *    recycled is left alone, so churn costs the host no refaults;
 *  - whole: the region became one free block (a large unmap, a burst).  A
 *    cold whole region goes out at the first pass.  Capture brings that
 *    pass forward (fphint_kick_soon()) when the region had stayed
 *    allocated FPHINT_SETTLED_LIFE_MS or more (its own clock, started when
 *    the allocator last took a pageblock or more of it): a burst of memory
 *    that was in use is
 *    reported at once, while memory recycled faster than that (churn's
 *    mmap/touch/munmap) waits until it has been a second since the
 *    allocator took it (capture-percpu.c), by when it is usually taken
 *    again;
 *  - small: blocks below min_order (from settled_min_order up) were freed
 *    into it.  They are reported once the region stayed quiet for
 *    FPHINT_SETTLE_PASSES passes, by a walk at settled_min_order, not on
 *    every free: fragmentation down to single pages is returned, churn of
 *    small blocks is not.
 *
 * Locking: a region's word is written under the zone->lock of the zone it
 * lies in (free path, allocation path, and the worker walking or marking
 * it); capture reads it unlocked, so a stale read only moves a report by
 * a pass.  A region straddling two zones can lose an update: a heuristic
 * off by one, nothing more.  Memory hot-added above the boot-time max_pfn
 * has no history and is treated as cold.
 */
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "fphint.h"

/*
 * fphint_rh_nr words, then as many taken times: per region, jiffies | 1
 * when the allocator last took a block of pageblock_order or more of it
 * (0: not since boot), how long its memory was in use when it is freed
 * whole.
 */
static u32 *fphint_rh;
static unsigned long fphint_rh_nr;
/* jiffies | 1 when the allocator last took a block of pageblock_order or more. */
static u32 fphint_large_taken;
DEFINE_PER_CPU(unsigned long, fphint_taken_pages);
/*
 * fphint_allocator_taking(), worker-only: the sum of fphint_taken_pages
 * and the free pages at the start of the window being counted, when
 * (jiffies | 1) it began, and when a window last found the allocator
 * taking memory.
 */
static unsigned long fphint_taken_ref;
static long fphint_free_ref;
static u32 fphint_taken_ref_at, fphint_taking_at;

static u32 *fphint_rh_word(unsigned long pfn)
{
	unsigned long i = pfn >> FPHINT_REGION_ORDER;

	return likely(i < fphint_rh_nr) ? &fphint_rh[i] : NULL;
}

/* Jiffies in the word's time field: 27 bits, wraps after weeks at HZ=1000. */
static u32 fphint_rh_now(void)
{
	u32 now = jiffies;

	return now << FPHINT_RH_TIME_SHIFT;
}

/* Was the region's last report within the churn window of @now? */
static bool fphint_rh_recent(u32 w, u32 now)
{
	return jiffies_to_msecs((u32)(now - (w & ~FPHINT_RH_FLAGS)) >> FPHINT_RH_TIME_SHIFT) <
	       FPHINT_CHURN_WINDOW_MS;
}

/**
 * fphint_rh_reused - history of a region whose reported block is allocated
 * @w: the region's word
 * @now: fphint_rh_now()
 *
 * The first allocation of reported memory after a report rises the heat
 * if it came within the churn window of that report.  Pure, for KUnit.
 *
 * Return: the new word.
 */
u32 fphint_rh_reused(u32 w, u32 now)
{
	if (!(w & FPHINT_RH_VERDICT))
		return w;
	w &= ~FPHINT_RH_VERDICT;
	if (fphint_rh_recent(w, now) && fphint_rh_heat(w) < FPHINT_RH_HEAT_MAX)
		w++;
	return w;
}

/**
 * fphint_rh_reported - history of a region the host just discarded
 * @w: the region's word
 * @now: fphint_rh_now()
 *
 * A previous report nobody took from lowers the heat.  Pure, for KUnit.
 *
 * Return: the new word.
 */
u32 fphint_rh_reported(u32 w, u32 now)
{
	if ((w & FPHINT_RH_VERDICT) && fphint_rh_heat(w))
		w--;
	return (w & (FPHINT_RH_FLAGS & ~FPHINT_RH_WHOLE)) | FPHINT_RH_VERDICT |
	       (now & ~FPHINT_RH_FLAGS);
}

/**
 * fphint_rh_hold - quiet passes before a captured region is walked
 * @w: the region's word
 * @taking: the allocator is taking memory (fphint_allocator_seen())
 *
 * A region that is not one free block and had pages freed into it one by
 * one, while the allocator takes memory, is being recycled a page at a
 * time (churn's faults and unmaps): its larger free blocks are the next
 * the allocator takes, so they wait as long as its small ones.  Under
 * churn, order-9 halves of such regions walked after one quiet pass were
 * taken again 16-340 ms after their report, at moments when no
 * pageblock-order block had been split for two delays.  Pure, for KUnit.
 *
 * Return: 0 for a cold whole region (at once), 4^heat for a hot one,
 * FPHINT_SETTLE_PASSES for one pages were freed into while @taking, else 1.
 */
unsigned int fphint_rh_hold(u32 w, bool taking)
{
	if (fphint_rh_heat(w))
		return 1U << (2 * fphint_rh_heat(w));
	if (w & FPHINT_RH_WHOLE)
		return 0;
	return (w & FPHINT_RH_SMALL) && taking ? FPHINT_SETTLE_PASSES : 1;
}

/**
 * fphint_rh_settle - quiet passes before a region's small blocks are walked
 * @w: the region's word
 * @taking: the allocator is taking memory (fphint_allocator_seen())
 *
 * While the allocator takes nothing, what was freed is not about to be
 * taken: a process freeing what it touched (fragmented memory, 4 KiB
 * holes) is reported a pass after each region's last free, not four.
 * Pure, for KUnit.
 *
 * Return: 0 when none were freed into it, else at least
 * FPHINT_SETTLE_PASSES while @taking, 1 otherwise, and never before the
 * region's own hold.
 */
unsigned int fphint_rh_settle(u32 w, bool taking)
{
	if (!(w & FPHINT_RH_SMALL))
		return 0;
	return max_t(unsigned int, fphint_rh_hold(w, taking),
		     taking ? FPHINT_SETTLE_PASSES : 1);
}

/*
 * Milliseconds from @stamp (jiffies | 1) to @now (jiffies).  @stamp is up
 * to a jiffy ahead of the jiffies it was taken at; (@now | 1) keeps the
 * difference from wrapping to weeks within that jiffy.  Pure, for KUnit.
 */
static unsigned int fphint_ms_since(u32 stamp, u32 now)
{
	return jiffies_to_msecs((now | 1) - stamp);
}

/**
 * fphint_rh_lived - had a region freed whole been in use long enough?
 * @taken: jiffies | 1 when the allocator last took a pageblock or more of
 *	it, 0 if never
 * @now: jiffies
 *
 * Pure, for KUnit.
 *
 * Return: true when it stayed allocated FPHINT_SETTLED_LIFE_MS or more,
 * or nothing of it was taken since boot.
 */
bool fphint_rh_lived(u32 taken, u32 now)
{
	return !taken || fphint_ms_since(taken, now) >= FPHINT_SETTLED_LIFE_MS;
}

/* The region's taken time sits fphint_rh_nr words after its word. */
static u32 *fphint_rh_taken_word(unsigned long pfn)
{
	u32 *p = fphint_rh_word(pfn);

	return p ? p + fphint_rh_nr : NULL;
}

/* Capture, on a whole free: was the region in use long enough?  Lockless. */
bool fphint_region_lived(unsigned long pfn)
{
	u32 *p = fphint_rh_taken_word(pfn);

	return !p || fphint_rh_lived(READ_ONCE(*p), jiffies);
}

/*
 * The allocator took a block of @order >= pageblock_order at @pfn
 * (fphint_note_alloc()): that much of the region's memory starts its life,
 * and the allocator has run out of smaller blocks.  A pageblock is half
 * a region where HUGETLB_PAGE makes pageblock_order 9 (distribution
 * kernels), the whole region otherwise (the bench's guest); the half
 * counts as much as the whole, since a region split once is taken half
 * by half afterwards.  The region is no longer one free block either:
 * under churn, regions taken whole 1.4-1.5 s earlier, and recycled an
 * order-9 half at a time since, kept the whole flag of the last time they
 * were free, so nothing held their free half back (fphint_rh_hold() 0,
 * and none of the splitting wait): it went out at once and came back
 * 96-700 ms after its report.  zone->lock held.
 */
void __fphint_region_taken(unsigned long pfn, unsigned int order)
{
	u32 now = (u32)jiffies | 1, *taken = fphint_rh_taken_word(pfn);
	u32 *w = fphint_rh_word(pfn);

	if (taken) {
		WRITE_ONCE(*taken, now);
		if (READ_ONCE(*w) & FPHINT_RH_WHOLE)
			WRITE_ONCE(*w, *w & ~FPHINT_RH_WHOLE);
	}
	/* Such takes come in runs within a tick: dirty the line once. */
	if (READ_ONCE(fphint_large_taken) != now)
		WRITE_ONCE(fphint_large_taken, now);
}

/*
 * Has the allocator split a block of pageblock_order or more within the
 * last two pass delays?  It takes the smallest free block that fits, so
 * it only does once no smaller block is left: then the blocks of a region
 * that is not one free block are next in line, and reporting them costs
 * the host a refault within moments (under churn, order-9 halves came
 * back 4-36 ms after their report).  Two delays, not more: a workload
 * that frees part of what it has just touched and stops is reported
 * promptly; one that goes on splitting churns what leaks through, and
 * the churn backoff stretches the delay and with it this wait.
 * Lockless.
 */
static bool fphint_allocator_splitting(void)
{
	u32 t = READ_ONCE(fphint_large_taken);

	return t && fphint_ms_since(t, jiffies) < 2 * fphint_delay_now_ms();
}

/*
 * Is the allocator taking memory again?  Counted in windows of a delay
 * or more, not from the last call:
 * passes come a tick apart too, and a few ms of churn take little (small
 * blocks reported by a pass 8 ms after the one before were taken again
 * 92 ms later).  "Taking" is FPHINT_TAKING_MIN_PAGES or more taken from
 * the free lists, and at least half what went back to them: recycling.
 * A process freeing what it touched, 70 MiB a delay, has a system's
 * background take 3-16 MiB meanwhile (under TCG, the bench's shell
 * forking its samplers); churn takes about what it frees.  Only "now":
 * a window or a verdict older than FPHINT_SETTLED_LIFE_MS says nothing
 * of it (with a delay of a minute, a job's exit is not recycling because
 * the job's start took memory in the same window).  The verdict lapses
 * after FPHINT_TAKING_LAPSE windows that saw memory freed or taken but
 * not recycled; a window that saw neither says nothing (under churn, a
 * 100 ms window of a stalled vCPU, no page taken or freed, let a pass
 * report 11 MiB of small blocks that the churn took back 0-60 ms later).
 */
static unsigned int fphint_taking_lapse = FPHINT_TAKING_LAPSE;

/**
 * fphint_window_verdict - what a window of the allocator's activity says
 * @taken: pages taken from the free lists in it
 * @freed: pages that went back to them
 * @window_ms: its length, a pass delay or more
 *
 * Pure, for KUnit.
 *
 * Return: FPHINT_WINDOW_TAKING when it recycled memory (took
 * FPHINT_TAKING_MIN_PAGES or more, and at least half what was freed),
 * FPHINT_WINDOW_IDLE when it took and freed less than that or is longer
 * than FPHINT_SETTLED_LIFE_MS, else FPHINT_WINDOW_NOT_TAKING.
 */
enum fphint_window fphint_window_verdict(unsigned long taken, long freed,
					 unsigned int window_ms)
{
	if (window_ms > FPHINT_SETTLED_LIFE_MS ||
	    (taken < FPHINT_TAKING_MIN_PAGES && freed < (long)FPHINT_TAKING_MIN_PAGES))
		return FPHINT_WINDOW_IDLE;
	if (taken >= FPHINT_TAKING_MIN_PAGES && 2 * (long)taken >= freed)
		return FPHINT_WINDOW_TAKING;
	return FPHINT_WINDOW_NOT_TAKING;
}

static bool fphint_allocator_taking(void)
{
	unsigned int delay = fphint_delay_now_ms(), window;
	long free_pages, freed;
	unsigned long taken = 0;
	u32 now = jiffies;
	int cpu;

	window = fphint_ms_since(fphint_taken_ref_at, now);
	if (window >= delay) {
		for_each_possible_cpu(cpu)
			taken += per_cpu(fphint_taken_pages, cpu);
		taken -= fphint_taken_ref;
		fphint_taken_ref += taken;
		/* Freed: what the free lists gained, plus what was taken meanwhile. */
		free_pages = global_zone_page_state(NR_FREE_PAGES);
		freed = free_pages - fphint_free_ref + (long)taken;
		fphint_free_ref = free_pages;
		fphint_taken_ref_at = now | 1;
		switch (fphint_window_verdict(taken, freed, window)) {
		case FPHINT_WINDOW_TAKING:
			fphint_taking_at = now | 1;
			fphint_taking_lapse = 0;
			break;
		case FPHINT_WINDOW_NOT_TAKING:
			if (fphint_taking_lapse < FPHINT_TAKING_LAPSE)
				fphint_taking_lapse++;
			break;
		case FPHINT_WINDOW_IDLE:
			break;
		}
	}
	return fphint_taking_at && fphint_taking_lapse < FPHINT_TAKING_LAPSE &&
	       fphint_ms_since(fphint_taking_at, now) < FPHINT_SETTLED_LIFE_MS;
}

/**
 * fphint_allocator_seen - what the allocator did lately
 *
 * Once per pass, by the worker (fphint_mutex).
 *
 * Return: FPHINT_ALLOC_SPLITTING and FPHINT_ALLOC_TAKING as they apply.
 */
unsigned int fphint_allocator_seen(void)
{
	return (fphint_allocator_splitting() ? FPHINT_ALLOC_SPLITTING : 0) |
	       (fphint_allocator_taking() ? FPHINT_ALLOC_TAKING : 0);
}

/*
 * The free path: @order was just freed at @pfn (@small: below min_order).
 * zone->lock held.  Returns the region's word, as updated.
 */
u32 fphint_region_freed(unsigned long pfn, unsigned int order, bool small)
{
	u32 *p = fphint_rh_word(pfn), flag, w;

	if (!p)
		return 0;
	w = READ_ONCE(*p);
	flag = small ? FPHINT_RH_SMALL :
	       order >= FPHINT_REGION_ORDER ? FPHINT_RH_WHOLE : 0;
	/* Most frees find the flag set and dirty nothing. */
	if (flag && !(w & flag)) {
		w |= flag;
		WRITE_ONCE(*p, w);
	}
	return w;
}

/*
 * The allocator took reported block @pfn of @order (fphint_note_alloc()).
 * zone->lock held.  Counted as churned when the region's last report was
 * within the churn window: memory fphint should have left alone.
 */
void __fphint_region_reused(unsigned long pfn, unsigned int order)
{
	u32 *p = fphint_rh_word(pfn), w, now;

	if (!p)
		return;
	w = READ_ONCE(*p);
	now = fphint_rh_now();
	/* Never reported by a capture: a scan's report, or none at all. */
	if (!(w & ~FPHINT_RH_FLAGS) || !fphint_rh_recent(w, now))
		return;
	fphint_count(FPHINT_STAT_CHURNED_PAGES, 1UL << order);
	if (w & FPHINT_RH_VERDICT)
		WRITE_ONCE(*p, fphint_rh_reused(w, now));
}

/*
 * The host discarded blocks of the region at @pfn and they are marked
 * reported.  zone->lock held.  Once per region and pass: the worker walks
 * a region in one go, so remembering the last one is enough.  What a scan
 * of the free lists found (memory free since boot, or dropped by capture)
 * was not freed just now, so its reuse says nothing about churn.
 */
void fphint_region_reported(struct fphint_pass *pass, unsigned long pfn)
{
	unsigned long region = fphint_region(pfn);
	u32 *p = fphint_rh_word(pfn);

	if (!p || pass->scanning || region == pass->rh_last)
		return;
	pass->rh_last = region;
	WRITE_ONCE(*p, fphint_rh_reported(*p, fphint_rh_now()));
}

/* Lockless peek for capture's timing decisions. */
u32 fphint_region_word(unsigned long region)
{
	u32 *p = fphint_rh_word(region);

	return p ? READ_ONCE(*p) : 0;
}

/* The worker walked @region (at @order): what it found is handled.  zone->lock held. */
void fphint_region_walked(unsigned long region, unsigned int order)
{
	u32 *p = fphint_rh_word(region), clear = FPHINT_RH_WHOLE;

	if (!p)
		return;
	if (order < fphint_tunable(MIN_ORDER))
		clear |= FPHINT_RH_SMALL;
	if (READ_ONCE(*p) & clear)
		WRITE_ONCE(*p, *p & ~clear);
}

int __init fphint_region_init(void)
{
	fphint_rh_nr = (max_pfn >> FPHINT_REGION_ORDER) + 1;
	fphint_rh = kvcalloc(2 * fphint_rh_nr, sizeof(*fphint_rh), GFP_KERNEL);
	if (!fphint_rh) {
		fphint_rh_nr = 0;
		return -ENOMEM;
	}
	return 0;
}

void fphint_region_exit(void)
{
	fphint_rh_nr = 0;
	kvfree(fphint_rh);
	fphint_rh = NULL;
}

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/region-kunit.h"
#endif
