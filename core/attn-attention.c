/* attn-attention.c: the attention family (see attn-attention.h for the
 * contracts). */
#include "core/attn-attention.h"
#include "core/attn-attention-private.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-kernels.h"

/* Floats per tensor rounded up so that each starts on ATTN_TENSOR_ALIGN,
 * the same layout attn_tensor_block_new uses. */
static gsize
round_up_floats (gsize n)
{
  const gsize per_line = ATTN_TENSOR_ALIGN / sizeof (float);
  return (n + per_line - 1) / per_line * per_line;
}

/* Zeroed scratch for backward passes; sizes were already proven to fit when
 * the activations were allocated. */
static float *
scratch_new (gsize n)
{
  return g_new0 (float, MAX (n, 1));
}

/* ==== 1. multi-head attention ============================================ */

#define MHA_N_ACTS 5

static void
mha_check_dims (const AttnMhaDims *d)
{
  attn_check (d->B > 0 && d->T > 0 && d->S > 0 && d->C > 0 && d->NH > 0);
  attn_check (d->C % d->NH == 0);
  /* The kernels take int row counts. */
  attn_check ((gint64) d->B * MAX (d->T, d->S) <= G_MAXINT);
}

static void
mha_specs (const AttnMhaDims *d, AttnTensorSpec specs[MHA_N_ACTS])
{
  const gsize B = d->B, T = d->T, S = d->S, C = d->C, NH = d->NH;
  specs[0] = (AttnTensorSpec){ "q", 3, { B, T, C } };
  specs[1] = (AttnTensorSpec){ "k", 3, { B, S, C } };
  specs[2] = (AttnTensorSpec){ "v", 3, { B, S, C } };
  specs[3] = (AttnTensorSpec){ "att", 4, { B, NH, T, S } };
  specs[4] = (AttnTensorSpec){ "ctx", 3, { B, T, C } };
}

static void
mha_bind (AttnMhaActs *acts, float *const data[MHA_N_ACTS])
{
  acts->q = data[0];
  acts->k = data[1];
  acts->v = data[2];
  acts->att = data[3];
  acts->ctx = data[4];
}

gsize
attn_mha_acts_size (const AttnMhaDims *dims, GError **error)
{
  mha_check_dims (dims);
  AttnTensorSpec specs[MHA_N_ACTS];
  mha_specs (dims, specs);
  gsize total = 0;
  for (int i = 0; i < MHA_N_ACTS; i++)
    {
      /* The limit keeps the sum of all five, in bytes, from overflowing. */
      GError *local = NULL;
      gsize n = attn_shape_numel (specs[i].ndim, specs[i].shape,
                                  G_MAXSIZE / sizeof (float) / 8, &local);
      if (local != NULL)
        {
          g_propagate_prefixed_error (error, local,
                                      "attention activations “%s”: ",
                                      specs[i].name);
          return 0;
        }
      total += round_up_floats (n);
    }
  return total;
}

void
attn_mha_acts_carve (AttnMhaActs *acts, float *memory,
                     const AttnMhaDims *dims)
{
  attn_check ((guintptr) memory % ATTN_TENSOR_ALIGN == 0);
  attn_check (attn_mha_acts_size (dims, NULL) > 0);
  AttnTensorSpec specs[MHA_N_ACTS];
  mha_specs (dims, specs);
  float *data[MHA_N_ACTS];
  for (int i = 0; i < MHA_N_ACTS; i++)
    {
      data[i] = memory;
      memory += round_up_floats (attn_shape_numel (specs[i].ndim,
                                                   specs[i].shape, 0, NULL));
    }
  memset (acts, 0, sizeof *acts);
  acts->dims = *dims;
  mha_bind (acts, data);
}

AttnMhaActs *
attn_mha_acts_new (const AttnMhaDims *dims, GError **error)
{
  mha_check_dims (dims);
  AttnTensorSpec specs[MHA_N_ACTS];
  mha_specs (dims, specs);
  AttnTensorBlock *block = attn_tensor_block_new (specs, MHA_N_ACTS, error);
  if (block == NULL)
    return NULL;
  AttnMhaActs *acts = g_new0 (AttnMhaActs, 1);
  acts->dims = *dims;
  acts->block = block;
  float *data[MHA_N_ACTS];
  for (int i = 0; i < MHA_N_ACTS; i++)
    data[i] = block->tensors[i].data;
  mha_bind (acts, data);
  return acts;
}

void
attn_mha_acts_free (AttnMhaActs *acts)
{
  if (acts == NULL)
    return;
  attn_tensor_block_free (acts->block);
  g_free (acts);
}

static void
mha_check_call (const AttnMhaActs *acts, const float *xq, const float *xkv,
                const AttnMhaParams *p, gboolean causal)
{
  mha_check_dims (&acts->dims);
  attn_check (xq != NULL && xkv != NULL && p != NULL);
  attn_check (p->wq != NULL && p->wk != NULL && p->wv != NULL
              && p->wo != NULL);
  attn_check (!causal || acts->dims.S == acts->dims.T);
}

/* ---- the fused scale + mask + softmax ----------------------------------- */

/* Eight floats at a time with GCC vector extensions, so that the exp of the
 * (T, S) weights of every head (the only non-BLAS work of the forward pass
 * of any size) runs on SIMD lanes; masked_softmax_rows picks an AVX2 + FMA
 * body on CPUs that have it and plain SSE2 elsewhere. 32-byte vectors are never
 * passed or returned by value (macros and pointers instead): without AVX
 * that would change the calling convention and GCC says so (-Wpsabi). */
typedef float v8f __attribute__ ((vector_size (32)));
typedef gint32 v8i __attribute__ ((vector_size (32)));
typedef double v4d __attribute__ ((vector_size (32)));

#define V8F_SPLAT(a) ((v8f){ (a), (a), (a), (a), (a), (a), (a), (a) })
/* Lanes of a where the mask m is -1, of b where it is 0. */
#define V8F_SELECT(m, a, b) ((v8f) (((m) & (v8i) (a)) | (~(m) & (v8i) (b))))

/* *x = exp (*x) for x <= 0, within 1.1 ulp of the exact value (measured over
 * every float in [-87, 0], in both bodies below). Cephes' expf: x = n ln2 + r,
 * |r| <= ln2 / 2, degree-6 polynomial, 2^n put into the exponent bits.
 * Inputs below -87 give 2^-126 * exp (r) instead of a denormal or 0: the
 * callers zero masked lanes explicitly, and an unmasked weight that small
 * next to a row maximum of exp (0) = 1 is below float resolution anyway. */
static inline __attribute__ ((always_inline)) void
v8f_exp_nonpos (v8f *px)
{
  v8f x = *px;
  const v8f lo = V8F_SPLAT (-87.0f);
  x = V8F_SELECT (x < lo, lo, x);
  /* Round to nearest by adding and removing 1.5 * 2^23 (no -ffast-math
   * here, so the compiler keeps both operations). */
  const v8f magic = V8F_SPLAT (12582912.0f);
  v8f n = (x * V8F_SPLAT (1.44269504088896341f) + magic) - magic;
  v8f r = x - n * V8F_SPLAT (0.693359375f);
  r = r - n * V8F_SPLAT (-2.12194440e-4f);
  v8f y = V8F_SPLAT (1.9875691500e-4f);
  y = y * r + V8F_SPLAT (1.3981999507e-3f);
  y = y * r + V8F_SPLAT (8.3334519073e-3f);
  y = y * r + V8F_SPLAT (4.1665795894e-2f);
  y = y * r + V8F_SPLAT (1.6666665459e-1f);
  y = y * r + V8F_SPLAT (5.0000001201e-1f);
  y = y * r * r + r + V8F_SPLAT (1.0f);
  v8i e = (__builtin_convertvector (n, v8i) + 127) << 23;
  *px = y * (v8f) e;
}

/* One lane of the same computation, for row tails, so that a weight does
 * not depend on where in the row it falls. */
static inline __attribute__ ((always_inline)) float
exp_nonpos (float x)
{
  v8f v = V8F_SPLAT (x);
  v8f_exp_nonpos (&v);
  return v[0];
}

/* Each row t of att (T, S) holds scaled scores; replace it with the softmax
 * over the keys query t may see: s <= t when causal, and keep[s] != 0
 * (keep (S) is -1 / 0 per key, NULL for all). Everything else becomes
 * exactly 0; a row with nothing to see becomes all 0. */
static inline __attribute__ ((always_inline)) void
masked_softmax_rows_body (float *att, int T, int S, gboolean causal,
                          const gint32 *keep)
{
  const v8i all = { -1, -1, -1, -1, -1, -1, -1, -1 };
  for (int t = 0; t < T; t++)
    {
      float *x = att + (gsize) t * S; /* (S) */
      const int n = causal ? MIN (t + 1, S) : S;
      if (n < S)
        memset (x + n, 0, (gsize) (S - n) * sizeof (float));

      v8f vmax = V8F_SPLAT (-INFINITY);
      float m = -INFINITY;
      int s = 0;
      for (; s + 8 <= n; s += 8)
        {
          v8i km = all;
          if (keep != NULL)
            memcpy (&km, keep + s, sizeof km);
          v8f v;
          memcpy (&v, x + s, sizeof v);
          v = V8F_SELECT (km, v, V8F_SPLAT (-INFINITY));
          vmax = V8F_SELECT (v > vmax, v, vmax);
        }
      for (; s < n; s++)
        if (keep == NULL || keep[s])
          m = MAX (m, x[s]);
      for (int i = 0; i < 8; i++)
        m = MAX (m, vmax[i]);
      if (m == -INFINITY)
        {
          memset (x, 0, (gsize) n * sizeof (float));
          continue;
        }

      /* The sum is kept in double lanes so that a long row still sums to 1
       * within float rounding. */
      const v8f vm = V8F_SPLAT (m);
      v4d vsum = { 0.0, 0.0, 0.0, 0.0 };
      double sum = 0.0;
      for (s = 0; s + 8 <= n; s += 8)
        {
          v8f e;
          memcpy (&e, x + s, sizeof e);
          e -= vm;
          v8f_exp_nonpos (&e);
          if (keep != NULL)
            {
              v8i km;
              memcpy (&km, keep + s, sizeof km);
              e = (v8f) ((v8i) e & km);
            }
          memcpy (x + s, &e, sizeof e);
          vsum += __builtin_convertvector (
            __builtin_shufflevector (e, e, 0, 1, 2, 3), v4d);
          vsum += __builtin_convertvector (
            __builtin_shufflevector (e, e, 4, 5, 6, 7), v4d);
        }
      for (; s < n; s++)
        {
          x[s] = (keep == NULL || keep[s]) ? exp_nonpos (x[s] - m) : 0.0f;
          sum += x[s];
        }
      sum += vsum[0] + vsum[1] + vsum[2] + vsum[3];

      const float inv = (float) (1.0 / sum);
      const v8f vinv = V8F_SPLAT (inv);
      for (s = 0; s + 8 <= n; s += 8)
        {
          v8f y;
          memcpy (&y, x + s, sizeof y);
          y *= vinv;
          memcpy (x + s, &y, sizeof y);
        }
      for (; s < n; s++)
        x[s] *= inv;
    }
}

/* The same body compiled twice. (target_clones ("arch=haswell") would
 * dispatch on the CPU model being Haswell, not on it having AVX2 and FMA, and
 * so miss every later CPU.) */
__attribute__ ((target ("avx2,fma"))) static void
masked_softmax_rows_avx2 (float *att, int T, int S, gboolean causal,
                          const gint32 *keep)
{
  masked_softmax_rows_body (att, T, S, causal, keep);
}

static void
masked_softmax_rows_generic (float *att, int T, int S, gboolean causal,
                             const gint32 *keep)
{
  masked_softmax_rows_body (att, T, S, causal, keep);
}

static gboolean force_generic_simd; /* test hook, see the private header */

void
attn_attention_force_generic_simd (gboolean force)
{
  force_generic_simd = force;
}

static gboolean
cpu_has_avx2_fma (void)
{
  static gsize avx2 = 0; /* 0 unknown, 1 no, 2 yes */
  if (g_once_init_enter (&avx2))
    {
      __builtin_cpu_init ();
      gboolean yes = __builtin_cpu_supports ("avx2")
                     && __builtin_cpu_supports ("fma");
      g_once_init_leave (&avx2, yes ? 2 : 1);
    }
  return avx2 == 2;
}

/* Softmax of every row of the (T, S) block att, as described above. It runs
 * on the calling thread: splitting rows over a GLib thread pool was tried
 * and gained nothing here, because after each sgemm OpenBLAS's idle workers
 * keep spinning on the other cores for a while. */
static void
masked_softmax_rows (float *att, int T, int S, gboolean causal,
                     const gint32 *keep)
{
  if (cpu_has_avx2_fma () && !force_generic_simd)
    masked_softmax_rows_avx2 (att, T, S, causal, keep);
  else
    masked_softmax_rows_generic (att, T, S, causal, keep);
}

/* keep (B, S): -1 for a key that may be attended, 0 for padding. */
static gint32 *
keep_from_pad (const guint8 *key_pad, int B, int S)
{
  if (key_pad == NULL)
    return NULL;
  gint32 *keep = g_new (gint32, (gsize) B * S);
  for (gsize i = 0; i < (gsize) B * S; i++)
    keep[i] = key_pad[i] ? 0 : -1;
  return keep;
}

/* Every head of one sequence; keep (S) as masked_softmax_rows takes it. */
static void
mha_attend_heads (float *ctx, float *att, const float *q, const float *k,
                  const float *v, int T, int S, int C, int NH,
                  gboolean causal, const gint32 *keep,
                  const float *head_mask)
{
  /* ctx (T, C), att (NH, T, S), q (T, C), k (S, C), v (S, C) */
  const int HS = C / NH;
  const float scale = 1.0f / sqrtf ((float) HS);
  for (int h = 0; h < NH; h++)
    {
      /* Head h is the column slice [h HS, (h + 1) HS) of q, k, v and ctx:
       * strided views with leading dimension C, no copies. */
      float *att_h = att + (gsize) h * T * S; /* (T, S) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, S, HS, scale,
                   q + h * HS, C, k + h * HS, C, 0.0f, att_h, S);
      masked_softmax_rows (att_h, T, S, causal, keep);
      const float hm = head_mask != NULL ? head_mask[h] : 1.0f;
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, S, hm,
                   att_h, S, v + h * HS, C, 0.0f, ctx + h * HS, C);
    }
}

void
attn_mha_attend (float *ctx, float *att, const float *q, const float *k,
                 const float *v, int T, int S, int C, int NH,
                 gboolean causal, const guint8 *key_pad,
                 const float *head_mask)
{
  /* ctx (T, C), att (NH, T, S), q (T, C), k (S, C), v (S, C) */
  attn_check (ctx != NULL && att != NULL && q != NULL && k != NULL
              && v != NULL);
  attn_check (T > 0 && S > 0 && C > 0 && NH > 0 && C % NH == 0);
  attn_check (!causal || S == T);
  g_autofree gint32 *keep = keep_from_pad (key_pad, 1, S);
  mha_attend_heads (ctx, att, q, k, v, T, S, C, NH, causal, keep, head_mask);
}

void
attn_mha_forward (float *out, AttnMhaActs *acts, const float *xq,
                  const float *xkv, const AttnMhaParams *params,
                  gboolean causal, const guint8 *key_pad,
                  const float *head_mask)
{
  /* out (B, T, C), xq (B, T, C), xkv (B, S, C) */
  mha_check_call (acts, xq, xkv, params, causal);
  attn_check (out != NULL && out != xq && out != xkv);
  const int B = acts->dims.B, T = acts->dims.T, S = acts->dims.S;
  const int C = acts->dims.C, NH = acts->dims.NH;

  /* One sgemm per projection over all B * T (or B * S) rows. */
  attn_linear_forward (acts->q, xq, params->wq, params->bq, B * T, C, C);
  attn_linear_forward (acts->k, xkv, params->wk, params->bk, B * S, C, C);
  attn_linear_forward (acts->v, xkv, params->wv, params->bv, B * S, C, C);

  g_autofree gint32 *keep = keep_from_pad (key_pad, B, S);
  for (int b = 0; b < B; b++)
    mha_attend_heads (acts->ctx + (gsize) b * T * C,
                      acts->att + (gsize) b * NH * T * S,
                      acts->q + (gsize) b * T * C,
                      acts->k + (gsize) b * S * C,
                      acts->v + (gsize) b * S * C, T, S, C, NH, causal,
                      keep != NULL ? keep + (gsize) b * S : NULL, head_mask);

  attn_linear_forward (out, acts->ctx, params->wo, params->bo, B * T, C, C);
}

void
attn_mha_forward_ref (float *out, AttnMhaActs *acts, const float *xq,
                      const float *xkv, const AttnMhaParams *params,
                      gboolean causal, const guint8 *key_pad,
                      const float *head_mask)
{
  /* out (B, T, C), xq (B, T, C), xkv (B, S, C) */
  mha_check_call (acts, xq, xkv, params, causal);
  attn_check (out != NULL && out != xq && out != xkv);
  const int B = acts->dims.B, T = acts->dims.T, S = acts->dims.S;
  const int C = acts->dims.C, NH = acts->dims.NH, HS = C / NH;

  attn_linear_forward_ref (acts->q, xq, params->wq, params->bq, B * T, C, C);
  attn_linear_forward_ref (acts->k, xkv, params->wk, params->bk, B * S, C, C);
  attn_linear_forward_ref (acts->v, xkv, params->wv, params->bv, B * S, C, C);

  g_autofree double *row = g_new (double, S); /* (S) */
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++)
        {
          const float *q = acts->q + ((gsize) b * T + t) * C + h * HS;
          float *att = acts->att + (((gsize) b * NH + h) * T + t) * S;
          double maxv = -INFINITY;
          for (int s = 0; s < S; s++)
            {
              gboolean masked = (causal && s > t)
                                || (key_pad != NULL
                                    && key_pad[(gsize) b * S + s]);
              if (masked)
                {
                  row[s] = -INFINITY;
                  continue;
                }
              const float *k = acts->k + ((gsize) b * S + s) * C + h * HS;
              double dot = 0.0;
              for (int i = 0; i < HS; i++)
                dot += (double) q[i] * k[i];
              row[s] = dot / sqrt ((double) HS);
              maxv = MAX (maxv, row[s]);
            }
          double sum = 0.0;
          for (int s = 0; s < S; s++)
            {
              row[s] = row[s] == -INFINITY ? 0.0 : exp (row[s] - maxv);
              sum += row[s];
            }
          for (int s = 0; s < S; s++)
            att[s] = sum > 0.0 ? (float) (row[s] / sum) : 0.0f;

          const double hm = head_mask != NULL ? head_mask[h] : 1.0;
          float *ctx = acts->ctx + ((gsize) b * T + t) * C + h * HS;
          for (int i = 0; i < HS; i++)
            {
              double acc = 0.0;
              for (int s = 0; s < S; s++)
                acc += (double) att[s]
                       * acts->v[((gsize) b * S + s) * C + h * HS + i];
              ctx[i] = (float) (hm * acc);
            }
        }

  attn_linear_forward_ref (out, acts->ctx, params->wo, params->bo, B * T, C,
                           C);
}

static const AttnMhaParams no_mha_grads;

gsize
attn_mha_backward_scratch_size (const AttnMhaDims *dims)
{
  mha_check_dims (dims);
  const gsize nq = (gsize) dims->B * dims->T * dims->C;
  const gsize nkv = (gsize) dims->B * dims->S * dims->C;
  return 2 * nq + 2 * nkv + (gsize) dims->T * dims->S;
}

void
attn_mha_backward (float *dxq, float *dxkv, AttnMhaParams *grads,
                   const float *dout, const AttnMhaActs *acts,
                   const float *xq, const float *xkv,
                   const AttnMhaParams *params, const float *head_mask)
{
  g_autofree float *scratch = scratch_new (
    attn_mha_backward_scratch_size (&acts->dims));
  attn_mha_backward_ws (scratch, dxq, dxkv, grads, dout, acts, xq, xkv,
                        params, head_mask);
}

void
attn_mha_backward_ws (float *scratch, float *dxq, float *dxkv,
                      AttnMhaParams *grads, const float *dout,
                      const AttnMhaActs *acts, const float *xq,
                      const float *xkv, const AttnMhaParams *params,
                      const float *head_mask)
{
  /* dxq (B, T, C), dxkv (B, S, C), dout (B, T, C) */
  mha_check_call (acts, xq, xkv, params, FALSE);
  attn_check (dout != NULL && scratch != NULL);
  const AttnMhaParams *g = grads != NULL ? grads : &no_mha_grads;
  const int B = acts->dims.B, T = acts->dims.T, S = acts->dims.S;
  const int C = acts->dims.C, NH = acts->dims.NH, HS = C / NH;
  const float scale = 1.0f / sqrtf ((float) HS);
  const gsize nq = (gsize) B * T * C, nkv = (gsize) B * S * C;

  /* The gradients below accumulate, so they start at zero; datt is
   * overwritten per head. */
  memset (scratch, 0, (2 * nq + 2 * nkv) * sizeof (float));
  float *dctx = scratch;     /* (B, T, C) */
  float *dq = dctx + nq;     /* (B, T, C) */
  float *dk = dq + nq;       /* (B, S, C) */
  float *dv = dk + nkv;      /* (B, S, C) */
  float *datt = dv + nkv;    /* (T, S) */

  attn_linear_backward (dctx, g->wo, g->bo, dout, acts->ctx, params->wo,
                        B * T, C, C);

  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      {
        const gsize oq = (gsize) b * T * C + h * HS;
        const gsize okv = (gsize) b * S * C + h * HS;
        const float *att = acts->att + ((gsize) b * NH + h) * T * S;
        const float hm = head_mask != NULL ? head_mask[h] : 1.0f;

        /* ctx_h = hm att v_h: datt (T, S) = hm dctx_h v_h^T,
         * dv_h (S, HS) += hm att^T dctx_h. */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, S, HS, hm,
                     dctx + oq, C, acts->v + okv, C, 0.0f, datt, S);
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, S, HS, T, hm,
                     att, S, dctx + oq, C, 1.0f, dv + okv, C);

        /* Through the softmax, in place: dscores = att (datt - <datt, att>).
         * Masked entries have att = 0 and so get no gradient. */
        for (int t = 0; t < T; t++)
          {
            float *dr = datt + (gsize) t * S;
            const float *ar = att + (gsize) t * S;
            double dot = 0.0;
            for (int s = 0; s < S; s++)
              dot += (double) dr[s] * ar[s];
            for (int s = 0; s < S; s++)
              dr[s] = ar[s] * (dr[s] - (float) dot);
          }

        /* scores = scale q_h k_h^T */
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, HS, S,
                     scale, datt, S, acts->k + okv, C, 1.0f, dq + oq, C);
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, S, HS, T,
                     scale, datt, S, acts->q + oq, C, 1.0f, dk + okv, C);
      }

  attn_linear_backward (dxq, g->wq, g->bq, dq, xq, params->wq, B * T, C, C);
  attn_linear_backward (dxkv, g->wk, g->bk, dk, xkv, params->wk, B * S, C, C);
  attn_linear_backward (dxkv, g->wv, g->bv, dv, xkv, params->wv, B * S, C, C);
}

/* ==== 2. single-head scores ============================================== */

static void
score_check_dims (const AttnScoreDims *d)
{
  attn_check (d->Tq > 0 && d->S > 0 && d->Dq > 0 && d->Dk > 0);
  switch (d->kind)
    {
    case ATTN_SCORE_ADDITIVE:
    case ATTN_SCORE_CONCAT:
      attn_check (d->A > 0);
      break;
    case ATTN_SCORE_DOT:
      attn_check (d->Dq == d->Dk);
      break;
    case ATTN_SCORE_GENERAL:
      break;
    default:
      attn_check (!"unknown AttnScoreKind");
    }
}

static gboolean
score_has_hidden (AttnScoreKind kind)
{
  return kind == ATTN_SCORE_ADDITIVE || kind == ATTN_SCORE_CONCAT;
}

AttnScoreActs *
attn_score_acts_new (const AttnScoreDims *dims, GError **error)
{
  score_check_dims (dims);
  const gsize Tq = dims->Tq, S = dims->S;
  const gboolean hidden = score_has_hidden (dims->kind);
  const gsize A = hidden ? dims->A : 0;
  const gsize pk_width = hidden ? A
                         : dims->kind == ATTN_SCORE_GENERAL ? (gsize) dims->Dq : 0;
  const AttnTensorSpec specs[] = {
    { "pq", 2, { Tq, A } },
    { "pk", 2, { S, pk_width } },
    { "hid", 3, { Tq, S, A } },
    { "scores", 2, { Tq, S } },
    { "att", 2, { Tq, S } },
  };
  AttnTensorBlock *block =
    attn_tensor_block_new (specs, G_N_ELEMENTS (specs), error);
  if (block == NULL)
    return NULL;
  AttnScoreActs *acts = g_new0 (AttnScoreActs, 1);
  acts->dims = *dims;
  acts->block = block;
  acts->pq = hidden ? block->tensors[0].data : NULL;
  acts->pk = pk_width > 0 ? block->tensors[1].data : NULL;
  acts->hid = hidden ? block->tensors[2].data : NULL;
  acts->scores = block->tensors[3].data;
  acts->att = block->tensors[4].data;
  return acts;
}

void
attn_score_acts_free (AttnScoreActs *acts)
{
  if (acts == NULL)
    return;
  attn_tensor_block_free (acts->block);
  g_free (acts);
}

/* The weights of the additive family as two (possibly strided) halves.
 *
 * Bahdanau's additive score v^T tanh (W_q q + W_k k + b) and Luong's concat
 * score v^T tanh (W_c [q; k]) are the same computation: W_c [q; k] =
 * W_c[:, :Dq] q + W_c[:, Dq:] k, so concat is additive with W_q and W_k the
 * two column blocks of W_c (leading dimension Dq + Dk) and no bias. One
 * implementation serves both; only where the weights live differs. */
typedef struct {
  float *w_q; /* (A, Dq), leading dimension ld_q */
  float *w_k; /* (A, Dk), leading dimension ld_k */
  float *b;   /* (A) or NULL */
  int ld_q, ld_k;
} AdditiveView;

static AdditiveView
additive_view (const AttnScoreDims *d, const AttnScoreParams *p)
{
  if (d->kind == ATTN_SCORE_CONCAT)
    {
      attn_check (p->w_c != NULL && p->v != NULL);
      return (AdditiveView){ p->w_c, p->w_c + d->Dq, NULL, d->Dq + d->Dk,
                             d->Dq + d->Dk };
    }
  attn_check (p->w_q != NULL && p->w_k != NULL && p->v != NULL);
  return (AdditiveView){ p->w_q, p->w_k, p->b, d->Dq, d->Dk };
}

/* Same view onto a gradient struct; members may be NULL. */
static AdditiveView
additive_grad_view (const AttnScoreDims *d, const AttnScoreParams *g)
{
  if (d->kind == ATTN_SCORE_CONCAT)
    return (AdditiveView){ g->w_c, g->w_c != NULL ? g->w_c + d->Dq : NULL,
                           NULL, d->Dq + d->Dk, d->Dq + d->Dk };
  return (AdditiveView){ g->w_q, g->w_k, g->b, d->Dq, d->Dk };
}

/* acts->scores (Tq, S) = score (queries (Tq, Dq), keys (S, Dk)). */
static void
score_forward (AttnScoreActs *acts, const float *queries, const float *keys,
               const AttnScoreParams *p)
{
  const AttnScoreDims *d = &acts->dims;
  const int Tq = d->Tq, S = d->S, Dq = d->Dq, Dk = d->Dk, A = d->A;

  switch (d->kind)
    {
    case ATTN_SCORE_DOT:
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, Tq, S, Dk, 1.0f,
                   queries, Dq, keys, Dk, 0.0f, acts->scores, S);
      break;

    case ATTN_SCORE_GENERAL:
      attn_check (p->w != NULL);
      /* q^T W k = q . (W k): pk (S, Dq) = keys W^T, then q pk^T. */
      attn_linear_forward (acts->pk, keys, p->w, NULL, S, Dk, Dq);
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, Tq, S, Dq, 1.0f,
                   queries, Dq, acts->pk, Dq, 0.0f, acts->scores, S);
      break;

    case ATTN_SCORE_ADDITIVE:
    case ATTN_SCORE_CONCAT:
      {
        AdditiveView w = additive_view (d, p);
        /* attn_linear_forward wants contiguous weights; the concat halves
         * are strided views, hence sgemm with ld. */
        float beta = 0.0f;
        if (w.b != NULL)
          {
            for (int t = 0; t < Tq; t++)
              memcpy (acts->pq + (gsize) t * A, w.b, (gsize) A * sizeof (float));
            beta = 1.0f;
          }
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, Tq, A, Dq, 1.0f,
                     queries, Dq, w.w_q, w.ld_q, beta, acts->pq, A);
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, S, A, Dk, 1.0f,
                     keys, Dk, w.w_k, w.ld_k, 0.0f, acts->pk, A);

        const gsize n = (gsize) Tq * S * A;
        g_autofree float *pre = scratch_new (n); /* (Tq, S, A) */
        for (int t = 0; t < Tq; t++)
          for (int s = 0; s < S; s++)
            {
              float *row = pre + ((gsize) t * S + s) * A;
              const float *a = acts->pq + (gsize) t * A;
              const float *c = acts->pk + (gsize) s * A;
              for (int i = 0; i < A; i++)
                row[i] = a[i] + c[i];
            }
        attn_tanh_forward (acts->hid, pre, n);
        /* scores (Tq * S) = hid (Tq * S, A) @ v (A) */
        cblas_sgemv (CblasRowMajor, CblasNoTrans, Tq * S, A, 1.0f, acts->hid,
                     A, p->v, 1, 0.0f, acts->scores, 1);
        break;
      }
    }
}

/* From dscores (Tq, S): dqueries +=, dkeys +=, grads +=. */
static void
score_backward (float *dqueries, float *dkeys, const AttnScoreParams *g,
                const float *dscores, const AttnScoreActs *acts,
                const float *queries, const float *keys,
                const AttnScoreParams *p)
{
  const AttnScoreDims *d = &acts->dims;
  const int Tq = d->Tq, S = d->S, Dq = d->Dq, Dk = d->Dk, A = d->A;

  switch (d->kind)
    {
    case ATTN_SCORE_DOT:
      if (dqueries != NULL)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dq, S,
                     1.0f, dscores, S, keys, Dk, 1.0f, dqueries, Dq);
      if (dkeys != NULL)
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, S, Dk, Tq, 1.0f,
                     dscores, S, queries, Dq, 1.0f, dkeys, Dk);
      break;

    case ATTN_SCORE_GENERAL:
      {
        if (dqueries != NULL)
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dq, S,
                       1.0f, dscores, S, acts->pk, Dq, 1.0f, dqueries, Dq);
        g_autofree float *dpk = scratch_new ((gsize) S * Dq); /* (S, Dq) */
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, S, Dq, Tq, 1.0f,
                     dscores, S, queries, Dq, 0.0f, dpk, Dq);
        attn_linear_backward (dkeys, g->w, NULL, dpk, keys, p->w, S, Dk, Dq);
        break;
      }

    case ATTN_SCORE_ADDITIVE:
    case ATTN_SCORE_CONCAT:
      {
        AdditiveView w = additive_view (d, p);
        AdditiveView gw = additive_grad_view (d, g);
        const gsize n = (gsize) Tq * S * A;

        /* dv (A) += hid^T (A, Tq * S) @ dscores (Tq * S) */
        if (g->v != NULL)
          cblas_sgemv (CblasRowMajor, CblasTrans, Tq * S, A, 1.0f, acts->hid,
                       A, dscores, 1, 1.0f, g->v, 1);

        g_autofree float *dhid = scratch_new (n); /* (Tq, S, A) */
        g_autofree float *dpre = scratch_new (n); /* (Tq, S, A) */
        for (gsize ts = 0; ts < (gsize) Tq * S; ts++)
          for (int i = 0; i < A; i++)
            dhid[ts * A + i] = dscores[ts] * p->v[i];
        attn_tanh_backward (dpre, dhid, acts->hid, n);

        /* pre[t, s] = pq[t] + pk[s]: sum dpre over s for dpq, over t for
         * dpk. */
        g_autofree float *dpq = scratch_new ((gsize) Tq * A); /* (Tq, A) */
        g_autofree float *dpk = scratch_new ((gsize) S * A);  /* (S, A) */
        for (int t = 0; t < Tq; t++)
          for (int s = 0; s < S; s++)
            {
              const float *row = dpre + ((gsize) t * S + s) * A;
              for (int i = 0; i < A; i++)
                {
                  dpq[(gsize) t * A + i] += row[i];
                  dpk[(gsize) s * A + i] += row[i];
                }
            }

        if (gw.b != NULL)
          for (int t = 0; t < Tq; t++)
            for (int i = 0; i < A; i++)
              gw.b[i] += dpq[(gsize) t * A + i];
        if (dqueries != NULL)
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dq, A,
                       1.0f, dpq, A, w.w_q, w.ld_q, 1.0f, dqueries, Dq);
        if (gw.w_q != NULL)
          cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, A, Dq, Tq,
                       1.0f, dpq, A, queries, Dq, 1.0f, gw.w_q,
                       gw.ld_q);
        if (dkeys != NULL)
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, S, Dk, A,
                       1.0f, dpk, A, w.w_k, w.ld_k, 1.0f, dkeys, Dk);
        if (gw.w_k != NULL)
          cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, A, Dk, S, 1.0f,
                       dpk, A, keys, Dk, 1.0f, gw.w_k, gw.ld_k);
        break;
      }
    }
}

static const AttnScoreParams no_score_grads;

void
attn_score_attention_forward (float *ctx, AttnScoreActs *acts,
                              const float *queries, const float *keys,
                              const AttnScoreParams *params,
                              const guint8 *key_pad)
{
  /* ctx (Tq, Dk), queries (Tq, Dq), keys (S, Dk), key_pad (S) */
  const AttnScoreDims *d = &acts->dims;
  score_check_dims (d);
  attn_check (ctx != NULL && queries != NULL && keys != NULL);
  attn_check (params != NULL);
  const int Tq = d->Tq, S = d->S, Dk = d->Dk;

  score_forward (acts, queries, keys, params);
  for (gsize i = 0; i < (gsize) Tq * S; i++)
    acts->att[i] = (key_pad != NULL && key_pad[i % S]) ? -INFINITY
                                                       : acts->scores[i];
  attn_softmax_forward (acts->att, acts->att, Tq, S);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dk, S, 1.0f,
               acts->att, S, keys, Dk, 0.0f, ctx, Dk);
}

void
attn_score_attention_backward (float *dqueries, float *dkeys,
                               AttnScoreParams *grads, const float *dctx,
                               const float *datt, const AttnScoreActs *acts,
                               const float *queries, const float *keys,
                               const AttnScoreParams *params)
{
  /* dqueries (Tq, Dq), dkeys (S, Dk), dctx (Tq, Dk), datt (Tq, S) */
  const AttnScoreDims *d = &acts->dims;
  score_check_dims (d);
  attn_check (dctx != NULL && queries != NULL && keys != NULL);
  const int Tq = d->Tq, S = d->S, Dk = d->Dk;
  const gsize n = (gsize) Tq * S;

  /* ctx = att keys: datt_all (Tq, S) = dctx keys^T (+ datt),
   * dkeys += att^T dctx. */
  g_autofree float *datt_all = scratch_new (n); /* (Tq, S) */
  if (datt != NULL)
    memcpy (datt_all, datt, n * sizeof (float));
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, Tq, S, Dk, 1.0f, dctx,
               Dk, keys, Dk, 1.0f, datt_all, S);
  if (dkeys != NULL)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, S, Dk, Tq, 1.0f,
                 acts->att, S, dctx, Dk, 1.0f, dkeys, Dk);

  g_autofree float *dscores = scratch_new (n); /* (Tq, S) */
  attn_softmax_backward (dscores, datt_all, acts->att, Tq, S);
  score_backward (dqueries, dkeys, grads != NULL ? grads : &no_score_grads,
                  dscores, acts, queries, keys, params);
}

/* ==== 3. local-p ========================================================= */

AttnLocalActs *
attn_local_acts_new (const AttnLocalDims *dims, GError **error)
{
  score_check_dims (&dims->score);
  attn_check (dims->Ap > 0 && dims->D >= 1);
  const gsize Tq = dims->score.Tq, S = dims->score.S, Ap = dims->Ap;
  const AttnTensorSpec specs[] = {
    { "hp", 2, { Tq, Ap } },
    { "sig", 1, { Tq } },
    { "p", 1, { Tq } },
    { "att", 2, { Tq, S } },
  };
  g_autoptr (AttnScoreActs) score = attn_score_acts_new (&dims->score, error);
  if (score == NULL)
    return NULL;
  AttnTensorBlock *block =
    attn_tensor_block_new (specs, G_N_ELEMENTS (specs), error);
  if (block == NULL)
    return NULL;
  AttnLocalActs *acts = g_new0 (AttnLocalActs, 1);
  acts->dims = *dims;
  acts->score = g_steal_pointer (&score);
  acts->block = block;
  acts->hp = block->tensors[0].data;
  acts->sig = block->tensors[1].data;
  acts->p = block->tensors[2].data;
  acts->att = block->tensors[3].data;
  return acts;
}

void
attn_local_acts_free (AttnLocalActs *acts)
{
  if (acts == NULL)
    return;
  attn_score_acts_free (acts->score);
  attn_tensor_block_free (acts->block);
  g_free (acts);
}

void
attn_local_window (float p, int D, int S, int *lo, int *hi)
{
  /* Integers s with p - D <= s <= p + D, in float as forward computes p. */
  if (!isfinite (p))
    {
      /* Weights that overflowed made p NaN, which no int can hold: an
       * empty window, whose NaN output the decoder reports. */
      *lo = 0;
      *hi = -1;
      return;
    }
  *lo = MAX ((int) ceilf (p - (float) D), 0);
  *hi = MIN ((int) floorf (p + (float) D), S - 1);
}

/* exp (-(s - p)^2 / (2 sigma^2)) */
static double
local_gauss (int s, double p, double sigma)
{
  double z = (s - p) / sigma;
  return exp (-0.5 * z * z);
}

void
attn_local_forward (float *ctx, AttnLocalActs *acts, const float *queries,
                    const float *keys, const AttnLocalParams *params,
                    const guint8 *key_pad)
{
  /* ctx (Tq, Dk), queries (Tq, Dq), keys (S, Dk), key_pad (S) */
  const AttnLocalDims *d = &acts->dims;
  const int Tq = d->score.Tq, S = d->score.S, Dq = d->score.Dq;
  const int Dk = d->score.Dk, Ap = d->Ap, D = d->D;
  const double sigma = D / 2.0;
  attn_check (ctx != NULL && queries != NULL && keys != NULL);
  attn_check (params != NULL && params->w_p != NULL && params->v_p != NULL);

  /* p_t = S sigmoid (v_p^T tanh (W_p h_t)) */
  g_autofree float *zp = scratch_new ((gsize) Tq * Ap); /* (Tq, Ap) */
  g_autofree float *e = scratch_new (Tq);               /* (Tq) */
  attn_linear_forward (zp, queries, params->w_p, NULL, Tq, Dq, Ap);
  attn_tanh_forward (acts->hp, zp, (gsize) Tq * Ap);
  cblas_sgemv (CblasRowMajor, CblasNoTrans, Tq, Ap, 1.0f, acts->hp, Ap,
               params->v_p, 1, 0.0f, e, 1);
  attn_sigmoid_forward (acts->sig, e, Tq);
  for (int t = 0; t < Tq; t++)
    acts->p[t] = (float) S * acts->sig[t];

  /* align = softmax of the score within the window (and not padding). */
  AttnScoreActs *sa = acts->score;
  score_forward (sa, queries, keys, &params->score);
  for (int t = 0; t < Tq; t++)
    {
      int lo, hi;
      attn_local_window (acts->p[t], D, S, &lo, &hi);
      for (int s = 0; s < S; s++)
        {
          gboolean in = s >= lo && s <= hi
                        && !(key_pad != NULL && key_pad[s]);
          gsize i = (gsize) t * S + s;
          sa->att[i] = in ? sa->scores[i] : -INFINITY;
        }
    }
  attn_softmax_forward (sa->att, sa->att, Tq, S);

  /* a_t (s) = align * Gaussian, deliberately not renormalised (Luong et al.
   * 2015, eq. 10). Outside the window align is exactly 0, so a is too. */
  for (int t = 0; t < Tq; t++)
    for (int s = 0; s < S; s++)
      {
        gsize i = (gsize) t * S + s;
        acts->att[i] = sa->att[i] == 0.0f
                         ? 0.0f
                         : (float) (sa->att[i]
                                    * local_gauss (s, acts->p[t], sigma));
      }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, Tq, Dk, S, 1.0f,
               acts->att, S, keys, Dk, 0.0f, ctx, Dk);
}

static const AttnLocalParams no_local_grads;

void
attn_local_backward (float *dqueries, float *dkeys, AttnLocalParams *grads,
                     const float *dctx, const float *datt,
                     const AttnLocalActs *acts, const float *queries,
                     const float *keys, const AttnLocalParams *params)
{
  /* dqueries (Tq, Dq), dkeys (S, Dk), dctx (Tq, Dk), datt (Tq, S) */
  const AttnLocalDims *d = &acts->dims;
  const int Tq = d->score.Tq, S = d->score.S, Dq = d->score.Dq;
  const int Dk = d->score.Dk, Ap = d->Ap, D = d->D;
  const double sigma = D / 2.0;
  const AttnLocalParams *g = grads != NULL ? grads : &no_local_grads;
  const AttnScoreActs *sa = acts->score;
  const gsize n = (gsize) Tq * S;
  attn_check (dctx != NULL && queries != NULL && keys != NULL);

  /* ctx = a keys */
  g_autofree float *da = scratch_new (n); /* (Tq, S) */
  if (datt != NULL)
    memcpy (da, datt, n * sizeof (float));
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, Tq, S, Dk, 1.0f, dctx,
               Dk, keys, Dk, 1.0f, da, S);
  if (dkeys != NULL)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, S, Dk, Tq, 1.0f,
                 acts->att, S, dctx, Dk, 1.0f, dkeys, Dk);

  /* a = align g (s, p): dalign = da g; dp = sum_s da align g (s - p) /
   * sigma^2, over the window (elsewhere align = 0 and the window is held
   * fixed). */
  g_autofree float *dalign = scratch_new (n); /* (Tq, S) */
  g_autofree float *dp = scratch_new (Tq);    /* (Tq) */
  for (int t = 0; t < Tq; t++)
    {
      double acc = 0.0;
      for (int s = 0; s < S; s++)
        {
          gsize i = (gsize) t * S + s;
          if (sa->att[i] == 0.0f)
            continue;
          double gs = local_gauss (s, acts->p[t], sigma);
          dalign[i] = (float) (da[i] * gs);
          acc += da[i] * sa->att[i] * gs * (s - acts->p[t]) / (sigma * sigma);
        }
      dp[t] = (float) acc;
    }

  g_autofree float *dscores = scratch_new (n); /* (Tq, S) */
  attn_softmax_backward (dscores, dalign, sa->att, Tq, S);
  score_backward (dqueries, dkeys, &g->score, dscores, sa, queries, keys,
                  &params->score);

  /* p = S sig, sig = sigmoid (e), e = v_p . hp, hp = tanh (W_p h) */
  g_autofree float *dsig = scratch_new (Tq); /* (Tq) */
  g_autofree float *de = scratch_new (Tq);   /* (Tq) */
  for (int t = 0; t < Tq; t++)
    dsig[t] = (float) S * dp[t];
  attn_sigmoid_backward (de, dsig, acts->sig, Tq);
  if (g->v_p != NULL)
    cblas_sgemv (CblasRowMajor, CblasTrans, Tq, Ap, 1.0f, acts->hp, Ap, de, 1,
                 1.0f, g->v_p, 1);
  g_autofree float *dhp = scratch_new ((gsize) Tq * Ap); /* (Tq, Ap) */
  g_autofree float *dzp = scratch_new ((gsize) Tq * Ap); /* (Tq, Ap) */
  for (int t = 0; t < Tq; t++)
    for (int i = 0; i < Ap; i++)
      dhp[(gsize) t * Ap + i] = de[t] * params->v_p[i];
  attn_tanh_backward (dzp, dhp, acts->hp, (gsize) Tq * Ap);
  attn_linear_backward (dqueries, g->w_p, NULL, dzp, queries, params->w_p, Tq,
                        Dq, Ap);
}
