/* The subcommands of `podstream`, in the order `podstream --help` lists them:
 * PS_COMMAND(handler, description). The handler lives in cmd_<name>.c and returns
 * a process exit code (see cli.h); the description (a ps_opt_cmd: name, summary,
 * usage, option table) is defined beside it and drives the parsing and the help. */
PS_COMMAND(ps_cmd_run, ps_cmd_run_opts)
PS_COMMAND(ps_cmd_validate, ps_cmd_validate_opts)
PS_COMMAND(ps_cmd_config, ps_cmd_config_opts)
PS_COMMAND(ps_cmd_query, ps_cmd_query_opts)
PS_COMMAND(ps_cmd_trace, ps_cmd_trace_opts)
PS_COMMAND(ps_cmd_status, ps_cmd_status_opts)
PS_COMMAND(ps_cmd_repair, ps_cmd_repair_opts)
PS_COMMAND(ps_cmd_quarantine, ps_cmd_quarantine_opts)
PS_COMMAND(ps_cmd_pipeline, ps_cmd_pipeline_opts)
PS_COMMAND(ps_cmd_keygen, ps_cmd_keygen_opts)
PS_COMMAND(ps_cmd_encrypt, ps_cmd_encrypt_opts)
PS_COMMAND(ps_cmd_service, ps_cmd_service_opts)
