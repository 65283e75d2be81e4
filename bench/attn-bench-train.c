/* attn-bench-train.c: how fast a built-in Transformer trains and
 * translates, the figures behind "the dates model trains in well under 30
 * minutes" and "under 5 ms per sentence" (core/attn-bench.h,
 * attn_bench_train).
 *
 *   build/bench/attn-bench-train [--task dates] [--d-model 128] [--heads 4]
 *       [--layers 2] [--d-ff 256] [--pre-norm] [--dropout 0.1]
 *       [--batch 64] [--threads 2] [--warmup 5] [--steps 30]
 *       [--model FILE] [--sentences 200] [--json]
 *
 * Training: a fresh model (seed 1) trains warmup + steps steps with
 * attnscope's own trainer (Adam, `threads` data-parallel workers, one
 * OpenBLAS thread each); the last steps are timed. --steps 0 skips it.
 * Inference, with --model FILE (a trained model of the task: an untrained
 * one never says </s> and decodes to its longest): greedy translation of
 * test-split sources, one at a time, on the OpenBLAS threads the process
 * has (OPENBLAS_NUM_THREADS). Prints one line per figure; --json prints
 * one JSON object instead (bench/bench-transformer.py reads it). */
#include <stdio.h>
#include <stdlib.h>

#include "core/attn-bench.h"
#include "core/attn-model.h"
#include "core/attn-task.h"

int
main (int argc, char **argv)
{
  g_autofree char *task_name = g_strdup ("dates");
  int C = 128, NH = 4, L = 2, F = 256, batch = 64, threads = 2;
  int warmup = 5, steps = 30, sentences = 200;
  double dropout = 0.1;
  gboolean pre_norm = FALSE, json = FALSE;
  g_autofree char *model_path = NULL;
  GOptionEntry entries[] = {
    { "task", 0, 0, G_OPTION_ARG_STRING, &task_name, "task (dates)", "NAME" },
    { "d-model", 0, 0, G_OPTION_ARG_INT, &C, "model width C (128)", "C" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &NH, "heads (4)", "NH" },
    { "layers", 0, 0, G_OPTION_ARG_INT, &L,
      "layers of the encoder and of the decoder (2)", "L" },
    { "d-ff", 0, 0, G_OPTION_ARG_INT, &F, "feed-forward width (256)", "F" },
    { "pre-norm", 0, 0, G_OPTION_ARG_NONE, &pre_norm, "pre-norm layers",
      NULL },
    { "dropout", 0, 0, G_OPTION_ARG_DOUBLE, &dropout, "dropout (0.1)", "P" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "examples per step (64)",
      "B" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "trainer workers (2)",
      "N" },
    { "warmup", 0, 0, G_OPTION_ARG_INT, &warmup,
      "steps before timing (5)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps,
      "steps timed, + 1 (30); 0: no training", "N" },
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model_path,
      "a trained model to time translations with", "FILE" },
    { "sentences", 0, 0, G_OPTION_ARG_INT, &sentences,
      "test sentences translated (200)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "one JSON object", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
    "- training and inference speed of a built-in Transformer");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "attn-bench-train: %s\n", error->message);
      return 2;
    }
  AttnTask task;
  if (!attn_task_from_name (task_name, &task, &error))
    {
      fprintf (stderr, "attn-bench-train: %s\n", error->message);
      return 2;
    }
  if (C < 1 || NH < 1 || C % NH != 0 || L < 1 || F < 1 || batch < 1
      || threads < 1 || threads > 64 || warmup < 1 || steps == 1
      || steps < 0
      || sentences < 1 || dropout < 0 || dropout >= 1)
    {
      fprintf (stderr, "attn-bench-train: a value is out of range (C a "
               "multiple of NH, steps 0 or >= 2, warmup >= 1, dropout in [0, 1))"
               "\n");
      return 2;
    }

  AttnModelConfig config = { 0 };
  config.arch = ATTN_ARCH_TRANSFORMER;
  config.C = C;
  config.NH = NH;
  config.L_enc = config.L_dec = L;
  config.F = F;
  config.pre_norm = pre_norm;
  config.dropout = (float) dropout;
  config.attention = ATTN_MECHANISM_SCALED_DOT_PRODUCT;

  AttnBenchTrainResult r = { 0 };
  if (steps > 0
      && !attn_bench_train (task, &config, batch, threads, warmup, steps, &r,
                            &error))
    {
      fprintf (stderr, "attn-bench-train: %s\n", error->message);
      return 1;
    }
  AttnBenchTranslateResult tr = { 0 };
  if (model_path != NULL)
    {
      g_autoptr (AttnModel) model = attn_model_load (model_path, &error);
      if (model == NULL
          || !attn_bench_translate (model, task, sentences, &tr, &error))
        {
          fprintf (stderr, "attn-bench-train: %s\n", error->message);
          return 1;
        }
    }

  if (json)
    {
      printf ("{\"task\": \"%s\", \"d_model\": %d, \"heads\": %d, "
              "\"layers\": %d, \"d_ff\": %d, \"pre_norm\": %s, "
              "\"dropout\": %g, \"params\": %zu, \"batch\": %d, "
              "\"threads\": %d, \"steps_timed\": %d, "
              "\"step_seconds\": %.6g, \"steps_per_s\": %.6g, "
              "\"examples_per_s\": %.6g, \"mean_S\": %.6g, "
              "\"mean_T\": %.6g, \"V\": %d, \"sentences\": %d, "
              "\"translate_ms\": %.6g, \"in_chars\": %.6g, "
              "\"out_chars\": %.6g, "
              "\"exact_match\": %.6g}\n",
              attn_task_name (task), C, NH, L, F,
              pre_norm ? "true" : "false", dropout, r.n_params, batch,
              threads, r.steps, r.step_seconds, r.steps_per_s,
              r.examples_per_s, r.mean_S, r.mean_T, r.V, tr.sentences, tr.ms,
              tr.in_chars, tr.out_chars,
              tr.exact_match);
      return 0;
    }
  if (steps > 0)
    {
      printf ("model: transformer on %s, C %d, NH %d, %d+%d layers, F %d, "
              "%s, dropout %g: %zu parameters\n",
              attn_task_name (task), C, NH, L, L, F,
              pre_norm ? "pre-norm" : "post-norm", dropout, r.n_params);
      printf ("training: batch %d, %d worker%s: %.1f ms/step, %.2f steps/s, "
              "%.0f examples/s (%d steps timed after %d; loss %.3f; "
              "padded lengths S %.1f, T %.1f on average)\n",
              r.batch, r.threads, r.threads == 1 ? "" : "s",
              r.step_seconds * 1e3, r.steps_per_s, r.examples_per_s,
              r.steps, r.warmup, r.final_loss, r.mean_S, r.mean_T);
    }
  if (model_path != NULL)
    printf ("inference (%s): greedy, one sentence at a time, %d test "
            "sentences: %.2f ms/sentence, %.1f characters in, %.1f out, "
            "exact match %.3f\n",
            model_path, tr.sentences, tr.ms, tr.in_chars, tr.out_chars,
            tr.exact_match);
  return 0;
}
