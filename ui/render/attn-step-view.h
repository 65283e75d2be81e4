/* attn-step-view.h: the step view — decoding step k: the token emitted and
 * its probability, where the model looked when it emitted it, and what else
 * it nearly emitted.
 *
 * Step k is made by query k (the decoder input at target position k), so
 * the shaded tokens are row k of a block: cross-attention when the trace
 * has it (the source tokens), otherwise decoder self-attention (the
 * prefix, target tokens 0..k). Each token is a box filled with the colour
 * map's colour for its weight under the style's scale. sel->step picks the
 * step; sel->layer picks the layer of that block (-1: the last one) and
 * sel->head the head, or ATTN_HEADS_MEAN / ATTN_HEADS_MAX; sel->kind is not
 * used. Hiding and the token range apply to the shaded tokens as in every
 * view (hidden keys' weight is spread over the rest, per head, as
 * attn_view_matrix_new does).
 *
 * Below, the step's top alternatives (at most five, most probable first) as
 * horizontal bars whose length is the probability (a bar of full length
 * would be probability 1), each with its token and its percentage; the
 * emitted token's bar is drawn in the accent colour. */
#pragma once

#include <cairo.h>
#include <pango/pango.h>

#include "ui/render/attn-view-util.h"
#include "ui/render/attn-view.h"

G_BEGIN_DECLS

/* Alternatives shown. */
#define ATTN_STEP_VIEW_MAX_BARS 5

/* A selection for the step view of step k: layer -1 (the last), the mean of
 * the heads, nothing hidden. */
void attn_step_view_selection_init (AttnSelection *sel, int step);

typedef struct
{
  int candidate; /* index into the step's top[], or -1 for the
                  * emitted token when the step has no top list */
  float prob;
  gboolean emitted;        /* the token the step emitted */
  cairo_rectangle_t label; /* its token, right-aligned in this box */
  cairo_rectangle_t bar;   /* from bar_x, prob * bar_full wide */
  cairo_rectangle_t value; /* the percentage, after the bar */
} AttnStepBar;

/* Geometry in user units within (0, 0, width, height). */
typedef struct
{
  double width, height;
  int step, n_steps;
  AttnKind kind; /* of the shaded block: cross or decoder-self */
  int layer, head, n_heads;

  /* The type size the layout fitted: style->font_size, or smaller (down to
   * a quarter) when the drawing is too small for it. */
  double font_size;

  gboolean show_title;
  char *title;
  cairo_rectangle_t title_rect;

  /* The emitted token, large, then its probability, then what came before
   * (the target tokens up to the query, ellipsised at the start). */
  cairo_rectangle_t emitted_rect;
  cairo_rectangle_t prob_rect;
  cairo_rectangle_t prefix_rect;
  float prob;

  /* The shaded tokens, flowing left to right in lines like text. */
  cairo_rectangle_t keys_caption_rect;
  AttnTokenSlot *keys; /* (n_keys) boxes; token = key side trace index */
  float *weights;      /* (n_keys) weight of each */
  float max_weight;
  int n_keys;
  gboolean show_key_text; /* FALSE when the boxes had to shrink past it */
  double key_scale;
  gboolean renormalised;

  cairo_rectangle_t bars_caption_rect;
  AttnStepBar bars[ATTN_STEP_VIEW_MAX_BARS];
  int n_bars;
  double bar_x, bar_full; /* where bars start; the length of probability 1 */

  gboolean show_note;
  char *note;
  cairo_rectangle_t note_rect;

  /* < private > */
  PangoContext *context;
  char *emitted_text; /* display text */
  char *prob_text;
  char *prefix_text;
  char **key_text;   /* (n_keys) */
  char **bar_text;   /* (n_bars) */
  char **value_text; /* (n_bars) */
  char *keys_caption;
  char *bars_caption;
} AttnStepViewLayout;

/* NULL with ATTN_ERROR_INVALID_ARGUMENT when the trace has no steps, the
 * step, layer or head is out of range (the message names the valid ones),
 * the hiding leaves no token, or the size is not positive. */
AttnStepViewLayout *attn_step_view_layout_new (const AttnTrace *trace,
                                               const AttnSelection *sel,
                                               const AttnRenderStyle *style,
                                               double width, double height,
                                               GError **error);
void attn_step_view_layout_free (AttnStepViewLayout *layout);

/* A shaded token is ATTN_HIT_KEY with its key (trace index) and weight, a
 * bar or its label ATTN_HIT_CANDIDATE with the candidate's index in the
 * step's top list (query is the step's query in both). */
gboolean attn_step_view_layout_hit (const AttnStepViewLayout *layout, double x,
                                    double y, AttnHit *hit);

/* Draws the layout; style must be the one it was made with, except for
 * colours, colour map and scale. */
void attn_step_view_render_layout (cairo_t *cr,
                                   const AttnStepViewLayout *layout,
                                   const AttnRenderStyle *style);

gboolean attn_step_view_render (cairo_t *cr, const AttnTrace *trace,
                                const AttnSelection *sel,
                                const AttnRenderStyle *style, double width,
                                double height, GError **error);
gboolean attn_step_view_hit_test (const AttnTrace *trace,
                                  const AttnSelection *sel,
                                  const AttnRenderStyle *style, double width,
                                  double height, double x, double y,
                                  AttnHit *hit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnStepViewLayout, attn_step_view_layout_free)

G_END_DECLS
