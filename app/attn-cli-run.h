/* attn-cli-run.h: opening and running models for attnscope-cli's run,
 * export --model and info --model (docs/cli.md). */
#pragma once

#include <stdio.h>

#include <glib.h>

#include "app/attn-cli.h"
#include "core/attn-model.h"
#include "core/attn-trace.h"

G_BEGIN_DECLS

/* Resolves ref (attn-model-ref.h) and loads the model. The message of a
 * failure starts “cannot open model “REF” (KIND PATH): ”. *path (may be
 * NULL) receives what ref resolved to, and *kind its kind's name. */
AttnModel *attn_cli_open_model (const char *ref, char **path,
                                const char **kind, GError **error);

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
