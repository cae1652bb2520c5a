/*
 * liandong_forward.c - `liandong-forward`, the agency-side store-and-forward
 * forwarder: flags, start-up, signals, shutdown and /status.
 *
 * Start-up: parse flags, open the spool (lock it, delete unfinished writes,
 * count what waits, find the next sequence number: blocking, before the
 * loop runs), start lws on the libuv loop (the local listener and the client
 * connections to the centre share one context), start the sender and the
 * inbox poller. Reports left from an earlier run are sent at once.
 *
 * Shutdown on SIGINT/SIGTERM: refuse new local requests (503), stop
 * listing and posting, finish the spool writes under way and answer them,
 * then tear lws down. Posts still in flight are cut: their reports stay in
 * the spool and are posted again by the next run (the centre answers a
 * report it already has as a duplicate). A second signal exits at once;
 * SIGKILL loses nothing that was answered 202.
 */
#include "fwd.h"
#include "srv_hpost.h"
#include "srv_log.h"
#include "srv_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 5000

static struct fwd fwd;
static uv_signal_t sig_int, sig_term;
static uv_timer_t stop_timer;
static uint64_t stop_deadline;
static uint64_t start_ms;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: liandong-forward [options]\n"
	    "\n"
	    "Accepts agency reports locally, keeps each on disk (fsynced) before answering,\n"
	    "and forwards them to the Liandong centre, deleting a report only after the\n"
	    "centre acknowledged it.\n"
	    "\n"
	    "options:\n"
	    "  --listen HOST:PORT   local HTTP intake (default 127.0.0.1:8380; port 0 picks one)\n"
	    "  --spool DIR          spool folder (default ./spool)\n"
	    "  --inbox DIR          also take files dropped into DIR (optional)\n"
	    "  --centre URL         the centre (default http://127.0.0.1:8080; https:// for TLS)\n"
	    "  --adapter NAME       adapter for POST /forward and inbox files (default json)\n"
	    "  --token TOKEN        gateway token, sent as Authorization: Bearer (@FILE reads it)\n"
	    "  --hmac-secret KEY    sign posts with HMAC-SHA256 (@FILE reads it)\n"
	    "  --ca FILE            CA certificates for an https centre (default: system store)\n"
	    "  --inflight N         reports posted at once (default 1: strict order; max 64)\n"
	    "  --max-body SIZE      largest report (default 1M; K and M suffixes)\n"
	    "  --inbox-poll MS      inbox polling interval (default 500)\n"
	    "  --timeout S          one post, connect to answer (default 30)\n"
	    "  --backoff-min MS     first retry delay (default 100)\n"
	    "  --backoff-max MS     longest retry delay (default 30000)\n"
	    "  --log-level LEVEL    error, warn, info or debug (default info)\n"
	    "  --version            print the version\n");
}

/* ---- sequence numbers (loop thread) ---- */

uint64_t
fwd_seq_begin(struct fwd *f)
{
	if (f->nwriting >= (int)(sizeof f->writing / sizeof f->writing[0]))
		abort(); /* the callers bound their writes below this */
	uint64_t seq = f->next_seq++;
	f->writing[f->nwriting++] = seq;
	return seq;
}

void
fwd_seq_end(struct fwd *f, uint64_t seq, int landed)
{
	for (int i = 0; i < f->nwriting; i++)
		if (f->writing[i] == seq) {
			f->writing[i] = f->writing[--f->nwriting];
			break;
		}
	if (landed) {
		f->spooled++;
		f->spool_gen++;
	}
}

uint64_t
fwd_seq_stable(const struct fwd *f)
{
	uint64_t low = f->next_seq;
	for (int i = 0; i < f->nwriting; i++)
		if (f->writing[i] < low)
			low = f->writing[i];
	return low;
}

char *
fwd_status_json(struct fwd *f)
{
	json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:s, s:s, s:I}",
	    "spooled", (json_int_t)f->spooled, "received", (json_int_t)f->received,
	    "forwarded", (json_int_t)f->forwarded, "duplicates", (json_int_t)f->duplicates,
	    "rejected", (json_int_t)f->rejected, "attempts", (json_int_t)f->attempts,
	    "failures", (json_int_t)f->failures, "writing", f->nwriting,
	    "centre", f->cfg->centre, "spool", f->cfg->spool,
	    "uptime_s", (json_int_t)((srv_mono_ns() / 1000000 - start_ms) / 1000));
	fwd_send_status(f, o);
	json_object_set_new(o, "stopping", json_boolean(f->stopping));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* ---- flags ---- */

static int
parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int
parse_size(const char *s, int64_t *out)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (end == s || v <= 0)
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end != '\0' || v < 1024 || v > 64LL * 1024 * 1024)
		return -1;
	*out = v;
	return 0;
}

/* "@FILE" reads a secret from a file (first line), so it does not show in ps. */
static char *
secret_value(const char *v)
{
	if (v[0] != '@')
		return xstrdup(v);
	FILE *fp = fopen(v + 1, "r");
	if (fp == NULL) {
		fprintf(stderr, "liandong-forward: %s: %s\n", v + 1, strerror(errno));
		return NULL;
	}
	char buf[1024];
	if (fgets(buf, sizeof buf, fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	buf[strcspn(buf, "\r\n")] = '\0';
	if (buf[0] == '\0') {
		fprintf(stderr, "liandong-forward: %s is empty\n", v + 1);
		return NULL;
	}
	return xstrdup(buf);
}

static int
parse_listen(const char *v, struct fwd_config *c)
{
	const char *colon = strrchr(v, ':');
	if (colon == NULL)
		return -1;
	const char *h = v;
	size_t hl = (size_t)(colon - v);
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
		h++, hl -= 2;
	if (hl == 0 || parse_int(colon + 1, 0, 65535, &c->listen_port) != 0)
		return -1;
	free(c->listen_addr);
	c->listen_addr = xstrndup(h, hl);
	return 0;
}

/* http[s]://host[:port][/prefix] */
static int
parse_centre(const char *url, struct fwd_centre *c)
{
	memset(c, 0, sizeof *c);
	const char *p;
	if (strncmp(url, "http://", 7) == 0) {
		p = url + 7;
		c->port = 80;
	} else if (strncmp(url, "https://", 8) == 0) {
		p = url + 8;
		c->tls = 1;
		c->port = 443;
	} else {
		return -1;
	}
	const char *host = p, *host_end;
	if (*p == '[') {
		host = p + 1;
		host_end = strchr(host, ']');
		if (host_end == NULL)
			return -1;
		p = host_end + 1;
	} else {
		host_end = p + strcspn(p, ":/");
		p = host_end;
	}
	if (host_end == host || (size_t)(host_end - host) >= sizeof c->host)
		return -1;
	memcpy(c->host, host, (size_t)(host_end - host));
	int explicit_port = 0;
	if (*p == ':') {
		char port[8];
		size_t n = strcspn(p + 1, "/");
		if (n == 0 || n >= sizeof port)
			return -1;
		memcpy(port, p + 1, n);
		port[n] = '\0';
		if (parse_int(port, 1, 65535, &c->port) != 0)
			return -1;
		explicit_port = 1;
		p += 1 + n;
	}
	if (*p && *p != '/')
		return -1;
	if (strlen(p) >= sizeof c->prefix || strpbrk(p, "?# "))
		return -1;
	snprintf(c->prefix, sizeof c->prefix, "%s", p);
	size_t n = strlen(c->prefix);
	while (n && c->prefix[n - 1] == '/')
		c->prefix[--n] = '\0';
	unsigned char buf[16];
	int v6 = inet_pton(AF_INET6, c->host, buf) == 1;
	c->numeric = v6 || inet_pton(AF_INET, c->host, buf) == 1;
	int default_port = c->port == (c->tls ? 443 : 80);
	snprintf(c->host_header, sizeof c->host_header, "%s%s%s", v6 ? "[" : "", c->host,
	    v6 ? "]" : "");
	if (explicit_port && !default_port) {
		size_t hl = strlen(c->host_header);
		snprintf(c->host_header + hl, sizeof c->host_header - hl, ":%d", c->port);
	}
	return 0;
}

static void
config_free(struct fwd_config *c)
{
	free(c->listen_addr);
	free(c->spool);
	free(c->inbox);
	free(c->centre);
	free(c->adapter);
	if (c->token)
		sodium_memzero(c->token, strlen(c->token));
	free(c->token);
	if (c->hmac_secret)
		sodium_memzero(c->hmac_secret, strlen(c->hmac_secret));
	free(c->hmac_secret);
	free(c->ca_file);
}

/* Returns 0, 1 (printed help or version: exit 0) or 2 (bad flags). */
static int
parse_flags(int argc, char **argv, struct fwd_config *c, char **log_level)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("liandong-forward %s\n", LIANDONG_VERSION);
			return 1;
		}
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL || strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "liandong-forward: %s\n", strncmp(a, "--", 2) == 0
			    ? "an option needs a value" : "unexpected argument");
			fprintf(stderr, "  at '%s'\n", a);
			return 2;
		}
		i++;
		int bad = 0;
		char **str = NULL;
		if (strcmp(a, "--listen") == 0)
			bad = parse_listen(v, c);
		else if (strcmp(a, "--spool") == 0)
			str = &c->spool;
		else if (strcmp(a, "--inbox") == 0)
			str = &c->inbox;
		else if (strcmp(a, "--centre") == 0 || strcmp(a, "--center") == 0)
			str = &c->centre;
		else if (strcmp(a, "--adapter") == 0) {
			bad = !fwd_adapter_valid(v);
			str = &c->adapter;
		} else if (strcmp(a, "--ca") == 0)
			str = &c->ca_file;
		else if (strcmp(a, "--token") == 0 || strcmp(a, "--hmac-secret") == 0) {
			char **dst = a[2] == 't' ? &c->token : &c->hmac_secret;
			char *s = secret_value(v);
			if (s == NULL)
				return 2;
			free(*dst);
			*dst = s;
			continue;
		} else if (strcmp(a, "--inflight") == 0)
			bad = parse_int(v, 1, 64, &c->inflight);
		else if (strcmp(a, "--max-body") == 0)
			bad = parse_size(v, &c->max_body);
		else if (strcmp(a, "--inbox-poll") == 0)
			bad = parse_int(v, 10, 3600000, &c->inbox_poll_ms);
		else if (strcmp(a, "--timeout") == 0)
			bad = parse_int(v, 1, 3600, &c->timeout_s);
		else if (strcmp(a, "--backoff-min") == 0)
			bad = parse_int(v, 1, 3600000, &c->backoff_min_ms);
		else if (strcmp(a, "--backoff-max") == 0)
			bad = parse_int(v, 1, 3600000, &c->backoff_max_ms);
		else if (strcmp(a, "--log-level") == 0) {
			bad = srv_log_parse_level(v) < 0;
			*log_level = (char *)v;
		} else {
			fprintf(stderr, "liandong-forward: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		}
		if (bad) {
			fprintf(stderr, "liandong-forward: %s: '%s' is not valid\n", a, v);
			return 2;
		}
		if (str) {
			free(*str);
			*str = xstrdup(v);
		}
	}
	if (c->backoff_max_ms < c->backoff_min_ms) {
		fprintf(stderr, "liandong-forward: --backoff-max is below --backoff-min\n");
		return 2;
	}
	return 0;
}

/* ---- lws ---- */

static struct lws_protocols protocols[] = {
	{ "http", fwd_http_callback, 0, 0, 0, NULL, 0 },
	{ "fwd-centre", srv_hpost_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
lws_log_emit(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && line[n - 1] == '\n')
		n--;
	srv_log(level == LLL_ERR ? SRV_LOG_ERROR : SRV_LOG_WARN, "lws", "%.*s", (int)n, line);
}

static int
start_lws(struct fwd *f)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_emit);
	protocols[0].per_session_data_size = fwd_http_pss_size();
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	void *foreign[1] = { f->loop };
	info.foreign_loops = foreign;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8;
	if (f->centre.tls)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.client_ssl_ca_filepath = f->cfg->ca_file;
	info.port = f->cfg->listen_port;
	info.iface = f->cfg->listen_addr;
	info.protocols = protocols;
	info.user = f;
	info.timeout_secs = (unsigned)f->cfg->timeout_s;
	info.keepalive_timeout = 30;
	info.fd_limit_per_thread = 1024 + 2 * (unsigned)f->cfg->inflight;
	info.vhost_name = "forward";
	f->lws = lws_create_context(&info);
	if (f->lws == NULL)
		return -1;
	/* lws may create the context even when the listener could not bind. */
	struct lws_vhost *vh = lws_get_vhost_by_name(f->lws, "forward");
	f->port = vh ? lws_get_vhost_listen_port(vh) : -1;
	return f->port > 0 ? 0 : -1;
}

/* ---- shutdown ---- */

static void
finish_shutdown(void)
{
	uv_timer_stop(&stop_timer);
	uv_close((uv_handle_t *)&stop_timer, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
	if (fwd.lws)
		lws_context_destroy(fwd.lws);
	fwd.lws = NULL;
}

static void
stop_tick(uv_timer_t *t)
{
	if (fwd.nwriting == 0 && fwd.requests_live == 0) {
		log_info("forward", "spool writes finished and answered; stopping|spooled=%lld",
		    (long long)fwd.spooled);
		finish_shutdown();
	} else if (srv_mono_ns() / 1000000 > stop_deadline) {
		log_warn("forward", "shutdown grace period over|writing=%d requests=%d", fwd.nwriting,
		    fwd.requests_live);
		finish_shutdown();
	}
}

static void
on_signal(uv_signal_t *h, int signum)
{
	if (fwd.stopping) {
		log_warn("forward", "second signal during shutdown; exiting at once|signal=%d", signum);
		exit(1);
	}
	log_info("forward", "signal received; shutting down|signal=%d", signum);
	fwd.stopping = 1;
	fwd_inbox_stop(&fwd);
	fwd_send_stop(&fwd);
	stop_deadline = srv_mono_ns() / 1000000 + SHUTDOWN_GRACE_MS;
	uv_timer_start(&stop_timer, stop_tick, 0, 20);
}

int
main(int argc, char **argv)
{
	struct fwd_config cfg = {
		.listen_addr = xstrdup("127.0.0.1"), .listen_port = 8380,
		.spool = xstrdup("./spool"), .centre = xstrdup("http://127.0.0.1:8080"),
		.adapter = xstrdup("json"), .inflight = 1, .max_body = 1024 * 1024,
		.inbox_poll_ms = 500, .timeout_s = 30, .backoff_min_ms = 100,
		.backoff_max_ms = 30000,
	};
	char *level = "info";
	int rc = parse_flags(argc, argv, &cfg, &level);
	if (rc != 0) {
		config_free(&cfg);
		return rc == 1 ? 0 : 2;
	}
	srv_log_set_level((enum srv_log_level)srv_log_parse_level(level));
	if (sodium_init() < 0) {
		log_error("forward", "libsodium failed to initialise");
		return 1;
	}
	memset(&fwd, 0, sizeof fwd);
	fwd.cfg = &cfg;
	if (parse_centre(cfg.centre, &fwd.centre) != 0) {
		fprintf(stderr, "liandong-forward: --centre '%s' is not http[s]://host[:port][/path]\n",
		    cfg.centre);
		config_free(&cfg);
		return 2;
	}
	if (strcmp(cfg.listen_addr, "127.0.0.1") != 0 && strcmp(cfg.listen_addr, "::1") != 0 &&
	    strcmp(cfg.listen_addr, "localhost") != 0)
		log_warn("forward", "the local intake has no authentication; it should listen on "
		    "loopback only|listen=%s", cfg.listen_addr);
	if (fwd.centre.tls == 0 && !fwd.centre.numeric && strcmp(fwd.centre.host, "localhost") != 0 &&
	    (cfg.token || cfg.hmac_secret))
		log_warn("forward", "the gateway token goes to the centre over plain http; use https|"
		    "centre=%s", cfg.centre);

	struct fwd_spool_info si;
	char *cause = NULL;
	if (fwd_spool_open(cfg.spool, &si, &cause) != 0) {
		log_error("forward", "cannot open the spool|detail=\"%s\"", cause);
		free(cause);
		config_free(&cfg);
		return 1;
	}
	if (cfg.inbox && mkdir(cfg.inbox, 0750) != 0 && errno != EEXIST)
		log_warn("forward", "cannot create the inbox|dir=%s error=\"%s\"", cfg.inbox,
		    strerror(errno));
	fwd.next_seq = si.next_seq;
	fwd.spooled = si.count;
	signal(SIGPIPE, SIG_IGN);

	uv_loop_t loop;
	uv_loop_init(&loop);
	fwd.loop = &loop;
	start_ms = srv_mono_ns() / 1000000;
	if (start_lws(&fwd) != 0) {
		log_error("forward", "cannot start the local listener|address=%s port=%d",
		    cfg.listen_addr, cfg.listen_port);
		config_free(&cfg);
		return 1;
	}
	if (fwd_send_init(&fwd, &cause) != 0) {
		log_error("forward", "cannot start the sender|detail=\"%s\"", cause);
		free(cause);
		config_free(&cfg);
		return 2;
	}
	log_info("forward", "listening|address=%s port=%d spool=%s centre=%s adapter=%s "
	    "inbox=%s inflight=%d spooled=%lld next_seq=%llu partial_deleted=%lld auth=%s",
	    cfg.listen_addr, fwd.port, cfg.spool, cfg.centre, cfg.adapter,
	    cfg.inbox ? cfg.inbox : "-", cfg.inflight, (long long)si.count,
	    (unsigned long long)si.next_seq, (long long)si.partial,
	    cfg.hmac_secret ? "token+hmac" : cfg.token ? "token" : "none");

	uv_signal_init(&loop, &sig_int);
	uv_signal_init(&loop, &sig_term);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_timer_init(&loop, &stop_timer);
	fwd_inbox_start(&fwd);
	fwd_send_wake(&fwd);

	uv_run(&loop, UV_RUN_DEFAULT);
	if (fwd.lws) {
		/* lws finishes destroying a foreign-loop context on a second call. */
		lws_context_destroy(fwd.lws);
		fwd.lws = NULL;
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	fwd_send_free(&fwd);
	fwd_inbox_free_state(&fwd);
	rc = uv_loop_close(&loop);
	if (rc != 0)
		log_warn("forward", "loop closed with handles open|error=%s", uv_err_name(rc));
	log_info("forward", "stopped|spooled=%lld forwarded=%lld rejected=%lld",
	    (long long)fwd.spooled, (long long)fwd.forwarded, (long long)fwd.rejected);
	close(si.lock_fd);
	config_free(&cfg);
	return 0;
}
