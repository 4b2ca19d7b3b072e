/* loss: softmax cross-entropy and MSE (contract in loss.h); serial, summed in double. */
#include "model/engine/loss.h"

#include <math.h>
#include <stddef.h>

double op_softmax_xent(float *dlogits, const float *logits, const int *labels, int N, int C)
{
    if (N <= 0 || C <= 0)
        return 0.0;
    double total = 0.0;
    /* Rows are few (a batch of classification logits): stay serial, which
     * also keeps the loss sum in a fixed order. */
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * (size_t)C;
        /* log-sum-exp around the row max: exp never overflows, even for
         * logits around 1e4. */
        double mx = (double)z[0];
        for (int c = 1; c < C; c++)
            if ((double)z[c] > mx)
                mx = (double)z[c];
        double se = 0.0;
        for (int c = 0; c < C; c++)
            se += exp((double)z[c] - mx);
        double lse = mx + log(se);
        total += lse - (double)z[labels[n]];
        if (dlogits) {
            float *d = dlogits + (size_t)n * (size_t)C;
            for (int c = 0; c < C; c++) {
                double pc = exp((double)z[c] - lse);
                d[c] = (float)((pc - (c == labels[n] ? 1.0 : 0.0)) / N);
            }
        }
    }
    return total / N;
}

double op_mse(float *dpred, const float *pred, const float *target, int N)
{
    if (N <= 0)
        return 0.0;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        double d = (double)pred[n] - (double)target[n];
        total += d * d;
        if (dpred)
            dpred[n] = (float)(2.0 * d / N);
    }
    return total / N;
}
