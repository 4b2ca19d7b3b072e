/* peftbench: the command-line entry point.  Thin by design: parse the
 * subcommand, call into harness/, turn the returned error into an exit status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv, stdout, stderr);
}
