/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for capture percpu: coalescing frees into regions, the seen
 * filter, and quiet regions.  Included at the bottom of capture-percpu.c.
 */
#ifndef _FPHINT_CAPTURE_PERCPU_KUNIT_H
#define _FPHINT_CAPTURE_PERCPU_KUNIT_H

#include <kunit/test.h>

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
	KUNIT_EXPECT_FALSE(test, fphint_percpu_seen(seen, 4 * r));
	KUNIT_EXPECT_FALSE(test, fphint_percpu_seen(seen, 9 * r));
	KUNIT_EXPECT_TRUE(test, fphint_percpu_seen(seen, 4 * r));
	KUNIT_EXPECT_TRUE(test, fphint_percpu_seen(seen, 9 * r));
	/* Region 0 is a region like any other. */
	KUNIT_EXPECT_FALSE(test, fphint_percpu_seen(seen, 0));
	KUNIT_EXPECT_TRUE(test, fphint_percpu_seen(seen, 0));
	/* 32 regions cycled twice: most repeats land in their slot. */
	memset(seen, 0xff, sizeof(seen));
	for (i = 0; i < 64; i++)
		again += fphint_percpu_seen(seen, (i % 32) * r);
	KUNIT_EXPECT_GE(test, again, 16U);
}

static void fphint_test_regions_minus(struct kunit *test)
{
	unsigned long pending[] = { 1, 4, 7, 9, 12 };
	unsigned long busy[] = { 0, 4, 5, 12, 20 };
	unsigned long want[] = { 1, 7, 9 };
	unsigned int n, i;

	/* Regions freed into again stay pending; the quiet ones go out. */
	n = fphint_percpu_regions_minus(pending, ARRAY_SIZE(pending), busy, ARRAY_SIZE(busy));
	KUNIT_ASSERT_EQ(test, n, ARRAY_SIZE(want));
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, pending[i], want[i]);
	KUNIT_EXPECT_EQ(test, fphint_percpu_regions_minus(pending, n, NULL, 0), n);
	KUNIT_EXPECT_EQ(test, fphint_percpu_regions_minus(pending, 0, busy, 5), 0U);
}

static struct kunit_case fphint_capture_cases[] = {
	KUNIT_CASE(fphint_test_coalesce),
	KUNIT_CASE(fphint_test_regions_minus),
	{}
};

static struct kunit_suite fphint_capture_suite = {
	.name = "fphint-capture",
	.test_cases = fphint_capture_cases,
};
kunit_test_suite(fphint_capture_suite);

#endif /* _FPHINT_CAPTURE_PERCPU_KUNIT_H */
