/* fuzz-gpt2-config.c: a Hugging Face GPT-2 config.json (the reader of
 * core/attn-gpt2.c, through attn_gpt2_config_from_data) on arbitrary bytes.
 * A config that is read must hold what the forward pass relies on. */
#include "core/attn-gpt2.h"
#include "tests/fuzz/attn-fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  AttnGpt2Config c;
  g_autoptr (GError) error = NULL;
  if (!attn_gpt2_config_from_data ((const char *) data, size, "config.json",
                                   &c, &error))
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return 0;
    }
  g_assert (c.L >= 1 && c.L <= ATTN_GPT2_MAX_LAYERS);
  g_assert (c.C >= 1 && c.C <= ATTN_GPT2_MAX_EMBD);
  g_assert (c.NH >= 1 && c.C % c.NH == 0);
  g_assert (c.F >= 1 && c.V >= 1 && c.V <= ATTN_GPT2_MAX_VOCAB);
  g_assert (c.n_positions >= 1 && c.n_positions <= ATTN_GPT2_MAX_POSITIONS);
  g_assert (c.eos_id >= -1 && c.eos_id < c.V);
  g_assert (c.eps >= 0.0f && c.eps < 1.0f);
  return 0;
}
