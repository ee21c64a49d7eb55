// SPDX-License-Identifier: GPL-2.0
/*
 * fphint sysfs selftest: every file under /sys/kernel/mm/fphint/ with
 * valid and invalid writes (rejected with EINVAL, state unchanged), and
 * each stage doing real work in a booted guest: counters that move,
 * throttles that hold, injected transport failures that return every page.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fphint.h>

#include "kselftest_harness.h"
#include "fphint_util.h"

#define FAIL_EVERY "/sys/kernel/debug/fphint/fail_every_n_reports"
#define BACKOFF_MIN "/sys/kernel/debug/fphint/backoff_min_level"

/* Names and ranges come from the uapi header: it is the contract. */
static const struct { const char *file; const char *names[4]; } stages[] = {
	{ FP "capture", { FPHINT_CAPTURE_PERCPU, FPHINT_CAPTURE_BUDDY_SCAN } },
	{ FP "selection", { FPHINT_SELECTION_ZONE_SORT, FPHINT_SELECTION_FIFO } },
	{ FP "throttle", { FPHINT_THROTTLE_WATERMARK, FPHINT_THROTTLE_RATELIMIT,
			   FPHINT_THROTTLE_NONE } },
	{ FP "transport", { FPHINT_TRANSPORT_NULL } },
};

static const struct { const char *name; unsigned long min, max; } tunables[] = {
#define TUNABLE(NAME, name, def, min, max) { #name, min, max },
	FPHINT_TUNABLES(TUNABLE)
#undef TUNABLE
};

static const unsigned long tunable_def[] = {
#define TUNABLE(NAME, name, def, min, max) [FPHINT_TUNABLE_##NAME] = def,
	FPHINT_TUNABLES(TUNABLE)
#undef TUNABLE
};

/*
 * Every test starts from and returns to the defaults, saved once: a test
 * that fails half way must not leave the next one a strange state.
 */
FIXTURE(fphint) {
	struct snapshot saved;
};

FIXTURE_SETUP(fphint)
{
	ASSERT_EQ(0, access(FP "enabled", F_OK)) TH_LOG("no fphint in this kernel");
	snap(&self->saved);
	ASSERT_EQ(0, write_str(FP "enabled", "1"));
}

FIXTURE_TEARDOWN(fphint)
{
	restore_config(&self->saved);
	write_str(FAIL_EVERY, "0");
	write_str(BACKOFF_MIN, "0");
	write_str(FP "enabled", "1");
}

/*
 * First, before any test writes min_order: the default min_order is in
 * force on the free path from boot, so frees of smaller blocks are turned
 * away there (below_order) instead of all taking the capture path.
 */
TEST_F(fphint, min_order_default_applies_from_boot)
{
	size_t pages = 16384;	/* more than the per-CPU page lists hold */
	char *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t below = stat_u64("below_order");

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(tunable_def[FPHINT_TUNABLE_MIN_ORDER], read_u64(FP "min_order"));
	for (size_t i = 0; i < pages; i++)
		p[i * 4096] = 1;
	/* Every other page: order-0 holes that cannot merge. */
	for (size_t i = 0; i < pages; i += 2)
		munmap(p + i * 4096, 4096);
	EXPECT_GT(wait_stat_above("below_order", below, 5), below);
	for (size_t i = 1; i < pages; i += 2)
		munmap(p + i * 4096, 4096);
}

/*
 * A shorter report_delay_ms applies to the pass already waiting: after
 * 60000 -> 100 a pass runs within seconds, not a minute later.
 */
TEST_F(fphint, shorter_delay_rearms_pending_pass)
{
	uint64_t passes;

	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "60000"));
	sleep(1);
	churn(32);	/* arms the worker for 60 s from now */
	usleep(500000);
	passes = stat_u64("passes");
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "100"));
	EXPECT_GT(wait_stat_above("passes", passes, 10), passes);
}

TEST_F(fphint, enabled_file)
{
	char buf[16];

	ASSERT_EQ(0, write_str(FP "enabled", "0"));
	ASSERT_EQ(0, read_str(FP "enabled", buf, sizeof(buf)));
	EXPECT_STREQ("0", buf);
	static const char *bads[] = { "2", "-1", "yes", "\n", "1x", "99999999999999999999" };

	for (size_t i = 0; i < ARRAY_SIZE(bads); i++) {
		const char *bad = bads[i];

		EXPECT_EQ(-EINVAL, write_str(FP "enabled", bad)) TH_LOG("enabled <- '%s'", bad);
		ASSERT_EQ(0, read_str(FP "enabled", buf, sizeof(buf)));
		EXPECT_STREQ("0", buf);
	}
	ASSERT_EQ(0, write_str(FP "enabled", "1"));
	ASSERT_EQ(0, read_str(FP "enabled", buf, sizeof(buf)));
	EXPECT_STREQ("1", buf);
}

TEST_F(fphint, stage_files)
{
	char cur[32], buf[256];

	for (size_t i = 0; i < ARRAY_SIZE(stages); i++) {
		/* Reads list every name, the current one bracketed. */
		ASSERT_EQ(0, read_str(stages[i].file, buf, sizeof(buf)));
		for (int j = 0; j < 4 && stages[i].names[j]; j++) {
			EXPECT_NE(NULL, strstr(buf, stages[i].names[j])) TH_LOG("%s: %s", stages[i].file, buf);
			ASSERT_EQ(0, write_str(stages[i].file, stages[i].names[j]));
			ASSERT_EQ(0, current_stage(stages[i].file, cur, sizeof(cur)));
			EXPECT_STREQ(stages[i].names[j], cur);
		}
		/* Bad names change nothing. */
		ASSERT_EQ(0, current_stage(stages[i].file, cur, sizeof(cur)));
		static const char *bads[] = { "bogus", "\n", "[null]", "percpu buddy-scan", "PERCPU", "0" };

		for (size_t k = 0; k < ARRAY_SIZE(bads); k++) {
			const char *bad = bads[k];
			char after[32];

			EXPECT_EQ(-EINVAL, write_str(stages[i].file, bad)) TH_LOG("%s <- '%s'", stages[i].file, bad);
			ASSERT_EQ(0, current_stage(stages[i].file, after, sizeof(after)));
			EXPECT_STREQ(cur, after);
		}
	}
}

TEST_F(fphint, tunable_files)
{
	char path[128], val[32], before[64], after[64];

	for (size_t i = 0; i < ARRAY_SIZE(tunables); i++) {
		snprintf(path, sizeof(path), FP "%s", tunables[i].name);
		/* Both ends of the range are accepted and read back. */
		unsigned long ends[] = { tunables[i].min, tunables[i].max };

		for (size_t k = 0; k < 2; k++) {
			unsigned long v = ends[k];

			snprintf(val, sizeof(val), "%lu", v);
			EXPECT_EQ(0, write_str(path, val)) TH_LOG("%s <- %s", path, val);
			ASSERT_EQ(0, read_str(path, after, sizeof(after)));
			EXPECT_STREQ(val, after);
		}
		ASSERT_EQ(0, write_str(path, self->saved.v[i]));
		ASSERT_EQ(0, read_str(path, before, sizeof(before)));
		char below[32], above[32];

		snprintf(below, sizeof(below), "%lu", tunables[i].min - 1);
		snprintf(above, sizeof(above), "%lu", tunables[i].max + 1);
		const char *bad[] = { above, "-1", "\n", "abc", "12abc", "0x10", "1.5",
				      "18446744073709551616", "99999999999999999999999",
				      tunables[i].min ? below : "-0x1" };
		for (size_t j = 0; j < ARRAY_SIZE(bad); j++) {
			EXPECT_EQ(-EINVAL, write_str(path, bad[j])) TH_LOG("%s <- '%s'", path, bad[j]);
			ASSERT_EQ(0, read_str(path, after, sizeof(after)));
			EXPECT_STREQ(before, after);
		}
	}
}

TEST_F(fphint, stats_files)
{
	static const char *names[] = {
#define STAT(NAME, name) #name,
		FPHINT_STATS(STAT)
#undef STAT
		"isolated_now_pages", "report_delay_now_ms" };
	char path[128];

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), FP "stats/%s", names[i]);
		EXPECT_NE(UINT64_MAX, read_u64(path)) TH_LOG("%s", path);
		/* Read-only, even for root. */
		EXPECT_EQ(-EACCES, write_str(path, "0")) TH_LOG("%s", path);
	}
}

/*
 * Bad input sweep: every writable file gets every kind of bad value
 * (negative, huge, empty, not a number, overlong, unknown keyword, and
 * for tunables one past each end of the range); each write must fail with
 * EINVAL (sysfs cuts writes at a page, so the 5000-byte one too) and the
 * whole configuration must read back unchanged.  Read-only files refuse writes with EACCES; so does every
 * writable one for a non-root caller.  Prints "@@BADINPUT sysfs=N".
 */
TEST_F(fphint, bad_input_sweep)
{
	static char page[4097], over[5000];
	const char *common[] = {
		"", "\n", " ", "\t\n", "-1", "-0x1", "abc", "1x", "x1", "0x10", "1.5", "1e3", "+-1",
		"18446744073709551616", "99999999999999999999999", "[null]", "null fifo",
		"no-such-stage", "PERCPU", "1 2", page, over,
	};
	const char *stage_only[] = { "0", "1", "42" };
	const char *enabled_only[] = { "2", "10", "ye", "on1" };
	struct snapshot before, after;
	char path[128], val[64];
	int tried = 0, nfiles = 0;
	const char *files[32];

	memset(page, '7', sizeof(page) - 1);
	memset(over, 'a', sizeof(over) - 1);
	files[nfiles++] = FP "enabled";
	files[nfiles++] = FP "host_policy";
	for (size_t i = 0; i < ARRAY_SIZE(stages); i++)
		files[nfiles++] = stages[i].file;
	for (size_t i = 0; i < ARRAY_SIZE(tunables); i++) {
		static char paths[ARRAY_SIZE(tunables)][128];

		snprintf(paths[i], sizeof(paths[i]), FP "%s", tunables[i].name);
		files[nfiles++] = paths[i];
	}

/* One bad write: refused, and nothing anywhere changed. */
#define SWEEP(file, bad, want)							\
	do {									\
		snap(&before);							\
		int __err = write_str((file), (bad));				\
		EXPECT_EQ((want), __err) TH_LOG("%s <- '%.20s' (%zu bytes)", (file), (bad), strlen(bad)); \
		snap(&after);							\
		EXPECT_EQ(0, memcmp(&before, &after, sizeof(before)))		\
			TH_LOG("%s <- '%.20s' changed the configuration", (file), (bad)); \
		tried++;							\
	} while (0)

	/* A write of 0 bytes never reaches the file's handler: a no-op. */
	for (int f = 0; f < nfiles; f++)
		for (size_t i = 0; i < ARRAY_SIZE(common); i++)
			SWEEP(files[f], common[i], common[i][0] ? -EINVAL : 0);
	for (size_t f = 0; f < ARRAY_SIZE(stages); f++)
		for (size_t i = 0; i < ARRAY_SIZE(stage_only); i++)
			SWEEP(stages[f].file, stage_only[i], -EINVAL);
	for (size_t i = 0; i < ARRAY_SIZE(enabled_only); i++) {
		SWEEP(FP "enabled", enabled_only[i], -EINVAL);
		SWEEP(FP "host_policy", enabled_only[i], -EINVAL);
	}
	for (size_t i = 0; i < ARRAY_SIZE(tunables); i++) {
		snprintf(path, sizeof(path), FP "%s", tunables[i].name);
		snprintf(val, sizeof(val), "%lu", tunables[i].max + 1);
		SWEEP(path, val, -EINVAL);
		snprintf(val, sizeof(val), "%lu", tunables[i].max * 16 + 15);
		SWEEP(path, val, -EINVAL);
		snprintf(val, sizeof(val), "%lu", 0xffffffffUL + tunables[i].min);
		SWEEP(path, val, -EINVAL);	/* wraps to min in 32 bits */
		if (tunables[i].min) {
			snprintf(val, sizeof(val), "%lu", tunables[i].min - 1);
			SWEEP(path, val, -EINVAL);
		}
	}
	/* Read-only: the policy in force and every statistic. */
	static const char *stat_names[] = {
#define STAT(NAME, name) #name,
		FPHINT_STATS(STAT)
#undef STAT
		"isolated_now_pages", "report_delay_now_ms" };
	SWEEP(FP "policy", "default", -EACCES);
	SWEEP(FP "policy_source", "host", -EACCES);
	for (size_t i = 0; i < ARRAY_SIZE(stat_names); i++) {
		snprintf(path, sizeof(path), FP "stats/%s", stat_names[i]);
		SWEEP(path, "0", -EACCES);
	}

	/* Non-root: a valid value for every writable file, each refused. */
	pid_t pid = fork();
	int status;

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int bad = 0;

		snap(&before);
		if (setgid(65534) || setuid(65534))
			_exit(255);
		for (int f = 0; f < nfiles; f++)
			bad += write_str(files[f], f == 0 ? "1" : f <= 4 ? "null" : "5") != -EACCES;
		snap(&after);
		bad += !!memcmp(&before, &after, sizeof(before));
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("%d non-root writes not refused", WEXITSTATUS(status));
	tried += nfiles;
	printf("@@BADINPUT sysfs=%d\n", tried);
	fflush(stdout);
#undef SWEEP
}

/* Unprivileged writers are turned away and nothing changes. */
TEST_F(fphint, nonroot_rejected)
{
	char before[64], after[64];
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(3);
		_exit(write_str(FP "min_order", "0") == -EACCES &&
		      write_str(FP "enabled", "0") == -EACCES &&
		      write_str(FP "transport", "null") == -EACCES ? 0 : 1);
	}
	ASSERT_EQ(0, read_str(FP "min_order", before, sizeof(before)));
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, read_str(FP "min_order", after, sizeof(after)));
	EXPECT_STREQ(before, after);
	EXPECT_EQ(1, read_u64(FP "enabled"));
}

/* percpu + zone-sort + null: freed memory is captured, isolated, reported, returned. */
TEST_F(fphint, percpu_reports_freed_memory)
{
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	uint64_t cap = stat_u64("captured"), rep = stat_u64("reported_pages");
	uint64_t reports = stat_u64("reports");

	churn(256);
	EXPECT_GT(wait_stat_above("reported_pages", rep + 16384, 20), rep + 16384);
	EXPECT_GT(stat_u64("captured"), cap);
	EXPECT_GT(stat_u64("reports"), reports);
	EXPECT_EQ(0, wait_isolated_zero(10));
}

/*
 * What the passes cost is counted: their wall time (pass_ns) and, within
 * it, the time they held a zone's lock (zone_lock_ns).
 */
TEST_F(fphint, pass_and_zone_lock_time_counted)
{
	uint64_t passes, pass_ns, lock_ns, rep;

	ASSERT_EQ(0, write_str(FP "transport", "null"));
	passes = stat_u64("passes");
	pass_ns = stat_u64("pass_ns");
	lock_ns = stat_u64("zone_lock_ns");
	rep = stat_u64("reported_pages");

	churn(256);
	EXPECT_GT(wait_stat_above("reported_pages", rep + 16384, 20), rep + 16384);
	/*
	 * A configuration write waits for the pass in flight; a pass already
	 * due still runs, well within the second after.  Then none runs
	 * while the counters are read (no frees, the next one a minute away).
	 */
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "60000"));
	sleep(1);
	EXPECT_EQ(0, wait_isolated_zero(10));
	passes = stat_u64("passes") - passes;
	lock_ns = stat_u64("zone_lock_ns") - lock_ns;
	pass_ns = stat_u64("pass_ns") - pass_ns;
	TH_LOG("%llu passes: %llu us in all, %llu us of it under zone->lock",
	       (unsigned long long)passes, (unsigned long long)pass_ns / 1000,
	       (unsigned long long)lock_ns / 1000);
	EXPECT_GT(passes, 0);
	EXPECT_GT(lock_ns, 0);
	EXPECT_GE(pass_ns, lock_ns);
}

/*
 * Memory that was in use for a while and is freed whole (a job exits) is
 * reported at once, even with a report delay of a minute: the region that
 * becomes one free block kicks a pass at the next tick.  (Memory freed
 * right after it was taken waits the delay: shorter_delay_rearms_pending_pass
 * relies on that.)
 */
TEST_F(fphint, used_memory_freed_whole_reported_at_once)
{
	const uint64_t pages = (256 << 20) / 4096;
	uint64_t rep, got;
	int status;
	pid_t pid;

	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "60000"));
	sleep(1);
	/*
	 * 256 MiB, not 64: the allocator hands out the small free blocks of
	 * regions in use by others first, and what the job freed there is
	 * no region freed whole; after the earlier tests those took 20 to
	 * 52 MiB of a 64 MiB job.  Past them, it splits regions of its own.
	 */
	pid = hold_memory(pages * 4096);
	ASSERT_GT(pid, 0);
	sleep(2);	/* longer than FPHINT_SETTLED_LIFE_MS */
	rep = stat_u64("reported_pages");
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	/* Half of it: the rest may sit on the per-CPU lists or in shared regions. */
	got = wait_stat_above("reported_pages", rep + pages / 2, 10) - rep;
	TH_LOG("%llu of %llu pages reported", (unsigned long long)got,
	       (unsigned long long)pages);
	EXPECT_GT(got, pages / 2);
	EXPECT_EQ(0, wait_isolated_zero(10));
}

/* With a device, the same through virtio (the host acks every report). */
TEST_F(fphint, virtio_reports_freed_memory)
{
	if (write_str(FP "transport", "virtio"))
		SKIP(return, "no virtio-balloon reporting device in this guest");
	expect_reported_cleanly(_metadata, 256);
}

/* fifo selection and buddy-scan capture both deliver too. */
TEST_F(fphint, fifo_and_buddy_scan)
{
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FP "selection", "fifo"));
	uint64_t rep = stat_u64("reported_pages");

	churn(128);
	EXPECT_GT(wait_stat_above("reported_pages", rep + 8192, 20), rep + 8192);

	/* buddy-scan finds memory freed while fphint was off: nobody saw it go. */
	ASSERT_EQ(0, write_str(FP "selection", "zone-sort"));
	ASSERT_EQ(0, write_str(FP "enabled", "0"));
	churn(256);
	ASSERT_EQ(0, write_str(FP "capture", "buddy-scan"));
	rep = stat_u64("reported_pages");
	ASSERT_EQ(0, write_str(FP "enabled", "1"));	/* a configuration change starts a pass */
	EXPECT_GT(wait_stat_above("reported_pages", rep + 32768, 20), rep + 32768);
	EXPECT_EQ(0, wait_isolated_zero(10));
}

/* Disabled: nothing is captured or reported. */
TEST_F(fphint, disabled_reports_nothing)
{
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FP "enabled", "0"));
	uint64_t cap = stat_u64("captured"), rep = stat_u64("reported_pages");

	churn(128);
	sleep(1);
	EXPECT_EQ(cap, stat_u64("captured"));
	EXPECT_EQ(rep, stat_u64("reported_pages"));
}

/* Below the low-memory floor the watermark throttle holds everything back. */
TEST_F(fphint, watermark_throttle_holds)
{
	/* A process holding 60 % of RAM brings MemAvailable below 50 %. */
	pid_t pid = hold_memory((size_t)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) / 10 * 6);

	ASSERT_GT(pid, 0);
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FP "throttle", "watermark"));
	ASSERT_EQ(0, write_str(FP "low_mem_pct", "50"));
	uint64_t thr = stat_u64("throttled"), rep = stat_u64("reported_pages");

	churn(128);
	EXPECT_GT(wait_stat_above("throttled", thr, 10), thr);
	sleep(1);
	EXPECT_EQ(rep, stat_u64("reported_pages"));
	EXPECT_EQ(0, wait_isolated_zero(10));
	/* Released: reporting resumes on the next frees. */
	ASSERT_EQ(0, write_str(FP "low_mem_pct", "0"));
	churn(128);
	EXPECT_GT(wait_stat_above("reported_pages", rep, 20), rep);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ratelimit: no more than the budget (one second of burst + the rate). */
TEST_F(fphint, ratelimit_caps_rate)
{
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FP "ratelimit_mib_s", "8"));
	ASSERT_EQ(0, write_str(FP "throttle", "ratelimit"));
	uint64_t bytes = stat_u64("reported_bytes");

	churn(256);
	sleep(2);
	uint64_t got = stat_u64("reported_bytes") - bytes;

	/* 8 MiB burst + 8 MiB/s for ~2 s, a batch of 4 MiB blocks of slack. */
	EXPECT_LE(got, (8 + 8 * 3 + 32 * 4) << 20) TH_LOG("reported %llu bytes", (unsigned long long)got);
	EXPECT_GT(got, 0);
	/* Switching away ends the rate-limited pass promptly. */
	ASSERT_EQ(0, write_str(FP "throttle", "none"));
	EXPECT_EQ(0, wait_isolated_zero(10));
}

/*
 * Memory reported and then reused at once makes fphint back off, and it
 * recovers.  (Steady churn never gets that far: its regions never go quiet,
 * and a region a pageblock or more of which was taken under a second ago
 * waits out that second.  Pausing
 * 1.2 s between rounds lets a round's memory be reported, so the next one
 * reuses it.)  Reported blocks go back to the tail of the free lists, so
 * in a guest with most of its memory free the allocator takes what was
 * reported rounds ago, outside the churn window, and nothing counts as
 * churned: a process holds all but 96 MiB, so each round of 64 MiB takes
 * memory the last one reported (with 256 MiB free and 1.5 s pauses, it
 * took memory reported four rounds, 5 s, before: 120 rounds, no backoff).
 */
TEST_F_TIMEOUT(fphint, churn_backs_off, 600)
{
	long spare_kib = free_kib() - (96 << 10);
	pid_t pid;

	/* Only memory a host discarded is marked reported, so only it counts as reused. */
	if (write_str(FP "transport", "virtio"))
		SKIP(return, "no virtio-balloon reporting device in this guest");
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "10"));
	/* Not held back while memory is low: the backoff is under test. */
	ASSERT_EQ(0, write_str(FP "throttle", "none"));
	pid = spare_kib > 0 ? hold_memory((size_t)spare_kib << 10) : 0;
	ASSERT_GE(pid, 0);
	uint64_t reused = stat_u64("reused_pages"), backoffs = stat_u64("backoffs");

	/* Rounds until the backoff engages; how many depends on the host's load. */
	int rounds = 0;

	while (rounds < 120 && stat_u64("backoffs") <= backoffs) {
		churn(64);
		usleep(1200000);
		rounds++;
	}
	EXPECT_GT(stat_u64("reused_pages"), reused);
	EXPECT_GT(stat_u64("backoffs"), backoffs)
		TH_LOG("%d rounds, reused +%llu, churned %llu, reports %llu", rounds,
		       (unsigned long long)(stat_u64("reused_pages") - reused),
		       (unsigned long long)stat_u64("churned_pages"),
		       (unsigned long long)stat_u64("reports"));
	/* Once the churn stops the delay comes back down to report_delay_ms. */
	uint64_t now = stat_u64("report_delay_now_ms");

	for (int i = 0; i < 300 && now > 10; i++) {
		usleep(100000);
		now = stat_u64("report_delay_now_ms");
	}
	EXPECT_EQ(10, now) TH_LOG("delay still %llu ms after 30 s", (unsigned long long)now);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
}

/* Injected transport failures: counted, every page back, then recovery. */
TEST_F(fphint, injected_failures_return_pages)
{
	if (access(FAIL_EVERY, W_OK))
		SKIP(return, "debugfs not mounted");
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FAIL_EVERY, "1"));
	uint64_t errs = stat_u64("report_errors"), rep = stat_u64("reported_pages");
	churn(128);
	EXPECT_GT(wait_stat_above("report_errors", errs, 20), errs);
	EXPECT_EQ(rep, stat_u64("reported_pages"));
	EXPECT_EQ(0, wait_isolated_zero(10));

	ASSERT_EQ(0, write_str(FAIL_EVERY, "0"));
	churn(128);
	EXPECT_GT(wait_stat_above("reported_pages", rep, 20), rep);
}

/* Stages and tunables switched while memory churns: nothing stuck, nothing lost. */
TEST_F(fphint, switch_under_load)
{
	static const char *sets[][2] = {
		{ FP "capture", "buddy-scan" }, { FP "capture", "percpu" },
		{ FP "selection", "fifo" }, { FP "selection", "zone-sort" },
		{ FP "throttle", "ratelimit" }, { FP "throttle", "none" },
		{ FP "throttle", "watermark" }, { FP "transport", "null" },
		{ FP "capture_batch", "16" }, { FP "capture_batch", "8192" },
		{ FP "min_order", "0" }, { FP "min_order", "9" },
		{ FP "report_batch", "1" }, { FP "report_batch", "512" },
		{ FP "enabled", "0" }, { FP "enabled", "1" },
	};
	pid_t pid = fork();

	ASSERT_GE(pid, 0);
	if (pid == 0) {
		for (int i = 0; i < 40; i++)
			churn(32);
		_exit(0);
	}
	for (int i = 0; i < 400; i++) {
		const char **s = (const char **)sets[(i * 7) % ARRAY_SIZE(sets)];

		ASSERT_EQ(0, write_str(s[0], s[1])) TH_LOG("%s <- %s", s[0], s[1]);
		usleep(2000);
	}
	int status;

	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, wait_isolated_zero(10));
}

/*
 * Frees dropped because the capture buffers were full are found by a later
 * pass, also while the churn backoff is engaged (pinned here through the
 * fault-injection knob): 512 MiB freed at once overflows 16-entry
 * buffers, and all of it must end up reported again.
 */
TEST_F_TIMEOUT(fphint, dropped_frees_found_under_backoff, 120)
{
	long rf0, rf = 0, want = 512L << 8;
	uint64_t dropped;
	char *p;

	if (write_str(FP "transport", "virtio"))
		SKIP(return, "no virtio-balloon reporting device in this guest");
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "20"));
	ASSERT_EQ(0, write_str(FP "capture_batch", "16"));
	ASSERT_EQ(0, write_str(BACKOFF_MIN, "3"));
	ASSERT_EQ(160, stat_u64("report_delay_now_ms"));
	p = mmap(NULL, 512UL << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (size_t off = 0; off < (512UL << 20); off += 4096)
		p[off] = 1;
	/* Whatever of it was reported free before is allocated now. */
	rf0 = reported_free_pages();
	ASSERT_LE(0, rf0);
	dropped = stat_u64("dropped");
	munmap(p, 512UL << 20);
	EXPECT_GT(stat_u64("dropped"), dropped);
	for (int i = 0; i < 60 && (rf = reported_free_pages()) < rf0 + want * 9 / 10; i++)
		sleep(1);
	EXPECT_GE(rf, rf0 + want * 9 / 10) TH_LOG("reported free %ld pages, %ld before", rf, rf0);
	EXPECT_EQ(160, stat_u64("report_delay_now_ms"));
	write_str(BACKOFF_MIN, "0");
	EXPECT_EQ(0, wait_isolated_zero(10));
}

/*
 * PageReported means "a host discarded this": what goes through null is
 * put back unmarked, so no free memory counts as reported.
 */
TEST_F(fphint, null_marks_nothing_reported)
{
	long rf = reported_free_pages();
	uint64_t rep = stat_u64("reported_pages");

	ASSERT_LE(0, rf);
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	churn(128);
	EXPECT_GT(wait_stat_above("reported_pages", rep + 16384, 20), rep + 16384);
	EXPECT_EQ(0, wait_isolated_zero(10));
	/* What a host discarded earlier may still be free; null adds nothing. */
	EXPECT_LE(reported_free_pages(), rf);
}

/*
 * Pages a free leaves on the per-CPU lists are out of every pass's reach;
 * once the frees stop, fphint hands them to the buddy (pcp_drains), and
 * only fphint: disabled, they stay where they are.
 */
TEST_F(fphint, pcp_lists_drained_once_frees_stop)
{
	size_t bytes = 128UL << 20, piece = 64 << 10;
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long filled, high_per_cpu;
	uint64_t drains;

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, write_str(FP "transport", "null"));
	ASSERT_EQ(0, write_str(FP "enabled", "0"));
	/* 4 KiB pages, 3 of every 4 64 KiB pieces freed: order-0 frees fill the lists. */
	ASSERT_EQ(0, madvise(p, bytes, MADV_NOHUGEPAGE));
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
	for (size_t off = 0; off < bytes; off += piece)
		if ((off / piece) % 4 != 3)
			munmap(p + off, piece);
	filled = pcp_pages(&high_per_cpu);
	TH_LOG("per-CPU lists: %ld pages after the free, high %ld per CPU",
	       filled, high_per_cpu);
	/* What core.c calls worth a drain (pageblock: 512 pages here). */
	ASSERT_GE(filled, 512);
	ASSERT_GE(4 * filled, high_per_cpu);

	drains = stat_u64("pcp_drains");
	sleep(2);
	EXPECT_EQ(drains, stat_u64("pcp_drains"));
	EXPECT_GE(pcp_pages(NULL), filled / 2);

	/* Enabling starts a pass; no frees came since the last one. */
	ASSERT_EQ(0, write_str(FP "enabled", "1"));
	EXPECT_GT(wait_stat_above("pcp_drains", drains, 10), drains);
	EXPECT_LT(pcp_pages(NULL), filled / 2);
	EXPECT_EQ(0, wait_isolated_zero(10));
	for (size_t off = 3 * piece; off < bytes; off += 4 * piece)
		munmap(p + off, piece);
}

TEST_HARNESS_MAIN
