/* test-vocab.c: the character vocabulary: ids, encoding with byte spans
 * (ASCII, accented, Chinese, emoji), unknown characters, bad text, decoding,
 * and the `attnscope.vocab` JSON both ways. */
#include <string.h>

#include "core/attn-error.h"
#include "core/attn-vocab.h"

/* Ordinary symbols of the test vocabulary: ids 4, 5, ... in this order. */
static const char *const test_symbols[] = {
  "a", "b", "c", " ", "2", "0", "6", "年", "月", "日", "é", "-",
};
#define ID(i) (ATTN_VOCAB_N_SPECIAL + (i))

static AttnVocab *
test_vocab (void)
{
  g_autoptr (GError) error = NULL;
  AttnVocab *vocab = attn_vocab_new (test_symbols,
                                     G_N_ELEMENTS (test_symbols), &error);
  g_assert_no_error (error);
  g_assert_nonnull (vocab);
  return vocab;
}

/* ---- ids -------------------------------------------------------------- */

static void
test_ids (void)
{
  g_autoptr (AttnVocab) vocab = test_vocab ();
  g_assert_cmpint (attn_vocab_size (vocab), ==,
                   ATTN_VOCAB_N_SPECIAL + G_N_ELEMENTS (test_symbols));
  const char *specials[] = { "<pad>", "<s>", "</s>", "<unk>" };
  for (int i = 0; i < ATTN_VOCAB_N_SPECIAL; i++)
    {
      g_assert_cmpstr (attn_vocab_symbol (vocab, i), ==, specials[i]);
      g_assert_cmpint (attn_vocab_lookup (vocab, specials[i]), ==, i);
      g_assert_true (attn_vocab_is_special (i));
    }
  g_assert_cmpint (ATTN_VOCAB_PAD, ==, 0);
  g_assert_cmpint (ATTN_VOCAB_EOS, ==, 2);
  for (guint i = 0; i < G_N_ELEMENTS (test_symbols); i++)
    {
      g_assert_cmpint (attn_vocab_lookup (vocab, test_symbols[i]), ==, ID (i));
      g_assert_cmpstr (attn_vocab_symbol (vocab, ID (i)), ==,
                       test_symbols[i]);
      g_assert_false (attn_vocab_is_special (ID (i)));
    }
  g_assert_cmpint (attn_vocab_lookup (vocab, "z"), ==, -1);
  g_assert_cmpint (attn_vocab_lookup (vocab, "ab"), ==, -1);
  g_assert_cmpint (attn_vocab_lookup (vocab, ""), ==, -1);
  g_assert_false (attn_vocab_is_special (-1));
}

static void
test_from_chars (void)
{
  /* Unsorted with a repeat: ids follow code points, the repeat is dropped. */
  const gunichar chars[] = { 0x5E74 /* 年 */, 'b', 'a', 0xE9 /* é */, 'b' };
  g_autoptr (AttnVocab) vocab = attn_vocab_new_from_chars (chars,
                                                           G_N_ELEMENTS (chars));
  g_assert_cmpint (attn_vocab_size (vocab), ==, ATTN_VOCAB_N_SPECIAL + 4);
  g_assert_cmpstr (attn_vocab_symbol (vocab, ID (0)), ==, "a");
  g_assert_cmpstr (attn_vocab_symbol (vocab, ID (1)), ==, "b");
  g_assert_cmpstr (attn_vocab_symbol (vocab, ID (2)), ==, "é");
  g_assert_cmpstr (attn_vocab_symbol (vocab, ID (3)), ==, "年");
}

/* attn_vocab_new refuses each of these symbol lists. */
typedef struct {
  const char *name;
  const char *symbols[4];
  guint n;
  const char *message; /* a part of the message */
} BadSymbolsCase;

static const BadSymbolsCase bad_symbols_cases[] = {
  { "duplicate", { "a", "b", "a" }, 3, "symbol 2 “a” appears twice" },
  { "two-chars", { "a", "ab" }, 2, "symbol 1 is more than one character" },
  { "empty", { "" }, 1, "symbol 0 is empty" },
  { "invalid-utf8", { "\xc3" }, 1, "symbol 0 is not valid UTF-8" },
  { "special-text", { "<s>" }, 1, "symbol 0 is more than one character" },
};

static void
test_new_bad (gconstpointer data)
{
  const BadSymbolsCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnVocab) vocab = attn_vocab_new (c->symbols, c->n, &error);
  g_assert_null (vocab);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, c->message));
}

/* ---- encode ----------------------------------------------------------- */

typedef struct {
  const char *name;
  const char *text;
  int n;
  int ids[12];
  int spans[24];       /* [start, end) byte pairs */
  const char *unknown; /* the unknown characters, joined by '|' */
} EncodeCase;

#define UNK ATTN_VOCAB_UNK

static const EncodeCase encode_cases[] = {
  { "ascii", "abc", 3, { ID (0), ID (1), ID (2) }, { 0, 1, 1, 2, 2, 3 }, "" },
  { "space", "a b", 3, { ID (0), ID (3), ID (1) }, { 0, 1, 1, 2, 2, 3 }, "" },
  /* é is two bytes, a Chinese character three. */
  { "accent", "aéb", 3, { ID (0), ID (10), ID (1) }, { 0, 1, 1, 3, 3, 4 },
    "" },
  { "chinese", "2026年6月", 7,
    { ID (4), ID (5), ID (4), ID (6), ID (7), ID (6), ID (8) },
    { 0, 1, 1, 2, 2, 3, 3, 4, 4, 7, 7, 8, 8, 11 }, "" },
  /* Unknown characters become <unk>, each listed once, in order seen. */
  { "unknown", "xa🙂x十", 5, { UNK, ID (0), UNK, UNK, UNK },
    { 0, 1, 1, 2, 2, 6, 6, 7, 7, 10 }, "x|🙂|十" },
  /* Leading white space is kept: only all-blank text is refused. */
  { "leading-space", " a", 2, { ID (3), ID (0) }, { 0, 1, 1, 2 }, "" },
  /* "<s>" in text is three ordinary characters, never the special. */
  { "special-text", "<s>", 3, { UNK, UNK, UNK }, { 0, 1, 1, 2, 2, 3 },
    "<|s|>" },
};

static void
test_encode (gconstpointer data)
{
  const EncodeCase *c = data;
  g_autoptr (AttnVocab) vocab = test_vocab ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_assert_true (attn_vocab_encode (vocab, c->text, ids, spans, unknown,
                                    &error));
  g_assert_no_error (error);
  g_assert_cmpmem (ids->data, ids->len * sizeof (int), c->ids,
                   c->n * sizeof (int));
  g_assert_cmpmem (spans->data, spans->len * sizeof (int), c->spans,
                   2 * c->n * sizeof (int));
  g_ptr_array_add (unknown, NULL);
  g_autofree char *joined = g_strjoinv ("|", (char **) unknown->pdata);
  g_assert_cmpstr (joined, ==, c->unknown);

  /* Spans and NULL arrays are optional; ids are appended, not replaced. */
  g_autoptr (GArray) more = g_array_new (FALSE, FALSE, sizeof (int));
  int first = 99;
  g_array_append_val (more, first);
  g_assert_true (attn_vocab_encode (vocab, c->text, more, NULL, NULL, NULL));
  g_assert_cmpint (more->len, ==, c->n + 1);
  g_assert_cmpint (g_array_index (more, int, 0), ==, 99);
  g_assert_cmpmem (&g_array_index (more, int, 1), c->n * sizeof (int),
                   c->ids, c->n * sizeof (int));
}

static void
test_encode_unknown_accumulates (void)
{
  /* Characters already listed by an earlier call are not listed again. */
  g_autoptr (AttnVocab) vocab = test_vocab ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  g_assert_true (attn_vocab_encode (vocab, "xy", ids, NULL, unknown, NULL));
  g_assert_true (attn_vocab_encode (vocab, "yzx", ids, NULL, unknown, NULL));
  g_assert_cmpuint (unknown->len, ==, 3);
  g_assert_cmpstr (g_ptr_array_index (unknown, 0), ==, "x");
  g_assert_cmpstr (g_ptr_array_index (unknown, 1), ==, "y");
  g_assert_cmpstr (g_ptr_array_index (unknown, 2), ==, "z");
  g_assert_cmpuint (ids->len, ==, 5);
}

typedef struct {
  const char *name;
  const char *text;
  const char *message;
} BadTextCase;

static const BadTextCase bad_text_cases[] = {
  { "empty", "", "the text is empty" },
  { "spaces", " \t\n ", "the text is only white space" },
  /* U+3000 IDEOGRAPHIC SPACE is white space too. */
  { "ideographic-space", "\xe3\x80\x80", "the text is only white space" },
  { "invalid-byte", "ab\xff", "not valid UTF-8 (at byte 2)" },
  { "truncated-sequence", "a\xe5\xb9", "not valid UTF-8 (at byte 1)" },
  { "overlong", "\xc0\xaf", "not valid UTF-8 (at byte 0)" },
  { "surrogate", "a\xed\xa0\x80", "not valid UTF-8 (at byte 1)" },
};

static void
test_encode_bad (gconstpointer data)
{
  const BadTextCase *c = data;
  g_autoptr (AttnVocab) vocab = test_vocab ();
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GArray) spans = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_assert_false (attn_vocab_encode (vocab, c->text, ids, spans, unknown,
                                     &error));
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_TEXT);
  g_assert_nonnull (strstr (error->message, c->message));
  g_assert_cmpuint (ids->len, ==, 0);
  g_assert_cmpuint (unknown->len, ==, 0);
}

/* ---- decode ----------------------------------------------------------- */

static void
test_decode (void)
{
  g_autoptr (AttnVocab) vocab = test_vocab ();
  const int ids[] = { ATTN_VOCAB_BOS, ID (4), ID (5), ID (7), ATTN_VOCAB_UNK,
                      ID (10), ATTN_VOCAB_PAD, ID (0), ATTN_VOCAB_EOS };
  g_autofree char *text = attn_vocab_decode (vocab, ids, G_N_ELEMENTS (ids));
  g_assert_cmpstr (text, ==, "20年éa");
  g_autofree char *empty = attn_vocab_decode (vocab, ids, 1);
  g_assert_cmpstr (empty, ==, "");

  /* encode then decode gives the text back when every character is known. */
  const char *text2 = "2026年6月 é-abc";
  g_autoptr (GArray) enc = g_array_new (FALSE, FALSE, sizeof (int));
  g_assert_true (attn_vocab_encode (vocab, text2, enc, NULL, NULL, NULL));
  g_autofree char *back = attn_vocab_decode (vocab, (int *) enc->data,
                                             (int) enc->len);
  g_assert_cmpstr (back, ==, text2);
}

/* ---- JSON ------------------------------------------------------------- */

static void
test_json_round_trip (void)
{
  const char *symbols[] = { "a", "\"", "\\", "年", "🙂", " " };
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnVocab) vocab = attn_vocab_new (symbols,
                                                G_N_ELEMENTS (symbols),
                                                &error);
  g_assert_no_error (error);
  g_autofree char *json = attn_vocab_to_json (vocab);
  g_assert_cmpstr (json, ==,
                   "[\"<pad>\",\"<s>\",\"</s>\",\"<unk>\",\"a\",\"\\\"\","
                   "\"\\\\\",\"年\",\"🙂\",\" \"]");
  g_autoptr (AttnVocab) back = attn_vocab_from_json (json, &error);
  g_assert_no_error (error);
  g_assert_cmpint (attn_vocab_size (back), ==, attn_vocab_size (vocab));
  for (int i = 0; i < attn_vocab_size (vocab); i++)
    g_assert_cmpstr (attn_vocab_symbol (back, i), ==,
                     attn_vocab_symbol (vocab, i));
  g_autofree char *again = attn_vocab_to_json (back);
  g_assert_cmpstr (again, ==, json);

  /* A vocabulary of specials only is valid (if useless). */
  g_autoptr (AttnVocab) bare = attn_vocab_from_json (
      "[\"<pad>\", \"<s>\", \"</s>\", \"<unk>\"]", &error);
  g_assert_no_error (error);
  g_assert_cmpint (attn_vocab_size (bare), ==, ATTN_VOCAB_N_SPECIAL);
}

typedef struct {
  const char *name;
  const char *json;
  const char *message;
} BadJsonCase;

#define SPECIALS "\"<pad>\",\"<s>\",\"</s>\",\"<unk>\""

static const BadJsonCase bad_json_cases[] = {
  { "not-json", "[\"<pad>\",", "vocabulary: not JSON" },
  { "empty", "", "vocabulary: not a JSON array of symbols" },
  { "object", "{\"tokens\": []}", "not a JSON array of symbols" },
  { "string", "\"abc\"", "not a JSON array of symbols" },
  { "too-short", "[\"<pad>\",\"<s>\",\"</s>\"]", "3 symbols, expected 4" },
  { "specials-order", "[\"<s>\",\"<pad>\",\"</s>\",\"<unk>\"]",
    "entry 0 is “<s>”, expected the special “<pad>”" },
  { "number", "[" SPECIALS ",\"a\",7]", "entry 5 is not a string" },
  { "null", "[" SPECIALS ",null]", "entry 4 is not a string" },
  { "nested", "[" SPECIALS ",[\"a\"]]", "entry 4 is not a string" },
  { "two-chars", "[" SPECIALS ",\"ab\"]", "entry 4 is more than one" },
  { "empty-symbol", "[" SPECIALS ",\"\"]", "entry 4 is empty" },
  { "nul", "[" SPECIALS ",\"\\u0000\"]", "entry 4 is empty" },
  { "duplicate", "[" SPECIALS ",\"a\",\"b\",\"a\"]",
    "entry 6 “a” appears twice" },
  { "special-again", "[" SPECIALS ",\"<s>\"]", "entry 4 is more than one" },
};

static void
test_json_bad (gconstpointer data)
{
  const BadJsonCase *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (AttnVocab) vocab = attn_vocab_from_json (c->json, &error);
  g_assert_null (vocab);
  g_assert_error (error, ATTN_ERROR, ATTN_ERROR_BAD_MODEL_FILE);
  if (strstr (error->message, c->message) == NULL)
    g_test_fail_printf ("message “%s” lacks “%s”", error->message,
                        c->message);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/attn/vocab/ids", test_ids);
  g_test_add_func ("/attn/vocab/from-chars", test_from_chars);
  for (guint i = 0; i < G_N_ELEMENTS (bad_symbols_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/vocab/new-bad/%s",
                                               bad_symbols_cases[i].name);
      g_test_add_data_func (path, &bad_symbols_cases[i], test_new_bad);
    }
  for (guint i = 0; i < G_N_ELEMENTS (encode_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/vocab/encode/%s",
                                               encode_cases[i].name);
      g_test_add_data_func (path, &encode_cases[i], test_encode);
    }
  g_test_add_func ("/attn/vocab/encode-unknown-accumulates",
                   test_encode_unknown_accumulates);
  for (guint i = 0; i < G_N_ELEMENTS (bad_text_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/vocab/encode-bad/%s",
                                               bad_text_cases[i].name);
      g_test_add_data_func (path, &bad_text_cases[i], test_encode_bad);
    }
  g_test_add_func ("/attn/vocab/decode", test_decode);
  g_test_add_func ("/attn/vocab/json-round-trip", test_json_round_trip);
  for (guint i = 0; i < G_N_ELEMENTS (bad_json_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/attn/vocab/json-bad/%s",
                                               bad_json_cases[i].name);
      g_test_add_data_func (path, &bad_json_cases[i], test_json_bad);
    }
  return g_test_run ();
}
