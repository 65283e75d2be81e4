/* test-glyphs.c: tokens in Chinese, emoji, combining marks and Arabic are
 * drawn with real glyphs, never the missing-glyph box.
 *
 * Token labels are laid out exactly as the views lay them out
 * (attn_text_token_layout_new in each theme's type) and Pango is asked how
 * many glyphs it could not find (pango_layout_get_unknown_glyphs_count);
 * a character no font has proves that the count does see a box. Needs the
 * fonts of tools/deps.sh: fonts-noto-cjk and fonts-noto-color-emoji. The
 * heatmap of such a trace is exported to glyphs.png in the build folder for
 * a person to look at. */
#include <string.h>

#include <glib/gstdio.h>

#include "core/attn-error.h"
#include "ui/render/attn-export.h"
#include "ui/render/attn-text.h"

#define SOURCE "注意力 😀 e\u0301 مرحبا"
#define TARGET "Attention 注意 👍🏽"

/* Spans are byte offsets into SOURCE / TARGET. */
static AttnTrace *
make_trace (void)
{
  AttnTrace *t = attn_trace_new ("glyphs", "transformer-encoder-decoder",
                                 ATTN_MECHANISM_SCALED_DOT_PRODUCT, 1, 2);
  attn_trace_set_text (t, ATTN_SIDE_SOURCE, SOURCE);
  attn_trace_set_text (t, ATTN_SIDE_TARGET, TARGET);
  static const struct {
    const char *text;
    int start, end;
  } src[] = {
    { "注", 0, 3 },       { "意", 3, 6 },        { "力", 6, 9 },
    { " 😀", 9, 14 },     { " e\u0301", 14, 18 }, { " مرحبا", 18, 29 },
  }, tgt[] = {
    { "Attention", 0, 9 }, { " 注意", 9, 16 }, { " 👍🏽", 16, 25 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (src); i++)
    attn_trace_add_token (t, ATTN_SIDE_SOURCE, src[i].text, (int) i + 10,
                          src[i].start, src[i].end, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, "</s>", 2, -1, -1, TRUE);
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "<s>", 1, -1, -1, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (tgt); i++)
    attn_trace_add_token (t, ATTN_SIDE_TARGET, tgt[i].text, (int) i + 30,
                          tgt[i].start, tgt[i].end, FALSE);

  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_CROSS, 0, 2, 4, 7);
  /* Head 0 aligns each target token with one source token; head 1 is
   * uniform. */
  static const int align[4] = { 6, 1, 0, 3 };
  for (int q = 0; q < 4; q++)
    for (int k = 0; k < 7; k++)
      {
        b->weights[q * 7 + k] = k == align[q] ? 0.7f : 0.05f;
        b->weights[28 + q * 7 + k] = 1.0f / 7.0f;
      }
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (t, &error));
  g_assert_no_error (error);
  return t;
}

/* The family of the font Pango picked for the character at byte `index`
 * of the layout's text. */
static char *
font_family_at (PangoLayout *layout, int index)
{
  PangoLayoutIter *iter = pango_layout_get_iter (layout);
  char *family = NULL;
  do
    {
      PangoLayoutRun *run = pango_layout_iter_get_run_readonly (iter);
      if (run == NULL)
        continue;
      PangoItem *item = run->item;
      if (index >= item->offset && index < item->offset + item->length)
        {
          PangoFontDescription *d = pango_font_describe (
            item->analysis.font);
          family = g_strdup (pango_font_description_get_family (d));
          pango_font_description_free (d);
        }
    }
  while (family == NULL && pango_layout_iter_next_run (iter));
  pango_layout_iter_free (iter);
  return family != NULL ? family : g_strdup ("");
}

static void
test_no_missing_glyphs (gconstpointer data)
{
  AttnTheme theme = GPOINTER_TO_INT (data);
  g_autoptr (AttnTrace) trace = make_trace ();
  AttnRenderStyle style;
  attn_render_style_init (&style, theme);
  PangoContext *ctx = attn_text_context_new ();
  guint checked = 0;
  for (int side = 0; side < 2; side++)
    for (guint i = 0; i < attn_trace_n_tokens (trace, (AttnSide) side); i++)
      {
        const AttnToken *tok = attn_trace_get_token (trace, (AttnSide) side,
                                                     i);
        PangoLayout *layout = attn_text_token_layout_new (ctx, &style, 1.0,
                                                          FALSE, tok->text);
        int unknown = pango_layout_get_unknown_glyphs_count (layout);
        if (unknown != 0)
          g_error ("token “%s” has %d missing glyphs (are fonts-noto-cjk "
                   "and fonts-noto-color-emoji installed?)", tok->text,
                   unknown);
        g_object_unref (layout);
        checked++;
      }
  g_assert_cmpuint (checked, ==, 11);

  /* Fallback reached the right fonts: Chinese from a CJK face, emoji from
   * a colour emoji face, Arabic laid out right to left. */
  PangoLayout *zh = attn_text_token_layout_new (ctx, &style, 1.0, FALSE,
                                                "注");
  g_autofree char *zh_family = font_family_at (zh, 0);
  g_assert_nonnull (strstr (zh_family, "CJK"));
  PangoLayout *emoji = attn_text_token_layout_new (ctx, &style, 1.0, FALSE,
                                                   "😀");
  g_autofree char *emoji_family = font_family_at (emoji, 0);
  g_assert_nonnull (strstr (emoji_family, "Emoji"));
  PangoLayout *ar = attn_text_token_layout_new (ctx, &style, 1.0, FALSE,
                                                "مرحبا");
  g_assert_cmpint (pango_layout_get_direction (ar, 0), ==,
                   PANGO_DIRECTION_RTL);
  /* "e" + U+0301 is one character for the cursor: the mark is not split
   * off (nor dropped by the display text). */
  PangoLayout *mark = attn_text_token_layout_new (ctx, &style, 1.0, FALSE,
                                                  "e\u0301");
  const PangoLogAttr *attrs = pango_layout_get_log_attrs_readonly (mark,
                                                                   NULL);
  g_assert_true (attrs[0].is_cursor_position);
  g_assert_false (attrs[1].is_cursor_position);
  g_assert_true (attrs[2].is_cursor_position);
  g_assert_cmpstr (pango_layout_get_text (mark), ==, "e\u0301");
  g_object_unref (zh);
  g_object_unref (emoji);
  g_object_unref (ar);
  g_object_unref (mark);

  g_object_unref (ctx);
  attn_render_style_clear (&style);
}

/* The check can fail: a private-use character no installed font covers
 * is counted as a missing glyph. */
static void
test_missing_glyph_is_seen (void)
{
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_LIGHT);
  PangoContext *ctx = attn_text_context_new ();
  PangoLayout *layout = attn_text_token_layout_new (ctx, &style, 1.0, FALSE,
                                                    "a\U000F0000b");
  g_assert_cmpint (pango_layout_get_unknown_glyphs_count (layout), ==, 1);
  g_object_unref (layout);
  g_object_unref (ctx);
  attn_render_style_clear (&style);
}

/* Whitespace stays visible around the scripts. */
static void
test_display_text (void)
{
  g_autofree char *a = attn_token_display_text (" e\u0301");
  g_assert_cmpstr (a, ==, "␣e\u0301");
  g_autofree char *b = attn_token_display_text (" 👍🏽");
  g_assert_cmpstr (b, ==, "␣👍🏽");
}

/* The heatmap of the trace, as a PNG to look at (glyphs.png in the build
 * folder); a failed export fails the test. */
static void
test_export (void)
{
  g_autoptr (AttnTrace) trace = make_trace ();
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 0;
  sel.head = 0;
  AttnExportOptions o;
  attn_export_options_init (&o);
  o.width.value = 640;
  o.height.value = 400;
  g_autofree char *path = g_test_build_filename (G_TEST_BUILT, "glyphs.png",
                                                 NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_export_view (ATTN_VIEW_HEATMAP, trace, &sel, &style,
                                   &o, path, &error));
  g_assert_no_error (error);
  cairo_surface_t *img = cairo_image_surface_create_from_png (path);
  g_assert_cmpint (cairo_surface_status (img), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (img), ==, 640);
  cairo_surface_destroy (img);
  g_test_message ("look at %s", path);
  attn_render_style_clear (&style);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const struct {
    const char *name;
    AttnTheme theme;
  } themes[] = {
    { "light", ATTN_THEME_LIGHT },
    { "dark", ATTN_THEME_DARK },
    { "presentation", ATTN_THEME_PRESENTATION },
  };
  for (guint i = 0; i < G_N_ELEMENTS (themes); i++)
    {
      g_autofree char *name = g_strdup_printf ("/attn/glyphs/no-missing/%s",
                                               themes[i].name);
      g_test_add_data_func (name, GINT_TO_POINTER (themes[i].theme),
                            test_no_missing_glyphs);
    }
  g_test_add_func ("/attn/glyphs/missing-is-seen",
                   test_missing_glyph_is_seen);
  g_test_add_func ("/attn/glyphs/display-text", test_display_text);
  g_test_add_func ("/attn/glyphs/export", test_export);
  return g_test_run ();
}
