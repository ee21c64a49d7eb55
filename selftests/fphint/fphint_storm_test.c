// SPDX-License-Identifier: GPL-2.0
/*
 * Runtime switch storm: on every CPU a worker allocates memory of mixed
 * sizes, fills it with a pattern unique to the page and the round, checks
 * it and frees it (in pieces, so the buddy sees fragments), while one
 * process switches every stage, every tunable, enabled and injected
 * transport failures at random every 2-50 ms.  Afterwards: no page with
 * the wrong content, nothing left isolated, free memory back to where it
 * was, counters consistent.  Every page a worker gets must read zero
 * where it did not write yet, the known-zero blocks fphint hands out
 * without zeroing them included (transport hypercall joins the storm when
 * the host offers it; known_zero is one of the tunables switched), and the
 * kernel's own check of known-zero blocks, where built in, must find
 * every one zero.  FPHINT_STORM_SECS sets the length (60).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/fphint.h>

#include "kselftest_harness.h"
#include "fphint_util.h"

#define FAIL_EVERY "/sys/kernel/debug/fphint/fail_every_n_reports"

static const char *capture[] = { FPHINT_CAPTURE_PERCPU, FPHINT_CAPTURE_BUDDY_SCAN };
static const char *selection[] = { FPHINT_SELECTION_ZONE_SORT, FPHINT_SELECTION_FIFO };
/* hypercall last: only while the host offers it (see transports). */
static const char *transport[] = { FPHINT_TRANSPORT_VIRTIO, FPHINT_TRANSPORT_NULL,
				   FPHINT_TRANSPORT_HYPERCALL };
static int transports = 2;
static const char *throttle[] = { FPHINT_THROTTLE_WATERMARK, FPHINT_THROTTLE_RATELIMIT,
				  FPHINT_THROTTLE_NONE };
static const struct { const char *name; unsigned long min, max, def; } tunables[] = {
#define X(NAME, name, def, min, max) { #name, min, max, def },
	FPHINT_TUNABLES(X)
#undef X
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * One worker: rounds of mmap, fill, verify, free in random pieces.
 * Returns the pages verified on stdout's pipe; exit 1 on a mismatch.
 */
static void worker(int id, double until, int out)
{
	uint64_t verified = 0, round = 0;
	unsigned int seed = getpid();

	while (now() < until) {
		/* 64 KiB to 64 MiB, most of them small. */
		size_t pages = 16UL << (rand_r(&seed) % 11);
		size_t bytes = pages * 4096;
		uint64_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		uint64_t tag = ((uint64_t)id << 48) ^ (round++ << 20);

		if (p == MAP_FAILED)
			continue;
		for (size_t i = 0; i < pages; i++) {
			/* The first word faults the page in; the rest must be zero. */
			p[i * 512] = tag ^ (i * 512);
			for (size_t w = 64; w < 512; w += 64) {
				if (p[i * 512 + w]) {
					fprintf(stderr, "worker %d: new page %zu word %zu: %#llx, not zero\n",
						id, i, w, (unsigned long long)p[i * 512 + w]);
					exit(1);
				}
				p[i * 512 + w] = tag ^ (i * 512 + w);
			}
		}
		/*
		 * Twice, a moment apart: a page reported while in use would
		 * read back zero once the host discarded it.
		 */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < pages; i++) {
				for (size_t w = 0; w < 512; w += 64) {
					if (p[i * 512 + w] == (tag ^ (i * 512 + w)))
						continue;
					fprintf(stderr, "worker %d: page %zu word %zu: %#llx != %#llx\n",
						id, i, w, (unsigned long long)p[i * 512 + w],
						(unsigned long long)(tag ^ (i * 512 + w)));
					exit(1);
				}
			}
			usleep(rand_r(&seed) % 20000);
		}
		verified += pages;
		/* Free every other piece first: fragments for the selection to chew on. */
		for (size_t off = 0; off < pages; off += 32)
			if ((off / 32) % 2)
				munmap((char *)p + off * 4096, (pages - off < 32 ? pages - off : 32) * 4096);
		for (size_t off = 0; off < pages; off += 32)
			if (!((off / 32) % 2))
				munmap((char *)p + off * 4096, (pages - off < 32 ? pages - off : 32) * 4096);
	}
	if (write(out, &verified, sizeof(verified)) != sizeof(verified))
		exit(2);
	exit(0);
}

/* Is @name among the transports now available? */
static int transport_listed(const char *name)
{
	char buf[256], *tok, *save;

	if (read_str(FP "transport", buf, sizeof(buf)))
		return 0;
	for (tok = strtok_r(buf, " []\n", &save); tok; tok = strtok_r(NULL, " []\n", &save))
		if (!strcmp(tok, name))
			return 1;
	return 0;
}

/* One random change; returns 1 if it was accepted (or refused for a device gone). */
static int switch_once(unsigned int *seed)
{
	char path[128], val[32];
	int r = rand_r(seed) % 16;

	if (r < 2)
		return !write_str(FP "capture", capture[rand_r(seed) % 2]);
	if (r < 4)
		return !write_str(FP "selection", selection[rand_r(seed) % 2]);
	if (r < 5) {
		const char *t = transport[rand_r(seed) % transports];

		if (!write_str(FP "transport", t))
			return 1;
		/* The host may have unplugged the balloon (check.py storm-hotplug). */
		return !transport_listed(t);
	}
	if (r < 7)
		return !write_str(FP "throttle", throttle[rand_r(seed) % 3]);
	if (r < 8)
		return !write_str(FP "enabled", rand_r(seed) % 4 ? "1" : "0");
	if (r < 9) {
		static const char *every[] = { "0", "0", "3", "7" };

		return !write_str(FAIL_EVERY, every[rand_r(seed) % 4]);
	}
	/* Tunables: anywhere in range, but keep the rate limit and delay sane. */
	r = rand_r(seed) % (int)ARRAY_SIZE(tunables);
	{
		unsigned long lo = tunables[r].min, hi = tunables[r].max, v;

		if (!strcmp(tunables[r].name, "report_delay_ms"))
			hi = 500;
		if (!strcmp(tunables[r].name, "ratelimit_mib_s"))
			lo = 64, hi = 4096;
		if (!strcmp(tunables[r].name, "low_mem_pct"))
			hi = 20;
		v = lo + rand_r(seed) % (hi - lo + 1);
		snprintf(path, sizeof(path), FP "%s", tunables[r].name);
		snprintf(val, sizeof(val), "%lu", v);
		return !write_str(path, val);
	}
}

FIXTURE(storm) {
	int unused;
};
FIXTURE_SETUP(storm) { }
FIXTURE_TEARDOWN(storm) { }

TEST_F_TIMEOUT(storm, runtime_switch_storm, 900)
{
	const char *env = getenv("FPHINT_STORM_SECS");
	int secs = env ? atoi(env) : 60, ncpu = sysconf(_SC_NPROCESSORS_ONLN), pipefd[2];
	long free_before, free_after;
	uint64_t verified = 0, v, switches = 0, rejected = 0, errs_before, errs_after;
	uint64_t reports_before, reports_after;
	uint64_t kz_before[4], kz_after[4];
	static const char *const kz[4] = {
		"known_zero_pages", "zeroing_skipped_pages",
		"known_zero_checked_pages", "known_zero_mismatches",
	};
	double until;
	unsigned int seed = 12345;
	pid_t pids[64];
	char path[128], val[32];
	int status, i, bad = 0;

	ASSERT_EQ(0, access(FP "enabled", F_OK));
	ASSERT_EQ(0, pipe(pipefd));
	if (ncpu > 64)
		ncpu = 64;
	/* The host offers the report hypercall: it joins the storm. */
	if (!write_str(FP "transport", FPHINT_TRANSPORT_HYPERCALL))
		transports = 3;
	write_str(FP "transport", FPHINT_TRANSPORT_DEFAULT);
	for (i = 0; i < 4; i++)
		kz_before[i] = stat_u64(kz[i]);
	free_before = free_kib();
	errs_before = stat_u64("report_errors");
	reports_before = stat_u64("reports");
	until = now() + secs;
	for (i = 0; i < ncpu; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			worker(i, until, pipefd[1]);
	}
	while (now() < until) {
		if (switch_once(&seed))
			switches++;
		else
			rejected++;
		usleep(2000 + rand_r(&seed) % 48000);	/* every 2-50 ms */
	}
	for (i = 0; i < ncpu; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
		else if (read(pipefd[0], &v, sizeof(v)) == sizeof(v))
			verified += v;
	}

	/* Back to the defaults, real transport, no injected failures. */
	write_str(FAIL_EVERY, "0");
	write_str(FP "enabled", "1");
	write_str(FP "capture", FPHINT_CAPTURE_DEFAULT);
	write_str(FP "selection", FPHINT_SELECTION_DEFAULT);
	write_str(FP "transport", FPHINT_TRANSPORT_DEFAULT);
	write_str(FP "throttle", FPHINT_THROTTLE_DEFAULT);
	for (i = 0; i < (int)ARRAY_SIZE(tunables); i++) {
		snprintf(path, sizeof(path), FP "%s", tunables[i].name);
		snprintf(val, sizeof(val), "%lu", tunables[i].def);
		write_str(path, val);
	}
	for (i = 0; i < 100 && stat_u64("isolated_now_pages"); i++)
		usleep(100000);
	/* Exited workers' page tables and RCU-freed memory come back late. */
	for (i = 0; i < 300 && (free_after = free_kib()) < free_before - 16 * 1024; i++)
		usleep(100000);
	errs_after = stat_u64("report_errors");
	reports_after = stat_u64("reports");
	for (i = 0; i < 4; i++)
		kz_after[i] = stat_u64(kz[i]);

	printf("@@STORM secs=%d cpus=%d switches=%llu rejected=%llu pages_verified=%llu "
	       "reports=%llu injected_failures=%llu free_before_kib=%ld free_after_kib=%ld\n",
	       secs, ncpu, (unsigned long long)switches, (unsigned long long)rejected,
	       (unsigned long long)verified, (unsigned long long)(reports_after - reports_before),
	       (unsigned long long)(errs_after - errs_before), free_before, free_after);
	printf("@@STORMKZ transports=%d known_zero_pages=%llu zeroing_skipped_pages=%llu "
	       "known_zero_checked_pages=%llu known_zero_mismatches=%llu\n", transports,
	       (unsigned long long)(kz_after[0] - kz_before[0]),
	       (unsigned long long)(kz_after[1] - kz_before[1]),
	       (unsigned long long)(kz_after[2] - kz_before[2]),
	       (unsigned long long)(kz_after[3] - kz_before[3]));
	fflush(stdout);
	EXPECT_EQ(kz_before[3], kz_after[3]) TH_LOG("a known-zero block was not zero");
	EXPECT_EQ(0, bad) TH_LOG("a worker saw wrong content or died");
	EXPECT_EQ(0, rejected) TH_LOG("a valid switch was refused");
	EXPECT_LE((uint64_t)secs * 10, switches);
	EXPECT_LT(0, verified);
	/* A pass may still be reporting what the last switch left: let it end. */
	EXPECT_EQ(0, wait_isolated_zero(15));
	EXPECT_LT(0, reports_after - reports_before);
	EXPECT_LT(0, errs_after - errs_before) TH_LOG("no failure was injected");
	/* Every page came back: within 16 MiB of where we started. */
	EXPECT_GE(free_after, free_before - 16 * 1024);
}

TEST_HARNESS_MAIN
