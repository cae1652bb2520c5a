/*
 * dsp_store.c - the dispatch engine's commands, run by the store writer
 * inside the batch transaction (see db_store-int.h and docs/dispatch.md).
 *
 * Tables are the truth (tasks, units, assignments, links); each incident's
 * `dispatch` column is a rendering of its rows, rebuilt here whenever they
 * change, so reads, snapshots and events show tasks, units and links without
 * further queries. An incident's `scope` (the agencies it concerns: its
 * line, every agency with a task, every agency with a unit on it) is rebuilt
 * with it; fan-out filters on it.
 */
#include "dsp.h"
#include "db_store-int.h"
#include "dsp_plan.h"
#include "dsp_recent.h"
#include "gis_geod.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_json.h"
#include "srv_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DUP_MAX 3 /* likely duplicates linked to one new report, nearest first */
#define DSP_RECENT_PER_CELL 256 /* newest reports kept per cell of the duplicate index */

struct dup_candidate {
	int64_t id;
	double d, gap;
	double lon, lat;
};

struct dsp_writer {
	struct dsp_plans *plans;
	/* Between dsp_tx_prepare and dsp_tx_created: the new incident's plan and likely duplicates. */
	const struct dsp_plan *plan;
	struct dup_candidate dup[DUP_MAX];
	int ndup;
	struct dsp_recent *recent; /* recent reports by place, for the duplicate search */
	unsigned recent_adds;
};

static struct dsp_writer *
writer_state(struct db_store *st)
{
	void **slot = db_tx_dsp_slot(st);
	if (*slot == NULL)
		*slot = xcalloc(1, sizeof(struct dsp_writer));
	return *slot;
}

void
dsp_tx_free(void *state)
{
	struct dsp_writer *w = state;
	if (w == NULL)
		return;
	dsp_plans_free(w->plans);
	dsp_recent_free(w->recent);
	free(w);
}

static const struct dsp_plan *
plan_by_id(struct dsp_writer *w, const char *id)
{
	for (int i = 0; w->plans && id && i < w->plans->n; i++)
		if (strcmp(w->plans->plans[i].id, id) == 0)
			return &w->plans->plans[i];
	return NULL;
}

static int
fail(struct db_req *r, int err, char *cause)
{
	r->err = err;
	free(r->cause);
	r->cause = cause;
	return err;
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static void
bind_time(sqlite3_stmt *s, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(s, i, v);
	else
		sqlite3_bind_null(s, i);
}

static json_t *
col_time(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return json_null();
	char buf[40];
	srv_fmt_time(sqlite3_column_int64(s, i), 0, buf, sizeof buf);
	return json_string(buf);
}

static json_t *
col_text(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL
	    ? json_null()
	    : json_string((const char *)sqlite3_column_text(s, i));
}

static void
note_due(struct db_req *r, int64_t due)
{
	if (due && (r->next_due == 0 || due < r->next_due))
		r->next_due = due;
}

/* --- rendering: an incident's tasks, units and links; its scope -------------- */

/* Add agency to a sorted comma list of at most 31 agencies (buf of 32 * 17). */
static void
scope_add(char (*set)[DSP_AGENCY_LEN + 1], int *n, const char *agency)
{
	int i = 0;
	while (i < *n && strcmp(set[i], agency) < 0)
		i++;
	if ((i < *n && strcmp(set[i], agency) == 0) || *n == 32)
		return;
	memmove(set[i + 1], set[i], (size_t)(*n - i) * sizeof set[0]);
	snprintf(set[i], sizeof set[0], "%s", agency);
	(*n)++;
}

static json_t *
time_or_null(int64_t us)
{
	if (us == 0)
		return json_null();
	char buf[40];
	srv_fmt_time(us, 0, buf, sizeof buf);
	return json_string(buf);
}

static json_t *
task_json(const char *agency, const char *kind, int count, int level, int64_t created, int64_t due,
    int64_t overdue, int64_t acked, const char *acked_by)
{
	const char *state = acked ? "acknowledged" : overdue ? "overdue" : "pending";
	return json_pack("{s:s, s:s, s:i, s:i, s:s, s:o, s:o, s:o, s:o, s:o}", "agency", agency, "kind",
	    kind, "count", count, "level", level, "state", state, "created_at", time_or_null(created),
	    "due_at", time_or_null(due), "overdue_at", time_or_null(overdue), "acknowledged_at",
	    time_or_null(acked), "acknowledged_by", acked_by ? json_string(acked_by) : json_null());
}

/* dist and gap < 0: not recorded. */
static json_t *
link_json(int64_t other, const char *kind, const char *role, int64_t created, const char *by,
    double dist, double gap)
{
	json_t *l = json_pack("{s:I, s:s, s:s, s:o, s:s}", "incident", (json_int_t)other, "kind", kind,
	    "role", role, "created_at", time_or_null(created), "by", by);
	if (dist >= 0)
		json_object_set_new(l, "distance_m", json_real(round(dist * 10) / 10));
	if (gap >= 0)
		json_object_set_new(l, "gap_s", json_real(round(gap)));
	return l;
}

static int64_t
col_us(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, i);
}

static const char SQL_TASKS[] =
    "SELECT agency, kind, count, level, created_at, due_at, overdue_at, acknowledged_at,"
    " acknowledged_by FROM tasks WHERE incident_id=?1 ORDER BY agency, kind";
static const char SQL_INC_UNITS[] =
    "SELECT id, agency, kind, status FROM units WHERE incident_id=?1 ORDER BY id";
/*
 * An incident's links: all it made, and those made to it except likely
 * duplicates, which show on the newer report only (the one a dispatcher is
 * about to handle). So a report at a busy place never rewrites the earlier
 * incidents there: intake at one spot costs the same as anywhere else.
 */
static const char SQL_LINKS[] =
    "SELECT a, b, kind, distance_m, gap_s, created_at, actor FROM links WHERE a=?1"
    " UNION ALL SELECT a, b, kind, distance_m, gap_s, created_at, actor FROM links WHERE b=?1"
    " AND kind<>'duplicate_suspect' LIMIT 100";
static const char SQL_SET_RENDER[] = "UPDATE incidents SET dispatch=?2, scope=?3 WHERE id=?1";

/* Store a rendering (the arrays are stolen) and the scope in the incident. */
static void
set_render(struct incident *in, json_t *tasks, json_t *units, json_t *links,
    char (*set)[DSP_AGENCY_LEN + 1], int nset)
{
	json_t *d = json_pack("{s:o, s:o, s:o}", "tasks", tasks, "units", units, "links", links);
	free(in->dispatch);
	in->dispatch = srv_json_dump(d, NULL);
	json_decref(in->dispatch_json);
	in->dispatch_json = d; /* kept: the event and the answer need not parse the text again */
	free(in->scope);
	size_t len = 0;
	in->scope = xmalloc((size_t)nset * (DSP_AGENCY_LEN + 1) + 1);
	for (int i = 0; i < nset; i++)
		len += (size_t)sprintf(in->scope + len, "%s%s", i ? "," : "", set[i]);
	in->scope[len] = '\0';
}

/*
 * Rebuild in->dispatch and in->scope from the tables. With write set, store
 * them at once (used for a new incident, whose version does not move);
 * otherwise the caller's db_tx_save() writes them with the change.
 */
static int
render(struct db_store *st, struct db_req *r, struct incident *in, int write)
{
	char set[32][DSP_AGENCY_LEN + 1];
	int nset = 0;
	scope_add(set, &nset, inc_line_name(in->line));
	json_t *tasks = json_array(), *units = json_array(), *links = json_array();
	sqlite3_stmt *s = db_tx_stmt(st, SQL_TASKS);
	sqlite3_bind_int64(s, 1, in->id);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *agency = (const char *)sqlite3_column_text(s, 0);
		scope_add(set, &nset, agency);
		json_array_append_new(tasks, task_json(agency, (const char *)sqlite3_column_text(s, 1),
		    sqlite3_column_int(s, 2), sqlite3_column_int(s, 3), col_us(s, 4), col_us(s, 5),
		    col_us(s, 6), col_us(s, 7), (const char *)sqlite3_column_text(s, 8)));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		goto sqlfail;
	s = db_tx_stmt(st, SQL_INC_UNITS);
	sqlite3_bind_int64(s, 1, in->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *agency = (const char *)sqlite3_column_text(s, 1);
		scope_add(set, &nset, agency);
		json_array_append_new(units, json_pack("{s:s, s:s, s:s, s:s}", "id",
		    (const char *)sqlite3_column_text(s, 0), "agency", agency, "kind",
		    (const char *)sqlite3_column_text(s, 2), "status",
		    (const char *)sqlite3_column_text(s, 3)));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		goto sqlfail;
	s = db_tx_stmt(st, SQL_LINKS);
	sqlite3_bind_int64(s, 1, in->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t a = sqlite3_column_int64(s, 0), b = sqlite3_column_int64(s, 1);
		const char *kind = (const char *)sqlite3_column_text(s, 2);
		/* The link as this incident sees it. */
		const char *role = kind;
		if (strcmp(kind, "merged") == 0)
			role = a == in->id ? "merged_into" : "merged_from";
		else if (strcmp(kind, "parent") == 0)
			role = a == in->id ? "child_of" : "parent_of";
		else if (strcmp(kind, "duplicate_suspect") == 0)
			role = a == in->id ? "likely_duplicate_of" : "likely_duplicated_by";
		json_array_append_new(links, link_json(a == in->id ? b : a, kind, role, col_us(s, 5),
		    (const char *)sqlite3_column_text(s, 6),
		    sqlite3_column_type(s, 3) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 3),
		    sqlite3_column_type(s, 4) == SQLITE_NULL ? -1 : sqlite3_column_double(s, 4)));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE)
		goto sqlfail;
	set_render(in, tasks, units, links, set, nset);
	if (!write)
		return 0;
	s = db_tx_stmt(st, SQL_SET_RENDER);
	sqlite3_bind_int64(s, 1, in->id);
	bind_text(s, 2, in->dispatch);
	bind_text(s, 3, in->scope);
	return db_tx_exec(st, s, r);
sqlfail:
	json_decref(tasks);
	json_decref(units);
	json_decref(links);
	return db_tx_sqlerr(st, r);
}

/* --- tasks ---------------------------------------------------------------------- */

/*
 * Upsert the tasks of a plan level. A need for more units than an agency
 * already has tasked is a new request to that agency: it must acknowledge
 * again. A smaller or equal need changes nothing.
 */
static const char SQL_TASK_PUT[] =
    "INSERT INTO tasks (incident_id, agency, kind, count, level, created_at, due_at)"
    " VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT (incident_id, agency, kind) DO UPDATE SET"
    " level=CASE WHEN excluded.count>count THEN excluded.level ELSE level END,"
    " due_at=CASE WHEN excluded.count>count THEN excluded.due_at ELSE due_at END,"
    " overdue_at=CASE WHEN excluded.count>count THEN NULL ELSE overdue_at END,"
    " acknowledged_at=CASE WHEN excluded.count>count THEN NULL ELSE acknowledged_at END,"
    " acknowledged_by=CASE WHEN excluded.count>count THEN NULL ELSE acknowledged_by END,"
    " count=max(count, excluded.count)";

static int
put_task(struct db_store *st, struct db_req *r, int64_t id, const char *agency, const char *kind,
    int count, int level, int64_t due, int64_t now)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_TASK_PUT);
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, agency);
	bind_text(s, 3, kind);
	sqlite3_bind_int(s, 4, count);
	sqlite3_bind_int(s, 5, level);
	sqlite3_bind_int64(s, 6, now);
	sqlite3_bind_int64(s, 7, due);
	note_due(r, due);
	return db_tx_exec(st, s, r);
}

static int
put_level(struct db_store *st, struct db_req *r, int64_t id, const struct dsp_plan *plan,
    int level, int64_t now)
{
	const struct dsp_level *lv = dsp_plan_level(plan, level);
	int64_t due = now + (int64_t)plan->ack_seconds * 1000000;
	for (int i = 0; lv && i < lv->nneeds; i++) {
		int rc = put_task(st, r, id, lv->needs[i].agency, lv->needs[i].kind, lv->needs[i].count,
		    level, due, now);
		if (rc)
			return rc;
	}
	return 0;
}

/* --- intake hooks ------------------------------------------------------------------ */

/*
 * Likely duplicates or related reports: compatible categories (the same, or
 * either one "other", or an accident beside a public-health report: the
 * crash reported to 122 and its injured reported to 120).
 */
static int
compatible(int a, int b)
{
	if (a == b || a == INC_CAT_OTHER || b == INC_CAT_OTHER)
		return 1;
	return (a == INC_CAT_ACCIDENT && b == INC_CAT_PUBLIC_HEALTH) ||
	    (a == INC_CAT_PUBLIC_HEALTH && b == INC_CAT_ACCIDENT);
}

/*
 * Candidates come from the writer's in-memory index of recent reports by
 * place (dsp_recent.h): the reports of the window inside a box around the
 * new one, newest first, whatever else the window holds elsewhere in the
 * city. Each is then checked against its row (still open, not merged; its
 * position and category as stored now), so the index may hold reports that
 * were closed, or rolled back, since.
 */
static const char SQL_WINDOW_START[] =
    "SELECT coalesce((SELECT id FROM incidents WHERE created_at>=?1 ORDER BY created_at LIMIT 1),"
    " 9223372036854775807)";
static const char SQL_RECENT_LOAD[] =
    "SELECT id, lon, lat, created_at, reported_at, category FROM incidents"
    " WHERE id>=?1 AND lon IS NOT NULL AND lat IS NOT NULL"
    " AND status NOT IN ('resolved','closed','cancelled','unfounded') AND merged_into IS NULL"
    " ORDER BY id";
/* (The status is judged in C: a NOT IN list costs SQLite a temporary table per run.) */
static const char SQL_DUP_CHECK[] =
    "SELECT lon, lat, reported_at, category, status FROM incidents"
    " WHERE id=?1 AND lon IS NOT NULL AND lat IS NOT NULL AND merged_into IS NULL";
static const char SQL_LINK_PUT[] =
    "INSERT INTO links (a, b, kind, distance_m, gap_s, created_at, actor)"
    " VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT (a, b) DO UPDATE SET kind=excluded.kind,"
    " created_at=excluded.created_at, actor=excluded.actor";

static int
put_link(struct db_store *st, struct db_req *r, int64_t a, int64_t b, const char *kind,
    double dist, double gap, int64_t now)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_LINK_PUT);
	sqlite3_bind_int64(s, 1, a);
	sqlite3_bind_int64(s, 2, b);
	bind_text(s, 3, kind);
	if (dist >= 0)
		sqlite3_bind_double(s, 4, dist);
	if (gap >= 0)
		sqlite3_bind_double(s, 5, gap);
	sqlite3_bind_int64(s, 6, now);
	bind_text(s, 7, r->actor);
	return db_tx_exec(st, s, r);
}

/* Re-render an incident whose rows changed and journal the change. */
static int
touch(struct db_store *st, struct db_req *r, int64_t id, const char *kind, const char *what,
    int64_t now)
{
	struct incident other = { 0 };
	int found = db_tx_load(st, id, &other);
	if (found != 1) {
		inc_clear(&other);
		return found < 0 ? db_tx_sqlerr(st, r) : 0;
	}
	int rc = render(st, r, &other, 0);
	if (rc == 0)
		rc = db_tx_save(st, r, &other, kind, json_pack("[s]", what), now);
	inc_clear(&other);
	return rc;
}

static int
cmp_dup(const void *x, const void *y)
{
	const struct dup_candidate *a = x, *b = y;
	return a->d < b->d ? -1 : a->d > b->d ? 1 : (a->id < b->id) - (a->id > b->id);
}

/* Reports created before this are outside the duplicate window (reported_at may lag a little). */
static int64_t
window_start(const struct db_store_opts *o, int64_t now)
{
	return now - o->dup_window_us - 600 * INT64_C(1000000);
}

/* The box half-height, in degrees of latitude, a little larger than the radius. */
static double
box_dlat(const struct db_store_opts *o)
{
	return o->dup_radius_m / 111000.0 * 1.1;
}

/*
 * The index of recent reports, built from the store at the writer's first
 * report (so a restart finds the duplicates of reports taken before it).
 * Cells are as wide as the box, so a query looks at a handful of them.
 */
static struct dsp_recent *
recent_index(struct db_store *st, struct dsp_writer *w, int64_t now)
{
	if (w->recent)
		return w->recent;
	const struct db_store_opts *o = db_tx_opts(st);
	w->recent = dsp_recent_new(fmax(2 * box_dlat(o), 0.001), DSP_RECENT_PER_CELL);
	sqlite3_stmt *s = db_tx_stmt(st, SQL_WINDOW_START);
	sqlite3_bind_int64(s, 1, window_start(o, now));
	int64_t first = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : INT64_MAX;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	s = db_tx_stmt(st, SQL_RECENT_LOAD);
	sqlite3_bind_int64(s, 1, first);
	while (sqlite3_step(s) == SQLITE_ROW) {
		struct dsp_recent_hit h = { sqlite3_column_int64(s, 0), sqlite3_column_double(s, 1),
			sqlite3_column_double(s, 2), sqlite3_column_int64(s, 3),
			sqlite3_column_int64(s, 4),
			(int)inc_category_parse((const char *)sqlite3_column_text(s, 5)) };
		dsp_recent_add(w->recent, &h);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return w->recent;
}

/* A new open report with a position joins the index; now and then the window moves on. */
static void
recent_add(struct db_store *st, struct dsp_writer *w, const struct incident *in, int64_t now)
{
	const struct db_store_opts *o = db_tx_opts(st);
	if (!in->has_position || inc_status_is_final(in->status) || o->dup_radius_m <= 0)
		return;
	struct dsp_recent_hit h = { in->id, in->lon, in->lat, now, in->reported_at, (int)in->category };
	dsp_recent_add(recent_index(st, w, now), &h);
	if (++w->recent_adds % 1024 == 0)
		dsp_recent_expire(w->recent, window_start(o, now));
}

/*
 * The likely duplicates of a new report: open incidents of a compatible
 * category within dup_radius_m and dup_window_us, the nearest DUP_MAX of them
 * among the newest 8 that qualify (ranked by haversine; the geodesic distance
 * is computed for those kept).
 */
static int
find_duplicates(struct db_store *st, struct dsp_writer *w, const struct incident *in, int64_t now)
{
	const struct db_store_opts *o = db_tx_opts(st);
	w->ndup = 0;
	if (!in->has_position || inc_status_is_final(in->status) || o->dup_radius_m <= 0)
		return 0;
	double dlat = box_dlat(o);
	double dlon = dlat / fmax(cos(in->lat * M_PI / 180), 0.05);
	struct dsp_recent_hit hit[32];
	int nh = dsp_recent_query(recent_index(st, w, now), in->lon - dlon, in->lon + dlon,
	    in->lat - dlat, in->lat + dlat, window_start(o, now), hit, 32);
	struct dup_candidate c[8];
	int nc = 0, rc = SQLITE_DONE;
	sqlite3_stmt *s = db_tx_stmt(st, SQL_DUP_CHECK);
	for (int i = 0; i < nh && nc < 8; i++) {
		if (hit[i].id == in->id || !compatible((int)in->category, hit[i].category))
			continue;
		sqlite3_bind_int64(s, 1, hit[i].id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW &&
		    !inc_status_is_final((enum inc_status)inc_status_parse(
			(const char *)sqlite3_column_text(s, 4))) &&
		    compatible((int)in->category,
			inc_category_parse((const char *)sqlite3_column_text(s, 3)))) {
			c[nc].lon = sqlite3_column_double(s, 0);
			c[nc].lat = sqlite3_column_double(s, 1);
			/* haversine is within 0.5% of the geodesic: a margin keeps borderline ones */
			double d = gis_haversine(in->lon, in->lat, c[nc].lon, c[nc].lat);
			double gap = fabs((double)(in->reported_at - sqlite3_column_int64(s, 2))) / 1e6;
			if (d <= o->dup_radius_m * 1.01 && gap * 1e6 <= (double)o->dup_window_us) {
				c[nc].id = hit[i].id;
				c[nc].d = d;
				c[nc].gap = gap;
				nc++;
			}
		}
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			break;
	}
	sqlite3_clear_bindings(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return -1;
	for (int i = 0; i < nc; i++) /* exact distances for the ranking's close calls too */
		if (c[i].d > o->dup_radius_m * 0.98)
			c[i].d = gis_geod_inverse(in->lon, in->lat, c[i].lon, c[i].lat, NULL, NULL);
	qsort(c, (size_t)nc, sizeof c[0], cmp_dup);
	for (int i = 0; i < nc && w->ndup < DUP_MAX; i++) {
		if (c[i].d > o->dup_radius_m)
			continue;
		c[i].d = gis_geod_inverse(in->lon, in->lat, c[i].lon, c[i].lat, NULL, NULL);
		w->dup[w->ndup++] = c[i];
	}
	return 0;
}

static int
cmp_need(const void *x, const void *y)
{
	const struct dsp_need *a = x, *b = y;
	int c = strcmp(a->agency, b->agency);
	return c ? c : strcmp(a->kind, b->kind);
}

/*
 * Before a new incident's row is written: its deadline, its plan and alarm
 * level, its likely duplicates, and its rendering and scope, built here from
 * what is about to be inserted (the same JSON render() makes from the rows),
 * so the row is written once.
 */
void
dsp_tx_prepare(struct db_store *st, struct db_req *r, struct incident *in, int64_t now)
{
	const struct db_store_opts *o = db_tx_opts(st);
	struct dsp_writer *w = writer_state(st);
	if (in->status == INC_ST_NEW)
		in->ack_due_at = now + o->ack_limit_us[in->priority - 1];
	else
		inc_stamp_transition(in, in->status, now);
	w->plan = inc_status_is_final(in->status) ? NULL : dsp_plans_match(w->plans, in);
	free(in->plan);
	in->plan = w->plan ? xstrdup(w->plan->id) : NULL;
	in->alarm_level = w->plan ? 1 : 0;
	if (find_duplicates(st, w, in, now) != 0) {
		/* Not worth refusing a report for: it goes in without the suggestion. */
		log_warn("dispatch", "duplicate search failed|error=\"%s\"",
		    sqlite3_errmsg(db_tx_db(st)));
		w->ndup = 0;
	}
	char set[32][DSP_AGENCY_LEN + 1];
	int nset = 0;
	scope_add(set, &nset, inc_line_name(in->line));
	json_t *tasks = json_array(), *links = json_array();
	const struct dsp_level *lv = w->plan ? dsp_plan_level(w->plan, 1) : NULL;
	if (lv && lv->nneeds > 0) {
		struct dsp_need *needs = xmalloc(sizeof *needs * (size_t)lv->nneeds);
		memcpy(needs, lv->needs, sizeof *needs * (size_t)lv->nneeds);
		qsort(needs, (size_t)lv->nneeds, sizeof *needs, cmp_need);
		int64_t due = now + (int64_t)w->plan->ack_seconds * 1000000;
		for (int i = 0; i < lv->nneeds; i++) {
			scope_add(set, &nset, needs[i].agency);
			json_array_append_new(tasks, task_json(needs[i].agency, needs[i].kind,
			    needs[i].count, 1, now, due, 0, 0, NULL));
		}
		free(needs);
	}
	for (int i = 0; i < w->ndup; i++)
		json_array_append_new(links, link_json(w->dup[i].id, "duplicate_suspect",
		    "likely_duplicate_of", now, r->actor, w->dup[i].d, w->dup[i].gap));
	set_render(in, tasks, json_array(), links, set, nset);
}

/* After the row: the plan's tasks and the links, then the journal event. */
int
dsp_tx_created(struct db_store *st, struct db_req *r, struct incident *in, int64_t now)
{
	struct dsp_writer *w = writer_state(st);
	int rc;
	if (w->plan && (rc = put_level(st, r, in->id, w->plan, 1, now)))
		return rc;
	for (int i = 0; i < w->ndup; i++)
		if ((rc = put_link(st, r, in->id, w->dup[i].id, "duplicate_suspect", w->dup[i].d,
			 w->dup[i].gap, now)))
			return rc;
	w->plan = NULL;
	w->ndup = 0;
	recent_add(st, w, in, now);
	return db_tx_incident_event(st, r, "incident.created", in, NULL, now);
}

/* --- shared by commands ---------------------------------------------------------- */

/* Load the command's incident, checking its version when the caller sent one. */
static int
load_target(struct db_store *st, struct db_req *r, int64_t id, int64_t if_version)
{
	inc_clear(&r->inc);
	int found = db_tx_load(st, id, &r->inc);
	if (found < 0)
		return db_tx_sqlerr(st, r);
	if (found == 0)
		return fail(r, SRV_E_NOT_FOUND, xasprintf("no incident %lld", (long long)id));
	if (r->visible_agency[0] && !inc_scope_has(&r->inc, r->visible_agency))
		return fail(r, SRV_E_NOT_VISIBLE, NULL);
	if (if_version && r->inc.version != if_version)
		return fail(r, SRV_E_STALE, xasprintf("incident %lld is at version %lld, not %lld",
		    (long long)id, (long long)r->inc.version, (long long)if_version));
	return 0;
}

static void
set_result_incident(struct db_req *r)
{
	if (r->result)
		json_decref(r->result);
	r->result = json_pack("{s:o}", "incident", inc_to_json(&r->inc));
}

/* --- task acknowledgement ------------------------------------------------------- */

static const char SQL_TASK_ACK[] =
    "UPDATE tasks SET acknowledged_at=?3, acknowledged_by=?4, due_at=NULL"
    " WHERE incident_id=?1 AND agency=?2 AND acknowledged_at IS NULL";
static const char SQL_TASK_ANY[] = "SELECT count(*) FROM tasks WHERE incident_id=?1 AND agency=?2";

int
dsp_run_task_ack(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	if (a->own_agency[0] && strcmp(a->own_agency, a->agency) != 0)
		return fail(r, SRV_E_ROLE, xasprintf("a dispatcher of %s acknowledges only %s's tasks",
		    a->own_agency, a->own_agency));
	int rc = load_target(st, r, a->id, 0);
	if (rc)
		return rc;
	sqlite3_stmt *s = db_tx_stmt(st, SQL_TASK_ANY);
	sqlite3_bind_int64(s, 1, a->id);
	bind_text(s, 2, a->agency);
	int n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (n < 0)
		return db_tx_sqlerr(st, r);
	if (n == 0)
		return fail(r, SRV_E_NOT_FOUND, xasprintf("incident %lld has no task for agency %s",
		    (long long)a->id, a->agency));
	s = db_tx_stmt(st, SQL_TASK_ACK);
	sqlite3_bind_int64(s, 1, a->id);
	bind_text(s, 2, a->agency);
	sqlite3_bind_int64(s, 3, now);
	bind_text(s, 4, r->actor);
	if ((rc = db_tx_exec(st, s, r)))
		return rc;
	if (sqlite3_changes(db_tx_db(st)) > 0) {
		/* Acknowledged now (a repeat changes nothing and is answered the same). */
		r->changed = 1;
		if ((rc = render(st, r, &r->inc, 0)) ||
		    (rc = db_tx_save(st, r, &r->inc, "task.acknowledged", json_pack("[s]", "tasks"),
			 now)))
			return rc;
	}
	set_result_incident(r);
	return 0;
}

/* --- notes ----------------------------------------------------------------------- */

/*
 * A dispatcher's note on an incident: journaled (incident.noted) with its
 * author and time and the text, in the one order like every change. The
 * incident itself is unchanged, its version too: a note adds and never
 * overwrites, so it cannot conflict with someone else's edit.
 */
int
dsp_run_note(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	int rc = load_target(st, r, a->id, 0);
	if (rc)
		return rc;
	json_t *note = json_pack("{s:{s:s}}", "note", "text", a->note);
	if ((rc = db_tx_incident_event_with(st, r, "incident.noted", &r->inc, json_pack("[s]", "notes"),
	    note, now)))
		return rc;
	r->changed = 1;
	set_result_incident(r);
	json_object_set_new(r->result, "note", json_pack("{s:s}", "text", a->note));
	return 0;
}

/* --- alarm level ------------------------------------------------------------------ */

int
dsp_run_alarm(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	struct dsp_writer *w = writer_state(st);
	int rc = load_target(st, r, a->id, a->if_version);
	if (rc)
		return rc;
	struct incident *in = &r->inc;
	if (inc_status_is_final(in->status))
		return fail(r, SRV_E_CONFLICT, xasprintf("incident %lld is %s", (long long)in->id,
		    inc_status_name(in->status)));
	const struct dsp_plan *plan = plan_by_id(w, in->plan);
	if (plan == NULL && a->plan[0]) {
		plan = plan_by_id(w, a->plan);
		if (plan == NULL)
			return fail(r, SRV_E_BAD_FIELD, xasprintf("no linkage plan '%s'", a->plan));
		free(in->plan);
		in->plan = xstrdup(plan->id);
		in->alarm_level = 0;
	}
	if (plan == NULL)
		return fail(r, SRV_E_CONFLICT, xasprintf(in->plan
			? "incident %lld's plan '%s' is no longer in the plan file; name one with \"plan\""
			: "incident %lld has no linkage plan; name one with \"plan\"",
		    (long long)in->id, in->plan));
	if (a->level <= in->alarm_level || a->level > plan->nlevels)
		return fail(r, SRV_E_CONFLICT, xasprintf("incident %lld is at alarm level %d; plan %s "
		    "has levels 1-%d and levels are only raised", (long long)in->id, in->alarm_level,
		    plan->id, plan->nlevels));
	if ((rc = put_level(st, r, in->id, plan, a->level, now)))
		return rc;
	in->alarm_level = a->level;
	r->changed = 1;
	if ((rc = render(st, r, in, 0)) ||
	    (rc = db_tx_save(st, r, in, "incident.alarm_raised",
		 json_pack("[s, s, s]", "alarm_level", "plan", "tasks"), now)))
		return rc;
	set_result_incident(r);
	return 0;
}

/* --- units ---------------------------------------------------------------------------- */

static const char *const unit_status_names[DSP_U_N] = { "available", "dispatched", "en_route",
	"on_scene", "returning", "out_of_service" };

const char *dsp_unit_status_name(enum dsp_unit_status s) { return unit_status_names[s]; }

int
dsp_unit_status_parse(const char *s)
{
	for (int i = 0; i < DSP_U_N; i++)
		if (strcmp(unit_status_names[i], s) == 0)
			return i;
	return -1;
}

int
dsp_unit_busy(enum dsp_unit_status s)
{
	return s == DSP_U_DISPATCHED || s == DSP_U_EN_ROUTE || s == DSP_U_ON_SCENE;
}

int
dsp_unit_transition_allowed(enum dsp_unit_status from, enum dsp_unit_status to)
{
#define B(s) (1u << (s))
	static const unsigned allowed[DSP_U_N] = {
		[DSP_U_AVAILABLE] = B(DSP_U_OUT_OF_SERVICE),
		[DSP_U_DISPATCHED] = B(DSP_U_EN_ROUTE) | B(DSP_U_ON_SCENE) | B(DSP_U_AVAILABLE),
		[DSP_U_EN_ROUTE] = B(DSP_U_ON_SCENE) | B(DSP_U_AVAILABLE),
		[DSP_U_ON_SCENE] = B(DSP_U_RETURNING) | B(DSP_U_AVAILABLE),
		[DSP_U_RETURNING] = B(DSP_U_AVAILABLE) | B(DSP_U_OUT_OF_SERVICE),
		[DSP_U_OUT_OF_SERVICE] = B(DSP_U_AVAILABLE),
	};
	return from < DSP_U_N && to < DSP_U_N && (allowed[from] & B(to)) != 0;
#undef B
}

static const char SQL_UNIT_GET[] =
    "SELECT id, agency, kind, station, status, status_at, status_due_at, flagged_at, incident_id,"
    " lon, lat, pos_at, version FROM units WHERE id=?1";

struct unit_row {
	char id[DSP_UNIT_ID_MAX * 4 + 1], agency[DSP_AGENCY_LEN + 1], kind[DSP_KIND_LEN + 1];
	int status;
	int64_t incident_id, version;
};

/* Load a unit: its JSON (when out is not NULL) and its row. 1, 0 or -1. */
static int
unit_get(struct db_store *st, const char *id, struct unit_row *row, json_t **out)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_UNIT_GET);
	bind_text(s, 1, id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (row) {
			snprintf(row->id, sizeof row->id, "%s", (const char *)sqlite3_column_text(s, 0));
			snprintf(row->agency, sizeof row->agency, "%s",
			    (const char *)sqlite3_column_text(s, 1));
			snprintf(row->kind, sizeof row->kind, "%s", (const char *)sqlite3_column_text(s, 2));
			row->status = dsp_unit_status_parse((const char *)sqlite3_column_text(s, 4));
			if (row->status < 0)
				row->status = DSP_U_OUT_OF_SERVICE;
			row->incident_id = sqlite3_column_int64(s, 8);
			row->version = sqlite3_column_int64(s, 12);
		}
		if (out) {
			json_t *u = json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:I}",
			    "id", (const char *)sqlite3_column_text(s, 0), "agency",
			    (const char *)sqlite3_column_text(s, 1), "kind",
			    (const char *)sqlite3_column_text(s, 2), "station", col_text(s, 3),
			    "status", (const char *)sqlite3_column_text(s, 4), "status_at",
			    col_time(s, 5), "status_due_at", col_time(s, 6), "flagged_at",
			    col_time(s, 7), "incident_id",
			    sqlite3_column_type(s, 8) == SQLITE_NULL ? json_null()
								     : json_integer(sqlite3_column_int64(s, 8)),
			    "pos_at", col_time(s, 11), "version", (json_int_t)sqlite3_column_int64(s, 12));
			if (sqlite3_column_type(s, 9) != SQLITE_NULL) {
				json_object_set_new(u, "lon", json_real(sqlite3_column_double(s, 9)));
				json_object_set_new(u, "lat", json_real(sqlite3_column_double(s, 10)));
			} else {
				json_object_set_new(u, "lon", json_null());
				json_object_set_new(u, "lat", json_null());
			}
			*out = u;
		}
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Journal a unit's current row as unit.<what>; the unit joins r->result's "units". */
static int
unit_event(struct db_store *st, struct db_req *r, const char *id, const char *kind, int64_t now)
{
	json_t *u = NULL;
	struct unit_row row;
	if (unit_get(st, id, &row, &u) != 1)
		return db_tx_sqlerr(st, r);
	char *scope = xasprintf("%s|", row.agency);
	int line = inc_line_parse(row.agency);
	int rc = db_tx_event(st, r, kind, row.incident_id, scope,
	    line >= 0 && line != INC_LINE_OTHER ? row.agency : NULL,
	    json_pack("{s:O}", "unit", u), now);
	free(scope);
	if (r->result == NULL)
		r->result = json_object();
	json_t *list = json_object_get(r->result, "units");
	if (list == NULL) {
		list = json_array();
		json_object_set_new(r->result, "units", list);
	}
	json_array_append_new(list, u);
	return rc;
}

static const char SQL_UNIT_INSERT[] =
    "INSERT INTO units (id, agency, kind, station, status, status_at, created_at, updated_at,"
    " version) VALUES (?1,?2,?3,?4,'available',?5,?5,?5,1)";
static const char SQL_UNIT_REDEFINE[] =
    "UPDATE units SET agency=?2, kind=?3, station=?4, updated_at=?5, version=version+1"
    " WHERE id=?1 AND (agency<>?2 OR kind<>?3 OR coalesce(station,'')<>coalesce(?4,''))";

int
dsp_run_units_put(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	for (int i = 0; i < a->ndefs; i++) {
		const struct dsp_unit_def *d = &a->defs[i];
		struct unit_row row;
		int found = unit_get(st, d->id, &row, NULL);
		if (found < 0)
			return db_tx_sqlerr(st, r);
		if (found && (strcmp(row.agency, d->agency) || strcmp(row.kind, d->kind)) &&
		    dsp_unit_busy(row.status))
			return fail(r, SRV_E_UNIT_BUSY, xasprintf("unit %s is %s on incident %lld; "
			    "its agency or kind cannot change now", d->id,
			    dsp_unit_status_name(row.status), (long long)row.incident_id));
		sqlite3_stmt *s = db_tx_stmt(st, found ? SQL_UNIT_REDEFINE : SQL_UNIT_INSERT);
		bind_text(s, 1, d->id);
		if (found) {
			bind_text(s, 2, d->agency);
			bind_text(s, 3, d->kind);
			bind_text(s, 4, d->station[0] ? d->station : NULL);
			sqlite3_bind_int64(s, 5, now);
		} else {
			bind_text(s, 2, d->agency);
			bind_text(s, 3, d->kind);
			bind_text(s, 4, d->station[0] ? d->station : NULL);
			sqlite3_bind_int64(s, 5, now);
		}
		int rc = db_tx_exec(st, s, r);
		if (rc)
			return rc;
		if (sqlite3_changes(db_tx_db(st)) > 0 &&
		    (rc = unit_event(st, r, d->id, found ? "unit.updated" : "unit.created", now)))
			return rc;
	}
	return 0;
}

static const char SQL_UNIT_SET_STATUS[] =
    "UPDATE units SET status=?2, status_at=?3, status_due_at=?4, flagged_at=NULL,"
    " incident_id=?5, updated_at=?3, version=version+1 WHERE id=?1";
static const char SQL_RELEASE[] =
    "UPDATE assignments SET released_at=?3 WHERE unit_id=?1 AND incident_id=?2"
    " AND released_at IS NULL";

static int
set_unit_status(struct db_store *st, struct db_req *r, const char *id, int status,
    int64_t incident_id, int64_t now)
{
	const struct db_store_opts *o = db_tx_opts(st);
	int64_t limit = o->unit_status_limit_us[status];
	sqlite3_stmt *s = db_tx_stmt(st, SQL_UNIT_SET_STATUS);
	bind_text(s, 1, id);
	bind_text(s, 2, dsp_unit_status_name(status));
	sqlite3_bind_int64(s, 3, now);
	bind_time(s, 4, limit ? now + limit : 0);
	bind_time(s, 5, incident_id);
	note_due(r, limit ? now + limit : 0);
	return db_tx_exec(st, s, r);
}

/* Move the incident forward when its units do (never back, never past resolved). */
static int
follow_unit(struct incident *in, int unit_status, int64_t now)
{
	enum inc_status to = unit_status == DSP_U_EN_ROUTE ? INC_ST_EN_ROUTE
	    : unit_status == DSP_U_ON_SCENE		   ? INC_ST_ON_SCENE
							   : INC_ST_N;
	if (to == INC_ST_N || in->status >= to || !inc_transition_allowed(in->status, to))
		return 0;
	in->status = to;
	inc_stamp_transition(in, to, now);
	return 1;
}

int
dsp_run_unit_status(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	struct unit_row row;
	int found = unit_get(st, a->unit, &row, NULL);
	if (found < 0)
		return db_tx_sqlerr(st, r);
	if (found == 0)
		return fail(r, SRV_E_NOT_FOUND, xasprintf("no unit %s", a->unit));
	if (a->own_agency[0] && strcmp(a->own_agency, row.agency) != 0)
		return fail(r, SRV_E_ROLE, xasprintf("unit %s belongs to agency %s", a->unit, row.agency));
	if (a->if_version && row.version != a->if_version)
		return fail(r, SRV_E_STALE, xasprintf("unit %s is at version %lld, not %lld", a->unit,
		    (long long)row.version, (long long)a->if_version));
	if (row.status == a->status)
		return 0; /* nothing to change */
	if (!dsp_unit_transition_allowed(row.status, a->status))
		return fail(r, a->status == DSP_U_DISPATCHED ? SRV_E_CONFLICT : SRV_E_TRANSITION,
		    xasprintf(a->status == DSP_U_DISPATCHED
			    ? "unit %s: a unit is dispatched by assigning it to an incident"
			    : "unit %s is %s and cannot become %s", a->unit,
			dsp_unit_status_name(row.status), dsp_unit_status_name(a->status)));
	int keep = dsp_unit_busy(a->status);
	int rc = set_unit_status(st, r, a->unit, a->status, keep ? row.incident_id : 0, now);
	if (rc)
		return rc;
	if (row.incident_id && !keep) {
		sqlite3_stmt *s = db_tx_stmt(st, SQL_RELEASE);
		bind_text(s, 1, a->unit);
		sqlite3_bind_int64(s, 2, row.incident_id);
		sqlite3_bind_int64(s, 3, now);
		if ((rc = db_tx_exec(st, s, r)))
			return rc;
	}
	r->changed = 1;
	if ((rc = unit_event(st, r, a->unit, "unit.updated", now)))
		return rc;
	if (row.incident_id) {
		/* The incident shows its units; it may move with them. */
		if ((rc = load_target(st, r, row.incident_id, 0)))
			return rc;
		json_t *changed = json_pack("[s]", "units");
		if (follow_unit(&r->inc, a->status, now))
			json_array_append_new(changed, json_string("status"));
		if ((rc = render(st, r, &r->inc, 0)) ||
		    (rc = db_tx_save(st, r, &r->inc, "incident.updated", changed, now)))
			return rc;
	}
	return 0;
}

/* --- assignment ----------------------------------------------------------------------- */

static const char SQL_ASSIGN[] =
    "INSERT INTO assignments (incident_id, unit_id, assigned_at, assigned_by) VALUES (?1,?2,?3,?4)";

int
dsp_run_assign(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	int rc = load_target(st, r, a->id, a->if_version);
	if (rc)
		return rc;
	struct incident *in = &r->inc;
	if (inc_status_is_final(in->status))
		return fail(r, SRV_E_CONFLICT, xasprintf("incident %lld is %s: units are not assigned "
		    "to it", (long long)in->id, inc_status_name(in->status)));
	/* Check every unit before changing anything: one refusal refuses the whole request. */
	struct unit_row rows[DSP_ASSIGN_MAX];
	for (int i = 0; i < a->nunits; i++) {
		int found = unit_get(st, a->units[i], &rows[i], NULL);
		if (found < 0)
			return db_tx_sqlerr(st, r);
		if (found == 0)
			return fail(r, SRV_E_NOT_FOUND, xasprintf("no unit %s", a->units[i]));
		if (a->own_agency[0] && strcmp(a->own_agency, rows[i].agency) != 0)
			return fail(r, SRV_E_ROLE, xasprintf("unit %s belongs to agency %s: a dispatcher of %s "
			    "assigns %s's units; a supervisor may link other agencies", a->units[i],
			    rows[i].agency, a->own_agency, a->own_agency));
		if (rows[i].status != DSP_U_AVAILABLE)
			return fail(r, SRV_E_UNIT_BUSY, rows[i].incident_id
				? xasprintf("unit %s is %s on incident %lld", a->units[i],
				      dsp_unit_status_name(rows[i].status), (long long)rows[i].incident_id)
				: xasprintf("unit %s is %s", a->units[i],
				      dsp_unit_status_name(rows[i].status)));
		if (!inc_scope_has(in, rows[i].agency) && !a->link_agency)
			return fail(r, SRV_E_NOT_LINKED, xasprintf("unit %s belongs to agency %s, which has "
			    "no task on incident %lld (agencies: %s); send \"link_agency\": true to task "
			    "that agency too", a->units[i], rows[i].agency, (long long)in->id,
			    in->scope ? in->scope : ""));
	}
	for (int i = 0; i < a->nunits; i++) {
		if (!inc_scope_has(in, rows[i].agency)) {
			/* Linked by the dispatcher: that agency gets a task for this kind. */
			if ((rc = put_task(st, r, in->id, rows[i].agency, rows[i].kind, 1,
				 in->alarm_level > 0 ? in->alarm_level : 1, now + 120 * INT64_C(1000000),
				 now)))
				return rc;
			char *scope = xasprintf("%s,%s", in->scope ? in->scope : "", rows[i].agency);
			free(in->scope);
			in->scope = scope;
		}
		if ((rc = set_unit_status(st, r, a->units[i], DSP_U_DISPATCHED, in->id, now)))
			return rc;
		sqlite3_stmt *s = db_tx_stmt(st, SQL_ASSIGN);
		sqlite3_bind_int64(s, 1, in->id);
		bind_text(s, 2, a->units[i]);
		sqlite3_bind_int64(s, 3, now);
		bind_text(s, 4, r->actor);
		if ((rc = db_tx_exec(st, s, r)))
			return rc;
	}
	json_t *changed = json_pack("[s]", "units");
	if (inc_transition_allowed(in->status, INC_ST_DISPATCHED) && in->status < INC_ST_DISPATCHED) {
		in->status = INC_ST_DISPATCHED;
		inc_stamp_transition(in, INC_ST_DISPATCHED, now);
		json_array_append_new(changed, json_string("status"));
	}
	r->changed = 1;
	if ((rc = render(st, r, in, 0)) ||
	    (rc = db_tx_save(st, r, in, "incident.assigned", changed, now)))
		return rc;
	for (int i = 0; i < a->nunits; i++)
		if ((rc = unit_event(st, r, a->units[i], "unit.updated", now)))
			return rc;
	if (r->result == NULL)
		r->result = json_object();
	json_object_set_new(r->result, "incident", inc_to_json(in));
	return 0;
}

/* --- positions (AVL) --------------------------------------------------------------- */

static const char SQL_POS[] =
    "UPDATE units SET lon=?2, lat=?3, pos_at=?4 WHERE id=?1 AND (pos_at IS NULL OR pos_at<?4)";
static const char SQL_UNIT_EXISTS[] = "SELECT 1 FROM units WHERE id=?1";

/*
 * A batch of positions. Positions are not journaled one by one (thousands a
 * second would swamp the journal and every console); the batch is committed
 * (durable ack), the loop then updates its live index and consoles get the
 * moved units in a coalesced, unsequenced "positions" frame. Older positions
 * than the stored one are ignored (reports may arrive out of order).
 */
int
dsp_run_positions(struct db_store *st, struct db_req *r, int64_t now)
{
	(void)now;
	struct dsp_args *a = r->args;
	int applied = 0;
	for (int i = 0; i < a->npos; i++) {
		sqlite3_stmt *s = db_tx_stmt(st, SQL_POS);
		bind_text(s, 1, a->pos_ids[i]);
		sqlite3_bind_double(s, 2, a->pos_lon[i]);
		sqlite3_bind_double(s, 3, a->pos_lat[i]);
		sqlite3_bind_int64(s, 4, a->pos_at[i]);
		int rc = db_tx_exec(st, s, r);
		if (rc)
			return rc;
		if (sqlite3_changes(db_tx_db(st)) > 0) {
			applied++;
			continue;
		}
		s = db_tx_stmt(st, SQL_UNIT_EXISTS);
		bind_text(s, 1, a->pos_ids[i]);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (rc == SQLITE_DONE)
			return fail(r, SRV_E_BAD_FIELD, xasprintf("positions[%d]: no unit %s", i,
			    a->pos_ids[i]));
		if (rc != SQLITE_ROW)
			return db_tx_sqlerr(st, r);
	}
	r->result = json_pack("{s:i, s:i}", "accepted", a->npos, "applied", applied);
	return 0;
}

/* --- links and merges ---------------------------------------------------------------- */

static const char SQL_LINK_DEL[] = "DELETE FROM links WHERE (a=?1 AND b=?2) OR (a=?2 AND b=?1)";
static const char SQL_MOVE_UNITS[] = "UPDATE units SET incident_id=?2 WHERE incident_id=?1";
static const char SQL_MOVE_ASSIGN[] =
    "INSERT INTO assignments (incident_id, unit_id, assigned_at, assigned_by)"
    " SELECT ?2, unit_id, ?3, ?4 FROM assignments WHERE incident_id=?1 AND released_at IS NULL";
static const char SQL_END_ASSIGN[] =
    "UPDATE assignments SET released_at=?2 WHERE incident_id=?1 AND released_at IS NULL";

int
dsp_run_link(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	if (a->id == a->other)
		return fail(r, SRV_E_BAD_FIELD, xstrdup("an incident cannot be linked to itself"));
	int rc = load_target(st, r, a->id, a->if_version);
	if (rc)
		return rc;
	struct incident other = { 0 };
	int found = db_tx_load(st, a->other, &other);
	if (found != 1) {
		inc_clear(&other);
		return found < 0 ? db_tx_sqlerr(st, r)
				 : fail(r, SRV_E_NOT_FOUND, xasprintf("no incident %lld", (long long)a->other));
	}
	struct incident *in = &r->inc;
	int64_t pa = in->id, pb = other.id;
	const char *kind = a->link_kind;
	int merge = strcmp(kind, "merge") == 0;
	if (in->merged_into || other.merged_into) {
		rc = fail(r, SRV_E_CONFLICT, xasprintf("incident %lld was merged into %lld already",
		    (long long)(in->merged_into ? in->id : other.id),
		    (long long)(in->merged_into ? in->merged_into : other.merged_into)));
		goto out;
	}
	if (merge && inc_status_is_final(other.status)) {
		rc = fail(r, SRV_E_CONFLICT, xasprintf("incident %lld is %s: merge into an open incident",
		    (long long)other.id, inc_status_name(other.status)));
		goto out;
	}
	if (strcmp(kind, "child") == 0) { /* stored as (parent, child) */
		pa = other.id;
		pb = in->id;
		kind = "parent";
	}
	sqlite3_stmt *s = db_tx_stmt(st, SQL_LINK_DEL);
	sqlite3_bind_int64(s, 1, in->id);
	sqlite3_bind_int64(s, 2, other.id);
	if ((rc = db_tx_exec(st, s, r)))
		goto out;
	if ((rc = put_link(st, r, pa, pb, merge ? "merged" : kind, -1, -1, now)))
		goto out;
	if (merge) {
		/*
		 * In is folded into other: it closes, pointing at other; its units move
		 * with it; both keep their journals (other's history shows both).
		 */
		s = db_tx_stmt(st, SQL_MOVE_ASSIGN);
		sqlite3_bind_int64(s, 1, in->id);
		sqlite3_bind_int64(s, 2, other.id);
		sqlite3_bind_int64(s, 3, now);
		bind_text(s, 4, r->actor);
		if ((rc = db_tx_exec(st, s, r)))
			goto out;
		s = db_tx_stmt(st, SQL_END_ASSIGN);
		sqlite3_bind_int64(s, 1, in->id);
		sqlite3_bind_int64(s, 2, now);
		if ((rc = db_tx_exec(st, s, r)))
			goto out;
		s = db_tx_stmt(st, SQL_MOVE_UNITS);
		sqlite3_bind_int64(s, 1, in->id);
		sqlite3_bind_int64(s, 2, other.id);
		if ((rc = db_tx_exec(st, s, r)))
			goto out;
		in->merged_into = other.id;
		if (!inc_status_is_final(in->status)) {
			in->status = INC_ST_CLOSED;
			inc_stamp_transition(in, INC_ST_CLOSED, now);
		}
		in->ack_due_at = 0;
	}
	r->changed = 1;
	if ((rc = render(st, r, in, 0)) ||
	    (rc = db_tx_save(st, r, in, merge ? "incident.merged" : "incident.linked",
		 merge ? json_pack("[s, s, s]", "status", "merged_into", "links")
		       : json_pack("[s]", "links"), now)))
		goto out;
	if ((rc = render(st, r, &other, 0)) ||
	    (rc = db_tx_save(st, r, &other, merge ? "incident.merged" : "incident.linked",
		 merge ? json_pack("[s, s]", "links", "units") : json_pack("[s]", "links"), now)))
		goto out;
	r->result = json_pack("{s:o, s:o}", "incident", inc_to_json(in), "other", inc_to_json(&other));
out:
	inc_clear(&other);
	return rc;
}

/* --- deadlines ------------------------------------------------------------------------ */

static const char SQL_DUE_INC[] =
    "SELECT id FROM incidents WHERE ack_due_at IS NOT NULL AND ack_due_at<=?1 ORDER BY ack_due_at"
    " LIMIT 100";
static const char SQL_DUE_TASKS[] =
    "SELECT DISTINCT incident_id FROM tasks WHERE due_at IS NOT NULL AND due_at<=?1 LIMIT 100";
static const char SQL_TASKS_OVERDUE[] =
    "UPDATE tasks SET overdue_at=?2, due_at=NULL WHERE incident_id=?1 AND due_at IS NOT NULL"
    " AND due_at<=?2";
static const char SQL_DUE_UNITS[] =
    "SELECT id FROM units WHERE status_due_at IS NOT NULL AND status_due_at<=?1 LIMIT 100";
static const char SQL_UNIT_FLAG[] =
    "UPDATE units SET flagged_at=?2, status_due_at=NULL, version=version+1 WHERE id=?1";
static const char SQL_NEXT_DUE[] =
    "SELECT min(x) FROM (SELECT min(ack_due_at) AS x FROM incidents"
    " UNION ALL SELECT min(due_at) FROM tasks UNION ALL SELECT min(status_due_at) FROM units)";

static int
due_ids(struct db_store *st, const char *sql, int64_t now, int64_t *ids, char (*names)[DSP_UNIT_ID_MAX * 4 + 1],
    int max)
{
	sqlite3_stmt *s = db_tx_stmt(st, sql);
	sqlite3_bind_int64(s, 1, now);
	int n = 0, rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < max) {
		if (ids)
			ids[n] = sqlite3_column_int64(s, 0);
		else
			snprintf(names[n], sizeof names[0], "%s", (const char *)sqlite3_column_text(s, 0));
		n++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? n : -1;
}

/*
 * Everything whose deadline passed: a new incident not acknowledged in time
 * escalates (to supervisors: the event reaches every console, and the
 * console raises an alert); an agency's task not acknowledged in time is
 * marked overdue; a unit too long in one status is flagged. The deadlines
 * are columns, so a restart forgets none: the first sweep after it finds
 * whatever fell due while the server was down. r->next_due is the next one.
 */
int
dsp_run_sweep(struct db_store *st, struct db_req *r, int64_t now)
{
	int64_t ids[100];
	char names[100][DSP_UNIT_ID_MAX * 4 + 1];
	int n, rc, fired = 0;
	if ((n = due_ids(st, SQL_DUE_INC, now, ids, NULL, 100)) < 0)
		return db_tx_sqlerr(st, r);
	for (int i = 0; i < n; i++) {
		if ((rc = load_target(st, r, ids[i], 0)))
			return rc;
		r->inc.ack_due_at = 0;
		json_t *changed = json_array();
		if (r->inc.status == INC_ST_NEW && !r->inc.escalated_at) {
			r->inc.escalated_at = now;
			json_array_append_new(changed, json_string("escalated_at"));
		}
		if ((rc = db_tx_save(st, r, &r->inc, json_array_size(changed) ? "incident.escalated"
										  : "incident.updated",
			 changed, now)))
			return rc;
		fired++;
	}
	if ((n = due_ids(st, SQL_DUE_TASKS, now, ids, NULL, 100)) < 0)
		return db_tx_sqlerr(st, r);
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *s = db_tx_stmt(st, SQL_TASKS_OVERDUE);
		sqlite3_bind_int64(s, 1, ids[i]);
		sqlite3_bind_int64(s, 2, now);
		if ((rc = db_tx_exec(st, s, r)) ||
		    (rc = touch(st, r, ids[i], "task.overdue", "tasks", now)))
			return rc;
		fired++;
	}
	if ((n = due_ids(st, SQL_DUE_UNITS, now, NULL, names, 100)) < 0)
		return db_tx_sqlerr(st, r);
	for (int i = 0; i < n; i++) {
		sqlite3_stmt *s = db_tx_stmt(st, SQL_UNIT_FLAG);
		bind_text(s, 1, names[i]);
		sqlite3_bind_int64(s, 2, now);
		if ((rc = db_tx_exec(st, s, r)) ||
		    (rc = unit_event(st, r, names[i], "unit.flagged", now)))
			return rc;
		fired++;
	}
	sqlite3_stmt *s = db_tx_stmt(st, SQL_NEXT_DUE);
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
		r->next_due = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	if (r->result)
		json_decref(r->result);
	r->result = json_pack("{s:i}", "fired", fired);
	r->changed = fired > 0;
	return 0;
}

/* --- plans ----------------------------------------------------------------------------- */

/* The writer takes the new plans (a request moves them in; the old ones are freed here). */
int
dsp_run_set_plans(struct db_store *st, struct db_req *r, int64_t now)
{
	struct dsp_args *a = r->args;
	struct dsp_writer *w = writer_state(st);
	char *detail = xasprintf("%d plans", a->plans ? a->plans->n : 0);
	int rc = db_tx_audit(st, r, now, "plans.load", a->path, detail, NULL);
	free(detail);
	if (rc)
		return rc;
	dsp_plans_free(w->plans);
	w->plans = a->plans;
	a->plans = NULL;
	return 0;
}

/* --- arguments ----------------------------------------------------------------------- */

struct dsp_args *
dsp_args_new(void)
{
	return xcalloc(1, sizeof(struct dsp_args));
}

void
dsp_args_free(void *p)
{
	struct dsp_args *a = p;
	if (a == NULL)
		return;
	for (int i = 0; i < a->nunits; i++)
		free(a->units[i]);
	free(a->units);
	free(a->defs);
	for (int i = 0; i < a->npos; i++)
		free(a->pos_ids[i]);
	free(a->pos_ids);
	free(a->pos_lon);
	free(a->pos_lat);
	free(a->pos_at);
	dsp_plans_free(a->plans);
	free(a->path);
	free(a->note);
	free(a);
}

int
dsp_token_valid(const char *s, size_t max, int allow_utf8)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	if (allow_utf8 && !srv_utf8_valid(s, n))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p >= 0x80 && allow_utf8)
			continue;
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			*p == '_' || *p == '-' || *p == '.'))
			return 0;
	}
	return 1;
}
