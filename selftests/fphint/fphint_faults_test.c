// SPDX-License-Identifier: GPL-2.0
/*
 * Fault injection (Documentation/mm/fphint.rst, "Fault injection"): the
 * transport fails every Nth report, times out, or acknowledges late; the
 * virtio-balloon driver is unbound while a report is in flight; enabled is
 * toggled while a report is in flight.  Each time: failed reports are
 * counted one for one, every isolated page goes back to the buddy, and
 * hinting works again afterwards (expect_reported_cleanly()).  Prints "@@FAULTS injected=N" at the end.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fphint.h>

#include "kselftest_harness.h"
#include "fphint_util.h"

#define DBG "/sys/kernel/debug/fphint/"
#define BALLOON_DRV "/sys/bus/virtio/drivers/virtio_balloon/"

static const char *knobs[] = {
	"fail_every_n_reports", "timeout_every_n_reports", "late_every_n_reports",
};

static int set_knob(const char *name, unsigned int val)
{
	char path[128], buf[16];

	snprintf(path, sizeof(path), DBG "%s", name);
	snprintf(buf, sizeof(buf), "%u", val);
	return write_str(path, buf);
}

static uint64_t injected(void)
{
	return read_u64(DBG "faults_injected");
}

/* Wait up to @secs for a report to be in flight (pages isolated). */
static int wait_in_flight(int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		if (stat_u64("isolated_now_pages"))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* The virtio device the balloon driver is bound to ("virtio0"), or "". */
static void balloon_device(char *name, size_t len)
{
	DIR *d = opendir(BALLOON_DRV);
	struct dirent *e;

	name[0] = 0;
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "virtio", 6)) {
			snprintf(name, len, "%s", e->d_name);
			break;
		}
	if (d)
		closedir(d);
}

static int transport_is(const char *want)
{
	char cur[32];

	return !current_stage(FP "transport", cur, sizeof(cur)) && !strcmp(cur, want);
}

FIXTURE(faults) {
	struct snapshot saved;
	long free_before;
	uint64_t injected_before;
	uint64_t reported_at_reset;	/* reported_pages as the knobs went back to 0 */
};

FIXTURE_SETUP(faults)
{
	ASSERT_EQ(0, access(DBG "faults_injected", R_OK)) TH_LOG("debugfs not mounted?");
	ASSERT_EQ(0, write_str(FP "enabled", "1"));
	snap(&self->saved);
	/* Short passes: many reports, so every Nth comes round quickly. */
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "20"));
	if (write_str(FP "transport", FPHINT_TRANSPORT_VIRTIO))
		ASSERT_EQ(0, write_str(FP "transport", FPHINT_TRANSPORT_NULL));
	ASSERT_EQ(0, wait_isolated_zero(10));
	self->free_before = free_kib();
	self->injected_before = injected();
}

FIXTURE_TEARDOWN(faults)
{
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++)
		set_knob(knobs[i], 0);
	write_str(DBG "timeout_ms", "200");
	write_str(DBG "late_ms", "200");
	write_str(FP "enabled", "1");
	restore_config(&self->saved);
}

/* A /proc/meminfo field, in KiB. */
static long meminfo(const char *field)
{
	char line[256];
	long v = -1, n;
	size_t len = strlen(field);
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, len) && line[len] == ':' &&
		    sscanf(line + len + 1, "%ld", &n) == 1)
			v = n;
	if (f)
		fclose(f);
	return v;
}

/*
 * Free memory back within 16 MiB of @before, nothing isolated; where it is
 * not back at once, how long it took and where it was meanwhile.
 */
static void expect_free_back(struct __test_metadata *_metadata, long before)
{
	long now = free_kib(), first = now;
	int waited = 0;

	while (now < before - 16384 && waited < 100) {
		usleep(100000);
		waited++;
		now = free_kib();
	}
	if (waited)
		TH_LOG("free %ld KiB, %ld before: %s after %d ms (Slab %ld, PageTables %ld, "
		       "AnonPages %ld, Shmem %ld, isolated %llu pages)", first, before,
		       now >= before - 16384 ? "back" : "still short", waited * 100,
		       meminfo("Slab"), meminfo("PageTables"), meminfo("AnonPages"),
		       meminfo("Shmem"), (unsigned long long)stat_u64("isolated_now_pages"));
	EXPECT_GT(now, before - 16384);
}

/* Reports attempted so far, failed ones included. */
static uint64_t report_attempts(void)
{
	return stat_u64("reports") + stat_u64("report_errors");
}

/*
 * Free memory in 32 MiB bursts until @want faults were injected (or 90 s
 * passed), then let everything settle: nothing isolated, free memory back
 * where it was (give or take what the test process itself holds).
 * Each burst stays free until a report was attempted (at most 3 s):
 * memory touched again at once is churn, which fphint rightly declines to
 * report (quiet-region filter, churn backoff), so a fast guest looping
 * without a pause would see no report and no fault at all.
 */
static void run_until_injected(struct __test_metadata *_metadata,
			       FIXTURE_DATA(faults) *self, uint64_t want)
{
	time_t end = time(NULL) + 90;

	while (injected() - self->injected_before < want && time(NULL) < end) {
		uint64_t attempts = report_attempts();

		churn(32);
		for (int i = 0; i < 60 && report_attempts() == attempts; i++)
			usleep(50000);
	}
	EXPECT_GE(injected() - self->injected_before, want);
	/* Passes after the reset may succeed: what the faults allowed ends here. */
	self->reported_at_reset = stat_u64("reported_pages");
	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++)
		ASSERT_EQ(0, set_knob(knobs[i], 0));
	EXPECT_EQ(0, wait_isolated_zero(15));
	expect_free_back(_metadata, self->free_before);
}

/* Every 3rd report fails at once: report_errors counts exactly those. */
TEST_F(faults, fail_every_3rd_report)
{
	uint64_t err = stat_u64("report_errors"), reports = stat_u64("reports");

	ASSERT_EQ(0, set_knob("fail_every_n_reports", 3));
	run_until_injected(_metadata, self, 10);
	EXPECT_EQ(injected() - self->injected_before, stat_u64("report_errors") - err);
	EXPECT_GT(stat_u64("reports"), reports);
	expect_reported_cleanly(_metadata, 128);
}

/* Every report fails: nothing is marked reported, it all comes back and is reported later. */
TEST_F(faults, every_report_fails_then_recovers)
{
	uint64_t rep, err;

	/*
	 * A pass already under way when the knob is set may still succeed:
	 * let it finish (errors are counted before the pages go back) before
	 * taking the figures every later report must leave as they are.
	 */
	ASSERT_EQ(0, set_knob("fail_every_n_reports", 1));
	ASSERT_EQ(0, wait_isolated_zero(15));
	rep = stat_u64("reported_pages");
	err = stat_u64("report_errors");
	self->injected_before = injected();
	run_until_injected(_metadata, self, 5);
	EXPECT_EQ(rep, self->reported_at_reset);
	EXPECT_EQ(injected() - self->injected_before, stat_u64("report_errors") - err);
	expect_reported_cleanly(_metadata, 128);
}

/* Every 2nd report times out after 100 ms: counted as errors, pages back. */
TEST_F(faults, timeout_every_2nd_report)
{
	uint64_t err = stat_u64("report_errors");

	ASSERT_EQ(0, write_str(DBG "timeout_ms", "100"));
	ASSERT_EQ(0, set_knob("timeout_every_n_reports", 2));
	run_until_injected(_metadata, self, 6);
	EXPECT_EQ(injected() - self->injected_before, stat_u64("report_errors") - err);
	expect_reported_cleanly(_metadata, 128);
}

/* Every report acknowledged 100 ms late: no error, all reported, all back. */
TEST_F(faults, late_acknowledgements)
{
	uint64_t err = stat_u64("report_errors"), rep = stat_u64("reported_pages");

	ASSERT_EQ(0, write_str(DBG "late_ms", "100"));
	ASSERT_EQ(0, set_knob("late_every_n_reports", 1));
	run_until_injected(_metadata, self, 6);
	EXPECT_EQ(err, stat_u64("report_errors"));
	EXPECT_GT(stat_u64("reported_pages"), rep);
	expect_reported_cleanly(_metadata, 128);
}

/* A wait longer than the 10 s cap is cut to it (the worker holds the config lock). */
TEST_F(faults, huge_delay_is_capped)
{
	struct timespec a, b;

	ASSERT_EQ(0, write_str(DBG "late_ms", "4000000000"));
	ASSERT_EQ(0, set_knob("late_every_n_reports", 1));
	churn(32);
	ASSERT_TRUE(wait_in_flight(10));
	clock_gettime(CLOCK_MONOTONIC, &a);
	ASSERT_EQ(0, set_knob("late_every_n_reports", 0));
	/* Takes the config lock: waits for the report in flight. */
	ASSERT_EQ(0, write_str(FP "report_delay_ms", "21"));
	clock_gettime(CLOCK_MONOTONIC, &b);
	EXPECT_LT(b.tv_sec - a.tv_sec, 12);
	EXPECT_EQ(0, wait_isolated_zero(15));
}

/* enabled=0 while a report is in flight: the report completes, every page comes back. */
TEST_F(faults, disable_mid_report)
{
	uint64_t err = stat_u64("report_errors");

	ASSERT_EQ(0, write_str(DBG "late_ms", "400"));
	ASSERT_EQ(0, set_knob("late_every_n_reports", 1));
	for (int round = 0; round < 3; round++) {
		churn(64);
		ASSERT_TRUE(wait_in_flight(10)) TH_LOG("no report in flight (round %d)", round);
		ASSERT_EQ(0, write_str(FP "enabled", "0"));
		EXPECT_EQ(0, wait_isolated_zero(10));
		ASSERT_EQ(0, write_str(FP "enabled", "1"));
	}
	ASSERT_EQ(0, set_knob("late_every_n_reports", 0));
	EXPECT_EQ(err, stat_u64("report_errors"));
	expect_free_back(_metadata, self->free_before);
	expect_reported_cleanly(_metadata, 128);
}

/*
 * The virtio-balloon driver unbound while a report is in flight: unbind
 * waits for it, the transport falls back to null (and still reports
 * nothing lost), and a rebind brings virtio back as the transport.
 */
TEST_F(faults, unbind_device_mid_report)
{
	char dev[NAME_MAX + 1];

	balloon_device(dev, sizeof(dev));
	if (!dev[0] || !transport_is(FPHINT_TRANSPORT_VIRTIO))
		SKIP(return, "no virtio-balloon reporting device in this guest");
	ASSERT_EQ(0, write_str(DBG "late_ms", "500"));
	ASSERT_EQ(0, set_knob("late_every_n_reports", 1));
	churn(64);
	ASSERT_TRUE(wait_in_flight(10));
	/* The report in flight keeps its 500 ms; later ones go at once. */
	ASSERT_EQ(0, set_knob("late_every_n_reports", 0));
	ASSERT_EQ(0, write_str(BALLOON_DRV "unbind", dev));
	EXPECT_TRUE(transport_is(FPHINT_TRANSPORT_NULL));
	/* A pass through null may start at once: what it isolates comes back. */
	EXPECT_EQ(0, wait_isolated_zero(10));
	/* Without the device: the null transport carries on. */
	expect_reported_cleanly(_metadata, 128);

	ASSERT_EQ(0, write_str(BALLOON_DRV "bind", dev));
	for (int i = 0; i < 300 && !transport_is(FPHINT_TRANSPORT_VIRTIO); i++)
		usleep(100000);
	EXPECT_TRUE(transport_is(FPHINT_TRANSPORT_VIRTIO));
	/* Unbound again with nothing in flight, and bound again. */
	ASSERT_EQ(0, write_str(BALLOON_DRV "unbind", dev));
	ASSERT_EQ(0, write_str(BALLOON_DRV "bind", dev));
	for (int i = 0; i < 300 && !transport_is(FPHINT_TRANSPORT_VIRTIO); i++)
		usleep(100000);
	EXPECT_TRUE(transport_is(FPHINT_TRANSPORT_VIRTIO));
	expect_reported_cleanly(_metadata, 128);
	expect_free_back(_metadata, self->free_before);
}

/*
 * Unbind while a rate-limited pass is under way (1 MiB/s over 256 MiB:
 * minutes): unregistering stops the pass at its next batch instead of
 * waiting it out, so the unbind returns within about one report.
 */
TEST_F_TIMEOUT(faults, unbind_ends_rate_limited_pass, 120)
{
	struct timespec a, b;
	char dev[NAME_MAX + 1];
	uint64_t rep = stat_u64("reported_pages");

	balloon_device(dev, sizeof(dev));
	if (!dev[0] || !transport_is(FPHINT_TRANSPORT_VIRTIO))
		SKIP(return, "no virtio-balloon reporting device in this guest");
	ASSERT_EQ(0, write_str(FP "ratelimit_mib_s", "1"));
	ASSERT_EQ(0, write_str(FP "throttle", FPHINT_THROTTLE_RATELIMIT));
	churn(256);
	/* The pass has started and is being paced. */
	ASSERT_GT(wait_stat_above("reported_pages", rep, 10), rep);
	sleep(1);
	clock_gettime(CLOCK_MONOTONIC, &a);
	ASSERT_EQ(0, write_str(BALLOON_DRV "unbind", dev));
	clock_gettime(CLOCK_MONOTONIC, &b);
	EXPECT_LT(b.tv_sec - a.tv_sec, 10) TH_LOG("unbind took %ld s", (long)(b.tv_sec - a.tv_sec));
	EXPECT_EQ(0, wait_isolated_zero(15));
	EXPECT_TRUE(transport_is(FPHINT_TRANSPORT_NULL));
	ASSERT_EQ(0, write_str(FP "throttle", FPHINT_THROTTLE_WATERMARK));
	ASSERT_EQ(0, write_str(BALLOON_DRV "bind", dev));
	for (int i = 0; i < 300 && !transport_is(FPHINT_TRANSPORT_VIRTIO); i++)
		usleep(100000);
	EXPECT_TRUE(transport_is(FPHINT_TRANSPORT_VIRTIO));
	expect_reported_cleanly(_metadata, 128);
}

/*
 * Tests run in child processes, so the total comes from the kernel's
 * counter; the harness exits through exit(), children through _exit().
 */
static uint64_t injected_at_start;

static void print_total(void)
{
	printf("@@FAULTS injected=%llu\n", (unsigned long long)(injected() - injected_at_start));
}

int main(int argc, char **argv)
{
	injected_at_start = injected();
	atexit(print_total);
	return test_harness_run(argc, argv);
}
