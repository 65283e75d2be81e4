/* attn-cli-train.h: the options of `attnscope-cli train`, kept apart from
 * attn-cli.c's shared table because only train has them (docs/cli.md,
 * "train"). attn-cli.c adds them to train's option context, and calls
 * attn_cli_train_check once GOption has filled them in. */
#pragma once

#include <glib.h>

#include "app/attn-cli.h"

G_BEGIN_DECLS

typedef struct _AttnCliTrain AttnCliTrain;

AttnCliTrain *attn_cli_train_new (void);
void attn_cli_train_free (AttnCliTrain *train);

/* Adds train's own options to context; their values land in train. */
void attn_cli_train_add_entries (AttnCliTrain *train,
                                 GOptionContext *context);

/* Checks train's options (values, ranges, which go together) and turns
 * them into the model and training configuration attn_cli_train runs
 * with. o->output and o->text are already set. A usage error
 * (ATTN_CLI_ERROR) when anything is wrong. */
gboolean attn_cli_train_check (AttnCliTrain *train, AttnCliOptions *o,
                               GError **error);

/* "attnscope-cli train --task dates …": argv (argv[0] the subcommand)
 * joined with shell quoting where a word needs it, for the model card. */
char *attn_cli_command_line (int argc, char **argv);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnCliTrain, attn_cli_train_free)

G_END_DECLS
