/* attn-runner.h: runs a model on the text being typed, off the UI thread.
 *
 * Typing calls attn_runner_request () on every change; the runner waits
 * until the text has been still for the debounce delay, then runs the model
 * in a worker thread (GTask) and emits "finished" on the main thread. One
 * run at a time (a model's workspace is not reentrant): text that arrives
 * during a run waits and runs next, and only the newest text does. Every
 * request takes a new generation number; a result whose generation is no
 * longer the newest (the text or the model changed meanwhile) is dropped,
 * never shown.
 *
 * A GPT-2 run also reports its progress ("progress", on the main thread,
 * after each prompt layer and each generated token) and can be stopped
 * (attn_runner_stop: "stopped" instead of "finished"). */
#pragma once

#include <gio/gio.h>

#include "core/attn-gpt2.h"
#include "core/attn-model.h"

G_BEGIN_DECLS

#define ATTN_TYPE_RUNNER (attn_runner_get_type ())
G_DECLARE_FINAL_TYPE (AttnRunner, attn_runner, ATTN, RUNNER, GObject)

/* What "finished" carries; valid during the emission. A handler may keep
 * the trace by stealing it (g_steal_pointer (&result->trace)). */
typedef struct
{
  guint64 generation;
  char *text;         /* the text as run (truncated when too long) */
  gboolean truncated; /* the request was longer than max_chars */
  int max_chars;      /* the model's limit, in characters, or in tokens
                       * when limit_in_tokens (GPT-2) */
  gboolean limit_in_tokens;
  AttnTrace *trace;   /* NULL on error */
  GPtrArray *unknown; /* of char *: characters outside the vocabulary */
  GError *error;
  int n_generate;     /* GPT-2: tokens asked to generate after the text */
  int generated;      /* GPT-2: tokens generated, trace tokens from
                       * n_tokens - generated on; fewer than n_generate
                       * only when the model chose <|endoftext|> */
  double run_ms;     /* time in the model's run, in the worker */
  gint64 started_us; /* g_get_monotonic_time () when the run was handed to
                      * the worker (the debounce delay over) */
} AttnRunResult;

/* The signals, all on the main thread and for the newest request only:
 * "finished" (AttnRunResult *result): its run ended, with a trace or an
 *   error;
 * "progress" (guint64 generation, double fraction,
 *   const AttnGpt2Progress *progress): a GPT-2 run's progress: fraction 0
 *   when the run is handed to the worker, then after each prompt layer and
 *   each generated token, never decreasing, and 1 just before "finished"
 *   (also when generation ended early at <|endoftext|>); reports of a run
 *   made stale or stopped meanwhile are dropped;
 * "stopped" (guint64 generation): the request attn_runner_stop stopped;
 *   no "finished" comes for it. */

/* GPT-2 generates at most this many tokens after the text. */
#define ATTN_RUNNER_MAX_GENERATE 256

/* Default delay between the last keystroke and the run. */
#define ATTN_RUNNER_DEBOUNCE_MS 150
/* A GPT-2 run whose attention would take more memory is refused (1,024
 * tokens of gpt2-medium, 24 x 16 x 1024 x 1024 floats, are 1.6 GB). */
#define ATTN_RUNNER_MAX_TRACE_BYTES (G_GUINT64_CONSTANT (1) << 30)

AttnRunner *attn_runner_new (void);

/* Takes ownership of model (NULL unloads). Drops any pending or running
 * request's result. */
void attn_runner_set_model (AttnRunner *self, AttnModel *model);
/* The same for a GPT-2 model (taken): its runs are the prompt alone, cut
 * to its context, each position's prediction a step; a run made stale by
 * newer text is cancelled (between layers), not only dropped. */
void attn_runner_set_gpt2 (AttnRunner *self, AttnGpt2 *gpt2);
gboolean attn_runner_has_model (AttnRunner *self);
/* The loaded model's name and card (`attnscope.card` JSON, or NULL). */
const char *attn_runner_get_model_name (AttnRunner *self);
const char *attn_runner_get_model_card (AttnRunner *self);
/* Longest text the model takes: characters for a built-in model (its
 * max_len less the </s> it appends), tokens for GPT-2 (n_positions, of
 * which the tokens to generate are kept free); longer text is cut to
 * this. 0 without a model. */
int attn_runner_get_max_chars (AttnRunner *self);

void attn_runner_set_debounce (AttnRunner *self, guint ms);

/* Tokens a GPT-2 model generates after the text, greedily (0 ..
 * ATTN_RUNNER_MAX_GENERATE, and at most n_positions - 1); runs handed to
 * the worker from now on use it, the one in flight does not. Built-in
 * models ignore it. */
void attn_runner_set_generate (AttnRunner *self, int n_tokens);
int attn_runner_get_generate (AttnRunner *self);
/* TRUE when the loaded model is a GPT-2 one. */
gboolean attn_runner_is_gpt2 (AttnRunner *self);

/* Runs text after the debounce delay. Returns the request's generation. */
guint64 attn_runner_request (AttnRunner *self, const char *text);
/* Runs text as soon as the worker is free, without the delay. */
guint64 attn_runner_run_now (AttnRunner *self, const char *text);
/* Forgets pending work: results of earlier requests are dropped. */
void attn_runner_cancel (AttnRunner *self);
/* The user's Stop: as attn_runner_cancel, and "stopped" follows on the
 * main thread once the run in flight has let go of the model (at once
 * when none was in flight), unless a newer request came first. FALSE,
 * and no signal, when nothing waited or ran. */
gboolean attn_runner_stop (AttnRunner *self);

guint64 attn_runner_get_generation (AttnRunner *self);
/* TRUE while a request waits or runs. */
gboolean attn_runner_is_busy (AttnRunner *self);

G_END_DECLS
