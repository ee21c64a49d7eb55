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
 *
 * A stock host only acknowledges a report as a whole (hostcheck.c checks
 * with a canary).  A host that negotiated the experimental
 * VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS writes one outcome byte per range
 * (the report hypercall's FPHINT_HC_* codes) into a status buffer the
 * driver preallocated and zeroes (FPHINT_HC_PENDING) before each report:
 * the transport is then exact, counts host_discarded_pages and
 * host_skipped_pages, and may say FPHINT_SG_DISCARDED_ZERO.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/debugfs.h>
#include <linux/page_reporting.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "fphint.h"

/*
 * The one reporting device, like page_reporting's pr_dev_info.  While
 * fphint has never been enabled (fphint.enabled=0) stock page_reporting
 * drives it too (@stock); the first enable takes it over.  @status: the
 * driver's status bytes, one per range of the last report, when the host
 * writes them (else NULL).  fphint_mutex.
 */
static struct fphint_virtio_device {
	struct fphint_transport t;
	const u8 *status;
	bool stock;
} *fphint_virtio_dev;

/**
 * fphint_status_outcomes - what the host did with each range of a report
 * @status: per range, the host's FPHINT_HC_* code (PENDING: not written)
 * @sgl: the report's ranges
 * @nents: how many
 * @outcome: per range, set to fphint_host_outcome() of its code
 * @discarded: pages discarded, added to
 * @skipped: pages skipped, failed or left pending, added to
 *
 * Return: nothing.
 */
void fphint_status_outcomes(const u8 *status, struct scatterlist *sgl,
			    unsigned int nents, u8 *outcome,
			    unsigned long *discarded, unsigned long *skipped)
{
	unsigned int i;

	for (i = 0; i < nents; i++) {
		unsigned long pages = sgl[i].length >> PAGE_SHIFT;

		outcome[i] = fphint_host_outcome(READ_ONCE(status[i]));
		if (fphint_sg_discarded(outcome[i]))
			*discarded += pages;
		else
			*skipped += pages;
	}
}

#ifdef CONFIG_FPHINT_FAULT_INJECTION
/* debugfs fphint/virtio_status: ranges and pages per status code seen. */
static unsigned long fphint_virtio_codes[256][2];

static void fphint_virtio_note(const u8 *status, struct scatterlist *sgl,
			       unsigned int nents)
{
	unsigned int i;

	for (i = 0; i < nents; i++) {
		fphint_virtio_codes[status[i]][0]++;
		fphint_virtio_codes[status[i]][1] += sgl[i].length >> PAGE_SHIFT;
	}
}

static int fphint_virtio_status_show(struct seq_file *m, void *v)
{
	unsigned int i;

	seq_puts(m, "code ranges pages\n");
	for (i = 0; i < ARRAY_SIZE(fphint_virtio_codes); i++)
		if (READ_ONCE(fphint_virtio_codes[i][0]))
			seq_printf(m, "%u %lu %lu\n", i,
				   READ_ONCE(fphint_virtio_codes[i][0]),
				   READ_ONCE(fphint_virtio_codes[i][1]));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(fphint_virtio_status);

void __init fphint_virtio_debugfs(struct dentry *dir)
{
	debugfs_create_file("virtio_status", 0400, dir, NULL,
			    &fphint_virtio_status_fops);
}
#else
static inline void fphint_virtio_note(const u8 *status, struct scatterlist *sgl,
				      unsigned int nents) { }
#endif

static int fphint_virtio_report(struct fphint_transport *t,
				struct scatterlist *sgl, unsigned int nents,
				u8 *outcome)
{
	struct fphint_virtio_device *dev = container_of(t, struct fphint_virtio_device, t);
	unsigned long discarded = 0, skipped = 0;
	int err = t->prdev->report(t->prdev, sgl, nents);

	if (err)
		return err;
	if (!dev->status) {
		/* An acknowledgment covers the whole report (hostcheck.c checks). */
		memset(outcome, FPHINT_SG_DISCARDED, nents);
		return 0;
	}
	/* The driver set them to PENDING, the host wrote them before its ack. */
	fphint_status_outcomes(dev->status, sgl, nents, outcome, &discarded,
			       &skipped);
	fphint_virtio_note(dev->status, sgl, nents);
	fphint_count(FPHINT_STAT_HOST_DISCARDED_PAGES, discarded);
	fphint_count(FPHINT_STAT_HOST_SKIPPED_PAGES, skipped);
	return 0;
}

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
	return fphint_register_reporting_dev_status(prdev, name, capacity, NULL);
}
EXPORT_SYMBOL_GPL(fphint_register_reporting_dev);

int fphint_register_reporting_dev_status(struct page_reporting_dev_info *prdev,
					 const char *name, unsigned int capacity,
					 const u8 *status)
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
	/* The host says per range what it did: no canary needed. */
	dev->t.exact = status;
	dev->status = status;

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
	pr_info("transport %s registered (%u ranges per report%s%s)\n", name,
		capacity, status ? ", outcome per range" : "",
		dev->stock ? ", page_reporting drives it" : "");
	return 0;
}
EXPORT_SYMBOL_GPL(fphint_register_reporting_dev_status);

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
