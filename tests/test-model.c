/* test-model.c: the generic model, run on the real architectures with
 * small configs: config JSON (round trip, exact text, every refusal);
 * creation; model files (save / load bit for bit, every malformed file a
 * specific error naming it); runs (the trace's tokens, spans, blocks and
 * steps against a forward computed here); greedy and beam search. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-kernels.h"
#include "core/attn-model.h"
#include "core/attn-safetensors.h"
#include "tests/attn-test-util.h"

/* ---- configs ----------------------------------------------------------- */

static const AttnModelConfig transformer_config = {
  .arch = ATTN_ARCH_TRANSFORMER, .V = 20, .max_len = 16, .C = 16, .NH = 4,
  .L_enc = 2, .L_dec = 2, .F = 32, .pre_norm = TRUE,
  .attention = ATTN_MECHANISM_SCALED_DOT_PRODUCT, .dropout = 0.1f,
};

static const AttnModelConfig rnn_config = {
  .arch = ATTN_ARCH_RNN, .V = 20, .max_len = 16, .E = 8, .H = 12, .A = 10,
  .attention = ATTN_MECHANISM_ADDITIVE, .dropout = 0.0f,
};

static void
assert_config_equal (const AttnModelConfig *a, const AttnModelConfig *b)
{
  g_assert_cmpint (a->arch, ==, b->arch);
  g_assert_cmpint (a->V, ==, b->V);
  g_assert_cmpint (a->max_len, ==, b->max_len);
  g_assert_cmpint (a->C, ==, b->C);
  g_assert_cmpint (a->NH, ==, b->NH);
  g_assert_cmpint (a->L_enc, ==, b->L_enc);
  g_assert_cmpint (a->L_dec, ==, b->L_dec);
  g_assert_cmpint (a->F, ==, b->F);
  g_assert_cmpint (a->pre_norm, ==, b->pre_norm);
  g_assert_cmpint (a->E, ==, b->E);
  g_assert_cmpint (a->H, ==, b->H);
  g_assert_cmpint (a->A, ==, b->A);
  g_assert_cmpint (a->attention, ==, b->attention);
  g_assert_cmpint (a->D, ==, b->D);
  g_assert_true (a->dropout == b->dropout);
}

typedef struct {
  const char *name;
  AttnModelConfig config;
  const char *json; /* the exact text written */
} ConfigCase;

static const ConfigCase config_cases[] = {
  { "transformer-pre",
    { .arch = ATTN_ARCH_TRANSFORMER, .V = 48, .max_len = 40, .C = 128,
      .NH = 4, .L_enc = 2, .L_dec = 2, .F = 256, .pre_norm = TRUE,
      .dropout = 0.1f },
    "{\"arch\":\"transformer\",\"vocab_size\":48,\"max_len\":40,"
    "\"d_model\":128,\"n_heads\":4,\"n_encoder_layers\":2,"
    "\"n_decoder_layers\":2,\"d_ff\":256,\"norm\":\"pre\",\"dropout\":0.1}" },
  { "transformer-post",
    { .arch = ATTN_ARCH_TRANSFORMER, .V = 5, .max_len = 2, .C = 6, .NH = 3,
      .L_enc = 1, .L_dec = 3, .F = 1, .dropout = 0.123456789f },
    "{\"arch\":\"transformer\",\"vocab_size\":5,\"max_len\":2,"
    "\"d_model\":6,\"n_heads\":3,\"n_encoder_layers\":1,"
    "\"n_decoder_layers\":3,\"d_ff\":1,\"norm\":\"post\","
    "\"dropout\":0.12345679}" },
  { "rnn-additive",
    { .arch = ATTN_ARCH_RNN, .V = 48, .max_len = 40, .E = 64, .H = 128,
      .A = 64, .attention = ATTN_MECHANISM_ADDITIVE },
    "{\"arch\":\"rnn\",\"vocab_size\":48,\"max_len\":40,\"embed\":64,"
    "\"hidden\":128,\"attention\":\"additive\",\"attention_hidden\":64,"
    "\"dropout\":0}" },
  { "rnn-dot",
    { .arch = ATTN_ARCH_RNN, .V = 9, .max_len = 7, .E = 3, .H = 5,
      .attention = ATTN_MECHANISM_LUONG_DOT, .dropout = 0.5f },
    "{\"arch\":\"rnn\",\"vocab_size\":9,\"max_len\":7,\"embed\":3,"
    "\"hidden\":5,\"attention\":\"luong-dot\",\"dropout\":0.5}" },
  { "rnn-general",
    { .arch = ATTN_ARCH_RNN, .V = 9, .max_len = 7, .E = 3, .H = 5,
      .attention = ATTN_MECHANISM_LUONG_GENERAL },
    "{\"arch\":\"rnn\",\"vocab_size\":9,\"max_len\":7,\"embed\":3,"
    "\"hidden\":5,\"attention\":\"luong-general\",\"dropout\":0}" },
  { "rnn-concat",
    { .arch = ATTN_ARCH_RNN, .V = 9, .max_len = 7, .E = 3, .H = 5, .A = 2,
      .attention = ATTN_MECHANISM_LUONG_CONCAT },
    "{\"arch\":\"rnn\",\"vocab_size\":9,\"max_len\":7,\"embed\":3,"
    "\"hidden\":5,\"attention\":\"luong-concat\",\"attention_hidden\":2,"
    "\"dropout\":0}" },
  { "rnn-local-p",
    { .arch = ATTN_ARCH_RNN, .V = 48, .max_len = 40, .E = 64, .H = 128,
      .A = 64, .attention = ATTN_MECHANISM_LUONG_LOCAL_P, .D = 4,
      .dropout = 1e-5f },
    "{\"arch\":\"rnn\",\"vocab_size\":48,\"max_len\":40,\"embed\":64,"
    "\"hidden\":128,\"attention\":\"luong-local-p\",\"attention_hidden\":64,"
    "\"window\":4,\"dropout\":1e-05}" },
};

static void
test_config_round_trip (gconstpointer data)
{
  const ConfigCase *c = data;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_config_validate (&c->config, &error));
  g_assert_no_error (error);
  g_autofree char *json = attn_model_config_to_json (&c->config);
  g_assert_cmpstr (json, ==, c->json);
  AttnModelConfig back;
  memset (&back, 0xAB, sizeof back);
  g_assert_true (attn_model_config_from_json (json, &back, &error));
  g_assert_no_error (error);
  assert_config_equal (&back, &c->config);
}

static void
test_arch_strings (void)
{
  g_assert_cmpstr (attn_arch_to_string (ATTN_ARCH_TRANSFORMER), ==,
                   "transformer");
  g_assert_cmpstr (attn_arch_to_string (ATTN_ARCH_RNN), ==, "rnn");
  AttnArch arch = ATTN_ARCH_TRANSFORMER;
  g_assert_true (attn_arch_from_string ("rnn", &arch));
  g_assert_cmpint (arch, ==, ATTN_ARCH_RNN);
  g_assert_true (attn_arch_from_string ("transformer", &arch));
  g_assert_cmpint (arch, ==, ATTN_ARCH_TRANSFORMER);
  g_assert_false (attn_arch_from_string ("gru", &arch));
  g_assert_false (attn_arch_from_string ("Transformer", &arch));
  g_assert_false (attn_arch_from_string (NULL, &arch));
  g_assert_cmpint (arch, ==, ATTN_ARCH_TRANSFORMER);
}

static void
test_config_whitespace_and_order (void)
{
  /* Any member order and white space reads the same; integral dropout. */
  const char *json = " {\n \"dropout\" : 0 , \"norm\":\"post\", \"d_ff\":8,"
                     "\"n_decoder_layers\":1,\"n_encoder_layers\":1,"
                     "\"n_heads\":2,\"d_model\":4,\"max_len\":3,"
                     "\"vocab_size\":6,\"arch\":\"transformer\"}\n";
  AttnModelConfig c;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_config_from_json (json, &c, &error));
  g_assert_no_error (error);
  AttnModelConfig want = { .arch = ATTN_ARCH_TRANSFORMER, .V = 6,
                           .max_len = 3, .C = 4, .NH = 2, .L_enc = 1,
                           .L_dec = 1, .F = 8 };
  assert_config_equal (&c, &want);
}

/* Refused JSON: each message names the member. */
typedef struct {
  const char *name;
  const char *json;
  const char *message;
} BadJsonCase;

#define T_HEAD "{\"arch\":\"transformer\",\"vocab_size\":20,\"max_len\":16,"
#define T_BODY "\"n_encoder_layers\":2,\"n_decoder_layers\":2,\"d_ff\":32,"
#define T_OK T_HEAD "\"d_model\":16,\"n_heads\":4," T_BODY
#define R_HEAD "{\"arch\":\"rnn\",\"vocab_size\":20,\"max_len\":16,"

static const BadJsonCase bad_json_cases[] = {
  { "not-json", "{\"arch\":", "not JSON" },
  { "array", "[1, 2]", "not a JSON object" },
  { "empty", "", "not a JSON object" },
  { "no-arch", "{\"vocab_size\":20}", "member “arch” is missing" },
  { "arch-number", "{\"arch\":1}", "member “arch” is not a string" },
  { "arch-unknown", "{\"arch\":\"lstm\"}", "“arch” is “lstm”, not" },
  { "missing-d-model", T_HEAD "\"n_heads\":4," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}", "member “d_model” is missing" },
  { "missing-norm", T_OK "\"dropout\":0}", "member “norm” is missing" },
  { "missing-dropout", T_OK "\"norm\":\"pre\"}",
    "member “dropout” is missing" },
  { "float-width", T_HEAD "\"d_model\":16.5,\"n_heads\":4," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}", "member “d_model” is not an integer" },
  { "string-width", T_HEAD "\"d_model\":\"16\",\"n_heads\":4," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}", "member “d_model” is not an integer" },
  { "bool-dropout", T_OK "\"norm\":\"pre\",\"dropout\":false}",
    "member “dropout” is not a number" },
  { "norm-unknown", T_OK "\"norm\":\"both\",\"dropout\":0}",
    "member “norm” is “both”" },
  { "heads-divide", T_HEAD "\"d_model\":16,\"n_heads\":3," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}",
    "“n_heads” (NH) = 3 does not divide “d_model” (C) = 16" },
  { "heads-zero", T_HEAD "\"d_model\":16,\"n_heads\":0," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}", "“n_heads” (NH) = 0 is out of range" },
  { "negative-layers", T_HEAD "\"d_model\":16,\"n_heads\":4,"
    "\"n_encoder_layers\":-1,\"n_decoder_layers\":2,\"d_ff\":32,"
    "\"norm\":\"pre\",\"dropout\":0}",
    "“n_encoder_layers” (L_enc) = -1 is out of range (1 .. 64)" },
  { "huge-width", T_HEAD "\"d_model\":4294967312,\"n_heads\":4," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}", "member “d_model” = 4294967312 is out of range" },
  { "too-many-digits", T_HEAD "\"d_model\":1234567890123456789012,"
    "\"n_heads\":4," T_BODY "\"norm\":\"pre\",\"dropout\":0}",
    "a number of more than 18 digits" },
  { "vocab-tiny", "{\"arch\":\"transformer\",\"vocab_size\":4,"
    "\"max_len\":16,\"d_model\":16,\"n_heads\":4," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}", "“vocab_size” (V) = 4 is out" },
  { "max-len-one", "{\"arch\":\"transformer\",\"vocab_size\":20,"
    "\"max_len\":1,\"d_model\":16,\"n_heads\":4," T_BODY
    "\"norm\":\"pre\",\"dropout\":0}", "“max_len” (max_len) = 1 is out" },
  { "dropout-one", T_OK "\"norm\":\"pre\",\"dropout\":1}",
    "“dropout” = 1 is out of range [0, 1)" },
  { "dropout-negative", T_OK "\"norm\":\"pre\",\"dropout\":-0.1}",
    "“dropout” = -0.1 is out of range" },
  { "unknown-member", T_OK "\"norm\":\"pre\",\"dropout\":0,\"positions\":1}",
    "member “positions” is not part of a transformer config" },
  { "rnn-member-in-transformer",
    T_OK "\"norm\":\"pre\",\"dropout\":0,\"hidden\":8}",
    "member “hidden” is not part of a transformer config" },
  { "transformer-member-in-rnn", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"luong-dot\",\"dropout\":0,\"d_model\":8}",
    "member “d_model” is not part of an rnn config" },
  { "rnn-attention-unknown", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"bahdanau\",\"dropout\":0}",
    "member “attention” is “bahdanau”, not one of" },
  { "rnn-attention-sdp", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"scaled-dot-product\",\"dropout\":0}",
    "member “attention” is “scaled-dot-product”" },
  { "rnn-missing-hidden", R_HEAD "\"embed\":8,"
    "\"attention\":\"luong-dot\",\"dropout\":0}",
    "member “hidden” is missing" },
  { "rnn-additive-no-a", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"additive\",\"dropout\":0}",
    "member “attention_hidden” is missing" },
  { "rnn-dot-with-a", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"luong-dot\",\"attention_hidden\":4,\"dropout\":0}",
    "member “attention_hidden” is not part of an rnn config" },
  { "rnn-local-p-no-window", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"luong-local-p\",\"attention_hidden\":4,\"dropout\":0}",
    "member “window” is missing" },
  { "rnn-local-p-window-zero", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"luong-local-p\",\"attention_hidden\":4,\"window\":0,"
    "\"dropout\":0}", "“window” (D) = 0 is out of range (1 .. 1024)" },
  { "rnn-concat-window", R_HEAD "\"embed\":8,\"hidden\":8,"
    "\"attention\":\"luong-concat\",\"attention_hidden\":4,\"window\":3,"
    "\"dropout\":0}", "member “window” is not part of an rnn config" },
  { "rnn-hidden-zero", R_HEAD "\"embed\":8,\"hidden\":0,"
    "\"attention\":\"luong-dot\",\"dropout\":0}",
    "“hidden” (H) = 0 is out of range" },
};

static void
test_config_bad_json (gconstpointer data)
{
  const BadJsonCase *c = data;
  AttnModelConfig config = transformer_config;
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_model_config_from_json (c->json, &config, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, c->message) == NULL)
    g_test_fail_printf ("message “%s” lacks “%s”", error->message,
                        c->message);
  /* *config is untouched on failure. */
  assert_config_equal (&config, &transformer_config);
}

/* Refused structs (members JSON cannot even express). */
typedef struct {
  const char *name;
  gboolean rnn; /* start from rnn_config, else transformer_config */
  void (*edit) (AttnModelConfig *c);
  const char *message;
} BadStructCase;

static void edit_arch (AttnModelConfig *c) { c->arch = (AttnArch) 7; }
static void edit_t_hidden (AttnModelConfig *c) { c->H = 4; }
static void edit_t_window (AttnModelConfig *c) { c->D = 2; }
static void edit_t_attention (AttnModelConfig *c)
{
  c->attention = ATTN_MECHANISM_ADDITIVE;
}
static void edit_t_pre_norm (AttnModelConfig *c) { c->pre_norm = 2; }
static void edit_r_d_model (AttnModelConfig *c) { c->C = 8; }
static void edit_r_layers (AttnModelConfig *c) { c->L_dec = 1; }
static void edit_r_pre_norm (AttnModelConfig *c) { c->pre_norm = TRUE; }
static void edit_r_mechanism (AttnModelConfig *c)
{
  c->attention = (AttnMechanism) ATTN_N_MECHANISMS;
}
static void edit_r_general_a (AttnModelConfig *c)
{
  c->attention = ATTN_MECHANISM_LUONG_GENERAL;
}
static void edit_nan_dropout (AttnModelConfig *c) { c->dropout = NAN; }

static const BadStructCase bad_struct_cases[] = {
  { "arch", FALSE, edit_arch, "“arch” = 7 is not a known architecture" },
  { "transformer-hidden", FALSE, edit_t_hidden,
    "“hidden” (H) = 4 does not apply to transformer models" },
  { "transformer-window", FALSE, edit_t_window,
    "“window” (D) = 2 does not apply to transformer models" },
  { "transformer-attention", FALSE, edit_t_attention,
    "“attention” (attention) = 1 does not apply to transformer models" },
  { "transformer-pre-norm", FALSE, edit_t_pre_norm,
    "“norm” (pre_norm) = 2 is neither TRUE nor FALSE" },
  { "rnn-d-model", TRUE, edit_r_d_model,
    "“d_model” (C) = 8 does not apply to rnn models" },
  { "rnn-layers", TRUE, edit_r_layers,
    "“n_decoder_layers” (L_dec) = 1 does not apply to rnn models" },
  { "rnn-pre-norm", TRUE, edit_r_pre_norm,
    "“norm” (pre_norm) does not apply to rnn models" },
  { "rnn-mechanism", TRUE, edit_r_mechanism,
    "“attention” (attention) = 6 is not an RNN attention" },
  { "rnn-general-with-a", TRUE, edit_r_general_a,
    "“attention_hidden” (A) = 10 does not apply to luong-general" },
  { "nan-dropout", FALSE, edit_nan_dropout, "“dropout” = nan is out" },
};

static void
test_config_bad_struct (gconstpointer data)
{
  const BadStructCase *c = data;
  AttnModelConfig config = c->rnn ? rnn_config : transformer_config;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_config_validate (&config, NULL));
  c->edit (&config);
  g_assert_false (attn_model_config_validate (&config, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, c->message) == NULL)
    g_test_fail_printf ("message “%s” lacks “%s”", error->message,
                        c->message);
}

/* ---- models ------------------------------------------------------------ */

/* Every test vocabulary character: 17, so V = 21. */
static const char test_chars[] = "0123456789abc-年月日";
#define TEST_V 21
#define TEST_MAX_LEN 10

typedef struct {
  const char *name;
  AttnModelConfig config;
} ArchCase;

static const ArchCase arch_cases[] = {
  { "transformer-pre",
    { .arch = ATTN_ARCH_TRANSFORMER, .V = TEST_V, .max_len = TEST_MAX_LEN,
      .C = 8, .NH = 2, .L_enc = 1, .L_dec = 2, .F = 12, .pre_norm = TRUE } },
  { "transformer-post",
    { .arch = ATTN_ARCH_TRANSFORMER, .V = TEST_V, .max_len = TEST_MAX_LEN,
      .C = 8, .NH = 4, .L_enc = 2, .L_dec = 1, .F = 12, .dropout = 0.1f } },
  { "rnn-additive",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 8, .A = 5, .attention = ATTN_MECHANISM_ADDITIVE } },
  { "rnn-luong-dot",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 8, .attention = ATTN_MECHANISM_LUONG_DOT } },
  { "rnn-luong-general",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 8, .attention = ATTN_MECHANISM_LUONG_GENERAL } },
  { "rnn-luong-concat",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 8, .A = 5, .attention = ATTN_MECHANISM_LUONG_CONCAT } },
  { "rnn-local-p",
    { .arch = ATTN_ARCH_RNN, .V = TEST_V, .max_len = TEST_MAX_LEN, .E = 6,
      .H = 8, .A = 5, .attention = ATTN_MECHANISM_LUONG_LOCAL_P, .D = 2 } },
};

static AttnVocab *
vocab_of (const char *chars)
{
  g_autofree gunichar *u = g_utf8_to_ucs4_fast (chars, -1, NULL);
  return attn_vocab_new_from_chars (u, (guint) g_utf8_strlen (chars, -1));
}

static AttnModel *
make_model (const AttnModelConfig *config, const char *chars, guint32 seed)
{
  g_autoptr (GError) error = NULL;
  AttnModel *model = attn_model_new ("test-model", config, vocab_of (chars),
                                     seed, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

static int
n_cross_layers (const AttnModelConfig *c)
{
  return c->arch == ATTN_ARCH_TRANSFORMER ? c->L_dec : 1;
}

static int
n_heads_of (const AttnModelConfig *c)
{
  return c->arch == ATTN_ARCH_TRANSFORMER ? c->NH : 1;
}

/* logits (T, V) of the class's own teacher-forced forward. */
static float *
forward (AttnModel *model, const int *src, int S, const int *tgt, int T,
         AttnTrace *trace)
{
  float *logits = g_new (float, (gsize) T * model->config.V);
  model->klass->forward (model, src, S, tgt, T, logits, trace);
  return logits;
}

/* The ids of a side's tokens. */
static int *
side_ids (const AttnTrace *trace, AttnSide side, int *n)
{
  *n = (int) attn_trace_n_tokens (trace, side);
  int *ids = g_new (int, *n);
  for (int i = 0; i < *n; i++)
    ids[i] = attn_trace_get_token (trace, side, i)->id;
  return ids;
}

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  if (tmp_dir == NULL)
    tmp_dir = attn_test_tmp_dir_new ("attn-model-XXXXXX");
  return g_build_filename (tmp_dir, name, NULL);
}

static void
test_new_bad (void)
{
  AttnModelConfig c = arch_cases[0].config;
  g_autoptr (GError) error = NULL;

  /* The vocabulary must have V symbols (and is freed on failure). */
  c.V = TEST_V + 1;
  g_assert_null (attn_model_new ("m", &c, vocab_of (test_chars), 1, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "the vocabulary has 21 symbols "
                            "but the config's “vocab_size” (V) is 22"));
  g_clear_error (&error);

  c = arch_cases[0].config;
  c.NH = 3;
  g_assert_null (attn_model_new ("m", &c, vocab_of (test_chars), 1, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "does not divide"));
  g_clear_error (&error);

  /* 8192 x 8192 per attention projection: refused before allocating. */
  c = arch_cases[0].config;
  c.C = 8192;
  c.NH = 8;
  c.F = 8192;
  g_assert_null (attn_model_new ("m", &c, vocab_of (test_chars), 1, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "a transformer model of this "
                            "config has more than 268435456 parameters"));
}

static void
test_new_deterministic (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (arch_cases); i++)
    {
      g_autoptr (AttnModel) a = make_model (&arch_cases[i].config, test_chars,
                                            5);
      g_autoptr (AttnModel) b = make_model (&arch_cases[i].config, test_chars,
                                            5);
      g_autoptr (AttnModel) c = make_model (&arch_cases[i].config, test_chars,
                                            6);
      g_assert_cmpstr (a->name, ==, "test-model");
      g_assert_null (a->grads);
      g_assert_null (a->card_json);
      g_assert_cmpint (attn_vocab_size (a->vocab), ==, TEST_V);
      gsize n = a->params->n_floats;
      g_assert_cmpuint (n, >, 0);
      g_assert_cmpmem (a->params->memory, n * sizeof (float),
                       b->params->memory, n * sizeof (float));
      g_assert_true (memcmp (a->params->memory, c->params->memory,
                             n * sizeof (float)) != 0);
      double sum = 0;
      for (gsize k = 0; k < n; k++)
        sum += fabs (a->params->memory[k]);
      g_assert_cmpfloat (sum, >, 0.0);
    }
}

static void
test_enable_training (void)
{
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_enable_training (m, &error));
  g_assert_no_error (error);
  AttnTensorBlock *g = m->grads;
  g_assert_nonnull (g);
  g_assert_cmpuint (g->n_tensors, ==, m->params->n_tensors);
  for (guint i = 0; i < g->n_tensors; i++)
    {
      g_assert_cmpstr (g->tensors[i].name, ==, m->params->tensors[i].name);
      g_assert_cmpint (g->tensors[i].ndim, ==, m->params->tensors[i].ndim);
      g_assert_cmpmem (g->tensors[i].shape, sizeof g->tensors[i].shape,
                       m->params->tensors[i].shape,
                       sizeof g->tensors[i].shape);
      for (gsize k = 0; k < g->tensors[i].numel; k++)
        g_assert_cmpfloat (g->tensors[i].data[k], ==, 0.0f);
    }
  /* A second call keeps the same (possibly accumulating) gradients. */
  g->tensors[0].data[0] = 3.0f;
  g_assert_true (attn_model_enable_training (m, &error));
  g_assert_true (m->grads == g);
  g_assert_cmpfloat (g->tensors[0].data[0], ==, 3.0f);
}

/* ---- runs -------------------------------------------------------------- */

static void check_hypotheses (AttnModel *m, const int *src, int S,
                              GPtrArray *hyps, const AttnRunOptions *o);

/* Checks one trace of `text` against the model it came from: facts,
 * tokens and spans, steps against a forward computed here, and blocks
 * against the same forward's own trace. */
static void
check_run_trace (AttnModel *m, const char *text, const AttnTrace *trace,
                 int max_steps, gboolean greedy)
{
  const AttnModelConfig *c = &m->config;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (trace, &error));
  g_assert_no_error (error);

  gboolean tf = c->arch == ATTN_ARCH_TRANSFORMER;
  g_assert_cmpstr (trace->model_name, ==, "test-model");
  g_assert_cmpstr (trace->architecture, ==,
                   tf ? "transformer-encoder-decoder" : "rnn-encoder-decoder");
  g_assert_cmpint (trace->mechanism, ==, c->attention);
  g_assert_cmpint (trace->n_layers, ==, tf ? MAX (c->L_enc, c->L_dec) : 1);
  g_assert_cmpint (trace->n_heads, ==, n_heads_of (c));

  /* Source: one token per character, spans into the text, then </s>. */
  g_assert_cmpstr (trace->source_text, ==, text);
  int S = 0;
  g_autofree int *src = side_ids (trace, ATTN_SIDE_SOURCE, &S);
  g_assert_cmpint (S, ==, g_utf8_strlen (text, -1) + 1);
  const char *p = text;
  for (int i = 0; i < S - 1; i++)
    {
      const AttnToken *tok = attn_trace_get_token (trace, ATTN_SIDE_SOURCE, i);
      const char *next = g_utf8_next_char (p);
      g_autofree char *ch = g_strndup (p, next - p);
      g_assert_cmpstr (tok->text, ==, ch);
      g_assert_cmpint (tok->start, ==, p - text);
      g_assert_cmpint (tok->end, ==, next - text);
      g_assert_false (tok->special);
      int id = attn_vocab_lookup (m->vocab, ch);
      g_assert_cmpint (tok->id, ==, id < 0 ? ATTN_VOCAB_UNK : id);
      p = next;
    }
  const AttnToken *eos = attn_trace_get_token (trace, ATTN_SIDE_SOURCE, S - 1);
  g_assert_cmpstr (eos->text, ==, "</s>");
  g_assert_cmpint (eos->id, ==, ATTN_VOCAB_EOS);
  g_assert_true (eos->special);
  g_assert_cmpint (eos->start, ==, -1);

  /* Target: <s> then each emitted token but a final </s>. */
  int T = 0;
  g_autofree int *tgt = side_ids (trace, ATTN_SIDE_TARGET, &T);
  int n_steps = (int) trace->steps->len;
  g_assert_cmpint (n_steps, >=, 1);
  g_assert_cmpint (n_steps, <=, max_steps);
  const AttnStep *last = g_ptr_array_index (trace->steps, n_steps - 1);
  gboolean finished = last->emitted.id == ATTN_VOCAB_EOS;
  g_assert_cmpint (T, ==, n_steps + 1 - finished);
  if (!finished)
    g_assert_cmpint (n_steps, ==, max_steps);
  const AttnToken *bos = attn_trace_get_token (trace, ATTN_SIDE_TARGET, 0);
  g_assert_cmpint (bos->id, ==, ATTN_VOCAB_BOS);
  g_assert_cmpstr (bos->text, ==, "<s>");
  g_assert_true (bos->special);
  g_autoptr (GString) want_text = g_string_new (NULL);
  for (int i = 1; i < T; i++)
    {
      const AttnToken *tok = attn_trace_get_token (trace, ATTN_SIDE_TARGET, i);
      const AttnStep *step = g_ptr_array_index (trace->steps, i - 1);
      g_assert_cmpint (tok->id, ==, step->emitted.id);
      g_assert_cmpint (tok->id, !=, ATTN_VOCAB_EOS);
      g_assert_cmpstr (tok->text, ==, attn_vocab_symbol (m->vocab, tok->id));
      g_assert_cmpint (tok->special, ==, attn_vocab_is_special (tok->id));
      if (!tok->special)
        {
          g_assert_cmpint (tok->start, ==, want_text->len);
          g_string_append (want_text, tok->text);
          g_assert_cmpint (tok->end, ==, want_text->len);
        }
    }
  g_assert_cmpstr (trace->target_text, ==, want_text->str);

  /* Steps: each probability is the softmax of the teacher-forced logits
   * (1e-5: the decoder saw a prefix, this forward the whole sequence). */
  g_autoptr (AttnTrace) mine = attn_trace_new ("", "", 0, 1, 1);
  g_autofree float *logits = forward (m, src, S, tgt, T, mine);
  g_autofree float *probs = g_new (float, c->V);
  for (int i = 0; i < n_steps; i++)
    {
      const AttnStep *step = g_ptr_array_index (trace->steps, i);
      attn_softmax_forward (probs, logits + (gsize) i * c->V, 1, c->V);
      int id = step->emitted.id;
      g_assert_cmpstr (step->emitted.text, ==, attn_vocab_symbol (m->vocab, id));
      g_assert_cmpfloat_with_epsilon (step->emitted.prob, probs[id], 1e-5);
      g_assert_cmpint (step->n_top, ==, 5);
      for (int k = 0; k < step->n_top; k++)
        {
          const AttnCandidate *alt = &step->top[k];
          g_assert_cmpfloat_with_epsilon (alt->prob, probs[alt->id], 1e-5);
          g_assert_cmpstr (alt->text, ==, attn_vocab_symbol (m->vocab,
                                                             alt->id));
          if (k > 0)
            g_assert_cmpfloat (alt->prob, <=, step->top[k - 1].prob);
        }
      /* No token outside the top is more probable than the last kept. */
      for (int j = 0; j < c->V; j++)
        {
          gboolean kept = FALSE;
          for (int k = 0; k < step->n_top; k++)
            kept |= step->top[k].id == j;
          if (!kept)
            g_assert_cmpfloat (probs[j], <=,
                               step->top[step->n_top - 1].prob + 1e-5);
        }
      if (greedy)
        g_assert_cmpint (step->top[0].id, ==, id);
    }

  /* Blocks: the ones the architecture makes, with the forward's weights. */
  guint want_blocks = tf ? (guint) (c->L_enc + 2 * c->L_dec) : 1;
  g_assert_cmpuint (trace->blocks->len, ==, want_blocks);
  g_assert_cmpuint (mine->blocks->len, ==, want_blocks);
  for (guint b = 0; b < want_blocks; b++)
    {
      const AttnBlock *got = g_ptr_array_index (trace->blocks, b);
      const AttnBlock *want = attn_trace_lookup_block (mine, got->kind,
                                                       got->layer);
      g_assert_nonnull (want);
      g_assert_cmpint (got->n_heads, ==, n_heads_of (c));
      g_assert_cmpint (got->n_queries, ==, got->kind == ATTN_KIND_ENCODER_SELF
                                              ? S : T);
      g_assert_cmpint (got->n_keys, ==, got->kind == ATTN_KIND_DECODER_SELF
                                           ? T : S);
      g_assert_cmpint (got->normalised, ==,
                       c->attention != ATTN_MECHANISM_LUONG_LOCAL_P);
      g_assert_cmpmem (got->weights,
                       sizeof (float) * got->n_heads * got->n_queries
                           * got->n_keys,
                       want->weights,
                       sizeof (float) * want->n_heads * want->n_queries
                           * want->n_keys);
    }
  if (tf)
    for (int l = 0; l < MAX (c->L_enc, c->L_dec); l++)
      {
        g_assert_true ((l < c->L_enc)
                       == (attn_trace_lookup_block (
                               trace, ATTN_KIND_ENCODER_SELF, l) != NULL));
        g_assert_true ((l < c->L_dec)
                       == (attn_trace_lookup_block (
                               trace, ATTN_KIND_DECODER_SELF, l) != NULL));
        g_assert_true ((l < c->L_dec)
                       == (attn_trace_lookup_block (trace, ATTN_KIND_CROSS, l)
                           != NULL));
      }
  else
    g_assert_nonnull (attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 0));
}

static void
test_run_trace (gconstpointer data)
{
  const ArchCase *a = data;
  /* Several seeds: random models stop at different lengths, some never. */
  for (guint32 seed = 1; seed <= 4; seed++)
    {
      g_autoptr (AttnModel) m = make_model (&a->config, test_chars, seed);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
      g_autoptr (AttnTrace) trace = attn_model_run (m, "ab-12", NULL, unknown,
                                                    &error);
      g_assert_no_error (error);
      g_assert_nonnull (trace);
      g_assert_cmpuint (unknown->len, ==, 0);
      check_run_trace (m, "ab-12", trace, TEST_MAX_LEN - 1, TRUE);

      g_autofree char *out = attn_model_translate (m, "ab-12", &error);
      g_assert_no_error (error);
      g_assert_cmpstr (out, ==, trace->target_text);

      /* A beam's best hypothesis makes a trace that holds together too. */
      AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
      o.beam_width = 3;
      g_autoptr (AttnTrace) beam = attn_model_run (m, "ab-12", &o, NULL,
                                                   &error);
      g_assert_no_error (error);
      check_run_trace (m, "ab-12", beam, TEST_MAX_LEN - 1, FALSE);
    }
}

/* A model made to prefer one token (its output bias raised far above the
 * rest): </s> ends the run at once; <unk> fills it with special tokens. */
static void
test_run_forced (gconstpointer data)
{
  const ArchCase *a = data;
  const int forced[] = { ATTN_VOCAB_EOS, ATTN_VOCAB_UNK };
  for (guint f = 0; f < G_N_ELEMENTS (forced); f++)
    {
      g_autoptr (AttnModel) m = make_model (&a->config, test_chars, 2);
      AttnTensor *bias = attn_tensor_block_lookup (m->params, "out.bias");
      g_assert_nonnull (bias);
      g_assert_cmpuint (bias->numel, ==, TEST_V);
      bias->data[forced[f]] = 50.0f;
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnTrace) trace = attn_model_run (m, "abc", NULL, NULL,
                                                    &error);
      g_assert_no_error (error);
      check_run_trace (m, "abc", trace, TEST_MAX_LEN - 1, TRUE);
      g_assert_cmpstr (trace->target_text, ==, "");
      const AttnStep *first = g_ptr_array_index (trace->steps, 0);
      g_assert_cmpint (first->emitted.id, ==, forced[f]);
      g_assert_cmpfloat (first->emitted.prob, >, 0.999f);
      if (forced[f] == ATTN_VOCAB_EOS)
        {
          g_assert_cmpuint (trace->steps->len, ==, 1);
          g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==,
                            1);
        }
      else
        {
          g_assert_cmpuint (trace->steps->len, ==, TEST_MAX_LEN - 1);
          g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==,
                            TEST_MAX_LEN);
          const AttnToken *unk = attn_trace_get_token (trace,
                                                       ATTN_SIDE_TARGET, 3);
          g_assert_true (unk->special);
          g_assert_cmpstr (unk->text, ==, "<unk>");
        }

      AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
      o.beam_width = 3;
      const int src[] = { 15, 16, ATTN_VOCAB_EOS };
      g_autoptr (GPtrArray) hyps = attn_model_beam_search (m, src, 3, &o,
                                                           &error);
      g_assert_no_error (error);
      g_assert_cmpuint (hyps->len, ==, 3);
      check_hypotheses (m, src, 3, hyps, &o);
      const AttnHypothesis *best = g_ptr_array_index (hyps, 0);
      g_assert_cmpint (best->tokens[0], ==, forced[f]);
      g_assert_cmpint (best->finished, ==, forced[f] == ATTN_VOCAB_EOS);
    }
}

static void
test_run_chinese (gconstpointer data)
{
  /* Three-byte characters: spans in bytes, one token per character. */
  const ArchCase *a = data;
  g_autoptr (AttnModel) m = make_model (&a->config, test_chars, 3);
  g_autoptr (GError) error = NULL;
  const char *text = "2026年6月1日";
  g_autoptr (AttnTrace) trace = attn_model_run (m, text, NULL, NULL, &error);
  g_assert_no_error (error);
  check_run_trace (m, text, trace, TEST_MAX_LEN - 1, TRUE);
  const AttnToken *nian = attn_trace_get_token (trace, ATTN_SIDE_SOURCE, 4);
  g_assert_cmpstr (nian->text, ==, "年");
  g_assert_cmpint (nian->start, ==, 4);
  g_assert_cmpint (nian->end, ==, 7);
  const AttnToken *ri = attn_trace_get_token (trace, ATTN_SIDE_SOURCE, 8);
  g_assert_cmpstr (ri->text, ==, "日");
  g_assert_cmpint (ri->start, ==, 12);
  g_assert_cmpint (ri->end, ==, 15);
}

static void
test_max_steps (gconstpointer data)
{
  const ArchCase *a = data;
  for (guint32 seed = 1; seed <= 3; seed++)
    {
      g_autoptr (AttnModel) m = make_model (&a->config, test_chars, seed);
      for (int beam = 1; beam <= 2; beam++)
        {
          AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
          o.max_steps = 2;
          o.beam_width = beam;
          g_autoptr (GError) error = NULL;
          g_autoptr (AttnTrace) trace = attn_model_run (m, "abc", &o, NULL,
                                                        &error);
          g_assert_no_error (error);
          check_run_trace (m, "abc", trace, 2, beam == 1);
        }
    }
}

/* Greedy decoding and a beam search of width 1 are the same search. */
static void
test_greedy_is_beam_1 (gconstpointer data)
{
  const ArchCase *a = data;
  for (guint32 seed = 1; seed <= 4; seed++)
    {
      g_autoptr (AttnModel) m = make_model (&a->config, test_chars, seed);
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnTrace) trace = attn_model_run (m, "c1-b2", NULL, NULL,
                                                    &error);
      g_assert_no_error (error);
      int S = 0;
      g_autofree int *src = side_ids (trace, ATTN_SIDE_SOURCE, &S);
      for (int norm = 0; norm <= 1; norm++)
        {
          AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
          o.length_normalise = norm;
          g_autoptr (GPtrArray) hyps = attn_model_beam_search (m, src, S, &o,
                                                               &error);
          g_assert_no_error (error);
          g_assert_cmpuint (hyps->len, ==, 1);
          const AttnHypothesis *h = g_ptr_array_index (hyps, 0);
          g_assert_cmpint (h->n_tokens, ==, trace->steps->len);
          for (int i = 0; i < h->n_tokens; i++)
            {
              const AttnStep *step = g_ptr_array_index (trace->steps, i);
              g_assert_cmpint (h->tokens[i], ==, step->emitted.id);
              g_assert_cmpfloat ((float) exp (h->log_probs[i]), ==,
                                 step->emitted.prob);
              g_assert_cmpint (h->n_top, ==, step->n_top);
              for (int k = 0; k < h->n_top; k++)
                {
                  g_assert_cmpint (h->top_ids[i * h->n_top + k], ==,
                                   step->top[k].id);
                  g_assert_cmpfloat (h->top_probs[i * h->n_top + k], ==,
                                     step->top[k].prob);
                }
            }
          g_assert_cmpint (h->finished, ==,
                           h->tokens[h->n_tokens - 1] == ATTN_VOCAB_EOS);
        }
    }
}

/* Sum of log-softmax of the teacher-forced logits over h's tokens, in
 * double, and each token's term into lp (n_tokens). */
static double
recomputed_log_prob (AttnModel *m, const int *src, int S,
                     const AttnHypothesis *h, double *lp, AttnTrace *trace)
{
  int V = m->config.V, n = h->n_tokens;
  g_autofree int *tgt = g_new (int, n);
  tgt[0] = ATTN_VOCAB_BOS;
  memcpy (tgt + 1, h->tokens, (n - 1) * sizeof (int));
  g_autofree float *logits = forward (m, src, S, tgt, n, trace);
  double sum = 0;
  for (int i = 0; i < n; i++)
    {
      const float *row = logits + (gsize) i * V;
      double max = row[0], z = 0;
      for (int j = 1; j < V; j++)
        max = MAX (max, row[j]);
      for (int j = 0; j < V; j++)
        z += exp (row[j] - max);
      lp[i] = row[h->tokens[i]] - max - log (z);
      sum += lp[i];
    }
  return sum;
}

static void
check_hypotheses (AttnModel *m, const int *src, int S, GPtrArray *hyps,
                  const AttnRunOptions *o)
{
  const AttnModelConfig *c = &m->config;
  int L = n_cross_layers (c), NH = n_heads_of (c);
  for (guint i = 0; i < hyps->len; i++)
    {
      const AttnHypothesis *h = g_ptr_array_index (hyps, i);
      g_assert_cmpint (h->n_tokens, >=, 1);
      g_assert_cmpint (h->n_tokens, <=, o->max_steps ? o->max_steps
                                                     : c->max_len - 1);
      /* </s> ends a finished hypothesis and appears nowhere else. */
      for (int k = 0; k < h->n_tokens - 1; k++)
        g_assert_cmpint (h->tokens[k], !=, ATTN_VOCAB_EOS);
      g_assert_cmpint (h->finished, ==,
                       h->tokens[h->n_tokens - 1] == ATTN_VOCAB_EOS);

      /* Scores are what the model gives these tokens (1e-4 relative:
       * float32 logits, summed in double). */
      g_autofree double *lp = g_new (double, h->n_tokens);
      g_autoptr (AttnTrace) mine = attn_trace_new ("", "", 0, 1, 1);
      double want = recomputed_log_prob (m, src, S, h, lp, mine);
      g_assert_cmpfloat (fabs (h->log_prob - want), <=,
                         1e-4 * MAX (1.0, fabs (want)));
      double sum = 0;
      for (int k = 0; k < h->n_tokens; k++)
        {
          g_assert_cmpfloat_with_epsilon (h->log_probs[k], lp[k], 1e-4);
          sum += h->log_probs[k];
        }
      g_assert_cmpfloat_with_epsilon (sum, h->log_prob, 1e-5);
      double score = o->length_normalise ? h->log_prob / h->n_tokens
                                         : h->log_prob;
      g_assert_cmpfloat (h->score, ==, score);
      if (i > 0)
        g_assert_cmpfloat (h->score, <=,
                           ((AttnHypothesis *) g_ptr_array_index (
                                hyps, i - 1))->score);

      /* Alternatives: most probable first. */
      g_assert_cmpint (h->n_top, ==, o->top_k);
      for (int k = 0; k < h->n_tokens; k++)
        for (int j = 1; j < h->n_top; j++)
          g_assert_cmpfloat (h->top_probs[k * h->n_top + j], <=,
                             h->top_probs[k * h->n_top + j - 1]);

      /* Cross rows: the forward's, row i of each layer and head. */
      g_assert_cmpint (h->n_layers, ==, L);
      g_assert_cmpint (h->n_heads, ==, NH);
      g_assert_cmpint (h->S, ==, S);
      for (int l = 0; l < L; l++)
        {
          const AttnBlock *blk = attn_trace_lookup_block (mine,
                                                          ATTN_KIND_CROSS, l);
          g_assert_nonnull (blk);
          for (int hd = 0; hd < NH; hd++)
            for (int k = 0; k < h->n_tokens; k++)
              {
                const float *row = h->cross + (((gsize) k * L + l) * NH + hd)
                                                  * S;
                g_assert_cmpmem (row, S * sizeof (float),
                                 blk->weights + ((gsize) hd * h->n_tokens + k)
                                                    * S,
                                 S * sizeof (float));
                double total = 0;
                for (int s = 0; s < S; s++)
                  total += row[s];
                if (c->attention != ATTN_MECHANISM_LUONG_LOCAL_P)
                  g_assert_cmpfloat_with_epsilon (total, 1.0, 1e-5);
              }
        }
      /* No two hypotheses are the same. */
      for (guint j = 0; j < i; j++)
        {
          const AttnHypothesis *g = g_ptr_array_index (hyps, j);
          g_assert_false (g->n_tokens == h->n_tokens
                          && memcmp (g->tokens, h->tokens,
                                     h->n_tokens * sizeof (int)) == 0);
        }
    }
}

static void
test_beam_scores (gconstpointer data)
{
  const ArchCase *a = data;
  for (guint32 seed = 1; seed <= 3; seed++)
    {
      g_autoptr (AttnModel) m = make_model (&a->config, test_chars, seed);
      const int src[] = { 6, 7, 4, 15, ATTN_VOCAB_EOS }; /* "12-a" */
      for (int norm = 0; norm <= 1; norm++)
        {
          AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
          o.beam_width = 4;
          o.length_normalise = norm;
          g_autoptr (GError) error = NULL;
          g_autoptr (GPtrArray) hyps = attn_model_beam_search (
              m, src, G_N_ELEMENTS (src), &o, &error);
          g_assert_no_error (error);
          g_assert_cmpuint (hyps->len, ==, 4);
          check_hypotheses (m, src, G_N_ELEMENTS (src), hyps, &o);
        }
    }
}

typedef struct {
  int tokens[2];
  int n;
  double score;
} Sequence;

static int
compare_sequences (gconstpointer pa, gconstpointer pb)
{
  const Sequence *a = pa, *b = pb;
  return a->score > b->score ? -1 : a->score < b->score;
}

/* With a beam wider than every sequence of two steps, beam search is
 * exhaustive: it must return all of them, ranked as enumeration ranks
 * them. V = 7, so 1 + 6 x 7 = 43 sequences. */
static void
test_beam_exhaustive (gconstpointer data)
{
  const ArchCase *a = data;
  AttnModelConfig c = a->config;
  c.V = ATTN_VOCAB_N_SPECIAL + 3;
  for (int norm = 0; norm <= 1; norm++)
    {
      g_autoptr (AttnModel) m = make_model (&c, "abc", 11);
      const int src[] = { 4, 6, 5, ATTN_VOCAB_EOS };
      const int S = G_N_ELEMENTS (src);
      AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
      o.beam_width = ATTN_MAX_BEAM_WIDTH;
      o.max_steps = 2;
      o.length_normalise = norm;
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) hyps = attn_model_beam_search (m, src, S, &o,
                                                           &error);
      g_assert_no_error (error);
      check_hypotheses (m, src, S, hyps, &o);

      g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (Sequence));
      for (int t0 = 0; t0 < c.V; t0++)
        for (int t1 = 0; t1 < (t0 == ATTN_VOCAB_EOS ? 1 : c.V); t1++)
          {
            Sequence seq = { { t0, t1 }, t0 == ATTN_VOCAB_EOS ? 1 : 2, 0 };
            AttnHypothesis h = { .n_tokens = seq.n, .tokens = seq.tokens };
            double lp[2];
            double sum = recomputed_log_prob (m, src, S, &h, lp, NULL);
            seq.score = norm ? sum / seq.n : sum;
            g_array_append_val (all, seq);
          }
      g_array_sort (all, compare_sequences);
      g_assert_cmpuint (all->len, ==, 43);
      g_assert_cmpuint (hyps->len, ==, all->len);
      for (guint i = 0; i < all->len; i++)
        {
          const Sequence *want = &g_array_index (all, Sequence, i);
          const AttnHypothesis *h = g_ptr_array_index (hyps, i);
          g_assert_cmpint (h->n_tokens, ==, want->n);
          g_assert_cmpmem (h->tokens, h->n_tokens * sizeof (int),
                           want->tokens, want->n * sizeof (int));
          g_assert_cmpfloat_with_epsilon (h->score, want->score, 1e-6);
        }
    }
}

/* ---- model files ------------------------------------------------------- */

static const char test_card[] =
    "{\"name\":\"saved-model\",\"task\":\"dates\",\"architecture\":"
    "\"transformer\",\"attention\":\"scaled-dot-product\",\"command\":"
    "\"attnscope-cli train --task dates\",\"seed\":7,\"steps\":100,"
    "\"final_loss\":0.25,\"test_accuracy\":0.5,\"test_examples\":10,"
    "\"examples\":[\"2026年6月1日\"],\"created\":\"2026-11-23T08:00:00Z\","
    "\"extra\":{\"kept\":true}}";

static void
assert_same_trace (const AttnTrace *a, const AttnTrace *b)
{
  g_assert_cmpstr (a->target_text, ==, b->target_text);
  g_assert_cmpuint (a->steps->len, ==, b->steps->len);
  for (guint i = 0; i < a->steps->len; i++)
    {
      const AttnStep *x = g_ptr_array_index (a->steps, i);
      const AttnStep *y = g_ptr_array_index (b->steps, i);
      g_assert_cmpint (x->emitted.id, ==, y->emitted.id);
      g_assert_cmpfloat (x->emitted.prob, ==, y->emitted.prob);
    }
  g_assert_cmpuint (a->blocks->len, ==, b->blocks->len);
  for (guint i = 0; i < a->blocks->len; i++)
    {
      const AttnBlock *x = g_ptr_array_index (a->blocks, i);
      const AttnBlock *y = g_ptr_array_index (b->blocks, i);
      gsize n = (gsize) x->n_heads * x->n_queries * x->n_keys;
      g_assert_cmpint (x->kind, ==, y->kind);
      g_assert_cmpmem (x->weights, n * sizeof (float), y->weights,
                       (gsize) y->n_heads * y->n_queries * y->n_keys
                           * sizeof (float));
    }
}

static void
test_save_load (gconstpointer data)
{
  const ArchCase *a = data;
  g_autoptr (AttnModel) m = make_model (&a->config, test_chars, 7);
  m->card_json = g_strdup (test_card);
  g_autofree char *base = g_strdup_printf ("%s.safetensors", a->name);
  g_autofree char *path = tmp_path (base);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_save (m, path, &error));
  g_assert_no_error (error);

  g_autoptr (AttnModel) back = attn_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (back);
  g_assert_true (back->klass == m->klass);
  g_assert_cmpstr (back->name, ==, "saved-model"); /* the card's */
  assert_config_equal (&back->config, &m->config);
  g_assert_cmpstr (back->card_json, ==, test_card);
  g_assert_null (back->grads);
  g_autofree char *v1 = attn_vocab_to_json (m->vocab);
  g_autofree char *v2 = attn_vocab_to_json (back->vocab);
  g_assert_cmpstr (v1, ==, v2);
  g_assert_cmpuint (back->params->n_tensors, ==, m->params->n_tensors);
  for (guint i = 0; i < m->params->n_tensors; i++)
    {
      const AttnTensor *x = &m->params->tensors[i];
      const AttnTensor *y = &back->params->tensors[i];
      g_assert_cmpstr (x->name, ==, y->name);
      g_assert_cmpmem (x->shape, sizeof x->shape, y->shape, sizeof y->shape);
      g_assert_cmpmem (x->data, x->numel * sizeof (float), y->data,
                       y->numel * sizeof (float));
    }

  /* The file's metadata is what docs/model-format.md says. */
  g_autoptr (AttnSafetensors) st = attn_safetensors_open (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (attn_safetensors_get_metadata (st,
                                                  "attnscope.format_version"),
                   ==, "1");
  g_autofree char *config = attn_model_config_to_json (&m->config);
  g_assert_cmpstr (attn_safetensors_get_metadata (st, "attnscope.config"), ==,
                   config);
  g_assert_cmpstr (attn_safetensors_get_metadata (st, "attnscope.vocab"), ==,
                   v1);
  g_assert_cmpuint (attn_safetensors_get_n_tensors (st), ==,
                    m->params->n_tensors);

  /* Same runs, greedy and beam. */
  for (int beam = 1; beam <= 3; beam += 2)
    {
      AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
      o.beam_width = beam;
      g_autoptr (AttnTrace) t1 = attn_model_run (m, "12年b", &o, NULL,
                                                 &error);
      g_assert_no_error (error);
      g_autoptr (AttnTrace) t2 = attn_model_run (back, "12年b", &o, NULL,
                                                 &error);
      g_assert_no_error (error);
      assert_same_trace (t1, t2);
    }

  /* Saving what was loaded reproduces the file byte for byte. */
  g_autofree char *base2 = g_strdup_printf ("%s-again.safetensors", a->name);
  g_autofree char *path2 = tmp_path (base2);
  g_assert_true (attn_model_save (back, path2, &error));
  g_assert_no_error (error);
  g_autofree char *bytes1 = NULL, *bytes2 = NULL;
  gsize len1 = 0, len2 = 0;
  g_assert_true (g_file_get_contents (path, &bytes1, &len1, NULL));
  g_assert_true (g_file_get_contents (path2, &bytes2, &len2, NULL));
  g_assert_cmpmem (bytes1, len1, bytes2, len2);
}

static void
test_load_name_from_file (void)
{
  /* Without a card, a model is saved with {"name": ...}; a card without a
   * name leaves the file's name. */
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  g_autofree char *path = tmp_path ("no-card.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_save (m, path, &error));
  g_autoptr (AttnModel) back = attn_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->name, ==, "test-model");
  g_assert_cmpstr (back->card_json, ==, "{\"name\":\"test-model\"}");

  m->card_json = g_strdup ("{\"task\":\"reverse\"}");
  g_autofree char *path2 = tmp_path ("reverse-tiny.safetensors");
  g_assert_true (attn_model_save (m, path2, &error));
  g_autoptr (AttnModel) back2 = attn_model_load (path2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back2->name, ==, "reverse-tiny");

  /* Whole numbers are numbers too. */
  g_free (m->card_json);
  m->card_json = g_strdup ("{\"test_accuracy\":1,\"final_loss\":0}");
  g_assert_true (attn_model_save (m, path2, &error));
  g_autoptr (AttnModel) back3 = attn_model_load (path2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back3->card_json, ==, m->card_json);
}

/* Damaged files: bytes of the header (sizes, JSON, metadata) and of the
 * weights overwritten at random. Each load either succeeds (and the model
 * runs) or fails with a model-file error naming the file; none crashes. */
static void
test_load_corrupt (void)
{
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  g_autofree char *good = tmp_path ("corrupt-source.safetensors");
  g_autofree char *path = tmp_path ("corrupt.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_save (m, good, &error));
  g_autofree guint8 *bytes = NULL;
  gsize len = 0;
  g_assert_true (g_file_get_contents (good, (char **) &bytes, &len, NULL));
  guint64 header = 0;
  for (int i = 7; i >= 0; i--)
    header = header << 8 | bytes[i];
  g_assert_cmpuint (header + 8, <, len);

  g_autoptr (GRand) rng = g_rand_new_with_seed (42);
  int loaded = 0, refused = 0;
  for (int trial = 0; trial < 400; trial++)
    {
      g_autofree guint8 *copy = g_memdup2 (bytes, len);
      int n_edits = g_rand_int_range (rng, 1, 4);
      for (int k = 0; k < n_edits; k++)
        {
          /* Mostly the header, where the structure is. */
          gsize end = g_rand_int_range (rng, 0, 4) == 0 ? len : header + 8;
          gsize at = g_rand_int_range (rng, 0, (gint32) end);
          const char pool[] = "{}[]\",:0129e-. \\\xff\x80";
          copy[at] = g_rand_boolean (rng)
                         ? (guint8) g_rand_int_range (rng, 0, 256)
                         : (guint8) pool[g_rand_int_range (rng, 0,
                                                           sizeof pool - 1)];
        }
      g_assert_true (g_file_set_contents (path, (char *) copy, len, NULL));
      g_autoptr (AttnModel) back = attn_model_load (path, &error);
      if (back != NULL)
        {
          loaded++;
          g_autoptr (AttnTrace) t = attn_model_run (back, "abc", NULL, NULL,
                                                    &error);
          g_assert_no_error (error);
          g_assert_nonnull (t);
          continue;
        }
      refused++;
      g_assert_nonnull (error);
      g_assert_true (error->domain == ATTN_ERROR);
      g_assert_true (error->code == ATTN_ERROR_BAD_MODEL_FILE
                     || error->code == ATTN_ERROR_TOO_LARGE);
      g_assert_true (g_str_has_prefix (error->message, path));
      g_clear_error (&error);
    }
  g_test_message ("%d loaded, %d refused", loaded, refused);
  g_assert_cmpint (refused, >, 100);
}

static void
test_save_bad_card (void)
{
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  m->card_json = g_strdup ("{\"steps\": -3}");
  g_autofree char *path = tmp_path ("bad-card.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_model_save (m, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "member “steps” is not an "
                            "integer >= 0"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_load_missing_file (void)
{
  g_autofree char *path = tmp_path ("absent.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_null (attn_model_load (path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, path));
}

/* A model file taken apart, to be edited and written back. */
typedef struct {
  GArray *specs;       /* of AttnSafetensorsWriteSpec */
  GPtrArray *keep;     /* names and data the specs point to */
  GHashTable *md;      /* owned strings */
} FileParts;

static void
file_parts_read (FileParts *f, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnSafetensors) st = attn_safetensors_open (path, &error);
  g_assert_no_error (error);
  f->specs = g_array_new (FALSE, TRUE, sizeof (AttnSafetensorsWriteSpec));
  f->keep = g_ptr_array_new_with_free_func (g_free);
  f->md = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; i < attn_safetensors_get_n_tensors (st); i++)
    {
      const AttnSafetensorsEntry *e = attn_safetensors_get_entry (st, i);
      g_auto (AttnSafetensorsF32) t = { 0 };
      g_assert_true (attn_safetensors_get_f32 (st, e->name, -1, NULL, &t,
                                               NULL));
      AttnSafetensorsWriteSpec spec = { 0 };
      spec.name = g_strdup (e->name);
      spec.ndim = e->ndim;
      memcpy (spec.shape, e->shape, sizeof spec.shape);
      spec.data = g_memdup2 (t.data, t.numel * sizeof (float));
      g_ptr_array_add (f->keep, (char *) spec.name);
      g_ptr_array_add (f->keep, (float *) spec.data);
      g_array_append_val (f->specs, spec);
    }
  GHashTableIter iter;
  gpointer k, v;
  g_hash_table_iter_init (&iter, attn_safetensors_get_metadata_table (st));
  while (g_hash_table_iter_next (&iter, &k, &v))
    g_hash_table_insert (f->md, g_strdup (k), g_strdup (v));
}

static void
file_parts_write (FileParts *f, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_safetensors_write (path,
                                         (AttnSafetensorsWriteSpec *) f->specs->data,
                                         f->specs->len, f->md, &error));
  g_assert_no_error (error);
}

static void
file_parts_clear (FileParts *f)
{
  g_array_unref (f->specs);
  g_ptr_array_unref (f->keep);
  g_hash_table_unref (f->md);
}

static AttnSafetensorsWriteSpec *
spec_at (FileParts *f, guint i)
{
  return &g_array_index (f->specs, AttnSafetensorsWriteSpec, i);
}

static void
set_md (FileParts *f, const char *key, const char *value)
{
  g_hash_table_insert (f->md, g_strdup (key), g_strdup (value));
}

static void
edit_missing_tensor (FileParts *f)
{
  /* Specs are in name order; the first is "dec.0.cross_attn.bk" or so:
   * the message names whichever it is, found by the test. */
  g_array_remove_index (f->specs, 0);
}

static void
edit_wrong_shape (FileParts *f)
{
  AttnSafetensorsWriteSpec *s = spec_at (f, 0);
  gsize numel = 1;
  s->shape[0] += 1;
  for (int d = 0; d < s->ndim; d++)
    numel *= s->shape[d];
  float *data = g_new0 (float, numel);
  g_ptr_array_add (f->keep, data);
  s->data = data;
}

static void
edit_extra_tensor (FileParts *f)
{
  static const float bonus[3] = { 1, 2, 3 };
  AttnSafetensorsWriteSpec s = { "bonus.weight", 1, { 3 }, bonus };
  g_array_append_val (f->specs, s);
}

static void
edit_non_finite (FileParts *f)
{
  AttnSafetensorsWriteSpec *s = spec_at (f, 0);
  gsize numel = 1;
  for (int d = 0; d < s->ndim; d++)
    numel *= s->shape[d];
  float *data = g_memdup2 (s->data, numel * sizeof (float));
  data[0] = NAN;
  g_ptr_array_add (f->keep, data);
  s->data = data;
}

static void
edit_no_version (FileParts *f)
{
  g_hash_table_remove (f->md, "attnscope.format_version");
}

static void edit_version_2 (FileParts *f)
{
  set_md (f, "attnscope.format_version", "2");
}
static void edit_version_word (FileParts *f)
{
  set_md (f, "attnscope.format_version", "one");
}
static void edit_no_config (FileParts *f)
{
  g_hash_table_remove (f->md, "attnscope.config");
}
static void edit_config_not_json (FileParts *f)
{
  set_md (f, "attnscope.config", "{\"arch\":");
}

static void
edit_config_member (FileParts *f)
{
  const char *c = g_hash_table_lookup (f->md, "attnscope.config");
  g_autoptr (GString) s = g_string_new (c);
  g_assert_cmpuint (g_string_replace (s, "\"d_model\":8", "\"d_model\":7", 1),
                    ==, 1);
  set_md (f, "attnscope.config", s->str);
}

static void
edit_config_other_arch (FileParts *f)
{
  /* A valid config whose tensors are not in the file. */
  set_md (f, "attnscope.config",
          "{\"arch\":\"rnn\",\"vocab_size\":21,\"max_len\":10,\"embed\":6,"
          "\"hidden\":8,\"attention\":\"luong-dot\",\"dropout\":0}");
}

static void edit_no_vocab (FileParts *f)
{
  g_hash_table_remove (f->md, "attnscope.vocab");
}
static void edit_vocab_bad (FileParts *f)
{
  set_md (f, "attnscope.vocab", "[\"a\"]");
}

static void
edit_vocab_size (FileParts *f)
{
  const char *v = g_hash_table_lookup (f->md, "attnscope.vocab");
  g_autoptr (GString) s = g_string_new (v);
  g_string_truncate (s, s->len - 1);
  g_string_append (s, ",\"z\"]");
  set_md (f, "attnscope.vocab", s->str);
}

static void edit_no_card (FileParts *f)
{
  g_hash_table_remove (f->md, "attnscope.card");
}
static void edit_card_array (FileParts *f)
{
  set_md (f, "attnscope.card", "[]");
}
static void edit_card_accuracy (FileParts *f)
{
  set_md (f, "attnscope.card", "{\"test_accuracy\":1.5}");
}
static void edit_card_name (FileParts *f)
{
  set_md (f, "attnscope.card", "{\"name\":3}");
}
static void edit_card_examples (FileParts *f)
{
  set_md (f, "attnscope.card", "{\"examples\":[\"a\",2]}");
}

typedef struct {
  const char *name;
  void (*edit) (FileParts *f);
  const char *message; /* %s: the first tensor's name, when needed */
  int truncate;        /* > 0: keep only this many bytes of the good file */
} BadFileCase;

static const BadFileCase bad_file_cases[] = {
  { "missing-tensor", edit_missing_tensor,
    "tensor “%s” of the transformer model is missing", 0 },
  { "wrong-shape", edit_wrong_shape, "tensor “%s” has shape", 0 },
  { "extra-tensor", edit_extra_tensor,
    "unexpected tensor “bonus.weight” (not part of a transformer model", 0 },
  { "non-finite", edit_non_finite, "tensor “%s” holds a non-finite value "
    "at element 0", 0 },
  { "no-version", edit_no_version, "not an Attnscope model file (no "
    "“attnscope.format_version” metadata)", 0 },
  { "version-2", edit_version_2, "model format version 2 is newer than this "
    "program reads (1)", 0 },
  { "version-word", edit_version_word, "“attnscope.format_version” is “one”, "
    "expected “1”", 0 },
  { "no-config", edit_no_config, "the “attnscope.config” metadata is "
    "missing", 0 },
  { "config-not-json", edit_config_not_json, "“attnscope.config”: not JSON",
    0 },
  { "config-member", edit_config_member, "“attnscope.config”: “n_heads” (NH) "
    "= 2 does not divide “d_model” (C) = 7", 0 },
  { "config-other-arch", edit_config_other_arch, "of the rnn model is "
    "missing", 0 },
  { "no-vocab", edit_no_vocab, "the “attnscope.vocab” metadata is missing",
    0 },
  { "vocab-bad", edit_vocab_bad, "“attnscope.vocab”: vocabulary: 1 symbols",
    0 },
  { "vocab-size", edit_vocab_size, "the vocabulary has 22 symbols but the "
    "config's “vocab_size” is 21", 0 },
  { "no-card", edit_no_card, "the “attnscope.card” metadata is missing", 0 },
  { "card-array", edit_card_array, "“attnscope.card”: not a JSON object", 0 },
  { "card-accuracy", edit_card_accuracy, "“attnscope.card”: member "
    "“test_accuracy” is not a number in [0, 1]", 0 },
  { "card-name", edit_card_name, "“attnscope.card”: member “name” is not a "
    "string", 0 },
  { "card-examples", edit_card_examples, "member “examples” is not an array "
    "of strings", 0 },
  { "truncated-data", NULL, "", -64 },
  { "truncated-header", NULL, "", 100 },
  { "empty", NULL, "", 1 },
};

static void
test_load_bad (gconstpointer data)
{
  const BadFileCase *c = data;
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  g_autofree char *good = tmp_path ("good.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_save (m, good, &error));
  g_assert_no_error (error);

  g_autofree char *base = g_strdup_printf ("bad-%s.safetensors", c->name);
  g_autofree char *path = tmp_path (base);
  g_autofree char *first_name = NULL;
  if (c->truncate != 0)
    {
      g_autofree char *bytes = NULL;
      gsize len = 0;
      g_assert_true (g_file_get_contents (good, &bytes, &len, NULL));
      gsize keep = c->truncate > 0 ? (gsize) c->truncate - 1
                                   : len - (gsize) -c->truncate;
      g_assert_true (g_file_set_contents (path, bytes, keep, NULL));
    }
  else
    {
      FileParts f;
      file_parts_read (&f, good);
      first_name = g_strdup (spec_at (&f, 0)->name);
      c->edit (&f);
      file_parts_write (&f, path);
      file_parts_clear (&f);
    }

  g_autoptr (AttnModel) back = attn_model_load (path, &error);
  g_assert_null (back);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_autofree char *want = g_strdup_printf (c->message,
                                          first_name ? first_name : "");
  if (strstr (error->message, want) == NULL)
    g_test_fail_printf ("message “%s” lacks “%s”", error->message, want);
}

/* ---- bad input --------------------------------------------------------- */

static void
test_text_too_long (void)
{
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  g_autoptr (GError) error = NULL;
  /* max_len 10 holds 9 characters and </s>. */
  g_autoptr (AttnTrace) ok = attn_model_run (m, "123456789", NULL, NULL,
                                             &error);
  g_assert_no_error (error);
  g_assert_cmpuint (attn_trace_n_tokens (ok, ATTN_SIDE_SOURCE), ==, 10);
  g_autoptr (AttnTrace) t = attn_model_run (m, "年123456789", NULL, NULL,
                                            &error);
  g_assert_null (t);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_assert_cmpstr (error->message, ==, "the text is 10 characters long; "
                   "model “test-model” reads at most 9");
  g_clear_error (&error);
  g_autofree char *out = attn_model_translate (m, "年123456789", &error);
  g_assert_null (out);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_clear_error (&error);

  /* A 100,000-character paste: refused the same way. */
  g_autofree char *paste = g_strnfill (100000, 'a');
  g_assert_null (attn_model_run (m, paste, NULL, NULL, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_assert_nonnull (strstr (error->message, "100000 characters"));
}

static void
test_unknown_chars (void)
{
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  const char *text = "aXé1X";
  g_autoptr (AttnTrace) t = attn_model_run (m, text, NULL, unknown, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (unknown->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (unknown, 0), ==, "X");
  g_assert_cmpstr (g_ptr_array_index (unknown, 1), ==, "é");
  /* Shown as typed, read as <unk>. */
  /* Ids in code point order: '-' 4, '0'-'9' 5-14, 'a' 15, ... */
  const int want_ids[] = { 15, ATTN_VOCAB_UNK, ATTN_VOCAB_UNK, 6,
                           ATTN_VOCAB_UNK, ATTN_VOCAB_EOS };
  const char *want_text[] = { "a", "X", "é", "1", "X", "</s>" };
  g_assert_cmpuint (attn_trace_n_tokens (t, ATTN_SIDE_SOURCE), ==, 6);
  for (int i = 0; i < 6; i++)
    {
      const AttnToken *tok = attn_trace_get_token (t, ATTN_SIDE_SOURCE, i);
      g_assert_cmpint (tok->id, ==, want_ids[i]);
      g_assert_cmpstr (tok->text, ==, want_text[i]);
    }
  check_run_trace (m, text, t, TEST_MAX_LEN - 1, TRUE);

  g_autofree char *out = attn_model_translate (m, text, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (out, ==, t->target_text);
}

static void
test_bad_text (void)
{
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  const char *texts[] = { "", "   ", "a\xff" };
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_null (attn_model_run (m, texts[i], NULL, NULL, &error));
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
      g_clear_error (&error);
      g_assert_null (attn_model_translate (m, texts[i], &error));
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
    }
}

static void
test_bad_options (void)
{
  g_autoptr (AttnModel) m = make_model (&arch_cases[0].config, test_chars, 1);
  const struct {
    AttnRunOptions o;
    const char *message;
  } cases[] = {
    { { 0, 0, 5, FALSE }, "beam width 0 is out of range (1 .. 64)" },
    { { 65, 0, 5, FALSE }, "beam width 65 is out of range" },
    { { 1, 10, 5, FALSE }, "max steps 10 is out of range (0 .. 9 for model "
      "“test-model”)" },
    { { 1, -1, 5, FALSE }, "max steps -1 is out of range" },
    { { 1, 0, 17, FALSE }, "top-k 17 is out of range (0 .. 16)" },
    { { 2, 0, -1, FALSE }, "top-k -1 is out of range" },
  };
  const int src[] = { 5, ATTN_VOCAB_EOS };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_assert_null (attn_model_run (m, "1", &cases[i].o, NULL, &error));
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      if (strstr (error->message, cases[i].message) == NULL)
        g_test_fail_printf ("message “%s” lacks “%s”", error->message,
                            cases[i].message);
      g_clear_error (&error);
      g_assert_null (attn_model_beam_search (m, src, 2, &cases[i].o, &error));
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
    }
  /* A source longer than max_len. */
  int long_src[TEST_MAX_LEN + 1];
  for (int i = 0; i < TEST_MAX_LEN + 1; i++)
    long_src[i] = i < TEST_MAX_LEN ? 5 : ATTN_VOCAB_EOS;
  g_autoptr (GError) error = NULL;
  g_assert_null (attn_model_beam_search (m, long_src, TEST_MAX_LEN + 1, NULL,
                                         &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "a source of 11 tokens is out "
                            "of range (1 .. 10"));
  g_clear_error (&error);
  /* top_k 0 keeps no alternatives; max_len - 1 steps is allowed. */
  AttnRunOptions o = { 1, TEST_MAX_LEN - 1, 0, FALSE };
  g_autoptr (AttnTrace) t = attn_model_run (m, "1", &o, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < t->steps->len; i++)
    g_assert_cmpint (((AttnStep *) g_ptr_array_index (t->steps, i))->n_top,
                     ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/model/arch-strings", test_arch_strings);
  for (guint i = 0; i < G_N_ELEMENTS (config_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/attn/model/config-round-trip/%s", config_cases[i].name);
      g_test_add_data_func (path, &config_cases[i], test_config_round_trip);
    }
  g_test_add_func ("/attn/model/config-whitespace-and-order",
                   test_config_whitespace_and_order);
  for (guint i = 0; i < G_N_ELEMENTS (bad_json_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/model/config-bad-json/%s",
                                               bad_json_cases[i].name);
      g_test_add_data_func (path, &bad_json_cases[i], test_config_bad_json);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_struct_cases); i++)
    {
      g_autofree char *path = g_strdup_printf (
          "/attn/model/config-bad-struct/%s", bad_struct_cases[i].name);
      g_test_add_data_func (path, &bad_struct_cases[i],
                            test_config_bad_struct);
    }
  g_test_add_func ("/attn/model/new-bad", test_new_bad);
  g_test_add_func ("/attn/model/new-deterministic", test_new_deterministic);
  g_test_add_func ("/attn/model/enable-training", test_enable_training);
  for (guint i = 0; i < G_N_ELEMENTS (arch_cases); i++)
    {
      const ArchCase *a = &arch_cases[i];
      static const struct {
        const char *name;
        GTestDataFunc func;
      } per_arch[] = {
        { "save-load", test_save_load },
        { "run-trace", test_run_trace },
        { "run-chinese", test_run_chinese },
        { "run-forced", test_run_forced },
        { "greedy-is-beam-1", test_greedy_is_beam_1 },
        { "beam-scores", test_beam_scores },
        { "beam-exhaustive", test_beam_exhaustive },
        { "max-steps", test_max_steps },
      };
      for (guint j = 0; j < G_N_ELEMENTS (per_arch); j++)
        {
          g_autofree char *path = g_strdup_printf ("/attn/model/%s/%s",
                                                   per_arch[j].name, a->name);
          g_test_add_data_func (path, a, per_arch[j].func);
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_file_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/model/load-bad/%s",
                                               bad_file_cases[i].name);
      g_test_add_data_func (path, &bad_file_cases[i], test_load_bad);
    }
  g_test_add_func ("/attn/model/load-missing-file", test_load_missing_file);
  g_test_add_func ("/attn/model/load-corrupt", test_load_corrupt);
  g_test_add_func ("/attn/model/load-name-from-file", test_load_name_from_file);
  g_test_add_func ("/attn/model/save-bad-card", test_save_bad_card);
  g_test_add_func ("/attn/model/text-too-long", test_text_too_long);
  g_test_add_func ("/attn/model/unknown-chars", test_unknown_chars);
  g_test_add_func ("/attn/model/bad-text", test_bad_text);
  g_test_add_func ("/attn/model/bad-options", test_bad_options);

  int status = g_test_run ();
  if (tmp_dir != NULL)
    {
      attn_test_tmp_dir_remove (tmp_dir);
      g_free (tmp_dir);
    }
  return status;
}
