/*
 * srv_webhook.h - delivery of the transactional outbox to agency webhooks.
 *
 * The store writes every event an agency follows into `outbox` in the same
 * commit as the change (db_store.c). This module posts those rows to the
 * gateway's webhook URL, one at a time per gateway, strictly in outbox id
 * order, and acknowledges each 2xx answer through the store writer
 * (DB_OP_OUTBOX_ACK), which deletes the delivered rows. A webhook that fails
 * (no connection, no answer within 10 s, any status but 2xx) gets the same
 * delivery again after an exponential backoff with jitter (0.5 s doubling to
 * 60 s); nothing behind it is sent before it succeeds. So an agency that is
 * down loses nothing and receives everything in order when it returns.
 *
 * Each POST carries Content-Type: application/json and the body
 *     {"delivery_id": <outbox id>, "gateway": "<name>", "event": <event frame>}
 * with the header X-Liandong-Delivery: <outbox id>; when the gateway has an
 * HMAC secret also X-Liandong-Timestamp: <Unix seconds> and
 * X-Liandong-Signature: sha256=<hex HMAC-SHA256(secret, timestamp "." body)>.
 *
 * Delivery is at least once: a crash (or shutdown) after the agency answered
 * but before the acknowledgement committed sends the same delivery again
 * after the restart. Receivers deduplicate by delivery_id (per gateway).
 *
 * Threads: everything here runs on the loop thread, except the reads (the
 * gateways with a webhook, pages of outbox rows), which run in the libuv
 * thread pool on the module's own read-only SQLite connection, one read at
 * a time. Writes go through the store writer only. Memory: at most one page
 * (32 rows) per gateway.
 */
#ifndef SRV_WEBHOOK_H
#define SRV_WEBHOOK_H

#include <stdint.h>

struct srv;
struct srv_webhook;

/*
 * Start delivering on srv->loop: creates a client-only lws context on the
 * loop and schedules the first read of the gateways table in db_path (the
 * store must be open). The gateways are read again every 5 s. Returns NULL
 * when the lws context cannot be created (logged). db_path is copied.
 */
struct srv_webhook *srv_webhook_start(struct srv *srv, const char *db_path);

/* New outbox rows may have been committed (call after each publish). NULL is a no-op. */
void srv_webhook_poke(struct srv_webhook *wh);

/*
 * Stop: no new deliveries; a post in flight is cut (it is sent again after
 * the next start). Waits for acknowledgements already submitted to the
 * store (so call it before db_store_close), for the read in flight, closes
 * the SQLite connection, the timers and the lws context, then calls
 * done(arg) on a later turn of the loop and frees wh.
 */
void srv_webhook_stop(struct srv_webhook *wh, void (*done)(void *arg), void *arg);

/* Counters for /metrics (loop thread). NULL gives zeros. */
struct srv_webhook_stats {
	uint64_t ok;       /* deliveries answered 2xx */
	uint64_t failed;   /* attempts that failed (each retry counts) */
	int64_t pending;   /* outbox rows not yet delivered, summed over gateways, last known */
	int gateways;      /* gateways with a webhook */
};
void srv_webhook_get_stats(const struct srv_webhook *wh, struct srv_webhook_stats *out);

#endif
