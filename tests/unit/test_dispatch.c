/*
 * Unit tests for the dispatch engine's rules: every incident transition
 * against a table written out here (not derived from the code), the times a
 * transition stamps, unit status moves, and the fan-out scope filter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dsp.h"
#include "hub.h"
#include "incident.h"

/*
 * Rows: from; columns: to, in the order new, acknowledged, dispatched,
 * en_route, on_scene, resolved, closed, cancelled, unfounded. 'x' allowed.
 */
static const char *const expected[INC_ST_N] = {
	/*            n a d e o r c x u */
	[INC_ST_NEW] = ".xx....xx",
	[INC_ST_ACKNOWLEDGED] = "..x....xx",
	[INC_ST_DISPATCHED] = "...xxx.xx",
	[INC_ST_EN_ROUTE] = "....xx.xx",
	[INC_ST_ON_SCENE] = ".....x..x",
	[INC_ST_RESOLVED] = ".x....x..",
	[INC_ST_CLOSED] = ".........",
	[INC_ST_CANCELLED] = ".........",
	[INC_ST_UNFOUNDED] = ".........",
};

static void
every_incident_transition(void **state)
{
	(void)state;
	int allowed = 0;
	for (int f = 0; f < INC_ST_N; f++)
		for (int t = 0; t < INC_ST_N; t++) {
			int want = expected[f][t] == 'x';
			if (inc_transition_allowed((enum inc_status)f, (enum inc_status)t) != want)
				fail_msg("%s -> %s: expected %s", inc_status_name((enum inc_status)f),
				    inc_status_name((enum inc_status)t), want ? "allowed" : "refused");
			allowed += want;
		}
	assert_int_equal(allowed, 20);
	assert_string_equal(inc_transitions_from(INC_ST_NEW),
	    "acknowledged, dispatched, cancelled, unfounded");
	assert_string_equal(inc_transitions_from(INC_ST_CLOSED), "none (final)");
	assert_false(inc_transition_allowed(INC_ST_N, INC_ST_NEW));
}

static void
stamps_first_times_and_implied_steps(void **state)
{
	(void)state;
	struct incident in = { .status = INC_ST_NEW, .ack_due_at = 50 };
	inc_stamp_transition(&in, INC_ST_DISPATCHED, 100);
	assert_int_equal(in.acknowledged_at, 100); /* dispatching acknowledges */
	assert_int_equal(in.dispatched_at, 100);
	assert_int_equal(in.ack_due_at, 0);
	inc_stamp_transition(&in, INC_ST_ON_SCENE, 200);
	assert_int_equal(in.en_route_at, 0); /* skipped, not invented */
	assert_int_equal(in.on_scene_at, 200);
	inc_stamp_transition(&in, INC_ST_RESOLVED, 300);
	inc_stamp_transition(&in, INC_ST_ACKNOWLEDGED, 400); /* reopened */
	assert_int_equal(in.acknowledged_at, 100);          /* the first time stays */
	inc_stamp_transition(&in, INC_ST_CANCELLED, 500);
	assert_int_equal(in.closed_at, 500);
	assert_int_equal(in.resolved_at, 300);
	struct incident fresh = { .status = INC_ST_NEW, .ack_due_at = 9 };
	inc_stamp_transition(&fresh, INC_ST_NEW, 10);
	assert_int_equal(fresh.ack_due_at, 9); /* still new: the deadline stands */
}

static void
unit_status_moves(void **state)
{
	(void)state;
	/* Rows: from; columns: available, dispatched, en_route, on_scene, returning, out_of_service. */
	static const char *const want[DSP_U_N] = {
		".....x", /* available: dispatched only by assignment */
		"x.xx..", "x..x..", "x...x.", "x....x", "x.....",
	};
	for (int f = 0; f < DSP_U_N; f++)
		for (int t = 0; t < DSP_U_N; t++)
			if (dsp_unit_transition_allowed(f, t) != (want[f][t] == 'x'))
				fail_msg("unit %s -> %s", dsp_unit_status_name(f), dsp_unit_status_name(t));
	assert_true(dsp_unit_busy(DSP_U_EN_ROUTE));
	assert_false(dsp_unit_busy(DSP_U_RETURNING));
	assert_int_equal(dsp_unit_status_parse("on_scene"), DSP_U_ON_SCENE);
	assert_int_equal(dsp_unit_status_parse("busy"), -1);
}

static void
add(char (*list)[17], int *n, const char *s)
{
	snprintf(list[(*n)++], 17, "%s", s);
}

static void
scope_filter(void **state)
{
	(void)state;
	struct hub_filter f;
	memset(&f, 0, sizeof f);
	assert_true(hub_scope_visible("119,120|440106", &f)); /* no filter: everything */
	add(f.agencies, &f.nagencies, "120");
	assert_true(hub_scope_visible("119,120|440106", &f));
	assert_true(hub_scope_visible("120|", &f));
	assert_false(hub_scope_visible("119,122|440106", &f));
	assert_false(hub_scope_visible("1200|440106", &f)); /* whole codes, not prefixes */
	assert_false(hub_scope_visible("12|440106", &f));
	assert_true(hub_scope_visible(NULL, &f));           /* unscoped frames go to all */
	snprintf(f.districts[0], sizeof f.districts[0], "440106");
	f.ndistricts = 1;
	assert_true(hub_scope_visible("120|440106", &f));
	assert_false(hub_scope_visible("120|440104", &f));
	assert_true(hub_scope_visible("120|", &f)); /* no district known: not hidden */
	assert_true(hub_scope_visible("120", &f));
	f.nagencies = 0;
	assert_true(hub_scope_visible("110|440106", &f));
	assert_false(hub_scope_visible("110|4401061", &f));
}

static void
tokens(void **state)
{
	(void)state;
	assert_true(dsp_token_valid("TH-FE-1", 32, 0));
	assert_false(dsp_token_valid("a b", 32, 0));
	assert_false(dsp_token_valid("", 32, 0));
	assert_false(dsp_token_valid("abcdef", 5, 0));
	assert_true(dsp_token_valid("粤A消12", 32, 1));
	assert_false(dsp_token_valid("粤A消12", 32, 0));
	assert_false(dsp_token_valid("\xff\xfe", 32, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_incident_transition),
		cmocka_unit_test(stamps_first_times_and_implied_steps),
		cmocka_unit_test(unit_status_moves),
		cmocka_unit_test(scope_filter),
		cmocka_unit_test(tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
