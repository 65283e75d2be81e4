/* attn-head-view.h: the head view (after BertViz) — the query tokens in a
 * column on the left, the key tokens in a column on the right, a line from
 * each query to each key per head, one colour per head, its opacity the
 * weight.
 *
 * Any subset of the block's heads is shown (sel->head_subset, 0 = all;
 * sel->head is not used). With a selected query only its lines are drawn
 * and the key labels are tinted, per shown head, by how much that head
 * attends to them; a selected key does the same the other way. Hiding and
 * zooming apply as for every view; links weaker than style->threshold are
 * not drawn. A row of swatches above the columns says which colour is which
 * head (filled when shown, outlined when hidden), for the widget to toggle
 * heads with. */
#pragma once

#include <cairo.h>
#include <pango/pango.h>

#include "ui/render/attn-view-util.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

/* Colours in the palette before it repeats. */
#define ATTN_HEAD_PALETTE_SIZE 8

/* The colour of head `head` (from 0; the palette repeats after
 * ATTN_HEAD_PALETTE_SIZE heads). Qualitative palettes by Paul Tol, chosen
 * to stay apart for colour-blind readers: his "muted" set on a light
 * background, his "light" set on a dark one (decided by the style's
 * background), so thin translucent lines stay visible on either. */
AttnRgba attn_head_color (int head, const AttnRenderStyle *style);

typedef struct
{
  int head;     /* block head */
  int row, col; /* of the matrices: the query (left) and key (right) slot */
  float weight;
  double t; /* position on the style's scale: the line's opacity */
} AttnHeadViewLine;

/* Geometry in user units within (0, 0, width, height). */
typedef struct
{
  double width, height;
  AttnKind kind;
  int layer, n_heads;
  guint64 shown; /* bit h set: head h drawn (heads >= 64 are never shown
                  * through a subset) */
  int n_shown;

  /* The prepared matrix of each shown head (NULL for hidden heads); all
   * have the same rows and columns. */
  AttnViewMatrix **matrices; /* (n_heads) */
  int n_rows, n_cols;

  gboolean show_title;
  char *title;
  cairo_rectangle_t title_rect;

  /* Swatch of head h: a square in its colour. */
  gboolean show_legend;
  cairo_rectangle_t *swatches; /* (n_heads) */

  /* Left column: queries, labels right-aligned against the anchors at
   * left[i].x; right column: keys, labels left-aligned after right[i].x.
   * Labels are ellipsised to label_max_width and thinned to every
   * label_step-th row when rows are lower than a label. */
  AttnTokenSlot *left;  /* (n_rows) */
  AttnTokenSlot *right; /* (n_cols) */
  gboolean show_labels;
  double label_scale, label_max_width, label_gap;
  int left_label_step, right_label_step;

  /* Lines at or above the threshold (n_lines_total), at most the
   * ATTN_VIEW_MAX_LINKS strongest (the note says so when lines were left
   * out), weakest first: the drawing order. */
  AttnHeadViewLine *lines; /* (n_lines) */
  int n_lines, n_lines_total;
  double line_width;
  int selected_row, selected_col; /* of the matrices, or -1 */

  gboolean show_note;
  char *note;
  cairo_rectangle_t note_rect;

  /* < private > */
  PangoContext *context;
  char **left_text;  /* (n_rows) display texts */
  char **right_text; /* (n_cols) */
  gboolean *left_special;
  gboolean *right_special;
} AttnHeadViewLayout;

/* NULL with ATTN_ERROR_INVALID_ARGUMENT when sel names a block, layer or
 * range the trace lacks, or the size is not positive. */
AttnHeadViewLayout *attn_head_view_layout_new (const AttnTrace *trace,
                                               const AttnSelection *sel,
                                               const AttnRenderStyle *style,
                                               double width, double height,
                                               GError **error);
void attn_head_view_layout_free (AttnHeadViewLayout *layout);

/* What (x, y) hits: a query (left) or key (right) slot, or nothing. Token
 * indices are the trace's. */
gboolean attn_head_view_layout_hit (const AttnHeadViewLayout *layout, double x,
                                    double y, AttnHit *hit);

/* The head whose swatch is at (x, y) (for a widget to toggle it), or -1. */
int attn_head_view_layout_swatch_at (const AttnHeadViewLayout *layout, double x,
                                     double y);

/* Draws the layout; style must be the one it was made with, except for
 * colours. */
void attn_head_view_render_layout (cairo_t *cr,
                                   const AttnHeadViewLayout *layout,
                                   const AttnRenderStyle *style);

gboolean attn_head_view_render (cairo_t *cr, const AttnTrace *trace,
                                const AttnSelection *sel,
                                const AttnRenderStyle *style, double width,
                                double height, GError **error);
gboolean attn_head_view_hit_test (const AttnTrace *trace,
                                  const AttnSelection *sel,
                                  const AttnRenderStyle *style, double width,
                                  double height, double x, double y,
                                  AttnHit *hit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnHeadViewLayout, attn_head_view_layout_free)

G_END_DECLS
