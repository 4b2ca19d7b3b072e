/* usage: the help text of every peftbench subcommand, in one table.  Kept apart from the
 * dispatch (cli.c) so that `peftbench help CMD`, `CMD --help` and the messages printed on a
 * usage error all show the same text, and the README's exit-code table has one source. */
#ifndef HARNESS_CLI_USAGE_H
#define HARNESS_CLI_USAGE_H

#include <stdbool.h>
#include <stdio.h>

/* The usage text of command name (ends in a newline), or NULL for an unknown command. */
const char *usage_text(const char *name);

/* The one-line "exit: ..." summary of name's exit statuses, or NULL. */
const char *usage_exit_codes(const char *name);

/* Print name's usage and exit codes to out (a generic line for a command without a text). */
void usage_print(FILE *out, const char *name, const char *summary);

/* True when argv[1..argc-1] asks for help: any argument is exactly --help or -h. */
bool usage_wants_help(int argc, char **argv);

#endif
