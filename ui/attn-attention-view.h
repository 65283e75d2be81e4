/* attn-attention-view.h: one view of a trace (heatmap, alignment, heads,
 * model grid or steps) as a GTK widget.
 *
 * The widget draws with attn_view_render () (the same function the CLI
 * exports with) and hit-tests with attn_view_hit_test (), so what is under
 * the pointer is what the renderer drew there. It holds no state of its
 * own about what is shown: the window owns the trace, the selection and
 * the user's style options, and hands each view a copy of them. Colours come
 * from the current libadwaita style (light or dark). */
#pragma once

#include <gtk/gtk.h>

#include "core/attn-trace.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

#define ATTN_TYPE_VIEW_KIND (attn_view_kind_get_type ())
GType attn_view_kind_get_type (void);

#define ATTN_TYPE_ATTENTION_VIEW (attn_attention_view_get_type ())
G_DECLARE_FINAL_TYPE (AttnAttentionView, attn_attention_view, ATTN,
                      ATTENTION_VIEW, GtkWidget)

/* What the user chose of the style; the colours come from the theme. */
typedef struct
{
  AttnColormap colormap;
  gboolean reversed;
  AttnScale scale;
  double threshold;      /* alignment / head view: weaker links hidden */
  gboolean show_values;  /* heatmap: weights printed in the cells */
  gboolean presentation; /* large type, black on white: a classroom */
} AttnViewOptions;

void attn_view_options_init (AttnViewOptions *options);

GtkWidget *attn_attention_view_new (AttnViewKind kind);
AttnViewKind attn_attention_view_get_kind (AttnAttentionView *self);

/* Borrowed: trace must stay alive until the next call (NULL draws
 * nothing). The window owns it and clears every view before freeing. */
void attn_attention_view_set_trace (AttnAttentionView *self,
                                    const AttnTrace *trace);
const AttnTrace *attn_attention_view_get_trace (AttnAttentionView *self);

/* Copied. */
void attn_attention_view_set_selection (AttnAttentionView *self,
                                        const AttnSelection *sel);
const AttnSelection *
attn_attention_view_get_selection (AttnAttentionView *self);
void attn_attention_view_set_options (AttnAttentionView *self,
                                      const AttnViewOptions *options);

/* The style the widget draws with now: theme colours and font with the
 * options applied. Clear with attn_render_style_clear (). */
void attn_attention_view_build_style (AttnAttentionView *self,
                                      AttnRenderStyle *style);

/* The pointer handlers the controllers call, with widget coordinates;
 * tests call them directly. hover returns whether (x, y) hits anything and
 * emits "hover-changed" when the hit changed; click emits
 * "token-activated" (query, key: trace token indices or -1) for a cell or
 * a token, "thumbnail-activated" (layer, head) for a model-grid thumbnail,
 * and returns whether it hit anything. */
gboolean attn_attention_view_hover (AttnAttentionView *self, double x,
                                    double y);
void attn_attention_view_leave (AttnAttentionView *self);
gboolean attn_attention_view_click (AttnAttentionView *self, double x,
                                    double y);

/* The keyboard's way to select tokens (arrow keys; Escape clears): moves
 * the selected query by d_query and the selected key by d_key, clamped to
 * the tokens there are (from none, the first token), or with both 0
 * clears them; emits "token-selected" (query, key). FALSE when the view
 * has no tokens to move over (no trace, the model grid). */
gboolean attn_attention_view_move_selection (AttnAttentionView *self,
                                             int d_query, int d_key);

/* Zoom and pan of the heatmap, through the selection's token range (the
 * same range on both axes, see AttnSelection): the controllers call these
 * (Ctrl+scroll, a pinch, Ctrl+plus / minus / 0 zoom; a drag pans), tests
 * call them directly. zoom divides the number of tokens shown by factor
 * (> 1 zooms in), at least ATTN_ZOOM_MIN_TOKENS, keeping token `center`
 * (or, when -1, the middle of what is shown) where it is; showing every
 * token again is the range -1, -1. pan moves a zoomed range by d_tokens,
 * clamped to the tokens there are. Each emits "range-changed" (start, end)
 * when the range would change, and returns whether it did; the window
 * sets the range on every view. Only the heatmap zooms: in other views,
 * and without a trace, they return FALSE. */
#define ATTN_ZOOM_MIN_TOKENS 2
gboolean attn_attention_view_zoom (AttnAttentionView *self, double factor,
                                   int center);
gboolean attn_attention_view_pan (AttnAttentionView *self, int d_tokens);

/* The hit under the pointer (kind ATTN_HIT_NONE when none). */
const AttnHit *attn_attention_view_get_hover (AttnAttentionView *self);

/* A hit in words, e.g. "“2” → “年”: 0.9731 (cross-attention, layer 2,
 * head 1)". NULL for ATTN_HIT_NONE. */
char *attn_attention_view_describe_hit (AttnAttentionView *self,
                                        const AttnHit *hit);

/* The accessible label and description last set on the widget: what is
 * shown, and its strongest links. */
const char *attn_attention_view_get_accessible_label (AttnAttentionView *self);
const char *
attn_attention_view_get_accessible_description (AttnAttentionView *self);

/* The message of the last failed render (the selection does not fit the
 * trace), or NULL when the last render drew. */
const char *attn_attention_view_get_render_error (AttnAttentionView *self);

G_END_DECLS
