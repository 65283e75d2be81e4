/* attn-view.h: what every view shares — the style, the selection, the
 * prepared matrix — and the view functions.
 *
 * A view is a pure function (trace, selection, style, width, height) ->
 * drawing on any cairo_t (screen, PNG, SVG, PDF). Its geometry comes from a
 * separate layout function, which the GTK widget also uses for hover and
 * click. Theme colours come in through the style; a renderer never reads a
 * theme. Sizes are in Cairo user units (pixels on screen, points in PDF). */
#pragma once

#include <cairo.h>
#include <glib.h>

#include "core/attn-trace.h"
#include "ui/render/attn-colormap.h"

G_BEGIN_DECLS

typedef struct {
  double r, g, b, a;
} AttnRgba;

typedef enum {
  ATTN_THEME_LIGHT,
  ATTN_THEME_DARK,
  ATTN_THEME_PRESENTATION, /* large type, high contrast, for a classroom */
} AttnTheme;

typedef enum {
  ATTN_SCALE_FIXED, /* [0, 1]: colours compare across heads (default) */
  ATTN_SCALE_MAX,   /* [0, max of the matrix shown] */
  ATTN_SCALE_LOG,   /* log10 over [1e-4, 1]; weights below 1e-4 get the
                     * bottom colour */
} AttnScale;

typedef struct {
  AttnTheme theme;
  AttnColormap colormap;
  gboolean reversed;
  AttnScale scale;
  AttnRgba background;
  AttnRgba foreground; /* text, axes */
  AttnRgba muted;      /* secondary text, grid lines */
  AttnRgba accent;     /* selection highlight */
  char *font_family;   /* Pango family list, e.g. "Sans" */
  double font_size;    /* in user units */
  gboolean show_values; /* heatmap: the weight printed in each cell */
  double threshold;    /* alignment / head view: links weaker are hidden */
} AttnRenderStyle;

/* Fills style with the theme's colours and type (viridis, fixed scale). */
void attn_render_style_init (AttnRenderStyle *style, AttnTheme theme);
void attn_render_style_clear (AttnRenderStyle *style);
/* The same on the heap: attn_render_style_init'ed, freed (cleared first)
 * by attn_render_style_free. */
AttnRenderStyle *attn_render_style_new (AttnTheme theme);
void attn_render_style_free (AttnRenderStyle *style);

typedef enum {
  ATTN_VIEW_HEATMAP,
  ATTN_VIEW_ALIGNMENT,
  ATTN_VIEW_HEADS, /* head view: token column twice, one colour per head */
  ATTN_VIEW_MODEL, /* grid of all layers x heads of one kind */
  ATTN_VIEW_STEP,  /* decoding step k */
} AttnViewKind;
#define ATTN_N_VIEWS 5

/* "heatmap", "alignment", "head", "model", "step" (as the CLI spells them). */
const char *attn_view_kind_to_string (AttnViewKind kind);
gboolean attn_view_kind_from_string (const char *str, AttnViewKind *kind);

/* What is shown. Indices are positions in the trace's token lists. */
typedef struct {
  AttnKind kind;
  int layer;
  int head;            /* 0 .. NH - 1, ATTN_HEADS_MEAN or ATTN_HEADS_MAX */
  guint64 head_subset; /* head view: bit h set = head h shown; 0 = all */
  int selected_query;  /* highlighted row / token, or -1 */
  int selected_key;    /* highlighted column / token, or -1 */
  int step;            /* step view: the decoding step */
  gboolean hide_special; /* drop special tokens, rows renormalised */
  gboolean hide_sink;    /* drop the first key (the "sink"), renormalised */
  int range_start;     /* zoom: token range [start, end) on both axes, */
  int range_end;       /*   -1, -1 = everything. Each axis is clipped to
                        *   its length; an axis the range lies wholly
                        *   beyond (the short side of cross-attention) is
                        *   kept whole. Zooming never rescales a weight. */
} AttnSelection;

void attn_selection_init (AttnSelection *sel, AttnKind kind);

/* The matrix a single-matrix view draws: one head (or the mean / max) of a
 * block, after hiding and zooming. Rows and columns keep the trace index of
 * their token, so a hit maps back to the trace. Hiding drops special tokens
 * from both axes and the sink from the keys; each head's row is then
 * rescaled to the total it had (1 for a normalised block) over the keys
 * left — inside the zoom or not — before the mean or max is taken; a row
 * with nothing left is zero. */
typedef struct {
  int n_rows, n_cols;
  float *w;          /* (n_rows, n_cols) */
  int *row_token;    /* (n_rows) index into the query side's tokens */
  int *col_token;    /* (n_cols) index into the key side's tokens */
  gboolean renormalised; /* rows were rescaled after hiding tokens */
  float max;         /* largest weight shown */
} AttnViewMatrix;

/* NULL with ATTN_ERROR_INVALID_ARGUMENT naming the valid range when the
 * selection names a block, layer or head the trace lacks. */
AttnViewMatrix *attn_view_matrix_new (const AttnTrace *trace,
                                      const AttnSelection *sel,
                                      GError **error);
void attn_view_matrix_free (AttnViewMatrix *m);

/* Position in [0, 1] on the colour map of weight w under style->scale. */
double attn_render_style_map (const AttnRenderStyle *style, float w,
                              float matrix_max);

/* A token as drawn: whitespace made visible ("␣" for a space, "↵" for a
 * newline, "⇥" for a tab), control characters as U+2400 pictures. */
char *attn_token_display_text (const char *text);

/* What a point of a view hits (for hover and click). */
typedef enum {
  ATTN_HIT_NONE,
  ATTN_HIT_CELL,      /* heatmap cell (query, key) */
  ATTN_HIT_QUERY,     /* a query-side token label / node */
  ATTN_HIT_KEY,       /* a key-side token label / node */
  ATTN_HIT_THUMBNAIL, /* model view: (layer, head) */
  ATTN_HIT_CANDIDATE, /* step view: one alternative of the step */
} AttnHitKind;

typedef struct {
  AttnHitKind kind;
  int query;  /* trace token index, or -1 */
  int key;    /* trace token index, or -1 */
  int layer;
  int head;
  int candidate;
  float weight; /* for a cell */
} AttnHit;

/* Every view: draws onto cr within (0, 0, width, height). Returns FALSE
 * with an error (nothing drawn) when the selection does not fit the trace. */
gboolean attn_view_render (AttnViewKind view, cairo_t *cr,
                           const AttnTrace *trace, const AttnSelection *sel,
                           const AttnRenderStyle *style, double width,
                           double height, GError **error);
/* Hit-testing through the same layout the renderer used. */
gboolean attn_view_hit_test (AttnViewKind view, const AttnTrace *trace,
                             const AttnSelection *sel,
                             const AttnRenderStyle *style, double width,
                             double height, double x, double y, AttnHit *hit);

/* Each view also has its own layout type and functions in its header
 * (attn-heatmap.h, attn-alignment.h, attn-head-view.h, attn-model-view.h,
 * attn-step-view.h): attn_<view>_layout (...) and attn_<view>_render (...). */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnRenderStyle, attn_render_style_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnViewMatrix, attn_view_matrix_free)

G_END_DECLS
