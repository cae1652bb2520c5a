/*
 * gw_line122.c - the 122 traffic accident line adapter: the traffic police
 * accident report (交通事故接警单) as JSON (gateways/README.md).
 *
 * Every 122 report is an accident (事故灾难). The accident type (事故形态)
 * gives the type and a base priority (3 for property damage, 4 for a
 * breakdown or an obstruction); injured persons make it at least 2; deaths, trapped
 * persons, three or more injured or a hazardous load (危险货物) make it 1,
 * and a hazardous load also makes the type "traffic.hazmat".
 */
#include "gw_line-int.h"
#include "srv_util.h"

#include <stdlib.h>

static const struct gwl_enum accident_types[] = {
	{ "rear_end", "追尾", INC_CAT_ACCIDENT, "traffic.rear_end", 3 },
	{ "collision", "碰撞", INC_CAT_ACCIDENT, "traffic.collision", 3 },
	{ "scrape", "刮擦", INC_CAT_ACCIDENT, "traffic.scrape", 3 },
	{ "rollover", "侧翻", INC_CAT_ACCIDENT, "traffic.rollover", 2 },
	{ "pedestrian", "撞行人", INC_CAT_ACCIDENT, "traffic.pedestrian", 2 },
	{ "single_vehicle", "单车事故", INC_CAT_ACCIDENT, "traffic.single_vehicle", 3 },
	{ "vehicle_fire", "车辆起火", INC_CAT_ACCIDENT, "traffic.fire", 2 },
	{ "breakdown", "车辆故障", INC_CAT_ACCIDENT, "traffic.breakdown", 4 },
	{ "obstruction", "路面障碍", INC_CAT_ACCIDENT, "traffic.obstruction", 4 },
	{ "other", "交通事故", INC_CAT_ACCIDENT, "traffic.other", 3 },
	{ NULL, NULL, 0, NULL, 0 },
};

static const struct gwl_field fields122[] = {
	{ "accident_type", GWL_ENUM, 1, 0, 0, accident_types, 1 },
	{ "road", GWL_LINE, 1, 0, 100, NULL, 1 },
	{ "direction", GWL_LINE, 0, 0, 50, NULL, 1 },
	{ "km_post", GWL_KMPOST, 0, 0, 0, NULL, 1 },
	{ "vehicles", GWL_INT, 0, 0, 1000, NULL, 1 },
	{ "plates", GWL_LIST, 0, 0, 20, NULL, 1 },
	{ "injured", GWL_INT, 0, 0, 100000, NULL, 1 },
	{ "deaths", GWL_INT, 0, 0, 100000, NULL, 1 },
	{ "trapped", GWL_INT, 0, 0, 100000, NULL, 1 },
	{ "hazardous_load", GWL_LINE, 0, 0, 100, NULL, 1 },
	{ "lanes_blocked", GWL_INT, 0, 0, 20, NULL, 1 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

static int
map122(const struct gwl_doc *doc, struct incident *inc, char **cause)
{
	const struct gwl_enum *at = gwl_enum(doc, "accident_type");
	int64_t vehicles = gwl_int(doc, "vehicles", 0), injured = gwl_int(doc, "injured", 0);
	int64_t deaths = gwl_int(doc, "deaths", 0), trapped = gwl_int(doc, "trapped", 0);
	const char *load = gwl_str(doc, "hazardous_load");
	inc->category = at->category;
	inc->type = xstrdup(load ? "traffic.hazmat" : at->type);
	inc->priority = at->priority;
	if (injured > 0)
		inc->priority = gwl_at_most(inc->priority, 2);
	if (injured >= 3 || deaths > 0 || trapped > 0 || load)
		inc->priority = 1;
	if (inc->title == NULL) {
		/* "广州大道中3车追尾，1人受伤" */
		char *n = vehicles >= 2 ? xasprintf("%lld车", (long long)vehicles) : xstrdup("");
		char *hurt = injured > 0 ? xasprintf("，%lld人受伤", (long long)injured) : xstrdup("");
		char *dead = deaths > 0 ? xasprintf("，%lld人死亡", (long long)deaths) : xstrdup("");
		char *trap = trapped > 0 ? xasprintf("，%lld人被困", (long long)trapped) : xstrdup("");
		char *haz = load ? xasprintf("，危险货物：%s", load) : xstrdup("");
		char *full = xasprintf("%s%s%s%s%s%s%s", gwl_str(doc, "road"), n, at->zh, hurt, dead,
		    trap, haz);
		inc->title = gwl_clip(full, 60);
		free(n);
		free(hurt);
		free(dead);
		free(trap);
		free(haz);
		free(full);
	}
	return 0;
}

const struct gwl_line gwl_form122 = {
	.line = INC_LINE_122,
	.kind = "122.jjd",
	.adapter = "line122",
	.what = "122 traffic accident report (交通事故接警单)",
	.fields = fields122,
	.map = map122,
};

static int
parse122(const struct gw_host *host, const char *body, size_t len, struct gw_report *out,
    char **cause)
{
	return gwl_parse(&gwl_form122, host, body, len, out, cause);
}

static const char *const types122[] = { "application/json", NULL };

const struct gw_adapter gw_line122 = {
	.api_version = GW_API_VERSION,
	.name = "line122",
	.summary = "122 traffic accident line: the 交通事故接警单 as JSON",
	.content_types = types122,
	.line = INC_LINE_122,
	.parse = parse122,
};
