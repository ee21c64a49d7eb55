// SPDX-License-Identifier: GPL-2.0
/*
 * fphint known-zero pages: memory the host confirmed discarded is handed
 * out without being zeroed a second time.
 *
 * A transport that says per range what the host did (struct
 * fphint_transport's @exact) may report FPHINT_SG_DISCARDED_ZERO: the
 * host discarded the range in a way that makes it read back zero
 * (MADV_DONTNEED of private anonymous memory).  fphint_putback() then
 * puts each piece of the range back PG_known_zero
 * (fphint_putback_known_zero()), and post_alloc_hook() skips the zeroing
 * that __GFP_ZERO or init_on_alloc asks for when it hands such a block
 * out.
 *
 * The mark means "every byte of this free block is zero", so it lives
 * only on the head of a free block, and everything that could make it a
 * lie drops it:
 *  - __free_one_page() keeps it on a merged block only when both halves
 *    had it;
 *  - del_page_from_free_list() clears it: a block isolated (compaction,
 *    page isolation for alloc_contig_range() and memory offlining,
 *    fphint's own next report, memory failure) or split by
 *    split_free_page() is no longer known-zero;
 *  - __rmqueue_smallest() is the exception, the allocator taking it:
 *    it keeps the mark on the block handed out and on the halves
 *    expand() puts back (halves of a zero block are zero), see
 *    fphint_known_zero_split();
 *  - a pcp list may hold a marked page; drained back unallocated it
 *    goes back known-zero (free_pcppages_bulk());
 *  - post_alloc_hook() takes the mark off every block it hands out,
 *    zeroing or not, and freeing clears all flags, so a mark never
 *    survives an allocation;
 *  - nothing is marked while init_on_free (free pages are zeroed by the
 *    guest already, nothing to skip) or page poisoning (the allocator
 *    expects the poison pattern, not zeros) is on, nor for a canary
 *    report (hostcheck.c), nor for a transport that only acknowledges.
 *
 * Locking: marks are set and cleared under zone->lock on free blocks,
 * and taken in post_alloc_hook() on a page nobody else holds.
 *
 * With CONFIG_FPHINT_KNOWN_ZERO_VERIFY (fphint.verify_known_zero=) every
 * marked block is read with memchr_inv() when it is handed out; a block
 * that is not zero is counted in known_zero_mismatches, reported, and
 * zeroed as if it had never been marked.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/suspend.h>
#include <linux/string.h>

#include "fphint.h"

/* On once fphint may mark blocks: from its first enable, never off. */
DEFINE_STATIC_KEY_FALSE(fphint_known_zero_key);
static DEFINE_STATIC_KEY_MAYBE(CONFIG_FPHINT_KNOWN_ZERO_VERIFY,
			       fphint_verify_zero_key);
static bool fphint_verify_zero __initdata =
	IS_ENABLED(CONFIG_FPHINT_KNOWN_ZERO_VERIFY);

static int __init fphint_setup_verify_zero(char *s)
{
	if (kstrtobool(s, &fphint_verify_zero))
		pr_warn("ignoring invalid fphint.verify_known_zero=%s\n", s);
	return 1;
}
__setup("fphint.verify_known_zero=", fphint_setup_verify_zero);

/**
 * fphint_known_zero_forget - no free block is known-zero any more
 *
 * With known_zero 0 (fphint_known_zero() false) no mark is passed on: the
 * walk clears every free block's, then the pcp lists are drained, which
 * drops theirs.  Process context, may sleep.
 *
 * Return: nothing.
 */
void fphint_known_zero_forget(void)
{
	struct zone *zone;
	struct page *page;
	unsigned int order;
	int mt;

	if (!static_branch_unlikely(&fphint_known_zero_key))
		return;
	for_each_populated_zone(zone) {
		fphint_zone_lock_timed(zone);
		for (order = 0; order < MAX_ORDER; order++)
			for (mt = 0; mt < MIGRATE_TYPES; mt++)
				list_for_each_entry(page,
					&zone->free_area[order].free_list[mt],
					buddy_list)
					__ClearPageKnownZero(page);
		fphint_zone_unlock_timed(zone);
	}
	drain_all_pages(NULL);
}

#ifdef CONFIG_HIBERNATION
/*
 * After a resume from hibernation the image's free pages hold whatever
 * the restore kernel left in them: no free block is known to be zero.
 */
static int fphint_known_zero_pm(struct notifier_block *nb,
				unsigned long action, void *data)
{
	unsigned int was;

	if (action != PM_POST_HIBERNATION && action != PM_POST_RESTORE)
		return NOTIFY_DONE;
	fphint_config_lock();
	was = fphint_tunables[FPHINT_TUNABLE_KNOWN_ZERO];
	WRITE_ONCE(fphint_tunables[FPHINT_TUNABLE_KNOWN_ZERO], 0);
	fphint_known_zero_forget();
	WRITE_ONCE(fphint_tunables[FPHINT_TUNABLE_KNOWN_ZERO], was);
	fphint_config_unlock();
	return NOTIFY_DONE;
}

static struct notifier_block fphint_known_zero_pm_nb = {
	.notifier_call = fphint_known_zero_pm,
};
#endif

/* fphint_init(), before anything is marked. */
void __init fphint_known_zero_init(void)
{
#ifdef CONFIG_HIBERNATION
	register_pm_notifier(&fphint_known_zero_pm_nb);
#endif
	if (fphint_verify_zero != IS_ENABLED(CONFIG_FPHINT_KNOWN_ZERO_VERIFY)) {
		if (fphint_verify_zero)
			static_branch_enable(&fphint_verify_zero_key);
		else
			static_branch_disable(&fphint_verify_zero_key);
	}
	if (fphint_verify_zero)
		pr_info("known-zero blocks are verified when handed out\n");
}

/**
 * fphint_known_zero_usable - may blocks the host zeroed be marked now?
 *
 * Return: true while known_zero is on and the guest neither zeroes
 * (init_on_free) nor poisons free pages.
 */
bool fphint_known_zero_usable(void)
{
	return fphint_tunable(KNOWN_ZERO) && !want_init_on_free() &&
	       !page_poisoning_enabled_static();
}

/**
 * fphint_known_zero_split - the allocator split a known-zero block
 * @zone: its zone, lock held
 * @page: head of the block, of order @high, now the allocated piece
 * @low: order of the piece allocated
 * @high: order of the block
 *
 * Called by __rmqueue_smallest() after expand() put the upper halves
 * back on the free lists: every piece of a zero block is zero, the piece
 * handed out (marked until post_alloc_hook() takes it) as much as the
 * halves.  A half that became a debug_pagealloc guard page is not free,
 * and stays unmarked.
 *
 * Return: nothing.
 */
void fphint_known_zero_split(struct zone *zone, struct page *page,
			     unsigned int low, unsigned int high)
{
	unsigned long size = 1UL << high;

	lockdep_assert_held(&zone->lock);
	__SetPageKnownZero(page);
	while (high > low) {
		high--;
		size >>= 1;
		if (PageBuddy(&page[size]))
			__SetPageKnownZero(&page[size]);
	}
}

/* Every byte of the 2^@order pages at @page is zero; else counted and told. */
static bool fphint_verify_zero_block(struct page *page, unsigned int order)
{
	unsigned long i, bad = 0;
	long first = -1;

	for (i = 0; i < (1UL << order); i++) {
		void *addr = kmap_local_page(page + i);
		u8 *nz = memchr_inv(addr, 0, PAGE_SIZE);

		if (nz && !bad++)
			first = nz - (u8 *)addr;
		kunmap_local(addr);
	}
	fphint_count(FPHINT_STAT_KNOWN_ZERO_CHECKED_PAGES, 1UL << order);
	if (!bad)
		return true;
	fphint_count(FPHINT_STAT_KNOWN_ZERO_MISMATCHES, bad);
	pr_warn_ratelimited("known-zero block at pfn %#lx (order %u): %lu page(s) not zero, first at byte %ld; the host kept what it said it discarded\n",
			    page_to_pfn(page), order, bad, first);
	return false;
}

/**
 * __fphint_take_known_zero - post_alloc_hook() hands out a marked block
 * @page: its head, the mark already taken off
 * @order: its order
 * @init: the allocation asks for zeroed memory
 *
 * Return: true when the zeroing can be skipped: @init, known_zero on, and
 * (in verification mode, which checks every block handed out while
 * known_zero is on) every byte found zero.
 */
bool __fphint_take_known_zero(struct page *page, unsigned int order, bool init)
{
	/* Switched off: the mark is not relied on, nor checked. */
	if (!fphint_tunable(KNOWN_ZERO))
		return false;
	if (static_branch_unlikely(&fphint_verify_zero_key) &&
	    !fphint_verify_zero_block(page, order))
		return false;
	if (!init)
		return false;
	fphint_count(FPHINT_STAT_ZEROING_SKIPPED_PAGES, 1UL << order);
	return true;
}
