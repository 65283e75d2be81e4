/* attn-gpt2.c: GPT-2 from Hugging Face files; the forward pass with a
 * key/value cache; prediction, generation and the trace. */
#include "core/attn-gpt2.h"

#include <math.h>
#include <string.h>

#include <cblas.h>
#include <json-glib/json-glib.h>

#include "core/attn-attention.h"
#include "core/attn-bpe.h"
#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-json.h"
#include "core/attn-kernels.h"

/* ---- config.json --------------------------------------------------------- */

/* The root object of config.json's text; shown names it in messages. */
static JsonObject *
config_object_from_data (const char *text, gsize len, const char *shown,
                         JsonParser *parser, GError **error)
{
  g_autoptr (GError) local = NULL;
  if (len > G_MAXSSIZE
      || !attn_json_check_depth (text, (gssize) len, ATTN_JSON_MAX_DEPTH))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: not a config: arrays and objects nested deeper "
                   "than %d levels", shown, ATTN_JSON_MAX_DEPTH);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, text, (gssize) len, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: not JSON: %s", shown, local->message);
      return NULL;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: not a JSON object", shown);
      return NULL;
    }
  return json_node_get_object (root);
}

static JsonObject *
load_config_object (const char *path, JsonParser *parser, GError **error)
{
  g_autofree char *shown = g_filename_display_name (path);
  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr (GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO, "%s: cannot read: %s",
                   shown, local->message);
      return NULL;
    }
  return config_object_from_data (text, len, shown, parser, error);
}

static gboolean
node_is (JsonNode *node, GType type)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node)
         && json_node_get_value_type (node) == type;
}

/* An integer member in [min, max]; absent or null gives def when def_ok. */
static gboolean
config_int (JsonObject *o, const char *shown, const char *member,
            gboolean def_ok, int def, gint64 min, gint64 max, int *out,
            GError **error)
{
  JsonNode *node = json_object_get_member (o, member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      if (def_ok)
        {
          *out = def;
          return TRUE;
        }
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: “%s” is missing", shown, member);
      return FALSE;
    }
  if (!node_is (node, G_TYPE_INT64))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: “%s” must be an integer", shown, member);
      return FALSE;
    }
  gint64 v = json_node_get_int (node);
  if (v < min || v > max)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: “%s” is %" G_GINT64_FORMAT ", outside [%" G_GINT64_FORMAT
                   ", %" G_GINT64_FORMAT "]", shown, member, v, min, max);
      return FALSE;
    }
  *out = (int) v;
  return TRUE;
}

static gboolean
config_bool (JsonObject *o, const char *shown, const char *member,
             gboolean def, gboolean *out, GError **error)
{
  JsonNode *node = json_object_get_member (o, member);
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    {
      *out = def;
      return TRUE;
    }
  if (!node_is (node, G_TYPE_BOOLEAN))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: “%s” must be true or false", shown, member);
      return FALSE;
    }
  *out = json_node_get_boolean (node);
  return TRUE;
}

/* A string member, NULL when absent; FALSE when present but not a string. */
static gboolean
config_string (JsonObject *o, const char *shown, const char *member,
               const char **out, GError **error)
{
  JsonNode *node = json_object_get_member (o, member);
  *out = NULL;
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!node_is (node, G_TYPE_STRING))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: “%s” must be a string", shown, member);
      return FALSE;
    }
  *out = json_node_get_string (node);
  return TRUE;
}

static gboolean
config_from_object (JsonObject *o, const char *shown, AttnGpt2Config *c,
                    GError **error)
{
  const char *model_type = NULL, *act = NULL;
  if (!config_string (o, shown, "model_type", &model_type, error)
      || !config_string (o, shown, "activation_function", &act, error))
    return FALSE;
  if (model_type != NULL && strcmp (model_type, "gpt2") != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: model_type is “%s”, not “gpt2”", shown, model_type);
      return FALSE;
    }
  /* gelu_pytorch_tanh is the same tanh form computed by torch's kernel. */
  if (act != NULL && strcmp (act, "gelu_new") != 0
      && strcmp (act, "gelu_pytorch_tanh") != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "%s: activation_function “%s” is not supported (GPT-2 "
                   "uses “gelu_new”)", shown, act);
      return FALSE;
    }

  memset (c, 0, sizeof *c);
  int n_ctx = 0;
  if (!config_int (o, shown, "n_layer", FALSE, 0, 1, ATTN_GPT2_MAX_LAYERS,
                   &c->L, error)
      || !config_int (o, shown, "n_head", FALSE, 0, 1, ATTN_GPT2_MAX_EMBD,
                      &c->NH, error)
      || !config_int (o, shown, "n_embd", FALSE, 0, 1, ATTN_GPT2_MAX_EMBD,
                      &c->C, error)
      || !config_int (o, shown, "vocab_size", FALSE, 0, 1,
                      ATTN_GPT2_MAX_VOCAB, &c->V, error)
      || !config_int (o, shown, "n_ctx", TRUE, 0, 1, ATTN_GPT2_MAX_POSITIONS,
                      &n_ctx, error)
      || !config_int (o, shown, "n_positions", n_ctx > 0, n_ctx, 1,
                      ATTN_GPT2_MAX_POSITIONS, &c->n_positions, error)
      || !config_int (o, shown, "n_inner", TRUE, 0, 1,
                      4 * (gint64) ATTN_GPT2_MAX_EMBD, &c->F, error)
      || !config_int (o, shown, "eos_token_id", TRUE, -1, 0,
                      ATTN_GPT2_MAX_VOCAB, &c->eos_id, error)
      || !config_bool (o, shown, "tie_word_embeddings", TRUE, &c->tied,
                       error))
    return FALSE;
  if (c->F == 0)
    c->F = 4 * c->C;
  if (c->C % c->NH != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: n_embd %d is not a multiple of n_head %d", shown,
                   c->C, c->NH);
      return FALSE;
    }
  if (c->eos_id >= c->V)
    c->eos_id = -1;

  JsonNode *eps = json_object_get_member (o, "layer_norm_epsilon");
  if (eps == NULL || JSON_NODE_HOLDS_NULL (eps))
    c->eps = 1e-5f;
  else if (node_is (eps, G_TYPE_DOUBLE) || node_is (eps, G_TYPE_INT64))
    {
      double e = json_node_get_double (eps);
      if (!(e >= 0.0 && e < 1.0))
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                       "%s: “layer_norm_epsilon” is %g, outside [0, 1)",
                       shown, e);
          return FALSE;
        }
      c->eps = (float) e;
    }
  else
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: “layer_norm_epsilon” must be a number", shown);
      return FALSE;
    }

  /* Variants of the attention this forward does not compute. */
  gboolean scale = TRUE, by_layer = FALSE, cross = FALSE;
  if (!config_bool (o, shown, "scale_attn_weights", TRUE, &scale, error)
      || !config_bool (o, shown, "scale_attn_by_inverse_layer_idx", FALSE,
                       &by_layer, error)
      || !config_bool (o, shown, "add_cross_attention", FALSE, &cross,
                       error))
    return FALSE;
  const char *unsupported = !scale      ? "scale_attn_weights: false"
                            : by_layer ? "scale_attn_by_inverse_layer_idx: true"
                            : cross    ? "add_cross_attention: true"
                                       : NULL;
  if (unsupported != NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "%s: “%s” is not supported (GPT-2 checkpoints do not use "
                   "it)", shown, unsupported);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_config (const char *path, AttnGpt2Config *c, GError **error)
{
  g_autofree char *shown = g_filename_display_name (path);
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *o = load_config_object (path, parser, error);
  return o != NULL && config_from_object (o, shown, c, error);
}

gboolean
attn_gpt2_config_from_data (const char *json, gsize len, const char *name,
                            AttnGpt2Config *config, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *o = config_object_from_data (json, len, name, parser, error);
  return o != NULL && config_from_object (o, name, config, error);
}

/* ---- tokens ---------------------------------------------------------------
 *
 * The text side goes through the folder's tokenizer when it has one; a
 * folder without one (a bare checkpoint, the test fixtures) runs on ids,
 * its tokens labelled "⟨id⟩". */

/* A folder holds a tokenizer when it has any of the files attn_bpe reads. */
static gboolean
has_tokenizer_files (const char *dir)
{
  static const char *const names[] = { "tokenizer.json", "vocab.json",
                                       "merges.txt", "encoder.json",
                                       "vocab.bpe" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *p = g_build_filename (dir, names[i], NULL);
      if (g_file_test (p, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return FALSE;
}

static gboolean
tokenizer_load (AttnGpt2 *m, GError **error)
{
  if (!has_tokenizer_files (m->dir))
    return TRUE;
  m->bpe = attn_bpe_new_from_dir (m->dir, error);
  if (m->bpe == NULL)
    return FALSE;
  /* A vocabulary larger than the embedding would hand out ids the model
   * cannot look up (smaller is fine: GPT-2 pads V in some ports). */
  if (attn_bpe_n_vocab (m->bpe) > m->config.V)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: the tokenizer has %d tokens but the model's "
                   "vocab_size is %d", m->dir, attn_bpe_n_vocab (m->bpe),
                   m->config.V);
      return FALSE;
    }
  return TRUE;
}

static void
tokenizer_free (AttnGpt2 *m)
{
  g_clear_pointer (&m->bpe, attn_bpe_free);
}

/* A display label for one id, valid UTF-8: the tokenizer's (a lone piece
 * of a character shows as U+FFFD), or "⟨id⟩" for an id it lacks. */
static char *
token_label (AttnGpt2 *m, int id)
{
  if (m->bpe != NULL && id < attn_bpe_n_vocab (m->bpe))
    {
      g_autoptr (GArray) labels = attn_bpe_labels (m->bpe, &id, 1, NULL,
                                                   NULL);
      if (labels != NULL && labels->len == 1)
        return g_strdup (g_array_index (labels, AttnBpeLabel, 0).text);
    }
  return g_strdup_printf ("⟨%d⟩", id);
}

/* ids (n) of text. */
static gboolean
encode (AttnGpt2 *m, const char *text, int **ids, int *n, GError **error)
{
  *ids = NULL;
  *n = 0;
  if (m->bpe == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "%s: the folder has no tokenizer (tokenizer.json, "
                   "vocab.json + merges.txt or encoder.json + vocab.bpe), "
                   "so it cannot run text", m->dir);
      return FALSE;
    }
  g_autoptr (GArray) arr = g_array_new (FALSE, FALSE, sizeof (int));
  if (!attn_bpe_encode (m->bpe, text, ATTN_BPE_ENCODE_DEFAULT, arr, NULL,
                        error))
    return FALSE;
  *n = (int) arr->len;
  *ids = (int *) g_array_free (g_steal_pointer (&arr), FALSE);
  return TRUE;
}

static gboolean
tokenizer_covers (AttnGpt2 *m, const int *ids, int T)
{
  if (m->bpe == NULL)
    return FALSE;
  for (int i = 0; i < T; i++)
    if (ids[i] >= attn_bpe_n_vocab (m->bpe))
      return FALSE;
  return TRUE;
}

/* The trace's target side for the stream ids (T): its decoded text and
 * each token's display label and span (attn_bpe_labels: a token holding
 * part of a character shows the whole character). The decoded text of an
 * encoded text is that text, so the prompt's spans index what the user
 * typed. Without a tokenizer (or with ids beyond it) tokens are "⟨id⟩". */
static gboolean
add_tokens (AttnGpt2 *m, AttnTrace *trace, const int *ids, int T,
            GError **error)
{
  if (tokenizer_covers (m, ids, T))
    {
      g_autofree char *text = NULL;
      g_autoptr (GArray) labels = attn_bpe_labels (m->bpe, ids, T, &text,
                                                   error);
      if (labels == NULL)
        return FALSE;
      attn_trace_set_text (trace, ATTN_SIDE_TARGET, text);
      for (int i = 0; i < T; i++)
        {
          const AttnBpeLabel *lb = &g_array_index (labels, AttnBpeLabel, i);
          /* The trace gives special tokens (<|endoftext|>) no span. */
          attn_trace_add_token (trace, ATTN_SIDE_TARGET, lb->text, ids[i],
                                lb->special ? -1 : lb->start,
                                lb->special ? -1 : lb->end, lb->special);
        }
      return TRUE;
    }
  GString *stream = g_string_new (NULL);
  g_autoptr (GPtrArray) labels = g_ptr_array_new_with_free_func (g_free);
  g_autofree int *start = g_new (int, T + 1);
  for (int i = 0; i < T; i++)
    {
      char *label = g_strdup_printf ("⟨%d⟩", ids[i]);
      start[i] = (int) stream->len;
      g_string_append (stream, label);
      g_ptr_array_add (labels, label);
    }
  start[T] = (int) stream->len;
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, stream->str);
  for (int i = 0; i < T; i++)
    attn_trace_add_token (trace, ATTN_SIDE_TARGET, labels->pdata[i], ids[i],
                          start[i], start[i + 1], FALSE);
  g_string_free (stream, TRUE);
  return TRUE;
}

/* ---- opening ------------------------------------------------------------- */

/* The folder a path names: itself, or the parent of its config.json or
 * model.safetensors. */
static char *
model_dir (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    return g_strdup (path);
  return g_path_get_dirname (path);
}

gboolean
attn_gpt2_detect (const char *path)
{
  g_autofree char *dir = model_dir (path);
  g_autofree char *config = g_build_filename (dir, "config.json", NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *base = g_path_get_basename (path);
      if (strcmp (base, "config.json") != 0
          && !g_str_has_suffix (base, ".safetensors"))
        return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *o = load_config_object (config, parser, NULL);
  if (o == NULL)
    return FALSE;
  JsonNode *mt = json_object_get_member (o, "model_type");
  if (node_is (mt, G_TYPE_STRING))
    return strcmp (json_node_get_string (mt), "gpt2") == 0;
  JsonNode *archs = json_object_get_member (o, "architectures");
  if (archs == NULL || !JSON_NODE_HOLDS_ARRAY (archs))
    return FALSE;
  JsonArray *a = json_node_get_array (archs);
  for (guint i = 0; i < json_array_get_length (a); i++)
    {
      JsonNode *e = json_array_get_element (a, i);
      if (node_is (e, G_TYPE_STRING)
          && g_str_has_prefix (json_node_get_string (e), "GPT2"))
        return TRUE;
    }
  return FALSE;
}

/* Reads `prefix name` with the shape (d0[, d1]) into the model's tensor
 * list; NULL with the reader's BAD_MODEL_FILE (naming file and tensor). */
static const float *
get_tensor (AttnGpt2 *m, const char *prefix, const char *name, int ndim,
            gsize d0, gsize d1, GError **error)
{
  g_autofree char *full = g_strconcat (prefix, name, NULL);
  gsize shape[2] = { d0, d1 };
  AttnSafetensorsF32 t = { 0 };
  if (!attn_safetensors_get_f32 (m->st, full, ndim, shape, &t, error))
    return NULL;
  gsize bytes = t.numel * sizeof (float);
  if (t.owned)
    m->bytes_copied += bytes;
  else
    m->bytes_mapped += bytes;
  m->n_params += t.numel;
  g_array_append_val (m->tensors, t);
  return t.data;
}

static void
clear_tensor (gpointer p)
{
  attn_safetensors_f32_clear (p);
}

static gboolean
load_weights (AttnGpt2 *m, GError **error)
{
  const AttnGpt2Config *c = &m->config;
  const gsize C = c->C, F = c->F, V = c->V;
  /* Hugging Face's GPT2LMHeadModel saves "transformer.wte.weight"; the
   * hub's original gpt2 checkpoint and GPT2Model save "wte.weight". */
  const char *prefix = attn_safetensors_lookup (m->st, "transformer.wte.weight")
                           != NULL
                         ? "transformer."
                         : "";
  AttnGpt2Weights *w = &m->w;
  w->h = g_new0 (AttnGpt2Layer, c->L);
  if ((w->wte = get_tensor (m, prefix, "wte.weight", 2, V, C, error)) == NULL
      || (w->wpe = get_tensor (m, prefix, "wpe.weight", 2, c->n_positions, C,
                               error))
           == NULL)
    return FALSE;
  for (int l = 0; l < c->L; l++)
    {
      AttnGpt2Layer *h = &w->h[l];
      struct
      {
        const float **dst;
        const char *name;
        int ndim;
        gsize d0, d1;
      } want[] = {
        { &h->ln_1_w, "ln_1.weight", 1, C, 0 },
        { &h->ln_1_b, "ln_1.bias", 1, C, 0 },
        { &h->attn_w, "attn.c_attn.weight", 2, C, 3 * C },
        { &h->attn_b, "attn.c_attn.bias", 1, 3 * C, 0 },
        { &h->attn_proj_w, "attn.c_proj.weight", 2, C, C },
        { &h->attn_proj_b, "attn.c_proj.bias", 1, C, 0 },
        { &h->ln_2_w, "ln_2.weight", 1, C, 0 },
        { &h->ln_2_b, "ln_2.bias", 1, C, 0 },
        { &h->fc_w, "mlp.c_fc.weight", 2, C, F },
        { &h->fc_b, "mlp.c_fc.bias", 1, F, 0 },
        { &h->mlp_proj_w, "mlp.c_proj.weight", 2, F, C },
        { &h->mlp_proj_b, "mlp.c_proj.bias", 1, C, 0 },
      };
      for (guint i = 0; i < G_N_ELEMENTS (want); i++)
        {
          g_autofree char *name = g_strdup_printf ("h.%d.%s", l,
                                                   want[i].name);
          *want[i].dst = get_tensor (m, prefix, name, want[i].ndim,
                                     want[i].d0, want[i].d1, error);
          if (*want[i].dst == NULL)
            return FALSE;
        }
    }
  if ((w->ln_f_w = get_tensor (m, prefix, "ln_f.weight", 1, C, 0, error))
        == NULL
      || (w->ln_f_b = get_tensor (m, prefix, "ln_f.bias", 1, C, 0, error))
           == NULL)
    return FALSE;
  /* Tied (GPT-2 always is): the output layer is wte, as Hugging Face ties
   * it on load even when the file also holds an lm_head.weight. */
  if (c->tied)
    w->lm_head = w->wte;
  else if ((w->lm_head = get_tensor (m, "", "lm_head.weight", 2, V, C,
                                     error))
           == NULL)
    return FALSE;
  return TRUE;
}

AttnGpt2 *
attn_gpt2_open (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *shown = g_filename_display_name (path);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_IO,
                   "%s: no such file or folder", shown);
      return NULL;
    }
  g_autoptr (AttnGpt2) m = g_new0 (AttnGpt2, 1);
  m->tensors = g_array_new (FALSE, TRUE, sizeof (AttnSafetensorsF32));
  g_array_set_clear_func (m->tensors, clear_tensor);
  m->dir = model_dir (path);
  m->name = g_path_get_basename (m->dir);
  m->config_path = g_build_filename (m->dir, "config.json", NULL);
  m->weights_path = g_str_has_suffix (path, ".safetensors")
                      ? g_strdup (path)
                      : g_build_filename (m->dir, "model.safetensors", NULL);

  if (!parse_config (m->config_path, &m->config, error))
    return NULL;
  m->st = attn_safetensors_open (m->weights_path, error);
  if (m->st == NULL || !load_weights (m, error))
    return NULL;
  if (!tokenizer_load (m, error))
    return NULL;
  return g_steal_pointer (&m);
}

void
attn_gpt2_free (AttnGpt2 *m)
{
  if (m == NULL)
    return;
  tokenizer_free (m);
  if (m->tensors != NULL)
    g_array_unref (m->tensors);
  g_clear_pointer (&m->st, attn_safetensors_free);
  g_free (m->w.h);
  g_free (m->name);
  g_free (m->dir);
  g_free (m->config_path);
  g_free (m->weights_path);
  g_free (m);
}

guint64
attn_gpt2_trace_bytes (const AttnGpt2Config *c, int T)
{
  return (guint64) c->L * c->NH * T * T * sizeof (float);
}

/* ---- the forward pass ---------------------------------------------------- */

AttnGpt2State *
attn_gpt2_state_new (AttnGpt2 *model, int max_T, GError **error)
{
  const AttnGpt2Config *c = &model->config;
  attn_check (max_T >= 1 && max_T <= c->n_positions);
  const gsize T = max_T, C = c->C;
  const gsize kv = (gsize) c->L * T * C;
  const gsize floats = 2 * kv + 4 * T * C + T * (gsize) c->F + c->NH * T;
  float *mem = g_try_new0 (float, floats);
  if (mem == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "%s: cannot allocate %.1f MB for a %d-token key/value "
                   "cache", model->name, floats * 4.0 / 1e6, max_T);
      return NULL;
    }
  AttnGpt2State *s = g_new0 (AttnGpt2State, 1);
  s->model = model;
  s->max_T = max_T;
  s->k = mem;
  s->v = s->k + kv;
  s->x = s->v + kv;
  s->a = s->x + T * C;
  s->q = s->a + T * C;
  s->ctx = s->q + T * C;
  s->fc = s->ctx + T * C;
  s->att = NULL; /* grown on demand */
  return s;
}

void
attn_gpt2_state_free (AttnGpt2State *s)
{
  if (s == NULL)
    return;
  g_free (s->k);
  g_free (s->att);
  g_free (s);
}

void
attn_gpt2_state_reset (AttnGpt2State *s)
{
  s->n = 0;
}

static float *
att_scratch (AttnGpt2State *s, gsize floats)
{
  if (s->att_floats < floats)
    {
      g_free (s->att);
      s->att = g_new (float, floats);
      s->att_floats = floats;
    }
  return s->att;
}

/* out (n, OC) = inp (n, IC) @ W (IC, OC, rows ldw apart) + b (OC): the
 * Conv1D layout used in place, no transposed copy. */
static void
conv1d (float *out, const float *inp, const float *W, int ldw,
        const float *b, int n, int IC, int OC)
{
  for (int i = 0; i < n; i++)
    memcpy (out + (gsize) i * OC, b, (gsize) OC * sizeof (float));
  /* One row (a generation step): sgemv reads W once, where sgemm would
   * first pack all of it (measured: 70% of a step's time). */
  if (n == 1)
    cblas_sgemv (CblasRowMajor, CblasTrans, IC, OC, 1.0f, W, ldw, inp, 1,
                 1.0f, out, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, OC, IC, 1.0f,
                 inp, IC, W, ldw, 1.0f, out, OC);
}

/* x (n, OC) += inp (n, IC) @ W (IC, OC) + b (OC): a residual branch. */
static void
conv1d_add (float *x, const float *inp, const float *W, const float *b,
            int n, int IC, int OC)
{
  for (int i = 0; i < n; i++)
    {
      float *row = x + (gsize) i * OC;
      for (int j = 0; j < OC; j++)
        row[j] += b[j];
    }
  if (n == 1)
    cblas_sgemv (CblasRowMajor, CblasTrans, IC, OC, 1.0f, W, OC, inp, 1,
                 1.0f, x, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, OC, IC, 1.0f,
                 inp, IC, W, OC, 1.0f, x, OC);
}

/* One query over S keys, every head: ctx (C), w (NH, S), q (C), k (S, C),
 * v (S, C). Matrix-vector products read the cache once; sgemm would pack
 * it first. */
static void
attend_one (float *ctx, float *w, const float *q, const float *k,
            const float *v, int S, int C, int NH)
{
  const int HS = C / NH;
  const float scale = 1.0f / sqrtf ((float) HS);
  for (int h = 0; h < NH; h++)
    {
      float *wh = w + (gsize) h * S; /* (S) */
      cblas_sgemv (CblasRowMajor, CblasNoTrans, S, HS, scale, k + h * HS, C,
                   q + h * HS, 1, 0.0f, wh, 1);
      attn_softmax_forward (wh, wh, 1, S);
      cblas_sgemv (CblasRowMajor, CblasTrans, S, HS, 1.0f, v + h * HS, C, wh,
                   1, 0.0f, ctx + h * HS, 1);
    }
}

/* ctx (n, C) of layer l's heads for the n new queries q (n, C) at positions
 * p0 .. p0 + n - 1 over the cached keys and values 0 .. p0 + n - 1. */
static void
attend (AttnGpt2State *s, int l, int n, int p0, float *att, int ld)
{
  const AttnGpt2Config *c = &s->model->config;
  const int C = c->C, NH = c->NH, S = p0 + n;
  const float *k = s->k + (gsize) l * s->max_T * C; /* (S, C) */
  const float *v = s->v + (gsize) l * s->max_T * C; /* (S, C) */
  const gsize head = (gsize) ld * ld;

  if (p0 == 0)
    {
      /* A whole prefix: causal over itself, one call for every head. */
      gboolean direct = att != NULL && ld == n;
      float *w = direct ? att : att_scratch (s, (gsize) NH * n * n);
      attn_mha_attend (s->ctx, w, s->q, k, v, n, n, C, NH, TRUE, NULL, NULL);
      if (att != NULL && !direct)
        for (int h = 0; h < NH; h++)
          for (int i = 0; i < n; i++)
            memcpy (att + h * head + (gsize) i * ld,
                    w + ((gsize) h * n + i) * n, (gsize) n * sizeof (float));
      return;
    }
  /* After a cached prefix, query i sees keys 0 .. p0 + i: one query at a
   * time (a generation step is n = 1). */
  float *w = att_scratch (s, (gsize) NH * S); /* (NH, 1, Si) */
  for (int i = 0; i < n; i++)
    {
      const int Si = p0 + i + 1;
      attend_one (s->ctx + (gsize) i * C, w, s->q + (gsize) i * C, k, v, Si,
                  C, NH);
      if (att == NULL)
        continue;
      for (int h = 0; h < NH; h++)
        {
          float *row = att + h * head + (gsize) (p0 + i) * ld; /* (ld) */
          memcpy (row, w + (gsize) h * Si, (gsize) Si * sizeof (float));
          memset (row + Si, 0, (gsize) (S - Si) * sizeof (float));
        }
    }
}

/* Called after each layer of a feed with the count of layers done. */
typedef void (*LayerDone) (int layers_done, gpointer data);

static gboolean
feed (AttnGpt2State *s, const int *ids, int n, float *const *att, int ld,
      float *hidden, GCancellable *cancellable, LayerDone layer_done,
      gpointer data, GError **error)
{
  const AttnGpt2 *m = s->model;
  const AttnGpt2Config *c = &m->config;
  const int C = c->C, F = c->F, p0 = s->n;
  attn_check (ids != NULL && n >= 1 && p0 + n <= s->max_T);
  attn_check (att == NULL || ld >= p0 + n);

  for (int i = 0; i < n; i++)
    {
      attn_check (ids[i] >= 0 && ids[i] < c->V);
      const float *te = m->w.wte + (gsize) ids[i] * C;
      const float *pe = m->w.wpe + (gsize) (p0 + i) * C;
      float *x = s->x + (gsize) i * C;
      for (int j = 0; j < C; j++)
        x[j] = te[j] + pe[j];
    }

  for (int l = 0; l < c->L; l++)
    {
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          g_clear_error (error);
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_CANCELLED,
                       "%s: run cancelled", m->name);
          return FALSE;
        }
      const AttnGpt2Layer *h = &m->w.h[l];
      float *k = s->k + ((gsize) l * s->max_T + p0) * C; /* (n, C) */
      float *v = s->v + ((gsize) l * s->max_T + p0) * C; /* (n, C) */

      attn_layernorm_forward (s->a, NULL, NULL, s->x, h->ln_1_w, h->ln_1_b,
                              n, C, c->eps);
      /* c_attn's (C, 3C) columns are q | k | v: three products on column
       * slices, k and v landing straight in the cache. */
      conv1d (s->q, s->a, h->attn_w, 3 * C, h->attn_b, n, C, C);
      conv1d (k, s->a, h->attn_w + C, 3 * C, h->attn_b + C, n, C, C);
      conv1d (v, s->a, h->attn_w + 2 * C, 3 * C, h->attn_b + 2 * C, n, C, C);
      attend (s, l, n, p0, att != NULL ? att[l] : NULL, ld);
      conv1d_add (s->x, s->ctx, h->attn_proj_w, h->attn_proj_b, n, C, C);

      attn_layernorm_forward (s->a, NULL, NULL, s->x, h->ln_2_w, h->ln_2_b,
                              n, C, c->eps);
      conv1d (s->fc, s->a, h->fc_w, F, h->fc_b, n, C, F);
      attn_gelu_forward (s->fc, s->fc, (gsize) n * F, ATTN_GELU_TANH);
      conv1d_add (s->x, s->fc, h->mlp_proj_w, h->mlp_proj_b, n, F, C);
      if (layer_done != NULL)
        layer_done (l + 1, data);
    }

  if (hidden != NULL)
    attn_layernorm_forward (hidden, NULL, NULL, s->x, m->w.ln_f_w,
                            m->w.ln_f_b, n, C, c->eps);
  s->n = p0 + n;
  return TRUE;
}

gboolean
attn_gpt2_state_feed (AttnGpt2State *s, const int *ids, int n,
                      float *const *att, int ld, float *hidden,
                      GCancellable *cancellable, GError **error)
{
  return feed (s, ids, n, att, ld, hidden, cancellable, NULL, NULL, error);
}

void
attn_gpt2_logits (const AttnGpt2 *m, const float *hidden, int n,
                  float *logits)
{
  /* logits (n, V), hidden (n, C), lm_head (V, C) */
  const int C = m->config.C, V = m->config.V;
  attn_check (hidden != NULL && logits != NULL && n >= 1);
  if (n == 1)
    cblas_sgemv (CblasRowMajor, CblasNoTrans, V, C, 1.0f, m->w.lm_head, C,
                 hidden, 1, 0.0f, logits, 1);
  else
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, V, C, 1.0f,
                 hidden, C, m->w.lm_head, C, 0.0f, logits, V);
}

/* ---- choosing tokens ----------------------------------------------------- */

typedef struct {
  int id;
  double p;
} Cand;

static int
cand_desc (gconstpointer a, gconstpointer b)
{
  const Cand *x = a, *y = b;
  if (x->p != y->p)
    return x->p > y->p ? -1 : 1;
  return x->id - y->id;
}

static int
argmax (const float *x, int V)
{
  int best = 0;
  for (int i = 1; i < V; i++)
    if (x[i] > x[best])
      best = i;
  return best;
}

int
attn_gpt2_choose (const float *logits, int V,
                  const AttnGpt2RunOptions *o, GRand *rng)
{
  if (o->temperature <= 0.0f)
    return argmax (logits, V);

  g_autofree Cand *cand = g_new (Cand, V);
  const double inv_t = 1.0 / o->temperature;
  const float maxv = logits[argmax (logits, V)];
  for (int i = 0; i < V; i++)
    {
      cand[i].id = i;
      cand[i].p = exp (((double) logits[i] - maxv) * inv_t);
    }
  qsort (cand, V, sizeof (Cand), cand_desc);
  int keep = o->top_k > 0 ? MIN (o->top_k, V) : V;
  double total = 0.0;
  for (int i = 0; i < keep; i++)
    total += cand[i].p;
  if (o->top_p < 1.0f)
    {
      /* The smallest prefix whose probability reaches top_p (at least one
       * token), as Hugging Face's TopPLogitsWarper. */
      double cum = 0.0;
      int n = 0;
      while (n < keep)
        {
          cum += cand[n].p / total;
          n++;
          if (cum >= o->top_p)
            break;
        }
      keep = n;
      total = 0.0;
      for (int i = 0; i < keep; i++)
        total += cand[i].p;
    }
  double r = g_rand_double (rng) * total;
  for (int i = 0; i < keep; i++)
    {
      r -= cand[i].p;
      if (r < 0.0)
        return cand[i].id;
    }
  return cand[keep - 1].id;
}

/* The step at one position: emitted id with the model's probability
 * (softmax at temperature 1) and the n_top most probable. */
typedef struct {
  int id;
  float prob;
  int n_top;
  int top_id[ATTN_STEP_MAX_TOP];
  float top_prob[ATTN_STEP_MAX_TOP];
} StepInfo;

static void
step_info (const float *logits, int V, int emitted, int n_top,
           StepInfo *out)
{
  const float maxv = logits[argmax (logits, V)];
  double sum = 0.0;
  for (int i = 0; i < V; i++)
    sum += expf (logits[i] - maxv);
  /* The n_top largest by insertion; ties keep the lower id first. */
  int k = 0;
  for (int i = 0; i < V; i++)
    {
      if (k == n_top && logits[i] <= logits[out->top_id[k - 1]])
        continue;
      int j = k < n_top ? k++ : k - 1;
      while (j > 0 && logits[out->top_id[j - 1]] < logits[i])
        {
          out->top_id[j] = out->top_id[j - 1];
          j--;
        }
      out->top_id[j] = i;
    }
  out->n_top = k;
  for (int j = 0; j < k; j++)
    out->top_prob[j] = (float) (expf (logits[out->top_id[j]] - maxv) / sum);
  out->id = emitted;
  out->prob = (float) (expf (logits[emitted] - maxv) / sum);
}

/* ---- runs ---------------------------------------------------------------- */

/* What a run computed, before its tokens get texts. */
typedef struct {
  int T;          /* prompt + generated */
  int *ids;       /* (T) */
  StepInfo *steps; /* (T) */
} RunResult;

static void
run_result_clear (RunResult *r)
{
  g_free (r->ids);
  g_free (r->steps);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (RunResult, run_result_clear)

/* Bytes of logits computed at once for the prompt's steps: the output
 * layer of a whole long prompt at once would be T x V floats, and each
 * sgemm call packs all of lm_head (V x C, 154 MB for GPT-2 small) again, so
 * the chunks are as large as this allows (333 rows of GPT-2's vocabulary;
 * 64-row chunks doubled the whole run's time at T = 128). */
#define LOGIT_CHUNK_BYTES ((gsize) 64 << 20)

static gboolean
check_run (AttnGpt2 *m, int n, const AttnGpt2RunOptions *o, GError **error)
{
  const AttnGpt2Config *c = &m->config;
  if (o->n_top < 1 || o->n_top > ATTN_STEP_MAX_TOP || o->n_generate < 0
      || o->top_k < 0 || !(o->top_p > 0.0f)
      || !isfinite (o->temperature))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "%s: bad run options (n_top %d in 1..%d, n_generate %d "
                   ">= 0, top_k %d >= 0, top_p %g > 0)", m->name, o->n_top,
                   ATTN_STEP_MAX_TOP, o->n_generate, o->top_k, o->top_p);
      return FALSE;
    }
  if (n < 1)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "%s: nothing to run: the text has no tokens", m->name);
      return FALSE;
    }
  if ((gint64) n + o->n_generate > c->n_positions)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "%s: %d tokens%s exceed the model's %d positions "
                   "(n_positions)", m->name, n + o->n_generate,
                   o->n_generate > 0 ? " with the generated ones" : "",
                   c->n_positions);
      return FALSE;
    }
  guint64 bytes = attn_gpt2_trace_bytes (c, n + o->n_generate);
  if (o->max_trace_bytes > 0 && bytes > o->max_trace_bytes)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "%s: the attention of %d tokens would take %.1f MB "
                   "(%d layers x %d heads x %d x %d x 4 bytes), above the "
                   "limit of %.1f MB", m->name, n + o->n_generate,
                   bytes / 1e6, c->L, c->NH, n + o->n_generate,
                   n + o->n_generate, o->max_trace_bytes / 1e6);
      return FALSE;
    }
  return TRUE;
}

/* A run's progress reports (AttnGpt2RunOptions.progress). */
typedef struct {
  const AttnGpt2RunOptions *o;
  AttnGpt2Progress p;
  int n; /* prompt tokens */
} Progress;

static void
progress_report (Progress *pr)
{
  if (pr->o->progress == NULL)
    return;
  AttnGpt2Progress *p = &pr->p;
  double done = (double) p->layers_done * pr->n
                + (double) p->generated * p->n_layers;
  double total = (double) p->n_layers * (pr->n + p->n_generate);
  p->fraction = total > 0 ? MIN (done / total, 1.0) : 1.0;
  pr->o->progress (p, pr->o->progress_data);
}

static void
on_prompt_layer (int layers_done, gpointer data)
{
  Progress *pr = data;
  pr->p.layers_done = layers_done;
  progress_report (pr);
}

/* TRUE when generation ends with the choice of next (the end-of-text
 * token, unless the options ignore it). */
static gboolean
is_stop (const AttnGpt2 *m, const AttnGpt2RunOptions *o, int next)
{
  return !o->ignore_eos && m->config.eos_id >= 0 && next == m->config.eos_id;
}

/* Fills att[l] (NH, T, T) for T = n + n_generate and r; r->T is less when
 * generation stopped at the end-of-text token (rows and columns from r->T
 * on are then left 0). */
static gboolean
run_core (AttnGpt2 *m, const int *prompt, int n,
          const AttnGpt2RunOptions *o, float *const *att, RunResult *r,
          GError **error)
{
  const AttnGpt2Config *c = &m->config;
  const int T = n + o->n_generate, C = c->C, V = c->V;
  r->T = T;
  r->ids = g_new (int, T);
  r->steps = g_new0 (StepInfo, T);
  memcpy (r->ids, prompt, (gsize) n * sizeof (int));
  Progress pr = {
    .o = o,
    .p = { .n_layers = c->L, .n_generate = o->n_generate },
    .n = n,
  };

  g_autoptr (AttnGpt2State) s = attn_gpt2_state_new (m, T, error);
  if (s == NULL)
    return FALSE;
  g_autofree float *hidden = g_try_new (float, (gsize) n * C); /* (n, C) */
  const int chunk = (int) CLAMP (LOGIT_CHUNK_BYTES / ((gsize) V * 4), 1,
                                 (gsize) n);
  g_autofree float *logits = g_try_new (float, (gsize) chunk * V);
  if (hidden == NULL || logits == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "%s: cannot allocate the output layer of %d tokens",
                   m->name, n);
      return FALSE;
    }
  if (!feed (s, prompt, n, att, T, hidden, o->cancellable, on_prompt_layer,
             &pr, error))
    return FALSE;

  g_autoptr (GRand) rng = g_rand_new_with_seed (o->seed);
  gboolean stopped = FALSE;
  /* The prompt's steps: each position's probability of the next prompt
   * token; the last position's logits choose the first new token. */
  for (int p0 = 0; p0 < n; p0 += chunk)
    {
      int rows = MIN (chunk, n - p0);
      attn_gpt2_logits (m, hidden + (gsize) p0 * C, rows, logits);
      for (int i = 0; i < rows; i++)
        {
          int p = p0 + i;
          const float *row = logits + (gsize) i * V; /* (V) */
          int next = p + 1 < n ? prompt[p + 1]
                               : attn_gpt2_choose (row, V, o, rng);
          if (p + 1 == n && is_stop (m, o, next))
            stopped = TRUE;
          else if (p + 1 < T)
            r->ids[p + 1] = next;
          step_info (row, V, next, o->n_top, &r->steps[p]);
        }
    }
  if (stopped)
    {
      r->T = n;
      return TRUE;
    }
  /* Generation: each new token is fed alone through the cache; its row of
   * every block lands at its position. */
  for (int p = n; p < T; p++)
    {
      if (!attn_gpt2_state_feed (s, &r->ids[p], 1, att, T, hidden,
                                 o->cancellable, error))
        return FALSE;
      attn_gpt2_logits (m, hidden, 1, logits);
      int next = attn_gpt2_choose (logits, V, o, rng);
      step_info (logits, V, next, o->n_top, &r->steps[p]);
      pr.p.generated = p - n + 1;
      progress_report (&pr);
      if (is_stop (m, o, next))
        {
          r->T = p + 1;
          return TRUE;
        }
      if (p + 1 < T)
        r->ids[p + 1] = next;
    }
  return TRUE;
}

/* Adds blocks, runs, and fills the steps; tokens are the caller's. */
static AttnTrace *
run_into_trace (AttnGpt2 *m, const int *ids, int n,
                const AttnGpt2RunOptions *o, RunResult *r, GError **error)
{
  const AttnGpt2Config *c = &m->config;
  for (int i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= c->V)
      {
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                     "%s: token id %d at position %d is outside the "
                     "vocabulary (%d ids)", m->name, ids[i], i, c->V);
        return NULL;
      }
  if (!check_run (m, n, o, error))
    return NULL;
  const int T = n + o->n_generate;
  g_autoptr (AttnTrace) trace = attn_trace_new (
      m->name, "gpt2", ATTN_MECHANISM_SCALED_DOT_PRODUCT, c->L, c->NH);
  g_autofree float **att = g_new (float *, c->L);
  for (int l = 0; l < c->L; l++)
    att[l] = attn_trace_add_block (trace, ATTN_KIND_DECODER_SELF, l, c->NH,
                                   T, T)
               ->weights;
  if (!run_core (m, ids, n, o, att, r, error))
    return NULL;
  if (r->T < T)
    for (guint i = 0; i < trace->blocks->len; i++)
      attn_block_crop (g_ptr_array_index (trace->blocks, i), r->T, r->T);
  return g_steal_pointer (&trace);
}

static void
add_steps (AttnGpt2 *m, AttnTrace *trace, const RunResult *r)
{
  for (int p = 0; p < r->T; p++)
    {
      const StepInfo *si = &r->steps[p];
      g_autofree char *text = token_label (m, si->id);
      AttnStep *step = attn_trace_add_step (trace, si->id, text, si->prob);
      for (int k = 0; k < si->n_top; k++)
        {
          g_autofree char *t = token_label (m, si->top_id[k]);
          attn_step_add_top (step, si->top_id[k], t, si->top_prob[k]);
        }
    }
}

AttnTrace *
attn_gpt2_run_ids (AttnGpt2 *m, const int *ids, int n,
                   const AttnGpt2RunOptions *o, GError **error)
{
  g_auto (RunResult) r = { 0 };
  g_autoptr (AttnTrace) trace = run_into_trace (m, ids, n, o, &r, error);
  if (trace == NULL)
    return NULL;
  if (!add_tokens (m, trace, r.ids, r.T, error))
    return NULL;
  add_steps (m, trace, &r);
  return g_steal_pointer (&trace);
}

AttnTrace *
attn_gpt2_run (AttnGpt2 *m, const char *text, const AttnGpt2RunOptions *o,
               GError **error)
{
  g_autofree int *ids = NULL;
  int n = 0;
  if (!encode (m, text, &ids, &n, error))
    return NULL;
  g_auto (RunResult) r = { 0 };
  g_autoptr (AttnTrace) trace = run_into_trace (m, ids, n, o, &r, error);
  if (trace == NULL)
    return NULL;
  if (!add_tokens (m, trace, r.ids, r.T, error))
    return NULL;
  add_steps (m, trace, &r);
  return g_steal_pointer (&trace);
}
