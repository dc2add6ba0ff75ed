/* The processor registry and the options every processor, and every pipeline, takes.
 * A new processor is a file in processors/ and one row here. */
#include <stddef.h>

#include "pipeline/ps_pipeline_internal.h"

extern const ps_processor_def pl_proc_set, pl_proc_remove, pl_proc_rename, pl_proc_copy,
    pl_proc_append, pl_proc_lowercase, pl_proc_uppercase, pl_proc_trim, pl_proc_convert,
    pl_proc_drop, pl_proc_redact, pl_proc_tag, pl_proc_fail;

const ps_processor_def *const pl_processors[] = {
    &pl_proc_set,       &pl_proc_remove,    &pl_proc_rename, &pl_proc_copy,    &pl_proc_append,
    &pl_proc_lowercase, &pl_proc_uppercase, &pl_proc_trim,   &pl_proc_convert, &pl_proc_drop,
    &pl_proc_redact,    &pl_proc_tag,       &pl_proc_fail,
};
const size_t pl_nprocessors = sizeof pl_processors / sizeof pl_processors[0];

/* ignore_failure is typed into struct proc; the others are compiled by the pipeline. */
static const ps_schema_field common_fields[] = {
    PL_OPT_TEXT("if", false, "condition", NULL, "The processor runs only when it is true."),
    PL_OPT_BOOL("ignore_failure", proc, ignore_failure, "false",
                "A failure of this processor is ignored; the event goes on unchanged by it."),
    PL_OPT_TEXT("on_failure", false, "list of processors", NULL,
                "Run when this processor fails; the pipeline then continues with the next "
                "processor."),
    PL_OPT_TEXT("tag", false, "string", NULL,
                "A name for the processor, shown in drop and failure messages."),
    PL_OPT_TEXT("description", false, "string", NULL, "For people; ignored."),
};
static const ps_schema_table common_table = PL_TABLE("processor", common_fields);

static const ps_schema_field pipeline_fields[] = {
    PL_OPT_TEXT("name", true, "string", NULL,
                "1 to 128 letters, digits, _, - or .; unique across all files."),
    PL_OPT_TEXT("description", false, "string", NULL, "Shown by podstream pipeline list."),
    PL_OPT_TEXT("if", false, "condition", NULL,
                "The pipeline runs only on events where it is true."),
    PL_OPT_BOOL("ignore_failure", ps_pipeline, ignore_failure, "false",
                "A failure ends this pipeline but the event goes on to the next pipeline and "
                "is kept."),
    PL_OPT_TEXT("on_failure", false, "list of processors", NULL,
                "Run when a processor fails; the event is then kept and the rest of this "
                "pipeline is skipped."),
    PL_OPT_TEXT("processors", true, "list of processors", NULL,
                "Run in order; an empty list is allowed."),
    PL_OPT_TEXT("version", false, "integer", NULL,
                "Accepted for compatibility with Elastic; ignored."),
    PL_OPT_TEXT("_meta", false, "any value", NULL,
                "Accepted for compatibility with Elastic; ignored."),
};
static const ps_schema_table pipeline_table = PL_TABLE("pipeline", pipeline_fields);

const ps_schema_table *pl_common_options(void)
{
    return &common_table;
}

const ps_schema_table *ps_pipeline_common_options(void)
{
    return &common_table;
}

const ps_schema_table *ps_pipeline_options(void)
{
    return &pipeline_table;
}

const ps_processor_doc *ps_pipeline_processor_doc(size_t i)
{
    return i < pl_nprocessors ? &pl_processors[i]->doc : NULL;
}
