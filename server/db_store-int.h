/*
 * db_store-int.h - what the writer thread offers the dispatch engine's
 * commands (dsp_store.c), which run inside the writer's transaction.
 *
 * Writer thread only. Every function that fails sets r->err and r->cause
 * (when not set already) and returns the code; the batch then rolls the
 * request back to its savepoint, so a failed command changes nothing.
 */
#ifndef DB_STORE_INT_H
#define DB_STORE_INT_H

#include <jansson.h>
#include <sqlite3.h>

#include "db_store.h"

/* The write connection. */
sqlite3 *db_tx_db(struct db_store *st);
const struct db_store_opts *db_tx_opts(const struct db_store *st);
/* A prepared statement for sql (a string literal: cached by its address). */
sqlite3_stmt *db_tx_stmt(struct db_store *st, const char *sql);
/* Step s to completion, then reset it and clear its bindings. 0 or SRV_E_STORE. */
int db_tx_exec(struct db_store *st, sqlite3_stmt *s, struct db_req *r);
/* Record the connection's error on r. Returns SRV_E_STORE. */
int db_tx_sqlerr(struct db_store *st, struct db_req *r);
/* Load incident id. 1 found, 0 not, -1 error. */
int db_tx_load(struct db_store *st, int64_t id, struct incident *out);
/* Write the incident's row over version in->version, bump it, journal `kind`. changed stolen. */
int db_tx_save(struct db_store *st, struct db_req *r, struct incident *in, const char *kind,
    json_t *changed, int64_t now);
/* Journal an event about an incident (its JSON, and changed when not NULL; stolen). */
int db_tx_incident_event(struct db_store *st, struct db_req *r, const char *kind,
    const struct incident *in, json_t *changed, int64_t now);
/* The same with extra's fields (an object, stolen; NULL: none) in the event too. */
int db_tx_incident_event_with(struct db_store *st, struct db_req *r, const char *kind,
    const struct incident *in, json_t *changed, json_t *extra, int64_t now);
/* Journal any event: body's fields (stolen) join type/seq/ts/kind/actor. */
int db_tx_event(struct db_store *st, struct db_req *r, const char *kind, int64_t incident_id,
    const char *scope, const char *line, json_t *body, int64_t now);
/* Free a request's events (on rollback). */
void db_req_drop_events(struct db_req *r);
/* The writer's dispatch state (plans), owned by dsp_store.c. */
void **db_tx_dsp_slot(struct db_store *st);

/* --- dsp_store.c: hooks into intake ---------------------------------------- */
/* Before a new incident's row is written: plan, alarm level, deadline, scope. */
void dsp_tx_prepare(struct db_store *st, struct db_req *r, struct incident *in, int64_t now);
/* After: the plan's tasks, likely duplicates, dispatch rendering; journals the creation. */
int dsp_tx_created(struct db_store *st, struct db_req *r, struct incident *in, int64_t now);
/* Free the writer's dispatch state (at close). */
void dsp_tx_free(void *state);

#endif
