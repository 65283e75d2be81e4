/* attn-colormap.h: the colour maps attention weights are drawn with.
 *
 * viridis, magma and cividis are perceptually uniform and colour-blind safe
 * (lightness rises steadily from one end to the other); grey is the plain
 * black-to-white ramp for print. The tables are matplotlib's own (256
 * entries each, see make-colormaps.py), so a figure made here matches one
 * made with matplotlib. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  ATTN_COLORMAP_VIRIDIS,
  ATTN_COLORMAP_MAGMA,
  ATTN_COLORMAP_CIVIDIS,
  ATTN_COLORMAP_GREY,
} AttnColormap;

#define ATTN_COLORMAP_N_KINDS 4
/* Entries per table. */
#define ATTN_COLORMAP_SIZE 256

/* The colour at t in [0, 1] as sRGB components in [0, 1]. t outside [0, 1]
 * is clamped to it and NaN counts as 0, so any weight gets a colour. Between
 * table entries (at t = k / 255) the colour is interpolated linearly.
 * reversed maps t to 1 - t (after clamping). */
void attn_colormap_get (AttnColormap kind, double t, gboolean reversed,
                        double *r, double *g, double *b);

/* The same colour packed as 0xFFRRGGBB, each channel rounded to 8 bits: a
 * pixel of a CAIRO_FORMAT_RGB24 or (opaque) CAIRO_FORMAT_ARGB32 surface. */
guint32 attn_colormap_get_argb32 (AttnColormap kind, double t,
                                  gboolean reversed);

/* "viridis", "magma", "cividis", "grey". */
const char *attn_colormap_to_name (AttnColormap kind);

/* Parses a name as attn_colormap_to_name gives it (or "gray", matplotlib's
 * spelling); FALSE with ATTN_ERROR_INVALID_ARGUMENT naming the valid ones
 * otherwise. */
gboolean attn_colormap_from_name (const char *name, AttnColormap *kind,
                                  GError **error);

G_END_DECLS
