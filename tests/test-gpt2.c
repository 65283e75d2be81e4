/* test-gpt2.c: opening GPT-2 folders, the key/value cache and the runs
 * (no PyTorch here: test-gpt2-reference.c holds the numbers to torch).
 *
 * Tiny checkpoints (L 2, NH 2, C 8, V 23, n_positions 16, random weights)
 * are written into a scratch folder with the safetensors writer, broken on
 * purpose where a case needs it. The cache is held to a single feed of the
 * whole sequence: float32 with different summation orders, so within 1e-5
 * absolute on attention (unit scale) and 1e-4 relative on logits.
 * /work/shared/models/hf-fake-gpt2 (real layout and vocabulary) is used
 * when present, skipped otherwise. */
#include <math.h>
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-gpt2.h"
#include "core/attn-safetensors.h"
#include "core/attn-tensor.h"
#include "tests/attn-test-util.h"

#define L_ 2
#define NH_ 2
#define C_ 8
#define V_ 23
#define NPOS_ 16

#define ATT_TOL 1e-5
#define LOGIT_TOL 1e-4

/* How a scratch checkpoint departs from a good one. */
typedef struct {
  const char *drop;      /* a tensor left out (full name) */
  const char *reshape;   /* a tensor written as (d0, d1) instead */
  gsize d0, d1;
  const char *config;    /* config.json text instead of the good one */
  gboolean prefixed;     /* keys with "transformer." */
  gboolean untied;       /* tie_word_embeddings false, lm_head written */
  gboolean no_config;    /* no config.json at all */
  gboolean no_weights;   /* no model.safetensors */
} Tweak;

static const char *good_config
    = "{\"model_type\": \"gpt2\", \"activation_function\": \"gelu_new\", "
      "\"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, \"n_positions\": 16, "
      "\"vocab_size\": 23, \"layer_norm_epsilon\": 1e-05, \"n_inner\": "
      "null}";

static void
write_text (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* A checkpoint in dir, its weights drawn from seed. */
static void
write_tiny (const char *dir, const Tweak *tw, guint32 seed)
{
  const gsize C = C_, F = 4 * C_;
  struct
  {
    char *name;
    int ndim;
    gsize d0, d1;
  } specs[64];
  guint n = 0;
#define ADD(nm, nd, a, b)                                                     \
  (specs[n].name = g_strdup_printf ("%s%s", tw->prefixed ? "transformer."    \
                                                         : "",               \
                                    nm),                                      \
   specs[n].ndim = (nd), specs[n].d0 = (a), specs[n].d1 = (b), n++)
  ADD ("wte.weight", 2, V_, C);
  ADD ("wpe.weight", 2, NPOS_, C);
  for (int l = 0; l < L_; l++)
    {
      g_autofree char *p = g_strdup_printf ("h.%d.", l);
      g_autofree char *n1 = g_strconcat (p, "ln_1.weight", NULL);
      g_autofree char *n2 = g_strconcat (p, "ln_1.bias", NULL);
      g_autofree char *n3 = g_strconcat (p, "attn.c_attn.weight", NULL);
      g_autofree char *n4 = g_strconcat (p, "attn.c_attn.bias", NULL);
      g_autofree char *n5 = g_strconcat (p, "attn.c_proj.weight", NULL);
      g_autofree char *n6 = g_strconcat (p, "attn.c_proj.bias", NULL);
      g_autofree char *n7 = g_strconcat (p, "ln_2.weight", NULL);
      g_autofree char *n8 = g_strconcat (p, "ln_2.bias", NULL);
      g_autofree char *n9 = g_strconcat (p, "mlp.c_fc.weight", NULL);
      g_autofree char *n10 = g_strconcat (p, "mlp.c_fc.bias", NULL);
      g_autofree char *n11 = g_strconcat (p, "mlp.c_proj.weight", NULL);
      g_autofree char *n12 = g_strconcat (p, "mlp.c_proj.bias", NULL);
      ADD (n1, 1, C, 0);
      ADD (n2, 1, C, 0);
      ADD (n3, 2, C, 3 * C);
      ADD (n4, 1, 3 * C, 0);
      ADD (n5, 2, C, C);
      ADD (n6, 1, C, 0);
      ADD (n7, 1, C, 0);
      ADD (n8, 1, C, 0);
      ADD (n9, 2, C, F);
      ADD (n10, 1, F, 0);
      ADD (n11, 2, F, C);
      ADD (n12, 1, C, 0);
    }
  ADD ("ln_f.weight", 1, C, 0);
  ADD ("ln_f.bias", 1, C, 0);
#undef ADD
  if (tw->untied)
    {
      specs[n].name = g_strdup ("lm_head.weight");
      specs[n].ndim = 2;
      specs[n].d0 = V_;
      specs[n].d1 = C;
      n++;
    }

  AttnSafetensorsWriteSpec ws[64];
  GPtrArray *keep = g_ptr_array_new_with_free_func (g_free);
  guint m = 0;
  for (guint i = 0; i < n; i++)
    {
      if (tw->drop != NULL && strcmp (specs[i].name, tw->drop) == 0)
        continue;
      if (tw->reshape != NULL && strcmp (specs[i].name, tw->reshape) == 0)
        {
          specs[i].d0 = tw->d0;
          specs[i].d1 = tw->d1;
          specs[i].ndim = tw->d1 > 0 ? 2 : 1;
        }
      gsize numel = specs[i].d0 * (specs[i].ndim == 2 ? specs[i].d1 : 1);
      float *data = g_new (float, numel);
      /* LayerNorm gains near 1, everything else around 0, large enough
       * for attention far from uniform. */
      gboolean gain = strstr (specs[i].name, "ln_") != NULL
                      && g_str_has_suffix (specs[i].name, ".weight");
      attn_test_fill_uniform (data, numel, gain ? 0.8f : -0.6f,
                              gain ? 1.2f : 0.6f, seed + i);
      g_ptr_array_add (keep, data);
      ws[m] = (AttnSafetensorsWriteSpec){ .name = specs[i].name,
                                          .ndim = specs[i].ndim,
                                          .data = data };
      ws[m].shape[0] = specs[i].d0;
      ws[m].shape[1] = specs[i].d1;
      m++;
    }
  if (!tw->no_weights)
    {
      g_autofree char *path = g_build_filename (dir, "model.safetensors",
                                                NULL);
      g_autoptr (GError) error = NULL;
      g_assert_true (attn_safetensors_write (path, ws, m, NULL, &error));
      g_assert_no_error (error);
    }
  g_ptr_array_unref (keep);
  for (guint i = 0; i < n; i++)
    g_free (specs[i].name);

  if (!tw->no_config)
    {
      g_autofree char *untied = NULL;
      if (tw->untied)
        {
          untied = g_strdup (good_config);
          untied[strlen (untied) - 1] = '\0';
          g_autofree char *t = g_strconcat (untied,
                                            ", \"tie_word_embeddings\": "
                                            "false}",
                                            NULL);
          g_free (untied);
          untied = g_steal_pointer (&t);
        }
      write_text (dir, "config.json",
                  tw->config != NULL ? tw->config
                  : untied != NULL   ? untied
                                     : good_config);
    }
}

static char *
scratch (const Tweak *tw, guint32 seed)
{
  char *dir = attn_test_tmp_dir_new ("attn-gpt2-XXXXXX");
  write_tiny (dir, tw, seed);
  return dir;
}

static void
remove_scratch (char *dir)
{
  attn_test_tmp_dir_remove (dir);
  g_free (dir);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (char, remove_scratch)

/* ---- loading errors --------------------------------------------------- */

typedef struct {
  const char *name;
  Tweak tweak;
  int code;
  const char *says; /* in the message, beside the file's name */
  const char *file; /* "config.json" or "model.safetensors" */
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "missing-tensor", { .drop = "h.1.mlp.c_fc.bias" },
    ATTN_ERROR_BAD_MODEL_FILE, "h.1.mlp.c_fc.bias", "model.safetensors" },
  { "missing-tensor-prefixed",
    { .drop = "transformer.ln_f.weight", .prefixed = TRUE },
    ATTN_ERROR_BAD_MODEL_FILE, "transformer.ln_f.weight",
    "model.safetensors" },
  /* c_attn stored (out, in), as nn.Linear would: not GPT-2's Conv1D. */
  { "wrong-shape-c-attn", { .reshape = "h.0.attn.c_attn.weight", .d0 = 24,
                            .d1 = 8 },
    ATTN_ERROR_BAD_MODEL_FILE, "h.0.attn.c_attn.weight",
    "model.safetensors" },
  { "wrong-shape-wpe", { .reshape = "wpe.weight", .d0 = 15, .d1 = 8 },
    ATTN_ERROR_BAD_MODEL_FILE, "wpe.weight", "model.safetensors" },
  { "untied-without-lm-head",
    { .config = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 2, "
                "\"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 23, "
                "\"tie_word_embeddings\": false}" },
    ATTN_ERROR_BAD_MODEL_FILE, "lm_head.weight", "model.safetensors" },
  { "config-not-json", { .config = "{\"n_layer\": 2," },
    ATTN_ERROR_BAD_MODEL_FILE, "not JSON", "config.json" },
  { "config-not-object", { .config = "[1, 2]" }, ATTN_ERROR_BAD_MODEL_FILE,
    "not a JSON object", "config.json" },
  { "config-missing-n-layer",
    { .config = "{\"model_type\": \"gpt2\", \"n_head\": 2, \"n_embd\": 8, "
                "\"n_positions\": 16, \"vocab_size\": 23}" },
    ATTN_ERROR_BAD_MODEL_FILE, "“n_layer” is missing", "config.json" },
  { "config-n-embd-string",
    { .config = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 2, "
                "\"n_embd\": \"8\", \"n_positions\": 16, \"vocab_size\": "
                "23}" },
    ATTN_ERROR_BAD_MODEL_FILE, "“n_embd” must be an integer", "config.json" },
  { "config-heads-do-not-divide",
    { .config = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 3, "
                "\"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 23}" },
    ATTN_ERROR_BAD_MODEL_FILE, "not a multiple of n_head 3", "config.json" },
  { "config-negative-vocab",
    { .config = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 2, "
                "\"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": -4}" },
    ATTN_ERROR_BAD_MODEL_FILE, "“vocab_size” is -4", "config.json" },
  { "config-other-model",
    { .config = "{\"model_type\": \"llama\", \"n_layer\": 2, \"n_head\": 2, "
                "\"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 23}" },
    ATTN_ERROR_BAD_MODEL_FILE, "“llama”", "config.json" },
  { "config-relu",
    { .config = "{\"model_type\": \"gpt2\", \"activation_function\": "
                "\"relu\", \"n_layer\": 2, \"n_head\": 2, \"n_embd\": 8, "
                "\"n_positions\": 16, \"vocab_size\": 23}" },
    ATTN_ERROR_UNSUPPORTED, "“relu”", "config.json" },
  { "config-inverse-layer-scale",
    { .config = "{\"model_type\": \"gpt2\", \"n_layer\": 2, \"n_head\": 2, "
                "\"n_embd\": 8, \"n_positions\": 16, \"vocab_size\": 23, "
                "\"scale_attn_by_inverse_layer_idx\": true}" },
    ATTN_ERROR_UNSUPPORTED, "scale_attn_by_inverse_layer_idx",
    "config.json" },
  { "no-config", { .no_config = TRUE }, ATTN_ERROR_IO, "cannot read",
    "config.json" },
  { "no-weights", { .no_weights = TRUE }, ATTN_ERROR_IO, "",
    "model.safetensors" },
};

static void
test_load_error (gconstpointer data)
{
  const ErrorCase *ec = data;
  g_autoptr (char) dir = scratch (&ec->tweak, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGpt2) m = attn_gpt2_open (dir, &error);
  g_assert_null (m);
  g_assert_error (error, ATTN_ERROR, ec->code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, ec->says));
  g_assert_nonnull (strstr (error->message, ec->file));
}

/* ---- loading ---------------------------------------------------------- */

static gboolean
inside (const float *p, gsize n, const guint8 *base, gsize len)
{
  const guint8 *b = (const guint8 *) p;
  return b >= base && b + n * sizeof (float) <= base + len;
}

static void
test_zero_copy (gconstpointer data)
{
  const Tweak *tw = data;
  g_autoptr (char) dir = scratch (tw, 2);
  g_autoptr (GError) error = NULL;
  /* The folder, its config.json and its model.safetensors all open it. */
  const char *names[] = { NULL, "config.json", "model.safetensors" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = names[i] ? g_build_filename (dir, names[i],
                                                           NULL)
                                       : g_strdup (dir);
      g_assert_true (attn_gpt2_detect (path));
      g_autoptr (AttnGpt2) m = attn_gpt2_open (path, &error);
      g_assert_no_error (error);
      const AttnGpt2Config *c = &m->config;
      g_assert_cmpint (c->L, ==, L_);
      g_assert_cmpint (c->NH, ==, NH_);
      g_assert_cmpint (c->C, ==, C_);
      g_assert_cmpint (c->F, ==, 4 * C_);
      g_assert_cmpint (c->V, ==, V_);
      g_assert_cmpint (c->n_positions, ==, NPOS_);
      g_assert_cmpfloat (c->eps, ==, 1e-5f);
      g_assert_null (m->bpe);

      gsize len = 0;
      const guint8 *base = attn_safetensors_get_data (m->st, &len);
      g_assert_cmpuint (m->bytes_copied, ==, 0);
      g_assert_cmpuint (m->bytes_mapped, ==, m->n_params * sizeof (float));
      g_assert_true (inside (m->w.wte, (gsize) V_ * C_, base, len));
      g_assert_true (inside (m->w.wpe, (gsize) NPOS_ * C_, base, len));
      for (int l = 0; l < L_; l++)
        {
          g_assert_true (inside (m->w.h[l].attn_w, 3 * C_ * C_, base, len));
          g_assert_true (inside (m->w.h[l].mlp_proj_w, 4 * C_ * C_, base,
                                 len));
          g_assert_true (inside (m->w.h[l].ln_2_b, C_, base, len));
        }
      g_assert_true (inside (m->w.lm_head, (gsize) V_ * C_, base, len));
      if (tw->untied)
        g_assert_true (m->w.lm_head != m->w.wte);
      else
        g_assert_true (m->w.lm_head == m->w.wte);
    }
}

static const Tweak zero_copy_cases[] = {
  { .prefixed = FALSE },
  { .prefixed = TRUE },
  { .untied = TRUE },
};
static const char *zero_copy_names[] = { "bare", "prefixed", "untied" };

static void
test_detect (void)
{
  g_autoptr (char) dir = scratch (&(Tweak){ .config = "{\"architectures\": "
                                                      "[\"GPT2LMHeadModel\"]}" },
                                  3);
  g_assert_true (attn_gpt2_detect (dir));
  write_text (dir, "config.json", "{\"model_type\": \"llama\"}");
  g_assert_false (attn_gpt2_detect (dir));
  write_text (dir, "config.json", "not json");
  g_assert_false (attn_gpt2_detect (dir));
  g_autofree char *other = g_build_filename (dir, "notes.txt", NULL);
  write_text (dir, "notes.txt", "x");
  g_assert_false (attn_gpt2_detect (other));
  g_autofree char *absent = g_build_filename (dir, "nothing", NULL);
  g_assert_false (attn_gpt2_detect (absent));
}

/* ---- the cache -------------------------------------------------------- */

static AttnGpt2 *
open_tiny (char **dir, guint32 seed)
{
  Tweak tw = { 0 };
  *dir = scratch (&tw, seed);
  g_autoptr (GError) error = NULL;
  AttnGpt2 *m = attn_gpt2_open (*dir, &error);
  g_assert_no_error (error);
  return m;
}

/* Feeds ids (T) in pieces of the sizes in chunks (summing to T), writing
 * att (L, NH, T, T) and logits (T, V) of every position. */
static void
feed_in_chunks (AttnGpt2 *m, const int *ids, int T, const int *chunks,
                float *att, float *logits)
{
  const AttnGpt2Config *c = &m->config;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnGpt2State) s = attn_gpt2_state_new (m, T, &error);
  g_assert_no_error (error);
  float *layers[L_];
  for (int l = 0; l < L_; l++)
    layers[l] = att + (gsize) l * c->NH * T * T;
  g_autofree float *hidden = g_new (float, (gsize) T * c->C);
  int p = 0;
  for (int i = 0; p < T; i++)
    {
      g_assert_true (attn_gpt2_state_feed (s, ids + p, chunks[i], layers, T,
                                           hidden, NULL, &error));
      g_assert_no_error (error);
      attn_gpt2_logits (m, hidden, chunks[i], logits + (gsize) p * c->V);
      p += chunks[i];
      g_assert_cmpint (s->n, ==, p);
    }
}

typedef struct {
  const char *name;
  int chunks[13];
} ChunkCase;

static const ChunkCase chunk_cases[] = {
  { "one-at-a-time", { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 } },
  { "prompt-then-steps", { 6, 1, 1, 1, 1, 1, 1, 1 } },
  { "prompt-then-chunks", { 4, 5, 1, 3 } },
};

static void
test_cache (gconstpointer data)
{
  const ChunkCase *cc = data;
  g_autofree char *dir = NULL;
  g_autoptr (AttnGpt2) m = open_tiny (&dir, 4);
  const int T = 13, V = V_;
  const int ids[13] = { 3, 22, 0, 7, 7, 15, 1, 9, 20, 4, 11, 3, 18 };
  const gsize n_att = (gsize) L_ * NH_ * T * T;
  g_autofree float *att = g_new0 (float, n_att);
  g_autofree float *logits = g_new (float, (gsize) T * V);
  /* Zeroed: a feed leaves the columns right of its last position alone
   * (a trace's blocks start zeroed). */
  g_autofree float *att_chunks = g_new0 (float, n_att);
  g_autofree float *logits_chunks = g_new (float, (gsize) T * V);
  const int whole[1] = { T };
  feed_in_chunks (m, ids, T, whole, att, logits);
  feed_in_chunks (m, ids, T, cc->chunks, att_chunks, logits_chunks);

  attn_test_assert_close ("attention", att_chunks, att, n_att, ATT_TOL);
  attn_test_assert_rel_close ("logits", logits_chunks, logits,
                              (gsize) T * V, LOGIT_TOL, 1.0);
  /* The whole feed's attention is causal and normalised, and not
   * uniform (the weights are large enough to matter). */
  double spread = 0.0;
  for (int b = 0; b < L_ * NH_; b++)
    for (int q = 0; q < T; q++)
      {
        const float *row = att + ((gsize) b * T + q) * T;
        double sum = 0.0;
        for (int k = 0; k < T; k++)
          {
            if (k > q)
              g_assert_cmpfloat (row[k], ==, 0.0f);
            sum += row[k];
            spread = MAX (spread, fabs (row[k] - 1.0 / (q + 1)));
          }
        g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
      }
  g_assert_cmpfloat (spread, >, 0.1);
}

/* ---- runs ------------------------------------------------------------- */

static void
test_run_ids (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (AttnGpt2) m = open_tiny (&dir, 5);
  const int prompt[5] = { 3, 22, 0, 7, 7 };
  g_autoptr (GError) error = NULL;

  AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
  o.n_generate = 6;
  g_autoptr (AttnTrace) trace = attn_gpt2_run_ids (m, prompt, 5, &o, &error);
  g_assert_no_error (error);
  g_assert_true (attn_trace_validate (trace, &error));
  g_assert_no_error (error);
  const int T = 11;
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==, T);
  g_assert_cmpuint (trace->blocks->len, ==, L_);
  g_assert_cmpuint (trace->steps->len, ==, T);
  g_assert_cmpstr (trace->architecture, ==, "gpt2");
  g_assert_cmpstr (attn_trace_get_token (trace, ATTN_SIDE_TARGET, 1)->text,
                   ==, "⟨22⟩");
  /* No tokenizer: the stream is the labels, the generated ones after. */
  g_assert_true (g_str_has_prefix (trace->target_text, "⟨3⟩⟨22⟩⟨0⟩⟨7⟩⟨7⟩⟨"));
  g_autofree int *ids = g_new (int, T);
  for (int p = 0; p < T; p++)
    ids[p] = attn_trace_get_token (trace, ATTN_SIDE_TARGET, p)->id;
  g_assert_cmpmem (ids, 5 * sizeof (int), prompt, 5 * sizeof (int));

  /* Greedy: each generated token is the argmax of a full recompute of its
   * prefix, and the grown blocks equal a single feed of the T tokens. */
  g_autofree float *att = g_new0 (float, (gsize) L_ * NH_ * T * T);
  g_autofree float *logits = g_new (float, (gsize) T * V_);
  const int whole[1] = { T };
  feed_in_chunks (m, ids, T, whole, att, logits);
  for (int p = 4; p + 1 < T; p++)
    {
      const float *row = logits + (gsize) p * V_;
      int best = 0;
      for (int v = 1; v < V_; v++)
        if (row[v] > row[best])
          best = v;
      g_assert_cmpint (ids[p + 1], ==, best);
    }
  for (int l = 0; l < L_; l++)
    {
      const AttnBlock *b = attn_trace_lookup_block (trace,
                                                    ATTN_KIND_DECODER_SELF, l);
      attn_test_assert_close ("grown block", b->weights,
                              att + (gsize) l * NH_ * T * T,
                              (gsize) NH_ * T * T, ATT_TOL);
    }
  /* Steps: step p emits token p + 1 with the softmax's probability. */
  for (int p = 0; p < T; p++)
    {
      const AttnStep *step = g_ptr_array_index (trace->steps, p);
      const float *row = logits + (gsize) p * V_;
      double maxv = row[0], sum = 0.0;
      for (int v = 0; v < V_; v++)
        maxv = MAX (maxv, row[v]);
      for (int v = 0; v < V_; v++)
        sum += exp (row[v] - maxv);
      if (p + 1 < T)
        g_assert_cmpint (step->emitted.id, ==, ids[p + 1]);
      g_assert_cmpfloat_with_epsilon (
          step->emitted.prob, exp (row[step->emitted.id] - maxv) / sum, 1e-5);
      g_assert_cmpint (step->n_top, ==, 5);
    }
}

static void
test_sampling (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (AttnGpt2) m = open_tiny (&dir, 6);
  const int prompt[3] = { 1, 2, 3 };
  g_autoptr (GError) error = NULL;
  AttnGpt2RunOptions greedy = ATTN_GPT2_RUN_OPTIONS_INIT;
  greedy.n_generate = 10;
  g_autoptr (AttnTrace) g = attn_gpt2_run_ids (m, prompt, 3, &greedy,
                                               &error);
  g_assert_no_error (error);

  /* Same seed, same tokens; top_k 1 and a tiny top_p are greedy at any
   * temperature; a high temperature with another seed departs from it. */
  AttnGpt2RunOptions o = greedy;
  o.temperature = 1.5f;
  o.seed = 42;
  g_autoptr (AttnTrace) a = attn_gpt2_run_ids (m, prompt, 3, &o, &error);
  g_autoptr (AttnTrace) b = attn_gpt2_run_ids (m, prompt, 3, &o, &error);
  g_assert_no_error (error);
  gboolean differs = FALSE;
  for (int p = 3; p < 13; p++)
    {
      int ia = attn_trace_get_token (a, ATTN_SIDE_TARGET, p)->id;
      g_assert_cmpint (ia, ==,
                       attn_trace_get_token (b, ATTN_SIDE_TARGET, p)->id);
      differs |= ia != attn_trace_get_token (g, ATTN_SIDE_TARGET, p)->id;
    }
  g_assert_true (differs);
  g_assert_true (attn_trace_validate (a, &error));

  AttnGpt2RunOptions k1 = o;
  k1.top_k = 1;
  AttnGpt2RunOptions p0 = o;
  p0.top_p = 1e-6f;
  g_autoptr (AttnTrace) tk = attn_gpt2_run_ids (m, prompt, 3, &k1, &error);
  g_autoptr (AttnTrace) tp = attn_gpt2_run_ids (m, prompt, 3, &p0, &error);
  g_assert_no_error (error);
  for (int p = 0; p < 13; p++)
    {
      int want = attn_trace_get_token (g, ATTN_SIDE_TARGET, p)->id;
      g_assert_cmpint (attn_trace_get_token (tk, ATTN_SIDE_TARGET, p)->id,
                       ==, want);
      g_assert_cmpint (attn_trace_get_token (tp, ATTN_SIDE_TARGET, p)->id,
                       ==, want);
    }
}

/* Progress reports: every prompt layer, then every generated token, the
 * fraction rising to 1; a callback that cancels stops the run. */
typedef struct {
  GArray *seen; /* of AttnGpt2Progress */
  GCancellable *cancel;
  int cancel_after; /* the report that cancels, from 1, or -1 */
} Seen;

static void
on_progress (const AttnGpt2Progress *p, gpointer data)
{
  Seen *s = data;
  g_array_append_val (s->seen, *p);
  if (s->cancel_after >= 0 && (int) s->seen->len >= s->cancel_after)
    g_cancellable_cancel (s->cancel);
}

static void
test_progress (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (AttnGpt2) m = open_tiny (&dir, 7);
  const int prompt[4] = { 5, 9, 1, 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  Seen s = { g_array_new (FALSE, FALSE, sizeof (AttnGpt2Progress)), cancel,
             -1 };
  AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
  o.n_generate = 5;
  o.cancellable = cancel;
  o.progress = on_progress;
  o.progress_data = &s;
  g_autoptr (AttnTrace) trace = attn_gpt2_run_ids (m, prompt, 4, &o, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (s.seen->len, ==, L_ + 5);
  double last = 0.0;
  for (guint i = 0; i < s.seen->len; i++)
    {
      const AttnGpt2Progress *p = &g_array_index (s.seen, AttnGpt2Progress,
                                                  i);
      g_assert_cmpint (p->n_layers, ==, L_);
      g_assert_cmpint (p->n_generate, ==, 5);
      g_assert_cmpint (p->layers_done, ==, MIN ((int) i + 1, L_));
      g_assert_cmpint (p->generated, ==, MAX ((int) i + 1 - L_, 0));
      g_assert_cmpfloat (p->fraction, >, last);
      last = p->fraction;
    }
  /* The prompt's layers are 4 tokens of the 9 through every layer. */
  g_assert_cmpfloat_with_epsilon (
      g_array_index (s.seen, AttnGpt2Progress, L_ - 1).fraction, 4.0 / 9.0,
      1e-12);
  g_assert_cmpfloat (last, ==, 1.0);

  /* Cancelled after the first layer: the next layer's check stops it. */
  g_array_set_size (s.seen, 0);
  s.cancel_after = 1;
  g_autoptr (AttnTrace) none = attn_gpt2_run_ids (m, prompt, 4, &o, &error);
  g_assert_null (none);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_CANCELLED);
  g_assert_cmpuint (s.seen->len, ==, 1);
  g_clear_error (&error);
  /* Cancelled during generation. */
  g_cancellable_reset (cancel);
  g_array_set_size (s.seen, 0);
  s.cancel_after = L_ + 2;
  none = attn_gpt2_run_ids (m, prompt, 4, &o, &error);
  g_assert_null (none);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_CANCELLED);
  g_assert_cmpuint (s.seen->len, ==, L_ + 2);
  g_array_unref (s.seen);
}

/* Generation stops when the end-of-text token is chosen: the run is the
 * corner of the run that went on, its last step choosing the token. */
static void
test_eos (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (AttnGpt2) m = open_tiny (&dir, 8);
  const int prompt[3] = { 4, 4, 17 };
  const int n = 3, n_generate = 10;
  g_autoptr (GError) error = NULL;
  g_assert_cmpint (m->config.eos_id, ==, -1); /* not in good_config */
  AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
  o.n_generate = n_generate;
  g_autoptr (AttnTrace) full = attn_gpt2_run_ids (m, prompt, n, &o, &error);
  g_assert_no_error (error);
  const int T = n + n_generate;

  /* Each distinct chosen token in turn plays end-of-text: the run must end
   * at its first choice. Step p chooses the token at p + 1. */
  int tried = 0;
  for (int p = n - 1; p < T; p++)
    {
      const AttnStep *st = g_ptr_array_index (full->steps, p);
      int eos = st->emitted.id, first = p;
      for (int q = n - 1; q < p; q++)
        if (((const AttnStep *) g_ptr_array_index (full->steps, q))
                ->emitted.id == eos)
          first = q;
      if (first != p)
        continue;
      tried++;
      m->config.eos_id = eos;
      g_autoptr (AttnTrace) cut = attn_gpt2_run_ids (m, prompt, n, &o,
                                                     &error);
      g_assert_no_error (error);
      g_assert_true (attn_trace_validate (cut, &error));
      g_assert_no_error (error);
      const int Tc = p + 1;
      g_assert_cmpuint (attn_trace_n_tokens (cut, ATTN_SIDE_TARGET), ==, Tc);
      g_assert_cmpuint (cut->steps->len, ==, Tc);
      const AttnStep *last = g_ptr_array_index (cut->steps, Tc - 1);
      g_assert_cmpint (last->emitted.id, ==, eos);
      for (int l = 0; l < L_; l++)
        {
          const AttnBlock *a
              = attn_trace_lookup_block (full, ATTN_KIND_DECODER_SELF, l);
          const AttnBlock *b
              = attn_trace_lookup_block (cut, ATTN_KIND_DECODER_SELF, l);
          g_assert_cmpint (b->n_queries, ==, Tc);
          g_assert_cmpint (b->n_keys, ==, Tc);
          for (int h = 0; h < NH_; h++)
            for (int i = 0; i < Tc; i++)
              g_assert_cmpmem (b->weights + ((gsize) h * Tc + i) * Tc,
                               Tc * sizeof (float),
                               a->weights + ((gsize) h * T + i) * T,
                               Tc * sizeof (float));
        }
      /* ignore_eos goes on to the end. */
      AttnGpt2RunOptions on = o;
      on.ignore_eos = TRUE;
      g_autoptr (AttnTrace) all = attn_gpt2_run_ids (m, prompt, n, &on,
                                                     &error);
      g_assert_no_error (error);
      g_assert_cmpuint (attn_trace_n_tokens (all, ATTN_SIDE_TARGET), ==, T);
    }
  g_assert_cmpint (tried, >=, 2);
  m->config.eos_id = -1;
}

/* attn_gpt2_choose on known distributions: frequencies within 4 standard
 * deviations of the probabilities the options leave. */
static void
test_choose (void)
{
  /* probabilities 0.5, 0.3, 0.15, 0.05 at temperature 1 */
  const float logits[4] = { logf (0.5f), logf (0.3f), logf (0.15f),
                            logf (0.05f) };
  typedef struct {
    float temperature;
    int top_k;
    float top_p;
    double want[4];
  } Case;
  const Case cases[] = {
    { 1.0f, 0, 1.0f, { 0.5, 0.3, 0.15, 0.05 } },
    { 1.0f, 2, 1.0f, { 0.625, 0.375, 0, 0 } },
    /* 0.5 < 0.7 <= 0.8: the two most probable */
    { 1.0f, 0, 0.7f, { 0.625, 0.375, 0, 0 } },
    { 1.0f, 0, 0.5f, { 1, 0, 0, 0 } },
    { 1.0f, 3, 0.9f, { 0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0 } },
    /* temperature 0.5 squares the probabilities: 0.25 0.09 0.0225 0.0025 */
    { 0.5f, 0, 1.0f, { 0.25 / 0.365, 0.09 / 0.365, 0.0225 / 0.365,
                       0.0025 / 0.365 } },
    { 0.0f, 0, 1.0f, { 1, 0, 0, 0 } },
  };
  const int draws = 20000;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
      o.temperature = cases[c].temperature;
      o.top_k = cases[c].top_k;
      o.top_p = cases[c].top_p;
      g_autoptr (GRand) rng = g_rand_new_with_seed (7 + c);
      int count[4] = { 0 };
      for (int i = 0; i < draws; i++)
        {
          int id = attn_gpt2_choose (logits, 4, &o, rng);
          g_assert_cmpint (id, >=, 0);
          g_assert_cmpint (id, <, 4);
          count[id]++;
        }
      for (int v = 0; v < 4; v++)
        {
          double p = cases[c].want[v];
          double sd = sqrt (p * (1 - p) / draws);
          double got = (double) count[v] / draws;
          if (p == 0.0 || p == 1.0)
            g_assert_cmpfloat (got, ==, p);
          else
            g_assert_cmpfloat (fabs (got - p), <=, 4 * sd);
        }
    }
}

static void
test_run_limits (void)
{
  g_autofree char *dir = NULL;
  g_autoptr (AttnGpt2) m = open_tiny (&dir, 7);
  const int prompt[4] = { 1, 2, 3, 4 };
  g_autoptr (GError) error = NULL;

  AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
  o.n_generate = 13; /* 17 > 16 positions */
  g_assert_null (attn_gpt2_run_ids (m, prompt, 4, &o, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_assert_nonnull (strstr (error->message, "16 positions"));
  g_clear_error (&error);

  /* 2 layers x 2 heads x 10 x 10 x 4 bytes = 1600 bytes */
  g_assert_cmpuint (attn_gpt2_trace_bytes (&m->config, 10), ==, 1600);
  o.n_generate = 6;
  o.max_trace_bytes = 1599;
  g_assert_null (attn_gpt2_run_ids (m, prompt, 4, &o, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE);
  g_assert_nonnull (strstr (error->message, "0.0 MB"));
  g_clear_error (&error);
  o.max_trace_bytes = 1600;
  g_autoptr (AttnTrace) t = attn_gpt2_run_ids (m, prompt, 4, &o, &error);
  g_assert_no_error (error);

  const int bad[2] = { 1, 23 };
  g_assert_null (attn_gpt2_run_ids (m, bad, 2, &o, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "token id 23"));
  g_clear_error (&error);

  /* Text needs a tokenizer, which this folder lacks. */
  g_assert_null (attn_gpt2_run (m, "hello", &o, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  g_autoptr (GCancellable) cancel = g_cancellable_new ();
  g_cancellable_cancel (cancel);
  o.cancellable = cancel;
  g_assert_null (attn_gpt2_run_ids (m, prompt, 4, &o, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_CANCELLED);
}

/* ---- the shared Hugging Face folder ------------------------------------- */

static void
test_hf_fake (void)
{
  g_autofree char *dir = attn_test_shared_model ("hf-fake-gpt2");
  if (dir == NULL)
    return;
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_gpt2_detect (dir));
  g_autoptr (AttnGpt2) m = attn_gpt2_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->config.V, ==, 50257);
  g_assert_cmpint (m->config.L, ==, 1);
  g_assert_cmpint (m->config.C, ==, 2);
  g_assert_cmpint (m->config.n_positions, ==, 1024);
  g_assert_true (m->w.lm_head == m->w.wte);
  g_assert_cmpuint (m->bytes_copied, ==, 0);
  g_assert_nonnull (m->bpe);

  AttnGpt2RunOptions o = ATTN_GPT2_RUN_OPTIONS_INIT;
  o.n_generate = 3;
  g_autoptr (AttnTrace) trace = attn_gpt2_run (m, "Hello world", &o, &error);
  g_assert_no_error (error);
  g_assert_true (attn_trace_validate (trace, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==, 5);
  const AttnToken *t0 = attn_trace_get_token (trace, ATTN_SIDE_TARGET, 0);
  const AttnToken *t1 = attn_trace_get_token (trace, ATTN_SIDE_TARGET, 1);
  g_assert_cmpint (t0->id, ==, 15496);
  g_assert_cmpint (t1->id, ==, 995);
  g_assert_cmpstr (t0->text, ==, "Hello");
  g_assert_cmpstr (t1->text, ==, " world");
  g_assert_cmpint (t1->start, ==, 5);
  g_assert_cmpint (t1->end, ==, 11);
  g_assert_true (g_str_has_prefix (trace->target_text, "Hello world"));
  g_assert_cmpuint (trace->steps->len, ==, 5);
  const AttnStep *s0 = g_ptr_array_index (trace->steps, 0);
  g_assert_cmpint (s0->emitted.id, ==, 995);

  /* Chinese and emoji: tokens holding part of a character show the whole
   * character, spans overlapping, and the trace still validates. */
  const char *zh = "注意力 🙂!";
  g_autoptr (AttnTrace) t2 = attn_gpt2_run (m, zh, &o, &error);
  g_assert_no_error (error);
  g_assert_true (attn_trace_validate (t2, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (t2->target_text, zh));
  guint n_zh = attn_trace_n_tokens (t2, ATTN_SIDE_TARGET) - 3;
  g_assert_cmpuint (n_zh, >, 4);
  gboolean saw_emoji = FALSE;
  for (guint i = 0; i < n_zh; i++)
    {
      const AttnToken *t = attn_trace_get_token (t2, ATTN_SIDE_TARGET, i);
      g_assert_true (g_utf8_validate (t->text, -1, NULL));
      g_assert_null (strstr (t->text, "\xef\xbf\xbd")); /* no U+FFFD */
      saw_emoji |= strstr (t->text, "🙂") != NULL;
    }
  g_assert_true (saw_emoji);

  g_assert_null (attn_gpt2_run (m, "", &o, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_clear_error (&error);
  g_assert_null (attn_gpt2_run (m, "ab\xc3", &o, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/attn/gpt2/load-error/%s",
                                            error_cases[i].name);
      g_test_add_data_func (p, &error_cases[i], test_load_error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (zero_copy_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/attn/gpt2/zero-copy/%s",
                                            zero_copy_names[i]);
      g_test_add_data_func (p, &zero_copy_cases[i], test_zero_copy);
    }
  g_test_add_func ("/attn/gpt2/detect", test_detect);
  for (guint i = 0; i < G_N_ELEMENTS (chunk_cases); i++)
    {
      g_autofree char *p = g_strdup_printf ("/attn/gpt2/cache/%s",
                                            chunk_cases[i].name);
      g_test_add_data_func (p, &chunk_cases[i], test_cache);
    }
  g_test_add_func ("/attn/gpt2/run-ids", test_run_ids);
  g_test_add_func ("/attn/gpt2/sampling", test_sampling);
  g_test_add_func ("/attn/gpt2/choose", test_choose);
  g_test_add_func ("/attn/gpt2/progress", test_progress);
  g_test_add_func ("/attn/gpt2/eos", test_eos);
  g_test_add_func ("/attn/gpt2/run-limits", test_run_limits);
  g_test_add_func ("/attn/gpt2/hf-fake-gpt2", test_hf_fake);
  return g_test_run ();
}
