/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for reporting devices: there is one, as with page_reporting,
 * and a second gets -EBUSY without appearing as a transport.  Included at
 * the bottom of transport-virtio.c.
 */
#ifndef _FPHINT_TRANSPORT_VIRTIO_KUNIT_H
#define _FPHINT_TRANSPORT_VIRTIO_KUNIT_H

#include <kunit/test.h>

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

static struct kunit_case fphint_devices_cases[] = {
	KUNIT_CASE(fphint_test_one_device),
	{}
};

static struct kunit_suite fphint_devices_suite = {
	.name = "fphint-devices",
	.test_cases = fphint_devices_cases,
};
kunit_test_suite(fphint_devices_suite);

#endif /* _FPHINT_TRANSPORT_VIRTIO_KUNIT_H */
