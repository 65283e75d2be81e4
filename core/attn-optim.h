/* attn-optim.h: the optimiser's numerics, apart from any model.
 *
 * Adam (Kingma & Ba) exactly as torch.optim.Adam / torch.optim.AdamW of
 * PyTorch 1.13 compute it (tests/test-train-reference.c holds us to it), the
 * learning-rate schedule, and clipping by global norm. Everything works on
 * flat float arrays: a model's parameters and gradients are each one
 * AttnTensorBlock (attn-model.h), so the optimiser sees two arrays of the
 * block's n_floats (the zero padding between tensors stays zero). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Scalars are doubles, as PyTorch's are Python floats; they are rounded to
 * float32 where PyTorch's tensor ops round them. */
typedef struct {
  double beta1;        /* 0.9 */
  double beta2;        /* 0.999 */
  double eps;          /* 1e-8 */
  double weight_decay; /* 0: none */
  gboolean decoupled;  /* TRUE: AdamW (decay the weights, scaled by lr);
                        * FALSE: Adam (add weight_decay * param to the
                        * gradient, L2) */
} AttnAdamConfig;

#define ATTN_ADAM_CONFIG_INIT { 0.9, 0.999, 1e-8, 0.0, FALSE }

typedef struct {
  AttnAdamConfig config;
  gsize n;
  gint64 step; /* updates made so far */
  float *m;    /* (n) first moment, exp_avg */
  float *v;    /* (n) second moment, exp_avg_sq */
} AttnAdam;

/* Zeroed moments for n parameters, step 0. */
AttnAdam *attn_adam_new (gsize n, const AttnAdamConfig *config);
void attn_adam_free (AttnAdam *adam);

/* One update, as torch.optim.Adam(W).step () with learning rate lr:
 *   step += 1
 *   (Adam, weight_decay != 0)  g = g + wd * p
 *   (AdamW)                    p = p * (1 - lr * wd)
 *   m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
 *   p = p - lr / (1 - beta1^step) * m / (sqrt (v) / sqrt (1 - beta2^step)
 *                                        + eps)
 * params (n), grads (n); grads are read only. */
void attn_adam_update (AttnAdam *adam, float *params, const float *grads,
                       double lr);

/* The learning-rate schedule: a linear warm-up from lr / warmup at step 1
 * to the peak lr at step `warmup`, then
 *   ATTN_LR_INV_SQRT: lr * sqrt (warmup / step), as Vaswani et al. (their
 *                     d_model^-0.5 is folded into the peak lr);
 *   ATTN_LR_COSINE:   half a cosine from lr at `warmup` down to `floor` at
 *                     `total`, and `floor` after it;
 *   ATTN_LR_CONSTANT: lr.
 * Steps count from 1 (the first update). warmup 0 starts at the peak. */
typedef enum {
  ATTN_LR_COSINE,
  ATTN_LR_INV_SQRT,
  ATTN_LR_CONSTANT,
} AttnLrSchedule;

/* "cosine", "inv-sqrt", "constant". */
const char *attn_lr_schedule_to_string (AttnLrSchedule schedule);
gboolean attn_lr_schedule_from_string (const char *str,
                                       AttnLrSchedule *schedule);

typedef struct {
  AttnLrSchedule schedule;
  double lr;    /* peak */
  gint64 warmup;
  gint64 total; /* the step the cosine reaches floor */
  double floor; /* cosine's final value */
} AttnLrConfig;

double attn_lr_at (const AttnLrConfig *config, gint64 step);

/* The global L2 norm of grads (n), accumulated in double; when it exceeds
 * max_norm > 0, scales grads by max_norm / (norm + 1e-6), as
 * torch.nn.utils.clip_grad_norm_ does. Returns the norm before clipping. */
double attn_clip_grad_norm (float *grads, gsize n, double max_norm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnAdam, attn_adam_free)

G_END_DECLS
