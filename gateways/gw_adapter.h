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

#define GW_API_VERSION 1

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
	const char *content_type; /* media type of the payload, e.g. "application/json" */
	/*
	 * Parse one payload into a validated draft. body is not NUL-terminated
	 * and belongs to the caller. On success out is filled (the caller owns
	 * it and frees it with inc_clear) and 0 is returned; on failure out is
	 * left clear and an SRV_E_* code is returned with *cause set. Never
	 * called with the loop blocked on I/O: parse is pure computation.
	 */
	int (*parse)(const struct gw_host *host, const char *body, size_t len,
	    struct incident *out, char **cause);
};

/* The built-in adapters, NULL-terminated. */
extern const struct gw_adapter *const gw_builtin[];

/*
 * Check a registry list at start-up: every adapter has the right API
 * version, a URL-safe unique name, a content type and a parse hook.
 * Returns 0, or -1 with *cause set.
 */
int gw_registry_check(const struct gw_adapter *const *list, char **cause);
/* Find an adapter by name in a checked list; NULL when there is none. */
const struct gw_adapter *gw_registry_find(const struct gw_adapter *const *list, const char *name);

#endif
