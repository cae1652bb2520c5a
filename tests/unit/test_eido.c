/*
 * Unit tests for the NENA EIDO adapter (gateways/gw_eido.c): the NENA
 * sample imports, a rendered EIDO imports back to the same incident, links
 * and merges survive, and bad documents are refused.
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

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw_adapter.h"
#include "srv_error.h"
#include "srv_util.h"



static const struct gw_adapter *
eido(void)
{
	const struct gw_adapter *a = gw_registry_find(gw_builtin, "eido");
	assert_non_null(a);
	assert_non_null(a->render);
	return a;
}


/* The NENA sample as a JSON tree to edit. */
static json_t *
sample(void)
{
	char *s = load("eido/nena-sample-call-transfer.json", NULL);
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	free(s);
	if (j == NULL)
		fail_msg("sample: %s", e.text);
	return j;
}

static int
parse_str(const char *doc, struct gw_report *rep, char **cause)
{
	memset(rep, 0, sizeof *rep);
	*cause = NULL;
	return eido()->parse(&host, doc, strlen(doc), rep, cause);
}

static int
parse_json(json_t *doc, struct gw_report *rep, char **cause)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	int rc = parse_str(s, rep, cause);
	free(s);
	return rc;
}

static void
check_refused(int rc, struct gw_report *rep, char *cause, int code, const char *needle)
{
	if (rc != code)
		fail_msg("expected %s, got %s: %s", srv_err_code(code), rc ? srv_err_code(rc) : "ok",
		    cause ? cause : "(no cause)");
	if (cause == NULL || strstr(cause, needle) == NULL)
		fail_msg("cause '%s' lacks '%s'", cause ? cause : "(none)", needle);
	assert_null(rep->inc.ext_ref);
	assert_null(rep->inc.details);
	assert_int_equal(rep->ntargets, 0);
	free(cause);
}

static void
refused_str(const char *doc, int code, const char *needle)
{
	struct gw_report rep;
	char *cause;
	int rc = parse_str(doc, &rep, &cause);
	check_refused(rc, &rep, cause, code, needle);
}

/* Refused; takes the reference to doc. */
static void
refused_json(json_t *doc, int code, const char *needle)
{
	struct gw_report rep;
	char *cause;
	int rc = parse_json(doc, &rep, &cause);
	json_decref(doc);
	check_refused(rc, &rep, cause, code, needle);
}

static int64_t
t(const char *s)
{
	int64_t us;
	assert_int_equal(srv_parse_time(s, &us), 0);
	return us;
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

static void
nena_sample_imports(void **state)
{
	size_t len;
	char *doc = load("eido/nena-sample-call-transfer.json", &len), *cause = NULL;
	struct gw_report rep;
	memset(&rep, 0, sizeof rep);
	int rc = eido()->parse(&host, doc, len, &rep, &cause);
	if (rc)
		fail_msg("refused: %s", cause);
	struct incident *inc = &rep.inc;
	assert_string_equal(inc->ext_ref, "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us");
	assert_int_equal(rep.action, GW_REPORT);
	assert_int_equal(rep.ntargets, 0);
	assert_int_equal(rep.version, t("2021-04-30T18:43:49.439Z"));
	assert_int_equal(inc->reported_at, t("2021-04-30T18:40:00Z")); /* the call's start */
	assert_int_equal(inc->line, INC_LINE_OTHER); /* a PSAP: no line of its own */
	assert_int_equal(inc->category, INC_CAT_OTHER);
	assert_int_equal(inc->priority, 3);
	assert_int_equal(inc->status, INC_ST_NEW);
	assert_string_equal(inc->title, "EIDO incident from state.pa.us");
	assert_string_equal(inc->description, "This is an example text."); /* the Comment block */
	assert_string_equal(inc->address, "42 W Cellular Street, Wilmington, DE, US");
	assert_false(inc->has_position);
	assert_int_equal(inc_validate(inc, NULL), 0);

	json_t *d = details_of(&rep);
	assert_string_equal(json_string_value(json_object_get(d, "incidentTrackingIdentifier")),
	    "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us");
	assert_string_equal(json_string_value(json_object_get(d, "issuingElementIdentification")),
	    "idx.state.pa.us");
	json_t *ag = json_array_get(json_object_get(d, "agencies"), 0);
	assert_string_equal(json_string_value(json_object_get(ag, "id")), "state.pa.us");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ag, "roles"), 0)),
	    "CallReceiving");
	json_t *call = json_array_get(json_object_get(d, "calls"), 0);
	assert_string_equal(json_string_value(json_object_get(call, "id")),
	    "urn:emergency:uid:callid:a56e556d871:bcf.state.pa.us");
	assert_int_equal(json_array_size(json_object_get(d, "callbacks")), 2);
	json_t *locs = json_object_get(d, "locations");
	assert_int_equal(json_array_size(locs), 2);
	/* By-reference locations are kept, never fetched. */
	assert_string_equal(json_string_value(json_object_get(json_array_get(locs, 1),
				"byReferenceUrl")),
	    "https://lrf.osp.com?oasufdqwerjn12346jfias");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
				json_object_get(d, "additionalData"), 0), "type")),
	    "EmergencyCallData.ServiceInfo");
	json_decref(d);
	gw_report_clear(&rep);
	free(doc);
}

static void
later_eido_has_higher_version(void **state)
{
	json_t *j = sample();
	struct gw_report a, b;
	char *cause;
	assert_int_equal(parse_json(j, &a, &cause), 0);
	json_object_set_new(j, "lastUpdateTimeStamp", json_string("2021-04-30T18:50:00.000001Z"));
	assert_int_equal(parse_json(j, &b, &cause), 0);
	assert_string_equal(a.inc.ext_ref, b.inc.ext_ref);
	assert_true(b.version > a.version);
	assert_int_equal(b.version - a.version, t("2021-04-30T18:50:00.000001Z") -
						    t("2021-04-30T18:43:49.439Z"));
	gw_report_clear(&a);
	gw_report_clear(&b);
	json_decref(j);
}

/* The sample with an incident component and the agency typed as given. */
static json_t *
typed(const char *code, const char *agency_type)
{
	json_t *j = sample();
	json_object_set_new(j, "incidentComponent",
	    json_pack("{s:s,s:s,s:{s:s},s:s}", "$id", "inc-1", "lastUpdateTimeStamp",
		"2021-04-30T18:43:00Z", "updatedByAgencyReference", "$ref", "state.pa.us",
		"incidentTypeCommonRegistryText", code));
	json_t *ag = json_array_get(json_object_get(j, "agencyComponent"), 0);
	json_object_set_new(ag, "agencyType", json_pack("[s]", agency_type));
	return j;
}

static void
type_codes_and_agencies(void **state)
{
	static const struct {
		const char *code, *agency;
		enum inc_line line;
		enum inc_category cat;
		int prio;
		const char *type;
	} cases[] = {
		{ "FSTRU", "fire", INC_LINE_119, INC_CAT_ACCIDENT, 1, "eido.FSTRU" },
		{ "FSTRU", "psap", INC_LINE_119, INC_CAT_ACCIDENT, 1, "eido.FSTRU" },
		{ "MVAINJY", "police.municipal", INC_LINE_122, INC_CAT_ACCIDENT, 1, "eido.MVAINJY" },
		{ "MVA", "psap", INC_LINE_122, INC_CAT_ACCIDENT, 2, "eido.MVA" },
		{ "CARDIAC", "urn:emergency:service:responder.ems", INC_LINE_120, INC_CAT_OTHER, 1,
		    "eido.CARDIAC" },
		{ "ROBBERY", "police", INC_LINE_110, INC_CAT_SOCIAL_SECURITY, 1, "eido.ROBBERY" },
		{ "HAZMAT ", "fire", INC_LINE_119, INC_CAT_ACCIDENT, 1, "eido.HAZMAT" },
		{ "PANDEMIC", "psap", INC_LINE_OTHER, INC_CAT_PUBLIC_HEALTH, 2, "eido.PANDEMIC" },
		{ "FBRUSH", "fire.forest", INC_LINE_119, INC_CAT_NATURAL_DISASTER, 2, "eido.FBRUSH" },
		{ "SOMETHINGNEW", "police", INC_LINE_110, INC_CAT_OTHER, 3, "eido.SOMETHINGNEW" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		json_t *j = typed(cases[i].code, cases[i].agency);
		struct gw_report rep;
		char *cause;
		int rc = parse_json(j, &rep, &cause);
		if (rc)
			fail_msg("%s: %s", cases[i].code, cause);
		if (rep.inc.line != cases[i].line || rep.inc.category != cases[i].cat ||
		    rep.inc.priority != cases[i].prio)
			fail_msg("%s/%s: line %s category %s priority %d", cases[i].code, cases[i].agency,
			    inc_line_name(rep.inc.line), inc_category_name(rep.inc.category),
			    rep.inc.priority);
		assert_string_equal(rep.inc.type, cases[i].type);
		gw_report_clear(&rep);
		json_decref(j);
	}
	/* An explicit common priority (1-4) wins over the code's. */
	json_t *j = typed("FSTRU", "fire");
	json_object_set_new(json_object_get(j, "incidentComponent"), "incidentCommonPriorityNumber",
	    json_integer(3));
	json_object_set_new(json_object_get(j, "incidentComponent"), "incidentTypeInternalText",
	    json_string("Structure fire, 3rd floor"));
	struct gw_report rep;
	char *cause;
	assert_int_equal(parse_json(j, &rep, &cause), 0);
	assert_int_equal(rep.inc.priority, 3);
	assert_string_equal(rep.inc.title, "Structure fire, 3rd floor");
	gw_report_clear(&rep);
	json_decref(j);
}

/* A stored incident as the store hands it to render. */
static void
stored(struct incident *inc, enum inc_line line, enum inc_category cat)
{
	memset(inc, 0, sizeof *inc);
	inc->id = 42;
	inc->source = xstrdup("json");
	inc->ext_ref = xstrdup("JT-9");
	inc->line = line;
	inc->category = cat;
	inc->type = xstrdup("fire.building");
	inc->priority = 2;
	inc->status = INC_ST_DISPATCHED;
	inc->title = xstrdup("仓库起火 <b>三层</b> & co");
	inc->description = xstrdup("三楼冒烟\n有人被困 <b>bold</b> & \"q\" 'a' &amp;\r\nend");
	inc->address = xstrdup("北京市东城区东华门大街1号");
	inc->has_position = 1;
	inc->lon = 116.3971234;
	inc->lat = 39.9081234;
	inc->details = xstrdup("{\"k\":1}");
	inc->reported_at = t("2025-06-01T08:30:00.123456Z");
	inc->created_at = inc->reported_at + 1000000;
	inc->updated_at = inc->reported_at + 300000007;
	inc->version = 3;
}

static char *
render(const struct incident *inc)
{
	char *out = NULL, *cause = NULL;
	size_t len = 0;
	int rc = eido()->render(&host, inc, &out, &len, &cause);
	if (rc)
		fail_msg("render: %s", cause);
	assert_int_equal(len, strlen(out));
	return out;
}

static void
render_has_required_fields(void **state)
{
	struct incident inc;
	stored(&inc, INC_LINE_119, INC_CAT_ACCIDENT);
	char *s = render(&inc);
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	const char *id = json_string_value(json_object_get(j, "$id"));
	assert_non_null(id);
	assert_int_equal(strncmp(id, "urn:emergency:uid:incidentid:", 29), 0);
	assert_string_equal(json_string_value(json_object_get(j, "eidoVersion")), "1.0");
	assert_non_null(json_string_value(json_object_get(j, "lastUpdateTimeStamp")));
	assert_non_null(json_string_value(json_object_get(j, "issuingElementIdentification")));
	assert_non_null(json_string_value(json_object_get(json_object_get(j,
	    "updatedByAgencyReference"), "$ref")));
	json_t *ag = json_array_get(json_object_get(j, "agencyComponent"), 0);
	assert_non_null(json_string_value(json_object_get(ag, "$id")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(ag, "agencyType"), 0)),
	    "fire");
	assert_true(json_array_size(json_object_get(ag, "agencyRoleDescriptionRegistryText")) > 0);
	json_t *ic = json_object_get(j, "incidentComponent");
	assert_string_equal(json_string_value(json_object_get(ic, "incidentTypeCommonRegistryText")),
	    "FOTHER");
	assert_string_equal(json_string_value(json_array_get(json_object_get(ic,
				"incidentStatusCommonRegistryText"), 0)),
	    "ResourcesAssigned");
	/* Every component carries the prologue. */
	static const char *const comps[] = { "callComponent", "notesComponent", "agencyComponent",
		"locationComponent" };
	for (int i = 0; i < 4; i++) {
		json_t *c = json_array_get(json_object_get(j, comps[i]), 0);
		if (c == NULL)
			fail_msg("%s missing", comps[i]);
		assert_non_null(json_string_value(json_object_get(c, "$id")));
		assert_non_null(json_string_value(json_object_get(c, "lastUpdateTimeStamp")));
		assert_non_null(json_object_get(c, "updatedByAgencyReference"));
	}
	assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(j,
		"locationComponent"), 0), "locationByValue")), "<gml:pos>39.9081234 116.3971234</gml:pos>"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "@context"),
				"@vocab")),
	    "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld");
	json_decref(j);
	free(s);
	inc_clear(&inc);
}

/* Render, import, and compare the essentials. */
static void
round_trip_one(enum inc_line line, enum inc_category cat, enum inc_status status,
    enum inc_line expect_line)
{
	struct incident inc;
	stored(&inc, line, cat);
	inc.status = status;
	char *s = render(&inc);
	struct gw_report rep;
	char *cause;
	int rc = parse_str(s, &rep, &cause);
	if (rc)
		fail_msg("%s/%s: import refused: %s\n%s", inc_line_name(line), inc_category_name(cat),
		    cause, s);
	struct incident *o = &rep.inc;
	json_t *j = json_loads(s, 0, NULL);
	assert_string_equal(o->ext_ref, json_string_value(json_object_get(j, "$id")));
	json_decref(j);
	if (o->line != expect_line || o->category != cat)
		fail_msg("%s/%s came back as %s/%s", inc_line_name(line), inc_category_name(cat),
		    inc_line_name(o->line), inc_category_name(o->category));
	assert_string_equal(o->type, inc.type);
	assert_int_equal(o->priority, inc.priority);
	assert_int_equal(o->status, inc.status);
	assert_string_equal(o->title, inc.title);
	assert_string_equal(o->description, inc.description);
	assert_string_equal(o->address, inc.address);
	assert_true(o->has_position);
	assert_true(fabs(o->lon - inc.lon) < 1e-7 && fabs(o->lat - inc.lat) < 1e-7);
	assert_int_equal(rep.version, inc.updated_at); /* a later change, a later version */
	if (line != INC_LINE_OTHER)
		assert_int_equal(o->reported_at, inc.reported_at);
	assert_int_equal(rep.action, status == INC_ST_CANCELLED ? GW_CANCEL : GW_REPORT);
	assert_int_equal(inc_validate(o, NULL), 0);
	gw_report_clear(&rep);
	free(s);
	inc_clear(&inc);
}

static void
round_trip_reproduces_the_incident(void **state)
{
	for (int l = 0; l < INC_LINE_N; l++) {
		for (int c = 0; c < INC_CAT_N; c++) {
			enum inc_line expect = (enum inc_line)l;
			/* A traffic-police incident with no traffic code reads as police. */
			if (l == INC_LINE_122 &&
			    (c == INC_CAT_NATURAL_DISASTER || c == INC_CAT_PUBLIC_HEALTH))
				expect = INC_LINE_110;
			round_trip_one((enum inc_line)l, (enum inc_category)c, INC_ST_DISPATCHED, expect);
		}
	}
	for (int st = 0; st < INC_ST_N; st++)
		round_trip_one(INC_LINE_120, INC_CAT_OTHER, (enum inc_status)st, INC_LINE_120);

	/* An incident without position, address, description or type. */
	struct incident inc;
	stored(&inc, INC_LINE_110, INC_CAT_SOCIAL_SECURITY);
	free(inc.type);
	free(inc.description);
	free(inc.address);
	inc.type = inc.description = inc.address = NULL;
	inc.has_position = 0;
	char *s = render(&inc);
	struct gw_report rep;
	char *cause;
	assert_int_equal(parse_str(s, &rep, &cause), 0);
	assert_false(rep.inc.has_position);
	assert_null(rep.inc.description);
	assert_null(rep.inc.address);
	assert_string_equal(rep.inc.type, "eido.TROUBLE");
	assert_int_equal(rep.inc.line, INC_LINE_110);
	gw_report_clear(&rep);
	free(s);
	inc_clear(&inc);
}

static void
links_and_merges_are_kept(void **state)
{
	json_t *j = sample();
	json_object_set_new(j, "linkComponent",
	    json_pack("[{s:s,s:s,s:{s:s},s:s,s:s,s:s}]", "$id", "l1", "lastUpdateTimeStamp",
		"2021-04-30T18:43:00Z", "updatedByAgencyReference", "$ref", "state.pa.us",
		"incidentTrackingIdentifier", "urn:emergency:uid:incidentid:parent1:state.pa.us",
		"linkDirectionCode", "PARENT", "transactionReasonText", "same fire, second caller"));
	json_object_set_new(j, "mergeComponent",
	    json_pack("[{s:s,s:s,s:{s:s},s:s,s:s}]", "$id", "m1", "lastUpdateTimeStamp",
		"2021-04-30T18:43:00Z", "updatedByAgencyReference", "$ref", "state.pa.us",
		"incidentTrackingIdentifier", "urn:emergency:uid:incidentid:old7:state.pa.us",
		"incidentMergeDirectionCode", "REPLACED"));
	struct gw_report rep;
	char *cause;
	assert_int_equal(parse_json(j, &rep, &cause), 0);
	/* The incident it replaced (merged into this one) is the target of an update. */
	assert_int_equal(rep.action, GW_UPDATE);
	assert_int_equal(rep.ntargets, 1);
	assert_string_equal(rep.targets[0], "urn:emergency:uid:incidentid:old7:state.pa.us");
	json_t *d = details_of(&rep);
	json_t *link = json_array_get(json_object_get(d, "links"), 0);
	assert_string_equal(json_string_value(json_object_get(link, "linkDirectionCode")), "PARENT");
	assert_string_equal(json_string_value(json_object_get(link, "transactionReasonText")),
	    "same fire, second caller");
	json_t *merge = json_array_get(json_object_get(d, "merges"), 0);
	assert_string_equal(json_string_value(json_object_get(merge, "incidentMergeDirectionCode")),
	    "REPLACED");
	json_decref(d);

	/* Stored and exported again: same tracking identifier, links and merges go along. */
	struct incident inc = rep.inc;
	memset(&rep.inc, 0, sizeof rep.inc);
	inc.id = 7;
	inc.source = xstrdup("eido");
	inc.created_at = inc.updated_at = t("2025-06-01T00:00:00Z");
	char *s = render(&inc);
	json_t *out = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(out, "$id")),
	    "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us");
	json_t *lc = json_array_get(json_object_get(out, "linkComponent"), 0);
	assert_string_equal(json_string_value(json_object_get(lc, "incidentTrackingIdentifier")),
	    "urn:emergency:uid:incidentid:parent1:state.pa.us");
	assert_non_null(json_object_get(lc, "$id"));
	json_t *mc = json_array_get(json_object_get(out, "mergeComponent"), 0);
	assert_string_equal(json_string_value(json_object_get(mc, "incidentMergeDirectionCode")),
	    "REPLACED");
	json_decref(out);
	struct gw_report again;
	assert_int_equal(parse_str(s, &again, &cause), 0);
	assert_non_null(strstr(again.inc.details, "parent1"));
	assert_non_null(strstr(again.inc.details, "old7"));
	gw_report_clear(&again);
	free(s);
	inc_clear(&inc);
	gw_report_clear(&rep);

	/* An unknown direction code is refused. */
	json_object_set_new(json_array_get(json_object_get(j, "linkComponent"), 0),
	    "linkDirectionCode", json_string("SIDEWAYS"));
	refused_json(j, SRV_E_BAD_FIELD, "linkDirectionCode");
}

static void
cancelled_eido_cancels(void **state)
{
	json_t *j = typed("FSTRU", "fire");
	json_object_set_new(json_object_get(j, "incidentComponent"),
	    "incidentStatusCommonRegistryText", json_pack("[ss]", "Active", "Cancelled"));
	struct gw_report rep;
	char *cause;
	assert_int_equal(parse_json(j, &rep, &cause), 0);
	assert_int_equal(rep.action, GW_CANCEL);
	assert_int_equal(rep.inc.status, INC_ST_CANCELLED);
	assert_int_equal(rep.ntargets, 1);
	assert_string_equal(rep.targets[0], rep.inc.ext_ref);
	gw_report_clear(&rep);
	json_decref(j);
}

static const char *const pidf_fmt =
    "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
    "xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" xmlns:gml=\"http://www.opengis.net/gml\" "
    "entity=\"pres:x@example.com\"><tuple id=\"t\"><status><gp:geopriv><gp:location-info>%s"
    "</gp:location-info><gp:usage-rules/></gp:geopriv></status></tuple></presence>";

/* The sample with one more location, CurrentIncident, holding geometry. */
static json_t *
with_location(const char *geometry)
{
	json_t *j = sample();
	char *xml = xasprintf(pidf_fmt, geometry);
	json_array_append_new(json_object_get(j, "locationComponent"),
	    json_pack("{s:s,s:s,s:{s:s},s:s,s:s}", "$id", "loc-3", "lastUpdateTimeStamp",
		"2021-04-30T18:41:00Z", "updatedByAgencyReference", "$ref", "state.pa.us",
		"locationTypeDescriptionRegistryText", "CurrentIncident", "locationByValue", xml));
	free(xml);
	return j;
}

static void
pidf_positions(void **state)
{
	struct gw_report rep;
	char *cause;
	json_t *j = with_location("<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\">"
				  "<gml:pos>39.7392 -75.5398</gml:pos></gml:Point>");
	assert_int_equal(parse_json(j, &rep, &cause), 0);
	assert_true(rep.inc.has_position);
	assert_true(fabs(rep.inc.lat - 39.7392) < 1e-9 && fabs(rep.inc.lon - -75.5398) < 1e-9);
	/* The current incident location outranks the routing location's civic address. */
	assert_null(rep.inc.address);
	gw_report_clear(&rep);
	json_decref(j);

	j = with_location("<gs:Circle xmlns:gs=\"http://www.opengis.net/pidflo/1.0\" "
			  "srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>39.7 -75.5</gml:pos>"
			  "<gs:radius uom=\"urn:ogc:def:uom:EPSG::9001\">850</gs:radius></gs:Circle>");
	assert_int_equal(parse_json(j, &rep, &cause), 0);
	assert_true(fabs(rep.inc.lat - 39.7) < 1e-9 && fabs(rep.inc.lon - -75.5) < 1e-9);
	gw_report_clear(&rep);
	json_decref(j);

	j = with_location("<gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>"
			  "39 -75 39 -76 40 -76 40 -75 39 -75</gml:posList></gml:LinearRing>"
			  "</gml:exterior></gml:Polygon>");
	assert_int_equal(parse_json(j, &rep, &cause), 0);
	assert_true(fabs(rep.inc.lat - 39.5) < 1e-9 && fabs(rep.inc.lon - -75.5) < 1e-9);
	gw_report_clear(&rep);
	json_decref(j);

	refused_json(with_location("<gml:Point><gml:pos>116.3971 39.9081</gml:pos></gml:Point>"),
	    SRV_E_BAD_FIELD, "swapped");
	refused_json(with_location("<gml:Point><gml:pos>39.7 -275.5</gml:pos></gml:Point>"),
	    SRV_E_BAD_FIELD, "outside the world");
	refused_json(with_location("<gml:Point><gml:pos>39.7</gml:pos></gml:Point>"),
	    SRV_E_BAD_FIELD, "gml:pos");
	refused_json(with_location("<gml:Point><gml:pos>39.7 -75.5</gml:Point>"), SRV_E_BAD_FIELD,
	    "not well-formed");

	/* Hostile XML inside the EIDO is refused like hostile CAP. */
	j = sample();
	json_t *loc = json_array_get(json_object_get(j, "locationComponent"), 0);
	json_object_set_new(loc, "locationByValue",
	    json_string("<?xml version=\"1.0\"?><!DOCTYPE p [<!ENTITY x SYSTEM "
			"\"file:///etc/passwd\">]><presence>&x;</presence>"));
	refused_json(j, SRV_E_BAD_FIELD, "DOCTYPE");
	j = sample();
	json_t *ad = json_array_get(json_object_get(j, "additionalDataComponent"), 0);
	json_object_set_new(ad, "additionalDataByValue",
	    json_string("<!DOCTYPE a SYSTEM \"http://localhost:8080/x.dtd\"><a/>"));
	refused_json(j, SRV_E_BAD_FIELD, "DOCTYPE");
}

static void
bad_documents_are_refused(void **state)
{
	const struct gw_adapter *a = eido();
	assert_true(gw_accepts(a, "application/json"));
	assert_false(gw_accepts(a, "application/cap+xml"));
	assert_false(gw_accepts(a, "application/xml"));

	refused_str("", SRV_E_BAD_JSON, "invalid JSON");
	refused_str("{\"$id\": \"x\",", SRV_E_BAD_JSON, "invalid JSON");
	refused_str("[1,2]", SRV_E_BAD_FIELD, "JSON object");
	/* A CAP alert posted to the EIDO adapter. */
	char *capdoc = load("cap/us-dhs-hsas-orange.cap", NULL);
	refused_str(capdoc, SRV_E_BAD_JSON, "invalid JSON");
	free(capdoc);
	/* The generic incident JSON: a valid document of the wrong kind. */
	refused_str("{\"line\":\"122\",\"ext_ref\":\"JT-9\",\"category\":\"accident\",\"priority\":2,"
		    "\"title\":\"x\"}",
	    SRV_E_MISSING_FIELD, "not an EIDO");

	json_t *j = sample();
	json_object_set_new(j, "eidoVersion", json_string("2.0"));
	refused_json(j, SRV_E_BAD_FIELD, "eidoVersion");
	j = sample();
	json_object_del(j, "$id");
	refused_json(j, SRV_E_MISSING_FIELD, "$id");
	j = sample();
	json_object_set_new(j, "$id", json_integer(5));
	refused_json(j, SRV_E_BAD_FIELD, "$id");
	j = sample();
	json_object_set_new(j, "lastUpdateTimeStamp", json_string("30/04/2021 18:43"));
	refused_json(j, SRV_E_BAD_FIELD, "lastUpdateTimeStamp");
	j = sample();
	json_object_del(j, "lastUpdateTimeStamp");
	refused_json(j, SRV_E_MISSING_FIELD, "lastUpdateTimeStamp");
	j = sample();
	json_object_set_new(j, "lastUpdateTimeStamp", json_string("2999-01-01T00:00:00Z"));
	refused_json(j, SRV_E_BAD_FIELD, "future");
	j = sample();
	json_object_del(j, "agencyComponent");
	refused_json(j, SRV_E_MISSING_FIELD, "agencyComponent");
	j = sample();
	json_object_del(json_array_get(json_object_get(j, "agencyComponent"), 0), "agencyType");
	refused_json(j, SRV_E_MISSING_FIELD, "agencyType");
	j = sample();
	json_object_del(j, "issuingElementIdentification");
	refused_json(j, SRV_E_MISSING_FIELD, "issuingElementIdentification");
	j = sample();
	json_object_set_new(json_array_get(json_object_get(j, "callComponent"), 0),
	    "callStartTimestamp", json_string("2021-04-31T18:40:00Z"));
	refused_json(j, SRV_E_BAD_FIELD, "callStartTimestamp");
	j = sample();
	json_object_set_new(j, "callComponent", json_string("calls"));
	refused_json(j, SRV_E_BAD_FIELD, "callComponent");
	j = sample();
	json_object_set_new(j, "notesComponent", json_pack("[{s:s}]", "$id", "n1"));
	refused_json(j, SRV_E_MISSING_FIELD, "notesActionComments");
	j = typed("FSTRU", "fire");
	json_object_del(json_object_get(j, "incidentComponent"), "incidentTypeCommonRegistryText");
	refused_json(j, SRV_E_MISSING_FIELD, "incidentTypeCommonRegistryText");
}

static void
identifiers_outside_the_alphabet(void **state)
{
	json_t *j = sample();
	json_object_set_new(j, "$id", json_string("urn:emergency:uid:incidentid:事件 #7:局.cn"));
	struct gw_report a, b;
	char *cause;
	assert_int_equal(parse_json(j, &a, &cause), 0);
	assert_int_equal(parse_json(j, &b, &cause), 0);
	assert_string_equal(a.inc.ext_ref, b.inc.ext_ref);
	assert_int_equal(strncmp(a.inc.ext_ref, "x:urn:emergency:uid:incidentid:_", 32), 0);
	json_t *d = details_of(&a);
	assert_string_equal(json_string_value(json_object_get(d, "incidentTrackingIdentifier")),
	    "urn:emergency:uid:incidentid:事件 #7:局.cn");
	json_decref(d);
	gw_report_clear(&a);
	gw_report_clear(&b);
	json_decref(j);
}

static void
notes_become_the_description(void **state)
{
	json_t *j = sample();
	json_object_set_new(j, "notesComponent",
	    json_pack("[{s:s,s:s,s:{s:s},s:s}]", "$id", "n1", "lastUpdateTimeStamp",
		"2021-04-30T18:41:00Z", "updatedByAgencyReference", "$ref", "state.pa.us",
		"notesActionComments",
		"<p>Smoke on <b>3rd</b> floor</p><p>Caller &amp; child &lt;trapped&gt;&#x1F692;"
		"&#1;</p>"));
	struct gw_report rep;
	char *cause;
	assert_int_equal(parse_json(j, &rep, &cause), 0);
	assert_string_equal(rep.inc.description,
	    "Smoke on 3rd floor\nCaller & child <trapped>\xF0\x9F\x9A\x92\n\nThis is an example text.");
	gw_report_clear(&rep);
	json_decref(j);
}

int
main(int argc, char **argv)
{
	if (fixtures_init(argc, argv, "eido", "test_eido") != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nena_sample_imports),
		cmocka_unit_test(later_eido_has_higher_version),
		cmocka_unit_test(type_codes_and_agencies),
		cmocka_unit_test(render_has_required_fields),
		cmocka_unit_test(round_trip_reproduces_the_incident),
		cmocka_unit_test(links_and_merges_are_kept),
		cmocka_unit_test(cancelled_eido_cancels),
		cmocka_unit_test(pidf_positions),
		cmocka_unit_test(bad_documents_are_refused),
		cmocka_unit_test(identifiers_outside_the_alphabet),
		cmocka_unit_test(notes_become_the_description),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
