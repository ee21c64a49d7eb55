// SPDX-License-Identifier: GPL-2.0
/*
 * fphint capture "percpu" (the default): the free path appends the region
 * of every block it finished merging (order >= settled_min_order) to a
 * per-CPU buffer, unless the buffer's seen filter says it is already there;
 * the worker swaps buffers out report_delay_ms after their first entry
 * and reports a region once it stayed quiet for as many passes as its
 * history asks (region.c): one, none for a cold region that became one
 * free block, more for one whose reports were taken back at once, and,
 * while the allocator takes memory, a few for one pages were freed into
 * one by one.  Whatever the history, memory about to be taken again
 * waits: a region a pageblock or more of which was taken under a second
 * ago, and one that is not a
 * free block while the allocator splits large ones.  Costs one uncontended
 * per-CPU lock per free, nothing else.  A full buffer drops the entry and
 * asks for a scan of the free lists (capture-scan.c).
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
 * back ("pending") and reported once nothing was freed into it for
 * fphint_rh_hold() passes, its small blocks after fphint_rh_settle().
 * Memory being recycled keeps its regions busy and is left alone, so
 * churn costs no host refaults.  A pending entry is its region's first
 * pfn plus, in the bits below FPHINT_REGION_ORDER, the passes it has been
 * quiet and whether it was walked at min_order already.  pending, fresh and next hold up to nr_cpu_ids * batch sorted
 * entries, out twice that (walked at min_order from the front, at
 * settled_min_order from fphint_out_settled); worker-only (fphint_mutex).
 */
static unsigned long *fphint_pending, *fphint_fresh, *fphint_next, *fphint_out;
static unsigned int fphint_nr_pending, fphint_agg_cap, fphint_out_settled;
#define FPHINT_QUIET_MASK	(FPHINT_REGION_PAGES - 1)
#define FPHINT_QUIET_WALKED	(FPHINT_REGION_PAGES >> 1)	/* at min_order already */
#define FPHINT_QUIET_PASSES	(FPHINT_QUIET_WALKED - 1)

static unsigned int fphint_seen_slot(unsigned long region)
{
	return hash_long(region >> FPHINT_REGION_ORDER, ilog2(FPHINT_SEEN_SLOTS));
}

/*
 * Has @region been recorded since @seen was last cleared?  Records it if
 * not.  A miss only costs a duplicate entry, which selection drops.
 */
static bool fphint_percpu_seen(unsigned long *seen, unsigned long region)
{
	unsigned long *slot = &seen[fphint_seen_slot(region)];

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
	bool soon;
	u32 w;

	w = fphint_region_freed(pfn, order, order < fphint_tunable(MIN_ORDER));
	/*
	 * A cold region that became one free block after its memory was in
	 * use for a while (region.c): a burst settled there, nothing in it is
	 * left to merge or to wait for, so the pass comes at the next tick,
	 * whether or not the region is in the buffer already (a large unmap
	 * frees a region's pages one by one; the last one makes it whole).
	 * Memory recycled faster waits the report delay: churn frees whole
	 * regions too, and takes them again within the delay.
	 */
	soon = order >= FPHINT_REGION_ORDER && !fphint_rh_hold(w, true) &&
	       fphint_region_lived(pfn);

	/*
	 * Most frees land in a region already in the buffer, so look before
	 * taking the lock.  Unlocked, the worker may be swapping the buffer
	 * out under us: then the region was just collected, starts its quiet
	 * passes again from 0, and the walk that comes of it takes
	 * zone->lock, so it finds this block too.  The same as a hit under
	 * the lock, one swap earlier.
	 */
	if (data_race(p->seen[fphint_seen_slot(region)]) == region) {
		fphint_count(FPHINT_STAT_DUPLICATES, 1);
		if (soon)
			fphint_kick_soon();
		return;
	}

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
		if (soon)
			fphint_kick_soon();
		return;
	}
	p->cur[nr] = region;
	p->nr = nr + 1;
	spin_unlock(&p->lock);
	fphint_count(FPHINT_STAT_CAPTURED, 1);

	/*
	 * Else a pass report_delay_ms after the first entry, full buffer or
	 * not: by then the blocks of a large free have finished merging
	 * (fewer, bigger ranges) and memory reused at once is no longer free.
	 */
	if (soon)
		fphint_kick_soon();
	else if (nr == 0)
		fphint_kick(false);
}

/*
 * Sort one pass's regions: @pending (quiet passes in the low bits) against
 * the regions freed into since (@fresh, sorted, unique).  Regions due go
 * to @out, which holds 2 * @cap (to walk at min_order from the front, at
 * settled_min_order from the back), those still waiting to @next (room
 * for @cap).  @alloc: fphint_allocator_seen().  Returns how many
 * are in @next; *@front and *@back say where the two parts of @out end.
 */
static unsigned int fphint_percpu_sort_quiet(const unsigned long *pending,
					     unsigned int np,
					     const unsigned long *fresh,
					     unsigned int nf,
					     unsigned long *next,
					     unsigned long *out,
					     unsigned int cap,
					     unsigned int *nfront,
					     unsigned int *nback,
					     unsigned int alloc)
{
	unsigned int i, j = 0, nn = 0, front = 0, back = 2 * cap;

	for (i = 0; i < np || j < nf; ) {
		unsigned long r, quiet;
		unsigned int hold, settle;
		bool taking = alloc & FPHINT_ALLOC_TAKING, about_to_be_taken;
		u32 w;

		/* Merge by region: fresh entries start again at 0 passes. */
		if (j < nf && (i == np || fresh[j] <= fphint_region(pending[i]))) {
			if (i < np && fresh[j] == fphint_region(pending[i])) {
				fphint_count(FPHINT_STAT_DUPLICATES, 1);
				i++;
			}
			r = fresh[j++];
			quiet = 0;
		} else {
			r = fphint_region(pending[i]);
			quiet = (pending[i++] & FPHINT_QUIET_MASK) + 1;
		}
		w = fphint_region_word(r);
		hold = fphint_rh_hold(w, taking);
		settle = fphint_rh_settle(w, taking);
		/*
		 * Memory about to be taken again waits, whatever the
		 * region's history says: a region the allocator took a
		 * pageblock or more of under FPHINT_SETTLED_LIFE_MS ago and
		 * that is partly free again is being recycled (churn's
		 * mmap/touch/munmap); and
		 * while the allocator is splitting blocks of pageblock_order
		 * and up, a region that is not one free block holds blocks
		 * it takes first (region.c).
		 */
		about_to_be_taken = !fphint_region_lived(r) ||
			(!(w & FPHINT_RH_WHOLE) && (alloc & FPHINT_ALLOC_SPLITTING));
		/*
		 * The history may change while a region waits: >=, not ==.
		 * A settled walk takes the larger blocks too, so a region
		 * due for both is walked once, and @out never holds more
		 * than one entry per region.
		 */
		if (!about_to_be_taken && settle && (quiet & FPHINT_QUIET_PASSES) >= settle) {
			out[--back] = r;
			continue;
		}
		if (!about_to_be_taken && !(quiet & FPHINT_QUIET_WALKED) &&
		    (quiet & FPHINT_QUIET_PASSES) >= hold) {
			out[front++] = r;
			quiet |= FPHINT_QUIET_WALKED;
		}
		if ((quiet & FPHINT_QUIET_WALKED) && !settle)
			continue;
		/* No room to wait: report it now rather than forget it. */
		if (nn == cap) {
			if (!(quiet & FPHINT_QUIET_WALKED))
				out[front++] = r;
			continue;
		}
		next[nn++] = r | quiet;
	}
	*nfront = front;
	*nback = back;
	return nn;
}

/*
 * Due regions first (walked at min_order), then those whose small blocks
 * have settled (at settled_min_order), then the free-list scan, if one
 * was asked for or is under way (fphint_scan_next()).  Also while the
 * churn backoff is engaged: the backoff already spaces the passes out,
 * and what was dropped must not wait for the churn to end.
 */
static unsigned long *fphint_percpu_collect(struct fphint_pass *pass,
					    unsigned int *nr)
{
	unsigned int n = 0, due;
	unsigned long *next;
	int cpu;

	if (pass->cpu >= 0) {
		unsigned int settled = 2 * fphint_agg_cap - fphint_out_settled;

		if (settled) {
			pass->walk_order = min(fphint_tunable(SETTLED_MIN_ORDER),
					       pass->min_order);
			fphint_out_settled = 2 * fphint_agg_cap;
			*nr = settled;
			return fphint_out + 2 * fphint_agg_cap - settled;
		}
		pass->walk_order = pass->min_order;
		return fphint_scan_next(pass, nr);
	}
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
	fphint_nr_pending = fphint_percpu_sort_quiet(fphint_pending,
						     fphint_nr_pending,
						     fphint_fresh, n,
						     fphint_next, fphint_out,
						     fphint_agg_cap, &due,
						     &fphint_out_settled,
						     fphint_allocator_seen());
	next = fphint_pending;
	fphint_pending = fphint_next;
	fphint_next = next;
	if (!due)
		return fphint_percpu_collect(pass, nr);
	*nr = due;
	return fphint_out;
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
	/* Region history stays: it describes the memory, not the capture. */
	fphint_out_settled = 2 * fphint_agg_cap;
}

/*
 * New buffers for a new capture_batch.  fphint_mutex held, so the worker
 * does not hold a spare buffer.  All or nothing: on -ENOMEM nothing
 * changed.  Captured entries are kept up to the new size.
 */
int fphint_percpu_resize(unsigned int batch)
{
	unsigned long **bufs, *agg[4];
	int cpu, i = 0, a;

	/* pending, fresh, next, and out at twice their size */
	for (a = 0; a < ARRAY_SIZE(agg); a++)
		agg[a] = kvmalloc_array((a == 3 ? 2 : 1) * nr_cpu_ids * batch,
					sizeof(long), GFP_KERNEL);
	bufs = kcalloc(2 * nr_cpu_ids, sizeof(*bufs), GFP_KERNEL);
	if (!bufs || !agg[0] || !agg[1] || !agg[2] || !agg[3]) {
		for (a = 0; a < ARRAY_SIZE(agg); a++)
			kvfree(agg[a]);
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
	swap(agg[2], fphint_next);
	swap(agg[3], fphint_out);
	fphint_agg_cap = nr_cpu_ids * batch;
	fphint_out_settled = 2 * fphint_agg_cap;
	i = 2 * nr_cpu_ids;
nomem:
	/* The old aggregates on success, the new ones on failure. */
	for (a = 0; a < ARRAY_SIZE(agg); a++)
		kvfree(agg[a]);
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
	kvfree(fphint_next);
	kvfree(fphint_out);
	fphint_pending = fphint_fresh = fphint_next = fphint_out = NULL;
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
