/* libFuzzer harness: PATCH bodies (JSON -> inc_patch -> applied to an incident, rendered both ways). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "incident.h"
#include "srv_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return 0;
	struct inc_patch p;
	char *cause = NULL;
	if (inc_patch_from_json(j, &p, &cause) == 0) {
		struct incident inc = { .line = INC_LINE_110, .category = INC_CAT_OTHER, .priority = 3,
			.status = INC_ST_NEW };
		inc.title = strdup("t");
		inc_apply_patch(&inc, &p);
		/* The direct text rendering must equal the JSON one, byte for byte. */
		json_t *out = inc_to_json(&inc);
		char *want = srv_json_dump(out, NULL), *got = inc_to_text(&inc, NULL);
		if (want == NULL || got == NULL || strcmp(want, got) != 0)
			__builtin_trap();
		free(want);
		free(got);
		json_decref(out);
		inc_clear(&inc);
	}
	inc_patch_clear(&p);
	free(cause);
	json_decref(j);
	return 0;
}
