/* srv_log.c - see srv_log.h. */
#include "srv_log.h"
#include "srv_util.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_int log_level = SRV_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
srv_log_set_level(enum srv_log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum srv_log_level
srv_log_get_level(void)
{
	return (enum srv_log_level)atomic_load(&log_level);
}

int
srv_log_parse_level(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void
srv_log(enum srv_log_level level, const char *mod, const char *fmt, ...)
{
	if ((int)level > atomic_load(&log_level))
		return;
	va_list ap;
	va_start(ap, fmt);
	char *text = xvasprintf(fmt, ap);
	va_end(ap);

	char *kv = strchr(text, '|');
	if (kv)
		*kv++ = '\0';
	/* Quote the message: escape quotes and control characters. */
	size_t n = strlen(text);
	char *msg = xmalloc(n * 4 + 1), *o = msg;
	for (const char *p = text; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			o += sprintf(o, "\\x%02x", c);
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	char ts[40];
	srv_fmt_time(srv_now_us(), 0, ts, sizeof ts);
	fprintf(stderr, "ts=%s level=%s mod=%s msg=\"%s\"%s%s\n", ts, level_names[level], mod, msg,
	    kv ? " " : "", kv ? kv : "");
	free(msg);
	free(text);
}
