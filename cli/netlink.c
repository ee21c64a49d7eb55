// SPDX-License-Identifier: GPL-2.0
/*
 * The fphint generic netlink family: requests, replies, events, and the
 * kernel's extended ACK turned into "Error: <key>: <message>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "fphintctl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK	270
#endif

_Static_assert(FPHINT_A_TUNABLE_CAPTURE_BATCH == FPHINT_TUNABLE_CAPTURE_BATCH + 1,
	       "tunable attribute ids are enum fphint_tunable + 1");

const struct attr_name zone_fields[] = {
	{ FPHINT_A_ZONE_FREE_PAGES, "free_pages" },
	{ FPHINT_A_ZONE_REPORTED_FREE_PAGES, "reported_free_pages" },
	{ FPHINT_A_ZONE_REPORTED_PAGES, "reported_pages" },
	{ FPHINT_A_ZONE_REPORTS, "reports" },
	{ FPHINT_A_ZONE_THROTTLED, "throttled" },
};
const int n_zone_fields = ARRAY_SIZE(zone_fields);

/* The gauges of /sys/kernel/mm/fphint/stats/, printed after the counters. */
const struct attr_name stat_gauges[] = {
	{ FPHINT_A_STAT_ISOLATED_NOW_PAGES, "isolated_now_pages" },
	{ FPHINT_A_STAT_REPORT_DELAY_NOW_MS, "report_delay_now_ms" },
};
const int n_stat_gauges = ARRAY_SIZE(stat_gauges);

struct fnl {
	struct nl_sock *sk;
	int family;
	/* where each attribute of the request in flight starts, for extack */
	struct {
		unsigned int off;
		const char *name;
	} sent[KEY_NR + 2];
	int nsent;
	/* outcome of the request in flight */
	bool done;
	int error;
	char errmsg[256];
	int (*parse)(const struct nlmsghdr *nlh, void *arg);
	void *parse_arg;
	bool malformed;
	/* monitor */
	fnl_event_cb event_cb;
	int events, max_events;
};

static int get_uint(const struct nlattr *a, uint64_t *v)
{
	switch (nla_len(a)) {
	case 1:
		*v = nla_get_u8(a);
		return 0;
	case 2:
		*v = nla_get_u16(a);
		return 0;
	case 4:
		*v = nla_get_u32(a);
		return 0;
	case 8:
		*v = nla_get_u64(a);
		return 0;
	}
	return -1;
}

static int get_str(const struct nlattr *a, char *buf, size_t size)
{
	size_t n = strnlen(nla_data(a), nla_len(a));

	if (n >= size)
		return -1;
	memcpy(buf, nla_data(a), n);
	buf[n] = '\0';
	return 0;
}

static int parse_top(const struct nlmsghdr *nlh, struct nlattr **tb)
{
	return genlmsg_parse((struct nlmsghdr *)nlh, 0, tb, FPHINT_A_MAX, NULL);
}

int parse_config(const struct nlmsghdr *nlh, struct fphint_config *cfg)
{
	struct nlattr *tb[FPHINT_A_MAX + 1], *a;
	uint64_t v;
	int rem, err = 0;

	memset(cfg, 0, sizeof(*cfg));
	if (parse_top(nlh, tb) < 0)
		return -1;
	if (tb[FPHINT_A_ENABLED]) {
		err |= get_uint(tb[FPHINT_A_ENABLED], &v);
		cfg->has_enabled = true;
		cfg->enabled = v;
	}
	if (tb[FPHINT_A_POLICY])
		err |= get_str(tb[FPHINT_A_POLICY], cfg->policy, sizeof(cfg->policy));
	if (tb[FPHINT_A_POLICY_SOURCE])
		err |= get_str(tb[FPHINT_A_POLICY_SOURCE], cfg->policy_source,
			       sizeof(cfg->policy_source));
	if (tb[FPHINT_A_HOST_POLICY]) {
		err |= get_uint(tb[FPHINT_A_HOST_POLICY], &v);
		cfg->has_host_policy = true;
		cfg->host_policy = v;
	}
	for (int i = 0; i < STAGE_NR; i++)
		if (tb[stages[i].attr])
			err |= get_str(tb[stages[i].attr], cfg->stage[i], sizeof(cfg->stage[i]));
	if (tb[FPHINT_A_TUNABLES]) {
		nla_for_each_nested(a, tb[FPHINT_A_TUNABLES], rem) {
			int t = nla_type(a) - 1;

			if (t < 0 || t >= FPHINT_TUNABLE_NR)
				continue;
			err |= get_uint(a, &v);
			cfg->has_tunable[t] = true;
			cfg->tunable[t] = v;
		}
	}
	if (tb[FPHINT_A_AVAIL]) {
		nla_for_each_nested(a, tb[FPHINT_A_AVAIL], rem) {
			for (int i = 0; i < STAGE_NR; i++) {
				if (nla_type(a) != stages[i].avail_attr)
					continue;
				if (cfg->n_avail[i] == AVAIL_MAX)
					break;
				err |= get_str(a, cfg->avail[i][cfg->n_avail[i]++],
					       FPHINT_STAGE_NAME_MAX);
			}
		}
	}
	return err ? -1 : 0;
}

static int parse_zone(const struct nlattr *nest, struct fphint_zone *z)
{
	struct nlattr *a;
	uint64_t v;
	int rem, err = 0;

	memset(z, 0, sizeof(*z));
	nla_for_each_nested(a, nest, rem) {
		int t = nla_type(a);

		if (t == FPHINT_A_ZONE_NAME) {
			err |= get_str(a, z->name, sizeof(z->name));
		} else if (t > FPHINT_A_ZONE_PAD && t <= FPHINT_A_ZONE_MAX) {
			err |= get_uint(a, &v);
			z->has[t] = true;
			z->val[t] = v;
		}
	}
	z->node = z->val[FPHINT_A_ZONE_NODE];
	return err ? -1 : 0;
}

int parse_stats(const struct nlmsghdr *nlh, struct fphint_stats *st)
{
	struct genlmsghdr *gh = nlmsg_data(nlh);
	struct nlattr *a, *c;
	uint64_t v;
	int rem, crem, err = 0;

	memset(st, 0, sizeof(*st));
	/* walked by hand: FPHINT_A_ZONE repeats */
	nla_for_each_attr(a, genlmsg_attrdata(gh, 0), genlmsg_attrlen(gh, 0), rem) {
		if (nla_type(a) == FPHINT_A_ZONE && st->nzones < ZONES_MAX) {
			err |= parse_zone(a, &st->zones[st->nzones++]);
			continue;
		}
		if (nla_type(a) != FPHINT_A_STATS)
			continue;
		nla_for_each_nested(c, a, crem) {
			int t = nla_type(c);

			if (t == FPHINT_A_STAT_PAD || t == FPHINT_A_STAT_UNSPEC)
				continue;
			if (get_uint(c, &v)) {
				err = -1;
			} else if (t < FPHINT_A_STAT_FIRST_COUNTER) {
				st->has_gauge[t] = true;
				st->gauge[t] = v;
			} else if (t - FPHINT_A_STAT_FIRST_COUNTER < FPHINT_STAT_NR) {
				st->has_counter[t - FPHINT_A_STAT_FIRST_COUNTER] = true;
				st->counter[t - FPHINT_A_STAT_FIRST_COUNTER] = v;
			}
		}
	}
	return err ? -1 : 0;
}

int parse_throttle(const struct nlmsghdr *nlh, struct fphint_throttle_event *ev)
{
	struct nlattr *tb[FPHINT_A_MAX + 1];
	uint64_t v;
	int err = 0;

	memset(ev, 0, sizeof(*ev));
	if (parse_top(nlh, tb) < 0)
		return -1;
	if (tb[FPHINT_A_THROTTLED]) {
		err |= get_uint(tb[FPHINT_A_THROTTLED], &v);
		ev->has_throttled = true;
		ev->throttled = v;
	}
	if (tb[FPHINT_A_REASON])
		err |= get_str(tb[FPHINT_A_REASON], ev->reason, sizeof(ev->reason));
	if (tb[FPHINT_A_ZONE]) {
		err |= parse_zone(tb[FPHINT_A_ZONE], &ev->zone);
		ev->has_zone = true;
	}
	return err ? -1 : 0;
}

/* Remember where the next attribute starts, for NLMSGERR_ATTR_OFFS. */
static void mark(struct fnl *nl, struct nl_msg *msg, const char *name)
{
	if (nl->nsent == (int)ARRAY_SIZE(nl->sent))
		return;
	nl->sent[nl->nsent].off = NLMSG_ALIGN(nlmsg_hdr(msg)->nlmsg_len);
	nl->sent[nl->nsent++].name = name;
}

struct nl_msg *fnl_build(struct fnl *nl, int cmd, const char *policy,
			 const struct settings *s)
{
	struct nlattr *nest = NULL;
	struct nl_msg *msg = nlmsg_alloc();
	int err = 0;

	nl->nsent = 0;
	if (!msg)
		return NULL;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl->family, 0, NLM_F_ACK, cmd,
			 FPHINT_GENL_VERSION))
		goto fail;
	if (policy) {
		mark(nl, msg, "policy");
		err |= nla_put_string(msg, FPHINT_A_POLICY, policy);
	}
	for (int k = 0; s && k < KEY_NR; k++) {
		const struct key_desc *d = &keys[k];

		if (!s->given[k])
			continue;
		if (d->kind == KEY_TUNABLE && !nest) {
			mark(nl, msg, "tunables");
			nest = nla_nest_start(msg, FPHINT_A_TUNABLES | NLA_F_NESTED);
			if (!nest)
				goto fail;
		}
		mark(nl, msg, d->name);
		switch (d->kind) {
		case KEY_ENABLED:
			err |= nla_put_u8(msg, FPHINT_A_ENABLED, s->num[k]);
			break;
		case KEY_HOST_POLICY:
			err |= nla_put_u8(msg, FPHINT_A_HOST_POLICY, s->num[k]);
			break;
		case KEY_STAGE:
			err |= nla_put_string(msg, stages[d->idx].attr, s->str[k]);
			break;
		case KEY_TUNABLE:	/* keys[] lists the tunables last */
			err |= nla_put_u32(msg, d->idx + 1, s->num[k]);
			break;
		}
	}
	if (nest)
		nla_nest_end(msg, nest);
	if (!err)
		return msg;
fail:
	nlmsg_free(msg);
	return NULL;
}

/*
 * Format the error in an NLMSG_ERROR message: the extack message and the
 * name of the attribute its offset points at, as we sent it.  Returns the
 * errno.
 */
int fnl_ext_ack(struct fnl *nl, const struct nlmsghdr *nlh, char *buf, size_t len)
{
	const struct nlmsgerr *e = nlmsg_data(nlh);
	struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
	const char *name = NULL, *msg = NULL;
	size_t hlen = sizeof(*e);
	int error = -e->error;

	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			hlen += e->msg.nlmsg_len - NLMSG_HDRLEN;
		hlen = NLMSG_ALIGN(hlen);
		if (NLMSG_HDRLEN + hlen < nlh->nlmsg_len)
			nla_parse(tb, NLMSGERR_ATTR_MAX, (struct nlattr *)((char *)e + hlen),
				  nlh->nlmsg_len - NLMSG_HDRLEN - hlen, NULL);
	}
	if (tb[NLMSGERR_ATTR_MSG] && nla_len(tb[NLMSGERR_ATTR_MSG]) > 0) {
		msg = nla_data(tb[NLMSGERR_ATTR_MSG]);
		if (msg[nla_len(tb[NLMSGERR_ATTR_MSG]) - 1])
			msg = NULL;
	}
	if (tb[NLMSGERR_ATTR_OFFS] && nla_len(tb[NLMSGERR_ATTR_OFFS]) == 4) {
		unsigned int off = nla_get_u32(tb[NLMSGERR_ATTR_OFFS]);

		for (int i = 0; i < nl->nsent; i++)
			if (nl->sent[i].off == off)
				name = nl->sent[i].name;
	}
	/* fphint's own messages already start with the key */
	if (name && msg && !strncmp(msg, name, strlen(name)) && msg[strlen(name)] == ':')
		name = NULL;
	snprintf(buf, len, "%s%s%s", name ? name : "", name ? ": " : "",
		 msg ? msg : strerror(error));
	return error;
}

static int on_valid(struct nl_msg *msg, void *arg)
{
	struct fnl *nl = arg;

	if (nl->parse && nl->parse(nlmsg_hdr(msg), nl->parse_arg))
		nl->malformed = true;
	return NL_OK;
}

static int on_ack(struct nl_msg *msg, void *arg)
{
	struct fnl *nl = arg;

	(void)msg;
	nl->done = true;
	return NL_STOP;
}

static int on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct fnl *nl = arg;

	(void)who;
	nl->error = fnl_ext_ack(nl, (struct nlmsghdr *)((char *)e - NLMSG_HDRLEN),
				nl->errmsg, sizeof(nl->errmsg));
	nl->done = true;
	return NL_STOP;
}

struct fnl *fnl_fake(int family)
{
	struct fnl *nl = calloc(1, sizeof(*nl));

	if (nl)
		nl->family = family;
	return nl;
}

struct fnl *fnl_open(void)
{
	struct fnl *nl = fnl_fake(0);
	int one = 1, err;

	if (!nl || !(nl->sk = nl_socket_alloc())) {
		pr_err("out of memory");
		free(nl);
		return NULL;
	}
	err = genl_connect(nl->sk);
	if (err < 0) {
		pr_err("netlink: %s", nl_geterror(err));
		goto fail;
	}
	/* best effort: without them errors just lose their detail */
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl_socket_get_fd(nl->sk), SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->family = genl_ctrl_resolve(nl->sk, FPHINT_GENL_NAME);
	if (nl->family == -NLE_OBJ_NOTFOUND) {
		pr_err("fphint netlink family not found (kernel without CONFIG_FPHINT?)");
		goto fail;
	} else if (nl->family < 0) {
		pr_err("netlink: %s", nl_geterror(nl->family));
		goto fail;
	}
	return nl;
fail:
	fnl_close(nl);
	return NULL;
}

void fnl_close(struct fnl *nl)
{
	if (!nl)
		return;
	nl_socket_free(nl->sk);
	free(nl);
}

static int request(struct fnl *nl, struct nl_msg *msg,
		   int (*parse)(const struct nlmsghdr *, void *), void *arg)
{
	struct nl_cb *cb;
	int err;

	if (!msg) {
		pr_err("out of memory");
		return EXIT_SYSTEM;
	}
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (!cb) {
		nlmsg_free(msg);
		pr_err("out of memory");
		return EXIT_SYSTEM;
	}
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, nl);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, nl);
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, nl);
	nl->done = nl->malformed = false;
	nl->error = 0;
	nl->parse = parse;
	nl->parse_arg = arg;

	err = nl_send_auto(nl->sk, msg);
	nlmsg_free(msg);
	while (err >= 0 && !nl->done)
		err = nl_recvmsgs(nl->sk, cb);
	nl_cb_put(cb);
	if (nl->error) {
		pr_err("%s", nl->errmsg);
		return EXIT_SYSTEM;
	}
	if (err < 0 && !nl->done) {
		pr_err("netlink: %s", nl_geterror(err));
		return EXIT_SYSTEM;
	}
	if (nl->malformed) {
		pr_err("malformed reply from the kernel");
		return EXIT_SYSTEM;
	}
	return 0;
}

static int parse_config_cb(const struct nlmsghdr *nlh, void *arg)
{
	return parse_config(nlh, arg);
}

static int parse_stats_cb(const struct nlmsghdr *nlh, void *arg)
{
	return parse_stats(nlh, arg);
}

int fnl_config_get(struct fnl *nl, struct fphint_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	return request(nl, fnl_build(nl, FPHINT_CMD_CONFIG_GET, NULL, NULL),
		       parse_config_cb, cfg);
}

int fnl_config_set(struct fnl *nl, const struct settings *s)
{
	return request(nl, fnl_build(nl, FPHINT_CMD_CONFIG_SET, NULL, s), NULL, NULL);
}

int fnl_policy_set(struct fnl *nl, const char *name, const struct settings *s)
{
	return request(nl, fnl_build(nl, FPHINT_CMD_POLICY_SET, name, s), NULL, NULL);
}

int fnl_stats_get(struct fnl *nl, struct fphint_stats *st)
{
	memset(st, 0, sizeof(*st));
	return request(nl, fnl_build(nl, FPHINT_CMD_STATS_GET, NULL, NULL),
		       parse_stats_cb, st);
}

/* Events are not answers: they carry sequence number 0. */
static int no_seq_check(struct nl_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
	return NL_OK;
}

static int on_event(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct genlmsghdr *gh = nlmsg_data(nlh);
	struct fnl *nl = arg;
	union {
		struct fphint_config cfg;
		struct fphint_throttle_event thr;
	} ev;
	int err;

	if (nlh->nlmsg_type != nl->family)
		return NL_SKIP;
	if (gh->cmd == FPHINT_CMD_CONFIG_NTF)
		err = parse_config(nlh, &ev.cfg);
	else if (gh->cmd == FPHINT_CMD_THROTTLE_NTF)
		err = parse_throttle(nlh, &ev.thr);
	else
		return NL_SKIP;
	if (err) {
		pr_warn("malformed event from the kernel");
		return NL_SKIP;
	}
	nl->event_cb(gh->cmd, &ev);
	if (nl->max_events && ++nl->events >= nl->max_events)
		return NL_STOP;
	return NL_OK;
}

/* Print events until count of them (0: forever) came in. */
int fnl_monitor(int count, fnl_event_cb event_cb)
{
	struct fnl *nl = fnl_open();
	struct nl_cb *cb;
	int grp, err, ret = 0;

	if (!nl)
		return EXIT_SYSTEM;
	grp = genl_ctrl_resolve_grp(nl->sk, FPHINT_GENL_NAME, FPHINT_MCGRP_EVENTS);
	if (grp < 0) {
		pr_err("netlink: group %s: %s", FPHINT_MCGRP_EVENTS, nl_geterror(grp));
		fnl_close(nl);
		return EXIT_SYSTEM;
	}
	err = nl_socket_add_membership(nl->sk, grp);
	cb = nl_cb_alloc(NL_CB_DEFAULT);
	if (err < 0 || !cb) {
		pr_err("netlink: %s", err < 0 ? nl_geterror(err) : "out of memory");
		fnl_close(nl);
		return EXIT_SYSTEM;
	}
	nl_cb_set(cb, NL_CB_SEQ_CHECK, NL_CB_CUSTOM, no_seq_check, NULL);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_event, nl);
	nl->event_cb = event_cb;
	nl->max_events = count;
	while (!count || nl->events < count) {
		err = nl_recvmsgs(nl->sk, cb);
		if (err == -NLE_NOMEM) {	/* ENOBUFS: the socket overran */
			pr_warn("events lost (receive queue overrun)");
		} else if (err < 0) {
			pr_err("netlink: %s", nl_geterror(err));
			ret = EXIT_SYSTEM;
			break;
		}
	}
	nl_cb_put(cb);
	fnl_close(nl);
	return ret;
}
