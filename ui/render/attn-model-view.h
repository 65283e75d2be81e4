/* attn-model-view.h: the model view — every layer x head of one kind of
 * attention as a grid of thumbnail heatmaps, layers down, heads across,
 * with layer ("L0") and head ("H0") labels; a click on a thumbnail opens
 * that head.
 *
 * Thumbnails are images, one pixel per weight (or, when the thumbnail has
 * fewer device pixels than the matrix has weights, per block of weights,
 * showing the largest), painted scaled with nearest filtering: drawing 144
 * heads of 128 x 128 cells as rectangles takes over half a second,
 * painting 144 cached images a few milliseconds. The images live in an
 * AttnThumbnailCache that a widget keeps between redraws; a one-shot
 * render (export, CLI) builds a temporary one. In PDF and SVG the images
 * are embedded with interpolation off, so each weight stays a sharp square
 * at any zoom.
 *
 * The selection's kind, hiding and token range apply to every thumbnail;
 * its layer and head (when a head, not the mean or max) are outlined in
 * the accent colour as the one currently open. */
#pragma once

#include <cairo.h>
#include <pango/pango.h>

#include "ui/render/attn-view.h"

G_BEGIN_DECLS

/* The thumbnail images of one trace, one kind, one colouring. */
typedef struct _AttnThumbnailCache AttnThumbnailCache;

AttnThumbnailCache *attn_thumbnail_cache_new (void);
void attn_thumbnail_cache_free (AttnThumbnailCache *cache);

/* Forgets every image. The cache knows a trace by its address: call this
 * when the trace it was filled from is freed or changed in place. */
void attn_thumbnail_cache_clear (AttnThumbnailCache *cache);

/* Makes the cache hold the images of sel->kind of trace under sel's
 * hiding and range, style's colour map, direction and scale, and the
 * pooling, building them (every head of every layer) only when one of
 * those changed. An image pixel stands for a pool_rows x pool_cols block
 * of weights and has the colour of the largest (so a thin diagonal or a
 * sink column survives a thumbnail smaller than the matrix); 1 x 1 is one
 * pixel per weight. FALSE with ATTN_ERROR_INVALID_ARGUMENT when the trace
 * has no block of that kind or the range or hiding leaves nothing. */
gboolean attn_thumbnail_cache_update (
    AttnThumbnailCache *cache, const AttnTrace *trace, const AttnSelection *sel,
    const AttnRenderStyle *style, int pool_rows, int pool_cols, GError **error);

/* After an update: the CAIRO_FORMAT_RGB24 image of (layer, head),
 * ceil (n_cols / pool_cols) x ceil (n_rows / pool_rows) pixels for the
 * prepared matrix's n_rows x n_cols, owned by the cache; NULL when the
 * trace has no block of that kind in that layer. */
cairo_surface_t *attn_thumbnail_cache_get (AttnThumbnailCache *cache, int layer,
                                           int head);

/* Times the images were (re)built, for tests and benchmarks. */
guint attn_thumbnail_cache_get_n_builds (const AttnThumbnailCache *cache);

/* Geometry in user units within (0, 0, width, height). Thumbnail (r, h) —
 * grid row r shows layer layers[r] — is at
 * (grid.x + h * (cell_width + gap), grid.y + r * (cell_height + gap)). */
typedef struct
{
  double width, height;
  AttnKind kind;
  int n_rows;  /* layers that have a block of the kind */
  int *layers; /* (n_rows) their indices, ascending */
  int n_heads;
  int n_queries, n_keys; /* of each thumbnail, after hiding and zooming */
  int *row_token;        /* (n_queries) trace index of each query */
  int *col_token;        /* (n_keys) trace index of each key */

  gboolean show_title;
  char *title;
  cairo_rectangle_t title_rect;

  cairo_rectangle_t grid;
  double cell_width, cell_height, gap;

  /* Layer labels right-aligned at layer_label_right, centred on their row;
   * head labels centred over their column, ending at head_label_bottom.
   * Every label_step-th is drawn. */
  gboolean show_labels;
  double layer_label_right, head_label_bottom, label_scale;
  int layer_label_step, head_label_step;

  int selected_row, selected_head; /* outlined thumbnail, or -1 */
  double highlight_width;

  gboolean show_note;
  char *note;
  cairo_rectangle_t note_rect;

  /* < private > */
  const AttnTrace *trace; /* borrowed: keep it alive with the layout */
  AttnSelection sel;
  PangoContext *context;
} AttnModelViewLayout;

/* NULL with ATTN_ERROR_INVALID_ARGUMENT when the trace has no block of
 * sel->kind, the range or hiding leaves nothing, or the size is not
 * positive. sel's layer and head need not exist (nothing is outlined). */
AttnModelViewLayout *attn_model_view_layout_new (const AttnTrace *trace,
                                                 const AttnSelection *sel,
                                                 const AttnRenderStyle *style,
                                                 double width, double height,
                                                 GError **error);
void attn_model_view_layout_free (AttnModelViewLayout *layout);

/* The rectangle of thumbnail (grid row, head). */
void attn_model_view_layout_thumbnail (const AttnModelViewLayout *layout,
                                       int row, int head,
                                       cairo_rectangle_t *rect);

/* A thumbnail hit is ATTN_HIT_THUMBNAIL with its layer and head, and the
 * query, key (trace indices) and weight of the cell under the point. */
gboolean attn_model_view_layout_hit (const AttnModelViewLayout *layout,
                                     double x, double y, AttnHit *hit);

/* The pooling a drawing of the layout on cr uses: on a raster, as many
 * weights per image pixel as keep the image no larger than the thumbnail
 * in device pixels (1 when a weight covers a pixel or more); on PDF, SVG
 * and PostScript, every weight up to 512 a side. */
void attn_model_view_layout_pools (const AttnModelViewLayout *layout,
                                   cairo_t *cr, int *pool_rows, int *pool_cols);

/* Draws the layout with the images of cache (updated here when needed),
 * painted with nearest filtering.
 * style must be the one the layout was made with, except for colours,
 * colour map and scale. */
void attn_model_view_render_layout (cairo_t *cr,
                                    const AttnModelViewLayout *layout,
                                    AttnThumbnailCache *cache,
                                    const AttnRenderStyle *style);

/* One-shot with a widget's cache: lays out and draws. */
gboolean attn_model_view_render_cached (cairo_t *cr, AttnThumbnailCache *cache,
                                        const AttnTrace *trace,
                                        const AttnSelection *sel,
                                        const AttnRenderStyle *style,
                                        double width, double height,
                                        GError **error);
/* One-shot with a temporary cache (exports). */
gboolean attn_model_view_render (cairo_t *cr, const AttnTrace *trace,
                                 const AttnSelection *sel,
                                 const AttnRenderStyle *style, double width,
                                 double height, GError **error);
gboolean attn_model_view_hit_test (const AttnTrace *trace,
                                   const AttnSelection *sel,
                                   const AttnRenderStyle *style, double width,
                                   double height, double x, double y,
                                   AttnHit *hit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnThumbnailCache, attn_thumbnail_cache_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnModelViewLayout, attn_model_view_layout_free)

G_END_DECLS
