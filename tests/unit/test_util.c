/* Unit tests for srv_util: the RFC 3339 formatter against gmtime, and srv_json_dump against jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "incident.h"
#include "srv_json.h"
#include "srv_util.h"

/* What the formatter must print, the slow and obvious way. */
static void
reference(int64_t us, int micro, char *buf, size_t len)
{
	int64_t secs = us / 1000000, frac = us % 1000000;
	if (frac < 0) {
		frac += 1000000;
		secs--;
	}
	time_t t = (time_t)secs;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%0*dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micro ? 6 : 3,
	    (int)(micro ? frac : frac / 1000));
}

static void
time_format_matches_gmtime(void **state)
{
	(void)state;
	/* Edges: the epoch, leap days, century rules, year ends, before 1970, years 1 and 9999. */
	const int64_t edges[] = { 0, -1, 1, 951782400LL * 1000000,   /* 2000-02-29 */
		4107542400LL * 1000000 - 1,                         /* 2100-02-28 23:59:59.999999 */
		4107542400LL * 1000000,                             /* 2100-03-01 */
		-2208988800LL * 1000000,                            /* 1900-01-01 */
		1795564800LL * 1000000 - 1, 1798761599LL * 1000000 + 999999,
		-62135596800LL * 1000000,                           /* 0001-01-01 */
		253402300799LL * 1000000 + 999999 };                /* 9999-12-31T23:59:59.999999 */
	char a[48], b[48];
	for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
		for (int micro = 0; micro < 2; micro++) {
			srv_fmt_time(edges[i], micro, a, sizeof a);
			reference(edges[i], micro, b, sizeof b);
			assert_string_equal(a, b);
		}
	/* A million pseudo-random instants across years 1..9999. */
	uint64_t x = 88172645463325252ULL;
	for (int i = 0; i < 1000000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		int64_t us = -62135596800LL * 1000000 +
		    (int64_t)(x % (uint64_t)(253402300800LL * 1000000 + 62135596800LL * 1000000));
		srv_fmt_time(us, i & 1, a, sizeof a);
		reference(us, i & 1, b, sizeof b);
		assert_string_equal(a, b);
	}
	/* A buffer too small still gets a terminated, truncated string. */
	char small[10];
	srv_fmt_time(0, 0, small, sizeof small);
	assert_string_equal(small, "1970-01-0");
}

static void
json_dump_matches_jansson(void **state)
{
	(void)state;
	const char *docs[] = {
		"{}", "[]", "[[],{}]",
		"{\"a\":1,\"b\":-9223372036854775808,\"c\":9223372036854775807,\"d\":0}",
		"[0.1,1.5,-2.25,1e300,1e-7,123456789012.5,1234567890123456789.0,3.0,-0.0,5e-324]",
		"{\"s\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"}",
		"{\"\\u4e2d\\u6587\":\"\\u5c45\\u6c11\\u697c\\u706b\\u707e\",\"emoji\":\"\\ud83d\\ude92\"}",
		"{\"z\":1,\"a\":2,\"m\":{\"y\":[true,false,null],\"b\":\"x\"}}",
	};
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
		json_error_t e;
		json_t *j = json_loads(docs[i], 0, &e);
		assert_non_null(j);
		char *want = json_dumps(j, SRV_JSON_FLAGS);
		size_t len;
		char *got = srv_json_dump(j, &len);
		assert_string_equal(got, want);
		assert_int_equal(len, strlen(want));
		free(want);
		free(got);
		json_decref(j);
	}
	/* A string with an embedded NUL is written whole, escaped. */
	json_t *a = json_pack("[s#]", "a\0b", (int)3);
	char *got = srv_json_dump(a, NULL);
	assert_string_equal(got, "[\"a\\u0000b\"]");
	free(got);
	json_decref(a);
	/* Only objects and arrays, as json_dumps. */
	json_t *n = json_integer(1);
	assert_null(srv_json_dump(n, NULL));
	json_decref(n);
	/* A large object grows the buffer. */
	json_t *big = json_object();
	char key[16];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		json_object_set_new(big, key, json_real(i / 7.0));
	}
	char *want = json_dumps(big, SRV_JSON_FLAGS);
	got = srv_json_dump(big, NULL);
	assert_string_equal(got, want);
	free(want);
	free(got);
	json_decref(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(time_format_matches_gmtime),
		cmocka_unit_test(json_dump_matches_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
