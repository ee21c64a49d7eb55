/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for fphint selection: sorting and de-duplication of captured
 * pfns, capture-time coalescing and resolving a pfn to its buddy block.
 * Included at the bottom of selection.c.
 */
#ifndef _FPHINT_SELECTION_KUNIT_H
#define _FPHINT_SELECTION_KUNIT_H

#include <kunit/test.h>
#include <linux/gfp.h>

static void fphint_test_sort_unique(struct kunit *test)
{
	unsigned long pfns[] = { 900, 16, 512, 16, 900, 3, 512, 512 };
	unsigned long want[] = { 3, 16, 512, 900 };
	unsigned int n, i;

	n = fphint_sort_unique(pfns, ARRAY_SIZE(pfns));
	KUNIT_ASSERT_EQ(test, n, ARRAY_SIZE(want));
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, pfns[i], want[i]);

	/* Degenerate inputs. */
	KUNIT_EXPECT_EQ(test, fphint_sort_unique(pfns, 0), 0U);
	pfns[0] = 7;
	KUNIT_EXPECT_EQ(test, fphint_sort_unique(pfns, 1), 1U);
	KUNIT_EXPECT_EQ(test, pfns[0], 7UL);
}

static void fphint_test_coalesce(struct kunit *test)
{
	const unsigned long r = FPHINT_REGION_PAGES;
	unsigned long seen[FPHINT_SEEN_SLOTS];
	unsigned int i, again = 0;

	/* Frees anywhere in a region map to its first pfn. */
	KUNIT_EXPECT_EQ(test, fphint_region(3 * r + 17), 3 * r);
	KUNIT_EXPECT_EQ(test, fphint_region(3 * r), 3 * r);
	KUNIT_EXPECT_EQ(test, fphint_region(3 * r - 1), 2 * r);
	memset(seen, 0xff, sizeof(seen));
	/* First sight records, a repeat is caught, interleaved or not. */
	KUNIT_EXPECT_FALSE(test, fphint_capture_seen(seen, 4 * r));
	KUNIT_EXPECT_FALSE(test, fphint_capture_seen(seen, 9 * r));
	KUNIT_EXPECT_TRUE(test, fphint_capture_seen(seen, 4 * r));
	KUNIT_EXPECT_TRUE(test, fphint_capture_seen(seen, 9 * r));
	/* Region 0 is a region like any other. */
	KUNIT_EXPECT_FALSE(test, fphint_capture_seen(seen, 0));
	KUNIT_EXPECT_TRUE(test, fphint_capture_seen(seen, 0));
	/* 32 regions cycled twice: most repeats land in their slot. */
	memset(seen, 0xff, sizeof(seen));
	for (i = 0; i < 64; i++)
		again += fphint_capture_seen(seen, (i % 32) * r);
	KUNIT_EXPECT_GE(test, again, 16U);
}

static void fphint_test_regions_minus(struct kunit *test)
{
	unsigned long pending[] = { 1, 4, 7, 9, 12 };
	unsigned long busy[] = { 0, 4, 5, 12, 20 };
	unsigned long want[] = { 1, 7, 9 };
	unsigned int n, i;

	/* Regions freed into again stay pending; the quiet ones go out. */
	n = fphint_regions_minus(pending, ARRAY_SIZE(pending), busy, ARRAY_SIZE(busy));
	KUNIT_ASSERT_EQ(test, n, ARRAY_SIZE(want));
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, pending[i], want[i]);
	KUNIT_EXPECT_EQ(test, fphint_regions_minus(pending, n, NULL, 0), n);
	KUNIT_EXPECT_EQ(test, fphint_regions_minus(pending, 0, busy, 5), 0U);
}

/* A merged range goes back as aligned blocks that tile it exactly. */
static void fphint_test_piece_order(struct kunit *test)
{
	static const unsigned long ranges[][2] = {
		{ 0, 1 }, { 8, 24 }, { 3, 1029 }, { 512, 4096 }, { 1024, 1024 + 7 },
	};
	unsigned int i;

	/* Two adjacent order-3 blocks: one order-4 piece. */
	KUNIT_EXPECT_EQ(test, fphint_piece_order(16, 32), 4U);
	/* Never past pageblock_order, never misaligned, never past the end. */
	KUNIT_EXPECT_EQ(test, fphint_piece_order(0, 1UL << 20),
			(unsigned int)pageblock_order);
	KUNIT_EXPECT_EQ(test, fphint_piece_order(8, 1UL << 20), 3U);
	KUNIT_EXPECT_EQ(test, fphint_piece_order(1024, 1024 + 7), 2U);

	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		unsigned long pfn = ranges[i][0], end = ranges[i][1];

		while (pfn < end) {
			unsigned int o = fphint_piece_order(pfn, end);

			KUNIT_EXPECT_EQ(test, pfn & ((1UL << o) - 1), 0UL);
			KUNIT_EXPECT_LE(test, pfn + (1UL << o), end);
			pfn += 1UL << o;
		}
		KUNIT_EXPECT_EQ(test, pfn, end);
	}
}

/* A pfn inside a freed block resolves to a free head spanning it. */
static void fphint_test_buddy_head(struct kunit *test)
{
	const unsigned int order = 4;
	struct page *page, *head;
	struct zone *zone;
	unsigned long pfn, head_pfn;
	unsigned int got = 0;

	page = alloc_pages(GFP_KERNEL, order);
	KUNIT_ASSERT_NOT_NULL(test, page);
	pfn = page_to_pfn(page) + 5;
	zone = page_zone(page);

	/* Allocated: nothing to resolve. */
	spin_lock_irq(&zone->lock);
	head = fphint_buddy_head(pfn_to_page(pfn), &got);
	spin_unlock_irq(&zone->lock);
	KUNIT_EXPECT_NULL(test, head);

	/* Order 4 is above what the pcp lists cache: straight to the buddy. */
	__free_pages(page, order);

	spin_lock_irq(&zone->lock);
	head = fphint_buddy_head(pfn_to_page(pfn), &got);
	if (head) {
		head_pfn = page_to_pfn(head);
		KUNIT_EXPECT_TRUE(test, PageBuddy(head));
		KUNIT_EXPECT_GE(test, got, order);
		KUNIT_EXPECT_LE(test, head_pfn, pfn);
		KUNIT_EXPECT_GT(test, head_pfn + (1UL << got), pfn);
		KUNIT_EXPECT_EQ(test, head_pfn & ((1UL << got) - 1), 0UL);
	}
	spin_unlock_irq(&zone->lock);
	/* Someone may have allocated it in between; that is not a failure. */
	if (!head)
		kunit_skip(test, "block reused before it could be resolved");
}

static struct kunit_case fphint_selection_cases[] = {
	KUNIT_CASE(fphint_test_sort_unique),
	KUNIT_CASE(fphint_test_coalesce),
	KUNIT_CASE(fphint_test_regions_minus),
	KUNIT_CASE(fphint_test_piece_order),
	KUNIT_CASE(fphint_test_buddy_head),
	{}
};

static struct kunit_suite fphint_selection_suite = {
	.name = "fphint-selection",
	.test_cases = fphint_selection_cases,
};
kunit_test_suite(fphint_selection_suite);

#endif /* _FPHINT_SELECTION_KUNIT_H */
