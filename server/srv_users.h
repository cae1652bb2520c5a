/*
 * srv_users.h - people: users with roles, password sign-in, sessions.
 *
 * Users (dispatcher of one agency, supervisor, leader, administrator) are
 * made with `liandong user ...`; passwords are stored as argon2id hashes
 * (libsodium crypto_pwhash_str). Signing in checks the password in the thread
 * pool (the hash costs tens of milliseconds and 64 MiB by design), then
 * commits the session (its token's hash, the user, expiry) and an audit row
 * through the writer before answering with an HttpOnly, SameSite=Strict
 * cookie. Sessions live in memory on the loop, loaded at start-up; the users
 * table is reread every two seconds off the loop, so a user disabled with the
 * CLI loses every session within seconds, consoles included.
 *
 * Failed sign-ins are throttled per user name and per address: after 5
 * failures in 15 minutes, 429 with Retry-After until the window passes.
 */
#ifndef SRV_USERS_H
#define SRV_USERS_H

#include <stdint.h>

struct srv;
struct srv_req;
struct srv_config;

enum srv_role { ROLE_DISPATCHER, ROLE_SUPERVISOR, ROLE_LEADER, ROLE_ADMIN, ROLE_N };
#define ROLE_BIT(r) (1u << (r))
#define ROLES_ALL ((1u << ROLE_N) - 1)

/* Who is asking: a signed-in user (valid for the request's life on the loop). */
struct srv_user {
	char name[33];
	char display[65];
	enum srv_role role;
	char agency[17];     /* dispatchers: the agency they work for; "" otherwise */
	int64_t expires_at;  /* of the session, Unix us */
};

const char *srv_role_name(enum srv_role r);
int srv_role_parse(const char *s); /* -1 when unknown */

/* Load users and sessions (start-up), and keep the users fresh. */
int srv_users_open(struct srv *srv, const char *db_path, char **cause);
void srv_users_close(struct srv *srv);

/*
 * The user behind a request's cookie header value (or NULL): a live session
 * of an enabled user. *found_token is set when a session cookie was present.
 */
const struct srv_user *srv_users_session(struct srv *srv, const char *cookie_header);

/* Take one request from the user's rate (console.rate). 0, or -1 with *retry_after. */
int srv_users_take(struct srv *srv, const char *name, int *retry_after);

/* POST/GET/DELETE /api/v1/session. Returns 1 when it handled the request. */
int srv_users_route(struct srv_req *req);

/* Is a console's session still good? (checked every two seconds for open consoles) */
int srv_users_still_valid(struct srv *srv, const char *name, int64_t expires_at);

/* `liandong user add|disable|enable|reset|list ...` (argv starts at ACTION). */
int srv_users_cli(int argc, char **argv, struct srv_config *cfg);

#endif
