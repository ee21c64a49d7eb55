// SPDX-License-Identifier: GPL-2.0
/*
 * fphint selection "fifo": entries in capture order, zone->lock taken per
 * entry, no de-duplication: the v8 series' behaviour, kept to measure what
 * sorting buys.
 */
#include <linux/mm.h>

#include "fphint.h"

static void fphint_fifo_select(struct fphint_pass *pass, unsigned long *pfns,
			       unsigned int nr)
{
	struct zone *batch_zone = NULL;	/* zone of the blocks in the batch */
	unsigned int i;

	for (i = 0; i < nr; i++) {
		struct page *page = pfn_to_online_page(pfns[i]);
		struct zone *zone;

		if (fphint_pass_stop(pass)) {
			fphint_count(FPHINT_STAT_DROPPED, nr - i);
			break;
		}
		if (!page) {
			fphint_count(FPHINT_STAT_STALE, 1);
			continue;
		}
		zone = page_zone(page);
		/* A batch is put back under its own zone's lock. */
		if (batch_zone && batch_zone != zone) {
			fphint_zone_lock_timed(batch_zone);
			fphint_zone_unlock(pass, batch_zone);
			batch_zone = NULL;
		}
		if (!fphint_zone_lock(pass, zone))
			continue;
		if (!pass->zone_skipped)
			fphint_take_region(pass, zone, fphint_region(pfns[i]));
		batch_zone = pass->nents ? zone : NULL;
		fphint_zone_unlock_timed(zone);
	}
	if (batch_zone) {
		fphint_zone_lock_timed(batch_zone);
		fphint_zone_unlock(pass, batch_zone);
	}
}

static struct fphint_selection_ops fphint_selection_fifo = {
	.stage.name	= FPHINT_SELECTION_FIFO,
	.select		= fphint_fifo_select,
};

fphint_stage_initcall(FPHINT_KIND_SELECTION, fphint_selection_fifo);
