/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for reporting devices: there is one, as with page_reporting,
 * and a second gets -EBUSY without appearing as a transport; the host's
 * status bytes mapped to outcomes.  Included at
 * the bottom of transport-virtio.c.
 */
#ifndef _FPHINT_TRANSPORT_VIRTIO_KUNIT_H
#define _FPHINT_TRANSPORT_VIRTIO_KUNIT_H

#include <kunit/test.h>

#include "host-outcome-kunit.h"

static int fphint_test_report(struct page_reporting_dev_info *prdev,
			      struct scatterlist *sgl, unsigned int nents)
{
	return 0;
}

static void fphint_test_one_device(struct kunit *test)
{
	struct page_reporting_dev_info a = { .report = fphint_test_report };
	struct page_reporting_dev_info b = { .report = fphint_test_report };
	int ra, rb;

	/* With a balloon already registered, both are the second. */
	ra = fphint_register_reporting_dev(&a, "kunit-a", 32);
	rb = fphint_register_reporting_dev(&b, "kunit-b", 32);
	KUNIT_EXPECT_TRUE(test, ra == 0 || ra == -EBUSY);
	KUNIT_EXPECT_EQ(test, rb, -EBUSY);
	fphint_stages_read_lock();
	KUNIT_EXPECT_PTR_EQ(test, fphint_find_stage(FPHINT_KIND_TRANSPORT, "kunit-b"), NULL);
	KUNIT_EXPECT_EQ(test, !!fphint_find_stage(FPHINT_KIND_TRANSPORT, "kunit-a"), !ra);
	fphint_stages_read_unlock();
	/* Unregistering a device never registered is a no-op. */
	fphint_unregister_reporting_dev(&b);
	if (!ra)
		fphint_unregister_reporting_dev(&a);
	fphint_stages_read_lock();
	KUNIT_EXPECT_PTR_EQ(test, fphint_find_stage(FPHINT_KIND_TRANSPORT, "kunit-a"), NULL);
	fphint_stages_read_unlock();
}

/*
 * The host's status bytes (VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS) as
 * outcomes (fphint_hc_cases), and the pages add up.  Ranges are only
 * lengths here: no page is touched.
 */
static void fphint_test_status_outcomes(struct kunit *test)
{
	struct page *page = virt_to_page(fphint_test_report);
	unsigned long discarded = 0, skipped = 0, want_d = 0, want_s = 0;
	struct scatterlist sgl[FPHINT_HC_CASES];
	u8 status[FPHINT_HC_CASES], outcome[FPHINT_HC_CASES];
	unsigned int i;

	sg_init_table(sgl, FPHINT_HC_CASES);
	for (i = 0; i < FPHINT_HC_CASES; i++) {
		/* i + 1 pages: which range was counted where shows in the sums */
		sg_set_page(&sgl[i], page, (i + 1) << PAGE_SHIFT, 0);
		status[i] = fphint_hc_cases[i].host;
		if (fphint_sg_discarded(fphint_hc_cases[i].want))
			want_d += i + 1;
		else
			want_s += i + 1;
	}
	memset(outcome, 0x5a, sizeof(outcome));
	fphint_status_outcomes(status, sgl, FPHINT_HC_CASES, outcome,
			       &discarded, &skipped);
	for (i = 0; i < FPHINT_HC_CASES; i++)
		KUNIT_EXPECT_EQ_MSG(test, outcome[i], fphint_hc_cases[i].want,
				    "host code %u", fphint_hc_cases[i].host);
	KUNIT_EXPECT_EQ(test, discarded, want_d);
	KUNIT_EXPECT_EQ(test, skipped, want_s);
	/* Added to, not set: a second report's pages add on. */
	fphint_status_outcomes(status, sgl, 2, outcome, &discarded, &skipped);
	KUNIT_EXPECT_EQ(test, discarded, want_d + 1 + 2);
	KUNIT_EXPECT_EQ(test, skipped, want_s);
}

/* A device registered with status bytes is exact: no canary for it. */
static void fphint_test_status_exact(struct kunit *test)
{
	struct page_reporting_dev_info a = { .report = fphint_test_report };
	u8 status[4];
	int err;

	err = fphint_register_reporting_dev_status(&a, "kunit-s", 4, status);
	KUNIT_EXPECT_TRUE(test, err == 0 || err == -EBUSY);
	if (err)
		return;		/* the balloon holds the one device slot */
	mutex_lock(&fphint_mutex);
	KUNIT_EXPECT_TRUE(test, fphint_virtio_dev->t.exact);
	KUNIT_EXPECT_PTR_EQ(test, fphint_virtio_dev->status, (const u8 *)status);
	mutex_unlock(&fphint_mutex);
	fphint_unregister_reporting_dev(&a);
}

static struct kunit_case fphint_devices_cases[] = {
	KUNIT_CASE(fphint_test_one_device),
	KUNIT_CASE(fphint_test_status_outcomes),
	KUNIT_CASE(fphint_test_status_exact),
	{}
};

static struct kunit_suite fphint_devices_suite = {
	.name = "fphint-devices",
	.test_cases = fphint_devices_cases,
};
kunit_test_suite(fphint_devices_suite);

#endif /* _FPHINT_TRANSPORT_VIRTIO_KUNIT_H */
