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
 *   memhog churn MIB SECONDS NPROC     NPROC processes mmap/touch/munmap MIB
 *                                      in a loop (page_fault1-like); prints
 *                                      the operations done
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
	if (argc >= 5 && !strcmp(argv[1], "churn")) {
		size_t bytes = strtoull(argv[2], NULL, 0) << 20;
		double secs = atof(argv[3]);
		int nproc = atoi(argv[4]), fds[2];
		long total = 0, ops;

		if (pipe(fds))
			return 2;
		event("churn-start", bytes);
		for (int i = 0; i < nproc; i++) {
			if (fork() == 0) {
				double end = mono() + secs;

				ops = 0;
				while (mono() < end) {
					char *p = map(bytes);

					touch(p, bytes, ops);
					munmap(p, bytes);
					ops++;
				}
				if (write(fds[1], &ops, sizeof(ops)) != sizeof(ops))
					_exit(1);
				_exit(0);
			}
		}
		for (int i = 0; i < nproc; i++) {
			if (read(fds[0], &ops, sizeof(ops)) == sizeof(ops))
				total += ops;
			wait(NULL);
		}
		printf("@@RESULT churn_ops=%ld seconds=%.1f nproc=%d\n", total, secs, nproc);
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
	fprintf(stderr, "usage: memhog burst MIB [HOLD_S] | frag MIB PIECE_KIB KEEP [HOLD_S [AFTER_S]] | verify MIB ROUNDS | churn MIB SECONDS NPROC | reuse MIB WAIT_S | cycle PEAK BASE PERIOD_S OFFSET_S CYCLES HOLD_S\n");
	return 2;
}
