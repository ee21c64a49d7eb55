// SPDX-License-Identifier: GPL-2.0
/*
 * Data integrity with hinting at its most aggressive: min_order and
 * report_delay_ms at their minimum, no throttle.  A page reported while
 * still in use is zeroed by the host under a running program, so on every
 * CPU one process keeps regions of 4 KiB to 8 MiB (some MADV_HUGEPAGE)
 * filled with a pattern unique to (process, fill, page), frees some of
 * them (munmap, MADV_DONTNEED of runs and of scattered pages), waits for
 * the reports, allocates again (reusing just-reported pages: fresh
 * memory must read all zero), fills, waits, and checks every word of
 * every live region.  reported_pages and reused_pages must grow, and
 * nothing may stay isolated once the settings are restored.
 * FPHINT_INTEGRITY_SECS sets the length (30).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
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

#define PAGE		4096UL
#define WORDS		(PAGE / sizeof(uint64_t))
#define HPAGE		(2UL << 20)
#define MAX_PAGES	2048		/* 8 MiB */
#define SLOTS		14
#define MAX_CPUS	64
#define SHOW		5		/* mismatches printed per worker */

enum { T_MIN_ORDER, T_REPORT_DELAY, T_LOW_MEM, NR_T };
static const char *const tfile[NR_T] = { "min_order", "report_delay_ms", "low_mem_pct" };
static unsigned long tmin[NR_T];

/* Every tunable's minimum, from the uapi header. */
static void tunable_minimums(void)
{
	struct { const char *name; unsigned long min; } all[] = {
#define X(NAME, name, def, min, max) { #name, min },
		FPHINT_TUNABLES(X)
#undef X
	};

	for (int t = 0; t < NR_T; t++)
		for (size_t i = 0; i < ARRAY_SIZE(all); i++)
			if (!strcmp(all[i].name, tfile[t]))
				tmin[t] = all[i].min;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- one worker per CPU -------------------------------------------- */

struct region {
	uint64_t *p;		/* NULL: slot empty */
	size_t pages;
	uint32_t gen[MAX_PAGES];	/* fill of each page; 0: freed, unmapped content */
};

struct result {
	uint64_t verified;	/* pages whose every word was checked */
	uint64_t zero_pages;	/* of which fresh pages checked for zero */
	uint64_t mismatches;	/* words */
	uint64_t iterations, fills, frees;
};

static uint64_t word_key[WORDS];
static int wid;
static uint32_t next_gen = 1;
static struct result res;

/* splitmix64's finaliser */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Word w of a page holds page_base ^ word_key[w]: never 0 in practice. */
static uint64_t page_base(uint32_t gen, size_t pgoff)
{
	return mix(((uint64_t)wid << 56) ^ ((uint64_t)gen << 24) ^ pgoff ^ 0x6670686e74ULL) | 1;
}

/* The page frame behind @addr (/proc/self/pagemap), or -1. */
static long long pfn_of(const void *addr)
{
	uint64_t e = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);

	if (fd < 0)
		return -1;
	if (pread(fd, &e, sizeof(e), (uintptr_t)addr / PAGE * sizeof(e)) != sizeof(e))
		e = 0;
	close(fd);
	return e >> 63 ? (long long)(e & ((1ULL << 55) - 1)) : -1;
}

static void mismatch(uint64_t *addr, uint64_t want, uint64_t got, const char *what)
{
	if (res.mismatches++ < SHOW)
		fprintf(stderr, "# worker %d: %s at %p (pfn %#llx): expected 0x%016llx got 0x%016llx\n",
			wid, what, (void *)addr, pfn_of(addr), (unsigned long long)want,
			(unsigned long long)got);
}

/*
 * A page just faulted in (or about to be, on the first write): it must read
 * all zero.  With @populated every word is checked; otherwise the first
 * write faults it in and the other 511 words are checked.  Then it is
 * filled with a new generation of the pattern.
 */
static void fill_fresh(struct region *r, size_t pg, int populated)
{
	uint64_t *w = r->p + pg * WORDS, base;
	uint32_t gen = next_gen++;

	if (!next_gen)
		next_gen = 1;
	base = page_base(gen, pg);
	if (!populated)
		w[0] = base ^ word_key[0];
	for (size_t i = !populated; i < WORDS; i++)
		if (w[i])
			mismatch(&w[i], 0, w[i], "fresh memory not zero");
	for (size_t i = !populated; i < WORDS; i++)
		w[i] = base ^ word_key[i];
	r->gen[pg] = gen;
	res.zero_pages++;
	res.verified++;
}

static void verify(struct region *r)
{
	for (size_t pg = 0; pg < r->pages; pg++) {
		uint64_t *w = r->p + pg * WORDS, base;

		if (!r->gen[pg])
			continue;
		base = page_base(r->gen[pg], pg);
		for (size_t i = 0; i < WORDS; i++) {
			if (w[i] == (base ^ word_key[i]))
				continue;
			mismatch(&w[i], base ^ word_key[i], w[i], "live memory changed");
			w[i] = base ^ word_key[i];	/* count each bad word once */
		}
		res.verified++;
	}
}

/* 4 KiB to 8 MiB, as many regions of each power of two. */
static void alloc_region(struct region *r, unsigned int *seed)
{
	size_t pages = 1UL << (rand_r(seed) % 12), bytes = pages * PAGE;
	int thp = pages >= 512 ? rand_r(seed) % 2 : rand_r(seed) % 4 == 0;
	int populate = rand_r(seed) % 3 == 0;
	char *p, *a;

	if (thp && pages >= 512) {
		/* Aligned, so that whole huge pages back it. */
		p = mmap(NULL, bytes + HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
		a = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
		if (a > p)
			munmap(p, a - p);
		munmap(a + bytes, p + HPAGE - a);
		p = a;
	} else {
		p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return;
	}
	if (thp)
		madvise(p, bytes, MADV_HUGEPAGE);
	if (populate)
		madvise(p, bytes, MADV_POPULATE_WRITE);
	r->p = (uint64_t *)p;
	r->pages = pages;
	for (size_t pg = 0; pg < pages; pg++)
		fill_fresh(r, pg, populate);
	res.fills++;
}

/* Give some of a region back: all of it, its tail, a run, or every k-th page. */
static void free_some(struct region *r, unsigned int *seed)
{
	int how = rand_r(seed) % 8;
	size_t start, len, k;

	res.frees++;
	if (how < 3 || r->pages == 1) {
		munmap(r->p, r->pages * PAGE);
		r->p = NULL;
		return;
	}
	if (how < 4) {
		len = r->pages / 2;
		munmap(r->p + (r->pages - len) * WORDS, len * PAGE);
		r->pages -= len;
		return;
	}
	if (how < 6) {
		start = rand_r(seed) % r->pages;
		len = 1 + rand_r(seed) % (r->pages - start);
		madvise(r->p + start * WORDS, len * PAGE, MADV_DONTNEED);
		memset(&r->gen[start], 0, len * sizeof(r->gen[0]));
		return;
	}
	k = 2 + rand_r(seed) % 7;
	for (size_t pg = rand_r(seed) % k; pg < r->pages; pg += k) {
		madvise(r->p + pg * WORDS, PAGE, MADV_DONTNEED);
		r->gen[pg] = 0;
	}
}

static void worker(int id, int cpu, double until, int out)
{
	static struct region reg[SLOTS];
	unsigned int seed = 0x1badcafe ^ (id * 7919) ^ getpid();
	cpu_set_t set;

	wid = id;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);	/* best effort */
	for (size_t i = 0; i < WORDS; i++)
		word_key[i] = (i + 1) * 0x9e3779b97f4a7c15ULL;
	for (int s = 0; s < SLOTS; s++)
		alloc_region(&reg[s], &seed);

	while (now() < until) {
		/* Free some: the pages reach the buddy and get reported... */
		for (int n = 1 + rand_r(&seed) % 3; n; n--) {
			struct region *r = &reg[rand_r(&seed) % SLOTS];

			if (r->p)
				free_some(r, &seed);
		}
		usleep(2000 + rand_r(&seed) % 4000);
		/* ...allocate again, reusing them... */
		for (int s = 0; s < SLOTS; s++) {
			if (!reg[s].p) {
				alloc_region(&reg[s], &seed);
				continue;
			}
			for (size_t pg = 0; pg < reg[s].pages; pg++)
				if (!reg[s].gen[pg])
					fill_fresh(&reg[s], pg, 0);
		}
		/* ...and hold everything while other CPUs' frees are reported. */
		usleep(2000 + rand_r(&seed) % 8000);
		for (int s = 0; s < SLOTS; s++)
			if (reg[s].p)
				verify(&reg[s]);
		res.iterations++;
	}
	for (int s = 0; s < SLOTS; s++)
		if (reg[s].p)
			munmap(reg[s].p, reg[s].pages * PAGE);
	if (write(out, &res, sizeof(res)) != sizeof(res))
		exit(2);
	exit(0);
}

/* ---- the test ------------------------------------------------------ */

FIXTURE(integrity) {
	struct snapshot saved;
};

FIXTURE_SETUP(integrity)
{
	char path[128], val[32], avail[256];

	ASSERT_EQ(0, access(FP "enabled", F_OK));
	tunable_minimums();
	snap(&self->saved);

	/* Most aggressive: smallest order, no delay, nothing held back. */
	ASSERT_EQ(0, write_str(FP "enabled", "1"));
	for (int t = 0; t < NR_T; t++) {
		snprintf(path, sizeof(path), FP "%s", tfile[t]);
		snprintf(val, sizeof(val), "%lu", tmin[t]);
		ASSERT_EQ(0, write_str(path, val)) TH_LOG("%s=%s", tfile[t], val);
	}
	ASSERT_EQ(0, write_str(FP "throttle", FPHINT_THROTTLE_NONE));
	/* A host that discards is what turns a hinting bug into corruption. */
	ASSERT_EQ(0, read_str(FP "transport", avail, sizeof(avail)));
	if (strstr(avail, FPHINT_TRANSPORT_VIRTIO)) {
		ASSERT_EQ(0, write_str(FP "transport", FPHINT_TRANSPORT_VIRTIO));
	} else {
		TH_LOG("no virtio transport (%s): reported pages are not discarded", avail);
	}
}

FIXTURE_TEARDOWN(integrity)
{
	restore_config(&self->saved);
}

TEST_F_TIMEOUT(integrity, aggressive_hinting, 900)
{
	const char *env = getenv("FPHINT_INTEGRITY_SECS");
	int secs = env && atoi(env) > 0 ? atoi(env) : 30;
	int ncpu = 0, pipefd[2], status, crashed = 0, cpus[MAX_CPUS];
	uint64_t rep0, reu0, rep1, reu1, chk0, skip0, chk1, skip1, isolated;
	struct result sum = { 0 }, r;
	pid_t pids[MAX_CPUS];
	cpu_set_t online;
	double t0, until;

	ASSERT_EQ(0, sched_getaffinity(0, sizeof(online), &online));
	for (int c = 0; c < CPU_SETSIZE && ncpu < MAX_CPUS; c++)
		if (CPU_ISSET(c, &online))
			cpus[ncpu++] = c;
	ASSERT_LT(0, ncpu);
	ASSERT_EQ(0, pipe(pipefd));

	rep0 = stat_u64("reported_pages");
	reu0 = stat_u64("reused_pages");
	chk0 = stat_u64("host_checks");
	skip0 = stat_u64("host_skipped");
	ASSERT_NE(UINT64_MAX, rep0);
	ASSERT_NE(UINT64_MAX, reu0);
	t0 = now();
	until = t0 + secs;
	for (int i = 0; i < ncpu; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i]) {
			close(pipefd[0]);
			worker(i, cpus[i], until, pipefd[1]);
		}
	}
	close(pipefd[1]);
	for (int i = 0; i < ncpu; i++) {
		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			crashed++;
			TH_LOG("worker %d: %s %d", i, WIFSIGNALED(status) ? "killed by signal" :
			       "exit status", WIFSIGNALED(status) ? WTERMSIG(status) :
			       WEXITSTATUS(status));
		}
	}
	while (read(pipefd[0], &r, sizeof(r)) == sizeof(r)) {
		sum.verified += r.verified;
		sum.zero_pages += r.zero_pages;
		sum.mismatches += r.mismatches;
		sum.iterations += r.iterations;
		sum.fills += r.fills;
		sum.frees += r.frees;
	}
	close(pipefd[0]);
	rep1 = stat_u64("reported_pages");
	reu1 = stat_u64("reused_pages");
	chk1 = stat_u64("host_checks");
	skip1 = stat_u64("host_skipped");

	restore_config(&self->saved);
	isolated = wait_isolated_zero(10);

	printf("# cpus=%d iterations=%llu regions_filled=%llu frees=%llu zero_checked_pages=%llu "
	       "host_checks=%llu host_skipped=%llu\n", ncpu,
	       (unsigned long long)sum.iterations, (unsigned long long)sum.fills,
	       (unsigned long long)sum.frees, (unsigned long long)sum.zero_pages,
	       (unsigned long long)(chk1 - chk0), (unsigned long long)(skip1 - skip0));
	printf("@@INTEGRITY pages_verified=%llu mismatches=%llu reported=%llu reused=%llu secs=%.1f\n",
	       (unsigned long long)sum.verified, (unsigned long long)sum.mismatches,
	       (unsigned long long)(rep1 - rep0), (unsigned long long)(reu1 - reu0),
	       now() - t0);
	fflush(stdout);

	EXPECT_EQ(0, crashed) TH_LOG("a worker died");
	EXPECT_EQ(0, sum.mismatches) TH_LOG("memory content changed under a running program");
	EXPECT_LT(0, sum.verified);
	EXPECT_LT(rep0, rep1) TH_LOG("nothing was reported");
	EXPECT_LT(reu0, reu1) TH_LOG("no reported page was handed out again");
	EXPECT_EQ(0, isolated) TH_LOG("pages still isolated 10 s after restoring the settings");
}

TEST_HARNESS_MAIN
