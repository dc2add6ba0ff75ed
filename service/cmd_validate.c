/* podstream validate: placeholder until the config module lands in this change. */
#include "cli.h"

int ps_cmd_validate(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return PS_EXIT_FAILURE;
}
