/*
 * srv_demo.c - simulated agency traffic for `liandong demo`.
 *
 * A timer on the loop posts reports through the same path as real gateways
 * (the generic JSON adapter, then the store writer), at exponentially
 * distributed intervals, and walks earlier demo incidents through their
 * statuses as a dispatcher would, so a console shows a living city at once.
 * Places are real Guangzhou locations (WGS84); the texts are invented.
 */
#include "srv.h"
#include "db_store.h"
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

#define TRACKED 16
struct tracked {
	int64_t id, version;
	enum inc_status status;
};

struct demo {
	struct srv *srv;
	uv_timer_t timer;
	unsigned seq;
	unsigned rng;
	struct tracked t[TRACKED];
	int nt;
};

static struct demo *demo;

static unsigned
rnd(struct demo *d)
{
	d->rng = d->rng * 1103515245u + 12345u;
	return (d->rng >> 16) & 0x7fff;
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
	if (d->nt == TRACKED)
		memmove(&d->t[0], &d->t[1], sizeof d->t[0] * (TRACKED - 1)), d->nt--;
	d->t[d->nt++] = (struct tracked){ inc->id, inc->version, inc->status };
}

static void
demo_done(struct db_req *r)
{
	struct demo *d = r->udata;
	if (r->err && r->err != SRV_E_SHUTTING_DOWN)
		log_warn("demo", "demo change refused|code=%s detail=\"%s\"", srv_err_code(r->err),
		    r->cause ? r->cause : "");
	else if (r->err == 0 && d == demo)
		track(d, &r->inc);
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
	struct tracked *t = &d->t[rnd(d) % (unsigned)d->nt];
	if (inc_status_is_final(t->status))
		return;
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
	demo = d;
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
	free(h->data);
}

void
srv_demo_stop(struct srv *srv)
{
	if (demo == NULL)
		return;
	uv_timer_stop(&demo->timer);
	uv_close((uv_handle_t *)&demo->timer, demo_closed);
	demo = NULL;
}
