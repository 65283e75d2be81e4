/* attn-model-view.c: the model view, its thumbnail cache, layout and
 * hit-testing. */
#include "ui/render/attn-model-view.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-text.h"
#include "ui/render/attn-view-util.h"

#define TITLE_SCALE 1.15
#define LABEL_SCALE 0.85
#define NOTE_SCALE 0.85

/* Thumbnails keep the matrix's shape within these width:height ratios, so
 * a long source against a short target stays readable. */
#define MIN_ASPECT 0.5
#define MAX_ASPECT 2.0

/* Largest thumbnail image side embedded in a PDF, SVG or PostScript. */
#define VECTOR_MAX_PIXELS 512.0

/* What the images depend on. */
typedef struct
{
  const AttnTrace *trace;
  AttnKind kind;
  AttnColormap colormap;
  gboolean reversed;
  AttnScale scale;
  gboolean hide_special, hide_sink;
  int range_start, range_end;
  int pool_rows, pool_cols;
} CacheKey;

struct _AttnThumbnailCache
{
  gboolean valid;
  CacheKey key;
  int n_layers, n_heads;
  cairo_surface_t **images; /* (n_layers * n_heads), NULL for missing layers */
  guint n_builds;
};

AttnThumbnailCache *
attn_thumbnail_cache_new (void)
{
  return g_new0 (AttnThumbnailCache, 1);
}

void
attn_thumbnail_cache_clear (AttnThumbnailCache *cache)
{
  attn_check (cache != NULL);
  if (cache->images != NULL)
    for (int i = 0; i < cache->n_layers * cache->n_heads; i++)
      g_clear_pointer (&cache->images[i], cairo_surface_destroy);
  g_clear_pointer (&cache->images, g_free);
  cache->n_layers = cache->n_heads = 0;
  cache->valid = FALSE;
}

void
attn_thumbnail_cache_free (AttnThumbnailCache *cache)
{
  if (cache == NULL)
    return;
  attn_thumbnail_cache_clear (cache);
  g_free (cache);
}

static CacheKey
key_of (const AttnTrace *trace, const AttnSelection *sel,
        const AttnRenderStyle *style, int pool_rows, int pool_cols)
{
  CacheKey k;
  /* Zeroed first so padding compares equal under memcmp. */
  memset (&k, 0, sizeof k);
  k.trace = trace;
  k.kind = sel->kind;
  k.colormap = style->colormap;
  k.reversed = style->reversed;
  k.scale = style->scale;
  k.hide_special = sel->hide_special;
  k.hide_sink = sel->hide_sink;
  k.range_start = sel->range_start;
  k.range_end = sel->range_end;
  k.pool_rows = pool_rows;
  k.pool_cols = pool_cols;
  return k;
}

/* m as an RGB24 image, one pixel per pool_rows x pool_cols block of
 * weights (the last ones partial), coloured by the block's largest weight:
 * a peak or a one-cell diagonal stays visible in a small thumbnail. The
 * scale maps weights monotonically, so this is also the largest colour
 * position. */
static cairo_surface_t *
matrix_image (const AttnViewMatrix *m, const AttnRenderStyle *style,
              int pool_rows, int pool_cols)
{
  int w = (m->n_cols + pool_cols - 1) / pool_cols;
  int h = (m->n_rows + pool_rows - 1) / pool_rows;
  cairo_surface_t *img = cairo_image_surface_create (CAIRO_FORMAT_RGB24, w, h);
  cairo_surface_flush (img);
  guint8 *data = cairo_image_surface_get_data (img);
  int stride = cairo_image_surface_get_stride (img);
  g_autofree float *pooled = g_new (float, w); /* (w) */
  for (int y = 0; y < h; y++)
    {
      guint32 *px = (guint32 *)(data + (gsize)y * stride); /* (w) */
      if (pool_rows == 1 && pool_cols == 1)
        memcpy (pooled, m->w + (gsize)y * m->n_cols, w * sizeof (float));
      else
        {
          for (int x = 0; x < w; x++)
            pooled[x] = 0.0f;
          int r1 = MIN ((y + 1) * pool_rows, m->n_rows);
          for (int r = y * pool_rows; r < r1; r++)
            {
              const float *row = m->w + (gsize)r * m->n_cols; /* (n_cols) */
              for (int c = 0; c < m->n_cols; c++)
                pooled[c / pool_cols] = MAX (pooled[c / pool_cols], row[c]);
            }
        }
      for (int x = 0; x < w; x++)
        px[x] = attn_colormap_get_argb32 (
            style->colormap, attn_render_style_map (style, pooled[x], m->max),
            style->reversed);
    }
  cairo_surface_mark_dirty (img);
  return img;
}

/* The first layer with a block of kind, or -1. */
static int
first_layer (const AttnTrace *trace, AttnKind kind)
{
  for (int l = 0; l < trace->n_layers; l++)
    if (attn_trace_lookup_block (trace, kind, l) != NULL)
      return l;
  return -1;
}

/* A one-head matrix of the first layer: checks sel's kind, range and
 * hiding against the trace with the shared messages, and gives the shape
 * every thumbnail has. */
static AttnViewMatrix *
probe_matrix (const AttnTrace *trace, const AttnSelection *sel, GError **error)
{
  AttnSelection probe = *sel;
  int l = first_layer (trace, sel->kind);
  /* With no block of the kind, layer 0 gets attn_view_matrix_new's
   * message naming the kinds the trace has. */
  probe.layer = l >= 0 ? l : 0;
  probe.head = 0;
  return attn_view_matrix_new (trace, &probe, error);
}

gboolean
attn_thumbnail_cache_update (AttnThumbnailCache *cache, const AttnTrace *trace,
                             const AttnSelection *sel,
                             const AttnRenderStyle *style, int pool_rows,
                             int pool_cols, GError **error)
{
  attn_check (cache != NULL && trace != NULL && sel != NULL && style != NULL);
  attn_check (pool_rows >= 1 && pool_cols >= 1);
  CacheKey key = key_of (trace, sel, style, pool_rows, pool_cols);
  if (cache->valid && memcmp (&key, &cache->key, sizeof key) == 0)
    return TRUE;

  g_autoptr (AttnViewMatrix) probe = probe_matrix (trace, sel, error);
  if (probe == NULL)
    return FALSE;

  attn_thumbnail_cache_clear (cache);
  cache->n_layers = trace->n_layers;
  cache->n_heads = trace->n_heads;
  cache->images
      = g_new0 (cairo_surface_t *, (gsize)cache->n_layers * cache->n_heads);
  AttnSelection one = *sel;
  for (int l = 0; l < trace->n_layers; l++)
    {
      const AttnBlock *block = attn_trace_lookup_block (trace, sel->kind, l);
      if (block == NULL)
        continue;
      attn_check (block->n_heads == cache->n_heads);
      one.layer = l;
      for (int h = 0; h < block->n_heads; h++)
        {
          one.head = h;
          g_autoptr (AttnViewMatrix) m
              = attn_view_matrix_new (trace, &one, NULL);
          attn_check (m != NULL);
          cache->images[l * cache->n_heads + h]
              = matrix_image (m, style, pool_rows, pool_cols);
        }
    }
  cache->key = key;
  cache->valid = TRUE;
  cache->n_builds++;
  return TRUE;
}

cairo_surface_t *
attn_thumbnail_cache_get (AttnThumbnailCache *cache, int layer, int head)
{
  attn_check (cache != NULL && cache->valid);
  attn_check (layer >= 0 && layer < cache->n_layers && head >= 0
              && head < cache->n_heads);
  return cache->images[layer * cache->n_heads + head];
}

guint
attn_thumbnail_cache_get_n_builds (const AttnThumbnailCache *cache)
{
  attn_check (cache != NULL);
  return cache->n_builds;
}

static const char *
kind_title (AttnKind kind)
{
  switch (kind)
    {
    case ATTN_KIND_ENCODER_SELF:
      return _ ("Encoder self-attention");
    case ATTN_KIND_DECODER_SELF:
      return _ ("Decoder self-attention");
    case ATTN_KIND_CROSS:
    default:
      return _ ("Cross-attention");
    }
}

AttnModelViewLayout *
attn_model_view_layout_new (const AttnTrace *trace, const AttnSelection *sel,
                            const AttnRenderStyle *style, double width,
                            double height, GError **error)
{
  attn_check (trace != NULL && sel != NULL && style != NULL);
  if (!attn_view_util_check_size ("model", width, height, error))
    return NULL;
  g_autoptr (AttnViewMatrix) probe = probe_matrix (trace, sel, error);
  if (probe == NULL)
    return NULL;

  g_autoptr (AttnModelViewLayout) lay = g_new0 (AttnModelViewLayout, 1);
  lay->width = width;
  lay->height = height;
  lay->kind = sel->kind;
  lay->trace = trace;
  lay->sel = *sel;
  lay->n_heads = trace->n_heads;
  lay->n_queries = probe->n_rows;
  lay->n_keys = probe->n_cols;
  lay->row_token = g_memdup2 (probe->row_token, sizeof (int) * probe->n_rows);
  lay->col_token = g_memdup2 (probe->col_token, sizeof (int) * probe->n_cols);
  lay->layers = g_new (int, trace->n_layers);
  for (int l = 0; l < trace->n_layers; l++)
    if (attn_trace_lookup_block (trace, sel->kind, l) != NULL)
      lay->layers[lay->n_rows++] = l;
  lay->context = attn_text_context_new ();
  lay->label_scale = LABEL_SCALE;
  g_autofree char *layers = g_strdup_printf (
      g_dngettext (GETTEXT_PACKAGE, "%d layer", "%d layers", lay->n_rows),
      lay->n_rows);
  g_autofree char *heads = g_strdup_printf (
      g_dngettext (GETTEXT_PACKAGE, "%d head", "%d heads", lay->n_heads),
      lay->n_heads);
  lay->title
      = g_strdup_printf ("%s · %s × %s", kind_title (sel->kind), layers, heads);
  lay->note = attn_view_util_note (sel, probe->renormalised);

  PangoContext *ctx = lay->context;
  double fs = style->font_size > 0.0 ? style->font_size : 12.0;
  double title_h, note_h = 0.0, lh;
  attn_view_util_text_size (ctx, style, TITLE_SCALE, TRUE, lay->title, NULL,
                            &title_h);
  if (lay->note != NULL)
    attn_view_util_text_size (ctx, style, NOTE_SCALE, FALSE, lay->note, NULL,
                              &note_h);
  attn_view_util_text_size (ctx, style, LABEL_SCALE, FALSE, "Ag", NULL, &lh);

  double pad = MIN (0.6 * fs, 0.04 * MIN (width, height));
  double x0 = pad, y0 = pad, x1 = width - pad, y1 = height - pad;
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

  /* Labels: the widest layer label ("L11") sets the left margin, one line
   * of head labels the top margin. */
  g_autofree char *widest_layer
      = g_strdup_printf ("L%d", lay->layers[lay->n_rows - 1]);
  g_autofree char *widest_head = g_strdup_printf ("H%d", lay->n_heads - 1);
  double layer_w, head_w;
  attn_view_util_text_size (ctx, style, LABEL_SCALE, FALSE, widest_layer,
                            &layer_w, NULL);
  attn_view_util_text_size (ctx, style, LABEL_SCALE, FALSE, widest_head,
                            &head_w, NULL);
  double label_gap = 0.4 * fs;
  lay->show_labels = x1 - x0 >= 4.0 * (layer_w + label_gap)
                     && y1 - y0 >= 4.0 * (lh + label_gap);
  if (lay->show_labels)
    {
      x0 += layer_w + label_gap;
      y0 += lh + label_gap;
    }

  /* Cells: as large as fit, keeping the (clamped) shape of the matrix. */
  int nh = lay->n_heads, nl = lay->n_rows;
  double box_w = (x1 - x0) / nh, box_h = (y1 - y0) / nl;
  lay->gap = CLAMP (0.08 * MIN (box_w, box_h), 1.0, 0.5 * fs);
  if (MIN (box_w, box_h) < 3.0 * lay->gap)
    lay->gap = 0.0;
  double cw = (x1 - x0 - (nh - 1) * lay->gap) / nh;
  double ch = (y1 - y0 - (nl - 1) * lay->gap) / nl;
  double aspect
      = CLAMP ((double)lay->n_keys / lay->n_queries, MIN_ASPECT, MAX_ASPECT);
  lay->cell_width = MAX (MIN (cw, ch * aspect), 0.0);
  lay->cell_height = lay->cell_width / aspect;
  double gw = nh * lay->cell_width + (nh - 1) * lay->gap;
  double gh = nl * lay->cell_height + (nl - 1) * lay->gap;
  /* Centred across, under the labels; the labels follow the grid. */
  double gx = x0 + 0.5 * (x1 - x0 - gw), gy = y0;
  attn_view_util_rect_set (&lay->grid, gx, gy, gw, gh);
  lay->layer_label_right = gx - label_gap;
  lay->head_label_bottom = gy - label_gap;
  lay->layer_label_step
      = attn_text_label_step (lay->cell_height + lay->gap, lh, 0.1 * lh);
  lay->head_label_step = attn_text_label_step (lay->cell_width + lay->gap,
                                               head_w, 0.5 * label_gap);
  lay->highlight_width = MAX (0.2 * fs, 1.5);

  lay->selected_row = lay->selected_head = -1;
  if (sel->head >= 0 && sel->head < nh)
    for (int r = 0; r < nl; r++)
      if (lay->layers[r] == sel->layer)
        {
          lay->selected_row = r;
          lay->selected_head = sel->head;
        }
  return g_steal_pointer (&lay);
}

void
attn_model_view_layout_free (AttnModelViewLayout *lay)
{
  if (lay == NULL)
    return;
  g_free (lay->layers);
  g_free (lay->row_token);
  g_free (lay->col_token);
  g_free (lay->title);
  g_free (lay->note);
  g_clear_object (&lay->context);
  g_free (lay);
}

void
attn_model_view_layout_thumbnail (const AttnModelViewLayout *lay, int row,
                                  int head, cairo_rectangle_t *rect)
{
  attn_check (lay != NULL && rect != NULL);
  attn_check (row >= 0 && row < lay->n_rows && head >= 0
              && head < lay->n_heads);
  attn_view_util_rect_set (rect,
                           lay->grid.x + head * (lay->cell_width + lay->gap),
                           lay->grid.y + row * (lay->cell_height + lay->gap),
                           lay->cell_width, lay->cell_height);
}

gboolean
attn_model_view_layout_hit (const AttnModelViewLayout *lay, double x, double y,
                            AttnHit *hit)
{
  attn_check (lay != NULL && hit != NULL);
  attn_view_util_hit_clear (hit);
  if (!attn_view_util_rect_contains (&lay->grid, x, y))
    return FALSE;
  double pw = lay->cell_width + lay->gap, ph = lay->cell_height + lay->gap;
  int head = (int)floor ((x - lay->grid.x) / pw);
  int row = (int)floor ((y - lay->grid.y) / ph);
  if (head < 0 || head >= lay->n_heads || row < 0 || row >= lay->n_rows)
    return FALSE;
  double fx = (x - lay->grid.x - head * pw) / lay->cell_width;
  double fy = (y - lay->grid.y - row * ph) / lay->cell_height;
  /* In the gap between thumbnails. */
  if (fx >= 1.0 || fy >= 1.0)
    return FALSE;
  int c = MIN ((int)(fx * lay->n_keys), lay->n_keys - 1);
  int r = MIN ((int)(fy * lay->n_queries), lay->n_queries - 1);

  hit->kind = ATTN_HIT_THUMBNAIL;
  hit->layer = lay->layers[row];
  hit->head = head;
  hit->query = lay->row_token[r];
  hit->key = lay->col_token[c];
  AttnSelection one = lay->sel;
  one.layer = hit->layer;
  one.head = head;
  g_autoptr (AttnViewMatrix) m = attn_view_matrix_new (lay->trace, &one, NULL);
  if (m != NULL)
    hit->weight = m->w[(gsize)r * m->n_cols + c];
  return TRUE;
}

void
attn_model_view_layout_pools (const AttnModelViewLayout *lay, cairo_t *cr,
                              int *pool_rows, int *pool_cols)
{
  attn_check (lay != NULL && cr != NULL && pool_rows != NULL
              && pool_cols != NULL);
  /* Raster targets: no more image pixels than device pixels. Vector
   * targets get every weight (the viewer zooms), up to
   * VECTOR_MAX_PIXELS a side so a long trace's PDF stays a sane size. */
  cairo_surface_type_t target = cairo_surface_get_type (cairo_get_target (cr));
  gboolean vector = target == CAIRO_SURFACE_TYPE_PDF
                    || target == CAIRO_SURFACE_TYPE_SVG
                    || target == CAIRO_SURFACE_TYPE_PS
                    || target == CAIRO_SURFACE_TYPE_RECORDING;
  double dw = VECTOR_MAX_PIXELS, dh = VECTOR_MAX_PIXELS;
  if (!vector)
    {
      /* The thumbnail's sides in device pixels, under any transformation. */
      double wx = lay->cell_width, wy = 0.0, hx = 0.0, hy = lay->cell_height;
      cairo_user_to_device_distance (cr, &wx, &wy);
      cairo_user_to_device_distance (cr, &hx, &hy);
      dw = hypot (wx, wy);
      dh = hypot (hx, hy);
    }
  *pool_cols = MAX (1, (int)ceil (lay->n_keys / MAX (floor (dw), 1.0)));
  *pool_rows = MAX (1, (int)ceil (lay->n_queries / MAX (floor (dh), 1.0)));
}

void
attn_model_view_render_layout (cairo_t *cr, const AttnModelViewLayout *lay,
                               AttnThumbnailCache *cache,
                               const AttnRenderStyle *style)
{
  attn_check (cr != NULL && lay != NULL && cache != NULL && style != NULL);
  cairo_save (cr);
  attn_text_context_update (lay->context, cr);
  attn_view_util_fill_background (cr, style, lay->width, lay->height);

  int pool_rows, pool_cols;
  attn_model_view_layout_pools (lay, cr, &pool_rows, &pool_cols);
  /* The layout already checked this selection against this trace. */
  gboolean ok = attn_thumbnail_cache_update (cache, lay->trace, &lay->sel,
                                             style, pool_rows, pool_cols, NULL);
  attn_check (ok);

  for (int r = 0; r < lay->n_rows; r++)
    for (int h = 0; h < lay->n_heads; h++)
      {
        cairo_surface_t *img
            = attn_thumbnail_cache_get (cache, lay->layers[r], h);
        cairo_rectangle_t rect;
        attn_model_view_layout_thumbnail (lay, r, h, &rect);
        cairo_save (cr);
        cairo_translate (cr, rect.x, rect.y);
        /* A partial last pool spans less than a whole image pixel. */
        cairo_scale (cr, rect.width * pool_cols / lay->n_keys,
                     rect.height * pool_rows / lay->n_queries);
        cairo_set_source_surface (cr, img, 0.0, 0.0);
        cairo_pattern_set_filter (cairo_get_source (cr), CAIRO_FILTER_NEAREST);
        cairo_rectangle (cr, 0.0, 0.0, (double)lay->n_keys / pool_cols,
                         (double)lay->n_queries / pool_rows);
        cairo_fill (cr);
        cairo_restore (cr);
      }

  if (lay->selected_row >= 0)
    {
      cairo_rectangle_t rect;
      attn_model_view_layout_thumbnail (lay, lay->selected_row,
                                        lay->selected_head, &rect);
      /* Just outside the thumbnail, over the gap: no weight is covered. */
      double hw = lay->highlight_width;
      cairo_rectangle (cr, rect.x - 0.5 * hw, rect.y - 0.5 * hw,
                       rect.width + hw, rect.height + hw);
      cairo_set_line_width (cr, hw);
      cairo_set_source_rgba (cr, style->accent.r, style->accent.g,
                             style->accent.b, style->accent.a);
      cairo_stroke (cr);
    }

  if (lay->show_labels)
    {
      g_autoptr (PangoLayout) label = attn_text_layout_new (
          lay->context, style, lay->label_scale, FALSE, "");
      for (int r = 0; r < lay->n_rows; r += lay->layer_label_step)
        {
          g_autofree char *text = g_strdup_printf ("L%d", lay->layers[r]);
          pango_layout_set_text (label, text, -1);
          attn_text_draw (cr, label, lay->layer_label_right,
                          lay->grid.y + r * (lay->cell_height + lay->gap)
                              + 0.5 * lay->cell_height,
                          0.0, 1.0, 0.5, &style->foreground);
        }
      for (int h = 0; h < lay->n_heads; h += lay->head_label_step)
        {
          g_autofree char *text = g_strdup_printf ("H%d", h);
          pango_layout_set_text (label, text, -1);
          attn_text_draw (cr, label,
                          lay->grid.x + h * (lay->cell_width + lay->gap)
                              + 0.5 * lay->cell_width,
                          lay->head_label_bottom, 0.0, 0.5, 1.0,
                          &style->foreground);
        }
    }

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
attn_model_view_render_cached (cairo_t *cr, AttnThumbnailCache *cache,
                               const AttnTrace *trace, const AttnSelection *sel,
                               const AttnRenderStyle *style, double width,
                               double height, GError **error)
{
  g_autoptr (AttnModelViewLayout) lay
      = attn_model_view_layout_new (trace, sel, style, width, height, error);
  if (lay == NULL)
    return FALSE;
  attn_model_view_render_layout (cr, lay, cache, style);
  return TRUE;
}

gboolean
attn_model_view_render (cairo_t *cr, const AttnTrace *trace,
                        const AttnSelection *sel, const AttnRenderStyle *style,
                        double width, double height, GError **error)
{
  g_autoptr (AttnThumbnailCache) cache = attn_thumbnail_cache_new ();
  return attn_model_view_render_cached (cr, cache, trace, sel, style, width,
                                        height, error);
}

gboolean
attn_model_view_hit_test (const AttnTrace *trace, const AttnSelection *sel,
                          const AttnRenderStyle *style, double width,
                          double height, double x, double y, AttnHit *hit)
{
  attn_check (hit != NULL);
  g_autoptr (AttnModelViewLayout) lay
      = attn_model_view_layout_new (trace, sel, style, width, height, NULL);
  if (lay == NULL)
    {
      attn_view_util_hit_clear (hit);
      return FALSE;
    }
  return attn_model_view_layout_hit (lay, x, y, hit);
}
