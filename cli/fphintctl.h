/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fphintctl: admin CLI of fphint.  Every name, default and range comes from
 * <linux/fphint.h>; this header only adds what the CLI itself needs.
 */
#ifndef FPHINTCTL_H
#define FPHINTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/fphint.h>

#define EXIT_USAGE	1	/* bad arguments, bad profile */
#define EXIT_SYSTEM	2	/* kernel, socket, QMP or I/O error */

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Until called again with NULL: keep the first error in buf, prefix warnings
 * with context, or drop them (quiet). */
void pr_capture(char *buf, size_t len, const char *context, bool quiet);
bool parse_u32(const char *s, uint32_t *v);

/* settings.c: the keys of `set` and of profiles, and their validator */
enum stage { STAGE_CAPTURE, STAGE_SELECTION, STAGE_TRANSPORT, STAGE_THROTTLE, STAGE_NR };

struct stage_desc {
	const char *name;		/* key, JSON key */
	const char *avail_key;		/* JSON key of the registered list */
	int attr;			/* enum fphint_attr */
	int avail_attr;			/* enum fphint_avail_attr */
	const char *def;		/* what set-policy applies when not given */
	const char *const *builtin;	/* names the header defines */
};
extern const struct stage_desc stages[STAGE_NR];

/* KEY_HOST_POLICY: access control, `set` only, never in a profile. */
enum key_kind { KEY_ENABLED, KEY_HOST_POLICY, KEY_STAGE, KEY_TUNABLE };

struct key_desc {
	const char *name;
	enum key_kind kind;
	int idx;			/* enum stage or enum fphint_tunable */
	uint32_t def, min, max;		/* KEY_ENABLED, KEY_HOST_POLICY, KEY_TUNABLE */
};

#define KEY_NR		(2 + STAGE_NR + FPHINT_TUNABLE_NR)
#define KEY_TUNABLE0	(2 + STAGE_NR)
extern const struct key_desc keys[KEY_NR];
extern const char *const stat_names[FPHINT_STAT_NR];

/* A validated subset of keys, as given to `set` or read from a profile. */
struct settings {
	bool given[KEY_NR];
	int line[KEY_NR];		/* profile line it came from, 0 for argv */
	uint32_t num[KEY_NR];
	char str[KEY_NR][FPHINT_STAGE_NAME_MAX];
};

int key_lookup(const char *name);
int key_width(void);
bool stage_name_valid(const char *s);
bool policy_name_valid(const char *s);
int settings_add(struct settings *s, const char *key, const char *val, int line,
		 char *err, size_t errlen);

/* print.c: one output layer for text and JSON (iproute2 style) */
enum print_type { PRINT_ANY, PRINT_TEXT, PRINT_JSON };

void print_init(bool json, bool pretty);
bool is_json(void);
bool is_pretty(void);
void print_layout(int indent, int width, bool inline_kv);
void open_json_object(const char *key);
void close_json_object(void);
void open_json_array(const char *key);
void close_json_array(void);
void print_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void print_kv_uint(enum print_type t, const char *key, uint64_t v);
void print_kv_int(enum print_type t, const char *key, int64_t v);
void print_kv_string(enum print_type t, const char *key, const char *s);
void print_kv_bool(enum print_type t, const char *key, bool v);
void print_kv_null(enum print_type t, const char *key, const char *text);
void print_kv_strv(enum print_type t, const char *key, const char *const *v, int n);

/* netlink.c: the fphint generic netlink family */
#define AVAIL_MAX	16
#define ZONES_MAX	64
#define ZONE_NAME_MAX	16

struct fphint_config {
	bool has_enabled;
	uint8_t enabled;
	char policy[FPHINT_POLICY_NAME_MAX];
	char policy_source[FPHINT_POLICY_NAME_MAX];
	bool has_host_policy;
	uint8_t host_policy;
	char stage[STAGE_NR][FPHINT_STAGE_NAME_MAX];
	bool has_tunable[FPHINT_TUNABLE_NR];
	uint32_t tunable[FPHINT_TUNABLE_NR];
	int n_avail[STAGE_NR];
	char avail[STAGE_NR][AVAIL_MAX][FPHINT_STAGE_NAME_MAX];
};

struct fphint_zone {
	uint32_t node;
	char name[ZONE_NAME_MAX];
	bool has[FPHINT_A_ZONE_MAX + 1];
	uint64_t val[FPHINT_A_ZONE_MAX + 1];	/* by enum fphint_zone_attr */
};

struct fphint_stats {
	bool has_counter[FPHINT_STAT_NR];
	uint64_t counter[FPHINT_STAT_NR];
	bool has_gauge[FPHINT_A_STAT_FIRST_COUNTER];
	uint64_t gauge[FPHINT_A_STAT_FIRST_COUNTER];	/* by enum fphint_stat_attr */
	int nzones;
	struct fphint_zone zones[ZONES_MAX];
};

struct fphint_throttle_event {
	bool has_throttled;
	uint8_t throttled;
	char reason[32];
	bool has_zone;
	struct fphint_zone zone;
};

/* Names for attributes the header has only as enum values (gauges, zone). */
struct attr_name {
	int attr;
	const char *name;
};
extern const struct attr_name zone_fields[];
extern const int n_zone_fields;
extern const struct attr_name stat_gauges[];
extern const int n_stat_gauges;

struct nlmsghdr;
struct fnl;

struct fnl *fnl_open(void);
void fnl_close(struct fnl *nl);
int fnl_config_get(struct fnl *nl, struct fphint_config *cfg);
int fnl_config_set(struct fnl *nl, const struct settings *s);
int fnl_policy_set(struct fnl *nl, const char *name, const struct settings *s);
int fnl_stats_get(struct fnl *nl, struct fphint_stats *st);

typedef void (*fnl_event_cb)(int cmd, const void *event);
int fnl_monitor(int count, fnl_event_cb cb);

/* exposed for test-parse.c */
int parse_config(const struct nlmsghdr *nlh, struct fphint_config *cfg);
int parse_stats(const struct nlmsghdr *nlh, struct fphint_stats *st);
int parse_throttle(const struct nlmsghdr *nlh, struct fphint_throttle_event *ev);
struct fnl *fnl_fake(int family);
struct nl_msg *fnl_build(struct fnl *nl, int cmd, const char *policy,
			 const struct settings *s);
int fnl_ext_ack(struct fnl *nl, const struct nlmsghdr *nlh, char *buf, size_t len);

/* show.c: what the kernel reports, through the print layer */
void show_config(const struct fphint_config *cfg, bool with_avail);
void show_status(const struct fphint_config *cfg);
void show_stats(const struct fphint_stats *st, const struct fphint_stats *prev,
		double secs, bool watch);
void show_event(int cmd, const void *event);

/* policy.c: profiles */
int cmd_policy(int argc, char **argv);
int profile_load(const char *arg, char *name, size_t namelen, struct settings *s);
void policy_print_names(void);

/* host.c: QEMU side */
int cmd_host(int argc, char **argv);

/*
 * export.c: what host.c reads of one VM, and its Prometheus text form.
 * The two tables map QEMU's names (balloon QOM properties, guest-stats
 * keys) to fphintctl's keys and to metric names.
 */
struct vm_field {
	const char *qemu;	/* QOM property or guest-stats key */
	const char *key;	/* stats key (text and JSON) */
	const char *metric;	/* Prometheus metric family */
	const char *type;	/* "counter" or "gauge" */
	const char *label;	/* reason="..." of a family split by reason, or NULL */
	const char *help;
	bool optional;		/* host: a QEMU without it still has the others */
};

#define HOST_COUNTERS_NR	13
#define GUEST_STATS_NR		10
#define HOST_DISCARD_NS		10	/* host_fields[] in nanoseconds */
extern const struct vm_field host_fields[HOST_COUNTERS_NR];
extern const struct vm_field guest_fields[GUEST_STATS_NR];

#define VM_NAME_MAX	256
#define FEATURES_MAX	64

struct vm_info {
	char name[VM_NAME_MAX];
	char error[512];		/* why it could not be read; "" when it was */
	long long pid, rss_bytes;	/* -1: unknown */
	char balloon[128];		/* QOM path; "" without a balloon */
	long long actual_bytes;		/* -1: unknown */
	bool has_status, reporting;	/* x-query-virtio-status answered; F_REPORTING */
	int n_guest_features, n_host_features;
	char guest_features[FEATURES_MAX][64], host_features[FEATURES_MAX][64];
	long long poll_s;		/* guest-stats-polling-interval, -1: unknown */
	bool has_last_update;
	long long last_update;		/* seconds since the epoch */
	bool has_guest[GUEST_STATS_NR];
	uint64_t guest[GUEST_STATS_NR];
	bool has_host;			/* the patched QEMU's report-* counters */
	uint64_t host[HOST_COUNTERS_NR];
	bool host_missing[HOST_COUNTERS_NR];	/* optional counter QEMU lacks */
};

void export_metrics(FILE *f, const struct vm_info *vms, int n);

#endif /* FPHINTCTL_H */
