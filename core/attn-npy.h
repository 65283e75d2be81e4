/* attn-npy.h: float32 arrays in NumPy's .npy format.
 *
 * Writes what np.save writes for a C-ordered float32 array (format version
 * 1.0, dtype '<f4'), byte for byte, so np.load reads our files and our
 * header bytes can be compared with NumPy's. Reads versions 1.0 and 2.0 of
 * '<f4' C-ordered arrays with up to ATTN_NPY_MAX_DIMS dimensions; anything
 * else is refused with ATTN_ERROR_BAD_TRACE naming the file and the fault.
 * The reader never allocates more than the file's size. */
#pragma once

#include <glib.h>

#include "core/attn-tensor.h"

G_BEGIN_DECLS

#define ATTN_NPY_MAX_DIMS ATTN_TENSOR_MAX_DIMS

/* data has the product of shape[0 .. ndim - 1] floats, row-major (ndim 0 is
 * a scalar). The file is written whole or not at all. */
gboolean attn_npy_write (const char *path, const float *data, int ndim,
                         const gsize *shape, GError **error);

/* The array's floats (free with g_free; never NULL on success, even for an
 * empty array), its ndim and its shape (shape has room for
 * ATTN_NPY_MAX_DIMS entries). NULL with an error otherwise: ATTN_ERROR_IO
 * when the file cannot be read, ATTN_ERROR_BAD_TRACE when it is not a
 * supported .npy. */
float *attn_npy_read (const char *path, int *ndim, gsize *shape,
                      GError **error);
/* The same from the len bytes of a whole .npy already in memory (a
 * fuzzer's input, a sidecar inside an archive); name is used in
 * messages. */
float *attn_npy_read_data (const void *bytes, gsize len, const char *name,
                           int *ndim, gsize *shape, GError **error);

G_END_DECLS
