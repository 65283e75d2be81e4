/* attn-bench-views.c: how long the model view takes to draw — the figure
 * behind "12 x 12 heads of T = 128 on screen in under 16 ms" — and, for
 * scale, one draw of the alignment, head and step views of the same trace.
 *
 *   build/bench/attn-bench-views [--tokens T] [--layers L] [--heads NH]
 *                                [--size PX] [--reps R] [--png FILE]
 *
 * The trace is decoder-only, L layers x NH heads of T tokens (default 12 x
 * 12 x 128, GPT-2 small's shape): causal rows, each a softmax of seeded
 * random scores with a first-token sink and a previous-token bump, plus one
 * decoding step per position. Prints, in milliseconds:
 *   cold      attn_model_view_render: layout, every thumbnail image built,
 *             painted (what an export or the first frame costs);
 *   build     attn_thumbnail_cache_update alone (once per trace, kind,
 *             colour map, scale or hiding);
 *   cached    attn_model_view_render_cached with a filled cache: a new
 *             layout and painting, what a widget does on a resize (median,
 *             min, max of R);
 *   frame     attn_model_view_render_layout with layout and cache kept: a
 *             hover or selection redraw (median, min, max of R);
 *   alignment, heads, step: one-shot renders of layer L-1 (mean of heads;
 *             the head view with every head) for comparison.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ui/render/attn-alignment.h"
#include "ui/render/attn-head-view.h"
#include "ui/render/attn-model-view.h"
#include "ui/render/attn-step-view.h"

static AttnTrace *
bench_trace (int n, int n_layers, int n_heads)
{
  AttnTrace *t = attn_trace_new (
      "bench", "gpt2", ATTN_MECHANISM_SCALED_DOT_PRODUCT, n_layers, n_heads);
  GString *text = g_string_new (NULL);
  int *start = g_new (int, (gsize)n + 1);
  for (int i = 0; i < n; i++)
    {
      start[i] = (int)text->len;
      g_string_append_printf (text, " w%d", i);
    }
  start[n] = (int)text->len;
  attn_trace_set_text (t, ATTN_SIDE_TARGET, text->str);
  for (int i = 0; i < n; i++)
    {
      g_autofree char *tok
          = g_strndup (text->str + start[i], start[i + 1] - start[i]);
      attn_trace_add_token (t, ATTN_SIDE_TARGET, tok, i, start[i], start[i + 1],
                            FALSE);
    }
  g_free (start);
  g_string_free (text, TRUE);

  GRand *rng = g_rand_new_with_seed (128);
  g_autofree double *e = g_new (double, n);
  for (int l = 0; l < n_layers; l++)
    {
      AttnBlock *b
          = attn_trace_add_block (t, ATTN_KIND_DECODER_SELF, l, n_heads, n, n);
      for (int h = 0; h < n_heads; h++)
        for (int q = 0; q < n; q++)
          {
            double sum = 0.0;
            for (int k = 0; k <= q; k++)
              {
                double s = g_rand_double_range (rng, -2.0, 2.0);
                if (k == 0)
                  s += 1.0 + h % 4; /* the sink, stronger in some heads */
                if (k + 1 == q)
                  s += 2.0; /* the previous token */
                e[k] = exp (s);
                sum += e[k];
              }
            float *row = b->weights + ((gsize)h * n + q) * n; /* (Tk) */
            for (int k = 0; k <= q; k++)
              row[k] = (float)(e[k] / sum);
          }
    }
  for (int i = 0; i < n; i++)
    {
      g_autofree char *next = g_strdup_printf (" w%d", i + 1);
      AttnStep *step
          = attn_trace_add_step (t, i + 1 < n ? i + 1 : -1, next, 0.5f);
      attn_step_add_top (step, i + 1 < n ? i + 1 : -1, next, 0.5f);
      attn_step_add_top (step, -1, " x", 0.25f);
    }
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

static void
print_spread (const char *what, double *t, int reps)
{
  qsort (t, reps, sizeof *t, compare_double);
  printf ("%-9s %10.2f   (median of %d; min %.2f, max %.2f)\n", what,
          t[reps / 2], reps, t[0], t[reps - 1]);
}

int
main (int argc, char **argv)
{
  int tokens = 128, layers = 12, heads = 12, size = 1600, reps = 30;
  char *png = NULL;
  GOptionEntry entries[] = {
    { "tokens", 0, 0, G_OPTION_ARG_INT, &tokens, "tokens T (128)", "T" },
    { "layers", 0, 0, G_OPTION_ARG_INT, &layers, "layers L (12)", "L" },
    { "heads", 0, 0, G_OPTION_ARG_INT, &heads, "heads NH (12)", "NH" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "drawing side in px (1600)",
      "PX" },
    { "reps", 0, 0, G_OPTION_ARG_INT, &reps, "frames to time (30)", "R" },
    { "png", 0, 0, G_OPTION_ARG_FILENAME, &png,
      "write the model view's last frame", "FILE" },
    { NULL },
  };
  GError *error = NULL;
  GOptionContext *ctx = g_option_context_new ("- time the model view");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || tokens < 1
      || tokens > 4096 || layers < 1 || layers > 64 || heads < 1 || heads > 64
      || size < 16 || size > 32767 || reps < 1)
    {
      fprintf (stderr, "attn-bench-views: %s\n",
               error != NULL ? error->message
                             : "--tokens in 1..4096, --layers and --heads "
                               "in 1..64, --size in 16..32767, --reps >= 1");
      return 2;
    }
  g_option_context_free (ctx);

  AttnTrace *trace = bench_trace (tokens, layers, heads);
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  sel.layer = layers - 1;
  sel.head = ATTN_HEADS_MEAN;
  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, size, size);
  cairo_t *cr = cairo_create (s);

  /* Warm up fontconfig and Pango's caches, as a running app has them. */
  if (!attn_model_view_render (cr, trace, &sel, &style, size, size, &error))
    {
      fprintf (stderr, "attn-bench-views: %s\n", error->message);
      return 1;
    }

  gint64 t0 = g_get_monotonic_time ();
  attn_model_view_render (cr, trace, &sel, &style, size, size, NULL);
  cairo_surface_flush (s);
  double t_cold = ms_since (t0);

  AttnModelViewLayout *lay
      = attn_model_view_layout_new (trace, &sel, &style, size, size, NULL);
  int pool_rows, pool_cols;
  attn_model_view_layout_pools (lay, cr, &pool_rows, &pool_cols);
  AttnThumbnailCache *cache = attn_thumbnail_cache_new ();
  t0 = g_get_monotonic_time ();
  attn_thumbnail_cache_update (cache, trace, &sel, &style, pool_rows, pool_cols,
                               NULL);
  double t_build = ms_since (t0);

  double *cached = g_new (double, reps), *frame = g_new (double, reps);
  for (int i = 0; i < reps; i++)
    {
      t0 = g_get_monotonic_time ();
      attn_model_view_render_cached (cr, cache, trace, &sel, &style, size, size,
                                     NULL);
      cairo_surface_flush (s);
      cached[i] = ms_since (t0);
    }
  for (int i = 0; i < reps; i++)
    {
      t0 = g_get_monotonic_time ();
      attn_model_view_render_layout (cr, lay, cache, &style);
      cairo_surface_flush (s);
      frame[i] = ms_since (t0);
    }
  g_assert (attn_thumbnail_cache_get_n_builds (cache) == 1);

  printf ("model view: %d layers x %d heads of %d x %d on %d x %d px "
          "(thumbnails %.1f x %.1f px, %d x %d weights per image pixel)\n",
          layers, heads, tokens, tokens, size, size, lay->cell_width,
          lay->cell_height, pool_rows, pool_cols);
  printf ("%-9s %10s\n", "step", "ms");
  printf ("%-9s %10.2f\n", "cold", t_cold);
  printf ("%-9s %10.2f\n", "build", t_build);
  print_spread ("cached", cached, reps);
  print_spread ("frame", frame, reps);
  if (png != NULL
      && cairo_surface_write_to_png (s, png) != CAIRO_STATUS_SUCCESS)
    {
      fprintf (stderr, "attn-bench-views: cannot write %s\n", png);
      return 1;
    }

  /* The other views once each, on a 1000 px square. */
  static const struct
  {
    const char *name;
    gboolean (*render) (cairo_t *, const AttnTrace *, const AttnSelection *,
                        const AttnRenderStyle *, double, double, GError **);
  } others[] = {
    { "alignment", attn_alignment_render },
    { "heads", attn_head_view_render },
    { "step", attn_step_view_render },
  };
  cairo_surface_t *small
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1000, 1000);
  cairo_t *scr = cairo_create (small);
  AttnSelection step_sel;
  attn_step_view_selection_init (&step_sel, tokens - 1);
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    {
      const AttnSelection *use = i == 2 ? &step_sel : &sel;
      t0 = g_get_monotonic_time ();
      if (!others[i].render (scr, trace, use, &style, 1000, 1000, &error))
        {
          fprintf (stderr, "attn-bench-views: %s\n", error->message);
          return 1;
        }
      cairo_surface_flush (small);
      printf ("%-9s %10.2f   (one-shot, 1000 x 1000 px)\n", others[i].name,
              ms_since (t0));
    }

  cairo_destroy (scr);
  cairo_surface_destroy (small);
  g_free (cached);
  g_free (frame);
  g_free (png);
  attn_model_view_layout_free (lay);
  attn_thumbnail_cache_free (cache);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
  attn_render_style_clear (&style);
  attn_trace_free (trace);
  return 0;
}
