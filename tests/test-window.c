/* test-window.c: the Attnscope window driven as a user would: open a trace
 * (Chinese tokens, tests/data/ui-trace-zh.json) or a model, switch views,
 * blocks, layers and heads through the controls, hover and click through
 * the views' pointer handlers at points the views' own layout gives, type
 * into the entry and wait for the re-run; check what each view is handed,
 * what it draws and what it tells a screen reader. Suite ui, under Xvfb. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "tests/attn-test-util.h"
#include "tests/attn-ui-test-util.h"
#include "ui/attn-application.h"
#include "ui/attn-preferences.h"
#include "ui/attn-window-private.h"
#include "ui/render/attn-export.h"

#define TRACE_FILE "ui-trace-zh.json"

static AttnWindow *
new_window (void)
{
  AttnWindow *window = attn_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
destroy_window (AttnWindow *window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  for (int i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static AttnWindow *
window_with_trace (void)
{
  AttnWindow *window = new_window ();
  g_autofree char *path = attn_test_data_path (TRACE_FILE);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_window_open_trace (window, path, &error));
  g_assert_no_error (error);
  return window;
}

static AttnAttentionView *
shown_view (AttnWindow *window, AttnViewKind kind)
{
  attn_window_set_view (window, kind);
  AttnAttentionView *view = window->views[kind];
  attn_ui_test_wait_allocated (GTK_WIDGET (view));
  return view;
}

/* Weight (q, k) of head h (or the mean / max) of a block, from the trace
 * itself. */
static float
block_weight (const AttnTrace *trace, AttnKind kind, int layer, int head, int q,
              int k)
{
  const AttnBlock *b = attn_trace_lookup_block (trace, kind, layer);
  g_assert_nonnull (b);
  g_autofree float *w = g_new (float, (gsize)b->n_queries * b->n_keys);
  attn_block_head_weights (b, head, w);
  return w[(gsize)q * b->n_keys + k];
}

static char *
string_item (GtkDropDown *dropdown, guint i)
{
  GListModel *model = gtk_drop_down_get_model (dropdown);
  g_assert_cmpuint (i, <, g_list_model_get_n_items (model));
  return g_strdup (gtk_string_list_get_string (GTK_STRING_LIST (model), i));
}

/* ---- empty state ------------------------------------------------------- */

static void
test_empty_state (void)
{
  /* The model folder of the tests is empty: no bundled model. */
  AttnWindow *window = new_window ();
  attn_ui_test_wait_allocated (GTK_WIDGET (window));

  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->main_stack), ==,
                   "empty");
  g_assert_false (
      gtk_widget_get_sensitive (GTK_WIDGET (window->export_button)));
  g_assert_null (attn_window_get_trace (window));
  const char *desc = adw_status_page_get_description (window->empty_page);
  g_assert_nonnull (strstr (desc, "No bundled model was found"));

  /* The model menu says why it lists nothing, then offers the files. */
  GMenuModel *menu = G_MENU_MODEL (window->model_menu);
  g_assert_cmpint (g_menu_model_get_n_items (menu), ==, 2);
  GMenuModel *bundled
      = g_menu_model_get_item_link (menu, 0, G_MENU_LINK_SECTION);
  g_assert_cmpint (g_menu_model_get_n_items (bundled), ==, 1);
  g_autofree char *label = NULL;
  g_assert_true (g_menu_model_get_item_attribute (
      bundled, 0, G_MENU_ATTRIBUTE_LABEL, "s", &label));
  g_assert_cmpstr (label, ==, "No bundled models found");
  g_autofree char *action = NULL;
  g_assert_false (g_menu_model_get_item_attribute (
      bundled, 0, G_MENU_ATTRIBUTE_ACTION, "s", &action));
  g_object_unref (bundled);

  destroy_window (window);
}

/* ---- traces ------------------------------------------------------------ */

static void
test_open_trace (void)
{
  AttnWindow *window = window_with_trace ();
  const AttnTrace *trace = attn_window_get_trace (window);
  g_assert_nonnull (trace);
  g_assert_cmpstr (trace->source_text, ==, "2026年11月23日");

  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->main_stack), ==,
                   "content");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->views_stack), ==,
                   "views");
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (window->export_button)));
  /* The trace has no model: its text shows, the entry is off. */
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (window->text_entry)),
                   ==, "2026年11月23日");
  g_assert_false (gtk_widget_get_sensitive (GTK_WIDGET (window->text_entry)));
  g_assert_cmpstr (gtk_label_get_text (window->output_label), ==, "2026-11-23");

  /* Every view draws the window's trace. */
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    g_assert_true (attn_attention_view_get_trace (window->views[v]) == trace);

  /* The block list holds the three kinds, cross first; layers 0-1; the
   * heads are mean, max, 0, 1; steps 0-10. */
  GListModel *blocks = gtk_drop_down_get_model (window->block_dropdown);
  g_assert_cmpuint (g_list_model_get_n_items (blocks), ==, 3);
  g_autofree char *b0 = string_item (window->block_dropdown, 0);
  g_autofree char *b1 = string_item (window->block_dropdown, 1);
  g_autofree char *b2 = string_item (window->block_dropdown, 2);
  g_assert_cmpstr (b0, ==, "Cross-attention");
  g_assert_cmpstr (b1, ==, "Encoder self-attention");
  g_assert_cmpstr (b2, ==, "Decoder self-attention");
  g_assert_cmpint (attn_window_get_selection (window)->kind, ==,
                   ATTN_KIND_CROSS);
  double lo, hi;
  gtk_spin_button_get_range (window->layer_spin, &lo, &hi);
  g_assert_cmpfloat (lo, ==, 0);
  g_assert_cmpfloat (hi, ==, 1);
  GListModel *heads = gtk_drop_down_get_model (window->head_dropdown);
  g_assert_cmpuint (g_list_model_get_n_items (heads), ==, 4);
  g_autofree char *h2 = string_item (window->head_dropdown, 2);
  g_assert_cmpstr (h2, ==, "Head 0");
  gtk_spin_button_get_range (window->step_spin, &lo, &hi);
  g_assert_cmpfloat (hi, ==, 10);

  destroy_window (window);
}

static void
test_open_bad_trace (void)
{
  AttnWindow *window = new_window ();
  g_autofree char *dir = g_dir_make_tmp ("attnscope-bad-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "broken.json", NULL);
  g_assert_true (
      g_file_set_contents (path, "{\"format\": \"attnscope-trace\"", -1, NULL));
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_window_open_trace (window, path, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TRACE);
  g_assert_nonnull (strstr (error->message, "broken.json"));
  /* Nothing changed. */
  g_assert_null (attn_window_get_trace (window));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->main_stack), ==,
                   "empty");
  g_unlink (path);
  g_rmdir (dir);
  destroy_window (window);
}

/* ---- views ------------------------------------------------------------- */

/* The widget draws exactly what attn_view_render draws (the function the
 * CLI exports with) at its size and style: the snapshot's nodes replayed
 * onto an image equal a direct render, pixel for pixel. */
static void
assert_draws_like_renderer (AttnAttentionView *view)
{
  GtkWidget *widget = GTK_WIDGET (view);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);

  GtkSnapshot *snapshot = gtk_snapshot_new ();
  GTK_WIDGET_GET_CLASS (widget)->snapshot (widget, snapshot);
  GskRenderNode *node = gtk_snapshot_free_to_node (snapshot);
  g_assert_nonnull (node);
  g_assert_cmpstr (attn_attention_view_get_render_error (view), ==, NULL);

  cairo_surface_t *got
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cairo_t *cr = cairo_create (got);
  gsk_render_node_draw (node, cr);
  cairo_destroy (cr);
  gsk_render_node_unref (node);

  cairo_surface_t *want
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  cr = cairo_create (want);
  AttnRenderStyle style;
  attn_attention_view_build_style (view, &style);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_view_render (attn_attention_view_get_kind (view), cr,
                                   attn_attention_view_get_trace (view),
                                   attn_attention_view_get_selection (view),
                                   &style, width, height, &error));
  g_assert_no_error (error);
  attn_render_style_clear (&style);
  cairo_destroy (cr);

  cairo_surface_flush (got);
  cairo_surface_flush (want);
  int stride = cairo_image_surface_get_stride (got);
  const guint8 *a = cairo_image_surface_get_data (got);
  const guint8 *b = cairo_image_surface_get_data (want);
  int differing = 0;
  guint32 background = 0;
  int n_background = 0;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      {
        guint32 pa = *(const guint32 *)(a + y * stride + 4 * x);
        guint32 pb = *(const guint32 *)(b + y * stride + 4 * x);
        if (pa != pb)
          differing++;
        if (x == 0 && y == 0)
          background = pb;
        if (pb == background)
          n_background++;
      }
  g_assert_cmpint (differing, ==, 0);
  /* And the render drew something: not one flat colour. */
  g_assert_cmpint (n_background, <, width * height);
  cairo_surface_destroy (got);
  cairo_surface_destroy (want);
}

static void
test_views_draw (void)
{
  AttnWindow *window = window_with_trace ();
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      AttnAttentionView *view = shown_view (window, (AttnViewKind)v);
      g_assert_cmpint (attn_window_get_view (window), ==, v);
      g_assert_cmpint (attn_attention_view_get_kind (view), ==, v);
      g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (view)));
      /* Only the step view shows the step chooser. */
      g_assert_cmpint (gtk_widget_get_visible (window->step_box), ==,
                       v == ATTN_VIEW_STEP);
      assert_draws_like_renderer (view);
    }
  destroy_window (window);
}

static void
assert_views_have (AttnWindow *window, AttnKind kind, int layer, int head)
{
  const AttnSelection *sel = attn_window_get_selection (window);
  g_assert_cmpint (sel->kind, ==, kind);
  g_assert_cmpint (sel->layer, ==, layer);
  g_assert_cmpint (sel->head, ==, head);
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      const AttnSelection *vs
          = attn_attention_view_get_selection (window->views[v]);
      g_assert_cmpint (vs->kind, ==, kind);
      g_assert_cmpint (vs->layer, ==, layer);
      g_assert_cmpint (vs->head, ==, head);
      /* The head view draws the chosen head alone, or all of them. */
      g_assert_cmpuint (vs->head_subset, ==,
                        head >= 0 ? G_GUINT64_CONSTANT (1) << head : 0);
    }
}

static void
test_controls (void)
{
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *heatmap = shown_view (window, ATTN_VIEW_HEATMAP);
  assert_views_have (window, ATTN_KIND_CROSS, 0, 0);

  gtk_spin_button_set_value (window->layer_spin, 1);
  assert_views_have (window, ATTN_KIND_CROSS, 1, 0);
  gtk_drop_down_set_selected (window->head_dropdown, 3); /* head 1 */
  assert_views_have (window, ATTN_KIND_CROSS, 1, 1);
  gtk_drop_down_set_selected (window->head_dropdown, 0);
  assert_views_have (window, ATTN_KIND_CROSS, 1, ATTN_HEADS_MEAN);
  gtk_drop_down_set_selected (window->head_dropdown, 1);
  assert_views_have (window, ATTN_KIND_CROSS, 1, ATTN_HEADS_MAX);
  assert_draws_like_renderer (heatmap);

  /* Another block keeps the layer and head the trace still has. */
  gtk_drop_down_set_selected (window->block_dropdown, 1);
  assert_views_have (window, ATTN_KIND_ENCODER_SELF, 1, ATTN_HEADS_MAX);
  gtk_drop_down_set_selected (window->block_dropdown, 2);
  assert_views_have (window, ATTN_KIND_DECODER_SELF, 1, ATTN_HEADS_MAX);
  assert_draws_like_renderer (heatmap);

  /* Step, colour map and threshold reach every view. */
  shown_view (window, ATTN_VIEW_STEP);
  gtk_spin_button_set_value (window->step_spin, 4);
  gtk_drop_down_set_selected (window->colormap_dropdown, ATTN_COLORMAP_MAGMA);
  gtk_spin_button_set_value (window->threshold_spin, 0.2);
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      g_assert_cmpint (
          attn_attention_view_get_selection (window->views[v])->step, ==, 4);
      AttnRenderStyle style;
      attn_attention_view_build_style (window->views[v], &style);
      g_assert_cmpint (style.colormap, ==, ATTN_COLORMAP_MAGMA);
      g_assert_cmpfloat_with_epsilon (style.threshold, 0.2, 1e-9);
      attn_render_style_clear (&style);
    }
  assert_draws_like_renderer (window->views[ATTN_VIEW_STEP]);
  destroy_window (window);
}

/* ---- pointer ----------------------------------------------------------- */

static void
test_hover_and_click (void)
{
  AttnWindow *window = window_with_trace ();
  const AttnTrace *trace = attn_window_get_trace (window);
  gtk_spin_button_set_value (window->layer_spin, 1);
  AttnAttentionView *heatmap = shown_view (window, ATTN_VIEW_HEATMAP);

  /* Query 5 is the first "-" (it emits the month's first "1"); key 4
   * is 年. */
  const int q = 5, k = 4;
  double x, y;
  g_assert_true (
      attn_ui_test_find_hit (heatmap, ATTN_HIT_CELL, q, k, -1, -1, &x, &y));
  g_assert_true (attn_attention_view_hover (heatmap, x, y));
  const AttnHit *hit = attn_attention_view_get_hover (heatmap);
  g_assert_cmpint (hit->kind, ==, ATTN_HIT_CELL);
  g_assert_cmpint (hit->query, ==, q);
  g_assert_cmpint (hit->key, ==, k);
  float w = block_weight (trace, ATTN_KIND_CROSS, 1, 0, q, k);
  g_assert_cmpfloat_with_epsilon (hit->weight, w, 1e-6);

  /* The status line names both tokens and the exact weight. */
  g_autofree char *weight = g_strdup_printf ("%.4f", w);
  const char *status = gtk_label_get_text (window->hover_label);
  g_assert_nonnull (strstr (status, "“-” → “年”"));
  g_assert_nonnull (strstr (status, weight));

  /* Leaving clears it: the line goes back to its hint. */
  attn_attention_view_leave (heatmap);
  g_assert_cmpint (attn_attention_view_get_hover (heatmap)->kind, ==,
                   ATTN_HIT_NONE);
  status = gtk_label_get_text (window->hover_label);
  g_assert_null (strstr (status, weight));
  g_assert_nonnull (strstr (status, "Point at a cell"));

  /* A click on the cell selects its query and key in every view. */
  g_assert_true (attn_attention_view_click (heatmap, x, y));
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      const AttnSelection *s
          = attn_attention_view_get_selection (window->views[v]);
      g_assert_cmpint (s->selected_query, ==, q);
      g_assert_cmpint (s->selected_key, ==, k);
    }
  /* A second click clears the selection. */
  g_assert_true (attn_attention_view_click (heatmap, x, y));
  g_assert_cmpint (attn_window_get_selection (window)->selected_query, ==, -1);
  g_assert_cmpint (attn_window_get_selection (window)->selected_key, ==, -1);

  /* A key label selects that token alone; the selection survives a
   * change of view. */
  g_assert_true (
      attn_ui_test_find_hit (heatmap, ATTN_HIT_KEY, -1, 10, -1, -1, &x, &y));
  g_assert_true (attn_attention_view_click (heatmap, x, y));
  g_assert_cmpint (attn_window_get_selection (window)->selected_query, ==, -1);
  g_assert_cmpint (attn_window_get_selection (window)->selected_key, ==, 10);
  AttnAttentionView *alignment = shown_view (window, ATTN_VIEW_ALIGNMENT);
  g_assert_cmpint (attn_attention_view_get_selection (alignment)->selected_key,
                   ==, 10);
  assert_draws_like_renderer (alignment);

  /* Nothing under the pointer: no hit, nothing selected. */
  g_assert_false (attn_attention_view_click (heatmap, 1, 1));
  g_assert_cmpint (attn_window_get_selection (window)->selected_key, ==, 10);
  destroy_window (window);
}

static void
test_thumbnail_opens_head (void)
{
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *grid = shown_view (window, ATTN_VIEW_MODEL);
  double x, y;
  g_assert_true (
      attn_ui_test_find_hit (grid, ATTN_HIT_THUMBNAIL, -1, -1, 1, 1, &x, &y));
  g_assert_true (attn_attention_view_click (grid, x, y));
  /* The heatmap now shows layer 1 head 1, and the controls say so. */
  g_assert_cmpint (attn_window_get_view (window), ==, ATTN_VIEW_HEATMAP);
  assert_views_have (window, ATTN_KIND_CROSS, 1, 1);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->layer_spin), ==,
                   1);
  g_assert_cmpuint (gtk_drop_down_get_selected (window->head_dropdown), ==, 3);
  destroy_window (window);
}

static void
assert_selected (AttnWindow *window, int query, int key)
{
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      const AttnSelection *s
          = attn_attention_view_get_selection (window->views[v]);
      g_assert_cmpint (s->selected_query, ==, query);
      g_assert_cmpint (s->selected_key, ==, key);
    }
}

static void
test_keyboard_selection (void)
{
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *heatmap = shown_view (window, ATTN_VIEW_HEATMAP);
  /* Cross: 11 queries (target side), 12 keys (source side). */
  g_assert_true (attn_attention_view_move_selection (heatmap, 1, 0));
  assert_selected (window, 0, -1);
  g_assert_true (attn_attention_view_move_selection (heatmap, 1, 0));
  assert_selected (window, 1, -1);
  g_assert_true (attn_attention_view_move_selection (heatmap, 0, 1));
  assert_selected (window, 1, 0);
  g_assert_true (attn_attention_view_move_selection (heatmap, -1, 0));
  g_assert_true (attn_attention_view_move_selection (heatmap, -1, 0));
  assert_selected (window, 0, 0);
  for (int i = 0; i < 20; i++)
    g_assert_true (attn_attention_view_move_selection (heatmap, 0, 1));
  assert_selected (window, 0, 11);
  /* Escape clears. */
  g_assert_true (attn_attention_view_move_selection (heatmap, 0, 0));
  assert_selected (window, -1, -1);
  /* The model grid has no token to move over. */
  g_assert_false (attn_attention_view_move_selection (
      window->views[ATTN_VIEW_MODEL], 1, 0));
  destroy_window (window);
}

static gboolean
play_stopped (gpointer data)
{
  AttnWindow *window = data;
  return !gtk_toggle_button_get_active (window->play_button);
}

static void
test_steps_play (void)
{
  AttnWindow *window = window_with_trace ();
  shown_view (window, ATTN_VIEW_STEP);
  g_assert_true (gtk_widget_get_visible (window->step_box));
  window->play_interval_ms = 1;

  /* Play runs to the last step, then the button pops back up. */
  gtk_spin_button_set_value (window->step_spin, 3);
  gtk_toggle_button_set_active (window->play_button, TRUE);
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (window->play_button)),
                   ==, "media-playback-pause-symbolic");
  attn_ui_test_wait (play_stopped, window, 10000);
  g_assert_cmpint (attn_window_get_selection (window)->step, ==, 10);
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    g_assert_cmpint (attn_attention_view_get_selection (window->views[v])->step,
                     ==, 10);
  g_assert_cmpfloat (gtk_range_get_value (GTK_RANGE (window->step_scale)), ==,
                     10);
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (window->play_button)),
                   ==, "media-playback-start-symbolic");
  g_assert_cmpuint (window->play_id, ==, 0);

  /* From the last step, play starts over; another view stops it. */
  gtk_toggle_button_set_active (window->play_button, TRUE);
  g_assert_cmpint (attn_window_get_selection (window)->step, ==, 0);
  g_assert_cmpuint (window->play_id, !=, 0);
  attn_window_set_view (window, ATTN_VIEW_HEATMAP);
  g_assert_false (gtk_toggle_button_get_active (window->play_button));
  g_assert_cmpuint (window->play_id, ==, 0);
  destroy_window (window);
}

static void
test_presentation (void)
{
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *heatmap = shown_view (window, ATTN_VIEW_HEATMAP);
  g_assert_false (attn_window_presentation_key (window, GDK_KEY_Down));

  /* F11's action turns it on: large type, the renderer's high-contrast
   * theme in every view. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window),
                                             "win.presentation", NULL));
  g_assert_true (attn_window_get_presentation (window));
  g_assert_true (
      gtk_widget_has_css_class (GTK_WIDGET (window), "presentation"));
  g_assert_true (gtk_toggle_button_get_active (window->presentation_button));
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    {
      AttnRenderStyle style;
      attn_attention_view_build_style (window->views[v], &style);
      g_assert_cmpint (style.theme, ==, ATTN_THEME_PRESENTATION);
      attn_render_style_clear (&style);
    }
  assert_draws_like_renderer (heatmap);

  /* Arrows: layers down and up, heads right and left (from head 0 at row
   * 2: head 1 is row 3), steps in the step view; no further than there
   * is. */
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Down));
  assert_views_have (window, ATTN_KIND_CROSS, 1, 0);
  g_assert_false (attn_window_presentation_key (window, GDK_KEY_Down));
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Right));
  assert_views_have (window, ATTN_KIND_CROSS, 1, 1);
  g_assert_false (attn_window_presentation_key (window, GDK_KEY_Right));
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Up));
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Left));
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Left));
  assert_views_have (window, ATTN_KIND_CROSS, 0, ATTN_HEADS_MAX);
  shown_view (window, ATTN_VIEW_STEP);
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Right));
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Right));
  g_assert_cmpint (attn_window_get_selection (window)->step, ==, 2);
  g_assert_false (attn_window_presentation_key (window, GDK_KEY_Page_Up));

  /* Escape leaves it. */
  g_assert_true (attn_window_presentation_key (window, GDK_KEY_Escape));
  g_assert_false (attn_window_get_presentation (window));
  g_assert_false (
      gtk_widget_has_css_class (GTK_WIDGET (window), "presentation"));
  AttnRenderStyle style;
  attn_attention_view_build_style (heatmap, &style);
  g_assert_cmpint (style.theme, !=, ATTN_THEME_PRESENTATION);
  attn_render_style_clear (&style);
  destroy_window (window);
}

/* ---- accessibility ------------------------------------------------------ */

static void
test_accessible_description (void)
{
  AttnWindow *window = window_with_trace ();
  const AttnTrace *trace = attn_window_get_trace (window);
  gtk_spin_button_set_value (window->layer_spin, 1);
  AttnAttentionView *heatmap = shown_view (window, ATTN_VIEW_HEATMAP);

  /* The strongest link of cross layer 1 head 0, found here. */
  const AttnBlock *b = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 1);
  int best = 0;
  for (int i = 1; i < b->n_queries * b->n_keys; i++)
    if (b->weights[i] > b->weights[best])
      best = i;
  const AttnToken *q
      = attn_trace_get_token (trace, ATTN_SIDE_TARGET, best / b->n_keys);
  const AttnToken *k
      = attn_trace_get_token (trace, ATTN_SIDE_SOURCE, best % b->n_keys);
  g_autofree char *link = g_strdup_printf ("Strongest links: “%s” → “%s” "
                                           "%.2f",
                                           q->text, k->text, b->weights[best]);

  g_assert_cmpstr (attn_attention_view_get_accessible_label (heatmap), ==,
                   "Heatmap of cross-attention, layer 1, head 0");
  const char *desc = attn_attention_view_get_accessible_description (heatmap);
  g_assert_nonnull (strstr (desc, "11 queries by 12 keys"));
  g_assert_nonnull (strstr (desc, link));

  /* It follows the controls: the mean of heads has other strongest
   * links. */
  gtk_drop_down_set_selected (window->head_dropdown, 0);
  g_assert_cmpstr (attn_attention_view_get_accessible_label (heatmap), ==,
                   "Heatmap of cross-attention, layer 1, mean of heads");

  /* The model grid names the layer and head of each strongest link; it is
   * described once shown (describing ranks every weight of every head). */
  const char *grid = attn_attention_view_get_accessible_description (
      shown_view (window, ATTN_VIEW_MODEL));
  g_autofree char *grid_link = g_strdup_printf (
      "“%s” → “%s” %.2f (layer 1, head 0)", q->text, k->text, b->weights[best]);
  g_assert_nonnull (strstr (grid, grid_link));

  /* The step view names what the step emitted, and follows the step. */
  AttnAttentionView *step_view = shown_view (window, ATTN_VIEW_STEP);
  gtk_spin_button_set_value (window->step_spin, 4);
  const char *step = attn_attention_view_get_accessible_description (step_view);
  g_assert_nonnull (strstr (step, "Step 4 emits “-” with probability 97%"));
  destroy_window (window);
}

/* ---- export ------------------------------------------------------------ */

static char *
read_file (const char *path, gsize *len)
{
  char *data = NULL;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (path, &data, len, &error));
  g_assert_no_error (error);
  return data;
}

static guint32
read_be32 (const guchar *p)
{
  return ((guint32)p[0] << 24) | ((guint32)p[1] << 16) | ((guint32)p[2] << 8)
         | p[3];
}

/* Pages of a PDF Cairo wrote: its page objects are never compressed
 * (the streams between them are: binary, NULs included). */
static int
count_pdf_pages (const char *data, gsize len)
{
  int n = 0;
  const char *end = data + len;
  for (const char *p = data; p != NULL && p < end;)
    {
      p = memmem (p, end - p, "/Type /Page", strlen ("/Type /Page"));
      if (p == NULL)
        break;
      p += strlen ("/Type /Page");
      if (p < end && *p != 's')
        n++;
    }
  return n;
}

static void
test_export (void)
{
  AttnWindow *window = window_with_trace ();
  const AttnTrace *trace = attn_window_get_trace (window);
  gtk_spin_button_set_value (window->layer_spin, 1);
  shown_view (window, ATTN_VIEW_HEATMAP);
  g_autofree char *dir = g_dir_make_tmp ("attnscope-export-XXXXXX", NULL);
  g_autoptr (GError) error = NULL;
  gsize len;

  /* PNG at the chosen size. */
  g_autofree char *png = g_build_filename (dir, "view.png", NULL);
  g_assert_true (
      attn_window_export (window, "png", png, "1200", "dark", &error));
  g_assert_no_error (error);
  g_assert_cmpstr (window->last_toast, ==, "Exported “view.png”");
  g_autofree guchar *png_data = (guchar *)read_file (png, &len);
  g_assert_cmpuint (len, >, 33);
  g_assert_cmpmem (png_data, 8, "\x89PNG\r\n\x1a\n", 8);
  g_assert_cmpmem (png_data + 12, 4, "IHDR", 4);
  g_assert_cmpuint (read_be32 (png_data + 16), ==, 1200);
  g_assert_cmpuint (read_be32 (png_data + 20), ==, 900);

  /* SVG and PDF of the current view. */
  g_autofree char *svg = g_build_filename (dir, "view.svg", NULL);
  g_assert_true (attn_window_export (window, "svg", svg, NULL, NULL, &error));
  g_autofree char *svg_data = read_file (svg, &len);
  g_assert_nonnull (strstr (svg_data, "<svg"));
  g_autofree char *pdf = g_build_filename (dir, "view.pdf", NULL);
  g_assert_true (attn_window_export (window, "pdf", pdf, NULL, NULL, &error));
  g_autofree char *pdf_data = read_file (pdf, &len);
  g_assert_true (g_str_has_prefix (pdf_data, "%PDF-"));
  g_assert_cmpint (count_pdf_pages (pdf_data, len), ==, 1);

  /* The atlas: a page per head of every cross block. */
  g_autofree char *atlas = g_build_filename (dir, "atlas.pdf", NULL);
  g_assert_true (
      attn_window_export (window, "atlas", atlas, NULL, NULL, &error));
  g_autofree char *atlas_data = read_file (atlas, &len);
  g_assert_cmpint (count_pdf_pages (atlas_data, len), ==, 4);
  g_assert_cmpint (attn_export_atlas_n_pages (trace, ATTN_KIND_CROSS), ==, 4);

  /* CSV: the matrix shown (cross, layer 1, head 0), header row first. */
  g_autofree char *csv = g_build_filename (dir, "weights.csv", NULL);
  g_assert_true (attn_window_export (window, "csv", csv, NULL, NULL, &error));
  g_autofree char *csv_data = read_file (csv, &len);
  g_auto (GStrv) rows = g_strsplit (csv_data, "\r\n", -1);
  g_assert_cmpuint (g_strv_length (rows), ==, 11 + 1 + 1); /* + final "" */
  g_assert_true (g_str_has_prefix (rows[0], ",2,0,2,6,年,1,1,月,2,3,日,"));
  g_auto (GStrv) row5 = g_strsplit (rows[1 + 5], ",", -1);
  g_assert_cmpstr (row5[0], ==, "-");
  g_assert_cmpfloat_with_epsilon (
      g_ascii_strtod (row5[1 + 4], NULL),
      block_weight (trace, ATTN_KIND_CROSS, 1, 0, 5, 4), 1e-7);

  /* JSON: the whole trace, read back equal. */
  g_autofree char *json = g_build_filename (dir, "trace.json", NULL);
  g_assert_true (attn_window_export (window, "json", json, NULL, NULL, &error));
  g_autoptr (AttnTrace) back = attn_trace_load_json (json, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->source_text, ==, trace->source_text);
  g_assert_cmpuint (back->blocks->len, ==, trace->blocks->len);
  const AttnBlock *a = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 1);
  const AttnBlock *b = attn_trace_lookup_block (back, ATTN_KIND_CROSS, 1);
  g_assert_cmpmem (
      a->weights, sizeof (float) * a->n_heads * a->n_queries * a->n_keys,
      b->weights, sizeof (float) * b->n_heads * b->n_queries * b->n_keys);

  /* A folder that cannot exist (its parent is a file): the error names the
   * path, a toast says so, and nothing is left behind. */
  g_autofree char *bad = g_build_filename (png, "sub", "view.png", NULL);
  g_assert_false (attn_window_export (window, "png", bad, NULL, NULL, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "view.png"));
  g_assert_true (g_str_has_prefix (window->last_toast, "Export failed: "));
  g_clear_error (&error);
  g_assert_false (attn_window_export (window, "gif", png, NULL, NULL, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  const char *names[] = { "view.png",  "view.svg",    "view.pdf",
                          "atlas.pdf", "weights.csv", "trace.json" };
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  int n_files = 0;
  while (g_dir_read_name (listing) != NULL)
    n_files++;
  g_assert_cmpint (n_files, ==, G_N_ELEMENTS (names));
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
  destroy_window (window);
}

/* ---- models ------------------------------------------------------------ */

typedef struct
{
  AttnWindow *window;
  const char *source_text;
} TraceWait;

static gboolean
trace_has_source (gpointer data)
{
  TraceWait *w = data;
  const AttnTrace *trace = attn_window_get_trace (w->window);
  return trace != NULL && g_strcmp0 (trace->source_text, w->source_text) == 0;
}

static gboolean
window_shows_message (gpointer data)
{
  AttnWindow *window = data;
  return g_strcmp0 (gtk_stack_get_visible_child_name (window->views_stack),
                    "message")
         == 0;
}

static void
test_model_typing (void)
{
  g_autoptr (AttnModel) model
      = attn_ui_test_new_model ("typing-test", 20, "23 Nov 2026");
  g_autofree char *path
      = attn_ui_test_save_model (model, attn_ui_test_model_dir ());
  AttnWindow *window = new_window ();
  attn_window_open_model (window, path);

  /* The model's example runs at once. */
  TraceWait wait = { window, "23 Nov 2026" };
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (window->text_entry)));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (window->text_entry)),
                   ==, "23 Nov 2026");
  g_assert_cmpstr (gtk_menu_button_get_label (window->model_button), ==,
                   "typing-test");

  /* Typing re-runs it, the controls keep their choices, and the heatmap is
   * handed a trace of the new text's size: 10 characters and </s> as
   * keys, <s> and the output as queries. */
  gtk_spin_button_set_value (window->layer_spin, 1);
  gtk_drop_down_set_selected (window->head_dropdown, 3);
  gtk_editable_set_text (GTK_EDITABLE (window->text_entry), "2026年11月2");
  gtk_editable_set_text (GTK_EDITABLE (window->text_entry), "2026年11月23日");
  wait.source_text = "2026年11月23日";
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  AttnAttentionView *heatmap = shown_view (window, ATTN_VIEW_HEATMAP);
  const AttnTrace *trace = attn_attention_view_get_trace (heatmap);
  g_assert_true (trace == attn_window_get_trace (window));
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE), ==, 12);
  const AttnBlock *cross = attn_trace_lookup_block (trace, ATTN_KIND_CROSS, 1);
  g_assert_nonnull (cross);
  g_assert_cmpint (cross->n_keys, ==, 12);
  g_assert_cmpint (cross->n_queries, ==,
                   attn_trace_n_tokens (trace, ATTN_SIDE_TARGET));
  assert_views_have (window, ATTN_KIND_CROSS, 1, 1);
  g_assert_cmpstr (gtk_label_get_text (window->output_label), ==,
                   trace->target_text);
  assert_draws_like_renderer (heatmap);

  /* A character the model does not know is reported and marked. */
  gtk_editable_set_text (GTK_EDITABLE (window->text_entry), "23 Nov 2026 ☃");
  wait.source_text = "23 Nov 2026 ☃";
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window->notice_label)));
  g_assert_nonnull (strstr (gtk_label_get_text (window->notice_label), "“☃”"));
  PangoAttrList *attrs = gtk_entry_get_attributes (window->text_entry);
  g_assert_nonnull (attrs);
  gboolean found = FALSE;
  PangoAttrIterator *it = pango_attr_list_get_iterator (attrs);
  do
    {
      PangoAttribute *u = pango_attr_iterator_get (it, PANGO_ATTR_UNDERLINE);
      if (u != NULL)
        {
          /* ☃ is 3 bytes at byte 12. */
          g_assert_cmpuint (u->start_index, ==, 12);
          g_assert_cmpuint (u->end_index, ==, 15);
          found = TRUE;
        }
    }
  while (pango_attr_iterator_next (it));
  pango_attr_iterator_destroy (it);
  g_assert_true (found);

  /* Too long: cut to the model's limit (19 characters) with a notice. */
  gtk_editable_set_text (GTK_EDITABLE (window->text_entry),
                         "23 Nov 2026 23 Nov 2026 23 Nov 2026");
  wait.source_text = "23 Nov 2026 23 Nov ";
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  g_assert_nonnull (strstr (gtk_label_get_text (window->notice_label),
                            "cut to the model’s limit of 19 characters"));

  /* A 100,000-character paste of a character the model does not know:
   * cut, reported, and only the part that ran is marked. */
  g_autofree char *paste = g_strnfill (100000, '#');
  gtk_editable_set_text (GTK_EDITABLE (window->text_entry), paste);
  wait.source_text = "###################";
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  g_assert_nonnull (strstr (gtk_label_get_text (window->notice_label),
                            "cut to the model’s limit of 19 characters"));
  g_assert_nonnull (strstr (gtk_label_get_text (window->notice_label), "“#”"));
  attrs = gtk_entry_get_attributes (window->text_entry);
  g_autoptr (GSList) marks = pango_attr_list_get_attributes (attrs);
  /* An underline and a colour for each of the 19 characters that ran. */
  g_assert_cmpuint (g_slist_length (marks), ==, 2 * 19);
  g_slist_free_full (g_steal_pointer (&marks),
                     (GDestroyNotify)pango_attribute_destroy);

  /* Empty text: a message, no trace, nothing to export. */
  gtk_editable_set_text (GTK_EDITABLE (window->text_entry), "  ");
  attn_ui_test_wait (window_shows_message, window, 1000);
  g_assert_null (attn_window_get_trace (window));
  g_assert_cmpstr (adw_status_page_get_title (window->message_page), ==,
                   "Type a Sentence");
  g_assert_false (
      gtk_widget_get_sensitive (GTK_WIDGET (window->export_button)));

  g_unlink (path);
  destroy_window (window);
}

/* attnscope --text: the given text runs first, once; the next model opened
 * runs its own example. */
static void
test_initial_text (void)
{
  g_autoptr (AttnModel) model
      = attn_ui_test_new_model ("initial-test", 20, "23 Nov 2026");
  g_autofree char *path
      = attn_ui_test_save_model (model, attn_ui_test_model_dir ());
  AttnWindow *window = new_window ();
  attn_window_set_initial_text (window, "2026年11月23日");
  attn_window_open_model (window, path);
  TraceWait wait = { window, "2026年11月23日" };
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (window->text_entry)),
                   ==, "2026年11月23日");
  attn_window_open_model (window, path);
  wait.source_text = "23 Nov 2026";
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  g_unlink (path);
  destroy_window (window);
}

/* Drops files on the window through its drop target, as GTK does when a
 * file manager's drag ends there. */
static gboolean
drop_file (AttnWindow *window, const char *path)
{
  g_autoptr (GListModel) controllers
      = gtk_widget_observe_controllers (GTK_WIDGET (window));
  GtkDropTarget *target = NULL;
  for (guint i = 0; i < g_list_model_get_n_items (controllers); i++)
    {
      g_autoptr (GObject) c = g_list_model_get_item (controllers, i);
      if (GTK_IS_DROP_TARGET (c))
        target = GTK_DROP_TARGET (c);
    }
  g_assert_nonnull (target);
  g_assert_true (g_type_is_a (GDK_TYPE_FILE_LIST,
                              gtk_drop_target_get_gtypes (target, NULL)[0]));
  g_autoptr (GFile) file = g_file_new_for_path (path);
  GSList *files = g_slist_prepend (NULL, file);
  GValue value = G_VALUE_INIT;
  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_list (files));
  g_slist_free (files);
  gboolean accepted = FALSE;
  g_signal_emit_by_name (target, "drop", &value, 10.0, 10.0, &accepted);
  g_value_unset (&value);
  return accepted;
}

static void
test_drop_files (void)
{
  AttnWindow *window = new_window ();
  /* A .json is a trace... */
  g_autofree char *trace = attn_test_data_path (TRACE_FILE);
  g_assert_true (drop_file (window, trace));
  g_assert_nonnull (attn_window_get_trace (window));
  g_assert_cmpstr (attn_window_get_trace (window)->source_text, ==,
                   "2026年11月23日");
  /* ...anything else a model. */
  g_autoptr (AttnModel) model
      = attn_ui_test_new_model ("dropped", 20, "9 Sep 1999");
  g_autofree char *dir = g_dir_make_tmp ("attnscope-drop-XXXXXX", NULL);
  g_autofree char *path = attn_ui_test_save_model (model, dir);
  g_assert_true (drop_file (window, path));
  TraceWait wait = { window, "9 Sep 1999" };
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  g_assert_cmpstr (gtk_menu_button_get_label (window->model_button), ==,
                   "dropped");
  g_unlink (path);
  g_rmdir (dir);
  destroy_window (window);
}

typedef struct
{
  GtkWindow *dialog;
} DialogWait;

static gboolean
has_error_dialog (gpointer data)
{
  DialogWait *w = data;
  GListModel *toplevels = gtk_window_get_toplevels ();
  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr (GObject) win = g_list_model_get_item (toplevels, i);
      if (ADW_IS_MESSAGE_DIALOG (win))
        {
          w->dialog = GTK_WINDOW (win);
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
trace_has_target (gpointer data)
{
  TraceWait *w = data;
  const AttnTrace *trace = attn_window_get_trace (w->window);
  return trace != NULL && g_strcmp0 (trace->target_text, w->source_text) == 0;
}

/* A Hugging Face GPT-2 folder (the real vocabulary, a tiny random
 * network: ../shared/models/hf-fake-gpt2): one stream, decoder
 * self-attention only, a prediction per position; text cut to its 1,024
 * tokens. */
static void
test_gpt2_folder (void)
{
  g_autofree char *folder = attn_test_shared_model ("hf-fake-gpt2");
  if (folder == NULL)
    return;
  AttnWindow *window = new_window ();
  attn_window_open_model (window, folder);
  TraceWait wait = { window, "The cat sat on the mat because it was tired" };
  attn_ui_test_wait (trace_has_target, &wait, 30000);
  const AttnTrace *trace = attn_window_get_trace (window);
  g_assert_cmpstr (trace->architecture, ==, "gpt2");
  g_assert_cmpstr (gtk_menu_button_get_label (window->model_button), ==,
                   "hf-fake-gpt2");
  GListModel *blocks = gtk_drop_down_get_model (window->block_dropdown);
  g_assert_cmpuint (g_list_model_get_n_items (blocks), ==, 1);
  g_autofree char *b0 = string_item (window->block_dropdown, 0);
  g_assert_cmpstr (b0, ==, "Decoder self-attention");
  assert_views_have (window, ATTN_KIND_DECODER_SELF, 0, 0);
  /* "The cat sat on the mat because it was tired" is 10 GPT-2 tokens; the
   * output is the prediction after the last one. */
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==, 10);
  g_assert_true (
      g_str_has_prefix (gtk_label_get_text (window->output_label), "next: "));
  assert_draws_like_renderer (shown_view (window, ATTN_VIEW_HEATMAP));
  assert_draws_like_renderer (shown_view (window, ATTN_VIEW_STEP));

  /* A paste longer than the context: cut to 1,024 tokens, said in
   * tokens. " word" is one token. */
  g_autoptr (GString) paste = g_string_new ("Hello");
  for (int i = 0; i < 3000; i++)
    g_string_append (paste, " word");
  gtk_editable_set_text (GTK_EDITABLE (window->text_entry), paste->str);
  g_autoptr (GString) cut = g_string_new ("Hello");
  for (int i = 0; i < 1023; i++)
    g_string_append (cut, " word");
  wait.source_text = cut->str;
  attn_ui_test_wait (trace_has_target, &wait, 60000);
  g_assert_cmpuint (
      attn_trace_n_tokens (attn_window_get_trace (window), ATTN_SIDE_TARGET),
      ==, 1024);
  g_assert_nonnull (strstr (gtk_label_get_text (window->notice_label),
                            "cut to the model’s limit of 1024 tokens"));
  destroy_window (window);
}

/* ---- GPT-2: Generate, progress and Stop ---------------------------------- */

#define GPT2_EXAMPLE_TEXT "The cat sat on the mat because it was tired"

static void
remove_dir (char *dir)
{
  attn_test_tmp_dir_remove (dir);
  g_free (dir);
}

/* The Generate spin shows for GPT-2 models only, keeps its value across
 * models, and a count re-runs the text: the trace holds the continuation
 * (scratch folders whose every position chooses one token), the output
 * shows it, the Steps view has a step per token; a model that ends the
 * text at once says so in the notice. */
static void
test_gpt2_generate (void)
{
  char *dir = attn_test_tmp_dir_new ("attn-window-gpt2-XXXXXX");
  attn_test_write_gpt2 (dir, 2, 2, 16, 64, 'x', 5);
  AttnWindow *window = new_window ();
  attn_window_open_model (window, dir);
  TraceWait wait = { window, GPT2_EXAMPLE_TEXT };
  attn_ui_test_wait (trace_has_target, &wait, 30000);
  g_assert_true (gtk_widget_get_visible (window->generate_box));
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->generate_spin),
                   ==, 0);
  g_assert_cmpstr (gtk_label_get_text (window->output_label), ==, "next: x");

  gtk_spin_button_set_value (window->generate_spin, 6);
  wait.source_text = GPT2_EXAMPLE_TEXT "xxxxxx";
  attn_ui_test_wait (trace_has_target, &wait, 30000);
  const AttnTrace *trace = attn_window_get_trace (window);
  g_assert_cmpuint (attn_trace_n_tokens (trace, ATTN_SIDE_TARGET), ==,
                    strlen (GPT2_EXAMPLE_TEXT) + 6);
  g_assert_cmpuint (trace->steps->len, ==, strlen (GPT2_EXAMPLE_TEXT) + 6);
  g_assert_cmpstr (gtk_label_get_text (window->output_label), ==, "…xxxxxx");
  g_assert_cmpstr (
      gtk_widget_get_tooltip_text (GTK_WIDGET (window->output_label)), ==,
      "xxxxxx");
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (window->notice_label)));
  g_assert_false (gtk_revealer_get_reveal_child (window->progress_revealer));
  assert_draws_like_renderer (shown_view (window, ATTN_VIEW_STEP));

  /* A built-in model: no Generate. */
  g_autoptr (AttnModel) model
      = attn_ui_test_new_model ("not-gpt2", 20, "1 Jan 2000");
  g_autofree char *path
      = attn_ui_test_save_model (model, attn_ui_test_model_dir ());
  attn_window_open_model (window, path);
  TraceWait builtin = { window, "1 Jan 2000" };
  attn_ui_test_wait (trace_has_source, &builtin, 20000);
  g_assert_false (gtk_widget_get_visible (window->generate_box));

  /* Back to GPT-2, the count kept: a model choosing <|endoftext|> at once
   * generates nothing, and the notice says so. */
  char *eot_dir = attn_test_tmp_dir_new ("attn-window-gpt2-XXXXXX");
  attn_test_write_gpt2 (eot_dir, 2, 2, 16, 64, ATTN_TEST_GPT2_EOT, 5);
  attn_window_open_model (window, eot_dir);
  wait.source_text = GPT2_EXAMPLE_TEXT;
  attn_ui_test_wait (trace_has_target, &wait, 30000);
  g_assert_true (gtk_widget_get_visible (window->generate_box));
  g_assert_cmpint (gtk_spin_button_get_value_as_int (window->generate_spin),
                   ==, 6);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window->notice_label)));
  g_assert_cmpstr (gtk_label_get_text (window->notice_label), ==,
                   "GPT-2 ended the text (<|endoftext|>) after 0 of the 6 "
                   "tokens asked.");
  g_assert_true (
      g_str_has_prefix (gtk_label_get_text (window->output_label), "next: "));

  destroy_window (window);
  g_unlink (path);
  remove_dir (dir);
  remove_dir (eot_dir);
}

static gboolean
progress_shown (gpointer data)
{
  AttnWindow *window = data;
  return gtk_revealer_get_reveal_child (window->progress_revealer)
         && attn_runner_is_busy (window->runner);
}

static gboolean
stopped_shown (gpointer data)
{
  AttnWindow *window = data;
  return g_strcmp0 (gtk_stack_get_visible_child_name (window->views_stack),
                    "message")
             == 0
         && gtk_widget_get_visible (GTK_WIDGET (window->run_button));
}

/* A long run (a scratch GPT-2 of 8 layers, n_embd 512, on 984 tokens, 8
 * generated: seconds with one BLAS thread) shows the progress bar and
 * Stop; Stop leads to the stopped state with the text kept, and Enter
 * runs it again to the end, the bar hidden once it is done. */
static void
test_gpt2_stop (void)
{
  char *dir = attn_test_tmp_dir_new ("attn-window-gpt2-long-XXXXXX");
  attn_test_write_gpt2 (dir, 8, 2, 512, 1024, 'x', 9);
  g_autoptr (GString) text = g_string_new (NULL);
  for (int i = 0; i < 41; i++)
    g_string_append (text, "the cat sat on the mat. ");
  AttnWindow *window = new_window ();
  gtk_spin_button_set_value (window->generate_spin, 8);
  attn_window_set_initial_text (window, text->str);
  attn_window_open_model (window, dir);
  attn_ui_test_wait (progress_shown, window, 60000);
  const char *bar = gtk_progress_bar_get_text (window->progress_bar);
  g_assert_true (g_str_has_prefix (bar, "Layer ")
                 || g_str_has_prefix (bar, "Generating token "));
  g_assert_cmpfloat (gtk_progress_bar_get_fraction (window->progress_bar), <,
                     1.0);
  g_assert_true (gtk_widget_get_sensitive (GTK_WIDGET (window->stop_button)));
  /* The model's first run: no trace to keep in view meanwhile. */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->views_stack), ==,
                   "message");
  g_assert_cmpstr (adw_status_page_get_title (window->message_page), ==,
                   "Running the Model");

  g_signal_emit_by_name (window->stop_button, "clicked");
  attn_ui_test_wait (stopped_shown, window, 60000);
  g_assert_cmpstr (adw_status_page_get_title (window->message_page), ==,
                   "Run Stopped");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (window->text_entry)),
                   ==, text->str);
  g_assert_null (attn_window_get_trace (window));
  g_assert_false (gtk_revealer_get_reveal_child (window->progress_revealer));
  g_assert_false (attn_runner_is_busy (window->runner));
  g_assert_cmpstr (gtk_label_get_text (window->output_label), ==, "");

  g_signal_emit_by_name (window->text_entry, "activate");
  g_autofree char *whole = g_strconcat (text->str, "xxxxxxxx", NULL);
  TraceWait wait = { window, whole };
  attn_ui_test_wait (trace_has_target, &wait, 120000);
  g_assert_false (gtk_revealer_get_reveal_child (window->progress_revealer));
  g_assert_cmpstr (gtk_stack_get_visible_child_name (window->views_stack), ==,
                   "views");
  g_assert_cmpstr (gtk_label_get_text (window->output_label), ==,
                   "…xxxxxxxx");
  destroy_window (window);
  remove_dir (dir);
}

/* Any other folder is refused by name. */
static void
test_folder_not_a_model (void)
{
  g_autofree char *dir = g_dir_make_tmp ("attnscope-folder-XXXXXX", NULL);
  AttnWindow *window = new_window ();
  attn_window_open_model (window, dir);
  DialogWait dw = { NULL };
  attn_ui_test_wait (has_error_dialog, &dw, 20000);
  const char *body
      = adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dw.dialog));
  g_assert_nonnull (strstr (body, "not a GPT-2 model"));
  g_autofree char *base = g_path_get_basename (dir);
  g_assert_nonnull (strstr (body, base));
  gtk_window_destroy (dw.dialog);
  g_assert_null (attn_window_get_trace (window));
  g_rmdir (dir);
  destroy_window (window);
}

static void
test_bad_model_keeps_previous (void)
{
  g_autoptr (AttnModel) model
      = attn_ui_test_new_model ("keeper", 20, "1 Jan 2000");
  g_autofree char *good
      = attn_ui_test_save_model (model, attn_ui_test_model_dir ());
  AttnWindow *window = new_window ();
  attn_window_open_model (window, good);
  TraceWait wait = { window, "1 Jan 2000" };
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  const AttnTrace *before = attn_window_get_trace (window);

  /* Not a model: a dialog names the file and the problem; the model and
   * what it showed stay. */
  g_autofree char *bad = g_build_filename (attn_ui_test_model_dir (),
                                           "corrupt.safetensors", NULL);
  g_assert_true (g_file_set_contents (bad, "not a model", -1, NULL));
  attn_window_open_model (window, bad);
  DialogWait dw = { NULL };
  attn_ui_test_wait (has_error_dialog, &dw, 20000);
  g_assert_cmpstr (
      adw_message_dialog_get_heading (ADW_MESSAGE_DIALOG (dw.dialog)), ==,
      "Cannot Open Model");
  g_assert_nonnull (
      strstr (adw_message_dialog_get_body (ADW_MESSAGE_DIALOG (dw.dialog)),
              "corrupt.safetensors"));
  gtk_window_destroy (dw.dialog);
  g_assert_true (attn_window_get_trace (window) == before);
  g_assert_cmpstr (gtk_menu_button_get_label (window->model_button), ==,
                   "keeper");
  g_assert_true (attn_runner_has_model (window->runner));

  g_unlink (bad);
  g_unlink (good);
  destroy_window (window);
}

/* The bundled default starts by itself, and the model menu lists it with
 * its task. */
static gboolean
app_has_trace (gpointer data)
{
  GtkWindow *win = gtk_application_get_active_window (data);
  return win != NULL && attn_window_get_trace (ATTN_WINDOW (win)) != NULL;
}

static void
test_app_starts_on_default (void)
{
  g_autoptr (AttnModel) model
      = attn_ui_test_new_model (ATTN_DEFAULT_MODEL, 24, "23 Nov 2026");
  g_autofree char *path
      = attn_ui_test_save_model (model, attn_ui_test_model_dir ());
  g_autoptr (AttnApplication) app = attn_application_new ();
  g_application_set_flags (G_APPLICATION (app),
                           g_application_get_flags (G_APPLICATION (app))
                               | G_APPLICATION_NON_UNIQUE);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_activate (G_APPLICATION (app));
  attn_ui_test_wait (app_has_trace, app, 20000);

  AttnWindow *window
      = ATTN_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_cmpstr (attn_window_get_trace (window)->model_name, ==,
                   ATTN_DEFAULT_MODEL);
  /* The shortcuts window from the resources, on Ctrl+?. */
  g_assert_nonnull (gtk_application_window_get_help_overlay (
      GTK_APPLICATION_WINDOW (window)));
  GMenuModel *bundled = g_menu_model_get_item_link (
      G_MENU_MODEL (window->model_menu), 0, G_MENU_LINK_SECTION);
  g_autofree char *label = NULL;
  g_assert_true (g_menu_model_get_item_attribute (
      bundled, 0, G_MENU_ATTRIBUTE_LABEL, "s", &label));
  g_assert_cmpstr (label, ==, ATTN_DEFAULT_MODEL " — dates");
  g_autofree char *target = NULL;
  g_assert_true (g_menu_model_get_item_attribute (
      bundled, 0, G_MENU_ATTRIBUTE_TARGET, "s", &target));
  g_assert_cmpstr (target, ==, ATTN_DEFAULT_MODEL);
  g_object_unref (bundled);

  destroy_window (window);
  g_unlink (path);
}

/* Choices survive the window: closing saves them, the next window starts
 * with them; a model opened from a file joins the recent models. */
static void
test_preferences_persist (void)
{
  g_autofree char *prefs_path = attn_preferences_path ();
  g_unlink (prefs_path);

  AttnWindow *first = new_window ();
  attn_ui_test_wait_allocated (GTK_WIDGET (first));
  gtk_drop_down_set_selected (first->colormap_dropdown, ATTN_COLORMAP_MAGMA);
  gtk_spin_button_set_value (first->threshold_spin, 0.3);
  attn_window_set_view (first, ATTN_VIEW_ALIGNMENT);
  gtk_window_set_default_size (GTK_WINDOW (first), 900, 650);
  gtk_window_close (GTK_WINDOW (first));
  for (int i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
  g_assert_true (g_file_test (prefs_path, G_FILE_TEST_IS_REGULAR));

  /* Not new_window (): it sets a size of its own. */
  AttnWindow *second = attn_window_new (NULL);
  gtk_window_present (GTK_WINDOW (second));
  g_assert_cmpuint (gtk_drop_down_get_selected (second->colormap_dropdown), ==,
                    ATTN_COLORMAP_MAGMA);
  g_assert_cmpfloat_with_epsilon (
      gtk_spin_button_get_value (second->threshold_spin), 0.3, 1e-9);
  g_assert_cmpint (attn_window_get_view (second), ==, ATTN_VIEW_ALIGNMENT);
  int width, height;
  gtk_window_get_default_size (GTK_WINDOW (second), &width, &height);
  g_assert_cmpint (width, ==, 900);
  g_assert_cmpint (height, ==, 650);
  AttnRenderStyle style;
  attn_attention_view_build_style (second->views[ATTN_VIEW_HEATMAP], &style);
  g_assert_cmpint (style.colormap, ==, ATTN_COLORMAP_MAGMA);
  attn_render_style_clear (&style);

  /* A model file (not a bundled one) becomes a recent model. */
  g_autofree char *dir = g_dir_make_tmp ("attnscope-recent-XXXXXX", NULL);
  g_autoptr (AttnModel) model
      = attn_ui_test_new_model ("recent-test", 20, "4 Jul 1999");
  g_autofree char *path = attn_ui_test_save_model (model, dir);
  attn_window_open_model (second, path);
  TraceWait wait = { second, "4 Jul 1999" };
  attn_ui_test_wait (trace_has_source, &wait, 20000);
  GMenuModel *menu = G_MENU_MODEL (second->model_menu);
  g_assert_cmpint (g_menu_model_get_n_items (menu), ==, 3);
  g_autofree char *section = NULL;
  g_assert_true (g_menu_model_get_item_attribute (
      menu, 1, G_MENU_ATTRIBUTE_LABEL, "s", &section));
  g_assert_cmpstr (section, ==, "Recent Models");
  GMenuModel *recent
      = g_menu_model_get_item_link (menu, 1, G_MENU_LINK_SECTION);
  g_autofree char *label = NULL, *target = NULL;
  g_assert_true (g_menu_model_get_item_attribute (
      recent, 0, G_MENU_ATTRIBUTE_LABEL, "s", &label));
  g_assert_true (g_menu_model_get_item_attribute (
      recent, 0, G_MENU_ATTRIBUTE_TARGET, "s", &target));
  g_assert_cmpstr (label, ==, "recent-test.safetensors");
  g_assert_cmpstr (target, ==, path);
  g_object_unref (recent);
  g_autoptr (AttnPreferences) prefs = attn_preferences_load (prefs_path, NULL);
  g_assert_cmpstr (prefs->recent_models[0], ==, path);

  destroy_window (second);
  g_unlink (path);
  g_rmdir (dir);
  g_unlink (prefs_path);
}

int
main (int argc, char **argv)
{
  attn_ui_test_init (&argc, &argv);
  g_test_add_func ("/attn/window/empty-state", test_empty_state);
  g_test_add_func ("/attn/window/open-trace", test_open_trace);
  g_test_add_func ("/attn/window/open-bad-trace", test_open_bad_trace);
  g_test_add_func ("/attn/window/views-draw", test_views_draw);
  g_test_add_func ("/attn/window/controls", test_controls);
  g_test_add_func ("/attn/window/hover-and-click", test_hover_and_click);
  g_test_add_func ("/attn/window/thumbnail-opens-head",
                   test_thumbnail_opens_head);
  g_test_add_func ("/attn/window/keyboard-selection", test_keyboard_selection);
  g_test_add_func ("/attn/window/steps-play", test_steps_play);
  g_test_add_func ("/attn/window/presentation", test_presentation);
  g_test_add_func ("/attn/window/accessible-description",
                   test_accessible_description);
  g_test_add_func ("/attn/window/export", test_export);
  g_test_add_func ("/attn/window/model-typing", test_model_typing);
  g_test_add_func ("/attn/window/initial-text", test_initial_text);
  g_test_add_func ("/attn/window/drop-files", test_drop_files);
  g_test_add_func ("/attn/window/gpt2-folder", test_gpt2_folder);
  g_test_add_func ("/attn/window/gpt2-generate", test_gpt2_generate);
  g_test_add_func ("/attn/window/gpt2-stop", test_gpt2_stop);
  g_test_add_func ("/attn/window/folder-not-a-model", test_folder_not_a_model);
  g_test_add_func ("/attn/window/bad-model-keeps-previous",
                   test_bad_model_keeps_previous);
  g_test_add_func ("/attn/window/app-starts-on-default",
                   test_app_starts_on_default);
  g_test_add_func ("/attn/window/preferences-persist",
                   test_preferences_persist);
  return g_test_run ();
}
