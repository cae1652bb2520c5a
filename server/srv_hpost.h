/*
 * srv_hpost.h - one HTTP POST over a libwebsockets client connection.
 *
 * The webhook deliverer (srv_webhook.c) and the agency forwarder
 * (gateways/forward/fwd_send.c) both post a body to a peer and judge the
 * answer by its status line. This is the part they share: connecting, the
 * request headers, the body in bounded chunks, the status, Retry-After and
 * (up to resp_max) the answer's body, and how a connection that ends early
 * is described. The owner embeds a struct srv_hpost as the first member of
 * its own attempt, fills the request and the ops, and hands its lws protocol
 * srv_hpost_callback.
 *
 * Lifetime: ops->finish is called exactly once (answer complete, connection
 * failed or closed early; the owner reads status, err, retry_after, resp).
 * ops->release is called once lws has let go of the connection, after
 * finish; the owner frees the attempt there. Setting body to NULL before
 * that (the owner gave up) makes the next callback close the connection.
 */
#ifndef SRV_HPOST_H
#define SRV_HPOST_H

#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

struct srv_hpost;

struct srv_hpost_ops {
	/* Headers beyond content-type and content-length: 0, or -1 when they do not fit. */
	int (*headers)(struct srv_hpost *h, struct lws *wsi, unsigned char **p, unsigned char *end);
	void (*finish)(struct srv_hpost *h);
	void (*release)(struct srv_hpost *h);
};

struct srv_hpost {
	/* The request, set by the owner. */
	const struct srv_hpost_ops *ops;
	const char *body;         /* NULL: the owner let go */
	size_t len;
	const char *content_type;
	const char *peer;         /* for messages: "the centre", "the webhook" */
	size_t resp_max;          /* keep at most this much of the answer's body (0: none) */
	uint64_t started_ms;      /* srv_hpost_start sets it (monotonic) */
	uint64_t timeout_ms;      /* only to word an answer that never came */

	/* The answer. */
	int status;               /* 0 until a status line arrived */
	char retry_after[32];
	char *resp;               /* NUL-terminated, resp_len bytes; freed by srv_hpost_clear */
	size_t resp_len;
	char err[160];            /* why it failed, when it did */

	/* State. */
	struct lws *wsi;
	size_t sent;
	int finished, in_connect, gone;
};

/* Headers helper for ops->headers: 0, or -1 when it does not fit. */
int srv_hpost_header(struct lws *wsi, const char *name, const char *value, unsigned char **p,
    unsigned char *end);
/*
 * Connect with i (everything but opaque_user_data, which is set here). When
 * lws refuses at once, finish and release have both been called on return.
 */
void srv_hpost_start(struct srv_hpost *h, struct lws_client_connect_info *i);
int srv_hpost_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
    size_t len);
/* Free what the answer holds (call from ops->release). */
void srv_hpost_clear(struct srv_hpost *h);

#endif
