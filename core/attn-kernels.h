/* attn-kernels.h: the numeric kernels every model is built from.
 *
 * Conventions (llm.c style):
 * - thing_forward (out, [saved...], inp, weights..., dims...);
 *   thing_backward (dinp, dweights..., dout, [saved...], inp, weights..., dims).
 * - Backward passes ACCUMULATE (+=) into every gradient buffer they are
 *   given, so a tensor used twice (residual branches, tied embeddings) gets
 *   the sum; callers zero gradients once per step. A NULL gradient pointer
 *   means "not needed" and is skipped.
 * - Linear layers use torch.nn.Linear's layout: weight (OC, C), so
 *   out = inp @ weight^T + bias.
 * - Every kernel that uses BLAS or is otherwise optimised has a plain `_ref`
 *   twin, the definition the tests hold the fast one to.
 * - Shape rules are checked with attn_check (always on). */
#pragma once

#include <glib.h>

#include "core/attn-dims.h"

G_BEGIN_DECLS

/* ---- linear ------------------------------------------------------------ */

/* out (N, OC) = inp (N, C) @ weight^T (OC, C) + bias (OC); bias may be NULL. */
void attn_linear_forward (float *out, const float *inp, const float *weight,
                          const float *bias, int N, int C, int OC);
void attn_linear_forward_ref (float *out, const float *inp,
                              const float *weight, const float *bias, int N,
                              int C, int OC);
/* dinp (N, C) += dout @ weight; dweight (OC, C) += dout^T @ inp;
 * dbias (OC) += column sums of dout (N, OC). */
void attn_linear_backward (float *dinp, float *dweight, float *dbias,
                           const float *dout, const float *inp,
                           const float *weight, int N, int C, int OC);
void attn_linear_backward_ref (float *dinp, float *dweight, float *dbias,
                               const float *dout, const float *inp,
                               const float *weight, int N, int C, int OC);

/* ---- embedding --------------------------------------------------------- */

/* out (N, C) = table (V, C)[ids (N)]; every id must be in [0, V). */
void attn_embedding_forward (float *out, const int *ids, const float *table,
                             int N, int V, int C);
/* dtable (V, C) [ids[n]] += dout (N, C) [n] */
void attn_embedding_backward (float *dtable, const float *dout,
                              const int *ids, int N, int V, int C);

/* ---- layer norm -------------------------------------------------------- */

/* out (N, C) = (inp - mean) * rstd * weight (C) + bias (C), per row;
 * mean (N) and rstd (N) are saved for backward (may be NULL at inference).
 * Biased variance, as torch.nn.LayerNorm. */
void attn_layernorm_forward (float *out, float *mean, float *rstd,
                             const float *inp, const float *weight,
                             const float *bias, int N, int C, float eps);
void attn_layernorm_backward (float *dinp, float *dweight, float *dbias,
                              const float *dout, const float *inp,
                              const float *weight, const float *mean,
                              const float *rstd, int N, int C);

/* ---- element-wise activations (n floats) -------------------------------- */

typedef enum {
  ATTN_GELU_ERF,  /* exact: x * Phi(x); torch.nn.GELU() */
  ATTN_GELU_TANH, /* tanh approximation; GPT-2's gelu_new, GELU('tanh') */
} AttnGeluKind;

void attn_gelu_forward (float *out, const float *inp, gsize n,
                        AttnGeluKind kind);
void attn_gelu_forward_ref (float *out, const float *inp, gsize n,
                            AttnGeluKind kind);
void attn_gelu_backward (float *dinp, const float *dout, const float *inp,
                         gsize n, AttnGeluKind kind);

void attn_relu_forward (float *out, const float *inp, gsize n);
void attn_relu_backward (float *dinp, const float *dout, const float *inp,
                         gsize n);
/* tanh and sigmoid take their backward from the forward output. */
void attn_tanh_forward (float *out, const float *inp, gsize n);
void attn_tanh_backward (float *dinp, const float *dout, const float *out,
                         gsize n);
void attn_sigmoid_forward (float *out, const float *inp, gsize n);
void attn_sigmoid_backward (float *dinp, const float *dout, const float *out,
                            gsize n);

/* ---- softmax ----------------------------------------------------------- */

/* out (N, C) = softmax of each row of inp (N, C), max-subtracted so that no
 * input overflows. Entries equal to -INFINITY come out exactly 0; a row of
 * only -INFINITY comes out all 0 (not NaN). In place (out == inp) is fine. */
void attn_softmax_forward (float *out, const float *inp, int N, int C);
/* dinp += out * (dout - sum(dout * out)) per row. */
void attn_softmax_backward (float *dinp, const float *dout, const float *out,
                            int N, int C);

/* ---- cross-entropy ----------------------------------------------------- */

/* losses (N) = -log softmax(logits (N, V))[targets (N)]; probs (N, V) saved.
 * A target equal to ignore_index (e.g. -1 for padding) gives loss 0 and is
 * left out of the count; every other target must be in [0, V). Returns the
 * mean loss over counted rows (0 when none), and writes that count to
 * *n_counted when non-NULL. losses and probs may each be NULL when not
 * wanted (backward needs probs). */
float attn_cross_entropy_forward (float *losses, float *probs,
                                  const float *logits, const int *targets,
                                  int N, int V, int ignore_index,
                                  int *n_counted);
/* dlogits (N, V) += dloss * (probs - onehot(target)) for counted rows, where
 * dloss is the gradient of the MEAN loss (so usually 1 / n_counted * upstream). */
void attn_cross_entropy_backward (float *dlogits, const float *probs,
                                  const int *targets, float dloss, int N,
                                  int V, int ignore_index);

/* Label-smoothed cross-entropy, exactly
 * torch.nn.CrossEntropyLoss (label_smoothing=eps, ignore_index=...): the
 * target distribution of a counted row is q = (1 - eps) onehot (target) +
 * eps / V (uniform over all V classes, the target included), and
 *   losses[n] = -sum_v q_v log p_v
 *             = (1 - eps) * nll + eps * mean_v (-log p_v).
 * eps = 0 gives attn_cross_entropy_forward's numbers. Everything else as
 * there (ignored rows: loss 0, not counted; mean over counted rows; probs
 * (N, V) saved for backward; losses, probs may be NULL). eps in [0, 1).
 * Shared by the Transformer and the RNN (engineer RN: use these for the
 * trainer's label smoothing). */
float attn_cross_entropy_smoothed_forward (float *losses, float *probs,
                                           const float *logits,
                                           const int *targets, int N, int V,
                                           float eps, int ignore_index,
                                           int *n_counted);
/* dlogits (N, V) += dloss * (probs - q) for counted rows; dloss is the
 * gradient of the MEAN loss (usually 1 / n_counted * upstream). */
void attn_cross_entropy_smoothed_backward (float *dlogits, const float *probs,
                                           const int *targets, float dloss,
                                           int N, int V, float eps,
                                           int ignore_index);

/* ---- residual ---------------------------------------------------------- */

/* out (n) = a (n) + b (n) */
void attn_residual_forward (float *out, const float *a, const float *b,
                            gsize n);
/* da += dout; db += dout */
void attn_residual_backward (float *da, float *db, const float *dout, gsize n);

/* ---- dropout ----------------------------------------------------------- */

/* Inverted dropout: when training, each element is zeroed with probability p
 * and the rest scaled by 1 / (1 - p); the kept-and-scaled factor is stored in
 * mask (n) for backward. When not training (or p == 0) out = inp and mask
 * may be NULL. rng makes it deterministic per seed. */
void attn_dropout_forward (float *out, float *mask, const float *inp, gsize n,
                           float p, gboolean training, GRand *rng);
/* dinp += dout * mask */
void attn_dropout_backward (float *dinp, const float *dout, const float *mask,
                            gsize n);

G_END_DECLS
