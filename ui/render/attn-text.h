/* attn-text.h: text as every view measures and draws it, through Pango.
 *
 * Views lay out before they draw, often with no cairo_t at hand (hit-testing
 * in a widget, layout for an export). A context from attn_text_context_new
 * measures in user units with unhinted metrics, so a label measured there
 * has the same size when drawn on any surface — screen, PNG, SVG, PDF — at
 * any scale. Token labels go through attn_token_display_text, so whitespace
 * and control characters are visible; Pango itself takes care of Chinese,
 * emoji (font fallback), combining marks and right-to-left scripts. */
#pragma once

#include <cairo.h>
#include <pango/pangocairo.h>

#include "ui/render/attn-view.h"

G_BEGIN_DECLS

/* A context on Pango's default Cairo font map (of the calling thread), 72
 * units per inch so that font sizes are in user units, metrics unhinted.
 * Free with g_object_unref. */
PangoContext *attn_text_context_new (void);

/* Before drawing layouts of ctx on cr: follows cr's transformation and
 * target so glyphs rasterise sharply; sizes stay those measured. Layouts
 * made before the call must be updated with pango_layout_context_changed. */
void attn_text_context_update (PangoContext *ctx, cairo_t *cr);

/* The style's family at style->font_size * scale user units. Free with
 * pango_font_description_free. */
PangoFontDescription *attn_text_font_new (const AttnRenderStyle *style,
                                          double scale, gboolean bold);

/* A single-paragraph layout of plain text (never markup), in the style's
 * font at `scale` times its size. */
PangoLayout *attn_text_layout_new (PangoContext *ctx,
                                   const AttnRenderStyle *style, double scale,
                                   gboolean bold, const char *text);
/* The same for a token: the text as attn_token_display_text shows it. */
PangoLayout *attn_text_token_layout_new (PangoContext *ctx,
                                         const AttnRenderStyle *style,
                                         double scale, gboolean bold,
                                         const char *token_text);

/* Logical width and height in user units (either may be NULL). */
void attn_text_get_size (PangoLayout *layout, double *width, double *height);

/* Ellipsises the layout at its end ("…") so that its width is at most
 * max_width user units; max_width <= 0 removes the limit. TRUE when the
 * text no longer fits whole. */
gboolean attn_text_fit_width (PangoLayout *layout, double max_width);

/* Draws layout in color with the point (halign, valign) of its logical box
 * — (0, 0) the top-left corner, (0.5, 0.5) the centre, (1, 1) the
 * bottom-right — at (x, y), the box turned by angle radians about that
 * point (positive turns clockwise on screen, as Cairo does; -G_PI / 2 reads
 * bottom to top). Leaves cr's state as it found it. */
void attn_text_draw (cairo_t *cr, PangoLayout *layout, double x, double y,
                     double angle, double halign, double valign,
                     const AttnRgba *color);

/* Size along the x axis (horizontal = TRUE) or y axis of a width x height
 * box turned by angle. */
double attn_text_rotated_extent (double width, double height, double angle,
                                 gboolean horizontal);

/* Label thinning. Labels `pitch` units apart whose extent along the axis is
 * at most `extent` overlap when pitch < extent + gap; drawing only every
 * k-th label (0, k, 2k, ...) with the k this returns (>= 1, the smallest
 * that works) keeps `gap` between neighbours. */
int attn_text_label_step (double pitch, double extent, double gap);

/* "Cross-attention · layer 1 · head 2", "... · mean of 4 heads", "... · max
 * of 4 heads": the title every view uses for one head of a block. */
char *attn_text_block_title (AttnKind kind, int layer, int head, int n_heads);

/* A weight as shown in cells, ticks and tooltips: "0.25", "1", "0", and
 * small weights as "3e-05" rather than "0.00". */
char *attn_text_format_weight (double w);

G_END_DECLS
