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
#define FPHINT_TRANSPORT_HYPERCALL	"hypercall"
#define FPHINT_THROTTLE_WATERMARK	"watermark"
#define FPHINT_THROTTLE_RATELIMIT	"ratelimit"
#define FPHINT_THROTTLE_NONE		"none"

#define FPHINT_STAGE_NAME_MAX		16	/* including the NUL */

/* What a freshly booted kernel runs, and what set-policy leaves unnamed. */
#define FPHINT_CAPTURE_DEFAULT		FPHINT_CAPTURE_PERCPU
#define FPHINT_SELECTION_DEFAULT	FPHINT_SELECTION_ZONE_SORT
#define FPHINT_TRANSPORT_DEFAULT	FPHINT_TRANSPORT_VIRTIO
#define FPHINT_THROTTLE_DEFAULT		FPHINT_THROTTLE_WATERMARK

/* Name of the policy last applied, as read in /sys/kernel/mm/fphint/policy. */
#define FPHINT_POLICY_NAME_MAX		32	/* including the NUL */
#define FPHINT_POLICY_DEFAULT		"default"
#define FPHINT_POLICY_CUSTOM		"custom"	/* changed since */

/*
 * Who made the last change to what reporting does, as read in
 * /sys/kernel/mm/fphint/policy_source: nobody since boot, the guest
 * (sysfs, netlink), or the host (host_policy).
 */
#define FPHINT_SOURCE_DEFAULT		"default"
#define FPHINT_SOURCE_LOCAL		"local"
#define FPHINT_SOURCE_HOST		"host"
/* Most bytes of "key=value" text one host policy may carry. */
#define FPHINT_HOST_POLICY_MAX		512
/* Whether the guest takes policy from the host (host_policy) at boot. */
#define FPHINT_HOST_POLICY_DEFAULT	1

/*
 * The lists below are X-macros: FPHINT_TUNABLES(X) expands X(...) once per
 * entry.  __FPHINT_LIST() only passes the entries on; it keeps each list
 * one macro argument (and one expression for scripts/checkpatch.pl).
 */
#define __FPHINT_LIST(...)	__VA_ARGS__

/*
 * Tunables: X(NAME, sysfs_name, default, min, max).  Units are in the
 * names.  min_order is a buddy order (0 = 4 KiB pages on x86); it is
 * further capped at MAX_ORDER - 1 by the kernel it runs on.  known_zero
 * is a switch: 1 lets blocks the host confirmed zero skip the zeroing
 * of the allocation that takes them.  Blocks from settled_min_order up to
 * below min_order are reported too, but only once their region has stayed
 * quiet for a few passes (small holes of a fragmented guest, not churn);
 * settled_min_order >= min_order reports nothing below min_order.
 * min_order defaults to 9, x86's pageblock (2 MiB), the host's huge page:
 * a smaller range reported splits the huge page behind it, and the guest's
 * next use of that memory faults in 4 KiB at a time (under the churn bench
 * min_order 2 split about 50 host huge pages per boot, at the first round
 * of churn, and cost 6 to 10 % of its throughput; 9 split 2 to 4).
 */
#define FPHINT_TUNABLES(X) __FPHINT_LIST(				\
	X(CAPTURE_BATCH,   capture_batch,   2048, 16, 8192)		\
	X(MIN_ORDER,       min_order,       9,    0,  10)		\
	X(REPORT_BATCH,    report_batch,    32,   1,  512)		\
	X(REPORT_DELAY_MS, report_delay_ms, 100,  0,  60000)		\
	X(LOW_MEM_PCT,     low_mem_pct,     5,    0,  90)		\
	X(RATELIMIT_MIB_S, ratelimit_mib_s, 1024, 1,  1048576)		\
	X(KNOWN_ZERO,      known_zero,      1,    0,  1)			\
	X(SETTLED_MIN_ORDER, settled_min_order, 0, 0, 10)		\
)

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
#define FPHINT_STATS(X) __FPHINT_LIST(					\
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
	X(PASSES,		passes)					\
	X(HOST_CHECKS,		host_checks)				\
	X(HOST_SKIPPED,		host_skipped)				\
	X(HYPERCALLS,		hypercalls)				\
	X(HOST_DISCARDED_PAGES,	host_discarded_pages)			\
	X(HOST_SKIPPED_PAGES,	host_skipped_pages)			\
	X(KNOWN_ZERO_PAGES,	known_zero_pages)			\
	X(ZEROING_SKIPPED_PAGES, zeroing_skipped_pages)			\
	X(KNOWN_ZERO_CHECKED_PAGES, known_zero_checked_pages)		\
	X(KNOWN_ZERO_MISMATCHES, known_zero_mismatches)			\
	X(CHURNED_PAGES,	churned_pages)				\
	X(PCP_DRAINS,		pcp_drains)				\
	X(PASS_NS,		pass_ns)				\
	X(ZONE_LOCK_NS,		zone_lock_ns)				\
)

enum fphint_stat {
#define FPHINT_X_ENUM(NAME, name) FPHINT_STAT_##NAME,
	FPHINT_STATS(FPHINT_X_ENUM)
#undef FPHINT_X_ENUM
	FPHINT_STAT_NR
};

/*
 * Generic netlink family "fphint"; Documentation/netlink/specs/fphint.yaml
 * describes the same messages.  Attribute ids only ever get appended.
 */
#define FPHINT_GENL_NAME		"fphint"
#define FPHINT_GENL_VERSION		1
#define FPHINT_MCGRP_EVENTS		"events"

enum fphint_cmd {
	FPHINT_CMD_UNSPEC,
	FPHINT_CMD_CONFIG_GET,		/* reply: enabled, stages, tunables, avail, policy */
	FPHINT_CMD_CONFIG_SET,		/* admin: change the attributes given */
	FPHINT_CMD_STATS_GET,		/* reply: stats, one zone nest per zone */
	FPHINT_CMD_POLICY_SET,		/* admin: a whole policy, all or nothing */
	FPHINT_CMD_CONFIG_NTF,		/* events: configuration changed */
	FPHINT_CMD_THROTTLE_NTF,	/* events: throttling started/stopped */

	__FPHINT_CMD_MAX,
	FPHINT_CMD_MAX = __FPHINT_CMD_MAX - 1
};

enum fphint_attr {
	FPHINT_A_UNSPEC,
	FPHINT_A_ENABLED,		/* u8, 0 or 1 */
	FPHINT_A_CAPTURE,		/* string, a stage name */
	FPHINT_A_SELECTION,		/* string */
	FPHINT_A_TRANSPORT,		/* string */
	FPHINT_A_THROTTLE,		/* string */
	FPHINT_A_POLICY,		/* string, FPHINT_POLICY_NAME_MAX */
	FPHINT_A_TUNABLES,		/* nest, enum fphint_tunable_attr */
	FPHINT_A_AVAIL,			/* nest, enum fphint_avail_attr */
	FPHINT_A_STATS,			/* nest, enum fphint_stat_attr */
	FPHINT_A_ZONE,			/* nest, enum fphint_zone_attr; one per zone */
	FPHINT_A_THROTTLED,		/* u8: throttling now (throttle-ntf) */
	FPHINT_A_REASON,		/* string: FPHINT_REASON_* (throttle-ntf) */
	FPHINT_A_HOST_POLICY,		/* u8, 0 or 1: the host may set policy */
	FPHINT_A_POLICY_SOURCE,		/* string: FPHINT_SOURCE_* (read-only) */

	__FPHINT_A_MAX,
	FPHINT_A_MAX = __FPHINT_A_MAX - 1
};

/* Why a throttle-ntf was sent. */
#define FPHINT_REASON_LOW_MEMORY	"low-memory"	/* MemAvailable < low_mem_pct */
#define FPHINT_REASON_WATERMARK		"watermark"	/* zone near its high wmark */

/* Tunables nest: one u32 per tunable, id = enum fphint_tunable + 1. */
enum fphint_tunable_attr {
	FPHINT_A_TUNABLE_UNSPEC,
#define FPHINT_X_ENUM(NAME, name, def, min, max) FPHINT_A_TUNABLE_##NAME,
	FPHINT_TUNABLES(FPHINT_X_ENUM)
#undef FPHINT_X_ENUM

	__FPHINT_A_TUNABLE_MAX,
	FPHINT_A_TUNABLE_MAX = __FPHINT_A_TUNABLE_MAX - 1
};

/* Avail nest: every registered stage, one string attribute each. */
enum fphint_avail_attr {
	FPHINT_A_AVAIL_UNSPEC,
	FPHINT_A_AVAIL_CAPTURE,		/* string, multi */
	FPHINT_A_AVAIL_SELECTION,
	FPHINT_A_AVAIL_TRANSPORT,
	FPHINT_A_AVAIL_THROTTLE,

	__FPHINT_A_AVAIL_MAX,
	FPHINT_A_AVAIL_MAX = __FPHINT_A_AVAIL_MAX - 1
};

/*
 * Stats nest: the two gauges of /sys/kernel/mm/fphint/stats/, then one u64
 * per counter, id = enum fphint_stat + FPHINT_A_STAT_FIRST_COUNTER, so
 * counters appended to FPHINT_STATS keep every id stable.
 */
enum fphint_stat_attr {
	FPHINT_A_STAT_UNSPEC,
	FPHINT_A_STAT_PAD,
	FPHINT_A_STAT_ISOLATED_NOW_PAGES,	/* u64 gauge */
	FPHINT_A_STAT_REPORT_DELAY_NOW_MS,	/* u32 gauge */
#define FPHINT_X_ENUM(NAME, name) FPHINT_A_STAT_##NAME,
	FPHINT_STATS(FPHINT_X_ENUM)
#undef FPHINT_X_ENUM

	__FPHINT_A_STAT_MAX,
	FPHINT_A_STAT_MAX = __FPHINT_A_STAT_MAX - 1
};
#define FPHINT_A_STAT_FIRST_COUNTER	FPHINT_A_STAT_CAPTURED

/* Zone nest, in stats-get replies and throttle-ntf (node and name only). */
enum fphint_zone_attr {
	FPHINT_A_ZONE_UNSPEC,
	FPHINT_A_ZONE_PAD,
	FPHINT_A_ZONE_NODE,			/* u32 */
	FPHINT_A_ZONE_NAME,			/* string: DMA, DMA32, Normal... */
	FPHINT_A_ZONE_FREE_PAGES,		/* u64 gauge */
	FPHINT_A_ZONE_REPORTED_FREE_PAGES,	/* u64 gauge: free and discarded */
	FPHINT_A_ZONE_REPORTED_PAGES,		/* u64 counter */
	FPHINT_A_ZONE_REPORTS,			/* u64 counter */
	FPHINT_A_ZONE_THROTTLED,		/* u64 counter */

	__FPHINT_A_ZONE_MAX,
	FPHINT_A_ZONE_MAX = __FPHINT_A_ZONE_MAX - 1
};

#endif /* _UAPI_LINUX_FPHINT_H */
