// SPDX-License-Identifier: GPL-2.0
/*
 * fphint transport "hypercall": the synchronous report hypercall of
 * include/uapi/linux/fphint_hypercall.h.
 *
 * Always listed; selectable only while a virtio-balloon device has
 * negotiated VIRTIO_BALLOON_F_FPHINT_HYPERCALL (the host routes the
 * call), else -ENODEV.  A report fills the calling CPU's report page with
 * one entry per run of contiguous ranges (split at 16 MiB), 512 entries a
 * call, and reads back what the host did with each: only ranges the host
 * discarded are marked PageReported.  The batch stays isolated until the
 * call returns; no zone lock is held across it.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/debugfs.h>
#include <linux/gfp.h>
#include <linux/kvm_para.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/fphint_hypercall.h>

#include "fphint.h"

/*
 * The balloon that offers the call, NULL while none does, and one report
 * page per possible CPU once the transport was first selected.  Both
 * change under fphint_mutex only; the worker reads them under it.
 */
static void *fphint_hc_owner;
static struct page **fphint_hc_pages;
/* Which ranges each entry of the call in flight covers; the worker's. */
static u16 fphint_hc_first[FPHINT_HC_ENTRIES_MAX];
static u16 fphint_hc_last[FPHINT_HC_ENTRIES_MAX];

/**
 * fphint_hc_fill - turn the next part of a batch into report page entries
 * @sgl: the batch's ranges, in the order they were isolated
 * @nents: how many
 * @pos: where the previous call stopped ({0, 0} at first); advanced
 * @ent: the entries to fill, outcome FPHINT_HC_PENDING
 * @first: per entry, the first range it covers
 * @last: per entry, the last range it covers
 * @max: room in @ent
 *
 * Ranges that continue one another share an entry, a run longer than
 * FPHINT_HC_PAGES_MAX pages takes several.
 *
 * Return: entries filled; 0 once the batch is done.
 */
unsigned int fphint_hc_fill(struct scatterlist *sgl, unsigned int nents,
			    struct fphint_hc_pos *pos, __le64 *ent,
			    u16 *first, u16 *last, unsigned int max)
{
	unsigned int n = 0;

	BUILD_BUG_ON(PAGE_SHIFT != FPHINT_HC_PAGE_SHIFT);
	BUILD_BUG_ON(FPHINT_REPORT_BATCH_MAX > U16_MAX);
	while (n < max && pos->sg < nents) {
		unsigned long pfn = page_to_pfn(sg_page(&sgl[pos->sg])) + pos->done;
		unsigned long pages = 0;

		first[n] = pos->sg;
		for (;;) {
			unsigned long len = sgl[pos->sg].length >> PAGE_SHIFT;
			unsigned long take = min(len - pos->done,
						 FPHINT_HC_PAGES_MAX - pages);

			last[n] = pos->sg;
			pages += take;
			pos->done += take;
			if (pos->done < len)
				break;		/* the entry is full */
			pos->sg++;
			pos->done = 0;
			if (pages == FPHINT_HC_PAGES_MAX || pos->sg >= nents ||
			    page_to_pfn(sg_page(&sgl[pos->sg])) != pfn + pages)
				break;
		}
		ent[n++] = cpu_to_le64(FPHINT_HC_ENTRY(pfn, pages));
	}
	return n;
}

/**
 * fphint_hc_outcomes - what the host did with @n entries
 * @ent: the entries as the host left them
 * @first: per entry, the first range it covers
 * @last: per entry, the last range it covers
 * @n: entries
 * @outcome: per range, FPHINT_SG_DISCARDED_ZERO on the first call; each
 *	entry lowers the ranges it covers to its own outcome
 *	(fphint_host_outcome()): a range any entry of which the host did not
 *	discard becomes FPHINT_SG_KEPT, one any entry of which may not read
 *	back zero FPHINT_SG_DISCARDED
 * @discarded: pages discarded, added to
 * @skipped: pages skipped, failed or left pending, added to
 *
 * Return: nothing.
 */
void fphint_hc_outcomes(const __le64 *ent, const u16 *first, const u16 *last,
			unsigned int n, u8 *outcome, unsigned long *discarded,
			unsigned long *skipped)
{
	unsigned int i, sg;

	for (i = 0; i < n; i++) {
		u64 e = le64_to_cpu(ent[i]);
		u8 o = fphint_host_outcome(FPHINT_HC_ENTRY_OUTCOME(e));

		if (fphint_sg_discarded(o))
			*discarded += FPHINT_HC_ENTRY_PAGES(e);
		else
			*skipped += FPHINT_HC_ENTRY_PAGES(e);
		for (sg = first[i]; sg <= last[i]; sg++)
			outcome[sg] = min(outcome[sg], o);
	}
}

/* The hypercall's return as an errno. */
static int fphint_hc_errno(long ret)
{
	/* The host does not route the call (after all). */
	if (ret == -KVM_ENOSYS)
		return -EOPNOTSUPP;
	if (ret < 0 && ret >= -MAX_ERRNO)
		return ret;
	return -EIO;
}

static long fphint_hc_call(struct page *page, unsigned long count,
			   unsigned long flags)
{
	fphint_count(FPHINT_STAT_HYPERCALLS, 1);
	return kvm_hypercall3(KVM_HC_FPHINT_REPORT, page_to_phys(page), count,
			      flags);
}

static int fphint_hc_report(struct fphint_transport *t, struct scatterlist *sgl,
			    unsigned int nents, u8 *outcome)
{
	unsigned long discarded = 0, skipped = 0;
	struct fphint_hc_pos pos = {};
	struct page *page;
	unsigned int n;
	__le64 *ent;
	long ret = 0;

	lockdep_assert_held(&fphint_mutex);
	if (WARN_ON_ONCE(!fphint_hc_owner || !fphint_hc_pages))
		return -ENODEV;
	memset(outcome, FPHINT_SG_DISCARDED_ZERO, nents);
	/* The CPU's report page, which nothing else uses meanwhile. */
	migrate_disable();
	page = fphint_hc_pages[smp_processor_id()];
	ent = page_address(page);
	while ((n = fphint_hc_fill(sgl, nents, &pos, ent, fphint_hc_first,
				   fphint_hc_last, FPHINT_HC_ENTRIES_MAX))) {
		ret = fphint_hc_call(page, n, 0);
		if (ret)
			break;
		fphint_hc_outcomes(ent, fphint_hc_first, fphint_hc_last, n,
				   outcome, &discarded, &skipped);
	}
	migrate_enable();
	fphint_count(FPHINT_STAT_HOST_DISCARDED_PAGES, discarded);
	fphint_count(FPHINT_STAT_HOST_SKIPPED_PAGES, skipped);
	return ret ? fphint_hc_errno(ret) : 0;
}

/* fphint_mutex held: the report pages, on first use. */
static int fphint_hc_alloc(void)
{
	struct page **pages;
	int cpu;

	if (fphint_hc_pages)
		return 0;
	pages = kcalloc(nr_cpu_ids, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		pages[cpu] = alloc_pages_node(cpu_to_node(cpu),
					      GFP_KERNEL | __GFP_ZERO, 0);
		if (!pages[cpu])
			goto fail;
	}
	fphint_hc_pages = pages;
	return 0;
fail:
	for_each_possible_cpu(cpu)
		if (pages[cpu])
			__free_page(pages[cpu]);
	kfree(pages);
	return -ENOMEM;
}

static int fphint_hc_select(struct fphint_transport *t)
{
	lockdep_assert_held(&fphint_mutex);
	if (!fphint_hc_owner) {
		pr_info_ratelimited("transport %s: the host does not offer it (no VIRTIO_BALLOON_F_FPHINT_HYPERCALL)\n",
				    t->stage.name);
		return -ENODEV;
	}
	return fphint_hc_alloc();
}

static struct fphint_transport fphint_transport_hypercall = {
	.stage.name	= FPHINT_TRANSPORT_HYPERCALL,
	.capacity	= FPHINT_REPORT_BATCH_MAX,
	.report		= fphint_hc_report,
	.select		= fphint_hc_select,
	.to_host	= true,
	.exact		= true,
};

fphint_stage_initcall(FPHINT_KIND_TRANSPORT, fphint_transport_hypercall);

/**
 * fphint_hypercall_offer - a balloon negotiated the report hypercall, or
 *	goes away
 * @owner: the device (its probe and remove pass the same pointer)
 * @offered: true at probe, false at remove
 *
 * While the call is offered the transport can be selected; when the
 * device that offered it goes away, a hypercall transport in use falls
 * back to null (and comes back if the device does and the admin chose
 * it).  Waits for a report in flight.
 *
 * Context: process context, may sleep.
 * Return: nothing.
 */
void fphint_hypercall_offer(void *owner, bool offered)
{
	struct fphint_stage *s = &fphint_transport_hypercall.stage;
	bool changed = false;

	fphint_config_lock();
	if (offered && !fphint_hc_owner) {
		fphint_hc_owner = owner;
		/*
		 * The admin chose it before (the device came back): its pages
		 * now, or it stays unused.  Otherwise they wait for a select.
		 */
		if (__fphint_transport_wanted(s) && !fphint_hc_alloc())
			changed = __fphint_transport_offered(s, true);
		pr_info("transport %s offered by the host\n", s->name);
	} else if (!offered && fphint_hc_owner == owner) {
		fphint_hc_owner = NULL;
		changed = __fphint_transport_offered(s, false);
		pr_info("transport %s withdrawn\n", s->name);
	}
	fphint_config_unlock();
	if (changed)
		fphint_nl_notify_config();
}
EXPORT_SYMBOL_GPL(fphint_hypercall_offer);

#ifdef CONFIG_FPHINT_FAULT_INJECTION
/*
 * debugfs fphint/hypercall_raw: one raw call with what the test says
 * (struct fphint_hc_raw, written whole), read back with the host's return
 * and the entries as the host left them.  For the bad-input sweep of
 * selftests/fphint/fphint_hypercall_test.c, which has the same struct.
 */
enum {
	FPHINT_HC_RAW_PAGE,		/* a0: a fresh report page */
	FPHINT_HC_RAW_UNALIGNED,	/* a0: 8 bytes into it */
	FPHINT_HC_RAW_ADDR,		/* a0: @addr as given */
};

struct fphint_hc_raw {
	__u64 count;		/* a1, as passed */
	__u64 flags;		/* a2 */
	__u64 addr;		/* a0 with FPHINT_HC_RAW_ADDR */
	__u32 page;		/* FPHINT_HC_RAW_* */
	__u32 nr;		/* entries copied to the report page */
	__s32 self;		/* >= 0: entries[self] covers the report page */
	__s32 alloc;		/* >= 0: entries[alloc] covers a block allocated */
	__u32 alloc_order;	/*	of this order, freed after the call */
	__u32 pad;
	__s64 ret;		/* out: the call's return */
	__u64 report_gpa;	/* out: the report page */
	__u64 entries[FPHINT_HC_ENTRIES_MAX];	/* in, and out as left */
};

static struct fphint_hc_raw fphint_hc_raw;
static DEFINE_MUTEX(fphint_hc_raw_lock);

static ssize_t fphint_hc_raw_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct fphint_hc_raw *r = &fphint_hc_raw;
	struct page *page, *block = NULL;
	unsigned long a0;
	__le64 *ent;
	ssize_t err = len;
	unsigned int i;

	if (len != sizeof(*r) || *ppos)
		return -EINVAL;
	mutex_lock(&fphint_hc_raw_lock);
	if (copy_from_user(r, ubuf, len)) {
		err = -EFAULT;
		goto out;
	}
	if (r->nr > FPHINT_HC_ENTRIES_MAX || r->page > FPHINT_HC_RAW_ADDR ||
	    r->self >= (s32)r->nr || r->alloc >= (s32)r->nr ||
	    r->alloc_order >= MAX_ORDER) {
		err = -EINVAL;
		goto out;
	}
	page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!page) {
		err = -ENOMEM;
		goto out;
	}
	if (r->alloc >= 0) {
		block = alloc_pages(GFP_KERNEL, r->alloc_order);
		if (!block) {
			__free_page(page);
			err = -ENOMEM;
			goto out;
		}
		r->entries[r->alloc] = FPHINT_HC_ENTRY(page_to_pfn(block),
						       1UL << r->alloc_order);
	}
	if (r->self >= 0)
		r->entries[r->self] = FPHINT_HC_ENTRY(page_to_pfn(page), 1);
	ent = page_address(page);
	for (i = 0; i < r->nr; i++)
		ent[i] = cpu_to_le64(r->entries[i]);
	r->report_gpa = page_to_phys(page);
	a0 = r->page == FPHINT_HC_RAW_ADDR ? r->addr :
	     r->report_gpa + (r->page == FPHINT_HC_RAW_UNALIGNED ? 8 : 0);

	/* Only where the host routes the call: elsewhere VMCALL is #UD. */
	fphint_config_lock();
	if (!fphint_hc_owner) {
		err = -ENODEV;
	} else {
		fphint_count(FPHINT_STAT_HYPERCALLS, 1);
		r->ret = kvm_hypercall3(KVM_HC_FPHINT_REPORT, a0, r->count,
					r->flags);
	}
	fphint_config_unlock();
	for (i = 0; i < r->nr; i++)
		r->entries[i] = le64_to_cpu(ent[i]);
	__free_page(page);
	if (block)
		__free_pages(block, r->alloc_order);
out:
	mutex_unlock(&fphint_hc_raw_lock);
	return err;
}

static ssize_t fphint_hc_raw_read(struct file *file, char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&fphint_hc_raw_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, &fphint_hc_raw,
				      sizeof(fphint_hc_raw));
	mutex_unlock(&fphint_hc_raw_lock);
	return ret;
}

static const struct file_operations fphint_hc_raw_fops = {
	.owner	= THIS_MODULE,
	.open	= simple_open,
	.read	= fphint_hc_raw_read,
	.write	= fphint_hc_raw_write,
	.llseek	= default_llseek,
};

void __init fphint_hc_debugfs(struct dentry *dir)
{
	debugfs_create_file("hypercall_raw", 0600, dir, NULL, &fphint_hc_raw_fops);
}
#endif

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/transport-hypercall-kunit.h"
#endif
