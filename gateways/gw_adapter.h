/*
 * gw_adapter.h - the gateway adapter interface.
 *
 * An adapter turns one agency line's or one standard's payload into the
 * common incident model (server/incident.h). It is data: a const table of
 * hooks with the API version first, filled with designated initializers.
 * Adapters reach the core only through the host table they are handed,
 * never through globals; new fields go at the end of both tables.
 */
#ifndef GW_ADAPTER_H
#define GW_ADAPTER_H

#include <stddef.h>
#include <stdint.h>

#include "incident.h"

#define GW_API_VERSION 2

/* What a report asks of the centre. */
enum gw_action {
	/*
	 * A report identified by (adapter, inc.ext_ref): new, a retry of one
	 * already stored (answered with the stored incident), or, when its
	 * version is higher than the stored one's, a later version of it
	 * (its fields replace the incident's).
	 */
	GW_REPORT,
	/* Acts on the incident of earlier reports (targets): update its fields. */
	GW_UPDATE,
	/* Acts on the incident of earlier reports (targets): cancel it. */
	GW_CANCEL,
};

/*
 * One parsed payload. inc is the validated draft; inc.ext_ref identifies
 * this report (required: it is what makes intake idempotent). Owned by the
 * caller; free with gw_report_clear().
 */
struct gw_report {
	struct incident inc;
	enum gw_action action;
	int64_t version;   /* the agency's version of this report, increasing; 0 when none */
	char **targets;    /* GW_UPDATE / GW_CANCEL: ext_refs of earlier reports, same adapter */
	int ntargets;
};

void gw_report_clear(struct gw_report *r);
/* Append a target reference (copied). */
void gw_report_add_target(struct gw_report *r, const char *ext_ref);

/* What the core lends an adapter. */
struct gw_host {
	int api_version;
	/* Current wall-clock time, Unix microseconds. */
	int64_t (*now_us)(void);
	/* Log a line for this adapter (level as srv_log_level). */
	void (*log)(const struct gw_host *host, int level, const char *msg);
	void *ctx;
};

struct gw_adapter {
	int api_version;        /* GW_API_VERSION the adapter was built for */
	const char *name;       /* URL name: POST /api/v1/intake/{name} */
	const char *summary;    /* one line for docs and `liandong adapters` */
	/* Accepted media types of the payload, NULL-terminated; the first is the canonical one. */
	const char *const *content_types;
	/* The line whose gateways may post here (INC_LINE_OTHER: standards, any gateway named for it). */
	enum inc_line line;
	/*
	 * Parse one payload into a validated report. body is not NUL-terminated
	 * and belongs to the caller. On success out is filled (the caller owns
	 * it: gw_report_clear) and 0 is returned; on failure out is left clear
	 * and an SRV_E_* code is returned with *cause set. Pure computation: no
	 * I/O, no globals, safe on the loop and in any thread.
	 */
	int (*parse)(const struct gw_host *host, const char *body, size_t len,
	    struct gw_report *out, char **cause);
	/*
	 * Optional: render a stored incident in this adapter's format (e.g. an
	 * EIDO for another centre). *out is allocated (caller frees). Returns 0
	 * or an SRV_E_* code with *cause set.
	 */
	int (*render)(const struct gw_host *host, const struct incident *inc, char **out,
	    size_t *len, char **cause);
};

/* The built-in adapters, NULL-terminated. */
extern const struct gw_adapter *const gw_builtin[];

/*
 * Check a registry list at start-up: every adapter has the right API
 * version, a URL-safe unique name, a content type and a parse hook.
 * Returns 0, or -1 with *cause set.
 */
int gw_registry_check(const struct gw_adapter *const *list, char **cause);
/* Does this adapter accept a request's Content-Type (parameters ignored)? */
int gw_accepts(const struct gw_adapter *a, const char *content_type);
/* Find an adapter by name in a checked list; NULL when there is none. */
const struct gw_adapter *gw_registry_find(const struct gw_adapter *const *list, const char *name);

#endif
