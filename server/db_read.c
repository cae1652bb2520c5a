/* db_read.c - see db_read.h. */
#include "db_read.h"
#include "db_store.h"
#include "hub.h"
#include "incident.h"
#include "srv_error.h"
#include "srv_json.h"
#include "srv_util.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct db_reader {
	uv_loop_t *loop;
	uv_mutex_t mu;
	uv_cond_t cv;
	sqlite3 **conns; /* free connections */
	int nfree, nconns;
	int inflight;
	int closing;
};

struct db_query *
db_query_new(enum db_query_kind kind)
{
	struct db_query *q = xcalloc(1, sizeof *q);
	q->kind = kind;
	q->filter.line = -1;
	q->filter.category = -1;
	q->filter.limit = 100;
	return q;
}

void
db_query_free(struct db_query *q)
{
	if (q == NULL)
		return;
	free(q->filter.source);
	inc_clear(&q->inc);
	free(q->cause);
	free(q->body);
	for (int i = 0; i < q->nframes; i++)
		free(q->frames[i]);
	free(q->frames);
	free(q->frame_lens);
	free(q->frame_seqs);
	if (q->frame_scopes)
		for (int i = 0; i < q->nframes; i++)
			free(q->frame_scopes[i]);
	free(q->frame_scopes);
	free(q->filter_scope);
	free(q);
}

static void
reader_free(struct db_reader *r)
{
	for (int i = 0; i < r->nfree; i++)
		sqlite3_close(r->conns[i]);
	free(r->conns);
	uv_mutex_destroy(&r->mu);
	uv_cond_destroy(&r->cv);
	free(r);
}

int
db_reader_open(struct db_reader **out, uv_loop_t *loop, const char *path, int nconns, char **cause)
{
	struct db_reader *r = xcalloc(1, sizeof *r);
	r->loop = loop;
	uv_mutex_init(&r->mu);
	uv_cond_init(&r->cv);
	r->conns = xcalloc((size_t)nconns, sizeof *r->conns);
	for (int i = 0; i < nconns; i++) {
		sqlite3 *db = NULL;
		if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			db_vfs_register()) != SQLITE_OK) {
			srv_fail(cause, SRV_E_STORE, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
			sqlite3_close(db);
			reader_free(r);
			return SRV_E_STORE;
		}
		sqlite3_busy_timeout(db, 5000);
		r->conns[r->nfree++] = db;
	}
	r->nconns = nconns;
	*out = r;
	return 0;
}

static sqlite3 *
take(struct db_reader *r)
{
	uv_mutex_lock(&r->mu);
	while (r->nfree == 0)
		uv_cond_wait(&r->cv, &r->mu);
	sqlite3 *db = r->conns[--r->nfree];
	uv_mutex_unlock(&r->mu);
	return db;
}

static void
give(struct db_reader *r, sqlite3 *db)
{
	uv_mutex_lock(&r->mu);
	r->conns[r->nfree++] = db;
	uv_cond_signal(&r->cv);
	uv_mutex_unlock(&r->mu);
}

static int
fail_sql(struct db_query *q, sqlite3 *db)
{
	q->err = SRV_E_STORE;
	q->cause = xasprintf("sqlite: %s", sqlite3_errmsg(db));
	return -1;
}

static void
set_body(struct db_query *q, json_t *j)
{
	q->body = srv_json_dump(j, NULL);
	q->body_len = strlen(q->body);
	json_decref(j);
}

static void
q_get(struct db_query *q, sqlite3 *db)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT " DB_INCIDENT_COLS " FROM incidents WHERE id=?1", -1, &s,
		NULL) != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	sqlite3_bind_int64(s, 1, q->id);
	int rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		db_row_incident(s, &q->inc);
		q->version = q->inc.version;
		set_body(q, inc_to_json(&q->inc));
	} else if (rc == SQLITE_DONE) {
		q->err = SRV_E_NOT_FOUND;
		q->cause = xasprintf("no incident %lld", (long long)q->id);
	} else {
		fail_sql(q, db);
	}
	sqlite3_finalize(s);
}

static void
q_list(struct db_query *q, sqlite3 *db)
{
	const struct db_list_filter *f = &q->filter;
	/* Fixed placeholders, each filter contributing "(?n IS NULL OR ...)". */
	char *sqltext = xasprintf(
	    "SELECT " DB_INCIDENT_COLS " FROM incidents WHERE"
	    " (?1 IS NULL OR line=?1) AND (?2 IS NULL OR category=?2)"
	    " AND (?3 IS NULL OR priority<=?3) AND (?4 IS NULL OR source=?4)"
	    " AND (?5 IS NULL OR created_at>=?5) AND (?6 IS NULL OR created_at<?6)"
	    " AND (?7 IS NULL OR id<?7)"
	    " AND (?8 = 0 OR status NOT IN ('resolved','closed','cancelled','unfounded'))"
	    " AND (?9 = 0 OR (1 << (CASE status %s END)) & ?9)"
	    " AND (?11 IS NULL OR ','||coalesce(scope,line)||',' LIKE '%%,'||?11||',%%')"
	    " ORDER BY id DESC LIMIT ?10",
	    "WHEN 'new' THEN 0 WHEN 'acknowledged' THEN 1 WHEN 'dispatched' THEN 2"
	    " WHEN 'en_route' THEN 3 WHEN 'on_scene' THEN 4 WHEN 'resolved' THEN 5"
	    " WHEN 'closed' THEN 6 WHEN 'cancelled' THEN 7 WHEN 'unfounded' THEN 8 ELSE 30");
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sqltext, -1, &s, NULL);
	free(sqltext);
	if (rc != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	if (f->line >= 0)
		sqlite3_bind_text(s, 1, inc_line_name(f->line), -1, SQLITE_STATIC);
	if (f->category >= 0)
		sqlite3_bind_text(s, 2, inc_category_name(f->category), -1, SQLITE_STATIC);
	if (f->priority_max > 0)
		sqlite3_bind_int(s, 3, f->priority_max);
	if (f->source)
		sqlite3_bind_text(s, 4, f->source, -1, SQLITE_STATIC);
	if (f->since)
		sqlite3_bind_int64(s, 5, f->since);
	if (f->until)
		sqlite3_bind_int64(s, 6, f->until);
	if (f->before_id)
		sqlite3_bind_int64(s, 7, f->before_id);
	sqlite3_bind_int(s, 8, f->open_only);
	sqlite3_bind_int64(s, 9, f->status_mask);
	sqlite3_bind_int(s, 10, f->limit + 1);
	if (f->agency[0])
		sqlite3_bind_text(s, 11, f->agency, -1, SQLITE_STATIC);
	json_t *arr = json_array();
	int n = 0;
	int64_t last_id = 0, more = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == f->limit) {
			more = 1;
			break;
		}
		struct incident inc;
		db_row_incident(s, &inc);
		last_id = inc.id;
		json_array_append_new(arr, inc_to_json(&inc));
		inc_clear(&inc);
		n++;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(arr);
		fail_sql(q, db);
	} else {
		json_t *o = json_object();
		json_object_set_new(o, "incidents", arr);
		json_object_set_new(o, "next_before", more ? json_integer(last_id) : json_null());
		set_body(q, o);
	}
	sqlite3_finalize(s);
}

/* Append frames (already JSON text) into a JSON array without re-parsing them. */
static void
q_history(struct db_query *q, sqlite3 *db)
{
	sqlite3_stmt *s;
	/* An incident's own events, and those of every incident merged into it. */
	if (sqlite3_prepare_v2(db, "SELECT frame FROM journal WHERE incident_id=?1 OR incident_id IN"
		" (SELECT a FROM links WHERE b=?1 AND kind='merged') ORDER BY seq", -1,
		&s, NULL) != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	sqlite3_bind_int64(s, 1, q->id);
	size_t cap = 256, len = 0;
	char *buf = xmalloc(cap);
	len = (size_t)snprintf(buf, cap, "{\"incident_id\":%lld,\"events\":[", (long long)q->id);
	int rc, n = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		size_t fl = (size_t)sqlite3_column_bytes(s, 0);
		const char *fr = (const char *)sqlite3_column_text(s, 0);
		if (len + fl + 4 > cap) {
			cap = (len + fl + 4) * 2;
			buf = xrealloc(buf, cap);
		}
		if (n++)
			buf[len++] = ',';
		memcpy(buf + len, fr, fl);
		len += fl;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(buf);
		fail_sql(q, db);
		return;
	}
	if (n == 0) {
		free(buf);
		q->err = SRV_E_NOT_FOUND;
		q->cause = xasprintf("no incident %lld", (long long)q->id);
		return;
	}
	memcpy(buf + len, "]}", 3);
	q->body = buf;
	q->body_len = len + 2;
}

static void
q_journal(struct db_query *q, sqlite3 *db)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db,
		"SELECT seq, frame, scope FROM journal WHERE seq>?1 ORDER BY seq LIMIT ?2", -1, &s,
		NULL) != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	sqlite3_bind_int64(s, 1, q->after_seq);
	sqlite3_bind_int(s, 2, q->limit);
	q->frames = xcalloc((size_t)q->limit, sizeof *q->frames);
	q->frame_lens = xcalloc((size_t)q->limit, sizeof *q->frame_lens);
	q->frame_seqs = xcalloc((size_t)q->limit, sizeof *q->frame_seqs);
	q->frame_scopes = xcalloc((size_t)q->limit, sizeof *q->frame_scopes);
	q->seq = q->after_seq;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && q->nframes < q->limit) {
		int i = q->nframes++;
		q->frame_seqs[i] = sqlite3_column_int64(s, 0);
		q->frame_lens[i] = (size_t)sqlite3_column_bytes(s, 1);
		q->frames[i] = xstrndup((const char *)sqlite3_column_text(s, 1), q->frame_lens[i]);
		if (sqlite3_column_type(s, 2) != SQLITE_NULL)
			q->frame_scopes[i] = xstrdup((const char *)sqlite3_column_text(s, 2));
		q->seq = q->frame_seqs[i];
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		fail_sql(q, db);
	sqlite3_finalize(s);
}

static void
q_snapshot(struct db_query *q, sqlite3 *db)
{
	/* One read transaction: the incidents and the seq are from the same instant. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	sqlite3_stmt *s;
	sqlite3_prepare_v2(db, "SELECT coalesce(max(seq),0) FROM journal", -1, &s, NULL);
	if (sqlite3_step(s) != SQLITE_ROW) {
		sqlite3_finalize(s);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		fail_sql(q, db);
		return;
	}
	q->seq = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_prepare_v2(db,
	    "SELECT " DB_INCIDENT_COLS " FROM incidents WHERE status NOT IN"
	    " ('resolved','closed','cancelled','unfounded') ORDER BY id DESC LIMIT ?1",
	    -1, &s, NULL);
	/* A filtered console's snapshot scans every open incident for what it may see. */
	sqlite3_bind_int(s, 1, q->filter_scope ? -1 : q->limit + 1);
	json_t *arr = json_array();
	int n = 0, truncated = 0, rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct incident inc;
		db_row_incident(s, &inc);
		if (q->filter_scope) {
			char *scope = xasprintf("%s|%s", inc.scope ? inc.scope : inc_line_name(inc.line),
			    inc.district_code ? inc.district_code : "");
			int ok = hub_scope_visible(scope, q->filter_scope);
			free(scope);
			if (!ok) {
				inc_clear(&inc);
				continue;
			}
		}
		if (n == q->limit) {
			inc_clear(&inc);
			truncated = 1;
			break;
		}
		json_array_append_new(arr, inc_to_json(&inc));
		inc_clear(&inc);
		n++;
	}
	sqlite3_finalize(s);
	json_t *units = json_array();
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		sqlite3_prepare_v2(db, "SELECT " DB_UNIT_COLS " FROM units ORDER BY agency, id", -1, &s,
		    NULL);
		int urc;
		while ((urc = sqlite3_step(s)) == SQLITE_ROW) {
			const char *agency = (const char *)sqlite3_column_text(s, 1);
			if (q->filter_scope) {
				char *scope = xasprintf("%s|", agency);
				int ok = hub_scope_visible(scope, q->filter_scope);
				free(scope);
				if (!ok)
					continue;
			}
			json_array_append_new(units, db_row_unit(s));
		}
		if (urc != SQLITE_DONE)
			rc = urc;
		sqlite3_finalize(s);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(arr);
		json_decref(units);
		fail_sql(q, db);
		return;
	}
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string("snapshot"));
	json_object_set_new(o, "seq", json_integer(q->seq));
	json_object_set_new(o, "incidents", arr);
	json_object_set_new(o, "units", units);
	json_object_set_new(o, "truncated", json_boolean(truncated));
	set_body(q, o);
}

/* Nearest-rank percentile of sorted values (seconds). */
static double
pct(const double *v, int n, double p)
{
	if (n == 0)
		return 0;
	int k = (int)ceil(p / 100.0 * n);
	return v[k < 1 ? 0 : k - 1];
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/*
 * One response interval over the incidents received in [since, until): from
 * received (created_at) to the column `to`, from stored times only, with the
 * share within target_s against the standard's target_pct.
 */
static json_t *
interval(sqlite3 *db, const char *to, const char *line, int64_t since, int64_t until,
    double target_s, double target_pct, int *err)
{
	char *sql = xasprintf("SELECT (%s - created_at) / 1e6 FROM incidents WHERE %s IS NOT NULL"
			      " AND created_at>=?1 AND created_at<?2 AND merged_into IS NULL%s"
			      " ORDER BY 1", to, to, line ? " AND line=?3" : "");
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	free(sql);
	if (rc != SQLITE_OK) {
		*err = 1;
		return NULL;
	}
	sqlite3_bind_int64(s, 1, since);
	sqlite3_bind_int64(s, 2, until);
	if (line)
		sqlite3_bind_text(s, 3, line, -1, SQLITE_STATIC);
	size_t cap = 256;
	int n = 0, within = 0;
	double *v = xmalloc(cap * sizeof *v);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if ((size_t)n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof *v);
		v[n] = sqlite3_column_double(s, 0);
		within += v[n] <= target_s;
		n++;
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		free(v);
		*err = 1;
		return NULL;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_double); /* already ordered; cheap insurance */
	json_t *o = json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "n", n, "target_s", target_s,
	    "target_pct", target_pct, "p50_s", round(pct(v, n, 50) * 10) / 10, "p90_s",
	    round(pct(v, n, 90) * 10) / 10, "p95_s", round(pct(v, n, 95) * 10) / 10);
	double share = n ? 100.0 * within / n : 0;
	json_object_set_new(o, "within_target_pct", json_real(round(share * 10) / 10));
	json_object_set_new(o, "met", n ? json_boolean(share >= target_pct) : json_null());
	free(v);
	return o;
}

static void
q_stats(struct db_query *q, sqlite3 *db)
{
	int64_t since = q->filter.since, until = q->filter.until;
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	json_t *o = json_object();
	char buf[40];
	srv_fmt_time(since, 0, buf, sizeof buf);
	json_object_set_new(o, "since", json_string(buf));
	srv_fmt_time(until, 0, buf, sizeof buf);
	json_object_set_new(o, "until", json_string(buf));
	int err = 0;
	sqlite3_stmt *s;
	/* counts per line, per district and per hour and line (UTC hours) */
	const char *const sqls[3] = {
		"SELECT line, count(*) FROM incidents WHERE created_at>=?1 AND created_at<?2"
		" AND merged_into IS NULL GROUP BY line ORDER BY line",
		"SELECT coalesce(district_code,''), coalesce(district_name,''), count(*) FROM incidents"
		" WHERE created_at>=?1 AND created_at<?2 AND merged_into IS NULL"
		" GROUP BY 1, 2 ORDER BY 3 DESC, 1",
		"SELECT created_at / 3600000000 AS h, line, count(*) FROM incidents"
		" WHERE created_at>=?1 AND created_at<?2 AND merged_into IS NULL GROUP BY h, line ORDER BY h",
	};
	json_t *by_line = json_object(), *by_district = json_array(), *by_hour = json_array();
	for (int k = 0; k < 3 && !err; k++) {
		if (sqlite3_prepare_v2(db, sqls[k], -1, &s, NULL) != SQLITE_OK) {
			err = 1;
			break;
		}
		sqlite3_bind_int64(s, 1, since);
		sqlite3_bind_int64(s, 2, until);
		int rc;
		json_t *hour = NULL;
		int64_t cur = -1;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			if (k == 0) {
				json_object_set_new(by_line, (const char *)sqlite3_column_text(s, 0),
				    json_integer(sqlite3_column_int64(s, 1)));
			} else if (k == 1) {
				const char *code = (const char *)sqlite3_column_text(s, 0);
				json_array_append_new(by_district, json_pack("{s:o, s:o, s:I}", "code",
				    code[0] ? json_string(code) : json_null(), "name",
				    code[0] ? json_string((const char *)sqlite3_column_text(s, 1)) : json_null(),
				    "count", (json_int_t)sqlite3_column_int64(s, 2)));
			} else {
				int64_t h = sqlite3_column_int64(s, 0);
				if (h != cur) {
					srv_fmt_time(h * INT64_C(3600000000), 0, buf, sizeof buf);
					hour = json_pack("{s:s, s:{}}", "hour", buf, "by_line");
					json_array_append_new(by_hour, hour);
					cur = h;
				}
				json_object_set_new(json_object_get(hour, "by_line"),
				    (const char *)sqlite3_column_text(s, 1),
				    json_integer(sqlite3_column_int64(s, 2)));
			}
		}
		if (rc != SQLITE_DONE)
			err = 1;
		sqlite3_finalize(s);
	}
	json_object_set_new(o, "by_line", by_line);
	json_object_set_new(o, "by_district", by_district);
	json_object_set_new(o, "by_hour", by_hour);
	/*
	 * Response intervals against the targets the standards set: acknowledge
	 * within 15 s for 90%, dispatch within 60 s for 90%, an ambulance (120)
	 * out within 3 minutes for 95%. On scene has no national target: 15 min
	 * for 90% is shown as a reference.
	 */
	json_t *iv = json_object();
	json_object_set_new(iv, "acknowledge",
	    interval(db, "acknowledged_at", NULL, since, until, 15, 90, &err));
	json_object_set_new(iv, "dispatch", interval(db, "dispatched_at", NULL, since, until, 60, 90, &err));
	json_object_set_new(iv, "ambulance_out",
	    interval(db, "en_route_at", "120", since, until, 180, 95, &err));
	json_object_set_new(iv, "on_scene", interval(db, "on_scene_at", NULL, since, until, 900, 90, &err));
	json_object_set_new(o, "intervals", iv);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (err) {
		json_decref(o);
		fail_sql(q, db);
		return;
	}
	set_body(q, o);
}

static void
q_audit(struct db_query *q, sqlite3 *db)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(db, "SELECT id, ts, actor, action, target, detail, address FROM audit"
		" WHERE id>?1 ORDER BY id LIMIT ?2", -1, &s, NULL) != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	sqlite3_bind_int64(s, 1, q->after_seq);
	sqlite3_bind_int(s, 2, q->limit);
	json_t *arr = json_array();
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		char ts[40];
		srv_fmt_time(sqlite3_column_int64(s, 1), 0, ts, sizeof ts);
		json_t *e = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)sqlite3_column_int64(s, 0),
		    "ts", ts, "actor", (const char *)sqlite3_column_text(s, 2), "action",
		    (const char *)sqlite3_column_text(s, 3));
		const char *const names[] = { "target", "detail", "address" };
		for (int i = 0; i < 3; i++)
			json_object_set_new(e, names[i], sqlite3_column_type(s, 4 + i) == SQLITE_NULL
			    ? json_null() : json_string((const char *)sqlite3_column_text(s, 4 + i)));
		json_array_append_new(arr, e);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		json_decref(arr);
		fail_sql(q, db);
		return;
	}
	set_body(q, json_pack("{s:o}", "entries", arr));
}

static void
work(uv_work_t *w)
{
	struct db_query *q = w->data;
	sqlite3 *db = take(q->reader);
	switch (q->kind) {
	case DBQ_GET: q_get(q, db); break;
	case DBQ_LIST: q_list(q, db); break;
	case DBQ_HISTORY: q_history(q, db); break;
	case DBQ_JOURNAL: q_journal(q, db); break;
	case DBQ_SNAPSHOT: q_snapshot(q, db); break;
	case DBQ_STATS: q_stats(q, db); break;
	case DBQ_AUDIT: q_audit(q, db); break;
	}
	give(q->reader, db);
}

static void
after_work(uv_work_t *w, int status)
{
	struct db_query *q = w->data;
	struct db_reader *r = q->reader;
	if (status == UV_ECANCELED && q->err == 0)
		q->err = SRV_E_SHUTTING_DOWN;
	r->inflight--;
	q->done(q);
	if (r->closing && r->inflight == 0)
		reader_free(r);
}

int
db_query_submit(struct db_reader *r, struct db_query *q)
{
	if (r->closing)
		return SRV_E_SHUTTING_DOWN;
	q->reader = r;
	q->work.data = q;
	if (q->limit <= 0)
		q->limit = 256;
	r->inflight++;
	uv_queue_work(r->loop, &q->work, work, after_work);
	return 0;
}

void
db_reader_close(struct db_reader *r)
{
	if (r == NULL)
		return;
	r->closing = 1;
	if (r->inflight == 0)
		reader_free(r);
}
