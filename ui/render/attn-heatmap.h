/* attn-heatmap.h: the heatmap view — one head (or the mean or max over
 * heads) of a block, queries as rows, keys as columns.
 *
 * attn_heatmap_layout_new computes everything but pixels: the prepared
 * matrix, the cell grid, where the token labels go (and how many of them
 * fit), the colour bar and its ticks, the title and the note. The renderer
 * and the hit-test both read it, so what is drawn is what is hit. A layout
 * also caches the matrix as a one-pixel-per-cell image: a widget keeps its
 * layout and redraws from it (hover, selection) without rebuilding.
 *
 * Cells are drawn either as one rectangle each (crisp at any zoom, what
 * SVG and PDF get) or by painting the cached image scaled with nearest
 * filtering (1,024 x 1,024 in a few milliseconds). */
#pragma once

#include <cairo.h>
#include <pango/pango.h>

#include "ui/render/attn-view.h"

G_BEGIN_DECLS

typedef enum
{
  /* Vectors on PDF, SVG and PostScript targets and for cells of at least
   * ATTN_HEATMAP_IMAGE_BELOW device pixels (when there are not more than
   * ATTN_HEATMAP_VECTOR_MAX_CELLS of them); the cached image otherwise. */
  ATTN_HEATMAP_CELLS_AUTO,
  ATTN_HEATMAP_CELLS_VECTOR, /* one rectangle per cell (runs of one colour
                              * merged): what exports ask for */
  ATTN_HEATMAP_CELLS_IMAGE,  /* the cached image, scaled, nearest filter */
} AttnHeatmapCells;

#define ATTN_HEATMAP_IMAGE_BELOW 4.0
#define ATTN_HEATMAP_VECTOR_MAX_CELLS 65536
#define ATTN_HEATMAP_MAX_TICKS 12

typedef struct
{
  double value; /* the weight the tick marks */
  double y;     /* its height on the colour bar, user units */
  char *label;  /* as drawn, e.g. "0.25" or "1e-3" */
} AttnHeatmapTick;

/* Geometry in user units, inside (0, 0, width, height). A part that does not
 * fit (at tiny sizes: title, note, labels, colour bar, in that order) has
 * its show_ flag FALSE and an empty rectangle. */
typedef struct
{
  double width, height;
  AttnViewMatrix *matrix; /* owned: the weights drawn */
  AttnKind kind;
  int layer, head, n_heads;

  gboolean show_title;
  char *title;
  cairo_rectangle_t title_rect;

  /* Cell (row r, column c) is at grid.x + c * cell_width,
   * grid.y + r * cell_height. */
  cairo_rectangle_t grid;
  double cell_width, cell_height;

  /* Query labels, right-aligned at row_label_right, centred on their row;
   * drawn for rows 0, row_label_step, 2 * row_label_step, ... (and the
   * selected one), each ellipsised to row_label_max_width. */
  gboolean show_row_labels;
  cairo_rectangle_t row_labels;
  double row_label_right, row_label_max_width;
  int row_label_step;

  /* Key labels above the grid, ending at col_label_bottom, centred on their
   * column; turned to read bottom to top when they do not fit across a
   * column. */
  gboolean show_col_labels;
  cairo_rectangle_t col_labels;
  double col_label_bottom, col_label_max_width;
  int col_label_step;
  gboolean col_labels_rotated;

  double label_scale; /* label size relative to style->font_size */
  double label_height;

  /* The bar runs from scale value colorbar_lo at its bottom to colorbar_hi
   * at its top; colorbar_labels holds the tick labels, left-aligned. */
  gboolean show_colorbar;
  cairo_rectangle_t colorbar;
  cairo_rectangle_t colorbar_labels;
  double colorbar_lo, colorbar_hi;
  AttnHeatmapTick ticks[ATTN_HEATMAP_MAX_TICKS];
  int n_ticks;

  /* "Rows renormalised after hiding ...", "Tokens 100–199 of 1024". */
  gboolean show_note;
  char *note;
  cairo_rectangle_t note_rect;

  /* A selected row or column is outlined just outside its cells by a line
   * this wide, in the accent colour. */
  double highlight_width;

  /* The weight is printed in each cell (style->show_values and room). */
  gboolean show_values;
  double value_scale;

  /* < private > */
  PangoContext *context;
  char **row_text; /* (n_rows) display text of each query token */
  char **col_text; /* (n_cols) */
  double row_text_width, col_text_width; /* widest labels, bold */
  cairo_surface_t *image; /* (n_rows, n_cols) RGB24, made on first use */
  AttnColormap image_colormap;
  gboolean image_reversed;
  AttnScale image_scale;
} AttnHeatmapLayout;

/* NULL with ATTN_ERROR_INVALID_ARGUMENT (naming the valid range) when sel
 * names a block, layer, head or token range the trace lacks, or when width
 * or height is not a positive finite number. */
AttnHeatmapLayout *attn_heatmap_layout_new (const AttnTrace *trace,
                                            const AttnSelection *sel,
                                            const AttnRenderStyle *style,
                                            double width, double height,
                                            GError **error);
void attn_heatmap_layout_free (AttnHeatmapLayout *layout);

/* Lays the same matrix out for a new size, keeping what does not depend on
 * it (the matrix, measured labels, the cached image): what a widget calls
 * when it is resized. FALSE (layout unchanged) with
 * ATTN_ERROR_INVALID_ARGUMENT for a size that is not positive. */
gboolean attn_heatmap_layout_set_size (AttnHeatmapLayout *layout,
                                       const AttnRenderStyle *style,
                                       double width, double height,
                                       GError **error);

/* The rectangle of cell (row, col) of the layout's matrix. */
void attn_heatmap_layout_cell (const AttnHeatmapLayout *layout, int row,
                               int col, cairo_rectangle_t *rect);

/* What (x, y) hits: a cell (query, key and weight), a query label, a key
 * label, or nothing. layer and head are the layout's. TRUE unless nothing. */
gboolean attn_heatmap_layout_hit (const AttnHeatmapLayout *layout, double x,
                                  double y, AttnHit *hit);

/* The matrix as an RGB24 image of n_cols x n_rows pixels, one per cell,
 * coloured under style (remade when the colour map, its direction or the
 * scale changed since the last call). Owned by the layout. */
cairo_surface_t *attn_heatmap_layout_get_image (AttnHeatmapLayout *layout,
                                                const AttnRenderStyle *style);

/* Draws the layout. sel supplies only the highlighted query and key (trace
 * indices; either -1 for none), so a hover redraws without a new layout;
 * style must be the one the layout was made with, except for colours,
 * colour map and scale, which may change between draws. */
void attn_heatmap_render_layout (cairo_t *cr, AttnHeatmapLayout *layout,
                                 const AttnSelection *sel,
                                 const AttnRenderStyle *style,
                                 AttnHeatmapCells cells);

/* One-shot: lays out and draws within (0, 0, width, height). */
gboolean attn_heatmap_render (cairo_t *cr, const AttnTrace *trace,
                              const AttnSelection *sel,
                              const AttnRenderStyle *style, double width,
                              double height, GError **error);
/* The same with the cell drawing chosen (exports force vectors). */
gboolean attn_heatmap_render_cells (cairo_t *cr, const AttnTrace *trace,
                                    const AttnSelection *sel,
                                    const AttnRenderStyle *style, double width,
                                    double height, AttnHeatmapCells cells,
                                    GError **error);
/* One-shot hit test through a fresh layout; FALSE (hit kind NONE) also when
 * the selection does not fit the trace. */
gboolean attn_heatmap_hit_test (const AttnTrace *trace,
                                const AttnSelection *sel,
                                const AttnRenderStyle *style, double width,
                                double height, double x, double y,
                                AttnHit *hit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnHeatmapLayout, attn_heatmap_layout_free)

G_END_DECLS
