/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for capture percpu: coalescing frees into regions, the seen
 * filter, and quiet regions (sort_quiet).  Included at the bottom of capture-percpu.c.
 */
#ifndef _FPHINT_CAPTURE_PERCPU_KUNIT_H
#define _FPHINT_CAPTURE_PERCPU_KUNIT_H

#include <kunit/test.h>
#include <linux/delay.h>

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

static void fphint_test_sort_quiet(struct kunit *test)
{
	/* Far above any guest's memory: no history, cold, one quiet pass. */
	const unsigned long r = FPHINT_REGION_PAGES, base = 1UL << 40;
	const unsigned long a = base, b = base + r, c = base + 2 * r, d = base + 3 * r;
	unsigned long pending[] = { a, b, c }, fresh[] = { b, d };
	unsigned long next[4], out[8];
	unsigned int nn, front, back;

	/* Quiet for a pass: walked; freed into again: waits from 0 again. */
	nn = fphint_percpu_sort_quiet(pending, 3, fresh, 2, next, out, 4,
				      &front, &back, FPHINT_ALLOC_TAKING);
	KUNIT_ASSERT_EQ(test, front, 2U);
	KUNIT_EXPECT_EQ(test, out[0], a);
	KUNIT_EXPECT_EQ(test, out[1], c);
	KUNIT_EXPECT_EQ(test, back, 8U);
	KUNIT_ASSERT_EQ(test, nn, 2U);
	KUNIT_EXPECT_EQ(test, next[0], b);
	KUNIT_EXPECT_EQ(test, next[1], d);
	/* The next pass, nothing freed: both go. */
	nn = fphint_percpu_sort_quiet(next, nn, NULL, 0, pending, out, 4,
				      &front, &back, FPHINT_ALLOC_TAKING);
	KUNIT_EXPECT_EQ(test, nn, 0U);
	KUNIT_ASSERT_EQ(test, front, 2U);
	KUNIT_EXPECT_EQ(test, out[0], b);
	KUNIT_EXPECT_EQ(test, out[1], d);
	/* No room to wait (cap 1): reported now rather than forgotten. */
	nn = fphint_percpu_sort_quiet(NULL, 0, fresh, 2, next, out, 1,
				      &front, &back, FPHINT_ALLOC_TAKING);
	KUNIT_EXPECT_EQ(test, nn, 1U);
	KUNIT_EXPECT_EQ(test, next[0], b);
	KUNIT_ASSERT_EQ(test, front, 1U);
	KUNIT_EXPECT_EQ(test, out[0], d);
}

/*
 * A cold region of real memory with history: one an allocation lies in.
 * Cold, because a hot one waits 4^heat passes whatever else applies, and
 * memory the guest reported at boot and took again at once is hot: 64 KiB
 * at a time (straight from the page allocator) until one lies in a region
 * that is not.
 */
static unsigned long fphint_test_real_region(struct kunit *test)
{
	unsigned long r;
	int i;

	for (i = 0; i < 256; i++) {
		void *mem = kunit_kzalloc(test, SZ_64K, GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, mem);
		r = fphint_region(page_to_pfn(virt_to_page(mem)));
		if (!fphint_rh_heat(fphint_region_word(r)))
			return r;
	}
	KUNIT_FAIL(test, "no cold region in 16 MiB of allocations");
	return r;
}

static void fphint_test_sort_quiet_taking(struct kunit *test)
{
	unsigned long r = fphint_test_real_region(test), pending[1], next[1], out[2];
	unsigned int nn, front, back;

	/*
	 * Past its first second in use, with pages freed into it one by one
	 * (after the wait: a pass meanwhile may walk the region and clear
	 * that).
	 */
	if (!fphint_region_lived(r))
		msleep(FPHINT_SETTLED_LIFE_MS);
	fphint_region_freed(r, 0, true);
	pending[0] = r;

	/* Quiet for a pass while the allocator takes memory: its small blocks wait. */
	nn = fphint_percpu_sort_quiet(pending, 1, NULL, 0, next, out, 1, &front, &back,
				      FPHINT_ALLOC_TAKING);
	KUNIT_EXPECT_EQ(test, back, 2U);
	KUNIT_ASSERT_EQ(test, nn, 1U);
	/* The allocator takes nothing: they go after that one pass. */
	nn = fphint_percpu_sort_quiet(pending, 1, NULL, 0, next, out, 1, &front, &back, 0);
	KUNIT_EXPECT_EQ(test, nn, 0U);
	KUNIT_ASSERT_EQ(test, back, 1U);
	KUNIT_EXPECT_EQ(test, out[1], r);
}

static void fphint_test_sort_quiet_young(struct kunit *test)
{
	unsigned long r = fphint_test_real_region(test), pending[1], next[1], out[2];
	unsigned int nn, front, back;

	pending[0] = r | 3;

	/*
	 * Quiet for passes, but taken whole just now: held (and the stamp
	 * only keeps this region from being reported for a second).
	 */
	__fphint_region_taken(r, MAX_ORDER - 1);
	nn = fphint_percpu_sort_quiet(pending, 1, NULL, 0, next, out, 1,
				      &front, &back, FPHINT_ALLOC_TAKING);
	KUNIT_EXPECT_EQ(test, front, 0U);
	KUNIT_EXPECT_EQ(test, back, 2U);
	KUNIT_ASSERT_EQ(test, nn, 1U);
	KUNIT_EXPECT_EQ(test, next[0], r | 4);
}

/*
 * A pageblock of a region taken just now (half of it with HUGETLB_PAGE,
 * all of it without) starts its clock as the whole does, and the region
 * is no longer one free block.
 */
static void fphint_test_sort_quiet_half_taken(struct kunit *test)
{
	unsigned long r = fphint_test_real_region(test), pending[1], next[1], out[2];
	unsigned int nn, front, back;

	pending[0] = r | 3;
	fphint_region_freed(r, FPHINT_REGION_ORDER, false);
	KUNIT_ASSERT_TRUE(test, fphint_region_word(r) & FPHINT_RH_WHOLE);
	__fphint_region_taken(r + FPHINT_REGION_PAGES - pageblock_nr_pages,
			      pageblock_order);
	KUNIT_EXPECT_FALSE(test, fphint_region_word(r) & FPHINT_RH_WHOLE);
	KUNIT_EXPECT_FALSE(test, fphint_region_lived(r));
	nn = fphint_percpu_sort_quiet(pending, 1, NULL, 0, next, out, 1,
				      &front, &back, 0);
	KUNIT_EXPECT_EQ(test, front, 0U);
	KUNIT_EXPECT_EQ(test, back, 2U);
	KUNIT_ASSERT_EQ(test, nn, 1U);
	KUNIT_EXPECT_EQ(test, next[0], r | 4);
}

static void fphint_test_sort_quiet_splitting(struct kunit *test)
{
	/* Far above any guest's memory: no history, cold, one quiet pass. */
	const unsigned long a = 1UL << 40;
	unsigned long pending[] = { a | 1 }, next[1], out[2];
	unsigned int nn, front, back;

	/* The allocator is splitting large blocks: a part-free region waits. */
	nn = fphint_percpu_sort_quiet(pending, 1, NULL, 0, next, out, 1,
				      &front, &back, FPHINT_ALLOC_SPLITTING | FPHINT_ALLOC_TAKING);
	KUNIT_EXPECT_EQ(test, front, 0U);
	KUNIT_ASSERT_EQ(test, nn, 1U);
	KUNIT_EXPECT_EQ(test, next[0], a | 2);
	/* Once it stopped, it goes. */
	nn = fphint_percpu_sort_quiet(next, 1, NULL, 0, pending, out, 1,
				      &front, &back, FPHINT_ALLOC_TAKING);
	KUNIT_EXPECT_EQ(test, nn, 0U);
	KUNIT_ASSERT_EQ(test, front, 1U);
	KUNIT_EXPECT_EQ(test, out[0], a);
}

static struct kunit_case fphint_capture_cases[] = {
	KUNIT_CASE(fphint_test_coalesce),
	KUNIT_CASE(fphint_test_sort_quiet),
	/* Before _young, which stamps the region of its allocation taken. */
	KUNIT_CASE(fphint_test_sort_quiet_taking),
	KUNIT_CASE(fphint_test_sort_quiet_young),
	KUNIT_CASE(fphint_test_sort_quiet_half_taken),
	KUNIT_CASE(fphint_test_sort_quiet_splitting),
	{}
};

static struct kunit_suite fphint_capture_suite = {
	.name = "fphint-capture",
	.test_cases = fphint_capture_cases,
};
kunit_test_suite(fphint_capture_suite);

#endif /* _FPHINT_CAPTURE_PERCPU_KUNIT_H */
