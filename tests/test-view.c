/* test-view.c: what every view shares (ui/render/attn-view.h): styles,
 * selections, the prepared matrix (head / mean / max, hiding with
 * renormalisation, zoom, errors), the colour scale and token display text.
 *
 * The matrix cases use a hand-made trace whose weights are dyadic fractions,
 * so every expected value below is worked out by hand and exact in float;
 * the tolerance (1e-6 absolute) only absorbs the 1/3s. */
#include <math.h>
#include <string.h>

#include "attn-test-util.h"
#include "core/attn-error.h"
#include "ui/render/attn-alignment.h"
#include "ui/render/attn-head-view.h"
#include "ui/render/attn-heatmap.h"
#include "ui/render/attn-model-view.h"
#include "ui/render/attn-step-view.h"
#include "ui/render/attn-view.h"

#define MATRIX_TOL 1e-6

/* Source "a b": a, space, b, </s>. Target "xy": <s>, x, y. Two layers of
 * encoder self-attention, one of cross-attention, no decoder
 * self-attention; two heads. */
/* clang-format off */
static const float enc0[2 * 4 * 4] = {
  /* head 0 */
  0.5f, 0.5f, 0, 0,
  0, 0.5f, 0.5f, 0,
  0, 0, 0.5f, 0.5f,
  0.25f, 0.25f, 0.25f, 0.25f,
  /* head 1 */
  1, 0, 0, 0,
  0.5f, 0.5f, 0, 0,
  0.25f, 0.25f, 0.5f, 0,
  0.125f, 0.125f, 0.25f, 0.5f,
};
/* clang-format on */
/* Layer 1, head 0 never looks at token 0. */
/* clang-format off */
static const float enc1[2 * 4 * 4] = {
  0, 0.5f, 0.5f, 0,
  0, 1, 0, 0,
  0, 0.25f, 0.25f, 0.5f,
  0, 0, 0, 1,
  1, 0, 0, 0,
  0.5f, 0.5f, 0, 0,
  0.25f, 0.25f, 0.5f, 0,
  0.125f, 0.125f, 0.25f, 0.5f,
};
/* clang-format on */
/* clang-format off */
static const float cross0[2 * 3 * 4] = {
  /* head 0 */
  0.5f, 0.25f, 0.125f, 0.125f,
  0.25f, 0.25f, 0.25f, 0.25f,
  1, 0, 0, 0,
  /* head 1 */
  0.125f, 0.125f, 0.25f, 0.5f,
  0, 0.5f, 0, 0.5f,
  0, 0, 0.5f, 0.5f,
};
/* clang-format on */

static AttnTrace *
make_trace (AttnMechanism mechanism)
{
  AttnTrace *t = attn_trace_new ("view-test", "transformer-encoder-decoder",
                                 mechanism, 2, 2);
  attn_trace_set_text (t, ATTN_SIDE_SOURCE, "a b");
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, "a", 3, 0, 1, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, " ", 4, 1, 2, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, "b", 5, 2, 3, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_SOURCE, "</s>", 2, -1, -1, TRUE);
  attn_trace_set_text (t, ATTN_SIDE_TARGET, "xy");
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "<s>", 1, -1, -1, TRUE);
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "x", 6, 0, 1, FALSE);
  attn_trace_add_token (t, ATTN_SIDE_TARGET, "y", 7, 1, 2, FALSE);

  AttnBlock *b = attn_trace_add_block (t, ATTN_KIND_ENCODER_SELF, 0, 2, 4, 4);
  memcpy (b->weights, enc0, sizeof enc0);
  b = attn_trace_add_block (t, ATTN_KIND_ENCODER_SELF, 1, 2, 4, 4);
  memcpy (b->weights, enc1, sizeof enc1);
  b = attn_trace_add_block (t, ATTN_KIND_CROSS, 0, 2, 3, 4);
  memcpy (b->weights, cross0, sizeof cross0);
  if (mechanism == ATTN_MECHANISM_LUONG_LOCAL_P)
    {
      /* The Gaussian window leaves rows short of 1: the first query's
       * row of head 0 totals 0.75. */
      b->normalised = FALSE;
      const float row[4] = { 0.25f, 0.25f, 0.0f, 0.25f };
      memcpy (b->weights, row, sizeof row);
    }
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_trace_validate (t, &error));
  g_assert_no_error (error);
  return t;
}

/* ---- styles, kinds, selection ---- */

static double
linear (double c)
{
  return c <= 0.04045 ? c / 12.92 : pow ((c + 0.055) / 1.055, 2.4);
}

/* WCAG 2 contrast ratio of two opaque colours. */
static double
contrast (const AttnRgba *a, const AttnRgba *b)
{
  double la = 0.2126 * linear (a->r) + 0.7152 * linear (a->g)
              + 0.0722 * linear (a->b);
  double lb = 0.2126 * linear (b->r) + 0.7152 * linear (b->g)
              + 0.0722 * linear (b->b);
  return (MAX (la, lb) + 0.05) / (MIN (la, lb) + 0.05);
}

typedef struct
{
  AttnTheme theme;
  gboolean dark; /* background darker than foreground */
  double min_font, max_font;
  double min_text_contrast; /* WCAG: 4.5 normal text, 7 enhanced */
} ThemeCase;

static const ThemeCase theme_cases[] = {
  { ATTN_THEME_LIGHT, FALSE, 10, 16, 7.0 },
  { ATTN_THEME_DARK, TRUE, 10, 16, 7.0 },
  /* Large type and the enhanced contrast level for a projector. */
  { ATTN_THEME_PRESENTATION, FALSE, 18, 32, 15.0 },
};

static void
test_style_init (gconstpointer data)
{
  const ThemeCase *c = data;
  AttnRenderStyle style;
  attn_render_style_init (&style, c->theme);
  g_assert_cmpint (style.theme, ==, c->theme);
  g_assert_cmpint (style.colormap, ==, ATTN_COLORMAP_VIRIDIS);
  g_assert_false (style.reversed);
  g_assert_cmpint (style.scale, ==, ATTN_SCALE_FIXED);
  g_assert_false (style.show_values);
  g_assert_cmpstr (style.font_family, ==, "Sans");
  g_assert_cmpfloat (style.font_size, >=, c->min_font);
  g_assert_cmpfloat (style.font_size, <=, c->max_font);
  g_assert_cmpfloat (style.threshold, >=, 0.0);
  g_assert_cmpfloat (style.threshold, <, 0.05);

  const AttnRgba *colours[]
      = { &style.background, &style.foreground, &style.muted, &style.accent };
  for (guint i = 0; i < G_N_ELEMENTS (colours); i++)
    {
      g_assert_cmpfloat (colours[i]->a, ==, 1.0);
      g_assert_cmpfloat (colours[i]->r, >=, 0.0);
      g_assert_cmpfloat (colours[i]->r, <=, 1.0);
    }
  double lb = linear (style.background.g), lf = linear (style.foreground.g);
  g_assert_true (c->dark ? lb < lf : lb > lf);
  g_assert_cmpfloat (contrast (&style.foreground, &style.background), >=,
                     c->min_text_contrast);
  /* Secondary text and the highlight must still read on the background
   * (WCAG's 3:1 for large text and graphics). */
  g_assert_cmpfloat (contrast (&style.muted, &style.background), >=, 3.0);
  g_assert_cmpfloat (contrast (&style.accent, &style.background), >=, 3.0);

  attn_render_style_clear (&style);
  g_assert_null (style.font_family);
  attn_render_style_clear (&style); /* twice is harmless */
}

static void
test_presentation_larger (void)
{
  AttnRenderStyle light, pres;
  attn_render_style_init (&light, ATTN_THEME_LIGHT);
  attn_render_style_init (&pres, ATTN_THEME_PRESENTATION);
  g_assert_cmpfloat (pres.font_size, >=, 1.5 * light.font_size);
  attn_render_style_clear (&light);
  attn_render_style_clear (&pres);
}

static void
test_view_kind_strings (void)
{
  static const char *const names[ATTN_N_VIEWS]
      = { "heatmap", "alignment", "head", "model", "step" };
  for (int i = 0; i < ATTN_N_VIEWS; i++)
    {
      g_assert_cmpstr (attn_view_kind_to_string ((AttnViewKind)i), ==,
                       names[i]);
      AttnViewKind k = ATTN_VIEW_STEP + 1;
      g_assert_true (attn_view_kind_from_string (names[i], &k));
      g_assert_cmpint (k, ==, i);
    }
  AttnViewKind k = ATTN_VIEW_MODEL;
  g_assert_false (attn_view_kind_from_string ("Heatmap", &k));
  g_assert_false (attn_view_kind_from_string ("heads", &k));
  g_assert_false (attn_view_kind_from_string ("", &k));
  g_assert_false (attn_view_kind_from_string (NULL, &k));
  g_assert_cmpint (k, ==, ATTN_VIEW_MODEL);
}

static void
test_selection_init (void)
{
  AttnSelection sel;
  memset (&sel, 0x5a, sizeof sel);
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  g_assert_cmpint (sel.kind, ==, ATTN_KIND_CROSS);
  g_assert_cmpint (sel.layer, ==, 0);
  g_assert_cmpint (sel.head, ==, 0);
  g_assert_cmpuint (sel.head_subset, ==, 0);
  g_assert_cmpint (sel.selected_query, ==, -1);
  g_assert_cmpint (sel.selected_key, ==, -1);
  g_assert_cmpint (sel.step, ==, 0);
  g_assert_false (sel.hide_special);
  g_assert_false (sel.hide_sink);
  g_assert_cmpint (sel.range_start, ==, -1);
  g_assert_cmpint (sel.range_end, ==, -1);
}

/* ---- the prepared matrix ---- */

typedef struct
{
  const char *name;
  AttnMechanism mechanism;
  AttnKind kind;
  int layer, head;
  gboolean hide_special, hide_sink;
  int range_start, range_end;
  int n_rows, n_cols;
  int rows[4], cols[4];
  float w[16];
  gboolean renormalised;
} MatrixCase;

#define THIRD (1.0f / 3.0f)
#define SDP ATTN_MECHANISM_SCALED_DOT_PRODUCT

/* clang-format off */
static const MatrixCase matrix_cases[] = {
  { "head-1", SDP, ATTN_KIND_CROSS, 0, 1, FALSE, FALSE, -1, -1, 3, 4,
    { 0, 1, 2 }, { 0, 1, 2, 3 },
    { 0.125f, 0.125f, 0.25f, 0.5f, 0, 0.5f, 0, 0.5f, 0, 0, 0.5f, 0.5f },
    FALSE },
  { "mean", SDP, ATTN_KIND_CROSS, 0, ATTN_HEADS_MEAN, FALSE, FALSE, -1, -1,
    3, 4, { 0, 1, 2 }, { 0, 1, 2, 3 },
    { 0.3125f, 0.1875f, 0.1875f, 0.3125f, 0.125f, 0.375f, 0.125f, 0.375f,
      0.5f, 0, 0.25f, 0.25f },
    FALSE },
  { "max", SDP, ATTN_KIND_CROSS, 0, ATTN_HEADS_MAX, FALSE, FALSE, -1, -1, 3,
    4, { 0, 1, 2 }, { 0, 1, 2, 3 },
    { 0.5f, 0.25f, 0.25f, 0.5f, 0.25f, 0.5f, 0.25f, 0.5f, 1, 0, 0.5f, 0.5f },
    FALSE },
  /* <s> (query 0) and </s> (key 3) dropped; each row rescaled to 1. */
  { "hide-special-head-0", SDP, ATTN_KIND_CROSS, 0, 0, TRUE, FALSE, -1, -1,
    2, 3, { 1, 2 }, { 0, 1, 2 },
    { THIRD, THIRD, THIRD, 1, 0, 0 }, TRUE },
  /* Each head renormalised on its own, then averaged. */
  { "hide-special-mean", SDP, ATTN_KIND_CROSS, 0, ATTN_HEADS_MEAN, TRUE,
    FALSE, -1, -1, 2, 3, { 1, 2 }, { 0, 1, 2 },
    { 1.0f / 6.0f, 2.0f / 3.0f, 1.0f / 6.0f, 0.5f, 0, 0.5f }, TRUE },
  { "hide-special-max", SDP, ATTN_KIND_CROSS, 0, ATTN_HEADS_MAX, TRUE, FALSE,
    -1, -1, 2, 3, { 1, 2 }, { 0, 1, 2 },
    { THIRD, 1, THIRD, 1, 0, 1 }, TRUE },
  /* The sink is a key only: every query stays; the last put everything on
   * the sink and is left empty. */
  { "hide-sink", SDP, ATTN_KIND_CROSS, 0, 0, FALSE, TRUE, -1, -1, 3, 3,
    { 0, 1, 2 }, { 1, 2, 3 },
    { 0.5f, 0.25f, 0.25f, THIRD, THIRD, THIRD, 0, 0, 0 }, TRUE },
  { "hide-sink-head-1", SDP, ATTN_KIND_CROSS, 0, 1, FALSE, TRUE, -1, -1, 3,
    3, { 0, 1, 2 }, { 1, 2, 3 },
    { 1.0f / 7.0f, 2.0f / 7.0f, 4.0f / 7.0f, 0.5f, 0, 0.5f, 0, 0.5f, 0.5f },
    TRUE },
  /* A sink column of zeros changes no row: not renormalised. */
  { "hide-sink-unused", SDP, ATTN_KIND_ENCODER_SELF, 1, 0, FALSE, TRUE, -1,
    -1, 4, 3, { 0, 1, 2, 3 }, { 1, 2, 3 },
    { 0.5f, 0.5f, 0, 1, 0, 0, 0.25f, 0.25f, 0.5f, 0, 0, 1 }, FALSE },
  { "hide-both", SDP, ATTN_KIND_ENCODER_SELF, 0, 1, TRUE, TRUE, -1, -1, 3, 2,
    { 0, 1, 2 }, { 1, 2 },
    { 0, 0, 1, 0, 1.0f / 3.0f, 2.0f / 3.0f }, TRUE },
  /* Zoom is a crop: no weight changes. */
  { "range", SDP, ATTN_KIND_ENCODER_SELF, 0, 0, FALSE, FALSE, 1, 3, 2, 2,
    { 1, 2 }, { 1, 2 }, { 0.5f, 0.5f, 0, 0.5f }, FALSE },
  /* Hiding inside a zoom: </s> lies outside [1, 3) yet its weight is still
   * taken out of row 2, which doubles. */
  { "range-hide-special", SDP, ATTN_KIND_ENCODER_SELF, 0, 0, TRUE, FALSE, 1,
    3, 2, 2, { 1, 2 }, { 1, 2 }, { 0.5f, 0.5f, 0, 1 }, TRUE },
  /* Cross-attention: the range [3, 4) lies beyond the three target tokens,
   * so the query axis is kept whole and only the keys are zoomed. */
  { "range-cross-short-side", SDP, ATTN_KIND_CROSS, 0, 0, FALSE, FALSE, 3, 4,
    3, 1, { 0, 1, 2 }, { 3 }, { 0.125f, 0.25f, 0 }, FALSE },
  { "range-cross-both", SDP, ATTN_KIND_CROSS, 0, 0, FALSE, FALSE, 1, 3, 2, 2,
    { 1, 2 }, { 1, 2 }, { 0.25f, 0.25f, 0, 0 }, FALSE },
  /* Luong local-p: a row keeps its own total (0.75 for the first), not 1. */
  { "local-p-full-rows", ATTN_MECHANISM_LUONG_LOCAL_P, ATTN_KIND_CROSS,
    0, 0, TRUE, FALSE, -1, -1, 2, 3, { 1, 2 }, { 0, 1, 2 },
    { THIRD, THIRD, THIRD, 1, 0, 0 }, TRUE },
  { "local-p-first-row", ATTN_MECHANISM_LUONG_LOCAL_P, ATTN_KIND_CROSS, 0, 0,
    FALSE, TRUE, -1, -1, 3, 3, { 0, 1, 2 }, { 1, 2, 3 },
    { 0.375f, 0, 0.375f, THIRD, THIRD, THIRD, 0, 0, 0 }, TRUE },
};
/* clang-format on */

static void
test_matrix (gconstpointer data)
{
  const MatrixCase *c = data;
  g_autoptr (AttnTrace) trace = make_trace (c->mechanism);
  AttnSelection sel;
  attn_selection_init (&sel, c->kind);
  sel.layer = c->layer;
  sel.head = c->head;
  sel.hide_special = c->hide_special;
  sel.hide_sink = c->hide_sink;
  sel.range_start = c->range_start;
  sel.range_end = c->range_end;

  g_autoptr (GError) error = NULL;
  g_autoptr (AttnViewMatrix) m = attn_view_matrix_new (trace, &sel, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  g_assert_cmpint (m->n_rows, ==, c->n_rows);
  g_assert_cmpint (m->n_cols, ==, c->n_cols);
  for (int r = 0; r < c->n_rows; r++)
    g_assert_cmpint (m->row_token[r], ==, c->rows[r]);
  for (int k = 0; k < c->n_cols; k++)
    g_assert_cmpint (m->col_token[k], ==, c->cols[k]);
  float max = 0.0f;
  for (int i = 0; i < c->n_rows * c->n_cols; i++)
    {
      if (!(fabsf (m->w[i] - c->w[i]) <= MATRIX_TOL))
        g_error ("%s: w[%d][%d] = %.9g, want %.9g", c->name, i / c->n_cols,
                 i % c->n_cols, m->w[i], c->w[i]);
      max = MAX (max, c->w[i]);
    }
  g_assert_cmpfloat_with_epsilon (m->max, max, MATRIX_TOL);
  g_assert_cmpint (m->renormalised, ==, c->renormalised);
}

/* After hiding, every row of a normalised block that kept some weight sums
 * to 1 again, for every block, head and combination. */
static void
test_matrix_rows_sum_to_one (void)
{
  g_autoptr (AttnTrace) trace = make_trace (SDP);
  for (guint b = 0; b < trace->blocks->len; b++)
    {
      const AttnBlock *block = g_ptr_array_index (trace->blocks, b);
      for (int head = 0; head < block->n_heads; head++)
        for (int hide = 1; hide < 4; hide++)
          {
            AttnSelection sel;
            attn_selection_init (&sel, block->kind);
            sel.layer = block->layer;
            sel.head = head;
            sel.hide_special = (hide & 1) != 0;
            sel.hide_sink = (hide & 2) != 0;
            g_autoptr (AttnViewMatrix) m
                = attn_view_matrix_new (trace, &sel, NULL);
            g_assert_nonnull (m);
            for (int r = 0; r < m->n_rows; r++)
              {
                double sum = 0.0;
                for (int k = 0; k < m->n_cols; k++)
                  sum += m->w[r * m->n_cols + k];
                if (sum != 0.0)
                  g_assert_cmpfloat_with_epsilon (sum, 1.0, MATRIX_TOL);
              }
          }
    }
}

typedef struct
{
  const char *name;
  AttnKind kind;
  int layer, head;
  int range_start, range_end;
  gboolean hide_special;
  const char *message; /* a part of the message that names the valid range */
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "no-kind", ATTN_KIND_DECODER_SELF, 0, 0, -1, -1, FALSE,
    "the trace has no decoder-self attention: it has encoder-self, cross" },
  { "layer-one-valid", ATTN_KIND_CROSS, 1, 0, -1, -1, FALSE,
    "layer 1 out of range for cross attention: valid layers are 0" },
  { "layer-range", ATTN_KIND_ENCODER_SELF, 5, 0, -1, -1, FALSE,
    "valid layers are 0–1" },
  { "layer-negative", ATTN_KIND_ENCODER_SELF, -1, 0, -1, -1, FALSE,
    "layer -1 out of range" },
  { "head", ATTN_KIND_CROSS, 0, 2, -1, -1, FALSE,
    "head 2 out of range: valid heads of cross layer 0 are 0–1, mean or max" },
  { "head-negative", ATTN_KIND_CROSS, 0, -3, -1, -1, FALSE,
    "valid heads of cross layer 0 are 0–1" },
  { "kind-unknown", (AttnKind)7, 0, 0, -1, -1, FALSE,
    "expected encoder-self, decoder-self or cross" },
  { "range-end", ATTN_KIND_ENCODER_SELF, 0, 0, 0, 5, FALSE,
    "expected 0 <= start < end <= 4" },
  { "range-empty", ATTN_KIND_ENCODER_SELF, 0, 0, 2, 2, FALSE,
    "token range [2, 2) is not valid" },
  { "range-half-set", ATTN_KIND_ENCODER_SELF, 0, 0, -1, 2, FALSE,
    "(or -1, -1 for all tokens)" },
  /* Zoomed onto </s> alone, hiding specials leaves nothing. */
  { "nothing-left", ATTN_KIND_ENCODER_SELF, 0, 0, 3, 4, TRUE,
    "hiding special tokens leaves no query tokens" },
};

static void
test_matrix_error (gconstpointer data)
{
  const ErrorCase *c = data;
  g_autoptr (AttnTrace) trace = make_trace (SDP);
  AttnSelection sel;
  attn_selection_init (&sel, c->kind);
  sel.layer = c->layer;
  sel.head = c->head;
  sel.range_start = c->range_start;
  sel.range_end = c->range_end;
  sel.hide_special = c->hide_special;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnViewMatrix) m = attn_view_matrix_new (trace, &sel, &error);
  g_assert_null (m);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  if (strstr (error->message, c->message) == NULL)
    g_error ("%s: message \"%s\" lacks \"%s\"", c->name, error->message,
             c->message);
}

/* ---- scale ---- */

typedef struct
{
  AttnScale scale;
  float w, max;
  double t;
} ScaleCase;

static const ScaleCase scale_cases[] = {
  { ATTN_SCALE_FIXED, 0.0f, 0.5f, 0.0 },
  { ATTN_SCALE_FIXED, 0.25f, 0.5f, 0.25 },
  { ATTN_SCALE_FIXED, 1.0f, 0.5f, 1.0 },
  { ATTN_SCALE_FIXED, 1.5f, 0.5f, 1.0 },
  { ATTN_SCALE_FIXED, -0.25f, 0.5f, 0.0 },
  { ATTN_SCALE_FIXED, NAN, 0.5f, 0.0 },
  { ATTN_SCALE_MAX, 0.25f, 0.5f, 0.5 },
  { ATTN_SCALE_MAX, 0.5f, 0.5f, 1.0 },
  { ATTN_SCALE_MAX, 0.0f, 0.5f, 0.0 },
  { ATTN_SCALE_MAX, 0.125f, 0.125f, 1.0 },
  { ATTN_SCALE_MAX, 0.0f, 0.0f, 0.0 }, /* an all-zero matrix */
  { ATTN_SCALE_LOG, 1e-4f, 1.0f, 0.0 },
  { ATTN_SCALE_LOG, 1e-3f, 1.0f, 0.25 },
  { ATTN_SCALE_LOG, 1e-2f, 0.3f, 0.5 },
  { ATTN_SCALE_LOG, 0.1f, 1.0f, 0.75 },
  { ATTN_SCALE_LOG, 1.0f, 1.0f, 1.0 },
  { ATTN_SCALE_LOG, 1e-6f, 1.0f, 0.0 },
  { ATTN_SCALE_LOG, 0.0f, 1.0f, 0.0 },
};

static void
test_scale (void)
{
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_LIGHT);
  for (guint i = 0; i < G_N_ELEMENTS (scale_cases); i++)
    {
      const ScaleCase *c = &scale_cases[i];
      style.scale = c->scale;
      double t = attn_render_style_map (&style, c->w, c->max);
      /* float weights like 1e-3f carry 1e-8 of relative error into log10 */
      if (!(fabs (t - c->t) <= 1e-6))
        g_error ("case %u: scale %d maps %g (max %g) to %.9g, want %.9g", i,
                 c->scale, c->w, c->max, t, c->t);
    }
  attn_render_style_clear (&style);
}

/* ---- display text ---- */

typedef struct
{
  const char *in, *out;
} TextCase;

static const TextCase text_cases[] = {
  { "word", "word" },
  { " world", "␣world" },
  { "a b", "a␣b" },
  { "\n", "↵" },
  { "\r\n", "␍↵" },
  { "\t", "⇥" },
  { "\x01", "␁" },
  { "\x1b[", "␛[" },
  { "\x7f", "␡" },
  { "\xc2\xa0", "⍽" },        /* no-break space */
  { "\xe3\x80\x80", "␣" },    /* ideographic space */
  { "\xe2\x80\x89x", "␣x" },  /* thin space */
  { "\xc2\x85", "<U+0085>" }, /* next line, a C1 control */
  { "\xe2\x80\xa8", "<U+2028>" },
  { "", "∅" },
  { "注意力", "注意力" },
  { "e\xcc\x81", "e\xcc\x81" }, /* combining acute stays on its letter */
  { "שלום", "שלום" },
  /* Emoji ZWJ sequence: the joiner must survive. */
  { "👩\xe2\x80\x8d💻", "👩\xe2\x80\x8d💻" },
  { "a\xffz", "a\xef\xbf\xbdz" }, /* invalid UTF-8: U+FFFD */
};

static void
test_display_text (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (text_cases); i++)
    {
      g_autofree char *got = attn_token_display_text (text_cases[i].in);
      g_assert_true (g_utf8_validate (got, -1, NULL));
      if (strcmp (got, text_cases[i].out) != 0)
        g_error ("case %u: display text \"%s\", want \"%s\"", i, got,
                 text_cases[i].out);
    }
}

/* ---- dispatch ---- */

typedef gboolean (*RenderFunc) (cairo_t *, const AttnTrace *,
                                const AttnSelection *, const AttnRenderStyle *,
                                double, double, GError **);

typedef struct
{
  AttnViewKind view;
  RenderFunc direct;
} DispatchCase;

static const DispatchCase dispatch_cases[] = {
  { ATTN_VIEW_HEATMAP, attn_heatmap_render },
  { ATTN_VIEW_ALIGNMENT, attn_alignment_render },
  { ATTN_VIEW_HEADS, attn_head_view_render },
  { ATTN_VIEW_MODEL, attn_model_view_render },
  { ATTN_VIEW_STEP, attn_step_view_render },
};

static cairo_surface_t *
render_with (const DispatchCase *c, gboolean dispatch, const AttnTrace *trace,
             const AttnSelection *sel, const AttnRenderStyle *style)
{
  cairo_surface_t *s
      = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 480, 360);
  cairo_t *cr = cairo_create (s);
  g_autoptr (GError) error = NULL;
  gboolean ok = dispatch ? attn_view_render (c->view, cr, trace, sel, style,
                                             480, 360, &error)
                         : c->direct (cr, trace, sel, style, 480, 360, &error);
  g_assert_no_error (error);
  g_assert_true (ok);
  cairo_destroy (cr);
  cairo_surface_flush (s);
  return s;
}

/* attn_view_render reaches each view's own function: the same pixels. */
static void
test_dispatch (gconstpointer data)
{
  const DispatchCase *c = data;
  g_autofree char *path = attn_test_data_path ("render-dates.json");
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_trace_load_json (path, &error);
  g_assert_no_error (error);
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_DARK);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  sel.layer = 1;
  sel.step = 3;

  cairo_surface_t *a = render_with (c, TRUE, trace, &sel, &style);
  cairo_surface_t *b = render_with (c, FALSE, trace, &sel, &style);
  gsize n = (gsize)cairo_image_surface_get_stride (a) * 360;
  const guint8 *pa = cairo_image_surface_get_data (a);
  gsize drawn = 0;
  for (gsize i = 0; i < n; i++)
    drawn += pa[i] != 0;
  g_assert_cmpuint (drawn, >, n / 2); /* the background at least */
  g_assert_cmpmem (pa, n, cairo_image_surface_get_data (b), n);
  cairo_surface_destroy (a);
  cairo_surface_destroy (b);

  /* A point in the middle hits the same through both paths. */
  AttnHit h1, h2;
  gboolean r1 = attn_view_hit_test (c->view, trace, &sel, &style, 480, 360, 240,
                                    180, &h1);
  static const struct
  {
    AttnViewKind view;
    gboolean (*hit) (const AttnTrace *, const AttnSelection *,
                     const AttnRenderStyle *, double, double, double, double,
                     AttnHit *);
  } hits[] = {
    { ATTN_VIEW_HEATMAP, attn_heatmap_hit_test },
    { ATTN_VIEW_ALIGNMENT, attn_alignment_hit_test },
    { ATTN_VIEW_HEADS, attn_head_view_hit_test },
    { ATTN_VIEW_MODEL, attn_model_view_hit_test },
    { ATTN_VIEW_STEP, attn_step_view_hit_test },
  };
  gboolean r2
      = hits[c->view].hit (trace, &sel, &style, 480, 360, 240, 180, &h2);
  g_assert_cmpint (hits[c->view].view, ==, c->view);
  g_assert_cmpint (r1, ==, r2);
  g_assert_cmpint (h1.kind, ==, h2.kind);
  g_assert_cmpint (h1.query, ==, h2.query);
  g_assert_cmpint (h1.key, ==, h2.key);
  attn_render_style_clear (&style);
}

static void
test_dispatch_unknown (void)
{
  g_autoptr (AttnTrace) trace = make_trace (SDP);
  AttnRenderStyle style;
  attn_render_style_init (&style, ATTN_THEME_LIGHT);
  AttnSelection sel;
  attn_selection_init (&sel, ATTN_KIND_CROSS);
  cairo_surface_t *s = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 8, 8);
  cairo_t *cr = cairo_create (s);
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_view_render ((AttnViewKind)ATTN_N_VIEWS, cr, trace, &sel,
                                    &style, 8, 8, &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (
      strstr (error->message, "heatmap, alignment, head, model or step"));
  AttnHit hit;
  g_assert_false (attn_view_hit_test ((AttnViewKind)-1, trace, &sel, &style, 8,
                                      8, 4, 4, &hit));
  g_assert_cmpint (hit.kind, ==, ATTN_HIT_NONE);
  cairo_destroy (cr);
  cairo_surface_destroy (s);
  attn_render_style_clear (&style);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  static const char *const theme_names[] = { "light", "dark", "presentation" };
  for (guint i = 0; i < G_N_ELEMENTS (theme_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/view/style-init/%s", theme_names[i]);
      g_test_add_data_func (path, &theme_cases[i], test_style_init);
    }
  g_test_add_func ("/attn/view/presentation-larger", test_presentation_larger);
  g_test_add_func ("/attn/view/kind-strings", test_view_kind_strings);
  g_test_add_func ("/attn/view/selection-init", test_selection_init);
  for (guint i = 0; i < G_N_ELEMENTS (matrix_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/view/matrix/%s", matrix_cases[i].name);
      g_test_add_data_func (path, &matrix_cases[i], test_matrix);
    }
  g_test_add_func ("/attn/view/matrix/rows-sum-to-one",
                   test_matrix_rows_sum_to_one);
  for (guint i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/view/matrix-error/%s", error_cases[i].name);
      g_test_add_data_func (path, &error_cases[i], test_matrix_error);
    }
  g_test_add_func ("/attn/view/scale", test_scale);
  g_test_add_func ("/attn/view/display-text", test_display_text);
  for (guint i = 0; i < G_N_ELEMENTS (dispatch_cases); i++)
    {
      g_autofree char *path
          = g_strdup_printf ("/attn/view/dispatch/%s",
                             attn_view_kind_to_string (dispatch_cases[i].view));
      g_test_add_data_func (path, &dispatch_cases[i], test_dispatch);
    }
  g_test_add_func ("/attn/view/dispatch/unknown", test_dispatch_unknown);
  return g_test_run ();
}
