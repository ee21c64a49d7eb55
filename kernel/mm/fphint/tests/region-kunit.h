/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for fphint region history: heat rising on churn, falling on
 * reports nobody took back, and the quiet passes it asks for.  Included
 * at the bottom of region.c.
 */
#ifndef _FPHINT_REGION_KUNIT_H
#define _FPHINT_REGION_KUNIT_H

#include <kunit/test.h>

static u32 fphint_test_at(unsigned long ms)
{
	return (u32)msecs_to_jiffies(ms) << FPHINT_RH_TIME_SHIFT;
}

static void fphint_test_rh_heat(struct kunit *test)
{
	u32 w = 0;
	int i;

	/* Cold: one quiet pass; cold and whole: none. */
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(w, true), 1U);
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(w | FPHINT_RH_WHOLE, true), 0U);
	/* Pages freed into it one by one: its large blocks wait with its small ones. */
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(w | FPHINT_RH_SMALL, true),
			(unsigned int)FPHINT_SETTLE_PASSES);
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(w | FPHINT_RH_SMALL | FPHINT_RH_WHOLE, true), 0U);
	/* Taken back within the churn window: hotter, once per report. */
	w = fphint_rh_reported(w, fphint_test_at(1000));
	KUNIT_EXPECT_TRUE(test, w & FPHINT_RH_VERDICT);
	w = fphint_rh_reused(w, fphint_test_at(1300));
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(w), 1U);
	w = fphint_rh_reused(w, fphint_test_at(1400));
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(w), 1U);
	/* A hot region waits 4^heat passes, whole or not. */
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(w, true), 4U);
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(w | FPHINT_RH_WHOLE, true), 4U);
	for (i = 0; i < 5; i++) {
		w = fphint_rh_reported(w, fphint_test_at(2000 + 1000 * i));
		w = fphint_rh_reused(w, fphint_test_at(2100 + 1000 * i));
	}
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(w), (unsigned int)FPHINT_RH_HEAT_MAX);
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(w, true), 64U);
	/* Taken back long after the report: ordinary use, no hotter. */
	w = fphint_rh_reported(w, fphint_test_at(10000));
	w = fphint_rh_reused(w, fphint_test_at(10000 + FPHINT_CHURN_WINDOW_MS + 100));
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(w), (unsigned int)FPHINT_RH_HEAT_MAX);
	/* Reports nobody took from cool it, one step each. */
	w = fphint_rh_reported(w, fphint_test_at(20000));
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(w), (unsigned int)FPHINT_RH_HEAT_MAX);
	w = fphint_rh_reported(w, fphint_test_at(30000));
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(w), 2U);
	for (i = 0; i < 4; i++)
		w = fphint_rh_reported(w, fphint_test_at(40000 + 1000 * i));
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(w), 0U);
	/* A report clears whole and keeps small. */
	w = fphint_rh_reported(w | FPHINT_RH_WHOLE | FPHINT_RH_SMALL, fphint_test_at(50000));
	KUNIT_EXPECT_FALSE(test, w & FPHINT_RH_WHOLE);
	KUNIT_EXPECT_TRUE(test, w & FPHINT_RH_SMALL);
}

static void fphint_test_rh_settle(struct kunit *test)
{
	/* Nothing small freed: no settled walk. */
	KUNIT_EXPECT_EQ(test, fphint_rh_settle(0, true), 0U);
	/* Small blocks wait a few passes, a hot region's longer. */
	KUNIT_EXPECT_EQ(test, fphint_rh_settle(FPHINT_RH_SMALL, true),
			(unsigned int)FPHINT_SETTLE_PASSES);
	KUNIT_EXPECT_EQ(test, fphint_rh_settle(FPHINT_RH_SMALL | 2, true), 16U);
	/* The allocator takes nothing: a pass, a hot region's own hold. */
	KUNIT_EXPECT_EQ(test, fphint_rh_settle(FPHINT_RH_SMALL, false), 1U);
	KUNIT_EXPECT_EQ(test, fphint_rh_hold(FPHINT_RH_SMALL, false), 1U);
	KUNIT_EXPECT_EQ(test, fphint_rh_settle(FPHINT_RH_SMALL | 2, false), 16U);
	KUNIT_EXPECT_EQ(test, fphint_rh_settle(0, false), 0U);
	/* The clock wraps: age is taken modulo it. */
	KUNIT_EXPECT_EQ(test, fphint_rh_heat(fphint_rh_reused(
		fphint_rh_reported(0, (u32)-fphint_test_at(100) & ~FPHINT_RH_FLAGS),
		fphint_test_at(200))), 1U);
}

static void fphint_test_rh_lived(struct kunit *test)
{
	u32 life = msecs_to_jiffies(FPHINT_SETTLED_LIFE_MS), t = 1001 | 1;

	/* Nothing taken since boot: in use as long as the guest ran. */
	KUNIT_EXPECT_TRUE(test, fphint_rh_lived(0, 5));
	/* Recycled within the life: churn, it waits the delay. */
	KUNIT_EXPECT_FALSE(test, fphint_rh_lived(t, t));
	/* To a jiffy: the stamp's low bit is the "taken" mark. */
	KUNIT_EXPECT_FALSE(test, fphint_rh_lived(t, t + life - 2));
	KUNIT_EXPECT_TRUE(test, fphint_rh_lived(t, t + life));
	/* Taken at an even jiffy, stamped one ahead: the same jiffy is young. */
	KUNIT_EXPECT_FALSE(test, fphint_rh_lived(1000 | 1, 1000));
	/* Across the wrap of jiffies. */
	t = (u32)-3 | 1;
	KUNIT_EXPECT_FALSE(test, fphint_rh_lived(t, t + 4));
	KUNIT_EXPECT_TRUE(test, fphint_rh_lived(t, t + life + 4));
}

static void fphint_test_window_verdict(struct kunit *test)
{
	const unsigned long min = FPHINT_TAKING_MIN_PAGES;

	/* Churn: takes about what it frees. */
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(4 * min, 4 * min, 100), FPHINT_WINDOW_TAKING);
	/* Half what was freed still recycles; less does not. */
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(min, 2 * min, 100), FPHINT_WINDOW_TAKING);
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(min, 2 * min + 1, 100),
			FPHINT_WINDOW_NOT_TAKING);
	/* A process freeing what it touched, the system's background taking little. */
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(min / 2, 35 * min, 100),
			FPHINT_WINDOW_NOT_TAKING);
	/* Nothing taken or freed (a stalled vCPU, an idle guest): no evidence. */
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(0, 0, 100), FPHINT_WINDOW_IDLE);
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(min - 1, min - 1, 100), FPHINT_WINDOW_IDLE);
	/* Frees only, as much as a threshold: evidence against. */
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(0, min, 100), FPHINT_WINDOW_NOT_TAKING);
	/* A window longer than a second says nothing of now. */
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(4 * min, 4 * min, FPHINT_SETTLED_LIFE_MS + 1),
			FPHINT_WINDOW_IDLE);
	KUNIT_EXPECT_EQ(test, fphint_window_verdict(4 * min, 4 * min, FPHINT_SETTLED_LIFE_MS),
			FPHINT_WINDOW_TAKING);
}

static struct kunit_case fphint_region_cases[] = {
	KUNIT_CASE(fphint_test_rh_heat),
	KUNIT_CASE(fphint_test_rh_settle),
	KUNIT_CASE(fphint_test_rh_lived),
	KUNIT_CASE(fphint_test_window_verdict),
	{}
};

static struct kunit_suite fphint_region_suite = {
	.name = "fphint-region",
	.test_cases = fphint_region_cases,
};
kunit_test_suite(fphint_region_suite);

#endif /* _FPHINT_REGION_KUNIT_H */
