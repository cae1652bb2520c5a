/*
 * srv_api.c - REST routes under /api/v1, /healthz and /metrics.
 *
 * Every handler validates completely before it submits anything, so bad
 * input gets a clear error and changes nothing. Mutations go to the store
 * writer and are answered only once committed; reads go to the read pool.
 */
#include "srv.h"
#include "db_read.h"
#include "db_store.h"
#include "db_store-int.h"
#include "hub.h"
#include "srv_auth.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_json.h"
#include "srv_util.h"
#include "srv_gis.h"
#include "conf.h"
#include "srv_api-int.h"
#include "dsp.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* --- helpers --------------------------------------------------------------- */

json_t *
parse_body(struct srv_req *req, int *err, char **cause)
{
	if (req->body_len == 0) {
		*err = srv_fail(cause, SRV_E_BAD_JSON, "the request needs a JSON body");
		return NULL;
	}
	json_error_t jerr;
	json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		*err = srv_fail(cause, SRV_E_BAD_JSON, "line %d column %d: %s", jerr.line, jerr.column,
		    jerr.text);
	return j;
}

/*
 * A JSON body (one that starts with { or [) nested deeper than any document
 * of ours is refused before a parser recurses into it: 400 json_too_deep.
 */
static int
json_too_deep(struct srv_req *req)
{
	size_t i = 0;
	while (i < req->body_len && strchr(" \t\r\n", req->body[i]))
		i++;
	if (i == req->body_len || (req->body[i] != '{' && req->body[i] != '['))
		return 0;
	if (srv_json_depth(req->body + i, req->body_len - i, SRV_JSON_MAX_DEPTH) <= SRV_JSON_MAX_DEPTH)
		return 0;
	fail(req, SRV_E_JSON_DEPTH,
	    xasprintf("objects and arrays nest deeper than %d levels", SRV_JSON_MAX_DEPTH));
	return 1;
}

json_t *
object_body(struct srv_req *req, const char *const *known)
{
	if (!content_type_is(req, "application/json")) {
		fail(req, SRV_E_BAD_CONTENT_TYPE, xstrdup("send application/json"));
		return NULL;
	}
	int err = 0;
	char *cause = NULL;
	json_t *j = parse_body(req, &err, &cause);
	if (j == NULL) {
		fail(req, err, cause);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		fail(req, SRV_E_BAD_FIELD, xstrdup("the body must be a JSON object"));
		return NULL;
	}
	if (known && only_fields(req, j, known)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

int
only_fields(struct srv_req *req, json_t *j, const char *const *known)
{
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v) {
		int ok = 0;
		for (int i = 0; known[i] && !ok; i++)
			ok = strcmp(known[i], key) == 0;
		if (!ok) {
			fail(req, SRV_E_BAD_FIELD, xasprintf("unknown field '%s'", key));
			return -1;
		}
	}
	return 0;
}

/* Does the request's Content-Type name this media type (parameters ignored)? */
int
content_type_is(const struct srv_req *req, const char *want)
{
	size_t n = strlen(want);
	return strncasecmp(req->content_type, want, n) == 0 &&
	    (req->content_type[n] == '\0' || req->content_type[n] == ';' ||
		req->content_type[n] == ' ');
}

int
parse_id(const char *s, int64_t *out)
{
	if (*s < '1' || *s > '9')
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

void
fail(struct srv_req *req, int err, char *cause)
{
	srv_reply_error(req, err, cause);
	free(cause);
}

const char *
peer_actor(struct srv_req *req, char *buf, size_t len)
{
	/* The signed-in user; with sign-in off (console.auth = open), the console's address. */
	if (req->user)
		snprintf(buf, len, "user:%s", req->user->name);
	else
		snprintf(buf, len, "console@%s", req->peer[0] ? req->peer : "unknown");
	return buf;
}

/* --- store round trips ------------------------------------------------------ */

void
reply_stale(struct srv_req *req, const struct db_req *r)
{
	json_t *e = json_pack("{s:s, s:s, s:s?}", "code", srv_err_code(r->err), "message",
	    srv_err_msg(r->err), "detail", r->cause);
	snprintf(req->etag, sizeof req->etag, "\"%lld\"", (long long)r->inc.version);
	srv_reply_json(req, 412, json_pack("{s:o, s:o}", "error", e, "current", inc_to_json(&r->inc)));
}

/*
 * The text of incident id inside a journal frame the writer made
 * ({"type":"event",...,"incident":{"id":N,...},...}): 1 with its span, 0 when
 * the frame holds no such object. A raw `,"incident":{` cannot occur inside
 * a JSON string (its quote would be escaped), so the first one is the key
 * of the frame itself; the object ends at the brace that closes it.
 */
static int
frame_incident(const char *frame, size_t len, int64_t id, const char **out, size_t *out_len)
{
	static const char key[] = ",\"incident\":{";
	const char *p = frame ? memmem(frame, len, key, sizeof key - 1) : NULL;
	if (p == NULL)
		return 0;
	const char *start = p + sizeof key - 2, *end = frame + len;
	char head[40];
	int hn = snprintf(head, sizeof head, "{\"id\":%lld,", (long long)id);
	if (end - start < hn || memcmp(start, head, (size_t)hn) != 0)
		return 0;
	int depth = 0, in_str = 0;
	for (const char *q = start; q < end; q++) {
		if (in_str) {
			if (*q == '\\')
				q++;
			else if (*q == '"')
				in_str = 0;
		} else if (*q == '"') {
			in_str = 1;
		} else if (*q == '{' || *q == '[') {
			depth++;
		} else if ((*q == '}' || *q == ']') && --depth == 0) {
			*out = start;
			*out_len = (size_t)(q + 1 - start);
			return 1;
		}
	}
	return 0;
}

static void
write_done(struct db_req *r)
{
	struct srv_req *req = r->udata;
	struct srv *srv = req->srv;
	if (r->op == DB_OP_CREATE && r->inc.source) {
		for (int i = 0; srv->adapters[i]; i++)
			if (strcmp(srv->adapters[i]->name, r->inc.source) == 0) {
				if (r->err)
					srv->intake[i].rejected++;
				else if (r->existed)
					srv->intake[i].duplicate++;
				else if (r->updated_report)
					srv->intake[i].updated++;
				else
					srv->intake[i].created++;
			}
	}
	if (r->err == SRV_E_STALE) {
		reply_stale(req, r);
	} else if (r->err) {
		srv_reply_error(req, r->err, r->cause);
	} else {
		char when[40];
		srv_fmt_time(r->committed_at, 1, when, sizeof when);
		int created = r->op == DB_OP_CREATE && !r->existed && !r->updated_report;
		/* result: created, duplicate (a retry), updated (a later version, an update or cancel). */
		const char *result = created ? "created" : r->existed ? "duplicate" : "updated";
		snprintf(req->etag, sizeof req->etag, "\"%lld\"", (long long)r->inc.version);
		if (created)
			snprintf(req->location, sizeof req->location, "/api/v1/incidents/%lld",
			    (long long)r->inc.id);
		const char *inc_text;
		size_t inc_len;
		if (created && frame_incident(r->frame, r->frame_len, r->inc.id, &inc_text, &inc_len)) {
			/* The incident as the writer rendered it for the journal: not rendered twice. */
			static const char mid[] = ",\"result\":\"created\",\"duplicate\":false,\"seq\":";
			struct srv_jbuf b = { 0 };
			srv_jb_raw(&b, "{\"incident\":", 12);
			srv_jb_raw(&b, inc_text, inc_len);
			srv_jb_raw(&b, mid, sizeof mid - 1);
			srv_jb_int(&b, r->seq);
			srv_jb_raw(&b, ",\"committed_at\":", 16);
			srv_jb_str(&b, when);
			srv_jb_char(&b, '}');
			size_t blen;
			char *body = srv_jb_finish(&b, &blen);
			srv_reply_text(req, 201, "application/json", body, blen);
			free(body);
		} else {
			json_t *o = json_pack("{s:o, s:s, s:b, s:I, s:s}", "incident",
			    inc_to_json(&r->inc), "result", result, "duplicate", r->existed, "seq",
			    (json_int_t)r->seq, "committed_at", when);
			srv_reply_json(req, created ? 201 : 200, o);
		}
	}
	db_req_free(r);
}

void
submit_store(struct srv_req *req, struct db_req *r, void (*done)(struct db_req *))
{
	r->done = done;
	r->udata = req;
	req->pending = 1;
	req->async = 1;
	int rc = db_store_submit(req->srv->store, r);
	if (rc) {
		req->pending = 0;
		db_req_free(r);
		if (rc == SRV_E_OVERLOADED)
			req->retry_after = 1;
		srv_reply_error(req, rc, rc == SRV_E_OVERLOADED ? "the store's backlog is full" : NULL);
	}
}

static void
submit_write(struct srv_req *req, struct db_req *r)
{
	submit_store(req, r, write_done);
}

static void
read_done(struct db_query *q)
{
	struct srv_req *req = q->udata;
	if (q->err) {
		srv_reply_error(req, q->err, q->cause);
	} else {
		if (q->kind == DBQ_GET)
			snprintf(req->etag, sizeof req->etag, "\"%lld\"", (long long)q->version);
		srv_reply_text(req, 200, "application/json", q->body, q->body_len);
	}
	db_query_free(q);
}

void
submit_read(struct srv_req *req, struct db_query *q, void (*done)(struct db_query *))
{
	q->done = done ? done : read_done;
	q->udata = req;
	req->pending = 1;
	req->async = 1;
	if (db_query_submit(req->srv->reader, q) != 0) {
		req->pending = 0;
		db_query_free(q);
		srv_reply_error(req, SRV_E_SHUTTING_DOWN, NULL);
	}
}

/* --- intake ------------------------------------------------------------------ */

static int
host_intake(struct srv *srv, const struct gw_adapter *a, const char *actor, const char *body,
    size_t len, struct db_req **out, char **cause)
{
	struct gw_report rep;
	memset(&rep, 0, sizeof rep);
	int rc = a->parse(&srv->gw_host, body, len, &rep, cause);
	if (rc)
		return rc;
	struct db_req *r = db_req_new(DB_OP_CREATE, actor);
	r->inc = rep.inc;
	r->action = rep.action;
	r->report_version = rep.version;
	r->targets = rep.targets;
	r->ntargets = rep.ntargets;
	free(r->inc.source);
	r->inc.source = xstrdup(a->name);
	*out = r;
	return 0;
}

static int
adapter_index(struct srv *srv, const struct gw_adapter *a)
{
	for (int i = 0; srv->adapters[i]; i++)
		if (srv->adapters[i] == a)
			return i;
	return -1;
}

static void
api_intake(struct srv_req *req, const char *name)
{
	struct srv *srv = req->srv;
	const struct gw_adapter *a = gw_registry_find(srv->adapters, name);
	if (a == NULL) {
		fail(req, SRV_E_UNKNOWN_ADAPTER, xasprintf("no adapter named '%s'", name));
		return;
	}
	if (req->method != SRV_POST) {
		fail(req, SRV_E_METHOD, xstrdup("intake takes POST"));
		return;
	}
	if (!gw_accepts(a, req->content_type)) {
		srv->intake[adapter_index(srv, a)].rejected++;
		fail(req, SRV_E_BAD_CONTENT_TYPE, xasprintf("adapter %s takes Content-Type %s", a->name,
		    a->content_types[0]));
		return;
	}
	char *cause = NULL, actor[64];
	const char *gateway = a->name;
	int rc;
	if (srv->auth) {
		struct auth_creds creds = { req->authorization, req->sig_timestamp, req->signature };
		rc = auth_intake(srv->auth, &creds, a->name, req->body ? req->body : "", req->body_len,
		    &gateway, &req->retry_after, &cause);
		if (rc) {
			srv->intake[adapter_index(srv, a)].rejected++;
			log_info("api", "intake refused|adapter=%s peer=%s code=%s detail=\"%s\"", a->name,
			    req->peer, srv_err_code(rc), cause ? cause : "");
			fail(req, rc, cause);
			return;
		}
	}
	snprintf(actor, sizeof actor, "gateway:%s", gateway);
	struct db_req *r = NULL;
	rc = host_intake(srv, a, actor, req->body ? req->body : "", req->body_len, &r, &cause);
	if (rc) {
		srv->intake[adapter_index(srv, a)].rejected++;
		log_info("api", "intake refused|adapter=%s peer=%s code=%s detail=\"%s\"", a->name,
		    req->peer, srv_err_code(rc), cause ? cause : "");
		fail(req, rc, cause);
		return;
	}
	submit_write(req, r);
}

int
srv_intake_local(struct srv *srv, const char *adapter, const char *actor, const char *body,
    size_t len, void (*done)(struct db_req *), void *udata, char **cause)
{
	const struct gw_adapter *a = gw_registry_find(srv->adapters, adapter);
	if (a == NULL)
		return srv_fail(cause, SRV_E_UNKNOWN_ADAPTER, "no adapter named '%s'", adapter);
	struct db_req *r = NULL;
	int rc = host_intake(srv, a, actor, body, len, &r, cause);
	if (rc)
		return rc;
	r->done = done;
	r->udata = udata;
	rc = db_store_submit(srv->store, r);
	if (rc)
		db_req_free(r);
	return rc;
}

/* --- incidents ------------------------------------------------------------------ */

static void
api_create(struct srv_req *req)
{
	if (!content_type_is(req, "application/json")) {
		fail(req, SRV_E_BAD_CONTENT_TYPE, xstrdup("send application/json"));
		return;
	}
	int err = 0;
	char *cause = NULL;
	json_t *j = parse_body(req, &err, &cause);
	if (j == NULL) {
		fail(req, err, cause);
		return;
	}
	char actor[96];
	struct db_req *r = db_req_new(DB_OP_CREATE, peer_actor(req, actor, sizeof actor));
	err = inc_from_json(j, &r->inc, &cause);
	json_decref(j);
	if (err) {
		db_req_free(r);
		fail(req, err, cause);
		return;
	}
	r->inc.source = xstrdup("manual");
	if (r->inc.reported_at == 0)
		r->inc.reported_at = srv_now_us();
	submit_write(req, r);
}

int
parse_if_match(const char *s, int64_t *out)
{
	char buf[64];
	size_t n = strlen(s);
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		snprintf(buf, sizeof buf, "%.*s", (int)(n - 2), s + 1);
		s = buf;
	} else if (n >= 4 && strncmp(s, "W/\"", 3) == 0) {
		return -1; /* weak tags cannot guard a write */
	}
	return parse_id(s, out);
}

static void
api_patch(struct srv_req *req, int64_t id)
{
	if (!content_type_is(req, "application/json") &&
	    !content_type_is(req, "application/merge-patch+json")) {
		fail(req, SRV_E_BAD_CONTENT_TYPE, xstrdup("send application/json"));
		return;
	}
	int64_t version;
	if (req->if_match[0] == '\0') {
		fail(req, SRV_E_PRECONDITION,
		    xstrdup("send If-Match with the version you edited, e.g. If-Match: \"3\""));
		return;
	}
	if (parse_if_match(req->if_match, &version) != 0) {
		fail(req, SRV_E_PRECONDITION, xasprintf("If-Match '%s' is not a version", req->if_match));
		return;
	}
	int err = 0;
	char *cause = NULL;
	json_t *j = parse_body(req, &err, &cause);
	if (j == NULL) {
		fail(req, err, cause);
		return;
	}
	char actor[96];
	struct db_req *r = db_req_new(DB_OP_PATCH, peer_actor(req, actor, sizeof actor));
	err = inc_patch_from_json(j, &r->patch, &cause);
	json_decref(j);
	if (err) {
		db_req_free(r);
		fail(req, err, cause);
		return;
	}
	r->id = id;
	r->if_version = version;
	if (req->user && req->user->role == ROLE_DISPATCHER)
		snprintf(r->visible_agency, sizeof r->visible_agency, "%s", req->user->agency);
	submit_write(req, r);
}

static int
arg_enum(struct srv_req *req, const char *name, int (*parse)(const char *), int *out)
{
	const char *v = srv_req_arg(req, name);
	if (v == NULL)
		return 0;
	int n = parse(v);
	if (n < 0) {
		fail(req, SRV_E_BAD_QUERY, xasprintf("%s '%s' is not a known value", name, v));
		return -1;
	}
	*out = n;
	return 0;
}

int
arg_time(struct srv_req *req, const char *name, int64_t *out)
{
	const char *v = srv_req_arg(req, name);
	if (v && srv_parse_time(v, out) != 0) {
		fail(req, SRV_E_BAD_QUERY, xasprintf("%s must be an RFC 3339 time", name));
		return -1;
	}
	return 0;
}

int
arg_int(struct srv_req *req, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
	const char *v = srv_req_arg(req, name);
	if (v == NULL)
		return 0;
	char *end;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (errno || *v == '\0' || *end != '\0' || n < lo || n > hi) {
		fail(req, SRV_E_BAD_QUERY, xasprintf("%s must be a whole number from %lld to %lld", name,
		    (long long)lo, (long long)hi));
		return -1;
	}
	*out = n;
	return 0;
}

static void
api_list(struct srv_req *req)
{
	struct db_query *q = db_query_new(DBQ_LIST);
	struct db_list_filter *f = &q->filter;
	int64_t limit = 100, prio = 0, before = 0, open = 0;
	const char *status = srv_req_arg(req, "status");
	if (arg_enum(req, "line", inc_line_parse, &f->line) ||
	    arg_enum(req, "category", inc_category_parse, &f->category) ||
	    arg_int(req, "limit", 1, 500, &limit) || arg_int(req, "priority_max", 1, 4, &prio) ||
	    arg_int(req, "before", 1, INT64_MAX, &before) || arg_int(req, "open", 0, 1, &open) ||
	    arg_time(req, "since", &f->since) || arg_time(req, "until", &f->until)) {
		db_query_free(q);
		return;
	}
	if (status) {
		/* A comma-separated set: status=new,acknowledged */
		char *copy = xstrdup(status), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			int n = inc_status_parse(t);
			if (n < 0) {
				fail(req, SRV_E_BAD_QUERY, xasprintf("status '%s' is not a known value", t));
				free(copy);
				db_query_free(q);
				return;
			}
			f->status_mask |= 1u << n;
		}
		free(copy);
	}
	const char *source = srv_req_arg(req, "source");
	if (source)
		f->source = xstrdup(source);
	f->limit = (int)limit;
	if (req->user && req->user->role == ROLE_DISPATCHER)
		snprintf(f->agency, sizeof f->agency, "%s", req->user->agency);
	f->priority_max = (int)prio;
	f->before_id = before;
	f->open_only = (int)open;
	submit_read(req, q, NULL);
}

/*
 * An incident in another adapter's format (the EIDO for another centre).
 * An export hands the incident outside the centre, so it is audited first:
 * the document goes out only once a row naming who took which version, from
 * where, is committed. If that commit fails, nothing is handed out.
 */
struct export_args {
	int64_t id, version;
	char address[64];
	char *doc;
	size_t len;
};

static void
export_args_free(void *p)
{
	struct export_args *a = p;
	if (a)
		free(a->doc);
	free(a);
}

static int
run_export_audit(struct db_store *st, struct db_req *r, int64_t now)
{
	struct export_args *a = r->args;
	char target[40], detail[80];
	snprintf(target, sizeof target, "incident:%lld", (long long)a->id);
	snprintf(detail, sizeof detail, "{\"version\":%lld,\"bytes\":%zu}", (long long)a->version,
	    a->len);
	return db_tx_audit(st, r, now, "export.eido", target, detail, a->address);
}

static void
export_audited(struct db_req *r)
{
	struct srv_req *req = r->udata;
	struct export_args *a = r->args;
	if (r->err)
		srv_reply_error(req, r->err, r->cause);
	else
		srv_reply_text(req, 200, "application/json", a->doc, a->len);
	db_req_free(r);
}

static void
render_done(struct db_query *q)
{
	struct srv_req *req = q->udata;
	const struct gw_adapter *a = gw_registry_find(req->srv->adapters, "eido");
	char *out = NULL, *cause = NULL;
	size_t len = 0;
	int rc;
	if (q->err) {
		srv_reply_error(req, q->err, q->cause);
	} else if ((rc = a->render(&req->srv->gw_host, &q->inc, &out, &len, &cause)) != 0) {
		srv_reply_error(req, rc, cause);
	} else {
		char who[96];
		struct export_args *x = xcalloc(1, sizeof *x);
		x->id = q->inc.id;
		x->version = q->inc.version;
		snprintf(x->address, sizeof x->address, "%s", req->peer);
		x->doc = out;
		x->len = len;
		out = NULL;
		struct db_req *r = db_req_new(DB_OP_RUN, peer_actor(req, who, sizeof who));
		r->run = run_export_audit;
		r->args = x;
		r->args_free = export_args_free;
		submit_store(req, r, export_audited);
	}
	free(out);
	free(cause);
	db_query_free(q);
}

/* Frames are JSON already: the body is built by concatenation, not re-encoding. */
static void
journal_done(struct db_query *q)
{
	struct srv_req *req = q->udata;
	if (q->err) {
		srv_reply_error(req, q->err, q->cause);
		db_query_free(q);
		return;
	}
	size_t cap = 64, len;
	for (int i = 0; i < q->nframes; i++)
		cap += q->frame_lens[i] + 1;
	char *buf = xmalloc(cap);
	len = (size_t)sprintf(buf, "{\"last_seq\":%lld,\"events\":[", (long long)q->seq);
	for (int i = 0; i < q->nframes; i++) {
		if (i)
			buf[len++] = ',';
		memcpy(buf + len, q->frames[i], q->frame_lens[i]);
		len += q->frame_lens[i];
	}
	memcpy(buf + len, "]}", 3);
	srv_reply_text(req, 200, "application/json", buf, len + 2);
	free(buf);
	db_query_free(q);
}

static void
api_journal(struct srv_req *req)
{
	int64_t after = 0, limit = 100;
	if (arg_int(req, "after", 0, INT64_MAX, &after) || arg_int(req, "limit", 1, 1000, &limit))
		return;
	struct db_query *q = db_query_new(DBQ_JOURNAL);
	q->after_seq = after;
	q->limit = (int)limit;
	submit_read(req, q, journal_done);
}

static void
api_adapters(struct srv_req *req)
{
	json_t *arr = json_array();
	for (int i = 0; req->srv->adapters[i]; i++) {
		const struct gw_adapter *a = req->srv->adapters[i];
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s+}", "name", a->name, "summary",
		    a->summary, "content_type", a->content_types[0], "endpoint", "/api/v1/intake/", a->name));
	}
	srv_reply_json(req, 200, json_pack("{s:o}", "adapters", arr));
}

static void
api_health(struct srv_req *req)
{
	struct srv *srv = req->srv;
	json_t *o = json_pack("{s:s, s:I, s:i, s:i}", "status", srv->stopping ? "stopping" : "ok",
	    "seq", (json_int_t)hub_last_seq(srv->hub), "store_backlog", db_store_backlog(srv->store),
	    "consoles", hub_console_count(srv->hub));
	srv_reply_json(req, srv->stopping ? 503 : 200, o);
}

static void
api_metrics(struct srv_req *req)
{
	size_t len;
	char *text = srv_metrics_render(req->srv, &len);
	srv_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}

extern const unsigned char srv_openapi_json[];
extern const size_t srv_openapi_json_len;

/* --- who may do what ------------------------------------------------------------------ */

#define R_ALL ROLES_ALL
#define R_CMD (ROLE_BIT(ROLE_DISPATCHER) | ROLE_BIT(ROLE_SUPERVISOR))
#define R_SUP (ROLE_BIT(ROLE_SUPERVISOR) | ROLE_BIT(ROLE_ADMIN))
#define R_VIEW (ROLE_BIT(ROLE_SUPERVISOR) | ROLE_BIT(ROLE_LEADER) | ROLE_BIT(ROLE_ADMIN))

/*
 * The role matrix (docs/api.md, "Who may do what"). A path ending in '*'
 * matches everything under it; the first rule that matches decides.
 * `incident`: an incident route, which a dispatcher may use only on
 * incidents that concern their agency.
 */
static const struct rule {
	enum srv_method method;
	const char *path;
	unsigned roles;
	int incident;
} rules[] = {
	{ SRV_GET, "/api/v1/incidents", R_ALL, 0 },
	{ SRV_POST, "/api/v1/incidents", R_CMD, 0 },
	{ SRV_GET, "/api/v1/incidents/*", R_ALL, 1 },
	{ SRV_PATCH, "/api/v1/incidents/*", R_CMD, 1 },
	{ SRV_POST, "/api/v1/incidents/*", R_CMD, 1 },
	{ SRV_GET, "/api/v1/units", R_ALL, 0 },
	{ SRV_POST, "/api/v1/units", R_SUP, 0 },
	{ SRV_POST, "/api/v1/units/positions", R_SUP, 0 },
	{ SRV_PATCH, "/api/v1/units/*", R_CMD, 0 },
	{ SRV_GET, "/api/v1/plans", R_ALL, 0 },
	{ SRV_POST, "/api/v1/plans/reload", R_SUP, 0 },
	{ SRV_GET, "/api/v1/stats", R_ALL, 0 },
	{ SRV_GET, "/api/v1/journal", R_VIEW, 0 },
	{ SRV_GET, "/api/v1/audit", R_SUP, 0 },
	{ SRV_GET, "/api/v1/adapters", R_ALL, 0 },
	{ SRV_GET, "/api/v1/console", R_ALL, 0 },
	{ SRV_GET, "/api/v1/gis/*", R_ALL, 0 },
};

static const struct rule *
rule_for(enum srv_method m, const char *path)
{
	for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		const struct rule *r = &rules[i];
		size_t n = strlen(r->path);
		int match = r->path[n - 1] == '*' ? strncmp(path, r->path, n - 1) == 0
						  : strcmp(path, r->path) == 0;
		if (match && r->method == m)
			return r;
	}
	return NULL;
}

/* Routes anyone may call: health, metrics, the API document, sign-in, gateways' intake. */
static int
is_public(const char *p)
{
	return strcmp(p, "/healthz") == 0 || strcmp(p, "/metrics") == 0 ||
	    strcmp(p, "/api/v1/openapi.json") == 0 || strcmp(p, "/api/v1/session") == 0 ||
	    strncmp(p, "/api/v1/intake/", 15) == 0;
}

/* The incident a dispatcher asked about is read first: does it concern their agency? */
static void
visibility_done(struct db_query *q)
{
	struct srv_req *req = q->udata;
	req->pending = 0;
	if (q->err) {
		srv_reply_error(req, q->err, q->cause);
	} else if (!inc_scope_has(&q->inc, req->user->agency)) {
		srv_reply_error(req, SRV_E_NOT_VISIBLE, NULL);
	} else {
		req->scope_checked = 1;
		srv_api_dispatch(req);
	}
	db_query_free(q);
}

/*
 * Sign-in, the role matrix and agency visibility. Returns 0 when the request
 * may go on to its route; otherwise it has been answered (or is waiting for
 * the visibility read, which routes it again).
 */
static int
authorize(struct srv_req *req)
{
	struct srv *srv = req->srv;
	const char *p = req->path;
	if (req->method != SRV_GET && !srv_origin_ok(req->origin, req->host)) {
		fail(req, SRV_E_BAD_ORIGIN, xasprintf("Origin %s is not this centre (%s)", req->origin,
		    req->host));
		return -1;
	}
	if (srv->users == NULL || req->scope_checked)
		return 0;
	const struct srv_user *u = srv_users_session(srv, req->cookie);
	if (u) {
		req->user_copy = *u;
		req->user = &req->user_copy;
	}
	if (is_public(p))
		return 0;
	/* Positions come from AVL gateways with keys when gateway keys are on. */
	if (srv->auth && strcmp(p, "/api/v1/units/positions") == 0)
		return 0;
	if (req->user == NULL) {
		fail(req, SRV_E_LOGIN, NULL);
		return -1;
	}
	if (srv_users_take(srv, req->user->name, &req->retry_after) != 0) {
		fail(req, SRV_E_RATE_LIMITED, xasprintf("user %s is over %d requests/s (burst %d)",
		    req->user->name, srv->cfg->user_rate, srv->cfg->user_burst));
		return -1;
	}
	const struct rule *r = rule_for(req->method, p);
	if (r && !(r->roles & ROLE_BIT(req->user->role))) {
		fail(req, SRV_E_ROLE, xasprintf("a %s may not %s %s", srv_role_name(req->user->role),
		    req->method == SRV_GET ? "read" : "change", p));
		return -1;
	}
	if (r && r->incident && req->user->role == ROLE_DISPATCHER) {
		const char *rest = p + 18;
		char idbuf[32];
		int64_t id;
		snprintf(idbuf, sizeof idbuf, "%.*s", (int)strcspn(rest, "/"), rest);
		if (parse_id(idbuf, &id) != 0)
			return 0; /* the route answers 404 */
		struct db_query *q = db_query_new(DBQ_GET);
		q->id = id;
		submit_read(req, q, visibility_done);
		return -1;
	}
	return 0;
}

/* --- routing ---------------------------------------------------------------------- */

void
srv_api_dispatch(struct srv_req *req)
{
	const char *p = req->path;
	enum srv_method m = req->method;
	if (authorize(req) != 0)
		return;
	if (json_too_deep(req))
		return;
	if (srv_users_route(req))
		return;
	if (strcmp(p, "/healthz") == 0 && m == SRV_GET) {
		api_health(req);
		return;
	}
	if (strcmp(p, "/metrics") == 0 && m == SRV_GET) {
		api_metrics(req);
		return;
	}
	if (strncmp(p, "/api/v1/intake/", 15) == 0) {
		api_intake(req, p + 15);
		return;
	}
	if (strcmp(p, "/api/v1/incidents") == 0) {
		if (m == SRV_GET)
			api_list(req);
		else if (m == SRV_POST)
			api_create(req);
		else
			fail(req, SRV_E_METHOD, xstrdup("use GET or POST"));
		return;
	}
	if (strncmp(p, "/api/v1/incidents/", 18) == 0) {
		char idbuf[32];
		const char *rest = p + 18, *slash = strchr(rest, '/');
		size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
		int64_t id;
		snprintf(idbuf, sizeof idbuf, "%.*s", (int)(n < sizeof idbuf ? n : sizeof idbuf - 1), rest);
		if (n >= sizeof idbuf || parse_id(idbuf, &id) != 0) {
			fail(req, SRV_E_NOT_FOUND, xasprintf("'%s' is not an incident id", idbuf));
			return;
		}
		if (slash == NULL) {
			if (m == SRV_GET) {
				struct db_query *q = db_query_new(DBQ_GET);
				q->id = id;
				submit_read(req, q, NULL);
			} else if (m == SRV_PATCH) {
				api_patch(req, id);
			} else {
				fail(req, SRV_E_METHOD, xstrdup("use GET or PATCH"));
			}
			return;
		}
		if (strcmp(slash, "/eido") == 0 && m == SRV_GET) {
			struct db_query *q = db_query_new(DBQ_GET);
			q->id = id;
			submit_read(req, q, render_done);
			return;
		}
		if (strcmp(slash, "/history") == 0 && m == SRV_GET) {
			struct db_query *q = db_query_new(DBQ_HISTORY);
			q->id = id;
			submit_read(req, q, NULL);
			return;
		}
		if (dsp_api_incident(req, id, slash))
			return;
	}
	if (strcmp(p, "/api/v1/journal") == 0 && m == SRV_GET) {
		api_journal(req);
		return;
	}
	if (strcmp(p, "/api/v1/audit") == 0 && m == SRV_GET) {
		int64_t after = 0, limit = 100;
		if (arg_int(req, "after", 0, INT64_MAX, &after) || arg_int(req, "limit", 1, 1000, &limit))
			return;
		struct db_query *q = db_query_new(DBQ_AUDIT);
		q->after_seq = after;
		q->limit = (int)limit;
		submit_read(req, q, NULL);
		return;
	}
	if (strcmp(p, "/api/v1/openapi.json") == 0 && m == SRV_GET) {
		srv_reply_text(req, 200, "application/json", (const char *)srv_openapi_json,
		    srv_openapi_json_len);
		return;
	}
	if (strcmp(p, "/api/v1/adapters") == 0 && m == SRV_GET) {
		api_adapters(req);
		return;
	}
	if (strcmp(p, "/api/v1/console") == 0) {
		/* What the page needs from the configuration: sign-in mode, map tiles, the video bridge. */
		const char *tiles = req->srv->cfg->console_tile_url;
		if (m != SRV_GET) {
			fail(req, SRV_E_METHOD, xstrdup("use GET"));
			return;
		}
		srv_reply_json(req, 200, json_pack("{s:s, s:s?, s:b}", "auth", req->srv->cfg->console_auth,
		    "tile_url", tiles[0] ? tiles : NULL, "media", req->srv->cfg->media_enabled));
		return;
	}
	if (srv_gis_dispatch(req))
		return;
	if (dsp_api_route(req, p))
		return;
	if (conf_api_route(req))
		return;
	fail(req, SRV_E_NO_ROUTE, xasprintf("no endpoint %s", p));
}
