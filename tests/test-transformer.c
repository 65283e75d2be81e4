/* test-transformer.c: the Transformer encoder-decoder's self-consistency
 * (its agreement with PyTorch is test-transformer-reference.c).
 *
 * - gradients against finite differences of the loss, post- and pre-norm,
 *   with and without dropout (the same seed gives the same masks, so the
 *   loss is a fixed function of the parameters);
 * - one example through forward () equals its row of a padded batch;
 * - trace blocks: kinds, layers, shapes, rows summing to 1, causal entries
 *   exactly 0;
 * - initialisation: deterministic per seed, in the documented ranges;
 * - a tiny model overfits four `reverse` examples with Adam. */
#include <math.h>
#include <string.h>

#include "core/attn-kernels.h"
#include "core/attn-task.h"
#include "core/attn-transformer.h"
#include "core/attn-vocab.h"
#include "tests/attn-test-util.h"

/* ---- a model without files ---------------------------------------------- */

static AttnModel *
model_new (const AttnModelConfig *cfg, guint32 seed)
{
  AttnModel *model = g_new0 (AttnModel, 1);
  model->klass = &attn_transformer_class;
  model->config = *cfg;
  guint n = 0;
  g_autofree AttnTensorSpec *specs = attn_transformer_class.param_specs (cfg,
                                                                         &n);
  model->params = attn_tensor_block_new (specs, n, NULL);
  model->grads = attn_tensor_block_new (specs, n, NULL);
  g_assert_nonnull (model->params);
  g_assert_nonnull (model->grads);
  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  attn_transformer_class.init_params (model, rng);
  return model;
}

static AttnModelConfig
tiny_config (gboolean pre_norm, float dropout)
{
  AttnModelConfig cfg = { 0 };
  cfg.arch = ATTN_ARCH_TRANSFORMER;
  cfg.V = 10;
  cfg.max_len = 8;
  cfg.C = 8;
  cfg.NH = 2;
  cfg.L_enc = 2;
  cfg.L_dec = 2;
  cfg.F = 16;
  cfg.pre_norm = pre_norm;
  cfg.dropout = dropout;
  return cfg;
}

/* A padded batch of 3: source lengths 5, 3, 4 (S = 5), decoder lengths
 * 4, 2, 3 (T = 4). */
enum { TB = 3, TS = 5, TT = 4 };
static const int tiny_src[TB * TS] = {
  5, 7, 4, 9, 2,
  8, 6, 2, 0, 0,
  9, 4, 4, 2, 0,
};
static const int tiny_tgt_in[TB * TT] = {
  1, 9, 4, 7,
  1, 6, 0, 0,
  1, 4, 8, 0,
};
static const int tiny_tgt_out[TB * TT] = {
  9, 4, 7, 2,
  6, 2, -1, -1,
  4, 8, 2, -1,
};
static const int tiny_src_len[TB] = { 5, 3, 4 };
static const int tiny_tgt_len[TB] = { 4, 2, 3 };

static AttnBatch
tiny_batch (void)
{
  AttnBatch batch = { TB, TS, TT, (int *) tiny_src, (int *) tiny_tgt_in,
                      (int *) tiny_tgt_out };
  return batch;
}

/* ---- finite differences ------------------------------------------------- */

typedef struct {
  const char *name;
  gboolean pre_norm;
  float dropout;
} FdCase;

static const FdCase fd_cases[] = {
  { "post-norm", FALSE, 0.0f },
  { "pre-norm", TRUE, 0.0f },
  { "post-norm-dropout", FALSE, 0.2f },
  { "pre-norm-dropout", TRUE, 0.2f },
};

#define FD_EPS_LS 0.1f /* label smoothing of the loss */
#define FD_SEED 77     /* dropout masks: the same for every evaluation */
/* Five-point central differences, f' = (f(-2h) - 8 f(-h) + 8 f(h) - f(2h))
 * / 12h, each element at two steps (the "double check": both estimates are
 * held to backward). The loss is taken in double from the float32 logits;
 * what limits the check is the float32 model itself. Sampling the loss on a
 * grid of 1/1024 shows (a) a jitter of ~1e-7 from the rounding of the
 * logits, ~2e-5 absolute in an estimate at these steps, and (b) ReLU kinks,
 * where the slope jumps by ~1e-4 to a few 1e-3 (more of them with dropout's
 * 1 / (1 - p) scaling); the truncation error (h^4 f^(5) / 30) is far below
 * both. A parameter within a step of a kink gets a central estimate between
 * the two one-sided slopes, while backward gives the slope of its own piece
 * (sampled: one LayerNorm gain with dropout sits on a kink; backward 0.02839
 * is the slope to its right, 0.0310 the slope to its left). So, for the
 * FD_PER_TENSOR largest gradients of each tensor (the largest above 1e-2;
 * errors are relative to max (|estimate|, 1e-2)):
 *   - every estimate within FD_LOOSE (5e-2): a kink moves an estimate by a
 *     few per cent at most (9 % the worst seen), a wrong term in a backward
 *     pass (a missing residual path, mask or scale) moves whole tensors by
 *     more;
 *   - and at least FD_GOOD_FRACTION of all checked elements with the finer
 *     estimate (which crosses fewer kinks) within FD_TOL (5e-3).
 * Exactness is test-transformer-reference's job (1e-4 against PyTorch for
 * every gradient). */
#define FD_H1 (1.0 / 256)
#define FD_H2 (1.0 / 512)
#define FD_TOL 5e-3
#define FD_LOOSE 5e-2
#define FD_FLOOR 1e-2
#define FD_PER_TENSOR 4
#define FD_GOOD_FRACTION 0.8

/* The label-smoothed mean loss of the batch in double, from the model's
 * logits with the dropout masks of FD_SEED. */
static double
fd_loss (AttnModel *model, const AttnBatch *batch, const FdCase *fc,
         float *logits)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (FD_SEED);
  attn_transformer_forward_batch (model, batch, fc->dropout > 0 ? rng : NULL,
                                  logits);
  const int V = model->config.V;
  double total = 0;
  int counted = 0;
  for (int n = 0; n < batch->B * batch->T; n++)
    {
      const int y = batch->tgt_out[n];
      if (y < 0)
        continue;
      const float *x = logits + (gsize) n * V;
      double m = -INFINITY, s = 0, mean_x = 0;
      for (int v = 0; v < V; v++)
        m = MAX (m, x[v]);
      for (int v = 0; v < V; v++)
        {
          s += exp (x[v] - m);
          mean_x += x[v] / (double) V;
        }
      const double lse = m + log (s);
      total += (1 - FD_EPS_LS) * (lse - x[y]) + FD_EPS_LS * (lse - mean_x);
      counted++;
    }
  return total / counted;
}

static double
fd_derivative (AttnModel *model, const AttnBatch *batch, const FdCase *fc,
               float *logits, float *x, double h)
{
  const float keep = *x;
  double f[4];
  const double steps[4] = { -2, -1, 1, 2 };
  for (int s = 0; s < 4; s++)
    {
      *x = (float) (keep + steps[s] * h);
      /* Rounding keep + s h to float moves the step by ~1e-8, a relative
       * 3e-6 of h: far below the tolerance. */
      f[s] = fd_loss (model, batch, fc, logits);
    }
  *x = keep;
  return (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
}

static int
cmp_abs_desc (gconstpointer a, gconstpointer b, gpointer user)
{
  const float *g = user;
  float ga = fabsf (g[*(const gsize *) a]), gb = fabsf (g[*(const gsize *) b]);
  return ga < gb ? 1 : ga > gb ? -1 : 0;
}

static void
test_finite_differences (gconstpointer data)
{
  const FdCase *fc = data;
  AttnModelConfig cfg = tiny_config (fc->pre_norm, fc->dropout);
  AttnModel *model = model_new (&cfg, 5);
  AttnBatch batch = tiny_batch ();
  g_autofree float *logits = g_new (float, TB * TT * cfg.V); /* (B, T, V) */

  /* The loss loss_and_grad differentiates is fd_loss: same masks. */
  attn_tensor_block_zero (model->grads);
  g_autoptr (GRand) rng = g_rand_new_with_seed (FD_SEED);
  float loss = model->klass->loss_and_grad (model, &batch, FD_EPS_LS,
                                            fc->dropout > 0 ? rng : NULL,
                                            NULL);
  g_assert_cmpfloat_with_epsilon (loss, fd_loss (model, &batch, fc, logits),
                                  1e-6);
  if (fc->dropout > 0)
    {
      /* ... and the masks matter. */
      model->config.dropout = 0;
      double no_drop = fd_loss (model, &batch, fc, logits);
      model->config.dropout = cfg.dropout;
      g_assert_cmpfloat (fabs (no_drop - loss), >, 1e-3);
    }

  const char *names[] = {
    "embed.weight", "enc.0.self_attn.wq", "enc.0.self_attn.bv",
    "enc.1.linear1.weight", "enc.1.norm2.weight", "dec.0.self_attn.wk",
    "dec.0.cross_attn.wk", "dec.1.cross_attn.wv", "dec.1.linear2.bias",
    "dec.1.norm3.bias", "out.weight", "out.bias",
    fc->pre_norm ? "enc.norm.weight" : "enc.0.norm1.bias",
    fc->pre_norm ? "dec.norm.bias" : "dec.0.norm2.weight",
  };
  double worst = 0;
  int near_kinks = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
    {
      AttnTensor *p = attn_tensor_block_lookup (model->params, names[i]);
      AttnTensor *g = attn_tensor_block_lookup (model->grads, names[i]);
      g_assert_nonnull (p);
      g_autofree gsize *order = g_new (gsize, g->numel);
      for (gsize j = 0; j < g->numel; j++)
        order[j] = j;
      g_qsort_with_data (order, g->numel, sizeof (gsize), cmp_abs_desc,
                         g->data);
      for (int k = 0; k < FD_PER_TENSOR; k++)
        {
          const gsize j = order[k];
          const double got = g->data[j];
          /* A tensor whose largest gradient is below the floor would be
           * checked against noise. */
          if (k == 0)
            g_assert_cmpfloat (fabs (got), >=, FD_FLOOR);
          const double hs[2] = { FD_H1, FD_H2 };
          double err[2];
          for (int s = 0; s < 2; s++)
            {
              double fd = fd_derivative (model, &batch, fc, logits,
                                         &p->data[j], hs[s]);
              err[s] = fabs (got - fd) / MAX (fabs (fd), FD_FLOOR);
              g_test_message ("%s[%zu] h=%g: backward %.6g, finite "
                              "differences %.6g, relative error %.2g",
                              names[i], j, hs[s], got, fd, err[s]);
              g_assert_cmpfloat (err[s], <=, FD_LOOSE);
            }
          if (err[1] > FD_TOL)
            near_kinks++;
          worst = MAX (worst, err[1]);
        }
    }
  const int n_checked = (int) G_N_ELEMENTS (names) * FD_PER_TENSOR;
  g_test_message ("%d of %d elements beyond %g (near a kink); worst error "
                  "of the finer estimate %.2g", near_kinks, n_checked, FD_TOL,
                  worst);
  g_assert_cmpfloat (n_checked - near_kinks, >=,
                     FD_GOOD_FRACTION * n_checked);
  attn_model_free (model);
}

/* ---- one example vs the batch ------------------------------------------- */

static void
test_forward_matches_batch (gconstpointer data)
{
  const gboolean pre_norm = GPOINTER_TO_INT (data);
  AttnModelConfig cfg = tiny_config (pre_norm, 0.1f);
  AttnModel *model = model_new (&cfg, 11);
  AttnBatch batch = tiny_batch ();
  const int V = cfg.V;

  g_autofree float *batched = g_new (float, TB * TT * V); /* (B, T, V) */
  attn_transformer_forward_batch (model, &batch, NULL, batched);
  /* The loss path sees the same logits: its loss is theirs. */
  float loss = model->klass->loss_and_grad (model, &batch, 0.0f, NULL, NULL);
  float want_loss = attn_cross_entropy_forward (NULL, NULL, batched,
                                                tiny_tgt_out, TB * TT, V, -1,
                                                NULL);
  g_assert_cmpfloat (loss, ==, want_loss);

  g_autofree float *one = g_new (float, TT * V); /* (T, V) */
  for (int b = 0; b < TB; b++)
    {
      /* Unpadded: the example's own lengths, no mask needed. */
      const int S = tiny_src_len[b], T = tiny_tgt_len[b];
      model->klass->forward (model, tiny_src + b * TS, S, tiny_tgt_in + b * TT,
                             T, one, NULL);
      attn_test_assert_close ("one example vs its batch row", one,
                              batched + b * TT * V, T * V, 1e-5);
    }

  /* A larger batch grows the workspace; the small one after it still
   * gives the same numbers. */
  enum { BB = 6, BS = 7, BT = 6 };
  int src[BB * BS], tgt_in[BB * BT], tgt_out[BB * BT];
  for (int i = 0; i < BB * BS; i++)
    src[i] = 4 + i % 6;
  for (int i = 0; i < BB * BT; i++)
    {
      tgt_in[i] = 4 + (i * 5) % 6;
      tgt_out[i] = 4 + (i * 3) % 6;
    }
  AttnBatch big = { BB, BS, BT, src, tgt_in, tgt_out };
  g_autofree float *big_logits = g_new (float, BB * BT * V);
  attn_transformer_forward_batch (model, &big, NULL, big_logits);
  g_autofree float *again = g_new (float, TB * TT * V);
  attn_transformer_forward_batch (model, &batch, NULL, again);
  g_assert_cmpmem (again, TB * TT * V * sizeof (float), batched,
                   TB * TT * V * sizeof (float));
  attn_model_free (model);
}

/* ---- trace -------------------------------------------------------------- */

static void
test_trace_blocks (void)
{
  AttnModelConfig cfg = tiny_config (FALSE, 0.0f);
  AttnModel *model = model_new (&cfg, 3);
  const int S = tiny_src_len[0], T = tiny_tgt_len[0], NH = cfg.NH;
  g_autofree float *logits = g_new (float, T * cfg.V);

  g_autoptr (AttnTrace) trace = attn_trace_new (
    "tiny", "transformer-encoder-decoder", ATTN_MECHANISM_SCALED_DOT_PRODUCT,
    2, NH);
  attn_trace_set_text (trace, ATTN_SIDE_SOURCE, "abcd");
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, "abc");
  for (int s = 0; s < S; s++)
    if (s < S - 1)
      attn_trace_add_token (trace, ATTN_SIDE_SOURCE, "x", tiny_src[s], s,
                            s + 1, FALSE);
    else
      attn_trace_add_token (trace, ATTN_SIDE_SOURCE, "</s>", tiny_src[s], -1,
                            -1, TRUE);
  for (int t = 0; t < T; t++)
    if (t == 0)
      attn_trace_add_token (trace, ATTN_SIDE_TARGET, "<s>", tiny_tgt_in[t],
                            -1, -1, TRUE);
    else
      attn_trace_add_token (trace, ATTN_SIDE_TARGET, "y", tiny_tgt_in[t],
                            t - 1, t, FALSE);

  model->klass->forward (model, tiny_src, S, tiny_tgt_in, T, logits, trace);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (trace, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (trace->blocks->len, ==, cfg.L_enc + 2 * cfg.L_dec);

  const struct {
    AttnKind kind;
    int n_layers, Tq, Tk;
  } kinds[] = {
    { ATTN_KIND_ENCODER_SELF, cfg.L_enc, S, S },
    { ATTN_KIND_DECODER_SELF, cfg.L_dec, T, T },
    { ATTN_KIND_CROSS, cfg.L_dec, T, S },
  };
  for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
    for (int l = 0; l < kinds[k].n_layers; l++)
      {
        AttnBlock *block = attn_trace_lookup_block (trace, kinds[k].kind, l);
        g_assert_nonnull (block);
        g_assert_cmpint (block->n_heads, ==, NH);
        g_assert_cmpint (block->n_queries, ==, kinds[k].Tq);
        g_assert_cmpint (block->n_keys, ==, kinds[k].Tk);
        g_assert_true (block->normalised);
        for (int h = 0; h < NH; h++)
          for (int q = 0; q < kinds[k].Tq; q++)
            {
              const float *row = block->weights
                                 + ((gsize) h * kinds[k].Tq + q) * kinds[k].Tk;
              double sum = 0.0;
              for (int s = 0; s < kinds[k].Tk; s++)
                {
                  sum += row[s];
                  if (kinds[k].kind == ATTN_KIND_DECODER_SELF && s > q)
                    g_assert_cmpfloat (row[s], ==, 0.0f);
                  else
                    g_assert_cmpfloat (row[s], >, 0.0f);
                }
              g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
            }
      }
  /* The first query of decoder self-attention sees only itself. */
  AttnBlock *dself = attn_trace_lookup_block (trace, ATTN_KIND_DECODER_SELF,
                                              0);
  g_assert_cmpfloat (dself->weights[0], ==, 1.0f);
  attn_model_free (model);
}

/* A padded source key gets exactly 0 in every encoder and cross block. */
static void
test_padding_masked (void)
{
  AttnModelConfig cfg = tiny_config (TRUE, 0.0f);
  AttnModel *model = model_new (&cfg, 4);
  /* Example 1 of the tiny batch: 3 real source tokens, 2 <pad>. */
  const int *src = tiny_src + 1 * TS, *tgt = tiny_tgt_in + 1 * TT;
  const int T = tiny_tgt_len[1];
  g_autofree float *logits = g_new (float, T * cfg.V);
  g_autoptr (AttnTrace) trace = attn_trace_new (
    "tiny", "transformer-encoder-decoder", ATTN_MECHANISM_SCALED_DOT_PRODUCT,
    2, cfg.NH);
  model->klass->forward (model, src, TS, tgt, T, logits, trace);
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      AttnBlock *block = g_ptr_array_index (trace->blocks, i);
      if (block->kind == ATTN_KIND_DECODER_SELF)
        continue;
      for (int r = 0; r < block->n_heads * block->n_queries; r++)
        for (int s = 0; s < TS; s++)
          {
            float w = block->weights[(gsize) r * TS + s];
            if (src[s] == ATTN_VOCAB_PAD)
              g_assert_cmpfloat (w, ==, 0.0f);
            else
              g_assert_cmpfloat (w, >, 0.0f);
          }
    }
  attn_model_free (model);
}

/* ---- initialisation ----------------------------------------------------- */

static void
test_init (void)
{
  AttnModelConfig cfg = tiny_config (TRUE, 0.0f);
  cfg.C = 16;
  cfg.F = 48;
  AttnModel *a = model_new (&cfg, 21);
  AttnModel *b = model_new (&cfg, 21);
  AttnModel *c = model_new (&cfg, 22);
  const gsize n = a->params->n_floats;
  g_assert_cmpmem (a->params->memory, n * sizeof (float), b->params->memory,
                   n * sizeof (float));
  g_assert_true (memcmp (a->params->memory, c->params->memory,
                         n * sizeof (float))
                 != 0);

  const struct {
    const char *name;
    double bound; /* Xavier: sqrt (6 / (fan_in + fan_out)); 0: constant */
    float value;
  } checks[] = {
    { "embed.weight", sqrt (6.0 / (10 + 16)), 0 },
    { "enc.0.self_attn.wq", sqrt (6.0 / (16 + 48)), 0 },
    { "dec.1.cross_attn.wv", sqrt (6.0 / (16 + 48)), 0 },
    { "enc.1.self_attn.wo", sqrt (6.0 / (16 + 16)), 0 },
    { "dec.0.linear1.weight", sqrt (6.0 / (16 + 48)), 0 },
    { "dec.0.linear2.weight", sqrt (6.0 / (48 + 16)), 0 },
    { "out.weight", sqrt (6.0 / (16 + 10)), 0 },
    { "enc.0.self_attn.bq", 0, 0.0f },
    { "dec.1.linear1.bias", 0, 0.0f },
    { "out.bias", 0, 0.0f },
    { "enc.0.norm1.weight", 0, 1.0f },
    { "dec.norm.weight", 0, 1.0f },
    { "dec.1.norm3.bias", 0, 0.0f },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (checks); i++)
    {
      AttnTensor *t = attn_tensor_block_lookup (a->params, checks[i].name);
      g_assert_nonnull (t);
      if (checks[i].bound == 0)
        {
          for (gsize j = 0; j < t->numel; j++)
            g_assert_cmpfloat (t->data[j], ==, checks[i].value);
          continue;
        }
      /* Uniform in +-bound: inside it, and spread over it (the largest
       * magnitude above half the bound, the mean near 0). */
      double sum = 0, biggest = 0;
      for (gsize j = 0; j < t->numel; j++)
        {
          g_assert_cmpfloat (fabs (t->data[j]), <=, checks[i].bound);
          biggest = MAX (biggest, fabs (t->data[j]));
          sum += t->data[j];
        }
      g_assert_cmpfloat (biggest, >, 0.8 * checks[i].bound);
      g_assert_cmpfloat (fabs (sum / t->numel), <, 0.25 * checks[i].bound);
    }
  attn_model_free (a);
  attn_model_free (b);
  attn_model_free (c);
}

/* ---- overfitting -------------------------------------------------------- */

/* Adam (Kingma & Ba), written out here so the test depends on the model
 * alone. */
typedef struct {
  float *m, *v;
  int step;
} TestAdam;

static void
adam_step (TestAdam *adam, float *p, const float *g, gsize n, double lr)
{
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  adam->step++;
  const double c1 = 1 - pow (b1, adam->step), c2 = 1 - pow (b2, adam->step);
  for (gsize i = 0; i < n; i++)
    {
      adam->m[i] = (float) (b1 * adam->m[i] + (1 - b1) * g[i]);
      adam->v[i] = (float) (b2 * adam->v[i] + (1 - b2) * g[i] * g[i]);
      p[i] -= (float) (lr * (adam->m[i] / c1)
                       / (sqrt (adam->v[i] / c2) + eps));
    }
}

#define OVERFIT_STEPS 150
#define OVERFIT_LOSS 0.05f

static void
test_overfit_reverse (void)
{
  g_autoptr (GArray) chars = attn_task_charset (ATTN_TASK_REVERSE);
  g_autoptr (AttnVocab) vocab = attn_vocab_new_from_chars (
    (const gunichar *) chars->data, chars->len);
  enum { B = 4 };
  g_autoptr (GRand) data_rng = g_rand_new_with_seed (2026);
  char *sources[B], *targets[B];
  int S = 0, T = 0;
  for (int b = 0; b < B; b++)
    {
      attn_task_example (ATTN_TASK_REVERSE, ATTN_SPLIT_TRAIN, data_rng,
                         &sources[b], &targets[b], NULL);
      S = MAX (S, (int) g_utf8_strlen (sources[b], -1) + 1);
      T = MAX (T, (int) g_utf8_strlen (targets[b], -1) + 1);
    }
  g_autofree int *src = g_new0 (int, B * S);
  g_autofree int *tgt_in = g_new0 (int, B * T);
  g_autofree int *tgt_out = g_new (int, B * T);
  for (int i = 0; i < B * T; i++)
    tgt_out[i] = -1;
  for (int b = 0; b < B; b++)
    {
      g_autoptr (GArray) s_ids = g_array_new (FALSE, FALSE, sizeof (int));
      g_autoptr (GArray) t_ids = g_array_new (FALSE, FALSE, sizeof (int));
      g_assert_true (attn_vocab_encode (vocab, sources[b], s_ids, NULL, NULL,
                                        NULL));
      g_assert_true (attn_vocab_encode (vocab, targets[b], t_ids, NULL, NULL,
                                        NULL));
      for (guint i = 0; i < s_ids->len; i++)
        src[b * S + i] = g_array_index (s_ids, int, i);
      src[b * S + s_ids->len] = ATTN_VOCAB_EOS;
      tgt_in[b * T] = ATTN_VOCAB_BOS;
      for (guint i = 0; i < t_ids->len; i++)
        {
          tgt_in[b * T + i + 1] = g_array_index (t_ids, int, i);
          tgt_out[b * T + i] = g_array_index (t_ids, int, i);
        }
      tgt_out[b * T + t_ids->len] = ATTN_VOCAB_EOS;
      g_free (sources[b]);
      g_free (targets[b]);
    }

  AttnModelConfig cfg = { 0 };
  cfg.arch = ATTN_ARCH_TRANSFORMER;
  cfg.V = attn_vocab_size (vocab);
  cfg.max_len = MAX (S, T);
  cfg.C = 32;
  cfg.NH = 4;
  cfg.L_enc = 2;
  cfg.L_dec = 2;
  cfg.F = 64;
  cfg.pre_norm = TRUE;
  AttnModel *model = model_new (&cfg, 8);
  AttnBatch batch = { B, S, T, src, tgt_in, tgt_out };
  const gsize n = model->params->n_floats;
  TestAdam adam = { g_new0 (float, n), g_new0 (float, n), 0 };

  float first = 0, loss = 0, acc = 0;
  int step;
  for (step = 0; step < OVERFIT_STEPS; step++)
    {
      attn_tensor_block_zero (model->grads);
      loss = model->klass->loss_and_grad (model, &batch, 0.0f, NULL, &acc);
      if (step == 0)
        first = loss;
      if (loss < OVERFIT_LOSS)
        break;
      adam_step (&adam, model->params->memory, model->grads->memory, n, 3e-3);
    }
  g_test_message ("reverse x4: loss %.4f -> %.4f in %d steps, token "
                  "accuracy %.3f", first, loss, step, acc);
  g_assert_cmpfloat (first, >, 2.0f); /* ~ln V at the start */
  g_assert_cmpfloat (loss, <, OVERFIT_LOSS);
  g_assert_cmpfloat (acc, ==, 1.0f);
  g_free (adam.m);
  g_free (adam.v);
  attn_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (fd_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
        "/attn/transformer/finite-differences/%s", fd_cases[i].name);
      g_test_add_data_func (path, &fd_cases[i], test_finite_differences);
    }
  g_test_add_data_func ("/attn/transformer/forward-matches-batch/post-norm",
                        GINT_TO_POINTER (FALSE), test_forward_matches_batch);
  g_test_add_data_func ("/attn/transformer/forward-matches-batch/pre-norm",
                        GINT_TO_POINTER (TRUE), test_forward_matches_batch);
  g_test_add_func ("/attn/transformer/trace-blocks", test_trace_blocks);
  g_test_add_func ("/attn/transformer/padding-masked", test_padding_masked);
  g_test_add_func ("/attn/transformer/init", test_init);
  g_test_add_func ("/attn/transformer/overfit-reverse", test_overfit_reverse);
  return g_test_run ();
}
