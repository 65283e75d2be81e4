/* attn-view.c: the parts of attn-view.h every view shares — styles,
 * selections, the prepared matrix, the weight-to-colour scale, token display
 * text — and the dispatch to each view's own functions. */
#include "ui/render/attn-view.h"

#include <math.h>
#include <string.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-alignment.h"
#include "ui/render/attn-head-view.h"
#include "ui/render/attn-heatmap.h"
#include "ui/render/attn-model-view.h"
#include "ui/render/attn-step-view.h"

/* Lower end of the logarithmic scale: weights at or below it get the bottom
 * colour. 1e-4 is where attention stops being visible in practice; a decade
 * more would spend a fifth of the colour map on noise. */
#define LOG_SCALE_FLOOR 1e-4

static AttnRgba
rgb_hex (guint32 hex)
{
  return (AttnRgba){ ((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0,
                     (hex & 0xff) / 255.0, 1.0 };
}

void
attn_render_style_init (AttnRenderStyle *style, AttnTheme theme)
{
  attn_check (style != NULL);
  attn_check (theme == ATTN_THEME_LIGHT || theme == ATTN_THEME_DARK
              || theme == ATTN_THEME_PRESENTATION);

  memset (style, 0, sizeof *style);
  style->theme = theme;
  style->colormap = ATTN_COLORMAP_VIRIDIS;
  style->reversed = FALSE;
  style->scale = ATTN_SCALE_FIXED;
  style->font_family = g_strdup ("Sans");
  style->show_values = FALSE;
  /* Links under 1 % cannot be told from the background at any opacity a
   * band can have; hiding them keeps long inputs readable. */
  style->threshold = 0.01;

  /* Colours from the GNOME palette (libadwaita's window colours). The
   * accent must stand out on every colour map: viridis, magma and cividis
   * have no saturated orange-red, grey none at all. */
  switch (theme)
    {
    case ATTN_THEME_LIGHT:
      style->background = rgb_hex (0xffffff);
      style->foreground = rgb_hex (0x241f31);
      style->muted = rgb_hex (0x77767b);
      style->accent = rgb_hex (0xe01b24);
      style->font_size = 12.0;
      break;
    case ATTN_THEME_DARK:
      style->background = rgb_hex (0x242424);
      style->foreground = rgb_hex (0xffffff);
      style->muted = rgb_hex (0x9a9996);
      style->accent = rgb_hex (0xff7800);
      style->font_size = 12.0;
      break;
    case ATTN_THEME_PRESENTATION:
      /* Black on white reads best on a projector; type large enough for
       * the back of a classroom on a 1280-pixel-wide beamer. */
      style->background = rgb_hex (0xffffff);
      style->foreground = rgb_hex (0x000000);
      style->muted = rgb_hex (0x3d3846);
      style->accent = rgb_hex (0xc01c28);
      style->font_size = 22.0;
      break;
    }
}

void
attn_render_style_clear (AttnRenderStyle *style)
{
  if (style == NULL)
    return;
  g_clear_pointer (&style->font_family, g_free);
}

AttnRenderStyle *
attn_render_style_new (AttnTheme theme)
{
  AttnRenderStyle *style = g_new0 (AttnRenderStyle, 1);
  attn_render_style_init (style, theme);
  return style;
}

void
attn_render_style_free (AttnRenderStyle *style)
{
  if (style == NULL)
    return;
  attn_render_style_clear (style);
  g_free (style);
}

static const char *const view_names[ATTN_N_VIEWS] = {
  [ATTN_VIEW_HEATMAP] = "heatmap", [ATTN_VIEW_ALIGNMENT] = "alignment",
  [ATTN_VIEW_HEADS] = "head",      [ATTN_VIEW_MODEL] = "model",
  [ATTN_VIEW_STEP] = "step",
};

const char *
attn_view_kind_to_string (AttnViewKind kind)
{
  attn_check ((int)kind >= 0 && (int)kind < ATTN_N_VIEWS);
  return view_names[kind];
}

gboolean
attn_view_kind_from_string (const char *str, AttnViewKind *kind)
{
  attn_check (kind != NULL);
  if (str == NULL)
    return FALSE;
  for (int i = 0; i < ATTN_N_VIEWS; i++)
    if (strcmp (str, view_names[i]) == 0)
      {
        *kind = (AttnViewKind)i;
        return TRUE;
      }
  return FALSE;
}

void
attn_selection_init (AttnSelection *sel, AttnKind kind)
{
  attn_check (sel != NULL);
  memset (sel, 0, sizeof *sel);
  sel->kind = kind;
  sel->layer = 0;
  sel->head = 0;
  sel->head_subset = 0;
  sel->selected_query = -1;
  sel->selected_key = -1;
  sel->step = 0;
  sel->hide_special = FALSE;
  sel->hide_sink = FALSE;
  sel->range_start = -1;
  sel->range_end = -1;
}

/* The layers of `kind` the trace has, as "0–3" or "0, 2" for messages;
 * NULL when it has none. */
static char *
layers_of_kind (const AttnTrace *trace, AttnKind kind)
{
  g_autoptr (GString) s = g_string_new (NULL);
  int run_start = -1, prev = -2;
  for (int l = 0; l <= trace->n_layers; l++)
    {
      gboolean has = l < trace->n_layers
                     && attn_trace_lookup_block (trace, kind, l) != NULL;
      if (has && prev == l - 1 && run_start >= 0)
        {
          prev = l;
          continue;
        }
      if (run_start >= 0)
        {
          if (s->len > 0)
            g_string_append (s, ", ");
          if (prev == run_start)
            g_string_append_printf (s, "%d", run_start);
          else
            g_string_append_printf (s, "%d–%d", run_start, prev);
          run_start = -1;
        }
      if (has)
        run_start = prev = l;
    }
  return s->len > 0 ? g_string_free (g_steal_pointer (&s), FALSE) : NULL;
}

/* The kinds the trace has blocks of, as "encoder-self, cross". */
static char *
kinds_present (const AttnTrace *trace)
{
  g_autoptr (GString) s = g_string_new (NULL);
  for (int k = 0; k < ATTN_N_KINDS; k++)
    {
      g_autofree char *layers = layers_of_kind (trace, (AttnKind)k);
      if (layers == NULL)
        continue;
      if (s->len > 0)
        g_string_append (s, ", ");
      g_string_append (s, attn_kind_to_string ((AttnKind)k));
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* The block sel names, or NULL with an error naming what the trace has. */
static const AttnBlock *
lookup_selected_block (const AttnTrace *trace, const AttnSelection *sel,
                       GError **error)
{
  if ((int)sel->kind < 0 || (int)sel->kind >= ATTN_N_KINDS)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "unknown attention kind %d: expected encoder-self, "
                   "decoder-self or cross",
                   (int)sel->kind);
      return NULL;
    }
  const char *kind = attn_kind_to_string (sel->kind);
  g_autofree char *layers = layers_of_kind (trace, sel->kind);
  if (layers == NULL)
    {
      g_autofree char *kinds = kinds_present (trace);
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "the trace has no %s attention: it has %s", kind,
                   kinds[0] != '\0' ? kinds : "no attention blocks");
      return NULL;
    }
  const AttnBlock *block
      = sel->layer >= 0 ? attn_trace_lookup_block (trace, sel->kind, sel->layer)
                        : NULL;
  if (block == NULL)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "layer %d out of range for %s attention: valid layers "
                   "are %s",
                   sel->layer, kind, layers);
      return NULL;
    }
  if (!(sel->head == ATTN_HEADS_MEAN || sel->head == ATTN_HEADS_MAX
        || (sel->head >= 0 && sel->head < block->n_heads)))
    {
      if (block->n_heads == 1)
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                     "head %d out of range: %s layer %d has one head, 0 "
                     "(or mean or max)",
                     sel->head, kind, sel->layer);
      else
        g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                     "head %d out of range: valid heads of %s layer %d are "
                     "0–%d, mean or max",
                     sel->head, kind, sel->layer, block->n_heads - 1);
      return NULL;
    }
  return block;
}

/* Trace indices of one axis kept by the zoom and by hiding. The zoom
 * [start, end) applies to each axis clipped to its length; an axis the range
 * lies wholly beyond (the short side of a cross-attention block) is kept
 * whole, so zooming into a long source does not empty a short target. */
static int *
axis_tokens (const AttnTrace *trace, AttnSide side, const AttnSelection *sel,
             gboolean is_key_axis, int *n_out)
{
  int n = (int)attn_trace_n_tokens (trace, side);
  int lo = 0, hi = n;
  if (sel->range_start >= 0 && sel->range_start < n)
    {
      lo = sel->range_start;
      hi = MIN (sel->range_end, n);
    }
  int *idx = g_new (int, MAX (hi - lo, 1));
  int m = 0;
  for (int i = lo; i < hi; i++)
    {
      const AttnToken *tok = attn_trace_get_token (trace, side, i);
      if (sel->hide_special && tok->special)
        continue;
      if (sel->hide_sink && is_key_axis && i == 0)
        continue;
      idx[m++] = i;
    }
  *n_out = m;
  return idx;
}

/* Whether key k of the whole axis is hidden (not merely zoomed out): the
 * renormalisation spreads a row over every key not hidden, inside the zoom
 * or not, so zooming never changes a weight. */
static gboolean
key_hidden (const AttnTrace *trace, AttnSide side, const AttnSelection *sel,
            int k)
{
  if (sel->hide_sink && k == 0)
    return TRUE;
  return sel->hide_special && attn_trace_get_token (trace, side, k)->special;
}

AttnViewMatrix *
attn_view_matrix_new (const AttnTrace *trace, const AttnSelection *sel,
                      GError **error)
{
  attn_check (trace != NULL && sel != NULL);
  const AttnBlock *block = lookup_selected_block (trace, sel, error);
  if (block == NULL)
    return NULL;

  AttnSide qside = attn_kind_query_side (sel->kind);
  AttnSide kside = attn_kind_key_side (sel->kind);
  int tq = block->n_queries, tk = block->n_keys;
  attn_check ((int)attn_trace_n_tokens (trace, qside) == tq);
  attn_check ((int)attn_trace_n_tokens (trace, kside) == tk);

  if (!(sel->range_start == -1 && sel->range_end == -1))
    {
      int longest = MAX (tq, tk);
      if (sel->range_start < 0 || sel->range_end <= sel->range_start
          || sel->range_end > longest)
        {
          g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                       "token range [%d, %d) is not valid for %s layer %d: "
                       "expected 0 <= start < end <= %d (or -1, -1 for all "
                       "tokens)",
                       sel->range_start, sel->range_end,
                       attn_kind_to_string (sel->kind), sel->layer, longest);
          return NULL;
        }
    }

  int n_rows, n_cols;
  g_autofree int *rows = axis_tokens (trace, qside, sel, FALSE, &n_rows);
  g_autofree int *cols = axis_tokens (trace, kside, sel, TRUE, &n_cols);
  if (n_rows == 0 || n_cols == 0)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "nothing left to show of %s layer %d: hiding %s leaves "
                   "no %s tokens in the range",
                   attn_kind_to_string (sel->kind), sel->layer,
                   sel->hide_special && sel->hide_sink
                       ? "special tokens and the first token"
                   : sel->hide_special ? "special tokens"
                                       : "the first token",
                   n_rows == 0 ? "query" : "key");
      return NULL;
    }

  g_autofree gboolean *hidden = g_new (gboolean, tk);
  gboolean any_hidden = FALSE;
  for (int k = 0; k < tk; k++)
    any_hidden |= hidden[k] = key_hidden (trace, kside, sel, k);

  AttnViewMatrix *m = g_new0 (AttnViewMatrix, 1);
  m->n_rows = n_rows;
  m->n_cols = n_cols;
  m->row_token = g_steal_pointer (&rows);
  m->col_token = g_steal_pointer (&cols);
  m->w = g_new0 (float, (gsize)n_rows *n_cols);

  /* Each head is renormalised on its own before the mean or max is taken:
   * hiding the sink asks "where does each head look among the other
   * tokens", and a head that put everything on the sink contributes an
   * empty row rather than borrowing another head's distribution. A row
   * keeps the total it had (1 for a normalised block; the Gaussian window's
   * total for Luong local-p) spread over the keys left; a row with nothing
   * left stays zero. */
  int h0 = sel->head >= 0 ? sel->head : 0;
  int h1 = sel->head >= 0 ? sel->head + 1 : block->n_heads;
  gsize plane = (gsize)tq * tk;
  g_autofree double *row = g_new (double, n_cols);
  for (int r = 0; r < n_rows; r++)
    {
      int q = m->row_token[r];
      float *out = m->w + (gsize)r * n_cols; /* (n_cols) */
      memset (row, 0, n_cols * sizeof *row);
      for (int h = h0; h < h1; h++)
        {
          const float *src
              = block->weights + h * plane + (gsize)q * tk; /* (Tk) */
          double scale = 1.0;
          if (any_hidden)
            {
              double total = 0.0, kept = 0.0;
              for (int k = 0; k < tk; k++)
                {
                  total += src[k];
                  if (!hidden[k])
                    kept += src[k];
                }
              double target = block->normalised ? 1.0 : total;
              scale = kept > 0.0 ? target / kept : 0.0;
              if (kept < total)
                m->renormalised = TRUE;
            }
          for (int c = 0; c < n_cols; c++)
            {
              double v = src[m->col_token[c]] * scale;
              if (sel->head == ATTN_HEADS_MAX)
                row[c] = MAX (row[c], v);
              else
                row[c] += v;
            }
        }
      for (int c = 0; c < n_cols; c++)
        {
          double v = row[c];
          if (sel->head == ATTN_HEADS_MEAN)
            v /= block->n_heads;
          /* Renormalising in double can land a hair above 1. */
          out[c] = (float)MIN (v, 1.0);
          m->max = MAX (m->max, out[c]);
        }
    }
  return m;
}

void
attn_view_matrix_free (AttnViewMatrix *m)
{
  if (m == NULL)
    return;
  g_free (m->w);
  g_free (m->row_token);
  g_free (m->col_token);
  g_free (m);
}

double
attn_render_style_map (const AttnRenderStyle *style, float w, float matrix_max)
{
  attn_check (style != NULL);
  /* !(w > 0) also catches NaN: it gets the bottom colour. */
  if (!(w > 0.0f))
    return 0.0;
  double t;
  switch (style->scale)
    {
    case ATTN_SCALE_MAX:
      t = matrix_max > 0.0f ? (double)w / matrix_max : 0.0;
      break;
    case ATTN_SCALE_LOG:
      t = (log10 (w) - log10 (LOG_SCALE_FLOOR)) / -log10 (LOG_SCALE_FLOOR);
      break;
    case ATTN_SCALE_FIXED:
    default:
      t = w;
      break;
    }
  return CLAMP (t, 0.0, 1.0);
}

/* Appends the visible stand-in for c, or nothing when c shows as itself. */
static gboolean
append_visible (GString *out, gunichar c)
{
  switch (c)
    {
    case ' ':
      g_string_append (out, "␣");
      return TRUE;
    case '\n':
      g_string_append (out, "↵");
      return TRUE;
    case '\t':
      g_string_append (out, "⇥");
      return TRUE;
    case 0x00a0: /* no-break space: the ISO 9995-7 symbol for it */
      g_string_append (out, "⍽");
      return TRUE;
    case 0x007f:
      g_string_append_unichar (out, 0x2421); /* ␡ */
      return TRUE;
    default:
      break;
    }
  if (c < 0x20)
    {
      g_string_append_unichar (out, 0x2400 + c); /* ␀ .. ␟ */
      return TRUE;
    }
  /* C1 controls and the line and paragraph separators have no picture;
   * their code point is what a user can look up. */
  if ((c >= 0x80 && c < 0xa0) || c == 0x2028 || c == 0x2029)
    {
      g_string_append_printf (out, "<U+%04X>", c);
      return TRUE;
    }
  /* Other spaces (en, em, thin, ideographic, ...) would look like nothing
   * or like an ordinary gap. */
  if (g_unichar_type (c) == G_UNICODE_SPACE_SEPARATOR)
    {
      g_string_append (out, "␣");
      return TRUE;
    }
  return FALSE;
}

char *
attn_token_display_text (const char *text)
{
  attn_check (text != NULL);
  g_autofree char *valid = g_utf8_make_valid (text, -1);
  /* An empty token (a byte-level fragment, a blank special) still needs a
   * label that can be seen and clicked. */
  if (valid[0] == '\0')
    return g_strdup ("∅");
  GString *out = g_string_sized_new (strlen (valid) + 8);
  for (const char *p = valid; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      if (!append_visible (out, c))
        g_string_append_len (out, p, g_utf8_next_char (p) - p);
    }
  return g_string_free (out, FALSE);
}

typedef gboolean (*ViewRenderFunc) (cairo_t *cr, const AttnTrace *trace,
                                    const AttnSelection *sel,
                                    const AttnRenderStyle *style, double width,
                                    double height, GError **error);
typedef gboolean (*ViewHitFunc) (const AttnTrace *trace,
                                 const AttnSelection *sel,
                                 const AttnRenderStyle *style, double width,
                                 double height, double x, double y,
                                 AttnHit *hit);

static const struct
{
  ViewRenderFunc render;
  ViewHitFunc hit_test;
} views[ATTN_N_VIEWS] = {
  [ATTN_VIEW_HEATMAP] = { attn_heatmap_render, attn_heatmap_hit_test },
  [ATTN_VIEW_ALIGNMENT] = { attn_alignment_render, attn_alignment_hit_test },
  [ATTN_VIEW_HEADS] = { attn_head_view_render, attn_head_view_hit_test },
  [ATTN_VIEW_MODEL] = { attn_model_view_render, attn_model_view_hit_test },
  [ATTN_VIEW_STEP] = { attn_step_view_render, attn_step_view_hit_test },
};

gboolean
attn_view_render (AttnViewKind view, cairo_t *cr, const AttnTrace *trace,
                  const AttnSelection *sel, const AttnRenderStyle *style,
                  double width, double height, GError **error)
{
  attn_check (cr != NULL && trace != NULL && sel != NULL && style != NULL);
  if ((int)view < 0 || (int)view >= ATTN_N_VIEWS)
    {
      g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
                   "unknown view %d: expected heatmap, alignment, head, "
                   "model or step",
                   (int)view);
      return FALSE;
    }
  return views[view].render (cr, trace, sel, style, width, height, error);
}

gboolean
attn_view_hit_test (AttnViewKind view, const AttnTrace *trace,
                    const AttnSelection *sel, const AttnRenderStyle *style,
                    double width, double height, double x, double y,
                    AttnHit *hit)
{
  attn_check (trace != NULL && sel != NULL && style != NULL && hit != NULL);
  if ((int)view < 0 || (int)view >= ATTN_N_VIEWS)
    {
      *hit = (AttnHit){ .kind = ATTN_HIT_NONE,
                        .query = -1,
                        .key = -1,
                        .layer = -1,
                        .head = -1,
                        .candidate = -1 };
      return FALSE;
    }
  return views[view].hit_test (trace, sel, style, width, height, x, y, hit);
}
