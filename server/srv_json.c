/*
 * srv_json.c - compact JSON text from jansson values (see srv_json.h).
 */
#include "srv_json.h"
#include "srv_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
reserve(struct srv_jbuf *o, size_t more)
{
	if (o->len + more <= o->cap)
		return;
	size_t cap = o->cap ? o->cap : 256;
	while (cap < o->len + more)
		cap *= 2;
	o->p = xrealloc(o->p, cap);
	o->cap = cap;
}

void
srv_jb_raw(struct srv_jbuf *o, const char *s, size_t n)
{
	reserve(o, n);
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

void
srv_jb_char(struct srv_jbuf *o, char c)
{
	reserve(o, 1);
	o->p[o->len++] = c;
}

void
srv_jb_strn(struct srv_jbuf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	reserve(o, n + 2);
	o->p[o->len++] = '"';
	size_t run = 0; /* bytes copied as they are, pending */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\') {
			run++;
			continue;
		}
		srv_jb_raw(o, s + i - run, run);
		run = 0;
		char esc[6] = { '\\', 0 };
		size_t k = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			k = 6;
		}
		srv_jb_raw(o, esc, k);
	}
	srv_jb_raw(o, s + n - run, run);
	srv_jb_char(o, '"');
}

void
srv_jb_int(struct srv_jbuf *o, int64_t v)
{
	char buf[24], *e = buf + sizeof buf, *p = e;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	srv_jb_raw(o, p, (size_t)(e - p));
}

/*
 * 12 significant digits as %g writes them, then as jansson shows reals: a
 * ".0" when the text would read as an integer, and an exponent without '+'
 * or leading zeros ("1e20", "1e-5").
 */
void
srv_jb_real(struct srv_jbuf *o, double v)
{
	char buf[40];
	int n = snprintf(buf, sizeof buf, "%.12g", v);
	if (n <= 0 || n >= (int)sizeof buf - 3)
		n = snprintf(buf, sizeof buf, "0.0");
	for (int i = 0; i < n; i++)
		if (buf[i] == ',')
			buf[i] = '.'; /* a locale with a decimal comma */
	char *e = strchr(buf, 'e');
	if (e == NULL && strchr(buf, '.') == NULL) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	} else if (e) {
		char *from = e + 1, *to = e + 1;
		if (*from == '-')
			*to++ = *from++;
		else if (*from == '+')
			from++;
		while (*from == '0' && from[1] != '\0')
			from++;
		memmove(to, from, strlen(from) + 1);
		n = (int)strlen(buf);
	}
	srv_jb_raw(o, buf, (size_t)n);
}

void
srv_jb_value(struct srv_jbuf *o, const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		srv_jb_char(o, '{');
		int first = 1;
		for (void *it = json_object_iter((json_t *)j); it;
		     it = json_object_iter_next((json_t *)j, it)) {
			if (!first)
				srv_jb_char(o, ',');
			first = 0;
			srv_jb_strn(o, json_object_iter_key(it), json_object_iter_key_len(it));
			srv_jb_char(o, ':');
			srv_jb_value(o, json_object_iter_value(it));
		}
		srv_jb_char(o, '}');
		break;
	}
	case JSON_ARRAY: {
		srv_jb_char(o, '[');
		size_t n = json_array_size(j);
		for (size_t i = 0; i < n; i++) {
			if (i)
				srv_jb_char(o, ',');
			srv_jb_value(o, json_array_get(j, i));
		}
		srv_jb_char(o, ']');
		break;
	}
	case JSON_STRING:
		srv_jb_strn(o, json_string_value(j), json_string_length(j));
		break;
	case JSON_INTEGER:
		srv_jb_int(o, json_integer_value(j));
		break;
	case JSON_REAL:
		srv_jb_real(o, json_real_value(j));
		break;
	case JSON_TRUE:
		srv_jb_raw(o, "true", 4);
		break;
	case JSON_FALSE:
		srv_jb_raw(o, "false", 5);
		break;
	case JSON_NULL:
		srv_jb_raw(o, "null", 4);
		break;
	}
}

void
srv_jb_str(struct srv_jbuf *o, const char *s)
{
	if (s)
		srv_jb_strn(o, s, strlen(s));
	else
		srv_jb_raw(o, "null", 4);
}

char *
srv_jb_finish(struct srv_jbuf *o, size_t *len)
{
	srv_jb_char(o, '\0');
	if (len)
		*len = o->len - 1;
	char *p = o->p;
	o->p = NULL;
	o->len = o->cap = 0;
	return p;
}

char *
srv_json_dump(const json_t *j, size_t *len)
{
	if (j == NULL || (!json_is_object(j) && !json_is_array(j)))
		return NULL;
	struct srv_jbuf o = { 0 };
	srv_jb_value(&o, j);
	return srv_jb_finish(&o, len);
}
