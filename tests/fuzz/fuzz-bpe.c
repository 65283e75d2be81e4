/* fuzz-bpe.c: the GPT-2 tokenizer file readers (core/attn-bpe.c) on
 * arbitrary bytes. The first byte chooses the layout, the rest is the
 * file(s):
 *   even  vocab.json and merges.txt (attn_bpe_new_from_data), split at the
 *         first NUL byte (neither file can hold one); without a NUL, all
 *         of it is vocab.json and merges.txt is empty
 *   odd   tokenizer.json (attn_bpe_new_from_tokenizer_json_data)
 * A tokenizer that is read must encode a mixed text and decode it back
 * byte for byte, and label its tokens. */
#include <string.h>

#include "core/attn-bpe.h"
#include "core/attn-error.h"
#include "tests/fuzz/attn-fuzz.h"

static const char probe[] = "Hello world, 注意力 <|endoftext|> it's 42!\n\xf0\x9f\x99\x82";

static void
check_tokenizer (AttnBpe *bpe)
{
  int V = attn_bpe_n_vocab (bpe);
  g_assert (V >= 1);
  for (int id = 0; id < V; id++)
    g_assert (attn_bpe_lookup (bpe, attn_bpe_token (bpe, id)) == id);
  for (int flags = 0; flags < 2; flags++)
    {
      g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
      g_autoptr (GArray) spans = g_array_new (FALSE, FALSE,
                                              sizeof (AttnBpeSpan));
      g_autoptr (GError) error = NULL;
      if (!attn_bpe_encode (bpe, probe, flags, ids, spans, &error))
        g_error ("a tokenizer that loads fails to encode: %s",
                 error->message);
      g_autoptr (GBytes) back = attn_bpe_decode_bytes (
        bpe, (const int *) ids->data, ids->len, NULL);
      g_assert (back != NULL);
      gsize len = 0;
      const char *bytes = g_bytes_get_data (back, &len);
      g_assert (len == strlen (probe) && memcmp (bytes, probe, len) == 0);
      g_autofree char *text = NULL;
      g_autoptr (GArray) labels = attn_bpe_labels (
        bpe, (const int *) ids->data, ids->len, &text, NULL);
      g_assert (labels != NULL && labels->len == ids->len);
      g_assert (g_utf8_validate (text, -1, NULL));
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  if (size < 1)
    return 0;
  const char *rest = (const char *) data + 1;
  gsize len = size - 1;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnBpe) bpe = NULL;
  if (data[0] % 2 == 0)
    {
      const char *nul = memchr (rest, '\0', len);
      gsize vocab_len = nul != NULL ? (gsize) (nul - rest) : len;
      const char *merges = nul != NULL ? nul + 1 : rest + len;
      gsize merges_len = len - vocab_len - (nul != NULL);
      bpe = attn_bpe_new_from_data (rest, vocab_len, "vocab.json", merges,
                                    merges_len, "merges.txt", &error);
    }
  else
    bpe = attn_bpe_new_from_tokenizer_json_data (rest, len, "tokenizer.json",
                                                 &error);
  if (bpe == NULL)
    {
      attn_fuzz_note (error);
      g_assert (error != NULL && error->domain == ATTN_ERROR);
      return 0;
    }
  check_tokenizer (bpe);
  return 0;
}
