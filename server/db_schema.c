/*
 * db_schema.c - schema and migrations, keyed by PRAGMA user_version.
 *
 * Each migration is applied in its own transaction together with the bump
 * of user_version, so a crash mid-migration leaves the previous version.
 * A database newer than this build is refused rather than guessed at.
 */
#include "db_store.h"
#include "srv_error.h"
#include "srv_util.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

static const char *const migrations[] = {
	/* 1: incidents and the append-only journal. */
	"CREATE TABLE incidents ("
	"  id INTEGER PRIMARY KEY,"
	"  source TEXT NOT NULL,"
	"  ext_ref TEXT,"
	"  line TEXT NOT NULL,"
	"  category TEXT NOT NULL,"
	"  type TEXT,"
	"  priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 4),"
	"  status TEXT NOT NULL,"
	"  title TEXT NOT NULL,"
	"  description TEXT,"
	"  address TEXT,"
	"  lon REAL,"
	"  lat REAL,"
	"  details TEXT,"
	"  reported_at INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  updated_by TEXT NOT NULL"
	");"
	"CREATE UNIQUE INDEX incidents_source_ref ON incidents(source, ext_ref)"
	"  WHERE ext_ref IS NOT NULL;"
	"CREATE INDEX incidents_status ON incidents(status, id);"
	"CREATE INDEX incidents_created ON incidents(created_at);"
	"CREATE TABLE journal ("
	"  seq INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  incident_id INTEGER,"
	"  frame TEXT NOT NULL"
	");"
	"CREATE INDEX journal_incident ON journal(incident_id, seq);"
	"CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal"
	"  BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;"
	"CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal"
	"  BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;",

	/*
	 * 2: reports (every agency report, by (source, ext_ref), pointing at its
	 * incident: retries, later versions, updates and cancels by reference),
	 * gateways (credentials, webhooks), the transactional outbox with its
	 * delivery cursor, and the append-only audit log.
	 */
	"CREATE TABLE reports ("
	"  source TEXT NOT NULL,"
	"  ext_ref TEXT NOT NULL,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  version INTEGER NOT NULL DEFAULT 0,"
	"  action TEXT NOT NULL,"
	"  received_at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  PRIMARY KEY (source, ext_ref)"
	") WITHOUT ROWID;"
	"CREATE INDEX reports_incident ON reports(incident_id);"
	"INSERT INTO reports SELECT source, ext_ref, id, 0, 'report', created_at, created_by"
	"  FROM incidents WHERE ext_ref IS NOT NULL;"
	/* reports' primary key now answers (source, ext_ref): one index less per intake. */
	"DROP INDEX incidents_source_ref;"
	"CREATE TABLE gateways ("
	"  name TEXT PRIMARY KEY,"
	"  adapter TEXT NOT NULL,"
	"  token_hash BLOB NOT NULL,"
	"  hmac_secret TEXT,"
	"  require_signature INTEGER NOT NULL DEFAULT 0,"
	"  rate REAL NOT NULL,"
	"  burst INTEGER NOT NULL,"
	"  webhook TEXT,"
	"  lines TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  revoked_at INTEGER"
	");"
	/* AUTOINCREMENT: delivered rows are deleted, and a delivery id must never come back. */
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  gateway TEXT NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  payload TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL"
	");"
	"CREATE INDEX outbox_gateway ON outbox(gateway, id);"
	"CREATE TABLE outbox_cursor ("
	"  gateway TEXT PRIMARY KEY,"
	"  delivered_id INTEGER NOT NULL,"
	"  delivered_at INTEGER NOT NULL"
	");"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  target TEXT,"
	"  detail TEXT,"
	"  address TEXT"
	");"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
	/*
	 * GIS (gis/README.md): district polygons (WKB MultiPolygon, WGS84) with an
	 * R*Tree on their boxes, the gazetteer with its FTS5 trigram index, and each
	 * incident's district (filled at intake by gis_district_of).
	 */
	"CREATE TABLE jurisdictions ("
	"  id INTEGER PRIMARY KEY,"
	"  code TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL,"
	"  geometry BLOB NOT NULL,"
	"  label_lon REAL NOT NULL,"
	"  label_lat REAL NOT NULL,"
	"  source_crs TEXT NOT NULL,"
	"  imported_at INTEGER NOT NULL"
	");"
	"CREATE VIRTUAL TABLE jurisdictions_rtree USING rtree(id, minx, maxx, miny, maxy);"
	"CREATE TABLE places ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL,"
	"  kind TEXT,"
	"  address TEXT,"
	"  lon REAL NOT NULL,"
	"  lat REAL NOT NULL,"
	"  district_code TEXT,"
	"  district_name TEXT"
	");"
	"CREATE VIRTUAL TABLE places_fts USING fts5(name, address, content='places',"
	"  content_rowid='id', tokenize='trigram');"
	"ALTER TABLE incidents ADD COLUMN district_code TEXT;"
	"ALTER TABLE incidents ADD COLUMN district_name TEXT;",
	/*
	 * 4: the dispatch engine (docs/dispatch.md). Each incident keeps the first
	 * time it reached each status (response intervals come from these, never
	 * estimates), its acknowledgement deadline and escalation, alarm level and
	 * linkage plan, the agencies it concerns (scope, for filtered fan-out) and
	 * a rendering of its tasks, units and links (dispatch, JSON) rebuilt by
	 * the writer from the tables below whenever they change. Journal rows
	 * carry the scope of their event so resumed consoles are filtered alike.
	 */
	"ALTER TABLE incidents ADD COLUMN acknowledged_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN dispatched_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN en_route_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN on_scene_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN resolved_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN closed_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN ack_due_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN escalated_at INTEGER;"
	"ALTER TABLE incidents ADD COLUMN alarm_level INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE incidents ADD COLUMN plan TEXT;"
	"ALTER TABLE incidents ADD COLUMN merged_into INTEGER;"
	"ALTER TABLE incidents ADD COLUMN scope TEXT;"
	"ALTER TABLE incidents ADD COLUMN dispatch TEXT;"
	"UPDATE incidents SET scope=line;"
	"CREATE INDEX incidents_ack_due ON incidents(ack_due_at) WHERE ack_due_at IS NOT NULL;"
	"ALTER TABLE journal ADD COLUMN scope TEXT;"
	"CREATE TABLE tasks ("
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  agency TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  count INTEGER NOT NULL,"
	"  level INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  due_at INTEGER,"
	"  overdue_at INTEGER,"
	"  acknowledged_at INTEGER,"
	"  acknowledged_by TEXT,"
	"  PRIMARY KEY (incident_id, agency, kind)"
	") WITHOUT ROWID;"
	"CREATE INDEX tasks_due ON tasks(due_at) WHERE due_at IS NOT NULL;"
	"CREATE TABLE units ("
	"  id TEXT PRIMARY KEY,"
	"  agency TEXT NOT NULL,"
	"  kind TEXT NOT NULL,"
	"  station TEXT,"
	"  status TEXT NOT NULL,"
	"  status_at INTEGER NOT NULL,"
	"  status_due_at INTEGER,"
	"  flagged_at INTEGER,"
	"  incident_id INTEGER REFERENCES incidents(id),"
	"  lon REAL,"
	"  lat REAL,"
	"  pos_at INTEGER,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  version INTEGER NOT NULL"
	");"
	"CREATE INDEX units_due ON units(status_due_at) WHERE status_due_at IS NOT NULL;"
	"CREATE INDEX units_incident ON units(incident_id) WHERE incident_id IS NOT NULL;"
	"CREATE TABLE assignments ("
	"  id INTEGER PRIMARY KEY,"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  unit_id TEXT NOT NULL REFERENCES units(id),"
	"  assigned_at INTEGER NOT NULL,"
	"  assigned_by TEXT NOT NULL,"
	"  released_at INTEGER"
	");"
	"CREATE INDEX assignments_incident ON assignments(incident_id);"
	"CREATE TABLE links ("
	"  a INTEGER NOT NULL REFERENCES incidents(id),"
	"  b INTEGER NOT NULL REFERENCES incidents(id),"
	"  kind TEXT NOT NULL,"
	"  distance_m REAL,"
	"  gap_s REAL,"
	"  created_at INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  PRIMARY KEY (a, b)"
	") WITHOUT ROWID;"
	"CREATE INDEX links_b ON links(b);",
	/*
	 * 5: people (srv_users.h): users with a role (and a dispatcher's agency)
	 * and an argon2id password hash; sessions by the BLAKE2b hash of their
	 * cookie token (the token itself is never stored).
	 */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY,"
	"  display TEXT,"
	"  role TEXT NOT NULL,"
	"  agency TEXT,"
	"  pwhash TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  disabled_at INTEGER"
	");"
	"CREATE TABLE sessions ("
	"  token_hash BLOB PRIMARY KEY,"
	"  user TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  address TEXT"
	") WITHOUT ROWID;"
	"CREATE INDEX sessions_user ON sessions(user);",
	/*
	 * 6: video conferences (server/conf.h, docs/media.md): a name, provincial
	 * sources, the return feed's URI, linked incidents, participants (who joined and left when), and
	 * recorded segments. scope is the linked incidents' agencies ("110,119"),
	 * which decides which dispatchers' consoles see the conference.
	 */
	"CREATE TABLE conferences ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  return_uri TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  created_by TEXT NOT NULL,"
	"  updated_at INTEGER NOT NULL,"
	"  version INTEGER NOT NULL"
	");"
	"CREATE TABLE conference_sources ("
	"  conference_id INTEGER NOT NULL REFERENCES conferences(id),"
	"  idx INTEGER NOT NULL,"
	"  uri TEXT NOT NULL,"
	"  added_at INTEGER NOT NULL,"
	"  added_by TEXT NOT NULL,"
	"  PRIMARY KEY (conference_id, idx)"
	") WITHOUT ROWID;"
	"CREATE TABLE conference_incidents ("
	"  conference_id INTEGER NOT NULL REFERENCES conferences(id),"
	"  incident_id INTEGER NOT NULL REFERENCES incidents(id),"
	"  linked_at INTEGER NOT NULL,"
	"  linked_by TEXT NOT NULL,"
	"  PRIMARY KEY (conference_id, incident_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX conference_incidents_incident ON conference_incidents(incident_id);"
	"CREATE TABLE conference_participants ("
	"  conference_id INTEGER NOT NULL REFERENCES conferences(id),"
	"  who TEXT NOT NULL,"
	"  joined_at INTEGER NOT NULL,"
	"  left_at INTEGER"
	");"
	"CREATE INDEX conference_participants_conf ON conference_participants(conference_id, who);"
	"CREATE TABLE conference_recordings ("
	"  id INTEGER PRIMARY KEY,"
	"  conference_id INTEGER NOT NULL REFERENCES conferences(id),"
	"  source INTEGER NOT NULL,"
	"  file TEXT NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  duration_ms INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL"
	");",
};
#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int
db_schema_version(void)
{
	return NMIGRATIONS;
}

static int
exec(sqlite3 *db, const char *sql, char **cause)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		srv_fail(cause, SRV_E_STORE, "%s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return SRV_E_STORE;
	}
	return 0;
}

int
db_schema_migrate(sqlite3 *db, char **cause)
{
	int rc;
	/* WAL with synchronous=FULL: a COMMIT that returned is on disk. */
	if ((rc = exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			   "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;", cause)))
		return rc;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
		return srv_fail(cause, SRV_E_STORE, "%s", sqlite3_errmsg(db));
	int version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	if (version < 0)
		return srv_fail(cause, SRV_E_STORE, "cannot read the schema version");
	if (version > NMIGRATIONS)
		return srv_fail(cause, SRV_E_STORE,
		    "the database has schema version %d, newer than this build's %d", version,
		    NMIGRATIONS);
	for (int v = version; v < NMIGRATIONS; v++) {
		char *sql = xasprintf("BEGIN IMMEDIATE; %s PRAGMA user_version=%d; COMMIT;",
		    migrations[v], v + 1);
		rc = exec(db, sql, cause);
		free(sql);
		if (rc) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
	}
	return 0;
}

void
db_row_incident(sqlite3_stmt *st, struct incident *out)
{
#define TXT(i) (sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : \
	xstrdup((const char *)sqlite3_column_text(st, i)))
	memset(out, 0, sizeof *out);
	out->id = sqlite3_column_int64(st, 0);
	out->source = TXT(1);
	out->ext_ref = TXT(2);
	int n = inc_line_parse((const char *)sqlite3_column_text(st, 3));
	out->line = n < 0 ? INC_LINE_OTHER : (enum inc_line)n;
	n = inc_category_parse((const char *)sqlite3_column_text(st, 4));
	out->category = n < 0 ? INC_CAT_OTHER : (enum inc_category)n;
	out->type = TXT(5);
	out->priority = sqlite3_column_int(st, 6);
	n = inc_status_parse((const char *)sqlite3_column_text(st, 7));
	out->status = n < 0 ? INC_ST_NEW : (enum inc_status)n;
	out->title = TXT(8);
	out->description = TXT(9);
	out->address = TXT(10);
	if (sqlite3_column_type(st, 11) != SQLITE_NULL) {
		out->has_position = 1;
		out->lon = sqlite3_column_double(st, 11);
		out->lat = sqlite3_column_double(st, 12);
	}
	out->details = TXT(13);
	out->reported_at = sqlite3_column_int64(st, 14);
	out->created_at = sqlite3_column_int64(st, 15);
	out->updated_at = sqlite3_column_int64(st, 16);
	out->version = sqlite3_column_int64(st, 17);
	out->district_code = TXT(18);
	out->district_name = TXT(19);
	out->acknowledged_at = sqlite3_column_int64(st, 20);
	out->dispatched_at = sqlite3_column_int64(st, 21);
	out->en_route_at = sqlite3_column_int64(st, 22);
	out->on_scene_at = sqlite3_column_int64(st, 23);
	out->resolved_at = sqlite3_column_int64(st, 24);
	out->closed_at = sqlite3_column_int64(st, 25);
	out->ack_due_at = sqlite3_column_int64(st, 26);
	out->escalated_at = sqlite3_column_int64(st, 27);
	out->alarm_level = sqlite3_column_int(st, 28);
	out->plan = TXT(29);
	out->merged_into = sqlite3_column_int64(st, 30);
	out->scope = TXT(31);
	out->dispatch = TXT(32);
#undef TXT
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

json_t *
db_row_unit(sqlite3_stmt *s)
{
	json_t *u = json_object();
	json_object_set_new(u, "id", json_string((const char *)sqlite3_column_text(s, 0)));
	json_object_set_new(u, "agency", json_string((const char *)sqlite3_column_text(s, 1)));
	json_object_set_new(u, "kind", json_string((const char *)sqlite3_column_text(s, 2)));
	json_object_set_new(u, "station", sqlite3_column_type(s, 3) == SQLITE_NULL ? json_null()
	    : json_string((const char *)sqlite3_column_text(s, 3)));
	json_object_set_new(u, "status", json_string((const char *)sqlite3_column_text(s, 4)));
	json_object_set_new(u, "status_at", col_time(s, 5));
	json_object_set_new(u, "incident_id", sqlite3_column_type(s, 6) == SQLITE_NULL ? json_null()
	    : json_integer(sqlite3_column_int64(s, 6)));
	if (sqlite3_column_type(s, 7) != SQLITE_NULL) {
		json_object_set_new(u, "lon", json_real(sqlite3_column_double(s, 7)));
		json_object_set_new(u, "lat", json_real(sqlite3_column_double(s, 8)));
	} else {
		json_object_set_new(u, "lon", json_null());
		json_object_set_new(u, "lat", json_null());
	}
	json_object_set_new(u, "pos_at", col_time(s, 9));
	json_object_set_new(u, "flagged_at", col_time(s, 10));
	json_object_set_new(u, "version", json_integer(sqlite3_column_int64(s, 11)));
	return u;
}
