/* The subcommands of `podstream`, one line each:
 * PS_COMMAND(name, handler, one-line summary). Each handler lives in cmd_<name>.c
 * and returns a process exit code (see cli.h). */
PS_COMMAND("run", ps_cmd_run, "stream every enabled device into the database (foreground)")
PS_COMMAND("validate", ps_cmd_validate, "check the configuration and print every problem")
PS_COMMAND("query", ps_cmd_query,
           "find stored events by sender, recipient, subject, id, time or words")
PS_COMMAND("trace", ps_cmd_trace, "show everything stored about one mail, in time order")
PS_COMMAND("status", ps_cmd_status, "show per-device counters and hourly event counts")
PS_COMMAND("pipeline", ps_cmd_pipeline, "try pipelines on sample events, or list them")
PS_COMMAND("keygen", ps_cmd_keygen, "create the shared key for secure: true tokens")
PS_COMMAND("encrypt", ps_cmd_encrypt, "encrypt a token for secure: true (reads it from stdin)")
