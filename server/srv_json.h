/*
 * srv_json.h - JSON text from jansson values, fast.
 *
 * jansson's json_dumps checks every object and array for cycles through a
 * hash table keyed by its address printed with snprintf, and prints every
 * integer with snprintf: on the intake path (the journal frame and the 201
 * answer, both the whole incident) that was a third of the server's work.
 * srv_json_dump writes the same bytes as json_dumps(j, SRV_JSON_FLAGS)
 * (compact, keys in insertion order, reals with 12 significant digits,
 * non-ASCII as UTF-8) without either. Trees must be acyclic, as jansson's
 * reference counting makes them unless built on purpose otherwise.
 */
#ifndef SRV_JSON_H
#define SRV_JSON_H

#include <jansson.h>
#include <stddef.h>

#include <stdint.h>

/* The text of an object or array (NULL for anything else); *len gets its length when len is set. */
char *srv_json_dump(const json_t *j, size_t *len);

/*
 * The same writer for text built piece by piece (a known shape written
 * straight to text, as inc_to_text does): start from a zeroed srv_jbuf,
 * append, then srv_jb_finish hands over the NUL-terminated text.
 */
struct srv_jbuf {
	char *p;
	size_t len, cap;
};
void srv_jb_raw(struct srv_jbuf *b, const char *s, size_t n); /* as it is */
void srv_jb_char(struct srv_jbuf *b, char c);
void srv_jb_str(struct srv_jbuf *b, const char *s);           /* a JSON string; NULL: null */
void srv_jb_strn(struct srv_jbuf *b, const char *s, size_t n);
void srv_jb_int(struct srv_jbuf *b, int64_t v);
void srv_jb_real(struct srv_jbuf *b, double v);               /* 12 significant digits */
void srv_jb_value(struct srv_jbuf *b, const json_t *j);       /* any jansson value */
char *srv_jb_finish(struct srv_jbuf *b, size_t *len);

#endif
