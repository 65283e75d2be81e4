/* attn-bench.c: speed figures (see attn-bench.h). */
#include "core/attn-bench.h"

#include <cblas.h>

#include "core/attn-attention.h"
#include "core/attn-check.h"

/* Deterministic uniform floats in [-scale, scale): the figures must not
 * depend on denormals or on uninitialised memory. */
static void
fill_uniform (float *x, gsize n, float scale, guint32 seed)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rng, -scale, scale);
}

double
attn_bench_sgemm_gflops (int n, int reps)
{
  attn_check (n > 0 && reps > 0);
  const gsize nn = (gsize) n * n;
  g_autofree float *a = g_new (float, nn); /* (n, n) */
  g_autofree float *b = g_new (float, nn); /* (n, n) */
  g_autofree float *c = g_new (float, nn); /* (n, n) */
  fill_uniform (a, nn, 1.0f, 1);
  fill_uniform (b, nn, 1.0f, 2);

  gint64 best = G_MAXINT64;
  for (int r = 0; r < reps; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                   a, n, b, n, 0.0f, c, n);
      best = MIN (best, g_get_monotonic_time () - t0);
    }
  /* A clock tick of 0 us on a tiny n would divide by zero. */
  double seconds = MAX (best, 1) * 1e-6;
  return 2.0 * n * (double) n * n / seconds * 1e-9;
}

void
attn_bench_mha_forward (int T, int C, int NH, int reps, AttnBenchResult *out)
{
  attn_check (T > 0 && C > 0 && NH > 0 && C % NH == 0 && reps > 0);
  attn_check (out != NULL);
  const AttnMhaDims dims = { .B = 1, .T = T, .S = T, .C = C, .NH = NH };
  const gsize cc = (gsize) C * C, tc = (gsize) T * C;

  /* Weights (4 of (C, C), 4 of (C)), input and output (T, C) in one block. */
  g_autofree float *mem = g_new (float, 4 * cc + 4 * (gsize) C + 2 * tc);
  fill_uniform (mem, 4 * cc + 4 * (gsize) C + tc, 0.05f, 3);
  AttnMhaParams p = {
    .wq = mem, .wk = mem + cc, .wv = mem + 2 * cc, .wo = mem + 3 * cc,
  };
  p.bq = mem + 4 * cc;
  p.bk = p.bq + C;
  p.bv = p.bk + C;
  p.bo = p.bv + C;
  float *x = p.bo + C;  /* (T, C) */
  float *y = x + tc;    /* (T, C) */
  /* Larger inputs so the softmax sees a spread of scores, not all ~0. */
  fill_uniform (x, tc, 2.0f, 4);

  /* attn_mha_acts_new refuses only sizes that overflow; a benchmark size
   * that does is a caller bug. */
  g_autoptr (AttnMhaActs) acts = attn_mha_acts_new (&dims, NULL);
  attn_check (acts != NULL);

  gint64 best = G_MAXINT64;
  for (int r = 0; r < reps; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      attn_mha_forward (y, acts, x, x, &p, FALSE, NULL, NULL);
      best = MIN (best, g_get_monotonic_time () - t0);
    }

  out->T = T;
  out->C = C;
  out->NH = NH;
  out->seconds = MAX (best, 1) * 1e-6;
  out->gflop = (4.0 * 2.0 * T * (double) C * C + 2.0 * 2.0 * T * (double) T * C)
               * 1e-9;
  out->gflops = out->gflop / out->seconds;
}
