/*
 * libFuzzer harness: linkage-plan files (dsp_plan). Any bytes either parse,
 * or fail with a message that names its line. Whatever parses must hold the
 * invariants the rest of the server relies on (levels 1..n without gaps,
 * counts in range, bounded sizes), match without crashing and turn into JSON.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsp_plan.h"
#include "incident.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_plan(const struct dsp_plan *pl)
{
	if (pl->nlevels < 1 || pl->nlevels > DSP_LEVELS_MAX || pl->priority_min < 1 ||
	    pl->priority_max > 4 || pl->priority_min > pl->priority_max ||
	    pl->ack_seconds < DSP_ACK_MIN || pl->ack_seconds > DSP_ACK_MAX ||
	    strlen(pl->id) > DSP_ID_MAX || strlen(pl->name) > DSP_NAME_MAX)
		__builtin_trap();
	for (int i = 0; i < pl->nlevels; i++) {
		const struct dsp_level *lv = &pl->levels[i];
		if (lv->level != i + 1 || lv->nneeds < 1 || dsp_plan_level(pl, i + 1) != lv)
			__builtin_trap();
		for (int k = 0; k < lv->nneeds; k++)
			if (lv->needs[k].count < 1 || lv->needs[k].count > DSP_COUNT_MAX ||
			    lv->needs[k].agency[0] == '\0' || lv->needs[k].kind[0] == '\0')
				__builtin_trap();
	}
	if (dsp_plan_level(pl, 99) != &pl->levels[pl->nlevels - 1] || dsp_plan_level(pl, 0))
		__builtin_trap();
	json_t *j = dsp_plan_to_json(pl);
	char *s = json_dumps(j, JSON_COMPACT);
	if (j == NULL || s == NULL) /* NULL would mean a string that is not UTF-8 */
		__builtin_trap();
	free(s);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsp_plans *ps = NULL;
	char *err = NULL;
	/* The text is not NUL-terminated: ASan sees any read past size. */
	if (dsp_plans_parse((const char *)data, size, &ps, &err) != 0) {
		if (err == NULL || strncmp(err, "line ", 5) != 0 || ps != NULL)
			__builtin_trap();
		free(err);
		return 0;
	}
	if (err != NULL || ps == NULL || ps->n > DSP_PLANS_MAX)
		__builtin_trap();
	static const struct incident incs[] = {
		{ .line = INC_LINE_119, .category = INC_CAT_ACCIDENT, .type = "fire.building",
		    .priority = 1, .district_code = "440106" },
		{ .line = INC_LINE_120, .category = INC_CAT_PUBLIC_HEALTH, .priority = 3 },
		{ .line = INC_LINE_OTHER, .category = INC_CAT_OTHER, .type = "x", .priority = 4,
		    .district_code = "A" },
	};
	for (size_t i = 0; i < sizeof incs / sizeof incs[0]; i++) {
		const struct dsp_plan *m = dsp_plans_match(ps, &incs[i]);
		if (m != NULL && (m < ps->plans || m >= ps->plans + ps->n))
			__builtin_trap();
	}
	for (int i = 0; i < ps->n; i++)
		check_plan(&ps->plans[i]);
	dsp_plans_free(ps);
	return 0;
}
