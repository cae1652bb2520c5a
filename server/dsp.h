/*
 * dsp.h - the dispatch engine (docs/dispatch.md).
 *
 * Commands that change incidents, tasks, units and links run in the store
 * writer (dsp_store.c), each in its own savepoint of a group commit, so they
 * are durable when answered, journaled in the one order, and a refused one
 * changes nothing. The loop thread keeps the live unit state (dsp_live.c):
 * positions for the nearest-unit search and the deadline timer.
 */
#ifndef DSP_H
#define DSP_H

#include <jansson.h>
#include <stdint.h>

#include "db_store.h"

struct srv;
struct srv_req;
struct dsp_plans;

enum dsp_unit_status {
	DSP_U_AVAILABLE,
	DSP_U_DISPATCHED,
	DSP_U_EN_ROUTE,
	DSP_U_ON_SCENE,
	DSP_U_RETURNING,
	DSP_U_OUT_OF_SERVICE,
	DSP_U_N
};

#define DSP_UNIT_ID_MAX 32
#define DSP_AGENCY_LEN 16
#define DSP_KIND_LEN 32
#define DSP_ASSIGN_MAX 20       /* units in one assignment */
#define DSP_POSITIONS_MAX 5000  /* positions in one AVL batch */

const char *dsp_unit_status_name(enum dsp_unit_status s);
int dsp_unit_status_parse(const char *s); /* -1 when unknown */
/* Statuses a dispatcher or the unit itself may set (dispatched comes from an assignment). */
int dsp_unit_transition_allowed(enum dsp_unit_status from, enum dsp_unit_status to);
/* Busy: attached to an incident and not available for another. */
int dsp_unit_busy(enum dsp_unit_status s);
/* Unit ids, agencies and kinds: [A-Za-z0-9_.-] (ids also '-' and CJK allowed: any UTF-8 letter). */
int dsp_token_valid(const char *s, size_t max, int allow_utf8);
/* Longest note on an incident, in characters. */
#define DSP_NOTE_MAX 2000

/* --- commands (run in the writer; args owned by the request) ---------------- */
struct dsp_unit_def {
	char id[DSP_UNIT_ID_MAX * 4 + 1];
	char agency[DSP_AGENCY_LEN + 1];
	char kind[DSP_KIND_LEN + 1];
	char station[201];
};

struct dsp_args {
	int64_t id;             /* incident */
	int64_t other;          /* link: the other incident */
	int64_t if_version;     /* 0: not checked */
	int level;              /* alarm */
	char plan[64];          /* alarm: apply this plan when the incident has none */
	char agency[DSP_AGENCY_LEN + 1];
	char link_kind[24];     /* merge, parent, child, related, not_duplicate */
	int link_agency;        /* assign: add a task for a unit's agency not yet linked */
	int status;             /* unit status */
	char unit[DSP_UNIT_ID_MAX * 4 + 1];
	char **units;           /* assign */
	int nunits;
	struct dsp_unit_def *defs; /* unit definitions */
	int ndefs;
	char **pos_ids;         /* positions */
	double *pos_lon, *pos_lat;
	int64_t *pos_at;
	int npos;
	char own_agency[DSP_AGENCY_LEN + 1]; /* a dispatcher's: only that agency's units and tasks */
	struct dsp_plans *plans; /* set-plans: handed to the writer */
	char *path;
	char *note;             /* a note's text */
};

struct dsp_args *dsp_args_new(void);
void dsp_args_free(void *args);

int dsp_run_task_ack(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_alarm(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_units_put(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_unit_status(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_assign(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_positions(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_link(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_sweep(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_set_plans(struct db_store *st, struct db_req *r, int64_t now);
int dsp_run_note(struct db_store *st, struct db_req *r, int64_t now);

/* --- the loop side (dsp_live.c) ----------------------------------------------- */
struct dsp_live;
/*
 * Load the units and the earliest deadline from the database (at start-up,
 * before the loop serves), then keep them current from committed events.
 */
int dsp_live_open(struct srv *srv, const char *db_path, char **cause);
void dsp_live_close(struct srv *srv);
/* Every committed event passes here (before the hub), in seq order. */
void dsp_live_event(struct srv *srv, const char *frame, size_t len);
/* A committed request set a deadline: make sure the timer fires by then. */
void dsp_live_deadline(struct srv *srv, int64_t due_us);
/* Positions committed by an AVL batch. */
void dsp_live_positions(struct srv *srv, const struct dsp_args *a);
/* The nearest usable units of a kind to a point: {"units":[...]} (new reference). */
json_t *dsp_live_recommend(struct srv *srv, double lon, double lat, const char *kind, int k,
    int64_t now);
/* Units as JSON, with whether each position is stale. */
json_t *dsp_live_units(struct srv *srv, int64_t now);
/* Load (or reload) the plan file named by the configuration. */
int dsp_live_load_plans(struct srv *srv, const char *actor, char **cause);
json_t *dsp_live_plans_json(struct srv *srv);

/* --- routes (dsp_api.c) -------------------------------------------------------- */
/* Routes under /api/v1 the dispatch engine owns. Returns 1 when it handled path. */
int dsp_api_route(struct srv_req *req, const char *path);

#endif
