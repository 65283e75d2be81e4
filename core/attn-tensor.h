/* attn-tensor.h: a small float32 tensor, row-major, and blocks of them.
 *
 * Like llm.c, a model's parameters (or its activations, or its gradients)
 * live in one allocation carved into named tensors: one malloc, one free,
 * and a flat view for the optimiser. Kernels take raw `float *` plus dims;
 * AttnTensor is the bookkeeping around them (name, shape) for model files,
 * traces and tests. */
#pragma once

#include <glib.h>

#include "core/attn-check.h"
#include "core/attn-dims.h"

G_BEGIN_DECLS

#define ATTN_TENSOR_MAX_DIMS 4
/* Each tensor of a block starts on a 64-byte boundary (one cache line, and
 * enough for any SIMD load). */
#define ATTN_TENSOR_ALIGN 64

typedef struct {
  const char *name;
  int ndim;
  gsize shape[ATTN_TENSOR_MAX_DIMS];
} AttnTensorSpec;

typedef struct {
  char *name;
  float *data; /* row-major, numel floats; owned by the block (or a mapping) */
  int ndim;
  gsize shape[ATTN_TENSOR_MAX_DIMS];
  gsize numel;
} AttnTensor;

typedef struct {
  float *memory; /* one zeroed, ATTN_TENSOR_ALIGN-aligned allocation */
  gsize n_floats; /* of memory, including alignment padding */
  AttnTensor *tensors;
  guint n_tensors;
} AttnTensorBlock;

/* Product of the first ndim entries of shape, or 0 with an error (domain
 * ATTN_ERROR, code TOO_LARGE) when it would overflow or exceed max_numel
 * (pass 0 for no limit beyond overflow). */
gsize attn_shape_numel (int ndim, const gsize *shape, gsize max_numel,
                        GError **error);

/* Allocates every spec'd tensor from one zeroed block. Refuses, before
 * allocating anything, a block whose total would overflow. */
AttnTensorBlock *attn_tensor_block_new (const AttnTensorSpec *specs,
                                        guint n_specs, GError **error);
void attn_tensor_block_free (AttnTensorBlock *block);

/* NULL when no tensor has that name. */
AttnTensor *attn_tensor_block_lookup (AttnTensorBlock *block, const char *name);
/* Sets every float of the block to zero (e.g. gradients between steps). */
void attn_tensor_block_zero (AttnTensorBlock *block);

/* "(2, 3, 4)" */
char *attn_tensor_shape_to_string (const AttnTensor *t);

/* Max |a - b| over n floats; max |a - b| / max(|b|, floor) for relative. */
double attn_max_abs_diff (const float *a, const float *b, gsize n);
double attn_max_rel_diff (const float *a, const float *b, gsize n,
                          double floor);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnTensorBlock, attn_tensor_block_free)

G_END_DECLS
