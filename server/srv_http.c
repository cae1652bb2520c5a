/*
 * srv_http.c - libwebsockets on the libuv loop: HTTP requests, static
 * files, and the /ws WebSocket handed to the hub.
 *
 * A request's headers arrive in LWS_CALLBACK_HTTP, its body (which must have
 * a Content-Length: chunked bodies are refused with 411) in HTTP_BODY, and
 * it is routed at HTTP_BODY_COMPLETION (or at once when it has no body).
 * Handlers answer later through srv_reply(); the response is written from
 * HTTP_WRITEABLE in bounded chunks, one lws_write per callback.
 */
#include "srv.h"
#include "hub.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_peers.h"
#include "srv_json.h"
#include "srv_util.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK 32768

/*
 * A body refused for its size is still read (and dropped) up to this many
 * bytes before the answer goes out. Answering first and closing with the
 * body unread makes the kernel reset the connection, and a client still
 * sending its body then sees the reset instead of the 413. Larger bodies
 * are answered at once and the connection closed.
 */
#define DRAIN_MAX (16u << 20)

struct http_pss {
	struct srv_req *req;
};

struct ws_pss {
	struct hub_console *c;
	int in_msg;
	struct srv_user user; /* who opened it (console.auth = users) */
	int has_user;
};

static int http_writeable(struct lws *wsi, struct http_pss *pss);

static struct srv *
srv_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void
req_free(struct srv_req *req)
{
	req->srv->requests_live--;
	free(req->args);
	free(req->body);
	free(req->resp);
	free(req->cookie);
	free(req);
}

const char *
srv_req_arg(const struct srv_req *req, const char *name)
{
	size_t n = strlen(name);
	for (const char *a = req->args; a && *a; a += strlen(a) + 1)
		if (strncmp(a, name, n) == 0 && a[n] == '=')
			return a + n + 1;
	return NULL;
}

void
srv_reply_text(struct srv_req *req, int status, const char *type, const char *text, size_t len)
{
	req->pending = 0;
	if (req->wsi == NULL) {
		req_free(req);
		return;
	}
	req->status = status;
	req->resp_type = type;
	free(req->resp);
	req->resp = xmalloc(LWS_PRE + len + 1);
	memcpy(req->resp + LWS_PRE, text, len);
	req->resp_len = len;
	req->resp_off = 0;
	int cls = status / 100;
	if (cls >= 1 && cls <= 5)
		req->srv->http_by_class[cls]++;
	if (req->async && !req->close_after && !lws_send_pipe_choked(req->wsi)) {
		/*
		 * The answer arrived from the store or the read pool, outside any
		 * lws callback, and the socket can take it: write now rather than ask
		 * for WRITEABLE. Each such round trip costs lws's libuv glue two epoll
		 * interest changes (DEL+ADD each), most of the loop's time on the
		 * intake path. A partial write is kept by lws, which then asks for
		 * POLLOUT itself; the rest goes out from WRITEABLE as usual. An answer
		 * that closes the connection still goes through WRITEABLE: only a
		 * callback's -1 stops lws 4.1 spinning on a pipelined request.
		 */
		struct lws *wsi = req->wsi;
		struct http_pss *pss = lws_wsi_user(wsi);
		if (pss && pss->req == req && http_writeable(wsi, pss) != 0)
			lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
		return;
	}
	lws_callback_on_writable(req->wsi);
}

void
srv_reply(struct srv_req *req, int status, char *json_text)
{
	srv_reply_text(req, status, "application/json", json_text, strlen(json_text));
	free(json_text);
}

void
srv_reply_json(struct srv_req *req, int status, json_t *body)
{
	char *s = srv_json_dump(body, NULL);
	json_decref(body);
	srv_reply(req, status, s);
}

void
srv_reply_error(struct srv_req *req, int err, const char *cause)
{
	json_t *e = json_pack("{s:s, s:s}", "code", srv_err_code(err), "message", srv_err_msg(err));
	if (cause)
		json_object_set_new(e, "detail", json_string(cause));
	srv_reply_json(req, srv_err_status(err), json_pack("{s:o}", "error", e));
}

static enum srv_method
method_of(int m)
{
	switch (m) {
	case LWSHUMETH_GET: return SRV_GET;
	case LWSHUMETH_POST: return SRV_POST;
	case LWSHUMETH_PUT: return SRV_PUT;
	case LWSHUMETH_PATCH: return SRV_PATCH;
	case LWSHUMETH_DELETE: return SRV_DELETE;
	default: return SRV_OTHER;
	}
}

/* Collect the decoded query arguments as "k=v\0k=v\0\0". */
static char *
collect_args(struct lws *wsi)
{
	size_t cap = 256, len = 0;
	char *out = xmalloc(cap), frag[1024];
	for (int i = 0;; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		if (len + (size_t)n + 2 > cap) {
			cap = (len + (size_t)n + 2) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, frag, (size_t)n + 1);
		len += (size_t)n + 1;
	}
	out[len] = '\0';
	return out;
}

static void
copy_hdr(struct lws *wsi, enum lws_token_indexes tok, char *buf, size_t len)
{
	buf[0] = '\0';
	if (lws_hdr_total_length(wsi, tok) > 0 && lws_hdr_copy(wsi, buf, (int)len, tok) < 0)
		buf[0] = '\0';
}

static void
copy_custom(struct lws *wsi, const char *name, char *buf, size_t len)
{
	int nlen = (int)strlen(name);
	buf[0] = '\0';
	int n = lws_hdr_custom_length(wsi, name, nlen);
	if (n <= 0 || (size_t)n >= len || lws_hdr_custom_copy(wsi, buf, (int)len, name, nlen) < 0)
		buf[0] = '\0';
}

/* The peer's address; an IPv4 client of the dual-stack listener as plain IPv4. */
static void
peer_of(struct lws *wsi, char *buf, size_t len)
{
	lws_get_peer_simple(wsi, buf, len);
	if (strncmp(buf, "::ffff:", 7) == 0 && strchr(buf + 7, '.'))
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
}

/*
 * May a request or console from a page at `origin` act here? Browsers send
 * Origin on cross-site requests and on WebSocket handshakes; a page of the
 * centre itself has the same scheme-less host:port as Host. No Origin: not a
 * browser (scripts, gateways), which a cookie cannot be borrowed from.
 */
int
srv_origin_ok(const char *origin, const char *host)
{
	if (origin == NULL || origin[0] == '\0')
		return 1;
	const char *o = strstr(origin, "://");
	return o && host && host[0] && strcasecmp(o + 3, host) == 0;
}

/*
 * Answer a request before its body (of n bytes) is read, and close. A body
 * up to DRAIN_MAX is read and dropped first, so that the client sees the
 * answer rather than a reset.
 */
static void
refuse(struct srv_req *req, unsigned long long n, int err, const char *cause)
{
	req->close_after = 1;
	if (n > 0 && n <= DRAIN_MAX) {
		req->draining = 1;
		req->content_length = (size_t)n;
	}
	srv_reply_error(req, err, cause);
}

/* Headers are in: decide whether to read a body, refuse, or route now. */
static int
http_begin(struct lws *wsi, struct http_pss *pss)
{
	struct srv *srv = srv_of(wsi);
	struct srv_req *req = xcalloc(1, sizeof *req);
	srv->requests_live++;
	req->srv = srv;
	req->wsi = wsi;
	pss->req = req;
	char *uri = NULL;
	int ulen = 0;
	int m = lws_http_get_uri_and_method(wsi, &uri, &ulen);
	req->method = method_of(m);
	snprintf(req->path, sizeof req->path, "%.*s", uri ? ulen : 0, uri ? uri : "");
	req->args = collect_args(wsi);
	copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, req->content_type, sizeof req->content_type);
	copy_hdr(wsi, WSI_TOKEN_HTTP_IF_MATCH, req->if_match, sizeof req->if_match);
	copy_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, req->authorization, sizeof req->authorization);
	copy_custom(wsi, "x-liandong-timestamp:", req->sig_timestamp, sizeof req->sig_timestamp);
	copy_custom(wsi, "x-liandong-signature:", req->signature, sizeof req->signature);
	copy_hdr(wsi, WSI_TOKEN_ORIGIN, req->origin, sizeof req->origin);
	copy_hdr(wsi, WSI_TOKEN_HOST, req->host, sizeof req->host);
	int clen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
	if (clen > 0 && clen < 8192) {
		req->cookie = xmalloc((size_t)clen + 1);
		if (lws_hdr_copy(wsi, req->cookie, clen + 1, WSI_TOKEN_HTTP_COOKIE) < 0) {
			free(req->cookie);
			req->cookie = NULL;
		}
	}
	/* The address was read once, when the connection was accepted (no getpeername per request). */
	struct srv_peer *peer = lws_get_opaque_user_data(wsi);
	if (peer)
		snprintf(req->peer, sizeof req->peer, "%s", srv_peer_addr(peer));
	else
		peer_of(wsi, req->peer, sizeof req->peer);

	int has_body = req->method == SRV_POST || req->method == SRV_PUT || req->method == SRV_PATCH;
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		/* Chunked bodies are not read: the client must say how long the body is. */
		req->close_after = 1;
		srv_reply_error(req, SRV_E_LENGTH_REQUIRED,
		    "send the body with a Content-Length header, not chunked");
		return 0;
	}
	char cl[32];
	copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
	unsigned long long n = 0;
	if (cl[0] == '\0') {
		if (has_body) {
			req->close_after = 1;
			srv_reply_error(req, SRV_E_LENGTH_REQUIRED, NULL);
			return 0;
		}
	} else {
		char *end;
		n = strtoull(cl, &end, 10);
		if (*end != '\0' || end == cl) {
			req->close_after = 1;
			srv_reply_error(req, SRV_E_LENGTH_REQUIRED, "Content-Length is not a number");
			return 0;
		}
	}
	if (srv->stopping) {
		refuse(req, n, SRV_E_SHUTTING_DOWN, NULL);
		return 0;
	}
	if (peer && srv_peer_count(peer) > srv->cfg->http_max_conns_per_address) {
		req->retry_after = 1;
		char *why = xasprintf("%s has %d connections open; the limit is %d", req->peer,
		    srv_peer_count(peer), srv->cfg->http_max_conns_per_address);
		refuse(req, n, SRV_E_TOO_MANY_CONNS, why);
		free(why);
		srv->conns_refused++;
		return 0;
	}
	if (n > (unsigned long long)srv->cfg->http_max_body) {
		char *why = xasprintf("the body is %llu bytes; the limit is %lld", n,
		    (long long)srv->cfg->http_max_body);
		refuse(req, n, SRV_E_TOO_LARGE, why);
		free(why);
		return 0;
	}
	req->content_length = (size_t)n;
	if (n == 0) {
		srv_api_dispatch(req);
		return 0;
	}
	req->body = xmalloc((size_t)n + 1);
	return 0;
}

static int
http_body(struct srv_req *req, const void *in, size_t len)
{
	if (req->draining) {
		req->body_len += len;
		return req->body_len > req->content_length ? -1 : 0;
	}
	if (req->body == NULL || req->status)
		return 0; /* already answered (e.g. refused); discard */
	if (req->body_len + len > req->content_length)
		return -1; /* more than announced: protocol error, drop the connection */
	memcpy(req->body + req->body_len, in, len);
	req->body_len += len;
	return 0;
}

/* Append a header; returns nonzero when it does not fit. */
static int
add_hdr(struct lws *wsi, const char *name, const char *value, unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
	    (const unsigned char *)value, (int)strlen(value), p, end);
}

/*
 * Write the response. The headers and the first CHUNK of the body leave in
 * one lws_write (one send, one round of poll changes per response: on the
 * intake path that is most of the loop's cost); a larger body follows in
 * CHUNK pieces, one lws_write per WRITEABLE. Content-Length is written as a
 * plain header so that lws does no length accounting of its own across the
 * combined write. (HTTP/1.1 only: with TLS and h2 the header block must be
 * its own frame.)
 */
static int
http_writeable(struct lws *wsi, struct http_pss *pss)
{
	struct srv_req *req = pss->req;
	if (req == NULL || req->status == 0 || req->draining)
		return 0;
	if (!req->headers_sent) {
		unsigned char hb[LWS_PRE + 1024], *start = hb + LWS_PRE, *p = start,
						     *end = hb + sizeof hb - 1;
		char clen[24], retry[16];
		snprintf(clen, sizeof clen, "%zu", req->resp_len);
		snprintf(retry, sizeof retry, "%d", req->retry_after);
		if (lws_add_http_header_status(wsi, (unsigned)req->status, &p, end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
			(const unsigned char *)req->resp_type, (int)strlen(req->resp_type), &p, end) ||
		    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
			(const unsigned char *)clen, (int)strlen(clen), &p, end) ||
		    add_hdr(wsi, "cache-control:", "no-store", &p, end) ||
		    (req->etag[0] && add_hdr(wsi, "etag:", req->etag, &p, end)) ||
		    (req->location[0] && add_hdr(wsi, "location:", req->location, &p, end)) ||
		    (req->close_after && add_hdr(wsi, "connection:", "close", &p, end)) ||
		    (req->set_cookie[0] && add_hdr(wsi, "set-cookie:", req->set_cookie, &p, end)) ||
		    (req->retry_after > 0 && add_hdr(wsi, "retry-after:", retry, &p, end)) ||
		    lws_finalize_http_header(wsi, &p, end))
			return 1;
		size_t hlen = (size_t)(p - start);
		size_t n = req->resp_len < CHUNK ? req->resp_len : CHUNK;
		unsigned char *out = xmalloc(LWS_PRE + hlen + n);
		memcpy(out + LWS_PRE, start, hlen);
		memcpy(out + LWS_PRE + hlen, req->resp + LWS_PRE, n);
		int final = n == req->resp_len;
		int w = lws_write(wsi, out + LWS_PRE, hlen + n,
		    final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
		free(out);
		if (w < (int)(hlen + n))
			return -1;
		req->headers_sent = 1;
		req->resp_off = n;
		if (!final) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		size_t n = req->resp_len - req->resp_off;
		if (n > CHUNK)
			n = CHUNK;
		int final = req->resp_off + n == req->resp_len;
		/* lws may write a frame header before the data: give it headroom. */
		unsigned char *buf = (unsigned char *)req->resp + req->resp_off;
		unsigned char saved[LWS_PRE];
		memcpy(saved, buf, LWS_PRE);
		int w = lws_write(wsi, buf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
		memcpy(buf, saved, LWS_PRE);
		if (w < (int)n)
			return -1;
		req->resp_off += n;
		if (!final) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	int close_after = req->close_after;
	pss->req = NULL;
	req_free(req);
	if (close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static void
http_detach(struct http_pss *pss)
{
	struct srv_req *req = pss->req;
	if (req == NULL)
		return;
	pss->req = NULL;
	if (req->pending)
		req->wsi = NULL; /* freed when its answer arrives */
	else
		req_free(req);
}

/*
 * Every accepted connection is counted against its address until lws
 * destroys it (the count rides on the wsi's opaque pointer, which survives
 * the upgrade to a WebSocket). Requests and upgrades from an address over
 * http.max_conns_per_address are answered 429; an address at twice the limit
 * is not even answered, its connections are closed as they arrive.
 */
static int
peer_enter(struct lws *wsi)
{
	struct srv *srv = srv_of(wsi);
	char addr[64];
	peer_of(wsi, addr, sizeof addr);
	struct srv_peer *e = srv_peer_enter(srv->peers, addr);
	lws_set_opaque_user_data(wsi, e);
	if (srv_peer_count(e) > 2 * srv->cfg->http_max_conns_per_address) {
		srv->conns_refused++;
		log_warn("http", "connection dropped: too many from one address|peer=%s open=%d", addr,
		    srv_peer_count(e) - 1);
		return -1; /* lws closes it; WSI_DESTROY takes the count back */
	}
	return 0;
}

static void
peer_leave(struct lws *wsi)
{
	struct srv_peer *e = lws_get_opaque_user_data(wsi);
	if (e == NULL)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	srv_peer_leave(srv_of(wsi)->peers, e);
}

static int
cb_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct http_pss *pss = user;
	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		return peer_enter(wsi);
	case LWS_CALLBACK_WSI_DESTROY:
		peer_leave(wsi);
		return 0;
	default:
		break;
	}
	/* lws calls some reasons without per-session data (e.g. while tearing down). */
	if (pss == NULL)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* A WebSocket upgrade that did not ask for liandong.v1. */
		return -1;
	case LWS_CALLBACK_HTTP:
		http_detach(pss);
		return http_begin(wsi, pss);
	case LWS_CALLBACK_HTTP_BODY:
		return pss->req ? http_body(pss->req, in, len) : 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (pss->req == NULL)
			return 0;
		if (pss->req->draining) {
			pss->req->draining = 0; /* the refused body is read: answer now */
			lws_callback_on_writable(wsi);
		} else if (pss->req->status == 0 && !pss->req->pending && !pss->req->dispatched) {
			pss->req->dispatched = 1;
			srv_api_dispatch(pss->req);
		} else {
			/*
			 * lws 4.1 repeats BODY_COMPLETION while the client's next,
			 * pipelined request sits in its buffer, and then misreads that
			 * request's headers as a body and spins. Pipelining is refused:
			 * the request in hand is answered, then the connection closes
			 * (the client retries the rest, RFC 7230 6.3.2).
			 */
			pss->req->close_after = 1;
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

/*
 * Refuse a WebSocket handshake with an HTTP status the client can read
 * (instead of a dropped connection), then close.
 */
static int
refuse_upgrade(struct lws *wsi, unsigned status, const char *code)
{
	lws_return_http_status(wsi, status, code);
	return -1;
}

static int
cb_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct ws_pss *pss = user;
	struct srv *srv;
	if (pss == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
		char uri[64], origin[160], host[160];
		srv = srv_of(wsi);
		copy_hdr(wsi, WSI_TOKEN_GET_URI, uri, sizeof uri);
		if (srv->stopping || strcmp(uri, "/ws") != 0)
			return -1;
		struct srv_peer *peer = lws_get_opaque_user_data(wsi);
		if (peer && srv_peer_count(peer) > srv->cfg->http_max_conns_per_address) {
			srv->conns_refused++;
			return refuse_upgrade(wsi, 429, "too_many_connections");
		}
		/* A page of another site may not open a console with the user's cookie. */
		copy_hdr(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
		copy_hdr(wsi, WSI_TOKEN_HOST, host, sizeof host);
		if (!srv_origin_ok(origin, host)) {
			log_info("http", "console refused: another site's origin|origin=%s host=%s", origin,
			    host);
			return refuse_upgrade(wsi, HTTP_STATUS_FORBIDDEN, "bad_origin");
		}
		if (srv->users) {
			char cookie[1024];
			copy_hdr(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof cookie);
			const struct srv_user *u = srv_users_session(srv, cookie);
			if (u == NULL) /* no console without a signed-in user */
				return refuse_upgrade(wsi, HTTP_STATUS_UNAUTHORIZED, "sign_in_required");
			pss->user = *u;
			pss->has_user = 1;
		}
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED: {
		char peer[64];
		srv = srv_of(wsi);
		peer_of(wsi, peer, sizeof peer);
		struct hub_identity id = { pss->user.name, pss->user.display,
			pss->user.role == ROLE_DISPATCHER ? pss->user.agency : "", pss->user.expires_at,
			(int)pss->user.role };
		pss->c = hub_console_new(srv->hub, wsi, peer, pss->has_user ? &id : NULL);
		pss->in_msg = 0;
		return 0;
	}
	case LWS_CALLBACK_RECEIVE: {
		if (pss->c == NULL)
			return -1;
		if (lws_frame_is_binary(wsi)) {
			static const char why[] = "liandong.v1 messages are JSON text";
			lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
			    (unsigned char *)why, sizeof why - 1);
			return -1;
		}
		int first = !pss->in_msg;
		int final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
		pss->in_msg = !final;
		int rc = hub_console_receive(pss->c, in, len, first, final);
		if (rc) {
			const char *why = rc == LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE ? "message too large"
			    : rc == LWS_CLOSE_STATUS_INVALID_PAYLOAD ? "invalid UTF-8"
			    : "policy violation";
			lws_close_reason(wsi, (enum lws_close_status)rc, (unsigned char *)why, strlen(why));
			return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (pss->c && hub_console_writable(pss->c) < 0)
			return -1;
		return 0;
	case LWS_CALLBACK_CLOSED:
		if (pss->c) {
			hub_console_gone(pss->c);
			pss->c = NULL;
		}
		return 0;
	default:
		return 0;
	}
}

static struct lws_protocols protocols[] = {
	{ "http", cb_http, sizeof(struct http_pss), 0, 0, NULL, 0 },
	{ "liandong.v1", cb_ws, sizeof(struct ws_pss), 8192, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* Media types lws does not know by itself (Debian's lws 4.1 misses these). */
static const struct lws_protocol_vhost_options mime_map = { NULL, NULL, ".map", "application/json" };
static const struct lws_protocol_vhost_options mime_woff2 = { &mime_map, NULL, ".woff2", "font/woff2" };
static const struct lws_protocol_vhost_options mime_svg = { &mime_woff2, NULL, ".svg", "image/svg+xml" };
static const struct lws_protocol_vhost_options mime_json = { &mime_svg, NULL, ".json", "application/json" };
static const struct lws_protocol_vhost_options mime_wasm = { &mime_json, NULL, ".wasm", "application/wasm" };
static const struct lws_protocol_vhost_options mime_geojson = { &mime_wasm, NULL, ".geojson",
	"application/geo+json" };
static const struct lws_protocol_vhost_options mime_mjs = { &mime_geojson, NULL, ".mjs",
	"text/javascript" };

static struct lws_http_mount mount_root = {
	.mountpoint = "/",
	.def = "index.html",
	.extra_mimetypes = &mime_mjs,
	.origin_protocol = LWSMPRO_FILE,
	.mountpoint_len = 1,
};
static struct lws_http_mount mount_metrics = {
	.mount_next = &mount_root, .mountpoint = "/metrics", .origin = "http",
	.origin_protocol = LWSMPRO_CALLBACK, .mountpoint_len = 8,
};
static struct lws_http_mount mount_healthz = {
	.mount_next = &mount_metrics, .mountpoint = "/healthz", .origin = "http",
	.origin_protocol = LWSMPRO_CALLBACK, .mountpoint_len = 8,
};
static struct lws_http_mount mount_api = {
	.mount_next = &mount_healthz, .mountpoint = "/api", .origin = "http",
	.origin_protocol = LWSMPRO_CALLBACK, .mountpoint_len = 4,
};

static void
lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	srv_log(level == LLL_ERR ? SRV_LOG_ERROR : SRV_LOG_WARN, "lws", "%.*s", (int)n, line);
}

int
srv_http_start(struct srv *srv, char **cause)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	if (srv->peers == NULL)
		srv->peers = srv_peers_new();
	mount_root.origin = srv->cfg->console_dir;
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	void *foreign[1] = { srv->loop };
	info.foreign_loops = foreign;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
	    LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE;
	info.port = srv->cfg->port;
	info.iface = srv->cfg->listen_address;
	info.protocols = protocols;
	info.mounts = &mount_api;
	info.user = srv;
	info.timeout_secs = 30;
	info.keepalive_timeout = 30;
	info.fd_limit_per_thread = (unsigned)srv->cfg->http_max_conns + 64;
	info.vhost_name = "liandong";
	/* Ping an idle WebSocket after 30 s, drop it after 60 s without an answer. */
	static const lws_retry_bo_t idle = { .secs_since_valid_ping = 30,
		.secs_since_valid_hangup = 60 };
	info.retry_and_idle_policy = &idle;
	if (srv->cfg->tls_cert[0]) {
		/*
		 * TLS through OpenSSL. HTTP/1.1 only (no h2 by ALPN): responses leave
		 * as one header+body write, which h2 framing would not allow. A plain
		 * HTTP request to the same port is redirected to https.
		 */
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		if (srv->cfg->tls_redirect)
			info.options |= LWS_SERVER_OPTION_ALLOW_NON_SSL_ON_SSL_PORT |
			    LWS_SERVER_OPTION_REDIRECT_HTTP_TO_HTTPS;
		info.ssl_cert_filepath = srv->cfg->tls_cert;
		info.ssl_private_key_filepath = srv->cfg->tls_key;
		info.alpn = "http/1.1";
	}
	srv->lws = lws_create_context(&info);
	if (srv->lws == NULL)
		return srv_fail(cause, SRV_E_INTERNAL, "cannot start the HTTP listener on %s:%d",
		    srv->cfg->listen_address, srv->cfg->port), -1;
	/* lws creates the context even when the vhost could not bind: check it did. */
	struct lws_vhost *vh = lws_get_vhost_by_name(srv->lws, "liandong");
	if (vh == NULL || lws_get_vhost_listen_port(vh) <= 0) {
		srv_fail(cause, SRV_E_INTERNAL, "cannot listen on %s:%d (in use, or not an address here)",
		    srv->cfg->listen_address, srv->cfg->port);
		return -1;
	}
	srv->port = lws_get_vhost_listen_port(vh);
	return 0;
}

void
srv_http_stop(struct srv *srv)
{
	if (srv->lws) {
		lws_context_destroy(srv->lws);
		srv->lws_dying = srv->lws;
	}
	srv->lws = NULL;
}

void
srv_http_finish(struct srv *srv)
{
	if (srv->lws_dying)
		lws_context_destroy(srv->lws_dying);
	srv->lws_dying = NULL;
	srv_peers_free(srv->peers); /* every connection is destroyed by now */
	srv->peers = NULL;
}
