/* fuzz-bpe-encode.c: GPT-2's real tokenizer (encoder.json + vocab.bpe of
 * ../shared/models/gpt2-tokenizer, 50,257 tokens, 50,000 merges) on
 * arbitrary bytes. The first byte's low bit asks for special tokens; the
 * rest is the text, NUL-terminated. Text that encodes must decode back byte
 * for byte, with spans tiling it; text that does not must be invalid
 * UTF-8. Without the shared tokenizer files the target does nothing and
 * says so once. */
#include <string.h>

#include "core/attn-bpe.h"
#include "core/attn-error.h"
#include "tests/fuzz/attn-fuzz.h"

static AttnBpe *
gpt2_tokenizer (void)
{
  static AttnBpe *bpe;
  static gboolean tried;
  if (!tried)
    {
      tried = TRUE;
      g_autofree char *dir = g_build_filename (attn_fuzz_shared_models_dir (),
                                               "gpt2-tokenizer", NULL);
      g_autoptr (GError) error = NULL;
      bpe = attn_bpe_new_from_dir (dir, &error);
      if (bpe == NULL)
        g_printerr ("fuzz-bpe-encode: no GPT-2 tokenizer, nothing checked: "
                    "%s\n", error->message);
    }
  return bpe;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  AttnBpe *bpe = gpt2_tokenizer ();
  if (size < 1 || bpe == NULL)
    return 0;
  AttnBpeEncodeFlags flags = data[0] & 1 ? ATTN_BPE_ENCODE_SPECIAL
                                         : ATTN_BPE_ENCODE_DEFAULT;
  g_autofree char *text = attn_fuzz_strndup (data + 1, size - 1);
  gsize len = strlen (text);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (AttnBpeSpan));
  g_autoptr (GError) error = NULL;
  if (!attn_bpe_encode (bpe, text, flags, ids, spans, &error))
    {
      attn_fuzz_note (error);
      g_assert (g_error_matches (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT));
      g_assert (!g_utf8_validate (text, -1, NULL));
      g_assert (ids->len == 0);
      return 0;
    }
  g_assert (spans->len == ids->len);
  int at = 0;
  for (guint i = 0; i < spans->len; i++)
    {
      AttnBpeSpan s = g_array_index (spans, AttnBpeSpan, i);
      g_assert (s.start == at && s.end > s.start);
      at = s.end;
    }
  g_assert ((gsize) at == len);
  g_autoptr (GBytes) back = attn_bpe_decode_bytes (bpe, (const int *) ids->data,
                                                   ids->len, NULL);
  gsize back_len = 0;
  const char *bytes = g_bytes_get_data (back, &back_len);
  g_assert (back_len == len && (len == 0 || memcmp (bytes, text, len) == 0));
  g_autofree char *shown = NULL;
  g_autoptr (GArray) labels = attn_bpe_labels (bpe, (const int *) ids->data,
                                               ids->len, &shown, NULL);
  g_assert (labels != NULL && labels->len == ids->len);
  g_assert (strcmp (shown, text) == 0);
  return 0;
}
