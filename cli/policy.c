// SPDX-License-Identifier: GPL-2.0
/*
 * Profiles: NAME.policy files of "key = value" lines on a search path,
 * validated completely here so the kernel only ever sees a good one.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fphintctl.h"

#define POLICY_PATH_DEFAULT	"/etc/fphint/policies:/usr/share/fphint/policies"
#define POLICY_SUFFIX		".policy"
#define POLICY_LINE_MAX		256		/* characters */
#define POLICY_FILE_MAX		(64 * 1024)	/* bytes */

struct profile {
	char name[FPHINT_POLICY_NAME_MAX];
	char path[PATH_MAX];
	char desc[POLICY_FILE_MAX];	/* leading comment block, lines joined by \n */
	struct settings set;
	char err[PATH_MAX + 512];	/* "FILE:LINE: KEY: message" */
};

static const char *search_path(void)
{
	const char *p = getenv("FPHINT_POLICY_PATH");

	return p ? p : POLICY_PATH_DEFAULT;
}

static int perr(struct profile *p, int line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int perr(struct profile *p, int line, const char *key, const char *fmt, ...)
{
	size_t n;
	va_list ap;

	n = snprintf(p->err, sizeof(p->err), "%s:", p->path);
	if (line)
		n += snprintf(p->err + n, sizeof(p->err) - n, "%d:", line);
	if (key)
		n += snprintf(p->err + n, sizeof(p->err) - n, " %s:", key);
	n += snprintf(p->err + n, sizeof(p->err) - n, " ");
	va_start(ap, fmt);
	vsnprintf(p->err + n, sizeof(p->err) - n, fmt, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/* Number of characters in a valid UTF-8 string, -1 if it is not one. */
static int utf8_chars(const unsigned char *s, size_t len)
{
	int chars = 0;

	for (size_t i = 0; i < len; chars++) {
		unsigned int c = s[i], cp, n;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1, cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2, cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3, cp = c & 0x07;
		} else {
			return -1;
		}
		if (i + n >= len)
			return -1;
		for (unsigned int j = 1; j <= n; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return -1;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		/* overlong, surrogate, beyond U+10FFFF */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return -1;
		i += n + 1;
	}
	return chars;
}

static char *trim(char *s)
{
	char *e = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/*
 * The description is the first block of comment lines, after any SPDX
 * line and blank lines; it ends at the first blank or key line.
 */
enum { DESC_BEFORE, DESC_IN, DESC_DONE };

static void desc_line(struct profile *p, int *state, const char *text)
{
	size_t n = strlen(p->desc);

	if (*state == DESC_DONE)
		return;
	if (*state == DESC_BEFORE) {
		if (!*text || !strncmp(text, "SPDX-License-Identifier:", 24))
			return;
		*state = DESC_IN;
	}
	snprintf(p->desc + n, sizeof(p->desc) - n, "%s%s", n ? "\n" : "", text);
}

static int parse_line(struct profile *p, int lineno, char *line, int *desc)
{
	char err[160], *t = trim(line), *eq, *key;

	if (!*t) {
		if (*desc == DESC_IN)
			*desc = DESC_DONE;
		return 0;
	}
	if (*t == '#') {
		desc_line(p, desc, trim(t + 1));
		return 0;
	}
	*desc = DESC_DONE;
	eq = strchr(t, '=');
	if (!eq) {
		t[strcspn(t, " \t")] = '\0';
		return perr(p, lineno, t, "missing '='");
	}
	*eq = '\0';
	key = trim(t);
	if (!*key)
		return perr(p, lineno, NULL, "missing key before '='");
	if (settings_add(&p->set, key, trim(eq + 1), lineno, err, sizeof(err)) < 0)
		return perr(p, lineno, key, "%s", err);
	return 0;
}

static int profile_parse(struct profile *p)
{
	static char buf[POLICY_FILE_MAX + 1];
	char line[POLICY_LINE_MAX * 4 + 1];
	int fd, lineno = 0, desc = DESC_BEFORE, ret = 0;
	size_t len = 0;
	ssize_t r;
	struct stat sb;

	memset(&p->set, 0, sizeof(p->set));
	p->desc[0] = p->err[0] = '\0';
	fd = open(p->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &sb) && S_ISDIR(sb.st_mode)) {
		close(fd);
		fd = -1;
		errno = EISDIR;
	}
	if (fd < 0) {
		int e = errno;

		perr(p, 0, NULL, "%s", strerror(e));
		return e == ENOENT || e == EISDIR ? EXIT_USAGE : EXIT_SYSTEM;
	}
	while (len < sizeof(buf) && (r = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			perr(p, 0, NULL, "%s", strerror(errno));
			return EXIT_SYSTEM;
		}
		len += r;
	}
	close(fd);
	if (len > POLICY_FILE_MAX)
		return perr(p, 0, NULL, "file larger than %d bytes", POLICY_FILE_MAX);

	/* a UTF-8 byte order mark is not part of the first line */
	for (size_t pos = len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) ? 3 : 0; pos < len && !ret;) {
		char *s = buf + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		int chars;

		pos += n + 1;
		lineno++;
		if (n && s[n - 1] == '\r')	/* CRLF */
			n--;
		if (memchr(s, '\0', n))
			return perr(p, lineno, NULL, "NUL byte");
		chars = utf8_chars((unsigned char *)s, n);
		if (chars < 0)
			return perr(p, lineno, NULL, "not valid UTF-8");
		if (chars > POLICY_LINE_MAX)
			return perr(p, lineno, NULL, "line longer than %d characters",
				    POLICY_LINE_MAX);
		memcpy(line, s, n);
		line[n] = '\0';
		ret = parse_line(p, lineno, line, &desc);
	}
	/* "#" lines separate paragraphs, none ends the description */
	for (len = strlen(p->desc); len && p->desc[len - 1] == '\n';)
		p->desc[--len] = '\0';
	return ret;
}

/* NAME from FILE: its base name without ".policy", which must be a valid name. */
static int name_from_path(struct profile *p)
{
	const char *b = strrchr(p->path, '/');
	size_t n, sl = strlen(POLICY_SUFFIX);

	b = b ? b + 1 : p->path;
	n = strlen(b);
	if (n > sl && !strcmp(b + n - sl, POLICY_SUFFIX))
		n -= sl;
	if (n >= sizeof(p->name))
		n = sizeof(p->name) - 1;
	memcpy(p->name, b, n);
	p->name[n] = '\0';
	if (!policy_name_valid(p->name) || strlen(b) - n != sl)
		return perr(p, 0, NULL,
			    "a profile file is named NAME.policy, NAME [a-z0-9][a-z0-9_-]{0,%d}",
			    FPHINT_POLICY_NAME_MAX - 2);
	if (!strcmp(p->name, FPHINT_POLICY_CUSTOM))
		return perr(p, 0, NULL, "'%s' is reserved: the kernel reports it after any change",
			    FPHINT_POLICY_CUSTOM);
	return 0;
}

/* NAME on the search path (first directory wins) or a FILE (has a '/'). */
static int profile_find(const char *arg, struct profile *p)
{
	char *dirs, *dir, *save;

	if (strchr(arg, '/')) {
		snprintf(p->path, sizeof(p->path), "%s", arg);
		return name_from_path(p);
	}
	if (!policy_name_valid(arg) || !strcmp(arg, FPHINT_POLICY_CUSTOM)) {
		snprintf(p->err, sizeof(p->err),
			 "'%s' is not a policy name ([a-z0-9][a-z0-9_-]{0,%d}, not '%s')", arg,
			 FPHINT_POLICY_NAME_MAX - 2, FPHINT_POLICY_CUSTOM);
		return EXIT_USAGE;
	}
	dirs = strdup(search_path());
	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(p->path, sizeof(p->path), "%s/%s%s", dir, arg, POLICY_SUFFIX);
		if (!access(p->path, F_OK))
			break;
	}
	free(dirs);
	if (!dir) {
		snprintf(p->err, sizeof(p->err), "policy '%s' not found in %s", arg,
			 search_path());
		return EXIT_USAGE;
	}
	snprintf(p->name, sizeof(p->name), "%s", arg);
	return 0;
}

static int profile_open(const char *arg, struct profile *p)
{
	int ret = profile_find(arg, p);

	if (!ret)
		ret = profile_parse(p);
	if (ret)
		pr_err("%s", p->err);
	return ret;
}

int profile_load(const char *arg, char *name, size_t namelen, struct settings *s)
{
	static struct profile p;
	int ret = profile_open(arg, &p);

	if (!ret) {
		snprintf(name, namelen, "%s", p.name);
		*s = p.set;
	}
	return ret;
}

struct entry {
	char name[FPHINT_POLICY_NAME_MAX];
	char path[PATH_MAX];
};

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

/* Every NAME.policy on the search path, once (first directory wins), sorted. */
static struct entry *profile_scan(int *count)
{
	struct entry *e = NULL;
	char *dirs = strdup(search_path()), *dir, *save;
	int n = 0;

	for (dir = strtok_r(dirs, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		DIR *d = opendir(dir);
		struct dirent *de;

		while (d && (de = readdir(d))) {
			size_t len = strlen(de->d_name), sl = strlen(POLICY_SUFFIX);
			char name[FPHINT_POLICY_NAME_MAX];
			bool dup = false;

			if (len <= sl || len - sl >= sizeof(name) ||
			    strcmp(de->d_name + len - sl, POLICY_SUFFIX))
				continue;
			memcpy(name, de->d_name, len - sl);
			name[len - sl] = '\0';
			if (!policy_name_valid(name) || !strcmp(name, FPHINT_POLICY_CUSTOM))
				continue;
			for (int i = 0; i < n && !dup; i++)
				dup = !strcmp(e[i].name, name);
			if (dup || !(e = realloc(e, (n + 1) * sizeof(*e))))
				continue;
			strcpy(e[n].name, name);
			snprintf(e[n].path, sizeof(e[n].path), "%s/%s", dir, de->d_name);
			n++;
		}
		if (d)
			closedir(d);
	}
	free(dirs);
	if (e)
		qsort(e, n, sizeof(*e), entry_cmp);
	*count = n;
	return e;
}

void policy_print_names(void)
{
	int n;
	struct entry *e = profile_scan(&n);

	for (int i = 0; i < n; i++)
		puts(e[i].name);
	free(e);
}

static int policy_list(void)
{
	static struct profile p;
	int n, nw = 4, fw = 4;
	struct entry *e = profile_scan(&n);

	for (int i = 0; i < n; i++) {
		if ((int)strlen(e[i].name) > nw)
			nw = strlen(e[i].name);
		if ((int)strlen(e[i].path) > fw)
			fw = strlen(e[i].path);
	}
	open_json_array(NULL);
	for (int i = 0; i < n; i++) {
		snprintf(p.path, sizeof(p.path), "%s", e[i].path);
		profile_parse(&p);
		p.desc[strcspn(p.desc, "\n")] = '\0';

		open_json_object(NULL);
		print_kv_string(PRINT_JSON, "name", e[i].name);
		print_kv_string(PRINT_JSON, "file", e[i].path);
		print_kv_string(PRINT_JSON, "description", p.desc);
		if (p.err[0])
			print_kv_string(PRINT_JSON, "error", p.err);
		print_text("%-*s  %-*s  %s%s%s\n", nw, e[i].name, fw, e[i].path,
			   p.err[0] ? "INVALID: " : "", p.err[0] ? p.err : p.desc,
			   p.err[0] || p.desc[0] ? "" : "-");
		close_json_object();
	}
	close_json_array();
	free(e);
	return 0;
}

static void show_value(const struct settings *s, int k)
{
	if (keys[k].kind == KEY_STAGE)
		print_kv_string(PRINT_ANY, keys[k].name, s->str[k]);
	else
		print_kv_uint(PRINT_ANY, keys[k].name, s->num[k]);
}

static int policy_show(const char *arg)
{
	static struct profile p;
	char *line, *save;
	bool given = false;
	int ret = profile_open(arg, &p);

	if (ret)
		return ret;
	open_json_object(NULL);
	print_layout(0, 11, false);
	print_kv_string(PRINT_ANY, "name", p.name);
	print_kv_string(PRINT_ANY, "file", p.path);
	print_kv_string(PRINT_JSON, "description", p.desc);
	save = p.desc;
	line = strsep(&save, "\n");
	print_kv_string(PRINT_TEXT, "description", *line ? line : "-");
	while ((line = strsep(&save, "\n")))
		print_text("%*s%s\n", *line ? 13 : 0, "", line);

	print_text("\nsettings:\n");
	print_layout(2, key_width(), false);
	open_json_object("settings");
	for (int k = 0; k < KEY_NR; k++) {
		if (p.set.given[k])
			show_value(&p.set, k);
		given |= p.set.given[k];
	}
	if (!given)
		print_text("  (none)\n");
	close_json_object();

	/* what POLICY_SET does with what the profile leaves out */
	print_text("\neffective:\n");
	open_json_object("effective");
	for (int k = 0; k < KEY_NR; k++) {
		const struct key_desc *d = &keys[k];

		if (d->kind == KEY_HOST_POLICY)
			continue;
		if (p.set.given[k])
			show_value(&p.set, k);
		else if (d->kind == KEY_STAGE && d->idx == STAGE_TRANSPORT)
			print_kv_null(PRINT_ANY, d->name, "(unchanged)");
		else if (d->kind == KEY_STAGE)
			print_kv_string(PRINT_ANY, d->name, stages[d->idx].def);
		else
			print_kv_uint(PRINT_ANY, d->name, d->def);
	}
	close_json_object();
	close_json_object();
	return 0;
}

int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		if (argc == 2)
			return policy_list();
		pr_err("policy list takes no arguments");
		return EXIT_USAGE;
	}
	if (argc >= 2 && !strcmp(argv[1], "show")) {
		if (argc == 3)
			return policy_show(argv[2]);
		pr_err("policy show: expected NAME or FILE");
		return EXIT_USAGE;
	}
	if (argc == 2 && !strcmp(argv[1], "help")) {
		printf("Usage: fphintctl policy list\n"
		       "       fphintctl policy show NAME|FILE\n");
		return 0;
	}
	pr_err("usage: fphintctl policy { list | show NAME|FILE }");
	return EXIT_USAGE;
}
