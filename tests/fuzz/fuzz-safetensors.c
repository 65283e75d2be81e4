/* fuzz-safetensors.c: the safetensors reader on arbitrary bytes: header
 * JSON, dtypes, shapes, offsets (overlapping, out of range, absurd), then
 * every tensor read as float32 and every value touched, so a view that
 * reaches past the data buffer is an out-of-bounds read. */
#include <math.h>

#include "core/attn-safetensors.h"
#include "tests/fuzz/attn-fuzz.h"

static volatile float sink;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnSafetensors) st =
    attn_safetensors_new_from_bytes (bytes, "fuzz.safetensors", &error);
  if (st == NULL)
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return 0;
    }

  gsize data_len = 0;
  const guint8 *buffer = attn_safetensors_get_data (st, &data_len);
  g_assert (attn_safetensors_get_header_length (st) + 8 + data_len == size);
  g_assert (buffer != NULL || data_len == 0);

  GHashTableIter iter;
  gpointer key, value;
  g_hash_table_iter_init (&iter, attn_safetensors_get_metadata_table (st));
  while (g_hash_table_iter_next (&iter, &key, &value))
    g_assert (attn_safetensors_get_metadata (st, key) == value);

  g_autofree const char **names = attn_safetensors_list_names (st);
  guint n = attn_safetensors_get_n_tensors (st);
  gsize furthest_end = 0;
  for (guint i = 0; i < n; i++)
    {
      const AttnSafetensorsEntry *e = attn_safetensors_get_entry (st, i);
      /* The header's promises (attn-safetensors.h). */
      g_assert (names[i] != NULL && attn_safetensors_lookup (st, names[i]) == e);
      g_assert (e->begin <= e->end && e->end <= data_len);
      g_assert (e->end - e->begin == e->numel * attn_dtype_size (e->dtype));
      /* No overlap: in data-buffer order, each non-empty tensor starts at
       * or after the furthest end so far (empty ones occupy nothing). */
      if (e->begin < e->end)
        {
          g_assert (e->begin >= furthest_end);
          furthest_end = e->end;
        }

      g_auto (AttnSafetensorsF32) t = { 0 };
      g_autoptr (GError) local = NULL;
      if (!attn_safetensors_get_f32 (st, e->name, -1, NULL, &t, &local))
        {
          g_assert (local != NULL);
          continue;
        }
      g_assert (t.numel == e->numel && t.ndim == e->ndim);
      /* Every value read, so ASan sees a view past the buffer. */
      for (gsize k = 0; k < t.numel; k++)
        sink += isfinite (t.data[k]) ? 0.0f : 1.0f;
      /* The same tensor with the shape it has, then with one it lacks. */
      g_auto (AttnSafetensorsF32) again = { 0 };
      g_assert (attn_safetensors_get_f32 (st, e->name, e->ndim, e->shape,
                                          &again, NULL));
      gsize wrong[ATTN_SAFETENSORS_MAX_DIMS] = { 0 };
      for (int d = 0; d < e->ndim; d++)
        wrong[d] = e->shape[d] + 1;
      g_autoptr (GError) shape_error = NULL;
      g_auto (AttnSafetensorsF32) refused = { 0 };
      g_assert (e->ndim == 0
                || !attn_safetensors_get_f32 (st, e->name, e->ndim, wrong,
                                              &refused, &shape_error));
    }
  g_assert (names[n] == NULL);
  return 0;
}
