/* attn-kernels.c: the numeric kernels (see attn-kernels.h for contracts). */
#include "core/attn-kernels.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "core/attn-check.h"

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
