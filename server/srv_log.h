/*
 * srv_log.h - structured logs to stderr.
 *
 * One line per record in logfmt: ts=... level=... mod=... msg="..." k=v ...
 * Safe to call from any thread (one fprintf per record, stderr unbuffered per
 * line). Levels below the configured one cost one comparison.
 */
#ifndef SRV_LOG_H
#define SRV_LOG_H

enum srv_log_level { SRV_LOG_ERROR, SRV_LOG_WARN, SRV_LOG_INFO, SRV_LOG_DEBUG };

void srv_log_set_level(enum srv_log_level level);
enum srv_log_level srv_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int srv_log_parse_level(const char *name);

/*
 * Log one record. fmt formats the message; extra key=value pairs can be put
 * after a '|' in fmt's result: srv_log(SRV_LOG_INFO, "store", "committed|n=%d", n).
 */
void srv_log(enum srv_log_level level, const char *mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(mod, ...) srv_log(SRV_LOG_ERROR, mod, __VA_ARGS__)
#define log_warn(mod, ...) srv_log(SRV_LOG_WARN, mod, __VA_ARGS__)
#define log_info(mod, ...) srv_log(SRV_LOG_INFO, mod, __VA_ARGS__)
#define log_debug(mod, ...)                                                  \
	do {                                                                 \
		if (srv_log_get_level() >= SRV_LOG_DEBUG)                    \
			srv_log(SRV_LOG_DEBUG, mod, __VA_ARGS__);            \
	} while (0)

#endif
