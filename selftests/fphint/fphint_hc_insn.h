/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The report hypercall's instruction, for the tests that issue it raw
 * (fphint_hc_ring0.c, fphint_hypercall_user.c): VMMCALL (AMD) when @vmm,
 * else VMCALL (Intel), nr in RAX, a0..a2 in RBX, RCX, RDX, the result in
 * RAX.  Byte-coded so that any assembler takes them.
 */
#ifndef FPHINT_HC_INSN_H
#define FPHINT_HC_INSN_H

#define FPHINT_HC_CALL(vmm, ret, nr, a0, a1, a2)				\
	do {									\
		if (vmm)							\
			asm volatile(".byte 0x0f, 0x01, 0xd9"			\
				     : "=a"(ret)				\
				     : "a"(nr), "b"(a0), "c"(a1), "d"(a2)	\
				     : "memory");				\
		else								\
			asm volatile(".byte 0x0f, 0x01, 0xc1"			\
				     : "=a"(ret)				\
				     : "a"(nr), "b"(a0), "c"(a1), "d"(a2)	\
				     : "memory");				\
	} while (0)

#endif /* FPHINT_HC_INSN_H */
