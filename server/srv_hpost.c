/*
 * srv_hpost.c - one HTTP POST over a libwebsockets client connection (see
 * srv_hpost.h).
 */
#include "srv_hpost.h"
#include "srv_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 16384

static uint64_t
mono_ms(void)
{
	return srv_mono_ns() / 1000000;
}

int
srv_hpost_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
    unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
		   (const unsigned char *)value, (int)strlen(value), p, end)
	    ? -1
	    : 0;
}

static void
finish(struct srv_hpost *h)
{
	if (h->finished)
		return;
	h->finished = 1;
	h->ops->finish(h);
}

/* lws will not call back for this connection again. */
static void
gone(struct srv_hpost *h, struct lws *wsi)
{
	if (wsi)
		lws_set_opaque_user_data(wsi, NULL);
	finish(h);
	h->gone = 1;
	h->wsi = NULL;
	if (!h->in_connect)
		h->ops->release(h);
}

void
srv_hpost_start(struct srv_hpost *h, struct lws_client_connect_info *i)
{
	h->started_ms = mono_ms();
	i->opaque_user_data = h;
	h->in_connect = 1;
	struct lws *wsi = lws_client_connect_via_info(i);
	h->in_connect = 0;
	if (wsi == NULL) {
		/* lws may or may not have called CONNECTION_ERROR already. */
		if (!h->finished && !h->err[0])
			snprintf(h->err, sizeof h->err, "cannot start a connection to %.100s:%d",
			    i->address, i->port);
		finish(h);
		h->gone = 1;
	} else if (!h->gone) {
		h->wsi = wsi;
	}
	if (h->gone)
		h->ops->release(h);
}

void
srv_hpost_clear(struct srv_hpost *h)
{
	free(h->resp);
	h->resp = NULL;
	h->resp_len = 0;
}

int
srv_hpost_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
    size_t len)
{
	(void)user;
	struct srv_hpost *h = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	if (h == NULL)
		return 0;
	if (h->wsi == NULL && !h->gone)
		h->wsi = wsi;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER: {
		if (h->body == NULL)
			return -1;
		unsigned char **p = (unsigned char **)in, *end = (*p) + len;
		char cl[24];
		snprintf(cl, sizeof cl, "%zu", h->len);
		if (srv_hpost_header(wsi, "content-type:", h->content_type, p, end) ||
		    srv_hpost_header(wsi, "content-length:", cl, p, end) ||
		    h->ops->headers(h, wsi, p, end)) {
			snprintf(h->err, sizeof h->err, "request headers do not fit");
			return -1;
		}
		if (h->len) {
			lws_client_http_body_pending(wsi, 1);
			lws_callback_on_writable(wsi);
		}
		return 0;
	}
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE: {
		if (h->body == NULL || h->sent >= h->len)
			return h->finished ? -1 : 0;
		unsigned char buf[LWS_PRE + CHUNK];
		size_t n = h->len - h->sent;
		if (n > CHUNK)
			n = CHUNK;
		memcpy(buf + LWS_PRE, h->body + h->sent, n);
		int final = h->sent + n == h->len;
		if (lws_write(wsi, buf + LWS_PRE, n, final ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
		    (int)n) {
			snprintf(h->err, sizeof h->err, "write to %s failed", h->peer);
			return -1;
		}
		h->sent += n;
		if (final)
			lws_client_http_body_pending(wsi, 0);
		else
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		h->status = (int)lws_http_client_http_response(wsi);
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_RETRY_AFTER) > 0 &&
		    lws_hdr_copy(wsi, h->retry_after, sizeof h->retry_after,
			WSI_TOKEN_HTTP_RETRY_AFTER) < 0)
			h->retry_after[0] = '\0';
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP: {
		char buf[LWS_PRE + 4096], *px = buf + LWS_PRE;
		int lenx = (int)sizeof buf - LWS_PRE;
		if (lws_http_client_read(wsi, &px, &lenx) < 0)
			return -1;
		return 0;
	}
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (h->resp_len < h->resp_max) {
			size_t n = len;
			if (h->resp_len + n > h->resp_max)
				n = h->resp_max - h->resp_len;
			h->resp = xrealloc(h->resp, h->resp_len + n + 1);
			memcpy(h->resp + h->resp_len, in, n);
			h->resp_len += n;
			h->resp[h->resp_len] = '\0';
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		/* lws sends "connection: close" (no pipelining): one post per connection. */
		finish(h);
		return -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(h->err, sizeof h->err, "%s", in ? (const char *)in : "connection failed");
		h->status = 0;
		gone(h, wsi);
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		/*
		 * Closed before the answer was complete. A 2xx status line is
		 * enough: the peer sends it only once it has taken the body.
		 */
		if (!h->finished && !(h->status >= 200 && h->status < 300)) {
			if (!h->err[0] && h->timeout_ms && mono_ms() - h->started_ms + 50 >= h->timeout_ms)
				snprintf(h->err, sizeof h->err, "no answer within %llu s",
				    (unsigned long long)(h->timeout_ms / 1000));
			if (!h->err[0])
				snprintf(h->err, sizeof h->err, h->status ? "connection closed mid-answer"
				    : "connection closed before an answer");
			h->status = 0;
		}
		gone(h, wsi);
		return 0;
	default:
		return 0;
	}
}
