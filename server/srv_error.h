/*
 * srv_error.h - the project's error codes.
 *
 * Functions return 0 or a negative code. Codes below SRV_E_BASE are the
 * project's own, listed once here with their HTTP status, the stable
 * machine-readable code clients see in {"error":{"code":...}}, and a default
 * human message. Detail for a particular failure travels beside the code as
 * an allocated "cause" string (char **cause), never inside the code.
 */
#ifndef SRV_ERROR_H
#define SRV_ERROR_H

#define SRV_ERRORS(X)                                                                          \
	X(BAD_JSON, 400, "invalid_json", "the request body is not valid JSON")                 \
	X(JSON_DEPTH, 400, "json_too_deep", "the JSON nests deeper than allowed")             \
	X(BAD_FIELD, 422, "invalid_field", "a field has a wrong type or value")                \
	X(MISSING_FIELD, 422, "missing_field", "a required field is missing")                  \
	X(BAD_UTF8, 400, "invalid_utf8", "text is not valid UTF-8")                            \
	X(BAD_QUERY, 400, "invalid_query", "a query parameter is not valid")                   \
	X(BAD_XML, 400, "invalid_xml", "the request body is not well-formed XML")              \
	X(UNAUTHORIZED, 401, "unauthorized", "a valid gateway key is required")                \
	X(BAD_SIGNATURE, 401, "bad_signature", "the request signature is missing or wrong")    \
	X(FORBIDDEN, 403, "forbidden", "this gateway may not do that")                         \
	X(REPLAYED, 409, "replayed", "this signed request was already received")               \
	X(TOO_MANY_CONNS, 429, "too_many_connections", "this address has too many connections open") \
	X(RATE_LIMITED, 429, "rate_limited", "too many requests; slow down")                    \
	X(BAD_CONTENT_TYPE, 415, "unsupported_media_type", "the content type is not accepted") \
	X(NOT_FOUND, 404, "not_found", "no such resource")                                     \
	X(NO_ROUTE, 404, "no_route", "no such endpoint")                                       \
	X(METHOD, 405, "method_not_allowed", "the method is not allowed on this endpoint")     \
	X(UNKNOWN_ADAPTER, 404, "unknown_adapter", "no gateway adapter has that name")         \
	X(LENGTH_REQUIRED, 411, "length_required", "a request body needs Content-Length")      \
	X(TOO_LARGE, 413, "payload_too_large", "the request body is larger than allowed")      \
	X(PRECONDITION, 428, "precondition_required", "If-Match with the version is required") \
	X(STALE, 412, "version_conflict", "the incident changed since that version")           \
	X(TRANSITION, 409, "invalid_transition", "the status cannot change that way")          \
	X(UNIT_BUSY, 409, "unit_busy", "the unit is not available")                            \
	X(NOT_LINKED, 403, "agency_not_linked", "that agency has no task on this incident")    \
	X(CONFLICT, 409, "conflict", "the request conflicts with the current state")           \
	X(LOGIN, 401, "sign_in_required", "sign in first")                                     \
	X(LOGIN_FAILED, 401, "bad_credentials", "the name or the password is wrong")           \
	X(ROLE, 403, "not_permitted", "your role may not do that")                             \
	X(NOT_VISIBLE, 403, "not_your_agency", "this incident does not concern your agency")   \
	X(BAD_ORIGIN, 403, "bad_origin", "the request comes from another site")                \
	X(SHUTTING_DOWN, 503, "shutting_down", "the server is shutting down")                  \
	X(OVERLOADED, 503, "overloaded", "the intake backlog is full; retry later")            \
	X(STORE, 500, "store_error", "the store could not commit the change")                  \
	X(INTERNAL, 500, "internal", "internal error")                                         \
	X(CONFIG, 0, "config", "invalid configuration")

enum srv_err {
	SRV_E_BASE = -10000,
#define SRV_ERR_ENUM(name, status, code, msg) SRV_E_##name,
	SRV_ERRORS(SRV_ERR_ENUM)
#undef SRV_ERR_ENUM
	SRV_E_END
};

/* HTTP status for an error (500 for codes that are not the project's). */
int srv_err_status(int err);
/* Stable machine-readable code, e.g. "invalid_json". */
const char *srv_err_code(int err);
/* Default human message. */
const char *srv_err_msg(int err);
/*
 * Set *cause (when cause is not NULL and *cause is NULL) to a formatted
 * detail message and return err, so validators can write
 * `return srv_fail(cause, SRV_E_BAD_FIELD, "priority must be 1-4")`.
 */
int srv_fail(char **cause, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
