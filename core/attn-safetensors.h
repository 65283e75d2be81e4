/* attn-safetensors.h: read and write safetensors model files.
 *
 * One reader serves Hugging Face checkpoints and Attnscope's own model files
 * (docs/model-format.md). A file is an 8-byte little-endian header length N,
 * N bytes of UTF-8 JSON, then the data buffer. The file is memory-mapped and
 * the whole header is validated when it is opened, so that every later
 * access is in bounds: a malformed file is an ATTN_ERROR_BAD_MODEL_FILE
 * naming the file and the problem, never a crash.
 *
 * Float32 tensors are handed out without copying when the data is F32 and
 * 4-byte aligned in memory; F16 and BF16 (and misaligned F32) are converted
 * into a buffer of their own. Either way the result keeps what it points into
 * alive, so it may outlive the AttnSafetensors it came from.
 *
 * The mapping is read-only and shared: a file truncated by another process
 * while mapped can still raise SIGBUS, as with any mmap reader. */
#pragma once

#include <gio/gio.h>
#include <glib.h>

G_BEGIN_DECLS

/* Dimensions a safetensors tensor may have here (the format has no limit;
 * GPT-2's largest buffers have 4). */
#define ATTN_SAFETENSORS_MAX_DIMS 8
/* Tensors with more elements than this are refused before any arithmetic
 * that could overflow or any allocation. */
#define ATTN_SAFETENSORS_MAX_NUMEL (G_GUINT64_CONSTANT (1) << 40)
/* Larger headers are refused as absurd (the reference library's limit). */
#define ATTN_SAFETENSORS_MAX_HEADER (100 * 1000 * 1000)

/* Every dtype the format defines. Only F32, F16 and BF16 can be read as
 * float32; the others are recognised so that a file holding them opens and
 * a request for them gets a precise message. */
typedef enum {
  ATTN_DTYPE_BOOL,
  ATTN_DTYPE_U8,
  ATTN_DTYPE_I8,
  ATTN_DTYPE_F8_E5M2,
  ATTN_DTYPE_F8_E4M3,
  ATTN_DTYPE_I16,
  ATTN_DTYPE_U16,
  ATTN_DTYPE_F16,
  ATTN_DTYPE_BF16,
  ATTN_DTYPE_I32,
  ATTN_DTYPE_U32,
  ATTN_DTYPE_F32,
  ATTN_DTYPE_F64,
  ATTN_DTYPE_I64,
  ATTN_DTYPE_U64,
} AttnDtype;

/* "F32", "BF16", ... as written in the header. */
const char *attn_dtype_name (AttnDtype dtype);
/* Bytes per element. */
gsize attn_dtype_size (AttnDtype dtype);

/* One header entry, validated: begin <= end <= the data buffer's length,
 * end - begin == numel * attn_dtype_size (dtype), no overlap with another. */
typedef struct {
  const char *name; /* owned by the AttnSafetensors */
  AttnDtype dtype;
  int ndim; /* 0 for a scalar */
  gsize shape[ATTN_SAFETENSORS_MAX_DIMS];
  gsize numel;
  gsize begin; /* byte offsets into the data buffer, [begin, end) */
  gsize end;
} AttnSafetensorsEntry;

typedef struct _AttnSafetensors AttnSafetensors;

/* Maps and validates the file. A missing or unreadable file is ATTN_ERROR_IO;
 * anything else wrong with it is ATTN_ERROR_BAD_MODEL_FILE. */
AttnSafetensors *attn_safetensors_open (const char *path, GError **error);
/* The same from bytes already in memory (a GResource, a fuzzer's input);
 * name is used in messages. Keeps a reference to bytes. */
AttnSafetensors *attn_safetensors_new_from_bytes (GBytes *bytes,
                                                  const char *name,
                                                  GError **error);
void attn_safetensors_free (AttnSafetensors *st);

/* Entries in data-buffer order (for files written by the reference library
 * or by attn_safetensors_write, that is also name order). */
guint attn_safetensors_get_n_tensors (AttnSafetensors *st);
const AttnSafetensorsEntry *attn_safetensors_get_entry (AttnSafetensors *st,
                                                        guint i);
/* NULL when the file has no tensor of that name. */
const AttnSafetensorsEntry *attn_safetensors_lookup (AttnSafetensors *st,
                                                     const char *name);
/* NULL-terminated names in data-buffer order; free the array with g_free,
 * not the strings (they belong to st). */
const char **attn_safetensors_list_names (AttnSafetensors *st);

/* Value of a `__metadata__` key, or NULL. */
const char *attn_safetensors_get_metadata (AttnSafetensors *st,
                                           const char *key);
/* The whole `__metadata__` map, string -> string, owned by st (empty when
 * the file has none). */
GHashTable *attn_safetensors_get_metadata_table (AttnSafetensors *st);

/* The file's data buffer (everything after the header) and the header's
 * length N in bytes, for tools and tests; entries' offsets are relative to
 * the data buffer. */
const guint8 *attn_safetensors_get_data (AttnSafetensors *st, gsize *len);
gsize attn_safetensors_get_header_length (AttnSafetensors *st);
/* Display name of the file, as used in error messages. */
const char *attn_safetensors_get_name (AttnSafetensors *st);

/* A tensor as float32. Either a view into the file (owned == FALSE) or a
 * converted copy (owned == TRUE); in both cases release it with
 * attn_safetensors_f32_clear, which drops the copy or the reference to the
 * file's memory. */
typedef struct {
  const float *data; /* (numel) row-major; NULL when numel == 0 */
  int ndim;
  gsize shape[ATTN_SAFETENSORS_MAX_DIMS];
  gsize numel;
  gboolean owned;
  /*< private >*/
  GBytes *keep; /* holds the file's memory alive for a view */
} AttnSafetensorsF32;

/* Reads tensor `name` as float32 into *out (which the call overwrites; clear
 * it first if it held a tensor). expect_ndim < 0 accepts any shape;
 * otherwise the tensor must have expect_ndim dimensions and, when
 * expect_shape is not NULL, exactly that shape. A missing tensor, a wrong
 * shape or a non-float dtype is ATTN_ERROR_BAD_MODEL_FILE naming the file
 * and tensor (and both shapes). F16 and BF16 convert exactly, bit for bit as
 * torch's Tensor.float() does (an F16 signalling NaN becomes quiet). */
gboolean attn_safetensors_get_f32 (AttnSafetensors *st, const char *name,
                                   int expect_ndim, const gsize *expect_shape,
                                   AttnSafetensorsF32 *out, GError **error);
void attn_safetensors_f32_clear (AttnSafetensorsF32 *t);

/* Exact conversions of one value's bits to float32 bits. */
guint32 attn_f16_to_f32_bits (guint16 h);
guint32 attn_bf16_to_f32_bits (guint16 b);

/* A float32 tensor to write. */
typedef struct {
  const char *name;
  int ndim;
  gsize shape[ATTN_SAFETENSORS_MAX_DIMS];
  const float *data; /* (numel) row-major; may be NULL when numel == 0 */
} AttnSafetensorsWriteSpec;

/* Writes an F32 safetensors file the way the reference (Hugging Face)
 * library lays it out: compact JSON header, `__metadata__` first (keys
 * sorted) whenever metadata is non-NULL (even empty), tensors sorted by name
 * and packed in that order, header padded with spaces to a multiple of 8
 * bytes. Whole or nothing: the bytes go to a temporary file in the same
 * folder, which is renamed over path only once complete. Bad arguments
 * (duplicate or reserved names, too many dimensions) are
 * ATTN_ERROR_INVALID_ARGUMENT; failures to write are ATTN_ERROR_IO. */
gboolean attn_safetensors_write (const char *path,
                                 const AttnSafetensorsWriteSpec *tensors,
                                 guint n_tensors, GHashTable *metadata,
                                 GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AttnSafetensors, attn_safetensors_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AttnSafetensorsF32,
                                  attn_safetensors_f32_clear)

G_END_DECLS
