// SPDX-License-Identifier: GPL-2.0
/*
 * The host side: QEMU's view of guests through QMP (RSS, balloon size,
 * negotiated features, guest memory stats), as text, JSON or Prometheus
 * metrics, and fphintctl run inside a guest through the QEMU guest agent.
 * QMP comes from our own connection to a socket or through libvirt; the
 * sockets speak JSON objects and every read gives up after IO_TIMEOUT_MS.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <json-c/json.h>
#ifdef HAVE_LIBVIRT
#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#endif

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
#define LIBVIRT_PID_DIR		"/run/libvirt/qemu"	/* qemu:///system */

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


/*
 * A VM's QEMU monitor: our own QMP connection to a socket, or libvirt's
 * (virDomainQemuMonitorCommand(), so that a libvirt domain needs no
 * second monitor socket).  Both run one command and hand back its
 * "return" value or its error's "desc".
 */
struct mon {
	struct jconn c;
#ifdef HAVE_LIBVIRT
	virDomainPtr dom;
#endif
};

/* Like jc_exec(), on either kind of monitor. */
static int mon_exec(struct mon *m, const char *cmd, struct json_object *args,
		    struct json_object **ret, char *err, size_t errlen)
{
#ifdef HAVE_LIBVIRT
	if (m->dom) {
		struct json_object *req = json_object_new_object(), *o, *v;
		char *reply = NULL;
		int r;

		json_object_object_add(req, "execute", json_object_new_string(cmd));
		if (args)
			json_object_object_add(req, "arguments", args);
		r = virDomainQemuMonitorCommand(m->dom, json_object_to_json_string_ext(req,
						JSON_C_TO_STRING_PLAIN), &reply, 0);
		json_object_put(req);
		if (r < 0) {
			pr_err("libvirt: %s: %s", cmd, virGetLastErrorMessage());
			return -1;
		}
		o = json_tokener_parse(reply);
		free(reply);
		if (o && json_object_object_get_ex(o, "return", &v)) {
			*ret = json_object_get(v);
			r = 0;
		} else if (o && json_object_object_get_ex(o, "error", &v) &&
			   json_object_object_get_ex(v, "desc", &v)) {
			snprintf(err, errlen, "%s", json_object_get_string(v));
			r = 1;
		} else {
			pr_err("libvirt: %s: unexpected answer", cmd);
			r = -1;
		}
		json_object_put(o);
		return r;
	}
#endif
	return jc_exec(&m->c, cmd, args, ret, err, errlen);
}

static struct json_object *qom_args(const char *path, const char *prop)
{
	struct json_object *a = json_object_new_object();

	json_object_object_add(a, "path", json_object_new_string(path));
	json_object_object_add(a, "property", json_object_new_string(prop));
	return a;
}

/* qom-get; NULL (not reported) when it fails */
static struct json_object *qom_get(struct mon *m, const char *path, const char *prop)
{
	struct json_object *ret = NULL;
	char err[512];

	if (mon_exec(m, "qom-get", qom_args(path, prop), &ret, err, sizeof(err)))
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
static int feature_names(struct json_object *side, char (*buf)[64])
{
	static const char *const groups[] = { "dev-features", "transports" };
	int n = 0;

	for (size_t g = 0; g < ARRAY_SIZE(groups); g++) {
		struct json_object *a = get(side, groups[g]);

		for (size_t i = 0; a && i < json_object_array_length(a) && n < FEATURES_MAX; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(a, i));

			snprintf(buf[n], sizeof(buf[n]), "%.*s", (int)strcspn(s, ":"), s);
			n++;
		}
	}
	return n;
}

static void read_features(struct vm_info *v, struct json_object *status)
{
	v->has_status = status;
	v->n_guest_features = feature_names(get(status, "guest-features"), v->guest_features);
	v->n_host_features = feature_names(get(status, "host-features"), v->host_features);
	for (int i = 0; i < v->n_guest_features; i++)
		v->reporting |= !strcmp(v->guest_features[i], BALLOON_REPORTING);
}

static void print_features(const struct vm_info *v)
{
	const char *gn[FEATURES_MAX], *hn[FEATURES_MAX];

	if (!v->has_status) {
		print_kv_null(PRINT_ANY, "free_page_reporting", "-");
		print_kv_null(PRINT_ANY, "guest_features", "-");
		print_kv_null(PRINT_ANY, "host_features", "-");
		return;
	}
	for (int i = 0; i < v->n_guest_features; i++)
		gn[i] = v->guest_features[i];
	for (int i = 0; i < v->n_host_features; i++)
		hn[i] = v->host_features[i];
	print_kv_bool(PRINT_ANY, "free_page_reporting", v->reporting);
	print_kv_strv(PRINT_ANY, "guest_features", gn, v->n_guest_features);
	print_kv_strv(PRINT_ANY, "host_features", hn, v->n_host_features);
}

static void read_guest_stats(struct vm_info *v, struct json_object *gs)
{
	struct json_object *stats = get(gs, "stats"), *o;

	if ((o = get(gs, "last-update"))) {
		v->has_last_update = true;
		v->last_update = json_object_get_int64(o);
	}
	for (size_t i = 0; i < GUEST_STATS_NR; i++) {
		o = get(stats, guest_fields[i].qemu);
		/* QEMU reports stats the guest did not send as all ones */
		v->has_guest[i] = o && json_object_get_uint64(o) != UINT64_MAX;
		v->guest[i] = v->has_guest[i] ? json_object_get_uint64(o) : 0;
	}
}

static void print_guest_stats(const struct vm_info *v)
{
	if (v->has_last_update)
		print_kv_int(PRINT_ANY, "guest_stats_last_update", v->last_update);
	else
		print_kv_null(PRINT_ANY, "guest_stats_last_update", "-");
	for (size_t i = 0; i < GUEST_STATS_NR; i++) {
		if (v->has_guest[i])
			print_kv_uint(PRINT_ANY, guest_fields[i].key, v->guest[i]);
		else
			print_kv_null(PRINT_ANY, guest_fields[i].key, "-");
	}
}

/*
 * Balloon stats arrive only when the guest is polled: with polling off,
 * turn it on and give the guest a moment to answer the first request.
 */
static struct json_object *fresh_guest_stats(struct mon *m, const char *dev, long long *poll_s)
{
	struct json_object *iv = qom_get(m, dev, "guest-stats-polling-interval");
	struct json_object *gs = qom_get(m, dev, "guest-stats"), *ret = NULL, *a;
	long long deadline = now_ms() + STATS_WAIT_MS, first;
	char err[512];

	*poll_s = iv ? json_object_get_int64(iv) : -1;
	json_object_put(iv);
	if (*poll_s != 0 || !gs)
		return gs;
	first = json_object_get_int64(get(gs, "last-update"));
	a = qom_args(dev, "guest-stats-polling-interval");
	json_object_object_add(a, "value", json_object_new_int(STATS_POLL_S));
	if (mon_exec(m, "qom-set", a, &ret, err, sizeof(err))) {
		pr_warn("cannot enable balloon stats polling: %s", err);
		return gs;
	}
	json_object_put(ret);
	*poll_s = STATS_POLL_S;
	while (now_ms() < deadline) {
		struct json_object *n;

		msleep(200);
		n = qom_get(m, dev, "guest-stats");
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
 * (qemu/patches, host_fields[]).  1 and all counters, 0 when this QEMU
 * has none (stock), -1 (reported) on error.  An optional counter (patch
 * 0003's, a QEMU with 0001 only) that QEMU lacks is marked @missing.
 */
static int get_host_counters(struct mon *m, const char *dev, uint64_t *val, bool *missing)
{
	for (size_t i = 0; i < HOST_COUNTERS_NR; i++) {
		struct json_object *ret = NULL;
		char err[512];
		int r = mon_exec(m, "qom-get", qom_args(dev, host_fields[i].qemu), &ret,
				 err, sizeof(err));

		if (r < 0)
			return -1;
		if (r > 0) {
			if (i == 0)
				return 0;
			if (host_fields[i].optional) {
				missing[i] = true;
				continue;
			}
			pr_err("QMP: qom-get %s: %s", host_fields[i].qemu, err);
			return -1;
		}
		val[i] = json_object_get_uint64(ret);
		json_object_put(ret);
	}
	return 1;
}

static void print_host_counters(const struct vm_info *v)
{
	print_kv_bool(PRINT_ANY, "host_counters", v->has_host);
	for (size_t i = 0; i < HOST_COUNTERS_NR; i++) {
		if (v->has_host && !v->host_missing[i])
			print_kv_uint(PRINT_ANY, host_fields[i].key, v->host[i]);
		else
			print_kv_null(PRINT_ANY, host_fields[i].key, "-");
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

/*
 * The VMs named on the command line: QMP sockets given one by one or found
 * in directories, and the running domains of libvirt connections.  Listed
 * again at each scrape of `export --listen`, as VMs come and go.
 */
#define TARGET_OPTS_MAX	64

struct target {
	char *sock;			/* QMP socket, or NULL */
	char name[VM_NAME_MAX];		/* libvirt's; a socket's comes from QMP */
#ifdef HAVE_LIBVIRT
	virDomainPtr dom;
#endif
};

struct targets {
	const char *qmp[TARGET_OPTS_MAX], *dir[TARGET_OPTS_MAX], *uri[TARGET_OPTS_MAX];
	int n_qmp, n_dir, n_uri;
	struct target *v;
	int n;
#ifdef HAVE_LIBVIRT
	virConnectPtr conn[TARGET_OPTS_MAX];
#endif
};

/* Exactly one --qmp: the output of one VM, as it always was. */
static bool targets_single(const struct targets *t)
{
	return t->n_qmp == 1 && !t->n_dir && !t->n_uri;
}

static struct target *target_add(struct targets *t)
{
	struct target *n = realloc(t->v, (t->n + 1) * sizeof(*n));

	if (!n)
		return NULL;
	t->v = n;
	memset(&n[t->n], 0, sizeof(*n));
	return &n[t->n++];
}

/* Every socket in dir, sorted by name; -1 (reported) if dir cannot be read. */
static int targets_dir(struct targets *t, const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);

	if (n < 0) {
		pr_err("--qmp-dir %s: %s", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct target *tg;
		struct stat st;
		char *path;

		/* stat(), not lstat(): a symbolic link to a socket counts */
		if (asprintf(&path, "%s/%s", dir, ents[i]->d_name) >= 0) {
			if (!stat(path, &st) && S_ISSOCK(st.st_mode) && (tg = target_add(t)))
				tg->sock = path;
			else
				free(path);
		}
		free(ents[i]);
	}
	free(ents);
	return 0;
}

#ifdef HAVE_LIBVIRT
static void libvirt_quiet(void *opaque, virErrorPtr e)
{
	(void)opaque;
	(void)e;	/* errors are reported through virGetLastErrorMessage() */
}

struct named_dom {
	const char *name;
	virDomainPtr dom;
};

static int by_dom_name(const void *a, const void *b)
{
	return strcmp(((const struct named_dom *)a)->name, ((const struct named_dom *)b)->name);
}

/* The running domains of one connection, sorted by name. */
static int targets_libvirt(struct targets *t, int i)
{
	virDomainPtr *doms = NULL;
	struct named_dom *nd;
	int n;

	virSetErrorFunc(NULL, libvirt_quiet);
	/* kept across scrapes of --listen, opened again if libvirtd restarted */
	if (t->conn[i] && virConnectIsAlive(t->conn[i]) != 1) {
		virConnectClose(t->conn[i]);
		t->conn[i] = NULL;
	}
	if (!t->conn[i] && !(t->conn[i] = virConnectOpen(t->uri[i]))) {
		pr_err("libvirt %s: %s", t->uri[i], virGetLastErrorMessage());
		return -1;
	}
	n = virConnectListAllDomains(t->conn[i], &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		pr_err("libvirt %s: %s", t->uri[i], virGetLastErrorMessage());
		return -1;
	}
	nd = calloc(n + 1, sizeof(*nd));
	for (int k = 0; nd && k < n; k++)
		nd[k] = (struct named_dom){ virDomainGetName(doms[k]) ?: "?", doms[k] };
	if (nd)
		qsort(nd, n, sizeof(*nd), by_dom_name);
	for (int k = 0; k < n; k++) {
		struct target *tg = nd ? target_add(t) : NULL;

		if (!tg) {
			virDomainFree(nd ? nd[k].dom : doms[k]);
			continue;
		}
		snprintf(tg->name, sizeof(tg->name), "%s", nd[k].name);
		tg->dom = nd[k].dom;
	}
	free(nd);
	free(doms);
	return 0;
}
#endif

static void targets_release(struct targets *t)
{
	for (int i = 0; i < t->n; i++) {
		free(t->v[i].sock);
#ifdef HAVE_LIBVIRT
		if (t->v[i].dom)
			virDomainFree(t->v[i].dom);
#endif
	}
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static void targets_close(struct targets *t)
{
	targets_release(t);
#ifdef HAVE_LIBVIRT
	for (int i = 0; i < t->n_uri; i++)
		if (t->conn[i])
			virConnectClose(t->conn[i]);
#endif
}

/* List the VMs now; -1 (reported) when a directory or connection fails. */
static int targets_collect(struct targets *t)
{
	targets_release(t);
	for (int i = 0; i < t->n_qmp; i++) {
		struct target *tg = target_add(t);

		if (!tg || !(tg->sock = strdup(t->qmp[i])))
			return -1;
	}
	for (int i = 0; i < t->n_dir; i++)
		if (targets_dir(t, t->dir[i]))
			return -1;
#ifdef HAVE_LIBVIRT
	for (int i = 0; i < t->n_uri; i++)
		if (targets_libvirt(t, i))
			return -1;
#endif
	return 0;
}

/*
 * Open the VM's monitor; 0, or -1 (reported).  A socket's VM is named by
 * QEMU's -name (query-name), else by the socket file's name.
 */
static int mon_open(struct mon *m, struct target *tg)
{
	struct json_object *ret = NULL;
	char err[512];

	memset(m, 0, sizeof(*m));
	m->c.fd = -1;
#ifdef HAVE_LIBVIRT
	if (tg->dom) {
		m->dom = tg->dom;
		return 0;
	}
#endif
	if (!tg->name[0]) {
		const char *slash = strrchr(tg->sock, '/');

		snprintf(tg->name, sizeof(tg->name), "%s", slash ? slash + 1 : tg->sock);
	}
	if (qmp_open(&m->c, tg->sock))
		return -1;
	if (!jc_exec(&m->c, "query-name", NULL, &ret, err, sizeof(err)) && get(ret, "name"))
		snprintf(tg->name, sizeof(tg->name), "%s", json_object_get_string(get(ret, "name")));
	json_object_put(ret);
	return 0;
}

static void mon_close(struct mon *m)
{
	jc_close(&m->c);
}

/* QEMU's pid: the peer of our QMP socket, or libvirt's pid file. */
static long long qemu_pid(struct mon *m, const struct target *tg)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);

#ifdef HAVE_LIBVIRT
	if (m->dom) {
		char path[VM_NAME_MAX + 64], want[VM_NAME_MAX + 16], cmd[4096];
		long long pid = -1;
		size_t len = 0;
		FILE *f;

		/*
		 * Only a local qemu:///system domain has its pid file there;
		 * the name on QEMU's command line (-name guest=NAME,...) tells
		 * it from a domain of the same name on another connection.
		 */
		snprintf(path, sizeof(path), LIBVIRT_PID_DIR "/%s.pid", tg->name);
		if ((f = fopen(path, "re"))) {
			if (fscanf(f, "%lld", &pid) != 1)
				pid = -1;
			fclose(f);
		}
		snprintf(path, sizeof(path), "/proc/%lld/cmdline", pid);
		if (pid <= 0 || !(f = fopen(path, "re")))
			return -1;
		len = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		cmd[len] = '\0';
		snprintf(want, sizeof(want), "guest=%s", tg->name);
		for (size_t i = 0; i < len; i += strlen(cmd + i) + 1) {
			if (!strncmp(cmd + i, want, strlen(want)) &&
			    (cmd[i + strlen(want)] == ',' || !cmd[i + strlen(want)]))
				return pid;
		}
		return -1;
	}
#endif
	(void)tg;
	if (!getsockopt(m->c.fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) && cred.pid > 0)
		return cred.pid;
	return -1;
}

/*
 * Everything `stats` and `export` show of one VM; 0, or -1 with the
 * reason in v->error.  Errors go there, not to stderr, so that one VM that
 * does not answer is reported with the others.
 */
static int vm_read(struct target *tg, struct vm_info *v, bool single, bool quiet)
{
	struct json_object *virtio = NULL, *balloon = NULL, *status = NULL, *gs = NULL;
	const char *dev;
	struct mon m;
	char err[512];
	int rc = -1;

	memset(v, 0, sizeof(*v));
	v->pid = v->rss_bytes = v->actual_bytes = v->poll_s = -1;
	pr_capture(v->error, sizeof(v->error), NULL, quiet);
	if (mon_open(&m, tg))
		goto out;
	/* with several VMs, a warning says which */
	pr_capture(v->error, sizeof(v->error), single ? NULL : tg->name, quiet);
	snprintf(v->name, sizeof(v->name), "%s", tg->name);
	v->pid = qemu_pid(&m, tg);
	if (v->pid > 0)
		v->rss_bytes = rss_bytes(v->pid);
	/* without a balloon, or on a QEMU without x-query-virtio, those are null */
	if (mon_exec(&m, "x-query-virtio", NULL, &virtio, err, sizeof(err)) < 0 ||
	    mon_exec(&m, "query-balloon", NULL, &balloon, err, sizeof(err)) < 0)
		goto out;
	if (get(balloon, "actual"))
		v->actual_bytes = json_object_get_int64(get(balloon, "actual"));
	dev = balloon_path(virtio);
	if (dev) {
		struct json_object *a = json_object_new_object();
		int have;

		snprintf(v->balloon, sizeof(v->balloon), "%s", dev);
		json_object_object_add(a, "path", json_object_new_string(dev));
		/* waits for the guest first, so the features are as fresh */
		gs = fresh_guest_stats(&m, dev, &v->poll_s);
		if (mon_exec(&m, "x-query-virtio-status", a, &status, err, sizeof(err)) < 0)
			goto out;
		have = get_host_counters(&m, dev, v->host, v->host_missing);
		if (have < 0)
			goto out;
		v->has_host = have;
	}
	read_features(v, status);
	read_guest_stats(v, gs);
	if (!v->has_host)
		pr_warn("host counters unavailable (stock QEMU: no report-* properties on the balloon%s)",
			dev ? "" : "; no balloon device");
	rc = 0;
out:
	if (rc && !v->error[0])
		snprintf(v->error, sizeof(v->error), "out of memory");
	/* a socket that never answered is still named after its file */
	snprintf(v->name, sizeof(v->name), "%s", tg->name);
	pr_capture(NULL, 0, NULL, false);
	json_object_put(virtio);
	json_object_put(balloon);
	json_object_put(status);
	json_object_put(gs);
	mon_close(&m);
	return rc;
}

static void print_vm(const struct vm_info *v)
{
	open_json_object(NULL);
	print_layout(0, 31, false);
	print_kv_string(PRINT_ANY, "vm", v->name);
	if (v->error[0]) {
		print_kv_string(PRINT_ANY, "error", v->error);
		close_json_object();
		return;
	}
	if (v->pid > 0)
		print_kv_uint(PRINT_ANY, "qemu_pid", v->pid);
	else
		print_kv_null(PRINT_ANY, "qemu_pid", "-");
	if (v->rss_bytes >= 0)
		print_kv_uint(PRINT_ANY, "qemu_rss_bytes", v->rss_bytes);
	else
		print_kv_null(PRINT_ANY, "qemu_rss_bytes", "-");
	print_kv_string(PRINT_ANY, "balloon_device", v->balloon[0] ? v->balloon : NULL);
	if (v->actual_bytes >= 0)
		print_kv_uint(PRINT_ANY, "balloon_actual_bytes", v->actual_bytes);
	else
		print_kv_null(PRINT_ANY, "balloon_actual_bytes", "-");
	print_features(v);
	if (v->poll_s >= 0)
		print_kv_int(PRINT_ANY, "guest_stats_polling_interval", v->poll_s);
	else
		print_kv_null(PRINT_ANY, "guest_stats_polling_interval", "-");
	print_guest_stats(v);
	print_host_counters(v);
	close_json_object();
}

/* Read every VM now: their number, or -1 (reported) if they cannot be listed. */
static int vms_read(struct targets *t, struct vm_info **vms, int *failed, bool quiet)
{
	*vms = NULL;
	*failed = 0;
	if (targets_collect(t))
		return -1;
	*vms = calloc(t->n + 1, sizeof(**vms));
	if (!*vms) {
		pr_err("out of memory");
		return -1;
	}
	for (int i = 0; i < t->n; i++)
		*failed += !!vm_read(&t->v[i], &(*vms)[i], targets_single(t), quiet);
	return t->n;
}

/*
 * One VM: its object, or its error on stderr and exit 2, as always.
 * Several: an array (text: blocks separated by a blank line), a VM that
 * did not answer is an entry with its error, and the exit status is 2 if
 * any did not.
 */
static int host_stats(struct targets *t)
{
	struct vm_info *vms;
	int failed, n = vms_read(t, &vms, &failed, false);

	if (n < 0)
		return EXIT_SYSTEM;
	if (targets_single(t) && failed) {
		pr_err("%s", vms[0].error);
	} else if (targets_single(t)) {
		print_vm(&vms[0]);
	} else {
		open_json_array(NULL);
		for (int i = 0; i < n; i++) {
			if (i)
				print_text("\n");
			print_vm(&vms[i]);
		}
		close_json_array();
		if (failed)
			pr_err("%d of %d VMs did not answer", failed, n);
	}
	free(vms);
	return failed ? EXIT_SYSTEM : 0;
}

/* Render the export of every VM into a new buffer; NULL (reported) if none. */
static char *export_text(struct targets *t, size_t *len, int *failed)
{
	struct vm_info *vms;
	char *buf = NULL;
	int n = vms_read(t, &vms, failed, true);
	FILE *f;

	if (n < 0)
		return NULL;
	f = open_memstream(&buf, len);
	if (f) {
		export_metrics(f, vms, n);
		if (fclose(f))
			buf = NULL;
	}
	if (!buf)
		pr_err("out of memory");
	free(vms);
	return buf;
}

/* node_exporter reads FILE.prom: write a temp file beside it, then rename. */
static int export_textfile(struct targets *t, const char *path)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char *dir = strdup(path), *tmp = NULL, *text;
	int fd = -1, failed, rc = EXIT_SYSTEM;
	size_t len;

	/* not *.prom: node_exporter skips it until the rename */
	if (!dir || asprintf(&tmp, "%s/.%s.XXXXXX", dirname(dir), base) < 0) {
		pr_err("out of memory");
		goto out;
	}
	text = export_text(t, &len, &failed);
	if (!text)
		goto out;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0644) || write(fd, text, len) != (ssize_t)len || fsync(fd) ||
	    close(fd) || (fd = -1, rename(tmp, path))) {
		pr_err("--textfile %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
	} else {
		rc = failed ? EXIT_SYSTEM : 0;
		if (failed)
			pr_err("%d VMs did not answer (fphint_vm_up 0)", failed);
	}
	free(text);
out:
	free(tmp);
	free(dir);
	return rc;
}

static void http_reply(int fd, const char *status, const char *type, const char *body,
		       size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.0 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", status, type, len);
	struct jconn c = { .fd = fd, .what = "HTTP", .path = "client" };

	if (!jc_write(&c, head, n))
		jc_write(&c, body, len);
}

/* One request: GET /metrics reads every VM now. */
static void http_serve(int fd, struct targets *t)
{
	struct timeval tv = { IO_TIMEOUT_MS / 1000, 0 };
	char req[8192], *text;
	size_t len = 0, n;
	ssize_t r;
	int failed;

	req[0] = '\0';
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (len < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
		r = read(fd, req + len, sizeof(req) - 1 - len);
		if (r <= 0)
			break;
		len += r;
		req[len] = '\0';
	}
	req[len] = '\0';
	n = strcspn(req, " ");
	if (strncmp(req, "GET ", 4)) {
		http_reply(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9);
		return;
	}
	if (strncmp(req + n, " /metrics ", 10) && strncmp(req + n, " /metrics?", 10)) {
		http_reply(fd, "404 Not Found", "text/plain", "see /metrics\n", 13);
		return;
	}
	text = export_text(t, &len, &failed);
	if (!text) {
		http_reply(fd, "500 Internal Server Error", "text/plain", "cannot list the VMs\n", 20);
		return;
	}
	http_reply(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

/* "ADDR:PORT", "[V6ADDR]:PORT"; 0, or EXIT_USAGE (reported). */
static int listen_addr(const char *arg, char *host, size_t hostlen, char *port)
{
	const char *colon = strrchr(arg, ':');
	uint32_t p;
	size_t hl;

	if (!colon || colon == arg || !parse_u32(colon + 1, &p) || !p || p > 65535) {
		pr_err("--listen: '%s' is not ADDR:PORT with a port in 1..65535", arg);
		return EXIT_USAGE;
	}
	hl = colon - arg;
	if (arg[0] == '[' && hl >= 2 && arg[hl - 1] == ']')
		arg++, hl -= 2;
	if (hl >= hostlen) {
		pr_err("--listen: '%s': address too long", arg);
		return EXIT_USAGE;
	}
	snprintf(host, hostlen, "%.*s", (int)hl, arg);
	snprintf(port, 8, "%u", p);
	return 0;
}

static int listen_socket(const char *arg)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai;
	char host[64], port[8];
	int fd, one = 1, r;

	if ((r = listen_addr(arg, host, sizeof(host), port)))
		return -r;
	if ((r = getaddrinfo(host, port, &hints, &ai))) {
		pr_err("--listen: '%s' is not a numeric IPv4 or IPv6 address (%s)", host,
		       gai_strerror(r));
		return -EXIT_USAGE;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 16)) {
		pr_err("--listen %s: %s", arg, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -EXIT_SYSTEM;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Serve /metrics until killed, one request at a time. */
static int export_listen(struct targets *t, int fd)
{
	for (;;) {
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			pr_err("--listen: accept: %s", strerror(errno));
			return EXIT_SYSTEM;
		}
		http_serve(c, t);
		close(c);
	}
}

/* `host VMS export [--textfile FILE.prom | --listen ADDR:PORT]` */
static int host_export(struct targets *t, int argc, char **argv)
{
	const char *textfile = NULL, *listen_at = NULL, **v;
	int failed, fd;
	size_t len;
	char *text;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--textfile"))
			v = &textfile;
		else if (!strcmp(argv[i], "--listen"))
			v = &listen_at;
		else {
			pr_err("export: unknown argument '%s'", argv[i]);
			return EXIT_USAGE;
		}
		if (i + 1 == argc) {
			pr_err("%s needs a value", argv[i]);
			return EXIT_USAGE;
		}
		if (*v) {
			pr_err("%s given twice", argv[i]);
			return EXIT_USAGE;
		}
		*v = argv[++i];
	}
	if (is_json()) {
		pr_err("export writes the Prometheus text format: -j does not apply");
		return EXIT_USAGE;
	}
	if (textfile && listen_at) {
		pr_err("export: --textfile or --listen, not both");
		return EXIT_USAGE;
	}
	if (textfile) {
		char *dir = strdup(textfile);
		size_t n = strlen(textfile);
		int ok;

		if (n < 6 || strcmp(textfile + n - 5, ".prom") || textfile[n - 6] == '/') {
			free(dir);
			pr_err("--textfile %s: node_exporter's textfile collector reads only FILE.prom",
			       textfile);
			return EXIT_USAGE;
		}
		/* checked first, so that no VM is read for nothing */
		ok = dir && !access(dirname(dir), W_OK);
		if (!ok)
			pr_err("--textfile %s: %s", textfile, dir ? strerror(errno) : "out of memory");
		free(dir);
		return ok ? export_textfile(t, textfile) : EXIT_SYSTEM;
	}
	if (listen_at) {
		fd = listen_socket(listen_at);
		return fd < 0 ? -fd : export_listen(t, fd);
	}
	text = export_text(t, &len, &failed);
	if (!text)
		return EXIT_SYSTEM;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	free(text);
	if (failed)
		pr_err("%d VMs did not answer (fphint_vm_up 0)", failed);
	return failed ? EXIT_SYSTEM : 0;
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
static int qom_get_u32(struct mon *m, const char *dev, const char *prop, uint32_t *v,
		       char *err, size_t errlen)
{
	struct json_object *ret = NULL;
	int r = mon_exec(m, "qom-get", qom_args(dev, prop), &ret, err, errlen);

	if (!r)
		*v = json_object_get_int64(ret);
	json_object_put(ret);
	return r;
}

/*
 * Hand the text to the balloon (qom-set fphint-policy-text), then wait
 * until the guest answered that generation or a later one.  0 and the
 * generation; EXIT_USAGE when the guest refused it, EXIT_SYSTEM when
 * QEMU or the guest failed (both reported).
 */
static int qmp_set_policy(struct mon *m, const char *text, uint32_t timeout_s, uint32_t *genp)
{
	struct json_object *virtio = NULL, *ret = NULL, *a;
	uint32_t gen, ack, eno;
	long long deadline;
	const char *dev;
	int rc = EXIT_SYSTEM, r;
	char err[512];

	if (mon_exec(m, "x-query-virtio", NULL, &virtio, err, sizeof(err)) < 0)
		goto out;
	dev = balloon_path(virtio);
	if (!dev) {
		pr_err("this QEMU has no virtio-balloon device");
		goto out;
	}
	r = qom_get_u32(m, dev, "fphint-policy-gen", &gen, err, sizeof(err));
	if (r < 0)
		goto out;
	if (r > 0) {
		pr_err("this QEMU cannot carry policy to the guest (no fphint-policy support; stock QEMU?): use --qga SOCK");
		goto out;
	}
	a = qom_args(dev, "fphint-policy-text");
	json_object_object_add(a, "value", json_object_new_string(text));
	r = mon_exec(m, "qom-set", a, &ret, err, sizeof(err));
	json_object_put(ret);
	if (r) {
		if (r > 0)
			pr_err("QMP: qom-set fphint-policy-text: %s", err);
		goto out;
	}
	if (qom_get_u32(m, dev, "fphint-policy-gen", &gen, err, sizeof(err))) {
		pr_err("QMP: qom-get fphint-policy-gen: %s", err);
		goto out;
	}
	deadline = now_ms() + timeout_s * 1000LL;
	for (;;) {
		if (qom_get_u32(m, dev, "fphint-policy-ack-gen", &ack, err, sizeof(err))) {
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
	if (qom_get_u32(m, dev, "fphint-policy-errno", &eno, err, sizeof(err))) {
		pr_err("QMP: qom-get fphint-policy-errno: %s", err);
		goto out;
	}
	if (eno) {
		pr_err("guest refused the policy: %s (errno %u)", strerror(eno), eno);
		rc = EXIT_USAGE;
		goto out;
	}
	*genp = ack;
	rc = 0;
out:
	json_object_put(virtio);
	return rc;
}

/*
 * The same text to every VM, one after the other.  One VM: its generation,
 * or its error on stderr, as always.  Several: an entry per VM with its
 * generation or its error; the exit status is the worst of theirs.
 */
static int host_set_policy(struct targets *t, const char *text, uint32_t timeout_s)
{
	bool single = targets_single(t);
	int worst = 0;

	if (targets_collect(t))
		return EXIT_SYSTEM;
	if (!single)
		open_json_array(NULL);
	for (int i = 0; i < t->n; i++) {
		char error[512] = "";
		uint32_t gen = 0;
		struct mon m;
		int rc;

		pr_capture(single ? NULL : error, sizeof(error), NULL, false);
		rc = mon_open(&m, &t->v[i]) ? EXIT_SYSTEM : qmp_set_policy(&m, text, timeout_s, &gen);
		mon_close(&m);
		pr_capture(NULL, 0, NULL, false);
		worst = rc > worst ? rc : worst;
		if (single && rc)
			break;
		if (!single && i)
			print_text("\n");
		open_json_object(NULL);
		print_layout(0, 10, false);
		if (!single)
			print_kv_string(PRINT_ANY, "vm", t->v[i].name);
		if (rc) {
			print_kv_string(PRINT_ANY, "error", error);
		} else {
			print_kv_uint(PRINT_ANY, "generation", gen);
			print_kv_uint(PRINT_ANY, "errno", 0);
		}
		close_json_object();
	}
	if (!single) {
		close_json_array();
		if (worst)
			pr_err("the policy did not reach every VM");
	}
	return worst;
}

/* `host VMS set KEY=VALUE...` / `set-policy NAME|FILE` [--timeout S] */
static int host_policy_cmd(struct targets *t, int argc, char **argv)
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
	return host_set_policy(t, text, timeout_s);
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


#define HOST_USAGE "usage: fphintctl host { VMS { stats | export [--textfile FILE.prom | --listen ADDR:PORT] | set-policy NAME|FILE | set KEY=VALUE... } | --qga SOCKET { set-policy NAME | status } }, VMS: any of --qmp SOCKET, --qmp-dir DIR, --libvirt URI"

/* --qmp SOCK, --qmp-dir DIR, --libvirt URI, each repeatable; the index of the command. */
static int parse_targets(struct targets *t, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		const char **slot;
		int *n;

		if (!strcmp(argv[i], "--qmp"))
			slot = t->qmp, n = &t->n_qmp;
		else if (!strcmp(argv[i], "--qmp-dir"))
			slot = t->dir, n = &t->n_dir;
		else if (!strcmp(argv[i], "--libvirt"))
			slot = t->uri, n = &t->n_uri;
		else
			break;
		if (i + 1 >= argc || !*argv[i + 1]) {
			pr_err("%s needs a value", argv[i]);
			return -1;
		}
		if (*n == TARGET_OPTS_MAX) {
			pr_err("%s: at most %d of them", argv[i], TARGET_OPTS_MAX);
			return -1;
		}
#ifndef HAVE_LIBVIRT
		if (slot == t->uri) {
			pr_err("--libvirt: this fphintctl was built without libvirt (the static guest build; the host build is cli/host/fphintctl)");
			return -1;
		}
#endif
		slot[(*n)++] = argv[i + 1];
	}
	return i;
}

int cmd_host(int argc, char **argv)
{
	struct targets t = { 0 };
	const char *cmd, *gargv[3];
	int gargc = 0, i, rc;

	if (argc > 2 && !strcmp(argv[1], "--qga")) {
		const char *sock = argv[2];

		cmd = argc > 3 ? argv[3] : "";
		if (!strcmp(cmd, "set-policy") && argc == 5) {
			if (!policy_name_valid(argv[4]) || !strcmp(argv[4], FPHINT_POLICY_CUSTOM)) {
				pr_err("'%s' is not a policy name ([a-z0-9][a-z0-9_-]{0,%d}, not '%s')",
				       argv[4], FPHINT_POLICY_NAME_MAX - 2, FPHINT_POLICY_CUSTOM);
				return EXIT_USAGE;
			}
			gargv[gargc++] = "set-policy";
			gargv[gargc++] = argv[4];
			return qga_run(sock, gargv, gargc);
		}
		if (!strcmp(cmd, "status") && argc == 4) {
			if (is_json())
				gargv[gargc++] = "-j";
			if (is_pretty())
				gargv[gargc++] = "-p";
			gargv[gargc++] = "status";
			return qga_run(sock, gargv, gargc);
		}
		pr_err("host --qga: expected set-policy NAME or status");
		return EXIT_USAGE;
	}
	i = parse_targets(&t, argc, argv);
	if (i < 0)
		return EXIT_USAGE;
	if (!t.n_qmp && !t.n_dir && !t.n_uri) {
		pr_err(HOST_USAGE);
		return EXIT_USAGE;
	}
	cmd = i < argc ? argv[i] : "";
	if (!strcmp(cmd, "stats") && i + 1 == argc)
		rc = host_stats(&t);
	else if (!strcmp(cmd, "export"))
		rc = host_export(&t, argc - i, argv + i);
	else if (!strcmp(cmd, "set-policy") || !strcmp(cmd, "set"))
		rc = host_policy_cmd(&t, argc - i, argv + i);
	else {
		pr_err("host %s: expected stats, export, set-policy NAME|FILE or set KEY=VALUE...",
		       targets_single(&t) ? "--qmp" : "VMS");
		rc = EXIT_USAGE;
	}
	targets_close(&t);
	return rc;
}
