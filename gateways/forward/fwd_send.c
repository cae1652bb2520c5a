/*
 * fwd_send.c - forwarding spooled reports to the centre.
 *
 * The sender keeps three bounded things in memory:
 *   - a page of spool names (at most LIST_MAX), listed from the spool folder
 *     in the thread pool, smallest sequence numbers first, starting at the
 *     cursor (everything below the cursor is in the window or done);
 *   - the window: at most cfg->inflight reports read into memory, in
 *     sequence order, each loading, ready, or being posted;
 *   - one lws client connection per report being posted.
 * So memory is bounded by inflight * max_body plus a page of names,
 * whatever the size of the spool.
 *
 * Outcomes of one post:
 *   200/201 (and other 2xx)   acknowledged: the file is deleted (unlink and
 *                             folder fsync in the pool; a crash before that
 *                             re-sends it, and the centre answers duplicate)
 *   permanent 4xx             moved to rejected/ with the centre's answer
 *   408, 429, 5xx, 401, 403,  transient: the report stays in the window and
 *   404 no_route, 405,        is posted again after a backoff with jitter
 *   no answer                 (backoff_min doubling to backoff_max; at least
 *                             Retry-After); while failing only one report is
 *                             posted at a time (a probe)
 *
 * Order: with inflight 1 (the default) reports reach the centre strictly in
 * the order they were spooled. With a larger window they are posted in that
 * order but may commit in another; a permanent refusal of a report posted
 * while older ones were still outstanding is not believed at once (an
 * update may have overtaken the report it updates): the report is posted
 * again, alone, once everything older is settled, and only a refusal then
 * moves it to rejected/.
 */
#include "fwd.h"
#include "srv_hpost.h"
#include "srv_log.h"
#include "srv_util.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIST_MAX 256
#define WINDOW_MAX 64
#define RESP_MAX 16384
#define RETRY_AFTER_MAX_S 300

enum item_state { IT_UNLOADED, IT_LOADING, IT_READY, IT_SENDING };

struct attempt;

struct item {
	uint64_t seq;
	char *name;
	char adapter[FWD_ADAPTER_MAX + 1];
	char ctype[FWD_CTYPE_MAX + 1];
	char *body;
	size_t len;
	int64_t mtime_ms;
	enum item_state state;
	int need_head;          /* refused while older reports were outstanding: retry at the head */
	int tries;              /* transient failures so far */
	uint64_t load_after;    /* monotonic ms: retry a failed read then */
	struct attempt *att;
};

/* One post of one report; lives until its connection is gone. */
struct attempt {
	struct srv_hpost h;     /* first: the post itself (body: the item's; NULL once finished) */
	struct fwd_send *s;
	struct item *item;      /* NULL once finished */
	char path[512];
	char ts[24];
	char sig[2 * 32 + 8];
	int was_head;
	int killing;
};

struct fwd_send {
	struct fwd *f;
	struct item *win[WINDOW_MAX];
	int nwin;
	char **names;           /* the current page of spool names */
	int nnames, next_name;
	uint64_t cursor;        /* the lowest sequence number not yet taken into the window */
	int listing;
	int maybe_more;         /* the spool may hold names at or above the cursor */
	int in_flight;
	int loading;
	int deleting;
	int fails;              /* consecutive transient failures */
	uint64_t fail_since_ms; /* wall clock of the first of them, for logs */
	uint64_t last_fail_ms;  /* monotonic */
	uint64_t resume_ms;     /* monotonic: no new post before this */
	uint64_t reminded_ms;   /* monotonic: the last "still unavailable" log */
	char addr[256];         /* the address posts go to */
	char addrs[4][64];      /* the centre name's addresses; the next is tried after a failure */
	int naddrs, cur_addr;
	int have_addr, resolving;
	uv_getaddrinfo_t gai;
	uv_timer_t pump_timer, tick;
	int timers_open;
	char last_error[256];
};

static void pump(struct fwd_send *s);

static uint64_t
mono_ms(void)
{
	return srv_mono_ns() / 1000000;
}

static void
pump_cb(uv_timer_t *t)
{
	pump(t->data);
}

/* Run pump on a later turn of the loop (never re-entered from a callback). */
static void
pump_soon(struct fwd_send *s, uint64_t delay_ms)
{
	if (s->f->stopping || !s->timers_open)
		return;
	uint64_t due = uv_now(s->f->loop) + delay_ms;
	if (uv_is_active((uv_handle_t *)&s->pump_timer) &&
	    uv_timer_get_due_in(&s->pump_timer) + uv_now(s->f->loop) <= due)
		return;
	uv_timer_start(&s->pump_timer, pump_cb, delay_ms, 0);
}

static void
item_free(struct item *it)
{
	if (it == NULL)
		return;
	free(it->name);
	free(it->body);
	free(it);
}

static void
win_remove(struct fwd_send *s, struct item *it)
{
	for (int i = 0; i < s->nwin; i++)
		if (s->win[i] == it) {
			memmove(&s->win[i], &s->win[i + 1], (size_t)(s->nwin - i - 1) * sizeof s->win[0]);
			s->nwin--;
			return;
		}
}

/* ---- jobs in the thread pool ---- */

enum job_kind { JOB_LIST, JOB_LOAD, JOB_DELETE, JOB_REJECT };

struct job {
	uv_work_t req;
	struct fwd_send *s;
	enum job_kind kind;
	int rc;
	char *cause;
	/* JOB_LIST */
	uint64_t from, below, gen;
	char **names;
	int n, more;
	/* JOB_LOAD */
	struct item *it;
	char *body;
	size_t len;
	int64_t mtime_ms;
	/* JOB_DELETE, JOB_REJECT */
	char *name;
	uint64_t seq;
	char *why;
	int status;
};

static void
job_work(uv_work_t *req)
{
	struct job *j = req->data;
	const char *dir = j->s->f->cfg->spool;
	switch (j->kind) {
	case JOB_LIST:
		j->rc = fwd_spool_list(dir, j->from, j->below, LIST_MAX, &j->names, &j->n, &j->more,
		    &j->cause);
		break;
	case JOB_LOAD:
		j->rc = fwd_spool_read(dir, j->it->name, (size_t)j->s->f->cfg->max_body, &j->body,
		    &j->len, &j->mtime_ms, &j->cause);
		break;
	case JOB_DELETE:
		j->rc = fwd_spool_remove(dir, j->name, &j->cause);
		break;
	case JOB_REJECT:
		j->rc = fwd_spool_reject(dir, j->name, j->why, strlen(j->why), &j->cause);
		break;
	}
}

static void job_done(uv_work_t *req, int status);

static struct job *
job_new(struct fwd_send *s, enum job_kind kind)
{
	struct job *j = xcalloc(1, sizeof *j);
	j->s = s;
	j->kind = kind;
	j->req.data = j;
	return j;
}

static void
job_start(struct job *j)
{
	int rc = uv_queue_work(j->s->f->loop, &j->req, job_work, job_done);
	if (rc != 0) {
		/* Cannot happen with a live loop; treat it as a failed job on a later turn. */
		log_error("forward", "cannot queue work|error=%s", uv_err_name(rc));
		abort();
	}
}

static void
start_list(struct fwd_send *s)
{
	struct job *j = job_new(s, JOB_LIST);
	j->from = s->cursor;
	j->below = fwd_seq_stable(s->f);
	j->gen = s->f->spool_gen;
	s->listing = 1;
	s->maybe_more = 0;
	job_start(j);
}

static void
start_load(struct fwd_send *s, struct item *it)
{
	struct job *j = job_new(s, JOB_LOAD);
	j->it = it;
	it->state = IT_LOADING;
	s->loading++;
	job_start(j);
}

static void
start_delete(struct fwd_send *s, struct item *it)
{
	struct job *j = job_new(s, JOB_DELETE);
	j->name = xstrdup(it->name);
	j->seq = it->seq;
	s->deleting++;
	job_start(j);
}

/*
 * Move a report to rejected/. why_json is the text of the .error file
 * (taken). The item leaves the window now.
 */
static void
start_reject(struct fwd_send *s, struct item *it, int status, char *why_json)
{
	struct job *j = job_new(s, JOB_REJECT);
	j->name = xstrdup(it->name);
	j->seq = it->seq;
	j->why = why_json;
	j->status = status;
	s->deleting++;
	win_remove(s, it);
	item_free(it);
	job_start(j);
}

/* The .error file: when, the HTTP status (0: refused by the forwarder), and the reason. */
static char *
reject_text(int status, const char *body, size_t len, const char *own_reason)
{
	char when[40];
	srv_fmt_time(srv_now_us(), 0, when, sizeof when);
	json_t *o = json_pack("{s:s, s:i}", "rejected_at", when, "status", status);
	if (own_reason) {
		json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", "forwarder_refused",
		    "detail", own_reason));
	} else {
		json_t *centre = json_loadb(body ? body : "", len, 0, NULL);
		if (centre == NULL)
			centre = json_stringn(body ? body : "", len);
		if (centre == NULL)
			centre = json_string("(an answer that is not UTF-8)");
		json_object_set_new(o, "centre_answer", centre);
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char *out = xasprintf("%s\n", s);
	free(s);
	return out;
}

static void
list_done(struct fwd_send *s, struct job *j)
{
	s->listing = 0;
	if (j->rc != 0) {
		log_error("forward", "cannot list the spool|detail=\"%s\"", j->cause);
		s->maybe_more = 1;
		pump_soon(s, 1000);
		return;
	}
	fwd_names_free(s->names, s->nnames);
	s->names = j->names;
	s->nnames = j->n;
	s->next_name = 0;
	j->names = NULL;
	/* More may be there: the page was full, or something landed while listing. */
	s->maybe_more = s->maybe_more || j->more || s->f->spool_gen != j->gen;
	log_debug("forward", "listed the spool|from=%llu below=%llu names=%d more=%d",
	    (unsigned long long)j->from, (unsigned long long)j->below, j->n, s->maybe_more);
	pump_soon(s, 0);
}

static void
load_done(struct fwd_send *s, struct job *j)
{
	struct item *it = j->it;
	s->loading--;
	if (j->rc == 0) {
		it->body = j->body;
		it->len = j->len;
		it->mtime_ms = j->mtime_ms;
		it->state = IT_READY;
		j->body = NULL;
	} else if (j->rc == -ENOENT) {
		/* Someone removed it by hand: nothing to send. */
		log_warn("forward", "spooled report vanished before it was sent|seq=%llu name=%s",
		    (unsigned long long)it->seq, it->name);
		s->f->spooled--;
		win_remove(s, it);
		item_free(it);
	} else if (j->rc == -EFBIG) {
		log_error("forward", "spooled report too large; rejected|seq=%llu name=%s detail=\"%s\"",
		    (unsigned long long)it->seq, it->name, j->cause);
		start_reject(s, it, 0, reject_text(0, NULL, 0, j->cause));
	} else {
		log_error("forward", "cannot read a spooled report; retrying in 5 s|seq=%llu "
		    "detail=\"%s\"", (unsigned long long)it->seq, j->cause);
		it->state = IT_UNLOADED;
		it->load_after = mono_ms() + 5000;
		pump_soon(s, 5000);
	}
	pump_soon(s, 0);
}

static void
job_done(uv_work_t *req, int status)
{
	struct job *j = req->data;
	struct fwd_send *s = j->s;
	switch (j->kind) {
	case JOB_LIST:
		list_done(s, j);
		break;
	case JOB_LOAD:
		load_done(s, j);
		break;
	case JOB_DELETE:
		s->deleting--;
		if (j->rc != 0)
			log_error("forward", "cannot delete a forwarded report (it will be sent again "
			    "after a restart; the centre answers it as a duplicate)|seq=%llu detail=\"%s\"",
			    (unsigned long long)j->seq, j->cause);
		else
			s->f->spooled--;
		break;
	case JOB_REJECT:
		s->deleting--;
		if (j->rc != 0) {
			log_error("forward", "cannot move a rejected report to rejected/|seq=%llu "
			    "detail=\"%s\"", (unsigned long long)j->seq, j->cause);
		} else {
			s->f->spooled--;
			s->f->rejected++;
		}
		break;
	}
	if (j->names)
		fwd_names_free(j->names, j->n);
	free(j->body);
	free(j->name);
	free(j->why);
	free(j->cause);
	free(j);
}

/* ---- posting ---- */

static void
attempt_release(struct srv_hpost *h)
{
	srv_hpost_clear(h);
	free(h);
}

/* The centre's error code in an answer, into code (may be empty). */
static void
answer_code(const struct attempt *a, char *code, size_t len, int *duplicate)
{
	code[0] = '\0';
	*duplicate = 0;
	json_t *o = a->h.resp ? json_loadb(a->h.resp, a->h.resp_len, 0, NULL) : NULL;
	if (o == NULL)
		return;
	const char *c = json_string_value(json_object_get(json_object_get(o, "error"), "code"));
	if (c)
		snprintf(code, len, "%s", c);
	*duplicate = json_is_true(json_object_get(o, "duplicate"));
	json_decref(o);
}

/* Quote at most max bytes of text for a logfmt value (allocated). */
static char *
log_quote(const char *s, size_t n, size_t max)
{
	if (s == NULL)
		n = 0;
	if (n > max)
		n = max;
	char *out = xmalloc(n * 4 + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			o += sprintf(o, "\\x%02x", c);
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

enum outcome { OUT_DONE, OUT_RETRY, OUT_REFUSED };

static enum outcome
classify(int status, const char *code)
{
	if (status >= 200 && status < 300)
		return OUT_DONE;
	if (status < 400 || status == 408 || status == 429 || status >= 500)
		return OUT_RETRY; /* no answer (0), 1xx/3xx, timeouts, rate limits, overload */
	/*
	 * A wrong token, a wrong URL or a centre that does not know this
	 * gateway would refuse every report alike: that is a configuration to
	 * fix, not a report to drop. Keep them and retry (logged as errors).
	 */
	if (status == 401 || status == 403 || status == 405)
		return OUT_RETRY;
	if (status == 404 && strcmp(code, "unknown_adapter") != 0 && strcmp(code, "not_found") != 0)
		return OUT_RETRY; /* no_route, or a proxy's 404: the URL is wrong */
	return OUT_REFUSED;
}

static uint64_t
backoff_ms(const struct fwd_send *s)
{
	const struct fwd_config *c = s->f->cfg;
	uint64_t d = (uint64_t)c->backoff_min_ms;
	for (int i = 1; i < s->fails && d < (uint64_t)c->backoff_max_ms; i++)
		d *= 2;
	if (d > (uint64_t)c->backoff_max_ms)
		d = (uint64_t)c->backoff_max_ms;
	/* Jitter: half fixed, half random, so forwarders restarted together spread out. */
	return d / 2 + randombytes_uniform((uint32_t)(d / 2 + 1));
}

static void
note_error(struct fwd_send *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
note_error(struct fwd_send *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->last_error, sizeof s->last_error, fmt, ap);
	va_end(ap);
}

/*
 * One post is over (answered, or the connection failed). Called once per
 * attempt, from an lws callback or after a failed connect; applies the
 * outcome to the report and schedules the next pump.
 */
static void
attempt_finish(struct attempt *a)
{
	struct fwd_send *s = a->s;
	struct fwd *f = s->f;
	struct item *it = a->item;
	a->item = NULL;
	a->h.body = NULL;
	s->in_flight--;
	if (it == NULL)
		return;
	it->att = NULL;
	it->state = IT_READY;
	if (f->stopping)
		return; /* stays in the spool; sent again after the restart */

	char code[64];
	int duplicate;
	answer_code(a, code, sizeof code, &duplicate);
	enum outcome out = classify(a->h.status, code);
	uint64_t now = mono_ms();
	if (out != OUT_RETRY && s->fails) {
		log_info("forward", "centre answering again|failures=%d down_s=%.1f last_error=\"%s\"",
		    s->fails, (double)(srv_now_ms() - (int64_t)s->fail_since_ms) / 1000.0,
		    s->last_error);
		s->fails = 0;
		s->resume_ms = 0;
	}
	switch (out) {
	case OUT_DONE:
		f->forwarded++;
		if (duplicate)
			f->duplicates++;
		log_debug("forward", "forwarded|seq=%llu status=%d duplicate=%d tries=%d",
		    (unsigned long long)it->seq, a->h.status, duplicate, it->tries);
		win_remove(s, it);
		start_delete(s, it);
		item_free(it);
		break;
	case OUT_REFUSED:
		if (!a->was_head) {
			log_info("forward", "refused while older reports were outstanding; will retry it "
			    "alone|seq=%llu status=%d code=%s", (unsigned long long)it->seq, a->h.status, code);
			it->need_head = 1;
			break;
		}
		char *answer = log_quote(a->h.resp, a->h.resp_len, 500);
		log_error("forward", "report rejected by the centre; moved to rejected/|seq=%llu "
		    "name=%s status=%d code=%s answer=\"%s\"", (unsigned long long)it->seq, it->name,
		    a->h.status, code, answer);
		free(answer);
		start_reject(s, it, a->h.status, reject_text(a->h.status, a->h.resp, a->h.resp_len, NULL));
		break;
	case OUT_RETRY: {
		it->tries++;
		f->failures++;
		if (a->h.status)
			note_error(s, "HTTP %d %s", a->h.status, code);
		else
			note_error(s, "%s", a->h.err[0] ? a->h.err : "connection failed");
		/* Posts already under way when the last failure came add nothing new. */
		if (s->fails == 0 || a->h.started_ms >= s->last_fail_ms) {
			if (s->fails == 0)
				s->fail_since_ms = (uint64_t)srv_now_ms();
			s->fails++;
		}
		s->last_fail_ms = now;
		uint64_t delay = backoff_ms(s);
		long ra = a->h.retry_after[0] ? strtol(a->h.retry_after, NULL, 10) : 0;
		if (ra > RETRY_AFTER_MAX_S)
			ra = RETRY_AFTER_MAX_S;
		if (ra > 0 && (uint64_t)ra * 1000 > delay)
			delay = (uint64_t)ra * 1000;
		if (now + delay > s->resume_ms)
			s->resume_ms = now + delay;
		int config = a->h.status == 401 || a->h.status == 403 || a->h.status == 404 ||
		    a->h.status == 405 || (a->h.status > 0 && a->h.status < 200) ||
		    (a->h.status >= 300 && a->h.status < 400);
		if (config)
			log_error("forward", "the centre refuses the forwarder (check --centre, --token, "
			    "--hmac-secret); reports stay spooled|seq=%llu status=%d code=%s retry_ms=%llu",
			    (unsigned long long)it->seq, a->h.status, code, (unsigned long long)delay);
		else if (s->fails == 1)
			log_warn("forward", "centre unavailable; reports stay spooled and are retried|"
			    "seq=%llu error=\"%s\" retry_ms=%llu", (unsigned long long)it->seq,
			    s->last_error, (unsigned long long)delay);
		else
			log_debug("forward", "retry|seq=%llu failures=%d error=\"%s\" retry_ms=%llu",
			    (unsigned long long)it->seq, s->fails, s->last_error,
			    (unsigned long long)delay);
		if (!s->f->centre.numeric && a->h.status == 0) {
			/* Try the name's next address; after the last, resolve it again. */
			if (++s->cur_addr < s->naddrs)
				snprintf(s->addr, sizeof s->addr, "%s", s->addrs[s->cur_addr]);
			else
				s->have_addr = 0;
		}
		break;
	}
	}
	pump_soon(s, 0);
}

static void
sign(struct attempt *a, const struct item *it, const char *secret)
{
	snprintf(a->ts, sizeof a->ts, "%lld", (long long)(srv_now_ms() / 1000));
	a->sig[0] = '\0';
	if (secret == NULL)
		return;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)a->ts, strlen(a->ts));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)it->body, it->len);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(a->sig, "sha256=", 7);
	sodium_bin2hex(a->sig + 7, sizeof a->sig - 7, mac, sizeof mac);
}

static void
attempt_finished(struct srv_hpost *h)
{
	attempt_finish((struct attempt *)h);
}

static int
attempt_headers(struct srv_hpost *h, struct lws *wsi, unsigned char **p, unsigned char *end)
{
	struct attempt *a = (struct attempt *)h;
	const char *token = a->s->f->cfg->token;
	if (srv_hpost_header(wsi, "user-agent:", "liandong-forward/" LIANDONG_VERSION, p, end))
		return -1;
	if (token) {
		char *v = xasprintf("Bearer %s", token);
		int bad = srv_hpost_header(wsi, "authorization:", v, p, end);
		free(v);
		if (bad)
			return -1;
	}
	if (a->sig[0] && (srv_hpost_header(wsi, "x-liandong-timestamp:", a->ts, p, end) ||
			     srv_hpost_header(wsi, "x-liandong-signature:", a->sig, p, end)))
		return -1;
	return 0;
}

static const struct srv_hpost_ops attempt_ops = { attempt_headers, attempt_finished,
	attempt_release };

static void
start_attempt(struct fwd_send *s, struct item *it, int was_head)
{
	struct fwd *f = s->f;
	struct attempt *a = xcalloc(1, sizeof *a);
	a->h.ops = &attempt_ops;
	a->h.body = it->body;
	a->h.len = it->len;
	a->h.content_type = it->ctype;
	a->h.peer = "the centre";
	a->h.resp_max = RESP_MAX;
	a->h.timeout_ms = (uint64_t)f->cfg->timeout_s * 1000;
	a->s = s;
	a->item = it;
	a->was_head = was_head;
	snprintf(a->path, sizeof a->path, "%s/api/v1/intake/%s", f->centre.prefix, it->adapter);
	sign(a, it, f->cfg->hmac_secret);
	it->state = IT_SENDING;
	it->att = a;
	s->in_flight++;
	f->attempts++;

	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = f->lws;
	i.address = s->addr;
	i.port = f->centre.port;
	i.ssl_connection = (f->centre.tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
	i.path = a->path;
	i.host = f->centre.host_header;
	i.method = "POST";
	i.protocol = "fwd-centre";
	i.local_protocol_name = "fwd-centre";
	i.alpn = "http/1.1";
	srv_hpost_start(&a->h, &i);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct fwd_send *s = req->data;
	s->resolving = 0;
	s->naddrs = 0;
	for (struct addrinfo *ai = status == 0 ? res : NULL; ai && s->naddrs < 4; ai = ai->ai_next) {
		char *out = s->addrs[s->naddrs];
		if (ai->ai_family == AF_INET6)
			uv_ip6_name((struct sockaddr_in6 *)ai->ai_addr, out, sizeof s->addrs[0]);
		else if (ai->ai_family == AF_INET)
			uv_ip4_name((struct sockaddr_in *)ai->ai_addr, out, sizeof s->addrs[0]);
		else
			continue;
		int dup = 0;
		for (int k = 0; k < s->naddrs; k++)
			dup |= strcmp(s->addrs[k], out) == 0;
		if (!dup)
			s->naddrs++;
	}
	if (s->naddrs) {
		s->cur_addr = 0;
		snprintf(s->addr, sizeof s->addr, "%s", s->addrs[0]);
		s->have_addr = 1;
		log_debug("forward", "resolved the centre|host=%s addresses=%d first=%s",
		    s->f->centre.host, s->naddrs, s->addr);
	} else if (!s->f->stopping) {
		note_error(s, "cannot resolve %s: %s", s->f->centre.host,
		    status ? uv_strerror(status) : "no IPv4 or IPv6 address");
		if (s->fails++ == 0)
			log_warn("forward", "cannot resolve the centre's name; retrying|host=%s error=%s",
			    s->f->centre.host, status ? uv_err_name(status) : "no_address");
		s->resume_ms = mono_ms() + backoff_ms(s);
	}
	if (res)
		uv_freeaddrinfo(res);
	pump_soon(s, 0);
}

static void
resolve(struct fwd_send *s)
{
	if (s->resolving)
		return;
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	s->gai.data = s;
	char port[16];
	snprintf(port, sizeof port, "%d", s->f->centre.port);
	if (uv_getaddrinfo(s->f->loop, &s->gai, on_resolved, s->f->centre.host, port, &hints) == 0)
		s->resolving = 1;
}

/*
 * The sender's one step, run on the loop whenever something changed: list
 * the spool when the page of names is used up, fill the window, read
 * reports, and post the ready ones while the window allows.
 */
static void
pump(struct fwd_send *s)
{
	struct fwd *f = s->f;
	int w = f->cfg->inflight;
	if (f->stopping)
		return;
	while (s->nwin < w && s->next_name < s->nnames) {
		struct item *it = xcalloc(1, sizeof *it);
		it->name = s->names[s->next_name];
		s->names[s->next_name++] = NULL;
		if (fwd_spool_parse(it->name, &it->seq, it->adapter, it->ctype) != 0) {
			item_free(it);
			continue;
		}
		s->cursor = it->seq + 1;
		s->win[s->nwin++] = it;
	}
	if (s->next_name == s->nnames && s->nwin < w && s->maybe_more && !s->listing)
		start_list(s);

	uint64_t now = mono_ms();
	for (int i = 0; i < s->nwin; i++)
		if (s->win[i]->state == IT_UNLOADED && s->win[i]->load_after <= now)
			start_load(s, s->win[i]);

	if (now < s->resume_ms) {
		pump_soon(s, s->resume_ms - now);
		return;
	}
	if (!s->have_addr) {
		resolve(s);
		return;
	}
	int limit = s->fails ? 1 : w;
	for (int i = 0; i < s->nwin && s->in_flight < limit; i++) {
		struct item *it = s->win[i];
		if (it->state != IT_READY || (it->need_head && i != 0))
			continue;
		start_attempt(s, it, i == 0);
	}
}

/* Once a second: cut posts that take too long; remind the log of a long outage. */
static void
tick(uv_timer_t *t)
{
	struct fwd_send *s = t->data;
	uint64_t now = mono_ms(), limit = (uint64_t)s->f->cfg->timeout_s * 1000;
	if (s->fails == 0) {
		s->reminded_ms = now;
	} else if (now - s->reminded_ms >= 60000) {
		s->reminded_ms = now;
		log_warn("forward", "centre still unavailable; reports stay spooled|down_s=%lld "
		    "spooled=%lld failures=%d last_error=\"%s\"",
		    (long long)((srv_now_ms() - (int64_t)s->fail_since_ms) / 1000),
		    (long long)s->f->spooled, s->fails, s->last_error);
	}
	for (int i = 0; i < s->nwin; i++) {
		struct attempt *a = s->win[i]->att;
		if (a && a->h.wsi && !a->killing && now - a->h.started_ms > limit) {
			a->killing = 1;
			snprintf(a->h.err, sizeof a->h.err, "no answer within %d s", s->f->cfg->timeout_s);
			lws_set_timeout(a->h.wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		}
	}
}


int
fwd_send_init(struct fwd *f, char **cause)
{
	struct fwd_send *s = xcalloc(1, sizeof *s);
	s->f = f;
	s->maybe_more = 1;
	if (f->cfg->inflight < 1 || f->cfg->inflight > WINDOW_MAX) {
		*cause = xasprintf("--inflight must be 1..%d", WINDOW_MAX);
		free(s);
		return -EINVAL;
	}
	if (f->centre.numeric) {
		snprintf(s->addr, sizeof s->addr, "%s", f->centre.host);
		s->have_addr = 1;
	}
	uv_timer_init(f->loop, &s->pump_timer);
	uv_timer_init(f->loop, &s->tick);
	s->pump_timer.data = s;
	s->tick.data = s;
	s->timers_open = 1;
	uv_timer_start(&s->tick, tick, 1000, 1000);
	f->send = s;
	return 0;
}

void
fwd_send_wake(struct fwd *f)
{
	struct fwd_send *s = f->send;
	s->maybe_more = 1;
	pump_soon(s, 0);
}

void
fwd_send_stop(struct fwd *f)
{
	struct fwd_send *s = f->send;
	if (s == NULL || !s->timers_open)
		return;
	s->timers_open = 0;
	uv_close((uv_handle_t *)&s->pump_timer, NULL);
	uv_close((uv_handle_t *)&s->tick, NULL);
	if (s->resolving)
		uv_cancel((uv_req_t *)&s->gai);
}

/* After the loop ended (every connection and job is gone). */
void
fwd_send_free(struct fwd *f)
{
	struct fwd_send *s = f->send;
	if (s == NULL)
		return;
	for (int i = 0; i < s->nwin; i++)
		item_free(s->win[i]);
	fwd_names_free(s->names, s->nnames);
	free(s);
	f->send = NULL;
}

void
fwd_send_status(struct fwd *f, void *json_obj)
{
	struct fwd_send *s = f->send;
	json_t *o = json_obj;
	int retrying = 0;
	int64_t oldest = -1, now = srv_now_ms();
	for (int i = 0; i < s->nwin; i++) {
		if (s->win[i]->tries)
			retrying++;
		if (s->win[i]->mtime_ms && (oldest < 0 || s->win[i]->mtime_ms < oldest))
			oldest = s->win[i]->mtime_ms;
	}
	uint64_t mnow = mono_ms();
	json_object_set_new(o, "in_flight", json_integer(s->in_flight));
	json_object_set_new(o, "window", json_integer(s->nwin));
	json_object_set_new(o, "retrying", json_integer(retrying));
	json_object_set_new(o, "consecutive_failures", json_integer(s->fails));
	json_object_set_new(o, "next_retry_ms", json_integer(s->resume_ms > mnow
	    ? (json_int_t)(s->resume_ms - mnow) : 0));
	json_object_set_new(o, "oldest_age_ms", f->spooled == 0 ? json_integer(0)
	    : oldest < 0 ? json_null() : json_integer(now > oldest ? now - oldest : 0));
	json_object_set_new(o, "centre_state", json_string(s->fails ? "unavailable" : "ok"));
	json_object_set_new(o, "last_error", s->last_error[0] ? json_string(s->last_error)
	    : json_null());
}
