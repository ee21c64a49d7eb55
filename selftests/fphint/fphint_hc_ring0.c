// SPDX-License-Identifier: GPL-2.0
/*
 * The fphint report hypercall from ring 0, without Linux: a multiboot
 * kernel (32-bit protected mode, paging off) that QEMU boots with
 * -kernel.  It issues the call with good and bad arguments and a report
 * of every kind of entry, checks the outcomes the host wrote back and that
 * discarded memory reads zero, and prints TAP on the serial port
 * (0x3f8).  Then it prints "@@R0 done" and halts so the host can read its
 * counters over QMP.
 *
 * HC=vmcall|vmmcall on the command line (multiboot cmdline) picks the
 * instruction; BACKING=shared (a shared file, 4 KiB pages) or
 * BACKING=hugetlbfs (2 MiB pages) says what QEMU's RAM is on, which
 * changes what the host may do: DISCARDED instead of DISCARDED_ZERO, and
 * SKIP_UNALIGNED for less than a huge page.  A #UD (host without fphint-hypercall=on) makes the call
 * return FPHINT_R0_UD and the kernel prints "@@R0 ud" and stops there.
 *
 * Built by scripts/check_hypercall_host.py:
 *   gcc -m32 -ffreestanding -nostdlib -static -fno-pic -no-pie \
 *       -fno-stack-protector -O2 -Wl,-N -Wl,-Ttext=0x100000 -Wl,--build-id=none
 */
#include <linux/types.h>
#include <linux/fphint_hypercall.h>

#include "fphint_hc_insn.h"

typedef unsigned int u32;
typedef unsigned long long u64;

#define FPHINT_R0_UD	0x0badc0de
#define MIB		(1u << 20)

unsigned char stack[16384] __attribute__((aligned(16)));
void kmain(u32 magic, u32 *mbi);

/* the multiboot header first in .text, well inside the first 8 KiB */
asm(".text\n"
    "	.align 4\n"
    "	.long 0x1BADB002, 0, -0x1BADB002\n"
    ".globl _start\n"
    "_start:\n"
    "	lea stack+16384, %esp\n"
    "	push %ebx\n"
    "	push %eax\n"
    "	call kmain\n"
    "1:	cli\n"
    "	hlt\n"
    "	jmp 1b\n"
    /* #UD: skip the 3-byte VMCALL/VMMCALL, return FPHINT_R0_UD */
    ".globl ud_handler\n"
    "ud_handler:\n"
    "	addl $3, (%esp)\n"
    "	movl $0x0badc0de, %eax\n"
    "	iret\n");
void ud_handler(void);

static inline void outb(unsigned short port, unsigned char v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static void putc_(char c)
{
	outb(0x3f8, c);
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void putu(u32 v)
{
	char b[12];
	int i = 0;

	do {
		b[i++] = '0' + v % 10;
		v /= 10;
	} while (v);
	while (i)
		putc_(b[--i]);
}

static void puti(int v)
{
	if (v < 0) {
		putc_('-');
		v = -v;
	}
	putu(v);
}

static int vmm;
static int n_test, n_fail;

/* A TAP line up to its description: "[not ]ok N - WHAT". */
static void tap(int cond, const char *what)
{
	n_test++;
	if (!cond) {
		n_fail++;
		puts_("not ");
	}
	puts_("ok ");
	putu(n_test);
	puts_(" - ");
	puts_(what);
}

static void ok(int cond, const char *what, int got)
{
	tap(cond, what);
	puts_(" (got ");
	puti(got);
	puts_(")\n");
}

static int hypercall(u32 nr, u32 a0, u32 a1, u32 a2)
{
	int ret;

	FPHINT_HC_CALL(vmm, ret, nr, a0, a1, a2);
	return ret;
}

static const char *outcome_name(int o)
{
	switch (o) {
	case FPHINT_HC_DISCARDED_ZERO: return "DISCARDED_ZERO";
	case FPHINT_HC_DISCARDED: return "DISCARDED";
	case FPHINT_HC_SKIP_INVALID: return "SKIP_INVALID";
	case FPHINT_HC_SKIP_NOT_RAM: return "SKIP_NOT_RAM";
	case FPHINT_HC_SKIP_UNALIGNED: return "SKIP_UNALIGNED";
	case FPHINT_HC_SKIP_INHIBITED: return "SKIP_INHIBITED";
	case FPHINT_HC_SKIP_POISON: return "SKIP_POISON";
	case FPHINT_HC_SKIP_OVERLAP: return "SKIP_OVERLAP";
	case FPHINT_HC_FAILED: return "FAILED";
	}
	return "?";
}

/* an outcome check: "WHAT: NAME (got N)" */
static void ok_outcome(int got, int want, int cond, const char *what)
{
	tap(cond && got == want, what);
	puts_(": ");
	puts_(outcome_name(want));
	puts_(" (got ");
	puts_(outcome_name(got));
	puts_(")\n");
}

static void skip(const char *what, const char *why)
{
	tap(1, what);
	puts_(" # SKIP ");
	puts_(why);
	puts_("\n");
}

static void expect(u32 nr, u32 a0, u32 a1, u32 a2, int want, const char *what)
{
	int ret = hypercall(nr, a0, a1, a2);

	ok(ret == want, what, ret);
}

static struct {
	unsigned short lo, sel;
	unsigned char zero, type;
	unsigned short hi;
} idt[32] __attribute__((aligned(8)));

static void setup_idt(void)
{
	struct {
		unsigned short limit;
		u32 base;
	} __attribute__((packed)) idtr = { sizeof(idt) - 1, (u32)idt };
	unsigned short cs;

	asm volatile("mov %%cs, %0" : "=r"(cs));
	idt[6].lo = (u32)ud_handler & 0xffff;
	idt[6].hi = (u32)ud_handler >> 16;
	idt[6].sel = cs;
	idt[6].type = 0x8e;	/* present, ring 0, 32-bit interrupt gate */
	asm volatile("lidt %0" : : "m"(idtr));
}

static int has(const char *s, const char *w)
{
	for (; *s; s++) {
		const char *a = s, *b = w;

		while (*b && *a == *b)
			a++, b++;
		if (!*b)
			return 1;
	}
	return 0;
}

static void fill(u32 addr, u32 len, unsigned char v)
{
	volatile unsigned char *p = (unsigned char *)addr;
	u32 i;

	for (i = 0; i < len; i++)
		p[i] = v;
}

/* 1: every byte of [addr, addr + len) reads zero */
static int zero(u32 addr, u32 len)
{
	volatile u32 *p = (u32 *)addr;
	u32 i;

	for (i = 0; i < len / 4; i++)
		if (p[i])
			return 0;
	return 1;
}

#define REPORT		(4 * MIB)	/* the report page */
#define AREA_A		(8 * MIB)	/* 1 MiB, discarded */
#define AREA_B		(32 * MIB)	/* 16 MiB in one entry, discarded */
#define RAM_END		(128 * MIB)	/* -m 128 */

static u64 entry(u32 addr, u32 pages)
{
	return FPHINT_HC_ENTRY(addr >> 12, pages);
}

void kmain(u32 magic, u32 *mbi)
{
	volatile u64 *rep = (u64 *)REPORT;
	const char *cmdline = (magic == 0x2BADB002 && (mbi[0] & 4)) ?
			      (const char *)mbi[4] : "";
	static const struct {
		u64 e;
		int want;
		const char *what;
	} *t, tests[] = {
		{ 0, -1, "1 MiB" },		/* depends on the backing */
		{ 0, -2, "16 MiB in one entry" },
		{ 0, FPHINT_HC_SKIP_INVALID, "reserved bit 8 set" },
		{ 0, FPHINT_HC_SKIP_INVALID, "outcome already set" },
		{ 0, FPHINT_HC_SKIP_NOT_RAM, "BIOS shadow 0xf0000 (read-only)" },
		{ 0, FPHINT_HC_SKIP_NOT_RAM, "local APIC 0xfee00000 (MMIO)" },
		{ 0, FPHINT_HC_SKIP_NOT_RAM, "past the end of RAM" },
		{ 0, FPHINT_HC_SKIP_NOT_RAM, "the last page of RAM and the next" },
		{ 0, FPHINT_HC_SKIP_NOT_RAM, "BIOS ROM 0xfffff000" },
		{ 0, -3, "covers the report page" },	/* 16 KiB */
	};
	u64 es[10];
	u32 i, n = sizeof(tests) / sizeof(tests[0]);
	int ret, huge, anon, disc, small;

	vmm = has(cmdline, "HC=vmmcall");
	huge = has(cmdline, "BACKING=hugetlbfs");
	anon = !huge && !has(cmdline, "BACKING=shared");
	/* only private anonymous memory is sure to read back zero */
	disc = anon ? FPHINT_HC_DISCARDED_ZERO : FPHINT_HC_DISCARDED;
	/* less than a 2 MiB huge page cannot be given back */
	small = huge ? FPHINT_HC_SKIP_UNALIGNED : disc;
	setup_idt();
	puts_(vmm ? "@@R0 start insn=vmmcall\n" : "@@R0 start insn=vmcall\n");

	ret = hypercall(12345, 0, 0, 0);
	if (ret == FPHINT_R0_UD) {
		puts_("@@R0 ud\n@@R0 done\n");
		return;
	}
	ok(ret == -1000, "unknown number: -KVM_ENOSYS", ret);
	expect(KVM_HC_FPHINT_REPORT, REPORT, 0, 0, -22, "count 0: -KVM_EINVAL");
	expect(KVM_HC_FPHINT_REPORT, REPORT, 513, 0, -22, "count 513: -KVM_EINVAL");
	expect(KVM_HC_FPHINT_REPORT, REPORT, 1, 1, -22, "flags 1: -KVM_EINVAL");
	expect(KVM_HC_FPHINT_REPORT, REPORT + 8, 1, 0, -14, "report page not aligned: -KVM_EFAULT");
	expect(KVM_HC_FPHINT_REPORT, 0xf0000, 1, 0, -14, "report page in the BIOS shadow: -KVM_EFAULT");
	expect(KVM_HC_FPHINT_REPORT, 0xfee00000, 1, 0, -14, "report page on the APIC: -KVM_EFAULT");
	expect(KVM_HC_FPHINT_REPORT, RAM_END + 64 * MIB, 1, 0, -14, "report page past RAM: -KVM_EFAULT");

	es[0] = entry(AREA_A, 256);
	es[1] = entry(AREA_B, 4096);
	es[2] = entry(AREA_A + 2 * MIB, 1) | 0x100;
	es[3] = entry(AREA_A + 3 * MIB, 1) | FPHINT_HC_DISCARDED;
	es[4] = entry(0xf0000, 1);
	es[5] = entry(0xfee00000, 1);
	es[6] = entry(RAM_END + 64 * MIB, 16);
	es[7] = entry(RAM_END - 4096, 2);
	es[8] = entry(0xfffff000, 1);
	es[9] = entry(REPORT - 4096, 4);
	fill(AREA_A, MIB, 0xa5);
	fill(AREA_B, 16 * MIB, 0x5a);
	fill(AREA_A + 2 * MIB, 4096, 0x11);
	for (i = 0; i < n; i++)
		rep[i] = es[i];
	ret = hypercall(KVM_HC_FPHINT_REPORT, REPORT, n, 0);
	ok(ret == 0, "a report of 10 entries: 0", ret);
	for (i = 0, t = tests; i < n; i++, t++) {
		int got = rep[i] & FPHINT_HC_OUTCOME_MASK;
		int want = t->want == -1 ? small : t->want == -2 ? disc : t->want;

		/* the host checks alignment before overlap */
		if (t->want == -3)
			want = huge ? FPHINT_HC_SKIP_UNALIGNED : FPHINT_HC_SKIP_OVERLAP;

		ok_outcome(got, want, (rep[i] & ~FPHINT_HC_OUTCOME_MASK) ==
			   (es[i] & ~FPHINT_HC_OUTCOME_MASK), t->what);
	}
	if (anon) {
		ok(zero(AREA_A, MIB), "the 1 MiB reads back zero", 0);
		ok(zero(AREA_B, 16 * MIB), "the 16 MiB read back zero", 0);
	} else {
		skip("the 1 MiB reads back zero", "not promised on this backing");
		skip("the 16 MiB read back zero", "not promised on this backing");
	}
	ok(*(volatile unsigned char *)(AREA_A + 2 * MIB) == 0x11, "the invalid entry's page kept its data", 0);
	/* a full page of entries: 512 x 4 KiB */
	for (i = 0; i < FPHINT_HC_ENTRIES_MAX; i++)
		rep[i] = entry(64 * MIB + i * 8192, 1);
	ret = hypercall(KVM_HC_FPHINT_REPORT, REPORT, FPHINT_HC_ENTRIES_MAX, 0);
	for (i = 0; i < FPHINT_HC_ENTRIES_MAX; i++)
		if ((rep[i] & FPHINT_HC_OUTCOME_MASK) != (u64)small)
			break;
	ok_outcome(i == FPHINT_HC_ENTRIES_MAX ? small : (int)(rep[i] & 0xff), small, ret == 0,
		   "512 entries of 4 KiB, each");
	puts_("@@R0 tests=");
	putu(n_test);
	puts_(" failed=");
	putu(n_fail);
	puts_("\n@@R0 done\n");
}
