// SPDX-License-Identifier: GPL-2.0
/*
 * fphint generic netlink selftest: every operation with valid input (the
 * reply agrees with sysfs, the change really happens) and invalid input
 * (out of range, wrong type, missing, unknown attributes, non-root): each
 * rejected with an extack message pointing at the attribute, and the
 * configuration read back unchanged.  set-policy with one bad value changes
 * nothing; the "events" group delivers config and throttle events.
 *
 * Raw netlink on purpose: the messages a library would refuse to build are
 * the ones worth sending.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <linux/fphint.h>

#include "kselftest_harness.h"
#include "fphint_util.h"

static const char *tunable_names[] = {
#define X(NAME, name, def, min, max) #name,
	FPHINT_TUNABLES(X)
#undef X
};
static const unsigned long tunable_min[] = {
#define X(NAME, name, def, min, max) min,
	FPHINT_TUNABLES(X)
#undef X
};
static const unsigned long tunable_max[] = {
#define X(NAME, name, def, min, max) max,
	FPHINT_TUNABLES(X)
#undef X
};
static const unsigned long tunable_def[] = {
#define X(NAME, name, def, min, max) def,
	FPHINT_TUNABLES(X)
#undef X
};
static const char *stat_names[] = {
#define X(NAME, name) #name,
	FPHINT_STATS(X)
#undef X
};

static unsigned long sysfs_tunable(int t)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), FP "%s", tunable_names[t]);
	if (read_str(path, buf, sizeof(buf)))
		return ~0UL;
	return strtoul(buf, NULL, 10);
}

/* ---- a minimal generic netlink client ---------------------------------- */

struct msg {
	struct nlmsghdr nlh;
	struct genlmsghdr genl;
	char buf[4096];
};

struct reply {
	int err;			/* 0 or -errno from the kernel */
	char extack[256];		/* NLMSGERR_ATTR_MSG */
	uint32_t bad_off;		/* NLMSGERR_ATTR_OFFS, 0 if none */
	uint32_t miss_type;		/* NLMSGERR_ATTR_MISS_TYPE */
	char data[16384];		/* the reply message, if any */
	int len;
};

static int nl_open(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	int one = 1;
	struct timeval tv = { .tv_sec = 5 };
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	/* Bound, or broadcasts skip us: they exclude port id 0, the kernel's. */
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void msg_init(struct msg *m, uint16_t family, uint8_t cmd)
{
	memset(m, 0, sizeof(*m));
	m->nlh.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	m->nlh.nlmsg_type = family;
	m->nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	m->genl.cmd = cmd;
	m->genl.version = FPHINT_GENL_VERSION;
}

/* Append an attribute; returns its offset in the message (for extack). */
static uint32_t put(struct msg *m, uint16_t type, const void *data, int len)
{
	struct nlattr *a = (void *)((char *)m + NLMSG_ALIGN(m->nlh.nlmsg_len));
	uint32_t off = (char *)a - (char *)m;

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	m->nlh.nlmsg_len = NLMSG_ALIGN(m->nlh.nlmsg_len) + NLA_ALIGN(a->nla_len);
	return off;
}

static uint32_t put_u8(struct msg *m, uint16_t type, uint8_t v) { return put(m, type, &v, 1); }
static uint32_t put_u32(struct msg *m, uint16_t type, uint32_t v) { return put(m, type, &v, 4); }
static uint32_t put_str(struct msg *m, uint16_t type, const char *s)
{
	return put(m, type, s, strlen(s) + 1);
}

static struct nlattr *nest_start(struct msg *m, uint16_t type)
{
	struct nlattr *a = (void *)((char *)m + NLMSG_ALIGN(m->nlh.nlmsg_len));

	put(m, type | NLA_F_NESTED, NULL, 0);
	return a;
}

static void nest_end(struct msg *m, struct nlattr *a)
{
	a->nla_len = (char *)m + m->nlh.nlmsg_len - (char *)a;
}

/* One attribute inside a tunables nest of its own; its offset. */
static uint32_t put_tunable(struct msg *m, uint16_t type, const void *data, int len)
{
	struct nlattr *n = nest_start(m, FPHINT_A_TUNABLES);
	uint32_t off = put(m, type, data, len);

	nest_end(m, n);
	return off;
}

static void parse_ack(struct reply *r, struct nlmsghdr *nlh)
{
	struct nlmsgerr *e = NLMSG_DATA(nlh);
	int off = sizeof(*e);
	struct nlattr *a;

	r->err = e->error;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	for (a = (void *)((char *)e + off);
	     (char *)a + NLA_HDRLEN <= (char *)nlh + nlh->nlmsg_len && a->nla_len >= NLA_HDRLEN;
	     a = (void *)((char *)a + NLA_ALIGN(a->nla_len))) {
		void *d = (char *)a + NLA_HDRLEN;

		if (a->nla_type == NLMSGERR_ATTR_MSG)
			snprintf(r->extack, sizeof(r->extack), "%s", (char *)d);
		else if (a->nla_type == NLMSGERR_ATTR_OFFS)
			r->bad_off = *(uint32_t *)d;
		else if (a->nla_type == NLMSGERR_ATTR_MISS_TYPE)
			r->miss_type = *(uint32_t *)d;
	}
}

/* Send @m and collect the reply (if any) and the ack. */
static int transact(int fd, struct msg *m, struct reply *r)
{
	static uint32_t seq = 1;
	char buf[32768];

	memset(r, 0, sizeof(*r));
	m->nlh.nlmsg_seq = seq++;
	if (send(fd, m, m->nlh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		int n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *nlh;

		if (n < 0)
			return -errno;
		for (nlh = (void *)buf; NLMSG_OK(nlh, n); nlh = NLMSG_NEXT(nlh, n)) {
			if (nlh->nlmsg_seq != m->nlh.nlmsg_seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				parse_ack(r, nlh);
				return r->err;
			}
			r->len = nlh->nlmsg_len < sizeof(r->data) ? nlh->nlmsg_len : sizeof(r->data);
			memcpy(r->data, nlh, r->len);
		}
	}
}

/* Top-level attributes of a reply (after the genl header), by type. */
static int attrs_of(void *start, int len, struct nlattr **tb, int max)
{
	struct nlattr *a;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	for (a = start; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len), a = (void *)((char *)a + NLA_ALIGN(a->nla_len)))
		if ((a->nla_type & NLA_TYPE_MASK) <= max)
			tb[a->nla_type & NLA_TYPE_MASK] = a;
	return 0;
}

static void *nla_data(struct nlattr *a) { return (char *)a + NLA_HDRLEN; }
static int nla_len(struct nlattr *a) { return a->nla_len - NLA_HDRLEN; }

static void reply_attrs(struct reply *r, struct nlattr **tb, int max)
{
	struct nlmsghdr *nlh = (void *)r->data;

	attrs_of((char *)NLMSG_DATA(nlh) + GENL_HDRLEN,
		 nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), tb, max);
}

static void nested(struct nlattr *a, struct nlattr **tb, int max)
{
	attrs_of(nla_data(a), nla_len(a), tb, max);
}

/* The next zone nest of a stats reply, from *@pos on; 0 when none is left. */
static int next_zone(struct reply *r, int *pos, struct nlattr **zt)
{
	struct nlmsghdr *nlh = (void *)r->data;
	char *start = (char *)NLMSG_DATA(nlh) + GENL_HDRLEN;
	int len = nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);

	while (*pos + NLA_HDRLEN <= len) {
		struct nlattr *a = (void *)(start + *pos);

		if (a->nla_len < NLA_HDRLEN)
			return 0;
		*pos += NLA_ALIGN(a->nla_len);
		if ((a->nla_type & NLA_TYPE_MASK) == FPHINT_A_ZONE) {
			attrs_of((char *)a + NLA_HDRLEN, a->nla_len - NLA_HDRLEN, zt, FPHINT_A_ZONE_MAX);
			return 1;
		}
	}
	return 0;
}

static uint64_t get_u64(struct nlattr *a)
{
	uint64_t v;

	memcpy(&v, nla_data(a), 8);
	return v;
}

/* Family id and the "events" group id via the controller. */
static int resolve(int fd, uint16_t *family, uint32_t *group)
{
	struct nlattr *tb[CTRL_ATTR_MAX + 1], *g, *gtb[CTRL_ATTR_MCAST_GRP_MAX + 1];
	struct msg m;
	struct reply r;
	int len;

	msg_init(&m, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	m.genl.version = 2;
	put_str(&m, CTRL_ATTR_FAMILY_NAME, FPHINT_GENL_NAME);
	if (transact(fd, &m, &r) || !r.len)
		return -1;
	reply_attrs(&r, tb, CTRL_ATTR_MAX);
	if (!tb[CTRL_ATTR_FAMILY_ID])
		return -1;
	*family = *(uint16_t *)nla_data(tb[CTRL_ATTR_FAMILY_ID]);
	*group = 0;
	if (!tb[CTRL_ATTR_MCAST_GROUPS])
		return 0;
	g = nla_data(tb[CTRL_ATTR_MCAST_GROUPS]);
	for (len = nla_len(tb[CTRL_ATTR_MCAST_GROUPS]); len >= NLA_HDRLEN;
	     len -= NLA_ALIGN(g->nla_len), g = (void *)((char *)g + NLA_ALIGN(g->nla_len))) {
		nested(g, gtb, CTRL_ATTR_MCAST_GRP_MAX);
		if (gtb[CTRL_ATTR_MCAST_GRP_NAME] && gtb[CTRL_ATTR_MCAST_GRP_ID] &&
		    !strcmp(nla_data(gtb[CTRL_ATTR_MCAST_GRP_NAME]), FPHINT_MCGRP_EVENTS))
			*group = *(uint32_t *)nla_data(gtb[CTRL_ATTR_MCAST_GRP_ID]);
	}
	return 0;
}

/* ---- fixture: save and restore the whole configuration ----------------- */

FIXTURE(nl) {
	int fd;
	uint16_t family;
	uint32_t group;
	struct snapshot saved;
};

FIXTURE_SETUP(nl)
{
	self->fd = nl_open();
	ASSERT_LE(0, self->fd);
	ASSERT_EQ(0, resolve(self->fd, &self->family, &self->group))
		TH_LOG("family " FPHINT_GENL_NAME " not registered");
	snap(&self->saved);
}

FIXTURE_TEARDOWN(nl)
{
	restore_config(&self->saved);
	write_str(FP "enabled", "1");
	close(self->fd);
}

/* The reject contract: error, a message, the attribute at fault, nothing changed. */
#define EXPECT_REJECTED(m, r, off)						\
	do {									\
		struct snapshot __before, __after;				\
		snap(&__before);						\
		EXPECT_GT(0, transact(self->fd, (m), (r)));			\
		EXPECT_NE(0, (r)->extack[0]) TH_LOG("no extack message");	\
		if ((off))							\
			EXPECT_EQ((off), (r)->bad_off) TH_LOG("extack: %s", (r)->extack); \
		snap(&__after);							\
		EXPECT_EQ(0, memcmp(&__before, &__after, sizeof(__before)))	\
			TH_LOG("configuration changed by a rejected message");	\
		TH_LOG("rejected: %d '%s'", (r)->err, (r)->extack);		\
	} while (0)

TEST_F(nl, config_get_matches_sysfs)
{
	struct nlattr *tb[FPHINT_A_MAX + 1], *tt[FPHINT_A_TUNABLE_MAX + 1];
	struct nlattr *av[FPHINT_A_AVAIL_MAX + 1];
	struct msg m;
	struct reply r;
	char buf[256];
	int i;

	msg_init(&m, self->family, FPHINT_CMD_CONFIG_GET);
	ASSERT_EQ(0, transact(self->fd, &m, &r));
	ASSERT_LT(0, r.len);
	reply_attrs(&r, tb, FPHINT_A_MAX);
	ASSERT_NE(NULL, tb[FPHINT_A_ENABLED]);
	EXPECT_EQ(1, *(uint8_t *)nla_data(tb[FPHINT_A_ENABLED]));
	ASSERT_NE(NULL, tb[FPHINT_A_POLICY]);
	EXPECT_STREQ(self->saved.v[SNAP_POLICY], (char *)nla_data(tb[FPHINT_A_POLICY]));
	ASSERT_NE(NULL, tb[FPHINT_A_POLICY_SOURCE]);
	EXPECT_STREQ(self->saved.v[SNAP_POLICY_SOURCE], (char *)nla_data(tb[FPHINT_A_POLICY_SOURCE]));
	ASSERT_NE(NULL, tb[FPHINT_A_HOST_POLICY]);
	EXPECT_EQ(atoi(self->saved.v[SNAP_HOST_POLICY]), *(uint8_t *)nla_data(tb[FPHINT_A_HOST_POLICY]));
	for (i = 0; i < 4; i++) {
		ASSERT_NE(NULL, tb[FPHINT_A_CAPTURE + i]);
		snprintf(buf, sizeof(buf), "[%s]", (char *)nla_data(tb[FPHINT_A_CAPTURE + i]));
		EXPECT_NE(NULL, strstr(self->saved.v[FPHINT_TUNABLE_NR + i], buf));
	}
	ASSERT_NE(NULL, tb[FPHINT_A_TUNABLES]);
	nested(tb[FPHINT_A_TUNABLES], tt, FPHINT_A_TUNABLE_MAX);
	for (i = 0; i < FPHINT_TUNABLE_NR; i++) {
		ASSERT_NE(NULL, tt[i + 1]) TH_LOG("%s missing", tunable_names[i]);
		EXPECT_EQ(sysfs_tunable(i), *(uint32_t *)nla_data(tt[i + 1]));
	}
	/* Every stage listed in sysfs is in the avail nest. */
	ASSERT_NE(NULL, tb[FPHINT_A_AVAIL]);
	nested(tb[FPHINT_A_AVAIL], av, FPHINT_A_AVAIL_MAX);
	for (i = 0; i < 4; i++)
		EXPECT_NE(NULL, av[FPHINT_A_AVAIL_CAPTURE + i]);
}

TEST_F(nl, stats_get_matches_sysfs)
{
	struct nlattr *tb[FPHINT_A_MAX + 1], *st[FPHINT_A_STAT_MAX + 1], *zt[FPHINT_A_ZONE_MAX + 1];
	struct msg m;
	struct reply r;
	char path[128], buf[64];
	uint64_t before[FPHINT_STAT_NR], zreports = 0, reports;
	int i, zones = 0, pos;

	for (i = 0; i < FPHINT_STAT_NR; i++) {
		snprintf(path, sizeof(path), FP "stats/%s", stat_names[i]);
		ASSERT_EQ(0, read_str(path, buf, sizeof(buf)));
		before[i] = strtoull(buf, NULL, 10);
	}
	msg_init(&m, self->family, FPHINT_CMD_STATS_GET);
	ASSERT_EQ(0, transact(self->fd, &m, &r));
	reply_attrs(&r, tb, FPHINT_A_MAX);
	ASSERT_NE(NULL, tb[FPHINT_A_STATS]);
	nested(tb[FPHINT_A_STATS], st, FPHINT_A_STAT_MAX);
	for (i = 0; i < FPHINT_STAT_NR; i++) {
		uint64_t after;

		ASSERT_NE(NULL, st[FPHINT_A_STAT_FIRST_COUNTER + i]) TH_LOG("%s", stat_names[i]);
		snprintf(path, sizeof(path), FP "stats/%s", stat_names[i]);
		read_str(path, buf, sizeof(buf));
		after = strtoull(buf, NULL, 10);
		/* Counters only grow: netlink's value lies between two sysfs reads. */
		EXPECT_LE(before[i], get_u64(st[FPHINT_A_STAT_FIRST_COUNTER + i])) TH_LOG("%s", stat_names[i]);
		EXPECT_GE(after, get_u64(st[FPHINT_A_STAT_FIRST_COUNTER + i])) TH_LOG("%s", stat_names[i]);
	}
	EXPECT_NE(NULL, st[FPHINT_A_STAT_ISOLATED_NOW_PAGES]);
	EXPECT_NE(NULL, st[FPHINT_A_STAT_REPORT_DELAY_NOW_MS]);
	reports = get_u64(st[FPHINT_A_STAT_FIRST_COUNTER + FPHINT_STAT_REPORTS]);

	/* Zones: each with its counters; their reports add up to the total. */
	for (pos = 0; next_zone(&r, &pos, zt);) {
		for (i = FPHINT_A_ZONE_NODE; i <= FPHINT_A_ZONE_MAX; i++)
			ASSERT_NE(NULL, zt[i]) TH_LOG("zone attr %d missing", i);
		/* Reported free memory is part of free memory (give or take a race). */
		EXPECT_LE(get_u64(zt[FPHINT_A_ZONE_REPORTED_FREE_PAGES]),
			  get_u64(zt[FPHINT_A_ZONE_FREE_PAGES]) + 4096)
			TH_LOG("zone %s", (char *)nla_data(zt[FPHINT_A_ZONE_NAME]));
		zreports += get_u64(zt[FPHINT_A_ZONE_REPORTS]);
		TH_LOG("zone %u %s free %llu reported_free %llu reports %llu",
		       *(uint32_t *)nla_data(zt[FPHINT_A_ZONE_NODE]),
		       (char *)nla_data(zt[FPHINT_A_ZONE_NAME]),
		       (unsigned long long)get_u64(zt[FPHINT_A_ZONE_FREE_PAGES]),
		       (unsigned long long)get_u64(zt[FPHINT_A_ZONE_REPORTED_FREE_PAGES]),
		       (unsigned long long)get_u64(zt[FPHINT_A_ZONE_REPORTS]));
		zones++;
	}
	EXPECT_LT(0, zones);
	EXPECT_EQ(reports, zreports);
}

TEST_F(nl, reported_free_pages_tracks_reporting)
{
	struct nlattr *zt[FPHINT_A_ZONE_MAX + 1];
	struct msg m;
	struct reply r;
	uint64_t total = 0;
	size_t bytes = 256 << 20;
	char *p;
	int pos, tries;

	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, bytes);
	munmap(p, bytes);
	/* After the frees are reported, most of 256 MiB shows as reported free. */
	for (tries = 0; tries < 100 && total < (bytes >> 12) / 2; tries++) {
		usleep(100000);
		msg_init(&m, self->family, FPHINT_CMD_STATS_GET);
		ASSERT_EQ(0, transact(self->fd, &m, &r));
		total = 0;
		for (pos = 0; next_zone(&r, &pos, zt);)
			total += get_u64(zt[FPHINT_A_ZONE_REPORTED_FREE_PAGES]);
	}
	TH_LOG("reported free pages: %llu after %d tries", (unsigned long long)total, tries);
	EXPECT_LE((bytes >> 12) / 2, total);
}

TEST_F(nl, config_set_applies)
{
	struct msg m;
	struct reply r;
	struct nlattr *n;
	char buf[64];
	int t = FPHINT_TUNABLE_MIN_ORDER;
	unsigned long want = sysfs_tunable(t) == 3 ? 4 : 3;

	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	put_str(&m, FPHINT_A_SELECTION, FPHINT_SELECTION_FIFO);
	n = nest_start(&m, FPHINT_A_TUNABLES);
	put_u32(&m, t + 1, want);
	nest_end(&m, n);
	ASSERT_EQ(0, transact(self->fd, &m, &r)) TH_LOG("%s", r.extack);
	EXPECT_EQ(want, sysfs_tunable(t));
	read_str(FP "selection", buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "[" FPHINT_SELECTION_FIFO "]"));
	read_str(FP "policy", buf, sizeof(buf));
	EXPECT_STREQ(FPHINT_POLICY_CUSTOM, buf);

	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	put_u8(&m, FPHINT_A_ENABLED, 0);
	ASSERT_EQ(0, transact(self->fd, &m, &r));
	read_str(FP "enabled", buf, sizeof(buf));
	EXPECT_STREQ("0", buf);
}

/*
 * host_policy: config-set turns it off and on, sysfs agrees, and neither
 * the policy name nor policy_source moves (access control, not policy);
 * policy-set does not take it at all.
 */
TEST_F(nl, host_policy_switch)
{
	char policy[64], source[64], buf[64];
	struct msg m;
	struct reply r;
	uint32_t off;

	read_str(FP "policy", policy, sizeof(policy));
	read_str(FP "policy_source", source, sizeof(source));
	for (int v = 0; v <= 1; v++) {
		msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
		put_u8(&m, FPHINT_A_HOST_POLICY, v);
		ASSERT_EQ(0, transact(self->fd, &m, &r)) TH_LOG("%s", r.extack);
		EXPECT_EQ(v, read_u64(FP "host_policy"));
		read_str(FP "policy", buf, sizeof(buf));
		EXPECT_STREQ(policy, buf);
		read_str(FP "policy_source", buf, sizeof(buf));
		EXPECT_STREQ(source, buf);
	}
	msg_init(&m, self->family, FPHINT_CMD_POLICY_SET);
	put_str(&m, FPHINT_A_POLICY, "hp");
	off = put_u8(&m, FPHINT_A_HOST_POLICY, 0);
	EXPECT_REJECTED(&m, &r, off);
	EXPECT_EQ(1, read_u64(FP "host_policy"));
}

TEST_F(nl, config_set_rejects_out_of_range)
{
	struct msg m;
	struct reply r;
	uint32_t off;
	int t;

	for (t = 0; t < FPHINT_TUNABLE_NR; t++) {
		unsigned long bad[2] = { tunable_max[t] + 1, tunable_min[t] - 1 };

		for (int k = 0; k < (tunable_min[t] ? 2 : 1); k++) {
			msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
			off = put_tunable(&m, t + 1, &(uint32_t){ bad[k] }, 4);
			EXPECT_REJECTED(&m, &r, off);
			TH_LOG("%s=%lu", tunable_names[t], bad[k]);
		}
	}
	/* Huge: all ones. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_tunable(&m, FPHINT_A_TUNABLE_MIN_ORDER, &(uint32_t){ 0xffffffff }, 4);
	EXPECT_REJECTED(&m, &r, off);
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_u8(&m, FPHINT_A_ENABLED, 2);
	EXPECT_REJECTED(&m, &r, off);
}

TEST_F(nl, config_set_rejects_bad_attrs)
{
	struct msg m;
	struct reply r;
	char longname[64];
	uint32_t off;

	/* Unknown stage name, and one too long for any stage. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_str(&m, FPHINT_A_CAPTURE, "no-such-stage");
	EXPECT_REJECTED(&m, &r, off);
	EXPECT_STREQ("capture: no such stage", r.extack);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_str(&m, FPHINT_A_THROTTLE, longname);
	EXPECT_REJECTED(&m, &r, off);
	/* Empty string. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_str(&m, FPHINT_A_SELECTION, "");
	EXPECT_REJECTED(&m, &r, off);
	/* String without its NUL. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put(&m, FPHINT_A_SELECTION, "fifo", 4);
	EXPECT_REJECTED(&m, &r, off);
	/* Wrong type: enabled as u32, a tunable as u8. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_u32(&m, FPHINT_A_ENABLED, 1);
	EXPECT_REJECTED(&m, &r, off);
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_tunable(&m, FPHINT_A_TUNABLE_MIN_ORDER, &(uint8_t){ 3 }, 1);
	EXPECT_REJECTED(&m, &r, off);
	/* Unknown top-level and nested attributes; read-only ones. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_u32(&m, FPHINT_A_MAX + 1, 1);
	EXPECT_REJECTED(&m, &r, off);
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_str(&m, FPHINT_A_POLICY, "database");
	EXPECT_REJECTED(&m, &r, off);
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	off = put_tunable(&m, FPHINT_A_TUNABLE_MAX + 1, &(uint32_t){ 1 }, 4);
	EXPECT_REJECTED(&m, &r, off);
	/* Attributes on a get. */
	msg_init(&m, self->family, FPHINT_CMD_STATS_GET);
	off = put_u8(&m, FPHINT_A_ENABLED, 1);
	EXPECT_REJECTED(&m, &r, off);
	/* Nothing to set; an unknown command. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	EXPECT_REJECTED(&m, &r, 0);
	EXPECT_STREQ("nothing to set", r.extack);
	msg_init(&m, self->family, FPHINT_CMD_MAX + 1);
	EXPECT_GT(0, transact(self->fd, &m, &r));
	EXPECT_EQ(-EOPNOTSUPP, r.err);
	/* A good value next to a bad one: neither is applied. */
	msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
	put_str(&m, FPHINT_A_SELECTION, FPHINT_SELECTION_FIFO);
	off = put_str(&m, FPHINT_A_THROTTLE, "bogus");
	EXPECT_REJECTED(&m, &r, off);
}

TEST_F(nl, policy_set_applies_whole_policy)
{
	struct msg m;
	struct reply r;
	struct nlattr *n;
	char buf[64];
	int t;

	/* A non-default value first: the policy must put it back. */
	write_str(FP "report_batch", "7");
	msg_init(&m, self->family, FPHINT_CMD_POLICY_SET);
	put_str(&m, FPHINT_A_POLICY, "test-policy");
	put_str(&m, FPHINT_A_THROTTLE, FPHINT_THROTTLE_RATELIMIT);
	n = nest_start(&m, FPHINT_A_TUNABLES);
	put_u32(&m, FPHINT_A_TUNABLE_MIN_ORDER, 6);
	put_u32(&m, FPHINT_A_TUNABLE_CAPTURE_BATCH, 1024);
	nest_end(&m, n);
	ASSERT_EQ(0, transact(self->fd, &m, &r)) TH_LOG("%s", r.extack);
	read_str(FP "policy", buf, sizeof(buf));
	EXPECT_STREQ("test-policy", buf);
	for (t = 0; t < FPHINT_TUNABLE_NR; t++) {
		unsigned long want = t == FPHINT_TUNABLE_MIN_ORDER ? 6 :
				     t == FPHINT_TUNABLE_CAPTURE_BATCH ? 1024 : tunable_def[t];

		EXPECT_EQ(want, sysfs_tunable(t)) TH_LOG("%s", tunable_names[t]);
	}
	read_str(FP "throttle", buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "[" FPHINT_THROTTLE_RATELIMIT "]"));
	read_str(FP "capture", buf, sizeof(buf));
	EXPECT_NE(NULL, strstr(buf, "[" FPHINT_CAPTURE_DEFAULT "]"));
}

TEST_F(nl, policy_set_one_bad_value_changes_nothing)
{
	struct msg m;
	struct reply r;
	struct nlattr *n;
	uint32_t off;

	/* Out of range, caught by the policy. */
	msg_init(&m, self->family, FPHINT_CMD_POLICY_SET);
	put_str(&m, FPHINT_A_POLICY, "half-bad");
	put_u8(&m, FPHINT_A_ENABLED, 1);
	put_str(&m, FPHINT_A_SELECTION, FPHINT_SELECTION_FIFO);
	n = nest_start(&m, FPHINT_A_TUNABLES);
	put_u32(&m, FPHINT_A_TUNABLE_CAPTURE_BATCH, 512);
	put_u32(&m, FPHINT_A_TUNABLE_MIN_ORDER, 5);
	off = put_u32(&m, FPHINT_A_TUNABLE_LOW_MEM_PCT, 91);
	nest_end(&m, n);
	EXPECT_REJECTED(&m, &r, off);
	/* Unknown stage, caught after the buffers could have been resized. */
	msg_init(&m, self->family, FPHINT_CMD_POLICY_SET);
	put_str(&m, FPHINT_A_POLICY, "half-bad");
	n = nest_start(&m, FPHINT_A_TUNABLES);
	put_u32(&m, FPHINT_A_TUNABLE_CAPTURE_BATCH, 512);
	put_u32(&m, FPHINT_A_TUNABLE_REPORT_DELAY_MS, 7);
	nest_end(&m, n);
	off = put_str(&m, FPHINT_A_THROTTLE, "no-such-throttle");
	EXPECT_REJECTED(&m, &r, off);
	/* Missing name; a name that is not plain. */
	msg_init(&m, self->family, FPHINT_CMD_POLICY_SET);
	put_str(&m, FPHINT_A_SELECTION, FPHINT_SELECTION_FIFO);
	EXPECT_REJECTED(&m, &r, 0);
	EXPECT_EQ(FPHINT_A_POLICY, r.miss_type);
	msg_init(&m, self->family, FPHINT_CMD_POLICY_SET);
	off = put_str(&m, FPHINT_A_POLICY, "../etc/Bad Name");
	EXPECT_REJECTED(&m, &r, off);
}

TEST_F(nl, nonroot_gets_eperm)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (!pid) {
		struct msg m;
		struct reply r;
		struct snapshot a, b;
		int ok = 1;

		snap(&a);
		if (setgid(65534) || setuid(65534))
			_exit(2);
		msg_init(&m, self->family, FPHINT_CMD_CONFIG_SET);
		put_u8(&m, FPHINT_A_ENABLED, 0);
		ok &= transact(self->fd, &m, &r) == -EPERM;
		msg_init(&m, self->family, FPHINT_CMD_POLICY_SET);
		put_str(&m, FPHINT_A_POLICY, "x");
		ok &= transact(self->fd, &m, &r) == -EPERM;
		/* Reading needs no privilege. */
		msg_init(&m, self->family, FPHINT_CMD_CONFIG_GET);
		ok &= transact(self->fd, &m, &r) == 0;
		msg_init(&m, self->family, FPHINT_CMD_STATS_GET);
		ok &= transact(self->fd, &m, &r) == 0;
		snap(&b);
		ok &= !memcmp(&a, &b, sizeof(a));
		_exit(ok ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * Bad input sweep: every attribute a write takes, in both write commands,
 * with each kind of bad value: out of range, negative, huge, empty, wrong
 * width, not a number, overlong, unknown keyword.  Each must be refused
 * with an extack message naming the attribute and change nothing.  Then
 * a caller without CAP_NET_ADMIN sends a valid value of each: EPERM.
 */
struct bad_val {
	const char *what;
	const void *data;
	int len;
};

static int sweep_count;

/* Send @cmd carrying @v as attribute @type (inside a tunables nest if @nested). */
static void sweep_one(struct __test_metadata *_metadata, FIXTURE_DATA(nl) *self,
		      uint8_t cmd, uint16_t type, int nested, const struct bad_val *v,
		      const char *attr)
{
	struct msg m;
	struct reply r;
	uint32_t off;

	msg_init(&m, self->family, cmd);
	if (cmd == FPHINT_CMD_POLICY_SET && !(type == FPHINT_A_POLICY && !nested))
		put_str(&m, FPHINT_A_POLICY, "sweep");
	off = nested ? put_tunable(&m, type, v->data, v->len) : put(&m, type, v->data, v->len);
	EXPECT_REJECTED(&m, &r, off);
	TH_LOG("cmd %u %s <- %s", cmd, attr, v->what);
	sweep_count++;
}

TEST_F(nl, bad_input_sweep)
{
	static const uint8_t cmds[] = { FPHINT_CMD_CONFIG_SET, FPHINT_CMD_POLICY_SET };
	static const struct { uint16_t type; const char *name, *upper; } strs[] = {
		{ FPHINT_A_CAPTURE, "capture", "PERCPU" },
		{ FPHINT_A_SELECTION, "selection", "FIFO" },
		{ FPHINT_A_TRANSPORT, "transport", "NULL" },
		{ FPHINT_A_THROTTLE, "throttle", "NONE" },
	};
	/* Longer than a stage or a policy name may be. */
	char longer[FPHINT_POLICY_NAME_MAX + 8], longest[1024];
	uint64_t u64one = 1;
	uint32_t u32one = 1, neg = 0xffffffff, big = 0x80000000;
	uint16_t u16one = 1;
	uint8_t two = 2, ff = 0xff;

	memset(longer, 'a', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = 0;
	memset(longest, 'b', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = 0;

	const struct bad_val enabled_bad[] = {
		{ "u8 2", &two, 1 }, { "u8 255 (-1)", &ff, 1 }, { "empty", NULL, 0 },
		{ "u16", &u16one, 2 }, { "u32", &u32one, 4 }, { "u64", &u64one, 8 },
		{ "string \"1\"", "1", 2 },
	};
	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
		for (size_t i = 0; i < ARRAY_SIZE(enabled_bad); i++) {
			sweep_one(_metadata, self, cmds[c], FPHINT_A_ENABLED, 0, &enabled_bad[i], "enabled");
			/* Access control, not policy: policy-set refuses even good values. */
			sweep_one(_metadata, self, cmds[c], FPHINT_A_HOST_POLICY, 0, &enabled_bad[i],
				  "host_policy");
		}

		for (size_t k = 0; k < ARRAY_SIZE(strs); k++) {
			const struct bad_val bad[] = {
				{ "unknown keyword", "no-such-stage", 14 },
				{ "empty string", "", 1 }, { "empty", NULL, 0 },
				{ "upper case", strs[k].upper, strlen(strs[k].upper) + 1 },
				{ "bracketed", "[null]", 7 }, { "two names", "null fifo", 10 },
				{ "a number", "0", 2 }, { "negative", "-1", 3 },
				{ "overlong", longer, sizeof(longer) }, { "1 KiB", longest, sizeof(longest) },
				{ "no NUL", "null", 4 }, { "binary u32", &u32one, 4 },
			};
			for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
				sweep_one(_metadata, self, cmds[c], strs[k].type, 0, &bad[i], strs[k].name);
		}

		for (int t = 0; t < FPHINT_TUNABLE_NR; t++) {
			uint32_t above = tunable_max[t] + 1, below = tunable_min[t] - 1;
			uint64_t wide = tunable_def[t];
			const struct bad_val bad[] = {
				{ "max+1", &above, 4 }, { "-1", &neg, 4 }, { "2^31", &big, 4 },
				{ "empty", NULL, 0 }, { "u8", &two, 1 }, { "u16", &u16one, 2 },
				{ "u64 (default value)", &wide, 8 }, { "string \"5\"", "5", 2 },
				{ "min-1", &below, 4 },
			};
			/* min-1 only where it is not the all-ones already tried. */
			size_t n = ARRAY_SIZE(bad) - !tunable_min[t];

			for (size_t i = 0; i < n; i++)
				sweep_one(_metadata, self, cmds[c], t + 1, 1, &bad[i], tunable_names[t]);
		}
		/* Unknown ids at both levels; attributes only the kernel sends. */
		const struct bad_val one = { "u32 1", &u32one, 4 };

		sweep_one(_metadata, self, cmds[c], FPHINT_A_MAX + 1, 0, &one, "unknown top-level id");
		sweep_one(_metadata, self, cmds[c], FPHINT_A_TUNABLE_MAX + 1, 1, &one, "unknown tunable id");
		sweep_one(_metadata, self, cmds[c], FPHINT_A_STATS, 0, &one, "stats");
		sweep_one(_metadata, self, cmds[c], FPHINT_A_THROTTLED, 0, &(struct bad_val){ "u8 1", &ff, 1 }, "throttled");
		sweep_one(_metadata, self, cmds[c], FPHINT_A_REASON, 0, &(struct bad_val){ "string", "x", 2 }, "reason");
		sweep_one(_metadata, self, cmds[c], FPHINT_A_POLICY_SOURCE, 0,
			  &(struct bad_val){ "string", "host", 5 }, "policy_source");
		/* A tunables "nest" without NLA_F_NESTED. */
		sweep_one(_metadata, self, cmds[c], FPHINT_A_TUNABLES, 0, &one, "tunables (not nested)");
	}
	/* The policy name: only policy-set takes one. */
	const struct bad_val names[] = {
		{ "empty string", "", 1 }, { "empty", NULL, 0 }, { "space", "Bad Name", 9 },
		{ "path", "../etc/x", 9 }, { "upper case", "DB", 3 }, { "overlong", longer, sizeof(longer) },
		{ "1 KiB", longest, sizeof(longest) }, { "no NUL", "db", 2 }, { "binary u32", &u32one, 4 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		sweep_one(_metadata, self, FPHINT_CMD_POLICY_SET, FPHINT_A_POLICY, 0, &names[i], "policy");
	sweep_one(_metadata, self, FPHINT_CMD_CONFIG_SET, FPHINT_A_POLICY, 0,
		  &(struct bad_val){ "read-only here", "default", 8 }, "policy");

	/* Unprivileged: a valid value of every attribute, each refused. */
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (!pid) {
		struct snapshot a, b;
		struct msg m;
		struct reply r;
		int bad = 0;

		snap(&a);
		if (setgid(65534) || setuid(65534))
			_exit(255);
		for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
			for (int t = -2; t < FPHINT_TUNABLE_NR + 4; t++) {
				msg_init(&m, self->family, cmds[c]);
				if (cmds[c] == FPHINT_CMD_POLICY_SET)
					put_str(&m, FPHINT_A_POLICY, "sweep");
				if (t == -2)
					put_u8(&m, FPHINT_A_HOST_POLICY, 1);
				else if (t < 0)
					put_u8(&m, FPHINT_A_ENABLED, 1);
				else if (t < FPHINT_TUNABLE_NR)
					put_tunable(&m, t + 1, &(uint32_t){ tunable_def[t] }, 4);
				else
					put_str(&m, strs[t - FPHINT_TUNABLE_NR].type, "null");
				bad += transact(self->fd, &m, &r) != -EPERM;
			}
		}
		snap(&b);
		bad += !!memcmp(&a, &b, sizeof(a));
		_exit(bad > 254 ? 254 : bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("%d unprivileged writes not refused with EPERM", WEXITSTATUS(status));
	sweep_count += 2 * (FPHINT_TUNABLE_NR + 6);
	printf("@@BADINPUT netlink=%d\n", sweep_count);
	fflush(stdout);
}

/* Next event of @cmd on the events socket within @secs; its attrs in @tb. */
static int wait_event(int fd, uint8_t cmd, struct nlattr **tb, char *buf, int len, int secs)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, secs * 1000) > 0) {
		int n = recv(fd, buf, len, 0);
		struct nlmsghdr *nlh = (void *)buf;
		struct genlmsghdr *g = NLMSG_DATA(nlh);

		if (n <= 0)
			return -1;
		if (g->cmd != cmd)
			continue;
		attrs_of((char *)g + GENL_HDRLEN, nlh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN),
			 tb, FPHINT_A_MAX);
		return 0;
	}
	return -1;
}

TEST_F(nl, events_config_and_throttle)
{
	struct nlattr *tb[FPHINT_A_MAX + 1], *tt[FPHINT_A_TUNABLE_MAX + 1];
	static char buf[16384];
	int ev = nl_open();
	size_t bytes = 768 << 20;
	char *p;

	ASSERT_LE(0, ev);
	ASSERT_NE(0, self->group);
	ASSERT_EQ(0, setsockopt(ev, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
				&self->group, sizeof(self->group)));

	/* A sysfs write is an event too. */
	write_str(FP "report_delay_ms", "42");
	ASSERT_EQ(0, wait_event(ev, FPHINT_CMD_CONFIG_NTF, tb, buf, sizeof(buf), 5));
	ASSERT_NE(NULL, tb[FPHINT_A_TUNABLES]);
	nested(tb[FPHINT_A_TUNABLES], tt, FPHINT_A_TUNABLE_MAX);
	EXPECT_EQ(42, *(uint32_t *)nla_data(tt[FPHINT_A_TUNABLE_REPORT_DELAY_MS]));
	EXPECT_STREQ(FPHINT_POLICY_CUSTOM, (char *)nla_data(tb[FPHINT_A_POLICY]));

	/* Hold 768 MiB of 2 GiB, ask for a 90 % floor, free a little: throttled. */
	write_str(FP "throttle", FPHINT_THROTTLE_WATERMARK);
	write_str(FP "low_mem_pct", "90");
	p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, bytes);
	munmap(p, 64 << 20);
	ASSERT_EQ(0, wait_event(ev, FPHINT_CMD_THROTTLE_NTF, tb, buf, sizeof(buf), 20));
	ASSERT_NE(NULL, tb[FPHINT_A_THROTTLED]);
	EXPECT_EQ(1, *(uint8_t *)nla_data(tb[FPHINT_A_THROTTLED]));
	EXPECT_STREQ(FPHINT_REASON_LOW_MEMORY, (char *)nla_data(tb[FPHINT_A_REASON]));
	/* Free the rest: memory is back above the floor, hinting resumes. */
	munmap(p + (64 << 20), bytes - (64 << 20));
	ASSERT_EQ(0, wait_event(ev, FPHINT_CMD_THROTTLE_NTF, tb, buf, sizeof(buf), 20));
	EXPECT_EQ(0, *(uint8_t *)nla_data(tb[FPHINT_A_THROTTLED]));
	close(ev);
}

TEST_HARNESS_MAIN
