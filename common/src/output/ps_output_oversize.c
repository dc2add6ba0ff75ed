/* Events larger than a destination takes: split a message event by its msgParts,
 * each part carrying the shared keys, or a truncated copy marked as such. Never a
 * silent cut: the caller counts each. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "output/ps_output_internal.h"

static size_t printed_len(const cJSON *n)
{
    char *p = cJSON_PrintUnformatted(n);
    size_t len = p ? strlen(p) : 0;
    free(p);
    return len;
}

/* Replaces the largest value of the tree (descending into a container that holds
 * most of the bytes) with a short note. False when there was nothing to replace. */
static bool drop_largest(cJSON *obj)
{
    cJSON *big = NULL;
    size_t big_len = 0, total = printed_len(obj);
    char note[64];
    for (cJSON *c = obj->child; c; c = c->next) {
        size_t l = printed_len(c);
        if (l > big_len) {
            big = c;
            big_len = l;
        }
    }
    if (!big || big_len < 32)
        return false;
    if ((cJSON_IsObject(big) || cJSON_IsArray(big)) && big->child && big_len * 2 > total &&
        drop_largest(big))
        return true;
    snprintf(note, sizeof note, "[truncated: %zu bytes]", big_len);
    cJSON *rep = cJSON_CreateString(note);
    if (!rep)
        return false;
    if (cJSON_IsArray(obj)) {
        int i = 0;
        for (cJSON *c = obj->child; c && c != big; c = c->next)
            i++;
        return cJSON_ReplaceItemInArray(obj, i, rep);
    }
    return cJSON_ReplaceItemViaPointer(obj, big, rep);
}

static char *truncate_tree(cJSON *root, size_t orig, size_t max)
{
    char *out = NULL;
    cJSON_DeleteItemFromObject(root, "podstreamTruncated");
    cJSON_AddTrueToObject(root, "podstreamTruncated");
    cJSON_AddNumberToObject(root, "podstreamOriginalBytes", (double)orig);
    for (int guard = 0; guard < 10000; guard++) {
        out = cJSON_PrintUnformatted(root);
        if (!out || strlen(out) <= max)
            return out;
        free(out);
        out = NULL;
        if (!drop_largest(root))
            break;
    }
    /* Even the skeleton does not fit: the markers alone. */
    cJSON *bare = cJSON_CreateObject();
    if (!bare)
        return NULL;
    cJSON_AddTrueToObject(bare, "podstreamTruncated");
    cJSON_AddNumberToObject(bare, "podstreamOriginalBytes", (double)orig);
    out = cJSON_PrintUnformatted(bare);
    cJSON_Delete(bare);
    return out;
}

ps_err pso_truncate(const char *json, size_t len, size_t max, char **out)
{
    cJSON *root = cJSON_ParseWithLength(json, len);
    *out = NULL;
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        root = cJSON_CreateObject(); /* not an object: only the markers */
        if (!root)
            return PS_ERR_NOMEM;
    }
    *out = truncate_tree(root, len, max);
    cJSON_Delete(root);
    return *out ? PS_OK : PS_ERR_NOMEM;
}

void pso_parts_free(pso_parts *p)
{
    for (size_t i = 0; p->json && i < p->count; i++)
        free(p->json[i]);
    free(p->json);
    memset(p, 0, sizeof *p);
}

/* One part: the shared keys, msgParts holding part i alone, podstreamPart. */
static char *one_part(cJSON *base, const cJSON *part, size_t i, size_t n, size_t len, size_t max,
                      bool *truncated)
{
    cJSON *copy = cJSON_Duplicate(base, true), *arr, *mark;
    char *out;
    if (!copy)
        return NULL;
    arr = cJSON_AddArrayToObject(copy, "msgParts");
    mark = cJSON_AddObjectToObject(copy, "podstreamPart");
    if (!arr || !mark) {
        cJSON_Delete(copy);
        return NULL;
    }
    cJSON_AddItemToArray(arr, cJSON_Duplicate(part, true));
    cJSON_AddNumberToObject(mark, "index", (double)(i + 1));
    cJSON_AddNumberToObject(mark, "count", (double)n);
    out = cJSON_PrintUnformatted(copy);
    if (out && strlen(out) > max) {
        free(out);
        out = truncate_tree(copy, len, max);
        *truncated = true;
    }
    cJSON_Delete(copy);
    return out;
}

ps_err pso_split(const char *json, size_t len, size_t max, pso_parts *out)
{
    cJSON *root = cJSON_ParseWithLength(json, len), *parts;
    ps_err err = PS_OK;
    size_t n;
    memset(out, 0, sizeof *out);
    parts = root ? cJSON_DetachItemFromObject(root, "msgParts") : NULL;
    n = cJSON_IsArray(parts) ? (size_t)cJSON_GetArraySize(parts) : 0;
    if (n < 2) {
        cJSON_Delete(parts);
        cJSON_Delete(root);
        return PS_ERR_UNSUPPORTED; /* nothing to split by: the caller truncates */
    }
    out->json = calloc(n, sizeof *out->json);
    if (!out->json) {
        err = PS_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        out->json[i] =
            one_part(root, cJSON_GetArrayItem(parts, (int)i), i, n, len, max, &out->truncated);
        if (!out->json[i]) {
            err = PS_ERR_NOMEM;
            goto done;
        }
        out->count++;
    }
done:
    if (err != PS_OK)
        pso_parts_free(out);
    cJSON_Delete(parts);
    cJSON_Delete(root);
    return err;
}
