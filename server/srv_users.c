/* srv_users.c - users, sign-in and sessions; see srv_users.h. */
#include "srv_users.h"
#include "srv.h"
#include "db_store-int.h"
#include "db_store.h"
#include "srv_api-int.h"
#include "hub.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_COOKIE "ld_session"
#define THROTTLE_FAILS 5
#define THROTTLE_WINDOW_US (15 * 60 * INT64_C(1000000))
#define THROTTLE_SLOTS 1024
#define SESSION_SLOTS 4096

static const char *const role_names[ROLE_N] = { "dispatcher", "supervisor", "leader", "admin" };

const char *srv_role_name(enum srv_role r) { return role_names[r]; }

int
srv_role_parse(const char *s)
{
	for (int i = 0; i < ROLE_N; i++)
		if (strcmp(role_names[i], s) == 0)
			return i;
	return -1;
}

struct uentry {
	struct srv_user u;
	char *pwhash;
	int disabled;
};

struct session {
	unsigned char hash[32];
	char user[33];
	int64_t expires_at;
	int used;
};

struct throttle {
	char key[80];       /* "u:name" or "a:address" */
	int fails;
	int64_t first;      /* start of the window */
};

/* A user's request bucket, kept across reloads of the users table. */
struct ubucket {
	char name[33];
	struct srv_bucket b;
};

struct users {
	struct srv *srv;
	struct ubucket *buckets;
	int nbuckets;
	char *db_path;
	struct uentry *u;
	int n;
	struct session sessions[SESSION_SLOTS]; /* open addressing on the hash */
	int nsessions;
	struct throttle th[THROTTLE_SLOTS];
	uv_timer_t timer;
	int reloading;
	int closing;
	int refs;           /* the timer + reload jobs in the pool; freed at 0 */
};

static struct users *
U(struct srv *srv)
{
	return srv->users;
}

/* --- the users table ----------------------------------------------------------------- */

static void
entries_free(struct uentry *e, int n)
{
	for (int i = 0; i < n; i++) {
		sodium_memzero(e[i].pwhash, strlen(e[i].pwhash));
		free(e[i].pwhash);
	}
	free(e);
}

static int
load_users(const char *path, struct uentry **out, int *n, char **cause)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	*out = NULL;
	*n = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT name, coalesce(display, name), role, coalesce(agency,''),"
		" pwhash, disabled_at IS NOT NULL FROM users", -1, &s, NULL) != SQLITE_OK) {
		srv_fail(cause, SRV_E_STORE, "%s: %s", path, sqlite3_errmsg(db));
		sqlite3_close(db);
		return -1;
	}
	int cap = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			*out = xrealloc(*out, sizeof **out * (size_t)cap);
		}
		struct uentry *e = &(*out)[*n];
		memset(e, 0, sizeof *e);
		snprintf(e->u.name, sizeof e->u.name, "%s", (const char *)sqlite3_column_text(s, 0));
		snprintf(e->u.display, sizeof e->u.display, "%s", (const char *)sqlite3_column_text(s, 1));
		int r = srv_role_parse((const char *)sqlite3_column_text(s, 2));
		e->u.role = r < 0 ? ROLE_LEADER : (enum srv_role)r;
		snprintf(e->u.agency, sizeof e->u.agency, "%s", (const char *)sqlite3_column_text(s, 3));
		e->pwhash = xstrdup((const char *)sqlite3_column_text(s, 4));
		/* An unknown role is disabled rather than guessed at. */
		e->disabled = sqlite3_column_int(s, 5) || r < 0;
		(*n)++;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	return 0;
}

static struct uentry *
find_user(struct users *us, const char *name)
{
	for (int i = 0; i < us->n; i++)
		if (strcmp(us->u[i].u.name, name) == 0)
			return &us->u[i];
	return NULL;
}

struct reload_job {
	uv_work_t w;
	struct users *us;
	struct uentry *u;
	int n, rc;
	char *cause;
};

static void
reload_work(uv_work_t *w)
{
	struct reload_job *j = w->data;
	j->rc = load_users(j->us->db_path, &j->u, &j->n, &j->cause);
}

static void users_free(struct users *us);

static void
reload_done(uv_work_t *w, int status)
{
	struct reload_job *j = w->data;
	struct users *us = j->us;
	us->reloading = 0;
	if (status == 0 && j->rc == 0 && !us->closing) {
		entries_free(us->u, us->n);
		us->u = j->u;
		us->n = j->n;
		j->u = NULL;
		j->n = 0;
	} else if (j->rc) {
		log_warn("users", "reload failed; keeping the users in memory|cause=\"%s\"",
		    j->cause ? j->cause : "");
	}
	entries_free(j->u, j->n);
	free(j->cause);
	free(j);
	if (--us->refs == 0)
		users_free(us);
}

static int
console_valid(void *ctx, const char *name, int64_t expires)
{
	return srv_users_still_valid(ctx, name, expires);
}

static void
on_timer(uv_timer_t *t)
{
	struct users *us = t->data;
	/* Consoles of users disabled or whose session ran out leave (as of the last reload). */
	int n = us->srv->hub ? hub_check_sessions(us->srv->hub, console_valid, us->srv) : 0;
	if (n)
		log_info("users", "consoles closed: session ended or user disabled|count=%d", n);
	if (us->reloading || us->closing)
		return;
	struct reload_job *j = xcalloc(1, sizeof *j);
	j->w.data = j;
	j->us = us;
	us->reloading = 1;
	us->refs++;
	uv_queue_work(us->srv->loop, &j->w, reload_work, reload_done);
}

/* --- sessions -------------------------------------------------------------------------- */

static unsigned
slot_of(const unsigned char hash[32])
{
	unsigned v;
	memcpy(&v, hash, sizeof v);
	return v % SESSION_SLOTS;
}

static struct session *
session_find(struct users *us, const unsigned char hash[32])
{
	for (unsigned i = 0, k = slot_of(hash); i < SESSION_SLOTS; i++, k = (k + 1) % SESSION_SLOTS) {
		struct session *s = &us->sessions[k];
		if (s->used == 0)
			return NULL;
		if (s->used == 1 && sodium_memcmp(s->hash, hash, 32) == 0)
			return s;
	}
	return NULL;
}

/* Returns -1 when the table is full (SESSION_SLOTS, minus expired ones swept here). */
static int
session_add(struct users *us, const unsigned char hash[32], const char *user, int64_t expires)
{
	int64_t now = srv_now_us();
	if (us->nsessions >= SESSION_SLOTS * 3 / 4)
		for (int i = 0; i < SESSION_SLOTS; i++)
			if (us->sessions[i].used == 1 && us->sessions[i].expires_at <= now) {
				us->sessions[i].used = 2; /* a tombstone keeps probe chains intact */
				us->nsessions--;
			}
	if (us->nsessions >= SESSION_SLOTS * 3 / 4)
		return -1;
	for (unsigned i = 0, k = slot_of(hash); i < SESSION_SLOTS; i++, k = (k + 1) % SESSION_SLOTS) {
		struct session *s = &us->sessions[k];
		if (s->used != 1) {
			memcpy(s->hash, hash, 32);
			snprintf(s->user, sizeof s->user, "%s", user);
			s->expires_at = expires;
			s->used = 1;
			us->nsessions++;
			return 0;
		}
	}
	return -1;
}

static void
session_drop(struct users *us, struct session *s)
{
	s->used = 2;
	us->nsessions--;
}

/* The cookie's value, base64url of 32 random bytes, from a Cookie header. */
static int
cookie_token(const char *header, char *out, size_t len)
{
	const char *p = header;
	size_t nlen = strlen(SESSION_COOKIE);
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, SESSION_COOKIE, nlen) == 0 && p[nlen] == '=') {
			p += nlen + 1;
			size_t n = strcspn(p, ";");
			if (n == 0 || n >= len)
				return -1;
			memcpy(out, p, n);
			out[n] = '\0';
			return 0;
		}
		p = strchr(p, ';');
	}
	return -1;
}

static void
hash_token(const char *token, unsigned char hash[32])
{
	crypto_generichash(hash, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

const struct srv_user *
srv_users_session(struct srv *srv, const char *cookie_header)
{
	static struct srv_user out;
	struct users *us = U(srv);
	char token[96];
	if (us == NULL || cookie_header == NULL || cookie_token(cookie_header, token, sizeof token))
		return NULL;
	unsigned char hash[32];
	hash_token(token, hash);
	struct session *s = session_find(us, hash);
	if (s == NULL)
		return NULL;
	if (s->expires_at <= srv_now_us()) {
		session_drop(us, s);
		return NULL;
	}
	struct uentry *e = find_user(us, s->user);
	if (e == NULL || e->disabled)
		return NULL;
	out = e->u;
	out.expires_at = s->expires_at;
	return &out;
}

int
srv_users_still_valid(struct srv *srv, const char *name, int64_t expires_at)
{
	struct users *us = U(srv);
	if (us == NULL)
		return 1;
	struct uentry *e = find_user(us, name);
	return e && !e->disabled && expires_at > srv_now_us();
}

/* --- throttling ----------------------------------------------------------------------- */

static struct throttle *
throttle_get(struct users *us, const char *key, int create)
{
	int64_t now = srv_now_us();
	struct throttle *free_slot = NULL;
	for (int i = 0; i < THROTTLE_SLOTS; i++) {
		struct throttle *t = &us->th[i];
		if (t->key[0] && now - t->first > THROTTLE_WINDOW_US)
			t->key[0] = '\0'; /* the window passed: forgotten */
		if (t->key[0] && strcmp(t->key, key) == 0)
			return t;
		if (!t->key[0] && free_slot == NULL)
			free_slot = t;
	}
	if (!create)
		return NULL;
	if (free_slot == NULL) /* full of recent failures: reuse the oldest */
		for (int i = 0; i < THROTTLE_SLOTS; i++)
			if (free_slot == NULL || us->th[i].first < free_slot->first)
				free_slot = &us->th[i];
	snprintf(free_slot->key, sizeof free_slot->key, "%s", key);
	free_slot->fails = 0;
	free_slot->first = now;
	return free_slot;
}

/* Seconds to wait when the user name or the address has failed too often; 0: go ahead. */
static int
throttled(struct users *us, const char *name, const char *addr)
{
	char key[80];
	int64_t now = srv_now_us(), wait = 0;
	for (int k = 0; k < 2; k++) {
		snprintf(key, sizeof key, "%s:%s", k ? "a" : "u", k ? addr : name);
		struct throttle *t = throttle_get(us, key, 0);
		if (t && t->fails >= THROTTLE_FAILS) {
			int64_t w = (t->first + THROTTLE_WINDOW_US - now) / 1000000 + 1;
			if (w > wait)
				wait = w;
		}
	}
	return (int)wait;
}

static void
note_failure(struct users *us, const char *name, const char *addr)
{
	char key[80];
	for (int k = 0; k < 2; k++) {
		snprintf(key, sizeof key, "%s:%s", k ? "a" : "u", k ? addr : name);
		throttle_get(us, key, 1)->fails++;
	}
}

/* --- the writer's side: sessions and their audit rows ------------------------------------ */

struct session_args {
	unsigned char hash[32];
	char user[33];
	char address[64];
	char action[24];     /* login, login.failed, logout */
	int64_t expires_at;
	char token[96];      /* login: handed to the client once */
};

static void
session_args_free(void *p)
{
	if (p) {
		sodium_memzero(p, sizeof(struct session_args));
		free(p);
	}
}

static const char SQL_SESSION_PUT[] =
    "INSERT INTO sessions (token_hash, user, created_at, expires_at, address)"
    " VALUES (?1,?2,?3,?4,?5)";
static const char SQL_SESSION_DEL[] = "DELETE FROM sessions WHERE token_hash=?1";
static const char SQL_SESSION_SWEEP[] = "DELETE FROM sessions WHERE expires_at<=?1";

static int
run_session(struct db_store *st, struct db_req *r, int64_t now)
{
	struct session_args *a = r->args;
	sqlite3_stmt *s;
	int rc = 0;
	if (strcmp(a->action, "login") == 0) {
		s = db_tx_stmt(st, SQL_SESSION_SWEEP);
		sqlite3_bind_int64(s, 1, now);
		if ((rc = db_tx_exec(st, s, r)))
			return rc;
		s = db_tx_stmt(st, SQL_SESSION_PUT);
		sqlite3_bind_blob(s, 1, a->hash, 32, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, a->user, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, now);
		sqlite3_bind_int64(s, 4, a->expires_at);
		sqlite3_bind_text(s, 5, a->address, -1, SQLITE_STATIC);
		rc = db_tx_exec(st, s, r);
	} else if (strcmp(a->action, "logout") == 0) {
		s = db_tx_stmt(st, SQL_SESSION_DEL);
		sqlite3_bind_blob(s, 1, a->hash, 32, SQLITE_STATIC);
		rc = db_tx_exec(st, s, r);
	}
	if (rc)
		return rc;
	return db_tx_audit(st, r, now, a->action, a->user, NULL, a->address);
}

/* --- the routes --------------------------------------------------------------------------- */

static json_t *
user_json(const struct srv_user *u)
{
	char exp[40];
	srv_fmt_time(u->expires_at, 0, exp, sizeof exp);
	return json_pack("{s:s, s:s, s:s, s:o, s:s}", "name", u->name, "display", u->display, "role",
	    srv_role_name(u->role), "agency", u->agency[0] ? json_string(u->agency) : json_null(),
	    "expires_at", exp);
}

static void
set_cookie(struct srv_req *req, const char *token, int64_t max_age_s)
{
	snprintf(req->set_cookie, sizeof req->set_cookie,
	    SESSION_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
	    (long long)max_age_s, req->srv->cfg->tls_cert[0] ? "; Secure" : "");
}

static void
login_committed(struct db_req *r)
{
	struct srv_req *req = r->udata;
	struct session_args *a = r->args;
	struct users *us = U(req->srv);
	if (r->err) {
		srv_reply_error(req, r->err, r->cause);
	} else if (strcmp(a->action, "login.failed") == 0) {
		srv_reply_error(req, SRV_E_LOGIN_FAILED, NULL);
	} else if (us == NULL || session_add(us, a->hash, a->user, a->expires_at) != 0) {
		srv_reply_error(req, SRV_E_OVERLOADED, "too many open sessions");
	} else {
		struct uentry *e = find_user(us, a->user);
		struct srv_user u = e ? e->u : (struct srv_user){ 0 };
		u.expires_at = a->expires_at;
		set_cookie(req, a->token, (a->expires_at - srv_now_us()) / 1000000);
		log_info("users", "signed in|user=%s role=%s address=%s", a->user,
		    srv_role_name(u.role), a->address);
		srv_reply_json(req, 200, json_pack("{s:o}", "user", user_json(&u)));
	}
	db_req_free(r);
}

struct verify_job {
	uv_work_t w;
	struct srv_req *req;
	char *pwhash;
	char *password;
	int ok;
	struct session_args *a;
};

/* A hash for names that do not exist, so an unknown name costs as much as a wrong password. */
static char dummy_hash[crypto_pwhash_STRBYTES];

static void
verify_work(uv_work_t *w)
{
	struct verify_job *j = w->data;
	j->ok = crypto_pwhash_str_verify(j->pwhash, j->password, strlen(j->password)) == 0;
}

static void
verify_done(uv_work_t *w, int status)
{
	struct verify_job *j = w->data;
	struct srv_req *req = j->req;
	struct srv *srv = req->srv;
	struct users *us = U(srv);
	struct session_args *a = j->a;
	sodium_memzero(j->password, strlen(j->password));
	free(j->password);
	free(j->pwhash);
	int ok = status == 0 && j->ok && us;
	struct uentry *e = us ? find_user(us, a->user) : NULL;
	if (ok && (e == NULL || e->disabled))
		ok = 0; /* disabled while we were checking */
	if (ok) {
		unsigned char raw[32];
		randombytes_buf(raw, sizeof raw);
		sodium_bin2base64(a->token, sizeof a->token, raw, sizeof raw,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
		sodium_memzero(raw, sizeof raw);
		hash_token(a->token, a->hash);
		a->expires_at = srv_now_us() + (int64_t)srv->cfg->session_ttl_s * 1000000;
		snprintf(a->action, sizeof a->action, "login");
	} else {
		if (us)
			note_failure(us, a->user, a->address);
		snprintf(a->action, sizeof a->action, "login.failed");
		log_info("users", "sign-in refused|user=%s address=%s", a->user, a->address);
	}
	char actor[96];
	snprintf(actor, sizeof actor, ok ? "user:%s" : "anonymous@%s", ok ? a->user : a->address);
	struct db_req *r = db_req_new(DB_OP_RUN, actor);
	r->run = run_session;
	r->args = a;
	r->args_free = session_args_free;
	free(j);
	submit_store(req, r, login_committed);
}

static void
api_login(struct srv_req *req)
{
	struct users *us = U(req->srv);
	json_t *j = NULL;
	int err = 0;
	char *cause = NULL;
	if (!content_type_is(req, "application/json")) {
		fail(req, SRV_E_BAD_CONTENT_TYPE, xstrdup("send application/json"));
		return;
	}
	if ((j = parse_body(req, &err, &cause)) == NULL) {
		fail(req, err, cause);
		return;
	}
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *password = json_string_value(json_object_get(j, "password"));
	if (!json_is_object(j) || json_object_size(j) != 2 || name == NULL || password == NULL ||
	    strlen(name) == 0 || strlen(name) > 32 || strlen(password) > 1024) {
		json_decref(j);
		fail(req, SRV_E_BAD_FIELD, xstrdup("send {\"name\": ..., \"password\": ...}"));
		return;
	}
	int wait = throttled(us, name, req->peer);
	if (wait > 0) {
		json_decref(j);
		req->retry_after = wait;
		fail(req, SRV_E_RATE_LIMITED, xasprintf("too many failed sign-ins for this name or "
		    "address; try again in %d s", wait));
		return;
	}
	struct uentry *e = find_user(us, name);
	struct verify_job *v = xcalloc(1, sizeof *v);
	v->w.data = v;
	v->req = req;
	v->pwhash = xstrdup(e && !e->disabled ? e->pwhash : dummy_hash);
	v->password = xstrdup(password);
	v->a = xcalloc(1, sizeof *v->a);
	snprintf(v->a->user, sizeof v->a->user, "%s", name);
	snprintf(v->a->address, sizeof v->a->address, "%s", req->peer);
	json_decref(j);
	req->pending = 1;
	req->async = 1;
	uv_queue_work(req->srv->loop, &v->w, verify_work, verify_done);
}

static void
logout_committed(struct db_req *r)
{
	struct srv_req *req = r->udata;
	if (r->err) {
		srv_reply_error(req, r->err, r->cause);
	} else {
		set_cookie(req, "", 0);
		srv_reply_json(req, 200, json_pack("{s:b}", "signed_out", 1));
	}
	db_req_free(r);
}

static void
api_logout(struct srv_req *req)
{
	struct users *us = U(req->srv);
	char token[96];
	if (req->cookie == NULL || cookie_token(req->cookie, token, sizeof token)) {
		fail(req, SRV_E_LOGIN, NULL);
		return;
	}
	struct session_args *a = xcalloc(1, sizeof *a);
	hash_token(token, a->hash);
	struct session *s = session_find(us, a->hash);
	if (s == NULL) {
		session_args_free(a);
		fail(req, SRV_E_LOGIN, NULL);
		return;
	}
	snprintf(a->user, sizeof a->user, "%s", s->user);
	snprintf(a->address, sizeof a->address, "%s", req->peer);
	snprintf(a->action, sizeof a->action, "logout");
	session_drop(us, s); /* gone at once; the row goes with the commit */
	char actor[64];
	snprintf(actor, sizeof actor, "user:%s", a->user);
	struct db_req *r = db_req_new(DB_OP_RUN, actor);
	r->run = run_session;
	r->args = a;
	r->args_free = session_args_free;
	submit_store(req, r, logout_committed);
}

int
srv_users_route(struct srv_req *req)
{
	if (strcmp(req->path, "/api/v1/session") != 0)
		return 0;
	if (U(req->srv) == NULL) {
		fail(req, SRV_E_NOT_FOUND, xstrdup("sign-in is off (console.auth = open)"));
		return 1;
	}
	if (req->method == SRV_POST)
		api_login(req);
	else if (req->method == SRV_DELETE)
		api_logout(req);
	else if (req->method == SRV_GET && req->user)
		srv_reply_json(req, 200, json_pack("{s:o}", "user", user_json(req->user)));
	else if (req->method == SRV_GET)
		fail(req, SRV_E_LOGIN, NULL);
	else
		fail(req, SRV_E_METHOD, xstrdup("use POST (sign in), GET or DELETE (sign out)"));
	return 1;
}

/* --- open and close ------------------------------------------------------------------------- */

int
srv_users_open(struct srv *srv, const char *db_path, char **cause)
{
	if (sodium_init() < 0)
		return srv_fail(cause, SRV_E_INTERNAL, "libsodium failed to start");
	struct users *us = xcalloc(1, sizeof *us);
	us->srv = srv;
	us->db_path = xstrdup(db_path);
	if (crypto_pwhash_str(dummy_hash, "not a password", 14, crypto_pwhash_OPSLIMIT_INTERACTIVE,
		crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0 ||
	    load_users(db_path, &us->u, &us->n, cause) != 0) {
		free(us->db_path);
		free(us);
		return *cause ? SRV_E_STORE : srv_fail(cause, SRV_E_INTERNAL, "out of memory");
	}
	/* Sessions that outlived a restart. */
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT token_hash, user, expires_at FROM sessions WHERE expires_at>?1",
		-1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, srv_now_us());
		while (sqlite3_step(s) == SQLITE_ROW)
			if (sqlite3_column_bytes(s, 0) == 32)
				session_add(us, sqlite3_column_blob(s, 0),
				    (const char *)sqlite3_column_text(s, 1), sqlite3_column_int64(s, 2));
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	uv_timer_init(srv->loop, &us->timer);
	us->timer.data = us;
	us->refs = 1;
	uv_timer_start(&us->timer, on_timer, 2000, 2000);
	srv->users = us;
	log_info("users", "sign-in on|users=%d sessions=%d session_ttl_s=%d", us->n, us->nsessions,
	    srv->cfg->session_ttl_s);
	return 0;
}

int
srv_users_take(struct srv *srv, const char *name, int *retry_after)
{
	struct users *us = U(srv);
	if (us == NULL)
		return 0;
	struct ubucket *k = NULL;
	for (int i = 0; i < us->nbuckets && k == NULL; i++)
		if (strcmp(us->buckets[i].name, name) == 0)
			k = &us->buckets[i];
	if (k == NULL) {
		us->buckets = xrealloc(us->buckets, sizeof *us->buckets * (size_t)(us->nbuckets + 1));
		k = &us->buckets[us->nbuckets++];
		memset(k, 0, sizeof *k);
		snprintf(k->name, sizeof k->name, "%s", name);
	}
	return srv_bucket_take(&k->b, srv->cfg->user_rate, srv->cfg->user_burst, retry_after);
}

static void
users_free(struct users *us)
{
	free(us->buckets);
	entries_free(us->u, us->n);
	sodium_memzero(us->sessions, sizeof us->sessions);
	free(us->db_path);
	free(us);
}

static void
timer_closed(uv_handle_t *h)
{
	struct users *us = h->data;
	if (--us->refs == 0)
		users_free(us); /* else the last reload frees it */
}

void
srv_users_close(struct srv *srv)
{
	struct users *us = U(srv);
	if (us == NULL)
		return;
	srv->users = NULL;
	us->closing = 1;
	uv_close((uv_handle_t *)&us->timer, timer_closed);
}
