/*
 * gw_line_common.c - the parser the four line adapters share; see gw_line-int.h.
 *
 * A line payload is checked in this order, so that the first problem an
 * integrator meets is the most useful one: JSON syntax, the document's kind
 * (a 119 payload posted to the 110 adapter is named as such), every field
 * present (known to this line, right type, in range), required fields, the
 * place. Only then are values mapped; nothing is mapped from a document that
 * fails any check, and the draft is finally passed through inc_validate().
 */
#include "gw_line-int.h"
#include "gis_coord.h"
#include "srv_error.h"
#include "srv_util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gwl_doc {
	const struct gwl_line *line;
	const struct gw_host *host;
	json_t *root;
};

/* The fields every line has. Line tables are searched first. */
static const struct gwl_field common[] = {
	{ "kind", GWL_LINE, 1, 0, 16, NULL, 0 },
	{ "case_no", GWL_REF, 1, 0, INC_EXT_REF_MAX, NULL, 0 },
	{ "version", GWL_INT, 0, 0, INT64_MAX, NULL, 0 },
	{ "report_time", GWL_TIME, 1, 0, 0, NULL, 0 },
	{ "caller_name", GWL_LINE, 0, 0, 50, NULL, 1 },
	{ "caller_phone", GWL_PHONE, 0, 0, 32, NULL, 1 },
	{ "address", GWL_LINE, 0, 0, INC_ADDRESS_MAX, NULL, 0 },
	{ "lon", GWL_NUMBER, 0, 0, 0, NULL, 0 },
	{ "lat", GWL_NUMBER, 0, 0, 0, NULL, 0 },
	{ "title", GWL_LINE, 0, 0, INC_TITLE_MAX, NULL, 0 },
	{ "summary", GWL_TEXT, 0, 0, INC_DESCRIPTION_MAX, NULL, 0 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static const struct gwl_line *const all_lines[] = { &gwl_form110, &gwl_form119, &gwl_form120,
	&gwl_form122, NULL };

static const struct gwl_field *
find_in(const struct gwl_field *fields, const char *name)
{
	for (; fields->name != NULL; fields++)
		if (strcmp(fields->name, name) == 0)
			return fields;
	return NULL;
}

static const struct gwl_field *
find_field(const struct gwl_line *line, const char *name)
{
	const struct gwl_field *f = find_in(line->fields, name);
	return f ? f : find_in(common, name);
}

/* The one other line whose own fields include name (and this line's do not), if any. */
static const struct gwl_line *
owner_elsewhere(const struct gwl_line *line, const char *name)
{
	const struct gwl_line *owner = NULL;
	if (find_field(line, name) != NULL)
		return NULL;
	for (int i = 0; all_lines[i]; i++)
		if (all_lines[i] != line && find_in(all_lines[i]->fields, name)) {
			if (owner)
				return NULL; /* shared by several lines: says nothing */
			owner = all_lines[i];
		}
	return owner;
}

/*
 * A client's string is echoed in a cause only when it is short printable
 * ASCII: causes go to logs and JSON, and must stay one clean line.
 */
static const char *
echo(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++, n++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || n >= 40)
			return "(not shown)";
	return s;
}

/* The value is absent, null, or an empty string: all three mean "not given". */
static int
absent(json_t *v)
{
	return v == NULL || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

static int
no_controls(const char *s, int allow_ws)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if ((*p < 0x20 && !(allow_ws && (*p == '\n' || *p == '\r' || *p == '\t'))) ||
		    *p == 0x7f)
			return 0;
	return 1;
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int
ref_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || is_digit(*s) ||
			strchr("._:/-", *s)))
			return 0;
	return 1;
}

static int
code_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || is_digit(*s) || *s == '_'))
			return 0;
	return 1;
}

static int
phone_ok(const char *s)
{
	size_t n = strlen(s), digits = 0;
	if (n < 3 || n > 32)
		return 0;
	for (; *s; s++) {
		if (is_digit(*s))
			digits++;
		else if (*s != '+' && *s != '-' && *s != ' ')
			return 0;
	}
	return digits >= 3;
}

/* "K23+500": K, 1-4 digits, +, 3 digits (metres). */
static int
kmpost_ok(const char *s)
{
	int n = 0;
	if (*s != 'K' && *s != 'k')
		return 0;
	for (s++; is_digit(*s); s++)
		n++;
	if (n < 1 || n > 4 || *s++ != '+')
		return 0;
	for (n = 0; is_digit(*s); s++)
		n++;
	return n == 3 && *s == '\0';
}

static int
enum_fail(const struct gwl_field *f, const char *value, char **cause)
{
	char list[512];
	size_t used = 0;
	list[0] = '\0';
	for (const struct gwl_enum *e = f->values; e->code && used < sizeof list; e++)
		used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
		    e == f->values ? "" : ", ", e->code);
	return srv_fail(cause, SRV_E_BAD_FIELD, "%s \"%s\" is not one of: %s", f->name, echo(value),
	    list);
}

static const struct gwl_enum *
enum_find(const struct gwl_field *f, const char *code)
{
	for (const struct gwl_enum *e = f->values; e->code; e++)
		if (strcmp(e->code, code) == 0)
			return e;
	return NULL;
}

/* Check one present, non-null value against its field. */
static int
check_value(const struct gwl_doc *doc, const struct gwl_field *f, json_t *v, char **cause)
{
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;
	switch (f->ftype) {
	case GWL_TEXT:
	case GWL_LINE:
		if (s == NULL)
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be a string", f->name);
		if (!no_controls(s, f->ftype == GWL_TEXT))
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s contains a control character",
			    f->name);
		if (srv_utf8_len(s) > (size_t)f->max)
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s is longer than %lld characters",
			    f->name, (long long)f->max);
		return 0;
	case GWL_REF:
		if (s == NULL)
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be a string", f->name);
		if (json_string_length(v) > INC_EXT_REF_MAX || !ref_ok(s))
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s must be 1-%d of letters, digits and . _ : / -", f->name,
			    INC_EXT_REF_MAX);
		return 0;
	case GWL_CODE:
		if (s == NULL || json_string_length(v) > (size_t)f->max || !code_ok(s))
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s must be a code of 1-%lld lowercase letters, digits and _", f->name,
			    (long long)f->max);
		return 0;
	case GWL_PHONE:
		if (s == NULL || !phone_ok(s))
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s must be a phone number: 3-32 of digits, + - and spaces", f->name);
		return 0;
	case GWL_KMPOST:
		if (s == NULL || !kmpost_ok(s))
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s must be a kilometre post such as \"K23+500\"", f->name);
		return 0;
	case GWL_TIME: {
		int64_t t;
		if (s == NULL || srv_parse_time(s, &t) != 0)
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s must be an RFC 3339 time with its zone, such as "
			    "2026-11-24T08:30:00+08:00",
			    f->name);
		if (t > doc->host->now_us() + 86400LL * 1000000)
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s is more than a day in the future (check the sender's clock and zone)",
			    f->name);
		return 0;
	}
	case GWL_INT: {
		if (!json_is_integer(v) || json_integer_value(v) < f->min ||
		    json_integer_value(v) > f->max) {
			if (f->max == INT64_MAX)
				return srv_fail(cause, SRV_E_BAD_FIELD,
				    "%s must be an integer, %lld or more", f->name, (long long)f->min);
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be an integer %lld-%lld",
			    f->name, (long long)f->min, (long long)f->max);
		}
		return 0;
	}
	case GWL_NUMBER:
		if (!json_is_number(v))
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be a number (WGS84 degrees)",
			    f->name);
		return 0;
	case GWL_BOOL:
		if (!json_is_boolean(v))
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be true or false", f->name);
		return 0;
	case GWL_ENUM:
		if (s == NULL)
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be a string code", f->name);
		if (enum_find(f, s) == NULL)
			return enum_fail(f, s, cause);
		return 0;
	case GWL_LIST: {
		size_t i;
		json_t *item;
		if (!json_is_array(v) || json_array_size(v) > (size_t)f->max)
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be an array of at most %lld strings",
			    f->name, (long long)f->max);
		json_array_foreach(v, i, item) {
			const char *is = json_string_value(item);
			if (is == NULL || *is == '\0' || !no_controls(is, 0) || srv_utf8_len(is) > 32)
				return srv_fail(cause, SRV_E_BAD_FIELD,
				    "%s[%zu] must be a string of 1-32 characters on one line", f->name, i);
		}
		return 0;
	}
	}
	return srv_fail(cause, SRV_E_INTERNAL, "%s has an unknown field type", f->name);
}

/* The first field that says which other line a document belongs to, if any. */
static const struct gwl_line *
guess_line(const struct gwl_doc *doc, const char **field)
{
	const char *key;
	json_t *v;
	json_object_foreach(doc->root, key, v) {
		const struct gwl_line *other = owner_elsewhere(doc->line, key);
		if (other) {
			*field = key;
			return other;
		}
	}
	return NULL;
}

/* Is this the right kind of document for the line? Names the right adapter when not. */
static int
check_kind(const struct gwl_doc *doc, char **cause)
{
	const struct gwl_line *line = doc->line;
	if (!json_is_object(doc->root))
		return srv_fail(cause, SRV_E_BAD_FIELD, "the body must be a JSON object: a %s",
		    line->what);
	json_t *kind = json_object_get(doc->root, "kind");
	if (absent(kind)) {
		const char *field = NULL;
		const struct gwl_line *other = guess_line(doc, &field);
		if (other)
			return srv_fail(cause, SRV_E_MISSING_FIELD,
			    "kind is required (\"%s\" for a %s); this document looks like a %s "
			    "(it has %s): post it to /api/v1/intake/%s",
			    line->kind, line->what, other->what, field, other->adapter);
		if (json_object_get(doc->root, "line") && json_object_get(doc->root, "priority"))
			return srv_fail(cause, SRV_E_MISSING_FIELD,
			    "kind is required (\"%s\" for a %s); this document looks like the "
			    "common incident model: post it to /api/v1/intake/json",
			    line->kind, line->what);
		return srv_fail(cause, SRV_E_MISSING_FIELD, "kind is required (\"%s\" for a %s)",
		    line->kind, line->what);
	}
	if (!json_is_string(kind))
		return srv_fail(cause, SRV_E_BAD_FIELD, "kind must be the string \"%s\"", line->kind);
	const char *k = json_string_value(kind);
	if (strcmp(k, line->kind) == 0)
		return 0;
	for (int i = 0; all_lines[i]; i++)
		if (strcmp(k, all_lines[i]->kind) == 0)
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "kind \"%s\" is a %s, not a %s: post it to /api/v1/intake/%s", k,
			    all_lines[i]->what, line->what, all_lines[i]->adapter);
	return srv_fail(cause, SRV_E_BAD_FIELD, "kind \"%s\" is not \"%s\" (a %s)", echo(k),
	    line->kind, line->what);
}

/* Every field present is known and well-formed; every required one is there. */
static int
check_fields(const struct gwl_doc *doc, char **cause)
{
	const struct gwl_line *line = doc->line;
	const char *key;
	json_t *v;
	int rc;
	json_object_foreach(doc->root, key, v) {
		const struct gwl_field *f = find_field(line, key);
		if (f == NULL) {
			const struct gwl_line *other = owner_elsewhere(line, key);
			if (other)
				return srv_fail(cause, SRV_E_BAD_FIELD,
				    "unknown field '%s' in a %s: it belongs to a %s (/api/v1/intake/%s)",
				    key, line->what, other->what, other->adapter);
			return srv_fail(cause, SRV_E_BAD_FIELD, "unknown field '%s' in a %s", echo(key),
			    line->what);
		}
		if (strcmp(key, "kind") == 0 || absent(v))
			continue;
		if ((rc = check_value(doc, f, v, cause)))
			return rc;
	}
	for (int pass = 0; pass < 2; pass++)
		for (const struct gwl_field *f = pass ? common : line->fields; f->name; f++) {
			int req = f->required ||
			    (strcmp(f->name, "summary") == 0 && line->summary_required);
			if (req && find_field(line, f->name) == f &&
			    absent(json_object_get(doc->root, f->name)))
				return srv_fail(cause, SRV_E_MISSING_FIELD, "%s is required in a %s",
				    f->name, line->what);
		}
	return 0;
}

/* The place: address and/or lon+lat, at least one; positions must be on Earth. */
static int
map_place(const struct gwl_doc *doc, struct incident *inc, char **cause)
{
	json_t *lon = json_object_get(doc->root, "lon"), *lat = json_object_get(doc->root, "lat");
	const char *address = gwl_str(doc, "address");
	if (absent(lon) != absent(lat))
		return srv_fail(cause, SRV_E_BAD_FIELD, "lon and lat must be given together");
	if (!absent(lon)) {
		inc->lon = json_number_value(lon);
		inc->lat = json_number_value(lat);
		if (gis_lonlat_check(inc->lon, inc->lat, cause) != 0)
			return SRV_E_BAD_FIELD;
		if (inc->lon == 0 && inc->lat == 0)
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "lon/lat 0,0 is not a place (no GPS fix?): leave lon and lat out instead");
		inc->has_position = 1;
	} else if (address == NULL) {
		return srv_fail(cause, SRV_E_MISSING_FIELD,
		    "address or lon/lat is required: where it happened");
	}
	if (address)
		inc->address = xstrdup(address);
	return 0;
}

/* The fields flagged for details, as a compact JSON object with sorted keys (NULL when none). */
static char *
build_details(const struct gwl_doc *doc)
{
	json_t *o = json_object();
	for (int pass = 0; pass < 2; pass++)
		for (const struct gwl_field *f = pass ? common : doc->line->fields; f->name; f++) {
			json_t *v = json_object_get(doc->root, f->name);
			if (f->details && find_field(doc->line, f->name) == f && !absent(v))
				json_object_set(o, f->name, v);
		}
	char *s = json_object_size(o) ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	return s;
}

static int
map_common(const struct gwl_doc *doc, struct gw_report *rep, char **cause)
{
	struct incident *inc = &rep->inc;
	inc->line = doc->line->line;
	inc->status = INC_ST_NEW;
	inc->category = INC_CAT_OTHER;
	inc->priority = 3;
	inc->ext_ref = xstrdup(gwl_str(doc, "case_no"));
	rep->version = gwl_int(doc, "version", 0);
	if (srv_parse_time(gwl_str(doc, "report_time"), &inc->reported_at) != 0)
		return srv_fail(cause, SRV_E_INTERNAL, "report_time passed its check but not parse");
	const char *title = gwl_str(doc, "title"), *summary = gwl_str(doc, "summary");
	inc->title = title ? xstrdup(title) : NULL;
	inc->description = summary ? xstrdup(summary) : NULL;
	inc->details = build_details(doc);
	return map_place(doc, inc, cause);
}

int
gwl_parse(const struct gwl_line *line, const struct gw_host *host, const char *body, size_t len,
    struct gw_report *rep, char **cause)
{
	memset(rep, 0, sizeof *rep);
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return srv_fail(cause, SRV_E_BAD_JSON, "invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	struct gwl_doc doc = { .line = line, .host = host, .root = root };
	int rc = check_kind(&doc, cause);
	if (rc == 0)
		rc = check_fields(&doc, cause);
	if (rc == 0)
		rc = map_common(&doc, rep, cause);
	if (rc == 0)
		rc = line->map(&doc, &rep->inc, cause);
	if (rc == 0 && rep->inc.title == NULL)
		rc = srv_fail(cause, SRV_E_INTERNAL, "the %s adapter built no title", line->adapter);
	if (rc == 0)
		rc = inc_validate(&rep->inc, cause);
	json_decref(root);
	if (rc != 0)
		gw_report_clear(rep);
	else
		rep->action = GW_REPORT;
	return rc;
}

/* --- reading a checked document ------------------------------------------ */

static json_t *
value_of(const struct gwl_doc *doc, const char *name, const struct gwl_field **f)
{
	*f = find_field(doc->line, name);
	assert(*f != NULL);
	json_t *v = json_object_get(doc->root, name);
	return absent(v) ? NULL : v;
}

int64_t
gwl_int(const struct gwl_doc *doc, const char *name, int64_t dflt)
{
	const struct gwl_field *f;
	json_t *v = value_of(doc, name, &f);
	return v ? (int64_t)json_integer_value(v) : dflt;
}

int
gwl_bool(const struct gwl_doc *doc, const char *name)
{
	const struct gwl_field *f;
	json_t *v = value_of(doc, name, &f);
	return v ? json_is_true(v) : -1;
}

const char *
gwl_str(const struct gwl_doc *doc, const char *name)
{
	const struct gwl_field *f;
	json_t *v = value_of(doc, name, &f);
	return v ? json_string_value(v) : NULL;
}

const struct gwl_enum *
gwl_enum(const struct gwl_doc *doc, const char *name)
{
	const struct gwl_field *f;
	json_t *v = value_of(doc, name, &f);
	assert(f->ftype == GWL_ENUM);
	return v ? enum_find(f, json_string_value(v)) : NULL;
}

char *
gwl_clip(const char *s, size_t max_chars)
{
	size_t chars = 0;
	const unsigned char *p = (const unsigned char *)s;
	assert(max_chars >= 1);
	/* Walk to the start of character max_chars; stop early at the end. */
	while (*p) {
		if ((*p & 0xc0) != 0x80) {
			if (chars == max_chars)
				break;
			chars++;
		}
		p++;
	}
	char *out;
	if (*p == '\0') {
		out = xstrdup(s);
	} else {
		/* Too long: keep max_chars - 1 characters and add "…". */
		p = (const unsigned char *)s;
		chars = 0;
		while (*p) {
			if ((*p & 0xc0) != 0x80 && chars++ == max_chars - 1)
				break;
			p++;
		}
		out = xasprintf("%.*s…", (int)(p - (const unsigned char *)s), s);
	}
	/* A title is one line: a multi-line summary's breaks become spaces. */
	for (char *q = out; *q; q++)
		if (*q == '\n' || *q == '\r' || *q == '\t')
			*q = ' ';
	return out;
}
