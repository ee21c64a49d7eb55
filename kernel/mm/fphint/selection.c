// SPDX-License-Identifier: GPL-2.0
/*
 * fphint selection stages: which captured blocks are reported, and how.
 *
 * zone-sort: sort a chunk of regions by pfn (zones are pfn ranges, so
 *            this groups by zone too), drop repeats, walk each region for
 *            the free blocks it holds now, and isolate them with one
 *            zone->lock hold per zone and batch, let go between regions
 *            when someone waits for it.
 * fifo:      entries in capture order, zone->lock taken per entry, no
 *            de-duplication: the v8 series' behaviour, for comparison.
 */
#include <linux/mm.h>
#include <linux/sort.h>

#include "fphint.h"

static int fphint_cmp_pfn(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

/* Sort @pfns and squeeze out exact repeats; returns the new count. */
unsigned int fphint_sort_unique(unsigned long *pfns, unsigned int nr)
{
	unsigned int i, n = 0;

	sort(pfns, nr, sizeof(*pfns), fphint_cmp_pfn, NULL);
	for (i = 0; i < nr; i++)
		if (!n || pfns[n - 1] != pfns[i])
			pfns[n++] = pfns[i];
	return n;
}

static void zone_sort_select(struct fphint_pass *pass, unsigned long *pfns,
			     unsigned int nr)
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
	.select		= zone_sort_select,
};

static void fifo_select(struct fphint_pass *pass, unsigned long *pfns,
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
			spin_lock_irq(&batch_zone->lock);
			fphint_zone_unlock(pass, batch_zone);
			batch_zone = NULL;
		}
		if (!fphint_zone_lock(pass, zone))
			continue;
		if (!pass->zone_skipped)
			fphint_take_region(pass, zone, fphint_region(pfns[i]));
		batch_zone = pass->nents ? zone : NULL;
		spin_unlock_irq(&zone->lock);
	}
	if (batch_zone) {
		spin_lock_irq(&batch_zone->lock);
		fphint_zone_unlock(pass, batch_zone);
	}
}

static struct fphint_selection_ops fphint_selection_fifo = {
	.stage.name	= FPHINT_SELECTION_FIFO,
	.select		= fifo_select,
};

void fphint_selection_register(void)
{
	fphint_register_stage(FPHINT_KIND_SELECTION, &fphint_selection_zone_sort.stage);
	fphint_register_stage(FPHINT_KIND_SELECTION, &fphint_selection_fifo.stage);
}

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/selection-kunit.h"
#endif
