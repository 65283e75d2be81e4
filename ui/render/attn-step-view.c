/* attn-step-view.c: the step view, its layout and hit-testing. */
#include "ui/render/attn-step-view.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-text.h"

#define TITLE_SCALE 1.15
#define EMITTED_SCALE 2.0
#define PROB_SCALE 1.3
#define CAPTION_SCALE 0.85
#define BAR_LABEL_SCALE 1.0
#define NOTE_SCALE 0.85

/* Token box sizes tried, largest first, before the boxes lose their text. */
static const double key_scales[] = { 1.6, 1.3, 1.0, 0.85, 0.7 };

/* Longest a bar label may get, in font sizes. */
#define BAR_LABEL_MAX_EMS 8.0

void
attn_step_view_selection_init (AttnSelection *sel, int step)
{
  attn_selection_init (sel, ATTN_KIND_CROSS);
  sel->layer = -1;
  sel->head = ATTN_HEADS_MEAN;
  sel->step = step;
}

static gboolean
has_kind (const AttnTrace *trace, AttnKind kind)
{
  for (guint i = 0; i < trace->blocks->len; i++)
    if (((const AttnBlock *)g_ptr_array_index (trace->blocks, i))->kind == kind)
      return TRUE;
  return FALSE;
}

/* The layers of kind as "0–3" for messages. */
static char *
layer_range (const AttnTrace *trace, AttnKind kind)
{
  int lo = -1, hi = -1;
  for (int l = 0; l < trace->n_layers; l++)
    if (attn_trace_lookup_block (trace, kind, l) != NULL)
      {
        if (lo < 0)
          lo = l;
        hi = l;
      }
  return lo == hi ? g_strdup_printf ("%d", lo)
                  : g_strdup_printf ("%d–%d", lo, hi);
}

/* The block the step view shades with, or NULL with an error. */
static const AttnBlock *
step_block (const AttnTrace *trace, const AttnSelection *sel, GError **error)
{
  if (trace->steps->len == 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "the trace has no decoding steps to show");
      return NULL;
    }
  if (sel->step < 0 || (guint)sel->step >= trace->steps->len)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "step %d out of range: this trace has steps 0–%u", sel->step,
                   trace->steps->len - 1);
      return NULL;
    }
  AttnKind kind = has_kind (trace, ATTN_KIND_CROSS) ? ATTN_KIND_CROSS
                                                    : ATTN_KIND_DECODER_SELF;
  if (!has_kind (trace, kind))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "the step view needs cross-attention or decoder "
                   "self-attention, and the trace has neither");
      return NULL;
    }
  const AttnBlock *block = NULL;
  if (sel->layer < 0)
    {
      for (int l = trace->n_layers - 1; l >= 0 && block == NULL; l--)
        block = attn_trace_lookup_block (trace, kind, l);
    }
  else
    block = attn_trace_lookup_block (trace, kind, sel->layer);
  if (block == NULL)
    {
      g_autofree char *layers = layer_range (trace, kind);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "layer %d out of range for %s attention: valid layers "
                   "are %s (or -1 for the last)",
                   sel->layer, attn_kind_to_string (kind), layers);
      return NULL;
    }
  if (!(sel->head == ATTN_HEADS_MEAN || sel->head == ATTN_HEADS_MAX
        || (sel->head >= 0 && sel->head < block->n_heads)))
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "head %d out of range: valid heads of %s layer %d are "
                   "0–%d, mean or max",
                   sel->head, attn_kind_to_string (kind), block->layer,
                   block->n_heads - 1);
      return NULL;
    }
  /* Step k is made at target position k, which the block has as a query
   * because a trace never has more steps than target tokens. */
  attn_check (sel->step < block->n_queries);
  return block;
}

/* Row `q` of block over the keys kept (`keys`, n of them), one head or the
 * mean or max, each head renormalised over the keys not hidden exactly as
 * attn_view_matrix_new does: a row keeps its total (1 when normalised)
 * spread over the keys left. out (n). Returns whether any row lost
 * weight to hiding. */
static gboolean
step_row (const AttnBlock *block, int head, int q, const gboolean *hidden,
          const int *keys, int n, float *out)
{
  int tk = block->n_keys;
  int h0 = head >= 0 ? head : 0, h1 = head >= 0 ? head + 1 : block->n_heads;
  gboolean renormalised = FALSE;
  g_autofree double *acc = g_new0 (double, MAX (n, 1));
  for (int h = h0; h < h1; h++)
    {
      const float *src
          = block->weights + ((gsize)h * block->n_queries + q) * tk; /* (Tk) */
      double total = 0.0, kept = 0.0;
      for (int k = 0; k < tk; k++)
        {
          total += src[k];
          if (!hidden[k])
            kept += src[k];
        }
      double scale = 1.0;
      if (kept < total)
        {
          double target = block->normalised ? 1.0 : total;
          scale = kept > 0.0 ? target / kept : 0.0;
          renormalised = TRUE;
        }
      for (int i = 0; i < n; i++)
        {
          double v = src[keys[i]] * scale;
          acc[i] = head == ATTN_HEADS_MAX ? MAX (acc[i], v) : acc[i] + v;
        }
    }
  for (int i = 0; i < n; i++)
    {
      double v = head == ATTN_HEADS_MEAN ? acc[i] / block->n_heads : acc[i];
      out[i] = (float)MIN (v, 1.0);
    }
  return renormalised;
}

static char *
format_percent (double p)
{
  if (!(p > 0.0))
    return g_strdup ("0%");
  if (p < 0.001)
    return g_strdup ("<0.1%");
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup_printf ("%s%%",
                          g_ascii_formatd (buf, sizeof buf, "%.1f", 100.0 * p));
}

/* Places n boxes of the given widths (all box_h high) in lines across
 * [x0, x1] from y0, `gap` apart; the bottom of the last line. */
static double
flow (AttnTokenSlot *slots, const double *widths, int n, double x0, double x1,
      double y0, double box_h, double gap)
{
  double x = x0, y = y0;
  for (int i = 0; i < n; i++)
    {
      double w = MIN (widths[i], x1 - x0);
      if (x > x0 && x + w > x1)
        {
          x = x0;
          y += box_h + gap;
        }
      attn_view_util_rect_set (&slots[i].box, x, y, w, box_h);
      slots[i].x = x + 0.5 * w;
      slots[i].y = y + 0.5 * box_h;
      slots[i].show_label = TRUE;
      x += w + gap;
    }
  return n > 0 ? y + box_h : y0;
}

/* Lays out the token boxes in [y0, y1]: with their text at the largest
 * scale that fits, else as plain squares as large as fit. Returns the
 * bottom of the last line. */
static double
layout_keys (AttnStepViewLayout *lay, const AttnRenderStyle *style, double x0,
             double x1, double y0, double y1)
{
  PangoContext *ctx = lay->context;
  double fs = style->font_size > 0.0 ? style->font_size : 12.0;
  int n = lay->n_keys;
  g_autofree double *widths = g_new (double, MAX (n, 1));
  g_autoptr (PangoLayout) measure
      = attn_text_layout_new (ctx, style, 1.0, FALSE, "");
  for (guint s = 0; s < G_N_ELEMENTS (key_scales); s++)
    {
      double scale = key_scales[s];
      PangoFontDescription *desc = attn_text_font_new (style, scale, FALSE);
      pango_layout_set_font_description (measure, desc);
      pango_font_description_free (desc);
      double lh;
      pango_layout_set_text (measure, "Ag", -1);
      attn_text_get_size (measure, NULL, &lh);
      double px = 0.4 * fs * scale, py = 0.25 * fs * scale;
      double box_h = lh + 2.0 * py;
      for (int i = 0; i < n; i++)
        {
          double w;
          pango_layout_set_text (measure, lay->key_text[i], -1);
          attn_text_get_size (measure, &w, NULL);
          widths[i] = MAX (w + 2.0 * px, box_h);
        }
      double bottom
          = flow (lay->keys, widths, n, x0, x1, y0, box_h, 0.25 * fs * scale);
      if (bottom <= y1)
        {
          lay->show_key_text = TRUE;
          lay->key_scale = scale;
          return bottom;
        }
    }
  /* Squares: the largest side s for which ceil (n / per_line) lines fit. */
  lay->show_key_text = FALSE;
  lay->key_scale = 0.0;
  double lo = 1.0, hi = MAX (y1 - y0, 1.0);
  for (int iter = 0; iter < 40; iter++)
    {
      double s = 0.5 * (lo + hi), g = 0.15 * s;
      int per_line = MAX ((int)floor ((x1 - x0 + g) / (s + g)), 1);
      int lines = (n + per_line - 1) / per_line;
      if (lines * (s + g) - g <= y1 - y0)
        lo = s;
      else
        hi = s;
    }
  for (int i = 0; i < n; i++)
    widths[i] = lo;
  return flow (lay->keys, widths, n, x0, x1, y0, lo, 0.15 * lo);
}

/* Places everything at style's type size (already the fitted one); the
 * bottom of the lowest part, which may lie below the drawing when the type
 * is too large for it. */
static double
place (AttnStepViewLayout *lay, const AttnRenderStyle *style)
{
  PangoContext *ctx = lay->context;
  double fs = style->font_size;
  double width = lay->width, height = lay->height;
  lay->show_title = lay->show_note = FALSE;
  double title_h, note_h = 0.0, cap_h, lh, em_w, em_h, pr_w, pr_h;
  attn_view_util_text_size (ctx, style, TITLE_SCALE, TRUE, lay->title, NULL,
                            &title_h);
  if (lay->note != NULL)
    attn_view_util_text_size (ctx, style, NOTE_SCALE, FALSE, lay->note, NULL,
                              &note_h);
  attn_view_util_text_size (ctx, style, CAPTION_SCALE, FALSE, "Ag", NULL,
                            &cap_h);
  attn_view_util_text_size (ctx, style, BAR_LABEL_SCALE, FALSE, "Ag", NULL,
                            &lh);
  attn_view_util_text_size (ctx, style, EMITTED_SCALE, TRUE, lay->emitted_text,
                            &em_w, &em_h);
  attn_view_util_text_size (ctx, style, PROB_SCALE, FALSE, lay->prob_text,
                            &pr_w, &pr_h);

  double pad = MIN (0.8 * fs, 0.04 * MIN (width, height));
  double x0 = pad, y0 = pad, x1 = width - pad, y1 = height - pad;
  if (y1 - y0 >= title_h + em_h + 10.0 * lh && x1 - x0 >= 12.0 * lh)
    {
      lay->show_title = TRUE;
      attn_view_util_rect_set (&lay->title_rect, x0, y0, x1 - x0, title_h);
      y0 += title_h + 0.6 * fs;
    }
  if (lay->note != NULL && y1 - y0 >= note_h + em_h + 10.0 * lh)
    {
      lay->show_note = TRUE;
      attn_view_util_rect_set (&lay->note_rect, x0, y1 - note_h, x1 - x0,
                               note_h);
      y1 -= note_h + 0.5 * fs;
    }

  /* The emitted token, its probability beside it on the same centre line;
   * the token is ellipsised to leave the probability room. */
  em_w = MIN (em_w, MAX (x1 - x0 - pr_w - fs, 0.0));
  attn_view_util_rect_set (&lay->emitted_rect, x0, y0, em_w, em_h);
  attn_view_util_rect_set (&lay->prob_rect, x0 + em_w + fs,
                           y0 + 0.5 * (em_h - pr_h), pr_w, pr_h);
  double px = x0 + em_w + pr_w + 2.0 * fs;
  attn_view_util_rect_set (&lay->prefix_rect, px, y0 + 0.5 * (em_h - cap_h),
                           MAX (x1 - px, 0.0), cap_h);
  y0 += em_h + 0.6 * fs;

  /* Top down: the shaded tokens, as large as the room left by the bars
   * allows, then the bars right under them. */
  double row_h = 1.5 * lh, bar_gap = 0.5 * fs, section_gap = 0.9 * fs;
  double bars_h = cap_h + 0.3 * fs + lay->n_bars * row_h;
  attn_view_util_rect_set (&lay->keys_caption_rect, x0, y0, x1 - x0, cap_h);
  y0 += cap_h + 0.3 * fs;
  double keys_bottom = layout_keys (lay, style, x0, x1, y0,
                                    MAX (y1 - bars_h - section_gap, y0 + 1.0));
  double bars_y = keys_bottom + section_gap;

  attn_view_util_rect_set (&lay->bars_caption_rect, x0, bars_y, x1 - x0, cap_h);
  /* The emitted token's label is bold: measure every label bold. */
  double label_w
      = MIN (attn_view_util_widest (ctx, style, BAR_LABEL_SCALE, TRUE,
                                    lay->bar_text, lay->n_bars),
             MIN (BAR_LABEL_MAX_EMS * fs, 0.3 * (x1 - x0)));
  double value_w;
  attn_view_util_text_size (ctx, style, BAR_LABEL_SCALE, FALSE, "100.0%",
                            &value_w, NULL);
  lay->bar_x = x0 + label_w + bar_gap;
  lay->bar_full = MAX (x1 - value_w - bar_gap - lay->bar_x, 0.0);
  double ry = bars_y + cap_h + 0.3 * fs;
  for (int i = 0; i < lay->n_bars; i++, ry += row_h)
    {
      AttnStepBar *b = &lay->bars[i];
      double bh = 0.65 * row_h;
      double bw = lay->bar_full * CLAMP (b->prob, 0.0f, 1.0f);
      attn_view_util_rect_set (&b->label, x0, ry, label_w, row_h);
      attn_view_util_rect_set (&b->bar, lay->bar_x, ry + 0.5 * (row_h - bh), bw,
                               bh);
      attn_view_util_rect_set (&b->value, lay->bar_x + bw + bar_gap, ry,
                               value_w, row_h);
    }
  return MAX (ry,
              lay->show_note ? lay->note_rect.y + lay->note_rect.height : 0.0);
}

AttnStepViewLayout *
attn_step_view_layout_new (const AttnTrace *trace, const AttnSelection *sel,
                           const AttnRenderStyle *style, double width,
                           double height, GError **error)
{
  attn_check (trace != NULL && sel != NULL && style != NULL);
  if (!attn_view_util_check_size ("step", width, height, error))
    return NULL;
  const AttnBlock *block = step_block (trace, sel, error);
  if (block == NULL)
    return NULL;
  const AttnStep *step = g_ptr_array_index (trace->steps, sel->step);
  int q = sel->step;
  AttnSide kside = attn_kind_key_side (block->kind);

  /* Keys: the zoom range (as attn_view_matrix_new takes it), the prefix of
   * a decoder's own tokens, minus hidden tokens. */
  int tk = block->n_keys;
  int lo = 0, hi = tk;
  if (sel->range_start >= 0 && sel->range_start < tk)
    {
      lo = sel->range_start;
      hi = MIN (sel->range_end, tk);
    }
  if (block->kind == ATTN_KIND_DECODER_SELF)
    hi = MIN (hi, q + 1);
  g_autofree gboolean *hidden = g_new0 (gboolean, tk);
  for (int k = 0; k < tk; k++)
    hidden[k] = (sel->hide_sink && k == 0)
                || (sel->hide_special
                    && attn_trace_get_token (trace, kside, k)->special);
  g_autofree int *keys = g_new (int, MAX (tk, 1));
  int n = 0;
  for (int k = lo; k < hi; k++)
    if (!hidden[k])
      keys[n++] = k;
  if (n == 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "nothing left to show at step %d: hiding leaves no %s "
                   "tokens in the range",
                   sel->step,
                   block->kind == ATTN_KIND_CROSS ? "source" : "prefix");
      return NULL;
    }

  g_autoptr (AttnStepViewLayout) lay = g_new0 (AttnStepViewLayout, 1);
  lay->width = width;
  lay->height = height;
  lay->step = sel->step;
  lay->n_steps = trace->steps->len;
  lay->kind = block->kind;
  lay->layer = block->layer;
  lay->head = sel->head;
  lay->n_heads = block->n_heads;
  lay->prob = step->emitted.prob;
  lay->context = attn_text_context_new ();
  lay->n_keys = n;
  lay->keys = g_new0 (AttnTokenSlot, n);
  for (int i = 0; i < n; i++)
    lay->keys[i].token = keys[i];
  lay->weights = g_new (float, n);
  lay->renormalised
      = step_row (block, sel->head, q, hidden, keys, n, lay->weights);
  for (int i = 0; i < n; i++)
    lay->max_weight = MAX (lay->max_weight, lay->weights[i]);
  lay->key_text = attn_view_util_token_texts (trace, kside, keys, n, NULL);

  g_autofree char *block_title = attn_text_block_title (
      block->kind, block->layer, sel->head, block->n_heads);
  lay->title = g_strdup_printf (_ ("Step %d · %s"), sel->step, block_title);
  lay->emitted_text = attn_token_display_text (step->emitted.text);
  g_autofree char *pct = format_percent (step->emitted.prob);
  lay->prob_text = g_strdup_printf ("p = %s", pct);
  {
    const AttnToken *qt
        = attn_trace_get_token (trace, attn_kind_query_side (block->kind), q);
    g_autofree char *qtext = attn_token_display_text (qt->text);
    lay->keys_caption = g_strdup_printf (
        block->kind == ATTN_KIND_CROSS
            ? _ ("Where query %d (“%s”) looked, over the source")
            : _ ("Where query %d (“%s”) looked, over the prefix"),
        q, qtext);
  }
  lay->note = attn_view_util_note (sel, lay->renormalised);
  {
    /* The text so far as the decoder saw it: the target tokens up to the
     * query, joined as they are (special ones as their names). */
    GString *prefix = g_string_new (NULL);
    for (int i = 0; i <= q; i++)
      g_string_append (prefix,
                       attn_trace_get_token (trace, ATTN_SIDE_TARGET, i)->text);
    lay->prefix_text = g_strdup_printf (_ ("after “%s”"), prefix->str);
    g_string_free (prefix, TRUE);
  }

  /* The bars: the step's top alternatives, or the emitted token alone. */
  lay->n_bars = MIN (step->n_top, ATTN_STEP_VIEW_MAX_BARS);
  lay->bar_text = g_new0 (char *, ATTN_STEP_VIEW_MAX_BARS + 1);
  lay->value_text = g_new0 (char *, ATTN_STEP_VIEW_MAX_BARS + 1);
  if (lay->n_bars == 0)
    {
      lay->n_bars = 1;
      lay->bars[0] = (AttnStepBar){ .candidate = -1,
                                    .prob = step->emitted.prob,
                                    .emitted = TRUE };
      lay->bar_text[0] = attn_token_display_text (step->emitted.text);
    }
  else
    for (int i = 0; i < lay->n_bars; i++)
      {
        const AttnCandidate *c = &step->top[i];
        gboolean same = step->emitted.id >= 0
                            ? c->id == step->emitted.id
                            : g_strcmp0 (c->text, step->emitted.text) == 0;
        lay->bars[i]
            = (AttnStepBar){ .candidate = i, .prob = c->prob, .emitted = same };
        lay->bar_text[i] = attn_token_display_text (c->text);
      }
  for (int i = 0; i < lay->n_bars; i++)
    lay->value_text[i] = format_percent (lay->bars[i].prob);
  lay->bars_caption = g_strdup_printf (
      step->n_top > 1 ? _ ("Top %d alternatives") : _ ("Emitted token"),
      lay->n_bars);

  /* Type shrinks (to a quarter at most) until everything fits. */
  AttnRenderStyle fitted = *style;
  double fs = style->font_size > 0.0 ? style->font_size : 12.0;
  fitted.font_size = fs;
  for (int attempt = 0; attempt < 4; attempt++)
    {
      double bottom = place (lay, &fitted);
      if (bottom <= height + 1e-9 || fitted.font_size <= 0.25 * fs)
        break;
      /* Height needed shrinks about in proportion to the type. */
      fitted.font_size
          = MAX (0.25 * fs, fitted.font_size * 0.95 * height / bottom);
    }
  lay->font_size = fitted.font_size;
  return g_steal_pointer (&lay);
}

void
attn_step_view_layout_free (AttnStepViewLayout *lay)
{
  if (lay == NULL)
    return;
  g_free (lay->title);
  g_free (lay->note);
  g_free (lay->keys);
  g_free (lay->weights);
  g_free (lay->emitted_text);
  g_free (lay->prob_text);
  g_free (lay->prefix_text);
  g_strfreev (lay->key_text);
  g_strfreev (lay->bar_text);
  g_strfreev (lay->value_text);
  g_free (lay->keys_caption);
  g_free (lay->bars_caption);
  g_clear_object (&lay->context);
  g_free (lay);
}

gboolean
attn_step_view_layout_hit (const AttnStepViewLayout *lay, double x, double y,
                           AttnHit *hit)
{
  attn_check (lay != NULL && hit != NULL);
  attn_view_util_hit_clear (hit);
  hit->layer = lay->layer;
  hit->head = lay->head;
  hit->query = lay->step;
  for (int i = 0; i < lay->n_keys; i++)
    if (attn_view_util_rect_contains (&lay->keys[i].box, x, y))
      {
        hit->kind = ATTN_HIT_KEY;
        hit->key = lay->keys[i].token;
        hit->weight = lay->weights[i];
        return TRUE;
      }
  for (int i = 0; i < lay->n_bars; i++)
    {
      const AttnStepBar *b = &lay->bars[i];
      /* The whole row, from the label to the end of a full bar. */
      cairo_rectangle_t row
          = { b->label.x, b->label.y, lay->bar_x + lay->bar_full - b->label.x,
              b->label.height };
      if (attn_view_util_rect_contains (&row, x, y))
        {
          hit->kind = ATTN_HIT_CANDIDATE;
          hit->candidate = b->candidate;
          return TRUE;
        }
    }
  return FALSE;
}

static void
draw_text_in (cairo_t *cr, PangoContext *ctx, const AttnRenderStyle *style,
              double scale, gboolean bold, const char *text,
              const cairo_rectangle_t *r, double halign, const AttnRgba *color)
{
  g_autoptr (PangoLayout) l
      = attn_text_layout_new (ctx, style, scale, bold, text);
  attn_text_fit_width (l, r->width);
  attn_text_draw (cr, l, r->x + halign * r->width, r->y + 0.5 * r->height, 0.0,
                  halign, 0.5, color);
}

static void
draw_keys (cairo_t *cr, const AttnStepViewLayout *lay,
           const AttnRenderStyle *style)
{
  g_autoptr (PangoLayout) text = NULL;
  if (lay->show_key_text)
    text
        = attn_text_layout_new (lay->context, style, lay->key_scale, FALSE, "");
  for (int i = 0; i < lay->n_keys; i++)
    {
      const cairo_rectangle_t *b = &lay->keys[i].box;
      double t
          = attn_render_style_map (style, lay->weights[i], lay->max_weight);
      double r, g, bl;
      attn_colormap_get (style->colormap, t, style->reversed, &r, &g, &bl);
      cairo_rectangle (cr, b->x, b->y, b->width, b->height);
      cairo_set_source_rgb (cr, r, g, bl);
      cairo_fill_preserve (cr);
      /* A hairline in the muted colour keeps a box whose colour is close
       * to the background visible; it lies on the box's edge only. */
      cairo_set_source_rgba (cr, style->muted.r, style->muted.g, style->muted.b,
                             0.6);
      cairo_set_line_width (cr, MIN (1.0, 0.1 * b->height));
      cairo_stroke (cr);
      if (text != NULL)
        {
          pango_layout_set_text (text, lay->key_text[i], -1);
          attn_text_fit_width (text, b->width);
          AttnRgba ink = attn_view_util_text_on (r, g, bl);
          attn_text_draw (cr, text, lay->keys[i].x, lay->keys[i].y, 0.0, 0.5,
                          0.5, &ink);
        }
    }
}

void
attn_step_view_render_layout (cairo_t *cr, const AttnStepViewLayout *lay,
                              const AttnRenderStyle *given)
{
  attn_check (cr != NULL && lay != NULL && given != NULL);
  AttnRenderStyle fitted = *given;
  fitted.font_size = lay->font_size;
  const AttnRenderStyle *style = &fitted;
  PangoContext *ctx = lay->context;
  cairo_save (cr);
  attn_text_context_update (ctx, cr);
  attn_view_util_fill_background (cr, style, lay->width, lay->height);

  if (lay->show_title)
    attn_view_util_draw_caption (cr, ctx, style, TITLE_SCALE, TRUE, lay->title,
                                 &lay->title_rect, &style->foreground);
  draw_text_in (cr, ctx, style, EMITTED_SCALE, TRUE, lay->emitted_text,
                &lay->emitted_rect, 0.0, &style->accent);
  draw_text_in (cr, ctx, style, PROB_SCALE, FALSE, lay->prob_text,
                &lay->prob_rect, 0.0, &style->foreground);
  if (lay->prefix_rect.width > 4.0 * lay->prefix_rect.height)
    {
      g_autoptr (PangoLayout) l = attn_text_layout_new (
          ctx, style, CAPTION_SCALE, FALSE, lay->prefix_text);
      attn_text_fit_width (l, lay->prefix_rect.width);
      pango_layout_set_ellipsize (l, PANGO_ELLIPSIZE_START);
      attn_text_draw (cr, l, lay->prefix_rect.x,
                      lay->prefix_rect.y + 0.5 * lay->prefix_rect.height, 0.0,
                      0.0, 0.5, &style->muted);
    }
  draw_text_in (cr, ctx, style, CAPTION_SCALE, FALSE, lay->keys_caption,
                &lay->keys_caption_rect, 0.0, &style->muted);
  draw_keys (cr, lay, style);

  draw_text_in (cr, ctx, style, CAPTION_SCALE, FALSE, lay->bars_caption,
                &lay->bars_caption_rect, 0.0, &style->muted);
  for (int i = 0; i < lay->n_bars; i++)
    {
      const AttnStepBar *b = &lay->bars[i];
      const AttnRgba *fill = b->emitted ? &style->accent : &style->muted;
      cairo_rectangle (cr, b->bar.x, b->bar.y, b->bar.width, b->bar.height);
      cairo_set_source_rgba (cr, fill->r, fill->g, fill->b, fill->a);
      cairo_fill (cr);
      draw_text_in (cr, ctx, style, BAR_LABEL_SCALE, b->emitted,
                    lay->bar_text[i], &b->label, 1.0, &style->foreground);
      draw_text_in (cr, ctx, style, BAR_LABEL_SCALE, FALSE, lay->value_text[i],
                    &b->value, 0.0, &style->foreground);
    }
  /* The axis bars start from. */
  if (lay->n_bars > 0)
    {
      const AttnStepBar *first = &lay->bars[0],
                        *last = &lay->bars[lay->n_bars - 1];
      double lw = MAX (1.0, 0.08 * style->font_size);
      cairo_rectangle (cr, lay->bar_x - lw, first->label.y, lw,
                       last->label.y + last->label.height - first->label.y);
      cairo_set_source_rgba (cr, style->foreground.r, style->foreground.g,
                             style->foreground.b, style->foreground.a);
      cairo_fill (cr);
    }

  if (lay->show_note)
    attn_view_util_draw_caption (cr, ctx, style, NOTE_SCALE, FALSE, lay->note,
                                 &lay->note_rect, &style->muted);
  cairo_restore (cr);
}

gboolean
attn_step_view_render (cairo_t *cr, const AttnTrace *trace,
                       const AttnSelection *sel, const AttnRenderStyle *style,
                       double width, double height, GError **error)
{
  g_autoptr (AttnStepViewLayout) lay
      = attn_step_view_layout_new (trace, sel, style, width, height, error);
  if (lay == NULL)
    return FALSE;
  attn_step_view_render_layout (cr, lay, style);
  return TRUE;
}

gboolean
attn_step_view_hit_test (const AttnTrace *trace, const AttnSelection *sel,
                         const AttnRenderStyle *style, double width,
                         double height, double x, double y, AttnHit *hit)
{
  attn_check (hit != NULL);
  g_autoptr (AttnStepViewLayout) lay
      = attn_step_view_layout_new (trace, sel, style, width, height, NULL);
  if (lay == NULL)
    {
      attn_view_util_hit_clear (hit);
      return FALSE;
    }
  return attn_step_view_layout_hit (lay, x, y, hit);
}
