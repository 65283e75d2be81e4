/* fuzz-model-json.c: the JSON documents of our model metadata on their own
 * (inside a model file they are strings in a JSON header, which mutations
 * rarely keep intact). The first byte chooses the reader, the rest is the
 * document:
 *   0  attnscope.config (attn_model_config_from_json)
 *   1  attnscope.vocab  (attn_vocab_from_json)
 * A document that is read must survive a round trip through its writer. */
#include <string.h>

#include "core/attn-model.h"
#include "core/attn-vocab.h"
#include "tests/fuzz/attn-fuzz.h"

static void
fuzz_config (const char *json)
{
  AttnModelConfig config;
  g_autoptr (GError) error = NULL;
  if (!attn_model_config_from_json (json, &config, &error))
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return;
    }
  g_assert (attn_model_config_validate (&config, NULL));
  g_autofree char *again = attn_model_config_to_json (&config);
  AttnModelConfig back;
  g_assert (attn_model_config_from_json (again, &back, NULL));
  g_assert (memcmp (&config, &back, sizeof config) == 0);
}

static void
fuzz_vocab (const char *json)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnVocab) vocab = attn_vocab_from_json (json, &error);
  if (vocab == NULL)
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return;
    }
  int V = attn_vocab_size (vocab);
  g_assert (V >= ATTN_VOCAB_N_SPECIAL);
  for (int id = 0; id < V; id++)
    g_assert (attn_vocab_lookup (vocab, attn_vocab_symbol (vocab, id)) == id);
  g_autofree char *again = attn_vocab_to_json (vocab);
  g_autoptr (AttnVocab) back = attn_vocab_from_json (again, NULL);
  g_assert (back != NULL && attn_vocab_size (back) == V);
  for (int id = 0; id < V; id++)
    g_assert (strcmp (attn_vocab_symbol (back, id),
                      attn_vocab_symbol (vocab, id)) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  if (size < 1)
    return 0;
  g_autofree char *json = attn_fuzz_strndup (data + 1, size - 1);
  if (data[0] % 2 == 0)
    fuzz_config (json);
  else
    fuzz_vocab (json);
  return 0;
}
