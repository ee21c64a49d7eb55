// SPDX-License-Identifier: GPL-2.0
/*
 * fphint capture "percpu" (the default): the free path appends the region
 * of every block it finished merging (order >= min_order) to a per-CPU
 * buffer, unless the buffer's seen filter says it is already there; the
 * worker swaps buffers out report_delay_ms after their first entry and
 * reports a region only once it stayed quiet for a whole delay.  Costs one
 * uncontended per-CPU lock per free, nothing else.  A full buffer drops
 * the entry and asks for a scan of the free lists (capture-scan.c).
 */
#include <linux/hash.h>
#include <linux/log2.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/slab.h>

#include "fphint.h"

struct fphint_pcp {
	/*
	 * Taken inside zone->lock by the free path (interrupts are off) and
	 * alone by the worker and by resizing, with interrupts off too.
	 */
	spinlock_t lock;
	unsigned long *cur;	/* being filled by the free path */
	unsigned long *spare;	/* handed to the worker on the next swap */
	unsigned int nr;
	unsigned int cap;
	/* Regions already in cur, direct-mapped: most repeats never take a slot. */
	unsigned long seen[FPHINT_SEEN_SLOTS];
};
static DEFINE_PER_CPU(struct fphint_pcp, fphint_pcp);

/*
 * Only quiet regions are reported: a region captured in one pass is held
 * back ("pending") and reported at the next pass only if nothing was freed
 * into it in between.  A burst settles and goes out one delay later;
 * memory being recycled keeps its regions busy and is left alone, so churn
 * costs no host refaults.  Both arrays hold up to nr_cpu_ids * batch
 * sorted regions; worker-only (fphint_mutex).
 */
static unsigned long *fphint_pending, *fphint_fresh;
static unsigned int fphint_nr_pending, fphint_agg_cap;

/* Remove from sorted @a every region also in sorted @b; returns the count left. */
static unsigned int fphint_percpu_regions_minus(unsigned long *a, unsigned int na,
						const unsigned long *b,
						unsigned int nb)
{
	unsigned int i, j = 0, n = 0;

	for (i = 0; i < na; i++) {
		while (j < nb && b[j] < a[i])
			j++;
		if (j < nb && b[j] == a[i])
			continue;
		a[n++] = a[i];
	}
	return n;
}

/*
 * Has @region been recorded since @seen was last cleared?  Records it if
 * not.  A miss only costs a duplicate entry, which selection drops.
 */
static bool fphint_percpu_seen(unsigned long *seen, unsigned long region)
{
	unsigned long *slot = &seen[hash_long(region >> FPHINT_REGION_ORDER,
					      ilog2(FPHINT_SEEN_SLOTS))];

	if (*slot == region)
		return true;
	*slot = region;
	return false;
}

static void fphint_percpu_seen_clear(unsigned long *seen)
{
	memset(seen, 0xff, FPHINT_SEEN_SLOTS * sizeof(*seen));
}

static void fphint_percpu_notify_free(struct zone *zone, unsigned long pfn,
				      unsigned int order)
{
	struct fphint_pcp *p = this_cpu_ptr(&fphint_pcp);
	unsigned long region = fphint_region(pfn);
	unsigned int nr;

	/*
	 * zone->lock is always taken with interrupts off, so nothing on this
	 * CPU can come in between: a plain lock against the worker will do.
	 */
	lockdep_assert_held(&zone->lock);
	spin_lock(&p->lock);
	nr = p->nr;
	/*
	 * Full: the worker is behind; a scan will find the block later.
	 * Checked before the seen filter, which must only hold regions that
	 * really are in the buffer.
	 */
	if (nr >= p->cap) {
		spin_unlock(&p->lock);
		fphint_capture_rescan();
		fphint_count(FPHINT_STAT_DROPPED, 1);
		return;
	}
	if (fphint_percpu_seen(p->seen, region)) {
		spin_unlock(&p->lock);
		fphint_count(FPHINT_STAT_DUPLICATES, 1);
		return;
	}
	p->cur[nr] = region;
	p->nr = nr + 1;
	spin_unlock(&p->lock);
	fphint_count(FPHINT_STAT_CAPTURED, 1);

	/*
	 * A pass report_delay_ms after the first entry, full buffer or not:
	 * by then the blocks of a large free have finished merging (fewer,
	 * bigger ranges) and memory reused at once is no longer free.
	 */
	if (nr == 0)
		fphint_kick(false);
}

/*
 * After the buffers come the free-list scan, if one was asked for or is
 * under way (fphint_scan_next()).  Also while the churn backoff is
 * engaged: the backoff already spaces the passes out, and what was dropped
 * must not wait for the churn to end.
 */
static unsigned long *fphint_percpu_collect(struct fphint_pass *pass,
					    unsigned int *nr)
{
	unsigned int n = 0, quiet;
	unsigned long *out;
	int cpu;

	if (pass->cpu >= 0)
		return fphint_scan_next(pass, nr);
	pass->cpu = nr_cpu_ids;

	for_each_possible_cpu(cpu) {
		struct fphint_pcp *p = per_cpu_ptr(&fphint_pcp, cpu);
		unsigned long *full;
		unsigned int got;

		/* Unlocked peek: a racing free kicks another pass anyway. */
		if (!READ_ONCE(p->nr))
			continue;
		spin_lock_irq(&p->lock);
		full = p->cur;
		got = p->nr;
		p->cur = p->spare;
		p->spare = full;
		p->nr = 0;
		fphint_percpu_seen_clear(p->seen);
		spin_unlock_irq(&p->lock);
		/* The worker is done with spare before it swaps again. */
		memcpy(fphint_fresh + n, full, got * sizeof(long));
		n += got;
	}
	n = fphint_sort_unique(fphint_fresh, n);
	quiet = fphint_percpu_regions_minus(fphint_pending, fphint_nr_pending,
					    fphint_fresh, n);
	/* Still busy: they wait another round, not counted twice. */
	fphint_count(FPHINT_STAT_DUPLICATES, fphint_nr_pending - quiet);

	out = fphint_pending;
	fphint_pending = fphint_fresh;
	fphint_nr_pending = n;
	fphint_fresh = out;
	if (!quiet)
		return fphint_scan_next(pass, nr);
	*nr = quiet;
	return out;
}

/* Regions held back, or an overflow scan put off by churn: come back later. */
static bool fphint_percpu_pending(void)
{
	return fphint_nr_pending || fphint_scan_requested();
}

static void fphint_percpu_flush(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct fphint_pcp *p = per_cpu_ptr(&fphint_pcp, cpu);

		spin_lock_irq(&p->lock);
		p->nr = 0;
		fphint_percpu_seen_clear(p->seen);
		spin_unlock_irq(&p->lock);
	}
	fphint_nr_pending = 0;
}

/*
 * New buffers for a new capture_batch.  fphint_mutex held, so the worker
 * does not hold a spare buffer.  All or nothing: on -ENOMEM nothing
 * changed.  Captured entries are kept up to the new size.
 */
int fphint_percpu_resize(unsigned int batch)
{
	unsigned long **bufs, *agg[2];
	int cpu, i = 0;

	agg[0] = kvmalloc_array(nr_cpu_ids * batch, sizeof(long), GFP_KERNEL);
	agg[1] = kvmalloc_array(nr_cpu_ids * batch, sizeof(long), GFP_KERNEL);
	bufs = kcalloc(2 * nr_cpu_ids, sizeof(*bufs), GFP_KERNEL);
	if (!bufs || !agg[0] || !agg[1]) {
		kvfree(agg[0]);
		kvfree(agg[1]);
		kfree(bufs);
		return -ENOMEM;
	}
	for_each_possible_cpu(cpu) {
		bufs[2 * cpu] = kvmalloc_array(batch, sizeof(long), GFP_KERNEL);
		bufs[2 * cpu + 1] = kvmalloc_array(batch, sizeof(long), GFP_KERNEL);
		if (!bufs[2 * cpu] || !bufs[2 * cpu + 1])
			goto nomem;
	}
	for_each_possible_cpu(cpu) {
		struct fphint_pcp *p = per_cpu_ptr(&fphint_pcp, cpu);
		unsigned long *old_cur, *old_spare;
		unsigned int keep;

		spin_lock_irq(&p->lock);
		keep = min(p->nr, batch);
		/* Entries dropped here must be able to come back. */
		if (p->nr > keep)
			fphint_percpu_seen_clear(p->seen);
		if (keep)
			memcpy(bufs[2 * cpu], p->cur, keep * sizeof(long));
		if (p->nr > keep)
			fphint_count(FPHINT_STAT_DROPPED, p->nr - keep);
		old_cur = p->cur;
		old_spare = p->spare;
		p->cur = bufs[2 * cpu];
		p->spare = bufs[2 * cpu + 1];
		p->nr = keep;
		p->cap = batch;
		spin_unlock_irq(&p->lock);
		/* The old buffers are freed below, through bufs[]. */
		bufs[2 * cpu] = old_cur;
		bufs[2 * cpu + 1] = old_spare;
	}
	/* Pending regions beyond the new size are dropped; their memory stays free. */
	fphint_nr_pending = min(fphint_nr_pending, nr_cpu_ids * batch);
	if (fphint_pending)
		memcpy(agg[0], fphint_pending, fphint_nr_pending * sizeof(long));
	swap(agg[0], fphint_pending);
	swap(agg[1], fphint_fresh);
	fphint_agg_cap = nr_cpu_ids * batch;
	i = 2 * nr_cpu_ids;
nomem:
	/* The old aggregates on success, the new ones on failure. */
	kvfree(agg[0]);
	kvfree(agg[1]);
	/* On success this frees the old buffers, on failure the new ones. */
	for (cpu = 0; cpu < 2 * nr_cpu_ids; cpu++)
		kvfree(bufs[cpu]);
	kfree(bufs);
	return i ? 0 : -ENOMEM;
}

/* Undo fphint_percpu_init() (fphint_init() failed later on). */
void fphint_percpu_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct fphint_pcp *p = per_cpu_ptr(&fphint_pcp, cpu);

		kvfree(p->cur);
		kvfree(p->spare);
		p->cur = p->spare = NULL;
		p->nr = p->cap = 0;
	}
	kvfree(fphint_pending);
	kvfree(fphint_fresh);
	fphint_pending = fphint_fresh = NULL;
	fphint_nr_pending = fphint_agg_cap = 0;
}

int fphint_percpu_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		spin_lock_init(&per_cpu_ptr(&fphint_pcp, cpu)->lock);
		fphint_percpu_seen_clear(per_cpu_ptr(&fphint_pcp, cpu)->seen);
	}
	return fphint_percpu_resize(fphint_tunable(CAPTURE_BATCH));
}

static struct fphint_capture_ops fphint_capture_percpu = {
	.stage.name	= FPHINT_CAPTURE_PERCPU,
	.notify_free	= fphint_percpu_notify_free,
	.collect	= fphint_percpu_collect,
	.flush		= fphint_percpu_flush,
	.pending	= fphint_percpu_pending,
};

fphint_stage_initcall(FPHINT_KIND_CAPTURE, fphint_capture_percpu);

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/capture-percpu-kunit.h"
#endif
