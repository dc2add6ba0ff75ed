/* podsim_http: the little HTTP/1.1 request parsing podsim needs (the upgrade
 * request and the control endpoint). Strict on purpose: a simulator that accepted
 * sloppy requests would hide client bugs. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "podsim.h"

#define PSIM_MAX_REQUEST 16384

int psim_http_parse(const char *buf, size_t len, psim_http_req *req, size_t *consumed)
{
    const char *end = NULL;
    for (size_t k = 3; k < len; k++) {
        if (buf[k - 3] == '\r' && buf[k - 2] == '\n' && buf[k - 1] == '\r' && buf[k] == '\n') {
            end = buf + k + 1;
            break;
        }
    }
    if (end == NULL) {
        return len > PSIM_MAX_REQUEST ? -1 : 0;
    }
    memset(req, 0, sizeof *req);
    const char *line_end = memchr(buf, '\r', (size_t)(end - buf));
    const char *sp1 = memchr(buf, ' ', (size_t)(line_end - buf));
    if (sp1 == NULL || sp1 == buf || (size_t)(sp1 - buf) >= sizeof req->method) {
        return -1;
    }
    memcpy(req->method, buf, (size_t)(sp1 - buf));
    const char *target = sp1 + 1;
    const char *sp2 = memchr(target, ' ', (size_t)(line_end - target));
    if (sp2 == NULL || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        return -1;
    }
    const char *q = memchr(target, '?', (size_t)(sp2 - target));
    const char *path_end = q ? q : sp2;
    if ((size_t)(path_end - target) >= sizeof req->path) {
        return -1;
    }
    memcpy(req->path, target, (size_t)(path_end - target));
    if (q != NULL) {
        if ((size_t)(sp2 - q - 1) >= sizeof req->query) {
            return -1;
        }
        memcpy(req->query, q + 1, (size_t)(sp2 - q - 1));
    }
    req->headers = (char *)line_end + 2;
    req->headers_len = (size_t)(end - req->headers);
    *consumed = (size_t)(end - buf);
    return 1;
}

bool psim_http_header(const psim_http_req *req, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = req->headers;
    const char *end = req->headers + req->headers_len;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL) {
            break;
        }
        if ((size_t)(eol - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) {
                v++;
            }
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            size_t n = (size_t)(ve - v);
            if (n >= cap) {
                n = cap - 1;
            }
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
        p = eol + 2;
    }
    return false;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool psim_query_get(const char *query, const char *name, char *out, size_t cap)
{
    size_t nlen = strlen(name);
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        const char *pe = amp ? amp : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - p) == nlen && strncmp(p, name, nlen) == 0) {
            size_t o = 0;
            for (const char *v = eq ? eq + 1 : pe; v < pe && o + 1 < cap; v++) {
                if (*v == '%' && pe - v >= 3 && hexval(v[1]) >= 0 && hexval(v[2]) >= 0) {
                    out[o++] = (char)(hexval(v[1]) * 16 + hexval(v[2]));
                    v += 2;
                } else if (*v == '+') {
                    out[o++] = ' ';
                } else {
                    out[o++] = *v;
                }
            }
            out[o] = '\0';
            return true;
        }
        p = amp ? amp + 1 : NULL;
    }
    return false;
}

bool psim_header_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ',') {
            e++;
        }
        const char *te = e;
        while (te > p && (te[-1] == ' ' || te[-1] == '\t')) {
            te--;
        }
        if ((size_t)(te - p) == tlen && strncasecmp(p, token, tlen) == 0) {
            return true;
        }
        p = e;
    }
    return false;
}

const char *psim_http_reason(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    default:
        return "Error";
    }
}
