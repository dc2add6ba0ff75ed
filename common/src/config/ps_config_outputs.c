/* Finding the outputs' YAML (see ps_config_outputs.h). */
#include <stdlib.h>
#include <string.h>

#include "config/ps_config_outputs.h"
#include "podstream/ps_mem.h"
#include "podstream/ps_schema.h"

ps_err pc_outputs_split(const ps_yaml_node *root, ps_yaml_node *tmp, void **mem,
                        const ps_yaml_node **outputs, const ps_yaml_node **rest)
{
    size_t j = 0;
    ps_yaml_node **arr;
    *mem = NULL;
    *rest = root;
    *outputs = ps_yaml_map_get(root, "outputs");
    if (!*outputs)
        return PS_OK;
    arr = calloc(2 * root->count + 1, sizeof *arr);
    if (!arr)
        return PS_ERR_NOMEM;
    *tmp = *root;
    tmp->keys = arr;
    tmp->items = arr + root->count;
    for (size_t i = 0; i < root->count; i++) {
        if (strcmp(root->keys[i]->value, "outputs") == 0)
            continue;
        tmp->keys[j] = root->keys[i];
        tmp->items[j] = root->items[i];
        j++;
    }
    tmp->count = j;
    *mem = arr;
    *rest = tmp;
    return PS_OK;
}

ps_err pc_outputs_keep(ps_config *cfg, size_t *cap, ps_yaml_doc *doc, const ps_yaml_node *list)
{
    if (ps_mem_grow_array((void **)&cfg->output_files, cap, cfg->noutput_files,
                          sizeof *cfg->output_files) != PS_OK) {
        ps_yaml_doc_destroy(doc);
        return PS_ERR_NOMEM;
    }
    cfg->output_files[cfg->noutput_files].doc = doc;
    cfg->output_files[cfg->noutput_files].list = list;
    cfg->noutput_files++;
    return PS_OK;
}

ps_err pc_outputs_load_file(ps_config *cfg, size_t *cap, const char *file, const char *data,
                            size_t len, ps_diag *diag)
{
    ps_yaml_doc *doc = NULL;
    const ps_yaml_node *root, *list;
    if (ps_yaml_load_buffer(file, data, len, &doc, diag) != PS_OK)
        return PS_OK; /* reported */
    root = ps_yaml_doc_root(doc);
    if (!root || ps_yaml_is_null(root)) {
        ps_yaml_doc_destroy(doc); /* defines nothing */
        return PS_OK;
    }
    list = root;
    if (root->kind == PS_YAML_MAP && root->count == 1 && ps_yaml_map_get(root, "outputs"))
        list = ps_yaml_map_get(root, "outputs");
    if (list->kind == PS_YAML_SCALAR) {
        ps_diag_add(diag, PS_DIAG_ERROR, file, list->line, list->col, NULL,
                    "expected an outputs: list, a list of outputs or one output, got %s",
                    ps_schema_describe(list));
        ps_yaml_doc_destroy(doc);
        return PS_OK;
    }
    return pc_outputs_keep(cfg, cap, doc, list);
}
