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
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>

/* Largest report the framework builds; a transport may take fewer. */
#define FPHINT_REPORT_BATCH_MAX		256

/* A named, registered implementation of one stage. */
struct fphint_stage {
	const char *name;
	struct list_head node;
};

struct fphint_pass;

struct fphint_capture_ops {
	struct fphint_stage stage;
	/* Free path: zone->lock held, interrupts off; never sleeps. */
	void (*notify_free)(struct zone *zone, unsigned long pfn,
			    unsigned int order);
	/*
	 * Worker: hand out the next chunk of candidate pfns for this pass,
	 * or NULL when there is none.  The chunk stays valid until the next
	 * call.
	 */
	unsigned long *(*collect)(struct fphint_pass *pass, unsigned int *nr);
	/* Forget what was captured (stage switch, disable). */
	void (*flush)(void);
	/* Worker, after a pass: captured work waits for a later pass. */
	bool (*pending)(void);
};

struct fphint_selection_ops {
	struct fphint_stage stage;
	void (*select)(struct fphint_pass *pass, unsigned long *pfns,
		       unsigned int nr);
};

struct fphint_transport {
	struct fphint_stage stage;
	/* Most ranges one report may carry. */
	unsigned int capacity;
	/*
	 * Hand @nents ranges to the host and wait until it is done with
	 * them.  Called without locks, may sleep.  0 means the host had them.
	 */
	int (*report)(struct fphint_transport *t, struct scatterlist *sgl,
		      unsigned int nents);
	struct page_reporting_dev_info *prdev;
	/* Ranges reach a host that should discard them (not null). */
	bool to_host;
};

struct fphint_throttle_ops {
	struct fphint_stage stage;
	/*
	 * Before a batch is isolated in @zone, without locks: 0 to go on,
	 * > 0 to wait that many ms and ask again, < 0 to leave the zone
	 * alone for this pass.
	 */
	long (*admit)(struct zone *zone);
	/* @bytes were just reported. */
	void (*account)(unsigned long bytes);
	/* Optional: the most one report should carry. */
	unsigned long (*batch_bytes)(void);
	/* Stage (re)selected: start from a clean state. */
	void (*reset)(void);
};

/* One worker pass; only the worker touches it. */
struct fphint_pass {
	struct scatterlist sgl[FPHINT_REPORT_BATCH_MAX];
	unsigned int nents;		/* isolated, not yet reported */
	unsigned long bytes;		/* in those nents ranges */
	unsigned long bytes_max;	/* report when a batch holds this much */
	unsigned int batch;		/* ranges per report this pass */
	unsigned int min_order;
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

static inline void fphint_count(enum fphint_stat stat, unsigned long n)
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

/* Worker side helpers for selections (core.c). */
void fphint_kick(bool now);
unsigned int fphint_delay_now_ms(void);
bool fphint_pass_stop(struct fphint_pass *pass);
bool fphint_zone_lock(struct fphint_pass *pass, struct zone *zone);
void fphint_zone_unlock(struct fphint_pass *pass, struct zone *zone);
void fphint_zone_relax(struct zone *zone);
unsigned long fphint_take(struct fphint_pass *pass, struct zone *zone,
			  unsigned long pfn);
unsigned long fphint_take_region(struct fphint_pass *pass, struct zone *zone,
				 unsigned long start);
struct page *fphint_buddy_head(struct page *page, unsigned int *order);
unsigned int fphint_piece_order(unsigned long pfn, unsigned long end);

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

/* Capture helpers (capture.c). */
int fphint_capture_init(void);
void fphint_capture_exit(void);
/* Have the next pass scan the free lists for every unreported block. */
void fphint_capture_rescan(void);
int fphint_capture_resize(unsigned int batch);
#define FPHINT_SEEN_SLOTS	64
bool fphint_capture_seen(unsigned long *seen, unsigned long region);
unsigned int fphint_regions_minus(unsigned long *a, unsigned int na,
				  const unsigned long *b, unsigned int nb);

/* Throttle helpers (throttle.c), pure so KUnit can drive them. */
#define FPHINT_BACKOFF_MAX		5
/* A host that keeps what it acknowledges: see fphint_void_step(). */
#define FPHINT_VOID_STRIKES		4
#define FPHINT_VOID_MAX			6
unsigned int fphint_void_step(unsigned int level, unsigned int *strikes,
			      bool skipped);
#define FPHINT_CHURN_MIN_PAGES		(SZ_4M >> PAGE_SHIFT)
unsigned int fphint_backoff_step(unsigned int level, unsigned long reported,
				 u64 reused);
bool fphint_hysteresis(bool was, unsigned long val, unsigned long floor,
		       unsigned long hyst);
struct fphint_bucket {
	s64 tokens;		/* bytes; negative after a burst */
	u64 last_ns;
};
long fphint_bucket_wait_ms(struct fphint_bucket *b, u64 now_ns, u64 rate);
void fphint_bucket_charge(struct fphint_bucket *b, u64 bytes);

/* Selection helper (selection.c). */
unsigned int fphint_sort_unique(unsigned long *pfns, unsigned int nr);

void fphint_capture_register(void);
void fphint_selection_register(void);
void fphint_transport_register(void);
void fphint_throttle_register(void);
int fphint_sysfs_init(void);

#endif /* _MM_FPHINT_FPHINT_H */
