/*
 * gw_line119.c - the 119 fire and rescue line adapter: the fire brigade's
 * alarm record (火警接警单) as JSON (gateways/README.md).
 *
 * The fire type (警情类型) decides the national event class, the type and a
 * base priority. Trapped persons or hazardous materials make it priority 1;
 * a crowded building (school, hospital, shopping centre, hotel, venue), a
 * high-rise (10 floors or more) or injured persons at least 2.
 */
#include "gw_line-int.h"
#include "srv_error.h"
#include "srv_util.h"

#include <stdlib.h>
#include <string.h>

static const struct gwl_enum fire_types[] = {
	{ "building", "建筑火灾", INC_CAT_ACCIDENT, "fire.building", 2 },
	{ "industrial", "工厂火灾", INC_CAT_ACCIDENT, "fire.industrial", 2 },
	{ "vehicle", "车辆火灾", INC_CAT_ACCIDENT, "fire.vehicle", 3 },
	{ "forest", "森林火灾", INC_CAT_NATURAL_DISASTER, "fire.forest", 2 },
	{ "hazmat", "危化品事故", INC_CAT_ACCIDENT, "hazmat", 1 },
	{ "rescue", "抢险救援", INC_CAT_ACCIDENT, "rescue", 2 },
	{ "water_rescue", "水域救援", INC_CAT_ACCIDENT, "rescue.water", 1 },
	{ "flood", "洪涝救援", INC_CAT_NATURAL_DISASTER, "rescue.flood", 2 },
	{ "other", "其他火警", INC_CAT_OTHER, "fire.other", 3 },
	{ NULL, NULL, 0, NULL, 0 },
};

/* priority here is a cap: crowded places are at least 2, the others change nothing. */
static const struct gwl_enum building_types[] = {
	{ "residential", "居民楼", 0, NULL, 4 },
	{ "office", "写字楼", 0, NULL, 4 },
	{ "commercial", "商场", 0, NULL, 2 },
	{ "hotel", "酒店", 0, NULL, 2 },
	{ "school", "学校", 0, NULL, 2 },
	{ "hospital", "医院", 0, NULL, 2 },
	{ "venue", "人员密集场所", 0, NULL, 2 },
	{ "factory", "厂房", 0, NULL, 4 },
	{ "warehouse", "仓库", 0, NULL, 4 },
	{ "other", "建筑", 0, NULL, 4 },
	{ NULL, NULL, 0, NULL, 0 },
};

static const struct gwl_field fields119[] = {
	{ "fire_type", GWL_ENUM, 1, 0, 0, fire_types, 1 },
	{ "building_type", GWL_ENUM, 0, 0, 0, building_types, 1 },
	{ "floors", GWL_INT, 0, 1, 200, NULL, 1 },
	{ "fire_floor", GWL_INT, 0, -10, 200, NULL, 1 },
	{ "trapped", GWL_INT, 0, 0, 100000, NULL, 1 },
	{ "injured", GWL_INT, 0, 0, 100000, NULL, 1 },
	{ "hazmat", GWL_LINE, 0, 0, 100, NULL, 1 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

#define HIGH_RISE_FLOORS 10

static int
map119(const struct gwl_doc *doc, struct incident *inc, char **cause)
{
	const struct gwl_enum *ft = gwl_enum(doc, "fire_type");
	const struct gwl_enum *bt = gwl_enum(doc, "building_type");
	int64_t floors = gwl_int(doc, "floors", 0), fire_floor = gwl_int(doc, "fire_floor", 0);
	int64_t trapped = gwl_int(doc, "trapped", 0);
	const char *hazmat = gwl_str(doc, "hazmat");
	if (floors > 0 && fire_floor > floors)
		return srv_fail(cause, SRV_E_BAD_FIELD, "fire_floor %lld is above floors %lld",
		    (long long)fire_floor, (long long)floors);
	int high_rise = floors >= HIGH_RISE_FLOORS;
	inc->category = ft->category;
	inc->type = xstrdup(ft->type);
	inc->priority = ft->priority;
	if (bt)
		inc->priority = gwl_at_most(inc->priority, bt->priority);
	if (high_rise || gwl_int(doc, "injured", 0) > 0)
		inc->priority = gwl_at_most(inc->priority, 2);
	if (trapped > 0 || hazmat)
		inc->priority = 1;
	if (inc->title == NULL) {
		/* "高层居民楼火灾，3人被困，涉及危化品（液化石油气）" */
		char *what = strcmp(ft->code, "building") == 0 ?
		    xasprintf("%s%s火灾", high_rise ? "高层" : "", bt ? bt->zh : "建筑") :
		    xstrdup(ft->zh);
		char *more = trapped > 0 ? xasprintf("，%lld人被困", (long long)trapped) : xstrdup("");
		char *chem = hazmat ? xasprintf("，涉及危化品（%s）", hazmat) : xstrdup("");
		char *full = xasprintf("%s%s%s", what, more, chem);
		free(what);
		free(more);
		free(chem);
		inc->title = gwl_clip(full, 60);
		free(full);
	}
	return 0;
}

const struct gwl_line gwl_form119 = {
	.line = INC_LINE_119,
	.kind = "119.jjd",
	.adapter = "line119",
	.what = "119 fire report (火警接警单)",
	.fields = fields119,
	.map = map119,
};

static int
parse119(const struct gw_host *host, const char *body, size_t len, struct gw_report *out,
    char **cause)
{
	return gwl_parse(&gwl_form119, host, body, len, out, cause);
}

static const char *const types119[] = { "application/json", NULL };

const struct gw_adapter gw_line119 = {
	.api_version = GW_API_VERSION,
	.name = "line119",
	.summary = "119 fire and rescue line: the 火警接警单 (alarm record) as JSON",
	.content_types = types119,
	.line = INC_LINE_119,
	.parse = parse119,
};
