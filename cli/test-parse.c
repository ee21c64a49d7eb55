// SPDX-License-Identifier: GPL-2.0
/*
 * Feed fphintctl's reply parsers and printers the messages the kernel
 * sends, built here the way the kernel builds them (nested flags, PAD
 * attributes before u64s, repeated attributes), and its extack decoding an
 * error aimed at attributes of a request fphintctl built.  No kernel needed.
 *
 * Also the Prometheus export of what `host ... stats` read of three VMs.
 *
 *   test-parse [-j] [-p] status|stats|watch|events|extack|keys|export
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <netlink/genl/genl.h>

#include "fphintctl.h"

#define FAMILY	0x1d

void pr_err(const char *fmt, ...)
{
	(void)fmt;
}

void pr_warn(const char *fmt, ...)
{
	(void)fmt;
}

static struct nl_msg *kmsg(int cmd)
{
	struct nl_msg *msg = nlmsg_alloc();

	genlmsg_put(msg, 0, 1, FAMILY, 0, 0, cmd, FPHINT_GENL_VERSION);
	return msg;
}

/* nla_put_u64_64bit(): a PAD attribute first if the value would be unaligned */
static void put_u64(struct nl_msg *msg, int type, uint64_t v, int pad)
{
	if ((NLMSG_ALIGN(nlmsg_hdr(msg)->nlmsg_len) + NLA_HDRLEN) % 8)
		nla_put(msg, pad, 0, NULL);
	nla_put_u64(msg, type, v);
}

static void put_config(struct nl_msg *msg, const char *policy, bool avail)
{
	static const char *const registered[STAGE_NR][4] = {
		{ FPHINT_CAPTURE_PERCPU, FPHINT_CAPTURE_BUDDY_SCAN },
		{ FPHINT_SELECTION_ZONE_SORT, FPHINT_SELECTION_FIFO },
		{ FPHINT_TRANSPORT_NULL, FPHINT_TRANSPORT_VIRTIO },
		{ FPHINT_THROTTLE_WATERMARK, FPHINT_THROTTLE_RATELIMIT, FPHINT_THROTTLE_NONE },
	};
	struct nlattr *nest;

	nla_put_u8(msg, FPHINT_A_ENABLED, 1);
	nla_put_string(msg, FPHINT_A_CAPTURE, FPHINT_CAPTURE_BUDDY_SCAN);
	nla_put_string(msg, FPHINT_A_SELECTION, FPHINT_SELECTION_DEFAULT);
	nla_put_string(msg, FPHINT_A_TRANSPORT, FPHINT_TRANSPORT_DEFAULT);
	nla_put_string(msg, FPHINT_A_THROTTLE, FPHINT_THROTTLE_DEFAULT);
	nla_put_string(msg, FPHINT_A_POLICY, policy);
	nest = nla_nest_start(msg, FPHINT_A_TUNABLES | NLA_F_NESTED);
#define X(NAME, name, def, min, max) \
	nla_put_u32(msg, FPHINT_A_TUNABLE_##NAME, FPHINT_A_TUNABLE_##NAME == 2 ? 9 : def);
	FPHINT_TUNABLES(X)
#undef X
	nla_nest_end(msg, nest);
	if (!avail)
		return;
	nest = nla_nest_start(msg, FPHINT_A_AVAIL | NLA_F_NESTED);
	for (int i = 0; i < STAGE_NR; i++)
		for (int j = 0; registered[i][j]; j++)
			nla_put_string(msg, stages[i].avail_attr, registered[i][j]);
	nla_nest_end(msg, nest);
}

static void put_zone(struct nl_msg *msg, int node, const char *name, uint64_t base, bool all)
{
	struct nlattr *nest = nla_nest_start(msg, FPHINT_A_ZONE | NLA_F_NESTED);

	nla_put_u32(msg, FPHINT_A_ZONE_NODE, node);
	nla_put_string(msg, FPHINT_A_ZONE_NAME, name);
	for (int a = FPHINT_A_ZONE_FREE_PAGES; all && a <= FPHINT_A_ZONE_MAX; a++)
		put_u64(msg, a, base * a, FPHINT_A_ZONE_PAD);
	nla_nest_end(msg, nest);
}

static struct nl_msg *stats_msg(uint64_t scale)
{
	struct nl_msg *msg = kmsg(FPHINT_CMD_STATS_GET);
	struct nlattr *nest = nla_nest_start(msg, FPHINT_A_STATS | NLA_F_NESTED);

	put_u64(msg, FPHINT_A_STAT_ISOLATED_NOW_PAGES, 0, FPHINT_A_STAT_PAD);
	nla_put_u32(msg, FPHINT_A_STAT_REPORT_DELAY_NOW_MS, 200);
	for (int i = 0; i < FPHINT_STAT_NR; i++)
		put_u64(msg, FPHINT_A_STAT_FIRST_COUNTER + i, (i + 1) * 1000 * scale,
			FPHINT_A_STAT_PAD);
	/* an attribute from a newer kernel is skipped */
	put_u64(msg, FPHINT_A_STAT_MAX + 1, 42, FPHINT_A_STAT_PAD);
	nla_nest_end(msg, nest);
	put_zone(msg, 0, "DMA", 10 * scale, true);
	put_zone(msg, 0, "DMA32", 1000 * scale, true);
	put_zone(msg, 1, "Normal", 100000 * scale, true);
	return msg;
}

static int test_status(void)
{
	struct nl_msg *msg = kmsg(FPHINT_CMD_CONFIG_GET);
	struct fphint_config cfg;

	put_config(msg, FPHINT_POLICY_DEFAULT, true);
	if (parse_config(nlmsg_hdr(msg), &cfg))
		return 1;
	show_status(&cfg);
	nlmsg_free(msg);
	return 0;
}

static int test_stats(bool watch)
{
	struct nl_msg *m1 = stats_msg(1), *m2 = stats_msg(3);
	struct fphint_stats st[2];

	if (parse_stats(nlmsg_hdr(m1), &st[0]) || parse_stats(nlmsg_hdr(m2), &st[1]))
		return 1;
	open_json_object(NULL);
	show_stats(&st[0], NULL, 0, watch);
	close_json_object();
	if (watch) {
		print_text("\n");
		open_json_object(NULL);
		show_stats(&st[1], &st[0], 2.0, watch);
		close_json_object();
	}
	nlmsg_free(m1);
	nlmsg_free(m2);
	return 0;
}

static int test_events(void)
{
	struct nl_msg *msg = kmsg(FPHINT_CMD_CONFIG_NTF);
	struct fphint_throttle_event ev;
	struct fphint_config cfg;

	put_config(msg, FPHINT_POLICY_CUSTOM, false);
	if (parse_config(nlmsg_hdr(msg), &cfg))
		return 1;
	show_event(FPHINT_CMD_CONFIG_NTF, &cfg);
	nlmsg_free(msg);

	msg = kmsg(FPHINT_CMD_THROTTLE_NTF);
	nla_put_u8(msg, FPHINT_A_THROTTLED, 1);
	nla_put_string(msg, FPHINT_A_REASON, FPHINT_REASON_WATERMARK);
	put_zone(msg, 0, "DMA32", 0, false);
	if (parse_throttle(nlmsg_hdr(msg), &ev))
		return 1;
	show_event(FPHINT_CMD_THROTTLE_NTF, &ev);
	nlmsg_free(msg);

	msg = kmsg(FPHINT_CMD_THROTTLE_NTF);
	nla_put_u8(msg, FPHINT_A_THROTTLED, 0);
	nla_put_string(msg, FPHINT_A_REASON, FPHINT_REASON_LOW_MEMORY);
	if (parse_throttle(nlmsg_hdr(msg), &ev))
		return 1;
	show_event(FPHINT_CMD_THROTTLE_NTF, &ev);
	nlmsg_free(msg);
	return 0;
}

/* Offset of attribute type (in the TUNABLES nest if nested) in req. */
static unsigned int find_attr(struct nl_msg *req, int type, bool nested)
{
	struct nlmsghdr *nlh = nlmsg_hdr(req);
	struct nlattr *a, *b;
	int rem, brem;

	nla_for_each_attr(a, genlmsg_attrdata(nlmsg_data(nlh), 0),
			  genlmsg_attrlen(nlmsg_data(nlh), 0), rem) {
		if (!nested && nla_type(a) == type)
			return (char *)a - (char *)nlh;
		if (nested && nla_type(a) == FPHINT_A_TUNABLES)
			nla_for_each_nested(b, a, brem)
				if (nla_type(b) == type)
					return (char *)b - (char *)nlh;
	}
	return 0;
}

/* An NLMSG_ERROR answering req, as netlink_ack() builds it. */
static void extack(struct fnl *nl, struct nl_msg *req, int error, bool capped, const char *text,
		   unsigned int off)
{
	struct nlmsghdr *rh = nlmsg_hdr(req);
	struct nl_msg *msg = nlmsg_alloc_simple(NLMSG_ERROR, text || off ?
						(capped ? NLM_F_CAPPED : 0) | NLM_F_ACK_TLVS : 0);
	struct nlmsgerr e = { .error = -error, .msg = *rh };
	char buf[256];

	nlmsg_append(msg, &e, sizeof(e), NLMSG_ALIGNTO);
	if (!capped)
		nlmsg_append(msg, nlmsg_data(rh), rh->nlmsg_len - NLMSG_HDRLEN, NLMSG_ALIGNTO);
	if (text)
		nla_put_string(msg, NLMSGERR_ATTR_MSG, text);
	if (off)
		nla_put_u32(msg, NLMSGERR_ATTR_OFFS, off);
	fnl_ext_ack(nl, nlmsg_hdr(msg), buf, sizeof(buf));
	printf("Error: %s\n", buf);
	nlmsg_free(msg);
}

static int test_extack(void)
{
	struct fnl *nl = fnl_fake(FAMILY);
	struct settings s = { 0 };
	struct nl_msg *req;
	char err[128];

	settings_add(&s, "report_delay_ms", "5", 0, err, sizeof(err));
	settings_add(&s, "capture", "hypercall", 0, err, sizeof(err));
	settings_add(&s, "min_order", "10", 0, err, sizeof(err));
	settings_add(&s, "enabled", "1", 0, err, sizeof(err));
	req = fnl_build(nl, FPHINT_CMD_CONFIG_SET, NULL, &s);
	extack(nl, req, ERANGE, true, "integer out of range",
	       find_attr(req, FPHINT_A_TUNABLE_MIN_ORDER, true));
	extack(nl, req, EINVAL, false, "unknown stage", find_attr(req, FPHINT_A_CAPTURE, false));
	extack(nl, req, ENOENT, true, "capture: no such stage",
	       find_attr(req, FPHINT_A_CAPTURE, false));
	extack(nl, req, EINVAL, true, "min_order: not supported by this kernel",
	       find_attr(req, FPHINT_A_TUNABLE_MIN_ORDER, true));
	extack(nl, req, EINVAL, false, "transport: no such stage", 0);
	extack(nl, req, EINVAL, true, NULL, find_attr(req, FPHINT_A_TUNABLES, false));
	extack(nl, req, EBUSY, false, "no reporting device", 0);
	extack(nl, req, EPERM, false, NULL, 0);
	nlmsg_free(req);

	req = fnl_build(nl, FPHINT_CMD_POLICY_SET, "low-latency", &s);
	extack(nl, req, EINVAL, true, "name too long", find_attr(req, FPHINT_A_POLICY, false));
	nlmsg_free(req);
	return 0;
}

/* What the man page must list, from the header, for test-local.sh. */
static int test_keys(void)
{
	for (int k = KEY_TUNABLE0; k < KEY_NR; k++)
		printf("tunable %s %u %u %u\n", keys[k].name, keys[k].min, keys[k].max, keys[k].def);
	for (int i = 0; i < FPHINT_STAT_NR; i++)
		printf("stat %s\n", stat_names[i]);
	for (int i = 0; i < HOST_COUNTERS_NR; i++)
		printf("metric %s\n", host_fields[i].metric);
	for (int i = 0; i < GUEST_STATS_NR; i++)
		printf("metric %s\n", guest_fields[i].metric);
	return 0;
}

/*
 * Three VMs as host.c reads them: the patched QEMU with every figure, a
 * stock one (no host counters, a guest that sent only some stats) whose
 * name needs escaping, and one that did not answer.
 */
static int test_export(void)
{
	struct vm_info vms[3] = { 0 };

	snprintf(vms[0].name, sizeof(vms[0].name), "web-1");
	vms[0].pid = 4242;
	vms[0].rss_bytes = 1288490188;
	vms[0].actual_bytes = 2147483648LL;
	vms[0].has_status = vms[0].reporting = true;
	vms[0].has_last_update = true;
	vms[0].last_update = 1700000000;
	for (int i = 0; i < GUEST_STATS_NR; i++) {
		vms[0].has_guest[i] = true;
		vms[0].guest[i] = (i + 1) * 1048576ULL;
	}
	vms[0].has_host = true;
	for (int i = 0; i < HOST_COUNTERS_NR; i++)
		vms[0].host[i] = (i + 1) * 1073741824ULL;
	vms[0].host[HOST_DISCARD_NS] = 1234567890123ULL;

	snprintf(vms[1].name, sizeof(vms[1].name), "db \"prod\"\\2\n");
	vms[1].pid = -1;
	vms[1].rss_bytes = -1;
	vms[1].actual_bytes = 1073741824;
	vms[1].has_guest[2] = true;
	vms[1].guest[2] = 1073741824;

	snprintf(vms[2].name, sizeof(vms[2].name), "gone.sock");
	snprintf(vms[2].error, sizeof(vms[2].error), "QMP socket /run/x/gone.sock: Connection refused");
	export_metrics(stdout, vms, 3);
	return 0;
}

int main(int argc, char **argv)
{
	bool json = false, pretty = false;
	int c;

	while ((c = getopt(argc, argv, "jp")) != -1)
		if (c == 'j')
			json = true;
		else if (c == 'p')
			pretty = true;
	print_init(json, pretty);
	if (optind != argc - 1)
		return 1;
	if (!strcmp(argv[optind], "status"))
		return test_status();
	if (!strcmp(argv[optind], "stats"))
		return test_stats(false);
	if (!strcmp(argv[optind], "watch"))
		return test_stats(true);
	if (!strcmp(argv[optind], "events"))
		return test_events();
	if (!strcmp(argv[optind], "extack"))
		return test_extack();
	if (!strcmp(argv[optind], "keys"))
		return test_keys();
	if (!strcmp(argv[optind], "export"))
		return test_export();
	return 1;
}
