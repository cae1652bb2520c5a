/*
 * conf_store.c - conference commands, run by the store writer inside its
 * transaction (DB_OP_RUN), each journaled with its actor.
 *
 * A conference's scope is the agencies of the incidents it is linked to
 * ("110,119"): consoles of dispatchers see a conference, and its events, only
 * when one of those agencies is theirs. A link is journaled twice: as
 * conference.linked on the conference (scope: the conference's) and against
 * the incident itself (incident_id set), so it is on the incident's history.
 */
#include "conf.h"
#include "db_store-int.h"
#include "srv_error.h"
#include "srv_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void
conf_args_free(void *p)
{
	struct conf_args *a = p;
	if (a == NULL)
		return;
	free(a->name);
	free(a->return_uri);
	for (int i = 0; i < a->nuris; i++)
		free(a->uris[i]);
	free(a->who);
	free(a->what);
	free(a->file);
	free(a);
}

static const char SQL_CONF_GET[] =
    "SELECT id, name, state, scope, created_at, created_by, updated_at, version, return_uri"
    " FROM conferences WHERE id = ?";
static const char SQL_CONF_BY_NAME[] = "SELECT id FROM conferences WHERE name = ?";
static const char SQL_CONF_ALL[] = "SELECT id FROM conferences ORDER BY id";
static const char SQL_CONF_PUT[] =
    "INSERT INTO conferences (name, state, scope, created_at, created_by, updated_at, version,"
    " return_uri) VALUES (?, 'open', '', ?, ?, ?, 1, ?)";
static const char SQL_CONF_TOUCH[] =
    "UPDATE conferences SET scope = ?, updated_at = ?, version = version + 1 WHERE id = ?";
static const char SQL_SRC_LIST[] =
    "SELECT idx, uri FROM conference_sources WHERE conference_id = ? ORDER BY idx";
static const char SQL_SRC_NEXT[] =
    "SELECT COALESCE(MAX(idx) + 1, 0), COUNT(*) FROM conference_sources WHERE conference_id = ?";
static const char SQL_SRC_HAS[] =
    "SELECT 1 FROM conference_sources WHERE conference_id = ? AND uri = ?";
static const char SQL_SRC_PUT[] =
    "INSERT INTO conference_sources (conference_id, idx, uri, added_at, added_by)"
    " VALUES (?, ?, ?, ?, ?)";
static const char SQL_INC_LIST[] =
    "SELECT incident_id FROM conference_incidents WHERE conference_id = ? ORDER BY incident_id";
static const char SQL_INC_HAS[] =
    "SELECT 1 FROM conference_incidents WHERE conference_id = ? AND incident_id = ?";
static const char SQL_INC_PUT[] =
    "INSERT INTO conference_incidents (conference_id, incident_id, linked_at, linked_by)"
    " VALUES (?, ?, ?, ?)";
static const char SQL_INCIDENT[] =
    "SELECT line, scope, district_code FROM incidents WHERE id = ?";
static const char SQL_SCOPES[] =
    "SELECT i.scope, i.line FROM conference_incidents c JOIN incidents i ON i.id = c.incident_id"
    " WHERE c.conference_id = ?";
static const char SQL_PART_JOIN[] =
    "INSERT INTO conference_participants (conference_id, who, joined_at) VALUES (?, ?, ?)";
static const char SQL_PART_LEAVE[] =
    "UPDATE conference_participants SET left_at = ? WHERE rowid = (SELECT rowid FROM"
    " conference_participants WHERE conference_id = ? AND who = ? AND left_at IS NULL"
    " ORDER BY joined_at DESC LIMIT 1)";
static const char SQL_PART_NOW[] =
    "SELECT who, MIN(joined_at) FROM conference_participants WHERE conference_id = ?"
    " AND left_at IS NULL GROUP BY who ORDER BY 2";

static json_t *
col_time(sqlite3_stmt *s, int i)
{
	char buf[40];
	srv_fmt_time(sqlite3_column_int64(s, i), 0, buf, sizeof buf);
	return json_string(buf);
}

/* The stored conference as JSON (without the media states, which the loop adds), or NULL. */
static json_t *
conf_json(struct db_store *st, struct db_req *r, int64_t id)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_CONF_GET);
	sqlite3_bind_int64(s, 1, id);
	json_t *o = NULL;
	if (sqlite3_step(s) == SQLITE_ROW) {
		o = json_object();
		json_object_set_new(o, "id", json_integer(sqlite3_column_int64(s, 0)));
		json_object_set_new(o, "name", json_string((const char *)sqlite3_column_text(s, 1)));
		json_object_set_new(o, "state", json_string((const char *)sqlite3_column_text(s, 2)));
		json_object_set_new(o, "scope", json_string((const char *)sqlite3_column_text(s, 3)));
		json_object_set_new(o, "created_at", col_time(s, 4));
		json_object_set_new(o, "created_by", json_string((const char *)sqlite3_column_text(s, 5)));
		json_object_set_new(o, "updated_at", col_time(s, 6));
		json_object_set_new(o, "version", json_integer(sqlite3_column_int64(s, 7)));
		json_object_set_new(o, "return", sqlite3_column_type(s, 8) == SQLITE_NULL ? json_null()
		    : json_string((const char *)sqlite3_column_text(s, 8)));
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (o == NULL)
		return NULL;
	json_t *srcs = json_array();
	s = db_tx_stmt(st, SQL_SRC_LIST);
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(srcs, json_pack("{s:i, s:s}", "index", sqlite3_column_int(s, 0),
		    "uri", (const char *)sqlite3_column_text(s, 1)));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	json_object_set_new(o, "sources", srcs);
	json_t *incs = json_array();
	s = db_tx_stmt(st, SQL_INC_LIST);
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(incs, json_integer(sqlite3_column_int64(s, 0)));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	json_object_set_new(o, "incidents", incs);
	json_t *parts = json_array();
	s = db_tx_stmt(st, SQL_PART_NOW);
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW)
		json_array_append_new(parts, json_pack("{s:s, s:o}", "who",
		    (const char *)sqlite3_column_text(s, 0), "since", col_time(s, 1)));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	json_object_set_new(o, "participants", parts);
	(void)r;
	return o;
}

/* Recompute the scope (agencies of linked incidents, sorted, unique) and bump the version. */
static int
touch(struct db_store *st, struct db_req *r, int64_t id, int64_t now, char *scope_out, size_t len)
{
	char agencies[32][17];
	int n = 0;
	sqlite3_stmt *s = db_tx_stmt(st, SQL_SCOPES);
	sqlite3_bind_int64(s, 1, id);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *sc = (const char *)sqlite3_column_text(s, 0);
		if (sc == NULL || sc[0] == '\0')
			sc = (const char *)sqlite3_column_text(s, 1);
		char buf[256];
		snprintf(buf, sizeof buf, "%s", sc ? sc : "");
		char *save = NULL;
		for (char *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			int dup = 0;
			for (int i = 0; i < n && !dup; i++)
				dup = strcmp(agencies[i], a) == 0;
			if (!dup && n < 32 && strlen(a) < sizeof agencies[0])
				snprintf(agencies[n++], sizeof agencies[0], "%s", a);
		}
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	qsort(agencies, (size_t)n, sizeof agencies[0], (int (*)(const void *, const void *))strcmp);
	scope_out[0] = '\0';
	for (int i = 0; i < n; i++) {
		size_t used = strlen(scope_out);
		snprintf(scope_out + used, len - used, "%s%s", i ? "," : "", agencies[i]);
	}
	s = db_tx_stmt(st, SQL_CONF_TOUCH);
	sqlite3_bind_text(s, 1, scope_out, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now);
	sqlite3_bind_int64(s, 3, id);
	return db_tx_exec(st, s, r);
}

/* Journal a conference event: the conference's JSON under "conference", scoped to its agencies. */
static int
conf_event(struct db_store *st, struct db_req *r, const char *kind, int64_t id, json_t *extra,
    int64_t now)
{
	json_t *c = conf_json(st, r, id);
	if (c == NULL) {
		json_decref(extra);
		return srv_fail(&r->cause, r->err = SRV_E_INTERNAL, "conference %lld vanished",
		    (long long)id);
	}
	char *scope = xstrdup(json_string_value(json_object_get(c, "scope")));
	json_t *body = extra ? extra : json_object();
	json_object_set(body, "conference", c);
	int rc = db_tx_event(st, r, kind, 0, scope, NULL, body, now);
	free(scope);
	json_decref(r->result);
	r->result = c;
	return rc;
}

/* Link one incident (checked to exist); journal it on the incident's own history. */
static int
link_incident(struct db_store *st, struct db_req *r, int64_t id, int64_t incident, int64_t now,
    int *linked)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_INCIDENT);
	sqlite3_bind_int64(s, 1, incident);
	char scope[300] = "";
	int found = sqlite3_step(s) == SQLITE_ROW;
	if (found) {
		const char *line = (const char *)sqlite3_column_text(s, 0);
		const char *sc = (const char *)sqlite3_column_text(s, 1);
		const char *d = (const char *)sqlite3_column_text(s, 2);
		snprintf(scope, sizeof scope, "%s|%s", sc && sc[0] ? sc : line, d ? d : "");
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (!found)
		return srv_fail(&r->cause, r->err = SRV_E_NOT_FOUND, "no incident %lld",
		    (long long)incident);
	s = db_tx_stmt(st, SQL_INC_HAS);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, incident);
	int has = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (has) {
		*linked = 0;
		return 0;
	}
	s = db_tx_stmt(st, SQL_INC_PUT);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, incident);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_text(s, 4, r->actor, -1, SQLITE_TRANSIENT);
	int rc = db_tx_exec(st, s, r);
	if (rc)
		return rc;
	*linked = 1;
	/* On the incident's timeline: which conference, by whom (the actor). */
	sqlite3_stmt *g = db_tx_stmt(st, SQL_CONF_GET);
	sqlite3_bind_int64(g, 1, id);
	char name[256] = "";
	if (sqlite3_step(g) == SQLITE_ROW)
		snprintf(name, sizeof name, "%s", (const char *)sqlite3_column_text(g, 1));
	sqlite3_reset(g);
	sqlite3_clear_bindings(g);
	return db_tx_event(st, r, "incident.conference_linked", incident, scope, NULL,
	    json_pack("{s:I, s:{s:I, s:s}}", "incident_id", (json_int_t)incident, "conference",
		"id", (json_int_t)id, "name", name), now);
}

static int
add_source(struct db_store *st, struct db_req *r, int64_t id, const char *uri, int64_t now,
    int *added)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_SRC_HAS);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_text(s, 2, uri, -1, SQLITE_TRANSIENT);
	int has = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	*added = 0;
	if (has)
		return 0;
	s = db_tx_stmt(st, SQL_SRC_NEXT);
	sqlite3_bind_int64(s, 1, id);
	int idx = 0, count = 0;
	if (sqlite3_step(s) == SQLITE_ROW) {
		idx = sqlite3_column_int(s, 0);
		count = sqlite3_column_int(s, 1);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (count >= CONF_MAX_SOURCES)
		return srv_fail(&r->cause, r->err = SRV_E_CONFLICT, "a conference has at most %d sources",
		    CONF_MAX_SOURCES);
	s = db_tx_stmt(st, SQL_SRC_PUT);
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, idx);
	sqlite3_bind_text(s, 3, uri, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_text(s, 5, r->actor, -1, SQLITE_TRANSIENT);
	int rc = db_tx_exec(st, s, r);
	if (rc == 0)
		*added = 1;
	return rc;
}

static int64_t
id_by_name(struct db_store *st, const char *name)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_CONF_BY_NAME);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
	int64_t id = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return id;
}

int
conf_run_create(struct db_store *st, struct db_req *r, int64_t now)
{
	struct conf_args *a = r->args;
	int64_t id = id_by_name(st, a->name);
	int rc, added, any = 0;
	if (id && !a->if_absent)
		return srv_fail(&r->cause, r->err = SRV_E_CONFLICT, "a conference named '%s' exists (id %lld)",
		    a->name, (long long)id);
	int created = 0;
	if (id == 0) {
		sqlite3_stmt *s = db_tx_stmt(st, SQL_CONF_PUT);
		sqlite3_bind_text(s, 1, a->name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 2, now);
		sqlite3_bind_text(s, 3, r->actor, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 4, now);
		if (a->return_uri)
			sqlite3_bind_text(s, 5, a->return_uri, -1, SQLITE_TRANSIENT);
		if ((rc = db_tx_exec(st, s, r)))
			return rc;
		id = sqlite3_last_insert_rowid(db_tx_db(st));
		created = 1;
	}
	for (int i = 0; i < a->nuris; i++) {
		if ((rc = add_source(st, r, id, a->uris[i], now, &added)))
			return rc;
		any |= added;
	}
	for (int i = 0; i < a->nincidents; i++) {
		int linked;
		if ((rc = link_incident(st, r, id, a->incidents[i], now, &linked)))
			return rc;
		any |= linked;
	}
	if (!created && !any) { /* a config conference already as configured */
		json_decref(r->result);
		r->result = conf_json(st, r, id);
		return 0;
	}
	char scope[512];
	if ((rc = touch(st, r, id, now, scope, sizeof scope)))
		return rc;
	r->changed = 1;
	return conf_event(st, r, created ? "conference.created" : "conference.updated", id, NULL, now);
}

/* The conference must exist (404) and, when open_only, not be closed (409). */
static int
need_conf(struct db_store *st, struct db_req *r, int64_t id, int open_only)
{
	sqlite3_stmt *s = db_tx_stmt(st, SQL_CONF_GET);
	sqlite3_bind_int64(s, 1, id);
	int found = sqlite3_step(s) == SQLITE_ROW;
	int closed = found && strcmp((const char *)sqlite3_column_text(s, 2), "closed") == 0;
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (!found)
		return srv_fail(&r->cause, r->err = SRV_E_NOT_FOUND, "no conference %lld", (long long)id);
	if (closed && open_only)
		return srv_fail(&r->cause, r->err = SRV_E_CONFLICT, "conference %lld is closed",
		    (long long)id);
	return 0;
}

int
conf_run_link(struct db_store *st, struct db_req *r, int64_t now)
{
	struct conf_args *a = r->args;
	int rc, linked;
	if ((rc = need_conf(st, r, a->id, 1)) || (rc = link_incident(st, r, a->id, a->incidents[0], now,
	    &linked)))
		return rc;
	if (!linked) {
		json_decref(r->result);
		r->result = conf_json(st, r, a->id);
		return 0;
	}
	char scope[512];
	if ((rc = touch(st, r, a->id, now, scope, sizeof scope)))
		return rc;
	r->changed = 1;
	return conf_event(st, r, "conference.linked", a->id,
	    json_pack("{s:I}", "incident_id", (json_int_t)a->incidents[0]), now);
}

int
conf_run_add_source(struct db_store *st, struct db_req *r, int64_t now)
{
	struct conf_args *a = r->args;
	int rc, added;
	if ((rc = need_conf(st, r, a->id, 1)) || (rc = add_source(st, r, a->id, a->uris[0], now, &added)))
		return rc;
	if (!added)
		return srv_fail(&r->cause, r->err = SRV_E_CONFLICT, "the conference has that source already");
	char scope[512];
	if ((rc = touch(st, r, a->id, now, scope, sizeof scope)))
		return rc;
	r->changed = 1;
	return conf_event(st, r, "conference.source_added", a->id, NULL, now);
}

int
conf_run_participant(struct db_store *st, struct db_req *r, int64_t now)
{
	struct conf_args *a = r->args;
	int rc;
	if ((rc = need_conf(st, r, a->id, 0)))
		return rc;
	int join = strcmp(a->what, "joined") == 0;
	sqlite3_stmt *s = db_tx_stmt(st, join ? SQL_PART_JOIN : SQL_PART_LEAVE);
	if (join) {
		sqlite3_bind_int64(s, 1, a->id);
		sqlite3_bind_text(s, 2, a->who, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(s, 3, now);
	} else {
		sqlite3_bind_int64(s, 1, now);
		sqlite3_bind_int64(s, 2, a->id);
		sqlite3_bind_text(s, 3, a->who, -1, SQLITE_TRANSIENT);
	}
	if ((rc = db_tx_exec(st, s, r)))
		return rc;
	r->changed = 1;
	return conf_event(st, r, join ? "conference.joined" : "conference.left", a->id,
	    json_pack("{s:s}", "who", a->who), now);
}

static const char SQL_CONF_CLOSE[] =
    "UPDATE conferences SET state = 'closed', updated_at = ?, version = version + 1"
    " WHERE id = ? AND state <> 'closed'";

int
conf_run_close(struct db_store *st, struct db_req *r, int64_t now)
{
	struct conf_args *a = r->args;
	int rc;
	if ((rc = need_conf(st, r, a->id, 0)))
		return rc;
	sqlite3_stmt *s = db_tx_stmt(st, SQL_CONF_CLOSE);
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, a->id);
	if ((rc = db_tx_exec(st, s, r)))
		return rc;
	if (sqlite3_changes(db_tx_db(st)) == 0) { /* closed already: nothing changes */
		json_decref(r->result);
		r->result = conf_json(st, r, a->id);
		return 0;
	}
	r->changed = 1;
	return conf_event(st, r, "conference.closed", a->id, NULL, now);
}

int
conf_run_load(struct db_store *st, struct db_req *r, int64_t now)
{
	(void)now;
	json_t *list = json_array();
	int64_t ids[CONF_MAX];
	int n = 0;
	sqlite3_stmt *s = db_tx_stmt(st, SQL_CONF_ALL);
	while (sqlite3_step(s) == SQLITE_ROW && n < CONF_MAX)
		ids[n++] = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	for (int i = 0; i < n; i++) {
		json_t *c = conf_json(st, r, ids[i]);
		if (c)
			json_array_append_new(list, c);
	}
	r->result = json_pack("{s:o}", "conferences", list);
	return 0;
}

static const char SQL_REC_PUT[] =
    "INSERT INTO conference_recordings (conference_id, source, file, started_at, duration_ms, bytes)"
    " VALUES (?, ?, ?, ?, ?, ?)";
static const char SQL_REC_LIST[] =
    "SELECT id, source, file, started_at, duration_ms, bytes FROM conference_recordings"
    " WHERE conference_id = ? AND (? = 0 OR id = ?) ORDER BY id DESC LIMIT 500";
static const char SQL_LINKED[] =
    "SELECT c.incident_id, i.scope, i.line, i.district_code FROM conference_incidents c"
    " JOIN incidents i ON i.id = c.incident_id WHERE c.conference_id = ?";

static json_t *
rec_json(int64_t conf, int64_t id, int source, const char *file, int64_t started, int64_t ms,
    int64_t bytes)
{
	char ts[40];
	srv_fmt_time(started, 0, ts, sizeof ts);
	const char *base = strrchr(file, '/');
	return json_pack("{s:I, s:I, s:i, s:s, s:s, s:I, s:I}", "id", (json_int_t)id,
	    "conference", (json_int_t)conf, "source", source, "name", base ? base + 1 : file,
	    "started_at", ts, "duration_ms", (json_int_t)ms, "bytes", (json_int_t)bytes);
}

int
conf_run_recorded(struct db_store *st, struct db_req *r, int64_t now)
{
	struct conf_args *a = r->args;
	int rc;
	if ((rc = need_conf(st, r, a->id, 0)))
		return rc;
	struct stat sb; /* the writer's thread: a stat never runs on the loop */
	int64_t bytes = stat(a->file, &sb) == 0 ? (int64_t)sb.st_size : 0;
	int64_t started = now - (a->duration_ms > 0 ? a->duration_ms * 1000 : 0);
	sqlite3_stmt *s = db_tx_stmt(st, SQL_REC_PUT);
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int(s, 2, a->source);
	sqlite3_bind_text(s, 3, a->file, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 4, started);
	sqlite3_bind_int64(s, 5, a->duration_ms);
	sqlite3_bind_int64(s, 6, bytes);
	if ((rc = db_tx_exec(st, s, r)))
		return rc;
	int64_t rid = sqlite3_last_insert_rowid(db_tx_db(st));
	json_t *rec = rec_json(a->id, rid, a->source, a->file, started, a->duration_ms, bytes);
	char href[96];
	snprintf(href, sizeof href, "/api/v1/conferences/%lld/recordings/%lld.mp4", (long long)a->id,
	    (long long)rid);
	json_object_set_new(rec, "href", json_string(href));
	/* On every linked incident's timeline. */
	int64_t incs[CONF_MAX_INCIDENTS];
	char scopes[CONF_MAX_INCIDENTS][300];
	int n = 0;
	s = db_tx_stmt(st, SQL_LINKED);
	sqlite3_bind_int64(s, 1, a->id);
	while (sqlite3_step(s) == SQLITE_ROW && n < CONF_MAX_INCIDENTS) {
		const char *sc = (const char *)sqlite3_column_text(s, 1);
		const char *line = (const char *)sqlite3_column_text(s, 2);
		const char *d = (const char *)sqlite3_column_text(s, 3);
		incs[n] = sqlite3_column_int64(s, 0);
		snprintf(scopes[n], sizeof scopes[n], "%s|%s", sc && sc[0] ? sc : line, d ? d : "");
		n++;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	for (int i = 0; i < n; i++)
		if ((rc = db_tx_event(st, r, "incident.conference_recorded", incs[i], scopes[i], NULL,
		    json_pack("{s:I, s:O}", "incident_id", (json_int_t)incs[i], "recording", rec), now))) {
			json_decref(rec);
			return rc;
		}
	r->changed = 1;
	rc = conf_event(st, r, "conference.recorded", a->id, json_pack("{s:O}", "recording", rec), now);
	json_decref(r->result);
	r->result = rec;
	return rc;
}

int
conf_run_recordings(struct db_store *st, struct db_req *r, int64_t now)
{
	struct conf_args *a = r->args;
	(void)now;
	json_t *list = json_array();
	sqlite3_stmt *s = db_tx_stmt(st, SQL_REC_LIST);
	sqlite3_bind_int64(s, 1, a->id);
	sqlite3_bind_int64(s, 2, a->recording);
	sqlite3_bind_int64(s, 3, a->recording);
	while (sqlite3_step(s) == SQLITE_ROW) {
		int64_t rid = sqlite3_column_int64(s, 0);
		const char *file = (const char *)sqlite3_column_text(s, 2);
		json_t *rec = rec_json(a->id, rid, sqlite3_column_int(s, 1), file,
		    sqlite3_column_int64(s, 3), sqlite3_column_int64(s, 4), sqlite3_column_int64(s, 5));
		char href[96];
		snprintf(href, sizeof href, "/api/v1/conferences/%lld/recordings/%lld.mp4",
		    (long long)a->id, (long long)rid);
		json_object_set_new(rec, "href", json_string(href));
		if (a->recording)
			json_object_set_new(rec, "file", json_string(file));
		json_array_append_new(list, rec);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	r->result = json_pack("{s:o}", "recordings", list);
	return 0;
}
