// SPDX-License-Identifier: GPL-2.0
/*
 * fphint host policy: configuration set by the host, without a guest agent.
 *
 * A device (virtio-balloon with the experimental feature
 * VIRTIO_BALLOON_F_FPHINT_POLICY) hands over text the host wrote, lines of
 * "key=value" with the names of /sys/kernel/mm/fphint/: the stages,
 * enabled, the tunables and "policy" (the name of a whole policy: what it
 * leaves out takes the default, as with fphintctl set-policy).  The text
 * goes through fphint_apply() like a sysfs or netlink write: everything
 * is checked, and nothing changes on error.  The guest admin decides
 * whether the host may do this at all (host_policy, default on).
 */
#define pr_fmt(fmt) "fphint: " fmt

#include <linux/ctype.h>
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "fphint.h"

static const char * const fphint_tunable_names[FPHINT_TUNABLE_NR] = {
#define FPHINT_X_NAME(NAME, name, def, min, max)			\
	[FPHINT_TUNABLE_##NAME] = #name,
	FPHINT_TUNABLES(FPHINT_X_NAME)
#undef FPHINT_X_NAME
};

static int fphint_host_key(struct fphint_config *cfg, char *key, char *val)
{
	unsigned long v;
	int i, err;

	if (!strcmp(key, "policy")) {
		if (cfg->policy || !fphint_policy_name_valid(val))
			return -EINVAL;
		cfg->policy = val;
		return 0;
	}
	if (!strcmp(key, "enabled")) {
		if (cfg->enabled >= 0 || (strcmp(val, "0") && strcmp(val, "1")))
			return -EINVAL;
		cfg->enabled = *val == '1';
		return 0;
	}
	for (i = 0; i < FPHINT_KIND_NR; i++) {
		if (strcmp(key, fphint_kind_names[i]))
			continue;
		if (cfg->stage[i])
			return -EINVAL;
		cfg->stage[i] = val;
		return 0;
	}
	for (i = 0; i < FPHINT_TUNABLE_NR; i++) {
		if (strcmp(key, fphint_tunable_names[i]))
			continue;
		if (test_bit(i, cfg->tunable_set))
			return -EINVAL;
		/* -ERANGE: does not fit; out of the tunable's range is -EINVAL below. */
		err = kstrtoul(val, 10, &v);
		if (err)
			return err;
		cfg->tunable[i] = v;
		__set_bit(i, cfg->tunable_set);
		return 0;
	}
	/* host_policy included: only the guest turns that switch. */
	return -EINVAL;
}

/* Documented in <linux/fphint.h>. */
int fphint_apply_host_policy(const char *text, size_t len)
{
	struct fphint_config cfg;
	char *buf, *line, *next;
	int err = 0, n = 0;
	size_t i;

	if (!fphint_host_policy_allowed())
		return -EPERM;
	if (!len || len > FPHINT_HOST_POLICY_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (text[i] != '\n' && !(isascii(text[i]) && isprint(text[i])))
			return -EINVAL;
	buf = kmemdup_nul(text, len, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;

	fphint_config_init(&cfg);
	cfg.source = FPHINT_SRC_HOST;
	for (line = buf; line && !err; line = next) {
		char *eq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		line = strim(line);
		if (!*line)
			continue;
		eq = strchr(line, '=');
		if (!eq) {
			err = -EINVAL;
			break;
		}
		*eq = '\0';
		err = fphint_host_key(&cfg, strim(line), strim(eq + 1));
		n++;
	}
	if (!err && !n)
		err = -EINVAL;
	if (!err)
		err = fphint_apply(&cfg);
	if (err)
		pr_info("host policy refused: %d\n", err);
	else
		pr_info("host policy applied%s%s\n", cfg.policy ? ": " : "",
			cfg.policy ?: "");
	kfree(buf);
	return err;
}
EXPORT_SYMBOL_GPL(fphint_apply_host_policy);

#ifdef CONFIG_FPHINT_KUNIT_TEST
#include "tests/host_policy-kunit.h"
#endif
