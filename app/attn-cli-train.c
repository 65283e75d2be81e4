/* attn-cli-train.c: `attnscope-cli train` (docs/cli.md, "train"): its
 * options, the training run in a worker thread with a progress bar or
 * plain progress lines, and Ctrl-C. */
#include "app/attn-cli-train.h"
#include "app/attn-cli-progress.h"

#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib-unix.h>

#include "core/attn-error.h"
#include "core/attn-model.h"
#include "core/attn-train.h"

/* Defaults (docs/cli.md): sized so that the shipped models train in well
 * under 30 minutes on two cores. */
#define DEFAULT_LAYERS 2
#define DEFAULT_HEADS 4
#define DEFAULT_D_MODEL 64
#define DEFAULT_EMBED 64
#define DEFAULT_HIDDEN 128
#define DEFAULT_WINDOW 4

struct _AttnCliTrain {
  /* As GOption leaves them: strings (checked below) and flags. */
  char *task, *arch, *attention, *layers, *heads, *d_model, *d_ff, *hidden;
  char *embed, *window, *dropout, *steps, *batch, *lr, *warmup, *schedule;
  char *min_lr, *weight_decay, *clip, *label_smoothing, *seed, *threads;
  char *eval_every, *eval_examples, *test_examples, *checkpoint_every;
  char *name;
  gboolean pre_norm, adamw, resume;
  GOptionEntry *entries;

  /* What attn_cli_train_check made of them. */
  AttnTask task_value;
  AttnModelConfig model;
  char *model_name;
  AttnTrainConfig config;
  gboolean have_config;
};

#define RAW(field) G_STRUCT_OFFSET (AttnCliTrain, field)

typedef struct {
  gsize offset;
  const char *long_name;
  GOptionArg arg;
  const char *description;
  const char *arg_description;
} TrainOption;

static const TrainOption train_options[] = {
  { RAW (task), "task", G_OPTION_ARG_FILENAME,
    "dates, numbers-to-digits, digits-to-words, reverse or sort", "TASK" },
  { RAW (arch), "arch", G_OPTION_ARG_FILENAME, "transformer or rnn",
    "ARCH" },
  { RAW (attention), "attention", G_OPTION_ARG_FILENAME,
    "rnn: bahdanau (default), luong-dot, luong-general, luong-concat or "
    "local-p", "NAME" },
  { RAW (layers), "layers", G_OPTION_ARG_FILENAME,
    "transformer: encoder and decoder layers (default 2)", "N" },
  { RAW (heads), "heads", G_OPTION_ARG_FILENAME,
    "transformer: attention heads (default 4)", "NH" },
  { RAW (d_model), "d-model", G_OPTION_ARG_FILENAME,
    "transformer: model width (default 64)", "C" },
  { RAW (d_ff), "d-ff", G_OPTION_ARG_FILENAME,
    "transformer: feed-forward width (default 4 x d-model)", "F" },
  { RAW (pre_norm), "pre-norm", G_OPTION_ARG_NONE,
    "transformer: LayerNorm before each sublayer (default after)", NULL },
  { RAW (hidden), "hidden", G_OPTION_ARG_FILENAME,
    "rnn: GRU width, and of the attention's hidden layer (default 128)",
    "H" },
  { RAW (embed), "embed", G_OPTION_ARG_FILENAME,
    "rnn: embedding width (default 64)", "E" },
  { RAW (window), "window", G_OPTION_ARG_FILENAME,
    "rnn local-p: window half-width D (default 4)", "D" },
  { RAW (dropout), "dropout", G_OPTION_ARG_FILENAME,
    "Dropout while training (default 0)", "P" },
  { RAW (steps), "steps", G_OPTION_ARG_FILENAME,
    "Optimiser steps (default 3000)", "N" },
  { RAW (batch), "batch", G_OPTION_ARG_FILENAME,
    "Examples per step (default 64)", "B" },
  { RAW (lr), "lr", G_OPTION_ARG_FILENAME,
    "Peak learning rate (default 0.001)", "RATE" },
  { RAW (warmup), "warmup", G_OPTION_ARG_FILENAME,
    "Steps of linear warm-up (default 200)", "N" },
  { RAW (schedule), "schedule", G_OPTION_ARG_FILENAME,
    "After warm-up: cosine (default), inv-sqrt or constant", "NAME" },
  { RAW (min_lr), "min-lr", G_OPTION_ARG_FILENAME,
    "Where the cosine ends (default 1e-5)", "RATE" },
  { RAW (weight_decay), "weight-decay", G_OPTION_ARG_FILENAME,
    "Weight decay (default 0)", "W" },
  { RAW (adamw), "adamw", G_OPTION_ARG_NONE,
    "Decoupled weight decay (AdamW) instead of L2", NULL },
  { RAW (clip), "clip", G_OPTION_ARG_FILENAME,
    "Clip gradients to this global norm; 0: never (default 1)", "NORM" },
  { RAW (label_smoothing), "label-smoothing", G_OPTION_ARG_FILENAME,
    "Label smoothing, 0 to below 1 (default 0)", "EPS" },
  { RAW (seed), "seed", G_OPTION_ARG_FILENAME,
    "Seed of the weights, data and dropout (default 1)", "N" },
  { RAW (threads), "threads", G_OPTION_ARG_FILENAME,
    "Worker threads (default: the processors); results depend on it",
    "N" },
  { RAW (eval_every), "eval-every", G_OPTION_ARG_FILENAME,
    "Validate (and show the probe) every N steps; 0: never (default 500)",
    "N" },
  { RAW (eval_examples), "eval-examples", G_OPTION_ARG_FILENAME,
    "Examples of each validation (default 200)", "N" },
  { RAW (test_examples), "test-examples", G_OPTION_ARG_FILENAME,
    "Examples of the final test, in the card (default 1000)", "N" },
  { RAW (checkpoint_every), "checkpoint-every", G_OPTION_ARG_FILENAME,
    "Write a checkpoint every N steps; 0: only at the end (default 1000)",
    "N" },
  { RAW (name), "name", G_OPTION_ARG_FILENAME,
    "Model name (default TASK-ARCH, or TASK-ATTENTION for rnn)", "NAME" },
  { RAW (resume), "resume", G_OPTION_ARG_NONE,
    "Continue the checkpoint in -o FILE with its own settings", NULL },
};

AttnCliTrain *
attn_cli_train_new (void)
{
  AttnCliTrain *t = g_new0 (AttnCliTrain, 1);
  t->entries = g_new0 (GOptionEntry, G_N_ELEMENTS (train_options) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (train_options); i++)
    {
      const TrainOption *o = &train_options[i];
      t->entries[i] = (GOptionEntry){
        o->long_name, 0, 0, o->arg, G_STRUCT_MEMBER_P (t, o->offset),
        o->description, o->arg_description,
      };
    }
  return t;
}

void
attn_cli_train_free (AttnCliTrain *t)
{
  if (t == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (train_options); i++)
    if (train_options[i].arg == G_OPTION_ARG_FILENAME)
      g_free (G_STRUCT_MEMBER (char *, t, train_options[i].offset));
  g_free (t->entries);
  g_free (t->model_name);
  if (t->have_config)
    attn_train_config_clear (&t->config);
  g_free (t);
}

void
attn_cli_train_add_entries (AttnCliTrain *t, GOptionContext *context)
{
  g_option_context_add_main_entries (context, t->entries, NULL);
}

/* ---- checks ---------------------------------------------------------------- */

static gboolean
usage (GError **error, AttnCliErrorCode code, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
usage (GError **error, AttnCliErrorCode code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, ATTN_CLI_ERROR, code, message);
  return FALSE;
}

/* A finite decimal number (exponents allowed: 3e-4) in [min, max]. */
static gboolean
parse_double (const char *option, const char *value, double min, double max,
              double *out, GError **error)
{
  char *end = NULL;
  double v = value[0] != '\0' && !g_ascii_isspace (value[0])
               ? g_ascii_strtod (value, &end)
               : NAN;
  if (end == NULL || *end != '\0' || !isfinite (v))
    {
      g_autofree char *shown = g_utf8_make_valid (value, -1);
      return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                    "%s “%s” is not a number", option, shown);
    }
  if (v < min || v > max)
    return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                  "%s %g out of range: expected %g to %g", option, v, min,
                  max);
  *out = v;
  return TRUE;
}

static gboolean
int_option (const char *option, const char *value, int min, int max,
            int *out, GError **error)
{
  return value == NULL
         || attn_cli_parse_int (option, value, min, max, out, error);
}

static gboolean
int64_option (const char *option, const char *value, int min, int max,
              gint64 *out, GError **error)
{
  int v = 0;
  if (value == NULL)
    return TRUE;
  if (!attn_cli_parse_int (option, value, min, max, &v, error))
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
double_option (const char *option, const char *value, double min,
               double max, double *out, GError **error)
{
  return value == NULL
         || parse_double (option, value, min, max, out, error);
}

typedef struct {
  const char *name;     /* as the CLI spells it */
  AttnMechanism mechanism;
} AttentionName;

static const AttentionName attention_names[] = {
  { "bahdanau", ATTN_MECHANISM_ADDITIVE },
  { "luong-dot", ATTN_MECHANISM_LUONG_DOT },
  { "luong-general", ATTN_MECHANISM_LUONG_GENERAL },
  { "luong-concat", ATTN_MECHANISM_LUONG_CONCAT },
  { "local-p", ATTN_MECHANISM_LUONG_LOCAL_P },
};

/* The options that shape the model or the data: refused with --resume,
 * whose checkpoint fixes them. */
static const char *
first_shaping_option (const AttnCliTrain *t)
{
  const struct {
    gboolean given;
    const char *name;
  } shaping[] = {
    { t->task != NULL, "--task" }, { t->arch != NULL, "--arch" },
    { t->attention != NULL, "--attention" },
    { t->layers != NULL, "--layers" }, { t->heads != NULL, "--heads" },
    { t->d_model != NULL, "--d-model" }, { t->d_ff != NULL, "--d-ff" },
    { t->pre_norm, "--pre-norm" }, { t->hidden != NULL, "--hidden" },
    { t->embed != NULL, "--embed" }, { t->window != NULL, "--window" },
    { t->dropout != NULL, "--dropout" }, { t->batch != NULL, "--batch" },
    { t->lr != NULL, "--lr" }, { t->warmup != NULL, "--warmup" },
    { t->schedule != NULL, "--schedule" }, { t->min_lr != NULL, "--min-lr" },
    { t->weight_decay != NULL, "--weight-decay" },
    { t->adamw, "--adamw" }, { t->clip != NULL, "--clip" },
    { t->label_smoothing != NULL, "--label-smoothing" },
    { t->seed != NULL, "--seed" }, { t->name != NULL, "--name" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (shaping); i++)
    if (shaping[i].given)
      return shaping[i].name;
  return NULL;
}

/* --threads, --steps, --eval-every, --eval-examples, --test-examples,
 * --checkpoint-every: the members a resumed run may change too. */
static gboolean
check_run_options (AttnCliTrain *t, AttnTrainConfig *c, GError **error)
{
  return int64_option ("--steps", t->steps, 1, G_MAXINT32, &c->steps, error)
         && int_option ("--threads", t->threads, 1, 64, &c->threads, error)
         && int64_option ("--eval-every", t->eval_every, 0, G_MAXINT32,
                          &c->eval_every, error)
         && int_option ("--eval-examples", t->eval_examples, 1, 1000000,
                        &c->eval_examples, error)
         && int_option ("--test-examples", t->test_examples, 1, 1000000,
                        &c->test_examples, error)
         && int64_option ("--checkpoint-every", t->checkpoint_every, 0,
                          G_MAXINT32, &c->checkpoint_every, error);
}

static gboolean
check_transformer (AttnCliTrain *t, AttnModelConfig *m, GError **error)
{
  const char *rnn_only = t->attention != NULL ? "--attention"
                         : t->hidden != NULL  ? "--hidden"
                         : t->embed != NULL   ? "--embed"
                         : t->window != NULL  ? "--window"
                                              : NULL;
  if (rnn_only != NULL)
    return usage (error, ATTN_CLI_ERROR_CONFLICT,
                  "%s is an option of --arch rnn (the transformer's "
                  "attention is scaled dot-product)", rnn_only);
  int layers = DEFAULT_LAYERS;
  m->arch = ATTN_ARCH_TRANSFORMER;
  m->NH = DEFAULT_HEADS;
  m->C = DEFAULT_D_MODEL;
  m->F = 0;
  if (!int_option ("--layers", t->layers, 1, 64, &layers, error)
      || !int_option ("--heads", t->heads, 1, 256, &m->NH, error)
      || !int_option ("--d-model", t->d_model, 1, 4096, &m->C, error)
      || !int_option ("--d-ff", t->d_ff, 1, 16384, &m->F, error))
    return FALSE;
  if (m->C % m->NH != 0)
    return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                  "--d-model %d is not a multiple of --heads %d", m->C,
                  m->NH);
  if (m->F == 0)
    m->F = 4 * m->C;
  m->L_enc = m->L_dec = layers;
  m->pre_norm = t->pre_norm;
  return TRUE;
}

static gboolean
check_rnn (AttnCliTrain *t, AttnModelConfig *m, GError **error)
{
  const char *transformer_only = t->layers != NULL    ? "--layers"
                                 : t->heads != NULL   ? "--heads"
                                 : t->d_model != NULL ? "--d-model"
                                 : t->d_ff != NULL    ? "--d-ff"
                                 : t->pre_norm        ? "--pre-norm"
                                                      : NULL;
  if (transformer_only != NULL)
    return usage (error, ATTN_CLI_ERROR_CONFLICT,
                  "%s is an option of --arch transformer", transformer_only);
  m->arch = ATTN_ARCH_RNN;
  m->attention = ATTN_MECHANISM_ADDITIVE;
  if (t->attention != NULL)
    {
      guint i = 0;
      while (i < G_N_ELEMENTS (attention_names)
             && strcmp (t->attention, attention_names[i].name) != 0)
        i++;
      if (i == G_N_ELEMENTS (attention_names))
        {
          g_autofree char *shown = g_utf8_make_valid (t->attention, -1);
          return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                        "unknown --attention “%s”: expected bahdanau, "
                        "luong-dot, luong-general, luong-concat or local-p",
                        shown);
        }
      m->attention = attention_names[i].mechanism;
    }
  m->E = DEFAULT_EMBED;
  m->H = DEFAULT_HIDDEN;
  if (!int_option ("--embed", t->embed, 1, 4096, &m->E, error)
      || !int_option ("--hidden", t->hidden, 1, 4096, &m->H, error))
    return FALSE;
  /* The additive and concat scores and local-p's position network are as
   * wide as the GRU; dot and general have no hidden layer. */
  gboolean uses_a = m->attention == ATTN_MECHANISM_ADDITIVE
                    || m->attention == ATTN_MECHANISM_LUONG_CONCAT
                    || m->attention == ATTN_MECHANISM_LUONG_LOCAL_P;
  m->A = uses_a ? m->H : 0;
  if (m->attention == ATTN_MECHANISM_LUONG_LOCAL_P)
    {
      m->D = DEFAULT_WINDOW;
      if (!int_option ("--window", t->window, 1, 1024, &m->D, error))
        return FALSE;
    }
  else if (t->window != NULL)
    return usage (error, ATTN_CLI_ERROR_CONFLICT,
                  "--window is the window of --attention local-p");
  return TRUE;
}

static const char *
attention_cli_name (AttnMechanism mechanism)
{
  for (guint i = 0; i < G_N_ELEMENTS (attention_names); i++)
    if (attention_names[i].mechanism == mechanism)
      return attention_names[i].name;
  return "transformer";
}

gboolean
attn_cli_train_check (AttnCliTrain *t, AttnCliOptions *o, GError **error)
{
  AttnTrainConfig *c = &t->config;
  attn_train_config_init (c, ATTN_TASK_DATES);
  t->have_config = TRUE;
  c->threads = CLAMP ((int) g_get_num_processors (), 1, 64);

  if (t->resume)
    {
      const char *shaping = first_shaping_option (t);
      if (shaping != NULL)
        return usage (error, ATTN_CLI_ERROR_CONFLICT,
                      "--resume continues the checkpoint with the settings "
                      "it was made with: %s cannot be given with it",
                      shaping);
      /* Only what was given overrides the checkpoint's values. */
      return check_run_options (t, c, error);
    }

  if (t->task == NULL)
    return usage (error, ATTN_CLI_ERROR_MISSING,
                  "train needs --task (dates, numbers-to-digits, "
                  "digits-to-words, reverse or sort)");
  g_autoptr (GError) local = NULL;
  if (!attn_task_from_name (t->task, &t->task_value, &local))
    {
      g_autofree char *shown = g_utf8_make_valid (t->task, -1);
      return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                    "unknown --task “%s”: expected dates, "
                    "numbers-to-digits, digits-to-words, reverse or sort",
                    shown);
    }
  c->task = t->task_value;
  if (t->arch == NULL)
    return usage (error, ATTN_CLI_ERROR_MISSING,
                  "train needs --arch (transformer or rnn)");
  AttnModelConfig *m = &t->model;
  memset (m, 0, sizeof *m);
  if (strcmp (t->arch, "transformer") == 0)
    {
      if (!check_transformer (t, m, error))
        return FALSE;
    }
  else if (strcmp (t->arch, "rnn") == 0)
    {
      if (!check_rnn (t, m, error))
        return FALSE;
    }
  else
    {
      g_autofree char *shown = g_utf8_make_valid (t->arch, -1);
      return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                    "unknown --arch “%s”: expected transformer or rnn",
                    shown);
    }
  double dropout = 0.0;
  if (!double_option ("--dropout", t->dropout, 0.0, 0.9, &dropout, error))
    return FALSE;
  m->dropout = (float) dropout;

  /* The members the task fixes, so the whole config is checked now. */
  g_autoptr (GArray) chars = attn_task_charset (c->task);
  int ms, mt;
  attn_train_task_max_chars (c->task, &ms, &mt);
  m->V = (int) chars->len + ATTN_VOCAB_N_SPECIAL;
  m->max_len = MAX (ms, mt) + 1;
  if (!attn_model_config_validate (m, &local))
    return usage (error, ATTN_CLI_ERROR_BAD_VALUE, "%s", local->message);

  int seed = 1;
  if (!check_run_options (t, c, error)
      || !int_option ("--batch", t->batch, 1, 65536, &c->batch, error)
      || !double_option ("--lr", t->lr, 1e-8, 10.0, &c->lr, error)
      || !int64_option ("--warmup", t->warmup, 0, G_MAXINT32, &c->warmup,
                        error)
      || !double_option ("--min-lr", t->min_lr, 0.0, 10.0, &c->min_lr, error)
      || !double_option ("--weight-decay", t->weight_decay, 0.0, 0.999,
                         &c->adam.weight_decay, error)
      || !double_option ("--clip", t->clip, 0.0, 1e6, &c->clip, error)
      || !double_option ("--label-smoothing", t->label_smoothing, 0.0, 0.999,
                         &c->label_smoothing, error)
      || !int_option ("--seed", t->seed, 0, G_MAXINT32, &seed, error))
    return FALSE;
  c->seed = (guint32) seed;
  c->adam.decoupled = t->adamw;
  if (t->schedule != NULL
      && !attn_lr_schedule_from_string (t->schedule, &c->schedule))
    {
      g_autofree char *shown = g_utf8_make_valid (t->schedule, -1);
      return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                    "unknown --schedule “%s”: expected cosine, inv-sqrt or "
                    "constant", shown);
    }
  if (t->adamw && t->weight_decay == NULL)
    return usage (error, ATTN_CLI_ERROR_MISSING,
                  "--adamw decouples the weight decay: give --weight-decay "
                  "too");
  /* The schedule's own defaults follow a shorter run. */
  if (t->warmup == NULL)
    c->warmup = MIN (c->warmup, c->steps / 10);
  if (c->warmup > c->steps)
    return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                  "--warmup %" G_GINT64_FORMAT " is longer than --steps %"
                  G_GINT64_FORMAT, c->warmup, c->steps);
  if (t->min_lr == NULL)
    c->min_lr = MIN (c->min_lr, c->lr);
  if (c->min_lr > c->lr)
    return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                  "--min-lr %g is above --lr %g", c->min_lr, c->lr);

  if (t->name != NULL)
    {
      if (!g_utf8_validate (t->name, -1, NULL) || t->name[0] == '\0')
        return usage (error, ATTN_CLI_ERROR_BAD_VALUE,
                      "--name must be non-empty UTF-8 text");
      t->model_name = g_strdup (t->name);
    }
  else
    t->model_name = g_strdup_printf (
      "%s-%s", attn_task_name (c->task),
      m->arch == ATTN_ARCH_TRANSFORMER ? "transformer"
                                       : attention_cli_name (m->attention));
  return TRUE;
}

/* ---- the command line, for the card ------------------------------------------ */

static gboolean
needs_quotes (const char *word)
{
  if (*word == '\0')
    return TRUE;
  for (const char *p = word; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-_./=:,+@%", *p) == NULL)
      return TRUE;
  return FALSE;
}

char *
attn_cli_command_line (int argc, char **argv)
{
  GString *s = g_string_new ("attnscope-cli");
  for (int i = 0; i < argc; i++)
    {
      g_autofree char *text = g_utf8_make_valid (argv[i], -1);
      g_string_append_c (s, ' ');
      if (needs_quotes (text))
        {
          g_autofree char *quoted = g_shell_quote (text);
          g_string_append (s, quoted);
        }
      else
        g_string_append (s, text);
    }
  return g_string_free (s, FALSE);
}

/* ---- running -------------------------------------------------------------------- */

typedef struct {
  FILE *out;
  gboolean tty;
  const char *path;      /* -o, for messages */
  gint64 log_every;      /* plain lines: a line every N steps */
  gint64 last_draw;      /* monotonic µs of the last bar drawn */
  gboolean bar_shown;    /* a bar is on the current line */
  GMainLoop *loop;
  GCancellable *cancellable;
  int interrupts;
  gboolean ok;
  GError *error;
  AttnTrainer *trainer;
} Run;

static void
clear_bar (Run *r)
{
  if (r->bar_shown)
    {
      attn_cli_bar_clear (r->out);
      r->bar_shown = FALSE;
    }
}

static char *
format_duration (double seconds)
{
  gint64 s = (gint64) (seconds + 0.5);
  if (s >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT "h%02" G_GINT64_FORMAT "m",
                            s / 3600, s / 60 % 60);
  if (s >= 60)
    return g_strdup_printf ("%" G_GINT64_FORMAT "m%02" G_GINT64_FORMAT "s",
                            s / 60, s % 60);
  return g_strdup_printf ("%" G_GINT64_FORMAT "s", s);
}

static void
draw_bar (Run *r, const AttnTrainProgress *p, int batch)
{
  double left = p->examples_per_s > 0
                  ? (double) (p->steps - p->step) * batch / p->examples_per_s
                  : 0.0;
  g_autofree char *eta = format_duration (left);
  g_autofree char *text = g_strdup_printf (
    "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
    "  loss %.4f  acc %.3f  lr %.2e  %.0f ex/s  ETA %s", p->step, p->steps,
    p->loss, p->token_acc, p->lr, p->examples_per_s, eta);
  attn_cli_bar_draw (r->out, (double) p->step / p->steps, text);
  r->bar_shown = TRUE;
}

static void
put_quoted_text (FILE *out, const char *s)
{
  fputc ('"', out);
  for (const char *p = s; *p; p++)
    {
      if (*p == '"' || *p == '\\')
        fputc ('\\', out);
      if (*p == '\n')
        fputs ("\\n", out);
      else
        fputc (*p, out);
    }
  fputc ('"', out);
}

static void
on_progress (AttnTrainProgress *p, gpointer data)
{
  Run *r = data;
  int batch = attn_trainer_get_config (r->trainer)->batch;
  gboolean event = p->evaluated || p->checkpointed || p->probe != NULL;
  if (r->tty)
    {
      gint64 now = g_get_monotonic_time ();
      if (event || p->final || now - r->last_draw > 100000)
        {
          draw_bar (r, p, batch);
          r->last_draw = now;
        }
      if (event || p->final)
        clear_bar (r);
    }
  else if (p->step % r->log_every == 0 || p->step == 1 || p->final)
    fprintf (r->out,
             "step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
             " loss %.4f acc %.4f lr %.3e %.0f ex/s\n", p->step, p->steps,
             p->loss, p->token_acc, p->lr, p->examples_per_s);

  if (p->evaluated)
    fprintf (r->out,
             "step %" G_GINT64_FORMAT " validation: exact match %.4f, token "
             "accuracy %.4f (%d examples)\n", p->step,
             p->validation.exact_match, p->validation.token_accuracy,
             p->validation.n);
  if (p->probe != NULL)
    {
      fprintf (r->out, "step %" G_GINT64_FORMAT " probe: ", p->step);
      put_quoted_text (r->out, p->probe->source_text);
      fputs (" -> ", r->out);
      put_quoted_text (r->out, p->probe->target_text);
      fputc ('\n', r->out);
    }
  if (p->checkpointed && !p->final)
    {
      g_autofree char *shown = g_filename_display_name (r->path);
      fprintf (r->out, "step %" G_GINT64_FORMAT " checkpoint: %s\n", p->step,
               shown);
    }
  if (p->final)
    fprintf (r->out,
             "test: exact match %.4f, token accuracy %.4f (%d examples)\n",
             p->test.exact_match, p->test.token_accuracy, p->test.n);
  fflush (r->out);
}

static void
on_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *r = data;
  r->ok = attn_trainer_run_finish (r->trainer, result, &r->error);
  g_main_loop_quit (r->loop);
}

/* Ctrl-C: the first stops training after the current step (a checkpoint is
 * written); a second one ends the program at once. */
static gboolean
on_sigint (gpointer data)
{
  Run *r = data;
  r->interrupts++;
  clear_bar (r);
  if (r->interrupts > 1)
    {
      fputs ("attnscope-cli train: interrupted again: exiting without a "
             "checkpoint of this step\n", stderr);
      _exit (ATTN_CLI_EXIT_INTERRUPTED);
    }
  fputs ("attnscope-cli train: interrupted: stopping after this step and "
         "writing a checkpoint (Ctrl-C again to quit now)\n", stderr);
  g_cancellable_cancel (r->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
describe_model (FILE *out, AttnModel *m, const AttnTrainConfig *c)
{
  const AttnModelConfig *k = &m->config;
  gsize n = 0;
  for (guint i = 0; i < m->params->n_tensors; i++)
    n += m->params->tensors[i].numel;
  if (k->arch == ATTN_ARCH_TRANSFORMER)
    fprintf (out, "model %s: transformer, %d + %d layers, d-model %d, %d "
             "heads, d-ff %d, %s-norm; %" G_GSIZE_FORMAT " parameters\n",
             m->name, k->L_enc, k->L_dec, k->C, k->NH, k->F,
             k->pre_norm ? "pre" : "post", n);
  else
    fprintf (out, "model %s: rnn, %s attention, embed %d, hidden %d; %"
             G_GSIZE_FORMAT " parameters\n", m->name,
             attention_cli_name (k->attention), k->E, k->H, n);
  fprintf (out, "training on %s: %" G_GINT64_FORMAT " steps of %d "
           "examples, lr %g (%s), seed %u, %d thread%s\n",
           attn_task_name (c->task), c->steps, c->batch, c->lr,
           attn_lr_schedule_to_string (c->schedule), c->seed, c->threads,
           c->threads == 1 ? "" : "s");
}

gboolean
attn_cli_train (const AttnCliOptions *o, FILE *out, GError **error)
{
  AttnCliTrain *t = o->train;
  g_autoptr (AttnTrainer) trainer = NULL;
  if (t->resume)
    {
      trainer = attn_trainer_new_resume (o->output, error);
      if (trainer == NULL)
        return FALSE;
      /* What the command line gives overrides the checkpoint. */
      AttnTrainConfig *c = attn_trainer_get_config (trainer);
      if (t->steps != NULL)
        c->steps = t->config.steps;
      if (t->threads != NULL)
        c->threads = t->config.threads;
      if (t->eval_every != NULL)
        c->eval_every = t->config.eval_every;
      if (t->eval_examples != NULL)
        c->eval_examples = t->config.eval_examples;
      if (t->test_examples != NULL)
        c->test_examples = t->config.test_examples;
      if (t->checkpoint_every != NULL)
        c->checkpoint_every = t->config.checkpoint_every;
      if (o->text != NULL)
        {
          g_free (c->probe_text);
          c->probe_text = g_strdup (o->text);
          c->probe_every = c->eval_every;
        }
      if (c->steps < attn_trainer_get_step (trainer))
        {
          g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                       "--steps %" G_GINT64_FORMAT " is fewer than the %"
                       G_GINT64_FORMAT " the checkpoint has done",
                       c->steps, attn_trainer_get_step (trainer));
          return FALSE;
        }
      if (c->warmup > c->steps)
        c->warmup = c->steps;
      if (!attn_train_config_validate (c, error))
        return FALSE;
      fprintf (out, "resuming %s at step %" G_GINT64_FORMAT "\n",
               attn_trainer_get_model (trainer)->name,
               attn_trainer_get_step (trainer));
    }
  else
    {
      AttnTrainConfig c;
      attn_train_config_copy (&c, &t->config);
      c.command = g_strdup (o->command_line);
      c.probe_text = g_strdup (o->text);
      c.probe_every = o->text != NULL ? c.eval_every : 0;
      AttnModel *model = attn_train_new_model (t->model_name, c.task,
                                               &t->model, c.seed, error);
      if (model != NULL)
        trainer = attn_trainer_new (model, &c, o->output, error);
      attn_train_config_clear (&c);
      if (trainer == NULL)
        return FALSE;
    }
  const AttnTrainConfig *c = attn_trainer_get_config (trainer);
  describe_model (out, attn_trainer_get_model (trainer), c);
  fflush (out);

  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Run r = {
    .out = out,
    .tty = isatty (fileno (out)),
    .path = o->output,
    .log_every = MAX (1, c->steps / 20),
    .loop = loop,
    .cancellable = cancellable,
    .trainer = trainer,
  };
  attn_trainer_set_progress_func (trainer, on_progress, &r, NULL);
  guint sigint = g_unix_signal_add (SIGINT, on_sigint, &r);
  attn_trainer_run_async (trainer, cancellable, on_done, &r);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  clear_bar (&r);
  attn_trainer_set_progress_func (trainer, NULL, NULL, NULL);

  if (!r.ok)
    {
      if (g_error_matches (r.error, ATTN_ERROR, ATTN_ERROR_CANCELLED))
        {
          g_autofree char *shown = g_filename_display_name (o->output);
          g_autofree char *quoted = needs_quotes (shown)
                                      ? g_shell_quote (shown)
                                      : g_strdup (shown);
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_CANCELLED,
                       "%s; continue with: attnscope-cli train --resume -o "
                       "%s", r.error->message, quoted);
          g_error_free (r.error);
          return FALSE;
        }
      g_propagate_error (error, r.error);
      return FALSE;
    }
  g_autofree char *shown = g_filename_display_name (o->output);
  g_autofree char *optim = attn_train_optim_path (o->output);
  g_autofree char *shown_optim = g_filename_display_name (optim);
  fprintf (out, "wrote %s: %s after %" G_GINT64_FORMAT " steps (optimiser "
           "state for --resume: %s)\n", shown,
           attn_trainer_get_model (trainer)->name,
           attn_trainer_get_step (trainer), shown_optim);
  return TRUE;
}
