/* db_read.c - see db_read.h. */
#include "db_read.h"
#include "db_store.h"
#include "incident.h"
#include "srv_error.h"
#include "srv_util.h"

#include <jansson.h>
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
	q->body = json_dumps(j, SRV_JSON_FLAGS);
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
	if (sqlite3_prepare_v2(db, "SELECT frame FROM journal WHERE incident_id=?1 ORDER BY seq", -1,
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
	if (sqlite3_prepare_v2(db, "SELECT seq, frame FROM journal WHERE seq>?1 ORDER BY seq LIMIT ?2",
		-1, &s, NULL) != SQLITE_OK) {
		fail_sql(q, db);
		return;
	}
	sqlite3_bind_int64(s, 1, q->after_seq);
	sqlite3_bind_int(s, 2, q->limit);
	q->frames = xcalloc((size_t)q->limit, sizeof *q->frames);
	q->frame_lens = xcalloc((size_t)q->limit, sizeof *q->frame_lens);
	q->frame_seqs = xcalloc((size_t)q->limit, sizeof *q->frame_seqs);
	q->seq = q->after_seq;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && q->nframes < q->limit) {
		int i = q->nframes++;
		q->frame_seqs[i] = sqlite3_column_int64(s, 0);
		q->frame_lens[i] = (size_t)sqlite3_column_bytes(s, 1);
		q->frames[i] = xstrndup((const char *)sqlite3_column_text(s, 1), q->frame_lens[i]);
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
	sqlite3_bind_int(s, 1, q->limit + 1);
	json_t *arr = json_array();
	int n = 0, truncated = 0, rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == q->limit) {
			truncated = 1;
			break;
		}
		struct incident inc;
		db_row_incident(s, &inc);
		json_array_append_new(arr, inc_to_json(&inc));
		inc_clear(&inc);
		n++;
	}
	sqlite3_finalize(s);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		json_decref(arr);
		fail_sql(q, db);
		return;
	}
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string("snapshot"));
	json_object_set_new(o, "seq", json_integer(q->seq));
	json_object_set_new(o, "incidents", arr);
	json_object_set_new(o, "truncated", json_boolean(truncated));
	set_body(q, o);
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
