/* dsp_plan.c - see dsp_plan.h; the format is docs/plans.md. */
#include "dsp_plan.h"
#include "incident.h"
#include "srv_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The most bytes dsp_plans_load() reads. 200 plans of seven full lines are
 * 1.4 MB; anything far beyond that is not a plan file (a log, a core, a
 * device), and refusing it keeps a mistyped path from eating the memory.
 */
#define DSP_FILE_MAX (8 << 20)

/* The condition keys of a `when` line, as bits so a repeated key is seen. */
enum { K_LINE = 1 << 0, K_CATEGORY = 1 << 1, K_TYPE = 1 << 2, K_PRIORITY = 1 << 3,
	K_DISTRICT = 1 << 4 };

/*
 * Parse state. The plan being read is always the last one in ps; in_plan
 * says whether there is one yet. when_line and ack_line remember where the
 * current plan's `when` and `ack` were, for the "given twice" messages.
 */
struct parser {
	struct dsp_plans *ps;
	int cap;        /* slots allocated in ps->plans */
	int lineno;
	int in_plan;
	int when_line, ack_line;
	char *err;
};

/* Set the error for line `lineno` and return -1 (the only way parsing fails). */
static int __attribute__((format(printf, 3, 4)))
fail_at(struct parser *p, int lineno, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	p->err = xasprintf("line %d: %s", lineno, msg);
	free(msg);
	return -1;
}

#define fail(p, ...) fail_at((p), (p)->lineno, __VA_ARGS__)

static struct dsp_plan *
cur_plan(struct parser *p)
{
	return &p->ps->plans[p->ps->n - 1];
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The next blank-separated word of *pos, NUL-terminated in place; NULL at the end. */
static char *
token(char **pos)
{
	char *s = *pos;
	while (is_blank(*s))
		s++;
	if (*s == '\0') {
		*pos = s;
		return NULL;
	}
	char *t = s;
	while (*s && !is_blank(*s))
		s++;
	if (*s)
		*s++ = '\0';
	*pos = s;
	return t;
}

static char *
trim(char *s)
{
	while (is_blank(*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && is_blank(e[-1]))
		*--e = '\0';
	return s;
}

/*
 * A small decimal number: digits only, at most six of them (every limit in
 * the format is far below that, so "out of range" needs no overflow care).
 * -1 for anything else.
 */
static int
small_int(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 6 || strspn(s, "0123456789") != n)
		return -1;
	return atoi(s);
}

/*
 * True when s[0..n) is 1..max bytes, each a lower-case ASCII letter, a digit,
 * an upper-case letter when `upper` is set, or one of the bytes in `extra`.
 */
static int
code_ok(const char *s, size_t n, size_t max, int upper, const char *extra)
{
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    (upper && c >= 'A' && c <= 'Z') || (c != '\0' && strchr(extra, c)))
			continue;
		return 0;
	}
	return 1;
}

static void
push_str(char ***arr, int *n, const char *s)
{
	*arr = xrealloc(*arr, (size_t)(*n + 1) * sizeof **arr);
	(*arr)[(*n)++] = xstrdup(s);
}

static int
has_str(char **arr, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(arr[i], s) == 0)
			return 1;
	return 0;
}

/* A plan is complete once it has level 1; called at the next `plan` and at the end. */
static int
finish_plan(struct parser *p)
{
	struct dsp_plan *pl = cur_plan(p);
	if (pl->nlevels == 0)
		return fail_at(p, pl->lineno, "plan \"%s\" has no level 1", pl->id);
	return 0;
}

/* plan ID [display name] */
static int
do_plan(struct parser *p, char *rest)
{
	if (p->in_plan && finish_plan(p) != 0)
		return -1;
	char *id = token(&rest);
	if (id == NULL)
		return fail(p, "plan needs an id");
	if (!code_ok(id, strlen(id), DSP_ID_MAX, 0, "_.-"))
		return fail(p, "plan id \"%s\" must be 1-%d of a-z 0-9 _ . -", id, DSP_ID_MAX);
	for (int i = 0; i < p->ps->n; i++)
		if (strcmp(p->ps->plans[i].id, id) == 0)
			return fail(p, "duplicate plan id \"%s\" (first on line %d)", id,
			    p->ps->plans[i].lineno);
	if (p->ps->n == DSP_PLANS_MAX)
		return fail(p, "more than %d plans", DSP_PLANS_MAX);
	char *name = trim(rest);
	if (strlen(name) > DSP_NAME_MAX)
		return fail(p, "plan name is longer than %d bytes", DSP_NAME_MAX);

	if (p->ps->n == p->cap) {
		p->cap = p->cap ? p->cap * 2 : 16;
		p->ps->plans = xrealloc(p->ps->plans, (size_t)p->cap * sizeof *p->ps->plans);
	}
	struct dsp_plan *pl = &p->ps->plans[p->ps->n++];
	memset(pl, 0, sizeof *pl);
	pl->id = xstrdup(id);
	/* Always its own copy, so freeing never has to ask whether name aliases id. */
	pl->name = xstrdup(*name ? name : id);
	pl->priority_min = 1;
	pl->priority_max = 4;
	pl->ack_seconds = DSP_ACK_DEFAULT;
	pl->lineno = p->lineno;
	p->in_plan = 1;
	p->when_line = p->ack_line = 0;
	return 0;
}

/*
 * One comma list of a `when` condition: each item goes to `item`, which
 * returns 0 or fails itself. Empty items ("119,,120", a trailing comma) are
 * refused: they are always a slip of the pen.
 */
static int
each_item(struct parser *p, const char *key, char *val,
    int (*item)(struct parser *, const char *, char *))
{
	for (;;) {
		char *comma = strchr(val, ',');
		if (comma)
			*comma = '\0';
		if (*val == '\0')
			return fail(p, "empty item in the %s list", key);
		if (item(p, key, val) != 0)
			return -1;
		if (comma == NULL)
			return 0;
		val = comma + 1;
	}
}

static int
line_item(struct parser *p, const char *key, char *v)
{
	struct dsp_plan *pl = cur_plan(p);
	int n = inc_line_parse(v);
	if (n < 0)
		return fail(p, "unknown line \"%s\" (110, 119, 120, 122 or other)", v);
	if (pl->line_mask & (1 << n))
		return fail(p, "line \"%s\" listed twice", v);
	pl->line_mask |= 1 << n;
	return 0;
}

static int
category_item(struct parser *p, const char *key, char *v)
{
	struct dsp_plan *pl = cur_plan(p);
	int n = inc_category_parse(v);
	if (n < 0)
		return fail(p, "unknown category \"%s\"", v);
	if (pl->category_mask & (1 << n))
		return fail(p, "category \"%s\" listed twice", v);
	pl->category_mask |= 1 << n;
	return 0;
}

/*
 * A type code as incidents carry it (letters, digits, . _ : / -, at most
 * INC_TYPE_MAX) or such a code followed by '*' for a prefix. A lone "*"
 * is a prefix too: any incident that has a type at all.
 */
static int
type_item(struct parser *p, const char *key, char *v)
{
	struct dsp_plan *pl = cur_plan(p);
	size_t n = strlen(v);
	int star = v[n - 1] == '*';
	if (!(star && n == 1) && !code_ok(v, n - (size_t)star, INC_TYPE_MAX, 1, "._:/-"))
		return fail(p, "type \"%s\" must be a type code (letters, digits, . _ : / -, "
			       "at most %d) with an optional * at the end", v, INC_TYPE_MAX);
	if (has_str(pl->types, pl->ntypes, v))
		return fail(p, "type \"%s\" listed twice", v);
	push_str(&pl->types, &pl->ntypes, v);
	return 0;
}

static int
district_item(struct parser *p, const char *key, char *v)
{
	struct dsp_plan *pl = cur_plan(p);
	if (!code_ok(v, strlen(v), DSP_DISTRICT_MAX, 1, ""))
		return fail(p, "district \"%s\" must be 1-%d letters or digits", v, DSP_DISTRICT_MAX);
	if (has_str(pl->districts, pl->ndistricts, v))
		return fail(p, "district \"%s\" listed twice", v);
	push_str(&pl->districts, &pl->ndistricts, v);
	return 0;
}

/* N or N-M, each 1..4, N <= M. */
static int
priority_value(struct parser *p, char *v)
{
	struct dsp_plan *pl = cur_plan(p);
	size_t n = strlen(v);
	int ok1 = v[0] >= '1' && v[0] <= '4';
	if (n == 1 && ok1) {
		pl->priority_min = pl->priority_max = v[0] - '0';
		return 0;
	}
	if (n == 3 && ok1 && v[1] == '-' && v[2] >= '1' && v[2] <= '4') {
		if (v[0] > v[2])
			return fail(p, "priority range \"%s\" runs backwards", v);
		pl->priority_min = v[0] - '0';
		pl->priority_max = v[2] - '0';
		return 0;
	}
	return fail(p, "priority \"%s\" must be N or N-M, from 1 to 4", v);
}

/* when key=value ...: all conditions must hold; no `when` (or an empty one) matches all. */
static int
do_when(struct parser *p, char *rest)
{
	struct dsp_plan *pl = cur_plan(p);
	if (p->when_line)
		return fail(p, "second \"when\" in plan \"%s\" (the first is on line %d)", pl->id,
		    p->when_line);
	p->when_line = p->lineno;
	int seen = 0;
	char *tok;
	while ((tok = token(&rest)) != NULL) {
		char *eq = strchr(tok, '=');
		if (eq == NULL)
			return fail(p, "condition \"%s\" is not key=value", tok);
		*eq = '\0';
		char *val = eq + 1;
		int bit;
		if (strcmp(tok, "line") == 0)
			bit = K_LINE;
		else if (strcmp(tok, "category") == 0)
			bit = K_CATEGORY;
		else if (strcmp(tok, "type") == 0)
			bit = K_TYPE;
		else if (strcmp(tok, "priority") == 0)
			bit = K_PRIORITY;
		else if (strcmp(tok, "district") == 0)
			bit = K_DISTRICT;
		else
			return fail(p, "unknown condition \"%s\" (line, category, type, priority or "
				       "district)", tok);
		if (seen & bit)
			return fail(p, "condition \"%s\" given twice", tok);
		seen |= bit;
		if (*val == '\0')
			return fail(p, "condition \"%s\" has no value", tok);
		int rc;
		switch (bit) {
		case K_LINE:
			rc = each_item(p, tok, val, line_item);
			break;
		case K_CATEGORY:
			rc = each_item(p, tok, val, category_item);
			break;
		case K_TYPE:
			rc = each_item(p, tok, val, type_item);
			break;
		case K_DISTRICT:
			rc = each_item(p, tok, val, district_item);
			break;
		default:
			rc = priority_value(p, val);
			break;
		}
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* agency:kind[*count], added to level lv unless it is already there. */
static int
parse_need(struct parser *p, struct dsp_level *lv, const char *tok)
{
	const char *colon = strchr(tok, ':');
	if (colon == NULL)
		return fail(p, "need \"%s\" is not agency:kind or agency:kind*count", tok);
	size_t alen = (size_t)(colon - tok);
	if (!code_ok(tok, alen, DSP_AGENCY_MAX, 0, "_"))
		return fail(p, "agency in \"%s\" must be 1-%d of a-z 0-9 _", tok, DSP_AGENCY_MAX);
	const char *kind = colon + 1, *star = strchr(kind, '*');
	size_t klen = star ? (size_t)(star - kind) : strlen(kind);
	if (!code_ok(kind, klen, DSP_KIND_MAX, 0, "_"))
		return fail(p, "kind in \"%s\" must be 1-%d of a-z 0-9 _", tok, DSP_KIND_MAX);
	int count = 1;
	if (star) {
		count = small_int(star + 1);
		if (count < 1 || count > DSP_COUNT_MAX)
			return fail(p, "count in \"%s\" must be 1-%d", tok, DSP_COUNT_MAX);
	}
	struct dsp_need nd = { .count = count };
	memcpy(nd.agency, tok, alen);
	memcpy(nd.kind, kind, klen);
	for (int i = 0; i < lv->nneeds; i++)
		if (strcmp(lv->needs[i].agency, nd.agency) == 0 &&
		    strcmp(lv->needs[i].kind, nd.kind) == 0)
			return fail(p, "%s:%s listed twice in level %d", nd.agency, nd.kind,
			    lv->level);
	lv->needs = xrealloc(lv->needs, (size_t)(lv->nneeds + 1) * sizeof *lv->needs);
	lv->needs[lv->nneeds++] = nd;
	return 0;
}

/*
 * level N need...: levels come 1, 2, 3... without gaps, so that "escalate
 * one level" always has a next level until the highest, and dsp_plan_level
 * can index levels[] directly.
 */
static int
do_level(struct parser *p, char *rest)
{
	struct dsp_plan *pl = cur_plan(p);
	char *ns = token(&rest);
	if (ns == NULL)
		return fail(p, "level needs a number");
	int n = small_int(ns);
	if (n < 1 || n > DSP_LEVELS_MAX)
		return fail(p, "level must be 1-%d, not \"%s\"", DSP_LEVELS_MAX, ns);
	if (n <= pl->nlevels)
		return fail(p, "level %d given twice", n);
	if (n > pl->nlevels + 1) {
		if (pl->nlevels == 0)
			return fail(p, "level %d comes before level 1", n);
		return fail(p, "level %d follows level %d", n, pl->nlevels);
	}
	pl->levels = xrealloc(pl->levels, (size_t)(pl->nlevels + 1) * sizeof *pl->levels);
	struct dsp_level *lv = &pl->levels[pl->nlevels++];
	memset(lv, 0, sizeof *lv);
	lv->level = n;
	char *tok;
	while ((tok = token(&rest)) != NULL)
		if (parse_need(p, lv, tok) != 0)
			return -1;
	if (lv->nneeds == 0)
		return fail(p, "level %d names no needs", n);
	return 0;
}

/* ack SECONDS */
static int
do_ack(struct parser *p, char *rest)
{
	struct dsp_plan *pl = cur_plan(p);
	if (p->ack_line)
		return fail(p, "second \"ack\" in plan \"%s\" (the first is on line %d)", pl->id,
		    p->ack_line);
	p->ack_line = p->lineno;
	char *s = token(&rest);
	if (s == NULL)
		return fail(p, "ack needs a number of seconds");
	int n = small_int(s);
	if (n < DSP_ACK_MIN || n > DSP_ACK_MAX)
		return fail(p, "ack must be %d-%d seconds, not \"%s\"", DSP_ACK_MIN, DSP_ACK_MAX, s);
	char *extra = token(&rest);
	if (extra)
		return fail(p, "unexpected \"%s\" after ack %s", extra, s);
	pl->ack_seconds = n;
	return 0;
}

/*
 * One line of n bytes (newline and a CR before it already removed). The
 * byte checks come first so that a message never quotes a NUL, a control
 * character or broken UTF-8 back at the operator (or into JSON).
 */
static int
read_line(struct parser *p, const char *s, size_t n)
{
	char buf[DSP_LINE_MAX + 1];
	if (n > DSP_LINE_MAX)
		return fail(p, "line is longer than %d bytes", DSP_LINE_MAX);
	if (memchr(s, '\0', n))
		return fail(p, "NUL byte");
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
			return fail(p, "control character 0x%02x", (unsigned)(unsigned char)s[i]);
	if (!srv_utf8_valid(s, n))
		return fail(p, "not valid UTF-8");
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *hash = strchr(buf, '#');
	if (hash)
		*hash = '\0';

	char *rest = buf;
	char *word = token(&rest);
	if (word == NULL)
		return 0;
	if (strcmp(word, "plan") == 0)
		return do_plan(p, rest);
	int (*fn)(struct parser *, char *);
	if (strcmp(word, "when") == 0)
		fn = do_when;
	else if (strcmp(word, "level") == 0)
		fn = do_level;
	else if (strcmp(word, "ack") == 0)
		fn = do_ack;
	else
		return fail(p, "unknown directive \"%s\"", word);
	if (!p->in_plan)
		return fail(p, "\"%s\" before any plan", word);
	return fn(p, rest);
}

int
dsp_plans_parse(const char *text, size_t len, struct dsp_plans **out, char **err)
{
	struct parser p = { .ps = xcalloc(1, sizeof *p.ps) };
	size_t off = 0;
	int rc = 0;
	/* A UTF-8 byte-order mark, as some Windows editors write, is not content. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		off = 3;
	while (rc == 0 && off < len) {
		const char *s = text + off;
		const char *nl = memchr(s, '\n', len - off);
		size_t n = nl ? (size_t)(nl - s) : len - off;
		off += n + (nl != NULL);
		if (n > 0 && s[n - 1] == '\r')
			n--;
		p.lineno++;
		rc = read_line(&p, s, n);
	}
	if (rc == 0 && p.in_plan)
		rc = finish_plan(&p);
	if (rc != 0) {
		dsp_plans_free(p.ps);
		*err = p.err;
		return -1;
	}
	*out = p.ps;
	return 0;
}

int
dsp_plans_load(const char *path, struct dsp_plans **out, char **err)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		*err = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 16384, len = 0, got;
	char *buf = xmalloc(cap);
	while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
		len += got;
		if (len > DSP_FILE_MAX)
			break;
		if (len == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	int rc = -1;
	if (ferror(f))
		*err = xasprintf("%s: %s", path, strerror(errno));
	else if (len > DSP_FILE_MAX)
		*err = xasprintf("%s: larger than %d MiB, not a plan file", path, DSP_FILE_MAX >> 20);
	else
		rc = 0;
	fclose(f);
	if (rc == 0) {
		char *inner = NULL;
		rc = dsp_plans_parse(buf, len, out, &inner);
		if (rc != 0) {
			*err = xasprintf("%s: %s", path, inner);
			free(inner);
		}
	}
	free(buf);
	return rc;
}

static void
plan_clear(struct dsp_plan *pl)
{
	free(pl->id);
	free(pl->name);
	for (int i = 0; i < pl->ntypes; i++)
		free(pl->types[i]);
	free(pl->types);
	for (int i = 0; i < pl->ndistricts; i++)
		free(pl->districts[i]);
	free(pl->districts);
	for (int i = 0; i < pl->nlevels; i++)
		free(pl->levels[i].needs);
	free(pl->levels);
}

void
dsp_plans_free(struct dsp_plans *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < p->n; i++)
		plan_clear(&p->plans[i]);
	free(p->plans);
	free(p);
}

/* A set condition holds when the value's bit is in it; a value out of the enum never does. */
static int
in_mask(int mask, int v, int n)
{
	return mask == 0 || (v >= 0 && v < n && (mask & (1 << v)));
}

static int
type_holds(const struct dsp_plan *pl, const char *type)
{
	if (pl->ntypes == 0)
		return 1;
	if (type == NULL)
		return 0;
	for (int i = 0; i < pl->ntypes; i++) {
		const char *t = pl->types[i];
		size_t n = strlen(t);
		if (t[n - 1] == '*' ? strncmp(type, t, n - 1) == 0 : strcmp(type, t) == 0)
			return 1;
	}
	return 0;
}

static int
plan_holds(const struct dsp_plan *pl, const struct incident *inc)
{
	if (!in_mask(pl->line_mask, (int)inc->line, INC_LINE_N) ||
	    !in_mask(pl->category_mask, (int)inc->category, INC_CAT_N) ||
	    !type_holds(pl, inc->type))
		return 0;
	/* 1-4 is "no condition": it must not turn away an incident with an odd priority. */
	if ((pl->priority_min != 1 || pl->priority_max != 4) &&
	    (inc->priority < pl->priority_min || inc->priority > pl->priority_max))
		return 0;
	if (pl->ndistricts > 0 &&
	    (inc->district_code == NULL || !has_str(pl->districts, pl->ndistricts,
					       inc->district_code)))
		return 0;
	return 1;
}

const struct dsp_plan *
dsp_plans_match(const struct dsp_plans *p, const struct incident *inc)
{
	if (p == NULL)
		return NULL;
	for (int i = 0; i < p->n; i++)
		if (plan_holds(&p->plans[i], inc))
			return &p->plans[i];
	return NULL;
}

const struct dsp_level *
dsp_plan_level(const struct dsp_plan *plan, int level)
{
	if (level < 1)
		return NULL;
	if (level > plan->nlevels)
		level = plan->nlevels;
	return &plan->levels[level - 1];
}

static json_t *
strings_json(char **s, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_string(s[i]));
	return a;
}

/*
 * "when" holds only the conditions the plan gives, in the file's words:
 * {"line":["119"],"category":["accident"],"type":["fire.building*"],
 *  "priority":{"min":1,"max":2},"district":["440106"]}; {} matches all.
 */
json_t *
dsp_plan_to_json(const struct dsp_plan *plan)
{
	json_t *o = json_object(), *when = json_object(), *levels = json_array();
	json_object_set_new(o, "id", json_string(plan->id));
	json_object_set_new(o, "name", json_string(plan->name));
	if (plan->line_mask) {
		json_t *a = json_array();
		for (int i = 0; i < INC_LINE_N; i++)
			if (plan->line_mask & (1 << i))
				json_array_append_new(a, json_string(inc_line_name(i)));
		json_object_set_new(when, "line", a);
	}
	if (plan->category_mask) {
		json_t *a = json_array();
		for (int i = 0; i < INC_CAT_N; i++)
			if (plan->category_mask & (1 << i))
				json_array_append_new(a, json_string(inc_category_name(i)));
		json_object_set_new(when, "category", a);
	}
	if (plan->ntypes)
		json_object_set_new(when, "type", strings_json(plan->types, plan->ntypes));
	if (plan->priority_min != 1 || plan->priority_max != 4)
		json_object_set_new(when, "priority", json_pack("{s:i,s:i}", "min",
		    plan->priority_min, "max", plan->priority_max));
	if (plan->ndistricts)
		json_object_set_new(when, "district",
		    strings_json(plan->districts, plan->ndistricts));
	json_object_set_new(o, "when", when);
	for (int i = 0; i < plan->nlevels; i++) {
		const struct dsp_level *lv = &plan->levels[i];
		json_t *needs = json_array();
		for (int k = 0; k < lv->nneeds; k++)
			json_array_append_new(needs, json_pack("{s:s,s:s,s:i}", "agency",
			    lv->needs[k].agency, "kind", lv->needs[k].kind, "count",
			    lv->needs[k].count));
		json_array_append_new(levels, json_pack("{s:i,s:o}", "level", lv->level, "needs",
		    needs));
	}
	json_object_set_new(o, "levels", levels);
	json_object_set_new(o, "ack_seconds", json_integer(plan->ack_seconds));
	return o;
}
