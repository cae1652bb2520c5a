/*
 * srv_util.h - allocation wrappers, clocks and small string helpers.
 *
 * Out-of-memory is not an input error: the x* wrappers abort with a message,
 * so callers never carry a NULL check for allocation (tmux xmalloc).
 */
#ifndef SRV_UTIL_H
#define SRV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; the caller frees it. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* Wall-clock milliseconds / microseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t srv_now_ms(void);
int64_t srv_now_us(void);
/* Monotonic nanoseconds, for durations. */
uint64_t srv_mono_ns(void);

/*
 * Format a Unix time in microseconds as RFC 3339 UTC, with millisecond
 * precision ("2026-11-24T19:43:06.123Z") or, with micro set, microseconds.
 * buf must hold at least 32 bytes.
 */
void srv_fmt_time(int64_t us, int micro, char *buf, size_t len);
/*
 * Parse an RFC 3339 timestamp ("2026-11-24T19:43:06Z", optional fraction,
 * 'Z' or +hh:mm offset) into Unix microseconds. Returns 0 or -1.
 */
int srv_parse_time(const char *s, int64_t *out_us);

/* Is item one of the entries of a comma-separated list ("119,120,122")? NULL list: no. */
int srv_csv_has(const char *list, const char *item);

/*
 * A token bucket: `rate` tokens a second up to `burst`. Take one: 0, or -1
 * with *retry_after the whole seconds until one is there.
 */
struct srv_bucket {
	double tokens;
	uint64_t refilled_ms; /* 0: full, never used */
};
int srv_bucket_take(struct srv_bucket *b, double rate, int burst, int *retry_after);

/*
 * Deepest nesting of JSON objects and arrays in text (strings skipped),
 * counting no further than limit + 1: a cheap check before a parser that
 * recurses. Not a validator; malformed text is the parser's to refuse.
 */
#define SRV_JSON_MAX_DEPTH 32
int srv_json_depth(const char *text, size_t len, int limit);

/* True when s is valid UTF-8 of n bytes (no overlongs, no surrogates). */
int srv_utf8_valid(const char *s, size_t n);
/* Number of Unicode code points in a valid UTF-8 string. */
size_t srv_utf8_len(const char *s);

#endif
