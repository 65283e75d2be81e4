/* attn-attention-private.h: test hooks of attn-attention.c, not API. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* TRUE makes the multi-head softmax use its portable (SSE2) body even on a
 * CPU with AVX2 and FMA, so that tests cover both; FALSE restores the
 * automatic choice. Not thread-safe: set it only while nothing else runs. */
void attn_attention_force_generic_simd (gboolean force);

G_END_DECLS
