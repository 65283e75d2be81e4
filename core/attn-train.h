/* attn-train.h: the trainer of the built-in encoder-decoders.
 *
 * Teacher-forced training on a task's generated data (attn-task.h) with
 * Adam (attn-optim.h), a warm-up-then-decay learning rate, clipping by
 * global norm and optional label smoothing; periodic evaluation (greedy
 * exact match and teacher-forced token accuracy), checkpoints that resume
 * bit for bit, and a progress callback. It runs in the caller's thread
 * (attn_trainer_run) or in a worker thread (attn_trainer_run_async).
 *
 * Determinism. For a given configuration (seed and thread count included)
 * the trained parameters are the same bytes on every run, and a run resumed
 * from a checkpoint ends with the same bytes as one that never stopped:
 *   - the examples of step k come from a GRand seeded with the array
 *     { seed, k, 0 } (its own generator per step, so no generator state has
 *     to be saved: a checkpoint holds the step);
 *   - the batch is cut into `threads` contiguous slices, one per worker;
 *     worker j runs loss_and_grad on its slice on a replica of the model
 *     (parameters copied before each step), with dropout drawn from a GRand
 *     seeded with { seed, k, 1, j }, and the gradients are combined in a
 *     fixed order, weighted by each slice's share of the counted tokens
 *     (which makes them the gradient of the whole batch's mean);
 *   - OpenBLAS runs one thread per worker while training.
 * Different thread counts give (slightly) different numbers.
 *
 * Checkpoints. The model file itself (attn_model_save; its card says
 * "status": "checkpoint" and the step) and a sidecar
 * `<name>.optim.safetensors` beside it (for `model.safetensors`,
 * `model.optim.safetensors`): tensors "adam.m" and "adam.v" (the moments
 * over the parameter block's floats) and the metadata key
 * `attnscope.optim`, a JSON object with the step, the training
 * configuration and a hash of the parameters it belongs to, so a model file
 * and a sidecar of different steps are refused on resume. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

#include "core/attn-model.h"
#include "core/attn-optim.h"
#include "core/attn-task.h"

G_BEGIN_DECLS

/* ---- batches ----------------------------------------------------------- */

/* A batch of B rows, S source and T decoder positions, every source id
 * ATTN_VOCAB_PAD, every decoder input ATTN_VOCAB_PAD and every target -1
 * (ignored). */
AttnBatch *attn_batch_new (int B, int S, int T);
void attn_batch_free (AttnBatch *batch);

/* Number of targets that are not -1 (the tokens a loss is taken on). */
int attn_batch_count_targets (const AttnBatch *batch);

/* Teacher-forcing batch of B (source, target) pairs, padded to the longest
 * of each side: row b's source is its characters then </s>, its decoder
 * inputs <s> then the target's characters, its targets the target's
 * characters then </s>, and PAD / -1 after them. A pair longer than the
 * model can take (more than max_len - 1 characters on a side) is
 * ATTN_ERROR_BAD_TEXT; a character outside the vocabulary is
 * ATTN_ERROR_UNKNOWN_TOKEN (training data never needs <unk>). */
AttnBatch *attn_batch_encode (const AttnVocab *vocab,
                              const char *const *sources,
                              const char *const *targets, int B, int max_len,
                              GError **error);

/* B examples of `split` drawn from rng (attn_task_example), encoded. */
AttnBatch *attn_batch_draw (AttnTask task, AttnSplit split, GRand *rng,
                            const AttnVocab *vocab, int B, int max_len,
                            GError **error);

/* ---- models for a task --------------------------------------------------- */

/* The longest source and target `task` can produce, in characters, found by
 * writing every value the lengths depend on (dates: every day of a year in
 * every format; numbers: all of 0-9999 in every style; strings: 12). */
void attn_train_task_max_chars (AttnTask task, int *source, int *target);

/* A fresh model for `task`: the vocabulary is the task's character set,
 * config->V and config->max_len (the longest side plus <s> or </s>) are
 * filled in from the task; the other members are the caller's. */
AttnModel *attn_train_new_model (const char *name, AttnTask task,
                                 const AttnModelConfig *config, guint32 seed,
                                 GError **error);

/* ---- evaluation ----------------------------------------------------------- */

typedef struct {
  int n;                 /* examples */
  int exact;             /* greedy outputs equal to the target */
  double exact_match;    /* exact / n */
  double token_accuracy; /* teacher-forced argmax accuracy over every
                          * target token and </s> */
} AttnEvalResult;

/* Evaluates model on n examples of `split`, drawn from a GRand seeded with
 * { 0x6576616c, split, seed } (so a given seed names a fixed set), on
 * `threads` workers (replicas of the model). Greedy decoding with
 * attn_model_translate for exact match; one teacher-forced forward per
 * example for token accuracy. */
gboolean attn_train_evaluate (AttnModel *model, AttnTask task,
                              AttnSplit split, int n, guint32 seed,
                              int threads, GCancellable *cancellable,
                              AttnEvalResult *result, GError **error);

/* ---- training --------------------------------------------------------------- */

typedef struct {
  AttnTask task;
  gint64 steps;   /* optimiser updates in all */
  int batch;      /* examples per update, B */
  AttnLrSchedule schedule;
  double lr;      /* peak learning rate */
  gint64 warmup;  /* steps of linear warm-up */
  double min_lr;  /* where the cosine ends */
  AttnAdamConfig adam;
  double clip;    /* max global gradient norm; 0: no clipping */
  double label_smoothing; /* in [0, 1) */
  guint32 seed;   /* data and dropout (the model's initial weights are the
                   * caller's: attn_train_new_model) */
  int threads;    /* workers, >= 1 */
  gint64 eval_every;       /* validation every N steps; 0: never */
  int eval_examples;       /* examples of each validation */
  int test_examples;       /* examples of the final test (the card's) */
  gint64 checkpoint_every; /* 0: only at the end or on cancel */
  gint64 probe_every;      /* probe trace every N steps; 0: never */
  char *probe_text;        /* owned; NULL: no probe */
  char *command;           /* owned; recorded in the card, or NULL */
} AttnTrainConfig;

/* Defaults: 3000 steps of 64 examples, cosine from 1e-3 (after 200 warm-up
 * steps) to 1e-5, Adam without weight decay, clip 1, no smoothing, seed 1,
 * one thread, validation on 200 examples every 500 steps, a final test on
 * 1000, a checkpoint every 1000 steps, no probe. */
void attn_train_config_init (AttnTrainConfig *config, AttnTask task);
void attn_train_config_clear (AttnTrainConfig *config);
/* Deep copy into dest (which is overwritten, not cleared). */
void attn_train_config_copy (AttnTrainConfig *dest,
                             const AttnTrainConfig *src);
/* Checks ranges; ATTN_ERROR_INVALID_ARGUMENT naming the member. */
gboolean attn_train_config_validate (const AttnTrainConfig *config,
                                     GError **error);
/* Every member as a JSON object (for the card and the checkpoint). */
char *attn_train_config_to_json (const AttnTrainConfig *config);
gboolean attn_train_config_from_json (const char *json,
                                      AttnTrainConfig *config,
                                      GError **error);

/* What the progress callback receives after each step. */
typedef struct {
  gint64 step;            /* updates done, 1 .. steps */
  gint64 steps;
  float loss;             /* mean token loss of this step's batch */
  float token_acc;        /* of its argmax predictions */
  double lr;              /* used for this step */
  double grad_norm;       /* before clipping */
  double examples_per_s;  /* since this run (or resume) began */
  gboolean evaluated;     /* validation ran after this step: */
  AttnEvalResult validation;
  gboolean checkpointed;  /* a checkpoint was written after this step */
  gboolean final;         /* the last step: test is filled in and the
                           * final model written */
  AttnEvalResult test;
  AttnTrace *probe;       /* the probe's trace after this step, or NULL;
                           * owned by the progress: a callback that keeps
                           * it takes it and sets the member to NULL */
} AttnTrainProgress;

typedef void (*AttnTrainProgressFunc) (AttnTrainProgress *progress,
                                       gpointer user_data);

typedef struct _AttnTrainer AttnTrainer;

/* A trainer of model (taken) with config (copied), writing checkpoints and
 * the final model to path. Makes model->grads. */
AttnTrainer *attn_trainer_new (AttnModel *model,
                               const AttnTrainConfig *config,
                               const char *path, GError **error);
/* The trainer of the checkpoint at path: model, optimiser state, step and
 * configuration as saved. ATTN_ERROR_IO when the sidecar is missing,
 * ATTN_ERROR_BAD_MODEL_FILE when it is malformed or does not belong to the
 * model file. */
AttnTrainer *attn_trainer_new_resume (const char *path, GError **error);
void attn_trainer_free (AttnTrainer *trainer);

AttnModel *attn_trainer_get_model (AttnTrainer *trainer);
/* The configuration, which may be changed before a run: a resumed run
 * equals an uninterrupted one only while seed, threads, batch, task and the
 * optimiser's members stay as they were (and, for the cosine, steps). */
AttnTrainConfig *attn_trainer_get_config (AttnTrainer *trainer);
gint64 attn_trainer_get_step (AttnTrainer *trainer);
/* The final test evaluation, once a run has completed (else NULL). */
const AttnEvalResult *attn_trainer_get_test_result (AttnTrainer *trainer);

/* Called after each step; see attn_trainer_run and _run_async for the
 * thread it is called in. */
void attn_trainer_set_progress_func (AttnTrainer *trainer,
                                     AttnTrainProgressFunc func,
                                     gpointer user_data,
                                     GDestroyNotify destroy);

/* Trains from the current step to config->steps in the calling thread,
 * calling the progress function there. Checkpoints every
 * checkpoint_every steps. At the end evaluates eval_examples of the test
 * split, writes the card (task, architecture, attention, command, seed,
 * steps, test accuracy) and saves the model and its sidecar. When
 * cancellable is cancelled, stops after the step in progress, writes a
 * checkpoint of it and fails with ATTN_ERROR_CANCELLED naming the step. A
 * loss that is not finite stops training with ATTN_ERROR_FAILED (the last
 * checkpoint is left as it was). */
gboolean attn_trainer_run (AttnTrainer *trainer, GCancellable *cancellable,
                           GError **error);
/* The same in a worker thread (GTask); the progress function is called in
 * the thread-default main context of the caller of run_async, in step
 * order and before the callback. The trainer must stay alive and untouched
 * until the callback has run. */
void attn_trainer_run_async (AttnTrainer *trainer, GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean attn_trainer_run_finish (AttnTrainer *trainer, GAsyncResult *result,
                                  GError **error);

/* The sidecar path of a model path (see the top of this file). */
char *attn_train_optim_path (const char *path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnBatch, attn_batch_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnTrainer, attn_trainer_free)

G_END_DECLS
