/* attn-cli.c: options of attnscope-cli, their validation, and help. */
#include "app/attn-cli.h"
#include "app/attn-cli-train.h"

#include <string.h>

#include "core/attn-error.h"
#include "core/attn-model.h"
#include "core/attn-trace.h"

G_DEFINE_QUARK (attn-cli-error-quark, attn_cli_error)

int
attn_cli_exit_code (const GError *error)
{
  if (error == NULL)
    return ATTN_CLI_EXIT_OK;
  if (g_error_matches (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_INTERRUPTED))
    return ATTN_CLI_EXIT_INTERRUPTED;
  if (error->domain == ATTN_CLI_ERROR || error->domain == G_OPTION_ERROR)
    return ATTN_CLI_EXIT_USAGE;
  return ATTN_CLI_EXIT_FAILURE;
}

/* ---- commands ---------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *args; /* after "attnscope-cli NAME" in the usage line */
  const char *summary;
  const char *description; /* examples */
} CommandInfo;

/* docs/cli.md, "Output formats". */
#define FORMATS_HELP                                                           \
  "--kind, --layer and --head may be left out where the trace has one\n"       \
  "choice. The suffix of -o picks the format:\n"                               \
  "  .json  the whole trace (docs/trace-format.md)\n"                          \
  "  .npy   one block (--kind, --layer), every head: float32 (heads,\n"        \
  "         queries, keys)\n"                                                  \
  "  .csv   one head, or the mean or max over heads (--head), with token\n"    \
  "         headers\n"                                                         \
  "  .png .svg .pdf  a picture of --view (default heatmap) of one head,\n"    \
  "         or the mean or max over heads\n"                                  \
  "--atlas FILE.pdf draws a page per head of every block (of --kind only\n"   \
  "when given). Images: --width/--height in px (default 800 x 600), cm, mm,\n"\
  "in or pt; --dpi sets a PNG's resolution and what px are on paper.\n"

/* docs/cli.md, "Progress and Ctrl-C". */
#define GPT2_RUN_HELP                                                          \
  "A GPT-2 run shows its progress on stderr when that is a terminal (or,\n"   \
  "with --progress, as lines); Ctrl-C cancels it: nothing is written and\n"  \
  "the exit status is 130.\n"

static const CommandInfo commands[ATTN_CLI_N_COMMANDS] = {
  [ATTN_CLI_COMMAND_RUN] = {
    "run", "--model MODEL [OPTION…] [TEXT]",
    "Run a model on a text and write its attention.",
    FORMATS_HELP
    "Without -o or --atlas, prints the output and, for each output token,\n"
    "the three source tokens the last cross-attention layer weighs most\n"
    "(mean over heads); --json prints the whole trace instead.\n"
    GPT2_RUN_HELP
    "\n"
    "Examples:\n"
    "  attnscope-cli run --model dates-transformer --text \"March 3, 2021\"\n"
    "  attnscope-cli run --model dates-transformer \"3/3/21\" -o run.json\n"
    "  attnscope-cli run --model ~/gpt2 \"The cat\" --layer 5 --head mean "
    "-o l5.csv" },
  [ATTN_CLI_COMMAND_EXPORT] = {
    "export", "--trace FILE.json (-o FILE | --atlas FILE) [OPTION…]\n"
    "  attnscope-cli export --model MODEL (-o FILE | --atlas FILE) "
    "[OPTION…] TEXT",
    "Export attention weights from a saved trace (or from a model run).",
    FORMATS_HELP
    GPT2_RUN_HELP
    "\n"
    "Examples:\n"
    "  attnscope-cli export --trace run.json --kind cross --layer 1 "
    "-o cross1.npy\n"
    "  attnscope-cli export --trace run.json --layer 0 --head max "
    "-o l0max.csv" },
  [ATTN_CLI_COMMAND_TRAIN] = {
    "train", "--task TASK --arch ARCH -o FILE.safetensors [OPTION…] [TEXT]\n"
    "  attnscope-cli train --resume -o FILE.safetensors [OPTION…]",
    "Train a built-in model on its task and save it.",
    "TEXT, if given, is a probe sentence: its output is shown at every\n"
    "validation. A checkpoint (FILE and FILE less .safetensors plus\n"
    ".optim.safetensors) is written every --checkpoint-every steps and\n"
    "when Ctrl-C stops training; --resume continues it exactly. The same\n"
    "seed and --threads give the same model.\n"
    "\n"
    "Examples:\n"
    "  attnscope-cli train --task dates --arch transformer \\\n"
    "      -o dates-transformer.safetensors \"March 3, 2021\"\n"
    "  attnscope-cli train --task dates --arch rnn --attention local-p \\\n"
    "      --steps 6000 -o dates-local-p.safetensors\n"
    "  attnscope-cli train --resume -o dates-transformer.safetensors" },
  [ATTN_CLI_COMMAND_INFO] = {
    "info", "[--trace FILE.json | --model MODEL]",
    "Describe a saved trace, a model, or the bundled models.",
    "With no option, lists the bundled models found and the version.\n"
    "\n"
    "Examples:\n"
    "  attnscope-cli info\n"
    "  attnscope-cli info --trace run.json\n"
    "  attnscope-cli info --model dates-transformer" },
  [ATTN_CLI_COMMAND_BENCH] = {
    "bench", "[OPTION…]",
    "Measure multi-head attention against the sgemm ceiling, or models.",
    "Prints the sgemm ceiling (GFLOP/s of an n x n x n sgemm) and the\n"
    "GFLOP/s of the multi-head self-attention forward (B = 1, per-head\n"
    "weights kept) at each T, with its fraction of the ceiling. Best of\n"
    "--reps runs. Figures only: nothing is asserted.\n"
    "\n"
    "With --model (repeatable), times each model instead: greedy\n"
    "inference per test sentence of its card's task, and with --train the\n"
    "training steps per second of a fresh model of its configuration.\n"
    "\n"
    "Examples:\n"
    "  attnscope-cli bench\n"
    "  attnscope-cli bench --seq 256 --threads 1 --reps 5\n"
    "  attnscope-cli bench --model dates-transformer --train --threads 2" },
};

const char *
attn_cli_command_name (AttnCliCommand command)
{
  g_return_val_if_fail ((guint) command < ATTN_CLI_N_COMMANDS, NULL);
  return commands[command].name;
}

gboolean
attn_cli_command_from_name (const char *name, AttnCliCommand *out,
                            GError **error)
{
  for (guint i = 0; i < ATTN_CLI_N_COMMANDS; i++)
    if (g_strcmp0 (name, commands[i].name) == 0)
      {
        *out = (AttnCliCommand) i;
        return TRUE;
      }
  g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_UNKNOWN_COMMAND,
               "unknown command “%s”: expected run, export, train, info or "
               "bench", name);
  return FALSE;
}

/* ---- formats ----------------------------------------------------------- */

static const char *const format_suffixes[] = {
  [ATTN_CLI_FORMAT_NONE] = "",
  [ATTN_CLI_FORMAT_JSON] = ".json",
  [ATTN_CLI_FORMAT_NPY] = ".npy",
  [ATTN_CLI_FORMAT_CSV] = ".csv",
  [ATTN_CLI_FORMAT_PNG] = ".png",
  [ATTN_CLI_FORMAT_SVG] = ".svg",
  [ATTN_CLI_FORMAT_PDF] = ".pdf",
  [ATTN_CLI_FORMAT_SAFETENSORS] = ".safetensors",
};

static const AttnCliFormat data_formats[] = {
  ATTN_CLI_FORMAT_JSON, ATTN_CLI_FORMAT_NPY, ATTN_CLI_FORMAT_CSV,
  ATTN_CLI_FORMAT_PNG,  ATTN_CLI_FORMAT_SVG, ATTN_CLI_FORMAT_PDF,
  ATTN_CLI_FORMAT_NONE,
};
static const AttnCliFormat atlas_formats[] = {
  ATTN_CLI_FORMAT_PDF,
  ATTN_CLI_FORMAT_NONE,
};
static const AttnCliFormat model_formats[] = {
  ATTN_CLI_FORMAT_SAFETENSORS,
  ATTN_CLI_FORMAT_NONE,
};

const char *
attn_cli_format_suffix (AttnCliFormat format)
{
  g_return_val_if_fail ((guint) format < G_N_ELEMENTS (format_suffixes),
                        NULL);
  return format_suffixes[format];
}

AttnCliFormat
attn_cli_format_from_path (const char *path, const AttnCliFormat *allowed)
{
  gsize len = strlen (path);
  g_autofree char *base = g_path_get_basename (path);
  for (const AttnCliFormat *f = allowed; *f != ATTN_CLI_FORMAT_NONE; f++)
    {
      const char *suffix = format_suffixes[*f];
      gsize n = strlen (suffix);
      /* The suffix alone (".csv") names no file. */
      if (len > n && strlen (base) > n
          && g_ascii_strcasecmp (path + len - n, suffix) == 0)
        return *f;
    }
  return ATTN_CLI_FORMAT_NONE;
}

static char *
suffix_list (const AttnCliFormat *allowed)
{
  GString *s = g_string_new (NULL);
  for (const AttnCliFormat *f = allowed; *f != ATTN_CLI_FORMAT_NONE; f++)
    {
      if (f != allowed)
        g_string_append (s, f[1] == ATTN_CLI_FORMAT_NONE ? " and " : ", ");
      g_string_append (s, format_suffixes[*f]);
    }
  return g_string_free (s, FALSE);
}

static gboolean
check_suffix (const char *option, const char *path,
              const AttnCliFormat *allowed, AttnCliFormat *out, GError **error)
{
  *out = attn_cli_format_from_path (path, allowed);
  if (*out != ATTN_CLI_FORMAT_NONE)
    return TRUE;
  g_autofree char *list = suffix_list (allowed);
  g_autofree char *shown = g_filename_display_name (path);
  g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_SUFFIX,
               "%s “%s”: cannot tell the format from the suffix; supported "
               "suffixes are %s", option, shown, list);
  return FALSE;
}

/* ---- values ------------------------------------------------------------ */

gboolean
attn_cli_parse_int (const char *option, const char *value, int min, int max,
                    int *out, GError **error)
{
  gint64 v = 0;
  g_autoptr (GError) local = NULL;
  if (!g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, &v,
                                 &local))
    {
      g_autofree char *shown = g_utf8_make_valid (value, -1);
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                   "%s “%s” is not a whole number", option, shown);
      return FALSE;
    }
  if (v < min || v > max)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                   "%s %" G_GINT64_FORMAT " out of range: expected %d to %d",
                   option, v, min, max);
      return FALSE;
    }
  *out = (int) v;
  return TRUE;
}

int *
attn_cli_parse_int_list (const char *option, const char *value, int min,
                         int max, guint *n, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (value, ",", -1);
  guint count = g_strv_length (parts);
  if (count == 0)
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                   "%s is empty: expected numbers separated by commas",
                   option);
      return NULL;
    }
  g_autofree int *values = g_new (int, count);
  for (guint i = 0; i < count; i++)
    if (!attn_cli_parse_int (option, g_strstrip (parts[i]), min, max,
                             &values[i], error))
      return NULL;
  *n = count;
  return g_steal_pointer (&values);
}

gboolean
attn_cli_parse_head (const char *value, AttnCliHeadMode *mode, int *head,
                     GError **error)
{
  if (g_strcmp0 (value, "mean") == 0 || g_strcmp0 (value, "max") == 0)
    {
      *mode = value[1] == 'e' ? ATTN_CLI_HEAD_MEAN : ATTN_CLI_HEAD_MAX;
      *head = -1;
      return TRUE;
    }
  gint64 v = 0;
  if (!g_ascii_string_to_signed (value, 10, G_MININT64, G_MAXINT64, &v, NULL)
      || v < 0 || v > G_MAXINT)
    {
      g_autofree char *shown = g_utf8_make_valid (value, -1);
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                   "--head “%s”: expected a head number (from 0), “mean” or "
                   "“max”", shown);
      return FALSE;
    }
  *mode = ATTN_CLI_HEAD_INDEX;
  *head = (int) v;
  return TRUE;
}

static gboolean
check_kind (const char *value, GError **error)
{
  AttnKind kind;
  if (attn_kind_from_string (value, &kind))
    return TRUE;
  g_autofree char *shown = g_utf8_make_valid (value, -1);
  g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
               "unknown --kind “%s”: expected encoder-self, decoder-self or "
               "cross", shown);
  return FALSE;
}

static gboolean
check_text (const char *text, GError **error)
{
  const char *end = NULL;
  if (!g_utf8_validate (text, -1, &end))
    {
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                   "the text is not valid UTF-8 (bad byte at offset %td)",
                   end - text);
      return FALSE;
    }
  if (*text == '\0')
    {
      g_set_error_literal (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                           "the text is empty");
      return FALSE;
    }
  return TRUE;
}

/* ---- option tables ------------------------------------------------------ */

/* Every value is read as bytes (G_OPTION_ARG_FILENAME) so that a text in
 * any script survives a C locale; text is checked for UTF-8 afterwards. */
typedef struct {
  gboolean help;
  char *model, *text, *trace, *kind, *layer, *head, *output, *atlas;
  char *seq, *reps, *threads, *dim, *heads, *sgemm;
  char **models, *steps, *warmup, *batch, *sentences;
  gboolean bench_train;
  char *view, *colormap, *scale, *theme, *width, *height, *dpi, *step;
  char *range, *threshold;
  gboolean reversed, hide_special, hide_sink, values;
  char *beam;
  gboolean json;
  char *generate, *temperature, *top_k, *top_p, *seed, *max_trace_mb;
  gboolean ignore_eos, progress;
  char *gpt2;
  AttnCliTrain *train; /* train's own options (attn-cli-train.c) */
  char **rest;
} RawArgs;

#define CMD(c) (1u << ATTN_CLI_COMMAND_##c)
#define ALL (CMD (RUN) | CMD (EXPORT) | CMD (TRAIN) | CMD (INFO) | CMD (BENCH))

typedef struct {
  guint commands; /* bit mask of the subcommands that take this option */
  gsize offset;   /* of the field in RawArgs */
  const char *long_name;
  char short_name;
  GOptionArg arg;
  const char *description;
  const char *arg_description;
} OptionSpec;

#define RAW(field) G_STRUCT_OFFSET (RawArgs, field)

static const OptionSpec option_specs[] = {
  { ALL, RAW (help), "help", 'h', G_OPTION_ARG_NONE,
    "Show this help", NULL },
  { CMD (EXPORT) | CMD (INFO), RAW (trace), "trace", 0, G_OPTION_ARG_FILENAME,
    "A saved trace (.json) to read", "FILE.json" },
  { CMD (RUN) | CMD (EXPORT) | CMD (INFO), RAW (model), "model", 'm',
    G_OPTION_ARG_FILENAME,
    "Model file, folder or bundled model name", "MODEL" },
  { CMD (RUN) | CMD (EXPORT), RAW (text), "text", 't', G_OPTION_ARG_FILENAME,
    "Input text (or the TEXT argument)", "TEXT" },
  { CMD (TRAIN), RAW (text), "text", 't', G_OPTION_ARG_FILENAME,
    "Probe sentence shown while training (or TEXT)", "TEXT" },
  { CMD (RUN) | CMD (EXPORT), RAW (kind), "kind", 'k', G_OPTION_ARG_FILENAME,
    "encoder-self, decoder-self or cross", "KIND" },
  { CMD (RUN) | CMD (EXPORT), RAW (layer), "layer", 'l',
    G_OPTION_ARG_FILENAME,
    "Layer, from 0", "N" },
  { CMD (RUN) | CMD (EXPORT), RAW (head), "head", 0, G_OPTION_ARG_FILENAME,
    "Head from 0, or mean or max over heads", "N|mean|max" },
  { CMD (RUN) | CMD (EXPORT), RAW (output), "output", 'o',
    G_OPTION_ARG_FILENAME,
    "Output; its suffix picks the format (see below)", "FILE" },
  { CMD (TRAIN), RAW (output), "output", 'o', G_OPTION_ARG_FILENAME,
    "Write the trained model to FILE (.safetensors)", "FILE" },
  { CMD (RUN), RAW (beam), "beam", 0, G_OPTION_ARG_FILENAME,
    "Beam width of decoding (default 1: greedy)", "N" },
  { CMD (RUN), RAW (json), "json", 0, G_OPTION_ARG_NONE,
    "Print the whole trace as JSON instead of the summary", NULL },
  { CMD (RUN) | CMD (EXPORT), RAW (generate), "generate", 0,
    G_OPTION_ARG_FILENAME,
    "GPT-2: tokens to generate after the text (default 0)", "N" },
  { CMD (RUN) | CMD (EXPORT), RAW (temperature), "temperature", 0,
    G_OPTION_ARG_FILENAME,
    "GPT-2: sample at this temperature (default 0: greedy)", "X" },
  { CMD (RUN) | CMD (EXPORT), RAW (top_k), "top-k", 0, G_OPTION_ARG_FILENAME,
    "GPT-2: sample from the K most probable tokens only", "K" },
  { CMD (RUN) | CMD (EXPORT), RAW (top_p), "top-p", 0, G_OPTION_ARG_FILENAME,
    "GPT-2: sample from the most probable tokens up to P", "P" },
  { CMD (RUN) | CMD (EXPORT), RAW (seed), "seed", 0, G_OPTION_ARG_FILENAME,
    "GPT-2: seed of the sampling (default 0)", "N" },
  { CMD (RUN) | CMD (EXPORT), RAW (max_trace_mb), "max-trace-mb", 0,
    G_OPTION_ARG_FILENAME,
    "GPT-2: refuse a run whose attention needs more (default 1024)", "MB" },
  { CMD (RUN) | CMD (EXPORT), RAW (ignore_eos), "ignore-eos", 0,
    G_OPTION_ARG_NONE,
    "GPT-2: generate all N tokens, past the end-of-text token", NULL },
  { CMD (RUN) | CMD (EXPORT), RAW (progress), "progress", 0,
    G_OPTION_ARG_NONE,
    "GPT-2: progress lines on stderr even when it is not a terminal", NULL },
  { CMD (RUN) | CMD (EXPORT), RAW (atlas), "atlas", 0, G_OPTION_ARG_FILENAME,
    "A PDF, a page per head of every block (of --kind)", "FILE.pdf" },
  { CMD (RUN) | CMD (EXPORT), RAW (view), "view", 0, G_OPTION_ARG_FILENAME,
    "Image view: heatmap, alignment, head, model or step", "VIEW" },
  { CMD (RUN) | CMD (EXPORT), RAW (colormap), "colormap", 0,
    G_OPTION_ARG_FILENAME,
    "Colour map: viridis (default), magma, cividis or grey", "NAME" },
  { CMD (RUN) | CMD (EXPORT), RAW (reversed), "reversed", 0,
    G_OPTION_ARG_NONE, "Reverse the colour map", NULL },
  { CMD (RUN) | CMD (EXPORT), RAW (scale), "scale", 0, G_OPTION_ARG_FILENAME,
    "Colour scale: fixed [0, 1] (default), max or log", "fixed|max|log" },
  { CMD (RUN) | CMD (EXPORT), RAW (theme), "theme", 0, G_OPTION_ARG_FILENAME,
    "light (default), dark or presentation", "THEME" },
  { CMD (RUN) | CMD (EXPORT), RAW (width), "width", 0, G_OPTION_ARG_FILENAME,
    "Image width: 800 (px), 12cm, 4in, 90mm, 300pt", "SIZE" },
  { CMD (RUN) | CMD (EXPORT), RAW (height), "height", 0,
    G_OPTION_ARG_FILENAME, "Image height (default 600 px)", "SIZE" },
  { CMD (RUN) | CMD (EXPORT), RAW (dpi), "dpi", 0, G_OPTION_ARG_FILENAME,
    "Dots per inch (default 96)", "N" },
  { CMD (RUN) | CMD (EXPORT), RAW (step), "step", 0, G_OPTION_ARG_FILENAME,
    "Decoding step of the step view, from 0", "K" },
  { CMD (RUN) | CMD (EXPORT), RAW (hide_special), "hide-special", 0,
    G_OPTION_ARG_NONE, "Hide special tokens, rows renormalised", NULL },
  { CMD (RUN) | CMD (EXPORT), RAW (hide_sink), "hide-sink", 0,
    G_OPTION_ARG_NONE, "Hide the first key (the sink), rows renormalised",
    NULL },
  { CMD (RUN) | CMD (EXPORT), RAW (range), "range", 0, G_OPTION_ARG_FILENAME,
    "Zoom to token positions START to END - 1", "START:END" },
  { CMD (RUN) | CMD (EXPORT), RAW (values), "values", 0, G_OPTION_ARG_NONE,
    "Print each weight in its heatmap cell", NULL },
  { CMD (RUN) | CMD (EXPORT), RAW (threshold), "threshold", 0,
    G_OPTION_ARG_FILENAME,
    "Alignment and head views: hide links weaker than X", "X" },
  { CMD (BENCH), RAW (seq), "seq", 0, G_OPTION_ARG_FILENAME,
    "Sequence lengths T to measure (default 128,512,1024)", "T,T,…" },
  { CMD (BENCH), RAW (dim), "dim", 0, G_OPTION_ARG_FILENAME,
    "Model width C (default 768)", "C" },
  { CMD (BENCH), RAW (heads), "heads", 0, G_OPTION_ARG_FILENAME,
    "Attention heads NH, dividing C (default 12)", "NH" },
  { CMD (BENCH), RAW (reps), "reps", 0, G_OPTION_ARG_FILENAME,
    "Runs per figure; the best is kept (default 3)", "N" },
  { CMD (BENCH), RAW (threads), "threads", 0, G_OPTION_ARG_FILENAME,
    "OpenBLAS threads (default: OPENBLAS_NUM_THREADS)", "N" },
  { CMD (BENCH), RAW (sgemm), "sgemm", 0, G_OPTION_ARG_FILENAME,
    "n of the n x n x n sgemm ceiling (default 1024)", "N" },
  { CMD (BENCH), RAW (models), "model", 'm', G_OPTION_ARG_FILENAME_ARRAY,
    "Time this model instead (repeatable)", "MODEL" },
  { CMD (BENCH), RAW (bench_train), "train", 0, G_OPTION_ARG_NONE,
    "With --model: also time training its architecture", NULL },
  { CMD (BENCH), RAW (steps), "steps", 0, G_OPTION_ARG_FILENAME,
    "Training steps timed, the first not counted (default 21)", "N" },
  { CMD (BENCH), RAW (warmup), "warmup", 0, G_OPTION_ARG_FILENAME,
    "Training steps before timing (default 3)", "N" },
  { CMD (BENCH), RAW (batch), "batch", 0, G_OPTION_ARG_FILENAME,
    "Examples per training step (default 64)", "B" },
  { CMD (BENCH), RAW (sentences), "sentences", 0, G_OPTION_ARG_FILENAME,
    "Test sentences translated per model (default 200)", "N" },
  { CMD (BENCH), RAW (gpt2), "gpt2", 0, G_OPTION_ARG_FILENAME,
    "Time a GPT-2 folder's forward pass at each --seq instead", "DIR" },
};

static gboolean
takes_text (AttnCliCommand command)
{
  return command == ATTN_CLI_COMMAND_RUN || command == ATTN_CLI_COMMAND_EXPORT
         || command == ATTN_CLI_COMMAND_TRAIN;
}

static GOptionContext *
make_context (AttnCliCommand command, RawArgs *raw, GOptionEntry **entries_out)
{
  const CommandInfo *info = &commands[command];
  GOptionEntry *entries = g_new0 (GOptionEntry, G_N_ELEMENTS (option_specs)
                                                  + 2);
  guint n = 0;
  for (guint i = 0; i < G_N_ELEMENTS (option_specs); i++)
    {
      const OptionSpec *spec = &option_specs[i];
      if (!(spec->commands & (1u << command)))
        continue;
      entries[n++] = (GOptionEntry){
        spec->long_name, spec->short_name, 0, spec->arg,
        G_STRUCT_MEMBER_P (raw, spec->offset), spec->description,
        spec->arg_description,
      };
    }
  /* Positional arguments are collected even where none is allowed, so the
   * message can say so instead of GOption silently leaving them. */
  entries[n++] = (GOptionEntry){
    G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &raw->rest, NULL,
    NULL,
  };

  /* GOption puts "[OPTION…]" itself after the program name; the usage line
   * is written out in full by attn_cli_command_help instead. */
  GOptionContext *context = g_option_context_new (NULL);
  g_option_context_set_help_enabled (context, FALSE);
  g_option_context_set_summary (context, info->summary);
  g_option_context_set_description (context, info->description);
  g_option_context_add_main_entries (context, entries, NULL);
  if (raw->train != NULL)
    attn_cli_train_add_entries (raw->train, context);
  *entries_out = entries;
  return context;
}

static void
raw_args_clear (RawArgs *raw)
{
  g_free (raw->model);
  g_free (raw->text);
  g_free (raw->trace);
  g_free (raw->kind);
  g_free (raw->layer);
  g_free (raw->head);
  g_free (raw->output);
  g_free (raw->atlas);
  g_free (raw->seq);
  g_free (raw->reps);
  g_free (raw->threads);
  g_free (raw->dim);
  g_free (raw->heads);
  g_free (raw->sgemm);
  g_strfreev (raw->models);
  g_free (raw->steps);
  g_free (raw->warmup);
  g_free (raw->batch);
  g_free (raw->sentences);
  g_free (raw->view);
  g_free (raw->colormap);
  g_free (raw->scale);
  g_free (raw->theme);
  g_free (raw->width);
  g_free (raw->height);
  g_free (raw->dpi);
  g_free (raw->step);
  g_free (raw->range);
  g_free (raw->threshold);
  g_free (raw->beam);
  g_free (raw->generate);
  g_free (raw->temperature);
  g_free (raw->top_k);
  g_free (raw->top_p);
  g_free (raw->seed);
  g_free (raw->max_trace_mb);
  g_free (raw->gpt2);
  g_clear_pointer (&raw->train, attn_cli_train_free);
  g_strfreev (raw->rest);
}

char *
attn_cli_command_help (AttnCliCommand command)
{
  g_return_val_if_fail ((guint) command < ATTN_CLI_N_COMMANDS, NULL);
  RawArgs raw = { 0 };
  if (command == ATTN_CLI_COMMAND_TRAIN)
    raw.train = attn_cli_train_new ();
  g_autofree GOptionEntry *entries = NULL;
  GOptionContext *context = make_context (command, &raw, &entries);
  g_autofree char *generated = g_option_context_get_help (context, TRUE,
                                                          NULL);
  g_option_context_free (context);
  raw_args_clear (&raw);
  /* Replace GOption's usage paragraph (up to the first blank line) with
   * the command's own. */
  const char *rest = strstr (generated, "\n\n");
  return g_strdup_printf ("Usage:\n  attnscope-cli %s %s%s",
                          commands[command].name, commands[command].args,
                          rest != NULL ? rest : "\n");
}

char *
attn_cli_program_help (void)
{
  GString *s = g_string_new (
    "Usage:\n"
    "  attnscope-cli COMMAND [OPTION…]\n"
    "  attnscope-cli help [COMMAND]\n"
    "\n"
    "Run sequence models and export every attention weight, without a "
    "display.\n"
    "\n"
    "Commands:\n");
  for (guint i = 0; i < ATTN_CLI_N_COMMANDS; i++)
    g_string_append_printf (s, "  %-8s %s\n", commands[i].name,
                            commands[i].summary);
  g_string_append (
    s,
    "\n"
    "Options:\n"
    "  -h, --help     Show this help\n"
    "  --version      Show the version\n"
    "\n"
    "“attnscope-cli COMMAND --help” lists a command's options.\n"
    "Exit codes: 0 success, 1 failure (a file or model could not be read\n"
    "or written, or the request is not in this build), 2 usage error.\n"
    "Documentation: docs/cli.md\n");
  return g_string_free (s, FALSE);
}

/* ---- parsing ------------------------------------------------------------ */

static gboolean
usage_error (GError **error, AttnCliErrorCode code, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static gboolean
usage_error (GError **error, AttnCliErrorCode code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, ATTN_CLI_ERROR, code, message);
  return FALSE;
}

static gboolean
parse_choice (const char *option, const char *value,
              const char *const *names, int n, int *out, GError **error)
{
  for (int i = 0; i < n; i++)
    if (g_strcmp0 (value, names[i]) == 0)
      {
        *out = i;
        return TRUE;
      }
  g_autofree char *shown = g_utf8_make_valid (value, -1);
  GString *list = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    g_string_append_printf (list, "%s%s",
                            i == 0 ? "" : i + 1 == n ? " or " : ", ",
                            names[i]);
  g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
               "unknown %s “%s”: expected %s", option, shown, list->str);
  g_string_free (list, TRUE);
  return FALSE;
}

static gboolean
parse_size (const char *option, const char *value, AttnLength *out,
            GError **error)
{
  g_autoptr (GError) local = NULL;
  if (attn_length_parse (value, out, &local))
    return TRUE;
  g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE, "%s: %s",
               option, local->message);
  return FALSE;
}

/* A plain decimal number in [min, max] (no exponent, no sign). */
static gboolean
parse_number (const char *option, const char *value, double min, double max,
              double *out, GError **error)
{
  gboolean ok = value[0] != '\0';
  for (const char *p = value; *p && ok; p++)
    ok = g_ascii_isdigit (*p) || *p == '.';
  char *end = NULL;
  double v = ok ? g_ascii_strtod (value, &end) : 0.0;
  if (!ok || end == NULL || *end != '\0' || !(v >= min && v <= max))
    {
      g_autofree char *shown = g_utf8_make_valid (value, -1);
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                   "%s “%s”: expected a number from %g to %g", option, shown,
                   min, max);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
parse_range (const char *value, int *start, int *end, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (value, ":", -1);
  gint64 a = 0, b = 0;
  if (g_strv_length (parts) != 2
      || !g_ascii_string_to_signed (parts[0], 10, 0, G_MAXINT, &a, NULL)
      || !g_ascii_string_to_signed (parts[1], 10, 0, G_MAXINT, &b, NULL)
      || a >= b)
    {
      g_autofree char *shown = g_utf8_make_valid (value, -1);
      g_set_error (error, ATTN_CLI_ERROR, ATTN_CLI_ERROR_BAD_VALUE,
                   "--range “%s”: expected START:END, token positions from "
                   "0 with START < END (END not included)", shown);
      return FALSE;
    }
  *start = (int) a;
  *end = (int) b;
  return TRUE;
}

/* The options that only mean something for a picture, and which views take
 * which: checked here so that nothing is silently ignored. */
static gboolean
check_image (AttnCliOptions *o, const RawArgs *raw, GError **error)
{
  static const char *const views[] = { "heatmap", "alignment", "head",
                                       "model", "step" };
  static const char *const colormaps[] = { "viridis", "magma", "cividis",
                                           "grey" };
  static const char *const scales[] = { "fixed", "max", "log" };
  static const char *const themes[] = { "light", "dark", "presentation" };
  int v = 0;
  if (raw->view != NULL)
    {
      if (!parse_choice ("--view", raw->view, views, G_N_ELEMENTS (views),
                         &v, error)
          || !attn_view_kind_from_string (views[v], &o->view))
        return FALSE;
      o->view_given = TRUE;
    }
  if (raw->colormap != NULL)
    {
      /* matplotlib's spelling "gray" is taken too. */
      if (g_strcmp0 (raw->colormap, "gray") == 0)
        v = ATTN_COLORMAP_GREY;
      else if (!parse_choice ("--colormap", raw->colormap, colormaps,
                              G_N_ELEMENTS (colormaps), &v, error))
        return FALSE;
      o->colormap = (AttnColormap) v;
    }
  if (raw->scale != NULL)
    {
      if (!parse_choice ("--scale", raw->scale, scales,
                         G_N_ELEMENTS (scales), &v, error))
        return FALSE;
      o->scale = (AttnScale) v;
    }
  if (raw->theme != NULL)
    {
      if (!parse_choice ("--theme", raw->theme, themes,
                         G_N_ELEMENTS (themes), &v, error))
        return FALSE;
      o->theme = (AttnTheme) v;
    }
  if (raw->width != NULL
      && !parse_size ("--width", raw->width, &o->size.width, error))
    return FALSE;
  if (raw->height != NULL
      && !parse_size ("--height", raw->height, &o->size.height, error))
    return FALSE;
  /* One side given: the other keeps the default 4:3 in the same unit. */
  if (raw->width != NULL && raw->height == NULL)
    o->size.height = (AttnLength){ o->size.width.value * 0.75,
                                   o->size.width.unit };
  if (raw->height != NULL && raw->width == NULL)
    o->size.width = (AttnLength){ o->size.height.value / 0.75,
                                  o->size.height.unit };
  if (raw->dpi != NULL
      && !parse_number ("--dpi", raw->dpi, 1, 2400, &o->size.dpi, error))
    return FALSE;
  if (raw->step != NULL
      && !attn_cli_parse_int ("--step", raw->step, 0, G_MAXINT, &o->step,
                              error))
    return FALSE;
  if (raw->range != NULL
      && !parse_range (raw->range, &o->range_start, &o->range_end, error))
    return FALSE;
  if (raw->threshold != NULL
      && !parse_number ("--threshold", raw->threshold, 0, 1, &o->threshold,
                        error))
    return FALSE;
  o->reversed = raw->reversed;
  o->hide_special = raw->hide_special;
  o->hide_sink = raw->hide_sink;
  o->values = raw->values;

  /* The first image-only option given, for the messages below. */
  const struct {
    gboolean given;
    const char *name;
  } image_only[] = {
    { raw->view != NULL, "--view" },
    { raw->colormap != NULL, "--colormap" },
    { raw->reversed, "--reversed" },
    { raw->scale != NULL, "--scale" },
    { raw->theme != NULL, "--theme" },
    { raw->width != NULL, "--width" },
    { raw->height != NULL, "--height" },
    { raw->dpi != NULL, "--dpi" },
    { raw->step != NULL, "--step" },
    { raw->hide_special, "--hide-special" },
    { raw->hide_sink, "--hide-sink" },
    { raw->range != NULL, "--range" },
    { raw->values, "--values" },
    { raw->threshold != NULL, "--threshold" },
  };
  const char *given = NULL;
  for (guint i = 0; i < G_N_ELEMENTS (image_only) && given == NULL; i++)
    if (image_only[i].given)
      given = image_only[i].name;
  gboolean image = o->atlas != NULL
                   || o->output_format == ATTN_CLI_FORMAT_PNG
                   || o->output_format == ATTN_CLI_FORMAT_SVG
                   || o->output_format == ATTN_CLI_FORMAT_PDF;
  if (given != NULL && !image)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "%s applies to pictures: give -o FILE.png, .svg or "
                        ".pdf, or --atlas FILE.pdf", given);
  if (!image)
    return TRUE;

  /* The size is checked for the format it will have. */
  AttnExportGeometry geometry;
  g_autoptr (GError) size_error = NULL;
  AttnExportFormat format = o->output_format == ATTN_CLI_FORMAT_PNG
                              ? ATTN_EXPORT_PNG
                            : o->output_format == ATTN_CLI_FORMAT_SVG
                              ? ATTN_EXPORT_SVG
                              : ATTN_EXPORT_PDF;
  if (!attn_export_geometry (&o->size, format, &geometry, &size_error))
    return usage_error (error, ATTN_CLI_ERROR_BAD_VALUE, "%s",
                        size_error->message);

  if (o->atlas != NULL)
    {
      /* An atlas is a heatmap per head, of every layer. */
      if (raw->view != NULL || raw->step != NULL || raw->range != NULL
          || raw->threshold != NULL)
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "--atlas draws a heatmap of every head: %s does "
                            "not apply",
                            raw->view != NULL   ? "--view"
                            : raw->step != NULL ? "--step"
                            : raw->range != NULL ? "--range"
                                                 : "--threshold");
      return TRUE;
    }

  const char *view = attn_view_kind_to_string (o->view);
  if (raw->step != NULL && o->view != ATTN_VIEW_STEP)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--step chooses the decoding step of --view step: "
                        "it does not apply to --view %s", view);
  if (raw->threshold != NULL && o->view != ATTN_VIEW_ALIGNMENT
      && o->view != ATTN_VIEW_HEADS)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--threshold hides weak links of --view alignment "
                        "or head: it does not apply to --view %s", view);
  if (raw->values && o->view != ATTN_VIEW_HEATMAP)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--values prints weights in heatmap cells: it does "
                        "not apply to --view %s", view);
  if (o->view == ATTN_VIEW_MODEL
      && (o->layer >= 0 || o->head_mode != ATTN_CLI_HEAD_UNSET))
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--view model draws every layer and head: --layer "
                        "and --head do not apply");
  if (o->view == ATTN_VIEW_HEADS
      && (o->head_mode == ATTN_CLI_HEAD_MEAN
          || o->head_mode == ATTN_CLI_HEAD_MAX))
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--view head draws the heads themselves (all, or "
                        "the one --head N names): --head mean and max do "
                        "not apply");
  return TRUE;
}

/* Checks that hold for every command taking --kind/--layer/--head, -o and
 * --atlas: the values, the suffixes and which combinations mean anything. */
static gboolean
check_selection (AttnCliOptions *o, const RawArgs *raw, GError **error)
{
  if (raw->kind != NULL)
    {
      if (!check_kind (raw->kind, error))
        return FALSE;
      o->kind = g_strdup (raw->kind);
    }
  if (raw->layer != NULL
      && !attn_cli_parse_int ("--layer", raw->layer, 0, G_MAXINT, &o->layer,
                              error))
    return FALSE;
  if (raw->head != NULL
      && !attn_cli_parse_head (raw->head, &o->head_mode, &o->head, error))
    return FALSE;
  if (raw->output != NULL)
    {
      if (!check_suffix ("-o", raw->output, data_formats, &o->output_format,
                         error))
        return FALSE;
      o->output = g_strdup (raw->output);
    }
  if (raw->atlas != NULL)
    {
      if (!check_suffix ("--atlas", raw->atlas, atlas_formats,
                         &o->atlas_format, error))
        return FALSE;
      o->atlas = g_strdup (raw->atlas);
    }

  if (o->output != NULL && o->atlas != NULL)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "-o and --atlas are separate output modes: give "
                        "one of them");
  gboolean selects = o->kind != NULL || o->layer >= 0
                     || o->head_mode != ATTN_CLI_HEAD_UNSET;
  if (o->output == NULL && o->atlas == NULL && selects)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--kind, --layer and --head choose what -o or "
                        "--atlas writes: give -o FILE or --atlas FILE too");
  if (o->output_format == ATTN_CLI_FORMAT_JSON && selects)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "-o FILE.json writes the whole trace: --kind, "
                        "--layer and --head do not apply");
  if (o->output_format == ATTN_CLI_FORMAT_NPY
      && o->head_mode != ATTN_CLI_HEAD_UNSET)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "-o FILE.npy holds every head of the block: --head "
                        "does not apply");
  if (o->atlas != NULL
      && (o->layer >= 0 || o->head_mode != ATTN_CLI_HEAD_UNSET))
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--atlas draws every layer and head: --layer and "
                        "--head do not apply");
  return check_image (o, raw, error);
}

static gboolean
check_bench (AttnCliOptions *o, const RawArgs *raw, GError **error)
{
  if (raw->seq != NULL)
    {
      g_free (o->seq);
      o->seq = attn_cli_parse_int_list ("--seq", raw->seq, 1, 8192, &o->n_seq,
                                        error);
      if (o->seq == NULL)
        return FALSE;
    }
  if ((raw->dim != NULL
       && !attn_cli_parse_int ("--dim", raw->dim, 1, 8192, &o->dim, error))
      || (raw->heads != NULL
          && !attn_cli_parse_int ("--heads", raw->heads, 1, 1024, &o->heads,
                                  error))
      || (raw->reps != NULL
          && !attn_cli_parse_int ("--reps", raw->reps, 1, 1000, &o->reps,
                                  error))
      || (raw->threads != NULL
          && !attn_cli_parse_int ("--threads", raw->threads, 1, 1024,
                                  &o->threads, error))
      || (raw->sgemm != NULL
          && !attn_cli_parse_int ("--sgemm", raw->sgemm, 1, 8192, &o->sgemm_n,
                                  error)))
    return FALSE;
  if (o->dim % o->heads != 0)
    return usage_error (error, ATTN_CLI_ERROR_BAD_VALUE,
                        "--dim %d is not a multiple of --heads %d", o->dim,
                        o->heads);
  if ((raw->steps != NULL
       && !attn_cli_parse_int ("--steps", raw->steps, 2, 100000,
                               &o->train_steps, error))
      || (raw->warmup != NULL
          && !attn_cli_parse_int ("--warmup", raw->warmup, 1, 100000,
                                  &o->warmup, error))
      || (raw->batch != NULL
          && !attn_cli_parse_int ("--batch", raw->batch, 1, 4096, &o->batch,
                                  error))
      || (raw->sentences != NULL
          && !attn_cli_parse_int ("--sentences", raw->sentences, 1, 100000,
                                  &o->sentences, error)))
    return FALSE;
  if (raw->models != NULL)
    {
      for (guint i = 0; raw->models[i] != NULL; i++)
        if (raw->models[i][0] == '\0')
          return usage_error (error, ATTN_CLI_ERROR_BAD_VALUE,
                              "--model needs a model file, folder or name");
      o->models = g_strdupv (raw->models);
    }
  o->bench_train = raw->bench_train;
  /* The training and model options time models: without one they would
   * be silently ignored. */
  if (o->models == NULL
      && (raw->bench_train || raw->steps != NULL || raw->warmup != NULL
          || raw->batch != NULL || raw->sentences != NULL))
    return usage_error (error, ATTN_CLI_ERROR_MISSING,
                        "--train, --steps, --warmup, --batch and "
                        "--sentences time a model: give --model");
  if (!o->bench_train
      && (raw->steps != NULL || raw->warmup != NULL || raw->batch != NULL))
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--steps, --warmup and --batch set up training: "
                        "add --train");
  if (raw->gpt2 != NULL)
    {
      if (raw->gpt2[0] == '\0')
        return usage_error (error, ATTN_CLI_ERROR_BAD_VALUE,
                            "--gpt2 needs a GPT-2 model folder");
      if (o->models != NULL)
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "give --gpt2 DIR or --model MODEL, not both");
      if (raw->dim != NULL || raw->heads != NULL || raw->sgemm != NULL)
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "--dim, --heads and --sgemm set up the attention "
                            "table; --gpt2's model fixes its own sizes");
      o->gpt2 = g_strdup (raw->gpt2);
    }
  if (o->models != NULL
      && (raw->seq != NULL || raw->dim != NULL || raw->heads != NULL
          || raw->sgemm != NULL))
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--seq, --dim, --heads and --sgemm set up the "
                        "attention table, which --model replaces");
  /* The per-head weights (NH, T, T) dominate memory: refuse a size that
   * would not fit rather than fail inside the allocator. */
  for (guint i = 0; i < o->n_seq; i++)
    {
      double bytes = 4.0 * o->heads * (double) o->seq[i] * o->seq[i];
      if (bytes > 4.0 * (1u << 30))
        return usage_error (error, ATTN_CLI_ERROR_BAD_VALUE,
                            "--seq %d with --heads %d needs %.1f GiB for the "
                            "attention weights alone: at most 4 GiB",
                            o->seq[i], o->heads, bytes / (1u << 30));
    }
  return TRUE;
}

/* run and export --model: the GPT-2 options (whether the model takes them
 * is known only once it is opened). */
static gboolean
check_gpt2_options (AttnCliOptions *o, const RawArgs *raw, GError **error)
{
  const struct
  {
    const char *value, *name;
  } given[] = {
    { raw->generate, "--generate" },     { raw->temperature, "--temperature" },
    { raw->top_k, "--top-k" },           { raw->top_p, "--top-p" },
    { raw->seed, "--seed" },             { raw->max_trace_mb, "--max-trace-mb" },
    { raw->ignore_eos ? "" : NULL, "--ignore-eos" },
    { raw->progress ? "" : NULL, "--progress" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (given) && o->gpt2_option == NULL; i++)
    if (given[i].value != NULL)
      o->gpt2_option = given[i].name;
  int seed = 0;
  if ((raw->generate != NULL
       && !attn_cli_parse_int ("--generate", raw->generate, 0, 100000,
                               &o->generate, error))
      || (raw->temperature != NULL
          && !parse_number ("--temperature", raw->temperature, 0, 100,
                            &o->temperature, error))
      || (raw->top_k != NULL
          && !attn_cli_parse_int ("--top-k", raw->top_k, 1, G_MAXINT,
                                  &o->top_k, error))
      || (raw->top_p != NULL
          && !parse_number ("--top-p", raw->top_p, 1e-6, 1, &o->top_p,
                            error))
      || (raw->seed != NULL
          && !attn_cli_parse_int ("--seed", raw->seed, 0, G_MAXINT, &seed,
                                  error))
      || (raw->max_trace_mb != NULL
          && !parse_number ("--max-trace-mb", raw->max_trace_mb, 1, 1e9,
                            &o->max_trace_mb, error)))
    return FALSE;
  o->seed = (guint32) seed;
  o->ignore_eos = raw->ignore_eos;
  o->progress = raw->progress;
  if (raw->ignore_eos && o->generate == 0)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "--ignore-eos applies to generation: give "
                        "--generate N (above 0) too");
  if ((raw->top_k != NULL || raw->top_p != NULL || raw->seed != NULL)
      && !(o->temperature > 0))
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "%s applies to sampling: give --temperature X "
                        "(above 0) too; without it generation is greedy",
                        raw->top_k != NULL   ? "--top-k"
                        : raw->top_p != NULL ? "--top-p"
                                             : "--seed");
  return TRUE;
}

static gboolean
check_command (AttnCliOptions *o, const RawArgs *raw, GError **error)
{
  const char *name = commands[o->command].name;

  /* The text: --text or one positional argument, not both. */
  guint n_rest = raw->rest != NULL ? g_strv_length (raw->rest) : 0;
  if (n_rest > 0 && !takes_text (o->command))
    {
      g_autofree char *shown = g_utf8_make_valid (raw->rest[0], -1);
      return usage_error (error, ATTN_CLI_ERROR_BAD_VALUE,
                          "%s takes no TEXT argument (got “%s”)", name,
                          shown);
    }
  if (n_rest > 1)
    return usage_error (error, ATTN_CLI_ERROR_BAD_VALUE,
                        "expected one TEXT argument, got %u (quote the text "
                        "to keep it whole)", n_rest);
  if (n_rest == 1 && raw->text != NULL)
    return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                        "give the text either with --text or as the TEXT "
                        "argument, not both");
  const char *text = raw->text != NULL ? raw->text
                     : n_rest == 1     ? raw->rest[0]
                                       : NULL;
  if (text != NULL)
    {
      if (!check_text (text, error))
        return FALSE;
      o->text = g_strdup (text);
    }
  o->model = g_strdup (raw->model);
  o->trace = g_strdup (raw->trace);

  switch (o->command)
    {
    case ATTN_CLI_COMMAND_RUN:
      if (!check_selection (o, raw, error))
        return FALSE;
      if (o->model == NULL)
        return usage_error (error, ATTN_CLI_ERROR_MISSING,
                            "run needs --model MODEL (a model file, folder "
                            "or bundled name; “attnscope-cli info” lists "
                            "the bundled models)");
      if (o->text == NULL)
        return usage_error (error, ATTN_CLI_ERROR_MISSING,
                            "run needs the input text: --text TEXT or a "
                            "TEXT argument");
      if (raw->beam != NULL
          && !attn_cli_parse_int ("--beam", raw->beam, 1,
                                  ATTN_MAX_BEAM_WIDTH, &o->beam, error))
        return FALSE;
      if (!check_gpt2_options (o, raw, error))
        return FALSE;
      o->json = raw->json;
      if (o->json && (o->output != NULL || o->atlas != NULL))
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "--json prints the trace on standard output: "
                            "-o and --atlas do not apply (-o FILE.json "
                            "writes it to a file)");
      return TRUE;

    case ATTN_CLI_COMMAND_EXPORT:
      if (!check_selection (o, raw, error))
        return FALSE;
      if (o->trace != NULL && o->model != NULL)
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "give --trace (a saved trace) or --model (a "
                            "model to run), not both");
      if (o->trace != NULL && o->text != NULL)
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "--trace exports a saved trace: a text does not "
                            "apply");
      if (o->trace == NULL && o->model == NULL)
        return usage_error (error, ATTN_CLI_ERROR_MISSING,
                            "export needs --trace FILE.json, or --model "
                            "MODEL and a text to run it on");
      if (o->model != NULL && o->text == NULL)
        return usage_error (error, ATTN_CLI_ERROR_MISSING,
                            "export --model needs the input text: --text "
                            "TEXT or a TEXT argument");
      if (o->output == NULL && o->atlas == NULL)
        return usage_error (error, ATTN_CLI_ERROR_MISSING,
                            "export needs -o FILE or --atlas FILE");
      if (!check_gpt2_options (o, raw, error))
        return FALSE;
      if (o->trace != NULL && o->gpt2_option != NULL)
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "%s applies to a model run: --trace exports a "
                            "saved trace", o->gpt2_option);
      return TRUE;

    case ATTN_CLI_COMMAND_TRAIN:
      if (raw->output != NULL)
        {
          if (!check_suffix ("-o", raw->output, model_formats,
                             &o->output_format, error))
            return FALSE;
          o->output = g_strdup (raw->output);
        }
      if (o->output == NULL)
        return usage_error (error, ATTN_CLI_ERROR_MISSING,
                            "train needs -o FILE.safetensors for the trained "
                            "model");
      return attn_cli_train_check (raw->train, o, error);

    case ATTN_CLI_COMMAND_INFO:
      if (o->trace != NULL && o->model != NULL)
        return usage_error (error, ATTN_CLI_ERROR_CONFLICT,
                            "info describes one thing: give --trace or "
                            "--model, not both");
      return TRUE;

    case ATTN_CLI_COMMAND_BENCH:
      return check_bench (o, raw, error);
    }
  g_assert_not_reached ();
}

AttnCliOptions *
attn_cli_options_parse (AttnCliCommand command, int argc, char **argv,
                        GError **error)
{
  g_return_val_if_fail ((guint) command < ATTN_CLI_N_COMMANDS, NULL);
  g_autoptr (AttnCliOptions) o = g_new0 (AttnCliOptions, 1);
  o->command = command;
  o->layer = -1;
  o->head = -1;
  o->reps = 3;
  o->dim = 768;
  o->heads = 12;
  o->sgemm_n = 1024;
  o->train_steps = 21;
  o->warmup = 3;
  o->batch = 64;
  o->sentences = 200;
  o->view = ATTN_VIEW_HEATMAP;
  o->colormap = ATTN_COLORMAP_VIRIDIS;
  o->scale = ATTN_SCALE_FIXED;
  o->theme = ATTN_THEME_LIGHT;
  attn_export_options_init (&o->size);
  o->size.creator = "attnscope-cli " ATTN_VERSION;
  o->step = -1;
  o->range_start = o->range_end = -1;
  o->threshold = -1.0;
  o->n_seq = 3;
  o->seq = g_new (int, 3);
  o->seq[0] = 128;
  o->seq[1] = 512;
  o->seq[2] = 1024;

  o->beam = 1;
  o->top_p = 1.0;
  o->max_trace_mb = ATTN_CLI_MAX_TRACE_MB;

  RawArgs raw = { 0 };
  if (command == ATTN_CLI_COMMAND_TRAIN)
    raw.train = attn_cli_train_new ();
  g_autofree GOptionEntry *entries = NULL;
  GOptionContext *context = make_context (command, &raw, &entries);
  /* GOption rearranges the vector it parses: give it a shallow copy. */
  g_autofree char **args = g_new0 (char *, argc + 1);
  memcpy (args, argv, sizeof (char *) * argc);
  int n_args = argc;
  char **args_ptr = args;
  gboolean ok = g_option_context_parse (context, &n_args, &args_ptr, error);
  g_option_context_free (context);

  if (ok)
    {
      o->help = raw.help;
      ok = o->help || check_command (o, &raw, error);
    }
  if (ok && !o->help && command == ATTN_CLI_COMMAND_TRAIN)
    {
      o->train = g_steal_pointer (&raw.train);
      o->command_line = attn_cli_command_line (argc, argv);
    }
  raw_args_clear (&raw);
  return ok ? g_steal_pointer (&o) : NULL;
}

void
attn_cli_options_free (AttnCliOptions *options)
{
  if (options == NULL)
    return;
  g_free (options->model);
  g_free (options->text);
  g_free (options->trace);
  g_free (options->kind);
  g_free (options->output);
  g_free (options->atlas);
  g_free (options->seq);
  g_strfreev (options->models);
  g_free (options->gpt2);
  g_clear_pointer (&options->train, attn_cli_train_free);
  g_free (options->command_line);
  g_free (options);
}
