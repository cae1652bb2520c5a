/*
 * gw_xml-int.h - helpers the standards adapters share (CAP and EIDO): safe
 * XML reading, ext_ref derivation, text clipping, fitting details under the
 * size limit. Defined in gw_cap.c; private to gateways/ (and its tests).
 */
#ifndef GW_XML_INT_H
#define GW_XML_INT_H

#include <jansson.h>
#include <libxml/tree.h>
#include <stddef.h>

/*
 * Parse an XML document with network, DTDs, entities and XInclude off, and
 * any DOCTYPE or ENTITY refused. what names the document in causes. On
 * success *out is the document (free with xmlFreeDoc) and 0 is returned;
 * otherwise an SRV_E_* code with *cause set.
 */
int gw_xml_read_safe(const char *body, size_t len, const char *what, xmlDoc **out, char **cause);
/*
 * The ext_ref for an agency identifier: itself when it fits the ext_ref
 * alphabet and length, else a stable "x:<cleaned>:<FNV-1a hash>" form.
 * *derived (may be NULL) says which. Returns a new string.
 */
char *gw_ext_ref_from(const char *id, int *derived);
/* A copy of UTF-8 text cut to at most max_chars code points, ending in "…" when cut. */
char *gw_text_clip(const char *s, size_t max_chars);
/*
 * Serialise details so they fit INC_DETAILS_MAX, cutting in stages with
 * "truncated": true; SRV_E_TOO_LARGE when even the last stage does not fit.
 * *out is allocated; details is modified.
 */
int gw_details_fit(json_t *details, const char *what, char **out, char **cause);

#endif
