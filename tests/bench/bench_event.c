/* bench_event: how many POD events per second one core can validate, parse and
 * extract (ps_event_parse + ps_event_extract), on realistic ~1.5 KB `message`
 * frames and ~0.9 KB `maillog` frames, plus the cost of the receivers' passes over
 * each frame: the UTF-8 check and the spool's CRC-32 (zlib's and libdeflate's).
 *
 *   build-event/tests/bench/bench_event [seconds-per-figure]
 *
 * Rates are per CPU second of this process (clock()), which is what one core can
 * do; the wall-clock rate is printed too and drops when other work shares the CPU.
 * The events are synthetic but shaped like the shared samples (same keys, nesting
 * and sizes); one in eight carries an RFC 2047 encoded subject, as mail from
 * non-English senders does. With podsim_gen linked in, its generated events are
 * measured as well, and so is the elision of their typed values (ps_store_elide and
 * the check that reads them back, the workers' part of ps_store_prepare before
 * compression). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libdeflate.h>
#include <zlib.h>

#include "podstream/ps_event.h"
#include "podstream/ps_platform.h"
#include "podstream/ps_utf8.h"
#include "store/ps_store_elide.h"

#ifdef PS_HAVE_PODSIM_GEN
#include "podsim_gen.h"
#endif

#define NEVENTS 1024

typedef struct frames {
    char *data[NEVENTS];
    size_t len[NEVENTS];
    size_t total;
} frames;

static const char *const subjects[8] = {
    "Quarterly report for review",
    "Re: Invoice #2024-0412 overdue",
    "=?UTF-8?B?5pel5pys6Kqe44Gu5Lu25ZCN?=",
    "Your mailbox is almost full",
    "Meeting moved to Thursday 14:00",
    "[EXTERNAL] Shipment notification 1Z999AA10123456784",
    "Fwd: lunch?",
    "Password expiry notice",
};

static const char message_fmt[] =
    "{\"connection\":{\"country\":\"us\",\"helo\":\"mail%u.example.net\",\"host\":\"mail%u.example."
    "net\","
    "\"ip\":\"198.51.100.%u\",\"protocol\":\"smtp:smtp\",\"resolveStatus\":\"ok\",\"sid\":\"3y%"
    "08x\","
    "\"tls\":{\"inbound\":{\"cipher\":\"ECDHE-RSA-AES256-GCM-SHA384\",\"cipherBits\":256,"
    "\"version\":\"TLSv1.2\"}}},\"envelope\":{\"from\":\"sender%u@example.net\",\"rcpts\":["
    "\"user%u@example.com\"]},\"filter\":{\"actions\":[{\"action\":\"accept\",\"isFinal\":true,"
    "\"module\":\"access\",\"rule\":\"system\"}],\"delivered\":{\"rcpts\":[\"user%u@example.com\"]}"
    ","
    "\"disposition\":\"accept\",\"durationSecs\":0.11872,\"msgSizeBytes\":%u,\"qid\":\"44%"
    "08xm0000123\","
    "\"routeDirection\":\"inbound\",\"routes\":[\"allow_relay\",\"firewallsafe\"],\"modules\":{"
    "\"spam\":"
    "{\"scores\":{\"overall\":%u,\"engine\":%u}}},\"suborgs\":{\"rcpts\":[\"0\"],\"sender\":\"0\"},"
    "\"verified\":{\"rcpts\":[\"user%u@example.com\"]}},\"guid\":\"%08xHXbuABCDEFghij0U4VvIc71x\","
    "\"metadata\":{\"origin\":{\"data\":{\"agent\":\"m0000123.ppops.net\","
    "\"cid\":\"pphosted_prodmgt_hosted\",\"version\":\"8.21.0.1358\"}}},\"msg\":{\"header\":{"
    "\"from\":["
    "\"\\\"Sender %u\\\" "
    "<sender%u@example.net>\"],\"message-id\":[\"<%08x.44ACDE123370@mail%u.example.net>\"],"
    "\"subject\":[\"%s\"],\"to\":[\"user%u@example.com\"]},\"lang\":\"en\",\"normalizedHeader\":{"
    "\"from\":["
    "\"\\\"Sender %u\\\" "
    "<sender%u@example.net>\"],\"message-id\":[\"%08x.44ACDE123370@mail%u.example.net\"],"
    "\"subject\":[\"%s\"],\"to\":[\"user%u@example.com\"]},\"parsedAddresses\":{},\"sizeBytes\":%u}"
    ","
    "\"msgParts\":[],\"ts\":\"2024-05-22T12:%02u:%02u.%06u-0700\"}";

static const char maillog_fmt[] =
    "{\"data\":\"2024-06-19T05:25:41.855197-07:00 m0000123 sendmail[%u]: 45J%08x: "
    "to=<user%u@example.com>,"
    " delay=00:00:00, xdelay=00:00:00, mailer=esmtp, tls_verify=OK, tls_version=TLSv1.2, "
    "cipher=ECDHE-RSA-AES256-GCM, pri=120812, relay=mx%u.example.com. [203.0.113.%u], dsn=2.0.0, "
    "stat=Sent (Ok: queued)\",\"id\":\"%08xabcdefghijm3/1234\",\"metadata\":{\"customerId\":"
    "\"c82abcde-5678-42dd-1234-1234563f9cff\",\"origin\":{\"data\":{\"agent\":\"m0000123.ppops."
    "net\","
    "\"cid\":\"pphosted_prodmgt_hosted\"},\"schemaVersion\":\"20200420\"}},\"pps\":{\"agent\":"
    "\"m0000123.ppops.net\",\"cid\":\"pphosted_prodmgt_hosted\"},\"sm\":{\"delay\":\"00:00:00\","
    "\"dsn\":\"2.0.0\",\"mailer\":\"esmtp\",\"pri\":\"120812\",\"qid\":\"45J%08x\",\"relay\":"
    "\"mx%u.example.com. [203.0.113.%u]\",\"stat\":\"Sent (Ok: "
    "queued)\",\"to\":[\"<user%u@example.com>\"],"
    "\"xdelay\":\"00:00:00\",\"sizeBytes\":\"%u\"},\"tls\":{\"cipher\":\"ECDHE-RSA-AES256-GCM\","
    "\"verify\":\"OK\",\"version\":\"TLSv1.2\"},\"ts\":\"2024-02-15T05:%02u:%02u.%06u-0700\"}";

static void add_frame(frames *f, int i, const char *text, int n)
{
    if (n < 0 || !(f->data[i] = malloc((size_t)n + 1))) {
        fprintf(stderr, "bench_event: out of memory\n");
        exit(1);
    }
    memcpy(f->data[i], text, (size_t)n + 1);
    f->len[i] = (size_t)n;
    f->total += (size_t)n;
}

static void make_messages(frames *f)
{
    char buf[4096];
    memset(f, 0, sizeof *f);
    for (unsigned i = 0; i < NEVENTS; i++) {
        unsigned h = i * 2654435761u, size = 800 + i % 4000, score = i % 101;
        const char *subj = subjects[i % 8];
        int n = snprintf(buf, sizeof buf, message_fmt, i % 50, i % 50, i % 250, h, i % 97, i % 89,
                         i % 89, size, h, score, score, i % 89, h, i % 97, i % 97, h, i % 50, subj,
                         i % 89, i % 97, i % 97, h, i % 50, subj, i % 89, size + 24, i % 60,
                         (i * 7) % 60, (i * 7919) % 1000000);
        add_frame(f, (int)i, buf, n);
    }
}

static void make_maillogs(frames *f)
{
    char buf[4096];
    memset(f, 0, sizeof *f);
    for (unsigned i = 0; i < NEVENTS; i++) {
        unsigned h = i * 2654435761u;
        int n = snprintf(buf, sizeof buf, maillog_fmt, 10000 + i, h, i % 89, i % 20, i % 250, h, h,
                         i % 20, i % 250, i % 89, 900 + i * 13, i % 60, (i * 7) % 60,
                         (i * 7919) % 1000000);
        add_frame(f, (int)i, buf, n);
    }
}

static void free_frames(frames *f)
{
    for (int i = 0; i < NEVENTS; i++)
        free(f->data[i]);
}

/* Parses and extracts every frame round after round for `seconds`; prints the rate. */
static void bench_parse_one(const char *label, const frames *f, ps_data_type type, double seconds,
                            bool arena)
{
    ps_event ev;
    ps_errmsg em;
    long long done = 0;
    int64_t start = ps_plat_mono_ms(), elapsed;
    clock_t cpu_start = clock();

    ps_event_use_arena(arena);
    ps_event_init(&ev);
    do {
        for (int i = 0; i < NEVENTS; i++) {
            if (ps_event_parse(&ev, type, f->data[i], f->len[i], &em) != PS_OK ||
                ps_event_extract(&ev, &em) != PS_OK) {
                fprintf(stderr, "bench_event: %s event %d refused: %s\n", label, i, em.text);
                exit(1);
            }
        }
        done += NEVENTS;
        elapsed = ps_plat_mono_ms() - start;
    } while (elapsed < (int64_t)(seconds * 1000));
    double cpu = (double)(clock() - cpu_start) / CLOCKS_PER_SEC;
    ps_event_deinit(&ev);
    ps_event_use_arena(false);
    printf("%-36s %-6s %6zu B avg  %9.0f events/s  %6.2f us/event  (wall: %.0f events/s)\n", label,
           arena ? "arena" : "malloc", f->total / NEVENTS, (double)done / cpu,
           cpu * 1e6 / (double)done, (double)done * 1000.0 / (double)elapsed);
}

/* Without and with the arena of the engine's workers (ps_event_use_arena), one
 * after the other, so that both see the same load. */
static void bench_parse(const char *label, const frames *f, ps_data_type type, double seconds)
{
    bench_parse_one(label, f, type, seconds, false);
    bench_parse_one(label, f, type, seconds, true);
}

/* A pass the receivers make over every frame: the UTF-8 check, and the spool's
 * CRC-32 (libdeflate's, which the service uses, beside zlib's, which it used before). */
typedef uint32_t (*frame_pass)(const char *p, size_t n);

static uint32_t pass_utf8(const char *p, size_t n)
{
    size_t bad;
    return ps_utf8_valid(p, n, &bad) ? 1u : 0u;
}

static uint32_t pass_crc_zlib(const char *p, size_t n)
{
    return (uint32_t)crc32(0L, (const Bytef *)p, (uInt)n);
}

static uint32_t pass_crc_libdeflate(const char *p, size_t n)
{
    return libdeflate_crc32(0, p, n);
}

/* Returns the sum of the pass's results over one round of the frames. */
static uint32_t bench_pass(const char *label, const frames *f, frame_pass fn, double seconds)
{
    long long done = 0;
    uint32_t round = 0;
    int64_t start = ps_plat_mono_ms();
    clock_t cpu_start = clock();

    do {
        for (int r = 0; r < 64; r++) {
            round = 0;
            for (int i = 0; i < NEVENTS; i++)
                round += fn(f->data[i], f->len[i]);
        }
        done += 64 * NEVENTS;
    } while (ps_plat_mono_ms() - start < (int64_t)(seconds * 1000));
    double cpu = (double)(clock() - cpu_start) / CLOCKS_PER_SEC;
    printf("%-36s %6zu B avg  %9.1f ns/event  %6.2f GB/s\n", label, f->total / NEVENTS,
           cpu * 1e9 / (double)done, (double)f->total / NEVENTS * (double)done / (cpu * 1e9));
    return round;
}

static void bench_passes(const frames *f, double seconds)
{
    if (bench_pass("UTF-8 validation (message)", f, pass_utf8, seconds) != NEVENTS) {
        fprintf(stderr, "bench_event: a frame failed UTF-8 validation\n");
        exit(1);
    }
    if (bench_pass("spool CRC-32, zlib (message)", f, pass_crc_zlib, seconds) !=
        bench_pass("spool CRC-32, libdeflate (message)", f, pass_crc_libdeflate, seconds)) {
        fprintf(stderr, "bench_event: zlib and libdeflate gave different checksums\n");
        exit(1);
    }
}

#ifdef PS_HAVE_PODSIM_GEN
/* Elides every frame's key and typed values and checks the result reads back, as
 * ps_store_prepare does; the frames are parsed once, before the clock starts. */
static void bench_elide(const char *label, const frames *f, ps_data_type type, double seconds)
{
    ps_event *ev = calloc(NEVENTS, sizeof *ev);
    ps_elide_list *el = calloc(NEVENTS, sizeof *el);
    ps_errmsg em;
    char *buf = NULL;
    size_t cap = 0, out_len = 0, saved = 0;
    long long done = 0;
    int64_t start;
    clock_t cpu_start;

    if (!ev || !el) {
        fprintf(stderr, "bench_event: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < NEVENTS; i++) {
        ps_event_init(&ev[i]);
        if (ps_event_parse(&ev[i], type, f->data[i], f->len[i], &em) != PS_OK ||
            ps_event_extract(&ev[i], &em) != PS_OK) {
            fprintf(stderr, "bench_event: %s event %d refused: %s\n", label, i, em.text);
            exit(1);
        }
        ps_store_elide_list(ev[i].key, (const char *const *)ev[i].text, &el[i]);
    }
    start = ps_plat_mono_ms();
    cpu_start = clock();
    do {
        saved = 0;
        for (int i = 0; i < NEVENTS; i++) {
            bool elided = false;
            if (ps_store_elide(f->data[i], f->len[i], &el[i], &buf, &cap, &out_len, &elided) !=
                    PS_OK ||
                (elided && !ps_store_unelide_equals(buf, out_len, &el[i], f->data[i], f->len[i]))) {
                fprintf(stderr, "bench_event: %s event %d did not read back\n", label, i);
                exit(1);
            }
            saved += f->len[i] - out_len;
        }
        done += NEVENTS;
    } while (ps_plat_mono_ms() - start < (int64_t)(seconds * 1000));
    double cpu = (double)(clock() - cpu_start) / CLOCKS_PER_SEC;
    printf("%-36s %6zu B avg  %9.1f ns/event  (%zu B elided on average)\n", label,
           f->total / NEVENTS, cpu * 1e9 / (double)done, saved / NEVENTS);
    free(buf);
    for (int i = 0; i < NEVENTS; i++)
        ps_event_deinit(&ev[i]);
    free(ev);
    free(el);
}

static void make_generated(frames *f, psim_type type)
{
    psim_timeline tl;
    psim_buf buf;

    memset(f, 0, sizeof *f);
    psim_timeline_init(&tl, 42, "pphosted_bench_hosted", type, 1716405003058340, 100000);
    psim_buf_init(&buf);
    for (int i = 0; i < NEVENTS; i++) {
        buf.len = 0;
        if (!psim_gen_event(&tl, (uint64_t)i, 0, &buf, NULL)) {
            fprintf(stderr, "bench_event: out of memory\n");
            exit(1);
        }
        add_frame(f, i, buf.data, (int)buf.len);
    }
    psim_buf_deinit(&buf);
}
#endif

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 2.0;
    frames f;

    if (seconds <= 0)
        seconds = 2.0;
    printf("bench_event: one thread, %d distinct frames per set, %.1f s per figure\n", NEVENTS,
           seconds);
    make_messages(&f);
    bench_passes(&f, seconds);
    bench_parse("parse+extract message (synthetic)", &f, PS_DATA_MESSAGE, seconds);
    free_frames(&f);
    make_maillogs(&f);
    bench_parse("parse+extract maillog (synthetic)", &f, PS_DATA_MAILLOG, seconds);
    free_frames(&f);
#ifdef PS_HAVE_PODSIM_GEN
    make_generated(&f, PSIM_MESSAGE);
    bench_parse("parse+extract message (podsim_gen)", &f, PS_DATA_MESSAGE, seconds);
    bench_elide("elide+check message (podsim_gen)", &f, PS_DATA_MESSAGE, seconds);
    free_frames(&f);
    make_generated(&f, PSIM_MAILLOG);
    bench_parse("parse+extract maillog (podsim_gen)", &f, PS_DATA_MAILLOG, seconds);
    bench_elide("elide+check maillog (podsim_gen)", &f, PS_DATA_MAILLOG, seconds);
    free_frames(&f);
#else
    printf("(podsim_gen not built: generated events not measured)\n");
#endif
    return 0;
}
