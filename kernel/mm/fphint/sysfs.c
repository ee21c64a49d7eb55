// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/mm/fphint/: one value per file.  Stage files read like
 * "[percpu] buddy-scan" and take one of the names listed; tunables take a
 * decimal in the range of include/uapi/linux/fphint.h; stats/ holds one
 * counter per file.  A rejected write returns -EINVAL and changes nothing.
 */
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sysfs.h>

#include "fphint.h"

/*
 * The two 0/1 switches: enabled (fphint captures and reports) and
 * host_policy (the host may set policy through the reporting device).
 */
static struct kobj_attribute enabled_attr, host_policy_attr;

static ssize_t switch_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%d\n", attr == &enabled_attr ? fphint_is_enabled() :
					 fphint_host_policy_allowed());
}

static ssize_t switch_store(struct kobject *kobj, struct kobj_attribute *attr,
			    const char *buf, size_t count)
{
	struct fphint_config cfg;
	unsigned int val;

	if (kstrtouint(buf, 10, &val) || val > 1)
		return -EINVAL;
	fphint_config_init(&cfg);
	if (attr == &enabled_attr)
		cfg.enabled = val;
	else
		cfg.host_policy = val;
	return fphint_apply(&cfg) ?: count;
}
static struct kobj_attribute enabled_attr = __ATTR(enabled, 0644, switch_show, switch_store);
static struct kobj_attribute host_policy_attr =
	__ATTR(host_policy, 0644, switch_show, switch_store);

/* Who changed the configuration last: default, local or host. */
static ssize_t policy_source_show(struct kobject *kobj, struct kobj_attribute *attr,
				  char *buf)
{
	return sysfs_emit(buf, "%s\n", fphint_policy_source());
}
static struct kobj_attribute policy_source_attr = __ATTR_RO(policy_source);

/* The policy last applied (fphintctl set-policy), or "custom". */
static ssize_t policy_show(struct kobject *kobj, struct kobj_attribute *attr,
			   char *buf)
{
	char name[FPHINT_POLICY_NAME_MAX];

	fphint_policy_name(name, sizeof(name));
	return sysfs_emit(buf, "%s\n", name);
}
static struct kobj_attribute policy_attr = __ATTR_RO(policy);

/* ---- stages --------------------------------------------------------- */

struct fphint_stage_kobj_attr {
	struct kobj_attribute attr;
	enum fphint_kind kind;
};

static ssize_t stage_show(struct kobject *kobj, struct kobj_attribute *attr,
			  char *buf)
{
	enum fphint_kind kind = container_of(attr, struct fphint_stage_kobj_attr, attr)->kind;
	struct fphint_stage *s, *cur;
	int len = 0;

	fphint_stages_read_lock();
	cur = fphint_current_stage(kind);
	list_for_each_entry(s, fphint_stage_list(kind), node)
		len += sysfs_emit_at(buf, len, s == cur ? "%s[%s]" : "%s%s",
				     len ? " " : "", s->name);
	fphint_stages_read_unlock();
	return len + sysfs_emit_at(buf, len, "\n");
}

static ssize_t stage_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	struct fphint_config cfg;

	fphint_config_init(&cfg);
	cfg.stage[container_of(attr, struct fphint_stage_kobj_attr, attr)->kind] = buf;
	return fphint_apply(&cfg) ?: count;
}

#define FPHINT_STAGE_ATTR(_kind, _name)					\
	static struct fphint_stage_kobj_attr _name##_attr = {		\
		.attr = __ATTR(_name, 0644, stage_show, stage_store),	\
		.kind = _kind,						\
	}
FPHINT_STAGE_ATTR(FPHINT_KIND_CAPTURE, capture);
FPHINT_STAGE_ATTR(FPHINT_KIND_SELECTION, selection);
FPHINT_STAGE_ATTR(FPHINT_KIND_TRANSPORT, transport);
FPHINT_STAGE_ATTR(FPHINT_KIND_THROTTLE, throttle);

/* ---- tunables ------------------------------------------------------- */

struct fphint_tunable_kobj_attr {
	struct kobj_attribute attr;
	enum fphint_tunable t;
};

static ssize_t tunable_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	enum fphint_tunable t = container_of(attr, struct fphint_tunable_kobj_attr, attr)->t;

	return sysfs_emit(buf, "%u\n", READ_ONCE(fphint_tunables[t]));
}

static ssize_t tunable_store(struct kobject *kobj, struct kobj_attribute *attr,
			     const char *buf, size_t count)
{
	enum fphint_tunable t = container_of(attr, struct fphint_tunable_kobj_attr, attr)->t;
	struct fphint_config cfg;

	fphint_config_init(&cfg);
	if (kstrtoul(buf, 10, &cfg.tunable[t]))
		return -EINVAL;
	__set_bit(t, cfg.tunable_set);
	return fphint_apply(&cfg) ?: count;
}

static struct fphint_tunable_kobj_attr fphint_tunable_attrs[FPHINT_TUNABLE_NR] = {
#define FPHINT_X_ATTR(NAME, name, def, min, max)			\
	[FPHINT_TUNABLE_##NAME] = {					\
		.attr = __ATTR(name, 0644, tunable_show, tunable_store),\
		.t = FPHINT_TUNABLE_##NAME,				\
	},
	FPHINT_TUNABLES(FPHINT_X_ATTR)
#undef FPHINT_X_ATTR
};

static struct attribute *fphint_attrs[] = {
	&enabled_attr.attr,
	&policy_attr.attr,
	&policy_source_attr.attr,
	&host_policy_attr.attr,
	&capture_attr.attr.attr,
	&selection_attr.attr.attr,
	&transport_attr.attr.attr,
	&throttle_attr.attr.attr,
	NULL,
};

/* &fphint_tunable_attrs[i].attr.attr, filled in by fphint_sysfs_init(). */
static struct attribute *fphint_tunable_attr_list[FPHINT_TUNABLE_NR + 1];

static const struct attribute_group fphint_group = {
	.attrs = fphint_attrs,
};

static const struct attribute_group fphint_tunable_group = {
	.attrs = fphint_tunable_attr_list,
};

/* ---- stats ---------------------------------------------------------- */

struct fphint_stat_kobj_attr {
	struct kobj_attribute attr;
	enum fphint_stat stat;
};

static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	enum fphint_stat stat = container_of(attr, struct fphint_stat_kobj_attr, attr)->stat;

	return sysfs_emit(buf, "%llu\n", fphint_stat_sum(stat));
}

static struct fphint_stat_kobj_attr fphint_stat_kattrs[FPHINT_STAT_NR] = {
#define FPHINT_X_ATTR(NAME, name)					\
	[FPHINT_STAT_##NAME] = {					\
		.attr = __ATTR(name, 0444, stat_show, NULL),		\
		.stat = FPHINT_STAT_##NAME,				\
	},
	FPHINT_STATS(FPHINT_X_ATTR)
#undef FPHINT_X_ATTR
};

/* A gauge, not a counter: pages off the free lists in a report right now. */
static ssize_t isolated_now_pages_show(struct kobject *kobj,
				       struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&fphint_isolated_now));
}
static struct kobj_attribute isolated_now_pages_attr = __ATTR_RO(isolated_now_pages);

/* Gauge: the delay before a pass now, report_delay_ms after churn backoff. */
static ssize_t report_delay_now_ms_show(struct kobject *kobj,
					struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", fphint_delay_now_ms());
}
static struct kobj_attribute report_delay_now_ms_attr = __ATTR_RO(report_delay_now_ms);

/* The counters, then the gauges; filled in by fphint_sysfs_init(). */
static struct attribute *fphint_stat_attrs[FPHINT_STAT_NR + 3];

static const struct attribute_group fphint_stat_group = {
	.name = "stats",
	.attrs = fphint_stat_attrs,
};

static const struct attribute_group *fphint_groups[] = {
	&fphint_group,
	&fphint_tunable_group,
	&fphint_stat_group,
	NULL,
};

int fphint_sysfs_init(void)
{
	struct kobject *kobj;
	int i, err;

	for (i = 0; i < FPHINT_TUNABLE_NR; i++)
		fphint_tunable_attr_list[i] = &fphint_tunable_attrs[i].attr.attr;
	for (i = 0; i < FPHINT_STAT_NR; i++)
		fphint_stat_attrs[i] = &fphint_stat_kattrs[i].attr.attr;
	fphint_stat_attrs[i++] = &isolated_now_pages_attr.attr;
	fphint_stat_attrs[i++] = &report_delay_now_ms_attr.attr;

	kobj = kobject_create_and_add("fphint", mm_kobj);
	if (!kobj)
		return -ENOMEM;
	err = sysfs_create_groups(kobj, fphint_groups);
	if (err)
		kobject_put(kobj);
	return err;
}
