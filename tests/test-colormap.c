/* test-colormap.c: the colour maps against matplotlib's own values. */
#include <math.h>
#include <string.h>

#include "core/attn-error.h"
#include "ui/render/attn-colormap.h"

typedef struct {
  int index; /* table entry, reached at t = index / 255 */
  double rgb[3];
} Entry;

typedef struct {
  AttnColormap kind;
  const char *name;
  /* Printed from matplotlib 3.6.3's public lookup (not from the generated
   * tables), Debian 12:
   *   /usr/bin/python3 -c "import matplotlib; c = matplotlib.colormaps['viridis'];
   *     [print(k, c(k)[:3]) for k in (0, 1, 64, 128, 200, 254, 255)]" */
  Entry entries[7];
  /* CIE L* of the first and last entries (numpy, same sRGB -> L* formula). */
  double lightness_lo, lightness_hi;
} MapCase;

static const MapCase map_cases[] = {
  { ATTN_COLORMAP_VIRIDIS, "viridis",
    { { 0, { 0.267004, 0.004874, 0.329415 } },
      { 1, { 0.26851, 0.009605, 0.335427 } },
      { 64, { 0.229739, 0.322361, 0.545706 } },
      { 128, { 0.127568, 0.566949, 0.550556 } },
      { 200, { 0.440137, 0.811138, 0.340967 } },
      { 254, { 0.983868, 0.904867, 0.136897 } },
      { 255, { 0.993248, 0.906157, 0.143936 } } },
    14.948710182238965, 90.89735370713517 },
  { ATTN_COLORMAP_MAGMA, "magma",
    { { 0, { 0.001462, 0.000466, 0.013866 } },
      { 1, { 0.002258, 0.001295, 0.018331 } },
      { 64, { 0.316654, 0.07169, 0.48538 } },
      { 128, { 0.716387, 0.214982, 0.47529 } },
      { 200, { 0.992785, 0.594891, 0.410283 } },
      { 254, { 0.987387, 0.984288, 0.742002 } },
      { 255, { 0.987053, 0.991438, 0.749504 } } },
    0.11502552664373411, 97.84960914118598 },
  { ATTN_COLORMAP_CIVIDIS, "cividis",
    { { 0, { 0.0, 0.135112, 0.304751 } },
      { 1, { 0.0, 0.138068, 0.311105 } },
      { 64, { 0.263738, 0.307831, 0.422789 } },
      { 128, { 0.488697, 0.485318, 0.471008 } },
      { 200, { 0.769353, 0.707035, 0.408516 } },
      { 254, { 0.995503, 0.903866, 0.21237 } },
      { 255, { 0.995737, 0.909344, 0.217772 } } },
    13.92065371987239, 91.22641353251855 },
  { ATTN_COLORMAP_GREY, "grey",
    { { 0, { 0.0, 0.0, 0.0 } },
      { 1, { 0.00392156862745098, 0.00392156862745098,
             0.00392156862745098 } },
      { 64, { 0.25098039215686274, 0.25098039215686274,
              0.25098039215686274 } },
      { 128, { 0.5019607843137255, 0.5019607843137255,
               0.5019607843137255 } },
      { 200, { 0.7843137254901961, 0.7843137254901961,
               0.7843137254901961 } },
      { 254, { 0.996078431372549, 0.996078431372549, 0.996078431372549 } },
      { 255, { 1.0, 1.0, 1.0 } } },
    0.0, 100.0 },
};

/* Table values are matplotlib's doubles, copied exactly; the only error is
 * t * 255 landing one ulp below an entry. */
#define ENTRY_TOL 1e-12

static void
assert_rgb (const char *what, double t, const double got[3],
            const double want[3], double tol)
{
  for (int c = 0; c < 3; c++)
    if (!(fabs (got[c] - want[c]) <= tol))
      g_error ("%s at t = %.17g: channel %d is %.17g, want %.17g (tol %g)",
               what, t, c, got[c], want[c], tol);
}

static void
get_rgb (AttnColormap kind, double t, gboolean reversed, double rgb[3])
{
  attn_colormap_get (kind, t, reversed, &rgb[0], &rgb[1], &rgb[2]);
}

/* CIE 1976 L* (D65 white) of an sRGB colour. */
static double
lightness (const double rgb[3])
{
  static const double weight[3] = { 0.2126, 0.7152, 0.0722 };
  double y = 0.0;
  for (int c = 0; c < 3; c++)
    {
      double v = rgb[c];
      double lin = v <= 0.04045 ? v / 12.92 : pow ((v + 0.055) / 1.055, 2.4);
      y += weight[c] * lin;
    }
  const double d = 6.0 / 29.0;
  double f = y > d * d * d ? cbrt (y) : y / (3.0 * d * d) + 4.0 / 29.0;
  return 116.0 * f - 16.0;
}

static void
test_entries (gconstpointer data)
{
  const MapCase *mc = data;
  for (guint i = 0; i < G_N_ELEMENTS (mc->entries); i++)
    {
      const Entry *e = &mc->entries[i];
      double t = e->index / 255.0;
      double rgb[3];
      get_rgb (mc->kind, t, FALSE, rgb);
      assert_rgb (mc->name, t, rgb, e->rgb, ENTRY_TOL);

      /* The packed pixel is each channel rounded to 8 bits. */
      guint32 want = 0xff000000u;
      for (int c = 0; c < 3; c++)
        want |= (guint32) lround (e->rgb[c] * 255.0) << (16 - 8 * c);
      g_assert_cmphex (attn_colormap_get_argb32 (mc->kind, t, FALSE), ==,
                       want);
    }
}

static void
test_interpolation (gconstpointer data)
{
  const MapCase *mc = data;
  /* Entries 0, 1 and 254, 255 are neighbours in the fixture. */
  const Entry *pairs[2][2] = {
    { &mc->entries[0], &mc->entries[1] },
    { &mc->entries[5], &mc->entries[6] },
  };
  static const double fracs[] = { 0.25, 0.5, 0.75 };
  for (int p = 0; p < 2; p++)
    for (guint k = 0; k < G_N_ELEMENTS (fracs); k++)
      {
        const Entry *lo = pairs[p][0], *hi = pairs[p][1];
        double f = fracs[k];
        double t = (lo->index + f) / 255.0;
        double want[3], got[3];
        for (int c = 0; c < 3; c++)
          want[c] = (1.0 - f) * lo->rgb[c] + f * hi->rgb[c];
        get_rgb (mc->kind, t, FALSE, got);
        assert_rgb (mc->name, t, got, want, ENTRY_TOL);
      }
}

static void
test_lightness (gconstpointer data)
{
  const MapCase *mc = data;
  double rgb[3];

  get_rgb (mc->kind, 0.0, FALSE, rgb);
  g_assert_cmpfloat_with_epsilon (lightness (rgb), mc->lightness_lo, 1e-9);
  get_rgb (mc->kind, 1.0, FALSE, rgb);
  g_assert_cmpfloat_with_epsilon (lightness (rgb), mc->lightness_hi, 1e-9);

  /* Strictly rising from entry to entry, and never falling in between
   * (8 samples per interval): equal steps of weight read as equal steps of
   * brightness, the point of a perceptually uniform map. */
  const int steps = 8 * (ATTN_COLORMAP_SIZE - 1);
  double prev = -1.0, prev_entry = -1.0;
  for (int s = 0; s <= steps; s++)
    {
      double t = (double) s / steps;
      get_rgb (mc->kind, t, FALSE, rgb);
      double l = lightness (rgb);
      if (l < prev)
        g_error ("%s: L* falls from %.9g to %.9g at t = %.9g", mc->name,
                 prev, l, t);
      prev = l;
      if (s % 8 == 0)
        {
          if (!(l > prev_entry))
            g_error ("%s: L* of entry %d is %.9g, not above %.9g", mc->name,
                     s / 8, l, prev_entry);
          prev_entry = l;
        }
    }
}

static void
test_reversed (gconstpointer data)
{
  const MapCase *mc = data;
  const Entry *first = &mc->entries[0];
  const Entry *last = &mc->entries[G_N_ELEMENTS (mc->entries) - 1];
  double rgb[3];

  get_rgb (mc->kind, 0.0, TRUE, rgb);
  assert_rgb (mc->name, 0.0, rgb, last->rgb, 0.0);
  get_rgb (mc->kind, 1.0, TRUE, rgb);
  assert_rgb (mc->name, 1.0, rgb, first->rgb, 0.0);

  for (int s = 0; s <= 1000; s++)
    {
      double t = s / 1000.0;
      double want[3];
      get_rgb (mc->kind, 1.0 - t, FALSE, want);
      get_rgb (mc->kind, t, TRUE, rgb);
      assert_rgb (mc->name, t, rgb, want, ENTRY_TOL);
      g_assert_cmphex (attn_colormap_get_argb32 (mc->kind, t, TRUE), ==,
                       attn_colormap_get_argb32 (mc->kind, 1.0 - t, FALSE));
    }
}

static void
test_clamp (gconstpointer data)
{
  const MapCase *mc = data;
  const double *first = mc->entries[0].rgb;
  const double *last = mc->entries[G_N_ELEMENTS (mc->entries) - 1].rgb;
  /* Out-of-range weights get the end colours exactly; NaN counts as 0. */
  const struct {
    double t;
    gboolean reversed;
    const double *want;
  } cases[] = {
    { -0.5, FALSE, first },    { -1e300, FALSE, first },
    { -INFINITY, FALSE, first }, { NAN, FALSE, first },
    { 1.5, FALSE, last },      { 1e300, FALSE, last },
    { INFINITY, FALSE, last }, { 1.0 + 1e-12, FALSE, last },
    { -0.5, TRUE, last },      { NAN, TRUE, last },
    { 7.0, TRUE, first },      { INFINITY, TRUE, first },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      double rgb[3];
      get_rgb (mc->kind, cases[i].t, cases[i].reversed, rgb);
      assert_rgb (mc->name, cases[i].t, rgb, cases[i].want, 0.0);
    }
}

static void
test_names (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (map_cases); i++)
    {
      AttnColormap kind = (AttnColormap) -1;
      g_autoptr (GError) error = NULL;
      g_assert_cmpstr (attn_colormap_to_name (map_cases[i].kind), ==,
                       map_cases[i].name);
      g_assert_true (
        attn_colormap_from_name (map_cases[i].name, &kind, &error));
      g_assert_no_error (error);
      g_assert_cmpint (kind, ==, map_cases[i].kind);
    }
  g_assert_cmpuint (G_N_ELEMENTS (map_cases), ==, ATTN_COLORMAP_N_KINDS);

  AttnColormap kind = ATTN_COLORMAP_VIRIDIS;
  g_assert_true (attn_colormap_from_name ("gray", &kind, NULL));
  g_assert_cmpint (kind, ==, ATTN_COLORMAP_GREY);

  static const char *const bad[] = { "jet", "", "Viridis", "viridis ",
                                     "gr\xff" "ey" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      kind = ATTN_COLORMAP_MAGMA;
      g_assert_false (attn_colormap_from_name (bad[i], &kind, &error));
      g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
      g_assert_cmpint (kind, ==, ATTN_COLORMAP_MAGMA);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_nonnull (strstr (error->message, "cividis"));
    }
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_colormap_from_name ("jet", &kind, &error));
  g_assert_nonnull (strstr (error->message, "“jet”"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  static const struct {
    const char *name;
    GTestDataFunc func;
  } per_map[] = {
    { "entries", test_entries },     { "interpolation", test_interpolation },
    { "lightness", test_lightness }, { "reversed", test_reversed },
    { "clamp", test_clamp },
  };
  for (guint m = 0; m < G_N_ELEMENTS (map_cases); m++)
    for (guint f = 0; f < G_N_ELEMENTS (per_map); f++)
      {
        g_autofree char *path = g_strdup_printf (
          "/attn/colormap/%s/%s", map_cases[m].name, per_map[f].name);
        g_test_add_data_func (path, &map_cases[m], per_map[f].func);
      }
  g_test_add_func ("/attn/colormap/names", test_names);

  return g_test_run ();
}
