/* test-train-reference.c: our Adam and AdamW against torch.optim (PyTorch
 * 1.13) given the same gradients (tests/data/adam.json, made by
 * make-adam-fixtures.py). */
#include <math.h>

#include "core/attn-optim.h"
#include "tests/attn-test-util.h"

/* Parameters are unit-scale float32: 1e-6 absolute is a few ulps, so the
 * update formula, its bias corrections and the order of rounding must all
 * match PyTorch's. */
#define PARAM_TOL 1e-6
/* The moments are running sums of terms of either sign, so a moment can be
 * far smaller than its terms (cancellation): its error is measured relative
 * to the largest term that went into it, (max |g|) for m and (max |g|)^2
 * for v, which float32 rounding of the terms allows a few ulps of. */
#define MOMENT_TOL 1e-6

/* got, want (n); grads (K, n); power 1 or 2. */
static void
assert_moment_close (const char *what, const float *got, const float *want,
                     const float *grads, int k, gsize n, int power)
{
  for (gsize i = 0; i < n; i++)
    {
      double scale = 0.0;
      for (int s = 0; s < k; s++)
        scale = MAX (scale, fabs (grads[s * n + i]));
      scale = power == 2 ? scale * scale : scale;
      double err = fabs ((double) got[i] - want[i]);
      if (err > MOMENT_TOL * MAX (scale, fabs (want[i])))
        g_error ("%s[%" G_GSIZE_FORMAT "] = %.9g, PyTorch %.9g: error %.3g "
                 "exceeds %g x %.3g", what, i, got[i], want[i], err,
                 MOMENT_TOL, MAX (scale, fabs (want[i])));
    }
}

static void
test_adam (gconstpointer data)
{
  const char *name = data;
  JsonObject *fx = json_object_get_object_member (
    attn_test_fixture ("adam.json"), name);
  gsize n = (gsize) attn_test_number (fx, "n");
  int k = (int) attn_test_number (fx, "k");
  AttnAdamConfig config = {
    .beta1 = attn_test_number (fx, "beta1"),
    .beta2 = attn_test_number (fx, "beta2"),
    .eps = attn_test_number (fx, "eps"),
    .weight_decay = attn_test_number (fx, "weight_decay"),
    .decoupled = attn_test_number (fx, "decoupled") != 0.0,
  };
  g_autofree float *params = attn_test_floats (fx, "p0", n); /* (n) */
  g_autofree float *grads = attn_test_floats (fx, "grads", k * n); /* (K, n) */
  g_autofree float *want = attn_test_floats (fx, "params", k * n); /* (K, n) */
  g_autofree float *want_m = attn_test_floats (fx, "exp_avg", n);
  g_autofree float *want_v = attn_test_floats (fx, "exp_avg_sq", n);
  JsonArray *lrs = json_object_get_array_member (fx, "lrs");
  g_assert_cmpuint (json_array_get_length (lrs), ==, k);

  g_autoptr (AttnAdam) adam = attn_adam_new (n, &config);
  for (int s = 0; s < k; s++)
    {
      attn_adam_update (adam, params, grads + s * n,
                        json_array_get_double_element (lrs, s));
      g_autofree char *what = g_strdup_printf ("%s params after step %d",
                                               name, s + 1);
      attn_test_assert_close (what, params, want + s * n, n, PARAM_TOL);
    }
  g_assert_cmpint (adam->step, ==, k);
  assert_moment_close ("exp_avg", adam->m, want_m, grads, k, n, 1);
  assert_moment_close ("exp_avg_sq", adam->v, want_v, grads, k, n, 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const char *const cases[] = { "adam", "adam_betas", "adam_l2",
                                       "adamw" };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/train-reference/%s",
                                               cases[i]);
      g_test_add_data_func (path, cases[i], test_adam);
    }
  return g_test_run ();
}
