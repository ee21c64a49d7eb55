// SPDX-License-Identifier: GPL-2.0
/*
 * fphint fault injection, for tests (CONFIG_FPHINT_FAULT_INJECTION; knobs
 * in /sys/kernel/debug/fphint/, see Documentation/mm/fphint.rst).
 *
 * Every Nth report fails at once, or fails after timeout_ms as a transport
 * that gave up waiting would, or reaches the host and is acknowledged
 * late_ms late.  The failing kinds never reach the host.  A lying host
 * is one more kind: every Nth report does not reach the host either, yet
 * comes back "discarded, reads back zero" for every range, so that the
 * known-zero verification (known-zero.c) has something to catch.  The churn
 * backoff can be held at a level, virtio-balloon's status buffer sent a
 * byte short, and fphint.fail_init=N fails step N of fphint_init().  All
 * state is read by the worker under fphint_mutex.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/kernel.h>

#include "fphint.h"

static struct {
	u32 fail_every, timeout_every, timeout_ms, late_every, late_ms;
	u32 fake_zero_every;
	u64 injected;
	/* The churn backoff never below this level: churn on demand. */
	u32 backoff_min;
	/* Every Nth virtio request with status bytes has a byte too few. */
	u32 status_short_every, status_requests;
} fphint_fault = { .timeout_ms = 200, .late_ms = 200 };

/* The worker holds fphint_mutex meanwhile: keep a typo from wedging it. */
#define FPHINT_FAULT_MAX_MS	10000

/**
 * fphint_fault_inject - the injected fault for a report
 * @seq: the report's number in the sequence of reports attempted
 * @late_ms: set to how long to wait after the report (0: not at all)
 * @fake_zero: set when the report must not reach the host, and yet come
 *	back with every range discarded and zero
 *
 * Return: 0, or the error to fail the report with (after *@late_ms); with
 * 0, *@late_ms delays the acknowledgment.
 */
int fphint_fault_inject(u32 seq, unsigned int *late_ms, bool *fake_zero)
{
	u32 fail = READ_ONCE(fphint_fault.fail_every);
	u32 timeout = READ_ONCE(fphint_fault.timeout_every);
	u32 late = READ_ONCE(fphint_fault.late_every);
	u32 fake = READ_ONCE(fphint_fault.fake_zero_every);
	int err = 0;

	*late_ms = 0;
	*fake_zero = false;
	if (fake && seq % fake == 0) {
		*fake_zero = true;
	} else if (fail && seq % fail == 0) {
		err = -EIO;
	} else if (timeout && seq % timeout == 0) {
		err = -ETIMEDOUT;
		*late_ms = READ_ONCE(fphint_fault.timeout_ms);
	} else if (late && seq % late == 0) {
		*late_ms = READ_ONCE(fphint_fault.late_ms);
	} else {
		return 0;
	}
	*late_ms = min_t(unsigned int, *late_ms, FPHINT_FAULT_MAX_MS);
	fphint_fault.injected++;
	return err;
}

/**
 * fphint_fault_status_short - send this request's status buffer short?
 *
 * virtio-balloon asks before each request that carries status bytes
 * (VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS): every
 * status_short_every_n_requests-th one goes with a byte too few, a
 * malformed chain that the host must leave alone (every range left
 * PENDING, hence kept).  One reporter at a time (fphint or stock
 * page_reporting), so a plain counter does.
 *
 * Return: true for a request to shorten.
 */
bool fphint_fault_status_short(void)
{
	u32 every = READ_ONCE(fphint_fault.status_short_every);

	if (!every || ++fphint_fault.status_requests % every)
		return false;
	fphint_fault.injected++;
	return true;
}
EXPORT_SYMBOL_GPL(fphint_fault_status_short);

/* The churn backoff @level, raised to backoff_min_level. */
unsigned int fphint_fault_backoff(unsigned int level)
{
	return max_t(unsigned int, level,
		     min_t(u32, READ_ONCE(fphint_fault.backoff_min), FPHINT_BACKOFF_MAX));
}

void __init fphint_fault_debugfs(void)
{
	struct dentry *dir = debugfs_create_dir("fphint", NULL);

	debugfs_create_u32("fail_every_n_reports", 0600, dir, &fphint_fault.fail_every);
	debugfs_create_u32("timeout_every_n_reports", 0600, dir, &fphint_fault.timeout_every);
	debugfs_create_u32("timeout_ms", 0600, dir, &fphint_fault.timeout_ms);
	debugfs_create_u32("late_every_n_reports", 0600, dir, &fphint_fault.late_every);
	debugfs_create_u32("late_ms", 0600, dir, &fphint_fault.late_ms);
	debugfs_create_u32("fake_zero_every_n_reports", 0600, dir,
			   &fphint_fault.fake_zero_every);
	debugfs_create_u64("faults_injected", 0400, dir, &fphint_fault.injected);
	debugfs_create_u32("backoff_min_level", 0600, dir, &fphint_fault.backoff_min);
	debugfs_create_u32("status_short_every_n_requests", 0600, dir,
			   &fphint_fault.status_short_every);
	fphint_hc_debugfs(dir);
	fphint_virtio_debugfs(dir);
}

/* fphint.fail_init=N: step N of fphint_init() fails, to test its unwinding. */
static unsigned int fphint_fail_init_step;

static int __init fphint_setup_fail_init(char *s)
{
	if (kstrtouint(s, 0, &fphint_fail_init_step))
		pr_warn("ignoring invalid fphint.fail_init=%s\n", s);
	return 1;
}
__setup("fphint.fail_init=", fphint_setup_fail_init);

/* -ENOMEM when fphint.fail_init= names @step, else 0. */
int __init fphint_fault_init_step(unsigned int step)
{
	return step == fphint_fail_init_step ? -ENOMEM : 0;
}
