/*
 * Unit tests for the line adapters (110, 119, 120, 122): each line's example
 * payload (the one in gateways/README.md), each mapping rule, and each kind
 * of bad input, which must be refused with its code, a cause naming the
 * field, and nothing left in the report.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_adapter.h"
#include "srv_error.h"
#include "srv_util.h"

/* The examples of gateways/README.md (also the fuzz seeds tests/fuzz/corpus/lineNNN/example.json). */
static const char ex110[] =
    "{\"kind\":\"110.jjd\",\"case_no\":\"GZ110-20261124-000123\",\"version\":0,"
    "\"report_time\":\"2026-11-24T08:30:15+08:00\",\"caller_name\":\"李先生\","
    "\"caller_phone\":\"13800138000\",\"address\":\"海珠区江南西路江南新地商场二楼\","
    "\"lon\":113.2701,\"lat\":23.0967,\"case_category\":\"criminal\",\"case_subtype\":\"theft\","
    "\"in_progress\":false,\"summary\":\"报警人称在商场二楼被扒窃手机一部，嫌疑人已离开。\","
    "\"unit\":\"海珠区公安分局江南中派出所\",\"operator_id\":\"J0427\"}";
static const char ex119[] =
    "{\"kind\":\"119.jjd\",\"case_no\":\"GZ119-20261124-0456\","
    "\"report_time\":\"2026-11-24T21:05:00+08:00\",\"caller_phone\":\"020-83001234\","
    "\"address\":\"天河区天河路385号\",\"lon\":113.3245,\"lat\":23.1372,"
    "\"fire_type\":\"building\",\"building_type\":\"residential\",\"floors\":18,"
    "\"fire_floor\":6,\"trapped\":3,\"summary\":\"六楼住户厨房起火，浓烟进入楼道，约3人被困。\"}";
static const char ex120[] =
    "{\"kind\":\"120.jjd\",\"case_no\":\"GZ120-20261124-1789\","
    "\"report_time\":\"2026-11-24T07:42:10+08:00\",\"caller_name\":\"王女士\","
    "\"caller_phone\":\"13912345678\",\"address\":\"越秀区北京路步行街\",\"lon\":113.2697,"
    "\"lat\":23.1257,\"meeting_point\":\"北京路与西湖路交叉口\","
    "\"complaint_category\":\"chest_pain\",\"chief_complaint\":\"胸痛2小时伴大汗\","
    "\"acuity\":2,\"patients\":1,\"age\":72,\"sex\":\"male\",\"conscious\":true,"
    "\"breathing\":true,\"summary\":\"老人晨练后突发胸痛，家属在场。\"}";
static const char ex122[] =
    "{\"kind\":\"122.jjd\",\"case_no\":\"GZ122-20261124-0311\",\"version\":2,"
    "\"report_time\":\"2026-11-24T18:12:00+08:00\",\"caller_phone\":\"13600001111\","
    "\"address\":\"天河区广州大道中\",\"lon\":113.327,\"lat\":23.132,\"road\":\"广州大道中\","
    "\"direction\":\"北往南\",\"accident_type\":\"rear_end\",\"vehicles\":3,"
    "\"plates\":[\"粤A12345\",\"粤A6B789\",\"粤AD01234\"],\"injured\":1,\"lanes_blocked\":2,"
    "\"summary\":\"三车追尾，一名司机腿部受伤，占用两条车道。\"}";

/* 2027-01-15T08:00:00Z: after every example, so none is "in the future". */
static int64_t
fixed_now(void)
{
	return 1800000000LL * 1000000;
}

static const struct gw_host host = { .api_version = GW_API_VERSION, .now_us = fixed_now };

static const struct gw_adapter *
adapter(const char *name)
{
	const struct gw_adapter *a = gw_registry_find(gw_builtin, name);
	if (a == NULL)
		fail_msg("adapter %s is not registered", name);
	return a;
}

/*
 * Parse base with the members of set (a JSON object text, may be NULL)
 * merged in and the member del (may be NULL) removed.
 */
static int
parse_with(const char *name, const char *base, const char *set, const char *del,
    struct gw_report *rep, char **cause)
{
	json_t *o = json_loads(base, 0, NULL);
	assert_non_null(o);
	if (set) {
		json_t *s = json_loads(set, 0, NULL);
		if (s == NULL)
			fail_msg("bad test JSON %s", set);
		json_object_update(o, s);
		json_decref(s);
	}
	if (del)
		json_object_del(o, del);
	char *body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(*cause);
	*cause = NULL;
	int rc = adapter(name)->parse(&host, body, strlen(body), rep, cause);
	free(body);
	return rc;
}

/* Parse, expect success and a valid GW_REPORT; returns the report (caller clears). */
static struct gw_report
ok(const char *name, const char *base, const char *set, const char *del)
{
	struct gw_report rep;
	char *cause = NULL;
	int rc = parse_with(name, base, set, del, &rep, &cause);
	if (rc != 0)
		fail_msg("%s refused %s: %s (%s)", name, set ? set : "the example", srv_err_code(rc),
		    cause ? cause : "no cause");
	assert_int_equal(inc_validate(&rep.inc, NULL), 0);
	assert_int_equal(rep.action, GW_REPORT);
	assert_non_null(rep.inc.ext_ref);
	assert_int_equal(rep.inc.status, INC_ST_NEW);
	return rep;
}

/* Parse, expect refusal with code err and a cause containing needle, and a clear report. */
static void
refused(const char *name, const char *base, const char *set, const char *del, int err,
    const char *needle)
{
	struct gw_report rep, zero;
	char *cause = NULL;
	memset(&zero, 0, sizeof zero);
	int rc = parse_with(name, base, set, del, &rep, &cause);
	if (rc != err)
		fail_msg("%s with set=%s del=%s: expected %s, got %s (%s)", name, set ? set : "-",
		    del ? del : "-", srv_err_code(err), rc ? srv_err_code(rc) : "success",
		    cause ? cause : "no cause");
	if (cause == NULL || strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause ? cause : "(none)", needle);
	assert_memory_equal(&rep, &zero, sizeof rep); /* nothing left behind */
	free(cause);
}

static void
refused_body(const char *name, const char *body, int err, const char *needle)
{
	struct gw_report rep, zero;
	char *cause = NULL;
	memset(&zero, 0, sizeof zero);
	int rc = adapter(name)->parse(&host, body, strlen(body), &rep, &cause);
	if (rc != err)
		fail_msg("%s on %s: expected %s, got %s (%s)", name, body, srv_err_code(err),
		    rc ? srv_err_code(rc) : "success", cause ? cause : "no cause");
	if (cause == NULL || strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause ? cause : "(none)", needle);
	assert_memory_equal(&rep, &zero, sizeof rep);
	free(cause);
}

static int
priority_of(const char *name, const char *base, const char *set)
{
	struct gw_report rep = ok(name, base, set, NULL);
	int p = rep.inc.priority;
	gw_report_clear(&rep);
	return p;
}

/* --- registry ------------------------------------------------------------- */

static void
lines_are_registered(void **state)
{
	static const struct {
		const char *name;
		enum inc_line line;
	} want[] = { { "line110", INC_LINE_110 }, { "line119", INC_LINE_119 },
		{ "line120", INC_LINE_120 }, { "line122", INC_LINE_122 } };
	char *cause = NULL;
	assert_int_equal(gw_registry_check(gw_builtin, &cause), 0);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct gw_adapter *a = adapter(want[i].name);
		assert_int_equal(a->api_version, GW_API_VERSION);
		assert_int_equal(a->line, want[i].line);
		assert_non_null(a->summary);
		assert_string_equal(a->content_types[0], "application/json");
		/* Wrong content type: the core asks gw_accepts before parse. */
		assert_true(gw_accepts(a, "application/json; charset=utf-8"));
		assert_false(gw_accepts(a, "application/xml"));
		assert_false(gw_accepts(a, "text/plain"));
		assert_false(gw_accepts(a, "application/x-www-form-urlencoded"));
	}
}

/* --- the examples ----------------------------------------------------------- */

static void
example110(void **state)
{
	struct gw_report rep = ok("line110", ex110, NULL, NULL);
	struct incident *inc = &rep.inc;
	int64_t t;
	assert_int_equal(inc->line, INC_LINE_110);
	assert_string_equal(inc->ext_ref, "GZ110-20261124-000123");
	assert_int_equal(rep.version, 0);
	assert_int_equal(srv_parse_time("2026-11-24T00:30:15Z", &t), 0);
	assert_int_equal(inc->reported_at, t);
	assert_int_equal(inc->category, INC_CAT_SOCIAL_SECURITY);
	assert_string_equal(inc->type, "crime.theft");
	assert_int_equal(inc->priority, 2);
	assert_string_equal(inc->title, "刑事案件：报警人称在商场二楼被扒窃手机一部，嫌疑人已离开。");
	assert_string_equal(inc->description, "报警人称在商场二楼被扒窃手机一部，嫌疑人已离开。");
	assert_string_equal(inc->address, "海珠区江南西路江南新地商场二楼");
	assert_true(inc->has_position);
	assert_true(inc->lon == 113.2701 && inc->lat == 23.0967);
	assert_string_equal(inc->details,
	    "{\"caller_name\":\"李先生\",\"caller_phone\":\"13800138000\",\"case_category\":"
	    "\"criminal\",\"case_subtype\":\"theft\",\"in_progress\":false,\"operator_id\":\"J0427\","
	    "\"unit\":\"海珠区公安分局江南中派出所\"}");
	gw_report_clear(&rep);
}

static void
example119(void **state)
{
	struct gw_report rep = ok("line119", ex119, NULL, NULL);
	struct incident *inc = &rep.inc;
	assert_int_equal(inc->line, INC_LINE_119);
	assert_string_equal(inc->ext_ref, "GZ119-20261124-0456");
	assert_int_equal(inc->category, INC_CAT_ACCIDENT);
	assert_string_equal(inc->type, "fire.building");
	assert_int_equal(inc->priority, 1);
	assert_string_equal(inc->title, "高层居民楼火灾，3人被困");
	assert_string_equal(inc->details,
	    "{\"building_type\":\"residential\",\"caller_phone\":\"020-83001234\",\"fire_floor\":6,"
	    "\"fire_type\":\"building\",\"floors\":18,\"trapped\":3}");
	gw_report_clear(&rep);
}

static void
example120(void **state)
{
	struct gw_report rep = ok("line120", ex120, NULL, NULL);
	struct incident *inc = &rep.inc;
	assert_int_equal(inc->line, INC_LINE_120);
	assert_string_equal(inc->ext_ref, "GZ120-20261124-1789");
	assert_int_equal(inc->category, INC_CAT_PUBLIC_HEALTH);
	assert_string_equal(inc->type, "medical.chest_pain");
	assert_int_equal(inc->priority, 2);
	assert_string_equal(inc->title, "72岁男性，胸痛2小时伴大汗");
	assert_string_equal(inc->address, "越秀区北京路步行街");
	assert_string_equal(inc->details,
	    "{\"acuity\":2,\"age\":72,\"breathing\":true,\"caller_name\":\"王女士\","
	    "\"caller_phone\":\"13912345678\",\"chief_complaint\":\"胸痛2小时伴大汗\","
	    "\"complaint_category\":\"chest_pain\",\"conscious\":true,"
	    "\"meeting_point\":\"北京路与西湖路交叉口\",\"patients\":1,\"sex\":\"male\"}");
	gw_report_clear(&rep);
}

static void
example122(void **state)
{
	struct gw_report rep = ok("line122", ex122, NULL, NULL);
	struct incident *inc = &rep.inc;
	assert_int_equal(inc->line, INC_LINE_122);
	assert_string_equal(inc->ext_ref, "GZ122-20261124-0311");
	assert_int_equal(rep.version, 2);
	assert_int_equal(inc->category, INC_CAT_ACCIDENT);
	assert_string_equal(inc->type, "traffic.rear_end");
	assert_int_equal(inc->priority, 2);
	assert_string_equal(inc->title, "广州大道中3车追尾，1人受伤");
	assert_string_equal(inc->details,
	    "{\"accident_type\":\"rear_end\",\"caller_phone\":\"13600001111\",\"direction\":"
	    "\"北往南\",\"injured\":1,\"lanes_blocked\":2,\"plates\":[\"粤A12345\",\"粤A6B789\","
	    "\"粤AD01234\"],\"road\":\"广州大道中\",\"vehicles\":3}");
	gw_report_clear(&rep);
}

/* --- common fields ------------------------------------------------------------ */

static void
common_fields(void **state)
{
	struct gw_report rep;
	/* A given title wins over the built one; version is passed on. */
	rep = ok("line119", ex119, "{\"title\":\"天河路火警\",\"version\":7}", NULL);
	assert_string_equal(rep.inc.title, "天河路火警");
	assert_int_equal(rep.version, 7);
	gw_report_clear(&rep);
	/* Place: an address alone, or a position alone, is enough. */
	rep = ok("line120", ex120, "{\"lon\":null,\"lat\":null}", NULL);
	assert_false(rep.inc.has_position);
	assert_non_null(rep.inc.address);
	gw_report_clear(&rep);
	rep = ok("line120", ex120, "{\"address\":\"\"}", NULL);
	assert_true(rep.inc.has_position);
	assert_null(rep.inc.address);
	gw_report_clear(&rep);
	/* Null and "" mean "not given" for optional fields. */
	rep = ok("line110", ex110, "{\"caller_name\":null,\"unit\":\"\",\"case_subtype\":null}", NULL);
	assert_string_equal(rep.inc.type, "crime");
	assert_null(strstr(rep.inc.details, "caller_name"));
	assert_null(strstr(rep.inc.details, "unit"));
	gw_report_clear(&rep);
	/* No summary is fine on 119: no description. */
	rep = ok("line119", ex119, NULL, "summary");
	assert_null(rep.inc.description);
	gw_report_clear(&rep);
	/* Report times in other zones and with fractions. */
	rep = ok("line122", ex122, "{\"report_time\":\"2026-11-24T10:12:00.250Z\"}", NULL);
	int64_t t;
	assert_int_equal(srv_parse_time("2026-11-24T18:12:00.25+08:00", &t), 0);
	assert_int_equal(rep.inc.reported_at, t);
	gw_report_clear(&rep);
	/* The same document twice is the same report: same reference. */
	struct gw_report a = ok("line110", ex110, NULL, NULL), b = ok("line110", ex110, NULL, NULL);
	assert_string_equal(a.inc.ext_ref, b.inc.ext_ref);
	assert_int_equal(a.version, b.version);
	gw_report_clear(&a);
	gw_report_clear(&b);
}

/* --- mapping rules ------------------------------------------------------------ */

static void
rules110(void **state)
{
	static const struct {
		const char *code;
		enum inc_category cat;
		const char *type;
		int priority;
	} cats[] = {
		{ "criminal", INC_CAT_SOCIAL_SECURITY, "crime", 2 },
		{ "public_order", INC_CAT_SOCIAL_SECURITY, "public_order", 3 },
		{ "dispute", INC_CAT_SOCIAL_SECURITY, "public_order.dispute", 3 },
		{ "missing_person", INC_CAT_SOCIAL_SECURITY, "missing_person", 2 },
		{ "mass_incident", INC_CAT_SOCIAL_SECURITY, "mass_incident", 1 },
		{ "terrorism", INC_CAT_SOCIAL_SECURITY, "terrorism", 1 },
		{ "traffic", INC_CAT_ACCIDENT, "traffic", 3 },
		{ "fire", INC_CAT_ACCIDENT, "fire", 2 },
		{ "disaster", INC_CAT_NATURAL_DISASTER, "disaster", 2 },
		{ "assistance", INC_CAT_OTHER, "assistance", 3 },
		{ "other", INC_CAT_OTHER, "other", 4 },
	};
	for (size_t i = 0; i < sizeof cats / sizeof cats[0]; i++) {
		char set[128];
		snprintf(set, sizeof set, "{\"case_category\":\"%s\"}", cats[i].code);
		struct gw_report rep = ok("line110", ex110, set, "case_subtype");
		assert_int_equal(rep.inc.category, cats[i].cat);
		assert_string_equal(rep.inc.type, cats[i].type);
		assert_int_equal(rep.inc.priority, cats[i].priority);
		gw_report_clear(&rep);
	}
	/* In progress: one step more urgent; injured: at least 2; weapons: 1. */
	assert_int_equal(priority_of("line110", ex110, "{\"case_category\":\"dispute\",\"in_progress\":true}"), 2);
	assert_int_equal(priority_of("line110", ex110, "{\"case_category\":\"other\",\"injured\":1}"), 2);
	assert_int_equal(priority_of("line110", ex110, "{\"case_category\":\"dispute\",\"weapons\":true}"), 1);
	assert_int_equal(priority_of("line110", ex110, "{\"case_category\":\"dispute\",\"weapons\":false}"), 3);
	assert_int_equal(priority_of("line110", ex110, "{\"case_category\":\"terrorism\",\"in_progress\":true}"), 1);
	/* Title: category, in-progress mark, the summary cut to 40 characters. */
	struct gw_report rep = ok("line110", ex110,
	    "{\"in_progress\":true,\"summary\":\"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十多出来的字\"}",
	    NULL);
	assert_string_equal(rep.inc.title,
	    "刑事案件（正在发生）：一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四五六七八九…");
	gw_report_clear(&rep);
}

static void
rules119(void **state)
{
	struct gw_report rep;
	/* Building fire without trapped persons: base 2; a low residential building stays 2. */
	rep = ok("line119", ex119, "{\"trapped\":0,\"floors\":6}", NULL);
	assert_int_equal(rep.inc.priority, 2);
	assert_string_equal(rep.inc.title, "居民楼火灾");
	gw_report_clear(&rep);
	/* Hazardous materials: 1, named in the title. */
	rep = ok("line119", ex119,
	    "{\"trapped\":0,\"fire_type\":\"industrial\",\"building_type\":\"factory\",\"floors\":2,"
	    "\"fire_floor\":1,\"hazmat\":\"液化石油气\"}",
	    NULL);
	assert_int_equal(rep.inc.priority, 1);
	assert_string_equal(rep.inc.type, "fire.industrial");
	assert_string_equal(rep.inc.title, "工厂火灾，涉及危化品（液化石油气）");
	gw_report_clear(&rep);
	/* Vehicle fire: 3; with an injured person: 2. */
	rep = ok("line119", ex119,
	    "{\"trapped\":0,\"fire_type\":\"vehicle\",\"floors\":null,\"fire_floor\":null}",
	    "building_type");
	assert_int_equal(rep.inc.priority, 3);
	assert_string_equal(rep.inc.type, "fire.vehicle");
	assert_string_equal(rep.inc.title, "车辆火灾");
	gw_report_clear(&rep);
	assert_int_equal(priority_of("line119", ex119,
	    "{\"trapped\":0,\"fire_type\":\"vehicle\",\"floors\":2,\"fire_floor\":1,\"injured\":1}"), 2);
	/* A crowded place: at least 2, even for a small fire type. */
	assert_int_equal(priority_of("line119", ex119,
	    "{\"trapped\":0,\"fire_type\":\"other\",\"building_type\":\"school\",\"floors\":3,\"fire_floor\":1}"), 2);
	assert_int_equal(priority_of("line119", ex119,
	    "{\"trapped\":0,\"fire_type\":\"other\",\"building_type\":\"warehouse\",\"floors\":3,\"fire_floor\":1}"), 3);
	/* High-rise (10 floors or more): at least 2. */
	assert_int_equal(priority_of("line119", ex119,
	    "{\"trapped\":0,\"fire_type\":\"other\",\"floors\":10,\"fire_floor\":9}"), 2);
	/* Classes: forest and flood are natural disasters; hazmat and water rescue 1. */
	rep = ok("line119", ex119, "{\"trapped\":0,\"fire_type\":\"forest\"}", "building_type");
	assert_int_equal(rep.inc.category, INC_CAT_NATURAL_DISASTER);
	assert_string_equal(rep.inc.type, "fire.forest");
	gw_report_clear(&rep);
	rep = ok("line119", ex119, "{\"trapped\":0,\"fire_type\":\"flood\",\"floors\":null,\"fire_floor\":null}", "building_type");
	assert_int_equal(rep.inc.category, INC_CAT_NATURAL_DISASTER);
	assert_string_equal(rep.inc.type, "rescue.flood");
	assert_int_equal(rep.inc.priority, 2);
	gw_report_clear(&rep);
	assert_int_equal(priority_of("line119", ex119, "{\"trapped\":0,\"fire_type\":\"water_rescue\"}"), 1);
	assert_int_equal(priority_of("line119", ex119, "{\"trapped\":0,\"fire_type\":\"hazmat\"}"), 1);
	/* Basement fires are negative floors; a fire above the top floor is refused. */
	rep = ok("line119", ex119, "{\"fire_floor\":-2}", NULL);
	gw_report_clear(&rep);
	refused("line119", ex119, "{\"fire_floor\":19}", NULL, SRV_E_BAD_FIELD, "fire_floor");
}

static void
rules120(void **state)
{
	struct gw_report rep;
	/* Acuity is the priority. */
	for (int a = 1; a <= 4; a++) {
		char set[64];
		snprintf(set, sizeof set, "{\"acuity\":%d}", a);
		assert_int_equal(priority_of("line120", ex120, set), a);
	}
	/* Cardiac arrest or not breathing: 1; unconscious: at least 2. */
	assert_int_equal(priority_of("line120", ex120, "{\"acuity\":3,\"complaint_category\":\"cardiac_arrest\"}"), 1);
	assert_int_equal(priority_of("line120", ex120, "{\"acuity\":3,\"breathing\":false}"), 1);
	assert_int_equal(priority_of("line120", ex120, "{\"acuity\":4,\"conscious\":false}"), 2);
	/* Three patients or more: one step more urgent; ten or more: 1. */
	assert_int_equal(priority_of("line120", ex120, "{\"acuity\":3,\"patients\":3}"), 2);
	assert_int_equal(priority_of("line120", ex120, "{\"acuity\":4,\"patients\":10}"), 1);
	/* Injuries are accidents; illness is public health. */
	rep = ok("line120", ex120, "{\"complaint_category\":\"traffic_injury\"}", NULL);
	assert_int_equal(rep.inc.category, INC_CAT_ACCIDENT);
	assert_string_equal(rep.inc.type, "medical.traffic");
	gw_report_clear(&rep);
	rep = ok("line120", ex120, "{\"complaint_category\":\"poisoning\",\"patients\":5}", NULL);
	assert_int_equal(rep.inc.category, INC_CAT_PUBLIC_HEALTH);
	assert_string_equal(rep.inc.title, "中毒，5名患者");
	gw_report_clear(&rep);
	/* Titles without age, or with an unknown sex. */
	rep = ok("line120", ex120, NULL, "age");
	assert_string_equal(rep.inc.title, "胸痛2小时伴大汗");
	gw_report_clear(&rep);
	rep = ok("line120", ex120, "{\"sex\":\"unknown\",\"age\":30}", NULL);
	assert_string_equal(rep.inc.title, "30岁患者，胸痛2小时伴大汗");
	gw_report_clear(&rep);
}

static void
rules122(void **state)
{
	struct gw_report rep;
	/* Property damage only: 3; breakdown or obstruction: 4. */
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":0}"), 3);
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":0,\"accident_type\":\"breakdown\"}"), 4);
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":0,\"accident_type\":\"obstruction\"}"), 4);
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":0,\"accident_type\":\"pedestrian\"}"), 2);
	/* Injured: at least 2; three or more, deaths or trapped: 1. */
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":1,\"accident_type\":\"breakdown\"}"), 2);
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":3}"), 1);
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":0,\"deaths\":1}"), 1);
	assert_int_equal(priority_of("line122", ex122, "{\"injured\":0,\"trapped\":1}"), 1);
	/* A hazardous load: 1, type traffic.hazmat, in the title; km posts kept in details. */
	rep = ok("line122", ex122,
	    "{\"injured\":0,\"vehicles\":1,\"accident_type\":\"rollover\",\"road\":\"广州环城高速\","
	    "\"km_post\":\"K23+500\",\"hazardous_load\":\"液化石油气\"}",
	    "plates");
	assert_int_equal(rep.inc.priority, 1);
	assert_int_equal(rep.inc.category, INC_CAT_ACCIDENT);
	assert_string_equal(rep.inc.type, "traffic.hazmat");
	assert_string_equal(rep.inc.title, "广州环城高速侧翻，危险货物：液化石油气");
	assert_non_null(strstr(rep.inc.details, "\"km_post\":\"K23+500\""));
	gw_report_clear(&rep);
	rep = ok("line122", ex122, "{\"injured\":2,\"deaths\":1,\"trapped\":1}", NULL);
	assert_string_equal(rep.inc.title, "广州大道中3车追尾，2人受伤，1人死亡，1人被困");
	gw_report_clear(&rep);
}

/* --- bad input ------------------------------------------------------------------ */

static void
bad_json(void **state)
{
	refused_body("line110", "{\"kind\":\"110.jjd\",", SRV_E_BAD_JSON, "invalid JSON");
	refused_body("line119", "", SRV_E_BAD_JSON, "invalid JSON");
	refused_body("line120", "<alert/>", SRV_E_BAD_JSON, "invalid JSON");
	refused_body("line122", "{\"kind\":\"122.jjd\",\"kind\":\"122.jjd\"}", SRV_E_BAD_JSON,
	    "duplicate");
	refused_body("line110", "{\"kind\":\"110.jjd\",\"summary\":\"\xff\xfe\"}", SRV_E_BAD_JSON,
	    "invalid JSON");
	refused_body("line110", "[1,2,3]", SRV_E_BAD_FIELD, "JSON object");
	refused_body("line120", "\"120.jjd\"", SRV_E_BAD_JSON, "invalid JSON"); /* a bare value */
}

static void
wrong_kind(void **state)
{
	/* Each line's example posted to each other line names the right adapter. */
	static const struct {
		const char *name, *body;
	} ex[] = { { "line110", ex110 }, { "line119", ex119 }, { "line120", ex120 },
		{ "line122", ex122 } };
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 4; j++) {
			if (i == j)
				continue;
			char needle[64];
			snprintf(needle, sizeof needle, "post it to /api/v1/intake/%s", ex[j].name);
			refused_body(ex[i].name, ex[j].body, SRV_E_BAD_FIELD, needle);
		}
	/* Without kind: missing, with a guess from the fields. */
	refused("line110", ex119, NULL, "kind", SRV_E_MISSING_FIELD, "/api/v1/intake/line119");
	refused("line122", ex120, NULL, "kind", SRV_E_MISSING_FIELD, "/api/v1/intake/line120");
	refused("line110", ex110, NULL, "kind", SRV_E_MISSING_FIELD, "\"110.jjd\"");
	/* The common incident model posted to a line adapter. */
	refused_body("line119",
	    "{\"line\":\"119\",\"ext_ref\":\"A-1\",\"category\":\"accident\",\"priority\":1,"
	    "\"title\":\"火灾\"}",
	    SRV_E_MISSING_FIELD, "/api/v1/intake/json");
	/* A kind of no line, or not a string. */
	refused("line110", ex110, "{\"kind\":\"110.xyz\"}", NULL, SRV_E_BAD_FIELD, "is not \"110.jjd\"");
	refused("line110", ex110, "{\"kind\":110}", NULL, SRV_E_BAD_FIELD, "kind must be");
	/* One field of another line in an otherwise right document. */
	refused("line110", ex110, "{\"fire_type\":\"building\"}", NULL, SRV_E_BAD_FIELD,
	    "belongs to a 119");
	refused("line119", ex119, "{\"acuity\":1}", NULL, SRV_E_BAD_FIELD, "belongs to a 120");
}

static void
unknown_fields(void **state)
{
	refused("line110", ex110, "{\"sumary\":\"typo\"}", NULL, SRV_E_BAD_FIELD, "unknown field 'sumary'");
	refused("line120", ex120, "{\"priority\":1}", NULL, SRV_E_BAD_FIELD, "unknown field 'priority'");
	refused("line122", ex122, "{\"ext_ref\":\"x\"}", NULL, SRV_E_BAD_FIELD, "unknown field 'ext_ref'");
	/* A field shared by two other lines is just unknown. */
	refused("line120", ex120, "{\"trapped\":1}", NULL, SRV_E_BAD_FIELD, "unknown field 'trapped'");
}

static void
missing_fields(void **state)
{
	static const struct {
		const char *name, *body, *field;
	} req[] = {
		{ "line110", ex110, "case_no" }, { "line110", ex110, "report_time" },
		{ "line110", ex110, "case_category" }, { "line110", ex110, "summary" },
		{ "line119", ex119, "case_no" }, { "line119", ex119, "fire_type" },
		{ "line120", ex120, "complaint_category" }, { "line120", ex120, "chief_complaint" },
		{ "line120", ex120, "acuity" }, { "line122", ex122, "road" },
		{ "line122", ex122, "accident_type" }, { "line122", ex122, "report_time" },
	};
	for (size_t i = 0; i < sizeof req / sizeof req[0]; i++) {
		char set[96];
		refused(req[i].name, req[i].body, NULL, req[i].field, SRV_E_MISSING_FIELD, req[i].field);
		/* null and "" are missing too */
		snprintf(set, sizeof set, "{\"%s\":null}", req[i].field);
		refused(req[i].name, req[i].body, set, NULL, SRV_E_MISSING_FIELD, req[i].field);
		snprintf(set, sizeof set, "{\"%s\":\"\"}", req[i].field);
		refused(req[i].name, req[i].body, set, NULL, SRV_E_MISSING_FIELD, req[i].field);
	}
	/* No place at all. */
	refused("line119", ex119, "{\"lon\":null,\"lat\":null,\"address\":null}", NULL,
	    SRV_E_MISSING_FIELD, "address or lon/lat");
}

static void
bad_places(void **state)
{
	/* Swapped: latitude first. */
	refused("line119", ex119, "{\"lon\":23.1372,\"lat\":113.3245}", NULL, SRV_E_BAD_FIELD, "swapped");
	refused("line110", ex110, "{\"lon\":200.0,\"lat\":23.1}", NULL, SRV_E_BAD_FIELD, "lon is outside");
	refused("line120", ex120, "{\"lat\":-91}", NULL, SRV_E_BAD_FIELD, "lat is outside");
	refused("line122", ex122, NULL, "lat", SRV_E_BAD_FIELD, "together");
	refused("line122", ex122, "{\"lon\":\"113.3\"}", NULL, SRV_E_BAD_FIELD, "lon must be a number");
	refused("line120", ex120, "{\"lon\":0,\"lat\":0}", NULL, SRV_E_BAD_FIELD, "0,0");
	refused("line110", ex110, "{\"address\":\"两行\\n地址\"}", NULL, SRV_E_BAD_FIELD, "control character");
}

static void
bad_times(void **state)
{
	refused("line110", ex110, "{\"report_time\":\"2026/11/24 08:30:15\"}", NULL, SRV_E_BAD_FIELD, "RFC 3339");
	refused("line110", ex110, "{\"report_time\":\"2026-11-24T08:30:15\"}", NULL, SRV_E_BAD_FIELD, "RFC 3339");
	refused("line119", ex119, "{\"report_time\":\"24/11/2026 08:30\"}", NULL, SRV_E_BAD_FIELD, "report_time");
	refused("line120", ex120, "{\"report_time\":1795998615}", NULL, SRV_E_BAD_FIELD, "RFC 3339");
	refused("line122", ex122, "{\"report_time\":\"2026-02-30T08:00:00+08:00\"}", NULL, SRV_E_BAD_FIELD, "report_time");
	/* More than a day ahead of the host's clock (2027-01-15). */
	refused("line122", ex122, "{\"report_time\":\"2027-01-17T00:00:00Z\"}", NULL, SRV_E_BAD_FIELD, "future");
}

static void
bad_values(void **state)
{
	/* References: the ext_ref alphabet and length. */
	refused("line110", ex110, "{\"case_no\":\"GZ 110\"}", NULL, SRV_E_BAD_FIELD, "case_no");
	refused("line110", ex110, "{\"case_no\":\"警情123\"}", NULL, SRV_E_BAD_FIELD, "case_no");
	refused("line110", ex110, "{\"case_no\":12345}", NULL, SRV_E_BAD_FIELD, "case_no");
	char big[200];
	snprintf(big, sizeof big, "{\"case_no\":\"%0130d\"}", 7);
	refused("line110", ex110, big, NULL, SRV_E_BAD_FIELD, "case_no");
	/* Versions. */
	refused("line122", ex122, "{\"version\":-1}", NULL, SRV_E_BAD_FIELD, "version");
	refused("line122", ex122, "{\"version\":\"3\"}", NULL, SRV_E_BAD_FIELD, "version");
	/* Wrong types. */
	refused("line119", ex119, "{\"trapped\":\"3\"}", NULL, SRV_E_BAD_FIELD, "trapped must be an integer");
	refused("line120", ex120, "{\"acuity\":2.0}", NULL, SRV_E_BAD_FIELD, "acuity");
	refused("line110", ex110, "{\"in_progress\":\"yes\"}", NULL, SRV_E_BAD_FIELD, "in_progress must be true or false");
	refused("line122", ex122, "{\"plates\":\"粤A12345\"}", NULL, SRV_E_BAD_FIELD, "plates");
	refused("line122", ex122, "{\"plates\":[\"粤A12345\",7]}", NULL, SRV_E_BAD_FIELD, "plates[1]");
	refused("line110", ex110, "{\"summary\":{\"text\":\"x\"}}", NULL, SRV_E_BAD_FIELD, "summary must be a string");
	/* Out of range. */
	refused("line120", ex120, "{\"acuity\":5}", NULL, SRV_E_BAD_FIELD, "acuity must be an integer 1-4");
	refused("line120", ex120, "{\"acuity\":0}", NULL, SRV_E_BAD_FIELD, "acuity");
	refused("line120", ex120, "{\"age\":200}", NULL, SRV_E_BAD_FIELD, "age");
	refused("line120", ex120, "{\"patients\":0}", NULL, SRV_E_BAD_FIELD, "patients");
	refused("line119", ex119, "{\"floors\":0}", NULL, SRV_E_BAD_FIELD, "floors");
	refused("line119", ex119, "{\"trapped\":-1}", NULL, SRV_E_BAD_FIELD, "trapped");
	refused("line122", ex122, "{\"km_post\":\"23+500\"}", NULL, SRV_E_BAD_FIELD, "km_post");
	refused("line122", ex122, "{\"km_post\":\"K23+5\"}", NULL, SRV_E_BAD_FIELD, "km_post");
	refused("line110", ex110, "{\"caller_phone\":\"call me\"}", NULL, SRV_E_BAD_FIELD, "caller_phone");
	refused("line110", ex110, "{\"case_subtype\":\"Theft!\"}", NULL, SRV_E_BAD_FIELD, "case_subtype");
	/* Unknown codes list the known ones. */
	refused("line119", ex119, "{\"fire_type\":\"kitchen\"}", NULL, SRV_E_BAD_FIELD,
	    "fire_type \"kitchen\" is not one of: building, industrial");
	refused("line120", ex120, "{\"sex\":\"M\"}", NULL, SRV_E_BAD_FIELD, "male, female, unknown");
	/* Text: control characters and length. */
	refused("line119", ex119, "{\"title\":\"火\\u0007警\"}", NULL, SRV_E_BAD_FIELD, "title contains a control character");
	char *longtitle = xmalloc(700);
	strcpy(longtitle, "{\"title\":\"");
	for (int i = 0; i < 201; i++)
		strcat(longtitle, "火");
	strcat(longtitle, "\"}");
	refused("line119", ex119, longtitle, NULL, SRV_E_BAD_FIELD, "title is longer than 200");
	free(longtitle);
	/* Multi-line summaries are fine; the title built from one stays on one line. */
	struct gw_report rep = ok("line110", ex110, "{\"summary\":\"第一行\\n第二行\"}", NULL);
	assert_string_equal(rep.inc.description, "第一行\n第二行");
	assert_string_equal(rep.inc.title, "刑事案件：第一行 第二行");
	gw_report_clear(&rep);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_are_registered),
		cmocka_unit_test(example110),
		cmocka_unit_test(example119),
		cmocka_unit_test(example120),
		cmocka_unit_test(example122),
		cmocka_unit_test(common_fields),
		cmocka_unit_test(rules110),
		cmocka_unit_test(rules119),
		cmocka_unit_test(rules120),
		cmocka_unit_test(rules122),
		cmocka_unit_test(bad_json),
		cmocka_unit_test(wrong_kind),
		cmocka_unit_test(unknown_fields),
		cmocka_unit_test(missing_fields),
		cmocka_unit_test(bad_places),
		cmocka_unit_test(bad_times),
		cmocka_unit_test(bad_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
