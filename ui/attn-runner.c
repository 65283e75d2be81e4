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
  guint64 running_generation;        /* of the run in flight */
  GMainContext *context;             /* where the signals are emitted */
  int n_generate;                    /* GPT-2 tokens to generate */
  AttnGpt2Progress progress;         /* the newest report emitted */
  /* attn_runner_stop waits for the run in flight to end: "stopped" for
   * stopped_generation then, unless the generation moved past
   * stop_generation meanwhile. */
  gboolean stop_pending;
  guint64 stopped_generation;
  guint64 stop_generation;
};

G_DEFINE_FINAL_TYPE (AttnRunner, attn_runner, G_TYPE_OBJECT)

enum
{
  FINISHED,
  PROGRESS,
  STOPPED,
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
  int n_generate;
  GCancellable *cancellable;
  AttnRunner *runner;    /* for the progress reports; the task holds it */
  GMainContext *context; /* the runner's */
  AttnGpt2Progress last; /* the worker's latest report */
} Job;

static void
job_free (Job *job)
{
  g_clear_pointer (&job->box, model_box_unref);
  g_free (job->text);
  g_clear_object (&job->cancellable);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_free (job);
}

/* A progress report on its way from the worker to the main thread. */
typedef struct
{
  AttnRunner *runner; /* a reference */
  guint64 generation;
  AttnGpt2Progress progress;
} Report;

static void
report_free (gpointer data)
{
  Report *report = data;
  g_object_unref (report->runner);
  g_free (report);
}

static void
emit_progress (AttnRunner *self, const AttnGpt2Progress *progress)
{
  self->progress = *progress;
  g_signal_emit (self, signals[PROGRESS], 0, self->running_generation,
                 progress->fraction, &self->progress);
}

/* Main thread: only a report of the run in flight, while it is still the
 * newest request, and never one going backwards. */
static gboolean
deliver_report (gpointer data)
{
  Report *report = data;
  AttnRunner *self = report->runner;
  if (self->running && report->generation == self->running_generation
      && report->generation == self->generation
      && report->progress.fraction >= self->progress.fraction)
    emit_progress (self, &report->progress);
  return G_SOURCE_REMOVE;
}

/* Worker thread (AttnGpt2ProgressFunc). */
static void
on_gpt2_progress (const AttnGpt2Progress *progress, gpointer data)
{
  Job *job = data;
  job->last = *progress;
  Report *report = g_new (Report, 1);
  report->runner = g_object_ref (job->runner);
  report->generation = job->generation;
  report->progress = *progress;
  /* An idle source, not g_main_context_invoke: that would call
   * deliver_report right here in the worker whenever this thread can
   * acquire the (global default) context, as it can between two main-loop
   * iterations. */
  GSource *source = g_idle_source_new ();
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, deliver_report, report, report_free);
  g_source_attach (source, job->context);
  g_source_unref (source);
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
      /* The prompt: its attention, at each position what the model
       * predicts next, then the tokens it generates, greedily (the same
       * text gives the same continuation). */
      AttnGpt2RunOptions options = ATTN_GPT2_RUN_OPTIONS_INIT;
      options.n_generate = job->n_generate;
      options.cancellable = job->cancellable;
      options.max_trace_bytes = ATTN_RUNNER_MAX_TRACE_BYTES;
      options.progress = on_gpt2_progress;
      options.progress_data = job;
      result->n_generate = job->n_generate;
      result->trace
          = attn_gpt2_run (gpt2, result->text, &options, &result->error);
      /* Reports come after each generated token only: none when the
       * prompt's last position already chose <|endoftext|>. */
      if (result->trace != NULL)
        result->generated = job->last.generated;
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
  /* Reports still on their way are dropped from here on. */
  self->running = FALSE;
  g_clear_object (&self->running_cancellable);
  if (result != NULL && result->generation == self->generation)
    {
      g_debug ("model run on %ld characters: %.1f ms",
               g_utf8_strlen (result->text, -1), result->run_ms);
      if (result->trace != NULL && result->limit_in_tokens
          && self->progress.fraction < 1.0)
        {
          AttnGpt2Progress done = self->progress;
          done.layers_done = done.n_layers;
          done.generated = result->generated;
          done.fraction = 1.0;
          emit_progress (self, &done);
        }
      if (result->generation == self->generation)
        g_signal_emit (self, signals[FINISHED], 0, result);
    }
  g_clear_pointer (&result, run_result_free);
  if (self->stop_pending)
    {
      self->stop_pending = FALSE;
      if (self->generation == self->stop_generation)
        g_signal_emit (self, signals[STOPPED], 0, self->stopped_generation);
    }
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
  job->runner = self;
  job->context = g_main_context_ref (self->context);
  if (self->box->gpt2 != NULL)
    {
      /* The context holds the text and what is generated after it. */
      job->n_generate = MIN (self->n_generate, job->max_chars - 1);
      job->max_chars -= job->n_generate;
    }
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
  self->running_generation = job->generation;
  g_set_object (&self->running_cancellable, job->cancellable);
  AttnGpt2Progress start = { 0 };
  if (self->box->gpt2 != NULL)
    {
      start.n_layers = self->box->gpt2->config.L;
      start.n_generate = job->n_generate;
    }
  self->progress = start;
  g_autoptr (GTask) task = g_task_new (self, NULL, on_run_done, NULL);
  g_task_set_source_tag (task, start_next);
  g_task_set_task_data (task, job, (GDestroyNotify)job_free);
  g_task_run_in_thread (task, run_in_thread);
  if (self->box->gpt2 != NULL)
    emit_progress (self, &start);
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

gboolean
attn_runner_stop (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), FALSE);
  if (!attn_runner_is_busy (self))
    return FALSE;
  guint64 stopped = self->generation;
  attn_runner_cancel (self);
  if (self->running)
    {
      self->stop_pending = TRUE;
      self->stopped_generation = stopped;
      self->stop_generation = self->generation;
    }
  else
    g_signal_emit (self, signals[STOPPED], 0, stopped);
  return TRUE;
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

void
attn_runner_set_generate (AttnRunner *self, int n_tokens)
{
  g_return_if_fail (ATTN_IS_RUNNER (self));
  self->n_generate = CLAMP (n_tokens, 0, ATTN_RUNNER_MAX_GENERATE);
}

int
attn_runner_get_generate (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), 0);
  return self->n_generate;
}

gboolean
attn_runner_is_gpt2 (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), FALSE);
  return self->box != NULL && self->box->gpt2 != NULL;
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
  g_main_context_unref (self->context);
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
  /* (guint64 generation, double fraction, const AttnGpt2Progress *) */
  signals[PROGRESS] = g_signal_new (
      "progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 3, G_TYPE_UINT64, G_TYPE_DOUBLE, G_TYPE_POINTER);
  /* (guint64 generation) */
  signals[STOPPED]
      = g_signal_new ("stopped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                      0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
}

static void
attn_runner_init (AttnRunner *self)
{
  self->debounce_ms = ATTN_RUNNER_DEBOUNCE_MS;
  self->context = g_main_context_ref_thread_default ();
}
