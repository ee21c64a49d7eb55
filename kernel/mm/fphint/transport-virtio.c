// SPDX-License-Identifier: GPL-2.0
/*
 * fphint transport "virtio": the free page reporting device.
 *
 * virtio-balloon, when it negotiates VIRTIO_BALLOON_F_REPORTING, hands its
 * reporting queue (a struct page_reporting_dev_info) to
 * fphint_register_reporting_dev() instead of page_reporting_register().
 * It becomes the transport of the name it gives, reporting through the
 * standard queue, so an unmodified host discards the ranges.  Until fphint
 * is first enabled (a boot with fphint.enabled=0) stock page_reporting
 * drives the device too.  One device at a time, as with page_reporting.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/page_reporting.h>
#include <linux/slab.h>

#include "fphint.h"

static int fphint_virtio_report(struct fphint_transport *t,
				struct scatterlist *sgl, unsigned int nents,
				u8 *outcome)
{
	int err = t->prdev->report(t->prdev, sgl, nents);

	/* An acknowledgment covers the whole report (hostcheck.c checks). */
	if (!err)
		memset(outcome, FPHINT_SG_DISCARDED, nents);
	return err;
}

/*
 * The one reporting device, like page_reporting's pr_dev_info.  While
 * fphint has never been enabled (fphint.enabled=0) stock page_reporting
 * drives it too (@stock); the first enable takes it over.  fphint_mutex.
 */
static struct fphint_virtio_device {
	struct fphint_transport t;
	bool stock;
} *fphint_virtio_dev;

/*
 * fphint's first enable (fphint_take_ownership(), fphint_mutex held): a
 * device stock page_reporting drives is taken over.
 */
static void fphint_virtio_take_over(struct fphint_transport *t)
{
	struct fphint_virtio_device *dev = container_of(t, struct fphint_virtio_device, t);

	if (!dev->stock)
		return;
	/* Waits for stock's work in flight; it takes no fphint lock. */
	page_reporting_unregister(t->prdev);
	dev->stock = false;
	pr_info("transport %s taken over from page_reporting\n", t->stage.name);
}

int fphint_register_reporting_dev(struct page_reporting_dev_info *prdev,
				  const char *name, unsigned int capacity)
{
	struct fphint_virtio_device *dev;
	bool changed;
	int err = 0;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->t.stage.name = name;
	dev->t.capacity = capacity;
	dev->t.report = fphint_virtio_report;
	dev->t.take_over = fphint_virtio_take_over;
	dev->t.prdev = prdev;
	dev->t.to_host = true;

	/* Stops a pass at its next batch rather than waiting it out. */
	fphint_config_lock();
	if (fphint_virtio_dev) {
		err = -EBUSY;
		goto out;
	}
	if (!fphint_owns_reporting()) {
		err = page_reporting_register(prdev);
		if (err)
			goto out;
		dev->stock = true;
	}
	fphint_virtio_dev = dev;
	changed = __fphint_register_stage(FPHINT_KIND_TRANSPORT, &dev->t.stage);
out:
	fphint_config_unlock();
	if (err) {
		kfree(dev);
		return err;
	}
	if (changed)
		fphint_nl_notify_config();
	pr_info("transport %s registered (%u ranges per report%s)\n", name,
		capacity, dev->stock ? ", page_reporting drives it" : "");
	return 0;
}
EXPORT_SYMBOL_GPL(fphint_register_reporting_dev);

void fphint_unregister_reporting_dev(struct page_reporting_dev_info *prdev)
{
	struct fphint_virtio_device *dev;
	bool changed = false;

	/* Ends a pass at its next batch; a report in flight completes first. */
	fphint_config_lock();
	dev = fphint_virtio_dev;
	if (dev && dev->t.prdev == prdev) {
		if (dev->stock)
			page_reporting_unregister(prdev);
		changed = __fphint_unregister_stage(FPHINT_KIND_TRANSPORT, &dev->t.stage);
		fphint_virtio_dev = NULL;
	} else {
		dev = NULL;
	}
	fphint_config_unlock();
	if (!dev)
		return;
	if (changed)
		fphint_nl_notify_config();
	pr_info("transport %s unregistered\n", dev->t.stage.name);
	kfree(dev);
}
EXPORT_SYMBOL_GPL(fphint_unregister_reporting_dev);

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/transport-virtio-kunit.h"
#endif
