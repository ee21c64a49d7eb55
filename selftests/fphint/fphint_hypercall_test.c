// SPDX-License-Identifier: GPL-2.0
/*
 * Transport "hypercall" (include/uapi/linux/fphint_hypercall.h) from the
 * guest.  Without the host's offer (virtio-balloon feature bit 22, e.g.
 * stock QEMU): the transport is listed, selecting it fails with -ENODEV
 * through sysfs and netlink (with its extack message) and changes nothing,
 * and the raw call is refused.  With the offer: a bad-input sweep through
 * the debugfs raw call (CONFIG_FPHINT_FAULT_INJECTION), each answered
 * with the ABI's error or outcome, and guest memory outside the ranges
 * named left intact.  Prints "@@HYPERCALL offered=0|1 calls=N".
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fphint.h>
#include <linux/fphint_hypercall.h>

#include "kselftest_harness.h"
#include "fphint_util.h"

#define RAW "/sys/kernel/debug/fphint/hypercall_raw"
#define VIRTIO_DEVS "/sys/bus/virtio/devices/"
#define FEATURE_BIT 22		/* VIRTIO_BALLOON_F_FPHINT_HYPERCALL */
#define KVM_EINVAL_RET (-22)	/* -KVM_EINVAL */
#define KVM_EFAULT_RET (-14)	/* -KVM_EFAULT */

/* As in mm/fphint/transport-hypercall.c. */
enum { RAW_PAGE, RAW_UNALIGNED, RAW_ADDR };
struct hc_raw {
	uint64_t count, flags, addr;
	uint32_t page, nr;
	int32_t self, alloc;
	uint32_t alloc_order, pad;
	int64_t ret;
	uint64_t report_gpa;
	uint64_t entries[FPHINT_HC_ENTRIES_MAX];
};

/* Has a balloon (device id 5) negotiated bit 22? */
static int offered(void)
{
	DIR *d = opendir(VIRTIO_DEVS);
	struct dirent *e;
	char path[300], buf[128];
	int yes = 0;

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), VIRTIO_DEVS "%s/device", e->d_name);
		if (read_str(path, buf, sizeof(buf)) || strtol(buf, NULL, 0) != 5)
			continue;
		snprintf(path, sizeof(path), VIRTIO_DEVS "%s/features", e->d_name);
		if (!read_str(path, buf, sizeof(buf)) && strlen(buf) > FEATURE_BIT &&
		    buf[FEATURE_BIT] == '1')
			yes = 1;
	}
	if (d)
		closedir(d);
	return yes;
}

static void raw_init(struct hc_raw *r)
{
	memset(r, 0, sizeof(*r));
	r->self = -1;
	r->alloc = -1;
	r->count = 1;
	r->nr = 1;
}

/* 0 and @r filled with the answer, or -errno of the write. */
static int raw_call(struct hc_raw *r)
{
	int fd = open(RAW, O_RDWR);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, r, sizeof(*r)) != sizeof(*r))
		err = -errno;
	else if (pread(fd, r, sizeof(*r), 0) != sizeof(*r))
		err = -EIO;
	close(fd);
	return err;
}

static unsigned int outcome(const struct hc_raw *r, int i)
{
	return FPHINT_HC_ENTRY_OUTCOME(r->entries[i]);
}

static int discarded(unsigned int o)
{
	return o == FPHINT_HC_DISCARDED || o == FPHINT_HC_DISCARDED_ZERO;
}

static void same_config(struct __test_metadata *_metadata,
			const struct snapshot *a, const struct snapshot *b)
{
	for (int k = 0; k < SNAP_POLICY_SOURCE + 1; k++) {
		const char *file = snapshot_files[k];

		EXPECT_STREQ(a->v[k], b->v[k]) TH_LOG("%s changed", file);
	}
}

/* Without the host's offer: listed, -ENODEV, nothing changed. */
TEST(enodev_without_host)
{
	struct snapshot before, after;
	char avail[256], out[512];
	struct hc_raw r;
	size_t n;
	FILE *f;

	ASSERT_EQ(0, read_str(FP "transport", avail, sizeof(avail)));
	EXPECT_NE(NULL, strstr(avail, FPHINT_TRANSPORT_HYPERCALL)) TH_LOG("transport: %s", avail);
	if (offered()) {
		char cur[32];

		/* The other way round: it is selectable, and switches back. */
		ASSERT_EQ(0, current_stage(FP "transport", cur, sizeof(cur)));
		EXPECT_EQ(0, write_str(FP "transport", FPHINT_TRANSPORT_HYPERCALL));
		EXPECT_EQ(0, write_str(FP "transport", cur));
		SKIP(return, "the host offers the hypercall (bit 22)");
	}
	snap(&before);
	EXPECT_EQ(-ENODEV, write_str(FP "transport", FPHINT_TRANSPORT_HYPERCALL));
	snap(&after);
	same_config(_metadata, &before, &after);

	/* Netlink, through fphintctl: the extack message, exit code 1. */
	f = popen("fphintctl set transport=hypercall 2>&1; echo rc=$?", "r");
	ASSERT_NE(NULL, f);
	n = fread(out, 1, sizeof(out) - 1, f);
	pclose(f);
	out[n] = 0;
	EXPECT_NE(NULL, strstr(out, "transport: not offered by the host")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "rc=0")) TH_LOG("%s", out);
	snap(&after);
	same_config(_metadata, &before, &after);

	/* The raw call is never issued where the host would not route it. */
	raw_init(&r);
	r.alloc = 0;
	if (access(RAW, F_OK) == 0)
		EXPECT_EQ(-ENODEV, raw_call(&r));
	printf("@@HYPERCALL offered=0\n");
}

FIXTURE(hc) {
	uint64_t calls;
	const char *skip;
};

/* 6.1's harness runs the test after a SKIP in the setup: each test asks. */
#define SKIP_UNLESS_OFFERED()						\
	do {								\
		if (self->skip)						\
			SKIP(return, "%s", self->skip);			\
	} while (0)

FIXTURE_SETUP(hc)
{
	self->skip = NULL;
	if (!offered())
		self->skip = "the host does not offer the hypercall (no bit 22)";
	else if (access(RAW, F_OK))
		self->skip = "no " RAW " (CONFIG_FPHINT_FAULT_INJECTION)";
	self->calls = stat_u64("hypercalls");
}

FIXTURE_TEARDOWN(hc)
{
}

/* count 0 and 513, flags != 0: -KVM_EINVAL, no entry looked at. */
TEST_F(hc, bad_count_and_flags)
{
	static const uint64_t counts[] = { 0, FPHINT_HC_ENTRIES_MAX + 1, 1ULL << 32, ~0ULL };
	struct hc_raw r;

	SKIP_UNLESS_OFFERED();

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		raw_init(&r);
		r.alloc = 0;
		r.count = counts[i];
		ASSERT_EQ(0, raw_call(&r));
		EXPECT_EQ(KVM_EINVAL_RET, r.ret) TH_LOG("count %llu", (unsigned long long)counts[i]);
		EXPECT_EQ(FPHINT_HC_PENDING, outcome(&r, 0));
	}
	for (int bit = 0; bit < 64; bit += 7) {
		raw_init(&r);
		r.alloc = 0;
		r.flags = 1ULL << bit;
		ASSERT_EQ(0, raw_call(&r));
		EXPECT_EQ(KVM_EINVAL_RET, r.ret) TH_LOG("flags %#llx", 1ULL << bit);
		EXPECT_EQ(FPHINT_HC_PENDING, outcome(&r, 0));
	}
	EXPECT_GT(stat_u64("hypercalls"), self->calls);
}

/* Report page not aligned, or not RAM: -KVM_EFAULT. */
TEST_F(hc, bad_report_page)
{
	static const uint64_t addrs[] = {
		0xfee00000,		/* local APIC */
		0xf0000,		/* BIOS ROM */
		0xfed00000,		/* HPET */
		1ULL << 40,		/* far past RAM */
		0xfffffffffffff000ULL,
	};
	struct hc_raw r;

	SKIP_UNLESS_OFFERED();

	raw_init(&r);
	r.alloc = 0;
	r.page = RAW_UNALIGNED;
	ASSERT_EQ(0, raw_call(&r));
	EXPECT_EQ(KVM_EFAULT_RET, r.ret);
	EXPECT_EQ(FPHINT_HC_PENDING, outcome(&r, 0));
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		raw_init(&r);
		r.alloc = 0;
		r.page = RAW_ADDR;
		r.addr = addrs[i];
		ASSERT_EQ(0, raw_call(&r));
		EXPECT_EQ(KVM_EFAULT_RET, r.ret) TH_LOG("report page %#llx", (unsigned long long)addrs[i]);
	}
}

/* Entries the host must skip, one outcome each; the call itself succeeds. */
TEST_F(hc, bad_entries)
{
	struct hc_raw r;

	SKIP_UNLESS_OFFERED();

	/* Reserved bits, or an outcome the guest should have left pending. */
	raw_init(&r);
	r.nr = r.count = 4;
	r.entries[0] = FPHINT_HC_ENTRY(0x100000, 1) | 0x100;
	r.entries[1] = FPHINT_HC_ENTRY(0x100000, 1) | 0x800;
	r.entries[2] = FPHINT_HC_ENTRY(0x100000, 1) | FPHINT_HC_DISCARDED;
	r.entries[3] = FPHINT_HC_ENTRY(0x100000, 1) | 0xf00 | 0x7f;
	ASSERT_EQ(0, raw_call(&r));
	ASSERT_EQ(0, r.ret);
	for (int i = 0; i < 4; i++) {
		EXPECT_EQ(FPHINT_HC_SKIP_INVALID, outcome(&r, i)) TH_LOG("entry %d", i);
	}

	/*
	 * Outside RAM, over MMIO or ROM.  (Not the VGA window 0xa0000: with
	 * -nodefaults it is plain RAM, and the host rightly discards it.)
	 */
	raw_init(&r);
	r.nr = r.count = 5;
	r.entries[0] = FPHINT_HC_ENTRY(0xfee00, 1);		/* local APIC */
	r.entries[1] = FPHINT_HC_ENTRY(0xf0, 16);		/* BIOS 0xf0000 */
	r.entries[2] = FPHINT_HC_ENTRY(0xfed00, 1);		/* HPET */
	r.entries[3] = FPHINT_HC_ENTRY(1ULL << 28, 1);		/* 1 TiB */
	r.entries[4] = FPHINT_HC_ENTRY(0xffffffffffULL, 4096);	/* the last gfn */
	ASSERT_EQ(0, raw_call(&r));
	ASSERT_EQ(0, r.ret);
	for (int i = 0; i < 5; i++) {
		EXPECT_EQ(FPHINT_HC_SKIP_NOT_RAM, outcome(&r, i)) TH_LOG("entry %d", i);
	}

	/* The report page itself. */
	raw_init(&r);
	r.self = 0;
	ASSERT_EQ(0, raw_call(&r));
	ASSERT_EQ(0, r.ret);
	EXPECT_EQ(FPHINT_HC_SKIP_OVERLAP, outcome(&r, 0));
	EXPECT_EQ(r.report_gpa >> 12, FPHINT_HC_ENTRY_GFN(r.entries[0]));
}

/* Valid ranges: discarded; in a full page next to bad ones too. */
TEST_F(hc, valid_entries)
{
	struct hc_raw r;

	SKIP_UNLESS_OFFERED();

	for (unsigned int order = 0; order <= 10; order += 3) {
		raw_init(&r);
		r.alloc = 0;
		r.alloc_order = order;
		ASSERT_EQ(0, raw_call(&r));
		ASSERT_EQ(0, r.ret);
		EXPECT_TRUE(discarded(outcome(&r, 0))) TH_LOG("order %u: outcome %u", order, outcome(&r, 0));
		EXPECT_EQ(1ULL << order, FPHINT_HC_ENTRY_PAGES(r.entries[0]));
	}
	/* 512 entries: the allocated block in the middle, MMIO around it. */
	raw_init(&r);
	r.nr = r.count = FPHINT_HC_ENTRIES_MAX;
	for (int i = 0; i < FPHINT_HC_ENTRIES_MAX; i++)
		r.entries[i] = FPHINT_HC_ENTRY(0xfee00, 1);
	r.alloc = 300;
	r.alloc_order = 9;
	ASSERT_EQ(0, raw_call(&r));
	ASSERT_EQ(0, r.ret);
	EXPECT_TRUE(discarded(outcome(&r, 300)));
	EXPECT_EQ(FPHINT_HC_SKIP_NOT_RAM, outcome(&r, 0));
	EXPECT_EQ(FPHINT_HC_SKIP_NOT_RAM, outcome(&r, 511));
	/* Entries past count are not looked at. */
	raw_init(&r);
	r.nr = 2;
	r.count = 1;
	r.alloc = 0;
	r.entries[1] = FPHINT_HC_ENTRY(0xfee00, 1);
	ASSERT_EQ(0, raw_call(&r));
	ASSERT_EQ(0, r.ret);
	EXPECT_EQ(FPHINT_HC_PENDING, outcome(&r, 1));
}

/* Memory outside the ranges named reads back as written. */
TEST_F(hc, memory_intact)
{
	const size_t bytes = 64 << 20;
	uint64_t *buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	size_t words = bytes / sizeof(*buf), bad = 0;
	struct hc_raw r;

	SKIP_UNLESS_OFFERED();

	ASSERT_NE(MAP_FAILED, buf);
	for (size_t i = 0; i < words; i++)
		buf[i] = 0x5a5a000000000000ULL ^ i;
	for (int round = 0; round < 40; round++) {
		raw_init(&r);
		r.nr = r.count = 3;
		r.alloc = round % 3;
		r.alloc_order = round % 11;
		r.entries[(round + 1) % 3] = FPHINT_HC_ENTRY(0xfee00, 1);
		r.self = (round + 2) % 3;
		ASSERT_EQ(0, raw_call(&r));
		ASSERT_EQ(0, r.ret);
		EXPECT_TRUE(discarded(outcome(&r, r.alloc)));
	}
	for (size_t i = 0; i < words; i++)
		bad += buf[i] != (0x5a5a000000000000ULL ^ i);
	EXPECT_EQ(0, bad);
	munmap(buf, bytes);
	printf("@@HYPERCALL offered=1 calls=%llu\n",
	       (unsigned long long)(stat_u64("hypercalls") - self->calls));
}

TEST_HARNESS_MAIN
