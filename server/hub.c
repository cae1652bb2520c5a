/* hub.c - see hub.h. */
#include "hub.h"
#include "db_read.h"
#include "incident.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_json.h"
#include "srv_util.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

/* lws's own opcode for a Close frame (private in 4.1's headers, "handled by
 * lws_close_reason()"); lws_write() frames it like any other opcode. */
#define HUB_WRITE_CLOSE 4
#define CTL_MAX 8    /* control frames (welcome, snapshot, resync, pong, error) */
#define EXT_MAX 64   /* an extension's frames to one console (rtc.* signalling) */
#define PAGE_SIZE 128 /* journal frames read per catch-up page */

/* A frame ready for lws_write: LWS_PRE bytes of headroom, then the text. */
struct hub_msg {
	int refs;
	int64_t seq; /* 0 for control frames */
	size_t len;
	const char *scope; /* NULL: every console; else inside data, after the text */
	unsigned char data[];
};

enum cstate { C_HELLO, C_SNAPSHOT, C_CATCHUP, C_LIVE };

struct hub_console {
	struct hub *hub;
	struct lws *wsi;   /* NULL once gone */
	int refs;          /* the connection + an outstanding query */
	uint64_t id;
	char peer[64];
	enum cstate state;
	int64_t cursor;    /* seq of the last event queued or sent, in order */
	int64_t sent;      /* seq of the last event written to the socket */
	int close_code;    /* nonzero: close with this code at the next writable */

	struct hub_msg *ctl[CTL_MAX];
	int ctl_head, ctl_n;
	struct hub_msg *ext[EXT_MAX]; /* hub_console_send(), in any state */
	int ext_head, ext_n;
	struct hub_msg **q; /* live queue, ring of queue_max */
	int q_head, q_n;
	size_t q_bytes;
	struct db_query *page; /* catch-up frames from the journal */
	int page_pos;
	int busy;              /* a query is outstanding */

	char *rx;              /* message being assembled */
	size_t rx_len;

	struct hub_filter filter; /* what it asked to see */
	int filtered;             /* filter has any restriction */
	char user[64];            /* who it is: the signed-in user's name, or what it says */
	char account[33];         /* the signed-in user, "" with sign-in off */
	char agency[17];          /* a dispatcher's agency: imposed on every filter */
	int role;                 /* enum srv_role, -1 with sign-in off */
	int64_t session_expires;
	int64_t presence_incident;
	char presence_state[16];
	char *presence_scope;      /* the incident's scope: who may see this console's presence */
	struct srv_bucket bucket;  /* the console's message rate */
	int over_rate;             /* messages refused in a row for the rate */
	int64_t presence_asked;    /* incident of the presence awaiting its scope from the store */
	char presence_asked_state[16];

	struct hub_console *prev, *next;
};

struct hub {
	uv_loop_t *loop;
	struct db_reader *reader;
	struct hub_opts o;
	int64_t last_seq;
	struct hub_msg **ring; /* ring[seq % o.ring] holds seq when seq >= ring_first */
	int64_t ring_first;    /* oldest seq held; ring holds ring_first..last_seq */
	struct hub_msg *snapshot; /* shared snapshot and the seq it is at */
	int64_t snapshot_seq;
	struct hub_console *consoles;
	uint64_t next_id;
	struct hub_stats st;
	struct hub_ext ext;       /* another module's messages (rtc.*), or prefix NULL */
};

static struct hub_msg *
msg_new_scoped(int64_t seq, const char *text, size_t len, const char *scope)
{
	size_t slen = scope ? strlen(scope) + 1 : 0;
	struct hub_msg *m = xmalloc(sizeof *m + LWS_PRE + len + slen);
	m->refs = 1;
	m->seq = seq;
	m->len = len;
	memcpy(m->data + LWS_PRE, text, len);
	m->scope = NULL;
	if (scope) {
		memcpy(m->data + LWS_PRE + len, scope, slen);
		m->scope = (const char *)m->data + LWS_PRE + len;
	}
	return m;
}

static struct hub_msg *
msg_new(int64_t seq, const char *text, size_t len)
{
	return msg_new_scoped(seq, text, len, NULL);
}

static int
list_has(const char *item, size_t n, const char *list, int count, size_t width)
{
	for (int i = 0; i < count; i++) {
		const char *e = list + (size_t)i * width;
		if (strlen(e) == n && strncmp(e, item, n) == 0)
			return 1;
	}
	return 0;
}

int
hub_scope_visible(const char *scope, const struct hub_filter *f)
{
	if (scope == NULL || (f->nagencies == 0 && f->ndistricts == 0))
		return 1;
	const char *bar = strchr(scope, '|');
	size_t alen = bar ? (size_t)(bar - scope) : strlen(scope);
	if (f->nagencies) {
		int hit = 0;
		for (const char *p = scope; p < scope + alen && !hit;) {
			const char *comma = memchr(p, ',', (size_t)(scope + alen - p));
			size_t n = comma ? (size_t)(comma - p) : (size_t)(scope + alen - p);
			hit = list_has(p, n, f->agencies[0], f->nagencies, sizeof f->agencies[0]);
			p += n + 1;
		}
		if (!hit)
			return 0;
	}
	if (f->ndistricts && bar && bar[1]) {
		const char *d = bar + 1;
		if (!list_has(d, strlen(d), f->districts[0], f->ndistricts, sizeof f->districts[0]))
			return 0;
	}
	return 1;
}

static int
visible(const struct hub_console *c, const struct hub_msg *m)
{
	return !c->filtered || hub_scope_visible(m->scope, &c->filter);
}

static void
msg_unref(struct hub_msg *m)
{
	if (m && --m->refs == 0)
		free(m);
}

static struct hub_msg *
msg_json(json_t *j)
{
	size_t len;
	char *s = srv_json_dump(j, &len);
	json_decref(j);
	if (s == NULL) { /* json_pack refused (a string that is not UTF-8): never a NULL frame */
		static const char fallback[] =
		    "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"a frame could not be built\"}";
		return msg_new(0, fallback, sizeof fallback - 1);
	}
	struct hub_msg *m = msg_new(0, s, len);
	free(s);
	return m;
}

struct hub *
hub_new(uv_loop_t *loop, struct db_reader *reader, const struct hub_opts *opts, int64_t last_seq)
{
	struct hub *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->reader = reader;
	h->o = *opts;
	h->last_seq = last_seq;
	h->ring = xcalloc((size_t)opts->ring, sizeof *h->ring);
	h->ring_first = last_seq + 1; /* empty */
	return h;
}

void
hub_free(struct hub *h)
{
	if (h == NULL)
		return;
	for (int64_t s = h->ring_first; s <= h->last_seq; s++)
		msg_unref(h->ring[s % h->o.ring]);
	free(h->ring);
	msg_unref(h->snapshot);
	free(h);
}

int64_t
hub_last_seq(const struct hub *h)
{
	return h->last_seq;
}

void
hub_get_stats(const struct hub *h, struct hub_stats *out)
{
	*out = h->st;
}

int
hub_console_count(const struct hub *h)
{
	return (int)h->st.consoles;
}

static struct hub_msg *
ring_get(struct hub *h, int64_t seq)
{
	if (seq < h->ring_first || seq > h->last_seq)
		return NULL;
	return h->ring[seq % h->o.ring];
}

static void
wake(struct hub_console *c)
{
	if (c->wsi)
		lws_callback_on_writable(c->wsi);
}

static void
q_clear(struct hub_console *c)
{
	int cap = c->hub->o.queue_max;
	while (c->q_n) {
		msg_unref(c->q[c->q_head]);
		c->q_head = (c->q_head + 1) % cap;
		c->q_n--;
	}
	c->hub->st.queued_bytes -= c->q_bytes;
	c->q_bytes = 0;
}

/* Queue a control frame; takes the reference. Returns -1 when the control queue is full. */
static int
ctl_push(struct hub_console *c, struct hub_msg *m)
{
	if (c->ctl_n == CTL_MAX) {
		msg_unref(m);
		return -1;
	}
	c->ctl[(c->ctl_head + c->ctl_n++) % CTL_MAX] = m;
	wake(c);
	return 0;
}

static void
send_error(struct hub_console *c, const char *code, const char *message)
{
	/* A parser's message may quote the console's bytes, which need not be UTF-8. */
	if (!srv_utf8_valid(message, strlen(message)))
		message = "the message is not valid JSON text";
	json_t *j = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);
	if (ctl_push(c, msg_json(j)) != 0)
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
}

static void
console_unref(struct hub_console *c)
{
	if (--c->refs > 0)
		return;
	for (int i = 0; i < c->ctl_n; i++)
		msg_unref(c->ctl[(c->ctl_head + i) % CTL_MAX]);
	for (int i = 0; i < c->ext_n; i++)
		msg_unref(c->ext[(c->ext_head + i) % EXT_MAX]);
	q_clear(c);
	free(c->q);
	db_query_free(c->page);
	free(c->rx);
	free(c->presence_scope);
	free(c);
}

/* The console overflowed: drop what is queued and let it pull from where it is. */
static void
cut_to_catchup(struct hub_console *c, const char *reason)
{
	q_clear(c);
	c->cursor = c->sent;
	c->state = C_CATCHUP;
	c->hub->st.resyncs++;
	log_info("hub", "console fell behind; resyncing|console=%llu peer=%s seq=%lld reason=%s",
	    (unsigned long long)c->id, c->peer, (long long)c->sent, reason);
	json_t *j = json_pack("{s:s, s:s, s:I}", "type", "resync", "reason", reason, "seq",
	    (json_int_t)c->sent);
	if (ctl_push(c, msg_json(j)) != 0)
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
}

static int write_msg(struct hub_console *c, const unsigned char *text, size_t len);
static void presence_broadcast(struct hub *h, int64_t incident, const char *scope);

void
hub_publish(void *arg, int64_t seq, const char *frame, size_t len, const char *scope)
{
	struct hub *h = arg;
	struct hub_msg *m = msg_new_scoped(seq, frame, len, scope);
	/* Keep it in the ring, evicting the oldest. */
	if (seq - h->ring_first >= h->o.ring) {
		msg_unref(h->ring[h->ring_first % h->o.ring]);
		h->ring_first++;
	}
	if (h->last_seq + 1 != seq) {
		/* Never expected: seqs come from the one writer in order. Reset the ring. */
		log_error("hub", "journal seq gap|expected=%lld got=%lld", (long long)h->last_seq + 1,
		    (long long)seq);
		for (int64_t s = h->ring_first; s <= h->last_seq; s++)
			msg_unref(h->ring[s % h->o.ring]);
		h->ring_first = seq;
	}
	h->ring[seq % h->o.ring] = m;
	h->last_seq = seq;
	h->st.published++;

	size_t cap = (size_t)h->o.queue_max;
	for (struct hub_console *c = h->consoles; c; c = c->next) {
		if (c->state != C_LIVE || seq <= c->cursor)
			continue;
		if (!visible(c, m)) {
			/* Not for this console: it moves past it (nothing to resend on resume). */
			c->cursor = seq;
			if (c->q_n == 0)
				c->sent = seq;
			continue;
		}
		if (c->q_n == 0 && c->ctl_n == 0 && c->close_code == 0 && c->wsi &&
		    !lws_send_pipe_choked(c->wsi)) {
			/*
			 * Nothing queued and the socket can take it: write now. Asking
			 * for WRITEABLE instead costs lws's libuv glue two epoll interest
			 * changes (each a DEL+ADD) per console per event. A partial write
			 * is kept by lws, which then waits for POLLOUT itself, and
			 * lws_send_pipe_choked() stays true until it has drained.
			 */
			c->cursor = c->sent = seq;
			if (write_msg(c, m->data + LWS_PRE, len) != 0) {
				c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
				wake(c);
			}
			continue;
		}
		if ((size_t)c->q_n == cap || c->q_bytes + len > h->o.queue_bytes) {
			cut_to_catchup(c, "slow_consumer");
			continue;
		}
		m->refs++;
		c->q[(c->q_head + c->q_n++) % cap] = m;
		c->q_bytes += len;
		h->st.queued_bytes += len;
		c->cursor = seq;
		wake(c);
	}
}

/* An unsequenced frame to one live console: written now when it can be, else queued (bounded). */
static void
push_unsequenced(struct hub_console *c, struct hub_msg *m)
{
	struct hub *h = c->hub;
	size_t cap = (size_t)h->o.queue_max;
	if (c->q_n == 0 && c->ctl_n == 0 && c->ext_n == 0 && c->close_code == 0 &&
	    !lws_send_pipe_choked(c->wsi)) {
		if (write_msg(c, m->data + LWS_PRE, m->len) != 0) {
			c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
			wake(c);
		}
		return;
	}
	if ((size_t)c->q_n == cap || c->q_bytes + m->len > h->o.queue_bytes) {
		cut_to_catchup(c, "slow_consumer");
		return;
	}
	m->refs++;
	c->q[(c->q_head + c->q_n++) % cap] = m;
	c->q_bytes += m->len;
	h->st.queued_bytes += m->len;
	wake(c);
}

void
hub_broadcast(struct hub *h, const char *frame, size_t len, const char *scope)
{
	struct hub_msg *m = msg_new_scoped(0, frame, len, scope);
	for (struct hub_console *c = h->consoles; c; c = c->next) {
		if (c->state != C_LIVE || !visible(c, m) || c->wsi == NULL)
			continue;
		push_unsequenced(c, m);
	}
	msg_unref(m);
}

int
hub_console_send(struct hub_console *c, const char *frame, size_t len)
{
	if (c->wsi == NULL)
		return -1;
	if (c->ext_n == EXT_MAX) {
		/* It has not read 64 signalling frames: cut it, like any console that stalls. */
		log_info("hub", "console does not read its signalling; closing|console=%llu peer=%s",
		    (unsigned long long)c->id, c->peer);
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		wake(c);
		return 0;
	}
	c->ext[(c->ext_head + c->ext_n++) % EXT_MAX] = msg_new(0, frame, len);
	wake(c);
	return 0;
}

void
hub_set_ext(struct hub *h, const struct hub_ext *ext)
{
	h->ext = *ext;
}

struct hub_console *
hub_console_find(struct hub *h, uint64_t id)
{
	for (struct hub_console *c = h->consoles; c; c = c->next)
		if (c->id == id && c->wsi)
			return c;
	return NULL;
}

uint64_t hub_console_id(const struct hub_console *c) { return c->id; }
const char *hub_console_account(const struct hub_console *c) { return c->account; }
int hub_console_role(const struct hub_console *c) { return c->role; }
const char *hub_console_agency(const struct hub_console *c) { return c->agency; }
const char *hub_console_peer(const struct hub_console *c) { return c->peer; }

static void
impose_agency(struct hub_console *c)
{
	if (c->agency[0] == '\0')
		return;
	snprintf(c->filter.agencies[0], sizeof c->filter.agencies[0], "%s", c->agency);
	c->filter.nagencies = 1;
	c->filtered = 1;
}

struct hub_console *
hub_console_new(struct hub *h, struct lws *wsi, const char *peer, const struct hub_identity *id)
{
	struct hub_console *c = xcalloc(1, sizeof *c);
	c->hub = h;
	c->wsi = wsi;
	c->refs = 1;
	c->id = ++h->next_id;
	snprintf(c->peer, sizeof c->peer, "%s", peer ? peer : "?");
	c->role = -1;
	if (id) {
		c->role = id->role;
		snprintf(c->account, sizeof c->account, "%s", id->name);
		snprintf(c->user, sizeof c->user, "%s", id->display && id->display[0] ? id->display
										: id->name);
		snprintf(c->agency, sizeof c->agency, "%s", id->agency ? id->agency : "");
		c->session_expires = id->expires_at;
		impose_agency(c);
	}
	c->state = C_HELLO;
	c->q = xcalloc((size_t)h->o.queue_max, sizeof *c->q);
	c->next = h->consoles;
	if (h->consoles)
		h->consoles->prev = c;
	h->consoles = c;
	h->st.consoles++;
	return c;
}

void
hub_console_gone(struct hub_console *c)
{
	struct hub *h = c->hub;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->consoles = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->wsi = NULL;
	h->st.consoles--;
	if (c->presence_incident)
		presence_broadcast(h, c->presence_incident, c->presence_scope);
	if (h->ext.gone)
		h->ext.gone(h->ext.ctx, c);
	console_unref(c);
}

static void snapshot_done(struct db_query *q);
static void page_done(struct db_query *q);

static void
start_query(struct hub_console *c, struct db_query *q)
{
	q->udata = c;
	c->busy = 1;
	c->refs++;
	if (db_query_submit(c->hub->reader, q) != 0) {
		c->busy = 0;
		c->refs--;
		db_query_free(q);
		c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		wake(c);
	}
}

/*
 * Start sending from seq `at` (a snapshot's, or a resuming hello's): live at
 * once when nothing is newer, else catch up first. Live at once matters for
 * frames without a seq (presence, positions), which only live consoles get:
 * waiting for the next write to find out there was nothing to catch up lost
 * a presence broadcast in between.
 */
static void
start_from(struct hub_console *c, int64_t at)
{
	c->cursor = c->sent = at;
	c->state = at >= c->hub->last_seq ? C_LIVE : C_CATCHUP;
	wake(c);
}

static void
request_snapshot(struct hub_console *c)
{
	struct hub *h = c->hub;
	c->state = C_SNAPSHOT;
	q_clear(c);
	db_query_free(c->page);
	c->page = NULL;
	h->st.snapshots++;
	if (!c->filtered && h->snapshot && h->snapshot_seq >= h->last_seq) {
		/* Nothing changed since the last snapshot: share it. */
		h->snapshot->refs++;
		ctl_push(c, h->snapshot);
		start_from(c, h->snapshot_seq);
		return;
	}
	struct db_query *q = db_query_new(DBQ_SNAPSHOT);
	q->limit = h->o.snapshot_max;
	if (c->filtered) {
		q->filter_scope = xmalloc(sizeof *q->filter_scope);
		*q->filter_scope = c->filter;
	}
	q->done = snapshot_done;
	start_query(c, q);
}

static void
snapshot_done(struct db_query *q)
{
	struct hub_console *c = q->udata;
	struct hub *h = c->hub;
	c->busy = 0;
	if (c->wsi && q->err == 0 && c->state == C_SNAPSHOT) {
		struct hub_msg *m = msg_new(0, q->body, q->body_len);
		if (!c->filtered && q->seq >= h->snapshot_seq) {
			msg_unref(h->snapshot);
			m->refs++;
			h->snapshot = m;
			h->snapshot_seq = q->seq;
		}
		ctl_push(c, m);
		start_from(c, q->seq);
	} else if (c->wsi && q->err) {
		log_warn("hub", "snapshot failed|console=%llu cause=\"%s\"", (unsigned long long)c->id,
		    q->cause ? q->cause : "");
		c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
		wake(c);
	}
	db_query_free(q);
	console_unref(c);
}

static void
page_done(struct db_query *q)
{
	struct hub_console *c = q->udata;
	c->busy = 0;
	if (c->wsi && q->err == 0 && c->state == C_CATCHUP) {
		db_query_free(c->page);
		c->page = q;
		c->page_pos = 0;
		c->hub->st.pages++;
		wake(c);
	} else {
		if (c->wsi && q->err) {
			c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
			wake(c);
		}
		db_query_free(q);
	}
	console_unref(c);
}

static int
write_msg(struct hub_console *c, const unsigned char *text, size_t len)
{
	int n = lws_write(c->wsi, (unsigned char *)text, len, LWS_WRITE_TEXT);
	if (n < (int)len)
		return -1;
	c->hub->st.frames_sent++;
	c->hub->st.bytes_sent += len;
	return 0;
}

/*
 * The next catch-up frame for a console: from the current journal page, else
 * from the ring, else fetch a page. Returns 1 and sets *out when one is ready
 * (temp set when the caller must free it), 0 when waiting or caught up.
 */
static int
catchup_next(struct hub_console *c, struct hub_msg **out)
{
	struct hub *h = c->hub;
	for (;;) {
		if (c->cursor >= h->last_seq) {
			c->state = C_LIVE;
			db_query_free(c->page);
			c->page = NULL;
			return 0;
		}
		while (c->page && c->page_pos < c->page->nframes) {
			int i = c->page_pos++;
			if (c->page->frame_seqs[i] <= c->cursor)
				continue; /* already had it (e.g. inside a snapshot) */
			if (c->page->frame_seqs[i] != c->cursor + 1)
				log_error("hub", "journal gap in catch-up|after=%lld got=%lld",
				    (long long)c->cursor, (long long)c->page->frame_seqs[i]);
			if (c->filtered &&
			    !hub_scope_visible(c->page->frame_scopes[i], &c->filter)) {
				c->cursor = c->sent = c->page->frame_seqs[i];
				continue;
			}
			*out = msg_new(c->page->frame_seqs[i], c->page->frames[i], c->page->frame_lens[i]);
			return 1;
		}
		struct hub_msg *m = ring_get(h, c->cursor + 1);
		if (m && !visible(c, m)) {
			c->cursor = c->sent = m->seq;
			continue;
		}
		if (m) {
			m->refs++;
			*out = m;
			return 1;
		}
		if (c->busy)
			return 0;
		if (h->last_seq - c->cursor > h->o.replay_max) {
			request_snapshot(c);
			return 0;
		}
		struct db_query *q = db_query_new(DBQ_JOURNAL);
		q->after_seq = c->cursor;
		q->limit = PAGE_SIZE;
		q->done = page_done;
		db_query_free(c->page);
		c->page = NULL;
		start_query(c, q);
		return 0;
	}
}

int
hub_console_writable(struct hub_console *c)
{
	if (c->wsi == NULL)
		return -1;
	if (c->close_code) {
		/*
		 * Write the Close frame ourselves: lws 4.1 does not send the reason set
		 * by lws_close_reason() when the close starts from a WRITEABLE callback
		 * (warmcat/libwebsockets#1159), and the console would see 1006.
		 */
		unsigned char frame[LWS_PRE + 2];
		frame[LWS_PRE] = (unsigned char)(c->close_code >> 8);
		frame[LWS_PRE + 1] = (unsigned char)(c->close_code & 0xff);
		lws_write(c->wsi, frame + LWS_PRE, 2, (enum lws_write_protocol)HUB_WRITE_CLOSE);
		return -1;
	}
	struct hub *h = c->hub;
	struct hub_msg *m = NULL;
	if (c->ctl_n) {
		m = c->ctl[c->ctl_head];
		c->ctl_head = (c->ctl_head + 1) % CTL_MAX;
		c->ctl_n--;
	} else if (c->ext_n) {
		m = c->ext[c->ext_head];
		c->ext_head = (c->ext_head + 1) % EXT_MAX;
		c->ext_n--;
	} else if (c->state == C_LIVE && c->q_n) {
		m = c->q[c->q_head];
		c->q_head = (c->q_head + 1) % h->o.queue_max;
		c->q_n--;
		c->q_bytes -= m->len;
		h->st.queued_bytes -= m->len;
	} else if (c->state == C_CATCHUP) {
		if (catchup_next(c, &m) && m)
			c->cursor = m->seq;
	}
	if (m == NULL)
		return 0;
	if (m->seq)
		c->sent = m->seq;
	int rc = write_msg(c, m->data + LWS_PRE, m->len);
	msg_unref(m);
	if (rc)
		return -1;
	if (c->ctl_n || c->ext_n || (c->state == C_LIVE && c->q_n) || c->state == C_CATCHUP)
		wake(c);
	return 0;
}

/* A hello's "agencies" / "districts": lists of short codes. -1 after answering an error. */
static int
read_list(struct hub_console *c, json_t *msg, const char *name, char *out, int max, size_t width,
    int *n)
{
	json_t *v = json_object_get(msg, name);
	*n = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	char why[160];
	snprintf(why, sizeof why, "%s must be a list of at most %d codes of 1-%zu letters and digits",
	    name, max, width - 1);
	if (!json_is_array(v) || (int)json_array_size(v) > max) {
		send_error(c, "invalid_field", why);
		return -1;
	}
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e) {
		const char *s = json_string_value(e);
		size_t len = s ? strlen(s) : 0;
		int ok = len > 0 && len < width;
		for (size_t k = 0; ok && k < len; k++)
			ok = (s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'z') ||
			    (s[k] >= 'A' && s[k] <= 'Z') || s[k] == '_';
		if (!ok) {
			send_error(c, "invalid_field", why);
			return -1;
		}
		memcpy(out + (size_t)*n * width, s, len + 1);
		(*n)++;
	}
	return 0;
}

static void presence_json_viewer(json_t *list, const struct hub_console *o);

/*
 * Who has what open right now, for a console saying hello (presence frames
 * only tell changes): every incident with a viewer that this console may
 * see, in one frame {"type":"presence_all","incidents":[{incident, viewers}]}.
 */
static void
presence_all(struct hub_console *c)
{
	json_t *by_id = json_object(), *list = json_array();
	for (struct hub_console *o = c->hub->consoles; o; o = o->next) {
		if (!o->wsi || o == c || !o->presence_incident ||
		    (c->filtered && !hub_scope_visible(o->presence_scope, &c->filter)))
			continue;
		char key[24];
		snprintf(key, sizeof key, "%lld", (long long)o->presence_incident);
		json_t *viewers = json_object_get(by_id, key);
		if (viewers == NULL) {
			viewers = json_array();
			json_object_set_new(by_id, key, viewers);
			json_array_append_new(list, json_pack("{s:I, s:O}", "incident",
			    (json_int_t)o->presence_incident, "viewers", viewers));
		}
		presence_json_viewer(viewers, o);
	}
	json_decref(by_id);
	if (ctl_push(c, msg_json(json_pack("{s:s, s:o}", "type", "presence_all", "incidents", list))))
		c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
}

static void
on_hello(struct hub_console *c, json_t *msg)
{
	struct hub *h = c->hub;
	json_t *ls = json_object_get(msg, "last_seq");
	if (ls && !json_is_integer(ls) && !json_is_null(ls)) {
		send_error(c, "invalid_field", "last_seq must be an integer or null");
		return;
	}
	/* What it wants to see: checked whole before anything changes. */
	struct hub_filter f;
	memset(&f, 0, sizeof f);
	if (read_list(c, msg, "agencies", f.agencies[0], HUB_FILTER_AGENCIES, sizeof f.agencies[0],
		&f.nagencies) ||
	    read_list(c, msg, "districts", f.districts[0], HUB_FILTER_DISTRICTS, sizeof f.districts[0],
		&f.ndistricts))
		return;
	json_t *user = json_object_get(msg, "user");
	const char *u = json_string_value(user);
	if (user && !json_is_null(user) && (u == NULL || strlen(u) == 0 || strlen(u) >= sizeof c->user)) {
		send_error(c, "invalid_field", "user must be a name of at most 63 bytes");
		return;
	}
	c->filter = f;
	c->filtered = f.nagencies > 0 || f.ndistricts > 0;
	impose_agency(c); /* a dispatcher asks in vain for other agencies */
	if (u && c->account[0] == '\0')
		snprintf(c->user, sizeof c->user, "%s", u);
	int64_t last = ls && json_is_integer(ls) ? json_integer_value(ls) : 0;
	if (c->busy) {
		send_error(c, "busy", "a resume is already in progress");
		return;
	}
	q_clear(c);
	db_query_free(c->page);
	c->page = NULL;
	const char *mode;
	if (last <= 0 || last > h->last_seq || h->last_seq - last > h->o.replay_max)
		mode = "snapshot";
	else
		mode = "resume";
	json_t *w = json_pack("{s:s, s:I, s:s, s:I}", "type", "welcome", "console", (json_int_t)c->id,
	    "mode", mode, "server_seq", (json_int_t)h->last_seq);
	ctl_push(c, msg_json(w));
	presence_all(c);
	log_debug("hub", "hello|console=%llu last_seq=%lld mode=%s", (unsigned long long)c->id,
	    (long long)last, mode);
	if (strcmp(mode, "snapshot") == 0) {
		request_snapshot(c);
	} else {
		start_from(c, last);
	}
}

/* Who is viewing or editing one incident, to every live console (not journaled). */
/*
 * Who has the incident open goes to the consoles that may see the incident
 * (its scope), like the incident's own events: a dispatcher does not learn
 * of another agency's incident, or who works on it, through presence.
 */
static void
presence_json_viewer(json_t *list, const struct hub_console *o)
{
	json_array_append_new(list, json_pack("{s:I, s:s, s:s}", "console", (json_int_t)o->id,
	    "user", o->user[0] ? o->user : o->peer, "state", o->presence_state));
}

static void
presence_broadcast(struct hub *h, int64_t incident, const char *scope)
{
	json_t *who = json_array();
	for (struct hub_console *o = h->consoles; o; o = o->next)
		if (o->wsi && o->presence_incident == incident)
			presence_json_viewer(who, o);
	json_t *f = json_pack("{s:s, s:I, s:o}", "type", "presence", "incident", (json_int_t)incident,
	    "viewers", who);
	size_t len;
	char *text = srv_json_dump(f, &len);
	json_decref(f);
	hub_broadcast(h, text, len, scope);
	free(text);
}

/* Move c's presence to incident (0: none) with state, whose scope is scope (stolen). */
static void
presence_set(struct hub_console *c, int64_t incident, const char *state, char *scope)
{
	int64_t before = c->presence_incident;
	char *before_scope = c->presence_scope;
	c->presence_incident = incident;
	c->presence_scope = scope;
	snprintf(c->presence_state, sizeof c->presence_state, "%s", incident ? state : "");
	if (before && before != incident)
		presence_broadcast(c->hub, before, before_scope);
	if (incident)
		presence_broadcast(c->hub, incident, scope);
	free(before_scope);
}

/* The store says what the announced incident concerns: check, then announce. */
static void
presence_scope_done(struct db_query *q)
{
	struct hub_console *c = q->udata;
	if (c->wsi && c->presence_asked == q->id) {
		c->presence_asked = 0;
		if (q->err) {
			send_error(c, q->err == SRV_E_NOT_FOUND ? "not_found" : "store_error",
			    q->err == SRV_E_NOT_FOUND ? "no such incident" : "the store could not answer");
		} else {
			char *scope = inc_scope_key(&q->inc);
			if (c->filtered && !hub_scope_visible(scope, &c->filter)) {
				send_error(c, "not_your_agency", "this incident does not concern your agency");
				free(scope);
			} else {
				presence_set(c, q->id, c->presence_asked_state, scope);
			}
		}
	}
	db_query_free(q);
	console_unref(c);
}

static void
on_presence(struct hub_console *c, json_t *msg)
{
	json_t *inc = json_object_get(msg, "incident");
	const char *state = json_string_value(json_object_get(msg, "state"));
	if (!json_is_integer(inc) || json_integer_value(inc) < 1 || state == NULL ||
	    (strcmp(state, "viewing") && strcmp(state, "editing") && strcmp(state, "left"))) {
		send_error(c, "invalid_field",
		    "presence needs incident (an id) and state (viewing, editing or left)");
		return;
	}
	int64_t id = json_integer_value(inc);
	if (strcmp(state, "left") == 0) {
		if (c->presence_asked == id)
			c->presence_asked = 0;
		if (c->presence_incident == id)
			presence_set(c, 0, "", NULL);
		return;
	}
	if (c->presence_incident == id) { /* the scope is known: only the state changes */
		snprintf(c->presence_state, sizeof c->presence_state, "%s", state);
		presence_broadcast(c->hub, id, c->presence_scope);
		return;
	}
	/* A new incident: what it concerns comes from the store (a read off the loop). */
	c->presence_asked = id;
	snprintf(c->presence_asked_state, sizeof c->presence_asked_state, "%s", state);
	struct db_query *q = db_query_new(DBQ_GET);
	q->id = id;
	q->udata = c;
	q->done = presence_scope_done;
	c->refs++;
	if (db_query_submit(c->hub->reader, q) != 0) {
		c->refs--;
		c->presence_asked = 0;
		db_query_free(q);
	}
}

static int
on_message(struct hub_console *c, const char *text, size_t len)
{
	/*
	 * A console sends a hello, pings and presence: a few a second. Beyond
	 * its rate a message is answered rate_limited and not acted on; a console
	 * that keeps on past a whole burst of refusals is closed.
	 */
	int retry;
	if (c->hub->o.msg_rate > 0 &&
	    srv_bucket_take(&c->bucket, c->hub->o.msg_rate, c->hub->o.msg_burst, &retry) != 0) {
		if (++c->over_rate > c->hub->o.msg_burst)
			return LWS_CLOSE_STATUS_POLICY_VIOLATION;
		send_error(c, "rate_limited", "too many messages; slow down");
		return 0;
	}
	c->over_rate = 0;
	if (srv_json_depth(text, len, SRV_JSON_MAX_DEPTH) > SRV_JSON_MAX_DEPTH) {
		send_error(c, "json_too_deep", "objects and arrays nest deeper than allowed");
		return 0;
	}
	json_error_t jerr;
	json_t *msg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (msg == NULL || !json_is_object(msg)) {
		send_error(c, "invalid_json", msg ? "a message must be a JSON object" : jerr.text);
		json_decref(msg);
		return 0;
	}
	const char *type = json_string_value(json_object_get(msg, "type"));
	if (type == NULL) {
		send_error(c, "missing_field", "type is required");
	} else if (strcmp(type, "hello") == 0) {
		on_hello(c, msg);
	} else if (strcmp(type, "ping") == 0) {
		json_t *id = json_object_get(msg, "id");
		json_t *p = json_pack("{s:s, s:I, s:O?}", "type", "pong", "server_seq",
		    (json_int_t)c->hub->last_seq, "id", id);
		if (ctl_push(c, msg_json(p)) != 0)
			c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
	} else if (strcmp(type, "presence") == 0) {
		on_presence(c, msg);
	} else if (c->hub->ext.prefix &&
	    strncmp(type, c->hub->ext.prefix, strlen(c->hub->ext.prefix)) == 0 &&
	    c->hub->ext.message(c->hub->ext.ctx, c, type, msg)) {
		/* handled by the extension */
	} else {
		send_error(c, "unknown_type", "known message types: hello, ping, presence");
	}
	json_decref(msg);
	return 0;
}

int
hub_console_receive(struct hub_console *c, const void *data, size_t len, int first, int final)
{
	if (first) {
		free(c->rx);
		c->rx = NULL;
		c->rx_len = 0;
	}
	if (c->rx_len + len > c->hub->o.max_message)
		return LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE;
	c->rx = xrealloc(c->rx, c->rx_len + len + 1);
	memcpy(c->rx + c->rx_len, data, len);
	c->rx_len += len;
	if (!final)
		return 0;
	if (!srv_utf8_valid(c->rx, c->rx_len))
		return LWS_CLOSE_STATUS_INVALID_PAYLOAD;
	int rc = on_message(c, c->rx, c->rx_len);
	free(c->rx);
	c->rx = NULL;
	c->rx_len = 0;
	return rc;
}

int
hub_check_sessions(struct hub *h, int (*valid)(void *, const char *, int64_t), void *ctx)
{
	int n = 0;
	for (struct hub_console *c = h->consoles; c; c = c->next)
		if (c->account[0] && c->close_code == 0 && !valid(ctx, c->account, c->session_expires)) {
			c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
			wake(c);
			n++;
		}
	return n;
}

int
hub_close_all(struct hub *h)
{
	int n = 0;
	for (struct hub_console *c = h->consoles; c; c = c->next) {
		c->close_code = LWS_CLOSE_STATUS_GOINGAWAY;
		wake(c);
		n++;
	}
	return n;
}
