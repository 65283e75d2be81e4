/* attn-ui-test-util.c: helpers of the GUI tests (see the header). */
#include "tests/attn-ui-test-util.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include <string.h>

#include "core/attn-task.h"
#include "core/attn-vocab.h"
#include "tests/attn-test-util.h"

static char *model_dir;
static char *config_dir;

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;
      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static void
remove_test_dirs (void)
{
  remove_tree (model_dir);
  remove_tree (config_dir);
}

void
attn_ui_test_init (int *argc, char ***argv)
{
  g_autoptr (GError) error = NULL;
  model_dir = g_dir_make_tmp ("attnscope-ui-test-XXXXXX", &error);
  g_assert_no_error (error);
  config_dir = g_dir_make_tmp ("attnscope-ui-config-XXXXXX", &error);
  g_assert_no_error (error);
  atexit (remove_test_dirs);
  g_setenv ("ATTNSCOPE_MODEL_PATH", model_dir, TRUE);
  /* Preferences go here, not into the user's own. */
  g_setenv ("XDG_CONFIG_HOME", config_dir, TRUE);
  gtk_test_init (argc, argv, NULL);
  adw_init ();
}

const char *
attn_ui_test_model_dir (void)
{
  return model_dir;
}

AttnModel *
attn_ui_test_new_model (const char *name, int max_len, const char *example)
{
  g_autoptr (GArray) chars = attn_task_charset (ATTN_TASK_DATES);
  AttnVocab *vocab
      = attn_vocab_new_from_chars ((const gunichar *)chars->data, chars->len);
  AttnModelConfig config = {
    .arch = ATTN_ARCH_TRANSFORMER,
    .V = attn_vocab_size (vocab),
    .max_len = max_len,
    .C = 16,
    .NH = 2,
    .L_enc = 2,
    .L_dec = 2,
    .F = 32,
    .pre_norm = TRUE,
    .attention = ATTN_MECHANISM_SCALED_DOT_PRODUCT,
    .dropout = 0.0f,
  };
  g_autoptr (GError) error = NULL;
  AttnModel *model = attn_model_new (name, &config, vocab, 7, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  model->card_json = g_strdup_printf ("{\"name\":\"%s\",\"task\":\"dates\","
                                      "\"examples\":[\"%s\"]}",
                                      name, example);
  return model;
}

char *
attn_ui_test_save_model (AttnModel *model, const char *dir)
{
  g_autofree char *file = g_strconcat (model->name, ".safetensors", NULL);
  char *path = g_build_filename (dir, file, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_model_save (model, path, &error));
  g_assert_no_error (error);
  return path;
}

void
attn_ui_test_wait (gboolean (*cond) (gpointer data), gpointer data,
                   guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64)timeout_ms * 1000;
  while (!cond (data))
    {
      if (g_get_monotonic_time () > deadline)
        g_error ("condition not reached within %u ms", timeout_ms);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static gboolean
is_allocated (gpointer data)
{
  GtkWidget *widget = data;
  return gtk_widget_get_mapped (widget) && gtk_widget_get_width (widget) > 0
         && gtk_widget_get_height (widget) > 0;
}

void
attn_ui_test_wait_allocated (GtkWidget *widget)
{
  attn_ui_test_wait (is_allocated, widget, 10000);
  /* A few more rounds, so a relayout queued meanwhile has settled (not
   * until idle: a running animation never is). */
  for (int i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

#define SCAN_STEP 8

static gboolean
matches (int want, int got)
{
  return want < 0 || want == got;
}

gboolean
attn_ui_test_find_hit (AttnAttentionView *view, AttnHitKind kind, int query,
                       int key, int layer, int head, double *x, double *y)
{
  const AttnTrace *trace = attn_attention_view_get_trace (view);
  g_assert_nonnull (trace);
  int width = gtk_widget_get_width (GTK_WIDGET (view));
  int height = gtk_widget_get_height (GTK_WIDGET (view));
  AttnRenderStyle style;
  attn_attention_view_build_style (view, &style);
  double sx = 0, sy = 0;
  int n = 0;
  /* Every SCAN_STEP pixels: a hit test lays the view out (~0.3 ms), and
   * what the tests look for (cells, labels, thumbnails) is larger. */
  for (int py = 0; py < height; py += SCAN_STEP)
    for (int px = 0; px < width; px += SCAN_STEP)
      {
        AttnHit hit;
        if (!attn_view_hit_test (attn_attention_view_get_kind (view), trace,
                                 attn_attention_view_get_selection (view),
                                 &style, width, height, px + 0.5, py + 0.5,
                                 &hit))
          continue;
        if (hit.kind == kind && matches (query, hit.query)
            && matches (key, hit.key) && matches (layer, hit.layer)
            && matches (head, hit.head))
          {
            sx += px + 0.5;
            sy += py + 0.5;
            n++;
          }
      }
  attn_render_style_clear (&style);
  if (n == 0)
    return FALSE;
  /* The mean of a cell's or a label's points is inside it (both are
   * convex: rectangles). */
  *x = sx / n;
  *y = sy / n;
  return TRUE;
}

