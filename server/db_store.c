/*
 * db_store.c - the single writer thread and group commit; see db_store.h.
 *
 * Queue discipline: the loop appends to `in` under `mu` and signals `cv`;
 * the writer takes the whole list (up to batch_max) at once, so requests
 * that arrive while a commit is fsyncing form the next batch: that is the
 * group commit. Finished batches go to `out` under the same mutex and one
 * uv_async_send wakes the loop, whose callback drains everything (sends
 * coalesce). Sequence numbers are assigned by the writer alone.
 */
#include "db_store.h"
#include "db_store-int.h"
#include "gis_juris.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

enum { S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVE, S_RELEASE, S_ROLLBACK_TO, S_INSERT, S_BY_REF,
	S_BY_ID, S_UPDATE, S_JOURNAL, S_REPORT_GET, S_REPORT_PUT, S_HOOKS, S_OUTBOX, S_CURSOR,
	S_OUTBOX_DEL, S_N };

static const char *const sql[S_N] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVE] = "SAVEPOINT r",
	[S_RELEASE] = "RELEASE r",
	[S_ROLLBACK_TO] = "ROLLBACK TO r",
	[S_INSERT] = "INSERT INTO incidents (source, ext_ref, line, category, type, priority, status,"
		     " title, description, address, lon, lat, details, reported_at, created_at,"
		     " updated_at, version, created_by, updated_by, district_code, district_name,"
		     " ack_due_at, alarm_level, plan, scope, closed_at, dispatch, acknowledged_at,"
		     " dispatched_at, en_route_at, on_scene_at, resolved_at)"
		     " VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?15,1,?16,?16,?17,?18,"
		     " ?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29)",
	[S_BY_REF] = "SELECT " DB_INCIDENT_COLS " FROM incidents WHERE source=?1 AND ext_ref=?2",
	[S_BY_ID] = "SELECT " DB_INCIDENT_COLS " FROM incidents WHERE id=?1",
	[S_UPDATE] = "UPDATE incidents SET category=?2, type=?3, priority=?4, status=?5, title=?6,"
		     " description=?7, address=?8, lon=?9, lat=?10, updated_at=?11,"
		     " version=version+1, updated_by=?12, details=?14, district_code=?15,"
		     " district_name=?16, acknowledged_at=?17, dispatched_at=?18, en_route_at=?19,"
		     " on_scene_at=?20, resolved_at=?21, closed_at=?22, ack_due_at=?23,"
		     " escalated_at=?24, alarm_level=?25, plan=?26, merged_into=?27, scope=?28,"
		     " dispatch=?29 WHERE id=?1 AND version=?13",
	[S_JOURNAL] = ("INSERT INTO journal (seq, ts, actor, kind, incident_id, frame, scope)"
		       " VALUES (?1,?2,?3,?4,?5,?6,?7)"),
	[S_REPORT_GET] = "SELECT incident_id, version FROM reports WHERE source=?1 AND ext_ref=?2",
	[S_REPORT_PUT] = "INSERT INTO reports (source, ext_ref, incident_id, version, action, received_at,"
			 " actor) VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT (source, ext_ref) DO UPDATE"
			 " SET version=excluded.version, received_at=excluded.received_at",
	[S_HOOKS] = "SELECT name, coalesce(lines, '*') FROM gateways"
		    " WHERE webhook IS NOT NULL AND revoked_at IS NULL",
	[S_OUTBOX] = "INSERT INTO outbox (gateway, seq, payload, created_at) VALUES (?1,?2,?3,?4)",
	[S_CURSOR] = "INSERT INTO outbox_cursor (gateway, delivered_id, delivered_at) VALUES (?1,?2,?3)"
		     " ON CONFLICT (gateway) DO UPDATE SET"
		     " delivered_id=max(delivered_id, excluded.delivered_id), delivered_at=excluded.delivered_at",
	[S_OUTBOX_DEL] = "DELETE FROM outbox WHERE gateway=?1 AND id<=?2",
};

/* A gateway with a webhook: its events go to the outbox in the same commit. */
struct hook {
	char *name;  /* gateway name */
	char *lines; /* "*" or "110,119" */
};

struct db_store {
	uv_loop_t *loop;
	uv_async_t async;
	uv_thread_t thread;
	sqlite3 *db;
	sqlite3_stmt *st[S_N];
	struct db_store_opts opts;
	db_publish_fn publish;
	void *publish_ctx;

	uv_mutex_t mu;
	uv_cond_t cv;
	struct db_req *in_head, *in_tail;   /* waiting for the writer */
	struct db_req *out_head, *out_tail; /* committed, waiting for the loop */
	int stopping;                       /* no more submissions (loop) / drain and exit (writer) */
	int writer_exited;
	int thread_live;

	/* Loop thread only. */
	void (*deadline)(void *ctx, int64_t due_us);
	void *deadline_ctx;
	int backlog;
	int64_t last_published;
	void (*closed)(void *);
	void *closed_arg;

	/* Writer thread only. */
	int64_t next_seq;
	struct { const char *sql; sqlite3_stmt *s; } cache[48]; /* db_tx_stmt */
	int ncache;
	void *dsp;          /* the dispatch engine's writer state (dsp_store.c) */
	struct hook *hooks; /* reloaded at the start of every batch */
	int nhooks;

	/* Statistics: written by the writer, read by the loop. */
	atomic_uint_fast64_t commits, requests, batch_max_seen, failed_commits, commit_ns;
};

struct db_req *
db_req_new(enum db_op op, const char *actor)
{
	struct db_req *r = xcalloc(1, sizeof *r);
	r->op = op;
	r->actor = xstrdup(actor);
	return r;
}

void
db_req_free(struct db_req *r)
{
	if (r == NULL)
		return;
	free(r->actor);
	free(r->gateway);
	inc_clear(&r->inc);
	for (int i = 0; i < r->ntargets; i++)
		free(r->targets[i]);
	free(r->targets);
	inc_patch_clear(&r->patch);
	free(r->cause);
	db_req_drop_events(r);
	if (r->args_free)
		r->args_free(r->args);
	if (r->result)
		json_decref(r->result);
	free(r);
}

void
db_req_drop_events(struct db_req *r)
{
	struct db_event *e = r->events;
	while (e) {
		struct db_event *next = e->next;
		free(e->frame);
		free(e->scope);
		free(e);
		e = next;
	}
	r->events = r->events_tail = NULL;
	r->frame = NULL;
	r->frame_len = 0;
	r->seq = 0;
}

/* --- writer thread ------------------------------------------------------ */

static int
sqlerr(struct db_store *st, struct db_req *r)
{
	r->err = SRV_E_STORE;
	if (r->cause == NULL)
		r->cause = xasprintf("sqlite: %s", sqlite3_errmsg(st->db));
	return SRV_E_STORE;
}

static void
bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (v)
		sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(s, i);
}

static int
step_done(struct db_store *st, sqlite3_stmt *s, struct db_req *r)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : sqlerr(st, r);
}

static int
load_by(struct db_store *st, sqlite3_stmt *s, struct db_req *r)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		inc_clear(&r->inc);
		db_row_incident(s, &r->inc);
		sqlite3_reset(s);
		return 1;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
line_listed(const char *lines, const char *line)
{
	return strcmp(lines, "*") == 0 || srv_csv_has(lines, line);
}

/*
 * The transactional outbox: the event goes to every gateway with a webhook
 * that follows the incident's line, in the same commit as the change, except
 * back to the gateway that caused it. Delivery happens later (srv_webhook.c).
 */
static int
outbox(struct db_store *st, struct db_req *r, const struct db_event *ev, const char *line,
    int64_t now)
{
	for (int i = 0; i < st->nhooks; i++) {
		const struct hook *h = &st->hooks[i];
		if (!line_listed(h->lines, line))
			continue;
		if (strncmp(r->actor, "gateway:", 8) == 0 && strcmp(r->actor + 8, h->name) == 0)
			continue;
		sqlite3_stmt *s = st->st[S_OUTBOX];
		sqlite3_bind_text(s, 1, h->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, ev->seq);
		sqlite3_bind_text(s, 3, ev->frame, (int)ev->len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, now);
		int rc = step_done(st, s, r);
		sqlite3_clear_bindings(s);
		if (rc)
			return rc;
		r->outboxed++;
	}
	return 0;
}

static void
hooks_clear(struct db_store *st)
{
	for (int i = 0; i < st->nhooks; i++) {
		free(st->hooks[i].name);
		free(st->hooks[i].lines);
	}
	free(st->hooks);
	st->hooks = NULL;
	st->nhooks = 0;
}

/* Inside the batch's transaction: which gateways want events now. */
static int
hooks_load(struct db_store *st)
{
	hooks_clear(st);
	sqlite3_stmt *s = st->st[S_HOOKS];
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		st->hooks = xrealloc(st->hooks, sizeof *st->hooks * (size_t)(st->nhooks + 1));
		st->hooks[st->nhooks].name = xstrdup((const char *)sqlite3_column_text(s, 0));
		st->hooks[st->nhooks].lines = xstrdup((const char *)sqlite3_column_text(s, 1));
		st->nhooks++;
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Journal one event: build its frame ({"type":"event","seq","ts","kind",
 * "actor", then the fields of body}), insert it with the next seq, and keep
 * it on the request for publishing. body is stolen. incident_id (0: none)
 * indexes the journal for history; scope is what fan-out filters on; line
 * (NULL: none) routes it to agencies' webhooks.
 */
int
db_tx_event(struct db_store *st, struct db_req *r, const char *kind, int64_t incident_id,
    const char *scope, const char *line, json_t *body, int64_t now)
{
	char ts[40];
	srv_fmt_time(now, 0, ts, sizeof ts);
	int64_t seq = st->next_seq;
	json_t *ev = json_object();
	json_object_set_new(ev, "type", json_string("event"));
	json_object_set_new(ev, "seq", json_integer(seq));
	json_object_set_new(ev, "ts", json_string(ts));
	json_object_set_new(ev, "kind", json_string(kind));
	json_object_set_new(ev, "actor", json_string(r->actor));
	json_object_update(ev, body);
	json_decref(body);
	char *frame = json_dumps(ev, SRV_JSON_FLAGS);
	json_decref(ev);

	sqlite3_stmt *s = st->st[S_JOURNAL];
	sqlite3_bind_int64(s, 1, seq);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_text(s, 3, r->actor, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, kind, -1, SQLITE_STATIC);
	if (incident_id)
		sqlite3_bind_int64(s, 5, incident_id);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_text(s, 6, frame, -1, SQLITE_STATIC);
	bind_text(s, 7, scope);
	int rc = step_done(st, s, r);
	sqlite3_clear_bindings(s);
	if (rc) {
		free(frame);
		return rc;
	}
	st->next_seq++;
	struct db_event *e = xcalloc(1, sizeof *e);
	e->seq = seq;
	e->frame = frame;
	e->len = strlen(frame);
	e->scope = scope ? xstrdup(scope) : NULL;
	if (r->events_tail)
		r->events_tail->next = e;
	else
		r->events = e;
	r->events_tail = e;
	r->seq = seq;
	r->frame = frame;
	r->frame_len = e->len;
	return line ? outbox(st, r, e, line, now) : 0;
}

/* The scope of an incident's events: its agencies, "|", its district. */
static char *
incident_scope(const struct incident *in)
{
	return xasprintf("%s|%s", in->scope ? in->scope : inc_line_name(in->line),
	    in->district_code ? in->district_code : "");
}

int
db_tx_incident_event(struct db_store *st, struct db_req *r, const char *kind,
    const struct incident *in, json_t *changed, int64_t now)
{
	return db_tx_incident_event_with(st, r, kind, in, changed, NULL, now);
}

int
db_tx_incident_event_with(struct db_store *st, struct db_req *r, const char *kind,
    const struct incident *in, json_t *changed, json_t *extra, int64_t now)
{
	json_t *body = extra ? extra : json_object();
	json_object_set_new(body, "incident", inc_to_json(in));
	if (changed)
		json_object_set_new(body, "changed", changed);
	char *scope = incident_scope(in);
	int rc = db_tx_event(st, r, kind, in->id, scope, inc_line_name(in->line), body, now);
	free(scope);
	return rc;
}

/*
 * Which jurisdiction holds the incident's position (gis/gis_juris.h), looked
 * up inside the transaction so the district and the position commit together.
 * A database error leaves the district unknown rather than refusing the report.
 */
static void
set_district(struct db_store *st, struct incident *in)
{
	char code[64], name[128];
	free(in->district_code);
	free(in->district_name);
	in->district_code = in->district_name = NULL;
	if (in->has_position &&
	    gis_district_of(st->db, in->lon, in->lat, code, sizeof code, name, sizeof name) == 0) {
		in->district_code = xstrdup(code);
		in->district_name = xstrdup(name);
	}
}

/* Load incident id into r->inc. Returns 1 found, 0 not found, -1 error. */
static int
load_id(struct db_store *st, struct db_req *r, int64_t id)
{
	sqlite3_stmt *q = st->st[S_BY_ID];
	sqlite3_bind_int64(q, 1, id);
	return load_by(st, q, r);
}

sqlite3 *db_tx_db(struct db_store *st) { return st->db; }
const struct db_store_opts *db_tx_opts(const struct db_store *st) { return &st->opts; }
void **db_tx_dsp_slot(struct db_store *st) { return &st->dsp; }
int db_tx_sqlerr(struct db_store *st, struct db_req *r) { return sqlerr(st, r); }

sqlite3_stmt *
db_tx_stmt(struct db_store *st, const char *text)
{
	for (int i = 0; i < st->ncache; i++)
		if (st->cache[i].sql == text)
			return st->cache[i].s;
	sqlite3_stmt *s = NULL;
	if (st->ncache == (int)(sizeof st->cache / sizeof st->cache[0]) ||
	    sqlite3_prepare_v3(st->db, text, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) != SQLITE_OK) {
		log_error("store", "prepare failed|error=\"%s\" sql=\"%s\"", sqlite3_errmsg(st->db), text);
		abort(); /* a statement of ours that does not prepare is a bug */
	}
	st->cache[st->ncache].sql = text;
	st->cache[st->ncache].s = s;
	st->ncache++;
	return s;
}

int
db_tx_exec(struct db_store *st, sqlite3_stmt *s, struct db_req *r)
{
	int rc = step_done(st, s, r);
	sqlite3_clear_bindings(s);
	return rc;
}

int
db_tx_load(struct db_store *st, int64_t id, struct incident *out)
{
	sqlite3_stmt *q = st->st[S_BY_ID];
	sqlite3_bind_int64(q, 1, id);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		db_row_incident(q, out);
	sqlite3_reset(q);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Which stored report is (source, ref)? Returns 1 (setting id and version), 0, or -1. */
static int
report_get(struct db_store *st, const char *source, const char *ref, int64_t *id, int64_t *version)
{
	sqlite3_stmt *q = st->st[S_REPORT_GET];
	sqlite3_bind_text(q, 1, source, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, ref, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q), found = 0;
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(q, 0);
		*version = sqlite3_column_int64(q, 1);
		found = 1;
	} else if (rc != SQLITE_DONE) {
		found = -1;
	}
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return found;
}

static const char *const action_names[] = { "report", "update", "cancel" };

static int
report_put(struct db_store *st, struct db_req *r, const char *ref, int64_t id, int64_t now)
{
	sqlite3_stmt *s = st->st[S_REPORT_PUT];
	bind_text(s, 1, r->inc.source);
	bind_text(s, 2, ref);
	sqlite3_bind_int64(s, 3, id);
	sqlite3_bind_int64(s, 4, r->report_version);
	bind_text(s, 5, action_names[r->action >= 0 && r->action <= 2 ? r->action : 0]);
	sqlite3_bind_int64(s, 6, now);
	bind_text(s, 7, r->actor);
	int rc = step_done(st, s, r);
	sqlite3_clear_bindings(s);
	return rc;
}

/*
 * Write an incident's row (every column a change may touch) over the stored
 * one at version `version`, bump its version and journal the change. The
 * caller has validated everything; a row that moved on meanwhile is a store
 * error (the writer is the only writer, so it cannot happen).
 */
int
db_tx_save(struct db_store *st, struct db_req *r, struct incident *in, const char *kind,
    json_t *changed, int64_t now)
{
	sqlite3_stmt *s = st->st[S_UPDATE];
	sqlite3_bind_int64(s, 1, in->id);
	bind_text(s, 2, inc_category_name(in->category));
	bind_text(s, 3, in->type);
	sqlite3_bind_int(s, 4, in->priority);
	bind_text(s, 5, inc_status_name(in->status));
	bind_text(s, 6, in->title);
	bind_text(s, 7, in->description);
	bind_text(s, 8, in->address);
	if (in->has_position) {
		sqlite3_bind_double(s, 9, in->lon);
		sqlite3_bind_double(s, 10, in->lat);
	} else {
		sqlite3_bind_null(s, 9);
		sqlite3_bind_null(s, 10);
	}
	sqlite3_bind_int64(s, 11, now);
	bind_text(s, 12, r->actor);
	sqlite3_bind_int64(s, 13, in->version);
	bind_text(s, 14, in->details);
	bind_text(s, 15, in->district_code);
	bind_text(s, 16, in->district_name);
	const int64_t times[] = { in->acknowledged_at, in->dispatched_at, in->en_route_at,
		in->on_scene_at, in->resolved_at, in->closed_at, in->ack_due_at, in->escalated_at };
	for (int i = 0; i < 8; i++)
		if (times[i])
			sqlite3_bind_int64(s, 17 + i, times[i]);
		else
			sqlite3_bind_null(s, 17 + i);
	sqlite3_bind_int(s, 25, in->alarm_level);
	bind_text(s, 26, in->plan);
	if (in->merged_into)
		sqlite3_bind_int64(s, 27, in->merged_into);
	else
		sqlite3_bind_null(s, 27);
	bind_text(s, 28, in->scope);
	bind_text(s, 29, in->dispatch);
	int rc = step_done(st, s, r);
	sqlite3_clear_bindings(s);
	if (rc == 0 && sqlite3_changes(st->db) != 1)
		rc = sqlerr(st, r);
	if (rc) {
		json_decref(changed);
		return rc;
	}
	in->version++;
	in->updated_at = now;
	if (in->ack_due_at && (r->next_due == 0 || in->ack_due_at < r->next_due))
		r->next_due = in->ack_due_at;
	return db_tx_incident_event(st, r, kind, in, changed, now);
}

/*
 * r->inc holds the current stored incident. Apply the patch (and, with
 * details set, replace the details), write the row and journal the change
 * when anything changed. A status change must be one the lifecycle allows.
 */
static int
write_update(struct db_store *st, struct db_req *r, const struct inc_patch *p, int set_details,
    const char *details, int64_t now)
{
	if ((p->mask & INC_F_STATUS) && p->v.status != r->inc.status &&
	    !inc_transition_allowed(r->inc.status, p->v.status)) {
		r->err = SRV_E_TRANSITION;
		r->cause = xasprintf("incident %lld is %s; it can go to: %s", (long long)r->inc.id,
		    inc_status_name(r->inc.status), inc_transitions_from(r->inc.status));
		return r->err;
	}
	struct incident before;
	inc_copy(&before, &r->inc);
	inc_apply_patch(&r->inc, p);
	if (set_details) {
		free(r->inc.details);
		r->inc.details = details ? xstrdup(details) : NULL;
	}
	json_t *changed = json_array();
#define CHG(cond, name) if (cond) json_array_append_new(changed, json_string(name))
#define SDIFF(a, b) ((a) == NULL ? (b) != NULL : (b) == NULL || strcmp((a), (b)) != 0)
	const struct incident *a = &before, *b = &r->inc;
	CHG(a->status != b->status, "status");
	CHG(a->priority != b->priority, "priority");
	CHG(a->category != b->category, "category");
	CHG(SDIFF(a->type, b->type), "type");
	CHG(SDIFF(a->title, b->title), "title");
	CHG(SDIFF(a->description, b->description), "description");
	CHG(SDIFF(a->address, b->address), "address");
	CHG(a->has_position != b->has_position || a->lon != b->lon || a->lat != b->lat, "position");
	CHG(SDIFF(a->details, b->details), "details");
	if (a->has_position != b->has_position || a->lon != b->lon || a->lat != b->lat)
		set_district(st, &r->inc);
#undef CHG
#undef SDIFF
	if (a->status != b->status)
		inc_stamp_transition(&r->inc, b->status, now);
	if (b->status == INC_ST_NEW && a->priority != b->priority && b->ack_due_at && !b->escalated_at)
		r->inc.ack_due_at = b->created_at + st->opts.ack_limit_us[b->priority - 1];
	inc_clear(&before);
	if (json_array_size(changed) == 0) {
		json_decref(changed);
		return 0; /* nothing to write: same version, no event */
	}
	r->changed = 1;
	return db_tx_save(st, r, &r->inc, "incident.updated", changed, now);
}

/* The agency's fields of a report, as a patch (a later version replaces them). */
static void
report_patch(const struct incident *d, struct inc_patch *p)
{
	memset(p, 0, sizeof *p);
	p->mask = INC_F_PRIORITY | INC_F_CATEGORY | INC_F_TYPE | INC_F_TITLE | INC_F_DESCRIPTION |
	    INC_F_ADDRESS | INC_F_POSITION;
	inc_copy(&p->v, d);
}

/* An agency report that acts on an incident already stored (r->inc is loaded). */
static int
apply_report(struct db_store *st, struct db_req *r, struct incident *draft, int64_t now)
{
	struct inc_patch p;
	int rc;
	if (r->action == 2 /* GW_CANCEL */) {
		memset(&p, 0, sizeof p);
		p.mask = INC_F_STATUS;
		/* Withdrawn: cancelled where the lifecycle still allows it (not once on scene). */
		p.v.status = inc_transition_allowed(r->inc.status, INC_ST_CANCELLED) ? INC_ST_CANCELLED
										  : r->inc.status;
		rc = write_update(st, r, &p, 0, NULL, now);
	} else {
		report_patch(draft, &p);
		rc = write_update(st, r, &p, 1, draft->details, now);
	}
	inc_patch_clear(&p);
	return rc;
}

static int
insert_incident(struct db_store *st, struct db_req *r, int64_t now)
{
	struct incident *in = &r->inc;
	sqlite3_stmt *s = st->st[S_INSERT];
	bind_text(s, 1, in->source);
	bind_text(s, 2, in->ext_ref);
	bind_text(s, 3, inc_line_name(in->line));
	bind_text(s, 4, inc_category_name(in->category));
	bind_text(s, 5, in->type);
	sqlite3_bind_int(s, 6, in->priority);
	bind_text(s, 7, inc_status_name(in->status));
	bind_text(s, 8, in->title);
	bind_text(s, 9, in->description);
	bind_text(s, 10, in->address);
	if (in->has_position) {
		sqlite3_bind_double(s, 11, in->lon);
		sqlite3_bind_double(s, 12, in->lat);
	} else {
		sqlite3_bind_null(s, 11);
		sqlite3_bind_null(s, 12);
	}
	bind_text(s, 13, in->details);
	sqlite3_bind_int64(s, 14, in->reported_at ? in->reported_at : now);
	sqlite3_bind_int64(s, 15, now);
	bind_text(s, 16, r->actor);
	set_district(st, in);
	bind_text(s, 17, in->district_code);
	bind_text(s, 18, in->district_name);
	in->created_at = now;
	dsp_tx_prepare(st, r, in, now); /* plan, alarm level, deadline, scope */
	if (in->ack_due_at)
		sqlite3_bind_int64(s, 19, in->ack_due_at);
	else
		sqlite3_bind_null(s, 19);
	sqlite3_bind_int(s, 20, in->alarm_level);
	bind_text(s, 21, in->plan);
	bind_text(s, 22, in->scope);
	const int64_t times[] = { in->closed_at, 0, in->acknowledged_at, in->dispatched_at,
		in->en_route_at, in->on_scene_at, in->resolved_at };
	for (int i = 0; i < 7; i++)
		if (i == 1)
			bind_text(s, 24, in->dispatch);
		else if (times[i])
			sqlite3_bind_int64(s, 23 + i, times[i]);
		else
			sqlite3_bind_null(s, 23 + i);
	int rc = step_done(st, s, r);
	sqlite3_clear_bindings(s);
	if (rc)
		return rc;
	in->id = sqlite3_last_insert_rowid(st->db);
	if (in->reported_at == 0)
		in->reported_at = now;
	in->created_at = in->updated_at = now;
	in->version = 1;
	if (in->ext_ref && (rc = report_put(st, r, in->ext_ref, in->id, now)))
		return rc;
	if (in->ack_due_at && (r->next_due == 0 || in->ack_due_at < r->next_due))
		r->next_due = in->ack_due_at;
	/* tasks from the plan, likely duplicates, then the journal event(s) */
	return dsp_tx_created(st, r, in, now);
}

/*
 * A report (from a gateway, or a dispatcher's manual entry):
 * - (source, ext_ref) already stored: a retry (the stored incident comes
 *   back, nothing changes) unless its version is higher, which makes it a
 *   later version of the report whose fields replace the incident's;
 * - an update or cancel naming earlier reports: acts on their incident;
 * - otherwise a new incident.
 */
static int
do_create(struct db_store *st, struct db_req *r, int64_t now)
{
	struct incident draft;
	int64_t id = 0, version = 0;
	int found = 0, rc;
	if (r->inc.ext_ref) {
		found = report_get(st, r->inc.source, r->inc.ext_ref, &id, &version);
		if (found < 0)
			return sqlerr(st, r);
	}
	if (found == 0 && r->action != 0 && r->inc.ext_ref) {
		for (int i = 0; i < r->ntargets && found == 0; i++)
			found = report_get(st, r->inc.source, r->targets[i], &id, &version);
		if (found < 0)
			return sqlerr(st, r);
		if (found) {
			version = -1; /* the new report is not stored yet: act on the target */
			r->existed = 0;
		}
	}
	if (found == 0) {
		if (r->action == 2 /* GW_CANCEL of a report this centre never had */)
			r->inc.status = INC_ST_CANCELLED;
		return insert_incident(st, r, now);
	}
	if (version >= 0 && r->report_version <= version) {
		/* A retry: the stored incident, unchanged. */
		if (load_id(st, r, id) != 1)
			return sqlerr(st, r);
		r->existed = 1;
		return 0;
	}
	draft = r->inc;
	memset(&r->inc, 0, sizeof r->inc);
	if (load_id(st, r, id) != 1) {
		inc_clear(&draft);
		return sqlerr(st, r);
	}
	rc = apply_report(st, r, &draft, now);
	if (rc == 0) {
		free(r->inc.source);
		r->inc.source = xstrdup(draft.source);
		rc = report_put(st, r, draft.ext_ref, id, now);
		free(r->inc.source);
		r->inc.source = NULL;
		/* The stored incident keeps the source of its first report. */
		if (rc == 0 && load_id(st, r, id) != 1)
			rc = sqlerr(st, r);
	}
	r->updated_report = 1;
	inc_clear(&draft);
	return rc;
}

static int
do_patch(struct db_store *st, struct db_req *r, int64_t now)
{
	int found = load_id(st, r, r->id);
	if (found < 0)
		return sqlerr(st, r);
	if (found == 0) {
		r->err = SRV_E_NOT_FOUND;
		r->cause = xasprintf("no incident %lld", (long long)r->id);
		return r->err;
	}
	if (r->visible_agency[0] && !inc_scope_has(&r->inc, r->visible_agency)) {
		r->err = SRV_E_NOT_VISIBLE;
		return r->err;
	}
	if (r->inc.version != r->if_version) {
		/* Never a silent overwrite: the caller gets the current incident. */
		r->err = SRV_E_STALE;
		r->cause = xasprintf("incident %lld is at version %lld, not %lld", (long long)r->id,
		    (long long)r->inc.version, (long long)r->if_version);
		return r->err;
	}
	return write_update(st, r, &r->patch, 0, NULL, now);
}

/* A webhook delivery was acknowledged: move the gateway's cursor, drop delivered rows. */
static int
do_outbox_ack(struct db_store *st, struct db_req *r, int64_t now)
{
	sqlite3_stmt *s = st->st[S_CURSOR];
	bind_text(s, 1, r->gateway);
	sqlite3_bind_int64(s, 2, r->outbox_id);
	sqlite3_bind_int64(s, 3, now);
	int rc = step_done(st, s, r);
	sqlite3_clear_bindings(s);
	if (rc)
		return rc;
	s = st->st[S_OUTBOX_DEL];
	bind_text(s, 1, r->gateway);
	sqlite3_bind_int64(s, 2, r->outbox_id);
	rc = step_done(st, s, r);
	sqlite3_clear_bindings(s);
	return rc;
}

static int
simple(struct db_store *st, int which)
{
	int rc = sqlite3_step(st->st[which]);
	sqlite3_reset(st->st[which]);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Run one batch in one transaction. Every request leaves with err set. */
static void
run_batch(struct db_store *st, struct db_req *batch, int n)
{
	int64_t seq0 = st->next_seq;
	int64_t now = srv_now_us();
	struct db_req *r;
	if (simple(st, S_BEGIN) != 0 || hooks_load(st) != 0) {
		for (r = batch; r; r = r->next)
			sqlerr(st, r);
		simple(st, S_ROLLBACK);
		return;
	}
	for (r = batch; r; r = r->next) {
		int64_t seq_before = st->next_seq;
		if (simple(st, S_SAVE) != 0) {
			sqlerr(st, r);
			continue;
		}
		int rc = r->op == DB_OP_CREATE ? do_create(st, r, now)
		    : r->op == DB_OP_PATCH   ? do_patch(st, r, now)
		    : r->op == DB_OP_RUN     ? r->run(st, r, now)
					     : do_outbox_ack(st, r, now);
		if (rc != 0) {
			r->err = rc;
			simple(st, S_ROLLBACK_TO);
			st->next_seq = seq_before;
			db_req_drop_events(r);
			r->outboxed = 0;
			r->next_due = 0;
		}
		simple(st, S_RELEASE);
	}
	uint64_t t0 = srv_mono_ns();
	if (simple(st, S_COMMIT) != 0) {
		char *why = xstrdup(sqlite3_errmsg(st->db));
		simple(st, S_ROLLBACK);
		st->next_seq = seq0;
		atomic_fetch_add(&st->failed_commits, 1);
		log_error("store", "commit failed; batch refused|requests=%d error=\"%s\"", n, why);
		for (r = batch; r; r = r->next) {
			if (r->err == 0) {
				r->err = SRV_E_STORE;
				free(r->cause);
				r->cause = xasprintf("commit failed: %s", why);
			}
			db_req_drop_events(r);
			r->next_due = 0;
		}
		free(why);
		return;
	}
	uint64_t dt = srv_mono_ns() - t0;
	int64_t done_at = srv_now_us();
	for (r = batch; r; r = r->next)
		r->committed_at = done_at;
	atomic_fetch_add(&st->commits, 1);
	atomic_fetch_add(&st->requests, (uint64_t)n);
	atomic_fetch_add(&st->commit_ns, dt);
	if ((uint64_t)n > atomic_load(&st->batch_max_seen))
		atomic_store(&st->batch_max_seen, (uint64_t)n);
}

static void
writer_main(void *arg)
{
	struct db_store *st = arg;
	for (;;) {
		uv_mutex_lock(&st->mu);
		while (st->in_head == NULL && !st->stopping)
			uv_cond_wait(&st->cv, &st->mu);
		if (st->in_head == NULL && st->stopping) {
			st->writer_exited = 1;
			uv_mutex_unlock(&st->mu);
			uv_async_send(&st->async);
			return;
		}
		struct db_req *batch = st->in_head, *last = batch;
		int n = 1;
		while (last->next && n < st->opts.batch_max) {
			last = last->next;
			n++;
		}
		st->in_head = last->next;
		if (st->in_head == NULL)
			st->in_tail = NULL;
		last->next = NULL;
		uv_mutex_unlock(&st->mu);

		run_batch(st, batch, n);

		uv_mutex_lock(&st->mu);
		if (st->out_tail)
			st->out_tail->next = batch;
		else
			st->out_head = batch;
		st->out_tail = last;
		uv_mutex_unlock(&st->mu);
		uv_async_send(&st->async);
	}
}

/* --- loop thread -------------------------------------------------------- */

static void
free_store(struct db_store *st)
{
	hooks_clear(st);
	for (int i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].s);
	dsp_tx_free(st->dsp);
	for (int i = 0; i < S_N; i++)
		sqlite3_finalize(st->st[i]);
	sqlite3_close(st->db);
	uv_mutex_destroy(&st->mu);
	uv_cond_destroy(&st->cv);
	free(st);
}

static void
async_closed(uv_handle_t *h)
{
	struct db_store *st = h->data;
	void (*cb)(void *) = st->closed;
	void *arg = st->closed_arg;
	free_store(st);
	if (cb)
		cb(arg);
}

static void
on_async(uv_async_t *h)
{
	struct db_store *st = h->data;
	uv_mutex_lock(&st->mu);
	struct db_req *r = st->out_head;
	st->out_head = st->out_tail = NULL;
	int exited = st->writer_exited;
	uv_mutex_unlock(&st->mu);
	while (r) {
		struct db_req *next = r->next;
		r->next = NULL;
		st->backlog--;
		for (struct db_event *e = r->events; e; e = e->next) {
			st->last_published = e->seq;
			st->publish(st->publish_ctx, e->seq, e->frame, e->len, e->scope);
		}
		if (r->next_due && r->err == 0 && st->deadline)
			st->deadline(st->deadline_ctx, r->next_due);
		r->done(r);
		r = next;
	}
	if (exited && st->thread_live) {
		uv_thread_join(&st->thread);
		st->thread_live = 0;
		uv_close((uv_handle_t *)&st->async, async_closed);
	}
}

int
db_store_open(struct db_store **out, uv_loop_t *loop, const char *path,
    const struct db_store_opts *opts, db_publish_fn publish, void *publish_ctx, char **cause)
{
	struct db_store *st = xcalloc(1, sizeof *st);
	st->loop = loop;
	st->opts = *opts;
	st->publish = publish;
	st->publish_ctx = publish_ctx;
	uv_mutex_init(&st->mu);
	uv_cond_init(&st->cv);
	int rc = sqlite3_open_v2(path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, db_vfs_register());
	if (rc != SQLITE_OK) {
		srv_fail(cause, SRV_E_STORE, "%s: %s", path, st->db ? sqlite3_errmsg(st->db) : "cannot open");
		free_store(st);
		return SRV_E_STORE;
	}
	if ((rc = db_schema_migrate(st->db, cause)) != 0) {
		free_store(st);
		return rc;
	}
	/* The writer touches every index on every intake: keep them in memory. */
	if (opts->cache_bytes > 0) {
		char *pragma = xasprintf("PRAGMA cache_size=-%lld", (long long)(opts->cache_bytes / 1024));
		sqlite3_exec(st->db, pragma, NULL, NULL, NULL);
		free(pragma);
	}
	for (int i = 0; i < S_N; i++)
		if (sqlite3_prepare_v3(st->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->st[i],
			NULL) != SQLITE_OK) {
			srv_fail(cause, SRV_E_STORE, "prepare: %s", sqlite3_errmsg(st->db));
			free_store(st);
			return SRV_E_STORE;
		}
	sqlite3_stmt *q;
	sqlite3_prepare_v2(st->db, "SELECT coalesce(max(seq), 0) FROM journal", -1, &q, NULL);
	sqlite3_step(q);
	st->last_published = sqlite3_column_int64(q, 0);
	st->next_seq = st->last_published + 1;
	sqlite3_finalize(q);

	uv_async_init(loop, &st->async, on_async);
	st->async.data = st;
	if (uv_thread_create(&st->thread, writer_main, st) != 0) {
		srv_fail(cause, SRV_E_STORE, "cannot start the writer thread");
		st->closed = NULL;
		uv_close((uv_handle_t *)&st->async, async_closed);
		return SRV_E_STORE;
	}
	st->thread_live = 1;
	*out = st;
	return 0;
}

int
db_store_submit(struct db_store *st, struct db_req *r)
{
	if (st->stopping)
		return SRV_E_SHUTTING_DOWN;
	if (st->backlog >= st->opts.backlog_max)
		return SRV_E_OVERLOADED;
	st->backlog++;
	r->next = NULL;
	uv_mutex_lock(&st->mu);
	if (st->in_tail)
		st->in_tail->next = r;
	else
		st->in_head = r;
	st->in_tail = r;
	uv_cond_signal(&st->cv);
	uv_mutex_unlock(&st->mu);
	return 0;
}

void
db_store_set_publisher(struct db_store *st, db_publish_fn publish, void *ctx)
{
	st->publish = publish;
	st->publish_ctx = ctx;
}

void
db_store_set_deadline_hook(struct db_store *st, void (*hook)(void *, int64_t), void *ctx)
{
	st->deadline = hook;
	st->deadline_ctx = ctx;
}

int
db_store_backlog(const struct db_store *st)
{
	return st->backlog;
}

int64_t
db_store_last_seq(const struct db_store *st)
{
	return st->last_published;
}

void
db_store_close(struct db_store *st, void (*closed)(void *), void *arg)
{
	st->closed = closed;
	st->closed_arg = arg;
	uv_mutex_lock(&st->mu);
	st->stopping = 1;
	uv_cond_signal(&st->cv);
	uv_mutex_unlock(&st->mu);
}

void
db_store_get_stats(const struct db_store *st, struct db_store_stats *o)
{
	o->commits = atomic_load(&st->commits);
	o->requests = atomic_load(&st->requests);
	o->batch_max_seen = atomic_load(&st->batch_max_seen);
	o->failed_commits = atomic_load(&st->failed_commits);
	o->commit_seconds = (double)atomic_load(&st->commit_ns) / 1e9;
	o->syncs = db_vfs_syncs();
}
