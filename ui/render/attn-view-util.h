/* attn-view-util.h: small pieces the heatmap, alignment, head, model and
 * step views share: the token slot their layouts expose, and plumbing
 * (measuring a string, the note that says tokens are hidden, a cleared hit,
 * the size check every layout starts with, drawing a title). The head
 * palette is in attn-head-view.h. */
#pragma once

#include <cairo.h>
#include <pango/pango.h>

#include "ui/render/attn-view.h"

G_BEGIN_DECLS

/* One token of a row or column of labels, as a layout places it. */
typedef struct
{
  int token;             /* index into its side's trace tokens */
  cairo_rectangle_t box; /* the token's share of the row or column: where
                          * it is hit, and where its label is centred */
  double x, y;           /* anchor: where links to the token attach */
  gboolean show_label;   /* FALSE for labels thinned out for lack of room */
} AttnTokenSlot;

/* Logical size of text in the style's font at `scale` (either out may be
 * NULL). */
void attn_view_util_text_size (PangoContext *ctx, const AttnRenderStyle *style,
                               double scale, gboolean bold, const char *text,
                               double *width, double *height);

/* Widest of n texts at `scale`. */
double attn_view_util_widest (PangoContext *ctx, const AttnRenderStyle *style,
                              double scale, gboolean bold, char *const *texts,
                              int n);

/* Display texts (attn_token_display_text, NULL-terminated; g_strfreev) of
 * n tokens of a side, given by trace index; their special flags in
 * *special (g_free) when special is not NULL. */
char **attn_view_util_token_texts (const AttnTrace *trace, AttnSide side,
                                   const int *tokens, int n,
                                   gboolean **special);

/* "Tokens 3–9 · special tokens hidden, rows renormalised", or NULL when the
 * selection neither zooms nor hides. */
char *attn_view_util_note (const AttnSelection *sel, gboolean renormalised);

/* The alignment and head views draw at most this many links, the
 * strongest: a link costs tens of microseconds to rasterise, and ten
 * thousand overlapping translucent lines are a grey blur anyway. */
#define ATTN_VIEW_MAX_LINKS 2000

/* note (owned, may be NULL) with "strongest 2000 of 8256 links drawn"
 * joined on when shown < total. */
char *attn_view_util_note_links (char *note, int shown, int total);

/* FALSE with ATTN_ERROR_INVALID_ARGUMENT naming the view when width or
 * height is not a positive finite number. */
gboolean attn_view_util_check_size (const char *view, double width,
                                    double height, GError **error);

/* A hit on nothing: kind NONE, every index -1, weight 0. */
void attn_view_util_hit_clear (AttnHit *hit);

void attn_view_util_rect_set (cairo_rectangle_t *r, double x, double y,
                              double width, double height);
gboolean attn_view_util_rect_contains (const cairo_rectangle_t *r, double x,
                                       double y);

/* Fills (0, 0, width, height) with the style's background. */
void attn_view_util_fill_background (cairo_t *cr, const AttnRenderStyle *style,
                                     double width, double height);

/* Black or white, whichever reads better on the sRGB colour (r, g, b). */
AttnRgba attn_view_util_text_on (double r, double g, double b);

/* text in the style's font at `scale`, ellipsised to the width of r and
 * drawn from r's top left corner: a view's title or note. */
void attn_view_util_draw_caption (cairo_t *cr, PangoContext *ctx,
                                  const AttnRenderStyle *style, double scale,
                                  gboolean bold, const char *text,
                                  const cairo_rectangle_t *r,
                                  const AttnRgba *color);

G_END_DECLS
