/* attn-cli-progress.h: the progress bar of attnscope-cli's long commands
 * (train, and run and export of GPT-2 models): one line on a terminal,
 * redrawn in place. Only for a terminal: plain progress lines for logs are
 * each command's own. */
#pragma once

#include <stdio.h>

#include <glib.h>

G_BEGIN_DECLS

/* Replaces the current line of out (a terminal) with "[=====>     ] text",
 * the bar filled to fraction (0 .. 1), and flushes it. */
void attn_cli_bar_draw (FILE *out, double fraction, const char *text);

/* Erases the current line of out, where a bar was drawn, so that what is
 * printed next starts on a clean line. */
void attn_cli_bar_clear (FILE *out);

G_END_DECLS
