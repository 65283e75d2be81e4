/* fuzz-text.c: text as a user types or pastes it, on arbitrary bytes. The
 * first byte chooses what reads the rest (NUL-terminated there):
 *   0  attn_vocab_encode with dates-transformer's vocabulary (the default
 *      model), then decode: ids, spans and unknown characters checked
 *   1  attn_task_parse_date
 *   2  attn_task_parse_number
 *   3  attn_model_run of dates-transformer (greedy, 4 steps at most): the
 *      whole path of `attnscope-cli run`, unknown and control characters,
 *      white space, the length limit
 * A parser that accepts a text must give a value its writer can write. */
#include <string.h>

#include "core/attn-model.h"
#include "core/attn-task.h"
#include "core/attn-vocab.h"
#include "tests/fuzz/attn-fuzz.h"

#define MODEL "dates-transformer.safetensors"

static AttnModel *
default_model (void)
{
  static AttnModel *model;
  if (model == NULL)
    {
      g_autofree char *path = g_build_filename (attn_fuzz_models_dir (),
                                                MODEL, NULL);
      g_autoptr (GError) error = NULL;
      model = attn_model_load (path, &error);
      if (model == NULL)
        g_error ("fuzz-text needs %s: %s", path, error->message);
    }
  return model;
}

static void
fuzz_encode (const char *text)
{
  AttnModel *model = default_model ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  if (!attn_vocab_encode (model->vocab, text, ids, spans, unknown, &error))
    {
      attn_fuzz_note (error);
      g_assert (g_error_matches (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT));
      g_assert (ids->len == 0);
      return;
    }
  /* One id per character; spans tile the text. */
  g_assert (ids->len == (guint) g_utf8_strlen (text, -1));
  g_assert (spans->len == 2 * ids->len);
  int at = 0;
  for (guint i = 0; i < ids->len; i++)
    {
      int id = g_array_index (ids, int, i);
      int start = g_array_index (spans, int, 2 * i);
      int end = g_array_index (spans, int, 2 * i + 1);
      g_assert (start == at && end > start);
      at = end;
      g_assert (id >= 0 && id < attn_vocab_size (model->vocab));
      g_assert (!attn_vocab_is_special (id) || id == ATTN_VOCAB_UNK);
      if (id != ATTN_VOCAB_UNK)
        g_assert (strncmp (attn_vocab_symbol (model->vocab, id), text + start,
                           end - start) == 0);
    }
  g_assert ((size_t) at == strlen (text));
  for (guint i = 0; i < unknown->len; i++)
    g_assert (attn_vocab_lookup (model->vocab, unknown->pdata[i]) < 0);
  g_autofree char *decoded = attn_vocab_decode (model->vocab,
                                                (const int *) ids->data,
                                                ids->len);
  if (unknown->len == 0)
    g_assert (strcmp (decoded, text) == 0);
}

static void
fuzz_date (const char *text)
{
  GDate date;
  g_date_clear (&date, 1);
  g_autoptr (GError) error = NULL;
  if (!attn_task_parse_date (text, &date, &error))
    {
      attn_fuzz_note (error);
      g_assert (g_error_matches (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT));
      return;
    }
  g_assert (g_date_valid (&date));
}

static void
fuzz_number (const char *text)
{
  guint n = G_MAXUINT;
  g_autoptr (GError) error = NULL;
  if (!attn_task_parse_number (text, &n, &error))
    {
      attn_fuzz_note (error);
      g_assert (g_error_matches (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT));
      return;
    }
  g_assert (n <= ATTN_TASK_MAX_NUMBER);
  g_autofree char *words = attn_task_number_text (ATTN_NUMBER_EN, n);
  guint back = G_MAXUINT;
  g_assert (attn_task_parse_number (words, &back, NULL) && back == n);
}

static void
fuzz_run (const char *text)
{
  AttnModel *model = default_model ();
  AttnRunOptions options = ATTN_RUN_OPTIONS_INIT;
  options.max_steps = 4;
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnTrace) trace = attn_model_run (model, text, &options,
                                                unknown, &error);
  if (trace == NULL)
    {
      attn_fuzz_note (error);
      g_assert (g_error_matches (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT));
      return;
    }
  g_assert (attn_trace_validate (trace, NULL));
  g_assert (strcmp (trace->source_text, text) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  attn_fuzz_init ();
  if (size < 1)
    return 0;
  g_autofree char *text = attn_fuzz_strndup (data + 1, size - 1);
  switch (data[0] % 4)
    {
    case 0:
      fuzz_encode (text);
      break;
    case 1:
      fuzz_date (text);
      break;
    case 2:
      fuzz_number (text);
      break;
    default:
      fuzz_run (text);
      break;
    }
  return 0;
}
