/*
 * db_store.h - the durable store: one SQLite writer thread, group commit.
 *
 * Every mutation is a struct db_req handed to db_store_submit() on the loop
 * thread. The writer thread takes everything queued (up to batch_max), runs
 * each request inside its own SAVEPOINT of one transaction, and commits once
 * (WAL, synchronous=FULL): many requests share one fsync. Only then does it
 * hand the batch back to the loop through uv_async, where for each request
 * in order the journal event is published and req->done is called. So a
 * success callback always means committed, and events leave in seq order.
 */
#ifndef DB_STORE_H
#define DB_STORE_H

#include <stdint.h>
#include <uv.h>

#include "incident.h"

struct db_store;

enum db_op {
	DB_OP_CREATE, /* insert inc, or return the existing one for (source, ext_ref) */
	DB_OP_PATCH,  /* apply patch to incident id at version if_version */
	DB_OP_OUTBOX_ACK, /* gateway's webhook acknowledged outbox rows up to outbox_id */
	DB_OP_RUN,    /* run(st, req, now) in the writer: the dispatch engine's commands (dsp_store.c) */
};

/* One journal event a request produced (a request may produce several). */
struct db_event {
	int64_t seq;
	char *frame;
	size_t len;
	char *scope;           /* "119,120|440106": agencies concerned | district, for filtering */
	struct db_event *next;
};

struct db_store;
struct db_req;
typedef int (*db_run_fn)(struct db_store *st, struct db_req *req, int64_t now);

struct db_req {
	/* In, set by the caller (owned by the request; freed by db_req_free). */
	enum db_op op;
	char *actor;           /* who: "user:alice", "gateway:json", "demo" */
	struct incident inc;   /* CREATE: the validated draft. Out: the stored incident */
	struct inc_patch patch; /* PATCH: the fields to change */
	int64_t id;            /* PATCH: target incident */
	int64_t if_version;    /* PATCH: the version the client saw */
	char visible_agency[17]; /* a dispatcher's agency: the incident must concern it ("" any) */
	int action;            /* CREATE from a gateway: enum gw_action (GW_REPORT by default) */
	int64_t report_version; /* CREATE: the agency's version of the report (0: none) */
	char **targets;        /* CREATE with GW_UPDATE / GW_CANCEL: earlier reports' ext_refs */
	int ntargets;
	char *gateway;         /* OUTBOX_ACK: the gateway */
	int64_t outbox_id;     /* OUTBOX_ACK: delivered up to this outbox row */
	db_run_fn run;         /* RUN: the command */
	void *args;            /* RUN: its arguments, freed with args_free */
	void (*args_free)(void *args);
	void (*done)(struct db_req *req); /* on the loop thread, exactly once */
	void *udata;

	/* Out, set by the writer before done is called. */
	int err;               /* 0 or SRV_E_*; on SRV_E_STALE inc holds the current */
	char *cause;
	int existed;           /* CREATE: an incident with that (source, ext_ref) was there */
	int changed;           /* PATCH or a later report: at least one field changed */
	int updated_report;    /* CREATE: the report acted on a stored incident */
	int outboxed;          /* outbox rows written for this change */
	int64_t seq;           /* journal seq of the change; 0 when nothing changed */
	int64_t committed_at;  /* when the commit returned, Unix us */
	char *frame;           /* the last journal event's frame (JSON text), NULL when no change */
	size_t frame_len;
	struct db_event *events, *events_tail; /* every event, in seq order */
	void *result;          /* RUN: what the command returns (json_t *, owned) */
	int64_t next_due;      /* a deadline this change set (Unix us), 0: none */

	struct db_req *next;   /* private: queue link */
};

struct db_store_opts {
	int batch_max;   /* most requests per transaction */
	int backlog_max; /* most requests queued or in flight */
	int64_t cache_bytes; /* the write connection's page cache; 0 for SQLite's default */
	/* The dispatch engine's rules (docs/dispatch.md). */
	int64_t ack_limit_us[4];   /* by priority 1..4: acknowledge within, or escalate */
	double dup_radius_m;       /* a report this close in space ... */
	int64_t dup_window_us;     /* ... and time to an open incident is a likely duplicate */
	int64_t unit_status_limit_us[8]; /* by unit status: flag a unit this long in it (0: never) */
};

/* The event sink: called on the loop thread for each committed change, in seq order. */
typedef void (*db_publish_fn)(void *ctx, int64_t seq, const char *frame, size_t len,
    const char *scope);

/*
 * Open (creating and migrating) the database at path and start the writer.
 * Returns 0 or SRV_E_STORE with *cause set.
 */
int db_store_open(struct db_store **out, uv_loop_t *loop, const char *path,
    const struct db_store_opts *opts, db_publish_fn publish, void *publish_ctx, char **cause);
/*
 * Queue a request. Returns 0 (done will be called later, never from inside
 * this call) or SRV_E_OVERLOADED / SRV_E_SHUTTING_DOWN (done is not called).
 */
int db_store_submit(struct db_store *st, struct db_req *req);
/* Set the event sink after open (the hub needs the last seq to be built). */
void db_store_set_publisher(struct db_store *st, db_publish_fn publish, void *ctx);
/* Called on the loop with every deadline a committed request set (the dispatch timer). */
void db_store_set_deadline_hook(struct db_store *st, void (*hook)(void *ctx, int64_t due_us),
    void *ctx);
/* Requests queued or in flight. */
int db_store_backlog(const struct db_store *st);
/* Seq of the last committed change handed to the publisher (loop thread). */
int64_t db_store_last_seq(const struct db_store *st);
/*
 * Stop taking requests, commit everything already queued, deliver their
 * results, stop the writer, then call closed(arg) on the loop and free st.
 */
void db_store_close(struct db_store *st, void (*closed)(void *arg), void *arg);

struct db_req *db_req_new(enum db_op op, const char *actor);
void db_req_free(struct db_req *req);

/* Counters for /metrics (read on the loop thread; updated atomically). */
struct db_store_stats {
	uint64_t commits, requests, batch_max_seen, failed_commits;
	uint64_t syncs;          /* xSync calls on the database and WAL */
	double commit_seconds;   /* total time inside COMMIT */
};
void db_store_get_stats(const struct db_store *st, struct db_store_stats *out);

/* --- shared with db_read.c and the tests --------------------------------- */
struct sqlite3;
struct sqlite3_stmt;
/* Apply the connection settings and migrations (write connection). */
int db_schema_migrate(struct sqlite3 *db, char **cause);
/* Schema version this build writes. */
int db_schema_version(void);
/* Column list matching db_row_incident(). */
#define DB_INCIDENT_COLS                                                                    \
	"id, source, ext_ref, line, category, type, priority, status, title, description, " \
	"address, lon, lat, details, reported_at, created_at, updated_at, version, district_code, " \
	"district_name, acknowledged_at, dispatched_at, en_route_at, on_scene_at, resolved_at, "    \
	"closed_at, ack_due_at, escalated_at, alarm_level, plan, merged_into, scope, dispatch"
/* Read an incident from a row selected with DB_INCIDENT_COLS starting at column 0. */
void db_row_incident(struct sqlite3_stmt *st, struct incident *out);
/* Column list matching db_row_unit(). */
#define DB_UNIT_COLS \
	"id, agency, kind, station, status, status_at, incident_id, lon, lat, pos_at, flagged_at, version"
/* A unit row selected with DB_UNIT_COLS as its public JSON object (new reference). */
struct json_t;
struct json_t *db_row_unit(struct sqlite3_stmt *st);
/* Register the sync-counting VFS (idempotent) and return its name. */
const char *db_vfs_register(void);
uint64_t db_vfs_syncs(void);

#endif
