/* test-attention-reference.c: core/attn-attention.c against PyTorch.
 *
 * tests/data/attention.json is made by make-attention-fixtures.py (see
 * there): torch.nn.MultiheadAttention and the papers' formulas for the RNN
 * scores and local-p, evaluated in float64 on float32 inputs, gradients by
 * autograd. Tolerances:
 * - weights, outputs, contexts and p_t: max abs error 1e-5;
 * - gradients: max relative error 1e-4, relative to max (|torch|, 1e-2), i.e.
 *   entries smaller than 0.01 are held to 1e-6 absolute (some are exactly 0
 *   in torch, such as the key bias's, which no softmax can see). */
#include <string.h>

#include "core/attn-attention.h"
#include "tests/attn-test-util.h"

#define FIXTURE "attention.json"
#define OUT_TOL 1e-5
#define GRAD_TOL 1e-4
#define GRAD_FLOOR 1e-2

static JsonObject *
fixture (void)
{
  return attn_test_fixture (FIXTURE);
}

static float *
fx (const char *prefix, const char *name, gsize n)
{
  g_autofree char *key = g_strdup_printf ("%s.%s", prefix, name);
  return attn_test_floats (fixture (), key, n);
}

static guint8 *
fx_mask (const char *prefix, gsize n)
{
  g_autofree char *key = g_strdup_printf ("%s.pad", prefix);
  g_autofree int *ints = attn_test_ints (fixture (), key, n);
  guint8 *mask = g_new (guint8, n);
  for (gsize i = 0; i < n; i++)
    mask[i] = (guint8) ints[i];
  return mask;
}

static int
fx_int (const char *key)
{
  return (int) attn_test_number (fixture (), key);
}

static void
check_out (const char *prefix, const char *name, const float *got, gsize n)
{
  g_autofree float *want = fx (prefix, name, n);
  g_autofree char *what = g_strdup_printf ("%s.%s", prefix, name);
  attn_test_assert_close (what, got, want, n, OUT_TOL);
}

static void
check_grad (const char *prefix, const char *name, const float *got, gsize n)
{
  g_autofree float *want = fx (prefix, name, n);
  g_autofree char *what = g_strdup_printf ("%s.%s", prefix, name);
  attn_test_assert_rel_close (what, got, want, n, GRAD_TOL, GRAD_FLOOR);
}

/* ---- multi-head attention ----------------------------------------------- */

typedef struct {
  const char *name;
  gboolean cross;  /* separate xkv (B, S, C); else self-attention on x */
  gboolean causal;
  gboolean padded; /* the fixture has "<name>.pad" */
} MhaCase;

static const MhaCase mha_cases[] = {
  { "self", FALSE, FALSE, FALSE },
  { "causal", FALSE, TRUE, FALSE },
  { "padding", FALSE, FALSE, TRUE },
  { "cross", TRUE, FALSE, TRUE },
};

static const char *const mha_param_names[8] = {
  "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo",
};

/* Member i of p, in the order of mha_param_names. */
static float **
mha_slot (AttnMhaParams *p, int i)
{
  float **slots[8] = {
    &p->wq, &p->bq, &p->wk, &p->bk, &p->wv, &p->bv, &p->wo, &p->bo,
  };
  return slots[i];
}

static void
test_mha (gconstpointer data)
{
  const MhaCase *c = data;
  const int B = fx_int ("mha.B"), T = fx_int ("mha.T"), C = fx_int ("mha.C");
  const int NH = fx_int ("mha.NH");
  const int S = c->cross ? fx_int ("mha.S") : T;
  const AttnMhaDims dims = { B, T, S, C, NH };
  const gsize nq = (gsize) B * T * C, nkv = (gsize) B * S * C;

  AttnMhaParams p = { 0 }, g = { 0 };
  for (int i = 0; i < 8; i++)
    {
      /* weights (C, C) at even indices, biases (C) at odd */
      gsize n = (i % 2 == 0) ? (gsize) C * C : (gsize) C;
      *mha_slot (&p, i) = fx ("mha", mha_param_names[i], n);
      *mha_slot (&g, i) = g_new0 (float, n);
    }

  g_autofree float *xq = fx ("mha", "x", nq);
  g_autofree float *xkv_own = c->cross ? fx ("mha", "xkv", nkv) : NULL;
  const float *xkv = c->cross ? xkv_own : xq;
  g_autofree guint8 *pad = c->padded ? fx_mask (c->name, (gsize) B * S)
                                     : NULL;

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnMhaActs) acts = attn_mha_acts_new (&dims, &error);
  g_assert_no_error (error);
  g_autofree float *out = g_new (float, nq);
  const gsize natt = (gsize) B * NH * T * S;

  /* The plain reference forward first, then the fast one (whose acts the
   * backward reads). */
  attn_mha_forward_ref (out, acts, xq, xkv, &p, c->causal, pad, NULL);
  check_out (c->name, "out", out, nq);
  check_out (c->name, "att", acts->att, natt);
  attn_mha_forward (out, acts, xq, xkv, &p, c->causal, pad, NULL);
  check_out (c->name, "out", out, nq);
  check_out (c->name, "att", acts->att, natt);

  g_autofree float *gout = fx (c->name, "gout", nq);
  g_autofree float *dxq = g_new0 (float, nq);
  g_autofree float *dxkv_own = c->cross ? g_new0 (float, nkv) : NULL;
  /* Self-attention: one gradient buffer gets both contributions, as torch's
   * x.grad does. */
  float *dxkv = c->cross ? dxkv_own : dxq;
  attn_mha_backward (dxq, dxkv, &g, gout, acts, xq, xkv, &p, NULL);
  if (c->cross)
    {
      check_grad (c->name, "dxq", dxq, nq);
      check_grad (c->name, "dxkv", dxkv, nkv);
    }
  else
    check_grad (c->name, "dx", dxq, nq);
  for (int i = 0; i < 8; i++)
    {
      g_autofree char *name = g_strdup_printf ("d%s", mha_param_names[i]);
      check_grad (c->name, name, *mha_slot (&g, i),
                  (i % 2 == 0) ? (gsize) C * C : (gsize) C);
    }

  for (int i = 0; i < 8; i++)
    {
      g_free (*mha_slot (&p, i));
      g_free (*mha_slot (&g, i));
    }
}

/* ---- RNN scores and local-p --------------------------------------------- */

typedef struct {
  const char *name;   /* fixture prefix */
  AttnScoreKind kind;
  gboolean padded;
  gboolean local;     /* local-p with this align score */
} RnnCase;

static const RnnCase rnn_cases[] = {
  { "additive", ATTN_SCORE_ADDITIVE, TRUE, FALSE },
  { "dot", ATTN_SCORE_DOT, TRUE, FALSE },
  { "general", ATTN_SCORE_GENERAL, FALSE, FALSE },
  { "concat", ATTN_SCORE_CONCAT, FALSE, FALSE },
  { "local_general", ATTN_SCORE_GENERAL, FALSE, TRUE },
  { "local_additive", ATTN_SCORE_ADDITIVE, TRUE, TRUE },
};

/* Parameter tensors of each kind: fixture name, member, element count. */
typedef struct {
  const char *name;
  gsize n;
  float *value, *grad;
} RnnParam;

static int
rnn_params (const AttnScoreDims *d, RnnParam out[4])
{
  const gsize A = d->A, Dq = d->Dq, Dk = d->Dk;
  switch (d->kind)
    {
    case ATTN_SCORE_ADDITIVE:
      out[0] = (RnnParam){ "w_q", A * Dq };
      out[1] = (RnnParam){ "w_k", A * Dk };
      out[2] = (RnnParam){ "b", A };
      out[3] = (RnnParam){ "v", A };
      return 4;
    case ATTN_SCORE_DOT:
      return 0;
    case ATTN_SCORE_GENERAL:
      out[0] = (RnnParam){ "w", Dq * Dk };
      return 1;
    case ATTN_SCORE_CONCAT:
      out[0] = (RnnParam){ "w_c", A * (Dq + Dk) };
      out[1] = (RnnParam){ "v", A };
      return 2;
    }
  g_assert_not_reached ();
}

static void
bind_score (AttnScoreParams *p, const char *name, float *x)
{
  if (strcmp (name, "w_q") == 0)
    p->w_q = x;
  else if (strcmp (name, "w_k") == 0)
    p->w_k = x;
  else if (strcmp (name, "b") == 0)
    p->b = x;
  else if (strcmp (name, "w") == 0)
    p->w = x;
  else if (strcmp (name, "w_c") == 0)
    p->w_c = x;
  else if (strcmp (name, "v") == 0)
    p->v = x;
  else
    g_assert_not_reached ();
}

static void
test_rnn (gconstpointer data)
{
  const RnnCase *c = data;
  AttnScoreDims d = {
    .kind = c->kind, .Tq = fx_int ("rnn.Tq"), .S = fx_int ("rnn.S"),
    .Dq = fx_int ("rnn.Dq"), .Dk = fx_int ("rnn.Dk"), .A = fx_int ("rnn.A"),
  };
  /* Luong dot needs Dq == Dk: its queries are the separate "qd". */
  if (c->kind == ATTN_SCORE_DOT)
    d.Dq = d.Dk;
  const int Tq = d.Tq, S = d.S, Dq = d.Dq, Dk = d.Dk;

  RnnParam rp[4];
  int np = rnn_params (&d, rp);
  AttnScoreParams p = { 0 }, g = { 0 };
  for (int i = 0; i < np; i++)
    {
      rp[i].value = fx ("rnn", rp[i].name, rp[i].n);
      rp[i].grad = g_new0 (float, rp[i].n);
      bind_score (&p, rp[i].name, rp[i].value);
      bind_score (&g, rp[i].name, rp[i].grad);
    }
  g_autofree float *q = fx ("rnn", c->kind == ATTN_SCORE_DOT ? "qd" : "q",
                            (gsize) Tq * Dq);
  g_autofree float *keys = fx ("rnn", "keys", (gsize) S * Dk);
  g_autofree guint8 *pad = c->padded ? fx_mask (c->name, S) : NULL;
  g_autofree float *ctx = g_new (float, (gsize) Tq * Dk);
  g_autofree float *gctx = fx (c->name, "gctx", (gsize) Tq * Dk);
  g_autofree float *gatt = fx (c->name, "gatt", (gsize) Tq * S);
  g_autofree float *dq = g_new0 (float, (gsize) Tq * Dq);
  g_autofree float *dkeys = g_new0 (float, (gsize) S * Dk);
  g_autoptr (GError) error = NULL;

  if (!c->local)
    {
      g_autoptr (AttnScoreActs) acts = attn_score_acts_new (&d, &error);
      g_assert_no_error (error);
      attn_score_attention_forward (ctx, acts, q, keys, &p, pad);
      check_out (c->name, "att", acts->att, (gsize) Tq * S);
      check_out (c->name, "ctx", ctx, (gsize) Tq * Dk);
      attn_score_attention_backward (dq, dkeys, &g, gctx, gatt, acts, q, keys,
                                     &p);
    }
  else
    {
      const AttnLocalDims ld = { d, fx_int ("local.Ap"), fx_int ("local.D") };
      AttnLocalParams lp = { p, NULL, NULL }, lg = { g, NULL, NULL };
      lp.w_p = fx ("local", "w_p", (gsize) ld.Ap * Dq);
      lp.v_p = fx ("local", "v_p", ld.Ap);
      lg.w_p = g_new0 (float, (gsize) ld.Ap * Dq);
      lg.v_p = g_new0 (float, ld.Ap);
      g_autoptr (AttnLocalActs) acts = attn_local_acts_new (&ld, &error);
      g_assert_no_error (error);
      attn_local_forward (ctx, acts, q, keys, &lp, pad);
      check_out (c->name, "p", acts->p, Tq);
      check_out (c->name, "att", acts->att, (gsize) Tq * S);
      check_out (c->name, "ctx", ctx, (gsize) Tq * Dk);
      attn_local_backward (dq, dkeys, &lg, gctx, gatt, acts, q, keys, &lp);
      check_grad (c->name, "dw_p", lg.w_p, (gsize) ld.Ap * Dq);
      check_grad (c->name, "dv_p", lg.v_p, ld.Ap);
      g_free (lp.w_p);
      g_free (lp.v_p);
      g_free (lg.w_p);
      g_free (lg.v_p);
    }

  check_grad (c->name, "dq", dq, (gsize) Tq * Dq);
  check_grad (c->name, "dkeys", dkeys, (gsize) S * Dk);
  for (int i = 0; i < np; i++)
    {
      g_autofree char *name = g_strdup_printf ("d%s", rp[i].name);
      check_grad (c->name, name, rp[i].grad, rp[i].n);
      g_free (rp[i].value);
      g_free (rp[i].grad);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (mha_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/attention-reference/"
                                               "mha-%s", mha_cases[i].name);
      g_test_add_data_func (path, &mha_cases[i], test_mha);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (rnn_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/attention-reference/%s",
                                               rnn_cases[i].name);
      g_test_add_data_func (path, &rnn_cases[i], test_rnn);
    }
  return g_test_run ();
}
