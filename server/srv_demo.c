/*
 * srv_demo.c - simulated agency traffic for `liandong demo`.
 *
 * A timer on the loop posts reports through the same path as real gateways
 * (the generic JSON adapter, then the store writer), at exponentially
 * distributed intervals, and walks earlier demo incidents through their
 * statuses as a dispatcher would, so a console shows a living city at once.
 * Places are real Guangzhou locations (WGS84); the texts are invented.
 *
 * It also runs a small fleet (fire engines, ambulances, patrol cars and
 * traffic police at real stations) through the dispatch engine: units post
 * AVL positions every few seconds, the simulated dispatcher assigns the
 * nearest recommended unit of the line's kind, the unit drives to the scene
 * (en route, on scene) and is released when the incident is resolved.
 */
#include "srv.h"
#include "db_store.h"
#include "dsp.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct demo_report {
	const char *line, *category, *type;
	int priority;
	const char *title, *description, *address;
	double lon, lat;
};

static const struct demo_report reports[] = {
	{ "119", "accident", "fire.building", 1, "居民楼火灾，有人员被困",
	    "六楼住户报称厨房起火，浓烟进入楼道，约3人被困。", "天河区天河路385号", 113.3245, 23.1372 },
	{ "120", "public_health", "medical.chest_pain", 1, "老人胸痛昏厥",
	    "72岁男性突发胸痛后意识不清，家属在场。", "越秀区北京路步行街", 113.2697, 23.1257 },
	{ "110", "social_security", "crime.theft", 3, "商场内手机被盗",
	    "报警人称在商场二楼被扒窃手机一部。", "海珠区江南西路", 113.2701, 23.0967 },
	{ "122", "accident", "traffic.collision", 2, "三车追尾，一人受伤",
	    "广州大道北往南方向三车追尾，一名司机腿部受伤，占用两条车道。",
	    "天河区广州大道中", 113.3270, 23.1320 },
	{ "119", "accident", "rescue.water", 1, "珠江落水人员",
	    "市民发现一人在海印桥下落水，正在呼救。", "海珠区海印桥", 113.2910, 23.1170 },
	{ "120", "public_health", "medical.trauma", 2, "工地高处坠落",
	    "建筑工人从约4米高处坠落，意识清醒，下肢疑似骨折。", "番禺区市桥街", 113.3640, 22.9380 },
	{ "110", "social_security", "public_order.dispute", 3, "邻里纠纷",
	    "两户因噪音发生争吵，有推搡。", "白云区三元里大道", 113.2620, 23.1600 },
	{ "122", "accident", "traffic.hazmat", 1, "危化品运输车侧翻",
	    "一辆装载液化气的槽罐车在匝道侧翻，暂无泄漏，需封路。", "黄埔区开创大道", 113.4590, 23.1710 },
	{ "119", "accident", "fire.vehicle", 2, "地下车库车辆起火",
	    "小区地下车库一辆电动汽车冒烟起火。", "荔湾区芳村大道", 113.2350, 23.0800 },
	{ "110", "social_security", "missing_person", 2, "走失儿童",
	    "5岁男孩在公园与家长走散，穿红色上衣。", "越秀区越秀公园", 113.2650, 23.1390 },
	{ "120", "public_health", "medical.stroke", 1, "疑似中风",
	    "68岁女性突然口角歪斜、言语不清，发病约20分钟。", "花都区新华街", 113.2200, 23.4040 },
	{ "119", "natural_disaster", "rescue.flood", 2, "暴雨内涝，车辆被困",
	    "隧道积水约80厘米，两辆小车熄火，车内有人。", "天河区华南快速干线隧道", 113.3540, 23.1450 },
};
#define NREPORTS (sizeof reports / sizeof reports[0])

/* The demo fleet: where each unit starts (its station). */
static const struct demo_unit_def {
	const char *id, *agency, *kind, *station;
	double lon, lat;
} fleet[] = {
	{ "天河消防-1", "119", "fire_engine", "天河消防救援站", 113.3330, 23.1410 },
	{ "天河消防-2", "119", "fire_engine", "天河消防救援站", 113.3332, 23.1412 },
	{ "越秀消防-1", "119", "fire_engine", "越秀消防救援站", 113.2700, 23.1330 },
	{ "海珠消防-1", "119", "fire_engine", "海珠消防救援站", 113.3000, 23.0900 },
	{ "荔湾消防-1", "119", "fire_engine", "荔湾消防救援站", 113.2400, 23.1100 },
	{ "白云消防-1", "119", "fire_engine", "白云消防救援站", 113.2700, 23.1800 },
	{ "黄埔消防-1", "119", "fire_engine", "黄埔消防救援站", 113.4600, 23.1100 },
	{ "番禺消防-1", "119", "fire_engine", "番禺消防救援站", 113.3600, 22.9400 },
	{ "花都消防-1", "119", "fire_engine", "花都消防救援站", 113.2200, 23.3900 },
	{ "天河消防-云梯", "119", "aerial_ladder", "天河消防救援站", 113.3331, 23.1411 },
	{ "市急救-1", "120", "ambulance", "广州市急救医疗指挥中心", 113.2800, 23.1300 },
	{ "市急救-2", "120", "ambulance", "中山一院急救站", 113.2870, 23.1330 },
	{ "市急救-3", "120", "ambulance", "省人民医院急救站", 113.2750, 23.1250 },
	{ "市急救-4", "120", "ambulance", "番禺中心医院急救站", 113.3550, 22.9450 },
	{ "市急救-5", "120", "ambulance", "花都人民医院急救站", 113.2150, 23.4050 },
	{ "市急救-6", "120", "ambulance", "黄埔区人民医院急救站", 113.4550, 23.1050 },
	{ "天河巡警-1", "110", "patrol", "天河公安分局", 113.3600, 23.1250 },
	{ "越秀巡警-1", "110", "patrol", "越秀公安分局", 113.2700, 23.1300 },
	{ "海珠巡警-1", "110", "patrol", "海珠公安分局", 113.3170, 23.0830 },
	{ "白云巡警-1", "110", "patrol", "白云公安分局", 113.2730, 23.1580 },
	{ "番禺巡警-1", "110", "patrol", "番禺公安分局", 113.3840, 22.9370 },
	{ "天河交警-1", "122", "traffic_police", "天河交警大队", 113.3400, 23.1300 },
	{ "越秀交警-1", "122", "traffic_police", "越秀交警大队", 113.2800, 23.1200 },
	{ "黄埔交警-1", "122", "traffic_police", "黄埔交警大队", 113.4500, 23.1600 },
	{ "番禺交警-1", "122", "traffic_police", "番禺交警大队", 113.3700, 22.9500 },
};
#define NFLEET (sizeof fleet / sizeof fleet[0])

#define TRACKED 16
struct tracked {
	int64_t id, version;
	enum inc_status status;
	int unit;          /* index into fleet of its assigned unit, or -1 */
	double lon, lat;   /* where it is */
	char kind[32];     /* the unit kind it needs */
};

struct live_unit {
	double lon, lat;
	int incident_slot; /* -1: free */
	int64_t incident;
};

struct demo {
	struct srv *srv;
	uv_timer_t timer;
	uv_timer_t avl;
	unsigned seq;
	unsigned rng;
	struct tracked t[TRACKED];
	int nt;
	struct live_unit u[NFLEET];
	int open_handles;  /* timers not yet closed; the last close frees */
};

static struct demo *demo;

static unsigned
rnd(struct demo *d)
{
	d->rng = d->rng * 1103515245u + 12345u;
	return (d->rng >> 16) & 0x7fff;
}

static void run(struct demo *d, const char *actor, db_run_fn fn, struct dsp_args *a);

static const char *
kind_for(enum inc_line line)
{
	switch (line) {
	case INC_LINE_110: return "patrol";
	case INC_LINE_119: return "fire_engine";
	case INC_LINE_120: return "ambulance";
	case INC_LINE_122: return "traffic_police";
	default: return "patrol";
	}
}

static void
track(struct demo *d, const struct incident *inc)
{
	for (int i = 0; i < d->nt; i++)
		if (d->t[i].id == inc->id) {
			d->t[i].version = inc->version;
			d->t[i].status = inc->status;
			return;
		}
	if (d->nt == TRACKED) {
		/* The oldest leaves the simulation; its unit is stood down and goes home. */
		if (d->t[0].unit >= 0) {
			struct dsp_args *a = dsp_args_new();
			snprintf(a->unit, sizeof a->unit, "%s", fleet[d->t[0].unit].id);
			a->status = DSP_U_AVAILABLE;
			run(d, "demo:unit", dsp_run_unit_status, a);
			d->u[d->t[0].unit].incident_slot = -1;
		}
		memmove(&d->t[0], &d->t[1], sizeof d->t[0] * (TRACKED - 1));
		d->nt--;
		for (size_t k = 0; k < NFLEET; k++)
			if (d->u[k].incident_slot > 0)
				d->u[k].incident_slot--;
	}
	struct tracked *t = &d->t[d->nt++];
	*t = (struct tracked){ inc->id, inc->version, inc->status, -1, inc->lon, inc->lat, "" };
	snprintf(t->kind, sizeof t->kind, "%s", kind_for(inc->line));
}

static void
demo_done(struct db_req *r)
{
	struct demo *d = r->udata;
	if (r->err == SRV_E_STALE && d == demo && r->inc.id) {
		/* Someone else changed it first (an escalation, an agency's update): as a
		 * dispatcher would, take the current incident and act on it next time. */
		log_debug("demo", "demo change was stale; reloaded|incident=%lld",
		    (long long)r->inc.id);
		track(d, &r->inc);
	} else if (r->err && r->err != SRV_E_SHUTTING_DOWN) {
		log_warn("demo", "demo change refused|code=%s detail=\"%s\"", srv_err_code(r->err),
		    r->cause ? r->cause : "");
	} else if (r->err == 0 && d == demo && r->inc.id) {
		track(d, &r->inc);
	}
	db_req_free(r);
}

/* Positions are committed: the live index learns them (as for an AVL gateway). */
static void
avl_done(struct db_req *r)
{
	if (r->err == 0 && r->udata == demo)
		dsp_live_positions(demo->srv, r->args);
	db_req_free(r);
}

static void
run(struct demo *d, const char *actor, db_run_fn fn, struct dsp_args *a)
{
	struct db_req *r = db_req_new(DB_OP_RUN, actor);
	r->run = fn;
	r->args = a;
	r->args_free = dsp_args_free;
	r->done = demo_done;
	r->udata = d;
	if (db_store_submit(d->srv->store, r) != 0)
		db_req_free(r);
}

/* The fleet's units, defined once (a restart redefines nothing that is unchanged). */
static void
define_fleet(struct demo *d)
{
	struct dsp_args *a = dsp_args_new();
	a->defs = xcalloc(NFLEET, sizeof *a->defs);
	for (size_t i = 0; i < NFLEET; i++) {
		struct dsp_unit_def *u = &a->defs[a->ndefs++];
		snprintf(u->id, sizeof u->id, "%s", fleet[i].id);
		snprintf(u->agency, sizeof u->agency, "%s", fleet[i].agency);
		snprintf(u->kind, sizeof u->kind, "%s", fleet[i].kind);
		snprintf(u->station, sizeof u->station, "%s", fleet[i].station);
		d->u[i] = (struct live_unit){ fleet[i].lon, fleet[i].lat, -1, 0 };
	}
	run(d, "demo:fleet", dsp_run_units_put, a);
}

/* Every few seconds: each unit reports where it is; units on a job drive towards it. */
static void
avl_tick(uv_timer_t *timer)
{
	struct demo *d = timer->data;
	struct dsp_args *a = dsp_args_new();
	a->pos_ids = xcalloc(NFLEET, sizeof *a->pos_ids);
	a->pos_lon = xcalloc(NFLEET, sizeof *a->pos_lon);
	a->pos_lat = xcalloc(NFLEET, sizeof *a->pos_lat);
	a->pos_at = xcalloc(NFLEET, sizeof *a->pos_at);
	int64_t now = srv_now_us();
	for (size_t i = 0; i < NFLEET; i++) {
		struct live_unit *u = &d->u[i];
		double tlon = fleet[i].lon, tlat = fleet[i].lat;
		if (u->incident_slot >= 0 && u->incident_slot < d->nt) {
			tlon = d->t[u->incident_slot].lon;
			tlat = d->t[u->incident_slot].lat;
		}
		/* A third of the way each tick, plus a little jitter (a vehicle in traffic). */
		u->lon += (tlon - u->lon) / 3 + ((double)(rnd(d) % 21) - 10) * 2e-6;
		u->lat += (tlat - u->lat) / 3 + ((double)(rnd(d) % 21) - 10) * 2e-6;
		a->pos_ids[a->npos] = xstrdup(fleet[i].id);
		a->pos_lon[a->npos] = u->lon;
		a->pos_lat[a->npos] = u->lat;
		a->pos_at[a->npos] = now;
		a->npos++;
	}
	struct db_req *r = db_req_new(DB_OP_RUN, "demo:avl");
	r->run = dsp_run_positions;
	r->args = a;
	r->args_free = dsp_args_free;
	r->done = avl_done;
	r->udata = d;
	if (db_store_submit(d->srv->store, r) != 0)
		db_req_free(r);
}

static void
post_report(struct demo *d)
{
	const struct demo_report *t = &reports[rnd(d) % NREPORTS];
	/* Scatter around the named place by up to ~300 m. */
	double lon = t->lon + ((double)(rnd(d) % 600) - 300) * 1e-5;
	double lat = t->lat + ((double)(rnd(d) % 600) - 300) * 1e-5;
	char ref[64];
	snprintf(ref, sizeof ref, "demo-%lld-%u", (long long)srv_now_ms(), ++d->seq);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:f, s:f}", "line", t->line,
	    "ext_ref", ref, "category", t->category, "type", t->type, "priority", t->priority,
	    "title", t->title, "description", t->description, "address", t->address, "lon", lon,
	    "lat", lat);
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	char *cause = NULL;
	if (srv_intake_local(d->srv, "json", "demo:simulator", body, strlen(body), demo_done, d,
		&cause) != 0)
		log_warn("demo", "demo report refused|detail=\"%s\"", cause ? cause : "");
	free(cause);
	free(body);
}

static void
advance_one(struct demo *d)
{
	static const enum inc_status next[INC_ST_N] = {
		[INC_ST_NEW] = INC_ST_ACKNOWLEDGED, [INC_ST_ACKNOWLEDGED] = INC_ST_DISPATCHED,
		[INC_ST_DISPATCHED] = INC_ST_EN_ROUTE, [INC_ST_EN_ROUTE] = INC_ST_ON_SCENE,
		[INC_ST_ON_SCENE] = INC_ST_RESOLVED,
	};
	if (d->nt == 0)
		return;
	int slot = (int)(rnd(d) % (unsigned)d->nt);
	struct tracked *t = &d->t[slot];
	if (t->unit >= 0 && inc_status_is_final(t->status)) {
		/* Resolved: the unit is released and drives home. */
		struct dsp_args *a = dsp_args_new();
		snprintf(a->unit, sizeof a->unit, "%s", fleet[t->unit].id);
		a->status = DSP_U_AVAILABLE;
		run(d, "demo:unit", dsp_run_unit_status, a);
		d->u[t->unit].incident_slot = -1;
		t->unit = -1;
		return;
	}
	if (inc_status_is_final(t->status))
		return;
	if (t->status == INC_ST_ACKNOWLEDGED && t->unit < 0) {
		/* Dispatch the nearest recommended unit of the line's kind. */
		json_t *rec = dsp_live_recommend(d->srv, t->lon, t->lat, t->kind, 1, srv_now_us());
		const char *unit = json_string_value(json_object_get(
		    json_array_get(json_object_get(rec, "units"), 0), "unit"));
		for (size_t i = 0; unit && i < NFLEET; i++)
			if (strcmp(fleet[i].id, unit) == 0) {
				struct dsp_args *a = dsp_args_new();
				a->id = t->id;
				a->if_version = t->version;
				a->units = xcalloc(1, sizeof *a->units);
				a->units[a->nunits++] = xstrdup(unit);
				a->link_agency = 1;
				t->unit = (int)i;
				d->u[i].incident_slot = slot;
				run(d, "demo:dispatcher", dsp_run_assign, a);
			}
		json_decref(rec);
		if (unit)
			return;
	}
	if (t->unit >= 0 && (t->status == INC_ST_DISPATCHED || t->status == INC_ST_EN_ROUTE)) {
		/* The unit reports its progress; the incident follows it. */
		struct dsp_args *a = dsp_args_new();
		snprintf(a->unit, sizeof a->unit, "%s", fleet[t->unit].id);
		a->status = t->status == INC_ST_DISPATCHED ? DSP_U_EN_ROUTE : DSP_U_ON_SCENE;
		run(d, "demo:unit", dsp_run_unit_status, a);
		return;
	}
	struct db_req *r = db_req_new(DB_OP_PATCH, "demo:dispatcher");
	r->id = t->id;
	r->if_version = t->version;
	r->patch.mask = INC_F_STATUS;
	r->patch.v.status = next[t->status];
	r->done = demo_done;
	r->udata = d;
	if (db_store_submit(d->srv->store, r) != 0)
		db_req_free(r);
}

static void tick(uv_timer_t *t);

static void
schedule(struct demo *d)
{
	/* Poisson arrivals: exponential gaps with the configured mean. */
	double u = ((double)rnd(d) + 1.0) / 32769.0;
	uint64_t ms = (uint64_t)(-log(u) * d->srv->cfg->demo_interval_ms);
	uv_timer_start(&d->timer, tick, ms < 50 ? 50 : ms, 0);
}

static void
tick(uv_timer_t *t)
{
	struct demo *d = t->data;
	if (rnd(d) % 3 == 0)
		advance_one(d);
	else
		post_report(d);
	schedule(d);
}

int
srv_demo_start(struct srv *srv)
{
	struct demo *d = xcalloc(1, sizeof *d);
	d->srv = srv;
	d->rng = (unsigned)srv_now_us();
	uv_timer_init(srv->loop, &d->timer);
	d->timer.data = d;
	uv_timer_init(srv->loop, &d->avl);
	d->avl.data = d;
	demo = d;
	define_fleet(d);
	uv_timer_start(&d->avl, avl_tick, 200, 5000);
	/* A few reports at once, so the console is not empty. */
	for (int i = 0; i < 6; i++)
		post_report(d);
	schedule(d);
	log_info("demo", "simulated agency traffic started|mean_interval_ms=%d",
	    srv->cfg->demo_interval_ms);
	return 0;
}

static void
demo_closed(uv_handle_t *h)
{
	struct demo *d = h->data;
	if (--d->open_handles == 0)
		free(d);
}

void
srv_demo_stop(struct srv *srv)
{
	(void)srv;
	if (demo == NULL)
		return;
	uv_timer_stop(&demo->timer);
	uv_timer_stop(&demo->avl);
	demo->open_handles = 2;
	uv_close((uv_handle_t *)&demo->timer, demo_closed);
	uv_close((uv_handle_t *)&demo->avl, demo_closed);
	demo = NULL;
}
