/*
 * srv_webhook.c - the outbox delivered to agency webhooks; see srv_webhook.h.
 *
 * State, per gateway with a webhook (struct gw), all on the loop thread:
 *   - a page of at most WH_PAGE outbox rows, read in the thread pool, with
 *     each row's POST body already built; `next` is the row being delivered;
 *   - at most one attempt (one lws client connection) in flight;
 *   - acknowledgements submitted to the store writer and not yet committed.
 *
 * Which rows are next. The store deletes the rows a DB_OP_OUTBOX_ACK covers
 * in the commit that moves the cursor, so every row still in `outbox` for a
 * gateway is undelivered, and new rows always get an id above every row
 * present (SQLite's rowid is max+1), so the rows present, in id order, are
 * the undelivered ones in commit order. A page read therefore takes the
 * first WH_PAGE rows of the gateway, and is started only when the previous
 * page is delivered and all its acknowledgements committed. Reading "after
 * the cursor" instead would skip rows if SQLite reused ids after the table
 * emptied (outbox.id is not AUTOINCREMENT).
 *
 * When to read. A poke (a commit was published) marks every gateway dirty;
 * an idle dirty gateway gets a page read. Reads are batched: one job in the
 * pool at a time reads a page for every gateway that wants one, plus the
 * gateways table when its 5 s reload is due. A poke that arrives while a
 * read runs marks the gateway dirty again, so a row committed just after
 * the read's snapshot is read next time. The reload also marks idle
 * gateways dirty, which bounds any missed wake-up to 5 s.
 *
 * Failures back off per gateway: the same row is posted again after 0.5 s
 * doubling to 60 s, each with "equal jitter" (half fixed, half random), so
 * agencies coming back together are not hit by every centre at once.
 */
#include "srv_webhook.h"
#include "srv_hpost.h"
#include "db_store.h"
#include "srv.h"
#include "srv_auth.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <assert.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WH_PAGE 32
#define WH_TIMEOUT_MS 10000
#define WH_RELOAD_MS 5000
#define WH_BACKOFF_MIN_MS 500
#define WH_BACKOFF_MAX_MS 60000
#define WH_ADDRS 4
#define WH_PROTOCOL "liandong-webhook"

/* An outbox row, with the POST body built from it. */
struct row {
	int64_t id, seq;
	char *body;
	size_t len;
};

/* A parsed webhook URL: http[s]://host[:port][/path][?query]. */
struct url {
	int tls, port, numeric;
	char host[256];        /* without the brackets of an IPv6 literal */
	char host_header[300]; /* host[:port] as sent in Host: */
	char path[1024];
};

struct attempt;

struct gw {
	struct srv_webhook *wh;
	char *name, *webhook, *secret, *actor;
	struct url url;
	int url_ok;
	int gone;              /* no longer a gateway with a webhook: freed once idle */
	int dirty;             /* rows may be waiting beyond the page in memory */
	int reading;           /* a page read for it is in the running job */
	struct row *page;      /* WH_PAGE slots; rows [next, npage) not yet delivered */
	int npage, next;
	struct attempt *att;   /* the post in flight */
	int acks_inflight;
	int64_t delivered_id;  /* the last row answered 2xx in this run */
	int64_t acked_id;      /* the last acknowledgement committed in this run */
	int ack_retry;         /* an acknowledgement failed: submit one for delivered_id again */
	int fails;             /* consecutive failed attempts */
	int64_t fail_since_ms; /* wall clock of the first of them */
	uint64_t resume_ms;    /* monotonic: no post before this */
	int64_t pending;       /* rows not yet delivered, last known */
	char addrs[WH_ADDRS][64];
	int naddrs, cur_addr, have_addr, resolving;
	int url_gen, resolving_gen; /* a lookup for an older URL is not used */
	uv_getaddrinfo_t gai;
};

/* One post of one row; lives until its connection is gone. */
struct attempt {
	struct srv_hpost h;    /* first: the post itself (body: the page's row; NULL once finished) */
	struct gw *g;          /* NULL once finished */
	int64_t id;
	char ts[24];
	char sig[7 + 64 + 1];
	char delivery[24];
	int killing;
};

struct srv_webhook {
	struct srv *srv;
	uv_loop_t *loop;
	char *db_path;
	struct lws_context *lws;  /* lws sets it to NULL once it has freed the context */
	struct gw **gws;
	int ngws;
	uv_timer_t pump_timer, tick;
	int job_inflight;
	int reload_wanted;
	uint64_t next_reload_ms;
	int read_errors;          /* consecutive failed reads, for logs */
	uint64_t ok, failed;

	/* The pool thread's connection; touched by one job at a time, then by the close job. */
	sqlite3 *db;
	sqlite3_stmt *q_hooks, *q_page, *q_count;

	int stopping, db_closed, closing_handles;
	int lws_handles;          /* scratch for lws_handles_left() */
	void (*done)(void *);
	void *done_arg;
};

static void pump(struct srv_webhook *wh);

static uint64_t
mono_ms(void)
{
	return srv_mono_ns() / 1000000;
}

static void
pump_cb(uv_timer_t *t)
{
	pump(t->data);
}

/* Run pump after delay_ms on a later turn (never re-entered from a callback). */
static void
pump_soon(struct srv_webhook *wh, uint64_t delay_ms)
{
	if (wh->stopping)
		return;
	uint64_t due = uv_now(wh->loop) + delay_ms;
	if (uv_is_active((uv_handle_t *)&wh->pump_timer) &&
	    uv_timer_get_due_in(&wh->pump_timer) + uv_now(wh->loop) <= due)
		return;
	uv_timer_start(&wh->pump_timer, pump_cb, delay_ms, 0);
}

/* ---- gateways ---- */

static int
url_parse(const char *s, struct url *u)
{
	memset(u, 0, sizeof *u);
	const char *p;
	if (strncmp(s, "http://", 7) == 0) {
		p = s + 7;
		u->port = 80;
	} else if (strncmp(s, "https://", 8) == 0) {
		p = s + 8;
		u->port = 443;
		u->tls = 1;
	} else {
		return -1;
	}
	const char *hs = p, *he;
	int v6 = *p == '[';
	if (v6) {
		hs = p + 1;
		if ((he = strchr(hs, ']')) == NULL)
			return -1;
		p = he + 1;
	} else {
		he = p + strcspn(p, ":/?#@");
		p = he;
	}
	if (he == hs || (size_t)(he - hs) >= sizeof u->host || *p == '@')
		return -1;
	memcpy(u->host, hs, (size_t)(he - hs));
	if (*p == ':') {
		char *end;
		long port = strtol(p + 1, &end, 10);
		if (end == p + 1 || port < 1 || port > 65535)
			return -1;
		u->port = (int)port;
		p = end;
	}
	size_t plen = strcspn(p, "#");
	if (plen + 2 > sizeof u->path || (plen && *p != '/' && *p != '?'))
		return -1;
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
			return -1;
	snprintf(u->path, sizeof u->path, "%s%.*s", *p == '/' ? "" : "/", (int)plen, p);
	int dflt = u->port == (u->tls ? 443 : 80);
	char port[8] = "";
	if (!dflt)
		snprintf(port, sizeof port, ":%d", u->port);
	snprintf(u->host_header, sizeof u->host_header, "%s%s%s%s", v6 ? "[" : "", u->host,
	    v6 ? "]" : "", port);
	unsigned char buf[16];
	u->numeric = uv_inet_pton(AF_INET, u->host, buf) == 0 || uv_inet_pton(AF_INET6, u->host, buf) == 0;
	return 0;
}

static void
page_free(struct gw *g)
{
	for (int i = 0; i < g->npage; i++)
		free(g->page[i].body);
	free(g->page);
	g->page = NULL;
	g->npage = g->next = 0;
}

static void
gw_set_webhook(struct gw *g, const char *webhook)
{
	free(g->webhook);
	g->webhook = xstrdup(webhook);
	g->url_ok = url_parse(webhook, &g->url) == 0;
	g->naddrs = g->cur_addr = g->have_addr = 0;
	g->url_gen++;
	if (!g->url_ok) {
		log_error("webhook", "the gateway's webhook is not an http:// or https:// URL; its "
		    "events stay in the outbox|gateway=%s webhook=\"%s\"", g->name, webhook);
		return;
	}
	if (g->url.numeric) {
		snprintf(g->addrs[0], sizeof g->addrs[0], "%.63s", g->url.host);
		g->naddrs = g->have_addr = 1;
	}
}

static struct gw *
gw_new(struct srv_webhook *wh, const char *name)
{
	struct gw *g = xcalloc(1, sizeof *g);
	g->wh = wh;
	g->name = xstrdup(name);
	g->actor = xasprintf("webhook:%s", name);
	g->dirty = 1;
	wh->gws = xrealloc(wh->gws, sizeof *wh->gws * (size_t)(wh->ngws + 1));
	wh->gws[wh->ngws++] = g;
	return g;
}

static void
gw_free(struct gw *g)
{
	page_free(g);
	free(g->name);
	free(g->webhook);
	free(g->secret);
	free(g->actor);
	free(g);
}

/* Nothing refers to g any more: no post, read, acknowledgement or lookup under way. */
static int
gw_idle(const struct gw *g)
{
	return g->att == NULL && !g->reading && g->acks_inflight == 0 && !g->resolving;
}

/* ---- reads in the thread pool ---- */

struct hook_row {
	char *name, *webhook, *secret;
	int64_t pending;
};

/* A gateway's rows answered 2xx whose acknowledgement may not be committed: (lo, hi]. */
struct ack_range {
	char *name;
	int64_t lo, hi;
};

struct read_req {
	struct gw *g;
	char *name;
	struct row *rows;
	int nrows;
};

struct job {
	uv_work_t work;
	struct srv_webhook *wh;
	int close;             /* close the connection (the last job) */
	int reload;            /* read the gateways table too */
	struct hook_row *hooks;
	int nhooks;
	struct ack_range *ranges;
	int nranges;
	struct read_req *reqs;
	int nreqs;
	int rc;
	char *cause;
};

static const char *const SQL_HOOKS =
    "SELECT name, webhook, hmac_secret FROM gateways"
    " WHERE webhook IS NOT NULL AND revoked_at IS NULL ORDER BY name";
/* Rows not yet delivered: those present, less the ones answered 2xx whose ack is not committed. */
static const char *const SQL_COUNT =
    "SELECT count(*) FROM outbox WHERE gateway=?1 AND (id<=?2 OR id>?3)";
static const char *const SQL_PAGE =
    "SELECT id, seq, payload FROM outbox WHERE gateway=?1 ORDER BY id LIMIT ?2";

static int
db_fail(struct job *j, sqlite3 *db, const char *what)
{
	j->rc = -1;
	if (j->cause == NULL)
		j->cause = xasprintf("%s: %s", what, db ? sqlite3_errmsg(db) : "cannot open");
	return -1;
}

/* Pool thread: open the read-only connection the first time. */
static int
db_ready(struct job *j)
{
	struct srv_webhook *wh = j->wh;
	if (wh->db)
		return 0;
	if (sqlite3_open_v2(wh->db_path, &wh->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
		db_vfs_register()) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(wh->db, 5000);
	if (sqlite3_prepare_v2(wh->db, SQL_HOOKS, -1, &wh->q_hooks, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(wh->db, SQL_PAGE, -1, &wh->q_page, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(wh->db, SQL_COUNT, -1, &wh->q_count, NULL) != SQLITE_OK)
		goto fail;
	return 0;
fail:
	db_fail(j, wh->db, wh->db_path);
	sqlite3_finalize(wh->q_hooks);
	sqlite3_finalize(wh->q_page);
	sqlite3_finalize(wh->q_count);
	sqlite3_close(wh->db);
	wh->q_hooks = wh->q_page = wh->q_count = NULL;
	wh->db = NULL;
	return -1;
}

static char *
col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? xstrdup((const char *)t) : NULL;
}

static int
read_hooks(struct job *j)
{
	sqlite3_stmt *s = j->wh->q_hooks;
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		j->hooks = xrealloc(j->hooks, sizeof *j->hooks * (size_t)(j->nhooks + 1));
		struct hook_row *h = &j->hooks[j->nhooks++];
		h->name = col_dup(s, 0);
		h->webhook = col_dup(s, 1);
		h->secret = col_dup(s, 2);
	}
	sqlite3_reset(s);
	if (rc != SQLITE_DONE)
		return db_fail(j, j->wh->db, "gateways");
	s = j->wh->q_count;
	for (int i = 0; i < j->nhooks; i++) {
		struct hook_row *h = &j->hooks[i];
		if (h->name == NULL)
			continue;
		int64_t lo = 0, hi = 0;
		for (int k = 0; k < j->nranges; k++)
			if (strcmp(j->ranges[k].name, h->name) == 0) {
				lo = j->ranges[k].lo;
				hi = j->ranges[k].hi;
			}
		sqlite3_bind_text(s, 1, h->name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, lo);
		sqlite3_bind_int64(s, 3, hi);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			h->pending = sqlite3_column_int64(s, 0);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (rc != SQLITE_ROW)
			return db_fail(j, j->wh->db, "outbox count");
	}
	return 0;
}

/* The POST body: {"delivery_id":..,"gateway":"..","event":<the frame as stored>}. */
static char *
delivery_body(int64_t id, const char *name, const char *frame, size_t *len)
{
	json_t *js = json_string(name);
	char *n = js ? json_dumps(js, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(js);
	char *body = xasprintf("{\"delivery_id\":%lld,\"gateway\":%s,\"event\":%s}", (long long)id,
	    n ? n : "\"\"", frame);
	free(n);
	*len = strlen(body);
	return body;
}

static int
read_page(struct job *j, struct read_req *r)
{
	sqlite3_stmt *s = j->wh->q_page;
	sqlite3_bind_text(s, 1, r->name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, WH_PAGE);
	r->rows = xcalloc(WH_PAGE, sizeof *r->rows);
	int rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && r->nrows < WH_PAGE) {
		struct row *row = &r->rows[r->nrows++];
		row->id = sqlite3_column_int64(s, 0);
		row->seq = sqlite3_column_int64(s, 1);
		const char *frame = (const char *)sqlite3_column_text(s, 2);
		row->body = delivery_body(row->id, r->name, frame ? frame : "null", &row->len);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_fail(j, j->wh->db, "outbox");
}

static void
job_work(uv_work_t *w)
{
	struct job *j = w->data;
	struct srv_webhook *wh = j->wh;
	if (j->close) {
		sqlite3_finalize(wh->q_hooks);
		sqlite3_finalize(wh->q_page);
		sqlite3_finalize(wh->q_count);
		sqlite3_close(wh->db);
		wh->q_hooks = wh->q_page = wh->q_count = NULL;
		wh->db = NULL;
		return;
	}
	if (db_ready(j) != 0)
		return;
	/* One read transaction: the gateways and their pages are one snapshot. */
	if (sqlite3_exec(wh->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		db_fail(j, wh->db, "begin");
		return;
	}
	if (j->reload)
		read_hooks(j);
	for (int i = 0; i < j->nreqs && j->rc == 0; i++)
		read_page(j, &j->reqs[i]);
	sqlite3_exec(wh->db, "COMMIT", NULL, NULL, NULL);
}

static void
job_free(struct job *j)
{
	for (int i = 0; i < j->nhooks; i++) {
		free(j->hooks[i].name);
		free(j->hooks[i].webhook);
		free(j->hooks[i].secret);
	}
	free(j->hooks);
	for (int i = 0; i < j->nranges; i++)
		free(j->ranges[i].name);
	free(j->ranges);
	for (int i = 0; i < j->nreqs; i++) {
		struct read_req *r = &j->reqs[i];
		for (int k = 0; r->rows && k < r->nrows; k++)
			free(r->rows[k].body);
		free(r->rows);
		free(r->name);
	}
	free(j->reqs);
	free(j->cause);
	free(j);
}

static struct gw *
gw_find(struct srv_webhook *wh, const char *name)
{
	for (int i = 0; i < wh->ngws; i++)
		if (strcmp(wh->gws[i]->name, name) == 0)
			return wh->gws[i];
	return NULL;
}

/* The gateways table was read: follow added, changed and removed webhooks. */
static void
merge_hooks(struct srv_webhook *wh, struct job *j)
{
	int n0 = wh->ngws;
	int *was_gone = xcalloc((size_t)n0 + 1, sizeof *was_gone);
	for (int i = 0; i < n0; i++) {
		was_gone[i] = wh->gws[i]->gone;
		wh->gws[i]->gone = 1;
	}
	for (int i = 0; i < j->nhooks; i++) {
		struct hook_row *h = &j->hooks[i];
		if (h->name == NULL || h->webhook == NULL)
			continue;
		struct gw *g = gw_find(wh, h->name);
		if (g == NULL) {
			g = gw_new(wh, h->name);
			log_info("webhook", "delivering to a gateway's webhook|gateway=%s webhook=\"%s\" "
			    "signed=%d pending=%lld", h->name, h->webhook, h->secret != NULL,
			    (long long)h->pending);
		} else if (strcmp(g->webhook, h->webhook) != 0) {
			log_info("webhook", "the gateway's webhook changed|gateway=%s webhook=\"%s\"",
			    h->name, h->webhook);
		}
		g->gone = 0;
		if (g->webhook == NULL || strcmp(g->webhook, h->webhook) != 0)
			gw_set_webhook(g, h->webhook);
		free(g->secret);
		g->secret = h->secret;
		h->secret = NULL;
		g->pending = h->pending;
		if (g->npage == 0)
			g->dirty = 1;
	}
	for (int i = 0; i < n0; i++)
		if (wh->gws[i]->gone && !was_gone[i])
			log_info("webhook", "the gateway no longer has a webhook (revoked or removed); "
			    "delivery stops|gateway=%s", wh->gws[i]->name);
	free(was_gone);
}

static void
job_done(uv_work_t *w, int status)
{
	struct job *j = w->data;
	struct srv_webhook *wh = j->wh;
	wh->job_inflight = 0;
	if (j->close) {
		wh->db_closed = 1;
		job_free(j);
		pump(wh);
		return;
	}
	for (int i = 0; i < j->nreqs; i++)
		j->reqs[i].g->reading = 0;
	if (j->rc != 0) {
		if (wh->read_errors++ == 0 || wh->read_errors % 10 == 0)
			log_warn("webhook", "cannot read the outbox; retrying|detail=\"%s\" errors=%d",
			    j->cause, wh->read_errors);
		for (int i = 0; i < j->nreqs; i++)
			j->reqs[i].g->dirty = 1;
		if (j->reload)
			wh->reload_wanted = 1;
		job_free(j);
		pump_soon(wh, 1000);
		return;
	}
	wh->read_errors = 0;
	for (int i = 0; i < j->nreqs; i++) {
		struct read_req *r = &j->reqs[i];
		struct gw *g = r->g;
		if (g->npage != 0 || wh->stopping)
			continue;
		if (r->nrows == WH_PAGE)
			g->dirty = 1; /* more may follow */
		if (r->nrows < WH_PAGE || r->nrows > g->pending)
			g->pending = r->nrows;
		if (r->nrows) {
			g->page = r->rows;
			g->npage = r->nrows;
			g->next = 0;
			r->rows = NULL;
			r->nrows = 0;
			log_debug("webhook", "read a page|gateway=%s rows=%d first=%lld", g->name,
			    g->npage, (long long)g->page[0].id);
		}
	}
	if (j->reload && !wh->stopping)
		merge_hooks(wh, j);
	job_free(j);
	pump(wh);
}

static void
start_job(struct srv_webhook *wh, struct job *j)
{
	j->wh = wh;
	j->work.data = j;
	wh->job_inflight = 1;
	int rc = uv_queue_work(wh->loop, &j->work, job_work, job_done);
	if (rc != 0) {
		log_error("webhook", "cannot queue work|error=%s", uv_err_name(rc));
		abort();
	}
}

/* Read the gateways (when due) and a page for every idle gateway that wants one. */
static void
start_read(struct srv_webhook *wh, int nwant)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->reload = wh->reload_wanted;
	wh->reload_wanted = 0;
	if (j->reload) {
		j->ranges = xcalloc((size_t)wh->ngws + 1, sizeof *j->ranges);
		for (int i = 0; i < wh->ngws; i++) {
			struct gw *g = wh->gws[i];
			if (g->delivered_id == g->acked_id)
				continue;
			j->ranges[j->nranges].name = xstrdup(g->name);
			j->ranges[j->nranges].lo = g->acked_id;
			j->ranges[j->nranges].hi = g->delivered_id;
			j->nranges++;
		}
	}
	j->reqs = xcalloc((size_t)nwant + 1, sizeof *j->reqs);
	for (int i = 0; i < wh->ngws && j->nreqs < nwant; i++) {
		struct gw *g = wh->gws[i];
		if (g->gone || !g->dirty || g->npage || g->att || g->acks_inflight || g->ack_retry ||
		    g->reading)
			continue;
		g->dirty = 0;
		g->reading = 1;
		j->reqs[j->nreqs].g = g;
		j->reqs[j->nreqs].name = xstrdup(g->name);
		j->nreqs++;
	}
	start_job(wh, j);
}

/* ---- acknowledgements ---- */

static void submit_ack(struct gw *g, int64_t id);

static void
ack_failed(struct gw *g, int err, const char *cause)
{
	struct srv_webhook *wh = g->wh;
	g->ack_retry = 1;
	if (wh->stopping)
		return;
	log_warn("webhook", "cannot record a delivery; will record it again (the agency got it)|"
	    "gateway=%s delivery_id=%lld error=%s detail=\"%s\"", g->name,
	    (long long)g->delivered_id, srv_err_code(err), cause ? cause : "");
	uint64_t at = mono_ms() + 1000;
	if (at > g->resume_ms)
		g->resume_ms = at;
	pump_soon(wh, 1000);
}

static void
ack_done(struct db_req *r)
{
	struct gw *g = r->udata;
	struct srv_webhook *wh = g->wh;
	g->acks_inflight--;
	if (r->err == 0) {
		/* The writer commits acknowledgements in the order they were submitted. */
		g->acked_id = r->outbox_id;
		if (g->acked_id == g->delivered_id)
			g->ack_retry = 0;
	} else {
		ack_failed(g, r->err, r->cause);
	}
	db_req_free(r);
	if (wh->stopping)
		pump(wh);
	else
		pump_soon(wh, 0);
}

/* Acknowledge rows up to id through the store writer (cumulative). */
static void
submit_ack(struct gw *g, int64_t id)
{
	struct srv *srv = g->wh->srv;
	struct db_req *r = db_req_new(DB_OP_OUTBOX_ACK, g->actor);
	r->gateway = xstrdup(g->name);
	r->outbox_id = id;
	r->done = ack_done;
	r->udata = g;
	int rc = srv->store ? db_store_submit(srv->store, r) : SRV_E_SHUTTING_DOWN;
	if (rc != 0) {
		db_req_free(r);
		ack_failed(g, rc, NULL);
		return;
	}
	g->acks_inflight++;
}

/* ---- posting ---- */

static uint64_t
backoff_ms(int fails)
{
	uint64_t d = WH_BACKOFF_MIN_MS;
	for (int i = 1; i < fails && d < WH_BACKOFF_MAX_MS; i++)
		d *= 2;
	if (d > WH_BACKOFF_MAX_MS)
		d = WH_BACKOFF_MAX_MS;
	return d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
}

/* A post (or the name lookup before it) failed: the same row again after a backoff. */
static void
note_failure(struct gw *g, int64_t id, const char *error)
{
	struct srv_webhook *wh = g->wh;
	if (wh->stopping || g->gone)
		return;
	wh->failed++;
	if (g->fails++ == 0)
		g->fail_since_ms = srv_now_ms();
	uint64_t delay = backoff_ms(g->fails);
	g->resume_ms = mono_ms() + delay;
	if (g->fails == 1)
		log_warn("webhook", "agency webhook unavailable; its deliveries wait and are retried|"
		    "gateway=%s delivery_id=%lld error=\"%s\" retry_ms=%llu", g->name, (long long)id,
		    error, (unsigned long long)delay);
	else if (g->fails % 10 == 0)
		log_warn("webhook", "agency webhook still unavailable|gateway=%s delivery_id=%lld "
		    "failures=%d down_s=%lld pending=%lld error=\"%s\" retry_ms=%llu", g->name,
		    (long long)id, g->fails, (long long)((srv_now_ms() - g->fail_since_ms) / 1000),
		    (long long)g->pending, error, (unsigned long long)delay);
	else
		log_debug("webhook", "retry|gateway=%s delivery_id=%lld failures=%d error=\"%s\" "
		    "retry_ms=%llu", g->name, (long long)id, g->fails, error,
		    (unsigned long long)delay);
	pump_soon(wh, delay);
}

static void
delivered(struct gw *g, struct attempt *a)
{
	struct srv_webhook *wh = g->wh;
	struct row *row = &g->page[g->next];
	assert(g->next < g->npage && row->id == a->id);
	wh->ok++;
	if (g->fails)
		log_info("webhook", "agency webhook reachable again|gateway=%s failures=%d down_s=%lld",
		    g->name, g->fails, (long long)((srv_now_ms() - g->fail_since_ms) / 1000));
	g->fails = 0;
	log_debug("webhook", "delivered|gateway=%s delivery_id=%lld seq=%lld status=%d", g->name,
	    (long long)row->id, (long long)row->seq, a->h.status);
	g->delivered_id = row->id;
	if (g->pending > 0)
		g->pending--;
	free(row->body);
	row->body = NULL;
	g->next++;
	submit_ack(g, row->id);
	if (g->next == g->npage)
		page_free(g);
}

/*
 * One post is over (answered, or the connection failed). Called once per
 * attempt from an lws callback, or after a failed connect.
 */
static void
attempt_finish(struct attempt *a)
{
	struct gw *g = a->g;
	a->g = NULL;
	a->h.body = NULL;
	if (g == NULL)
		return;
	g->att = NULL;
	if (a->h.status >= 200 && a->h.status < 300) {
		delivered(g, a);
	} else {
		char why[200];
		if (a->h.status)
			snprintf(why, sizeof why, "HTTP %d", a->h.status);
		else
			snprintf(why, sizeof why, "%s", a->h.err[0] ? a->h.err : "connection failed");
		note_failure(g, a->id, why);
		/* A name's next address after a failed connection; after the last, look it up again. */
		if (a->h.status == 0 && !g->url.numeric && ++g->cur_addr >= g->naddrs)
			g->have_addr = 0;
	}
	pump_soon(g->wh, 0);
}

static void
attempt_finished(struct srv_hpost *h)
{
	attempt_finish((struct attempt *)h);
}

static void
attempt_release(struct srv_hpost *h)
{
	srv_hpost_clear(h);
	free(h);
}

static int
attempt_headers(struct srv_hpost *h, struct lws *wsi, unsigned char **p, unsigned char *end)
{
	struct attempt *a = (struct attempt *)h;
	return srv_hpost_header(wsi, "user-agent:", "liandong-webhook/" LIANDONG_VERSION, p, end) ||
	    srv_hpost_header(wsi, "x-liandong-delivery:", a->delivery, p, end) ||
	    (a->sig[0] && (srv_hpost_header(wsi, "x-liandong-timestamp:", a->ts, p, end) ||
			      srv_hpost_header(wsi, "x-liandong-signature:", a->sig, p, end)))
	    ? -1
	    : 0;
}

static const struct srv_hpost_ops attempt_ops = { attempt_headers, attempt_finished,
	attempt_release };

static void
start_attempt(struct gw *g)
{
	struct srv_webhook *wh = g->wh;
	const struct row *row = &g->page[g->next];
	struct attempt *a = xcalloc(1, sizeof *a);
	a->h.ops = &attempt_ops;
	a->h.body = row->body;
	a->h.len = row->len;
	a->h.content_type = "application/json";
	a->h.peer = "the webhook";
	a->h.timeout_ms = WH_TIMEOUT_MS;
	a->g = g;
	a->id = row->id;
	snprintf(a->delivery, sizeof a->delivery, "%lld", (long long)row->id);
	if (g->secret) {
		char hex[65];
		snprintf(a->ts, sizeof a->ts, "%lld", (long long)(srv_now_ms() / 1000));
		auth_sign(g->secret, a->ts, row->body, row->len, hex);
		snprintf(a->sig, sizeof a->sig, "sha256=%s", hex);
	}
	g->att = a;

	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = wh->lws;
	i.address = g->addrs[g->cur_addr];
	i.port = g->url.port;
	i.ssl_connection = (g->url.tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	i.path = g->url.path;
	i.host = g->url.host_header;
	i.method = "POST";
	i.protocol = WH_PROTOCOL;
	i.local_protocol_name = WH_PROTOCOL;
	i.alpn = "http/1.1";
	srv_hpost_start(&a->h, &i);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct gw *g = req->data;
	g->resolving = 0;
	if (g->resolving_gen != g->url_gen) {
		/* The webhook changed meanwhile: the next pump looks the new one up. */
		if (res)
			uv_freeaddrinfo(res);
		if (!g->wh->stopping)
			pump_soon(g->wh, 0);
		return;
	}
	g->naddrs = 0;
	for (struct addrinfo *ai = status == 0 ? res : NULL; ai && g->naddrs < WH_ADDRS;
	     ai = ai->ai_next) {
		char *out = g->addrs[g->naddrs];
		if (ai->ai_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, out, sizeof g->addrs[0]);
		else if (ai->ai_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)ai->ai_addr, out, sizeof g->addrs[0]);
		else
			continue;
		int dup = 0;
		for (int k = 0; k < g->naddrs; k++)
			dup |= strcmp(g->addrs[k], out) == 0;
		if (!dup)
			g->naddrs++;
	}
	if (res)
		uv_freeaddrinfo(res);
	if (g->naddrs) {
		g->cur_addr = 0;
		g->have_addr = 1;
	} else if (g->npage > g->next) {
		char why[200];
		snprintf(why, sizeof why, "cannot resolve %.100s: %s", g->url.host,
		    status ? uv_strerror(status) : "no IPv4 or IPv6 address");
		note_failure(g, g->page[g->next].id, why);
	}
	if (g->wh->stopping)
		pump(g->wh);
	else
		pump_soon(g->wh, 0);
}

static void
resolve(struct gw *g)
{
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	char port[8];
	snprintf(port, sizeof port, "%d", g->url.port);
	g->gai.data = g;
	int rc = uv_getaddrinfo(g->wh->loop, &g->gai, on_resolved, g->url.host, port, &hints);
	if (rc == 0) {
		g->resolving = 1;
		g->resolving_gen = g->url_gen;
	} else {
		char why[200];
		snprintf(why, sizeof why, "cannot resolve %.100s: %s", g->url.host, uv_strerror(rc));
		note_failure(g, g->page[g->next].id, why);
	}
}

/* ---- the pump ---- */

static void maybe_finish(struct srv_webhook *wh);

/*
 * The module's one step, run on the loop whenever something changed: drop
 * gateways that are gone and idle, post each gateway's next row when its
 * backoff allows, re-submit a failed acknowledgement, and start a read for
 * the gateways whose page is used up.
 */
static void
pump(struct srv_webhook *wh)
{
	if (wh->stopping) {
		maybe_finish(wh);
		return;
	}
	uint64_t now = mono_ms(), wait = UINT64_MAX;
	int want = 0;
	for (int i = 0; i < wh->ngws; i++) {
		struct gw *g = wh->gws[i];
		if (g->gone) {
			if (gw_idle(g)) {
				gw_free(g);
				memmove(&wh->gws[i], &wh->gws[i + 1],
				    (size_t)(wh->ngws - i - 1) * sizeof wh->gws[0]);
				wh->ngws--;
				i--;
			}
			continue;
		}
		if (g->att || g->reading || g->resolving || !g->url_ok)
			continue;
		if (g->resume_ms > now) {
			if (g->resume_ms - now < wait)
				wait = g->resume_ms - now;
			continue;
		}
		if (g->ack_retry && g->acks_inflight == 0)
			submit_ack(g, g->delivered_id);
		if (g->next < g->npage) {
			if (!g->have_addr)
				resolve(g);
			else
				start_attempt(g);
		} else if (g->dirty && g->acks_inflight == 0 && !g->ack_retry) {
			want++;
		}
	}
	if (!wh->job_inflight && (want || wh->reload_wanted))
		start_read(wh, want);
	if (wait != UINT64_MAX)
		pump_soon(wh, wait);
}

/* Once a second: cut posts without an answer in time; reload the gateways every 5 s. */
static void
tick(uv_timer_t *t)
{
	struct srv_webhook *wh = t->data;
	uint64_t now = mono_ms();
	for (int i = 0; i < wh->ngws; i++) {
		struct attempt *a = wh->gws[i]->att;
		if (a && a->h.wsi && !a->killing && now - a->h.started_ms >= WH_TIMEOUT_MS) {
			a->killing = 1;
			snprintf(a->h.err, sizeof a->h.err, "no answer within %d s", WH_TIMEOUT_MS / 1000);
			lws_set_timeout(a->h.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		}
	}
	if (now >= wh->next_reload_ms) {
		wh->next_reload_ms = now + WH_RELOAD_MS;
		wh->reload_wanted = 1;
		pump_soon(wh, 0);
	}
}

/* ---- lws ---- */

static const struct lws_protocols protocols[] = {
	{ WH_PROTOCOL, srv_hpost_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- start, stop ---- */

struct srv_webhook *
srv_webhook_start(struct srv *srv, const char *db_path)
{
	if (sodium_init() < 0) {
		log_error("webhook", "libsodium failed to initialise");
		return NULL;
	}
	struct srv_webhook *wh = xcalloc(1, sizeof *wh);
	wh->srv = srv;
	wh->loop = srv->loop;
	wh->db_path = xstrdup(db_path);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	void *foreign[1] = { srv->loop };
	info.foreign_loops = foreign;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.user = wh;
	info.timeout_secs = WH_TIMEOUT_MS / 1000;
	info.pcontext = &wh->lws;
	info.vhost_name = "webhook";
	wh->lws = lws_create_context(&info);
	if (wh->lws == NULL) {
		log_error("webhook", "cannot create the webhook client context");
		free(wh->db_path);
		free(wh);
		return NULL;
	}
	uv_timer_init(wh->loop, &wh->pump_timer);
	uv_timer_init(wh->loop, &wh->tick);
	wh->pump_timer.data = wh;
	wh->tick.data = wh;
	uv_timer_start(&wh->tick, tick, 1000, 1000);
	wh->reload_wanted = 1;
	wh->next_reload_ms = mono_ms() + WH_RELOAD_MS;
	pump_soon(wh, 0);
	return wh;
}

void
srv_webhook_poke(struct srv_webhook *wh)
{
	if (wh == NULL || wh->stopping)
		return;
	for (int i = 0; i < wh->ngws; i++)
		wh->gws[i]->dirty = 1;
	pump_soon(wh, 0);
}

static void
free_all(struct srv_webhook *wh)
{
	for (int i = 0; i < wh->ngws; i++) {
		/* lws is gone: an attempt it never called back for is ours to free. */
		if (wh->gws[i]->att)
			attempt_release(&wh->gws[i]->att->h);
		gw_free(wh->gws[i]);
	}
	free(wh->gws);
	free(wh->db_path);
	free(wh);
}

static void
handle_closed(uv_handle_t *h)
{
	struct srv_webhook *wh = h->data;
	if (--wh->closing_handles > 0)
		return;
	void (*done)(void *) = wh->done;
	void *arg = wh->done_arg;
	free_all(wh);
	if (done)
		done(arg);
}

static void
count_lws_handle(uv_handle_t *h, void *arg)
{
	struct srv_webhook *wh = arg;
	if (h->data == (void *)wh->lws)
		wh->lws_handles++;
}

/*
 * How lws 4.1 tears a context down on a foreign loop: the first
 * lws_context_destroy() closes every connection; when the last one's handle
 * is closed, lws closes its own handles (a timer and an idle, whose data is
 * the context; closed handles leave the loop's list). Nothing frees the
 * context after that unless lws_context_destroy() is called again, which
 * must not happen before those handles are closed (their close callback
 * reads the context). This counts them.
 */
static int
lws_handles_left(struct srv_webhook *wh)
{
	wh->lws_handles = 0;
	uv_walk(wh->loop, count_lws_handle, wh);
	return wh->lws_handles;
}

/*
 * Stopping: finish once the read in flight is over and the connection is
 * closed (in the pool), every acknowledgement came back from the store,
 * name lookups are over and lws has destroyed its context; then close the
 * timers and, in their close callback, call done and free everything.
 */
static void
maybe_finish(struct srv_webhook *wh)
{
	if (wh->closing_handles || wh->job_inflight)
		return;
	if (!wh->db_closed) {
		struct job *j = xcalloc(1, sizeof *j);
		j->close = 1;
		start_job(wh, j);
		return;
	}
	for (int i = 0; i < wh->ngws; i++)
		if (wh->gws[i]->resolving || wh->gws[i]->acks_inflight)
			return;
	if (wh->lws && lws_handles_left(wh) == 0)
		lws_context_destroy(wh->lws); /* the second call: frees it and clears wh->lws */
	if (wh->lws)
		return;
	wh->closing_handles = 2;
	uv_close((uv_handle_t *)&wh->pump_timer, handle_closed);
	uv_close((uv_handle_t *)&wh->tick, handle_closed);
}

void
srv_webhook_stop(struct srv_webhook *wh, void (*done)(void *), void *arg)
{
	if (wh->stopping)
		return;
	wh->stopping = 1;
	wh->done = done;
	wh->done_arg = arg;
	uv_timer_stop(&wh->tick);
	for (int i = 0; i < wh->ngws; i++)
		if (wh->gws[i]->resolving)
			uv_cancel((uv_req_t *)&wh->gws[i]->gai);
	/*
	 * lws closes every connection now (a post in flight is cut and sent
	 * again after the next start); maybe_finish() completes the teardown.
	 */
	if (wh->lws)
		lws_context_destroy(wh->lws);
	/* Poll the conditions maybe_finish waits for (lws gives no callback). */
	uv_timer_start(&wh->pump_timer, pump_cb, 0, 20);
}

void
srv_webhook_get_stats(const struct srv_webhook *wh, struct srv_webhook_stats *out)
{
	memset(out, 0, sizeof *out);
	if (wh == NULL)
		return;
	out->ok = wh->ok;
	out->failed = wh->failed;
	for (int i = 0; i < wh->ngws; i++) {
		if (wh->gws[i]->gone)
			continue;
		out->pending += wh->gws[i]->pending;
		out->gateways++;
	}
}
