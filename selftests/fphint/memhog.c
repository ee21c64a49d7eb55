// SPDX-License-Identifier: GPL-2.0
/*
 * memhog: allocate, touch and free guest memory in the patterns the fphint
 * tests and benchmarks need, printing "@@EVENT" lines the host times.
 *
 *   memhog burst MIB [HOLD_S]          touch MIB, hold, free it all
 *   memhog frag MIB PIECE_KIB KEEP [HOLD_S [AFTER_S]]
 *                                      touch MIB, free every piece but
 *                                      each KEEP-th, stay alive AFTER_S
 *   memhog verify MIB ROUNDS           touch with a pattern, verify, free;
 *                                      exit 1 on any mismatch
 *   memhog frag4k MIB MAXRUN [HOLD_S [AFTER_S]]
 *                                      touch MIB (no THP), then free runs of
 *                                      1..MAXRUN 4 KiB pages (a seeded
 *                                      sequence), keeping one page after
 *                                      each run; stay alive AFTER_S
 *   memhog churn MIB SECONDS NPROC     NPROC processes mmap/touch/munmap MIB
 *                                      in a loop (page_fault1-like); prints
 *                                      the operations done and the rate
 *                                      (each process's ops over the time to
 *                                      its last finished one: no rounding
 *                                      to whole operations)
 *   memhog churnab MIB NPROC WINDOW_S SETTLE_S ROUNDS STATE...
 *                                      churn as above, in one boot, while
 *                                      the parent switches fphint between
 *                                      STATEs (NAME:file=value+file=value,
 *                                      files of /sys/kernel/mm/fphint,
 *                                      written in order) every WINDOW_S;
 *                                      each round visits every state (order
 *                                      rotated, reversed every other
 *                                      cycle); per window one "@@WINDOW"
 *                                      line: pages touched, fphint
 *                                      counters moved and uptimes, over the
 *                                      window minus its first SETTLE_S
 *   memhog reuse MIB WAIT_S            touch, free, wait, touch again: prints
 *                                      how long each touch took
 *   memhog cycle PEAK BASE PERIOD_S OFFSET_S CYCLES HOLD_S
 *                                      keep BASE MiB; after OFFSET_S, every
 *                                      PERIOD_S grow to PEAK MiB, hold
 *                                      HOLD_S, shrink back (bench/density.py)
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double uptime(void)
{
	double t = 0;
	FILE *f = fopen("/proc/uptime", "r");

	if (f) {
		if (fscanf(f, "%lf", &t) != 1)
			t = 0;
		fclose(f);
	}
	return t;
}

static long memfree_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemFree: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static void event(const char *what, size_t bytes)
{
	printf("@@EVENT %s bytes=%zu memfree_kib=%ld t=%.3f\n", what, bytes,
	       memfree_kib(), uptime());
	fflush(stdout);
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *map(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

static void touch(char *p, size_t bytes, uint64_t seed)
{
	for (size_t off = 0; off < bytes; off += 4096)
		*(uint64_t *)(p + off) = seed ^ off;
}

static size_t check(const char *p, size_t bytes, uint64_t seed)
{
	size_t bad = 0;

	for (size_t off = 0; off < bytes; off += 4096)
		if (*(const uint64_t *)(p + off) != (seed ^ off))
			bad++;
	return bad;
}

/* Churn workers share one slot each with the parent (MAP_SHARED). */
struct churn_slot {
	volatile long ops;		/* operations finished */
	volatile long pages;		/* pages touched, every 64 */
	volatile double last;		/* mono() at the last finished op */
	volatile int stop;		/* churnab: the parent says stop */
};

/* One mmap/touch/munmap of @bytes, progress published every 64 pages. */
static void churn_op(struct churn_slot *s, size_t bytes, long seed)
{
	char *p = map(bytes);
	long n = 0;

	for (size_t off = 0; off < bytes; off += 4096) {
		*(uint64_t *)(p + off) = seed ^ off;
		if (++n == 64) {
			s->pages += n;
			n = 0;
		}
	}
	s->pages += n;
	munmap(p, bytes);
	s->ops++;
	s->last = mono();
}

static struct churn_slot *churn_slots(int nproc)
{
	void *p = mmap(NULL, nproc * sizeof(struct churn_slot), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

#define FP "/sys/kernel/mm/fphint"
static const char *const ab_stats[] = { "reports", "reported_bytes", "reused_pages",
					"isolated", "passes", "pass_ns",
					"zone_lock_ns" };
#define NR_AB_STATS (sizeof(ab_stats) / sizeof(ab_stats[0]))

static long long read_stat(const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), FP "/stats/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%lld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* NAME:file=value+file=value: write each, in order; 0 or -errno. */
static int apply_state(const char *spec)
{
	char buf[256], *kv, *save = NULL, *colon;

	snprintf(buf, sizeof(buf), "%s", spec);
	colon = strchr(buf, ':');
	if (!colon)
		return 0;
	for (kv = strtok_r(colon + 1, "+", &save); kv; kv = strtok_r(NULL, "+", &save)) {
		char path[128], *eq = strchr(kv, '=');
		FILE *f;
		int err = 0;

		if (!eq)
			return -EINVAL;
		*eq = 0;
		snprintf(path, sizeof(path), FP "/%s", kv);
		f = fopen(path, "w");
		if (!f)
			return -errno;
		if (fputs(eq + 1, f) < 0)
			err = -errno;
		if (fclose(f) && !err)
			err = -errno;
		if (err)
			return err;
	}
	return 0;
}

static long churn_pages(struct churn_slot *s, int nproc)
{
	long sum = 0;

	for (int i = 0; i < nproc; i++)
		sum += s[i].pages;
	return sum;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "burst")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20;
		char *p = map(bytes);

		touch(p, bytes, 0x5a5a5a5a5a5a5a5aULL);
		event("touched", bytes);
		sleep(argc > 3 ? atoi(argv[3]) : 1);
		event("freeing", bytes);
		munmap(p, bytes);
		event("freed", bytes);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "frag")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20;
		size_t piece = strtoull(argv[3], NULL, 0) << 10;
		size_t keep = strtoull(argv[4], NULL, 0), freed = 0, i;
		char *p = map(bytes);

		if (!piece || !keep || bytes % piece)
			return 2;
		/* No THP: unmapping parts of a huge page would free nothing. */
		madvise(p, bytes, MADV_NOHUGEPAGE);
		touch(p, bytes, 0xa5);
		event("touched", bytes);
		sleep(argc > 5 ? atoi(argv[5]) : 1);
		event("freeing", bytes);
		for (i = 0; i < bytes / piece; i++) {
			if (i % keep == keep - 1)
				continue;
			munmap(p + i * piece, piece);
			freed += piece;
		}
		event("freed", freed);
		sleep(argc > 6 ? atoi(argv[6]) : 10);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "verify")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20, bad = 0;
		int rounds = atoi(argv[3]);

		for (int r = 0; r < rounds; r++) {
			char *p = map(bytes);
			uint64_t seed = 0x1234567890abcdefULL * (r + 1) ^ getpid();

			touch(p, bytes, seed);
			bad += check(p, bytes, seed);
			munmap(p, bytes);
		}
		printf("@@VERIFY pages=%zu bad=%zu\n", rounds * (bytes >> 12), bad);
		return bad ? 1 : 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "frag4k")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20;
		size_t maxrun = strtoull(argv[3], NULL, 0), freed = 0, i = 0;
		uint32_t x = 16;	/* fixed seed: the same holes every boot */
		char *p = map(bytes);

		if (!maxrun || bytes % 4096)
			return 2;
		/* No THP: every 4 KiB page its own. */
		madvise(p, bytes, MADV_NOHUGEPAGE);
		touch(p, bytes, 0x4b);
		event("touched", bytes);
		sleep(argc > 4 ? atoi(argv[4]) : 1);
		event("freeing", bytes);
		/* Runs of 1..MAXRUN free pages, one page kept after each. */
		while (i < bytes / 4096) {
			size_t run;

			x = x * 1103515245u + 12345u;
			run = 1 + (x >> 16) % maxrun;
			if (run > bytes / 4096 - i)
				run = bytes / 4096 - i;
			if (madvise(p + i * 4096, run * 4096, MADV_DONTNEED)) {
				perror("madvise");
				return 2;
			}
			freed += run * 4096;
			i += run + 1;
		}
		event("freed", freed);
		sleep(argc > 5 ? atoi(argv[5]) : 10);
		return 0;
	}
	if (argc >= 5 && !strcmp(argv[1], "churn")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20;
		double secs = atof(argv[3]), start, rate = 0;
		int nproc = atoi(argv[4]);
		struct churn_slot *slot = churn_slots(nproc);
		long total = 0;

		event("churn-start", bytes);
		start = mono();
		for (int i = 0; i < nproc; i++) {
			if (fork() == 0) {
				double end = start + secs;

				while (mono() < end)
					churn_op(&slot[i], bytes, slot[i].ops);
				_exit(0);
			}
		}
		for (int i = 0; i < nproc; i++)
			wait(NULL);
		for (int i = 0; i < nproc; i++) {
			total += slot[i].ops;
			if (slot[i].ops && slot[i].last > start)
				rate += slot[i].ops / (slot[i].last - start);
		}
		printf("@@RESULT churn_ops=%ld seconds=%.1f nproc=%d churn_rate=%.4f\n",
		       total, secs, nproc, rate);
		event("churn-end", bytes);
		return 0;
	}
	if (argc >= 8 && !strcmp(argv[1], "churnab")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20;
		int nproc = atoi(argv[3]), rounds = atoi(argv[6]);
		double window = atof(argv[4]), settle = atof(argv[5]);
		int nstates = argc - 7;
		char **states = argv + 7;
		struct churn_slot *slot = churn_slots(nproc);
		double op_pages = bytes / 4096.0;

		if (nproc < 1 || settle >= window || rounds < 1)
			return 2;
		event("churn-start", bytes);
		for (int i = 0; i < nproc; i++) {
			if (fork() == 0) {
				while (!slot[i].stop)
					churn_op(&slot[i], bytes, slot[i].ops);
				_exit(0);
			}
		}
		for (int r = 0; r < rounds; r++) {
			for (int k = 0; k < nstates; k++) {
				/* Rotated by the round; reversed every other cycle. */
				int j = (r / nstates) % 2 ? nstates - 1 - k : k;
				const char *st = states[(j + r) % nstates];
				long long s0[NR_AB_STATS], s1[NR_AB_STATS];
				double t0, t1, u0, u1;
				long p0, p1;
				int err = apply_state(st);

				if (err) {
					printf("@@ERROR churnab: state %s: %s\n", st, strerror(-err));
					for (int i = 0; i < nproc; i++)
						slot[i].stop = 1;
					return 3;
				}
				usleep((useconds_t)(settle * 1e6));
				for (size_t n = 0; n < NR_AB_STATS; n++)
					s0[n] = read_stat(ab_stats[n]);
				p0 = churn_pages(slot, nproc);
				t0 = mono();
				u0 = uptime();
				usleep((useconds_t)((window - settle) * 1e6));
				p1 = churn_pages(slot, nproc);
				t1 = mono();
				u1 = uptime();
				for (size_t n = 0; n < NR_AB_STATS; n++)
					s1[n] = read_stat(ab_stats[n]);
				printf("@@WINDOW %.*s round=%d ops=%.3f secs=%.3f t0=%.3f t1=%.3f",
				       (int)strcspn(st, ":"), st, r, (p1 - p0) / op_pages,
				       t1 - t0, u0, u1);
				for (size_t n = 0; n < NR_AB_STATS; n++)
					printf(" %s=%lld", ab_stats[n], s1[n] - s0[n]);
				printf("\n");
				fflush(stdout);
			}
		}
		for (int i = 0; i < nproc; i++)
			slot[i].stop = 1;
		for (int i = 0; i < nproc; i++)
			wait(NULL);
		event("churn-end", bytes);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "reuse")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20;
		char *p = map(bytes);
		double t;

		t = mono();
		touch(p, bytes, 1);
		printf("@@RESULT first_touch_s=%.3f\n", mono() - t);
		event("touched", bytes);
		sleep(1);
		event("freeing", bytes);
		munmap(p, bytes);
		event("freed", bytes);
		sleep(atoi(argv[3]));
		p = map(bytes);
		t = mono();
		touch(p, bytes, 2);
		printf("@@RESULT retouch_s=%.3f\n", mono() - t);
		munmap(p, bytes);
		return 0;
	}
	if (argc >= 8 && !strcmp(argv[1], "cycle")) {
		size_t peak = strtoull(argv[2], NULL, 0) << 20;
		size_t base = strtoull(argv[3], NULL, 0) << 20;
		double period = atof(argv[4]), sum = 0;
		int cycles = atoi(argv[6]), hold = atoi(argv[7]);
		size_t extra = peak > base ? peak - base : 0;
		char *b = map(base), *p;
		double start;

		touch(b, base, 3);
		event("base", base);
		sleep(atoi(argv[5]));
		for (int c = 0; c < cycles; c++) {
			double t = mono();

			start = t;
			p = map(extra);
			touch(p, extra, 4 + c);
			t = mono() - t;
			sum += t;
			printf("@@RESULT touch_s_%d=%.3f\n", c, t);
			event("peak", extra);
			sleep(hold);
			munmap(p, extra);
			event("trough", extra);
			/* The next peak a period after this one began. */
			t = start + period - mono();
			if (t > 0)
				usleep((useconds_t)(t * 1e6));
			event("rest", extra);
		}
		printf("@@RESULT touch_s_mean=%.3f cycles=%d\n", cycles ? sum / cycles : 0, cycles);
		event("done", base);
		munmap(b, base);
		return 0;
	}
	fprintf(stderr, "usage: memhog burst MIB [HOLD_S] | frag MIB PIECE_KIB KEEP [HOLD_S [AFTER_S]] | frag4k MIB MAXRUN [HOLD_S [AFTER_S]] | verify MIB ROUNDS | churn MIB SECONDS NPROC | churnab MIB NPROC WINDOW_S SETTLE_S ROUNDS STATE... | reuse MIB WAIT_S | cycle PEAK BASE PERIOD_S OFFSET_S CYCLES HOLD_S\n");
	return 2;
}
