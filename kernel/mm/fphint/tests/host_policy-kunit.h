/* SPDX-License-Identifier: GPL-2.0 */
/*
 * KUnit tests for host policy text: what applies, and that every kind of
 * bad input is refused with its errno and nothing changed.  They change
 * the live configuration and put it back as it was at boot.  Included at
 * the bottom of host_policy.c.
 */
#ifndef _FPHINT_HOST_POLICY_KUNIT_H
#define _FPHINT_HOST_POLICY_KUNIT_H

#include <kunit/test.h>

struct fphint_test_state {
	unsigned int tunables[FPHINT_TUNABLE_NR];
	struct fphint_stage *stage[FPHINT_KIND_NR];
	char policy[FPHINT_POLICY_NAME_MAX];
	const char *source;
	bool enabled, host_policy;
};

/* fphint_init() failed (fphint.fail_init=N): nothing to configure. */
static int fphint_test_host_policy_init(struct kunit *test)
{
	if (!fphint_zstats)
		kunit_skip(test, "fphint is not initialised");
	return 0;
}

static void fphint_test_state(struct fphint_test_state *st)
{
	int i;

	memcpy(st->tunables, fphint_tunables, sizeof(st->tunables));
	for (i = 0; i < FPHINT_KIND_NR; i++)
		st->stage[i] = fphint_current_stage(i);
	fphint_policy_name(st->policy, sizeof(st->policy));
	st->source = fphint_policy_source();
	st->enabled = fphint_is_enabled();
	st->host_policy = fphint_host_policy_allowed();
}

static void fphint_test_expect_same(struct kunit *test, const struct fphint_test_state *a)
{
	struct fphint_test_state b;

	fphint_test_state(&b);
	KUNIT_EXPECT_EQ(test, memcmp(a->tunables, b.tunables, sizeof(b.tunables)), 0);
	KUNIT_EXPECT_EQ(test, memcmp(a->stage, b.stage, sizeof(b.stage)), 0);
	KUNIT_EXPECT_STREQ(test, a->policy, b.policy);
	KUNIT_EXPECT_PTR_EQ(test, a->source, b.source);
	KUNIT_EXPECT_EQ(test, a->enabled, b.enabled);
}

/* Back to the boot configuration, "default" from nobody. */
static void fphint_test_restore(struct fphint_test_state *st)
{
	struct fphint_config cfg;
	int i;

	fphint_config_init(&cfg);
	cfg.source = FPHINT_SRC_DEFAULT;
	cfg.policy = st->policy;
	cfg.enabled = st->enabled;
	cfg.host_policy = st->host_policy;
	/*
	 * Not the transport: naming it would make it the admin's choice, and
	 * a balloon plugged later would no longer become the transport.
	 */
	for (i = 0; i < FPHINT_KIND_NR; i++)
		if (i != FPHINT_KIND_TRANSPORT)
			cfg.stage[i] = st->stage[i]->name;
	for (i = 0; i < FPHINT_TUNABLE_NR; i++) {
		cfg.tunable[i] = st->tunables[i];
		__set_bit(i, cfg.tunable_set);
	}
	WARN_ON(fphint_apply(&cfg));
}

#define HP(s) fphint_apply_host_policy(s, sizeof(s) - 1)

static const unsigned int fphint_test_def[FPHINT_TUNABLE_NR] = {
#define FPHINT_X_DEF(NAME, name, def, min, max)				\
	[FPHINT_TUNABLE_##NAME] = def,
	FPHINT_TUNABLES(FPHINT_X_DEF)
#undef FPHINT_X_DEF
};

static void fphint_test_host_policy_applies(struct kunit *test)
{
	struct fphint_test_state st;
	char text[64];

	fphint_test_state(&st);
	/* Not the defaults: each value must really change. */
	KUNIT_EXPECT_EQ(test, HP("min_order = 5\nreport_delay_ms=250\n\nthrottle=ratelimit"), 0);
	KUNIT_EXPECT_EQ(test, fphint_tunables[FPHINT_TUNABLE_MIN_ORDER], 5U);
	KUNIT_EXPECT_EQ(test, fphint_tunables[FPHINT_TUNABLE_REPORT_DELAY_MS], 250U);
	KUNIT_EXPECT_STREQ(test, fphint_current_stage(FPHINT_KIND_THROTTLE)->name,
			   FPHINT_THROTTLE_RATELIMIT);
	KUNIT_EXPECT_STREQ(test, fphint_policy_source(), FPHINT_SOURCE_HOST);
	/*
	 * A named policy: what it leaves out goes back to the default, enabled
	 * included, so say it: a first enable after a fphint.enabled=0 boot
	 * would take the device over from page_reporting for good.
	 */
	snprintf(text, sizeof(text), "policy=hosted\nlow_mem_pct=20\nenabled=%d\n", st.enabled);
	KUNIT_EXPECT_EQ(test, fphint_apply_host_policy(text, strlen(text)), 0);
	KUNIT_EXPECT_EQ(test, fphint_tunables[FPHINT_TUNABLE_MIN_ORDER],
			fphint_test_def[FPHINT_TUNABLE_MIN_ORDER]);
	KUNIT_EXPECT_EQ(test, fphint_tunables[FPHINT_TUNABLE_LOW_MEM_PCT], 20U);
	fphint_test_restore(&st);
	fphint_test_expect_same(test, &st);
}

static void fphint_test_host_policy_refused(struct kunit *test)
{
	static const struct {
		const char *text;
		int err;
	} bad[] = {
		{ "bogus=1", -EINVAL },				/* unknown key */
		{ "min_order=99", -EINVAL },			/* out of range */
		{ "min_order=-1", -EINVAL },
		{ "min_order", -EINVAL },			/* no value */
		{ "min_order=", -EINVAL },
		{ "=9", -EINVAL },
		{ "min_order=3\nmin_order=4", -EINVAL },	/* given twice */
		{ "report_delay_ms=99999999999999999999", -ERANGE },	/* does not fit */
		{ "report_delay_ms=4294967396", -EINVAL },	/* fits a long, not the range */
		{ "capture=no-such-stage", -EINVAL },
		{ "enabled=2", -EINVAL },
		{ "policy=", -EINVAL },
		{ "policy=Bad Name", -EINVAL },
		{ "policy=../x", -EINVAL },
		{ "policy=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -EINVAL },
		{ "host_policy=1", -EINVAL },		/* the guest's switch */
		{ "min_order=3\x01", -EINVAL },		/* not text */
		{ "min_order=3\xff", -EINVAL },
		{ "min_order=3\tx", -EINVAL },
		{ "\n\n", -EINVAL },				/* nothing to set */
		{ "min_order=3\nbogus=1", -EINVAL },	/* all or nothing */
	};
	struct fphint_test_state st;
	int i;

	fphint_test_state(&st);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		KUNIT_EXPECT_EQ_MSG(test, fphint_apply_host_policy(bad[i].text, strlen(bad[i].text)),
				    bad[i].err, "text '%s'", bad[i].text);
		fphint_test_expect_same(test, &st);
	}
	/* NUL bytes and a length over the limit. */
	KUNIT_EXPECT_EQ(test, fphint_apply_host_policy("min_order=3\0", 12), -EINVAL);
	KUNIT_EXPECT_EQ(test, fphint_apply_host_policy("min_order=3", FPHINT_HOST_POLICY_MAX + 1),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, fphint_apply_host_policy("", 0), -EINVAL);
	fphint_test_expect_same(test, &st);
}

static void fphint_test_host_policy_switch(struct kunit *test)
{
	struct fphint_test_state st;
	struct fphint_config cfg;

	fphint_test_state(&st);
	fphint_config_init(&cfg);
	cfg.host_policy = 0;
	KUNIT_ASSERT_EQ(test, fphint_apply(&cfg), 0);
	KUNIT_EXPECT_EQ(test, HP("min_order=5"), -EPERM);
	KUNIT_EXPECT_EQ(test, HP("bogus"), -EPERM);	/* refused before it is read */
	fphint_test_expect_same(test, &st);
	fphint_test_restore(&st);
	KUNIT_EXPECT_TRUE(test, fphint_host_policy_allowed() == st.host_policy);
}

static struct kunit_case fphint_host_policy_cases[] = {
	KUNIT_CASE(fphint_test_host_policy_applies),
	KUNIT_CASE(fphint_test_host_policy_refused),
	KUNIT_CASE(fphint_test_host_policy_switch),
	{}
};

static struct kunit_suite fphint_host_policy_suite = {
	.name = "fphint-host-policy",
	.init = fphint_test_host_policy_init,
	.test_cases = fphint_host_policy_cases,
};
kunit_test_suite(fphint_host_policy_suite);

#endif /* _FPHINT_HOST_POLICY_KUNIT_H */
