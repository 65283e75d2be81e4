/* fuzz-npy.c: the .npy reader (attn_npy_read_data) on arbitrary bytes:
 * magic, version, header dict, shape, and the promise that it never
 * allocates more than the input holds. */
#include "core/attn-npy.h"
#include "tests/fuzz/attn-fuzz.h"

static volatile float sink;

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  g_autoptr (GError) error = NULL;
  int ndim = -1;
  gsize shape[ATTN_NPY_MAX_DIMS] = { 0 };
  g_autofree float *values = attn_npy_read_data (data, size, "fuzz.npy",
                                                 &ndim, shape, &error);
  if (values == NULL)
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return 0;
    }
  g_assert (ndim >= 0 && ndim <= ATTN_NPY_MAX_DIMS);
  gsize numel = 1;
  for (int d = 0; d < ndim; d++)
    numel *= shape[d];
  g_assert (numel * sizeof (float) <= size);
  for (gsize i = 0; i < numel; i++)
    sink += values[i];
  return 0;
}
