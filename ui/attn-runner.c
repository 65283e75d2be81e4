/* attn-runner.c: debounced model runs in a worker thread (see the
 * header). */
#include "ui/attn-runner.h"

#include <string.h>

/* The model (a built-in one or a GPT-2, exactly one of the two), shared by
 * the runner and the run in flight: replacing the runner's model must not
 * free it under a worker still using it. */
typedef struct
{
  AttnModel *model;
  AttnGpt2 *gpt2;
} ModelBox;

static void
model_box_clear (gpointer data)
{
  ModelBox *box = data;
  g_clear_pointer (&box->model, attn_model_free);
  g_clear_pointer (&box->gpt2, attn_gpt2_free);
}

static ModelBox *
model_box_new (AttnModel *model, AttnGpt2 *gpt2)
{
  ModelBox *box = g_atomic_rc_box_new0 (ModelBox);
  box->model = model;
  box->gpt2 = gpt2;
  return box;
}

static void
model_box_unref (ModelBox *box)
{
  g_atomic_rc_box_release_full (box, model_box_clear);
}

struct _AttnRunner
{
  GObject parent_instance;

  ModelBox *box; /* NULL without a model */
  guint debounce_ms;
  guint debounce_id;
  guint64 generation; /* of the newest request */
  char *pending_text; /* waiting for the delay or the worker, or NULL */
  guint64 pending_generation;
  gboolean running;
  GCancellable *running_cancellable; /* of the run in flight */
};

G_DEFINE_FINAL_TYPE (AttnRunner, attn_runner, G_TYPE_OBJECT)

enum
{
  FINISHED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  ModelBox *box;
  gint64 started_us;
  guint64 generation;
  char *text;
  gboolean truncated;
  int max_chars;
  GCancellable *cancellable;
} Job;

static void
job_free (Job *job)
{
  g_clear_pointer (&job->box, model_box_unref);
  g_free (job->text);
  g_clear_object (&job->cancellable);
  g_free (job);
}

static void
run_result_free (AttnRunResult *result)
{
  g_free (result->text);
  g_clear_pointer (&result->trace, attn_trace_free);
  g_clear_pointer (&result->unknown, g_ptr_array_unref);
  g_clear_error (&result->error);
  g_free (result);
}

/* The longest input: characters for a built-in model (its source is the
 * characters and </s>), tokens for GPT-2 (its context). */
static int
max_chars_of (const ModelBox *box)
{
  if (box == NULL)
    return 0;
  if (box->gpt2 != NULL)
    return box->gpt2->config.n_positions;
  return MAX (box->model->config.max_len - 1, 0);
}

/* A GPT-2 token stands for at most this many characters in practice; text
 * beyond limit times this is cut before it is even encoded (a 100,000
 * character paste). */
#define GPT2_CHARS_PER_TOKEN_BOUND 16

/* Cuts text (in place) so that it encodes to at most limit tokens, at a
 * character boundary; TRUE when it cut. */
static gboolean
gpt2_fit (const AttnBpe *bpe, char *text, int limit)
{
  gboolean cut = FALSE;
  for (int round = 0; round < 8; round++)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
      g_autoptr (GArray) spans
          = g_array_new (FALSE, FALSE, sizeof (AttnBpeSpan));
      if (!attn_bpe_encode (bpe, text, 0, ids, spans, NULL)
          || ids->len <= (guint)limit)
        return cut;
      /* Where token `limit` starts, back to a character's first byte (a
       * byte-level token may start inside a character). */
      gsize end = g_array_index (spans, AttnBpeSpan, limit).start;
      while (end > 0 && ((guchar)text[end] & 0xC0) == 0x80)
        end--;
      text[end] = '\0';
      cut = TRUE;
    }
  return cut;
}

static void
run_in_thread (GTask *task, gpointer source, gpointer task_data,
               GCancellable *cancellable)
{
  Job *job = task_data;
  AttnRunResult *result = g_new0 (AttnRunResult, 1);
  result->generation = job->generation;
  result->text = g_strdup (job->text);
  result->truncated = job->truncated;
  result->max_chars = job->max_chars;
  result->started_us = job->started_us;
  result->unknown = g_ptr_array_new_with_free_func (g_free);

  gint64 start = g_get_monotonic_time ();
  if (job->box->gpt2 != NULL)
    {
      AttnGpt2 *gpt2 = job->box->gpt2;
      result->limit_in_tokens = TRUE;
      if (gpt2->bpe != NULL
          && gpt2_fit (gpt2->bpe, result->text, job->max_chars))
        result->truncated = TRUE;
      /* The prompt alone: its attention, and at each position what the
       * model predicts next. */
      AttnGpt2RunOptions options = ATTN_GPT2_RUN_OPTIONS_INIT;
      options.cancellable = job->cancellable;
      options.max_trace_bytes = ATTN_RUNNER_MAX_TRACE_BYTES;
      result->trace
          = attn_gpt2_run (gpt2, result->text, &options, &result->error);
    }
  else
    {
      AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
      result->trace = attn_model_run (job->box->model, job->text, &options,
                                      result->unknown, &result->error);
    }
  result->run_ms = (g_get_monotonic_time () - start) / 1000.0;
  g_task_return_pointer (task, result, (GDestroyNotify)run_result_free);
}

static void start_next (AttnRunner *self);

static void
on_run_done (GObject *source, GAsyncResult *res, gpointer data)
{
  AttnRunner *self = ATTN_RUNNER (source);
  AttnRunResult *result = g_task_propagate_pointer (G_TASK (res), NULL);
  self->running = FALSE;
  g_clear_object (&self->running_cancellable);
  if (result != NULL && result->generation == self->generation)
    {
      g_debug ("model run on %ld characters: %.1f ms",
               g_utf8_strlen (result->text, -1), result->run_ms);
      g_signal_emit (self, signals[FINISHED], 0, result);
    }
  g_clear_pointer (&result, run_result_free);
  if (self->debounce_id == 0)
    start_next (self);
}

static void
start_next (AttnRunner *self)
{
  if (self->running || self->pending_text == NULL || self->box == NULL)
    return;

  Job *job = g_new0 (Job, 1);
  job->started_us = g_get_monotonic_time ();
  job->box = g_atomic_rc_box_acquire (self->box);
  job->generation = self->pending_generation;
  job->max_chars = max_chars_of (self->box);
  job->cancellable = g_cancellable_new ();
  const char *text = self->pending_text;
  /* A GPT-2 text is cut to its tokens in the worker (encoding takes
   * time); here only what could never fit. */
  glong keep = self->box->gpt2 != NULL
                   ? (glong)job->max_chars * GPT2_CHARS_PER_TOKEN_BOUND
                   : job->max_chars;
  if (g_utf8_strlen (text, -1) > keep)
    {
      const char *end = g_utf8_offset_to_pointer (text, keep);
      job->text = g_strndup (text, end - text);
      job->truncated = TRUE;
    }
  else
    job->text = g_strdup (text);
  g_clear_pointer (&self->pending_text, g_free);

  self->running = TRUE;
  g_set_object (&self->running_cancellable, job->cancellable);
  g_autoptr (GTask) task = g_task_new (self, NULL, on_run_done, NULL);
  g_task_set_source_tag (task, start_next);
  g_task_set_task_data (task, job, (GDestroyNotify)job_free);
  g_task_run_in_thread (task, run_in_thread);
}

static gboolean
on_debounce (gpointer data)
{
  AttnRunner *self = data;
  self->debounce_id = 0;
  start_next (self);
  return G_SOURCE_REMOVE;
}

/* The run in flight will be dropped: a model that can stop early (GPT-2,
 * between layers) stops. */
static void
cancel_running (AttnRunner *self)
{
  if (self->running_cancellable != NULL)
    g_cancellable_cancel (self->running_cancellable);
}

static guint64
enqueue (AttnRunner *self, const char *text)
{
  g_return_val_if_fail (text != NULL, 0);
  cancel_running (self);
  self->generation++;
  g_free (self->pending_text);
  self->pending_text = g_strdup (text);
  self->pending_generation = self->generation;
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  return self->generation;
}

guint64
attn_runner_request (AttnRunner *self, const char *text)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), 0);
  guint64 generation = enqueue (self, text);
  self->debounce_id = g_timeout_add (self->debounce_ms, on_debounce, self);
  return generation;
}

guint64
attn_runner_run_now (AttnRunner *self, const char *text)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), 0);
  guint64 generation = enqueue (self, text);
  start_next (self);
  return generation;
}

void
attn_runner_cancel (AttnRunner *self)
{
  g_return_if_fail (ATTN_IS_RUNNER (self));
  cancel_running (self);
  self->generation++;
  g_clear_pointer (&self->pending_text, g_free);
  g_clear_handle_id (&self->debounce_id, g_source_remove);
}

guint64
attn_runner_get_generation (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), 0);
  return self->generation;
}

gboolean
attn_runner_is_busy (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), FALSE);
  return self->running || self->pending_text != NULL;
}

void
attn_runner_set_model (AttnRunner *self, AttnModel *model)
{
  g_return_if_fail (ATTN_IS_RUNNER (self));
  attn_runner_cancel (self);
  g_clear_pointer (&self->box, model_box_unref);
  if (model != NULL)
    self->box = model_box_new (model, NULL);
}

void
attn_runner_set_gpt2 (AttnRunner *self, AttnGpt2 *gpt2)
{
  g_return_if_fail (ATTN_IS_RUNNER (self));
  attn_runner_cancel (self);
  g_clear_pointer (&self->box, model_box_unref);
  if (gpt2 != NULL)
    self->box = model_box_new (NULL, gpt2);
}

gboolean
attn_runner_has_model (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), FALSE);
  return self->box != NULL;
}

const char *
attn_runner_get_model_name (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), NULL);
  if (self->box == NULL)
    return NULL;
  return self->box->gpt2 != NULL ? self->box->gpt2->name
                                 : self->box->model->name;
}

const char *
attn_runner_get_model_card (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), NULL);
  return self->box != NULL && self->box->model != NULL
             ? self->box->model->card_json
             : NULL;
}

int
attn_runner_get_max_chars (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), 0);
  return max_chars_of (self->box);
}

void
attn_runner_set_debounce (AttnRunner *self, guint ms)
{
  g_return_if_fail (ATTN_IS_RUNNER (self));
  self->debounce_ms = ms;
}

AttnRunner *
attn_runner_new (void)
{
  return g_object_new (ATTN_TYPE_RUNNER, NULL);
}

static void
attn_runner_dispose (GObject *object)
{
  AttnRunner *self = ATTN_RUNNER (object);
  g_clear_handle_id (&self->debounce_id, g_source_remove);
  g_clear_object (&self->running_cancellable);
  G_OBJECT_CLASS (attn_runner_parent_class)->dispose (object);
}

static void
attn_runner_finalize (GObject *object)
{
  AttnRunner *self = ATTN_RUNNER (object);
  g_clear_pointer (&self->box, model_box_unref);
  g_free (self->pending_text);
  G_OBJECT_CLASS (attn_runner_parent_class)->finalize (object);
}

static void
attn_runner_class_init (AttnRunnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = attn_runner_dispose;
  object_class->finalize = attn_runner_finalize;

  /* (AttnRunResult *result): the newest request's result. */
  signals[FINISHED]
      = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                      0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}

static void
attn_runner_init (AttnRunner *self)
{
  self->debounce_ms = ATTN_RUNNER_DEBOUNCE_MS;
}
