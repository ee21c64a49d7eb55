/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fphint: guest free page hinting framework.
 *
 * The page allocator tells fphint about every block it finishes merging
 * (fphint_notify_free()); fphint selects free ranges, hands them to a
 * transport (the hypervisor discards them) and puts them back marked
 * PageReported.  See Documentation/mm/fphint.rst.
 */
#ifndef _LINUX_FPHINT_H
#define _LINUX_FPHINT_H

#include <linux/jump_label.h>
#include <linux/mmzone.h>
#include <linux/page-isolation.h>
#include <linux/page_reporting.h>
#include <linux/percpu.h>
#include <uapi/linux/fphint.h>

#ifdef CONFIG_FPHINT
/**
 * struct fphint_stats - fphint's counters, per CPU
 * @cnt: indexed by enum fphint_stat; summed for /sys/kernel/mm/fphint/stats/
 */
struct fphint_stats {
	u64 cnt[FPHINT_STAT_NR];
};
DECLARE_PER_CPU(struct fphint_stats, fphint_stats);
/* Pages the allocator took from the free lists (fphint_allocator_seen()). */
DECLARE_PER_CPU(unsigned long, fphint_taken_pages);
/* On while fphint is enabled: the free path hooks below do something. */
DECLARE_STATIC_KEY_FALSE(fphint_free_hook);
/* The tunables, indexed by enum fphint_tunable; written under fphint's config lock. */
extern unsigned int fphint_tunables[FPHINT_TUNABLE_NR];

/**
 * struct fphint_zone_stats - per-zone figures
 * @reported_free: free pages fphint marked reported, i.e. what the host
 *	has already discarded of the zone's free memory; changed under
 *	zone->lock, counted from when fphint owns PageReported (the key
 *	never goes off again)
 * @reported_pages: pages reported from the zone
 * @reports: reports that carried the zone's pages
 * @throttled: times a batch in the zone was held back
 * @locked_at: local_clock() when fphint last took zone->lock; read and
 *	written under that lock (fphint_zone_lock_timed())
 *
 * Indexed by fphint_zone_id(), allocated by fphint_init().  The counters
 * are written by the reporting worker only.
 */
struct fphint_zone_stats {
	unsigned long reported_free;
	u64 reported_pages;
	u64 reports;
	u64 throttled;
	u64 locked_at;
};
DECLARE_STATIC_KEY_FALSE(fphint_reported_free_key);
extern struct fphint_zone_stats *fphint_zstats;

/**
 * fphint_zone_id - index of @zone in fphint_zstats
 * @zone: a zone
 *
 * Return: node id * MAX_NR_ZONES + zone index.
 */
static inline unsigned int fphint_zone_id(struct zone *zone)
{
	return zone_to_nid(zone) * MAX_NR_ZONES + zone_idx(zone);
}

/* The capture stage's side of fphint_notify_free(). */
void __fphint_notify_free(struct zone *zone, unsigned long pfn,
			  unsigned int order);

/**
 * fphint_notify_free - a block of 2^@order pages at @pfn is now free
 * @zone: its zone
 * @pfn: its first page
 * @order: its order, after merging
 * @mt: its migratetype (isolated and CMA blocks are ignored)
 *
 * Called by __free_one_page() after merging, with @zone->lock held and
 * interrupts off.  Never sleeps, never allocates.  Pages put back by a
 * reporter (FPI_SKIP_REPORT_NOTIFY) are not passed here.
 *
 * Return: nothing.
 */
static __always_inline void fphint_notify_free(struct zone *zone,
					       unsigned long pfn,
					       unsigned int order, int mt)
{
	if (!static_branch_unlikely(&fphint_free_hook))
		return;
	/* Isolated and CMA blocks are not ours to take. */
	if (unlikely(is_migrate_isolate(mt) || is_migrate_cma(mt)))
		return;
	if (order < READ_ONCE(fphint_tunables[FPHINT_TUNABLE_MIN_ORDER])) {
		this_cpu_inc(fphint_stats.cnt[FPHINT_STAT_BELOW_ORDER]);
		/* Reported once settled, if at all (settled_min_order). */
		if (order < READ_ONCE(fphint_tunables[FPHINT_TUNABLE_SETTLED_MIN_ORDER]))
			return;
	}
	__fphint_notify_free(zone, pfn, order);
}

/*
 * Region history (mm/fphint/region.c): reported memory taken again, and a
 * block of pageblock_order or more taken (a whole region's memory starts
 * its life).
 */
void __fphint_region_reused(unsigned long pfn, unsigned int order);
void __fphint_region_taken(unsigned long pfn, unsigned int order);

/**
 * fphint_note_alloc - the allocator is taking the free block @page
 * @page: head of the block
 * @order: its order
 *
 * Called by __rmqueue_smallest() with zone->lock held.  Counts reported
 * memory handed out again: the refaults hinting costs the host, and the
 * signal fphint backs off on, globally and for the block's region, and
 * every take, for whether the allocator is taking memory at all.  A
 * block of pageblock_order or more taken starts its region's clock that
 * tells, when the region is freed whole again, memory that was in use
 * from memory being recycled, and says the allocator has run out of
 * smaller ones (fphint_allocator_splitting()).
 *
 * Return: nothing.
 */
static __always_inline void fphint_note_alloc(struct page *page,
					      unsigned int order)
{
	if (!static_branch_unlikely(&fphint_free_hook))
		return;
	this_cpu_add(fphint_taken_pages, 1UL << order);
	if (PageReported(page)) {
		this_cpu_add(fphint_stats.cnt[FPHINT_STAT_REUSED_PAGES], 1UL << order);
		__fphint_region_reused(page_to_pfn(page), order);
	}
	if (order >= pageblock_order)
		__fphint_region_taken(page_to_pfn(page), order);
}

/**
 * fphint_note_unreported - a reported block leaves the free lists
 * @zone: its zone; zone->lock held
 * @order: its order
 *
 * Called by del_page_from_free_list() for a PageReported block that is
 * allocated, merged or isolated: @zone's reported_free drops by 2^@order.
 *
 * Return: nothing.
 */
static __always_inline void fphint_note_unreported(struct zone *zone,
						   unsigned int order)
{
	if (static_branch_unlikely(&fphint_reported_free_key))
		fphint_zstats[fphint_zone_id(zone)].reported_free -= 1UL << order;
}

DECLARE_STATIC_KEY_FALSE(fphint_known_zero_key);

/**
 * fphint_known_zero - is the free block @page known to read zero?
 * @page: head of a free block, zone->lock held
 *
 * Return: true when the host confirmed it discarded the block and it
 * reads back zero (PG_known_zero; see mm/fphint/known-zero.c), and
 * known_zero is on: switched off, no mark is passed on.
 */
static __always_inline bool fphint_known_zero(struct page *page)
{
	return static_branch_unlikely(&fphint_known_zero_key) &&
	       PageKnownZero(page) &&
	       READ_ONCE(fphint_tunables[FPHINT_TUNABLE_KNOWN_ZERO]);
}

/**
 * fphint_forget_zero - @page's free block is no longer known to be zero
 * @page: head of a free block leaving the free lists, or merging
 *
 * Return: nothing.
 */
static __always_inline void fphint_forget_zero(struct page *page)
{
	if (static_branch_unlikely(&fphint_known_zero_key))
		__ClearPageKnownZero(page);
}

void fphint_known_zero_split(struct zone *zone, struct page *page,
			     unsigned int low, unsigned int high);
void fphint_putback_known_zero(struct page *page, unsigned int order, int mt);
bool __fphint_take_known_zero(struct page *page, unsigned int order,
			      bool init);

/**
 * fphint_take_known_zero - post_alloc_hook() hands out 2^@order pages
 * @page: the head
 * @order: the order
 * @init: the allocation wants them zeroed
 *
 * Takes the known-zero mark off @page, whatever the allocation wants.
 *
 * Return: true when @page was known to be zero and zeroing it may be
 * skipped.
 */
static __always_inline bool fphint_take_known_zero(struct page *page,
						   unsigned int order,
						   bool init)
{
	/* Off or not, the flag never stays on a page in use. */
	if (!static_branch_unlikely(&fphint_known_zero_key) ||
	    !PageKnownZero(page))
		return false;
	__ClearPageKnownZero(page);
	return __fphint_take_known_zero(page, order, init);
}

/**
 * fphint_register_reporting_dev - register a free page reporting device
 * @prdev: the device, as page_reporting_register() takes it
 * @name: transport name the device appears under (e.g. "virtio")
 * @capacity: most ranges one report may carry
 *
 * Reporting devices (virtio-balloon) call this instead of
 * page_reporting_register(), once the device can take reports.  The device
 * becomes the fphint transport @name.  Until fphint is first enabled (a
 * boot with fphint.enabled=0) it is also handed to the stock page_reporting
 * code, which keeps it until fphint is enabled at runtime.  One device at a
 * time, like page_reporting.
 *
 * Return: 0, -EBUSY when a device is already registered, or another -errno.
 */
int fphint_register_reporting_dev(struct page_reporting_dev_info *prdev,
				  const char *name, unsigned int capacity);
/**
 * fphint_register_reporting_dev_status - register a reporting device whose
 *	host says what it did with each range
 * @prdev: as for fphint_register_reporting_dev()
 * @name: as for fphint_register_reporting_dev()
 * @capacity: as for fphint_register_reporting_dev()
 * @status: @capacity bytes the device leaves, after each successful
 *	@prdev->report(), one FPHINT_HC_* code (<linux/fphint_hypercall.h>)
 *	per range: set to FPHINT_HC_PENDING before the report, written by
 *	the host.  NULL: the host only acknowledges (as
 *	fphint_register_reporting_dev()).  It must stay valid until
 *	fphint_unregister_reporting_dev() returns.
 *
 * virtio-balloon passes its status buffer when it negotiated
 * VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS: the transport is then exact.
 *
 * Return: as fphint_register_reporting_dev().
 */
int fphint_register_reporting_dev_status(struct page_reporting_dev_info *prdev,
					 const char *name, unsigned int capacity,
					 const u8 *status);
/**
 * fphint_unregister_reporting_dev - the device goes away
 * @prdev: as registered; a device never registered is ignored
 *
 * Stops a pass at its next batch and waits for the report in flight; on
 * return fphint no longer uses @prdev.
 *
 * Return: nothing.
 */
void fphint_unregister_reporting_dev(struct page_reporting_dev_info *prdev);
/**
 * fphint_apply_host_policy - apply configuration text from the host
 * @text: lines of "key=value", not NUL-terminated; printable ASCII only
 * @len: bytes of @text
 *
 * Context: process context, may sleep.
 * Return: 0 when applied; -EPERM when the guest does not take policy from
 * the host (host_policy 0); -EINVAL for an unknown or repeated key, a bad
 * value, a value out of range or bytes that are not text; -ERANGE for a
 * number that does not fit.  Nothing changes on error.
 */
int fphint_apply_host_policy(const char *text, size_t len);
#else
static inline void fphint_notify_free(struct zone *zone, unsigned long pfn,
				      unsigned int order, int mt) { }
static inline void fphint_note_alloc(struct page *page, unsigned int order) { }
static inline void fphint_note_unreported(struct zone *zone, unsigned int order) { }
static inline bool fphint_known_zero(struct page *page) { return false; }
static inline void fphint_forget_zero(struct page *page) { }
static inline void fphint_known_zero_split(struct zone *zone, struct page *page,
					   unsigned int low, unsigned int high) { }
static inline bool fphint_take_known_zero(struct page *page, unsigned int order,
					  bool init)
{
	return false;
}
static inline int
fphint_register_reporting_dev(struct page_reporting_dev_info *prdev,
			      const char *name, unsigned int capacity)
{
	return page_reporting_register(prdev);
}
static inline int
fphint_register_reporting_dev_status(struct page_reporting_dev_info *prdev,
				     const char *name, unsigned int capacity,
				     const u8 *status)
{
	return page_reporting_register(prdev);
}
static inline void
fphint_unregister_reporting_dev(struct page_reporting_dev_info *prdev)
{
	page_reporting_unregister(prdev);
}
static inline int fphint_apply_host_policy(const char *text, size_t len)
{
	return -EOPNOTSUPP;
}
#endif

#ifdef CONFIG_FPHINT_HYPERCALL
/**
 * fphint_hypercall_offer - the host routes the report hypercall, or no more
 * @owner: the device that negotiated it (the same pointer at remove)
 * @offered: true at probe, false at remove
 *
 * virtio-balloon calls this when it negotiated
 * VIRTIO_BALLOON_F_FPHINT_HYPERCALL: from then on the transport
 * "hypercall" can be selected; when the device goes, a hypercall
 * transport in use falls back to null.
 *
 * Context: process context, may sleep.
 * Return: nothing.
 */
void fphint_hypercall_offer(void *owner, bool offered);
#else
static inline void fphint_hypercall_offer(void *owner, bool offered) { }
#endif

#ifdef CONFIG_FPHINT_FAULT_INJECTION
/**
 * fphint_fault_status_short - fault injection: send a request's status
 *	buffer (VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS) a byte short?
 *
 * Return: true when debugfs fphint/status_short_every_n_requests picks
 * this request.
 */
bool fphint_fault_status_short(void);
#else
static inline bool fphint_fault_status_short(void)
{
	return false;
}
#endif

#endif /* _LINUX_FPHINT_H */
