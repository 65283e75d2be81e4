/* attn-bench-render.c: how long the heatmap takes to draw, the figure
 * behind "1,024 x 1,024 on screen in under 16 ms" (one frame at 60 Hz).
 *
 *   build/bench/attn-bench-render [--tokens N] [--size PX] [--reps R]
 *                                 [--vector] [--png FILE]
 *
 * The matrix is one head of a decoder-only trace of N tokens (default 1024):
 * causal rows, each a softmax of seeded random scores with a first-token
 * sink, as real GPT-2 heads look. Prints, in milliseconds:
 *   layout    attn_heatmap_layout_new: the prepared matrix and label sizes
 *             (once per trace, selection or window size);
 *   resize    attn_heatmap_layout_set_size: a window resized (no label is
 *             measured again, the image is kept);
 *   image     filling the one-pixel-per-cell image (once per colour map);
 *   frame     drawing from the cached image onto a PX x PX ARGB32 surface:
 *             what a widget does on every redraw (median, min, max of R);
 *   one-shot  attn_heatmap_render: layout, image and frame together;
 *   vector    with --vector, one rectangle per cell (what PDF and SVG get).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ui/render/attn-heatmap.h"

static AttnTrace *
bench_trace (guint n)
{
  AttnTrace *t = attn_trace_new ("bench", "gpt2",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 1);
  GString *text = g_string_new (NULL);
  int *start = g_new (int, (gsize)n + 1);
  for (guint i = 0; i < n; i++)
    {
      start[i] = (int)text->len;
      g_string_append_printf (text, " w%d", i);
    }
  start[n] = (int)text->len;
  attn_trace_set_text (t, ATTN_SIDE_TARGET, text->str);
  for (guint i = 0; i < n; i++)
    {
      char *tok = g_strndup (text->str + start[i], start[i + 1] - start[i]);
      attn_trace_add_token (t, ATTN_SIDE_TARGET, tok, (int)i, start[i],
                            start[i + 1], FALSE);
      g_free (tok);
    }
  g_free (start);
  g_string_free (text, TRUE);

  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_DECODER_SELF, 0, 1, n, n);
  GRand *rng = g_rand_new_with_seed (1024);
  double *e = g_new (double, n);
  for (guint q = 0; q < n; q++)
    {
      double sum = 0.0;
      for (guint k = 0; k <= q; k++)
        {
          double s = g_rand_double_range (rng, -2.0, 2.0);
          if (k == 0)
            s += 4.0; /* the sink */
          if (k + 1 == q)
            s += 2.0; /* the previous token */
          e[k] = exp (s);
          sum += e[k];
        }
      float *row = b->weights + (gsize)q * n; /* (Tk) */
      for (guint k = 0; k <= q; k++)
        row[k] = (float)(e[k] / sum);
    }
  g_free (e);
  g_rand_free (rng);
  return t;
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double
ms_since (gint64 t0)
{
  return (g_get_monotonic_time () - t0) / 1000.0;
}

int
main (int argc, char **argv)
{
  int tokens = 1024, size = 1000, reps = 30;
  gboolean vector = FALSE;
  char *png = NULL;
  GOptionEntry entries[] = {
    { "tokens", 0, 0, G_OPTION_ARG_INT, &tokens, "matrix side (1024)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "drawing side in px (1000)",
      "PX" },
    { "reps", 0, 0, G_OPTION_ARG_INT, &reps, "frames to time (30)", "R" },
    { "vector", 0, 0, G_OPTION_ARG_NONE, &vector,
      "also time per-cell rectangles", NULL },
    { "png", 0, 0, G_OPTION_ARG_FILENAME, &png, "write the last frame",
      "FILE" },
    { NULL },
  };
  GError *error = NULL;
  GOptionContext *ctx = g_option_context_new ("- time the heatmap");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || tokens < 1
      || tokens > 32767 || size < 1 || size > 32767 || reps < 1)
    {
      fprintf (stderr, "attn-bench-render: %s\n",
               error != NULL
                   ? error->message
                   : "--tokens and --size must be in 1..32767 (Cairo's "
                     "largest image), --reps >= 1");
      return 2;
    }
  g_option_context_free (ctx);

  AttnTrace *trace = bench_trace ((guint)tokens);
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  sel.selected_query = tokens / 2;

  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, size, size);
  cairo_t *cr = cairo_create (s);

  /* Warm up fontconfig and Pango's caches, as a running app has them. */
  attn_heatmap_render (cr, trace, &sel, &style, size, size, NULL);

  gint64 t0 = g_get_monotonic_time ();
  AttnHeatmapLayout *lay
      = attn_heatmap_layout_new (trace, &sel, &style, size, size, &error);
  double t_layout = ms_since (t0);
  if (lay == NULL)
    {
      fprintf (stderr, "attn-bench-render: %s\n", error->message);
      return 1;
    }
  t0 = g_get_monotonic_time ();
  attn_heatmap_layout_set_size (lay, &style, size - 1, size - 1, NULL);
  attn_heatmap_layout_set_size (lay, &style, size, size, NULL);
  double t_resize = ms_since (t0) / 2.0;
  t0 = g_get_monotonic_time ();
  attn_heatmap_layout_get_image (lay, &style);
  double t_image = ms_since (t0);

  double *frame = g_new (double, reps);
  for (int i = 0; i < reps; i++)
    {
      t0 = g_get_monotonic_time ();
      attn_heatmap_render_layout (cr, lay, &sel, &style,
                                  ATTN_HEATMAP_CELLS_IMAGE);
      cairo_surface_flush (s);
      frame[i] = ms_since (t0);
    }
  qsort (frame, reps, sizeof *frame, compare_double);

  t0 = g_get_monotonic_time ();
  attn_heatmap_render (cr, trace, &sel, &style, size, size, NULL);
  cairo_surface_flush (s);
  double t_oneshot = ms_since (t0);

  printf ("heatmap %d x %d tokens on %d x %d px (cells %.2f px, labels "
          "every %d)\n",
          tokens, tokens, size, size, lay->cell_width, lay->row_label_step);
  printf ("%-9s %10s\n", "step", "ms");
  printf ("%-9s %10.2f\n", "layout", t_layout);
  printf ("%-9s %10.2f\n", "resize", t_resize);
  printf ("%-9s %10.2f\n", "image", t_image);
  printf ("%-9s %10.2f   (median of %d; min %.2f, max %.2f)\n", "frame",
          frame[reps / 2], reps, frame[0], frame[reps - 1]);
  printf ("%-9s %10.2f\n", "one-shot", t_oneshot);
  if (vector)
    {
      t0 = g_get_monotonic_time ();
      attn_heatmap_render_layout (cr, lay, &sel, &style,
                                  ATTN_HEATMAP_CELLS_VECTOR);
      cairo_surface_flush (s);
      printf ("%-9s %10.2f\n", "vector", ms_since (t0));
    }
  if (png != NULL
      && cairo_surface_write_to_png (s, png) != CAIRO_STATUS_SUCCESS)
    {
      fprintf (stderr, "attn-bench-render: cannot write %s\n", png);
      return 1;
    }

  g_free (frame);
  g_free (png);
  attn_heatmap_layout_free (lay);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
  attn_render_style_clear (&style);
  attn_trace_free (trace);
  return 0;
}
