/* podsim: command line. Parses options into a psim_config and runs the server, or
 * dumps generated events (--dump). Every error names the option (or file and line)
 * and exits with 2; runtime failures exit with 1. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <openssl/crypto.h>

#include "podsim.h"

enum {
    O_PORT = 1000,
    O_TLS_PORT,
    O_CONTROL_PORT,
    O_CERT,
    O_KEY,
    O_SELF_SIGNED,
    O_PORT_FILE,
    O_TOKEN,
    O_TOKENS,
    O_SEED,
    O_START,
    O_SPEED,
    O_RATE,
    O_COUNT,
    O_HISTORY,
    O_BACKLOG,
    O_DISORDER,
    O_DISORDER_MAX,
    O_DUP_RATE,
    O_BIG_SHARE,
    O_BIG_BYTES,
    O_BINARY,
    O_COMPRESS,
    O_FRAGMENT,
    O_IDLE,
    O_HOLD,
    O_RESUME_WINDOW,
    O_STALE,
    O_REACH,
    O_MAX_SESSIONS,
    O_SENT_LOG,
    O_DUMP,
    O_TYPE,
    O_CID,
    O_FROM_INDEX,
    O_VERSION,
};

static const struct option long_opts[] = {
    {"port", required_argument, NULL, O_PORT},
    {"tls-port", required_argument, NULL, O_TLS_PORT},
    {"control-port", required_argument, NULL, O_CONTROL_PORT},
    {"cert", required_argument, NULL, O_CERT},
    {"key", required_argument, NULL, O_KEY},
    {"self-signed", no_argument, NULL, O_SELF_SIGNED},
    {"port-file", required_argument, NULL, O_PORT_FILE},
    {"token", required_argument, NULL, O_TOKEN},
    {"tokens", required_argument, NULL, O_TOKENS},
    {"seed", required_argument, NULL, O_SEED},
    {"start", required_argument, NULL, O_START},
    {"speed", required_argument, NULL, O_SPEED},
    {"rate", required_argument, NULL, O_RATE},
    {"count", required_argument, NULL, O_COUNT},
    {"history", required_argument, NULL, O_HISTORY},
    {"initial-backlog", required_argument, NULL, O_BACKLOG},
    {"disorder", required_argument, NULL, O_DISORDER},
    {"disorder-max", required_argument, NULL, O_DISORDER_MAX},
    {"dup-rate", required_argument, NULL, O_DUP_RATE},
    {"big-share", required_argument, NULL, O_BIG_SHARE},
    {"big-bytes", required_argument, NULL, O_BIG_BYTES},
    {"binary", no_argument, NULL, O_BINARY},
    {"compress", no_argument, NULL, O_COMPRESS},
    {"fragment", required_argument, NULL, O_FRAGMENT},
    {"idle-timeout", required_argument, NULL, O_IDLE},
    {"hold", required_argument, NULL, O_HOLD},
    {"resume-window", required_argument, NULL, O_RESUME_WINDOW},
    {"archive-stale", required_argument, NULL, O_STALE},
    {"archive-reach", required_argument, NULL, O_REACH},
    {"max-sessions", required_argument, NULL, O_MAX_SESSIONS},
    {"sent-log", required_argument, NULL, O_SENT_LOG},
    {"dump", required_argument, NULL, O_DUMP},
    {"type", required_argument, NULL, O_TYPE},
    {"cid", required_argument, NULL, O_CID},
    {"from-index", required_argument, NULL, O_FROM_INDEX},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

static const char *opt_name(int val)
{
    for (const struct option *o = long_opts; o->name != NULL; o++) {
        if (o->val == val) {
            return o->name;
        }
    }
    return "?";
}

static const char usage[] =
    "Usage: podsim [OPTION]...\n"
    "A POD Log API simulator: serves GET /v1/stream over ws:// and wss:// on 127.0.0.1,\n"
    "with a loopback control endpoint for test scenarios. See docs/podsim.md.\n"
    "\n"
    "Listening (ports on 127.0.0.1; 0 picks a free port, off disables):\n"
    "  --port N            ws:// port (default 9080)\n"
    "  --tls-port N        wss:// port (default 9443 when --cert or --self-signed, else off)\n"
    "  --control-port N    control endpoint port (default 9081)\n"
    "  --cert FILE         server certificate chain, PEM (with --key)\n"
    "  --key FILE          server private key, PEM\n"
    "  --self-signed       use an in-memory self-signed certificate instead\n"
    "  --port-file FILE    write {\"ws\",\"wss\",\"control\",\"pid\"} as JSON once listening\n"
    "\n"
    "Credentials (at least one is required; tokens are never printed):\n"
    "  --token CID:TOKEN   accept TOKEN for cluster CID (repeatable)\n"
    "  --tokens FILE       one \"CID TOKEN\" per line; # starts a comment\n"
    "\n"
    "Events (per cluster and type):\n"
    "  --seed N            generator seed (default 1); same seed, same events\n"
    "  --start TIME        simulated clock start, ISO 8601 or now (default now)\n"
    "  --speed F           simulated seconds per real second (default 1)\n"
    "  --rate N|max        events per simulated second (default 2); max: live sessions\n"
    "                      send as fast as the client reads, ignoring the clock\n"
    "  --count N           the timeline ends after N events (default: no end)\n"
    "  --history DUR       events exist from this long before --start (default 31d)\n"
    "  --initial-backlog DUR  a token's first live session starts this far back (default 0)\n"
    "  --disorder SHARE    share of events whose ts lags their send time (default 0)\n"
    "  --disorder-max DUR  largest such lag (default 120s)\n"
    "  --dup-rate SHARE    share of live events sent twice (default 0)\n"
    "  --big-share SHARE   share of message events with a large msgParts (default 0)\n"
    "  --big-bytes N       size of those parts (default 1200000: frames over 1 MiB)\n"
    "\n"
    "Frames and sessions:\n"
    "  --binary            send events in binary frames instead of text\n"
    "  --compress          permessage-deflate for clients that offer it\n"
    "  --fragment N        split each event into frames of at most N bytes\n"
    "  --idle-timeout DUR  drop a connection quiet in both directions (default 300s, 0 off)\n"
    "  --hold DUR          a client that vanished keeps its session slot (409) this long\n"
    "                      (default 0)\n"
    "  --resume-window DUR a reconnect within this resumes at the drop (default 1h)\n"
    "  --archive-stale DUR archive mode only serves events at least this old (default 30m)\n"
    "  --archive-reach DUR archive mode reaches back at most this far (default 30d)\n"
    "  --max-sessions N    sessions per token and type (default 1); more get 409\n"
    "  --sent-log FILE     append \"type<TAB>key<TAB>ts\" for every event written\n"
    "\n"
    "Generating without serving:\n"
    "  --dump N            write N events as JSON lines to stdout and exit\n"
    "  --type T            with --dump: message (default), maillog or audit\n"
    "  --cid CID           with --dump: cluster (default: the first token's, else podsim_demo)\n"
    "  --from-index I      with --dump: first event index (default 0)\n"
    "\n"
    "  -v, --verbose       log more (each option adds detail); -q, --quiet logs errors only\n"
    "  -h, --help          show this help;  --version  show the version\n"
    "\n"
    "DUR is seconds, optionally with a unit: 90, 1.5s, 30m, 2h, 30d.\n"
    "Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("podsim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'podsim --help'.\n", stderr);
    return 2;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (s[0] < '0' || s[0] > '9') {
        return false;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno != 0) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0' || errno != 0 || !isfinite(d) || d < lo || d > hi) {
        return false;
    }
    *out = d;
    return true;
}

/* "90", "1.5s", "30m", "2h", "30d" -> microseconds. */
static bool parse_duration(const char *s, int64_t *out_us)
{
    char num[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof num) {
        return false;
    }
    double mult = 1;
    memcpy(num, s, n + 1);
    switch (num[n - 1]) {
    case 's':
        num[n - 1] = '\0';
        break;
    case 'm':
        mult = 60;
        num[n - 1] = '\0';
        break;
    case 'h':
        mult = 3600;
        num[n - 1] = '\0';
        break;
    case 'd':
        mult = 86400;
        num[n - 1] = '\0';
        break;
    default:
        break;
    }
    double d;
    if (!parse_double(num, 0, 1e7, &d)) {
        return false;
    }
    *out_us = (int64_t)llround(d * mult * 1e6);
    return true;
}

static bool parse_port(const char *s, int *out)
{
    uint64_t v;
    if (strcmp(s, "off") == 0) {
        *out = -1;
        return true;
    }
    if (!parse_u64(s, &v) || v > 65535) {
        return false;
    }
    *out = (int)v;
    return true;
}

static void free_tokens(psim_config *cfg)
{
    for (size_t k = 0; k < cfg->ntokens; k++) {
        OPENSSL_clear_free(cfg->tokens[k].value, strlen(cfg->tokens[k].value));
    }
    free(cfg->tokens);
    cfg->tokens = NULL;
    cfg->ntokens = 0;
}

static bool add_token(psim_config *cfg, const char *cid, size_t cid_len, const char *token,
                      size_t token_len)
{
    psim_token *t = realloc(cfg->tokens, (cfg->ntokens + 1) * sizeof *t);
    if (t == NULL) {
        return false;
    }
    cfg->tokens = t;
    psim_token *nt = &t[cfg->ntokens];
    memset(nt, 0, sizeof *nt);
    nt->value = malloc(token_len + 1);
    if (nt->value == NULL) {
        return false;
    }
    memcpy(nt->value, token, token_len);
    nt->value[token_len] = '\0';
    memcpy(nt->cluster, cid, cid_len);
    nt->cluster[cid_len] = '\0';
    cfg->ntokens++;
    return true;
}

static bool valid_text(const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c <= 0x20 || c >= 0x7f) {
            return false;
        }
    }
    return n > 0;
}

static int token_option(psim_config *cfg, const char *arg)
{
    const char *colon = strchr(arg, ':');
    if (colon == NULL || colon == arg || colon[1] == '\0') {
        return usage_error("--token: expected CID:TOKEN (the token itself is not shown)");
    }
    size_t cl = (size_t)(colon - arg);
    if (cl >= sizeof cfg->tokens[0].cluster || !valid_text(arg, cl)) {
        return usage_error("--token: the cluster id must be 1-127 printable characters");
    }
    if (!valid_text(colon + 1, strlen(colon + 1))) {
        return usage_error("--token: the token must be printable ASCII without spaces");
    }
    if (!add_token(cfg, arg, cl, colon + 1, strlen(colon + 1))) {
        fprintf(stderr, "podsim: out of memory\n");
        return 1;
    }
    return 0;
}

static int tokens_file(psim_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "podsim: --tokens %s: %s\n", path, strerror(errno));
        return 2;
    }
    char line[4096];
    int lineno = 0;
    int rc = 0;
    size_t before = cfg->ntokens;
    while (rc == 0 && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n') {
            rc = usage_error("%s:%d: line longer than %zu bytes", path, lineno, sizeof line - 2);
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                         line[n - 1] == '\t')) {
            line[--n] = '\0';
        }
        char *p = line;
        while (*p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0' || *p == '#') {
            continue;
        }
        char *sep = strpbrk(p, " \t");
        char *tok = sep;
        while (tok != NULL && (*tok == ' ' || *tok == '\t')) {
            tok++;
        }
        if (sep == NULL || *tok == '\0' || strpbrk(tok, " \t") != NULL) {
            rc = usage_error("%s:%d: expected \"CID TOKEN\" (two fields)", path, lineno);
            break;
        }
        size_t cl = (size_t)(sep - p);
        if (cl >= sizeof cfg->tokens[0].cluster || !valid_text(p, cl)) {
            rc = usage_error("%s:%d: cid: must be 1-127 printable characters", path, lineno);
            break;
        }
        if (!valid_text(tok, strlen(tok))) {
            rc = usage_error("%s:%d: token: must be printable ASCII", path, lineno);
            break;
        }
        if (!add_token(cfg, p, cl, tok, strlen(tok))) {
            fprintf(stderr, "podsim: out of memory\n");
            rc = 1;
        }
    }
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    if (rc == 0 && cfg->ntokens == before) {
        rc = usage_error("%s: no tokens (expected lines of \"CID TOKEN\")", path);
    }
    return rc;
}

static int dump(const psim_config *cfg, uint64_t n, psim_type type, const char *cid, uint64_t from)
{
    psim_timeline tl;
    int64_t interval = cfg->rate_max ? 1000 : (int64_t)(1e6 / cfg->rate);
    psim_timeline_init(&tl, cfg->seed, cid, type, cfg->start_us - cfg->history_us, interval);
    tl.count = cfg->count;
    tl.disorder = cfg->disorder;
    tl.disorder_max_us = cfg->disorder_max_us;
    tl.big_share = cfg->big_share;
    tl.big_bytes = cfg->big_bytes;
    psim_buf b;
    psim_buf_init(&b);
    int rc = 0;
    for (uint64_t i = from; i < from + n && i < tl.count; i++) {
        b.len = 0;
        if (!psim_gen_event(&tl, i, 0, &b, NULL) || !psim_buf_append(&b, "\n", 1)) {
            fprintf(stderr, "podsim: out of memory\n");
            rc = 1;
            break;
        }
        if (fwrite(b.data, 1, b.len, stdout) != b.len) {
            fprintf(stderr, "podsim: writing to stdout: %s\n", strerror(errno));
            rc = 1;
            break;
        }
    }
    psim_buf_deinit(&b);
    if (rc == 0 && fflush(stdout) != 0) {
        fprintf(stderr, "podsim: writing to stdout: %s\n", strerror(errno));
        rc = 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    psim_config cfg = {
        .ws_port = 9080,
        .wss_port = -2, /* -2: default, decided after parsing */
        .ctl_port = 9081,
        .seed = 1,
        .speed = 1,
        .rate = 2,
        .count = PSIM_UNBOUNDED,
        .history_us = 31LL * 86400 * PSIM_US_PER_S,
        .disorder_max_us = 120 * PSIM_US_PER_S,
        .big_bytes = 1200000,
        .idle_timeout_ms = 300000,
        .resume_window_us = 3600 * PSIM_US_PER_S,
        .archive_stale_us = 1800 * PSIM_US_PER_S,
        .archive_reach_us = 30LL * 86400 * PSIM_US_PER_S,
        .max_sessions = 1,
        .verbose = 1,
    };
    bool start_set = false;
    uint64_t dump_n = 0;
    bool dumping = false;
    psim_type dump_type = PSIM_MESSAGE;
    const char *dump_cid = NULL;
    uint64_t from_index = 0;
    int rc = 0;
    int opt;
    int64_t us;
    double d;
    uint64_t u = 0;
    while (rc == 0 && (opt = getopt_long(argc, argv, "vqh", long_opts, NULL)) != -1) {
        switch (opt) {
        case O_PORT:
            if (!parse_port(optarg, &cfg.ws_port)) {
                rc = usage_error("--port: expected 0-65535 or off, got \"%s\"", optarg);
            }
            break;
        case O_TLS_PORT:
            if (!parse_port(optarg, &cfg.wss_port)) {
                rc = usage_error("--tls-port: expected 0-65535 or off, got \"%s\"", optarg);
            }
            break;
        case O_CONTROL_PORT:
            if (!parse_port(optarg, &cfg.ctl_port)) {
                rc = usage_error("--control-port: expected 0-65535 or off, got \"%s\"", optarg);
            }
            break;
        case O_CERT:
            cfg.cert = optarg;
            break;
        case O_KEY:
            cfg.key = optarg;
            break;
        case O_SELF_SIGNED:
            cfg.self_signed = true;
            break;
        case O_PORT_FILE:
            cfg.port_file = optarg;
            break;
        case O_TOKEN:
            rc = token_option(&cfg, optarg);
            OPENSSL_cleanse(optarg, strlen(optarg));
            break;
        case O_TOKENS:
            rc = tokens_file(&cfg, optarg);
            break;
        case O_SEED:
            if (!parse_u64(optarg, &cfg.seed)) {
                rc = usage_error("--seed: expected a non-negative integer, got \"%s\"", optarg);
            }
            break;
        case O_START:
            if (strcmp(optarg, "now") == 0) {
                start_set = false;
            } else if (psim_parse_iso(optarg, &cfg.start_us)) {
                start_set = true;
            } else {
                rc = usage_error("--start: expected ISO 8601 (2025-01-02T03:04:05Z) or now, "
                                 "got \"%s\"",
                                 optarg);
            }
            break;
        case O_SPEED:
            if (!parse_double(optarg, 0, 1e6, &cfg.speed)) {
                rc =
                    usage_error("--speed: expected a number from 0 to 1000000, got \"%s\"", optarg);
            }
            break;
        case O_RATE:
            if (strcmp(optarg, "max") == 0) {
                cfg.rate_max = true;
            } else if (parse_double(optarg, 1e-6, 1e6, &cfg.rate)) {
                cfg.rate_max = false;
            } else {
                rc = usage_error("--rate: expected events per second (0.000001 to 1000000) or "
                                 "max, got \"%s\"",
                                 optarg);
            }
            break;
        case O_COUNT:
            if (!parse_u64(optarg, &cfg.count)) {
                rc = usage_error("--count: expected a non-negative integer, got \"%s\"", optarg);
            }
            break;
        case O_HISTORY:
        case O_BACKLOG:
        case O_DISORDER_MAX:
        case O_IDLE:
        case O_HOLD:
        case O_RESUME_WINDOW:
        case O_STALE:
        case O_REACH:
            if (!parse_duration(optarg, &us)) {
                rc = usage_error("--%s: expected a duration such as 90, 1.5s, 30m, 2h or 30d, "
                                 "got \"%s\"",
                                 opt_name(opt), optarg);
                break;
            }
            if (opt == O_HISTORY) {
                cfg.history_us = us;
            } else if (opt == O_BACKLOG) {
                cfg.initial_backlog_us = us;
            } else if (opt == O_DISORDER_MAX) {
                cfg.disorder_max_us = us;
            } else if (opt == O_IDLE) {
                cfg.idle_timeout_ms = us / 1000;
            } else if (opt == O_HOLD) {
                cfg.hold_ms = us / 1000;
            } else if (opt == O_RESUME_WINDOW) {
                cfg.resume_window_us = us;
            } else if (opt == O_STALE) {
                cfg.archive_stale_us = us;
            } else {
                cfg.archive_reach_us = us;
            }
            break;
        case O_DISORDER:
        case O_DUP_RATE:
        case O_BIG_SHARE:
            if (!parse_double(optarg, 0, 1, &d)) {
                rc = usage_error("--%s: expected a share from 0 to 1, got \"%s\"", opt_name(opt),
                                 optarg);
                break;
            }
            if (opt == O_DISORDER) {
                cfg.disorder = d;
            } else if (opt == O_DUP_RATE) {
                cfg.dup_rate = d;
            } else {
                cfg.big_share = d;
            }
            break;
        case O_BIG_BYTES:
            if (!parse_u64(optarg, &u) || u < 1024 || u > 256ULL << 20) {
                rc = usage_error("--big-bytes: expected 1024 to 268435456, got \"%s\"", optarg);
            } else {
                cfg.big_bytes = (size_t)u;
            }
            break;
        case O_BINARY:
            cfg.binary = true;
            break;
        case O_COMPRESS:
            cfg.compress = true;
            break;
        case O_FRAGMENT:
            if (!parse_u64(optarg, &u) || u > 1U << 30) {
                rc = usage_error("--fragment: expected a byte count (0 turns it off), got \"%s\"",
                                 optarg);
            } else {
                cfg.fragment = (size_t)u;
            }
            break;
        case O_MAX_SESSIONS:
            if (!parse_u64(optarg, &u) || u < 1 || u > 1000) {
                rc = usage_error("--max-sessions: expected 1 to 1000, got \"%s\"", optarg);
            } else {
                cfg.max_sessions = (int)u;
            }
            break;
        case O_SENT_LOG:
            cfg.sent_log = optarg;
            break;
        case O_DUMP:
            if (!parse_u64(optarg, &dump_n)) {
                rc = usage_error("--dump: expected an event count, got \"%s\"", optarg);
            }
            dumping = true;
            break;
        case O_TYPE:
            if (!psim_type_parse(optarg, &dump_type)) {
                rc = usage_error("--type: expected message, maillog or audit, got \"%s\"", optarg);
            }
            break;
        case O_CID:
            if (strlen(optarg) >= sizeof cfg.tokens[0].cluster) {
                rc = usage_error("--cid: longer than 127 characters");
            }
            dump_cid = optarg;
            break;
        case O_FROM_INDEX:
            if (!parse_u64(optarg, &from_index)) {
                rc = usage_error("--from-index: expected a non-negative integer, got \"%s\"",
                                 optarg);
            }
            break;
        case 'v':
            cfg.verbose++;
            break;
        case 'q':
            cfg.verbose = 0;
            break;
        case 'h':
            fputs(usage, stdout);
            free_tokens(&cfg);
            return 0;
        case O_VERSION:
            printf("podsim %s (%s)\n", PSIM_VERSION, OpenSSL_version(OPENSSL_VERSION));
            free_tokens(&cfg);
            return 0;
        default:
            rc = 2;
            fputs("Try 'podsim --help'.\n", stderr);
            break;
        }
    }
    if (rc == 0 && optind < argc) {
        rc = usage_error("unexpected argument \"%s\"", argv[optind]);
    }
    if (!start_set) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        cfg.start_us = (int64_t)tv.tv_sec * PSIM_US_PER_S + tv.tv_usec;
    }
    if (rc == 0 && dumping) {
        const char *cid = dump_cid ? dump_cid : cfg.ntokens ? cfg.tokens[0].cluster : "podsim_demo";
        rc = dump(&cfg, dump_n, dump_type, cid, from_index);
        free_tokens(&cfg);
        return rc;
    }
    if (rc == 0 && (cfg.cert != NULL) != (cfg.key != NULL)) {
        rc = usage_error("--cert and --key go together");
    }
    if (rc == 0 && cfg.self_signed && cfg.cert != NULL) {
        rc = usage_error("--self-signed and --cert exclude each other");
    }
    bool have_tls = cfg.cert != NULL || cfg.self_signed;
    if (rc == 0 && cfg.wss_port == -2) {
        cfg.wss_port = have_tls ? 9443 : -1;
    } else if (rc == 0 && cfg.wss_port >= 0 && !have_tls) {
        rc = usage_error("--tls-port needs --cert and --key, or --self-signed");
    }
    if (rc == 0 && cfg.ws_port < 0 && cfg.wss_port < 0) {
        rc = usage_error("both --port and --tls-port are off: nothing to serve");
    }
    if (rc == 0 && cfg.ntokens == 0) {
        rc = usage_error("no credentials: give --token CID:TOKEN or --tokens FILE");
    }
    if (rc == 0 && cfg.dup_rate > 0.5) {
        rc = usage_error("--dup-rate: at most 0.5 (the feed's duplicates are rare)");
    }
    if (rc == 0) {
        rc = psim_run(&cfg);
    }
    free_tokens(&cfg);
    return rc;
}
