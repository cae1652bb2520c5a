/* libFuzzer harness: the generic JSON gateway adapter (intake payloads). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gw_adapter.h"
#include "srv_util.h"

/* The real clock: validation compares reported_at with it. */
static int64_t
now(void)
{
	return srv_now_us();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct gw_host host = { .api_version = GW_API_VERSION, .now_us = now };
	const struct gw_adapter *a = gw_registry_find(gw_builtin, "json");
	struct incident inc;
	char *cause = NULL;
	memset(&inc, 0, sizeof inc);
	int rc = a->parse(&host, (const char *)data, size, &inc, &cause);
	if (rc == 0) {
		/* A parsed report must be valid and serialisable. */
		if (inc_validate(&inc, NULL) != 0)
			__builtin_trap();
		json_decref(inc_to_json(&inc));
	} else if (cause == NULL) {
		__builtin_trap(); /* every refusal says why */
	}
	inc_clear(&inc);
	free(cause);
	return 0;
}
