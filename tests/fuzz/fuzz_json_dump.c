/*
 * libFuzzer harness: srv_json_dump must write the same bytes as jansson's
 * json_dumps(j, SRV_JSON_FLAGS) for whatever jansson parses (strings with
 * escapes and control characters, any number, deep and wide trees).
 */
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
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (j == NULL)
		return 0;
	/* A bare value goes into an array (both dump only objects and arrays). */
	if (!json_is_object(j) && !json_is_array(j)) {
		json_t *a = json_array();
		json_array_append_new(a, j);
		j = a;
	}
	char *want = json_dumps(j, SRV_JSON_FLAGS);
	size_t len = 0;
	char *got = srv_json_dump(j, &len);
	if (want == NULL || got == NULL || strlen(want) != len || memcmp(want, got, len) != 0)
		__builtin_trap();
	free(want);
	free(got);
	json_decref(j);
	return 0;
}
