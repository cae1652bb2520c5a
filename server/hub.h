/*
 * hub.h - the WebSocket hub: live, seq-ordered, resumable push to consoles.
 *
 * Every committed change reaches hub_publish() once, in seq order, as the
 * journal frame text. The hub keeps the newest frames in a ring of shared,
 * reference-counted messages and fans each out to the live consoles.
 *
 * A console's life: it connects, says hello with the last seq it saw, and
 * is either resumed (it then pulls exactly the events it missed, from the
 * ring or, further back, from journal pages read off the loop) or sent a
 * snapshot of the open incidents at some seq S followed by every event
 * after S. Then it is live. A live console's queue is bounded in messages
 * and bytes; when it overflows, the queue is dropped, the console is told
 * {"type":"resync"} and goes back to pulling from where it really is. So a
 * slow console costs a bounded amount of memory and never stalls others.
 *
 * Loop thread only. The struct lws pointers are the WebSocket connections.
 */
#ifndef HUB_H
#define HUB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct lws;
struct hub;
struct hub_console;
struct db_reader;

struct hub_opts {
	int ring;             /* frames kept in memory */
	int queue_max;        /* per-console queued frames */
	size_t queue_bytes;   /* per-console queued bytes */
	int replay_max;       /* further behind than this gets a snapshot */
	int snapshot_max;     /* incidents in a snapshot */
	size_t max_message;   /* largest message a console may send */
	double msg_rate;      /* messages a second one console may send (token bucket) ... */
	int msg_burst;        /* ... and at once; beyond, an error frame; far beyond, close 1008 */
};

struct hub_stats {
	uint64_t consoles, published, frames_sent, bytes_sent, resyncs, snapshots, pages, closed_slow;
	uint64_t queued_bytes; /* now, over all consoles */
};

/*
 * What a console asked to see (its hello's "agencies" and "districts"); an
 * empty list is no restriction. An event's scope is "agency,agency|district":
 * the console gets it when one of the agencies is its own and the district
 * is one of its districts (an event with no district passes that test).
 */
#define HUB_FILTER_AGENCIES 16
#define HUB_FILTER_DISTRICTS 32
struct hub_filter {
	char agencies[HUB_FILTER_AGENCIES][17];
	int nagencies;
	char districts[HUB_FILTER_DISTRICTS][13];
	int ndistricts;
};
int hub_scope_visible(const char *scope, const struct hub_filter *f);

struct hub *hub_new(uv_loop_t *loop, struct db_reader *reader, const struct hub_opts *opts,
    int64_t last_seq);
/* Free the hub; every console must be gone. */
void hub_free(struct hub *h);
/* The db_publish_fn: a committed change, in seq order. frame and scope are copied. */
void hub_publish(void *hub, int64_t seq, const char *frame, size_t len, const char *scope);
/*
 * An unsequenced frame (unit positions, presence) to every live console that
 * may see scope (NULL: all). Not journaled, not resent on resume: the next
 * one supersedes it.
 */
void hub_broadcast(struct hub *h, const char *frame, size_t len, const char *scope);
int64_t hub_last_seq(const struct hub *h);
void hub_get_stats(const struct hub *h, struct hub_stats *out);

/* Who opened a console (console.auth = users). */
struct hub_identity {
	const char *name, *display;
	const char *agency;   /* a dispatcher's agency: the console sees only what concerns it */
	int64_t expires_at;   /* of the session */
	int role;             /* enum srv_role of the user */
};

/* A WebSocket connection was established on /ws (id NULL: sign-in is off). */
struct hub_console *hub_console_new(struct hub *h, struct lws *wsi, const char *peer,
    const struct hub_identity *id);
/*
 * Close (1008) every console whose user may no longer be here: valid() says
 * whether a user's session still stands. Returns how many were closed.
 */
int hub_check_sessions(struct hub *h, int (*valid)(void *ctx, const char *name, int64_t expires),
    void *ctx);
/*
 * A fragment of a message arrived. Returns 0, or a close code (1009 too
 * big, 1007 bad UTF-8, 1008 policy) after which the connection is closed.
 */
int hub_console_receive(struct hub_console *c, const void *data, size_t len, int first, int final);
/* The connection is writable: send one frame. Returns 0 or -1 to close. */
int hub_console_writable(struct hub_console *c);
/* The connection is gone (closed by either side). */
void hub_console_gone(struct hub_console *c);
/* Ask every console to close with 1001 (going away). Returns how many are open. */
int hub_close_all(struct hub *h);
int hub_console_count(const struct hub *h);

/*
 * Another module's console messages (the media bridge's rtc.* signalling):
 * message() sees every message whose type starts with prefix and returns 1
 * when it handled it (0: the hub answers unknown_type); gone() hears of every
 * console that went away. Both on the loop thread; msg is borrowed.
 */
struct json_t;
struct hub_ext {
	const char *prefix;
	int (*message)(void *ctx, struct hub_console *c, const char *type, struct json_t *msg);
	void (*gone)(void *ctx, struct hub_console *c);
	void *ctx;
};
void hub_set_ext(struct hub *h, const struct hub_ext *ext);
/*
 * One unsequenced frame (text copied) to one console, in whatever state it is
 * (resuming, catching up, live), after its control frames. Bounded: a console
 * with 64 such frames unread is closed (1008). 0, or -1 when it is gone.
 */
int hub_console_send(struct hub_console *c, const char *frame, size_t len);
/* The console with this id, or NULL when it is gone. */
struct hub_console *hub_console_find(struct hub *h, uint64_t id);
uint64_t hub_console_id(const struct hub_console *c);
/* Its signed-in user's name ("" with sign-in off), role (-1 with sign-in off), agency ("" but for dispatchers). */
const char *hub_console_account(const struct hub_console *c);
int hub_console_role(const struct hub_console *c);
const char *hub_console_agency(const struct hub_console *c);
const char *hub_console_peer(const struct hub_console *c);

#endif
