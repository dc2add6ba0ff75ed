/* Text encodings on POSIX: iconv(3); byte search with glibc's memmem. */
#include "podstream/ps_platform.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#include "podstream/ps_mem.h"

ps_err ps_plat_charset_to_utf8(const char *charset, const char *in, size_t len, char **out,
                               size_t *outlen)
{
    iconv_t cd = iconv_open("UTF-8", charset);
    char *inp = (char *)in; /* iconv's prototype; it does not write the input */
    size_t inleft = len;
    ps_buf buf = {0};
    ps_err err = PS_OK;

    *out = NULL;
    *outlen = 0;
    if (cd == (iconv_t)-1) // NOLINT(performance-no-int-to-ptr): POSIX's failure value
        return PS_ERR_UNSUPPORTED;
    for (;;) {
        if ((err = ps_buf_reserve(&buf, inleft * 4 + 16)) != PS_OK)
            goto cleanup;
        /* iconv writes into the reserved room; the NUL is put back at the end. */
        char *op = buf.p + buf.len;
        size_t oleft = buf.cap - buf.len - 1;
        size_t r = iconv(cd, inleft ? &inp : NULL, inleft ? &inleft : NULL, &op, &oleft);
        buf.len = (size_t)(op - buf.p);
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
    buf.p[buf.len] = '\0';
    *out = ps_buf_take(&buf, outlen);
cleanup:
    ps_buf_deinit(&buf);
    iconv_close(cd);
    return err;
}

const void *ps_plat_memmem(const void *hay, size_t hlen, const void *needle, size_t nlen)
{
    return memmem(hay, hlen, needle, nlen);
}
