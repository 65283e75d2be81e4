/* attn-cli-bench.c: the bench subcommand, a table of figures from
 * core/attn-bench, or with --model the speed of models. The layouts are
 * part of docs/cli.md: scripts (bench/bench-train-vs-torch.py) and tests
 * read them. */
#include "app/attn-cli.h"

#include <string.h>

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

/* kB of a "Name:   123 kB" line of /proc/self/status, or -1. */
static double
proc_status_mb (const char *name)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return -1;
  g_autofree char *key = g_strconcat ("\n", name, ":", NULL);
  const char *line = strstr (text, key);
  if (line == NULL)
    return -1;
  return g_ascii_strtod (line + strlen (key), NULL) / 1024.0;
}

/* Tokens generated after each T by bench --gpt2 (fewer when the model's
 * positions run out). */
#define GEN_TOKENS 32

/* bench --gpt2 DIR: load time and memory, then at each --seq T the best of
 * --reps forward passes with every head's attention captured and the last
 * position's logits (what a prediction needs), the full-sequence output
 * layer on its own, and a whole run as run does it (trace, a step with top
 * 5 at every position). */
static gboolean
bench_gpt2 (const AttnCliOptions *o, int threads, FILE *out, GError **error)
{
  double rss0 = proc_status_mb ("VmRSS");
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr (AttnGpt2) m = attn_cli_open_gpt2 (o->gpt2, NULL, NULL, error);
  if (m == NULL)
    return FALSE;
  double load_s = (g_get_monotonic_time () - t0) / 1e6;
  double rss1 = proc_status_mb ("VmRSS");
  const AttnGpt2Config *c = &m->config;
  double weights_mb = (m->bytes_mapped + m->bytes_copied) / 1e6;
  fprintf (out, "gpt2 %s: %d layers, %d heads, C %d, V %d, %" G_GSIZE_FORMAT
           " parameters, %d OpenBLAS thread%s\n", m->name, c->L, c->NH, c->C,
           c->V, m->n_params, threads, threads == 1 ? "" : "s");
  fprintf (out, "load: %.3f s, RSS %.1f -> %.1f MB (+%.1f MB; weights %.1f "
           "MB, %.1f MB of them mapped in place)\n", load_s, rss0, rss1,
           rss1 - rss0, weights_mb, m->bytes_mapped / 1e6);
  fflush (out);

  for (guint i = 0; i < o->n_seq; i++)
    {
      const int T = o->seq[i];
      if (T > c->n_positions)
        {
          fprintf (out, "T %d: skipped, above n_positions %d\n", T,
                   c->n_positions);
          continue;
        }
      g_autoptr (AttnGpt2State) s = attn_gpt2_state_new (m, T, error);
      if (s == NULL)
        return FALSE;
      g_autofree int *ids = g_new (int, T);
      g_autoptr (GRand) rng = g_rand_new_with_seed (7);
      for (int t = 0; t < T; t++)
        ids[t] = g_rand_int_range (rng, 0, c->V);
      const gsize per_layer = (gsize) c->NH * T * T;
      g_autofree float *att = g_try_new0 (float, per_layer * c->L);
      g_autofree float *hidden = g_try_new (float, (gsize) T * c->C);
      g_autofree float *logits = g_try_new (float, (gsize) T * c->V);
      if (att == NULL || hidden == NULL || logits == NULL)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                       "bench --gpt2: cannot allocate the buffers of T %d",
                       T);
          return FALSE;
        }
      g_autofree float **layers = g_new (float *, c->L);
      for (int l = 0; l < c->L; l++)
        layers[l] = att + per_layer * l;

      /* Generation after the T ids, as run --generate does it: one token
       * at a time through the cache, its attention row kept. */
      const int N = MIN (GEN_TOKENS, c->n_positions - T);
      g_autoptr (AttnGpt2State) gs = NULL;
      g_autofree float *gen_att = NULL;
      g_autofree float **gen_layers = g_new (float *, c->L);
      if (N > 0)
        {
          const gsize gen_layer = (gsize) c->NH * (T + N) * (T + N);
          gs = attn_gpt2_state_new (m, T + N, error);
          gen_att = g_try_new0 (float, gen_layer * c->L);
          if (gs == NULL || gen_att == NULL)
            {
              g_set_error (error, ATTN_ERROR, ATTN_ERROR_TOO_LARGE,
                           "bench --gpt2: cannot allocate the generation "
                           "buffers of T %d", T);
              return FALSE;
            }
          for (int l = 0; l < c->L; l++)
            gen_layers[l] = gen_att + gen_layer * l;
        }

      double fwd = G_MAXDOUBLE, full = G_MAXDOUBLE, run = G_MAXDOUBLE;
      double gen = G_MAXDOUBLE;
      for (int r = 0; r < o->reps; r++)
        {
          attn_gpt2_state_reset (s);
          gint64 a = g_get_monotonic_time ();
          if (!attn_gpt2_state_feed (s, ids, T, layers, T, hidden, NULL,
                                     error))
            return FALSE;
          attn_gpt2_logits (m, hidden + (gsize) (T - 1) * c->C, 1, logits);
          gint64 b = g_get_monotonic_time ();
          attn_gpt2_logits (m, hidden, T, logits);
          gint64 e = g_get_monotonic_time ();
          fwd = MIN (fwd, (b - a) / 1e6);
          full = MIN (full, (e - b) / 1e6);

          AttnGpt2RunOptions ro = ATTN_GPT2_RUN_OPTIONS_INIT;
          a = g_get_monotonic_time ();
          g_autoptr (AttnTrace) trace = attn_gpt2_run_ids (m, ids, T, &ro,
                                                           error);
          if (trace == NULL)
            return FALSE;
          run = MIN (run, (g_get_monotonic_time () - a) / 1e6);

          if (N == 0)
            continue;
          attn_gpt2_state_reset (gs);
          if (!attn_gpt2_state_feed (gs, ids, T, gen_layers, T + N, hidden,
                                     NULL, error))
            return FALSE;
          attn_gpt2_logits (m, hidden + (gsize) (T - 1) * c->C, 1, logits);
          AttnGpt2RunOptions greedy = ATTN_GPT2_RUN_OPTIONS_INIT;
          a = g_get_monotonic_time ();
          for (int k = 0; k < N; k++)
            {
              int next = attn_gpt2_choose (logits, c->V, &greedy, NULL);
              if (!attn_gpt2_state_feed (gs, &next, 1, gen_layers, T + N,
                                         hidden, NULL, error))
                return FALSE;
              attn_gpt2_logits (m, hidden, 1, logits);
            }
          gen = MIN (gen, (g_get_monotonic_time () - a) / 1e3 / N);
        }
      fprintf (out, "T %d: forward with attention + last logits %.4f s, "
               "full-sequence logits +%.4f s, whole run (trace, steps) "
               "%.4f s", T, fwd, full, run);
      if (N > 0)
        fprintf (out, ", then generation %.2f ms/token (%d greedy tokens, "
                 "rows kept)", gen, N);
      fprintf (out, " (best of %d)\n", o->reps);
      fflush (out);
    }
  fprintf (out, "peak RSS: %.1f MB\n", proc_status_mb ("VmHWM"));
  return TRUE;
}

gboolean
attn_cli_bench (const AttnCliOptions *o, FILE *out, GError **error)
{
  if (o->threads > 0)
    openblas_set_num_threads (o->threads);
  int threads = openblas_get_num_threads ();

  if (o->gpt2 != NULL)
    return bench_gpt2 (o, threads, out, error);

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
