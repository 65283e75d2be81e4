/* attn-colormap.c: colour map lookup with clamping and interpolation. */
#include "ui/render/attn-colormap.h"

#include <math.h>

#include "core/attn-check.h"
#include "core/attn-error.h"
#include "ui/render/attn-colormap-private.h"

static const char *const colormap_names[ATTN_COLORMAP_N_KINDS] = {
  [ATTN_COLORMAP_VIRIDIS] = "viridis",
  [ATTN_COLORMAP_MAGMA] = "magma",
  [ATTN_COLORMAP_CIVIDIS] = "cividis",
  [ATTN_COLORMAP_GREY] = "grey",
};

static gboolean
colormap_valid (AttnColormap kind)
{
  return (int) kind >= 0 && (int) kind < ATTN_COLORMAP_N_KINDS;
}

void
attn_colormap_get (AttnColormap kind, double t, gboolean reversed, double *r,
                   double *g, double *b)
{
  attn_check (colormap_valid (kind));
  attn_check (r != NULL && g != NULL && b != NULL);

  /* !(t > 0) also catches NaN. */
  if (!(t > 0.0))
    t = 0.0;
  else if (t > 1.0)
    t = 1.0;
  if (reversed)
    t = 1.0 - t;

  const double (*table)[3] = attn_colormap_tables[kind]; /* (256, 3) */
  double x = t * (ATTN_COLORMAP_SIZE - 1);
  int i = (int) x;
  /* t = 1 lands on the last entry: interpolate from the one before it. */
  if (i > ATTN_COLORMAP_SIZE - 2)
    i = ATTN_COLORMAP_SIZE - 2;
  double f = x - i;

  /* This form gives both neighbours exactly at f = 0 and f = 1. */
  *r = (1.0 - f) * table[i][0] + f * table[i + 1][0];
  *g = (1.0 - f) * table[i][1] + f * table[i + 1][1];
  *b = (1.0 - f) * table[i][2] + f * table[i + 1][2];
}

static guint32
channel_to_8bit (double c)
{
  /* Components are in [0, 1] already; the clamp only guards rounding. */
  long v = lround (c * 255.0);
  return (guint32) CLAMP (v, 0, 255);
}

guint32
attn_colormap_get_argb32 (AttnColormap kind, double t, gboolean reversed)
{
  double r, g, b;
  attn_colormap_get (kind, t, reversed, &r, &g, &b);
  return 0xff000000u | channel_to_8bit (r) << 16 | channel_to_8bit (g) << 8
         | channel_to_8bit (b);
}

const char *
attn_colormap_to_name (AttnColormap kind)
{
  attn_check (colormap_valid (kind));
  return colormap_names[kind];
}

gboolean
attn_colormap_from_name (const char *name, AttnColormap *kind, GError **error)
{
  attn_check (name != NULL && kind != NULL);

  for (int i = 0; i < ATTN_COLORMAP_N_KINDS; i++)
    if (g_str_equal (name, colormap_names[i]))
      {
        *kind = (AttnColormap) i;
        return TRUE;
      }
  if (g_str_equal (name, "gray"))
    {
      *kind = ATTN_COLORMAP_GREY;
      return TRUE;
    }

  /* The name may come from a command line: keep the message valid UTF-8. */
  g_autofree char *shown = g_utf8_make_valid (name, -1);
  g_set_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT,
               "Unknown colour map “%s”: expected viridis, magma, cividis "
               "or grey",
               shown);
  return FALSE;
}
