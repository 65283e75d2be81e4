/* attn-kernels.c: the numeric kernels (see attn-kernels.h for contracts). */
#include "core/attn-kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/attn-check.h"

/* Element-wise loops that GCC 12 leaves scalar at -O2 (its -O2 does not
 * turn on -ftree-vectorize): vectorising them changes no result (each
 * element is computed by the same IEEE operations), and they are a tenth
 * of a Transformer training step when scalar. */
#define ATTN_VECTORIZE __attribute__ ((optimize ("tree-vectorize")))

/* ---- linear ------------------------------------------------------------ */

void
attn_linear_forward (float *out, const float *inp, const float *weight,
                     const float *bias, int N, int C, int OC)
{
  /* out (N, OC), inp (N, C), weight (OC, C), bias (OC) */
  attn_check (out != NULL && inp != NULL && weight != NULL);
  attn_check (N > 0 && C > 0 && OC > 0);

  float beta = 0.0f;
  if (bias != NULL)
    {
      /* Seed every row with the bias and let sgemm add the product on top. */
      for (int n = 0; n < N; n++)
        memcpy (out + (gsize) n * OC, bias, (gsize) OC * sizeof (float));
      beta = 1.0f;
    }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, inp,
               C, weight, C, beta, out, OC);
}

void
attn_linear_forward_ref (float *out, const float *inp, const float *weight,
                         const float *bias, int N, int C, int OC)
{
  /* out (N, OC), inp (N, C), weight (OC, C), bias (OC) */
  attn_check (out != NULL && inp != NULL && weight != NULL);
  attn_check (N > 0 && C > 0 && OC > 0);

  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++)
      {
        /* Double accumulation: the reference should be the more exact one. */
        double acc = bias != NULL ? bias[o] : 0.0;
        for (int c = 0; c < C; c++)
          acc += (double) inp[(gsize) n * C + c] * weight[(gsize) o * C + c];
        out[(gsize) n * OC + o] = (float) acc;
      }
}

static void
bias_backward (float *dbias, const float *dout, int N, int OC)
{
  /* dbias (OC) += column sums of dout (N, OC) */
  for (int n = 0; n < N; n++)
    {
      const float *row = dout + (gsize) n * OC;
      for (int o = 0; o < OC; o++)
        dbias[o] += row[o];
    }
}

void
attn_linear_backward (float *dinp, float *dweight, float *dbias,
                      const float *dout, const float *inp, const float *weight,
                      int N, int C, int OC)
{
  /* dinp (N, C), dweight (OC, C), dbias (OC), dout (N, OC), inp (N, C),
   * weight (OC, C) */
  attn_check (dout != NULL);
  attn_check (N > 0 && C > 0 && OC > 0);

  if (dinp != NULL)
    {
      attn_check (weight != NULL);
      /* dinp (N, C) += dout (N, OC) @ weight (OC, C) */
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, C, OC, 1.0f,
                   dout, OC, weight, C, 1.0f, dinp, C);
    }
  if (dweight != NULL)
    {
      attn_check (inp != NULL);
      /* dweight (OC, C) += dout^T (OC, N) @ inp (N, C) */
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, N, 1.0f,
                   dout, OC, inp, C, 1.0f, dweight, C);
    }
  if (dbias != NULL)
    bias_backward (dbias, dout, N, OC);
}

void
attn_linear_backward_ref (float *dinp, float *dweight, float *dbias,
                          const float *dout, const float *inp,
                          const float *weight, int N, int C, int OC)
{
  /* dinp (N, C), dweight (OC, C), dbias (OC), dout (N, OC), inp (N, C),
   * weight (OC, C) */
  attn_check (dout != NULL);
  attn_check (N > 0 && C > 0 && OC > 0);

  if (dinp != NULL)
    {
      attn_check (weight != NULL);
      for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
          {
            double acc = 0.0;
            for (int o = 0; o < OC; o++)
              acc += (double) dout[(gsize) n * OC + o]
                     * weight[(gsize) o * C + c];
            dinp[(gsize) n * C + c] += (float) acc;
          }
    }
  if (dweight != NULL)
    {
      attn_check (inp != NULL);
      for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++)
          {
            double acc = 0.0;
            for (int n = 0; n < N; n++)
              acc += (double) dout[(gsize) n * OC + o]
                     * inp[(gsize) n * C + c];
            dweight[(gsize) o * C + c] += (float) acc;
          }
    }
  if (dbias != NULL)
    for (int o = 0; o < OC; o++)
      {
        double acc = 0.0;
        for (int n = 0; n < N; n++)
          acc += dout[(gsize) n * OC + o];
        dbias[o] += (float) acc;
      }
}

/* ---- softmax ----------------------------------------------------------- */

void
attn_softmax_forward (float *out, const float *inp, int N, int C)
{
  /* out (N, C), inp (N, C); may alias exactly */
  attn_check (out != NULL && inp != NULL);
  attn_check (N > 0 && C > 0);

  for (int n = 0; n < N; n++)
    {
      const float *x = inp + (gsize) n * C;
      float *y = out + (gsize) n * C;
      float maxv = -INFINITY;
      for (int c = 0; c < C; c++)
        maxv = fmaxf (maxv, x[c]);
      if (maxv == -INFINITY)
        {
          /* Fully masked row: nothing to attend to, so no weight at all
           * rather than the NaN of 0 / 0. */
          memset (y, 0, (gsize) C * sizeof (float));
          continue;
        }
      /* Each x[c] is read before y[c] is written, so out == inp is safe;
       * expf (-INFINITY - maxv) is exactly 0. The sum is kept in double so
       * that a long row still sums to 1 within float rounding. */
      double sum = 0.0;
      for (int c = 0; c < C; c++)
        {
          y[c] = expf (x[c] - maxv);
          sum += y[c];
        }
      for (int c = 0; c < C; c++)
        y[c] = (float) (y[c] / sum);
    }
}

void
attn_softmax_backward (float *dinp, const float *dout, const float *out,
                       int N, int C)
{
  /* dinp (N, C), dout (N, C), out (N, C) */
  attn_check (dinp != NULL && dout != NULL && out != NULL);
  attn_check (N > 0 && C > 0);

  for (int n = 0; n < N; n++)
    {
      const float *g = dout + (gsize) n * C;
      const float *y = out + (gsize) n * C;
      float *dx = dinp + (gsize) n * C;
      double dot = 0.0;
      for (int c = 0; c < C; c++)
        dot += (double) g[c] * y[c];
      for (int c = 0; c < C; c++)
        dx[c] += (float) (y[c] * (g[c] - dot));
    }
}

/* ---- embedding --------------------------------------------------------- */

void
attn_embedding_forward (float *out, const int *ids, const float *table, int N,
                        int V, int C)
{
  /* out (N, C), ids (N), table (V, C) */
  attn_check (out != NULL && ids != NULL && table != NULL);
  attn_check (N > 0 && V > 0 && C > 0);

  for (int n = 0; n < N; n++)
    {
      attn_check (ids[n] >= 0 && ids[n] < V);
      memcpy (out + (gsize) n * C, table + (gsize) ids[n] * C,
              (gsize) C * sizeof (float));
    }
}

void
attn_embedding_backward (float *dtable, const float *dout, const int *ids,
                         int N, int V, int C)
{
  /* dtable (V, C), dout (N, C), ids (N) */
  attn_check (dtable != NULL && dout != NULL && ids != NULL);
  attn_check (N > 0 && V > 0 && C > 0);

  for (int n = 0; n < N; n++)
    {
      attn_check (ids[n] >= 0 && ids[n] < V);
      float *row = dtable + (gsize) ids[n] * C;
      const float *g = dout + (gsize) n * C;
      for (int c = 0; c < C; c++)
        row[c] += g[c];
    }
}

/* ---- layer norm -------------------------------------------------------- */

void
attn_layernorm_forward (float *out, float *mean, float *rstd, const float *inp,
                        const float *weight, const float *bias, int N, int C,
                        float eps)
{
  /* out (N, C), mean (N), rstd (N), inp (N, C), weight (C), bias (C) */
  attn_check (out != NULL && inp != NULL && weight != NULL && bias != NULL);
  attn_check (N > 0 && C > 0);
  attn_check (eps >= 0.0f);

  for (int n = 0; n < N; n++)
    {
      const float *x = inp + (gsize) n * C;
      float *y = out + (gsize) n * C;
      /* Two passes in double: a one-pass E[x^2] - E[x]^2 cancels badly for
       * rows with a large mean. */
      double m = 0.0;
      for (int c = 0; c < C; c++)
        m += x[c];
      m /= C;
      double v = 0.0;
      for (int c = 0; c < C; c++)
        v += ((double) x[c] - m) * ((double) x[c] - m);
      v /= C;
      float s = (float) (1.0 / sqrt (v + eps));
      float mf = (float) m;
      for (int c = 0; c < C; c++)
        y[c] = (x[c] - mf) * s * weight[c] + bias[c];
      if (mean != NULL)
        mean[n] = mf;
      if (rstd != NULL)
        rstd[n] = s;
    }
}

void
attn_layernorm_backward (float *dinp, float *dweight, float *dbias,
                         const float *dout, const float *inp,
                         const float *weight, const float *mean,
                         const float *rstd, int N, int C)
{
  /* dinp (N, C), dweight (C), dbias (C), dout (N, C), inp (N, C),
   * weight (C), mean (N), rstd (N) */
  attn_check (dout != NULL && inp != NULL && mean != NULL && rstd != NULL);
  attn_check (N > 0 && C > 0);
  attn_check (dinp == NULL || weight != NULL);

  for (int n = 0; n < N; n++)
    {
      const float *x = inp + (gsize) n * C;
      const float *g = dout + (gsize) n * C;
      float m = mean[n], s = rstd[n];

      if (dweight != NULL || dbias != NULL)
        for (int c = 0; c < C; c++)
          {
            if (dweight != NULL)
              dweight[c] += (x[c] - m) * s * g[c];
            if (dbias != NULL)
              dbias[c] += g[c];
          }
      if (dinp == NULL)
        continue;

      /* With xhat = (x - mean) * rstd and dxhat = dout * weight:
       * dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)). */
      double sum_dxhat = 0.0, sum_dxhat_xhat = 0.0;
      for (int c = 0; c < C; c++)
        {
          float xhat = (x[c] - m) * s;
          float dxhat = g[c] * weight[c];
          sum_dxhat += dxhat;
          sum_dxhat_xhat += (double) dxhat * xhat;
        }
      float mean_dxhat = (float) (sum_dxhat / C);
      float mean_dxhat_xhat = (float) (sum_dxhat_xhat / C);
      float *dx = dinp + (gsize) n * C;
      for (int c = 0; c < C; c++)
        {
          float xhat = (x[c] - m) * s;
          float dxhat = g[c] * weight[c];
          dx[c] += s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        }
    }
}

/* ---- GELU -------------------------------------------------------------- */

#define GELU_K 0.7978845608028654f /* sqrt (2 / pi) */
#define GELU_C 0.044715f
#define INV_SQRT2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

/* The fast tanh-GELU is written with GCC vector extensions (also understood
 * by clang): four floats per operation on plain x86-64 SSE2, or NEON.
 * Auto-vectorisation was not enough: at -O2 gcc turns the clamps below into
 * branches, and then will not vectorise the loop at all. */
typedef float attn_v4sf __attribute__ ((vector_size (16)));
typedef gint32 attn_v4si __attribute__ ((vector_size (16)));

/* Lanes of a where mask is all ones, of b where it is zero. */
static inline attn_v4sf
select_v4sf (attn_v4si mask, attn_v4sf a, attn_v4sf b)
{
  return (attn_v4sf) ((mask & (attn_v4si) a) | (~mask & (attn_v4si) b));
}

/* exp (z) for z in [-87, 88] without libm. Cody-Waite reduction
 * z = n ln2 + r, |r| <= ln2 / 2; Cephes' minimax polynomial for exp (r)
 * (relative error about 1 ulp); 2^n built directly in the exponent bits,
 * which is why z must stay where 2^n is a normal float. */
static inline attn_v4sf
exp_approx_v4sf (attn_v4sf z)
{
  /* Round z / ln2 to nearest by adding and removing 1.5 * 2^23: exact for
   * |z / ln2| < 2^22, and cheaper than rintf. */
  const float magic = 12582912.0f;
  attn_v4sf nf = (z * 1.44269504088896341f + magic) - magic;
  attn_v4sf r = z - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  attn_v4sf p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  attn_v4si n = __builtin_convertvector (nf, attn_v4si);
  return p * (attn_v4sf) ((n + 127) << 23);
}

/* 0.5 x (1 + tanh (u)) = x / (1 + exp (-2u)), u = k (x + c x^3): one exp
 * and one division. Below x = -10 the true value is under 1e-37 in
 * magnitude, so x is clamped there, which also keeps -2u <= 87.3; for large
 * positive x, -2u is clamped at -87, where exp is still a normal float and
 * the quotient is x itself. NaN passes through (comparisons are false).
 *
 * Accuracy, measured on a dense sweep of [-20, 20] against the formula in
 * double (test /attn/kernels/gelu-fast/tanh): max |fast - exact| /
 * max (|exact|, 1) = 1.3e-7, against 1.2e-7 for the libm _ref, and at most
 * 2.3e-7 from the _ref. Relative to the output itself the fast form is the
 * more exact one for x < 0, where the _ref's 1 + tanh (u) cancels. */
static inline attn_v4sf
gelu_tanh_v4sf (attn_v4sf x)
{
  attn_v4sf lo = { -10.0f, -10.0f, -10.0f, -10.0f };
  attn_v4sf zmin = { -87.0f, -87.0f, -87.0f, -87.0f };
  attn_v4sf xc = select_v4sf (x < lo, lo, x);
  attn_v4sf z = (xc + xc * xc * xc * GELU_C) * (-2.0f * GELU_K);
  z = select_v4sf (z < zmin, zmin, z);
  return xc / (exp_approx_v4sf (z) + 1.0f);
}

void
attn_gelu_forward (float *out, const float *inp, gsize n, AttnGeluKind kind)
{
  /* out (n), inp (n) */
  attn_check (out != NULL && inp != NULL);
  attn_check (kind == ATTN_GELU_ERF || kind == ATTN_GELU_TANH);

  if (kind == ATTN_GELU_ERF)
    {
      /* erff is cheap enough here: GPT-2 and our own models use the tanh
       * form, the hot one. */
      attn_gelu_forward_ref (out, inp, n, kind);
      return;
    }
  /* Unaligned loads and stores through memcpy; each vector is loaded
   * before it is stored, so out == inp is fine. The tail goes through a
   * zero-padded vector. */
  attn_v4sf x, y;
  gsize i = 0;
  for (; i + 4 <= n; i += 4)
    {
      memcpy (&x, inp + i, sizeof x);
      y = gelu_tanh_v4sf (x);
      memcpy (out + i, &y, sizeof y);
    }
  if (i < n)
    {
      gsize rest = n - i;
      x = (attn_v4sf) { 0.0f, 0.0f, 0.0f, 0.0f };
      memcpy (&x, inp + i, rest * sizeof (float));
      y = gelu_tanh_v4sf (x);
      memcpy (out + i, &y, rest * sizeof (float));
    }
}

void
attn_gelu_forward_ref (float *out, const float *inp, gsize n,
                       AttnGeluKind kind)
{
  /* out (n), inp (n) */
  attn_check (out != NULL && inp != NULL);
  attn_check (kind == ATTN_GELU_ERF || kind == ATTN_GELU_TANH);

  for (gsize i = 0; i < n; i++)
    {
      float x = inp[i];
      if (kind == ATTN_GELU_ERF)
        out[i] = 0.5f * x * (1.0f + erff (x * INV_SQRT2));
      else
        out[i] = 0.5f * x
                 * (1.0f + tanhf (GELU_K * (x + GELU_C * x * x * x)));
    }
}

void
attn_gelu_backward (float *dinp, const float *dout, const float *inp, gsize n,
                    AttnGeluKind kind)
{
  /* dinp (n), dout (n), inp (n) */
  attn_check (dinp != NULL && dout != NULL && inp != NULL);
  attn_check (kind == ATTN_GELU_ERF || kind == ATTN_GELU_TANH);

  for (gsize i = 0; i < n; i++)
    {
      float x = inp[i];
      float d;
      if (kind == ATTN_GELU_ERF)
        {
          /* Phi (x) + x phi (x) */
          float cdf = 0.5f * (1.0f + erff (x * INV_SQRT2));
          float pdf = INV_SQRT_2PI * expf (-0.5f * x * x);
          d = cdf + x * pdf;
        }
      else
        {
          /* With s = sigmoid (2u) = 0.5 (1 + tanh u), and
           * 1 - tanh^2 u = 4 s (1 - s): d = s + 2 x s (1 - s) u'. Written
           * through s, neither 1 + tanh nor 1 - tanh^2 cancels for x < 0,
           * so small gradients keep their relative accuracy; 1 - s is
           * taken as e s when s > 1/2, where 1 - s itself would cancel. */
          float u = GELU_K * (x + GELU_C * x * x * x);
          float e = expf (-2.0f * u);
          float sg = 1.0f / (1.0f + e);
          float one_minus = e <= 1.0f ? e * sg : 1.0f - sg;
          d = sg
              + 2.0f * x * sg * one_minus * GELU_K
                  * (1.0f + 3.0f * GELU_C * x * x);
        }
      dinp[i] += d * dout[i];
    }
}

/* ---- ReLU, tanh, sigmoid ----------------------------------------------- */

ATTN_VECTORIZE void
attn_relu_forward (float *out, const float *inp, gsize n)
{
  /* out (n), inp (n) */
  attn_check (out != NULL && inp != NULL);
  /* ivdep: elements are independent (out == inp is fine), so GCC's -O2
   * vectoriser need not prove the pointers apart. */
#pragma GCC ivdep
  for (gsize i = 0; i < n; i++)
    out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

ATTN_VECTORIZE void
attn_relu_backward (float *dinp, const float *dout, const float *inp, gsize n)
{
  /* dinp (n), dout (n), inp (n); the subgradient at 0 is 0, as PyTorch. */
  attn_check (dinp != NULL && dout != NULL && inp != NULL);
  /* A select rather than a branch: signs are random, and it vectorises. */
#pragma GCC ivdep
  for (gsize i = 0; i < n; i++)
    {
      float g = dout[i], x = inp[i]; /* both loaded: no branch to vectorise */
      dinp[i] += x > 0.0f ? g : 0.0f;
    }
}

void
attn_tanh_forward (float *out, const float *inp, gsize n)
{
  /* out (n), inp (n) */
  attn_check (out != NULL && inp != NULL);
  for (gsize i = 0; i < n; i++)
    out[i] = tanhf (inp[i]);
}

void
attn_tanh_backward (float *dinp, const float *dout, const float *out, gsize n)
{
  /* dinp (n), dout (n), out (n) = tanh (inp) */
  attn_check (dinp != NULL && dout != NULL && out != NULL);
  for (gsize i = 0; i < n; i++)
    dinp[i] += dout[i] * (1.0f - out[i] * out[i]);
}

void
attn_sigmoid_forward (float *out, const float *inp, gsize n)
{
  /* out (n), inp (n) */
  attn_check (out != NULL && inp != NULL);
  /* expf (-x) overflows to +inf for x < -88, giving exactly 0: no NaN. */
  for (gsize i = 0; i < n; i++)
    out[i] = 1.0f / (1.0f + expf (-inp[i]));
}

void
attn_sigmoid_backward (float *dinp, const float *dout, const float *out,
                       gsize n)
{
  /* dinp (n), dout (n), out (n) = sigmoid (inp) */
  attn_check (dinp != NULL && dout != NULL && out != NULL);
  for (gsize i = 0; i < n; i++)
    dinp[i] += dout[i] * out[i] * (1.0f - out[i]);
}

/* ---- cross-entropy ----------------------------------------------------- */

float
attn_cross_entropy_forward (float *losses, float *probs, const float *logits,
                            const int *targets, int N, int V,
                            int ignore_index, int *n_counted)
{
  /* losses (N), probs (N, V), logits (N, V), targets (N) */
  attn_check (logits != NULL && targets != NULL);
  attn_check (N > 0 && V > 0);

  double total = 0.0;
  int counted = 0;
  for (int n = 0; n < N; n++)
    {
      const float *x = logits + (gsize) n * V;
      gboolean ignored = targets[n] == ignore_index;
      attn_check (ignored || (targets[n] >= 0 && targets[n] < V));

      float maxv = -INFINITY;
      for (int v = 0; v < V; v++)
        maxv = fmaxf (maxv, x[v]);
      /* log-sum-exp around the max: nothing overflows, and the loss is
       * computed from logits rather than from a rounded probability. */
      double sum = 0.0;
      for (int v = 0; v < V; v++)
        sum += expf (x[v] - maxv);
      if (probs != NULL)
        {
          float *p = probs + (gsize) n * V;
          for (int v = 0; v < V; v++)
            p[v] = (float) (expf (x[v] - maxv) / sum);
        }
      double loss = 0.0;
      if (!ignored)
        {
          loss = log (sum) + maxv - x[targets[n]];
          total += loss;
          counted++;
        }
      if (losses != NULL)
        losses[n] = (float) loss;
    }
  if (n_counted != NULL)
    *n_counted = counted;
  return counted > 0 ? (float) (total / counted) : 0.0f;
}

void
attn_cross_entropy_backward (float *dlogits, const float *probs,
                             const int *targets, float dloss, int N, int V,
                             int ignore_index)
{
  /* dlogits (N, V), probs (N, V), targets (N) */
  attn_check (dlogits != NULL && probs != NULL && targets != NULL);
  attn_check (N > 0 && V > 0);

  for (int n = 0; n < N; n++)
    {
      if (targets[n] == ignore_index)
        continue;
      attn_check (targets[n] >= 0 && targets[n] < V);
      const float *p = probs + (gsize) n * V;
      float *d = dlogits + (gsize) n * V;
      for (int v = 0; v < V; v++)
        d[v] += dloss * p[v];
      d[targets[n]] -= dloss;
    }
}

float
attn_cross_entropy_smoothed_forward (float *losses, float *probs,
                                     const float *logits, const int *targets,
                                     int N, int V, float eps,
                                     int ignore_index, int *n_counted)
{
  /* losses (N), probs (N, V), logits (N, V), targets (N) */
  attn_check (logits != NULL && targets != NULL);
  attn_check (N > 0 && V > 0);
  attn_check (eps >= 0.0f && eps < 1.0f);

  double total = 0.0;
  int counted = 0;
  for (int n = 0; n < N; n++)
    {
      const float *x = logits + (gsize) n * V;
      gboolean ignored = targets[n] == ignore_index;
      attn_check (ignored || (targets[n] >= 0 && targets[n] < V));

      float maxv = -INFINITY;
      for (int v = 0; v < V; v++)
        maxv = fmaxf (maxv, x[v]);
      double sum = 0.0, sum_x = 0.0;
      for (int v = 0; v < V; v++)
        {
          sum += expf (x[v] - maxv);
          sum_x += x[v];
        }
      if (probs != NULL)
        {
          float *p = probs + (gsize) n * V;
          for (int v = 0; v < V; v++)
            p[v] = (float) (expf (x[v] - maxv) / sum);
        }
      double loss = 0.0;
      if (!ignored)
        {
          /* -log p_v = lse - x_v, so the mean over v is lse - mean (x):
           * no log of a rounded probability anywhere. */
          double lse = log (sum) + maxv;
          loss = (1.0 - eps) * (lse - x[targets[n]]) + eps * (lse - sum_x / V);
          total += loss;
          counted++;
        }
      if (losses != NULL)
        losses[n] = (float) loss;
    }
  if (n_counted != NULL)
    *n_counted = counted;
  return counted > 0 ? (float) (total / counted) : 0.0f;
}

void
attn_cross_entropy_smoothed_backward (float *dlogits, const float *probs,
                                      const int *targets, float dloss, int N,
                                      int V, float eps, int ignore_index)
{
  /* dlogits (N, V), probs (N, V), targets (N) */
  attn_check (dlogits != NULL && probs != NULL && targets != NULL);
  attn_check (N > 0 && V > 0);
  attn_check (eps >= 0.0f && eps < 1.0f);

  const float off = eps / V; /* q_v away from the target */
  for (int n = 0; n < N; n++)
    {
      if (targets[n] == ignore_index)
        continue;
      attn_check (targets[n] >= 0 && targets[n] < V);
      const float *p = probs + (gsize) n * V;
      float *d = dlogits + (gsize) n * V;
      for (int v = 0; v < V; v++)
        d[v] += dloss * (p[v] - off);
      d[targets[n]] -= dloss * (1.0f - eps);
    }
}

/* ---- residual ---------------------------------------------------------- */

ATTN_VECTORIZE void
attn_residual_forward (float *out, const float *a, const float *b, gsize n)
{
  /* out (n), a (n), b (n) */
  attn_check (out != NULL && a != NULL && b != NULL);
#pragma GCC ivdep
  for (gsize i = 0; i < n; i++)
    out[i] = a[i] + b[i];
}

ATTN_VECTORIZE void
attn_residual_backward (float *da, float *db, const float *dout, gsize n)
{
  /* da (n), db (n), dout (n) */
  attn_check (dout != NULL);
  if (da != NULL)
#pragma GCC ivdep
    for (gsize i = 0; i < n; i++)
      da[i] += dout[i];
  if (db != NULL)
#pragma GCC ivdep
    for (gsize i = 0; i < n; i++)
      db[i] += dout[i];
}

/* ---- dropout ----------------------------------------------------------- */

void
attn_dropout_forward (float *out, float *mask, const float *inp, gsize n,
                      float p, gboolean training, GRand *rng)
{
  /* out (n), mask (n), inp (n) */
  attn_check (out != NULL && inp != NULL);
  attn_check (p >= 0.0f && p < 1.0f);

  if (!training || p == 0.0f)
    {
      if (out != inp)
        memmove (out, inp, n * sizeof (float));
      /* A mask of ones keeps a later backward correct if one is run. */
      if (mask != NULL)
        for (gsize i = 0; i < n; i++)
          mask[i] = 1.0f;
      return;
    }
  attn_check (mask != NULL && rng != NULL);

  /* One 32-bit draw per element: dropped when it falls below p * 2^32. */
  guint32 threshold = (guint32) ((double) p * 4294967296.0);
  float scale = 1.0f / (1.0f - p);
  for (gsize i = 0; i < n; i++)
    {
      mask[i] = g_rand_int (rng) < threshold ? 0.0f : scale;
      out[i] = inp[i] * mask[i];
    }
}

ATTN_VECTORIZE void
attn_dropout_backward (float *dinp, const float *dout, const float *mask,
                       gsize n)
{
  /* dinp (n), dout (n), mask (n) */
  attn_check (dinp != NULL && dout != NULL && mask != NULL);
#pragma GCC ivdep
  for (gsize i = 0; i < n; i++)
    dinp[i] += dout[i] * mask[i];
}
