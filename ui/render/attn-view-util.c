/* attn-view-util.c: plumbing shared by the heatmap, alignment, head, model
 * and step views. */
#include "ui/render/attn-view-util.h"

#include <glib/gi18n-lib.h>
#include <math.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-text.h"

void
attn_view_util_text_size (PangoContext *ctx, const AttnRenderStyle *style,
                          double scale, gboolean bold, const char *text,
                          double *width, double *height)
{
  g_autoptr (PangoLayout) layout
      = attn_text_layout_new (ctx, style, scale, bold, text);
  attn_text_get_size (layout, width, height);
}

double
attn_view_util_widest (PangoContext *ctx, const AttnRenderStyle *style,
                       double scale, gboolean bold, char *const *texts, int n)
{
  /* One layout with its text swapped: a thousand labels cost one layout. */
  g_autoptr (PangoLayout) layout
      = attn_text_layout_new (ctx, style, scale, bold, "");
  double widest = 0.0;
  for (int i = 0; i < n; i++)
    {
      double w;
      pango_layout_set_text (layout, texts[i], -1);
      attn_text_get_size (layout, &w, NULL);
      widest = MAX (widest, w);
    }
  return widest;
}

char **
attn_view_util_token_texts (const AttnTrace *trace, AttnSide side,
                            const int *tokens, int n, gboolean **special)
{
  char **texts = g_new0 (char *, n + 1);
  if (special != NULL)
    *special = g_new0 (gboolean, MAX (n, 1));
  for (int i = 0; i < n; i++)
    {
      const AttnToken *tok = attn_trace_get_token (trace, side, tokens[i]);
      texts[i] = attn_token_display_text (tok->text);
      if (special != NULL)
        (*special)[i] = tok->special;
    }
  return texts;
}

char *
attn_view_util_note (const AttnSelection *sel, gboolean renormalised)
{
  g_autoptr (GString) s = g_string_new (NULL);
  if (sel->range_start >= 0)
    g_string_append_printf (s, _ ("Tokens %d–%d"), sel->range_start,
                            sel->range_end - 1);
  const char *hidden = sel->hide_special && sel->hide_sink
                           ? _ ("special tokens and the first token")
                       : sel->hide_special ? _ ("special tokens")
                       : sel->hide_sink    ? _ ("the first token")
                                           : NULL;
  if (hidden != NULL)
    {
      if (s->len > 0)
        g_string_append (s, " · ");
      g_string_append_printf (s,
                              renormalised ? _ ("%s hidden, rows renormalised")
                                           : _ ("%s hidden"),
                              hidden);
      s->str[0] = g_ascii_toupper (s->str[0]);
    }
  return s->len > 0 ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

char *
attn_view_util_note_links (char *note, int shown, int total)
{
  if (shown >= total)
    return note;
  char *joined
      = note != NULL ? g_strdup_printf (
            _ ("%s · strongest %d of %d links drawn"), note, shown, total)
                     : g_strdup_printf (_ ("Strongest %d of %d links drawn"),
                                        shown, total);
  g_free (note);
  return joined;
}

gboolean
attn_view_util_check_size (const char *view, double width, double height,
                           GError **error)
{
  if (isfinite (width) && isfinite (height) && width > 0.0 && height > 0.0)
    return TRUE;
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "%s view size %g x %g is not valid: width and height must be "
               "positive",
               view, width, height);
  return FALSE;
}

void
attn_view_util_hit_clear (AttnHit *hit)
{
  *hit = (AttnHit){ .kind = ATTN_HIT_NONE,
                    .query = -1,
                    .key = -1,
                    .layer = -1,
                    .head = -1,
                    .candidate = -1 };
}

void
attn_view_util_rect_set (cairo_rectangle_t *r, double x, double y, double width,
                         double height)
{
  r->x = x;
  r->y = y;
  r->width = width;
  r->height = height;
}

gboolean
attn_view_util_rect_contains (const cairo_rectangle_t *r, double x, double y)
{
  return x >= r->x && x < r->x + r->width && y >= r->y && y < r->y + r->height;
}

void
attn_view_util_fill_background (cairo_t *cr, const AttnRenderStyle *style,
                                double width, double height)
{
  cairo_rectangle (cr, 0.0, 0.0, width, height);
  cairo_set_source_rgba (cr, style->background.r, style->background.g,
                         style->background.b, style->background.a);
  cairo_fill (cr);
}

/* WCAG relative luminance of an sRGB component. */
static double
linear (double c)
{
  return c <= 0.04045 ? c / 12.92 : pow ((c + 0.055) / 1.055, 2.4);
}

AttnRgba
attn_view_util_text_on (double r, double g, double b)
{
  double lum = 0.2126 * linear (r) + 0.7152 * linear (g) + 0.0722 * linear (b);
  /* Contrast with black (lum + 0.05) / 0.05 beats contrast with white
   * 1.05 / (lum + 0.05) above lum ~ 0.179. */
  if (lum > 0.179)
    return (AttnRgba){ 0.0, 0.0, 0.0, 1.0 };
  return (AttnRgba){ 1.0, 1.0, 1.0, 1.0 };
}

void
attn_view_util_draw_caption (cairo_t *cr, PangoContext *ctx,
                             const AttnRenderStyle *style, double scale,
                             gboolean bold, const char *text,
                             const cairo_rectangle_t *r, const AttnRgba *color)
{
  g_autoptr (PangoLayout) layout
      = attn_text_layout_new (ctx, style, scale, bold, text);
  attn_text_fit_width (layout, r->width);
  attn_text_draw (cr, layout, r->x, r->y, 0.0, 0.0, 0.0, color);
}
