/* Unit tests for the incident model: JSON reading, validation, patches, times, UTF-8. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "incident.h"
#include "srv_error.h"
#include "srv_json.h"
#include "srv_util.h"

static int
from(const char *text, struct incident *inc, char **cause)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	int rc = inc_from_json(j, inc, cause);
	json_decref(j);
	return rc;
}

static void
valid_report_round_trips(void **state)
{
	struct incident inc;
	char *cause = NULL;
	assert_int_equal(from("{\"line\":\"120\",\"ext_ref\":\"R-1\",\"category\":\"public_health\","
			      "\"priority\":1,\"title\":\"老人胸痛昏厥\",\"lon\":113.2697,\"lat\":23.1257,"
			      "\"reported_at\":\"2026-11-24T08:30:00+08:00\",\"details\":{\"patients\":1}}",
			     &inc, &cause),
	    0);
	assert_int_equal(inc.line, INC_LINE_120);
	assert_int_equal(inc.category, INC_CAT_PUBLIC_HEALTH);
	assert_int_equal(inc.reported_at, 1795480200LL * 1000000); /* 00:30 UTC */
	json_t *out = inc_to_json(&inc);
	assert_string_equal(json_string_value(json_object_get(out, "title")), "老人胸痛昏厥");
	assert_string_equal(json_string_value(json_object_get(out, "reported_at")),
	    "2026-11-24T00:30:00.000Z");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(out, "details"),
			     "patients")), 1);
	json_decref(out);
	inc_clear(&inc);
}

static void
expect_error(const char *text, int err, const char *needle)
{
	struct incident inc;
	char *cause = NULL;
	assert_int_equal(from(text, &inc, &cause), err);
	assert_non_null(cause);
	if (strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause, needle);
	free(cause);
	inc_clear(&inc);
}

static void
bad_reports_are_refused_with_reasons(void **state)
{
	expect_error("{\"line\":\"119\",\"priority\":1}", SRV_E_MISSING_FIELD, "title");
	expect_error("{\"line\":\"119\",\"title\":\"x\"}", SRV_E_MISSING_FIELD, "priority");
	expect_error("{\"priority\":1,\"title\":\"x\"}", SRV_E_MISSING_FIELD, "line");
	expect_error("{\"line\":\"911\",\"priority\":1,\"title\":\"x\"}", SRV_E_BAD_FIELD, "line");
	expect_error("{\"line\":\"119\",\"priority\":\"high\",\"title\":\"x\"}", SRV_E_BAD_FIELD,
	    "priority");
	expect_error("{\"line\":\"119\",\"priority\":7,\"title\":\"x\"}", SRV_E_BAD_FIELD, "1 (most");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\",\"lon\":23.1,\"lat\":113.3}",
	    SRV_E_BAD_FIELD, "swapped");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\",\"lon\":200,\"lat\":10}",
	    SRV_E_BAD_FIELD, "lon is outside");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\",\"lon\":113}", SRV_E_BAD_FIELD,
	    "both");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\",\"colour\":\"red\"}",
	    SRV_E_BAD_FIELD, "unknown field 'colour'");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\",\"reported_at\":\"yesterday\"}",
	    SRV_E_BAD_FIELD, "RFC 3339");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\",\"ext_ref\":\"a b\"}",
	    SRV_E_BAD_FIELD, "ext_ref");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\\u0007\"}", SRV_E_BAD_FIELD,
	    "control");
	expect_error("{\"line\":\"119\",\"priority\":1,\"title\":\"x\",\"reported_at\":"
		     "\"2099-01-01T00:00:00Z\"}",
	    SRV_E_BAD_FIELD, "future");
	/* 201 Chinese characters: one over the title limit, counted in characters, not bytes. */
	char big[2000] = "{\"line\":\"119\",\"priority\":1,\"title\":\"";
	for (int i = 0; i < INC_TITLE_MAX + 1; i++)
		strcat(big, "火");
	strcat(big, "\"}");
	expect_error(big, SRV_E_BAD_FIELD, "longer than 200");
}

static void
title_of_200_chinese_characters_fits(void **state)
{
	char big[2000] = "{\"line\":\"119\",\"priority\":1,\"title\":\"";
	for (int i = 0; i < INC_TITLE_MAX; i++)
		strcat(big, "火");
	strcat(big, "\"}");
	struct incident inc;
	char *cause = NULL;
	assert_int_equal(from(big, &inc, &cause), 0);
	inc_clear(&inc);
}

static void
patch_reads_only_changeable_fields(void **state)
{
	struct inc_patch p;
	char *cause = NULL;
	json_t *j = json_loads("{\"status\":\"dispatched\",\"priority\":2}", 0, NULL);
	assert_int_equal(inc_patch_from_json(j, &p, &cause), 0);
	assert_int_equal(p.mask, INC_F_STATUS | INC_F_PRIORITY);
	struct incident inc = { .status = INC_ST_NEW, .priority = 4 };
	inc_apply_patch(&inc, &p);
	assert_int_equal(inc.status, INC_ST_DISPATCHED);
	assert_int_equal(inc.priority, 2);
	json_decref(j);
	inc_patch_clear(&p);

	j = json_loads("{\"line\":\"110\"}", 0, NULL);
	assert_int_equal(inc_patch_from_json(j, &p, &cause), SRV_E_BAD_FIELD);
	assert_non_null(strstr(cause, "not changeable"));
	free(cause);
	cause = NULL;
	json_decref(j);
	inc_patch_clear(&p);

	j = json_loads("{}", 0, NULL);
	assert_int_equal(inc_patch_from_json(j, &p, &cause), SRV_E_BAD_FIELD);
	free(cause);
	json_decref(j);
	inc_patch_clear(&p);
}

static void
times_parse_and_format(void **state)
{
	int64_t t;
	assert_int_equal(srv_parse_time("2026-11-24T19:43:06.123Z", &t), 0);
	char buf[40];
	srv_fmt_time(t, 0, buf, sizeof buf);
	assert_string_equal(buf, "2026-11-24T19:43:06.123Z");
	assert_int_equal(srv_parse_time("2024-02-29T00:00:00Z", &t), 0);
	assert_int_equal(srv_parse_time("2025-02-29T00:00:00Z", &t), -1);
	assert_int_equal(srv_parse_time("2026-13-01T00:00:00Z", &t), -1);
	assert_int_equal(srv_parse_time("2026-11-24T19:43:06", &t), -1); /* no zone */
	assert_int_equal(srv_parse_time("2026-11-24T19:43:06Zjunk", &t), -1);
	assert_int_equal(srv_parse_time("1970-01-01T08:00:00+08:00", &t), 0);
	assert_int_equal(t, 0);
}

static void
utf8_validation(void **state)
{
	assert_true(srv_utf8_valid("联动", strlen("联动")));
	assert_false(srv_utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(srv_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(srv_utf8_valid("\xe8\x81", 2));         /* truncated */
	assert_false(srv_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_int_equal(srv_utf8_len("联动a"), 3);
}

/* inc_to_text must be byte for byte srv_json_dump(inc_to_json()). */
static void
assert_text_matches(const struct incident *inc)
{
	json_t *j = inc_to_json(inc);
	char *want = srv_json_dump(j, NULL);
	size_t len;
	char *got = inc_to_text(inc, &len);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	free(want);
	free(got);
	json_decref(j);
}

static void
text_rendering_matches_json(void **state)
{
	(void)state;
	struct incident inc;
	char *cause = NULL;
	/* A bare report. */
	assert_int_equal(from("{\"line\":\"110\",\"ext_ref\":\"T-1\",\"category\":\"other\","
			      "\"priority\":4,\"title\":\"t\"}", &inc, &cause), 0);
	assert_text_matches(&inc);
	inc_clear(&inc);
	/* Everything set: position, district, details, times, scope, plan, merge, dispatch. */
	assert_int_equal(from("{\"line\":\"119\",\"ext_ref\":\"T-2\",\"category\":\"accident\","
			      "\"type\":\"fire.building\",\"priority\":1,\"title\":\"居民楼火灾\\n六楼\","
			      "\"description\":\"tab\\there\",\"address\":\"天河路385号\","
			      "\"lon\":113.32451234567,\"lat\":23.1372,\"reported_at\":\"2026-11-24T08:30:00+08:00\","
			      "\"details\":{\"floors\":[6,7],\"smoke\":true,\"note\":null,\"ratio\":0.333333333333}}",
			     &inc, &cause), 0);
	inc.id = 123456789;
	inc.version = 7;
	/* Text the validator would refuse is still rendered as jansson would: escaped. */
	free(inc.ext_ref);
	inc.ext_ref = strdup("T-2\"q\\\x01\x1f/");
	inc.created_at = 1795480200LL * 1000000 + 123456;
	inc.updated_at = inc.created_at + 5000000;
	inc.acknowledged_at = inc.created_at + 1000;
	inc.on_scene_at = inc.created_at + 600000000;
	inc.ack_due_at = inc.created_at + 15000000;
	inc.alarm_level = 2;
	inc.merged_into = 42;
	inc.district_code = strdup("440106");
	inc.district_name = strdup("天河区");
	inc.scope = strdup("110,119,120,122");
	inc.plan = strdup("fire.building");
	inc.source = strdup("json");
	inc.dispatch = strdup("{\"tasks\":[{\"agency\":\"119\",\"kind\":\"fire_engine\",\"count\":2}],"
			      "\"units\":\"not an array\",\"links\":[{\"incident\":3,\"distance_m\":150.25}]}");
	assert_text_matches(&inc);
	/* The parsed dispatch rendering, when the store kept it, wins over the text. */
	inc.dispatch_json = json_pack("{s:[], s:[{s:s}], s:[]}", "tasks", "units", "id", "U1", "links");
	assert_text_matches(&inc);
	/* A district without a name; no position; broken stored JSON reads as null. */
	free(inc.district_name);
	inc.district_name = NULL;
	inc.has_position = 0;
	free(inc.details);
	inc.details = strdup("{broken");
	assert_text_matches(&inc);
	inc_clear(&inc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_report_round_trips),
		cmocka_unit_test(bad_reports_are_refused_with_reasons),
		cmocka_unit_test(title_of_200_chinese_characters_fits),
		cmocka_unit_test(patch_reads_only_changeable_fields),
		cmocka_unit_test(times_parse_and_format),
		cmocka_unit_test(utf8_validation),
		cmocka_unit_test(text_rendering_matches_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
