/* attn-gru.h: the gated recurrent unit, exactly as torch.nn.GRU defines it.
 *
 * For input x (C) and state h (H), gates in torch's order r, z, n:
 *   r  = sigmoid (W_ir x + b_ir + W_hr h + b_hr)
 *   z  = sigmoid (W_iz x + b_iz + W_hz h + b_hz)
 *   n  = tanh (W_in x + b_in + r * (W_hn h + b_hn))
 *   h' = (1 - z) * n + z * h
 * with torch's parameter layout, so a state dict's weight_ih_l0 (3H, C),
 * weight_hh_l0 (3H, H), bias_ih_l0 (3H), bias_hh_l0 (3H) (and the
 * _l0_reverse set of a bidirectional GRU) are used as they are. C is the
 * input width (torch's input_size), H the hidden size.
 *
 * Three levels:
 * - a cell: one step for B rows (the attention decoder calls it once per
 *   target position, with its own input such as [embedding | context]);
 * - a layer: one direction over one sequence of T steps, the input
 *   projection of all T positions done in one sgemm, every activation kept
 *   in an AttnGruActs for backpropagation through time;
 * - a bidirectional layer: both directions over one sequence whose first
 *   len rows are real (the rest padding), outputs concatenated per position
 *   as torch.nn.GRU (bidirectional=True) does.
 * The layers take one sequence, not a batch: a caller with a batch runs
 * them per sequence (each with its own length), which is also what makes
 * padding free. Backward passes ACCUMULATE into every gradient they are
 * given (see core/attn-kernels.h); NULL gradients are skipped. */
#pragma once

#include <glib.h>

#include "core/attn-dims.h"
#include "core/attn-tensor.h"

G_BEGIN_DECLS

/* One direction's parameters, in torch's layout; gate rows r, z, n. The same
 * struct holds gradients, where any field may be NULL (not needed). */
typedef struct {
  float *weight_ih; /* (3H, C) */
  float *weight_hh; /* (3H, H) */
  float *bias_ih;   /* (3H) */
  float *bias_hh;   /* (3H) */
} AttnGruParams;

/* Floats per row and hidden unit of a cell's `saved` (r, z, n and
 * W_hn h + b_hn, which backward needs) and of its `work` (the two
 * projections, or their gradients). */
#define ATTN_GRU_SAVED 4
#define ATTN_GRU_WORK 6

/* h_out (B, H) = one GRU step of each row of x (B, C) from h_prev (B, H).
 * saved (B, 4H) receives what backward needs; work (B, 6H) is scratch.
 * h_out may be h_prev itself (stepping in place), but then backward cannot
 * be run: it needs h_prev. */
void attn_gru_cell_forward (float *h_out, float *saved, float *work,
                            const float *x, const float *h_prev,
                            const AttnGruParams *w, int B, int C, int H);
/* Given dh_out (B, H), accumulates dx (B, C), dh_prev (B, H) and grads from
 * the saved (B, 4H) of the forward step with the same x and h_prev.
 * work (B, 6H) is scratch; dh_prev must not alias dh_out. */
void attn_gru_cell_backward (float *dx, float *dh_prev,
                             const AttnGruParams *grads, float *work,
                             const float *dh_out, const float *saved,
                             const float *x, const float *h_prev,
                             const AttnGruParams *w, int B, int C, int H);

/* Activations of one direction over up to T steps: workspace of forward,
 * and what backward reads. Steps are counted in processing order, k = 0 is
 * the first position a direction reads (the last one when reversed). */
typedef struct {
  int T; /* steps it has room for */
  int H;
  float *gi;    /* (T, 3H) W_ih x + b_ih per position, one sgemm; then
                 * scratch; in backward the gradient of it */
  float *gh;    /* (T, 3H) W_hh h + b_hh per step; in backward its gradient */
  float *saved; /* (T, 4H) per step r, z, n, W_hn h + b_hn */
  float *h;     /* (T + 1, H) states by step: h[0] = h0, h[k + 1] after k */
  float *dh;    /* (2, H) running state gradient in backward */
  AttnTensorBlock *block;
} AttnGruActs;

/* NULL with ATTN_ERROR_TOO_LARGE when T * H does not fit in memory. */
AttnGruActs *attn_gru_acts_new (int T, int H, GError **error);
void attn_gru_acts_free (AttnGruActs *acts);

/* One direction over x (T, C) from h0 (H) (NULL: zeros, as torch): out
 * (T, H) holds the state after each position, in position order, and h_n
 * (H) the final state; either may be NULL. reverse runs positions T-1 down
 * to 0 (the second direction of a bidirectional GRU, whose out[t] is the
 * state after reading x[T-1] .. x[t]). T may be 0: then h_n = h0. */
void attn_gru_forward (float *out, float *h_n, AttnGruActs *acts,
                       const float *x, const float *h0,
                       const AttnGruParams *w, int T, int C, int H,
                       gboolean reverse);
/* Backpropagation through time of the last attn_gru_forward run on acts
 * (same x, w, T, reverse): given dout (T, H) on out and dh_n (H) on h_n
 * (either NULL: no gradient), accumulates dx (T, C), dh0 (H) and grads
 * (any NULL, or grads itself NULL). Overwrites acts->gi, gh and dh. */
void attn_gru_backward (float *dx, float *dh0, const AttnGruParams *grads,
                        AttnGruActs *acts, const float *dout,
                        const float *dh_n, const float *x,
                        const AttnGruParams *w, int T, int C, int H,
                        gboolean reverse);

/* torch.nn.GRU (bidirectional=True) over one sequence x (T, C) of which the
 * first len rows are real (0 <= len <= T; len = T for no padding), as torch
 * runs a packed sequence: out (T, 2H) = [forward | reverse] state at each
 * position, rows from len on zero (as pad_packed_sequence gives); h_n
 * (2, H) = forward state after position len-1, reverse state after
 * position 0; h0 (2, H) or NULL for zeros. Index 0 of w and acts is the
 * forward direction (weight_ih_l0 ...), 1 the reverse (weight_ih_l0_reverse
 * ...); each acts needs room for len steps. out and h_n may be NULL. */
void attn_gru_bi_forward (float *out, float *h_n, AttnGruActs *const *acts,
                          const float *x, const float *h0,
                          const AttnGruParams *w, int T, int len, int C,
                          int H);
/* Given dout (T, 2H) and dh_n (2, H) (either NULL), accumulates dx (T, C)
 * (rows from len on untouched: padding gets no gradient), dh0 (2, H) and
 * grads[2] (grads may be NULL). */
void attn_gru_bi_backward (float *dx, float *dh0, const AttnGruParams *grads,
                           AttnGruActs *const *acts, const float *dout,
                           const float *dh_n, const float *x,
                           const AttnGruParams *w, int T, int len, int C,
                           int H);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnGruActs, attn_gru_acts_free)

G_END_DECLS
