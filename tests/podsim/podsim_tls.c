/* podsim_tls: the server-side TLS context, from PEM files (a test CA's server
 * certificate, see gen-certs.sh) or from an in-memory self-signed certificate for
 * quick runs and benchmarks where the client does not verify. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "podsim.h"

static void ssl_error(char *err, size_t errlen, const char *what, const char *path)
{
    unsigned long e = ERR_get_error();
    char detail[256] = "";
    if (e != 0) {
        ERR_error_string_n(e, detail, sizeof detail);
    }
    snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "", path ? path : "",
             detail[0] ? detail : "unknown OpenSSL error");
    ERR_clear_error();
}

static bool add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return false;
    }
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1;
}

/* A P-256 key and a one-day certificate for 127.0.0.1 and localhost. */
static bool self_signed(SSL_CTX *ctx, char *err, size_t errlen)
{
    bool ok = false;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (pkey == NULL || x == NULL) {
        ssl_error(err, errlen, "cannot create the self-signed certificate", NULL);
        goto out;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"podsim", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    if (!add_ext(x, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") ||
        !add_ext(x, NID_basic_constraints, "critical,CA:FALSE") ||
        X509_sign(x, pkey, EVP_sha256()) == 0 || SSL_CTX_use_certificate(ctx, x) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
        ssl_error(err, errlen, "cannot create the self-signed certificate", NULL);
        goto out;
    }
    ok = true;
out:
    X509_free(x);
    EVP_PKEY_free(pkey);
    return ok;
}

SSL_CTX *psim_tls_server_ctx(const psim_config *cfg, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_error(err, errlen, "cannot create the TLS context", NULL);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Partial writes let one SSL_write carry a whole batch of frames and return
     * what fit, so the event loop never has to retry with the same buffer. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (cfg->self_signed) {
        if (!self_signed(ctx, err, errlen)) {
            SSL_CTX_free(ctx);
            return NULL;
        }
        return ctx;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
        ssl_error(err, errlen, "cannot load --cert", cfg->cert);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1) {
        ssl_error(err, errlen, "cannot load --key", cfg->key);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "--key %s does not match --cert %s", cfg->key, cfg->cert);
        ERR_clear_error();
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}
