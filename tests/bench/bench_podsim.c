/* bench_podsim: how fast podsim serves events over loopback wss:// to a client that
 * only counts them. The client is deliberately minimal (OpenSSL and a frame-header
 * parser, no JSON) so that the figure measures podsim, not the client.
 *
 * By default it starts podsim itself (next to this binary in the build tree, or
 * --podsim PATH) with an in-memory certificate, --rate max and --count N, then
 * prints events/s and MB/s. --connect PORT measures an already running podsim
 * instead (token from $PODSIM_TOKEN, cluster from --cid). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

typedef struct bench_opts {
    const char *podsim;
    const char *type;
    const char *cid;
    const char *token;
    unsigned long long events;
    int port;
    bool plain;
} bench_opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out)
{
    fputs("Usage: bench_podsim [--events N] [--type message|maillog|audit] [--plain]\n"
          "                    [--podsim PATH | --connect PORT [--cid CID]]\n"
          "Counts events that podsim serves over loopback wss:// (ws:// with --plain) and\n"
          "prints events/s and MB/s. Default: 2000000 message events from a podsim that the\n"
          "benchmark starts itself. With --connect, the token comes from $PODSIM_TOKEN.\n",
          out);
}

static int parse_args(int argc, char **argv, bench_opts *o)
{
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (strcmp(a, "--plain") == 0) {
            o->plain = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (v == NULL) {
            fprintf(stderr, "bench_podsim: %s needs a value\n", a);
            return 2;
        }
        k++;
        char *end = NULL;
        if (strcmp(a, "--events") == 0) {
            o->events = strtoull(v, &end, 10);
            if (*end != '\0' || o->events == 0) {
                fprintf(stderr, "bench_podsim: --events: expected a positive count, got \"%s\"\n",
                        v);
                return 2;
            }
        } else if (strcmp(a, "--type") == 0) {
            o->type = v;
        } else if (strcmp(a, "--podsim") == 0) {
            o->podsim = v;
        } else if (strcmp(a, "--cid") == 0) {
            o->cid = v;
        } else if (strcmp(a, "--connect") == 0) {
            long p = strtol(v, &end, 10);
            if (*end != '\0' || p <= 0 || p > 65535) {
                fprintf(stderr, "bench_podsim: --connect: expected a port, got \"%s\"\n", v);
                return 2;
            }
            o->port = (int)p;
        } else {
            fprintf(stderr, "bench_podsim: unknown option %s\n", a);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

/* Starts podsim with a port file and waits for it; returns its pid or -1. */
static pid_t start_podsim(const bench_opts *o, const char *port_file, int *port)
{
    char count[32];
    snprintf(count, sizeof count, "%llu", o->events);
    unlink(port_file);
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        const char *argv[] = {o->podsim,
                              "--port",
                              o->plain ? "0" : "off",
                              "--tls-port",
                              o->plain ? "off" : "0",
                              "--control-port",
                              "off",
                              "--port-file",
                              port_file,
                              "--rate",
                              "max",
                              "--count",
                              count,
                              "--history",
                              "0",
                              "--initial-backlog",
                              "1h",
                              "--idle-timeout",
                              "0",
                              "--token",
                              "bench:bench-token",
                              "-q",
                              o->plain ? NULL : "--self-signed",
                              NULL};
        /* The benchmark's own output is the figure; podsim's ready line is noise. */
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            close(devnull);
        }
        execv(o->podsim, (char *const *)argv);
        fprintf(stderr, "bench_podsim: cannot run %s: %s\n", o->podsim, strerror(errno));
        _exit(127);
    }
    for (int tries = 0; tries < 500; tries++) {
        FILE *f = fopen(port_file, "r");
        if (f != NULL) {
            int ws = -1;
            int wss = -1;
            int n = fscanf(f, "{\"ws\": %d, \"wss\": %d", &ws, &wss);
            fclose(f);
            if (n == 2) {
                *port = o->plain ? ws : wss;
                return pid;
            }
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "bench_podsim: podsim exited before listening\n");
            return -1;
        }
        usleep(10000);
    }
    fprintf(stderr, "bench_podsim: podsim did not start within 5 s\n");
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return -1;
}

typedef struct stream {
    int fd;
    SSL *ssl;
} stream;

static long s_read(stream *s, void *buf, size_t n)
{
    if (s->ssl != NULL) {
        int r = SSL_read(s->ssl, buf, (int)(n > INT_MAX ? INT_MAX : n));
        return r > 0 ? r : -1;
    }
    ssize_t r = read(s->fd, buf, n);
    return r > 0 ? (long)r : -1;
}

static bool s_write(stream *s, const void *buf, size_t n)
{
    if (s->ssl != NULL) {
        return SSL_write(s->ssl, buf, (int)n) == (int)n;
    }
    return write(s->fd, buf, n) == (ssize_t)n;
}

static int run(const bench_opts *o, int port)
{
    int rc = 1;
    SSL_CTX *ctx = NULL;
    stream st = {.fd = -1, .ssl = NULL};
    unsigned char *buf = NULL;
    st.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (st.fd < 0 || connect(st.fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "bench_podsim: connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
        goto out;
    }
    int rcvbuf = 4 << 20;
    setsockopt(st.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (!o->plain) {
        ctx = SSL_CTX_new(TLS_client_method());
        /* The benchmark measures throughput, not trust: podsim's certificate is an
         * in-memory self-signed one. */
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        st.ssl = SSL_new(ctx);
        SSL_set_fd(st.ssl, st.fd);
        SSL_set_tlsext_host_name(st.ssl, "localhost");
        if (SSL_connect(st.ssl) != 1) {
            fprintf(stderr, "bench_podsim: TLS handshake failed\n");
            ERR_print_errors_fp(stderr);
            goto out;
        }
    }
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET /v1/stream?cid=%s&type=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Bearer %s\r\n\r\n",
                     o->cid, o->type, port, o->token);
    if (!s_write(&st, req, (size_t)n)) {
        fprintf(stderr, "bench_podsim: sending the upgrade request failed\n");
        goto out;
    }
    size_t cap = 1 << 18;
    buf = malloc(cap);
    size_t have = 0;
    /* Read the 101 response; frames may follow it in the same read. */
    char *body = NULL;
    while (body == NULL) {
        long r = s_read(&st, buf + have, cap - have - 1);
        if (r <= 0) {
            fprintf(stderr, "bench_podsim: connection closed during the handshake\n");
            goto out;
        }
        have += (size_t)r;
        buf[have] = '\0';
        body = strstr((char *)buf, "\r\n\r\n");
    }
    if (strncmp((char *)buf, "HTTP/1.1 101", 12) != 0) {
        fprintf(stderr, "bench_podsim: upgrade refused: %.*s\n", (int)strcspn((char *)buf, "\r"),
                buf);
        goto out;
    }
    size_t off = (size_t)(body + 4 - (char *)buf);

    /* Frame parser state: header bytes gathered so far, then payload left to skip. */
    unsigned char hdr[14];
    size_t hlen = 0;
    uint64_t skip = 0;
    unsigned long long events = 0;
    unsigned long long payload_bytes = 0;
    unsigned long long wire = 0;
    double t0 = now_s();
    for (;;) {
        while (off < have) {
            if (skip > 0) {
                size_t take = have - off < skip ? have - off : (size_t)skip;
                off += take;
                skip -= take;
                continue;
            }
            hdr[hlen++] = buf[off++];
            if (hlen < 2) {
                continue;
            }
            size_t need = (hdr[1] & 0x7f) == 126 ? 4 : (hdr[1] & 0x7f) == 127 ? 10 : 2;
            if (hlen < need) {
                continue;
            }
            uint64_t len = hdr[1] & 0x7f;
            if (need == 4) {
                len = (uint64_t)hdr[2] << 8 | hdr[3];
            } else if (need == 10) {
                len = 0;
                for (int k = 0; k < 8; k++) {
                    len = len << 8 | hdr[2 + k];
                }
            }
            unsigned op = hdr[0] & 0x0f;
            bool fin = (hdr[0] & 0x80) != 0;
            hlen = 0;
            skip = len;
            if (op == 8) {
                fprintf(stderr, "bench_podsim: podsim closed the stream after %llu events\n",
                        events);
                goto report;
            }
            if (op <= 2) {
                payload_bytes += len;
                if (fin) {
                    events++;
                }
            }
        }
        if (events >= o->events) {
            break;
        }
        off = 0;
        long r = s_read(&st, buf, cap);
        if (r <= 0) {
            fprintf(stderr, "bench_podsim: connection lost after %llu events\n", events);
            break;
        }
        have = (size_t)r;
        wire += (unsigned long long)r;
    }
report:;
    double dt = now_s() - t0;
    if (events == 0 || dt <= 0) {
        fprintf(stderr, "bench_podsim: no events received\n");
        goto out;
    }
    printf("podsim %s %s: %llu events in %.2f s = %.0f events/s, %.1f MB/s of events "
           "(%.0f bytes/event), %.1f MB/s on the wire\n",
           o->plain ? "ws://" : "wss://", o->type, events, dt, (double)events / dt,
           (double)payload_bytes / dt / 1e6, (double)payload_bytes / (double)events,
           (double)wire / dt / 1e6);
    rc = events >= o->events ? 0 : 1;
out:
    free(buf);
    if (st.ssl != NULL) {
        SSL_free(st.ssl);
    }
    SSL_CTX_free(ctx);
    if (st.fd >= 0) {
        close(st.fd);
    }
    return rc;
}

int main(int argc, char **argv)
{
    static char self_dir[PATH_MAX];
    static char podsim_path[PATH_MAX + 32];
    bench_opts o = {
        .type = "message",
        .cid = "bench",
        .events = 2000000,
    };
    int rc = parse_args(argc, argv, &o);
    if (rc != 0) {
        return rc;
    }
    signal(SIGPIPE, SIG_IGN);
    if (o.port > 0) {
        o.token = getenv("PODSIM_TOKEN");
        if (o.token == NULL) {
            fprintf(stderr, "bench_podsim: --connect needs the token in $PODSIM_TOKEN\n");
            return 2;
        }
        return run(&o, o.port);
    }
    if (o.podsim == NULL) {
        ssize_t n = readlink("/proc/self/exe", self_dir, sizeof self_dir - 1);
        if (n <= 0) {
            fprintf(stderr, "bench_podsim: cannot find podsim: give --podsim PATH\n");
            return 2;
        }
        self_dir[n] = '\0';
        snprintf(podsim_path, sizeof podsim_path, "%s/../podsim/podsim", dirname(self_dir));
        o.podsim = podsim_path;
    }
    if (access(o.podsim, X_OK) != 0) {
        fprintf(stderr, "bench_podsim: %s: %s (build the podsim target or give --podsim)\n",
                o.podsim, strerror(errno));
        return 2;
    }
    o.token = "bench-token";
    char port_file[64];
    snprintf(port_file, sizeof port_file, "/tmp/bench_podsim.%d.ports", (int)getpid());
    int port = 0;
    pid_t pid = start_podsim(&o, port_file, &port);
    if (pid < 0) {
        return 1;
    }
    rc = run(&o, port);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    unlink(port_file);
    return rc;
}
