/*
 * trial_lock: one trial trained by one process at a time in a results directory.
 *
 * Two `run`s on one directory (a careless double start, overlapping shards, a Slurm array
 * whose tasks share the directory) must not both train the same trial.  Before training,
 * `run` takes flock(LOCK_EX | LOCK_NB) on OUT/trials/<id>.lock and holds it until the trial's
 * record is written; a trial whose lock is held is skipped ("running elsewhere").  The lock
 * file is left in place (unlinking it would let a third process lock a different inode);
 * results readers ignore it.  flock works across NFS clients on Linux ≥ 2.6.12 (emulated with
 * fcntl byte-range locks), which is what a shared cluster file system gives.
 */
#ifndef HARNESS_RUN_TRIAL_LOCK_H
#define HARNESS_RUN_TRIAL_LOCK_H

#include "base/err.h"

/* Take the lock of trial id in out_dir.  Returns ERR_OK with *fd >= 0 when taken, ERR_OK with
 * *fd == -1 when another process holds it, or an error (the lock file cannot be opened). */
int trial_lock_take(const char *out_dir, const char *id, int *fd, struct err *e);

/* Release a lock taken by trial_lock_take (no-op for fd < 0). */
void trial_lock_release(int fd);

#endif
