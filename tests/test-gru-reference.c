/* test-gru-reference.c: core/attn-gru.c against torch.nn.GRUCell and
 * torch.nn.GRU (unidirectional, and bidirectional over a padded batch), from
 * tests/data/gru.json (made by tests/data/make-gru-fixtures.py).
 *
 * Outputs and final states: max abs error <= 1e-5. Gradients of inputs,
 * initial states and every weight: max relative error <= 1e-4, where the
 * error of a value is divided by max(|torch's value|, 1e-3) (gradients
 * here are of order 0.1-10, so the floor only shields entries near zero,
 * which are then held to 1e-7 absolute). */
#include <math.h>
#include <string.h>

#include "core/attn-gru.h"
#include "tests/attn-test-util.h"

#define OUT_TOL 1e-5
#define GRAD_TOL 1e-4
#define GRAD_FLOOR 1e-3

typedef struct {
  int I, H, T, B;
} Sizes;

static Sizes
fixture_sizes (JsonObject *fx)
{
  return (Sizes) { (int) attn_test_number (fx, "I"),
                   (int) attn_test_number (fx, "H"),
                   (int) attn_test_number (fx, "T"),
                   (int) attn_test_number (fx, "B") };
}

/* One direction's weights (or, with d_prefix "d", torch's gradients) under
 * <prefix>_[d]weight_ih<suffix> etc. */
typedef struct {
  float *p[4];
  AttnGruParams params;
} Params;

static const char *const param_names[4] = {
  "weight_ih", "weight_hh", "bias_ih", "bias_hh",
};

static void
params_load (Params *pm, JsonObject *fx, const char *prefix,
             const char *d_prefix, const char *suffix, int I, int H)
{
  const gsize n[4] = { 3 * H * I, 3 * H * H, 3 * H, 3 * H };
  for (int i = 0; i < 4; i++)
    {
      g_autofree char *key = g_strdup_printf ("%s_%s%s%s", prefix, d_prefix,
                                              param_names[i], suffix);
      pm->p[i] = attn_test_floats (fx, key, n[i]);
    }
  pm->params = (AttnGruParams) { pm->p[0], pm->p[1], pm->p[2], pm->p[3] };
}

static void
params_zeros (Params *pm, int I, int H)
{
  const gsize n[4] = { 3 * H * I, 3 * H * H, 3 * H, 3 * H };
  for (int i = 0; i < 4; i++)
    pm->p[i] = g_new0 (float, n[i]);
  pm->params = (AttnGruParams) { pm->p[0], pm->p[1], pm->p[2], pm->p[3] };
}

static void
params_clear (Params *pm)
{
  for (int i = 0; i < 4; i++)
    g_clear_pointer (&pm->p[i], g_free);
}

static void
params_assert (const char *what, const Params *got, const Params *want, int I,
               int H)
{
  const gsize n[4] = { 3 * H * I, 3 * H * H, 3 * H, 3 * H };
  for (int i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s d%s", what, param_names[i]);
      attn_test_assert_rel_close (name, got->p[i], want->p[i], n[i], GRAD_TOL,
                                  GRAD_FLOOR);
    }
}

static void
test_cell (void)
{
  JsonObject *fx = attn_test_fixture ("gru.json");
  const Sizes sz = fixture_sizes (fx);
  const int B = (int) attn_test_number (fx, "cell_B"), I = sz.I, H = sz.H;

  Params w, want_g, g;
  params_load (&w, fx, "cell", "", "", I, H);
  params_load (&want_g, fx, "cell", "d", "", I, H);
  params_zeros (&g, I, H);
  g_autofree float *x = attn_test_floats (fx, "cell_x", B * I);
  g_autofree float *h = attn_test_floats (fx, "cell_h", B * H);
  g_autofree float *want_h_out = attn_test_floats (fx, "cell_h_out", B * H);
  g_autofree float *dh_out = attn_test_floats (fx, "cell_dh_out", B * H);
  g_autofree float *want_dx = attn_test_floats (fx, "cell_dx", B * I);
  g_autofree float *want_dh = attn_test_floats (fx, "cell_dh", B * H);

  g_autofree float *h_out = g_new (float, B * H);
  g_autofree float *saved = g_new (float, B * ATTN_GRU_SAVED * H);
  g_autofree float *work = g_new (float, B * ATTN_GRU_WORK * H);
  g_autofree float *dx = g_new0 (float, B * I);
  g_autofree float *dh = g_new0 (float, B * H);
  attn_gru_cell_forward (h_out, saved, work, x, h, &w.params, B, I, H);
  attn_gru_cell_backward (dx, dh, &g.params, work, dh_out, saved, x, h,
                          &w.params, B, I, H);

  attn_test_assert_close ("cell h'", h_out, want_h_out, B * H, OUT_TOL);
  attn_test_assert_rel_close ("cell dx", dx, want_dx, B * I, GRAD_TOL,
                              GRAD_FLOOR);
  attn_test_assert_rel_close ("cell dh", dh, want_dh, B * H, GRAD_TOL,
                              GRAD_FLOOR);
  params_assert ("cell", &g, &want_g, I, H);
  params_clear (&w);
  params_clear (&want_g);
  params_clear (&g);
}

/* torch.nn.GRU over the fixture's batch, one sequence at a time. Shapes as
 * torch has them: x (B, T, I), out (B, T, D*H), h0 and h_n (D, B, H). */
static void
test_sequence (gconstpointer data)
{
  const char *prefix = data;
  JsonObject *fx = attn_test_fixture ("gru.json");
  const Sizes sz = fixture_sizes (fx);
  const int I = sz.I, H = sz.H, T = sz.T, B = sz.B;
  const gboolean bi = strcmp (prefix, "bi") == 0;
  const int D = bi ? 2 : 1;

#define KEY(name) (g_snprintf (key, sizeof key, "%s_%s", prefix, name), key)
  char key[64];
  Params w[2], want_g[2], g[2];
  for (int d = 0; d < D; d++)
    {
      const char *suffix = d == 0 ? "" : "_reverse";
      params_load (&w[d], fx, prefix, "", suffix, I, H);
      params_load (&want_g[d], fx, prefix, "d", suffix, I, H);
      params_zeros (&g[d], I, H);
    }
  g_autofree int *lengths = attn_test_ints (fx, KEY ("lengths"), B);
  g_autofree float *x = attn_test_floats (fx, KEY ("x"), B * T * I);
  g_autofree float *h0 = attn_test_floats (fx, KEY ("h0"), D * B * H);
  g_autofree float *want_out =
    attn_test_floats (fx, KEY ("out"), B * T * D * H);
  g_autofree float *want_h_n = attn_test_floats (fx, KEY ("h_n"), D * B * H);
  g_autofree float *dout = attn_test_floats (fx, KEY ("dout"), B * T * D * H);
  g_autofree float *dh_n = attn_test_floats (fx, KEY ("dh_n"), D * B * H);
  g_autofree float *want_dx = attn_test_floats (fx, KEY ("dx"), B * T * I);
  g_autofree float *want_dh0 = attn_test_floats (fx, KEY ("dh0"), D * B * H);
#undef KEY

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGruActs) a0 = attn_gru_acts_new (T, H, &error);
  g_autoptr (AttnGruActs) a1 = attn_gru_acts_new (T, H, &error);
  g_assert_no_error (error);
  AttnGruActs *acts[2] = { a0, a1 };
  AttnGruParams wp[2] = { w[0].params, w[bi].params };
  AttnGruParams gp[2] = { g[0].params, g[bi].params };

  g_autofree float *out = g_new (float, B * T * D * H);
  g_autofree float *h_n = g_new (float, D * B * H);
  g_autofree float *dx = g_new0 (float, B * T * I);
  g_autofree float *dh0 = g_new0 (float, D * B * H);
  /* Padding rows must be written (as zeros), not left as they were. */
  for (int i = 0; i < B * T * D * H; i++)
    out[i] = NAN;
  for (int b = 0; b < B; b++)
    {
      /* torch keeps states as (D, B, H); ours are (D, H) per sequence. */
      float h0_b[2 * 64], h_n_b[2 * 64], dh_n_b[2 * 64], dh0_b[2 * 64] = { 0 };
      g_assert_cmpint (H, <=, 64);
      for (int d = 0; d < D; d++)
        {
          memcpy (h0_b + d * H, h0 + (d * B + b) * H, H * sizeof (float));
          memcpy (dh_n_b + d * H, dh_n + (d * B + b) * H, H * sizeof (float));
        }
      const float *x_b = x + b * T * I;
      float *out_b = out + b * T * D * H;
      const float *dout_b = dout + b * T * D * H;
      if (bi)
        {
          attn_gru_bi_forward (out_b, h_n_b, acts, x_b, h0_b, wp, T,
                               lengths[b], I, H);
          attn_gru_bi_backward (dx + b * T * I, dh0_b, gp, acts, dout_b,
                                dh_n_b, x_b, wp, T, lengths[b], I, H);
        }
      else
        {
          g_assert_cmpint (lengths[b], ==, T);
          attn_gru_forward (out_b, h_n_b, a0, x_b, h0_b, &wp[0], T, I, H,
                            FALSE);
          attn_gru_backward (dx + b * T * I, dh0_b, &gp[0], a0, dout_b, dh_n_b,
                             x_b, &wp[0], T, I, H, FALSE);
        }
      for (int d = 0; d < D; d++)
        {
          memcpy (h_n + (d * B + b) * H, h_n_b + d * H, H * sizeof (float));
          memcpy (dh0 + (d * B + b) * H, dh0_b + d * H, H * sizeof (float));
        }
    }

  attn_test_assert_close ("out", out, want_out, B * T * D * H, OUT_TOL);
  attn_test_assert_close ("h_n", h_n, want_h_n, D * B * H, OUT_TOL);
  attn_test_assert_rel_close ("dx", dx, want_dx, B * T * I, GRAD_TOL,
                              GRAD_FLOOR);
  attn_test_assert_rel_close ("dh0", dh0, want_dh0, D * B * H, GRAD_TOL,
                              GRAD_FLOOR);
  for (int d = 0; d < D; d++)
    {
      params_assert (d == 0 ? "forward" : "reverse", &g[d], &want_g[d], I, H);
      params_clear (&w[d]);
      params_clear (&want_g[d]);
      params_clear (&g[d]);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/gru-reference/cell", test_cell);
  g_test_add_data_func ("/attn/gru-reference/unidirectional", "uni",
                        test_sequence);
  /* Lengths 7 and 4: the second sequence is padded. */
  g_test_add_data_func ("/attn/gru-reference/bidirectional-padded", "bi",
                        test_sequence);
  return g_test_run ();
}
