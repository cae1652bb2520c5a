/*
 * fuzz_adapter.h - what every gateway adapter's parse must guarantee, shared
 * by the adapter harnesses (fuzz_gw_json.c, fuzz_line*.c, fuzz_cap.c,
 * fuzz_eido.c). Each harness adds only what is particular to its adapter.
 */
#ifndef FUZZ_ADAPTER_H
#define FUZZ_ADAPTER_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_adapter.h"
#include "srv_util.h"

/* The real clock: validation compares report times with it. */
static int64_t
fuzz_now(void)
{
	return srv_now_us();
}

static const struct gw_host fuzz_host = { .api_version = GW_API_VERSION, .now_us = fuzz_now };

/*
 * Parse data with the named adapter. An accepted report must be valid,
 * identified, serialisable, with details (when present) a JSON object within
 * the limit, and an update or cancel must name what it acts on; a refusal must
 * say why and leave nothing behind. Traps otherwise. Returns 1 with *rep
 * filled (the caller clears it) when the adapter accepted the input.
 */
static int
fuzz_adapter_parse(const char *name, const uint8_t *data, size_t size, struct gw_report *rep)
{
	const struct gw_adapter *a = gw_registry_find(gw_builtin, name);
	char *cause = NULL;
	if (a == NULL)
		__builtin_trap();
	memset(rep, 0, sizeof *rep);
	if (a->parse(&fuzz_host, (const char *)data, size, rep, &cause) != 0) {
		if (cause == NULL || rep->inc.ext_ref != NULL || rep->inc.title != NULL ||
		    rep->ntargets != 0)
			__builtin_trap();
		free(cause);
		return 0;
	}
	if (cause != NULL || inc_validate(&rep->inc, NULL) != 0 || rep->inc.ext_ref == NULL)
		__builtin_trap();
	if (rep->action != GW_REPORT && rep->ntargets == 0)
		__builtin_trap();
	if (rep->inc.details != NULL) {
		json_t *d = json_loads(rep->inc.details, 0, NULL);
		if (!json_is_object(d) || strlen(rep->inc.details) > INC_DETAILS_MAX)
			__builtin_trap();
		json_decref(d);
	}
	json_decref(inc_to_json(&rep->inc));
	return 1;
}

#endif
