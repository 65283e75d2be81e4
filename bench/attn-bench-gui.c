/* attn-bench-gui: how fast the GUI answers. Run by hand under a display
 * (or xvfb-run), from the build tree:
 *
 *   bench/attn-bench-gui [--model NAME|FILE] [--keystrokes N]
 *
 * Prints (1) the time from the application's creation to the first painted
 * frame holding a trace: the window opens on the model and runs its
 * example, as `attnscope --model NAME` does; (2) for N keystrokes typed
 * into the entry one character at a time, the time from the start of each
 * run (the moment the debounce delay is over) to the painted frame showing
 * its result: the model run, the views' update and the redraw, the
 * debounce delay excluded. The model defaults to the bundled
 * dates-transformer. */
#include <stdio.h>
#include <stdlib.h>

#include "ui/attn-application.h"
#include "ui/attn-window-private.h"

static const char *model_ref = ATTN_DEFAULT_MODEL;
static int n_keystrokes = 40;
/* Typed again and again, one character per keystroke. */
static const char typed[] = "Saturday, 23 November 2026";

typedef struct
{
  AttnApplication *app;
  AttnWindow *window;
  GdkFrameClock *clock;
  gint64 run_started;   /* of the result waiting to be painted, or 0 */
  gint64 first_paint;   /* 0 until the first trace is painted */
  GArray *latencies_ms; /* of double */
  int typed_count;
  guint64 awaited; /* generation of the keystroke being measured */
} Bench;

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static gboolean type_next (gpointer data);

static void
on_after_paint (GdkFrameClock *clock, Bench *b)
{
  if (attn_window_get_trace (b->window) == NULL)
    return;
  gint64 now = g_get_monotonic_time ();
  if (b->first_paint == 0)
    {
      b->first_paint = now;
      g_timeout_add (200, type_next, b);
      return;
    }
  if (b->run_started != 0)
    {
      double ms = (now - b->run_started) / 1000.0;
      g_array_append_val (b->latencies_ms, ms);
      b->run_started = 0;
      /* The next keystroke once this one is on screen. */
      g_timeout_add (20, type_next, b);
    }
}

static void
on_finished (AttnRunner *runner, AttnRunResult *result, Bench *b)
{
  /* The window has taken the trace by now (this runs after it). */
  if (result->error == NULL && result->generation == b->awaited)
    b->run_started = result->started_us;
}

static gboolean
type_next (gpointer data)
{
  Bench *b = data;
  if (b->typed_count >= n_keystrokes)
    {
      g_application_quit (G_APPLICATION (b->app));
      return G_SOURCE_REMOVE;
    }
  int len = 1 + b->typed_count % (int)(sizeof typed - 1);
  g_autofree char *text = g_strndup (typed, len);
  b->typed_count++;
  gtk_editable_set_text (GTK_EDITABLE (b->window->text_entry), text);
  b->awaited = attn_runner_get_generation (b->window->runner);
  return G_SOURCE_REMOVE;
}

static void
on_window_added (GtkApplication *app, GtkWindow *window, Bench *b)
{
  if (!ATTN_IS_WINDOW (window) || b->window != NULL)
    return;
  b->window = ATTN_WINDOW (window);
  g_signal_connect_after (b->window->runner, "finished",
                          G_CALLBACK (on_finished), b);
}

static void
on_realize (GtkWidget *widget, Bench *b)
{
  b->clock = gtk_widget_get_frame_clock (widget);
  g_signal_connect (b->clock, "after-paint", G_CALLBACK (on_after_paint), b);
}

static void
on_window_shown (GtkApplication *app, GtkWindow *window, Bench *b)
{
  if (gtk_widget_get_realized (GTK_WIDGET (window)))
    on_realize (GTK_WIDGET (window), b);
  else
    g_signal_connect (window, "realize", G_CALLBACK (on_realize), b);
}

int
main (int argc, char **argv)
{
  const GOptionEntry entries[]
      = { { "model", 0, 0, G_OPTION_ARG_STRING, &model_ref,
            "Model to open (default " ATTN_DEFAULT_MODEL ")", "MODEL" },
          { "keystrokes", 0, 0, G_OPTION_ARG_INT, &n_keystrokes,
            "Keystrokes to time (default 40)", "N" },
          { NULL } };
  g_autoptr (GOptionContext) ctx = g_option_context_new (NULL);
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "attn-bench-gui: %s\n", error->message);
      return 2;
    }

  Bench b = { 0 };
  b.latencies_ms = g_array_new (FALSE, FALSE, sizeof (double));
  b.app = attn_application_new ();
  g_application_set_flags (G_APPLICATION (b.app),
                           g_application_get_flags (G_APPLICATION (b.app))
                               | G_APPLICATION_NON_UNIQUE);
  g_signal_connect (b.app, "window-added", G_CALLBACK (on_window_added), &b);
  g_signal_connect_after (b.app, "window-added", G_CALLBACK (on_window_shown),
                          &b);
  char *app_argv[] = { argv[0], (char *)"--model", (char *)model_ref, NULL };
  int status = g_application_run (G_APPLICATION (b.app), 3, app_argv);

  gint64 start = attn_application_get_start_time (b.app);
  if (b.first_paint == 0)
    {
      fprintf (stderr,
               "attn-bench-gui: no trace was ever painted (is “%s” "
               "a model that loads?)\n",
               model_ref);
      return 1;
    }
  printf ("model: %s\n", model_ref);
  printf ("GSK renderer: %s\n", g_getenv ("GSK_RENDERER") != NULL
                                    ? g_getenv ("GSK_RENDERER")
                                    : "default");
  printf ("start to first painted heatmap: %.0f ms\n",
          (b.first_paint - start) / 1000.0);
  GArray *l = b.latencies_ms;
  if (l->len > 0)
    {
      qsort (l->data, l->len, sizeof (double), compare_doubles);
      double sum = 0;
      for (guint i = 0; i < l->len; i++)
        sum += g_array_index (l, double, i);
      printf ("keystroke (run + redraw to painted frame, debounce "
              "excluded), %u keystrokes: median %.1f ms, mean %.1f ms, "
              "90th percentile %.1f ms, max %.1f ms\n",
              l->len, g_array_index (l, double, l->len / 2), sum / l->len,
              g_array_index (l, double, (l->len * 9) / 10),
              g_array_index (l, double, l->len - 1));
    }
  g_array_unref (l);
  g_object_unref (b.app);
  return status;
}
