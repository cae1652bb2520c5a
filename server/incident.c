/* incident.c - see incident.h. */
#include "incident.h"
#include "srv_json.h"
#include "srv_error.h"
#include "srv_util.h"
#include "gis_coord.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const line_names[INC_LINE_N] = { "110", "119", "120", "122", "other" };
static const char *const cat_names[INC_CAT_N] = { "natural_disaster", "accident", "public_health",
	"social_security", "other" };
static const char *const status_names[INC_ST_N] = { "new", "acknowledged", "dispatched",
	"en_route", "on_scene", "resolved", "closed", "cancelled", "unfounded" };

static int
lookup(const char *const *names, int n, const char *s)
{
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

const char *inc_line_name(enum inc_line l) { return line_names[l]; }
const char *inc_category_name(enum inc_category c) { return cat_names[c]; }
const char *inc_status_name(enum inc_status s) { return status_names[s]; }
int inc_line_parse(const char *s) { return lookup(line_names, INC_LINE_N, s); }
int inc_category_parse(const char *s) { return lookup(cat_names, INC_CAT_N, s); }
int inc_status_parse(const char *s) { return lookup(status_names, INC_ST_N, s); }

int
inc_status_is_final(enum inc_status s)
{
	return s >= INC_ST_RESOLVED;
}

/*
 * Allowed moves, by bit of the target status. Forward steps may be skipped
 * where the field does (a unit reports on scene without en route). A
 * resolved incident may be reopened (back to acknowledged); closed,
 * cancelled and unfounded are final. Cancelled (the caller or agency
 * withdrew) is possible until someone is on scene; unfounded (nothing found,
 * a false report) until it is resolved.
 */
#define B(s) (1u << (s))
static const unsigned transitions[INC_ST_N] = {
	[INC_ST_NEW] = B(INC_ST_ACKNOWLEDGED) | B(INC_ST_DISPATCHED) | B(INC_ST_CANCELLED) |
	    B(INC_ST_UNFOUNDED),
	[INC_ST_ACKNOWLEDGED] = B(INC_ST_DISPATCHED) | B(INC_ST_CANCELLED) | B(INC_ST_UNFOUNDED),
	[INC_ST_DISPATCHED] = B(INC_ST_EN_ROUTE) | B(INC_ST_ON_SCENE) | B(INC_ST_RESOLVED) |
	    B(INC_ST_CANCELLED) | B(INC_ST_UNFOUNDED),
	[INC_ST_EN_ROUTE] = B(INC_ST_ON_SCENE) | B(INC_ST_RESOLVED) | B(INC_ST_CANCELLED) |
	    B(INC_ST_UNFOUNDED),
	[INC_ST_ON_SCENE] = B(INC_ST_RESOLVED) | B(INC_ST_UNFOUNDED),
	[INC_ST_RESOLVED] = B(INC_ST_CLOSED) | B(INC_ST_ACKNOWLEDGED),
	[INC_ST_CLOSED] = 0,
	[INC_ST_CANCELLED] = 0,
	[INC_ST_UNFOUNDED] = 0,
};

int
inc_transition_allowed(enum inc_status from, enum inc_status to)
{
	return from < INC_ST_N && to < INC_ST_N && (transitions[from] & B(to)) != 0;
}
#undef B

const char *
inc_transitions_from(enum inc_status from)
{
	static char lists[INC_ST_N][160];
	char *out = lists[from];
	if (out[0] == '\0') {
		size_t n = 0;
		for (int t = 0; t < INC_ST_N; t++)
			if (inc_transition_allowed(from, (enum inc_status)t))
				n += (size_t)snprintf(out + n, sizeof lists[0] - n, "%s%s", n ? ", " : "",
				    status_names[t]);
		if (n == 0)
			snprintf(out, sizeof lists[0], "none (final)");
	}
	return out;
}

void
inc_stamp_transition(struct incident *inc, enum inc_status to, int64_t now)
{
#define STAMP(f) do { if (inc->f == 0) inc->f = now; } while (0)
	switch (to) {
	case INC_ST_NEW:
		break;
	case INC_ST_ACKNOWLEDGED:
		STAMP(acknowledged_at);
		break;
	case INC_ST_DISPATCHED:
		STAMP(acknowledged_at);
		STAMP(dispatched_at);
		break;
	case INC_ST_EN_ROUTE:
		STAMP(acknowledged_at);
		STAMP(dispatched_at);
		STAMP(en_route_at);
		break;
	case INC_ST_ON_SCENE:
		STAMP(acknowledged_at);
		STAMP(dispatched_at);
		STAMP(on_scene_at);
		break;
	case INC_ST_RESOLVED:
		STAMP(resolved_at);
		break;
	case INC_ST_CLOSED:
	case INC_ST_CANCELLED:
	case INC_ST_UNFOUNDED:
		STAMP(closed_at);
		break;
	case INC_ST_N:
		break;
	}
#undef STAMP
	if (to != INC_ST_NEW)
		inc->ack_due_at = 0;
}

void
inc_clear(struct incident *inc)
{
	if (inc == NULL)
		return;
	free(inc->plan);
	free(inc->scope);
	free(inc->dispatch);
	json_decref(inc->dispatch_json);
	free(inc->source);
	free(inc->ext_ref);
	free(inc->type);
	free(inc->title);
	free(inc->description);
	free(inc->address);
	free(inc->details);
	free(inc->district_code);
	free(inc->district_name);
	memset(inc, 0, sizeof *inc);
}

void
inc_patch_clear(struct inc_patch *p)
{
	if (p == NULL)
		return;
	inc_clear(&p->v);
	p->mask = 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
inc_copy(struct incident *dst, const struct incident *src)
{
	*dst = *src;
	dst->source = dup_or_null(src->source);
	dst->ext_ref = dup_or_null(src->ext_ref);
	dst->type = dup_or_null(src->type);
	dst->title = dup_or_null(src->title);
	dst->description = dup_or_null(src->description);
	dst->address = dup_or_null(src->address);
	dst->details = dup_or_null(src->details);
	dst->district_code = dup_or_null(src->district_code);
	dst->district_name = dup_or_null(src->district_name);
	dst->plan = dup_or_null(src->plan);
	dst->scope = dup_or_null(src->scope);
	dst->dispatch = dup_or_null(src->dispatch);
	dst->dispatch_json = json_incref(src->dispatch_json);
}

/* Text must be valid UTF-8 without control characters other than \n \r \t. */
static int
check_text(const char *field, const char *s, size_t max_chars, int required, char **cause)
{
	if (s == NULL || *s == '\0') {
		if (required)
			return srv_fail(cause, SRV_E_MISSING_FIELD, "%s is required", field);
		return 0;
	}
	size_t n = strlen(s);
	if (!srv_utf8_valid(s, n))
		return srv_fail(cause, SRV_E_BAD_UTF8, "%s is not valid UTF-8", field);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 && *p != '\n' && *p != '\r' && *p != '\t')
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s contains a control character",
			    field);
	if (srv_utf8_len(s) > max_chars)
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s is longer than %zu characters", field,
		    max_chars);
	return 0;
}

static int
check_code(const char *field, const char *s, size_t max, char **cause)
{
	if (s == NULL)
		return 0;
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be 1-%zu characters", field, max);
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			strchr("._:/-", *p)))
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s may hold only letters, digits and . _ : / -", field);
	return 0;
}

int
inc_validate(const struct incident *inc, char **cause)
{
	int rc;
	if ((unsigned)inc->line >= INC_LINE_N)
		return srv_fail(cause, SRV_E_BAD_FIELD, "line is not 110, 119, 120, 122 or other");
	if ((unsigned)inc->category >= INC_CAT_N)
		return srv_fail(cause, SRV_E_BAD_FIELD, "category is unknown");
	if ((unsigned)inc->status >= INC_ST_N)
		return srv_fail(cause, SRV_E_BAD_FIELD, "status is unknown");
	if (inc->priority < 1 || inc->priority > 4)
		return srv_fail(cause, SRV_E_BAD_FIELD, "priority must be 1 (most urgent) to 4");
	if ((rc = check_text("title", inc->title, INC_TITLE_MAX, 1, cause)) ||
	    (rc = check_text("description", inc->description, INC_DESCRIPTION_MAX, 0, cause)) ||
	    (rc = check_text("address", inc->address, INC_ADDRESS_MAX, 0, cause)) ||
	    (rc = check_code("ext_ref", inc->ext_ref, INC_EXT_REF_MAX, cause)) ||
	    (rc = check_code("type", inc->type, INC_TYPE_MAX, cause)))
		return rc;
	if (inc->has_position && gis_lonlat_check(inc->lon, inc->lat, cause) != 0)
		return SRV_E_BAD_FIELD;
	if (inc->details && strlen(inc->details) > INC_DETAILS_MAX)
		return srv_fail(cause, SRV_E_BAD_FIELD, "details is larger than %d bytes",
		    INC_DETAILS_MAX);
	/* A report from further than a day in the future is a clock or format error. */
	if (inc->reported_at > srv_now_us() + 86400LL * 1000000)
		return srv_fail(cause, SRV_E_BAD_FIELD, "reported_at is more than a day in the future");
	return 0;
}

/* --- JSON reading ------------------------------------------------------- */

static int
get_string(json_t *v, const char *field, char **out, char **cause)
{
	if (json_is_null(v)) {
		*out = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be a string", field);
	free(*out);
	*out = xstrndup(json_string_value(v), json_string_length(v));
	if (strlen(*out) != json_string_length(v))
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s contains a NUL character", field);
	return 0;
}

static int
get_enum(json_t *v, const char *field, int (*parse)(const char *), int *out, char **cause)
{
	if (!json_is_string(v))
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s must be a string", field);
	int n = parse(json_string_value(v));
	if (n < 0)
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s '%s' is not one of the known values",
		    field, json_string_value(v));
	*out = n;
	return 0;
}

static int
get_position(json_t *obj, struct incident *out, char **cause)
{
	json_t *lon = json_object_get(obj, "lon"), *lat = json_object_get(obj, "lat");
	if (lon == NULL && lat == NULL)
		return 0;
	if (json_is_null(lon) && json_is_null(lat)) {
		out->has_position = 0;
		return 0;
	}
	if (!json_is_number(lon) || !json_is_number(lat))
		return srv_fail(cause, SRV_E_BAD_FIELD, "lon and lat must both be numbers");
	out->lon = json_number_value(lon);
	out->lat = json_number_value(lat);
	out->has_position = 1;
	if (gis_lonlat_check(out->lon, out->lat, cause) != 0)
		return SRV_E_BAD_FIELD;
	return 0;
}

/*
 * Read the fields present in obj into out. With mask non-NULL (patch mode)
 * the creation-only fields are refused and a bit is set per field seen.
 */
static int
read_fields(json_t *obj, struct incident *out, unsigned *mask, char **cause)
{
	if (!json_is_object(obj))
		return srv_fail(cause, SRV_E_BAD_FIELD, "the body must be a JSON object");
	const char *key;
	json_t *v;
	int rc = 0, n = 0;
	unsigned seen = 0;
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "lon") == 0 || strcmp(key, "lat") == 0) {
			seen |= INC_F_POSITION;
			continue;
		}
		if (mask == NULL && strcmp(key, "line") == 0) {
			if ((rc = get_enum(v, key, inc_line_parse, &n, cause)))
				return rc;
			out->line = (enum inc_line)n;
		} else if (mask == NULL && strcmp(key, "ext_ref") == 0) {
			rc = get_string(v, key, &out->ext_ref, cause);
		} else if (mask == NULL && strcmp(key, "reported_at") == 0) {
			int64_t t;
			if (!json_is_string(v) || srv_parse_time(json_string_value(v), &t) != 0)
				return srv_fail(cause, SRV_E_BAD_FIELD,
				    "reported_at must be an RFC 3339 time such as 2026-11-24T08:30:00+08:00");
			out->reported_at = t;
		} else if (mask == NULL && strcmp(key, "details") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_object(v))
				return srv_fail(cause, SRV_E_BAD_FIELD, "details must be an object");
			free(out->details);
			out->details = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		} else if (strcmp(key, "category") == 0) {
			seen |= INC_F_CATEGORY;
			if ((rc = get_enum(v, key, inc_category_parse, &n, cause)))
				return rc;
			out->category = (enum inc_category)n;
		} else if (strcmp(key, "status") == 0) {
			seen |= INC_F_STATUS;
			if ((rc = get_enum(v, key, inc_status_parse, &n, cause)))
				return rc;
			out->status = (enum inc_status)n;
		} else if (strcmp(key, "priority") == 0) {
			seen |= INC_F_PRIORITY;
			if (!json_is_integer(v))
				return srv_fail(cause, SRV_E_BAD_FIELD, "priority must be an integer 1-4");
			json_int_t p = json_integer_value(v);
			if (p < 1 || p > 4)
				return srv_fail(cause, SRV_E_BAD_FIELD, "priority must be 1 (most urgent) to 4");
			out->priority = (int)p;
		} else if (strcmp(key, "type") == 0) {
			seen |= INC_F_TYPE;
			rc = get_string(v, key, &out->type, cause);
		} else if (strcmp(key, "title") == 0) {
			seen |= INC_F_TITLE;
			rc = get_string(v, key, &out->title, cause);
		} else if (strcmp(key, "description") == 0) {
			seen |= INC_F_DESCRIPTION;
			rc = get_string(v, key, &out->description, cause);
		} else if (strcmp(key, "address") == 0) {
			seen |= INC_F_ADDRESS;
			rc = get_string(v, key, &out->address, cause);
		} else {
			return srv_fail(cause, SRV_E_BAD_FIELD, "unknown field '%s'%s", key,
			    mask ? " (or not changeable by PATCH)" : "");
		}
		if (rc)
			return rc;
	}
	if ((rc = get_position(obj, out, cause)))
		return rc;
	if (mask)
		*mask = seen;
	return 0;
}

int
inc_from_json(json_t *obj, struct incident *out, char **cause)
{
	memset(out, 0, sizeof *out);
	out->line = INC_LINE_OTHER;
	out->category = INC_CAT_OTHER;
	out->priority = 3;
	out->status = INC_ST_NEW;
	if (json_is_object(obj) && json_object_get(obj, "priority") == NULL)
		return srv_fail(cause, SRV_E_MISSING_FIELD, "priority is required");
	if (json_is_object(obj) && json_object_get(obj, "line") == NULL)
		return srv_fail(cause, SRV_E_MISSING_FIELD, "line is required");
	int rc = read_fields(obj, out, NULL, cause);
	if (rc == 0 && out->title == NULL)
		rc = srv_fail(cause, SRV_E_MISSING_FIELD, "title is required");
	if (rc == 0)
		rc = inc_validate(out, cause);
	return rc;
}

int
inc_patch_from_json(json_t *obj, struct inc_patch *out, char **cause)
{
	memset(out, 0, sizeof *out);
	int rc = read_fields(obj, &out->v, &out->mask, cause);
	if (rc)
		return rc;
	if (out->mask == 0)
		return srv_fail(cause, SRV_E_BAD_FIELD, "the patch changes nothing");
	if ((out->mask & INC_F_TITLE) &&
	    (rc = check_text("title", out->v.title, INC_TITLE_MAX, 1, cause)))
		return rc;
	if ((rc = check_text("description", out->v.description, INC_DESCRIPTION_MAX, 0, cause)) ||
	    (rc = check_text("address", out->v.address, INC_ADDRESS_MAX, 0, cause)) ||
	    (rc = check_code("type", out->v.type, INC_TYPE_MAX, cause)))
		return rc;
	return 0;
}

static void
replace(char **dst, const char *src)
{
	free(*dst);
	*dst = dup_or_null(src);
}

void
inc_apply_patch(struct incident *inc, const struct inc_patch *p)
{
	unsigned m = p->mask;
	if (m & INC_F_STATUS)
		inc->status = p->v.status;
	if (m & INC_F_PRIORITY)
		inc->priority = p->v.priority;
	if (m & INC_F_CATEGORY)
		inc->category = p->v.category;
	if (m & INC_F_TYPE)
		replace(&inc->type, p->v.type);
	if (m & INC_F_TITLE)
		replace(&inc->title, p->v.title);
	if (m & INC_F_DESCRIPTION)
		replace(&inc->description, p->v.description);
	if (m & INC_F_ADDRESS)
		replace(&inc->address, p->v.address);
	if (m & INC_F_POSITION) {
		inc->has_position = p->v.has_position;
		inc->lon = p->v.lon;
		inc->lat = p->v.lat;
	}
}

static json_t *
str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *
time_json(int64_t us)
{
	if (us == 0)
		return json_null();
	char buf[40];
	srv_fmt_time(us, 0, buf, sizeof buf);
	return json_string(buf);
}

char *
inc_scope_key(const struct incident *in)
{
	return xasprintf("%s|%s", in->scope ? in->scope : inc_line_name(in->line),
	    in->district_code ? in->district_code : "");
}

int
inc_scope_has(const struct incident *inc, const char *agency)
{
	return srv_csv_has(inc->scope ? inc->scope : inc_line_name(inc->line), agency);
}

static void
jb_key(struct srv_jbuf *b, const char *key)
{
	srv_jb_char(b, ',');
	srv_jb_str(b, key);
	srv_jb_char(b, ':');
}

static void
jb_time_value(struct srv_jbuf *b, int64_t us)
{
	if (us == 0) {
		srv_jb_raw(b, "null", 4);
		return;
	}
	char buf[40];
	srv_fmt_time(us, 0, buf, sizeof buf);
	srv_jb_str(b, buf);
}

static void
jb_time(struct srv_jbuf *b, const char *key, int64_t us)
{
	jb_key(b, key);
	jb_time_value(b, us);
}

/* A coordinate rounded to 1e-7 degree as inc_to_json writes it, or null without a position. */
static void
jb_degrees(struct srv_jbuf *b, const char *key, int has_position, double deg)
{
	jb_key(b, key);
	if (has_position)
		srv_jb_real(b, round(deg * 1e7) / 1e7);
	else
		srv_jb_raw(b, "null", 4);
}

/* A stored JSON document as a value, or null when there is none (or it does not parse). */
static void
jb_stored(struct srv_jbuf *b, const char *text)
{
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;
	if (v)
		srv_jb_value(b, v);
	else
		srv_jb_raw(b, "null", 4);
	json_decref(v);
}

char *
inc_to_text(const struct incident *inc, size_t *len)
{
	struct srv_jbuf b = { 0 };
	srv_jb_raw(&b, "{\"id\":", 6);
	srv_jb_int(&b, inc->id);
	jb_key(&b, "line");
	srv_jb_str(&b, inc_line_name(inc->line));
	jb_key(&b, "source");
	srv_jb_str(&b, inc->source);
	jb_key(&b, "ext_ref");
	srv_jb_str(&b, inc->ext_ref);
	jb_key(&b, "category");
	srv_jb_str(&b, inc_category_name(inc->category));
	jb_key(&b, "type");
	srv_jb_str(&b, inc->type);
	jb_key(&b, "priority");
	srv_jb_int(&b, inc->priority);
	jb_key(&b, "status");
	srv_jb_str(&b, inc_status_name(inc->status));
	jb_key(&b, "title");
	srv_jb_str(&b, inc->title);
	jb_key(&b, "description");
	srv_jb_str(&b, inc->description);
	jb_key(&b, "address");
	srv_jb_str(&b, inc->address);
	jb_degrees(&b, "lon", inc->has_position, inc->lon);
	jb_degrees(&b, "lat", inc->has_position, inc->lat);
	jb_key(&b, "district");
	if (inc->district_code) {
		srv_jb_raw(&b, "{\"code\":", 8);
		srv_jb_str(&b, inc->district_code);
		jb_key(&b, "name");
		srv_jb_str(&b, inc->district_name);
		srv_jb_char(&b, '}');
	} else {
		srv_jb_raw(&b, "null", 4);
	}
	jb_key(&b, "details");
	jb_stored(&b, inc->details);
	jb_time(&b, "reported_at", inc->reported_at);
	jb_time(&b, "created_at", inc->created_at);
	jb_time(&b, "updated_at", inc->updated_at);
	jb_key(&b, "version");
	srv_jb_int(&b, inc->version);
	jb_key(&b, "times");
	srv_jb_raw(&b, "{\"acknowledged_at\":", 19);
	jb_time_value(&b, inc->acknowledged_at);
	jb_time(&b, "dispatched_at", inc->dispatched_at);
	jb_time(&b, "en_route_at", inc->en_route_at);
	jb_time(&b, "on_scene_at", inc->on_scene_at);
	jb_time(&b, "resolved_at", inc->resolved_at);
	jb_time(&b, "closed_at", inc->closed_at);
	srv_jb_char(&b, '}');
	jb_time(&b, "ack_due_at", inc->ack_due_at);
	jb_time(&b, "escalated_at", inc->escalated_at);
	jb_key(&b, "alarm_level");
	srv_jb_int(&b, inc->alarm_level);
	jb_key(&b, "plan");
	srv_jb_str(&b, inc->plan);
	jb_key(&b, "merged_into");
	if (inc->merged_into)
		srv_jb_int(&b, inc->merged_into);
	else
		srv_jb_raw(&b, "null", 4);
	jb_key(&b, "agencies");
	srv_jb_char(&b, '[');
	for (const char *p = inc->scope; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);
		if (p != inc->scope)
			srv_jb_char(&b, ',');
		srv_jb_strn(&b, p, n);
		p += n + (comma ? 1 : 0);
	}
	srv_jb_char(&b, ']');
	json_t *d = inc->dispatch_json ? json_incref(inc->dispatch_json)
	    : inc->dispatch		  ? json_loads(inc->dispatch, 0, NULL)
					  : NULL;
	const char *const parts[] = { "tasks", "units", "links" };
	for (int i = 0; i < 3; i++) {
		json_t *v = d ? json_object_get(d, parts[i]) : NULL;
		jb_key(&b, parts[i]);
		if (json_is_array(v))
			srv_jb_value(&b, v);
		else
			srv_jb_raw(&b, "[]", 2);
	}
	json_decref(d);
	srv_jb_char(&b, '}');
	return srv_jb_finish(&b, len);
}

json_t *
inc_to_json(const struct incident *inc)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(inc->id));
	json_object_set_new(o, "line", json_string(inc_line_name(inc->line)));
	json_object_set_new(o, "source", str_or_null(inc->source));
	json_object_set_new(o, "ext_ref", str_or_null(inc->ext_ref));
	json_object_set_new(o, "category", json_string(inc_category_name(inc->category)));
	json_object_set_new(o, "type", str_or_null(inc->type));
	json_object_set_new(o, "priority", json_integer(inc->priority));
	json_object_set_new(o, "status", json_string(inc_status_name(inc->status)));
	json_object_set_new(o, "title", str_or_null(inc->title));
	json_object_set_new(o, "description", str_or_null(inc->description));
	json_object_set_new(o, "address", str_or_null(inc->address));
	if (inc->has_position) {
		/* Round to 1e-7 degree (about 1 cm): more digits are noise, not precision. */
		json_object_set_new(o, "lon", json_real(round(inc->lon * 1e7) / 1e7));
		json_object_set_new(o, "lat", json_real(round(inc->lat * 1e7) / 1e7));
	} else {
		json_object_set_new(o, "lon", json_null());
		json_object_set_new(o, "lat", json_null());
	}
	json_object_set_new(o, "district", inc->district_code
		? json_pack("{s:s, s:s?}", "code", inc->district_code, "name", inc->district_name)
		: json_null());
	json_t *details = inc->details ? json_loads(inc->details, 0, NULL) : NULL;
	json_object_set_new(o, "details", details ? details : json_null());
	json_object_set_new(o, "reported_at", time_json(inc->reported_at));
	json_object_set_new(o, "created_at", time_json(inc->created_at));
	json_object_set_new(o, "updated_at", time_json(inc->updated_at));
	json_object_set_new(o, "version", json_integer(inc->version));
	json_object_set_new(o, "times", json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
	    "acknowledged_at", time_json(inc->acknowledged_at),
	    "dispatched_at", time_json(inc->dispatched_at),
	    "en_route_at", time_json(inc->en_route_at),
	    "on_scene_at", time_json(inc->on_scene_at),
	    "resolved_at", time_json(inc->resolved_at),
	    "closed_at", time_json(inc->closed_at)));
	json_object_set_new(o, "ack_due_at", time_json(inc->ack_due_at));
	json_object_set_new(o, "escalated_at", time_json(inc->escalated_at));
	json_object_set_new(o, "alarm_level", json_integer(inc->alarm_level));
	json_object_set_new(o, "plan", str_or_null(inc->plan));
	json_object_set_new(o, "merged_into", inc->merged_into ? json_integer(inc->merged_into)
							     : json_null());
	json_t *agencies = json_array();
	for (const char *p = inc->scope; p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		json_array_append_new(agencies, json_stringn(p, len));
		p += len + (comma ? 1 : 0);
	}
	json_object_set_new(o, "agencies", agencies);
	/* tasks, units and links, as the store rendered them */
	/* The parsed rendering when the store kept it (every event and answer of a change reuse it). */
	json_t *d = inc->dispatch_json ? json_incref(inc->dispatch_json)
	    : inc->dispatch		  ? json_loads(inc->dispatch, 0, NULL)
					  : NULL;
	const char *const parts[] = { "tasks", "units", "links" };
	for (int i = 0; i < 3; i++) {
		json_t *v = d ? json_object_get(d, parts[i]) : NULL;
		json_object_set_new(o, parts[i], json_is_array(v) ? json_incref(v) : json_array());
	}
	json_decref(d);
	return o;
}
