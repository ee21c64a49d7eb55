// SPDX-License-Identifier: GPL-2.0
/*
 * fphint capture "buddy-scan": the upstream page_reporting way.  The
 * worker walks the free lists (order min_order and up, every migratetype
 * but ISOLATE and CMA) for blocks not yet reported, one chunk per zone and
 * call.  Finds memory that was free before fphint was enabled.
 *
 * The same scan serves every capture: fphint_capture_rescan() asks for it
 * and a capture's collect() runs it with fphint_scan_next() once what it
 * recorded is handed out.
 */
#include <linux/mm.h>
#include <linux/mmzone.h>

#include "fphint.h"

#define FPHINT_SCAN_CHUNK	512
static unsigned long fphint_scan_buf[FPHINT_SCAN_CHUNK];

static void fphint_scan_notify_free(struct zone *zone, unsigned long pfn,
				    unsigned int order)
{
	/* The scan takes min_order and up only: nothing to do for less. */
	if (order >= fphint_tunable(MIN_ORDER))
		fphint_kick(false);
}

/* One chunk of unreported free blocks per zone and call; cursor from 1. */
static unsigned long *fphint_scan_collect(struct fphint_pass *pass,
					  unsigned int *nr)
{
	struct zone *zone;
	int idx = 0;

	pass->scanning = true;
	for_each_populated_zone(zone) {
		unsigned int order, mt, n = 0;

		if (++idx <= pass->zone_cursor)
			continue;
		pass->zone_cursor = idx;

		fphint_zone_lock_timed(zone);
		for (order = MAX_ORDER - 1; order + 1 > pass->min_order; order--) {
			for (mt = 0; mt < MIGRATE_TYPES; mt++) {
				struct page *page;

				if (is_migrate_isolate(mt) || is_migrate_cma(mt))
					continue;
				list_for_each_entry(page,
					&zone->free_area[order].free_list[mt],
					buddy_list) {
					if (PageReported(page))
						continue;
					if (n == FPHINT_SCAN_CHUNK) {
						pass->more = true;
						fphint_capture_rescan();
						goto full;
					}
					fphint_scan_buf[n++] = page_to_pfn(page);
				}
			}
			if (!order)
				break;
		}
full:
		fphint_zone_unlock_timed(zone);
		if (n) {
			fphint_count(FPHINT_STAT_CAPTURED, n);
			*nr = n;
			return fphint_scan_buf;
		}
	}
	return NULL;
}

/*
 * Set when a capture had to drop an entry, or when the core asks for it
 * (fphint_capture_rescan()): the next pass follows what the capture
 * recorded with a scan of the free lists, so a burst larger than the
 * buffers, or memory freed before fphint was enabled, is still reported
 * in full, only later.
 */
static bool fphint_scan_wanted;

/**
 * fphint_capture_rescan - have the next pass scan the free lists
 *
 * For every unreported block, whatever the capture recorded: entries were
 * dropped, a report failed, or memory was put back unmarked.  Safe from the
 * free path.
 */
void fphint_capture_rescan(void)
{
	if (!READ_ONCE(fphint_scan_wanted))
		WRITE_ONCE(fphint_scan_wanted, true);
}

/**
 * fphint_scan_requested - is a scan of the free lists waiting?
 *
 * Return: true when fphint_capture_rescan() asked for one not yet started.
 */
bool fphint_scan_requested(void)
{
	return READ_ONCE(fphint_scan_wanted);
}

/**
 * fphint_scan_next - the free-list scan, for a capture's collect()
 * @pass: the pass
 * @nr: set to the number of pfns handed out
 *
 * Continues the scan this pass started, or starts the one
 * fphint_capture_rescan() asked for; worker only.
 *
 * Return: the next chunk of unreported free blocks' pfns, or NULL when
 * there is no scan to do or it is complete.
 */
unsigned long *fphint_scan_next(struct fphint_pass *pass, unsigned int *nr)
{
	if (pass->zone_cursor || xchg(&fphint_scan_wanted, false))
		return fphint_scan_collect(pass, nr);
	return NULL;
}

static struct fphint_capture_ops fphint_capture_scan = {
	.stage.name	= FPHINT_CAPTURE_BUDDY_SCAN,
	.notify_free	= fphint_scan_notify_free,
	.collect	= fphint_scan_collect,
};

fphint_stage_initcall(FPHINT_KIND_CAPTURE, fphint_capture_scan);
