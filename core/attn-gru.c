/* attn-gru.c: torch.nn.GRU forward and backward (see attn-gru.h). */
#include "core/attn-gru.h"

#include <string.h>

#include "core/attn-check.h"
#include "core/attn-kernels.h"

/* ---- one step of one row ----------------------------------------------- */

/* The element-wise part of a step, shared by the cell and the layers so
 * that both compute bit for bit the same thing. gi (3H) = W_ih x + b_ih is
 * consumed as scratch; gh (3H) = W_hh h_prev + b_hh; saved (4H) receives
 * r, z, n and W_hn h_prev + b_hn. h_out may alias h_prev. */
static void
gru_step (float *h_out, float *saved, float *gi, const float *gh,
          const float *h_prev, int H)
{
  float *r = saved;          /* (H) */
  float *z = saved + H;      /* (H) */
  float *n = saved + 2 * H;  /* (H) */
  float *hn = saved + 3 * H; /* (H) */

  for (int j = 0; j < 2 * H; j++)
    gi[j] += gh[j];
  attn_sigmoid_forward (r, gi, 2 * (gsize) H); /* r and z are adjacent */
  for (int j = 0; j < H; j++)
    {
      hn[j] = gh[2 * H + j];
      gi[2 * H + j] += r[j] * hn[j];
    }
  attn_tanh_forward (n, gi + 2 * H, H);
  /* torch's own rounding of (1 - z) * n + z * h (aten gru_cell). */
  for (int j = 0; j < H; j++)
    h_out[j] = n[j] + z[j] * (h_prev[j] - n[j]);
}

/* Backward of gru_step for one row: from dh (H) on h_out, overwrites
 * dgi (3H) and dgh (3H) with the gradients of the two projections and adds
 * the direct path dh * z to dh_prev (H) (skipped when NULL). */
static void
gru_step_backward (float *dgi, float *dgh, float *dh_prev, const float *dh,
                   const float *saved, const float *h_prev, int H)
{
  const float *r = saved;          /* (H) */
  const float *z = saved + H;      /* (H) */
  const float *n = saved + 2 * H;  /* (H) */
  const float *hn = saved + 3 * H; /* (H) */
  /* dgh holds the gradients on the gate outputs until it is overwritten. */
  float *dr = dgh;          /* (H) */
  float *dz = dgh + H;      /* (H) */
  float *dn = dgh + 2 * H;  /* (H) */
  float *dan = dgi + 2 * H; /* (H) on n's pre-activation */

  for (int j = 0; j < H; j++)
    {
      dn[j] = dh[j] * (1.0f - z[j]);
      dz[j] = dh[j] * (h_prev[j] - n[j]);
    }
  if (dh_prev != NULL)
    for (int j = 0; j < H; j++)
      dh_prev[j] += dh[j] * z[j];

  memset (dgi, 0, 3 * (gsize) H * sizeof (float));
  attn_tanh_backward (dan, dn, n, H);
  for (int j = 0; j < H; j++)
    {
      dr[j] = dan[j] * hn[j];
      dn[j] = dan[j] * r[j]; /* now the gradient of W_hn h + b_hn */
    }
  /* r and z's pre-activations are sums of the two projections, so both
   * receive the same gradient. */
  attn_sigmoid_backward (dgi, dgh, saved, 2 * (gsize) H);
  memcpy (dgh, dgi, 2 * (gsize) H * sizeof (float));
}

/* ---- cell -------------------------------------------------------------- */

void
attn_gru_cell_forward (float *h_out, float *saved, float *work,
                       const float *x, const float *h_prev,
                       const AttnGruParams *w, int B, int C, int H)
{
  /* h_out (B, H), saved (B, 4H), work (B, 6H), x (B, C), h_prev (B, H) */
  attn_check (h_out != NULL && saved != NULL && work != NULL);
  attn_check (x != NULL && h_prev != NULL && w != NULL);
  attn_check (B > 0 && C > 0 && H > 0);

  float *gi = work;                     /* (B, 3H) */
  float *gh = work + (gsize) B * 3 * H; /* (B, 3H) */
  attn_linear_forward (gi, x, w->weight_ih, w->bias_ih, B, C, 3 * H);
  attn_linear_forward (gh, h_prev, w->weight_hh, w->bias_hh, B, H, 3 * H);
  for (int b = 0; b < B; b++)
    gru_step (h_out + (gsize) b * H, saved + (gsize) b * 4 * H,
              gi + (gsize) b * 3 * H, gh + (gsize) b * 3 * H,
              h_prev + (gsize) b * H, H);
}

void
attn_gru_cell_backward (float *dx, float *dh_prev, const AttnGruParams *grads,
                        float *work, const float *dh_out, const float *saved,
                        const float *x, const float *h_prev,
                        const AttnGruParams *w, int B, int C, int H)
{
  /* dx (B, C), dh_prev (B, H), work (B, 6H), dh_out (B, H), saved (B, 4H),
   * x (B, C), h_prev (B, H) */
  attn_check (work != NULL && dh_out != NULL && saved != NULL);
  attn_check (x != NULL && h_prev != NULL && w != NULL);
  attn_check (dh_prev == NULL || dh_prev != dh_out);
  attn_check (B > 0 && C > 0 && H > 0);

  float *dgi = work;                     /* (B, 3H) */
  float *dgh = work + (gsize) B * 3 * H; /* (B, 3H) */
  for (int b = 0; b < B; b++)
    gru_step_backward (dgi + (gsize) b * 3 * H, dgh + (gsize) b * 3 * H,
                       dh_prev ? dh_prev + (gsize) b * H : NULL,
                       dh_out + (gsize) b * H, saved + (gsize) b * 4 * H,
                       h_prev + (gsize) b * H, H);
  attn_linear_backward (dx, grads ? grads->weight_ih : NULL,
                        grads ? grads->bias_ih : NULL, dgi, x, w->weight_ih,
                        B, C, 3 * H);
  attn_linear_backward (dh_prev, grads ? grads->weight_hh : NULL,
                        grads ? grads->bias_hh : NULL, dgh, h_prev,
                        w->weight_hh, B, H, 3 * H);
}

/* ---- activations ------------------------------------------------------- */

AttnGruActs *
attn_gru_acts_new (int T, int H, GError **error)
{
  attn_check (T > 0 && H > 0);
  const gsize t = (gsize) T, h = (gsize) H;
  const AttnTensorSpec specs[] = {
    { "gru.gi", 2, { t, 3 * h } },
    { "gru.gh", 2, { t, 3 * h } },
    { "gru.saved", 2, { t, ATTN_GRU_SAVED * h } },
    { "gru.h", 2, { t + 1, h } },
    { "gru.dh", 2, { 2, h } },
  };
  AttnTensorBlock *block =
    attn_tensor_block_new (specs, G_N_ELEMENTS (specs), error);
  if (block == NULL)
    {
      g_prefix_error (error, "GRU activations for %d steps of width %d: ", T,
                      H);
      return NULL;
    }

  AttnGruActs *acts = g_new0 (AttnGruActs, 1);
  acts->T = T;
  acts->H = H;
  acts->block = block;
  acts->gi = block->tensors[0].data;
  acts->gh = block->tensors[1].data;
  acts->saved = block->tensors[2].data;
  acts->h = block->tensors[3].data;
  acts->dh = block->tensors[4].data;
  return acts;
}

void
attn_gru_acts_free (AttnGruActs *acts)
{
  if (acts == NULL)
    return;
  attn_tensor_block_free (acts->block);
  g_free (acts);
}

/* ---- one direction over a sequence ------------------------------------- */

/* The layer with out and dout rows ld floats apart, so that a direction of a
 * bidirectional GRU reads and writes its half of (T, 2H) in place. */
static void
gru_forward_strided (float *out, int ld, float *h_n, AttnGruActs *acts,
                     const float *x, const float *h0, const AttnGruParams *w,
                     int T, int C, int H, gboolean reverse)
{
  /* out (T, ld) with the state in its first H columns, h_n (H), x (T, C),
   * h0 (H) */
  attn_check (acts != NULL && w != NULL);
  attn_check (T >= 0 && T <= acts->T && H == acts->H && C > 0);
  attn_check (T == 0 || x != NULL);

  const gsize h_bytes = (gsize) H * sizeof (float);
  if (h0 != NULL)
    memcpy (acts->h, h0, h_bytes);
  else
    memset (acts->h, 0, h_bytes);
  if (T > 0)
    attn_linear_forward (acts->gi, x, w->weight_ih, w->bias_ih, T, C, 3 * H);

  for (int k = 0; k < T; k++)
    {
      const int p = reverse ? T - 1 - k : k; /* position read at step k */
      const float *h_prev = acts->h + (gsize) k * H;
      float *h = acts->h + (gsize) (k + 1) * H;
      float *gh = acts->gh + (gsize) k * 3 * H;
      attn_linear_forward (gh, h_prev, w->weight_hh, w->bias_hh, 1, H, 3 * H);
      gru_step (h, acts->saved + (gsize) k * ATTN_GRU_SAVED * H,
                acts->gi + (gsize) p * 3 * H, gh, h_prev, H);
      if (out != NULL)
        memcpy (out + (gsize) p * ld, h, h_bytes);
    }
  if (h_n != NULL)
    memcpy (h_n, acts->h + (gsize) T * H, h_bytes);
}

static void
gru_backward_strided (float *dx, float *dh0, const AttnGruParams *grads,
                      AttnGruActs *acts, const float *dout, int ld,
                      const float *dh_n, const float *x,
                      const AttnGruParams *w, int T, int C, int H,
                      gboolean reverse)
{
  /* dx (T, C), dh0 (H), dout (T, ld) with the gradient in its first H
   * columns, dh_n (H), x (T, C) */
  attn_check (acts != NULL && w != NULL);
  attn_check (T >= 0 && T <= acts->T && H == acts->H && C > 0);
  attn_check (T == 0 || x != NULL);

  /* The gradient on the state after step k, and on the state before it. */
  float *dh = acts->dh;          /* (H) */
  float *dh_prev = acts->dh + H; /* (H) */
  const gsize h_bytes = (gsize) H * sizeof (float);
  if (dh_n != NULL)
    memcpy (dh, dh_n, h_bytes);
  else
    memset (dh, 0, h_bytes);

  for (int k = T - 1; k >= 0; k--)
    {
      const int p = reverse ? T - 1 - k : k;
      if (dout != NULL)
        {
          const float *g = dout + (gsize) p * ld;
          for (int j = 0; j < H; j++)
            dh[j] += g[j];
        }
      const float *h_prev = acts->h + (gsize) k * H;
      float *dgh = acts->gh + (gsize) k * 3 * H;
      memset (dh_prev, 0, h_bytes);
      gru_step_backward (acts->gi + (gsize) p * 3 * H, dgh, dh_prev, dh,
                         acts->saved + (gsize) k * ATTN_GRU_SAVED * H, h_prev,
                         H);
      /* Only the state gradient has to go step by step; the weight
       * gradients wait for one sgemm over all steps below. */
      attn_linear_backward (dh_prev, NULL, NULL, dgh, NULL, w->weight_hh, 1, H,
                            3 * H);
      float *tmp = dh;
      dh = dh_prev;
      dh_prev = tmp;
    }
  if (dh0 != NULL)
    for (int j = 0; j < H; j++)
      dh0[j] += dh[j];
  if (T == 0)
    return;

  /* gi's gradient is in position order like x; gh's in step order like the
   * states h[0 .. T-1] that were multiplied by W_hh. */
  attn_linear_backward (dx, grads ? grads->weight_ih : NULL,
                        grads ? grads->bias_ih : NULL, acts->gi, x,
                        w->weight_ih, T, C, 3 * H);
  if (grads != NULL && (grads->weight_hh != NULL || grads->bias_hh != NULL))
    attn_linear_backward (NULL, grads->weight_hh, grads->bias_hh, acts->gh,
                          acts->h, w->weight_hh, T, H, 3 * H);
}

void
attn_gru_forward (float *out, float *h_n, AttnGruActs *acts, const float *x,
                  const float *h0, const AttnGruParams *w, int T, int C,
                  int H, gboolean reverse)
{
  /* out (T, H), h_n (H), x (T, C), h0 (H) */
  gru_forward_strided (out, H, h_n, acts, x, h0, w, T, C, H, reverse);
}

void
attn_gru_backward (float *dx, float *dh0, const AttnGruParams *grads,
                   AttnGruActs *acts, const float *dout, const float *dh_n,
                   const float *x, const AttnGruParams *w, int T, int C,
                   int H, gboolean reverse)
{
  /* dx (T, C), dh0 (H), dout (T, H), dh_n (H), x (T, C) */
  gru_backward_strided (dx, dh0, grads, acts, dout, H, dh_n, x, w, T, C, H,
                        reverse);
}

/* ---- bidirectional ----------------------------------------------------- */

void
attn_gru_bi_forward (float *out, float *h_n, AttnGruActs *const *acts,
                     const float *x, const float *h0, const AttnGruParams *w,
                     int T, int len, int C, int H)
{
  /* out (T, 2H), h_n (2, H), x (T, C), h0 (2, H) */
  attn_check (acts != NULL && w != NULL);
  attn_check (0 <= len && len <= T && H > 0);

  for (int d = 0; d < 2; d++)
    gru_forward_strided (out ? out + (gsize) d * H : NULL, 2 * H,
                         h_n ? h_n + (gsize) d * H : NULL, acts[d], x,
                         h0 ? h0 + (gsize) d * H : NULL, &w[d], len, C, H,
                         d == 1);
  if (out != NULL && len < T)
    memset (out + (gsize) len * 2 * H, 0,
            (gsize) (T - len) * 2 * H * sizeof (float));
}

void
attn_gru_bi_backward (float *dx, float *dh0, const AttnGruParams *grads,
                      AttnGruActs *const *acts, const float *dout,
                      const float *dh_n, const float *x,
                      const AttnGruParams *w, int T, int len, int C, int H)
{
  /* dx (T, C), dh0 (2, H), dout (T, 2H), dh_n (2, H), x (T, C) */
  attn_check (acts != NULL && w != NULL);
  attn_check (0 <= len && len <= T && H > 0);

  for (int d = 0; d < 2; d++)
    gru_backward_strided (dx, dh0 ? dh0 + (gsize) d * H : NULL,
                          grads ? &grads[d] : NULL, acts[d],
                          dout ? dout + (gsize) d * H : NULL, 2 * H,
                          dh_n ? dh_n + (gsize) d * H : NULL, x, &w[d], len,
                          C, H, d == 1);
}
