/*
 * fwd.h - liandong-forward's internal contract: the state shared by its
 * modules, all of it owned and touched by the loop thread only.
 *
 *   liandong_forward.c  flags, start-up, signals, shutdown, /status
 *   fwd_intake.c        local HTTP intake (POST /forward) and the inbox poller
 *   fwd_send.c          forwarding to the centre: window, retry, lws client
 *   fwd_spool.c         the disk spool (blocking; thread pool only)
 *
 * Data flow: a report is written to the spool and fsynced (thread pool)
 * before the local client gets 202; the sender lists the spool in sequence
 * order, a bounded page of names at a time, reads a bounded window of
 * reports, posts them, and deletes a file only after the centre answered
 * 200/201 (moves it to rejected/ after a permanent 4xx).
 */
#ifndef FWD_H
#define FWD_H

#include <libwebsockets.h>
#include <stdint.h>
#include <uv.h>

#include "fwd_spool.h"

#define FWD_WRITES_MAX 64   /* spool writes and inbox moves in progress at once */
#define FWD_INBOX_BATCH 64  /* inbox files taken per poll */
#define FWD_REQUESTS_MAX 256 /* local requests at once (each may hold --max-body in memory) */

struct fwd_config {
	char *listen_addr;      /* --listen host:port (host part) */
	int listen_port;
	char *spool;            /* --spool DIR */
	char *inbox;            /* --inbox DIR or NULL */
	char *centre;           /* --centre URL */
	char *adapter;          /* --adapter: default for POST /forward and the inbox */
	char *token;            /* --token: Authorization: Bearer, or NULL */
	char *hmac_secret;      /* --hmac-secret: X-Liandong-Signature key, or NULL */
	char *ca_file;          /* --ca FILE for an https centre, or NULL (system store) */
	int inflight;           /* --inflight: reports posted at once (window) */
	int64_t max_body;       /* --max-body */
	int inbox_poll_ms;      /* --inbox-poll */
	int timeout_s;          /* --timeout: one attempt, connect to answer */
	int backoff_min_ms, backoff_max_ms;
};

/* The centre's URL, split. */
struct fwd_centre {
	int tls;
	char host[256];         /* name or address, without brackets */
	int port;
	char prefix[256];       /* path before /api/v1/intake/..., without a trailing '/' */
	char host_header[300];  /* Host: (and the TLS server name) */
	int numeric;            /* host is an IP address: no resolving */
};

struct fwd_send;            /* fwd_send.c */
struct fwd_inbox;           /* fwd_intake.c */

struct fwd {
	uv_loop_t *loop;
	const struct fwd_config *cfg;
	struct fwd_centre centre;
	struct lws_context *lws;
	int port;               /* the listener's real port */
	int stopping;

	/* The spool, as the loop sees it. */
	uint64_t next_seq;      /* the next sequence number to give */
	int64_t spooled;        /* reports on disk waiting (not yet deleted or rejected) */
	uint64_t writing[FWD_WRITES_MAX * 2]; /* sequence numbers being written or moved in */
	int nwriting;
	int http_writing;       /* of which HTTP intake writes (bounded by FWD_WRITES_MAX) */
	uint64_t spool_gen;     /* +1 whenever a report lands in the spool */

	/* Counters since start. */
	int64_t received;       /* accepted (HTTP 202 or taken from the inbox) */
	int64_t forwarded;      /* acknowledged by the centre (200/201) */
	int64_t duplicates;     /* of which the centre already had (200 duplicate) */
	int64_t rejected;       /* moved to rejected/ */
	int64_t attempts;       /* posts to the centre */
	int64_t failures;       /* attempts that failed transiently */
	int requests_live;      /* local HTTP requests not yet answered and freed */

	struct fwd_send *send;
	struct fwd_inbox *inbox;
};

/* Give the next sequence number and note it as being written (it blocks listing past it). */
uint64_t fwd_seq_begin(struct fwd *f);
/* The write or move of seq is over; landed says the report is now in the spool. */
void fwd_seq_end(struct fwd *f, uint64_t seq, int landed);
/* Below this every sequence number is either in the spool or never will be. */
uint64_t fwd_seq_stable(const struct fwd *f);

/* /status as a JSON text (allocated). */
char *fwd_status_json(struct fwd *f);

/* fwd_send.c */
int fwd_send_init(struct fwd *f, char **cause);
/* Something landed in the spool (or the loop starts): list and post. */
void fwd_send_wake(struct fwd *f);
void fwd_send_stop(struct fwd *f);
void fwd_send_free(struct fwd *f);
/* Add the sender's figures to a /status object (a json_t *). */
void fwd_send_status(struct fwd *f, void *json_obj);

/* fwd_intake.c */
int fwd_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
    size_t len);
size_t fwd_http_pss_size(void);
void fwd_inbox_start(struct fwd *f);
void fwd_inbox_stop(struct fwd *f);
void fwd_inbox_free_state(struct fwd *f);

#endif
