/* test-decode.c: incremental decoding (attn_decode_state_*, the classes'
 * encode / step / state_copy / state_free hooks) held to the decoding it
 * replaces, running forward on the whole prefix at every step:
 * - every step's logits equal the last row of a full forward on the same
 *   inputs, for the Transformer (pre- and post-norm, padded sources too)
 *   and every RNN attention;
 * - greedy runs and beam searches give the same outputs with and without
 *   the hooks (AttnRunOptions.recompute_prefix) on random models and
 *   inputs;
 * - a copied state is independent of its original, and outlives it;
 * - a class without the hooks decodes by the recompute. */
#include <math.h>
#include <string.h>

#include "core/attn-model.h"
#include "tests/attn-test-util.h"

/* Every test vocabulary character: 17, so V = 21. */
static const char test_chars[] = "0123456789abc-年月日";
#define TEST_V 21
#define TEST_MAX_LEN 12

/* Float32 logits of a step and of a full forward differ by rounding only
 * (the same kernels, on one row instead of T): relative to the largest
 * logit of the row, so that logits near 0 are held to the scale of the
 * row rather than to themselves. */
#define STEP_TOL 1e-5

typedef struct {
  const char *name;
  AttnModelConfig config;
} DecodeCase;

static const DecodeCase cases[] = {
  { "transformer-pre",
    { .arch = ATTN_ARCH_TRANSFORMER, .V = TEST_V, .max_len = TEST_MAX_LEN,
      .C = 16, .NH = 2, .L_enc = 2, .L_dec = 2, .F = 24, .pre_norm = TRUE,
      .dropout = 0.1f } },
  { "transformer-post",
    { .arch = ATTN_ARCH_TRANSFORMER, .V = TEST_V, .max_len = TEST_MAX_LEN,
      .C = 16, .NH = 4, .L_enc = 1, .L_dec = 3, .F = 20 } },
  { "transformer-wide",
    { .arch = ATTN_ARCH_TRANSFORMER, .V = TEST_V, .max_len = TEST_MAX_LEN,
      .C = 128, .NH = 4, .L_enc = 2, .L_dec = 2, .F = 256 } },
  { "rnn-additive",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 10, .A = 7, .attention = ATTN_MECHANISM_ADDITIVE,
      .dropout = 0.1f } },
  { "rnn-luong-dot",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 10, .attention = ATTN_MECHANISM_LUONG_DOT } },
  { "rnn-luong-general",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 10, .attention = ATTN_MECHANISM_LUONG_GENERAL } },
  { "rnn-luong-concat",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 10, .A = 7, .attention = ATTN_MECHANISM_LUONG_CONCAT } },
  { "rnn-local-p",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 10, .A = 7, .attention = ATTN_MECHANISM_LUONG_LOCAL_P,
      .D = 2 } },
};

static AttnModel *
make_model (const AttnModelConfig *config, guint32 seed)
{
  g_autofree gunichar *u = g_utf8_to_ucs4_fast (test_chars, -1, NULL);
  AttnVocab *vocab = attn_vocab_new_from_chars (
      u, (guint) g_utf8_strlen (test_chars, -1));
  g_autoptr (GError) error = NULL;
  AttnModel *model = attn_model_new ("test-decode", config, vocab, seed,
                                     &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

/* A random text of 1 .. max_len - 1 vocabulary characters. */
static char *
random_text (GRand *rng)
{
  g_autofree gunichar *u = g_utf8_to_ucs4_fast (test_chars, -1, NULL);
  int n_chars = (int) g_utf8_strlen (test_chars, -1);
  int len = g_rand_int_range (rng, 1, TEST_MAX_LEN);
  GString *s = g_string_new (NULL);
  for (int i = 0; i < len; i++)
    g_string_append_unichar (s, u[g_rand_int_range (rng, 0, n_chars)]);
  return g_string_free (s, FALSE);
}

/* src (*S): n_real random non-special ids, </s>, then n_pad <pad>. */
static int *
random_source (GRand *rng, int n_real, int n_pad, int *S)
{
  *S = n_real + 1 + n_pad;
  int *src = g_new (int, *S);
  for (int i = 0; i < n_real; i++)
    src[i] = g_rand_int_range (rng, ATTN_VOCAB_N_SPECIAL, TEST_V);
  src[n_real] = ATTN_VOCAB_EOS;
  for (int i = 0; i < n_pad; i++)
    src[n_real + 1 + i] = ATTN_VOCAB_PAD;
  return src;
}

/* row (V) = the last row of forward's logits on src and inputs (T). */
static void
forward_last_row (AttnModel *m, const int *src, int S, const int *inputs,
                  int T, float *row)
{
  int V = m->config.V;
  g_autofree float *logits = g_new (float, (gsize) T * V);
  m->klass->forward (m, src, S, inputs, T, logits, NULL);
  memcpy (row, logits + (gsize) (T - 1) * V, V * sizeof (float));
}

/* max |got - want| / max (max |want|, 1e-30) over the row (V). */
static double
row_error (const float *got, const float *want, int V)
{
  double scale = 1e-30, err = 0.0;
  for (int j = 0; j < V; j++)
    {
      scale = MAX (scale, fabs (want[j]));
      err = MAX (err, fabs ((double) got[j] - want[j]));
    }
  return err / scale;
}

static void
assert_step (AttnModel *m, const int *src, int S, const int *inputs, int T,
             const float *got, double *worst)
{
  int V = m->config.V;
  g_autofree float *want = g_new (float, V);
  forward_last_row (m, src, S, inputs, T, want);
  double err = row_error (got, want, V);
  *worst = MAX (*worst, err);
  if (!(err <= STEP_TOL))
    g_error ("step %d (S = %d): logits differ from the forward's last row "
             "by %.3g of the row's largest (tolerance %g)", T, S, err,
             STEP_TOL);
}

/* Every step's logits, from <s> to max_len inputs, against the last row of
 * a full forward on the same inputs: random models, sources (padded ones
 * too) and decoder inputs (specials included). */
static void
test_step_logits (gconstpointer data)
{
  const DecodeCase *dc = data;
  const int V = TEST_V, L = TEST_MAX_LEN;
  g_autoptr (GRand) rng = g_rand_new_with_seed (11);
  double worst = 0.0;
  for (guint32 seed = 1; seed <= 3; seed++)
    {
      g_autoptr (AttnModel) m = make_model (&dc->config, seed);
      for (int k = 0; k < 4; k++)
        {
          /* the shortest source, the longest, and two with <pad> after
           * </s> */
          int n_real = k == 0   ? 0
                       : k == 1 ? L - 1
                                : g_rand_int_range (rng, 1, 6);
          int n_pad = k < 2 ? 0 : g_rand_int_range (rng, 1, L - n_real);
          int S = 0;
          g_autofree int *src = random_source (rng, n_real, n_pad, &S);
          g_autoptr (AttnDecodeState) st = attn_decode_state_new (m, src, S);
          g_assert_nonnull (st);
          g_assert_true (st->model == m);
          g_assert_cmpint (st->S, ==, S);
          g_assert_cmpint (st->n_inputs, ==, 0);

          int inputs[TEST_MAX_LEN];
          float logits[TEST_V];
          inputs[0] = ATTN_VOCAB_BOS;
          for (int t = 1; t < L; t++)
            inputs[t] = g_rand_int_range (rng, 0, V);
          for (int T = 1; T <= L; T++)
            {
              attn_decode_state_step (st, inputs[T - 1], logits);
              g_assert_cmpint (st->n_inputs, ==, T);
              assert_step (m, src, S, inputs, T, logits, &worst);
            }
        }
    }
  g_test_message ("%s: largest step error %.3g of the row's largest logit",
                  dc->name, worst);
}

/* Rank k of two lists of alternatives, most probable first: the same
 * token with the same probability (float32 softmax: 1e-5 absolute), or
 * two tokens whose probabilities tie within float rounding (1e-7
 * absolute), which rounding may order either way. */
static void
assert_same_alternative (int id_a, float prob_a, int id_b, float prob_b)
{
  if (id_a == id_b)
    g_assert_cmpfloat_with_epsilon (prob_a, prob_b, 1e-5);
  else
    g_assert_cmpfloat_with_epsilon (prob_a, prob_b, 1e-7);
}

/* Two runs of text emitted the same tokens with the same alternatives
 * (probabilities to float rounding) and drew the same weights. */
static void
assert_same_runs (const char *text, const AttnTrace *a, const AttnTrace *b)
{
  g_assert_cmpstr (a->target_text, ==, b->target_text);
  g_assert_cmpuint (a->steps->len, ==, b->steps->len);
  for (guint i = 0; i < a->steps->len; i++)
    {
      const AttnStep *x = g_ptr_array_index (a->steps, i);
      const AttnStep *y = g_ptr_array_index (b->steps, i);
      if (x->emitted.id != y->emitted.id)
        g_error ("“%s”: step %u emits %d incrementally, %d by recompute",
                 text, i, x->emitted.id, y->emitted.id);
      /* float32 probabilities of a softmax: 1e-5 absolute */
      g_assert_cmpfloat_with_epsilon (x->emitted.prob, y->emitted.prob, 1e-5);
      g_assert_cmpint (x->n_top, ==, y->n_top);
      for (int k = 0; k < x->n_top; k++)
        assert_same_alternative (x->top[k].id, x->top[k].prob, y->top[k].id,
                                 y->top[k].prob);
    }
  /* Same output, same teacher-forced forward: the same weights, exactly. */
  g_assert_cmpuint (a->blocks->len, ==, b->blocks->len);
  for (guint i = 0; i < a->blocks->len; i++)
    {
      const AttnBlock *x = g_ptr_array_index (a->blocks, i);
      const AttnBlock *y = g_ptr_array_index (b->blocks, i);
      gsize n = (gsize) x->n_heads * x->n_queries * x->n_keys;
      g_assert_cmpint (x->n_queries, ==, y->n_queries);
      g_assert_cmpmem (x->weights, n * sizeof (float), y->weights,
                       n * sizeof (float));
    }
}

static void
assert_same_hypotheses (const char *text, int W, GPtrArray *a, GPtrArray *b)
{
  g_assert_cmpuint (a->len, ==, b->len);
  for (guint i = 0; i < a->len; i++)
    {
      const AttnHypothesis *x = g_ptr_array_index (a, i);
      const AttnHypothesis *y = g_ptr_array_index (b, i);
      if (x->n_tokens != y->n_tokens
          || memcmp (x->tokens, y->tokens, x->n_tokens * sizeof (int)) != 0)
        g_error ("“%s”, beam %d: hypothesis %u differs with and without "
                 "incremental decoding", text, W, i);
      g_assert_cmpint (x->finished, ==, y->finished);
      /* log-probabilities summed in double from float32 logits */
      g_assert_cmpfloat (fabs (x->log_prob - y->log_prob), <=,
                         1e-5 * MAX (1.0, fabs (y->log_prob)));
      g_assert_cmpfloat (fabs (x->score - y->score), <=,
                         1e-5 * MAX (1.0, fabs (y->score)));
      for (int k = 0; k < x->n_tokens * x->n_top; k++)
        assert_same_alternative (x->top_ids[k], x->top_probs[k],
                                 y->top_ids[k], y->top_probs[k]);
    }
}

/* Greedy runs, translations and beam searches (widths 2, 3, 5; sum and
 * length-normalised scores) with and without the hooks: the same tokens,
 * scores equal to float rounding. */
static void
test_same_search (gconstpointer data)
{
  const DecodeCase *dc = data;
  g_autoptr (GRand) rng = g_rand_new_with_seed (23);
  int n_searches = 0;
  for (guint32 seed = 1; seed <= 5; seed++)
    {
      g_autoptr (AttnModel) m = make_model (&dc->config, seed);
      for (int k = 0; k < 8; k++)
        {
          g_autofree char *text = random_text (rng);
          g_autoptr (GError) error = NULL;
          AttnRunOptions inc = ATTN_RUN_OPTIONS_INIT;
          AttnRunOptions full = ATTN_RUN_OPTIONS_INIT;
          full.recompute_prefix = TRUE;
          g_autoptr (AttnTrace) a = attn_model_run (m, text, &inc, NULL,
                                                    &error);
          g_assert_no_error (error);
          g_autoptr (AttnTrace) b = attn_model_run (m, text, &full, NULL,
                                                    &error);
          g_assert_no_error (error);
          assert_same_runs (text, a, b);
          g_autofree char *out = attn_model_translate (m, text, &error);
          g_assert_no_error (error);
          g_assert_cmpstr (out, ==, b->target_text);

          g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
          g_assert_true (attn_vocab_encode (m->vocab, text, ids, NULL, NULL,
                                            &error));
          int eos = ATTN_VOCAB_EOS;
          g_array_append_val (ids, eos);
          static const int widths[] = { 2, 3, 5 };
          for (guint w = 0; w < G_N_ELEMENTS (widths); w++)
            {
              inc.beam_width = full.beam_width = widths[w];
              inc.length_normalise = full.length_normalise = k % 2;
              g_autoptr (GPtrArray) x = attn_model_beam_search (
                  m, (int *) ids->data, (int) ids->len, &inc, &error);
              g_assert_no_error (error);
              g_autoptr (GPtrArray) y = attn_model_beam_search (
                  m, (int *) ids->data, (int) ids->len, &full, &error);
              g_assert_no_error (error);
              assert_same_hypotheses (text, widths[w], x, y);
              n_searches++;
            }
        }
    }
  g_test_message ("%s: 40 greedy runs and %d beam searches identical",
                  dc->name, n_searches);
}

/* Copies fork: stepping a copy leaves its original as it was (its next
 * logits are those of its own prefix), both agree with the forward, and a
 * copy outlives its original. */
static void
test_copy_independent (gconstpointer data)
{
  const DecodeCase *dc = data;
  const int V = TEST_V;
  g_autoptr (GRand) rng = g_rand_new_with_seed (5);
  g_autoptr (AttnModel) m = make_model (&dc->config, 7);
  int S = 0;
  g_autofree int *src = random_source (rng, 6, 0, &S);
  double worst = 0.0;
  float la[TEST_V], lb[TEST_V], lc[TEST_V];

  /* A copy of a state that has consumed nothing. */
  AttnDecodeState *a = attn_decode_state_new (m, src, S);
  g_autoptr (AttnDecodeState) fresh = attn_decode_state_copy (a);
  g_assert_cmpint (fresh->n_inputs, ==, 0);
  g_assert_cmpint (fresh->S, ==, S);

  int pa[] = { ATTN_VOCAB_BOS, 7, 9, 12, 5 };   /* a's inputs */
  int pb[] = { ATTN_VOCAB_BOS, 7, 9, 16, 4, 8 }; /* the fork's */
  for (int t = 0; t < 3; t++)
    attn_decode_state_step (a, pa[t], la);
  AttnDecodeState *b = attn_decode_state_copy (a);
  g_assert_cmpint (b->n_inputs, ==, 3);

  /* The same input into both: bit for bit the same computation. */
  g_autoptr (AttnDecodeState) c = attn_decode_state_copy (a);
  attn_decode_state_step (c, pa[3], lc);

  for (int t = 3; t < 6; t++)
    {
      attn_decode_state_step (b, pb[t], lb);
      assert_step (m, src, S, pb, t + 1, lb, &worst);
    }
  attn_decode_state_step (a, pa[3], la);
  g_assert_cmpmem (la, sizeof la, lc, sizeof lc);
  assert_step (m, src, S, pa, 4, la, &worst);
  /* a's path and b's differ from input 3 on: so do their logits. */
  g_assert_cmpfloat (row_error (la, lb, V), >, 1e-3);

  /* The copy made before any step still starts from <s>. */
  attn_decode_state_step (fresh, ATTN_VOCAB_BOS, lc);
  assert_step (m, src, S, pa, 1, lc, &worst);

  /* b outlives a (they share the encoding). */
  attn_decode_state_free (a);
  int pb2[] = { ATTN_VOCAB_BOS, 7, 9, 16, 4, 8, 11 };
  attn_decode_state_step (b, pb2[6], lb);
  assert_step (m, src, S, pb2, 7, lb, &worst);
  attn_decode_state_free (b);
  g_test_message ("%s: largest step error %.3g", dc->name, worst);
}

/* A class without the hooks: no state, and runs decode by the recompute
 * with the same results. */
static void
test_no_hooks (gconstpointer data)
{
  const DecodeCase *dc = data;
  g_autoptr (AttnModel) m = make_model (&dc->config, 3);
  const AttnModelClass *klass = m->klass;
  AttnModelClass plain = *klass;
  plain.encode = NULL;
  plain.step = NULL;
  plain.state_copy = NULL;
  plain.state_free = NULL;

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) a = attn_model_run (m, "12-ab", NULL, NULL, &error);
  g_assert_no_error (error);
  m->klass = &plain;
  const int src[] = { 5, 6, ATTN_VOCAB_EOS };
  g_assert_null (attn_decode_state_new (m, src, 3));
  g_autoptr (AttnTrace) b = attn_model_run (m, "12-ab", NULL, NULL, &error);
  g_assert_no_error (error);
  m->klass = klass;
  assert_same_runs ("12-ab", a, b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *p1 = g_strdup_printf ("/attn/decode/step-logits/%s",
                                             cases[i].name);
      g_test_add_data_func (p1, &cases[i], test_step_logits);
      g_autofree char *p2 = g_strdup_printf ("/attn/decode/same-search/%s",
                                             cases[i].name);
      g_test_add_data_func (p2, &cases[i], test_same_search);
      g_autofree char *p3 = g_strdup_printf (
          "/attn/decode/copy-independent/%s", cases[i].name);
      g_test_add_data_func (p3, &cases[i], test_copy_independent);
    }
  g_test_add_data_func ("/attn/decode/no-hooks/transformer", &cases[0],
                        test_no_hooks);
  g_test_add_data_func ("/attn/decode/no-hooks/rnn", &cases[3],
                        test_no_hooks);
  return g_test_run ();
}
