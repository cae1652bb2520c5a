/*
 * gw_json.c - the generic JSON adapter.
 *
 * Takes the common incident model's own field names (docs/api.md) so that
 * any agency system that can post JSON can join before its line's adapter
 * exists. ext_ref is required: without the agency's reference a retry could
 * not be recognised, and intake must be idempotent.
 */
#include "gw_adapter.h"
#include "srv_error.h"

#include <jansson.h>
#include <string.h>

static int
json_parse(const struct gw_host *host, const char *body, size_t len, struct gw_report *rep,
    char **cause)
{
	struct incident *out = &rep->inc;
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return srv_fail(cause, SRV_E_BAD_JSON, "invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	int rc = inc_from_json(root, out, cause);
	if (rc == 0 && out->ext_ref == NULL)
		rc = srv_fail(cause, SRV_E_MISSING_FIELD,
		    "ext_ref (the agency's own reference) is required for intake");
	if (rc == 0 && out->reported_at == 0)
		out->reported_at = host->now_us();
	json_decref(root);
	if (rc != 0)
		gw_report_clear(rep);
	else
		rep->action = GW_REPORT;
	return rc;
}

static const char *const json_types[] = { "application/json", NULL };

const struct gw_adapter gw_json = {
	.api_version = GW_API_VERSION,
	.name = "json",
	.summary = "Generic JSON in the common incident model's field names",
	.content_types = json_types,
	.line = INC_LINE_OTHER,
	.parse = json_parse,
};
