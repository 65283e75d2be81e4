/* test-zoom.c: zoom and pan of the heatmap in the window, through the
 * selection's token range: the view's zoom / pan (what Ctrl+scroll, a
 * pinch, Ctrl+plus / minus and a drag call) ask the window for a range,
 * the window hands it to the heatmap only, the drawn matrix shows exactly
 * those tokens with their weights unchanged, and a range the shown block
 * no longer has is dropped. Trace: tests/data/ui-trace-zh.json, whose
 * cross-attention is 11 queries x 12 keys (so a range covers up to 12
 * tokens). Suite ui, under Xvfb. */
#include "tests/attn-test-util.h"
#include "tests/attn-ui-test-util.h"
#include "ui/attn-window-private.h"

#define TRACE_FILE "ui-trace-zh.json"

static AttnWindow *
window_with_trace (void)
{
  AttnWindow *window = attn_window_new (NULL);
  gtk_window_set_default_size (GTK_WINDOW (window), 1000, 700);
  gtk_window_present (GTK_WINDOW (window));
  g_autofree char *path = attn_test_data_path (TRACE_FILE);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_window_open_trace (window, path, &error));
  g_assert_no_error (error);
  attn_window_set_view (window, ATTN_VIEW_HEATMAP);
  attn_ui_test_wait_allocated (GTK_WIDGET (window->views[ATTN_VIEW_HEATMAP]));
  g_assert_cmpint (attn_window_get_selection (window)->kind, ==,
                   ATTN_KIND_CROSS);
  return window;
}

static void
destroy_window (AttnWindow *window)
{
  gtk_window_destroy (GTK_WINDOW (window));
  for (int i = 0; i < 50 && g_main_context_iteration (NULL, FALSE); i++)
    ;
}

static void
assert_range (AttnWindow *window, int start, int end)
{
  const AttnSelection *sel = attn_window_get_selection (window);
  g_assert_cmpint (sel->range_start, ==, start);
  g_assert_cmpint (sel->range_end, ==, end);
  const AttnSelection *shown
      = attn_attention_view_get_selection (window->views[ATTN_VIEW_HEATMAP]);
  g_assert_cmpint (shown->range_start, ==, start);
  g_assert_cmpint (shown->range_end, ==, end);
  /* The other views keep every token. */
  for (int v = 0; v < ATTN_N_VIEWS; v++)
    if (v != ATTN_VIEW_HEATMAP)
      {
        const AttnSelection *other
            = attn_attention_view_get_selection (window->views[v]);
        g_assert_cmpint (other->range_start, ==, -1);
        g_assert_cmpint (other->range_end, ==, -1);
      }
}

typedef struct
{
  int from_start, from_end; /* the range before, -1, -1 = all */
  double factor;
  int center;
  gboolean changes;
  int start, end; /* the range after */
} ZoomCase;

static const ZoomCase zoom_cases[] = {
  /* 12 tokens halved about the middle. */
  { -1, -1, 2.0, -1, TRUE, 3, 9 },
  /* About token 10: it keeps its place (10 of 12 -> 5 of 6 from the
   * start). */
  { -1, -1, 2.0, 10, TRUE, 5, 11 },
  /* Out about the middle of 8..11: 6..13 would pass the last token, so
   * the range slides back inside the trace. */
  { 8, 12, 0.5, -1, TRUE, 4, 12 },
  /* Out to everything again. */
  { 3, 9, 0.5, -1, TRUE, -1, -1 },
  /* One step out from 6 tokens: 8 (6 * 1.25 rounds to 8), about the
   * middle. */
  { 3, 9, 0.8, -1, TRUE, 2, 10 },
  /* A small step always moves: 3 tokens in by 1.25 gives 2. */
  { 4, 7, 1.25, -1, TRUE, 4, 6 },
  /* Never below ATTN_ZOOM_MIN_TOKENS. */
  { -1, -1, 100.0, 6, TRUE, 5, 7 },
  { 5, 7, 2.0, 6, FALSE, 5, 7 },
  /* Out from everything does nothing. */
  { -1, -1, 0.5, -1, FALSE, -1, -1 },
};

static void
test_zoom (gconstpointer data)
{
  const ZoomCase *c = data;
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *view = window->views[ATTN_VIEW_HEATMAP];
  g_signal_emit_by_name (view, "range-changed", c->from_start, c->from_end);
  assert_range (window, c->from_start, c->from_end);

  g_assert_cmpint (attn_attention_view_zoom (view, c->factor, c->center), ==,
                   c->changes);
  assert_range (window, c->start, c->end);
  destroy_window (window);
}

static void
test_zoomed_matrix (void)
{
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *view = window->views[ATTN_VIEW_HEATMAP];
  g_assert_true (attn_attention_view_zoom (view, 2.0, -1));
  assert_range (window, 3, 9);

  /* The heatmap's matrix is tokens 3..8 on both axes, each weight the
   * trace's own. */
  const AttnTrace *trace = attn_window_get_trace (window);
  const AttnSelection *sel = attn_attention_view_get_selection (view);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnViewMatrix) m = attn_view_matrix_new (trace, sel, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->n_rows, ==, 6);
  g_assert_cmpint (m->n_cols, ==, 6);
  const AttnBlock *b = attn_trace_lookup_block (trace, sel->kind, sel->layer);
  g_autofree float *w = g_new (float, (gsize)b->n_queries * b->n_keys);
  attn_block_head_weights (b, sel->head, w);
  for (int r = 0; r < m->n_rows; r++)
    {
      g_assert_cmpint (m->row_token[r], ==, 3 + r);
      for (int c = 0; c < m->n_cols; c++)
        {
          g_assert_cmpint (m->col_token[c], ==, 3 + c);
          g_assert_cmpfloat (m->w[r * m->n_cols + c], ==,
                             w[(3 + r) * b->n_keys + 3 + c]);
        }
    }

  destroy_window (window);
}

static void
test_pan (void)
{
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *view = window->views[ATTN_VIEW_HEATMAP];
  /* Nothing to pan while everything is shown. */
  g_assert_false (attn_attention_view_pan (view, 1));
  assert_range (window, -1, -1);

  g_assert_true (attn_attention_view_zoom (view, 2.0, -1));
  assert_range (window, 3, 9);
  g_assert_true (attn_attention_view_pan (view, 2));
  assert_range (window, 5, 11);
  /* Clamped at the end, the length kept. */
  g_assert_true (attn_attention_view_pan (view, 5));
  assert_range (window, 6, 12);
  g_assert_false (attn_attention_view_pan (view, 1));
  assert_range (window, 6, 12);
  g_assert_true (attn_attention_view_pan (view, -100));
  assert_range (window, 0, 6);
  destroy_window (window);
}

static void
test_only_heatmap_zooms (void)
{
  AttnWindow *window = window_with_trace ();
  static const AttnViewKind others[] = { ATTN_VIEW_ALIGNMENT, ATTN_VIEW_HEADS,
                                         ATTN_VIEW_MODEL, ATTN_VIEW_STEP };
  for (guint i = 0; i < G_N_ELEMENTS (others); i++)
    g_assert_false (
        attn_attention_view_zoom (window->views[others[i]], 2.0, -1));
  assert_range (window, -1, -1);
  destroy_window (window);
}

static void
test_range_dropped (void)
{
  AttnWindow *window = window_with_trace ();
  AttnAttentionView *view = window->views[ATTN_VIEW_HEATMAP];
  g_assert_true (attn_attention_view_zoom (view, 2.0, -1));
  g_assert_true (attn_attention_view_pan (view, 100));
  assert_range (window, 6, 12);

  /* Decoder self-attention has 11 tokens: tokens 6..11 are not all
   * there, so the heatmap shows everything again. */
  guint decoder = G_MAXUINT;
  for (int i = 0; i < window->n_kinds; i++)
    if (window->kinds[i] == ATTN_KIND_DECODER_SELF)
      decoder = i;
  g_assert_cmpuint (decoder, !=, G_MAXUINT);
  gtk_drop_down_set_selected (window->block_dropdown, decoder);
  g_assert_cmpint (attn_window_get_selection (window)->kind, ==,
                   ATTN_KIND_DECODER_SELF);
  assert_range (window, -1, -1);

  /* A range the block has survives a change of layer. */
  g_assert_true (attn_attention_view_zoom (view, 2.0, -1));
  const AttnSelection *sel = attn_window_get_selection (window);
  int start = sel->range_start, end = sel->range_end;
  g_assert_cmpint (end - start, ==, 6);
  gtk_spin_button_set_value (window->layer_spin, 1);
  g_assert_cmpint (attn_window_get_selection (window)->layer, ==, 1);
  assert_range (window, start, end);
  destroy_window (window);
}

int
main (int argc, char **argv)
{
  attn_ui_test_init (&argc, &argv);
  for (guint i = 0; i < G_N_ELEMENTS (zoom_cases); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/zoom/factor/%u", i);
      g_test_add_data_func (name, &zoom_cases[i], test_zoom);
    }
  g_test_add_func ("/attn/zoom/matrix", test_zoomed_matrix);
  g_test_add_func ("/attn/zoom/pan", test_pan);
  g_test_add_func ("/attn/zoom/only-heatmap", test_only_heatmap_zooms);
  g_test_add_func ("/attn/zoom/range-dropped", test_range_dropped);
  return g_test_run ();
}
