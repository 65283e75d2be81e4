/* attn-ui-test-util.c: helpers of the GUI tests (see the header). */
#include "tests/attn-ui-test-util.h"

#include <adwaita.h>
#include <glib/gstdio.h>

#include <string.h>

#include "core/attn-safetensors.h"
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

/* GPT-2's byte-to-unicode alphabet: printable Latin-1 bytes stand for
 * themselves, the others for U+0100 on, in byte order. */
static gunichar
byte_char (int b)
{
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174))
    return b;
  int n = 0;
  for (int c = 0; c < b; c++)
    if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174)))
      n++;
  return 256 + n;
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

/* Tensors to write, with their names and data. */
typedef struct
{
  AttnSafetensorsWriteSpec *ws;
  guint n;
  GPtrArray *keep; /* the names and data */
  guint32 seed;
} TensorList;

/* Adds a (d0, d1) tensor, or (d0) when d1 is 0, of random weights (taking
 * name); returns its data for the caller to change. */
static float *
add_tensor (TensorList *list, char *name, gsize d0, gsize d1)
{
  AttnSafetensorsWriteSpec *w = &list->ws[list->n];
  g_ptr_array_add (list->keep, name);
  w->name = name;
  w->ndim = d1 > 0 ? 2 : 1;
  w->shape[0] = d0;
  w->shape[1] = d1;
  gsize numel = d0 * (d1 > 0 ? d1 : 1);
  float *data = g_new (float, numel);
  gboolean gain = strstr (name, "ln_") != NULL
                  && g_str_has_suffix (name, ".weight");
  /* Gains near 1, the rest small enough for a residual stream that stays
   * finite through any number of layers. */
  attn_test_fill_uniform (data, numel, gain ? 0.8f : -0.1f, gain ? 1.2f : 0.1f,
                          list->seed + list->n);
  g_ptr_array_add (list->keep, data);
  w->data = data;
  list->n++;
  return data;
}

void
attn_ui_test_write_gpt2 (const char *dir, int L, int NH, int C,
                         int n_positions, int favour, guint32 seed)
{
  const gsize V = ATTN_UI_TEST_GPT2_EOT + 1, F = 4 * (gsize)C;
  g_assert_true (favour < (int)V);

  g_autoptr (GString) vocab = g_string_new ("{");
  for (int b = 0; b < 256; b++)
    {
      char utf8[8] = { 0 };
      g_unichar_to_utf8 (byte_char (b), utf8);
      g_string_append_printf (vocab, "%s\"%s%s\": %d", b > 0 ? ", " : "",
                              b == '"' || b == '\\' ? "\\" : "", utf8, b);
    }
  g_string_append_printf (vocab, ", \"<|endoftext|>\": %d}",
                          ATTN_UI_TEST_GPT2_EOT);
  write_file (dir, "vocab.json", vocab->str);
  write_file (dir, "merges.txt", "#version: 0.2\n");
  g_autofree char *config = g_strdup_printf (
      "{\"model_type\": \"gpt2\", \"activation_function\": \"gelu_new\", "
      "\"n_layer\": %d, \"n_head\": %d, \"n_embd\": %d, "
      "\"n_positions\": %d, \"vocab_size\": %" G_GSIZE_FORMAT ", "
      "\"eos_token_id\": %d, \"layer_norm_epsilon\": 1e-05, "
      "\"n_inner\": null}",
      L, NH, C, n_positions, V, ATTN_UI_TEST_GPT2_EOT);
  write_file (dir, "config.json", config);

  static const struct
  {
    const char *name;
    int rows, cols; /* in units: 1 = C, 3 = 3 C, 4 = F; cols 0: (rows) */
  } per_layer[] = {
    { "ln_1.weight", 1, 0 },        { "ln_1.bias", 1, 0 },
    { "attn.c_attn.weight", 1, 3 }, { "attn.c_attn.bias", 3, 0 },
    { "attn.c_proj.weight", 1, 1 }, { "attn.c_proj.bias", 1, 0 },
    { "ln_2.weight", 1, 0 },        { "ln_2.bias", 1, 0 },
    { "mlp.c_fc.weight", 1, 4 },    { "mlp.c_fc.bias", 4, 0 },
    { "mlp.c_proj.weight", 4, 1 },  { "mlp.c_proj.bias", 1, 0 },
  };
  const gsize units[5] = { 0, (gsize)C, 0, 3 * (gsize)C, F };
  TensorList list = {
    .ws = g_new0 (AttnSafetensorsWriteSpec, 4 + L * G_N_ELEMENTS (per_layer)),
    .keep = g_ptr_array_new_with_free_func (g_free),
    .seed = seed,
  };
  float *wte = add_tensor (&list, g_strdup ("wte.weight"), V, C); /* (V, C) */
  add_tensor (&list, g_strdup ("wpe.weight"), n_positions, C);
  for (int l = 0; l < L; l++)
    for (guint k = 0; k < G_N_ELEMENTS (per_layer); k++)
      add_tensor (&list, g_strdup_printf ("h.%d.%s", l, per_layer[k].name),
                  units[per_layer[k].rows], units[per_layer[k].cols]);
  float *ln_f_w = add_tensor (&list, g_strdup ("ln_f.weight"), C, 0); /* (C) */
  float *ln_f_b = add_tensor (&list, g_strdup ("ln_f.bias"), C, 0);   /* (C) */
  if (favour >= 0)
    {
      /* logits[v] = wte[v] . wte[favour]: a row's dot product with itself
       * (C times the weights' mean square) is far above its dot product
       * with any other random row. */
      memset (ln_f_w, 0, (gsize)C * sizeof (float));
      memcpy (ln_f_b, wte + (gsize)favour * C, (gsize)C * sizeof (float));
    }
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (
      attn_safetensors_write (path, list.ws, list.n, NULL, &error));
  g_assert_no_error (error);
  g_free (list.ws);
  g_ptr_array_unref (list.keep);
}
