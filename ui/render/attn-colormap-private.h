/* attn-colormap-private.h: the tables behind attn-colormap.c. */
#pragma once

#include "ui/render/attn-colormap.h"

G_BEGIN_DECLS

/* [kind] (256, 3): sRGB in [0, 1], entry k at t = k / 255. Generated into
 * attn-colormap-tables.c by make-colormaps.py. */
extern const double
  attn_colormap_tables[ATTN_COLORMAP_N_KINDS][ATTN_COLORMAP_SIZE][3];

G_END_DECLS
