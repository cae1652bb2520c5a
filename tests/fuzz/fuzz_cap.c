/* libFuzzer harness: the OASIS CAP 1.2 adapter (XML alerts). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_adapter.h"
#include "srv_util.h"

/* The real clock: validation compares sent with it. */
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
	const struct gw_adapter *a = gw_registry_find(gw_builtin, "cap");
	struct gw_report rep;
	char *cause = NULL;
	memset(&rep, 0, sizeof rep);
	int rc = a->parse(&host, (const char *)data, size, &rep, &cause);
	if (rc == 0) {
		/* A parsed alert is valid, identified, with details that fit and parse. */
		if (inc_validate(&rep.inc, NULL) != 0 || rep.inc.ext_ref == NULL ||
		    rep.inc.details == NULL || strlen(rep.inc.details) > INC_DETAILS_MAX)
			__builtin_trap();
		json_t *d = json_loads(rep.inc.details, 0, NULL);
		if (!json_is_object(d))
			__builtin_trap();
		json_decref(d);
		/* Updates and cancels name what they act on. */
		if (rep.action != GW_REPORT && rep.ntargets == 0)
			__builtin_trap();
		json_decref(inc_to_json(&rep.inc));
	} else if (cause == NULL || rep.inc.ext_ref != NULL || rep.ntargets != 0) {
		__builtin_trap(); /* every refusal says why, and leaves nothing behind */
	}
	gw_report_clear(&rep);
	free(cause);
	return 0;
}
