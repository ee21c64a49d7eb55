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
	const unsigned long len = msecs_to_jiffies(FPHINT_CHURN_WINDOW_MS);
	const unsigned long hp = FPHINT_CHURN_MIN_PAGES, big = FPHINT_CLEAN_MIN_PAGES * 4;
	struct fphint_churn_window cw = { .start = 1000, .last = 1000 };
	unsigned long t = 1000;

	/* Much reported, much of it handed out again: churn, back off. */
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t, big, 0, 0), 0U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 1, 0, big / 2, 0), 1U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, FPHINT_BACKOFF_MAX, t + 2, 0, hp, 0),
			(unsigned int)FPHINT_BACKOFF_MAX);

	/*
	 * One host huge page reported, taken back two passes later, after a
	 * pass that reported nothing: still churn (windows, not passes).
	 */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t, hp, 0, 0), 0U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 1, 0, 0, 0), 0U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 2, 0, hp, 0), 1U);
	/* ... also across the turn of a window. */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	fphint_backoff_step(&cw, 0, t + len - 1, hp, 0, 0);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + len + 1, 0, hp, 0), 1U);
	/* Churn seen after a spell without passes longer than both windows: none. */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	fphint_backoff_step(&cw, 0, t, hp, 0, 0);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 2 * len, 0, big, 0), 0U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 2 * len + 1, hp, 0, 0), 0U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 2 * len + 2, 0, hp, 0), 1U);
	/*
	 * Churn counted before a release (the free lists gained over four
	 * times as much since the last pass) steps no higher; the same churn
	 * with the free lists steady, or after a take, does.
	 */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	fphint_backoff_step(&cw, 0, t, hp, 0, 0);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 1, 0, hp, 4 * hp + 1), 0U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 2, 0, hp, 4 * hp), 1U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 1, t + 3, 0, hp, -(long)big), 2U);
	/* Less than a huge page churned is not evidence yet. */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	fphint_backoff_step(&cw, 0, t, hp, 0, 0);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 1, 0, hp / 2, 0), 0U);

	/* A burst: much reported, nothing churned: recover pass by pass. */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 3, t, big, 0, 0), 2U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 2, t + 1, 0, 0, 0), 1U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t + 2, 0, 0, 0), 0U);
	/* Between the two thresholds: hold. */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	fphint_backoff_step(&cw, 2, t, big, 0, 0);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 2, t + 1, 0, big / 8, 0), 2U);
	/* The clean evidence is two windows old: gone, hold. */
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 2, t + 2 * len, 0, 0, 0), 2U);
	/*
	 * Backed off, churned regions never turn quiet and nothing is
	 * reported: no evidence, hold (idle decay is fphint_backoff_now()).
	 */
	cw = (struct fphint_churn_window){ .start = t, .last = t };
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 2, t, 0, 0, 0), 2U);
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 3, t + 1, 256, 0, 0), 3U);
	/* A start long ago, or in the future after a wrap: a fresh window. */
	cw = (struct fphint_churn_window){ .start = t, .last = t - 6,
					   .reported = { big, big } };
	KUNIT_EXPECT_EQ(test, fphint_backoff_step(&cw, 0, t - 5, 0, hp, 0), 1U);
	KUNIT_EXPECT_EQ(test, cw.start, t - 5);
	KUNIT_EXPECT_EQ(test, cw.reported[1], 0UL);
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
