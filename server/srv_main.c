/*
 * srv_main.c - the `liandong` command: serve, demo and admin subcommands.
 *
 * Start-up order: configuration, store (migrations, writer thread), read
 * pool, hub, then the listener, all on one libuv loop. Shutdown on SIGINT
 * or SIGTERM runs the other way round: refuse new requests, ask consoles to
 * close (1001), let the writer commit and acknowledge everything already
 * queued, wait for responses to be written, then tear the listener down.
 */
#include "conf.h"
#include "srv.h"
#include "db_read.h"
#include "db_store.h"
#include "db_store-int.h"
#include "hub.h"
#include "dsp.h"
#include "srv_auth.h"
#include "srv_error.h"
#include "srv_log.h"
#include "srv_util.h"
#include "srv_gis.h"
#include "srv_webhook.h"

#include <errno.h>
#include <libwebsockets.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <netdb.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 10000
#define MEDIA_GRACE_MS 6000

static struct srv srv;
static uv_signal_t sig_int, sig_term;
static uv_timer_t stop_timer;
static int store_closed;
static uint64_t stop_deadline;
static uint64_t media_deadline; /* the store waits this long for the bridge's last segments */
static int store_closing;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: liandong COMMAND [options]\n"
	    "\n"
	    "commands:\n"
	    "  serve              run the command centre server\n"
	    "  demo               run the server with simulated agency traffic\n"
	    "  migrate            create or upgrade the database, then exit\n"
	    "  journal            print journal events from the database (--after N --limit M)\n"
	    "  config             print the effective configuration with its documentation\n"
	    "  adapters           list the gateway adapters\n"
	    "  gateway ...        gateway keys, webhooks, limits (liandong gateway --help)\n"
	    "  backup PATH        an online, consistent, checked copy of the database (server may run)\n"
	    "  restore FILE       check a backup, then put it in place of the data (server stopped)\n"
	    "  user ...           console users: add, disable, enable, reset, list (liandong user --help)\n"
	    "  import ...         jurisdictions or gazetteer places (liandong import --help)\n"
	    "  version            print the version\n"
	    "\n"
	    "options:\n"
	    "  --config FILE      read a configuration file (see `liandong config`)\n"
	    "  --set KEY=VALUE    set one configuration key (repeatable)\n"
	    "  --port N           same as --set listen.port=N\n"
	    "  --listen ADDR      same as --set listen.address=ADDR\n"
	    "  --data DIR         same as --set data.dir=DIR\n"
	    "  --console DIR      same as --set console.dir=DIR\n"
	    "  --log-level LEVEL  same as --set log.level=LEVEL\n");
}

static char *
db_path(const struct srv_config *cfg)
{
	return xasprintf("%s/liandong.db", cfg->data_dir);
}

static int
ensure_dir(const char *dir)
{
	if (mkdir(dir, 0750) == 0 || errno == EEXIST)
		return 0;
	log_error("server", "cannot create the data folder|dir=%s error=\"%s\"", dir, strerror(errno));
	return -1;
}

static void
raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
finish_shutdown(void)
{
	uv_timer_stop(&stop_timer);
	uv_close((uv_handle_t *)&stop_timer, NULL);
	uv_close((uv_handle_t *)&sig_int, NULL);
	uv_close((uv_handle_t *)&sig_term, NULL);
	srv_http_stop(&srv);
	db_reader_close(srv.reader);
	srv.reader = NULL;
	auth_close(srv.auth);
	srv.auth = NULL;
}

static void on_store_closed(void *arg);

/* Once: committed what is queued, then the writer stops (on_store_closed). */
static void
close_store(void)
{
	if (store_closing)
		return;
	store_closing = 1;
	db_store_close(srv.store, on_store_closed, NULL);
}

static void
stop_tick(uv_timer_t *t)
{
	if (!store_closing && (!srv.media_draining || srv_mono_ns() / 1000000 > media_deadline)) {
		if (srv.media_draining)
			log_warn("server", "the media bridge is still finishing recordings; closing the store");
		close_store();
	}
	int consoles = hub_console_count(srv.hub);
	if (store_closed && srv.requests_live == 0 && consoles == 0 && srv.webhook == NULL) {
		log_info("server", "all changes committed and answered; stopping");
		finish_shutdown();
	} else if (srv_mono_ns() / 1000000 > stop_deadline) {
		log_warn("server", "shutdown grace period over|consoles=%d requests=%d store_closed=%d",
		    consoles, srv.requests_live, store_closed);
		finish_shutdown();
	}
}

static void
on_store_closed(void *arg)
{
	store_closed = 1;
	srv.store = NULL;
}

static void
on_webhook_stopped(void *arg)
{
	srv.webhook = NULL;
}

static void
begin_shutdown(void)
{
	srv.stopping = 1;
	srv_demo_stop(&srv);
	/* Before the store closes: the webhook's acknowledgements in flight still commit. */
	if (srv.webhook)
		srv_webhook_stop(srv.webhook, on_webhook_stopped, NULL);
	dsp_live_close(&srv);
	conf_live_close(&srv);
	srv_users_close(&srv);
	srv_backup_stop(srv.backups);
	srv.backups = NULL;
	int n = hub_close_all(srv.hub);
	log_info("server", "shutting down|consoles=%d backlog=%d media=%s", n,
	    db_store_backlog(srv.store), srv.media_draining ? "finishing recordings" : "off");
	if (!srv.media_draining)
		close_store();
	media_deadline = srv_mono_ns() / 1000000 + MEDIA_GRACE_MS;
	stop_deadline = srv_mono_ns() / 1000000 + SHUTDOWN_GRACE_MS;
	uv_timer_start(&stop_timer, stop_tick, 20, 20);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	if (srv.stopping) {
		log_warn("server", "second signal during shutdown; exiting at once|signal=%d", signum);
		exit(1);
	}
	log_info("server", "signal received|signal=%d", signum);
	begin_shutdown();
}

static int64_t
host_now(void)
{
	return srv_now_us();
}

static void
host_log(const struct gw_host *h, int level, const char *msg)
{
	srv_log((enum srv_log_level)level, "gateway", "%s", msg);
}

/* Each committed change goes to the consoles, and may have outbox rows for webhooks. */
static void
publish_change(void *ctx, int64_t seq, const char *frame, size_t len, const char *scope)
{
	dsp_live_event(&srv, frame, len);
	hub_publish(srv.hub, seq, frame, len, scope);
	srv_webhook_poke(srv.webhook);
}

static void
on_deadline(void *ctx, int64_t due_us)
{
	(void)ctx;
	dsp_live_deadline(&srv, due_us);
}

/*
 * Start-up failed after some parts opened: close them in order and let the
 * loop finish their handles, so a refused start exits 1 and leaks nothing.
 */
/*
 * Every start is in the audit log with the operating-system user who ran it
 * and the settings that differ from the defaults: a change of configuration
 * shows as the difference between two starts.
 */
static int
run_start_audit(struct db_store *st, struct db_req *r, int64_t now)
{
	return db_tx_audit(st, r, now, "server.start", "config", r->args, "local");
}

static void
start_audited(struct db_req *r)
{
	if (r->err)
		log_error("server", "the start could not be audited|detail=\"%s\"", r->cause ? r->cause : "");
	db_req_free(r);
}

static void
audit_start(void)
{
	struct passwd *pw = getpwuid(geteuid());
	char actor[64];
	snprintf(actor, sizeof actor, "server:%s", pw ? pw->pw_name : "unknown");
	struct db_req *r = db_req_new(DB_OP_RUN, actor);
	r->run = run_start_audit;
	r->args = srv_config_changes(srv.cfg);
	r->args_free = free;
	r->done = start_audited;
	if (db_store_submit(srv.store, r) != 0)
		db_req_free(r);
}

static int
abandon_start(uv_loop_t *loop)
{
	auth_close(srv.auth);
	srv.auth = NULL;
	db_reader_close(srv.reader);
	srv.reader = NULL;
	if (srv.store)
		db_store_close(srv.store, on_store_closed, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	srv_http_finish(&srv);
	uv_run(loop, UV_RUN_DEFAULT);
	hub_free(srv.hub);
	srv.hub = NULL;
	free(srv.intake);
	srv.intake = NULL;
	uv_loop_close(loop);
	return 1;
}

/*
 * Can the listener bind address:port? Checked before anything opens, so a
 * port in use is a clear error and an orderly exit 1. Port 0 and host names
 * (resolved by lws) are not checked here.
 */
static int
port_free(const char *address, int port, char **cause)
{
	struct addrinfo hints = { .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM }, *ai = NULL;
	char service[16];
	if (port == 0)
		return 0;
	snprintf(service, sizeof service, "%d", port);
	if (getaddrinfo(address, service, &hints, &ai) != 0)
		return 0;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, rc = 0;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			srv_fail(cause, SRV_E_INTERNAL, "cannot listen on %s:%d: %s", address, port,
			    strerror(errno));
			rc = -1;
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return rc;
}

static int
serve(struct srv_config *cfg, int with_demo)
{
	char *cause = NULL;
	uv_loop_t loop;
	raise_fd_limit();
	if (port_free(cfg->listen_address, cfg->port, &cause) != 0) {
		log_error("server", "cannot listen|detail=\"%s\"", cause);
		free(cause);
		return 1;
	}
	if (ensure_dir(cfg->data_dir) != 0)
		return 1;
	if ((cfg->tls_cert[0] || cfg->tls_key[0]) &&
	    (access(cfg->tls_cert, R_OK) != 0 || access(cfg->tls_key, R_OK) != 0)) {
		log_error("server", "tls.cert and tls.key must both name readable PEM files|cert=%s key=%s",
		    cfg->tls_cert, cfg->tls_key);
		return 1;
	}
	if (gw_registry_check(gw_builtin, &cause) != 0) {
		log_error("server", "adapter registry refused|detail=\"%s\"", cause);
		free(cause);
		return 1;
	}
	uv_loop_init(&loop);
	memset(&srv, 0, sizeof srv);
	srv.loop = &loop;
	srv.cfg = cfg;
	srv.adapters = gw_builtin;
	srv.start_ns = srv_mono_ns();
	srv.gw_host = (struct gw_host){ .api_version = GW_API_VERSION, .now_us = host_now,
		.log = host_log, .ctx = &srv };
	int na = 0;
	while (gw_builtin[na])
		na++;
	srv.intake = xcalloc((size_t)na + 1, sizeof *srv.intake);

	char *path = db_path(cfg);
	struct db_store_opts so = { .batch_max = cfg->store_batch_max,
		.backlog_max = cfg->store_backlog_max, .cache_bytes = cfg->store_cache,
		.dup_radius_m = cfg->dispatch_dup_radius_m,
		.dup_window_us = (int64_t)cfg->dispatch_dup_window_s * 1000000 };
	for (int i = 0; i < 4; i++)
		so.ack_limit_us[i] = (int64_t)cfg->dispatch_ack_s[i] * 1000000;
	so.unit_status_limit_us[DSP_U_DISPATCHED] = (int64_t)cfg->dispatch_unit_limit_s[0] * 1000000;
	so.unit_status_limit_us[DSP_U_EN_ROUTE] = (int64_t)cfg->dispatch_unit_limit_s[1] * 1000000;
	so.unit_status_limit_us[DSP_U_ON_SCENE] = (int64_t)cfg->dispatch_unit_limit_s[2] * 1000000;
	/* The hub is created after the store knows the last seq; publish goes through srv. */
	if (db_store_open(&srv.store, &loop, path, &so, hub_publish, NULL, &cause) != 0 ||
	    db_reader_open(&srv.reader, &loop, path, cfg->store_read_conns, &cause) != 0) {
		log_error("server", "cannot open the store|path=%s detail=\"%s\"", path, cause);
		free(cause);
		free(path);
		return abandon_start(&loop);
	}
	if (strcmp(cfg->intake_auth, "keys") == 0 && auth_open(&srv.auth, &loop, path, &cause) != 0) {
		log_error("server", "cannot read the gateway keys|detail=\"%s\"", cause);
		free(cause);
		free(path);
		return abandon_start(&loop);
	}
	struct hub_opts ho = { .ring = cfg->hub_ring, .queue_max = cfg->ws_queue_max,
		.queue_bytes = (size_t)cfg->ws_queue_bytes, .replay_max = cfg->hub_replay_max,
		.snapshot_max = cfg->hub_snapshot_max, .max_message = (size_t)cfg->ws_max_message,
		.msg_rate = cfg->user_rate, .msg_burst = cfg->user_burst };
	srv.hub = hub_new(&loop, srv.reader, &ho, db_store_last_seq(srv.store));
	db_store_set_publisher(srv.store, publish_change, NULL);
	db_store_set_deadline_hook(srv.store, on_deadline, NULL);
	if (dsp_live_open(&srv, path, &cause) != 0 ||
	    dsp_live_load_plans(&srv, "system:start", &cause) != 0) {
		log_error("server", "cannot start the dispatch engine|detail=\"%s\"", cause);
		free(cause);
		free(path);
		dsp_live_close(&srv);
		return abandon_start(&loop);
	}
	if (strcmp(cfg->console_auth, "users") == 0 && srv_users_open(&srv, path, &cause) != 0) {
		log_error("server", "cannot read the users|detail=\"%s\"", cause);
		free(cause);
		free(path);
		dsp_live_close(&srv);
		return abandon_start(&loop);
	}

	if (conf_live_open(&srv, &cause) != 0) {
		log_error("server", "cannot start the conference bridge|detail=\"%s\"", cause);
		free(cause);
		free(path);
		dsp_live_close(&srv);
		srv_users_close(&srv);
		return abandon_start(&loop);
	}

	if (srv_http_start(&srv, &cause) != 0) {
		/*
		 * Only when the port was taken between port_free() and now: lws 4.1
		 * cannot tear down a context whose vhost failed (its libuv handles
		 * close into the unloaded event-library plugin), so leave at once.
		 */
		log_error("server", "cannot listen|detail=\"%s\"", cause);
		_exit(1);
	}
	if ((srv.webhook = srv_webhook_start(&srv, path)) == NULL) {
		free(path);
		srv_http_stop(&srv);
		return abandon_start(&loop);
	}
	audit_start();
	log_info("server", "listening|address=%s port=%d db=%s console=%s intake_auth=%s seq=%lld sqlite=%s lws=%s",
	    cfg->listen_address, srv.port, path, cfg->console_dir, cfg->intake_auth,
	    (long long)db_store_last_seq(srv.store), sqlite3_libversion(), lws_get_library_version());
	free(path);

	uv_signal_init(&loop, &sig_int);
	uv_signal_init(&loop, &sig_term);
	uv_signal_start(&sig_int, on_signal, SIGINT);
	uv_signal_start(&sig_term, on_signal, SIGTERM);
	uv_timer_init(&loop, &stop_timer);
	srv.backups = srv_backup_start(&srv);
	if (with_demo)
		srv_demo_start(&srv);

	uv_run(&loop, UV_RUN_DEFAULT);
	/*
	 * lws 4.1 frees a foreign-loop context only on a second destroy, once its
	 * own libuv handles have closed: they have, now that the loop is idle.
	 */
	srv_http_finish(&srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	hub_free(srv.hub);
	free(srv.intake);
	int rc = uv_loop_close(&loop);
	if (rc != 0)
		log_warn("server", "loop closed with handles open|error=%s", uv_err_name(rc));
	log_info("server", "stopped");
	return 0;
}

static int
cmd_migrate(struct srv_config *cfg)
{
	char *cause = NULL, *path = db_path(cfg);
	sqlite3 *db = NULL;
	int rc = 1;
	if (ensure_dir(cfg->data_dir) == 0 && sqlite3_open(path, &db) == SQLITE_OK &&
	    db_schema_migrate(db, &cause) == 0) {
		printf("%s: schema version %d\n", path, db_schema_version());
		rc = 0;
	} else {
		fprintf(stderr, "liandong migrate: %s: %s\n", path, cause ? cause : sqlite3_errmsg(db));
	}
	sqlite3_close(db);
	free(cause);
	free(path);
	return rc;
}

static int
cmd_journal(struct srv_config *cfg, long long after, long long limit)
{
	char *path = db_path(cfg);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = 1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "SELECT frame FROM journal WHERE seq>?1 ORDER BY seq LIMIT ?2", -1,
		&st, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(st, 1, after);
		sqlite3_bind_int64(st, 2, limit);
		while (sqlite3_step(st) == SQLITE_ROW)
			printf("%s\n", sqlite3_column_text(st, 0));
		rc = 0;
	} else {
		fprintf(stderr, "liandong journal: %s: %s\n", path, sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return rc;
}

int
main(int argc, char **argv)
{
	/*
	 * No allocation statistics: with them every SQLite malloc and free takes
	 * a global mutex, which the writer and the readers then contend for.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("liandong %s\n", LIANDONG_VERSION);
		return 0;
	}
	struct srv_config cfg;
	srv_config_defaults(&cfg);
	if (strcmp(cmd, "gateway") == 0) {
		int rc = srv_admin_gateway(argc - 2, argv + 2, &cfg);
		srv_config_free(&cfg);
		return rc;
	}
	if (strcmp(cmd, "user") == 0) {
		int rc = srv_users_cli(argc - 2, argv + 2, &cfg);
		srv_config_free(&cfg);
		return rc;
	}
	if (strcmp(cmd, "import") == 0) {
		int rc = srv_gis_import_cmd(argc - 2, argv + 2, &cfg);
		srv_config_free(&cfg);
		return rc;
	}
	char *cause = NULL;
	long long after = 0, limit = 1000;
	int rc = 0, first = 2;
	const char *target = NULL; /* backup PATH, restore FILE */
	if ((strcmp(cmd, "backup") == 0 || strcmp(cmd, "restore") == 0)) {
		if (argc < 3 || argv[2][0] == '-') {
			fprintf(stderr, "liandong %s: needs a %s\n", cmd,
			    strcmp(cmd, "backup") == 0 ? "destination PATH" : "backup FILE");
			srv_config_free(&cfg);
			return 2;
		}
		target = argv[2];
		first = 3;
	}
	for (int i = first; i < argc && rc == 0; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		const char *key = NULL;
		if (strcmp(a, "--port") == 0)
			key = "listen.port";
		else if (strcmp(a, "--listen") == 0)
			key = "listen.address";
		else if (strcmp(a, "--data") == 0)
			key = "data.dir";
		else if (strcmp(a, "--console") == 0)
			key = "console.dir";
		else if (strcmp(a, "--log-level") == 0)
			key = "log.level";
		if (v == NULL && (key || strcmp(a, "--config") == 0 || strcmp(a, "--set") == 0 ||
				     strcmp(a, "--after") == 0 || strcmp(a, "--limit") == 0)) {
			fprintf(stderr, "liandong: %s needs a value\n", a);
			rc = 2;
			break;
		}
		if (key) {
			char *s = xasprintf("%s=%s", key, v);
			rc = srv_config_set(&cfg, s, &cause);
			free(s);
			i++;
		} else if (strcmp(a, "--config") == 0) {
			rc = srv_config_load(&cfg, v, &cause);
			i++;
		} else if (strcmp(a, "--set") == 0) {
			rc = srv_config_set(&cfg, v, &cause);
			i++;
		} else if (strcmp(a, "--after") == 0) {
			after = atoll(v);
			i++;
		} else if (strcmp(a, "--limit") == 0) {
			limit = atoll(v);
			i++;
		} else {
			fprintf(stderr, "liandong: unknown option '%s'\n", a);
			usage(stderr);
			rc = 2;
		}
	}
	if (rc != 0) {
		if (cause)
			fprintf(stderr, "liandong: configuration: %s\n", cause);
		free(cause);
		srv_config_free(&cfg);
		return 2;
	}
	srv_log_set_level((enum srv_log_level)srv_log_parse_level(cfg.log_level));

	if (strcmp(cmd, "serve") == 0)
		rc = serve(&cfg, 0);
	else if (strcmp(cmd, "demo") == 0)
		rc = serve(&cfg, 1);
	else if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(&cfg);
	else if (strcmp(cmd, "backup") == 0)
		rc = srv_backup_cli(&cfg, target);
	else if (strcmp(cmd, "restore") == 0)
		rc = srv_restore_cli(&cfg, target);
	else if (strcmp(cmd, "journal") == 0)
		rc = cmd_journal(&cfg, after, limit);
	else if (strcmp(cmd, "config") == 0)
		srv_config_print(&cfg, stdout);
	else if (strcmp(cmd, "adapters") == 0)
		for (int i = 0; gw_builtin[i]; i++)
			printf("%-10s %-20s %s\n", gw_builtin[i]->name, gw_builtin[i]->content_types[0],
			    gw_builtin[i]->summary);
	else {
		fprintf(stderr, "liandong: unknown command '%s'\n", cmd);
		usage(stderr);
		rc = 2;
	}
	srv_config_free(&cfg);
	return rc;
}
