/* The subcommands of `podstream`, one line each:
 * PS_COMMAND(name, handler, one-line summary). Each handler lives in cmd_<name>.c
 * and returns a process exit code (see cli.h). */
PS_COMMAND("validate", ps_cmd_validate, "check the configuration and print every problem")
