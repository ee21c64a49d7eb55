// SPDX-License-Identifier: GPL-2.0
/*
 * The fphint report hypercall issued from ring 3, where it must never do
 * anything: fphint_hypercall_user vmcall|vmmcall [NR]
 *
 * Executes VMCALL (0f 01 c1) or VMMCALL (0f 01 d9) with RAX = NR
 * (default KVM_HC_FPHINT_REPORT) and RBX/RCX/RDX = a report of one entry
 * in this process's memory, and prints one line for the host:
 *
 *	@@HCUSER insn=vmcall nr=30 result=ret rax=-1
 *	@@HCUSER insn=vmmcall nr=30 result=sigill
 *
 * A host that routes the call answers -KVM_EPERM (-1) to CPL 3; one that
 * does not leaves the instruction undefined (#UD, SIGILL), as on stock
 * QEMU (result=sigsegv: a #GP, which no host should give).  Exit code 0
 * either way: the host judges.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/types.h>
#include <linux/fphint_hypercall.h>

#include "fphint_hc_insn.h"

static sigjmp_buf env;

static void on_sigill(int sig)
{
	siglongjmp(env, sig);
}

static long hypercall(int vmm, long nr, long a0, long a1, long a2)
{
	long ret;

	FPHINT_HC_CALL(vmm, ret, nr, a0, a1, a2);
	return ret;
}

int main(int argc, char **argv)
{
	static uint64_t page[FPHINT_HC_ENTRIES_MAX] __attribute__((aligned(4096)));
	static char victim[1 << 20] __attribute__((aligned(4096)));
	struct sigaction sa;
	int vmm;
	long nr, ret;

	if (argc < 2 || (strcmp(argv[1], "vmcall") && strcmp(argv[1], "vmmcall"))) {
		fprintf(stderr, "usage: %s vmcall|vmmcall [NR]\n", argv[0]);
		return 2;
	}
	vmm = !strcmp(argv[1], "vmmcall");
	nr = argc > 2 ? strtol(argv[2], NULL, 0) : KVM_HC_FPHINT_REPORT;
	/* virtual addresses: a host that wrongly obeyed would hit some RAM */
	memset(victim, 0x5a, sizeof(victim));
	page[0] = FPHINT_HC_ENTRY((uintptr_t)victim >> 12, 1);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigill;
	sigaction(SIGILL, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	switch (sigsetjmp(env, 1)) {
	case 0:
		break;
	case SIGILL:
		printf("@@HCUSER insn=%s nr=%ld result=sigill\n", argv[1], nr);
		return 0;
	default:
		printf("@@HCUSER insn=%s nr=%ld result=sigsegv\n", argv[1], nr);
		return 0;
	}
	ret = hypercall(vmm, nr, (long)page, 1, 0);
	printf("@@HCUSER insn=%s nr=%ld result=ret rax=%ld victim=%s\n", argv[1], nr, ret,
	       victim[0] == 0x5a && victim[sizeof(victim) - 1] == 0x5a ? "intact" : "changed");
	return 0;
}
