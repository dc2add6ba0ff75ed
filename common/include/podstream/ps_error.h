/* ps_error: the one error enum of podstream.
 *
 * Every fallible function returns ps_err. Human detail (which file, which field)
 * travels separately, in a ps_diag list or a ps_errmsg buffer, never in the code. */
#ifndef PS_ERROR_H
#define PS_ERROR_H

#include <stdarg.h>
#include <stddef.h>

#include "ps_compiler.h"

typedef enum ps_err {
    PS_OK = 0,
    PS_ERR_NOMEM,       /* allocation failed */
    PS_ERR_IO,          /* a file or OS call failed */
    PS_ERR_NOTFOUND,    /* file, key, device or secret does not exist */
    PS_ERR_EXISTS,      /* refused to overwrite something that exists */
    PS_ERR_PERM,        /* permissions too open, or access denied */
    PS_ERR_PARSE,       /* malformed input: YAML, JSON, token syntax, frame */
    PS_ERR_INVALID,     /* well-formed input that fails validation */
    PS_ERR_CRYPTO,      /* decryption or authentication failed */
    PS_ERR_RANGE,       /* value out of bounds or too large */
    PS_ERR_UNSUPPORTED, /* feature missing in this build or platform */
    PS_ERR_NET,         /* network or TLS failure */
    PS_ERR_AUTH,        /* server refused our credentials */
    PS_ERR_CONFLICT,    /* resource held by someone else (409, lock) */
    PS_ERR_DB,          /* SQLite failure */
    PS_ERR_TIMEOUT,     /* an operation ran out of time */
    PS_ERR_CLOSED,      /* peer or queue closed */
    PS_ERR_AGAIN,       /* try again later; nothing is wrong */
    PS_ERR_USAGE,       /* bad command-line use */
    PS_ERR_INTERNAL,    /* a bug: an invariant did not hold */
    PS_ERR_CORRUPT,     /* the database file is damaged: retrying will not help */
    PS_ERR__COUNT
} ps_err;

/* Static English text for an error code. Never NULL; never needs freeing. */
const char *ps_strerror(ps_err err);

/* A caller-owned buffer for one detailed error message. Functions that can explain
 * a failure take `ps_errmsg *` (NULL allowed) and fill it on failure only. */
typedef struct ps_errmsg {
    char text[512];
} ps_errmsg;

/* Formats into `em` (no-op when em is NULL). Returns `err` so callers can write
 * `return ps_errmsg_set(em, PS_ERR_IO, "...", ...)`. */
ps_err ps_errmsg_set(ps_errmsg *em, ps_err err, const char *fmt, ...) PS_PRINTF(3, 4);

#endif
