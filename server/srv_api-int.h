/*
 * srv_api-int.h - request helpers shared by the REST modules (srv_api.c,
 * dsp_api.c). Each that fails has already answered the request.
 */
#ifndef SRV_API_INT_H
#define SRV_API_INT_H

#include <jansson.h>
#include <stdint.h>

#include "srv.h"

struct db_query;

/* The body as JSON, or NULL with *err and *cause set. */
json_t *parse_body(struct srv_req *req, int *err, char **cause);
int content_type_is(const struct srv_req *req, const char *want);
/* A positive decimal id. 0 or -1. */
int parse_id(const char *s, int64_t *out);
/* "3" or 3 from If-Match. 0 or -1. */
int parse_if_match(const char *s, int64_t *out);
/* Answer with an error and free cause. */
void fail(struct srv_req *req, int err, char *cause);
/*
 * The request's body as a JSON object (application/json) whose fields are
 * all in known (NULL-terminated; NULL: any), or NULL after answering.
 */
json_t *object_body(struct srv_req *req, const char *const *known);
/* Refuse fields not in known (a typo never silently drops intent): 0, or -1 after answering. */
int only_fields(struct srv_req *req, json_t *j, const char *const *known);
/* Who a console request is (until sign-in): console@address. */
const char *peer_actor(struct srv_req *req, char *buf, size_t len);
struct db_req;
/*
 * Hand a change to the store writer; done(r) answers it after the commit. A
 * store that is full or stopping is answered here (503, Retry-After when full).
 */
void submit_store(struct srv_req *req, struct db_req *r, void (*done)(struct db_req *));
/* A stale change (412): the error with the current incident, never a silent overwrite. */
void reply_stale(struct srv_req *req, const struct db_req *r);
/* Run a read off the loop; done (NULL: answer with its body) gets the query. */
void submit_read(struct srv_req *req, struct db_query *q, void (*done)(struct db_query *));
/* Query arguments; -1 after answering 400. */
int arg_time(struct srv_req *req, const char *name, int64_t *out);
int arg_int(struct srv_req *req, const char *name, int64_t lo, int64_t hi, int64_t *out);

/* dsp_api.c: routes under /api/v1/incidents/{id}/... Returns 1 when handled. */
int dsp_api_incident(struct srv_req *req, int64_t id, const char *rest);

#endif
