// SPDX-License-Identifier: GPL-2.0
/*
 * fphint generic netlink family, as Documentation/netlink/specs/fphint.yaml
 * describes it: config-get/-set, stats-get, policy-set and the "events"
 * multicast group.  Attribute names, ids and ranges come from
 * include/uapi/linux/fphint.h.  Every write goes through fphint_apply(), so
 * a rejected message changes nothing; policy validation happens in the
 * genetlink core (strict, per-op policies), the rest here, and every
 * rejection points extack at the attribute at fault.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/ctype.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <net/genetlink.h>

#include "fphint.h"

/* Not const: NLA_POLICY_FULL_RANGE() takes a plain pointer in 6.1. */
static struct netlink_range_validation fphint_nl_ranges[FPHINT_TUNABLE_NR] = {
#define FPHINT_X_RANGE(NAME, name, def, lo, hi) \
	[FPHINT_TUNABLE_##NAME] = { .min = lo, .max = hi },
	FPHINT_TUNABLES(FPHINT_X_RANGE)
#undef FPHINT_X_RANGE
};

static const struct nla_policy fphint_nl_tunables_policy[FPHINT_A_TUNABLE_MAX + 1] = {
#define FPHINT_X_POLICY(NAME, name, def, min, max)			\
	[FPHINT_A_TUNABLE_##NAME] =					\
		NLA_POLICY_FULL_RANGE(NLA_U32, &fphint_nl_ranges[FPHINT_TUNABLE_##NAME]),
	FPHINT_TUNABLES(FPHINT_X_POLICY)
#undef FPHINT_X_POLICY
};

#define FPHINT_NL_STAGE_POLICY \
	{ .type = NLA_NUL_STRING, .len = FPHINT_STAGE_NAME_MAX - 1 }

/* What config-set and policy-set both take. */
#define FPHINT_NL_CONFIG_POLICY						\
	[FPHINT_A_ENABLED]	= NLA_POLICY_MAX(NLA_U8, 1),		\
	[FPHINT_A_CAPTURE]	= FPHINT_NL_STAGE_POLICY,		\
	[FPHINT_A_SELECTION]	= FPHINT_NL_STAGE_POLICY,		\
	[FPHINT_A_TRANSPORT]	= FPHINT_NL_STAGE_POLICY,		\
	[FPHINT_A_THROTTLE]	= FPHINT_NL_STAGE_POLICY,		\
	[FPHINT_A_TUNABLES]	= NLA_POLICY_NESTED(fphint_nl_tunables_policy)

/* host_policy is access control, not policy: config-set only. */
static const struct nla_policy fphint_nl_config_set_policy[FPHINT_A_HOST_POLICY + 1] = {
	FPHINT_NL_CONFIG_POLICY,
	[FPHINT_A_HOST_POLICY]	= NLA_POLICY_MAX(NLA_U8, 1),
};

static const struct nla_policy fphint_nl_policy_set_policy[FPHINT_A_TUNABLES + 1] = {
	FPHINT_NL_CONFIG_POLICY,
	[FPHINT_A_POLICY]	= { .type = NLA_NUL_STRING,
				    .len = FPHINT_POLICY_NAME_MAX - 1 },
};

/* The stage attributes follow enum fphint_kind. */
static int fphint_nl_stage_attr(enum fphint_kind kind)
{
	BUILD_BUG_ON(FPHINT_A_CAPTURE + FPHINT_KIND_THROTTLE != FPHINT_A_THROTTLE);
	BUILD_BUG_ON(FPHINT_A_AVAIL_CAPTURE + FPHINT_KIND_THROTTLE != FPHINT_A_AVAIL_THROTTLE);
	return FPHINT_A_CAPTURE + kind;
}

static bool fphint_nl_ready;
static struct genl_family fphint_nl_family;

/* ---- messages ------------------------------------------------------- */

static int fphint_nl_put_config(struct sk_buff *skb, bool avail)
{
	char policy[FPHINT_POLICY_NAME_MAX];
	struct nlattr *nest;
	struct fphint_stage *s;
	int kind, t, err = -EMSGSIZE;

	fphint_policy_name(policy, sizeof(policy));
	if (nla_put_u8(skb, FPHINT_A_ENABLED, fphint_is_enabled()) ||
	    nla_put_string(skb, FPHINT_A_POLICY, policy) ||
	    nla_put_string(skb, FPHINT_A_POLICY_SOURCE, fphint_policy_source()) ||
	    nla_put_u8(skb, FPHINT_A_HOST_POLICY, fphint_host_policy_allowed()))
		return -EMSGSIZE;

	nest = nla_nest_start(skb, FPHINT_A_TUNABLES);
	if (!nest)
		return -EMSGSIZE;
	for (t = 0; t < FPHINT_TUNABLE_NR; t++)
		if (nla_put_u32(skb, t + 1, READ_ONCE(fphint_tunables[t])))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);

	/* Stages may come and go with devices: one consistent view. */
	fphint_stages_read_lock();
	for (kind = 0; kind < FPHINT_KIND_NR; kind++)
		if (nla_put_string(skb, fphint_nl_stage_attr(kind),
				   fphint_current_stage(kind)->name))
			goto out;
	if (avail) {
		nest = nla_nest_start(skb, FPHINT_A_AVAIL);
		if (!nest)
			goto out;
		for (kind = 0; kind < FPHINT_KIND_NR; kind++)
			list_for_each_entry(s, fphint_stage_list(kind), node)
				if (nla_put_string(skb, FPHINT_A_AVAIL_CAPTURE + kind,
						   s->name))
					goto out;
		nla_nest_end(skb, nest);
	}
	err = 0;
out:
	fphint_stages_read_unlock();
	return err;
}

static int fphint_nl_put_zone_id(struct sk_buff *skb, struct zone *zone)
{
	return nla_put_u32(skb, FPHINT_A_ZONE_NODE, zone_to_nid(zone)) ||
	       nla_put_string(skb, FPHINT_A_ZONE_NAME, zone->name) ? -EMSGSIZE : 0;
}

static int fphint_nl_put_stats(struct sk_buff *skb)
{
	struct nlattr *nest, *zn;
	struct zone *zone;
	int i;

	nest = nla_nest_start(skb, FPHINT_A_STATS);
	if (!nest ||
	    nla_put_u64_64bit(skb, FPHINT_A_STAT_ISOLATED_NOW_PAGES,
			      max(atomic_long_read(&fphint_isolated_now), 0L),
			      FPHINT_A_STAT_PAD) ||
	    nla_put_u32(skb, FPHINT_A_STAT_REPORT_DELAY_NOW_MS, fphint_delay_now_ms()))
		return -EMSGSIZE;
	for (i = 0; i < FPHINT_STAT_NR; i++)
		if (nla_put_u64_64bit(skb, FPHINT_A_STAT_FIRST_COUNTER + i,
				      fphint_stat_sum(i), FPHINT_A_STAT_PAD))
			return -EMSGSIZE;
	nla_nest_end(skb, nest);

	for_each_populated_zone(zone) {
		struct fphint_zone_stats *zs = fphint_zs(zone);

		zn = nla_nest_start(skb, FPHINT_A_ZONE);
		if (!zn || fphint_nl_put_zone_id(skb, zone) ||
		    nla_put_u64_64bit(skb, FPHINT_A_ZONE_FREE_PAGES,
				      zone_page_state(zone, NR_FREE_PAGES),
				      FPHINT_A_ZONE_PAD) ||
		    nla_put_u64_64bit(skb, FPHINT_A_ZONE_REPORTED_FREE_PAGES,
				      READ_ONCE(zs->reported_free),
				      FPHINT_A_ZONE_PAD) ||
		    nla_put_u64_64bit(skb, FPHINT_A_ZONE_REPORTED_PAGES,
				      READ_ONCE(zs->reported_pages), FPHINT_A_ZONE_PAD) ||
		    nla_put_u64_64bit(skb, FPHINT_A_ZONE_REPORTS,
				      READ_ONCE(zs->reports), FPHINT_A_ZONE_PAD) ||
		    nla_put_u64_64bit(skb, FPHINT_A_ZONE_THROTTLED,
				      READ_ONCE(zs->throttled), FPHINT_A_ZONE_PAD))
			return -EMSGSIZE;
		nla_nest_end(skb, zn);
	}
	return 0;
}

/* Reply (@info) or event (!@info) carrying what @put writes. */
static struct sk_buff *fphint_nl_build(struct genl_info *info, u8 cmd,
				       int (*put)(struct sk_buff *, void *),
				       void *arg, gfp_t gfp)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_GOODSIZE, gfp);
	if (!skb)
		return NULL;
	if (info)
		hdr = genlmsg_put_reply(skb, info, &fphint_nl_family, 0, cmd);
	else
		hdr = genlmsg_put(skb, 0, 0, &fphint_nl_family, 0, cmd);
	if (!hdr || put(skb, arg)) {
		nlmsg_free(skb);
		return NULL;
	}
	genlmsg_end(skb, hdr);
	return skb;
}

static int fphint_nl_put_config_avail(struct sk_buff *skb, void *arg)
{
	return fphint_nl_put_config(skb, true);
}

static int fphint_nl_put_config_event(struct sk_buff *skb, void *arg)
{
	return fphint_nl_put_config(skb, false);
}

static int fphint_nl_put_stats_cb(struct sk_buff *skb, void *arg)
{
	return fphint_nl_put_stats(skb);
}

/* ---- operations ----------------------------------------------------- */

/* config-get and stats-get: the reply carries what the command names. */
static int fphint_nl_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	u8 cmd = info->genlhdr->cmd;
	struct sk_buff *msg;

	msg = fphint_nl_build(info, cmd, cmd == FPHINT_CMD_STATS_GET ?
			      fphint_nl_put_stats_cb : fphint_nl_put_config_avail,
			      NULL, GFP_KERNEL);
	return msg ? genlmsg_reply(msg, info) : -ENOMEM;
}


/* NL_SET_ERR_MSG_ATTR() wants a literal; these messages come from tables. */
static void fphint_nl_err(struct netlink_ext_ack *extack,
			  const struct nlattr *attr, const char *msg)
{
	if (extack)
		extack->_msg = msg;
	NL_SET_BAD_ATTR(extack, attr);
}

/* config-set and policy-set. */
static int fphint_nl_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	bool policy = info->genlhdr->cmd == FPHINT_CMD_POLICY_SET;
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr **attrs = info->attrs;
	struct nlattr *tb[FPHINT_A_TUNABLE_MAX + 1] = {};
	struct fphint_config cfg;
	int kind, t, err;

	fphint_config_init(&cfg);
	if (policy) {
		if (GENL_REQ_ATTR_CHECK(info, FPHINT_A_POLICY)) {
			NL_SET_ERR_MSG(extack, "policy: a policy needs its name");
			return -EINVAL;
		}
		cfg.policy = nla_data(attrs[FPHINT_A_POLICY]);
		if (!fphint_policy_name_valid(cfg.policy)) {
			NL_SET_ERR_MSG_ATTR(extack, attrs[FPHINT_A_POLICY],
					    "policy: name must be [a-z0-9_-]+");
			return -EINVAL;
		}
	}
	if (attrs[FPHINT_A_ENABLED])
		cfg.enabled = nla_get_u8(attrs[FPHINT_A_ENABLED]);
	if (!policy && attrs[FPHINT_A_HOST_POLICY])
		cfg.host_policy = nla_get_u8(attrs[FPHINT_A_HOST_POLICY]);
	for (kind = 0; kind < FPHINT_KIND_NR; kind++)
		if (attrs[fphint_nl_stage_attr(kind)])
			cfg.stage[kind] = nla_data(attrs[fphint_nl_stage_attr(kind)]);
	if (attrs[FPHINT_A_TUNABLES]) {
		/* Already validated against the policy: cannot fail. */
		err = nla_parse_nested(tb, FPHINT_A_TUNABLE_MAX, attrs[FPHINT_A_TUNABLES],
				       fphint_nl_tunables_policy, extack);
		if (err)
			return err;
		for (t = 0; t < FPHINT_TUNABLE_NR; t++) {
			if (!tb[t + 1])
				continue;
			cfg.tunable[t] = nla_get_u32(tb[t + 1]);
			__set_bit(t, cfg.tunable_set);
		}
	}
	if (!policy && cfg.enabled < 0 && cfg.host_policy < 0 && !attrs[FPHINT_A_TUNABLES] &&
	    !cfg.stage[0] && !cfg.stage[1] && !cfg.stage[2] && !cfg.stage[3]) {
		NL_SET_ERR_MSG(extack, "nothing to set");
		return -EINVAL;
	}

	err = fphint_apply(&cfg);
	if (err == -ENODEV && cfg.bad_stage == FPHINT_KIND_TRANSPORT) {
		fphint_nl_err(extack, attrs[FPHINT_A_TRANSPORT],
			      "transport: not offered by the host");
	} else if (err == -ENOMEM && cfg.bad_stage == FPHINT_KIND_TRANSPORT) {
		fphint_nl_err(extack, attrs[FPHINT_A_TRANSPORT],
			      "transport: no memory for its report pages");
	} else if (err && cfg.bad_stage >= 0) {
		static const char * const msg[FPHINT_KIND_NR] = {
			[FPHINT_KIND_CAPTURE] = "capture: no such stage",
			[FPHINT_KIND_SELECTION] = "selection: no such stage",
			[FPHINT_KIND_TRANSPORT] = "transport: no such stage",
			[FPHINT_KIND_THROTTLE] = "throttle: no such stage",
		};
		/* A policy's default stage may be the missing one (no attr). */
		fphint_nl_err(extack, attrs[fphint_nl_stage_attr(cfg.bad_stage)],
			      msg[cfg.bad_stage]);
	} else if (err && cfg.bad_tunable >= 0) {
		static const char * const msg[FPHINT_TUNABLE_NR] = {
#define FPHINT_X_MSG(NAME, name, def, min, max) \
	[FPHINT_TUNABLE_##NAME] = #name ": not supported by this kernel",
			FPHINT_TUNABLES(FPHINT_X_MSG)
#undef FPHINT_X_MSG
		};
		/* The range was checked already: min_order past MAX_ORDER, or no memory. */
		if (err == -ENOMEM)
			NL_SET_ERR_MSG(extack, "capture_batch: no memory for the buffers");
		else
			fphint_nl_err(extack, tb[cfg.bad_tunable + 1],
				      msg[cfg.bad_tunable]);
	}
	return err;
}

static const struct genl_ops fphint_nl_ops[] = {
	{
		.cmd	= FPHINT_CMD_CONFIG_GET,
		.doit	= fphint_nl_get_doit,
	},
	{
		.cmd	= FPHINT_CMD_CONFIG_SET,
		.doit	= fphint_nl_set_doit,
		.policy	= fphint_nl_config_set_policy,
		.maxattr = ARRAY_SIZE(fphint_nl_config_set_policy) - 1,
		.flags	= GENL_ADMIN_PERM,
	},
	{
		.cmd	= FPHINT_CMD_STATS_GET,
		.doit	= fphint_nl_get_doit,
	},
	{
		.cmd	= FPHINT_CMD_POLICY_SET,
		.doit	= fphint_nl_set_doit,
		.policy	= fphint_nl_policy_set_policy,
		.maxattr = ARRAY_SIZE(fphint_nl_policy_set_policy) - 1,
		.flags	= GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group fphint_nl_mcgrps[] = {
	{ .name = FPHINT_MCGRP_EVENTS, },
};

static struct genl_family fphint_nl_family __ro_after_init = {
	.name		= FPHINT_GENL_NAME,
	.version	= FPHINT_GENL_VERSION,
	.module		= THIS_MODULE,
	.ops		= fphint_nl_ops,
	.n_ops		= ARRAY_SIZE(fphint_nl_ops),
	.mcgrps		= fphint_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(fphint_nl_mcgrps),
};

/* ---- events --------------------------------------------------------- */

static void fphint_nl_multicast(u8 cmd, int (*put)(struct sk_buff *, void *),
				void *arg)
{
	struct sk_buff *skb;

	if (!READ_ONCE(fphint_nl_ready) ||
	    !genl_has_listeners(&fphint_nl_family, &init_net, 0))
		return;
	skb = fphint_nl_build(NULL, cmd, put, arg, GFP_KERNEL);
	if (skb)
		genlmsg_multicast(&fphint_nl_family, skb, 0, 0, GFP_KERNEL);
}

void fphint_nl_notify_config(void)
{
	fphint_nl_multicast(FPHINT_CMD_CONFIG_NTF, fphint_nl_put_config_event, NULL);
}

struct fphint_nl_throttle_event {
	bool throttled;
	const char *reason;
	struct zone *zone;
};

static int fphint_nl_put_throttle(struct sk_buff *skb, void *arg)
{
	struct fphint_nl_throttle_event *ev = arg;
	struct nlattr *zn;

	if (nla_put_u8(skb, FPHINT_A_THROTTLED, ev->throttled) ||
	    nla_put_string(skb, FPHINT_A_REASON, ev->reason))
		return -EMSGSIZE;
	if (ev->zone) {
		zn = nla_nest_start(skb, FPHINT_A_ZONE);
		if (!zn || fphint_nl_put_zone_id(skb, ev->zone))
			return -EMSGSIZE;
		nla_nest_end(skb, zn);
	}
	return 0;
}

/* From the worker, without spinlocks: may allocate. */
void fphint_nl_notify_throttle(bool throttled, const char *reason,
			       struct zone *zone)
{
	struct fphint_nl_throttle_event ev = { throttled, reason, zone };

	fphint_nl_multicast(FPHINT_CMD_THROTTLE_NTF, fphint_nl_put_throttle, &ev);
}

/* genetlink itself comes up at subsys_initcall, after mm/. */
static int __init fphint_nl_init(void)
{
	int err;

	/* fphint_init() failed: there is nothing to configure. */
	if (!fphint_zstats)
		return -ENODEV;
	err = genl_register_family(&fphint_nl_family);
	if (err) {
		pr_warn("netlink interface unavailable: %d\n", err);
		return err;
	}
	WRITE_ONCE(fphint_nl_ready, true);
	return 0;
}
late_initcall(fphint_nl_init);
