// SPDX-License-Identifier: GPL-2.0
/*
 * The keys `set` and profiles accept, built from the uapi X-macros, and the
 * one validator both go through.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fphintctl.h"

static const char *const capture_builtin[] = {
	FPHINT_CAPTURE_PERCPU, FPHINT_CAPTURE_BUDDY_SCAN, NULL };
static const char *const selection_builtin[] = {
	FPHINT_SELECTION_ZONE_SORT, FPHINT_SELECTION_FIFO, NULL };
static const char *const transport_builtin[] = {
	FPHINT_TRANSPORT_VIRTIO, FPHINT_TRANSPORT_NULL, NULL };
static const char *const throttle_builtin[] = {
	FPHINT_THROTTLE_WATERMARK, FPHINT_THROTTLE_RATELIMIT, FPHINT_THROTTLE_NONE, NULL };

const struct stage_desc stages[STAGE_NR] = {
	[STAGE_CAPTURE] = { "capture", "avail_capture", FPHINT_A_CAPTURE,
			    FPHINT_A_AVAIL_CAPTURE, FPHINT_CAPTURE_DEFAULT, capture_builtin },
	[STAGE_SELECTION] = { "selection", "avail_selection", FPHINT_A_SELECTION,
			      FPHINT_A_AVAIL_SELECTION, FPHINT_SELECTION_DEFAULT,
			      selection_builtin },
	[STAGE_TRANSPORT] = { "transport", "avail_transport", FPHINT_A_TRANSPORT,
			      FPHINT_A_AVAIL_TRANSPORT, FPHINT_TRANSPORT_DEFAULT,
			      transport_builtin },
	[STAGE_THROTTLE] = { "throttle", "avail_throttle", FPHINT_A_THROTTLE,
			     FPHINT_A_AVAIL_THROTTLE, FPHINT_THROTTLE_DEFAULT,
			     throttle_builtin },
};

/* Key order is output order everywhere: enabled, the stages, the tunables. */
const struct key_desc keys[KEY_NR] = {
	/* set-policy turns fphint on unless the profile says otherwise */
	{ "enabled", KEY_ENABLED, 0, 1, 0, 1 },
	{ "host_policy", KEY_HOST_POLICY, 0, FPHINT_HOST_POLICY_DEFAULT, 0, 1 },
	{ "capture", KEY_STAGE, STAGE_CAPTURE, 0, 0, 0 },
	{ "selection", KEY_STAGE, STAGE_SELECTION, 0, 0, 0 },
	{ "transport", KEY_STAGE, STAGE_TRANSPORT, 0, 0, 0 },
	{ "throttle", KEY_STAGE, STAGE_THROTTLE, 0, 0, 0 },
#define X(NAME, name, def, min, max) \
	{ #name, KEY_TUNABLE, FPHINT_TUNABLE_##NAME, def, min, max },
	FPHINT_TUNABLES(X)
#undef X
};

const char *const stat_names[FPHINT_STAT_NR] = {
#define X(NAME, name) [FPHINT_STAT_##NAME] = #name,
	FPHINT_STATS(X)
#undef X
};

int key_lookup(const char *name)
{
	for (int i = 0; i < KEY_NR; i++)
		if (!strcmp(keys[i].name, name))
			return i;
	return -1;
}

int key_width(void)
{
	int w = 0;

	for (int i = 0; i < KEY_NR; i++)
		if ((int)strlen(keys[i].name) > w)
			w = strlen(keys[i].name);
	return w;
}

/* Plain decimal only: no sign, no base prefix, no blanks. */
bool parse_u32(const char *s, uint32_t *v)
{
	unsigned long long n;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno || *end || n > UINT32_MAX)
		return false;
	*v = n;
	return true;
}

/* [a-z0-9][a-z0-9_-]*, shorter than max */
static bool name_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n >= max || !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    *s != '-' && *s != '_')
			return false;
	return true;
}

bool stage_name_valid(const char *s)
{
	return name_valid(s, FPHINT_STAGE_NAME_MAX);
}

bool policy_name_valid(const char *s)
{
	return name_valid(s, FPHINT_POLICY_NAME_MAX);
}

/*
 * Validate one KEY=VALUE the way the kernel will, and store it.  On error
 * returns -1 with the reason (without the key) in err.
 */
int settings_add(struct settings *s, const char *key, const char *val, int line,
		 char *err, size_t errlen)
{
	int k = key_lookup(key);
	const struct key_desc *d;
	uint32_t v;

	if (k < 0) {
		snprintf(err, errlen, "unknown key");
		return -1;
	}
	d = &keys[k];
	if (s->given[k]) {
		if (s->line[k])
			snprintf(err, errlen, "duplicate key (first on line %d)", s->line[k]);
		else
			snprintf(err, errlen, "duplicate key");
		return -1;
	}
	if (!*val) {
		snprintf(err, errlen, "empty value");
		return -1;
	}
	if (d->kind == KEY_HOST_POLICY && line) {
		snprintf(err, errlen, "host_policy is the guest's own switch, not part of a policy");
		return -1;
	}
	switch (d->kind) {
	case KEY_ENABLED:
	case KEY_HOST_POLICY:
		if (strcmp(val, "0") && strcmp(val, "1")) {
			snprintf(err, errlen, "'%s' is not 0 or 1", val);
			return -1;
		}
		s->num[k] = *val - '0';
		break;
	case KEY_STAGE:
		if (!stage_name_valid(val)) {
			snprintf(err, errlen,
				 "'%s' is not a stage name ([a-z0-9][a-z0-9_-]*, at most %d characters)",
				 val, FPHINT_STAGE_NAME_MAX - 1);
			return -1;
		}
		strcpy(s->str[k], val);
		break;
	case KEY_TUNABLE:
		if (!parse_u32(val, &v)) {
			snprintf(err, errlen, "'%s' is not a decimal number", val);
			return -1;
		}
		if (v < d->min || v > d->max) {
			snprintf(err, errlen, "%u is out of range %u..%u", v, d->min, d->max);
			return -1;
		}
		s->num[k] = v;
		break;
	}
	s->given[k] = true;
	s->line[k] = line;
	return k;
}
