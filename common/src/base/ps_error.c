#include "podstream/ps_error.h"

#include <stdio.h>

static const char *const ps_err_text[PS_ERR__COUNT] = {
    [PS_OK] = "success",
    [PS_ERR_NOMEM] = "out of memory",
    [PS_ERR_IO] = "input/output error",
    [PS_ERR_NOTFOUND] = "not found",
    [PS_ERR_EXISTS] = "already exists",
    [PS_ERR_PERM] = "permission problem",
    [PS_ERR_PARSE] = "malformed input",
    [PS_ERR_INVALID] = "invalid value",
    [PS_ERR_CRYPTO] = "decryption failed",
    [PS_ERR_RANGE] = "value out of range",
    [PS_ERR_UNSUPPORTED] = "not supported",
    [PS_ERR_NET] = "network error",
    [PS_ERR_AUTH] = "not authorised",
    [PS_ERR_CONFLICT] = "conflict",
    [PS_ERR_DB] = "database error",
    [PS_ERR_TIMEOUT] = "timed out",
    [PS_ERR_CLOSED] = "closed",
    [PS_ERR_AGAIN] = "try again",
    [PS_ERR_USAGE] = "usage error",
    [PS_ERR_INTERNAL] = "internal error",
    [PS_ERR_CORRUPT] = "database damaged",
};

const char *ps_strerror(ps_err err)
{
    if ((int)err < 0 || err >= PS_ERR__COUNT || !ps_err_text[err])
        return "unknown error";
    return ps_err_text[err];
}

ps_err ps_errmsg_set(ps_errmsg *em, ps_err err, const char *fmt, ...)
{
    if (em) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(em->text, sizeof em->text, fmt, ap);
        va_end(ap);
    }
    return err;
}
