/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for the hypercall transport's report page: ranges merged
 * into entries, split at 16 MiB, 512 entries a call, and the host's
 * outcomes mapped back to ranges.  Included at the bottom of
 * transport-hypercall.c.  The ranges are only pfn arithmetic: no page is
 * touched.
 */
#ifndef _FPHINT_TRANSPORT_HYPERCALL_KUNIT_H
#define _FPHINT_TRANSPORT_HYPERCALL_KUNIT_H

#include <kunit/test.h>

#include "host-outcome-kunit.h"

/*
 * Ranges are built around the kernel image, whose pages surely have
 * struct pages; only pfn arithmetic is done on them.
 */
static unsigned long fphint_test_hc_base(struct kunit *test)
{
	return ALIGN_DOWN(page_to_pfn(virt_to_page(fphint_hc_first)), 1UL << 14);
}

static void fphint_test_hc_set(struct scatterlist *sg, unsigned long pfn,
			       unsigned long pages)
{
	sg_set_page(sg, pfn_to_page(pfn), pages << PAGE_SHIFT, 0);
}

/* Adjacent ranges share an entry, others do not. */
static void fphint_test_hc_merge(struct kunit *test)
{
	unsigned long base = fphint_test_hc_base(test);
	struct fphint_hc_pos pos = {};
	struct scatterlist sgl[4];
	u16 first[8], last[8];
	__le64 ent[8];
	unsigned int n;

	sg_init_table(sgl, 4);
	fphint_test_hc_set(&sgl[0], base, 512);
	fphint_test_hc_set(&sgl[1], base + 512, 8);		/* continues 0 */
	fphint_test_hc_set(&sgl[2], base + 1024, 4);	/* a gap */
	fphint_test_hc_set(&sgl[3], base + 1028, 1);	/* continues 2 */
	n = fphint_hc_fill(sgl, 4, &pos, ent, first, last, 8);
	KUNIT_ASSERT_EQ(test, n, 2U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(ent[0]), FPHINT_HC_ENTRY(base, 520));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(ent[1]), FPHINT_HC_ENTRY(base + 1024, 5));
	KUNIT_EXPECT_EQ(test, (unsigned int)first[0], 0U);
	KUNIT_EXPECT_EQ(test, (unsigned int)last[0], 1U);
	KUNIT_EXPECT_EQ(test, (unsigned int)first[1], 2U);
	KUNIT_EXPECT_EQ(test, (unsigned int)last[1], 3U);
	KUNIT_EXPECT_EQ(test, FPHINT_HC_ENTRY_OUTCOME(le64_to_cpu(ent[0])),
			(u64)FPHINT_HC_PENDING);
	/* Done: nothing more. */
	KUNIT_EXPECT_EQ(test, fphint_hc_fill(sgl, 4, &pos, ent, first, last, 8), 0U);
}

/* A run past 4096 pages is split; entries never exceed 16 MiB. */
static void fphint_test_hc_split(struct kunit *test)
{
	unsigned long base = fphint_test_hc_base(test);
	struct fphint_hc_pos pos = {};
	struct scatterlist sgl[3];
	u16 first[8], last[8];
	__le64 ent[8];
	unsigned int n;

	sg_init_table(sgl, 3);
	fphint_test_hc_set(&sgl[0], base, 4096 + 1024);	/* 20 MiB */
	fphint_test_hc_set(&sgl[1], base + 5120, 3072);	/* continues: 32 MiB */
	fphint_test_hc_set(&sgl[2], base + 8192, 4096);	/* continues, exactly one more */
	n = fphint_hc_fill(sgl, 3, &pos, ent, first, last, 8);
	KUNIT_ASSERT_EQ(test, n, 3U);
	KUNIT_EXPECT_EQ(test, le64_to_cpu(ent[0]), FPHINT_HC_ENTRY(base, 4096));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(ent[1]), FPHINT_HC_ENTRY(base + 4096, 4096));
	KUNIT_EXPECT_EQ(test, le64_to_cpu(ent[2]), FPHINT_HC_ENTRY(base + 8192, 4096));
	KUNIT_EXPECT_EQ(test, FPHINT_HC_ENTRY_PAGES(le64_to_cpu(ent[0])), 4096ULL);
	KUNIT_EXPECT_EQ(test, (unsigned int)first[0], 0U);
	KUNIT_EXPECT_EQ(test, (unsigned int)last[0], 0U);
	KUNIT_EXPECT_EQ(test, (unsigned int)first[1], 0U);
	KUNIT_EXPECT_EQ(test, (unsigned int)last[1], 1U);
	KUNIT_EXPECT_EQ(test, (unsigned int)first[2], 2U);
	KUNIT_EXPECT_EQ(test, (unsigned int)last[2], 2U);
}

/* More entries than fit: several calls, each picking up where it stopped. */
static void fphint_test_hc_calls(struct kunit *test)
{
	unsigned long base = fphint_test_hc_base(test);
	const unsigned int nents = 600;
	struct fphint_hc_pos pos = {};
	struct scatterlist *sgl;
	u16 *first, *last;
	unsigned int i, n, total = 0, calls = 0;
	unsigned long pages = 0;
	__le64 *ent;

	sgl = kunit_kcalloc(test, nents, sizeof(*sgl), GFP_KERNEL);
	ent = kunit_kcalloc(test, FPHINT_HC_ENTRIES_MAX, sizeof(*ent), GFP_KERNEL);
	first = kunit_kcalloc(test, FPHINT_HC_ENTRIES_MAX, sizeof(*first), GFP_KERNEL);
	last = kunit_kcalloc(test, FPHINT_HC_ENTRIES_MAX, sizeof(*last), GFP_KERNEL);
	KUNIT_ASSERT_TRUE(test, sgl && ent && first && last);
	sg_init_table(sgl, nents);
	/* One page every other page: no two ranges merge. */
	for (i = 0; i < nents; i++)
		fphint_test_hc_set(&sgl[i], base + 2 * i, 1);
	while ((n = fphint_hc_fill(sgl, nents, &pos, ent, first, last,
				   FPHINT_HC_ENTRIES_MAX))) {
		KUNIT_EXPECT_LE(test, n, (unsigned int)FPHINT_HC_ENTRIES_MAX);
		KUNIT_EXPECT_EQ(test, le64_to_cpu(ent[0]),
				FPHINT_HC_ENTRY(base + 2 * total, 1));
		for (i = 0; i < n; i++)
			pages += FPHINT_HC_ENTRY_PAGES(le64_to_cpu(ent[i]));
		total += n;
		calls++;
	}
	KUNIT_EXPECT_EQ(test, calls, 2U);
	KUNIT_EXPECT_EQ(test, total, nents);
	KUNIT_EXPECT_EQ(test, pages, (unsigned long)nents);
}

/*
 * Only what the host discarded stays discarded: a range any entry of
 * which was skipped, failed or left pending is kept, and the pages add up.
 */
static void fphint_test_hc_outcomes(struct kunit *test)
{
	/* Entry 0 covers ranges 0-1, entry 1 range 2, entry 2 ranges 2-3. */
	static const u16 first[] = { 0, 2, 2 }, last[] = { 1, 2, 3 };
	unsigned int i;

	for (i = 0; i < FPHINT_HC_CASES; i++) {
		unsigned long discarded = 0, skipped = 0, want;
		bool gone = fphint_sg_discarded(fphint_hc_cases[i].want);
		u8 outcome[4];
		__le64 ent[3];

		memset(outcome, FPHINT_SG_DISCARDED_ZERO, sizeof(outcome));
		ent[0] = cpu_to_le64(FPHINT_HC_ENTRY(0x1000, 16) | fphint_hc_cases[i].host);
		ent[1] = cpu_to_le64(FPHINT_HC_ENTRY(0x2000, 4096) | FPHINT_HC_DISCARDED);
		ent[2] = cpu_to_le64(FPHINT_HC_ENTRY(0x3000, 1) | fphint_hc_cases[i].host);
		fphint_hc_outcomes(ent, first, last, 3, outcome, &discarded, &skipped);
		KUNIT_EXPECT_EQ(test, outcome[0], fphint_hc_cases[i].want);
		KUNIT_EXPECT_EQ(test, outcome[1], fphint_hc_cases[i].want);
		/*
		 * Entry 1 was discarded but may not read back zero, and
		 * range 2 also lies in entry 2: the weaker outcome wins.
		 */
		KUNIT_EXPECT_EQ(test, outcome[2],
				gone ? FPHINT_SG_DISCARDED : FPHINT_SG_KEPT);
		KUNIT_EXPECT_EQ(test, outcome[3], fphint_hc_cases[i].want);
		KUNIT_EXPECT_EQ(test, discarded + skipped, 16UL + 4096 + 1);
		want = 4096;
		if (gone)
			want += 16 + 1;
		KUNIT_EXPECT_EQ(test, discarded, want);
	}
}

/* The sysfs/netlink contract: without the host's offer, -ENODEV. */
static void fphint_test_hc_select(struct kunit *test)
{
	struct fphint_transport *t = &fphint_transport_hypercall;
	int err;

	mutex_lock(&fphint_mutex);
	err = t->select(t);
	mutex_unlock(&fphint_mutex);
	if (fphint_hc_owner)
		KUNIT_EXPECT_EQ(test, err, 0);
	else
		KUNIT_EXPECT_EQ(test, err, -ENODEV);
}

static struct kunit_case fphint_hypercall_cases[] = {
	KUNIT_CASE(fphint_test_hc_merge),
	KUNIT_CASE(fphint_test_hc_split),
	KUNIT_CASE(fphint_test_hc_calls),
	KUNIT_CASE(fphint_test_hc_outcomes),
	KUNIT_CASE(fphint_test_hc_select),
	{}
};

static struct kunit_suite fphint_hypercall_suite = {
	.name = "fphint-hypercall",
	.test_cases = fphint_hypercall_cases,
};
kunit_test_suite(fphint_hypercall_suite);

#endif /* _FPHINT_TRANSPORT_HYPERCALL_KUNIT_H */
