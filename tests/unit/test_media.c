/*
 * test_media.c - the media bridge on a real RTSP source (liandong-rtsp-source
 * as a child process): a source goes live, a viewer gets an H.264 offer with
 * the stream's own profile, the source killed and restarted is reconnected,
 * an unreachable source ends down. And the URI and SDP checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "media.h"

extern char **environ;

#define MAX_EV 512
struct seen {
	int n;
	struct media_event ev[MAX_EV];
	char text[MAX_EV][4096];
};

static void
on_event(void *ctx, const struct media_event *ev)
{
	struct seen *s = ctx;
	if (s->n == MAX_EV)
		return;
	s->ev[s->n] = *ev;
	snprintf(s->text[s->n], sizeof s->text[0], "%s", ev->text ? ev->text : "");
	s->ev[s->n].text = s->text[s->n];
	s->n++;
}

/* Run the loop until an event matching (type, state) arrives after index from; its index or -1. */
static int
wait_for(uv_loop_t *loop, struct seen *s, int from, enum media_ev type, const char *state,
    int seconds)
{
	for (int i = 0; i < seconds * 50; i++) {
		for (int k = from; k < s->n; k++)
			if (s->ev[k].type == type && (state == NULL || strcmp(s->ev[k].state, state) == 0))
				return k;
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(20000);
	}
	return -1;
}

static int
free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	bind(fd, (struct sockaddr *)&a, sizeof a);
	socklen_t len = sizeof a;
	getsockname(fd, (struct sockaddr *)&a, &len);
	close(fd);
	return ntohs(a.sin_port);
}

static pid_t
start_source(int port)
{
	const char *bin = getenv("LIANDONG_RTSP_SOURCE");
	assert_non_null(bin);
	char p[16];
	snprintf(p, sizeof p, "%d", port);
	char *argv[] = { (char *)bin, "--port", p, "--size", "320x180", "--fps", "10", NULL };
	pid_t pid;
	assert_int_equal(posix_spawn(&pid, bin, NULL, NULL, argv, environ), 0);
	return pid;
}

static void
stop_source(pid_t pid, int sig)
{
	kill(pid, sig);
	waitpid(pid, NULL, 0);
}

static struct media_opts
opts(void)
{
	return (struct media_opts){ .queue_max = 64, .events_max = 1024, .backoff_min_ms = 200,
		.backoff_max_ms = 1000, .down_after = 3, .stall_ms = 3000, .latency_ms = 50,
		.viewer_bytes = 1 << 20, .answer_timeout_ms = 30000 };
}

static void
stop_media(uv_loop_t *loop, struct media *m, struct seen *s)
{
	media_stop(m);
	assert_true(wait_for(loop, s, 0, MEDIA_EV_STOPPED, NULL, 30) >= 0);
	media_free(m);
	uv_run(loop, UV_RUN_DEFAULT);
}

static void
test_live_offer_reconnect(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	int port = free_port();
	pid_t src = start_source(port);
	char uri[64];
	snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/conf", port);
	struct seen *s = calloc(1, sizeof *s);
	struct media *m;
	char *cause = NULL;
	struct media_opts o = opts();
	assert_int_equal(media_start(&m, &loop, &o, on_event, s, &cause), 0);
	assert_int_equal(media_source_add(m, 7, 0, uri), 0);
	int live = wait_for(&loop, s, 0, MEDIA_EV_SOURCE, "live", 30);
	assert_true(live >= 0);
	assert_int_equal(s->ev[live].conf, 7);

	/* A viewer: an offer with H.264 (the source's own profile-level-id) and Opus. */
	assert_int_equal(media_peer_new(m, 41, 7, 0), 0);
	int offer = wait_for(&loop, s, 0, MEDIA_EV_OFFER, NULL, 30);
	assert_true(offer >= 0);
	assert_int_equal(s->ev[offer].peer, 41);
	const char *sdp = s->ev[offer].text;
	if (strstr(sdp, "H264/90000") == NULL)
		fprintf(stderr, "offer:\n%s\n", sdp);
	assert_non_null(strstr(sdp, "H264/90000"));
	assert_non_null(strstr(sdp, "profile-level-id=42"));
	assert_non_null(strstr(sdp, "OPUS/48000/2"));
	assert_non_null(strstr(sdp, "a=sendonly"));
	assert_int_equal(media_sdp_has_h264(sdp, strlen(sdp)), 1);
	struct media_stats st;
	media_get_stats(m, &st);
	assert_int_equal(st.viewers, 1);
	/* An answer without H.264 closes that viewer with no_h264. */
	const char *vp8 = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			  "m=video 9 UDP/TLS/RTP/SAVPF 100\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:100 VP8/90000\r\n";
	assert_int_equal(media_peer_answer(m, 41, vp8), 0);
	int closed = wait_for(&loop, s, offer, MEDIA_EV_PEER, "failed", 30);
	assert_true(closed >= 0);
	assert_string_equal(s->ev[closed].code, "no_h264");
	media_get_stats(m, &st);
	assert_int_equal(st.viewers, 0);

	/* The source is killed: reconnecting; restarted on the same port: live again. */
	stop_source(src, SIGKILL);
	int lost = wait_for(&loop, s, live + 1, MEDIA_EV_SOURCE, "reconnecting", 30);
	assert_true(lost >= 0);
	src = start_source(port);
	int back = wait_for(&loop, s, lost + 1, MEDIA_EV_SOURCE, "live", 60);
	assert_true(back >= 0);
	stop_source(src, SIGTERM);
	stop_media(&loop, m, s);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(s);
}

static void
test_unreachable_goes_down(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct seen *s = calloc(1, sizeof *s);
	struct media *m;
	char *cause = NULL;
	struct media_opts o = opts();
	assert_int_equal(media_start(&m, &loop, &o, on_event, s, &cause), 0);
	char uri[64];
	snprintf(uri, sizeof uri, "rtsp://127.0.0.1:%d/none", free_port());
	assert_int_equal(media_source_add(m, 3, 1, uri), 0);
	int down = wait_for(&loop, s, 0, MEDIA_EV_SOURCE, "down", 60);
	assert_true(down >= 0);
	assert_string_equal(s->ev[down].code, "unreachable");
	assert_int_equal(s->ev[down].source, 1);
	/* A viewer of a source that is not live is refused with a reason. */
	assert_int_equal(media_peer_new(m, 5, 3, 1), 0);
	int f = wait_for(&loop, s, 0, MEDIA_EV_PEER, "failed", 30);
	assert_true(f >= 0);
	assert_string_equal(s->ev[f].code, "source_not_live");
	stop_media(&loop, m, s);
	assert_int_equal(uv_loop_close(&loop), 0);
	free(s);
}

static void
test_uri_check(void **state)
{
	const char *why;
	assert_int_equal(media_uri_check("rtsp://127.0.0.1:8554/conf", &why), 0);
	assert_int_equal(media_uri_check("rtsps://user:pw@example.org/live?x=1", &why), 0);
	assert_int_equal(media_uri_check("rtsp://[::1]:554/a", &why), 0);
	assert_int_equal(media_uri_check("srt://host:9000", &why), 0);
	assert_int_equal(media_uri_check("srt://10.1.2.3:9000?mode=caller&latency=200&streamid=a", &why), 0);
	assert_int_equal(media_uri_check("srt://:9000?mode=listener", &why), 0);
	assert_int_equal(media_uri_check("rtp://239.1.1.1:5004", &why), 0);
	assert_int_equal(media_uri_check("rtp://0.0.0.0:5000", &why), 0);
	const char *bad[] = { "", "http://example.org/x", "rtsp://", "rtsp://host:99999/x",
		"rtsp://host:abc/x", "rtsp://host/a b", "srt://host", "srt://:9000",
		"srt://h:9000?mode=push", "srt://h:9000/path", "rtp://h:5001", "rtp://h:5000/x",
		"rtp://h:5000?x=1", "rtp://u@h:5000", "rtp://:5000", "rtp://h:65534", "udp://h:5000",
		"rtsp://host:/x", "rtsp://h\x01st/x", "not a uri" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		assert_int_equal(media_uri_check(bad[i], &why), -1);
		assert_non_null(why);
	}
	assert_int_equal(media_uri_check(NULL, &why), -1);
}

static void
test_return_check(void **state)
{
	const char *why;
	const char *good[] = { "rtp://127.0.0.1:5000", "rtp://239.0.0.9:6000", "srt://h:7001",
		"srt://:7001?mode=listener", "srt://h:7001?mode=caller&passphrase=0123456789" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		assert_int_equal(media_return_check(good[i], &why), 0);
		assert_int_equal(media_uri_kind(good[i]), good[i][0] == 'r' ? MEDIA_URI_RTP : MEDIA_URI_SRT);
	}
	assert_int_equal(media_return_check("rtsp://10.0.0.5:8554/return", &why), 0);
	assert_int_equal(media_return_check("rtsps://mcu.example.org/conf/back", &why), 0);
	const char *bad[] = { "", "rtsp:///x", "rtsp://h/a b", "rtp://h:5001", "rtp://h", "rtp://h:5000/x",
		"srt://h", "srt://:7001", "srt://h:7001?mode=x", "srt://h:70000", "http://h:80",
		"rtp://h:5000?ttl=3" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		assert_int_equal(media_return_check(bad[i], &why), -1);
		assert_non_null(why);
	}
	assert_int_equal(media_uri_kind("rtsp://h/x"), MEDIA_URI_RTSP);
}

static void
test_sdp_check(void **state)
{
	const char *h264 = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			   "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n"
			   "m=video 9 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n";
	assert_int_equal(media_sdp_has_h264(h264, strlen(h264)), 1);
	const char *rejected = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			       "m=video 0 UDP/TLS/RTP/SAVPF 102\r\na=rtpmap:102 H264/90000\r\n";
	assert_int_equal(media_sdp_has_h264(rejected, strlen(rejected)), 0);
	const char *audio = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
			    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n";
	assert_int_equal(media_sdp_has_h264(audio, strlen(audio)), 0);
	assert_int_equal(media_sdp_has_h264("hello", 5), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uri_check),
		cmocka_unit_test(test_return_check),
		cmocka_unit_test(test_sdp_check),
		cmocka_unit_test(test_unreachable_goes_down),
		cmocka_unit_test(test_live_offer_reconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
