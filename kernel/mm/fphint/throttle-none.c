// SPDX-License-Identifier: GPL-2.0
/*
 * fphint throttle "none": no limit beyond the min watermark every
 * isolation obeys (__isolate_free_page()).
 */
#include <linux/init.h>

#include "fphint.h"

static long fphint_none_admit(struct zone *zone)
{
	return 0;
}

static struct fphint_throttle_ops fphint_throttle_none = {
	.stage.name	= FPHINT_THROTTLE_NONE,
	.admit		= fphint_none_admit,
};

fphint_stage_initcall(FPHINT_KIND_THROTTLE, fphint_throttle_none);
