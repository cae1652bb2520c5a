/*
 * gw_line120.c - the 120 ambulance line adapter: the emergency medical
 * dispatch record (急救受理单) as JSON (gateways/README.md).
 *
 * The acuity (病情分级, I 濒危 .. IV 非急症) is the priority. Cardiac arrest
 * or a patient not breathing make it 1, an unconscious patient at least 2,
 * three patients or more one step more urgent and ten or more 1. The
 * complaint category (主诉分类) gives the type and the class: injuries are
 * accidents (事故灾难), everything else public health (公共卫生事件).
 */
#include "gw_line-int.h"
#include "srv_util.h"

#include <stdlib.h>
#include <string.h>

static const struct gwl_enum complaint_categories[] = {
	{ "cardiac_arrest", "心脏骤停", INC_CAT_PUBLIC_HEALTH, "medical.cardiac_arrest", 1 },
	{ "chest_pain", "胸痛", INC_CAT_PUBLIC_HEALTH, "medical.chest_pain", 4 },
	{ "stroke", "疑似卒中", INC_CAT_PUBLIC_HEALTH, "medical.stroke", 4 },
	{ "breathing", "呼吸困难", INC_CAT_PUBLIC_HEALTH, "medical.breathing", 4 },
	{ "unconscious", "意识不清", INC_CAT_PUBLIC_HEALTH, "medical.unconscious", 4 },
	{ "poisoning", "中毒", INC_CAT_PUBLIC_HEALTH, "medical.poisoning", 4 },
	{ "obstetric", "分娩/产科急症", INC_CAT_PUBLIC_HEALTH, "medical.obstetric", 4 },
	{ "fever", "发热", INC_CAT_PUBLIC_HEALTH, "medical.fever", 4 },
	{ "psychiatric", "精神行为异常", INC_CAT_PUBLIC_HEALTH, "medical.psychiatric", 4 },
	{ "illness", "急病", INC_CAT_PUBLIC_HEALTH, "medical.illness", 4 },
	{ "trauma", "外伤", INC_CAT_ACCIDENT, "medical.trauma", 4 },
	{ "traffic_injury", "交通伤", INC_CAT_ACCIDENT, "medical.traffic", 4 },
	{ "burn", "烧烫伤", INC_CAT_ACCIDENT, "medical.burn", 4 },
	{ "other", "其他", INC_CAT_PUBLIC_HEALTH, "medical.other", 4 },
	{ NULL, NULL, 0, NULL, 0 },
};

static const struct gwl_enum sexes[] = {
	{ "male", "男性", 0, NULL, 4 },
	{ "female", "女性", 0, NULL, 4 },
	{ "unknown", "性别不详", 0, NULL, 4 },
	{ NULL, NULL, 0, NULL, 0 },
};

static const struct gwl_field fields120[] = {
	{ "complaint_category", GWL_ENUM, 1, 0, 0, complaint_categories, 1 },
	{ "chief_complaint", GWL_LINE, 1, 0, 200, NULL, 1 },
	{ "acuity", GWL_INT, 1, 1, 4, NULL, 1 },
	{ "patients", GWL_INT, 0, 1, 10000, NULL, 1 },
	{ "age", GWL_INT, 0, 0, 130, NULL, 1 },
	{ "sex", GWL_ENUM, 0, 0, 0, sexes, 1 },
	{ "conscious", GWL_BOOL, 0, 0, 0, NULL, 1 },
	{ "breathing", GWL_BOOL, 0, 0, 0, NULL, 1 },
	{ "meeting_point", GWL_LINE, 0, 0, 200, NULL, 1 },
	{ NULL, 0, 0, 0, 0, NULL, 0 },
};

#define MULTI_PATIENTS 3
#define MASS_CASUALTY 10

static int
map120(const struct gwl_doc *doc, struct incident *inc, char **cause)
{
	const struct gwl_enum *cc = gwl_enum(doc, "complaint_category");
	const struct gwl_enum *sex = gwl_enum(doc, "sex");
	int64_t patients = gwl_int(doc, "patients", 1), age = gwl_int(doc, "age", -1);
	inc->category = cc->category;
	inc->type = xstrdup(cc->type);
	inc->priority = gwl_at_most((int)gwl_int(doc, "acuity", 3), cc->priority);
	if (gwl_bool(doc, "breathing") == 0)
		inc->priority = 1;
	if (gwl_bool(doc, "conscious") == 0)
		inc->priority = gwl_at_most(inc->priority, 2);
	if (patients >= MASS_CASUALTY)
		inc->priority = 1;
	else if (patients >= MULTI_PATIENTS)
		inc->priority = gwl_raise(inc->priority);
	if (inc->title == NULL) {
		/* "72岁男性，胸痛2小时伴大汗" or "中毒，5名患者" */
		char *full;
		const char *cc_text = gwl_str(doc, "chief_complaint");
		if (patients > 1)
			full = xasprintf("%s，%lld名患者", cc->zh, (long long)patients);
		else if (age >= 0)
			full = xasprintf("%lld岁%s，%s", (long long)age,
			    sex && strcmp(sex->code, "unknown") != 0 ? sex->zh : "患者", cc_text);
		else
			full = xstrdup(cc_text);
		inc->title = gwl_clip(full, 40);
		free(full);
	}
	return 0;
}

const struct gwl_line gwl_form120 = {
	.line = INC_LINE_120,
	.kind = "120.jjd",
	.adapter = "line120",
	.what = "120 ambulance report (急救受理单)",
	.fields = fields120,
	.map = map120,
};

static int
parse120(const struct gw_host *host, const char *body, size_t len, struct gw_report *out,
    char **cause)
{
	return gwl_parse(&gwl_form120, host, body, len, out, cause);
}

static const char *const types120[] = { "application/json", NULL };

const struct gw_adapter gw_line120 = {
	.api_version = GW_API_VERSION,
	.name = "line120",
	.summary = "120 ambulance line: the 急救受理单 (dispatch record) as JSON",
	.content_types = types120,
	.line = INC_LINE_120,
	.parse = parse120,
};
