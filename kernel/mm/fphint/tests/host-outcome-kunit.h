/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The host's outcome codes (FPHINT_HC_* of <linux/fphint_hypercall.h>) and
 * the outcome each must give a range it alone covers: shared by the KUnit
 * tests of both transports that hear them (report hypercall entries, virtio
 * status bytes).  Only the two discards count as discarded; skips, failure,
 * PENDING left as the guest wrote it and codes unknown are kept.
 */
#ifndef _FPHINT_HOST_OUTCOME_KUNIT_H
#define _FPHINT_HOST_OUTCOME_KUNIT_H

static const struct {
	u8 host;
	u8 want;
} fphint_hc_cases[] = {
	{ FPHINT_HC_DISCARDED_ZERO, FPHINT_SG_DISCARDED_ZERO },
	{ FPHINT_HC_DISCARDED, FPHINT_SG_DISCARDED },
	{ FPHINT_HC_PENDING, FPHINT_SG_KEPT },
	{ FPHINT_HC_SKIP_INVALID, FPHINT_SG_KEPT },
	{ FPHINT_HC_SKIP_NOT_RAM, FPHINT_SG_KEPT },
	{ FPHINT_HC_SKIP_UNALIGNED, FPHINT_SG_KEPT },
	{ FPHINT_HC_SKIP_INHIBITED, FPHINT_SG_KEPT },
	{ FPHINT_HC_SKIP_POISON, FPHINT_SG_KEPT },
	{ FPHINT_HC_SKIP_OVERLAP, FPHINT_SG_KEPT },
	{ FPHINT_HC_FAILED, FPHINT_SG_KEPT },
	{ 3, FPHINT_SG_KEPT },		/* unknown, next to the discards */
	{ 0xff, FPHINT_SG_KEPT },	/* unknown */
};

#define FPHINT_HC_CASES	ARRAY_SIZE(fphint_hc_cases)

#endif /* _FPHINT_HOST_OUTCOME_KUNIT_H */
