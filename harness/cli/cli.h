/* cli: subcommand dispatch for the peftbench binary. */
#ifndef HARNESS_CLI_H
#define HARNESS_CLI_H

#include <stdio.h>

/* Run the command line; returns the process exit status (0 ok, 1 failure, 2 usage). */
int cli_main(int argc, char **argv, FILE *out, FILE *errf);

#endif
