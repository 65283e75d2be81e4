/* attn-bench-decode.c: time per sentence of decoding on dates-sized
 * built-in models, incremental (the classes' encode / step hooks,
 * attn_decode_state_*) against running forward on the whole prefix at
 * every step (what decoding did before the hooks, and still does for a
 * class without them).
 *
 *   build/bench/attn-bench-decode [--sentences 200] [--steps 11]
 *       [--beam 4] [--reps 3]
 *
 * Models: fresh (seed 1) dates models of the sizes attnscope-cli train
 * makes: a Transformer (C 128, 4 heads, 2 + 2 layers, F 256, post- and
 * pre-norm) and the RNN (E 64, H 128, A 128) with Bahdanau and with Luong
 * general attention. Untrained weights rarely say </s>, so every figure
 * stops at a fixed number of emitted tokens (--steps, 11: an ISO date and
 * </s>) to be comparable. Sources: dates test-split sources (seed 7).
 * Figures, milliseconds per sentence, best of --reps passes over all
 * sentences, on the OpenBLAS threads the process has
 * (OPENBLAS_NUM_THREADS), as wall clock and as the process's CPU time
 * (which, with one thread, is what an idle machine would take; the
 * speed-up is the CPU time's):
 *   decode   greedy decoding alone: forward on <s> + prefix per step, vs
 *            encode once + one step per token (the two must agree on
 *            every token: the program fails otherwise);
 *   run      attn_model_run, greedy: decoding, then the one teacher-forced
 *            forward that fills the trace, and the trace;
 *   beam     attn_model_beam_search of width --beam (with each
 *            hypothesis's cross-attention rows from one forward). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/attn-model.h"
#include "core/attn-task.h"
#include "core/attn-train.h"

typedef struct {
  const char *name;
  AttnModelConfig config;
} BenchModel;

static const BenchModel models[] = {
  { "transformer post-norm",
    { .arch = ATTN_ARCH_TRANSFORMER, .C = 128, .NH = 4, .L_enc = 2,
      .L_dec = 2, .F = 256, .dropout = 0.1f } },
  { "transformer pre-norm",
    { .arch = ATTN_ARCH_TRANSFORMER, .C = 128, .NH = 4, .L_enc = 2,
      .L_dec = 2, .F = 256, .pre_norm = TRUE, .dropout = 0.1f } },
  { "rnn bahdanau",
    { .arch = ATTN_ARCH_RNN, .E = 64, .H = 128, .A = 128,
      .attention = ATTN_MECHANISM_ADDITIVE } },
  { "rnn luong-general",
    { .arch = ATTN_ARCH_RNN, .E = 64, .H = 128,
      .attention = ATTN_MECHANISM_LUONG_GENERAL } },
};

typedef struct {
  int n;
  char **texts; /* (n) */
  int **src;    /* (n) source ids, </s> last */
  int *S;       /* (n) */
} Sources;

static int
argmax (const float *x, int n)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best])
      best = i;
  return best;
}

/* out (steps): greedy tokens by forward on the whole prefix each step. */
static void
decode_recompute (AttnModel *m, const int *src, int S, int steps, int *out,
                  int *tgt, float *logits)
{
  /* tgt (steps), logits (steps, V) */
  const int V = m->config.V;
  tgt[0] = ATTN_VOCAB_BOS;
  for (int t = 0; t < steps; t++)
    {
      m->klass->forward (m, src, S, tgt, t + 1, logits, NULL);
      out[t] = argmax (logits + (gsize) t * V, V);
      if (t + 1 < steps)
        tgt[t + 1] = out[t];
    }
}

/* out (steps): greedy tokens by the incremental decoder. */
static void
decode_incremental (AttnModel *m, const int *src, int S, int steps,
                    int *out, float *logits)
{
  /* logits (V) */
  g_autoptr (AttnDecodeState) st = attn_decode_state_new (m, src, S);
  int input = ATTN_VOCAB_BOS;
  for (int t = 0; t < steps; t++)
    {
      attn_decode_state_step (st, input, logits);
      out[t] = input = argmax (logits, m->config.V);
    }
}

typedef enum { FIG_DECODE, FIG_RUN, FIG_BEAM } Figure;

/* CPU seconds of the process: on a loaded machine, what a pass would
 * take on an idle one (with one OpenBLAS thread). */
static double
cpu_now (void)
{
  struct timespec t;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

typedef struct {
  double wall; /* milliseconds per sentence */
  double cpu;
} Timing;

/* One pass over every source. */
static Timing
time_pass (AttnModel *m, const Sources *src, Figure fig, gboolean recompute,
           int steps, int beam, int *tokens)
{
  /* tokens (n, steps): what decode produced */
  const int V = m->config.V;
  g_autofree int *tgt = g_new (int, steps);
  g_autofree float *logits = g_new (float, (gsize) steps * V);
  AttnRunOptions o = ATTN_RUN_OPTIONS_INIT;
  o.max_steps = steps;
  o.recompute_prefix = recompute;
  o.beam_width = fig == FIG_BEAM ? beam : 1;
  gint64 start = g_get_monotonic_time ();
  double cpu_start = cpu_now ();
  for (int i = 0; i < src->n; i++)
    {
      g_autoptr (GError) error = NULL;
      int *out = tokens + (gsize) i * steps;
      switch (fig)
        {
        case FIG_DECODE:
          if (recompute)
            decode_recompute (m, src->src[i], src->S[i], steps, out, tgt,
                              logits);
          else
            decode_incremental (m, src->src[i], src->S[i], steps, out,
                                logits);
          break;
        case FIG_RUN:
          {
            g_autoptr (AttnTrace) trace = attn_model_run (m, src->texts[i],
                                                          &o, NULL, &error);
            if (trace == NULL)
              g_error ("run: %s", error->message);
            break;
          }
        case FIG_BEAM:
          {
            g_autoptr (GPtrArray) hyps = attn_model_beam_search (
                m, src->src[i], src->S[i], &o, &error);
            if (hyps == NULL)
              g_error ("beam search: %s", error->message);
            break;
          }
        }
    }
  Timing t = { (g_get_monotonic_time () - start) / 1000.0 / src->n,
                (cpu_now () - cpu_start) * 1000.0 / src->n };
  return t;
}

static Timing
best_of (AttnModel *m, const Sources *src, Figure fig, gboolean recompute,
         int steps, int beam, int reps, int *tokens)
{
  Timing best = { G_MAXDOUBLE, G_MAXDOUBLE };
  for (int r = 0; r < reps; r++)
    {
      Timing t = time_pass (m, src, fig, recompute, steps, beam, tokens);
      best.wall = MIN (best.wall, t.wall);
      best.cpu = MIN (best.cpu, t.cpu);
    }
  return best;
}

static void
sources_load (Sources *s, AttnModel *m, int n)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  s->n = n;
  s->texts = g_new0 (char *, n);
  s->src = g_new0 (int *, n);
  s->S = g_new0 (int, n);
  for (int i = 0; i < n; i++)
    {
      g_autofree char *target = NULL;
      attn_task_example (ATTN_TASK_DATES, ATTN_SPLIT_TEST, rng, &s->texts[i],
                         &target, NULL);
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
      g_autoptr (GError) error = NULL;
      if (!attn_vocab_encode (m->vocab, s->texts[i], ids, NULL, NULL,
                              &error))
        g_error ("%s", error->message);
      int eos = ATTN_VOCAB_EOS;
      g_array_append_val (ids, eos);
      s->S[i] = (int) ids->len;
      s->src[i] = (int *) g_array_free (g_steal_pointer (&ids), FALSE);
    }
}

static void
sources_clear (Sources *s)
{
  for (int i = 0; i < s->n; i++)
    {
      g_free (s->texts[i]);
      g_free (s->src[i]);
    }
  g_free (s->texts);
  g_free (s->src);
  g_free (s->S);
}

int
main (int argc, char **argv)
{
  int sentences = 200, steps = 11, beam = 4, reps = 3;
  GOptionEntry entries[] = {
    { "sentences", 0, 0, G_OPTION_ARG_INT, &sentences,
      "test-split sources decoded (200)", "N" },
    { "steps", 0, 0, G_OPTION_ARG_INT, &steps,
      "tokens emitted per sentence (11)", "N" },
    { "beam", 0, 0, G_OPTION_ARG_INT, &beam, "beam width (4)", "W" },
    { "reps", 0, 0, G_OPTION_ARG_INT, &reps, "passes, best taken (3)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "- time decoding, incremental vs prefix recompute");
  g_option_context_add_main_entries (context, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 2;
    }
  if (sentences < 1 || steps < 1 || beam < 1 || reps < 1)
    {
      fprintf (stderr, "--sentences, --steps, --beam and --reps must be "
                       ">= 1\n");
      return 2;
    }

  printf ("decoding, dates test sources, %d emitted tokens per sentence, "
          "%d OpenBLAS thread%s, best of %d passes over %d sentences\n",
          steps, openblas_get_num_threads (),
          openblas_get_num_threads () == 1 ? "" : "s", reps, sentences);
  printf ("milliseconds per sentence, wall clock and (in brackets) CPU time "
          "of the process\n");
  printf ("%-22s %-7s %20s %20s %8s\n", "model", "figure", "recompute",
          "incremental", "speed-up");
  for (guint k = 0; k < G_N_ELEMENTS (models); k++)
    {
      g_autoptr (AttnModel) m = attn_train_new_model (
          "bench", ATTN_TASK_DATES, &models[k].config, 1, &error);
      if (m == NULL)
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      if (steps > m->config.max_len - 1)
        {
          fprintf (stderr, "--steps is at most %d\n", m->config.max_len - 1);
          return 2;
        }
      Sources src = { 0 };
      sources_load (&src, m, sentences);
      double mean_S = 0;
      for (int i = 0; i < src.n; i++)
        mean_S += src.S[i];
      mean_S /= src.n;

      g_autofree int *a = g_new (int, (gsize) sentences * steps);
      g_autofree int *b = g_new (int, (gsize) sentences * steps);
      static const char *const names[] = { "decode", "run", "beam" };
      for (Figure fig = FIG_DECODE; fig <= FIG_BEAM; fig++)
        {
          Timing before = best_of (m, &src, fig, TRUE, steps, beam, reps, a);
          Timing after = best_of (m, &src, fig, FALSE, steps, beam, reps, b);
          if (fig == FIG_DECODE
              && memcmp (a, b, (gsize) sentences * steps * sizeof (int)) != 0)
            {
              fprintf (stderr, "%s: the incremental decoder emitted other "
                               "tokens than the recompute\n",
                       models[k].name);
              return 1;
            }
          char label[32];
          if (fig == FIG_BEAM)
            g_snprintf (label, sizeof label, "beam %d", beam);
          else
            g_strlcpy (label, names[fig], sizeof label);
          printf ("%-22s %-7s %9.3f (%8.3f) %9.3f (%8.3f) %7.1fx\n",
                  models[k].name, label, before.wall, before.cpu, after.wall,
                  after.cpu, before.cpu / after.cpu);
        }
      printf ("%-22s (V %d, max_len %d, mean S %.1f)\n", "", m->config.V,
              m->config.max_len, mean_S);
      sources_clear (&src);
    }
  return 0;
}
