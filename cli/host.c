// SPDX-License-Identifier: GPL-2.0
/*
 * The host side: QEMU's view of a guest through QMP (RSS, balloon size,
 * negotiated features, guest memory stats), and fphintctl run inside the
 * guest through the QEMU guest agent.  Both speak JSON objects over a unix
 * socket; every read gives up after IO_TIMEOUT_MS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <json-c/json.h>

#include "fphintctl.h"

#define IO_TIMEOUT_MS		5000
#define STATS_WAIT_MS		5000	/* for the guest to refresh balloon stats */
#define STATS_POLL_S		2	/* guest-stats-polling-interval we set */
#define EXEC_TIMEOUT_MS		30000
#define GUEST_FPHINTCTL		"/usr/sbin/fphintctl"
#define BALLOON_REPORTING	"VIRTIO_BALLOON_F_REPORTING"
#define QGA_SENTINEL		'\xff'
#define POLICY_TEXT_MAX		512	/* VIRTIO_BALLOON_FPHINT_POLICY_LEN */
#define POLICY_TIMEOUT_S	10	/* --timeout default */
#define POLICY_POLL_MS		100

struct jconn {
	int fd;
	const char *what, *path;	/* "QMP", "guest agent"; for messages */
	json_tokener *tok;
	size_t len;
	int id;
	char buf[65536];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int jc_connect(struct jconn *c, const char *path, const char *what)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->what = what;
	c->path = path;
	c->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("%s socket %s: path too long", what, path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		pr_err("%s socket %s: %s", what, path, strerror(errno));
		return -1;
	}
	c->tok = json_tokener_new();
	return c->tok ? 0 : -1;
}

static void jc_close(struct jconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	if (c->tok)
		json_tokener_free(c->tok);
}

static int jc_write(struct jconn *c, const char *s, size_t len)
{
	while (len) {
		ssize_t r = send(c->fd, s, len, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			pr_err("%s socket %s: %s", c->what, c->path, strerror(errno));
			return -1;
		}
		s += r;
		len -= r;
	}
	return 0;
}

/* Append what the socket has to the buffer, waiting until deadline. */
static int jc_fill(struct jconn *c, long long deadline)
{
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	long long left = deadline - now_ms();
	ssize_t r;
	int n;

	do {
		n = poll(&pfd, 1, left > 0 ? left : 0);
	} while (n < 0 && errno == EINTR);
	if (n == 0) {
		pr_err("%s socket %s: no answer within %d s", c->what, c->path,
		       IO_TIMEOUT_MS / 1000);
		return -1;
	}
	do {
		r = n < 0 ? -1 : read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
	} while (r < 0 && errno == EINTR);
	if (r <= 0) {
		pr_err("%s socket %s: %s", c->what, c->path,
		       r ? strerror(errno) : "connection closed");
		return -1;
	}
	c->len += r;
	return 0;
}

/* The next JSON value in the stream, or NULL (reported). */
static struct json_object *jc_read(struct jconn *c, long long deadline)
{
	for (;;) {
		if (c->len) {
			struct json_object *o = json_tokener_parse_ex(c->tok, c->buf, c->len);
			enum json_tokener_error e = json_tokener_get_error(c->tok);

			if (e == json_tokener_success) {
				size_t used = json_tokener_get_parse_end(c->tok);

				memmove(c->buf, c->buf + used, c->len - used);
				c->len -= used;
				json_tokener_reset(c->tok);
				if (o)
					return o;
				continue;
			}
			if (e != json_tokener_continue) {
				pr_err("%s socket %s: malformed JSON (%s)", c->what, c->path,
				       json_tokener_error_desc(e));
				return NULL;
			}
			c->len = 0;	/* all of it is in the tokener's state now */
		}
		if (jc_fill(c, deadline))
			return NULL;
	}
}

/*
 * Run one command.  0 and *ret (the "return" value, a new reference) on
 * success; 1 and its "desc" in err when it failed; -1 (reported) when the
 * socket did.  Events and answers to other ids are skipped.
 */
static int jc_exec(struct jconn *c, const char *cmd, struct json_object *args,
		   struct json_object **ret, char *err, size_t errlen)
{
	struct json_object *req = json_object_new_object(), *o, *v;
	long long deadline = now_ms() + IO_TIMEOUT_MS;
	const char *s;
	int id = ++c->id, r = -1;

	json_object_object_add(req, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(req, "arguments", args);
	json_object_object_add(req, "id", json_object_new_int(id));
	s = json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN);
	if (jc_write(c, s, strlen(s)) || jc_write(c, "\n", 1)) {
		json_object_put(req);
		return -1;
	}
	json_object_put(req);
	while ((o = jc_read(c, deadline))) {
		if (json_object_object_get_ex(o, "event", NULL) ||
		    (json_object_object_get_ex(o, "id", &v) && json_object_get_int(v) != id)) {
			json_object_put(o);
			continue;
		}
		if (json_object_object_get_ex(o, "return", &v)) {
			*ret = json_object_get(v);
			r = 0;
		} else {
			struct json_object *e, *d;

			if (json_object_object_get_ex(o, "error", &e) &&
			    json_object_object_get_ex(e, "desc", &d))
				snprintf(err, errlen, "%s", json_object_get_string(d));
			else
				snprintf(err, errlen, "unexpected answer %s",
					 json_object_to_json_string(o));
			r = 1;
		}
		json_object_put(o);
		break;
	}
	return r;
}

/* jc_exec for commands that must work: any failure is reported. */
static struct json_object *jc_must(struct jconn *c, const char *cmd, struct json_object *args)
{
	struct json_object *ret = NULL;
	char err[512];
	int r = jc_exec(c, cmd, args, &ret, err, sizeof(err));

	if (r > 0)
		pr_err("%s: %s: %s", c->what, cmd, err);
	return r ? NULL : ret;
}

static struct json_object *qom_args(const char *path, const char *prop)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "path", json_object_new_string(path));
	json_object_object_add(a, "property", json_object_new_string(prop));
	return a;
}

/* qom-get; NULL (not reported) when it fails */
static struct json_object *qom_get(struct jconn *c, const char *path, const char *prop)
{
	struct json_object *ret = NULL;
	char err[512];

	if (jc_exec(c, "qom-get", qom_args(path, prop), &ret, err, sizeof(err)))
		return NULL;
	return ret;
}

static struct json_object *get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static long long rss_bytes(pid_t pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

/* Feature names of one side of x-query-virtio-status, without descriptions. */
static int feature_names(struct json_object *side, char (*buf)[64], const char **names, int max)
{
	static const char *const groups[] = { "dev-features", "transports" };
	int n = 0;

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		struct json_object *a = get(side, groups[g]);

		for (size_t i = 0; a && i < json_object_array_length(a) && n < max; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(a, i));

			snprintf(buf[n], sizeof(buf[n]), "%.*s", (int)strcspn(s, ":"), s);
			names[n] = buf[n];
			n++;
		}
	}
	return n;
}

static void print_features(struct json_object *status)
{
	static char gbuf[64][64], hbuf[64][64];
	const char *gn[64], *hn[64];
	struct json_object *guest = get(status, "guest-features");
	struct json_object *host = get(status, "host-features");
	int ng = feature_names(guest, gbuf, gn, 64), nh = feature_names(host, hbuf, hn, 64);
	bool reporting = false;

	for (int i = 0; i < ng; i++)
		reporting |= !strcmp(gn[i], BALLOON_REPORTING);
	if (!status) {
		print_kv_null(PRINT_ANY, "free_page_reporting", "-");
		print_kv_null(PRINT_ANY, "guest_features", "-");
		print_kv_null(PRINT_ANY, "host_features", "-");
		return;
	}
	print_kv_bool(PRINT_ANY, "free_page_reporting", reporting);
	print_kv_strv(PRINT_ANY, "guest_features", gn, ng);
	print_kv_strv(PRINT_ANY, "host_features", hn, nh);
}

/*
 * QEMU's names (hw/virtio/virtio-balloon.c) to ours: the unit goes in the
 * name, as everywhere in fphintctl.  The guest sends bytes for memory and
 * swap, event counts for faults and hugetlb.
 */
static const struct {
	const char *qemu, *name;
} guest_stats[] = {
	{ "stat-free-memory", "guest_free_memory_bytes" },
	{ "stat-available-memory", "guest_available_memory_bytes" },
	{ "stat-total-memory", "guest_total_memory_bytes" },
	{ "stat-disk-caches", "guest_disk_caches_bytes" },
	{ "stat-swap-in", "guest_swap_in_bytes" },
	{ "stat-swap-out", "guest_swap_out_bytes" },
	{ "stat-major-faults", "guest_major_faults" },
	{ "stat-minor-faults", "guest_minor_faults" },
	{ "stat-htlb-pgalloc", "guest_hugetlb_allocations" },
	{ "stat-htlb-pgfail", "guest_hugetlb_failures" },
};

static void print_guest_stats(struct json_object *gs)
{
	struct json_object *stats = get(gs, "stats"), *v;

	if ((v = get(gs, "last-update")))
		print_kv_int(PRINT_ANY, "guest_stats_last_update", json_object_get_int64(v));
	else
		print_kv_null(PRINT_ANY, "guest_stats_last_update", "-");
	for (size_t i = 0; i < ARRAY_SIZE(guest_stats); i++) {
		v = get(stats, guest_stats[i].qemu);
		/* QEMU reports stats the guest did not send as all ones */
		if (v && json_object_get_uint64(v) != UINT64_MAX)
			print_kv_uint(PRINT_ANY, guest_stats[i].name, json_object_get_uint64(v));
		else
			print_kv_null(PRINT_ANY, guest_stats[i].name, "-");
	}
}

/*
 * Balloon stats arrive only when the guest is polled: with polling off,
 * turn it on and give the guest a moment to answer the first request.
 */
static struct json_object *fresh_guest_stats(struct jconn *c, const char *dev, long long *poll_s)
{
	struct json_object *iv = qom_get(c, dev, "guest-stats-polling-interval");
	struct json_object *gs = qom_get(c, dev, "guest-stats"), *ret = NULL, *a;
	long long deadline = now_ms() + STATS_WAIT_MS, first;
	char err[512];

	*poll_s = iv ? json_object_get_int64(iv) : -1;
	json_object_put(iv);
	if (*poll_s != 0 || !gs)
		return gs;
	first = json_object_get_int64(get(gs, "last-update"));
	a = qom_args(dev, "guest-stats-polling-interval");
	json_object_object_add(a, "value", json_object_new_int(STATS_POLL_S));
	if (jc_exec(c, "qom-set", a, &ret, err, sizeof(err))) {
		pr_warn("cannot enable balloon stats polling: %s", err);
		return gs;
	}
	json_object_put(ret);
	*poll_s = STATS_POLL_S;
	while (now_ms() < deadline) {
		struct json_object *n;

		msleep(200);
		n = qom_get(c, dev, "guest-stats");
		if (!n)
			break;
		json_object_put(gs);
		gs = n;
		if (json_object_get_int64(get(gs, "last-update")) != first)
			return gs;
	}
	pr_warn("the guest did not refresh its balloon stats within %d s", STATS_WAIT_MS / 1000);
	return gs;
}

/*
 * The patched QEMU's counters of the free page reporting queue
 * (qemu/patches): QOM property to our key.  Stock QEMU has none of them.
 */
static const struct {
	const char *qemu, *name;
} host_counters[] = {
	{ "report-reports", "report_reports" },
	{ "report-ranges", "report_ranges" },
	{ "report-bytes-requested", "report_bytes_requested" },
	{ "report-bytes-discarded", "report_bytes_discarded" },
	{ "report-bytes-skipped-inhibited", "report_bytes_skipped_inhibited" },
	{ "report-bytes-skipped-poison", "report_bytes_skipped_poison" },
	{ "report-bytes-skipped-unaligned", "report_bytes_skipped_unaligned" },
	{ "report-bytes-skipped-not-ram", "report_bytes_skipped_not_ram" },
	{ "report-bytes-failed", "report_bytes_failed" },
	{ "report-discard-ns", "report_discard_ns" },
};

/* 1 and all counters, 0 when this QEMU has none (stock), -1 (reported) on error */
static int get_host_counters(struct jconn *c, const char *dev, uint64_t *val)
{
	for (size_t i = 0; i < ARRAY_SIZE(host_counters); i++) {
		struct json_object *ret = NULL;
		char err[512];
		int r = jc_exec(c, "qom-get", qom_args(dev, host_counters[i].qemu), &ret,
				err, sizeof(err));

		if (r < 0)
			return -1;
		if (r > 0) {
			if (i == 0)
				return 0;
			pr_err("QMP: qom-get %s: %s", host_counters[i].qemu, err);
			return -1;
		}
		val[i] = json_object_get_uint64(ret);
		json_object_put(ret);
	}
	return 1;
}

static void print_host_counters(int have, const uint64_t *val)
{
	print_kv_bool(PRINT_ANY, "host_counters", have > 0);
	for (size_t i = 0; i < ARRAY_SIZE(host_counters); i++) {
		if (have > 0)
			print_kv_uint(PRINT_ANY, host_counters[i].name, val[i]);
		else
			print_kv_null(PRINT_ANY, host_counters[i].name, "-");
	}
}

/* Connect, read the greeting, leave negotiation mode; -1 (reported) on failure. */
static int qmp_open(struct jconn *c, const char *sock)
{
	struct json_object *o;

	if (jc_connect(c, sock, "QMP"))
		return -1;
	o = jc_read(c, now_ms() + IO_TIMEOUT_MS);
	if (!o)
		return -1;
	if (!get(o, "QMP")) {
		pr_err("QMP socket %s: no QMP greeting", sock);
		json_object_put(o);
		return -1;
	}
	json_object_put(o);
	if (!(o = jc_must(c, "qmp_capabilities", NULL)))
		return -1;
	json_object_put(o);
	return 0;
}

/* The balloon's QOM path in x-query-virtio's answer (owned by it), or NULL. */
static const char *balloon_path(struct json_object *virtio)
{
	for (size_t i = 0; virtio && i < json_object_array_length(virtio); i++) {
		struct json_object *d = json_object_array_get_idx(virtio, i);

		if (!strcmp(json_object_get_string(get(d, "name")) ?: "", "virtio-balloon"))
			return json_object_get_string(get(d, "path"));
	}
	return NULL;
}

static int qmp_stats(const char *sock)
{
	struct json_object *virtio = NULL, *balloon = NULL, *status = NULL, *gs = NULL;
	long long pid = -1, rss = -1, poll_s = -1;
	uint64_t counters[ARRAY_SIZE(host_counters)];
	int have_counters = 0;
	const char *dev = NULL;
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	struct jconn c;
	int ret = EXIT_SYSTEM;
	char err[512];

	if (qmp_open(&c, sock))
		goto out;

	/* everything is gathered first: a failure prints nothing but the error */
	if (!getsockopt(c.fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) && cred.pid > 0) {
		pid = cred.pid;
		rss = rss_bytes(cred.pid);
	}
	/* without a balloon, or on a QEMU without x-query-virtio, those are null */
	if (jc_exec(&c, "x-query-virtio", NULL, &virtio, err, sizeof(err)) < 0 ||
	    jc_exec(&c, "query-balloon", NULL, &balloon, err, sizeof(err)) < 0)
		goto out;
	dev = balloon_path(virtio);
	if (dev) {
		struct json_object *a = json_object_new_object();

		json_object_object_add(a, "path", json_object_new_string(dev));
		/* waits for the guest first, so the features are as fresh */
		gs = fresh_guest_stats(&c, dev, &poll_s);
		if (jc_exec(&c, "x-query-virtio-status", a, &status, err, sizeof(err)) < 0)
			goto out;
		have_counters = get_host_counters(&c, dev, counters);
		if (have_counters < 0)
			goto out;
	}
	if (!have_counters)
		pr_warn("host counters unavailable (stock QEMU: no report-* properties on the balloon%s)",
			dev ? "" : "; no balloon device");

	open_json_object(NULL);
	print_layout(0, 31, false);
	if (pid > 0)
		print_kv_uint(PRINT_ANY, "qemu_pid", pid);
	else
		print_kv_null(PRINT_ANY, "qemu_pid", "-");
	if (rss >= 0)
		print_kv_uint(PRINT_ANY, "qemu_rss_bytes", rss);
	else
		print_kv_null(PRINT_ANY, "qemu_rss_bytes", "-");
	print_kv_string(PRINT_ANY, "balloon_device", dev);
	if (get(balloon, "actual"))
		print_kv_uint(PRINT_ANY, "balloon_actual_bytes",
			      json_object_get_int64(get(balloon, "actual")));
	else
		print_kv_null(PRINT_ANY, "balloon_actual_bytes", "-");
	print_features(status);
	if (poll_s >= 0)
		print_kv_int(PRINT_ANY, "guest_stats_polling_interval", poll_s);
	else
		print_kv_null(PRINT_ANY, "guest_stats_polling_interval", "-");
	print_guest_stats(gs);
	print_host_counters(have_counters, counters);
	close_json_object();
	ret = 0;
out:
	json_object_put(virtio);
	json_object_put(balloon);
	json_object_put(status);
	json_object_put(gs);
	jc_close(&c);
	return ret;
}

/*
 * The text the patched device carries to the guest: "key=value\n" lines,
 * "policy=NAME" first for a whole profile (keys not given take their
 * defaults in the guest), only the given keys for `set`.
 */
static int policy_text(const char *name, const struct settings *s, char *buf, size_t len)
{
	size_t n = 0;
	int r;

	if (name) {
		r = snprintf(buf, len, "policy=%s\n", name);
		if (r < 0 || (size_t)r >= len)
			return -1;
		n = r;
	}
	for (int k = 0; k < KEY_NR; k++) {
		if (!s->given[k])
			continue;
		if (keys[k].kind == KEY_STAGE)
			r = snprintf(buf + n, len - n, "%s=%s\n", keys[k].name, s->str[k]);
		else
			r = snprintf(buf + n, len - n, "%s=%u\n", keys[k].name, s->num[k]);
		if (r < 0 || (size_t)r >= len - n)
			return -1;
		n += r;
	}
	return n;
}

/* qom-get of a uint32; 0, 1 (err set) when QEMU refused, -1 (reported). */
static int qom_get_u32(struct jconn *c, const char *dev, const char *prop, uint32_t *v,
		       char *err, size_t errlen)
{
	struct json_object *ret = NULL;
	int r = jc_exec(c, "qom-get", qom_args(dev, prop), &ret, err, errlen);

	if (!r)
		*v = json_object_get_int64(ret);
	json_object_put(ret);
	return r;
}

/*
 * Hand the text to the balloon (qom-set fphint-policy-text), then wait
 * until the guest answered that generation or a later one.
 */
static int qmp_set_policy(const char *sock, const char *text, uint32_t timeout_s)
{
	struct json_object *virtio = NULL, *ret = NULL, *a;
	uint32_t gen, ack, eno;
	long long deadline;
	const char *dev;
	struct jconn c;
	int rc = EXIT_SYSTEM, r;
	char err[512];

	if (qmp_open(&c, sock))
		goto out;
	if (jc_exec(&c, "x-query-virtio", NULL, &virtio, err, sizeof(err)) < 0)
		goto out;
	dev = balloon_path(virtio);
	if (!dev) {
		pr_err("QMP socket %s: this QEMU has no virtio-balloon device", sock);
		goto out;
	}
	r = qom_get_u32(&c, dev, "fphint-policy-gen", &gen, err, sizeof(err));
	if (r < 0)
		goto out;
	if (r > 0) {
		pr_err("this QEMU cannot carry policy to the guest (no fphint-policy support; stock QEMU?): use --qga SOCK");
		goto out;
	}
	a = qom_args(dev, "fphint-policy-text");
	json_object_object_add(a, "value", json_object_new_string(text));
	r = jc_exec(&c, "qom-set", a, &ret, err, sizeof(err));
	json_object_put(ret);
	if (r) {
		if (r > 0)
			pr_err("QMP: qom-set fphint-policy-text: %s", err);
		goto out;
	}
	if (qom_get_u32(&c, dev, "fphint-policy-gen", &gen, err, sizeof(err))) {
		pr_err("QMP: qom-get fphint-policy-gen: %s", err);
		goto out;
	}
	deadline = now_ms() + timeout_s * 1000LL;
	for (;;) {
		if (qom_get_u32(&c, dev, "fphint-policy-ack-gen", &ack, err, sizeof(err))) {
			pr_err("QMP: qom-get fphint-policy-ack-gen: %s", err);
			goto out;
		}
		if ((int32_t)(ack - gen) >= 0)
			break;
		if (now_ms() >= deadline) {
			pr_err("guest did not answer within %u s (guest without fphint host policy support, or host_policy disabled?)",
			       timeout_s);
			goto out;
		}
		msleep(POLICY_POLL_MS);
	}
	/* the guest writes the errno before the generation */
	if (qom_get_u32(&c, dev, "fphint-policy-errno", &eno, err, sizeof(err))) {
		pr_err("QMP: qom-get fphint-policy-errno: %s", err);
		goto out;
	}
	if (eno) {
		pr_err("guest refused the policy: %s (errno %u)", strerror(eno), eno);
		rc = EXIT_USAGE;
		goto out;
	}
	open_json_object(NULL);
	print_layout(0, 10, false);
	print_kv_uint(PRINT_ANY, "generation", ack);
	print_kv_uint(PRINT_ANY, "errno", 0);
	close_json_object();
	rc = 0;
out:
	json_object_put(virtio);
	jc_close(&c);
	return rc;
}

/* `host --qmp SOCK set KEY=VALUE...` / `set-policy NAME|FILE` [--timeout S] */
static int qmp_policy_cmd(const char *sock, int argc, char **argv)
{
	bool whole = !strcmp(argv[0], "set-policy");
	char name[FPHINT_POLICY_NAME_MAX], text[POLICY_TEXT_MAX + 1], err[160];
	uint32_t timeout_s = POLICY_TIMEOUT_S;
	struct settings s = { 0 };
	const char *arg = NULL;
	int nargs = 0, n;

	for (int i = 1; i < argc; i++) {
		const char *v = NULL;

		if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
			v = argv[++i];
		else if (!strncmp(argv[i], "--timeout=", 10))
			v = argv[i] + 10;
		else if (!strcmp(argv[i], "--timeout")) {
			pr_err("--timeout needs a value");
			return EXIT_USAGE;
		}
		if (v) {
			if (!parse_u32(v, &timeout_s) || !timeout_s || timeout_s > 3600) {
				pr_err("--timeout: '%s' is not a number in 1..3600", v);
				return EXIT_USAGE;
			}
			continue;
		}
		nargs++;
		if (whole) {
			arg = argv[i];
			continue;
		}
		/* the same checks as a local `set` */
		char *eq = strchr(argv[i], '=');

		if (!eq) {
			pr_err("%s: expected KEY=VALUE", argv[i]);
			return EXIT_USAGE;
		}
		*eq = '\0';
		if (!strcmp(argv[i], "host_policy")) {
			pr_err("host_policy: the guest's own switch, the host cannot set it");
			return EXIT_USAGE;
		}
		if (settings_add(&s, argv[i], eq + 1, 0, err, sizeof(err)) < 0) {
			pr_err("%s: %s", argv[i], err);
			return EXIT_USAGE;
		}
	}
	if (whole ? nargs != 1 : !nargs) {
		pr_err("host --qmp SOCKET %s: expected %s [--timeout SECONDS]", argv[0],
		       whole ? "NAME or FILE" : "KEY=VALUE...");
		return EXIT_USAGE;
	}
	if (whole) {
		int ret = profile_load(arg, name, sizeof(name), &s);

		if (ret)
			return ret;
	}
	n = policy_text(whole ? name : NULL, &s, text, sizeof(text));
	if (n < 0 || n > POLICY_TEXT_MAX) {
		pr_err("the policy does not fit in the device's %d bytes", POLICY_TEXT_MAX);
		return EXIT_USAGE;
	}
	return qmp_set_policy(sock, text, timeout_s);
}

static int b64_value(int ch)
{
	static const char set[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = ch ? strchr(set, ch) : NULL;

	return p ? p - set : -1;
}

/* RFC 4648 base64 into a new NUL-terminated buffer; NULL if malformed. */
static char *b64_decode(const char *in, size_t *outlen)
{
	char *out = malloc(strlen(in) / 4 * 3 + 4);
	unsigned int acc = 0, bits = 0;
	size_t n = 0;

	for (; out && *in && *in != '='; in++) {
		int v = b64_value(*in);

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = acc >> bits & 0xff;
		}
	}
	if (out)
		out[n] = '\0';
	*outlen = n;
	return out;
}

/*
 * guest-sync-delimited: send 0xFF so the agent drops any half request,
 * then skip everything up to the 0xFF that precedes the answer carrying our
 * random id; answers to earlier clients' syncs are stale, skip those too.
 */
static int qga_sync(struct jconn *c)
{
	long long deadline = now_ms() + IO_TIMEOUT_MS;
	unsigned int id = 0;
	char req[128];

	if (getrandom(&id, sizeof(id), 0) != sizeof(id))
		id = getpid() ^ now_ms();
	id = (id & 0x7fffffff) ?: 1;
	snprintf(req, sizeof(req),
		 "%c{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":%u}}\n",
		 QGA_SENTINEL, id);
	if (jc_write(c, req, strlen(req)))
		return -1;
	for (;;) {
		struct json_object *o;
		char *ff = memchr(c->buf, QGA_SENTINEL, c->len);
		bool match;

		if (!ff) {
			c->len = 0;
			if (jc_fill(c, deadline))
				return -1;
			continue;
		}
		c->len -= ff + 1 - c->buf;
		memmove(c->buf, ff + 1, c->len);
		json_tokener_reset(c->tok);
		o = jc_read(c, deadline);
		if (!o)
			return -1;
		match = get(o, "return") && json_object_get_int64(get(o, "return")) == id;
		json_object_put(o);
		if (match)
			return 0;
	}
}

/* Run fphintctl in the guest and pass on what it printed and how it ended. */
static int qga_run(const char *sock, const char *const *argv, int argc)
{
	struct json_object *args, *a, *st = NULL, *ret;
	long long deadline = now_ms() + EXEC_TIMEOUT_MS;
	char *out = NULL, *err = NULL, msg[512];
	size_t outlen = 0, errlen = 0;
	long long pid, code = -1, sig = -1;
	struct jconn c;
	int rc = EXIT_SYSTEM, delay = 50;

	if (jc_connect(&c, sock, "guest agent") || qga_sync(&c))
		goto out;
	args = json_object_new_object();
	a = json_object_new_array();
	for (int i = 0; i < argc; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	json_object_object_add(args, "path", json_object_new_string(GUEST_FPHINTCTL));
	json_object_object_add(args, "arg", a);
	json_object_object_add(args, "capture-output", json_object_new_boolean(1));
	if (!(ret = jc_must(&c, "guest-exec", args)))
		goto out;
	pid = json_object_get_int64(get(ret, "pid"));
	json_object_put(ret);

	for (;;) {
		args = json_object_new_object();
		json_object_object_add(args, "pid", json_object_new_int64(pid));
		if (jc_exec(&c, "guest-exec-status", args, &st, msg, sizeof(msg))) {
			pr_err("guest agent: guest-exec-status: %s", msg);
			goto out;
		}
		if (json_object_get_boolean(get(st, "exited")))
			break;
		json_object_put(st);
		st = NULL;
		if (now_ms() > deadline) {
			pr_err("guest agent: %s did not exit within %d s", GUEST_FPHINTCTL,
			       EXEC_TIMEOUT_MS / 1000);
			goto out;
		}
		msleep(delay);
		delay = delay < 400 ? delay * 2 : 500;
	}
	if (get(st, "exitcode"))
		code = json_object_get_int64(get(st, "exitcode"));
	if (get(st, "signal"))
		sig = json_object_get_int64(get(st, "signal"));
	out = b64_decode(json_object_get_string(get(st, "out-data")) ?: "", &outlen);
	err = b64_decode(json_object_get_string(get(st, "err-data")) ?: "", &errlen);
	if (!out || !err) {
		pr_err("guest agent: malformed base64 in guest-exec-status");
		goto out;
	}
	fwrite(out, 1, outlen, stdout);
	fflush(stdout);
	if (code == 0) {
		fwrite(err, 1, errlen, stderr);
		rc = 0;
	} else {
		char *e = err + (strncmp(err, "Error: ", 7) ? 0 : 7);

		while (errlen && err[errlen - 1] == '\n')
			err[--errlen] = '\0';
		if (*e)
			pr_err("guest: %s", e);
		else if (sig >= 0)
			pr_err("guest: %s killed by signal %lld", GUEST_FPHINTCTL, sig);
		else
			pr_err("guest: %s exited with status %lld", GUEST_FPHINTCTL, code);
	}
out:
	json_object_put(st);
	free(out);
	free(err);
	jc_close(&c);
	return rc;
}

int cmd_host(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "", *sock = argc > 2 ? argv[2] : NULL;
	const char *cmd = argc > 3 ? argv[3] : "";
	const char *gargv[3];
	int gargc = 0;

	if ((strcmp(how, "--qmp") && strcmp(how, "--qga")) || !sock) {
		pr_err("usage: fphintctl host { --qmp SOCKET { stats | set-policy NAME|FILE | set KEY=VALUE... } | --qga SOCKET { set-policy NAME | status } }");
		return EXIT_USAGE;
	}
	if (!strcmp(how, "--qmp") && !strcmp(cmd, "stats") && argc == 4)
		return qmp_stats(sock);
	if (!strcmp(how, "--qmp") && (!strcmp(cmd, "set-policy") || !strcmp(cmd, "set")))
		return qmp_policy_cmd(sock, argc - 3, argv + 3);
	if (!strcmp(how, "--qga") && !strcmp(cmd, "set-policy") && argc == 5) {
		if (!policy_name_valid(argv[4]) || !strcmp(argv[4], FPHINT_POLICY_CUSTOM)) {
			pr_err("'%s' is not a policy name ([a-z0-9][a-z0-9_-]{0,%d}, not '%s')",
			       argv[4], FPHINT_POLICY_NAME_MAX - 2, FPHINT_POLICY_CUSTOM);
			return EXIT_USAGE;
		}
		gargv[gargc++] = "set-policy";
		gargv[gargc++] = argv[4];
		return qga_run(sock, gargv, gargc);
	}
	if (!strcmp(how, "--qga") && !strcmp(cmd, "status") && argc == 4) {
		if (is_json())
			gargv[gargc++] = "-j";
		if (is_pretty())
			gargv[gargc++] = "-p";
		gargv[gargc++] = "status";
		return qga_run(sock, gargv, gargc);
	}
	pr_err("host %s: expected %s", how,
	       strcmp(how, "--qmp") ? "set-policy NAME or status" :
	       "stats, set-policy NAME|FILE or set KEY=VALUE...");
	return EXIT_USAGE;
}
