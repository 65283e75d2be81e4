/* test-rnn-reference.c: the RNN encoder-decoder (core/attn-rnn.c) against
 * the same model built from torch.nn, one case per attention type, from
 * tests/data/rnn.json (made by tests/data/make-rnn-fixtures.py; torch ran
 * in float64 on the float32 weights, we run in float32).
 *
 * - logits of each example's teacher-forced forward: max abs error
 *   <= 1e-4 (they are of order 1);
 * - attention weights from the trace, padded keys included: max abs error
 *   <= 1e-4 (padded keys exactly 0 on both sides);
 * - the batch's mean token loss with label smoothing 0.1: relative error
 *   <= 1e-5, and the token accuracy exactly torch's argmax count;
 * - the gradient of every parameter: relative error <= 1e-4, each entry's
 *   error divided by max (|torch's value|, 1e-3 * the largest |gradient|
 *   of the whole model). Float32 sums of terms of the model's gradient
 *   scale g carry rounding errors of about 1e-7 g, so entries below
 *   1e-3 g (some whole tensors here, such as the additive score's w_q, are
 *   that small) are held to 1e-7 g absolute instead of to their own size.
 *   Measured worst: 3e-5 with this floor (8.7e-5 with a per-tensor floor
 *   of 1e-3 of each tensor's own scale);
 * - the model's tensors are exactly torch's (names and shapes), so a model
 *   file can be checked against its PyTorch twin by name. */
#include <math.h>
#include <string.h>

#include "core/attn-model.h"
#include "tests/attn-test-util.h"

#define LOGIT_TOL 1e-4
#define ATT_TOL 1e-4
#define LOSS_TOL 1e-5
#define GRAD_TOL 1e-4
#define GRAD_FLOOR 1e-3

typedef struct {
  const char *name; /* the fixture's case, also the mechanism's spelling */
} Case;

static const Case cases[] = {
  { "additive" },
  { "luong-dot" },
  { "luong-general" },
  { "luong-concat" },
  { "luong-local-p" },
};

static int
fx_int (JsonObject *fx, const char *key)
{
  return (int) attn_test_number (fx, key);
}

/* A model of the fixture's sizes holding its weights for case `kase`, with
 * gradients enabled; built on the class directly (no files). */
static AttnModel *
fixture_model (JsonObject *fx, const char *kase)
{
  AttnModel *model = g_new0 (AttnModel, 1);
  model->klass = &attn_rnn_class;
  model->name = g_strdup (kase);
  model->config = (AttnModelConfig) {
    .arch = ATTN_ARCH_RNN,
    .V = fx_int (fx, "V"),
    .max_len = 16,
    .E = fx_int (fx, "E"),
    .H = fx_int (fx, "H"),
    .A = fx_int (fx, "A"),
    .D = fx_int (fx, "D"),
  };
  g_assert_true (attn_mechanism_from_string (kase, &model->config.attention));
  /* As attn_model_config_validate wants: A only where a score uses it. */
  if (model->config.attention == ATTN_MECHANISM_LUONG_DOT
      || model->config.attention == ATTN_MECHANISM_LUONG_GENERAL)
    model->config.A = 0;
  if (model->config.attention != ATTN_MECHANISM_LUONG_LOCAL_P)
    model->config.D = 0;

  guint n = 0;
  g_autofree AttnTensorSpec *specs =
    attn_rnn_class.param_specs (&model->config, &n);
  g_autoptr (GError) error = NULL;
  model->params = attn_tensor_block_new (specs, n, &error);
  g_assert_no_error (error);
  model->grads = attn_tensor_block_new (specs, n, &error);
  g_assert_no_error (error);

  /* Every tensor of ours is one of torch's, with the same number of
   * values... */
  for (guint i = 0; i < model->params->n_tensors; i++)
    {
      AttnTensor *t = &model->params->tensors[i];
      g_autofree char *key = g_strdup_printf ("%s.param.%s", kase, t->name);
      g_autofree float *v = attn_test_floats (fx, key, t->numel);
      memcpy (t->data, v, t->numel * sizeof (float));
    }
  /* ... and torch has no tensor we lack. */
  g_autofree char *prefix = g_strdup_printf ("%s.param.", kase);
  g_autoptr (GList) members = json_object_get_members (fx);
  guint n_torch = 0;
  for (GList *l = members; l != NULL; l = l->next)
    if (g_str_has_prefix (l->data, prefix))
      {
        const char *name = (const char *) l->data + strlen (prefix);
        if (attn_tensor_block_lookup (model->params, name) == NULL)
          g_error ("torch's %s has no tensor in our model", name);
        n_torch++;
      }
  g_assert_cmpuint (n_torch, ==, model->params->n_tensors);
  return model;
}

static void
test_forward (gconstpointer data)
{
  const Case *c = data;
  JsonObject *fx = attn_test_fixture ("rnn.json");
  const int B = fx_int (fx, "B"), S = fx_int (fx, "S"), T = fx_int (fx, "T");
  const int V = fx_int (fx, "V");
  AttnModel *model = fixture_model (fx, c->name);
  g_autofree int *src = attn_test_ints (fx, "src", B * S);
  g_autofree int *tgt_in = attn_test_ints (fx, "tgt_in", B * T);
  g_autofree char *lkey = g_strdup_printf ("%s.logits", c->name);
  g_autofree char *akey = g_strdup_printf ("%s.att", c->name);
  g_autofree float *want_logits = attn_test_floats (fx, lkey, B * T * V);
  g_autofree float *want_att = attn_test_floats (fx, akey, B * T * S);

  for (int b = 0; b < B; b++)
    {
      g_autoptr (AttnTrace) trace =
        attn_trace_new (c->name, "rnn", model->config.attention, 1, 1);
      g_autofree float *logits = g_new (float, T * V);
      /* The batch row as it is, padding included: forward must treat it as
       * the batch does. */
      model->klass->forward (model, src + b * S, S, tgt_in + b * T, T, logits,
                             trace);
      g_autofree char *what = g_strdup_printf ("%s logits[%d]", c->name, b);
      attn_test_assert_close (what, logits, want_logits + b * T * V, T * V,
                              LOGIT_TOL);

      g_assert_cmpuint (trace->blocks->len, ==, 1);
      const AttnBlock *block = trace->blocks->pdata[0];
      g_assert_cmpint (block->kind, ==, ATTN_KIND_CROSS);
      g_assert_cmpint (block->n_queries, ==, T);
      g_assert_cmpint (block->n_keys, ==, S);
      g_free (what);
      what = g_strdup_printf ("%s attention[%d]", c->name, b);
      attn_test_assert_close (what, block->weights, want_att + b * T * S,
                              T * S, ATT_TOL);
      for (int i = 0; i < T * S; i++)
        if (want_att[b * T * S + i] == 0.0f)
          g_assert_cmpfloat (block->weights[i], ==, 0.0f);
    }
  attn_model_free (model);
}

static void
test_loss_and_grad (gconstpointer data)
{
  const Case *c = data;
  JsonObject *fx = attn_test_fixture ("rnn.json");
  const int B = fx_int (fx, "B"), S = fx_int (fx, "S"), T = fx_int (fx, "T");
  AttnModel *model = fixture_model (fx, c->name);
  g_autofree int *src = attn_test_ints (fx, "src", B * S);
  g_autofree int *tgt_in = attn_test_ints (fx, "tgt_in", B * T);
  g_autofree int *tgt_out = attn_test_ints (fx, "tgt_out", B * T);
  const AttnBatch batch = { B, S, T, src, tgt_in, tgt_out };

  float acc = -1.0f;
  float loss = model->klass->loss_and_grad (
    model, &batch, (float) attn_test_number (fx, "label_smoothing"), NULL,
    &acc);

  g_autofree char *key = g_strdup_printf ("%s.loss", c->name);
  const double want_loss = attn_test_number (fx, key);
  const double loss_err = fabs (loss - want_loss) / fabs (want_loss);
  g_test_message ("%s loss %.8g, torch %.8g: rel error %.3g", c->name, loss,
                  want_loss, loss_err);
  g_assert_cmpfloat (loss_err, <=, LOSS_TOL);

  int counted = 0;
  for (int i = 0; i < B * T; i++)
    counted += tgt_out[i] >= 0;
  g_free (key);
  key = g_strdup_printf ("%s.correct", c->name);
  g_assert_cmpfloat (acc, ==, (float) attn_test_number (fx, key) / counted);

  /* Torch's gradients, and the largest of them all (the floor's scale). */
  g_autoptr (GPtrArray) wants = g_ptr_array_new_with_free_func (g_free);
  double scale = 0.0;
  for (guint i = 0; i < model->grads->n_tensors; i++)
    {
      const AttnTensor *g = &model->grads->tensors[i];
      g_free (key);
      key = g_strdup_printf ("%s.grad.%s", c->name, g->name);
      float *want = attn_test_floats (fx, key, g->numel);
      for (gsize j = 0; j < g->numel; j++)
        scale = MAX (scale, fabs (want[j]));
      g_ptr_array_add (wants, want);
    }
  g_assert_cmpfloat (scale, >, 0.0);
  for (guint i = 0; i < model->grads->n_tensors; i++)
    {
      const AttnTensor *g = &model->grads->tensors[i];
      g_free (key);
      key = g_strdup_printf ("%s.grad.%s", c->name, g->name);
      attn_test_assert_rel_close (key, g->data, wants->pdata[i], g->numel,
                                  GRAD_TOL, GRAD_FLOOR * scale);
    }
  attn_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *p1 =
        g_strdup_printf ("/attn/rnn-reference/forward/%s", cases[i].name);
      g_autofree char *p2 = g_strdup_printf (
        "/attn/rnn-reference/loss-and-grad/%s", cases[i].name);
      g_test_add_data_func (p1, &cases[i], test_forward);
      g_test_add_data_func (p2, &cases[i], test_loss_and_grad);
    }
  return g_test_run ();
}
