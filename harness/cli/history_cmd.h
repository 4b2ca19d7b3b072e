/* history_cmd: the `peftbench history` command (the history format: harness/report/history.h). */
#ifndef HARNESS_CLI_HISTORY_CMD_H
#define HARNESS_CLI_HISTORY_CMD_H

#include <stdio.h>

/* `peftbench history DIR... [--out ROOT] [compare's tolerance flags]`: append each DIR, then
 * write ROOT/history.html.  Returns the exit status (0 ok, 1 a write failed, 2 usage or
 * unusable input). */
int history_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
