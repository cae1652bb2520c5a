/*
 * srv.h - the running server: what the loop thread owns.
 *
 * One struct srv per process. Only the loop thread touches it; the store
 * writer and the read pool talk back through their own async hand-offs.
 */
#ifndef SRV_H
#define SRV_H

#include <stdint.h>
#include <uv.h>

#include "gw_adapter.h"
#include "incident.h"
#include "srv_config.h"
#include "srv_users.h"

struct lws;
struct lws_context;
struct db_store;
struct db_reader;
struct srv_peers;
struct hub;
struct db_req;
struct auth;
struct srv_webhook;
struct dsp_live;
struct users;
struct conf_live;

enum srv_method { SRV_GET, SRV_POST, SRV_PUT, SRV_PATCH, SRV_DELETE, SRV_OTHER };

/* Per adapter intake counters, indexed like the adapter list. */
struct srv_intake_stats {
	uint64_t created, duplicate, updated, rejected;
};

struct srv {
	uv_loop_t *loop;
	const struct srv_config *cfg;
	struct lws_context *lws;
	struct lws_context *lws_dying;   /* destroyed once; lws needs a second call when idle */
	struct db_store *store;
	struct db_reader *reader;
	struct hub *hub;
	struct auth *auth;               /* gateway keys; NULL with intake.auth = open */
	struct srv_webhook *webhook;     /* outbox delivery to agency webhooks */
	struct dsp_live *dsp;            /* the dispatch engine's live state (dsp_live.c) */
	struct users *users;             /* sign-in and sessions; NULL with console.auth = open */
	void *backups;                   /* scheduled backups (srv_backup.c), or NULL */
	struct conf_live *conf;          /* conferences and the media bridge (conf_live.c), or NULL */
	const struct gw_adapter *const *adapters;
	struct gw_host gw_host;
	struct srv_intake_stats *intake; /* one per adapter */
	int port;                        /* bound port */
	int stopping;
	int media_draining;              /* shutting down: the bridge is finishing recordings */
	int requests_live;               /* HTTP requests not yet answered in full */
	uint64_t http_by_class[6];       /* responses by status class 1xx..5xx */
	struct srv_peers *peers;         /* open connections per client address */
	uint64_t conns_refused;          /* connections and requests refused per address */
	uint64_t start_ns;
};

/*
 * One HTTP request and its response. Owned by the connection while it is
 * open; if the client goes away while the request waits on the store or a
 * read, wsi becomes NULL and the request frees itself when the answer
 * arrives (a durable ack still happened; the client retries idempotently).
 */
struct srv_req {
	struct srv *srv;
	struct lws *wsi;
	enum srv_method method;
	char path[512];
	char *args;             /* decoded "k=v" pairs, NUL-separated, double NUL at end */
	char content_type[128];
	char if_match[64];
	char authorization[160];
	char sig_timestamp[24];
	char signature[80];
	int retry_after;        /* seconds, for 429 and 503 answers; 0 for none */
	char peer[64];
	char *body;
	size_t body_len, content_length;
	int pending;            /* waiting for the store or a read */
	int dispatched;         /* routed once (lws may repeat BODY_COMPLETION) */
	int async;              /* its answer comes from the store or a read, outside lws callbacks */
	int close_after;        /* close the connection after the response */
	int draining;           /* refused: its body is read and dropped before the answer */
	char *cookie;           /* the Cookie header, or NULL */
	char origin[160];       /* the Origin header, or "" */
	char host[160];         /* the Host header */
	const struct srv_user *user; /* the signed-in user (points at user_copy), or NULL */
	struct srv_user user_copy;
	int scope_checked;      /* an incident route whose visibility was checked */
	char set_cookie[200];   /* a Set-Cookie to send with the answer, or "" */

	int status;
	const char *resp_type;
	char *resp;             /* with LWS_PRE bytes of headroom before resp + LWS_PRE */
	size_t resp_len, resp_off;
	char etag[32];
	char location[96];
	int headers_sent;
};

/* --- srv_http.c ------------------------------------------------------------ */
/* Create the lws context on srv->loop. Returns 0 or -1 with *cause set. */
int srv_http_start(struct srv *srv, char **cause);
/* Start tearing the listener down (consoles and requests are closed). */
void srv_http_stop(struct srv *srv);
/* Finish it once the loop is idle (lws 4.1's foreign-loop contexts need this). */
void srv_http_finish(struct srv *srv);
/* Answer a request (JSON text, taken over). Safe after the client left. */
void srv_reply(struct srv_req *req, int status, char *json_text);
void srv_reply_json(struct srv_req *req, int status, json_t *body); /* steals body */
void srv_reply_text(struct srv_req *req, int status, const char *type, const char *text, size_t len);
/* Answer with the project's error body {"error":{"code","message","detail"}}. */
void srv_reply_error(struct srv_req *req, int err, const char *cause);
/* May a request from a page at origin act on host (srv_http.c)? */
int srv_origin_ok(const char *origin, const char *host);
/* A query argument's decoded value, or NULL. */
const char *srv_req_arg(const struct srv_req *req, const char *name);

/* --- srv_api.c ------------------------------------------------------------- */
/* Route a complete request (headers and body read). */
void srv_api_dispatch(struct srv_req *req);
/*
 * Intake from inside the process (the demo): parse with the named adapter
 * and submit. done gets the finished store request (free it with db_req_free).
 */
int srv_intake_local(struct srv *srv, const char *adapter, const char *actor, const char *body,
    size_t len, void (*done)(struct db_req *), void *udata, char **cause);

/* --- srv_metrics.c --------------------------------------------------------- */
/* Prometheus text exposition of the server's counters; caller frees. */
char *srv_metrics_render(struct srv *srv, size_t *len);

/* --- srv_admin.c ------------------------------------------------------------ */
struct sqlite3;
/* `liandong gateway ACTION ...` (argv starts at ACTION). Returns the exit status. */
int srv_admin_gateway(int argc, char **argv, struct srv_config *cfg);
/* Append an audit row as the operating-system user ("cli:root"), address "local". */
int srv_audit_cli(struct sqlite3 *db, const char *action, const char *target, const char *detail);

/* --- srv_backup.c ------------------------------------------------------------ */
/* Online consistent copy of the database at src into dst (checked). 0 or -1 with *cause. */
int srv_backup_copy(const char *src, const char *dst, char **cause);
/* integrity_check and a known schema version. 0 or -1 with *cause. */
int srv_backup_check(struct sqlite3 *db, const char *name, char **cause);
int srv_backup_cli(const struct srv_config *cfg, const char *dst);
int srv_restore_cli(const struct srv_config *cfg, const char *file);
/* Scheduled backups (backup.dir); NULL when off. */
void *srv_backup_start(struct srv *srv);
void srv_backup_stop(void *sched);

/* --- srv_demo.c ------------------------------------------------------------ */
int srv_demo_start(struct srv *srv);
void srv_demo_stop(struct srv *srv);

#endif
