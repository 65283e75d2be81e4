/* test-heatmap.c: the heatmap view (ui/render/attn-heatmap.h) drawn into
 * image surfaces and checked at known pixels, its hit-testing, its layout at
 * every size, and the cached-image path for large matrices.
 *
 * Colours: the image path writes attn_colormap_get_argb32 itself, so its
 * pixels are compared exactly. Vector cells go through Cairo, which stores a
 * colour in 16 bits and keeps the high byte (truncating, where the colour
 * map rounds): 1 level per channel. The colour bar is a gradient sampled at
 * pixel centres: 2 levels against the colour at that pixel's position. */
#include <math.h>
#include <string.h>

#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "attn-test-util.h"
#include "core/attn-error.h"
#include "ui/render/attn-heatmap.h"
#include "ui/render/attn-view.h"

#define VECTOR_TOL 1
#define BAR_TOL 2

/* Cross-attention of target "<s> x y z" over source "a b c d e"; head 0 has
 * a weight of exactly 1 (query 0 on key 0) and many exact zeros. */
/* clang-format off */
static const float pixel_weights[2 * 4 * 5] = {
  1, 0, 0, 0, 0,
  0, 0.5f, 0.5f, 0, 0,
  0.25f, 0.25f, 0.25f, 0.25f, 0,
  0, 0, 0, 0, 1,
  0.2f, 0.2f, 0.2f, 0.2f, 0.2f,
  0.2f, 0.2f, 0.2f, 0.2f, 0.2f,
  0.2f, 0.2f, 0.2f, 0.2f, 0.2f,
  0.2f, 0.2f, 0.2f, 0.2f, 0.2f,
};
/* clang-format on */

static AttnTrace *
pixel_trace (void)
{
  AttnTrace *t = attn_trace_new ("pixels", "transformer-encoder-decoder",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 2);
  attn_trace_set_text (t, ATTN_SIDE_SOURCE, "abcde");
  for (int i = 0; i < 5; i++)
    {
      char s[2] = { (char)('a' + i), 0 };
      attn_trace_add_token (t, ATTN_SIDE_SOURCE, s, 3 + i, i, i + 1, FALSE);
    }
  attn_trace_set_text (t, ATTN_SIDE_TARGET, "xyz");
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "<s>", 1, -1, -1, TRUE);
  for (int i = 0; i < 3; i++)
    {
      char s[2] = { (char)('x' + i), 0 };
      attn_trace_add_token (t, ATTN_SIDE_TARGET, s, 10 + i, i, i + 1, FALSE);
    }
  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_CROSS, 0, 2, 4, 5);
  memcpy (b->weights, pixel_weights, sizeof pixel_weights);
  g_assert_true (attn_trace_validate (t, NULL));
  return t;
}

/* A decoder-only trace of n tokens "t0 t1 ...", one layer, one head: a sink
 * on token 0 (0.3), the previous token (0.3) and the token itself (0.4). */
static AttnTrace *
long_trace (int n)
{
  AttnTrace *t = attn_trace_new ("long", "gpt2",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 1);
  g_autoptr (GString) text = g_string_new (NULL);
  int *start = g_new (int, n);
  for (int i = 0; i < n; i++)
    {
      if (i > 0)
        g_string_append_c (text, ' ');
      start[i] = (int)text->len;
      g_string_append_printf (text, "t%d", i);
    }
  attn_trace_set_text (t, ATTN_SIDE_TARGET, text->str);
  for (int i = 0; i < n; i++)
    {
      int end = i + 1 < n ? start[i + 1] - 1 : (int)text->len;
      g_autofree char *tok = g_strndup (text->str + start[i], end - start[i]);
      attn_trace_add_token (t, ATTN_SIDE_TARGET, tok, i, start[i], end, FALSE);
    }
  g_free (start);
  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_DECODER_SELF, 0, 1, n, n);
  for (int q = 0; q < n; q++)
    {
      float *row = b->weights + (gsize)q * n; /* (Tk) */
      row[0] += 0.3f;
      row[MAX (q - 1, 0)] += 0.3f;
      row[q] += 0.4f;
    }
  return t;
}

static AttnTrace *
dates_trace (void)
{
  g_autofree char *path = attn_test_data_path ("render-dates.json");
  g_autoptr (GError) error = NULL;
  AttnTrace *t = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  return t;
}

static cairo_surface_t *
surface_new (int w, int h)
{
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w, h);
  g_assert_cmpint (cairo_surface_status (s), ==, CAIRO_STATUS_SUCCESS);
  return s;
}

static guint32
pixel_at (cairo_surface_t *s, double x, double y)
{
  cairo_surface_flush (s);
  int px = (int)floor (x), py = (int)floor (y);
  g_assert_cmpint (px, >=, 0);
  g_assert_cmpint (py, >=, 0);
  g_assert_cmpint (px, <, cairo_image_surface_get_width (s));
  g_assert_cmpint (py, <, cairo_image_surface_get_height (s));
  const unsigned char *row = cairo_image_surface_get_data (s)
                             + py * cairo_image_surface_get_stride (s);
  return ((const guint32 *)row)[px] | 0xff000000u;
}

static int
channel_diff (guint32 a, guint32 b)
{
  int d = 0;
  for (int shift = 0; shift < 24; shift += 8)
    d = MAX (d, ABS ((int)((a >> shift) & 0xff) - (int)((b >> shift) & 0xff)));
  return d;
}

static void
assert_colour (const char *what, guint32 got, guint32 want, int tol)
{
  if (channel_diff (got, want) > tol)
    g_error ("%s: pixel #%06x, want #%06x (tolerance %d per channel)", what,
             got & 0xffffff, want & 0xffffff, tol);
}

static guint32
rgba_argb (const AttnRgba *c)
{
  return 0xff000000u | (guint32)lround (c->r * 255) << 16
         | (guint32)lround (c->g * 255) << 8 | (guint32)lround (c->b * 255);
}

static void
cell_centre (const AttnHeatmapLayout *lay, int r, int c, double *x, double *y)
{
  cairo_rectangle_t rect;
  attn_heatmap_layout_cell (lay, r, c, &rect);
  *x = rect.x + rect.width / 2.0;
  *y = rect.y + rect.height / 2.0;
}

/* ---- cell colours ---- */

typedef struct
{
  const char *name;
  AttnHeatmapCells cells;
  AttnColormap colormap;
  gboolean reversed;
  int tol;
} CellCase;

static const CellCase cell_cases[] = {
  { "vector-viridis", ATTN_HEATMAP_CELLS_VECTOR, ATTN_COLORMAP_VIRIDIS, FALSE,
    VECTOR_TOL },
  { "image-viridis", ATTN_HEATMAP_CELLS_IMAGE, ATTN_COLORMAP_VIRIDIS, FALSE,
    0 },
  { "vector-magma-reversed", ATTN_HEATMAP_CELLS_VECTOR, ATTN_COLORMAP_MAGMA,
    TRUE, VECTOR_TOL },
  { "image-grey", ATTN_HEATMAP_CELLS_IMAGE, ATTN_COLORMAP_GREY, FALSE, 0 },
  { "auto-cividis", ATTN_HEATMAP_CELLS_AUTO, ATTN_COLORMAP_CIVIDIS, FALSE,
    VECTOR_TOL },
};

static void
test_cell_colours (gconstpointer data)
{
  const CellCase *c = data;
  g_autoptr (AttnTrace) trace = pixel_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  style->colormap = c->colormap;
  style->reversed = c->reversed;
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 480, 360, NULL);
  g_assert_nonnull (lay);
  cairo_surface_t *s = surface_new (480, 360);
  cairo_t *cr = cairo_create (s);
  attn_heatmap_render_layout (cr, lay, &sel, style, c->cells);
  cairo_destroy (cr);

  /* Large cells: the automatic choice is vectors. */
  g_assert_cmpint (lay->image != NULL, ==,
                   c->cells == ATTN_HEATMAP_CELLS_IMAGE);

  guint32 top = attn_colormap_get_argb32 (c->colormap, 1.0, c->reversed);
  guint32 bottom = attn_colormap_get_argb32 (c->colormap, 0.0, c->reversed);
  guint32 half = attn_colormap_get_argb32 (c->colormap, 0.5, c->reversed);
  g_assert_cmpint (channel_diff (top, bottom), >, 100);
  double x, y;
  cell_centre (lay, 0, 0, &x, &y); /* weight 1 */
  assert_colour ("weight 1", pixel_at (s, x, y), top, c->tol);
  cell_centre (lay, 3, 4, &x, &y); /* weight 1 */
  assert_colour ("weight 1 (last cell)", pixel_at (s, x, y), top, c->tol);
  cell_centre (lay, 0, 1, &x, &y); /* weight 0 */
  assert_colour ("weight 0", pixel_at (s, x, y), bottom, c->tol);
  cell_centre (lay, 1, 2, &x, &y); /* weight 0.5 */
  assert_colour ("weight 0.5", pixel_at (s, x, y), half, c->tol);
  /* Cells tile: the pixel just inside a cell's corner has its colour, no
   * background seam. */
  cairo_rectangle_t r;
  attn_heatmap_layout_cell (lay, 3, 4, &r);
  assert_colour ("corner of the last cell",
                 pixel_at (s, ceil (r.x) + 0.5, ceil (r.y) + 0.5), top, c->tol);
  cairo_surface_destroy (s);
}

typedef struct
{
  AttnScale scale;
  int head;
  int row, col;
  double t; /* where on the colour map the cell lands */
} ScaleCase;

static const ScaleCase scale_cases[] = {
  /* head 1 is uniform 0.2: the maximum of the matrix */
  { ATTN_SCALE_MAX, 1, 2, 3, 1.0 },
  { ATTN_SCALE_FIXED, 1, 2, 3, 0.2 },
  { ATTN_SCALE_MAX, 0, 1, 1, 0.5 },
  { ATTN_SCALE_LOG, 0, 2, 2, 0.849485002 }, /* (log10 0.25 + 4) / 4 */
  { ATTN_SCALE_LOG, 0, 0, 1, 0.0 },
};

static void
test_scale_pixels (void)
{
  g_autoptr (AttnTrace) trace = pixel_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  for (guint i = 0; i < G_N_ELEMENTS (scale_cases); i++)
    {
      const ScaleCase *c = &scale_cases[i];
      style->scale = c->scale;
      AttnSelection sel;
      attn_selection_init (&sel, ATTN_KIND_CROSS);
      sel.head = c->head;
      g_autoptr (AttnHeatmapLayout) lay
          = attn_heatmap_layout_new (trace, &sel, style, 400, 300, NULL);
      cairo_surface_t *s = surface_new (400, 300);
      cairo_t *cr = cairo_create (s);
      attn_heatmap_render_layout (cr, lay, &sel, style,
                                  ATTN_HEATMAP_CELLS_IMAGE);
      cairo_destroy (cr);
      double x, y;
      cell_centre (lay, c->row, c->col, &x, &y);
      assert_colour ("scaled cell", pixel_at (s, x, y),
                     attn_colormap_get_argb32 (style->colormap, c->t, FALSE),
                     0);
      cairo_surface_destroy (s);
    }
}

/* ---- colour bar ---- */

static void
test_colorbar_ends (gconstpointer data)
{
  AttnScale scale = GPOINTER_TO_INT (data);
  g_autoptr (AttnTrace) trace = pixel_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_DARK);
  style->scale = scale;
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 500, 400, NULL);
  g_assert_true (lay->show_colorbar);
  cairo_surface_t *s = surface_new (500, 400);
  cairo_t *cr = cairo_create (s);
  attn_heatmap_render_layout (cr, lay, &sel, style, ATTN_HEATMAP_CELLS_AUTO);
  cairo_destroy (cr);

  const cairo_rectangle_t *bar = &lay->colorbar;
  g_assert_cmpfloat (bar->height, >, 100.0);
  double x = bar->x + bar->width / 2.0;
  int rows[2] = { (int)ceil (bar->y), (int)floor (bar->y + bar->height) - 1 };
  double ends[2] = { 1.0, 0.0 };
  for (int i = 0; i < 2; i++)
    {
      double t = (bar->y + bar->height - (rows[i] + 0.5)) / bar->height;
      g_assert_cmpfloat (fabs (t - ends[i]), <, 0.01);
      assert_colour (
          i == 0 ? "top of the colour bar" : "bottom of the colour bar",
          pixel_at (s, x, rows[i] + 0.5),
          attn_colormap_get_argb32 (style->colormap, t, FALSE), BAR_TOL);
    }

  /* Ticks lie on the bar, bottom to top, first and last at its ends. */
  g_assert_cmpint (lay->n_ticks, >=, 2);
  g_assert_cmpfloat_with_epsilon (lay->ticks[0].y, bar->y + bar->height, 1e-9);
  for (int i = 1; i < lay->n_ticks; i++)
    g_assert_cmpfloat (lay->ticks[i].y, <, lay->ticks[i - 1].y);
  g_assert_cmpfloat (lay->ticks[lay->n_ticks - 1].y, >=, bar->y - 1e-9);
  if (scale != ATTN_SCALE_MAX)
    {
      g_assert_cmpstr (lay->ticks[lay->n_ticks - 1].label, ==, "1");
      g_assert_cmpfloat_with_epsilon (lay->ticks[lay->n_ticks - 1].y, bar->y,
                                      1e-9);
    }
  g_assert_cmpstr (lay->ticks[0].label, ==,
                   scale == ATTN_SCALE_LOG ? "1e-4" : "0");
  cairo_surface_destroy (s);
}

/* ---- selection highlight ---- */

static void
test_highlight (void)
{
  g_autoptr (AttnTrace) trace = pixel_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  style->font_size = 20.0; /* a 3-unit outline: whole pixels to sample */
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 600, 450, NULL);
  double lw = lay->highlight_width;
  g_assert_cmpfloat (lw, >=, 2.9);

  cairo_rectangle_t row, col;
  attn_heatmap_layout_cell (lay, 2, 0, &row);
  attn_heatmap_layout_cell (lay, 0, 3, &col);
  /* On the outline above row 2, and left of column 3. */
  double ry = row.y - lw / 2.0, rx = lay->grid.x + lay->grid.width / 2.0;
  double cx = col.x - lw / 2.0, cy = lay->grid.y + lay->grid.height / 2.0;
  guint32 accent = rgba_argb (&style->accent);

  for (int selected = 0; selected < 2; selected++)
    {
      sel.selected_query = selected ? 2 : -1; /* trace index of row 2 */
      sel.selected_key = selected ? 3 : -1;
      cairo_surface_t *s = surface_new (600, 450);
      cairo_t *cr = cairo_create (s);
      attn_heatmap_render_layout (cr, lay, &sel, style,
                                  ATTN_HEATMAP_CELLS_VECTOR);
      cairo_destroy (cr);
      if (selected)
        {
          assert_colour ("selected row outline", pixel_at (s, rx, ry), accent,
                         1);
          assert_colour ("selected column outline", pixel_at (s, cx, cy),
                         accent, 1);
        }
      else
        {
          g_assert_cmpint (channel_diff (pixel_at (s, rx, ry), accent), >, 60);
          g_assert_cmpint (channel_diff (pixel_at (s, cx, cy), accent), >, 60);
        }
      /* The selected row's label is drawn in the accent colour. */
      int accent_px = 0;
      for (double y = row.y; y < row.y + row.height; y += 1.0)
        for (double x = lay->row_labels.x; x < lay->row_label_right; x += 1.0)
          if (channel_diff (pixel_at (s, x, y), accent) <= 40)
            accent_px++;
      if (selected)
        g_assert_cmpint (accent_px, >, 5);
      else
        g_assert_cmpint (accent_px, ==, 0);
      cairo_surface_destroy (s);
    }
}

/* ---- values in cells ---- */

static int
count_pixels (cairo_surface_t *s, const cairo_rectangle_t *r, gboolean dark)
{
  int n = 0;
  for (double y = r->y + 1; y < r->y + r->height - 1; y += 1.0)
    for (double x = r->x + 1; x < r->x + r->width - 1; x += 1.0)
      {
        guint32 p = pixel_at (s, x, y);
        int g = (p >> 8) & 0xff;
        if (dark ? g < 60 : g > 200)
          n++;
      }
  return n;
}

static void
test_values (void)
{
  g_autoptr (AttnTrace) trace = pixel_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  for (int shown = 0; shown < 2; shown++)
    {
      style->show_values = shown;
      g_autoptr (AttnHeatmapLayout) lay
          = attn_heatmap_layout_new (trace, &sel, style, 600, 450, NULL);
      g_assert_cmpint (lay->show_values, ==, shown);
      cairo_surface_t *s = surface_new (600, 450);
      cairo_t *cr = cairo_create (s);
      attn_heatmap_render_layout (cr, lay, &sel, style,
                                  ATTN_HEATMAP_CELLS_VECTOR);
      cairo_destroy (cr);
      /* Dark text on the bright top colour, light text on the dark bottom
       * colour (viridis: yellow and deep purple). */
      cairo_rectangle_t one, zero;
      attn_heatmap_layout_cell (lay, 0, 0, &one);
      attn_heatmap_layout_cell (lay, 0, 1, &zero);
      if (shown)
        {
          g_assert_cmpint (count_pixels (s, &one, TRUE), >, 5);
          g_assert_cmpint (count_pixels (s, &zero, FALSE), >, 5);
        }
      else
        {
          g_assert_cmpint (count_pixels (s, &one, TRUE), ==, 0);
          g_assert_cmpint (count_pixels (s, &zero, FALSE), ==, 0);
        }
      cairo_surface_destroy (s);
    }
  /* Cells too small for "0.00": no values even when asked. */
  style->show_values = TRUE;
  g_autoptr (AttnHeatmapLayout) small
      = attn_heatmap_layout_new (trace, &sel, style, 120, 90, NULL);
  g_assert_false (small->show_values);
}

/* ---- hit-testing ---- */

static void
test_hit_cells (void)
{
  g_autoptr (AttnTrace) trace = dates_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 1;
  sel.head = 0;
  sel.hide_special = TRUE; /* rows and columns no longer trace positions */
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 640, 480, NULL);
  const AttnViewMatrix *m = lay->matrix;
  g_assert_cmpint (m->n_rows, ==, 10);
  g_assert_cmpint (m->n_cols, ==, 11);

  for (int r = 0; r < m->n_rows; r++)
    for (int c = 0; c < m->n_cols; c++)
      {
        double x, y;
        cell_centre (lay, r, c, &x, &y);
        AttnHit hit;
        g_assert_true (attn_heatmap_layout_hit (lay, x, y, &hit));
        g_assert_cmpint (hit.kind, ==, ATTN_HIT_CELL);
        g_assert_cmpint (hit.query, ==, m->row_token[r]);
        g_assert_cmpint (hit.key, ==, m->col_token[c]);
        g_assert_cmpint (hit.query, ==, r + 1); /* <s> hidden */
        g_assert_cmpint (hit.key, ==, c);       /* </s> hidden, at the end */
        g_assert_cmpfloat (hit.weight, ==, m->w[r * m->n_cols + c]);
        g_assert_cmpint (hit.layer, ==, 1);
        g_assert_cmpint (hit.head, ==, 0);

        /* The one-shot dispatch agrees. */
        AttnHit again;
        g_assert_true (attn_view_hit_test (ATTN_VIEW_HEATMAP, trace, &sel,
                                           style, 640, 480, x, y, &again));
        g_assert_cmpint (again.kind, ==, ATTN_HIT_CELL);
        g_assert_cmpint (again.query, ==, hit.query);
        g_assert_cmpint (again.key, ==, hit.key);
        g_assert_cmpfloat (again.weight, ==, hit.weight);
      }

  /* Labels: a query label left of its row, a key label above its column. */
  g_assert_true (lay->show_row_labels && lay->show_col_labels);
  AttnHit hit;
  double x, y;
  cell_centre (lay, 4, 0, &x, &y);
  g_assert_true (
      attn_heatmap_layout_hit (lay, lay->row_label_right - 2.0, y, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_QUERY);
  g_assert_cmpint (hit.query, ==, 5);
  g_assert_cmpint (hit.key, ==, -1);
  cell_centre (lay, 0, 7, &x, &y);
  g_assert_true (
      attn_heatmap_layout_hit (lay, x, lay->col_label_bottom - 2.0, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_KEY);
  g_assert_cmpint (hit.key, ==, 7);
  g_assert_cmpint (hit.query, ==, -1);
  /* Outside everything: the corner and the colour bar. */
  g_assert_false (attn_heatmap_layout_hit (lay, 1.0, 1.0, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_NONE);
  g_assert_false (attn_heatmap_layout_hit (lay, lay->colorbar.x + 1.0,
                                           lay->colorbar.y + 1.0, &hit));
  g_assert_false (attn_heatmap_layout_hit (
      lay, lay->grid.x + lay->grid.width + 0.01, y, &hit));
}

/* The cell with the strongest weight of each row of the fixture is where
 * the generator put the alignment (query "<s>" emits "2", read from source
 * token 7). */
static void
test_hit_fixture_alignment (void)
{
  g_autoptr (AttnTrace) trace = dates_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 1;
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 640, 480, NULL);
  static const int argmax[11] = { 7, 8, 9, 10, 6, -1, -1, 2, 0, 1, 11 };
  for (int r = 0; r < 11; r++)
    {
      if (argmax[r] < 0)
        continue; /* the month digits spread over "Nov" */
      double x, y;
      cell_centre (lay, r, argmax[r], &x, &y);
      AttnHit hit;
      g_assert_true (attn_heatmap_layout_hit (lay, x, y, &hit));
      for (int c = 0; c < 12; c++)
        g_assert_cmpfloat (lay->matrix->w[r * 12 + c], <=, hit.weight);
      g_assert_cmpfloat (hit.weight, >, 0.5);
    }
}

/* ---- layout at every size ---- */

static void
assert_inside (const char *what, const cairo_rectangle_t *r, double w, double h)
{
  double eps = 1e-9 * MAX (w, h);
  if (!(r->x >= -eps && r->y >= -eps && r->width >= 0 && r->height >= 0
        && r->x + r->width <= w + eps && r->y + r->height <= h + eps))
    g_error ("%s (%g, %g, %g x %g) is not inside %g x %g", what, r->x, r->y,
             r->width, r->height, w, h);
}

typedef struct
{
  double w, h;
} Size;

static const Size sizes[] = {
  { 1, 1 },     { 3, 200 },     { 200, 3 },   { 16, 16 },     { 40, 30 },
  { 120, 90 },  { 320, 240 },   { 640, 480 }, { 1920, 1080 }, { 2000, 60 },
  { 60, 2000 }, { 8000, 6000 }, { 1e5, 1e5 },
};

static void
check_layout_sizes (const AttnTrace *trace, const AttnSelection *sel,
                    AttnTheme theme)
{
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (theme);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      double w = sizes[i].w, h = sizes[i].h;
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnHeatmapLayout) lay
          = attn_heatmap_layout_new (trace, sel, style, w, h, &error);
      g_assert_no_error (error);
      g_assert_cmpfloat (lay->cell_width, >, 0.0);
      g_assert_cmpfloat (lay->cell_height, >, 0.0);
      assert_inside ("grid", &lay->grid, w, h);
      g_assert_cmpfloat_with_epsilon (
          lay->grid.width, lay->cell_width * lay->matrix->n_cols, 1e-9 * w);
      if (lay->show_title)
        assert_inside ("title", &lay->title_rect, w, h);
      if (lay->show_note)
        assert_inside ("note", &lay->note_rect, w, h);
      if (lay->show_row_labels)
        {
          assert_inside ("row labels", &lay->row_labels, w, h);
          g_assert_cmpfloat (lay->row_label_right, <=, lay->grid.x);
          g_assert_cmpfloat (lay->row_labels.x + lay->row_labels.width, <=,
                             lay->grid.x + 1e-9);
          /* Thinned labels never overlap. */
          g_assert_cmpfloat (lay->row_label_step * lay->cell_height, >=,
                             lay->label_height);
        }
      if (lay->show_col_labels)
        {
          assert_inside ("column labels", &lay->col_labels, w, h);
          g_assert_cmpfloat (lay->col_labels.y + lay->col_labels.height, <=,
                             lay->grid.y + 1e-9);
          if (lay->col_labels_rotated)
            g_assert_cmpfloat (lay->col_label_step * lay->cell_width, >=,
                               lay->label_height);
        }
      if (lay->show_colorbar)
        {
          assert_inside ("colour bar", &lay->colorbar, w, h);
          assert_inside ("colour bar labels", &lay->colorbar_labels, w, h);
          g_assert_cmpfloat (lay->colorbar.x, >=,
                             lay->grid.x + lay->grid.width);
          for (int t = 0; t < lay->n_ticks; t++)
            {
              g_assert_cmpfloat (lay->ticks[t].y, >=, lay->colorbar.y - 1e-9);
              g_assert_cmpfloat (lay->ticks[t].y, <=,
                                 lay->colorbar.y + lay->colorbar.height + 1e-9);
            }
        }
      /* A reasonable drawing shows everything. */
      if (w >= 640 && h >= 480)
        g_assert_true (lay->show_title && lay->show_colorbar
                       && lay->show_row_labels && lay->show_col_labels);
    }
}

static void
test_layout_sizes_fixture (void)
{
  g_autoptr (AttnTrace) trace = dates_trace ();
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 1;
  sel.head = ATTN_HEADS_MEAN;
  sel.hide_special = TRUE;
  for (int theme = 0; theme < 3; theme++)
    check_layout_sizes (trace, &sel, (AttnTheme)theme);
}

static void
test_layout_sizes_long (void)
{
  g_autoptr (AttnTrace) trace = long_trace (1024);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  check_layout_sizes (trace, &sel, ATTN_THEME_LIGHT);
  check_layout_sizes (trace, &sel, ATTN_THEME_PRESENTATION);
}

typedef struct
{
  const char *name;
  int n;
  double size;
  gboolean rotated;
  int min_step;
} LabelCase;

static const LabelCase label_cases[] = {
  /* One-character labels fit across 60-unit columns. */
  { "short-fit", 8, 640, FALSE, 1 },
  /* "t1023" does not fit across a 0.6-unit column: turned, thinned. */
  { "long-thinned", 1024, 800, TRUE, 10 },
};

static void
test_labels (gconstpointer data)
{
  const LabelCase *c = data;
  g_autoptr (AttnTrace) trace = c->n == 8 ? pixel_trace () : long_trace (c->n);
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel,
                       c->n == 8 ? ATTN_KIND_CROSS : ATTN_KIND_DECODER_SELF);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, c->size, c->size, NULL);
  g_assert_true (lay->show_col_labels);
  g_assert_cmpint (lay->col_labels_rotated, ==, c->rotated);
  g_assert_cmpint (lay->col_label_step, >=, c->min_step);
  g_assert_cmpint (lay->row_label_step, >=, c->min_step);
}

/* A resized layout is the layout made at that size, and keeps its image. */
static void
test_set_size (void)
{
  g_autoptr (AttnTrace) trace = long_trace (200);
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  sel.hide_sink = TRUE;
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 1200, 900, NULL);
  cairo_surface_t *image = attn_heatmap_layout_get_image (lay, style);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      double w = sizes[i].w, h = sizes[i].h;
      g_assert_true (attn_heatmap_layout_set_size (lay, style, w, h, NULL));
      g_autoptr (AttnHeatmapLayout) fresh
          = attn_heatmap_layout_new (trace, &sel, style, w, h, NULL);
      g_assert_cmpfloat (lay->width, ==, w);
      g_assert_cmpfloat (lay->height, ==, h);
      g_assert_cmpmem (&lay->grid, sizeof lay->grid, &fresh->grid,
                       sizeof fresh->grid);
      g_assert_cmpmem (&lay->row_labels, sizeof lay->row_labels,
                       &fresh->row_labels, sizeof fresh->row_labels);
      g_assert_cmpmem (&lay->col_labels, sizeof lay->col_labels,
                       &fresh->col_labels, sizeof fresh->col_labels);
      g_assert_cmpmem (&lay->colorbar, sizeof lay->colorbar, &fresh->colorbar,
                       sizeof fresh->colorbar);
      g_assert_cmpint (lay->show_title, ==, fresh->show_title);
      g_assert_cmpint (lay->show_note, ==, fresh->show_note);
      g_assert_cmpint (lay->show_colorbar, ==, fresh->show_colorbar);
      g_assert_cmpint (lay->show_row_labels, ==, fresh->show_row_labels);
      g_assert_cmpint (lay->col_labels_rotated, ==, fresh->col_labels_rotated);
      g_assert_cmpint (lay->row_label_step, ==, fresh->row_label_step);
      g_assert_cmpint (lay->col_label_step, ==, fresh->col_label_step);
      g_assert_cmpint (lay->n_ticks, ==, fresh->n_ticks);
    }
  g_assert_true (attn_heatmap_layout_get_image (lay, style) == image);

  g_autoptr (GError) error = NULL;
  double before = lay->width;
  g_assert_false (attn_heatmap_layout_set_size (lay, style, -5, 10, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_cmpfloat (lay->width, ==, before);
}

/* ---- the image path ---- */

/* A 1,024 x 1,024 matrix on screen goes through the cached image: its
 * pixels are the colour map's exactly, and each screen pixel shows the cell
 * under its centre. */
static void
test_large_image_path (void)
{
  const int n = 1024;
  g_autoptr (AttnTrace) trace = long_trace (n);
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_DARK);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  sel.selected_query = 500;
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 900, 800, NULL);
  g_assert_cmpfloat (lay->cell_width, <, 1.0);
  cairo_surface_t *s = surface_new (900, 800);
  cairo_t *cr = cairo_create (s);
  attn_heatmap_render_layout (cr, lay, &sel, style, ATTN_HEATMAP_CELLS_AUTO);
  cairo_destroy (cr);
  g_assert_nonnull (lay->image);
  g_assert_cmpint (cairo_image_surface_get_width (lay->image), ==, n);
  g_assert_cmpint (cairo_image_surface_get_height (lay->image), ==, n);
  g_assert_cmpint (cairo_image_surface_get_format (lay->image), ==,
                   CAIRO_FORMAT_RGB24);

  /* The image is the matrix. */
  cairo_surface_flush (lay->image);
  const unsigned char *data = cairo_image_surface_get_data (lay->image);
  int stride = cairo_image_surface_get_stride (lay->image);
  for (int q = 0; q < n; q += 7)
    for (int k = 0; k < n; k += 5)
      {
        guint32 px = ((const guint32 *)(data + q * stride))[k];
        float w = lay->matrix->w[(gsize)q * n + k];
        guint32 want = attn_colormap_get_argb32 (
            style->colormap, attn_render_style_map (style, w, 1.0f), FALSE);
        g_assert_cmpuint (px & 0xffffff, ==, want & 0xffffff);
      }

  /* On screen: pixels whose centre is well inside a cell show it. */
  int checked = 0;
  for (int py = (int)lay->grid.y + 3; py < lay->grid.y + lay->grid.height - 3;
       py += 13)
    for (int px = (int)lay->grid.x + 3; px < lay->grid.x + lay->grid.width - 3;
         px += 11)
      {
        double fc = (px + 0.5 - lay->grid.x) / lay->cell_width;
        double fr = (py + 0.5 - lay->grid.y) / lay->cell_height;
        double ec = fc - floor (fc), er = fr - floor (fr);
        if (ec < 0.05 || ec > 0.95 || er < 0.05 || er > 0.95)
          continue;
        int r = (int)fr, c = (int)fc;
        if (ABS (r - 500) <= 4)
          continue; /* under the highlight of the selected row */
        guint32 want = ((const guint32 *)(data + r * stride))[c];
        assert_colour ("screen pixel of a cell", pixel_at (s, px, py), want, 0);
        checked++;
      }
  g_assert_cmpint (checked, >, 1000);
  cairo_surface_destroy (s);
}

/* The cached image is remade when the colour map changes, reused when
 * nothing did. */
static void
test_image_cache (void)
{
  g_autoptr (AttnTrace) trace = pixel_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 300, 200, NULL);
  cairo_surface_t *a = attn_heatmap_layout_get_image (lay, style);
  g_assert_true (attn_heatmap_layout_get_image (lay, style) == a);
  style->colormap = ATTN_COLORMAP_GREY;
  cairo_surface_t *b = attn_heatmap_layout_get_image (lay, style);
  cairo_surface_flush (b);
  const guint32 *px = (const guint32 *)cairo_image_surface_get_data (b);
  g_assert_cmphex (px[0] & 0xffffff, ==, 0xffffff); /* weight 1, grey */
  g_assert_cmphex (px[1] & 0xffffff, ==, 0x000000); /* weight 0 */
  style->reversed = TRUE;
  b = attn_heatmap_layout_get_image (lay, style);
  cairo_surface_flush (b);
  px = (const guint32 *)cairo_image_surface_get_data (b);
  g_assert_cmphex (px[0] & 0xffffff, ==, 0x000000);
}

static cairo_status_t
append_bytes (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

/* SVG and PDF get one rectangle per cell even when the cells are tiny: the
 * automatic choice never sends a vector file the bitmap. */
static void
test_vector_targets (gconstpointer data)
{
  gboolean pdf = GPOINTER_TO_INT (data);
  g_autoptr (AttnTrace) trace = long_trace (96);
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, 200, 200, NULL);
  g_assert_cmpfloat (lay->cell_width, <, ATTN_HEATMAP_IMAGE_BELOW);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  cairo_surface_t *s
      = pdf ? cairo_pdf_surface_create_for_stream (append_bytes, out, 200, 200)
            : cairo_svg_surface_create_for_stream (append_bytes, out, 200, 200);
  cairo_t *cr = cairo_create (s);
  attn_heatmap_render_layout (cr, lay, &sel, style, ATTN_HEATMAP_CELLS_AUTO);
  cairo_destroy (cr);
  cairo_surface_finish (s);
  g_assert_cmpint (cairo_surface_status (s), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_destroy (s);
  g_assert_null (lay->image);
  g_assert_cmpuint (out->len, >, 1000);
  if (!pdf)
    {
      g_byte_array_append (out, (const guint8 *)"", 1);
      g_assert_null (strstr ((const char *)out->data, "<image"));
      g_assert_nonnull (strstr ((const char *)out->data, "<path"));
    }
  /* Forcing the image on the same kind of target is honoured. */
  g_autoptr (GByteArray) out2 = g_byte_array_new ();
  s = pdf ? cairo_pdf_surface_create_for_stream (append_bytes, out2, 200, 200)
          : cairo_svg_surface_create_for_stream (append_bytes, out2, 200, 200);
  cr = cairo_create (s);
  attn_heatmap_render_layout (cr, lay, &sel, style, ATTN_HEATMAP_CELLS_IMAGE);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
  g_assert_nonnull (lay->image);
}

/* Cells tile the grid with no background between them, whatever the
 * fractional cell size: edges are shared exactly (vectors) or sampled from
 * one image (nearest filter). */
typedef struct
{
  const char *name;
  int n;
  int w, h;
  AttnHeatmapCells cells;
} SeamCase;

static const SeamCase seam_cases[] = {
  { "vector-300", 300, 997, 991, ATTN_HEATMAP_CELLS_VECTOR },
  { "vector-37", 37, 811, 613, ATTN_HEATMAP_CELLS_VECTOR },
  { "vector-1024", 1024, 1000, 1000, ATTN_HEATMAP_CELLS_VECTOR },
  { "image-300", 300, 997, 991, ATTN_HEATMAP_CELLS_IMAGE },
  { "image-1024", 1024, 733, 701, ATTN_HEATMAP_CELLS_IMAGE },
};

static void
test_no_seams (gconstpointer data)
{
  const SeamCase *c = data;
  g_autoptr (AttnTrace) trace = long_trace (c->n);
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, &sel, style, c->w, c->h, NULL);
  g_assert_cmpfloat (lay->cell_width, !=, floor (lay->cell_width));
  cairo_surface_t *s = surface_new (c->w, c->h);
  cairo_t *cr = cairo_create (s);
  attn_heatmap_render_layout (cr, lay, &sel, style, c->cells);
  cairo_destroy (cr);
  guint32 bg = rgba_argb (&style->background);
  int x0 = (int)ceil (lay->grid.x), y0 = (int)ceil (lay->grid.y);
  int x1 = (int)floor (lay->grid.x + lay->grid.width);
  int y1 = (int)floor (lay->grid.y + lay->grid.height);
  for (int y = y0; y < y1; y++)
    for (int x = x0; x < x1; x++)
      if (channel_diff (pixel_at (s, x, y), bg) < 16)
        g_error ("%s: background shows through at (%d, %d) inside the grid",
                 c->name, x, y);
  cairo_surface_destroy (s);
}

/* ---- notes, errors, dispatch ---- */

static void
test_note (void)
{
  g_autoptr (AttnTrace) trace = dates_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_ENCODER_SELF);
  g_autoptr (AttnHeatmapLayout) plain
      = attn_heatmap_layout_new (trace, &sel, style, 640, 480, NULL);
  g_assert_null (plain->note);
  g_assert_false (plain->show_note);

  sel.hide_sink = TRUE;
  sel.range_start = 2;
  sel.range_end = 9;
  g_autoptr (AttnHeatmapLayout) hidden
      = attn_heatmap_layout_new (trace, &sel, style, 640, 480, NULL);
  g_assert_true (hidden->show_note);
  g_assert_cmpstr (hidden->note, ==,
                   "Tokens 2–8 · the first token hidden, rows renormalised");
  g_assert_cmpint (hidden->matrix->n_rows, ==, 7);
  g_assert_cmpint (hidden->matrix->n_cols, ==, 7);
  assert_inside ("note", &hidden->note_rect, 640, 480);
  g_assert_cmpfloat (hidden->note_rect.y, >=,
                     hidden->grid.y + hidden->grid.height);
}

static gboolean
surface_blank (cairo_surface_t *s)
{
  cairo_surface_flush (s);
  const unsigned char *d = cairo_image_surface_get_data (s);
  int n
      = cairo_image_surface_get_stride (s) * cairo_image_surface_get_height (s);
  for (int i = 0; i < n; i++)
    if (d[i] != 0)
      return FALSE;
  return TRUE;
}

static void
test_errors (void)
{
  g_autoptr (AttnTrace) trace = pixel_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.head = 9;
  cairo_surface_t *s = surface_new (100, 100);
  cairo_t *cr = cairo_create (s);
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_view_render (ATTN_VIEW_HEATMAP, cr, trace, &sel, style,
                                    100, 100, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "0–1, mean or max"));
  g_assert_true (surface_blank (s));
  g_clear_error (&error);

  sel.head = 0;
  double bad[][2] = { { 0, 100 }, { 100, -1 }, { NAN, 100 }, { INFINITY, 1 } };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_null (attn_heatmap_layout_new (trace, &sel, style, bad[i][0],
                                              bad[i][1], &error));
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      g_clear_error (&error);
    }
  g_assert_true (surface_blank (s));

  AttnHit hit;
  sel.layer = 3;
  g_assert_false (attn_view_hit_test (ATTN_VIEW_HEATMAP, trace, &sel, style,
                                      100, 100, 50, 50, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_NONE);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
}

/* attn_view_render draws exactly what attn_heatmap_render draws. */
static void
test_dispatch (void)
{
  g_autoptr (AttnTrace) trace = dates_trace ();
  g_autoptr (AttnRenderStyle) style
      = attn_render_style_new (ATTN_THEME_PRESENTATION);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  sel.layer = 1;
  sel.head = ATTN_HEADS_MAX;
  sel.selected_query = 4;
  cairo_surface_t *a = surface_new (700, 500), *b = surface_new (700, 500);
  cairo_t *cr = cairo_create (a);
  g_assert_true (attn_view_render (ATTN_VIEW_HEATMAP, cr, trace, &sel, style,
                                   700, 500, NULL));
  cairo_destroy (cr);
  cr = cairo_create (b);
  g_assert_true (attn_heatmap_render (cr, trace, &sel, style, 700, 500, NULL));
  cairo_destroy (cr);
  cairo_surface_flush (a);
  cairo_surface_flush (b);
  g_assert_false (surface_blank (a));
  g_assert_cmpmem (cairo_image_surface_get_data (a),
                   cairo_image_surface_get_stride (a) * 500,
                   cairo_image_surface_get_data (b),
                   cairo_image_surface_get_stride (b) * 500);
  /* The background is the theme's. */
  assert_colour ("background", pixel_at (a, 1, 1),
                 rgba_argb (&style->background), 0);
  cairo_surface_destroy (a);
  cairo_surface_destroy (b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cell_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/heatmap/cells/%s", cell_cases[i].name);
      g_test_add_data_func (path, &cell_cases[i], test_cell_colours);
    }
  g_test_add_func ("/attn/heatmap/scale-pixels", test_scale_pixels);
  g_test_add_data_func ("/attn/heatmap/colorbar/fixed",
                        GINT_TO_POINTER (ATTN_SCALE_FIXED), test_colorbar_ends);
  g_test_add_data_func ("/attn/heatmap/colorbar/max",
                        GINT_TO_POINTER (ATTN_SCALE_MAX), test_colorbar_ends);
  g_test_add_data_func ("/attn/heatmap/colorbar/log",
                        GINT_TO_POINTER (ATTN_SCALE_LOG), test_colorbar_ends);
  g_test_add_func ("/attn/heatmap/highlight", test_highlight);
  g_test_add_func ("/attn/heatmap/values", test_values);
  g_test_add_func ("/attn/heatmap/hit/cells", test_hit_cells);
  g_test_add_func ("/attn/heatmap/hit/fixture-alignment",
                   test_hit_fixture_alignment);
  g_test_add_func ("/attn/heatmap/layout/sizes-fixture",
                   test_layout_sizes_fixture);
  g_test_add_func ("/attn/heatmap/layout/sizes-long", test_layout_sizes_long);
  for (guint i = 0; i < G_N_ELEMENTS (label_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/heatmap/labels/%s", label_cases[i].name);
      g_test_add_data_func (path, &label_cases[i], test_labels);
    }
  g_test_add_func ("/attn/heatmap/layout/set-size", test_set_size);
  g_test_add_func ("/attn/heatmap/image/large", test_large_image_path);
  g_test_add_func ("/attn/heatmap/image/cache", test_image_cache);
  g_test_add_data_func ("/attn/heatmap/vector/svg", GINT_TO_POINTER (FALSE),
                        test_vector_targets);
  g_test_add_data_func ("/attn/heatmap/vector/pdf", GINT_TO_POINTER (TRUE),
                        test_vector_targets);
  for (guint i = 0; i < G_N_ELEMENTS (seam_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/heatmap/no-seams/%s", seam_cases[i].name);
      g_test_add_data_func (path, &seam_cases[i], test_no_seams);
    }
  g_test_add_func ("/attn/heatmap/note", test_note);
  g_test_add_func ("/attn/heatmap/errors", test_errors);
  g_test_add_func ("/attn/heatmap/dispatch", test_dispatch);
  return g_test_run ();
}
