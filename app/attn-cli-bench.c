/* attn-cli-bench.c: the bench subcommand, a table of figures from
 * core/attn-bench, or with --model the speed of models. The layouts are
 * part of docs/cli.md: scripts (bench/bench-train-vs-torch.py) and tests
 * read them. */
#include "app/attn-cli.h"

#include <cblas.h>
#include <json-glib/json-glib.h>

#include "app/attn-cli-run.h"
#include "core/attn-bench.h"
#include "core/attn-error.h"

/* The task named by the card of model (opened as `shown`). */
static gboolean
card_task (const AttnModel *model, const char *shown, AttnTask *task,
           GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  const char *name = NULL;
  if (model->card_json != NULL
      && json_parser_load_from_data (parser, model->card_json, -1, NULL)
      && JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    {
      JsonObject *card = json_node_get_object (json_parser_get_root (parser));
      if (json_object_has_member (card, "task"))
        name = json_object_get_string_member (card, "task");
    }
  if (name == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "model “%s”: its card names no task, so there are no "
                   "test sentences to time it on",
                   shown);
      return FALSE;
    }
  g_autoptr (GError) local = NULL;
  if (!attn_task_from_name (name, task, &local))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_UNSUPPORTED,
                   "model “%s”: its card's task: %s", shown, local->message);
      return FALSE;
    }
  return TRUE;
}

/* Mean wall-clock milliseconds of attn_model_run (greedy, the whole
 * trace: what the app and `run` do per sentence) over the test sentences
 * attn_bench_translate times (seed 7). */
static gboolean
time_runs (AttnModel *model, AttnTask task, int sentences, double *ms,
           GError **error)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
  gint64 spent = 0;
  for (int i = 0; i < sentences; i++)
    {
      g_autofree char *source = NULL, *target = NULL;
      attn_task_example (task, ATTN_SPLIT_TEST, rng, &source, &target, NULL);
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr (AttnTrace) trace = attn_model_run (model, source, &options,
                                                    NULL, error);
      spent += g_get_monotonic_time () - t0;
      if (trace == NULL)
        return FALSE;
    }
  *ms = spent * 1e-3 / sentences;
  return TRUE;
}

static gboolean
bench_model (const AttnCliOptions *o, const char *ref, int threads,
             FILE *out, GError **error)
{
  g_autofree char *path = NULL;
  const char *kind = NULL;
  g_autoptr (AttnModel) model = attn_cli_open_model (ref, &path, &kind,
                                                     error);
  if (model == NULL)
    return FALSE;
  g_autofree char *shown = g_filename_display_name (ref);
  AttnTask task;
  if (!card_task (model, shown, &task, error))
    return FALSE;

  const AttnModelConfig *c = &model->config;
  gsize n = 0;
  for (guint i = 0; i < model->params->n_tensors; i++)
    n += model->params->tensors[i].numel;
  fprintf (out, "model %s: %s, %s, %" G_GSIZE_FORMAT " parameters, task %s\n",
           model->name, attn_arch_to_string (c->arch),
           attn_mechanism_to_string (c->arch == ATTN_ARCH_TRANSFORMER
                                       ? ATTN_MECHANISM_SCALED_DOT_PRODUCT
                                       : c->attention),
           n, attn_task_name (task));
  fflush (out);

  if (o->bench_train)
    {
      AttnBenchTrainResult r = { 0 };
      if (!attn_bench_train (task, c, o->batch, threads, o->warmup,
                             o->train_steps, &r, error))
        return FALSE;
      fprintf (out,
               "  training: batch %d, %d worker%s: %.2f ms/step, %.2f "
               "steps/s, %.0f examples/s (%d steps timed after %d; padded "
               "S %.1f, T %.1f)\n",
               r.batch, r.threads, r.threads == 1 ? "" : "s",
               r.step_seconds * 1e3, r.steps_per_s, r.examples_per_s,
               r.steps, r.warmup, r.mean_S, r.mean_T);
      fflush (out);
    }

  AttnBenchTranslateResult t = { 0 };
  double run_ms = 0;
  if (!attn_bench_translate (model, task, o->sentences, &t, error)
      || !time_runs (model, task, o->sentences, &run_ms, error))
    return FALSE;
  int blas = openblas_get_num_threads ();
  fprintf (out,
           "  inference: %d OpenBLAS thread%s, %d test sentences, %.1f "
           "characters in, %.1f out: greedy %.3f ms/sentence (exact match "
           "%.3f), with the whole trace %.3f ms/sentence\n",
           blas, blas == 1 ? "" : "s", t.sentences, t.in_chars, t.out_chars,
           t.ms, t.exact_match, run_ms);
  fflush (out);
  return TRUE;
}

gboolean
attn_cli_bench (const AttnCliOptions *o, FILE *out, GError **error)
{
  if (o->threads > 0)
    openblas_set_num_threads (o->threads);
  int threads = openblas_get_num_threads ();

  if (o->models != NULL)
    {
      for (guint i = 0; o->models[i] != NULL; i++)
        if (!bench_model (o, o->models[i], threads, out, error))
          return FALSE;
      return TRUE;
    }

  double ceiling = attn_bench_sgemm_gflops (o->sgemm_n, o->reps);
  fprintf (out,
           "sgemm ceiling: %.1f GFLOP/s (n = %d, %d thread%s, best of %d)\n",
           ceiling, o->sgemm_n, threads, threads == 1 ? "" : "s", o->reps);
  fprintf (out,
           "multi-head attention forward: C = %d, NH = %d, B = 1, weights "
           "kept, best of %d\n",
           o->dim, o->heads, o->reps);
  fprintf (out, "%6s %12s %12s %10s %9s\n", "T", "seconds", "GFLOP",
           "GFLOP/s", "ceiling");
  for (guint i = 0; i < o->n_seq; i++)
    {
      AttnBenchResult r = { 0 };
      attn_bench_mha_forward (o->seq[i], o->dim, o->heads, o->reps, &r);
      fprintf (out, "%6d %12.6g %12.6g %10.2f %8.1f%%\n", r.T, r.seconds,
               r.gflop, r.gflops, ceiling > 0 ? 100.0 * r.gflops / ceiling
                                              : 0.0);
    }
  return TRUE;
}
