/*
 * pretrain publish: how a model directory is replaced without ever being half-written.
 * A build writes into DIR.tmp-PID; publish_dir moves an older DIR aside to DIR.old-PID,
 * renames the new one to DIR and removes the old one, so a reader sees the old complete
 * build, no DIR (between the two renames), or the new complete build.  A build killed
 * in between leaves DIR.tmp-* / DIR.old-* behind, which publish_remove_leftovers clears.
 */
#ifndef HARNESS_PRETRAIN_PUBLISH_H
#define HARNESS_PRETRAIN_PUBLISH_H

#include "base/err.h"

/* rm -r path (does not follow symlinks).  Best effort; 0 when path is gone. */
int publish_remove_tree(const char *path);

/* Move the complete directory tmp to dir (replacing an older dir, see above).  ERR_IO
 * when a rename fails (an older dir is then put back). */
int publish_dir(const char *tmp, const char *dir, struct err *e);

/* Remove the DIR.tmp-* and DIR.old-* leftovers of builds of dir that died.  Call it only
 * with dir's build lock held (cache.c), so that no live build owns them. */
void publish_remove_leftovers(const char *dir);

#endif
