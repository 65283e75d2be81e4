/* attn-alignment.c: the alignment diagram, its layout and hit-testing. */
#include "ui/render/attn-alignment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-head-view.h"
#include "ui/render/attn-text.h"

/* Type sizes relative to style->font_size. */
#define TITLE_SCALE 1.15
#define LABEL_SCALE 1.0
#define NOTE_SCALE 0.85

/* Longest a turned label may get, in font sizes. */
#define LABEL_MAX_EMS 10.0

/* A band's end spans this share of its slot at weight 0 and at weight 1:
 * a strong link is wide, a weak one a thread, and neighbours never touch. */
#define BAND_MIN_SHARE 0.08
#define BAND_MAX_SHARE 0.45

static int
find_index (const int *tokens, int n, int token)
{
  if (token < 0)
    return -1;
  for (int i = 0; i < n; i++)
    if (tokens[i] == token)
      return i;
  return -1;
}

static int
link_compare (const void *a, const void *b)
{
  const AttnAlignmentLink *x = a, *y = b;
  if (x->weight != y->weight)
    return x->weight < y->weight ? -1 : 1;
  /* Ties in matrix order, so the drawing does not depend on qsort. */
  if (x->row != y->row)
    return x->row < y->row ? -1 : 1;
  return x->col < y->col ? -1 : x->col > y->col;
}

/* Places n slots across [x0, x1]; anchors at anchor_y, boxes from box_y
 * box_h high. */
static AttnTokenSlot *
slots_across (const int *tokens, int n, double x0, double x1, double box_y,
              double box_h, double anchor_y, int label_step, double *pitch)
{
  AttnTokenSlot *slots = g_new0 (AttnTokenSlot, n);
  double p = (x1 - x0) / n;
  for (int i = 0; i < n; i++)
    {
      slots[i].token = tokens[i];
      attn_view_util_rect_set (&slots[i].box, x0 + i * p, box_y, p, box_h);
      slots[i].x = x0 + (i + 0.5) * p;
      slots[i].y = anchor_y;
      slots[i].show_label = i % label_step == 0;
    }
  *pitch = p;
  return slots;
}

AttnAlignmentLayout *
attn_alignment_layout_new (const AttnTrace *trace, const AttnSelection *sel,
                           const AttnRenderStyle *style, double width,
                           double height, GError **error)
{
  attn_check (trace != NULL && sel != NULL && style != NULL);
  if (!attn_view_util_check_size ("alignment", width, height, error))
    return NULL;
  AttnViewMatrix *matrix = attn_view_matrix_new (trace, sel, error);
  if (matrix == NULL)
    return NULL;

  g_autoptr (AttnAlignmentLayout) lay = g_new0 (AttnAlignmentLayout, 1);
  lay->width = width;
  lay->height = height;
  lay->matrix = matrix;
  lay->kind = sel->kind;
  lay->layer = sel->layer;
  lay->head = sel->head;
  lay->n_heads
      = attn_trace_lookup_block (trace, sel->kind, sel->layer)->n_heads;
  lay->context = attn_text_context_new ();
  lay->label_scale = LABEL_SCALE;
  lay->title
      = attn_text_block_title (sel->kind, sel->layer, sel->head, lay->n_heads);
  int nr = matrix->n_rows, nc = matrix->n_cols;

  /* The links: above the threshold, and only the selected token's when a
   * token is selected (a selected query and key show both their links). */
  lay->selected_row = find_index (matrix->row_token, nr, sel->selected_query);
  lay->selected_col = find_index (matrix->col_token, nc, sel->selected_key);
  gboolean any_selected = lay->selected_row >= 0 || lay->selected_col >= 0;
  lay->links = g_new (AttnAlignmentLink, (gsize)nr * nc);
  for (int r = 0; r < nr; r++)
    for (int c = 0; c < nc; c++)
      {
        float w = matrix->w[(gsize)r * nc + c];
        if (!(w > 0.0f) || w < style->threshold)
          continue;
        if (any_selected && r != lay->selected_row && c != lay->selected_col)
          continue;
        double t = attn_render_style_map (style, w, matrix->max);
        if (!(t > 0.0))
          continue;
        lay->links[lay->n_links++]
            = (AttnAlignmentLink){ .row = r, .col = c, .weight = w, .t = t };
      }
  qsort (lay->links, lay->n_links, sizeof *lay->links, link_compare);
  lay->n_links_total = lay->n_links;
  if (lay->n_links > ATTN_VIEW_MAX_LINKS)
    {
      /* Keep the strongest: the array is weakest first. */
      memmove (lay->links, lay->links + lay->n_links - ATTN_VIEW_MAX_LINKS,
               ATTN_VIEW_MAX_LINKS * sizeof *lay->links);
      lay->n_links = ATTN_VIEW_MAX_LINKS;
    }
  lay->note = attn_view_util_note_links (
      attn_view_util_note (sel, matrix->renormalised), lay->n_links,
      lay->n_links_total);

  PangoContext *ctx = lay->context;
  AttnSide qside = attn_kind_query_side (sel->kind);
  AttnSide kside = attn_kind_key_side (sel->kind);
  lay->top_text = attn_view_util_token_texts (trace, kside, matrix->col_token,
                                              nc, &lay->top_special);
  lay->bottom_text = attn_view_util_token_texts (
      trace, qside, matrix->row_token, nr, &lay->bottom_special);
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
  if (lay->note != NULL && y1 - y0 >= note_h + 8.0 * lh && x1 - x0 >= 12.0 * lh)
    {
      lay->show_note = TRUE;
      attn_view_util_rect_set (&lay->note_rect, x0, y1 - note_h, x1 - x0,
                               note_h);
      y1 -= note_h + 0.5 * fs;
    }

  /* Labels read across when the widest fits its slot in both rows, else
   * they are turned; turned labels that are still too close are thinned. */
  double gap = 0.4 * fs;
  double widest = MAX (
      attn_view_util_widest (ctx, style, LABEL_SCALE, FALSE, lay->top_text, nc),
      attn_view_util_widest (ctx, style, LABEL_SCALE, FALSE, lay->bottom_text,
                             nr));
  double top_pitch = (x1 - x0) / nc, bottom_pitch = (x1 - x0) / nr;
  double narrowest = MIN (top_pitch, bottom_pitch);
  lay->labels_rotated = widest + gap > narrowest;
  double row_h;
  if (lay->labels_rotated)
    {
      /* The bands keep at least 40 % of the height. */
      lay->label_max_width
          = MIN (widest, MIN (LABEL_MAX_EMS * fs, 0.3 * (y1 - y0)));
      row_h = lay->label_max_width;
      lay->top_label_step = attn_text_label_step (top_pitch, lh, 0.15 * lh);
      lay->bottom_label_step
          = attn_text_label_step (bottom_pitch, lh, 0.15 * lh);
    }
  else
    {
      lay->label_max_width = narrowest - gap;
      row_h = lh;
      lay->top_label_step = lay->bottom_label_step = 1;
    }
  lay->show_labels = row_h >= lh && y1 - y0 >= 2.0 * (row_h + gap) + 3.0 * lh;
  if (!lay->show_labels)
    row_h = 0.0;
  double label_gap = lay->show_labels ? gap : 0.0;

  lay->band_top = y0 + row_h + label_gap;
  lay->band_bottom = y1 - row_h - label_gap;
  lay->top = slots_across (matrix->col_token, nc, x0, x1, y0, row_h,
                           lay->band_top, lay->top_label_step, &lay->top_pitch);
  lay->bottom = slots_across (
      matrix->row_token, nr, x0, x1, lay->band_bottom + label_gap, row_h,
      lay->band_bottom, lay->bottom_label_step, &lay->bottom_pitch);

  return g_steal_pointer (&lay);
}

void
attn_alignment_layout_free (AttnAlignmentLayout *lay)
{
  if (lay == NULL)
    return;
  attn_view_matrix_free (lay->matrix);
  g_free (lay->title);
  g_free (lay->note);
  g_free (lay->top);
  g_free (lay->bottom);
  g_free (lay->links);
  g_strfreev (lay->top_text);
  g_strfreev (lay->bottom_text);
  g_free (lay->top_special);
  g_free (lay->bottom_special);
  g_clear_object (&lay->context);
  g_free (lay);
}

/* Half the width of a band's end in a slot `pitch` wide. */
static double
band_half_width (double pitch, double t)
{
  return 0.5 * pitch * (BAND_MIN_SHARE + (BAND_MAX_SHARE - BAND_MIN_SHARE) * t);
}

void
attn_alignment_link_path (cairo_t *cr, const AttnAlignmentLayout *lay,
                          const AttnAlignmentLink *link)
{
  const AttnTokenSlot *a = &lay->top[link->col];
  const AttnTokenSlot *b = &lay->bottom[link->row];
  double ha = band_half_width (lay->top_pitch, link->t);
  double hb = band_half_width (lay->bottom_pitch, link->t);
  double ym = 0.5 * (a->y + b->y);
  /* Control points straight below and above the ends: the band leaves
   * and arrives vertically, and its centre at the curve's midpoint is
   * halfway across. */
  cairo_move_to (cr, a->x - ha, a->y);
  cairo_curve_to (cr, a->x - ha, ym, b->x - hb, ym, b->x - hb, b->y);
  cairo_line_to (cr, b->x + hb, b->y);
  cairo_curve_to (cr, b->x + hb, ym, a->x + ha, ym, a->x + ha, a->y);
  cairo_close_path (cr);
}

void
attn_alignment_link_midpoint (const AttnAlignmentLayout *lay,
                              const AttnAlignmentLink *link, double *x,
                              double *y)
{
  const AttnTokenSlot *a = &lay->top[link->col];
  const AttnTokenSlot *b = &lay->bottom[link->row];
  *x = 0.5 * (a->x + b->x);
  *y = 0.5 * (a->y + b->y);
}

gboolean
attn_alignment_layout_hit (const AttnAlignmentLayout *lay, double x, double y,
                           AttnHit *hit)
{
  attn_check (lay != NULL && hit != NULL);
  attn_view_util_hit_clear (hit);
  hit->layer = lay->layer;
  hit->head = lay->head;
  const AttnViewMatrix *m = lay->matrix;
  for (int c = 0; c < m->n_cols; c++)
    if (attn_view_util_rect_contains (&lay->top[c].box, x, y))
      {
        hit->kind = ATTN_HIT_KEY;
        hit->key = m->col_token[c];
        return TRUE;
      }
  for (int r = 0; r < m->n_rows; r++)
    if (attn_view_util_rect_contains (&lay->bottom[r].box, x, y))
      {
        hit->kind = ATTN_HIT_QUERY;
        hit->query = m->row_token[r];
        return TRUE;
      }
  if (y < lay->band_top || y > lay->band_bottom || lay->n_links == 0)
    return FALSE;

  /* The topmost band under the point, tested on the band's own outline. */
  cairo_surface_t *scratch = cairo_image_surface_create (CAIRO_FORMAT_A8, 1, 1);
  cairo_t *cr = cairo_create (scratch);
  gboolean found = FALSE;
  for (int i = lay->n_links - 1; i >= 0 && !found; i--)
    {
      const AttnAlignmentLink *link = &lay->links[i];
      const AttnTokenSlot *a = &lay->top[link->col];
      const AttnTokenSlot *b = &lay->bottom[link->row];
      double reach = MAX (band_half_width (lay->top_pitch, link->t),
                          band_half_width (lay->bottom_pitch, link->t));
      if (x < MIN (a->x, b->x) - reach || x > MAX (a->x, b->x) + reach)
        continue;
      cairo_new_path (cr);
      attn_alignment_link_path (cr, lay, link);
      if (cairo_in_fill (cr, x, y))
        {
          hit->kind = ATTN_HIT_CELL;
          hit->query = m->row_token[link->row];
          hit->key = m->col_token[link->col];
          hit->weight = link->weight;
          found = TRUE;
        }
    }
  cairo_destroy (cr);
  cairo_surface_destroy (scratch);
  return found;
}

static void
draw_row_labels (cairo_t *cr, const AttnAlignmentLayout *lay,
                 const AttnRenderStyle *style, gboolean top)
{
  const AttnViewMatrix *m = lay->matrix;
  int n = top ? m->n_cols : m->n_rows;
  const AttnTokenSlot *slots = top ? lay->top : lay->bottom;
  char **texts = top ? lay->top_text : lay->bottom_text;
  const gboolean *special = top ? lay->top_special : lay->bottom_special;
  int selected = top ? lay->selected_col : lay->selected_row;
  for (int i = 0; i < n; i++)
    {
      if (!slots[i].show_label && i != selected)
        continue;
      g_autoptr (PangoLayout) label = attn_text_layout_new (
          lay->context, style, lay->label_scale, i == selected, texts[i]);
      attn_text_fit_width (label, lay->label_max_width);
      const AttnRgba *color = i == selected ? &style->accent
                              : special[i]  ? &style->muted
                                            : &style->foreground;
      double y = top ? slots[i].box.y + slots[i].box.height : slots[i].box.y;
      if (lay->labels_rotated)
        attn_text_draw (cr, label, slots[i].x, y, -G_PI / 2.0, top ? 0.0 : 1.0,
                        0.5, color);
      else
        attn_text_draw (cr, label, slots[i].x, y, 0.0, 0.5, top ? 1.0 : 0.0,
                        color);
    }
}

/* A short bar in the accent colour where the selected token's links
 * attach. */
static void
draw_anchor_mark (cairo_t *cr, const AttnTokenSlot *slot, double pitch,
                  double thick, gboolean top, const AttnRenderStyle *style)
{
  double w = MAX (BAND_MAX_SHARE * pitch, 2.0 * thick);
  cairo_rectangle (cr, slot->x - 0.5 * w, top ? slot->y - thick : slot->y, w,
                   thick);
  cairo_set_source_rgba (cr, style->accent.r, style->accent.g, style->accent.b,
                         style->accent.a);
  cairo_fill (cr);
}

void
attn_alignment_render_layout (cairo_t *cr, const AttnAlignmentLayout *lay,
                              const AttnRenderStyle *style)
{
  attn_check (cr != NULL && lay != NULL && style != NULL);
  cairo_save (cr);
  attn_text_context_update (lay->context, cr);
  attn_view_util_fill_background (cr, style, lay->width, lay->height);

  AttnRgba ink
      = lay->head >= 0 ? attn_head_color (lay->head, style) : style->foreground;
  cairo_set_tolerance (cr, 0.5);
  for (int i = 0; i < lay->n_links; i++)
    {
      const AttnAlignmentLink *link = &lay->links[i];
      attn_alignment_link_path (cr, lay, link);
      cairo_set_source_rgba (cr, ink.r, ink.g, ink.b, link->t);
      cairo_fill (cr);
    }

  double fs = style->font_size > 0.0 ? style->font_size : 12.0;
  double thick = MAX (0.2 * fs, 1.0);
  if (lay->selected_col >= 0)
    draw_anchor_mark (cr, &lay->top[lay->selected_col], lay->top_pitch, thick,
                      TRUE, style);
  if (lay->selected_row >= 0)
    draw_anchor_mark (cr, &lay->bottom[lay->selected_row], lay->bottom_pitch,
                      thick, FALSE, style);

  if (lay->show_labels)
    {
      draw_row_labels (cr, lay, style, TRUE);
      draw_row_labels (cr, lay, style, FALSE);
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
attn_alignment_render (cairo_t *cr, const AttnTrace *trace,
                       const AttnSelection *sel, const AttnRenderStyle *style,
                       double width, double height, GError **error)
{
  g_autoptr (AttnAlignmentLayout) lay
      = attn_alignment_layout_new (trace, sel, style, width, height, error);
  if (lay == NULL)
    return FALSE;
  attn_alignment_render_layout (cr, lay, style);
  return TRUE;
}

gboolean
attn_alignment_hit_test (const AttnTrace *trace, const AttnSelection *sel,
                         const AttnRenderStyle *style, double width,
                         double height, double x, double y, AttnHit *hit)
{
  attn_check (hit != NULL);
  g_autoptr (AttnAlignmentLayout) lay
      = attn_alignment_layout_new (trace, sel, style, width, height, NULL);
  if (lay == NULL)
    {
      attn_view_util_hit_clear (hit);
      return FALSE;
    }
  return attn_alignment_layout_hit (lay, x, y, hit);
}
