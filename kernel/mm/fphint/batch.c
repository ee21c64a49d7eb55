// SPDX-License-Identifier: GPL-2.0
/*
 * fphint batch mechanics, shared by every selection stage.
 *
 * A selection walks candidate pfns under zone->lock and calls
 * fphint_take() / fphint_take_region(): each free buddy block found is
 * isolated (__isolate_free_page()) into the pass's batch, merged with the
 * previous range where it continues it.  A full batch is reported with
 * zone->lock dropped (fphint_flush()), then put back in aligned pieces and
 * marked PageReported where the host discarded it (fphint_putback()).  The
 * throttle is asked before every batch (fphint_admit()), without locks.
 *
 * Locking: zone->lock is held on entry to and exit from everything here
 * but fphint_zone_lock() and fphint_admit(); fphint_flush() drops it
 * around the report.  The batch itself is the worker's (fphint_mutex).
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/delay.h>
#include <linux/mm.h>
#include <linux/page_reporting.h>

#include "../internal.h"
#include "fphint.h"

/* Reports attempted, under fphint_mutex: picks faults and canaries. */
static u32 fphint_report_seq;

/*
 * Find the free buddy block containing @page.  zone->lock held.  Returns
 * its head and order, or NULL when @page is not free.
 */
static struct page *fphint_buddy_head(struct page *page, unsigned int *order)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned int o;

	for (o = 0; o < MAX_ORDER; o++) {
		struct page *head = page - (pfn & ((1UL << o) - 1));

		/* A buddy never spans zones; only read blocks we hold. */
		if (page_zone_id(head) != page_zone_id(page))
			return NULL;
		/* Heads are aligned to their order, so this one spans @page. */
		if (PageBuddy(head) && buddy_order(head) >= o) {
			*order = buddy_order(head);
			return head;
		}
	}
	return NULL;
}

/*
 * Order of the block at @pfn when [@pfn, @end) is handed back to the buddy
 * in aligned power-of-two pieces.  Capped at pageblock_order so that each
 * piece goes back under its own pageblock's migratetype; __free_one_page()
 * merges the pieces again where the buddy rules allow.
 */
static unsigned int fphint_piece_order(unsigned long pfn, unsigned long end)
{
	unsigned int order = min_t(unsigned int, ilog2(end - pfn),
				   pageblock_order);

	if (pfn)
		order = min_t(unsigned int, order, __ffs(pfn));
	return order;
}

/*
 * Mark reported every free block that lies wholly inside [@start, @end).
 * A block that merged with a neighbour on the way back is not all
 * reported; a later pass takes it.
 */
static void fphint_mark_reported(struct fphint_pass *pass, struct zone *zone,
				 unsigned long start, unsigned long end)
{
	unsigned long pfn = start;

	while (pfn < end) {
		struct page *head;
		unsigned long hpfn;
		unsigned int order;

		head = fphint_buddy_head(pfn_to_page(pfn), &order);
		if (!head) {
			pfn++;
			continue;
		}
		hpfn = page_to_pfn(head);
		if (hpfn >= start && hpfn + (1UL << order) <= end &&
		    !PageReported(head)) {
			__SetPageReported(head);
			fphint_zs(zone)->reported_free += 1UL << order;
			pass->marked += 1UL << order;
			fphint_region_reported(pass, hpfn);
		}
		pfn = hpfn + (1UL << order);
	}
}

/*
 * Put back @pass's isolated ranges; zone->lock held.  The ranges the host
 * discarded (pass->outcome[] FPHINT_SG_DISCARDED*) are marked PageReported
 * and skipped until reused; the others go back unmarked.  Where the host
 * said a range reads back zero, its pieces go back known-zero: unlike
 * PageReported, that mark survives a merge with a known-zero neighbour
 * (__free_one_page()), so the allocator sets it as the piece goes back.
 */
static void fphint_putback(struct fphint_pass *pass, struct zone *zone)
{
	bool zero_ok = fphint_known_zero_usable();
	unsigned int i, order;

	lockdep_assert_held(&zone->lock);
	for (i = 0; i < pass->nents; i++) {
		struct scatterlist *sg = &pass->sgl[i];
		unsigned long start = page_to_pfn(sg_page(sg));
		unsigned long pfn, end = start + (sg->length >> PAGE_SHIFT);
		bool zero = zero_ok &&
			    pass->outcome[i] == FPHINT_SG_DISCARDED_ZERO;

		for (pfn = start; pfn < end; pfn += 1UL << order) {
			struct page *page = pfn_to_page(pfn);

			order = fphint_piece_order(pfn, end);
			if (zero)
				fphint_putback_known_zero(page, order,
					get_pageblock_migratetype(page));
			else
				__putback_isolated_page(page, order,
					get_pageblock_migratetype(page));
		}
		if (zero)
			fphint_count(FPHINT_STAT_KNOWN_ZERO_PAGES, end - start);
		atomic_long_sub(end - start, &fphint_isolated_now);
	}
	/* Only now: a later range's put-back may merge into an earlier one. */
	for (i = 0; i < pass->nents; i++) {
		struct scatterlist *sg = &pass->sgl[i];
		unsigned long start = page_to_pfn(sg_page(sg));

		if (!fphint_sg_discarded(pass->outcome[i]))
			continue;
		fphint_mark_reported(pass, zone, start,
				     start + (sg->length >> PAGE_SHIFT));
	}
	pass->nents = 0;
	pass->bytes = 0;
}

/*
 * A block that starts where the batch's last range ends extends that
 * range: the host discards one larger range (fewer reports, fewer madvise
 * calls, whole huge pages) and fphint_putback() splits it again.  Any
 * page-aligned length is valid in a virtio-balloon report, but a host
 * backed by huge pages (QEMU on hugetlbfs) skips entries that are not
 * aligned to them: pageblock-aligned ranges only grow by pageblock-sized
 * blocks, and such blocks never extend a smaller range.
 */
static bool fphint_extend_last(struct fphint_pass *pass, unsigned long pfn,
			       unsigned int order)
{
	struct scatterlist *sg;
	unsigned long start, pages;

	if (!pass->nents)
		return false;
	sg = &pass->sgl[pass->nents - 1];
	start = page_to_pfn(sg_page(sg));
	pages = sg->length >> PAGE_SHIFT;
	if (start + pages != pfn)
		return false;
	if ((order >= pageblock_order) !=
	    IS_ALIGNED(start | pages, pageblock_nr_pages))
		return false;
	sg->length += PAGE_SIZE << order;
	return true;
}

/*
 * Report the isolated batch with zone->lock dropped, then put it back.
 * Enters and leaves with zone->lock held.  Every isolated block goes back,
 * whatever the transport says; a range is marked PageReported only when a
 * host took the report and really discarded it (as the transport says per
 * range, or as the canary check finds), so that a later pass, or a later
 * transport, still finds the rest.
 */
static void fphint_flush(struct fphint_pass *pass, struct zone *zone)
{
	struct fphint_transport *t = fphint_transport_cur;
	struct page *canary = NULL;
	unsigned long pages = 0;
	unsigned int i, late_ms;
	bool kept = false, fake_zero;
	u32 seq;
	int err;

	if (!pass->nents)
		return;
	fphint_zone_unlock_timed(zone);

	for (i = 0; i < pass->nents; i++)
		pages += pass->sgl[i].length >> PAGE_SHIFT;
	sg_mark_end(&pass->sgl[pass->nents - 1]);
	/* One sequence of reports picks both injected faults and canaries. */
	seq = ++fphint_report_seq;
	memset(pass->outcome, FPHINT_SG_KEPT, pass->nents);
	err = fphint_fault_inject(seq, &late_ms, &fake_zero);
	if (fake_zero) {
		/* Injected: a host that says it zeroed what it never saw. */
		memset(pass->outcome, FPHINT_SG_DISCARDED_ZERO, pass->nents);
	} else if (!err) {
		/* The batch is isolated: these pages are ours until put back. */
		if (!t->exact)
			canary = fphint_hostcheck_prepare(t, pass, seq);
		err = t->report(t, pass->sgl, pass->nents, pass->outcome);
		/*
		 * Only a host that answers per range can promise zeros; the
		 * canary page, written just before, would not be zero anyway.
		 */
		for (i = 0; i < pass->nents && (!t->exact || canary); i++)
			if (pass->outcome[i] == FPHINT_SG_DISCARDED_ZERO)
				pass->outcome[i] = FPHINT_SG_DISCARDED;
	}
	if (late_ms)
		msleep(late_ms);
	sg_unmark_end(&pass->sgl[pass->nents - 1]);

	if (err) {
		/* Whatever a transport said of some ranges: all go back unmarked. */
		memset(pass->outcome, FPHINT_SG_KEPT, pass->nents);
		fphint_count(FPHINT_STAT_REPORT_ERRORS, 1);
		pr_warn_ratelimited("%s: report of %u ranges failed: %d\n",
				    t->stage.name, pass->nents, err);
		/* Percpu capture has forgotten these regions: find them again. */
		fphint_capture_rescan();
	} else {
		if (!t->to_host || (canary && !fphint_hostcheck_verdict(t, canary)))
			memset(pass->outcome, FPHINT_SG_KEPT, pass->nents);
		for (i = 0; i < pass->nents; i++)
			kept |= !fphint_sg_discarded(pass->outcome[i]);
		if (kept)
			fphint_note_unsent();
		fphint_count(FPHINT_STAT_REPORTS, 1);
		fphint_count(FPHINT_STAT_REPORTED_PAGES, pages);
		fphint_count(FPHINT_STAT_REPORTED_BYTES, pages << PAGE_SHIFT);
		fphint_zs(zone)->reports++;
		fphint_zs(zone)->reported_pages += pages;
		pass->reported += pages;
		if (fphint_throttle->account)
			fphint_throttle->account(pages << PAGE_SHIFT);
	}

	fphint_zone_lock_timed(zone);
	fphint_putback(pass, zone);
}

/* Ask the throttle; waits happen here, without locks. */
static bool fphint_admit(struct fphint_pass *pass, struct zone *zone)
{
	long ret;

	while ((ret = fphint_throttle->admit(zone)) > 0) {
		if (fphint_pass_wait(ret))
			return false;
	}
	if (ret < 0) {
		fphint_count(FPHINT_STAT_THROTTLED, 1);
		fphint_zs(zone)->throttled++;
		return false;
	}
	return true;
}

/* Start work on @zone: false (and no lock) when the throttle says no. */
bool fphint_zone_lock(struct fphint_pass *pass, struct zone *zone)
{
	pass->zone_skipped = !fphint_admit(pass, zone);
	if (pass->zone_skipped)
		return false;
	fphint_zone_lock_timed(zone);
	return true;
}

void fphint_zone_unlock(struct fphint_pass *pass, struct zone *zone)
{
	fphint_flush(pass, zone);
	fphint_zone_unlock_timed(zone);
}

/*
 * Between regions of one zone: let allocations waiting on zone->lock, and
 * the scheduler, in.  The batch stays isolated meanwhile; its blocks are
 * off the free lists and only this worker touches them.
 */
void fphint_zone_relax(struct zone *zone)
{
	if (!spin_is_contended(&zone->lock) && !need_resched())
		return;
	fphint_zone_unlock_timed(zone);
	cond_resched();
	fphint_zone_lock_timed(zone);
}

/*
 * Resolve @pfn to the free block now holding it and isolate that block
 * into the pass's batch, reporting when the batch is full.  zone->lock
 * held (dropped and retaken around a report).  Returns the first pfn after
 * the resolved block so the caller can skip what it covers, or 0 when
 * @pfn is not free.
 */
unsigned long fphint_take(struct fphint_pass *pass, struct zone *zone,
			  unsigned long pfn)
{
	struct page *page = pfn_to_page(pfn), *head;
	unsigned long head_pfn, end;
	unsigned int order;
	int mt;

	lockdep_assert_held(&zone->lock);
	head = fphint_buddy_head(page, &order);
	if (!head)
		return 0;
	/* Zone spans may overlap: only this zone's lock is held. */
	if (WARN_ON_ONCE(page_zone(head) != zone))
		return 0;
	head_pfn = page_to_pfn(head);
	end = head_pfn + (1UL << order);
	if (PageReported(head)) {
		fphint_count(FPHINT_STAT_DUPLICATES, 1);
		return end;
	}
	if (order < pass->walk_order) {
		fphint_count(FPHINT_STAT_BELOW_ORDER, 1);
		return end;
	}
	mt = get_pageblock_migratetype(head);
	/*
	 * __isolate_free_page() turns the pageblock of a block this large
	 * MOVABLE; half an unmovable pageblock is not worth that.
	 */
	if (is_migrate_isolate(mt) || is_migrate_cma(mt) ||
	    (order == pageblock_order - 1 && mt != MIGRATE_MOVABLE)) {
		fphint_count(FPHINT_STAT_SKIPPED_MIGRATETYPE, 1);
		return end;
	}
	/* Refuses below the min watermark, like an allocation would. */
	if (!__isolate_free_page(head, order)) {
		fphint_count(FPHINT_STAT_THROTTLED, 1);
		fphint_zs(zone)->throttled++;
		return end;
	}
	atomic_long_add(1UL << order, &fphint_isolated_now);
	fphint_count(FPHINT_STAT_ISOLATED, 1);
	if (!fphint_extend_last(pass, head_pfn, order))
		sg_set_page(&pass->sgl[pass->nents++], head, PAGE_SIZE << order, 0);
	pass->bytes += PAGE_SIZE << order;

	if (pass->nents >= pass->batch || pass->bytes >= pass->bytes_max) {
		fphint_flush(pass, zone);
		/* Memory may have run short, or the rate budget out, meanwhile. */
		fphint_zone_unlock_timed(zone);
		if (!fphint_admit(pass, zone))
			pass->zone_skipped = true;
		fphint_zone_lock_timed(zone);
	}
	return end;
}

/*
 * Take every free block of at least walk_order (min_order, or
 * settled_min_order for regions whose small blocks settled) in the region
 * at @start.  zone->lock held.  Returns the first pfn past what was
 * walked.
 */
unsigned long fphint_take_region(struct fphint_pass *pass, struct zone *zone,
				 unsigned long start)
{
	unsigned long pfn = start, end = start + FPHINT_REGION_PAGES;
	unsigned long step = 1UL << pass->walk_order;
	bool found = false;

	while (pfn < end && !pass->zone_skipped) {
		struct page *page = NULL;
		unsigned long next = 0;

		/*
		 * Holes, other zones: skip, whatever their size.  Zone spans
		 * can overlap (interleaved nodes), so ask the page.
		 */
		if (zone_spans_pfn(zone, pfn))
			page = pfn_to_online_page(pfn);
		if (page && page_zone(page) == zone)
			next = fphint_take(pass, zone, pfn);
		if (next > pfn) {
			found = true;
			pfn = next;
		} else {
			pfn = ALIGN(pfn + 1, step);
		}
	}
	if (!found)
		fphint_count(FPHINT_STAT_STALE, 1);
	if (!pass->zone_skipped)
		fphint_region_walked(start, pass->walk_order);
	return end;
}

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/batch-kunit.h"
#endif
