/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers the fphint selftests share: sysfs reads and writes. */
#ifndef FPHINT_UTIL_H
#define FPHINT_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/fphint.h>

#define FP "/sys/kernel/mm/fphint/"

/*
 * The harness's 30 s default assumes bare metal.  These tests run in TCG
 * guests on shared CI hosts, where a test that waits up to 10 + 20 s for
 * counters to move, after a fork that touches 1 GiB, can pass 30 s
 * without anything being stuck; what a test asserts bounds its own waits.
 */
#ifdef TEST_TIMEOUT_DEFAULT
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT	180
#endif

/* 0 or -errno; the value without its trailing newline. */
static inline int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	if (n && buf[n - 1] == '\n')
		buf[n - 1] = 0;
	return 0;
}

/* 0 or -errno of the write itself. */
static inline int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;
	int err = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

/*
 * Free memory as the allocator holds it: the buddy's free pages plus the
 * per-CPU lists (which MemFree leaves out), in KiB.
 */
static inline long free_kib(void)
{
	char line[256];
	long pages = 0, v;
	FILE *f = fopen("/proc/zoneinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " pages free %ld", &v) == 1 || sscanf(line, " count: %ld", &v) == 1)
			pages += v;
	}
	if (f)
		fclose(f);
	return pages * 4;
}

/*
 * Pages on the per-CPU lists, and (in *@high_per_cpu) their high marks
 * summed over zones and divided by the online CPUs, as fphint weighs them
 * before it drains the lists (core.c).
 */
static inline long pcp_pages(long *high_per_cpu)
{
	char line[256];
	long pages = 0, high = 0, v;
	FILE *f = fopen("/proc/zoneinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, " count: %ld", &v) == 1)
			pages += v;
		else if (sscanf(line, " high: %ld", &v) == 1)
			high += v;
	}
	if (f)
		fclose(f);
	if (high_per_cpu)
		*high_per_cpu = high / sysconf(_SC_NPROCESSORS_ONLN);
	return pages;
}

/* A decimal file's value, UINT64_MAX when it cannot be read. */
static inline uint64_t read_u64(const char *path)
{
	char buf[64];

	if (read_str(path, buf, sizeof(buf)))
		return UINT64_MAX;
	return strtoull(buf, NULL, 10);
}

static inline uint64_t stat_u64(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), FP "stats/%s", name);
	return read_u64(path);
}

/* Allocate, touch and free @mib MiB. */
static inline void churn(size_t mib)
{
	size_t bytes = mib << 20;
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return;
	for (size_t off = 0; off < bytes; off += 4096)
		p[off] = 1;
	munmap(p, bytes);
}

/*
 * A child that touches @bytes and keeps them until it is killed; returns
 * its pid once the memory is in use, -1 on failure.  The caller kills and
 * reaps it.
 */
static inline pid_t hold_memory(size_t bytes)
{
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		/* Gone with the test, also when the harness kills it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (p == MAP_FAILED)
			_exit(1);
		for (size_t off = 0; off < bytes; off += 4096)
			p[off] = 1;
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (pid > 0 && read(ready[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

/* Wait up to @secs for counter @name to pass @above; returns its value. */
static inline uint64_t wait_stat_above(const char *name, uint64_t above, int secs)
{
	uint64_t v = stat_u64(name);

	for (int i = 0; i < secs * 10 && v <= above; i++) {
		usleep(100000);
		v = stat_u64(name);
	}
	return v;
}

static inline uint64_t wait_isolated_zero(int secs)
{
	uint64_t v = stat_u64("isolated_now_pages");

	for (int i = 0; i < secs * 10 && v; i++) {
		usleep(100000);
		v = stat_u64("isolated_now_pages");
	}
	return v;
}

/* The name in brackets of a stage file. */
static inline int current_stage(const char *file, char *out, size_t len)
{
	char buf[256], *l, *r;

	if (read_str(file, buf, sizeof(buf)))
		return -1;
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r || (size_t)(r - l) > len)
		return -1;
	memcpy(out, l + 1, r - l - 1);
	out[r - l - 1] = 0;
	return 0;
}

/* Everything set-able, as sysfs shows it: compared before and after. */
struct snapshot {
	char v[FPHINT_TUNABLE_NR + 8][64];
};
/* Indices into struct snapshot after the tunables and the four stages. */
enum { SNAP_ENABLED = FPHINT_TUNABLE_NR + 4, SNAP_HOST_POLICY, SNAP_POLICY, SNAP_POLICY_SOURCE };

/*
 * Files of struct snapshot, in its order: tunables, stages, enabled,
 * host_policy, then the read-only policy and policy_source.
 */
static const char *const snapshot_files[FPHINT_TUNABLE_NR + 8] = {
#define FPHINT_X_NAME(NAME, name, def, min, max) #name,
	FPHINT_TUNABLES(FPHINT_X_NAME)
#undef FPHINT_X_NAME
	"capture", "selection", "transport", "throttle", "enabled", "host_policy",
	"policy", "policy_source",
};

static inline void snap(struct snapshot *s)
{
	char path[128];

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < sizeof(snapshot_files) / sizeof(snapshot_files[0]); i++) {
		snprintf(path, sizeof(path), FP "%s", snapshot_files[i]);
		read_str(path, s->v[i], sizeof(s->v[i]));
	}
}

/* Write back what snap() saw: tunables, each stage's current name, enabled, host_policy. */
static inline void restore_config(const struct snapshot *s)
{
	char path[128], name[64];
	const char *l, *r;

	for (int i = 0; i <= SNAP_HOST_POLICY; i++) {
		const char *val = s->v[i];

		if (i >= FPHINT_TUNABLE_NR && i < FPHINT_TUNABLE_NR + 4) {
			l = strchr(val, '[');
			r = l ? strchr(l, ']') : NULL;
			if (!r)
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(r - l - 1), l + 1);
			val = name;
		}
		snprintf(path, sizeof(path), FP "%s", snapshot_files[i]);
		write_str(path, val);
	}
}

/*
 * Free memory marked reported (a host discarded it), all zones, in pages:
 * the reported_free_pages of every zone in `fphintctl -j stats`; -1 when
 * it cannot be read.
 */
static inline long reported_free_pages(void)
{
	static const char key[] = "\"reported_free_pages\":";
	char buf[8192], *p;
	long sum = 0, n = 0;
	FILE *f = popen("fphintctl -j stats 2>/dev/null", "r");
	size_t len;

	if (!f)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	pclose(f);
	buf[len] = 0;
	for (p = strstr(buf, key); p; p = strstr(p, key)) {
		p += sizeof(key) - 1;
		sum += strtol(p, &p, 10);
		n++;
	}
	return n ? sum : -1;
}

#ifdef __KSELFTEST_HARNESS_H
/*
 * Allocate, touch and free @mib MiB: at least a quarter of it reported,
 * without a report error, and nothing left isolated afterwards.
 */
static inline void expect_reported_cleanly(struct __test_metadata *_metadata, size_t mib)
{
	uint64_t rep = stat_u64("reported_pages"), err = stat_u64("report_errors");
	uint64_t want = rep + (mib << 8) / 4;

	churn(mib);
	EXPECT_GT(wait_stat_above("reported_pages", want, 20), want);
	EXPECT_EQ(err, stat_u64("report_errors"));
	EXPECT_EQ(0, wait_isolated_zero(10));
}
#endif

#endif /* FPHINT_UTIL_H */
