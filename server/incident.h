/*
 * incident.h - the common incident model every adapter maps into.
 *
 * One struct serves as the draft an adapter or a dispatcher produces (id 0,
 * no times but reported_at) and as the stored incident. Strings are owned by
 * the struct and freed by inc_clear(). Times are Unix microseconds (UTC).
 * Positions are WGS84 longitude/latitude, in that order, everywhere.
 */
#ifndef INCIDENT_H
#define INCIDENT_H

#include <jansson.h>
#include <stdint.h>

/* How the server writes JSON: compact, and reals to 12 significant digits
 * (1e-7 degree positions survive; binary noise like 23.100000000000001 does not). */
#define SRV_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(12))

enum inc_line { INC_LINE_110, INC_LINE_119, INC_LINE_120, INC_LINE_122, INC_LINE_OTHER, INC_LINE_N };

/* The four national classes of sudden public events (突发事件), plus other. */
enum inc_category {
	INC_CAT_NATURAL_DISASTER, /* 自然灾害 */
	INC_CAT_ACCIDENT,         /* 事故灾难 */
	INC_CAT_PUBLIC_HEALTH,    /* 公共卫生事件 */
	INC_CAT_SOCIAL_SECURITY,  /* 社会安全事件 */
	INC_CAT_OTHER,
	INC_CAT_N
};

enum inc_status {
	INC_ST_NEW,
	INC_ST_ACKNOWLEDGED,
	INC_ST_DISPATCHED,
	INC_ST_EN_ROUTE,
	INC_ST_ON_SCENE,
	INC_ST_RESOLVED,
	INC_ST_CLOSED,
	INC_ST_CANCELLED,
	INC_ST_UNFOUNDED,
	INC_ST_N
};

/* Limits, in Unicode characters for text and bytes for details. */
#define INC_TITLE_MAX 200
#define INC_DESCRIPTION_MAX 4000
#define INC_ADDRESS_MAX 500
#define INC_EXT_REF_MAX 128
#define INC_TYPE_MAX 64
#define INC_DETAILS_MAX 16384

struct incident {
	int64_t id;
	char *source;   /* adapter name ("json", ...) or "manual" */
	char *ext_ref;  /* the agency's own reference; NULL for manual entries */
	enum inc_line line;
	enum inc_category category;
	char *type;     /* finer type code, e.g. "fire.building"; may be NULL */
	int priority;   /* 1 (most urgent) .. 4 */
	enum inc_status status;
	char *title;
	char *description; /* may be NULL */
	char *address;     /* may be NULL */
	int has_position;
	double lon, lat;
	char *details;     /* adapter-specific JSON object text; may be NULL */
	char *district_code, *district_name; /* the jurisdiction holding the position (set by the store) */
	int64_t reported_at, created_at, updated_at;
	int64_t version;

	/* Dispatch state, kept by the store (never taken from a draft or a patch). */
	int64_t acknowledged_at, dispatched_at, en_route_at, on_scene_at, resolved_at,
	    closed_at;     /* the first time each status was reached; 0: not yet */
	int64_t ack_due_at;   /* escalates if still new then; 0: no deadline */
	int64_t escalated_at; /* 0: not escalated */
	int alarm_level;      /* 0: no linkage plan applied */
	char *plan;           /* the linkage plan's id, or NULL */
	int64_t merged_into;  /* 0, or the incident this one was merged into */
	char *scope;          /* agencies concerned, "119,120,122" (filtered fan-out) */
	char *dispatch;       /* {"tasks":[..],"units":[..],"links":[..]} JSON text, or NULL */
	json_t *dispatch_json; /* the same, parsed, when whoever set it kept it (else NULL) */
};

/* Fields a PATCH may change: bits of inc_patch.mask. */
enum {
	INC_F_STATUS = 1 << 0,
	INC_F_PRIORITY = 1 << 1,
	INC_F_CATEGORY = 1 << 2,
	INC_F_TYPE = 1 << 3,
	INC_F_TITLE = 1 << 4,
	INC_F_DESCRIPTION = 1 << 5,
	INC_F_ADDRESS = 1 << 6,
	INC_F_POSITION = 1 << 7,
};

struct inc_patch {
	unsigned mask;
	struct incident v; /* new values for the fields in mask */
};

const char *inc_line_name(enum inc_line l);
const char *inc_category_name(enum inc_category c);
const char *inc_status_name(enum inc_status s);
int inc_line_parse(const char *s);     /* -1 when unknown */
int inc_category_parse(const char *s); /* -1 when unknown */
int inc_status_parse(const char *s);   /* -1 when unknown */
/* True for statuses that leave the live queue (resolved and after). */
int inc_status_is_final(enum inc_status s);
/*
 * The lifecycle (docs/dispatch.md): may an incident go from one status to
 * another? Staying in the same status is not a transition (and not allowed
 * here: the store treats it as no change).
 */
int inc_transition_allowed(enum inc_status from, enum inc_status to);
/* The statuses reachable from one, as a comma-separated list (for errors). */
const char *inc_transitions_from(enum inc_status from);
/*
 * Stamp the times a move to status `to` at `now` reaches for the first time:
 * the status's own time and, for a skipped step that the move implies
 * (dispatching a new incident acknowledges it), the earlier ones. Times
 * already set are kept. Clears the acknowledgement deadline once left new.
 */
void inc_stamp_transition(struct incident *inc, enum inc_status to, int64_t now);

/* Free the strings and zero the struct. Accepts NULL. */
void inc_clear(struct incident *inc);
void inc_patch_clear(struct inc_patch *p);
/* Deep copy. */
void inc_copy(struct incident *dst, const struct incident *src);

/*
 * Check a complete draft (title, line, category, priority, text limits,
 * position, details). Returns 0 or an SRV_E_* code with *cause set.
 */
int inc_validate(const struct incident *inc, char **cause);

/*
 * Read a draft from a JSON object in the public field names (docs/api.md).
 * Unknown fields are refused so a typo never silently drops data. Returns 0
 * or an SRV_E_* code with *cause naming the field; validation included.
 */
int inc_from_json(json_t *obj, struct incident *out, char **cause);
/* Read a patch object; "version" is not part of it (If-Match carries it). */
int inc_patch_from_json(json_t *obj, struct inc_patch *out, char **cause);
/* Apply a validated patch to an incident (strings copied). */
void inc_apply_patch(struct incident *inc, const struct inc_patch *p);
/* Does the incident concern agency (its scope, or its line when it has none)? */
/* "119,120,122|440106": the agencies concerned and the district, as the hub filters events. */
char *inc_scope_key(const struct incident *in);
int inc_scope_has(const struct incident *inc, const char *agency);
/* The incident as the public JSON object (new reference). */
/* The same as text, written directly (byte for byte srv_json_dump(inc_to_json(inc))). */
char *inc_to_text(const struct incident *inc, size_t *len);
json_t *inc_to_json(const struct incident *inc);

#endif
