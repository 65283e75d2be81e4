/* fuzz-trace.c: the trace JSON reader (attn_trace_load_json_data) on
 * arbitrary bytes, sidecars refused (no folder). A trace that is read
 * validates, and survives writing and reading back unchanged in shape. */
#include <string.h>

#include "core/attn-trace.h"
#include "tests/fuzz/attn-fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace =
    attn_trace_load_json_data ((const char *) data, size, "fuzz.json", NULL,
                               &error);
  if (trace == NULL)
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return 0;
    }
  g_assert (attn_trace_validate (trace, NULL));
  g_autofree char *json = attn_trace_to_json (trace, NULL);
  g_assert (json != NULL);
  g_autoptr (GError) again_error = NULL;
  g_autoptr (AttnTrace) again =
    attn_trace_load_json_data (json, strlen (json), "again.json", NULL,
                               &again_error);
  g_assert_no_error (again_error);
  g_assert (again->blocks->len == trace->blocks->len);
  g_assert (again->steps->len == trace->steps->len);
  g_assert (attn_trace_n_tokens (again, ATTN_SIDE_SOURCE)
            == attn_trace_n_tokens (trace, ATTN_SIDE_SOURCE));
  g_assert (attn_trace_n_tokens (again, ATTN_SIDE_TARGET)
            == attn_trace_n_tokens (trace, ATTN_SIDE_TARGET));
  for (guint i = 0; i < trace->blocks->len; i++)
    {
      const AttnBlock *b = g_ptr_array_index (trace->blocks, i);
      g_autofree float *mean = g_new (float, MAX ((gsize) b->n_queries
                                                  * b->n_keys, 1));
      attn_block_head_weights (b, ATTN_HEADS_MEAN, mean);
      attn_block_head_weights (b, ATTN_HEADS_MAX, mean);
    }
  return 0;
}
