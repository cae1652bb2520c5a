/*
 * dsp_live.c - the dispatch engine's live state on the loop thread: every
 * unit (status, position, agency, kind) with the nearest-unit index, the
 * deadline timer that drives escalation, and the plans as loaded.
 *
 * The state follows the committed store: it is loaded once at start-up and
 * then changed only by committed events (unit.*) and committed AVL batches,
 * in seq order, so a recommendation never names a unit the store does not
 * know as available.
 */
#include "dsp.h"
#include "srv.h"
#include "db_store.h"
#include "dsp_plan.h"
#include "gis_geod.h"
#include "gis_near.h"
#include "hub.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_json.h"
#include "srv_util.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct lunit {
	char *id;
	char agency[DSP_AGENCY_LEN + 1];
	int kind;            /* index into kinds */
	int status;
	int64_t incident_id;
	int has_pos;
	double lon, lat;
	int64_t pos_at;
	int dirty;           /* moved since the last positions frame */
	int64_t idx;         /* its id in the nearest-unit index: position in units + 1 */
	struct lunit *hnext; /* hash chain */
};

#define KINDS_MAX GIS_NEAR_KINDS
#define HASH_SIZE 16384

struct dsp_live {
	struct srv *srv;
	struct lunit **units;   /* by index; gis_near ids are index + 1 */
	int nunits, capunits;
	struct lunit *hash[HASH_SIZE];
	char kinds[KINDS_MAX][DSP_KIND_LEN + 1];
	int nkinds;
	struct gis_near *near;
	uv_timer_t timer;       /* the next deadline */
	int64_t next_due;       /* what the timer is armed for (0: nothing) */
	int sweeping;
	uv_timer_t flush;       /* coalesced position frames */
	int ndirty;
	struct dsp_plans *plans;
	int open_handles;       /* timers not yet closed: freed when the last one is */
};

static struct dsp_live *
L(struct srv *srv)
{
	return srv->dsp;
}

static unsigned
hash_str(const char *s)
{
	unsigned h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % HASH_SIZE;
}

static struct lunit *
find(struct dsp_live *l, const char *id)
{
	for (struct lunit *u = l->hash[hash_str(id)]; u; u = u->hnext)
		if (strcmp(u->id, id) == 0)
			return u;
	return NULL;
}

static int
kind_index(struct dsp_live *l, const char *kind, int add)
{
	for (int i = 0; i < l->nkinds; i++)
		if (strcmp(l->kinds[i], kind) == 0)
			return i;
	if (!add || l->nkinds == KINDS_MAX)
		return -1;
	snprintf(l->kinds[l->nkinds], sizeof l->kinds[0], "%s", kind);
	return l->nkinds++;
}

static int64_t
index_of(struct dsp_live *l, const struct lunit *u)
{
	(void)l;
	return u->idx;
}

/* Keep the nearest-unit index in step with a unit's position and availability. */
static void
reindex(struct dsp_live *l, struct lunit *u, int64_t idx)
{
	if (!u->has_pos || u->kind < 0)
		return;
	gis_near_set(l->near, idx, u->kind, u->lon, u->lat, u->status == DSP_U_AVAILABLE);
}

static struct lunit *
upsert(struct dsp_live *l, const char *id, const char *agency, const char *kind, int64_t *idx)
{
	struct lunit *u = find(l, id);
	if (u == NULL) {
		u = xcalloc(1, sizeof *u);
		u->id = xstrdup(id);
		unsigned h = hash_str(id);
		u->hnext = l->hash[h];
		l->hash[h] = u;
		if (l->nunits == l->capunits) {
			l->capunits = l->capunits ? l->capunits * 2 : 256;
			l->units = xrealloc(l->units, sizeof *l->units * (size_t)l->capunits);
		}
		l->units[l->nunits++] = u;
		u->idx = l->nunits;
		*idx = u->idx;
	} else {
		*idx = index_of(l, u);
	}
	snprintf(u->agency, sizeof u->agency, "%s", agency);
	u->kind = kind_index(l, kind, 1);
	return u;
}

/* A unit's JSON (an event's "unit" or a row) into the live state. */
static void
apply_unit_json(struct dsp_live *l, json_t *j)
{
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *agency = json_string_value(json_object_get(j, "agency"));
	const char *kind = json_string_value(json_object_get(j, "kind"));
	const char *status = json_string_value(json_object_get(j, "status"));
	if (!id || !agency || !kind || !status)
		return;
	int64_t idx;
	struct lunit *u = upsert(l, id, agency, kind, &idx);
	int st = dsp_unit_status_parse(status);
	u->status = st < 0 ? DSP_U_OUT_OF_SERVICE : st;
	json_t *inc = json_object_get(j, "incident_id");
	u->incident_id = json_is_integer(inc) ? json_integer_value(inc) : 0;
	json_t *lon = json_object_get(j, "lon"), *lat = json_object_get(j, "lat");
	if (json_is_number(lon) && json_is_number(lat)) {
		u->has_pos = 1;
		u->lon = json_number_value(lon);
		u->lat = json_number_value(lat);
		const char *at = json_string_value(json_object_get(j, "pos_at"));
		int64_t t;
		if (at && srv_parse_time(at, &t) == 0)
			u->pos_at = t;
	}
	if (u->has_pos)
		reindex(l, u, idx);
	else if (u->kind >= 0)
		gis_near_remove(l->near, idx);
}

/* --- deadlines -------------------------------------------------------------------- */

static void arm(struct dsp_live *l, int64_t due);

static void
sweep_done(struct db_req *r)
{
	struct srv *srv = r->udata;
	struct dsp_live *l = L(srv);
	if (l == NULL) {
		db_req_free(r);
		return;
	}
	l->sweeping = 0;
	if (r->err) {
		log_warn("dispatch", "deadline sweep failed; retrying in 1 s|code=%s cause=\"%s\"",
		    srv_err_code(r->err), r->cause ? r->cause : "");
		arm(l, srv_now_us() + 1000000);
	} else {
		json_t *fired = r->result ? json_object_get(r->result, "fired") : NULL;
		if (fired && json_integer_value(fired) > 0)
			log_info("dispatch", "deadlines fired|count=%lld",
			    (long long)json_integer_value(fired));
		if (r->next_due)
			arm(l, r->next_due);
	}
	db_req_free(r);
}

static void
on_timer(uv_timer_t *t)
{
	struct dsp_live *l = t->data;
	l->next_due = 0;
	if (l->sweeping || l->srv->stopping)
		return;
	struct db_req *r = db_req_new(DB_OP_RUN, "system:deadlines");
	r->run = dsp_run_sweep;
	r->done = sweep_done;
	r->udata = l->srv;
	l->sweeping = 1;
	if (db_store_submit(l->srv->store, r) != 0) {
		l->sweeping = 0;
		db_req_free(r);
		arm(l, srv_now_us() + 1000000);
	}
}

static void
arm(struct dsp_live *l, int64_t due)
{
	if (due <= 0 || (l->next_due && l->next_due <= due))
		return;
	l->next_due = due;
	int64_t wait_ms = (due - srv_now_us()) / 1000 + 1;
	uv_timer_start(&l->timer, on_timer, wait_ms > 0 ? (uint64_t)wait_ms : 0, 0);
}

void
dsp_live_deadline(struct srv *srv, int64_t due_us)
{
	if (L(srv))
		arm(L(srv), due_us);
}

/* --- positions ---------------------------------------------------------------------- */

/* Once a second at most: the units that moved, one frame per agency. */
static void
on_flush(uv_timer_t *t)
{
	struct dsp_live *l = t->data;
	if (l->ndirty == 0)
		return;
	json_t *by_agency = json_object();
	for (int i = 0; i < l->nunits; i++) {
		struct lunit *u = l->units[i];
		if (!u->dirty)
			continue;
		u->dirty = 0;
		json_t *list = json_object_get(by_agency, u->agency);
		if (list == NULL) {
			list = json_array();
			json_object_set_new(by_agency, u->agency, list);
		}
		char at[40];
		srv_fmt_time(u->pos_at, 0, at, sizeof at);
		json_array_append_new(list, json_pack("{s:s, s:f, s:f, s:s}", "id", u->id, "lon", u->lon,
		    "lat", u->lat, "at", at));
	}
	l->ndirty = 0;
	const char *agency;
	json_t *list;
	json_object_foreach(by_agency, agency, list) {
		json_t *f = json_pack("{s:s, s:s, s:O}", "type", "positions", "agency", agency, "units",
		    list);
		char *text = srv_json_dump(f, NULL);
		char *scope = xasprintf("%s|", agency);
		hub_broadcast(l->srv->hub, text, strlen(text), scope);
		free(scope);
		free(text);
		json_decref(f);
	}
	json_decref(by_agency);
}

void
dsp_live_positions(struct srv *srv, const struct dsp_args *a)
{
	struct dsp_live *l = L(srv);
	if (l == NULL)
		return;
	for (int i = 0; i < a->npos; i++) {
		struct lunit *u = find(l, a->pos_ids[i]);
		if (u == NULL || (u->has_pos && u->pos_at >= a->pos_at[i]))
			continue; /* the store kept the newer one too */
		u->has_pos = 1;
		u->lon = a->pos_lon[i];
		u->lat = a->pos_lat[i];
		u->pos_at = a->pos_at[i];
		reindex(l, u, index_of(l, u));
		if (!u->dirty) {
			u->dirty = 1;
			l->ndirty++;
		}
	}
	if (l->ndirty && !uv_is_active((uv_handle_t *)&l->flush))
		uv_timer_start(&l->flush, on_flush, 1000, 0);
}

/* --- events ------------------------------------------------------------------------------ */

void
dsp_live_event(struct srv *srv, const char *frame, size_t len)
{
	struct dsp_live *l = L(srv);
	/* Only unit events change the live state; skip the rest without parsing. */
	if (l == NULL || memmem(frame, len, "\"kind\":\"unit.", 13) == NULL)
		return;
	json_t *ev = json_loadb(frame, len, 0, NULL);
	json_t *u = ev ? json_object_get(ev, "unit") : NULL;
	if (u)
		apply_unit_json(l, u);
	json_decref(ev);
}

/* --- recommendations ------------------------------------------------------------------------ */

/* Typical urban speeds (km/h) by kind, for a first estimate; the road factor covers detours. */
static double
speed_kmh(const char *kind)
{
	static const struct { const char *prefix; double kmh; } speeds[] = {
		{ "ambulance", 45 }, { "patrol", 50 }, { "motorcycle", 45 }, { "fire_engine", 40 },
		{ "aerial", 35 }, { "ladder", 35 }, { "rescue", 40 }, { "hazmat", 35 }, { "tow", 40 },
	};
	for (size_t i = 0; i < sizeof speeds / sizeof speeds[0]; i++)
		if (strncmp(kind, speeds[i].prefix, strlen(speeds[i].prefix)) == 0)
			return speeds[i].kmh;
	return 40;
}

#define ROAD_FACTOR 1.4 /* road distance over straight-line distance in a Chinese city */

json_t *
dsp_live_recommend(struct srv *srv, double lon, double lat, const char *kind, int k, int64_t now)
{
	struct dsp_live *l = L(srv);
	json_t *out = json_array();
	int ki = kind_index(l, kind, 0);
	int stale_skipped = 0;
	if (ki >= 0) {
		int64_t stale_us = (int64_t)srv->cfg->dispatch_stale_s * 1000000;
		/* Ask for more than k: stale positions are dropped after the search. */
		for (int want = k * 2; ; want *= 2) {
			struct gis_near_hit *hits = xcalloc((size_t)want, sizeof *hits);
			int n = gis_near_knn(l->near, lon, lat, ki, want, hits);
			json_array_clear(out);
			stale_skipped = 0;
			for (int i = 0; i < n && (int)json_array_size(out) < k; i++) {
				struct lunit *u = l->units[hits[i].id - 1];
				int64_t age = now - u->pos_at;
				if (age > stale_us) {
					stale_skipped++;
					continue;
				}
				double d = gis_geod_inverse(lon, lat, u->lon, u->lat, NULL, NULL);
				double eta = d * ROAD_FACTOR / (speed_kmh(kind) / 3.6);
				char *why = xasprintf("nearest available %s: %.1f km straight line, about %.0f min "
						      "by road at %.0f km/h; position %lld s old",
				    kind, d / 1000, ceil(eta / 60), speed_kmh(kind), (long long)(age / 1000000));
				json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:i, s:s}",
				    "unit", u->id, "agency", u->agency, "kind", kind, "lon", u->lon, "lat",
				    u->lat, "distance_m", round(d), "eta_s", (int)ceil(eta), "reason", why));
				free(why);
			}
			free(hits);
			if ((int)json_array_size(out) >= k || n < want || want >= 4096)
				break;
		}
	}
	return json_pack("{s:s, s:o, s:i, s:f}", "kind", kind, "units", out, "stale_skipped",
	    stale_skipped, "road_factor", ROAD_FACTOR);
}

json_t *
dsp_live_units(struct srv *srv, int64_t now)
{
	struct dsp_live *l = L(srv);
	int64_t stale_us = (int64_t)srv->cfg->dispatch_stale_s * 1000000;
	json_t *arr = json_array();
	for (int i = 0; i < l->nunits; i++) {
		struct lunit *u = l->units[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", u->id, "agency", u->agency, "kind",
		    u->kind >= 0 ? l->kinds[u->kind] : "?", "status", dsp_unit_status_name(u->status));
		json_object_set_new(o, "incident_id", u->incident_id ? json_integer(u->incident_id)
								     : json_null());
		if (u->has_pos) {
			char at[40];
			srv_fmt_time(u->pos_at, 0, at, sizeof at);
			json_object_set_new(o, "lon", json_real(u->lon));
			json_object_set_new(o, "lat", json_real(u->lat));
			json_object_set_new(o, "pos_at", json_string(at));
			json_object_set_new(o, "stale", json_boolean(now - u->pos_at > stale_us));
		} else {
			json_object_set_new(o, "lon", json_null());
			json_object_set_new(o, "lat", json_null());
			json_object_set_new(o, "pos_at", json_null());
			json_object_set_new(o, "stale", json_true());
		}
		json_array_append_new(arr, o);
	}
	return json_pack("{s:o}", "units", arr);
}

/* --- plans --------------------------------------------------------------------------- */

static void
plans_done(struct db_req *r)
{
	if (r->err)
		log_error("dispatch", "plans not handed to the writer|cause=\"%s\"",
		    r->cause ? r->cause : "");
	db_req_free(r);
}

int
dsp_live_load_plans(struct srv *srv, const char *actor, char **cause)
{
	struct dsp_live *l = L(srv);
	const char *path = srv->cfg->dispatch_plans;
	struct dsp_plans *mine = NULL, *theirs = NULL;
	if (path && path[0]) {
		if (dsp_plans_load(path, &mine, cause) != 0)
			return SRV_E_BAD_FIELD;
		if (dsp_plans_load(path, &theirs, cause) != 0) {
			dsp_plans_free(mine);
			return SRV_E_BAD_FIELD;
		}
	}
	/* The writer gets its own copy, through its queue: plans apply in the one order. */
	struct dsp_args *a = dsp_args_new();
	a->plans = theirs;
	a->path = xstrdup(path && path[0] ? path : "(none)");
	struct db_req *r = db_req_new(DB_OP_RUN, actor);
	r->run = dsp_run_set_plans;
	r->args = a;
	r->args_free = dsp_args_free;
	r->done = plans_done;
	int rc = db_store_submit(srv->store, r);
	if (rc) {
		db_req_free(r);
		dsp_plans_free(mine);
		return srv_fail(cause, rc, "the store is not taking requests");
	}
	dsp_plans_free(l->plans);
	l->plans = mine;
	log_info("dispatch", "linkage plans loaded|path=%s plans=%d", path && path[0] ? path : "(none)",
	    mine ? mine->n : 0);
	return 0;
}

json_t *
dsp_live_plans_json(struct srv *srv)
{
	struct dsp_live *l = L(srv);
	json_t *arr = json_array();
	for (int i = 0; l->plans && i < l->plans->n; i++)
		json_array_append_new(arr, dsp_plan_to_json(&l->plans->plans[i]));
	return json_pack("{s:s?, s:o}", "path", srv->cfg->dispatch_plans[0] ? srv->cfg->dispatch_plans
									    : NULL, "plans", arr);
}

/* --- open and close --------------------------------------------------------------------- */

int
dsp_live_open(struct srv *srv, const char *db_path, char **cause)
{
	struct dsp_live *l = xcalloc(1, sizeof *l);
	l->srv = srv;
	l->near = gis_near_new(0);
	srv->dsp = l;
	uv_timer_init(srv->loop, &l->timer);
	l->timer.data = l;
	uv_timer_init(srv->loop, &l->flush);
	l->flush.data = l;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT " DB_UNIT_COLS " FROM units", -1, &s, NULL) != SQLITE_OK) {
		srv_fail(cause, SRV_E_STORE, "%s: %s", db_path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return SRV_E_STORE;
	}
	while (sqlite3_step(s) == SQLITE_ROW) {
		json_t *u = db_row_unit(s);
		apply_unit_json(l, u);
		json_decref(u);
	}
	sqlite3_finalize(s);
	int64_t due = 0;
	if (sqlite3_prepare_v2(db, "SELECT min(x) FROM (SELECT min(ack_due_at) AS x FROM incidents"
		" UNION ALL SELECT min(due_at) FROM tasks UNION ALL SELECT min(status_due_at) FROM units)",
		-1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		due = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	/* Deadlines that passed while the server was down fire now. */
	arm(l, due);
	log_info("dispatch", "live state loaded|units=%d next_deadline_in_s=%lld", l->nunits,
	    due ? (long long)((due - srv_now_us()) / 1000000) : -1LL);
	return 0;
}

static void
timer_closed(uv_handle_t *h)
{
	struct dsp_live *l = h->data;
	if (--l->open_handles > 0)
		return; /* the last one to close frees */
	for (int i = 0; i < l->nunits; i++) {
		free(l->units[i]->id);
		free(l->units[i]);
	}
	free(l->units);
	gis_near_free(l->near);
	dsp_plans_free(l->plans);
	free(l);
}

void
dsp_live_close(struct srv *srv)
{
	struct dsp_live *l = L(srv);
	if (l == NULL)
		return;
	srv->dsp = NULL;
	l->open_handles = 2;
	uv_close((uv_handle_t *)&l->timer, timer_closed);
	uv_close((uv_handle_t *)&l->flush, timer_closed);
}
