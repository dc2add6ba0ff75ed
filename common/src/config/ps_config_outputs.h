/* Outputs in the configuration (#16): `outputs:` in podstream.yml and the files of
 * outputs/. ps_config only finds and keeps their YAML (cfg->output_files); the
 * output layer parses it against the plugins' tables, which config/ cannot see. */
#ifndef PS_CONFIG_OUTPUTS_H
#define PS_CONFIG_OUTPUTS_H

#include <stddef.h>

#include "podstream/ps_config.h"

/* podstream.yml's root without its `outputs:` key, for the service table, which
 * does not know it: `root` itself when there is none, else a shallow copy built in
 * *tmp whose arrays are returned in *mem (free() both after parsing). *outputs is
 * the `outputs:` value or NULL. PS_ERR_NOMEM. */
ps_err pc_outputs_split(const ps_yaml_node *root, ps_yaml_node *tmp, void **mem,
                        const ps_yaml_node **outputs, const ps_yaml_node **rest);

/* Keeps `doc` (ownership moves to cfg, also on failure) with `list` as outputs:
 * a sequence of output mappings or one mapping. *cap is the array's capacity. */
ps_err pc_outputs_keep(ps_config *cfg, size_t *cap, ps_yaml_doc *doc, const ps_yaml_node *list);

/* Loads one outputs/ file: an `outputs:` list, a bare list, or one output mapping.
 * Problems go to diag; the document is kept in cfg when it holds outputs. */
ps_err pc_outputs_load_file(ps_config *cfg, size_t *cap, const char *file, const char *data,
                            size_t len, ps_diag *diag);

#endif
