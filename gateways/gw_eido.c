/*
 * gw_eido.c - the NENA EIDO adapter (NENA-STA-021, EIDO JSON 1.0): import
 * an incident from another centre, and render a stored incident as an EIDO
 * for exchange (the render hook).
 *
 * Import: the incident tracking identifier ($id) is the ext_ref and the
 * EIDO's lastUpdateTimeStamp (µs) the report version, so a later EIDO for
 * the same incident replaces the fields of the first. The line comes from
 * the agencies' types, category / type / priority from the APCO incident
 * type code, position and address from the PIDF-LO of the incident's
 * location, description from the notes and Comment additional data; links,
 * merges, agencies, calls and the original identifiers stay in details.
 * Embedded XML (PIDF-LO, additional data) goes through the same safe reader
 * as CAP (gw_cap.c). Nothing is ever dereferenced: by-reference URLs are
 * kept, not fetched. The mapping tables are in docs/cap-eido.md.
 */
#include "gw_adapter.h"
#include "gw_xml-int.h"
#include "gis_coord.h"
#include "srv_error.h"
#include "srv_json.h"
#include "srv_util.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#define ITI_PREFIX "urn:emergency:uid:incidentid:"
#define EIDO_CONTEXT "./JSON-LD_Contexts/EmergencyIncidentDataObjectType.jsonld"
#define GML_NS "http://www.opengis.net/gml"
#define GML32_NS "http://www.opengis.net/gml/3.2"
#define CIVIC_NS "urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"
#define GEOPRIV_NS "urn:ietf:params:xml:ns:pidf:geopriv10"
#define COMMENT_NS "urn:ietf:params:xml:ns:EmergencyCallData:Comment"

/*
 * The agency identifier this centre writes into the EIDOs it renders. The
 * host table has no field for it yet; until it has, every centre calls
 * itself by this placeholder (".invalid" is reserved and never resolves).
 */
#define CENTRE_AGENCY "liandong.invalid"
#define CENTRE_ELEMENT "eido." CENTRE_AGENCY

/* --- incident type codes --------------------------------------------------- */

/*
 * The EIDO-IncidentType-Common registry (APCO ANS 2.103.2-2019), grouped by
 * the line that takes such a call, the national class and a priority.
 * INC_LINE_N: no line of its own.
 */
struct code_group {
	enum inc_line line;
	enum inc_category cat;
	int priority;
	const char *codes; /* space-separated */
};

static const struct code_group code_groups[] = {
	{ INC_LINE_110, INC_CAT_SOCIAL_SECURITY, 1,
	    "ABDUCTNF ACTSHOOT ALMH ALRPANA ALRPANS ALRROBA ALRROBS BARICADE BOMB CARJACK CU1 DVA "
	    "FASX HLP1 HOMICIDE HOSTAGE MAYDAY NCRASLTWF ROBBERY SHOOT STABBING TERROR" },
	{ INC_LINE_110, INC_CAT_SOCIAL_SECURITY, 2,
	    "ABDUCTF ABUSE ALRBA ALRBS ASSAULT BURGLARY CRWD CU2 DISORD DVNA ELUDING ESCAPE FAS "
	    "FIGHT HATE MTLV NEGLECT PERSUSP PROW PURSUIT RESIST SEXOFFNS STKX SUSP THREATS "
	    "VEHSUSP WEAPON" },
	{ INC_LINE_110, INC_CAT_SOCIAL_SECURITY, 3,
	    "CIVDIS CNTRFT CRIMPS CU3 DRUGPAR DRUGS EXTORT FAM FRAUD HARR IMP INDECENT INTERNET JUV "
	    "LARCENY PROPSTLN SHOPLIFT TRESPASS VANDAL VEHSTLN VICE" },
	{ INC_LINE_110, INC_CAT_OTHER, 2, "HLP2 MNTL PERMISS RUNAWAY SCRM WELFARE" },
	{ INC_LINE_110, INC_CAT_OTHER, 3,
	    "911H 911OPN ALIEN ALMA ALMB ALMR ALRU ALRVEH ANIMAL ASSIST ATL CDX CITASST CIVIL COURT "
	    "CURFEW CUST DEATHNTF DMPX HOLD INTOX INVEST LIQUOR MISCON NCIC NOISE OPEN ORDERV PERFND "
	    "PERWANT PHANDLE REPO SCH SOL STDBY SUBJSTP TRUANT VAG WARRANT WILDLIFE" },
	{ INC_LINE_110, INC_CAT_OTHER, 4, "ADMIN PROPFND PROPLOST SMOKING" },
	{ INC_LINE_122, INC_CAT_ACCIDENT, 1, "MVAINJY" },
	{ INC_LINE_122, INC_CAT_ACCIDENT, 2, "MVA MVAHR MVAUNK" },
	{ INC_LINE_122, INC_CAT_ACCIDENT, 3, "MVCP" },
	{ INC_LINE_122, INC_CAT_SOCIAL_SECURITY, 2, "CRIMTRAF DUI RECKDRV" },
	{ INC_LINE_122, INC_CAT_OTHER, 3,
	    "DISVEH PARKING THAZ TOW TSTOP VEHABND VEHASST VEHLOCK VEHREC" },
	{ INC_LINE_119, INC_CAT_ACCIDENT, 1,
	    "AIR BIO BLDCLPSE BRGCLPSE CHEMICAL DROWN ENTRAP EXPLOS FAIRC FAPT FFUEL FMARINE FSTRU "
	    "FTRAIN GASLEAKI HAZMAT RADIAT TRAINDRL WATER XTRICATE" },
	{ INC_LINE_119, INC_CAT_ACCIDENT, 2,
	    "ACCIND AIRINC ALRBOX ALRCO ALRCO2 ALRF ALRGAS ALRHEAT ALRKPAD ALRNGAS ALRPROPN ALRPULL "
	    "ALRWTR ELECHZD FARSON FELEC FOTHER FSMOKE FTRAILER FTRUCK FUNK FVEH GASLEAK GASLEAKO "
	    "MISBOATR NCRELEV NCRTRANS RESCUE SAR TRAIN WIRES" },
	{ INC_LINE_119, INC_CAT_ACCIDENT, 3, "FIREWRKS FORCENTR FTRASH ODOR" },
	{ INC_LINE_119, INC_CAT_NATURAL_DISASTER, 2, "FBRUSH" },
	{ INC_LINE_119, INC_CAT_OTHER, 3, "FREPORT NCRMUAIDF NCRTASKFORCE PUBWKS" },
	{ INC_LINE_119, INC_CAT_OTHER, 4, "NCRTESTF" },
	{ INC_LINE_120, INC_CAT_OTHER, 1,
	    "ALRDEFIB ALS CARDIAC CHOKE HEMRG NCRCPRF NCRFACTR OD PERUNCON RESP RESPARR STROKE "
	    "SUICIDE SUICTHRT" },
	{ INC_LINE_120, INC_CAT_OTHER, 2,
	    "ALLERGIC ALRMED BLEEDING BLS CHESPAIN DIABETIC EDP PREG SEIZURE SLMP" },
	{ INC_LINE_120, INC_CAT_OTHER, 3, "ABDOM BACK DEATH EYE HEADACHE SICK TRANSFER" },
	{ INC_LINE_120, INC_CAT_ACCIDENT, 1, "ELEC TRAUMAP" },
	{ INC_LINE_120, INC_CAT_ACCIDENT, 2, "BITE BURN EXPOSURE FALL TRAUMA" },
	/* Codes no single line owns. */
	{ INC_LINE_N, INC_CAT_NATURAL_DISASTER, 2, "HAZ" },
	{ INC_LINE_N, INC_CAT_ACCIDENT, 1, "MAJORINC MCI" },
	{ INC_LINE_N, INC_CAT_PUBLIC_HEALTH, 2, "PANDEMIC" },
	{ INC_LINE_N, INC_CAT_SOCIAL_SECURITY, 2, "TROUBLE" },
	{ INC_LINE_N, INC_CAT_OTHER, 4, "INFO NCRNDE NCRNONE NONEMERG" },
};

/*
 * The common code an exported incident carries, by [line][category], when
 * its type is not an EIDO code already. Chosen so that an import maps it
 * back to the same category and, with the agency type, the same line: the
 * codes of the 110/119/120 rows and of "other" have that line or none, the
 * 122 row has traffic codes (a police agency with one is the 122 line).
 */
static const char *const generic_code[INC_LINE_N][INC_CAT_N] = {
	/*          natural  accident    health      social      other */
	/* 110 */ { "HAZ", "MAJORINC", "PANDEMIC", "TROUBLE", "CITASST" },
	/* 119 */ { "HAZ", "FOTHER", "PANDEMIC", "TROUBLE", "FREPORT" },
	/* 120 */ { "HAZ", "TRAUMA", "PANDEMIC", "TROUBLE", "SICK" },
	/* 122 */ { "HAZ", "MVAUNK", "PANDEMIC", "CRIMTRAF", "VEHASST" },
	/* other */ { "HAZ", "MAJORINC", "PANDEMIC", "TROUBLE", "INFO" },
};

static const struct code_group *
code_lookup(const char *code)
{
	size_t n = code ? strlen(code) : 0;
	if (n == 0)
		return NULL;
	for (size_t i = 0; i < sizeof code_groups / sizeof code_groups[0]; i++) {
		const char *p = code_groups[i].codes;
		while ((p = strstr(p, code)) != NULL) {
			if ((p == code_groups[i].codes || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
				return &code_groups[i];
			p += n;
		}
	}
	return NULL;
}

/* Line of an agencyType (urn:emergency:service:responder.* without the prefix). */
static enum inc_line
agency_type_line(const char *t)
{
	static const char prefix[] = "urn:emergency:service:responder.";
	if (strncasecmp(t, prefix, sizeof prefix - 1) == 0)
		t += sizeof prefix - 1;
	if (strncasecmp(t, "police", 6) == 0 && (t[6] == '\0' || t[6] == '.'))
		return strcasestr(t, "traffic") ? INC_LINE_122 : INC_LINE_110;
	if (strncasecmp(t, "fire", 4) == 0 && (t[4] == '\0' || t[4] == '.'))
		return INC_LINE_119;
	if ((strncasecmp(t, "ems", 3) == 0 && (t[3] == '\0' || t[3] == '.')) ||
	    strncasecmp(t, "ambulance", 9) == 0)
		return INC_LINE_120;
	return INC_LINE_N;
}

static const char *const line_agency_type[INC_LINE_N] = { "police", "fire", "ems", "police",
	"psap" };

/* EIDO-IncidentStatus-Common -> status, and back. */
static const struct {
	const char *eido;
	enum inc_status st;
} status_map[] = {
	{ "Active", INC_ST_NEW },
	{ "ReOpened", INC_ST_NEW },
	{ "NewLocation", INC_ST_NEW },
	{ "ResourcesAssigned", INC_ST_DISPATCHED },
	{ "ResourcesEnroute", INC_ST_EN_ROUTE },
	{ "ResourcesOnscene", INC_ST_ON_SCENE },
	{ "FireUnderControl", INC_ST_ON_SCENE },
	{ "StructureCleared", INC_ST_ON_SCENE },
	{ "Closed", INC_ST_CLOSED },
	{ "Cancelled", INC_ST_CANCELLED },
};

static const char *const status_common[INC_ST_N] = { "Active", "Active", "ResourcesAssigned",
	"ResourcesEnroute", "ResourcesOnscene", "Closed", "Closed", "Cancelled", "Closed" };

/* --- small JSON readers ---------------------------------------------------- */

/* An optional string member (empty counts as absent). */
static int
opt_str(json_t *o, const char *key, const char *where, const char **out, char **cause)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s.%s must be a string", where, key);
	if (json_string_length(v) > 0)
		*out = json_string_value(v);
	return 0;
}

static int
req_str(json_t *o, const char *key, const char *where, const char **out, char **cause)
{
	int rc = opt_str(o, key, where, out, cause);
	if (rc == 0 && *out == NULL)
		return srv_fail(cause, SRV_E_MISSING_FIELD, "%s.%s is required", where, key);
	return rc;
}

/* An optional member of a JSON type; *out borrowed, NULL when absent. */
static int
opt_typed(json_t *o, const char *key, const char *where, json_type type, const char *tname,
    json_t **out, char **cause)
{
	json_t *v = json_object_get(o, key);
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_typeof(v) != type)
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s.%s must be %s", where, key, tname);
	*out = v;
	return 0;
}

/* A reference {"$ref": "..."}; *out borrowed, NULL when absent. */
static int
opt_ref(json_t *o, const char *key, const char *where, const char **out, char **cause)
{
	json_t *v;
	char w[128];
	int rc = opt_typed(o, key, where, JSON_OBJECT, "a reference {\"$ref\": ...}", &v, cause);
	*out = NULL;
	if (rc || v == NULL)
		return rc;
	snprintf(w, sizeof w, "%s.%s", where, key);
	return req_str(v, "$ref", w, out, cause);
}

/*
 * A list of strings; a single string is taken as a list of one (older EIDO
 * drafts used strings). *out is a new array, NULL when absent.
 */
static int
opt_strings(json_t *o, const char *key, const char *where, json_t **out, char **cause)
{
	json_t *v = json_object_get(o, key), *x;
	size_t i;
	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		*out = json_pack("[O]", v);
		return 0;
	}
	if (!json_is_array(v))
		return srv_fail(cause, SRV_E_BAD_FIELD, "%s.%s must be a list of strings", where, key);
	json_array_foreach(v, i, x) {
		if (!json_is_string(x))
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s.%s[%zu] must be a string", where, key,
			    i + 1);
	}
	*out = json_copy(v);
	return 0;
}

/* A timestamp member (RFC 3339). */
static int
get_time(json_t *o, const char *key, const char *where, int required, int64_t *us,
    const char **text, char **cause)
{
	const char *s;
	int rc = (required ? req_str : opt_str)(o, key, where, &s, cause);
	*us = 0;
	if (text)
		*text = s;
	if (rc || s == NULL)
		return rc;
	if (srv_parse_time(s, us) != 0)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s.%s '%.64s' is not an RFC 3339 time such as 2021-04-30T18:43:49.439Z", where,
		    key, s);
	return 0;
}

/* The elements of an optional array member that must hold objects. */
static int
opt_objects(json_t *o, const char *key, json_t **out, char **cause)
{
	size_t i;
	json_t *x;
	int rc = opt_typed(o, key, "EIDO", JSON_ARRAY, "a list", out, cause);
	if (rc || *out == NULL)
		return rc;
	json_array_foreach(*out, i, x) {
		if (!json_is_object(x))
			return srv_fail(cause, SRV_E_BAD_FIELD, "%s[%zu] must be an object", key, i + 1);
	}
	return 0;
}

static void
set_str(json_t *o, const char *key, const char *v)
{
	if (v)
		json_object_set_new(o, key, json_string(v));
}

static int
code_chars(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
			strchr("._:/-", *s)))
			return 0;
	return 1;
}

/* A copy for incident text: control characters other than \n \r \t become spaces. */
static char *
plain(const char *s, int one_line)
{
	char *r = xstrdup(s);
	for (unsigned char *p = (unsigned char *)r; *p; p++)
		if (*p < 0x20 && (one_line || (*p != '\n' && *p != '\r' && *p != '\t')))
			*p = ' ';
	return r;
}

/* --- notes: HTML5 <-> text ----------------------------------------------- */

static size_t
put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Decode the entity at s (after '&', up to ';' at e) into o; bytes written, or -1. */
static int
entity(const char *s, const char *e, char *o)
{
	static const struct {
		const char *name;
		unsigned long cp;
	} named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
		{ "nbsp", 0xA0 } };
	size_t n = (size_t)(e - s);
	unsigned long cp = 0;
	if (n >= 2 && s[0] == '#') {
		int hex = s[1] == 'x' || s[1] == 'X';
		size_t i = hex ? 2 : 1;
		if (i == n || n - i > 7)
			return -1;
		for (; i < n; i++) {
			int d;
			char c = s[i];
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				return -1;
			cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) ||
		    (cp < 0x20 && cp != '\n' && cp != '\r' && cp != '\t'))
			return 0; /* not a character: dropped */
		return (int)put_utf8(o, cp);
	}
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
		if (strlen(named[i].name) == n && strncmp(named[i].name, s, n) == 0)
			return (int)put_utf8(o, named[i].cp);
	return -1;
}

/*
 * A note's HTML5 as text: tags dropped (<br>, </p>, </div>, </li> become
 * line breaks), character references decoded. Never longer than the input.
 */
static char *
html_to_text(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	const char *p = s;
	while (*p) {
		if (*p == '<' && (p[1] == '/' || p[1] == '!' || (p[1] >= 'a' && p[1] <= 'z') ||
				     (p[1] >= 'A' && p[1] <= 'Z'))) {
			const char *e = strchr(p, '>');
			if (e) {
				const char *t = p[1] == '/' ? p + 2 : p + 1;
				size_t tl = 0;
				while ((t[tl] >= 'a' && t[tl] <= 'z') || (t[tl] >= 'A' && t[tl] <= 'Z'))
					tl++;
				if ((tl == 2 && strncasecmp(t, "br", 2) == 0) ||
				    (p[1] == '/' && ((tl == 1 && (*t == 'p' || *t == 'P')) ||
							(tl == 3 && strncasecmp(t, "div", 3) == 0) ||
							(tl == 2 && strncasecmp(t, "li", 2) == 0))))
					*o++ = '\n';
				p = e + 1;
				continue;
			}
		}
		if (*p == '&') {
			const char *e = strchr(p, ';');
			if (e && e - p <= 10) {
				int n = entity(p + 1, e, o);
				if (n >= 0) {
					o += n;
					p = e + 1;
					continue;
				}
			}
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

/* Text as HTML5 for notesActionComments: & < > escaped, line breaks as <br>. */
static char *
html_escape(const char *s)
{
	char *out = xmalloc(strlen(s) * 5 + 1), *o = out;
	for (; *s; s++) {
		const char *r = NULL;
		switch (*s) {
		case '&': r = "&amp;"; break;
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '\n': r = "<br>"; break;
		}
		if (r) {
			size_t n = strlen(r);
			memcpy(o, r, n);
			o += n;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

/* --- embedded XML: PIDF-LO and additional data ------------------------------ */

static int
ns_is(const xmlNode *n, const char *ns)
{
	return n->ns && n->ns->href && strcmp((const char *)n->ns->href, ns) == 0;
}

static int
is_gml(const xmlNode *n)
{
	return ns_is(n, GML_NS) || ns_is(n, GML32_NS);
}

/* Next element in document order below root (iterative: depth never matters). */
static xmlNode *
next_element(xmlNode *root, xmlNode *n)
{
	do {
		if (n->type == XML_ELEMENT_NODE && n->children) {
			n = n->children;
		} else {
			while (n != root && n->next == NULL)
				n = n->parent;
			if (n == root)
				return NULL;
			n = n->next;
		}
	} while (n->type != XML_ELEMENT_NODE);
	return n;
}

static char *
node_text(xmlNode *n)
{
	xmlChar *c = xmlNodeGetContent(n);
	if (c == NULL)
		return NULL;
	const char *s = (const char *)c, *e;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	char *r = e > s ? xstrndup(s, (size_t)(e - s)) : NULL;
	xmlFree(c);
	return r;
}

/* Numbers of a gml:pos / gml:posList; returns how many (up to max). */
static int
numbers(const char *s, double *out, int max, int *bad)
{
	int n = 0;
	char *end;
	*bad = 0;
	while (*s) {
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		if (*s == '\0')
			break;
		double v = strtod(s, &end);
		if (end == s || !isfinite(v) ||
		    (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')) {
			*bad = 1;
			return n;
		}
		if (n < max)
			out[n] = v;
		n++;
		s = end;
	}
	return n;
}

/* A PIDF-LO point (latitude first, as EPSG:4326 orders it). */
static int
pidf_point(double lat, double lon, const char *where, const char *el, char **cause)
{
	if (gis_lonlat_check(lon, lat, NULL) == 0)
		return 0;
	if ((lat < -90 || lat > 90) && lat >= -180 && lat <= 180 && lon >= -90 && lon <= 90)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "%s: gml:%s has latitude %g outside -90..90; it looks swapped (PIDF-LO gives "
		    "latitude first, then longitude)",
		    where, el, lat);
	return srv_fail(cause, SRV_E_BAD_FIELD,
	    "%s: gml:%s (%g %g) is outside the world (latitude -90..90, longitude -180..180)", where,
	    el, lat, lon);
}

static char *
civic_field(xmlNode *civic, const char *name)
{
	for (xmlNode *c = civic->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && ns_is(c, CIVIC_NS) &&
		    strcmp((const char *)c->name, name) == 0)
			return node_text(c);
	return NULL;
}

/* A civic address (RFC 5139) as one line: "42 W Cellular Street, Wilmington, DE, US". */
static char *
civic_text(xmlNode *civic)
{
	static const char *const street[] = { "HNO", "HNS", "PRD", "RD", "STS", "POD" };
	static const char *const rest[] = { "NAM", "LMK", "BLD", "UNIT", "FLR", "ROOM", "LOC", "A6",
		"A5", "A4", "A3", "A2", "A1", "PC", "country" };
	char *line = NULL;
	for (size_t i = 0; i < sizeof street / sizeof street[0]; i++) {
		char *v = civic_field(civic, street[i]);
		if (v) {
			char *j = line ? xasprintf("%s %s", line, v) : xstrdup(v);
			free(line);
			free(v);
			line = j;
		}
	}
	for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++) {
		char *v = civic_field(civic, rest[i]);
		if (v) {
			char *j = line ? xasprintf("%s, %s", line, v) : xstrdup(v);
			free(line);
			free(v);
			line = j;
		}
	}
	return line;
}

struct pidf {
	int has_pos;
	double lon, lat;
	char *civic;
	char *method;
};

/* Read a PIDF-LO document: the first point (or shape centre) and civic address. */
static int
pidf_read(const char *xml, const char *where, struct pidf *out, char **cause)
{
	xmlDoc *doc;
	int rc = gw_xml_read_safe(xml, strlen(xml), where, &doc, cause);
	if (rc)
		return rc;
	xmlNode *root = xmlDocGetRootElement(doc);
	for (xmlNode *n = root; n && rc == 0; n = next_element(root, n)) {
		const char *name = (const char *)n->name;
		if (!out->has_pos && is_gml(n) &&
		    (strcmp(name, "pos") == 0 || strcmp(name, "posList") == 0)) {
			double v[2];
			int bad = 0, k;
			char *t = node_text(n);
			if (strcmp(name, "pos") == 0) {
				k = t ? numbers(t, v, 2, &bad) : 0;
				if (bad || k < 2 || k > 3)
					rc = srv_fail(cause, SRV_E_BAD_FIELD,
					    "%s: gml:pos must be \"latitude longitude\" in degrees", where);
				else if ((rc = pidf_point(v[0], v[1], where, "pos", cause)) == 0) {
					out->has_pos = 1;
					out->lat = v[0];
					out->lon = v[1];
				}
			} else {
				/* A polygon's ring: the mean of its points. */
				int cnt = t ? numbers(t, NULL, 0, &bad) : 0;
				double *pts = cnt > 0 ? xmalloc(sizeof *pts * (size_t)cnt) : NULL;
				if (cnt > 0)
					numbers(t, pts, cnt, &bad);
				if (bad || cnt < 2 || cnt % 2)
					rc = srv_fail(cause, SRV_E_BAD_FIELD,
					    "%s: gml:posList must be \"lat lon lat lon ...\" in degrees",
					    where);
				double sl = 0, so = 0;
				int m = cnt / 2;
				if (rc == 0 && m > 1 && pts[0] == pts[cnt - 2] && pts[1] == pts[cnt - 1])
					m--; /* the closing point */
				for (int i = 0; rc == 0 && i < m; i++) {
					rc = pidf_point(pts[2 * i], pts[2 * i + 1], where, "posList", cause);
					sl += pts[2 * i];
					so += pts[2 * i + 1];
				}
				if (rc == 0) {
					out->has_pos = 1;
					out->lat = sl / m;
					out->lon = so / m;
				}
				free(pts);
			}
			free(t);
		} else if (out->civic == NULL && ns_is(n, CIVIC_NS) && strcmp(name, "civicAddress") == 0) {
			out->civic = civic_text(n);
		} else if (out->method == NULL && ns_is(n, GEOPRIV_NS) && strcmp(name, "method") == 0) {
			out->method = node_text(n);
		}
	}
	xmlFreeDoc(doc);
	return rc;
}

/* Additional data by value: its block type, and Comment texts appended to *text. */
static int
adddata_read(const char *xml, const char *where, json_t *jad, char **text, char **cause)
{
	xmlDoc *doc;
	int rc = gw_xml_read_safe(xml, strlen(xml), where, &doc, cause);
	if (rc)
		return rc;
	xmlNode *root = xmlDocGetRootElement(doc);
	set_str(jad, "type", (const char *)root->name);
	for (xmlNode *n = root; n; n = next_element(root, n)) {
		if (ns_is(n, COMMENT_NS) && strcmp((const char *)n->name, "Comment") == 0) {
			char *c = node_text(n);
			if (c) {
				char *j = *text ? xasprintf("%s\n%s", *text, c) : xstrdup(c);
				free(*text);
				*text = j;
				free(c);
			}
		}
	}
	xmlFreeDoc(doc);
	return 0;
}

/* --- import ---------------------------------------------------------------- */

struct eido_loc {
	const char *id, *type, *desc;
	struct pidf pidf;
};

static void
append_text(char **acc, const char *s)
{
	if (s == NULL || *s == '\0')
		return;
	char *j = *acc ? xasprintf("%s\n%s", *acc, s) : xstrdup(s);
	free(*acc);
	*acc = j;
}

/* The line the agencies' types name, the owning agency first, then by role. */
static enum inc_line
agencies_line(json_t *agencies)
{
	static const char *const roles[] = { "Dispatching", "Dispatched", "CallReceiving" };
	size_t i;
	json_t *a;
	for (int rank = 0; rank < 5; rank++) {
		json_array_foreach(agencies, i, a) {
			int r = 4;
			json_t *roleslist = json_object_get(a, "roles"), *x;
			size_t j;
			if (json_is_true(json_object_get(a, "owning")))
				r = 0;
			else
				json_array_foreach(roleslist, j, x) {
					for (int k = 0; k < 3; k++)
						if (strcasecmp(json_string_value(x), roles[k]) == 0 &&
						    k + 1 < r)
							r = k + 1;
				}
			if (r != rank)
				continue;
			json_array_foreach(json_object_get(a, "agencyType"), j, x) {
				enum inc_line l = agency_type_line(json_string_value(x));
				if (l != INC_LINE_N)
					return l;
			}
		}
	}
	return INC_LINE_N;
}

static int
read_agencies(json_t *root, json_t *details, char **cause)
{
	json_t *list, *a, *out = json_array();
	size_t i;
	int rc = opt_objects(root, "agencyComponent", &list, cause);
	json_object_set_new(details, "agencies", out);
	if (rc)
		return rc;
	if (list == NULL || json_array_size(list) == 0)
		return srv_fail(cause, SRV_E_MISSING_FIELD,
		    "agencyComponent (at least one agency) is required");
	json_array_foreach(list, i, a) {
		char w[48];
		const char *id;
		json_t *types, *roles, *own;
		snprintf(w, sizeof w, "agencyComponent[%zu]", i + 1);
		if ((rc = req_str(a, "$id", w, &id, cause)) ||
		    (rc = opt_strings(a, "agencyType", w, &types, cause)))
			return rc;
		if (types == NULL)
			return srv_fail(cause, SRV_E_MISSING_FIELD, "%s.agencyType is required", w);
		json_t *ja = json_pack("{s:s,s:o}", "id", id, "agencyType", types);
		json_array_append_new(out, ja);
		if ((rc = opt_strings(a, "agencyRoleDescriptionRegistryText", w, &roles, cause)))
			return rc;
		if (roles == NULL)
			return srv_fail(cause, SRV_E_MISSING_FIELD,
			    "%s.agencyRoleDescriptionRegistryText is required", w);
		json_object_set_new(ja, "roles", roles);
		own = json_object_get(a, "incidentOwningAgencyIndicator");
		if (own && !json_is_null(own) && !json_is_boolean(own))
			return srv_fail(cause, SRV_E_BAD_FIELD,
			    "%s.incidentOwningAgencyIndicator must be true or false", w);
		if (json_is_boolean(own))
			json_object_set(ja, "owning", own);
	}
	return 0;
}

/* Links and merges: kept in details; merges that replaced an old incident become targets. */
static int
read_links(json_t *root, json_t *details, struct gw_report *rep, char **cause)
{
	static const char *const link_codes[] = { "PARENT", "CHILD", "RELATED", "UNLINK" };
	static const char *const merge_codes[] = { "REPLACING", "REPLACED", "SPLIT" };
	static const struct {
		const char *comp, *dir, *outkey;
		const char *const *codes;
		int ncodes;
	} kinds[] = {
		{ "linkComponent", "linkDirectionCode", "links", link_codes, 4 },
		{ "mergeComponent", "incidentMergeDirectionCode", "merges", merge_codes, 3 },
	};
	for (int k = 0; k < 2; k++) {
		json_t *list, *x;
		size_t i;
		int rc = opt_objects(root, kinds[k].comp, &list, cause);
		if (rc)
			return rc;
		if (list == NULL || json_array_size(list) == 0)
			continue;
		json_t *out = json_array();
		json_object_set_new(details, kinds[k].outkey, out);
		json_array_foreach(list, i, x) {
			char w[48];
			const char *iti, *dir, *reason, *agency;
			int code = -1;
			snprintf(w, sizeof w, "%s[%zu]", kinds[k].comp, i + 1);
			if ((rc = req_str(x, "incidentTrackingIdentifier", w, &iti, cause)) ||
			    (rc = req_str(x, kinds[k].dir, w, &dir, cause)) ||
			    (rc = opt_str(x, "transactionReasonText", w, &reason, cause)) ||
			    (rc = opt_ref(x, "involvedAgencyReference", w, &agency, cause)))
				return rc;
			for (int c = 0; c < kinds[k].ncodes; c++)
				if (strcasecmp(dir, kinds[k].codes[c]) == 0)
					code = c;
			if (code < 0)
				return srv_fail(cause, SRV_E_BAD_FIELD, "%s.%s '%.32s' is not a known code",
				    w, kinds[k].dir, dir);
			json_t *j = json_pack("{s:s,s:s}", "incidentTrackingIdentifier", iti,
			    kinds[k].dir, kinds[k].codes[code]);
			set_str(j, "transactionReasonText", reason);
			set_str(j, "involvedAgency", agency);
			json_array_append_new(out, j);
			/* REPLACED: this EIDO's incident absorbed the one named here. */
			if (k == 1 && code == 1) {
				char *ref = gw_ext_ref_from(iti, NULL);
				gw_report_add_target(rep, ref);
				free(ref);
			}
		}
	}
	return 0;
}

/* Calls: the earliest start is when the incident was reported. */
static int
read_calls(json_t *root, json_t *details, int64_t *first, int *call_prio, char **cause)
{
	static const char *const prios[] = { "highest", "high", "normal", "low", "lowest" };
	static const int prio_map[] = { 1, 2, 3, 4, 4 };
	json_t *list, *c, *cb, *out = NULL;
	size_t i;
	int rc = opt_objects(root, "callComponent", &list, cause);
	*first = 0;
	*call_prio = 0;
	if (rc)
		return rc;
	json_array_foreach(list, i, c) {
		char w[48];
		const char *id, *start, *type, *dir, *state, *prio, *queue;
		int64_t us;
		snprintf(w, sizeof w, "callComponent[%zu]", i + 1);
		if ((rc = opt_str(c, "$id", w, &id, cause)) ||
		    (rc = get_time(c, "callStartTimestamp", w, 1, &us, &start, cause)) ||
		    (rc = opt_str(c, "standardPrimaryCallType", w, &type, cause)) ||
		    (rc = opt_str(c, "direction", w, &dir, cause)) ||
		    (rc = opt_str(c, "callStateRegistryText", w, &state, cause)) ||
		    (rc = opt_str(c, "priorityIdentifier", w, &prio, cause)) ||
		    (rc = opt_str(c, "queueIdentifier", w, &queue, cause)))
			return rc;
		if (*first == 0 || us < *first)
			*first = us;
		for (int k = 0; prio && k < 5; k++)
			if (strcasecmp(prio, prios[k]) == 0 &&
			    (*call_prio == 0 || prio_map[k] < *call_prio))
				*call_prio = prio_map[k];
		json_t *j = json_pack("{s:s}", "callStartTimestamp", start);
		set_str(j, "id", id);
		set_str(j, "standardPrimaryCallType", type);
		set_str(j, "direction", dir);
		set_str(j, "callStateRegistryText", state);
		set_str(j, "priorityIdentifier", prio);
		set_str(j, "queueIdentifier", queue);
		if (out == NULL) {
			out = json_array();
			json_object_set_new(details, "calls", out);
		}
		json_array_append_new(out, j);
	}
	if ((rc = opt_objects(root, "callbackComponent", &list, cause)))
		return rc;
	json_array_foreach(list, i, cb) {
		char w[48];
		json_t *uris;
		snprintf(w, sizeof w, "callbackComponent[%zu]", i + 1);
		if ((rc = opt_strings(cb, "callBackInformationUri", w, &uris, cause)))
			return rc;
		if (uris == NULL)
			continue;
		json_t *all = json_object_get(details, "callbacks");
		if (all == NULL) {
			all = json_array();
			json_object_set_new(details, "callbacks", all);
		}
		json_array_extend(all, uris);
		json_decref(uris);
	}
	return 0;
}

/* Notes and Comment additional data, in document order, as the description. */
static int
read_texts(json_t *root, json_t *details, char **desc, char **cause)
{
	json_t *list, *x;
	size_t i;
	int rc = opt_objects(root, "notesComponent", &list, cause);
	if (rc)
		return rc;
	json_array_foreach(list, i, x) {
		char w[48];
		const char *note;
		snprintf(w, sizeof w, "notesComponent[%zu]", i + 1);
		if ((rc = req_str(x, "notesActionComments", w, &note, cause)))
			return rc;
		char *t = html_to_text(note);
		append_text(desc, t);
		free(t);
	}
	if ((rc = opt_objects(root, "additionalDataComponent", &list, cause)))
		return rc;
	json_t *out = NULL;
	json_array_foreach(list, i, x) {
		char w[64];
		const char *id, *byval, *url;
		snprintf(w, sizeof w, "additionalDataComponent[%zu]", i + 1);
		if ((rc = opt_str(x, "$id", w, &id, cause)) ||
		    (rc = opt_str(x, "additionalDataByValue", w, &byval, cause)) ||
		    (rc = opt_str(x, "additionalDataByReferenceUrl", w, &url, cause)))
			return rc;
		json_t *j = json_object();
		if (out == NULL) {
			out = json_array();
			json_object_set_new(details, "additionalData", out);
		}
		json_array_append_new(out, j);
		set_str(j, "id", id);
		set_str(j, "url", url);
		if (byval) {
			char wv[96], *comments = NULL;
			snprintf(wv, sizeof wv, "%s.additionalDataByValue", w);
			if ((rc = adddata_read(byval, wv, j, &comments, cause)))
				return rc;
			append_text(desc, comments);
			free(comments);
		}
	}
	return 0;
}

static int
read_locations(json_t *root, json_t *details, struct eido_loc **locs, size_t *nlocs, char **cause)
{
	json_t *list, *x, *out = NULL;
	size_t i;
	int rc = opt_objects(root, "locationComponent", &list, cause);
	*locs = NULL;
	*nlocs = 0;
	if (rc || list == NULL)
		return rc;
	*locs = xcalloc(json_array_size(list) + 1, sizeof **locs);
	json_array_foreach(list, i, x) {
		char w[48], wv[80];
		const char *byval, *url;
		struct eido_loc *l = &(*locs)[i];
		snprintf(w, sizeof w, "locationComponent[%zu]", i + 1);
		(*nlocs)++;
		if ((rc = opt_str(x, "$id", w, &l->id, cause)) ||
		    (rc = req_str(x, "locationTypeDescriptionRegistryText", w, &l->type, cause)) ||
		    (rc = opt_str(x, "locationDescriptionText", w, &l->desc, cause)) ||
		    (rc = opt_str(x, "locationByValue", w, &byval, cause)) ||
		    (rc = opt_str(x, "locationByReferenceUrl", w, &url, cause)))
			return rc;
		snprintf(wv, sizeof wv, "%s.locationByValue", w);
		if (byval && (rc = pidf_read(byval, wv, &l->pidf, cause)))
			return rc;
		json_t *j = json_pack("{s:s}", "type", l->type);
		set_str(j, "id", l->id);
		set_str(j, "description", l->desc);
		set_str(j, "byReferenceUrl", url); /* kept, never fetched */
		set_str(j, "civicAddress", l->pidf.civic);
		set_str(j, "method", l->pidf.method);
		if (l->pidf.has_pos)
			json_object_set_new(j, "position",
			    json_pack("[ff]", round(l->pidf.lon * 1e7) / 1e7,
				round(l->pidf.lat * 1e7) / 1e7));
		if (out == NULL) {
			out = json_array();
			json_object_set_new(details, "locations", out);
		}
		json_array_append_new(out, j);
	}
	return 0;
}

/* Preference of a location type for the incident's place (lower is better). */
static int
loc_rank(const struct eido_loc *l, json_t *incident_refs)
{
	static const char *const order[] = { "CurrentIncident", "InitialIncident", "Caller",
		"Investigation", "RoutingLocation", "Other" };
	size_t i;
	json_t *r;
	json_array_foreach(incident_refs, i, r) {
		const char *id = json_string_value(json_object_get(r, "$ref"));
		if (id && l->id && strcmp(id, l->id) == 0)
			return 0;
	}
	for (int k = 0; k < 6; k++)
		if (strcasecmp(l->type, order[k]) == 0)
			return k + 1;
	return 7;
}

static void
pick_location(struct eido_loc *locs, size_t n, json_t *incident_refs, struct incident *inc,
    json_t *details)
{
	const struct eido_loc *pos = NULL, *addr = NULL;
	for (int rank = 0; rank <= 7; rank++) {
		for (size_t i = 0; i < n; i++) {
			if (loc_rank(&locs[i], incident_refs) != rank)
				continue;
			if (pos == NULL && locs[i].pidf.has_pos)
				pos = &locs[i];
			if (addr == NULL && (locs[i].pidf.civic || locs[i].desc))
				addr = &locs[i];
		}
	}
	/*
	 * The address goes with the position: another location's address (the
	 * caller's, the routing one) would name a different place.
	 */
	if (pos)
		addr = pos->pidf.civic || pos->desc ? pos : NULL;
	if (pos) {
		inc->has_position = 1;
		inc->lon = pos->pidf.lon;
		inc->lat = pos->pidf.lat;
		set_str(details, "positionFrom", pos->id ? pos->id : pos->type);
	}
	if (addr) {
		char *a = plain(addr->pidf.civic ? addr->pidf.civic : addr->desc, 1);
		inc->address = gw_text_clip(a, INC_ADDRESS_MAX);
		free(a);
	}
}

static int
eido_read(const struct gw_host *host, json_t *root, struct gw_report *rep, json_t *details,
    char **cause)
{
	struct incident *inc = &rep->inc;
	const char *ver, *iti, *updated_text, *agency, *agent, *issuer;
	const char *code = NULL, *icode = NULL, *itext = NULL, *iprio = NULL, *iid = NULL;
	json_t *icomp = NULL, *istat = NULL, *iistat = NULL, *iprion = NULL, *irefs = NULL;
	int64_t updated, first_call;
	int rc, derived, call_prio;
	char *desc = NULL;
	struct eido_loc *locs = NULL;
	size_t nlocs = 0;

	if (!json_is_object(root))
		return srv_fail(cause, SRV_E_BAD_FIELD, "an EIDO is a JSON object");
	if ((rc = opt_str(root, "eidoVersion", "EIDO", &ver, cause)))
		return rc;
	if (ver == NULL)
		return srv_fail(cause, SRV_E_MISSING_FIELD,
		    "not an EIDO: eidoVersion is missing (the generic incident JSON goes to "
		    "/api/v1/intake/json)");
	if (strncmp(ver, "1.", 2) != 0)
		return srv_fail(cause, SRV_E_BAD_FIELD, "eidoVersion '%.16s' is not supported (1.x is)",
		    ver);
	if ((rc = req_str(root, "$id", "EIDO", &iti, cause)) ||
	    (rc = get_time(root, "lastUpdateTimeStamp", "EIDO", 1, &updated, &updated_text, cause)) ||
	    (rc = opt_ref(root, "updatedByAgencyReference", "EIDO", &agency, cause)) ||
	    (rc = opt_ref(root, "updatedByAgentReference", "EIDO", &agent, cause)) ||
	    (rc = req_str(root, "issuingElementIdentification", "EIDO", &issuer, cause)))
		return rc;
	if (agency == NULL)
		return srv_fail(cause, SRV_E_MISSING_FIELD, "EIDO.updatedByAgencyReference is required");
	if (updated <= 0)
		return srv_fail(cause, SRV_E_BAD_FIELD, "EIDO.lastUpdateTimeStamp is before 1970");
	if (updated > host->now_us() + 86400LL * 1000000)
		return srv_fail(cause, SRV_E_BAD_FIELD,
		    "EIDO.lastUpdateTimeStamp is more than a day in the future");

	json_object_set_new(details, "format", json_string("EIDO"));
	json_object_set_new(details, "eidoVersion", json_string(ver));
	json_object_set_new(details, "incidentTrackingIdentifier", json_string(iti));
	json_object_set_new(details, "lastUpdateTimeStamp", json_string(updated_text));
	json_object_set_new(details, "issuingElementIdentification", json_string(issuer));
	json_object_set_new(details, "updatedByAgency", json_string(agency));
	set_str(details, "updatedByAgent", agent);

	if ((rc = read_agencies(root, details, cause)))
		return rc;

	/* The incident component: an object (a list of one is accepted too). */
	icomp = json_object_get(root, "incidentComponent");
	if (json_is_array(icomp))
		icomp = json_array_get(icomp, 0);
	if (icomp && !json_is_null(icomp)) {
		if (!json_is_object(icomp))
			return srv_fail(cause, SRV_E_BAD_FIELD, "incidentComponent must be an object");
		const char *w = "incidentComponent";
		if ((rc = req_str(icomp, "incidentTypeCommonRegistryText", w, &code, cause)) ||
		    (rc = opt_str(icomp, "incidentTypeInternalCode", w, &icode, cause)) ||
		    (rc = opt_str(icomp, "incidentTypeInternalText", w, &itext, cause)) ||
		    (rc = opt_strings(icomp, "incidentStatusCommonRegistryText", w, &istat, cause)) ||
		    (rc = opt_strings(icomp, "incidentStatusInternalText", w, &iistat, cause)) ||
		    (rc = opt_typed(icomp, "incidentCommonPriorityNumber", w, JSON_INTEGER,
			 "an integer", &iprion, cause)) ||
		    (rc = opt_str(icomp, "incidentPriorityInternalText", w, &iprio, cause)) ||
		    (rc = opt_str(icomp, "internalIncidentId", w, &iid, cause)) ||
		    (rc = opt_typed(icomp, "locationReference", w, JSON_ARRAY, "a list", &irefs,
			 cause)))
			goto done;
		json_t *ji = json_pack("{s:s}", "incidentTypeCommonRegistryText", code);
		json_object_set_new(details, "incident", ji);
		set_str(ji, "incidentTypeInternalCode", icode);
		set_str(ji, "incidentTypeInternalText", itext);
		if (istat)
			json_object_set(ji, "incidentStatusCommonRegistryText", istat);
		if (iistat)
			json_object_set(ji, "incidentStatusInternalText", iistat);
		if (iprion)
			json_object_set(ji, "incidentCommonPriorityNumber", iprion);
		set_str(ji, "incidentPriorityInternalText", iprio);
		set_str(ji, "internalIncidentId", iid);
	}

	if ((rc = read_links(root, details, rep, cause)) ||
	    (rc = read_calls(root, details, &first_call, &call_prio, cause)) ||
	    (rc = read_texts(root, details, &desc, cause)) ||
	    (rc = read_locations(root, details, &locs, &nlocs, cause)))
		goto done;
	{
		json_t *persons, *p, *out = NULL;
		size_t i;
		if ((rc = opt_objects(root, "personComponent", &persons, cause)))
			goto done;
		json_array_foreach(persons, i, p) {
			char w[48];
			const char *id;
			json_t *roles;
			snprintf(w, sizeof w, "personComponent[%zu]", i + 1);
			if ((rc = opt_str(p, "$id", w, &id, cause)) ||
			    (rc = opt_strings(p, "personIncidentRoleRegistryText", w, &roles, cause)))
				goto done;
			json_t *j = json_object();
			set_str(j, "id", id);
			if (roles)
				json_object_set_new(j, "roles", roles);
			if (out == NULL) {
				out = json_array();
				json_object_set_new(details, "persons", out);
			}
			json_array_append_new(out, j);
		}
	}

	/* The incident. */
	inc->ext_ref = gw_ext_ref_from(iti, &derived);
	if (derived)
		json_object_set_new(details, "ext_ref_derived", json_true());
	/* The registry's codes are upper case; its own table has stray spaces ("HAZMAT "). */
	char *trimmed = NULL;
	if (code) {
		while (*code == ' ')
			code++;
		trimmed = xstrdup(code);
		for (size_t n = strlen(trimmed); n > 0 && trimmed[n - 1] == ' '; n--)
			trimmed[n - 1] = '\0';
		for (char *c = trimmed; *c; c++)
			if (*c >= 'a' && *c <= 'z')
				*c = (char)(*c - 'a' + 'A');
	}
	if (trimmed && *trimmed == '\0') {
		free(trimmed);
		trimmed = NULL;
	}
	const struct code_group *g = code_lookup(trimmed);
	enum inc_line la = agencies_line(json_object_get(details, "agencies"));
	enum inc_line lc = g ? g->line : INC_LINE_N;
	/* The agencies' type, else the code's line; a traffic code with the police is 122. */
	inc->line = la != INC_LINE_N ? la : lc != INC_LINE_N ? lc : INC_LINE_OTHER;
	if (lc == INC_LINE_122 && la == INC_LINE_110)
		inc->line = INC_LINE_122;
	inc->category = g ? g->cat : INC_CAT_OTHER;
	if (iprion && json_integer_value(iprion) >= 1 && json_integer_value(iprion) <= 4)
		inc->priority = (int)json_integer_value(iprion);
	else if (g)
		inc->priority = g->priority;
	else if (call_prio)
		inc->priority = call_prio;
	else
		inc->priority = 3;
	if (icode && code_chars(icode, INC_TYPE_MAX))
		inc->type = xstrdup(icode);
	else if (trimmed && code_chars(trimmed, INC_TYPE_MAX - 5))
		inc->type = xasprintf("eido.%s", trimmed);

	/* Status: the last internal one when it is ours, else the last common one. */
	inc->status = INC_ST_NEW;
	size_t ns = json_array_size(iistat);
	int st = ns ? inc_status_parse(json_string_value(json_array_get(iistat, ns - 1))) : -1;
	if (st >= 0) {
		inc->status = (enum inc_status)st;
	} else if ((ns = json_array_size(istat)) > 0) {
		const char *last = json_string_value(json_array_get(istat, ns - 1));
		for (size_t k = 0; k < sizeof status_map / sizeof status_map[0]; k++)
			if (strcasecmp(last, status_map[k].eido) == 0)
				inc->status = status_map[k].st;
	}

	char *raw, *title;
	if (itext)
		raw = xstrdup(itext);
	else if (trimmed)
		raw = xasprintf("EIDO %s from %s", trimmed, agency);
	else
		raw = xasprintf("EIDO incident from %s", agency);
	title = plain(raw, 1);
	inc->title = gw_text_clip(title, INC_TITLE_MAX);
	free(raw);
	free(title);
	free(trimmed);
	if (desc) {
		char *d = plain(desc, 0);
		inc->description = gw_text_clip(d, INC_DESCRIPTION_MAX);
		free(d);
	}
	pick_location(locs, nlocs, irefs, inc, details);
	inc->reported_at = first_call ? first_call : updated;

	rep->version = updated;
	if (inc->status == INC_ST_CANCELLED) {
		/* A cancelled incident: cancel it here too (it is its own target). */
		for (int i = 0; i < rep->ntargets; i++)
			free(rep->targets[i]);
		rep->ntargets = 0;
		gw_report_add_target(rep, inc->ext_ref);
		rep->action = GW_CANCEL;
	} else {
		rep->action = rep->ntargets ? GW_UPDATE : GW_REPORT;
	}
	if ((rc = gw_details_fit(details, "the EIDO", &inc->details, cause)) == 0)
		rc = inc_validate(inc, cause);
done:
	for (size_t i = 0; i < nlocs; i++) {
		free(locs[i].pidf.civic);
		free(locs[i].pidf.method);
	}
	free(locs);
	free(desc);
	json_decref(istat);
	json_decref(iistat);
	return rc;
}

static int
eido_parse(const struct gw_host *host, const char *body, size_t len, struct gw_report *rep,
    char **cause)
{
	json_error_t jerr;
	memset(rep, 0, sizeof *rep);
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return srv_fail(cause, SRV_E_BAD_JSON, "invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
	json_t *details = json_object();
	int rc = eido_read(host, root, rep, details, cause);
	json_decref(details);
	json_decref(root);
	if (rc)
		gw_report_clear(rep);
	return rc;
}

/* --- export ------------------------------------------------------------------ */

static json_t *
prologue(const char *id, const char *ts)
{
	return json_pack("{s:s,s:s,s:{s:s}}", "$id", id, "lastUpdateTimeStamp", ts,
	    "updatedByAgencyReference", "$ref", CENTRE_AGENCY);
}

/*
 * Does a code read back as this incident's category and line? The agency
 * type carries 110/119/120; a 122 incident needs a traffic code, and one on
 * line "other" (a PSAP agency) a code of no line.
 */
static int
code_fits(const struct incident *inc, const char *code)
{
	const struct code_group *g = code ? code_lookup(code) : NULL;
	if (g == NULL || g->cat != inc->category)
		return 0;
	if (inc->line == INC_LINE_122)
		return g->line == INC_LINE_122;
	if (inc->line == INC_LINE_OTHER)
		return g->line == INC_LINE_N;
	return g->line != INC_LINE_122;
}

/*
 * The EIDO common type code for an incident: its type when that is one
 * ("eido.FSTRU"), else the code an imported EIDO carried, else the generic
 * code of its line and category -- whichever first reads back the same.
 */
static const char *
export_code(const struct incident *inc, json_t *prev)
{
	const char *kept = json_string_value(
	    json_object_get(json_object_get(prev, "incident"), "incidentTypeCommonRegistryText"));
	if (inc->type && strncmp(inc->type, "eido.", 5) == 0 && code_fits(inc, inc->type + 5))
		return inc->type + 5;
	if (code_fits(inc, kept))
		return kept;
	return generic_code[inc->line][inc->category];
}

/* The PIDF-LO of a point (gml:pos is latitude then longitude). */
static char *
pidf_point_xml(double lon, double lat)
{
	return xasprintf("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
			 "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
			 "xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\" "
			 "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
			 "xmlns:gml=\"http://www.opengis.net/gml\" entity=\"pres:incident@%s\">"
			 "<dm:device id=\"incident\"><gp:geopriv><gp:location-info>"
			 "<gml:Point srsName=\"urn:ogc:def:crs:EPSG::4326\"><gml:pos>%.7f %.7f</gml:pos>"
			 "</gml:Point></gp:location-info><gp:usage-rules/></gp:geopriv></dm:device>"
			 "</presence>",
	    CENTRE_AGENCY, lat, lon);
}

/* The agencies an imported EIDO named go out again beside this centre. */
static void
export_agencies(json_t *out, json_t *prev, const char *ts)
{
	json_t *a;
	size_t i;
	json_array_foreach(json_object_get(prev, "agencies"), i, a) {
		const char *id = json_string_value(json_object_get(a, "id"));
		json_t *types = json_object_get(a, "agencyType"), *roles = json_object_get(a, "roles");
		if (id == NULL || strcmp(id, CENTRE_AGENCY) == 0 || !json_is_array(types) ||
		    !json_is_array(roles))
			continue;
		json_t *c = prologue(id, ts);
		json_object_set(c, "agencyRoleDescriptionRegistryText", roles);
		json_object_set(c, "agencyType", types);
		if (json_is_boolean(json_object_get(a, "owning")))
			json_object_set(c, "incidentOwningAgencyIndicator", json_object_get(a, "owning"));
		json_array_append_new(out, c);
	}
}

/* Links and merges kept from an imported EIDO go out again. */
static void
export_links(json_t *doc, json_t *prev, const char *base, const char *ts)
{
	static const struct {
		const char *key, *comp, *dir;
	} kinds[] = { { "links", "linkComponent", "linkDirectionCode" },
		{ "merges", "mergeComponent", "incidentMergeDirectionCode" } };
	for (int k = 0; k < 2; k++) {
		json_t *list = json_object_get(prev, kinds[k].key), *x, *out = NULL;
		size_t i;
		json_array_foreach(list, i, x) {
			const char *iti = json_string_value(json_object_get(x, "incidentTrackingIdentifier"));
			const char *dir = json_string_value(json_object_get(x, kinds[k].dir));
			if (iti == NULL || dir == NULL)
				continue;
			char *id = xasprintf("%s:%s:%zu", base, kinds[k].key, i + 1);
			json_t *c = prologue(id, ts);
			free(id);
			json_object_set_new(c, "incidentTrackingIdentifier", json_string(iti));
			json_object_set_new(c, kinds[k].dir, json_string(dir));
			set_str(c, "transactionReasonText",
			    json_string_value(json_object_get(x, "transactionReasonText")));
			if (out == NULL) {
				out = json_array();
				json_object_set_new(doc, kinds[k].comp, out);
			}
			json_array_append_new(out, c);
		}
	}
}

/*
 * Render a stored incident as an EIDO 1.0 document: the header (tracking
 * identifier, last update, issuing element, agency), the incident component
 * (type codes, status, priority), a call for the line reports (its start is
 * reported_at), the description as a note, the position as a PIDF-LO
 * point and the address as the location's description, this centre as
 * the dispatching agency, and links and merges an imported EIDO carried.
 */
static int
eido_render(const struct gw_host *host, const struct incident *inc, char **out, size_t *len,
    char **cause)
{
	char ts[40], rts[40], *iti, *base;
	json_t *prev = NULL;
	if ((unsigned)inc->line >= INC_LINE_N || (unsigned)inc->category >= INC_CAT_N ||
	    (unsigned)inc->status >= INC_ST_N || inc->title == NULL)
		return srv_fail(cause, SRV_E_INTERNAL, "incident %lld is not a valid stored incident",
		    (long long)inc->id);
	int64_t upd = inc->updated_at > 0 ? inc->updated_at : inc->reported_at;
	if (upd <= 0)
		upd = host->now_us();
	srv_fmt_time(upd, 1, ts, sizeof ts);
	srv_fmt_time(inc->reported_at > 0 ? inc->reported_at : upd, 1, rts, sizeof rts);

	if (inc->source && strcmp(inc->source, "eido") == 0 && inc->details)
		prev = json_loads(inc->details, 0, NULL);
	const char *orig = json_string_value(json_object_get(prev, "incidentTrackingIdentifier"));
	if (orig)
		iti = xstrdup(orig);
	else if (inc->source && strcmp(inc->source, "eido") == 0 && inc->ext_ref)
		iti = xstrdup(inc->ext_ref);
	else
		iti = xasprintf(ITI_PREFIX "%lld-%llx:%s", (long long)inc->id,
		    (unsigned long long)inc->created_at, CENTRE_AGENCY);
	base = xasprintf("urn:liandong:%s:incident:%lld", CENTRE_AGENCY, (long long)inc->id);

	json_t *doc = json_object();
	json_object_set_new(doc, "$id", json_string(iti));
	json_object_set_new(doc, "lastUpdateTimeStamp", json_string(ts));
	json_object_set_new(doc, "updatedByAgencyReference", json_pack("{s:s}", "$ref", CENTRE_AGENCY));
	json_object_set_new(doc, "eidoVersion", json_string("1.0"));
	json_object_set_new(doc, "issuingElementIdentification", json_string(CENTRE_ELEMENT));

	char *id = xasprintf("%s:incident", base);
	json_t *ic = prologue(id, ts);
	free(id);
	json_object_set_new(doc, "incidentComponent", ic);
	json_object_set_new(ic, "incidentTypeCommonRegistryText", json_string(export_code(inc, prev)));
	set_str(ic, "incidentTypeInternalCode", inc->type);
	set_str(ic, "incidentTypeInternalText", inc->title);
	json_object_set_new(ic, "incidentStatusCommonRegistryText",
	    json_pack("[s]", status_common[inc->status]));
	json_object_set_new(ic, "incidentStatusInternalText",
	    json_pack("[s]", inc_status_name(inc->status)));
	json_object_set_new(ic, "incidentCommonPriorityNumber", json_integer(inc->priority));
	json_object_set_new(ic, "incidentPriorityInternalText", json_sprintf("%d", inc->priority));
	json_object_set_new(ic, "internalIncidentId", json_sprintf("%lld", (long long)inc->id));

	if (inc->line != INC_LINE_OTHER) {
		/* A report on the 110/119/120/122 lines is a call; its start is reported_at. */
		id = xasprintf("%s:call", base);
		json_t *call = prologue(id, ts);
		free(id);
		json_object_set_new(call, "callStateRegistryText", json_string("callEnd"));
		json_object_set_new(call, "standardPrimaryCallType", json_string("emergency"));
		json_object_set_new(call, "direction", json_string("incoming"));
		json_object_set_new(call, "callStartTimestamp", json_string(rts));
		json_object_set_new(doc, "callComponent", json_pack("[o]", call));
	}
	if (inc->description) {
		id = xasprintf("%s:note", base);
		json_t *note = prologue(id, ts);
		char *html = html_escape(inc->description);
		json_object_set_new(note, "notesActionComments", json_string(html));
		free(html);
		json_object_set_new(doc, "notesComponent", json_pack("[o]", note));
		json_object_set_new(ic, "notesReference", json_pack("[{s:s}]", "$ref", id));
		free(id);
	}
	json_t *agency = prologue(CENTRE_AGENCY, ts);
	json_object_set_new(agency, "agencyRoleDescriptionRegistryText", json_pack("[s]", "Dispatching"));
	json_object_set_new(agency, "agencyType", json_pack("[s]", line_agency_type[inc->line]));
	if (prev == NULL)
		json_object_set_new(agency, "incidentOwningAgencyIndicator", json_true());
	json_t *agencies = json_pack("[o]", agency);
	json_object_set_new(doc, "agencyComponent", agencies);
	export_agencies(agencies, prev, ts);
	if (inc->has_position || inc->address) {
		id = xasprintf("%s:location", base);
		json_t *loc = prologue(id, ts);
		json_object_set_new(loc, "locationTypeDescriptionRegistryText",
		    json_string("CurrentIncident"));
		if (inc->has_position) {
			char *pidf = pidf_point_xml(inc->lon, inc->lat);
			json_object_set_new(loc, "locationByValue", json_string(pidf));
			free(pidf);
		}
		set_str(loc, "locationDescriptionText", inc->address);
		json_object_set_new(doc, "locationComponent", json_pack("[o]", loc));
		json_object_set_new(ic, "locationReference", json_pack("[{s:s}]", "$ref", id));
		free(id);
	}
	export_links(doc, prev, base, ts);
	json_object_set_new(doc, "@context", json_pack("{s:s}", "@vocab", EIDO_CONTEXT));

	*out = srv_json_dump(doc, NULL);
	json_decref(doc);
	json_decref(prev);
	free(iti);
	free(base);
	if (*out == NULL) /* only invalid UTF-8 can fail, and stored text is valid */
		return srv_fail(cause, SRV_E_INTERNAL, "the EIDO could not be serialised");
	*len = strlen(*out);
	return 0;
}

static const char *const eido_types[] = { "application/json", NULL };

const struct gw_adapter gw_eido = {
	.api_version = GW_API_VERSION,
	.name = "eido",
	.summary = "NENA EIDO 1.0 (NENA-STA-021) incident exchange with other centres; GET as EIDO",
	.content_types = eido_types,
	.line = INC_LINE_OTHER,
	.parse = eido_parse,
	.render = eido_render,
};
