/*
 * gw_cap.c - the OASIS CAP 1.2 adapter: alerts from the weather,
 * earthquake, water, health and other bureaus become incidents.
 *
 * The mapping is documented in docs/cap-eido.md; in short: ext_ref is the
 * alert's identifier, reported_at its sent time, the line "other", the
 * category, priority, title and position come from the info blocks, and
 * every info block and area is kept in details. msgType Update and Cancel
 * act on the alerts their <references> name.
 *
 * The XML parser is the attack surface. Documents with a DOCTYPE (and so any
 * entity declaration, external subset or parameter entity) are refused
 * before libxml2 sees them; the parser runs with network access off, no
 * entity substitution, no DTD loading or default attributes and no XInclude,
 * and the input is read as UTF-8 whatever it declares, so the byte scan for
 * "<!DOCTYPE" cannot be dodged with another encoding.
 *
 * This file also holds the helpers gw_eido.c shares (gw_xml-int.h).
 */
#include "gw_adapter.h"
#include "gw_xml-int.h"
#include "gis_coord.h"
#include "srv_error.h"
#include "srv_json.h"
#include "srv_util.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


/* --- shared helpers ------------------------------------------------------- */

/*
 * The parser options, spelled out: no network; errors are collected on the
 * context rather than printed. Deliberately absent: XML_PARSE_NOENT (entity
 * substitution), XML_PARSE_DTDLOAD / DTDATTR / DTDVALID (loading the
 * external subset, default attributes), XML_PARSE_XINCLUDE and
 * XML_PARSE_HUGE (which lifts libxml2's depth and size limits).
 */
#define GW_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

/* Copy a libxml2 message into a cause: printable ASCII only, no newline. */
static char *
xml_message(const char *msg)
{
	char *s = xstrdup(msg ? msg : "unknown error");
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return s;
}

/*
 * Parse an XML document safely (see the top of this file). what names the
 * document in causes ("the CAP alert", "locationComponent[1].locationByValue").
 * On success *out is the document (caller frees with xmlFreeDoc) and 0 is
 * returned; otherwise an SRV_E_* code with *cause set.
 */
int
gw_xml_read_safe(const char *body, size_t len, const char *what, xmlDoc **out, char **cause)
{
	*out = NULL;
	if (len == 0)
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s is empty", what);
	if (len > INT_MAX)
		return srv_fail(cause, SRV_E_TOO_LARGE, "%s is too large", what);
	if (memmem(body, len, "<!DOCTYPE", 9) != NULL || memmem(body, len, "<!ENTITY", 8) != NULL)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s has a DOCTYPE or entity declaration: DTDs, entities and external "
		    "references are refused",
		    what);
	xmlInitParser();
	xmlParserCtxt *ctxt = xmlNewParserCtxt();
	if (ctxt == NULL)
		abort();
	xmlDoc *doc = xmlCtxtReadMemory(ctxt, body, (int)len, NULL, "UTF-8", GW_XML_OPTIONS);
	int rc = 0;
	if (doc == NULL || !ctxt->wellFormed) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char *msg = xml_message(e ? e->message : NULL);
		rc = srv_fail(cause, SRV_E_BAD_FIELD, "%s is not well-formed UTF-8 XML (line %d): %s",
		    what, e ? e->line : 0, msg);
		free(msg);
	} else if (doc->intSubset != NULL || doc->extSubset != NULL) {
		rc = srv_fail(cause, SRV_E_BAD_FIELD, "%s has a document type declaration", what);
	} else if (xmlDocGetRootElement(doc) == NULL) {
		rc = srv_fail(cause, SRV_E_BAD_FIELD, "%s has no root element", what);
	}
	xmlFreeParserCtxt(ctxt);
	if (rc != 0) {
		xmlFreeDoc(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

static int
ref_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
}

/*
 * The ext_ref for an agency identifier: the identifier itself when it is
 * 1-128 characters of the ext_ref alphabet (letters, digits, . _ : / -);
 * otherwise "x:" + the identifier with each run of other bytes replaced by
 * '_' (at most 96 characters) + ":" + the 64-bit FNV-1a hash of the whole
 * identifier in hex. Stable, so a retry or a reference to it finds the
 * same incident. *derived (may be NULL) says which. Returns a new string.
 */
char *
gw_ext_ref_from(const char *id, int *derived)
{
	size_t n = strlen(id);
	int ok = n > 0 && n <= INC_EXT_REF_MAX;
	for (size_t i = 0; ok && i < n; i++)
		ok = ref_char((unsigned char)id[i]);
	if (derived)
		*derived = !ok;
	if (ok)
		return xstrdup(id);
	uint64_t h = 0xcbf29ce484222325ULL;
	char keep[97];
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		h = (h ^ c) * 0x100000001b3ULL;
		if (k < sizeof keep - 1) {
			if (ref_char(c))
				keep[k++] = (char)c;
			else if (k == 0 || keep[k - 1] != '_')
				keep[k++] = '_';
		}
	}
	keep[k] = '\0';
	return xasprintf("x:%s:%016llx", keep, (unsigned long long)h);
}

/* Byte offset where code point number nchars (from 0) starts, or strlen(s). */
static size_t
utf8_offset(const char *s, size_t nchars)
{
	size_t i = 0, c = 0;
	for (; s[i]; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (c == nchars)
				return i;
			c++;
		}
	}
	return i;
}

/*
 * A copy of valid UTF-8 text cut to at most max_chars code points (>= 1),
 * ending in "…" when it was cut. NULL stays NULL.
 */
char *
gw_text_clip(const char *s, size_t max_chars)
{
	if (s == NULL)
		return NULL;
	if (s[utf8_offset(s, max_chars)] == '\0')
		return xstrdup(s);
	size_t cut = utf8_offset(s, max_chars - 1);
	char *r = xmalloc(cut + 4);
	memcpy(r, s, cut);
	memcpy(r + cut, "\xE2\x80\xA6", 4); /* "…" and the NUL */
	return r;
}

/* Is this array a ring of [lon,lat] points? */
static int
is_ring(json_t *a)
{
	size_t i;
	json_t *p;
	json_array_foreach(a, i, p) {
		if (!json_is_array(p) || json_array_size(p) != 2 || !json_is_number(json_array_get(p, 0)))
			return 0;
	}
	return json_array_size(a) > 0;
}

static json_t *
clip_string(json_t *v, size_t max_chars)
{
	if (srv_utf8_len(json_string_value(v)) <= max_chars)
		return NULL;
	char *c = gw_text_clip(json_string_value(v), max_chars);
	json_t *r = json_string(c);
	free(c);
	return r;
}

/*
 * Cut a details tree down: strings to max_chars (top-level ones, the
 * identifiers, to no less than 256), arrays to max_items (a polygon ring is
 * thinned evenly and keeps its closing point instead).
 */
static void
shrink(json_t *v, size_t max_chars, size_t max_items, int top)
{
	if (json_is_object(v)) {
		const char *k;
		json_t *x, *c;
		json_object_foreach(v, k, x) {
			if (json_is_string(x)) {
				if ((c = clip_string(x, top && max_chars < 256 ? 256 : max_chars)))
					json_object_set_new(v, k, c);
			} else {
				shrink(x, max_chars, max_items, 0);
			}
		}
	} else if (json_is_array(v)) {
		size_t n = json_array_size(v);
		if (n > max_items && is_ring(v) && max_items >= 4) {
			json_t *thin = json_array();
			for (size_t i = 0; i < max_items; i++)
				json_array_append(thin, json_array_get(v, i * (n - 1) / (max_items - 1)));
			json_array_clear(v);
			json_array_extend(v, thin);
			json_decref(thin);
		}
		while (json_array_size(v) > max_items)
			json_array_remove(v, json_array_size(v) - 1);
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *x = json_array_get(v, i), *c;
			if (json_is_string(x)) {
				if ((c = clip_string(x, max_chars)))
					json_array_set_new(v, i, c);
			} else {
				shrink(x, max_chars, max_items, 0);
			}
		}
	}
}

/*
 * Serialise details so that they fit INC_DETAILS_MAX: as they are when they
 * fit, otherwise cut in stages (long texts, then long lists and polygons)
 * with "truncated": true, and refused (SRV_E_TOO_LARGE) only when even the
 * last stage does not fit. *out is allocated. details is modified.
 */
int
gw_details_fit(json_t *details, const char *what, char **out, char **cause)
{
	static const size_t stages[][2] = { { SIZE_MAX, SIZE_MAX }, { 1000, 200 }, { 300, 64 },
		{ 120, 16 }, { 60, 6 } };
	for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
		if (i > 0) {
			shrink(details, stages[i][0], stages[i][1], 1);
			json_object_set_new(details, "truncated", json_true());
		}
		char *s = srv_json_dump(details, NULL);
		if (s == NULL)
			abort();
		if (strlen(s) <= INC_DETAILS_MAX) {
			*out = s;
			return 0;
		}
		free(s);
	}
	return srv_fail(cause, SRV_E_TOO_LARGE,
	    "%s is too large to keep: its details exceed %d bytes even with texts and lists cut "
	    "short",
	    what, INC_DETAILS_MAX);
}

/* --- CAP 1.2 ---------------------------------------------------------------- */

#define CAP_NS "urn:oasis:names:tc:emergency:cap:1.2"
#define XINCLUDE_NS "http://www.w3.org/2001/XInclude"
#define XINCLUDE_OLD_NS "http://www.w3.org/2003/XInclude"

static const char *const cap_status[] = { "Actual", "Exercise", "System", "Test", "Draft", NULL };
static const char *const cap_msgtype[] = { "Alert", "Update", "Cancel", "Ack", "Error", NULL };
static const char *const cap_scope[] = { "Public", "Restricted", "Private", NULL };
static const char *const cap_category[] = { "Geo", "Met", "Safety", "Security", "Rescue", "Fire",
	"Health", "Env", "Transport", "Infra", "CBRNE", "Other", NULL };
static const char *const cap_response[] = { "Shelter", "Evacuate", "Prepare", "Execute", "Avoid",
	"Monitor", "Assess", "AllClear", "None", NULL };
static const char *const cap_urgency[] = { "Immediate", "Expected", "Future", "Past", "Unknown",
	NULL };
static const char *const cap_severity[] = { "Extreme", "Severe", "Moderate", "Minor", "Unknown",
	NULL };
static const char *const cap_certainty[] = { "Observed", "Likely", "Possible", "Unlikely",
	"Unknown", NULL };

/* CAP category (index in cap_category) -> the four national classes. */
static const enum inc_category cap_category_map[] = {
	INC_CAT_NATURAL_DISASTER, /* Geo */
	INC_CAT_NATURAL_DISASTER, /* Met */
	INC_CAT_SOCIAL_SECURITY,  /* Safety */
	INC_CAT_SOCIAL_SECURITY,  /* Security */
	INC_CAT_ACCIDENT,         /* Rescue */
	INC_CAT_ACCIDENT,         /* Fire */
	INC_CAT_PUBLIC_HEALTH,    /* Health */
	INC_CAT_ACCIDENT,         /* Env */
	INC_CAT_ACCIDENT,         /* Transport */
	INC_CAT_ACCIDENT,         /* Infra */
	INC_CAT_ACCIDENT,         /* CBRNE */
	INC_CAT_OTHER,            /* Other */
};

/*
 * Priority by [severity][urgency] (indices in cap_severity, cap_urgency).
 * With urgency Unknown, as CPEAS sends, severity alone decides and matches
 * the colour levels: red (Extreme) 1, orange 2, yellow 3, blue (Minor) 4.
 */
static const int cap_priority[5][5] = {
	/*            Immediate Expected Future Past Unknown */
	/* Extreme */ { 1, 1, 2, 4, 1 },
	/* Severe */ { 1, 2, 2, 4, 2 },
	/* Moderate */ { 2, 3, 3, 4, 3 },
	/* Minor */ { 3, 4, 4, 4, 4 },
	/* Unknown */ { 2, 3, 3, 4, 3 },
};

static int
enum_index(const char *const *vals, const char *s)
{
	for (int i = 0; vals[i]; i++)
		if (strcmp(vals[i], s) == 0)
			return i;
	return -1;
}

static int
is_cap(const xmlNode *n)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
	    strcmp((const char *)n->ns->href, CAP_NS) == 0;
}

static int
is_el(const xmlNode *n, const char *name)
{
	return is_cap(n) && strcmp((const char *)n->name, name) == 0;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The element's text, trimmed (allocated), or NULL when empty. */
static char *
el_text(xmlNode *n)
{
	xmlChar *c = xmlNodeGetContent(n);
	if (c == NULL)
		return NULL;
	const char *s = (const char *)c, *e;
	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		e--;
	char *r = e > s ? xstrndup(s, (size_t)(e - s)) : NULL;
	xmlFree(c);
	return r;
}

/*
 * The text of the single child element name of parent (allocated, NULL when
 * absent). Refuses a repeated element, and a missing or empty one when
 * required. where names the parent in causes ("alert", "info[2]").
 */
static int
get_one(xmlNode *parent, const char *name, int required, const char *where, char **out,
    char **cause)
{
	xmlNode *found = NULL;
	*out = NULL;
	for (xmlNode *c = parent->children; c; c = c->next) {
		if (!is_el(c, name))
			continue;
		if (found)
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s: <%s> appears more than once",
			    where, name);
		found = c;
	}
	if (found)
		*out = el_text(found);
	if (required && *out == NULL)
		return srv_fail(cause, SRV_E_MISSING_FIELD, "%s: <%s> is required%s", where, name,
		    found ? " (it is empty)" : "");
	return 0;
}

/* get_one for a value from a closed list; *idx is its index (-1 when absent). */
static int
get_enum(xmlNode *parent, const char *name, const char *const *vals, int required,
    const char *where, char **out, int *idx, char **cause)
{
	int rc = get_one(parent, name, required, where, out, cause);
	*idx = -1;
	if (rc || *out == NULL)
		return rc;
	if ((*idx = enum_index(vals, *out)) < 0) {
		char list[200] = "";
		for (int i = 0; vals[i]; i++) {
			strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
			strncat(list, vals[i], sizeof list - strlen(list) - 1);
		}
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s: <%s> '%.64s' is not one of %s", where,
		    name, *out, list);
	}
	return 0;
}

/* get_one for a CAP dateTime ("2016-11-18T09:43:00+08:00"); *us is 0 when absent. */
static int
get_time(xmlNode *parent, const char *name, int required, const char *where, char **out,
    int64_t *us, char **cause)
{
	int rc = get_one(parent, name, required, where, out, cause);
	*us = 0;
	if (rc || *out == NULL)
		return rc;
	if (srv_parse_time(*out, us) != 0)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: <%s> '%.64s' is not a CAP dateTime such as 2016-11-18T09:43:00+08:00", where,
		    name, *out);
	return 0;
}

static void
set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

/* Move an allocated string into o (set when not NULL); *v is freed and cleared. */
static void
take_str(json_t *o, const char *key, char **v)
{
	set_str(o, key, *v);
	free(*v);
	*v = NULL;
}

static json_t *
point_json(double lon, double lat)
{
	return json_pack("[ff]", round(lon * 1e7) / 1e7, round(lat * 1e7) / 1e7);
}

/* A strict decimal number: optional sign, digits, optional fraction. */
static int
parse_decimal(const char *s, size_t n, double *out)
{
	char buf[48];
	size_t i = 0, digits = 0;
	if (n == 0 || n >= sizeof buf)
		return -1;
	if (s[i] == '+' || s[i] == '-')
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (i != n || digits == 0)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*out = strtod(buf, NULL);
	return isfinite(*out) ? 0 : -1;
}

/*
 * One CAP point "lat,lon" (latitude first) of n bytes, checked to be on
 * Earth, with a cause that names the CAP order when it looks swapped.
 */
static int
parse_point(const char *s, size_t n, const char *where, double *lon, double *lat, char **cause)
{
	const char *comma = memchr(s, ',', n);
	if (comma == NULL || parse_decimal(s, (size_t)(comma - s), lat) != 0 ||
	    parse_decimal(comma + 1, n - (size_t)(comma - s) - 1, lon) != 0)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: '%.*s' is not a point \"latitude,longitude\" in decimal degrees", where,
		    (int)(n > 40 ? 40 : n), s);
	if (gis_lonlat_check(*lon, *lat, NULL) == 0)
		return 0;
	if ((*lat < -90 || *lat > 90) && *lat >= -180 && *lat <= 180 && *lon >= -90 && *lon <= 90)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: point '%.*s' has latitude %g outside -90..90; it looks swapped (CAP writes "
		    "latitude first: \"lat,lon\")",
		    where, (int)(n > 40 ? 40 : n), s, *lat);
	return srv_fail(cause, SRV_E_BAD_FIELD,
	    "%s: point '%.*s' is outside the world (latitude -90..90, longitude -180..180)", where,
	    (int)(n > 40 ? 40 : n), s);
}

/* Next whitespace-separated token of s from *pos; 0 at the end. */
static int
next_token(const char *s, size_t *pos, const char **tok, size_t *n)
{
	size_t i = *pos;
	while (s[i] && is_space(s[i]))
		i++;
	if (s[i] == '\0')
		return 0;
	*tok = s + i;
	while (s[i] && !is_space(s[i]))
		i++;
	*n = (size_t)(s + i - *tok);
	*pos = i;
	return 1;
}

/*
 * A CAP polygon "lat,lon lat,lon ..." (at least four points, closed) into
 * a ring of [lon,lat] (*ring, new reference) and its centroid.
 */
static int
parse_polygon(const char *text, const char *where, json_t **ring, double *clon, double *clat,
    char **cause)
{
	size_t pos = 0, n, np = 0, cap = 0;
	const char *tok;
	double *pts = NULL; /* lon, lat pairs */
	int rc = 0;
	while (next_token(text, &pos, &tok, &n)) {
		if (np == cap) {
			cap = cap ? cap * 2 : 16;
			pts = xrealloc(pts, cap * 2 * sizeof *pts);
		}
		if ((rc = parse_point(tok, n, where, &pts[2 * np], &pts[2 * np + 1], cause)))
			goto done;
		np++;
	}
	if (np < 4) {
		rc = srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: a polygon needs at least 4 points (the first repeated last), got %zu", where,
		    np);
		goto done;
	}
	if (pts[0] != pts[2 * (np - 1)] || pts[1] != pts[2 * (np - 1) + 1]) {
		rc = srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: the polygon is not closed (its first and last points must be the same)", where);
		goto done;
	}
	/* Planar centroid in degrees, relative to the first point for precision. */
	double a = 0, cx = 0, cy = 0, x0 = pts[0], y0 = pts[1];
	for (size_t i = 0; i + 1 < np; i++) {
		double xi = pts[2 * i] - x0, yi = pts[2 * i + 1] - y0;
		double xj = pts[2 * i + 2] - x0, yj = pts[2 * i + 3] - y0;
		double cr = xi * yj - xj * yi;
		a += cr;
		cx += (xi + xj) * cr;
		cy += (yi + yj) * cr;
	}
	double minx = pts[0], maxx = pts[0], miny = pts[1], maxy = pts[1];
	for (size_t i = 1; i < np; i++) {
		minx = fmin(minx, pts[2 * i]);
		maxx = fmax(maxx, pts[2 * i]);
		miny = fmin(miny, pts[2 * i + 1]);
		maxy = fmax(maxy, pts[2 * i + 1]);
	}
	int inside = 0;
	if (fabs(a) > 1e-12) {
		*clon = x0 + cx / (3 * a);
		*clat = y0 + cy / (3 * a);
		inside = *clon >= minx && *clon <= maxx && *clat >= miny && *clat <= maxy;
	}
	/* A degenerate or self-crossing ring: the mean of its vertices instead. */
	if (!inside) {
		double sx = 0, sy = 0;
		for (size_t i = 0; i + 1 < np; i++) {
			sx += pts[2 * i];
			sy += pts[2 * i + 1];
		}
		*clon = sx / (double)(np - 1);
		*clat = sy / (double)(np - 1);
	}
	*ring = json_array();
	for (size_t i = 0; i < np; i++)
		json_array_append_new(*ring, point_json(pts[2 * i], pts[2 * i + 1]));
done:
	free(pts);
	return rc;
}

/* A CAP circle "lat,lon radius" (radius in km). */
static int
parse_circle(const char *text, const char *where, json_t **out, double *lon, double *lat,
    char **cause)
{
	size_t pos = 0, n1, n2, n3;
	const char *t1, *t2, *t3;
	double r;
	int rc;
	if (!next_token(text, &pos, &t1, &n1) || !next_token(text, &pos, &t2, &n2) ||
	    next_token(text, &pos, &t3, &n3))
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: a circle is \"latitude,longitude radius\" (radius in km)", where);
	if ((rc = parse_point(t1, n1, where, lon, lat, cause)))
		return rc;
	if (parse_decimal(t2, n2, &r) != 0 || r < 0)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: the circle radius '%.*s' is not a distance in km", where,
		    (int)(n2 > 20 ? 20 : n2), t2);
	*out = json_pack("{s:o,s:f}", "center", point_json(*lon, *lat), "radius_km", r);
	return 0;
}

/* valueName/value pairs (eventCode, parameter, geocode) as an array, or NULL when none. */
static int
get_pairs(xmlNode *parent, const char *name, const char *where, json_t **out, char **cause)
{
	int rc = 0, i = 0;
	char w[80], *vn = NULL, *v = NULL;
	*out = NULL;
	for (xmlNode *c = parent->children; c; c = c->next) {
		if (!is_el(c, name))
			continue;
		snprintf(w, sizeof w, "%s.%s[%d]", where, name, ++i);
		if ((rc = get_one(c, "valueName", 1, w, &vn, cause)) ||
		    (rc = get_one(c, "value", 1, w, &v, cause)))
			break;
		if (*out == NULL)
			*out = json_array();
		json_array_append_new(*out, json_pack("{s:s,s:s}", "valueName", vn, "value", v));
		free(vn);
		free(v);
		vn = v = NULL;
	}
	free(vn);
	free(v);
	if (rc) {
		json_decref(*out);
		*out = NULL;
	}
	return rc;
}

/* What the incident takes from one info block. Strings borrow from details. */
struct cap_info {
	const char *language, *event, *headline, *description;
	int category; /* index in cap_category */
	int priority;
	char *address; /* the areaDescs, joined */
	int has_pos;
	double lon, lat;
};

static int
parse_area(xmlNode *area, const char *where, json_t *jarea, struct cap_info *ci, char **cause)
{
	char *s = NULL, w[96];
	int rc, np = 0, nc = 0;
	if ((rc = get_one(area, "areaDesc", 1, where, &s, cause)))
		return rc;
	if (ci->address == NULL) {
		ci->address = xstrdup(s);
	} else {
		char *j = xasprintf("%s; %s", ci->address, s);
		free(ci->address);
		ci->address = j;
	}
	take_str(jarea, "areaDesc", &s);
	json_t *polys = json_array(), *circles = json_array(), *geo = NULL;
	for (xmlNode *c = area->children; c && rc == 0; c = c->next) {
		double lon, lat;
		json_t *j = NULL;
		if (is_el(c, "polygon")) {
			snprintf(w, sizeof w, "%s.polygon[%d]", where, ++np);
			char *t = el_text(c);
			if (t == NULL)
				rc = srv_fail(cause, SRV_E_BAD_FIELD, "%s is empty", w);
			else
				rc = parse_polygon(t, w, &j, &lon, &lat, cause);
			free(t);
			if (rc == 0)
				json_array_append_new(polys, j);
		} else if (is_el(c, "circle")) {
			snprintf(w, sizeof w, "%s.circle[%d]", where, ++nc);
			char *t = el_text(c);
			if (t == NULL)
				rc = srv_fail(cause, SRV_E_BAD_FIELD, "%s is empty", w);
			else
				rc = parse_circle(t, w, &j, &lon, &lat, cause);
			free(t);
			if (rc == 0)
				json_array_append_new(circles, j);
		} else {
			continue;
		}
		/* The block's position: its first shape (CAP puts polygons before circles). */
		if (rc == 0 && !ci->has_pos) {
			ci->has_pos = 1;
			ci->lon = lon;
			ci->lat = lat;
		}
	}
	if (rc == 0)
		rc = get_pairs(area, "geocode", where, &geo, cause);
	if (rc) {
		json_decref(polys);
		json_decref(circles);
		return rc;
	}
	if (json_array_size(polys))
		json_object_set(jarea, "polygon", polys);
	if (json_array_size(circles))
		json_object_set(jarea, "circle", circles);
	if (geo)
		json_object_set_new(jarea, "geocode", geo);
	json_decref(polys);
	json_decref(circles);
	if ((rc = get_one(area, "altitude", 0, where, &s, cause)))
		return rc;
	take_str(jarea, "altitude", &s);
	if ((rc = get_one(area, "ceiling", 0, where, &s, cause)))
		return rc;
	take_str(jarea, "ceiling", &s);
	return 0;
}

/* Repeated simple elements (category, responseType, code) as an array; NULL when none. */
static int
get_list(xmlNode *parent, const char *name, const char *const *vals, const char *where,
    json_t **out, int *first, char **cause)
{
	*out = NULL;
	if (first)
		*first = -1;
	for (xmlNode *c = parent->children; c; c = c->next) {
		if (!is_el(c, name))
			continue;
		char *t = el_text(c);
		if (t == NULL) {
			json_decref(*out);
			*out = NULL;
			return srv_fail(cause, SRV_E_MISSING_FIELD, "%s: <%s> is empty", where, name);
		}
		int idx = vals ? enum_index(vals, t) : 0;
		if (idx < 0) {
			int rc = srv_fail(cause, SRV_E_BAD_FIELD, "%s: <%s> '%.64s' is not a CAP 1.2 value",
			    where, name, t);
			free(t);
			json_decref(*out);
			*out = NULL;
			return rc;
		}
		if (first && *first < 0)
			*first = idx;
		if (*out == NULL)
			*out = json_array();
		json_array_append_new(*out, json_string(t));
		free(t);
	}
	return 0;
}

static int
parse_resources(xmlNode *info, const char *where, json_t *jinfo, char **cause)
{
	json_t *arr = NULL;
	int i = 0, rc = 0;
	char w[80], *s = NULL;
	static const char *const fields[] = { "resourceDesc", "mimeType", "size", "uri", "digest" };
	for (xmlNode *c = info->children; c && rc == 0; c = c->next) {
		if (!is_el(c, "resource"))
			continue;
		snprintf(w, sizeof w, "%s.resource[%d]", where, ++i);
		json_t *r = json_object();
		if (arr == NULL)
			arr = json_array();
		json_array_append_new(arr, r);
		for (size_t f = 0; f < 5 && rc == 0; f++) {
			/* resourceDesc and mimeType are required by CAP 1.2. */
			if ((rc = get_one(c, fields[f], f < 2, w, &s, cause)) == 0)
				take_str(r, fields[f], &s);
		}
		/* derefUri carries the whole file in base64: noted, not kept. */
		if (rc == 0 && (rc = get_one(c, "derefUri", 0, w, &s, cause)) == 0 && s) {
			json_object_set_new(r, "derefUri_omitted", json_true());
			free(s);
			s = NULL;
		}
	}
	if (arr && rc == 0)
		json_object_set_new(jinfo, "resource", arr);
	else
		json_decref(arr);
	return rc;
}

static int
parse_info(xmlNode *info, int index, json_t *jinfo, struct cap_info *ci, char **cause)
{
	char where[32], w[64], *s = NULL;
	int rc, urg, sev, cert, nareas = 0;
	json_t *list;
	snprintf(where, sizeof where, "info[%d]", index);
	ci->priority = 3;

	if ((rc = get_one(info, "language", 0, where, &s, cause)))
		return rc;
	if (s == NULL)
		s = xstrdup("en-US"); /* the CAP default */
	take_str(jinfo, "language", &s);
	ci->language = json_string_value(json_object_get(jinfo, "language"));

	if ((rc = get_list(info, "category", cap_category, where, &list, &ci->category, cause)))
		return rc;
	if (list == NULL)
		return srv_fail(cause, SRV_E_MISSING_FIELD, "%s: <category> is required", where);
	json_object_set_new(jinfo, "category", list);

	if ((rc = get_one(info, "event", 1, where, &s, cause)))
		return rc;
	take_str(jinfo, "event", &s);
	ci->event = json_string_value(json_object_get(jinfo, "event"));

	if ((rc = get_list(info, "responseType", cap_response, where, &list, NULL, cause)))
		return rc;
	if (list)
		json_object_set_new(jinfo, "responseType", list);

	if ((rc = get_enum(info, "urgency", cap_urgency, 1, where, &s, &urg, cause)))
		goto fail;
	take_str(jinfo, "urgency", &s);
	if ((rc = get_enum(info, "severity", cap_severity, 1, where, &s, &sev, cause)))
		goto fail;
	take_str(jinfo, "severity", &s);
	if ((rc = get_enum(info, "certainty", cap_certainty, 1, where, &s, &cert, cause)))
		goto fail;
	take_str(jinfo, "certainty", &s);
	ci->priority = cap_priority[sev][urg];

	if ((rc = get_one(info, "audience", 0, where, &s, cause)))
		return rc;
	take_str(jinfo, "audience", &s);
	if ((rc = get_pairs(info, "eventCode", where, &list, cause)))
		return rc;
	if (list)
		json_object_set_new(jinfo, "eventCode", list);

	static const char *const times[] = { "effective", "onset", "expires" };
	for (int i = 0; i < 3; i++) {
		int64_t us;
		if ((rc = get_time(info, times[i], 0, where, &s, &us, cause)))
			goto fail;
		take_str(jinfo, times[i], &s);
	}
	static const char *const texts[] = { "senderName", "headline", "description", "instruction",
		"web", "contact" };
	for (int i = 0; i < 6; i++) {
		if ((rc = get_one(info, texts[i], 0, where, &s, cause)))
			return rc;
		take_str(jinfo, texts[i], &s);
	}
	ci->headline = json_string_value(json_object_get(jinfo, "headline"));
	ci->description = json_string_value(json_object_get(jinfo, "description"));

	if ((rc = get_pairs(info, "parameter", where, &list, cause)))
		return rc;
	if (list)
		json_object_set_new(jinfo, "parameter", list);
	if ((rc = parse_resources(info, where, jinfo, cause)))
		return rc;

	json_t *areas = json_array();
	for (xmlNode *c = info->children; c; c = c->next) {
		if (!is_el(c, "area"))
			continue;
		snprintf(w, sizeof w, "%s.area[%d]", where, ++nareas);
		json_t *ja = json_object();
		json_array_append_new(areas, ja);
		if ((rc = parse_area(c, w, ja, ci, cause))) {
			json_decref(areas);
			return rc;
		}
	}
	if (nareas)
		json_object_set_new(jinfo, "area", areas);
	else
		json_decref(areas);
	return 0;
fail:
	free(s);
	return rc;
}

/*
 * Refuse XInclude anywhere: it is never processed, and a CAP alert has no
 * use for it. An iterative walk, so no nesting depth matters.
 */
static int
has_xinclude(xmlNode *root)
{
	xmlNode *n = root;
	while (n) {
		if (n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
		    (strcmp((const char *)n->ns->href, XINCLUDE_NS) == 0 ||
			strcmp((const char *)n->ns->href, XINCLUDE_OLD_NS) == 0))
			return 1;
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
			continue;
		}
		while (n && n != root && n->next == NULL)
			n = n->parent;
		if (n == NULL || n == root)
			break;
		n = n->next;
	}
	return 0;
}

/* Identifiers and senders are used in "sender,identifier,sent" references. */
static int
check_ident(const char *v, const char *where, const char *name, char **cause)
{
	for (const char *p = v; *p; p++)
		if (is_space(*p) || *p == ',')
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s: <%s> must not contain spaces or commas (CAP 1.2)", where, name);
	return 0;
}

/* Parse <references> into the details and (rep not NULL) the report's targets. */
static int
parse_references(const char *text, json_t *details, struct gw_report *rep, char **cause)
{
	size_t pos = 0, n;
	const char *tok;
	json_t *refs = json_array();
	while (next_token(text, &pos, &tok, &n)) {
		char *t = xstrndup(tok, n), *c1 = strchr(t, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
		int64_t us;
		if (c1 == NULL || c2 == NULL || strchr(c2 + 1, ',') || c1 == t || c2 == c1 + 1 ||
		    c2[1] == '\0') {
			int rc = srv_fail(cause, SRV_E_BAD_FIELD,
			    "alert: <references> entry '%.80s' is not \"sender,identifier,sent\"", t);
			free(t);
			json_decref(refs);
			return rc;
		}
		*c1 = *c2 = '\0';
		if (srv_parse_time(c2 + 1, &us) != 0) {
			int rc = srv_fail(cause, SRV_E_BAD_FIELD,
			    "alert: <references> entry for '%.64s' has sent '%.40s', not a CAP dateTime",
			    c1 + 1, c2 + 1);
			free(t);
			json_decref(refs);
			return rc;
		}
		json_array_append_new(refs, json_pack("{s:s,s:s,s:s}", "sender", t, "identifier",
						c1 + 1, "sent", c2 + 1));
		if (rep) {
			/* The same key as the referenced alert's own: sender/identifier. */
			char *key = xasprintf("%s/%s", t, c1 + 1);
			char *ref = gw_ext_ref_from(key, NULL);
			free(key);
			gw_report_add_target(rep, ref);
			free(ref);
		}
		free(t);
	}
	json_object_set_new(details, "references", refs);
	return 0;
}

/* The info block the title comes from: zh-CN, else another zh, else the first. */
static int
preferred_info(const struct cap_info *ci, int n)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(ci[i].language, "zh-CN") == 0)
			return i;
	for (int i = 0; i < n; i++)
		if (strncasecmp(ci[i].language, "zh", 2) == 0)
			return i;
	return 0;
}

static int
cap_parse(const struct gw_host *host, const char *body, size_t len, struct gw_report *rep,
    char **cause)
{
	struct incident *inc = &rep->inc;
	xmlDoc *doc = NULL;
	json_t *details = json_object();
	struct cap_info *infos = NULL;
	int ninfo = 0, rc, status, msgtype, scope, derived;
	json_t *codes, *jinfos;
	char *s = NULL, *identifier = NULL, *sender = NULL;
	int64_t sent;

	memset(rep, 0, sizeof *rep);
	if ((rc = gw_xml_read_safe(body, len, "the CAP alert", &doc, cause)))
		goto done;
	xmlNode *root = xmlDocGetRootElement(doc);
	if (!is_el(root, "alert")) {
		const char *ns = root->ns && root->ns->href ? (const char *)root->ns->href : "";
		rc = srv_fail(cause, SRV_E_BAD_FIELD,
		    "not a CAP 1.2 alert: the root element is <%.40s> in namespace '%.80s', expected "
		    "<alert> in " CAP_NS "%s",
		    (const char *)root->name, ns,
		    strstr(ns, "emergency:cap:1.") ? " (only CAP 1.2 is accepted)" : "");
		goto done;
	}
	if (has_xinclude(root)) {
		rc = srv_fail(cause, SRV_E_BAD_FIELD, "the CAP alert uses XInclude, which is refused");
		goto done;
	}

	json_object_set_new(details, "format", json_string("CAP 1.2"));
	if ((rc = get_one(root, "identifier", 1, "alert", &identifier, cause)) ||
	    (rc = check_ident(identifier, "alert", "identifier", cause)) ||
	    (rc = get_one(root, "sender", 1, "alert", &sender, cause)) ||
	    (rc = check_ident(sender, "alert", "sender", cause)))
		goto done;
	set_str(details, "identifier", identifier);
	set_str(details, "sender", sender);
	if ((rc = get_time(root, "sent", 1, "alert", &s, &sent, cause)))
		goto done;
	take_str(details, "sent", &s);
	if ((rc = get_enum(root, "status", cap_status, 1, "alert", &s, &status, cause)))
		goto done;
	take_str(details, "status", &s);
	if ((rc = get_enum(root, "msgType", cap_msgtype, 1, "alert", &s, &msgtype, cause)))
		goto done;
	take_str(details, "msgType", &s);
	if ((rc = get_one(root, "source", 0, "alert", &s, cause)))
		goto done;
	take_str(details, "source", &s);
	if ((rc = get_enum(root, "scope", cap_scope, 1, "alert", &s, &scope, cause)))
		goto done;
	take_str(details, "scope", &s);
	static const char *const opt[] = { "restriction", "addresses", "note", "incidents" };
	for (int i = 0; i < 4; i++) {
		if ((rc = get_one(root, opt[i], 0, "alert", &s, cause)))
			goto done;
		take_str(details, opt[i], &s);
	}
	if ((rc = get_list(root, "code", NULL, "alert", &codes, NULL, cause)))
		goto done;
	if (codes)
		json_object_set_new(details, "code", codes);

	/* What the message asks: only alerts and their updates and cancels act. */
	if (msgtype == 3 || msgtype == 4) {
		rc = srv_fail(cause, SRV_E_BAD_FIELD,
		    "msgType %s is an acknowledgement or error report, not an alert: nothing to act on",
		    cap_msgtype[msgtype]);
		goto done;
	}
	if (status == 2 || status == 3 || status == 4) {
		rc = srv_fail(cause, SRV_E_BAD_FIELD,
		    "status %s: system, test and draft messages are not acted on (only Actual and "
		    "Exercise)",
		    cap_status[status]);
		goto done;
	}
	if ((rc = get_one(root, "references", 0, "alert", &s, cause)))
		goto done;
	if (s) {
		/* Only an update or a cancel acts on what it references. */
		rc = parse_references(s, details, msgtype == 1 || msgtype == 2 ? rep : NULL, cause);
		free(s);
		s = NULL;
		if (rc)
			goto done;
	}
	if ((msgtype == 1 || msgtype == 2) && rep->ntargets == 0) {
		rc = srv_fail(cause, SRV_E_MISSING_FIELD,
		    "alert: msgType %s needs <references> naming the alert it acts on",
		    cap_msgtype[msgtype]);
		goto done;
	}

	jinfos = json_array();
	json_object_set_new(details, "info", jinfos);
	for (xmlNode *c = root->children; c; c = c->next) {
		if (!is_el(c, "info"))
			continue;
		infos = xrealloc(infos, sizeof *infos * (size_t)(ninfo + 1));
		memset(&infos[ninfo], 0, sizeof *infos);
		json_t *ji = json_object();
		json_array_append_new(jinfos, ji);
		rc = parse_info(c, ninfo + 1, ji, &infos[ninfo], cause);
		ninfo++;
		if (rc)
			goto done;
	}

	/* The incident. */
	/* CAP identifiers are unique per sender only: the report is sender/identifier. */
	char *key = xasprintf("%s/%s", sender, identifier);
	inc->ext_ref = gw_ext_ref_from(key, &derived);
	free(key);
	if (derived)
		json_object_set_new(details, "ext_ref_derived", json_true());
	inc->line = INC_LINE_OTHER;
	inc->status = INC_ST_NEW;
	inc->reported_at = sent;
	inc->category = INC_CAT_OTHER;
	inc->priority = 3;
	const char *prefix = status == 1 ? "[Exercise] " : "";
	char *title;
	if (ninfo > 0) {
		int p = preferred_info(infos, ninfo);
		struct cap_info *pi = &infos[p];
		inc->category = cap_category_map[pi->category];
		inc->type = xasprintf("cap.%s", cap_category[pi->category]);
		for (char *t = inc->type; *t; t++)
			if (*t >= 'A' && *t <= 'Z')
				*t = (char)(*t - 'A' + 'a');
		/* The most urgent block decides: they may cover different areas or times. */
		inc->priority = infos[0].priority;
		for (int i = 1; i < ninfo; i++)
			if (infos[i].priority < inc->priority)
				inc->priority = infos[i].priority;
		title = xasprintf("%s%s", prefix, pi->headline ? pi->headline : pi->event);
		inc->description = gw_text_clip(pi->description, INC_DESCRIPTION_MAX);
		inc->address = gw_text_clip(pi->address, INC_ADDRESS_MAX);
		/* Position: the preferred block's first shape, else another block's. */
		for (int k = -1; k < ninfo && !inc->has_position; k++) {
			struct cap_info *ci = k < 0 ? pi : &infos[k];
			if (ci->has_pos) {
				inc->has_position = 1;
				inc->lon = ci->lon;
				inc->lat = ci->lat;
			}
		}
	} else {
		title = xasprintf("%sCAP %s %s from %s", prefix, cap_msgtype[msgtype], identifier,
		    sender);
	}
	inc->title = gw_text_clip(title, INC_TITLE_MAX);
	free(title);

	switch (msgtype) {
	case 1:
		rep->action = GW_UPDATE;
		break;
	case 2:
		rep->action = GW_CANCEL;
		break;
	default:
		rep->action = GW_REPORT;
	}
	rep->version = 0; /* CAP gives every update a new identifier */

	if ((rc = gw_details_fit(details, "the CAP alert", &inc->details, cause)))
		goto done;
	rc = inc_validate(inc, cause);
	(void)host;
done:
	for (int i = 0; i < ninfo; i++)
		free(infos[i].address);
	free(infos);
	free(identifier);
	free(sender);
	free(s);
	json_decref(details);
	xmlFreeDoc(doc);
	if (rc)
		gw_report_clear(rep);
	return rc;
}

static const char *const cap_types[] = { "application/cap+xml", "application/xml", "text/xml",
	NULL };

const struct gw_adapter gw_cap = {
	.api_version = GW_API_VERSION,
	.name = "cap",
	.summary = "OASIS CAP 1.2 alerts (weather, earthquake and other bureaus); Update/Cancel by "
		   "references",
	.content_types = cap_types,
	.line = INC_LINE_OTHER,
	.parse = cap_parse,
};
