/* ps_spool: append, replay after reopen, release, torn tails, rotation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ps_spool.h"
#include "podstream/ps_platform.h"

typedef struct seen {
    char payload[64][64];
    int types[64];
    bool binary[64];
    size_t count;
} seen;

static ps_err collect(void *ctx, const ps_spool_record *rec)
{
    seen *s = ctx;
    if (s->count < 64) {
        snprintf(s->payload[s->count], 64, "%.*s", (int)rec->len, rec->data);
        s->types[s->count] = rec->type;
        s->binary[s->count] = rec->binary;
    }
    s->count++;
    return PS_OK;
}

static char *make_dir(void)
{
    char tmpl[] = "/tmp/ps-spool-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void append_str(ps_spool *sp, const char *s, int type, bool binary, ps_spool_pos *end)
{
    ps_spool_record rec = {
        .data = s, .len = strlen(s), .total_len = strlen(s), .type = type, .binary = binary};
    ps_errmsg em;
    assert_int_equal(ps_spool_append(sp, &rec, end, &em), PS_OK);
}

static int count_segments(const char *dir)
{
    static const char *const suffixes[] = {".spool", NULL};
    char **names = NULL;
    size_t n = 0;
    ps_err err = ps_plat_list_dir(dir, suffixes, &names, &n, NULL);
    if (err == PS_ERR_NOTFOUND)
        return 0;
    assert_int_equal(err, PS_OK);
    ps_plat_free_list(names, n);
    return (int)n;
}

static void test_replay_after_crash(void **state)
{
    char *dir = make_dir();
    ps_spool *sp;
    ps_spool_pos end;
    ps_errmsg em;
    seen s = {0};
    size_t torn = 99;

    assert_int_equal(ps_spool_create(dir, "device-1", &sp, &em), PS_OK);
    append_str(sp, "{\"a\":1}", 0, false, &end);
    append_str(sp, "{\"b\":2}", 1, true, &end);
    /* a crash: nothing released, nothing deleted */
    ps_spool_destroy(sp, false);

    assert_int_equal(ps_spool_create(dir, "device-1", &sp, &em), PS_OK);
    assert_int_equal(ps_spool_replay(sp, collect, &s, &torn, &em), PS_OK);
    assert_int_equal(s.count, 2);
    assert_int_equal(torn, 0);
    assert_string_equal(s.payload[0], "{\"a\":1}");
    assert_string_equal(s.payload[1], "{\"b\":2}");
    assert_int_equal(s.types[1], 1);
    assert_true(s.binary[1]);
    assert_false(s.binary[0]);
    /* a clean stop removes everything */
    ps_spool_destroy(sp, true);
    assert_int_equal(count_segments(dir), 0);
    free(dir);
    (void)state;
}

static void test_torn_tail_is_ignored(void **state)
{
    char *dir = make_dir();
    char path[512];
    ps_spool *sp;
    ps_spool_pos end;
    ps_errmsg em;
    seen s = {0};
    size_t torn = 0;
    int fd;

    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    append_str(sp, "first", 0, false, &end);
    append_str(sp, "second-record", 0, false, &end);
    ps_spool_destroy(sp, false);
    /* cut the last record in half, as a power loss could */
    snprintf(path, sizeof path, "%s/d.%08u.spool", dir, end.segment);
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)(end.offset - 5)), 0);
    close(fd);

    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    assert_int_equal(ps_spool_replay(sp, collect, &s, &torn, &em), PS_OK);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.payload[0], "first");
    assert_int_equal(torn, 1);
    ps_spool_destroy(sp, true);
    free(dir);
    (void)state;
}

static void test_corrupt_payload_detected(void **state)
{
    char *dir = make_dir();
    char path[512];
    ps_spool *sp;
    ps_spool_pos end;
    ps_errmsg em;
    seen s = {0};
    size_t torn = 0;
    FILE *f;

    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    append_str(sp, "payload", 0, false, &end);
    ps_spool_destroy(sp, false);
    snprintf(path, sizeof path, "%s/d.%08u.spool", dir, end.segment);
    f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 24 + 2, SEEK_SET); /* inside the payload */
    fputc('X', f);
    fclose(f);

    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    assert_int_equal(ps_spool_replay(sp, collect, &s, &torn, &em), PS_OK);
    assert_int_equal(s.count, 0);
    assert_int_equal(torn, 1);
    ps_spool_destroy(sp, true);
    free(dir);
    (void)state;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The record header is an on-disk format that outlives a release: its checksum is
 * the standard CRC-32, whose check value for "123456789" is 0xCBF43926. The second
 * record is long enough for the vectorised path of libdeflate's CRC-32; its value
 * is zlib's (Python: zlib.crc32 of the same bytes). */
static void test_record_checksum_is_crc32(void **state)
{
    char *dir = make_dir();
    char path[512];
    char *text = malloc(5001);
    unsigned char h[24];
    ps_spool *sp;
    ps_spool_pos end;
    ps_errmsg em;
    FILE *f;

    assert_non_null(text);
    for (int i = 0; i < 5000; i++)
        text[i] = (char)('a' + (i * 7 + i / 26) % 26);
    text[5000] = '\0';
    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    append_str(sp, "123456789", 0, false, &end);
    append_str(sp, text, 0, false, &end);
    ps_spool_destroy(sp, false);
    snprintf(path, sizeof path, "%s/d.%08u.spool", dir, end.segment);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
    assert_int_equal(le32(h + 4), 9);
    assert_int_equal(le32(h + 8), 0xCBF43926u);
    assert_int_equal(fseek(f, (long)sizeof h + 9, SEEK_SET), 0);
    assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
    assert_int_equal(le32(h + 4), 5000);
    assert_int_equal(le32(h + 8), 0x72FD0D8Eu);
    fclose(f);
    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    ps_spool_destroy(sp, true);
    free(text);
    free(dir);
    (void)state;
}

static void test_rotation_and_release(void **state)
{
    char *dir = make_dir();
    ps_spool *sp;
    ps_spool_pos end = {0, 0}, first_end = {0, 0};
    ps_errmsg em;
    char *big = malloc(1024 * 1024);
    ps_spool_record rec;

    assert_non_null(big);
    memset(big, 'x', 1024 * 1024);
    rec = (ps_spool_record){.data = big, .len = 1024 * 1024, .total_len = 1024 * 1024};
    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(ps_spool_append(sp, &rec, &end, &em), PS_OK);
        if (i == 0)
            first_end = end;
    }
    /* 20 MiB in segments of 8 MiB: three files */
    assert_int_equal(count_segments(dir), 3);
    assert_int_equal(first_end.segment, 0);
    assert_int_equal(end.segment, 2);
    /* committing the first record frees nothing: its segment holds more */
    ps_spool_release(sp, first_end);
    assert_int_equal(count_segments(dir), 3);
    /* committing everything frees the full segments, keeps the current one */
    ps_spool_release(sp, end);
    assert_int_equal(count_segments(dir), 1);
    ps_spool_destroy(sp, true);
    assert_int_equal(count_segments(dir), 0);
    free(big);
    free(dir);
    (void)state;
}

static void test_new_appends_after_old_segments(void **state)
{
    char *dir = make_dir();
    ps_spool *sp;
    ps_spool_pos end, end2;
    ps_errmsg em;
    seen s = {0};

    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    append_str(sp, "old", 0, false, &end);
    ps_spool_destroy(sp, false);
    assert_int_equal(ps_spool_create(dir, "d", &sp, &em), PS_OK);
    append_str(sp, "new", 0, false, &end2);
    assert_true(end2.segment > end.segment);
    /* replay sees only what predates this run */
    assert_int_equal(ps_spool_replay(sp, collect, &s, NULL, &em), PS_OK);
    assert_int_equal(s.count, 1);
    assert_string_equal(s.payload[0], "old");
    /* once the old record is committed, its segment goes */
    ps_spool_release(sp, end2);
    assert_int_equal(count_segments(dir), 1);
    ps_spool_destroy(sp, true);
    free(dir);
    (void)state;
}

static void test_unwritable_dir_fails_clearly(void **state)
{
    ps_spool *sp = NULL;
    ps_errmsg em;
    ps_err err;
    if (geteuid() == 0)
        err = ps_spool_create("/proc/version/x", "d", &sp, &em);
    else
        err = ps_spool_create("/proc/podstream-nope", "d", &sp, &em);
    assert_int_not_equal(err, PS_OK);
    assert_null(sp);
    assert_non_null(strstr(em.text, "cannot"));
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_after_crash),
        cmocka_unit_test(test_torn_tail_is_ignored),
        cmocka_unit_test(test_corrupt_payload_detected),
        cmocka_unit_test(test_record_checksum_is_crc32),
        cmocka_unit_test(test_rotation_and_release),
        cmocka_unit_test(test_new_appends_after_old_segments),
        cmocka_unit_test(test_unwritable_dir_fails_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
