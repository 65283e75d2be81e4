/* attn-bench.h: speed figures for `attnscope-cli bench`.
 *
 * The core never prints: these functions time and return figures; the CLI
 * formats them. Each time is the best of reps runs (wall clock,
 * g_get_monotonic_time), on however many threads OpenBLAS was given
 * (OPENBLAS_NUM_THREADS). */
#pragma once

#include <glib.h>

#include "core/attn-model.h"
#include "core/attn-task.h"

G_BEGIN_DECLS

typedef struct {
  int T, C, NH;
  double seconds; /* best of reps */
  double gflop;   /* work of one run, 1e9 floating-point operations */
  double gflops;  /* gflop / seconds */
} AttnBenchResult;

/* GFLOP/s of one n x n x n sgemm (2 n^3 operations), best of reps: the
 * ceiling every other figure is measured against. */
double attn_bench_sgemm_gflops (int n, int reps);

/* Self-attention forward (attn_mha_forward, B = 1, no mask, weights kept in
 * the (NH, T, T) activations) on deterministic random inputs. Counted work:
 * projections 4 * 2 T C^2, scores 2 T^2 C, weighted sum 2 T^2 C (the softmax
 * and biases are not counted). */
void attn_bench_mha_forward (int T, int C, int NH, int reps,
                             AttnBenchResult *out);

/* Training speed of a built-in model (attn-model.h) on a task, as
 * attnscope-cli train runs it. */
typedef struct {
  int warmup;             /* steps run before timing starts */
  int steps;              /* steps timed */
  int batch;              /* examples per step */
  int threads;            /* trainer workers */
  gsize n_params;         /* floats of the parameter block */
  int V;                  /* vocabulary of the task */
  double step_seconds;    /* wall clock per step, mean over the timed steps:
                           * drawing the batch, loss_and_grad on every
                           * worker, combining, clipping, Adam */
  double steps_per_s;
  double examples_per_s;
  double final_loss;      /* of the last step */
  double mean_S;          /* padded source and decoder lengths of batches */
  double mean_T;          /* drawn as the trainer draws them (20 batches) */
} AttnBenchTrainResult;

/* Makes a fresh model of config for task (attn_train_new_model, seed 1),
 * trains it warmup + steps steps with batch examples on threads workers
 * (attn_trainer_run, learning rate 1e-3 after a warm-up of warmup steps,
 * no evaluation or checkpoint on the way; its files go to a temporary
 * folder that is removed) and times steps - 1 of the last steps (the last
 * one ends with the trainer's final evaluation and files). */
gboolean attn_bench_train (AttnTask task, const AttnModelConfig *config,
                           int batch, int threads, int warmup, int steps,
                           AttnBenchTrainResult *out, GError **error);

typedef struct {
  int sentences;       /* test-split sources translated */
  double ms;           /* wall clock per sentence, mean */
  double in_chars;     /* characters per source, mean (+ </s>: S) */
  double out_chars;    /* characters per output, mean (the decoder runs
                        * one step more, for </s>) */
  double exact_match;  /* outputs equal to the target */
} AttnBenchTranslateResult;

/* Greedy attn_model_translate of `sentences` test sources of task (drawn
 * from seed 7), one at a time, on the OpenBLAS threads it has. A trained
 * model gives the real figure: an untrained one decodes to max_len. */
gboolean attn_bench_translate (AttnModel *model, AttnTask task,
                               int sentences, AttnBenchTranslateResult *out,
                               GError **error);

G_END_DECLS
