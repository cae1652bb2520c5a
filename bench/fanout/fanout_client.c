/*
 * fanout_client.c - fan-out latency bench: N WebSocket consoles on one
 * libwebsockets context on a libuv loop, one small change every interval,
 * latency from the change to the LAST console that received it.
 *
 * --target liandong: the consoles speak liandong.v1 on /ws (hello with
 * last_seq 0, then snapshot, then live events). A producer thread PATCHes one
 * incident over a blocking HTTP/1.1 keep-alive socket; each response gives
 * the change's seq and committed_at (when the SQLite COMMIT returned). The
 * latency of seq N is the receive time of the last console that got the
 * event frame with seq N minus committed_at(N).
 *
 * --target nats: the consoles are NATS WebSocket clients (CONNECT, SUB bench,
 * PING; ready on the PONG). A producer thread publishes over a plain TCP
 * client connection one message per interval, padded to --payload-bytes,
 * with its CLOCK_REALTIME send time (us) in the payload. The latency is the
 * receive time of the last subscriber minus that send time.
 *
 * Both sides are on the same machine, so CLOCK_REALTIME stamps taken in the
 * server (committed_at) and here are comparable.
 *
 * Threads: the main thread runs the lws loop and owns every per-console and
 * per-message receive counter. The producer thread writes only send_us[] and
 * the atomics; the main thread reads send_us[] after joining it.
 */
#include <libwebsockets.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

enum target { T_LIANDONG, T_NATS };

enum conn_state { CS_IDLE, CS_CONNECTING, CS_OPEN, CS_READY, CS_FAILED };

/* One console. buf reassembles a WebSocket message (liandong) or holds the
 * unparsed tail of the NATS protocol stream (nats). */
struct conn {
	struct lws *wsi;
	int idx;
	enum conn_state state;
	int tries;
	int greeted;   /* hello / CONNECT+SUB+PING written */
	int pongs_due; /* NATS PINGs still to answer */
	int64_t last;  /* last event seq (liandong) or message index (nats) seen */
	char *buf;
	size_t len, cap;
};

struct bench {
	enum target target;
	const char *host;
	int clients, interval_ms, count, port, nats_port, incident, payload_bytes, drain_ms;
	int verbose;

	struct lws_context *ctx;
	struct conn *conns;
	lws_sorted_usec_list_t sul;
	int next_connect; /* index of the next console to connect */
	int *retry;       /* consoles to connect again, a stack */
	int retry_n;
	int in_flight, ready, failed, closed_live;
	int64_t ready_at_ms, connect_started_ms, done_at_ms;

	int64_t base_seq; /* liandong: the snapshot seq every console got */
	int base_set, snap_mismatch;

	/* Per message, index 0..count-1. */
	int64_t *send_us;    /* producer: committed_at (liandong) or publish time (nats) */
	int64_t *payload_us; /* nats: the send time read back from the payload */
	int64_t *first_us, *last_us;
	int32_t *nrecv;

	uint64_t deliveries, resyncs, gaps, dups, unexpected, proto_errors;
	uint64_t frame_bytes_sum, frame_n;

	pthread_t producer;
	int producer_started;
	atomic_int sent;          /* messages the producer got acknowledged */
	atomic_int producer_done; /* 1 ok, -1 failed */
	int stop;
};

static struct bench B;

static int64_t
now_us(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
mono_ms(void)
{
	return now_us(CLOCK_MONOTONIC) / 1000;
}

static void
buf_append(struct conn *c, const void *p, size_t n)
{
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 1024;
		while (c->len + n + 1 > cap)
			cap *= 2;
		c->buf = realloc(c->buf, cap);
		if (c->buf == NULL) {
			fprintf(stderr, "out of memory\n");
			abort();
		}
		c->cap = cap;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

/* Find needle in the first n bytes of hay. */
static const char *
find(const char *hay, size_t n, const char *needle)
{
	return memmem(hay, n, needle, strlen(needle));
}

/* The integer after the first `"key":` in p[0..n), or def. */
static int64_t
json_int(const char *p, size_t n, const char *key, int64_t def)
{
	char pat[64];
	snprintf(pat, sizeof pat, "\"%s\":", key);
	const char *s = find(p, n, pat);
	if (s == NULL)
		return def;
	return strtoll(s + strlen(pat), NULL, 10);
}

/* A console got message idx at time t (CLOCK_REALTIME us). */
static void
record(int64_t idx, int64_t t)
{
	if (B.nrecv[idx]++ == 0 || t < B.first_us[idx])
		B.first_us[idx] = t;
	if (t > B.last_us[idx])
		B.last_us[idx] = t;
	B.deliveries++;
}

static void
conn_ready(struct conn *c)
{
	if (c->state == CS_READY)
		return;
	c->state = CS_READY;
	B.in_flight--;
	if (++B.ready == B.clients)
		B.ready_at_ms = mono_ms();
}

/* ---- liandong.v1 ---- */

/* One whole WebSocket message from a liandong console, received at t. */
static void
ld_message(struct conn *c, const char *m, size_t n, int64_t t)
{
	const char *ty = find(m, n < 48 ? n : 48, "\"type\":\"");
	if (ty == NULL) {
		B.proto_errors++;
		return;
	}
	ty += 8;
	if (strncmp(ty, "event\"", 6) == 0) {
		int64_t seq = json_int(m, n, "seq", -1);
		if (seq <= c->last) {
			B.dups++;
			return;
		}
		if (seq != c->last + 1)
			B.gaps++;
		c->last = seq;
		B.frame_bytes_sum += n;
		B.frame_n++;
		int64_t idx = seq - B.base_seq - 1;
		if (!B.base_set || idx < 0 || idx >= B.count) {
			B.unexpected++;
			return;
		}
		record(idx, t);
	} else if (strncmp(ty, "snapshot\"", 9) == 0) {
		int64_t seq = json_int(m, n, "seq", -1);
		c->last = seq;
		if (!B.base_set) {
			B.base_seq = seq;
			B.base_set = 1;
		} else if (seq != B.base_seq) {
			B.snap_mismatch++;
		}
		conn_ready(c);
	} else if (strncmp(ty, "resync\"", 7) == 0) {
		B.resyncs++;
		if (B.verbose)
			fprintf(stderr, "console %d: %.*s\n", c->idx, (int)n, m);
	} else if (strncmp(ty, "error\"", 6) == 0) {
		B.proto_errors++;
		fprintf(stderr, "console %d: %.*s\n", c->idx, (int)n, m);
	}
	/* welcome, pong: nothing to do */
}

/* ---- NATS over WebSocket ---- */

/* A MSG payload for a subscriber, received at t: "<index> <send_us> xxx...". */
static void
nats_msg(struct conn *c, const char *p, size_t n, int64_t t)
{
	char *end;
	int64_t idx = strtoll(p, &end, 10);
	int64_t ts = strtoll(end, NULL, 10);
	if (idx <= c->last) {
		B.dups++;
		return;
	}
	if (idx != c->last + 1)
		B.gaps++;
	c->last = idx;
	B.frame_bytes_sum += n;
	B.frame_n++;
	if (idx < 0 || idx >= B.count) {
		B.unexpected++;
		return;
	}
	B.payload_us[idx] = ts;
	record(idx, t);
}

/* Parse whatever complete protocol lines the stream buffer holds. */
static void
nats_parse(struct conn *c, int64_t t)
{
	size_t pos = 0;
	for (;;) {
		char *b = c->buf + pos;
		size_t avail = c->len - pos;
		const char *eol = find(b, avail, "\r\n");
		if (eol == NULL)
			break;
		size_t ll = (size_t)(eol - b);
		if (ll >= 4 && memcmp(b, "MSG ", 4) == 0) {
			/* MSG <subject> <sid> [reply-to] <#bytes> */
			const char *sp = eol;
			while (sp > b && sp[-1] != ' ')
				sp--;
			size_t sz = (size_t)strtoul(sp, NULL, 10);
			if (ll + 2 + sz + 2 > avail)
				break; /* payload not all here yet */
			nats_msg(c, eol + 2, sz, t);
			pos += ll + 2 + sz + 2;
			continue;
		}
		if (ll == 4 && memcmp(b, "PING", 4) == 0) {
			c->pongs_due++;
			lws_callback_on_writable(c->wsi);
		} else if (ll == 4 && memcmp(b, "PONG", 4) == 0) {
			conn_ready(c);
		} else if (ll >= 4 && memcmp(b, "-ERR", 4) == 0) {
			B.proto_errors++;
			fprintf(stderr, "nats client %d: %.*s\n", c->idx, (int)ll, b);
		}
		/* INFO, +OK: nothing to do */
		pos += ll + 2;
	}
	if (pos) {
		memmove(c->buf, c->buf + pos, c->len - pos);
		c->len -= pos;
	}
}

/* ---- lws ---- */

static int
conn_write(struct lws *wsi, const char *text, enum lws_write_protocol how)
{
	unsigned char frame[LWS_PRE + 256];
	size_t n = strlen(text);
	memcpy(frame + LWS_PRE, text, n);
	return lws_write(wsi, frame + LWS_PRE, n, how) < (int)n ? -1 : 0;
}

static int
callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct conn *c = user;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		c->state = CS_OPEN;
		lws_callback_on_writable(wsi);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (!c->greeted) {
			c->greeted = 1;
			if (B.target == T_LIANDONG)
				return conn_write(wsi, "{\"type\":\"hello\",\"last_seq\":0}", LWS_WRITE_TEXT);
			return conn_write(wsi,
			    "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB bench 1\r\nPING\r\n",
			    LWS_WRITE_BINARY);
		}
		if (c->pongs_due) {
			c->pongs_due--;
			if (c->pongs_due)
				lws_callback_on_writable(wsi);
			return conn_write(wsi, "PONG\r\n", LWS_WRITE_BINARY);
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE: {
		int64_t t = now_us(CLOCK_REALTIME);
		if (B.target == T_NATS) {
			buf_append(c, in, len);
			nats_parse(c, t);
			break;
		}
		int final = lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0;
		if (final && c->len == 0) {
			ld_message(c, in, len, t);
			break;
		}
		buf_append(c, in, len);
		if (final) {
			ld_message(c, c->buf, c->len, t);
			c->len = 0;
		}
		break;
	}
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (c == NULL)
			break;
		if (B.verbose)
			fprintf(stderr, "console %d: connection error: %s\n", c->idx,
			    in ? (const char *)in : "?");
		c->wsi = NULL;
		if (c->state == CS_READY) {
			B.closed_live++;
		} else {
			B.in_flight--;
			c->state = CS_IDLE;
			if (++c->tries < 5)
				B.retry[B.retry_n++] = c->idx;
			else {
				c->state = CS_FAILED;
				B.failed++;
			}
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (c == NULL)
			break;
		c->wsi = NULL;
		if (c->state == CS_READY) {
			if (!B.stop)
				B.closed_live++;
		} else if (c->state != CS_FAILED && c->state != CS_IDLE) {
			B.in_flight--;
			c->state = CS_FAILED;
			B.failed++;
		}
		break;
	default:
		break;
	}
	return 0;
}

static const struct lws_protocols protocols[] = {
	{ .name = "fanout", .callback = callback, .rx_buffer_size = 8192 },
	{ 0 }
};

static void
conn_start(struct conn *c)
{
	struct lws_client_connect_info i;
	memset(&i, 0, sizeof i);
	i.context = B.ctx;
	i.address = B.host;
	i.port = B.port;
	i.host = B.host;
	i.origin = B.host;
	i.path = B.target == T_LIANDONG ? "/ws" : "/";
	i.protocol = B.target == T_LIANDONG ? "liandong.v1" : NULL;
	i.local_protocol_name = "fanout";
	i.ietf_version_or_minus_one = -1;
	i.userdata = c;
	i.pwsi = &c->wsi;
	c->state = CS_CONNECTING;
	c->greeted = 0;
	c->len = 0;
	B.in_flight++;
	if (lws_client_connect_via_info(&i) == NULL && c->state == CS_CONNECTING) {
		/* Failed synchronously without a CONNECTION_ERROR callback. */
		B.in_flight--;
		c->state = CS_IDLE;
		if (++c->tries < 5)
			B.retry[B.retry_n++] = c->idx;
		else {
			c->state = CS_FAILED;
			B.failed++;
		}
	}
}

static void *producer_main(void *arg);

/* Every 2 ms on the loop: open more consoles, start the producer once all are
 * ready, and decide when the run is over. */
static void
tick(lws_sorted_usec_list_t *sul)
{
	int64_t now = mono_ms();
	/* Ramp up: at most 64 handshakes in flight. */
	while (B.in_flight < 64 && (B.retry_n || B.next_connect < B.clients)) {
		int idx = B.retry_n ? B.retry[--B.retry_n] : B.next_connect++;
		conn_start(&B.conns[idx]);
	}
	if (!B.producer_started) {
		if (B.failed) {
			fprintf(stderr, "fanout: %d consoles could not connect\n", B.failed);
			B.stop = 1;
		} else if (B.snap_mismatch) {
			fprintf(stderr, "fanout: consoles got different snapshot seqs; "
			    "is something else writing to the server?\n");
			B.stop = 1;
		} else if (B.ready == B.clients && now - B.ready_at_ms >= 500) {
			fprintf(stderr, "fanout: %d consoles ready in %.1f s; producing %d messages\n",
			    B.clients, (double)(B.ready_at_ms - B.connect_started_ms) / 1000, B.count);
			if (pthread_create(&B.producer, NULL, producer_main, NULL)) {
				fprintf(stderr, "fanout: pthread_create failed\n");
				B.stop = 1;
			}
			B.producer_started = 1;
		} else if (now - B.connect_started_ms > 120000) {
			fprintf(stderr, "fanout: only %d of %d consoles ready after 120 s\n", B.ready,
			    B.clients);
			B.stop = 1;
		}
	} else {
		int done = atomic_load(&B.producer_done);
		if (done && B.done_at_ms == 0)
			B.done_at_ms = now;
		if (done < 0)
			B.stop = 1;
		else if (done && B.deliveries >= (uint64_t)B.clients * (uint64_t)atomic_load(&B.sent))
			B.stop = 1;
		else if (done && now - B.done_at_ms > B.drain_ms)
			B.stop = 1; /* something is missing; report it */
	}
	if (!B.stop)
		lws_sul_schedule(B.ctx, 0, sul, tick, 2 * LWS_US_PER_MS);
	else
		lws_cancel_service(B.ctx); /* or lws_service() may sleep in poll() */
}

/* ---- producer: plain blocking sockets ---- */

static int
tcp_connect(const char *host, int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

struct http_resp {
	int status;
	int64_t etag; /* the version in ETag: "N", or -1 */
	char body[16384];
	size_t body_len;
};

/*
 * One request/response on the keep-alive socket *fd (opened, or reopened
 * when the server closed it). Returns 0 with *r filled, or -1.
 */
static int
http_do(int *fd, const char *req, size_t req_len, struct http_resp *r)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (*fd < 0 && (*fd = tcp_connect(B.host, B.port)) < 0)
			return -1;
		if (write_all(*fd, req, req_len) < 0)
			goto reconnect;
		char hdr[8192];
		size_t n = 0;
		char *end = NULL;
		while (end == NULL) {
			if (n == sizeof hdr - 1)
				return -1;
			ssize_t got = read(*fd, hdr + n, sizeof hdr - 1 - n);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				if (n == 0)
					goto reconnect; /* keep-alive closed before the response */
				return -1;
			}
			n += (size_t)got;
			hdr[n] = '\0';
			end = strstr(hdr, "\r\n\r\n");
		}
		*end = '\0';
		r->status = 0;
		sscanf(hdr, "HTTP/1.%*d %d", &r->status);
		size_t clen = 0;
		int close_after = 0;
		r->etag = -1;
		for (char *line = strstr(hdr, "\r\n"); line; line = strstr(line, "\r\n")) {
			line += 2;
			if (strncasecmp(line, "content-length:", 15) == 0)
				clen = (size_t)strtoul(line + 15, NULL, 10);
			else if (strncasecmp(line, "etag:", 5) == 0) {
				char *q = strchr(line, '"');
				if (q)
					r->etag = strtoll(q + 1, NULL, 10);
			} else if (strncasecmp(line, "connection:", 11) == 0) {
				char *le = strstr(line, "\r\n");
				char *cl = strcasestr(line, "close");
				if (cl && (le == NULL || cl < le))
					close_after = 1;
			}
		}
		if (clen >= sizeof r->body)
			return -1;
		size_t have = n - (size_t)(end + 4 - hdr);
		memcpy(r->body, end + 4, have);
		while (have < clen) {
			ssize_t got = read(*fd, r->body + have, clen - have);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return -1;
			have += (size_t)got;
		}
		r->body[clen] = '\0';
		r->body_len = clen;
		if (close_after) {
			close(*fd);
			*fd = -1;
		}
		return 0;
reconnect:
		close(*fd);
		*fd = -1;
	}
	return -1;
}

/* "2026-11-24T19:56:12.525337Z" -> us since the epoch, or -1. */
static int64_t
parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	int off = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
	    &tm.tm_min, &tm.tm_sec, &off) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	int64_t us = (int64_t)timegm(&tm) * 1000000;
	if (s[off] == '.') {
		int64_t scale = 100000;
		for (const char *p = s + off + 1; *p >= '0' && *p <= '9'; p++, scale /= 10)
			us += (*p - '0') * scale;
	}
	return us;
}

static void
sleep_until(int64_t mono_ns)
{
	struct timespec ts = { .tv_sec = mono_ns / 1000000000, .tv_nsec = mono_ns % 1000000000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int64_t
mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
produce_liandong(void)
{
	static struct http_resp r;
	char req[1024];
	int fd = -1;
	int n = snprintf(req, sizeof req,
	    "GET /api/v1/incidents/%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", B.incident, B.host, B.port);
	if (http_do(&fd, req, (size_t)n, &r) < 0 || r.status != 200 || r.etag < 0) {
		fprintf(stderr, "fanout: GET incident %d: status %d\n", B.incident, r.status);
		return -1;
	}
	int64_t version = r.etag;
	int64_t t0 = mono_ns();
	for (int k = 0; k < B.count; k++) {
		sleep_until(t0 + (int64_t)k * B.interval_ms * 1000000);
		char body[64];
		int bl = snprintf(body, sizeof body, "{\"description\":\"tick %06d\"}", k);
		n = snprintf(req, sizeof req,
		    "PATCH /api/v1/incidents/%d HTTP/1.1\r\nHost: %s:%d\r\n"
		    "Content-Type: application/json\r\nIf-Match: \"%" PRId64 "\"\r\n"
		    "Content-Length: %d\r\n\r\n%s",
		    B.incident, B.host, B.port, version, bl, body);
		if (http_do(&fd, req, (size_t)n, &r) < 0 || r.status != 200) {
			fprintf(stderr, "fanout: PATCH %d: status %d %.200s\n", k, r.status, r.body);
			return -1;
		}
		/* The response's top-level "seq" and "committed_at" follow the incident. */
		const char *inc_end = strstr(r.body, "},\"duplicate\"");
		const char *top = inc_end ? inc_end : r.body;
		int64_t seq = json_int(top, strlen(top), "seq", -1);
		const char *ca = strstr(top, "\"committed_at\":\"");
		int64_t cus = ca ? parse_time(ca + 16) : -1;
		int64_t idx = seq - B.base_seq - 1;
		if (seq < 0 || cus < 0 || r.etag < 0 || idx != k) {
			fprintf(stderr, "fanout: PATCH %d: unexpected seq %" PRId64 " (base %" PRId64
			    ") or response %.300s\n", k, seq, B.base_seq, r.body);
			return -1;
		}
		version = r.etag;
		B.send_us[idx] = cus;
		atomic_fetch_add(&B.sent, 1);
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Read what the NATS server sent without blocking; answer PINGs. */
static int
nats_pump(int fd, int wait_pong)
{
	char b[4096];
	for (;;) {
		ssize_t got = recv(fd, b, sizeof b - 1, wait_pong ? 0 : MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		b[got] = '\0';
		if (strstr(b, "-ERR")) {
			fprintf(stderr, "fanout: nats publisher: %s", b);
			return -1;
		}
		if (strstr(b, "PING\r\n") && write_all(fd, "PONG\r\n", 6) < 0)
			return -1;
		if (wait_pong && strstr(b, "PONG\r\n"))
			return 0;
	}
}

static int
produce_nats(void)
{
	int fd = tcp_connect(B.host, B.nats_port);
	if (fd < 0) {
		fprintf(stderr, "fanout: cannot connect to nats on port %d\n", B.nats_port);
		return -1;
	}
	const char *hello = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n";
	if (write_all(fd, hello, strlen(hello)) < 0 || nats_pump(fd, 1) < 0) {
		close(fd);
		return -1;
	}
	size_t pl = (size_t)B.payload_bytes;
	char *msg = malloc(pl + 64);
	int64_t t0 = mono_ns();
	int rc = 0;
	for (int k = 0; k < B.count && rc == 0; k++) {
		sleep_until(t0 + (int64_t)k * B.interval_ms * 1000000);
		int h = snprintf(msg, 64, "PUB bench %zu\r\n", pl);
		int64_t ts = now_us(CLOCK_REALTIME);
		int p = snprintf(msg + h, 48, "%d %" PRId64 " ", k, ts);
		memset(msg + h + p, 'x', pl - (size_t)p);
		memcpy(msg + h + pl, "\r\n", 2);
		B.send_us[k] = ts;
		if (write_all(fd, msg, (size_t)h + pl + 2) < 0 || nats_pump(fd, 0) < 0)
			rc = -1;
		else
			atomic_fetch_add(&B.sent, 1);
	}
	/* Flush: once PONG comes back, the server has processed every PUB. */
	if (rc == 0 && (write_all(fd, "PING\r\n", 6) < 0 || nats_pump(fd, 1) < 0))
		rc = -1;
	free(msg);
	close(fd);
	return rc;
}

static void *
producer_main(void *arg)
{
	int rc = B.target == T_LIANDONG ? produce_liandong() : produce_nats();
	atomic_store(&B.producer_done, rc ? -1 : 1);
	return NULL;
}

/* ---- report ---- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static double
pct_ms(const int64_t *v, int n, double p)
{
	if (n == 0)
		return -1;
	int r = (int)((p / 100.0) * n + 0.999999);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return (double)v[r - 1] / 1000.0;
}

static int
report(void)
{
	int sent = atomic_load(&B.sent);
	int64_t *last = calloc((size_t)B.count + 1, sizeof *last);
	int64_t *first = calloc((size_t)B.count + 1, sizeof *first);
	int full = 0;
	uint64_t deliveries = 0;
	for (int i = 0; i < sent; i++) {
		int64_t t0 = B.target == T_NATS ? B.payload_us[i] : B.send_us[i];
		if (B.target == T_NATS && B.nrecv[i] && t0 != B.send_us[i])
			B.proto_errors++; /* payload timestamp did not survive */
		deliveries += (uint64_t)B.nrecv[i];
		if (B.nrecv[i] == B.clients) {
			last[full] = B.last_us[i] - t0;
			first[full] = B.first_us[i] - t0;
			full++;
		}
	}
	qsort(last, (size_t)full, sizeof *last, cmp_i64);
	qsort(first, (size_t)full, sizeof *first, cmp_i64);
	uint64_t expect = (uint64_t)B.clients * (uint64_t)B.count;
	double pct = expect ? 100.0 * (double)deliveries / (double)expect : 0;
	double fb = B.frame_n ? (double)B.frame_bytes_sum / (double)B.frame_n : 0;
	const char *name = B.target == T_LIANDONG ? "liandong" : "nats";

	printf("fanout %s: %d clients, %d/%d messages sent, every %d ms\n", name, B.clients, sent,
	    B.count, B.interval_ms);
	printf("  delivered        %" PRIu64 "/%" PRIu64 " (%.3f%%), %d messages reached every client\n",
	    deliveries, expect, pct, full);
	printf("  last client      median %.3f ms  p99 %.3f ms  max %.3f ms\n", pct_ms(last, full, 50),
	    pct_ms(last, full, 99), pct_ms(last, full, 100));
	printf("  first client     median %.3f ms\n", pct_ms(first, full, 50));
	printf("  resyncs %" PRIu64 "  gaps %" PRIu64 "  dups %" PRIu64 "  unexpected %" PRIu64
	    "  closed %d  protocol errors %" PRIu64 "\n",
	    B.resyncs, B.gaps, B.dups, B.unexpected, B.closed_live, B.proto_errors);
	printf("  %s %.0f bytes\n", B.target == T_LIANDONG ? "event frame" : "payload", fb);
	printf("RESULT target=%s clients=%d messages=%d sent=%d delivered_pct=%.3f median_ms=%.3f "
	    "p99_ms=%.3f max_ms=%.3f first_median_ms=%.3f resyncs=%" PRIu64 " frame_bytes=%.0f\n",
	    name, B.clients, B.count, sent, pct, pct_ms(last, full, 50), pct_ms(last, full, 99),
	    pct_ms(last, full, 100), pct_ms(first, full, 50), B.resyncs, fb);
	fflush(stdout);
	free(last);
	free(first);
	return deliveries == expect && sent == B.count ? 0 : 3;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: fanout_client --target liandong|nats --port P [options]\n"
	    "  --clients N        WebSocket clients (1000)\n"
	    "  --count N          messages (500)\n"
	    "  --interval-ms N    one message every N ms (20)\n"
	    "  --port P           liandong HTTP/WebSocket port, or the nats websocket port\n"
	    "  --nats-port P      nats client port the publisher uses (nats)\n"
	    "  --payload-bytes N  nats payload size; use liandong's event frame size (480)\n"
	    "  --incident ID      incident to PATCH (liandong, 1)\n"
	    "  --drain-ms N       wait this long for stragglers after the last message (5000)\n"
	    "  --verbose\n"
	    "exit: 0 all delivered, 3 some not delivered, 1 setup failure\n");
}

int
main(int argc, char **argv)
{
	B.host = "127.0.0.1";
	B.clients = 1000;
	B.count = 500;
	B.interval_ms = 20;
	B.incident = 1;
	B.payload_bytes = 480;
	B.drain_ms = 5000;
	B.target = -1;
	static const struct option opts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "clients", required_argument, NULL, 'c' },
		{ "count", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "port", required_argument, NULL, 'p' },
		{ "nats-port", required_argument, NULL, 'N' },
		{ "payload-bytes", required_argument, NULL, 'b' },
		{ "incident", required_argument, NULL, 'I' },
		{ "drain-ms", required_argument, NULL, 'd' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't':
			if (strcmp(optarg, "liandong") == 0)
				B.target = T_LIANDONG;
			else if (strcmp(optarg, "nats") == 0)
				B.target = T_NATS;
			break;
		case 'c': B.clients = atoi(optarg); break;
		case 'n': B.count = atoi(optarg); break;
		case 'i': B.interval_ms = atoi(optarg); break;
		case 'p': B.port = atoi(optarg); break;
		case 'N': B.nats_port = atoi(optarg); break;
		case 'b': B.payload_bytes = atoi(optarg); break;
		case 'I': B.incident = atoi(optarg); break;
		case 'd': B.drain_ms = atoi(optarg); break;
		case 'v': B.verbose = 1; break;
		default: usage(); return o == 'h' ? 0 : 1;
		}
	}
	if ((int)B.target < 0 || B.port <= 0 || B.clients < 1 || B.count < 1 || B.interval_ms < 1 ||
	    (B.target == T_NATS && (B.nats_port <= 0 || B.payload_bytes < 40))) {
		usage();
		return 1;
	}

	/* One socket per console: raise the descriptor limit to the hard limit. */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)B.clients + 64) {
		fprintf(stderr, "fanout: RLIMIT_NOFILE %llu is too low for %d clients\n",
		    (unsigned long long)rl.rlim_cur, B.clients);
		return 1;
	}

	size_t n = (size_t)B.count;
	B.conns = calloc((size_t)B.clients, sizeof *B.conns);
	B.retry = calloc((size_t)B.clients, sizeof *B.retry);
	B.send_us = calloc(n, sizeof *B.send_us);
	B.payload_us = calloc(n, sizeof *B.payload_us);
	B.first_us = calloc(n, sizeof *B.first_us);
	B.last_us = calloc(n, sizeof *B.last_us);
	B.nrecv = calloc(n, sizeof *B.nrecv);
	if (!B.conns || !B.retry || !B.send_us || !B.payload_us || !B.first_us || !B.last_us ||
	    !B.nrecv) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	for (int i = 0; i < B.clients; i++) {
		B.conns[i].idx = i;
		B.conns[i].last = -1;
	}

	lws_set_log_level(B.verbose ? LLL_ERR | LLL_WARN : LLL_ERR, NULL);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = -1;
	info.uid = -1;
	/* epoll through libuv: poll() over 1,000 sockets per wakeup would make
	 * the client, not the server, the bottleneck. */
	uv_loop_t loop;
	uv_loop_init(&loop);
	void *foreign[1] = { &loop };
	info.foreign_loops = foreign;
	info.options = LWS_SERVER_OPTION_LIBUV;
	B.ctx = lws_create_context(&info);
	if (B.ctx == NULL) {
		fprintf(stderr, "fanout: lws_create_context failed\n");
		return 1;
	}
	B.connect_started_ms = mono_ms();
	lws_sul_schedule(B.ctx, 0, &B.sul, tick, 1);
	while (!B.stop)
		uv_run(&loop, UV_RUN_ONCE);

	if (B.producer_started)
		pthread_join(B.producer, NULL);
	int rc;
	if (!B.producer_started || atomic_load(&B.producer_done) < 0) {
		fprintf(stderr, "fanout: run failed (%d/%d consoles ready)\n", B.ready, B.clients);
		rc = 1;
		if (B.producer_started)
			report();
	} else {
		rc = report();
	}
	/* A foreign-loop context closes its handles on the loop, then is gone. */
	lws_context_destroy(B.ctx);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	for (int i = 0; i < B.clients; i++)
		free(B.conns[i].buf);
	return rc;
}
