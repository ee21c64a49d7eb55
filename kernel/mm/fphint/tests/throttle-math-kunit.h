/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for fphint throttling: watermark hysteresis, the rate
 * limiter's token bucket, churn backoff and the host discard check's
 * backoff.  Included at the bottom of throttle-math.c.
 */
#ifndef _FPHINT_THROTTLE_MATH_KUNIT_H
#define _FPHINT_THROTTLE_MATH_KUNIT_H

#include <kunit/test.h>

static void fphint_test_hysteresis(struct kunit *test)
{
	/* Floor 100, hysteresis 20: engage below 100, release at 120. */
	KUNIT_EXPECT_FALSE(test, fphint_hysteresis(false, 150, 100, 20));
	KUNIT_EXPECT_FALSE(test, fphint_hysteresis(false, 100, 100, 20));
	KUNIT_EXPECT_TRUE(test, fphint_hysteresis(false, 99, 100, 20));
	/* Once engaged it holds inside the band... */
	KUNIT_EXPECT_TRUE(test, fphint_hysteresis(true, 100, 100, 20));
	KUNIT_EXPECT_TRUE(test, fphint_hysteresis(true, 119, 100, 20));
	/* ...and lets go above it. */
	KUNIT_EXPECT_FALSE(test, fphint_hysteresis(true, 120, 100, 20));
	/* A zero floor never throttles. */
	KUNIT_EXPECT_FALSE(test, fphint_hysteresis(false, 0, 0, 0));
}

static void fphint_test_bucket(struct kunit *test)
{
	const u64 rate = 100ULL << 20;	/* 100 MiB/s */
	struct fphint_bucket b = { .tokens = rate, .last_ns = 0 };
	long ms;

	/* Full bucket: go. */
	KUNIT_EXPECT_EQ(test, fphint_bucket_wait_ms(&b, 0, rate), 0L);
	/* Spend 150 MiB: 50 MiB in debt, half a second to wait. */
	fphint_bucket_charge(&b, 150ULL << 20);
	ms = fphint_bucket_wait_ms(&b, 0, rate);
	KUNIT_EXPECT_GE(test, ms, 500L);
	KUNIT_EXPECT_LE(test, ms, 501L);
	/* After that wait it may go again. */
	KUNIT_EXPECT_EQ(test, fphint_bucket_wait_ms(&b, ms * NSEC_PER_MSEC, rate), 0L);
	/* Idle for an hour: only one second of burst is kept. */
	fphint_bucket_wait_ms(&b, 3600ULL * NSEC_PER_SEC, rate);
	KUNIT_EXPECT_EQ(test, b.tokens, (s64)rate);
	/* The largest rate does not overflow. */
	b.tokens = 0;
	b.last_ns = 0;
	KUNIT_EXPECT_EQ(test, fphint_bucket_wait_ms(&b, NSEC_PER_SEC, 1ULL << 40), 0L);
	KUNIT_EXPECT_EQ(test, b.tokens, (s64)(1ULL << 40));
}

static void fphint_test_backoff(struct kunit *test)
{
	const unsigned long big = FPHINT_CHURN_MIN_PAGES * 4;

	/* Much reported, much of it handed out again: churn, back off. */
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(0, big, big / 2), 1U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(FPHINT_BACKOFF_MAX, big, big),
			(unsigned int)FPHINT_BACKOFF_MAX);
	/* A burst: much reported, nothing reused: recover step by step. */
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(3, big, 0), 2U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(0, big, 0), 0U);
	/* Allocating reported memory while reporting little is normal use. */
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(0, 10, big), 0U);
	/* Between the two thresholds: hold. */
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(2, big, big / 8), 2U);
	/*
	 * Backed off, churned regions never turn quiet and nothing is
	 * reported: no evidence, hold (idle decay is fphint_backoff_now()).
	 */
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(2, 0, 0), 2U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(3, 256, 256), 3U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(3, 0, big), 3U);
}

static void fphint_test_void_step(struct kunit *test)
{
	unsigned int strikes = 0, level = 0, i;

	/* Three kept reports are not yet evidence; the fourth is. */
	for (i = 1; i < FPHINT_VOID_STRIKES; i++)
		KUNIT_EXPECT_EQ(test, fphint_void_step(level, &strikes, true), 0U);
	level = fphint_void_step(level, &strikes, true);
	KUNIT_EXPECT_EQ(test, level, 1U);
	KUNIT_EXPECT_EQ(test, strikes, 0U);
	/* A discard in between starts the count again. */
	fphint_void_step(level, &strikes, true);
	KUNIT_EXPECT_EQ(test, fphint_void_step(level, &strikes, false), 0U);
	KUNIT_EXPECT_EQ(test, strikes, 0U);
	/* It saturates. */
	level = FPHINT_VOID_MAX;
	for (i = 0; i < 4 * FPHINT_VOID_STRIKES; i++)
		level = fphint_void_step(level, &strikes, true);
	KUNIT_EXPECT_EQ(test, level, (unsigned int)FPHINT_VOID_MAX);
}

static struct kunit_case fphint_throttle_cases[] = {
	KUNIT_CASE(fphint_test_void_step),
	KUNIT_CASE(fphint_test_hysteresis),
	KUNIT_CASE(fphint_test_bucket),
	KUNIT_CASE(fphint_test_backoff),
	{}
};

static struct kunit_suite fphint_throttle_suite = {
	.name = "fphint-throttle",
	.test_cases = fphint_throttle_cases,
};
kunit_test_suite(fphint_throttle_suite);

#endif /* _FPHINT_THROTTLE_MATH_KUNIT_H */
