/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * fphint: guest free page hinting.
 *
 * The one source of truth for names, defaults and ranges shared by the
 * kernel (sysfs, generic netlink), fphintctl and the documentation.
 */
#ifndef _UAPI_LINUX_FPHINT_H
#define _UAPI_LINUX_FPHINT_H

/* Stage names, as read and written in /sys/kernel/mm/fphint/{stage} */
#define FPHINT_CAPTURE_PERCPU		"percpu"
#define FPHINT_CAPTURE_BUDDY_SCAN	"buddy-scan"
#define FPHINT_SELECTION_ZONE_SORT	"zone-sort"
#define FPHINT_SELECTION_FIFO		"fifo"
#define FPHINT_TRANSPORT_VIRTIO		"virtio"
#define FPHINT_TRANSPORT_NULL		"null"
#define FPHINT_THROTTLE_WATERMARK	"watermark"
#define FPHINT_THROTTLE_RATELIMIT	"ratelimit"
#define FPHINT_THROTTLE_NONE		"none"

#define FPHINT_STAGE_NAME_MAX		16	/* including the NUL */

/*
 * Tunables: X(NAME, sysfs_name, default, min, max).  Units are in the
 * names.  min_order is a buddy order (0 = 4 KiB pages on x86); it is
 * further capped at MAX_ORDER - 1 by the kernel it runs on.
 */
#define FPHINT_TUNABLES(X)						\
	X(CAPTURE_BATCH,   capture_batch,   2048, 16, 8192)		\
	X(MIN_ORDER,       min_order,       2,    0,  10)		\
	X(REPORT_BATCH,    report_batch,    32,   1,  256)		\
	X(REPORT_DELAY_MS, report_delay_ms, 100,  0,  60000)		\
	X(LOW_MEM_PCT,     low_mem_pct,     5,    0,  90)		\
	X(RATELIMIT_MIB_S, ratelimit_mib_s, 1024, 1,  1048576)

enum fphint_tunable {
#define FPHINT_X_ENUM(NAME, name, def, min, max) FPHINT_TUNABLE_##NAME,
	FPHINT_TUNABLES(FPHINT_X_ENUM)
#undef FPHINT_X_ENUM
	FPHINT_TUNABLE_NR
};

/*
 * Counters, monotonic since boot, one file each under
 * /sys/kernel/mm/fphint/stats/.  X(NAME, sysfs_name).
 */
#define FPHINT_STATS(X)							\
	X(CAPTURED,		captured)				\
	X(DROPPED,		dropped)				\
	X(DUPLICATES,		duplicates)				\
	X(STALE,		stale)					\
	X(BELOW_ORDER,		below_order)				\
	X(SKIPPED_MIGRATETYPE,	skipped_migratetype)			\
	X(ISOLATED,		isolated)				\
	X(REPORTED_PAGES,	reported_pages)				\
	X(REPORTED_BYTES,	reported_bytes)				\
	X(REPORTS,		reports)				\
	X(REPORT_ERRORS,	report_errors)				\
	X(THROTTLED,		throttled)				\
	X(REUSED_PAGES,		reused_pages)				\
	X(BACKOFFS,		backoffs)				\
	X(PASSES,		passes)

enum fphint_stat {
#define FPHINT_X_ENUM(NAME, name) FPHINT_STAT_##NAME,
	FPHINT_STATS(FPHINT_X_ENUM)
#undef FPHINT_X_ENUM
	FPHINT_STAT_NR
};

#endif /* _UAPI_LINUX_FPHINT_H */
