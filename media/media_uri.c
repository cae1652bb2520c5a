/*
 * media_uri.c - checks on what comes from outside the media thread: source
 * URIs (before they are stored) and browsers' SDP (before webrtcbin sees it).
 * Both lean on library parsers (GLib's GUri, GStreamer's GstSDPMessage),
 * which need no gst_init and never block, so the loop thread may call them.
 */
#include "media.h"

#include <glib.h>
#include <gst/sdp/sdp.h>
#include <string.h>

/* The authority's port, when there is one, is all digits (GstUri drops one it cannot read). */
static int
port_text_bad(const char *uri)
{
	const char *a = strstr(uri, "://");
	if (a == NULL)
		return 1;
	a += 3;
	size_t n = strcspn(a, "/?#");
	const char *at = memchr(a, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	if (n && a[0] == '[') { /* [v6]:port */
		const char *close = memchr(a, ']', n);
		if (close == NULL)
			return 1;
		n -= (size_t)(close + 1 - a);
		a = close + 1;
	}
	const char *colon = memchr(a, ':', n);
	if (colon == NULL)
		return 0;
	size_t digits = n - (size_t)(colon + 1 - a);
	if (digits == 0 || digits > 5)
		return 1;
	long v = 0;
	for (size_t i = 0; i < digits; i++) {
		if (colon[1 + i] < '0' || colon[1 + i] > '9')
			return 1;
		v = v * 10 + (colon[1 + i] - '0');
	}
	return v < 1 || v > 65535;
}

/* Spaces, control and non-ASCII characters, length, a port that is not 1-65535. */
static int
uri_text_bad(const char *uri, size_t max, const char **why)
{
	if (uri == NULL || uri[0] == '\0') {
		*why = "the URI is empty";
		return -1;
	}
	size_t n = strlen(uri);
	if (n > max) {
		*why = max == 1024 ? "the URI is longer than 1024 bytes" : "the URI is longer than 256 bytes";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)uri[i];
		if (c <= 0x20 || c >= 0x7f) {
			*why = "the URI has spaces, control or non-ASCII characters (percent-encode them)";
			return -1;
		}
	}
	if (strstr(uri, "://") && port_text_bad(uri)) {
		*why = "the port must be a number 1-65535";
		return -1;
	}
	return 0;
}

/* srt://: "caller" (the default), "listener" or "rendezvous"; NULL for anything else. */
static const char *
srt_mode(GUri *u)
{
	const char *q = g_uri_get_query(u);
	GHashTable *params = q ? g_uri_parse_params(q, -1, "&", G_URI_PARAMS_NONE, NULL) : NULL;
	if (q && params == NULL)
		return NULL;
	const char *m = params ? g_hash_table_lookup(params, "mode") : NULL;
	const char *mode = m == NULL || strcmp(m, "caller") == 0 ? "caller"
	    : strcmp(m, "listener") == 0 ? "listener" : strcmp(m, "rendezvous") == 0 ? "rendezvous" : NULL;
	if (params)
		g_hash_table_unref(params);
	return mode;
}

/*
 * The SRT and RTP forms, shared by sources and return feeds: srt://host:port
 * (host optional for a listener; query passed to libsrt), rtp://host:port
 * (an even port: video there, audio on port+2; no path or query).
 */
static int
srt_rtp_check(GUri *u, const char **why)
{
	const char *scheme = g_uri_get_scheme(u), *host = g_uri_get_host(u), *path = g_uri_get_path(u);
	int port = g_uri_get_port(u);
	int has_host = host && host[0];
	if (g_ascii_strcasecmp(scheme, "srt") == 0) {
		const char *mode = srt_mode(u);
		if (mode == NULL)
			*why = "srt:// takes mode=caller, listener or rendezvous";
		else if (!has_host && strcmp(mode, "listener") != 0)
			*why = "an srt:// caller needs the host to call";
		else if (port < 1 || port > 65535)
			*why = "srt:// needs a port 1-65535";
		else if (path && path[0] && strcmp(path, "/") != 0)
			*why = "an srt:// URI has no path (a stream id goes in ?streamid=)";
		return *why ? -1 : 0;
	}
	if (!has_host)
		*why = "rtp:// needs the address (a local one to listen on, or the peer or multicast group)";
	else if (port < 2 || port > 65532 || port % 2)
		*why = "rtp:// needs an even port 2-65532 (video on it, audio on port+2)";
	else if ((path && path[0] && strcmp(path, "/") != 0) || g_uri_get_query(u) ||
	    g_uri_get_userinfo(u))
		*why = "an rtp:// URI is only rtp://host:port";
	return *why ? -1 : 0;
}

int
media_uri_check(const char *uri, const char **why)
{
	*why = NULL;
	if (uri_text_bad(uri, 1024, why))
		return -1;
	/* GLib's RFC 3986 parser: it needs no gst_init, so the loop can call it. */
	GUri *u = g_uri_parse(uri, G_URI_FLAGS_NON_DNS | G_URI_FLAGS_ENCODED_QUERY, NULL);
	if (u == NULL) {
		*why = "the URI cannot be parsed (RFC 3986)";
		return -1;
	}
	const char *scheme = g_uri_get_scheme(u);
	const char *host = g_uri_get_host(u);
	int rc = 0;
	if (scheme && (g_ascii_strcasecmp(scheme, "srt") == 0 || g_ascii_strcasecmp(scheme, "rtp") == 0)) {
		rc = srt_rtp_check(u, why);
	} else if (scheme == NULL || (g_ascii_strcasecmp(scheme, "rtsp") != 0 &&
	    g_ascii_strcasecmp(scheme, "rtsps") != 0 && g_ascii_strcasecmp(scheme, "rtspt") != 0)) {
		*why = "the scheme must be rtsp, rtspt, rtsps, srt or rtp";
		rc = -1;
	} else if (host == NULL || host[0] == '\0') {
		*why = "the URI has no host";
		rc = -1;
	} else if (g_uri_get_port(u) == 0 || g_uri_get_port(u) > 65535) {
		*why = "the port must be a number 1-65535";
		rc = -1;
	}
	g_uri_unref(u);
	return rc;
}

int
media_return_check(const char *uri, const char **why)
{
	*why = NULL;
	if (uri_text_bad(uri, 256, why))
		return -1;
	GUri *u = g_uri_parse(uri, G_URI_FLAGS_NON_DNS | G_URI_FLAGS_ENCODED_QUERY, NULL);
	const char *scheme = u ? g_uri_get_scheme(u) : NULL;
	int rc = -1;
	if (scheme && (g_ascii_strcasecmp(scheme, "rtsp") == 0 || g_ascii_strcasecmp(scheme, "rtsps") == 0 ||
	    g_ascii_strcasecmp(scheme, "rtspt") == 0)) {
		/* RTSP record (ANNOUNCE + RECORD) to the province's server, at that path. */
		const char *host = g_uri_get_host(u);
		if (host == NULL || host[0] == '\0')
			*why = "an rtsp:// return feed needs the host of the server that takes the recording";
		else
			rc = 0;
	} else if (scheme == NULL || (g_ascii_strcasecmp(scheme, "rtp") != 0 &&
	    g_ascii_strcasecmp(scheme, "srt") != 0)) {
		*why = "a return feed is rtp://host:port, srt://host:port or rtsp://host[:port]/path (RTSP record)";
	} else {
		rc = srt_rtp_check(u, why);
	}
	if (u)
		g_uri_unref(u);
	return rc;
}

/* Which kind of source or return URI (already checked). */
enum media_uri_kind
media_uri_kind(const char *uri)
{
	if (g_ascii_strncasecmp(uri, "srt://", 6) == 0)
		return MEDIA_URI_SRT;
	if (g_ascii_strncasecmp(uri, "rtp://", 6) == 0)
		return MEDIA_URI_RTP;
	return MEDIA_URI_RTSP;
}

int
media_sdp_has_h264(const char *sdp, size_t len)
{
	GstSDPMessage *msg = NULL;
	if (gst_sdp_message_new(&msg) != GST_SDP_OK)
		return -1;
	if (gst_sdp_message_parse_buffer((const guint8 *)sdp, (guint)len, msg) != GST_SDP_OK ||
	    gst_sdp_message_medias_len(msg) == 0) {
		gst_sdp_message_free(msg);
		return -1;
	}
	int video = 0, h264 = 0;
	for (guint i = 0; i < gst_sdp_message_medias_len(msg); i++) {
		const GstSDPMedia *md = gst_sdp_message_get_media(msg, i);
		if (g_strcmp0(gst_sdp_media_get_media(md), "video") != 0)
			continue;
		video = 1;
		if (gst_sdp_media_get_port(md) == 0)
			continue;
		for (guint j = 0; j < gst_sdp_media_attributes_len(md) && !h264; j++) {
			const GstSDPAttribute *a = gst_sdp_media_get_attribute(md, j);
			if (g_strcmp0(a->key, "rtpmap") == 0 && a->value &&
			    g_strstr_len(a->value, -1, " ") &&
			    g_ascii_strncasecmp(strchr(a->value, ' ') + 1, "H264/", 5) == 0)
				h264 = 1;
		}
	}
	gst_sdp_message_free(msg);
	return video && h264 ? 1 : 0;
}

const char *
media_strerror(int err)
{
	switch (err) {
	case 0: return "ok";
	case MEDIA_E_BUSY: return "the media command queue is full";
	case MEDIA_E_INVALID: return "invalid argument";
	case MEDIA_E_STOPPED: return "the media bridge is stopping";
	default: return "unknown media error";
	}
}
