/* attn-runner.c: debounced model runs in a worker thread (see the
 * header). */
#include "ui/attn-runner.h"

/* The model, shared by the runner and the run in flight: replacing the
 * runner's model must not free it under a worker still using it. */
typedef struct
{
  AttnModel *model;
} ModelBox;

static void
model_box_clear (gpointer data)
{
  ModelBox *box = data;
  g_clear_pointer (&box->model, attn_model_free);
}

static ModelBox *
model_box_new (AttnModel *model)
{
  ModelBox *box = g_atomic_rc_box_new0 (ModelBox);
  box->model = model;
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
} Job;

static void
job_free (Job *job)
{
  g_clear_pointer (&job->box, model_box_unref);
  g_free (job->text);
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

static int
max_chars_of (const ModelBox *box)
{
  if (box == NULL)
    return 0;
  /* The source is the characters and </s>. */
  return MAX (box->model->config.max_len - 1, 0);
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

  AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
  gint64 start = g_get_monotonic_time ();
  result->trace = attn_model_run (job->box->model, job->text, &options,
                                  result->unknown, &result->error);
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
  const char *text = self->pending_text;
  if (g_utf8_strlen (text, -1) > job->max_chars)
    {
      const char *end = g_utf8_offset_to_pointer (text, job->max_chars);
      job->text = g_strndup (text, end - text);
      job->truncated = TRUE;
    }
  else
    job->text = g_strdup (text);
  g_clear_pointer (&self->pending_text, g_free);

  self->running = TRUE;
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

static guint64
enqueue (AttnRunner *self, const char *text)
{
  g_return_val_if_fail (text != NULL, 0);
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
    self->box = model_box_new (model);
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
  return self->box != NULL ? self->box->model->name : NULL;
}

const char *
attn_runner_get_model_card (AttnRunner *self)
{
  g_return_val_if_fail (ATTN_IS_RUNNER (self), NULL);
  return self->box != NULL ? self->box->model->card_json : NULL;
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
