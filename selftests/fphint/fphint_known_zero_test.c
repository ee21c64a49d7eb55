// SPDX-License-Identifier: GPL-2.0
/*
 * Known-zero blocks (Documentation/mm/fphint.rst, "Known-zero pages"):
 * memory the host confirmed discarded and reading back zero is handed out
 * without zeroing it again.
 *
 *  - a host that confirms (transport hypercall on the patched QEMU):
 *    freed memory is marked known_zero_pages, anonymous memory faulted in
 *    afterwards reads zero and moves zeroing_skipped_pages, and the
 *    kernel's verification (debug kernel) checks every such block and
 *    finds none that is not zero, before and after compaction;
 *  - the switch: known_zero 0 marks nothing and skips nothing, and bad
 *    values are refused with the switch unchanged;
 *  - a host that cannot confirm (virtio-balloon on stock QEMU, which only
 *    acknowledges): memory is reported, nothing is marked;
 *  - a host that lies (fault injection fake_zero_every_n_reports: reports
 *    that never reach the host come back "discarded, zero"): the
 *    verification catches the blocks that are not zero, counts them in
 *    known_zero_mismatches and zeroes them, so every page a program gets
 *    still reads zero.
 * Prints "@@KZ ..." lines with the figures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/fphint.h>

#include "kselftest_harness.h"
#include "fphint_util.h"

#define FAKE_ZERO "/sys/kernel/debug/fphint/fake_zero_every_n_reports"
#define PAGES_PER_MIB 256

/* Fill @mib MiB with @byte, then free it. */
static void fill_and_free(size_t mib, int byte)
{
	size_t bytes = mib << 20;
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	memset(p, byte, bytes);
	munmap(p, bytes);
}

/* The kernel command line has @opt. */
static int cmdline_has(const char *opt)
{
	char buf[1024];

	return !read_str("/proc/cmdline", buf, sizeof(buf)) && strstr(buf, opt);
}

/* Counter @name grew by at least @by within @secs. */
static int wait_grew(const char *name, uint64_t from, uint64_t by, int secs)
{
	return wait_stat_above(name, from + by - 1, secs) >= from + by;
}

/*
 * Fill @mib MiB with @byte and free it; true once an eighth of it was
 * reported and nothing is isolated any more.
 */
static int free_and_report(size_t mib, int byte)
{
	uint64_t reported = stat_u64("reported_pages");

	fill_and_free(mib, byte);
	return wait_grew("reported_pages", reported, mib * PAGES_PER_MIB / 8, 60) &&
	       !wait_isolated_zero(30);
}

struct retouch {
	uint64_t pages;		/* faulted in */
	uint64_t not_zero;	/* of those, with a byte that was not zero */
};

/*
 * Fault in anonymous memory 16 MiB at a time, keeping it, until counter
 * @until grew by @by or @max_mib were taken (or memory ran short); write
 * one byte per page and check the rest of the page reads zero.  Frees it
 * all at the end.  The reported blocks sit at the tail of the free lists,
 * so the allocator reaches them only once the rest is taken.
 */
static struct retouch retouch_until(const char *until, uint64_t by, size_t max_mib)
{
	const size_t chunk = 16UL << 20;
	uint64_t from = stat_u64(until);
	struct retouch r = { 0, 0 };
	char *chunks[256];
	size_t n = 0;

	while (n < sizeof(chunks) / sizeof(chunks[0]) && n * 16 < max_mib &&
	       stat_u64(until) < from + by && free_kib() > 96 * 1024) {
		char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			break;
		chunks[n++] = p;
		for (size_t off = 0; off < chunk; off += 4096) {
			p[off] = 1;
			r.pages++;
			for (size_t b = 1; b < 4096; b++)
				if (p[off + b]) {
					r.not_zero++;
					break;
				}
		}
	}
	while (n)
		munmap(chunks[--n], chunk);
	return r;
}

/*
 * Take nearly all free memory and give it back: what was reported before
 * through a transport that could not confirm zeros (PageReported, never
 * reported again) is freed anew, and reported through the one in use.
 */
static struct retouch renew_free_memory(void)
{
	return retouch_until("known_zero_mismatches", UINT32_MAX, 1792);
}

FIXTURE(kz) {
	struct snapshot saved;
	int confirming;		/* the transport in use can confirm zeros */
};

FIXTURE_SETUP(kz)
{
	ASSERT_EQ(0, access(FP "known_zero", R_OK));
	ASSERT_EQ(0, write_str(FP "enabled", "1"));
	snap(&self->saved);
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "20"));
	ASSERT_EQ(0, write_str(FP "min_order", "0"));
	ASSERT_EQ(0, write_str(FP "known_zero", "1"));
	/* The hypercall confirms per range; virtio on stock QEMU cannot. */
	self->confirming = !write_str(FP "transport", FPHINT_TRANSPORT_HYPERCALL);
	if (!self->confirming)
		ASSERT_EQ(0, write_str(FP "transport", FPHINT_TRANSPORT_VIRTIO));
	ASSERT_EQ(0, wait_isolated_zero(30));
}

FIXTURE_TEARDOWN(kz)
{
	write_str(FAKE_ZERO, "0");
	write_str(FP "enabled", "1");
	restore_config(&self->saved);
}

TEST_F(kz, confirmed_blocks_skip_zeroing)
{
	uint64_t marked = stat_u64("known_zero_pages");
	uint64_t skipped, checked, mism;
	struct retouch r;

	if (!self->confirming)
		SKIP(return, "the host cannot confirm zeros (no report hypercall)");
	if (cmdline_has("init_on_free=1"))
		SKIP(return, "init_on_free: nothing to skip, nothing marked");
	r = renew_free_memory();
	EXPECT_EQ(0, r.not_zero);
	fill_and_free(256, 0x5a);
	/* Most of what was freed comes back known-zero. */
	ASSERT_TRUE(wait_grew("known_zero_pages", marked, r.pages / 2, 60))
		TH_LOG("known_zero_pages %llu -> %llu after freeing %llu pages",
		       (unsigned long long)marked, (unsigned long long)stat_u64("known_zero_pages"),
		       (unsigned long long)r.pages);
	ASSERT_EQ(0, wait_isolated_zero(30));
	skipped = stat_u64("zeroing_skipped_pages");
	checked = stat_u64("known_zero_checked_pages");
	mism = stat_u64("known_zero_mismatches");
	r = retouch_until("zeroing_skipped_pages", 32 * PAGES_PER_MIB, 1024);
	printf("@@KZ confirmed marked=%llu retouched=%llu skipped=%llu checked=%llu mismatches=%llu\n",
	       (unsigned long long)(stat_u64("known_zero_pages") - marked),
	       (unsigned long long)r.pages,
	       (unsigned long long)(stat_u64("zeroing_skipped_pages") - skipped),
	       (unsigned long long)(stat_u64("known_zero_checked_pages") - checked),
	       (unsigned long long)(stat_u64("known_zero_mismatches") - mism));
	EXPECT_EQ(0, r.not_zero);
	EXPECT_GE(stat_u64("zeroing_skipped_pages"), skipped + 32 * PAGES_PER_MIB);
	EXPECT_EQ(mism, stat_u64("known_zero_mismatches"));
	/* Verification mode (the debug kernel): every skipped page was read. */
	if (checked != stat_u64("known_zero_checked_pages"))
		EXPECT_GE(stat_u64("known_zero_checked_pages") - checked,
			  stat_u64("zeroing_skipped_pages") - skipped);
}

/* Compaction moves pages into free blocks: none may keep a stale mark. */
TEST_F(kz, compaction_keeps_the_promise)
{
	uint64_t marked = stat_u64("known_zero_pages"), mism, skipped;
	struct retouch r;

	if (!self->confirming)
		SKIP(return, "the host cannot confirm zeros (no report hypercall)");
	if (access("/proc/sys/vm/compact_memory", W_OK))
		SKIP(return, "no /proc/sys/vm/compact_memory");
	if (cmdline_has("init_on_free=1"))
		SKIP(return, "init_on_free: nothing to skip, nothing marked");
	r = renew_free_memory();
	ASSERT_TRUE(wait_grew("known_zero_pages", marked, r.pages / 2, 60));
	/* Fragment what is in use, so compaction has pages to move. */
	churn(64);
	ASSERT_EQ(0, write_str("/proc/sys/vm/compact_memory", "1"));
	mism = stat_u64("known_zero_mismatches");
	skipped = stat_u64("zeroing_skipped_pages");
	r = retouch_until("zeroing_skipped_pages", 64 * PAGES_PER_MIB, 1024);
	printf("@@KZ compaction retouched=%llu skipped=%llu mismatches=%llu\n",
	       (unsigned long long)r.pages,
	       (unsigned long long)(stat_u64("zeroing_skipped_pages") - skipped),
	       (unsigned long long)(stat_u64("known_zero_mismatches") - mism));
	EXPECT_EQ(0, r.not_zero);
	/* Known-zero blocks were handed out after compaction, all zero. */
	EXPECT_LT(skipped, stat_u64("zeroing_skipped_pages"));
	EXPECT_EQ(mism, stat_u64("known_zero_mismatches"));
}

TEST_F(kz, switch_off_marks_and_skips_nothing)
{
	static const char *const bad[] = { "2", "-1", "on", "\n", "1x", "4294967297" };
	uint64_t marked, skipped, reported;
	struct retouch r;
	char val[16];

	/* Bad values: refused, the switch as it was. */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_NE(0, write_str(FP "known_zero", bad[i])) TH_LOG("'%s' accepted", bad[i]);
		ASSERT_EQ(0, read_str(FP "known_zero", val, sizeof(val)));
		EXPECT_EQ(0, strcmp(val, "1")) TH_LOG("known_zero is '%s' after '%s'", val, bad[i]);
	}
	ASSERT_EQ(0, write_str(FP "known_zero", "0"));
	marked = stat_u64("known_zero_pages");
	skipped = stat_u64("zeroing_skipped_pages");
	reported = stat_u64("reported_pages");
	ASSERT_TRUE(free_and_report(256, 0x7c));
	r = retouch_until("zeroing_skipped_pages", 1, 512);
	printf("@@KZ off reported=%llu marked=%llu retouched=%llu skipped=%llu\n",
	       (unsigned long long)(stat_u64("reported_pages") - reported),
	       (unsigned long long)(stat_u64("known_zero_pages") - marked),
	       (unsigned long long)r.pages,
	       (unsigned long long)(stat_u64("zeroing_skipped_pages") - skipped));
	EXPECT_EQ(marked, stat_u64("known_zero_pages"));
	EXPECT_EQ(skipped, stat_u64("zeroing_skipped_pages"));
	EXPECT_EQ(0, r.not_zero);
}

TEST_F(kz, host_that_only_acknowledges_confirms_nothing)
{
	uint64_t marked = stat_u64("known_zero_pages"), reported = stat_u64("reported_pages");

	if (self->confirming)
		SKIP(return, "this host confirms zeros (report hypercall offered)");
	ASSERT_TRUE(free_and_report(256, 0x3d));
	printf("@@KZ ack-only reported=%llu marked=%llu\n",
	       (unsigned long long)(stat_u64("reported_pages") - reported),
	       (unsigned long long)(stat_u64("known_zero_pages") - marked));
	EXPECT_EQ(marked, stat_u64("known_zero_pages"));
}

/* The guest zeroes on free: the allocator has nothing to skip, no mark. */
TEST_F(kz, init_on_free_marks_nothing)
{
	uint64_t marked = stat_u64("known_zero_pages"), reported = stat_u64("reported_pages");
	uint64_t discarded = stat_u64("host_discarded_pages");

	if (!self->confirming)
		SKIP(return, "the host cannot confirm zeros (no report hypercall)");
	if (!cmdline_has("init_on_free=1"))
		SKIP(return, "not booted with init_on_free=1");
	ASSERT_TRUE(free_and_report(256, 0x4e));
	printf("@@KZ init-on-free reported=%llu host_discarded=%llu marked=%llu\n",
	       (unsigned long long)(stat_u64("reported_pages") - reported),
	       (unsigned long long)(stat_u64("host_discarded_pages") - discarded),
	       (unsigned long long)(stat_u64("known_zero_pages") - marked));
	/* The host did confirm its discards; the guest marked none. */
	EXPECT_LT(discarded, stat_u64("host_discarded_pages"));
	EXPECT_EQ(marked, stat_u64("known_zero_pages"));
}

TEST_F(kz, lying_host_is_caught)
{
	uint64_t marked, mism, checked;
	struct retouch r;

	if (access(FAKE_ZERO, W_OK))
		SKIP(return, "no fault injection (CONFIG_FPHINT_FAULT_INJECTION)");
	if (cmdline_has("init_on_free=1"))
		SKIP(return, "init_on_free: nothing is marked, even for a lying host");
	/* Every report from here on lies: none reaches the host. */
	ASSERT_EQ(0, write_str(FAKE_ZERO, "1"));
	marked = stat_u64("known_zero_pages");
	fill_and_free(256, 0xa5);
	ASSERT_TRUE(wait_grew("known_zero_pages", marked, 32 * PAGES_PER_MIB, 60));
	ASSERT_EQ(0, write_str(FAKE_ZERO, "0"));
	ASSERT_EQ(0, wait_isolated_zero(30));
	mism = stat_u64("known_zero_mismatches");
	checked = stat_u64("known_zero_checked_pages");
	r = retouch_until("known_zero_mismatches", 16 * PAGES_PER_MIB, 1792);
	printf("@@KZ lying marked=%llu retouched=%llu checked=%llu mismatches=%llu not_zero=%llu\n",
	       (unsigned long long)(stat_u64("known_zero_pages") - marked),
	       (unsigned long long)r.pages,
	       (unsigned long long)(stat_u64("known_zero_checked_pages") - checked),
	       (unsigned long long)(stat_u64("known_zero_mismatches") - mism),
	       (unsigned long long)r.not_zero);
	if (checked == stat_u64("known_zero_checked_pages"))
		SKIP(return, "no verification mode (CONFIG_FPHINT_KNOWN_ZERO_VERIFY)");
	/* Caught, and zeroed after all: the program never saw the lie. */
	EXPECT_GE(stat_u64("known_zero_mismatches"), mism + 16 * PAGES_PER_MIB);
	EXPECT_EQ(0, r.not_zero);
	/* Switched off and on: every mark is gone, the lies with them. */
	ASSERT_EQ(0, write_str(FP "known_zero", "0"));
	ASSERT_EQ(0, write_str(FP "known_zero", "1"));
	mism = stat_u64("known_zero_mismatches");
	checked = stat_u64("known_zero_checked_pages");
	r = retouch_until("known_zero_mismatches", 1, 1792);
	printf("@@KZ forgotten retouched=%llu checked=%llu mismatches=%llu\n",
	       (unsigned long long)r.pages,
	       (unsigned long long)(stat_u64("known_zero_checked_pages") - checked),
	       (unsigned long long)(stat_u64("known_zero_mismatches") - mism));
	EXPECT_EQ(mism, stat_u64("known_zero_mismatches"));
	EXPECT_EQ(0, r.not_zero);
}

TEST_HARNESS_MAIN
