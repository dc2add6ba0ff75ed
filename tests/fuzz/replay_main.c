/* main() of the fuzz targets outside libFuzzer (the gcc and sanitizer builds): runs
 * LLVMFuzzerTestOneInput once on every file named, or found in a directory named,
 * on the command line. ctest runs each target this way on its corpus and its kept
 * crash inputs, so they stay fixed in every build, not only in the clang one. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The same cap as a libFuzzer run with -max_len: larger files are a mistake. */
#define MAX_FILE (4u * 1024u * 1024u)

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t n;
    int rc = 1;

    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    /* One byte of room, so that an empty file is not a NULL pointer. */
    buf = malloc(MAX_FILE + 1);
    if (!buf)
        goto cleanup;
    n = fread(buf, 1, MAX_FILE + 1, f);
    if (ferror(f) || n > MAX_FILE) {
        fprintf(stderr, "replay: cannot read %s (or larger than %u bytes)\n", path, MAX_FILE);
        goto cleanup;
    }
    /* An exact-size copy, so that ASan sees a read past the end of the input. */
    {
        unsigned char *exact = malloc(n ? n : 1);
        if (!exact)
            goto cleanup;
        memcpy(exact, buf, n);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
    }
    rc = 0;
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files of `dir` in name order, so that a failure is reproducible. */
static int run_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d) {
        fprintf(stderr, "replay: cannot open directory %s\n", dir);
        return 1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (n == cap) {
            char **grown = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
            if (!grown) {
                rc = 1;
                break;
            }
            names = grown;
        }
        if (!(names[n] = strdup(path))) {
            rc = 1;
            break;
        }
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = run_file(names[i]);
        free(names[i]);
    }
    free(names);
    *count += n;
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) != 0 : run_file(argv[i]) != 0)
            return 1;
        if (!S_ISDIR(st.st_mode))
            count++;
    }
    printf("replay: %zu inputs ran\n", count);
    return 0;
}
