/* fuzz-model.c: attn_model_load on a whole model file in memory: the
 * safetensors reader, then our metadata (format version, config, vocabulary
 * and card JSON, each inside a string), then every tensor checked against
 * the config. A file that loads is run on a short text, so a config that
 * validates but breaks the forward pass is found too. */
#include "core/attn-model.h"
#include "tests/fuzz/attn-fuzz.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnModel) model =
    attn_model_load_from_bytes (bytes, "fuzz.safetensors", &error);
  if (model == NULL)
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return 0;
    }
  g_assert (attn_vocab_size (model->vocab) == model->config.V);

  /* A text of the vocabulary's first ordinary symbols, as long as the
   * model reads (at most 3: a run costs a forward per emitted token). */
  g_autoptr (GString) text = g_string_new (NULL);
  int n = MIN (model->config.max_len - 1, 3);
  for (int i = 0; i < n; i++)
    g_string_append (text, attn_vocab_symbol (model->vocab,
                                              ATTN_VOCAB_N_SPECIAL
                                              + i % (model->config.V
                                                     - ATTN_VOCAB_N_SPECIAL)));
  AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
  options.max_steps = 3;
  g_autoptr (GError) run_error = NULL;
  g_autoptr (AttnTrace) trace = attn_model_run (model, text->str, &options,
                                                NULL, &run_error);
  /* A loaded model's run makes a valid trace, or refuses the text (one of
   * its symbols may be white space only, say), or reports that weights
   * finite one by one overflowed together (FAILED, "non-finite logit"). */
  if (trace != NULL)
    g_assert (attn_trace_validate (trace, NULL));
  else
    g_assert (g_error_matches (run_error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT)
              || g_error_matches (run_error, ATTN_ERROR, ATTN_ERROR_FAILED));
  return 0;
}
