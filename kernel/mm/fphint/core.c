// SPDX-License-Identifier: GPL-2.0
/*
 * fphint core: stage registry, configuration (fphint_apply()), enable,
 * disable and ownership of the reporting device, and the reporting worker.
 *
 * A pass: the capture stage hands out chunks of candidate pfns, the
 * selection stage resolves them to free buddy blocks and isolates,
 * reports and puts them back in batches (batch.c), asking the throttle
 * before each batch.  After the pass the worker adjusts the churn backoff
 * and schedules the next one.  The stages themselves live in
 * capture-*.c, selection-*.c, transport-*.c and throttle-*.c.
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/ctype.h>
#include <linux/init.h>
#include <linux/mm.h>
#include <linux/page_reporting.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "../internal.h"
#include "../page_reporting.h"
#include "fphint.h"

DEFINE_PER_CPU(struct fphint_stats, fphint_stats);
DEFINE_STATIC_KEY_FALSE(fphint_free_hook);
DEFINE_STATIC_KEY_FALSE(fphint_reported_free_key);
struct fphint_zone_stats *fphint_zstats;

DEFINE_MUTEX(fphint_mutex);
/* Nests inside fphint_mutex; lets readers list stages without a pass in the way. */
static DEFINE_MUTEX(fphint_stage_mutex);
static atomic_t fphint_abort = ATOMIC_INIT(0);
static DECLARE_WAIT_QUEUE_HEAD(fphint_abort_wq);
atomic_long_t fphint_isolated_now = ATOMIC_LONG_INIT(0);

unsigned int fphint_tunables[FPHINT_TUNABLE_NR] = {
#define FPHINT_X_DEF(NAME, name, def, min, max)				\
	[FPHINT_TUNABLE_##NAME] = def,
	FPHINT_TUNABLES(FPHINT_X_DEF)
#undef FPHINT_X_DEF
};

static const struct {
	unsigned int def, min, max;
} fphint_tunable_info[FPHINT_TUNABLE_NR] = {
#define FPHINT_X_RANGE(NAME, name, def, min, max)			\
	[FPHINT_TUNABLE_##NAME] = { def, min, max },
	FPHINT_TUNABLES(FPHINT_X_RANGE)
#undef FPHINT_X_RANGE
};

const char * const fphint_kind_names[FPHINT_KIND_NR] = {
	[FPHINT_KIND_CAPTURE] = "capture",
	[FPHINT_KIND_SELECTION] = "selection",
	[FPHINT_KIND_TRANSPORT] = "transport",
	[FPHINT_KIND_THROTTLE] = "throttle",
};

static struct list_head fphint_stages[FPHINT_KIND_NR] = {
	LIST_HEAD_INIT(fphint_stages[0]), LIST_HEAD_INIT(fphint_stages[1]),
	LIST_HEAD_INIT(fphint_stages[2]), LIST_HEAD_INIT(fphint_stages[3]),
};
static struct fphint_stage *fphint_cur[FPHINT_KIND_NR];

const struct fphint_capture_ops *fphint_capture;
const struct fphint_selection_ops *fphint_selection;
struct fphint_transport *fphint_transport_cur;
const struct fphint_throttle_ops *fphint_throttle;

/*
 * The transport the admin (or the default) asked for.  A device transport
 * that registers under this name becomes current, also after a re-probe.
 */
static char fphint_transport_want[FPHINT_STAGE_NAME_MAX] = FPHINT_TRANSPORT_DEFAULT;

/* The policy last applied, "custom" once changed since; fphint_stage_mutex. */
static char fphint_policy[FPHINT_POLICY_NAME_MAX] = FPHINT_POLICY_DEFAULT;
/* Who changed it last; fphint_stage_mutex. */
static enum fphint_source fphint_source;
static const char * const fphint_source_names[] = {
	[FPHINT_SRC_DEFAULT] = FPHINT_SOURCE_DEFAULT,
	[FPHINT_SRC_LOCAL] = FPHINT_SOURCE_LOCAL,
	[FPHINT_SRC_HOST] = FPHINT_SOURCE_HOST,
};
/*
 * May the host set policy (fphint_apply_host_policy())?  On by default:
 * the device feature that carries it is off unless the host operator turns
 * it on, and a host that can balloon memory away gains nothing it lacks
 * from tuning hinting.  Guests that want only local control say
 * fphint.host_policy=0 (then not even a policy waiting at probe applies)
 * or write 0 at runtime.
 */
static bool fphint_host_policy = FPHINT_HOST_POLICY_DEFAULT;

/* fphint.enabled= on the command line: 0 leaves devices to page_reporting. */
static bool fphint_boot_enabled = true;
static bool fphint_enabled;
/*
 * fphint owns PageReported and the reporting device from its first enable
 * on (at boot, or at runtime after a fphint.enabled=0 boot) and never hands
 * them back: a disable only pauses it.  fphint_mutex.
 */
static bool fphint_owner;
/*
 * Memory went through a transport that reaches no host (null), or a host
 * kept it: it was put back unmarked, and percpu capture will not see it
 * again until it is freed anew.  The next transport that reaches a host
 * starts with a scan of the free lists.  fphint_mutex.
 */
static bool fphint_unsent;

/* Memory was put back unmarked although a report took it; fphint_mutex. */
void fphint_note_unsent(void)
{
	fphint_unsent = true;
}

/* Does fphint own PageReported and the reporting device?  fphint_mutex. */
bool fphint_owns_reporting(void)
{
	return fphint_owner;
}

/* Pass delay is report_delay_ms << fphint_backoff; see fphint_backoff_step(). */
static unsigned int fphint_backoff;
static unsigned long fphint_last_pass_end;	/* jiffies */
static u64 fphint_churned_seen;	/* churned_pages at the last pass */
static long fphint_free_seen;	/* NR_FREE_PAGES at the last pass's end */
static struct fphint_churn_window fphint_churn_win;

static struct workqueue_struct *fphint_wq;
static void fphint_worker(struct work_struct *work);
static DECLARE_DELAYED_WORK(fphint_work, fphint_worker);
static struct fphint_pass fphint_the_pass;
static void fphint_rearm(void);

static int __init fphint_setup_enabled(char *s)
{
	if (kstrtobool(s, &fphint_boot_enabled))
		pr_warn("ignoring invalid fphint.enabled=%s\n", s);
	return 1;
}
__setup("fphint.enabled=", fphint_setup_enabled);

static int __init fphint_setup_host_policy(char *s)
{
	if (kstrtobool(s, &fphint_host_policy))
		pr_warn("ignoring invalid fphint.host_policy=%s\n", s);
	return 1;
}
__setup("fphint.host_policy=", fphint_setup_host_policy);

bool fphint_host_policy_allowed(void)
{
	return READ_ONCE(fphint_host_policy);
}

const char *fphint_policy_source(void)
{
	return fphint_source_names[READ_ONCE(fphint_source)];
}

/* ---- stage registry ------------------------------------------------- */

struct list_head *fphint_stage_list(enum fphint_kind kind)
{
	return &fphint_stages[kind];
}

struct fphint_stage *fphint_find_stage(enum fphint_kind kind, const char *name)
{
	struct fphint_stage *s;

	list_for_each_entry(s, &fphint_stages[kind], node)
		if (sysfs_streq(s->name, name))
			return s;
	return NULL;
}

void fphint_stages_read_lock(void)
{
	mutex_lock(&fphint_stage_mutex);
}

void fphint_stages_read_unlock(void)
{
	mutex_unlock(&fphint_stage_mutex);
}

struct fphint_stage *fphint_current_stage(enum fphint_kind kind)
{
	return fphint_cur[kind];
}

static void fphint_make_current(enum fphint_kind kind, struct fphint_stage *s)
{
	fphint_cur[kind] = s;
	switch (kind) {
	case FPHINT_KIND_CAPTURE:
		if (fphint_capture && fphint_capture->flush)
			fphint_capture->flush();
		WRITE_ONCE(fphint_capture,
			   container_of(s, struct fphint_capture_ops, stage));
		break;
	case FPHINT_KIND_SELECTION:
		fphint_selection = container_of(s, struct fphint_selection_ops, stage);
		break;
	case FPHINT_KIND_TRANSPORT:
		fphint_transport_cur = container_of(s, struct fphint_transport, stage);
		if (fphint_transport_cur->to_host && fphint_unsent) {
			fphint_unsent = false;
			fphint_capture_rescan();
		}
		break;
	case FPHINT_KIND_THROTTLE:
		fphint_throttle = container_of(s, struct fphint_throttle_ops, stage);
		if (fphint_throttle->reset)
			fphint_throttle->reset();
		break;
	default:
		break;
	}
}

/*
 * Registration may happen before fphint_init() (device probe order).  A
 * device transport coming or going can change the current one: that is a
 * configuration change like any other, and listeners hear of it.
 */
/* fphint_config_lock() held; true when the current stage changed. */
bool __fphint_register_stage(enum fphint_kind kind, struct fphint_stage *s)
{
	bool changed = false;

	mutex_lock(&fphint_stage_mutex);
	list_add_tail(&s->node, &fphint_stages[kind]);
	if (!fphint_cur[kind] ||
	    (kind == FPHINT_KIND_TRANSPORT &&
	     !strcmp(s->name, fphint_transport_want))) {
		fphint_make_current(kind, s);
		changed = true;
	}
	mutex_unlock(&fphint_stage_mutex);
	return changed;
}

bool __fphint_unregister_stage(enum fphint_kind kind, struct fphint_stage *s)
{
	bool changed = false;

	mutex_lock(&fphint_stage_mutex);
	list_del(&s->node);
	/* Only device transports go away; fall back to the first (null). */
	if (fphint_cur[kind] == s) {
		fphint_make_current(kind, list_first_entry(&fphint_stages[kind],
							   struct fphint_stage, node));
		changed = true;
	}
	mutex_unlock(&fphint_stage_mutex);
	return changed;
}

/* fphint_config_lock() held: is @s the transport the admin chose? */
bool __fphint_transport_wanted(struct fphint_stage *s)
{
	return !strcmp(s->name, fphint_transport_want);
}

/*
 * fphint_config_lock() held: a transport that is always listed
 * (hypercall) became usable, or stopped being.  Usable again, it becomes
 * current if it is the one the admin chose; unusable, a current one
 * falls back to the first transport (null), like a device that goes away.
 * True when the current transport changed.
 */
bool __fphint_transport_offered(struct fphint_stage *s, bool offered)
{
	enum fphint_kind kind = FPHINT_KIND_TRANSPORT;
	bool changed = false;

	mutex_lock(&fphint_stage_mutex);
	if (offered && fphint_cur[kind] != s && __fphint_transport_wanted(s)) {
		fphint_make_current(kind, s);
		changed = true;
	} else if (!offered && fphint_cur[kind] == s) {
		fphint_make_current(kind, list_first_entry(&fphint_stages[kind],
							   struct fphint_stage, node));
		changed = true;
	}
	mutex_unlock(&fphint_stage_mutex);
	return changed;
}

static void fphint_stage_op(bool (*op)(enum fphint_kind, struct fphint_stage *),
			    enum fphint_kind kind, struct fphint_stage *s)
{
	bool changed;

	fphint_config_lock();
	changed = op(kind, s);
	fphint_config_unlock();
	if (changed)
		fphint_nl_notify_config();
}

void fphint_register_stage(enum fphint_kind kind, struct fphint_stage *s)
{
	fphint_stage_op(__fphint_register_stage, kind, s);
}

void fphint_unregister_stage(enum fphint_kind kind, struct fphint_stage *s)
{
	fphint_stage_op(__fphint_unregister_stage, kind, s);
}

/* ---- configuration -------------------------------------------------- */

/*
 * Writers stop a running pass at its next batch instead of waiting for it
 * to finish: a rate-limited pass over gigabytes could take minutes.
 */
void fphint_config_lock(void)
{
	atomic_inc(&fphint_abort);
	wake_up_all(&fphint_abort_wq);
	mutex_lock(&fphint_mutex);
}

void fphint_config_unlock(void)
{
	mutex_unlock(&fphint_mutex);
	atomic_dec(&fphint_abort);
	/* A changed delay applies to the pass already waiting, too. */
	if (READ_ONCE(fphint_enabled))
		fphint_rearm();
}

bool fphint_is_enabled(void)
{
	return READ_ONCE(fphint_enabled);
}

/* Free blocks marked reported in @zone, by whoever marked them; zone->lock. */
static unsigned long fphint_count_reported_free(struct zone *zone)
{
	unsigned long n = 0;
	unsigned int order, mt;
	struct page *page;

	for (order = 0; order < MAX_ORDER; order++)
		for (mt = 0; mt < MIGRATE_TYPES; mt++)
			list_for_each_entry(page, &zone->free_area[order].free_list[mt],
					    buddy_list)
				if (PageReported(page))
					n += 1UL << order;
	return n;
}

/*
 * First enable: from here on PageReported is fphint's.  Called with
 * fphint_mutex held, before the free hook goes on.
 */
static void fphint_take_ownership(void)
{
	struct fphint_stage *s;
	struct zone *zone;

	/*
	 * del_page_from_free_list() clears PageReported only while this key
	 * is on; it is the stock "reported pages exist" key, never disabled.
	 */
	static_branch_enable(&page_reporting_enabled);
	static_branch_enable(&fphint_reported_free_key);
	/* From here on blocks may be marked known-zero: the allocator looks. */
	static_branch_enable(&fphint_known_zero_key);
	/*
	 * Stock reporting may have marked blocks already (they were
	 * discarded, so they stay marked).  Every change of reported_free
	 * happens under zone->lock and is counted from the key on, so a
	 * count taken under the lock afterwards is exact.
	 */
	for_each_populated_zone(zone) {
		fphint_zone_lock_timed(zone);
		fphint_zs(zone)->reported_free = fphint_count_reported_free(zone);
		fphint_zone_unlock_timed(zone);
	}
	list_for_each_entry(s, &fphint_stages[FPHINT_KIND_TRANSPORT], node) {
		struct fphint_transport *t = container_of(s, struct fphint_transport, stage);

		if (t->take_over)
			t->take_over(t);
	}
	fphint_owner = true;
}

/* Called with fphint_mutex held. */
static void __fphint_set_enabled(bool on)
{
	if (on == fphint_enabled)
		return;
	if (on && !fphint_owner) {
		fphint_take_ownership();
		/* What was freed before is not in any capture buffer. */
		fphint_capture_rescan();
	}
	WRITE_ONCE(fphint_enabled, on);
	if (on) {
		static_branch_enable(&fphint_free_hook);
	} else {
		static_branch_disable(&fphint_free_hook);
		if (fphint_capture->flush)
			fphint_capture->flush();
	}
	pr_info("%s\n", on ? "enabled" : "disabled");
}

void fphint_config_init(struct fphint_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->enabled = -1;
	cfg->host_policy = -1;
	cfg->source = FPHINT_SRC_LOCAL;
	cfg->bad_stage = -1;
	cfg->bad_tunable = -1;
}

static const char * const fphint_stage_defaults[FPHINT_KIND_NR] = {
	[FPHINT_KIND_CAPTURE] = FPHINT_CAPTURE_DEFAULT,
	[FPHINT_KIND_SELECTION] = FPHINT_SELECTION_DEFAULT,
	[FPHINT_KIND_TRANSPORT] = NULL,	/* follows the devices present */
	[FPHINT_KIND_THROTTLE] = FPHINT_THROTTLE_DEFAULT,
};

static bool fphint_tunable_valid(enum fphint_tunable t, unsigned long val)
{
	if (val < fphint_tunable_info[t].min || val > fphint_tunable_info[t].max)
		return false;
	if (t == FPHINT_TUNABLE_MIN_ORDER || t == FPHINT_TUNABLE_SETTLED_MIN_ORDER)
		return val < MAX_ORDER;
	return true;
}

/*
 * A policy is a whole configuration: what it leaves out is the default
 * (the transport excepted: which one works depends on the devices).
 */
static void fphint_policy_fill(struct fphint_config *cfg)
{
	int i;

	if (cfg->enabled < 0)
		cfg->enabled = 1;
	for (i = 0; i < FPHINT_KIND_NR; i++)
		if (!cfg->stage[i])
			cfg->stage[i] = fphint_stage_defaults[i];
	for (i = 0; i < FPHINT_TUNABLE_NR; i++)
		if (!test_bit(i, cfg->tunable_set)) {
			cfg->tunable[i] = fphint_tunable_info[i].def;
			__set_bit(i, cfg->tunable_set);
		}
}

/*
 * Apply @cfg all or nothing: every value is checked, and the one step that
 * can fail (resizing the capture buffers) is taken, before anything
 * changes.  On error cfg->bad_stage or cfg->bad_tunable names the culprit.
 * Changing what reporting does makes the policy "custom"; switching it on
 * or off does not.
 */
int fphint_apply(struct fphint_config *cfg)
{
	struct fphint_stage *s[FPHINT_KIND_NR] = {};
	bool changed = false, toggled = false;
	int i, err = 0;

	if (cfg->policy)
		fphint_policy_fill(cfg);
	for_each_set_bit(i, cfg->tunable_set, FPHINT_TUNABLE_NR) {
		if (!fphint_tunable_valid(i, cfg->tunable[i])) {
			cfg->bad_tunable = i;
			return -EINVAL;
		}
	}

	fphint_config_lock();
	mutex_lock(&fphint_stage_mutex);
	/* Checked under the lock: a switch turned off just now holds. */
	if (cfg->source == FPHINT_SRC_HOST && !fphint_host_policy) {
		err = -EPERM;
		goto out;
	}
	for (i = 0; i < FPHINT_KIND_NR; i++) {
		if (!cfg->stage[i])
			continue;
		s[i] = fphint_find_stage(i, cfg->stage[i]);
		if (!s[i]) {
			cfg->bad_stage = i;
			err = -EINVAL;
			goto out;
		}
	}
	/* A transport the host may not offer (hypercall): -ENODEV. */
	i = FPHINT_KIND_TRANSPORT;
	if (s[i] && s[i] != fphint_cur[i]) {
		struct fphint_transport *t = container_of(s[i], struct fphint_transport, stage);

		err = t->select ? t->select(t) : 0;
		if (err) {
			cfg->bad_stage = i;
			goto out;
		}
	}
	i = FPHINT_TUNABLE_CAPTURE_BATCH;
	if (test_bit(i, cfg->tunable_set) && cfg->tunable[i] != fphint_tunables[i]) {
		err = fphint_percpu_resize(cfg->tunable[i]);
		if (err) {
			cfg->bad_tunable = i;
			goto out;
		}
	}

	/* Nothing below fails. */
	for (i = 0; i < FPHINT_KIND_NR; i++) {
		if (!s[i])
			continue;
		if (i == FPHINT_KIND_TRANSPORT)
			strscpy(fphint_transport_want, s[i]->name,
				sizeof(fphint_transport_want));
		if (s[i] != fphint_cur[i]) {
			fphint_make_current(i, s[i]);
			changed = true;
		}
	}
	for_each_set_bit(i, cfg->tunable_set, FPHINT_TUNABLE_NR) {
		if (cfg->tunable[i] == fphint_tunables[i])
			continue;
		WRITE_ONCE(fphint_tunables[i], cfg->tunable[i]);
		changed = true;
		if (i == FPHINT_TUNABLE_RATELIMIT_MIB_S && fphint_throttle->reset)
			fphint_throttle->reset();
		/* Off means no block is trusted to be zero, now or later. */
		if (i == FPHINT_TUNABLE_KNOWN_ZERO && !cfg->tunable[i])
			fphint_known_zero_forget();
	}
	if (cfg->enabled >= 0 && cfg->enabled != fphint_enabled) {
		__fphint_set_enabled(cfg->enabled);
		toggled = true;
	}
	if (cfg->policy) {
		strscpy(fphint_policy, cfg->policy, sizeof(fphint_policy));
		changed = true;
	} else if (changed) {
		strscpy(fphint_policy, FPHINT_POLICY_CUSTOM, sizeof(fphint_policy));
	}
	if (changed || toggled)
		WRITE_ONCE(fphint_source, cfg->source);
	/* Access control, not policy: neither "custom" nor a new source. */
	if (cfg->host_policy >= 0 && cfg->host_policy != fphint_host_policy) {
		WRITE_ONCE(fphint_host_policy, cfg->host_policy);
		toggled = true;
	}
out:
	mutex_unlock(&fphint_stage_mutex);
	fphint_config_unlock();
	if (err)
		return err;
	/* A pass already running ends at its next batch (fphint_pass_stop()). */
	if (toggled && !cfg->enabled)
		cancel_delayed_work_sync(&fphint_work);
	if (changed || toggled)
		fphint_nl_notify_config();
	return 0;
}

/* Policy names end up in file names and sysfs: keep them plain. */
bool fphint_policy_name_valid(const char *name)
{
	if (!*name || strlen(name) >= FPHINT_POLICY_NAME_MAX)
		return false;
	for (; *name; name++)
		if (!islower(*name) && !isdigit(*name) && *name != '-' && *name != '_')
			return false;
	return true;
}

void fphint_policy_name(char *buf, size_t size)
{
	mutex_lock(&fphint_stage_mutex);
	strscpy(buf, fphint_policy, size);
	mutex_unlock(&fphint_stage_mutex);
}

u64 fphint_stat_sum(enum fphint_stat stat)
{
	u64 sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(fphint_stats, cpu).cnt[stat];
	return sum;
}

/* ---- free path ------------------------------------------------------ */

void __fphint_notify_free(struct zone *zone, unsigned long pfn,
			  unsigned int order)
{
	READ_ONCE(fphint_capture)->notify_free(zone, pfn, order);
}

/*
 * The churn backoff level, less one for every two delays the worker has
 * been idle since its last pass: once the churn stops, the next burst is
 * reported promptly without waiting for passes to bring the level down.
 * Two, because while frees keep coming a pass follows the previous one
 * after a single delay, and that gap must not count as idle.
 */
static unsigned int fphint_backoff_now(void)
{
	unsigned int level = READ_ONCE(fphint_backoff);
	unsigned long idle = jiffies - READ_ONCE(fphint_last_pass_end);
	unsigned int base = fphint_tunable(REPORT_DELAY_MS);

	while (level && idle >= 2 * msecs_to_jiffies(base << level)) {
		idle -= 2 * msecs_to_jiffies(base << level);
		level--;
	}
	return fphint_fault_backoff(level);
}

unsigned int fphint_delay_now_ms(void)
{
	return fphint_tunable(REPORT_DELAY_MS) <<
		(fphint_backoff_now() + fphint_hostcheck_level());
}

/*
 * Ask for a pass: @now to continue a scan, else after the current delay so
 * that frees can batch up (and memory that is reused at once is never
 * reported).  Safe from the free path: it neither sleeps nor
 * allocates, and queue_delayed_work() is a no-op when a pass is pending.
 */
void fphint_kick(bool now)
{
	if (unlikely(!fphint_wq))
		return;
	if (now)
		mod_delayed_work(fphint_wq, &fphint_work, 0);
	else if (!delayed_work_pending(&fphint_work))
		queue_delayed_work(fphint_wq, &fphint_work,
				   msecs_to_jiffies(fphint_delay_now_ms()));
}

/*
 * A pass at the next tick: a cold region became one free block
 * (region.c), a burst settled there, nothing in it is left to merge or to
 * wait for.  Frees that come while the pass runs queue the next one, so a
 * long burst is reported as it goes, at the host's pace.  Safe from the
 * free path, like fphint_kick(): one tick, not 0, so that only a timer is
 * armed under zone->lock and no worker is woken there.  A pending timer
 * is only ever brought forward.
 */
void fphint_kick_soon(void)
{
	if (unlikely(!fphint_wq))
		return;
	if (!delayed_work_pending(&fphint_work) ||
	    time_after(READ_ONCE(fphint_work.timer.expires), jiffies + 1))
		mod_delayed_work(fphint_wq, &fphint_work, 1);
}

/*
 * After a configuration change: a pass waiting on the old, longer delay
 * is brought forward to the new one (fphint_kick() leaves a pending timer
 * alone, which is right on the free path but would keep a 60 s delay in
 * force for up to a minute after it was lowered).  Process context.
 */
static void fphint_rearm(void)
{
	unsigned long delay = msecs_to_jiffies(fphint_delay_now_ms());

	if (unlikely(!fphint_wq))
		return;
	if (!delayed_work_pending(&fphint_work))
		queue_delayed_work(fphint_wq, &fphint_work, delay);
	else if (time_before(jiffies + delay, READ_ONCE(fphint_work.timer.expires)))
		mod_delayed_work(fphint_wq, &fphint_work, delay);
}

/* ---- worker --------------------------------------------------------- */

bool fphint_pass_stop(struct fphint_pass *pass)
{
	return atomic_read(&fphint_abort) || !READ_ONCE(fphint_enabled);
}

/*
 * Wait @ms for a throttle, without locks.  Returns true when a
 * configuration writer wants fphint_mutex meanwhile: the pass should stop.
 */
bool fphint_pass_wait(unsigned int ms)
{
	return wait_event_timeout(fphint_abort_wq, atomic_read(&fphint_abort),
				  msecs_to_jiffies(ms));
}

/*
 * Free pages on the per-CPU lists (pcp) are not on the buddy free lists,
 * so no pass can find them, and they can be many: pcp->high is the zone's
 * low watermark split over its CPUs, and THP raises min_free_kbytes (to
 * 45 MiB on a 2 GiB guest, so up to 54 MiB sat there after the bench's
 * fragmented free).  After a burst of frees the lists stay full until
 * allocations take from them, which an idle guest never does.
 *
 * Worth a drain: at least a pageblock (the least the host can take as one
 * huge page) and a quarter of what one CPU's lists may hold (a free by one
 * task fills one CPU's), so that the few hundred pages a busy shell leaves
 * there do not cost a drain.
 */
static bool fphint_pcp_drain_worth(void)
{
	unsigned long pages = 0, high = 0;
	struct zone *zone;
	int cpu;

	for_each_populated_zone(zone)
		for_each_online_cpu(cpu) {
			struct per_cpu_pages *pcp = per_cpu_ptr(zone->per_cpu_pageset, cpu);

			pages += READ_ONCE(pcp->count);
			high += READ_ONCE(pcp->high);
		}
	return pages >= pageblock_nr_pages && 4 * pages >= high / num_online_cpus();
}

/* Frees that reached the buddy through the hook (duplicates included). */
static u64 fphint_frees_seen(void)
{
	return fphint_stat_sum(FPHINT_STAT_CAPTURED) + fphint_stat_sum(FPHINT_STAT_DUPLICATES) +
	       fphint_stat_sum(FPHINT_STAT_DROPPED);
}

static u64 fphint_frees_at_pass_end;
/* jiffies; from boot, not from 0, which is 5 min ahead on 32-bit */
static unsigned long fphint_last_drain = INITIAL_JIFFIES - HZ;

/*
 * Once the frees stopped (none reached the buddy since the last pass,
 * which ended a report delay ago or more), give what the pcp lists hold
 * back to the buddy, where the free hook captures it like any free; at
 * most once a second.  While frees go on, the lists turn over by
 * themselves and a drain would only cost the allocations that refill
 * them.  The delay, because a burst's passes follow each other a tick
 * apart (fphint_kick_soon()) and its frees reach the buddy in pcp-sized
 * batches: a tick without one is not the end of the burst, and a drain
 * there would hold off the one after it by a second.  Sleeps (it waits
 * for every CPU's drain), so worker only.
 */
static void fphint_drain_pcp_settled(void)
{
	unsigned long quiet = msecs_to_jiffies(fphint_tunable(REPORT_DELAY_MS));

	if (fphint_frees_seen() != fphint_frees_at_pass_end ||
	    time_before(jiffies, fphint_last_pass_end + quiet) ||
	    time_before(jiffies, fphint_last_drain + HZ) || !fphint_pcp_drain_worth())
		return;
	fphint_last_drain = jiffies;
	drain_all_pages(NULL);
	fphint_count(FPHINT_STAT_PCP_DRAINS, 1);
}

static void fphint_worker(struct work_struct *work)
{
	struct fphint_pass *pass = &fphint_the_pass;
	unsigned long *pfns;
	u64 churned, began = local_clock();
	unsigned int nr, level;
	long free;

	mutex_lock(&fphint_mutex);
	if (!fphint_enabled)
		goto out;

	pass->bytes = 0;
	pass->batch = min3(fphint_tunable(REPORT_BATCH),
			   fphint_transport_cur->capacity,
			   (unsigned int)FPHINT_REPORT_BATCH_MAX);
	pass->min_order = fphint_tunable(MIN_ORDER);
	pass->walk_order = pass->min_order;
	pass->rh_last = ULONG_MAX;
	pass->scanning = false;
	/*
	 * Merged ranges must not let a batch hold more memory off the free
	 * lists than report_batch blocks of the largest order would, nor
	 * more than the throttle lets through in one go (give or take the
	 * block that crosses the line).  This also keeps every range well
	 * inside a 32-bit descriptor length.
	 */
	BUILD_BUG_ON(((u64)FPHINT_REPORT_BATCH_MAX + 1) << (PAGE_SHIFT + MAX_ORDER - 1) > U32_MAX);
	pass->bytes_max = (unsigned long)pass->batch << (PAGE_SHIFT + MAX_ORDER - 1);
	if (fphint_throttle->batch_bytes)
		pass->bytes_max = min(pass->bytes_max, fphint_throttle->batch_bytes());
	pass->cpu = -1;
	pass->zone_cursor = 0;
	pass->more = false;
	pass->reported = 0;
	pass->marked = 0;
	fphint_backoff = fphint_backoff_now();
	fphint_count(FPHINT_STAT_PASSES, 1);
	fphint_drain_pcp_settled();

	/* On abort, what is still in capture buffers waits for the next pass. */
	while (!fphint_pass_stop(pass) &&
	       (pfns = fphint_capture->collect(pass, &nr)))
		fphint_selection->select(pass, pfns, nr);
	WARN_ON_ONCE(pass->nents);

	/*
	 * Churn check: churned memory (reported by capture, allocated again
	 * within the churn window of its region's report, region.c) against
	 * what was reported over the last two churn windows
	 * (fphint_backoff_step()).  Memory reported long ago, or found free
	 * by a scan (at boot, say), and allocated now is ordinary use, not
	 * churn: a guest that starts using the memory it booted with must
	 * not slow down the report of what it frees next.  Every block the
	 * pass isolated is back on the free lists by now, so the free count
	 * compares with the last pass's.
	 */
	churned = fphint_stat_sum(FPHINT_STAT_CHURNED_PAGES);
	free = global_zone_page_state(NR_FREE_PAGES);
	level = fphint_backoff_step(&fphint_churn_win, fphint_backoff, jiffies,
				    pass->reported, churned - fphint_churned_seen,
				    free - fphint_free_seen);
	fphint_churned_seen = churned;
	fphint_free_seen = free;
	if (level > fphint_backoff)
		fphint_count(FPHINT_STAT_BACKOFFS, 1);
	WRITE_ONCE(fphint_backoff, level);
	WRITE_ONCE(fphint_last_pass_end, jiffies);

	/*
	 * A scanning capture left work behind and is making progress: blocks
	 * it reported are marked and not found again.  (Through null nothing
	 * is marked; such a scan goes on only at the pace of the delay.)
	 */
	if (pass->more && pass->marked && !fphint_pass_stop(pass))
		fphint_kick(!level && !fphint_hostcheck_level());
	else if ((fphint_capture->pending && fphint_capture->pending()) ||
		 fphint_pcp_drain_worth())
		/* A pcp drain may be due once the frees stop: look again. */
		fphint_kick(false);
	fphint_frees_at_pass_end = fphint_frees_seen();
	/* Wall time: the host's handling of the reports and throttle waits too. */
	fphint_count(FPHINT_STAT_PASS_NS, local_clock() - began);
out:
	mutex_unlock(&fphint_mutex);
}

static int __init fphint_init(void)
{
	int i, err;

	err = -ENOMEM;
	fphint_zstats = kcalloc(nr_node_ids * MAX_NR_ZONES,
				sizeof(*fphint_zstats), GFP_KERNEL);
	if (!fphint_zstats)
		goto out;
	err = fphint_fault_init_step(1);
	if (err)
		goto out_zstats;
	err = fphint_region_init();
	if (err)
		goto out_zstats;
	/* All or nothing: on failure no buffer is left allocated. */
	err = fphint_percpu_init();
	if (err)
		goto out_region;
	err = fphint_fault_init_step(2);
	if (err)
		goto out_capture;
	err = -ENOMEM;
	fphint_wq = alloc_workqueue("fphint", WQ_UNBOUND | WQ_FREEZABLE, 1);
	if (!fphint_wq)
		goto out_capture;
	err = fphint_fault_init_step(3);
	if (err)
		goto out_wq;

	/* The first registered of each kind is the default. */
	/* Every kind needs a stage; they registered at postcore_initcall. */
	err = -ENODEV;
	for (i = 0; i < FPHINT_KIND_NR; i++)
		if (!fphint_cur[i])
			goto out_wq;

	fphint_fault_debugfs();
	fphint_known_zero_init();

	err = fphint_sysfs_init();
	if (err)
		pr_warn("sysfs interface unavailable: %d\n", err);

	if (!fphint_boot_enabled) {
		pr_info("disabled on the command line; page_reporting keeps the devices until enabled\n");
		return 0;
	}
	mutex_lock(&fphint_mutex);
	__fphint_set_enabled(true);
	mutex_unlock(&fphint_mutex);
	return 0;

out_wq:
	destroy_workqueue(fphint_wq);
	fphint_wq = NULL;
out_capture:
	fphint_percpu_exit();
out_region:
	fphint_region_exit();
out_zstats:
	kfree(fphint_zstats);
	fphint_zstats = NULL;
out:
	/* Reporting devices go to stock page_reporting, as with fphint.enabled=0. */
	fphint_boot_enabled = false;
	pr_err("initialisation failed (%d); page_reporting keeps the devices\n", err);
	return err;
}
subsys_initcall(fphint_init);
