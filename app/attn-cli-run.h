/* attn-cli-run.h: opening and running models for attnscope-cli's run,
 * export --model and info --model (docs/cli.md). */
#pragma once

#include <stdio.h>

#include <glib.h>

#include "app/attn-cli.h"
#include "core/attn-gpt2.h"
#include "core/attn-model.h"
#include "core/attn-trace.h"

G_BEGIN_DECLS

/* Resolves ref (attn-model-ref.h) and loads the model. The message of a
 * failure starts “cannot open model “REF” (KIND PATH): ”. *path (may be
 * NULL) receives what ref resolved to, and *kind its kind's name. */
AttnModel *attn_cli_open_model (const char *ref, char **path,
                                const char **kind, GError **error);

/* TRUE when ref resolves to a GPT-2 folder, or to the config.json or
 * model.safetensors of one (attn_gpt2_detect). */
gboolean attn_cli_is_gpt2 (const char *ref);

/* Resolves ref and opens it as a GPT-2 folder; failures as
 * attn_cli_open_model's. */
AttnGpt2 *attn_cli_open_gpt2 (const char *ref, char **path,
                              const char **kind, GError **error);

/* Runs model on o->text with the GPT-2 options (--generate, --temperature,
 * --top-k, --top-p, --seed, --ignore-eos), refusing first a trace above
 * o->max_trace_mb with a message naming its size and --max-trace-mb.
 * *n_prompt (may be NULL) receives the text's token count (of the part
 * run, when it was cut): the trace's other tokens were generated.
 *
 * The model runs in a worker thread while this one runs a main loop: its
 * progress goes to stderr (a bar redrawn in place on a terminal once the
 * run has taken 0.3 s, cleared at the end; with o->progress a plain line
 * per report, at most about ten a second plus the first and the last),
 * and Ctrl-C cancels it: ATTN_CLI_ERROR_INTERRUPTED (“interrupted: run
 * cancelled”, exit 130), even if the run finished meanwhile, so that
 * nothing is written after a Ctrl-C. A second Ctrl-C exits at once. */
AttnTrace *attn_cli_run_gpt2 (AttnGpt2 *model, const AttnCliOptions *o,
                              int *n_prompt, GError **error);

/* run's report for a decoder-only trace whose first n_prompt tokens are
 * the text's and the rest generated (n_generate were asked for; fewer
 * when generation stopped at the end-of-text token, which the report then
 * says): the text, the continuation, each prediction after the text with
 * its top alternatives, and for each token the three earlier tokens the
 * last layer weighs most (mean over heads). */
void attn_cli_print_gpt2_summary (FILE *out, const AttnTrace *trace,
                                  int n_prompt, int n_generate);

/* info --model for a GPT-2 folder: its files, config and sizes. */
void attn_cli_print_gpt2 (FILE *out, const char *path, const char *kind,
                          const AttnGpt2 *model);

/* Runs model on o->text with o->beam; characters outside the vocabulary
 * are named in a warning on stderr (the run goes on with <unk>). */
AttnTrace *attn_cli_run_model (AttnModel *model, const AttnCliOptions *o,
                               GError **error);

/* run's report: the input, the output and, for each output token, the
 * three source tokens the last cross block weighs most (mean over heads). */
void attn_cli_print_run_summary (FILE *out, const AttnTrace *trace);

/* run --json: the whole trace. */
gboolean attn_cli_print_json (FILE *out, const AttnTrace *trace,
                              GError **error);

/* info --model: where the model came from (its card) and its config. */
void attn_cli_print_model (FILE *out, const char *path, const char *kind,
                           AttnModel *model);

G_END_DECLS
