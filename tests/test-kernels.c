/* test-kernels.c: the kernels of core/attn-kernels.c checked against their
 * plain _ref twins, against finite differences, and against their stated
 * contracts (masking, ignore_index, accumulation, dropout statistics). */
#include <math.h>
#include <string.h>

#include "core/attn-kernels.h"
#include "core/attn-tensor.h"
#include "tests/attn-test-util.h"

/* ---- linear: BLAS vs triple loops -------------------------------------- */

typedef struct {
  int N, C, OC;
  gboolean bias;
} LinearCase;

/* Odd sizes and a size past the usual 4/8/16-wide BLAS blocking, with and
 * without bias. */
static const LinearCase linear_cases[] = {
  { 1, 1, 1, TRUE },    { 1, 7, 3, FALSE },   { 3, 5, 7, TRUE },
  { 17, 33, 9, FALSE }, { 13, 64, 31, TRUE }, { 64, 97, 130, TRUE },
  { 5, 300, 1, FALSE },
};

/* Inputs in [-1, 1) and C up to 300 give sums of order 10; float32 rounding
 * of an sgemm dot product is far below 1e-5 relative to that. */
#define LINEAR_TOL 1e-5

static void
test_linear_fast_vs_ref (gconstpointer data)
{
  const LinearCase *lc = data;
  int N = lc->N, C = lc->C, OC = lc->OC;
  g_autofree float *inp = g_new (float, N * C);     /* (N, C) */
  g_autofree float *weight = g_new (float, OC * C); /* (OC, C) */
  g_autofree float *bias = g_new (float, OC);       /* (OC) */
  g_autofree float *dout = g_new (float, N * OC);   /* (N, OC) */
  attn_test_fill_uniform (inp, N * C, -1, 1, 1);
  attn_test_fill_uniform (weight, OC * C, -1, 1, 2);
  attn_test_fill_uniform (bias, OC, -1, 1, 3);
  attn_test_fill_uniform (dout, N * OC, -1, 1, 4);
  const float *b = lc->bias ? bias : NULL;

  g_autofree float *out = g_new (float, N * OC);     /* (N, OC) */
  g_autofree float *out_ref = g_new (float, N * OC); /* (N, OC) */
  /* Garbage in out must be overwritten, not accumulated. */
  attn_test_fill_uniform (out, N * OC, 100, 200, 5);
  attn_linear_forward (out, inp, weight, b, N, C, OC);
  attn_linear_forward_ref (out_ref, inp, weight, b, N, C, OC);
  attn_test_assert_rel_close ("linear forward", out, out_ref, N * OC,
                              LINEAR_TOL, 1.0);

  /* Gradients start from a non-zero value to show they accumulate. */
  g_autofree float *dinp = g_new (float, N * C);
  g_autofree float *dinp_ref = g_new (float, N * C);
  g_autofree float *dw = g_new (float, OC * C);
  g_autofree float *dw_ref = g_new (float, OC * C);
  g_autofree float *db = g_new (float, OC);
  g_autofree float *db_ref = g_new (float, OC);
  attn_test_fill_uniform (dinp, N * C, -1, 1, 6);
  memcpy (dinp_ref, dinp, N * C * sizeof (float));
  attn_test_fill_uniform (dw, OC * C, -1, 1, 7);
  memcpy (dw_ref, dw, OC * C * sizeof (float));
  attn_test_fill_uniform (db, OC, -1, 1, 8);
  memcpy (db_ref, db, OC * sizeof (float));

  attn_linear_backward (dinp, dw, lc->bias ? db : NULL, dout, inp, weight, N,
                        C, OC);
  attn_linear_backward_ref (dinp_ref, dw_ref, lc->bias ? db_ref : NULL, dout,
                            inp, weight, N, C, OC);
  attn_test_assert_rel_close ("linear dinp", dinp, dinp_ref, N * C,
                              LINEAR_TOL, 1.0);
  attn_test_assert_rel_close ("linear dweight", dw, dw_ref, OC * C,
                              LINEAR_TOL, 1.0);
  attn_test_assert_rel_close ("linear dbias", db, db_ref, OC, LINEAR_TOL,
                              1.0);

  /* NULL gradients are skipped: only dweight is asked for here. */
  g_autofree float *dw2 = g_new0 (float, OC * C);
  attn_linear_backward (NULL, dw2, NULL, dout, inp, NULL, N, C, OC);
  for (int i = 0; i < OC * C; i++)
    dw_ref[i] = 0.0f;
  attn_linear_backward_ref (NULL, dw_ref, NULL, dout, inp, NULL, N, C, OC);
  attn_test_assert_rel_close ("linear dweight alone", dw2, dw_ref, OC * C,
                              LINEAR_TOL, 1.0);
}

static void
test_linear_known_values (void)
{
  /* inp (2, 3), weight (2, 3), bias (2): worked by hand. */
  const float inp[] = { 1, 2, 3, -1, 0, 2 };
  const float weight[] = { 1, 0, -1, 0.5f, 0.5f, 0.5f };
  const float bias[] = { 0.25f, -1 };
  const float want[] = { 1 - 3 + 0.25f, 3 - 1, -1 - 2 + 0.25f, 0.5f - 1 };
  float out[4];
  attn_linear_forward (out, inp, weight, bias, 2, 3, 2);
  attn_test_assert_close ("linear by hand", out, want, 4, 0.0);
}

/* ---- softmax ----------------------------------------------------------- */

static void
test_softmax_rows (void)
{
  enum { N = 9, C = 1000 };
  g_autofree float *x = g_new (float, N * C); /* (N, C) */
  g_autofree float *y = g_new (float, N * C); /* (N, C) */
  attn_test_fill_uniform (x, N * C, -30, 30, 11);
  /* Row 1: huge logits that would overflow expf without the max shift. */
  for (int c = 0; c < C; c++)
    x[C + c] += 1e4f;
  /* Row 2: masked half. Row 3: one survivor. */
  for (int c = 0; c < C; c += 2)
    x[2 * C + c] = -INFINITY;
  for (int c = 1; c < C; c++)
    x[3 * C + c] = -INFINITY;
  attn_softmax_forward (y, x, N, C);

  for (int n = 0; n < N; n++)
    {
      double sum = 0.0;
      for (int c = 0; c < C; c++)
        {
          float v = y[n * C + c];
          g_assert_true (isfinite (v) && v >= 0.0f && v <= 1.0f);
          if (x[n * C + c] == -INFINITY)
            g_assert_cmpfloat (v, ==, 0.0f);
          sum += v;
        }
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);
    }
  g_assert_cmpfloat (y[3 * C], ==, 1.0f);

  /* Against a double-precision definition, within 1e-6 absolute. */
  for (int n = 0; n < N; n++)
    {
      const float *xr = x + n * C;
      double m = -INFINITY, s = 0.0;
      for (int c = 0; c < C; c++)
        m = fmax (m, xr[c]);
      for (int c = 0; c < C; c++)
        s += exp ((double) xr[c] - m);
      for (int c = 0; c < C; c++)
        g_assert_cmpfloat_with_epsilon (y[n * C + c],
                                        exp ((double) xr[c] - m) / s, 1e-6);
    }
}

static void
test_softmax_all_masked (void)
{
  enum { C = 5 };
  float x[2 * C] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
                     0, 1, 2, 3, 4 };
  /* In place, which is also allowed. */
  attn_softmax_forward (x, x, 2, C);
  for (int c = 0; c < C; c++)
    g_assert_cmpfloat (x[c], ==, 0.0f);
  double sum = 0.0, denom = 0.0;
  for (int c = 0; c < C; c++)
    denom += exp (c - 4.0);
  for (int c = 0; c < C; c++)
    {
      g_assert_cmpfloat_with_epsilon (x[C + c], exp (c - 4.0) / denom, 1e-7);
      sum += x[C + c];
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-6);

  /* Backward through a fully masked row adds nothing. */
  float dout[C] = { 1, -2, 3, -4, 5 };
  float dx[C] = { 0 };
  attn_softmax_backward (dx, dout, x, 1, C);
  for (int c = 0; c < C; c++)
    g_assert_cmpfloat (dx[c], ==, 0.0f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (linear_cases); i++)
    {
      const LinearCase *lc = &linear_cases[i];
      g_autofree char *path = g_strdup_printf (
        "/attn/kernels/linear-fast-vs-ref/%dx%dx%d%s", lc->N, lc->C, lc->OC,
        lc->bias ? "-bias" : "");
      g_test_add_data_func (path, lc, test_linear_fast_vs_ref);
    }
  g_test_add_func ("/attn/kernels/linear-known-values",
                   test_linear_known_values);
  g_test_add_func ("/attn/kernels/softmax-rows", test_softmax_rows);
  g_test_add_func ("/attn/kernels/softmax-all-masked",
                   test_softmax_all_masked);

  return g_test_run ();
}
