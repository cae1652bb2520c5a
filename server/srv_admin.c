/*
 * srv_admin.c - `liandong gateway ...`: gateway keys, webhooks and limits.
 *
 * Run by an operator on the machine that holds the database, with the
 * server running or not: it writes the gateways table in one short
 * transaction (SQLite serialises it with the server's writer), and the
 * server picks the change up within two seconds. Every operation leaves a
 * row in the append-only audit log with the operating-system user.
 * Configuration tables are not journal events: consoles do not see keys.
 */
#include "srv.h"
#include "srv_users.h"
#include "db_store.h"
#include "srv_auth.h"
#include "srv_error.h"
#include "srv_util.h"

#include <pwd.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
gw_usage(FILE *f)
{
	fprintf(f,
	    "usage: liandong gateway add NAME --adapter ADAPTER|avl [--lines 110,119|*] [--webhook URL]\n"
	    "                            [--rate N] [--burst N] [--hmac] [--require-signature]\n"
	    "       liandong gateway list\n"
	    "       liandong gateway revoke NAME\n"
	    "       liandong gateway rotate NAME      (a new key; the old one stops working)\n"
	    "common options: --data DIR, --config FILE, --set KEY=VALUE\n"
	    "`add` and `rotate` print {\"name\", \"token\", \"hmac_secret\"} as JSON: the token is shown\n"
	    "once and only its hash is stored.\n");
}

static char *
os_user(void)
{
	struct passwd *pw = getpwuid(geteuid());
	return xasprintf("cli:%s", pw ? pw->pw_name : "unknown");
}

int
srv_audit_cli(sqlite3 *db, const char *action, const char *target, const char *detail)
{
	sqlite3_stmt *st;
	char *actor = os_user();
	int rc = sqlite3_prepare_v2(db,
	    "INSERT INTO audit (ts, actor, action, target, detail, address) VALUES (?1,?2,?3,?4,?5,'local')",
	    -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, srv_now_us());
		sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	free(actor);
	return rc;
}

/* --data, --config, --set: 1 when a is one of them (rc set), 0 when not. */
static int
common_option(struct srv_config *cfg, const char *a, const char *v, int *rc, char **cause)
{
	if (strcmp(a, "--data") == 0) {
		char *s = xasprintf("data.dir=%s", v);
		*rc = srv_config_set(cfg, s, cause);
		free(s);
	} else if (strcmp(a, "--config") == 0) {
		*rc = srv_config_load(cfg, v, cause);
	} else if (strcmp(a, "--set") == 0) {
		*rc = srv_config_set(cfg, v, cause);
	} else {
		return 0;
	}
	return 1;
}

static int
lines_valid(const char *s)
{
	if (strcmp(s, "*") == 0)
		return 1;
	char *copy = xstrdup(s), *save = NULL;
	int ok = 1, n = 0;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), n++)
		if (inc_line_parse(t) < 0)
			ok = 0;
	free(copy);
	return ok && n > 0;
}

/*
 * The data folder's database for an admin command: libsodium ready, schema
 * migrated, waiting up to 5 s for the running server's writer. 0, or 1 (said
 * on stderr; *db is NULL).
 */
static int
open_db(const struct srv_config *cfg, sqlite3 **db)
{
	*db = NULL;
	if (sodium_init() < 0)
		return 1;
	char *path = xasprintf("%s/liandong.db", cfg->data_dir);
	char *cause = NULL;
	int rc = 0;
	if (mkdir(cfg->data_dir, 0750) != 0 && access(cfg->data_dir, W_OK) != 0) {
		fprintf(stderr, "liandong: cannot use %s\n", cfg->data_dir);
		rc = 1;
	} else if (sqlite3_open(path, db) != SQLITE_OK || db_schema_migrate(*db, &cause) != 0) {
		fprintf(stderr, "liandong: %s: %s\n", path, cause ? cause : sqlite3_errmsg(*db));
		rc = 1;
	}
	free(cause);
	free(path);
	if (rc) {
		sqlite3_close(*db);
		*db = NULL;
		return rc;
	}
	sqlite3_busy_timeout(*db, 5000);
	return 0;
}

static void
print_key(const char *name, const char *adapter, const char *token, const char *secret)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s?}", "name", name, "adapter", adapter, "token", token,
	    "hmac_secret", secret);
	char *s = json_dumps(o, JSON_COMPACT);
	printf("%s\n", s);
	free(s);
	json_decref(o);
}

static int
gw_add(sqlite3 *db, const char *name, const char *adapter, const char *lines, const char *webhook,
    double rate, int burst, int hmac, int require_sig)
{
	char token[AUTH_TOKEN_MAX], secret[65] = "";
	unsigned char hash[32], raw[32];
	auth_new_token(name, token, sizeof token, hash);
	if (hmac || require_sig) {
		randombytes_buf(raw, sizeof raw);
		sodium_bin2hex(secret, sizeof secret, raw, sizeof raw);
	}
	sqlite3_stmt *st;
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	int rc = sqlite3_prepare_v2(db,
	    "INSERT INTO gateways (name, adapter, token_hash, hmac_secret, require_signature, rate,"
	    " burst, webhook, lines, created_at, created_by) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
	    -1, &st, NULL);
	char *actor = os_user();
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, adapter, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
		if (secret[0])
			sqlite3_bind_text(st, 4, secret, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, require_sig);
		sqlite3_bind_double(st, 6, rate);
		sqlite3_bind_int(st, 7, burst);
		if (webhook)
			sqlite3_bind_text(st, 8, webhook, -1, SQLITE_STATIC);
		if (lines)
			sqlite3_bind_text(st, 9, lines, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 10, srv_now_us());
		sqlite3_bind_text(st, 11, actor, -1, SQLITE_STATIC);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	free(actor);
	char *detail = xasprintf("{\"adapter\":\"%s\",\"webhook\":%s%s%s,\"rate\":%g,\"burst\":%d,"
				 "\"signed\":%s}",
	    adapter, webhook ? "\"" : "", webhook ? webhook : "null", webhook ? "\"" : "", rate, burst,
	    require_sig ? "\"required\"" : hmac ? "\"optional\"" : "false");
	if (rc == SQLITE_OK)
		rc = srv_audit_cli(db, "gateway.add", name, detail);
	free(detail);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "liandong gateway add: %s\n",
		    sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY
			? "a gateway with that name exists (revoke or rotate it)"
			: sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	print_key(name, adapter, token, secret[0] ? secret : NULL);
	return 0;
}

static int
gw_change(sqlite3 *db, const char *name, int rotate)
{
	char token[AUTH_TOKEN_MAX];
	unsigned char hash[32];
	auth_new_token(name, token, sizeof token, hash);
	sqlite3_stmt *st;
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	sqlite3_prepare_v2(db,
	    rotate ? "UPDATE gateways SET token_hash=?2 WHERE name=?1 AND revoked_at IS NULL"
		   : "UPDATE gateways SET revoked_at=?3 WHERE name=?1 AND revoked_at IS NULL",
	    -1, &st, NULL);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (rotate)
		sqlite3_bind_blob(st, 2, hash, 32, SQLITE_STATIC);
	else
		sqlite3_bind_int64(st, 3, srv_now_us());
	int ok = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(db) == 1;
	sqlite3_finalize(st);
	if (!ok || srv_audit_cli(db, rotate ? "gateway.rotate" : "gateway.revoke", name, "{}") != SQLITE_OK) {
		fprintf(stderr, "liandong gateway: no live gateway named '%s'\n", name);
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return 1;
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rotate) {
		sqlite3_prepare_v2(db, "SELECT adapter FROM gateways WHERE name=?1", -1, &st, NULL);
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_step(st);
		print_key(name, (const char *)sqlite3_column_text(st, 0), token, NULL);
		sqlite3_finalize(st);
	} else {
		printf("revoked %s\n", name);
	}
	return 0;
}

static int
gw_list(sqlite3 *db)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db,
	    "SELECT name, adapter, coalesce(lines,''), coalesce(webhook,''), rate, burst,"
	    " require_signature, hmac_secret IS NOT NULL, revoked_at IS NOT NULL FROM gateways ORDER BY name",
	    -1, &st, NULL);
	printf("%-16s %-8s %-12s %-8s %-6s %-9s %s\n", "NAME", "ADAPTER", "LINES", "RATE", "BURST",
	    "SIGNED", "WEBHOOK");
	while (sqlite3_step(st) == SQLITE_ROW)
		printf("%-16s %-8s %-12s %-8g %-6d %-9s %s%s\n", sqlite3_column_text(st, 0),
		    sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), sqlite3_column_double(st, 4),
		    sqlite3_column_int(st, 5),
		    sqlite3_column_int(st, 6) ? "required" : sqlite3_column_int(st, 7) ? "optional" : "no",
		    sqlite3_column_text(st, 3), sqlite3_column_int(st, 8) ? " (revoked)" : "");
	sqlite3_finalize(st);
	return 0;
}

int
srv_admin_gateway(int argc, char **argv, struct srv_config *cfg)
{
	if (argc < 1) {
		gw_usage(stderr);
		return 2;
	}
	const char *action = argv[0], *name = NULL, *adapter = NULL, *lines = NULL, *webhook = NULL;
	double rate = 200;
	int burst = 400, hmac = 0, require_sig = 0, i = 1;
	char *cause = NULL;
	if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
		gw_usage(stdout);
		return 0;
	}
	if (i < argc && argv[i][0] != '-')
		name = argv[i++];
	while (i < argc) {
		const char *a = argv[i++], *v = NULL;
		int flag = strcmp(a, "--hmac") == 0 || strcmp(a, "--require-signature") == 0 ||
		    strcmp(a, "--help") == 0;
		if (!flag) {
			if (i == argc) {
				fprintf(stderr, "liandong gateway: %s needs a value\n", a);
				return 2;
			}
			v = argv[i++];
		}
		int rc = 0;
		if (strcmp(a, "--adapter") == 0)
			adapter = v;
		else if (strcmp(a, "--lines") == 0)
			lines = v;
		else if (strcmp(a, "--webhook") == 0)
			webhook = v;
		else if (strcmp(a, "--rate") == 0)
			rate = atof(v);
		else if (strcmp(a, "--burst") == 0)
			burst = atoi(v);
		else if (strcmp(a, "--hmac") == 0)
			hmac = 1;
		else if (strcmp(a, "--require-signature") == 0)
			require_sig = 1;
		else if (common_option(cfg, a, v, &rc, &cause))
			;
		else if (strcmp(a, "--help") == 0) {
			gw_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "liandong gateway: unknown option '%s'\n", a);
			gw_usage(stderr);
			return 2;
		}
		if (rc) {
			fprintf(stderr, "liandong gateway: %s\n", cause);
			free(cause);
			return 2;
		}
	}
	int need_name = strcmp(action, "list") != 0;
	if (need_name && (name == NULL || !auth_name_valid(name))) {
		fprintf(stderr, "liandong gateway %s: NAME must be 1-32 of a-z 0-9 -\n", action);
		return 2;
	}
	if (strcmp(action, "add") == 0) {
		/* "avl": an agency's vehicle-location feed (POST /api/v1/units/positions). */
		if (adapter == NULL ||
		    (gw_registry_find(gw_builtin, adapter) == NULL && strcmp(adapter, "avl") != 0)) {
			fprintf(stderr, "liandong gateway add: --adapter must name an adapter:");
			for (int k = 0; gw_builtin[k]; k++)
				fprintf(stderr, " %s", gw_builtin[k]->name);
			fprintf(stderr, " avl\n");
			return 2;
		}
		if (lines && !lines_valid(lines)) {
			fprintf(stderr, "liandong gateway add: --lines takes * or a list of 110,119,120,122,other\n");
			return 2;
		}
		if (webhook && strncmp(webhook, "http://", 7) != 0 && strncmp(webhook, "https://", 8) != 0) {
			fprintf(stderr, "liandong gateway add: --webhook must be an http:// or https:// URL\n");
			return 2;
		}
		if (!(rate > 0) || rate > 1e6 || burst < 1 || burst > 1000000) {
			fprintf(stderr, "liandong gateway add: --rate must be 0-1000000 /s and --burst 1-1000000\n");
			return 2;
		}
	} else if (strcmp(action, "list") != 0 && strcmp(action, "revoke") != 0 &&
		   strcmp(action, "rotate") != 0) {
		gw_usage(stderr);
		return 2;
	}
	sqlite3 *db;
	if (open_db(cfg, &db) != 0)
		return 1;
	int rc;
	if (strcmp(action, "add") == 0)
		rc = gw_add(db, name, adapter, lines ? lines : (webhook ? "*" : NULL), webhook, rate, burst,
		    hmac, require_sig);
	else if (strcmp(action, "list") == 0)
		rc = gw_list(db);
	else
		rc = gw_change(db, name, strcmp(action, "rotate") == 0);
	sqlite3_close(db);
	return rc;
}

/* --- console users ---------------------------------------------------------------- */

static void
user_usage(FILE *f)
{
	fprintf(f,
	    "usage: liandong user add NAME --role dispatcher|supervisor|leader|admin [--agency A]\n"
	    "                         [--display NAME]\n"
	    "       liandong user reset NAME        (a new password)\n"
	    "       liandong user disable NAME      (signs the user out everywhere within seconds)\n"
	    "       liandong user enable NAME\n"
	    "       liandong user list\n"
	    "common options: --data DIR, --config FILE, --set KEY=VALUE\n"
	    "The password is read from the environment variable LIANDONG_PASSWORD or, without it,\n"
	    "from the first line of standard input; at least 10 characters. Dispatchers need\n"
	    "--agency (the agency whose incidents they see, e.g. 120).\n");
}

/* The new password: LIANDONG_PASSWORD or the first line of stdin. */
static char *
read_password(void)
{
	const char *env = getenv("LIANDONG_PASSWORD");
	char buf[1100];
	if (env)
		snprintf(buf, sizeof buf, "%s", env);
	else if (fgets(buf, sizeof buf, stdin) == NULL)
		return NULL;
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) < 10 || strlen(buf) > 1024) {
		sodium_memzero(buf, sizeof buf);
		return NULL;
	}
	char *p = xstrdup(buf);
	sodium_memzero(buf, sizeof buf);
	return p;
}

static int
user_hash(char out[crypto_pwhash_STRBYTES])
{
	char *pw = read_password();
	if (pw == NULL) {
		fprintf(stderr, "liandong user: a password of 10-1024 characters is needed "
				"(LIANDONG_PASSWORD or the first line of stdin)\n");
		return -1;
	}
	int rc = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	    crypto_pwhash_MEMLIMIT_INTERACTIVE);
	sodium_memzero(pw, strlen(pw));
	free(pw);
	if (rc != 0)
		fprintf(stderr, "liandong user: out of memory hashing the password\n");
	return rc;
}

static int
user_exec(sqlite3 *db, const char *sql, const char *a1, const char *a2, const char *a3,
    const char *a4, const char *a5)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	const char *v[] = { a1, a2, a3, a4, a5 };
	for (int i = 0; i < 5; i++)
		if (v[i])
			sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, srv_now_us());
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? sqlite3_changes(db) : -1;
}

static int
user_run(sqlite3 *db, const char *action, const char *name, const char *role, const char *agency,
    const char *display)
{
	char hash[crypto_pwhash_STRBYTES];
	int n = 0;
	sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (strcmp(action, "list") == 0) {
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, "SELECT name, coalesce(display,''), role, coalesce(agency,''),"
		    " disabled_at IS NOT NULL FROM users ORDER BY name", -1, &st, NULL);
		json_t *arr = json_array();
		while (sqlite3_step(st) == SQLITE_ROW)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:b}", "name",
			    sqlite3_column_text(st, 0), "display", sqlite3_column_text(st, 1), "role",
			    sqlite3_column_text(st, 2), "agency", sqlite3_column_text(st, 3), "disabled",
			    sqlite3_column_int(st, 4)));
		sqlite3_finalize(st);
		char *out = json_dumps(arr, JSON_INDENT(1));
		printf("%s\n", out);
		free(out);
		json_decref(arr);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		return 0;
	}
	if (strcmp(action, "add") == 0 || strcmp(action, "reset") == 0) {
		if (user_hash(hash) != 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return 1;
		}
	}
	if (strcmp(action, "add") == 0)
		n = user_exec(db, "INSERT INTO users (name, role, agency, display, pwhash, created_at,"
		    " updated_at) VALUES (?1,?2,?3,?4,?5,?6,?6) ON CONFLICT (name) DO NOTHING", name, role,
		    agency, display, hash);
	else if (strcmp(action, "reset") == 0)
		n = user_exec(db, "UPDATE users SET pwhash=?2, updated_at=?6 WHERE name=?1", name, hash,
		    NULL, NULL, NULL);
	else if (strcmp(action, "disable") == 0)
		n = user_exec(db, "UPDATE users SET disabled_at=?6, updated_at=?6 WHERE name=?1 AND"
		    " disabled_at IS NULL", name, NULL, NULL, NULL, NULL);
	else if (strcmp(action, "enable") == 0)
		n = user_exec(db, "UPDATE users SET disabled_at=NULL, updated_at=?6 WHERE name=?1", name,
		    NULL, NULL, NULL, NULL);
	sodium_memzero(hash, sizeof hash);
	if (n == 1 && strcmp(action, "disable") == 0)
		n = user_exec(db, "DELETE FROM sessions WHERE user=?1", name, NULL, NULL, NULL, NULL) >= 0;
	char *what = xasprintf("user.%s", action);
	char *detail = strcmp(action, "add") == 0
	    ? xasprintf("{\"role\":\"%s\",\"agency\":\"%s\"}", role, agency ? agency : "")
	    : NULL;
	if (n != 1 || srv_audit_cli(db, what, name, detail) != SQLITE_OK) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		fprintf(stderr, "liandong user %s: %s\n", action, n == 0
		    ? (strcmp(action, "add") == 0 ? "that user exists already" : "no such user (or no change)")
		    : sqlite3_errmsg(db));
		free(what);
		free(detail);
		return 1;
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	printf("{\"user\":\"%s\",\"done\":\"%s\"}\n", name, action);
	free(what);
	free(detail);
	return 0;
}

int
srv_users_cli(int argc, char **argv, struct srv_config *cfg)
{
	if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
		user_usage(argc < 1 ? stderr : stdout);
		return argc < 1 ? 2 : 0;
	}
	const char *action = argv[0], *name = NULL, *role = NULL, *agency = NULL, *display = NULL;
	int i = 1;
	char *cause = NULL;
	if (i < argc && argv[i][0] != '-')
		name = argv[i++];
	while (i < argc) {
		const char *a = argv[i++], *v = i < argc ? argv[i++] : NULL;
		int rc = 0;
		if (v == NULL) {
			fprintf(stderr, "liandong user: %s needs a value\n", a);
			return 2;
		}
		if (strcmp(a, "--role") == 0)
			role = v;
		else if (strcmp(a, "--agency") == 0)
			agency = v;
		else if (strcmp(a, "--display") == 0)
			display = v;
		else if (!common_option(cfg, a, v, &rc, &cause)) {
			fprintf(stderr, "liandong user: unknown option '%s'\n", a);
			user_usage(stderr);
			return 2;
		}
		if (rc) {
			fprintf(stderr, "liandong user: %s\n", cause);
			free(cause);
			return 2;
		}
	}
	int known = strcmp(action, "add") == 0 || strcmp(action, "reset") == 0 ||
	    strcmp(action, "disable") == 0 || strcmp(action, "enable") == 0 ||
	    strcmp(action, "list") == 0;
	if (!known || (strcmp(action, "list") != 0 && (name == NULL || !auth_name_valid(name)))) {
		if (known)
			fprintf(stderr, "liandong user %s: NAME must be 1-32 of a-z 0-9 -\n", action);
		else
			user_usage(stderr);
		return 2;
	}
	if (strcmp(action, "add") == 0) {
		int r = role ? srv_role_parse(role) : -1;
		if (r < 0) {
			fprintf(stderr, "liandong user add: --role must be dispatcher, supervisor, leader or admin\n");
			return 2;
		}
		if ((r == ROLE_DISPATCHER) != (agency != NULL) ||
		    (agency && (strlen(agency) == 0 || strlen(agency) > 16 || strspn(agency,
			"abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(agency)))) {
			fprintf(stderr, "liandong user add: a dispatcher needs --agency (e.g. 120: a-z 0-9 _, "
					"at most 16); other roles take none\n");
			return 2;
		}
		if (display && (strlen(display) > 64 || !srv_utf8_valid(display, strlen(display)))) {
			fprintf(stderr, "liandong user add: --display must be UTF-8 text of at most 64 bytes\n");
			return 2;
		}
	}
	sqlite3 *db;
	if (open_db(cfg, &db) != 0)
		return 1;
	int rc = user_run(db, action, name, role, agency, display);
	sqlite3_close(db);
	return rc;
}

