/*
 * fwd_intake.c - how reports enter the forwarder: the local HTTP intake
 * (POST /forward[/{adapter}], GET /status) and the inbox folder poller.
 *
 * HTTP: headers arrive in LWS_CALLBACK_HTTP, where everything that can be
 * refused without the body is (411 without Content-Length, 413 over
 * --max-body, 415 without a usable Content-Type); the body arrives in
 * HTTP_BODY; at HTTP_BODY_COMPLETION the report gets its sequence number
 * and is written and fsynced in the thread pool; only when that is done
 * is the answer 202 {"spooled": seq}. Answers are written from
 * HTTP_WRITEABLE, headers and body in separate callbacks.
 *
 * Inbox: a timer lists the inbox in the thread pool (a bounded batch, oldest
 * first), gives each file a sequence number, and moves the batch into the
 * spool by rename, then fsyncs the spool folder and the inbox folders.
 */
#include "fwd.h"
#include "srv_log.h"
#include "srv_util.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct req {
	struct fwd *f;
	struct lws *wsi;        /* NULL once the connection is gone */
	int is_post;
	char adapter[FWD_ADAPTER_MAX + 1];
	char ctype[FWD_CTYPE_MAX + 1];
	char *body;
	size_t body_len, content_length;
	uint64_t seq;
	int status;             /* set when the answer is ready */
	char *resp;             /* LWS_PRE + answer */
	size_t resp_len;
	const char *retry_after;
	int headers_sent, close_after, pending;
	int draining;           /* refused: its body is read and dropped before the answer */
};

/*
 * A refused request's body is still read (and dropped) up to this many bytes
 * before the answer goes out: closing with the body unread makes the kernel
 * reset the connection, and a client still sending sees the reset, not the
 * answer. Larger bodies are answered at once and the connection closed.
 */
#define DRAIN_MAX (16u << 20)

struct http_pss {
	struct req *req;
};

size_t
fwd_http_pss_size(void)
{
	return sizeof(struct http_pss);
}

static void
req_free(struct req *r)
{
	r->f->requests_live--;
	free(r->body);
	free(r->resp);
	free(r);
}

static void
reply(struct req *r, int status, char *json_text)
{
	r->pending = 0;
	if (r->wsi == NULL) {
		free(json_text);
		req_free(r);
		return;
	}
	size_t n = strlen(json_text);
	r->status = status;
	r->resp = xmalloc(LWS_PRE + n + 1);
	memcpy(r->resp + LWS_PRE, json_text, n + 1);
	r->resp_len = n;
	free(json_text);
	lws_callback_on_writable(r->wsi);
}

/* {"error": {"code", "message", "detail"}} as the centre writes them. */
static void
reply_error(struct req *r, int status, const char *code, const char *message, const char *detail)
{
	json_t *e = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (detail)
		json_object_set_new(e, "detail", json_string(detail));
	json_t *o = json_pack("{s:o}", "error", e);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	reply(r, status, s);
}

static void
copy_hdr(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t len)
{
	buf[0] = '\0';
	if (lws_hdr_total_length(wsi, tok) > 0 && lws_hdr_copy(wsi, buf, (int)len, tok) < 0)
		buf[0] = '\0';
}

/* ---- spool writes ---- */

struct write_job {
	uv_work_t w;
	struct req *r;
	char name[FWD_NAME_MAX];
	int rc;
	char *cause;
};

static void
write_work(uv_work_t *w)
{
	struct write_job *j = w->data;
	j->rc = fwd_spool_write(j->r->f->cfg->spool, j->name, j->r->body, j->r->body_len, &j->cause);
}

static void
write_done(uv_work_t *w, int status)
{
	struct write_job *j = w->data;
	struct req *r = j->r;
	struct fwd *f = r->f;
	f->http_writing--;
	fwd_seq_end(f, r->seq, j->rc == 0);
	if (j->rc == 0) {
		f->received++;
		log_debug("forward", "spooled|seq=%llu adapter=%s bytes=%zu",
		    (unsigned long long)r->seq, r->adapter, r->body_len);
		reply(r, 202, xasprintf("{\"spooled\":%llu}", (unsigned long long)r->seq));
		fwd_send_wake(f);
	} else {
		log_error("forward", "cannot spool a report; answered 500|detail=\"%s\"", j->cause);
		reply_error(r, 500, "spool_error", "the report could not be written to disk; it was "
		    "not accepted", j->cause);
	}
	free(j->cause);
	free(j);
}

static void
start_write(struct req *r)
{
	struct fwd *f = r->f;
	if (f->stopping) {
		r->close_after = 1;
		reply_error(r, 503, "shutting_down", "the forwarder is shutting down", NULL);
		return;
	}
	if (f->http_writing >= FWD_WRITES_MAX) {
		r->retry_after = "1";
		reply_error(r, 503, "overloaded", "too many reports are being written; retry", NULL);
		return;
	}
	struct write_job *j = xcalloc(1, sizeof *j);
	j->w.data = j;
	j->r = r;
	r->seq = fwd_seq_begin(f);
	f->http_writing++;
	/* Checked when the headers arrived; cannot fail here. */
	if (fwd_spool_name(j->name, sizeof j->name, r->seq, r->adapter, r->ctype) != 0)
		abort();
	r->pending = 1;
	uv_queue_work(f->loop, &j->w, write_work, write_done);
}

/* ---- HTTP ---- */

/* The body length a request announces: 0 when none, or chunked, or not a number. */
static unsigned long long
announced_length(struct lws *wsi)
{
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return 0;
	char cl[32], *end;
	copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
	unsigned long long n = strtoull(cl, &end, 10);
	return cl[0] >= '0' && cl[0] <= '9' && *end == '\0' ? n : 0;
}

static void route(struct lws *wsi, struct req *r);

/* Headers are in: answer /status, refuse what can be refused, or get ready for the body. */
static int
http_begin(struct lws *wsi, struct http_pss *pss)
{
	struct fwd *f = lws_context_user(lws_get_context(wsi));
	struct req *r = xcalloc(1, sizeof *r);
	f->requests_live++;
	r->f = f;
	r->wsi = wsi;
	pss->req = r;
	route(wsi, r);
	unsigned long long n;
	if (r->status && r->close_after && (n = announced_length(wsi)) > 0 && n <= DRAIN_MAX) {
		r->draining = 1;
		r->content_length = (size_t)n;
	}
	return 0;
}

static void
route(struct lws *wsi, struct req *r)
{
	struct fwd *f = r->f;
	char *uri = NULL;
	int ulen = 0;
	int m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
	char path[300];
	snprintf(path, sizeof path, "%.*s", uri ? ulen : 0, uri ? uri : "");

	if (strcmp(path, "/status") == 0) {
		if (m != LWSHUMETH_GET) {
			reply_error(r, 405, "method_not_allowed", "use GET", NULL);
			return;
		}
		reply(r, 200, fwd_status_json(f));
		return;
	}
	const char *adapter = NULL;
	if (strcmp(path, "/forward") == 0 || strcmp(path, "/forward/") == 0)
		adapter = f->cfg->adapter;
	else if (strncmp(path, "/forward/", 9) == 0)
		adapter = path + 9;
	if (adapter == NULL) {
		r->close_after = m == LWSHUMETH_POST;
		reply_error(r, 404, "no_route", "no such endpoint",
		    "POST /forward or /forward/{adapter}; GET /status");
		return;
	}
	r->close_after = 1; /* until the body is read, a refusal closes the connection */
	if (m != LWSHUMETH_POST) {
		reply_error(r, 405, "method_not_allowed", "use POST", NULL);
		return;
	}
	if (!fwd_adapter_valid(adapter)) {
		reply_error(r, 404, "unknown_adapter", "no gateway adapter has that name",
		    "adapter names are 1-32 of a-z 0-9 - _");
		return;
	}
	memcpy(r->adapter, adapter, strlen(adapter) + 1); /* valid: at most FWD_ADAPTER_MAX */
	if (f->stopping) {
		reply_error(r, 503, "shutting_down", "the forwarder is shutting down", NULL);
		return;
	}
	if (f->requests_live > FWD_REQUESTS_MAX) {
		/* Bounded memory: each request may hold a body of --max-body. */
		r->retry_after = "1";
		reply_error(r, 503, "overloaded", "too many reports are arriving at once; retry", NULL);
		return;
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		reply_error(r, 411, "length_required", "a request body needs Content-Length",
		    "send the body with a Content-Length header, not chunked");
		return;
	}
	char cl[32];
	copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
	char *end;
	unsigned long long n = strtoull(cl, &end, 10);
	if (cl[0] == '\0' || *end != '\0' || cl[0] == '-') {
		reply_error(r, 411, "length_required", "a request body needs Content-Length", NULL);
		return;
	}
	if (n > (unsigned long long)f->cfg->max_body) {
		char *why = xasprintf("the body is %llu bytes; the limit is %lld", n,
		    (long long)f->cfg->max_body);
		reply_error(r, 413, "payload_too_large", "the request body is larger than allowed",
		    why);
		free(why);
		return;
	}
	if (n == 0) {
		reply_error(r, 400, "empty_body", "the request has no body", NULL);
		return;
	}
	char ct[FWD_CTYPE_MAX + 2], name[FWD_NAME_MAX];
	copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ct, sizeof ct);
	if (ct[0] == '\0' || strlen(ct) > FWD_CTYPE_MAX ||
	    fwd_spool_name(name, sizeof name, 1, r->adapter, ct) != 0) {
		reply_error(r, 415, "unsupported_media_type", "the content type is not accepted",
		    "send the Content-Type the centre's adapter expects (e.g. application/json), "
		    "at most 100 printable characters");
		return;
	}
	memcpy(r->ctype, ct, strlen(ct) + 1); /* at most FWD_CTYPE_MAX: checked above */
	r->is_post = 1;
	r->close_after = 0;
	r->content_length = (size_t)n;
	r->body = xmalloc((size_t)n + 1);
}

static int
http_body(struct req *r, const void *in, size_t len)
{
	if (r->draining) {
		r->body_len += len;
		return r->body_len > r->content_length ? -1 : 0;
	}
	if (r->body == NULL || r->status)
		return 0; /* already refused; discard */
	if (r->body_len + len > r->content_length)
		return -1; /* more than announced: drop the connection */
	memcpy(r->body + r->body_len, in, len);
	r->body_len += len;
	return 0;
}

static int
http_writeable(struct lws *wsi, struct http_pss *pss)
{
	struct req *r = pss->req;
	if (r == NULL || r->status == 0 || r->draining)
		return 0;
	if (!r->headers_sent) {
		unsigned char hb[LWS_PRE + 512], *start = hb + LWS_PRE, *p = start,
						    *end = hb + sizeof hb - 1;
		if (lws_add_http_common_headers(wsi, (unsigned)r->status, "application/json",
			r->resp_len, &p, end))
			return 1;
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
			(const unsigned char *)"no-store", 8, &p, end))
			return 1;
		if (r->retry_after &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
			(const unsigned char *)r->retry_after, (int)strlen(r->retry_after), &p, end))
			return 1;
		if (r->close_after &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
			(const unsigned char *)"close", 5, &p, end))
			return 1;
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		r->headers_sent = 1;
		lws_callback_on_writable(wsi);
		return 0;
	}
	if (lws_write(wsi, (unsigned char *)r->resp + LWS_PRE, r->resp_len, LWS_WRITE_HTTP_FINAL) <
	    (int)r->resp_len)
		return -1;
	int close_after = r->close_after;
	pss->req = NULL;
	req_free(r);
	if (close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void
http_detach(struct http_pss *pss)
{
	struct req *r = pss->req;
	if (r == NULL)
		return;
	pss->req = NULL;
	if (r->pending)
		r->wsi = NULL; /* freed when its write finishes (the report is spooled anyway) */
	else
		req_free(r);
}

int
fwd_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
    size_t len)
{
	struct http_pss *pss = user;
	if (pss == NULL)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		http_detach(pss);
		return http_begin(wsi, pss);
	case LWS_CALLBACK_HTTP_BODY:
		return pss->req ? http_body(pss->req, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss->req && pss->req->draining) {
			pss->req->draining = 0; /* the refused body is read: answer now */
			lws_callback_on_writable(wsi);
		} else if (pss->req && pss->req->is_post && pss->req->status == 0 && !pss->req->pending) {
			if (pss->req->body_len != pss->req->content_length)
				return -1;
			start_write(pss->req);
		}
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_writeable(wsi, pss);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		http_detach(pss);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- inbox ---- */

struct fwd_inbox {
	struct fwd *f;
	uv_timer_t timer;
	int busy;
	int open;
};

struct take {
	struct fwd_inbox_file file;
	uint64_t seq;
	char name[FWD_NAME_MAX];
	int too_large;
	int rc;
	char *cause;
};

struct inbox_job {
	uv_work_t w;
	struct fwd_inbox *in;
	int listing;             /* first the listing, then the moves */
	struct fwd_inbox_file *files;
	int nfiles;
	struct take *takes;
	int ntakes;
	int rc;
	char *cause;
};

static void inbox_schedule(struct fwd_inbox *in, uint64_t ms);

static void
inbox_work(uv_work_t *w)
{
	struct inbox_job *j = w->data;
	const struct fwd_config *c = j->in->f->cfg;
	if (j->listing) {
		j->rc = fwd_inbox_list(c->inbox, c->adapter, FWD_INBOX_BATCH, &j->files, &j->nfiles,
		    &j->cause);
		return;
	}
	int subdirs = 0;
	for (int i = 0; i < j->ntakes; i++) {
		struct take *t = &j->takes[i];
		t->rc = fwd_inbox_take(c->inbox, t->file.path, c->spool, t->name, &t->cause);
		if (t->rc == 0 && t->too_large) {
			char *why = xasprintf("{\"status\":0,\"error\":{\"code\":\"forwarder_refused\","
			    "\"detail\":\"the file has %lld bytes; the limit is %lld\"}}\n",
			    (long long)t->file.size, (long long)c->max_body);
			t->rc = fwd_spool_reject(c->spool, t->name, why, strlen(why), &t->cause);
			free(why);
		}
		if (strchr(t->file.path, '/'))
			subdirs = 1;
	}
	/* The new names in the spool first, then the inbox's removals. */
	fwd_fsync_dir(c->spool);
	fwd_fsync_dir(c->inbox);
	if (subdirs)
		for (int i = 0; i < j->ntakes; i++) {
			char *slash = strchr(j->takes[i].file.path, '/');
			if (slash) {
				char *d = xasprintf("%s/%.*s", c->inbox,
				    (int)(slash - j->takes[i].file.path), j->takes[i].file.path);
				fwd_fsync_dir(d);
				free(d);
			}
		}
}

static void
inbox_job_free(struct inbox_job *j)
{
	fwd_inbox_free(j->files, j->nfiles);
	for (int i = 0; i < j->ntakes; i++) {
		free(j->takes[i].file.path);
		free(j->takes[i].cause);
	}
	free(j->takes);
	free(j->cause);
	free(j);
}

/* The batch's spool name for one inbox file: a spool name moved back keeps its adapter and type. */
static int
take_name(struct take *t)
{
	const char *base = strrchr(t->file.path, '/');
	base = base ? base + 1 : t->file.path;
	uint64_t seq;
	char adapter[FWD_ADAPTER_MAX + 1], ctype[FWD_CTYPE_MAX + 1];
	if (fwd_spool_parse(base, &seq, adapter, ctype) == 0)
		return fwd_spool_name(t->name, sizeof t->name, t->seq, adapter, ctype);
	return fwd_spool_name(t->name, sizeof t->name, t->seq, t->file.adapter, t->file.ctype);
}

static void
inbox_done(uv_work_t *w, int status)
{
	struct inbox_job *j = w->data;
	struct fwd_inbox *in = j->in;
	struct fwd *f = in->f;
	if (j->listing) {
		if (j->rc != 0 || j->nfiles == 0 || f->stopping) {
			if (j->rc != 0)
				log_warn("forward", "cannot read the inbox|detail=\"%s\"", j->cause);
			in->busy = 0;
			inbox_schedule(in, j->rc ? 10000 : (uint64_t)f->cfg->inbox_poll_ms);
			inbox_job_free(j);
			return;
		}
		/* Give sequence numbers on the loop, then move the batch in the pool. */
		j->takes = xcalloc((size_t)j->nfiles, sizeof *j->takes);
		for (int i = 0; i < j->nfiles; i++) {
			struct take *t = &j->takes[j->ntakes];
			t->file = j->files[i];
			j->files[i].path = NULL;
			t->seq = fwd_seq_begin(f);
			t->too_large = t->file.size > f->cfg->max_body;
			if (take_name(t) != 0) {
				fwd_seq_end(f, t->seq, 0);
				log_warn("forward", "inbox file skipped: unusable name|file=%s", t->file.path);
				free(t->file.path);
				continue;
			}
			j->ntakes++;
		}
		j->listing = 0;
		uv_queue_work(f->loop, &j->w, inbox_work, inbox_done);
		return;
	}
	int failed = 0;
	for (int i = 0; i < j->ntakes; i++) {
		struct take *t = &j->takes[i];
		int landed = t->rc == 0 && !t->too_large;
		fwd_seq_end(f, t->seq, landed);
		if (t->rc != 0) {
			failed = 1;
			log_warn("forward", "cannot take an inbox file; trying again in 10 s|file=%s "
			    "detail=\"%s\"", t->file.path, t->cause);
		} else if (t->too_large) {
			f->rejected++;
			log_error("forward", "inbox file too large; moved to rejected/|file=%s bytes=%lld "
			    "name=%s", t->file.path, (long long)t->file.size, t->name);
		} else {
			f->received++;
			log_info("forward", "taken from the inbox|file=%s seq=%llu name=%s", t->file.path,
			    (unsigned long long)t->seq, t->name);
		}
	}
	fwd_send_wake(f);
	in->busy = 0;
	/* A full batch: more may be waiting, look again at once. */
	inbox_schedule(in, failed ? 10000 : j->nfiles == FWD_INBOX_BATCH ? 0
	    : (uint64_t)f->cfg->inbox_poll_ms);
	inbox_job_free(j);
}

static void
inbox_poll(uv_timer_t *t)
{
	struct fwd_inbox *in = t->data;
	if (in->busy || in->f->stopping)
		return;
	struct inbox_job *j = xcalloc(1, sizeof *j);
	j->w.data = j;
	j->in = in;
	j->listing = 1;
	in->busy = 1;
	uv_queue_work(in->f->loop, &j->w, inbox_work, inbox_done);
}

static void
inbox_schedule(struct fwd_inbox *in, uint64_t ms)
{
	if (in->open && !in->f->stopping)
		uv_timer_start(&in->timer, inbox_poll, ms, 0);
}

void
fwd_inbox_start(struct fwd *f)
{
	if (f->cfg->inbox == NULL)
		return;
	struct fwd_inbox *in = xcalloc(1, sizeof *in);
	in->f = f;
	uv_timer_init(f->loop, &in->timer);
	in->timer.data = in;
	in->open = 1;
	f->inbox = in;
	inbox_schedule(in, 0);
}

void
fwd_inbox_stop(struct fwd *f)
{
	if (f->inbox && f->inbox->open) {
		f->inbox->open = 0;
		uv_close((uv_handle_t *)&f->inbox->timer, NULL);
	}
}

void
fwd_inbox_free_state(struct fwd *f)
{
	free(f->inbox);
	f->inbox = NULL;
}
