/* test-rnn.c: the RNN encoder-decoder (core/attn-rnn.c) on its own.
 *
 * - finite differences: for every attention type (and once with dropout,
 *   its masks redrawn identically at every evaluation), sampled entries of
 *   every parameter tensor against a 4-point central difference of the
 *   batch loss (label smoothing 0.1, a padded batch); tolerance below;
 * - the batch path is the one-example forward: the batch's loss equals the
 *   mean over its rows of losses computed from forward's logits (relative
 *   error <= 1e-6), and its gradient equals the count-weighted sum of
 *   one-row batches' (relative error <= 1e-4, floor 1e-3 of the largest);
 * - the trace: one cross block, layer 0, one head, T x S, rows summing to 1
 *   (1e-6) except local-p's, marked not normalised; it validates;
 * - padding: a source with <pad> after </s> gives exactly the unpadded
 *   run's logits and weights, and exactly 0 on the padded keys;
 * - local-p: each row's nonzero weights are one run of at most 2D + 1
 *   keys, every row sums to less than 1, and the rows are not normalised;
 * - deterministic initialisation, and shapes and names of the tensors;
 * - a tiny model overfits a batch of `reverse` examples: within a stated
 *   number of Adam steps, the loss falls below a stated bound and greedy
 *   decoding reproduces every target. */
#include <math.h>
#include <string.h>

#include "core/attn-model.h"
#include "core/attn-optim.h"
#include "core/attn-task.h"
#include "tests/attn-test-util.h"

/* ---- a model built on the class alone ---------------------------------- */

static AttnModel *
tiny_model (AttnMechanism mechanism, int V, int E, int H, int A, int D,
            float dropout, guint32 seed)
{
  AttnModel *model = g_new0 (AttnModel, 1);
  model->klass = &attn_rnn_class;
  model->name = g_strdup ("tiny-rnn");
  model->config = (AttnModelConfig) {
    .arch = ATTN_ARCH_RNN, .V = V, .max_len = 16, .E = E, .H = H,
    .A = mechanism == ATTN_MECHANISM_LUONG_DOT
             || mechanism == ATTN_MECHANISM_LUONG_GENERAL ? 0 : A,
    .attention = mechanism,
    .D = mechanism == ATTN_MECHANISM_LUONG_LOCAL_P ? D : 0,
    .dropout = dropout,
  };
  guint n = 0;
  g_autofree AttnTensorSpec *specs =
    attn_rnn_class.param_specs (&model->config, &n);
  g_autoptr (GError) error = NULL;
  model->params = attn_tensor_block_new (specs, n, &error);
  g_assert_no_error (error);
  model->grads = attn_tensor_block_new (specs, n, &error);
  g_assert_no_error (error);
  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  attn_rnn_class.init_params (model, rng);
  return model;
}

typedef struct {
  const char *name;
  AttnMechanism mechanism;
  float dropout;
} MechCase;

static const MechCase mech_cases[] = {
  { "additive", ATTN_MECHANISM_ADDITIVE, 0.0f },
  { "luong-dot", ATTN_MECHANISM_LUONG_DOT, 0.0f },
  { "luong-general", ATTN_MECHANISM_LUONG_GENERAL, 0.0f },
  { "luong-concat", ATTN_MECHANISM_LUONG_CONCAT, 0.0f },
  { "luong-local-p", ATTN_MECHANISM_LUONG_LOCAL_P, 0.0f },
};

/* Sizes of the small checks: V=11, E=6, H=5, A=7, D=2. */
#define TV 11
#define TE 6
#define TH 5
#define TA 7
#define TD 2

/* A padded batch of three: sources of 7, 4 and 6 tokens, 5, 3 and 4 decoder
 * steps; the third row's second target is -1 (no loss taken there, but
 * the decoder runs through it). */
#define BB 3
#define BS 7
#define BT 5
static const int batch_src[BB * BS] = {
  5, 9, 4, 10, 7, 6, 2,
  8, 4, 8, 2, 0, 0, 0,
  7, 7, 5, 6, 10, 2, 0,
};
static const int batch_tgt_in[BB * BT] = {
  1, 6, 7, 10, 4,
  1, 8, 4, 0, 0,
  1, 9, 5, 4, 0,
};
static const int batch_tgt_out[BB * BT] = {
  6, 7, 10, 4, 2,
  8, 4, 2, -1, -1,
  9, -1, 4, 2, -1,
};

static AttnBatch
test_batch (void)
{
  return (AttnBatch) { BB, BS, BT, (int *) batch_src, (int *) batch_tgt_in,
                       (int *) batch_tgt_out };
}

#define SMOOTHING 0.1f

/* ---- finite differences --------------------------------------------------- */

/* The model runs in float32, so a loss (about 2.4) carries rounding noise of
 * a few 1e-7; the 4-point central stencil
 *   f' = (f(-2h) - 8 f(-h) + 8 f(h) - f(2h)) / 12h
 * has an O(h^4) truncation error, so h can be large (2^-5) and the noise
 * divided by h stays near 1e-5. An entry's relative error is taken against
 * max (|analytic|, FD_FLOOR * the largest |gradient| of the model), so
 * entries far below the model's gradient scale are held to FD_TOL of that
 * scale rather than judged on noise (the PyTorch reference test holds every
 * entry to its own size). Measured worst case: 3e-4. */
#define FD_STEP 0.03125
#define FD_TOL 1e-3
#define FD_FLOOR 0.1
#define FD_SAMPLES 6 /* entries per tensor, its largest gradient among them */

typedef struct {
  AttnModel *model;
  const MechCase *mc;
} FdState;

static double
fd_loss (FdState *st)
{
  /* The same dropout masks at every evaluation. */
  g_autoptr (GRand) rng = g_rand_new_with_seed (99);
  const AttnBatch batch = test_batch ();
  attn_tensor_block_zero (st->model->grads);
  return st->model->klass->loss_and_grad (
    st->model, &batch, SMOOTHING, st->mc->dropout > 0.0f ? rng : NULL,
    NULL);
}

/* Local-p's windows, as the pattern of nonzero weights of every row's
 * forward: a finite difference is only valid if no step moves one. */
static GString *
window_pattern (AttnModel *model)
{
  GString *s = g_string_new (NULL);
  g_autofree float *logits = g_new (float, BT * TV);
  for (int b = 0; b < BB; b++)
    {
      g_autoptr (AttnTrace) trace =
        attn_trace_new ("t", "rnn", model->config.attention, 1, 1);
      model->klass->forward (model, batch_src + b * BS, BS,
                             batch_tgt_in + b * BT, BT, logits, trace);
      const AttnBlock *block = trace->blocks->pdata[0];
      for (int i = 0; i < BT * BS; i++)
        g_string_append_c (s, block->weights[i] != 0.0f ? '1' : '0');
    }
  return s;
}

static void
test_finite_differences (gconstpointer data)
{
  const MechCase *mc = data;
  AttnModel *model = tiny_model (mc->mechanism, TV, TE, TH, TA, TD,
                                 mc->dropout, 7);
  const gboolean local = mc->mechanism == ATTN_MECHANISM_LUONG_LOCAL_P;
  FdState st = { model, mc };
  fd_loss (&st);
  /* Keep the analytic gradient: every later evaluation overwrites it. */
  g_autofree float *grad = g_memdup2 (model->grads->memory,
                                      model->grads->n_floats * sizeof (float));
  double scale = 0.0;
  for (gsize i = 0; i < model->grads->n_floats; i++)
    scale = MAX (scale, fabs (grad[i]));
  g_assert_cmpfloat (scale, >, 0.0);
  const double floor = FD_FLOOR * scale;
  g_autoptr (GString) base_windows = local ? window_pattern (model) : NULL;
  g_autoptr (GRand) pick = g_rand_new_with_seed (3);

  int checked = 0, skipped = 0;
  double worst = 0.0;
  for (guint k = 0; k < model->params->n_tensors; k++)
    {
      AttnTensor *t = &model->params->tensors[k];
      const float *g = grad + (t->data - model->params->memory);
      gsize largest = 0;
      for (gsize j = 0; j < t->numel; j++)
        if (fabs (g[j]) > fabs (g[largest]))
          largest = j;
      for (int n = 0; n < FD_SAMPLES && (gsize) n < t->numel; n++)
        {
          gsize j = n == 0 ? largest
                           : (gsize) g_rand_int_range (pick, 0, t->numel);
          const float x0 = t->data[j];
          const double steps[4] = { -2.0, -1.0, 1.0, 2.0 };
          double f[4];
          gboolean moved = FALSE;
          for (int s = 0; s < 4; s++)
            {
              t->data[j] = (float) (x0 + steps[s] * FD_STEP);
              f[s] = fd_loss (&st);
              if (local)
                {
                  g_autoptr (GString) w = window_pattern (model);
                  moved = moved || !g_string_equal (w, base_windows);
                }
            }
          t->data[j] = x0;
          if (moved)
            {
              skipped++;
              continue;
            }
          double fd = (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3])
                      / (12.0 * FD_STEP);
          double err = fabs (fd - g[j]) / MAX (fabs (g[j]), floor);
          if (!(err <= FD_TOL))
            g_error ("%s %s[%" G_GSIZE_FORMAT "]: analytic %.8g, finite "
                     "difference %.8g: relative error %.3g exceeds %.3g",
                     mc->name, t->name, j, (double) g[j], fd, err, FD_TOL);
          worst = MAX (worst, err);
          checked++;
        }
    }
  g_test_message ("%s: %d entries checked (%d skipped: a local-p window "
                  "moved), max rel error %.3g (tolerance %.3g)", mc->name,
                  checked, skipped, worst, FD_TOL);
  /* Every tensor was checked, and windows rarely move. */
  g_assert_cmpint (checked, >=, 4 * (int) model->params->n_tensors);
  attn_model_free (model);
}

/* ---- the batch is the one-example forward ------------------------------ */

/* Torch's label-smoothed loss of one row of logits (V), in double. */
static double
smoothed_loss (const float *logits, int target, int V, double eps)
{
  double maxv = logits[0];
  for (int v = 1; v < V; v++)
    maxv = MAX (maxv, logits[v]);
  double sum = 0.0;
  for (int v = 0; v < V; v++)
    sum += exp (logits[v] - maxv);
  const double lse = log (sum) + maxv;
  double mean = 0.0;
  for (int v = 0; v < V; v++)
    mean += lse - logits[v];
  return (1.0 - eps) * (lse - logits[target]) + eps * mean / V;
}

static void
test_batch_equals_forward (gconstpointer data)
{
  const MechCase *mc = data;
  AttnModel *model = tiny_model (mc->mechanism, TV, TE, TH, TA, TD, 0.0f, 11);
  const AttnBatch batch = test_batch ();

  /* The loss, from forward's logits of each row on its own. */
  double total = 0.0;
  int counted[BB] = { 0 }, n_counted = 0;
  g_autofree float *logits = g_new (float, BT * TV);
  for (int b = 0; b < BB; b++)
    {
      model->klass->forward (model, batch_src + b * BS, BS,
                             batch_tgt_in + b * BT, BT, logits, NULL);
      for (int t = 0; t < BT; t++)
        {
          const int y = batch_tgt_out[b * BT + t];
          if (y < 0)
            continue;
          total += smoothed_loss (logits + t * TV, y, TV, SMOOTHING);
          counted[b]++;
        }
      n_counted += counted[b];
    }
  attn_tensor_block_zero (model->grads);
  const float loss =
    model->klass->loss_and_grad (model, &batch, SMOOTHING, NULL, NULL);
  g_test_message ("%s: batch loss %.8g, from forward %.8g", mc->name, loss,
                  total / n_counted);
  g_assert_cmpfloat (fabs (loss - total / n_counted) / loss, <=, 1e-6);

  /* The gradient, as the count-weighted sum of one-row batches'. */
  const gsize n = model->grads->n_floats;
  g_autofree float *batch_grad = g_memdup2 (model->grads->memory,
                                            n * sizeof (float));
  g_autofree double *sum = g_new0 (double, n);
  for (int b = 0; b < BB; b++)
    {
      const AttnBatch row = { 1, BS, BT, (int *) batch_src + b * BS,
                              (int *) batch_tgt_in + b * BT,
                              (int *) batch_tgt_out + b * BT };
      attn_tensor_block_zero (model->grads);
      model->klass->loss_and_grad (model, &row, SMOOTHING, NULL, NULL);
      for (gsize i = 0; i < n; i++)
        sum[i] += model->grads->memory[i] * (double) counted[b] / n_counted;
    }
  g_autofree float *want = g_new (float, n);
  double scale = 0.0;
  for (gsize i = 0; i < n; i++)
    {
      want[i] = (float) sum[i];
      scale = MAX (scale, fabs (sum[i]));
    }
  /* Only the float32 summation order differs (1e-5 measured). */
  attn_test_assert_rel_close ("batch gradient vs per-row", batch_grad, want, n,
                              1e-4, 1e-3 * scale);
  attn_model_free (model);
}

/* ---- the trace ----------------------------------------------------------- */

static void
test_trace (gconstpointer data)
{
  const MechCase *mc = data;
  AttnModel *model = tiny_model (mc->mechanism, TV, TE, TH, TA, TD, 0.0f, 5);
  const gboolean local = mc->mechanism == ATTN_MECHANISM_LUONG_LOCAL_P;
  /* Row 0 of the batch: S = 7 source tokens, T = 5 decoder inputs. */
  g_autoptr (AttnTrace) trace =
    attn_trace_new ("tiny-rnn", "rnn", mc->mechanism, 1, 1);
  attn_trace_set_text (trace, ATTN_SIDE_SOURCE, "abcdef");
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, "abcd");
  for (int s = 0; s < BS; s++)
    attn_trace_add_token (trace, ATTN_SIDE_SOURCE, s < 6 ? "x" : "</s>",
                          batch_src[s], s < 6 ? s : -1, s < 6 ? s + 1 : -1,
                          s == 6);
  for (int t = 0; t < BT; t++)
    attn_trace_add_token (trace, ATTN_SIDE_TARGET, t > 0 ? "y" : "<s>",
                          batch_tgt_in[t], t > 0 ? t - 1 : -1,
                          t > 0 ? t : -1, t == 0);
  g_autofree float *logits = g_new (float, BT * TV);
  model->klass->forward (model, batch_src, BS, batch_tgt_in, BT, logits,
                         trace);

  g_assert_cmpuint (trace->blocks->len, ==, 1);
  const AttnBlock *block = trace->blocks->pdata[0];
  g_assert_cmpint (block->kind, ==, ATTN_KIND_CROSS);
  g_assert_cmpint (block->layer, ==, 0);
  g_assert_cmpint (block->n_heads, ==, 1);
  g_assert_cmpint (block->n_queries, ==, BT);
  g_assert_cmpint (block->n_keys, ==, BS);
  g_assert_cmpint (block->normalised, ==, !local);
  for (int t = 0; t < BT; t++)
    {
      double row = 0.0;
      for (int s = 0; s < BS; s++)
        row += block->weights[t * BS + s];
      if (!local)
        g_assert_cmpfloat (fabs (row - 1.0), <=, 1e-6);
    }
  g_autoptr (GError) error = NULL;
  attn_trace_validate (trace, &error);
  g_assert_no_error (error);
  attn_model_free (model);
}

/* ---- padding ------------------------------------------------------------- */

static void
test_padding (gconstpointer data)
{
  const MechCase *mc = data;
  AttnModel *model = tiny_model (mc->mechanism, TV, TE, TH, TA, TD, 0.0f, 9);
  /* Row 1 of the batch: 4 real source tokens, then 3 <pad>. */
  const int *padded = batch_src + BS;
  const int S_real = 4;
  const int *tgt = batch_tgt_in + BT;

  g_autoptr (AttnTrace) tp = attn_trace_new ("t", "rnn", mc->mechanism, 1, 1);
  g_autoptr (AttnTrace) tu = attn_trace_new ("t", "rnn", mc->mechanism, 1, 1);
  g_autofree float *lp = g_new (float, BT * TV);
  g_autofree float *lu = g_new (float, BT * TV);
  model->klass->forward (model, padded, BS, tgt, BT, lp, tp);
  model->klass->forward (model, padded, S_real, tgt, BT, lu, tu);

  g_assert_cmpmem (lp, BT * TV * sizeof (float), lu,
                   BT * TV * sizeof (float));
  const AttnBlock *bp = tp->blocks->pdata[0];
  const AttnBlock *bu = tu->blocks->pdata[0];
  g_assert_cmpint (bp->n_keys, ==, BS);
  g_assert_cmpint (bu->n_keys, ==, S_real);
  for (int t = 0; t < BT; t++)
    for (int s = 0; s < BS; s++)
      {
        const float w = bp->weights[t * BS + s];
        if (s >= S_real)
          g_assert_cmpfloat (w, ==, 0.0f);
        else
          g_assert_cmpfloat (w, ==, bu->weights[t * S_real + s]);
      }
  attn_model_free (model);
}

/* ---- local-p ------------------------------------------------------------- */

static void
test_local_window (void)
{
  /* A longer source than the other checks, so the window (2D + 1 = 5
   * keys) is narrower than it. */
  AttnModel *model =
    tiny_model (ATTN_MECHANISM_LUONG_LOCAL_P, TV, TE, TH, TA, TD, 0.0f, 21);
  enum { S = 14, T = 8 };
  const int src[S] = { 4, 5, 6, 7, 8, 9, 10, 4, 5, 6, 7, 8, 9, 2 };
  const int tgt[T] = { 1, 9, 8, 7, 6, 5, 4, 10 };
  g_autoptr (AttnTrace) trace =
    attn_trace_new ("t", "rnn", ATTN_MECHANISM_LUONG_LOCAL_P, 1, 1);
  g_autofree float *logits = g_new (float, T * TV);
  model->klass->forward (model, src, S, tgt, T, logits, trace);
  const AttnBlock *block = trace->blocks->pdata[0];
  g_assert_false (block->normalised);

  double smallest_sum = 1.0;
  for (int t = 0; t < T; t++)
    {
      const float *row = block->weights + t * S;
      int first = -1, last = -1, nonzero = 0;
      double sum = 0.0;
      for (int s = 0; s < S; s++)
        if (row[s] != 0.0f)
          {
            if (first < 0)
              first = s;
            last = s;
            nonzero++;
            sum += row[s];
            g_assert_cmpfloat (row[s], >, 0.0f);
          }
      /* One run, no wider than the window: zero outside it. */
      g_assert_cmpint (first, >=, 0);
      g_assert_cmpint (nonzero, ==, last - first + 1);
      g_assert_cmpint (nonzero, <=, 2 * TD + 1);
      /* The Gaussian is below 1 away from p_t: rows sum to less than 1. */
      g_assert_cmpfloat (sum, <, 1.0);
      smallest_sum = MIN (smallest_sum, sum);
    }
  g_test_message ("smallest row sum %.4f", smallest_sum);
  g_assert_cmpfloat (smallest_sum, <, 0.99);
  attn_model_free (model);
}

/* ---- parameters ---------------------------------------------------------- */

typedef struct {
  AttnMechanism mechanism;
  const char *extra[4]; /* the attention's own tensors */
} NamesCase;

static void
test_param_names (void)
{
  static const char *const common[] = {
    "embedding.weight", "encoder.weight_ih_l0", "encoder.weight_hh_l0",
    "encoder.bias_ih_l0", "encoder.bias_hh_l0",
    "encoder.weight_ih_l0_reverse", "encoder.weight_hh_l0_reverse",
    "encoder.bias_ih_l0_reverse", "encoder.bias_hh_l0_reverse",
    "memory.weight", "bridge.weight", "bridge.bias", "decoder.weight_ih",
    "decoder.weight_hh", "decoder.bias_ih", "decoder.bias_hh", "out.weight",
    "out.bias",
  };
  static const NamesCase cases[] = {
    { ATTN_MECHANISM_ADDITIVE,
      { "attention.w_q", "attention.w_k", "attention.b", "attention.v" } },
    { ATTN_MECHANISM_LUONG_DOT, { "attentional.weight" } },
    { ATTN_MECHANISM_LUONG_GENERAL, { "attention.w", "attentional.weight" } },
    { ATTN_MECHANISM_LUONG_CONCAT,
      { "attention.w_c", "attention.v", "attentional.weight" } },
    { ATTN_MECHANISM_LUONG_LOCAL_P,
      { "attention.w", "attention.w_p", "attention.v_p",
        "attentional.weight" } },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      AttnModelConfig c = { .arch = ATTN_ARCH_RNN, .V = 20, .max_len = 10,
                            .E = 3, .H = 4, .A = 6, .D = 2,
                            .attention = cases[i].mechanism };
      guint n = 0;
      g_autofree AttnTensorSpec *specs = attn_rnn_class.param_specs (&c, &n);
      guint n_extra = 0;
      while (n_extra < 4 && cases[i].extra[n_extra] != NULL)
        n_extra++;
      g_assert_cmpuint (n, ==, G_N_ELEMENTS (common) + n_extra);
      for (guint k = 0; k < n; k++)
        {
          gboolean known = g_strv_contains (common, specs[k].name);
          for (guint e = 0; e < n_extra; e++)
            known = known || g_str_equal (specs[k].name, cases[i].extra[e]);
          g_assert_true (known);
          if (g_str_equal (specs[k].name, "decoder.weight_ih"))
            {
              g_assert_cmpuint (specs[k].shape[0], ==, 3 * 4);
              g_assert_cmpuint (specs[k].shape[1], ==, 3 + 4);
            }
          if (g_str_equal (specs[k].name, "out.weight"))
            {
              g_assert_cmpuint (specs[k].shape[0], ==, 20);
              /* [h_t; c_t] for Bahdanau, h~_t for Luong */
              g_assert_cmpuint (specs[k].shape[1], ==,
                                cases[i].mechanism == ATTN_MECHANISM_ADDITIVE
                                  ? 8 : 4);
            }
        }
    }
}

static void
test_init (void)
{
  AttnModel *a = tiny_model (ATTN_MECHANISM_ADDITIVE, TV, TE, TH, TA, TD,
                             0.0f, 42);
  AttnModel *b = tiny_model (ATTN_MECHANISM_ADDITIVE, TV, TE, TH, TA, TD,
                             0.0f, 42);
  AttnModel *c = tiny_model (ATTN_MECHANISM_ADDITIVE, TV, TE, TH, TA, TD,
                             0.0f, 43);
  const gsize bytes = a->params->n_floats * sizeof (float);
  g_assert_cmpmem (a->params->memory, bytes, b->params->memory, bytes);
  g_assert_true (memcmp (a->params->memory, c->params->memory, bytes) != 0);

  /* GRU tensors uniform within 1/sqrt (H), as torch; biases outside the
   * GRU zero; others within their Xavier bound. */
  const double gru_bound = 1.0 / sqrt (TH);
  for (guint k = 0; k < a->params->n_tensors; k++)
    {
      const AttnTensor *t = &a->params->tensors[k];
      double m = 0.0;
      for (gsize j = 0; j < t->numel; j++)
        m = MAX (m, fabs (t->data[j]));
      if (g_str_has_prefix (t->name, "encoder.")
          || g_str_has_prefix (t->name, "decoder."))
        {
          g_assert_cmpfloat (m, <=, gru_bound);
          g_assert_cmpfloat (m, >, 0.5 * gru_bound);
        }
      else if (g_str_equal (t->name, "bridge.bias")
               || g_str_equal (t->name, "attention.b")
               || g_str_equal (t->name, "out.bias"))
        g_assert_cmpfloat (m, ==, 0.0);
      else
        {
          double fan_out = t->ndim == 2 ? t->shape[0] : 1.0;
          double fan_in = t->shape[t->ndim - 1];
          double bound = sqrt (6.0 / (fan_in + fan_out));
          g_assert_cmpfloat (m, <=, bound);
          g_assert_cmpfloat (m, >, 0.3 * bound);
        }
    }
  attn_model_free (a);
  attn_model_free (b);
  attn_model_free (c);
}

/* ---- a tiny model overfits reverse ------------------------------------- */

/* 16 reverse examples (characters 0-9a-z, ids 4..39 in ATTN_TASK_ALPHABET
 * order), E=16, H=32, A=32, Adam at lr 1e-2 with clipping at 1. */
#define OF_B 16
#define OF_STEPS 300
#define OF_LOSS 0.05 /* mean token loss (no smoothing) to reach */

static int
alphabet_id (char c)
{
  const char *p = strchr (ATTN_TASK_ALPHABET, c);
  g_assert_nonnull (p);
  return ATTN_VOCAB_N_SPECIAL + (int) (p - ATTN_TASK_ALPHABET);
}

static void
test_overfit_reverse (gconstpointer data)
{
  const MechCase *mc = data;
  const int V = ATTN_VOCAB_N_SPECIAL + (int) strlen (ATTN_TASK_ALPHABET);
  AttnModel *model = tiny_model (mc->mechanism, V, 16, 32, 32, 3, 0.0f, 1);
  const int S = ATTN_TASK_MAX_STRING + 1, T = ATTN_TASK_MAX_STRING + 1;

  g_autofree int *src = g_new0 (int, OF_B * S);
  g_autofree int *tgt_in = g_new0 (int, OF_B * T);
  g_autofree int *tgt_out = g_new (int, OF_B * T);
  g_auto (GStrv) targets = g_new0 (char *, OF_B + 1);
  g_autoptr (GRand) data_rng = g_rand_new_with_seed (2026);
  for (int i = 0; i < OF_B * T; i++)
    tgt_out[i] = -1;
  for (int b = 0; b < OF_B; b++)
    {
      g_autofree char *source = NULL;
      attn_task_example (ATTN_TASK_REVERSE, ATTN_SPLIT_TRAIN, data_rng,
                         &source, &targets[b], NULL);
      const int n = (int) strlen (source);
      for (int i = 0; i < n; i++)
        {
          src[b * S + i] = alphabet_id (source[i]);
          tgt_in[b * T + i + 1] = alphabet_id (targets[b][i]);
          tgt_out[b * T + i] = alphabet_id (targets[b][i]);
        }
      src[b * S + n] = ATTN_VOCAB_EOS;
      tgt_in[b * T] = ATTN_VOCAB_BOS;
      tgt_out[b * T + n] = ATTN_VOCAB_EOS;
    }
  const AttnBatch batch = { OF_B, S, T, src, tgt_in, tgt_out };

  const AttnAdamConfig ac = ATTN_ADAM_CONFIG_INIT;
  g_autoptr (AttnAdam) adam = attn_adam_new (model->params->n_floats, &ac);
  float loss = INFINITY, acc = 0.0f, first = 0.0f;
  int step = 0;
  while (step < OF_STEPS && !(loss < OF_LOSS))
    {
      attn_tensor_block_zero (model->grads);
      loss = model->klass->loss_and_grad (model, &batch, 0.0f, NULL, &acc);
      if (step == 0)
        first = loss;
      attn_clip_grad_norm (model->grads->memory, model->grads->n_floats, 1.0);
      attn_adam_update (adam, model->params->memory, model->grads->memory,
                        1e-2);
      step++;
    }
  g_test_message ("%s: loss %.4f -> %.4f, token accuracy %.3f after %d "
                  "steps", mc->name, first, loss, acc, step);
  g_assert_cmpfloat (loss, <, OF_LOSS);

  /* Greedy decoding, one forward per emitted token, gives every target. */
  g_autofree float *logits = g_new (float, T * V);
  for (int b = 0; b < OF_B; b++)
    {
      int in[ATTN_TASK_MAX_STRING + 2] = { ATTN_VOCAB_BOS };
      int n = 1;
      GString *out = g_string_new (NULL);
      for (;;)
        {
          model->klass->forward (model, src + b * S, S, in, n, logits, NULL);
          const float *last = logits + (n - 1) * V;
          int best = 0;
          for (int v = 1; v < V; v++)
            if (last[v] > last[best])
              best = v;
          if (best == ATTN_VOCAB_EOS || n > ATTN_TASK_MAX_STRING)
            break;
          g_assert_cmpint (best, >=, ATTN_VOCAB_N_SPECIAL);
          g_string_append_c (out,
                             ATTN_TASK_ALPHABET[best - ATTN_VOCAB_N_SPECIAL]);
          in[n++] = best;
        }
      g_assert_cmpstr (out->str, ==, targets[b]);
      g_string_free (out, TRUE);
    }
  attn_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const MechCase dropout_case = { "additive-dropout",
                                         ATTN_MECHANISM_ADDITIVE, 0.3f };
  const struct {
    const char *path;
    GTestDataFunc func;
  } per_mech[] = {
    { "finite-differences", test_finite_differences },
    { "batch-equals-forward", test_batch_equals_forward },
    { "trace", test_trace },
    { "padding", test_padding },
    { "overfit-reverse", test_overfit_reverse },
  };
  for (gsize f = 0; f < G_N_ELEMENTS (per_mech); f++)
    for (gsize i = 0; i < G_N_ELEMENTS (mech_cases); i++)
      {
        g_autofree char *path = g_strdup_printf (
          "/attn/rnn/%s/%s", per_mech[f].path, mech_cases[i].name);
        g_test_add_data_func (path, &mech_cases[i], per_mech[f].func);
      }
  g_test_add_data_func ("/attn/rnn/finite-differences/additive-dropout",
                        &dropout_case, test_finite_differences);
  g_test_add_func ("/attn/rnn/local-p-window", test_local_window);
  g_test_add_func ("/attn/rnn/param-names", test_param_names);
  g_test_add_func ("/attn/rnn/init", test_init);
  return g_test_run ();
}
