/* ps_suggest: edit distance and the "did you mean" rule. */
#include "podstream/ps_suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#define DIST_MAX_LEN 64

static size_t min2(size_t a, size_t b)
{
    return a < b ? a : b;
}

size_t ps_suggest_distance(const char *a, const char *b)
{
    /* Optimal string alignment needs the row before the previous one for swaps;
     * three rows instead of the whole matrix keep the stack small. */
    size_t la = strlen(a), lb = strlen(b);
    size_t rows[3][DIST_MAX_LEN + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    if (la > DIST_MAX_LEN || lb > DIST_MAX_LEN)
        return la > lb ? la : lb;
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        int ca = tolower((unsigned char)a[i - 1]);
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int cb = tolower((unsigned char)b[j - 1]);
            size_t best = min2(prev[j] + 1, cur[j - 1] + 1);
            best = min2(best, prev[j - 1] + (ca == cb ? 0 : 1));
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb)
                best = min2(best, pp[j - 2] + 1);
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

/* How many edits still look like a typo rather than another word. */
static size_t suggest_limit(size_t len)
{
    if (len <= 4)
        return 1;
    if (len <= 8)
        return 2;
    return 3;
}

const char *ps_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL, *prefix = NULL;
    size_t best_d = SIZE_MAX, prefix_len = 0, wlen = strlen(word);
    for (const char *const *c = candidates; *c; c++) {
        size_t d = ps_suggest_distance(word, *c), clen = strlen(*c);
        size_t common = min2(wlen, clen);
        if (d < best_d && d <= suggest_limit(clen) && d < wlen) {
            best = *c;
            best_d = d;
        }
        /* A shortened or lengthened name ("proxy_user", "target") is too far by
         * edits but plainly meant; the longest shared prefix wins. */
        if (common >= 4 && wlen != clen && common > prefix_len &&
            strncasecmp(word, *c, common) == 0) {
            prefix = *c;
            prefix_len = common;
        }
    }
    return best ? best : prefix;
}
