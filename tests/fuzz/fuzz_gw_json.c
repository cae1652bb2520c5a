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
	struct gw_report rep;
	char *cause = NULL;
	memset(&rep, 0, sizeof rep);
	int rc = a->parse(&host, (const char *)data, size, &rep, &cause);
	if (rc == 0) {
		/* A parsed report must be valid, identified and serialisable. */
		if (inc_validate(&rep.inc, NULL) != 0 || rep.inc.ext_ref == NULL)
			__builtin_trap();
		json_decref(inc_to_json(&rep.inc));
	} else if (cause == NULL) {
		__builtin_trap(); /* every refusal says why */
	}
	gw_report_clear(&rep);
	free(cause);
	return 0;
}
