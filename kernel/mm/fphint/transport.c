// SPDX-License-Identifier: GPL-2.0
/*
 * fphint transports: how selected ranges reach the host.
 *
 * virtio: registered by virtio-balloon when it negotiates
 *         VIRTIO_BALLOON_F_REPORTING (see fphint_register_reporting_dev());
 *         the standard reporting queue, so unmodified hosts discard.
 * null:   reports nothing and succeeds: exercises the whole pipeline in
 *         guests without a device.
 * A synchronous hypercall transport registers the same way.
 */
#include "fphint.h"

static int null_report(struct fphint_transport *t, struct scatterlist *sgl,
		       unsigned int nents)
{
	return 0;
}

static struct fphint_transport fphint_transport_null = {
	.stage.name	= FPHINT_TRANSPORT_NULL,
	.capacity	= FPHINT_REPORT_BATCH_MAX,
	.report		= null_report,
};

void fphint_transport_register(void)
{
	fphint_register_stage(FPHINT_KIND_TRANSPORT, &fphint_transport_null.stage);
}
