/* test-transformer-reference.c: the Transformer encoder-decoder against the
 * same architecture built from torch.nn modules (tests/data/transformer-
 * {post,pre}.json, made by tests/data/make-transformer-fixtures.py; the
 * reference is computed in float64 from the float32 weights).
 *
 * A padded batch (B = 2, S = 6, T = 5) through both the post-norm and the
 * pre-norm model. Tolerances:
 * - logits and every attention weight: max absolute error 1e-4;
 * - the label-smoothed mean loss: relative error 1e-5;
 * - the gradient of every parameter: max relative error 1e-4,
 *   |got - want| / max (|want|, GRAD_FLOOR) with GRAD_FLOOR = 1e-3 (the
 *   largest gradients here are ~1; a gradient that is ~0 by cancellation
 *   carries float32 rounding of ~1e-8 and would read as a huge relative
 *   error, while every gradient above 1e-3 is held to a true 1e-4). */
#include <math.h>
#include <string.h>

#include "core/attn-transformer.h"
#include "tests/attn-test-util.h"

#define OUT_TOL 1e-4
#define LOSS_TOL 1e-5
#define GRAD_TOL 1e-4
#define GRAD_FLOOR 1e-3

typedef struct {
  const char *name;
  const char *fixture;
  gboolean pre_norm;
} RefCase;

static const RefCase ref_cases[] = {
  { "post-norm", "transformer-post.json", FALSE },
  { "pre-norm", "transformer-pre.json", TRUE },
};

static int
fx_int (JsonObject *fx, const char *key)
{
  return (int) attn_test_number (fx, key);
}

/* A model with the fixture's config and weights, gradients zeroed. */
static AttnModel *
model_from_fixture (JsonObject *fx, const RefCase *rc)
{
  AttnModelConfig cfg = { 0 };
  cfg.arch = ATTN_ARCH_TRANSFORMER;
  cfg.V = fx_int (fx, "V");
  cfg.C = fx_int (fx, "C");
  cfg.NH = fx_int (fx, "NH");
  cfg.L_enc = fx_int (fx, "L_enc");
  cfg.L_dec = fx_int (fx, "L_dec");
  cfg.F = fx_int (fx, "F");
  cfg.max_len = MAX (fx_int (fx, "S"), fx_int (fx, "T"));
  cfg.pre_norm = fx_int (fx, "pre_norm") != 0;
  cfg.dropout = 0.1f; /* must not matter: no rng is given */
  g_assert_cmpint (cfg.pre_norm, ==, rc->pre_norm);

  AttnModel *model = g_new0 (AttnModel, 1);
  model->klass = &attn_transformer_class;
  model->config = cfg;
  guint n = 0;
  g_autofree AttnTensorSpec *specs = attn_transformer_class.param_specs (&cfg,
                                                                         &n);
  model->params = attn_tensor_block_new (specs, n, NULL);
  model->grads = attn_tensor_block_new (specs, n, NULL);
  g_assert_nonnull (model->params);
  g_assert_nonnull (model->grads);

  /* The parameter names and their order are the documented file format. */
  JsonArray *names = json_object_get_array_member (fx, "param_names");
  g_assert_cmpuint (json_array_get_length (names), ==, n);
  for (guint i = 0; i < n; i++)
    {
      const char *name = json_array_get_string_element (names, i);
      g_assert_cmpstr (specs[i].name, ==, name);
      AttnTensor *t = attn_tensor_block_lookup (model->params, name);
      g_autofree char *key = g_strconcat ("param.", name, NULL);
      g_autofree float *w = attn_test_floats (fx, key, t->numel);
      memcpy (t->data, w, t->numel * sizeof (float));
    }
  return model;
}

static void
test_logits (gconstpointer data)
{
  const RefCase *rc = data;
  JsonObject *fx = attn_test_fixture (rc->fixture);
  AttnModel *model = model_from_fixture (fx, rc);
  const int B = fx_int (fx, "B"), S = fx_int (fx, "S"), T = fx_int (fx, "T");
  const int V = model->config.V;
  g_autofree int *src = attn_test_ints (fx, "src", B * S);
  g_autofree int *tgt_in = attn_test_ints (fx, "tgt_in", B * T);
  g_autofree int *tgt_out = attn_test_ints (fx, "tgt_out", B * T);
  g_autofree float *want = attn_test_floats (fx, "logits", B * T * V);

  AttnBatch batch = { B, S, T, src, tgt_in, tgt_out };
  g_autofree float *logits = g_new (float, B * T * V); /* (B, T, V) */
  attn_transformer_forward_batch (model, &batch, NULL, logits);
  attn_test_assert_close ("batched logits", logits, want, B * T * V,
                          OUT_TOL);

  /* One example at a time (padding included, so shapes match), as the
   * model's forward runs for decoding and tracing. */
  g_autofree float *one = g_new (float, T * V); /* (T, V) */
  for (int b = 0; b < B; b++)
    {
      model->klass->forward (model, src + b * S, S, tgt_in + b * T, T, one,
                             NULL);
      attn_test_assert_close ("per-example logits", one, want + b * T * V,
                              T * V, OUT_TOL);
    }
  attn_model_free (model);
}

static void
test_attention (gconstpointer data)
{
  const RefCase *rc = data;
  JsonObject *fx = attn_test_fixture (rc->fixture);
  AttnModel *model = model_from_fixture (fx, rc);
  const AttnModelConfig *cfg = &model->config;
  const int B = fx_int (fx, "B"), S = fx_int (fx, "S"), T = fx_int (fx, "T");
  const int NH = cfg->NH;
  g_autofree int *src = attn_test_ints (fx, "src", B * S);
  g_autofree int *tgt_in = attn_test_ints (fx, "tgt_in", B * T);
  g_autofree float *logits = g_new (float, T * cfg->V); /* (T, V) */

  const struct {
    AttnKind kind;
    int n_layers, Tq, Tk;
  } kinds[] = {
    { ATTN_KIND_ENCODER_SELF, cfg->L_enc, S, S },
    { ATTN_KIND_DECODER_SELF, cfg->L_dec, T, T },
    { ATTN_KIND_CROSS, cfg->L_dec, T, S },
  };
  for (int b = 0; b < B; b++)
    {
      g_autoptr (AttnTrace) trace = attn_trace_new (
        "fixture", "transformer-encoder-decoder",
        ATTN_MECHANISM_SCALED_DOT_PRODUCT, MAX (cfg->L_enc, cfg->L_dec), NH);
      model->klass->forward (model, src + b * S, S, tgt_in + b * T, T, logits,
                             trace);
      g_assert_cmpuint (trace->blocks->len, ==, cfg->L_enc + 2 * cfg->L_dec);
      for (gsize k = 0; k < G_N_ELEMENTS (kinds); k++)
        for (int l = 0; l < kinds[k].n_layers; l++)
          {
            const int Tq = kinds[k].Tq, Tk = kinds[k].Tk;
            const gsize n = (gsize) NH * Tq * Tk;
            g_autofree char *key = g_strdup_printf (
              "att.%s.%d", attn_kind_to_string (kinds[k].kind), l);
            g_autofree float *want = attn_test_floats (fx, key, B * n);
            AttnBlock *block = attn_trace_lookup_block (trace, kinds[k].kind,
                                                        l);
            g_assert_nonnull (block);
            g_assert_cmpint (block->n_heads, ==, NH);
            g_assert_cmpint (block->n_queries, ==, Tq);
            g_assert_cmpint (block->n_keys, ==, Tk);
            attn_test_assert_close (key, block->weights, want + b * n, n,
                                    OUT_TOL);
          }
    }
  attn_model_free (model);
}

static void
test_loss_and_grads (gconstpointer data)
{
  const RefCase *rc = data;
  JsonObject *fx = attn_test_fixture (rc->fixture);
  AttnModel *model = model_from_fixture (fx, rc);
  const int B = fx_int (fx, "B"), S = fx_int (fx, "S"), T = fx_int (fx, "T");
  g_autofree int *src = attn_test_ints (fx, "src", B * S);
  g_autofree int *tgt_in = attn_test_ints (fx, "tgt_in", B * T);
  g_autofree int *tgt_out = attn_test_ints (fx, "tgt_out", B * T);
  const float eps = (float) attn_test_number (fx, "label_smoothing");
  const double want_loss = attn_test_number (fx, "loss");
  g_assert_cmpfloat (eps, >, 0.0f);

  AttnBatch batch = { B, S, T, src, tgt_in, tgt_out };
  float acc = -1.0f;
  float loss = model->klass->loss_and_grad (model, &batch, eps, NULL, &acc);
  g_assert_cmpfloat (fabs (loss - want_loss) / fabs (want_loss), <=,
                     LOSS_TOL);
  g_assert_cmpfloat (acc, >=, 0.0f);
  g_assert_cmpfloat (acc, <=, 1.0f);

  double worst = 0.0;
  for (guint i = 0; i < model->grads->n_tensors; i++)
    {
      const AttnTensor *t = &model->grads->tensors[i];
      g_autofree char *key = g_strconcat ("grad.", t->name, NULL);
      g_autofree float *want = attn_test_floats (fx, key, t->numel);
      attn_test_assert_rel_close (key, t->data, want, t->numel, GRAD_TOL,
                                  GRAD_FLOOR);
      worst = MAX (worst, attn_max_rel_diff (t->data, want, t->numel,
                                             GRAD_FLOOR));
    }
  g_test_message ("%s: loss %.9g (torch %.9g), worst gradient relative "
                  "error %.3g", rc->name, loss, want_loss, worst);

  /* Gradients accumulate: a second call adds the same again. */
  g_autofree float *first = g_memdup2 (model->grads->memory,
                                       model->grads->n_floats * sizeof (float));
  model->klass->loss_and_grad (model, &batch, eps, NULL, NULL);
  for (gsize i = 0; i < model->grads->n_floats; i++)
    g_assert_cmpfloat_with_epsilon (model->grads->memory[i], 2.0f * first[i],
                                    1e-6f * MAX (1.0f, fabsf (first[i])));
  attn_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (ref_cases); i++)
    {
      const RefCase *rc = &ref_cases[i];
      g_autofree char *p1 = g_strdup_printf (
        "/attn/transformer-reference/%s/logits", rc->name);
      g_autofree char *p2 = g_strdup_printf (
        "/attn/transformer-reference/%s/attention", rc->name);
      g_autofree char *p3 = g_strdup_printf (
        "/attn/transformer-reference/%s/loss-and-gradients", rc->name);
      g_test_add_data_func (p1, rc, test_logits);
      g_test_add_data_func (p2, rc, test_attention);
      g_test_add_data_func (p3, rc, test_loss_and_grads);
    }
  return g_test_run ();
}
