/* attn-optim.c: Adam, the learning-rate schedule, gradient clipping. */
#include "core/attn-optim.h"

#include <math.h>

#include "core/attn-check.h"

AttnAdam *
attn_adam_new (gsize n, const AttnAdamConfig *config)
{
  attn_check (config->beta1 >= 0.0 && config->beta1 < 1.0);
  attn_check (config->beta2 >= 0.0 && config->beta2 < 1.0);
  attn_check (config->eps > 0.0 && config->weight_decay >= 0.0);
  AttnAdam *adam = g_new0 (AttnAdam, 1);
  adam->config = *config;
  adam->n = n;
  adam->m = g_new0 (float, MAX (n, 1));
  adam->v = g_new0 (float, MAX (n, 1));
  return adam;
}

void
attn_adam_free (AttnAdam *adam)
{
  if (adam == NULL)
    return;
  g_free (adam->m);
  g_free (adam->v);
  g_free (adam);
}

void
attn_adam_update (AttnAdam *adam, float *params, const float *grads,
                  double lr)
{
  const AttnAdamConfig *c = &adam->config;
  adam->step++;
  /* PyTorch computes these in double (Python floats) and hands them to
   * float32 tensor ops, which round them to float. */
  double bias1 = 1.0 - pow (c->beta1, (double) adam->step);
  double bias2_sqrt = sqrt (1.0 - pow (c->beta2, (double) adam->step));
  const float b1 = (float) c->beta1, one_b1 = (float) (1.0 - c->beta1);
  const float b2 = (float) c->beta2, one_b2 = (float) (1.0 - c->beta2);
  const float neg_step = (float) (-(lr / bias1));
  const float b2s = (float) bias2_sqrt, eps = (float) c->eps;
  const float wd = (float) c->weight_decay;
  const float shrink = (float) (1.0 - lr * c->weight_decay);
  const gboolean l2 = c->weight_decay != 0.0 && !c->decoupled;
  const gboolean decay = c->weight_decay != 0.0 && c->decoupled;
  float *m = adam->m, *v = adam->v;

  for (gsize i = 0; i < adam->n; i++)
    {
      float g = grads[i];
      if (l2)
        g = g + wd * params[i];
      if (decay)
        params[i] = params[i] * shrink;
      m[i] = m[i] * b1 + one_b1 * g;
      v[i] = v[i] * b2 + one_b2 * (g * g);
      float denom = sqrtf (v[i]) / b2s + eps;
      params[i] = params[i] + neg_step * (m[i] / denom);
    }
}

static const char *const schedule_names[] = {
  [ATTN_LR_COSINE] = "cosine",
  [ATTN_LR_INV_SQRT] = "inv-sqrt",
  [ATTN_LR_CONSTANT] = "constant",
};

const char *
attn_lr_schedule_to_string (AttnLrSchedule schedule)
{
  g_return_val_if_fail ((guint) schedule < G_N_ELEMENTS (schedule_names),
                        NULL);
  return schedule_names[schedule];
}

gboolean
attn_lr_schedule_from_string (const char *str, AttnLrSchedule *schedule)
{
  for (guint i = 0; i < G_N_ELEMENTS (schedule_names); i++)
    if (g_strcmp0 (str, schedule_names[i]) == 0)
      {
        *schedule = (AttnLrSchedule) i;
        return TRUE;
      }
  return FALSE;
}

double
attn_lr_at (const AttnLrConfig *c, gint64 step)
{
  attn_check (step >= 1 && c->warmup >= 0);
  if (step < c->warmup)
    return c->lr * (double) step / (double) c->warmup;
  switch (c->schedule)
    {
    case ATTN_LR_CONSTANT:
      return c->lr;
    case ATTN_LR_INV_SQRT:
      return c->warmup == 0 ? c->lr / sqrt ((double) step)
                            : c->lr * sqrt ((double) c->warmup / step);
    case ATTN_LR_COSINE:
      {
        if (step >= c->total)
          return c->floor;
        double span = (double) (c->total - c->warmup);
        double t = span > 0.0 ? (double) (step - c->warmup) / span : 1.0;
        return c->floor + (c->lr - c->floor) * 0.5 * (1.0 + cos (G_PI * t));
      }
    }
  g_assert_not_reached ();
}

double
attn_clip_grad_norm (float *grads, gsize n, double max_norm)
{
  double sum = 0.0;
  for (gsize i = 0; i < n; i++)
    sum += (double) grads[i] * grads[i];
  double norm = sqrt (sum);
  if (max_norm > 0.0)
    {
      double coef = max_norm / (norm + 1e-6);
      if (coef < 1.0)
        {
          float f = (float) coef;
          for (gsize i = 0; i < n; i++)
            grads[i] *= f;
        }
    }
  return norm;
}
