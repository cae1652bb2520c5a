/* srv_auth.c - see srv_auth.h. */
#include "srv_auth.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RELOAD_MS 2000
#define REPLAY_WINDOW_S 300

struct gw_entry {
	char *name, *adapter, *hmac_secret;
	unsigned char hash[32];
	int require_signature;
	double rate;
	int burst;
	struct srv_bucket bucket;
	/* Signatures seen inside the replay window: open addressing on 64-bit keys. */
	uint64_t *seen_key;
	int64_t *seen_until;
	size_t seen_cap, seen_n;
};

struct auth {
	uv_loop_t *loop;
	char *db_path;
	struct gw_entry *gw;
	int ngw;
	uv_timer_t timer;
	uv_work_t work;
	int reloading, closing;
	/* Filled by the worker, swapped in on the loop. */
	struct gw_entry *fresh;
	int nfresh, fresh_ok;
};

int
auth_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 32)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return 0;
	return 1;
}

void
auth_hash_token(const char *token, unsigned char hash[32])
{
	crypto_generichash(hash, 32, (const unsigned char *)token, strlen(token), NULL, 0);
}

void
auth_new_token(const char *name, char *token, size_t len, unsigned char hash[32])
{
	unsigned char raw[32];
	char b64[64];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	snprintf(token, len, "ldg_%s_%s", name, b64);
	auth_hash_token(token, hash);
}

void
auth_sign(const char *secret, const char *timestamp, const char *body, size_t len, char hex[65])
{
	unsigned char key[crypto_auth_hmacsha256_KEYBYTES], mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)timestamp, strlen(timestamp));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	(void)key;
	sodium_bin2hex(hex, 65, mac, sizeof mac);
}

static void
entries_free(struct gw_entry *g, int n)
{
	for (int i = 0; i < n; i++) {
		free(g[i].name);
		free(g[i].adapter);
		free(g[i].hmac_secret);
		free(g[i].seen_key);
		free(g[i].seen_until);
	}
	free(g);
}

/* Read the live gateways. Runs at start-up and in the thread pool. */
static int
load(const char *path, struct gw_entry **out, int *n, char **cause)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 2000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
		"SELECT name, adapter, token_hash, hmac_secret, require_signature, rate, burst"
		" FROM gateways WHERE revoked_at IS NULL",
		-1, &st, NULL) != SQLITE_OK) {
		srv_fail(cause, SRV_E_STORE, "gateways: %s", sqlite3_errmsg(db));
		sqlite3_close(db);
		return SRV_E_STORE;
	}
	struct gw_entry *g = NULL;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		g = xrealloc(g, sizeof *g * (size_t)(*n + 1));
		struct gw_entry *e = &g[(*n)++];
		memset(e, 0, sizeof *e);
		e->name = xstrdup((const char *)sqlite3_column_text(st, 0));
		e->adapter = xstrdup((const char *)sqlite3_column_text(st, 1));
		if (sqlite3_column_bytes(st, 2) == 32)
			memcpy(e->hash, sqlite3_column_blob(st, 2), 32);
		if (sqlite3_column_type(st, 3) != SQLITE_NULL)
			e->hmac_secret = xstrdup((const char *)sqlite3_column_text(st, 3));
		e->require_signature = sqlite3_column_int(st, 4);
		e->rate = sqlite3_column_double(st, 5);
		e->burst = sqlite3_column_int(st, 6);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (rc != SQLITE_DONE) {
		entries_free(g, *n);
		*n = 0;
		return srv_fail(cause, SRV_E_STORE, "gateways: read failed");
	}
	*out = g;
	return 0;
}

static struct gw_entry *
find(struct gw_entry *g, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(g[i].name, name) == 0)
			return &g[i];
	return NULL;
}

static void
reload_work(uv_work_t *w)
{
	struct auth *a = w->data;
	char *cause = NULL;
	a->fresh_ok = load(a->db_path, &a->fresh, &a->nfresh, &cause) == 0;
	free(cause);
}

static void
reload_done(uv_work_t *w, int status)
{
	struct auth *a = w->data;
	a->reloading = 0;
	if (a->closing) {
		entries_free(a->fresh, a->nfresh);
		auth_close(a);
		return;
	}
	if (!a->fresh_ok)
		return; /* keep what we had; a locked or busy database is retried */
	/* Keep each surviving gateway's rate bucket and replay memory. */
	for (int i = 0; i < a->nfresh; i++) {
		struct gw_entry *old = find(a->gw, a->ngw, a->fresh[i].name), *e = &a->fresh[i];
		if (old == NULL)
			continue;
		e->bucket = old->bucket;
		if (e->bucket.tokens > e->burst)
			e->bucket.tokens = e->burst;
		e->seen_key = old->seen_key;
		e->seen_until = old->seen_until;
		e->seen_cap = old->seen_cap;
		e->seen_n = old->seen_n;
		old->seen_key = NULL;
		old->seen_until = NULL;
	}
	entries_free(a->gw, a->ngw);
	a->gw = a->fresh;
	a->ngw = a->nfresh;
	a->fresh = NULL;
	a->nfresh = 0;
}

static void
on_timer(uv_timer_t *t)
{
	struct auth *a = t->data;
	if (a->reloading)
		return;
	a->reloading = 1;
	a->work.data = a;
	uv_queue_work(a->loop, &a->work, reload_work, reload_done);
}

int
auth_open(struct auth **out, uv_loop_t *loop, const char *db_path, char **cause)
{
	if (sodium_init() < 0)
		return srv_fail(cause, SRV_E_INTERNAL, "libsodium did not initialise");
	struct auth *a = xcalloc(1, sizeof *a);
	a->loop = loop;
	a->db_path = xstrdup(db_path);
	int rc = load(db_path, &a->gw, &a->ngw, cause);
	if (rc) {
		free(a->db_path);
		free(a);
		return rc;
	}
	uv_timer_init(loop, &a->timer);
	a->timer.data = a;
	uv_timer_start(&a->timer, on_timer, RELOAD_MS, RELOAD_MS);
	*out = a;
	return 0;
}

static void
timer_closed(uv_handle_t *h)
{
	struct auth *a = h->data;
	entries_free(a->gw, a->ngw);
	free(a->db_path);
	free(a);
}

void
auth_close(struct auth *a)
{
	if (a == NULL)
		return;
	a->closing = 1;
	if (a->reloading)
		return; /* reload_done finishes the close */
	uv_timer_stop(&a->timer);
	uv_close((uv_handle_t *)&a->timer, timer_closed);
}

static int
take_token(struct gw_entry *e, int *retry_after)
{
	return srv_bucket_take(&e->bucket, e->rate, e->burst, retry_after);
}

/* Remember a signature until `until`; returns -1 when it was already seen. */
static int
remember(struct gw_entry *e, uint64_t key, int64_t now, int64_t until)
{
	if (e->seen_cap == 0 || e->seen_n * 10 >= e->seen_cap * 7) {
		/* Grow (or first allocate), dropping what has expired. Bounded by the
		 * rate limit: at most rate x window live entries. */
		size_t cap = e->seen_cap ? e->seen_cap : 1024;
		size_t live = 0;
		for (size_t i = 0; i < e->seen_cap; i++)
			if (e->seen_key[i] && e->seen_until[i] > now)
				live++;
		while (live * 10 >= cap * 5)
			cap *= 2;
		uint64_t *k = xcalloc(cap, sizeof *k);
		int64_t *u = xcalloc(cap, sizeof *u);
		for (size_t i = 0; i < e->seen_cap; i++)
			if (e->seen_key[i] && e->seen_until[i] > now) {
				size_t j = e->seen_key[i] & (cap - 1);
				while (k[j])
					j = (j + 1) & (cap - 1);
				k[j] = e->seen_key[i];
				u[j] = e->seen_until[i];
			}
		free(e->seen_key);
		free(e->seen_until);
		e->seen_key = k;
		e->seen_until = u;
		e->seen_cap = cap;
		e->seen_n = live;
	}
	key |= 1; /* 0 marks an empty slot */
	size_t j = key & (e->seen_cap - 1);
	while (e->seen_key[j]) {
		if (e->seen_key[j] == key && e->seen_until[j] > now)
			return -1;
		j = (j + 1) & (e->seen_cap - 1);
	}
	e->seen_key[j] = key;
	e->seen_until[j] = until;
	e->seen_n++;
	return 0;
}

static int
check_signature(struct gw_entry *e, const struct auth_creds *c, const char *body, size_t len,
    char **cause)
{
	if (c->signature[0] == '\0') {
		if (e->require_signature)
			return srv_fail(cause, SRV_E_BAD_SIGNATURE,
			    "gateway %s must sign: X-Liandong-Timestamp and X-Liandong-Signature", e->name);
		return 0;
	}
	if (e->hmac_secret == NULL)
		return srv_fail(cause, SRV_E_BAD_SIGNATURE, "gateway %s has no signing secret", e->name);
	char *end;
	long long ts = strtoll(c->timestamp, &end, 10);
	if (c->timestamp[0] == '\0' || *end != '\0')
		return srv_fail(cause, SRV_E_BAD_SIGNATURE,
		    "X-Liandong-Timestamp must be Unix seconds");
	int64_t now = srv_now_ms() / 1000;
	if (ts < now - REPLAY_WINDOW_S || ts > now + REPLAY_WINDOW_S)
		return srv_fail(cause, SRV_E_BAD_SIGNATURE,
		    "the timestamp is more than %d s from the centre's clock", REPLAY_WINDOW_S);
	if (strncmp(c->signature, "sha256=", 7) != 0 || strlen(c->signature) != 7 + 64)
		return srv_fail(cause, SRV_E_BAD_SIGNATURE,
		    "X-Liandong-Signature must be sha256=<64 hex digits>");
	char want[65];
	auth_sign(e->hmac_secret, c->timestamp, body, len, want);
	char got[65];
	for (int i = 0; i < 64; i++) {
		char ch = c->signature[7 + i];
		got[i] = (char)(ch >= 'A' && ch <= 'F' ? ch - 'A' + 'a' : ch);
	}
	got[64] = '\0';
	if (sodium_memcmp(want, got, 64) != 0)
		return srv_fail(cause, SRV_E_BAD_SIGNATURE, "the signature does not match the body");
	uint64_t key;
	unsigned char bin[32];
	sodium_hex2bin(bin, sizeof bin, got, 64, NULL, NULL, NULL);
	memcpy(&key, bin, sizeof key);
	if (remember(e, key, now, ts + REPLAY_WINDOW_S) != 0)
		return srv_fail(cause, SRV_E_REPLAYED, "this signed request was already received");
	return 0;
}

int
auth_intake(struct auth *a, const struct auth_creds *c, const char *adapter, const char *body,
    size_t len, const char **gateway, int *retry_after, char **cause)
{
	const char *h = c->authorization;
	if (strncasecmp(h, "Bearer ", 7) != 0)
		return srv_fail(cause, SRV_E_UNAUTHORIZED,
		    "send the gateway's key: Authorization: Bearer ldg_<gateway>_...");
	const char *token = h + 7;
	while (*token == ' ')
		token++;
	/* Names have no '_' (a-z 0-9 -); the random part may: the name ends at the first. */
	const char *last = strncmp(token, "ldg_", 4) == 0 ? strchr(token + 4, '_') : NULL;
	if (last == NULL || last <= token + 4 || (size_t)(last - token - 4) > 32)
		return srv_fail(cause, SRV_E_UNAUTHORIZED, "that is not a gateway key");
	char name[40];
	snprintf(name, sizeof name, "%.*s", (int)(last - token - 4), token + 4);
	struct gw_entry *e = find(a->gw, a->ngw, name);
	unsigned char hash[32];
	auth_hash_token(token, hash);
	if (e == NULL || sodium_memcmp(hash, e->hash, 32) != 0)
		return srv_fail(cause, SRV_E_UNAUTHORIZED, "unknown or revoked gateway key");
	if (strcmp(e->adapter, adapter) != 0)
		return srv_fail(cause, SRV_E_FORBIDDEN, "gateway %s may post only to /api/v1/intake/%s",
		    e->name, e->adapter);
	if (take_token(e, retry_after) != 0)
		return srv_fail(cause, SRV_E_RATE_LIMITED,
		    "gateway %s is over its rate of %.0f reports/s (burst %d)", e->name, e->rate, e->burst);
	int rc = check_signature(e, c, body, len, cause);
	if (rc)
		return rc;
	*gateway = e->name;
	return 0;
}
