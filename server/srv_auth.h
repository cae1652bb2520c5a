/*
 * srv_auth.h - gateway credentials at intake: bearer tokens, the adapter a
 * gateway may post to, per-gateway rate limits, and optional HMAC request
 * signatures with replay rejection.
 *
 * Tokens look like ldg_<gateway>_<43 base64url chars> (256 random bits); the
 * store keeps only their BLAKE2b-256 hash. The gateways table is read at
 * start-up and then every two seconds off the loop, so keys added or revoked
 * with `liandong gateway ...` take effect within seconds while it runs.
 * Loop thread only, except the reload, which runs in the thread pool.
 */
#ifndef SRV_AUTH_H
#define SRV_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct auth;

/* What the request carried, copied out of its headers by the HTTP layer. */
struct auth_creds {
	const char *authorization; /* "Bearer ldg_..." or "" */
	const char *timestamp;     /* X-Liandong-Timestamp or "" */
	const char *signature;     /* X-Liandong-Signature: "sha256=<hex>" or "" */
};

/* Load the gateways from the database now (start-up; may block) and keep them fresh. */
int auth_open(struct auth **out, uv_loop_t *loop, const char *db_path, char **cause);
void auth_close(struct auth *a);

/*
 * Check an intake request for `adapter`. Returns 0 and sets *gateway (valid
 * until the next call) or an SRV_E_* code with *cause; for SRV_E_RATE_LIMITED
 * *retry_after is the seconds to wait.
 */
int auth_intake(struct auth *a, const struct auth_creds *c, const char *adapter, const char *body,
    size_t len, const char **gateway, int *retry_after, char **cause);

/* --- for the admin CLI and tests --------------------------------------------- */
#define AUTH_TOKEN_MAX 128
/* A new random token for a gateway name and its hash (32 bytes). */
void auth_new_token(const char *name, char *token, size_t len, unsigned char hash[32]);
void auth_hash_token(const char *token, unsigned char hash[32]);
/* HMAC-SHA256(secret, timestamp "." body) as lowercase hex (65 bytes with NUL). */
void auth_sign(const char *secret, const char *timestamp, const char *body, size_t len,
    char hex[65]);
/* Gateway names: 1-32 of a-z 0-9 -. */
int auth_name_valid(const char *name);

#endif
