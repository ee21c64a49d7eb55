/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for the batch mechanics: resolving a pfn to its buddy block
 * and splitting a merged range for put-back.  Included at the bottom of
 * batch.c.
 */
#ifndef _FPHINT_BATCH_KUNIT_H
#define _FPHINT_BATCH_KUNIT_H

#include <kunit/test.h>
#include <linux/gfp.h>

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

static struct kunit_case fphint_batch_cases[] = {
	KUNIT_CASE(fphint_test_piece_order),
	KUNIT_CASE(fphint_test_buddy_head),
	{}
};

static struct kunit_suite fphint_batch_suite = {
	.name = "fphint-batch",
	.test_cases = fphint_batch_cases,
};
kunit_test_suite(fphint_batch_suite);

#endif /* _FPHINT_BATCH_KUNIT_H */
