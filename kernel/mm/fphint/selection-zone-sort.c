// SPDX-License-Identifier: GPL-2.0
/*
 * fphint selection "zone-sort" (the default): sort a chunk of regions by
 * pfn (zones are pfn ranges, so this groups by zone too), drop repeats,
 * walk each region for the free blocks it holds now and isolate them with
 * one zone->lock hold per zone and batch, let go between regions when
 * someone waits for it (batch.c does the isolating and reporting).
 */
#include <linux/mm.h>

#include "fphint.h"

static void fphint_zone_sort_select(struct fphint_pass *pass,
				    unsigned long *pfns, unsigned int nr)
{
	struct zone *zone = NULL;
	bool locked = false;
	unsigned long covered = 0;	/* first pfn past the last block taken */
	unsigned int i, n;

	n = fphint_sort_unique(pfns, nr);
	fphint_count(FPHINT_STAT_DUPLICATES, nr - n);

	for (i = 0; i < n; i++) {
		unsigned long pfn = pfns[i];
		struct page *page;

		if (fphint_pass_stop(pass)) {
			fphint_count(FPHINT_STAT_DROPPED, n - i);
			break;
		}
		if (pfn < covered) {
			fphint_count(FPHINT_STAT_DUPLICATES, 1);
			continue;
		}
		page = pfn_to_online_page(pfn);
		if (!page) {
			fphint_count(FPHINT_STAT_STALE, 1);
			continue;
		}
		if (page_zone(page) != zone) {
			if (locked)
				fphint_zone_unlock(pass, zone);
			zone = page_zone(page);
			locked = fphint_zone_lock(pass, zone);
		} else if (locked) {
			fphint_zone_relax(zone);
		}
		/* Throttled: the rest of this zone waits for a later pass. */
		if (pass->zone_skipped)
			continue;
		covered = fphint_take_region(pass, zone, fphint_region(pfn));
	}
	if (locked)
		fphint_zone_unlock(pass, zone);
}

static struct fphint_selection_ops fphint_selection_zone_sort = {
	.stage.name	= FPHINT_SELECTION_ZONE_SORT,
	.select		= fphint_zone_sort_select,
};

fphint_stage_initcall(FPHINT_KIND_SELECTION, fphint_selection_zone_sort);
