/* attn-alignment.h: the alignment diagram — key tokens in a row above,
 * query tokens in a row below, a band from each key to each query whose
 * opacity and width grow with the weight.
 *
 * For cross-attention the top row is the source (keys) and the bottom row
 * the target (queries), so a translation reads as source above, output
 * below; for self-attention both rows are the same sequence. One head, or
 * the mean or max over heads (sel->head), after hiding and zooming as the
 * selection says. Links weaker than style->threshold are not drawn; with a
 * selected query (or key) only that token's links are. A band is a filled
 * Bézier quad: its ends span part of its tokens' slots, its two long sides
 * are cubic curves leaving and arriving vertically.
 *
 * Bands of one head take that head's colour (attn_head_color), bands of a
 * mean or max the style's foreground; the opacity is the weight's position
 * on the style's scale (the weight itself on the default fixed scale). */
#pragma once

#include <cairo.h>
#include <pango/pango.h>

#include "ui/render/attn-view-util.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

typedef struct
{
  int row, col; /* of the layout's matrix: the query and the key slot */
  float weight;
  double t; /* position on the style's scale: the band's opacity */
} AttnAlignmentLink;

/* Geometry in user units within (0, 0, width, height). */
typedef struct
{
  double width, height;
  AttnViewMatrix *matrix; /* owned: rows = queries (bottom), columns = keys
                           * (top) */
  AttnKind kind;
  int layer, head, n_heads;

  gboolean show_title;
  char *title;
  cairo_rectangle_t title_rect;

  /* Top row: one slot per matrix column, anchors on the row's lower edge
   * (band_top). Bottom row: one slot per matrix row, anchors on its upper
   * edge (band_bottom). Labels are centred on their slot, turned to read
   * bottom to top when they do not fit across it, ellipsised to
   * label_max_width, and thinned (label_step) when even that overlaps. */
  AttnTokenSlot *top;    /* (n_cols) */
  AttnTokenSlot *bottom; /* (n_rows) */
  gboolean show_labels;
  gboolean labels_rotated;
  double label_scale, label_max_width;
  int top_label_step, bottom_label_step;
  double top_pitch, bottom_pitch; /* slot widths */
  double band_top, band_bottom;

  /* The links drawn, weakest first (the drawing order, so the strongest
   * lie on top): those at or above the threshold (n_links_total of them),
   * at most the ATTN_VIEW_MAX_LINKS strongest (the note says so when
   * links were left out). */
  AttnAlignmentLink *links; /* (n_links) */
  int n_links, n_links_total;
  int selected_row, selected_col; /* of the matrix, or -1 */

  gboolean show_note;
  char *note;
  cairo_rectangle_t note_rect;

  /* < private > */
  PangoContext *context;
  char **top_text;          /* (n_cols) display texts */
  char **bottom_text;       /* (n_rows) */
  gboolean *top_special;    /* (n_cols) drawn muted */
  gboolean *bottom_special; /* (n_rows) */
} AttnAlignmentLayout;

/* NULL with ATTN_ERROR_INVALID_ARGUMENT when sel names a block, layer, head
 * or range the trace lacks, or the size is not positive. */
AttnAlignmentLayout *attn_alignment_layout_new (const AttnTrace *trace,
                                                const AttnSelection *sel,
                                                const AttnRenderStyle *style,
                                                double width, double height,
                                                GError **error);
void attn_alignment_layout_free (AttnAlignmentLayout *layout);

/* Appends the outline of link's band to cr's path. */
void attn_alignment_link_path (cairo_t *cr, const AttnAlignmentLayout *layout,
                               const AttnAlignmentLink *link);

/* The centre of link's band: halfway between its ends, where its two
 * curves are at their midpoints. */
void attn_alignment_link_midpoint (const AttnAlignmentLayout *layout,
                                   const AttnAlignmentLink *link, double *x,
                                   double *y);

/* What (x, y) hits: a key (top row) or query (bottom row) slot, the
 * strongest band under the point (ATTN_HIT_CELL with query, key and
 * weight), or nothing. Indices are trace token indices. */
gboolean attn_alignment_layout_hit (const AttnAlignmentLayout *layout, double x,
                                    double y, AttnHit *hit);

/* Draws the layout; style must be the one it was made with, except for
 * colours. */
void attn_alignment_render_layout (cairo_t *cr,
                                   const AttnAlignmentLayout *layout,
                                   const AttnRenderStyle *style);

/* One-shot: lays out and draws within (0, 0, width, height). */
gboolean attn_alignment_render (cairo_t *cr, const AttnTrace *trace,
                                const AttnSelection *sel,
                                const AttnRenderStyle *style, double width,
                                double height, GError **error);
/* One-shot hit test; FALSE (kind NONE) also when sel does not fit. */
gboolean attn_alignment_hit_test (const AttnTrace *trace,
                                  const AttnSelection *sel,
                                  const AttnRenderStyle *style, double width,
                                  double height, double x, double y,
                                  AttnHit *hit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnAlignmentLayout, attn_alignment_layout_free)

G_END_DECLS
