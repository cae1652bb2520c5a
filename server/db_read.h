/*
 * db_read.h - reads off the loop: lists, history, resume and snapshots.
 *
 * Queries run in the libuv thread pool on a small pool of read-only SQLite
 * connections (WAL lets them read while the writer commits). The worker
 * builds the response text too, so the loop only hands bytes over.
 */
#ifndef DB_READ_H
#define DB_READ_H

#include <stdint.h>
#include <uv.h>

#include "incident.h"

struct db_reader;
struct hub_filter;

enum db_query_kind {
	DBQ_GET,      /* one incident: body = incident JSON, version set */
	DBQ_LIST,     /* filtered page: body = {"incidents":[...],"next_before":id|null} */
	DBQ_HISTORY,  /* one incident's journal: body = {"incident_id":..,"events":[...]} */
	DBQ_JOURNAL,  /* frames after after_seq, at most limit: frames[], seq = last read */
	DBQ_SNAPSHOT, /* open incidents and units: body = snapshot frame, seq = journal seq it is at */
	DBQ_STATS,    /* counts and response-interval percentiles */
	DBQ_AUDIT,    /* audit rows after after_seq (their id), at most limit: {"entries":[...]} */
};

struct db_list_filter {
	int line;             /* enum inc_line, or -1 for any */
	int category;         /* enum inc_category, or -1 */
	unsigned status_mask; /* bit per enum inc_status; 0 for any */
	int open_only;        /* statuses before resolved */
	int priority_max;     /* 1..4, or 0 for any */
	char *source;         /* owned; NULL for any */
	int64_t since, until; /* created_at bounds in us; 0 for none */
	int64_t before_id;    /* paging cursor: ids below this; 0 for the newest */
	int limit;            /* 1..500 */
	char agency[17];      /* only incidents that concern this agency; "" for all */
};

struct db_query {
	enum db_query_kind kind;
	int64_t id;
	struct db_list_filter filter;
	int64_t after_seq;
	int limit;
	void (*done)(struct db_query *q); /* loop thread, exactly once */
	void *udata;
	void *ctx;             /* the caller's own (not freed with the query) */

	int err;
	char *cause;
	char *body;
	size_t body_len;
	int64_t seq;
	int64_t version;
	struct incident inc;   /* DBQ_GET: the incident itself (freed with the query) */
	char **frames;
	size_t *frame_lens;
	int64_t *frame_seqs;
	char **frame_scopes;   /* DBQ_JOURNAL: each frame's scope (may be NULL) */
	int nframes;
	struct hub_filter *filter_scope; /* DBQ_SNAPSHOT: only what a console may see (owned) */

	/* private */
	uv_work_t work;
	struct db_reader *reader;
};

int db_reader_open(struct db_reader **out, uv_loop_t *loop, const char *path, int nconns,
    char **cause);
/* Free the pool once no query is in flight (queries still finish and call done). */
void db_reader_close(struct db_reader *r);
/* Start a query. Returns 0 (done called later) or SRV_E_SHUTTING_DOWN. */
int db_query_submit(struct db_reader *r, struct db_query *q);
struct db_query *db_query_new(enum db_query_kind kind);
void db_query_free(struct db_query *q);

#endif
