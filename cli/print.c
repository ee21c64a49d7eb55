// SPDX-License-Identifier: GPL-2.0
/*
 * One output layer for text and JSON, after iproute2's json_print: callers
 * say what a value is called and what it is; text mode lays it out as
 * aligned "key value" lines (or "key value" pairs on one line), JSON mode
 * adds it to the object or array being built and prints the whole document
 * when the outermost container closes.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <json-c/json.h>

#include "fphintctl.h"

#define JSON_DEPTH	8

static struct {
	bool json, pretty;
	struct json_object *stack[JSON_DEPTH];
	int depth;
	int indent, width;
	bool inline_kv;
} pr = { .width = 16 };

void print_init(bool json, bool pretty)
{
	pr.json = json;
	pr.pretty = pretty;
}

bool is_json(void)
{
	return pr.json;
}

bool is_pretty(void)
{
	return pr.json && pr.pretty;
}

/* Text layout: lines "<indent><key padded to width>  value", or " key value". */
void print_layout(int indent, int width, bool inline_kv)
{
	pr.indent = indent;
	pr.width = width;
	pr.inline_kv = inline_kv;
}

static bool want(enum print_type t)
{
	return t == PRINT_ANY || (t == PRINT_JSON) == pr.json;
}

static void json_add(const char *key, struct json_object *o)
{
	struct json_object *parent;

	assert(pr.depth > 0);
	parent = pr.stack[pr.depth - 1];
	if (json_object_is_type(parent, json_type_array))
		json_object_array_add(parent, o);
	else
		json_object_object_add(parent, key, o);
}

static void json_open(const char *key, struct json_object *o)
{
	assert(pr.depth < JSON_DEPTH);
	if (pr.depth)
		json_add(key, o);
	pr.stack[pr.depth++] = o;
}

static void json_close(void)
{
	int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

	assert(pr.depth > 0);
	if (--pr.depth)
		return;
	flags |= pr.pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED :
			     JSON_C_TO_STRING_PLAIN;
	puts(json_object_to_json_string_ext(pr.stack[0], flags));
	json_object_put(pr.stack[0]);
	fflush(stdout);
}

void open_json_object(const char *key)
{
	if (pr.json)
		json_open(key, json_object_new_object());
}

void close_json_object(void)
{
	if (pr.json)
		json_close();
	else
		fflush(stdout);
}

void open_json_array(const char *key)
{
	if (pr.json)
		json_open(key, json_object_new_array());
}

void close_json_array(void)
{
	if (pr.json)
		json_close();
}

void print_text(const char *fmt, ...)
{
	va_list ap;

	if (pr.json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static void text_kv(const char *key, const char *val)
{
	if (pr.inline_kv)
		printf(" %s %s", key, val);
	else
		printf("%*s%-*s  %s\n", pr.indent, "", pr.width, key, val);
}

void print_kv_uint(enum print_type t, const char *key, uint64_t v)
{
	char buf[24];

	if (!want(t))
		return;
	if (pr.json) {
		json_add(key, json_object_new_uint64(v));
		return;
	}
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	text_kv(key, buf);
}

void print_kv_int(enum print_type t, const char *key, int64_t v)
{
	char buf[24];

	if (!want(t))
		return;
	if (pr.json) {
		json_add(key, json_object_new_int64(v));
		return;
	}
	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	text_kv(key, buf);
}

/* NULL is JSON null and "-" in text. */
void print_kv_string(enum print_type t, const char *key, const char *s)
{
	if (!want(t))
		return;
	if (pr.json)
		json_add(key, s ? json_object_new_string(s) : NULL);
	else
		text_kv(key, s ? s : "-");
}

void print_kv_bool(enum print_type t, const char *key, bool v)
{
	if (!want(t))
		return;
	if (pr.json)
		json_add(key, json_object_new_boolean(v));
	else
		text_kv(key, v ? "yes" : "no");
}

void print_kv_null(enum print_type t, const char *key, const char *text)
{
	if (!want(t))
		return;
	if (pr.json)
		json_add(key, NULL);
	else
		text_kv(key, text);
}

/* A JSON array of strings; a space separated list in text. */
void print_kv_strv(enum print_type t, const char *key, const char *const *v, int n)
{
	char buf[1024] = "";
	size_t len = 0;

	if (!want(t))
		return;
	if (pr.json) {
		struct json_object *a = json_object_new_array();

		for (int i = 0; i < n; i++)
			json_object_array_add(a, json_object_new_string(v[i]));
		json_add(key, a);
		return;
	}
	for (int i = 0; i < n && len < sizeof(buf); i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? " " : "", v[i]);
	text_kv(key, n ? buf : "-");
}

