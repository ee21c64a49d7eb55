// SPDX-License-Identifier: GPL-2.0
/*
 * Low memory: a holder pins all but 10 % of RAM, and a burster allocates,
 * touches and frees bursts of 7 % of RAM in a loop (down to ~3 % free),
 * every other one held a while first,
 * once with hinting off and once with it on at its most eager (min_order
 * 0, the shortest delay).  With hinting on, the watermark throttle must
 * engage (counted), the OOM killer must not run more often than with
 * hinting off, and nothing may be left isolated.  The burster is the OOM
 * killer's preferred victim; a kill is a burst that could not be served.
 * FPHINT_LOWMEM_SECS sets each run's length (20).
 */
#define _GNU_SOURCE
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

/*
 * Headroom left by the holder, and burst size, in percent of RAM.  A burst
 * takes MemAvailable to ~3 %, under the default low_mem_pct floor (5 %);
 * freeing it brings it back above the floor plus its 2 % hysteresis, so
 * hinting is held back during bursts and runs between them.
 */
#define HEADROOM_PCT	10
#define BURST_PCT	7
/* Bursts a run needs, whatever the time it takes. */
#define MIN_BURSTS	30

struct run {
	uint64_t oom_kills, bursts, throttled, reported, errors;
	long min_avail_kib;
};

static long meminfo_kib(const char *key)
{
	char line[256];
	long v = -1;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static uint64_t vmstat(const char *key)
{
	char name[64];
	unsigned long long v;
	uint64_t ret = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	while (f && fscanf(f, "%63s %llu", name, &v) == 2)
		if (!strcmp(name, key))
			ret = v;
	if (f)
		fclose(f);
	return ret;
}

static void oom_score_adj(const char *v)
{
	write_str("/proc/self/oom_score_adj", v);
}

static void touch(char *p, size_t bytes)
{
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
}

/* Holds @bytes until killed; tells the parent through @fd once it does. */
static pid_t start_holder(size_t bytes, int fd)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	oom_score_adj("-1000");
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(1);
	touch(p, bytes);
	if (write(fd, "r", 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* What the bursters and the parent share: bursts done, and when to stop. */
struct burst_ctl {
	uint64_t done;
	int stop;
};

/*
 * One burster process: bursts until told to stop, counting each in @ctl
 * (shared with the parent, so a burster the OOM killer takes keeps its
 * count).  Every other burst is held HOLD_US before it is freed: memory
 * that was in use a second or more (FPHINT_SETTLED_LIFE_MS in the kernel)
 * is reported as soon as it is freed whole, so the next burst races the
 * report for it; memory recycled faster is churn, which hinting leaves
 * alone by design (in one CI run, bursts of that kind alone were reported
 * 0 pages in 30, and the run said nothing of hinting near OOM).
 */
#define HOLD_US		1500000

static void burster(size_t bytes, struct burst_ctl *ctl)
{
	unsigned int n = 0;

	oom_score_adj("1000");
	while (!__atomic_load_n(&ctl->stop, __ATOMIC_RELAXED)) {
		char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			_exit(1);
		touch(p, bytes);
		if (n++ % 2)
			usleep(HOLD_US);
		munmap(p, bytes);
		__atomic_fetch_add(&ctl->done, 1, __ATOMIC_RELAXED);
		/* Long enough for a pass to start on what was just freed. */
		usleep(30000 + rand() % 70000);
	}
	_exit(0);
}

static struct run run_once(struct __test_metadata *_metadata, int enabled, int secs)
{
	long total = meminfo_kib("MemTotal");
	size_t burst = (size_t)total / 100 * BURST_PCT * 1024;
	struct run r = { .min_avail_kib = total };
	int pfd[2];
	char c;

	ASSERT_EQ(0, write_str(FP "enabled", enabled ? "1" : "0"));
	ASSERT_EQ(0, wait_isolated_zero(10));
	long hold = meminfo_kib("MemAvailable") - total / 100 * HEADROOM_PCT;

	ASSERT_GT(hold, 0);
	ASSERT_EQ(0, pipe(pfd));
	pid_t holder = start_holder((size_t)hold * 1024, pfd[1]);

	ASSERT_GT(holder, 0);
	ASSERT_EQ(1, read(pfd[0], &c, 1));
	close(pfd[0]);
	close(pfd[1]);

	uint64_t oom = vmstat("oom_kill"), thr = stat_u64("throttled");
	uint64_t rep = stat_u64("reported_pages"), err = stat_u64("report_errors");
	struct burst_ctl *ctl = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
				     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	time_t start = time(NULL);

	ASSERT_NE(MAP_FAILED, ctl);
	memset(ctl, 0, sizeof(*ctl));
	/*
	 * A run lasts @secs and at least MIN_BURSTS bursts (a slow, shared
	 * host gets the same workload, only later), but no more than four
	 * times @secs.  The burster is restarted whenever the OOM killer
	 * takes it.
	 */
	while (!ctl->stop) {
		pid_t b = fork();
		int status;

		ASSERT_GE(b, 0);
		if (b == 0)
			burster(burst, ctl);
		while (waitpid(b, &status, WNOHANG) == 0) {
			long avail = meminfo_kib("MemAvailable");
			time_t now = time(NULL);

			if (avail < r.min_avail_kib)
				r.min_avail_kib = avail;
			if ((now >= start + secs &&
			     __atomic_load_n(&ctl->done, __ATOMIC_RELAXED) >= MIN_BURSTS) ||
			    now >= start + 4 * secs)
				__atomic_store_n(&ctl->stop, 1, __ATOMIC_RELAXED);
			usleep(20000);
		}
	}
	r.bursts = ctl->done;
	munmap(ctl, sizeof(*ctl));
	r.oom_kills = vmstat("oom_kill") - oom;
	r.throttled = stat_u64("throttled") - thr;
	r.reported = stat_u64("reported_pages") - rep;
	r.errors = stat_u64("report_errors") - err;
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	EXPECT_EQ(0, wait_isolated_zero(10));
	printf("@@LOWMEM hinting=%s oom_kills=%llu bursts=%llu throttled=%llu reported_pages=%llu report_errors=%llu min_avail_kib=%ld total_kib=%ld\n",
	       enabled ? "on" : "off", (unsigned long long)r.oom_kills,
	       (unsigned long long)r.bursts, (unsigned long long)r.throttled,
	       (unsigned long long)r.reported, (unsigned long long)r.errors,
	       r.min_avail_kib, total);
	fflush(stdout);
	return r;
}

FIXTURE(lowmem) {
	struct snapshot saved;
};

FIXTURE_SETUP(lowmem)
{
	snap(&self->saved);
}

FIXTURE_TEARDOWN(lowmem)
{
	write_str(FP "enabled", "1");
	restore_config(&self->saved);
}

TEST_F_TIMEOUT(lowmem, near_oom_bursts, 900)
{
	const char *env = getenv("FPHINT_LOWMEM_SECS");
	int secs = env ? atoi(env) : 20;
	long free_before = free_kib();

	ASSERT_EQ(0, write_str(FP "min_order", "0"));
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "0"));

	struct run off = run_once(_metadata, 0, secs);
	struct run on = run_once(_metadata, 1, secs);

	/* The workload really went near OOM, and hinting really ran. */
	EXPECT_LT(off.min_avail_kib, meminfo_kib("MemTotal") / 100 * HEADROOM_PCT);
	EXPECT_GT(on.reported, 0)
		TH_LOG("nothing reported in %llu bursts", (unsigned long long)on.bursts);
	EXPECT_GE(on.bursts, MIN_BURSTS);
	/* The watermark throttle engaged, and hinting cost no extra OOM kill. */
	EXPECT_GT(on.throttled, 0);
	EXPECT_LE(on.oom_kills, off.oom_kills)
		TH_LOG("OOM kills: %llu in %llu bursts with hinting, %llu in %llu without",
		       (unsigned long long)on.oom_kills, (unsigned long long)on.bursts,
		       (unsigned long long)off.oom_kills, (unsigned long long)off.bursts);
	EXPECT_EQ(0, on.errors);
	/* A pass may still be walking what settled last: let it end. */
	EXPECT_EQ(0, wait_isolated_zero(15));
	EXPECT_GT(free_kib(), free_before - 32768)
		TH_LOG("free %ld KiB, %ld before", free_kib(), free_before);
}

TEST_HARNESS_MAIN
