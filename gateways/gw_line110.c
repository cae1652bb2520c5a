/*
 * gw_line110.c - the 110 police line adapter: the 接警单 (call-taking form)
 * of a public security command centre, as JSON (gateways/README.md).
 *
 * The case category (警情类别) decides the national event class, the type
 * and a base priority; a case in progress, weapons or injured persons make
 * it more urgent. The summary (简要案情) is required: a 110 form always has
 * one, and the default title is built from it.
 */
#include "gw_line-int.h"
#include "srv_util.h"

#include <stdlib.h>

static const struct gwl_enum case_categories[] = {
	{ "criminal", "刑事案件", INC_CAT_SOCIAL_SECURITY, "crime", 2 },
	{ "public_order", "治安案件", INC_CAT_SOCIAL_SECURITY, "public_order", 3 },
	{ "dispute", "纠纷", INC_CAT_SOCIAL_SECURITY, "public_order.dispute", 3 },
	{ "missing_person", "人员走失", INC_CAT_SOCIAL_SECURITY, "missing_person", 2 },
	{ "mass_incident", "群体性事件", INC_CAT_SOCIAL_SECURITY, "mass_incident", 1 },
	{ "terrorism", "涉恐警情", INC_CAT_SOCIAL_SECURITY, "terrorism", 1 },
	{ "traffic", "交通警情", INC_CAT_ACCIDENT, "traffic", 3 },
	{ "fire", "火灾", INC_CAT_ACCIDENT, "fire", 2 },
	{ "disaster", "灾害事故", INC_CAT_NATURAL_DISASTER, "disaster", 2 },
	{ "assistance", "群众求助", INC_CAT_OTHER, "assistance", 3 },
	{ "other", "其他警情", INC_CAT_OTHER, "other", 4 },
	{ NULL, NULL, 0, NULL, 0 },
};

static const struct gwl_field fields110[] = {
	{ "case_category", GWL_ENUM, 1, 0, 0, case_categories, 1 },
	{ "case_subtype", GWL_CODE, 0, 0, 32, NULL, 1 },
	{ "in_progress", GWL_BOOL, 0, 0, 0, NULL, 1 },
	{ "weapons", GWL_BOOL, 0, 0, 0, NULL, 1 },
	{ "injured", GWL_INT, 0, 0, 100000, NULL, 1 },
	{ "unit", GWL_LINE, 0, 0, 100, NULL, 1 },
	{ "operator_id", GWL_LINE, 0, 0, 32, NULL, 1 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

/*
 * Priority: the category's base; in progress (正在发生) one step more
 * urgent; injured persons at least 2; weapons (涉枪涉爆/持械) 1.
 */
static int
map110(const struct gwl_doc *doc, struct incident *inc, char **cause)
{
	const struct gwl_enum *cat = gwl_enum(doc, "case_category");
	const char *sub = gwl_str(doc, "case_subtype");
	int in_progress = gwl_bool(doc, "in_progress") == 1;
	inc->category = cat->category;
	inc->type = sub ? xasprintf("%s.%s", cat->type, sub) : xstrdup(cat->type);
	inc->priority = cat->priority;
	if (in_progress)
		inc->priority = gwl_raise(inc->priority);
	if (gwl_int(doc, "injured", 0) > 0)
		inc->priority = gwl_at_most(inc->priority, 2);
	if (gwl_bool(doc, "weapons") == 1)
		inc->priority = 1;
	if (inc->title == NULL) {
		char *what = gwl_clip(gwl_str(doc, "summary"), 40);
		inc->title = xasprintf("%s%s：%s", cat->zh, in_progress ? "（正在发生）" : "", what);
		free(what);
	}
	return 0;
}

const struct gwl_line gwl_form110 = {
	.line = INC_LINE_110,
	.kind = "110.jjd",
	.adapter = "line110",
	.what = "110 police report (接警单)",
	.summary_required = 1,
	.fields = fields110,
	.map = map110,
};

static int
parse110(const struct gw_host *host, const char *body, size_t len, struct gw_report *out,
    char **cause)
{
	return gwl_parse(&gwl_form110, host, body, len, out, cause);
}

static const char *const types110[] = { "application/json", NULL };

const struct gw_adapter gw_line110 = {
	.api_version = GW_API_VERSION,
	.name = "line110",
	.summary = "110 police line: the 接警单 (call-taking form) as JSON",
	.content_types = types110,
	.line = INC_LINE_110,
	.parse = parse110,
};
