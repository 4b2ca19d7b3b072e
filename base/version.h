/*
 * version: the peftbench release version, printed by `peftbench --version` and written
 * into every trial record (environment.version).  The build's git commit is separate:
 * the Makefile passes it to harness/sweep/results.c as PEFTBENCH_GIT.
 */
#ifndef BASE_VERSION_H
#define BASE_VERSION_H

#define PEFTBENCH_VERSION "0.1.0"

#endif
