/*
 * loss: the training losses over a batch of head outputs, each with its gradient:
 * softmax cross-entropy (classification) and mean squared error (regression).
 */
#ifndef MODEL_ENGINE_LOSS_H
#define MODEL_ENGINE_LOSS_H

/* Mean softmax cross-entropy over N rows of logits (N, C) with labels (N) in
 * [0, C).  dlogits (N, C), if non-NULL, is overwritten with d(loss)/d(logits)
 * = (softmax - onehot) / N.  Computed in double; returns the loss. */
double op_softmax_xent(float *dlogits, const float *logits, const int *labels, int N, int C);

/* Mean squared error over N predictions (N) vs targets (N): mean((p - t)^2).
 * dpred (N), if non-NULL, overwritten with 2 (p - t) / N. */
double op_mse(float *dpred, const float *pred, const float *target, int N);

#endif
