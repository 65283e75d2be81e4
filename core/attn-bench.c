/* attn-bench.c: speed figures (see attn-bench.h). */
#include "core/attn-bench.h"

#include <cblas.h>
#include <glib/gstdio.h>
#include <string.h>

#include "core/attn-attention.h"
#include "core/attn-check.h"
#include "core/attn-train.h"

/* Deterministic uniform floats in [-scale, scale): the figures must not
 * depend on denormals or on uninitialised memory. */
static void
fill_uniform (float *x, gsize n, float scale, guint32 seed)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rng, -scale, scale);
}

double
attn_bench_sgemm_gflops (int n, int reps)
{
  attn_check (n > 0 && reps > 0);
  const gsize nn = (gsize) n * n;
  g_autofree float *a = g_new (float, nn); /* (n, n) */
  g_autofree float *b = g_new (float, nn); /* (n, n) */
  g_autofree float *c = g_new (float, nn); /* (n, n) */
  fill_uniform (a, nn, 1.0f, 1);
  fill_uniform (b, nn, 1.0f, 2);

  gint64 best = G_MAXINT64;
  for (int r = 0; r < reps; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                   a, n, b, n, 0.0f, c, n);
      best = MIN (best, g_get_monotonic_time () - t0);
    }
  /* A clock tick of 0 us on a tiny n would divide by zero. */
  double seconds = MAX (best, 1) * 1e-6;
  return 2.0 * n * (double) n * n / seconds * 1e-9;
}

void
attn_bench_mha_forward (int T, int C, int NH, int reps, AttnBenchResult *out)
{
  attn_check (T > 0 && C > 0 && NH > 0 && C % NH == 0 && reps > 0);
  attn_check (out != NULL);
  const AttnMhaDims dims = { .B = 1, .T = T, .S = T, .C = C, .NH = NH };
  const gsize cc = (gsize) C * C, tc = (gsize) T * C;

  /* Weights (4 of (C, C), 4 of (C)), input and output (T, C) in one block. */
  g_autofree float *mem = g_new (float, 4 * cc + 4 * (gsize) C + 2 * tc);
  fill_uniform (mem, 4 * cc + 4 * (gsize) C + tc, 0.05f, 3);
  AttnMhaParams p = {
    .wq = mem, .wk = mem + cc, .wv = mem + 2 * cc, .wo = mem + 3 * cc,
  };
  p.bq = mem + 4 * cc;
  p.bk = p.bq + C;
  p.bv = p.bk + C;
  p.bo = p.bv + C;
  float *x = p.bo + C;  /* (T, C) */
  float *y = x + tc;    /* (T, C) */
  /* Larger inputs so the softmax sees a spread of scores, not all ~0. */
  fill_uniform (x, tc, 2.0f, 4);

  /* attn_mha_acts_new refuses only sizes that overflow; a benchmark size
   * that does is a caller bug. */
  g_autoptr (AttnMhaActs) acts = attn_mha_acts_new (&dims, NULL);
  attn_check (acts != NULL);

  gint64 best = G_MAXINT64;
  for (int r = 0; r < reps; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      attn_mha_forward (y, acts, x, x, &p, FALSE, NULL, NULL);
      best = MIN (best, g_get_monotonic_time () - t0);
    }

  out->T = T;
  out->C = C;
  out->NH = NH;
  out->seconds = MAX (best, 1) * 1e-6;
  out->gflop = (4.0 * 2.0 * T * (double) C * C + 2.0 * 2.0 * T * (double) T * C)
               * 1e-9;
  out->gflops = out->gflop / out->seconds;
}

/* ---- training and inference of a built-in model -------------------------- */

typedef struct {
  int warmup;      /* the step after which timing starts */
  int last;        /* the last step timed (its progress comes before the
                    * final test evaluation and files) */
  gint64 t_start;  /* at the end of step `warmup` */
  gint64 t_end;    /* at the end of step `last` */
  float loss;      /* of step `last` */
} BenchClock;

static void
bench_progress (AttnTrainProgress *p, gpointer user_data)
{
  BenchClock *clock = user_data;
  if (p->step == clock->warmup)
    clock->t_start = g_get_monotonic_time ();
  if (p->step == clock->last)
    {
      clock->t_end = g_get_monotonic_time ();
      clock->loss = p->loss;
    }
}

/* Removes the trainer's files from dir, then dir. */
static void
bench_remove_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (d != NULL)
    {
      const char *name;
      while ((name = g_dir_read_name (d)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir, name, NULL);
          g_unlink (path);
        }
    }
  g_rmdir (dir);
}

gboolean
attn_bench_train (AttnTask task, const AttnModelConfig *config, int batch,
                  int threads, int warmup, int steps,
                  AttnBenchTrainResult *out, GError **error)
{
  attn_check (config != NULL && out != NULL);
  attn_check (batch > 0 && threads > 0 && warmup > 0 && steps > 1);
  memset (out, 0, sizeof *out);

  g_autoptr (AttnModel) model = attn_train_new_model ("bench", task, config,
                                                      1, error);
  if (model == NULL)
    return FALSE;
  out->n_params = model->params->n_floats;
  out->V = model->config.V;
  /* The shapes the steps see, for comparisons (bench-transformer.py). */
  g_autoptr (GRand) shapes_rng = g_rand_new_with_seed (11);
  for (int i = 0; i < 20; i++)
    {
      g_autoptr (AttnBatch) b = attn_batch_draw (task, ATTN_SPLIT_TRAIN,
                                                 shapes_rng, model->vocab,
                                                 batch, model->config.max_len,
                                                 error);
      if (b == NULL)
        return FALSE;
      out->mean_S += b->S / 20.0;
      out->mean_T += b->T / 20.0;
    }
  AttnTrainConfig tc;
  attn_train_config_init (&tc, task);
  tc.steps = warmup + steps;
  tc.batch = batch;
  tc.threads = threads;
  tc.schedule = ATTN_LR_CONSTANT;
  tc.lr = 1e-3;
  tc.warmup = warmup;
  tc.eval_every = 0;
  tc.checkpoint_every = 0;
  tc.eval_examples = 1;
  tc.probe_every = 0;

  g_autofree char *dir = g_dir_make_tmp ("attn-bench-XXXXXX", error);
  if (dir == NULL)
    {
      attn_train_config_clear (&tc);
      return FALSE;
    }
  g_autofree char *path = g_build_filename (dir, "bench.safetensors", NULL);
  g_autoptr (AttnTrainer) trainer = attn_trainer_new (
    g_steal_pointer (&model), &tc, path, error);
  attn_train_config_clear (&tc);
  if (trainer == NULL)
    {
      bench_remove_dir (dir);
      return FALSE;
    }
  BenchClock clock = { warmup, warmup + steps - 1, 0, 0, 0.0f };
  attn_trainer_set_progress_func (trainer, bench_progress, &clock, NULL);
  gboolean ok = attn_trainer_run (trainer, NULL, error);
  bench_remove_dir (dir);
  if (!ok)
    return FALSE;

  out->warmup = warmup;
  out->steps = steps - 1;
  out->batch = batch;
  out->threads = threads;
  out->step_seconds = MAX (clock.t_end - clock.t_start, 1) * 1e-6
                      / out->steps;
  out->steps_per_s = 1.0 / out->step_seconds;
  out->examples_per_s = batch * out->steps_per_s;
  out->final_loss = clock.loss;
  return TRUE;
}

gboolean
attn_bench_translate (AttnModel *model, AttnTask task, int sentences,
                      AttnBenchTranslateResult *out, GError **error)
{
  attn_check (model != NULL && out != NULL && sentences > 0);
  memset (out, 0, sizeof *out);
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  gint64 spent = 0;
  glong chars = 0, in_chars = 0;
  int exact = 0;
  for (int i = 0; i < sentences; i++)
    {
      g_autofree char *source = NULL, *target = NULL;
      attn_task_example (task, ATTN_SPLIT_TEST, rng, &source, &target, NULL);
      in_chars += g_utf8_strlen (source, -1);
      gint64 t0 = g_get_monotonic_time ();
      g_autofree char *got = attn_model_translate (model, source, error);
      spent += g_get_monotonic_time () - t0;
      if (got == NULL)
        return FALSE;
      chars += g_utf8_strlen (got, -1);
      exact += g_strcmp0 (got, target) == 0;
    }
  out->sentences = sentences;
  out->ms = spent * 1e-3 / sentences;
  out->in_chars = (double) in_chars / sentences;
  out->out_chars = (double) chars / sentences;
  out->exact_match = (double) exact / sentences;
  return TRUE;
}
