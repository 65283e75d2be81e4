/* test-gru.c: self-contained checks of core/attn-gru.c.
 *
 * - Gradients against central finite differences of a plain double GRU
 *   written here from torch.nn.GRU's equations (eps 1e-5, so the numerical
 *   gradient is good to ~1e-9): the cell, a 3-step layer in each direction
 *   and the bidirectional layer with and without padding. Relative error
 *   <= 1e-3, floor 1e-3; the float forward must also match the double one
 *   within 1e-5.
 * - The layer is the cell repeated, bit for bit; the reverse direction is
 *   the forward direction on the reversed input.
 * - Backward accumulates; padding is neither read nor given gradient. */
#include <math.h>
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-gru.h"
#include "tests/attn-test-util.h"

#define FD_EPS 1e-5
#define FD_TOL 1e-3
#define FD_FLOOR 1e-3
#define FWD_TOL 1e-5

/* ---- a plain double GRU, the definition -------------------------------- */

typedef struct {
  const double *wih; /* (3H, C) */
  const double *whh; /* (3H, H) */
  const double *bih; /* (3H) */
  const double *bhh; /* (3H) */
} RefParams;

static double
sigmoid (double v)
{
  return 1.0 / (1.0 + exp (-v));
}

/* h_out (H) from x (C) and h (H); h_out must not alias h. */
static void
ref_step (double *h_out, const double *x, const double *h, const RefParams *p,
          int C, int H)
{
  for (int j = 0; j < H; j++)
    {
      double gi[3], gh[3];
      for (int g = 0; g < 3; g++)
        {
          int row = g * H + j;
          gi[g] = p->bih[row];
          for (int c = 0; c < C; c++)
            gi[g] += p->wih[row * C + c] * x[c];
          gh[g] = p->bhh[row];
          for (int k = 0; k < H; k++)
            gh[g] += p->whh[row * H + k] * h[k];
        }
      double r = sigmoid (gi[0] + gh[0]);
      double z = sigmoid (gi[1] + gh[1]);
      double n = tanh (gi[2] + r * gh[2]);
      h_out[j] = (1.0 - z) * n + z * h[j];
    }
}

/* One direction over positions 0..len-1 of x (T, C): out (T, ld) columns
 * 0..H-1 at each position read, h_n (H). */
static void
ref_direction (double *out, int ld, double *h_n, const double *x,
               const double *h0, const RefParams *p, int len, int C, int H,
               gboolean reverse)
{
  double h[64], h_next[64];
  g_assert_cmpint (H, <=, 64);
  memcpy (h, h0, H * sizeof (double));
  for (int k = 0; k < len; k++)
    {
      int t = reverse ? len - 1 - k : k;
      ref_step (h_next, x + t * C, h, p, C, H);
      memcpy (h, h_next, H * sizeof (double));
      memcpy (out + t * ld, h, H * sizeof (double));
    }
  memcpy (h_n, h, H * sizeof (double));
}

/* ---- cases ------------------------------------------------------------- */

typedef enum { KIND_CELL, KIND_LAYER, KIND_BI } Kind;

typedef struct {
  const char *name;
  Kind kind;
  int rows; /* B for the cell, T for the layers */
  int len;  /* KIND_BI: real rows */
  gboolean reverse;
} FdCase;

static const FdCase fd_cases[] = {
  { "cell", KIND_CELL, 2, 0, FALSE },
  { "layer-forward", KIND_LAYER, 3, 3, FALSE },
  { "layer-reverse", KIND_LAYER, 3, 3, TRUE },
  { "bi", KIND_BI, 3, 3, FALSE },
  { "bi-padded", KIND_BI, 4, 2, FALSE },
};

enum { C_IN = 5, H_HID = 4 };

/* Every value that the loss depends on, float (what the code under test
 * gets) and the same values in double (what the finite differences move).
 * Index 0/1 of the parameters: forward/reverse direction. */
enum { V_WIH0, V_WHH0, V_BIH0, V_BHH0, V_WIH1, V_WHH1, V_BIH1, V_BHH1,
       V_X, V_H0, N_VALUES };
static const char *const value_names[N_VALUES] = {
  "weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_ih_reverse",
  "weight_hh_reverse", "bias_ih_reverse", "bias_hh_reverse", "x", "h0",
};

typedef struct {
  const FdCase *tc;
  int D; /* directions */
  gsize n[N_VALUES];
  float *f[N_VALUES];
  double *d[N_VALUES];
  gsize n_out;  /* (rows, D*H) */
  float *dout;  /* (rows, D*H) upstream gradient on the output */
  float *dh_n;  /* (D, H) upstream gradient on the final state; layers */
} Problem;

static void
problem_init (Problem *pb, const FdCase *tc)
{
  const int C = C_IN, H = H_HID;
  memset (pb, 0, sizeof *pb);
  pb->tc = tc;
  pb->D = tc->kind == KIND_BI ? 2 : 1;
  for (int d = 0; d < pb->D; d++)
    {
      pb->n[V_WIH0 + 4 * d] = 3 * H * C;
      pb->n[V_WHH0 + 4 * d] = 3 * H * H;
      pb->n[V_BIH0 + 4 * d] = 3 * H;
      pb->n[V_BHH0 + 4 * d] = 3 * H;
    }
  pb->n[V_X] = (gsize) tc->rows * C;
  pb->n[V_H0] = (gsize) (tc->kind == KIND_CELL ? tc->rows : pb->D) * H;
  for (int v = 0; v < N_VALUES; v++)
    {
      if (pb->n[v] == 0)
        continue;
      pb->f[v] = g_new (float, pb->n[v]);
      pb->d[v] = g_new (double, pb->n[v]);
      float range = v < V_X ? 0.7f : 1.0f;
      attn_test_fill_uniform (pb->f[v], pb->n[v], -range, range, 100 + v);
      for (gsize i = 0; i < pb->n[v]; i++)
        pb->d[v][i] = pb->f[v][i];
    }
  pb->n_out = (gsize) tc->rows * pb->D * H;
  pb->dout = g_new (float, pb->n_out);
  attn_test_fill_uniform (pb->dout, pb->n_out, -1.0f, 1.0f, 200);
  pb->dh_n = g_new (float, pb->D * H);
  attn_test_fill_uniform (pb->dh_n, pb->D * H, -1.0f, 1.0f, 201);
}

static void
problem_clear (Problem *pb)
{
  for (int v = 0; v < N_VALUES; v++)
    {
      g_free (pb->f[v]);
      g_free (pb->d[v]);
    }
  g_free (pb->dout);
  g_free (pb->dh_n);
}

/* The double forward: out (rows, D*H) and h_n (D, H) (layers only). */
static void
problem_ref_forward (const Problem *pb, double *out, double *h_n)
{
  const FdCase *tc = pb->tc;
  const int C = C_IN, H = H_HID;
  RefParams p[2];
  for (int d = 0; d < pb->D; d++)
    p[d] = (RefParams) { pb->d[V_WIH0 + 4 * d], pb->d[V_WHH0 + 4 * d],
                         pb->d[V_BIH0 + 4 * d], pb->d[V_BHH0 + 4 * d] };
  if (tc->kind == KIND_CELL)
    {
      for (int b = 0; b < tc->rows; b++)
        ref_step (out + b * H, pb->d[V_X] + b * C, pb->d[V_H0] + b * H, &p[0],
                  C, H);
      return;
    }
  memset (out, 0, pb->n_out * sizeof (double));
  for (int d = 0; d < pb->D; d++)
    ref_direction (out + d * H, pb->D * H, h_n + d * H, pb->d[V_X],
                   pb->d[V_H0] + d * H, &p[d], tc->len, C, H,
                   tc->reverse || d == 1);
}

static double
problem_ref_loss (const Problem *pb)
{
  double out[256], h_n[2 * H_HID];
  g_assert_cmpuint (pb->n_out, <=, G_N_ELEMENTS (out));
  problem_ref_forward (pb, out, h_n);
  double loss = 0.0;
  for (gsize i = 0; i < pb->n_out; i++)
    loss += pb->dout[i] * out[i];
  if (pb->tc->kind != KIND_CELL)
    for (int i = 0; i < pb->D * H_HID; i++)
      loss += pb->dh_n[i] * h_n[i];
  return loss;
}

static AttnGruParams
problem_params (const Problem *pb, int d)
{
  return (AttnGruParams) { pb->f[V_WIH0 + 4 * d], pb->f[V_WHH0 + 4 * d],
                           pb->f[V_BIH0 + 4 * d], pb->f[V_BHH0 + 4 * d] };
}

/* Runs the code under test: out (rows, D*H), and every gradient into
 * grad[v] (zeroed first, n[v] floats each). */
static void
problem_run (const Problem *pb, float *out, float **grad)
{
  const FdCase *tc = pb->tc;
  const int C = C_IN, H = H_HID, D = pb->D;
  AttnGruParams w[2], g[2];
  for (int d = 0; d < D; d++)
    {
      w[d] = problem_params (pb, d);
      g[d] = (AttnGruParams) { grad[V_WIH0 + 4 * d], grad[V_WHH0 + 4 * d],
                               grad[V_BIH0 + 4 * d], grad[V_BHH0 + 4 * d] };
    }
  for (int v = 0; v < N_VALUES; v++)
    if (pb->n[v] > 0)
      memset (grad[v], 0, pb->n[v] * sizeof (float));

  if (tc->kind == KIND_CELL)
    {
      const int B = tc->rows;
      g_autofree float *saved = g_new (float, B * ATTN_GRU_SAVED * H);
      g_autofree float *work = g_new (float, B * ATTN_GRU_WORK * H);
      attn_gru_cell_forward (out, saved, work, pb->f[V_X], pb->f[V_H0], &w[0],
                             B, C, H);
      attn_gru_cell_backward (grad[V_X], grad[V_H0], &g[0], work, pb->dout,
                              saved, pb->f[V_X], pb->f[V_H0], &w[0], B, C, H);
      return;
    }

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGruActs) a0 = attn_gru_acts_new (tc->rows, H, &error);
  g_assert_no_error (error);
  g_autoptr (AttnGruActs) a1 = attn_gru_acts_new (tc->rows, H, &error);
  g_assert_no_error (error);
  AttnGruActs *acts[2] = { a0, a1 };
  float h_n[2 * H_HID];
  if (tc->kind == KIND_LAYER)
    {
      attn_gru_forward (out, h_n, a0, pb->f[V_X], pb->f[V_H0], &w[0], tc->rows,
                        C, H, tc->reverse);
      attn_gru_backward (grad[V_X], grad[V_H0], &g[0], a0, pb->dout, pb->dh_n,
                         pb->f[V_X], &w[0], tc->rows, C, H, tc->reverse);
    }
  else
    {
      attn_gru_bi_forward (out, h_n, acts, pb->f[V_X], pb->f[V_H0], w,
                           tc->rows, tc->len, C, H);
      attn_gru_bi_backward (grad[V_X], grad[V_H0], g, acts, pb->dout, pb->dh_n,
                            pb->f[V_X], w, tc->rows, tc->len, C, H);
    }
}

static void
test_finite_differences (gconstpointer data)
{
  const FdCase *tc = data;
  Problem pb;
  problem_init (&pb, tc);

  float *grad[N_VALUES] = { NULL };
  for (int v = 0; v < N_VALUES; v++)
    if (pb.n[v] > 0)
      grad[v] = g_new (float, pb.n[v]);
  g_autofree float *out = g_new (float, pb.n_out);
  problem_run (&pb, out, grad);

  /* The float forward is the double one, to float rounding. */
  double ref_out[256], ref_h_n[2 * H_HID];
  problem_ref_forward (&pb, ref_out, ref_h_n);
  g_autofree float *ref_outf = g_new (float, pb.n_out);
  for (gsize i = 0; i < pb.n_out; i++)
    ref_outf[i] = (float) ref_out[i];
  attn_test_assert_close ("out vs double forward", out, ref_outf, pb.n_out,
                          FWD_TOL);

  for (int v = 0; v < N_VALUES; v++)
    {
      if (pb.n[v] == 0)
        continue;
      g_autofree float *numeric = g_new (float, pb.n[v]);
      for (gsize i = 0; i < pb.n[v]; i++)
        {
          double keep = pb.d[v][i];
          pb.d[v][i] = keep + FD_EPS;
          double up = problem_ref_loss (&pb);
          pb.d[v][i] = keep - FD_EPS;
          double down = problem_ref_loss (&pb);
          pb.d[v][i] = keep;
          numeric[i] = (float) ((up - down) / (2.0 * FD_EPS));
        }
      g_autofree char *what =
        g_strdup_printf ("%s: d%s", tc->name, value_names[v]);
      attn_test_assert_rel_close (what, grad[v], numeric, pb.n[v], FD_TOL,
                                  FD_FLOOR);
      /* A gradient that is all zero would pass against an all-zero
       * numerical one; make sure there was something to check. */
      float biggest = 0.0f;
      for (gsize i = 0; i < pb.n[v]; i++)
        biggest = MAX (biggest, fabsf (numeric[i]));
      g_assert_cmpfloat (biggest, >, 1e-2);
    }

  for (int v = 0; v < N_VALUES; v++)
    g_free (grad[v]);
  problem_clear (&pb);
}

/* ---- exact identities -------------------------------------------------- */

enum { EX_T = 7, EX_C = 5, EX_H = 6 };

typedef struct {
  float wih[3 * EX_H * EX_C];
  float whh[3 * EX_H * EX_H];
  float bih[3 * EX_H];
  float bhh[3 * EX_H];
  AttnGruParams w;
  float x[EX_T * EX_C];
  float h0[EX_H];
} ExactSetup;

static void
exact_setup (ExactSetup *s, guint32 seed)
{
  attn_test_fill_uniform (s->wih, G_N_ELEMENTS (s->wih), -0.7f, 0.7f, seed);
  attn_test_fill_uniform (s->whh, G_N_ELEMENTS (s->whh), -0.7f, 0.7f, seed + 1);
  attn_test_fill_uniform (s->bih, G_N_ELEMENTS (s->bih), -0.7f, 0.7f, seed + 2);
  attn_test_fill_uniform (s->bhh, G_N_ELEMENTS (s->bhh), -0.7f, 0.7f, seed + 3);
  attn_test_fill_uniform (s->x, G_N_ELEMENTS (s->x), -2.0f, 2.0f, seed + 4);
  attn_test_fill_uniform (s->h0, G_N_ELEMENTS (s->h0), -1.0f, 1.0f, seed + 5);
  s->w = (AttnGruParams) { s->wih, s->whh, s->bih, s->bhh };
}

static void
test_layer_is_cells (void)
{
  ExactSetup s;
  exact_setup (&s, 11);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGruActs) acts = attn_gru_acts_new (EX_T, EX_H, &error);
  g_assert_no_error (error);
  float out[EX_T * EX_H], h_n[EX_H];
  attn_gru_forward (out, h_n, acts, s.x, s.h0, &s.w, EX_T, EX_C, EX_H, FALSE);

  float h[EX_H], saved[ATTN_GRU_SAVED * EX_H], work[ATTN_GRU_WORK * EX_H];
  memcpy (h, s.h0, sizeof h);
  for (int t = 0; t < EX_T; t++)
    {
      /* In place, as a decoder at inference would step. */
      attn_gru_cell_forward (h, saved, work, s.x + t * EX_C, h, &s.w, 1, EX_C,
                             EX_H);
      g_assert_cmpmem (h, sizeof h, out + t * EX_H, sizeof h);
    }
  g_assert_cmpmem (h, sizeof h, h_n, sizeof h_n);
  /* And the states moved: a layer that ignored its input would fail too. */
  g_assert_cmpfloat (attn_max_abs_diff (out, out + EX_H, EX_H), >, 1e-2);
}

static void
test_reverse_is_reversed_input (void)
{
  ExactSetup s;
  exact_setup (&s, 23);
  float xr[EX_T * EX_C];
  for (int t = 0; t < EX_T; t++)
    memcpy (xr + t * EX_C, s.x + (EX_T - 1 - t) * EX_C, EX_C * sizeof (float));
  float dout[EX_T * EX_H], doutr[EX_T * EX_H], dh_n[EX_H];
  attn_test_fill_uniform (dout, G_N_ELEMENTS (dout), -1.0f, 1.0f, 29);
  attn_test_fill_uniform (dh_n, G_N_ELEMENTS (dh_n), -1.0f, 1.0f, 31);
  for (int t = 0; t < EX_T; t++)
    memcpy (doutr + t * EX_H, dout + (EX_T - 1 - t) * EX_H,
            EX_H * sizeof (float));

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGruActs) acts = attn_gru_acts_new (EX_T, EX_H, &error);
  g_assert_no_error (error);

  /* 0: reverse direction on x; 1: forward direction on reversed x. */
  float out[2][EX_T * EX_H], h_n[2][EX_H], dx[2][EX_T * EX_C], dh0[2][EX_H];
  float dwih[2][3 * EX_H * EX_C], dwhh[2][3 * EX_H * EX_H];
  float dbih[2][3 * EX_H], dbhh[2][3 * EX_H];
  memset (dx, 0, sizeof dx);
  memset (dh0, 0, sizeof dh0);
  memset (dwih, 0, sizeof dwih);
  memset (dwhh, 0, sizeof dwhh);
  memset (dbih, 0, sizeof dbih);
  memset (dbhh, 0, sizeof dbhh);
  for (int i = 0; i < 2; i++)
    {
      const float *xi = i == 0 ? s.x : xr;
      AttnGruParams g = { dwih[i], dwhh[i], dbih[i], dbhh[i] };
      attn_gru_forward (out[i], h_n[i], acts, xi, s.h0, &s.w, EX_T, EX_C,
                        EX_H, i == 0);
      attn_gru_backward (dx[i], dh0[i], &g, acts, i == 0 ? dout : doutr, dh_n,
                         xi, &s.w, EX_T, EX_C, EX_H, i == 0);
    }

  for (int t = 0; t < EX_T; t++)
    {
      int tr = EX_T - 1 - t;
      g_assert_cmpmem (out[0] + t * EX_H, EX_H * sizeof (float),
                       out[1] + tr * EX_H, EX_H * sizeof (float));
      attn_test_assert_rel_close ("dx row", dx[0] + t * EX_C,
                                  dx[1] + tr * EX_C, EX_C, 1e-6, 1e-3);
    }
  g_assert_cmpmem (h_n[0], sizeof h_n[0], h_n[1], sizeof h_n[1]);
  /* The weight gradients sum the same T terms in the opposite order, so
   * they agree to float rounding of sums of unit-scale terms: 1e-5
   * relative, floor 0.1. */
  attn_test_assert_rel_close ("dh0", dh0[0], dh0[1], EX_H, 1e-5, 0.1);
  attn_test_assert_rel_close ("dweight_ih", dwih[0], dwih[1],
                              G_N_ELEMENTS (dwih[0]), 1e-5, 0.1);
  attn_test_assert_rel_close ("dweight_hh", dwhh[0], dwhh[1],
                              G_N_ELEMENTS (dwhh[0]), 1e-5, 0.1);
  attn_test_assert_rel_close ("dbias_ih", dbih[0], dbih[1], 3 * EX_H, 1e-5,
                              0.1);
  attn_test_assert_rel_close ("dbias_hh", dbhh[0], dbhh[1], 3 * EX_H, 1e-5,
                              0.1);
}

/* ---- conventions ------------------------------------------------------- */

/* Backward adds to what the gradient buffers hold. */
static void
test_backward_accumulates (void)
{
  ExactSetup s[2];
  exact_setup (&s[0], 41);
  exact_setup (&s[1], 47);
  AttnGruParams w[2] = { s[0].w, s[1].w };
  const int T = EX_T, len = 5;
  float h0[2 * EX_H], dout[EX_T * 2 * EX_H], dh_n[2 * EX_H];
  memcpy (h0, s[0].h0, sizeof s[0].h0);
  memcpy (h0 + EX_H, s[1].h0, sizeof s[1].h0);
  attn_test_fill_uniform (dout, G_N_ELEMENTS (dout), -1.0f, 1.0f, 53);
  attn_test_fill_uniform (dh_n, G_N_ELEMENTS (dh_n), -1.0f, 1.0f, 59);

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGruActs) a0 = attn_gru_acts_new (len, EX_H, &error);
  g_autoptr (AttnGruActs) a1 = attn_gru_acts_new (len, EX_H, &error);
  g_assert_no_error (error);
  AttnGruActs *acts[2] = { a0, a1 };
  float out[EX_T * 2 * EX_H], h_n[2 * EX_H];
  attn_gru_bi_forward (out, h_n, acts, s[0].x, h0, w, T, len, EX_C, EX_H);

  /* Every gradient of both directions, in one buffer: run 0 starts from 0,
   * run 1 from 0.5. */
  const gsize n_w = 3 * EX_H * (EX_C + EX_H + 2);
  const gsize n_all = 2 * n_w + T * EX_C + 2 * EX_H;
  g_autofree float *all = g_new (float, 2 * n_all);
  for (int run = 0; run < 2; run++)
    {
      float *base = all + run * n_all;
      for (gsize i = 0; i < n_all; i++)
        base[i] = run == 0 ? 0.0f : 0.5f;
      AttnGruParams g[2];
      for (int d = 0; d < 2; d++)
        {
          float *gd = base + d * n_w;
          g[d] = (AttnGruParams) { gd, gd + 3 * EX_H * EX_C,
                                   gd + 3 * EX_H * (EX_C + EX_H),
                                   gd + 3 * EX_H * (EX_C + EX_H + 1) };
        }
      float *dx = base + 2 * n_w;
      float *dh0 = dx + T * EX_C;
      attn_gru_bi_backward (dx, dh0, g, acts, dout, dh_n, s[0].x, w, T, len,
                            EX_C, EX_H);
    }
  g_autofree float *want = g_new (float, n_all);
  for (gsize i = 0; i < n_all; i++)
    want[i] = all[i] + 0.5f;
  attn_test_assert_close ("gradients on top of 0.5", all + n_all, want, n_all,
                          1e-5);
}

/* Padding rows are never read and get no gradient; real rows come out as if
 * the sequence had no padding. */
static void
test_padding (void)
{
  ExactSetup s[2];
  exact_setup (&s[0], 61);
  exact_setup (&s[1], 67);
  AttnGruParams w[2] = { s[0].w, s[1].w };
  const int T = EX_T, len = 4;
  float h0[2 * EX_H], dout[EX_T * 2 * EX_H], dh_n[2 * EX_H];
  memcpy (h0, s[0].h0, sizeof s[0].h0);
  memcpy (h0 + EX_H, s[1].h0, sizeof s[1].h0);
  attn_test_fill_uniform (dout, G_N_ELEMENTS (dout), -1.0f, 1.0f, 71);
  attn_test_fill_uniform (dh_n, G_N_ELEMENTS (dh_n), -1.0f, 1.0f, 73);

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGruActs) a0 = attn_gru_acts_new (T, EX_H, &error);
  g_autoptr (AttnGruActs) a1 = attn_gru_acts_new (T, EX_H, &error);
  g_assert_no_error (error);
  AttnGruActs *acts[2] = { a0, a1 };

  /* 0: padded to T with NaN input; 1: the same len rows alone. */
  float x[EX_T * EX_C];
  memcpy (x, s[0].x, sizeof x);
  for (int i = len * EX_C; i < T * EX_C; i++)
    x[i] = NAN;
  float out[2][EX_T * 2 * EX_H], h_n[2][2 * EX_H], dx[2][EX_T * EX_C];
  float dh0[2][2 * EX_H];
  for (int i = 0; i < 2; i++)
    {
      int rows = i == 0 ? T : len;
      for (int j = 0; j < T * 2 * EX_H; j++)
        out[i][j] = 7.0f;
      memset (dx[i], 0, sizeof dx[i]);
      memset (dh0[i], 0, sizeof dh0[i]);
      attn_gru_bi_forward (out[i], h_n[i], acts, x, h0, w, rows, len, EX_C,
                           EX_H);
      attn_gru_bi_backward (dx[i], dh0[i], NULL, acts, dout, dh_n, x, w, rows,
                            len, EX_C, EX_H);
    }
  const gsize real = len * 2 * EX_H;
  g_assert_cmpmem (out[0], real * sizeof (float), out[1],
                   real * sizeof (float));
  for (gsize j = real; j < T * 2 * EX_H; j++)
    g_assert_cmpfloat (out[0][j], ==, 0.0f);
  g_assert_cmpmem (h_n[0], sizeof h_n[0], h_n[1], sizeof h_n[1]);
  g_assert_cmpmem (dx[0], len * EX_C * sizeof (float), dx[1],
                   len * EX_C * sizeof (float));
  for (int j = len * EX_C; j < T * EX_C; j++)
    g_assert_cmpfloat (dx[0][j], ==, 0.0f);
  g_assert_cmpmem (dh0[0], sizeof dh0[0], dh0[1], sizeof dh0[1]);
  for (gsize j = 0; j < real; j++)
    g_assert_true (isfinite (out[0][j]));
}

/* An empty sequence passes h0 through, and its gradient back. */
static void
test_empty (void)
{
  ExactSetup s;
  exact_setup (&s, 79);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGruActs) acts = attn_gru_acts_new (1, EX_H, &error);
  g_assert_no_error (error);
  float h_n[EX_H], dh_n[EX_H], dh0[EX_H] = { 0 };
  attn_test_fill_uniform (dh_n, EX_H, -1.0f, 1.0f, 83);
  attn_gru_forward (NULL, h_n, acts, NULL, s.h0, &s.w, 0, EX_C, EX_H, FALSE);
  g_assert_cmpmem (h_n, sizeof h_n, s.h0, sizeof s.h0);
  attn_gru_backward (NULL, dh0, NULL, acts, NULL, dh_n, NULL, &s.w, 0, EX_C,
                     EX_H, FALSE);
  g_assert_cmpmem (dh0, sizeof dh0, dh_n, sizeof dh_n);
}

static void
test_acts_too_large (void)
{
  g_autoptr (GError) error = NULL;
  AttnGruActs *acts = attn_gru_acts_new (G_MAXINT, G_MAXINT, &error);
  g_assert_null (acts);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (fd_cases); i++)
    {
      g_autofree char *path =
        g_strdup_printf ("/attn/gru/finite-differences/%s", fd_cases[i].name);
      g_test_add_data_func (path, &fd_cases[i], test_finite_differences);
    }
  g_test_add_func ("/attn/gru/layer-is-cells", test_layer_is_cells);
  g_test_add_func ("/attn/gru/reverse-is-reversed-input",
                   test_reverse_is_reversed_input);
  g_test_add_func ("/attn/gru/backward-accumulates",
                   test_backward_accumulates);
  g_test_add_func ("/attn/gru/padding", test_padding);
  g_test_add_func ("/attn/gru/empty", test_empty);
  g_test_add_func ("/attn/gru/acts-too-large", test_acts_too_large);
  return g_test_run ();
}
