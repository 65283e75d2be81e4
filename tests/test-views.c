/* test-views.c: the alignment diagram, head view, model view and step view
 * (ui/render/attn-{alignment,head-view,model-view,step-view}.h) drawn into
 * image surfaces and checked at the pixels their layouts name, their
 * hit-testing, the thumbnail cache, and their errors.
 *
 * Colours: translucent fills go through Cairo's 8-bit compositing, so a
 * band or line of opacity a over the background is checked against the
 * blend (1 - a) * background + a * ink within BLEND_TOL levels per channel.
 * Thumbnails are images the cache writes with attn_colormap_get_argb32 and
 * paints with nearest filtering: their pixels are compared exactly. Token
 * boxes and bars are opaque vector fills: Cairo keeps 16 bits per channel
 * and truncates to 8 where the colour map rounds, so 1 level. */
#include <math.h>
#include <string.h>

#include "attn-test-util.h"
#include "core/attn-error.h"
#include "ui/render/attn-alignment.h"
#include "ui/render/attn-head-view.h"
#include "ui/render/attn-model-view.h"
#include "ui/render/attn-step-view.h"
#include "ui/render/attn-view.h"

#define BLEND_TOL 2
#define FILL_TOL 1
/* A bar's measured length against prob * full length, in pixels: 8-bit
 * coverage of its last pixel. */
#define BAR_TOL 0.05

typedef struct
{
  int r, g, b;
} Px;

static cairo_surface_t *
surface_new (int width, int height)
{
  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
  g_assert_cmpint (cairo_surface_status (s), ==, CAIRO_STATUS_SUCCESS);
  return s;
}

/* The pixel under user point (x, y) (device = user units here). */
static Px
pixel_at (cairo_surface_t *s, double x, double y)
{
  cairo_surface_flush (s);
  int ix = (int)floor (x), iy = (int)floor (y);
  g_assert_cmpint (ix, >=, 0);
  g_assert_cmpint (iy, >=, 0);
  g_assert_cmpint (ix, <, cairo_image_surface_get_width (s));
  g_assert_cmpint (iy, <, cairo_image_surface_get_height (s));
  const guint8 *data = cairo_image_surface_get_data (s);
  guint32 v
      = *(const guint32 *)(data + (gsize)iy * cairo_image_surface_get_stride (s)
                           + 4 * ix);
  /* Every view paints an opaque background first: no unpremultiplying. */
  g_assert_cmpuint (v >> 24, ==, 0xff);
  return (Px){ (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
}

static Px
px_of_rgba (const AttnRgba *c)
{
  return (Px){ (int)lround (c->r * 255.0), (int)lround (c->g * 255.0),
               (int)lround (c->b * 255.0) };
}

static Px
px_of_argb32 (guint32 v)
{
  return (Px){ (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };
}

/* a over bg, in 8-bit levels. */
static Px
px_blend (Px bg, Px ink, double a)
{
  return (Px){ (int)lround ((1.0 - a) * bg.r + a * ink.r),
               (int)lround ((1.0 - a) * bg.g + a * ink.g),
               (int)lround ((1.0 - a) * bg.b + a * ink.b) };
}

static int
px_distance (Px a, Px b)
{
  return MAX (abs (a.r - b.r), MAX (abs (a.g - b.g), abs (a.b - b.b)));
}

#define assert_px_near(what, got, want, tol)                                   \
  G_STMT_START                                                                 \
  {                                                                            \
    Px g_ = (got), w_ = (want);                                                \
    if (px_distance (g_, w_) > (tol))                                          \
      g_error ("%s: pixel (%d, %d, %d), want (%d, %d, %d) within %d", (what),  \
               g_.r, g_.g, g_.b, w_.r, w_.g, w_.b, (tol));                     \
  }                                                                            \
  G_STMT_END

static AttnTrace *
load_trace (const char *name)
{
  g_autofree char *path = attn_test_data_path (name);
  g_autoptr (GError) error = NULL;
  AttnTrace *t = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  return t;
}

/* Source "a b c", target "<s> x y": one layer, one head of cross-attention
 * with links of every strength (rows sum to 1). Under a threshold of 0.1
 * five links show: (q0, k0) 0.95 the strongest, (q1, k1) 0.7, (q2, k2)
 * 0.65, (q2, k0) 0.3, (q1, k2) 0.25. */
/* clang-format off */
static const float align_weights[3 * 3] = {
  0.95f, 0.03f, 0.02f,
  0.05f, 0.70f, 0.25f,
  0.30f, 0.05f, 0.65f,
};
/* clang-format on */

static AttnTrace *
align_trace (void)
{
  AttnTrace *t = attn_trace_new ("align", "transformer-encoder-decoder",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 1);
  attn_trace_set_text (t, ATTN_SIDE_SOURCE, "abc");
  for (int i = 0; i < 3; i++)
    {
      char s[2] = { (char)('a' + i), 0 };
      attn_trace_add_token (t, ATTN_SIDE_SOURCE, s, 3 + i, i, i + 1, FALSE);
    }
  attn_trace_set_text (t, ATTN_SIDE_TARGET, "xy");
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "<s>", 1, -1, -1, TRUE);
  for (int i = 0; i < 2; i++)
    {
      char s[2] = { (char)('x' + i), 0 };
      attn_trace_add_token (t, ATTN_SIDE_TARGET, s, 10 + i, i, i + 1, FALSE);
    }
  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_CROSS, 0, 1, 3, 3);
  memcpy (b->weights, align_weights, sizeof align_weights);
  g_assert_true (attn_trace_validate (t, NULL));
  return t;
}

static const AttnAlignmentLink *
find_link (const AttnAlignmentLayout *lay, int row, int col)
{
  for (int i = 0; i < lay->n_links; i++)
    if (lay->links[i].row == row && lay->links[i].col == col)
      return &lay->links[i];
  return NULL;
}

static void
test_alignment_strongest_band (gconstpointer data)
{
  AttnTheme theme = GPOINTER_TO_INT (data);
  g_autoptr (AttnTrace) t = align_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (theme);
  style->threshold = 0.1;
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnAlignmentLayout) lay
      = attn_alignment_layout_new (t, &sel, style, 600, 400, &error);
  g_assert_no_error (error);

  /* The links kept are exactly those at or above the threshold, weakest
   * first, each with opacity = weight on the fixed scale. */
  g_assert_cmpint (lay->n_links, ==, 5);
  for (int i = 1; i < lay->n_links; i++)
    g_assert_cmpfloat (lay->links[i - 1].weight, <=, lay->links[i].weight);
  for (int i = 0; i < lay->n_links; i++)
    g_assert_cmpfloat_with_epsilon (lay->links[i].t, lay->links[i].weight,
                                    1e-7);
  const AttnAlignmentLink *strongest = &lay->links[lay->n_links - 1];
  g_assert_cmpint (strongest->row, ==, 0);
  g_assert_cmpint (strongest->col, ==, 0);

  cairo_surface_t *s = surface_new (600, 400);
  cairo_t *cr = cairo_create (s);
  attn_alignment_render_layout (cr, lay, style);
  cairo_destroy (cr);

  Px bg = px_of_rgba (&style->background);
  AttnRgba head0 = attn_head_color (0, style);
  Px ink = px_of_rgba (&head0);
  /* The strongest band is drawn where the layout says, with its opacity. */
  double x, y;
  attn_alignment_link_midpoint (lay, strongest, &x, &y);
  Px mid = pixel_at (s, x, y);
  assert_px_near ("midpoint of the strongest band", mid,
                  px_blend (bg, ink, strongest->weight), BLEND_TOL);
  /* ... and it stands out most: no other link's midpoint is further from
   * the background. */
  int best = px_distance (mid, bg);
  for (int i = 0; i < lay->n_links - 1; i++)
    {
      attn_alignment_link_midpoint (lay, &lay->links[i], &x, &y);
      Px p = pixel_at (s, x, y);
      g_assert_cmpint (px_distance (p, bg), >, 0);
      g_assert_cmpint (px_distance (p, bg), <, best);
    }
  /* A link under the threshold, (q0, k1) at 0.03, is not drawn: its
   * midpoint (between columns 0 and 1, where no kept band passes) is
   * background. */
  g_assert_null (find_link (lay, 0, 1));
  AttnAlignmentLink hidden = { .row = 0, .col = 1, .weight = 0.03f, .t = 0.03 };
  attn_alignment_link_midpoint (lay, &hidden, &x, &y);
  assert_px_near ("midpoint of a link under the threshold", pixel_at (s, x, y),
                  bg, 0);

  /* Hit-testing the strongest band's midpoint finds that link. */
  AttnHit hit;
  attn_alignment_link_midpoint (lay, strongest, &x, &y);
  g_assert_true (attn_alignment_layout_hit (lay, x, y, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_CELL);
  g_assert_cmpint (hit.query, ==, 0);
  g_assert_cmpint (hit.key, ==, 0);
  g_assert_cmpfloat (hit.weight, ==, 0.95f);
  /* Label slots: top row keys, bottom row queries (trace indices). */
  const AttnTokenSlot *k2 = &lay->top[2];
  g_assert_true (
      attn_alignment_layout_hit (lay, k2->box.x + 0.5 * k2->box.width,
                                 k2->box.y + 0.5 * k2->box.height, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_KEY);
  g_assert_cmpint (hit.key, ==, 2);
  const AttnTokenSlot *q1 = &lay->bottom[1];
  g_assert_true (
      attn_alignment_layout_hit (lay, q1->box.x + 0.5 * q1->box.width,
                                 q1->box.y + 0.5 * q1->box.height, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_QUERY);
  g_assert_cmpint (hit.query, ==, 1);
  g_assert_cmpfloat (q1->y, ==, lay->band_bottom);
  g_assert_cmpfloat (k2->y, ==, lay->band_top);
  cairo_surface_destroy (s);
}

static void
test_alignment_selection (void)
{
  g_autoptr (AttnTrace) t = align_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  style->threshold = 0.1;
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.selected_query = 1;
  g_autoptr (AttnAlignmentLayout) lay
      = attn_alignment_layout_new (t, &sel, style, 600, 400, NULL);
  g_assert_nonnull (lay);
  /* Only the selected query's links: (q1, k1) 0.7 and (q1, k2) 0.25. */
  g_assert_cmpint (lay->n_links, ==, 2);
  g_assert_nonnull (find_link (lay, 1, 1));
  g_assert_nonnull (find_link (lay, 1, 2));
  g_assert_cmpint (lay->selected_row, ==, 1);

  cairo_surface_t *s = surface_new (600, 400);
  cairo_t *cr = cairo_create (s);
  attn_alignment_render_layout (cr, lay, style);
  cairo_destroy (cr);
  /* The strongest link of the whole block, (q0, k0), is gone. */
  AttnAlignmentLink other = { .row = 0, .col = 0, .weight = 0.95f, .t = 0.95 };
  double x, y;
  attn_alignment_link_midpoint (lay, &other, &x, &y);
  assert_px_near ("unselected strongest band", pixel_at (s, x, y),
                  px_of_rgba (&style->background), 0);
  cairo_surface_destroy (s);

  /* A higher threshold drops (q1, k2). */
  style->threshold = 0.5;
  g_autoptr (AttnAlignmentLayout) strict
      = attn_alignment_layout_new (t, &sel, style, 600, 400, NULL);
  g_assert_cmpint (strict->n_links, ==, 1);
  g_assert_nonnull (find_link (strict, 1, 1));
}

/* The mean of a real-looking block: every link's midpoint on the
 * foreground ink is drawn, in light and dark, with the labels placed
 * inside the drawing. */
static void
test_alignment_dates (gconstpointer data)
{
  AttnTheme theme = GPOINTER_TO_INT (data);
  g_autoptr (AttnTrace) t = load_trace ("render-dates.json");
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (theme);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 1;
  sel.head = ATTN_HEADS_MEAN;
  g_autoptr (AttnAlignmentLayout) lay
      = attn_alignment_layout_new (t, &sel, style, 800, 500, NULL);
  g_assert_nonnull (lay);
  const AttnBlock *b = attn_trace_lookup_block (t, ATTN_KIND_CROSS, 1);
  g_assert_cmpint (lay->matrix->n_rows, ==, b->n_queries);
  g_assert_cmpint (lay->matrix->n_cols, ==, b->n_keys);
  g_assert_true (lay->show_labels);
  for (int c = 0; c < b->n_keys; c++)
    {
      g_assert_cmpfloat (lay->top[c].box.x, >=, 0.0);
      g_assert_cmpfloat (lay->top[c].box.x + lay->top[c].box.width, <=,
                         800.0 + 1e-9);
      g_assert_cmpfloat (lay->top[c].box.y + lay->top[c].box.height, <=,
                         lay->band_top);
    }
  for (int r = 0; r < b->n_queries; r++)
    g_assert_cmpfloat (lay->bottom[r].box.y, >=, lay->band_bottom);

  cairo_surface_t *s = surface_new (800, 500);
  cairo_t *cr = cairo_create (s);
  attn_alignment_render_layout (cr, lay, style);
  cairo_destroy (cr);
  /* The strongest mean link: at least its own opacity of foreground over
   * the background (other bands may cross it and add more). */
  const AttnAlignmentLink *top = &lay->links[lay->n_links - 1];
  double x, y;
  attn_alignment_link_midpoint (lay, top, &x, &y);
  Px bg = px_of_rgba (&style->background);
  Px want = px_blend (bg, px_of_rgba (&style->foreground), top->t);
  g_assert_cmpint (px_distance (pixel_at (s, x, y), bg), >=,
                   px_distance (want, bg) - BLEND_TOL);
  cairo_surface_destroy (s);
}

static void
test_alignment_errors (void)
{
  g_autoptr (AttnTrace) t = align_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 3;
  cairo_surface_t *s = surface_new (50, 50);
  cairo_t *cr = cairo_create (s);
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_alignment_render (cr, t, &sel, style, 50, 50, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "layer 3"));
  g_clear_error (&error);
  sel.layer = 0;
  g_assert_false (attn_alignment_render (cr, t, &sel, style, 0, 50, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  /* Tiny but valid: draws, without labels. */
  g_assert_true (attn_alignment_render (cr, t, &sel, style, 50, 50, NULL));
  cairo_destroy (cr);
  cairo_surface_destroy (s);
}

/* Tokens "a b c d" with encoder self-attention, one layer, two heads: head
 * 0 puts everything on key 0, head 1 everything on key 3. */
static AttnTrace *
heads_trace (void)
{
  AttnTrace *t = attn_trace_new ("heads", "transformer-encoder-decoder",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 2);
  attn_trace_set_text (t, ATTN_SIDE_SOURCE, "abcd");
  for (int i = 0; i < 4; i++)
    {
      char s[2] = { (char)('a' + i), 0 };
      attn_trace_add_token (t, ATTN_SIDE_SOURCE, s, 3 + i, i, i + 1, FALSE);
    }
  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_ENCODER_SELF, 0, 2, 4, 4);
  for (int q = 0; q < 4; q++)
    {
      b->weights[(0 * 4 + q) * 4 + 0] = 1.0f;
      b->weights[(1 * 4 + q) * 4 + 3] = 1.0f;
    }
  g_assert_true (attn_trace_validate (t, NULL));
  return t;
}

/* The point a fraction f of the way from a to b. */
static void
along (const AttnTokenSlot *a, const AttnTokenSlot *b, double f, double *x,
       double *y)
{
  *x = a->x + f * (b->x - a->x);
  *y = a->y + f * (b->y - a->y);
}

static void
test_head_view_lines (gconstpointer data)
{
  AttnTheme theme = GPOINTER_TO_INT (data);
  g_autoptr (AttnTrace) t = heads_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (theme);
  /* Lines 4 units wide: a pixel on a line's axis is fully covered. */
  style->font_size = 24.0;
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_ENCODER_SELF);
  sel.head_subset = 1u << 0;
  g_autoptr (AttnHeadViewLayout) lay
      = attn_head_view_layout_new (t, &sel, style, 600, 500, NULL);
  g_assert_nonnull (lay);
  g_assert_cmpint (lay->n_shown, ==, 1);
  g_assert_null (lay->matrices[1]);
  g_assert_cmpint (lay->n_lines, ==, 4);
  g_assert_cmpfloat (lay->line_width, >=, 4.0);

  cairo_surface_t *s = surface_new (600, 500);
  cairo_t *cr = cairo_create (s);
  attn_head_view_render_layout (cr, lay, style);
  cairo_destroy (cr);

  Px bg = px_of_rgba (&style->background);
  AttnRgba c0 = attn_head_color (0, style), c1 = attn_head_color (1, style);
  double x, y;
  /* Head 0's line from query 3 to key 0, in head 0's colour (weight 1:
   * opaque), from one anchor to the other. */
  const AttnTokenSlot *q3 = &lay->left[3], *k0 = &lay->right[0];
  for (double f = 0.02; f < 1.0; f += 0.24)
    {
      along (q3, k0, f, &x, &y);
      assert_px_near ("head 0 line", pixel_at (s, x, y), px_of_rgba (&c0),
                      BLEND_TOL);
    }
  along (q3, k0, 0.995, &x, &y);
  assert_px_near ("head 0 line at the key anchor", pixel_at (s, x, y),
                  px_of_rgba (&c0), BLEND_TOL);
  /* Beyond the anchors (in the gap before the labels): nothing. Lines end
   * where the layout says. */
  assert_px_near ("left of the query anchor",
                  pixel_at (s, q3->x - 0.25 * lay->label_gap, q3->y), bg, 0);
  assert_px_near ("right of the key anchor",
                  pixel_at (s, k0->x + 0.25 * lay->label_gap, k0->y), bg, 0);
  /* Head 1 is hidden: its line from query 0 to key 3 is absent. */
  const AttnTokenSlot *q0 = &lay->left[0], *k3 = &lay->right[3];
  along (q0, k3, 0.75, &x, &y);
  assert_px_near ("hidden head's line", pixel_at (s, x, y), bg, 0);
  cairo_surface_destroy (s);

  /* Both heads: the same point is head 1's colour. */
  sel.head_subset = 0;
  g_autoptr (AttnHeadViewLayout) both
      = attn_head_view_layout_new (t, &sel, style, 600, 500, NULL);
  g_assert_cmpint (both->n_shown, ==, 2);
  g_assert_cmpint (both->n_lines, ==, 8);
  s = surface_new (600, 500);
  cr = cairo_create (s);
  attn_head_view_render_layout (cr, both, style);
  cairo_destroy (cr);
  along (&both->left[0], &both->right[3], 0.75, &x, &y);
  assert_px_near ("head 1 line", pixel_at (s, x, y), px_of_rgba (&c1),
                  BLEND_TOL);
  /* The legend's swatches: filled with their head's colour, and found by
   * attn_head_view_layout_swatch_at. */
  g_assert_true (both->show_legend);
  for (int h = 0; h < 2; h++)
    {
      const cairo_rectangle_t *r = &both->swatches[h];
      AttnRgba c = attn_head_color (h, style);
      assert_px_near ("swatch", pixel_at (s, r->x + 2.5, r->y + 2.5),
                      px_of_rgba (&c), BLEND_TOL);
      g_assert_cmpint (attn_head_view_layout_swatch_at (
                           both, r->x + 0.5 * r->width, r->y + 0.5 * r->height),
                       ==, h);
    }
  g_assert_cmpint (attn_head_view_layout_swatch_at (both, 1.0, 499.0), ==, -1);
  cairo_surface_destroy (s);
}

static void
test_head_view_select (void)
{
  g_autoptr (AttnTrace) t = heads_trace ();
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  style->font_size = 24.0;
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_ENCODER_SELF);
  sel.selected_query = 2;
  g_autoptr (AttnHeadViewLayout) lay
      = attn_head_view_layout_new (t, &sel, style, 600, 500, NULL);
  /* Only query 2's lines: one per head. */
  g_assert_cmpint (lay->n_lines, ==, 2);
  for (int i = 0; i < lay->n_lines; i++)
    g_assert_cmpint (lay->lines[i].row, ==, 2);

  cairo_surface_t *s = surface_new (600, 500);
  cairo_t *cr = cairo_create (s);
  attn_head_view_render_layout (cr, lay, style);
  cairo_destroy (cr);
  double x, y;
  along (&lay->left[0], &lay->right[0], 0.5, &x, &y);
  assert_px_near ("unselected query's line", pixel_at (s, x, y),
                  px_of_rgba (&style->background), 0);
  along (&lay->left[2], &lay->right[3], 0.5, &x, &y);
  AttnRgba c1 = attn_head_color (1, style);
  assert_px_near ("selected query's line", pixel_at (s, x, y), px_of_rgba (&c1),
                  BLEND_TOL);
  cairo_surface_destroy (s);

  /* Hits: the slots give trace indices. */
  AttnHit hit;
  const AttnTokenSlot *q = &lay->left[1], *k = &lay->right[3];
  g_assert_true (attn_head_view_layout_hit (lay, q->box.x + 0.5 * q->box.width,
                                            q->y, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_QUERY);
  g_assert_cmpint (hit.query, ==, 1);
  g_assert_true (attn_head_view_layout_hit (lay, k->box.x + 0.5 * k->box.width,
                                            k->y, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_KEY);
  g_assert_cmpint (hit.key, ==, 3);
  g_assert_true (attn_view_hit_test (ATTN_VIEW_HEADS, t, &sel, style, 600, 500,
                                     k->box.x + 0.5 * k->box.width, k->y,
                                     &hit));
  g_assert_cmpint (hit.key, ==, 3);
}

/* Euclidean distance in 8-bit sRGB. */
static double
px_euclid (Px a, Px b)
{
  return sqrt ((double)(a.r - b.r) * (a.r - b.r) + (a.g - b.g) * (a.g - b.g)
               + (a.b - b.b) * (a.b - b.b));
}

/* The palette: distinct colours (the closest pair of Tol's sets is 59
 * apart), different sets on light and dark, each far from its background
 * (at least 107) so a thin translucent line shows. */
static void
test_head_palette (void)
{
  g_autoptr (AttnRenderStyle) light = attn_render_style_new (ATTN_THEME_LIGHT);
  g_autoptr (AttnRenderStyle) dark = attn_render_style_new (ATTN_THEME_DARK);
  for (int h = 0; h < ATTN_HEAD_PALETTE_SIZE; h++)
    {
      AttnRgba ca = attn_head_color (h, light), cb = attn_head_color (h, dark);
      Px a = px_of_rgba (&ca), b = px_of_rgba (&cb);
      g_assert_cmpfloat (px_euclid (a, px_of_rgba (&light->background)), >=,
                         100.0);
      g_assert_cmpfloat (px_euclid (b, px_of_rgba (&dark->background)), >=,
                         100.0);
      g_assert_cmpint (px_distance (a, b), >, 0);
      for (int o = 0; o < h; o++)
        {
          AttnRgba co = attn_head_color (o, light);
          g_assert_cmpfloat (px_euclid (a, px_of_rgba (&co)), >=, 55.0);
          co = attn_head_color (o, dark);
          g_assert_cmpfloat (px_euclid (b, px_of_rgba (&co)), >=, 55.0);
        }
      /* The palette repeats. */
      AttnRgba again = attn_head_color (h + ATTN_HEAD_PALETTE_SIZE, light);
      assert_px_near ("repeat", px_of_rgba (&again), a, 0);
    }
}

static void
test_model_view_thumbnails (gconstpointer data)
{
  AttnTheme theme = GPOINTER_TO_INT (data);
  g_autoptr (AttnTrace) t = load_trace ("render-dates.json");
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (theme);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 1;
  sel.head = 2;
  g_autoptr (AttnModelViewLayout) lay
      = attn_model_view_layout_new (t, &sel, style, 800, 500, NULL);
  g_assert_nonnull (lay);
  g_assert_cmpint (lay->n_rows, ==, 2);
  g_assert_cmpint (lay->n_heads, ==, 4);
  const AttnBlock *b0 = attn_trace_lookup_block (t, ATTN_KIND_CROSS, 0);
  int tq = b0->n_queries, tk = b0->n_keys;
  g_assert_cmpint (lay->n_queries, ==, tq);
  g_assert_cmpint (lay->n_keys, ==, tk);

  g_autoptr (AttnThumbnailCache) cache = attn_thumbnail_cache_new ();
  cairo_surface_t *s = surface_new (800, 500);
  cairo_t *cr = cairo_create (s);
  attn_model_view_render_layout (cr, lay, cache, style);
  cairo_destroy (cr);

  double pw = lay->cell_width / tk, ph = lay->cell_height / tq;
  g_assert_cmpfloat (pw, >=, 3.0);
  g_assert_cmpfloat (ph, >=, 3.0);
  for (int r = 0; r < lay->n_rows; r++)
    for (int h = 0; h < lay->n_heads; h++)
      {
        const AttnBlock *b
            = attn_trace_lookup_block (t, ATTN_KIND_CROSS, lay->layers[r]);
        const float *w = b->weights + (gsize)h * tq * tk; /* (Tq, Tk) */
        cairo_rectangle_t rect;
        attn_model_view_layout_thumbnail (lay, r, h, &rect);
        /* The top-left cell is weight (0, 0) of that head; the
         * bottom-right cell weight (Tq - 1, Tk - 1). */
        Px tl = pixel_at (s, rect.x + 0.5 * pw, rect.y + 0.5 * ph);
        Px br = pixel_at (s, rect.x + rect.width - 0.5 * pw,
                          rect.y + rect.height - 0.5 * ph);
        assert_px_near ("top-left cell", tl,
                        px_of_argb32 (attn_colormap_get_argb32 (style->colormap,
                                                                w[0], FALSE)),
                        0);
        assert_px_near ("bottom-right cell", br,
                        px_of_argb32 (attn_colormap_get_argb32 (
                            style->colormap, w[(gsize)tq * tk - 1], FALSE)),
                        0);

        /* The centre hits (layer, head) and the cell under it. */
        AttnHit hit;
        double cx = rect.x + 0.5 * rect.width, cy = rect.y + 0.5 * rect.height;
        g_assert_true (attn_model_view_layout_hit (lay, cx, cy, &hit));
        g_assert_cmpint (hit.kind, ==, ATTN_HIT_THUMBNAIL);
        g_assert_cmpint (hit.layer, ==, lay->layers[r]);
        g_assert_cmpint (hit.head, ==, h);
        int qi = (int)((cy - rect.y) / ph), ki = (int)((cx - rect.x) / pw);
        g_assert_cmpint (hit.query, ==, qi);
        g_assert_cmpint (hit.key, ==, ki);
        g_assert_cmpfloat (hit.weight, ==, w[(gsize)qi * tk + ki]);
        /* So does the generic dispatch. */
        g_assert_true (attn_view_hit_test (ATTN_VIEW_MODEL, t, &sel, style, 800,
                                           500, cx, cy, &hit));
        g_assert_cmpint (hit.layer, ==, lay->layers[r]);
        g_assert_cmpint (hit.head, ==, h);
      }

  /* The open head (layer 1, head 2) is outlined in the accent colour, just
   * outside its thumbnail. */
  g_assert_cmpint (lay->selected_row, ==, 1);
  cairo_rectangle_t rect;
  attn_model_view_layout_thumbnail (lay, 1, 2, &rect);
  assert_px_near ("outline",
                  pixel_at (s, rect.x + 0.5 * rect.width,
                            rect.y - 0.5 * lay->highlight_width),
                  px_of_rgba (&style->accent), FILL_TOL);
  /* The gap between thumbnails is background and hits nothing. */
  g_assert_cmpfloat (lay->gap, >=, 2.0);
  attn_model_view_layout_thumbnail (lay, 0, 0, &rect);
  double gx = rect.x + rect.width + 0.5 * lay->gap;
  double gy = rect.y + 0.5 * rect.height;
  assert_px_near ("gap", pixel_at (s, gx, gy), px_of_rgba (&style->background),
                  0);
  AttnHit hit;
  g_assert_false (attn_model_view_layout_hit (lay, gx, gy, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_NONE);
  cairo_surface_destroy (s);
}

/* The cache builds once per (trace, kind, colouring, hiding), and a redraw
 * from it is the same picture as a one-shot render. */
static void
test_model_view_cache (void)
{
  g_autoptr (AttnTrace) t = load_trace ("render-dates.json");
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_ENCODER_SELF);
  g_autoptr (AttnThumbnailCache) cache = attn_thumbnail_cache_new ();
  g_autoptr (GError) error = NULL;

  g_assert_true (
      attn_thumbnail_cache_update (cache, t, &sel, style, 1, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (attn_thumbnail_cache_get_n_builds (cache), ==, 1);
  cairo_surface_t *img = attn_thumbnail_cache_get (cache, 1, 3);
  const AttnBlock *b = attn_trace_lookup_block (t, ATTN_KIND_ENCODER_SELF, 1);
  g_assert_cmpint (cairo_image_surface_get_width (img), ==, b->n_keys);
  g_assert_cmpint (cairo_image_surface_get_height (img), ==, b->n_queries);
  g_assert_cmpint (cairo_image_surface_get_format (img), ==,
                   CAIRO_FORMAT_RGB24);

  /* Another layer or head selected, or a new theme colour: no rebuild. */
  sel.layer = 1;
  sel.head = 3;
  style->accent = style->foreground;
  g_assert_true (
      attn_thumbnail_cache_update (cache, t, &sel, style, 1, 1, NULL));
  g_assert_cmpuint (attn_thumbnail_cache_get_n_builds (cache), ==, 1);
  g_assert_true (attn_thumbnail_cache_get (cache, 1, 3) == img);

  cairo_surface_t *one = surface_new (640, 480);
  cairo_surface_t *two = surface_new (640, 480);
  cairo_t *cr = cairo_create (one);
  g_assert_true (attn_model_view_render_cached (cr, cache, t, &sel, style, 640,
                                                480, NULL));
  cairo_destroy (cr);
  g_assert_cmpuint (attn_thumbnail_cache_get_n_builds (cache), ==, 1);
  cr = cairo_create (two);
  g_assert_true (
      attn_view_render (ATTN_VIEW_MODEL, cr, t, &sel, style, 640, 480, NULL));
  cairo_destroy (cr);
  cairo_surface_flush (one);
  cairo_surface_flush (two);
  g_assert_cmpint (memcmp (cairo_image_surface_get_data (one),
                           cairo_image_surface_get_data (two),
                           (gsize)cairo_image_surface_get_stride (one) * 480),
                   ==, 0);
  cairo_surface_destroy (one);
  cairo_surface_destroy (two);

  /* What the images depend on: colour map, scale, hiding, kind. */
  style->colormap = ATTN_COLORMAP_MAGMA;
  g_assert_true (
      attn_thumbnail_cache_update (cache, t, &sel, style, 1, 1, NULL));
  g_assert_cmpuint (attn_thumbnail_cache_get_n_builds (cache), ==, 2);
  style->scale = ATTN_SCALE_MAX;
  g_assert_true (
      attn_thumbnail_cache_update (cache, t, &sel, style, 1, 1, NULL));
  g_assert_cmpuint (attn_thumbnail_cache_get_n_builds (cache), ==, 3);
  sel.hide_special = TRUE;
  g_assert_true (
      attn_thumbnail_cache_update (cache, t, &sel, style, 1, 1, NULL));
  g_assert_cmpuint (attn_thumbnail_cache_get_n_builds (cache), ==, 4);
  /* One key column fewer: </s> is hidden. */
  g_assert_cmpint (
      cairo_image_surface_get_width (attn_thumbnail_cache_get (cache, 0, 0)),
      ==, b->n_keys - 1);
  attn_thumbnail_cache_clear (cache);
  g_assert_true (
      attn_thumbnail_cache_update (cache, t, &sel, style, 1, 1, NULL));
  g_assert_cmpuint (attn_thumbnail_cache_get_n_builds (cache), ==, 5);

  /* A kind the trace lacks. */
  g_autoptr (AttnTrace) gpt = load_trace ("views-gpt.json");
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  g_assert_false (
      attn_thumbnail_cache_update (cache, gpt, &sel, style, 1, 1, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "cross"));
}

/* A thumbnail smaller than its matrix pools the weights, showing each
 * block's largest. Odd queries look at themselves, even ones half the
 * sequence away: the dotted diagonal must show as a continuous line of the
 * top colour, where nearest sampling of the matrix would land on even rows
 * and lose it. */
static void
test_model_view_pooling (void)
{
  int n = 64;
  AttnTrace *t = attn_trace_new ("diag", "gpt2",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 1);
  g_autoptr (AttnTrace) owned = t;
  g_autoptr (GString) text = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    g_string_append_c (text, 'a');
  attn_trace_set_text (t, ATTN_SIDE_TARGET, text->str);
  for (int i = 0; i < n; i++)
    attn_trace_add_token (t, ATTN_SIDE_TARGET, "a", 0, i, i + 1, FALSE);
  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_DECODER_SELF, 0, 1, n, n);
  for (int q = 0; q < n; q++)
    b->weights[(gsize)q * n + (q % 2 == 1 ? q : (q + n / 2) % n)] = 1.0f;
  g_assert_true (attn_trace_validate (t, NULL));

  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  sel.head = ATTN_HEADS_MEAN; /* nothing outlined */
  g_autoptr (AttnModelViewLayout) lay
      = attn_model_view_layout_new (t, &sel, style, 60, 60, NULL);
  g_assert_nonnull (lay);
  cairo_surface_t *s = surface_new (60, 60);
  cairo_t *cr = cairo_create (s);
  int pr, pc;
  attn_model_view_layout_pools (lay, cr, &pr, &pc);
  g_assert_cmpint (pr, ==, (int)ceil (n / floor (lay->cell_height)));
  g_assert_cmpint (pc, ==, (int)ceil (n / floor (lay->cell_width)));
  g_assert_cmpint (pr, >=, 2);
  g_autoptr (AttnThumbnailCache) cache = attn_thumbnail_cache_new ();
  attn_model_view_render_layout (cr, lay, cache, style);
  cairo_destroy (cr);
  cairo_surface_t *img = attn_thumbnail_cache_get (cache, 0, 0);
  g_assert_cmpint (cairo_image_surface_get_width (img), ==, (n + pc - 1) / pc);
  g_assert_cmpint (cairo_image_surface_get_height (img), ==, (n + pr - 1) / pr);

  cairo_rectangle_t rect;
  attn_model_view_layout_thumbnail (lay, 0, 0, &rect);
  Px top
      = px_of_argb32 (attn_colormap_get_argb32 (style->colormap, 1.0, FALSE));
  Px bottom
      = px_of_argb32 (attn_colormap_get_argb32 (style->colormap, 0.0, FALSE));
  /* Sampled at each device pixel row's centre: the diagonal pixel is the
   * top colour, a pixel well off the diagonal the bottom colour. */
  for (int py = (int)ceil (rect.y); py + 1 <= rect.y + rect.height; py++)
    {
      double fy = (py + 0.5 - rect.y) / rect.height; /* in [0, 1) */
      double x = rect.x + fy * rect.width;
      int q = (int)(fy * n);
      Px on = pixel_at (s, x, py + 0.5);
      if (px_distance (on, top) > 0)
        g_error ("diagonal at device row %d (query %d): (%d, %d, %d)", py, q,
                 on.r, on.g, on.b);
      double off = fy < 0.5 ? x + 0.4 * rect.width : x - 0.4 * rect.width;
      assert_px_near ("off the diagonal", pixel_at (s, off, py + 0.5), bottom,
                      0);
    }
  cairo_surface_destroy (s);
}

/* Row q of the last layer's block of kind, mean over heads, in double:
 * what the step view should shade with (computed here from the raw
 * weights, not through the view's code). */
static double
mean_weight (const AttnBlock *b, int q, int k)
{
  double sum = 0.0;
  for (int h = 0; h < b->n_heads; h++)
    sum += b->weights[((gsize)h * b->n_queries + q) * b->n_keys + k];
  return sum / b->n_heads;
}

/* The length of a bar in pixels, measured along its middle line from the
 * first whole pixel after its start (the axis line lies just before it):
 * each pixel counts by how far it has gone from the background towards the
 * bar's colour, so a partly covered last pixel counts in part. */
static double
bar_length (cairo_surface_t *s, const AttnStepBar *bar, Px color, Px bg)
{
  double y = bar->bar.y + 0.5 * bar->bar.height;
  /* The channel where bar and background differ most. */
  int dr = color.r - bg.r, dg = color.g - bg.g, db = color.b - bg.b;
  int ch = abs (dr) >= abs (dg) && abs (dr) >= abs (db) ? 0
           : abs (dg) >= abs (db)                       ? 1
                                                        : 2;
  double full = ch == 0 ? dr : ch == 1 ? dg : db;
  g_assert_cmpfloat (fabs (full), >=, 40.0);
  double len = 0.0;
  for (int x = (int)ceil (bar->bar.x); x < cairo_image_surface_get_width (s);
       x++)
    {
      Px p = pixel_at (s, x + 0.5, y);
      double d = ch == 0 ? p.r - bg.r : ch == 1 ? p.g - bg.g : p.b - bg.b;
      double a = d / full;
      if (a < 0.02)
        break;
      len += MIN (a, 1.0);
    }
  return len;
}

typedef struct
{
  const char *name;
  const char *trace;
  int step;
  AttnKind kind; /* the block the view should shade with */
} StepCase;

static const StepCase step_cases[] = {
  { "dates-6", "render-dates.json", 6, ATTN_KIND_CROSS },
  { "dates-0", "render-dates.json", 0, ATTN_KIND_CROSS },
  { "gpt-7", "views-gpt.json", 7, ATTN_KIND_DECODER_SELF },
  { "gpt-0", "views-gpt.json", 0, ATTN_KIND_DECODER_SELF },
};

static void
test_step_view (gconstpointer data)
{
  const StepCase *c = data;
  g_autoptr (AttnTrace) t = load_trace (c->trace);
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_step_view_selection_init (&sel, c->step);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnStepViewLayout) lay
      = attn_step_view_layout_new (t, &sel, style, 800, 500, &error);
  g_assert_no_error (error);
  const AttnBlock *b = attn_trace_lookup_block (t, c->kind, t->n_layers - 1);
  g_assert_cmpint (lay->kind, ==, c->kind);
  g_assert_cmpint (lay->layer, ==, t->n_layers - 1);
  /* Cross: every source token; decoder-only: the prefix 0..step. */
  int n_keys = c->kind == ATTN_KIND_CROSS ? b->n_keys : c->step + 1;
  g_assert_cmpint (lay->n_keys, ==, n_keys);
  g_assert_true (lay->show_key_text);

  cairo_surface_t *s = surface_new (800, 500);
  cairo_t *cr = cairo_create (s);
  attn_step_view_render_layout (cr, lay, style);
  cairo_destroy (cr);

  /* Each token box is filled with the colour of its weight, sampled just
   * inside the box's left edge (clear of the hairline and the text). */
  for (int i = 0; i < lay->n_keys; i++)
    {
      g_assert_cmpint (lay->keys[i].token, ==, i);
      double w = mean_weight (b, c->step, i);
      g_assert_cmpfloat_with_epsilon (lay->weights[i], w, 1e-6);
      const cairo_rectangle_t *box = &lay->keys[i].box;
      Px got = pixel_at (s, box->x + 2.5, box->y + 0.5 * box->height);
      Px want = px_of_argb32 (
          attn_colormap_get_argb32 (style->colormap, lay->weights[i], FALSE));
      assert_px_near ("token box", got, want, FILL_TOL);
    }

  /* Bars: the step's top alternatives, lengths proportional to their
   * probabilities (measured in pixels, within a pixel of prob * full),
   * the emitted one in the accent colour. */
  const AttnStep *step = g_ptr_array_index (t->steps, c->step);
  g_assert_cmpint (lay->n_bars, ==, MIN (step->n_top, 5));
  g_assert_cmpfloat (lay->bar_full, >, 200.0);
  int emitted = 0;
  for (int i = 0; i < lay->n_bars; i++)
    {
      const AttnStepBar *bar = &lay->bars[i];
      g_assert_cmpint (bar->candidate, ==, i);
      g_assert_cmpfloat (bar->prob, ==, step->top[i].prob);
      gboolean is_emitted = step->top[i].id == step->emitted.id;
      g_assert_cmpint (bar->emitted, ==, is_emitted);
      emitted += is_emitted;
      Px color = px_of_rgba (is_emitted ? &style->accent : &style->muted);
      double got = bar_length (s, bar, color, px_of_rgba (&style->background));
      double want
          = bar->bar.x + step->top[i].prob * lay->bar_full - ceil (bar->bar.x);
      if (fabs (got - want) > BAR_TOL)
        g_error ("bar %d: %.2f pixels long, want %.2f (p = %g)", i, got, want,
                 step->top[i].prob);
      /* The bar's row hits its candidate. */
      AttnHit hit;
      g_assert_true (attn_step_view_layout_hit (
          lay, bar->bar.x + 1.0, bar->bar.y + 0.5 * bar->bar.height, &hit));
      g_assert_cmpint (hit.kind, ==, ATTN_HIT_CANDIDATE);
      g_assert_cmpint (hit.candidate, ==, i);
    }
  g_assert_cmpint (emitted, <=, 1);

  /* A token box hits its key with its weight. */
  AttnHit hit;
  int last = lay->n_keys - 1;
  g_assert_true (attn_step_view_layout_hit (lay, lay->keys[last].x,
                                            lay->keys[last].y, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_KEY);
  g_assert_cmpint (hit.key, ==, last);
  g_assert_cmpint (hit.query, ==, c->step);
  g_assert_cmpfloat (hit.weight, ==, lay->weights[last]);
  cairo_surface_destroy (s);
}

/* Hiding tokens renormalises the shaded row exactly as the shared view
 * matrix renormalises that row. */
static void
test_step_view_hidden (void)
{
  g_autoptr (AttnTrace) t = load_trace ("render-dates.json");
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  int step = 4;
  AttnSelection sel;
  attn_step_view_selection_init (&sel, step);
  sel.layer = 0;
  sel.head = 1;
  sel.hide_special = TRUE;
  sel.hide_sink = TRUE;
  g_autoptr (AttnStepViewLayout) lay
      = attn_step_view_layout_new (t, &sel, style, 800, 500, NULL);
  g_assert_nonnull (lay);
  g_assert_true (lay->renormalised);
  g_assert_true (lay->show_note);

  AttnSelection msel = sel;
  msel.kind = ATTN_KIND_CROSS;
  g_autoptr (AttnViewMatrix) m = attn_view_matrix_new (t, &msel, NULL);
  g_assert_nonnull (m);
  int row = -1;
  for (int r = 0; r < m->n_rows; r++)
    if (m->row_token[r] == step)
      row = r;
  g_assert_cmpint (row, >=, 0);
  g_assert_cmpint (lay->n_keys, ==, m->n_cols);
  double sum = 0.0;
  for (int i = 0; i < lay->n_keys; i++)
    {
      g_assert_cmpint (lay->keys[i].token, ==, m->col_token[i]);
      g_assert_cmpfloat_with_epsilon (lay->weights[i],
                                      m->w[(gsize)row * m->n_cols + i], 1e-6);
      sum += lay->weights[i];
    }
  g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
}

static void
test_step_view_errors (void)
{
  g_autoptr (AttnTrace) t = load_trace ("render-dates.json");
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  AttnSelection sel;
  g_autoptr (GError) error = NULL;

  attn_step_view_selection_init (&sel, (int)t->steps->len);
  g_assert_null (attn_step_view_layout_new (t, &sel, style, 400, 300, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_autofree char *range = g_strdup_printf ("steps 0–%u", t->steps->len - 1);
  g_assert_nonnull (strstr (error->message, range));
  g_clear_error (&error);

  attn_step_view_selection_init (&sel, 0);
  sel.layer = t->n_layers;
  g_assert_null (attn_step_view_layout_new (t, &sel, style, 400, 300, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "valid layers are 0–1"));
  g_clear_error (&error);

  sel.layer = -1;
  sel.head = 4;
  g_assert_null (attn_step_view_layout_new (t, &sel, style, 400, 300, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* A trace without steps. */
  g_autoptr (AttnTrace) bare = align_trace ();
  sel.head = ATTN_HEADS_MEAN;
  g_assert_null (
      attn_step_view_layout_new (bare, &sel, style, 400, 300, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "no decoding steps"));
}

static int
compare_float_desc (const void *a, const void *b)
{
  float x = *(const float *)a, y = *(const float *)b;
  return (x < y) - (x > y);
}

/* A decoder-only trace of n tokens, one layer, two heads of causal rows
 * with distinct weights (so "the strongest k" is one set). */
static AttnTrace *
long_trace (int n)
{
  AttnTrace *t = attn_trace_new ("long", "gpt2",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 2);
  g_autoptr (GString) text = g_string_new (NULL);
  for (int i = 0; i < n; i++)
    g_string_append_c (text, (char)('a' + i % 26));
  attn_trace_set_text (t, ATTN_SIDE_TARGET, text->str);
  for (int i = 0; i < n; i++)
    {
      char s[2] = { text->str[i], 0 };
      attn_trace_add_token (t, ATTN_SIDE_TARGET, s, i % 26, i, i + 1, FALSE);
    }
  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_DECODER_SELF, 0, 2, n, n);
  for (int h = 0; h < 2; h++)
    for (int q = 0; q < n; q++)
      {
        float *row = b->weights + ((gsize)h * n + q) * n; /* (Tk) */
        double sum = 0.0;
        for (int k = 0; k <= q; k++)
          sum += row[k] = (float)exp (0.01 * (k + 1) * (h + 1) + 1e-4 * q);
        for (int k = 0; k <= q; k++)
          row[k] = (float)(row[k] / sum);
      }
  return t;
}

/* Past ATTN_VIEW_MAX_LINKS links, the alignment and head views draw the
 * strongest and say so. */
static void
test_links_cap (void)
{
  int n = 100; /* 5050 causal links per head */
  g_autoptr (AttnTrace) t = long_trace (n);
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  style->threshold = 0.0;
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_DECODER_SELF);
  sel.head = 1;
  g_autoptr (AttnAlignmentLayout) al
      = attn_alignment_layout_new (t, &sel, style, 900, 600, NULL);
  g_assert_cmpint (al->n_links_total, ==, n * (n + 1) / 2);
  g_assert_cmpint (al->n_links, ==, ATTN_VIEW_MAX_LINKS);
  g_assert_nonnull (strstr (al->note, "trongest 2000 of 5050 links drawn"));
  /* The kept ones are the strongest: the weakest kept is the 2000th
   * largest weight of the head. */
  const AttnBlock *b = attn_trace_lookup_block (t, ATTN_KIND_DECODER_SELF, 0);
  g_autofree float *sorted = g_new (float, (gsize)n *n);
  memcpy (sorted, b->weights + (gsize)n * n, sizeof (float) * n * n);
  qsort (sorted, (gsize)n * n, sizeof (float), compare_float_desc);
  g_assert_cmpfloat (al->links[0].weight, ==, sorted[ATTN_VIEW_MAX_LINKS - 1]);
  g_assert_cmpfloat (al->links[al->n_links - 1].weight, ==, sorted[0]);

  sel.head_subset = 0;
  g_autoptr (AttnHeadViewLayout) hv
      = attn_head_view_layout_new (t, &sel, style, 900, 600, NULL);
  g_assert_cmpint (hv->n_lines_total, ==, n * (n + 1));
  g_assert_cmpint (hv->n_lines, ==, ATTN_VIEW_MAX_LINKS);
  g_assert_nonnull (strstr (hv->note, "trongest 2000 of 10100 links drawn"));
  for (int i = 1; i < hv->n_lines; i++)
    g_assert_cmpfloat (hv->lines[i - 1].weight, <=, hv->lines[i].weight);
  /* Both heads' weights together: the weakest kept is the 2000th
   * largest of all. */
  g_autofree float *all = g_new (float, (gsize)2 * n * n);
  memcpy (all, b->weights, sizeof (float) * 2 * n * n);
  qsort (all, (gsize)2 * n * n, sizeof (float), compare_float_desc);
  g_assert_cmpfloat (hv->lines[0].weight, ==, all[ATTN_VIEW_MAX_LINKS - 1]);

  /* A selected token has far fewer links: all drawn, no note. */
  sel.selected_query = n - 1;
  g_autoptr (AttnHeadViewLayout) one
      = attn_head_view_layout_new (t, &sel, style, 900, 600, NULL);
  g_assert_cmpint (one->n_lines, ==, 2 * n);
  g_assert_cmpint (one->n_lines_total, ==, 2 * n);
  g_assert_null (one->note);
}

/* Every view through the generic dispatch, at sizes from a thumbnail to a
 * poster, in every theme: draws without error, keeps within the drawing
 * (the far corner stays background), and hit-tests a grid of points to
 * token indices in range. */
static void
test_views_sizes (void)
{
  g_autoptr (AttnTrace) t = load_trace ("render-dates.json");
  static const AttnViewKind views[] = { ATTN_VIEW_ALIGNMENT, ATTN_VIEW_HEADS,
                                        ATTN_VIEW_MODEL, ATTN_VIEW_STEP };
  static const int sizes[][2] = { { 40, 30 }, { 320, 240 }, { 1600, 1200 } };
  for (int theme = 0; theme < 3; theme++)
    {
      g_autoptr (AttnRenderStyle) style
          = attn_render_style_new ((AttnTheme)theme);
      for (guint v = 0; v < G_N_ELEMENTS (views); v++)
        for (guint z = 0; z < G_N_ELEMENTS (sizes); z++)
          {
            int w = sizes[z][0], h = sizes[z][1];
            AttnSelection sel;
            attn_step_view_selection_init (&sel, 3);
            sel.layer = 1;
            sel.head = views[v] == ATTN_VIEW_STEP ? ATTN_HEADS_MAX : 1;
            cairo_surface_t *s = surface_new (w, h);
            cairo_t *cr = cairo_create (s);
            g_autoptr (GError) error = NULL;
            gboolean ok
                = attn_view_render (views[v], cr, t, &sel, style, w, h, &error);
            g_assert_no_error (error);
            g_assert_true (ok);
            cairo_destroy (cr);
            assert_px_near ("corner", pixel_at (s, w - 1, h - 1),
                            px_of_rgba (&style->background), 0);
            cairo_surface_destroy (s);
            for (int y = h / 24; y < h; y += h / 12)
              for (int x = w / 24; x < w; x += w / 12)
                {
                  AttnHit hit;
                  if (!attn_view_hit_test (views[v], t, &sel, style, w, h, x, y,
                                           &hit))
                    {
                      g_assert_cmpint (hit.kind, ==, ATTN_HIT_NONE);
                      continue;
                    }
                  g_assert_cmpint (hit.query, <, (int)t->target_tokens->len);
                  g_assert_cmpint (
                      hit.key, <,
                      (int)MAX (t->source_tokens->len, t->target_tokens->len));
                }
          }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const struct
  {
    const char *name;
    AttnTheme theme;
  } themes[] = { { "light", ATTN_THEME_LIGHT },
                 { "dark", ATTN_THEME_DARK },
                 { "presentation", ATTN_THEME_PRESENTATION } };
  for (guint i = 0; i < G_N_ELEMENTS (themes); i++)
    {
      g_autofree char *a = g_strdup_printf (
          "/attn/views/alignment/strongest-band/%s", themes[i].name);
      g_test_add_data_func (a, GINT_TO_POINTER (themes[i].theme),
                            test_alignment_strongest_band);
      g_autofree char *d
          = g_strdup_printf ("/attn/views/alignment/dates/%s", themes[i].name);
      g_test_add_data_func (d, GINT_TO_POINTER (themes[i].theme),
                            test_alignment_dates);
      g_autofree char *h
          = g_strdup_printf ("/attn/views/heads/lines/%s", themes[i].name);
      g_test_add_data_func (h, GINT_TO_POINTER (themes[i].theme),
                            test_head_view_lines);
      g_autofree char *m
          = g_strdup_printf ("/attn/views/model/thumbnails/%s", themes[i].name);
      g_test_add_data_func (m, GINT_TO_POINTER (themes[i].theme),
                            test_model_view_thumbnails);
    }
  g_test_add_func ("/attn/views/alignment/selection", test_alignment_selection);
  g_test_add_func ("/attn/views/alignment/errors", test_alignment_errors);
  g_test_add_func ("/attn/views/heads/select", test_head_view_select);
  g_test_add_func ("/attn/views/heads/palette", test_head_palette);
  g_test_add_func ("/attn/views/model/cache", test_model_view_cache);
  g_test_add_func ("/attn/views/links-cap", test_links_cap);
  g_test_add_func ("/attn/views/model/pooling", test_model_view_pooling);
  for (guint i = 0; i < G_N_ELEMENTS (step_cases); i++)
    {
      g_autofree char *p
          = g_strdup_printf ("/attn/views/step/%s", step_cases[i].name);
      g_test_add_data_func (p, &step_cases[i], test_step_view);
    }
  g_test_add_func ("/attn/views/step/hidden", test_step_view_hidden);
  g_test_add_func ("/attn/views/step/errors", test_step_view_errors);
  g_test_add_func ("/attn/views/sizes", test_views_sizes);
  return g_test_run ();
}
