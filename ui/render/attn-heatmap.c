/* attn-heatmap.c: the heatmap view, its layout and hit-testing. */
#include "ui/render/attn-heatmap.h"

#include <math.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-text.h"
#include "ui/render/attn-view-util.h"

/* Type sizes relative to style->font_size. */
#define TITLE_SCALE 1.15
#define LABEL_SCALE 1.0
#define TICK_SCALE 0.85
#define NOTE_SCALE 0.85
#define VALUE_SCALE 0.8

/* Longest a token label may get before it is ellipsised, in units of the
 * font size, and as a share of the side it takes room from. */
#define LABEL_MAX_EMS 10.0
#define LABEL_MAX_SHARE 0.25

/* Position in [0, 1] on the bar of scale value v. Unlike
 * attn_render_style_map, a MAX scale over an all-zero matrix still spreads
 * its ticks over [0, hi]. */
static double
bar_position (const AttnHeatmapLayout *lay, AttnScale scale, double v)
{
  if (scale == ATTN_SCALE_LOG)
    return (log10 (v) - log10 (lay->colorbar_lo))
           / (log10 (lay->colorbar_hi) - log10 (lay->colorbar_lo));
  return (v - lay->colorbar_lo) / (lay->colorbar_hi - lay->colorbar_lo);
}

/* The smallest of 1, 2, 2.5, 5 (times a power of ten) at least raw. */
static double
nice_step (double raw)
{
  double mag = pow (10.0, floor (log10 (raw)));
  static const double mult[] = { 1.0, 2.0, 2.5, 5.0, 10.0 };
  for (guint i = 0; i < G_N_ELEMENTS (mult); i++)
    if (mult[i] * mag >= raw * (1.0 - 1e-9))
      return mult[i] * mag;
  return 10.0 * mag;
}

static void
ticks_clear (AttnHeatmapLayout *lay)
{
  for (int i = 0; i < lay->n_ticks; i++)
    g_clear_pointer (&lay->ticks[i].label, g_free);
  lay->n_ticks = 0;
}

static void
tick_add (AttnHeatmapLayout *lay, double v)
{
  attn_check (lay->n_ticks < ATTN_HEATMAP_MAX_TICKS);
  AttnHeatmapTick *t = &lay->ticks[lay->n_ticks++];
  t->value = v;
  t->y = 0.0;
  t->label = attn_text_format_weight (v);
}

/* Tick values (not yet positions) for the style's scale. */
static void
ticks_choose (AttnHeatmapLayout *lay, AttnScale scale)
{
  ticks_clear (lay);
  switch (scale)
    {
    case ATTN_SCALE_LOG:
      lay->colorbar_lo = 1e-4;
      lay->colorbar_hi = 1.0;
      for (int e = -4; e <= 0; e++)
        tick_add (lay, pow (10.0, e));
      break;
    case ATTN_SCALE_MAX:
      {
        lay->colorbar_lo = 0.0;
        lay->colorbar_hi = lay->matrix->max > 0.0f ? lay->matrix->max : 1.0;
        double step = nice_step (lay->colorbar_hi / 4.0);
        for (int i = 0; i < ATTN_HEATMAP_MAX_TICKS; i++)
          {
            double v = i * step;
            if (v > lay->colorbar_hi * (1.0 + 1e-9))
              break;
            tick_add (lay, v);
          }
      }
      break;
    case ATTN_SCALE_FIXED:
    default:
      lay->colorbar_lo = 0.0;
      lay->colorbar_hi = 1.0;
      for (int i = 0; i <= 4; i++)
        tick_add (lay, i * 0.25);
      break;
    }
}

/* Places the ticks on the bar, keeping every k-th when their labels
 * (tick_h high) would touch. */
static void
ticks_place (AttnHeatmapLayout *lay, AttnScale scale, double tick_h)
{
  const cairo_rectangle_t *bar = &lay->colorbar;
  double pitch = G_MAXDOUBLE;
  for (int i = 0; i < lay->n_ticks; i++)
    {
      lay->ticks[i].y
          = bar->y
            + bar->height
                  * (1.0 - bar_position (lay, scale, lay->ticks[i].value));
      if (i > 0)
        pitch = MIN (pitch, lay->ticks[i - 1].y - lay->ticks[i].y);
    }
  if (lay->n_ticks < 2 || !(pitch > 0.0))
    return;
  int step = attn_text_label_step (pitch, tick_h, 0.15 * tick_h);
  if (step == 1)
    return;
  int kept = 0;
  for (int i = 0; i < lay->n_ticks; i++)
    {
      if (i % step == 0)
        lay->ticks[kept++] = lay->ticks[i];
      else
        g_free (lay->ticks[i].label);
    }
  lay->n_ticks = kept;
}

static gboolean
rect_inside (const cairo_rectangle_t *r, double w, double h)
{
  const double eps = 1e-9 * MAX (1.0, MAX (w, h));
  return r->x >= -eps && r->y >= -eps && r->x + r->width <= w + eps
         && r->y + r->height <= h + eps;
}

/* Everything that depends on the size: which parts show, where they go,
 * how many labels fit. Cheap next to the preparation (no token label is
 * measured here), so a resized widget only calls this. */
static void
layout_place (AttnHeatmapLayout *lay, const AttnRenderStyle *style,
              double width, double height)
{
  const AttnViewMatrix *matrix = lay->matrix;
  int nr = matrix->n_rows, nc = matrix->n_cols;
  lay->width = width;
  lay->height = height;
  lay->show_title = lay->show_note = lay->show_colorbar = FALSE;
  lay->show_row_labels = lay->show_col_labels = FALSE;
  lay->col_labels_rotated = FALSE;
  attn_view_util_rect_set (&lay->title_rect, 0, 0, 0, 0);
  attn_view_util_rect_set (&lay->note_rect, 0, 0, 0, 0);
  attn_view_util_rect_set (&lay->row_labels, 0, 0, 0, 0);
  attn_view_util_rect_set (&lay->col_labels, 0, 0, 0, 0);
  attn_view_util_rect_set (&lay->colorbar, 0, 0, 0, 0);
  attn_view_util_rect_set (&lay->colorbar_labels, 0, 0, 0, 0);
  lay->row_label_step = lay->col_label_step = 1;

  PangoContext *ctx = lay->context;
  double fs = style->font_size > 0.0 ? style->font_size : 12.0;
  double title_h, note_h = 0.0, lh, tick_w, tick_h;
  attn_view_util_text_size (ctx, style, TITLE_SCALE, TRUE, lay->title, NULL,
                            &title_h);
  if (lay->note != NULL)
    attn_view_util_text_size (ctx, style, NOTE_SCALE, FALSE, lay->note, NULL,
                              &note_h);
  attn_view_util_text_size (ctx, style, LABEL_SCALE, FALSE, "Ag", NULL, &lh);
  lay->label_height = lh;
  ticks_choose (lay, style->scale);
  {
    char *labels[ATTN_HEATMAP_MAX_TICKS];
    for (int i = 0; i < lay->n_ticks; i++)
      labels[i] = lay->ticks[i].label;
    tick_w = attn_view_util_widest (ctx, style, TICK_SCALE, FALSE, labels,
                                    lay->n_ticks);
    attn_view_util_text_size (ctx, style, TICK_SCALE, FALSE, "0", NULL,
                              &tick_h);
  }

  /* The margin shrinks with the drawing so a thumbnail is mostly cells. */
  double pad = MIN (0.6 * fs, 0.04 * MIN (width, height));
  double x0 = pad, y0 = pad, x1 = width - pad, y1 = height - pad;

  /* Parts are dropped, least useful first, when the drawing is too small
   * for them to leave room for the cells. */
  if (y1 - y0 >= title_h + 8.0 * lh && x1 - x0 >= 12.0 * lh)
    {
      lay->show_title = TRUE;
      attn_view_util_rect_set (&lay->title_rect, x0, y0, x1 - x0, title_h);
      y0 += title_h + 0.6 * fs;
    }
  if (lay->note != NULL && y1 - y0 >= note_h + 6.0 * lh && x1 - x0 >= 12.0 * lh)
    {
      lay->show_note = TRUE;
      attn_view_util_rect_set (&lay->note_rect, x0, y1 - note_h, x1 - x0,
                               note_h);
      y1 -= note_h + 0.5 * fs;
    }

  double bar_gap = 0.8 * fs, bar_w = 0.9 * fs, tick_len = 0.3 * fs;
  double tick_gap = 0.25 * fs;
  double bar_total = bar_gap + bar_w + tick_len + tick_gap + tick_w;
  if (x1 - x0 >= 4.0 * bar_total && y1 - y0 >= 4.0 * tick_h)
    lay->show_colorbar = TRUE;
  double xr = lay->show_colorbar ? x1 - bar_total : x1;

  /* Labels keep clear of a selected row's or column's outline. */
  lay->highlight_width = CLAMP (0.15 * fs, 1.5, 4.0);
  double label_gap = 0.35 * fs + lay->highlight_width;
  double row_w = lay->row_text_width, col_w = lay->col_text_width;
  double row_max
      = MIN (row_w, MIN (LABEL_MAX_EMS * fs, LABEL_MAX_SHARE * (xr - x0)));
  double col_max
      = MIN (col_w, MIN (LABEL_MAX_EMS * fs, LABEL_MAX_SHARE * (y1 - y0)));
  lay->show_row_labels = xr - x0 >= 8.0 * lh && y1 - y0 >= 6.0 * lh;
  lay->show_col_labels = lay->show_row_labels;

  double row_band = lay->show_row_labels ? row_max + label_gap : 0.0;
  double col_band = lay->show_col_labels ? lh + label_gap : 0.0;
  double aw = xr - x0 - row_band;
  double cell = MIN (aw / nc, (y1 - y0 - col_band) / nr);
  /* Column labels turn to read upwards when the widest does not fit
   * across a column; they then take the height the widest needs. */
  if (lay->show_col_labels && col_max + 0.3 * fs > cell)
    {
      lay->col_labels_rotated = TRUE;
      col_band = col_max + label_gap;
      cell = MIN (aw / nc, (y1 - y0 - col_band) / nr);
    }
  lay->row_label_max_width = row_max;
  lay->col_label_max_width = lay->col_labels_rotated ? col_max : cell;

  double gw = cell * nc, gh = cell * nr;
  double total_w = row_band + gw + (lay->show_colorbar ? bar_total : 0.0);
  double left = x0 + MAX (0.0, (x1 - x0) - total_w) / 2.0;
  double top = y0 + MAX (0.0, (y1 - y0) - col_band - gh) / 2.0;
  attn_view_util_rect_set (&lay->grid, left + row_band, top + col_band, gw, gh);
  lay->cell_width = lay->cell_height = cell;

  if (lay->show_row_labels)
    {
      /* A label is lh high, centred on its row: with rows thinner than a
       * line the first and last reach past the grid by the difference. */
      double over = MAX (0.0, (lh - cell) / 2.0);
      lay->row_label_right = lay->grid.x - label_gap;
      attn_view_util_rect_set (&lay->row_labels, left, lay->grid.y - over,
                               row_max, gh + 2.0 * over);
      lay->row_label_step = attn_text_label_step (cell, lh, 0.15 * lh);
    }
  if (lay->show_col_labels)
    {
      lay->col_label_bottom = lay->grid.y - label_gap;
      if (lay->col_labels_rotated)
        {
          double over = MAX (0.0, (lh - cell) / 2.0);
          attn_view_util_rect_set (&lay->col_labels, lay->grid.x - over,
                                   lay->col_label_bottom - col_max,
                                   gw + 2.0 * over, col_max);
          lay->col_label_step = attn_text_label_step (cell, lh, 0.15 * lh);
        }
      else
        {
          attn_view_util_rect_set (&lay->col_labels, lay->grid.x,
                                   lay->col_label_bottom - lh, gw, lh);
          lay->col_label_step = 1;
        }
    }
  /* At the edge of what fits a label can still poke out by a pixel: drop
   * the labels rather than draw outside the drawing. */
  if (lay->show_row_labels && !rect_inside (&lay->row_labels, width, height))
    lay->show_row_labels = FALSE;
  if (lay->show_col_labels && !rect_inside (&lay->col_labels, width, height))
    lay->show_col_labels = FALSE;

  if (lay->show_colorbar)
    {
      /* As tall as the grid, but never a sliver beside a one-row grid. */
      double lo = MAX (y0, tick_h / 2.0);
      double hi = MIN (y1, height - tick_h / 2.0);
      double bh = MIN (MAX (gh, MIN (8.0 * fs, hi - lo)), hi - lo);
      double by = CLAMP (lay->grid.y + gh / 2.0 - bh / 2.0, lo, hi - bh);
      double bx = lay->grid.x + gw + bar_gap;
      attn_view_util_rect_set (&lay->colorbar, bx, by, bar_w, bh);
      attn_view_util_rect_set (&lay->colorbar_labels,
                               bx + bar_w + tick_len + tick_gap,
                               by - tick_h / 2.0, tick_w, bh + tick_h);
      ticks_place (lay, style->scale, tick_h);
    }
  else
    ticks_clear (lay);

  double vw, vh;
  attn_view_util_text_size (ctx, style, VALUE_SCALE, FALSE, "0.00", &vw, &vh);
  lay->show_values = style->show_values && cell >= vw + 0.2 * fs && cell >= vh;
}

AttnHeatmapLayout *
attn_heatmap_layout_new (const AttnTrace *trace, const AttnSelection *sel,
                         const AttnRenderStyle *style, double width,
                         double height, GError **error)
{
  attn_check (trace != NULL && sel != NULL && style != NULL);
  if (!attn_view_util_check_size ("heatmap", width, height, error))
    return NULL;
  AttnViewMatrix *matrix = attn_view_matrix_new (trace, sel, error);
  if (matrix == NULL)
    return NULL;

  g_autoptr (AttnHeatmapLayout) lay = g_new0 (AttnHeatmapLayout, 1);
  lay->matrix = matrix;
  lay->kind = sel->kind;
  lay->layer = sel->layer;
  lay->head = sel->head;
  lay->n_heads
      = attn_trace_lookup_block (trace, sel->kind, sel->layer)->n_heads;
  lay->context = attn_text_context_new ();
  lay->label_scale = LABEL_SCALE;
  lay->value_scale = VALUE_SCALE;

  int nr = matrix->n_rows, nc = matrix->n_cols;
  AttnSide qside = attn_kind_query_side (sel->kind);
  AttnSide kside = attn_kind_key_side (sel->kind);
  lay->row_text = g_new0 (char *, nr + 1);
  for (int r = 0; r < nr; r++)
    lay->row_text[r] = attn_token_display_text (
        attn_trace_get_token (trace, qside, matrix->row_token[r])->text);
  lay->col_text = g_new0 (char *, nc + 1);
  for (int c = 0; c < nc; c++)
    lay->col_text[c] = attn_token_display_text (
        attn_trace_get_token (trace, kside, matrix->col_token[c])->text);
  lay->title
      = attn_text_block_title (sel->kind, sel->layer, sel->head, lay->n_heads);
  lay->note = attn_view_util_note (sel, matrix->renormalised);

  PangoContext *ctx = lay->context;
  /* Measured in bold, as the selected label is drawn. */
  lay->row_text_width = attn_view_util_widest (ctx, style, LABEL_SCALE, TRUE,
                                               lay->row_text, nr);
  /* Self-attention without a cross-cutting zoom: both axes are the same
   * tokens, measured once (half the cost of a long layout). */
  gboolean same_axes
      = qside == kside && nr == nc
        && memcmp (matrix->row_token, matrix->col_token, nr * sizeof (int))
               == 0;
  lay->col_text_width = same_axes
                            ? lay->row_text_width
                            : attn_view_util_widest (ctx, style, LABEL_SCALE,
                                                     TRUE, lay->col_text, nc);
  layout_place (lay, style, width, height);
  return g_steal_pointer (&lay);
}

gboolean
attn_heatmap_layout_set_size (AttnHeatmapLayout *lay,
                              const AttnRenderStyle *style, double width,
                              double height, GError **error)
{
  attn_check (lay != NULL && style != NULL);
  if (!attn_view_util_check_size ("heatmap", width, height, error))
    return FALSE;
  layout_place (lay, style, width, height);
  return TRUE;
}

void
attn_heatmap_layout_free (AttnHeatmapLayout *lay)
{
  if (lay == NULL)
    return;
  ticks_clear (lay);
  g_free (lay->title);
  g_free (lay->note);
  g_strfreev (lay->row_text);
  g_strfreev (lay->col_text);
  g_clear_object (&lay->context);
  g_clear_pointer (&lay->image, cairo_surface_destroy);
  attn_view_matrix_free (lay->matrix);
  g_free (lay);
}

void
attn_heatmap_layout_cell (const AttnHeatmapLayout *lay, int row, int col,
                          cairo_rectangle_t *rect)
{
  attn_check (lay != NULL && rect != NULL);
  attn_check (row >= 0 && row < lay->matrix->n_rows);
  attn_check (col >= 0 && col < lay->matrix->n_cols);
  attn_view_util_rect_set (rect, lay->grid.x + col * lay->cell_width,
                           lay->grid.y + row * lay->cell_height,
                           lay->cell_width, lay->cell_height);
}

gboolean
attn_heatmap_layout_hit (const AttnHeatmapLayout *lay, double x, double y,
                         AttnHit *hit)
{
  attn_check (lay != NULL && hit != NULL);
  const AttnViewMatrix *m = lay->matrix;
  *hit = (AttnHit){ .kind = ATTN_HIT_NONE,
                    .query = -1,
                    .key = -1,
                    .layer = lay->layer,
                    .head = lay->head,
                    .candidate = -1 };
  double fc = (x - lay->grid.x) / lay->cell_width;
  double fr = (y - lay->grid.y) / lay->cell_height;
  gboolean in_cols = fc >= 0.0 && fc < m->n_cols;
  gboolean in_rows = fr >= 0.0 && fr < m->n_rows;
  int c = in_cols ? MIN ((int)fc, m->n_cols - 1) : -1;
  int r = in_rows ? MIN ((int)fr, m->n_rows - 1) : -1;

  if (in_rows && in_cols)
    {
      hit->kind = ATTN_HIT_CELL;
      hit->query = m->row_token[r];
      hit->key = m->col_token[c];
      hit->weight = m->w[(gsize)r * m->n_cols + c];
      return TRUE;
    }
  /* A label's band is its row (or column): thinned-out labels are still
   * hit where they would be. */
  if (in_rows && lay->show_row_labels && x >= lay->row_labels.x
      && x < lay->grid.x)
    {
      hit->kind = ATTN_HIT_QUERY;
      hit->query = m->row_token[r];
      return TRUE;
    }
  if (in_cols && lay->show_col_labels && y >= lay->col_labels.y
      && y < lay->grid.y)
    {
      hit->kind = ATTN_HIT_KEY;
      hit->key = m->col_token[c];
      return TRUE;
    }
  return FALSE;
}

cairo_surface_t *
attn_heatmap_layout_get_image (AttnHeatmapLayout *lay,
                               const AttnRenderStyle *style)
{
  attn_check (lay != NULL && style != NULL);
  if (lay->image != NULL && lay->image_colormap == style->colormap
      && lay->image_reversed == style->reversed
      && lay->image_scale == style->scale)
    return lay->image;

  const AttnViewMatrix *m = lay->matrix;
  g_clear_pointer (&lay->image, cairo_surface_destroy);
  lay->image
      = cairo_image_surface_create (CAIRO_FORMAT_RGB24, m->n_cols, m->n_rows);
  attn_check (cairo_surface_status (lay->image) == CAIRO_STATUS_SUCCESS);
  cairo_surface_flush (lay->image);
  unsigned char *data = cairo_image_surface_get_data (lay->image);
  int stride = cairo_image_surface_get_stride (lay->image);
  /* Runs of one weight are common (the masked half of a causal matrix, a
   * hidden token's zeros): the last colour is reused for them. */
  float last_w = NAN;
  guint32 last_px = 0;
  for (int r = 0; r < m->n_rows; r++)
    {
      guint32 *px = (guint32 *)(data + (gsize)r * stride); /* (n_cols) */
      const float *w = m->w + (gsize)r * m->n_cols;        /* (n_cols) */
      for (int c = 0; c < m->n_cols; c++)
        {
          if (w[c] != last_w)
            {
              last_w = w[c];
              last_px = attn_colormap_get_argb32 (
                  style->colormap, attn_render_style_map (style, w[c], m->max),
                  style->reversed);
            }
          px[c] = last_px;
        }
    }
  cairo_surface_mark_dirty (lay->image);
  lay->image_colormap = style->colormap;
  lay->image_reversed = style->reversed;
  lay->image_scale = style->scale;
  return lay->image;
}

static gboolean
target_is_vector (cairo_t *cr)
{
  switch (cairo_surface_get_type (cairo_get_target (cr)))
    {
    case CAIRO_SURFACE_TYPE_PDF:
    case CAIRO_SURFACE_TYPE_PS:
    case CAIRO_SURFACE_TYPE_SVG:
    case CAIRO_SURFACE_TYPE_SCRIPT:
      return TRUE;
    default:
      return FALSE;
    }
}

static gboolean
use_image (cairo_t *cr, const AttnHeatmapLayout *lay, AttnHeatmapCells cells)
{
  if (cells != ATTN_HEATMAP_CELLS_AUTO)
    return cells == ATTN_HEATMAP_CELLS_IMAGE;
  if (target_is_vector (cr))
    return FALSE;
  double dx = lay->cell_width, dy = lay->cell_height;
  cairo_user_to_device_distance (cr, &dx, &dy);
  double n = (double)lay->matrix->n_rows * lay->matrix->n_cols;
  return MIN (fabs (dx), fabs (dy)) < ATTN_HEATMAP_IMAGE_BELOW
         || n > ATTN_HEATMAP_VECTOR_MAX_CELLS;
}

static void
draw_cells_image (cairo_t *cr, AttnHeatmapLayout *lay,
                  const AttnRenderStyle *style)
{
  cairo_surface_t *image = attn_heatmap_layout_get_image (lay, style);
  cairo_save (cr);
  cairo_translate (cr, lay->grid.x, lay->grid.y);
  cairo_scale (cr, lay->cell_width, lay->cell_height);
  cairo_set_source_surface (cr, image, 0.0, 0.0);
  cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
  cairo_rectangle (cr, 0.0, 0.0, lay->matrix->n_cols, lay->matrix->n_rows);
  cairo_fill (cr);
  cairo_restore (cr);
}

/* One rectangle per run of cells of one (8-bit) colour. On raster targets
 * without antialiasing, so neighbours share their edge pixels exactly and
 * no background shows between them; on vector targets each run reaches a
 * little under its right and lower neighbours, which viewers would
 * otherwise draw with hairline seams. */
static void
draw_cells_vector (cairo_t *cr, const AttnHeatmapLayout *lay,
                   const AttnRenderStyle *style)
{
  const AttnViewMatrix *m = lay->matrix;
  gboolean vector = target_is_vector (cr);
  double overlap = vector ? MIN (0.25, 0.1 * lay->cell_width) : 0.0;
  cairo_save (cr);
  if (!vector)
    cairo_set_antialias (cr, CAIRO_ANTIALIAS_NONE);
  for (int r = 0; r < m->n_rows; r++)
    {
      const float *w = m->w + (gsize)r * m->n_cols; /* (n_cols) */
      /* Each edge is computed once from its index, so neighbours share it
       * to the bit (x + (xe - x) need not equal xe). */
      double y = lay->grid.y + r * lay->cell_height;
      double ye = lay->grid.y + (r + 1) * lay->cell_height
                  + (r + 1 < m->n_rows ? overlap : 0.0);
      int c = 0;
      while (c < m->n_cols)
        {
          double t = attn_render_style_map (style, w[c], m->max);
          guint32 key
              = attn_colormap_get_argb32 (style->colormap, t, style->reversed);
          int end = c + 1;
          while (end < m->n_cols
                 && attn_colormap_get_argb32 (
                        style->colormap,
                        attn_render_style_map (style, w[end], m->max),
                        style->reversed)
                        == key)
            end++;
          double cr_, cg, cb;
          attn_colormap_get (style->colormap, t, style->reversed, &cr_, &cg,
                             &cb);
          cairo_set_source_rgb (cr, cr_, cg, cb);
          double x = lay->grid.x + c * lay->cell_width;
          double xe = lay->grid.x + end * lay->cell_width
                      + (end < m->n_cols ? overlap : 0.0);
          cairo_move_to (cr, x, y);
          cairo_line_to (cr, xe, y);
          cairo_line_to (cr, xe, ye);
          cairo_line_to (cr, x, ye);
          cairo_close_path (cr);
          cairo_fill (cr);
          c = end;
        }
    }
  cairo_restore (cr);
}

static void
draw_values (cairo_t *cr, AttnHeatmapLayout *lay, const AttnRenderStyle *style)
{
  const AttnViewMatrix *m = lay->matrix;
  g_autoptr (PangoLayout) text
      = attn_text_layout_new (lay->context, style, lay->value_scale, FALSE, "");
  for (int r = 0; r < m->n_rows; r++)
    for (int c = 0; c < m->n_cols; c++)
      {
        float w = m->w[(gsize)r * m->n_cols + c];
        /* Two decimals in every cell, so a column of values lines up. */
        char s[G_ASCII_DTOSTR_BUF_SIZE];
        g_ascii_formatd (s, sizeof s, "%.2f", w);
        double red, green, blue;
        attn_colormap_get (style->colormap,
                           attn_render_style_map (style, w, m->max),
                           style->reversed, &red, &green, &blue);
        AttnRgba ink = attn_view_util_text_on (red, green, blue);
        pango_layout_set_text (text, s, -1);
        attn_text_fit_width (text, lay->cell_width);
        attn_text_draw (cr, text, lay->grid.x + (c + 0.5) * lay->cell_width,
                        lay->grid.y + (r + 0.5) * lay->cell_height, 0.0, 0.5,
                        0.5, &ink);
      }
}

static int
find_index (const int *tokens, int n, int token)
{
  if (token < 0)
    return -1;
  for (int i = 0; i < n; i++)
    if (tokens[i] == token)
      return i;
  return -1;
}

static void
draw_highlight (cairo_t *cr, const AttnHeatmapLayout *lay,
                const AttnRenderStyle *style, int row, int col)
{
  if (row < 0 && col < 0)
    return;
  double lw = lay->highlight_width;
  cairo_save (cr);
  cairo_set_source_rgba (cr, style->accent.r, style->accent.g, style->accent.b,
                         style->accent.a);
  cairo_set_line_width (cr, lw);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_MITER);
  /* The line runs just outside the cells, so even one-pixel rows keep
   * their colour and still stand out. */
  if (row >= 0)
    cairo_rectangle (cr, lay->grid.x - lw / 2.0,
                     lay->grid.y + row * lay->cell_height - lw / 2.0,
                     lay->grid.width + lw, lay->cell_height + lw);
  if (col >= 0)
    cairo_rectangle (cr, lay->grid.x + col * lay->cell_width - lw / 2.0,
                     lay->grid.y - lw / 2.0, lay->cell_width + lw,
                     lay->grid.height + lw);
  cairo_stroke (cr);
  cairo_restore (cr);
}

/* Labels of one axis: every step-th, plus the selected one in the accent
 * colour and bold (its thinned-out neighbours give way to it). */
static void
draw_axis_labels (cairo_t *cr, AttnHeatmapLayout *lay,
                  const AttnRenderStyle *style, gboolean rows, int selected)
{
  int n = rows ? lay->matrix->n_rows : lay->matrix->n_cols;
  char **texts = rows ? lay->row_text : lay->col_text;
  int step = rows ? lay->row_label_step : lay->col_label_step;
  double max_w = rows ? lay->row_label_max_width : lay->col_label_max_width;
  double angle = !rows && lay->col_labels_rotated ? -G_PI / 2.0 : 0.0;
  g_autoptr (PangoLayout) text
      = attn_text_layout_new (lay->context, style, lay->label_scale, FALSE, "");
  attn_text_fit_width (text, max_w);

  for (int i = 0; i <= n; i++)
    {
      /* The selected label is drawn last (i == n), on top. */
      int idx = i < n ? i : selected;
      if (idx < 0)
        break;
      gboolean is_selected = idx == selected;
      if (i < n
          && (is_selected || idx % step != 0
              || (selected >= 0 && step > 1 && ABS (idx - selected) < step)))
        continue;
      g_autoptr (PangoLayout) bold = NULL;
      PangoLayout *l = text;
      if (is_selected)
        {
          bold = attn_text_layout_new (lay->context, style, lay->label_scale,
                                       TRUE, texts[idx]);
          attn_text_fit_width (bold, max_w);
          l = bold;
        }
      else
        pango_layout_set_text (text, texts[idx], -1);
      const AttnRgba *ink = is_selected ? &style->accent : &style->foreground;
      if (rows)
        attn_text_draw (cr, l, lay->row_label_right,
                        lay->grid.y + (idx + 0.5) * lay->cell_height, 0.0, 1.0,
                        0.5, ink);
      else if (lay->col_labels_rotated)
        attn_text_draw (cr, l, lay->grid.x + (idx + 0.5) * lay->cell_width,
                        lay->col_label_bottom, angle, 0.0, 0.5, ink);
      else
        attn_text_draw (cr, l, lay->grid.x + (idx + 0.5) * lay->cell_width,
                        lay->col_label_bottom, 0.0, 0.5, 1.0, ink);
    }
}

static void
draw_colorbar (cairo_t *cr, AttnHeatmapLayout *lay,
               const AttnRenderStyle *style)
{
  const cairo_rectangle_t *bar = &lay->colorbar;
  /* A gradient through every table entry: exact at the stops, and one
   * object in SVG and PDF rather than a stack of strips. */
  cairo_pattern_t *grad
      = cairo_pattern_create_linear (0.0, bar->y + bar->height, 0.0, bar->y);
  for (int i = 0; i < ATTN_COLORMAP_SIZE; i++)
    {
      double t = (double)i / (ATTN_COLORMAP_SIZE - 1), r, g, b;
      attn_colormap_get (style->colormap, t, style->reversed, &r, &g, &b);
      cairo_pattern_add_color_stop_rgb (grad, t, r, g, b);
    }
  cairo_save (cr);
  cairo_rectangle (cr, bar->x, bar->y, bar->width, bar->height);
  cairo_set_source (cr, grad);
  cairo_fill (cr);
  cairo_pattern_destroy (grad);

  double fs = style->font_size > 0.0 ? style->font_size : 12.0;
  double tick_len = 0.3 * fs;
  cairo_set_source_rgba (cr, style->foreground.r, style->foreground.g,
                         style->foreground.b, style->foreground.a);
  cairo_set_line_width (cr, MAX (1.0, 0.08 * fs));
  g_autoptr (PangoLayout) text
      = attn_text_layout_new (lay->context, style, TICK_SCALE, FALSE, "");
  for (int i = 0; i < lay->n_ticks; i++)
    {
      const AttnHeatmapTick *t = &lay->ticks[i];
      cairo_move_to (cr, bar->x + bar->width, t->y);
      cairo_line_to (cr, bar->x + bar->width + tick_len, t->y);
      cairo_stroke (cr);
      pango_layout_set_text (text, t->label, -1);
      attn_text_draw (cr, text, lay->colorbar_labels.x, t->y, 0.0, 0.0, 0.5,
                      &style->foreground);
    }
  cairo_restore (cr);
}

void
attn_heatmap_render_layout (cairo_t *cr, AttnHeatmapLayout *lay,
                            const AttnSelection *sel,
                            const AttnRenderStyle *style,
                            AttnHeatmapCells cells)
{
  attn_check (cr != NULL && lay != NULL && sel != NULL && style != NULL);
  const AttnViewMatrix *m = lay->matrix;
  cairo_save (cr);
  attn_text_context_update (lay->context, cr);

  attn_view_util_fill_background (cr, style, lay->width, lay->height);

  if (use_image (cr, lay, cells))
    draw_cells_image (cr, lay, style);
  else
    draw_cells_vector (cr, lay, style);
  if (lay->show_values)
    draw_values (cr, lay, style);

  int row = find_index (m->row_token, m->n_rows, sel->selected_query);
  int col = find_index (m->col_token, m->n_cols, sel->selected_key);
  draw_highlight (cr, lay, style, row, col);
  if (lay->show_row_labels)
    draw_axis_labels (cr, lay, style, TRUE, row);
  if (lay->show_col_labels)
    draw_axis_labels (cr, lay, style, FALSE, col);
  if (lay->show_colorbar)
    draw_colorbar (cr, lay, style);

  if (lay->show_title)
    attn_view_util_draw_caption (cr, lay->context, style, TITLE_SCALE, TRUE,
                                 lay->title, &lay->title_rect,
                                 &style->foreground);
  if (lay->show_note)
    attn_view_util_draw_caption (cr, lay->context, style, NOTE_SCALE, FALSE,
                                 lay->note, &lay->note_rect, &style->muted);
  cairo_restore (cr);
}

gboolean
attn_heatmap_render_cells (cairo_t *cr, const AttnTrace *trace,
                           const AttnSelection *sel,
                           const AttnRenderStyle *style, double width,
                           double height, AttnHeatmapCells cells,
                           GError **error)
{
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, sel, style, width, height, error);
  if (lay == NULL)
    return FALSE;
  attn_heatmap_render_layout (cr, lay, sel, style, cells);
  return TRUE;
}

gboolean
attn_heatmap_render (cairo_t *cr, const AttnTrace *trace,
                     const AttnSelection *sel, const AttnRenderStyle *style,
                     double width, double height, GError **error)
{
  return attn_heatmap_render_cells (cr, trace, sel, style, width, height,
                                    ATTN_HEATMAP_CELLS_AUTO, error);
}

gboolean
attn_heatmap_hit_test (const AttnTrace *trace, const AttnSelection *sel,
                       const AttnRenderStyle *style, double width,
                       double height, double x, double y, AttnHit *hit)
{
  attn_check (hit != NULL);
  g_autoptr (AttnHeatmapLayout) lay
      = attn_heatmap_layout_new (trace, sel, style, width, height, NULL);
  if (lay == NULL)
    {
      attn_view_util_hit_clear (hit);
      return FALSE;
    }
  return attn_heatmap_layout_hit (lay, x, y, hit);
}
