/* parallel: the column partition of the column-parallel loops (policy in parallel.h). */
#include "model/engine/parallel.h"

#include <omp.h>

int col_partition(int C, int *bw)
{
    int nblk = (C + OPS_COL_MAX - 1) / OPS_COL_MAX, nt = omp_get_max_threads();
    if (nblk < nt)
        nblk = nt;
    int w = (C + nblk - 1) / nblk;
    w = (w + 15) / 16 * 16; /* whole cache lines per block */
    *bw = w;
    return (C + w - 1) / w;
}
