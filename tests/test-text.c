/* test-text.c: the Pango helpers every view uses (ui/render/attn-text.h):
 * sizes in user units independent of the surface, ellipsising, anchored and
 * rotated drawing, label thinning, titles and weight formatting. */
#include <math.h>
#include <string.h>

#include "ui/render/attn-text.h"

typedef struct
{
  double pitch, extent, gap;
  int step;
} StepCase;

/* clang-format off */
static const StepCase step_cases[] = {
  { 10, 8, 1, 1 },
  { 9, 8, 1, 1 },     /* exactly fits */
  { 4, 8, 1, 3 },     /* 9 / 4 = 2.25 */
  { 5, 10, 0, 2 },    /* labels touching is fine without a gap */
  { 1, 12, 0, 12 },
  { 0.01, 12, 2, 1400 },
  { 100, 0, 0, 1 },
};
/* clang-format on */

static void
test_label_step (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (step_cases); i++)
    {
      const StepCase *c = &step_cases[i];
      int k = attn_text_label_step (c->pitch, c->extent, c->gap);
      if (k != c->step)
        g_error ("case %u: step %d, want %d", i, k, c->step);
    }
  /* The contract for any input: k labels apart leave the gap, k - 1 do
   * not. */
  for (double pitch = 0.3; pitch < 40.0; pitch *= 1.37)
    for (double extent = 1.0; extent < 60.0; extent *= 1.71)
      {
        int k = attn_text_label_step (pitch, extent, 2.0);
        g_assert_cmpfloat (k * pitch, >=, extent + 2.0 - 1e-9);
        if (k > 1)
          g_assert_cmpfloat ((k - 1) * pitch, <, extent + 2.0);
      }
}

typedef struct
{
  double w;
  const char *text;
} WeightCase;

static const WeightCase weight_cases[] = {
  { 0.0, "0" },      { 1.0, "1" },     { 0.5, "0.5" },   { 0.25, "0.25" },
  { 0.126, "0.13" }, { 0.999, "1" },   { 0.01, "0.01" }, { 0.005, "0.01" },
  { 1e-3, "1e-3" },  { 1e-4, "1e-4" }, { 3e-5, "3e-5" }, { 2.4e-12, "2e-12" },
  { -1.0, "0" },     { NAN, "0" },
};

static void
test_format_weight (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (weight_cases); i++)
    {
      g_autofree char *s = attn_text_format_weight (weight_cases[i].w);
      if (strcmp (s, weight_cases[i].text) != 0)
        g_error ("case %u: %g formats as \"%s\", want \"%s\"", i,
                 weight_cases[i].w, s, weight_cases[i].text);
    }
}

static void
test_block_title (void)
{
  struct
  {
    AttnKind kind;
    int layer, head;
    const char *title;
  } cases[] = {
    { ATTN_KIND_CROSS, 1, 2, "Cross-attention · layer 1 · head 2" },
    { ATTN_KIND_ENCODER_SELF, 0, ATTN_HEADS_MEAN,
      "Encoder self-attention · layer 0 · mean of 4 heads" },
    { ATTN_KIND_DECODER_SELF, 11, ATTN_HEADS_MAX,
      "Decoder self-attention · layer 11 · max of 4 heads" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *t = attn_text_block_title (cases[i].kind, cases[i].layer,
                                                  cases[i].head, 4);
      g_assert_cmpstr (t, ==, cases[i].title);
    }
}

static void
test_rotated_extent (void)
{
  g_assert_cmpfloat (attn_text_rotated_extent (10, 2, 0, TRUE), ==, 10);
  g_assert_cmpfloat (attn_text_rotated_extent (10, 2, 0, FALSE), ==, 2);
  g_assert_cmpfloat (attn_text_rotated_extent (10, 2, -G_PI / 2, TRUE), ==, 2);
  g_assert_cmpfloat (attn_text_rotated_extent (10, 2, -G_PI / 2, FALSE), ==,
                     10);
  g_assert_cmpfloat_with_epsilon (
      attn_text_rotated_extent (10, 2, G_PI / 4, TRUE), 12 / sqrt (2), 1e-12);
}

/* Sizes are in user units: twice the scale is twice the width, and a line
 * is about as high as the font is large. */
static void
test_sizes (void)
{
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  g_autoptr (GObject) ctx_ref = G_OBJECT (attn_text_context_new ());
  PangoContext *ctx = PANGO_CONTEXT (ctx_ref);
  g_autoptr (PangoLayout) one
      = attn_text_layout_new (ctx, style, 1.0, FALSE, "attention heads");
  g_autoptr (PangoLayout) two
      = attn_text_layout_new (ctx, style, 2.0, FALSE, "attention heads");
  double w1, h1, w2, h2;
  attn_text_get_size (one, &w1, &h1);
  attn_text_get_size (two, &w2, &h2);
  g_assert_cmpfloat (h1, >=, 1.0 * style->font_size);
  g_assert_cmpfloat (h1, <=, 1.6 * style->font_size);
  /* Unhinted metrics scale linearly; 1 % covers kerning rounding. */
  g_assert_cmpfloat (fabs (w2 / w1 - 2.0), <, 0.01);
  g_assert_cmpfloat (fabs (h2 / h1 - 2.0), <, 0.01);

  g_autoptr (PangoLayout) bold
      = attn_text_layout_new (ctx, style, 1.0, TRUE, "attention heads");
  double wb;
  attn_text_get_size (bold, &wb, NULL);
  g_assert_cmpfloat (wb, >, w1);

  /* Markup is not interpreted: a token "<b>" is three characters. */
  g_autoptr (PangoLayout) markup
      = attn_text_layout_new (ctx, style, 1.0, FALSE, "<b>&amp;");
  g_assert_cmpstr (pango_layout_get_text (markup), ==, "<b>&amp;");
}

/* The point of the unhinted context: a label measured before any surface
 * exists keeps its size on a 2x screen, rotated, or in a PDF. */
static void
test_size_independent_of_surface (void)
{
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  g_autoptr (GObject) ctx_ref = G_OBJECT (attn_text_context_new ());
  PangoContext *ctx = PANGO_CONTEXT (ctx_ref);
  g_autoptr (PangoLayout) layout = attn_text_layout_new (
      ctx, style, 1.0, FALSE, "Cross-attention 注意力 minimum");
  double w0, h0;
  attn_text_get_size (layout, &w0, &h0);

  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 8, 8);
  cairo_t *cr = cairo_create (s);
  double scales[] = { 2.0, 1.3, 0.5 };
  for (guint i = 0; i < G_N_ELEMENTS (scales); i++)
    {
      cairo_identity_matrix (cr);
      cairo_scale (cr, scales[i], scales[i]);
      cairo_rotate (cr, 0.3);
      attn_text_context_update (ctx, cr);
      pango_layout_context_changed (layout);
      double w, h;
      attn_text_get_size (layout, &w, &h);
      /* Pango positions glyphs in 1/1024 units at the device size, so
       * advances drift by a few of those; 1e-3 of the width is a fifth of
       * a pixel on this label, hinting would be whole pixels per glyph. */
      g_assert_cmpfloat_with_epsilon (w, w0, 1e-3 * w0);
      g_assert_cmpfloat_with_epsilon (h, h0, 1e-3 * h0);
    }
  cairo_destroy (cr);
  cairo_surface_destroy (s);
}

static void
test_fit_width (void)
{
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  g_autoptr (GObject) ctx_ref = G_OBJECT (attn_text_context_new ());
  PangoContext *ctx = PANGO_CONTEXT (ctx_ref);
  g_autoptr (PangoLayout) layout
      = attn_text_layout_new (ctx, style, 1.0, FALSE, "internationalisation");
  double full;
  attn_text_get_size (layout, &full, NULL);

  g_assert_false (attn_text_fit_width (layout, full + 1.0));
  double w;
  attn_text_get_size (layout, &w, NULL);
  g_assert_cmpfloat_with_epsilon (w, full, 1e-6);

  g_assert_true (attn_text_fit_width (layout, full / 2.0));
  attn_text_get_size (layout, &w, NULL);
  g_assert_cmpfloat (w, <=, full / 2.0);
  g_assert_cmpfloat (w, >, 0.0);

  g_assert_false (attn_text_fit_width (layout, 0.0));
  attn_text_get_size (layout, &w, NULL);
  g_assert_cmpfloat_with_epsilon (w, full, 1e-6);
}

static void
test_token_layout (void)
{
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  g_autoptr (GObject) ctx_ref = G_OBJECT (attn_text_context_new ());
  PangoContext *ctx = PANGO_CONTEXT (ctx_ref);
  g_autoptr (PangoLayout) l
      = attn_text_token_layout_new (ctx, style, 1.0, FALSE, " world\n");
  g_assert_cmpstr (pango_layout_get_text (l), ==, "␣world↵");
  g_assert_cmpint (pango_layout_get_line_count (l), ==, 1);
}

/* Ink bounding box of dark pixels on a white RGB24 surface. */
static gboolean
ink_box (cairo_surface_t *s, int *x0, int *y0, int *x1, int *y1)
{
  cairo_surface_flush (s);
  int w = cairo_image_surface_get_width (s);
  int h = cairo_image_surface_get_height (s);
  int stride = cairo_image_surface_get_stride (s);
  const unsigned char *data = cairo_image_surface_get_data (s);
  *x0 = *y0 = G_MAXINT;
  *x1 = *y1 = -1;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        guint32 px = ((const guint32 *)(data + y * stride))[x];
        if (((px >> 8) & 0xff) < 128)
          {
            *x0 = MIN (*x0, x);
            *y0 = MIN (*y0, y);
            *x1 = MAX (*x1, x);
            *y1 = MAX (*y1, y);
          }
      }
  return *x1 >= 0;
}

typedef struct
{
  const char *name;
  double x, y, angle, halign, valign;
  /* Where the ink must lie (inclusive pixel bounds), and a bound it must
   * reach to show the text went the right way. */
  int min_x, min_y, max_x, max_y;
} DrawCase;

/* 20-unit type: a line is about 23 units high, "Wide" about 50 wide. */
static const DrawCase draw_cases[] = {
  /* top-left corner at (20, 30): the text hangs right and down */
  { "top-left", 20, 30, 0, 0, 0, 19, 29, 90, 60 },
  /* bottom-right corner at (180, 170): the text sits left and up */
  { "bottom-right", 180, 170, 0, 1, 1, 100, 140, 180, 170 },
  /* left-middle at (100, 180), turned to read upwards: a column above */
  { "rotated-up", 100, 180, -G_PI / 2, 0, 0.5, 86, 100, 114, 180 },
};

static void
test_draw_anchor (gconstpointer data)
{
  const DrawCase *c = data;
  g_autoptr (AttnRenderStyle) style = attn_render_style_new (ATTN_THEME_LIGHT);
  style->font_size = 20.0;
  g_autoptr (GObject) ctx_ref = G_OBJECT (attn_text_context_new ());
  PangoContext *ctx = PANGO_CONTEXT (ctx_ref);
  g_autoptr (PangoLayout) l
      = attn_text_layout_new (ctx, style, 1.0, FALSE, "Wide");
  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 200, 200);
  cairo_t *cr = cairo_create (s);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_paint (cr);
  attn_text_context_update (ctx, cr);
  pango_layout_context_changed (l);
  AttnRgba black = { 0, 0, 0, 1 };
  attn_text_draw (cr, l, c->x, c->y, c->angle, c->halign, c->valign, &black);
  /* The state is restored: no leftover rotation or colour. */
  cairo_matrix_t m;
  cairo_get_matrix (cr, &m);
  g_assert_cmpfloat (m.xx, ==, 1.0);
  g_assert_cmpfloat (m.xy, ==, 0.0);

  int x0, y0, x1, y1;
  g_assert_true (ink_box (s, &x0, &y0, &x1, &y1));
  if (x0 < c->min_x || y0 < c->min_y || x1 > c->max_x || y1 > c->max_y)
    g_error ("%s: ink [%d, %d] x [%d, %d] outside [%d, %d] x [%d, %d]", c->name,
             x0, x1, y0, y1, c->min_x, c->max_x, c->min_y, c->max_y);
  double wide = x1 - x0, tall = y1 - y0;
  if (c->angle != 0.0)
    g_assert_cmpfloat (tall, >, 2.0 * wide);
  else
    g_assert_cmpfloat (wide, >, 2.0 * tall);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/text/label-step", test_label_step);
  g_test_add_func ("/attn/text/format-weight", test_format_weight);
  g_test_add_func ("/attn/text/block-title", test_block_title);
  g_test_add_func ("/attn/text/rotated-extent", test_rotated_extent);
  g_test_add_func ("/attn/text/sizes", test_sizes);
  g_test_add_func ("/attn/text/size-independent-of-surface",
                   test_size_independent_of_surface);
  g_test_add_func ("/attn/text/fit-width", test_fit_width);
  g_test_add_func ("/attn/text/token-layout", test_token_layout);
  for (guint i = 0; i < G_N_ELEMENTS (draw_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/text/draw/%s", draw_cases[i].name);
      g_test_add_data_func (path, &draw_cases[i], test_draw_anchor);
    }
  return g_test_run ();
}
