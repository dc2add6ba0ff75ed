/* Text encodings on POSIX: iconv(3). */
#include "podstream/ps_platform.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>

/* Grows *buf so that at least `need` bytes are free after `used`. */
static bool reserve(char **buf, size_t *cap, size_t used, size_t need)
{
    size_t ncap = *cap ? *cap : 64;
    char *n;

    if (*cap - used > need)
        return true;
    while (ncap - used <= need) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    n = realloc(*buf, ncap);
    if (!n)
        return false;
    *buf = n;
    *cap = ncap;
    return true;
}

ps_err ps_plat_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                               size_t *outlen)
{
    iconv_t cd = iconv_open("UTF-8", charset);
    char *inp = (char *)in; /* iconv's prototype; it does not write the input */
    size_t inleft = len, cap = 0, used = 0;
    char *buf = NULL;
    ps_err err = PS_OK;

    *out = NULL;
    *outlen = 0;
    if (cd == (iconv_t)-1) // NOLINT(performance-no-int-to-ptr): POSIX's failure value
        return PS_ERR_UNSUPPORTED;
    for (;;) {
        if (!reserve(&buf, &cap, used, inleft * 4 + 16)) {
            err = PS_ERR_NOMEM;
            goto cleanup;
        }
        char *op = buf + used;
        size_t oleft = cap - used - 1;
        size_t r = iconv(cd, inleft ? &inp : NULL, inleft ? &inleft : NULL, &op, &oleft);
        used = (size_t)(op - buf);
        if (r != (size_t)-1) {
            if (inleft == 0 && inp != NULL) {
                inp = NULL; /* one more call with NULL input flushes a shift state */
                continue;
            }
            break;
        }
        if (errno != E2BIG) {
            err = PS_ERR_PARSE; /* EILSEQ or EINVAL: bytes that are not this charset */
            goto cleanup;
        }
    }
    buf[used] = '\0';
    *out = buf;
    *outlen = used;
    buf = NULL;
cleanup:
    free(buf);
    iconv_close(cd);
    return err;
}
