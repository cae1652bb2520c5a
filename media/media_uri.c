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

int
media_uri_check(const char *uri, const char **why)
{
	*why = NULL;
	if (uri == NULL || uri[0] == '\0') {
		*why = "the URI is empty";
		return -1;
	}
	size_t n = strlen(uri);
	if (n > 1024) {
		*why = "the URI is longer than 1024 bytes";
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
	/* GLib's RFC 3986 parser: it needs no gst_init, so the loop can call it. */
	GUri *u = g_uri_parse(uri, G_URI_FLAGS_NON_DNS, NULL);
	if (u == NULL) {
		*why = "the URI cannot be parsed (RFC 3986)";
		return -1;
	}
	const char *scheme = g_uri_get_scheme(u);
	const char *host = g_uri_get_host(u);
	int rc = 0;
	if (scheme == NULL || (g_ascii_strcasecmp(scheme, "rtsp") != 0 &&
	    g_ascii_strcasecmp(scheme, "rtsps") != 0 && g_ascii_strcasecmp(scheme, "rtspt") != 0)) {
		*why = "the scheme must be rtsp, rtspt or rtsps (SRT and RTP sources are not supported yet)";
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
	if (uri == NULL || strlen(uri) > 256 || strncmp(uri, "rtp://", 6) != 0) {
		*why = "a return feed is rtp://host:port (RTSP record and SRT are not supported yet)";
		return -1;
	}
	GUri *u = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
	if (u == NULL || g_uri_get_host(u) == NULL || g_uri_get_host(u)[0] == '\0') {
		if (u)
			g_uri_unref(u);
		*why = "the return feed URI has no host";
		return -1;
	}
	int port = g_uri_get_port(u);
	const char *path = g_uri_get_path(u);
	int rc = 0;
	if (port < 1 || port > 65533 || port % 2) {
		*why = "the return feed needs an even port 2-65532 (audio goes to port+2)";
		rc = -1;
	} else if (path && path[0] && strcmp(path, "/") != 0) {
		*why = "an rtp:// return feed has no path";
		rc = -1;
	}
	g_uri_unref(u);
	return rc;
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
