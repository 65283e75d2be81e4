/* test-train.c: the trainer (attn-train.h) and its numerics
 * (attn-optim.h): schedule values, clipping, batch contents, evaluation,
 * determinism, checkpoints that resume bit for bit, cancellation, progress
 * in a worker thread, and a tiny Transformer that learns `reverse`. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "core/attn-optim.h"
#include "core/attn-safetensors.h"
#include "core/attn-train.h"
#include "tests/attn-test-util.h"

/* Checks that a call taking &error succeeded, showing the error if not. */
#define ASSERT_OK(call)                                                        \
  G_STMT_START                                                                 \
  {                                                                            \
    gboolean ok_ = (call);                                                     \
    g_assert_no_error (error);                                                 \
    g_assert_true (ok_);                                                       \
  }                                                                            \
  G_STMT_END

/* ---- schedule ----------------------------------------------------------- */

typedef struct {
  const char *name;
  AttnLrConfig config;
  gint64 step;
  double want;
} LrCase;

/* Values worked out by hand from the formulas of attn-optim.h. */
static const LrCase lr_cases[] = {
  /* warm-up: lr * step / warmup */
  { "warmup-first", { ATTN_LR_COSINE, 1e-3, 100, 1000, 1e-5 }, 1, 1e-5 },
  { "warmup-half", { ATTN_LR_COSINE, 1e-3, 100, 1000, 1e-5 }, 50, 5e-4 },
  { "warmup-peak", { ATTN_LR_COSINE, 1e-3, 100, 1000, 1e-5 }, 100, 1e-3 },
  /* cosine: halfway down is the mean of peak and floor */
  { "cosine-half", { ATTN_LR_COSINE, 1e-3, 100, 1000, 1e-5 }, 550, 5.05e-4 },
  /* a quarter of the way: floor + (lr - floor) (1 + cos (pi/4)) / 2 */
  { "cosine-quarter", { ATTN_LR_COSINE, 1e-3, 100, 1000, 1e-5 }, 325,
    1e-5 + 0.99e-3 * 0.5 * (1.0 + 0.70710678118654752) },
  { "cosine-end", { ATTN_LR_COSINE, 1e-3, 100, 1000, 1e-5 }, 1000, 1e-5 },
  { "cosine-after", { ATTN_LR_COSINE, 1e-3, 100, 1000, 1e-5 }, 5000, 1e-5 },
  /* inverse square root: lr sqrt (warmup / step) */
  { "inv-sqrt-warmup", { ATTN_LR_INV_SQRT, 1e-3, 400, 0, 0 }, 100, 2.5e-4 },
  { "inv-sqrt-peak", { ATTN_LR_INV_SQRT, 1e-3, 400, 0, 0 }, 400, 1e-3 },
  { "inv-sqrt-4x", { ATTN_LR_INV_SQRT, 1e-3, 400, 0, 0 }, 1600, 5e-4 },
  { "inv-sqrt-100x", { ATTN_LR_INV_SQRT, 1e-3, 400, 0, 0 }, 40000, 1e-4 },
  { "constant-warmup", { ATTN_LR_CONSTANT, 2e-3, 10, 0, 0 }, 5, 1e-3 },
  { "constant", { ATTN_LR_CONSTANT, 2e-3, 10, 0, 0 }, 1000000, 2e-3 },
  { "no-warmup", { ATTN_LR_CONSTANT, 2e-3, 0, 0, 0 }, 1, 2e-3 },
};

static void
test_schedule (gconstpointer data)
{
  const LrCase *c = data;
  double got = attn_lr_at (&c->config, c->step);
  /* Double arithmetic of a few operations: 1e-12 relative. */
  g_assert_cmpfloat_with_epsilon (got, c->want, 1e-12 * c->want);
}

static void
test_schedule_names (void)
{
  for (int s = ATTN_LR_COSINE; s <= ATTN_LR_CONSTANT; s++)
    {
      AttnLrSchedule back;
      g_assert_true (attn_lr_schedule_from_string (
        attn_lr_schedule_to_string (s), &back));
      g_assert_cmpint (back, ==, s);
    }
  AttnLrSchedule untouched = ATTN_LR_INV_SQRT;
  g_assert_false (attn_lr_schedule_from_string ("linear", &untouched));
  g_assert_cmpint (untouched, ==, ATTN_LR_INV_SQRT);
}

/* ---- clipping ------------------------------------------------------------- */

static double
norm_of (const float *x, gsize n)
{
  double s = 0.0;
  for (gsize i = 0; i < n; i++)
    s += (double) x[i] * x[i];
  return sqrt (s);
}

static void
test_clip (void)
{
  const gsize n = 4097;
  g_autofree float *g = g_new (float, n); /* (n) */
  g_autofree float *copy = g_new (float, n);
  attn_test_fill_uniform (g, n, -1.0f, 1.0f, 7);
  memcpy (copy, g, sizeof (float) * n);
  double before = norm_of (g, n); /* about sqrt (n / 3) = 37 */

  /* Above the bound: the norm after is the bound (the 1e-6 of torch's
   * max / (norm + 1e-6) moves it by 1e-6 / 37 relative; float rounding of
   * the scaled values by ~1e-7). */
  double got = attn_clip_grad_norm (g, n, 1.0);
  g_assert_cmpfloat_with_epsilon (got, before, 1e-9 * before);
  g_assert_cmpfloat_with_epsilon (norm_of (g, n), 1.0, 1e-6);
  /* The direction is kept: every element scaled by the same factor. */
  double f = 1.0 / (before + 1e-6);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat_with_epsilon (g[i], copy[i] * f, 1e-7);

  /* Below the bound: untouched, bit for bit. */
  memcpy (g, copy, sizeof (float) * n);
  got = attn_clip_grad_norm (g, n, 2.0 * before);
  g_assert_cmpfloat_with_epsilon (got, before, 1e-9 * before);
  g_assert_cmpmem (g, sizeof (float) * n, copy, sizeof (float) * n);
  /* 0: measure only. */
  got = attn_clip_grad_norm (g, n, 0.0);
  g_assert_cmpmem (g, sizeof (float) * n, copy, sizeof (float) * n);
}

/* ---- batches -------------------------------------------------------------- */

static AttnVocab *
abc_vocab (void)
{
  const gunichar chars[] = { 'a', 'b', 'c', ' ' };
  return attn_vocab_new_from_chars (chars, G_N_ELEMENTS (chars));
}

static void
test_batch_encode (void)
{
  g_autoptr (AttnVocab) v = abc_vocab ();
  int a = attn_vocab_lookup (v, "a"), b = attn_vocab_lookup (v, "b");
  int c = attn_vocab_lookup (v, "c"), sp = attn_vocab_lookup (v, " ");
  const char *sources[] = { "ab", "c a" };
  const char *targets[] = { "ba", "c" };
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBatch) batch = attn_batch_encode (v, sources, targets, 2, 8,
                                                   &error);
  g_assert_no_error (error);
  g_assert_cmpint (batch->B, ==, 2);
  g_assert_cmpint (batch->S, ==, 4); /* "c a" + </s> */
  g_assert_cmpint (batch->T, ==, 3); /* <s> + "ba" */
  const int P = ATTN_VOCAB_PAD, BOS = ATTN_VOCAB_BOS, EOS = ATTN_VOCAB_EOS;
  const int src[] = { a, b, EOS, P, /**/ c, sp, a, EOS };
  const int in[] = { BOS, b, a, /**/ BOS, c, P };
  const int out[] = { b, a, EOS, /**/ c, EOS, -1 };
  g_assert_cmpmem (batch->src, sizeof src, src, sizeof src);
  g_assert_cmpmem (batch->tgt_in, sizeof in, in, sizeof in);
  g_assert_cmpmem (batch->tgt_out, sizeof out, out, sizeof out);
  g_assert_cmpint (attn_batch_count_targets (batch), ==, 5);
}

typedef struct {
  const char *name;
  const char *source, *target;
  int max_len;
  int code;
} BadBatchCase;

static const BadBatchCase bad_batch_cases[] = {
  { "unknown-source", "abd", "a", 8, ATTN_ERROR_UNKNOWN_TOKEN },
  { "unknown-target", "ab", "é", 8, ATTN_ERROR_UNKNOWN_TOKEN },
  /* max_len 4 holds 3 characters and </s> (or <s>) */
  { "source-too-long", "abca", "a", 4, ATTN_ERROR_BAD_TEXT },
  { "target-too-long", "a", "abca", 4, ATTN_ERROR_BAD_TEXT },
  { "empty", "", "a", 8, ATTN_ERROR_BAD_TEXT },
};

static void
test_batch_bad (gconstpointer data)
{
  const BadBatchCase *c = data;
  g_autoptr (AttnVocab) v = abc_vocab ();
  const char *sources[] = { "ab", c->source };
  const char *targets[] = { "ba", c->target };
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBatch) batch = attn_batch_encode (v, sources, targets, 2,
                                                   c->max_len, &error);
  g_assert_null (batch);
  g_assert_error (error, ATTN_ERROR, c->code);
  /* Exactly at the limit is fine. */
  const char *fit[] = { "abc" };
  g_autoptr (AttnBatch) ok = attn_batch_encode (v, fit, fit, 1, 4, NULL);
  g_assert_nonnull (ok);
}

/* Drawn batches: every row is a training example of the task with its
 * shifted targets, and the padding is as encode's. */
static void
test_batch_draw (void)
{
  g_autoptr (GArray) chars = attn_task_charset (ATTN_TASK_REVERSE);
  g_autoptr (AttnVocab) v = attn_vocab_new_from_chars (
    (const gunichar *) chars->data, chars->len);
  g_autoptr (GRand) rng = g_rand_new_with_seed (3);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBatch) batch = attn_batch_draw (ATTN_TASK_REVERSE,
                                                 ATTN_SPLIT_TRAIN, rng, v,
                                                 32, 13, &error);
  g_assert_no_error (error);
  int longest = 0;
  for (int b = 0; b < batch->B; b++)
    {
      const int *src = batch->src + b * batch->S;
      const int *in = batch->tgt_in + b * batch->T;
      const int *out = batch->tgt_out + b * batch->T;
      int ns = 0;
      while (src[ns] != ATTN_VOCAB_EOS)
        ns++;
      longest = MAX (longest, ns + 1);
      for (int s = ns + 1; s < batch->S; s++)
        g_assert_cmpint (src[s], ==, ATTN_VOCAB_PAD);
      g_assert_cmpint (in[0], ==, ATTN_VOCAB_BOS);
      g_assert_cmpint (out[ns], ==, ATTN_VOCAB_EOS);
      for (int t = 0; t < ns; t++)
        {
          /* reverse: target t is source ns - 1 - t; inputs shifted by 1 */
          g_assert_cmpint (out[t], ==, src[ns - 1 - t]);
          g_assert_cmpint (in[t + 1], ==, out[t]);
        }
      for (int t = ns + 1; t < batch->T; t++)
        {
          g_assert_cmpint (in[t], ==, ATTN_VOCAB_PAD);
          g_assert_cmpint (out[t], ==, -1);
        }
      g_autofree char *text = attn_vocab_decode (v, src, ns);
      g_autofree char *rev = g_utf8_strreverse (text, -1);
      g_assert_cmpint (attn_task_split_of (ATTN_TASK_REVERSE, text, rev), ==,
                       ATTN_SPLIT_TRAIN);
    }
  g_assert_cmpint (longest, ==, batch->S); /* padded to the longest only */
}

/* The lengths found by scanning bound every example drawn, and are reached
 * (by the longest formats). */
static void
test_max_chars (void)
{
  for (int task = 0; task < ATTN_TASK_COUNT; task++)
    {
      int ms, mt, seen_s = 0, seen_t = 0;
      attn_train_task_max_chars (task, &ms, &mt);
      g_autoptr (GRand) rng = g_rand_new_with_seed (11);
      for (int i = 0; i < 3000; i++)
        {
          g_autofree char *s = NULL, *t = NULL;
          attn_task_example (task, i % ATTN_SPLIT_COUNT, rng, &s, &t, NULL);
          seen_s = MAX (seen_s, (int) g_utf8_strlen (s, -1));
          seen_t = MAX (seen_t, (int) g_utf8_strlen (t, -1));
        }
      g_test_message ("%s: max %d / %d chars, seen %d / %d",
                      attn_task_name (task), ms, mt, seen_s, seen_t);
      g_assert_cmpint (seen_s, <=, ms);
      g_assert_cmpint (seen_t, <=, mt);
      /* 3000 draws come within a few characters of the longest. */
      g_assert_cmpint (seen_s, >=, ms - 6);
      g_assert_cmpint (seen_t, >=, mt - 6);
    }
  int ms, mt;
  attn_train_task_max_chars (ATTN_TASK_DIGITS_TO_WORDS, &ms, &mt);
  g_assert_cmpint (ms, ==, 4);
  /* "seven thousand seven hundred seventy-seven" */
  g_assert_cmpint (mt, ==, 42);
  attn_train_task_max_chars (ATTN_TASK_REVERSE, &ms, &mt);
  g_assert_cmpint (ms, ==, 12);
  g_assert_cmpint (mt, ==, 12);
}

/* ---- configuration -------------------------------------------------------- */

static void
test_config_json (void)
{
  AttnTrainConfig c;
  attn_train_config_init (&c, ATTN_TASK_SORT);
  c.steps = 1234;
  c.lr = 0.1 + 0.2; /* not representable in few digits */
  c.adam.decoupled = TRUE;
  c.adam.weight_decay = 0.01;
  c.seed = 4000000000u;
  c.probe_text = g_strdup ("b\"1a\n你");
  c.schedule = ATTN_LR_INV_SQRT;
  g_autofree char *json = attn_train_config_to_json (&c);
  AttnTrainConfig back;
  g_autoptr (GError) error = NULL;
  attn_train_config_from_json (json, &back, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back.task, ==, ATTN_TASK_SORT);
  g_assert_cmpint (back.steps, ==, 1234);
  g_assert_true (back.lr == c.lr); /* exactly */
  g_assert_true (back.adam.decoupled);
  g_assert_true (back.adam.weight_decay == 0.01);
  g_assert_cmpuint (back.seed, ==, 4000000000u);
  g_assert_cmpint (back.schedule, ==, ATTN_LR_INV_SQRT);
  g_assert_cmpstr (back.probe_text, ==, c.probe_text);
  g_assert_null (back.command);
  attn_train_config_clear (&back);

  /* A member out of range, or missing, is named. */
  c.warmup = c.steps + 1;
  g_assert_false (attn_train_config_validate (&c, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "warmup"));
  g_clear_error (&error);
  g_assert_false (attn_train_config_from_json ("{\"task\": \"sort\"}", &back,
                                               &error));
  g_assert_nonnull (strstr (error->message, "is missing"));
  attn_train_config_clear (&c);
}

static void
test_optim_path (void)
{
  g_autofree char *a = attn_train_optim_path ("/x/dates.safetensors");
  g_autofree char *b = attn_train_optim_path ("model");
  g_assert_cmpstr (a, ==, "/x/dates.optim.safetensors");
  g_assert_cmpstr (b, ==, "model.optim.safetensors");
}

/* ---- with a model ------------------------------------------------------------ */

/* The models the loop is checked with: determinism and resuming must hold
 * for both classes, with dropout (its generator is part of what a resume
 * must restore) and with several workers. */
typedef struct {
  const char *name;
  AttnArch arch;
  AttnMechanism attention; /* rnn */
  float dropout;
  int threads;
} ModelCase;

static const ModelCase model_cases[] = {
  { "transformer-1-thread", ATTN_ARCH_TRANSFORMER, 0, 0.0f, 1 },
  { "transformer-2-threads", ATTN_ARCH_TRANSFORMER, 0, 0.0f, 2 },
  { "transformer-dropout-3-threads", ATTN_ARCH_TRANSFORMER, 0, 0.1f, 3 },
  { "rnn-bahdanau-dropout-2-threads", ATTN_ARCH_RNN, ATTN_MECHANISM_ADDITIVE,
    0.1f, 2 },
  { "rnn-local-p-1-thread", ATTN_ARCH_RNN, ATTN_MECHANISM_LUONG_LOCAL_P,
    0.0f, 1 },
};

/* A tiny model for `reverse`: a Transformer of 1 + 1 layers, C 32, 4 heads,
 * or a GRU encoder-decoder of width 16. */
static AttnModel *
case_model (const ModelCase *mc, guint32 seed)
{
  AttnModelConfig config = { 0 };
  config.arch = mc->arch;
  config.dropout = mc->dropout;
  if (mc->arch == ATTN_ARCH_TRANSFORMER)
    {
      config.C = 32;
      config.NH = 4;
      config.L_enc = 1;
      config.L_dec = 1;
      config.F = 64;
    }
  else
    {
      config.E = 16;
      config.H = 16;
      config.attention = mc->attention;
      gboolean uses_a = mc->attention == ATTN_MECHANISM_ADDITIVE
                        || mc->attention == ATTN_MECHANISM_LUONG_CONCAT
                        || mc->attention == ATTN_MECHANISM_LUONG_LOCAL_P;
      config.A = uses_a ? 16 : 0;
      config.D = mc->attention == ATTN_MECHANISM_LUONG_LOCAL_P ? 3 : 0;
    }
  g_autoptr (GError) error = NULL;
  AttnModel *model = attn_train_new_model ("tiny-reverse", ATTN_TASK_REVERSE,
                                           &config, seed, &error);
  g_assert_no_error (error);
  return model;
}

static AttnModel *
tiny_model (guint32 seed)
{
  return case_model (&model_cases[0], seed);
}

static void
tiny_config (AttnTrainConfig *c, gint64 steps, int threads)
{
  attn_train_config_init (c, ATTN_TASK_REVERSE);
  c->steps = steps;
  c->batch = 16;
  c->warmup = MIN (5, steps);
  c->lr = 3e-3;
  c->threads = threads;
  c->eval_every = 0;
  c->eval_examples = 8;
  c->test_examples = 8;
  c->checkpoint_every = 0;
}

/* Every file a test writes goes here; removed at exit. */
static char *scratch_dir;

static char *
scratch (const char *file)
{
  if (scratch_dir == NULL)
    scratch_dir = attn_test_tmp_dir_new ("attn-train-XXXXXX");
  return g_build_filename (scratch_dir, file, NULL);
}

static void
remove_model (const char *path)
{
  g_autofree char *optim = attn_train_optim_path (path);
  g_unlink (path);
  g_unlink (optim);
}

/* Trains a fresh tiny model for `steps`; returns its parameters (n floats). */
static float *
train_params (const ModelCase *mc, guint32 seed, gint64 steps,
              const char *file, gsize *n)
{
  AttnTrainConfig c;
  tiny_config (&c, steps, mc->threads);
  c.seed = seed;
  g_autofree char *path = scratch (file);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrainer) t = attn_trainer_new (case_model (mc, 1), &c, path,
                                                &error);
  g_assert_no_error (error);
  ASSERT_OK (attn_trainer_run (t, NULL, &error));
  g_assert_no_error (error);
  attn_train_config_clear (&c);
  AttnModel *m = attn_trainer_get_model (t);
  *n = m->params->n_floats;
  remove_model (path);
  return g_memdup2 (m->params->memory, sizeof (float) * *n);
}

static void
test_deterministic (gconstpointer data)
{
  const ModelCase *mc = data;
  gsize n1, n2, n3;
  g_autofree float *a = train_params (mc, 5, 12, "det-a.safetensors", &n1);
  g_autofree float *b = train_params (mc, 5, 12, "det-b.safetensors", &n2);
  g_autofree float *c = train_params (mc, 6, 12, "det-c.safetensors", &n3);
  g_assert_cmpmem (a, n1 * sizeof (float), b, n2 * sizeof (float));
  /* Another seed draws other data: the comparison above could fail. */
  g_assert_true (memcmp (a, c, n1 * sizeof (float)) != 0);
}

typedef struct {
  gint64 stop_at;
  GCancellable *cancellable;
  gint64 last_step;
  int calls;
  gboolean saw_checkpoint;
  GThread *thread; /* the thread progress must arrive in */
} StopAt;

static void
stop_at_progress (AttnTrainProgress *p, gpointer data)
{
  StopAt *s = data;
  g_assert_true (g_thread_self () == s->thread);
  g_assert_cmpint (p->step, ==, s->last_step + 1);
  g_assert_true (isfinite (p->loss) && p->loss > 0.0f);
  g_assert_true (p->lr > 0.0);
  s->last_step = p->step;
  s->calls++;
  s->saw_checkpoint |= p->checkpointed;
  if (p->step == s->stop_at)
    g_cancellable_cancel (s->cancellable);
}

/* 2N steps in one go equal N steps, a cancel, a resume and N more, bit for
 * bit; the cancelled run leaves a loadable checkpoint of step N. */
static void
test_resume (gconstpointer data)
{
  const ModelCase *mc = data;
  int threads = mc->threads;
  const gint64 N = 6;
  g_autofree char *full_path = scratch ("resume-full.safetensors");
  g_autofree char *half_path = scratch ("resume-half.safetensors");
  AttnTrainConfig c;
  tiny_config (&c, 2 * N, threads);
  c.checkpoint_every = 4; /* a checkpoint before the stop, too */
  c.adam.weight_decay = 0.01;
  c.adam.decoupled = TRUE;
  g_autoptr (GError) error = NULL;

  g_autoptr (AttnTrainer) full = attn_trainer_new (case_model (mc, 2), &c,
                                                   full_path, &error);
  g_assert_no_error (error);
  ASSERT_OK (attn_trainer_run (full, NULL, &error));
  AttnModel *want = attn_trainer_get_model (full);

  g_autoptr (AttnTrainer) half = attn_trainer_new (case_model (mc, 2), &c,
                                                   half_path, &error);
  g_assert_no_error (error);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  StopAt stop = { N, cancellable, 0, 0, FALSE, g_thread_self () };
  attn_trainer_set_progress_func (half, stop_at_progress, &stop, NULL);
  g_assert_false (attn_trainer_run (half, cancellable, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_CANCELLED);
  g_assert_nonnull (strstr (error->message, "step 6 of 12"));
  g_clear_error (&error);
  g_assert_cmpint (stop.calls, ==, N);
  g_assert_true (stop.saw_checkpoint);
  g_assert_cmpint (attn_trainer_get_step (half), ==, N);

  /* The checkpoint on disk is the model as it stopped. */
  AttnModel *stopped = attn_trainer_get_model (half);
  g_autoptr (AttnModel) kept = attn_model_load (half_path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (kept->params->memory,
                   kept->params->n_floats * sizeof (float),
                   stopped->params->memory,
                   stopped->params->n_floats * sizeof (float));
  g_assert_nonnull (strstr (kept->card_json, "\"status\":\"checkpoint\""));
  g_assert_nonnull (strstr (kept->card_json, "\"steps\":6"));

  g_autoptr (AttnTrainer) resumed = attn_trainer_new_resume (half_path,
                                                             &error);
  g_assert_no_error (error);
  g_assert_cmpint (attn_trainer_get_step (resumed), ==, N);
  g_assert_cmpint (attn_trainer_get_config (resumed)->threads, ==, threads);
  ASSERT_OK (attn_trainer_run (resumed, NULL, &error));
  g_assert_no_error (error);
  AttnModel *got = attn_trainer_get_model (resumed);
  g_assert_cmpuint (got->params->n_floats, ==, want->params->n_floats);
  g_assert_cmpmem (got->params->memory,
                   got->params->n_floats * sizeof (float),
                   want->params->memory,
                   want->params->n_floats * sizeof (float));

  /* The final file carries the card. */
  g_autoptr (AttnModel) final = attn_model_load (half_path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (final->card_json, "\"status\":\"final\""));
  g_assert_nonnull (strstr (final->card_json, "\"task\":\"reverse\""));
  g_assert_nonnull (strstr (final->card_json, "\"test_accuracy\""));

  attn_train_config_clear (&c);
  remove_model (full_path);
  remove_model (half_path);
}

/* A model file and a sidecar of different steps are refused; a missing
 * sidecar is an IO error. */
static void
test_resume_mismatch (void)
{
  g_autofree char *path = scratch ("mismatch.safetensors");
  g_autofree char *other = scratch ("mismatch-other.safetensors");
  AttnTrainConfig c;
  tiny_config (&c, 3, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrainer) a = attn_trainer_new (tiny_model (3), &c, path,
                                                &error);
  g_assert_no_error (error);
  ASSERT_OK (attn_trainer_run (a, NULL, &error));
  c.steps = 4;
  g_autoptr (AttnTrainer) b = attn_trainer_new (tiny_model (3), &c, other,
                                                &error);
  g_assert_no_error (error);
  ASSERT_OK (attn_trainer_run (b, NULL, &error));
  g_assert_no_error (error);

  /* other's model with path's sidecar */
  g_autofree char *optim = attn_train_optim_path (path);
  g_autofree char *other_optim = attn_train_optim_path (other);
  g_assert_cmpint (g_rename (optim, other_optim), ==, 0);
  g_autoptr (AttnTrainer) bad = attn_trainer_new_resume (other, &error);
  g_assert_null (bad);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE);
  g_assert_nonnull (strstr (error->message, "other parameters"));
  g_clear_error (&error);

  g_autoptr (AttnTrainer) none = attn_trainer_new_resume (path, &error);
  g_assert_null (none);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  attn_train_config_clear (&c);
  remove_model (path);
  remove_model (other);
}

/* ---- in a worker thread ----------------------------------------------------- */

typedef struct {
  GMainLoop *loop;
  AttnTrainer *trainer;
  GError *error;
  gboolean ok;
  gboolean finished;
  StopAt *stop;
} AsyncRun;

static void
async_done (GObject *source, GAsyncResult *result, gpointer data)
{
  AsyncRun *r = data;
  /* Every progress came before this. */
  g_assert_cmpint (r->stop->last_step, ==, attn_trainer_get_step (r->trainer));
  r->ok = attn_trainer_run_finish (r->trainer, result, &r->error);
  r->finished = TRUE;
  g_main_loop_quit (r->loop);
}

static void
test_async_cancel (void)
{
  g_autofree char *path = scratch ("async.safetensors");
  AttnTrainConfig c;
  tiny_config (&c, 1000, 2);
  c.probe_every = 2;
  c.probe_text = g_strdup ("abc123");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrainer) t = attn_trainer_new (tiny_model (4), &c, path,
                                                &error);
  g_assert_no_error (error);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  StopAt stop = { 4, cancellable, 0, 0, FALSE, g_thread_self () };
  attn_trainer_set_progress_func (t, stop_at_progress, &stop, NULL);

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  AsyncRun r = { loop, t, NULL, FALSE, FALSE, &stop };
  attn_trainer_run_async (t, cancellable, async_done, &r);
  g_main_loop_run (loop);
  g_assert_true (r.finished);
  g_assert_false (r.ok);
  g_assert_error (r.error, ATTN_ERROR, ATTN_ERROR_CANCELLED);
  g_clear_error (&r.error);
  /* The worker may have finished a step or so after the one that
   * cancelled, never more than the one in progress. */
  gint64 step = attn_trainer_get_step (t);
  g_assert_cmpint (step, >=, 4);
  g_assert_cmpint (step, <=, 5);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_autoptr (AttnModel) kept = attn_model_load (path, &error);
  g_assert_no_error (error);
  g_autofree char *steps = g_strdup_printf ("\"steps\":%" G_GINT64_FORMAT,
                                            step);
  g_assert_nonnull (strstr (kept->card_json, steps));
  attn_train_config_clear (&c);
  remove_model (path);
}

/* Probe traces arrive every probe_every steps, complete. */
typedef struct {
  int traces;
} ProbeSeen;

static void
probe_progress (AttnTrainProgress *p, gpointer data)
{
  ProbeSeen *seen = data;
  if (p->step % 3 != 0)
    {
      g_assert_null (p->probe);
      return;
    }
  g_assert_nonnull (p->probe);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (p->probe, &error));
  g_assert_cmpstr (p->probe->source_text, ==, "ab12");
  g_assert_nonnull (attn_trace_lookup_block (p->probe, ATTN_KIND_CROSS, 0));
  /* Taking it is allowed. */
  AttnTrace *taken = g_steal_pointer (&p->probe);
  attn_trace_free (taken);
  seen->traces++;
}

static void
test_probe (void)
{
  g_autofree char *path = scratch ("probe.safetensors");
  AttnTrainConfig c;
  tiny_config (&c, 7, 1);
  c.probe_every = 3;
  c.probe_text = g_strdup ("ab12");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrainer) t = attn_trainer_new (tiny_model (5), &c, path,
                                                &error);
  g_assert_no_error (error);
  ProbeSeen seen = { 0 };
  attn_trainer_set_progress_func (t, probe_progress, &seen, NULL);
  ASSERT_OK (attn_trainer_run (t, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (seen.traces, ==, 2);

  /* A probe the model cannot take fails before any step. */
  g_autoptr (AttnTrainer) u = attn_trainer_new (tiny_model (5), &c, path,
                                                &error);
  g_assert_no_error (error);
  AttnTrainConfig *uc = attn_trainer_get_config (u);
  g_free (uc->probe_text);
  uc->probe_text = g_strdup ("abcdefghijklmnopq"); /* 17 > 12 characters */
  g_assert_false (attn_trainer_run (u, NULL, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_assert_cmpint (attn_trainer_get_step (u), ==, 0);
  attn_train_config_clear (&c);
  remove_model (path);
}

/* ---- learning --------------------------------------------------------------- */

/* Steps and bounds of the learning test (C 32, 1 + 1 layers, batch 32,
 * lr 3e-3, 2 workers): the run is deterministic, the bounds leave room
 * for kernels that round differently. */
#define LEARN_STEPS 1000
#define LEARN_LOSS_BOUND 0.1f   /* mean of the last 20 steps; measured 0.017 */
#define LEARN_EXACT_BOUND 0.9   /* greedy exact match of 200; measured 0.985 */

typedef struct {
  float loss_sum;
  int n;
  float first_loss;
} LossTail;

static void
loss_tail (AttnTrainProgress *p, gpointer data)
{
  LossTail *tail = data;
  if (p->step == 1)
    tail->first_loss = p->loss;
  if (p->step > p->steps - 20)
    {
      tail->loss_sum += p->loss;
      tail->n++;
    }
}

static void
test_learns_reverse (void)
{
  g_autofree char *path = scratch ("learn.safetensors");
  AttnTrainConfig c;
  tiny_config (&c, LEARN_STEPS, 2);
  c.batch = 32;
  c.warmup = 40;
  c.lr = 3e-3;
  c.test_examples = 200;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrainer) t = attn_trainer_new (tiny_model (6), &c, path,
                                                &error);
  g_assert_no_error (error);
  LossTail tail = { 0 };
  attn_trainer_set_progress_func (t, loss_tail, &tail, NULL);
  gint64 begin = g_get_monotonic_time ();
  ASSERT_OK (attn_trainer_run (t, NULL, &error));
  g_assert_no_error (error);
  float loss = tail.loss_sum / tail.n;

  AttnEvalResult val;
  ASSERT_OK (attn_train_evaluate (attn_trainer_get_model (t),
                                      ATTN_TASK_REVERSE, ATTN_SPLIT_VALIDATION,
                                      200, 1, 2, NULL, &val, &error));
  const AttnEvalResult *test = attn_trainer_get_test_result (t);
  g_test_message ("reverse, %d steps in %.1f s: loss %.3f -> %.3f; "
                  "validation exact %.3f token %.3f; test exact %.3f",
                  LEARN_STEPS, (g_get_monotonic_time () - begin) / 1e6,
                  tail.first_loss, loss, val.exact_match,
                  val.token_accuracy, test->exact_match);
  /* ln (V = 40) = 3.7 at the start. */
  g_assert_cmpfloat (tail.first_loss, >, 3.0f);
  g_assert_cmpfloat (loss, <, LEARN_LOSS_BOUND);
  g_assert_cmpfloat (val.exact_match, >, LEARN_EXACT_BOUND);
  g_assert_cmpint (test->n, ==, 200);
  g_assert_cmpfloat (test->exact_match, >, LEARN_EXACT_BOUND);
  attn_train_config_clear (&c);
  remove_model (path);
}

/* Evaluation counts do not depend on the number of workers, and agree with
 * translating the same examples one by one. */
static void
test_evaluate (void)
{
  g_autoptr (AttnModel) m = tiny_model (8);
  AttnEvalResult one, two;
  g_autoptr (GError) error = NULL;
  ASSERT_OK (attn_train_evaluate (m, ATTN_TASK_REVERSE, ATTN_SPLIT_TEST,
                                      30, 9, 1, NULL, &one, &error));
  ASSERT_OK (attn_train_evaluate (m, ATTN_TASK_REVERSE, ATTN_SPLIT_TEST,
                                      30, 9, 3, NULL, &two, &error));
  g_assert_no_error (error);
  g_assert_cmpint (one.n, ==, 30);
  g_assert_cmpint (one.exact, ==, two.exact);
  g_assert_cmpfloat (one.token_accuracy, ==, two.token_accuracy);
  g_assert_cmpfloat (one.exact_match, ==, one.exact / 30.0);
  /* An untrained model: token accuracy near chance (1/40), never 1. */
  g_assert_cmpfloat (one.token_accuracy, <, 0.5);

  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_cancellable_cancel (cancellable);
  g_assert_false (attn_train_evaluate (m, ATTN_TASK_REVERSE, ATTN_SPLIT_TEST,
                                       30, 9, 2, cancellable, &one, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (lr_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/train/schedule/%s",
                                               lr_cases[i].name);
      g_test_add_data_func (path, &lr_cases[i], test_schedule);
    }
  g_test_add_func ("/attn/train/schedule-names", test_schedule_names);
  g_test_add_func ("/attn/train/clip", test_clip);
  g_test_add_func ("/attn/train/batch/encode", test_batch_encode);
  for (guint i = 0; i < G_N_ELEMENTS (bad_batch_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/train/batch/%s",
                                               bad_batch_cases[i].name);
      g_test_add_data_func (path, &bad_batch_cases[i], test_batch_bad);
    }
  g_test_add_func ("/attn/train/batch/draw", test_batch_draw);
  g_test_add_func ("/attn/train/max-chars", test_max_chars);
  g_test_add_func ("/attn/train/config-json", test_config_json);
  g_test_add_func ("/attn/train/optim-path", test_optim_path);
  g_test_add_func ("/attn/train/evaluate", test_evaluate);
  for (guint i = 0; i < G_N_ELEMENTS (model_cases); i++)
    {
      g_autofree char *det = g_strdup_printf ("/attn/train/deterministic/%s",
                                              model_cases[i].name);
      g_autofree char *res = g_strdup_printf ("/attn/train/resume/%s",
                                              model_cases[i].name);
      g_test_add_data_func (det, &model_cases[i], test_deterministic);
      g_test_add_data_func (res, &model_cases[i], test_resume);
    }
  g_test_add_func ("/attn/train/resume-mismatch", test_resume_mismatch);
  g_test_add_func ("/attn/train/async-cancel", test_async_cancel);
  g_test_add_func ("/attn/train/probe", test_probe);
  g_test_add_func ("/attn/train/learns-reverse", test_learns_reverse);

  int status = g_test_run ();
  if (scratch_dir != NULL)
    {
      attn_test_tmp_dir_remove (scratch_dir);
      g_free (scratch_dir);
    }
  return status;
}
