/* attn-attention.h: the attention family, each returning its output AND the
 * attention weights (what Attnscope draws), forward and backward.
 *
 * 1. Multi-head scaled dot-product attention (torch.nn.MultiheadAttention
 *    semantics), batched, with causal and key-padding masks.
 * 2. Single-head scores for RNN decoders: additive (Bahdanau), Luong dot,
 *    general and concat, for Tq queries at once against S keys.
 * 3. Luong local-p attention (predicted position, Gaussian-weighted window).
 *
 * Conventions as in attn-kernels.h: backward passes ACCUMULATE (+=) into
 * every gradient buffer given, and a NULL gradient pointer is skipped.
 * Masks are byte arrays with nonzero = padding (the key is never attended).
 * Masked weights are exactly 0. A query whose every key is masked gets a row
 * of zeros (and a zero context) rather than torch's NaN.
 *
 * Besides the dimension letters of attn-dims.h, the RNN-side functions use
 * Tq (queries), Dq (query width, the decoder state), Dk (key width, the
 * encoder output) and Ap (hidden width of local-p's position network). */
#pragma once

#include <glib.h>

#include "core/attn-dims.h"
#include "core/attn-tensor.h"

G_BEGIN_DECLS

/* ==== 1. multi-head scaled dot-product attention ======================== */

typedef struct {
  int B;  /* batch */
  int T;  /* queries per sequence */
  int S;  /* keys per sequence (S == T for self-attention) */
  int C;  /* model width; queries, keys and values all have it */
  int NH; /* heads; HS = C / NH must be a whole number */
} AttnMhaDims;

/* Parameters in torch.nn.Linear layout, or the same shapes for gradients.
 * torch's packed in_proj_weight (3C, C) is wq, wk, wv stacked in that order,
 * in_proj_bias (3C) likewise; out_proj is wo, bo. Biases may be NULL
 * (bias=False); in a gradient struct any NULL member is skipped. */
typedef struct {
  float *wq; /* (C, C) */
  float *bq; /* (C) */
  float *wk; /* (C, C) */
  float *bk; /* (C) */
  float *wv; /* (C, C) */
  float *bv; /* (C) */
  float *wo; /* (C, C) */
  float *bo; /* (C) */
} AttnMhaParams;

/* What forward keeps for backward and for drawing. */
typedef struct {
  AttnMhaDims dims;
  float *q;   /* (B, T, C) projected queries, before the 1/sqrt(HS) scale */
  float *k;   /* (B, S, C) projected keys */
  float *v;   /* (B, S, C) projected values */
  float *att; /* (B, NH, T, S) attention weights, rows sum to 1 */
  float *ctx; /* (B, T, C) heads concatenated (after the head mask), the
               * input of the output projection */
  AttnTensorBlock *block; /* owner when made by attn_mha_acts_new, else NULL */
} AttnMhaActs;

/* Floats needed by attn_mha_acts_carve (each tensor 64-byte aligned), or 0
 * with ATTN_ERROR_TOO_LARGE when the sizes overflow. */
gsize attn_mha_acts_size (const AttnMhaDims *dims, GError **error);
/* Points acts into memory (attn_mha_acts_size floats, 64-byte aligned, owned
 * by the caller), so that a model can carve every layer's activations from
 * its own block. */
void attn_mha_acts_carve (AttnMhaActs *acts, float *memory,
                          const AttnMhaDims *dims);
AttnMhaActs *attn_mha_acts_new (const AttnMhaDims *dims, GError **error);
void attn_mha_acts_free (AttnMhaActs *acts);

/* out (B, T, C) = MultiheadAttention (xq (B, T, C), xkv (B, S, C)); the
 * weights land in acts->att (B, NH, T, S). Self-attention passes xkv == xq.
 *
 * causal: query t sees keys s <= t (requires S == T).
 * key_pad (B, S): nonzero = padding; may be NULL.
 * head_mask (NH): NULL, or a multiplier on each head's context (0 switches a
 *   head off, as Hugging Face's head_mask); the weights are left as they are.
 * out must not alias the inputs. No dropout: this is the inference and
 * dropout-free training path. */
void attn_mha_forward (float *out, AttnMhaActs *acts, const float *xq,
                       const float *xkv, const AttnMhaParams *params,
                       gboolean causal, const guint8 *key_pad,
                       const float *head_mask);
/* The core of attn_mha_forward for ONE sequence whose projections are
 * already made: per head h (columns [h HS, (h + 1) HS) of q, k, v, ctx),
 * att[h] (T, S) = softmax of q_h k_h^T / sqrt (HS) over the keys a query
 * may see (causal and key_pad (S) as there), ctx_h = head_mask[h] *
 * att[h] v_h. ctx (T, C), att (NH, T, S), q (T, C), k (S, C), v (S, C).
 * A decoder with a key/value cache passes its one new query (T = 1, not
 * causal) and the S keys and values cached so far. */
void attn_mha_attend (float *ctx, float *att, const float *q, const float *k,
                      const float *v, int T, int S, int C, int NH,
                      gboolean causal, const guint8 *key_pad,
                      const float *head_mask);
/* The plain definition (loops, double accumulation, no BLAS) that the fast
 * forward is tested against; fills the same acts. */
void attn_mha_forward_ref (float *out, AttnMhaActs *acts, const float *xq,
                           const float *xkv, const AttnMhaParams *params,
                           gboolean causal, const guint8 *key_pad,
                           const float *head_mask);
/* From dout (B, T, C): dxq (B, T, C) += , dxkv (B, S, C) += , and every
 * non-NULL member of grads +=. For self-attention dxq == dxkv is allowed
 * (both contributions are summed). Reads the acts of the matching forward;
 * head_mask must be the one forward used. */
void attn_mha_backward (float *dxq, float *dxkv, AttnMhaParams *grads,
                        const float *dout, const AttnMhaActs *acts,
                        const float *xq, const float *xkv,
                        const AttnMhaParams *params,
                        const float *head_mask);
/* Floats of scratch attn_mha_backward_ws needs for dims. */
gsize attn_mha_backward_scratch_size (const AttnMhaDims *dims);
/* attn_mha_backward with the caller's scratch (attn_mha_backward_scratch_size
 * floats, contents overwritten), so that a model calling it every training
 * step allocates nothing (fresh multi-megabyte blocks cost page faults). */
void attn_mha_backward_ws (float *scratch, float *dxq, float *dxkv,
                           AttnMhaParams *grads, const float *dout,
                           const AttnMhaActs *acts, const float *xq,
                           const float *xkv, const AttnMhaParams *params,
                           const float *head_mask);

/* ==== 2. single-head scores for RNN decoders =========================== */

typedef enum {
  ATTN_SCORE_ADDITIVE, /* Bahdanau: v^T tanh (W_q q + W_k k + b) */
  ATTN_SCORE_DOT,      /* Luong dot: q^T k (Dq == Dk) */
  ATTN_SCORE_GENERAL,  /* Luong general: q^T W k */
  ATTN_SCORE_CONCAT,   /* Luong concat: v^T tanh (W_c [q; k]) */
} AttnScoreKind;

typedef struct {
  AttnScoreKind kind;
  int Tq; /* queries */
  int S;  /* keys (= values) */
  int Dq; /* query width */
  int Dk; /* key width */
  int A;  /* hidden width of additive / concat; ignored otherwise */
} AttnScoreDims;

/* Only the members the kind uses are read; the rest may be NULL. In a
 * gradient struct, NULL members are skipped. */
typedef struct {
  float *w_q; /* additive (A, Dq) */
  float *w_k; /* additive (A, Dk) */
  float *b;   /* additive (A); may be NULL for no bias */
  float *w;   /* general (Dq, Dk), i.e. torch.nn.Linear (Dk -> Dq) on keys */
  float *w_c; /* concat (A, Dq + Dk): columns [0, Dq) act on the query */
  float *v;   /* additive, concat (A) */
} AttnScoreParams;

typedef struct {
  AttnScoreDims dims;
  float *pq;     /* (Tq, A) additive/concat: W_q q + b */
  float *pk;     /* (S, A) additive/concat: W_k k; general: (S, Dq) W k */
  float *hid;    /* (Tq, S, A) additive/concat: tanh of pq + pk */
  float *scores; /* (Tq, S) raw scores, before any mask and softmax */
  float *att;    /* (Tq, S) softmax weights */
  AttnTensorBlock *block;
} AttnScoreActs;

AttnScoreActs *attn_score_acts_new (const AttnScoreDims *dims,
                                    GError **error);
void attn_score_acts_free (AttnScoreActs *acts);

/* Global attention of queries (Tq, Dq) over keys (S, Dk), values = keys:
 * att (Tq, S) = softmax over s of score (q_t, k_s), keys with key_pad (S)
 * nonzero left out (exactly 0); ctx (Tq, Dk) = att @ keys. The weights are
 * also in acts->att. */
void attn_score_attention_forward (float *ctx, AttnScoreActs *acts,
                                   const float *queries, const float *keys,
                                   const AttnScoreParams *params,
                                   const guint8 *key_pad);
/* datt (Tq, S) is an upstream gradient on the weights (may be NULL), dctx
 * (Tq, Dk) the one on the context. dqueries (Tq, Dq) +=, dkeys (S, Dk) +=,
 * grads +=. */
void attn_score_attention_backward (float *dqueries, float *dkeys,
                                    AttnScoreParams *grads, const float *dctx,
                                    const float *datt,
                                    const AttnScoreActs *acts,
                                    const float *queries, const float *keys,
                                    const AttnScoreParams *params);

/* ==== 3. Luong local-p attention ======================================= */

typedef struct {
  AttnScoreDims score; /* the align score: Luong uses GENERAL */
  int Ap;              /* hidden width of the position network */
  int D;               /* window half-width; sigma = D / 2 */
} AttnLocalDims;

typedef struct {
  AttnScoreParams score;
  float *w_p; /* (Ap, Dq) */
  float *v_p; /* (Ap) */
} AttnLocalParams;

typedef struct {
  AttnLocalDims dims;
  AttnScoreActs *score; /* scores and hidden of the align score; its att is
                         * the softmax within the window (align) */
  float *hp;            /* (Tq, Ap) tanh (W_p h_t) */
  float *sig;           /* (Tq) sigmoid (v_p^T hp) */
  float *p;             /* (Tq) predicted positions p_t in [0, S] */
  float *att;           /* (Tq, S) final weights a_t (s), NOT normalised */
  AttnTensorBlock *block;
} AttnLocalActs;

AttnLocalActs *attn_local_acts_new (const AttnLocalDims *dims,
                                    GError **error);
void attn_local_acts_free (AttnLocalActs *acts);

/* The window of query t: keys s with |s - p_t| <= D, clipped to [0, S);
 * writes the first and last index (hi < lo when empty). */
void attn_local_window (float p, int D, int S, int *lo, int *hi);

/* Local-p (Luong et al. 2015, eq. 9-10) for queries (Tq, Dq) over keys
 * (S, Dk), values = keys:
 *   p_t = S * sigmoid (v_p^T tanh (W_p h_t)),
 *   a_t (s) = align (h_t, h_s) * exp (-(s - p_t)^2 / (2 sigma^2)),
 * with align the softmax of the score over the window (and not key_pad);
 * keys outside get exactly 0. As in the paper, a_t is NOT renormalised after
 * the Gaussian, so rows sum to less than 1: a trace must mark these blocks as
 * not normalised. ctx (Tq, Dk) = a @ keys. Weights in acts->att, p_t in
 * acts->p for drawing. */
void attn_local_forward (float *ctx, AttnLocalActs *acts,
                         const float *queries, const float *keys,
                         const AttnLocalParams *params,
                         const guint8 *key_pad);
/* Gradients through the scores, the Gaussian and p_t. The window is a
 * piecewise-constant function of p_t: the gradient is that of the window
 * forward used (its membership held fixed). datt (Tq, S) may be NULL. */
void attn_local_backward (float *dqueries, float *dkeys,
                          AttnLocalParams *grads, const float *dctx,
                          const float *datt, const AttnLocalActs *acts,
                          const float *queries, const float *keys,
                          const AttnLocalParams *params);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnMhaActs, attn_mha_acts_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnScoreActs, attn_score_acts_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnLocalActs, attn_local_acts_free)

G_END_DECLS
