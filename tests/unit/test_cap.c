/*
 * Unit tests for the OASIS CAP 1.2 adapter (gateways/gw_cap.c), on the
 * real published alerts in the shared fixtures (fixtures/SOURCES.md).
 *
 * Fixtures: argv[1], else $LIANDONG_FIXTURES, else ../../../shared/fixtures
 * (from build/tests, where CTest runs this). A missing folder fails the run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fixtures.h"
#include "gw_xml-int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gw_adapter.h"
#include "srv_error.h"
#include "srv_util.h"


/* A CAP report's reference: sender/identifier, derived when outside the alphabet. */
static void
expect_ref(const char *got, const char *sender, const char *identifier)
{
	char *key = xasprintf("%s/%s", sender, identifier);
	char *want = gw_ext_ref_from(key, NULL);
	assert_string_equal(got, want);
	free(want);
	free(key);
}



static const struct gw_adapter *
cap(void)
{
	const struct gw_adapter *a = gw_registry_find(gw_builtin, "cap");
	assert_non_null(a);
	return a;
}


/* s with the first `from` replaced by `to` (which must be there). */
static char *
subst(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	if (p == NULL)
		fail_msg("'%s' not in the document", from);
	return xasprintf("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}

static int
parse(const char *doc, size_t len, struct gw_report *rep, char **cause)
{
	memset(rep, 0, sizeof *rep);
	*cause = NULL;
	return cap()->parse(&host, doc, len, rep, cause);
}

/* The document is refused with code and a cause holding needle; nothing comes back. */
static void
expect_refused(const char *doc, size_t len, int code, const char *needle)
{
	struct gw_report rep;
	char *cause = NULL;
	int rc = parse(doc, len, &rep, &cause);
	if (rc != code)
		fail_msg("expected %s, got %d (%s): %s", srv_err_code(code), rc,
		    rc ? srv_err_code(rc) : "ok", cause ? cause : "(no cause)");
	if (cause == NULL || strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause ? cause : "(none)", needle);
	assert_null(rep.inc.ext_ref);
	assert_null(rep.inc.details);
	assert_int_equal(rep.ntargets, 0);
	free(cause);
}

static void
expect_refused_str(const char *doc, int code, const char *needle)
{
	expect_refused(doc, strlen(doc), code, needle);
}

static json_t *
details_of(const struct gw_report *rep)
{
	assert_non_null(rep->inc.details);
	assert_true(strlen(rep->inc.details) <= INC_DETAILS_MAX);
	json_t *d = json_loads(rep->inc.details, 0, NULL);
	assert_non_null(d);
	return d;
}

static int64_t
t(const char *s)
{
	int64_t us;
	assert_int_equal(srv_parse_time(s, &us), 0);
	return us;
}

static void
baoding_update_with_references(void **state)
{
	size_t len;
	char *doc = load("cap/cn-baoding-thunder-update.xml", &len), *cause;
	struct gw_report rep;
	assert_int_equal(parse(doc, len, &rep, &cause), 0);
	struct incident *inc = &rep.inc;
	assert_string_equal(inc->ext_ref,
	    "Baoding_Meteorological_Observatory/13060041600000_20240712213138");
	assert_int_equal(rep.action, GW_UPDATE);
	assert_int_equal(rep.version, 0);
	assert_int_equal(rep.ntargets, 1);
	assert_string_equal(rep.targets[0],
	    "Baoding_Meteorological_Observatory/13060041600000_20240712073642");
	assert_int_equal(inc->line, INC_LINE_OTHER);
	assert_int_equal(inc->category, INC_CAT_NATURAL_DISASTER);
	assert_string_equal(inc->type, "cap.met");
	assert_int_equal(inc->priority, 3); /* Moderate, urgency Unknown: yellow, level III */
	/* zh-CN is preferred over the first (en-US) block. */
	assert_string_equal(inc->title, "保定市气象台更新雷电黄色预警[Ⅲ级/较重]");
	assert_non_null(strstr(inc->description, "保定市气象台2024年07月12日21时29分"));
	assert_string_equal(inc->address, "新市区");
	assert_int_equal(inc->reported_at, t("2024-07-12T13:31:38Z"));
	assert_false(inc->has_position); /* a geocode only */
	assert_int_equal(inc_validate(inc, NULL), 0);

	json_t *d = details_of(&rep);
	assert_string_equal(json_string_value(json_object_get(d, "identifier")),
	    "13060041600000_20240712213138");
	assert_string_equal(json_string_value(json_object_get(d, "sender")),
	    "Baoding_Meteorological_Observatory");
	assert_string_equal(json_string_value(json_object_get(d, "msgType")), "Update");
	assert_string_equal(json_string_value(json_object_get(d, "scope")), "Public");
	json_t *ref = json_array_get(json_object_get(d, "references"), 0);
	assert_string_equal(json_string_value(json_object_get(ref, "identifier")),
	    "13060041600000_20240712073642");
	assert_string_equal(json_string_value(json_object_get(ref, "sent")),
	    "2024-07-12T21:31:38+08:00");
	json_t *info = json_object_get(d, "info");
	assert_int_equal(json_array_size(info), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(info, 0), "language")),
	    "en-US");
	json_t *zh = json_array_get(info, 1);
	assert_string_equal(json_string_value(json_object_get(zh, "language")), "zh-CN");
	assert_string_equal(json_string_value(json_object_get(zh, "event")), "雷电");
	assert_string_equal(json_string_value(json_object_get(zh, "expires")),
	    "2024-07-13T03:31:38+08:00");
	assert_non_null(strstr(json_string_value(json_object_get(zh, "instruction")), "防雷"));
	json_t *geo = json_array_get(
	    json_object_get(json_array_get(json_object_get(zh, "area"), 0), "geocode"), 0);
	assert_string_equal(json_string_value(json_object_get(geo, "valueName")),
	    "CPEAS Geographic Code");
	assert_string_equal(json_string_value(json_object_get(geo, "value")), "130602000000");
	assert_null(json_object_get(d, "truncated"));
	json_decref(d);
	gw_report_clear(&rep);
	free(doc);
}

static void
nws_polygon_gives_position(void **state)
{
	size_t len;
	char *doc = load("cap/us-nws-thunderstorm-polygon.cap", &len), *cause;
	struct gw_report rep;
	assert_int_equal(parse(doc, len, &rep, &cause), 0);
	struct incident *inc = &rep.inc;
	expect_ref(inc->ext_ref, "KSTO@NWS.NOAA.GOV", "KSTO1055887203");
	assert_int_equal(rep.action, GW_REPORT);
	assert_int_equal(rep.ntargets, 0);
	assert_string_equal(inc->title, "SEVERE THUNDERSTORM WARNING");
	assert_int_equal(inc->category, INC_CAT_NATURAL_DISASTER);
	assert_int_equal(inc->priority, 1); /* Severe and Immediate */
	assert_int_equal(inc->reported_at, t("2003-06-17T21:57:00Z"));
	/* The centroid of "38.47,-120.14 38.34,-119.95 ..." (latitude first in CAP). */
	assert_true(inc->has_position);
	assert_true(inc->lon > -120.14 && inc->lon < -119.74);
	assert_true(inc->lat > 38.34 && inc->lat < 38.62);
	assert_true(fabs(inc->lon - -119.94) < 0.05 && fabs(inc->lat - 38.48) < 0.05);
	assert_non_null(strstr(inc->address, "TUOLUMNE COUNTY"));

	json_t *d = details_of(&rep);
	json_t *info = json_array_get(json_object_get(d, "info"), 0);
	json_t *area = json_array_get(json_object_get(info, "area"), 0);
	json_t *ring = json_array_get(json_object_get(area, "polygon"), 0);
	assert_int_equal(json_array_size(ring), 5);
	/* Stored longitude first. */
	assert_true(fabs(json_real_value(json_array_get(json_array_get(ring, 0), 0)) - -120.14) < 1e-9);
	assert_true(fabs(json_real_value(json_array_get(json_array_get(ring, 0), 1)) - 38.47) < 1e-9);
	assert_int_equal(json_array_size(json_object_get(area, "geocode")), 3);
	json_t *ec = json_array_get(json_object_get(info, "eventCode"), 0);
	assert_string_equal(json_string_value(json_object_get(ec, "value")), "SVR");
	assert_string_equal(json_string_value(json_array_get(json_object_get(info, "responseType"), 0)),
	    "Shelter");
	json_decref(d);
	gw_report_clear(&rep);
	free(doc);
}

static void
dhs_parameter_and_resource(void **state)
{
	size_t len;
	char *doc = load("cap/us-dhs-hsas-orange.cap", &len), *cause;
	struct gw_report rep;
	assert_int_equal(parse(doc, len, &rep, &cause), 0);
	struct incident *inc = &rep.inc;
	expect_ref(inc->ext_ref, "hsas@dhs.gov", "43b080713727");
	assert_string_equal(inc->title, "Homeland Security Sets Code ORANGE");
	assert_int_equal(inc->category, INC_CAT_SOCIAL_SECURITY);
	assert_string_equal(inc->type, "cap.security");
	assert_int_equal(inc->priority, 1);
	assert_false(inc->has_position);
	assert_string_equal(inc->address, "U.S. nationwide and interests worldwide");
	json_t *d = details_of(&rep);
	json_t *info = json_array_get(json_object_get(d, "info"), 0);
	json_t *par = json_array_get(json_object_get(info, "parameter"), 0);
	assert_string_equal(json_string_value(json_object_get(par, "valueName")), "HSAS");
	assert_string_equal(json_string_value(json_object_get(par, "value")), "ORANGE");
	json_t *res = json_array_get(json_object_get(info, "resource"), 0);
	assert_string_equal(json_string_value(json_object_get(res, "mimeType")), "image/gif");
	assert_string_equal(json_string_value(json_object_get(res, "uri")),
	    "http://www.dhs.gov/dhspublic/getAdvisoryImage");
	assert_string_equal(json_string_value(json_object_get(info, "web")),
	    "http://www.dhs.gov/dhspublic/display?theme=29");
	json_decref(d);
	gw_report_clear(&rep);
	free(doc);
}

static void
missing_scope_is_refused(void **state)
{
	size_t len;
	char *doc = load("cap/invalid-missing-scope.cap", &len);
	expect_refused(doc, len, SRV_E_MISSING_FIELD, "scope");
	free(doc);
}

/*
 * A listener on 127.0.0.1:8080, where the hostile fixture points, to see
 * that nothing connects. -1 when the port is taken (the check is skipped).
 */
static int
listen_8080(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(8080) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void
no_connection(int fd)
{
	if (fd < 0)
		return;
	int c = accept(fd, NULL, NULL);
	if (c >= 0)
		fail_msg("the parser connected to localhost:8080");
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

static void
hostile_document_is_refused(void **state)
{
	size_t len;
	char *doc = load("cap/attack-xxe-xinclude.cap", &len);
	int fd = listen_8080();
	expect_refused(doc, len, SRV_E_BAD_FIELD, "DOCTYPE");

	/* The same in UTF-16 cannot slip past the DOCTYPE scan: input is read as UTF-8. */
	char *u16 = xmalloc(len * 2 + 2);
	u16[0] = (char)0xFF;
	u16[1] = (char)0xFE;
	for (size_t i = 0; i < len; i++) {
		u16[2 + 2 * i] = doc[i];
		u16[3 + 2 * i] = 0;
	}
	expect_refused(u16, len * 2 + 2, SRV_E_BAD_FIELD, "not well-formed");
	free(u16);

	/* Without its DOCTYPE the entity is undefined: not well-formed, nothing expanded. */
	char *start = strstr(doc, "<!DOCTYPE"), *end = strstr(doc, "]>");
	assert_non_null(start);
	assert_non_null(end);
	char *nodtd = xasprintf("%.*s%s", (int)(start - doc), doc, end + 2);
	expect_refused_str(nodtd, SRV_E_BAD_FIELD, "xxe");

	/* Without the entities, the XInclude alone is refused too. */
	char *noent = xstrdup(nodtd), *p;
	while ((p = strstr(noent, "&xxe;")) != NULL)
		memmove(p, p + 5, strlen(p + 5) + 1);
	expect_refused_str(noent, SRV_E_BAD_FIELD, "XInclude");

	/* And with the XInclude gone the alert itself is fine: the rest was inert. */
	char *clean = subst(noent, "<xi:include\n    href=\"http://http://localhost:8080/1\"></xi:include>",
	    "");
	struct gw_report rep;
	char *cause;
	assert_int_equal(parse(clean, strlen(clean), &rep, &cause), 0);
	assert_null(strstr(rep.inc.details, "root:"));
	assert_null(strstr(rep.inc.details, "localhost"));
	gw_report_clear(&rep);
	no_connection(fd);
	if (fd >= 0)
		close(fd);
	free(clean);
	free(noent);
	free(nodtd);
	free(doc);
}

static void
wrong_content_and_kind(void **state)
{
	const struct gw_adapter *a = cap();
	assert_true(gw_accepts(a, "application/cap+xml"));
	assert_true(gw_accepts(a, "application/xml; charset=utf-8"));
	assert_true(gw_accepts(a, "text/xml"));
	assert_false(gw_accepts(a, "application/json"));
	assert_false(gw_accepts(a, "text/plain"));

	expect_refused_str("", SRV_E_BAD_FIELD, "empty");
	expect_refused_str("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"><identifier>x</alert>",
	    SRV_E_BAD_FIELD, "not well-formed");
	/* An EIDO posted to the CAP adapter. */
	size_t len;
	char *eido = load("eido/nena-sample-call-transfer.json", &len);
	expect_refused(eido, len, SRV_E_BAD_FIELD, "not well-formed");
	free(eido);
	/* Well-formed XML of another kind. */
	expect_refused_str("<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>x</title></feed>",
	    SRV_E_BAD_FIELD, "not a CAP 1.2 alert");
	char *doc = load("cap/us-dhs-hsas-orange.cap", NULL);
	char *v11 = subst(doc, "cap:1.2", "cap:1.1");
	expect_refused_str(v11, SRV_E_BAD_FIELD, "only CAP 1.2");
	char *nons = subst(doc, " xmlns = \"urn:oasis:names:tc:emergency:cap:1.2\"", "");
	expect_refused_str(nons, SRV_E_BAD_FIELD, "expected <alert>");
	free(v11);
	free(nons);
	free(doc);
}

static void
coordinates_are_checked(void **state)
{
	char *doc = load("cap/us-nws-thunderstorm-polygon.cap", NULL);
	const char *poly = "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14";
	char *swapped = subst(doc, poly,
	    "-120.14,38.47 -119.95,38.34 -119.74,38.52 -119.89,38.62 -120.14,38.47");
	expect_refused_str(swapped, SRV_E_BAD_FIELD, "swapped");
	char *outside = subst(doc, poly,
	    "38.47,-200.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-200.14");
	expect_refused_str(outside, SRV_E_BAD_FIELD, "outside the world");
	char *open = subst(doc, poly, "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89");
	expect_refused_str(open, SRV_E_BAD_FIELD, "not closed");
	char *junk = subst(doc, poly, "38.47;-120.14 x y z");
	expect_refused_str(junk, SRV_E_BAD_FIELD, "polygon");
	char *nan = subst(doc, poly, "nan,-120.14 38.34,-119.95 38.52,-119.74 nan,-120.14");
	expect_refused_str(nan, SRV_E_BAD_FIELD, "not a point");

	/* A circle's centre is the position when there is no polygon. */
	char *polyel = xasprintf("<polygon>%s</polygon>", poly);
	char *circle = subst(doc, polyel, "<circle>32.9525,-115.5527 15</circle>");
	struct gw_report rep;
	char *cause;
	assert_int_equal(parse(circle, strlen(circle), &rep, &cause), 0);
	assert_true(rep.inc.has_position);
	assert_true(fabs(rep.inc.lat - 32.9525) < 1e-9 && fabs(rep.inc.lon - -115.5527) < 1e-9);
	assert_non_null(strstr(rep.inc.details, "\"radius_km\":15"));
	gw_report_clear(&rep);
	char *badc = subst(doc, polyel, "<circle>32.9525,-115.5527</circle>");
	free(polyel);
	expect_refused_str(badc, SRV_E_BAD_FIELD, "circle");
	free(swapped);
	free(outside);
	free(open);
	free(junk);
	free(nan);
	free(circle);
	free(badc);
	free(doc);
}

static void
dates_and_required_fields(void **state)
{
	char *doc = load("cap/us-nws-thunderstorm-polygon.cap", NULL);
	char *bad = subst(doc, "2003-06-17T14:57:00-07:00", "2003/06/17 14:57");
	expect_refused_str(bad, SRV_E_BAD_FIELD, "<sent>");
	free(bad);
	bad = subst(doc, "2003-06-17T16:00:00-07:00", "tomorrow");
	expect_refused_str(bad, SRV_E_BAD_FIELD, "<expires>");
	free(bad);
	bad = subst(doc, "2003-06-17T14:57:00-07:00", "2003-02-30T14:57:00-07:00");
	expect_refused_str(bad, SRV_E_BAD_FIELD, "<sent>");
	free(bad);
	/* Far in the future: a clock or format error. */
	bad = subst(doc, "2003-06-17T14:57:00-07:00", "2203-06-17T14:57:00-07:00");
	expect_refused_str(bad, SRV_E_BAD_FIELD, "future");
	free(bad);
	bad = subst(doc, "<urgency>Immediate</urgency>", "");
	expect_refused_str(bad, SRV_E_MISSING_FIELD, "urgency");
	free(bad);
	bad = subst(doc, "<severity>Severe</severity>", "<severity>Awful</severity>");
	expect_refused_str(bad, SRV_E_BAD_FIELD, "severity");
	free(bad);
	bad = subst(doc, "<category>Met</category>", "");
	expect_refused_str(bad, SRV_E_MISSING_FIELD, "category");
	free(bad);
	bad = subst(doc, "<event>SEVERE THUNDERSTORM</event>", "<event> </event>");
	expect_refused_str(bad, SRV_E_MISSING_FIELD, "event");
	free(bad);
	bad = subst(doc, "<identifier>KSTO1055887203</identifier>", "");
	expect_refused_str(bad, SRV_E_MISSING_FIELD, "identifier");
	free(bad);
	bad = subst(doc, "<identifier>KSTO1055887203</identifier>",
	    "<identifier>KSTO1055887203</identifier><identifier>again</identifier>");
	expect_refused_str(bad, SRV_E_BAD_FIELD, "more than once");
	free(bad);
	bad = subst(doc, "<identifier>KSTO1055887203</identifier>", "<identifier>a b</identifier>");
	expect_refused_str(bad, SRV_E_BAD_FIELD, "spaces or commas");
	free(bad);
	char *noarea = xstrdup(doc);
	char *a0 = strstr(noarea, "<areaDesc>"), *a1 = strstr(noarea, "</areaDesc>");
	memmove(a0, a1 + 11, strlen(a1 + 11) + 1);
	expect_refused_str(noarea, SRV_E_MISSING_FIELD, "areaDesc");
	free(noarea);
	free(doc);
}

static void
msgtypes_and_status(void **state)
{
	char *doc = load("cap/us-dhs-hsas-orange.cap", NULL);
	struct gw_report rep;
	char *cause;

	char *cancel = subst(doc, "<msgType>Alert</msgType>",
	    "<msgType>Cancel</msgType><references>hsas@dhs.gov,43b080713727,2003-04-02T14:39:01-05:00 "
	    "hsas@dhs.gov,43b0807137xx,2003-04-02T15:00:00-05:00</references>");
	char *c2 = subst(cancel, "<identifier>43b080713727</identifier>",
	    "<identifier>43b080713728</identifier>");
	assert_int_equal(parse(c2, strlen(c2), &rep, &cause), 0);
	assert_int_equal(rep.action, GW_CANCEL);
	expect_ref(rep.inc.ext_ref, "hsas@dhs.gov", "43b080713728");
	assert_int_equal(rep.ntargets, 2);
	expect_ref(rep.targets[0], "hsas@dhs.gov", "43b080713727");
	expect_ref(rep.targets[1], "hsas@dhs.gov", "43b0807137xx");
	gw_report_clear(&rep);

	char *noref = subst(doc, "<msgType>Alert</msgType>", "<msgType>Update</msgType>");
	expect_refused_str(noref, SRV_E_MISSING_FIELD, "references");
	char *badref = subst(doc, "<msgType>Alert</msgType>",
	    "<msgType>Update</msgType><references>hsas@dhs.gov/43b080713727</references>");
	expect_refused_str(badref, SRV_E_BAD_FIELD, "sender,identifier,sent");
	char *ack = subst(doc, "<msgType>Alert</msgType>",
	    "<msgType>Ack</msgType><references>hsas@dhs.gov,43b080713727,2003-04-02T14:39:01-05:00"
	    "</references>");
	expect_refused_str(ack, SRV_E_BAD_FIELD, "not an alert");
	char *test = subst(doc, "<status>Actual</status>", "<status>Test</status>");
	expect_refused_str(test, SRV_E_BAD_FIELD, "Test");
	char *ex = subst(doc, "<status>Actual</status>", "<status>Exercise</status>");
	assert_int_equal(parse(ex, strlen(ex), &rep, &cause), 0);
	assert_string_equal(rep.inc.title, "[Exercise] Homeland Security Sets Code ORANGE");
	gw_report_clear(&rep);
	free(cancel);
	free(c2);
	free(noref);
	free(badref);
	free(ack);
	free(test);
	free(ex);
	free(doc);
}

static void
identifier_outside_the_alphabet(void **state)
{
	char *doc = load("cap/us-dhs-hsas-orange.cap", NULL);
	char *odd = subst(doc, "<identifier>43b080713727</identifier>",
	    "<identifier>保定#2024@07</identifier>");
	struct gw_report a, b;
	char *cause;
	assert_int_equal(parse(odd, strlen(odd), &a, &cause), 0);
	assert_int_equal(parse(odd, strlen(odd), &b, &cause), 0);
	assert_string_equal(a.inc.ext_ref, b.inc.ext_ref); /* stable */
	assert_int_equal(strncmp(a.inc.ext_ref, "x:", 2), 0);
	assert_true(strlen(a.inc.ext_ref) <= INC_EXT_REF_MAX);
	json_t *d = details_of(&a);
	assert_string_equal(json_string_value(json_object_get(d, "identifier")), "保定#2024@07");
	assert_true(json_is_true(json_object_get(d, "ext_ref_derived")));
	json_decref(d);

	/* A cancel naming it reaches the same ext_ref. */
	char *cancel = subst(doc, "<msgType>Alert</msgType>",
	    "<msgType>Cancel</msgType><references>hsas@dhs.gov,保定#2024@07,2003-04-02T14:39:01-05:00"
	    "</references>");
	struct gw_report c;
	assert_int_equal(parse(cancel, strlen(cancel), &c, &cause), 0);
	assert_int_equal(c.ntargets, 1);
	assert_string_equal(c.targets[0], a.inc.ext_ref);
	gw_report_clear(&a);
	gw_report_clear(&b);
	gw_report_clear(&c);
	free(cancel);
	free(odd);
	free(doc);
}

static void
long_alerts_are_cut_to_fit(void **state)
{
	char *doc = load("cap/us-nws-thunderstorm-polygon.cap", NULL);
	/* A 30 000-character description and a 2 000-point polygon. */
	size_t n = 30000;
	char *text = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++)
		text[i] = (char)('a' + i % 26);
	text[n] = '\0';
	char *ring = xstrdup("");
	for (int i = 0; i < 2000; i++) {
		double ang = 2 * M_PI * i / 2000;
		char *r = xasprintf("%s%.5f,%.5f ", ring, 38.5 + 0.1 * sin(ang), -120 + 0.1 * cos(ang));
		free(ring);
		ring = r;
	}
	char *closed = xasprintf("%s%.5f,%.5f", ring, 38.5, -119.9);
	char *longdesc = xasprintf("STORM.%s</description>", text);
	char *d1 = subst(doc, "STORM.</description>", longdesc);
	free(longdesc);
	char *d2 = subst(d1, "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14",
	    closed);
	struct gw_report rep;
	char *cause = NULL;
	int rc = parse(d2, strlen(d2), &rep, &cause);
	if (rc)
		fail_msg("refused: %s", cause);
	assert_true(strlen(rep.inc.details) <= INC_DETAILS_MAX);
	assert_int_equal(srv_utf8_len(rep.inc.description), INC_DESCRIPTION_MAX);
	json_t *d = details_of(&rep);
	assert_true(json_is_true(json_object_get(d, "truncated")));
	json_t *r = json_array_get(json_object_get(json_array_get(json_object_get(json_array_get(
	    json_object_get(d, "info"), 0), "area"), 0), "polygon"), 0);
	assert_true(json_array_size(r) >= 4 && json_array_size(r) < 2001);
	assert_true(rep.inc.has_position);
	assert_true(fabs(rep.inc.lat - 38.5) < 0.01 && fabs(rep.inc.lon - -120) < 0.01);
	json_decref(d);
	gw_report_clear(&rep);
	free(text);
	free(ring);
	free(closed);
	free(d1);
	free(d2);
	free(doc);
}

int
main(int argc, char **argv)
{
	if (fixtures_init(argc, argv, "cap", "test_cap") != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(baoding_update_with_references),
		cmocka_unit_test(nws_polygon_gives_position),
		cmocka_unit_test(dhs_parameter_and_resource),
		cmocka_unit_test(missing_scope_is_refused),
		cmocka_unit_test(hostile_document_is_refused),
		cmocka_unit_test(wrong_content_and_kind),
		cmocka_unit_test(coordinates_are_checked),
		cmocka_unit_test(dates_and_required_fields),
		cmocka_unit_test(msgtypes_and_status),
		cmocka_unit_test(identifier_outside_the_alphabet),
		cmocka_unit_test(long_alerts_are_cut_to_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
