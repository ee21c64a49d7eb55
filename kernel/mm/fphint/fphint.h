/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fphint internals shared by core, stages and sysfs.
 *
 * Locking overview:
 *  - fphint_mutex serialises configuration changes with the reporting
 *    worker: a pass runs entirely under it, so a stage or tunable never
 *    changes under a running pass.  Writers raise fphint_abort first so a
 *    long pass (rate limited, slow device) ends at the next batch.
 *  - zone->lock is taken by selection to resolve and isolate, and dropped
 *    around every report.
 *  - the percpu capture buffers have their own per-CPU spinlock, nested
 *    inside zone->lock on the free path and taken alone by the worker.
 */
#ifndef _MM_FPHINT_FPHINT_H
#define _MM_FPHINT_FPHINT_H

#include <linux/fphint.h>
#include <linux/init.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/sched/clock.h>
#include <linux/sizes.h>
#include <uapi/linux/fphint_hypercall.h>

/* Largest report the framework builds; a transport may take fewer. */
#define FPHINT_REPORT_BATCH_MAX		512

/**
 * struct fphint_stage - a named, registered implementation of one stage
 * @name: the name sysfs, netlink and policies select it by
 * @node: entry in its kind's list (fphint_register_stage())
 */
struct fphint_stage {
	const char *name;
	struct list_head node;
};

struct fphint_pass;

/**
 * struct fphint_capture_ops - where candidate free blocks come from
 * @stage: name and registry entry
 * @notify_free: free path, for a block of 2^@order pages at @pfn in @zone
 *	that __free_one_page() finished merging: zone->lock held, interrupts
 *	off; must neither sleep nor allocate.
 * @collect: worker, under fphint_mutex: hand out the next chunk of
 *	candidate pfns for @pass and set *@nr.  The chunk stays valid until
 *	the next call.  Return: the chunk, or NULL when there is none.
 * @flush: optional; forget what was captured (stage switch, disable).
 * @pending: optional; worker, after a pass.  Return: true when captured
 *	work waits for a later pass (which the core then schedules).
 *
 * Implementations: capture-percpu.c, capture-scan.c.
 */
struct fphint_capture_ops {
	struct fphint_stage stage;
	void (*notify_free)(struct zone *zone, unsigned long pfn,
			    unsigned int order);
	unsigned long *(*collect)(struct fphint_pass *pass, unsigned int *nr);
	void (*flush)(void);
	bool (*pending)(void);
};

/**
 * struct fphint_selection_ops - which captured blocks are reported, and how
 * @stage: name and registry entry
 * @select: worker, under fphint_mutex, no other lock: resolve @nr captured
 *	pfns at @pfns (the selection may reorder them) to free blocks and
 *	isolate and report them with the batch helpers of batch.c
 *	(fphint_zone_lock(), fphint_take_region(), fphint_zone_unlock()).
 *	Every block isolated must be put back before it returns.
 *
 * Implementations: selection-zone-sort.c, selection-fifo.c.
 */
struct fphint_selection_ops {
	struct fphint_stage stage;
	void (*select)(struct fphint_pass *pass, unsigned long *pfns,
		       unsigned int nr);
};

/**
 * struct fphint_transport - how selected ranges reach the host
 * @stage: name and registry entry
 * @capacity: most ranges one report may carry
 * @report: hand @nents ranges at @sgl to the host and wait until it is done
 *	with them.  Called without locks (fphint_mutex held); may sleep.
 *	@outcome[i] is FPHINT_SG_KEPT for every range on entry; a transport
 *	sets FPHINT_SG_DISCARDED on the ranges the host discarded, or
 *	FPHINT_SG_DISCARDED_ZERO where the host confirmed the range now
 *	reads back zero (only an @exact transport may say so) (all of
 *	them, for a device that only acknowledges).  Return: 0 when the host
 *	had them, else a negative errno (the batch goes back unreported).
 * @prdev: the page_reporting device behind a device transport, or NULL
 * @to_host: ranges reach a host that should discard them (not null)
 * @take_over: optional; fphint is enabled for the first time
 *	(fphint_mutex held): stop sharing the device with stock
 *	page_reporting, from here on fphint owns PageReported.
 * @select: optional; the admin selects the transport (fphint_mutex held,
 *	may allocate with GFP_KERNEL).  Return: 0, or -ENODEV when the host
 *	does not offer it, -ENOMEM; nothing changes on error.
 * @exact: @report says per range what the host did, so the canary host
 *	check (hostcheck.c) is not needed.
 *
 * Implementations: transport-null.c, transport-virtio.c,
 * transport-hypercall.c.
 */
struct fphint_transport {
	struct fphint_stage stage;
	unsigned int capacity;
	int (*report)(struct fphint_transport *t, struct scatterlist *sgl,
		      unsigned int nents, u8 *outcome);
	struct page_reporting_dev_info *prdev;
	bool to_host;
	void (*take_over)(struct fphint_transport *t);
	int (*select)(struct fphint_transport *t);
	bool exact;
};

/*
 * What became of one range of a report (struct fphint_pass's outcome[]),
 * from the least the guest may assume to the most: a range that several
 * host outcomes cover is the least of them (min()).
 */
enum {
	FPHINT_SG_KEPT,		/* put back unmarked: a later pass may retry */
	FPHINT_SG_DISCARDED,	/* the host discarded it: marked PageReported */
	FPHINT_SG_DISCARDED_ZERO, /* and it reads back zero: also known-zero */
};

/*
 * A host's outcome code, FPHINT_HC_* of <linux/fphint_hypercall.h>, the one
 * vocabulary of the report hypercall's entries and of the virtio status
 * bytes, as FPHINT_SG_*: anything but a discard (a skip, a failure,
 * PENDING left as the guest wrote it, a code this guest does not know)
 * means the host kept the range.
 */
static inline u8 fphint_host_outcome(u8 code)
{
	switch (code) {
	case FPHINT_HC_DISCARDED_ZERO:
		return FPHINT_SG_DISCARDED_ZERO;
	case FPHINT_HC_DISCARDED:
		return FPHINT_SG_DISCARDED;
	default:
		return FPHINT_SG_KEPT;
	}
}

static inline bool fphint_sg_discarded(u8 outcome)
{
	return outcome == FPHINT_SG_DISCARDED ||
	       outcome == FPHINT_SG_DISCARDED_ZERO;
}

/**
 * struct fphint_throttle_ops - when not to take free memory away
 * @stage: name and registry entry
 * @admit: before a batch is isolated in @zone, without locks.  Return: 0
 *	to go on, > 0 to wait that many ms and ask again, < 0 to leave the
 *	zone alone for this pass.
 * @account: optional; @bytes were just reported.
 * @batch_bytes: optional.  Return: the most one report should carry.
 * @reset: optional; the stage was (re)selected or its tunable changed:
 *	start from a clean state.
 *
 * Implementations: throttle-watermark.c, throttle-ratelimit.c,
 * throttle-none.c.
 */
struct fphint_throttle_ops {
	struct fphint_stage stage;
	long (*admit)(struct zone *zone);
	void (*account)(unsigned long bytes);
	unsigned long (*batch_bytes)(void);
	void (*reset)(void);
};

/* One worker pass; only the worker touches it. */
struct fphint_pass {
	struct scatterlist sgl[FPHINT_REPORT_BATCH_MAX];
	u8 outcome[FPHINT_REPORT_BATCH_MAX];	/* FPHINT_SG_*, per range */
	unsigned int nents;		/* isolated, not yet reported */
	unsigned long bytes;		/* in those nents ranges */
	unsigned long bytes_max;	/* report when a batch holds this much */
	unsigned int batch;		/* ranges per report this pass */
	unsigned int min_order;
	unsigned int walk_order;	/* smallest block taken from these entries */
	unsigned long rh_last;		/* region whose report was last noted */
	bool scanning;			/* entries from the free-list scan */
	int cpu;			/* percpu: -1 until collected */
	int zone_cursor;		/* buddy-scan collect cursor */
	bool zone_skipped;		/* throttle turned the zone away */
	bool more;			/* capture has more than it handed out */
	unsigned long reported;		/* pages reported this pass */
	unsigned long marked;		/* of those, marked PageReported */
};

extern struct mutex fphint_mutex;
extern unsigned int fphint_tunables[FPHINT_TUNABLE_NR];
extern const struct fphint_capture_ops *fphint_capture;
extern const struct fphint_selection_ops *fphint_selection;
extern struct fphint_transport *fphint_transport_cur;
extern const struct fphint_throttle_ops *fphint_throttle;
extern atomic_long_t fphint_isolated_now;

#define fphint_tunable(t)	READ_ONCE(fphint_tunables[FPHINT_TUNABLE_##t])

static inline void fphint_count(enum fphint_stat stat, u64 n)
{
	this_cpu_add(fphint_stats.cnt[stat], n);
}

/* Stage registries (core.c). */
enum fphint_kind {
	FPHINT_KIND_CAPTURE,
	FPHINT_KIND_SELECTION,
	FPHINT_KIND_TRANSPORT,
	FPHINT_KIND_THROTTLE,
	FPHINT_KIND_NR,
};
extern const char * const fphint_kind_names[FPHINT_KIND_NR];
void fphint_register_stage(enum fphint_kind kind, struct fphint_stage *s);
void fphint_unregister_stage(enum fphint_kind kind, struct fphint_stage *s);
struct fphint_stage *fphint_find_stage(enum fphint_kind kind,
				       const char *name);
struct fphint_stage *fphint_current_stage(enum fphint_kind kind);
struct list_head *fphint_stage_list(enum fphint_kind kind);
void fphint_stages_read_lock(void);
void fphint_stages_read_unlock(void);

/*
 * A configuration change, from sysfs or netlink: what is left unset stays
 * as it is, unless @policy names a whole policy (see fphint_apply()).
 */
enum fphint_source {
	FPHINT_SRC_DEFAULT,
	FPHINT_SRC_LOCAL,
	FPHINT_SRC_HOST,
};

struct fphint_config {
	int enabled;				/* -1: unset */
	int host_policy;			/* -1: unset */
	enum fphint_source source;		/* who asks: local unless set */
	const char *stage[FPHINT_KIND_NR];	/* NULL: unset */
	unsigned long tunable[FPHINT_TUNABLE_NR];
	DECLARE_BITMAP(tunable_set, FPHINT_TUNABLE_NR);
	const char *policy;			/* NULL: not a policy */
	/* Set by fphint_apply() on error: the stage kind or tunable at fault. */
	int bad_stage;
	int bad_tunable;
};

/* Configuration (core.c): 0 or -errno, and nothing changed on error. */
void fphint_config_init(struct fphint_config *cfg);
int fphint_apply(struct fphint_config *cfg);
bool fphint_is_enabled(void);
bool fphint_host_policy_allowed(void);
const char *fphint_policy_source(void);
void fphint_policy_name(char *buf, size_t size);
bool fphint_policy_name_valid(const char *name);
u64 fphint_stat_sum(enum fphint_stat stat);

/* This zone's figures (struct fphint_zone_stats, <linux/fphint.h>). */
static inline struct fphint_zone_stats *fphint_zs(struct zone *zone)
{
	return &fphint_zstats[fphint_zone_id(zone)];
}

/*
 * zone->lock, as fphint takes it (process context, interrupts on): every
 * hold is added to stats/zone_lock_ns, the time allocations and frees of
 * the zone may have waited on fphint.  The start time lives in the zone's
 * figures, under the lock it times.
 */
static inline void fphint_zone_lock_timed(struct zone *zone)
{
	spin_lock_irq(&zone->lock);
	fphint_zs(zone)->locked_at = local_clock();
}

static inline void fphint_zone_unlock_timed(struct zone *zone)
{
	fphint_count(FPHINT_STAT_ZONE_LOCK_NS,
		     local_clock() - fphint_zs(zone)->locked_at);
	spin_unlock_irq(&zone->lock);
}

/* Generic netlink (netlink.c): events, sent from process context. */
#ifdef CONFIG_NET
void fphint_nl_notify_config(void);
void fphint_nl_notify_throttle(bool throttled, const char *reason,
			       struct zone *zone);
#else
static inline void fphint_nl_notify_config(void) { }
static inline void fphint_nl_notify_throttle(bool throttled, const char *reason,
					     struct zone *zone) { }
#endif
void fphint_config_lock(void);
void fphint_config_unlock(void);

/* Worker (core.c). */
void fphint_kick(bool now);
void fphint_kick_soon(void);
unsigned int fphint_delay_now_ms(void);
bool fphint_pass_stop(struct fphint_pass *pass);
bool fphint_pass_wait(unsigned int ms);
void fphint_note_unsent(void);
bool fphint_owns_reporting(void);
bool __fphint_register_stage(enum fphint_kind kind, struct fphint_stage *s);
bool __fphint_unregister_stage(enum fphint_kind kind, struct fphint_stage *s);
bool __fphint_transport_offered(struct fphint_stage *s, bool offered);
bool __fphint_transport_wanted(struct fphint_stage *s);

/*
 * Batch mechanics every selection uses (batch.c): isolate free blocks into
 * the pass's batch under zone->lock, report it with the lock dropped, put
 * it back and mark what the host discarded.
 */
bool fphint_zone_lock(struct fphint_pass *pass, struct zone *zone);
void fphint_zone_unlock(struct fphint_pass *pass, struct zone *zone);
void fphint_zone_relax(struct zone *zone);
unsigned long fphint_take(struct fphint_pass *pass, struct zone *zone,
			  unsigned long pfn);
unsigned long fphint_take_region(struct fphint_pass *pass, struct zone *zone,
				 unsigned long start);

/*
 * Capture records regions, not blocks: the MAX_ORDER-aligned span (4 MiB
 * on x86) a freed block lies in, as the pfn of its first page.  A burst of
 * frees in one region is one entry however it merges, and selection finds
 * every free block of the region when it walks it.
 */
#define FPHINT_REGION_ORDER	(MAX_ORDER - 1)
#define FPHINT_REGION_PAGES	(1UL << FPHINT_REGION_ORDER)
static inline unsigned long fphint_region(unsigned long pfn)
{
	return pfn & ~(FPHINT_REGION_PAGES - 1);
}

/*
 * Region history (region.c): one word per region, the jiffies of its last
 * report above FPHINT_RH_TIME_SHIFT and below it its heat and flags.
 */
#define FPHINT_RH_HEAT_MAX	3
#define FPHINT_RH_VERDICT	BIT(2)	/* reported; not allocated since */
#define FPHINT_RH_SMALL		BIT(3)	/* blocks below min_order freed into it */
#define FPHINT_RH_WHOLE		BIT(4)	/* became one free block */
#define FPHINT_RH_TIME_SHIFT	5
#define FPHINT_RH_FLAGS		((u32)BIT(FPHINT_RH_TIME_SHIFT) - 1)
/* Reported memory allocated again this soon was churn. */
#define FPHINT_CHURN_WINDOW_MS	2000
/*
 * A region freed whole after it stayed allocated this long is not being
 * recycled: it is reported at the next tick, not after the report delay.
 * Churn's memory lives a few report delays at most (under TCG about 0.2 s
 * for the bench's 64 MiB mmap/touch/munmap); a job's, seconds and more.
 */
#define FPHINT_SETTLED_LIFE_MS	1000
/*
 * Quiet passes before small blocks are reported (settled_min_order) while
 * the allocator is taking memory; one while it is not.
 */
#define FPHINT_SETTLE_PASSES	4
/*
 * The allocator is "taking" memory (region.c) when it took at least this
 * many pages from the free lists within a pass delay, 2 MiB, and at least
 * half of what was freed meanwhile.
 */
#define FPHINT_TAKING_MIN_PAGES	(SZ_2M >> PAGE_SHIFT)
/* Windows that saw the allocator busy but not taking before it is not. */
#define FPHINT_TAKING_LAPSE	2
static inline unsigned int fphint_rh_heat(u32 w)
{
	return w & 3;
}
u32 fphint_rh_reused(u32 w, u32 now);
u32 fphint_rh_reported(u32 w, u32 now);
unsigned int fphint_rh_hold(u32 w, bool taking);
unsigned int fphint_rh_settle(u32 w, bool taking);
bool fphint_rh_lived(u32 taken, u32 now);
bool fphint_region_lived(unsigned long pfn);
/* What one window of the allocator's activity says (fphint_window_verdict()). */
enum fphint_window {
	FPHINT_WINDOW_IDLE,		/* nothing to go by */
	FPHINT_WINDOW_TAKING,
	FPHINT_WINDOW_NOT_TAKING,
};
enum fphint_window fphint_window_verdict(unsigned long taken, long freed,
					 unsigned int window_ms);
/* What the allocator did lately, for capture's waits (fphint_allocator_seen()). */
#define FPHINT_ALLOC_SPLITTING	BIT(0)	/* split a pageblock-order block lately */
#define FPHINT_ALLOC_TAKING	BIT(1)	/* recycling what is freed, now */
unsigned int fphint_allocator_seen(void);
u32 fphint_region_freed(unsigned long pfn, unsigned int order, bool small);
void fphint_region_reported(struct fphint_pass *pass, unsigned long pfn);
u32 fphint_region_word(unsigned long region);
void fphint_region_walked(unsigned long region, unsigned int order);
int fphint_region_init(void);
void fphint_region_exit(void);

/* Capture percpu (capture-percpu.c): its buffers, sized by capture_batch. */
int fphint_percpu_init(void);
void fphint_percpu_exit(void);
int fphint_percpu_resize(unsigned int batch);
#define FPHINT_SEEN_SLOTS	64

/*
 * Capture buddy-scan (capture-scan.c), also the free-list scan that any
 * capture can ask for: fphint_capture_rescan() has the next pass scan the
 * free lists for every unreported block; a capture's collect() continues
 * or starts that scan with fphint_scan_next().
 */
void fphint_capture_rescan(void);
bool fphint_scan_requested(void);
unsigned long *fphint_scan_next(struct fphint_pass *pass, unsigned int *nr);

/* Selection helper (selection-common.c). */
unsigned int fphint_sort_unique(unsigned long *pfns, unsigned int nr);

/* Throttle and backoff arithmetic (throttle-math.c), pure so KUnit can drive it. */
#define FPHINT_BACKOFF_MAX		5
/* A host that keeps what it acknowledges: see fphint_void_step(). */
#define FPHINT_VOID_STRIKES		4
#define FPHINT_VOID_MAX			6
unsigned int fphint_void_step(unsigned int level, unsigned int *strikes,
			      bool skipped);
/* Churn evidence: a host huge page came back; see fphint_backoff_step(). */
#define FPHINT_CHURN_MIN_PAGES		(SZ_2M >> PAGE_SHIFT)
/* Evidence of no churn: this much reported, under 1/16 of it churned. */
#define FPHINT_CLEAN_MIN_PAGES		(SZ_4M >> PAGE_SHIFT)
/* Pages capture reported and pages that churned: this churn window, the last. */
struct fphint_churn_window {
	unsigned long start;		/* jiffies: the current window began */
	unsigned long last;		/* jiffies: the last step */
	unsigned long reported[2];
	unsigned long churned[2];
};
unsigned int fphint_backoff_step(struct fphint_churn_window *cw,
				 unsigned int level, unsigned long now,
				 unsigned long reported, unsigned long churned,
				 long grew);
bool fphint_hysteresis(bool was, unsigned long val, unsigned long floor,
		       unsigned long hyst);
struct fphint_bucket {
	s64 tokens;		/* bytes; negative after a burst */
	u64 last_ns;
};
long fphint_bucket_wait_ms(struct fphint_bucket *b, u64 now_ns, u64 rate);
void fphint_bucket_charge(struct fphint_bucket *b, u64 bytes);

/* Throttle watermark (throttle-watermark.c), which ratelimit builds on. */
long fphint_wmark_admit(struct zone *zone);
void fphint_wmark_reset(void);

/* Host discard check (hostcheck.c); fphint_mutex held. */
struct page *fphint_hostcheck_prepare(struct fphint_transport *t,
				      struct fphint_pass *pass, u32 seq);
bool fphint_hostcheck_verdict(struct fphint_transport *t, struct page *page);
unsigned int fphint_hostcheck_level(void);

/* Known-zero blocks (known-zero.c). */
void fphint_known_zero_init(void);
bool fphint_known_zero_usable(void);
void fphint_known_zero_forget(void);

/* Fault injection (fault.c), CONFIG_FPHINT_FAULT_INJECTION. */
#ifdef CONFIG_FPHINT_FAULT_INJECTION
int fphint_fault_inject(u32 seq, unsigned int *late_ms, bool *fake_zero);
unsigned int fphint_fault_backoff(unsigned int level);
int fphint_fault_init_step(unsigned int step);
void fphint_fault_debugfs(void);
#else
static inline int fphint_fault_inject(u32 seq, unsigned int *late_ms,
				      bool *fake_zero)
{
	*late_ms = 0;
	*fake_zero = false;
	return 0;
}

static inline unsigned int fphint_fault_backoff(unsigned int level)
{
	return level;
}

static inline int fphint_fault_init_step(unsigned int step)
{
	return 0;
}

static inline void fphint_fault_debugfs(void) { }
#endif

/* The raw report hypercall in debugfs, for the bad-input sweep. */
struct dentry;
#if defined(CONFIG_FPHINT_FAULT_INJECTION) && defined(CONFIG_FPHINT_HYPERCALL)
void fphint_hc_debugfs(struct dentry *dir);
#else
static inline void fphint_hc_debugfs(struct dentry *dir) { }
#endif

/*
 * Transport virtio with VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS
 * (transport-virtio.c): the host's status bytes as outcomes, pure so that
 * KUnit can drive it; the codes seen, in debugfs.
 */
void fphint_status_outcomes(const u8 *status, struct scatterlist *sgl,
			    unsigned int nents, u8 *outcome,
			    unsigned long *discarded, unsigned long *skipped);
#ifdef CONFIG_FPHINT_FAULT_INJECTION
void fphint_virtio_debugfs(struct dentry *dir);
#else
static inline void fphint_virtio_debugfs(struct dentry *dir) { }
#endif

/*
 * Stages register themselves (postcore_initcall, before fphint_init()); the
 * first of each kind in link order (Makefile) is the default.
 * fphint_stage_initcall(FPHINT_KIND_CAPTURE, fphint_capture_percpu)
 * registers the ops structure fphint_capture_percpu.
 */
#define fphint_stage_initcall(kind, ops)				\
	static int __init ops##_register(void)				\
	{								\
		fphint_register_stage(kind, &(ops).stage);		\
		return 0;						\
	}								\
	postcore_initcall(ops##_register)
int fphint_sysfs_init(void);

/*
 * Transport hypercall (transport-hypercall.c): a report becomes report
 * page entries, pure so that KUnit can drive it.  A position in a batch:
 * range @sg, @done pages of it already in entries.
 */
struct fphint_hc_pos {
	unsigned int sg;
	unsigned long done;
};
unsigned int fphint_hc_fill(struct scatterlist *sgl, unsigned int nents,
			    struct fphint_hc_pos *pos, __le64 *ent,
			    u16 *first, u16 *last, unsigned int max);
void fphint_hc_outcomes(const __le64 *ent, const u16 *first, const u16 *last,
			unsigned int n, u8 *outcome, unsigned long *discarded,
			unsigned long *skipped);

#endif /* _MM_FPHINT_FPHINT_H */
