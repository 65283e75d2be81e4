/* attn-cli-progress.c: the terminal progress bar shared by train and the
 * GPT-2 runs of run and export. */
#include "app/attn-cli-progress.h"

#define BAR_WIDTH 24

void
attn_cli_bar_draw (FILE *out, double fraction, const char *text)
{
  int filled = (int) (BAR_WIDTH * CLAMP (fraction, 0.0, 1.0));
  char bar[BAR_WIDTH + 1];
  for (int i = 0; i < BAR_WIDTH; i++)
    bar[i] = i < filled ? '=' : i == filled ? '>' : ' ';
  bar[BAR_WIDTH] = '\0';
  /* \r back to the line's start, ESC [K erases what a longer line left. */
  fprintf (out, "\r\033[K[%s] %s", bar, text);
  fflush (out);
}

void
attn_cli_bar_clear (FILE *out)
{
  fputs ("\r\033[K", out);
  fflush (out);
}
