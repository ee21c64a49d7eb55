/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for the shared selection helpers: sorting and
 * de-duplication of captured pfns.  Included at the bottom of
 * selection-common.c.
 */
#ifndef _FPHINT_SELECTION_COMMON_KUNIT_H
#define _FPHINT_SELECTION_COMMON_KUNIT_H

#include <kunit/test.h>

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

static struct kunit_case fphint_selection_cases[] = {
	KUNIT_CASE(fphint_test_sort_unique),
	{}
};

static struct kunit_suite fphint_selection_suite = {
	.name = "fphint-selection",
	.test_cases = fphint_selection_cases,
};
kunit_test_suite(fphint_selection_suite);

#endif /* _FPHINT_SELECTION_COMMON_KUNIT_H */
