/*
 * gw_line-int.h - what the four line adapters (110, 119, 120, 122) share.
 *
 * Each line's payload is a flat JSON object: common fields every line has
 * (kind, case_no, version, report_time, caller, place, title, summary) plus
 * the line's own fields, described by a table of struct gwl_field. The
 * common parser (gw_line_common.c) checks the whole document against the
 * tables before anything is mapped: unknown fields, wrong types, missing
 * required fields and out-of-range values are refused with the field named,
 * and a document of another line's kind is recognised as such. The line's
 * map hook then only reads values that are known to be well-formed and sets
 * what is line-specific: category, type, priority and a default title.
 * Private to gateways/; the adapters themselves are the public face.
 */
#ifndef GW_LINE_INT_H
#define GW_LINE_INT_H

#include <jansson.h>
#include <stdint.h>

#include "gw_adapter.h"

/* What a field's JSON value must be. A null value is the same as an absent field. */
enum gwl_ftype {
	GWL_TEXT,    /* string: UTF-8 text, no control characters but \n \r \t, 1..max characters */
	GWL_LINE,    /* string: one line of text (no control characters at all), 1..max characters */
	GWL_REF,     /* string: 1..128 of letters, digits and . _ : / - (the ext_ref alphabet) */
	GWL_CODE,    /* string: 1..max of a-z 0-9 _ (a sub-code the agency appends to the type) */
	GWL_PHONE,   /* string: 3..32 of digits, + - and spaces, at least 3 digits */
	GWL_KMPOST,  /* string: a kilometre post, "K23+500" (K, 1-4 digits, +, 3 digits) */
	GWL_TIME,    /* string: RFC 3339 with a zone ("2026-11-24T08:30:00+08:00") */
	GWL_INT,     /* integer in min..max (a real such as 3.0 is refused) */
	GWL_NUMBER,  /* number (integer or real) */
	GWL_BOOL,    /* true or false */
	GWL_ENUM,    /* string: one of values[].code */
	GWL_LIST,    /* array of 0..max strings, each one line of 1..32 characters */
};

/*
 * One value of an enumerated field with what it implies. For a line's main
 * class field (110 case_category, 119 fire_type, 120 complaint_category,
 * 122 accident_type) category, type and priority are the mapping; other
 * enumerations use only code and zh, and priority as a cap where the line's
 * rules say so (4 means "no effect").
 */
struct gwl_enum {
	const char *code;   /* what the payload carries */
	const char *zh;     /* Chinese name, used in titles and the docs */
	enum inc_category category;
	const char *type;   /* inc.type */
	int priority;       /* 1..4 */
};

struct gwl_field {
	const char *name;
	enum gwl_ftype ftype;
	int required;
	int64_t min, max;       /* GWL_INT range; max characters for text and codes; list items */
	const struct gwl_enum *values; /* GWL_ENUM: terminated by a NULL code */
	int details;            /* copy the value into inc.details */
};

struct gwl_doc;

/* One line's payload format. */
struct gwl_line {
	enum inc_line line;
	const char *kind;       /* the required value of "kind", e.g. "110.jjd" */
	const char *adapter;    /* its adapter's URL name, e.g. "line110" */
	const char *what;       /* e.g. "110 police report (接警单)", for messages */
	int summary_required;   /* is "summary" required on this line */
	const struct gwl_field *fields; /* the line's own fields, terminated by a NULL name */
	/*
	 * Set inc->category, type, priority and, when inc->title is NULL, a
	 * title built from the fields. Called once the document has passed the
	 * tables; may still refuse a combination of values (0 or SRV_E_* with
	 * *cause set).
	 */
	int (*map)(const struct gwl_doc *doc, struct incident *inc, char **cause);
};

/* The four formats, for parsing and for recognising another line's document. */
extern const struct gwl_line gwl_form110, gwl_form119, gwl_form120, gwl_form122;

/*
 * Parse one payload of this line into a validated GW_REPORT: the body of
 * every line adapter's parse hook. Contract as gw_adapter.parse.
 */
int gwl_parse(const struct gwl_line *line, const struct gw_host *host, const char *body,
    size_t len, struct gw_report *out, char **cause);

/*
 * Reading a checked document in a map hook. A field that is absent or null
 * gives the default; the field must be one of the line's (asserted).
 */
int64_t gwl_int(const struct gwl_doc *doc, const char *name, int64_t dflt);
/* -1 when absent, else 0 or 1. */
int gwl_bool(const struct gwl_doc *doc, const char *name);
/* NULL when absent or empty; points into the document. */
const char *gwl_str(const struct gwl_doc *doc, const char *name);
/* The value's entry, or NULL when absent. */
const struct gwl_enum *gwl_enum(const struct gwl_doc *doc, const char *name);

/* Map helpers. */
/* The more urgent of two priorities (1 is most urgent). */
static inline int
gwl_at_most(int priority, int cap)
{
	return priority < cap ? priority : cap;
}
/* One step more urgent, never beyond 1. */
static inline int
gwl_raise(int priority)
{
	return priority > 1 ? priority - 1 : 1;
}
/*
 * A copy of s cut to at most max_chars characters, with "…" when cut, and
 * line breaks and tabs turned into spaces: for titles (caller frees).
 */
char *gwl_clip(const char *s, size_t max_chars);

#endif
