/*
 * Unit tests for dsp_plan: the plan file's every rule, accepted and refused
 * with the exact line in the message; matching; levels; JSON; loading; and
 * the shipped server/plans.conf.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsp_plan.h"
#include "incident.h"
#include "srv_util.h"

/* A string of n copies of c (the caller frees it). */
static char *
rep(char c, size_t n)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static struct dsp_plans *
parse_ok(const char *text)
{
	struct dsp_plans *ps = NULL;
	char *err = NULL;
	if (dsp_plans_parse(text, strlen(text), &ps, &err) != 0)
		fail_msg("refused: %s\n--- input ---\n%s", err, text);
	assert_null(err);
	assert_non_null(ps);
	return ps;
}

/*
 * The parse must fail with exactly `want`, and leave *out alone (the caller
 * keeps its old plans). Returns 0 or 1 after printing why, so a table of
 * cases reports every wrong one before failing.
 */
static int
refused(const char *text, size_t len, const char *want)
{
	struct dsp_plans keep, *ps = &keep;
	char *err = NULL;
	int rc = dsp_plans_parse(text, len, &ps, &err);
	int bad = rc != -1 || ps != &keep || err == NULL || strcmp(err, want) != 0;
	if (bad)
		print_error("input %.60s...\n  got rc %d, err \"%s\"\n  want \"%s\"\n", text, rc,
		    err ? err : "(null)", want);
	if (rc == 0 && ps != &keep)
		dsp_plans_free(ps);
	free(err);
	return bad;
}

static void
minimal_plan_takes_defaults(void **state)
{
	struct dsp_plans *ps = parse_ok("plan a\nlevel 1 119:fire_engine\n");
	assert_int_equal(ps->n, 1);
	const struct dsp_plan *pl = &ps->plans[0];
	assert_string_equal(pl->id, "a");
	assert_string_equal(pl->name, "a");
	assert_int_equal(pl->line_mask, 0);
	assert_int_equal(pl->category_mask, 0);
	assert_int_equal(pl->ntypes, 0);
	assert_int_equal(pl->ndistricts, 0);
	assert_int_equal(pl->priority_min, 1);
	assert_int_equal(pl->priority_max, 4);
	assert_int_equal(pl->ack_seconds, 120);
	assert_int_equal(pl->lineno, 1);
	assert_int_equal(pl->nlevels, 1);
	assert_int_equal(pl->levels[0].level, 1);
	assert_int_equal(pl->levels[0].nneeds, 1);
	assert_string_equal(pl->levels[0].needs[0].agency, "119");
	assert_string_equal(pl->levels[0].needs[0].kind, "fire_engine");
	assert_int_equal(pl->levels[0].needs[0].count, 1);
	dsp_plans_free(ps);
}

static void
full_plan_reads_every_field(void **state)
{
	/* BOM, CRLF, tabs, comments in all places, no final newline. */
	struct dsp_plans *ps = parse_ok(
	    "\xef\xbb\xbf# 广州 demo\r\n"
	    "\r\n"
	    "plan building-fire   建筑火灾  (天河)   # trailing comment\r\n"
	    "  when line=119,110 category=accident type=fire.building*,fire.industrial "
	    "priority=1-2 district=440106,440104\r\n"
	    "\tlevel 1  119:fire_engine*2 120:ambulance 122:traffic_police\r\n"
	    "# between levels\n"
	    "level 2\t119:fire_engine*4 119:aerial_ladder 120:ambulance*2 110:patrol*2\n"
	    "  ack 60\n"
	    "plan b\n"
	    "  level 1 gas:emergency_repair\n"
	    "  when\n"
	    "  level 2 gas:emergency_repair*3");
	assert_int_equal(ps->n, 2);
	const struct dsp_plan *pl = &ps->plans[0];
	assert_string_equal(pl->id, "building-fire");
	assert_string_equal(pl->name, "建筑火灾  (天河)");
	assert_int_equal(pl->lineno, 3);
	assert_int_equal(pl->line_mask, (1 << INC_LINE_119) | (1 << INC_LINE_110));
	assert_int_equal(pl->category_mask, 1 << INC_CAT_ACCIDENT);
	assert_int_equal(pl->ntypes, 2);
	assert_string_equal(pl->types[0], "fire.building*");
	assert_string_equal(pl->types[1], "fire.industrial");
	assert_int_equal(pl->priority_min, 1);
	assert_int_equal(pl->priority_max, 2);
	assert_int_equal(pl->ndistricts, 2);
	assert_string_equal(pl->districts[0], "440106");
	assert_string_equal(pl->districts[1], "440104");
	assert_int_equal(pl->ack_seconds, 60);
	assert_int_equal(pl->nlevels, 2);
	assert_int_equal(pl->levels[0].nneeds, 3);
	assert_int_equal(pl->levels[0].needs[0].count, 2);
	assert_string_equal(pl->levels[0].needs[2].agency, "122");
	assert_string_equal(pl->levels[0].needs[2].kind, "traffic_police");
	assert_int_equal(pl->levels[1].level, 2);
	assert_int_equal(pl->levels[1].nneeds, 4);
	assert_string_equal(pl->levels[1].needs[3].agency, "110");
	assert_int_equal(pl->levels[1].needs[3].count, 2);

	pl = &ps->plans[1];
	assert_string_equal(pl->name, "b");
	assert_int_equal(pl->lineno, 9);
	assert_int_equal(pl->line_mask | pl->category_mask | pl->ntypes | pl->ndistricts, 0);
	assert_int_equal(pl->nlevels, 2);
	assert_int_equal(pl->levels[1].needs[0].count, 3);
	dsp_plans_free(ps);
}

/* Every limit at its edge is accepted. */
static void
limits_are_inclusive(void **state)
{
	char *id = rep('a', DSP_ID_MAX), *name = rep('n', DSP_NAME_MAX);
	char *agency = rep('g', DSP_AGENCY_MAX), *kind = rep('k', DSP_KIND_MAX);
	char *type = rep('t', INC_TYPE_MAX), *district = rep('D', DSP_DISTRICT_MAX);
	char *text = xasprintf("plan %s %s\n"
			       "when line=110,119,120,122,other category=natural_disaster,accident,"
			       "public_health,social_security,other type=%s,%s*,* priority=4 "
			       "district=%s,0\n"
			       "level 1 %s:%s*50 a:b*1 a:c\n"
			       "level 2 a:b\nlevel 3 a:b\nlevel 4 a:b\nlevel 5 a:b\n"
			       "ack 3600\n"
			       "plan b.c_d-e\nlevel 1 a:b\nack 10\n",
	    id, name, type, type, district, agency, kind);
	struct dsp_plans *ps = parse_ok(text);
	assert_int_equal(ps->n, 2);
	const struct dsp_plan *pl = &ps->plans[0];
	assert_string_equal(pl->id, id);
	assert_string_equal(pl->name, name);
	assert_int_equal(pl->line_mask, (1 << INC_LINE_N) - 1);
	assert_int_equal(pl->category_mask, (1 << INC_CAT_N) - 1);
	assert_int_equal(pl->ntypes, 3);
	assert_string_equal(pl->types[2], "*");
	assert_int_equal(pl->priority_min, 4);
	assert_int_equal(pl->priority_max, 4);
	assert_int_equal(pl->nlevels, 5);
	assert_int_equal(pl->levels[0].needs[0].count, 50);
	assert_string_equal(pl->levels[0].needs[0].agency, agency);
	assert_string_equal(pl->levels[0].needs[0].kind, kind);
	assert_int_equal(pl->ack_seconds, 3600);
	assert_int_equal(ps->plans[1].ack_seconds, 10);
	dsp_plans_free(ps);
	free(text);

	/* A line of exactly DSP_LINE_MAX bytes (a comment fills it up). */
	char *pad = rep('x', DSP_LINE_MAX - strlen("plan a #"));
	text = xasprintf("plan a #%s\nlevel 1 a:b\n", pad);
	ps = parse_ok(text);
	dsp_plans_free(ps);
	free(text);
	free(pad);

	/* Exactly DSP_PLANS_MAX plans. */
	size_t cap = DSP_PLANS_MAX * 32, len = 0;
	text = xmalloc(cap);
	for (int i = 0; i < DSP_PLANS_MAX; i++)
		len += (size_t)snprintf(text + len, cap - len, "plan p%d\nlevel 1 a:b\n", i);
	ps = parse_ok(text);
	assert_int_equal(ps->n, DSP_PLANS_MAX);
	dsp_plans_free(ps);
	free(text);
	free(id);
	free(name);
	free(agency);
	free(kind);
	free(type);
	free(district);
}

static void
empty_and_comment_only_files_hold_no_plans(void **state)
{
	struct dsp_plans *ps = parse_ok("");
	assert_int_equal(ps->n, 0);
	dsp_plans_free(ps);
	ps = parse_ok("# nothing yet\n\n   \t\n");
	assert_int_equal(ps->n, 0);
	assert_null(dsp_plans_match(ps, &(struct incident){ .priority = 1 }));
	dsp_plans_free(ps);
	dsp_plans_free(NULL);
}

/* The same agency:kind may come back at a higher level; levels are separate lists. */
static void
same_need_in_two_levels_is_fine(void **state)
{
	struct dsp_plans *ps = parse_ok("plan a\nlevel 1 119:x\nlevel 2 119:x*2 120:x\n");
	assert_int_equal(ps->plans[0].levels[1].nneeds, 2);
	dsp_plans_free(ps);
}

struct bad_case {
	const char *text;
	const char *err;
};

static const struct bad_case structure_cases[] = {
	{ "when line=119\n", "line 1: \"when\" before any plan" },
	{ "# c\n\n  level 1 119:x\n", "line 3: \"level\" before any plan" },
	{ "ack 60\nplan a\n", "line 1: \"ack\" before any plan" },
	{ "plan a\nlevel 1 a:b\nwhen\nstart 3\n", "line 4: unknown directive \"start\"" },
	{ "plan a\nlevel 1 a:b\nPlan b\n", "line 3: unknown directive \"Plan\"" },
	{ "plan a\nlevel 1 a:b\nlevel1 a:b\n", "line 3: unknown directive \"level1\"" },
	{ "plan\n", "line 1: plan needs an id" },
	{ "plan   # no id\n", "line 1: plan needs an id" },
	{ "plan Fire\n", "line 1: plan id \"Fire\" must be 1-48 of a-z 0-9 _ . -" },
	{ "plan fire/x\n", "line 1: plan id \"fire/x\" must be 1-48 of a-z 0-9 _ . -" },
	{ "plan 火灾\n", "line 1: plan id \"火灾\" must be 1-48 of a-z 0-9 _ . -" },
	{ "plan a\nlevel 1 a:b\n\nplan b\nlevel 1 a:b\nplan a 又一个\nlevel 1 a:b\n",
	    "line 6: duplicate plan id \"a\" (first on line 1)" },
	{ "plan a\n", "line 1: plan \"a\" has no level 1" },
	{ "# x\nplan a\nwhen line=119\nack 60\nplan b\nlevel 1 a:b\n",
	    "line 2: plan \"a\" has no level 1" },
	{ "plan a\nlevel 1 a:b\nplan b\nwhen\n", "line 3: plan \"b\" has no level 1" },
	{ "plan a\nlevel 1 a:b\nwhen line=119\nwhen category=other\n",
	    "line 4: second \"when\" in plan \"a\" (the first is on line 3)" },
	{ "plan a\nlevel 1 a:b\nack 60\nack 90\n",
	    "line 4: second \"ack\" in plan \"a\" (the first is on line 3)" },
	/* when/ack state is per plan: plan b may have its own. */
	{ "plan a\nwhen\nack 60\nlevel 1 a:b\nplan b\nwhen\nack 60\nlevel 1 a:b\nack 61\n",
	    "line 9: second \"ack\" in plan \"b\" (the first is on line 7)" },
};

static const struct bad_case when_cases[] = {
	{ "plan a\nwhen line=119 line=120\n", "line 2: condition \"line\" given twice" },
	{ "plan a\nwhen priority=1 type=x priority=2\n", "line 2: condition \"priority\" given twice" },
	{ "plan a\nwhen lines=119\n",
	    "line 2: unknown condition \"lines\" (line, category, type, priority or district)" },
	{ "plan a\nwhen Line=119\n",
	    "line 2: unknown condition \"Line\" (line, category, type, priority or district)" },
	{ "plan a\nwhen line 119\n", "line 2: condition \"line\" is not key=value" },
	{ "plan a\nwhen line= 119\n", "line 2: condition \"line\" has no value" },
	{ "plan a\nwhen line=119,,120\n", "line 2: empty item in the line list" },
	{ "plan a\nwhen district=440106,\n", "line 2: empty item in the district list" },
	{ "plan a\nwhen line=911\n", "line 2: unknown line \"911\" (110, 119, 120, 122 or other)" },
	{ "plan a\nwhen line=119,119\n", "line 2: line \"119\" listed twice" },
	{ "plan a\n  level 1 a:b\n\n\n\n\n  when category=fire\n",
	    "line 7: unknown category \"fire\"" },
	{ "plan a\nwhen category=Accident\n", "line 2: unknown category \"Accident\"" },
	{ "plan a\nwhen category=other,accident,other\n", "line 2: category \"other\" listed twice" },
	{ "plan a\nwhen type=fire.*.x\n",
	    "line 2: type \"fire.*.x\" must be a type code (letters, digits, . _ : / -, at most 64) "
	    "with an optional * at the end" },
	{ "plan a\nwhen type=fire**\n",
	    "line 2: type \"fire**\" must be a type code (letters, digits, . _ : / -, at most 64) "
	    "with an optional * at the end" },
	{ "plan a\nwhen type=火灾\n",
	    "line 2: type \"火灾\" must be a type code (letters, digits, . _ : / -, at most 64) "
	    "with an optional * at the end" },
	{ "plan a\nwhen type=fire.*,fire.*\n", "line 2: type \"fire.*\" listed twice" },
	{ "plan a\nwhen priority=0\n", "line 2: priority \"0\" must be N or N-M, from 1 to 4" },
	{ "plan a\nwhen priority=5\n", "line 2: priority \"5\" must be N or N-M, from 1 to 4" },
	{ "plan a\nwhen priority=1-5\n", "line 2: priority \"1-5\" must be N or N-M, from 1 to 4" },
	{ "plan a\nwhen priority=1-\n", "line 2: priority \"1-\" must be N or N-M, from 1 to 4" },
	{ "plan a\nwhen priority=01\n", "line 2: priority \"01\" must be N or N-M, from 1 to 4" },
	{ "plan a\nwhen priority=1,2\n", "line 2: priority \"1,2\" must be N or N-M, from 1 to 4" },
	{ "plan a\nwhen priority=high\n",
	    "line 2: priority \"high\" must be N or N-M, from 1 to 4" },
	{ "plan a\nwhen priority=3-1\n", "line 2: priority range \"3-1\" runs backwards" },
	{ "plan a\nwhen district=4401-06\n",
	    "line 2: district \"4401-06\" must be 1-12 letters or digits" },
	{ "plan a\nwhen district=4401060000001\n",
	    "line 2: district \"4401060000001\" must be 1-12 letters or digits" },
	{ "plan a\nwhen district=440106,440104,440106\n",
	    "line 2: district \"440106\" listed twice" },
};

static const struct bad_case level_cases[] = {
	{ "plan a\nlevel\n", "line 2: level needs a number" },
	{ "plan a\nlevel 0 a:b\n", "line 2: level must be 1-5, not \"0\"" },
	{ "plan a\nlevel 6 a:b\n", "line 2: level must be 1-5, not \"6\"" },
	{ "plan a\nlevel one a:b\n", "line 2: level must be 1-5, not \"one\"" },
	{ "plan a\nlevel -1 a:b\n", "line 2: level must be 1-5, not \"-1\"" },
	{ "plan a\nlevel 2 a:b\n", "line 2: level 2 comes before level 1" },
	{ "plan a\nlevel 1 a:b\nlevel 3 a:b\n", "line 3: level 3 follows level 1" },
	{ "plan a\nlevel 1 a:b\nlevel 2 a:b\nlevel 2 a:c\n", "line 4: level 2 given twice" },
	{ "plan a\nlevel 1 a:b\nlevel 2 a:b\nlevel 1 a:c\n", "line 4: level 1 given twice" },
	{ "plan a\nlevel 1\n", "line 2: level 1 names no needs" },
	{ "plan a\nlevel 1 a:b\nlevel 2  # later\n", "line 3: level 2 names no needs" },
	{ "plan a\nlevel 1 fire_engine\n",
	    "line 2: need \"fire_engine\" is not agency:kind or agency:kind*count" },
	{ "plan a\nlevel 1 :x\n", "line 2: agency in \":x\" must be 1-16 of a-z 0-9 _" },
	{ "plan a\nlevel 1 Fire:x\n", "line 2: agency in \"Fire:x\" must be 1-16 of a-z 0-9 _" },
	{ "plan a\nlevel 1 aaaaaaaaaaaaaaaaa:x\n",
	    "line 2: agency in \"aaaaaaaaaaaaaaaaa:x\" must be 1-16 of a-z 0-9 _" },
	{ "plan a\nlevel 1 119:\n", "line 2: kind in \"119:\" must be 1-32 of a-z 0-9 _" },
	{ "plan a\nlevel 1 119:*2\n", "line 2: kind in \"119:*2\" must be 1-32 of a-z 0-9 _" },
	{ "plan a\nlevel 1 119:fire-engine\n",
	    "line 2: kind in \"119:fire-engine\" must be 1-32 of a-z 0-9 _" },
	{ "plan a\nlevel 1 119:a:b\n", "line 2: kind in \"119:a:b\" must be 1-32 of a-z 0-9 _" },
	{ "plan a\nlevel 1 119:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\n",
	    "line 2: kind in \"119:kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\" must be 1-32 of a-z 0-9 _" },
	{ "plan a\nlevel 1 119:x*0\n", "line 2: count in \"119:x*0\" must be 1-50" },
	{ "plan a\nlevel 1 119:x*51\n", "line 2: count in \"119:x*51\" must be 1-50" },
	{ "plan a\nlevel 1 119:x*\n", "line 2: count in \"119:x*\" must be 1-50" },
	{ "plan a\nlevel 1 119:x*2*3\n", "line 2: count in \"119:x*2*3\" must be 1-50" },
	{ "plan a\nlevel 1 119:x*99999999999\n",
	    "line 2: count in \"119:x*99999999999\" must be 1-50" },
	{ "plan a\nlevel 1 119:x 120:y 119:x*2\n", "line 2: 119:x listed twice in level 1" },
	{ "plan a\nack\n", "line 2: ack needs a number of seconds" },
	{ "plan a\nack 9\n", "line 2: ack must be 10-3600 seconds, not \"9\"" },
	{ "plan a\nack 3601\n", "line 2: ack must be 10-3600 seconds, not \"3601\"" },
	{ "plan a\nack 1m\n", "line 2: ack must be 10-3600 seconds, not \"1m\"" },
	{ "plan a\nack 60 seconds\n", "line 2: unexpected \"seconds\" after ack 60" },
};

static int
run_cases(const struct bad_case *cases, size_t n)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		bad += refused(cases[i].text, strlen(cases[i].text), cases[i].err);
	return bad;
}

static void
structure_errors_name_their_line(void **state)
{
	if (run_cases(structure_cases, sizeof structure_cases / sizeof structure_cases[0]))
		fail();
}

static void
when_errors_name_their_line(void **state)
{
	if (run_cases(when_cases, sizeof when_cases / sizeof when_cases[0]))
		fail();
}

static void
level_and_ack_errors_name_their_line(void **state)
{
	if (run_cases(level_cases, sizeof level_cases / sizeof level_cases[0]))
		fail();
}

static void
limits_are_enforced(void **state)
{
	int bad = 0;
	char *id = rep('a', DSP_ID_MAX + 1), *name = rep('n', DSP_NAME_MAX + 1);
	char *type = rep('t', INC_TYPE_MAX + 1);
	char *text = xasprintf("plan %s\n", id);
	char *want = xasprintf("line 1: plan id \"%s\" must be 1-48 of a-z 0-9 _ . -", id);
	bad += refused(text, strlen(text), want);
	free(want);
	free(text);
	/* 34 Chinese characters are 102 bytes: the limit is in bytes. */
	text = xasprintf("plan a %s\n", name);
	bad += refused(text, strlen(text), "line 1: plan name is longer than 100 bytes");
	free(text);
	text = xstrdup("plan a 一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三四\n");
	bad += refused(text, strlen(text), "line 1: plan name is longer than 100 bytes");
	free(text);
	text = xasprintf("plan a\nwhen type=%s*\n", type);
	want = xasprintf("line 2: type \"%s*\" must be a type code (letters, digits, . _ : / -, "
			       "at most 64) with an optional * at the end", type);
	bad += refused(text, strlen(text), want);
	free(want);
	free(text);

	/* A line of DSP_LINE_MAX + 1 bytes, even if it is only a comment. */
	char *pad = rep('x', DSP_LINE_MAX + 1 - strlen("#"));
	text = xasprintf("plan a\nlevel 1 a:b\n#%s\n", pad);
	bad += refused(text, strlen(text), "line 3: line is longer than 1000 bytes");
	free(text);
	free(pad);

	/* Plan 201. */
	size_t cap = (DSP_PLANS_MAX + 1) * 32, len = 0;
	text = xmalloc(cap);
	for (int i = 0; i <= DSP_PLANS_MAX; i++)
		len += (size_t)snprintf(text + len, cap - len, "plan p%d\nlevel 1 a:b\n", i);
	bad += refused(text, len, "line 401: more than 200 plans");
	free(text);
	free(id);
	free(name);
	free(type);
	if (bad)
		fail();
}

#define REFUSED(lit, want) refused((lit), sizeof(lit) - 1, (want))

/* Bytes that are never text: the length is given, so a NUL is seen, not an end. */
static void
bad_bytes_are_refused(void **state)
{
	int bad = 0;
	static const char nul[] = "plan a\nlevel 1 a:b\nack 6\0\n";
	bad += refused(nul, sizeof nul - 1, "line 3: NUL byte");
	bad += REFUSED("plan a\n\x01level 1 a:b\n", "line 2: control character 0x01");
	bad += REFUSED("plan a b\rc\nlevel 1 a:b\n", "line 1: control character 0x0d");
	bad += REFUSED("plan a \x7f\n", "line 1: control character 0x7f");
	bad += REFUSED("plan a\n\nplan b \xe7\x81\n", "line 3: not valid UTF-8");
	bad += REFUSED("# \xc0\xaf\n", "line 1: not valid UTF-8");
	/* A BOM only counts at the very start. */
	bad += REFUSED("plan a\nlevel 1 a:b\n\xef\xbb\xbfplan b\n",
	    "line 3: unknown directive \"\xef\xbb\xbfplan\"");
	/* len cuts the text: what follows is not read. */
	struct dsp_plans *ps = NULL;
	char *err = NULL;
	const char *text = "plan a\nlevel 1 a:b\nGARBAGE";
	assert_int_equal(dsp_plans_parse(text, 19, &ps, &err), 0);
	assert_int_equal(ps->n, 1);
	dsp_plans_free(ps);
	if (bad)
		fail();
}

static struct incident
incident(enum inc_line line, enum inc_category cat, const char *type, int priority,
    const char *district)
{
	return (struct incident){ .line = line, .category = cat, .type = (char *)type,
		.priority = priority, .district_code = (char *)district };
}

static const char *
matched(const struct dsp_plans *ps, struct incident inc)
{
	const struct dsp_plan *pl = dsp_plans_match(ps, &inc);
	return pl ? pl->id : "(none)";
}

static void
first_matching_plan_wins(void **state)
{
	struct dsp_plans *ps = parse_ok(
	    "plan tianhe-fire\n"
	    "  when line=119 type=fire.building district=440106 priority=1-2\n"
	    "  level 1 a:b\n"
	    "plan fire\n"
	    "  when type=fire.*\n"
	    "  level 1 a:b\n"
	    "plan urgent-medical\n"
	    "  when category=public_health,accident priority=1\n"
	    "  level 1 a:b\n"
	    "plan typed\n"
	    "  when line=120 type=*\n"
	    "  level 1 a:b\n"
	    "plan police\n"
	    "  when line=110\n"
	    "  level 1 a:b\n"
	    "plan last\n"
	    "  when category=other\n"
	    "  level 1 a:b\n");
	/* All conditions hold: the specific plan, though "fire" would match too. */
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT, "fire.building", 1,
					    "440106")), "tianhe-fire");
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT, "fire.building", 2,
					    "440106")), "tianhe-fire");
	/* One condition fails: priority, district, missing district, line, exact type. */
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT, "fire.building", 3,
					    "440106")), "fire");
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT, "fire.building", 1,
					    "440104")), "fire");
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT, "fire.building", 1,
					    NULL)), "fire");
	assert_string_equal(matched(ps, incident(INC_LINE_110, INC_CAT_ACCIDENT, "fire.building", 1,
					    "440106")), "fire");
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT,
					    "fire.building.high_rise", 1, "440106")), "fire");
	/* The prefix is literal: "fire.*" wants "fire." and not "fire" or "fireworks". */
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT, "fire.", 3, NULL)),
	    "fire");
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_ACCIDENT, "fire", 3, NULL)),
	    "(none)");
	assert_string_equal(matched(ps, incident(INC_LINE_120, INC_CAT_ACCIDENT, "fireworks", 3,
					    NULL)), "typed");
	/* Category list and exact priority. */
	assert_string_equal(matched(ps, incident(INC_LINE_120, INC_CAT_PUBLIC_HEALTH,
					    "medical.stroke", 1, NULL)), "urgent-medical");
	assert_string_equal(matched(ps, incident(INC_LINE_120, INC_CAT_PUBLIC_HEALTH,
					    "medical.stroke", 2, NULL)), "typed");
	/* No type never matches a type condition, not even "*". */
	assert_string_equal(matched(ps, incident(INC_LINE_120, INC_CAT_PUBLIC_HEALTH, NULL, 2, NULL)),
	    "(none)");
	assert_string_equal(matched(ps, incident(INC_LINE_110, INC_CAT_SOCIAL_SECURITY, NULL, 3,
					    NULL)), "police");
	assert_string_equal(matched(ps, incident(INC_LINE_OTHER, INC_CAT_OTHER, NULL, 4, NULL)),
	    "last");
	assert_string_equal(matched(ps, incident(INC_LINE_122, INC_CAT_ACCIDENT, "traffic.x", 4,
					    NULL)), "(none)");
	assert_null(dsp_plans_match(NULL, &(struct incident){ .priority = 1 }));
	dsp_plans_free(ps);
}

static void
plan_without_conditions_matches_everything(void **state)
{
	struct dsp_plans *ps = parse_ok("plan specific\nwhen line=122\nlevel 1 a:b\n"
					"plan any-empty-when\nwhen\nlevel 1 a:b\n"
					"plan never-reached\nlevel 1 a:b\n");
	assert_string_equal(matched(ps, incident(INC_LINE_122, INC_CAT_ACCIDENT, NULL, 1, NULL)),
	    "specific");
	assert_string_equal(matched(ps, incident(INC_LINE_110, INC_CAT_OTHER, NULL, 4, NULL)),
	    "any-empty-when");
	dsp_plans_free(ps);
	ps = parse_ok("plan all\nlevel 1 a:b\n");
	assert_string_equal(matched(ps, incident(INC_LINE_OTHER, INC_CAT_OTHER, "x", 3, "1")), "all");
	/* Even values outside the enums: no condition means no check. */
	assert_string_equal(matched(ps, incident((enum inc_line)99, (enum inc_category)-1, NULL, 0,
					    NULL)), "all");
	dsp_plans_free(ps);
	/* ...while a condition never holds for such a value (and never shifts by it). */
	ps = parse_ok("plan l\nwhen line=110,119,120,122,other\nlevel 1 a:b\n"
		      "plan p\nwhen priority=1-3\nlevel 1 a:b\n");
	assert_string_equal(matched(ps, incident((enum inc_line)99, INC_CAT_OTHER, NULL, 1, NULL)),
	    "p");
	assert_string_equal(matched(ps, incident((enum inc_line)-1, INC_CAT_OTHER, NULL, 0, NULL)),
	    "(none)");
	dsp_plans_free(ps);
}

static void
levels_clamp_to_the_highest(void **state)
{
	struct dsp_plans *ps = parse_ok("plan a\nlevel 1 a:one\nlevel 2 a:two\nlevel 3 a:three\n");
	const struct dsp_plan *pl = &ps->plans[0];
	assert_string_equal(dsp_plan_level(pl, 1)->needs[0].kind, "one");
	assert_string_equal(dsp_plan_level(pl, 2)->needs[0].kind, "two");
	assert_string_equal(dsp_plan_level(pl, 3)->needs[0].kind, "three");
	assert_int_equal(dsp_plan_level(pl, 4)->level, 3);
	assert_int_equal(dsp_plan_level(pl, 1000)->level, 3);
	assert_null(dsp_plan_level(pl, 0));
	assert_null(dsp_plan_level(pl, -1));
	dsp_plans_free(ps);
}

static void
plan_as_json(void **state)
{
	struct dsp_plans *ps = parse_ok(
	    "plan building-fire 建筑火灾\n"
	    "  when line=122,119 category=accident type=fire.building*,fire.x priority=1-2 "
	    "district=440106\n"
	    "  level 1  119:fire_engine*2 120:ambulance\n"
	    "  level 2  119:fire_engine*4\n"
	    "  ack 60\n"
	    "plan bare\n  level 1 gas:repair\n");
	json_t *j = dsp_plan_to_json(&ps->plans[0]);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s,
	    "{\"ack_seconds\":60,\"id\":\"building-fire\",\"levels\":["
	    "{\"level\":1,\"needs\":[{\"agency\":\"119\",\"count\":2,\"kind\":\"fire_engine\"},"
	    "{\"agency\":\"120\",\"count\":1,\"kind\":\"ambulance\"}]},"
	    "{\"level\":2,\"needs\":[{\"agency\":\"119\",\"count\":4,\"kind\":\"fire_engine\"}]}],"
	    "\"name\":\"建筑火灾\",\"when\":{\"category\":[\"accident\"],\"district\":[\"440106\"],"
	    "\"line\":[\"119\",\"122\"],\"priority\":{\"max\":2,\"min\":1},"
	    "\"type\":[\"fire.building*\",\"fire.x\"]}}");
	free(s);
	json_decref(j);
	j = dsp_plan_to_json(&ps->plans[1]);
	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"ack_seconds\":120,\"id\":\"bare\",\"levels\":[{\"level\":1,"
			       "\"needs\":[{\"agency\":\"gas\",\"count\":1,\"kind\":\"repair\"}]}],"
			       "\"name\":\"bare\",\"when\":{}}");
	free(s);
	json_decref(j);
	dsp_plans_free(ps);
}

static char *
write_tmp(const char *text)
{
	const char *dir = getenv("TMPDIR");
	char *path = xasprintf("%s/liandong-plans-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void
load_reads_files_and_names_them_in_errors(void **state)
{
	struct dsp_plans *ps = NULL;
	char *err = NULL;
	char *path = write_tmp("plan a 甲\nlevel 1 a:b\n");
	assert_int_equal(dsp_plans_load(path, &ps, &err), 0);
	assert_int_equal(ps->n, 1);
	assert_string_equal(ps->plans[0].name, "甲");
	dsp_plans_free(ps);
	unlink(path);
	free(path);

	path = write_tmp("plan a\nlevel 1 a:b\nwhen category=fire\n");
	struct dsp_plans keep;
	ps = &keep;
	assert_int_equal(dsp_plans_load(path, &ps, &err), -1);
	assert_ptr_equal(ps, &keep);
	char *want = xasprintf("%s: line 3: unknown category \"fire\"", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	unlink(path);

	/* The same (now missing) path: the errno text. */
	err = NULL;
	assert_int_equal(dsp_plans_load(path, &ps, &err), -1);
	want = xasprintf("%s: %s", path, strerror(ENOENT));
	assert_string_equal(err, want);
	free(want);
	free(err);
	free(path);

	/* A folder opens but does not read. */
	err = NULL;
	assert_int_equal(dsp_plans_load("/", &ps, &err), -1);
	want = xasprintf("/: %s", strerror(EISDIR));
	assert_string_equal(err, want);
	free(want);
	free(err);
	assert_ptr_equal(ps, &keep);

	/* Past 8 MiB it is not a plan file, whatever it holds. */
	path = write_tmp("plan a\nlevel 1 a:b\n");
	FILE *f = fopen(path, "a");
	char *comment = rep('#', 1023);
	for (int i = 0; i < 8 * 1024; i++)
		fprintf(f, "%s\n", comment);
	fclose(f);
	free(comment);
	err = NULL;
	assert_int_equal(dsp_plans_load(path, &ps, &err), -1);
	want = xasprintf("%s: larger than 8 MiB, not a plan file", path);
	assert_string_equal(err, want);
	free(want);
	free(err);
	assert_ptr_equal(ps, &keep);
	unlink(path);
	free(path);
}

/*
 * server/plans.conf, found beside this file: CMake compiles with absolute
 * source paths, so __FILE__ leads to the checkout without any definition.
 */
static char *
shipped_path(void)
{
	const char *slash = strrchr(__FILE__, '/');
	if (slash == NULL)
		return xstrdup("../../server/plans.conf");
	return xasprintf("%.*s/../../server/plans.conf", (int)(slash - __FILE__), __FILE__);
}

static struct dsp_plans *
load_shipped(void)
{
	struct dsp_plans *ps = NULL;
	char *err = NULL;
	char *path = shipped_path();
	if (dsp_plans_load(path, &ps, &err) != 0)
		fail_msg("%s", err);
	free(path);
	return ps;
}

static void
shipped_plans_parse_and_fit_a_building_fire(void **state)
{
	struct dsp_plans *ps = load_shipped();
	assert_true(ps->n >= 9);
	const struct dsp_plan *pl = dsp_plans_match(ps, &(struct incident){ .line = INC_LINE_119,
		.category = INC_CAT_ACCIDENT, .type = "fire.building", .priority = 1 });
	assert_non_null(pl);
	assert_string_equal(pl->id, "building-fire");
	const struct dsp_level *lv = dsp_plan_level(pl, 1);
	int seen[4] = { 0 }, other = 0;
	static const char *const lines[3] = { "119", "120", "122" };
	for (int i = 0; i < lv->nneeds; i++) {
		int k = 0;
		while (k < 3 && strcmp(lv->needs[i].agency, lines[k]) != 0)
			k++;
		if (k < 3)
			seen[k] = 1;
		else
			other++;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	assert_int_equal(other, 0);

	/* A few of the demo's own reports land where an operator expects. */
	assert_string_equal(matched(ps, incident(INC_LINE_122, INC_CAT_ACCIDENT, "traffic.hazmat", 1,
					    "440112")), "hazmat-petrochem");
	assert_string_equal(matched(ps, incident(INC_LINE_122, INC_CAT_ACCIDENT, "traffic.hazmat", 1,
					    "440106")), "hazmat");
	assert_string_equal(matched(ps, incident(INC_LINE_122, INC_CAT_ACCIDENT, "traffic.collision",
					    2, "440106")), "traffic-injury");
	assert_string_equal(matched(ps, incident(INC_LINE_122, INC_CAT_ACCIDENT, "traffic.scrape", 3,
					    "440106")), "default-122");
	assert_string_equal(matched(ps, incident(INC_LINE_120, INC_CAT_PUBLIC_HEALTH,
					    "medical.cardiac_arrest", 1, NULL)), "cardiac-arrest");
	assert_string_equal(matched(ps, incident(INC_LINE_119, INC_CAT_NATURAL_DISASTER,
					    "rescue.flood", 2, "440106")), "flood-typhoon");
	assert_string_equal(matched(ps, incident(INC_LINE_110, INC_CAT_SOCIAL_SECURITY,
					    "public_order.dispute", 3, NULL)), "public-order");
	assert_string_equal(matched(ps, incident(INC_LINE_110, INC_CAT_SOCIAL_SECURITY,
					    "crime.theft", 3, NULL)), "default-110");
	dsp_plans_free(ps);
}

/*
 * No shipped plan is dead: for each one, an incident built from its own
 * conditions (first line, first category, first type without its star,
 * lowest priority, first district) gets that plan, so no earlier plan
 * shadows it entirely. Every line also has a plan.
 */
static void
shipped_plans_are_all_reachable(void **state)
{
	struct dsp_plans *ps = load_shipped();
	for (int i = 0; i < ps->n; i++) {
		const struct dsp_plan *pl = &ps->plans[i];
		struct incident inc = { .priority = pl->priority_min };
		while (pl->line_mask && !(pl->line_mask & (1 << inc.line)))
			inc.line++;
		while (pl->category_mask && !(pl->category_mask & (1 << inc.category)))
			inc.category++;
		char *type = NULL;
		if (pl->ntypes) {
			type = xstrdup(pl->types[0]);
			if (type[strlen(type) - 1] == '*')
				type[strlen(type) - 1] = '\0';
		}
		inc.type = type;
		inc.district_code = pl->ndistricts ? pl->districts[0] : NULL;
		const struct dsp_plan *got = dsp_plans_match(ps, &inc);
		if (got != pl)
			fail_msg("plan %s (line %d) is shadowed by %s", pl->id, pl->lineno,
			    got ? got->id : "(none)");
		free(type);
	}
	for (int l = 0; l < INC_LINE_N; l++)
		assert_non_null(dsp_plans_match(ps, &(struct incident){ .line = l,
			.category = INC_CAT_OTHER, .priority = 4 }));
	dsp_plans_free(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(minimal_plan_takes_defaults),
		cmocka_unit_test(full_plan_reads_every_field),
		cmocka_unit_test(limits_are_inclusive),
		cmocka_unit_test(empty_and_comment_only_files_hold_no_plans),
		cmocka_unit_test(same_need_in_two_levels_is_fine),
		cmocka_unit_test(structure_errors_name_their_line),
		cmocka_unit_test(when_errors_name_their_line),
		cmocka_unit_test(level_and_ack_errors_name_their_line),
		cmocka_unit_test(limits_are_enforced),
		cmocka_unit_test(bad_bytes_are_refused),
		cmocka_unit_test(first_matching_plan_wins),
		cmocka_unit_test(plan_without_conditions_matches_everything),
		cmocka_unit_test(levels_clamp_to_the_highest),
		cmocka_unit_test(plan_as_json),
		cmocka_unit_test(load_reads_files_and_names_them_in_errors),
		cmocka_unit_test(shipped_plans_parse_and_fit_a_building_fire),
		cmocka_unit_test(shipped_plans_are_all_reachable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
