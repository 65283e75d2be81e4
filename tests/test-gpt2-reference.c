/* test-gpt2-reference.c: GPT-2 read from Hugging Face files against
 * PyTorch (tests/data/gpt2.json and the gpt2-tiny* folders, made by
 * tests/data/make-gpt2-fixtures.py: a GPT-2 forward written in torch, float32).
 *
 * Three checkpoints of the same weights: F32 with `transformer.` keys and an
 * lm_head, F32 without the prefix (with the attn.bias buffers), and F16
 * (compared with torch run on the same f16-rounded weights). Tolerances:
 * - every attention weight: max absolute error 1e-4;
 * - logits: max relative error 1e-4, |got - want| / max (|want|, 1) (the
 *   logits here range over about -10 .. 10; the floor keeps logits near 0
 *   to an absolute 1e-4);
 * - greedy generation: the same 8 tokens as torch's greedy decoding (the
 *   generator refused near ties), the same per-step logits as torch's and
 *   as a full recompute of the prefix (relative 1e-4 as above), and the
 *   grown trace's (NH, 20, 20) blocks equal to torch's attention over the
 *   whole sequence (1e-4 absolute). */
#include <math.h>
#include <string.h>

#include "core/attn-gpt2.h"
#include "core/attn-tensor.h"
#include "tests/attn-test-util.h"

#define ATT_TOL 1e-4
#define LOGIT_TOL 1e-4
#define LOGIT_FLOOR 1.0

typedef struct {
  const char *name;
  const char *folder;
  gboolean f16;
} RefCase;

static const RefCase ref_cases[] = {
  { "prefix", "gpt2-tiny", FALSE },
  { "noprefix", "gpt2-tiny-noprefix", FALSE },
  { "f16", "gpt2-tiny-f16", TRUE },
};

static JsonObject *
fixture (void)
{
  return attn_test_fixture ("gpt2.json");
}

/* probs (V) = softmax (logits (V)), in double. */
static void
softmax_ref (float *probs, const float *logits, int V)
{
  double maxv = logits[0], sum = 0.0;
  for (int i = 1; i < V; i++)
    maxv = MAX (maxv, logits[i]);
  for (int i = 0; i < V; i++)
    sum += exp (logits[i] - maxv);
  for (int i = 0; i < V; i++)
    probs[i] = (float) (exp (logits[i] - maxv) / sum);
}

static AttnGpt2 *
open_case (const RefCase *rc)
{
  g_autofree char *dir = attn_test_data_path (rc->folder);
  g_autoptr (GError) error = NULL;
  AttnGpt2 *m = attn_gpt2_open (dir, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  JsonObject *fx = fixture ();
  g_assert_cmpint (m->config.L, ==, (int) attn_test_number (fx, "L"));
  g_assert_cmpint (m->config.NH, ==, (int) attn_test_number (fx, "NH"));
  g_assert_cmpint (m->config.C, ==, (int) attn_test_number (fx, "C"));
  g_assert_cmpint (m->config.V, ==, (int) attn_test_number (fx, "V"));
  g_assert_cmpint (m->config.n_positions, ==,
                   (int) attn_test_number (fx, "n_positions"));
  g_assert_true (m->w.lm_head == m->w.wte); /* tied */
  /* F32 in place, F16 converted: nothing else. */
  if (rc->f16)
    g_assert_cmpuint (m->bytes_mapped, ==, 0);
  else
    g_assert_cmpuint (m->bytes_copied, ==, 0);
  return m;
}

/* Forward over ids (T) in one feed: att (L, NH, T, T), logits (T, V). */
static void
forward_all (AttnGpt2 *m, const int *ids, int T, float *att, float *logits)
{
  const AttnGpt2Config *c = &m->config;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGpt2State) s = attn_gpt2_state_new (m, T, &error);
  g_assert_no_error (error);
  g_autofree float **layers = g_new (float *, c->L);
  for (int l = 0; l < c->L; l++)
    layers[l] = att + (gsize) l * c->NH * T * T;
  g_autofree float *hidden = g_new (float, (gsize) T * c->C); /* (T, C) */
  g_assert_true (attn_gpt2_state_feed (s, ids, T, layers, T, hidden, NULL,
                                       &error));
  g_assert_no_error (error);
  attn_gpt2_logits (m, hidden, T, logits);
}

static void
test_forward (gconstpointer data)
{
  const RefCase *rc = data;
  JsonObject *fx = fixture ();
  g_autoptr (AttnGpt2) m = open_case (rc);
  const AttnGpt2Config *c = &m->config;
  /* f32: the whole 20-token sequence; f16: the 12-token prompt. */
  const char *ids_key = rc->f16 ? "ids" : "full";
  JsonArray *arr = json_object_get_array_member (fx, ids_key);
  const int T = (int) json_array_get_length (arr);
  g_autofree int *ids = attn_test_ints (fx, ids_key, T);
  const gsize n_att = (gsize) c->L * c->NH * T * T;
  g_autofree float *want_att = attn_test_floats (
      fx, rc->f16 ? "f16_att" : "att", n_att);
  g_autofree float *want_logits = attn_test_floats (
      fx, rc->f16 ? "f16_logits" : "logits", (gsize) T * c->V);

  g_autofree float *att = g_new (float, n_att);
  g_autofree float *logits = g_new (float, (gsize) T * c->V);
  forward_all (m, ids, T, att, logits);
  attn_test_assert_close ("attention (L, NH, T, T)", att, want_att, n_att,
                          ATT_TOL);
  attn_test_assert_rel_close ("logits (T, V)", logits, want_logits,
                              (gsize) T * c->V, LOGIT_TOL, LOGIT_FLOOR);
  g_test_message ("%s: attention max abs error %.2e, logits max rel error "
                  "%.2e", rc->name, attn_max_abs_diff (att, want_att, n_att),
                  attn_max_rel_diff (logits, want_logits, (gsize) T * c->V,
                                     LOGIT_FLOOR));
}

static void
test_greedy (gconstpointer data)
{
  const RefCase *rc = data;
  JsonObject *fx = fixture ();
  g_autoptr (AttnGpt2) m = open_case (rc);
  const AttnGpt2Config *c = &m->config;
  const int V = c->V;
  const int n = (int) json_array_get_length (
      json_object_get_array_member (fx, "ids"));
  const int N = (int) json_array_get_length (
      json_object_get_array_member (fx, "greedy"));
  const int T = n + N;
  g_autofree int *prompt = attn_test_ints (fx, "ids", n);
  g_autofree int *greedy = attn_test_ints (fx, "greedy", N);
  g_autofree int *full = attn_test_ints (fx, "full", T);
  g_autofree float *want_logits = attn_test_floats (fx, "logits",
                                                    (gsize) T * V);
  g_autofree float *want_att = attn_test_floats (
      fx, "att", (gsize) c->L * c->NH * T * T);
  g_autoptr (GError) error = NULL;

  /* Greedy decoding through the cache, by hand: each step's logits are
   * checked against torch's at that position and against a fresh state
   * fed the whole prefix at once. */
  g_autoptr (AttnGpt2State) s = attn_gpt2_state_new (m, T, &error);
  g_assert_no_error (error);
  g_autofree float *hidden = g_new (float, (gsize) n * c->C);
  g_autofree float *logits = g_new (float, V);
  g_autofree float *recomputed = g_new (float, (gsize) T * V);
  g_autofree float *scratch_att = g_new (float,
                                         (gsize) c->L * c->NH * T * T);
  g_autofree int *ids = g_new (int, T);
  memcpy (ids, prompt, (gsize) n * sizeof (int));
  g_assert_true (attn_gpt2_state_feed (s, prompt, n, NULL, 0, hidden, NULL,
                                       &error));
  attn_gpt2_logits (m, hidden + (gsize) (n - 1) * c->C, 1, logits);
  for (int p = n; p < T; p++)
    {
      AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
      int next = attn_gpt2_choose (logits, V, &o, NULL);
      g_assert_cmpint (next, ==, greedy[p - n]);
      g_autofree char *what = g_strdup_printf ("logits at position %d (step "
                                               "%d)", p - 1, p - n);
      attn_test_assert_rel_close (what, logits,
                                  want_logits + (gsize) (p - 1) * V, V,
                                  LOGIT_TOL, LOGIT_FLOOR);
      forward_all (m, ids, p, scratch_att, recomputed);
      attn_test_assert_rel_close (what, logits,
                                  recomputed + (gsize) (p - 1) * V, V,
                                  LOGIT_TOL, LOGIT_FLOOR);
      ids[p] = next;
      g_assert_true (attn_gpt2_state_feed (s, &ids[p], 1, NULL, 0, hidden,
                                           NULL, &error));
      attn_gpt2_logits (m, hidden, 1, logits);
    }
  g_assert_cmpmem (ids, T * sizeof (int), full, T * sizeof (int));

  /* The same through attn_gpt2_run_ids: the grown blocks and the steps. */
  AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
  o.n_generate = N;
  g_autoptr (AttnTrace) trace = attn_gpt2_run_ids (m, prompt, n, &o, &error);
  g_assert_no_error (error);
  g_assert_true (attn_trace_validate (trace, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==, T);
  for (int p = 0; p < T; p++)
    g_assert_cmpint (attn_trace_get_token (trace, ATTN_SIDE_TARGET, p)->id,
                     ==, full[p]);
  for (int l = 0; l < c->L; l++)
    {
      const AttnBlock *b = attn_trace_lookup_block (trace,
                                                    ATTN_KIND_DECODER_SELF, l);
      g_assert_nonnull (b);
      g_assert_cmpint (b->n_queries, ==, T);
      g_assert_cmpint (b->n_keys, ==, T);
      g_autofree char *what = g_strdup_printf ("trace block %d", l);
      attn_test_assert_close (what, b->weights,
                              want_att + (gsize) l * c->NH * T * T,
                              (gsize) c->NH * T * T, ATT_TOL);
    }
  /* Step p: the model's probability of token p + 1 = torch's softmax. */
  g_assert_cmpuint (trace->steps->len, ==, T);
  g_autofree float *probs = g_new (float, V);
  for (int p = 0; p + 1 < T; p++)
    {
      const AttnStep *step = g_ptr_array_index (trace->steps, p);
      softmax_ref (probs, want_logits + (gsize) p * V, V);
      g_assert_cmpint (step->emitted.id, ==, full[p + 1]);
      g_assert_cmpfloat_with_epsilon (step->emitted.prob,
                                      probs[full[p + 1]], 1e-5);
      g_assert_cmpint (step->n_top, ==, 5);
      for (int k = 0; k < step->n_top; k++)
        g_assert_cmpfloat_with_epsilon (step->top[k].prob,
                                        probs[step->top[k].id], 1e-5);
      for (int k = 1; k < step->n_top; k++)
        g_assert_cmpfloat (step->top[k - 1].prob, >=, step->top[k].prob);
      /* greedy: where generated, the emitted token is the top one */
      if (p + 1 >= n)
        g_assert_cmpint (step->top[0].id, ==, step->emitted.id);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (ref_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/attn/gpt2-reference/forward/%s",
                                            ref_cases[i].name);
      g_test_add_data_func (p, &ref_cases[i], test_forward);
      if (!ref_cases[i].f16)
        {
          g_autofree char *q = g_strdup_printf (
              "/attn/gpt2-reference/greedy/%s", ref_cases[i].name);
          g_test_add_data_func (q, &ref_cases[i], test_greedy);
        }
    }
  return g_test_run ();
}
