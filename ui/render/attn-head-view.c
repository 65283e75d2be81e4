/* attn-head-view.c: the head view, its layout and hit-testing, and the
 * head palette. */
#include "ui/render/attn-head-view.h"

#include <glib/gi18n-lib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-text.h"

#define TITLE_SCALE 1.15
#define LABEL_SCALE 1.0
#define LEGEND_SCALE 0.85
#define NOTE_SCALE 0.85

/* Longest a label may get, in font sizes and as a share of the width. */
#define LABEL_MAX_EMS 10.0
#define LABEL_MAX_SHARE 0.3

/* Rows never spread further apart than this many label heights: a short
 * sentence stays a compact column instead of filling a tall window. */
#define MAX_ROW_PITCH 2.4

/* Paul Tol's qualitative schemes (https://personal.sron.nl/~pault/):
 * "muted" (rose, indigo, sand, green, cyan, wine, teal, purple; its olive
 * left out so both sets have eight) and "light" (light blue, orange, light
 * yellow, pink, light cyan, mint, pear, olive). */
static const guint32 palette_light_bg[ATTN_HEAD_PALETTE_SIZE] = {
  0xcc6677, 0x332288, 0xddcc77, 0x117733,
  0x88ccee, 0x882255, 0x44aa99, 0xaa4499,
};
static const guint32 palette_dark_bg[ATTN_HEAD_PALETTE_SIZE] = {
  0x77aadd, 0xee8866, 0xeedd88, 0xffaabb,
  0x99ddff, 0x44bb99, 0xbbcc33, 0xaaaa00,
};

AttnRgba
attn_head_color (int head, const AttnRenderStyle *style)
{
  attn_check (head >= 0 && style != NULL);
  const AttnRgba *bg = &style->background;
  double lum = 0.2126 * bg->r + 0.7152 * bg->g + 0.0722 * bg->b;
  guint32 hex = (lum >= 0.5 ? palette_light_bg
                            : palette_dark_bg)[head % ATTN_HEAD_PALETTE_SIZE];
  return (AttnRgba){ ((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0,
                     (hex & 0xff) / 255.0, 1.0 };
}

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
line_compare (const void *a, const void *b)
{
  const AttnHeadViewLine *x = a, *y = b;
  if (x->weight != y->weight)
    return x->weight < y->weight ? -1 : 1;
  if (x->head != y->head)
    return x->head < y->head ? -1 : 1;
  if (x->row != y->row)
    return x->row < y->row ? -1 : 1;
  return x->col < y->col ? -1 : x->col > y->col;
}

/* "Decoder self-attention · layer 1 · 4 heads", "... · heads 0, 2",
 * "... · no heads shown". */
static char *
make_title (AttnKind kind, int layer, int n_heads, guint64 shown, int n_shown)
{
  g_autofree char *base = attn_text_block_title (kind, layer, 0, n_heads);
  /* attn_text_block_title ends in " · head 0" (in any language, the last
   * " · " starts the head): keep what comes before. */
  char *cut = g_strrstr (base, " · ");
  if (cut != NULL)
    *cut = '\0';
  GString *s = g_string_new (base);
  if (n_shown == 0)
    g_string_append (s, _ (" · no heads shown"));
  else if (n_shown == n_heads)
    g_string_append_printf (s, " · %s",
                            n_heads == 1 ? _ ("1 head") : _ ("all heads"));
  else
    {
      g_string_append (s, n_shown == 1 ? _ (" · head ") : _ (" · heads "));
      gboolean first = TRUE;
      for (int h = 0; h < MIN (n_heads, 64); h++)
        if (shown & (G_GUINT64_CONSTANT (1) << h))
          {
            g_string_append_printf (s, first ? "%d" : ", %d", h);
            first = FALSE;
          }
    }
  return g_string_free (s, FALSE);
}

/* n slots in a column: boxes from box_x, box_w wide; anchors at anchor_x. */
static AttnTokenSlot *
slots_down (const int *tokens, int n, double y0, double pitch, double box_x,
            double box_w, double anchor_x, int label_step)
{
  AttnTokenSlot *slots = g_new0 (AttnTokenSlot, MAX (n, 1));
  for (int i = 0; i < n; i++)
    {
      slots[i].token = tokens[i];
      attn_view_util_rect_set (&slots[i].box, box_x, y0 + i * pitch, box_w,
                               pitch);
      slots[i].x = anchor_x;
      slots[i].y = y0 + (i + 0.5) * pitch;
      slots[i].show_label = i % label_step == 0;
    }
  return slots;
}

AttnHeadViewLayout *
attn_head_view_layout_new (const AttnTrace *trace, const AttnSelection *sel,
                           const AttnRenderStyle *style, double width,
                           double height, GError **error)
{
  attn_check (trace != NULL && sel != NULL && style != NULL);
  if (!attn_view_util_check_size ("head", width, height, error))
    return NULL;

  /* The block through the shared checks (kind, layer, range): head 0 is
   * always there. */
  AttnSelection one = *sel;
  one.head = 0;
  g_autoptr (AttnViewMatrix) probe = attn_view_matrix_new (trace, &one, error);
  if (probe == NULL)
    return NULL;
  const AttnBlock *block
      = attn_trace_lookup_block (trace, sel->kind, sel->layer);

  g_autoptr (AttnHeadViewLayout) lay = g_new0 (AttnHeadViewLayout, 1);
  lay->width = width;
  lay->height = height;
  lay->kind = sel->kind;
  lay->layer = sel->layer;
  lay->n_heads = block->n_heads;
  lay->n_rows = probe->n_rows;
  lay->n_cols = probe->n_cols;
  lay->context = attn_text_context_new ();
  lay->label_scale = LABEL_SCALE;

  guint64 all = block->n_heads >= 64
                    ? G_MAXUINT64
                    : (G_GUINT64_CONSTANT (1) << block->n_heads) - 1;
  lay->shown = sel->head_subset == 0 ? all : sel->head_subset & all;
  gboolean renormalised = FALSE;
  lay->matrices = g_new0 (AttnViewMatrix *, block->n_heads);
  for (int h = 0; h < block->n_heads; h++)
    {
      if (h >= 64 ? sel->head_subset != 0
                  : !(lay->shown & (G_GUINT64_CONSTANT (1) << h)))
        continue;
      one.head = h;
      lay->matrices[h] = attn_view_matrix_new (trace, &one, NULL);
      attn_check (lay->matrices[h] != NULL);
      renormalised |= lay->matrices[h]->renormalised;
      lay->n_shown++;
    }
  lay->title = make_title (sel->kind, sel->layer, block->n_heads, lay->shown,
                           lay->n_shown);

  int nr = lay->n_rows, nc = lay->n_cols;

  /* The lines, strongest last; only the selected token's when one is. */
  lay->selected_row = find_index (probe->row_token, nr, sel->selected_query);
  lay->selected_col = find_index (probe->col_token, nc, sel->selected_key);
  gboolean any_selected = lay->selected_row >= 0 || lay->selected_col >= 0;
  lay->lines = g_new (AttnHeadViewLine, MAX ((gsize)lay->n_shown * nr * nc, 1));
  for (int h = 0; h < block->n_heads; h++)
    {
      const AttnViewMatrix *m = lay->matrices[h];
      if (m == NULL)
        continue;
      for (int r = 0; r < nr; r++)
        for (int c = 0; c < nc; c++)
          {
            float w = m->w[(gsize)r * nc + c];
            if (!(w > 0.0f) || w < style->threshold)
              continue;
            if (any_selected && r != lay->selected_row
                && c != lay->selected_col)
              continue;
            double t = attn_render_style_map (style, w, m->max);
            if (!(t > 0.0))
              continue;
            lay->lines[lay->n_lines++] = (AttnHeadViewLine){
              .head = h, .row = r, .col = c, .weight = w, .t = t
            };
          }
    }
  qsort (lay->lines, lay->n_lines, sizeof *lay->lines, line_compare);
  lay->n_lines_total = lay->n_lines;
  if (lay->n_lines > ATTN_VIEW_MAX_LINKS)
    {
      /* Keep the strongest: the array is weakest first. */
      memmove (lay->lines, lay->lines + lay->n_lines - ATTN_VIEW_MAX_LINKS,
               ATTN_VIEW_MAX_LINKS * sizeof *lay->lines);
      lay->n_lines = ATTN_VIEW_MAX_LINKS;
    }
  lay->note
      = attn_view_util_note_links (attn_view_util_note (sel, renormalised),
                                   lay->n_lines, lay->n_lines_total);

  lay->left_text
      = attn_view_util_token_texts (trace, attn_kind_query_side (sel->kind),
                                    probe->row_token, nr, &lay->left_special);
  lay->right_text
      = attn_view_util_token_texts (trace, attn_kind_key_side (sel->kind),
                                    probe->col_token, nc, &lay->right_special);

  PangoContext *ctx = lay->context;
  double fs = style->font_size > 0.0 ? style->font_size : 12.0;
  double title_h, note_h = 0.0, lh, legend_h;
  attn_view_util_text_size (ctx, style, TITLE_SCALE, TRUE, lay->title, NULL,
                            &title_h);
  if (lay->note != NULL)
    attn_view_util_text_size (ctx, style, NOTE_SCALE, FALSE, lay->note, NULL,
                              &note_h);
  attn_view_util_text_size (ctx, style, LABEL_SCALE, FALSE, "Ag", NULL, &lh);
  attn_view_util_text_size (ctx, style, LEGEND_SCALE, FALSE, "0", NULL,
                            &legend_h);

  double pad = MIN (0.6 * fs, 0.04 * MIN (width, height));
  double x0 = pad, y0 = pad, x1 = width - pad, y1 = height - pad;
  if (y1 - y0 >= title_h + 8.0 * lh && x1 - x0 >= 12.0 * lh)
    {
      lay->show_title = TRUE;
      attn_view_util_rect_set (&lay->title_rect, x0, y0, x1 - x0, title_h);
      y0 += title_h + 0.5 * fs;
    }

  /* Swatches: squares as high as a legend digit plus a margin, the head
   * number inside, in one row when they fit. */
  double sw = legend_h * 1.3, sgap = 0.3 * sw;
  if (y1 - y0 >= sw + 8.0 * lh
      && block->n_heads * (sw + sgap) - sgap <= x1 - x0)
    {
      lay->show_legend = TRUE;
      lay->swatches = g_new0 (cairo_rectangle_t, block->n_heads);
      double total = block->n_heads * (sw + sgap) - sgap;
      double sx = 0.5 * (x0 + x1 - total);
      for (int h = 0; h < block->n_heads; h++)
        attn_view_util_rect_set (&lay->swatches[h], sx + h * (sw + sgap), y0,
                                 sw, sw);
      y0 += sw + 0.6 * fs;
    }
  if (lay->note != NULL && y1 - y0 >= note_h + 6.0 * lh && x1 - x0 >= 12.0 * lh)
    {
      lay->show_note = TRUE;
      attn_view_util_rect_set (&lay->note_rect, x0, y1 - note_h, x1 - x0,
                               note_h);
      y1 -= note_h + 0.5 * fs;
    }

  /* Columns: [left labels][gap][lines][gap][right labels], centred, the
   * line field wide enough to tell slopes apart but not a whole screen. */
  lay->label_gap = 0.4 * fs;
  double widest = MAX (attn_view_util_widest (ctx, style, LABEL_SCALE, FALSE,
                                              lay->left_text, nr),
                       attn_view_util_widest (ctx, style, LABEL_SCALE, FALSE,
                                              lay->right_text, nc));
  lay->label_max_width
      = MIN (widest, MIN (LABEL_MAX_EMS * fs, LABEL_MAX_SHARE * (x1 - x0)));
  double avail = x1 - x0;
  lay->show_labels
      = avail >= 2.0 * (lay->label_max_width + lay->label_gap) + 4.0 * lh;
  double lw = lay->show_labels ? lay->label_max_width + lay->label_gap : 0.0;
  double field = MIN (avail - 2.0 * lw, MAX (14.0 * fs, 0.4 * avail));
  double left_anchor = 0.5 * (x0 + x1 - field);
  double right_anchor = left_anchor + field;

  int n = MAX (nr, nc);
  double pitch = MIN ((y1 - y0) / n, MAX_ROW_PITCH * lh);
  double pitch_l = (y1 - y0) / nr, pitch_r = (y1 - y0) / nc;
  /* Both columns share a pitch when one side has as many tokens as the
   * other (self-attention); a cross block's shorter side spreads out. */
  pitch_l = MIN (pitch_l, MAX_ROW_PITCH * lh);
  pitch_r = MIN (pitch_r, MAX_ROW_PITCH * lh);
  if (nr == nc)
    pitch_l = pitch_r = pitch;
  double span = MAX (nr * pitch_l, nc * pitch_r);
  lay->left_label_step = attn_text_label_step (pitch_l, lh, 0.1 * lh);
  lay->right_label_step = attn_text_label_step (pitch_r, lh, 0.1 * lh);
  lay->left = slots_down (
      probe->row_token, nr, y0 + 0.5 * (span - nr * pitch_l), pitch_l,
      left_anchor - lw, lw, left_anchor, lay->left_label_step);
  lay->right = slots_down (
      probe->col_token, nc, y0 + 0.5 * (span - nc * pitch_r), pitch_r,
      right_anchor, lw, right_anchor, lay->right_label_step);
  lay->line_width = MAX (fs / 6.0, 1.0);

  return g_steal_pointer (&lay);
}

void
attn_head_view_layout_free (AttnHeadViewLayout *lay)
{
  if (lay == NULL)
    return;
  if (lay->matrices != NULL)
    for (int h = 0; h < lay->n_heads; h++)
      attn_view_matrix_free (lay->matrices[h]);
  g_free (lay->matrices);
  g_free (lay->title);
  g_free (lay->note);
  g_free (lay->swatches);
  g_free (lay->left);
  g_free (lay->right);
  g_free (lay->lines);
  g_strfreev (lay->left_text);
  g_strfreev (lay->right_text);
  g_free (lay->left_special);
  g_free (lay->right_special);
  g_clear_object (&lay->context);
  g_free (lay);
}

gboolean
attn_head_view_layout_hit (const AttnHeadViewLayout *lay, double x, double y,
                           AttnHit *hit)
{
  attn_check (lay != NULL && hit != NULL);
  attn_view_util_hit_clear (hit);
  hit->layer = lay->layer;
  for (int r = 0; r < lay->n_rows; r++)
    if (attn_view_util_rect_contains (&lay->left[r].box, x, y))
      {
        hit->kind = ATTN_HIT_QUERY;
        hit->query = lay->left[r].token;
        return TRUE;
      }
  for (int c = 0; c < lay->n_cols; c++)
    if (attn_view_util_rect_contains (&lay->right[c].box, x, y))
      {
        hit->kind = ATTN_HIT_KEY;
        hit->key = lay->right[c].token;
        return TRUE;
      }
  return FALSE;
}

int
attn_head_view_layout_swatch_at (const AttnHeadViewLayout *lay, double x,
                                 double y)
{
  attn_check (lay != NULL);
  if (lay->show_legend)
    for (int h = 0; h < lay->n_heads; h++)
      if (attn_view_util_rect_contains (&lay->swatches[h], x, y))
        return h;
  return -1;
}

/* With a token selected, the other column's label boxes are tinted: one
 * vertical strip per shown head, its opacity that head's weight between
 * the selected token and this one. */
static void
draw_tints (cairo_t *cr, const AttnHeadViewLayout *lay,
            const AttnRenderStyle *style, gboolean right)
{
  int sel_index = right ? lay->selected_row : lay->selected_col;
  if (sel_index < 0 || lay->n_shown == 0 || !lay->show_labels)
    return;
  int n = right ? lay->n_cols : lay->n_rows;
  const AttnTokenSlot *slots = right ? lay->right : lay->left;
  for (int i = 0; i < n; i++)
    {
      const cairo_rectangle_t *b = &slots[i].box;
      /* The strips cover the label box minus the gap by the lines. */
      double bx = right ? b->x + lay->label_gap : b->x;
      double bw = b->width - lay->label_gap;
      double strip = bw / lay->n_shown;
      int s = 0;
      for (int h = 0; h < lay->n_heads; h++)
        {
          const AttnViewMatrix *m = lay->matrices[h];
          if (m == NULL)
            continue;
          float w = right ? m->w[(gsize)sel_index * m->n_cols + i]
                          : m->w[(gsize)i * m->n_cols + sel_index];
          double t = attn_render_style_map (style, w, m->max);
          AttnRgba c = attn_head_color (h, style);
          cairo_rectangle (cr, bx + s * strip, b->y + 0.06 * b->height, strip,
                           0.88 * b->height);
          cairo_set_source_rgba (cr, c.r, c.g, c.b, 0.85 * t);
          cairo_fill (cr);
          s++;
        }
    }
}

static void
draw_labels (cairo_t *cr, const AttnHeadViewLayout *lay,
             const AttnRenderStyle *style, gboolean right)
{
  int n = right ? lay->n_cols : lay->n_rows;
  const AttnTokenSlot *slots = right ? lay->right : lay->left;
  char **texts = right ? lay->right_text : lay->left_text;
  const gboolean *special = right ? lay->right_special : lay->left_special;
  int selected = right ? lay->selected_col : lay->selected_row;
  g_autoptr (PangoLayout) label
      = attn_text_layout_new (lay->context, style, lay->label_scale, FALSE, "");
  g_autoptr (PangoLayout) bold
      = attn_text_layout_new (lay->context, style, lay->label_scale, TRUE, "");
  attn_text_fit_width (label, lay->label_max_width);
  attn_text_fit_width (bold, lay->label_max_width);
  for (int i = 0; i < n; i++)
    {
      if (!slots[i].show_label && i != selected)
        continue;
      PangoLayout *l = i == selected ? bold : label;
      pango_layout_set_text (l, texts[i], -1);
      double x
          = right ? slots[i].x + lay->label_gap : slots[i].x - lay->label_gap;
      const AttnRgba *color = i == selected ? &style->accent
                              : special[i]  ? &style->muted
                                            : &style->foreground;
      attn_text_draw (cr, l, x, slots[i].y, 0.0, right ? 0.0 : 1.0, 0.5, color);
    }
}

void
attn_head_view_render_layout (cairo_t *cr, const AttnHeadViewLayout *lay,
                              const AttnRenderStyle *style)
{
  attn_check (cr != NULL && lay != NULL && style != NULL);
  cairo_save (cr);
  attn_text_context_update (lay->context, cr);
  attn_view_util_fill_background (cr, style, lay->width, lay->height);

  draw_tints (cr, lay, style, TRUE);
  draw_tints (cr, lay, style, FALSE);

  /* Butt caps: a line ends exactly at its anchors. */
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_BUTT);
  cairo_set_line_width (cr, lay->line_width);
  for (int i = 0; i < lay->n_lines; i++)
    {
      const AttnHeadViewLine *line = &lay->lines[i];
      const AttnTokenSlot *a = &lay->left[line->row];
      const AttnTokenSlot *b = &lay->right[line->col];
      AttnRgba c = attn_head_color (line->head, style);
      cairo_move_to (cr, a->x, a->y);
      cairo_line_to (cr, b->x, b->y);
      cairo_set_source_rgba (cr, c.r, c.g, c.b, line->t);
      cairo_stroke (cr);
    }

  if (lay->show_labels)
    {
      draw_labels (cr, lay, style, FALSE);
      draw_labels (cr, lay, style, TRUE);
    }

  if (lay->show_legend)
    {
      g_autoptr (PangoLayout) digit
          = attn_text_layout_new (lay->context, style, LEGEND_SCALE, FALSE, "");
      double lw = MAX (lay->line_width * 0.75, 1.0);
      for (int h = 0; h < lay->n_heads; h++)
        {
          const cairo_rectangle_t *r = &lay->swatches[h];
          AttnRgba c = attn_head_color (h, style);
          gboolean on = lay->matrices[h] != NULL;
          cairo_rectangle (cr, r->x + 0.5 * lw, r->y + 0.5 * lw, r->width - lw,
                           r->height - lw);
          cairo_set_source_rgba (cr, c.r, c.g, c.b, 1.0);
          cairo_set_line_width (cr, lw);
          if (on)
            cairo_fill_preserve (cr);
          cairo_stroke (cr);
          g_autofree char *num = g_strdup_printf ("%d", h);
          pango_layout_set_text (digit, num, -1);
          AttnRgba ink
              = on ? attn_view_util_text_on (c.r, c.g, c.b) : style->foreground;
          attn_text_draw (cr, digit, r->x + 0.5 * r->width,
                          r->y + 0.5 * r->height, 0.0, 0.5, 0.5, &ink);
        }
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
attn_head_view_render (cairo_t *cr, const AttnTrace *trace,
                       const AttnSelection *sel, const AttnRenderStyle *style,
                       double width, double height, GError **error)
{
  g_autoptr (AttnHeadViewLayout) lay
      = attn_head_view_layout_new (trace, sel, style, width, height, error);
  if (lay == NULL)
    return FALSE;
  attn_head_view_render_layout (cr, lay, style);
  return TRUE;
}

gboolean
attn_head_view_hit_test (const AttnTrace *trace, const AttnSelection *sel,
                         const AttnRenderStyle *style, double width,
                         double height, double x, double y, AttnHit *hit)
{
  attn_check (hit != NULL);
  g_autoptr (AttnHeadViewLayout) lay
      = attn_head_view_layout_new (trace, sel, style, width, height, NULL);
  if (lay == NULL)
    {
      attn_view_util_hit_clear (hit);
      return FALSE;
    }
  return attn_head_view_layout_hit (lay, x, y, hit);
}
