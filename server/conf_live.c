/*
 * conf_live.c - conferences on the loop thread: the REST routes, the
 * in-memory list (loaded through the writer at start, updated from each
 * committed command's result), the rtc.* signalling on the console WebSocket,
 * and the glue to the media bridge (media/media.h), whose events arrive here.
 *
 * Who may see and join a conference: leaders, supervisors and admins; a
 * dispatcher when the conference is linked to an incident that concerns their
 * agency; everyone with sign-in off. Who may change one: supervisors and
 * admins create conferences and add sources; leaders may also link incidents.
 */
#include "conf.h"
#include "db_store.h"
#include "hub.h"
#include "media.h"
#include "srv.h"
#include "srv_api-int.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PEERS_PER_CONSOLE 4

struct conf_src {
	char state[16];
	char code[32];
	char *message;
};

struct conf {
	int64_t id;
	json_t *json;                         /* as stored (conf_store.c's conf_json) */
	struct conf_src src[CONF_MAX_SOURCES]; /* media state, by source index */
	int started[CONF_MAX_SOURCES];        /* handed to the bridge */
	int mixing;                           /* its return feed handed to the bridge */
	struct conf_src ret;                  /* the return feed's state (MEDIA_EV_RETURN) */
	struct conf *next;
};

struct peer {
	uint64_t id;
	uint64_t console;
	int publish;      /* a publisher (camera and microphone into the return feed) */
	int64_t conf;
	int source;
	char who[96];     /* "user:name" or "console:N@address" */
	int connected;
	struct peer *next;
};

struct conf_live {
	struct srv *srv;
	struct media *media;
	struct conf *confs;
	struct peer *peers;
	uint64_t next_peer;
	int npeers;
	int max_viewers;
	int stopping;
	char *hls_dir;    /* <data.dir>/hls, or NULL when HLS is off */
	int pending;      /* store requests of ours not yet done: cl lives until they are */
};

static void maybe_free(struct conf_live *cl);

static struct conf_live *
live_of(struct srv *srv)
{
	return srv->conf;
}

static struct conf *
find_conf(struct conf_live *cl, int64_t id)
{
	for (struct conf *c = cl->confs; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static struct peer *
find_peer(struct conf_live *cl, uint64_t id)
{
	for (struct peer *p = cl->peers; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

static void
peer_drop(struct conf_live *cl, struct peer *p)
{
	for (struct peer **pp = &cl->peers; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	cl->npeers--;
	free(p);
}

static int
viewers_of(struct conf_live *cl, int64_t conf, int publish)
{
	int n = 0;
	for (struct peer *p = cl->peers; p; p = p->next)
		n += p->conf == conf && p->publish == publish;
	return n;
}

/* "rtsp://user:secret@host/x" -> "rtsp://user:***@host/x": a password never leaves the server. */
static char *
redact(const char *uri)
{
	const char *a = strstr(uri, "://");
	if (a == NULL)
		return xstrdup(uri);
	a += 3;
	size_t n = strcspn(a, "/?#");
	const char *at = memchr(a, '@', n);
	const char *colon = at ? memchr(a, ':', (size_t)(at - a)) : NULL;
	if (colon == NULL)
		return xstrdup(uri);
	return xasprintf("%.*s***%s", (int)(colon + 1 - uri), uri, at);
}

/* The conference as clients see it: stored fields, each source's live state, viewers. */
static json_t *
conf_public(struct conf_live *cl, struct conf *c)
{
	json_t *o = json_deep_copy(c->json);
	json_t *srcs = json_object_get(o, "sources");
	size_t i;
	json_t *s;
	json_array_foreach(srcs, i, s) {
		int idx = (int)json_integer_value(json_object_get(s, "index"));
		char *r = redact(json_string_value(json_object_get(s, "uri")));
		json_object_set_new(s, "uri", json_string(r));
		free(r);
		if (idx >= 0 && idx < CONF_MAX_SOURCES) {
			struct conf_src *cs = &c->src[idx];
			json_object_set_new(s, "state", json_string(cs->state[0] ? cs->state : "down"));
			json_object_set_new(s, "code", cs->code[0] ? json_string(cs->code) : json_null());
			json_object_set_new(s, "message", cs->message ? json_string(cs->message) : json_null());
			if (cl->hls_dir) {
				char *h = xasprintf("/api/v1/conferences/%lld/hls/%d/playlist.m3u8",
				    (long long)c->id, idx);
				json_object_set_new(s, "hls", json_string(h));
				free(h);
			}
		}
	}
	if (json_is_string(json_object_get(o, "return"))) {
		json_object_set_new(o, "return_state", json_string(c->ret.state[0] ? c->ret.state
		    : c->mixing ? "starting" : "stopped"));
		json_object_set_new(o, "return_message", c->ret.message ? json_string(c->ret.message)
		    : json_null());
	}
	json_object_set_new(o, "viewers", json_integer(viewers_of(cl, c->id, 0)));
	json_object_set_new(o, "publishers", json_integer(viewers_of(cl, c->id, 1)));
	return o;
}

static int
is_closed(struct conf *c)
{
	const char *st = json_string_value(json_object_get(c->json, "state"));
	return st && strcmp(st, "closed") == 0;
}

static const char *
scope_of(struct conf *c)
{
	const char *s = json_string_value(json_object_get(c->json, "scope"));
	return s ? s : "";
}

/* Push {"type":"conference","conference":{...}} to every console that may see it. */
static void
broadcast_conf(struct conf_live *cl, struct conf *c)
{
	json_t *f = json_pack("{s:s, s:o}", "type", "conference", "conference", conf_public(cl, c));
	char *text = json_dumps(f, SRV_JSON_FLAGS);
	json_decref(f);
	hub_broadcast(cl->srv->hub, text, strlen(text), scope_of(c));
	free(text);
}

/* Hand the conference's sources the bridge does not pull yet to it. */
static void
start_sources(struct conf_live *cl, struct conf *c)
{
	if (is_closed(c))
		return;
	const char *ret = json_string_value(json_object_get(c->json, "return"));
	if (ret && !c->mixing && media_mix_start(cl->media, c->id, ret) == 0)
		c->mixing = 1;
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(c->json, "sources"), i, s) {
		int idx = (int)json_integer_value(json_object_get(s, "index"));
		if (idx < 0 || idx >= CONF_MAX_SOURCES || c->started[idx])
			continue;
		int rc = media_source_add(cl->media, c->id, idx, json_string_value(json_object_get(s, "uri")));
		if (rc == 0) {
			c->started[idx] = 1;
			snprintf(c->src[idx].state, sizeof c->src[idx].state, "connecting");
		} else {
			log_warn("conf", "source not started|conference=%lld source=%d error=\"%s\"",
			    (long long)c->id, idx, media_strerror(rc));
		}
	}
}

/* A committed conference (from any command's result): keep it, start new sources, tell consoles. */
static struct conf *
conf_update(struct conf_live *cl, json_t *j)
{
	int64_t id = json_integer_value(json_object_get(j, "id"));
	struct conf *c = find_conf(cl, id);
	if (c == NULL) {
		c = xcalloc(1, sizeof *c);
		c->id = id;
		c->next = cl->confs;
		cl->confs = c;
	}
	int was_closed = c->json && is_closed(c);
	json_decref(c->json);
	c->json = json_incref(j);
	if (is_closed(c) && !was_closed) {
		/* Its sources stop (the open recording segments are finished and stored). */
		if (cl->media && media_conf_close(cl->media, c->id) != 0)
			log_warn("conf", "the bridge did not take the close|conference=%lld", (long long)c->id);
		memset(c->started, 0, sizeof c->started);
		c->mixing = 0;
		c->ret.state[0] = '\0';
		free(c->ret.message);
		c->ret.message = NULL;
		for (int i = 0; i < CONF_MAX_SOURCES; i++) {
			snprintf(c->src[i].state, sizeof c->src[i].state, "closed");
			c->src[i].code[0] = '\0';
			free(c->src[i].message);
			c->src[i].message = NULL;
		}
	}
	if (cl->media)
		start_sources(cl, c);
	return c;
}

/* --- permissions -------------------------------------------------------------------------- */

static int
scope_has(const char *scope, const char *agency)
{
	size_t n = strlen(agency);
	for (const char *p = scope; p && *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, agency, n) == 0)
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

/* role -1: sign-in is off. */
static int
may_see(int role, const char *agency, struct conf *c)
{
	if (role < 0 || role != ROLE_DISPATCHER)
		return 1;
	return agency && agency[0] && scope_has(scope_of(c), agency);
}

/* --- REST ----------------------------------------------------------------------------------- */

static void
reply_conf_done(struct db_req *r)
{
	struct srv_req *req = r->udata;
	struct conf_live *cl = live_of(req->srv);
	if (r->err) {
		srv_reply_error(req, r->err, r->cause);
	} else {
		struct conf *c = r->result ? conf_update(cl, r->result) : NULL;
		if (c && r->changed)
			broadcast_conf(cl, c);
		json_t *o = c ? conf_public(cl, c) : json_object();
		json_object_set_new(o, "seq", json_integer(r->seq));
		json_object_set_new(o, "changed", json_boolean(r->changed));
		int created = c && r->changed && r->run == conf_run_create;
		if (created)
			snprintf(req->location, sizeof req->location, "/api/v1/conferences/%lld",
			    (long long)c->id);
		srv_reply_json(req, created ? 201 : 200, o);
	}
	db_req_free(r);
}

static void
submit_conf(struct srv_req *req, db_run_fn run, struct conf_args *a)
{
	char who[96];
	struct db_req *r = db_req_new(DB_OP_RUN, peer_actor(req, who, sizeof who));
	r->run = run;
	r->args = a;
	r->args_free = conf_args_free;
	submit_store(req, r, reply_conf_done);
}

static json_t *
json_body(struct srv_req *req)
{
	static const char *const known[] = { "name", "sources", "incidents", "incident", "uri", "return",
		NULL };
	return object_body(req, known);
}

/* A source URI from JSON into a, or -1 after answering. */
static int
take_uri(struct srv_req *req, json_t *u, struct conf_args *a)
{
	const char *why = NULL;
	const char *s = json_string_value(u);
	if (s == NULL) {
		fail(req, SRV_E_BAD_FIELD, xstrdup("a source must be a URI string"));
		return -1;
	}
	if (media_uri_check(s, &why) != 0) {
		fail(req, SRV_E_BAD_FIELD, xasprintf("source '%.200s': %s", s, why));
		return -1;
	}
	if (a->nuris == CONF_MAX_SOURCES) {
		fail(req, SRV_E_BAD_FIELD, xasprintf("at most %d sources", CONF_MAX_SOURCES));
		return -1;
	}
	a->uris[a->nuris++] = xstrdup(s);
	return 0;
}

static int
take_incident(struct srv_req *req, json_t *v, struct conf_args *a)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		fail(req, SRV_E_BAD_FIELD, xstrdup("an incident is a positive integer id"));
		return -1;
	}
	if (a->nincidents == CONF_MAX_INCIDENTS) {
		fail(req, SRV_E_BAD_FIELD, xasprintf("at most %d incidents", CONF_MAX_INCIDENTS));
		return -1;
	}
	a->incidents[a->nincidents++] = json_integer_value(v);
	return 0;
}

static void
api_create(struct srv_req *req)
{
	json_t *j = json_body(req);
	if (j == NULL)
		return;
	struct conf_args *a = xcalloc(1, sizeof *a);
	const char *name = json_string_value(json_object_get(j, "name"));
	json_t *srcs = json_object_get(j, "sources"), *incs = json_object_get(j, "incidents");
	size_t i;
	json_t *v;
	if (name == NULL || strlen(name) == 0 || strlen(name) > 120) {
		fail(req, name ? SRV_E_BAD_FIELD : SRV_E_MISSING_FIELD,
		    xstrdup("name is required: 1-120 bytes"));
		goto out;
	}
	if (!json_is_array(srcs) || json_array_size(srcs) == 0) {
		fail(req, srcs ? SRV_E_BAD_FIELD : SRV_E_MISSING_FIELD,
		    xstrdup("sources is required: an array of 1-8 rtsp://, srt:// or rtp:// URIs"));
		goto out;
	}
	json_array_foreach(srcs, i, v)
		if (take_uri(req, v, a))
			goto out;
	if (incs && !json_is_array(incs)) {
		fail(req, SRV_E_BAD_FIELD, xstrdup("incidents must be an array of incident ids"));
		goto out;
	}
	json_array_foreach(incs, i, v)
		if (take_incident(req, v, a))
			goto out;
	int nconf = 0;
	for (struct conf *c = live_of(req->srv)->confs; c; c = c->next)
		nconf++;
	if (nconf >= CONF_MAX) {
		fail(req, SRV_E_CONFLICT, xasprintf("at most %d conferences", CONF_MAX));
		goto out;
	}
	json_t *ret = json_object_get(j, "return");
	if (ret && !json_is_null(ret)) {
		const char *why;
		if (media_return_check(json_string_value(ret), &why) != 0) {
			fail(req, SRV_E_BAD_FIELD, xasprintf("return: %s", why));
			goto out;
		}
		a->return_uri = xstrdup(json_string_value(ret));
	}
	a->name = xstrdup(name);
	json_decref(j);
	submit_conf(req, conf_run_create, a);
	return;
out:
	conf_args_free(a);
	json_decref(j);
}

static int
role_in(struct srv_req *req, unsigned roles)
{
	if (req->user == NULL || (ROLE_BIT(req->user->role) & roles))
		return 1;
	fail(req, SRV_E_ROLE, xasprintf("a %s may not change conferences that way",
	    srv_role_name(req->user->role)));
	return 0;
}

/* --- recordings -------------------------------------------------------------------------------- */

/* Reading a segment in the thread pool: a file read never runs on the loop. */
struct file_read {
	uv_work_t work;
	struct srv_req *req;
	const char *type;
	char *path;
	char *data;
	size_t len;
	int err;
};

static void
read_work(uv_work_t *w)
{
	struct file_read *f = w->data;
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || sb.st_size > ((off_t)1 << 31)) {
		f->err = fd < 0 ? errno : EFBIG;
		if (fd >= 0)
			close(fd);
		return;
	}
	f->data = xmalloc((size_t)sb.st_size + 1);
	size_t got = 0;
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, f->data + got, (size_t)sb.st_size - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	f->len = got;
	close(fd);
}

static void
read_after(uv_work_t *w, int status)
{
	struct file_read *f = w->data;
	if (f->data)
		srv_reply_text(f->req, 200, f->type, f->data, f->len);
	else
		fail(f->req, SRV_E_NOT_FOUND, xasprintf("no such file now (%s)", strerror(f->err)));
	free(f->data);
	free(f->path);
	free(f);
}

/* Answer with a file's bytes, read in the thread pool. */
static void
send_file(struct srv_req *req, const char *path, const char *type)
{
	struct file_read *f = xcalloc(1, sizeof *f);
	f->req = req;
	f->type = type;
	f->path = xstrdup(path);
	f->work.data = f;
	req->pending = 1;
	req->async = 1;
	if (uv_queue_work(req->srv->loop, &f->work, read_work, read_after) != 0) {
		free(f->path);
		free(f);
		fail(req, SRV_E_INTERNAL, xstrdup("cannot queue the file read"));
	}
}

/*
 * GET .../hls/{source}/playlist.m3u8 and .../hls/{source}/segmentNNNNN.ts: only
 * those names (nothing else on disk can be named), read off the loop.
 */
static void
hls_route(struct srv_req *req, struct conf_live *cl, int64_t id, const char *rest)
{
	int idx = -1, n = 0;
	char file[32];
	if (req->method != SRV_GET) {
		fail(req, SRV_E_METHOD, xstrdup("use GET"));
		return;
	}
	if (cl->hls_dir == NULL) {
		fail(req, SRV_E_NOT_FOUND, xstrdup("HLS is off (media.hls = 0)"));
		return;
	}
	if (sscanf(rest, "/%d/%31[a-z0-9.]%n", &idx, file, &n) != 2 || rest[n] != '\0' || idx < 0 ||
	    idx >= CONF_MAX_SOURCES) {
		fail(req, SRV_E_NOT_FOUND, xstrdup("HLS is .../hls/{source}/playlist.m3u8"));
		return;
	}
	const char *type = NULL;
	unsigned seg;
	char tail[4];
	if (strcmp(file, "playlist.m3u8") == 0)
		type = "application/vnd.apple.mpegurl";
	else if (strlen(file) == 15 && sscanf(file, "segment%5u.%2s", &seg, tail) == 2 &&
	    strcmp(tail, "ts") == 0)
		type = "video/mp2t";
	if (type == NULL) {
		fail(req, SRV_E_NOT_FOUND, xasprintf("no HLS file '%s'", file));
		return;
	}
	char *path = xasprintf("%s/conf%lld-s%d/%s", cl->hls_dir, (long long)id, idx, file);
	send_file(req, path, type);
	free(path);
}

static void
recordings_done(struct db_req *r)
{
	struct srv_req *req = r->udata;
	struct conf_args *a = r->args;
	json_t *list = r->result ? json_object_get(r->result, "recordings") : NULL;
	if (r->err) {
		srv_reply_error(req, r->err, r->cause);
	} else if (a->recording == 0) {
		srv_reply_json(req, 200, json_incref(r->result));
	} else if (json_array_size(list) == 0) {
		fail(req, SRV_E_NOT_FOUND, xstrdup("no such recording"));
	} else {
		send_file(req, json_string_value(json_object_get(json_array_get(list, 0), "file")),
		    "video/mp4");
	}
	db_req_free(r);
}

/* GET .../recordings (the list) and .../recordings/{id}.mp4 (one segment). */
static void
recordings_route(struct srv_req *req, int64_t id, const char *rest)
{
	if (req->method != SRV_GET) {
		fail(req, SRV_E_METHOD, xstrdup("use GET"));
		return;
	}
	struct conf_args *a = xcalloc(1, sizeof *a);
	a->id = id;
	if (rest[0] == '/') {
		char buf[32];
		size_t n = strlen(rest + 1);
		if (n < 5 || n > 24 || strcmp(rest + 1 + n - 4, ".mp4") != 0) {
			conf_args_free(a);
			fail(req, SRV_E_NOT_FOUND, xstrdup("a recording is /recordings/{id}.mp4"));
			return;
		}
		snprintf(buf, sizeof buf, "%.*s", (int)(n - 4), rest + 1);
		if (parse_id(buf, &a->recording) != 0) {
			conf_args_free(a);
			fail(req, SRV_E_NOT_FOUND, xasprintf("'%s' is not a recording id", buf));
			return;
		}
	} else if (rest[0] != '\0') {
		conf_args_free(a);
		fail(req, SRV_E_NO_ROUTE, xasprintf("no endpoint %s", req->path));
		return;
	}
	char who[96];
	struct db_req *r = db_req_new(DB_OP_RUN, peer_actor(req, who, sizeof who));
	r->run = conf_run_recordings;
	r->args = a;
	r->args_free = conf_args_free;
	submit_store(req, r, recordings_done);
}

#define R_CONF_SUP (ROLE_BIT(ROLE_SUPERVISOR) | ROLE_BIT(ROLE_ADMIN))
#define R_CONF_LINK (R_CONF_SUP | ROLE_BIT(ROLE_LEADER))

/* POST .../close: no body, or an empty JSON object. Closing a closed one answers changed false. */
static void
api_close(struct srv_req *req, int64_t id)
{
	static const char *const none[] = { NULL };
	if (req->method != SRV_POST) {
		fail(req, SRV_E_METHOD, xstrdup("use POST"));
		return;
	}
	if (!role_in(req, R_CONF_SUP))
		return;
	if (req->body_len > 0) {
		json_t *j = object_body(req, none);
		if (j == NULL)
			return;
		json_decref(j);
	}
	struct conf_args *a = xcalloc(1, sizeof *a);
	a->id = id;
	submit_conf(req, conf_run_close, a);
}

int
conf_api_route(struct srv_req *req)
{
	const char *p = req->path;
	if (strncmp(p, "/api/v1/conferences", 19) != 0 || (p[19] != '\0' && p[19] != '/'))
		return 0;
	struct conf_live *cl = live_of(req->srv);
	int role = req->user ? (int)req->user->role : -1;
	const char *agency = req->user ? req->user->agency : "";
	if (cl == NULL) {
		fail(req, SRV_E_NOT_FOUND, xstrdup("the media bridge is off (media.enabled = 0)"));
		return 1;
	}
	if (p[19] == '\0') {
		if (req->method == SRV_GET) {
			json_t *list = json_array();
			for (struct conf *c = cl->confs; c; c = c->next)
				if (may_see(role, agency, c))
					json_array_insert_new(list, 0, conf_public(cl, c));
			srv_reply_json(req, 200, json_pack("{s:o}", "conferences", list));
		} else if (req->method == SRV_POST) {
			if (role_in(req, R_CONF_SUP))
				api_create(req);
		} else {
			fail(req, SRV_E_METHOD, xstrdup("use GET or POST"));
		}
		return 1;
	}
	char idbuf[32];
	const char *rest = p + 20, *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	int64_t id;
	snprintf(idbuf, sizeof idbuf, "%.*s", (int)(n < sizeof idbuf ? n : sizeof idbuf - 1), rest);
	struct conf *c = NULL;
	if (n >= sizeof idbuf || parse_id(idbuf, &id) != 0 || (c = find_conf(cl, id)) == NULL ||
	    !may_see(role, agency, c)) {
		fail(req, SRV_E_NOT_FOUND, xasprintf("no conference '%s'", idbuf));
		return 1;
	}
	if (slash == NULL) {
		if (req->method == SRV_GET)
			srv_reply_json(req, 200, conf_public(cl, c));
		else
			fail(req, SRV_E_METHOD, xstrdup("use GET"));
		return 1;
	}
	if (strncmp(slash, "/recordings", 11) == 0) {
		recordings_route(req, id, slash + 11);
		return 1;
	}
	if (strncmp(slash, "/hls/", 5) == 0) {
		hls_route(req, cl, id, slash + 4);
		return 1;
	}
	if (strcmp(slash, "/close") == 0) {
		api_close(req, id);
		return 1;
	}
	int links = strcmp(slash, "/incidents") == 0, sources = strcmp(slash, "/sources") == 0;
	if (!links && !sources) {
		fail(req, SRV_E_NO_ROUTE, xasprintf("no endpoint %s", p));
		return 1;
	}
	if (req->method != SRV_POST) {
		fail(req, SRV_E_METHOD, xstrdup("use POST"));
		return 1;
	}
	if (!role_in(req, links ? R_CONF_LINK : R_CONF_SUP))
		return 1;
	json_t *j = json_body(req);
	if (j == NULL)
		return 1;
	struct conf_args *a = xcalloc(1, sizeof *a);
	a->id = id;
	int bad;
	if (links) {
		json_t *inc = json_object_get(j, "incident");
		bad = inc == NULL ? (fail(req, SRV_E_MISSING_FIELD, xstrdup("incident is required")), -1)
				  : take_incident(req, inc, a);
	} else {
		json_t *u = json_object_get(j, "uri");
		bad = u == NULL ? (fail(req, SRV_E_MISSING_FIELD, xstrdup("uri is required")), -1)
				: take_uri(req, u, a);
	}
	json_decref(j);
	if (bad) {
		conf_args_free(a);
		return 1;
	}
	submit_conf(req, links ? conf_run_link : conf_run_add_source, a);
	return 1;
}

/* --- signalling (console WebSocket) ------------------------------------------------------ */

static void
send_json(struct hub_console *con, json_t *f)
{
	char *text = json_dumps(f, SRV_JSON_FLAGS);
	json_decref(f);
	hub_console_send(con, text, strlen(text));
	free(text);
}

static void
rtc_error(struct hub_console *con, uint64_t peer, int64_t conf, const char *code, const char *msg)
{
	json_t *f = json_pack("{s:s, s:s, s:s}", "type", "rtc.error", "code", code, "message", msg);
	if (peer)
		json_object_set_new(f, "peer", json_integer((json_int_t)peer));
	if (conf)
		json_object_set_new(f, "conference", json_integer(conf));
	send_json(con, f);
}

/* Record a participant joining or leaving (through the writer, journaled). */
static void
participant_done(struct db_req *r)
{
	struct conf_live *cl = r->udata;
	cl->pending--;
	if (r->err)
		log_warn("conf", "participant not recorded|error=%s detail=\"%s\"", srv_err_code(r->err),
		    r->cause ? r->cause : "");
	else if (r->result && !cl->stopping) {
		struct conf *c = conf_update(cl, r->result);
		broadcast_conf(cl, c);
	}
	db_req_free(r);
	maybe_free(cl);
}

static void
participant(struct conf_live *cl, struct peer *p, const char *what)
{
	struct db_req *r = db_req_new(DB_OP_RUN, p->who);
	struct conf_args *a = xcalloc(1, sizeof *a);
	a->id = p->conf;
	a->who = xstrdup(p->who);
	a->what = xstrdup(what);
	r->run = conf_run_participant;
	r->args = a;
	r->args_free = conf_args_free;
	r->done = participant_done;
	r->udata = cl;
	if (db_store_submit(cl->srv->store, r) != 0)
		db_req_free(r);
	else
		cl->pending++;
}

static int64_t
int_field(json_t *msg, const char *name, int64_t dflt)
{
	json_t *v = json_object_get(msg, name);
	if (v == NULL)
		return dflt;
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* rtc.join (watch a source) or rtc.publish (camera and microphone into the return feed). */
static void
rtc_join(struct conf_live *cl, struct hub_console *con, json_t *msg, int publish)
{
	int64_t cid = int_field(msg, "conference", -1), src = int_field(msg, "source", 0);
	const char *offer = json_string_value(json_object_get(msg, "sdp"));
	if (cid < 1 || src < 0 || src >= CONF_MAX_SOURCES || (publish && offer == NULL)) {
		rtc_error(con, 0, 0, "invalid_field", publish
		    ? "rtc.publish needs conference (an id) and sdp (the browser's offer)"
		    : "rtc.join needs conference (an id) and optionally source (an index)");
		return;
	}
	if (publish && hub_console_role(con) == ROLE_DISPATCHER) {
		rtc_error(con, 0, cid, "not_permitted", "dispatchers watch; leaders and supervisors publish");
		return;
	}
	struct conf *c = find_conf(cl, cid);
	if (c == NULL || !may_see(hub_console_role(con), hub_console_agency(con), c)) {
		rtc_error(con, 0, cid, "not_found", "no such conference");
		return;
	}
	if (is_closed(c)) {
		rtc_error(con, 0, cid, "conference_closed", "the conference is closed; its recordings remain");
		return;
	}
	int mine = 0;
	for (struct peer *p = cl->peers; p; p = p->next)
		mine += p->console == hub_console_id(con);
	if (mine >= PEERS_PER_CONSOLE || cl->npeers >= cl->max_viewers) {
		rtc_error(con, 0, cid, "busy", mine >= PEERS_PER_CONSOLE
		    ? "this console has as many streams open as it may" : "the bridge has its maximum of viewers");
		return;
	}
	if (!publish && !c->started[src]) {
		rtc_error(con, 0, cid, "not_found", "the conference has no such source");
		return;
	}
	if (publish && !c->mixing) {
		rtc_error(con, 0, cid, "no_return_feed", "the conference has no return feed to publish into");
		return;
	}
	struct peer *p = xcalloc(1, sizeof *p);
	p->id = ++cl->next_peer;
	p->console = hub_console_id(con);
	p->conf = cid;
	p->source = (int)src;
	if (hub_console_account(con)[0])
		snprintf(p->who, sizeof p->who, "user:%s", hub_console_account(con));
	else
		snprintf(p->who, sizeof p->who, "console:%llu@%s",
		    (unsigned long long)hub_console_id(con), hub_console_peer(con));
	p->publish = publish;
	int rc = publish ? media_publish(cl->media, p->id, cid, offer)
			 : media_peer_new(cl->media, p->id, cid, (int)src);
	if (rc != 0) {
		rtc_error(con, 0, cid, "busy", media_strerror(rc));
		free(p);
		return;
	}
	p->next = cl->peers;
	cl->peers = p;
	cl->npeers++;
	send_json(con, json_pack("{s:s, s:I, s:I, s:i, s:s, s:b}", "type", "rtc.state", "peer",
	    (json_int_t)p->id, "conference", (json_int_t)cid, "source", (int)src, "state", "negotiating",
	    "publish", publish));
}

/* The console's own peer named in msg, or NULL after an error frame. */
static struct peer *
own_peer(struct conf_live *cl, struct hub_console *con, json_t *msg)
{
	int64_t id = int_field(msg, "peer", -1);
	struct peer *p = id > 0 ? find_peer(cl, (uint64_t)id) : NULL;
	if (p == NULL || p->console != hub_console_id(con)) {
		rtc_error(con, id > 0 ? (uint64_t)id : 0, 0, "unknown_peer",
		    "no such peer on this console (it may have been closed)");
		return NULL;
	}
	return p;
}

static int
on_rtc(void *ctx, struct hub_console *con, const char *type, json_t *msg)
{
	struct conf_live *cl = ctx;
	if (cl->stopping) {
		rtc_error(con, 0, 0, "shutting_down", "the server is shutting down");
		return 1;
	}
	if (strcmp(type, "rtc.join") == 0) {
		rtc_join(cl, con, msg, 0);
	} else if (strcmp(type, "rtc.publish") == 0) {
		rtc_join(cl, con, msg, 1);
	} else if (strcmp(type, "rtc.answer") == 0) {
		struct peer *p = own_peer(cl, con, msg);
		if (p && p->publish) {
			rtc_error(con, p->id, p->conf, "invalid_field", "a publisher offers; it has no answer to give");
			return 1;
		}
		const char *sdp = json_string_value(json_object_get(msg, "sdp"));
		if (p && sdp == NULL)
			rtc_error(con, p->id, p->conf, "missing_field", "rtc.answer needs sdp (a string)");
		else if (p && media_peer_answer(cl->media, p->id, sdp) != 0)
			rtc_error(con, p->id, p->conf, "busy", "the media bridge is busy; try again");
	} else if (strcmp(type, "rtc.ice") == 0) {
		struct peer *p = own_peer(cl, con, msg);
		const char *cand = json_string_value(json_object_get(msg, "candidate"));
		int64_t mline = int_field(msg, "mline", 0);
		if (p && (cand == NULL || mline < 0 || mline > 16))
			rtc_error(con, p->id, p->conf, "invalid_field",
			    "rtc.ice needs candidate (a string) and mline (0-16)");
		else if (p)
			media_peer_ice(cl->media, p->id, (int)mline, cand);
	} else if (strcmp(type, "rtc.leave") == 0) {
		struct peer *p = own_peer(cl, con, msg);
		if (p)
			media_peer_close(cl->media, p->id);
	} else {
		return 0;
	}
	return 1;
}

/* A console went away: its peers go too (the others and the source carry on). */
static void
on_console_gone(void *ctx, struct hub_console *con)
{
	struct conf_live *cl = ctx;
	for (struct peer *p = cl->peers; p; p = p->next)
		if (p->console == hub_console_id(con)) {
			p->console = 0; /* events for it are dropped from now on */
			media_peer_close(cl->media, p->id);
		}
}

/* --- media events ---------------------------------------------------------------------------- */

static void
recorded_done(struct db_req *r)
{
	struct conf_live *cl = r->udata;
	cl->pending--;
	if (r->err)
		log_warn("conf", "recording not stored|error=%s detail=\"%s\"", srv_err_code(r->err),
		    r->cause ? r->cause : "");
	db_req_free(r);
	maybe_free(cl);
}

/* A finished segment: into the store, onto the conference's and its incidents' timelines. */
static void
recorded(struct conf_live *cl, const struct media_event *ev)
{
	if (ev->code[0]) {
		log_warn("conf", "recording|conference=%lld source=%d code=%s detail=\"%s\"",
		    (long long)ev->conf, ev->source, ev->code, ev->text ? ev->text : "");
		return;
	}
	/* At shutdown too: the store closes only after the bridge has stopped (srv_main.c). */
	if (ev->text == NULL || cl->srv->store == NULL)
		return;
	struct db_req *r = db_req_new(DB_OP_RUN, "system:media");
	struct conf_args *a = xcalloc(1, sizeof *a);
	a->id = ev->conf;
	a->source = ev->source;
	a->file = xstrdup(ev->text);
	a->duration_ms = ev->duration_ms;
	r->run = conf_run_recorded;
	r->args = a;
	r->args_free = conf_args_free;
	r->done = recorded_done;
	r->udata = cl;
	if (db_store_submit(cl->srv->store, r) != 0)
		db_req_free(r);
	else
		cl->pending++;
}

static void
on_media(void *ctx, const struct media_event *ev)
{
	struct conf_live *cl = ctx;
	if (ev->type == MEDIA_EV_STOPPED) {
		media_free(cl->media);
		cl->media = NULL;
		if (cl->stopping)
			cl->srv->media_draining = 0; /* now the store may close */
		maybe_free(cl);
		return;
	}
	if (ev->type == MEDIA_EV_SOURCE) {
		struct conf *c = find_conf(cl, ev->conf);
		if (c == NULL || ev->source < 0 || ev->source >= CONF_MAX_SOURCES || is_closed(c))
			return;
		struct conf_src *s = &c->src[ev->source];
		snprintf(s->state, sizeof s->state, "%s", ev->state);
		snprintf(s->code, sizeof s->code, "%s", ev->code);
		free(s->message);
		s->message = ev->text ? xstrdup(ev->text) : NULL;
		log_info("conf", "source|conference=%lld source=%d state=%s code=%s detail=\"%s\"",
		    (long long)c->id, ev->source, ev->state, ev->code, ev->text ? ev->text : "");
		broadcast_conf(cl, c);
		return;
	}
	if (ev->type == MEDIA_EV_SEGMENT) {
		recorded(cl, ev);
		return;
	}
	if (ev->type == MEDIA_EV_RETURN) {
		struct conf *c = find_conf(cl, ev->conf);
		if (c == NULL || is_closed(c))
			return;
		snprintf(c->ret.state, sizeof c->ret.state, "%s", ev->state);
		free(c->ret.message);
		c->ret.message = ev->text ? xstrdup(ev->text) : NULL;
		srv_log(strcmp(ev->state, "failed") == 0 ? SRV_LOG_WARN : SRV_LOG_INFO, "conf",
		    "return feed|conference=%lld state=%s detail=\"%s\"", (long long)c->id, ev->state,
		    ev->text ? ev->text : "");
		broadcast_conf(cl, c);
		return;
	}
	struct peer *p = find_peer(cl, ev->peer);
	if (p == NULL)
		return;
	struct hub_console *con = p->console ? hub_console_find(cl->srv->hub, p->console) : NULL;
	switch (ev->type) {
	case MEDIA_EV_OFFER:
		if (con)
			send_json(con, json_pack("{s:s, s:I, s:I, s:i, s:s}", "type", "rtc.offer", "peer",
			    (json_int_t)p->id, "conference", (json_int_t)p->conf, "source", p->source, "sdp",
			    ev->text ? ev->text : ""));
		break;
	case MEDIA_EV_ANSWER:
		if (con)
			send_json(con, json_pack("{s:s, s:I, s:I, s:s}", "type", "rtc.answer", "peer",
			    (json_int_t)p->id, "conference", (json_int_t)p->conf, "sdp",
			    ev->text ? ev->text : ""));
		break;
	case MEDIA_EV_ICE:
		if (con)
			send_json(con, json_pack("{s:s, s:I, s:i, s:s}", "type", "rtc.ice", "peer",
			    (json_int_t)p->id, "mline", ev->mline, "candidate", ev->text ? ev->text : ""));
		break;
	case MEDIA_EV_PEER:
		if (strcmp(ev->state, "connected") == 0) {
			p->connected = 1;
			if (con)
				send_json(con, json_pack("{s:s, s:I, s:s}", "type", "rtc.state", "peer",
				    (json_int_t)p->id, "state", "connected"));
			participant(cl, p, "joined");
			break;
		}
		if (strcmp(ev->state, "error") == 0) { /* the peer carries on */
			if (con)
				rtc_error(con, p->id, p->conf, ev->code, ev->text ? ev->text : ev->code);
			break;
		}
		if (con) {
			if (strcmp(ev->state, "failed") == 0)
				rtc_error(con, p->id, p->conf, ev->code[0] ? ev->code : "failed",
				    ev->text ? ev->text : "the stream failed");
			send_json(con, json_pack("{s:s, s:I, s:s, s:s?}", "type", "rtc.state", "peer",
			    (json_int_t)p->id, "state", "closed", "code", ev->code[0] ? ev->code : NULL));
		}
		if (p->connected)
			participant(cl, p, "left");
		peer_drop(cl, p);
		break;
	default:
		break;
	}
}

/* --- start and stop ------------------------------------------------------------------------- */

static void
loaded(struct db_req *r)
{
	struct conf_live *cl = r->udata;
	cl->pending--;
	if (r->err) {
		log_error("conf", "conferences not loaded|error=%s detail=\"%s\"", srv_err_code(r->err),
		    r->cause ? r->cause : "");
	} else if (r->result && !cl->stopping) {
		size_t i;
		json_t *c;
		json_array_foreach(json_object_get(r->result, "conferences"), i, c)
			conf_update(cl, c);
	}
	db_req_free(r);
	maybe_free(cl);
}

static void
config_done(struct db_req *r)
{
	struct conf_live *cl = r->udata;
	cl->pending--;
	if (r->err)
		log_error("conf", "configured conference not stored|error=%s detail=\"%s\"",
		    srv_err_code(r->err), r->cause ? r->cause : "");
	else if (r->result && !cl->stopping)
		conf_update(cl, r->result);
	db_req_free(r);
	maybe_free(cl);
}

static int
config_each(const char *name, char **uris, int n, void *ctx)
{
	struct conf_live *cl = ctx;
	struct conf_args *a = xcalloc(1, sizeof *a);
	a->name = xstrdup(name);
	for (int i = 0; i < n; i++)
		a->uris[a->nuris++] = xstrdup(uris[i]);
	a->if_absent = 1;
	struct db_req *r = db_req_new(DB_OP_RUN, "system:config");
	r->run = conf_run_create;
	r->args = a;
	r->args_free = conf_args_free;
	r->done = config_done;
	r->udata = cl;
	if (db_store_submit(cl->srv->store, r) != 0) {
		db_req_free(r);
		return -1;
	}
	cl->pending++;
	return 0;
}

static int
config_check(const char *name, char **uris, int n, void *ctx)
{
	return 0;
}

/* Free everything once the media thread has stopped and our store requests are done. */
static void
maybe_free(struct conf_live *cl)
{
	if (!cl->stopping || cl->media || cl->pending)
		return;
	while (cl->confs) {
		struct conf *c = cl->confs;
		cl->confs = c->next;
		json_decref(c->json);
		for (int i = 0; i < CONF_MAX_SOURCES; i++)
			free(c->src[i].message);
		free(c->ret.message);
		free(c);
	}
	while (cl->peers) {
		struct peer *p = cl->peers;
		cl->peers = p->next;
		free(p);
	}
	free(cl->hls_dir);
	free(cl);
}

int
conf_live_open(struct srv *srv, char **cause)
{
	const struct srv_config *cfg = srv->cfg;
	if (!cfg->media_enabled)
		return 0;
	if (conf_config_parse(cfg->media_conferences, config_check, NULL, cause) != 0)
		return -1;
	struct conf_live *cl = xcalloc(1, sizeof *cl);
	cl->srv = srv;
	cl->max_viewers = cfg->media_max_viewers;
	struct media_opts o = { .queue_max = 1024, .events_max = 8192, .backoff_min_ms = 250,
		.backoff_max_ms = cfg->media_backoff_max_ms, .down_after = 3,
		.stall_ms = cfg->media_stall_ms, .latency_ms = cfg->media_latency_ms,
		.viewer_bytes = 2 << 20, .answer_timeout_ms = 30000, .rec_dir = NULL,
		.segment_s = cfg->media_segment_s, .hls_dir = NULL };
	char *rec_dir = NULL;
	if (cfg->media_hls) {
		cl->hls_dir = xasprintf("%s/hls", cfg->data_dir);
		if (mkdir(cl->hls_dir, 0750) != 0 && errno != EEXIST) {
			*cause = xasprintf("cannot create %s: %s", cl->hls_dir, strerror(errno));
			free(cl->hls_dir);
			free(cl);
			return -1;
		}
		o.hls_dir = cl->hls_dir;
	}
	if (cfg->media_record) {
		/* At start-up, before the loop serves anything: one mkdir. */
		rec_dir = xasprintf("%s/recordings", cfg->data_dir);
		if (mkdir(rec_dir, 0750) != 0 && errno != EEXIST) {
			*cause = xasprintf("cannot create %s: %s", rec_dir, strerror(errno));
			free(rec_dir);
			free(cl->hls_dir);
			free(cl);
			return -1;
		}
		o.rec_dir = rec_dir;
	}
	int started = media_start(&cl->media, srv->loop, &o, on_media, cl, cause);
	free(rec_dir);
	if (started != 0) {
		free(cl->hls_dir);
		free(cl);
		return -1;
	}
	srv->conf = cl;
	struct hub_ext ext = { .prefix = "rtc.", .message = on_rtc, .gone = on_console_gone, .ctx = cl };
	hub_set_ext(srv->hub, &ext);
	/* The stored conferences first, then the configured ones (created or completed). */
	struct db_req *r = db_req_new(DB_OP_RUN, "system:start");
	r->run = conf_run_load;
	r->done = loaded;
	r->udata = cl;
	if (db_store_submit(srv->store, r) == 0)
		cl->pending++;
	else
		db_req_free(r);
	conf_config_parse(cfg->media_conferences, config_each, cl, cause); /* checked above */
	return 0;
}

int
conf_live_stats(struct srv *srv, struct media_stats *out)
{
	struct conf_live *cl = srv->conf;
	if (cl == NULL || cl->media == NULL)
		return -1;
	media_get_stats(cl->media, out);
	return 0;
}

void
conf_live_close(struct srv *srv)
{
	struct conf_live *cl = srv->conf;
	if (cl == NULL)
		return;
	cl->stopping = 1;
	struct hub_ext none = { 0 };
	hub_set_ext(srv->hub, &none);
	srv->conf = NULL;
	if (cl->media) {
		srv->media_draining = 1;
		media_stop(cl->media);
	}
	/* cl itself stays until the media thread has stopped and our store requests are done. */
	maybe_free(cl);
}
