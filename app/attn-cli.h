/* attn-cli.h: the command line of attnscope-cli, as a library.
 *
 * main() in attnscope-cli.c only picks the subcommand and dispatches; the
 * options, their validation and the subcommands themselves live here so the
 * tests link the same code the program runs. The contract (options,
 * defaults, messages, exit codes) is written down in docs/cli.md: change
 * both together.
 *
 * Nothing here exits the process. Subcommands write their normal output to
 * the FILE * they are given and report failure as a GError; main() prints
 * the message on stderr and exits with attn_cli_exit_code (error). */
#pragma once

#include <stdio.h>

#include <glib.h>

#include "ui/render/attn-export.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

/* Process exit codes (docs/cli.md, "Exit codes"). */
typedef enum {
  ATTN_CLI_EXIT_OK = 0,
  ATTN_CLI_EXIT_FAILURE = 1, /* the request was valid but could not be done */
  ATTN_CLI_EXIT_USAGE = 2,   /* the command line itself is wrong */
  ATTN_CLI_EXIT_INTERRUPTED = 130, /* Ctrl-C stopped a run (128 + SIGINT,
                                    * as a shell reports it) */
} AttnCliExit;

/* Usage errors: every code of this domain (and of G_OPTION_ERROR) but
 * ATTN_CLI_ERROR_INTERRUPTED exits with ATTN_CLI_EXIT_USAGE; that one with
 * ATTN_CLI_EXIT_INTERRUPTED; errors of any other domain (ATTN_ERROR from
 * core, G_FILE_ERROR, ...) exit with ATTN_CLI_EXIT_FAILURE. */
#define ATTN_CLI_ERROR (attn_cli_error_quark ())

typedef enum {
  ATTN_CLI_ERROR_UNKNOWN_COMMAND, /* not run, export, train, info or bench */
  ATTN_CLI_ERROR_BAD_VALUE,       /* an option's value is malformed */
  ATTN_CLI_ERROR_MISSING,         /* a required option or the text is absent */
  ATTN_CLI_ERROR_CONFLICT,        /* options that exclude each other */
  ATTN_CLI_ERROR_BAD_SUFFIX,      /* output format unknown from its suffix */
  ATTN_CLI_ERROR_OUT_OF_RANGE,    /* kind, layer or head not in the trace */
  ATTN_CLI_ERROR_INTERRUPTED,     /* Ctrl-C cancelled a model run: nothing
                                   * was written */
} AttnCliErrorCode;

GQuark attn_cli_error_quark (void);
int attn_cli_exit_code (const GError *error);

typedef enum {
  ATTN_CLI_COMMAND_RUN,
  ATTN_CLI_COMMAND_EXPORT,
  ATTN_CLI_COMMAND_TRAIN,
  ATTN_CLI_COMMAND_INFO,
  ATTN_CLI_COMMAND_BENCH,
} AttnCliCommand;

#define ATTN_CLI_N_COMMANDS 5

const char *attn_cli_command_name (AttnCliCommand command);
/* FALSE with ATTN_CLI_ERROR_UNKNOWN_COMMAND naming the valid commands. */
gboolean attn_cli_command_from_name (const char *name, AttnCliCommand *out,
                                     GError **error);

/* Output formats, told by the file name's suffix (case-insensitive). */
typedef enum {
  ATTN_CLI_FORMAT_NONE,
  ATTN_CLI_FORMAT_JSON,        /* the whole trace, docs/trace-format.md */
  ATTN_CLI_FORMAT_NPY,         /* one block: (NH, Tq, Tk) float32 */
  ATTN_CLI_FORMAT_CSV,         /* one head, or the mean or max over heads */
  ATTN_CLI_FORMAT_PNG,
  ATTN_CLI_FORMAT_SVG,
  ATTN_CLI_FORMAT_PDF,
  ATTN_CLI_FORMAT_SAFETENSORS, /* a trained model (train -o) */
} AttnCliFormat;

const char *attn_cli_format_suffix (AttnCliFormat format);
/* ATTN_CLI_FORMAT_NONE when the suffix is not one of `allowed` (a
 * ATTN_CLI_FORMAT_NONE-terminated list). */
AttnCliFormat attn_cli_format_from_path (const char *path,
                                         const AttnCliFormat *allowed);

typedef enum {
  ATTN_CLI_HEAD_UNSET, /* --head not given */
  ATTN_CLI_HEAD_INDEX, /* --head N */
  ATTN_CLI_HEAD_MEAN,  /* --head mean */
  ATTN_CLI_HEAD_MAX,   /* --head max */
} AttnCliHeadMode;

/* Parses a --head value: a head number from 0, "mean" or "max". */
gboolean attn_cli_parse_head (const char *value, AttnCliHeadMode *mode,
                              int *head, GError **error);
/* Parses a number >= min for `option` (named in the message). */
gboolean attn_cli_parse_int (const char *option, const char *value, int min,
                             int max, int *out, GError **error);
/* Parses "128,512,1024" into a new array of n values in [min, max]. */
int *attn_cli_parse_int_list (const char *option, const char *value, int min,
                              int max, guint *n, GError **error);

/* A subcommand's options after parsing and every check that needs no file:
 * syntax, ranges that do not depend on a trace, required options and
 * combinations, output suffixes. Strings are UTF-8 where they are text
 * (model, text, kind) and file-system bytes where they are paths. */
typedef struct {
  AttnCliCommand command;
  gboolean help; /* -h/--help: print attn_cli_command_help, nothing else */

  char *model;  /* --model: a file, a folder or a bundled model's name */
  char *text;   /* --text or the positional TEXT */
  char *trace;  /* --trace: a saved trace (.json) */
  char *kind;   /* --kind: "encoder-self", "decoder-self", "cross" or NULL */
  int layer;    /* --layer, or -1 when not given */
  AttnCliHeadMode head_mode;
  int head;     /* --head N; -1 unless head_mode is ATTN_CLI_HEAD_INDEX */
  char *output; /* -o */
  AttnCliFormat output_format;
  char *atlas;  /* --atlas */
  AttnCliFormat atlas_format;

  /* images (-o .png/.svg/.pdf, --atlas): the view and how it is drawn */
  AttnViewKind view;   /* --view, ATTN_VIEW_HEATMAP when not given */
  gboolean view_given;
  AttnColormap colormap; /* --colormap, viridis when not given */
  gboolean reversed;   /* --reversed */
  AttnScale scale;     /* --scale fixed|max|log */
  AttnTheme theme;     /* --theme light|dark|presentation */
  AttnExportOptions size; /* --width, --height (with units), --dpi; its
                           * creator is "attnscope-cli VERSION" */
  int step;            /* --step, or -1 when not given */
  gboolean hide_special; /* --hide-special */
  gboolean hide_sink;  /* --hide-sink */
  int range_start;     /* --range START:END, or -1, -1 */
  int range_end;
  gboolean values;     /* --values: weights printed in heatmap cells */
  double threshold;    /* --threshold, or -1 when not given */

  /* run */
  int beam;      /* --beam: beam width, 1 (greedy) when not given */
  gboolean json; /* --json: the whole trace on stdout */

  /* run, export --model: GPT-2 models (attn-gpt2.h) */
  int generate;        /* --generate: tokens generated after the text, 0 */
  double temperature;  /* --temperature: 0 (greedy) when not given */
  int top_k;           /* --top-k: 0 (all) when not given */
  double top_p;        /* --top-p: 1 (all) when not given */
  guint32 seed;        /* --seed: of the sampler, 0 when not given */
  double max_trace_mb; /* --max-trace-mb: a larger trace is refused before
                        * the run; ATTN_CLI_MAX_TRACE_MB when not given */
  gboolean ignore_eos; /* --ignore-eos: generate all --generate tokens, past
                        * the end-of-text token */
  gboolean progress;   /* --progress: plain progress lines on stderr, even
                        * when it is not a terminal */
  const char *gpt2_option; /* the first of those given ("--generate", ...),
                            * or NULL: a built-in model refuses them */

  /* train: its own options (app/attn-cli-train.h) */
  struct _AttnCliTrain *train;
  char *command_line; /* argv as the user typed it, for the model card */

  /* bench */
  int *seq; /* target lengths T to measure */
  guint n_seq;
  int reps;    /* best of reps */
  int threads; /* 0: OpenBLAS's own default */
  int dim;     /* C */
  int heads;   /* NH */
  int sgemm_n; /* size of the sgemm that sets the ceiling */
  char **models;   /* --model, repeatable: time these models (greedy
                    * inference on their card's task) instead of the
                    * attention table; NULL when not given */
  gboolean bench_train; /* --train: also time training a fresh model of
                         * each --model's config on its task */
  int train_steps; /* --steps: training steps timed (the first of them
                    * is not counted: attn_bench_train) */
  int warmup;      /* --warmup: training steps before timing */
  int batch;       /* --batch: examples per training step */
  int sentences;   /* --sentences: test sentences translated */
  char *gpt2;      /* --gpt2 DIR: time a GPT-2 folder's forward pass at
                    * each --seq T instead; NULL when not given */
} AttnCliOptions;

/* Default of --max-trace-mb: a 1,024-token trace of gpt2 (12 x 12 heads)
 * takes 604 MB and passes; gpt2-medium's (24 x 16) 1.6 GB does not. */
#define ATTN_CLI_MAX_TRACE_MB 1024.0

/* Parses argv (argv[0] is the subcommand's name; nothing of argv is
 * changed) for `command`. NULL with an ATTN_CLI_ERROR or G_OPTION_ERROR on
 * any usage error. With -h/--help the result has help set and no other
 * check was made. */
AttnCliOptions *attn_cli_options_parse (AttnCliCommand command, int argc,
                                        char **argv, GError **error);
void attn_cli_options_free (AttnCliOptions *options);

/* Help text of the program (the list of subcommands) and of one
 * subcommand, as printed by --help. */
char *attn_cli_program_help (void);
char *attn_cli_command_help (AttnCliCommand command);

/* The subcommands (docs/cli.md). Each writes its report to `out`; on
 * failure nothing is written to the requested output file. */
gboolean attn_cli_run (const AttnCliOptions *options, FILE *out,
                       GError **error);
gboolean attn_cli_export (const AttnCliOptions *options, FILE *out,
                          GError **error);
gboolean attn_cli_train (const AttnCliOptions *options, FILE *out,
                         GError **error);
gboolean attn_cli_info (const AttnCliOptions *options, FILE *out,
                        GError **error);
gboolean attn_cli_bench (const AttnCliOptions *options, FILE *out,
                         GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnCliOptions, attn_cli_options_free)

G_END_DECLS
