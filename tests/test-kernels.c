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

/* ---- GELU: fast vs _ref vs the formula in double ------------------------ */

static double
gelu_exact (double x, AttnGeluKind kind)
{
  if (kind == ATTN_GELU_ERF)
    return 0.5 * x * (1.0 + erf (x / sqrt (2.0)));
  /* x sigmoid (2u) rather than 0.5 x (1 + tanh u), which cancels for x < 0 */
  double u = sqrt (2.0 / G_PI) * (x + 0.044715 * x * x * x);
  return x / (1.0 + exp (-2.0 * u));
}

/* Tolerances on |got - want| / max (|want|, 1): the fast tanh form measures
 * 1.4e-7 from the exact value and 2.4e-7 from the libm _ref (erff and tanhf
 * are within 1.5e-7 of exact themselves). */
#define GELU_EXACT_TOL 3e-7
#define GELU_REF_TOL 5e-7

static void
test_gelu_fast (gconstpointer data)
{
  AttnGeluKind kind = GPOINTER_TO_INT (data);
  /* A dense sweep of [-20, 20] (step 2e-5, so every region of the curve is
   * sampled thousands of times), then large and special values. The count is
   * odd so that the vector kernel's tail is exercised too. */
  const float extra[] = { 1e3f, -1e3f, 1e6f, -1e6f, 1e20f, -1e20f, 3e38f,
                          -3e38f, 0.0f, -0.0f, 1e-30f, -1e-30f, 9.99f,
                          -9.99f, -10.0f, -10.01f, 40.0f, -40.0f, 87.0f,
                          -87.0f, 0.5f };
  const gsize n_sweep = 2000001;
  const gsize n = n_sweep + G_N_ELEMENTS (extra);
  g_autofree float *x = g_new (float, n);    /* (n) */
  g_autofree float *fast = g_new (float, n); /* (n) */
  g_autofree float *ref = g_new (float, n);  /* (n) */
  g_autofree float *want = g_new (float, n); /* (n) */
  for (gsize i = 0; i < n_sweep; i++)
    x[i] = (float) (-20.0 + 40.0 * (double) i / (n_sweep - 1));
  memcpy (x + n_sweep, extra, sizeof extra);
  for (gsize i = 0; i < n; i++)
    want[i] = (float) gelu_exact (x[i], kind);

  attn_gelu_forward (fast, x, n, kind);
  attn_gelu_forward_ref (ref, x, n, kind);
  attn_test_assert_rel_close ("gelu fast vs exact", fast, want, n,
                              GELU_EXACT_TOL, 1.0);
  attn_test_assert_rel_close ("gelu ref vs exact", ref, want, n,
                              GELU_EXACT_TOL, 1.0);
  attn_test_assert_rel_close ("gelu fast vs ref", fast, ref, n, GELU_REF_TOL,
                              1.0);
  /* Large positive inputs pass through unchanged. */
  for (gsize i = n_sweep; i < n; i++)
    if (x[i] >= 20.0f)
      g_assert_cmpfloat (fast[i], ==, x[i]);

  /* In place, and every length 1..9 (vector body plus each tail). */
  for (gsize len = 1; len <= 9; len++)
    {
      float buf[9];
      memcpy (buf, x + 123457, len * sizeof (float));
      attn_gelu_forward (buf, buf, len, kind);
      for (gsize i = 0; i < len; i++)
        g_assert_cmpfloat (buf[i], ==, fast[123457 + i]);
    }
}

/* ---- backward passes: finite differences and accumulation --------------- */

/* Each backward is checked the same way: the kernel's forward against an
 * independent definition written here in double; the gradient of
 * L = sum (dout * f (x)) from the kernel's backward against central
 * differences of that double definition (step 1e-5, so truncation and
 * rounding errors are ~1e-10, far below the 1e-3 tolerance); and calling the
 * backward twice must give exactly twice the gradient. x is the
 * concatenation of every differentiable input. */
typedef struct GradCase GradCase;
typedef struct GradRun GradRun;

struct GradCase {
  const char *name;
  int N, C, OC;     /* dims as each op reads them */
  gsize n_x, n_out; /* differentiable inputs (concatenated), outputs */
  float lo, hi;     /* range of the inputs */
  void (*forward) (const GradRun *r, const float *x, float *out);
  void (*forward_d) (const GradRun *r, const double *x, double *out);
  void (*backward) (const GradRun *r, const float *x, const float *dout,
                    float *dx);
};

struct GradRun {
  const GradCase *gc;
  int *ids;    /* (N) embedding ids or cross-entropy targets */
  double *mask; /* (n_x) dropout mask, as the kernel draws it */
};

#define GRAD_FD_STEP 1e-5
#define GRAD_TOL 1e-3
#define GRAD_FLOOR 1e-3 /* gradients are O(0.1..1); below this, absolute */
#define GRAD_FWD_TOL 1e-5 /* forward vs double, relative with floor 1 */

#define LN_EPS 1e-5f
#define CE_IGNORE (-1)
#define CE_SCALE 0.7f /* upstream gradient of the mean loss */
#define CE_EPS 0.2f   /* label smoothing of the smoothed case */
#define DROP_P 0.3f
#define DROP_SEED 99

/* layernorm: x = [inp (N, C), weight (C), bias (C)] */
static void
ln_forward (const GradRun *r, const float *x, float *out)
{
  int N = r->gc->N, C = r->gc->C;
  attn_layernorm_forward (out, NULL, NULL, x, x + N * C, x + N * C + C, N, C,
                          LN_EPS);
}

static void
ln_forward_d (const GradRun *r, const double *x, double *out)
{
  int N = r->gc->N, C = r->gc->C;
  const double *w = x + N * C, *b = w + C;
  for (int n = 0; n < N; n++)
    {
      const double *xr = x + n * C;
      double m = 0, v = 0;
      for (int c = 0; c < C; c++)
        m += xr[c] / C;
      for (int c = 0; c < C; c++)
        v += (xr[c] - m) * (xr[c] - m) / C;
      for (int c = 0; c < C; c++)
        out[n * C + c] = (xr[c] - m) / sqrt (v + LN_EPS) * w[c] + b[c];
    }
}

static void
ln_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  int N = r->gc->N, C = r->gc->C;
  g_autofree float *out = g_new (float, N * C); /* (N, C) */
  g_autofree float *mean = g_new (float, N);    /* (N) */
  g_autofree float *rstd = g_new (float, N);    /* (N) */
  attn_layernorm_forward (out, mean, rstd, x, x + N * C, x + N * C + C, N, C,
                          LN_EPS);
  attn_layernorm_backward (dx, dx + N * C, dx + N * C + C, dout, x, x + N * C,
                           mean, rstd, N, C);
}

/* GELU: x = inp (n) */
#define DEFINE_GELU_CASE(suffix, KIND)                                        \
  static void gelu_##suffix##_forward (const GradRun *r, const float *x,     \
                                       float *out)                           \
  {                                                                           \
    attn_gelu_forward (out, x, r->gc->n_x, KIND);                             \
  }                                                                           \
  static void gelu_##suffix##_forward_d (const GradRun *r, const double *x,  \
                                         double *out)                        \
  {                                                                           \
    for (gsize i = 0; i < r->gc->n_x; i++)                                    \
      out[i] = gelu_exact (x[i], KIND);                                       \
  }                                                                           \
  static void gelu_##suffix##_backward (const GradRun *r, const float *x,    \
                                        const float *dout, float *dx)        \
  {                                                                           \
    attn_gelu_backward (dx, dout, x, r->gc->n_x, KIND);                       \
  }

DEFINE_GELU_CASE (erf, ATTN_GELU_ERF)
DEFINE_GELU_CASE (tanh, ATTN_GELU_TANH)

/* ReLU: x = inp (n), kept at least 0.1 away from the kink */
static void
relu_forward (const GradRun *r, const float *x, float *out)
{
  attn_relu_forward (out, x, r->gc->n_x);
}

static void
relu_forward_d (const GradRun *r, const double *x, double *out)
{
  for (gsize i = 0; i < r->gc->n_x; i++)
    out[i] = x[i] > 0 ? x[i] : 0;
}

static void
relu_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  attn_relu_backward (dx, dout, x, r->gc->n_x);
}

/* tanh and sigmoid: x = inp (n); backward from the forward output */
static void
tanh_forward (const GradRun *r, const float *x, float *out)
{
  attn_tanh_forward (out, x, r->gc->n_x);
}

static void
tanh_forward_d (const GradRun *r, const double *x, double *out)
{
  for (gsize i = 0; i < r->gc->n_x; i++)
    out[i] = tanh (x[i]);
}

static void
tanh_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  g_autofree float *out = g_new (float, r->gc->n_x);
  attn_tanh_forward (out, x, r->gc->n_x);
  attn_tanh_backward (dx, dout, out, r->gc->n_x);
}

static void
sigmoid_forward (const GradRun *r, const float *x, float *out)
{
  attn_sigmoid_forward (out, x, r->gc->n_x);
}

static void
sigmoid_forward_d (const GradRun *r, const double *x, double *out)
{
  for (gsize i = 0; i < r->gc->n_x; i++)
    out[i] = 1.0 / (1.0 + exp (-x[i]));
}

static void
sigmoid_backward (const GradRun *r, const float *x, const float *dout,
                  float *dx)
{
  g_autofree float *out = g_new (float, r->gc->n_x);
  attn_sigmoid_forward (out, x, r->gc->n_x);
  attn_sigmoid_backward (dx, dout, out, r->gc->n_x);
}

/* softmax: x = inp (N, C); the last entry of row 0 is masked with -inf */
static void
softmax_forward (const GradRun *r, const float *x, float *out)
{
  attn_softmax_forward (out, x, r->gc->N, r->gc->C);
}

static void
softmax_forward_d (const GradRun *r, const double *x, double *out)
{
  int N = r->gc->N, C = r->gc->C;
  for (int n = 0; n < N; n++)
    {
      double m = -INFINITY, s = 0;
      for (int c = 0; c < C; c++)
        m = fmax (m, x[n * C + c]);
      for (int c = 0; c < C; c++)
        s += exp (x[n * C + c] - m);
      for (int c = 0; c < C; c++)
        out[n * C + c] = exp (x[n * C + c] - m) / s;
    }
}

static void
softmax_backward (const GradRun *r, const float *x, const float *dout,
                  float *dx)
{
  int N = r->gc->N, C = r->gc->C;
  g_autofree float *out = g_new (float, N * C);
  attn_softmax_forward (out, x, N, C);
  attn_softmax_backward (dx, dout, out, N, C);
}

/* cross-entropy: x = logits (N, V = C); out = the mean loss, and dout its
 * upstream gradient is replaced by CE_SCALE (a scalar loss has one). Row 1
 * is ignored. */
static void
ce_forward (const GradRun *r, const float *x, float *out)
{
  out[0] = CE_SCALE * attn_cross_entropy_forward (NULL, NULL, x, r->ids,
                                                  r->gc->N, r->gc->C,
                                                  CE_IGNORE, NULL);
}

static void
ce_forward_d (const GradRun *r, const double *x, double *out)
{
  int N = r->gc->N, V = r->gc->C, counted = 0;
  double total = 0;
  for (int n = 0; n < N; n++)
    {
      if (r->ids[n] == CE_IGNORE)
        continue;
      double s = 0;
      for (int v = 0; v < V; v++)
        s += exp (x[n * V + v]);
      total += log (s) - x[n * V + r->ids[n]];
      counted++;
    }
  out[0] = CE_SCALE * total / counted;
}

static void
ce_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  int N = r->gc->N, V = r->gc->C, counted;
  g_autofree float *probs = g_new (float, N * V);
  g_autofree float *losses = g_new (float, N);
  attn_cross_entropy_forward (losses, probs, x, r->ids, N, V, CE_IGNORE,
                              &counted);
  attn_cross_entropy_backward (dx, probs, r->ids, dout[0] * CE_SCALE / counted,
                               N, V, CE_IGNORE);
}

/* label-smoothed cross-entropy: as cross-entropy, with eps CE_EPS. */
static void
cels_forward (const GradRun *r, const float *x, float *out)
{
  out[0] = CE_SCALE * attn_cross_entropy_smoothed_forward (
                        NULL, NULL, x, r->ids, r->gc->N, r->gc->C, CE_EPS,
                        CE_IGNORE, NULL);
}

/* -sum_v q_v log p_v with q = (1 - eps) onehot + eps / V, in double. */
static void
cels_forward_d (const GradRun *r, const double *x, double *out)
{
  int N = r->gc->N, V = r->gc->C, counted = 0;
  double total = 0;
  for (int n = 0; n < N; n++)
    {
      if (r->ids[n] == CE_IGNORE)
        continue;
      double s = 0;
      for (int v = 0; v < V; v++)
        s += exp (x[n * V + v]);
      for (int v = 0; v < V; v++)
        {
          double q = CE_EPS / V + (v == r->ids[n] ? 1.0 - CE_EPS : 0.0);
          total -= q * (x[n * V + v] - log (s));
        }
      counted++;
    }
  out[0] = CE_SCALE * total / counted;
}

static void
cels_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  int N = r->gc->N, V = r->gc->C, counted;
  g_autofree float *probs = g_new (float, N * V);
  attn_cross_entropy_smoothed_forward (NULL, probs, x, r->ids, N, V, CE_EPS,
                                       CE_IGNORE, &counted);
  attn_cross_entropy_smoothed_backward (dx, probs, r->ids,
                                        dout[0] * CE_SCALE / counted, N, V,
                                        CE_EPS, CE_IGNORE);
}

/* linear: x = [inp (N, C), weight (OC, C), bias (OC)] */
static void
linear_forward (const GradRun *r, const float *x, float *out)
{
  int N = r->gc->N, C = r->gc->C, OC = r->gc->OC;
  attn_linear_forward (out, x, x + N * C, x + N * C + OC * C, N, C, OC);
}

static void
linear_forward_d (const GradRun *r, const double *x, double *out)
{
  int N = r->gc->N, C = r->gc->C, OC = r->gc->OC;
  const double *w = x + N * C, *b = w + OC * C;
  for (int n = 0; n < N; n++)
    for (int o = 0; o < OC; o++)
      {
        double acc = b[o];
        for (int c = 0; c < C; c++)
          acc += x[n * C + c] * w[o * C + c];
        out[n * OC + o] = acc;
      }
}

static void
linear_backward (const GradRun *r, const float *x, const float *dout,
                 float *dx)
{
  int N = r->gc->N, C = r->gc->C, OC = r->gc->OC;
  attn_linear_backward (dx, dx + N * C, dx + N * C + OC * C, dout, x,
                        x + N * C, N, C, OC);
}

/* embedding: x = table (V = OC, C); ids repeat, so rows accumulate */
static void
emb_forward (const GradRun *r, const float *x, float *out)
{
  attn_embedding_forward (out, r->ids, x, r->gc->N, r->gc->OC, r->gc->C);
}

static void
emb_forward_d (const GradRun *r, const double *x, double *out)
{
  int N = r->gc->N, C = r->gc->C;
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      out[n * C + c] = x[r->ids[n] * C + c];
}

static void
emb_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  attn_embedding_backward (dx, dout, r->ids, r->gc->N, r->gc->OC, r->gc->C);
}

/* residual: x = [a (n), b (n)] */
static void
res_forward (const GradRun *r, const float *x, float *out)
{
  gsize n = r->gc->n_out;
  attn_residual_forward (out, x, x + n, n);
}

static void
res_forward_d (const GradRun *r, const double *x, double *out)
{
  gsize n = r->gc->n_out;
  for (gsize i = 0; i < n; i++)
    out[i] = x[i] + x[n + i];
}

static void
res_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  gsize n = r->gc->n_out;
  attn_residual_backward (dx, dx + n, dout, n);
}

/* dropout: x = inp (n); the mask is fixed by reseeding the same GRand */
static void
drop_forward_mask (const GradRun *r, const float *x, float *out, float *mask)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (DROP_SEED);
  attn_dropout_forward (out, mask, x, r->gc->n_x, DROP_P, TRUE, rng);
}

static void
drop_forward (const GradRun *r, const float *x, float *out)
{
  g_autofree float *mask = g_new (float, r->gc->n_x);
  drop_forward_mask (r, x, out, mask);
}

static void
drop_forward_d (const GradRun *r, const double *x, double *out)
{
  for (gsize i = 0; i < r->gc->n_x; i++)
    out[i] = x[i] * r->mask[i];
}

static void
drop_backward (const GradRun *r, const float *x, const float *dout, float *dx)
{
  g_autofree float *out = g_new (float, r->gc->n_x);
  g_autofree float *mask = g_new (float, r->gc->n_x);
  drop_forward_mask (r, x, out, mask);
  attn_dropout_backward (dx, dout, mask, r->gc->n_x);
}

static const GradCase grad_cases[] = {
  { "layernorm", 3, 7, 0, 3 * 7 + 2 * 7, 3 * 7, -2, 2, ln_forward,
    ln_forward_d, ln_backward },
  { "gelu-erf", 0, 0, 0, 61, 61, -5, 5, gelu_erf_forward,
    gelu_erf_forward_d, gelu_erf_backward },
  { "gelu-tanh", 0, 0, 0, 61, 61, -5, 5, gelu_tanh_forward,
    gelu_tanh_forward_d, gelu_tanh_backward },
  { "relu", 0, 0, 0, 40, 40, -2, 2, relu_forward, relu_forward_d,
    relu_backward },
  { "tanh", 0, 0, 0, 40, 40, -3, 3, tanh_forward, tanh_forward_d,
    tanh_backward },
  { "sigmoid", 0, 0, 0, 40, 40, -6, 6, sigmoid_forward, sigmoid_forward_d,
    sigmoid_backward },
  { "softmax", 4, 9, 0, 4 * 9, 4 * 9, -3, 3, softmax_forward,
    softmax_forward_d, softmax_backward },
  { "cross-entropy", 5, 11, 0, 5 * 11, 1, -3, 3, ce_forward, ce_forward_d,
    ce_backward },
  { "cross-entropy-smoothed", 5, 11, 0, 5 * 11, 1, -3, 3, cels_forward,
    cels_forward_d, cels_backward },
  { "linear", 4, 6, 5, 4 * 6 + 5 * 6 + 5, 4 * 5, -1, 1, linear_forward,
    linear_forward_d, linear_backward },
  { "embedding", 9, 4, 5, 5 * 4, 9 * 4, -1, 1, emb_forward, emb_forward_d,
    emb_backward },
  { "residual", 0, 0, 0, 2 * 30, 30, -1, 1, res_forward, res_forward_d,
    res_backward },
  { "dropout", 0, 0, 0, 200, 200, -1, 1, drop_forward, drop_forward_d,
    drop_backward },
};

static double
grad_loss_d (const GradRun *r, const double *x, const float *dout,
             double *out)
{
  r->gc->forward_d (r, x, out);
  double loss = 0;
  for (gsize i = 0; i < r->gc->n_out; i++)
    loss += dout[i] * out[i];
  return loss;
}

static void
test_gradient (gconstpointer data)
{
  const GradCase *gc = data;
  gsize n_x = gc->n_x, n_out = gc->n_out;
  g_autofree float *x = g_new (float, n_x);       /* (n_x) */
  g_autofree float *dout = g_new (float, n_out);  /* (n_out) */
  g_autofree int *ids = g_new0 (int, MAX (gc->N, 1));
  g_autofree double *mask = g_new (double, n_x);
  GradRun run = { gc, ids, mask };

  attn_test_fill_uniform (x, n_x, gc->lo, gc->hi, 21);
  attn_test_fill_uniform (dout, n_out, -1, 1, 22);
  if (gc->forward == relu_forward)
    for (gsize i = 0; i < n_x; i++)
      x[i] += x[i] < 0 ? -0.1f : 0.1f;
  if (gc->forward == softmax_forward)
    x[gc->C - 1] = -INFINITY;
  if (gc->forward == ce_forward || gc->forward == cels_forward)
    for (int n = 0; n < gc->N; n++)
      ids[n] = n == 1 ? CE_IGNORE : (n * 7 + 3) % gc->C;
  if (gc->forward == emb_forward)
    for (int n = 0; n < gc->N; n++)
      ids[n] = (n * 3) % gc->OC;
  if (gc->forward == drop_forward)
    {
      g_autofree float *out = g_new (float, n_x);
      g_autofree float *fmask = g_new (float, n_x);
      drop_forward_mask (&run, x, out, fmask);
      for (gsize i = 0; i < n_x; i++)
        mask[i] = fmask[i];
    }

  g_autofree double *xd = g_new (double, n_x);
  g_autofree double *out_d = g_new (double, n_out);
  for (gsize i = 0; i < n_x; i++)
    xd[i] = x[i];

  /* The kernel's forward agrees with the definition. */
  g_autofree float *out = g_new (float, n_out);
  g_autofree float *out_want = g_new (float, n_out);
  gc->forward (&run, x, out);
  gc->forward_d (&run, xd, out_d);
  for (gsize i = 0; i < n_out; i++)
    out_want[i] = (float) out_d[i];
  attn_test_assert_rel_close ("forward vs double", out, out_want, n_out,
                              GRAD_FWD_TOL, 1.0);

  /* Accumulation: a second call adds the same gradient again. */
  g_autofree float *dx = g_new0 (float, n_x);
  g_autofree float *dx2 = g_new0 (float, n_x);
  gc->backward (&run, x, dout, dx);
  gc->backward (&run, x, dout, dx2);
  gc->backward (&run, x, dout, dx2);
  for (gsize i = 0; i < n_x; i++)
    g_assert_cmpfloat_with_epsilon (dx2[i], 2.0f * dx[i],
                                    1e-6f * MAX (1.0f, fabsf (dx[i])));

  /* Central differences of the double definition. */
  g_autofree float *fd = g_new (float, n_x);
  for (gsize i = 0; i < n_x; i++)
    {
      double keep = xd[i];
      xd[i] = keep + GRAD_FD_STEP;
      double lp = grad_loss_d (&run, xd, dout, out_d);
      xd[i] = keep - GRAD_FD_STEP;
      double lm = grad_loss_d (&run, xd, dout, out_d);
      xd[i] = keep;
      fd[i] = isinf (keep) ? 0.0f : (float) ((lp - lm) / (2 * GRAD_FD_STEP));
    }
  attn_test_assert_rel_close ("backward vs finite differences", dx, fd, n_x,
                              GRAD_TOL, GRAD_FLOOR);
  /* The check has teeth only if the gradient is not (nearly) all zero. */
  float biggest = 0.0f;
  for (gsize i = 0; i < n_x; i++)
    biggest = MAX (biggest, fabsf (fd[i]));
  g_assert_cmpfloat (biggest, >, 0.05f);
}

/* ---- cross-entropy contracts -------------------------------------------- */

static void
test_cross_entropy_ignore (void)
{
  enum { N = 4, V = 6 };
  g_autofree float *logits = g_new (float, N * V); /* (N, V) */
  attn_test_fill_uniform (logits, N * V, -4, 4, 31);
  /* Huge logits would overflow a naive exp. */
  logits[2 * V + 3] = 1000.0f;
  const int targets[N] = { 2, 0, 3, 5 };
  float losses[N], probs[N * V];

  /* Baseline: every row counted. */
  int counted = -1;
  float mean_all = attn_cross_entropy_forward (losses, probs, logits, targets,
                                               N, V, -1, &counted);
  g_assert_cmpint (counted, ==, N);
  g_assert_true (isfinite (mean_all));
  /* Row 2: target is the huge logit, so its loss is ~0, not NaN. */
  g_assert_cmpfloat_with_epsilon (losses[2], 0.0, 1e-6);
  double sum = 0;
  for (int n = 0; n < N; n++)
    {
      /* -log softmax in double */
      double m = -INFINITY, s = 0;
      for (int v = 0; v < V; v++)
        m = fmax (m, logits[n * V + v]);
      for (int v = 0; v < V; v++)
        s += exp (logits[n * V + v] - m);
      double want = log (s) + m - logits[n * V + targets[n]];
      g_assert_cmpfloat_with_epsilon (losses[n], want, 1e-5);
      sum += want;
    }
  g_assert_cmpfloat_with_epsilon (mean_all, sum / N, 1e-5);

  /* ignore_index 0 inside [0, V), as PyTorch allows: row 1 drops out. */
  float losses_ig[N], probs_ig[N * V];
  float mean_ig = attn_cross_entropy_forward (losses_ig, probs_ig, logits,
                                              targets, N, V, 0, &counted);
  g_assert_cmpint (counted, ==, N - 1);
  g_assert_cmpfloat (losses_ig[1], ==, 0.0f);
  g_assert_cmpfloat_with_epsilon (
    mean_ig, (losses[0] + losses[2] + losses[3]) / 3.0, 1e-6);

  float dlogits[N * V];
  for (int i = 0; i < N * V; i++)
    dlogits[i] = 0.0f;
  attn_cross_entropy_backward (dlogits, probs_ig, targets, 1.0f / 3, N, V, 0);
  for (int v = 0; v < V; v++)
    g_assert_cmpfloat (dlogits[1 * V + v], ==, 0.0f);
  /* Counted rows: (probs - onehot) / 3, which sums to 0 over the row. */
  for (int n = 0; n < N; n++)
    {
      if (n == 1)
        continue;
      double row = 0;
      for (int v = 0; v < V; v++)
        {
          double want = (probs_ig[n * V + v] - (v == targets[n])) / 3.0;
          g_assert_cmpfloat_with_epsilon (dlogits[n * V + v], want, 1e-7);
          row += dlogits[n * V + v];
        }
      g_assert_cmpfloat_with_epsilon (row, 0.0, 1e-6);
    }

  /* Every row ignored: mean 0, count 0. */
  const int all_pad[N] = { -1, -1, -1, -1 };
  g_assert_cmpfloat (attn_cross_entropy_forward (losses, NULL, logits,
                                                 all_pad, N, V, -1, &counted),
                     ==, 0.0f);
  g_assert_cmpint (counted, ==, 0);
}

/* eps = 0 is plain cross-entropy, to the bit; eps > 0 moves the loss by
 * eps * (mean_v (-log p_v) - nll) per row. */
static void
test_cross_entropy_smoothed_eps (void)
{
  enum { N = 5, V = 9 };
  float logits[N * V];
  attn_test_fill_uniform (logits, N * V, -4, 4, 37);
  const int targets[N] = { 2, -1, 8, 0, 5 };
  float losses[N], probs[N * V], losses_s[N], probs_s[N * V];
  float d[N * V] = { 0 }, d_s[N * V] = { 0 };
  int counted = 0, counted_s = 0;

  float mean = attn_cross_entropy_forward (losses, probs, logits, targets, N,
                                           V, -1, &counted);
  float mean_s = attn_cross_entropy_smoothed_forward (
    losses_s, probs_s, logits, targets, N, V, 0.0f, -1, &counted_s);
  g_assert_cmpint (counted_s, ==, counted);
  g_assert_cmpfloat (mean_s, ==, mean);
  g_assert_cmpmem (losses_s, sizeof losses_s, losses, sizeof losses);
  g_assert_cmpmem (probs_s, sizeof probs_s, probs, sizeof probs);
  attn_cross_entropy_backward (d, probs, targets, 0.25f, N, V, -1);
  attn_cross_entropy_smoothed_backward (d_s, probs, targets, 0.25f, N, V,
                                        0.0f, -1);
  g_assert_cmpmem (d_s, sizeof d_s, d, sizeof d);

  const float eps = 0.3f;
  attn_cross_entropy_smoothed_forward (losses_s, NULL, logits, targets, N, V,
                                       eps, -1, NULL);
  for (int n = 0; n < N; n++)
    {
      if (targets[n] < 0)
        {
          g_assert_cmpfloat (losses_s[n], ==, 0.0f);
          continue;
        }
      double mean_nlp = 0;
      for (int v = 0; v < V; v++)
        mean_nlp -= log (probs[n * V + v]) / V;
      double want = (1 - eps) * losses[n] + eps * mean_nlp;
      g_assert_cmpfloat_with_epsilon (losses_s[n], want, 1e-5);
    }
}

/* ---- dropout ------------------------------------------------------------ */

static void
test_dropout_statistics (void)
{
  enum { N = 200000 };
  const float ps[] = { 0.1f, 0.5f, 0.9f };
  g_autofree float *x = g_new (float, N);    /* (N) */
  g_autofree float *out = g_new (float, N);  /* (N) */
  g_autofree float *mask = g_new (float, N); /* (N) */
  attn_test_fill_uniform (x, N, 0.5f, 1.5f, 41);

  for (gsize k = 0; k < G_N_ELEMENTS (ps); k++)
    {
      float p = ps[k];
      g_autoptr (GRand) rng = g_rand_new_with_seed (7);
      attn_dropout_forward (out, mask, x, N, p, TRUE, rng);
      gsize zeroed = 0;
      for (gsize i = 0; i < N; i++)
        {
          if (mask[i] == 0.0f)
            {
              zeroed++;
              g_assert_cmpfloat (out[i], ==, 0.0f);
            }
          else
            {
              g_assert_cmpfloat (mask[i], ==, 1.0f / (1.0f - p));
              g_assert_cmpfloat (out[i], ==, x[i] * (1.0f / (1.0f - p)));
            }
        }
      /* Binomial: sd = sqrt (p (1 - p) / N) <= 1.1e-3; allow 5 sd. */
      double frac = (double) zeroed / N;
      double sd = sqrt (p * (1.0 - p) / N);
      g_test_message ("p %.1f: zeroed fraction %.5f", p, frac);
      g_assert_cmpfloat (fabs (frac - p), <=, 5 * sd);

      /* Same seed, same mask; another seed, another mask. */
      g_autofree float *mask2 = g_new (float, N);
      g_autoptr (GRand) rng2 = g_rand_new_with_seed (7);
      attn_dropout_forward (out, mask2, x, N, p, TRUE, rng2);
      g_assert_cmpmem (mask, N * sizeof (float), mask2, N * sizeof (float));
      g_autoptr (GRand) rng3 = g_rand_new_with_seed (8);
      attn_dropout_forward (out, mask2, x, N, p, TRUE, rng3);
      g_assert_true (memcmp (mask, mask2, N * sizeof (float)) != 0);
    }
}

static void
test_dropout_identity (void)
{
  enum { N = 1000 };
  g_autofree float *x = g_new (float, N);
  g_autofree float *out = g_new (float, N);
  g_autofree float *mask = g_new (float, N);
  attn_test_fill_uniform (x, N, -1, 1, 51);
  g_autoptr (GRand) rng = g_rand_new_with_seed (1);
  g_autoptr (GRand) twin = g_rand_copy (rng);
  guint32 before = g_rand_int (twin);

  /* Inference: identity, no mask needed, and the rng is left untouched. */
  attn_dropout_forward (out, NULL, x, N, 0.5f, FALSE, rng);
  g_assert_cmpmem (out, N * sizeof (float), x, N * sizeof (float));
  /* p == 0 while training: identity too; a given mask is all ones. */
  attn_dropout_forward (out, mask, x, N, 0.0f, TRUE, rng);
  g_assert_cmpmem (out, N * sizeof (float), x, N * sizeof (float));
  for (gsize i = 0; i < N; i++)
    g_assert_cmpfloat (mask[i], ==, 1.0f);
  g_assert_cmpuint (g_rand_int (rng), ==, before);
}

/* ---- contracts: a broken one stops the program ------------------------- */

typedef struct {
  const char *name;
  void (*call) (void);
} ContractCase;

static void
bad_embedding_id (void)
{
  const int ids[] = { 0, 5 };
  float table[5 * 2] = { 0 }, out[2 * 2];
  attn_embedding_forward (out, ids, table, 2, 5, 2);
}

static void
bad_embedding_backward_id (void)
{
  const int ids[] = { -1 };
  float dtable[5 * 2] = { 0 }, dout[2] = { 1, 1 };
  attn_embedding_backward (dtable, dout, ids, 1, 5, 2);
}

static void
bad_ce_target (void)
{
  /* -1 is in range of nothing, and ignore_index is 0 here */
  const int targets[] = { 1, -1 };
  float logits[2 * 3] = { 0 };
  attn_cross_entropy_forward (NULL, NULL, logits, targets, 2, 3, 0, NULL);
}

static void
bad_dropout_p (void)
{
  float x[4] = { 1, 2, 3, 4 }, out[4], mask[4];
  g_autoptr (GRand) rng = g_rand_new_with_seed (1);
  attn_dropout_forward (out, mask, x, 4, 1.0f, TRUE, rng);
}

static void
bad_dropout_no_rng (void)
{
  float x[4] = { 1, 2, 3, 4 }, out[4], mask[4];
  attn_dropout_forward (out, mask, x, 4, 0.5f, TRUE, NULL);
}

static void
bad_linear_dims (void)
{
  float x[4] = { 0 }, w[4] = { 0 }, out[4];
  attn_linear_forward (out, x, w, NULL, 0, 2, 2);
}

static void
bad_softmax_dims (void)
{
  float x[4] = { 0 };
  attn_softmax_forward (x, x, 2, 0);
}

static void
bad_layernorm_backward_no_stats (void)
{
  float x[4] = { 0 }, w[2] = { 1, 1 }, d[4] = { 0 };
  attn_layernorm_backward (d, NULL, NULL, x, x, w, NULL, NULL, 2, 2);
}

static const ContractCase contract_cases[] = {
  { "embedding-id", bad_embedding_id },
  { "embedding-backward-id", bad_embedding_backward_id },
  { "cross-entropy-target", bad_ce_target },
  { "dropout-p-one", bad_dropout_p },
  { "dropout-no-rng", bad_dropout_no_rng },
  { "linear-zero-rows", bad_linear_dims },
  { "softmax-zero-columns", bad_softmax_dims },
  { "layernorm-backward-no-stats", bad_layernorm_backward_no_stats },
};

static void
test_contract (gconstpointer data)
{
  const ContractCase *cc = data;
  if (g_test_subprocess ())
    {
      cc->call ();
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_failed ();
  g_test_trap_assert_stderr ("*check failed*");
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
  g_test_add_data_func ("/attn/kernels/gelu-fast/erf",
                        GINT_TO_POINTER (ATTN_GELU_ERF), test_gelu_fast);
  g_test_add_data_func ("/attn/kernels/gelu-fast/tanh",
                        GINT_TO_POINTER (ATTN_GELU_TANH), test_gelu_fast);
  for (gsize i = 0; i < G_N_ELEMENTS (grad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/kernels/gradient/%s",
                                               grad_cases[i].name);
      g_test_add_data_func (path, &grad_cases[i], test_gradient);
    }
  g_test_add_func ("/attn/kernels/cross-entropy-ignore",
                   test_cross_entropy_ignore);
  g_test_add_func ("/attn/kernels/cross-entropy-smoothed-eps",
                   test_cross_entropy_smoothed_eps);
  g_test_add_func ("/attn/kernels/dropout-statistics",
                   test_dropout_statistics);
  g_test_add_func ("/attn/kernels/dropout-identity", test_dropout_identity);
  for (gsize i = 0; i < G_N_ELEMENTS (contract_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/kernels/contract/%s",
                                               contract_cases[i].name);
      g_test_add_data_func (path, &contract_cases[i], test_contract);
    }
  g_test_add_func ("/attn/kernels/softmax-rows", test_softmax_rows);
  g_test_add_func ("/attn/kernels/softmax-all-masked",
                   test_softmax_all_masked);

  return g_test_run ();
}
