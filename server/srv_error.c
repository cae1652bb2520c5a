/* srv_error.c - see srv_error.h. */
#include "srv_error.h"
#include "srv_util.h"

#include <stddef.h>

struct err_info {
	int status;
	const char *code;
	const char *msg;
};

static const struct err_info errs[] = {
#define SRV_ERR_INFO(name, status, code, msg) { status, code, msg },
	SRV_ERRORS(SRV_ERR_INFO)
#undef SRV_ERR_INFO
};

static const struct err_info *
info(int err)
{
	if (err > SRV_E_BASE && err < SRV_E_END)
		return &errs[err - SRV_E_BASE - 1];
	return NULL;
}

int
srv_err_status(int err)
{
	const struct err_info *i = info(err);
	return i && i->status ? i->status : 500;
}

const char *
srv_err_code(int err)
{
	const struct err_info *i = info(err);
	return i ? i->code : "internal";
}

const char *
srv_err_msg(int err)
{
	const struct err_info *i = info(err);
	return i ? i->msg : "internal error";
}

int
srv_fail(char **cause, int err, const char *fmt, ...)
{
	if (cause != NULL && *cause == NULL) {
		va_list ap;
		va_start(ap, fmt);
		*cause = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return err;
}
