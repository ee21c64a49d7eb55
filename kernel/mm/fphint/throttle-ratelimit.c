// SPDX-License-Identifier: GPL-2.0
/*
 * fphint throttle "ratelimit": the watermark rules, and at most
 * ratelimit_mib_s MiB per second on top (token bucket, one second of
 * burst): a rate cap is no reason to report into a memory shortage.
 */
#include <linux/ktime.h>
#include <linux/mm.h>

#include "fphint.h"

static struct fphint_bucket fphint_ratelimit_bucket;

static u64 fphint_ratelimit_rate(void)
{
	return (u64)fphint_tunable(RATELIMIT_MIB_S) << 20;
}

static long fphint_ratelimit_admit(struct zone *zone)
{
	long ret = fphint_wmark_admit(zone);

	if (ret)
		return ret;
	return fphint_bucket_wait_ms(&fphint_ratelimit_bucket, ktime_get_ns(),
				     fphint_ratelimit_rate());
}

static void fphint_ratelimit_account(unsigned long bytes)
{
	fphint_bucket_charge(&fphint_ratelimit_bucket, bytes);
}

/* A quarter second's worth per report keeps the rate smooth. */
static unsigned long fphint_ratelimit_batch_bytes(void)
{
	return max_t(unsigned long, fphint_ratelimit_rate() / 4, PAGE_SIZE);
}

static void fphint_ratelimit_reset(void)
{
	fphint_wmark_reset();
	fphint_ratelimit_bucket.tokens = fphint_ratelimit_rate();
	fphint_ratelimit_bucket.last_ns = ktime_get_ns();
}

static struct fphint_throttle_ops fphint_throttle_ratelimit = {
	.stage.name	= FPHINT_THROTTLE_RATELIMIT,
	.admit		= fphint_ratelimit_admit,
	.account	= fphint_ratelimit_account,
	.batch_bytes	= fphint_ratelimit_batch_bytes,
	.reset		= fphint_ratelimit_reset,
};

fphint_stage_initcall(FPHINT_KIND_THROTTLE, fphint_throttle_ratelimit);
