/*
 * dsp_api.c - the dispatch engine's REST routes (docs/api.md, "Dispatch").
 *
 * Each handler checks the request completely (shapes, limits, the service
 * area, times) and only then hands a command to the store writer, which
 * checks it against the current state (versions, lifecycle, unit status)
 * inside the transaction. Either refusal changes nothing.
 */
#include "dsp.h"
#include "srv.h"
#include "db_read.h"
#include "db_store.h"
#include "hub.h"
#include "srv_api-int.h"
#include "srv_auth.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- answering commands ----------------------------------------------------------- */

static void
cmd_done(struct db_req *r)
{
	struct srv_req *req = r->udata;
	struct srv *srv = req->srv;
	if (r->err == SRV_E_STALE && r->inc.id) {
		reply_stale(req, r);
	} else if (r->err) {
		srv_reply_error(req, r->err, r->cause);
	} else {
		if (r->run == dsp_run_positions)
			dsp_live_positions(srv, r->args);
		json_t *o = r->result ? r->result : json_object();
		r->result = NULL;
		json_object_set_new(o, "seq", json_integer(r->seq));
		json_object_set_new(o, "changed", json_boolean(r->changed));
		json_t *inc = json_object_get(o, "incident");
		if (inc)
			snprintf(req->etag, sizeof req->etag, "\"%lld\"",
			    (long long)json_integer_value(json_object_get(inc, "version")));
		srv_reply_json(req, 200, o);
	}
	db_req_free(r);
}

/* actor NULL: the signed-in user (or, with sign-in off, the console's address). */
static void
submit_cmd(struct srv_req *req, const char *actor, db_run_fn run, struct dsp_args *a)
{
	char who[96];
	struct db_req *r = db_req_new(DB_OP_RUN, actor ? actor : peer_actor(req, who, sizeof who));
	if (req->user && req->user->role == ROLE_DISPATCHER) {
		/* A dispatcher acts for one agency: its incidents, units and tasks only. */
		snprintf(r->visible_agency, sizeof r->visible_agency, "%s", req->user->agency);
		snprintf(a->own_agency, sizeof a->own_agency, "%s", req->user->agency);
	}
	r->run = run;
	r->args = a;
	r->args_free = dsp_args_free;
	submit_store(req, r, cmd_done);
}


/* If-Match is required on commands that change an incident a dispatcher looked at. */
static int
need_version(struct srv_req *req, int64_t *out)
{
	if (req->if_match[0] == '\0') {
		fail(req, SRV_E_PRECONDITION,
		    xstrdup("send If-Match with the incident version you saw, e.g. If-Match: \"3\""));
		return -1;
	}
	if (parse_if_match(req->if_match, out) != 0) {
		fail(req, SRV_E_PRECONDITION, xasprintf("If-Match '%s' is not a version", req->if_match));
		return -1;
	}
	return 0;
}

/*
 * The JSON object body of a command with only the `known` fields, and, with
 * version not NULL, the If-Match version it needs. NULL after answering.
 */
static json_t *
command_body(struct srv_req *req, const char *const *known, int64_t *version)
{
	if (version && need_version(req, version))
		return NULL;
	return object_body(req, known);
}

static int
copy_token(struct srv_req *req, const char *field, json_t *v, char *out, size_t max,
    int allow_utf8, int required)
{
	if (v == NULL && !required)
		return 0;
	const char *s = json_string_value(v);
	if (s == NULL || !dsp_token_valid(s, max, allow_utf8)) {
		fail(req, v ? SRV_E_BAD_FIELD : SRV_E_MISSING_FIELD,
		    xasprintf(v ? "%s must be 1-%zu characters of %s" : "%s is required", field, max,
			allow_utf8 ? "letters, digits, _ - ." : "a-z A-Z 0-9 _ - ."));
		return -1;
	}
	snprintf(out, max * 4 + 1, "%s", s);
	return 0;
}

/* --- incidents: assign, tasks, alarm, links, recommendations ------------------------ */

static void
api_assign(struct srv_req *req, int64_t id)
{
	static const char *const known[] = { "units", "link_agency", NULL };
	int64_t version;
	json_t *j = command_body(req, known, &version);
	if (j == NULL)
		return;
	json_t *units = json_object_get(j, "units"), *link = json_object_get(j, "link_agency");
	if (!json_is_array(units) || json_array_size(units) == 0 ||
	    json_array_size(units) > DSP_ASSIGN_MAX || (link && !json_is_boolean(link))) {
		json_decref(j);
		fail(req, SRV_E_BAD_FIELD, xasprintf("units must be a list of 1-%d unit ids; link_agency "
		    "a boolean", DSP_ASSIGN_MAX));
		return;
	}
	struct dsp_args *a = dsp_args_new();
	a->id = id;
	a->if_version = version;
	a->link_agency = json_is_true(link);
	a->units = xcalloc(json_array_size(units), sizeof *a->units);
	size_t i;
	json_t *u;
	json_array_foreach(units, i, u) {
		const char *s = json_string_value(u);
		if (s == NULL || !dsp_token_valid(s, DSP_UNIT_ID_MAX * 4, 1)) {
			json_decref(j);
			dsp_args_free(a);
			fail(req, SRV_E_BAD_FIELD, xasprintf("units[%zu] is not a unit id", i));
			return;
		}
		for (int k = 0; k < a->nunits; k++)
			if (strcmp(a->units[k], s) == 0) {
				json_decref(j);
				dsp_args_free(a);
				fail(req, SRV_E_BAD_FIELD, xasprintf("unit %s is listed twice", s));
				return;
			}
		a->units[a->nunits++] = xstrdup(s);
	}
	json_decref(j);
	submit_cmd(req, NULL, dsp_run_assign, a);
}

static void
api_task_ack(struct srv_req *req, int64_t id, const char *agency)
{
	if (!dsp_token_valid(agency, DSP_AGENCY_LEN, 0)) {
		fail(req, SRV_E_NOT_FOUND, xasprintf("'%s' is not an agency", agency));
		return;
	}
	struct dsp_args *a = dsp_args_new();
	a->id = id;
	snprintf(a->agency, sizeof a->agency, "%.16s", agency); /* checked: at most 16 */
	submit_cmd(req, NULL, dsp_run_task_ack, a);
}

static void
api_alarm(struct srv_req *req, int64_t id)
{
	static const char *const known[] = { "level", "plan", NULL };
	int64_t version;
	json_t *j = command_body(req, known, &version);
	if (j == NULL)
		return;
	json_t *level = json_object_get(j, "level"), *plan = json_object_get(j, "plan");
	if (!json_is_integer(level) || json_integer_value(level) < 1 || json_integer_value(level) > 5 ||
	    (plan && !json_is_string(plan)) || (plan && strlen(json_string_value(plan)) > 48)) {
		json_decref(j);
		fail(req, SRV_E_BAD_FIELD, xstrdup("level must be 1-5; plan a plan id"));
		return;
	}
	struct dsp_args *a = dsp_args_new();
	a->id = id;
	a->if_version = version;
	a->level = (int)json_integer_value(level);
	if (plan)
		snprintf(a->plan, sizeof a->plan, "%s", json_string_value(plan));
	json_decref(j);
	submit_cmd(req, NULL, dsp_run_alarm, a);
}

static void
api_link(struct srv_req *req, int64_t id)
{
	static const char *const known[] = { "incident", "kind", NULL };
	static const char *const kinds[] = { "merge", "parent", "child", "related", "not_duplicate",
		NULL };
	int64_t version;
	json_t *j = command_body(req, known, &version);
	if (j == NULL)
		return;
	json_t *other = json_object_get(j, "incident");
	const char *kind = json_string_value(json_object_get(j, "kind"));
	int ok = 0;
	for (int i = 0; kind && kinds[i] && !ok; i++)
		ok = strcmp(kinds[i], kind) == 0;
	if (!json_is_integer(other) || json_integer_value(other) < 1 || !ok) {
		json_decref(j);
		fail(req, SRV_E_BAD_FIELD, xstrdup("incident must be an incident id and kind one of "
		    "merge, parent, child, related, not_duplicate"));
		return;
	}
	struct dsp_args *a = dsp_args_new();
	a->id = id;
	a->other = json_integer_value(other);
	a->if_version = version;
	snprintf(a->link_kind, sizeof a->link_kind, "%s", kind);
	json_decref(j);
	submit_cmd(req, NULL, dsp_run_link, a);
}

static void
api_note(struct srv_req *req, int64_t id)
{
	static const char *const known[] = { "text", NULL };
	json_t *j = command_body(req, known, NULL);
	if (j == NULL)
		return;
	json_t *text = json_object_get(j, "text");
	const char *s = json_string_value(text);
	size_t n = s ? srv_utf8_len(s) : 0;
	if (s == NULL || n == 0 || n > DSP_NOTE_MAX || strspn(s, " \t\r\n") == strlen(s)) {
		json_decref(j);
		fail(req, text ? SRV_E_BAD_FIELD : SRV_E_MISSING_FIELD,
		    xasprintf(text ? "text must be 1-%d characters, not only spaces" : "text is required",
			DSP_NOTE_MAX));
		return;
	}
	struct dsp_args *a = dsp_args_new();
	a->id = id;
	a->note = xstrdup(s);
	json_decref(j);
	submit_cmd(req, NULL, dsp_run_note, a);
}

struct recommend_ctx {
	char kind[DSP_KIND_LEN + 1];
	int limit;
};

static void
recommend_done(struct db_query *q)
{
	struct srv_req *req = q->udata;
	struct recommend_ctx *c = q->ctx;
	if (q->err) {
		srv_reply_error(req, q->err, q->cause);
	} else if (!q->inc.has_position) {
		srv_reply_error(req, SRV_E_CONFLICT, "the incident has no position");
	} else {
		json_t *o = dsp_live_recommend(req->srv, q->inc.lon, q->inc.lat, c->kind, c->limit,
		    srv_now_us());
		json_object_set_new(o, "incident_id", json_integer(q->inc.id));
		srv_reply_json(req, 200, o);
	}
	free(c);
	db_query_free(q);
}

static void
api_recommend(struct srv_req *req, int64_t id)
{
	const char *kind = srv_req_arg(req, "kind");
	int64_t limit = 5;
	if (kind == NULL || !dsp_token_valid(kind, DSP_KIND_LEN, 0)) {
		fail(req, SRV_E_BAD_QUERY, xstrdup("kind (a unit kind, e.g. fire_engine) is required"));
		return;
	}
	if (arg_int(req, "limit", 1, 50, &limit))
		return;
	struct recommend_ctx *c = xcalloc(1, sizeof *c);
	snprintf(c->kind, sizeof c->kind, "%s", kind);
	c->limit = (int)limit;
	struct db_query *q = db_query_new(DBQ_GET);
	q->id = id;
	q->ctx = c;
	submit_read(req, q, recommend_done);
}

int
dsp_api_incident(struct srv_req *req, int64_t id, const char *rest)
{
	enum srv_method m = req->method;
	if (strcmp(rest, "/assign") == 0 && m == SRV_POST) {
		api_assign(req, id);
		return 1;
	}
	if (strcmp(rest, "/alarm") == 0 && m == SRV_POST) {
		api_alarm(req, id);
		return 1;
	}
	if (strcmp(rest, "/links") == 0 && m == SRV_POST) {
		api_link(req, id);
		return 1;
	}
	if (strcmp(rest, "/notes") == 0 && m == SRV_POST) {
		api_note(req, id);
		return 1;
	}
	if (strcmp(rest, "/recommendations") == 0 && m == SRV_GET) {
		api_recommend(req, id);
		return 1;
	}
	if (strncmp(rest, "/tasks/", 7) == 0 && m == SRV_POST) {
		const char *agency = rest + 7, *slash = strchr(agency, '/');
		if (slash && strcmp(slash, "/ack") == 0) {
			char buf[64];
			snprintf(buf, sizeof buf, "%.*s", (int)(slash - agency < 60 ? slash - agency : 60),
			    agency);
			api_task_ack(req, id, buf);
			return 1;
		}
	}
	return 0;
}

/* --- units ------------------------------------------------------------------------------ */

static void
api_units_put(struct srv_req *req)
{
	static const char *const known[] = { "units", NULL };
	json_t *j = command_body(req, known, NULL);
	if (j == NULL)
		return;
	json_t *units = json_object_get(j, "units");
	if (!json_is_array(units) || json_array_size(units) == 0 || json_array_size(units) > 1000) {
		json_decref(j);
		fail(req, SRV_E_BAD_FIELD, xstrdup("units must be a list of 1-1000 unit definitions"));
		return;
	}
	struct dsp_args *a = dsp_args_new();
	a->defs = xcalloc(json_array_size(units), sizeof *a->defs);
	size_t i;
	json_t *u;
	static const char *const ufields[] = { "id", "agency", "kind", "station", NULL };
	json_array_foreach(units, i, u) {
		struct dsp_unit_def *d = &a->defs[a->ndefs];
		char field[32];
		snprintf(field, sizeof field, "units[%zu]", i);
		json_t *st = json_object_get(u, "station");
		if (!json_is_object(u) || only_fields(req, u, ufields) ||
		    copy_token(req, "id", json_object_get(u, "id"), d->id, DSP_UNIT_ID_MAX, 1, 1) ||
		    copy_token(req, "agency", json_object_get(u, "agency"), d->agency, DSP_AGENCY_LEN, 0,
			1) ||
		    copy_token(req, "kind", json_object_get(u, "kind"), d->kind, DSP_KIND_LEN, 0, 1)) {
			if (!json_is_object(u))
				fail(req, SRV_E_BAD_FIELD, xasprintf("%s must be an object", field));
			json_decref(j);
			dsp_args_free(a);
			return;
		}
		if (st && (!json_is_string(st) || strlen(json_string_value(st)) >= sizeof d->station ||
			      !srv_utf8_valid(json_string_value(st), strlen(json_string_value(st))))) {
			json_decref(j);
			dsp_args_free(a);
			fail(req, SRV_E_BAD_FIELD, xasprintf("%s.station must be text of at most 200 bytes",
			    field));
			return;
		}
		if (st)
			snprintf(d->station, sizeof d->station, "%s", json_string_value(st));
		a->ndefs++;
	}
	json_decref(j);
	submit_cmd(req, NULL, dsp_run_units_put, a);
}

static void
api_unit_status(struct srv_req *req, const char *id)
{
	if (!dsp_token_valid(id, DSP_UNIT_ID_MAX * 4, 1)) {
		fail(req, SRV_E_NOT_FOUND, xstrdup("not a unit id"));
		return;
	}
	int64_t version = 0;
	if (req->if_match[0] && parse_if_match(req->if_match, &version) != 0) {
		fail(req, SRV_E_PRECONDITION, xasprintf("If-Match '%s' is not a version", req->if_match));
		return;
	}
	static const char *const known[] = { "status", NULL };
	json_t *j = command_body(req, known, NULL);
	if (j == NULL)
		return;
	const char *status = json_string_value(json_object_get(j, "status"));
	int st = status ? dsp_unit_status_parse(status) : -1;
	json_decref(j);
	if (st < 0) {
		fail(req, SRV_E_BAD_FIELD, xstrdup("status must be one of available, dispatched, "
		    "en_route, on_scene, returning, out_of_service"));
		return;
	}
	struct dsp_args *a = dsp_args_new();
	snprintf(a->unit, sizeof a->unit, "%s", id);
	a->status = st;
	a->if_version = version;
	submit_cmd(req, NULL, dsp_run_unit_status, a);
}

/*
 * An AVL batch: {"positions":[{"unit","lon","lat","at"}]}. From an agency's
 * AVL feed, so with intake.auth = keys it needs a gateway key made for the
 * "avl" adapter. The whole batch is checked first: a position outside the
 * service area or in the future refuses the batch (naming its index).
 */
static void
api_positions(struct srv_req *req)
{
	struct srv *srv = req->srv;
	char actor[96];
	if (srv->auth) {
		const char *gateway = NULL;
		char *cause = NULL;
		struct auth_creds creds = { req->authorization, req->sig_timestamp, req->signature };
		int rc = auth_intake(srv->auth, &creds, "avl", req->body ? req->body : "", req->body_len,
		    &gateway, &req->retry_after, &cause);
		if (rc) {
			fail(req, rc, cause);
			return;
		}
		snprintf(actor, sizeof actor, "gateway:%s", gateway);
	} else {
		peer_actor(req, actor, sizeof actor);
	}
	static const char *const known[] = { "positions", NULL };
	json_t *j = command_body(req, known, NULL);
	if (j == NULL)
		return;
	json_t *ps = json_object_get(j, "positions");
	if (!json_is_array(ps) || json_array_size(ps) == 0 || json_array_size(ps) > DSP_POSITIONS_MAX) {
		json_decref(j);
		fail(req, SRV_E_BAD_FIELD, xasprintf("positions must be a list of 1-%d positions",
		    DSP_POSITIONS_MAX));
		return;
	}
	size_t n = json_array_size(ps), i;
	struct dsp_args *a = dsp_args_new();
	a->pos_ids = xcalloc(n, sizeof *a->pos_ids);
	a->pos_lon = xcalloc(n, sizeof *a->pos_lon);
	a->pos_lat = xcalloc(n, sizeof *a->pos_lat);
	a->pos_at = xcalloc(n, sizeof *a->pos_at);
	const double *area = srv->cfg->dispatch_area;
	int64_t now = srv_now_us();
	json_t *p;
	char *why = NULL;
	json_array_foreach(ps, i, p) {
		const char *unit = json_string_value(json_object_get(p, "unit"));
		json_t *lon = json_object_get(p, "lon"), *lat = json_object_get(p, "lat");
		const char *at = json_string_value(json_object_get(p, "at"));
		int64_t t = 0;
		if (!json_is_object(p) || json_object_size(p) != 4 || unit == NULL ||
		    !dsp_token_valid(unit, DSP_UNIT_ID_MAX * 4, 1) || !json_is_number(lon) ||
		    !json_is_number(lat) || at == NULL) {
			why = xasprintf("positions[%zu] must be {\"unit\", \"lon\", \"lat\", \"at\"}", i);
			break;
		}
		double x = json_number_value(lon), y = json_number_value(lat);
		if (!(x >= area[0] && x <= area[2] && y >= area[1] && y <= area[3])) {
			why = xasprintf("positions[%zu]: %.6f, %.6f is outside the service area "
					"(dispatch.area %.4g,%.4g,%.4g,%.4g; lon, lat order)", i, x, y, area[0],
			    area[1], area[2], area[3]);
			break;
		}
		if (srv_parse_time(at, &t) != 0 || t > now + 60 * INT64_C(1000000)) {
			why = xasprintf("positions[%zu]: at must be an RFC 3339 time, not in the future", i);
			break;
		}
		a->pos_ids[a->npos] = xstrdup(unit);
		a->pos_lon[a->npos] = x;
		a->pos_lat[a->npos] = y;
		a->pos_at[a->npos] = t;
		a->npos++;
	}
	json_decref(j);
	if (why) {
		dsp_args_free(a);
		fail(req, SRV_E_BAD_FIELD, why);
		return;
	}
	submit_cmd(req, actor, dsp_run_positions, a);
}

/* --- plans, stats ------------------------------------------------------------------------ */

static void
api_plans_reload(struct srv_req *req)
{
	char actor[96], *cause = NULL;
	int rc = dsp_live_load_plans(req->srv, peer_actor(req, actor, sizeof actor), &cause);
	if (rc) {
		/* The old plans stay in force. */
		fail(req, rc == SRV_E_BAD_FIELD ? SRV_E_BAD_FIELD : rc, cause);
		return;
	}
	srv_reply_json(req, 200, dsp_live_plans_json(req->srv));
}

static void
api_stats(struct srv_req *req)
{
	struct db_query *q = db_query_new(DBQ_STATS);
	int64_t now = srv_now_us();
	q->filter.until = now;
	q->filter.since = now - 24 * 3600 * INT64_C(1000000);
	if (arg_time(req, "since", &q->filter.since) || arg_time(req, "until", &q->filter.until)) {
		db_query_free(q);
		return;
	}
	if (q->filter.since >= q->filter.until) {
		db_query_free(q);
		fail(req, SRV_E_BAD_QUERY, xstrdup("since must be before until"));
		return;
	}
	submit_read(req, q, NULL);
}

int
dsp_api_route(struct srv_req *req, const char *p)
{
	enum srv_method m = req->method;
	if (strcmp(p, "/api/v1/units") == 0) {
		if (m == SRV_GET)
			srv_reply_json(req, 200, dsp_live_units(req->srv, srv_now_us()));
		else if (m == SRV_POST)
			api_units_put(req);
		else
			fail(req, SRV_E_METHOD, xstrdup("use GET or POST"));
		return 1;
	}
	if (strcmp(p, "/api/v1/units/positions") == 0) {
		if (m == SRV_POST)
			api_positions(req);
		else
			fail(req, SRV_E_METHOD, xstrdup("use POST"));
		return 1;
	}
	if (strncmp(p, "/api/v1/units/", 14) == 0) {
		if (m == SRV_PATCH)
			api_unit_status(req, p + 14);
		else
			fail(req, SRV_E_METHOD, xstrdup("use PATCH"));
		return 1;
	}
	if (strcmp(p, "/api/v1/plans") == 0 && m == SRV_GET) {
		srv_reply_json(req, 200, dsp_live_plans_json(req->srv));
		return 1;
	}
	if (strcmp(p, "/api/v1/plans/reload") == 0 && m == SRV_POST) {
		api_plans_reload(req);
		return 1;
	}
	if (strcmp(p, "/api/v1/stats") == 0 && m == SRV_GET) {
		api_stats(req);
		return 1;
	}
	return 0;
}
