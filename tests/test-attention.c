/* test-attention.c: self-contained checks of core/attn-attention.c.
 *
 * - the fast multi-head forward against its plain _ref twin (abs 1e-5 on
 *   outputs, 1e-6 on weights), with and without masks and a head mask, with
 *   both bodies of the softmax (AVX2 + FMA and portable);
 * - finite differences for every backward pass: additive, Luong dot,
 *   general, concat, local-p and multi-head with a head mask, every input
 *   and parameter (see check_fd for the stencil and the tolerance);
 * - hand-computed tiny cases with known numbers;
 * - invariants: normalised rows sum to 1 within 1e-6, masked weights and
 *   local-p weights outside the window are exactly 0, backward accumulates.
 *
 * Checks against PyTorch are in test-attention-reference.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-attention-private.h"
#include "core/attn-attention.h"
#include "core/attn-error.h"
#include "tests/attn-test-util.h"

#define OUT_TOL 1e-5
#define ROW_SUM_TOL 1e-6

static float *
uniform_new (gsize n, float lo, float hi, guint32 seed)
{
  float *x = g_new (float, MAX (n, 1));
  attn_test_fill_uniform (x, n, lo, hi, seed);
  return x;
}

/* ---- finite differences --------------------------------------------------- */

typedef double (*LossFunc) (gpointer data);

/* Step and tolerance of the finite-difference checks. The forward passes
 * run in float32, so every loss carries rounding noise of a few 1e-7 (more
 * for local-p, whose p_t = S sigmoid (.) scales the sigmoid's rounding by
 * S); the 4-point central stencil
 *   f' = (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h
 * has an O(h^4) truncation error, so h can be large (2^-5) and the noise
 * divided by h stays near 1e-5. The relative error of an entry is taken
 * against max (|analytic|, FD_FLOOR * the tensor's largest |analytic|,
 * FD_ABS_FLOOR): entries far below their tensor's scale, or exactly 0 (the
 * key bias's), are held to FD_TOL of that scale rather than judged on
 * noise. Measured worst case: 3e-4 (most tensors 1e-5 to 1e-4). */
#define FD_STEP 0.03125
#define FD_TOL 1e-3
#define FD_FLOOR 0.1
#define FD_ABS_FLOOR 1e-2

static void
check_fd (const char *what, float *x, const float *grad, gsize n,
          LossFunc loss, gpointer data)
{
  double scale = 0.0;
  for (gsize i = 0; i < n; i++)
    scale = MAX (scale, fabs (grad[i]));
  const double floor = MAX (FD_FLOOR * scale, FD_ABS_FLOOR);
  const double h = FD_STEP;
  double worst = 0.0;
  for (gsize i = 0; i < n; i++)
    {
      const float x0 = x[i];
      const double steps[4] = { -2.0, -1.0, 1.0, 2.0 };
      double f[4];
      for (int k = 0; k < 4; k++)
        {
          x[i] = (float) (x0 + steps[k] * h);
          f[k] = loss (data);
        }
      x[i] = x0;
      double fd = (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3]) / (12.0 * h);
      double err = fabs (fd - grad[i]) / MAX (fabs (grad[i]), floor);
      if (!(err <= FD_TOL))
        g_error ("%s[%" G_GSIZE_FORMAT "]: analytic %.8g, finite difference "
                 "%.8g: relative error %.3g exceeds %.3g", what, i,
                 (double) grad[i], fd, err, FD_TOL);
      worst = MAX (worst, err);
    }
  g_test_message ("%s: %" G_GSIZE_FORMAT " entries, max rel error %.3g "
                  "(tolerance %.3g)", what, n, worst, FD_TOL);
}

/* sum (g * y) over n floats, in double */
static double
dot_double (const float *g, const float *y, gsize n)
{
  double acc = 0.0;
  for (gsize i = 0; i < n; i++)
    acc += (double) g[i] * y[i];
  return acc;
}

/* ---- multi-head: fast against _ref ---------------------------------------- */

typedef struct {
  const char *name;
  int B, T, S, C, NH;
  gboolean cross, causal, padded, head_mask;
} MhaCase;

/* Sizes with S not a multiple of 8 exercise the softmax's vector tails. */
static const MhaCase mha_cases[] = {
  { "self", 2, 5, 5, 16, 4, FALSE, FALSE, FALSE, FALSE },
  { "self-long", 1, 37, 37, 24, 3, FALSE, FALSE, FALSE, FALSE },
  { "causal", 2, 19, 19, 32, 4, FALSE, TRUE, FALSE, FALSE },
  { "causal-padded", 3, 17, 17, 16, 2, FALSE, TRUE, TRUE, FALSE },
  { "padded", 2, 23, 23, 12, 3, FALSE, FALSE, TRUE, FALSE },
  { "cross", 2, 6, 29, 16, 4, TRUE, FALSE, TRUE, FALSE },
  { "head-mask", 2, 9, 11, 24, 4, TRUE, FALSE, FALSE, TRUE },
};

typedef struct {
  AttnMhaDims dims;
  float *mem;      /* every parameter, owned */
  AttnMhaParams p;
  float *xq, *xkv; /* (B, T, C), (B, S, C); xkv == xq for self-attention */
  guint8 *pad;     /* (B, S) or NULL */
  gboolean causal;
  float head_mask[8]; /* (NH), used when use_head_mask */
  gboolean use_head_mask;
} MhaSetup;

static void
mha_setup_init (MhaSetup *m, const MhaCase *c, guint32 seed)
{
  memset (m, 0, sizeof *m);
  m->dims = (AttnMhaDims){ c->B, c->T, c->S, c->C, c->NH };
  const gsize C = c->C, cc = C * C;
  m->mem = uniform_new (4 * cc + 4 * C, -0.6f, 0.6f, seed);
  m->p = (AttnMhaParams){
    .wq = m->mem, .wk = m->mem + cc, .wv = m->mem + 2 * cc,
    .wo = m->mem + 3 * cc, .bq = m->mem + 4 * cc, .bk = m->mem + 4 * cc + C,
    .bv = m->mem + 4 * cc + 2 * C, .bo = m->mem + 4 * cc + 3 * C,
  };
  m->xq = uniform_new ((gsize) c->B * c->T * C, -1.5f, 1.5f, seed + 1);
  m->xkv = c->cross ? uniform_new ((gsize) c->B * c->S * C, -1.5f, 1.5f,
                                   seed + 2)
                    : m->xq;
  m->causal = c->causal;
  if (c->padded)
    {
      /* Batch b pads its last b + 1 keys; none is padded entirely. */
      m->pad = g_new0 (guint8, (gsize) c->B * c->S);
      for (int b = 0; b < c->B; b++)
        for (int s = c->S - 1 - b; s < c->S; s++)
          m->pad[(gsize) b * c->S + s] = 1;
    }
  m->use_head_mask = c->head_mask;
  const float hm[8] = { 1.0f, 0.0f, 0.5f, 2.0f, 1.0f, 1.0f, 1.0f, 1.0f };
  memcpy (m->head_mask, hm, sizeof hm);
}

static void
mha_setup_clear (MhaSetup *m)
{
  if (m->xkv != m->xq)
    g_free (m->xkv);
  g_free (m->xq);
  g_free (m->mem);
  g_free (m->pad);
}

static gboolean
mha_masked (const MhaSetup *m, int b, int t, int s)
{
  return (m->causal && s > t)
         || (m->pad != NULL && m->pad[(gsize) b * m->dims.S + s]);
}

static void
test_mha_fast_vs_ref (gconstpointer data)
{
  const MhaCase *c = data;
  MhaSetup m;
  mha_setup_init (&m, c, 100);
  const AttnMhaDims *d = &m.dims;
  const gsize nout = (gsize) d->B * d->T * d->C;
  const gsize natt = (gsize) d->B * d->NH * d->T * d->S;
  const float *hm = m.use_head_mask ? m.head_mask : NULL;

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnMhaActs) fast = attn_mha_acts_new (d, &error);
  g_assert_no_error (error);
  g_autoptr (AttnMhaActs) ref = attn_mha_acts_new (d, &error);
  g_assert_no_error (error);
  g_autofree float *out = g_new (float, nout);
  g_autofree float *out_ref = g_new (float, nout);
  attn_mha_forward (out, fast, m.xq, m.xkv, &m.p, m.causal, m.pad, hm);
  attn_mha_forward_ref (out_ref, ref, m.xq, m.xkv, &m.p, m.causal, m.pad, hm);

  attn_test_assert_close ("out", out, out_ref, nout, OUT_TOL);
  attn_test_assert_close ("att", fast->att, ref->att, natt, 1e-6);
  attn_test_assert_close ("ctx", fast->ctx, ref->ctx, nout, OUT_TOL);

  /* Masked weights exactly 0; each row sums to 1. */
  for (int b = 0; b < d->B; b++)
    for (int h = 0; h < d->NH; h++)
      for (int t = 0; t < d->T; t++)
        {
          const float *row =
            fast->att + (((gsize) b * d->NH + h) * d->T + t) * d->S;
          double sum = 0.0;
          for (int s = 0; s < d->S; s++)
            {
              if (mha_masked (&m, b, t, s))
                g_assert_cmpfloat (row[s], ==, 0.0f);
              else
                g_assert_cmpfloat (row[s], >, 0.0f);
              sum += row[s];
            }
          g_assert_cmpfloat_with_epsilon (sum, 1.0, ROW_SUM_TOL);
        }

  mha_setup_clear (&m);
}

/* The same with the softmax's portable body, which a CPU with AVX2 would
 * otherwise never run. */
static void
test_mha_fast_vs_ref_generic (gconstpointer data)
{
  attn_attention_force_generic_simd (TRUE);
  test_mha_fast_vs_ref (data);
  attn_attention_force_generic_simd (FALSE);
}

static void
test_mha_fully_masked_row (void)
{
  /* Causal with the first key padded: query 0 sees nothing. Its weights
   * and context are 0 (not NaN), in both forwards, and backward stays
   * finite. */
  const MhaCase c = { "x", 1, 4, 4, 8, 2, FALSE, TRUE, FALSE, FALSE };
  MhaSetup m;
  mha_setup_init (&m, &c, 7);
  m.pad = g_new0 (guint8, 4);
  m.pad[0] = 1;
  const AttnMhaDims *d = &m.dims;
  g_autoptr (AttnMhaActs) acts = attn_mha_acts_new (d, NULL);
  g_autofree float *out = g_new (float, 32);
  for (int pass = 0; pass < 2; pass++)
    {
      if (pass == 0)
        attn_mha_forward_ref (out, acts, m.xq, m.xkv, &m.p, TRUE, m.pad, NULL);
      else
        attn_mha_forward (out, acts, m.xq, m.xkv, &m.p, TRUE, m.pad, NULL);
      for (int h = 0; h < 2; h++)
        {
          const float *att = acts->att + (gsize) h * 16; /* (T, S) */
          for (int s = 0; s < 4; s++)
            g_assert_cmpfloat (att[s], ==, 0.0f);
          g_assert_cmpfloat_with_epsilon (att[4 + 1], 1.0f, 1e-7);
        }
      for (int i = 0; i < 8; i++)
        g_assert_cmpfloat (acts->ctx[i], ==, 0.0f);
      for (int i = 0; i < 32; i++)
        g_assert_true (isfinite (out[i]));
    }
  g_autofree float *dout = uniform_new (32, -1.0f, 1.0f, 8);
  g_autofree float *dx = g_new0 (float, 32);
  attn_mha_backward (dx, dx, NULL, dout, acts, m.xq, m.xkv, &m.p, NULL);
  for (int i = 0; i < 32; i++)
    g_assert_true (isfinite (dx[i]));
  mha_setup_clear (&m);
}

static void
test_mha_hand (void)
{
  /* C = 2, NH = 2 (HS = 1, scale 1), identity projections, zero biases but
   * bo: head 0 attends with column 0 of x, head 1 with column 1.
   *   x = [[1, 0], [0, 2]]
   *   head 0 scores [[1, 0], [0, 0]] -> [[e, 1] / (e + 1), [.5, .5]]
   *   head 1 scores [[0, 0], [0, 4]] -> [[.5, .5], [1, e^4] / (1 + e^4)]
   *   ctx = [[0.731058579, 1], [0.5, 2 * 0.98201379]], out = ctx + bo. */
  const AttnMhaDims d = { 1, 2, 2, 2, 2 };
  float eye[4] = { 1, 0, 0, 1 }, zero[2] = { 0, 0 }, bo[2] = { 0.25f, -0.5f };
  AttnMhaParams p = { eye, zero, eye, zero, eye, zero, eye, bo };
  const float x[4] = { 1, 0, 0, 2 };
  const float want_att[8] = {
    0.731058579f, 0.268941421f, 0.5f, 0.5f,     /* head 0 */
    0.5f, 0.5f, 0.01798621f, 0.98201379f,      /* head 1 */
  };
  const float want_out[4] = { 0.981058579f, 0.5f, 0.75f, 1.46402758f };
  g_autoptr (AttnMhaActs) acts = attn_mha_acts_new (&d, NULL);
  float out[4];
  attn_mha_forward (out, acts, x, x, &p, FALSE, NULL, NULL);
  attn_test_assert_close ("att", acts->att, want_att, 8, 1e-7);
  attn_test_assert_close ("out", out, want_out, 4, 1e-6);

  /* Causal: query 0 sees only key 0. */
  attn_mha_forward (out, acts, x, x, &p, TRUE, NULL, NULL);
  const float want_causal[8] = {
    1.0f, 0.0f, 0.5f, 0.5f, 1.0f, 0.0f, 0.01798621f, 0.98201379f,
  };
  attn_test_assert_close ("causal att", acts->att, want_causal, 8, 1e-7);
  g_assert_cmpfloat (acts->att[1], ==, 0.0f);
  g_assert_cmpfloat (acts->att[5], ==, 0.0f);
}

static void
test_mha_head_mask (void)
{
  const MhaCase c = { "x", 2, 6, 6, 16, 4, FALSE, FALSE, FALSE, FALSE };
  MhaSetup m;
  mha_setup_init (&m, &c, 21);
  const AttnMhaDims *d = &m.dims;
  const gsize n = (gsize) d->B * d->T * d->C;
  const gsize natt = (gsize) d->B * d->NH * d->T * d->S;
  g_autoptr (AttnMhaActs) a = attn_mha_acts_new (d, NULL);
  g_autoptr (AttnMhaActs) b = attn_mha_acts_new (d, NULL);
  g_autofree float *out_a = g_new (float, n);
  g_autofree float *out_b = g_new (float, n);

  /* All ones is exactly no mask. */
  const float ones[4] = { 1, 1, 1, 1 };
  attn_mha_forward (out_a, a, m.xq, m.xq, &m.p, FALSE, NULL, NULL);
  attn_mha_forward (out_b, b, m.xq, m.xq, &m.p, FALSE, NULL, ones);
  g_assert_cmpmem (out_a, n * sizeof (float), out_b, n * sizeof (float));

  /* Head 2 off: its slice of ctx is 0, the weights are unchanged, and the
   * output differs. */
  const float off[4] = { 1, 1, 0, 1 };
  attn_mha_forward (out_b, b, m.xq, m.xq, &m.p, FALSE, NULL, off);
  g_assert_cmpmem (a->att, natt * sizeof (float), b->att,
                   natt * sizeof (float));
  const int HS = d->C / d->NH;
  for (gsize r = 0; r < (gsize) d->B * d->T; r++)
    for (int i = 0; i < HS; i++)
      {
        g_assert_cmpfloat (b->ctx[r * d->C + 2 * HS + i], ==, 0.0f);
        g_assert_cmpfloat (a->ctx[r * d->C + 2 * HS + i], !=, 0.0f);
      }
  g_assert_cmpfloat (attn_max_abs_diff (out_a, out_b, n), >, 1e-3);
  mha_setup_clear (&m);
}

static void
test_mha_acts_carve (void)
{
  /* Carved from caller memory, the activations give the same results as
   * attn_mha_acts_new's; sizes that overflow are refused. */
  const MhaCase c = { "x", 2, 5, 7, 16, 4, TRUE, FALSE, TRUE, FALSE };
  MhaSetup m;
  mha_setup_init (&m, &c, 33);
  const AttnMhaDims *d = &m.dims;
  g_autoptr (GError) error = NULL;
  gsize size = attn_mha_acts_size (d, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (size, >=, (gsize) 2 * 5 * 16 + 2 * 2 * 7 * 16
                              + 2 * 4 * 5 * 7 + 2 * 5 * 16);
  float *memory = aligned_alloc (64, size * sizeof (float));
  AttnMhaActs carved;
  attn_mha_acts_carve (&carved, memory, d);
  g_assert_null (carved.block);
  g_assert_true (carved.ctx + 2 * 5 * 16 <= memory + size);
  g_autoptr (AttnMhaActs) owned = attn_mha_acts_new (d, &error);
  g_assert_no_error (error);
  float out_a[160], out_b[160];
  attn_mha_forward (out_a, &carved, m.xq, m.xkv, &m.p, FALSE, m.pad, NULL);
  attn_mha_forward (out_b, owned, m.xq, m.xkv, &m.p, FALSE, m.pad, NULL);
  g_assert_cmpmem (out_a, sizeof out_a, out_b, sizeof out_b);
  g_assert_cmpmem (carved.att, 280 * sizeof (float), owned->att,
                   280 * sizeof (float));
  free (memory);
  mha_setup_clear (&m);

  /* (B, NH, T, S) = 1 x 2^16 x 2^24 x 2^24 floats overflows. */
  const AttnMhaDims huge = { 1, 1 << 24, 1 << 24, 1 << 16, 1 << 16 };
  g_assert_cmpuint (attn_mha_acts_size (&huge, &error), ==, 0);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE);
  g_clear_error (&error);
  g_assert_null (attn_mha_acts_new (&huge, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE);
}

/* ---- multi-head: finite differences --------------------------------------- */

typedef struct {
  MhaSetup *m;
  AttnMhaActs *acts;
  float *out;  /* (B, T, C) */
  float *gout; /* (B, T, C) */
} MhaLoss;

static double
mha_loss (gpointer data)
{
  MhaLoss *l = data;
  MhaSetup *m = l->m;
  attn_mha_forward (l->out, l->acts, m->xq, m->xkv, &m->p, m->causal, m->pad,
                    m->use_head_mask ? m->head_mask : NULL);
  return dot_double (l->gout, l->out,
                     (gsize) m->dims.B * m->dims.T * m->dims.C);
}

static const char *const mha_param_names[8] = {
  "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo",
};

static float **
mha_slot (AttnMhaParams *p, int i)
{
  float **slots[8] = {
    &p->wq, &p->bq, &p->wk, &p->bk, &p->wv, &p->bv, &p->wo, &p->bo,
  };
  return slots[i];
}

static const MhaCase mha_fd_cases[] = {
  { "cross-padded-head-mask", 2, 3, 4, 8, 2, TRUE, FALSE, TRUE, TRUE },
  { "self-causal-head-mask", 2, 4, 4, 8, 4, FALSE, TRUE, FALSE, TRUE },
};

static void
test_mha_fd (gconstpointer data)
{
  const MhaCase *c = data;
  MhaSetup m;
  mha_setup_init (&m, c, 55);
  const AttnMhaDims *d = &m.dims;
  const gsize nq = (gsize) d->B * d->T * d->C, nkv = (gsize) d->B * d->S * d->C;
  const gsize C = d->C;
  g_autoptr (AttnMhaActs) acts = attn_mha_acts_new (d, NULL);
  g_autofree float *out = g_new (float, nq);
  g_autofree float *gout = uniform_new (nq, -1.0f, 1.0f, 56);
  MhaLoss l = { &m, acts, out, gout };

  g_autofree float *gmem = g_new0 (float, 4 * C * C + 4 * C);
  AttnMhaParams g = {
    .wq = gmem, .wk = gmem + C * C, .wv = gmem + 2 * C * C,
    .wo = gmem + 3 * C * C, .bq = gmem + 4 * C * C, .bk = gmem + 4 * C * C + C,
    .bv = gmem + 4 * C * C + 2 * C, .bo = gmem + 4 * C * C + 3 * C,
  };
  g_autofree float *dxq = g_new0 (float, nq);
  g_autofree float *dxkv = g_new0 (float, nkv);
  mha_loss (&l);
  /* Self-attention: one buffer for both, as the API allows. */
  attn_mha_backward (dxq, c->cross ? dxkv : dxq, &g, gout, acts, m.xq, m.xkv,
                     &m.p, m.head_mask);

  check_fd ("xq", m.xq, dxq, nq, mha_loss, &l);
  if (c->cross)
    check_fd ("xkv", m.xkv, dxkv, nkv, mha_loss, &l);
  for (int i = 0; i < 8; i++)
    check_fd (mha_param_names[i], *mha_slot (&m.p, i), *mha_slot (&g, i),
              i % 2 == 0 ? C * C : C, mha_loss, &l);
  mha_setup_clear (&m);
}

static void
test_mha_backward_accumulates (void)
{
  const MhaCase c = { "x", 2, 3, 4, 8, 2, TRUE, FALSE, TRUE, FALSE };
  MhaSetup m;
  mha_setup_init (&m, &c, 77);
  const AttnMhaDims *d = &m.dims;
  const gsize nq = 48, nkv = 64, C = 8;
  g_autoptr (AttnMhaActs) acts = attn_mha_acts_new (d, NULL);
  g_autofree float *out = g_new (float, nq);
  g_autofree float *gout = uniform_new (nq, -1.0f, 1.0f, 78);
  attn_mha_forward (out, acts, m.xq, m.xkv, &m.p, FALSE, m.pad, NULL);

  g_autofree float *once = g_new0 (float, nkv + C * C);
  g_autofree float *twice = g_new0 (float, nkv + C * C);
  AttnMhaParams g1 = { .wk = once + nkv }, g2 = { .wk = twice + nkv };
  attn_mha_backward (NULL, once, &g1, gout, acts, m.xq, m.xkv, &m.p, NULL);
  attn_mha_backward (NULL, twice, &g2, gout, acts, m.xq, m.xkv, &m.p, NULL);
  attn_mha_backward (NULL, twice, &g2, gout, acts, m.xq, m.xkv, &m.p, NULL);
  for (gsize i = 0; i < nkv + C * C; i++)
    g_assert_cmpfloat_with_epsilon (twice[i], 2.0f * once[i],
                                    1e-6 * MAX (1.0, fabs (once[i])));
  g_assert_cmpfloat (attn_max_abs_diff (once, twice, nkv + C * C), >, 1e-3);
  mha_setup_clear (&m);
}

/* ---- RNN scores and local-p ----------------------------------------------- */

typedef struct {
  const char *name;
  AttnScoreKind kind;
  gboolean padded;
  gboolean local;
} RnnCase;

static const RnnCase rnn_cases[] = {
  { "additive", ATTN_SCORE_ADDITIVE, FALSE, FALSE },
  { "additive-padded", ATTN_SCORE_ADDITIVE, TRUE, FALSE },
  { "dot", ATTN_SCORE_DOT, TRUE, FALSE },
  { "general", ATTN_SCORE_GENERAL, FALSE, FALSE },
  { "concat", ATTN_SCORE_CONCAT, TRUE, FALSE },
  { "local-general", ATTN_SCORE_GENERAL, FALSE, TRUE },
  { "local-additive", ATTN_SCORE_ADDITIVE, TRUE, TRUE },
  { "local-dot", ATTN_SCORE_DOT, FALSE, TRUE },
  { "local-concat", ATTN_SCORE_CONCAT, FALSE, TRUE },
};

typedef struct {
  const char *name;
  float *value, *grad;
  gsize n;
} Param;

typedef struct {
  const RnnCase *c;
  AttnLocalDims ld; /* ld.score for global attention */
  AttnLocalParams p, g;
  Param params[6];
  int n_params;
  float *q, *keys;  /* (Tq, Dq), (S, Dk) */
  guint8 *pad;      /* (S) or NULL */
  float *gctx, *gatt, *ctx;
  AttnScoreActs *sacts;
  AttnLocalActs *lacts;
  int *lo, *hi;     /* (Tq) windows of the unperturbed forward */
} Rnn;

static void
rnn_add_param (Rnn *r, const char *name, float **slot, float **gslot,
               gsize n, float scale, guint32 seed)
{
  Param *p = &r->params[r->n_params++];
  p->name = name;
  p->n = n;
  p->value = *slot = uniform_new (n, -scale, scale, seed);
  p->grad = *gslot = g_new0 (float, n);
}

static void
rnn_init (Rnn *r, const RnnCase *c, guint32 seed)
{
  memset (r, 0, sizeof *r);
  r->c = c;
  const int Tq = 4, S = 9, Dk = 6;
  const int Dq = c->kind == ATTN_SCORE_DOT ? Dk : 5;
  const int A = 3;
  r->ld = (AttnLocalDims){ { c->kind, Tq, S, Dq, Dk, A }, 3, 2 };
  AttnScoreParams *p = &r->p.score, *g = &r->g.score;
  switch (c->kind)
    {
    case ATTN_SCORE_ADDITIVE:
      rnn_add_param (r, "w_q", &p->w_q, &g->w_q, A * Dq, 1.0f, seed + 1);
      rnn_add_param (r, "w_k", &p->w_k, &g->w_k, A * Dk, 1.0f, seed + 2);
      rnn_add_param (r, "b", &p->b, &g->b, A, 0.5f, seed + 3);
      rnn_add_param (r, "v", &p->v, &g->v, A, 1.5f, seed + 4);
      break;
    case ATTN_SCORE_DOT:
      break;
    case ATTN_SCORE_GENERAL:
      rnn_add_param (r, "w", &p->w, &g->w, Dq * Dk, 1.0f, seed + 5);
      break;
    case ATTN_SCORE_CONCAT:
      rnn_add_param (r, "w_c", &p->w_c, &g->w_c, A * (Dq + Dk), 1.0f,
                     seed + 6);
      rnn_add_param (r, "v", &p->v, &g->v, A, 1.5f, seed + 7);
      break;
    }
  if (c->local)
    {
      /* Small enough that the FD steps move p_t by well under the distance
       * of any window edge from an integer (asserted in rnn_loss). */
      rnn_add_param (r, "w_p", &r->p.w_p, &r->g.w_p, 3 * Dq, 0.5f, seed + 8);
      rnn_add_param (r, "v_p", &r->p.v_p, &r->g.v_p, 3, 1.0f, seed + 9);
    }
  r->q = uniform_new ((gsize) Tq * Dq, -1.0f, 1.0f, seed + 10);
  r->keys = uniform_new ((gsize) S * Dk, -1.0f, 1.0f, seed + 11);
  if (c->padded)
    {
      r->pad = g_new0 (guint8, S);
      r->pad[S - 1] = r->pad[3] = 1;
    }
  r->gctx = uniform_new ((gsize) Tq * Dk, -1.0f, 1.0f, seed + 12);
  r->gatt = uniform_new ((gsize) Tq * S, -1.0f, 1.0f, seed + 13);
  r->ctx = g_new (float, (gsize) Tq * Dk);
  g_autoptr (GError) error = NULL;
  if (c->local)
    r->lacts = attn_local_acts_new (&r->ld, &error);
  else
    r->sacts = attn_score_acts_new (&r->ld.score, &error);
  g_assert_no_error (error);
}

static void
rnn_clear (Rnn *r)
{
  for (int i = 0; i < r->n_params; i++)
    {
      g_free (r->params[i].value);
      g_free (r->params[i].grad);
    }
  g_free (r->q);
  g_free (r->keys);
  g_free (r->pad);
  g_free (r->gctx);
  g_free (r->gatt);
  g_free (r->ctx);
  g_free (r->lo);
  g_free (r->hi);
  attn_score_acts_free (r->sacts);
  attn_local_acts_free (r->lacts);
}

static const float *
rnn_att (const Rnn *r)
{
  return r->c->local ? r->lacts->att : r->sacts->att;
}

static void
rnn_forward (Rnn *r)
{
  if (r->c->local)
    attn_local_forward (r->ctx, r->lacts, r->q, r->keys, &r->p, r->pad);
  else
    attn_score_attention_forward (r->ctx, r->sacts, r->q, r->keys,
                                  &r->p.score, r->pad);
}

static double
rnn_loss (gpointer data)
{
  Rnn *r = data;
  const AttnScoreDims *d = &r->ld.score;
  rnn_forward (r);
  if (r->c->local && r->lo != NULL)
    for (int t = 0; t < d->Tq; t++)
      {
        /* Finite differences are only valid within one window. */
        int lo, hi;
        attn_local_window (r->lacts->p[t], r->ld.D, d->S, &lo, &hi);
        if (lo != r->lo[t] || hi != r->hi[t])
          g_error ("query %d: the window moved under a finite-difference "
                   "step (p = %g); choose other test data", t,
                   r->lacts->p[t]);
      }
  return dot_double (r->gctx, r->ctx, (gsize) d->Tq * d->Dk)
         + dot_double (r->gatt, rnn_att (r), (gsize) d->Tq * d->S);
}

static void
test_rnn_fd (gconstpointer data)
{
  const RnnCase *c = data;
  Rnn r;
  /* A seed under which no finite-difference step moves a local-p window
   * (rnn_loss fails the test if one does). */
  rnn_init (&r, c, 380);
  const AttnScoreDims *d = &r.ld.score;
  rnn_forward (&r);
  if (c->local)
    {
      r.lo = g_new (int, d->Tq);
      r.hi = g_new (int, d->Tq);
      for (int t = 0; t < d->Tq; t++)
        attn_local_window (r.lacts->p[t], r.ld.D, d->S, &r.lo[t], &r.hi[t]);
    }

  g_autofree float *dq = g_new0 (float, (gsize) d->Tq * d->Dq);
  g_autofree float *dkeys = g_new0 (float, (gsize) d->S * d->Dk);
  if (c->local)
    attn_local_backward (dq, dkeys, &r.g, r.gctx, r.gatt, r.lacts, r.q,
                         r.keys, &r.p);
  else
    attn_score_attention_backward (dq, dkeys, &r.g.score, r.gctx, r.gatt,
                                   r.sacts, r.q, r.keys, &r.p.score);

  check_fd ("queries", r.q, dq, (gsize) d->Tq * d->Dq, rnn_loss, &r);
  check_fd ("keys", r.keys, dkeys, (gsize) d->S * d->Dk, rnn_loss, &r);
  for (int i = 0; i < r.n_params; i++)
    check_fd (r.params[i].name, r.params[i].value, r.params[i].grad,
              r.params[i].n, rnn_loss, &r);
  rnn_clear (&r);
}

static void
test_rnn_invariants (gconstpointer data)
{
  /* Global rows sum to 1; local-p align rows sum to 1 while the final
   * weights do not (and are exactly 0 outside the window); padded keys are
   * exactly 0. */
  const RnnCase *c = data;
  Rnn r;
  rnn_init (&r, c, 400);
  const AttnScoreDims *d = &r.ld.score;
  rnn_forward (&r);
  const float *att = rnn_att (&r);
  for (int t = 0; t < d->Tq; t++)
    {
      int lo = 0, hi = d->S - 1;
      if (c->local)
        attn_local_window (r.lacts->p[t], r.ld.D, d->S, &lo, &hi);
      double sum = 0.0, align_sum = 0.0;
      for (int s = 0; s < d->S; s++)
        {
          float a = att[(gsize) t * d->S + s];
          gboolean visible = s >= lo && s <= hi
                             && !(r.pad != NULL && r.pad[s]);
          if (visible)
            g_assert_cmpfloat (a, >, 0.0f);
          else
            g_assert_cmpfloat (a, ==, 0.0f);
          sum += a;
          if (c->local)
            align_sum += r.lacts->score->att[(gsize) t * d->S + s];
        }
      if (c->local)
        {
          g_assert_cmpfloat_with_epsilon (align_sum, 1.0, ROW_SUM_TOL);
          /* The Gaussian is below 1 except at s = p_t exactly. */
          g_assert_cmpfloat (sum, <, 1.0);
          g_assert_cmpfloat (r.lacts->p[t], >=, 0.0f);
          g_assert_cmpfloat (r.lacts->p[t], <=, (float) d->S);
        }
      else
        g_assert_cmpfloat_with_epsilon (sum, 1.0, ROW_SUM_TOL);
    }
  rnn_clear (&r);
}

static void
test_score_hand (void)
{
  /* Two keys [1, 0] and [0, 1], query [1, 0]. */
  const float q[2] = { 1, 0 }, keys[4] = { 1, 0, 0, 1 };
  float ctx[2];

  /* dot: scores [1, 0] -> [e, 1] / (e + 1); ctx = weights (keys = I). */
  AttnScoreDims d = { ATTN_SCORE_DOT, 1, 2, 2, 2, 0 };
  g_autoptr (AttnScoreActs) dot = attn_score_acts_new (&d, NULL);
  AttnScoreParams none = { 0 };
  attn_score_attention_forward (ctx, dot, q, keys, &none, NULL);
  const float want_dot[2] = { 0.731058579f, 0.268941421f };
  attn_test_assert_close ("dot att", dot->att, want_dot, 2, 1e-7);
  attn_test_assert_close ("dot ctx", ctx, want_dot, 2, 1e-7);

  /* With key 0 padded, all weight goes to key 1. */
  const guint8 pad[2] = { 1, 0 };
  attn_score_attention_forward (ctx, dot, q, keys, &none, pad);
  g_assert_cmpfloat (dot->att[0], ==, 0.0f);
  g_assert_cmpfloat (dot->att[1], ==, 1.0f);

  /* general with W = 2 I: scores [2, 0] -> e^2 / (e^2 + 1). */
  d.kind = ATTN_SCORE_GENERAL;
  g_autoptr (AttnScoreActs) gen = attn_score_acts_new (&d, NULL);
  float w[4] = { 2, 0, 0, 2 };
  AttnScoreParams pg = { .w = w };
  attn_score_attention_forward (ctx, gen, q, keys, &pg, NULL);
  g_assert_cmpfloat_with_epsilon (gen->att[0], 0.880797078f, 1e-7);

  /* additive, widths 1: score = tanh (q + k), q = 0, keys 0 and 1:
   * softmax ([0, tanh 1]); concat with W_c = [1, 1] is the same function. */
  const float q1[1] = { 0 }, keys1[2] = { 0, 1 };
  const float want_add[2] = { 0.318300258f, 0.681699742f };
  float one[1] = { 1 }, zero[1] = { 0 }, wc[2] = { 1, 1 };
  AttnScoreDims d1 = { ATTN_SCORE_ADDITIVE, 1, 2, 1, 1, 1 };
  g_autoptr (AttnScoreActs) add = attn_score_acts_new (&d1, NULL);
  AttnScoreParams pa = { .w_q = one, .w_k = one, .b = zero, .v = one };
  attn_score_attention_forward (ctx, add, q1, keys1, &pa, NULL);
  attn_test_assert_close ("additive att", add->att, want_add, 2, 1e-7);
  g_assert_cmpfloat_with_epsilon (ctx[0], 0.681699742f, 1e-7);
  d1.kind = ATTN_SCORE_CONCAT;
  g_autoptr (AttnScoreActs) cat = attn_score_acts_new (&d1, NULL);
  AttnScoreParams pc = { .w_c = wc, .v = one };
  attn_score_attention_forward (ctx, cat, q1, keys1, &pc, NULL);
  attn_test_assert_close ("concat att", cat->att, want_add, 2, 1e-7);
}

static void
test_local_hand (void)
{
  /* W_p = 0 puts p_t at S / 2 = 2; D = 1 (sigma 1/2) gives the window
   * [1, 3]; the dot score of query 0 is 0 everywhere, so align = 1/3 there
   * and a = [0, e^-2 / 3, 1 / 3, e^-2 / 3], summing to 0.423556855 (not 1).
   * Keys 1..4: ctx = 2 a_1 + 3 a_2 + 4 a_3 = 1.27067057. */
  const AttnLocalDims d = { { ATTN_SCORE_DOT, 1, 4, 1, 1, 0 }, 2, 1 };
  g_autoptr (AttnLocalActs) acts = attn_local_acts_new (&d, NULL);
  float w_p[2] = { 0, 0 }, v_p[2] = { 1, -1 };
  const AttnLocalParams p = { { 0 }, w_p, v_p };
  const float q[1] = { 0 }, keys[4] = { 1, 2, 3, 4 };
  float ctx[1];
  attn_local_forward (ctx, acts, q, keys, &p, NULL);
  g_assert_cmpfloat (acts->p[0], ==, 2.0f);
  const float want[4] = { 0.0f, 0.0451117611f, 0.333333333f, 0.0451117611f };
  attn_test_assert_close ("local att", acts->att, want, 4, 1e-7);
  g_assert_cmpfloat (acts->att[0], ==, 0.0f);
  g_assert_cmpfloat_with_epsilon (ctx[0], 1.27067057f, 1e-6);

  int lo, hi;
  attn_local_window (2.0f, 1, 4, &lo, &hi);
  g_assert_cmpint (lo, ==, 1);
  g_assert_cmpint (hi, ==, 3);
  attn_local_window (0.3f, 2, 4, &lo, &hi); /* [-1.7, 2.3] clipped */
  g_assert_cmpint (lo, ==, 0);
  g_assert_cmpint (hi, ==, 2);
  attn_local_window (4.0f, 1, 4, &lo, &hi); /* [3, 5] clipped */
  g_assert_cmpint (lo, ==, 3);
  g_assert_cmpint (hi, ==, 3);
}

static void
test_score_backward_accumulates (void)
{
  const RnnCase c = { "x", ATTN_SCORE_CONCAT, FALSE, FALSE };
  Rnn r;
  rnn_init (&r, &c, 500);
  const AttnScoreDims *d = &r.ld.score;
  rnn_forward (&r);
  const gsize nk = (gsize) d->S * d->Dk, nw = r.params[0].n;
  g_autofree float *dk1 = g_new0 (float, nk);
  g_autofree float *dk2 = g_new0 (float, nk);
  g_autofree float *dw1 = g_new0 (float, nw);
  g_autofree float *dw2 = g_new0 (float, nw);
  AttnScoreParams g1 = { .w_c = dw1 }, g2 = { .w_c = dw2 };
  attn_score_attention_backward (NULL, dk1, &g1, r.gctx, NULL, r.sacts, r.q,
                                 r.keys, &r.p.score);
  for (int i = 0; i < 2; i++)
    attn_score_attention_backward (NULL, dk2, &g2, r.gctx, NULL, r.sacts, r.q,
                                   r.keys, &r.p.score);
  for (gsize i = 0; i < nk; i++)
    g_assert_cmpfloat_with_epsilon (dk2[i], 2.0f * dk1[i], 1e-6);
  for (gsize i = 0; i < nw; i++)
    g_assert_cmpfloat_with_epsilon (dw2[i], 2.0f * dw1[i], 1e-6);
  g_assert_cmpfloat (attn_max_abs_diff (dw1, dw2, nw), >, 1e-3);
  rnn_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (mha_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/attn/attention/mha-fast-vs-ref/%s", mha_cases[i].name);
      g_test_add_data_func (path, &mha_cases[i], test_mha_fast_vs_ref);
      g_autofree char *generic = g_strdup_printf (
        "/attn/attention/mha-fast-vs-ref-generic-simd/%s", mha_cases[i].name);
      g_test_add_data_func (generic, &mha_cases[i],
                            test_mha_fast_vs_ref_generic);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (mha_fd_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/attention/mha-fd/%s",
                                               mha_fd_cases[i].name);
      g_test_add_data_func (path, &mha_fd_cases[i], test_mha_fd);
    }
  g_test_add_func ("/attn/attention/mha-hand", test_mha_hand);
  g_test_add_func ("/attn/attention/mha-fully-masked-row",
                   test_mha_fully_masked_row);
  g_test_add_func ("/attn/attention/mha-head-mask", test_mha_head_mask);
  g_test_add_func ("/attn/attention/mha-acts-carve", test_mha_acts_carve);
  g_test_add_func ("/attn/attention/mha-backward-accumulates",
                   test_mha_backward_accumulates);
  for (gsize i = 0; i < G_N_ELEMENTS (rnn_cases); i++)
    {
      g_autofree char *fd = g_strdup_printf ("/attn/attention/fd/%s",
                                             rnn_cases[i].name);
      g_test_add_data_func (fd, &rnn_cases[i], test_rnn_fd);
      g_autofree char *inv = g_strdup_printf (
        "/attn/attention/invariants/%s", rnn_cases[i].name);
      g_test_add_data_func (inv, &rnn_cases[i], test_rnn_invariants);
    }
  g_test_add_func ("/attn/attention/score-hand", test_score_hand);
  g_test_add_func ("/attn/attention/local-hand", test_local_hand);
  g_test_add_func ("/attn/attention/score-backward-accumulates",
                   test_score_backward_accumulates);
  return g_test_run ();
}
