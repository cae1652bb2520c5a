/* Unit tests for the adapter registry and the generic JSON adapter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "gw_adapter.h"
#include "srv_error.h"
#include "srv_util.h"

static const char *const json_ct[] = { "application/json", NULL };

static int
parse_nothing(const struct gw_host *h, const char *b, size_t n, struct gw_report *o, char **c)
{
	return 0;
}

static const struct gw_adapter a1 = { .api_version = GW_API_VERSION, .name = "line110",
	.content_types = json_ct, .parse = parse_nothing };
static const struct gw_adapter a1_again = { .api_version = GW_API_VERSION, .name = "line110",
	.content_types = json_ct, .parse = parse_nothing };
static const struct gw_adapter no_parse = { .api_version = GW_API_VERSION, .name = "x",
	.content_types = json_ct };
static const struct gw_adapter old_api = { .api_version = GW_API_VERSION + 1, .name = "y",
	.content_types = json_ct, .parse = parse_nothing };
static const struct gw_adapter bad_name = { .api_version = GW_API_VERSION, .name = "Bad/Name",
	.content_types = json_ct, .parse = parse_nothing };

static void
expect_refused(const struct gw_adapter *const *list, const char *needle)
{
	char *cause = NULL;
	assert_int_equal(gw_registry_check(list, &cause), -1);
	if (cause == NULL || strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause ? cause : "(none)", needle);
	free(cause);
}

static void
registry_refuses_bad_tables(void **state)
{
	const struct gw_adapter *dup[] = { &a1, &a1_again, NULL };
	const struct gw_adapter *np[] = { &no_parse, NULL };
	const struct gw_adapter *ov[] = { &old_api, NULL };
	const struct gw_adapter *bn[] = { &bad_name, NULL };
	expect_refused(dup, "registered twice");
	expect_refused(np, "missing parse hook");
	expect_refused(ov, "api_version");
	expect_refused(bn, "must be 1-32");
	char *cause = NULL;
	assert_int_equal(gw_registry_check(gw_builtin, &cause), 0);
	assert_non_null(gw_registry_find(gw_builtin, "json"));
	assert_null(gw_registry_find(gw_builtin, "nope"));
}

static int64_t
fixed_now(void)
{
	return 1800000000LL * 1000000;
}

static const struct gw_host host = { .api_version = GW_API_VERSION, .now_us = fixed_now };

static void
json_adapter_maps_and_requires_reference(void **state)
{
	const struct gw_adapter *a = gw_registry_find(gw_builtin, "json");
	struct gw_report rep;
	struct incident *inc = &rep.inc;
	char *cause = NULL;
	const char *ok = "{\"line\":\"122\",\"ext_ref\":\"JT-9\",\"category\":\"accident\","
			 "\"priority\":2,\"title\":\"三车追尾\"}";
	memset(&rep, 0, sizeof rep);
	assert_int_equal(a->parse(&host, ok, strlen(ok), &rep, &cause), 0);
	assert_int_equal(inc->line, INC_LINE_122);
	assert_string_equal(inc->ext_ref, "JT-9");
	assert_int_equal(rep.action, GW_REPORT);
	assert_int_equal(inc->reported_at, fixed_now()); /* defaulted by the host clock */
	gw_report_clear(&rep);
	assert_true(gw_accepts(a, "application/json; charset=utf-8"));
	assert_false(gw_accepts(a, "application/jsonp"));
	assert_false(gw_accepts(a, "text/plain"));

	const char *noref = "{\"line\":\"122\",\"category\":\"accident\",\"priority\":2,\"title\":\"x\"}";
	assert_int_equal(a->parse(&host, noref, strlen(noref), &rep, &cause), SRV_E_MISSING_FIELD);
	assert_non_null(strstr(cause, "ext_ref"));
	free(cause);
	cause = NULL;

	const char *dupkey = "{\"line\":\"122\",\"line\":\"110\"}";
	assert_int_equal(a->parse(&host, dupkey, strlen(dupkey), &rep, &cause), SRV_E_BAD_JSON);
	free(cause);
	cause = NULL;

	const char *notobj = "[1,2,3]";
	assert_int_not_equal(a->parse(&host, notobj, strlen(notobj), &rep, &cause), 0);
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(registry_refuses_bad_tables),
		cmocka_unit_test(json_adapter_maps_and_requires_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
