// SPDX-License-Identifier: GPL-2.0
/*
 * fphint selection helpers shared by the stages that order what was
 * captured (zone-sort, and percpu capture merging its per-CPU buffers).
 */
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

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/selection-common-kunit.h"
#endif
