/* attn-model.c: what every built-in model shares: creation, model files,
 * decoding (greedy and beam search) and the trace of a run. The
 * architectures live in attn-transformer.c and attn-rnn.c; the config's
 * JSON in attn-model-config.c. */
#include "core/attn-model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "core/attn-json.h"
#include "core/attn-safetensors.h"

#define FORMAT_VERSION "1"
#define KEY_VERSION "attnscope.format_version"
#define KEY_CONFIG "attnscope.config"
#define KEY_VOCAB "attnscope.vocab"
#define KEY_CARD "attnscope.card"

/* 1 GiB of float32 parameters: far beyond a built-in model, and refused
 * before a malformed config can ask for an absurd allocation. */
#define MAX_PARAMS ((gsize) 1 << 28)

static const AttnModelClass *
class_of (AttnArch arch)
{
  switch (arch)
    {
    case ATTN_ARCH_TRANSFORMER:
      return &attn_transformer_class;
    case ATTN_ARCH_RNN:
      return &attn_rnn_class;
    }
  attn_check (!"unknown architecture");
  return NULL;
}

/* ---- creation ---------------------------------------------------------- */

/* A model with zeroed parameters; takes vocab (freeing it on failure).
 * Errors: INVALID_ARGUMENT for a bad config or vocabulary size, TOO_LARGE. */
static AttnModel *
model_alloc (const char *name, const AttnModelConfig *config,
             AttnVocab *vocab, GError **error)
{
  g_autoptr (AttnVocab) owned_vocab = vocab;
  if (!attn_model_config_validate (config, error))
    return NULL;
  if (attn_vocab_size (vocab) != config->V)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "the vocabulary has %d symbols but the config's "
                   "“vocab_size” (V) is %d", attn_vocab_size (vocab),
                   config->V);
      return NULL;
    }
  const AttnModelClass *klass = class_of (config->arch);
  guint n = 0;
  g_autofree AttnTensorSpec *specs = klass->param_specs (config, &n);
  gsize total = 0;
  for (guint i = 0; i < n; i++)
    {
      gsize numel = attn_shape_numel (specs[i].ndim, specs[i].shape,
                                      MAX_PARAMS, NULL);
      if (numel == 0 && specs[i].ndim > 0)
        {
          /* Zero-sized tensors cannot occur in a valid config, so this is
           * an overflow or a single tensor past the limit. */
          total = MAX_PARAMS + 1;
          break;
        }
      total += numel;
      if (total > MAX_PARAMS)
        break;
    }
  if (total > MAX_PARAMS)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                   "a %s model of this config has more than %" G_GSIZE_FORMAT
                   " parameters", attn_arch_to_string (config->arch),
                   MAX_PARAMS);
      return NULL;
    }
  AttnTensorBlock *params = attn_tensor_block_new (specs, n, error);
  if (params == NULL)
    return NULL;

  AttnModel *model = g_new0 (AttnModel, 1);
  model->klass = klass;
  model->name = g_strdup (name);
  model->config = *config;
  model->vocab = g_steal_pointer (&owned_vocab);
  model->params = params;
  return model;
}

AttnModel *
attn_model_new (const char *name, const AttnModelConfig *config,
                AttnVocab *vocab, guint32 seed, GError **error)
{
  attn_check (name != NULL && g_utf8_validate (name, -1, NULL));
  AttnModel *model = model_alloc (name, config, vocab, error);
  if (model == NULL)
    return NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  model->klass->init_params (model, rng);
  return model;
}

void
attn_model_free (AttnModel *model)
{
  if (model == NULL)
    return;
  if (model->klass != NULL && model->klass->finalize != NULL)
    model->klass->finalize (model);
  g_free (model->name);
  attn_vocab_free (model->vocab);
  attn_tensor_block_free (model->params);
  attn_tensor_block_free (model->grads);
  g_free (model->card_json);
  g_free (model);
}

gboolean
attn_model_enable_training (AttnModel *model, GError **error)
{
  if (model->grads != NULL)
    return TRUE;
  AttnTensorBlock *p = model->params;
  g_autofree AttnTensorSpec *specs = g_new0 (AttnTensorSpec, MAX (p->n_tensors, 1));
  for (guint i = 0; i < p->n_tensors; i++)
    {
      specs[i].name = p->tensors[i].name;
      specs[i].ndim = p->tensors[i].ndim;
      memcpy (specs[i].shape, p->tensors[i].shape, sizeof specs[i].shape);
    }
  model->grads = attn_tensor_block_new (specs, p->n_tensors, error);
  return model->grads != NULL;
}

/* ---- the card ---------------------------------------------------------- */

/* Checks the types of the card's known members (docs/model-format.md);
 * *name gets its "name" (or NULL). INVALID_ARGUMENT naming the member. */
static gboolean
check_card (const char *json, char **name, GError **error)
{
  static const char *const strings[] = {
    "name", "task", "description", "architecture", "attention", "command",
    "created",
  };
  static const char *const counts[] = { "seed", "steps", "test_examples" };

  if (!attn_json_check_depth (json, -1, ATTN_JSON_MAX_DEPTH))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "arrays and objects nested deeper than %d levels",
                   ATTN_JSON_MAX_DEPTH);
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_data (parser, json, -1, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "not JSON: %s", local->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "not a JSON object");
      return FALSE;
    }
  JsonObject *obj = json_node_get_object (root);
  for (guint i = 0; i < G_N_ELEMENTS (strings); i++)
    {
      JsonNode *node = json_object_get_member (obj, strings[i]);
      if (node != NULL && (!JSON_NODE_HOLDS_VALUE (node)
                           || json_node_get_value_type (node) != G_TYPE_STRING))
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "member “%s” is not a string", strings[i]);
          return FALSE;
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      JsonNode *node = json_object_get_member (obj, counts[i]);
      if (node != NULL && (!JSON_NODE_HOLDS_VALUE (node)
                           || json_node_get_value_type (node) != G_TYPE_INT64
                           || json_node_get_int (node) < 0))
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "member “%s” is not an integer >= 0", counts[i]);
          return FALSE;
        }
    }
  static const struct {
    const char *name;
    double max;
  } numbers[] = { { "final_loss", INFINITY }, { "test_accuracy", 1.0 } };
  for (guint i = 0; i < G_N_ELEMENTS (numbers); i++)
    {
      JsonNode *node = json_object_get_member (obj, numbers[i].name);
      if (node == NULL)
        continue;
      double v = NAN;
      if (JSON_NODE_HOLDS_VALUE (node)
          && (json_node_get_value_type (node) == G_TYPE_DOUBLE
              || json_node_get_value_type (node) == G_TYPE_INT64))
        v = json_node_get_double (node);
      if (!(v >= 0.0 && v <= numbers[i].max) || !isfinite (v))
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "member “%s” is not a number in [0, %g]",
                       numbers[i].name, numbers[i].max);
          return FALSE;
        }
    }
  JsonNode *examples = json_object_get_member (obj, "examples");
  if (examples != NULL)
    {
      gboolean ok = JSON_NODE_HOLDS_ARRAY (examples);
      JsonArray *arr = ok ? json_node_get_array (examples) : NULL;
      for (guint i = 0; ok && i < json_array_get_length (arr); i++)
        {
          JsonNode *e = json_array_get_element (arr, i);
          ok = JSON_NODE_HOLDS_VALUE (e)
               && json_node_get_value_type (e) == G_TYPE_STRING;
        }
      if (!ok)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "member “examples” is not an array of strings");
          return FALSE;
        }
    }
  if (name != NULL)
    *name = g_strdup (json_object_get_string_member_with_default (obj, "name",
                                                                  NULL));
  return TRUE;
}

/* ---- model files ------------------------------------------------------- */

gboolean
attn_model_save (AttnModel *model, const char *path, GError **error)
{
  g_autofree char *default_card = NULL;
  const char *card = model->card_json;
  if (card == NULL)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, model->name);
      json_builder_end_object (b);
      g_autoptr (JsonNode) root = json_builder_get_root (b);
      default_card = json_to_string (root, FALSE);
      card = default_card;
    }
  else
    {
      g_autoptr (GError) local = NULL;
      if (!check_card (card, NULL, &local))
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                     "%s: not saved: the model's card is invalid: %s", path,
                     local->message);
          return FALSE;
        }
    }

  g_autofree char *config = attn_model_config_to_json (&model->config);
  g_autofree char *vocab = attn_vocab_to_json (model->vocab);
  g_autoptr (GHashTable) md = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (md, KEY_VERSION, FORMAT_VERSION);
  g_hash_table_insert (md, KEY_CONFIG, config);
  g_hash_table_insert (md, KEY_VOCAB, vocab);
  g_hash_table_insert (md, KEY_CARD, (char *) card);

  AttnTensorBlock *p = model->params;
  g_autofree AttnSafetensorsWriteSpec *specs
      = g_new0 (AttnSafetensorsWriteSpec, MAX (p->n_tensors, 1));
  for (guint i = 0; i < p->n_tensors; i++)
    {
      specs[i].name = p->tensors[i].name;
      specs[i].ndim = p->tensors[i].ndim;
      for (int d = 0; d < p->tensors[i].ndim; d++)
        specs[i].shape[d] = p->tensors[i].shape[d];
      specs[i].data = p->tensors[i].data;
    }
  return attn_safetensors_write (path, specs, p->n_tensors, md, error);
}

/* The metadata value of key, or NULL with an error naming the file. */
static const char *
required_metadata (AttnSafetensors *st, const char *key, GError **error)
{
  const char *value = attn_safetensors_get_metadata (st, key);
  if (value == NULL)
    g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                 "%s: the “%s” metadata is missing",
                 attn_safetensors_get_name (st), key);
  return value;
}

/* "dir/dates-transformer.safetensors" -> "dates-transformer" */
static char *
name_from_path (const char *path)
{
  char *base = g_path_get_basename (path);
  if (g_str_has_suffix (base, ".safetensors")
      && strlen (base) > strlen (".safetensors"))
    base[strlen (base) - strlen (".safetensors")] = '\0';
  return base;
}

/* The body of attn_model_load () on an opened file; path names the model
 * when its card does not. */
static AttnModel *
load_from_safetensors (AttnSafetensors *st, const char *path, GError **error)
{
  const char *file = attn_safetensors_get_name (st);

  const char *version = attn_safetensors_get_metadata (st, KEY_VERSION);
  if (version == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: not an Attnscope model file (no “%s” metadata)", file,
                   KEY_VERSION);
      return NULL;
    }
  if (strcmp (version, FORMAT_VERSION) != 0)
    {
      guint64 v = 0;
      if (g_ascii_string_to_unsigned (version, 10, 2, G_MAXUINT64, &v, NULL))
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                     "%s: model format version %s is newer than this program "
                     "reads (%s)", file, version, FORMAT_VERSION);
      else
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                     "%s: “%s” is “%s”, expected “%s”", file, KEY_VERSION,
                     version, FORMAT_VERSION);
      return NULL;
    }

  const char *config_json = required_metadata (st, KEY_CONFIG, error);
  if (config_json == NULL)
    return NULL;
  AttnModelConfig config;
  g_autoptr (GError) local = NULL;
  if (!attn_model_config_from_json (config_json, &config, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE, "%s: “%s”: %s",
                   file, KEY_CONFIG, local->message);
      return NULL;
    }

  const char *vocab_json = required_metadata (st, KEY_VOCAB, error);
  if (vocab_json == NULL)
    return NULL;
  g_autoptr (AttnVocab) vocab = attn_vocab_from_json (vocab_json, &local);
  if (vocab == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE, "%s: “%s”: %s",
                   file, KEY_VOCAB, local->message);
      return NULL;
    }
  if (attn_vocab_size (vocab) != config.V)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: the vocabulary has %d symbols but the config's "
                   "“vocab_size” is %d", file, attn_vocab_size (vocab),
                   config.V);
      return NULL;
    }

  const char *card = required_metadata (st, KEY_CARD, error);
  if (card == NULL)
    return NULL;
  g_autofree char *card_name = NULL;
  if (!check_card (card, &card_name, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE, "%s: “%s”: %s",
                   file, KEY_CARD, local->message);
      return NULL;
    }

  g_autofree char *name = card_name != NULL ? g_steal_pointer (&card_name)
                                            : name_from_path (path);
  g_autoptr (AttnModel) model = model_alloc (name, &config,
                                             g_steal_pointer (&vocab), &local);
  if (model == NULL)
    {
      g_set_error (error, ATTN_ERROR,
                   local->code == ATTN_ERROR_TOO_LARGE
                       ? ATTN_ERROR_TOO_LARGE : ATTN_ERROR_BAD_MODEL_FILE,
                   "%s: %s", file, local->message);
      return NULL;
    }
  model->card_json = g_strdup (card);

  AttnTensorBlock *p = model->params;
  for (guint i = 0; i < p->n_tensors; i++)
    {
      AttnTensor *t = &p->tensors[i];
      if (attn_safetensors_lookup (st, t->name) == NULL)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                       "%s: tensor “%s” of the %s model is missing", file,
                       t->name, attn_arch_to_string (config.arch));
          return NULL;
        }
      gsize shape[ATTN_SAFETENSORS_MAX_DIMS] = { 0 };
      memcpy (shape, t->shape, t->ndim * sizeof (gsize));
      g_auto (AttnSafetensorsF32) data = { 0 };
      if (!attn_safetensors_get_f32 (st, t->name, t->ndim, shape, &data,
                                     error))
        return NULL;
      for (gsize k = 0; k < data.numel; k++)
        if (!isfinite (data.data[k]))
          {
            g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                         "%s: tensor “%s” holds a non-finite value at "
                         "element %" G_GSIZE_FORMAT, file, t->name, k);
            return NULL;
          }
      if (data.numel > 0)
        memcpy (t->data, data.data, data.numel * sizeof (float));
    }
  guint n_file = attn_safetensors_get_n_tensors (st);
  for (guint i = 0; i < n_file; i++)
    {
      const AttnSafetensorsEntry *e = attn_safetensors_get_entry (st, i);
      if (attn_tensor_block_lookup (p, e->name) == NULL)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                       "%s: unexpected tensor “%s” (not part of a %s model "
                       "of this config)", file, e->name,
                       attn_arch_to_string (config.arch));
          return NULL;
        }
    }
  return g_steal_pointer (&model);
}

AttnModel *
attn_model_load (const char *path, GError **error)
{
  g_autoptr (AttnSafetensors) st = attn_safetensors_open (path, error);
  if (st == NULL)
    return NULL;
  return load_from_safetensors (st, path, error);
}

AttnModel *
attn_model_load_from_bytes (GBytes *bytes, const char *name, GError **error)
{
  g_autoptr (AttnSafetensors) st = attn_safetensors_new_from_bytes (bytes,
                                                                    name,
                                                                    error);
  if (st == NULL)
    return NULL;
  return load_from_safetensors (st, name, error);
}

/* ---- incremental decoding ---------------------------------------------- */

AttnDecodeState *
attn_decode_state_new (AttnModel *model, const int *src, int S)
{
  attn_check (model != NULL && src != NULL);
  attn_check (S >= 1 && S <= model->config.max_len);
  for (int i = 0; i < S; i++)
    attn_check (src[i] >= 0 && src[i] < model->config.V);
  const AttnModelClass *k = model->klass;
  if (k->encode == NULL)
    return NULL;
  attn_check (k->step != NULL && k->state_copy != NULL
              && k->state_free != NULL);
  AttnDecodeState *state = k->encode (model, src, S);
  attn_check (state != NULL && state->model == model && state->S == S
              && state->n_inputs == 0);
  return state;
}

void
attn_decode_state_step (AttnDecodeState *state, int token, float *logits)
{
  /* logits (V) */
  attn_check (state != NULL && logits != NULL);
  const AttnModelConfig *c = &state->model->config;
  attn_check (token >= 0 && token < c->V);
  attn_check (state->n_inputs < c->max_len);
  state->model->klass->step (state, token, logits);
  state->n_inputs++;
}

AttnDecodeState *
attn_decode_state_copy (const AttnDecodeState *state)
{
  attn_check (state != NULL);
  AttnDecodeState *copy = state->model->klass->state_copy (state);
  attn_check (copy != NULL && copy != state);
  *copy = *state;
  return copy;
}

void
attn_decode_state_free (AttnDecodeState *state)
{
  if (state != NULL)
    state->model->klass->state_free (state);
}

/* ---- decoding ---------------------------------------------------------- */

/* out (V) = log softmax of logits (V), in double so that summed
 * log-probabilities of long outputs keep their digits. FALSE when a logit
 * is not finite (a diverged model). */
static gboolean
log_softmax (const float *logits, int V, double *out)
{
  double max = -INFINITY;
  for (int j = 0; j < V; j++)
    {
      if (!isfinite (logits[j]))
        return FALSE;
      max = MAX (max, (double) logits[j]);
    }
  double sum = 0.0;
  for (int j = 0; j < V; j++)
    sum += exp ((double) logits[j] - max);
  double log_sum = log (sum);
  for (int j = 0; j < V; j++)
    out[j] = (double) logits[j] - max - log_sum;
  return TRUE;
}

/* ids (k) = the k largest of x (V), largest first; equal values in id
 * order, so that the first is the argmax a greedy decoder takes. */
static void
top_ids (const double *x, int V, int k, int *ids)
{
  int n = 0;
  for (int j = 0; j < V; j++)
    {
      if (n == k && !(x[j] > x[ids[n - 1]]))
        continue;
      int pos = n < k ? n++ : k - 1;
      while (pos > 0 && x[j] > x[ids[pos - 1]])
        {
          ids[pos] = ids[pos - 1];
          pos--;
        }
      ids[pos] = j;
    }
}

/* A partial hypothesis while decoding. */
typedef struct {
  GArray *tokens;    /* int, emitted ids */
  GArray *log_probs; /* float (n_tokens) */
  GArray *top_ids;   /* int (n_tokens, n_top) */
  GArray *top_probs; /* float (n_tokens, n_top) */
  double log_prob;
  double score;
  gboolean finished;
  AttnDecodeState *state; /* incremental decoding: has consumed <s> and
                           * every token but the last, which the beam's
                           * next step feeds; NULL otherwise, and once
                           * finished */
} Beam;

static Beam *
beam_new (void)
{
  Beam *b = g_new0 (Beam, 1);
  b->tokens = g_array_new (FALSE, FALSE, sizeof (int));
  b->log_probs = g_array_new (FALSE, FALSE, sizeof (float));
  b->top_ids = g_array_new (FALSE, FALSE, sizeof (int));
  b->top_probs = g_array_new (FALSE, FALSE, sizeof (float));
  return b;
}

static void
beam_free (gpointer data)
{
  Beam *b = data;
  g_array_unref (b->tokens);
  g_array_unref (b->log_probs);
  g_array_unref (b->top_ids);
  g_array_unref (b->top_probs);
  attn_decode_state_free (b->state);
  g_free (b);
}

static GArray *
array_copy (GArray *a)
{
  GArray *c = g_array_sized_new (FALSE, FALSE, g_array_get_element_size (a),
                                 a->len + 1);
  g_array_append_vals (c, a->data, a->len);
  return c;
}

/* b without its decoder state. */
static Beam *
beam_copy (const Beam *b)
{
  Beam *c = g_new0 (Beam, 1);
  c->tokens = array_copy (b->tokens);
  c->log_probs = array_copy (b->log_probs);
  c->top_ids = array_copy (b->top_ids);
  c->top_probs = array_copy (b->top_probs);
  c->log_prob = b->log_prob;
  c->score = b->score;
  c->finished = b->finished;
  return c;
}

/* What one decoder step saw for one beam. */
typedef struct {
  double *logp; /* (V) */
  int *best;    /* (n_best) token ids, most probable first */
} StepView;

typedef struct {
  AttnModel *model;
  const int *src; /* (S) */
  int S;
  int max_steps;
  int n_top;
  int beam_width;
  gboolean length_normalise;
  gboolean incremental; /* beams carry decoder states */
  int *tgt;       /* (max_len) decoder inputs */
  float *logits;  /* (max_len, V) */
} Decoder;

/* The first beam: nothing emitted; with the source encoded when
 * decoding incrementally. */
static Beam *
decoder_first_beam (Decoder *d)
{
  Beam *b = beam_new ();
  if (d->incremental)
    b->state = attn_decode_state_new (d->model, d->src, d->S);
  return b;
}

/* Runs the decoder on <s> + b's tokens (incrementally: feeds b's state
 * the one input it lacks); view->logp gets the log-softmax of the last
 * position, view->best its n_best most probable ids. */
static gboolean
decoder_step (Decoder *d, Beam *b, StepView *view, int n_best,
              GError **error)
{
  int V = d->model->config.V;
  int T = (int) b->tokens->len + 1;
  attn_check (T <= d->model->config.max_len);
  const float *last = d->logits + (gsize) (T - 1) * V; /* (V) */
  if (d->incremental)
    {
      attn_check (b->state != NULL && b->state->n_inputs == T - 1);
      int input = T == 1 ? ATTN_VOCAB_BOS
                         : g_array_index (b->tokens, int, T - 2);
      attn_decode_state_step (b->state, input, d->logits);
      last = d->logits;
    }
  else
    {
      d->tgt[0] = ATTN_VOCAB_BOS;
      /* Not at the first step: an empty GArray's data may be NULL, which
       * memcpy may not be given even for 0 bytes. */
      if (T > 1)
        memcpy (d->tgt + 1, b->tokens->data, (T - 1) * sizeof (int));
      d->model->klass->forward (d->model, d->src, d->S, d->tgt, T, d->logits,
                                NULL);
    }
  if (!log_softmax (last, V, view->logp))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_FAILED,
                   "model “%s” produced a non-finite logit at step %d",
                   d->model->name, T);
      return FALSE;
    }
  top_ids (view->logp, V, n_best, view->best);
  return TRUE;
}

static double
beam_score (const Decoder *d, double log_prob, int n_tokens)
{
  return d->length_normalise ? log_prob / n_tokens : log_prob;
}

/* b extended by id, with the step's alternatives from view. take_state:
 * the new beam takes b's decoder state (b's last use), else it gets a
 * copy; a finished beam needs none. */
static Beam *
beam_extend (const Decoder *d, Beam *b, const StepView *view, int id,
             gboolean take_state)
{
  Beam *c = beam_copy (b);
  if (b->state != NULL && id != ATTN_VOCAB_EOS)
    c->state = take_state ? g_steal_pointer (&b->state)
                          : attn_decode_state_copy (b->state);
  float lp = (float) view->logp[id];
  g_array_append_val (c->tokens, id);
  g_array_append_val (c->log_probs, lp);
  for (int i = 0; i < d->n_top; i++)
    {
      int alt = view->best[i];
      float p = (float) exp (view->logp[alt]);
      g_array_append_val (c->top_ids, alt);
      g_array_append_val (c->top_probs, p);
    }
  c->log_prob = b->log_prob + view->logp[id];
  c->score = beam_score (d, c->log_prob, (int) c->tokens->len);
  c->finished = id == ATTN_VOCAB_EOS;
  return c;
}

/* Greedy: the most probable token each step (ties: the lowest id). */
static Beam *
decode_greedy (Decoder *d, GError **error)
{
  int V = d->model->config.V;
  g_autofree double *logp = g_new (double, V);
  g_autofree int *best = g_new (int, MAX (d->n_top, 1));
  StepView view = { logp, best };
  Beam *b = decoder_first_beam (d);
  while ((int) b->tokens->len < d->max_steps && !b->finished)
    {
      if (!decoder_step (d, b, &view, MAX (d->n_top, 1), error))
        {
          beam_free (b);
          return NULL;
        }
      Beam *next = beam_extend (d, b, &view, best[0], TRUE);
      beam_free (b);
      b = next;
    }
  return b;
}

typedef struct {
  int parent; /* index into the current beams */
  int id;     /* token appended, or -1 to carry a finished beam over */
  double score;
  int order;  /* when the search met it: breaks ties */
} Candidate;

static int
compare_candidates (gconstpointer pa, gconstpointer pb)
{
  const Candidate *a = pa, *b = pb;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  return a->order - b->order;
}

/* Beam search as attn-model.h describes; the beams, best first. */
static GPtrArray *
decode_beam (Decoder *d, GError **error)
{
  int V = d->model->config.V;
  int W = d->beam_width;
  int n_best = MIN (MAX (W, d->n_top), V);
  g_autoptr (GPtrArray) beams = g_ptr_array_new_with_free_func (beam_free);
  g_ptr_array_add (beams, decoder_first_beam (d));
  g_autofree double *logp = g_new (double, (gsize) W * V);
  g_autofree int *uses = g_new (int, W);
  g_autofree int *best = g_new (int, (gsize) W * n_best);
  g_autofree StepView *views = g_new0 (StepView, W);
  g_autoptr (GArray) cands = g_array_new (FALSE, FALSE, sizeof (Candidate));

  for (int step = 0; step < d->max_steps; step++)
    {
      gboolean all_finished = TRUE;
      g_array_set_size (cands, 0);
      for (guint i = 0; i < beams->len; i++)
        {
          Beam *b = g_ptr_array_index (beams, i);
          if (b->finished)
            {
              Candidate c = { (int) i, -1, b->score, (int) cands->len };
              g_array_append_val (cands, c);
              continue;
            }
          all_finished = FALSE;
          views[i].logp = logp + (gsize) i * V;
          views[i].best = best + (gsize) i * n_best;
          if (!decoder_step (d, b, &views[i], n_best, error))
            return NULL;
          /* Only a beam's W best can survive: W others would beat any
           * further one of the same beam. */
          for (int k = 0; k < MIN (W, n_best); k++)
            {
              int id = views[i].best[k];
              double lp = b->log_prob + views[i].logp[id];
              Candidate c = { (int) i, id,
                              beam_score (d, lp, (int) b->tokens->len + 1),
                              (int) cands->len };
              g_array_append_val (cands, c);
            }
        }
      if (all_finished)
        break;
      g_array_sort (cands, compare_candidates);
      guint n_next = MIN (cands->len, (guint) W);
      /* The last kept extension of each beam that goes on (not by </s>)
       * takes its decoder state; the others copy it. */
      memset (uses, 0, W * sizeof (int));
      for (guint k = 0; k < n_next; k++)
        {
          const Candidate *c = &g_array_index (cands, Candidate, k);
          uses[c->parent] += c->id >= 0 && c->id != ATTN_VOCAB_EOS;
        }
      GPtrArray *next = g_ptr_array_new_with_free_func (beam_free);
      for (guint k = 0; k < n_next; k++)
        {
          const Candidate *c = &g_array_index (cands, Candidate, k);
          Beam *parent = g_ptr_array_index (beams, c->parent);
          if (c->id < 0)
            {
              g_ptr_array_add (next, beam_copy (parent));
              continue;
            }
          gboolean last_use = c->id != ATTN_VOCAB_EOS
                              && --uses[c->parent] == 0;
          g_ptr_array_add (next, beam_extend (d, parent, &views[c->parent],
                                              c->id, last_use));
        }
      g_ptr_array_unref (beams);
      beams = next;
    }
  /* Sorted already: each round keeps candidates in score order. */
  return g_steal_pointer (&beams);
}

/* Checks options against the model; *max_steps gets the effective limit. */
static gboolean
check_options (const AttnModel *model, const AttnRunOptions *o,
               int *max_steps, GError **error)
{
  int limit = model->config.max_len - 1;
  if (o->beam_width < 1 || o->beam_width > ATTN_MAX_BEAM_WIDTH)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "beam width %d is out of range (1 .. %d)", o->beam_width,
                   ATTN_MAX_BEAM_WIDTH);
      return FALSE;
    }
  if (o->max_steps < 0 || o->max_steps > limit)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "max steps %d is out of range (0 .. %d for model “%s”)",
                   o->max_steps, limit, model->name);
      return FALSE;
    }
  if (o->top_k < 0 || o->top_k > ATTN_STEP_MAX_TOP)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "top-k %d is out of range (0 .. %d)", o->top_k,
                   ATTN_STEP_MAX_TOP);
      return FALSE;
    }
  *max_steps = o->max_steps > 0 ? o->max_steps : limit;
  return TRUE;
}

static void
decoder_init (Decoder *d, AttnModel *model, const int *src, int S,
              const AttnRunOptions *o, int max_steps)
{
  const AttnModelConfig *c = &model->config;
  d->model = model;
  d->src = src;
  d->S = S;
  d->max_steps = max_steps;
  d->n_top = MIN (o->top_k, c->V);
  d->beam_width = o->beam_width;
  d->length_normalise = o->length_normalise;
  d->incremental = model->klass->encode != NULL && !o->recompute_prefix;
  d->tgt = g_new (int, c->max_len);
  d->logits = g_new (float, (gsize) c->max_len * c->V);
}

static void
decoder_clear (Decoder *d)
{
  g_free (d->tgt);
  g_free (d->logits);
}

static void
cross_shape (const AttnModel *model, int *n_layers, int *n_heads)
{
  gboolean tf = model->config.arch == ATTN_ARCH_TRANSFORMER;
  *n_layers = tf ? model->config.L_dec : 1;
  *n_heads = tf ? model->config.NH : 1;
}

/* The finished form of b; its cross rows from one teacher-forced forward
 * over its tokens, which (the decoders being causal) are the rows each step
 * computed. */
static AttnHypothesis *
hypothesis_from_beam (Decoder *d, const Beam *b)
{
  AttnModel *model = d->model;
  AttnHypothesis *h = g_new0 (AttnHypothesis, 1);
  int n = (int) b->tokens->len;
  h->n_tokens = n;
  h->tokens = g_memdup2 (b->tokens->data, n * sizeof (int));
  h->log_probs = g_memdup2 (b->log_probs->data, n * sizeof (float));
  h->log_prob = b->log_prob;
  h->score = b->score;
  h->finished = b->finished;
  h->n_top = d->n_top;
  h->top_ids = g_memdup2 (b->top_ids->data, b->top_ids->len * sizeof (int));
  h->top_probs = g_memdup2 (b->top_probs->data,
                            b->top_probs->len * sizeof (float));
  cross_shape (model, &h->n_layers, &h->n_heads);
  h->S = d->S;

  int L = h->n_layers, NH = h->n_heads, S = d->S;
  h->cross = g_new0 (float, (gsize) n * L * NH * S);
  d->tgt[0] = ATTN_VOCAB_BOS;
  memcpy (d->tgt + 1, b->tokens->data, (n - 1) * sizeof (int));
  g_autoptr (AttnTrace) scratch = attn_trace_new (model->name, "", 0, L, NH);
  model->klass->forward (model, d->src, S, d->tgt, n, d->logits, scratch);
  for (int l = 0; l < L; l++)
    {
      const AttnBlock *blk = attn_trace_lookup_block (scratch,
                                                      ATTN_KIND_CROSS, l);
      attn_check (blk != NULL && blk->n_heads == NH && blk->n_queries == n
                  && blk->n_keys == S);
      for (int hd = 0; hd < NH; hd++)
        for (int i = 0; i < n; i++)
          memcpy (h->cross + (((gsize) i * L + l) * NH + hd) * S,
                  blk->weights + ((gsize) hd * n + i) * S,
                  S * sizeof (float));
    }
  return h;
}

void
attn_hypothesis_free (AttnHypothesis *hyp)
{
  if (hyp == NULL)
    return;
  g_free (hyp->tokens);
  g_free (hyp->log_probs);
  g_free (hyp->top_ids);
  g_free (hyp->top_probs);
  g_free (hyp->cross);
  g_free (hyp);
}

static gboolean
check_source (const AttnModel *model, const int *src, int S, GError **error)
{
  if (S < 1 || S > model->config.max_len)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "a source of %d tokens is out of range (1 .. %d for model "
                   "“%s”)", S, model->config.max_len, model->name);
      return FALSE;
    }
  for (int i = 0; i < S; i++)
    attn_check (src[i] >= 0 && src[i] < model->config.V);
  return TRUE;
}

GPtrArray *
attn_model_beam_search (AttnModel *model, const int *src, int S,
                        const AttnRunOptions *options, GError **error)
{
  const AttnRunOptions defaults = ATTN_RUN_OPTIONS_INIT;
  const AttnRunOptions *o = options != NULL ? options : &defaults;
  int max_steps = 0;
  if (!check_options (model, o, &max_steps, error)
      || !check_source (model, src, S, error))
    return NULL;
  Decoder d = { 0 };
  decoder_init (&d, model, src, S, o, max_steps);
  g_autoptr (GPtrArray) beams = decode_beam (&d, error);
  GPtrArray *out = NULL;
  if (beams != NULL)
    {
      out = g_ptr_array_new_with_free_func (
          (GDestroyNotify) attn_hypothesis_free);
      for (guint i = 0; i < beams->len; i++)
        g_ptr_array_add (out, hypothesis_from_beam (
                                  &d, g_ptr_array_index (beams, i)));
    }
  decoder_clear (&d);
  return out;
}

/* ---- runs -------------------------------------------------------------- */

static const char *
architecture_name (AttnArch arch)
{
  return arch == ATTN_ARCH_TRANSFORMER ? "transformer-encoder-decoder"
                                       : "rnn-encoder-decoder";
}

/* src (S) = text's ids + </s>, refusing what the model cannot read. */
static int *
encode_source (AttnModel *model, const char *text, GArray *spans,
               GPtrArray *unknown, int *S, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  if (!attn_vocab_encode (model->vocab, text, ids, spans, unknown, error))
    return NULL;
  int limit = model->config.max_len - 1;
  if (ids->len > (guint) limit)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "the text is %u characters long; model “%s” reads at "
                   "most %d", ids->len, model->name, limit);
      return NULL;
    }
  int eos = ATTN_VOCAB_EOS;
  g_array_append_val (ids, eos);
  *S = (int) ids->len;
  return (int *) g_array_free (g_steal_pointer (&ids), FALSE);
}

AttnTrace *
attn_model_run (AttnModel *model, const char *text,
                const AttnRunOptions *options, GPtrArray *unknown,
                GError **error)
{
  const AttnRunOptions defaults = ATTN_RUN_OPTIONS_INIT;
  const AttnRunOptions *o = options != NULL ? options : &defaults;
  int max_steps = 0;
  if (!check_options (model, o, &max_steps, error))
    return NULL;
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (int));
  int S = 0;
  g_autofree int *src = encode_source (model, text, spans, unknown, &S,
                                       error);
  if (src == NULL)
    return NULL;

  Decoder d = { 0 };
  decoder_init (&d, model, src, S, o, max_steps);
  Beam *best = NULL;
  if (o->beam_width == 1)
    best = decode_greedy (&d, error);
  else
    {
      g_autoptr (GPtrArray) beams = decode_beam (&d, error);
      if (beams != NULL)
        best = g_ptr_array_steal_index (beams, 0);
    }
  if (best == NULL)
    {
      decoder_clear (&d);
      return NULL;
    }

  const AttnModelConfig *c = &model->config;
  int n_layers, n_heads;
  cross_shape (model, &n_layers, &n_heads);
  gboolean tf = c->arch == ATTN_ARCH_TRANSFORMER;
  g_autoptr (AttnTrace) trace = attn_trace_new (
      model->name, architecture_name (c->arch), c->attention,
      tf ? MAX (c->L_enc, c->L_dec) : 1, n_heads);

  /* Source: what the user typed, each character under its own id (<unk>
   * for unknown ones), then </s>. */
  attn_trace_set_text (trace, ATTN_SIDE_SOURCE, text);
  for (int i = 0; i < S - 1; i++)
    {
      int start = g_array_index (spans, int, 2 * i);
      int end = g_array_index (spans, int, 2 * i + 1);
      g_autofree char *ch = g_strndup (text + start, end - start);
      attn_trace_add_token (trace, ATTN_SIDE_SOURCE, ch, src[i], start, end,
                            FALSE);
    }
  attn_trace_add_token (trace, ATTN_SIDE_SOURCE,
                        attn_vocab_symbol (model->vocab, ATTN_VOCAB_EOS),
                        ATTN_VOCAB_EOS, -1, -1, TRUE);

  /* Target: <s> then the output; a final </s> is a step but no token, as
   * it is never fed back. */
  const int *out = (const int *) best->tokens->data;
  int n_out = (int) best->tokens->len - (best->finished ? 1 : 0);
  g_autofree char *target = attn_vocab_decode (model->vocab, out, n_out);
  attn_trace_set_text (trace, ATTN_SIDE_TARGET, target);
  attn_trace_add_token (trace, ATTN_SIDE_TARGET,
                        attn_vocab_symbol (model->vocab, ATTN_VOCAB_BOS),
                        ATTN_VOCAB_BOS, -1, -1, TRUE);
  int pos = 0;
  for (int i = 0; i < n_out; i++)
    {
      const char *sym = attn_vocab_symbol (model->vocab, out[i]);
      if (attn_vocab_is_special (out[i]))
        attn_trace_add_token (trace, ATTN_SIDE_TARGET, sym, out[i], -1, -1,
                              TRUE);
      else
        {
          int len = (int) strlen (sym);
          attn_trace_add_token (trace, ATTN_SIDE_TARGET, sym, out[i], pos,
                                pos + len, FALSE);
          pos += len;
        }
    }

  for (guint i = 0; i < best->tokens->len; i++)
    {
      int id = out[i];
      AttnStep *step = attn_trace_add_step (
          trace, id, attn_vocab_symbol (model->vocab, id),
          (float) exp (g_array_index (best->log_probs, float, i)));
      for (int k = 0; k < d.n_top; k++)
        {
          int alt = g_array_index (best->top_ids, int, i * d.n_top + k);
          attn_step_add_top (step, alt, attn_vocab_symbol (model->vocab, alt),
                             g_array_index (best->top_probs, float,
                                            i * d.n_top + k));
        }
    }

  d.tgt[0] = ATTN_VOCAB_BOS;
  memcpy (d.tgt + 1, out, n_out * sizeof (int));
  model->klass->forward (model, src, S, d.tgt, n_out + 1, d.logits, trace);
  beam_free (best);
  decoder_clear (&d);

  /* A model that diverged in training can yield NaN attention: say so here
   * rather than hand views a trace they cannot draw. */
  g_autoptr (GError) local = NULL;
  if (!attn_trace_validate (trace, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_FAILED,
                   "model “%s” produced an invalid trace: %s", model->name,
                   local->message);
      return NULL;
    }
  return g_steal_pointer (&trace);
}

char *
attn_model_translate (AttnModel *model, const char *text, GError **error)
{
  AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
  o.top_k = 0;
  int max_steps = 0;
  if (!check_options (model, &o, &max_steps, error))
    return NULL;
  int S = 0;
  g_autofree int *src = encode_source (model, text, NULL, NULL, &S, error);
  if (src == NULL)
    return NULL;
  Decoder d = { 0 };
  decoder_init (&d, model, src, S, &o, max_steps);
  Beam *b = decode_greedy (&d, error);
  decoder_clear (&d);
  if (b == NULL)
    return NULL;
  char *text_out = attn_vocab_decode (model->vocab, (int *) b->tokens->data,
                                      (int) b->tokens->len);
  beam_free (b);
  return text_out;
}
