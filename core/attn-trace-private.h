/* attn-trace-private.h: shared by attn-trace.c and attn-trace-json.c only. */
#pragma once

#include "core/attn-trace.h"

G_BEGIN_DECLS

/* Like attn_trace_add_block (), but the block takes ownership of weights
 * (NH, Tq, Tk), allocated with g_malloc, instead of allocating its own. */
AttnBlock *attn_trace_take_block (AttnTrace *trace, AttnKind kind, int layer,
                                  int n_heads, int n_queries, int n_keys,
                                  float *weights);

G_END_DECLS
