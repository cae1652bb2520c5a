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

/* The text of an object or array (NULL for anything else); *len gets its length when len is set. */
char *srv_json_dump(const json_t *j, size_t *len);

#endif
