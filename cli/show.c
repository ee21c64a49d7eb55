// SPDX-License-Identifier: GPL-2.0
/*
 * What the kernel reports (configuration, statistics, events), laid out
 * through the print layer in header order.
 */
#include <stdio.h>
#include <string.h>

#include "fphintctl.h"

/* "[current] other other", like the sysfs files */
static void stage_text(const struct fphint_config *cfg, int i, char *buf, size_t len)
{
	bool seen = false;
	size_t n = 0;

	for (int j = 0; j < cfg->n_avail[i]; j++)
		seen |= !strcmp(cfg->avail[i][j], cfg->stage[i]);
	if (!seen)
		n += snprintf(buf + n, len - n, "[%s]", cfg->stage[i]);
	for (int j = 0; j < cfg->n_avail[i] && n < len; j++) {
		const char *s = cfg->avail[i][j];
		bool cur = !strcmp(s, cfg->stage[i]);

		n += snprintf(buf + n, len - n, "%s%s%s%s", n ? " " : "", cur ? "[" : "", s,
			      cur ? "]" : "");
	}
}

void show_config(const struct fphint_config *cfg, bool with_avail)
{
	char buf[AVAIL_MAX * (FPHINT_STAGE_NAME_MAX + 3)];

	if (cfg->has_enabled)
		print_kv_uint(PRINT_ANY, "enabled", cfg->enabled);
	if (cfg->policy[0])
		print_kv_string(PRINT_ANY, "policy", cfg->policy);
	if (cfg->policy_source[0])
		print_kv_string(PRINT_ANY, "policy_source", cfg->policy_source);
	if (cfg->has_host_policy)
		print_kv_uint(PRINT_ANY, "host_policy", cfg->host_policy);
	for (int i = 0; i < STAGE_NR; i++) {
		if (!cfg->stage[i][0])
			continue;
		print_kv_string(PRINT_JSON, stages[i].name, cfg->stage[i]);
		if (with_avail) {
			stage_text(cfg, i, buf, sizeof(buf));
			print_kv_string(PRINT_TEXT, stages[i].name, buf);
		} else {
			print_kv_string(PRINT_TEXT, stages[i].name, cfg->stage[i]);
		}
	}
	for (int i = 0; with_avail && i < STAGE_NR; i++) {
		const char *v[AVAIL_MAX];

		for (int j = 0; j < cfg->n_avail[i]; j++)
			v[j] = cfg->avail[i][j];
		print_kv_strv(PRINT_JSON, stages[i].avail_key, v, cfg->n_avail[i]);
	}
	for (int k = KEY_TUNABLE0; k < KEY_NR; k++)
		if (cfg->has_tunable[keys[k].idx])
			print_kv_uint(PRINT_ANY, keys[k].name, cfg->tunable[keys[k].idx]);
}

void show_status(const struct fphint_config *cfg)
{
	open_json_object(NULL);
	print_layout(0, key_width(), false);
	show_config(cfg, true);
	close_json_object();
}

static int stats_width(void)
{
	int w = 0;

	for (int i = 0; i < FPHINT_STAT_NR; i++)
		if ((int)strlen(stat_names[i]) > w)
			w = strlen(stat_names[i]);
	for (int i = 0; i < n_stat_gauges; i++)
		if ((int)strlen(stat_gauges[i].name) > w)
			w = strlen(stat_gauges[i].name);
	return w;
}

static void show_zones(const struct fphint_stats *st)
{
	int zw = 4;

	open_json_array("zones");
	for (int i = 0; i < st->nzones; i++)
		if ((int)strlen(st->zones[i].name) > zw)
			zw = strlen(st->zones[i].name);
	if (st->nzones) {
		print_text("\n%4s %-*s", "node", zw, "zone");
		for (int f = 0; f < n_zone_fields; f++)
			print_text(" %10s", zone_fields[f].name);
		print_text("\n");
	}
	for (int i = 0; i < st->nzones; i++) {
		const struct fphint_zone *z = &st->zones[i];

		open_json_object(NULL);
		print_kv_uint(PRINT_JSON, "node", z->node);
		print_kv_string(PRINT_JSON, "zone", z->name);
		print_text("%4u %-*s", z->node, zw, z->name);
		for (int f = 0; f < n_zone_fields; f++) {
			int a = zone_fields[f].attr;
			int w = strlen(zone_fields[f].name);

			if (z->has[a])
				print_kv_uint(PRINT_JSON, zone_fields[f].name, z->val[a]);
			if (z->has[a])
				print_text(" %*llu", w < 10 ? 10 : w, (unsigned long long)z->val[a]);
			else
				print_text(" %*s", w < 10 ? 10 : w, "-");
		}
		print_text("\n");
		close_json_object();
	}
	close_json_array();
}

/*
 * Counters then gauges, then a table of zones.  Watching, text gets a
 * column of per-second rates (counters only) against the previous sample.
 */
void show_stats(const struct fphint_stats *st, const struct fphint_stats *prev,
		double secs, bool watch)
{
	char buf[64];

	print_layout(0, stats_width(), false);
	for (int i = 0; i < FPHINT_STAT_NR; i++) {
		unsigned long long v = st->counter[i];

		if (!st->has_counter[i])
			continue;
		print_kv_uint(PRINT_JSON, stat_names[i], v);
		if (!watch)
			snprintf(buf, sizeof(buf), "%llu", v);
		else if (prev && prev->has_counter[i] && secs > 0 && v >= prev->counter[i])
			snprintf(buf, sizeof(buf), "%15llu %14.1f/s", v,
				 (v - prev->counter[i]) / secs);
		else
			snprintf(buf, sizeof(buf), "%15llu", v);
		print_kv_string(PRINT_TEXT, stat_names[i], buf);
	}
	for (int i = 0; i < n_stat_gauges; i++) {
		int a = stat_gauges[i].attr;
		unsigned long long v = st->gauge[a];

		if (!st->has_gauge[a])
			continue;
		print_kv_uint(PRINT_JSON, stat_gauges[i].name, v);
		snprintf(buf, sizeof(buf), watch ? "%15llu" : "%llu", v);
		print_kv_string(PRINT_TEXT, stat_gauges[i].name, buf);
	}
	show_zones(st);
}

/* One line (text) or one object (JSON) per event, flushed at once. */
void show_event(int cmd, const void *event)
{
	open_json_object(NULL);
	print_layout(0, 0, true);
	if (cmd == FPHINT_CMD_CONFIG_NTF) {
		print_kv_string(PRINT_JSON, "event", "config");
		print_text("[config]");
		show_config(event, false);
	} else {
		const struct fphint_throttle_event *ev = event;

		print_kv_string(PRINT_JSON, "event", "throttle");
		print_text("[throttle]");
		if (ev->has_throttled)
			print_kv_uint(PRINT_ANY, "throttled", ev->throttled);
		if (ev->reason[0])
			print_kv_string(PRINT_ANY, "reason", ev->reason);
		if (ev->has_zone) {
			print_kv_uint(PRINT_ANY, "node", ev->zone.node);
			print_kv_string(PRINT_ANY, "zone", ev->zone.name);
		}
	}
	print_text("\n");
	close_json_object();
}
