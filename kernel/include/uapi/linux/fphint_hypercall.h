/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * fphint: the synchronous report hypercall (transport "hypercall").
 *
 * The one source of truth for the guest (mm/fphint/transport-hypercall.c),
 * the host (QEMU's include/hw/virtio/fphint-hypercall.h, a copy that
 * `check.py static` compares) and Documentation/ABI.
 *
 * Discovery: the guest may issue the call only once virtio-balloon has
 * negotiated VIRTIO_BALLOON_F_FPHINT_HYPERCALL (experimental device
 * feature bit 22, next to bit 23 of the host policy).  A host offers
 * that bit only when it routes the call:
 * under TCG always, under KVM only once KVM_CAP_EXIT_HYPERCALL accepted
 * bit KVM_HC_FPHINT_REPORT of its mask.
 *
 * Call (kvm_hypercall3(), VMCALL or VMMCALL, CPL 0 only):
 *	nr   (RAX) = KVM_HC_FPHINT_REPORT
 *	a0   (RBX) = guest-physical address of the report page, page aligned,
 *		     in RAM
 *	a1   (RCX) = number of entries, 1 .. FPHINT_HC_ENTRIES_MAX
 *	a2   (RDX) = flags, 0 (none defined)
 * Return (RAX): 0 when every entry's outcome was written; otherwise a
 *	negative KVM error and no entry was looked at: -KVM_EINVAL (count or
 *	flags), -KVM_EFAULT (report page not page aligned or not RAM),
 *	-KVM_EPERM (CPL > 0), -KVM_ENOSYS (the host does not route the call).
 *
 * An entry is one little-endian u64, PTE-like so that a range is one word:
 *	bits 63..52  pages - 1: 1 .. 4096 pages of 4 KiB (up to 16 MiB)
 *	bits 51..12  guest frame number of the range's first 4 KiB page
 *	bits 11..8   reserved, zero
 *	bits  7..0   outcome: the guest writes FPHINT_HC_PENDING, the host
 *		     writes one of FPHINT_HC_DISCARDED* or FPHINT_HC_SKIP_*
 * A merged range (several buddy blocks in a row) is one entry; a range
 * longer than 16 MiB takes several.  512 entries fill one 4 KiB page.
 */
#ifndef _UAPI_LINUX_FPHINT_HYPERCALL_H
#define _UAPI_LINUX_FPHINT_HYPERCALL_H

#include <linux/const.h>

/*
 * Below 31 so KVM_CAP_EXIT_HYPERCALL's mask can name it: the mask is a
 * u64 in KVM_ENABLE_CAP, but KVM_CHECK_EXTENSION returns the valid mask as
 * an int, where bit 31 would make it negative (an error).  Far above the
 * numbers upstream KVM hands out in order (12 is the last in 6.1).
 */
#define KVM_HC_FPHINT_REPORT		30

#define FPHINT_HC_ENTRIES_MAX		512	/* one 4 KiB page of entries */
#define FPHINT_HC_PAGE_SHIFT		12	/* entries count 4 KiB pages */

#define FPHINT_HC_OUTCOME_MASK		_AC(0xff, ULL)
#define FPHINT_HC_RESERVED_MASK		_AC(0xf00, ULL)
#define FPHINT_HC_GFN_SHIFT		12
#define FPHINT_HC_GFN_MASK		_AC(0x000ffffffffff000, ULL)
#define FPHINT_HC_PAGES_SHIFT		52
#define FPHINT_HC_PAGES_MAX		4096	/* pages per entry */

/*
 * Entry outcomes, as the host leaves them.  The same codes are the status
 * bytes of virtio-balloon reports with VIRTIO_BALLOON_F_FPHINT_REPORT_STATUS
 * (experimental bit 21, <linux/virtio_balloon.h>): one vocabulary for both
 * transports.  There the driver adds one device-writable byte per range
 * after the ranges of every report and sets them to FPHINT_HC_PENDING; the
 * host writes one outcome per range (SKIP_INVALID is the hypercall's own;
 * SKIP_OVERLAP there means a range over the status buffer).  In both, a
 * range left PENDING, or with a code the guest does not know, was kept,
 * and only DISCARDED_ZERO promises that it reads back zero: a host says
 * so only where it knows (QEMU: private anonymous RAM).
 */
#define FPHINT_HC_PENDING		0	/* written by the guest */
#define FPHINT_HC_DISCARDED_ZERO	1	/* discarded; reads back zero */
#define FPHINT_HC_DISCARDED		2	/* discarded; contents undefined */
#define FPHINT_HC_SKIP_INVALID		16	/* reserved bits or outcome set */
#define FPHINT_HC_SKIP_NOT_RAM		17	/* not inside one RAM block, MMIO, ROM */
#define FPHINT_HC_SKIP_UNALIGNED	18	/* not aligned to the block's page size */
#define FPHINT_HC_SKIP_INHIBITED	19	/* discards inhibited (VFIO, postcopy) */
#define FPHINT_HC_SKIP_POISON		20	/* the guest poisons free pages */
#define FPHINT_HC_SKIP_OVERLAP		21	/* covers the report page itself */
#define FPHINT_HC_FAILED		22	/* the discard failed */

#define FPHINT_HC_ENTRY(gfn, pages)					\
	((((__u64)(pages) - 1) << FPHINT_HC_PAGES_SHIFT) |		\
	 (((__u64)(gfn) << FPHINT_HC_GFN_SHIFT) & FPHINT_HC_GFN_MASK))
#define FPHINT_HC_ENTRY_GFN(e)						\
	(((e) & FPHINT_HC_GFN_MASK) >> FPHINT_HC_GFN_SHIFT)
#define FPHINT_HC_ENTRY_PAGES(e)	(((e) >> FPHINT_HC_PAGES_SHIFT) + 1)
#define FPHINT_HC_ENTRY_OUTCOME(e)	((e) & FPHINT_HC_OUTCOME_MASK)

#endif /* _UAPI_LINUX_FPHINT_HYPERCALL_H */
