/* attn-train.c: batches, evaluation, checkpoints and the training loop
 * (see attn-train.h for the determinism and checkpoint contracts). */
#include "core/attn-train.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "core/attn-error.h"
#include "core/attn-json.h"
#include "core/attn-safetensors.h"

/* Workers (threads) at most: far more than any machine this runs on has
 * cores to give a training run, and small enough for arrays on the stack. */
#define MAX_WORKERS 64

/* Seeds of the per-step generators (attn-train.h): the third word tells
 * the data generator from dropout's. */
#define STREAM_DATA 0
#define STREAM_DROPOUT 1
#define EVAL_SEED_TAG 0x6576616cu /* "eval" */

#define OPTIM_KEY "attnscope.optim"
#define OPTIM_FORMAT_VERSION 1

/* ---- batches ------------------------------------------------------------ */

AttnBatch *
attn_batch_new (int B, int S, int T)
{
  attn_check (B >= 1 && S >= 1 && T >= 1);
  AttnBatch *batch = g_new0 (AttnBatch, 1);
  batch->B = B;
  batch->S = S;
  batch->T = T;
  batch->src = g_new (int, (gsize) B * S);
  batch->tgt_in = g_new (int, (gsize) B * T);
  batch->tgt_out = g_new (int, (gsize) B * T);
  for (gsize i = 0; i < (gsize) B * S; i++)
    batch->src[i] = ATTN_VOCAB_PAD;
  for (gsize i = 0; i < (gsize) B * T; i++)
    {
      batch->tgt_in[i] = ATTN_VOCAB_PAD;
      batch->tgt_out[i] = -1;
    }
  return batch;
}

void
attn_batch_free (AttnBatch *batch)
{
  if (batch == NULL)
    return;
  g_free (batch->src);
  g_free (batch->tgt_in);
  g_free (batch->tgt_out);
  g_free (batch);
}

int
attn_batch_count_targets (const AttnBatch *batch)
{
  int n = 0;
  for (gsize i = 0; i < (gsize) batch->B * batch->T; i++)
    n += batch->tgt_out[i] >= 0;
  return n;
}

/* text's ids into a new array; unknown characters are an error here. */
static GArray *
encode_strict (const AttnVocab *vocab, const char *text, const char *side,
               int max_chars, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  if (!attn_vocab_encode (vocab, text, ids, NULL, unknown, error))
    return NULL;
  if (unknown->len > 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNKNOWN_TOKEN,
                   "%s “%s”: the character “%s” is not in the vocabulary",
                   side, text, (const char *) unknown->pdata[0]);
      return NULL;
    }
  if ((int) ids->len > max_chars)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT,
                   "%s “%s” has %u characters: the model takes at most %d",
                   side, text, ids->len, max_chars);
      return NULL;
    }
  return g_steal_pointer (&ids);
}

AttnBatch *
attn_batch_encode (const AttnVocab *vocab, const char *const *sources,
                   const char *const *targets, int B, int max_len,
                   GError **error)
{
  attn_check (B >= 1 && max_len >= 2);
  g_autoptr (GPtrArray) src_ids = g_ptr_array_new_with_free_func (
    (GDestroyNotify) g_array_unref);
  g_autoptr (GPtrArray) tgt_ids = g_ptr_array_new_with_free_func (
    (GDestroyNotify) g_array_unref);
  int S = 1, T = 1;
  for (int b = 0; b < B; b++)
    {
      GArray *s = encode_strict (vocab, sources[b], "source", max_len - 1,
                                 error);
      if (s == NULL)
        return NULL;
      g_ptr_array_add (src_ids, s);
      GArray *t = encode_strict (vocab, targets[b], "target", max_len - 1,
                                 error);
      if (t == NULL)
        return NULL;
      g_ptr_array_add (tgt_ids, t);
      S = MAX (S, (int) s->len + 1);
      T = MAX (T, (int) t->len + 1);
    }

  AttnBatch *batch = attn_batch_new (B, S, T);
  for (int b = 0; b < B; b++)
    {
      const GArray *s = src_ids->pdata[b];
      const GArray *t = tgt_ids->pdata[b];
      int *src = batch->src + (gsize) b * S;
      int *in = batch->tgt_in + (gsize) b * T;
      int *out = batch->tgt_out + (gsize) b * T;
      int ns = (int) s->len, nt = (int) t->len;
      memcpy (src, s->data, sizeof (int) * ns);
      src[ns] = ATTN_VOCAB_EOS;
      in[0] = ATTN_VOCAB_BOS;
      memcpy (in + 1, t->data, sizeof (int) * nt);
      memcpy (out, t->data, sizeof (int) * nt);
      out[nt] = ATTN_VOCAB_EOS;
    }
  return batch;
}

AttnBatch *
attn_batch_draw (AttnTask task, AttnSplit split, GRand *rng,
                 const AttnVocab *vocab, int B, int max_len, GError **error)
{
  g_autoptr (GPtrArray) sources = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) targets = g_ptr_array_new_with_free_func (g_free);
  for (int b = 0; b < B; b++)
    {
      char *source = NULL, *target = NULL;
      attn_task_example (task, split, rng, &source, &target, NULL);
      g_ptr_array_add (sources, source);
      g_ptr_array_add (targets, target);
    }
  return attn_batch_encode (vocab, (const char *const *) sources->pdata,
                            (const char *const *) targets->pdata, B, max_len,
                            error);
}

/* ---- models for a task ---------------------------------------------------- */

static void
update_max (const char *s, int *max)
{
  if (s != NULL)
    *max = MAX (*max, (int) g_utf8_strlen (s, -1));
}

void
attn_train_task_max_chars (AttnTask task, int *source, int *target)
{
  int ms = 0, mt = 0;
  switch (task)
    {
    case ATTN_TASK_DATES:
      {
        /* A length depends on the format, the month, the day and the
         * weekday, never on which year (always four digits, or two): every
         * day of one year the two-digit formats can write covers them. */
        GDate date;
        g_date_clear (&date, 1);
        g_date_set_dmy (&date, 1, G_DATE_JANUARY, 2000);
        for (int d = 0; d < 366; d++)
          {
            for (guint f = 0; f < attn_task_n_variants (task); f++)
              {
                g_autofree char *text = attn_task_date_text (f, &date);
                update_max (text, &ms);
              }
            g_date_add_days (&date, 1);
          }
        mt = 10; /* YYYY-MM-DD */
        break;
      }
    case ATTN_TASK_NUMBERS_TO_DIGITS:
    case ATTN_TASK_DIGITS_TO_WORDS:
      {
        int words = 0;
        for (guint n = 0; n <= ATTN_TASK_MAX_NUMBER; n++)
          for (guint s = 0; s < ATTN_NUMBER_STYLE_COUNT; s++)
            {
              g_autofree char *text = attn_task_number_text (s, n);
              /* digits-to-words targets are the canonical style only. */
              if (task == ATTN_TASK_NUMBERS_TO_DIGITS || s == ATTN_NUMBER_EN)
                update_max (text, &words);
            }
        int digits = 4;
        ms = task == ATTN_TASK_NUMBERS_TO_DIGITS ? words : digits;
        mt = task == ATTN_TASK_NUMBERS_TO_DIGITS ? digits : words;
        break;
      }
    case ATTN_TASK_REVERSE:
    case ATTN_TASK_SORT:
      ms = mt = ATTN_TASK_MAX_STRING;
      break;
    }
  *source = ms;
  *target = mt;
}

AttnModel *
attn_train_new_model (const char *name, AttnTask task,
                      const AttnModelConfig *config, guint32 seed,
                      GError **error)
{
  g_autoptr (GArray) chars = attn_task_charset (task);
  AttnVocab *vocab = attn_vocab_new_from_chars ((const gunichar *) chars->data,
                                                chars->len);
  AttnModelConfig c = *config;
  int ms, mt;
  attn_train_task_max_chars (task, &ms, &mt);
  c.V = attn_vocab_size (vocab);
  c.max_len = MAX (ms, mt) + 1;
  return attn_model_new (name, &c, vocab, seed, error);
}

/* A second model with the same configuration, vocabulary and parameters,
 * with its own workspace, so another thread can run it. */
static AttnModel *
model_replica (AttnModel *model, gboolean training, GError **error)
{
  g_autofree char *vocab_json = attn_vocab_to_json (model->vocab);
  AttnVocab *vocab = attn_vocab_from_json (vocab_json, error);
  if (vocab == NULL)
    return NULL;
  g_autoptr (AttnModel) copy = attn_model_new (model->name, &model->config,
                                               vocab, 0, error);
  if (copy == NULL)
    return NULL;
  attn_check (copy->params->n_floats == model->params->n_floats);
  memcpy (copy->params->memory, model->params->memory,
          sizeof (float) * model->params->n_floats);
  if (training && !attn_model_enable_training (copy, error))
    return NULL;
  return g_steal_pointer (&copy);
}

/* ---- workers -------------------------------------------------------------- */

typedef void (*WorkFunc) (int worker, gpointer data);

typedef struct {
  WorkFunc func;
  int worker;
  gpointer data;
} WorkItem;

static gpointer
work_thread (gpointer p)
{
  WorkItem *w = p;
  w->func (w->worker, w->data);
  return NULL;
}

/* Runs func (j, data) for j in [0, n), worker 0 in the calling thread, and
 * returns when all are done. */
static void
run_workers (int n, WorkFunc func, gpointer data)
{
  attn_check (n >= 1 && n <= MAX_WORKERS);
  WorkItem items[MAX_WORKERS];
  GThread *threads[MAX_WORKERS];
  for (int j = 1; j < n; j++)
    {
      items[j] = (WorkItem){ func, j, data };
      threads[j] = g_thread_new ("attn-train", work_thread, &items[j]);
    }
  func (0, data);
  for (int j = 1; j < n; j++)
    g_thread_join (threads[j]);
}

/* OpenBLAS runs one thread inside each worker while a trainer or an
 * evaluation runs, and gets its previous setting back after. */
static int
blas_single_begin (void)
{
  int previous = openblas_get_num_threads ();
  openblas_set_num_threads (1);
  return previous;
}

static void
blas_single_end (int previous)
{
  openblas_set_num_threads (previous);
}

/* ---- evaluation ------------------------------------------------------------ */

typedef struct {
  AttnModel *models[MAX_WORKERS];
  int n_workers;
  int n;
  char **sources;
  char **targets;
  GCancellable *cancellable;
  int exact[MAX_WORKERS];
  int tokens[MAX_WORKERS];
  int correct[MAX_WORKERS];
  GError *errors[MAX_WORKERS];
} EvalWork;

static int
argmax (const float *x, int n)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best])
      best = i;
  return best;
}

static void
eval_worker (int j, gpointer data)
{
  EvalWork *w = data;
  AttnModel *model = w->models[j];
  int V = model->config.V;
  g_autofree float *logits = g_new (float, (gsize) model->config.max_len * V);
  for (int i = j; i < w->n; i += w->n_workers)
    {
      if (g_cancellable_set_error_if_cancelled (w->cancellable,
                                                &w->errors[j]))
        return;
      g_autofree char *out = attn_model_translate (model, w->sources[i],
                                                   &w->errors[j]);
      if (out == NULL)
        return;
      w->exact[j] += strcmp (out, w->targets[i]) == 0;

      /* Token accuracy: one teacher-forced forward on this example. */
      g_autoptr (AttnBatch) b = attn_batch_encode (
        model->vocab, (const char *const *) &w->sources[i],
        (const char *const *) &w->targets[i], 1, model->config.max_len,
        &w->errors[j]);
      if (b == NULL)
        return;
      model->klass->forward (model, b->src, b->S, b->tgt_in, b->T, logits,
                             NULL);
      for (int t = 0; t < b->T; t++)
        {
          w->tokens[j]++;
          w->correct[j] += argmax (logits + (gsize) t * V, V) == b->tgt_out[t];
        }
    }
}

gboolean
attn_train_evaluate (AttnModel *model, AttnTask task, AttnSplit split, int n,
                     guint32 seed, int threads, GCancellable *cancellable,
                     AttnEvalResult *result, GError **error)
{
  attn_check (n >= 1 && threads >= 1);
  EvalWork w = { 0 };
  w.n = n;
  w.n_workers = MIN (MIN (threads, n), MAX_WORKERS);
  w.cancellable = cancellable;
  w.sources = g_new0 (char *, n + 1);
  w.targets = g_new0 (char *, n + 1);
  guint32 seeds[] = { EVAL_SEED_TAG, split, seed };
  g_autoptr (GRand) rng = g_rand_new_with_seed_array (seeds,
                                                      G_N_ELEMENTS (seeds));
  for (int i = 0; i < n; i++)
    attn_task_example (task, split, rng, &w.sources[i], &w.targets[i], NULL);

  gboolean ok = TRUE;
  w.models[0] = model;
  for (int j = 1; j < w.n_workers && ok; j++)
    {
      w.models[j] = model_replica (model, FALSE, error);
      ok = w.models[j] != NULL;
    }
  if (ok)
    {
      int blas = blas_single_begin ();
      run_workers (w.n_workers, eval_worker, &w);
      blas_single_end (blas);
    }

  int exact = 0, tokens = 0, correct = 0;
  for (int j = 0; j < w.n_workers; j++)
    {
      if (ok && w.errors[j] != NULL)
        {
          g_propagate_error (error, w.errors[j]);
          w.errors[j] = NULL;
          ok = FALSE;
        }
      g_clear_error (&w.errors[j]);
      exact += w.exact[j];
      tokens += w.tokens[j];
      correct += w.correct[j];
      if (j > 0)
        g_clear_pointer (&w.models[j], attn_model_free);
    }
  g_strfreev (w.sources);
  g_strfreev (w.targets);
  if (!ok)
    return FALSE;
  result->n = n;
  result->exact = exact;
  result->exact_match = (double) exact / n;
  result->token_accuracy = tokens > 0 ? (double) correct / tokens : 0.0;
  return TRUE;
}

/* ---- configuration ----------------------------------------------------------- */

void
attn_train_config_init (AttnTrainConfig *c, AttnTask task)
{
  *c = (AttnTrainConfig){
    .task = task,
    .steps = 3000,
    .batch = 64,
    .schedule = ATTN_LR_COSINE,
    .lr = 1e-3,
    .warmup = 200,
    .min_lr = 1e-5,
    .adam = (AttnAdamConfig) ATTN_ADAM_CONFIG_INIT,
    .clip = 1.0,
    .label_smoothing = 0.0,
    .seed = 1,
    .threads = 1,
    .eval_every = 500,
    .eval_examples = 200,
    .test_examples = 1000,
    .checkpoint_every = 1000,
    .probe_every = 0,
  };
}

void
attn_train_config_clear (AttnTrainConfig *c)
{
  g_clear_pointer (&c->probe_text, g_free);
  g_clear_pointer (&c->command, g_free);
}

void
attn_train_config_copy (AttnTrainConfig *dest, const AttnTrainConfig *src)
{
  *dest = *src;
  dest->probe_text = g_strdup (src->probe_text);
  dest->command = g_strdup (src->command);
}

static gboolean
bad_member (GError **error, const char *member, const char *rule)
{
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "training configuration: %s %s", member, rule);
  return FALSE;
}

gboolean
attn_train_config_validate (const AttnTrainConfig *c, GError **error)
{
  if ((guint) c->task >= ATTN_TASK_COUNT)
    return bad_member (error, "task", "is not a known task");
  /* Steps seed per-step generators with one 32-bit word. */
  if (c->steps < 1 || c->steps > G_MAXINT32)
    return bad_member (error, "steps", "must be 1 to 2147483647");
  if (c->batch < 1 || c->batch > 65536)
    return bad_member (error, "batch", "must be 1 to 65536");
  if ((guint) c->schedule > ATTN_LR_CONSTANT)
    return bad_member (error, "schedule", "is not a known schedule");
  if (!(c->lr > 0.0 && c->lr <= 10.0))
    return bad_member (error, "lr", "must be above 0 and at most 10");
  if (c->warmup < 0 || c->warmup > c->steps)
    return bad_member (error, "warmup", "must be 0 to steps");
  if (!(c->min_lr >= 0.0 && c->min_lr <= c->lr))
    return bad_member (error, "min_lr", "must be 0 to lr");
  if (!(c->adam.beta1 >= 0.0 && c->adam.beta1 < 1.0)
      || !(c->adam.beta2 >= 0.0 && c->adam.beta2 < 1.0))
    return bad_member (error, "beta1 and beta2", "must be in [0, 1)");
  if (!(c->adam.eps > 0.0 && c->adam.eps < 1.0))
    return bad_member (error, "eps", "must be in (0, 1)");
  if (!(c->adam.weight_decay >= 0.0 && c->adam.weight_decay < 1.0))
    return bad_member (error, "weight_decay", "must be in [0, 1)");
  if (!(c->clip >= 0.0 && isfinite (c->clip)))
    return bad_member (error, "clip", "must be 0 (none) or above");
  if (!(c->label_smoothing >= 0.0 && c->label_smoothing < 1.0))
    return bad_member (error, "label_smoothing", "must be in [0, 1)");
  if (c->threads < 1 || c->threads > MAX_WORKERS)
    return bad_member (error, "threads", "must be 1 to 64");
  if (c->eval_every < 0 || c->checkpoint_every < 0 || c->probe_every < 0)
    return bad_member (error, "eval_every, checkpoint_every and probe_every",
                       "must be 0 (never) or above");
  if (c->eval_examples < 1 || c->eval_examples > 1000000)
    return bad_member (error, "eval_examples", "must be 1 to 1000000");
  if (c->test_examples < 1 || c->test_examples > 1000000)
    return bad_member (error, "test_examples", "must be 1 to 1000000");
  if (c->probe_every > 0 && c->probe_text == NULL)
    return bad_member (error, "probe_every", "needs a probe_text");
  return TRUE;
}

/* ---- JSON output ----
 * Written by hand: json-glib 1.6 prints some doubles as invalid JSON
 * ("1e-08.0"). Doubles get 17 significant digits, so they read back
 * exactly. */

static void
json_string (GString *out, const char *s)
{
  if (s == NULL)
    {
      g_string_append (out, "null");
      return;
    }
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        g_string_append_printf (out, "\\%c", *p);
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else if (*p < 0x20 || *p == 0x7f)
        g_string_append_printf (out, "\\u%04x", *p);
      else
        g_string_append_c (out, (char) *p);
    }
  g_string_append_c (out, '"');
}

static void
json_key (GString *out, const char *key)
{
  if (out->len > 0 && out->str[out->len - 1] != '{')
    g_string_append_c (out, ',');
  json_string (out, key);
  g_string_append_c (out, ':');
}

static void
json_member_string (GString *out, const char *key, const char *value)
{
  json_key (out, key);
  json_string (out, value);
}

static void
json_member_int (GString *out, const char *key, gint64 value)
{
  json_key (out, key);
  g_string_append_printf (out, "%" G_GINT64_FORMAT, value);
}

static void
json_member_double (GString *out, const char *key, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  json_key (out, key);
  g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.17g", value));
}

static void
json_member_bool (GString *out, const char *key, gboolean value)
{
  json_key (out, key);
  g_string_append (out, value ? "true" : "false");
}

/* Appends a JSON object (already written) as a member. */
static void
json_member_raw (GString *out, const char *key, const char *json)
{
  json_key (out, key);
  g_string_append (out, json);
}

char *
attn_train_config_to_json (const AttnTrainConfig *c)
{
  GString *out = g_string_new ("{");
  json_member_string (out, "task", attn_task_name (c->task));
  json_member_int (out, "steps", c->steps);
  json_member_int (out, "batch", c->batch);
  json_member_string (out, "schedule",
                      attn_lr_schedule_to_string (c->schedule));
  json_member_double (out, "lr", c->lr);
  json_member_int (out, "warmup", c->warmup);
  json_member_double (out, "min_lr", c->min_lr);
  json_member_double (out, "beta1", c->adam.beta1);
  json_member_double (out, "beta2", c->adam.beta2);
  json_member_double (out, "eps", c->adam.eps);
  json_member_double (out, "weight_decay", c->adam.weight_decay);
  json_member_bool (out, "adamw", c->adam.decoupled);
  json_member_double (out, "clip", c->clip);
  json_member_double (out, "label_smoothing", c->label_smoothing);
  json_member_int (out, "seed", c->seed);
  json_member_int (out, "threads", c->threads);
  json_member_int (out, "eval_every", c->eval_every);
  json_member_int (out, "eval_examples", c->eval_examples);
  json_member_int (out, "test_examples", c->test_examples);
  json_member_int (out, "checkpoint_every", c->checkpoint_every);
  json_member_int (out, "probe_every", c->probe_every);
  json_member_string (out, "probe_text", c->probe_text);
  json_member_string (out, "command", c->command);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

typedef struct {
  JsonObject *obj;
  GError **error;
  gboolean ok;
} MemberReader;

static JsonNode *
reader_member (MemberReader *r, const char *name, GType type)
{
  if (!r->ok)
    return NULL;
  JsonNode *node = json_object_get_member (r->obj, name);
  gboolean fits = node != NULL && JSON_NODE_HOLDS_VALUE (node)
                  && (json_node_get_value_type (node) == type
                      || (type == G_TYPE_DOUBLE
                          && json_node_get_value_type (node) == G_TYPE_INT64));
  if (!fits)
    {
      r->ok = bad_member (r->error, name,
                          node == NULL ? "is missing" : "has the wrong type");
      return NULL;
    }
  return node;
}

static gint64
read_int (MemberReader *r, const char *name)
{
  JsonNode *node = reader_member (r, name, G_TYPE_INT64);
  return node != NULL ? json_node_get_int (node) : 0;
}

static double
read_double (MemberReader *r, const char *name)
{
  JsonNode *node = reader_member (r, name, G_TYPE_DOUBLE);
  return node != NULL ? json_node_get_double (node) : 0.0;
}

static char *
read_string_or_null (MemberReader *r, const char *name)
{
  if (!r->ok)
    return NULL;
  JsonNode *node = json_object_get_member (r->obj, name);
  if (node != NULL && JSON_NODE_HOLDS_NULL (node))
    return NULL;
  node = reader_member (r, name, G_TYPE_STRING);
  return node != NULL ? g_strdup (json_node_get_string (node)) : NULL;
}

static gboolean config_from_object (JsonObject *obj, AttnTrainConfig *config,
                                    GError **error);

gboolean
attn_train_config_from_json (const char *json, AttnTrainConfig *config,
                             GError **error)
{
  if (!attn_json_check_depth (json, -1, ATTN_JSON_MAX_DEPTH))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "training configuration: arrays and objects nested "
                   "deeper than %d levels", ATTN_JSON_MAX_DEPTH);
      return FALSE;
    }
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local = NULL;
  if (!json_parser_load_from_data (parser, json, -1, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "training configuration: not JSON: %s", local->message);
      return FALSE;
    }
  JsonNode *root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return bad_member (error, "the top level", "is not an object");
  return config_from_object (json_node_get_object (root), config, error);
}

static gboolean
config_from_object (JsonObject *obj, AttnTrainConfig *config, GError **error)
{
  MemberReader r = { obj, error, TRUE };
  AttnTrainConfig c;
  attn_train_config_init (&c, ATTN_TASK_DATES);
  g_autofree char *task = read_string_or_null (&r, "task");
  g_autofree char *schedule = read_string_or_null (&r, "schedule");
  c.steps = read_int (&r, "steps");
  c.batch = (int) read_int (&r, "batch");
  c.lr = read_double (&r, "lr");
  c.warmup = read_int (&r, "warmup");
  c.min_lr = read_double (&r, "min_lr");
  c.adam.beta1 = read_double (&r, "beta1");
  c.adam.beta2 = read_double (&r, "beta2");
  c.adam.eps = read_double (&r, "eps");
  c.adam.weight_decay = read_double (&r, "weight_decay");
  JsonNode *adamw = reader_member (&r, "adamw", G_TYPE_BOOLEAN);
  c.adam.decoupled = adamw != NULL && json_node_get_boolean (adamw);
  c.clip = read_double (&r, "clip");
  c.label_smoothing = read_double (&r, "label_smoothing");
  gint64 seed = read_int (&r, "seed");
  c.threads = (int) read_int (&r, "threads");
  c.eval_every = read_int (&r, "eval_every");
  c.eval_examples = (int) read_int (&r, "eval_examples");
  c.test_examples = (int) read_int (&r, "test_examples");
  c.checkpoint_every = read_int (&r, "checkpoint_every");
  c.probe_every = read_int (&r, "probe_every");
  c.probe_text = read_string_or_null (&r, "probe_text");
  c.command = read_string_or_null (&r, "command");
  if (r.ok && (task == NULL || !attn_task_from_name (task, &c.task, NULL)))
    r.ok = bad_member (error, "task", "is not a known task");
  if (r.ok
      && (schedule == NULL
          || !attn_lr_schedule_from_string (schedule, &c.schedule)))
    r.ok = bad_member (error, "schedule", "is not a known schedule");
  if (r.ok && (seed < 0 || seed > G_MAXUINT32))
    r.ok = bad_member (error, "seed", "must be 0 to 4294967295");
  c.seed = (guint32) seed;
  if (!r.ok || !attn_train_config_validate (&c, error))
    {
      attn_train_config_clear (&c);
      return FALSE;
    }
  *config = c;
  return TRUE;
}

/* ---- the trainer ------------------------------------------------------------- */

struct _AttnTrainer {
  AttnModel *model;
  AttnTrainConfig config;
  char *path;
  char *optim_path;
  AttnAdam *adam; /* its step is the trainer's */
  AttnModel *replicas[MAX_WORKERS]; /* [1, threads): made on first use */

  AttnTrainProgressFunc progress_func;
  gpointer progress_data;
  GDestroyNotify progress_destroy;
  GMainContext *context; /* where run_async delivers progress, or NULL */

  gboolean have_test;
  AttnEvalResult test;
  float last_loss; /* of the last step trained, for the card */
};

char *
attn_train_optim_path (const char *path)
{
  if (g_str_has_suffix (path, ".safetensors"))
    {
      g_autofree char *stem = g_strndup (path, strlen (path)
                                                 - strlen (".safetensors"));
      return g_strconcat (stem, ".optim.safetensors", NULL);
    }
  return g_strconcat (path, ".optim.safetensors", NULL);
}

static AttnTrainer *
trainer_new (AttnModel *model, const char *path)
{
  AttnTrainer *t = g_new0 (AttnTrainer, 1);
  t->model = model;
  t->path = g_strdup (path);
  t->optim_path = attn_train_optim_path (path);
  t->last_loss = NAN;
  return t;
}

AttnTrainer *
attn_trainer_new (AttnModel *model, const AttnTrainConfig *config,
                  const char *path, GError **error)
{
  if (!attn_train_config_validate (config, error))
    {
      attn_model_free (model);
      return NULL;
    }
  g_autoptr (AttnTrainer) t = trainer_new (model, path);
  attn_train_config_copy (&t->config, config);
  if (!attn_model_enable_training (model, error))
    return NULL;
  t->adam = attn_adam_new (model->params->n_floats, &config->adam);
  return g_steal_pointer (&t);
}

void
attn_trainer_free (AttnTrainer *t)
{
  if (t == NULL)
    return;
  for (int j = 0; j < MAX_WORKERS; j++)
    g_clear_pointer (&t->replicas[j], attn_model_free);
  if (t->progress_destroy != NULL)
    t->progress_destroy (t->progress_data);
  g_clear_pointer (&t->context, g_main_context_unref);
  attn_adam_free (t->adam);
  attn_train_config_clear (&t->config);
  attn_model_free (t->model);
  g_free (t->path);
  g_free (t->optim_path);
  g_free (t);
}

AttnModel *
attn_trainer_get_model (AttnTrainer *t)
{
  return t->model;
}

AttnTrainConfig *
attn_trainer_get_config (AttnTrainer *t)
{
  return &t->config;
}

gint64
attn_trainer_get_step (AttnTrainer *t)
{
  return t->adam->step;
}

const AttnEvalResult *
attn_trainer_get_test_result (AttnTrainer *t)
{
  return t->have_test ? &t->test : NULL;
}

void
attn_trainer_set_progress_func (AttnTrainer *t, AttnTrainProgressFunc func,
                                gpointer user_data, GDestroyNotify destroy)
{
  if (t->progress_destroy != NULL)
    t->progress_destroy (t->progress_data);
  t->progress_func = func;
  t->progress_data = user_data;
  t->progress_destroy = destroy;
}

/* ---- checkpoints -------------------------------------------------------------- */

static char *
params_hash (AttnModel *model)
{
  guint64 h = attn_fnv1a64 (model->params->memory,
                            sizeof (float) * model->params->n_floats);
  return g_strdup_printf ("%016" G_GINT64_MODIFIER "x", h);
}

static const char *
attention_name (const AttnModelConfig *c)
{
  return attn_mechanism_to_string (c->arch == ATTN_ARCH_TRANSFORMER
                                     ? ATTN_MECHANISM_SCALED_DOT_PRODUCT
                                     : c->attention);
}

/* The card of docs/model-format.md, plus "status" ("checkpoint" or
 * "final"), "test_token_accuracy" and "training" (the whole
 * configuration), which readers keep and ignore. */
static char *
card_json (AttnTrainer *t, gboolean final)
{
  const AttnTrainConfig *c = &t->config;
  GString *out = g_string_new ("{");
  json_member_string (out, "name", t->model->name);
  json_member_string (out, "task", attn_task_name (c->task));
  json_member_string (out, "architecture",
                      attn_arch_to_string (t->model->config.arch));
  json_member_string (out, "attention", attention_name (&t->model->config));
  if (c->command != NULL)
    json_member_string (out, "command", c->command);
  json_member_int (out, "seed", c->seed);
  json_member_int (out, "steps", t->adam->step);
  json_member_string (out, "status", final ? "final" : "checkpoint");
  if (t->adam->step > 0 && isfinite (t->last_loss))
    json_member_double (out, "final_loss", t->last_loss);
  if (final && t->have_test)
    {
      json_member_double (out, "test_accuracy", t->test.exact_match);
      json_member_int (out, "test_examples", t->test.n);
      json_member_double (out, "test_token_accuracy",
                          t->test.token_accuracy);
    }
  g_autofree char *training = attn_train_config_to_json (c);
  json_member_raw (out, "training", training);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* The model file first, then the sidecar that names its hash: a crash in
 * between leaves a usable model and a sidecar that resume refuses. */
static gboolean
save_checkpoint (AttnTrainer *t, gboolean final, GError **error)
{
  AttnModel *model = t->model;
  g_free (model->card_json);
  model->card_json = card_json (t, final);
  if (!attn_model_save (model, t->path, error))
    return FALSE;

  g_autofree char *hash = params_hash (model);
  g_autofree char *training = attn_train_config_to_json (&t->config);
  GString *out = g_string_new ("{");
  json_member_int (out, "format_version", OPTIM_FORMAT_VERSION);
  json_member_int (out, "step", t->adam->step);
  json_member_int (out, "n_floats", (gint64) t->adam->n);
  json_member_string (out, "params_fnv1a64", hash);
  json_member_raw (out, "training", training);
  g_string_append_c (out, '}');
  g_autofree char *optim_json = g_string_free (out, FALSE);

  g_autoptr (GHashTable) meta = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (meta, OPTIM_KEY, optim_json);
  AttnSafetensorsWriteSpec specs[2] = {
    { "adam.m", 1, { t->adam->n }, t->adam->m },
    { "adam.v", 1, { t->adam->n }, t->adam->v },
  };
  return attn_safetensors_write (t->optim_path, specs, 2, meta, error);
}

static gboolean
bad_sidecar (GError **error, const char *path, const char *problem)
{
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
               "%s: %s", path, problem);
  return FALSE;
}

static gboolean
load_optim_state (AttnTrainer *t, GError **error)
{
  g_autoptr (AttnSafetensors) st = attn_safetensors_open (t->optim_path,
                                                          error);
  if (st == NULL)
    return FALSE;
  const char *json = attn_safetensors_get_metadata (st, OPTIM_KEY);
  if (json == NULL)
    return bad_sidecar (error, t->optim_path,
                        "no “" OPTIM_KEY "” metadata: not an optimiser "
                        "state written by attnscope");
  g_autoptr (JsonNode) root = json_from_string (json, NULL);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return bad_sidecar (error, t->optim_path,
                        "“" OPTIM_KEY "” is not a JSON object");
  JsonObject *obj = json_node_get_object (root);
  JsonNode *version = json_object_get_member (obj, "format_version");
  JsonNode *step = json_object_get_member (obj, "step");
  JsonNode *n = json_object_get_member (obj, "n_floats");
  JsonNode *hash = json_object_get_member (obj, "params_fnv1a64");
  JsonNode *training = json_object_get_member (obj, "training");
  if (version == NULL || json_node_get_value_type (version) != G_TYPE_INT64
      || step == NULL || json_node_get_value_type (step) != G_TYPE_INT64
      || n == NULL || json_node_get_value_type (n) != G_TYPE_INT64
      || hash == NULL || json_node_get_value_type (hash) != G_TYPE_STRING
      || training == NULL || !JSON_NODE_HOLDS_OBJECT (training))
    return bad_sidecar (error, t->optim_path,
                        "“" OPTIM_KEY "” lacks format_version, step, "
                        "n_floats, params_fnv1a64 or training");
  if (json_node_get_int (version) != OPTIM_FORMAT_VERSION)
    return bad_sidecar (error, t->optim_path,
                        "unknown optimiser state format version");
  if (json_node_get_int (step) < 0 || json_node_get_int (step) > G_MAXINT32)
    return bad_sidecar (error, t->optim_path, "step out of range");
  gsize n_floats = t->model->params->n_floats;
  if (json_node_get_int (n) != (gint64) n_floats)
    return bad_sidecar (error, t->optim_path,
                        "its moments do not match the model's parameters");
  g_autofree char *have = params_hash (t->model);
  if (strcmp (have, json_node_get_string (hash)) != 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE,
                   "%s belongs to other parameters than %s (a checkpoint "
                   "interrupted between its two files?)", t->optim_path,
                   t->path);
      return FALSE;
    }
  GError *local = NULL;
  if (!config_from_object (json_node_get_object (training), &t->config,
                           &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE, "%s: %s",
                   t->optim_path, local->message);
      g_error_free (local);
      return FALSE;
    }

  t->adam = attn_adam_new (n_floats, &t->config.adam);
  t->adam->step = json_node_get_int (step);
  const gsize shape[1] = { n_floats };
  g_auto (AttnSafetensorsF32) m = { 0 };
  g_auto (AttnSafetensorsF32) v = { 0 };
  if (!attn_safetensors_get_f32 (st, "adam.m", 1, shape, &m, error)
      || !attn_safetensors_get_f32 (st, "adam.v", 1, shape, &v, error))
    return FALSE;
  memcpy (t->adam->m, m.data, sizeof (float) * n_floats);
  memcpy (t->adam->v, v.data, sizeof (float) * n_floats);
  return TRUE;
}

AttnTrainer *
attn_trainer_new_resume (const char *path, GError **error)
{
  AttnModel *model = attn_model_load (path, error);
  if (model == NULL)
    return NULL;
  g_autoptr (AttnTrainer) t = trainer_new (model, path);
  if (!load_optim_state (t, error)
      || !attn_model_enable_training (model, error))
    return NULL;
  return g_steal_pointer (&t);
}

/* ---- one step ------------------------------------------------------------------- */

typedef struct {
  AttnTrainer *trainer;
  const AttnBatch *batch;
  guint32 step;
  int n_workers;
  float loss[MAX_WORKERS];
  float acc[MAX_WORKERS];
  int tokens[MAX_WORKERS];
} StepWork;

static void
step_worker (int j, gpointer data)
{
  StepWork *w = data;
  AttnTrainer *t = w->trainer;
  AttnModel *model = j == 0 ? t->model : t->replicas[j];
  if (j > 0)
    memcpy (model->params->memory, t->model->params->memory,
            sizeof (float) * t->model->params->n_floats);
  attn_tensor_block_zero (model->grads);

  const AttnBatch *all = w->batch;
  int r0 = (int) ((gint64) all->B * j / w->n_workers);
  int r1 = (int) ((gint64) all->B * (j + 1) / w->n_workers);
  AttnBatch slice = {
    .B = r1 - r0, .S = all->S, .T = all->T,
    .src = all->src + (gsize) r0 * all->S,
    .tgt_in = all->tgt_in + (gsize) r0 * all->T,
    .tgt_out = all->tgt_out + (gsize) r0 * all->T,
  };
  guint32 seeds[] = { t->config.seed, w->step, STREAM_DROPOUT, (guint32) j };
  g_autoptr (GRand) rng = g_rand_new_with_seed_array (seeds,
                                                      G_N_ELEMENTS (seeds));
  w->tokens[j] = attn_batch_count_targets (&slice);
  w->loss[j] = model->klass->loss_and_grad (
    model, &slice, (float) t->config.label_smoothing, rng, &w->acc[j]);
}

static gboolean
ensure_replicas (AttnTrainer *t, int n_workers, GError **error)
{
  for (int j = 1; j < n_workers; j++)
    if (t->replicas[j] == NULL)
      {
        t->replicas[j] = model_replica (t->model, TRUE, error);
        if (t->replicas[j] == NULL)
          return FALSE;
      }
  return TRUE;
}

/* Update number t->adam->step + 1: fills loss, accuracy, lr and norm. */
static gboolean
train_step (AttnTrainer *t, AttnTrainProgress *p, GError **error)
{
  const AttnTrainConfig *c = &t->config;
  AttnModel *model = t->model;
  guint32 step = (guint32) (t->adam->step + 1);
  guint32 seeds[] = { c->seed, step, STREAM_DATA };
  g_autoptr (GRand) rng = g_rand_new_with_seed_array (seeds,
                                                      G_N_ELEMENTS (seeds));
  g_autoptr (AttnBatch) batch = attn_batch_draw (c->task, ATTN_SPLIT_TRAIN,
                                                 rng, model->vocab, c->batch,
                                                 model->config.max_len,
                                                 error);
  if (batch == NULL)
    return FALSE;

  StepWork w = { .trainer = t, .batch = batch, .step = step };
  w.n_workers = MIN (c->threads, c->batch);
  if (!ensure_replicas (t, w.n_workers, error))
    return FALSE;
  run_workers (w.n_workers, step_worker, &w);

  /* The batch's mean is the slices' means weighted by their token shares;
   * the gradients are combined in worker order. */
  int total = 0;
  for (int j = 0; j < w.n_workers; j++)
    total += w.tokens[j];
  float *grads = model->grads->memory; /* (n_floats) */
  gsize n = model->grads->n_floats;
  double loss = 0.0, acc = 0.0;
  for (int j = 0; j < w.n_workers; j++)
    {
      double share = (double) w.tokens[j] / total;
      loss += share * w.loss[j];
      acc += share * w.acc[j];
      if (w.n_workers == 1)
        break;
      float f = (float) share;
      if (j == 0)
        for (gsize i = 0; i < n; i++)
          grads[i] *= f;
      else
        {
          const float *g = t->replicas[j]->grads->memory; /* (n_floats) */
          for (gsize i = 0; i < n; i++)
            grads[i] += f * g[i];
        }
    }
  if (w.n_workers == 1)
    {
      loss = w.loss[0];
      acc = w.acc[0];
    }
  if (!isfinite (loss))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_FAILED,
                   "training diverged at step %u: the loss is %g (try a "
                   "lower learning rate or clipping)", step, loss);
      return FALSE;
    }

  AttnLrConfig lr_config = { c->schedule, c->lr, c->warmup, c->steps,
                             c->min_lr };
  p->lr = attn_lr_at (&lr_config, step);
  p->grad_norm = attn_clip_grad_norm (grads, n, c->clip);
  attn_adam_update (t->adam, model->params->memory, grads, p->lr);
  p->loss = t->last_loss = (float) loss;
  p->token_acc = (float) acc;
  return TRUE;
}

/* ---- progress ------------------------------------------------------------------ */

typedef struct {
  AttnTrainer *trainer;
  AttnTrainProgress progress;
} Delivery;

static void
delivery_free (gpointer data)
{
  Delivery *d = data;
  g_clear_pointer (&d->progress.probe, attn_trace_free);
  g_free (d);
}

static gboolean
deliver (gpointer data)
{
  Delivery *d = data;
  d->trainer->progress_func (&d->progress, d->trainer->progress_data);
  return G_SOURCE_REMOVE;
}

/* Hands p (and its probe) to the progress function: directly, or queued
 * to run_async's caller's context. */
static void
emit_progress (AttnTrainer *t, AttnTrainProgress *p)
{
  if (t->progress_func == NULL)
    {
      g_clear_pointer (&p->probe, attn_trace_free);
      return;
    }
  if (t->context == NULL)
    {
      t->progress_func (p, t->progress_data);
      g_clear_pointer (&p->probe, attn_trace_free);
      return;
    }
  Delivery *d = g_new (Delivery, 1);
  d->trainer = t;
  d->progress = *p;
  p->probe = NULL;
  /* Always queued (never run here, in the worker), in step order. */
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, deliver, d, delivery_free);
  g_source_set_static_name (source, "attn-train progress");
  g_source_attach (source, t->context);
  g_source_unref (source);
}

/* ---- the loop ---------------------------------------------------------------------- */

static AttnTrace *
run_probe (AttnTrainer *t, GError **error)
{
  AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
  return attn_model_run (t->model, t->config.probe_text, &options, NULL,
                         error);
}

static gboolean
cancelled (GCancellable *cancellable, AttnTrainer *t, gboolean saved,
           GError **error)
{
  if (!g_cancellable_is_cancelled (cancellable))
    return FALSE;
  if (!saved && !save_checkpoint (t, FALSE, error))
    return TRUE;
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_CANCELLED,
               "training stopped at step %" G_GINT64_FORMAT " of %"
               G_GINT64_FORMAT "; checkpoint %s", t->adam->step,
               t->config.steps, t->path);
  return TRUE;
}

/* attn_train_evaluate with the trainer's settings; a cancelled evaluation
 * stops training as a cancelled step does. */
static gboolean
evaluate (AttnTrainer *t, AttnSplit split, GCancellable *cancellable,
          AttnEvalResult *result, GError **error)
{
  const AttnTrainConfig *c = &t->config;
  GError *local = NULL;
  int n = split == ATTN_SPLIT_TEST ? c->test_examples : c->eval_examples;
  if (attn_train_evaluate (t->model, c->task, split, n, c->seed, c->threads,
                           cancellable, result, &local))
    return TRUE;
  if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (local);
      cancelled (cancellable, t, FALSE, error);
    }
  else
    g_propagate_error (error, local);
  return FALSE;
}

static gboolean
trainer_run (AttnTrainer *t, GCancellable *cancellable, GError **error)
{
  const AttnTrainConfig *c = &t->config;
  if (!attn_train_config_validate (c, error))
    return FALSE;
  t->have_test = FALSE;
  /* A probe that cannot run fails now, not after an hour. */
  if (c->probe_text != NULL)
    {
      g_autoptr (AttnTrace) check = run_probe (t, error);
      if (check == NULL)
        return FALSE;
    }

  gint64 begin = g_get_monotonic_time ();
  gint64 done = 0;
  gboolean saved = FALSE;
  while (t->adam->step < c->steps)
    {
      if (cancelled (cancellable, t, saved, error))
        return FALSE;
      AttnTrainProgress p = { 0 };
      if (!train_step (t, &p, error))
        return FALSE;
      done++;
      saved = FALSE;
      gint64 step = t->adam->step;
      p.step = step;
      p.steps = c->steps;
      double seconds = (g_get_monotonic_time () - begin) / 1e6;
      p.examples_per_s = seconds > 0 ? done * c->batch / seconds : 0.0;

      if (c->eval_every > 0 && step % c->eval_every == 0 && step < c->steps)
        {
          if (!evaluate (t, ATTN_SPLIT_VALIDATION, cancellable,
                         &p.validation, error))
            return FALSE;
          p.evaluated = TRUE;
        }
      if (c->probe_every > 0 && step % c->probe_every == 0)
        {
          p.probe = run_probe (t, error);
          if (p.probe == NULL)
            return FALSE;
        }
      if (c->checkpoint_every > 0 && step % c->checkpoint_every == 0
          && step < c->steps)
        {
          if (!save_checkpoint (t, FALSE, error))
            {
              g_clear_pointer (&p.probe, attn_trace_free);
              return FALSE;
            }
          p.checkpointed = saved = TRUE;
        }
      if (step < c->steps)
        emit_progress (t, &p);
      else
        {
          /* The last step: test, card, final files, then its progress. */
          if (!evaluate (t, ATTN_SPLIT_TEST, cancellable, &t->test, error))
            {
              g_clear_pointer (&p.probe, attn_trace_free);
              return FALSE;
            }
          t->have_test = TRUE;
          if (!save_checkpoint (t, TRUE, error))
            {
              g_clear_pointer (&p.probe, attn_trace_free);
              return FALSE;
            }
          p.final = p.checkpointed = TRUE;
          p.test = t->test;
          emit_progress (t, &p);
          return TRUE;
        }
    }

  /* Nothing left to train (a resumed run that had reached its steps):
   * the final evaluation, files and progress still follow. */
  if (!evaluate (t, ATTN_SPLIT_TEST, cancellable, &t->test, error))
    return FALSE;
  t->have_test = TRUE;
  if (!save_checkpoint (t, TRUE, error))
    return FALSE;
  AttnTrainProgress p = {
    .step = t->adam->step, .steps = c->steps, .loss = t->last_loss,
    .final = TRUE, .checkpointed = TRUE, .test = t->test,
  };
  emit_progress (t, &p);
  return TRUE;
}

gboolean
attn_trainer_run (AttnTrainer *t, GCancellable *cancellable, GError **error)
{
  int blas = blas_single_begin ();
  gboolean ok = trainer_run (t, cancellable, error);
  blas_single_end (blas);
  return ok;
}

static void
run_in_thread (GTask *task, gpointer source, gpointer data,
               GCancellable *cancellable)
{
  AttnTrainer *t = data;
  GError *error = NULL;
  if (attn_trainer_run (t, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
attn_trainer_run_async (AttnTrainer *t, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_clear_pointer (&t->context, g_main_context_unref);
  t->context = g_main_context_ref_thread_default ();
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback,
                                       user_data);
  g_task_set_source_tag (task, attn_trainer_run_async);
  g_task_set_task_data (task, t, NULL);
  /* Cancelling stops training cleanly (a checkpoint is written): the
   * result is what the worker returns, ATTN_ERROR_CANCELLED. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_run_in_thread (task, run_in_thread);
}

gboolean
attn_trainer_run_finish (AttnTrainer *t, GAsyncResult *result,
                         GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  gboolean ok = g_task_propagate_boolean (G_TASK (result), error);
  g_clear_pointer (&t->context, g_main_context_unref);
  return ok;
}
