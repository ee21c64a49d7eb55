// SPDX-License-Identifier: GPL-2.0
/*
 * fphintctl: show and change fphint's configuration, statistics and
 * profiles through its generic netlink family, and look at a guest from
 * the host through QMP and the guest agent.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fphintctl.h"

#ifndef FPHINTCTL_VERSION
#define FPHINTCTL_VERSION "1.0"
#endif

/* Where pr_err() and pr_warn() go while one VM of several is read. */
static struct {
	char *buf;		/* the first error, instead of stderr */
	size_t len;
	const char *context;	/* "Warning: CONTEXT: ..." */
	bool quiet;		/* no warnings */
} pr_to;

void pr_capture(char *buf, size_t len, const char *context, bool quiet)
{
	pr_to.buf = buf;
	pr_to.len = len;
	pr_to.context = context;
	pr_to.quiet = quiet;
	if (buf)
		*buf = '\0';
}

/* "Error: ..." or "Warning: ..." on stderr, after what stdout already has. */
static void pr_prefixed(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs(prefix, stderr);
	if (pr_to.context)
		fprintf(stderr, "%s: ", pr_to.context);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void pr_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (!pr_to.buf)
		pr_prefixed("Error: ", fmt, ap);
	else if (!*pr_to.buf)
		vsnprintf(pr_to.buf, pr_to.len, fmt, ap);
	va_end(ap);
}

void pr_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (!pr_to.quiet)
		pr_prefixed("Warning: ", fmt, ap);
	va_end(ap);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: fphintctl [OPTIONS] COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  status                        configuration, stages, tunables\n"
		"  stats [--watch SECONDS [--count N]]\n"
		"                                counters, gauges, zones\n"
		"  set KEY=VALUE...              change any of: enabled, stages, tunables\n"
		"  set-policy NAME|FILE          apply a profile\n"
		"  policy list                   profiles on the search path\n"
		"  policy show NAME|FILE         a profile and what it would apply\n"
		"  monitor [--count N]           print configuration and throttle events\n"
		"  host VMS stats                QEMU's view of guests (RSS, balloon)\n"
		"  host VMS export [--textfile FILE.prom | --listen ADDR:PORT]\n"
		"                                the same in Prometheus text format\n"
		"  host VMS set-policy NAME|FILE [--timeout S]\n"
		"  host VMS set KEY=VALUE... [--timeout S]\n"
		"                                policy carried by the patched balloon\n"
		"      VMS: any of --qmp SOCKET (repeatable), --qmp-dir DIR, --libvirt URI\n"
		"  host --qga SOCKET set-policy NAME\n"
		"  host --qga SOCKET status      run fphintctl in the guest via qemu-ga\n"
		"\n"
		"Options:\n"
		"  -j, --json      JSON output\n"
		"  -p, --pretty    indent JSON output\n"
		"  -h, --help      this help\n"
		"  -V, --version   print the version\n"
		"\n"
		"Keys:");
	for (int k = 0; k < KEY_NR; k++)
		fprintf(f, "%s%s", k % 6 ? " " : "\n  ", keys[k].name);
	fprintf(f, "\n");
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("Error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'fphintctl --help'.\n", stderr);
	return EXIT_USAGE;
}

/* "--opt N" or "--opt=N" at argv[*i]; N in [min, max]. */
static int opt_uint(int argc, char **argv, int *i, const char *opt, uint32_t min,
		    uint32_t max, uint32_t *v)
{
	size_t n = strlen(opt);
	const char *val;

	if (strncmp(argv[*i], opt, n) || (argv[*i][n] && argv[*i][n] != '='))
		return 0;
	if (argv[*i][n] == '=')
		val = argv[*i] + n + 1;
	else if (*i + 1 < argc)
		val = argv[++*i];
	else
		return -usage_error("%s needs a value", opt);
	if (!parse_u32(val, v) || *v < min || *v > max)
		return -usage_error("%s: '%s' is not a number in %u..%u", opt, val, min, max);
	return 1;
}

static int cmd_status(int argc, char **argv)
{
	struct fphint_config cfg;
	struct fnl *nl;
	int ret;

	(void)argv;
	if (argc > 1)
		return usage_error("status takes no arguments");
	nl = fnl_open();
	if (!nl)
		return EXIT_SYSTEM;
	ret = fnl_config_get(nl, &cfg);
	fnl_close(nl);
	if (ret)
		return ret;
	show_status(&cfg);
	return 0;
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static int cmd_stats(int argc, char **argv, bool json)
{
	uint32_t interval = 0, count = 0;
	struct fphint_stats st[2];
	struct timespec t[2], next;
	struct fnl *nl;
	int i, r, ret = 0;

	for (i = 1; i < argc; i++) {
		if ((r = opt_uint(argc, argv, &i, "--watch", 1, 3600, &interval)) ||
		    (r = opt_uint(argc, argv, &i, "--count", 1, UINT32_MAX, &count))) {
			if (r < 0)
				return -r;
			continue;
		}
		return usage_error("stats: unknown argument '%s'", argv[i]);
	}
	if (count && !interval)
		return usage_error("stats: --count needs --watch");
	nl = fnl_open();
	if (!nl)
		return EXIT_SYSTEM;
	if (!interval) {
		ret = fnl_stats_get(nl, &st[0]);
		if (!ret) {
			open_json_object(NULL);
			show_stats(&st[0], NULL, 0, false);
			close_json_object();
		}
		fnl_close(nl);
		return ret;
	}
	/* one compact object per line per sample */
	print_init(json, false);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint32_t n = 0; !count || n < count; n++) {
		int cur = n & 1;

		if (n) {
			next.tv_sec += interval;
			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
				;
		}
		ret = fnl_stats_get(nl, &st[cur]);
		if (ret)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t[cur]);
		open_json_object(NULL);
		if (json) {
			struct timespec now;

			clock_gettime(CLOCK_REALTIME, &now);
			print_kv_uint(PRINT_JSON, "timestamp_ms",
				      now.tv_sec * 1000ULL + now.tv_nsec / 1000000);
		}
		if (n)
			print_text("\n");
		show_stats(&st[cur], n ? &st[!cur] : NULL, n ? elapsed(&t[!cur], &t[cur]) : 0,
			   true);
		close_json_object();
	}
	fnl_close(nl);
	return ret;
}

static int cmd_set(int argc, char **argv)
{
	struct settings s = { 0 };
	char err[160];
	struct fnl *nl;
	int ret;

	if (argc < 2)
		return usage_error("set: expected KEY=VALUE...");
	for (int i = 1; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq)
			return usage_error("%s: expected KEY=VALUE", argv[i]);
		*eq = '\0';
		if (settings_add(&s, argv[i], eq + 1, 0, err, sizeof(err)) < 0) {
			pr_err("%s: %s", argv[i], err);
			return EXIT_USAGE;
		}
	}
	nl = fnl_open();
	if (!nl)
		return EXIT_SYSTEM;
	ret = fnl_config_set(nl, &s);
	fnl_close(nl);
	return ret;
}

static int cmd_set_policy(int argc, char **argv)
{
	char name[FPHINT_POLICY_NAME_MAX];
	struct settings s;
	struct fnl *nl;
	int ret;

	if (argc != 2)
		return usage_error("set-policy: expected NAME or FILE");
	ret = profile_load(argv[1], name, sizeof(name), &s);
	if (ret)
		return ret;
	nl = fnl_open();
	if (!nl)
		return EXIT_SYSTEM;
	ret = fnl_policy_set(nl, name, &s);
	fnl_close(nl);
	return ret;
}

static int cmd_monitor(int argc, char **argv, bool json)
{
	uint32_t count = 0;
	int r;

	for (int i = 1; i < argc; i++) {
		if ((r = opt_uint(argc, argv, &i, "--count", 1, UINT32_MAX, &count))) {
			if (r < 0)
				return -r;
			continue;
		}
		return usage_error("monitor: unknown argument '%s'", argv[i]);
	}
	print_init(json, false);
	return fnl_monitor(count, show_event);
}

/* Hidden helpers for the bash completion, so it lists nothing itself. */
static int cmd_internal(int argc, char **argv)
{
	if (!strcmp(argv[0], "__keys")) {
		for (int k = 0; k < KEY_NR; k++)
			puts(keys[k].name);
	} else if (!strcmp(argv[0], "__stages")) {
		for (int i = 0; i < STAGE_NR; i++)
			for (int j = 0; stages[i].builtin[j]; j++)
				if (argc < 2 || !strcmp(argv[1], stages[i].name))
					puts(stages[i].builtin[j]);
	} else if (!strcmp(argv[0], "__policies")) {
		policy_print_names();
	} else {
		return usage_error("unknown command '%s'", argv[0]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	bool json = false, pretty = false;
	const char *cmd;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+jphV", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'p':
			pretty = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("fphintctl %s (netlink family %s version %d)\n", FPHINTCTL_VERSION,
			       FPHINT_GENL_NAME, FPHINT_GENL_VERSION);
			return 0;
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error("no command given");
	print_init(json, pretty);
	argc -= optind;
	argv += optind;
	cmd = argv[0];

	if (!strcmp(cmd, "status"))
		return cmd_status(argc, argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(argc, argv, json);
	if (!strcmp(cmd, "set"))
		return cmd_set(argc, argv);
	if (!strcmp(cmd, "set-policy"))
		return cmd_set_policy(argc, argv);
	if (!strcmp(cmd, "policy"))
		return cmd_policy(argc, argv);
	if (!strcmp(cmd, "monitor"))
		return cmd_monitor(argc, argv, json);
	if (!strcmp(cmd, "host"))
		return cmd_host(argc, argv);
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strncmp(cmd, "__", 2))
		return cmd_internal(argc, argv);
	return usage_error("unknown command '%s'", cmd);
}
