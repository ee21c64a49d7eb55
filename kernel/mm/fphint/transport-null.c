// SPDX-License-Identifier: GPL-2.0
/*
 * fphint transport "null": reports nothing and succeeds, so the whole
 * pipeline runs in guests without a device.  It reaches no host (to_host
 * false): what goes through it is put back unmarked.  Device transports
 * register at runtime instead (transport-virtio.c).
 */
#include <linux/init.h>

#include "fphint.h"

static int fphint_null_report(struct fphint_transport *t,
			      struct scatterlist *sgl, unsigned int nents,
			      u8 *outcome)
{
	return 0;
}

static struct fphint_transport fphint_transport_null = {
	.stage.name	= FPHINT_TRANSPORT_NULL,
	.capacity	= FPHINT_REPORT_BATCH_MAX,
	.report		= fphint_null_report,
};

fphint_stage_initcall(FPHINT_KIND_TRANSPORT, fphint_transport_null);
