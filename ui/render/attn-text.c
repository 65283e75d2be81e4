/* attn-text.c: Pango helpers shared by every view. */
#include "ui/render/attn-text.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "core/attn-check.h"

PangoContext *
attn_text_context_new (void)
{
  PangoFontMap *map = pango_cairo_font_map_get_default ();
  PangoContext *ctx = pango_font_map_create_context (map);
  /* Absolute font sizes below make the resolution matter only for sizes
   * given in points; 72 makes those user units too. */
  pango_cairo_context_set_resolution (ctx, 72.0);
  /* Hinted metrics snap advances to whole device pixels, which differ
   * between a 1x screen, a 2x screen and a PDF: a label measured on one
   * would overflow on another. */
  cairo_font_options_t *options = cairo_font_options_create ();
  cairo_font_options_set_hint_metrics (options, CAIRO_HINT_METRICS_OFF);
  cairo_font_options_set_hint_style (options, CAIRO_HINT_STYLE_NONE);
  pango_cairo_context_set_font_options (ctx, options);
  cairo_font_options_destroy (options);
  pango_context_set_round_glyph_positions (ctx, FALSE);
  return ctx;
}

void
attn_text_context_update (PangoContext *ctx, cairo_t *cr)
{
  attn_check (ctx != NULL && cr != NULL);
  pango_cairo_update_context (cr, ctx);
}

PangoFontDescription *
attn_text_font_new (const AttnRenderStyle *style, double scale, gboolean bold)
{
  attn_check (style != NULL && scale > 0.0);
  PangoFontDescription *desc = pango_font_description_new ();
  pango_font_description_set_family (
      desc, style->font_family != NULL ? style->font_family : "Sans");
  double size = style->font_size > 0.0 ? style->font_size : 12.0;
  pango_font_description_set_absolute_size (desc, size * scale * PANGO_SCALE);
  pango_font_description_set_weight (desc, bold ? PANGO_WEIGHT_BOLD
                                                : PANGO_WEIGHT_NORMAL);
  return desc;
}

PangoLayout *
attn_text_layout_new (PangoContext *ctx, const AttnRenderStyle *style,
                      double scale, gboolean bold, const char *text)
{
  attn_check (ctx != NULL && text != NULL);
  PangoLayout *layout = pango_layout_new (ctx);
  PangoFontDescription *desc = attn_text_font_new (style, scale, bold);
  pango_layout_set_font_description (layout, desc);
  pango_font_description_free (desc);
  pango_layout_set_single_paragraph_mode (layout, TRUE);
  pango_layout_set_text (layout, text, -1);
  return layout;
}

PangoLayout *
attn_text_token_layout_new (PangoContext *ctx, const AttnRenderStyle *style,
                            double scale, gboolean bold, const char *token_text)
{
  g_autofree char *shown = attn_token_display_text (token_text);
  return attn_text_layout_new (ctx, style, scale, bold, shown);
}

void
attn_text_get_size (PangoLayout *layout, double *width, double *height)
{
  attn_check (layout != NULL);
  PangoRectangle logical;
  pango_layout_get_extents (layout, NULL, &logical);
  if (width != NULL)
    *width = (double)logical.width / PANGO_SCALE;
  if (height != NULL)
    *height = (double)logical.height / PANGO_SCALE;
}

gboolean
attn_text_fit_width (PangoLayout *layout, double max_width)
{
  attn_check (layout != NULL);
  if (!(max_width > 0.0))
    {
      pango_layout_set_width (layout, -1);
      pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_NONE);
      return FALSE;
    }
  pango_layout_set_width (layout, (int)floor (max_width * PANGO_SCALE));
  pango_layout_set_ellipsize (layout, PANGO_ELLIPSIZE_END);
  return pango_layout_is_ellipsized (layout);
}

void
attn_text_draw (cairo_t *cr, PangoLayout *layout, double x, double y,
                double angle, double halign, double valign,
                const AttnRgba *color)
{
  attn_check (cr != NULL && layout != NULL && color != NULL);
  PangoRectangle logical;
  pango_layout_get_extents (layout, NULL, &logical);
  double lx = (double)logical.x / PANGO_SCALE;
  double ly = (double)logical.y / PANGO_SCALE;
  double w = (double)logical.width / PANGO_SCALE;
  double h = (double)logical.height / PANGO_SCALE;

  cairo_save (cr);
  cairo_translate (cr, x, y);
  if (angle != 0.0)
    cairo_rotate (cr, angle);
  cairo_move_to (cr, -halign * w - lx, -valign * h - ly);
  cairo_set_source_rgba (cr, color->r, color->g, color->b, color->a);
  pango_cairo_show_layout (cr, layout);
  cairo_restore (cr);
}

double
attn_text_rotated_extent (double width, double height, double angle,
                          gboolean horizontal)
{
  double c = fabs (cos (angle)), s = fabs (sin (angle));
  /* Whole quarter turns should not leak 1e-17 of the other side. */
  if (c < 1e-12)
    c = 0.0;
  if (s < 1e-12)
    s = 0.0;
  return horizontal ? width * c + height * s : width * s + height * c;
}

int
attn_text_label_step (double pitch, double extent, double gap)
{
  attn_check (pitch > 0.0 && extent >= 0.0 && gap >= 0.0);
  double k = ceil ((extent + gap) / pitch - 1e-9);
  if (!(k >= 1.0))
    return 1;
  return k > (double)G_MAXINT ? G_MAXINT : (int)k;
}

char *
attn_text_block_title (AttnKind kind, int layer, int head, int n_heads)
{
  const char *what;
  switch (kind)
    {
    case ATTN_KIND_ENCODER_SELF:
      what = _ ("Encoder self-attention");
      break;
    case ATTN_KIND_DECODER_SELF:
      what = _ ("Decoder self-attention");
      break;
    case ATTN_KIND_CROSS:
      what = _ ("Cross-attention");
      break;
    default:
      attn_check (!"unknown attention kind");
      return NULL;
    }
  if (head == ATTN_HEADS_MEAN)
    return g_strdup_printf (_ ("%s · layer %d · mean of %d heads"), what, layer,
                            n_heads);
  if (head == ATTN_HEADS_MAX)
    return g_strdup_printf (_ ("%s · layer %d · max of %d heads"), what, layer,
                            n_heads);
  return g_strdup_printf (_ ("%s · layer %d · head %d"), what, layer, head);
}

char *
attn_text_format_weight (double w)
{
  if (!(w > 0.0))
    return g_strdup ("0");
  if (w < 0.005)
    {
      /* "3e-05": two decimals would print "0.00" for a weight that is not
       * zero, and the log scale's ticks live down here. */
      char buf[G_ASCII_DTOSTR_BUF_SIZE];
      g_ascii_formatd (buf, sizeof buf, "%.0e", w);
      /* "1e-04" -> "1e-4". */
      char *e = strchr (buf, 'e');
      if (e != NULL && (e[1] == '-' || e[1] == '+'))
        {
          char *digits = e + 2;
          while (digits[0] == '0' && digits[1] != '\0')
            memmove (digits, digits + 1, strlen (digits));
          if (e[1] == '+')
            memmove (e + 1, e + 2, strlen (e + 2) + 1);
        }
      return g_strdup (buf);
    }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (buf, sizeof buf, "%.2f", w);
  /* "0.50" -> "0.5", "1.00" -> "1". */
  char *end = buf + strlen (buf);
  while (end > buf && end[-1] == '0')
    *--end = '\0';
  if (end > buf && end[-1] == '.')
    *--end = '\0';
  return g_strdup (buf);
}
