/* attn-attention-view.c: a view of a trace as a GTK widget (see the
 * header). */
#include "ui/attn-attention-view.h"

#include <adwaita.h>
#include <glib/gi18n-lib.h>
#include <math.h>
#include <string.h>

#include "ui/render/attn-heatmap.h"
#include "ui/render/attn-model-view.h"

G_DEFINE_ENUM_TYPE (AttnViewKind, attn_view_kind,
                    G_DEFINE_ENUM_VALUE (ATTN_VIEW_HEATMAP, "heatmap"),
                    G_DEFINE_ENUM_VALUE (ATTN_VIEW_ALIGNMENT, "alignment"),
                    G_DEFINE_ENUM_VALUE (ATTN_VIEW_HEADS, "head"),
                    G_DEFINE_ENUM_VALUE (ATTN_VIEW_MODEL, "model"),
                    G_DEFINE_ENUM_VALUE (ATTN_VIEW_STEP, "step"))

/* How many links the accessible description names. */
#define N_STRONGEST 3
/* The model grid ranks links over every head only up to this many weights
 * (a 12 x 12 GPT-2 at 1,024 tokens has 150 million). */
#define MAX_RANKED_WEIGHTS (1 << 22)

struct _AttnAttentionView
{
  GtkWidget parent_instance;

  AttnViewKind kind;
  const AttnTrace *trace; /* borrowed, see set_trace */
  AttnSelection sel;
  AttnViewOptions options;
  AttnHit hover;

  char *accessible_label;
  char *accessible_description;
  gboolean accessible_stale; /* to redo when next mapped */
  char *render_error;

  /* Kept between redraws so that a hover, a selected token or a resize
   * does not recompute the matrix (which for a long text is most of the
   * work): the heatmap's layout, valid for the trace, the matrix part of
   * the selection and the type below; the model grid's thumbnails. */
  AttnHeatmapLayout *heatmap_layout;
  AttnTheme layout_theme;
  char *layout_font_family;
  double layout_font_size;
  AttnThumbnailCache *thumbnails;

  /* Gestures in flight: the range when a drag began, the pinch's scale
   * at the last zoom step. */
  int drag_start;
  double pinch_scale;
};

G_DEFINE_FINAL_TYPE (AttnAttentionView, attn_attention_view, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_VIEW_KIND,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

enum
{
  HOVER_CHANGED,
  TOKEN_ACTIVATED,
  TOKEN_SELECTED,
  THUMBNAIL_ACTIVATED,
  RANGE_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

void
attn_view_options_init (AttnViewOptions *options)
{
  AttnRenderStyle defaults;
  attn_render_style_init (&defaults, ATTN_THEME_LIGHT);
  options->colormap = defaults.colormap;
  options->reversed = defaults.reversed;
  options->scale = defaults.scale;
  options->threshold = defaults.threshold;
  options->show_values = defaults.show_values;
  attn_render_style_clear (&defaults);
}

/* ---- words ------------------------------------------------------------ */

static const char *
kind_title (AttnKind kind)
{
  switch (kind)
    {
    case ATTN_KIND_ENCODER_SELF:
      return _ ("encoder self-attention");
    case ATTN_KIND_DECODER_SELF:
      return _ ("decoder self-attention");
    case ATTN_KIND_CROSS:
      return _ ("cross-attention");
    }
  return _ ("attention");
}

static char *
head_words (int head)
{
  if (head == ATTN_HEADS_MEAN)
    return g_strdup (_ ("mean of heads"));
  if (head == ATTN_HEADS_MAX)
    return g_strdup (_ ("max of heads"));
  return g_strdup_printf (_ ("head %d"), head);
}

/* A token as drawn, quoted: “年”. */
static char *
quoted_token (const AttnTrace *trace, AttnSide side, int index)
{
  if (index < 0 || (guint)index >= attn_trace_n_tokens (trace, side))
    return g_strdup ("?");
  const AttnToken *tok = attn_trace_get_token (trace, side, index);
  g_autofree char *shown = attn_token_display_text (tok->text);
  return g_strdup_printf ("“%s”", shown);
}

/* ---- style ------------------------------------------------------------ */

static AttnRgba
rgba_from_gdk (const GdkRGBA *c)
{
  return (AttnRgba){ c->red, c->green, c->blue, c->alpha };
}

void
attn_attention_view_build_style (AttnAttentionView *self,
                                 AttnRenderStyle *style)
{
  g_return_if_fail (ATTN_IS_ATTENTION_VIEW (self));

  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  /* In presentation mode the renderer's own high-contrast colours and large
   * type, whatever the desktop's theme: a projector washes out anything
   * subtler. */
  attn_render_style_init (style, self->options.presentation
                                     ? ATTN_THEME_PRESENTATION
                                 : dark ? ATTN_THEME_DARK
                                        : ATTN_THEME_LIGHT);

  /* libadwaita's named colours, so the drawing sits on the same canvas as
   * a GtkTextView or a list would, in either theme and under high
   * contrast. The renderer's own defaults stay where a name is missing
   * (another theme than Adwaita). */
  GtkStyleContext *ctx = gtk_widget_get_style_context (GTK_WIDGET (self));
  GdkRGBA c;
  if (!self->options.presentation
      && gtk_style_context_lookup_color (ctx, "view_bg_color", &c))
    style->background = rgba_from_gdk (&c);
  if (!self->options.presentation
      && gtk_style_context_lookup_color (ctx, "view_fg_color", &c))
    {
      style->foreground = rgba_from_gdk (&c);
      /* Secondary text as libadwaita's .dim-label: the same colour at 55 %
       * opacity. */
      style->muted = style->foreground;
      style->muted.a *= 0.55;
    }

  /* The interface font's family, so labels match the rest of the window;
   * the renderer's size, which is chosen for its layouts. */
  g_autofree char *font_name = NULL;
  g_object_get (gtk_widget_get_settings (GTK_WIDGET (self)), "gtk-font-name",
                &font_name, NULL);
  if (font_name != NULL)
    {
      PangoFontDescription *desc
          = pango_font_description_from_string (font_name);
      const char *family = pango_font_description_get_family (desc);
      if (family != NULL && family[0] != '\0')
        {
          g_free (style->font_family);
          style->font_family = g_strdup (family);
        }
      pango_font_description_free (desc);
    }

  style->colormap = self->options.colormap;
  style->reversed = self->options.reversed;
  style->scale = self->options.scale;
  style->threshold = self->options.threshold;
  style->show_values = self->options.show_values;
}

/* ---- accessibility ---------------------------------------------------- */

typedef struct
{
  int query, key; /* trace token indices */
  int layer, head;
  float w;
} Link;

/* Keeps the N_STRONGEST largest links seen, strongest first. */
static void
keep_strongest (Link *best, int *n_best, Link link)
{
  int i = *n_best < N_STRONGEST ? (*n_best)++ : N_STRONGEST;
  if (i == N_STRONGEST && link.w <= best[N_STRONGEST - 1].w)
    return;
  if (i == N_STRONGEST)
    i = N_STRONGEST - 1;
  while (i > 0 && best[i - 1].w < link.w)
    {
      best[i] = best[i - 1];
      i--;
    }
  best[i] = link;
}

static void
collect_links (const AttnViewMatrix *m, int only_row, int layer, int head,
               Link *best, int *n_best)
{
  for (int r = 0; r < m->n_rows; r++)
    {
      if (only_row >= 0 && m->row_token[r] != only_row)
        continue;
      for (int c = 0; c < m->n_cols; c++)
        {
          float w = m->w[(gsize)r * m->n_cols + c];
          if (w > 0.0f)
            keep_strongest (
                best, n_best,
                (Link){ m->row_token[r], m->col_token[c], layer, head, w });
        }
    }
}

static void
append_links (GString *out, const AttnTrace *trace, AttnKind kind,
              const Link *best, int n_best, gboolean name_heads)
{
  if (n_best == 0)
    {
      g_string_append (out, _ (" No link has any weight."));
      return;
    }
  g_string_append (out, _ (" Strongest links: "));
  for (int i = 0; i < n_best; i++)
    {
      g_autofree char *q
          = quoted_token (trace, attn_kind_query_side (kind), best[i].query);
      g_autofree char *k
          = quoted_token (trace, attn_kind_key_side (kind), best[i].key);
      if (i > 0)
        g_string_append (out, "; ");
      g_string_append_printf (out, "%s → %s %.2f", q, k, best[i].w);
      if (name_heads)
        g_string_append_printf (out, _ (" (layer %d, head %d)"), best[i].layer,
                                best[i].head);
    }
  g_string_append_c (out, '.');
}

static void
describe_model_grid (AttnAttentionView *self, GString *label, GString *desc)
{
  const AttnTrace *trace = self->trace;
  int n_layers = 0, n_heads = 0;
  Link best[N_STRONGEST];
  int n_best = 0;
  gsize n_weights = 0;
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (b->kind == self->sel.kind)
        n_weights += (gsize)b->n_heads * b->n_queries * b->n_keys;
    }
  gboolean rank = n_weights <= MAX_RANKED_WEIGHTS;
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      if (b->kind != self->sel.kind)
        continue;
      n_layers++;
      n_heads = MAX (n_heads, b->n_heads);
      for (int h = 0; rank && h < b->n_heads; h++)
        {
          AttnSelection s = self->sel;
          s.layer = b->layer;
          s.head = h;
          g_autoptr (AttnViewMatrix) m = attn_view_matrix_new (trace, &s, NULL);
          if (m != NULL)
            collect_links (m, -1, b->layer, h, best, &n_best);
        }
    }
  g_string_printf (label, _ ("Model grid of %s: %d layers by %d heads"),
                   kind_title (self->sel.kind), n_layers, n_heads);
  g_string_printf (desc,
                   _ ("Every head of %s in %s, one thumbnail per layer "
                      "and head."),
                   kind_title (self->sel.kind), trace->model_name);
  if (rank)
    append_links (desc, trace, self->sel.kind, best, n_best, TRUE);
  else
    g_string_append (desc, _ (" Open a head for its strongest links."));
}

static void
describe_step (AttnAttentionView *self, const AttnViewMatrix *m, GString *label,
               GString *desc)
{
  const AttnTrace *trace = self->trace;
  int k = self->sel.step;
  g_string_printf (label, _ ("Decoding step %d of %u"), k, trace->steps->len);
  if (k < 0 || (guint)k >= trace->steps->len)
    {
      g_string_printf (desc, _ ("The trace has no step %d."), k);
      return;
    }
  const AttnStep *step = g_ptr_array_index (trace->steps, k);
  g_autofree char *emitted = attn_token_display_text (step->emitted.text);
  g_string_printf (desc, _ ("Step %d emits “%s” with probability %.0f%%."), k,
                   emitted, 100.0 * step->emitted.prob);
  if (step->n_top > 0)
    {
      g_string_append (desc, _ (" Alternatives:"));
      for (int i = 0; i < step->n_top; i++)
        {
          g_autofree char *alt = attn_token_display_text (step->top[i].text);
          g_string_append_printf (desc, "%s “%s” %.0f%%", i > 0 ? "," : "", alt,
                                  100.0 * step->top[i].prob);
        }
      g_string_append_c (desc, '.');
    }
  if (m != NULL)
    {
      Link best[N_STRONGEST];
      int n_best = 0;
      collect_links (m, k, self->sel.layer, self->sel.head, best, &n_best);
      append_links (desc, trace, self->sel.kind, best, n_best, FALSE);
    }
}

static void
update_accessible_now (AttnAttentionView *self)
{
  g_autoptr (GString) label = g_string_new (NULL);
  g_autoptr (GString) desc = g_string_new (NULL);
  static const char *const view_titles[ATTN_N_VIEWS] = {
    [ATTN_VIEW_HEATMAP] = N_ ("Heatmap"),
    [ATTN_VIEW_ALIGNMENT] = N_ ("Alignment diagram"),
    [ATTN_VIEW_HEADS] = N_ ("Head view"),
    [ATTN_VIEW_MODEL] = N_ ("Model grid"),
    [ATTN_VIEW_STEP] = N_ ("Step view"),
  };

  if (self->trace == NULL)
    {
      g_string_printf (label, _ ("%s (empty)"), _ (view_titles[self->kind]));
      g_string_assign (desc, _ ("No trace is shown."));
    }
  else if (self->kind == ATTN_VIEW_MODEL)
    describe_model_grid (self, label, desc);
  else
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (AttnViewMatrix) m
          = attn_view_matrix_new (self->trace, &self->sel, &error);
      if (self->kind == ATTN_VIEW_STEP)
        describe_step (self, m, label, desc);
      else if (m == NULL)
        {
          g_string_printf (label, _ ("%s (nothing to show)"),
                           _ (view_titles[self->kind]));
          g_string_assign (desc, error->message);
        }
      else
        {
          g_autofree char *heads = head_words (self->sel.head);
          g_string_printf (label, _ ("%s of %s, layer %d, %s"),
                           _ (view_titles[self->kind]),
                           kind_title (self->sel.kind), self->sel.layer, heads);
          g_string_printf (desc, _ ("%d queries by %d keys in %s."), m->n_rows,
                           m->n_cols, self->trace->model_name);
          Link best[N_STRONGEST];
          int n_best = 0;
          collect_links (m, -1, self->sel.layer, self->sel.head, best, &n_best);
          append_links (desc, self->trace, self->sel.kind, best, n_best, FALSE);
        }
    }

  g_free (self->accessible_label);
  self->accessible_label = g_string_free (g_steal_pointer (&label), FALSE);
  g_free (self->accessible_description);
  self->accessible_description = g_string_free (g_steal_pointer (&desc), FALSE);
  gtk_accessible_update_property (
      GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL,
      self->accessible_label, GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
      self->accessible_description, -1);
  self->accessible_stale = FALSE;
}

/* Describing ranks every weight shown: done for the view on screen, and
 * for the others when they are mapped (a view stack shows one). */
static void
update_accessible (AttnAttentionView *self)
{
  self->accessible_stale = TRUE;
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    update_accessible_now (self);
}

static void
attn_attention_view_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (attn_attention_view_parent_class)->map (widget);
  AttnAttentionView *self = ATTN_ATTENTION_VIEW (widget);
  if (self->accessible_stale)
    update_accessible_now (self);
}

const char *
attn_attention_view_get_accessible_label (AttnAttentionView *self)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), NULL);
  return self->accessible_label;
}

const char *
attn_attention_view_get_accessible_description (AttnAttentionView *self)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), NULL);
  return self->accessible_description;
}

/* ---- caches ----------------------------------------------------------- */

/* Whether two selections draw the same matrix (they may differ in the
 * highlighted tokens, the step and the heads a head view shows). */
static gboolean
same_matrix (const AttnSelection *a, const AttnSelection *b)
{
  return a->kind == b->kind && a->layer == b->layer && a->head == b->head
         && a->hide_special == b->hide_special && a->hide_sink == b->hide_sink
         && a->range_start == b->range_start && a->range_end == b->range_end;
}

static void
drop_caches (AttnAttentionView *self)
{
  g_clear_pointer (&self->heatmap_layout, attn_heatmap_layout_free);
  if (self->thumbnails != NULL)
    attn_thumbnail_cache_clear (self->thumbnails);
}

/* The heatmap's layout for this size and style, made or resized as
 * needed; NULL with the layout's error when the selection does not fit. */
static AttnHeatmapLayout *
heatmap_layout (AttnAttentionView *self, const AttnRenderStyle *style,
                double width, double height, GError **error)
{
  AttnHeatmapLayout *layout = self->heatmap_layout;
  if (layout != NULL
      && (self->layout_theme != style->theme
          || self->layout_font_size != style->font_size
          || g_strcmp0 (self->layout_font_family, style->font_family) != 0))
    layout = NULL;
  if (layout != NULL && (layout->width != width || layout->height != height)
      && !attn_heatmap_layout_set_size (layout, style, width, height, NULL))
    layout = NULL;
  if (layout == NULL)
    {
      g_clear_pointer (&self->heatmap_layout, attn_heatmap_layout_free);
      self->heatmap_layout = attn_heatmap_layout_new (
          self->trace, &self->sel, style, width, height, error);
      self->layout_theme = style->theme;
      self->layout_font_size = style->font_size;
      g_free (self->layout_font_family);
      self->layout_font_family = g_strdup (style->font_family);
    }
  return self->heatmap_layout;
}

/* ---- state ------------------------------------------------------------ */

static void
clear_hover (AttnAttentionView *self)
{
  gboolean had = self->hover.kind != ATTN_HIT_NONE;
  memset (&self->hover, 0, sizeof self->hover);
  self->hover.kind = ATTN_HIT_NONE;
  self->hover.query = self->hover.key = -1;
  if (had)
    g_signal_emit (self, signals[HOVER_CHANGED], 0);
}

static void
changed (AttnAttentionView *self)
{
  clear_hover (self);
  update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

GtkWidget *
attn_attention_view_new (AttnViewKind kind)
{
  return g_object_new (ATTN_TYPE_ATTENTION_VIEW, "view-kind", kind, NULL);
}

AttnViewKind
attn_attention_view_get_kind (AttnAttentionView *self)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), ATTN_VIEW_HEATMAP);
  return self->kind;
}

void
attn_attention_view_set_trace (AttnAttentionView *self, const AttnTrace *trace)
{
  g_return_if_fail (ATTN_IS_ATTENTION_VIEW (self));
  /* Also for the same address: a new trace may land where a freed one
   * was. */
  drop_caches (self);
  self->trace = trace;
  changed (self);
}

const AttnTrace *
attn_attention_view_get_trace (AttnAttentionView *self)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), NULL);
  return self->trace;
}

void
attn_attention_view_set_selection (AttnAttentionView *self,
                                   const AttnSelection *sel)
{
  g_return_if_fail (ATTN_IS_ATTENTION_VIEW (self));
  g_return_if_fail (sel != NULL);
  gboolean same = same_matrix (&self->sel, sel);
  gboolean same_step = self->sel.step == sel->step;
  if (!same)
    g_clear_pointer (&self->heatmap_layout, attn_heatmap_layout_free);
  self->sel = *sel;
  clear_hover (self);
  /* A selected token changes the drawing, not what is described. */
  if (!same || !same_step)
    update_accessible (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

const AttnSelection *
attn_attention_view_get_selection (AttnAttentionView *self)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), NULL);
  return &self->sel;
}

void
attn_attention_view_set_options (AttnAttentionView *self,
                                 const AttnViewOptions *options)
{
  g_return_if_fail (ATTN_IS_ATTENTION_VIEW (self));
  g_return_if_fail (options != NULL);
  self->options = *options;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

const char *
attn_attention_view_get_render_error (AttnAttentionView *self)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), NULL);
  return self->render_error;
}

/* ---- pointer ---------------------------------------------------------- */

static gboolean
hit_test (AttnAttentionView *self, double x, double y, AttnHit *hit)
{
  memset (hit, 0, sizeof *hit);
  hit->kind = ATTN_HIT_NONE;
  hit->query = hit->key = -1;
  if (self->trace == NULL)
    return FALSE;
  AttnRenderStyle style;
  attn_attention_view_build_style (self, &style);
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  gboolean found = FALSE;
  if (self->kind == ATTN_VIEW_HEATMAP)
    {
      AttnHeatmapLayout *layout
          = heatmap_layout (self, &style, width, height, NULL);
      found = layout != NULL && attn_heatmap_layout_hit (layout, x, y, hit);
    }
  else
    found = attn_view_hit_test (self->kind, self->trace, &self->sel, &style,
                                width, height, x, y, hit);
  attn_render_style_clear (&style);
  if (!found)
    {
      hit->kind = ATTN_HIT_NONE;
      hit->query = hit->key = -1;
    }
  return found && hit->kind != ATTN_HIT_NONE;
}

static gboolean
same_hit (const AttnHit *a, const AttnHit *b)
{
  return a->kind == b->kind && a->query == b->query && a->key == b->key
         && a->layer == b->layer && a->head == b->head
         && a->candidate == b->candidate;
}

gboolean
attn_attention_view_hover (AttnAttentionView *self, double x, double y)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), FALSE);
  AttnHit hit;
  gboolean found = hit_test (self, x, y, &hit);
  if (!same_hit (&hit, &self->hover) || hit.weight != self->hover.weight)
    {
      self->hover = hit;
      g_signal_emit (self, signals[HOVER_CHANGED], 0);
    }
  return found;
}

void
attn_attention_view_leave (AttnAttentionView *self)
{
  g_return_if_fail (ATTN_IS_ATTENTION_VIEW (self));
  clear_hover (self);
}

gboolean
attn_attention_view_click (AttnAttentionView *self, double x, double y)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), FALSE);
  AttnHit hit;
  if (!hit_test (self, x, y, &hit))
    return FALSE;
  switch (hit.kind)
    {
    case ATTN_HIT_CELL:
    case ATTN_HIT_QUERY:
    case ATTN_HIT_KEY:
      g_signal_emit (self, signals[TOKEN_ACTIVATED], 0,
                     hit.kind == ATTN_HIT_KEY ? -1 : hit.query,
                     hit.kind == ATTN_HIT_QUERY ? -1 : hit.key);
      return TRUE;
    case ATTN_HIT_THUMBNAIL:
      g_signal_emit (self, signals[THUMBNAIL_ACTIVATED], 0, hit.layer,
                     hit.head);
      return TRUE;
    case ATTN_HIT_CANDIDATE:
    case ATTN_HIT_NONE:
      break;
    }
  return FALSE;
}

const AttnHit *
attn_attention_view_get_hover (AttnAttentionView *self)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), NULL);
  return &self->hover;
}

char *
attn_attention_view_describe_hit (AttnAttentionView *self, const AttnHit *hit)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), NULL);
  g_return_val_if_fail (hit != NULL, NULL);
  const AttnTrace *trace = self->trace;
  if (trace == NULL)
    return NULL;
  AttnKind kind = self->sel.kind;
  AttnSide qside = attn_kind_query_side (kind);
  AttnSide kside = attn_kind_key_side (kind);
  switch (hit->kind)
    {
    case ATTN_HIT_CELL:
      {
        g_autofree char *q = quoted_token (trace, qside, hit->query);
        g_autofree char *k = quoted_token (trace, kside, hit->key);
        g_autofree char *heads = head_words (self->sel.head);
        return g_strdup_printf (_ ("%s → %s: %.4f (%s, layer %d, %s)"), q, k,
                                hit->weight, kind_title (kind), self->sel.layer,
                                heads);
      }
    case ATTN_HIT_QUERY:
      {
        g_autofree char *q = quoted_token (trace, qside, hit->query);
        return g_strdup_printf (_ ("Query %s, token %d: click to follow it "
                                   "in every view"),
                                q, hit->query);
      }
    case ATTN_HIT_KEY:
      {
        g_autofree char *k = quoted_token (trace, kside, hit->key);
        return g_strdup_printf (_ ("Key %s, token %d: click to follow it "
                                   "in every view"),
                                k, hit->key);
      }
    case ATTN_HIT_THUMBNAIL:
      return g_strdup_printf (_ ("%s, layer %d, head %d: click to open it "
                                 "in the heatmap"),
                              kind_title (kind), hit->layer, hit->head);
    case ATTN_HIT_CANDIDATE:
      {
        int k = self->sel.step;
        if (k < 0 || (guint)k >= trace->steps->len)
          return NULL;
        const AttnStep *step = g_ptr_array_index (trace->steps, k);
        if (hit->candidate < 0 || hit->candidate >= step->n_top)
          return NULL;
        const AttnCandidate *c = &step->top[hit->candidate];
        g_autofree char *shown = attn_token_display_text (c->text);
        return g_strdup_printf (_ ("Step %d: “%s” with probability %.4f"), k,
                                shown, c->prob);
      }
    case ATTN_HIT_NONE:
      break;
    }
  return NULL;
}

static void
on_motion (GtkEventControllerMotion *motion, double x, double y,
           AttnAttentionView *self)
{
  attn_attention_view_hover (self, x, y);
}

static void
on_leave (GtkEventControllerMotion *motion, AttnAttentionView *self)
{
  attn_attention_view_leave (self);
}

static void
on_pressed (GtkGestureClick *gesture, int n_press, double x, double y,
            AttnAttentionView *self)
{
  gtk_widget_grab_focus (GTK_WIDGET (self));
  if (attn_attention_view_click (self, x, y))
    gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_CLAIMED);
}

gboolean
attn_attention_view_move_selection (AttnAttentionView *self, int d_query,
                                    int d_key)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), FALSE);
  if (self->trace == NULL || self->kind == ATTN_VIEW_MODEL)
    return FALSE;
  int nq = (int)attn_trace_n_tokens (self->trace,
                                     attn_kind_query_side (self->sel.kind));
  int nk = (int)attn_trace_n_tokens (self->trace,
                                     attn_kind_key_side (self->sel.kind));
  int q = self->sel.selected_query, k = self->sel.selected_key;
  /* The first press selects the first token of its axis. */
  if (d_query != 0)
    q = q < 0 ? 0 : CLAMP (q + d_query, 0, nq - 1);
  if (d_key != 0)
    k = k < 0 ? 0 : CLAMP (k + d_key, 0, nk - 1);
  if (d_query == 0 && d_key == 0)
    q = k = -1;
  if ((d_query != 0 && nq == 0) || (d_key != 0 && nk == 0))
    return FALSE;
  g_signal_emit (self, signals[TOKEN_SELECTED], 0, q, k);
  return TRUE;
}

/* ---- zoom and pan ------------------------------------------------------ */

/* One Ctrl+scroll notch or Ctrl+plus zooms by this factor. */
#define ZOOM_STEP 1.25

/* The tokens a range can cover: the longer axis of the shown block. */
static int
zoom_extent (AttnAttentionView *self)
{
  if (self->trace == NULL || self->kind != ATTN_VIEW_HEATMAP)
    return 0;
  const AttnBlock *b
      = attn_trace_lookup_block (self->trace, self->sel.kind, self->sel.layer);
  return b != NULL ? MAX (b->n_queries, b->n_keys) : 0;
}

/* Slides [start, end) inside [0, n) keeping its length; the whole of it
 * is -1, -1. */
static gboolean
request_range (AttnAttentionView *self, int n, int start, int end)
{
  if (end - start >= n)
    start = end = -1;
  else
    {
      if (start < 0)
        end -= start, start = 0;
      if (end > n)
        start -= end - n, end = n;
    }
  if (start == self->sel.range_start && end == self->sel.range_end)
    return FALSE;
  g_signal_emit (self, signals[RANGE_CHANGED], 0, start, end);
  return TRUE;
}

gboolean
attn_attention_view_zoom (AttnAttentionView *self, double factor, int center)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), FALSE);
  g_return_val_if_fail (factor > 0.0, FALSE);
  int n = zoom_extent (self);
  if (n == 0)
    return FALSE;
  int start = self->sel.range_start >= 0 ? self->sel.range_start : 0;
  int end = self->sel.range_start >= 0 ? MIN (self->sel.range_end, n) : n;
  int len = end - start;
  int new_len = (int)lround (len / factor);
  /* A step always moves, however few tokens are shown. */
  if (factor > 1.0 && new_len >= len)
    new_len = len - 1;
  else if (factor < 1.0 && new_len <= len)
    new_len = len + 1;
  new_len = CLAMP (new_len, MIN (ATTN_ZOOM_MIN_TOKENS, n), n);
  if (center < start || center >= end)
    center = start + len / 2;
  int new_start
      = center - (int)lround ((double)(center - start) * new_len / len);
  return request_range (self, n, new_start, new_start + new_len);
}

gboolean
attn_attention_view_pan (AttnAttentionView *self, int d_tokens)
{
  g_return_val_if_fail (ATTN_IS_ATTENTION_VIEW (self), FALSE);
  int n = zoom_extent (self);
  if (n == 0 || self->sel.range_start < 0)
    return FALSE;
  return request_range (self, n, self->sel.range_start + d_tokens,
                        self->sel.range_end + d_tokens);
}

/* The key token under the pointer, the natural centre of a zoom. */
static int
hovered_token (AttnAttentionView *self)
{
  if (self->hover.kind == ATTN_HIT_CELL || self->hover.kind == ATTN_HIT_KEY)
    return self->hover.key;
  if (self->hover.kind == ATTN_HIT_QUERY)
    return self->hover.query;
  return -1;
}

static gboolean
on_scroll (GtkEventControllerScroll *scroll, double dx, double dy,
           AttnAttentionView *self)
{
  GdkModifierType state = gtk_event_controller_get_current_event_state (
      GTK_EVENT_CONTROLLER (scroll));
  if ((state & GDK_CONTROL_MASK) == 0 || dy == 0.0)
    return FALSE;
  return attn_attention_view_zoom (self, dy < 0.0 ? ZOOM_STEP : 1.0 / ZOOM_STEP,
                                   hovered_token (self));
}

static void
on_pinch_begin (GtkGesture *gesture, GdkEventSequence *sequence,
                AttnAttentionView *self)
{
  self->pinch_scale = 1.0;
}

static void
on_pinch_scale_changed (GtkGestureZoom *gesture, double scale,
                        AttnAttentionView *self)
{
  double factor = scale / self->pinch_scale;
  if (factor < ZOOM_STEP && factor > 1.0 / ZOOM_STEP)
    return;
  if (attn_attention_view_zoom (self, factor, hovered_token (self)))
    self->pinch_scale = scale;
}

static void
on_drag_begin (GtkGestureDrag *drag, double x, double y,
               AttnAttentionView *self)
{
  self->drag_start = self->sel.range_start;
}

/* The range follows the pointer: dragging right by one cell shows the
 * token to the left. */
static void
on_drag_update (GtkGestureDrag *drag, double dx, double dy,
                AttnAttentionView *self)
{
  if (self->drag_start < 0 || self->heatmap_layout == NULL
      || self->heatmap_layout->cell_width <= 0.0)
    return;
  int n = zoom_extent (self);
  int len = self->sel.range_end - self->sel.range_start;
  int start
      = self->drag_start - (int)lround (dx / self->heatmap_layout->cell_width);
  if (n > 0 && self->sel.range_start >= 0)
    request_range (self, n, start, start + len);
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller, guint keyval, guint keycode,
                GdkModifierType state, AttnAttentionView *self)
{
  if ((state & (GDK_CONTROL_MASK | GDK_ALT_MASK)) == GDK_CONTROL_MASK)
    switch (keyval)
      {
      case GDK_KEY_plus:
      case GDK_KEY_equal:
      case GDK_KEY_KP_Add:
        return attn_attention_view_zoom (self, ZOOM_STEP, -1);
      case GDK_KEY_minus:
      case GDK_KEY_KP_Subtract:
        return attn_attention_view_zoom (self, 1.0 / ZOOM_STEP, -1);
      case GDK_KEY_0:
      case GDK_KEY_KP_0:
        return zoom_extent (self) > 0
               && request_range (self, zoom_extent (self), -1, -1);
      default:
        return FALSE;
      }
  if ((state & (GDK_CONTROL_MASK | GDK_ALT_MASK)) != 0)
    return FALSE;
  switch (keyval)
    {
    case GDK_KEY_Up:
    case GDK_KEY_KP_Up:
      return attn_attention_view_move_selection (self, -1, 0);
    case GDK_KEY_Down:
    case GDK_KEY_KP_Down:
      return attn_attention_view_move_selection (self, 1, 0);
    case GDK_KEY_Left:
    case GDK_KEY_KP_Left:
      return attn_attention_view_move_selection (self, 0, -1);
    case GDK_KEY_Right:
    case GDK_KEY_KP_Right:
      return attn_attention_view_move_selection (self, 0, 1);
    case GDK_KEY_Escape:
      if (self->sel.selected_query < 0 && self->sel.selected_key < 0)
        return FALSE;
      return attn_attention_view_move_selection (self, 0, 0);
    default:
      return FALSE;
    }
}

static gboolean
on_query_tooltip (GtkWidget *widget, int x, int y, gboolean keyboard,
                  GtkTooltip *tooltip, gpointer data)
{
  AttnAttentionView *self = ATTN_ATTENTION_VIEW (widget);
  if (keyboard)
    return FALSE;
  AttnHit hit;
  if (!hit_test (self, x, y, &hit))
    return FALSE;
  g_autofree char *text = attn_attention_view_describe_hit (self, &hit);
  if (text == NULL)
    return FALSE;
  gtk_tooltip_set_text (tooltip, text);
  return TRUE;
}

/* ---- drawing ---------------------------------------------------------- */

static void
draw_message (AttnAttentionView *self, GtkSnapshot *snapshot,
              const char *message, const AttnRenderStyle *style)
{
  int width = gtk_widget_get_width (GTK_WIDGET (self));
  int height = gtk_widget_get_height (GTK_WIDGET (self));
  PangoLayout *layout
      = gtk_widget_create_pango_layout (GTK_WIDGET (self), message);
  pango_layout_set_width (layout, MAX (width - 48, 10) * PANGO_SCALE);
  pango_layout_set_alignment (layout, PANGO_ALIGN_CENTER);
  pango_layout_set_wrap (layout, PANGO_WRAP_WORD_CHAR);
  int lw, lh;
  pango_layout_get_pixel_size (layout, &lw, &lh);
  GdkRGBA fg
      = { style->muted.r, style->muted.g, style->muted.b, style->muted.a };
  gtk_snapshot_save (snapshot);
  gtk_snapshot_translate (snapshot,
                          &GRAPHENE_POINT_INIT (24, (height - lh) / 2.0));
  gtk_snapshot_append_layout (snapshot, layout, &fg);
  gtk_snapshot_restore (snapshot);
  g_object_unref (layout);
}

static void
attn_attention_view_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  AttnAttentionView *self = ATTN_ATTENTION_VIEW (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    return;

  AttnRenderStyle style;
  attn_attention_view_build_style (self, &style);

  g_autoptr (GError) error = NULL;
  gboolean drawn = FALSE;
  if (self->trace != NULL)
    {
      gint64 start = g_get_monotonic_time ();
      cairo_t *cr = gtk_snapshot_append_cairo (
          snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
      /* The same drawing attn_view_render makes, from the kept layout and
       * images where the view has them. */
      if (self->kind == ATTN_VIEW_HEATMAP)
        {
          AttnHeatmapLayout *layout
              = heatmap_layout (self, &style, width, height, &error);
          if (layout != NULL)
            attn_heatmap_render_layout (cr, layout, &self->sel, &style,
                                        ATTN_HEATMAP_CELLS_AUTO);
          drawn = layout != NULL;
        }
      else if (self->kind == ATTN_VIEW_MODEL)
        {
          if (self->thumbnails == NULL)
            self->thumbnails = attn_thumbnail_cache_new ();
          drawn = attn_model_view_render_cached (cr, self->thumbnails,
                                                 self->trace, &self->sel,
                                                 &style, width, height, &error);
        }
      else
        drawn = attn_view_render (self->kind, cr, self->trace, &self->sel,
                                  &style, width, height, &error);
      cairo_destroy (cr);
      g_debug ("%s view drawn in %.1f ms (%d x %d)",
               attn_view_kind_to_string (self->kind),
               (g_get_monotonic_time () - start) / 1000.0, width, height);
    }
  g_clear_pointer (&self->render_error, g_free);
  if (!drawn)
    {
      GdkRGBA bg = { style.background.r, style.background.g, style.background.b,
                     style.background.a };
      gtk_snapshot_append_color (snapshot, &bg,
                                 &GRAPHENE_RECT_INIT (0, 0, width, height));
      if (error != NULL)
        {
          self->render_error = g_strdup (error->message);
          draw_message (self, snapshot, error->message, &style);
        }
    }
  attn_render_style_clear (&style);
}

static void
attn_attention_view_measure (GtkWidget *widget, GtkOrientation orientation,
                             int for_size, int *minimum, int *natural,
                             int *minimum_baseline, int *natural_baseline)
{
  /* Views lay themselves out in any size; below this nothing is legible. */
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 240;
      *natural = 720;
    }
  else
    {
      *minimum = 180;
      *natural = 520;
    }
}

static void
on_dark_changed (AdwStyleManager *manager, GParamSpec *pspec,
                 AttnAttentionView *self)
{
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
attn_attention_view_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  GTK_WIDGET_CLASS (attn_attention_view_parent_class)
      ->css_changed (widget, change);
  /* Named colours (view_bg_color, ...) change with the theme and with
   * high contrast. */
  gtk_widget_queue_draw (widget);
}

/* ---- GObject ---------------------------------------------------------- */

static void
attn_attention_view_get_property (GObject *object, guint prop_id, GValue *value,
                                  GParamSpec *pspec)
{
  AttnAttentionView *self = ATTN_ATTENTION_VIEW (object);
  switch (prop_id)
    {
    case PROP_VIEW_KIND:
      g_value_set_enum (value, self->kind);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
attn_attention_view_set_property (GObject *object, guint prop_id,
                                  const GValue *value, GParamSpec *pspec)
{
  AttnAttentionView *self = ATTN_ATTENTION_VIEW (object);
  switch (prop_id)
    {
    case PROP_VIEW_KIND:
      self->kind = g_value_get_enum (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
attn_attention_view_constructed (GObject *object)
{
  G_OBJECT_CLASS (attn_attention_view_parent_class)->constructed (object);
  update_accessible_now (ATTN_ATTENTION_VIEW (object));
}

static void
attn_attention_view_dispose (GObject *object)
{
  AttnAttentionView *self = ATTN_ATTENTION_VIEW (object);
  g_signal_handlers_disconnect_by_data (adw_style_manager_get_default (), self);
  self->trace = NULL;
  G_OBJECT_CLASS (attn_attention_view_parent_class)->dispose (object);
}

static void
attn_attention_view_finalize (GObject *object)
{
  AttnAttentionView *self = ATTN_ATTENTION_VIEW (object);
  g_free (self->accessible_label);
  g_free (self->accessible_description);
  g_free (self->render_error);
  g_clear_pointer (&self->heatmap_layout, attn_heatmap_layout_free);
  g_free (self->layout_font_family);
  g_clear_pointer (&self->thumbnails, attn_thumbnail_cache_free);
  G_OBJECT_CLASS (attn_attention_view_parent_class)->finalize (object);
}

static void
attn_attention_view_class_init (AttnAttentionViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = attn_attention_view_get_property;
  object_class->set_property = attn_attention_view_set_property;
  object_class->constructed = attn_attention_view_constructed;
  object_class->dispose = attn_attention_view_dispose;
  object_class->finalize = attn_attention_view_finalize;

  widget_class->snapshot = attn_attention_view_snapshot;
  widget_class->map = attn_attention_view_map;
  widget_class->measure = attn_attention_view_measure;
  widget_class->css_changed = attn_attention_view_css_changed;

  properties[PROP_VIEW_KIND] = g_param_spec_enum (
      "view-kind", NULL, NULL, ATTN_TYPE_VIEW_KIND, ATTN_VIEW_HEATMAP,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[HOVER_CHANGED]
      = g_signal_new ("hover-changed", G_TYPE_FROM_CLASS (klass),
                      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[TOKEN_ACTIVATED] = g_signal_new (
      "token-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  signals[TOKEN_SELECTED] = g_signal_new (
      "token-selected", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  signals[THUMBNAIL_ACTIVATED] = g_signal_new (
      "thumbnail-activated", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
      NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);
  signals[RANGE_CHANGED] = g_signal_new (
      "range-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_INT, G_TYPE_INT);

  gtk_widget_class_set_css_name (widget_class, "attentionview");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
attn_attention_view_init (AttnAttentionView *self)
{
  attn_selection_init (&self->sel, ATTN_KIND_CROSS);
  attn_view_options_init (&self->options);
  self->hover.kind = ATTN_HIT_NONE;
  self->hover.query = self->hover.key = -1;

  GtkWidget *widget = GTK_WIDGET (self);
  gtk_widget_set_focusable (widget, TRUE);
  gtk_widget_set_hexpand (widget, TRUE);
  gtk_widget_set_vexpand (widget, TRUE);
  gtk_widget_set_has_tooltip (widget, TRUE);
  g_signal_connect (widget, "query-tooltip", G_CALLBACK (on_query_tooltip),
                    NULL);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (widget, motion);

  GtkEventController *keys = gtk_event_controller_key_new ();
  g_signal_connect (keys, "key-pressed", G_CALLBACK (on_key_pressed), self);
  gtk_widget_add_controller (widget, keys);

  GtkGesture *click = gtk_gesture_click_new ();
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (click));

  GtkEventController *scroll
      = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (widget, scroll);

  GtkGesture *pinch = gtk_gesture_zoom_new ();
  g_signal_connect (pinch, "begin", G_CALLBACK (on_pinch_begin), self);
  g_signal_connect (pinch, "scale-changed", G_CALLBACK (on_pinch_scale_changed),
                    self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (pinch));

  self->drag_start = -1;
  GtkGesture *drag = gtk_gesture_drag_new ();
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (drag));

  g_signal_connect (adw_style_manager_get_default (), "notify::dark",
                    G_CALLBACK (on_dark_changed), self);
}
